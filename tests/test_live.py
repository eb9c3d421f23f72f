"""Live use of the converter: strace's "! command" sink, a growing pcap read
while strace still writes, standard output as the pcap, signals, a reader
that goes away, and the errors a user meets first.

The traced program is fixtures/live/client.py talking to an echo server in
this process; ports 19000-19099 (test_wrappers: 19100-19199).
"""

import os
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

import support

CLIENT = str(support.FIXTURES / "live" / "client.py")
LATENCY_LIMIT = 1.0
PORTS_TRIED = 20


def bind_free_port(sock, first_port, tries=PORTS_TRIED):
    """Bind ``sock`` to 127.0.0.1 on the first free port from ``first_port``
    on (another run of these tests may hold one); return the port."""
    for port in range(first_port, first_port + tries):
        try:
            sock.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise OSError("no free port in %d-%d" % (first_port, first_port + tries - 1))


class EchoServer:
    """``with EchoServer(first_port) as server:`` echoes every TCP connection
    on 127.0.0.1:``server.port`` (the first free port from ``first_port``
    on) back to its sender until the sender shuts its side."""

    def __init__(self, first_port):
        self.first_port = first_port
        self.port = None
        self.listener = None

    def __enter__(self):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.port = bind_free_port(self.listener, self.first_port)
        self.listener.listen(8)
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(connection,), daemon=True).start()

    @staticmethod
    def _echo(connection):
        with connection:
            while True:
                data = connection.recv(1 << 16)
                if not data:
                    return
                connection.sendall(data)

    def __exit__(self, *exc):
        self.listener.close()


def client(port, count, interval, size):
    """The command line of the test client (see fixtures/live/client.py)."""
    return [sys.executable, CLIENT, str(port), str(count), str(interval), str(size)]


def tick_sent_times(frames):
    """{tick index: send time} of the client's messages found in ``frames``."""
    ticks = {}
    for frame in frames:
        at = frame.find(b"tick ")
        if at >= 0:
            index, _at, sent = frame[at:at + 40].split(b" ")[1:4]
            ticks.setdefault(int(index), float(sent))
    return ticks


def watch_latency(read_more, done, count):
    """Poll the growing pcap (``read_more()`` returns all its bytes so far)
    until ``done()``; return {tick index: seconds from send to seen}."""
    latency = {}
    while True:
        finished = done()
        now = time.time()
        for index, sent in tick_sent_times(f for _, f in support.pcap_records(read_more())).items():
            latency.setdefault(index, now - sent)
        if finished or len(latency) == count:
            return latency
        time.sleep(0.02)


@pytest.fixture(scope="module")
def recorded_trace(tmp_path_factory):
    """A real trace of the client: 300 messages of 2000 bytes, echoed."""
    support.require("strace")
    trace = tmp_path_factory.mktemp("live") / "client.strace"
    with EchoServer(19010) as server:
        result = support.strace(client(server.port, 300, 0, 2000), trace)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return trace


def test_latency_pcap_file_grows_while_strace_writes(tmp_path):
    """strace -o '! py_strace2pcap.py out.pcap': each message is in the file
    within a second of being sent."""
    support.require("strace")
    pcap = tmp_path / "out.pcap"
    sink = "! %s %s %s" % (sys.executable, support.CONVERTER, pcap)
    count = 6
    with EchoServer(19030) as server:
        traced = subprocess.Popen(
            ["strace", *support.STRACE_OPTIONS, "-o", sink, *client(server.port, count, 0.5, 100)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        latency = watch_latency(lambda: pcap.read_bytes() if pcap.exists() else b"",
                                lambda: traced.poll() is not None, count)
        _, errors = traced.communicate(timeout=30)
    assert traced.returncode == 0, errors.decode(errors="replace")
    assert sorted(latency) == list(range(count)), latency
    assert max(latency.values()) < LATENCY_LIMIT, latency
    assert b"client done" not in pcap.read_bytes()


def test_ctrl_c_on_strace_with_the_sink_converts_the_programs_way_out(tmp_path):
    """strace -o '! py_strace2pcap.py out.pcap' PROG, then Ctrl-C (SIGINT to
    the whole process group): strace blocks it and writes on until PROG,
    which has a handler, ends; the converter says once why it goes on and
    converts those last lines too: PROG's goodbye and both FINs are in the
    pcap (before: the converter stopped at the signal, and the pcap lacked
    them), and strace met no broken pipe."""
    support.require("strace")
    pcap = tmp_path / "out.pcap"
    errors = tmp_path / "converter.err"
    sink = "! %s %s %s 2>%s" % (sys.executable, support.CONVERTER, pcap, errors)
    with EchoServer(19060) as server:
        traced = subprocess.Popen(
            ["strace", *support.STRACE_OPTIONS, "-o", sink, *client(server.port, 10000, 0.02, 100)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        support.wait_for(lambda: pcap.exists() and len(tick_sent_times(
            f for _, f in support.pcap_records(pcap.read_bytes()))) >= 5)
        os.killpg(traced.pid, signal.SIGINT)
        _, strace_errors = traced.communicate(timeout=60)
    # strace waits for its sink (pclose) before it exits.
    told = errors.read_text()
    assert traced.returncode == 0, strace_errors.decode(errors="replace")
    assert b"Broken pipe" not in strace_errors
    streams = support.tcp_streams(pcap)
    sent = [data for (_src, _sport, _dst, dport), data in streams.items() if dport == server.port]
    assert len(sent) == 1 and re.search(rb"interrupted after \d+\n$", sent[0]), sent
    flags = [segment.flags for _index, segment, _key, _declared in support.tcp_segments(pcap)]
    assert sum(1 for flag in flags if flag.F) == 2, flags
    assert "SIGINT: converting the rest of the trace" in told
    assert "SIGINT came: the trace was converted to its end" in told
    assert "interrupted;" not in told


def test_latency_pcap_on_stdout_streams_while_strace_writes(tmp_path):
    """The same through strace2pcap-pipe.sh, reading the pcap from its stdout."""
    support.require("strace")
    count = 6
    received = bytearray()
    with EchoServer(19050) as server:
        wrapper = subprocess.Popen(
            [str(support.REPO / "strace2pcap-pipe.sh"), "-",
             " ".join(client(server.port, count, 0.5, 100))],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)

        def read_stdout():
            while True:
                chunk = os.read(wrapper.stdout.fileno(), 1 << 16)
                if not chunk:
                    return
                received.extend(chunk)

        reader = threading.Thread(target=read_stdout)
        reader.start()
        latency = watch_latency(lambda: bytes(received), lambda: not reader.is_alive(), count)
        reader.join(timeout=30)
        errors = wrapper.stderr.read()
        assert wrapper.wait(timeout=30) == 0, errors.decode(errors="replace")
    assert sorted(latency) == list(range(count)), latency
    assert max(latency.values()) < LATENCY_LIMIT, latency
    assert b"client done" in errors
    assert os.listdir(tmp_path) == []


def test_bulk_file_input_is_written_in_large_blocks(recorded_trace, tmp_path):
    """No flush per packet on file input: the pcap goes out in few write()s."""
    support.require("strace")
    pcap = tmp_path / "bulk.pcap"
    log = tmp_path / "writes.strace"
    support.strace([sys.executable, str(support.CONVERTER), str(pcap), "-q",
                    "-r", str(recorded_trace)], log, options=["-e", "trace=write", "-yy"])
    writes = [line for line in log.read_text().splitlines()
              if line.startswith("write(") and str(pcap) in line]
    packets = len(support.pcap_records(pcap.read_bytes()))
    assert packets >= 600
    # About one write() per 64 KiB buffer; per-packet flushes would be 600+.
    assert len(writes) <= pcap.stat().st_size // (1 << 15) + 2, (len(writes), packets)


def hex_escaped(data):
    """``data`` as strace -xx prints it."""
    return "".join("\\x%02x" % byte for byte in data).encode()


def stream_converter(pcap, *flags, one_cpu=False):
    """The converter reading its trace from a pipe we write, as from strace
    (``one_cpu``: allowed one CPU, it parses in its own process)."""
    pin = (lambda: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})) if one_cpu else None
    return subprocess.Popen([sys.executable, str(support.CONVERTER), str(pcap), *flags],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, preexec_fn=pin)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("ended_by", ["a second signal", "the end of the input"])
def test_signal_while_waiting_for_input(recorded_trace, tmp_path, signum, ended_by):
    """Half a trace in, the converter waiting for more from its pipe: a
    first signal does not end it (strace, which writes the pipe, got it too
    and goes on until its program ends), it says so once; a second signal
    ends it with exit 128+N, the end of the input with 0.  Either way: the
    summary, and exactly the pcap of that half (the same as converting that
    half from a file)."""
    text = recorded_trace.read_bytes()
    # Up to the line that writes message 150 (strace -xx prints it as hex).
    half = text[:text.rindex(b"\n", 0, text.index(hex_escaped(b"tick 150 "))) + 1]
    prefix = tmp_path / "prefix.strace"
    prefix.write_bytes(half)
    expected = tmp_path / "expected.pcap"
    support.convert(prefix, expected, "-q")
    expected_ticks = tick_sent_times(f for _, f in support.pcap_records(expected.read_bytes()))
    assert sorted(expected_ticks) == list(range(150))

    pcap = tmp_path / "live.pcap"
    converter = stream_converter(pcap)
    converter.stdin.write(half)
    converter.stdin.flush()
    # Flushed while idle: every message of the half is already in the file.
    support.wait_for(lambda: pcap.exists() and tick_sent_times(
        f for _, f in support.pcap_records(pcap.read_bytes())) == expected_ticks)
    converter.send_signal(signum)
    name = signal.Signals(signum).name
    told = converter.stderr.readline().decode()
    assert told.startswith("py-strace2pcap: %s: converting the rest of the trace" % name), told
    assert converter.poll() is None
    if ended_by == "a second signal":
        converter.send_signal(signum)
        returncode = converter.wait(timeout=60)  # stdin stays open: no end of input
    else:
        converter.stdin.close()
        returncode = converter.wait(timeout=60)
    errors = converter.stderr.read().decode(errors="replace")
    if not converter.stdin.closed:
        converter.stdin.close()
    assert "Traceback" not in errors
    assert "packets" in errors
    if ended_by == "a second signal":
        assert returncode == 128 + signum, errors
        assert "interrupted" in errors
    else:
        assert returncode == 0, errors
        assert "%s came: the trace was converted to its end" % name in errors
    assert pcap.read_bytes() == expected.read_bytes()
    listed = support.tshark("-r", str(pcap), "-T", "fields", "-e", "frame.number")
    assert len(listed.split()) == len(support.pcap_records(expected.read_bytes()))


def test_sigterm_while_busy_leaves_whole_records(recorded_trace, tmp_path):
    """SIGTERM while the converter is busy converting: the pcap ends on a
    whole record, tshark reads it, and it is the start of the full pcap."""
    whole = recorded_trace.read_bytes()
    # From the client's connect() on (Python's start-up reads are not needed
    # here), twice: long enough for a signal to land mid-way.
    text = whole[whole.rindex(b"\n", 0, whole.index(b" connect(")) + 1:] * 2
    full = tmp_path / "full.pcap"
    support.convert(None, full, "-q", stdin=text)
    full_records = support.pcap_records(full.read_bytes())
    pcap = tmp_path / "live.pcap"
    converter = stream_converter(pcap, "-q")
    held_back = len(text) * 9 // 10

    def feed():
        try:
            converter.stdin.write(text[:held_back])
            converter.stdin.flush()
        except BrokenPipeError:
            pass

    feeder = threading.Thread(target=feed)
    feeder.start()
    support.wait_for(lambda: pcap.exists() and pcap.stat().st_size > 200000)
    converter.send_signal(signal.SIGTERM)
    # The first one, on a pipe, is told and waits for the end of the input.
    assert b"converting the rest" in converter.stderr.readline()
    converter.send_signal(signal.SIGTERM)
    returncode = converter.wait(timeout=60)
    feeder.join(timeout=60)
    try:
        converter.stdin.close()
    except BrokenPipeError:
        pass  # bytes the converter, gone, never read
    assert returncode == 128 + signal.SIGTERM, converter.stderr.read()
    data = pcap.read_bytes()
    records = support.pcap_records(data)
    assert 0 < len(records) < len(full_records)
    # Whole records only: the file ends exactly where the last record ends.
    assert support.PCAP_HEADER_SIZE + sum(support.PCAP_RECORD_HEADER.size + len(f) for _, f in records) == len(data)
    # The held close() FINs come out at the end; everything before matches.
    assert records[:-4] == full_records[:len(records) - 4]
    listed = support.tshark("-r", str(pcap), "-T", "fields", "-e", "frame.number")
    assert len(listed.split()) == len(records)


def test_stdout_reader_going_away_ends_quietly(recorded_trace, tmp_path):
    """py_strace2pcap.py - < trace | head -c 100: no traceback, exit 141
    (128 + SIGPIPE), and head got the pcap's first 100 bytes."""
    full = tmp_path / "full.pcap"
    support.convert(recorded_trace, full, "-q")
    assert full.stat().st_size > 1 << 20  # far more than a pipe holds
    head = tmp_path / "head.out"
    script = '%s %s - < %s | head -c 100 > %s; echo "${PIPESTATUS[0]}"' % (
        sys.executable, support.CONVERTER, recorded_trace, head)
    result = subprocess.run(["bash", "-c", script], capture_output=True, timeout=60)
    assert result.stdout.decode().strip() == "141", result.stderr
    assert b"Traceback" not in result.stderr and b"Error" not in result.stderr, result.stderr
    assert head.read_bytes() == full.read_bytes()[:100]


def test_a_closed_standard_error_loses_the_summary_not_the_status(recorded_trace, tmp_path):
    """py_strace2pcap.py out.pcap -r trace 2>&1 | true: the report has
    nowhere to go, the pcap is whole, the exit status is 0 (was 1)."""
    pcap = tmp_path / "out.pcap"
    full = tmp_path / "full.pcap"
    support.convert(recorded_trace, full, "-q")
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run([sys.executable, str(support.CONVERTER), str(pcap), "-v",
                                 "-r", str(recorded_trace)], stderr=write_end, timeout=60)
    finally:
        os.close(write_end)
    assert result.returncode == 0
    assert pcap.read_bytes() == full.read_bytes()


def test_stdout_holds_nothing_but_the_pcap(recorded_trace, tmp_path):
    """With -, standard output is byte for byte the pcap the file output
    gets, even with -v printing; the report goes to standard error."""
    full = tmp_path / "full.pcap"
    support.convert(recorded_trace, full, "-q")
    for flags in (["-r", str(recorded_trace)], []):
        result = subprocess.run(
            [sys.executable, str(support.CONVERTER), "-", "-v", *flags],
            stdin=open(recorded_trace, "rb"), capture_output=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert result.stdout == full.read_bytes()
        assert b"packets" in result.stderr


@pytest.mark.parametrize("arguments, message", [
    (["{tmp}/no/such/dir/out.pcap", "-r", "{trace}"], "cannot write {tmp}/no/such/dir/out.pcap"),
    (["{tmp}", "-r", "{trace}"], "cannot write {tmp}"),
    (["{tmp}/out.pcap", "-r", "{tmp}/missing.strace"], "cannot read {tmp}/missing.strace"),
    (["{tmp}/out.pcap", "-r", "{tmp}"], "cannot read {tmp}"),
])
def test_unusable_paths_give_one_line_and_exit_2(tmp_path, arguments, message):
    """An output that cannot be written or an input that cannot be read: one
    line on stderr saying which and why, exit 2, no traceback."""
    trace = support.REPO / "example" / "curl-http.strace"
    arguments = [a.format(tmp=tmp_path, trace=trace) for a in arguments]
    result = subprocess.run([sys.executable, str(support.CONVERTER), *arguments],
                            capture_output=True, timeout=60)
    errors = result.stderr.decode()
    assert result.returncode == 2
    assert errors.count("\n") == 1 and errors.startswith("py-strace2pcap: "), errors
    assert message.format(tmp=tmp_path) in errors
    assert result.stdout == b""


@pytest.mark.parametrize("arguments, message", [
    (["{trace_copy}", "-r", "{pcap}"], "cannot read {pcap}: a capture, not a strace trace"),
    (["{trace_copy}", "-r", "{trace_copy}"], "{trace_copy} is both the trace and the output"),
    (["{trace_copy}", "-r", "{trace}"], "{trace_copy} exists and is no pcap: not overwriting it"),
])
def test_a_trace_is_never_written_over(tmp_path, arguments, message):
    """The output comes first: arguments swapped, or the trace named twice,
    wrote an empty pcap over the trace, with exit 0 (a helper's first
    runs).  An existing file that is no capture is left alone, exit 2; a
    capture given as the trace is told as one.  An existing pcap is
    written over, as before."""
    trace = support.REPO / "example" / "curl-http.strace"
    trace_copy = tmp_path / "mine.strace"
    trace_copy.write_bytes(trace.read_bytes())
    pcap = tmp_path / "old.pcap"
    support.convert(trace, pcap, "-q")
    names = dict(trace=trace, trace_copy=trace_copy, pcap=pcap)
    result = subprocess.run([sys.executable, str(support.CONVERTER)]
                            + [argument.format(**names) for argument in arguments],
                            capture_output=True, timeout=60)
    errors = result.stderr.decode()
    assert result.returncode == 2
    assert errors.count("\n") == 1 and message.format(**names) in errors, errors
    assert trace_copy.read_bytes() == trace.read_bytes()
    assert support.convert(trace, pcap, "-q").returncode == 0


def test_a_signal_while_waiting_for_the_first_line_stops_at_once(tmp_path):
    """Reading a pipe or a terminal that has sent nothing yet (the
    converter waits for its first bytes to tell a compressed trace), Ctrl-C
    and kill did nothing (a helper's terminal, until Ctrl-D twice); now the
    first one stops it, writing nothing."""
    pcap = tmp_path / "out.pcap"
    converter = subprocess.Popen([sys.executable, str(support.CONVERTER), str(pcap)],
                                 stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(1.0)
        converter.send_signal(signal.SIGINT)
        _out, errors = converter.communicate(timeout=10)
    finally:
        converter.kill()
    assert converter.returncode == 128 + signal.SIGINT
    assert errors.decode() == ("py-strace2pcap: SIGINT before the trace began: nothing "
                               "written\n")
    assert not pcap.exists()


def test_a_pcap_is_not_written_to_a_terminal(tmp_path):
    """- with standard output a terminal: one line, exit 2, no binary bytes
    on the screen (helper N: the pcap went to the terminal)."""
    main, terminal = pty.openpty()
    try:
        result = subprocess.run([sys.executable, str(support.CONVERTER), "-", "-r",
                                 str(support.REPO / "example" / "curl-http.strace")],
                                stdout=terminal, stderr=subprocess.PIPE, timeout=60)
        os.set_blocking(main, False)
        try:
            shown = os.read(main, 4096)
        except BlockingIOError:
            shown = b""
    finally:
        os.close(main)
        os.close(terminal)
    assert result.returncode == 2
    assert result.stderr.decode() == ("py-strace2pcap: standard output is a terminal: send the "
                                      "pcap to a file or a program (> out.pcap, | tshark -r -)\n")
    assert shown == b""


def test_verbose_lines_show_no_raw_control_characters(tmp_path):
    """-v quotes the lines it skipped: their control bytes (an escape
    sequence in a file that is no trace) as \\xHH, not to the terminal."""
    trace = tmp_path / "odd.strace"
    trace.write_bytes(b"7 1795659000.000001 write(3<TCP:[1]> \x1b[2J oops\n")
    result = subprocess.run([sys.executable, str(support.CONVERTER), str(tmp_path / "o.pcap"),
                             "-v", "-r", str(trace)], capture_output=True, timeout=60)
    assert b"\x1b" not in result.stderr
    assert b"\\x1b[2J oops" in result.stderr, result.stderr


@pytest.mark.parametrize("flags, shown", [(["-q", "-v"], "verbose"), (["-v", "-q"], "nothing")])
def test_the_last_of_quiet_and_verbose_counts(tmp_path, flags, shown):
    """-q and -v together: the last given counts, as in rsync and git (the
    wrapper checks options with -q before the user's; -q -v was silently
    quiet)."""
    trace = tmp_path / "odd.strace"
    trace.write_bytes(b"7 1795659000.000001 write(3<TCP:[1]> oops\n")
    result = support.convert(trace, tmp_path / "o.pcap", *flags)
    if shown == "verbose":
        assert result.stderr.startswith(b"py-strace2pcap: 1 line, 0 socket events"), result.stderr
        assert b"write(3<TCP:[1]> oops" in result.stderr, result.stderr
    else:
        assert result.stderr == b""


CONNECTION = "5<TCP:[127.0.0.1:40000->127.0.0.1:18080]>"


def connect_send_close(start):
    """Trace lines from ``start`` on: process 100 connects CONNECTION, sends
    "hi" and closes it."""
    return [
        '100   %.6f connect(5<TCP:[4664]>, {sa_family=AF_INET, sin_port=htons(18080), '
        'sin_addr=inet_addr("%s")}, 16) = 0 <0.000100>' % (start, hex_escaped(b"127.0.0.1").decode()),
        '100   %.6f sendto(%s, "%s", 2, MSG_NOSIGNAL, NULL, 0) = 2 <0.000069>'
        % (start + 0.001, CONNECTION, hex_escaped(b"hi").decode()),
        "100   %.6f close(%s) = 0 <0.000010>" % (start + 0.002, CONNECTION)]


def test_close_fin_goes_out_while_a_live_trace_is_quiet(tmp_path):
    """A close()'s FIN is held FIN_HOLD_SECONDS (another process may still
    use the socket); in a live trace that then goes quiet it must still come
    out, without waiting for the next line or the end of input."""
    from tcp_flow import FIN_HOLD_SECONDS
    pcap = tmp_path / "live.pcap"
    converter = stream_converter(pcap, "-q")
    now = time.time()
    lines = connect_send_close(now)
    converter.stdin.write(("\n".join(lines) + "\n").encode())
    converter.stdin.flush()
    try:
        def fin_written():
            if not pcap.exists():
                return False
            frames = [frame for _, frame in support.pcap_records(pcap.read_bytes())]
            # Ethernet + 802.1Q + IPv4 = 38 bytes; TCP flags at offset 13.
            return any(frame[38 + 13] & 0x01 for frame in frames)
        support.wait_for(fin_written, timeout=FIN_HOLD_SECONDS + 3)
        assert time.time() - now >= FIN_HOLD_SECONDS  # held, then let out
        assert converter.poll() is None  # the input is still open
    finally:
        converter.stdin.close()
        converter.wait(timeout=30)


def test_a_trace_piped_in_seconds_after_it_was_recorded_holds_its_fins(tmp_path):
    """A trace recorded 20 s ago piped in (cat trace | ...): a close()'s
    FIN is held while the input pauses, as trace time goes, not let out at
    once because its time is 20 s before the clock: the send of another
    process on the socket, the next line, shows the socket still open (a
    helper's sshd: a FIN before the server's banner, every byte after it
    shifted)."""
    pcap = tmp_path / "replayed.pcap"
    converter = stream_converter(pcap, "-q")
    then = time.time() - 20
    lines = connect_send_close(then) + [
        '101   %.6f sendto(%s, "%s", 4, MSG_NOSIGNAL, NULL, 0) = 4 <0.000069>'
        % (then + 0.003, CONNECTION, hex_escaped(b"more").decode())]
    converter.stdin.write(("\n".join(lines[:3]) + "\n").encode())
    converter.stdin.flush()
    time.sleep(1.5)  # the converter idles, the FIN held
    converter.stdin.write((lines[3] + "\n").encode())
    converter.stdin.close()
    assert converter.wait(timeout=30) == 0
    frames = [frame for _, frame in support.pcap_records(pcap.read_bytes())]
    # Ethernet + 802.1Q + IPv4 = 38 bytes; TCP flags at offset 13, data after 20.
    client = [(frame[38 + 13] & 0x01, frame[38 + 20:]) for frame in frames
              if frame[38:40] == (40000).to_bytes(2, "big") and frame[38 + 13] & 0x09]
    # Process 101 still holds the socket at the end: no FIN (it came
    # between, before its send).
    assert client == [(0, b"hi"), (0, b"more")]


def test_a_recent_trace_file_waits_for_trace_time_not_the_clock(tmp_path):
    """A trace file converted just after it was recorded gives the pcap it
    gives a day later: the wall clock lets held FINs out only for live input
    (a pipe).  Here a close()'s FIN, held, must come out at the end of the
    file, after the other connection's data, although the parsing child
    keeps the converter waiting long after the FIN's hold ran out by the clock."""
    close_time = time.time() - 10
    first = "5<TCP:[127.0.0.1:40000->127.0.0.1:18080]>"
    second = "6<TCP:[127.0.0.1:40001->127.0.0.1:18080]>"
    noise = ["100   %.6f futex(0x7f0000000000, FUTEX_WAKE_PRIVATE, 1) = 0 <0.000002>"
             % close_time] * 60000  # about 4 MB: many blocks for the child
    lines = (['100   %.6f sendto(%s, "%s", 2, 0, NULL, 0) = 2 <0.000010>'
              % (close_time, first, hex_escaped(b"hi").decode()),
              "100   %.6f close(%s) = 0 <0.000010>" % (close_time, first)]
             + noise
             + ['100   %.6f sendto(%s, "%s", 3, 0, NULL, 0) = 3 <0.000010>'
                % (close_time, second, hex_escaped(b"bye").decode())])
    trace = tmp_path / "recent.strace"
    trace.write_text("\n".join(lines) + "\n")
    pcap = tmp_path / "recent.pcap"
    support.convert(trace, pcap, "-q")
    frames = [frame for _, frame in support.pcap_records(pcap.read_bytes())]
    # Ethernet + 802.1Q + IPv4 = 38 bytes; TCP flags at offset 13, payload after 58.
    assert [frame[58:] for frame in frames if len(frame) > 58] == [b"hi", b"bye"]
    fin = next(index for index, frame in enumerate(frames) if frame[38 + 13] & 0x01)
    assert fin > [frame[58:] for frame in frames].index(b"bye")


@pytest.mark.parametrize("one_cpu", [False, True], ids=["parsing-child", "one-process"])
def test_a_send_cut_by_s_goes_out_while_a_live_trace_is_quiet(tmp_path, one_cpu):
    """A send -s cut waits for its next line (its hex dump lines would
    follow it): in a live trace that then goes quiet (a client waiting for
    its answer) it goes out at the pause, not with the next line, whether
    a child parses or the converter's one process."""
    pcap = tmp_path / "live.pcap"
    converter = stream_converter(pcap, "-q", one_cpu=one_cpu)
    now = time.time()
    connection = "5<TCP:[127.0.0.1:40000->127.0.0.1:18080]>"
    line = ('100   %.6f sendto(%s, "%s"..., 40, MSG_NOSIGNAL, NULL, 0) = 40 <0.000069>'
            % (now, connection, hex_escaped(b"GET / HTTP/1.1\r\nHost").decode()))
    converter.stdin.write((line + "\n").encode())
    converter.stdin.flush()
    try:
        def data_written():
            if not pcap.exists():
                return False
            return any(frame.endswith(b"HTTP/1.1\r\nHost")
                       for _, frame in support.pcap_records(pcap.read_bytes()))
        support.wait_for(data_written, timeout=5)
        assert converter.poll() is None  # the input is still open
    finally:
        converter.stdin.close()
        converter.wait(timeout=30)


@pytest.mark.parametrize("one_cpu", [False, True], ids=["parsing-child", "one-process"])
def test_a_banner_read_a_byte_at_a_time_live_is_one_segment(tmp_path, one_cpu):
    """strace as the converter's pipe: a reader's recv(1)s of one banner
    come a line at a time, the pipe dry between them.  A pause shorter
    than JOIN_GAP does not end the run: one segment, as from a file (a
    helper's live sshd: 1 to 3 bytes a segment, no key exchange message
    decoded)."""
    pcap = tmp_path / "live.pcap"
    converter = stream_converter(pcap, "-q", one_cpu=one_cpu)
    then = time.time()
    connection = "5<TCP:[127.0.0.1:40000->127.0.0.1:18080]>"
    banner = b"SSH-2.0-OpenSSH_9.2\r\n"
    lines = ['100   %.6f recvfrom(%s, "%s", 1, 0, NULL, NULL) = 1 <0.000010>'
             % (then + 0.0001 * index, connection, hex_escaped(bytes([byte])).decode())
             for index, byte in enumerate(banner)]
    time.sleep(1.0)  # the converter reading: its pipe runs dry after each 4 lines
    for start in range(0, len(lines), 4):
        converter.stdin.write(("\n".join(lines[start:start + 4]) + "\n").encode())
        converter.stdin.flush()
        time.sleep(0.002)
    converter.stdin.close()
    assert converter.wait(timeout=30) == 0
    data = [frame[38 + 20:] for _, frame in support.pcap_records(pcap.read_bytes())
            if frame[38 + 20:]]
    assert data == [banner]


@pytest.mark.parametrize("pcap_format", ["pcap", "pcapng"])
def test_an_output_failing_at_its_first_write_is_one_line(tmp_path, pcap_format):
    """An output that fails when the pcap header goes out (/dev/full: no
    space; a pipe whose reader is gone) ends as a later failure does:
    one line and exit 2, or quietly with 141 (before, for pcap: a
    traceback and exit 1)."""
    trace = support.REPO / "example" / "curl-http.strace"
    result = subprocess.run([sys.executable, str(support.CONVERTER), "/dev/full", "-r",
                             str(trace), "--format", pcap_format], capture_output=True,
                            timeout=60)
    assert (result.returncode, result.stderr) == (
        2, b"py-strace2pcap: stopped by an I/O error (writing /dev/full): No space left on "
           b"device; the pcap holds the packets before, its last one maybe cut short\n")
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run([sys.executable, str(support.CONVERTER), "-", "-r", str(trace),
                                 "--format", pcap_format], stdout=write_end,
                                stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (128 + signal.SIGPIPE, b"")


def test_a_live_pause_keeps_packets_behind_a_sendfile_waiting_for_its_reader(tmp_path):
    """A sendfile's bytes wait a moment for a loopback reader's first line
    (UNSEEN_WAIT of trace time), and the packets of other connections
    after it wait with them.  A pause of a live trace let those go out (a
    helper's nginx under strace -o '! ...', its clients not traced: 1187
    packets stamped earlier than one before them, from a file 2); now they
    keep their place."""
    pcap = tmp_path / "live.pcap"
    converter = stream_converter(pcap)
    now = time.time()
    server, first, second = "127.0.0.1:8080", "127.0.0.1:40000", "127.0.0.1:40001"
    accept = ('200   %.6f accept4(3<TCP:[%s]>, NULL, NULL, SOCK_NONBLOCK) = %d<TCP:[%s->%s]> '
              '<0.000010>')
    send = '200   %.6f sendto(7<TCP:[%s->%s]>, "%s", 2, 0, NULL, 0) = 2 <0.000010>'
    before_pause = [
        accept % (now, server, 6, server, first),
        '200   %.6f sendfile(6<TCP:[%s->%s]>, 9<\\x2f\\x66>, [0] => [5], 5) = 5 <0.000010>'
        % (now + 0.010, server, first),
        accept % (now + 0.015, server, 7, server, second),
        send % (now + 0.020, server, second, hex_escaped(b"hi").decode())]
    after_pause = [send % (now + 0.5, server, second, hex_escaped(b"ho").decode())]
    try:
        converter.stdin.write(("\n".join(before_pause) + "\n").encode())
        converter.stdin.flush()
        time.sleep(1.5)  # idle ticks: the converter flushes its output
    finally:
        _out, summary = converter.communicate(("\n".join(after_pause) + "\n").encode(),
                                              timeout=30)
    times = [stamp for stamp, _frame in support.pcap_records(pcap.read_bytes())]
    assert times == sorted(times) and len(times) == 9, summary.decode()
    assert b"stamped earlier" not in summary


def read_terminal(fd, until, timeout=30.0):
    """What the terminal ``fd`` shows until ``until`` is in it (or its end)."""
    shown = b""
    deadline = time.time() + timeout
    while until not in shown and time.time() < deadline:
        if select.select([fd], [], [], 0.2)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the other side closed
                break
            if not chunk:
                break
            shown += chunk
    return shown


def test_a_terminal_as_input_is_told_and_ctrl_d_ends_it(tmp_path):
    """No -r and a terminal for standard input: the converter says what it
    waits for (it would wait without a word); a pasted line and Ctrl-D give
    its packet and exit 0."""
    pcap = tmp_path / "out.pcap"
    pid, terminal = pty.fork()
    if pid == 0:
        os.execv(sys.executable, [sys.executable, str(support.CONVERTER), str(pcap)])
    try:
        told = read_terminal(terminal, b"Ctrl-D")
        assert b"reading a trace from the terminal" in told, told
        os.write(terminal, b'3104  1795659371.610672 sendto(5<TCP:[127.0.0.1:36234->127.0.0.1:18080]>, '
                           b'"\\x68\\x69", 2, MSG_NOSIGNAL, NULL, 0) = 2 <0.000069>\n')
        os.write(terminal, b"\x04")  # Ctrl-D at a line's start: the end of the input
        summary = read_terminal(terminal, b"packets")
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(terminal)
    assert os.waitstatus_to_exitcode(status) == 0, summary
    assert b"1 socket event, 1 packet," in summary, summary
    assert [frame[-2:] for _, frame in support.pcap_records(pcap.read_bytes())] == [b"hi"]

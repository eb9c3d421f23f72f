"""The parse stage in a child process (two CPUs) or in this process (one):
the same pcap and the same summary either way; a child that fails, stops
or loses its parent."""

import marshal
import os
import re
import signal
import subprocess
import sys
import time

import pytest

import parse_runner
import py_strace2pcap
import support
import trace_input
from pcap_output import strace_flags
from strace_parser import unpack_event

CONNECTION = "5<TCP:[127.0.0.1:40000->127.0.0.1:18080]>"


def write_lines(count, start=1795659371.0, size=300):
    """A connect and ``count`` writes of ``size`` bytes on one TCP connection."""
    lines = ['100   %.6f connect(5<TCP:[4664]>, {sa_family=AF_INET, sin_port=htons(18080), '
             'sin_addr=inet_addr("%s")}, 16) = 0 <0.000100>'
             % (start, support.strace_quote(b"127.0.0.1", "xx"))]
    for number in range(count):
        payload = ("%05d" % number).encode().ljust(size, b".")
        lines.append('100   %.6f write(%s, "%s", %d) = %d <0.000010>'
                     % (start + 0.001 * (number + 1), CONNECTION, support.strace_quote(payload, "xx"),
                        size, size))
    return "\n".join(lines) + "\n"


def frames(data):
    """The frames of the whole records in classic pcap bytes ``data``."""
    return [frame for _time, frame in support.pcap_records(data)]


def run_main(monkeypatch, capfd, two_cpus, argv, fork_for_one_block=True):
    """``main(argv)`` with the parse stage in a child (``two_cpus``; by
    default even for a trace of one block) or not; its exit status,
    standard error and the number of children forked."""
    monkeypatch.setattr(parse_runner, "two_cpus", lambda: two_cpus)
    if fork_for_one_block:
        monkeypatch.setattr(parse_runner, "_one_block", lambda trace: False)
    forked = []
    child_process = parse_runner.ChildProcess

    def counted_child_process(*arguments, **keywords):
        forked.append(True)
        return child_process(*arguments, **keywords)
    monkeypatch.setattr(parse_runner, "ChildProcess", counted_child_process)
    status = py_strace2pcap.main(argv)
    return status, capfd.readouterr().err, len(forked)


@pytest.mark.parametrize("fixture, flags", [
    ("inet/forking-server.strace", []),
    ("inet/msg-peek.strace", ["-v"]),
    ("unix/grpc-client.strace", ["--capture-unix-socket", "--seed-http2", "--seed-grpc"]),
    ("pcapng/clients.strace", ["--format", "pcapng"]),
    ("dialects/relative.strace", ["--date", "2026-11-26"]),
    ("dialects/ff", []),
])
def test_child_and_in_process_write_the_same_pcap_and_summary(monkeypatch, capfd, tmp_path,
                                                             fixture, flags):
    source = support.FIXTURES / fixture
    inputs = sorted(map(str, source.iterdir())) if source.is_dir() else [str(source)]
    results = {}
    for two_cpus in (True, False):
        pcap = tmp_path / ("%s.out" % two_cpus)
        status, errors, forked = run_main(monkeypatch, capfd, two_cpus,
                                          [str(pcap), *flags, "-r", *inputs])
        assert status == 0, errors
        assert forked == (1 if two_cpus else 0)
        summary = re.sub(r" in \d+\.\d s$", "", errors, flags=re.MULTILINE)
        results[two_cpus] = (pcap.read_bytes(), summary)
    assert results[True] == results[False]
    data, summary = results[True]
    assert len(data) > 24 + 16 and "socket events" in summary  # packets, and their count


def test_a_failing_child_is_reported_and_the_pcap_holds_the_blocks_before(
        monkeypatch, capfd, tmp_path):
    trace = tmp_path / "trace.strace"
    trace.write_text(write_lines(2000))  # about 1.6 MB: several blocks
    calls = []
    events_of = py_strace2pcap.ParseStage.events

    def failing_events(stage, block):
        calls.append(block)
        if len(calls) == 2:
            raise RuntimeError("a bug in the parser")
        return events_of(stage, block)
    monkeypatch.setattr(py_strace2pcap.ParseStage, "events", failing_events)
    pcap = tmp_path / "out.pcap"
    status, errors, forked = run_main(monkeypatch, capfd, True, [str(pcap), "-r", str(trace)])
    assert (status, forked) == (py_strace2pcap.EXIT_FAILED, 1)
    assert "RuntimeError: a bug in the parser" in errors  # the child's traceback
    assert ("py-strace2pcap: the parsing process ended with status %d; the pcap holds the "
            "packets before" % parse_runner.CHILD_FAILED) in errors
    written = frames(pcap.read_bytes())
    # The first block: the whole lines of the first read.
    text = trace.read_bytes()
    first_block = text[:text.rindex(b"\n", 0, trace_input.CHUNK_SIZE)]
    assert len(written) == 3 + first_block.count(b" write(")  # the handshake, the writes


def test_the_child_sends_the_events_of_many_blocks_in_one_message(monkeypatch, capfd, tmp_path):
    trace = tmp_path / "trace.strace"
    trace.write_text(write_lines(2000))  # about 1.6 MB: 25 blocks
    batches = []
    take = py_strace2pcap.PacketStage.take

    def counted_take(stage, events, flags):
        batches.append(len(events))
        return take(stage, events, flags)
    monkeypatch.setattr(py_strace2pcap.PacketStage, "take", counted_take)
    pcap = tmp_path / "out.pcap"
    assert run_main(monkeypatch, capfd, True, [str(pcap), "-q", "-r", str(trace)]) == (0, "", 1)
    # A message per BATCH_EVENTS events or so, not one per block.
    assert sum(batches) == 2001 and len(batches) <= 2 + 2001 // parse_runner.BATCH_EVENTS
    assert len(frames(pcap.read_bytes())) == 3 + 2000


def messages(fd):
    """The (events, flags) messages waiting in pipe ``fd`` (non-blocking)."""
    os.set_blocking(fd, False)
    data = b""
    try:
        while True:
            data += os.read(fd, 1 << 16)
    except BlockingIOError:
        pass
    found = []
    while data:
        _tag, size = parse_runner.HEADER.unpack_from(data)
        found.append(marshal.loads(data[parse_runner.HEADER.size:parse_runner.HEADER.size + size]))
        data = data[parse_runner.HEADER.size + size:]
    return found


def test_a_batch_of_long_lines_goes_at_batch_text():
    """A bulk transfer's blocks, a few events of 64 KiB each: a message per
    BATCH_TEXT characters of trace, not per BATCH_EVENTS events."""
    read, write = os.pipe()
    try:
        batch = parse_runner.Batch(write)
        half = parse_runner.BATCH_TEXT // 2
        batch.add([("event", 1)], "flags", half)
        assert messages(read) == []
        batch.add([("event", 2)], "flags", half)
        assert messages(read) == [([("event", 1), ("event", 2)], "flags")]
    finally:
        os.close(read)
        os.close(write)


def test_a_batch_waits_at_most_batch_wait_for_more_events(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(parse_runner.time, "monotonic", lambda: now[0])
    read, write = os.pipe()
    try:
        batch = parse_runner.Batch(write)
        batch.add([("event", 1)], "flags", 100)
        now[0] = parse_runner.BATCH_WAIT / 2
        batch.add([], "flags", 100)  # a block of other lines: the event still waits
        assert messages(read) == []
        now[0] = parse_runner.BATCH_WAIT
        batch.add([], "flags", 100)
        assert messages(read) == [([("event", 1)], "flags")]
        batch.add([("event", 2)], "flags", 100)
        batch.add([("event", 3)], "other flags", 100)  # the first goes with its own flags
        assert messages(read) == [([("event", 2)], "flags")]
    finally:
        os.close(read)
        os.close(write)


@pytest.mark.parametrize("writes, forked", [(50, 0), (2000, 1)])
def test_a_trace_of_one_block_is_parsed_without_a_child(monkeypatch, capfd, tmp_path,
                                                       writes, forked):
    trace = tmp_path / "trace.strace"
    trace.write_text(write_lines(writes))  # 50 writes: 45 kB; 2000: 1.6 MB, several blocks
    pcap = tmp_path / "out.pcap"
    assert run_main(monkeypatch, capfd, True, [str(pcap), "-q", "-r", str(trace)],
                    fork_for_one_block=False) == (0, "", forked)
    assert len(frames(pcap.read_bytes())) == 3 + writes


def open_pipes():
    """The pipes this process holds open, as their /proc/self/fd links."""
    links = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            links.append(os.readlink("/proc/self/fd/" + fd))
        except OSError:
            pass  # the directory's own fd, closed
    return sorted(link for link in links if link.startswith("pipe:"))


def test_no_fork_means_one_process_and_the_same_pcap(monkeypatch, capfd, tmp_path):
    trace = tmp_path / "trace.strace"
    trace.write_text(write_lines(50))
    expected = tmp_path / "expected.pcap"
    assert run_main(monkeypatch, capfd, False, [str(expected), "-q", "-r", str(trace)])[0] == 0

    def no_fork():
        raise BlockingIOError(11, "Resource temporarily unavailable")
    monkeypatch.setattr(os, "fork", no_fork)
    pipes = open_pipes()
    pcap = tmp_path / "out.pcap"
    status, errors, forked = run_main(monkeypatch, capfd, True, [str(pcap), "-q", "-r", str(trace)])
    assert (status, errors, forked) == (0, "", 1)  # tried, fell back
    assert pcap.read_bytes() == expected.read_bytes()
    assert len(frames(pcap.read_bytes())) == 3 + 50
    assert open_pipes() == pipes  # the child's pipes closed again


def child_of(pid, timeout=30.0):
    """The pid of the only child of process ``pid``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as children:
            found = children.read().split()
        if found:
            return int(found[0])
        time.sleep(0.02)
    raise AssertionError("no child process")


def gone(pid):
    """True once process ``pid`` has ended (a zombie counts as ended)."""
    try:
        with open("/proc/%d/stat" % pid) as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def live_converter(pcap, lines):
    """The converter reading a pipe we keep open, ``lines`` already written;
    in a process group of its own, as a terminal's job is."""
    converter = subprocess.Popen([sys.executable, str(support.CONVERTER), str(pcap)],
                                 stdin=subprocess.PIPE, stderr=subprocess.PIPE,
                                 start_new_session=True)
    converter.stdin.write(lines.encode())
    converter.stdin.flush()
    return converter


@pytest.mark.skipif(not parse_runner.two_cpus(), reason="the child runs on a second CPU only")
@pytest.mark.parametrize("to", ["the child alone", "the process group (Ctrl-C)"])
def test_sigint_to_the_child_or_the_group_stops_the_conversion(tmp_path, to):
    pcap = tmp_path / "live.pcap"
    converter = live_converter(pcap, write_lines(10))
    try:
        support.wait_for(lambda: pcap.exists() and len(frames(pcap.read_bytes())) == 3 + 10)
        # Reading a pipe, a first signal only drains it: the second stops.
        if to == "the child alone":
            child = child_of(converter.pid)
            os.kill(child, signal.SIGINT)
            time.sleep(0.5)  # two signals at once may count as one
            assert converter.poll() is None
            os.kill(child, signal.SIGINT)
        else:
            os.killpg(converter.pid, signal.SIGINT)
            assert b"converting the rest" in converter.stderr.readline()
            assert converter.poll() is None
            os.killpg(converter.pid, signal.SIGINT)
        status = converter.wait(timeout=30)
        errors = converter.stderr.read().decode()
    finally:
        converter.stdin.close()
    assert status == 128 + signal.SIGINT, errors
    assert "interrupted" in errors and "Traceback" not in errors
    assert len(frames(pcap.read_bytes())) == 3 + 10


@pytest.mark.skipif(not parse_runner.two_cpus(), reason="the child runs on a second CPU only")
def test_the_child_ends_when_its_parent_is_killed(tmp_path):
    converter = live_converter(tmp_path / "live.pcap", write_lines(10))
    try:
        child = child_of(converter.pid)
        converter.kill()
        converter.wait(timeout=30)
        support.wait_for(lambda: gone(child), timeout=10)
    finally:
        converter.stdin.close()


def processes_running(argument):
    """Pids of the processes whose command line holds ``argument``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as cmdline:
                if argument.encode() in cmdline.read().split(b"\0") and not gone(int(pid)):
                    found.append(int(pid))
        except OSError:
            pass  # ended meanwhile
    return found


@pytest.mark.skipif(not parse_runner.two_cpus(), reason="the child runs on a second CPU only")
def test_a_reader_going_away_ends_parent_and_child_quietly(tmp_path):
    """py_strace2pcap.py - -r TRACE | head -c 100, the trace more than a
    block: exit 141 (128 + SIGPIPE), no traceback, no process left."""
    trace = tmp_path / "trace.strace"
    trace.write_text(write_lines(4000))  # 3.2 MB: four blocks, a child
    converter = subprocess.Popen([sys.executable, str(support.CONVERTER), "-", "-r", str(trace)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert len(converter.stdout.read(100)) == 100
    converter.stdout.close()
    status = converter.wait(timeout=30)
    errors = converter.stderr.read().decode()
    assert status == 128 + signal.SIGPIPE, errors
    assert "Traceback" not in errors
    support.wait_for(lambda: processes_running(str(trace)) == [], timeout=10)


def test_flags_come_from_the_first_whole_line_with_a_payload():
    stage = py_strace2pcap.ParseStage(py_strace2pcap.parse_arguments(["out.pcap"]))
    resumed_connect = ("100   1795659371.000000 connect(5<TCP:[4664]>, {sa_family=AF_INET, "
                       "sin_port=htons(18080), sin_addr=inet_addr(\"127.0.0.1\")}, 16 "
                       "<unfinished ...>\n"
                       "100   1795659371.000100 <... connect resumed>) = 0 <0.000100>")
    stage.events(resumed_connect)
    assert stage.flags == "-f -ttt -T"  # all a resumed half shows
    stage.events("100   1795659371.000200 close(%s) = 0 <0.000010>" % CONNECTION)
    assert stage.flags == "-f -ttt -T -yy"
    data_line = write_lines(1).splitlines()[1]
    stage.events(data_line)
    assert stage.flags == strace_flags(data_line) == "-f -ttt -T -yy -xx"


@pytest.mark.parametrize("output, packed", [("out.pcap", True), ("out.pcapng", False)])
def test_common_data_lines_cross_packed_unless_pcapng_names_their_process(output, packed):
    # Packed, the child leaves building the dicts to the parent; a pcapng's
    # process names are known in the child only, so it unpacks them there.
    # Unix events, which cost the parent the more, are always unpacked.
    stage = py_strace2pcap.ParseStage(py_strace2pcap.parse_arguments([output]))
    execve = ('100   1795659370.000000 execve("/usr/bin/curl", ["curl"], 0x7ffd /* 9 vars */)'
              ' = 0 <0.000300>\n')
    unix_write = ('\n100   1795659371.004000 write(7<UNIX-STREAM:[501->502]>, "\\x68\\x69", 2)'
                  ' = 2 <0.000010>')
    events = stage.events(execve + write_lines(3).rstrip("\n") + unix_write)
    if not packed:  # pcapng's execve goes on to the packetizers (bounded_tables.ForkTimes)
        process = events.pop(0)
        assert (process["syscall"], process["pid"]) == ("execve", 100)
    assert [type(event) is tuple for event in events] == [False] + [packed] * 3 + [False]
    assert events[-1]["payload"] == b"hi" and events[-1]["peer_inode"] == 502
    events.pop()
    unpacked = [event if isinstance(event, dict) else unpack_event(event) for event in events]
    assert [event["payload"][:5] for event in unpacked[1:]] == [b"00000", b"00001", b"00002"]
    assert {event["time"] for event in unpacked[1:]} == {1795659371.001, 1795659371.002,
                                                         1795659371.003}
    assert {event["comm"] for event in unpacked} == {None if packed else "curl"}

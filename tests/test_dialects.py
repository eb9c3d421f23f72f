"""Every strace dialect converts to the packets of the -f -ttt -T -yy -xx recording.

tests/fixtures/dialects/record.py ran the same deterministic workload
(workload.py: TCP v4/v6, UDP v4/v6 sendto/sendmsg, sendmmsg/recvmmsg,
readv/writev, EINPROGRESS, EAGAIN, AF_UNIX) under strace 6.1 with each option
set; every run uses the same ports, so every dialect whose format carries the
information must give the same TCP byte streams (per 4-tuple) and the same
UDP datagrams as ``xx``.  strace 6.16's ``-N`` and ``--decode-pids=comm`` are
not in strace 6.1: those lines are built from the ``xx`` recording by hand,
as strace's documentation prints them.
"""

import bz2
import datetime
import gzip
import lzma
import re
import time

import pytest

import support
from strace_parser import SEND_PENDING, StraceParser, unpack_event

DIALECTS = support.FIXTURES / "dialects"
RECORDED = ["xx-single", "no-f", "bracket-pid", "tt", "t", "ns", "no-time", "relative",
            "x", "escapes", "no-T", "y", "no-y", "y-X-raw", "no-y-X-raw", "plain", "i-n", "k"]


def packets_of(tmp_path, name, inputs, *flags):
    """(TCP streams, sorted UDP datagrams) of the converted ``inputs``."""
    pcap = tmp_path / (name + ".pcap")
    support.convert(None, pcap, "-q", *flags, "-r", *map(str, inputs))
    return support.tcp_streams(pcap), sorted(support.udp_datagrams(pcap))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return packets_of(tmp_path_factory.mktemp("xx"), "xx", [DIALECTS / "xx.strace"])


def test_reference_holds_every_exchange(reference):
    streams, datagrams = reference
    assert streams[("127.0.0.1", 20201, "127.0.0.1", 20200)].endswith(b"one2345")
    assert streams[("::1", 20210, "::1", 20211)].endswith(b"bye")
    assert streams[("127.0.0.1", 20251, "127.0.0.1", 20250)] == b"late"
    payloads = [datagram[4] for datagram in datagrams]
    for payload in (b"ping\x00\xff", b"PING\x00\xff", b"msg-parts", b"strap-gsm",
                    b"first", b"second message", b"3rd"):
        assert payload in payloads


@pytest.mark.parametrize("name", RECORDED)
def test_recorded_dialect_gives_the_same_packets(name, tmp_path, reference):
    assert packets_of(tmp_path, name, [DIALECTS / (name + ".strace")]) == reference


@pytest.mark.parametrize("name, ordinary", [("i-n", None), ("k", "stack frame line (-k)")])
def test_syscall_numbers_addresses_and_stacks_are_read_not_reported(name, ordinary, tmp_path):
    """-n's ``[  42]`` and -i's ``[00007f...]`` before the syscall name are
    read past; -k's stack frame lines are counted, not shown as unreadable."""
    summary = support.convert(DIALECTS / (name + ".strace"), tmp_path / "out.pcap",
                              "-v").stderr.decode()
    assert "unparseable" not in summary, summary
    assert not re.search(r"^  line \d+ \(", summary, re.MULTILINE), summary  # no examples
    assert (ordinary is None) or re.search(r"skipped \d+: %s" % re.escape(ordinary), summary)


@pytest.mark.parametrize("name", RECORDED)
def test_exit_lines_of_every_dialect_end_their_process(name):
    """Every ``+++ exited with 0 +++`` line gives an exit event (whose
    process's sockets the kernel closes), whatever columns come before it:
    -n's ``[ 231]`` and -i's ``[????????????????]`` too."""
    lines = (DIALECTS / (name + ".strace")).read_text(encoding="latin-1").splitlines()
    parser = StraceParser(date=datetime.date(2026, 11, 26))
    exits = [event for line in lines for event in parser.parse(line) if event["syscall"] == "exit"]
    assert len(exits) == sum("+++ exited with" in line for line in lines) > 0


def test_ff_files_merged_in_time_order(tmp_path, reference):
    files = sorted((DIALECTS / "ff").glob("trace.*"))
    assert len(files) >= 2
    assert packets_of(tmp_path, "ff", files) == reference


def test_ff_files_merge_a_slow_send_at_its_start(tmp_path):
    """-ff files: a PostgreSQL backend's send took 12.8 ms (a helper's
    pgbench, recorded shapes); the other file's lines that ended meanwhile
    came first, and the send's packet, stamped at its start, after theirs
    (4985 of 33 219 packets out of time order).  Merged at its start, it
    keeps its place."""
    slow = "7<TCP:[127.0.0.1:23432->127.0.0.1:53946]>"
    other = "8<TCP:[127.0.0.1:23432->127.0.0.1:53950]>"
    quote = lambda data: support.strace_quote(data, "xx")  # noqa: E731
    (tmp_path / "trace.1233").write_text(
        '1795772692.801943 sendto(%s, "%s", 2, 0, NULL, 0) = 2 <0.012846>\n' % (slow, quote(b"ok")))
    (tmp_path / "trace.1235").write_text("".join(
        '1795772692.%06d sendto(%s, "%s", 2, 0, NULL, 0) = 2 <0.000020>\n'
        % (802000 + 1000 * index, other, quote(b"%02d" % index)) for index in range(10)))
    pcap = tmp_path / "ff.pcap"
    result = support.convert(None, pcap, "-r", str(tmp_path / "trace.1233"),
                             str(tmp_path / "trace.1235"))
    times = [time for time, _frame in support.pcap_records(pcap.read_bytes())]
    assert times == sorted(times) and len(times) == 11
    assert b"stamped earlier" not in result.stderr


@pytest.mark.parametrize("opener, suffix", [(gzip.open, ".gz"), (lzma.open, ".xz"),
                                            (bz2.open, ".bz2")])
def test_compressed_input(tmp_path, reference, opener, suffix):
    packed = tmp_path / ("trace.strace" + suffix)
    with opener(packed, "wb") as archive:
        archive.write((DIALECTS / "xx.strace").read_bytes())
    assert packets_of(tmp_path, "packed", [packed]) == reference


@pytest.mark.parametrize("compress", [gzip.compress, lzma.compress, bz2.compress],
                         ids=["gzip", "xz", "bzip2"])
def test_compressed_input_on_a_pipe(tmp_path, reference, compress):
    """``zcat``-less ``cat trace.gz | py-strace2pcap``: a pipe's first bytes
    tell too (it converted nothing and said "not strace output")."""
    pcap = tmp_path / "piped.pcap"
    support.convert(None, pcap, "-q", stdin=compress((DIALECTS / "xx.strace").read_bytes()))
    assert (support.tcp_streams(pcap), sorted(support.udp_datagrams(pcap))) == reference


def test_a_compressed_trace_cut_short_is_converted_to_the_cut_and_said(tmp_path):
    packed = gzip.compress((DIALECTS / "xx.strace").read_bytes())
    whole, cut = tmp_path / "whole.strace.gz", tmp_path / "cut.strace.gz"
    whole.write_bytes(packed)
    cut.write_bytes(packed[:len(packed) // 2])
    result = support.convert(cut, tmp_path / "cut.pcap")
    assert (b"the trace ends early, cut short or damaged (%s (gzip): Compressed file ended "
            b"before the end-of-stream marker was reached)" % str(cut).encode() in result.stderr)
    assert support.tcp_streams(tmp_path / "cut.pcap")  # what came before the cut
    assert support.convert(cut, tmp_path / "cut.pcap", "--strict", check=False).returncode == 1
    result = support.convert(whole, tmp_path / "whole.pcap", "--strict")
    assert b"ends early" not in result.stderr


def test_a_zstd_trace_is_refused_with_what_to_do(tmp_path):
    trace = tmp_path / "trace.strace.zst"
    trace.write_bytes(b"\x28\xb5\x2f\xfd" + bytes(64))
    result = support.convert(trace, tmp_path / "z.pcap", check=False)
    assert result.returncode == 2
    assert result.stderr.decode().splitlines() == [
        "py-strace2pcap: cannot read %s: a zstd archive: decompress it first (zstd -dc %s | "
        "py-strace2pcap ...)" % (trace, trace)]


# -- strace 6.16+ shapes, built from the xx lines ----------------------------

# Argument names as strace -N prints them (the man pages' names).
ARGUMENT_NAMES = {
    "read": "fd buf count", "write": "fd buf count", "readv": "fd iov iovcnt",
    "writev": "fd iov iovcnt", "close": "fd", "shutdown": "sockfd how",
    "sendto": "sockfd buf len flags dest_addr addrlen",
    "recvfrom": "sockfd buf len flags src_addr addrlen",
    "sendmsg": "sockfd msg flags", "recvmsg": "sockfd msg flags",
    "sendmmsg": "sockfd msgvec vlen flags", "recvmmsg": "sockfd msgvec vlen flags timeout",
    "connect": "sockfd addr addrlen", "accept4": "sockfd addr addrlen flags",
    "socket": "domain type protocol", "bind": "sockfd addr addrlen",
    "getsockname": "sockfd addr addrlen", "socketpair": "domain type protocol sv",
}
CALL = re.compile(r"(\d+ +[\d.]+ )(\w+)\(")


def split_arguments(text):
    """(arguments, rest) of a call's text after its ``(``, split at the
    top-level commas (not inside strings, [], {} or ())."""
    pieces, depth, start, index = [], 0, 0, 0
    while index < len(text):
        char = text[index]
        if char == '"':
            index += 1
            while text[index] != '"':
                index += 2 if text[index] == "\\" else 1
        elif char in "[{(":
            depth += 1
        elif char in "]})":
            if depth == 0:
                pieces.append(text[start:index])
                return pieces, text[index:]
            depth -= 1
        elif char == "," and depth == 0:
            pieces.append(text[start:index])
            start = index + 2
        index += 1
    pieces.append(text[start:])
    return pieces, ""


def with_argument_names(line):
    """``line`` as ``strace -N`` prints it; resumed halves stay as they are."""
    call = CALL.match(line)
    if call is None or call.group(2) not in ARGUMENT_NAMES:
        return line
    names = ARGUMENT_NAMES[call.group(2)].split()
    arguments, rest = split_arguments(line[call.end():])
    named = ["%s=%s" % (name, argument) if argument and not argument.startswith("<")
             else argument for name, argument in zip(names, arguments)]
    return line[:call.end()] + ", ".join(named + arguments[len(names):]) + rest


def test_split_arguments_on_a_real_line():
    line = (r'29830 1795660411.656987 recvfrom(4<TCP:[127.0.0.1:20201]>, "\x62\x79\x65", 16, '
            r'0, NULL, NULL) = 3 <0.000016>')
    assert with_argument_names(line) == (
        r'29830 1795660411.656987 recvfrom(sockfd=4<TCP:[127.0.0.1:20201]>, buf="\x62\x79\x65", '
        r'len=16, flags=0, src_addr=NULL, addrlen=NULL) = 3 <0.000016>')


@pytest.mark.parametrize("recording", ["xx", "no-y"])
def test_arg_names_give_the_same_packets(recording, tmp_path, reference):
    lines = (DIALECTS / (recording + ".strace")).read_text("latin-1").splitlines()
    named = tmp_path / "named.strace"
    named.write_text("\n".join(map(with_argument_names, lines)) + "\n", "latin-1")
    assert "sendto(sockfd=4<TCP:[127.0.0.1:20201]>, buf=" in named.read_text("latin-1") \
        or "sendto(sockfd=4, buf=" in named.read_text("latin-1")
    assert packets_of(tmp_path, "named", [named]) == reference


def test_decode_pids_comm_goes_to_the_event(tmp_path, reference):
    lines = (DIALECTS / "xx.strace").read_text("latin-1").splitlines()
    with_comm = [re.sub(r"^(\d+)", r"\1<workload.py>", line) for line in lines]
    parser = StraceParser()
    events = [event for line in with_comm for event in parser.parse(line)
              if event["protocol"] != SEND_PENDING]
    assert events and {event["comm"] for event in events} == {"workload.py"}
    trace = tmp_path / "comm.strace"
    trace.write_text("\n".join(with_comm) + "\n", "latin-1")
    assert packets_of(tmp_path, "comm", [trace]) == reference
    bracketed = StraceParser().parse(
        r'[pid 29830<curl>] 1795660411.656987 recvfrom(4<TCP:[127.0.0.1:20201]>, '
        r'"\x62\x79\x65", 16, 0, NULL, NULL) = 3 <0.000016>')
    assert [(event["pid"], event["comm"]) for event in bracketed] == [(29830, "curl")]
    # Under -xx, -Y escapes the name too (a sweep's pcapng said comm="\\x63...").
    escaped = StraceParser().parse(
        r'22341<\x63\x75\x72\x6c> 1795660411.656987 recvfrom(4<TCP:[127.0.0.1:20201]>, '
        r'"\x62\x79\x65", 16, 0, NULL, NULL) = 3 <0.000016>')
    assert [(event["pid"], event["comm"]) for event in escaped] == [(22341, "curl")]


# -- timestamps ------------------------------------------------------------

def event_times(name, **parser_options):
    parser = StraceParser(**parser_options)
    text = (DIALECTS / (name + ".strace")).read_text("latin-1")
    return [event["time"] for line in text.splitlines() for event in parser.parse(line)], parser


@pytest.fixture
def zone(monkeypatch):
    """Set this process's (and its children's) time zone: a POSIX TZ
    string, which needs no zoneinfo files."""
    def set_zone(tz):
        monkeypatch.setenv("TZ", tz)
        time.tzset()
    yield set_zone
    monkeypatch.undo()
    time.tzset()


def test_clock_times_on_the_given_date(zone):
    zone("UTC0")
    times, parser = event_times("tt", date=datetime.date(2026, 11, 26))
    first = datetime.datetime.fromtimestamp(times[0], datetime.timezone.utc)
    assert (first.date(), first.hour, first.minute) == (datetime.date(2026, 11, 26), 2, 33)
    assert parser.clock.used_clock and parser.date_given


def test_clock_times_are_local_time_as_strace_prints_them(zone):
    """``TZ=Asia/Tokyo strace -tt`` printed 01:11:31.367256 on 27 November
    at 16:11:31 UTC on the 26th (a sweep): read in the same zone, the
    packet has the real time, not 9 hours off."""
    zone("JST-9")
    parser = StraceParser(date=datetime.date(2026, 11, 27))
    line = ('1 01:11:31.367256 recvfrom(4<TCP:[127.0.0.1:20201]>, "\\x62", 16, 0, NULL, NULL)'
            ' = 1 <0.000016>')
    [event] = parser.parse(line)
    assert event["time"] == pytest.approx(datetime.datetime(
        2026, 11, 26, 16, 11, 31, 367256, datetime.timezone.utc).timestamp(), abs=1e-6)


def test_clock_times_roll_over_midnight():
    parser = StraceParser(date=datetime.date(2026, 1, 31))
    line = ('1 %s recvfrom(4<TCP:[127.0.0.1:20201]>, "\\x62", 16, 0, NULL, NULL) = 1 <0.000016>')
    before, after = (parser.parse(line % clock)[0]["time"] for clock in ("23:59:59.900000",
                                                                         "00:00:00.100000"))
    assert round(after - before, 6) == 0.2


def test_relative_times_are_summed_over_every_line():
    """-r prints each line's gap to the line before, whatever its thread."""
    parser = StraceParser()
    text = (DIALECTS / "relative.strace").read_text("latin-1")
    elapsed = 0.0
    for line in text.splitlines():
        gap = re.match(r"\d+ +(\d+\.\d+) ", line)
        elapsed += float(gap.group(1)) if gap else 0.0
        for event in parser.parse(line):
            if "resumed>" not in line:
                assert event["time"] == pytest.approx(parser.clock.midnight + elapsed, abs=1e-6)
    assert parser.clock.relative and elapsed > 0


def test_nanosecond_and_missing_times():
    times, _ = event_times("ns")
    assert min(times) > 1.7e9
    assert any(round(time * 1e6) != time * 1e6 for time in times)  # ns survive as floats can
    times, parser = event_times("no-time")
    lines = len((DIALECTS / "no-time.strace").read_text("latin-1").splitlines())
    assert parser.clock.midnight <= min(times) <= max(times) <= parser.clock.midnight + lines * 1e-6


def test_summary_says_how_it_read_times_without_a_date(tmp_path, zone):
    zone("JST-9")
    result = support.convert(DIALECTS / "tt.strace", tmp_path / "tt.pcap")
    assert (b"-t/-tt clock times were read as local time (UTC+09:00, set by TZ) on %s "
            b"(today; --date sets the day)\n" % datetime.date.today().isoformat().encode()
            in result.stderr)
    result = support.convert(DIALECTS / "tt.strace", tmp_path / "tt.pcap", "--date", "2026-11-26")
    assert b"(UTC+09:00, set by TZ) on 2026-11-26\n" in result.stderr
    result = support.convert(DIALECTS / "t.strace", tmp_path / "t.pcap", "--date", "2026-11-26")
    assert b"-t shows whole seconds: record with -ttt" in result.stderr
    for name, told in (("relative", b"-r shows only the time between lines"),
                       ("no-time", b"lines without a timestamp were placed 1 us apart")):
        result = support.convert(DIALECTS / (name + ".strace"), tmp_path / "out.pcap")
        assert told in result.stderr and b"record with -ttt" in result.stderr, name
    result = support.convert(DIALECTS / "xx.strace", tmp_path / "xx.pcap")
    assert b"-ttt" not in result.stderr and b"local time" not in result.stderr


# -- no annotations: the socket table ---------------------------------------

def test_without_annotations_the_client_address_is_a_placeholder(tmp_path):
    """shapes.py's client never binds: without -yy its port never shows."""
    parser = StraceParser()
    text = (support.FIXTURES / "parser" / "shapes-no-y.strace").read_text("latin-1")
    events = [event for line in text.splitlines() for event in parser.parse(line)]
    sent = [event for event in events if event["syscall"] == "sendto"
            and event["protocol"] == "TCP"]
    assert sent[0]["payload"] == b"after signal"
    assert sent[0]["local"][0].startswith("192.0.2.") and sent[0]["remote"][1] == 20310
    served = [event for event in events if event["syscall"] == "recvfrom"
              and event["protocol"] == "TCP"]
    assert served[0]["local"] == ("127.0.0.1", 20310) and served[0]["remote"][0] == "127.0.0.1"
    assert parser.placeholder_addresses >= 1
    result = support.convert(support.FIXTURES / "parser" / "shapes-no-y.strace",
                             tmp_path / "shapes.pcap")
    assert (b"placeholder endpoints (192.0.2.x / 198.51.100.1); record with -yy for the real "
            b"ones (what both ends of a connection show, stream or datagram, appears twice, "
            b"as each end saw it)") in result.stderr


def test_a_port_getsockname_shows_after_connect_makes_no_placeholder():
    """curl under -y: a non-blocking connect, getsockopt(SO_ERROR) before
    getsockname shows the port.  That getsockopt only says the connect was
    answered: no made-up endpoint for it, and the summary claims none (it
    claimed one, with every packet's address real)."""
    socket = "5<socket:[167076]>"
    lines = [
        "7 1795755390.200000 socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = %s <0.000024>" % socket,
        "7 1795755390.200998 connect(%s, {sa_family=AF_INET, sin_port=htons(28181), sin_addr="
        'inet_addr("127.0.0.1")}, 16) = -1 EINPROGRESS (Operation now in progress) '
        "<0.000100>" % socket,
        "7 1795755390.201437 getsockopt(%s, SOL_SOCKET, SO_ERROR, [0], [4]) = 0 <0.000011>"
        % socket,
        "7 1795755390.201483 getsockname(%s, {sa_family=AF_INET, sin_port=htons(37472), "
        'sin_addr=inet_addr("127.0.0.1")}, [16]) = 0 <0.000010>' % socket,
        '7 1795755390.201600 sendto(%s, "GET", 3, MSG_NOSIGNAL, NULL, 0) = 3 <0.000020>'
        % socket]
    parser = StraceParser()
    events = [event for line in lines for event in parser.parse(line)]
    assert parser.placeholder_addresses == 0
    assert (events[-1]["local"], events[-1]["remote"]) == (("127.0.0.1", 37472),
                                                           ("127.0.0.1", 28181))


def test_without_yy_a_sockets_fds_and_threads_share_its_placeholder():
    """git under -y writes on a dup of its socket, and a thread reads the
    pack: one made-up client end for them all (each fd and thread got
    its own: 14 connections for git clone's 4 seen from both ends)."""
    socket = "3<socket:[500]>"
    lines = [
        "7 1795755390.100000 socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = %s <0.000010>" % socket,
        "7 1795755390.200000 connect(%s, {sa_family=AF_INET, sin_port=htons(9418), sin_addr="
        'inet_addr("127.0.0.1")}, 16) = 0 <0.000100>' % socket,
        "7 1795755390.300000 fcntl(%s, F_DUPFD_CLOEXEC, 0) = 4<socket:[500]> <0.000010>" % socket,
        '7 1795755390.400000 write(4<socket:[500]>, "\x61", 1) = 1 <0.000010>',
        "7 1795755390.500000 clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|"
        "CLONE_THREAD|CLONE_SYSVSEM, exit_signal=0, stack=0x7f00, stack_size=0x7f00}, 88) = 8"
        " <0.000030>",
        '8 1795755390.600000 read(%s, "\x62", 65536) = 1 <0.000010>' % socket,
        '7 1795755390.700000 read(%s, "\x63", 65536) = 1 <0.000010>' % socket]
    parser = StraceParser()
    events = [event for line in lines for event in parser.parse(line)]
    data = [(event["pid"], event["fd"], event["local"], event["remote"]) for event in events
            if event["direction"] is not None]
    assert [(pid, fd) for pid, fd, _local, _remote in data] == [(7, 4), (8, 3), (7, 3)]
    assert len({(local, remote) for _pid, _fd, local, remote in data}) == 1
    assert data[0][2][0].startswith("192.0.2.") and data[0][3] == ("127.0.0.1", 9418)


def test_strace_messages_in_a_trace_from_its_stderr_are_named():
    """``strace ... 2>&1 | py-strace2pcap``: strace's messages come in
    between the lines, and may cut one in two (a sweep: 62 'unparseable')."""
    parser = StraceParser()
    for line in ("strace: Process 20807 attached",
                 "1795709347.617115 clone(child_stack=NULL, flags=SIGCHLDstrace: Process 20801 "
                 "attached", ", child_tidptr=0x7fa340066a10) = 20801 <0.000178>"):
        parser.parse(line)
    assert parser.skipped["strace's own message, mixed in (strace -o FILE keeps them out)"] == 1
    assert parser.skipped["unparseable"] == 1  # the rest of the line it cut


def test_without_yy_a_unix_stream_socket_is_one_flow(tmp_path):
    """redis-benchmark over a unix socket under -y (a sweep): each sendto and
    recvfrom became a connection of its own (806 instead of 1); the socket
    is one flow, and the summary says why its peer stays unknown."""
    socket_text = "".join("\\x%02x" % byte for byte in b"socket:[1350268]")
    path = "".join("\\x%02x" % byte for byte in b"/tmp/redis.sock")
    lines = ['3021 1795708912.926200 socket(AF_UNIX, SOCK_STREAM, 0) = 4<%s> <0.000010>'
             % socket_text,
             '3021 1795708912.926302 connect(4<%s>, {sa_family=AF_UNIX, sun_path="%s"}, 110)'
             ' = 0 <0.000010>' % (socket_text, path)]
    for index in range(3):
        lines += ['3021 1795708912.92%d567 sendto(4<%s>, "\\x53\\x45\\x54", 3, 0, NULL, 0) = 3'
                  ' <0.000010>' % (index + 7, socket_text),
                  '3021 1795708912.92%d743 recvfrom(4<%s>, "\\x2b\\x4f\\x4b", 16384, 0, NULL,'
                  ' NULL) = 3 <0.000010>' % (index + 7, socket_text)]
    trace = tmp_path / "y.strace"
    trace.write_text("\n".join(lines) + "\n")
    result = support.convert(trace, tmp_path / "y.pcap", "--capture-unix-socket")
    summary = result.stderr.decode()
    assert "unix: 1 stream connection (" in summary, summary
    assert "7 unix stream events had no -yy annotation" in summary, summary  # with the connect
    streams = support.tcp_streams(tmp_path / "y.pcap")
    assert sorted(streams.values()) == [b"+OK" * 3, b"SET" * 3]


def test_without_yy_a_datagram_from_a_port_0_bind_gets_a_placeholder_port():
    """bind(127.0.0.1:0) lets the kernel pick the port, which no line
    without -yy shows: the datagrams come from a 192.0.2.x placeholder
    with the fd's port (counted), not from port 0."""
    parser = StraceParser()
    parser.parse("5 1.0 socket(AF_INET, SOCK_DGRAM, IPPROTO_IP) = 3")
    parser.parse('5 1.1 bind(3, {sa_family=AF_INET, sin_port=htons(0), '
                 'sin_addr=inet_addr("127.0.0.1")}, 16) = 0')
    [sent] = parser.parse('5 1.2 sendto(3, "\\x61", 1, 0, {sa_family=AF_INET, '
                          'sin_port=htons(19999), sin_addr=inet_addr("127.0.0.1")}, 16) = 1')
    assert sent["local"][0].startswith("192.0.2.") and sent["local"][1] != 0
    assert sent["remote"] == ("127.0.0.1", 19999)
    assert parser.placeholder_addresses == 1


def test_file_reused_fd_number_is_not_a_socket():
    parser = StraceParser()
    assert parser.parse("5 1.0 socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 3") == []
    assert parser.parse('5 1.1 write(3, "\\x61", 1) = 1')[0]["protocol"] == "TCP"
    assert parser.parse("5 1.2 close(3) = 0")[0]["syscall"] == "close"
    assert parser.parse('5 1.3 write(3, "\\x61", 1) = 1') == []
    # Under -y a path annotation says "file", whatever the table thinks.
    assert parser.parse("5 1.4 socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 4") == []
    assert parser.parse('5 1.5 write(4</tmp/x>, "\\x61", 1) = 1') == []


def test_threads_share_and_forks_copy_the_fd_table():
    parser = StraceParser()
    parser.parse("10 1.0 socket(AF_INET, SOCK_DGRAM, IPPROTO_IP) = 3")
    parser.parse("10 1.1 clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_THREAD}, 88) = 11")
    parser.parse("10 1.2 clone(child_stack=NULL, flags=SIGCHLD) = 12")
    parser.parse("10 1.3 close(3) = 0")
    line = ('%d 1.4 sendto(3, "\\x61", 1, 0, {sa_family=AF_INET, sin_port=htons(53), '
            'sin_addr=inet_addr("127.0.0.1")}, 16) = 1')
    assert parser.parse(line % 11) == []          # the thread saw the close
    [event] = parser.parse(line % 12)             # the forked child kept its copy
    assert (event["protocol"], event["remote"]) == ("UDP", ("127.0.0.1", 53))


def test_a_dup_split_by_another_thread_is_the_same_socket_under_y():
    """Rust's TcpStream::try_clone() under -y -xx: fcntl(F_DUPFD_CLOEXEC)
    printed in two halves; the copy's reads are the accepted socket's."""
    parser = StraceParser()
    hex_inode = "".join("\\x%02x" % byte for byte in b"socket:[895609]")
    listener = "".join("\\x%02x" % byte for byte in b"socket:[895605]")
    for line in [
        '16515 1.0 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3<%s> <0.000010>'
        % listener,
        '16515 1.1 bind(3<%s>, {sa_family=AF_INET, sin_port=htons(18102), '
        'sin_addr=inet_addr("127.0.0.1")}, 16) = 0 <0.000010>' % listener,
        '16516 1.2 accept4(3<%s>, {sa_family=AF_INET, sin_port=htons(38812), '
        'sin_addr=inet_addr("127.0.0.1")}, [128 => 16], SOCK_CLOEXEC) = 4<%s> <0.000010>'
        % (listener, hex_inode),
        '16520 1.3 fcntl(4<%s>, F_DUPFD_CLOEXEC, 3 <unfinished ...>' % hex_inode,
        '16521 1.4 futex(0x7f, FUTEX_WAKE_PRIVATE, 1) = 0 <0.000010>',
        '16520 1.5 <... fcntl resumed>) = 9<%s> <0.000079>' % hex_inode,
    ]:
        parser.parse(line)
    [event] = parser.parse('16520 1.6 recvfrom(9<%s>, "\\x31\\x31", 8192, 0, NULL, NULL) = 2'
                           ' <0.000010>' % hex_inode)
    assert (event["fd"], event["payload"], event["local"], event["remote"]) == (
        9, b"11", ("127.0.0.1", 18102), ("127.0.0.1", 38812))


def test_dup2_of_a_socket_without_y():
    """inetd style: the accepted socket dup2'ed onto fd 0, then read there."""
    parser = StraceParser()
    for line in [
        "7 1.0 socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 3",
        '7 1.1 bind(3, {sa_family=AF_INET, sin_port=htons(7000), sin_addr=inet_addr("127.0.0.1")}, '
        "16) = 0",
        '7 1.2 accept(3, {sa_family=AF_INET, sin_port=htons(40000), '
        'sin_addr=inet_addr("127.0.0.1")}, [16]) = 4',
        "7 1.3 dup2(4, 0) = 0",
        "7 1.4 close(4) = 0",
    ]:
        parser.parse(line)
    [event] = parser.parse('7 1.5 read(0, "\\x68\\x69", 100) = 2')
    assert (event["fd"], event["payload"], event["remote"]) == (0, b"hi", ("127.0.0.1", 40000))


# -- several inputs -----------------------------------------------------------

def test_ff_files_get_their_pid_and_merge_by_time(tmp_path):
    from trace_input import open_trace
    (tmp_path / "trace.200").write_text("     0.500000 getpid() = 200\n     0.600000 close(3) = 0\n")
    (tmp_path / "trace.100").write_text("     0.700000 getpid() = 100\n")
    trace = open_trace([str(tmp_path / "trace.200"), str(tmp_path / "trace.100")],
                       datetime.date(2026, 11, 26))
    midnight = datetime.datetime(2026, 11, 26).timestamp()  # local time, as strace's
    assert [line.split() for block in trace.blocks() for line in block.split("\n")] == [
        ["200", "%.6f" % (midnight + 0.5), "getpid()", "=", "200"],
        ["100", "%.6f" % (midnight + 0.7), "getpid()", "=", "100"],
        ["200", "%.6f" % (midnight + 1.1), "close(3)", "=", "0"],
    ]


def test_ff_files_merged_by_relative_times_say_it_is_a_guess(tmp_path):
    """-ff with -r: each file's times count from its own start, so the
    merge is a guess, and the summary says so (it said nothing, while
    connections came out open before their first line)."""
    (tmp_path / "trace.200").write_text("     0.500000 getpid() = 200\n")
    (tmp_path / "trace.100").write_text("     0.700000 getpid() = 100\n")
    files = [str(tmp_path / "trace.200"), str(tmp_path / "trace.100")]
    note = (b"the files' -r times count from each file's own start: they were merged as if "
            b"all began together, a guess; record with -ttt")
    assert note in support.convert(None, tmp_path / "out.pcap", "-r", *files).stderr
    assert note not in support.convert(None, tmp_path / "one.pcap", "-r", files[0]).stderr


def test_ff_files_merge_by_when_each_call_ended(tmp_path):
    """A blocking recvfrom starts before the sendmsg that feeds it (a real
    logger -> syslog receiver pair, strace -ff): merged by when each call
    ended, as strace -f prints them, the sender's line comes first and the
    datagram shows the sender's address and pid, not an unnamed sender."""
    path = support.strace_quote(b"/tmp/log.sock", "xx")
    (tmp_path / "trace.100").write_text(
        '1795694060.095338 recvfrom(3<UNIX:[843091,"%s"]>, "\\x68\\x69", 65536, 0, '
        '0x7ffe0f27f110, [110 => 0]) = 2 <0.081380>\n' % path)
    (tmp_path / "trace.200").write_text(
        '1795694060.175972 connect(3<UNIX:[842453]>, {sa_family=AF_UNIX, sun_path="%s"}, 110) '
        '= 0 <0.000035>\n'
        '1795694060.176556 sendmsg(3<UNIX:[842453->843091]>, {msg_name=NULL, msg_namelen=0, '
        'msg_iov=[{iov_base="\\x68\\x69", iov_len=2}], msg_iovlen=1, msg_controllen=0, '
        'msg_flags=0}, MSG_NOSIGNAL) = 2 <0.000030>\n' % path)
    pcap = tmp_path / "out.pcap"
    support.convert(None, pcap, "-q", "--capture-unix-socket", "-r",
                    str(tmp_path / "trace.100"), str(tmp_path / "trace.200"))
    [(_time, frame)] = support.pcap_records(pcap.read_bytes())
    # The sender's pid in the source MAC (README), its own client address.
    assert frame[6:12] == bytes.fromhex("000000000200")
    assert frame[-2:] == b"hi"


def test_merge_takes_a_resumed_line_time_as_its_end(tmp_path):
    """A resumed half's time is when the call ended; its -T duration counts
    from the first half.  Adding the two put a real sshd's resumed read
    0.04 s late, and the client's file merged out of order around it."""
    from trace_input import open_trace
    import datetime
    (tmp_path / "server.txt").write_text(
        "10 1795694061.000000 read(3, <unfinished ...>\n"
        "11 1795694061.100000 getpid() = 11 <0.000005>\n"
        '10 1795694061.500000 <... read resumed>"\\x68\\x69", 2) = 2 <0.500000>\n'
        "11 1795694061.600000 close(4) = 0 <0.000010>\n")
    (tmp_path / "client.txt").write_text("20 1795694061.550000 getpid() = 20 <0.000005>\n")
    trace = open_trace([str(tmp_path / "server.txt"), str(tmp_path / "client.txt")],
                       datetime.date(2026, 11, 26))
    lines = [line for block in trace.blocks() for line in block.split("\n")]
    assert [line.split()[1][-8:] for line in lines] == [
        "1.000000", "1.100000", "1.500000", "1.550000", "1.600000"]


def test_input_before_output_still_works(tmp_path, reference):
    import subprocess
    import sys
    pcap = tmp_path / "out.pcap"
    subprocess.run([sys.executable, str(support.CONVERTER), "-q", "-r", str(DIALECTS / "xx.strace"),
                    str(pcap)], check=True, timeout=60)
    assert support.tcp_streams(pcap) == reference[0]


def test_socketpair_without_annotations():
    parser = StraceParser()
    assert parser.parse("7 1.0 socketpair(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0, [3, 4]) = 0") == []
    [event] = parser.parse('7 1.1 write(4, "\\x70\\x61\\x69\\x72", 4) = 4')
    assert (event["protocol"], event["fd"], event["payload"]) == ("UNIX-STREAM", 4, b"pair")


# -- hex dumps (-e read=, -e write=) ----------------------------------------

def hex_dump(data):
    """strace's hex dump lines of ``data`` (`` | 00000  47 45 ...  GE... |``)."""
    lines = []
    for offset in range(0, len(data), 16):
        row = data[offset:offset + 16]
        hexes = " ".join("%02x" % byte for byte in row[:8])
        if len(row) > 8:
            hexes += "  " + " ".join("%02x" % byte for byte in row[8:])
        text = "".join(chr(byte) if 32 <= byte < 127 else "." for byte in row)
        lines.append(" | %05x  %-49s  %-16s |" % (offset, hexes, text))
    return lines


def test_hex_dumps_give_the_bytes_s_cut(tmp_path):
    """-e read=/-e write= print every byte moved as hex dump lines after the
    call, whatever -s: a payload -s cut takes its bytes from them (a
    sweep's 50 153-byte POST recorded with -s 16: 16 bytes in the pcap),
    also an iovec call's (a dump per piece), also across the parser's
    blocks.  Another call's dump, or none, leaves a cut payload cut."""
    socket = "5<TCP:[127.0.0.1:40000->127.0.0.1:8080]>"
    body = bytes(range(256)) * 4
    first, second = body[:600], body[600:]
    lines = (['7 1795659000.000100 sendto(%s, "%s"..., %d, 0, NULL, 0) = %d <0.000010>'
              % (socket, "".join("\\x%02x" % byte for byte in body[:16]), len(body), len(body))]
             + hex_dump(body)
             + ['7 1795659000.000200 writev(%s, [{iov_base="%s"..., iov_len=600}, '
                '{iov_base="%s"..., iov_len=%d}], 2) = %d <0.000010>'
                % (socket, "\\x00" * 16, "\\x58" * 16, len(second), len(body)),
                ' * 600 bytes in buffer 0'] + hex_dump(first)
             + [' * %d bytes in buffer 1' % len(second)] + hex_dump(second)
             + ['7 1795659000.000300 recvfrom(%s, "\\x61\\x62"..., 8, 0, NULL, NULL) = 8 '
                '<0.000010>' % socket,
                '7 1795659000.000400 write(1</dev/pts/0>, "\\x78", 1) = 1 <0.000010>']
             + hex_dump(b"x"))
    parser = StraceParser()
    parser.parse('7 1795659000.000000 close(3<TCP:[1]>) = 0 <0.000010>')  # the sieve's turn
    cut_at = 30  # two blocks, the sendto's dump in both
    events = []
    for block in ("\n".join(lines[:cut_at]), "\n".join(lines[cut_at:])):
        for line in parser.lines_to_parse(block):
            events += parser.parse(line)
    events += [event if type(event) is dict else unpack_event(event)
               for event in parser.held_events()]
    assert [(event["syscall"], event["payload"], event["length"]) for event in events] == [
        ("sendto", body, len(body)), ("writev", body, len(body)),
        ("recvfrom", b"ab", 8)]
    assert parser.payloads_from_dumps == 2 and parser.truncated_payloads == 1
    trace = tmp_path / "dumps.strace"
    trace.write_text("\n".join(lines) + "\n")
    summary = support.convert(trace, tmp_path / "dumps.pcap").stderr.decode().splitlines()
    assert "  2 payloads cut by strace's -s were taken whole from their hex dumps (-e read=, " \
           "-e write=)" in summary


def test_a_datagram_longer_than_its_buffer_takes_nothing_from_its_dump():
    """recvfrom(MSG_TRUNC) returns the datagram's whole length, and strace
    dumps that many bytes, past the 16 the buffer held (a sweep's payloads
    had Python heap bytes from byte 17 on): the printed bytes stay, the
    rest is declared, counted as longer than the buffer, not as cut by -s."""
    socket = "3<UDP:[127.0.0.1:47050]>"
    data = b"dgram 002 xxxxxx" + bytes(34)
    lines = ['7 1795659000.000100 recvfrom(%s, "%s"..., 16, MSG_TRUNC, {sa_family=AF_INET, '
             'sin_port=htons(45014), sin_addr=inet_addr("127.0.0.1")}, [16]) = 50 <0.000010>'
             % (socket, "".join("\\x%02x" % byte for byte in data[:8]))] + hex_dump(data)
    for common in (True, False):
        parser = StraceParser()
        if not common:
            parser._common_data_line = lambda line: None
        events = [event for line in lines for event in parser.parse(line)] + [
            event if type(event) is dict else unpack_event(event)
            for event in parser.held_events()]
        assert [(event["payload"], event["length"]) for event in events] == [(data[:8], 50)]
        assert (parser.payloads_from_dumps, parser.truncated_payloads,
                parser.datagrams_longer_than_read) == (0, 0, 1)



def test_compressed_ff_files_keep_their_pids(tmp_path):
    """-ff files compressed one by one (trace.PID.gz) are named by the pid
    as plain ones: the same pcapng, every packet's pid in its MAC and its
    comment (before: pid 0 for all, and fd sessions shared among them)."""
    files = sorted((DIALECTS / "ff").glob("trace.*"))
    packed = []
    for path in files:
        packed.append(tmp_path / (path.name + ".gz"))
        with gzip.open(packed[-1], "wb") as archive:
            archive.write(path.read_bytes())
    outputs = []
    for name, inputs in (("plain", files), ("packed", packed)):
        outputs.append(tmp_path / (name + ".pcapng"))
        support.convert(None, outputs[-1], "-q", "-r", *map(str, inputs))
    assert outputs[0].read_bytes() == outputs[1].read_bytes()
    assert b"pid=" + files[0].name.split(".")[1].encode() in outputs[1].read_bytes()


@pytest.mark.parametrize("args, protocol", [
    ("AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_TCP", "TCP"),
    ("0x2, 0x1|0x80800, 0x6", "TCP"),  # -X raw
    ("0xa, 0x2, 0", "UDPv6"),
    ("0x1, 0x1|0x80000, 0", "UNIX-STREAM"),
    ("0x1 /* AF_UNIX */, 0x1 /* SOCK_STREAM */|0x80800 /* SOCK_CLOEXEC|SOCK_NONBLOCK */, 0",
     "UNIX-STREAM"),  # -X verbose, recorded
    ("0x10, 0x3, 0", None),  # netlink
    ("0x2, 0x3, 0x1", None),  # a raw ICMP socket
])
def test_socket_arguments_in_every_x_style(args, protocol):
    """socket()'s family and type, named, as -X raw's numbers (without
    -yy the socket table learns sockets only from them), or -X verbose's
    numbers with their names."""
    from socket_table import socket_protocol
    assert socket_protocol(args) == protocol


@pytest.mark.parametrize("annotation", ["3<socket:[4194153]>", "3"], ids=["-y", "plain"])
def test_an_accept_on_a_listener_opened_before_the_trace_makes_a_connection(tmp_path,
                                                                          annotation):
    """strace -p on a Python server, recorded with -y or without (a
    helper's, also RabbitMQ's: 0 packets, where tcpdump had 2 connections,
    and the summary blamed the recording): its listener's socket() came
    before the trace.  The accept tells a TCP connection from the peer's
    address, getsockname its own: one connection, its bytes both ways,
    taken as open from its first read (no made-up ports)."""
    accepted = "4<socket:[4194342]>" if annotation != "3" else "4"
    trace = tmp_path / "attached.strace"
    trace.write_text("\n".join("20831 1795796529.%06d %s" % (time, line) for time, line in [
        (100, "accept4(%s, {sa_family=AF_INET, sin_port=htons(35878), sin_addr=inet_addr("
              '"127.0.0.1")}, [16], SOCK_CLOEXEC) = %s <0.960115>' % (annotation, accepted)),
        (200, "getsockname(%s, {sa_family=AF_INET, sin_port=htons(22671), sin_addr=inet_addr("
              '"127.0.0.1")}, [128 => 16]) = 0 <0.000008>' % accepted),
        (300, 'recvfrom(%s, "hello world", 1000, 0, NULL, NULL) = 11 <0.000010>' % accepted),
        (400, 'sendto(%s, "HELLO WORLD", 11, 0, NULL, 0) = 11 <0.000051>' % accepted),
        (500, "close(%s) = 0 <0.000036>" % accepted)]) + "\n")
    pcap = tmp_path / "out.pcap"
    summary = support.convert(trace, pcap).stderr.decode()
    assert support.tcp_streams(pcap) == {
        ("127.0.0.1", 35878, "127.0.0.1", 22671): b"hello world",
        ("127.0.0.1", 22671, "127.0.0.1", 35878): b"HELLO WORLD"}
    assert "1 TCP connection was open before its first line" in summary
    # The headline's nouns agree with their counts.
    assert summary.startswith("py-strace2pcap: 5 lines, 3 socket events, 4 packets, "
                              "1 TCP connection in "), summary


def test_a_compressed_trace_cut_before_its_socket_lines_gives_no_recording_advice(tmp_path):
    """Cut before its first socket line (helper B2): the summary said
    "no socket syscall in the trace: record with -f ..." though the trace
    was recorded so; the damage line says why."""
    packed = gzip.compress((support.REPO / "example" / "curl-http.strace").read_bytes())
    cut = tmp_path / "cut.strace.gz"
    cut.write_bytes(packed[:len(packed) // 4])
    report = support.convert(cut, tmp_path / "cut.pcap").stderr.decode()
    assert " 0 socket events," in report and "ends early" in report
    assert "record with" not in report, report

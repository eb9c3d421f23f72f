"""Hostile input: garbage, broken encodings, huge and cut lines never break
the converter; --strict and -v; property tests of the parser.

Each conversion runs as its own process so that its time and peak memory
(``os.wait4``'s rusage, see RSS_PROBE) are its own.
"""

import random
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import support
from strace_parser import StraceParser

XX_TRACE = support.FIXTURES / "dialects" / "xx.strace"
SOCKET_LINE = ('1 1700000000.000001 sendto(3<TCP:[127.0.0.1:20901->127.0.0.1:20900]>, '
               '"%s", %d, 0, NULL, 0) = %d <0.000010>')


# Runs its arguments and prints their peak RSS. The converter must be the
# child of a small process: a child forked from pytest itself starts its
# peak RSS count at pytest's (hundreds of MB once hypothesis has built its
# Unicode tables), even after exec.
RSS_PROBE = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:])
_pid, status, usage = os.wait4(child.pid, 0)
sys.stdout.write("%d" % usage.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_converter(trace, pcap, *flags):
    """(exit status, stderr text, seconds, peak RSS in MB) of one conversion."""
    started = time.monotonic()
    probe = subprocess.run([sys.executable, "-c", RSS_PROBE, sys.executable,
                            str(support.CONVERTER), str(pcap), *flags, "-r", str(trace)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    return (probe.returncode, probe.stderr.decode(errors="replace"),
            time.monotonic() - started, int(probe.stdout) / 1024)


def assert_valid_pcap(pcap):
    """tshark reads the whole file without complaint."""
    support.tshark("-r", str(pcap))


def test_binary_garbage(tmp_path):
    trace = tmp_path / "garbage.bin"
    trace.write_bytes(random.Random(7).randbytes(8 << 20))
    status, stderr, seconds, megabytes = run_converter(trace, tmp_path / "out.pcap")
    assert status == 0, stderr
    assert "0 packets" in stderr and "unparseable" in stderr
    assert "most lines are not strace output" in stderr
    assert_valid_pcap(tmp_path / "out.pcap")
    assert seconds < 30 and megabytes < 300, (seconds, megabytes)


@pytest.mark.parametrize("text, hint", [
    ("", "the trace is empty"),
    ("1 1700000000.000001 openat(AT_FDCWD, \"/etc/hosts\", O_RDONLY) = 3 <0.000010>\n"
     "1 1700000000.000002 close(3) = 0 <0.000010>\n", "no socket syscall in the trace"),
    # strace -c's table, the file strace -o wrote (before: "not strace output")
    ("% time     seconds  usecs/call     calls    errors syscall\n"
     "------ ----------- ----------- --------- --------- ----------------\n"
     " 26.11    0.000701           4       152           mmap\n"
     "  5.96    0.000160          53         3         3 connect\n"
     "------ ----------- ----------- --------- --------- ----------------\n"
     "100.00    0.002685           4       598        26 total\n",
     "this is the table of counts of strace -c"),
])
def test_a_trace_without_socket_events_says_why(tmp_path, text, hint):
    trace = tmp_path / "trace.strace"
    trace.write_text(text)
    result = support.convert(trace, tmp_path / "out.pcap")
    assert result.stderr.decode().splitlines()[-1].strip().startswith(hint)


def test_no_packets_from_events_not_captured_says_so(tmp_path):
    """--no-capture-net on a TCP trace: its events are counted as not
    converted, each kind with what converts it (helper N: "of a kind not
    captured" said neither), and no hint blames the trace's failed calls
    (it did).  Its unix sockets' (nscd's tries, curl's wakeup socketpair)
    connect nothing and carry no byte: said so, not "add
    --capture-unix-socket" (helper Z: it gave nothing)."""
    result = support.convert(support.REPO / "example" / "curl-http.strace",
                             tmp_path / "out.pcap", "--no-capture-net")
    report = result.stderr.decode()
    assert "  5 TCP/UDP socket events not converted (--no-capture-net)" in report
    assert ("  6 unix socket events not converted (none connected or moved a byte)"
            in report)
    assert "no packets" not in report


def test_invalid_utf8_nul_and_crlf_around_real_lines(tmp_path):
    """CRLF line ends, NULs and invalid UTF-8 between the real lines of a
    trace: the real lines convert exactly as without them."""
    lines = XX_TRACE.read_bytes().split(b"\n")
    noisy = b"".join(line + b"\r\n" + b"\xff\xfe\x00\xc3(junk\x00\r\n" for line in lines)
    (tmp_path / "noisy.strace").write_bytes(noisy)
    status, stderr, _, _ = run_converter(tmp_path / "noisy.strace", tmp_path / "noisy.pcap")
    assert status == 0, stderr
    status, stderr, _, _ = run_converter(XX_TRACE, tmp_path / "clean.pcap")
    assert support.tcp_streams(tmp_path / "noisy.pcap") == support.tcp_streams(
        tmp_path / "clean.pcap")
    assert support.udp_datagrams(tmp_path / "noisy.pcap") == support.udp_datagrams(
        tmp_path / "clean.pcap")


def test_last_line_cut_in_a_hex_escape(tmp_path):
    text = XX_TRACE.read_text("latin-1")
    cut_at = text.rindex('sendto(5<TCP:[127.0.0.1:20200->127.0.0.1:20201]>, "\\x0a\\x7f\\x6')
    trace = tmp_path / "cut.strace"
    trace.write_text(text[:cut_at + 70], "latin-1")
    status, stderr, _, _ = run_converter(trace, tmp_path / "cut.pcap", "-v")
    assert status == 0, stderr
    assert "socket line without its return value" in stderr
    assert "line %d (" % (text[:cut_at].count("\n") + 1) in stderr  # -v names the line
    assert_valid_pcap(tmp_path / "cut.pcap")
    status, stderr, _, _ = run_converter(trace, tmp_path / "strict.pcap", "--strict", "-q")
    assert status == 1
    status, _, _, _ = run_converter(XX_TRACE, tmp_path / "whole.pcap", "--strict", "-q")
    assert status == 0


@pytest.mark.parametrize("text", [b"", bytes(range(256)) * 20,
                                  b"% time     seconds  usecs/call     calls    errors syscall\n"
                                  b"------ ----------- ----------- --------- --------- ------\n"
                                  b" 35.00    0.000070          70         1           connect\n"],
                         ids=["empty", "binary", "strace -c"])
def test_strict_fails_on_an_input_that_is_no_trace(tmp_path, text):
    """An empty file, random bytes, strace -c's table: the summary says
    what it is, and --strict exits 1 (helper N: 0, an empty pcap, for
    all of them)."""
    trace = tmp_path / "input"
    trace.write_bytes(text)
    status, stderr, _, _ = run_converter(trace, tmp_path / "strict.pcap", "--strict")
    assert status == 1, stderr
    assert ("the trace is empty" in stderr or "not a trace" in stderr
            or "most lines are not strace output" in stderr), stderr


def test_fifty_megabyte_line(tmp_path):
    """A 12.5 MB sendto printed with -xx is a 50 MB line: its bytes arrive whole."""
    size = 12_500_000
    trace = tmp_path / "big.strace"
    with open(trace, "w") as out:
        out.write(SOCKET_LINE % ("\\x68\\x69", 2, 2) + "\n")
        out.write(SOCKET_LINE % ("\\x61" * size, size, size) + "\n")
    status, stderr, seconds, megabytes = run_converter(trace, tmp_path / "big.pcap")
    assert status == 0, stderr
    [stream] = support.tcp_streams(tmp_path / "big.pcap").values()
    assert stream == b"hi" + b"a" * size
    assert seconds < 30 and megabytes < 600, (seconds, megabytes)


def test_a_million_garbage_lines(tmp_path):
    generator = random.Random(11)
    alphabet = 'abcrw(=")\\x<>[]:0123 '
    block = "".join("%d %s\n" % (number, "".join(generator.choices(alphabet, k=24)))
                    for number in range(1000))
    trace = tmp_path / "million.strace"
    trace.write_text(block * 1000)
    status, stderr, seconds, megabytes = run_converter(trace, tmp_path / "million.pcap")
    assert status == 0, stderr
    assert "1000000 lines" in stderr
    assert_valid_pcap(tmp_path / "million.pcap")
    assert seconds < 60 and megabytes < 300, (seconds, megabytes)


# -- properties ---------------------------------------------------------------

@pytest.mark.parametrize("payload, style, printed", [
    (b"\x1b[0m\x7f\n", "default", "\\33[0m\\177\\n"),
    (b"\x001", "default", "\\0001"),
    (b'a"b\\', "x", 'a\\"b\\\\'),
    (b"a\x00", "x", "\\x61\\x00"),
])
def test_strace_quote_matches_recorded_strace(payload, style, printed):
    assert support.strace_quote(payload, style) == printed


def test_strace_quote_matches_the_recordings():
    """The escaper prints the workload's payload as strace 6.1 did."""
    from_fixture = {}
    for style, name in (("xx", "xx"), ("x", "x"), ("default", "escapes")):
        text = (support.FIXTURES / "dialects" / (name + ".strace")).read_text("latin-1")
        line = next(line for line in text.splitlines() if "sendto(4<TCP:[127.0.0.1" in line)
        from_fixture[style] = line.split(', "', 1)[1].rsplit('", 289', 1)[0]
    payload = bytes(range(256)) + b'GET / HTTP/1.1\r\n\t"quoted\\" \x1b[0m\x7f\n'
    for style, printed in from_fixture.items():
        assert support.strace_quote(payload, style) == printed


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=st.binary(max_size=300), style=st.sampled_from(["xx", "x", "default"]),
       cut=st.integers(min_value=0, max_value=300))
def test_payload_round_trips_in_every_escape_style(payload, style, cut):
    length = len(payload)
    shown = payload[:cut]                          # -s cut: the real length stays
    line = SOCKET_LINE % (support.strace_quote(shown, style), length, length)
    if cut < length:
        line = line.replace('", %d' % length, '"..., %d' % length, 1)
    parser = StraceParser()
    [event] = parser.parse(line) + parser.held_events()  # a cut one waits for a hex dump
    assert event["payload"] == shown
    assert event["length"] == length
    assert parser.truncated_payloads == (1 if cut < length else 0)


REAL_LINES = [line for line in XX_TRACE.read_text("latin-1").splitlines() if "TCP" in line]


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=400))
def test_arbitrary_text_never_raises(text):
    parser = StraceParser()
    for line in text.split("\n"):
        parser.parse(line)
    parser.finish()


# A mangled escape makes codecs.escape_decode warn (DeprecationWarning) before
# the parser falls back and rejects the string: expected here.
@pytest.mark.filterwarnings("ignore:invalid escape sequence:DeprecationWarning")
@settings(max_examples=400, deadline=None)
@given(line=st.sampled_from(REAL_LINES), start=st.integers(0, 2000), stop=st.integers(0, 2000),
       insert=st.text(max_size=20))
def test_mangled_real_lines_never_raise(line, start, stop, insert):
    parser = StraceParser()
    parser.parse(line[:start] + insert + line[stop:])
    parser.parse(line[:stop])
    parser.finish()


@pytest.mark.parametrize("cut", ["sendto(5<TCPv6:[", 'sendto(5<TCPv6:[[::1]:20210->[::1]:20211]>, "\\x0a\\x7',
                                 "sendto(5<TCPv6:[[::1]:20210->[::1]:20211]>, "])
def test_socket_line_cut_anywhere_is_lost_data(cut):
    parser = StraceParser()
    assert parser.parse("29835 1795660411.702365 " + cut) == []
    assert parser.skipped["unparseable: socket line without its return value"] == 1


def test_a_mangled_escape_is_rejected_in_linear_time():
    # Two-digit octal escapes and an invalid one: a pattern that could read
    # "\20" as "\2" + "0" tried 2**24 ways before giving up (4 s here).
    line = SOCKET_LINE % ("\\20" * 24 + "\\8", 25, 25)
    parser = StraceParser()
    started = time.perf_counter()
    assert parser.parse(line) == []
    assert time.perf_counter() - started < 1
    assert parser.skipped["unparseable: invalid escape in string"] == 1


def test_a_return_value_with_a_leading_zero_is_read_as_decimal():
    # "= 016" cut to "= 01" once raised ValueError (int(..., 0) refuses "01").
    [event] = StraceParser().parse(
        '1 1700000000.000001 close(3<TCP:[127.0.0.1:20901->127.0.0.1:20900]>) = 01')
    assert (event["syscall"], event["result"]) == ("close", 1)


def test_datagrams_longer_than_their_read_are_not_said_cut_by_s(tmp_path):
    """recv(MSG_TRUNC) returns a datagram's whole length though the buffer
    held less, and recvmsg says MSG_TRUNC in msg_flags: strace printed all
    the bytes read, so the summary counts these apart from -s's cuts (a
    sweep's summary told to record with -s 1000 for them)."""
    source = 'sin_port=htons(60192), sin_addr=inet_addr("127.0.0.1")'
    trace = tmp_path / "trunc.strace"
    trace.write_text("\n".join([
        '7 1795659000.000100 recvfrom(3<UDP:[127.0.0.1:19007]>, "\\x42\\x42\\x42", 3, '
        'MSG_TRUNC, {sa_family=AF_INET, %s}, [16]) = 1000 <0.000021>' % source,
        '7 1795659000.000200 recvmsg(3<UDP:[127.0.0.1:19007]>, {msg_name={sa_family=AF_INET, '
        '%s}, msg_namelen=16, msg_iov=[{iov_base="\\x41\\x41", iov_len=2}], msg_iovlen=1, '
        'msg_controllen=0, msg_flags=MSG_TRUNC}, MSG_TRUNC) = 1000 <0.000020>' % source,
        '7 1795659000.000300 recvfrom(3<UDP:[127.0.0.1:19007]>, "\\x43\\x43"..., 65536, 0, '
        '{sa_family=AF_INET, %s}, [16]) = 1000 <0.000021>' % source,
    ]) + "\n")
    pcap = tmp_path / "out.pcap"
    lines = support.convert(trace, pcap).stderr.decode().splitlines()
    assert "  2 datagrams were longer than the buffer that read them (MSG_TRUNC): their " \
           "packets declare the whole length" in lines
    assert "  1 payload cut by strace's -s (it would have been whole with -s 1000)" in lines
    assert ("  the packets lack 2993 bytes of the lengths they declare (Wireshark: \"Packet "
            "size limited during capture\")") in lines  # 997 + 998 + 998
    assert [len(frame) for _time, frame in support.pcap_records(pcap.read_bytes())] == [
        14 + 4 + 20 + 8 + 3, 14 + 4 + 20 + 8 + 2, 14 + 4 + 20 + 8 + 2]


def test_a_write_cut_by_s_that_its_reader_shows_whole_lacks_nothing(tmp_path):
    """A write -s cut whose traced reader's read printed all of it: the
    pcap holds every byte, and the summary says so instead of asking for a
    larger -s (a helper's node and JDK traces: 1 MB writes, -s 655350)."""
    trace = tmp_path / "cut.strace"
    client, server = "127.0.0.1:40000", "127.0.0.1:8080"
    trace.write_text("\n".join([
        '7 1795659000.000010 connect(3<TCP:[1001]>, {sa_family=AF_INET, sin_port=htons(8080), '
        'sin_addr=inet_addr("127.0.0.1")}, 16) = 0 <0.000030>',
        '8 1795659000.000050 accept4(5<TCP:[127.0.0.1:8080]>, {sa_family=AF_INET, '
        'sin_port=htons(40000), sin_addr=inet_addr("127.0.0.1")}, [16], SOCK_CLOEXEC) = '
        '4<TCP:[%s->%s]> <0.000010>' % (server, client),
        '7 1795659000.000100 write(3<TCP:[%s->%s]>, "\\x41\\x42"..., 6) = 6 <0.000021>'
        % (client, server),
        '8 1795659000.000200 read(4<TCP:[%s->%s]>, "\\x41\\x42\\x43\\x44\\x45\\x46", 100) = 6 '
        '<0.000020>' % (server, client),
    ]) + "\n")
    pcap = tmp_path / "out.pcap"
    lines = support.convert(trace, pcap).stderr.decode().splitlines()
    assert ("  1 payload cut by strace's -s: its traced reader's reads hold all its bytes"
            in lines)
    assert not [line for line in lines if "lack" in line or "would have been whole" in line]
    assert support.tcp_streams(pcap) == {("127.0.0.1", 40000, "127.0.0.1", 8080): b"ABCDEF"}


def test_a_connect_in_progress_closed_unanswered_gives_its_syn_alone(tmp_path):
    """A socket shows its ports from its SYN on: a non-blocking connect to a
    peer off loopback closed with nothing between (the program's own
    time-out) gives its SYN alone, from the port the close shows; answered
    (getsockopt(SO_ERROR) = [0]) it gives the handshake and the FINs; told
    timed out by getsockopt, its SYN from the port shown.  The bench's
    noise is getsockopt [0] lines on open connections: those stay out."""
    from scapy.layers.inet import TCP
    connect = ('7 1795659000.%06d connect(%d<TCP:[%d]>, {sa_family=AF_INET, '
               'sin_port=htons(80), sin_addr=inet_addr("10.1.2.3")}, 16) = -1 EINPROGRESS '
               '(Operation now in progress) <0.000050>')
    socket = '%d<TCP:[10.0.0.5:%d->10.1.2.3:80]>'
    trace = tmp_path / "unanswered.strace"
    trace.write_text("\n".join([
        connect % (100, 3, 100),
        '7 1795659001.000000 close(%s) = 0 <0.000010>' % (socket % (3, 40001)),
        connect % (200, 4, 200),
        '7 1795659000.000300 getsockopt(%s, SOL_SOCKET, SO_ERROR, [0], [4]) = 0 <0.000010>'
        % (socket % (4, 40002)),
        '7 1795659000.000400 close(%s) = 0 <0.000010>' % (socket % (4, 40002)),
        connect % (500, 5, 500),
        '7 1795659003.000000 getsockopt(%s, SOL_SOCKET, SO_ERROR, [ETIMEDOUT], [4]) = 0 '
        '<0.000010>' % (socket % (5, 40003)),
        '7 1795659003.000100 close(%s) = 0 <0.000010>' % (socket % (5, 40003)),
    ]) + "\n")
    pcap = tmp_path / "out.pcap"
    lines = support.convert(trace, pcap).stderr.decode().splitlines()
    assert [(round(float(packet.time), 6), packet[TCP].sport, str(packet[TCP].flags))
            for packet in support.read_packets(pcap)] == [
        (1795659000.0001, 40001, "S"),
        (1795659000.0002, 40002, "S"), (1795659000.00025, 80, "SA"),
        (1795659000.00025, 40002, "A"), (1795659000.0004, 40002, "FA"),
        (1795659000.0004, 80, "A"),
        (1795659000.0005, 40003, "S")]
    assert "  1 connect() call in progress was closed with no sign of an answer (the " \
           "program gave up): its SYN alone" in lines
    assert "  1 connect() call timed out: a SYN, unanswered (not the kernel's retries)" \
        in lines
    assert not any("made-up port" in line for line in lines)
    parser = StraceParser()
    parser.parse('7 1795659004.000000 close(%s) = 0 <0.000010>' % (socket % (6, 40004)))
    assert parser.rejects_unannotated  # the sieve's turn
    noise = ('7 1795659004.000100 getsockopt(%s, SOL_SOCKET, SO_ERROR, [0], [4]) = 0 <0.000010>'
             % (socket % (7, 40005)))
    assert list(parser.lines_to_parse(noise)) == []
    assert len(list(parser.lines_to_parse(connect % (200, 7, 200) + "\n" + noise))) == 2


def test_a_trace_of_failed_calls_says_so(tmp_path):
    """strace -Z prints only the calls that failed: a non-blocking connect
    (EINPROGRESS: an event, but no port ever shows), reads that would
    block, a write to a closed peer.  No packets, and the summary says
    why instead of nothing."""
    socket_fd = '5<TCP:[127.0.0.1:40000->127.0.0.1:18080]>'
    trace = tmp_path / "failed-only.strace"
    trace.write_text("\n".join([
        '7 1795659000.000100 connect(5<TCP:[100]>, {sa_family=AF_INET, sin_port=htons(18080), '
        'sin_addr=inet_addr("127.0.0.1")}, 16) = -1 EINPROGRESS (Operation now in progress) '
        '<0.000050>',
        '7 1795659000.000200 read(%s, 0x7ffd, 4096) = -1 EAGAIN (Resource temporarily '
        'unavailable) <0.000010>' % socket_fd,
        '7 1795659000.000300 write(%s, "\\x61", 1) = -1 EPIPE (Broken pipe) <0.000010>'
        % socket_fd,
    ]) + "\n")
    pcap = tmp_path / "out.pcap"
    lines = support.convert(trace, pcap).stderr.decode().splitlines()
    assert "  no packets: the socket calls in the trace failed (recorded with -Z, " \
           "--failed-only?)" in lines
    assert len(support.read_packets(pcap)) == 0


def test_tries_of_an_absent_unix_socket_are_no_hint(tmp_path):
    """glibc tries nscd's socket before each lookup (helper Z's apt-get
    update): socket, a connect failing with ENOENT, close.  The summary
    said "5 unix socket events not converted (add --capture-unix-socket)"
    for the closes, and with it, no packets: "recorded with -Z?"."""
    lines = []
    for number in range(5):
        inode = 8014256 + number
        lines += ['9729 1795833639.%06d socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, '
                  '0) = 4<UNIX-STREAM:[%d]> <0.000013>' % (number * 10, inode),
                  '9729 1795833639.%06d connect(4<UNIX-STREAM:[%d]>, {sa_family=AF_UNIX, '
                  'sun_path="/var/run/nscd/socket"}, 110) = -1 ENOENT (No such file or '
                  'directory) <0.000020>' % (number * 10 + 1, inode),
                  '9729 1795833639.%06d close(4<UNIX-STREAM:[%d]>) = 0 <0.000012>'
                  % (number * 10 + 2, inode)]
    trace = tmp_path / "nscd.strace"
    trace.write_text("\n".join(lines) + "\n")
    for flags, said in (([], "  5 unix socket events not converted (none connected or moved "
                             "a byte)"), (["--capture-unix-socket"], None)):
        report = support.convert(trace, tmp_path / "out.pcap", *flags).stderr.decode()
        assert "  skipped 5: failed call" in report.splitlines()
        assert (said in report.splitlines()) if said else "not converted" not in report
        assert "add --capture" not in report and "-Z" not in report, report


def test_failed_connects_are_named_in_the_summary(tmp_path):
    """A refused TCP connect() gives a SYN and a RST from a made-up port
    (strace shows none), a timed-out one its SYN alone; others, unreachable,
    give no packets: the summary says how many and why (a unix connect() to
    a missing path, as curl's to nscd, is not news)."""
    from scapy.layers.inet import TCP
    failed = ('7 1795659000.%06d connect(%d<TCP:[%d]>, {sa_family=AF_INET, '
              'sin_port=htons(9999), sin_addr=inet_addr("127.0.0.1")}, 16) = -1 %s <0.000050>')
    trace = tmp_path / "refused.strace"
    trace.write_text("\n".join([
        failed % (100, 3, 100, "ECONNREFUSED (Connection refused)"),
        '7 1795659000.000200 connect(4<UNIX:[200]>, {sa_family=AF_UNIX, sun_path="/tmp/nope"}, '
        '110) = -1 ENOENT (No such file or directory) <0.000010>',
        failed % (300, 5, 300, "ETIMEDOUT (Connection timed out)"),
        failed % (400, 6, 400, "ETIMEDOUT (Connection timed out)"),
        failed % (500, 7, 500, "ENETUNREACH (Network is unreachable)"),
    ]) + "\n")
    pcap = tmp_path / "out.pcap"
    result = support.convert(trace, pcap)
    lines = result.stderr.decode().splitlines()
    assert "  1 connect() call refused: a SYN and the peer's RST" in lines
    assert "  2 connect() calls timed out: a SYN each, unanswered (not the kernel's retries)" \
        in lines
    assert "  3 of those SYNs from a made-up port, 61000 and up: strace does not show it" \
        in lines
    assert "  1 connect() call failed (ENETUNREACH 1): the pcap shows no packets for it" \
        in lines
    assert [(round(float(packet.time), 6), packet[TCP].sport, str(packet[TCP].flags))
            for packet in support.read_packets(pcap)] == [
        (1795659000.0001, 61000, "S"), (1795659000.0001, 9999, "RA"),
        (1795659000.0003, 61001, "S"), (1795659000.0004, 61002, "S")]
    assert not any("no socket syscall" in line for line in lines)


def test_connects_given_up_interrupted_or_slow_on_loopback(tmp_path):
    """Real clients that gave up on a full accept queue (curl, nc, Go,
    asyncio...: 15 of 15 asked no getsockopt(SO_ERROR) and sent nothing)
    show their SYN alone, on loopback too; so does wget's connect a SIGALRM
    interrupted (= ? ERESTARTSYS: the kernel goes on with it); a blocking
    connect answered after 1.04 s has its SYN-ACK then, not at its start."""
    from scapy.layers.inet import TCP
    head = '7 1795659000.%06d connect(%d<TCP:[%d]>, {sa_family=AF_INET, sin_port=htons(%d), ' \
           'sin_addr=inet_addr("127.0.0.1")}, 16) = '
    trace = tmp_path / "loopback.strace"
    trace.write_text("\n".join([
        head % (100, 3, 100, 47001) + '-1 EINPROGRESS (Operation now in progress) <0.000050>',
        '7 1795659000.600000 poll([{fd=3<TCP:[127.0.0.1:40001->127.0.0.1:47001]>, '
        'events=POLLOUT}], 1, 500) = 0 (Timeout) <0.500100>',
        '7 1795659000.700000 close(3<TCP:[127.0.0.1:40001->127.0.0.1:47001]>) = 0 <0.000010>',
        head % (800000, 4, 200, 47001) + '? ERESTARTSYS (To be restarted if SA_RESTART is set) '
        '<0.996835>',
        '7 1795659001.800000 --- SIGALRM {si_signo=SIGALRM, si_code=SI_KERNEL} ---',
        '7 1795659001.900000 close(4<TCP:[127.0.0.1:40002->127.0.0.1:47001]>) = 0 <0.000010>',
        head % (950000, 5, 300, 47001) + '-1 EINPROGRESS (Operation now in progress) <0.000050>',
        '7 1795659002.000000 shutdown(5<TCP:[127.0.0.1:40003->127.0.0.1:47001]>, SHUT_WR) = 0 '
        '<0.000010>',  # Java, socat: shut down, then closed
        '7 1795659002.000100 close(5<TCP:[127.0.0.1:40003->127.0.0.1:47001]>) = 0 <0.000010>',
    ]) + "\n")
    pcap = tmp_path / "out.pcap"
    lines = support.convert(trace, pcap).stderr.decode().splitlines()
    assert [(round(float(packet.time), 6), packet[TCP].sport, str(packet[TCP].flags))
            for packet in support.read_packets(pcap)] == [
        (1795659000.0001, 40001, "S"), (1795659000.8, 40002, "S"), (1795659000.95, 40003, "S")]
    assert "  3 connect() calls in progress were closed with no sign of an answer (the " \
           "program gave up): their SYN alone" in lines
    trace.write_text("\n".join([
        head % (100, 3, 100, 47060) + '0 <1.041392>',
        '7 1795659001.145000 sendto(3<TCP:[127.0.0.1:40003->127.0.0.1:47060]>, "\\x68", 1, 0, '
        'NULL, 0) = 1 <0.000010>',
    ]) + "\n")
    support.convert(trace, pcap)
    assert [(round(float(packet.time), 6), str(packet[TCP].flags))
            for packet in support.read_packets(pcap)] == [
        (1795659000.0001, "S"), (1795659001.041492, "SA"), (1795659001.041492, "A"),
        (1795659001.145, "PA")]


def test_a_trace_recorded_with_trace_network_is_asked_about(tmp_path):
    """strace -e trace=network shows send*/recv*/sendfile but no read,
    write or close: the bytes those moved are missing (sweep T: nginx's
    response headers, 0 HTTP responses).  The summary asks; a trace with a
    close() on its TCP socket does not get the question, nor one whose
    other syscalls are there (redis-cli sends, then exits without a close;
    a PostgreSQL backend attached to shows a few among many sends)."""
    socket = "3<TCP:[127.0.0.1:40000->127.0.0.1:8080]>"
    lines = ['100 1795659371.000001 sendto(%s, "\\x47\\x45\\x54", 3, 0, NULL, 0) = 3 <0.000010>'
             % socket,
             '100 1795659371.000002 recvfrom(%s, "\\x4f\\x4b", 100, 0, NULL, NULL) = 2 <0.000010>'
             % socket]
    summaries = []
    others = ["100 1795659371.00000%d mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, -1, 0) = "
              "0x7f43d50c0000 <0.000015>" % tenth for tenth in (3, 4, 5)]
    for extra in ([], ["100 1795659371.000003 close(%s) = 0 <0.000010>" % socket], others,
                  # a PostgreSQL backend: 10 sendto/recvfrom pairs, an epoll_wait (the
                  # question came while the other lines were fewer than the socket events)
                  lines * 9 + ["100 1795659371.000009 epoll_wait(5<anon_inode:[eventpoll]>, "
                               "[], 4, 0) = 0 <0.000010>"] * 2):
        trace = tmp_path / "network.strace"
        trace.write_text("\n".join(lines + extra) + "\n")
        summaries.append(support.convert(trace, tmp_path / "out.pcap").stderr.decode())
    question = "no read(), write() or close() on a TCP socket: recorded with -e trace=network?"
    assert question in summaries[0]
    assert all(question not in summary for summary in summaries[1:])


def test_a_server_traced_with_trace_network_is_asked_about_too(tmp_path):
    """Its listen(), getsockname() and getsockopt() lines are %network
    calls, printed under -e trace=%network: not the other syscalls that
    tell a whole trace (nginx: 4 listen lines for 23 socket events, no
    question, its response headers and a 404 missing)."""
    listening = "6784 1795763626.%06d listen(%d<TCP:[127.0.0.1:21081]>, 511) = 0 <0.000019>"
    socket = "7 1795763627.%06d %s(8<TCP:[127.0.0.1:21081->127.0.0.1:40000]>, %s <0.000010>"
    lines = [listening % (micros, fd) for micros, fd in ((1, 4), (2, 5), (3, 4), (4, 5))] + [
        "6784 1795763626.000005 getsockname(4<TCP:[127.0.0.1:21081]>, {sa_family=AF_INET, "
        'sin_port=htons(21081), sin_addr=inet_addr("127.0.0.1")}, [16]) = 0 <0.000010>',
        "6784 1795763626.000006 getsockopt(4<TCP:[127.0.0.1:21081]>, SOL_SOCKET, SO_RCVBUF, "
        "[131072], [4]) = 0 <0.000010>"]
    lines += [socket % (micros, "recvfrom", '"\\x47\\x45\\x54", 1024, 0, NULL, NULL) = 3')
              for micros in range(10, 16)]
    for repeats in (1, 1000):  # 1000: blocks the sieve reads after the first
        trace = tmp_path / "network.strace"
        trace.write_text("\n".join(lines * repeats) + "\n")
        summary = support.convert(trace, tmp_path / "out.pcap").stderr.decode()
        assert "recorded with -e trace=network?" in summary


def test_a_go_server_traced_with_trace_network_is_asked_about(tmp_path):
    """go-trace-network.strace (a helper's Go HTTP server under strace -f
    -e trace=network, strace 6.1): 8 connections of 0 bytes, and 3 lines of
    Go's SIGURG, which trace=network does not filter.  Signals are not the
    other syscalls of a whole trace: the question comes (it did not, and
    the same trace without its SIGURG lines got it).  The suggestion names
    splice, which %network leaves out (haproxy's bodies)."""
    result = support.convert(support.FIXTURES / "inet" / "go-trace-network.strace",
                             tmp_path / "out.pcap")
    summary = result.stderr.decode()
    assert ("no read(), write() or close() on a TCP socket: recorded with -e trace=network? "
            "It leaves them out, and the bytes they move (add "
            "-e trace=%network,read,write,readv,writev,close,splice)") in summary


def test_a_server_whose_netlink_lines_outnumber_its_tcp_ones_is_asked_about(tmp_path):
    """dnsmasq-trace-network.strace (a helper's dnsmasq under -e
    trace=network, strace 6.1): its TCP connections show accept and
    shutdown alone (its forked children read and write), and its netlink
    recvmsg lines, %network calls on no converted socket, were taken for
    the other syscalls of a whole trace: no question, though every byte of
    the 2 connections was missing."""
    result = support.convert(support.FIXTURES / "inet" / "dnsmasq-trace-network.strace",
                             tmp_path / "out.pcap")
    assert "recorded with -e trace=network?" in result.stderr.decode()


def test_a_forking_server_traced_with_trace_network_is_asked_about(tmp_path):
    """gitd-trace-network.strace (a helper's git daemon and 4 clones and
    fetches under -f -e trace=network): 4 connections of 0 bytes, and a
    SIGCHLD line for each of the 38 processes that exited, which are not
    the other syscalls of a whole trace either (no question came)."""
    result = support.convert(support.FIXTURES / "inet" / "gitd-trace-network.strace",
                             tmp_path / "out.pcap")
    assert "recorded with -e trace=network?" in result.stderr.decode()


def test_connects_whose_port_never_shows_are_counted_and_asked_about(tmp_path):
    """A helper's Perl client under -e trace=network: three connect() = 0,
    nothing else on their sockets (its I/O is read/write), then its exit.
    tcpdump: three connections; the pcap can have none (no port shows),
    and the summary said nothing.  Now it counts them and asks about
    trace=network; a connect whose port a later line shows is not counted."""
    connect = ("10465 1795781971.%06d connect(3<TCP:[%d]>, {sa_family=AF_INET, "
               'sin_port=htons(22051), sin_addr=inet_addr("\\x31\\x32\\x37\\x2e\\x30\\x2e'
               '\\x30\\x2e\\x31")}, 16) = 0 <0.000112>')
    lines = [connect % (131863 + 4000 * index, 2340670 + index) for index in range(3)]
    lines.append("10465 1795781971.148000 +++ exited with 0 +++")
    trace = tmp_path / "network.strace"
    trace.write_text("\n".join(lines) + "\n")
    summary = support.convert(trace, tmp_path / "out.pcap").stderr.decode()
    assert "0 packets" in summary
    assert ("  3 connect() calls made connections no later syscall showed the port of"
            in summary), summary
    assert "recorded with -e trace=network?" in summary
    shown = ('10465 1795781971.150000 sendto(3<TCP:[127.0.0.1:50000->127.0.0.1:22051]>, '
             '"\\x68", 1, 0, NULL, 0) = 1 <0.000010>')
    trace.write_text("\n".join(lines[:3] + [shown] + lines[3:]) + "\n")
    summary = support.convert(trace, tmp_path / "out.pcap").stderr.decode()
    assert "  2 connect() calls made connections no later syscall" in summary, summary


def test_data_on_raw_and_ping_sockets_is_counted_by_kind(tmp_path):
    """ping sends and reads ICMP through a RAW socket (a PING one when
    unprivileged): not converted, and the summary says so instead of
    blaming failed calls; found by the sieve among other lines too."""
    icmp = ('%d 1795745079.%06d sendto(3<%s:[2607356]>, "\\x08\\x00\\xcb\\x75", 4, 0, '
            '{sa_family=AF_INET, sin_port=htons(0), sin_addr=inet_addr("127.0.0.1")}, 16) = 4 '
            '<0.000020>')
    raw = [icmp % (29249, 337088, "RAW"), icmp % (29250, 337188, "PING"),
           "29249 1795745079.334453 socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) = -1 EACCES "
           "(Permission denied) <0.000056>"]
    noise = ["29249 1795745079.%06d mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, -1, 0) = "
             "0x7f43d50c0000 <0.000015>" % micros for micros in range(400000, 402000)]
    tcp = ['29249 1795745079.300000 write(5<TCP:[127.0.0.1:40000->127.0.0.1:8080]>, "\\x47", 1)'
           " = 1 <0.000010>"]
    summaries = []
    for lines in (raw, tcp + noise + raw + noise):
        trace = tmp_path / "ping.strace"
        trace.write_text("\n".join(lines) + "\n")
        summaries.append(support.convert(trace, tmp_path / "out.pcap").stderr.decode())
    for summary in summaries:
        assert "skipped 1: RAW socket: not converted" in summary
        assert "skipped 1: PING socket: not converted" in summary
    assert "no packets: the trace's socket data is on sockets of kinds not converted" in (
        summaries[0])
    assert "calls in the trace failed" not in summaries[0]
    assert "no packets" not in summaries[1]


def test_a_go_spare_dial_gets_the_fins_of_the_exit(tmp_path):
    """Go's HTTP client dials a spare connection that never carries a byte:
    one thread connects, another asks getsockopt(SO_ERROR) (the goroutine
    moved), the server accepts it, then the process exits without closing
    it.  The kernel's FINs at the exit come from both ends, in the order
    their threads' exit lines show (the client's was missing: no syscall of
    its side opened the connection, none was its last user), and a spare
    dial closed by the connecting thread has its handshake, not a SYN alone."""
    from scapy.layers.inet import TCP
    client = '%d 1795659000.%06d %s(%d<TCP:[127.0.0.1:%d->127.0.0.1:7101]>'
    connect = ('%d 1795659000.%06d connect(%d<TCP:[%d]>, {sa_family=AF_INET, '
               'sin_port=htons(7101), sin_addr=inet_addr("127.0.0.1")}, 16) = -1 EINPROGRESS '
               '(Operation now in progress) <0.000050>')
    answered = ', SOL_SOCKET, SO_ERROR, [0], [4]) = 0 <0.000010>'
    trace = tmp_path / "go-spare-dial.strace"
    trace.write_text("\n".join([
        connect % (100, 100, 64, 500),
        client % (101, 200, "getsockopt", 64, 38170) + answered,
        client % (101, 300, "read", 64, 38170) + ', 0xc000, 4096) = -1 EAGAIN (Resource '
        'temporarily unavailable) <0.000010>',
        '102 1795659000.400000 accept4(3<TCP:[127.0.0.1:7101]>, {sa_family=AF_INET, '
        'sin_port=htons(38170), sin_addr=inet_addr("127.0.0.1")}, [112 => 16], SOCK_CLOEXEC'
        '|SOCK_NONBLOCK) = 9<TCP:[127.0.0.1:7101->127.0.0.1:38170]> <0.000010>',
        connect % (100, 500000, 65, 600),
        client % (101, 600000, "getsockopt", 65, 38180) + answered,
        client % (100, 700000, "close", 65, 38180) + ') = 0 <0.000010>',
        '100 1795659000.900000 exit_group(0) = ?',
        '100 1795659000.900100 +++ exited with 0 +++',
        '101 1795659000.900200 +++ exited with 0 +++',
        '102 1795659000.900300 +++ exited with 0 +++',
    ]) + "\n")
    pcap = tmp_path / "out.pcap"
    lines = support.convert(trace, pcap, "-v").stderr.decode().splitlines()
    rows = [(packet[TCP].sport, packet[TCP].dport, str(packet[TCP].flags))
            for packet in support.read_packets(pcap)]
    assert [row for row in rows if row[1] == 38170 or row[0] == 38170] == [
        (38170, 7101, "S"), (7101, 38170, "SA"), (38170, 7101, "A"),
        (38170, 7101, "FA"), (7101, 38170, "A"), (7101, 38170, "FA"), (38170, 7101, "A")]
    assert [row for row in rows if 38180 in row[:2]][:3] == [
        (38180, 7101, "S"), (7101, 38180, "SA"), (38180, 7101, "A")]
    assert (38180, 7101, "FA") in rows
    assert not any("no sign of an answer" in line for line in lines)


def test_version_and_an_upper_case_pcapng_name(tmp_path):
    """--version says the version; OUT.PCAPNG is pcapng as out.pcapng is
    (it was written as pcap)."""
    import py_strace2pcap
    result = subprocess.run([sys.executable, str(support.CONVERTER), "--version"],
                            capture_output=True, timeout=60)
    assert result.stdout.decode() == "py-strace2pcap %s\n" % py_strace2pcap.__version__
    pcap = tmp_path / "OUT.PCAPNG"
    support.convert(support.REPO / "example" / "curl-http.strace", pcap, "-q")
    assert pcap.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"  # a pcapng section header


def test_a_shutdown_failing_with_enotconn_met_the_peers_rst(tmp_path):
    """openssl s_server (a helper's, traced alone): the client sends its
    close_notify and FIN; the server's own close_notify meets a closed
    socket, whose kernel answers RST; the server's shutdown(SHUT_WR) then
    fails with ENOTCONN.  tcpdump: the client's RST, no FIN from the
    server; the pcap had the server's FIN and no RST.  After its own FIN
    and the peer's (a JDK client's second shutdownOutput, recorded), the
    socket is done, not reset; on one that shows no peer (a listening
    one) it is only a failed call."""
    served = "4<TCPv6:[[::1]:22013->[::1]:51556]>"
    lines = [
        '27083 1795772370.712068 accept(3<TCPv6:[[::1]:22013]>, NULL, NULL) = %s <0.000010>'
        % served,
        '27083 1795772370.713474 read(%s, "\\x15\\x03\\x03\\x00\\x1a", 64) = 5 <0.000008>' % served,
        '27083 1795772370.713555 write(%s, "\\x15\\x03\\x03\\x00\\x1a", 5) = 5 <0.000010>' % served,
        '27083 1795772370.713624 shutdown(%s, SHUT_WR) = -1 ENOTCONN (Transport endpoint is '
        'not connected) <0.000008>' % served,
        '27083 1795772370.713707 read(%s, "", 64) = 0 <0.000008>' % served,
        '27083 1795772370.713739 close(%s) = 0 <0.000014>' % served,
        '27083 1795772370.713800 shutdown(3<TCPv6:[[::1]:22013]>, SHUT_RDWR) = -1 ENOTCONN '
        '(Transport endpoint is not connected) <0.000008>',
        '10061 1795772371.000000 write(6<TCP:[127.0.0.1:49666->127.0.0.1:27050]>, "\x41", 1) = 1',
        '10061 1795772371.000100 shutdown(6<TCP:[127.0.0.1:49666->127.0.0.1:27050]>, SHUT_WR) = 0',
        '10061 1795772371.000200 read(6<TCP:[127.0.0.1:49666->127.0.0.1:27050]>, "", 64) = 0',
        '10061 1795772371.000300 shutdown(6<TCP:[127.0.0.1:49666->127.0.0.1:27050]>, SHUT_WR) '
        '= -1 ENOTCONN (Transport endpoint is not connected) <0.000013>',
        '10061 1795772371.000400 close(6<TCP:[127.0.0.1:49666->127.0.0.1:27050]>) = 0',
    ]
    trace = tmp_path / "enotconn.strace"
    trace.write_text("\n".join(lines) + "\n")
    pcap = tmp_path / "enotconn.pcap"
    result = support.convert(trace, pcap)
    from scapy.layers.inet import TCP
    ends = [(packet[TCP].sport, str(packet[TCP].flags)) for packet in support.read_packets(pcap)
            if packet[TCP].flags.F or packet[TCP].flags.R]
    assert ends == [(51556, "RA"), (49666, "FA"), (27050, "FA")]
    assert "skipped 1: failed call" in result.stderr.decode()


@pytest.mark.parametrize("annotation", ["UNIX:[555->556]", "UDP:[127.0.0.1:1->127.0.0.1:2]",
                                        "UNIX-STREAM:[555->556]",
                                        "TCP:[127.0.0.1:1->127.0.0.1:2]"])
def test_an_iovec_strace_could_not_read_declares_its_length(annotation):
    # strace prints a pointer for a buffer it cannot read; on a datagram
    # socket such a line raised UnboundLocalError.
    line = ("7 1795659692.100000 sendmsg(3<%s>, {msg_name=NULL, msg_namelen=0, msg_iov=[{"
            "iov_base=0x7f0000001000, iov_len=28}], msg_iovlen=1, msg_controllen=0, "
            "msg_flags=0}, MSG_NOSIGNAL) = 28 <0.000014>" % annotation)
    parser = StraceParser()
    # The first line sets the clock; the second is read the short way.
    events = parser.parse(line) + parser.parse(line)
    events += parser.parse("7 1795659692.200000 close(3<%s>) = 0 <0.000010>" % annotation)
    assert [(event["syscall"], event["length"], event["payload"])
            for event in events if event["syscall"] == "sendmsg"] == [("sendmsg", 28, b"")] * 2

"""Once the trace shows -yy annotations the parser sieves each block of
lines for socket annotations and resumed socket calls, and never splits
out the rest.  The sieve must not change a single event, line count or -v
line number; plain and gzip input (two readers) must agree, CRLF line
ends included."""

import datetime
import gzip

import pytest

import strace_parser
import support
from strace_parser import StraceParser

EXAMPLE = support.REPO / "example" / "curl-http.strace"
DATE = datetime.date(2026, 11, 26)
SIEVE_FIXTURES = sorted(path for path in support.FIXTURES.glob("*/*.strace")
                        if ":[" in path.read_text(encoding="latin-1"))
BROKEN = ('3104  1795659371.610700 sendto(5<TCP:[127.0.0.1:47040->127.0.0.1:18080]>, '
          '"\\x47\\x45\\x54, 3, MSG_NOSIGNAL, NULL, 0) = 3 <0.000020>')


def test_sieved_and_unsieved_conversions_agree(tmp_path):
    lines = EXAMPLE.read_text(encoding="latin-1").splitlines()
    # Noise after the first socket line (fast rejection is on), then a broken
    # socket line whose number -v must report, CRLF line ends included.
    lines[300:300] = ["3104  1795659371.6%05d futex(0x7f, FUTEX_WAKE_PRIVATE, 1) = 0 <0.000002>"
                      % index for index in range(20000)]
    lines.insert(20400, BROKEN)
    text = "\r\n".join(lines) + "\r\n"
    plain = tmp_path / "trace.strace"
    plain.write_text(text, encoding="latin-1")
    packed = tmp_path / "trace.strace.gz"
    packed.write_bytes(gzip.compress(text.encode("latin-1")))

    results = {}
    for source in (plain, packed):
        pcap = tmp_path / (source.name + ".pcap")
        stderr = support.convert(source, pcap, "-v").stderr.decode()
        results[source] = (pcap.read_bytes(), stderr.split(" in ")[0],
                           [line for line in stderr.splitlines() if line.startswith("  ")])
    assert results[plain] == results[packed]
    assert results[plain][1].startswith("py-strace2pcap: %d lines" % len(lines))
    assert any(line.startswith("  line 20401 (unparseable") for line in results[plain][2])


def _events_line_by_line(lines, process_events):
    """Every line through parse(), in one block never sieved (the first
    block of a trace is not; lines_to_parse tells parse() the threads that
    ended alone): what the sieve must not change."""
    parser = StraceParser(date=DATE, process_events=process_events)
    events = [event for line in parser.lines_to_parse("\n".join(lines))
              for event in parser.parse(line)]
    return events, parser.line_number, parser.examples


def _events_sieved(lines, block_size, process_events):
    """The lines in blocks of ``block_size`` through lines_to_parse()."""
    parser = StraceParser(date=DATE, process_events=process_events)
    events = []
    sieved = 0
    for first in range(0, len(lines), block_size):
        block = "\n".join(lines[first:first + block_size])
        sieved += parser.rejects_unannotated
        for line in parser.lines_to_parse(block):
            events += parser.parse(line)
    return events, parser.line_number, parser.examples, sieved


@pytest.mark.parametrize("process_events", [False, True], ids=["pcap", "pcapng"])
@pytest.mark.parametrize("fixture", SIEVE_FIXTURES, ids=lambda path: path.name)
def test_the_sieve_keeps_every_event_of_real_traces(fixture, process_events, monkeypatch):
    # Sieve every block, whatever the length of its lines.
    monkeypatch.setattr(strace_parser, "SIEVE_LONGEST_MEAN_LINE", 10 ** 9)
    lines = fixture.read_text(encoding="latin-1").splitlines()
    # A broken socket line after the first socket lines: -v's line number.
    lines.insert(len(lines) * 2 // 3, BROKEN)
    expected = _events_line_by_line(lines, process_events)
    assert expected[0]
    if process_events and fixture.name == "clients.strace":  # a shell, curl and python
        assert sum(event["protocol"] == "process" for event in expected[0]) > 3
    for block_size in (1, 7, 100000):
        events, line_number, examples, sieved = _events_sieved(lines, block_size, process_events)
        assert (events, line_number, examples) == expected
        if block_size == 7:
            # -r times: every line moves the clock, so every line is parsed.
            assert (sieved > 0) == (fixture.name != "relative.strace")


def test_the_sieve_passes_only_socket_lines_and_their_resumed_halves():
    noise = [
        '7     1795659371.000001 epoll_ctl(3<anon_inode:[eventpoll]>, EPOLL_CTL_ADD, '
        '5<TCP:[127.0.0.1:1->127.0.0.1:2]>, {events=EPOLLIN, data={u32=5, u64=5}}) = 0 <0.000002>',
        '7     1795659371.000002 read(4<anon_inode:[eventfd]>, "\\x01\\x00", 8) = 8 <0.000002>',
        '8     1795659371.000003 <... futex resumed>) = 0 <0.000100>',
        '7     1795659371.000004 openat(AT_FDCWD, "\\x2f\\x65\\x74\\x63", O_RDONLY) = 9</etc> <0.000002>',
        # A call resumed whose first half was no socket's: not looked for.
        '8     1795659371.000004 read(9</etc>,  <unfinished ...>',
        '8     1795659371.000004 <... read resumed>"\\x41", 1) = 1 <0.000010>',
        # socketpair's first half shows no socket (its resumed half does).
        '9     1795659371.000004 socketpair(AF_UNIX, SOCK_STREAM, 0,  <unfinished ...>',
        # getsockopt(SO_ERROR) telling no error (a connect's success).
        '7     1795659371.000004 getsockopt(5<TCP:[127.0.0.1:1->127.0.0.1:2]>, SOL_SOCKET, '
        'SO_ERROR, [0], [4]) = 0 <0.000002>',
    ]
    # A resumed half before any first half of its name: begun before the
    # trace, nothing to complete.
    earlier = '6     1795659371.000000 <... recvfrom resumed>"\\x41", 1, 0, NULL, NULL) = 1 <0.1>'
    wanted = [
        '7     1795659371.000005 recvfrom(5<TCP:[127.0.0.1:1->127.0.0.1:2]>,  <unfinished ...>',
        '8     1795659371.000006 close(6<UNIX-STREAM:[11->12]>) = 0 <0.000002>',
        '7     1795659371.000007 <... recvfrom resumed>"\\x68\\x69", 2, 0, NULL, NULL) = 2 <0.000010>',
        '9     1795659371.000008 accept4(3<TCPv6:[[::1]:80]>, NULL, NULL, SOCK_CLOEXEC) '
        '= 10<TCPv6:[[::1]:80->[::1]:5000]> <0.000010>',
        '9     1795659371.000009 <... socketpair resumed>[11<UNIX-STREAM:[13->14]>, '
        '12<UNIX-STREAM:[14->13]>]) = 0 <0.000010>',
        # A colon before the socket's annotation (a pipe's); an annotation
        # strace could not detail.
        '7     1795659371.000010 splice(8<pipe:[21]>, NULL, 5<TCP:[127.0.0.1:1->127.0.0.1:2]>, '
        'NULL, 4, SPLICE_F_MOVE) = 4 <0.000003>',
        '7     1795659371.000011 close(13<socket:[22]>) = 0 <0.000002>',
        # One telling a non-blocking connect's refusal.
        '7     1795659371.000012 getsockopt(14<TCP:[23]>, SOL_SOCKET, SO_ERROR, [ECONNREFUSED], '
        '[4]) = 0 <0.000002>',
    ]
    parser = StraceParser(date=DATE)
    parser.rejects_unannotated = True
    block = "\n".join([earlier] + noise[:2] + wanted[:2] + noise[2:] + wanted[2:])
    numbers = []
    passed = []
    for line in parser.lines_to_parse(block):
        passed.append(line)
        numbers.append(parser.line_number + 1)  # parse() counts the line it is given
        parser.parse(line)
    assert passed == wanted
    assert numbers == [4, 5, 12, 13, 14, 15, 16, 17]
    assert parser.line_number == 17
    assert parser.skipped["not a socket syscall"] == 9


def test_blocks_of_long_lines_are_split_not_sieved():
    short = '7     1795659371.000001 futex(0x7f, FUTEX_WAKE_PRIVATE, 1) = 0 <0.000002>'
    long = ('7     1795659371.000002 write(5<TCP:[127.0.0.1:1->127.0.0.1:2]>, "%s", 1000) '
            '= 1000 <0.000002>' % ("\\x61" * 1000))
    mostly_short = "\n".join([short] * 50 + [long])
    parser = StraceParser(date=DATE)
    assert list(parser.lines_to_parse(long)) == [long]
    assert parser.parse(long) and parser.rejects_unannotated
    # After a block of long lines every line is handed to parse(), which
    # rejects the noise; after one of short lines the noise never leaves
    # its block.
    assert list(parser.lines_to_parse(mostly_short)) == mostly_short.split("\n")
    assert list(parser.lines_to_parse(mostly_short)) == [long]
    assert list(parser.lines_to_parse(long)) == [long]
    assert list(parser.lines_to_parse(mostly_short)) == mostly_short.split("\n")


def test_a_call_told_apart_by_its_name_only_where_the_name_is_the_call():
    # epoll_ctl shows its socket's annotation: told by its name alone, not
    # parsed; a resumed read whose string (no -xx) holds "name(" is read.
    socket = "3<TCP:[127.0.0.1:40000->127.0.0.1:8080]>"
    lines = ['100 1795659371.000001 write(%s, "GET", 3) = 3 <0.000010>' % socket,
             '100 1795659371.000002 read(%s,  <unfinished ...>' % socket,
             '101 1795659371.000003 epoll_ctl(5<anon_inode:[eventpoll]>, EPOLL_CTL_MOD, %s, '
             '{events=EPOLLIN, data={u32=3, u64=3}}) = 0 <0.000004>' % socket,
             '100 1795659371.000004 <... read resumed>"ok 1 see(tcp:[x]", 100) = 17 <0.000020>']
    parser = StraceParser(date=DATE)
    events = [event for line in parser.lines_to_parse("\n".join(lines))
              for event in parser.parse(line)]
    assert [(event["syscall"], event["payload"]) for event in events] == [
        ("write", b"GET"), ("read", b"ok 1 see(tcp:[x]")]
    assert parser.skipped["not a socket syscall"] == 1
    assert parser.line_number == 4


def test_the_sieve_passes_the_resumed_halves_of_the_pids_waiting_only():
    """A process's socket read waits while others' file reads resume (a
    helper's PostgreSQL under pgbench -C: 65 463 "<... read resumed>"
    lines): only the waiting pid's resumed half is parsed; a line whose pid
    does not show ([pid N]) still is."""
    waiting = '7     1795659371.000001 read(5<TCP:[127.0.0.1:1->127.0.0.1:2]>,  <unfinished ...>'
    others = ['8     1795659371.000002 read(9</etc>,  <unfinished ...>',
              '8     1795659371.000003 <... read resumed>"\\x41", 1) = 1 <0.000010>']
    untold = '[pid 9] 1795659371.000004 <... read resumed>"\\x42", 1) = 1 <0.000010>'
    resumed = '7     1795659371.000005 <... read resumed>"\\x68\\x69", 2) = 2 <0.000010>'
    parser = StraceParser(date=DATE)
    parser.rejects_unannotated = True
    passed = []
    for line in parser.lines_to_parse("\n".join([waiting] + others + [untold, resumed])):
        passed.append(line)
        parser.parse(line)
    assert passed == [waiting, untold, resumed]
    assert parser.skipped["not a socket syscall"] == 2


def test_the_sieve_passes_one_resumed_half_for_each_first_half_of_a_pid():
    """nginx's worker closes a file, then its socket, then a file again,
    each call split by the other worker's lines: of its three resumed
    closes only the socket's is parsed (a helper's nginx without
    keep-alive: 6 689 file closes parsed to be dropped).  A call begun in
    an earlier block is waited for the same way: its pid's first resumed
    half in the next block passes, not the one after."""
    pid_lines = [
        '7 1795659371.000001 close(12</etc/f> <unfinished ...>',
        '7 1795659371.000002 <... close resumed>) = 0 <0.000010>',
        '7 1795659371.000003 close(6<TCP:[127.0.0.1:1->127.0.0.1:2]> <unfinished ...>',
        '8 1795659371.000004 futex(0x1, FUTEX_WAKE, 1) = 0 <0.000010>',
        '7 1795659371.000005 <... close resumed>) = 0 <0.000010>',
        '7 1795659371.000006 close(13</etc/g> <unfinished ...>',
        '7 1795659371.000007 <... close resumed>) = 0 <0.000010>',
        '7 1795659371.000008 close(5<TCP:[127.0.0.1:3->127.0.0.1:4]> <unfinished ...>']
    next_block = [
        '7 1795659371.000009 <... close resumed>) = 0 <0.000010>',
        '7 1795659371.000010 close(14</etc/h> <unfinished ...>',
        '7 1795659371.000011 <... close resumed>) = 0 <0.000010>']
    parser = StraceParser(date=DATE)
    parser.rejects_unannotated = True
    passed = []
    for block in (pid_lines, next_block):
        for line in parser.lines_to_parse("\n".join(block)):
            passed.append(line)
            parser.parse(line)
    assert passed == [pid_lines[2], pid_lines[4], pid_lines[7], next_block[0]]
    assert parser.skipped["not a socket syscall"] == 7

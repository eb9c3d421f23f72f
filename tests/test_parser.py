"""strace_parser on real strace 6.1 lines: a line in, the exact event fields out.

Every line here was recorded on this machine with ``strace -f -ttt -T -yy -xx``
(tests/fixtures/dialects/workload.py and tests/fixtures/parser/shapes.py) and
is also in the fixture files next to them.
"""

from pathlib import Path

import pytest

import support
from strace_parser import RESUMED_NOT_SOCKET, StraceParser, unpack_event

FIXTURES = Path(__file__).resolve().parent / "fixtures"
LOCALHOST = r'inet_addr("\x31\x32\x37\x2e\x30\x2e\x30\x2e\x31")'


def parse(*lines, parser=None):
    """All events of ``lines`` fed in order to one parser."""
    parser = parser or StraceParser()
    events = []
    for line in lines:
        events += parser.parse(line)
    # At the end of input: a call -s cut waited for hex dump lines.
    return events + [event if type(event) is dict else unpack_event(event)
                     for event in parser.held_events()]


def fields(event, *names):
    return tuple(event[name] for name in names)


def test_sendto_on_bound_client_gives_payload_and_local_address():
    [event] = parse(r'29830 1795660411.656236 writev(4<TCP:[127.0.0.1:20201]>, [{iov_base="\x6f\x6e\x65", iov_len=3}, {iov_base="\x32", iov_len=1}, {iov_base="\x33\x34\x35", iov_len=3}], 3) = 7 <0.000022>')
    assert fields(event, "pid", "time", "duration", "syscall", "fd", "protocol", "direction",
                  "payload", "length", "local", "remote", "session") == (
        29830, 1795660411.656236, 0.000022, "writev", 4, "TCP", "out",
        b"one2345", 7, ("127.0.0.1", 20201), None, 0)


def test_readv_concatenates_iovecs_clipped_to_return_value():
    [event] = parse(r'29834 1795660411.656365 readv(5<TCP:[127.0.0.1:20200->127.0.0.1:20201]>, [{iov_base="\x6f\x6e\x65", iov_len=3}, {iov_base="\x32\x33\x34\x35", iov_len=4}], 2) = 5 <0.000012>')
    assert fields(event, "direction", "payload", "length", "local", "remote") == (
        "in", b"one23", 5, ("127.0.0.1", 20200), ("127.0.0.1", 20201))


def test_ipv6_annotation_and_recvfrom():
    [event] = parse(r'29830 1795660411.703281 recvfrom(4<TCPv6:[[::1]:20211]>, "\x62\x79\x65", 16, 0, NULL, NULL) = 3 <0.000012>')
    assert fields(event, "protocol", "payload", "local", "remote") == (
        "TCPv6", b"bye", ("::1", 20211), None)


def test_accept4_unfinished_and_resumed_across_threads():
    parser = StraceParser()
    events = parse(
        r'29834 1795660411.649134 accept4(3<TCP:[127.0.0.1:20200]>,  <unfinished ...>',
        r'29830 1795660411.647158 connect(4<TCP:[127.0.0.1:20201]>, {sa_family=AF_INET, sin_port=htons(20200), sin_addr=' + LOCALHOST + '}, 16 <unfinished ...>',
        r'29834 1795660411.649333 <... accept4 resumed>{sa_family=AF_INET, sin_port=htons(20201), sin_addr=' + LOCALHOST + '}, [16], SOCK_CLOEXEC) = 5<TCP:[127.0.0.1:20200->127.0.0.1:20201]> <0.000143>',
        r'29830 1795660411.649400 <... connect resumed>) = 0 <0.002242>',
        parser=parser)
    accept, connect = events
    # The event carries the start time of the first half, the fd of the return value.
    assert fields(accept, "pid", "syscall", "fd", "time", "local", "remote") == (
        29834, "accept4", 5, 1795660411.649134, ("127.0.0.1", 20200), ("127.0.0.1", 20201))
    assert fields(connect, "pid", "syscall", "fd", "local", "remote", "time") == (
        29830, "connect", 4, ("127.0.0.1", 20201), ("127.0.0.1", 20200), 1795660411.647158)
    assert parser.unfinished_count() == 0


def test_non_blocking_connect_and_eagain():
    parser = StraceParser()
    events = parse(
        r'29830 1795660411.774500 connect(4<TCP:[127.0.0.1:20251]>, {sa_family=AF_INET, sin_port=htons(20250), sin_addr=' + LOCALHOST + '}, 16) = -1 EINPROGRESS (Operation now in progress) <0.003679>',
        r'29830 1795660411.786152 recvfrom(5<TCP:[127.0.0.1:20250->127.0.0.1:20251]>, 0x7f0c7a9dd010, 10, MSG_DONTWAIT, NULL, NULL) = -1 EAGAIN (Resource temporarily unavailable) <0.000066>',
        parser=parser)
    [connect] = events
    assert fields(connect, "result", "error", "remote") == (-1, "EINPROGRESS", ("127.0.0.1", 20250))
    assert parser.skipped["failed call"] == 1


def test_sendmsg_and_recvmsg_take_the_udp_peer_from_msg_name():
    sent, received = parse(
        r'29830 1795660411.710769 sendmsg(3<UDPv6:[[::1]:20230]>, {msg_name={sa_family=AF_INET6, sin6_port=htons(20231), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "\x3a\x3a\x31", &sin6_addr), sin6_scope_id=0}, msg_namelen=28, msg_iov=[{iov_base="\x6d\x73\x67\x2d", iov_len=4}, {iov_base="\x70\x61\x72\x74\x73", iov_len=5}], msg_iovlen=2, msg_controllen=0, msg_flags=0}, 0) = 9 <0.000018>',
        r'29830 1795660411.706849 recvmsg(4<UDP:[127.0.0.1:20221]>, {msg_name={sa_family=AF_INET, sin_port=htons(20220), sin_addr=' + LOCALHOST + '}, msg_namelen=16, msg_iov=[{iov_base="\x6d\x73\x67\x2d\x70\x61\x72\x74\x73", iov_len=100}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, 0) = 9 <0.000011>')
    assert fields(sent, "payload", "local", "remote") == (b"msg-parts", ("::1", 20230), ("::1", 20231))
    assert fields(received, "payload", "local", "remote") == (
        b"msg-parts", ("127.0.0.1", 20221), ("127.0.0.1", 20220))


def test_unbound_udp_sendto_shows_inode_then_port():
    first, second = parse(
        r'7173  1795660747.951032 sendto(3<UDP:[71358]>, "\x66\x69\x72\x73\x74", 5, 0, {sa_family=AF_INET, sin_port=htons(20301), sin_addr=' + LOCALHOST + '}, 16) = 5 <0.000036>',
        r'7173  1795660747.951184 sendto(3<UDP:[0.0.0.0:33321]>, "\x73\x65\x63\x6f\x6e\x64", 6, 0, {sa_family=AF_INET, sin_port=htons(20301), sin_addr=' + LOCALHOST + '}, 16) = 6 <0.000021>')
    assert fields(first, "inode", "local", "remote") == (71358, None, ("127.0.0.1", 20301))
    assert fields(second, "inode", "local", "remote") == (None, ("0.0.0.0", 33321), ("127.0.0.1", 20301))


def test_mmsg_gives_one_event_per_message_with_its_msg_len():
    line = (FIXTURES / "dialects" / "xx.strace").read_text("latin-1")
    [sendmmsg] = [text for text in line.splitlines() if " sendmmsg(" in text]
    [recvmmsg] = [text for text in line.splitlines() if " recvmmsg(" in text]
    sent = parse(sendmmsg)
    received = parse(recvmmsg)
    assert [(event["payload"], event["length"]) for event in sent] == [
        (b"first", 5), (b"second message", 14), (b"3rd", 3)]
    # recvmmsg's iov_len is the buffer (64); msg_len is what arrived.
    assert [(event["payload"], event["length"]) for event in received] == [
        (b"first", 5), (b"second message", 14), (b"3rd", 3)]


def test_sessions_count_closes_of_the_same_fd():
    events = parse(
        r'29830 1795660411.656987 recvfrom(4<TCP:[127.0.0.1:20201]>, "\x62\x79\x65", 16, 0, NULL, NULL) = 3 <0.000016>',
        r'29830 1795660411.657120 close(4<TCP:[127.0.0.1:20201]>) = 0 <0.000062>',
        r'29830 1795660411.703281 recvfrom(4<TCPv6:[[::1]:20211]>, "\x62\x79\x65", 16, 0, NULL, NULL) = 3 <0.000012>',
        r'29830 1795660411.703402 close(4<TCPv6:[[::1]:20211]>) = 0 <0.000056>')
    assert [event["session"] for event in events] == [0, 0, 1, 1]


def test_unix_abstract_and_path_annotations():
    accept, close = parse(
        r'29830 1795660411.795352 accept4(3<UNIX-STREAM:[55673,@"\x77\x6f\x72\x6b\x6c\x6f\x61\x64\x2d\x32\x30\x32\x30\x30"]>, {sa_family=AF_UNIX}, [110 => 2], SOCK_CLOEXEC) = 5<UNIX-STREAM:[55680->55677,@"\x77\x6f\x72\x6b\x6c\x6f\x61\x64\x2d\x32\x30\x32\x30\x30"]> <0.000014>',
        r'29830 1795660411.794930 close(3<UNIX-STREAM:[55167,"\x2f\x74\x6d\x70\x2f\x77\x6f\x72\x6b\x6c\x6f\x61\x64\x2d\x32\x30\x32\x30\x30\x2e\x73\x6f\x63\x6b"]>) = 0 <0.000014>')
    assert fields(accept, "fd", "inode", "peer_inode", "path") == (5, 55680, 55677, "@workload-20200")
    assert fields(close, "fd", "inode", "peer_inode", "path") == (3, 55167, None, "/tmp/workload-20200.sock")


def test_file_fds_are_rejected_not_misparsed():
    parser = StraceParser()
    assert parse(r'8362  1795659710.444366 read(3<\x2f\x65\x74\x63\x2f\x6c\x6f\x63\x61\x6c\x65\x2e\x61\x6c\x69\x61\x73>, "\x23\x20", 4096) = 2 <0.000028>',
                 r'8362  1795659710.444217 close(3<\x2f\x65\x74\x63\x2f\x6c\x64\x2e\x73\x6f\x2e\x63\x61\x63\x68\x65>) = 0 <0.000013>',
                 parser=parser) == []
    assert parser.skipped["not a socket"] == 2


def test_signal_exit_and_orphan_lines_are_counted_by_reason():
    """A signal line is counted; an exit line gives the exit event (the
    kernel closes the process's sockets)."""
    parser = StraceParser()
    events = parse(
        r'7173  1795660747.843810 --- SIGUSR1 {si_signo=SIGUSR1, si_code=SI_USER, si_pid=7173, si_uid=0} ---',
        r'29830 1795660411.795000 +++ exited with 0 +++',
        r'29834 1795660411.649333 <... recvfrom resumed>"\x62", 16, 0, NULL, NULL) = 1 <0.000143>',
        r'29834 1795660411.649334 read(5<TCP:[127.0.0.1:20200->127.0.0.1:20201]>,  <unfinished ...>',
        r'29834 1795660411.649335 exit_group(0) = ?',
        parser=parser)
    assert [(event["protocol"], event["pid"], event["time"]) for event in events] == [
        ("exited", 29830, 1795660411.795)]
    parser.finish()
    assert parser.skipped["signal or exit line"] == 1
    assert parser.skipped["resumed without its start"] == 1
    assert parser.skipped["unfinished, never resumed"] == 1
    assert [number for number, _reason, _text in parser.examples] == [3, 4]
    assert parser.line_number == 5  # the lines read, for the summary (was 4: the unfinished one's)


def test_a_call_cut_by_stracess_detach_is_told_apart():
    """strace -p stopped mid-call (a helper's 2 MB sendto): the summary
    said "interrupted call", as for a signal's."""
    parser = StraceParser()
    assert parser.parse(
        '7834  1795763092.053343 sendto(4<TCP:[127.0.0.1:22004->127.0.0.1:42016]>, '
        '"\\x30\\x30"..., 2000000, 0, NULL, 0 <detached ...>') == []
    assert parser.skipped == {
        "calls cut by strace's detach (<detached ...>): what they moved is not shown": 1}


def test_resumed_half_of_a_file_call_under_yy_is_an_ordinary_skip():
    """Under -yy a socket call's first half shows its socket: the resumed
    half of one that did not (a file write) is no lost socket data."""
    parser = StraceParser()
    assert len(parse(
        r'100   1795660411.649300 close(5<TCP:[127.0.0.1:20200->127.0.0.1:20201]>) = 0 <0.000010>',
        r'100   1795660411.649310 write(2</dev/pts/0>, "\x68\x69", 2 <unfinished ...>',
        r'101   1795660411.649320 futex(0x7f, FUTEX_WAKE_PRIVATE, 1) = 0 <0.000005>',
        r'100   1795660411.649330 <... write resumed>) = 2 <0.000030>',
        parser=parser)) == 1
    assert parser.skipped[RESUMED_NOT_SOCKET] == 1
    assert parser.skipped["resumed without its start"] == 0
    assert parser.examples == []


def test_socketpair_resumed_without_its_first_half_gives_both_ends():
    """socketpair's first half names no socket, so under -yy it is dropped
    unseen: the resumed half, which holds both fds, gives the events."""
    ends = r'[3<UNIX-STREAM:[55683->55684]>, 4<UNIX-STREAM:[55684->55683]>]) = 0 <0.000017>'
    whole = parse(r'100   1795660411.796005 socketpair(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0, '
                  + ends)
    parser = StraceParser()
    split = parse(
        r'100   1795660411.649300 close(5<TCP:[127.0.0.1:20200->127.0.0.1:20201]>) = 0 <0.000010>',
        r'100   1795660411.796005 socketpair(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0,  <unfinished ...>',
        r'101   1795660411.796010 futex(0x7f, FUTEX_WAKE_PRIVATE, 1) = 0 <0.000005>',
        r'100   1795660411.796022 <... socketpair resumed>' + ends,
        parser=parser)[1:]
    names = ("syscall", "fd", "inode", "peer_inode", "protocol", "result")
    assert [fields(event, *names) for event in split] == [fields(event, *names) for event in whole]
    assert [fields(event, "fd", "peer_inode") for event in split] == [(3, 55684), (4, 55683)]
    assert [event["time"] for event in split] == [1795660411.796022] * 2  # the half seen
    assert parser.skipped == {"not a socket syscall": 2}  # the first half, the futex


def test_hex_dump_and_stack_frame_lines_are_counted_not_reported():
    """-e write=all prints the data again as a hex dump after the syscall,
    -k the stack: neither is a line the converter failed to read."""
    parser = StraceParser()
    dump = r' | 00000  68 69                                             hi               |'
    frame = r' > /usr/lib/x86_64-linux-gnu/libc.so.6(__write+0x14) [0x10f3a4]'
    events = parse(
        r'100   1795660411.649200 write(1</dev/pts/0>, "\x68\x69", 2) = 2 <0.000010>',
        dump, frame,
        r'100   1795660411.649300 close(5<TCP:[127.0.0.1:20200->127.0.0.1:20201]>) = 0 <0.000010>',
        dump, frame,
        parser=parser)
    assert [event["syscall"] for event in events] == ["close"]
    # Once the trace has shown -yy annotations, all lines without one are
    # dropped as not socket syscalls, unread.
    assert parser.skipped == {"hex dump line (-e read=, -e write=)": 1,
                              "stack frame line (-k)": 1, "not a socket": 1,
                              "not a socket syscall": 2}
    assert parser.examples == []


@pytest.mark.parametrize("sockaddr, remote", [
    (r'{sa_family=AF_INET, sin_port=htons(18072), sin_addr=inet_addr("\x31\x32\x37\x2e\x30'
     r'\x2e\x30\x2e\x31")}, 16', ("127.0.0.1", 18072)),
    (r'{sa_family=0x2, sin_port="\x46\x98", sin_addr="\x7f\x00\x00\x01"}, 16',
     ("127.0.0.1", 18072)),  # -X raw
    (r'{sa_family=0x2 /* AF_INET */, sin_port="\x46\x98" /* htons(18072) */, '
     r'sin_addr="\x7f\x00\x00\x01" /* inet_addr("\x31\x32\x37\x2e\x30\x2e\x30\x2e'
     r'\x31") */}, 16', ("127.0.0.1", 18072)),  # -X verbose
    (r'{sa_family=AF_INET6, sin6_port=htons(18071), sin6_flowinfo=htonl(0), '
     r'inet_pton(AF_INET6, "\x3a\x3a\x31", &sin6_addr), sin6_scope_id=0}, 28', ("::1", 18071)),
    (r'{sa_family=0xa, sin6_port="\x46\x97", sin6_flowinfo="\x00\x00\x00\x00", sin6_addr="'
     + r'\x00' * 15 + r'\x01", sin6_scope_id=0}, 28', ("::1", 18071)),  # -X raw
    (r'{sa_family=0xa /* AF_INET6 */, sin6_port="\x46\x97" /* htons(18071) */, '
     r'sin6_flowinfo="\x00\x00\x00\x00" /* htonl(0) */, sin6_addr="' + r'\x00' * 10
     + r'\xff\xff\x7f\x00\x00\x01" /* inet_pton(AF_INET6, "...") */, sin6_scope_id=0}, 28',
     ("::ffff:127.0.0.1", 18071)),  # -X verbose, an IPv4-mapped address
], ids=["default-4", "X-raw-4", "X-verbose-4", "default-6", "X-raw-6", "X-verbose-6-mapped"])
def test_sockaddr_in_every_X_style(sockaddr, remote):
    """strace -X raw and -X verbose print a sockaddr's port and address as
    the struct's bytes: the peer is the same as in the default style."""
    protocol = "UDPv6" if "0xa" in sockaddr or "INET6" in sockaddr else "UDP"
    [event] = parse(r'100   1795660411.649300 sendto(5<%s:[40000]>, "\x68\x69", 2, 0, %s) = 2 '
                    r'<0.000010>' % (protocol, sockaddr))
    assert event["remote"] == remote


def test_payload_cut_by_dash_s_is_counted():
    parser = StraceParser()
    [line] = [text for text in (FIXTURES / "dialects" / "s64.strace").read_text("latin-1").splitlines()
              if "sendto(4<TCP" in text and text.endswith("<0.000046>") or
              ("sendto(4<TCP" in text and '"...' in text)][:1]
    [event] = parse(line, parser=parser)
    assert (len(event["payload"]), event["length"]) == (64, 289)
    assert event["payload"] == bytes(range(64))
    assert (parser.truncated_payloads, parser.longest_cut_payload) == (1, 289)


@pytest.mark.parametrize("call,needed", [
    # -s 4 cut the 6-byte piece; the 4-byte one was whole: -s 6 suffices.
    (r'writev(5<TCP:[1.2.3.4:5->6.7.8.9:10]>, [{iov_base="\x61\x62\x63\x64"..., '
     r'iov_len=6}, {iov_base="\x65\x66\x67\x68", iov_len=4}], 2) = 10', 6),
    # -s 2 cut the array of 5 pieces as well as the strings: -s 5.
    (r'writev(5<TCP:[1.2.3.4:5->6.7.8.9:10]>, [{iov_base="\x61\x62"..., iov_len=3}, '
     r'{iov_base="\x61\x62"..., iov_len=3}, ...], 5) = 15', 5),
    (r'sendmsg(5<TCP:[1.2.3.4:5->6.7.8.9:10]>, {msg_name=NULL, msg_namelen=0, '
     r'msg_iov=[{iov_base="\x61\x62"..., iov_len=30}, ...], msg_iovlen=3, '
     r'msg_controllen=0, msg_flags=0}, 0) = 90', 30),
], ids=["pieces", "array-cut", "sendmsg"])
def test_an_iovec_cut_by_dash_s_asks_for_its_longest_piece(call, needed):
    """strace's -s bounds each iovec piece, and the number of pieces shown,
    not their sum: the summary's suggestion was the call's total (a Go
    writev of 605 236 bytes, each piece under 200 000: -s 605236)."""
    parser = StraceParser()
    parse("100   1795660411.649300 %s <0.000010>" % call, parser=parser)
    assert (parser.truncated_payloads, parser.longest_cut_payload) == (1, needed)


def test_shapes_fixture_signal_between_unfinished_and_resumed():
    """A SIGUSR1 line between a recvfrom's halves does not break the join."""
    text = (FIXTURES / "parser" / "shapes.strace").read_text("latin-1")
    parser = StraceParser()
    events = parse(*text.splitlines(), parser=parser)
    received = [event["payload"] for event in events if event["syscall"] == "recvfrom"]
    assert received[0] == b"after signal"
    assert sum(event["length"] for event in events
               if event["syscall"] == "sendto" and event["protocol"] == "TCP") == 100012
    # -s 1000 cut the 100 000-byte send and its read.
    assert parser.truncated_payloads == 2
    shutdown = [event for event in events if event["syscall"] == "shutdown"]
    assert [event["how"] for event in shutdown] == ["SHUT_WR"]
    unix = [event for event in events if event["protocol"] == "UNIX"]
    assert [event["payload"] for event in unix if event["direction"]] == [b"unix datagram"] * 2


@pytest.mark.parametrize("text, expected", [
    ("\\x00\\xff", b"\x00\xff"),
    ("a\\x00b", b"a\x00b"),                        # -x: hex for the unprintable only
    ('\\n\\t\\"\\\\\\33\\177\\0', b'\n\t"\\\x1b\x7f\x00'),  # default C escapes, octal
    ("plain", b"plain"),
])
def test_decode_string_escape_styles(text, expected):
    from strace_values import decode_string
    assert decode_string(text) == expected


# -- reads of a few bytes at a time --------------------------------------------

SSH_SOCKET = "3<TCP:[127.0.0.1:41954->127.0.0.1:2222]>"
T0 = 1795701900.0


def joined_reads(*lines):
    """The events of ``lines`` as the parse stage gives them (one block,
    then the end of input): small reads that filled their buffer joined
    with the reads after them."""
    from strace_parser import unpack_event
    parser = StraceParser()
    events = [event for line in lines for event in parser.parse_packed(line)]
    return ([event if type(event) is dict else unpack_event(event)
             for event in parser.join_reads(events) + parser.held_events()],
            sum(parser.reads_joined))


def read_line(time, data, count, duration=0.00001, fd=SSH_SOCKET, name="read"):
    """A read line (a real OpenSSH client's reading its peer's banner)."""
    text = "".join("\\x%02x" % byte for byte in data)
    tail = ", 0, NULL, NULL" if name == "recvfrom" else ""
    return '28105 %.6f %s(%s, "%s", %d%s) = %d <%.6f>' % (
        T0 + time, name, fd, text, count, tail, len(data), duration)


def test_a_header_read_byte_by_byte_is_one_event():
    """OpenSSH reads the server's banner a byte at a time: the first read
    waits for it, the others find it there.  One event, at the first read,
    with every byte; the write after it stays its own."""
    lines = [read_line(1.0 + 0.0001 * index, bytes([byte]), 1, 0.02 if index == 0 else 0.00001)
             for index, byte in enumerate(b"SSH-2.0\r\n")]
    lines.append(read_line(1.002, b"\x00\x00\x01\x2c\x04", 4096))
    lines.append('28105 %.6f write(%s, "\\x68\\x69", 2) = 2 <0.000010>' % (T0 + 1.003, SSH_SOCKET))
    events, joined = joined_reads(*lines)
    assert [(event["syscall"], event["payload"], event["length"]) for event in events] == [
        ("read", b"SSH-2.0\r\n\x00\x00\x01\x2c\x04", 14), ("write", b"hi", 2)]
    assert (events[0]["time"], events[0]["duration"], joined) == (T0 + 1.0, 0.02, 9)


def test_another_threads_send_left_unfinished_ends_no_run_of_reads():
    """nginx's FastCGI: an 8-byte header read, the body's read, and between
    them another thread's write on a socket left <unfinished ...>: the mark
    that its packet is still to come (for the time order) goes before the
    run, which stays one event (it became two, a sweep trace's segments moved)."""
    other = "6<TCP:[127.0.0.1:9000->127.0.0.1:52190]>"
    lines = [read_line(1.0, b"\x01\x05\x00\x01\x80\x00\x00\x00", 8),
             '28106 %.6f write(%s, "\x61", 1 <unfinished ...>' % (T0 + 1.0001, other),
             read_line(1.0002, b"body", 4096)]
    events, joined = joined_reads(*lines)
    assert [(event["protocol"], event.get("payload")) for event in events] == [
        ("send pending", None), ("TCP", b"\x01\x05\x00\x01\x80\x00\x00\x00body")]
    assert joined == 1


def test_small_reads_joined_on_unix_sockets_are_counted_where_they_are_converted(tmp_path):
    """php-cgi reads FastCGI's 8-byte headers on a unix socket: its reads
    are joined as a TCP socket's, but the summary counts them only with
    --capture-unix-socket (helper W: 104 joined reads in a Postfix trace,
    all on unix sockets, none in its pcap)."""
    unix = "5<UNIX-STREAM:[1001->1002]>"
    lines = [read_line(1.0, b"\x01", 1, fd=unix), read_line(1.0001, b"\x06rest", 4096, fd=unix)]
    assert joined_reads(*lines)[1] == 1
    trace = tmp_path / "trace.txt"
    trace.write_text("\n".join(lines) + "\n")
    counted = "1 small read joined to the read before it"
    assert counted not in support.convert(trace, tmp_path / "a.pcap").stderr.decode()
    assert counted in support.convert(trace, tmp_path / "b.pcap",
                                      "--capture-unix-socket").stderr.decode()


def test_a_read_slowed_by_a_loaded_machine_is_joined_too():
    """A traced recv(1) of a byte already queued took 3 ms on a loaded
    machine (the banner test's own trace), 7.5 ms in a helper's sshd, and
    the next began 9 ms after it: still the same segment."""
    lines = [read_line(1.0 + 0.0001 * index + (0.009 if index > 4 else 0), bytes([byte]), 1,
                       0.0075 if index == 4 else 0.00001)
             for index, byte in enumerate(b"SSH-2.0\r\n")]
    events, joined = joined_reads(*lines)
    assert [event["payload"] for event in events] == [b"SSH-2.0\r\n"] and joined == 8


@pytest.mark.parametrize("second", [
    read_line(1.0001, b"T", 1, duration=0.05),                     # it waited for its byte
    read_line(1.05, b"T", 1),                                      # begun 50 ms later
    read_line(1.0001, b"T", 1, fd="4<TCP:[127.0.0.1:41956->127.0.0.1:2222]>"),  # another socket
    '28105 %.6f write(%s, "\\x54", 1) = 1 <0.000010>' % (T0 + 1.0001, SSH_SOCKET),  # not a read
], ids=["waited", "late", "other-socket", "write"])
def test_reads_not_joined(second):
    events, joined = joined_reads(read_line(1.0, b"S", 1), second)
    assert (len(events), joined) == (2, 0)


@pytest.mark.parametrize("first", [
    read_line(1.0, b"S", 4096),                                    # did not fill its buffer
    read_line(1.0, b"S", 1, fd="5<UDP:[127.0.0.1:5353->127.0.0.1:53]>", name="recvfrom"),
    read_line(1.0, b"S" * 32, 32),                                 # not a small read
], ids=["short", "udp", "large"])
def test_reads_that_start_no_run(first):
    second = first.replace("%.6f" % (T0 + 1.0), "%.6f" % (T0 + 1.0001)).replace("\\x53", "\\x54")
    events, joined = joined_reads(first, second)
    assert (len(events), joined) == (2, 0)


def test_a_protocol_sniffing_read_is_joined_to_the_request():
    """Go's cmux (etcd's gRPC and HTTP on one port) reads a connection's
    first 24 bytes, then the rest: one segment (alone, they cut the request
    line, and tshark found no HTTP request)."""
    events, joined = joined_reads(read_line(1.0, b"POST /v3/kv/put HTTP/1.1", 24),
                                  read_line(1.0001, b"\r\nHost: x\r\n\r\n", 4072))
    assert [event["payload"] for event in events] == [
        b"POST /v3/kv/put HTTP/1.1\r\nHost: x\r\n\r\n"] and joined == 1


SMB_SOCKET = "31<TCP:[127.0.0.1:22660->127.0.0.1:55024]>"


def iovec_read_line(time, name, pieces):
    """A readv or recvmsg line (Samba's smbd) reading ``pieces``: (bytes
    read into it, its iov_len) pairs."""
    iovec = "[%s]" % ", ".join('{iov_base="%s", iov_len=%d}' % (
        "".join("\\x%02x" % byte for byte in data), size) for data, size in pieces)
    if name == "readv":
        args = "%s, %d" % (iovec, len(pieces))
    else:
        args = ("{msg_name=NULL, msg_namelen=0, msg_iov=%s, msg_iovlen=%d, msg_controllen=0, "
                "msg_flags=0}, 0" % (iovec, len(pieces)))
    return "976   %.6f %s(%s, %s) = %d <0.000015>" % (
        T0 + time, name, SMB_SOCKET, args, sum(len(data) for data, _size in pieces))


@pytest.mark.parametrize("name", ["recvmsg", "readv"])
def test_a_length_read_with_an_iovec_is_joined_to_the_request(name):
    """smbd reads each request's 4-byte NetBIOS length with recvmsg (its
    RPC services with readv), then the request: one segment, as on the
    wire (alone, the length of a 5 MB SMB2 Write made Wireshark take it
    for a continuation, and the Write was never decoded)."""
    request = b"\xfeSMB" + bytes(152)
    events, joined = joined_reads(
        iovec_read_line(1.0, name, [(b"\x00\x00\x00\x9c", 4)]),
        iovec_read_line(1.000055, name, [(request, 156)]))
    assert [(event["syscall"], event["payload"]) for event in events] == [
        (name, b"\x00\x00\x00\x9c" + request)]
    assert joined == 1


def test_an_iovec_read_that_did_not_fill_its_pieces_starts_no_run():
    first = iovec_read_line(1.0, "recvmsg", [(b"\x00\x00", 4), (b"", 4)])
    events, joined = joined_reads(first, iovec_read_line(1.000055, "recvmsg", [(b"AB", 4)]))
    assert (len(events), joined) == (2, 0)


def test_a_read_meeting_a_reset_gives_an_event_without_bytes():
    """A real Python TLS client whose server crashed: the read fails with
    ECONNRESET, an event for the RST; other failed calls stay skipped."""
    [event] = parse('3833  1795702151.259453 read(3<TCP:[127.0.0.1:47234->127.0.0.1:4443]>, '
                    '0x563138695d93, 5) = -1 ECONNRESET (Connection reset by peer) <0.004356>')
    assert fields(event, "syscall", "error", "direction", "payload", "remote") == (
        "read", "ECONNRESET", None, b"", ("127.0.0.1", 4443))
    assert parse('3833  1795702151.259453 read(3<TCP:[127.0.0.1:47234->127.0.0.1:4443]>, '
                 '0x563138695d93, 5) = -1 EAGAIN (Resource temporarily unavailable)') == []


def test_a_thread_ending_alone_is_told_from_its_process_ending():
    """A real Python trace: thread 25254 calls exit() and ends alone (its
    process's sockets stay open): its exit event says ``alone``; the
    process's exit_group's does not (read through the parse stage's
    lines_to_parse, which sees the line before an exit line)."""
    lines = [
        "25254 1795701815.951712 exit(0 <unfinished ...>",
        "25213 1795701815.951800 getpid() = 25213 <0.000010>",
        "25254 1795701815.951824 <... exit resumed>) = ?",
        "25254 1795701815.951884 +++ exited with 0 +++",
        "25213 1795701816.056680 exit_group(0)   = ?",
        "25213 1795701816.058949 +++ exited with 0 +++",
    ]
    parser = StraceParser()
    events = [event for line in parser.lines_to_parse("\n".join(lines))
              for event in parser.parse(line)]
    assert [(event["protocol"], event["pid"], event["alone"]) for event in events] == [
        ("exited", 25254, True), ("exited", 25213, False)]
    assert parser.line_number == len(lines)


def test_a_thread_ending_alone_is_told_when_its_exit_call_begins_a_block():
    """A live trace comes in blocks of what strace wrote so far: the exit()
    call may be a block's first line, its exit line further on (the
    thread's ending was taken for its process's: a FIN through the
    wrappers, 2.6 s before the reply the main thread read)."""
    parser = StraceParser()
    blocks = ['6698  1795829556.364487 sendto(3<TCP:[127.0.0.1:55888->127.0.0.1:23901]>, '
              '"\\x47", 1, 0, NULL, 0) = 1 <0.000080>',
              "6698  1795829556.366955 exit(0)         = ?\n"
              "6698  1795829556.367039 +++ exited with 0 +++"]
    events = [event for block in blocks for line in parser.lines_to_parse(block)
              for event in parser.parse(line)]
    assert [(event["pid"], event["alone"]) for event in events if "alone" in event] == [
        (6698, True)]


def test_shutdown_how_as_strace_x_raw_prints_it():
    """strace -X raw prints shutdown's how as a number (0x1): it was taken
    for SHUT_RDWR whatever it was (a helper's sweep: SHUT_WR's peer FIN
    lost, SHUT_RD's FIN sent)."""
    line = ('14205 1795763197.702434 shutdown(3<TCP:[127.0.0.1:59314->127.0.0.1:21007]>, %s) '
            '= 0 <0.000037>')
    hows = [StraceParser().parse(line % how)[0]["how"] for how in ("0x0", "1", "0x2", "SHUT_WR")]
    assert hows == ["SHUT_RD", "SHUT_WR", "SHUT_RDWR", "SHUT_WR"]


DUP_SOURCE = "7<UNIX-STREAM:[1588861->1588862]>"
DUP_TARGET = "5<TCPv6:[[::ffff:127.0.0.1]:43824->[::ffff:127.0.0.1]:21050]>"


@pytest.mark.parametrize("call, closes", [
    # The JDK's async close (recorded): the socket's fd gets a dead socketpair.
    ("dup2(%s, %s) = 5<UNIX-STREAM:[1588861->1588862]>" % (DUP_SOURCE, DUP_TARGET), True),
    ("dup3(%s, %s, O_CLOEXEC) = 5" % (DUP_SOURCE, DUP_TARGET), True),
    ("dup2(3<\\x2f\\x64\\x65\\x76\\x2f\\x6e\\x75\\x6c\\x6c>, %s) = 5" % DUP_TARGET, True),
    # -yy adds a device's numbers (sshd puts /dev/null over its socket's fds).
    ("dup2(3<\\x2f\\x64\\x65\\x76\\x2f\\x6e\\x75\\x6c\\x6c<char 1:3>>, %s) = 5<\\x2f\\x64"
     "\\x65\\x76\\x2f\\x6e\\x75\\x6c\\x6c<char 1:3>>" % DUP_TARGET, True),
    # Onto a file, onto itself, failed, or the lowest free fd: nothing closed.
    ("dup2(%s, 1<\\x2f\\x64\\x65\\x76\\x2f\\x6e\\x75\\x6c\\x6c>) = 1" % DUP_TARGET, False),
    ("dup2(%s, %s) = 5" % (DUP_TARGET, DUP_TARGET), False),
    ("dup2(%s, %s) = -1 EBADF (Bad file descriptor)" % (DUP_SOURCE, DUP_TARGET), False),
])
def test_dup2_over_a_socket_closes_it(call, closes):
    """dup2/dup3 close what their target fd held: a socket there ends as
    by close() (the JDK's async close sends its FIN so), a close event of
    that fd with its annotation's addresses and a new session after it."""
    parser = StraceParser()
    events = parse("598   1795771144.281729 %s <0.000013>" % call, parser=parser)
    if not closes:
        assert events == []
        return
    [event] = events
    assert fields(event, "pid", "time", "syscall", "fd", "protocol", "local", "remote") == (
        598, 1795771144.281729, "close", 5, "TCPv6", ("::ffff:127.0.0.1", 43824),
        ("::ffff:127.0.0.1", 21050))
    [after] = parse(r'598   1795771144.3 write(5<UNIX-STREAM:[1588861->1588862]>, "\x61", 1) = 1',
                    parser=parser)
    assert after["session"] == 1


@pytest.mark.parametrize("call", [
    "dup(%s) = 9<TCPv6:[[::ffff:127.0.0.1]:43824->[::ffff:127.0.0.1]:21050]>" % DUP_TARGET,
    "fcntl(%s, F_DUPFD_CLOEXEC, 9) = 9<TCPv6:[[::ffff:127.0.0.1]:43824->[::ffff:127.0.0.1]:21050]>"
    % DUP_TARGET,
    "dup2(%s, 9) = 9<TCPv6:[[::ffff:127.0.0.1]:43824->[::ffff:127.0.0.1]:21050]>" % DUP_TARGET])
def test_a_dup_of_a_tcp_socket_is_an_event_naming_both_fds(call):
    """A dup of a TCP socket closes nothing; its event names the socket,
    its fd and the new one (whose close then ends a copy, see
    TcpConversation.closes_dup)."""
    [event] = parse("598   1795771144.281729 %s <0.000013>" % call)
    assert fields(event, "syscall", "fd", "dup_fd", "protocol", "local", "direction") == (
        call[:call.index("(")], 5, 9, "TCPv6", ("::ffff:127.0.0.1", 43824), None)


def test_dup2_over_a_socket_without_yy_closes_it_from_the_socket_table():
    """Without -yy the socket table knows the target fd (socket() showed
    it); a file's fd there is not a socket's."""
    parser = StraceParser()
    parse("10 1.0 socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 4 <0.000010>",
          "10 1.1 connect(4, {sa_family=AF_INET, sin_port=htons(80), sin_addr=%s}, 16) = 0"
          % LOCALHOST, parser=parser)
    [event] = parse("10 1.2 dup2(6, 4) = 4 <0.000010>", parser=parser)
    assert fields(event, "syscall", "fd", "protocol", "remote") == (
        "close", 4, "TCP", ("127.0.0.1", 80))
    assert parse("10 1.3 dup2(4, 7) = 7 <0.000010>", parser=parser) == []


PEEKING = "12215 1795771320.251111 recvfrom(3<%s:[127.0.0.1:33212->127.0.0.1:21025]>, "


@pytest.mark.parametrize("protocol, rest, seen", [
    ("TCP", '"", 8, MSG_PEEK, NULL, NULL) = 0 <0.000010>', "end"),  # recorded (Rust's peek)
    ("TCP", '"", 0, MSG_PEEK, NULL, NULL) = 0 <0.000010>', "skipped"),  # asked for nothing
    ("UDP", '"", 8, MSG_PEEK, NULL, NULL) = 0 <0.000010>', "skipped"),  # an empty datagram
    ("UDP", '"\\x00", 8, MSG_PEEK, NULL, NULL) = 1 <0.000011>', "skipped"),  # read again
    ("TCP", '"\\x00", 8, MSG_PEEK, NULL, NULL) = 1 <0.000011>', "peek"),  # bytes that came
    ("TCP", '{msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base="", iov_len=8}], msg_iovlen=1, '
            'msg_controllen=0, msg_flags=0}, MSG_PEEK) = 0', "end"),
    ("TCP", '{msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base="\\x00\\x01", iov_len=8}], '
            'msg_iovlen=1, msg_controllen=0, msg_flags=0}, MSG_PEEK) = 2', "peek"),
])
def test_a_peek_is_its_bytes_or_the_end_of_a_stream(protocol, rest, seen):
    """A MSG_PEEK read that returns 0 bytes of a stream it asked bytes of
    saw the peer's FIN: an event as a read of 0 (a program may stop there
    and never read the 0).  One that returns TCP bytes is a ``peek``
    event of them (the next read returns them again, see
    tcp_flow.TcpConversation.peeked); a datagram peeked at is read whole
    later: skipped."""
    name = "recvmsg" if "msg_iov" in rest else "recvfrom"
    parser = StraceParser()
    events = parse((PEEKING % protocol).replace("recvfrom", name) + rest, parser=parser)
    if seen == "end":
        [event] = events
        assert fields(event, "syscall", "result", "payload", "direction") == (name, 0, b"", "in")
        assert "peek" not in event
    elif seen == "peek":
        [event] = events
        assert fields(event, "syscall", "payload", "length", "direction", "peek") == (
            name, bytes(range(event["result"])), event["result"], "in", True)
    else:
        assert events == [] and parser.skipped["peeked data (MSG_PEEK)"] == 1


def test_runs_of_small_reads_of_two_processes_interleaved_are_each_joined():
    """An MQTT subscriber and a publisher (a helper's mosquitto clients
    under one strace -f, recorded) each read a header a byte at a time on
    their own fd 5, their lines interleaved: each run is one event (the
    other's lines ended it: 1-byte segments, and tshark's MQTT dissector
    found 351 malformed packets in the subscriber's stream).  Another
    process's close of its own fd 5 ends neither."""
    subscriber = "5<TCP:[127.0.0.1:44794->127.0.0.1:22020]>"
    publisher = "5<TCP:[127.0.0.1:44834->127.0.0.1:22020]>"
    other = "5<TCP:[127.0.0.1:44806->127.0.0.1:22020]>"
    lines = [
        '29505 1795771697.294467 read(%s,  <unfinished ...>' % subscriber,
        '29512 1795771697.294488 close(%s) = 0 <0.000032>' % other,
        '29505 1795771697.294504 <... read resumed>"\\x32", 1) = 1 <0.000025>',
        '29512 1795771697.294522 read(%s,  <unfinished ...>' % publisher,
        '29505 1795771697.294538 read(%s,  <unfinished ...>' % subscriber,
        '29512 1795771697.294556 <... read resumed>"\\x40", 1) = 1 <0.000024>',
        '29505 1795771697.294571 <... read resumed>"\\x11", 1) = 1 <0.000023>',
        '29512 1795771697.294587 read(%s,  <unfinished ...>' % publisher,
        '29505 1795771697.294603 read(%s,  <unfinished ...>' % subscriber,
        '29512 1795771697.294639 <... read resumed>"\\x02", 1) = 1 <0.000042>',
        '29505 1795771697.294655 <... read resumed>"\\x00\\x04\\x61\\x2f\\x71\\x31\\x00\\x01\\x6d'
        '\\x73\\x67\\x2d\\x71\\x6f\\x73\\x2d\\x31", 17) = 17 <0.000042>',
        '29512 1795771697.294700 read(%s, "\\x00\\x01", 16384) = 2 <0.000010>' % publisher,
    ]
    events, joined = joined_reads(*lines)
    assert [(event["pid"], event["syscall"], event["payload"]) for event in events] == [
        (29512, "close", b""),
        (29505, "read", b"\x32\x11\x00\x04a/q1\x00\x01msg-qos-1"),
        (29512, "read", b"\x40\x02\x00\x01")]
    assert joined == 4


def test_interleaved_runs_of_small_reads_do_not_depend_on_where_blocks_are_cut():
    """The same events whichever line the block of the runs above is cut
    after: a block that ends with runs open holds them, and the events
    after the first, for the next block's reads."""
    from py_strace2pcap import ParseStage, parse_arguments
    lines = [
        '29505 1795771697.294504 read(5<TCP:[127.0.0.1:44794->127.0.0.1:22020]>, "\\x32", 1) = 1',
        '29512 1795771697.294556 read(5<TCP:[127.0.0.1:44834->127.0.0.1:22020]>, "\\x40", 1) = 1',
        '29505 1795771697.294571 read(5<TCP:[127.0.0.1:44794->127.0.0.1:22020]>, "\\x11", 1) = 1',
        '29520 1795771697.294600 close(4<TCP:[127.0.0.1:44900->127.0.0.1:22020]>) = 0',
        '29512 1795771697.294639 read(5<TCP:[127.0.0.1:44834->127.0.0.1:22020]>, "\\x02", 1) = 1',
        '29505 1795771697.294655 read(5<TCP:[127.0.0.1:44794->127.0.0.1:22020]>, "\\x00\\x04", 9) = 2',
        '29512 1795771697.294700 read(5<TCP:[127.0.0.1:44834->127.0.0.1:22020]>, "\\x00", 9) = 1',
    ]

    def events(*blocks):
        stage = ParseStage(parse_arguments(["/dev/null"]))
        found = [event for block in blocks for event in stage.events("\n".join(block))]
        return [(event["pid"], event["syscall"], event["payload"]) for event in
                (event if type(event) is dict else unpack_event(event)
                 for event in found + stage.held_events())]
    whole = events(lines)
    assert whole == [(29505, "read", b"\x32\x11\x00\x04"), (29512, "read", b"\x40\x02\x00"),
                     (29520, "close", b"")]
    for cut in range(1, len(lines)):
        assert events(lines[:cut], lines[cut:]) == whole, cut


def test_a_peek_amid_a_run_of_small_reads_ends_it_not():
    """A proxy (a helper's) peeks at what came, then reads a header line
    of it, line by line: a peek between the reads of a run leaves the
    run whole, and goes (the run's event takes the reads after it, the
    peek's place in the stream would be lost); the first peek, before
    any run, is an event."""
    fd = "4<TCP:[127.0.0.1:22450->127.0.0.1:39954]>"
    head = '18007 1795787916.9200%02d recvfrom(%s, %s, %d, %s, NULL, NULL) = %d <0.000008>'
    lines = [head % (10, fd, support.xx_string(b"ab\r\ncd\r\n\r\n"), 512, "MSG_PEEK", 10),
             head % (12, fd, support.xx_string(b"ab\r\n"), 4, "0", 4),
             head % (14, fd, support.xx_string(b"cd\r\n\r\n"), 512, "MSG_PEEK", 6),
             head % (16, fd, support.xx_string(b"cd\r\n"), 4, "0", 4),
             head % (18, fd, support.xx_string(b"\r\n"), 512, "MSG_PEEK", 2),
             head % (20, fd, support.xx_string(b"\r\n"), 512, "0", 2)]
    events, joined = joined_reads(*lines)
    assert [(event["payload"], event.get("peek")) for event in events] == [
        (b"ab\r\ncd\r\n\r\n", True), (b"ab\r\ncd\r\n\r\n", None)]
    assert joined == 2

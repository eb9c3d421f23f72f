"""The common data line (a whole read/write/send*/recv*/readv/writev/
sendmsg/recvmsg on a -yy socket, plain pid column, epoch time) has its own
short reader in the parser; every other line goes the general way.  The
two must give the same events: on every fixture, on the benchmark's
workloads, and on the shapes where the short reader must step aside."""

import datetime
import io
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import support
from strace_parser import SEND_PENDING, StraceParser, unpack_event

sys.path.insert(0, str(support.REPO / "bench"))
import generate  # noqa: E402

DATE = datetime.date(2026, 11, 26)
FIXTURES = sorted(support.FIXTURES.glob("*/*.strace"))
ANNOTATION = "5<TCP:[127.0.0.1:40000->127.0.0.1:8080]>"
UDP = "6<UDP:[0.0.0.0:5353]>"
SOCKADDR = '{sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("127.0.0.1")}'
EDGE_LINES = [
    # -x: an escaped quote inside the string
    '10  1795659371.000001 write(%s, "a\\"b", 3) = 3 <0.000002>' % ANNOTATION,
    # -s cut, and a short write
    '10  1795659371.000002 write(%s, "\\x61\\x62"..., 9) = 4 <0.000002>' % ANNOTATION,
    '10  1795659371.000003 write(%s, "\\x61\\x62\\x63", 3) = 2 <0.000002>' % ANNOTATION,
    # a peek: its bytes, as an event of their own (the general way)
    '10  1795659371.000004 recvfrom(%s, "\\x61", 1, MSG_PEEK, NULL, NULL) = 1 <0.000002>'
    % ANNOTATION,
    # failed, interrupted and unfinished calls; no -T
    '10  1795659371.000005 read(%s, 0x7ffd, 10) = -1 EAGAIN (Resource temporarily unavailable)'
    ' <0.000002>' % ANNOTATION,
    '10  1795659371.000006 read(%s, "\\x61", 10) = 1' % ANNOTATION,
    '10  1795659371.000007 read(%s,  <unfinished ...>' % ANNOTATION,
    '11  1795659371.000008 write(%s, "\\x62", 1) = 1 <0.000002>' % ANNOTATION,
    '10  1795659371.000009 <... read resumed>"\\x63\\x64", 10) = 2 <0.000010>',
    # unconnected UDP: the peer is in the sockaddr
    '12  1795659371.000010 sendto(%s, "\\x01\\x02", 2, 0, %s, 16) = 2 <0.000002>' % (UDP, SOCKADDR),
    '12  1795659371.000011 recvmsg(%s, {msg_name=%s, msg_namelen=16, msg_iov=[{iov_base='
    '"\\x03\\x04", iov_len=2}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, 0) = 2 <0.000002>'
    % (UDP, SOCKADDR),
    '12  1795659371.000012 recvmsg(%s, {msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base='
    '"\\x05", iov_len=1}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, MSG_PEEK) = 1 <0.000002>'
    % ANNOTATION,
    '10  1795659371.000013 writev(%s, [{iov_base="\\x61", iov_len=1}, {iov_base="\\x62\\x63", '
    'iov_len=2}], 2) = 3 <0.000002>' % ANNOTATION,
    # a unix datagram to a named socket
    '13  1795659371.000015 sendto(7<UNIX-DGRAM:[123]>, "\\x01", 1, 0, {sa_family=AF_UNIX, '
    'sun_path="\\x2f\\x74\\x2f\\x78"}, 6) = 1 <0.000002>',
    # an urgent byte: marked, the general way
    '10  1795659371.000016 sendto(%s, "\\x21", 1, MSG_OOB, NULL, 0) = 1 <0.000002>' % ANNOTATION,
    '10  1795659371.000017 sendmsg(%s, {msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base='
    '"\\x21", iov_len=1}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, MSG_OOB) = 1 <0.000002>'
    % ANNOTATION,
    # a malformed string: unparseable, not a crash
    '10  1795659371.000014 write(%s, "\\x6", 1) = 1 <0.000002>' % ANNOTATION,
]


PRIMER = '10  1795659371.000000 write(%s, "\\x61", 1) = 1 <0.000002>' % ANNOTATION


def parsed(lines, common=True):
    """Events of ``lines``, and how many came from the common-line reader."""
    parser = StraceParser(date=DATE)
    read_common = parser._common_data_line
    hits = []

    def counted(line):
        events = read_common(line) if common else None
        hits.append(events is not None)
        return events
    parser._common_data_line = counted
    events = [event for line in lines for event in parser.parse(line)]
    events += [event if type(event) is dict else unpack_event(event)
               for event in parser.held_events()]  # a call -s cut waits for its hex dump
    return events, parser.skipped, sum(hits)


def assert_same_events(lines):
    events, skipped, hits = parsed(lines)
    general, general_skipped, _ = parsed(lines, common=False)
    assert events == general
    assert skipped == general_skipped
    return events, hits


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda path: path.name)
def test_fixtures_give_the_same_events(fixture):
    events, hits = assert_same_events(fixture.read_text(encoding="latin-1").splitlines())
    assert events
    if fixture.name in ("xx.strace", "grpc-client.strace", "forking-server.strace"):
        # Small reads that filled their buffer go the general way, which marks them.
        assert hits > len([event for event in events if not event.get("filled")
                           and event["protocol"] != SEND_PENDING]) / 2


@pytest.mark.parametrize("workload", ["small", "udp", "unix"])
def test_benchmark_workloads_give_the_same_events(workload):
    text = io.StringIO()
    generate.generate(workload, text, 0.01)
    events, hits = assert_same_events(text.getvalue().splitlines())
    assert hits > len(events) / 2


def test_edge_lines_give_the_same_events():
    events, hits = assert_same_events(EDGE_LINES)
    payloads = [event["payload"] for event in events]
    assert payloads == [b'a"b', b"ab", b"ab", b"a", b"a", b"b", b"cd", b"\x01\x02",
                        b"\x03\x04", b"\x05", b"abc", b"\x01", b"!", b"!"]
    assert [event.get("peek") for event in events].count(True) == 2
    assert events[-6]["remote"] == ("127.0.0.1", 53)
    assert events[-3]["peer_path"] == "/t/x"
    assert [event.get("urgent") for event in events[-3:]] == [None, True, True]
    assert 0 < hits < len(events)


def test_an_iovec_piece_cut_by_s_ends_the_payload():
    """strace -s cuts each iovec piece on its own and prints the next ones
    whole (Node.js writes a 1 MiB chunked body as one writev of 5 pieces):
    the bytes after a cut piece belong further on, not right after what was
    printed, so the payload ends there; the pieces keep them at their place
    (the general reader's work: the fast one leaves such lines to it)."""
    lines = [
        PRIMER,  # the first line goes the general way: it shows the time format
        '23048 1795694138.199256 writev(%s, [{iov_base="%s"..., iov_len=20}, '
        '{iov_base="\\x42\\x42\\x42\\x42\\x42", iov_len=5}], 2) = 25 <0.000094>'
        % (ANNOTATION, "\\x41" * 10),
        '23048 1795694138.202682 sendmsg(%s, {msg_name=NULL, msg_namelen=0, msg_iov=['
        '{iov_base="%s"..., iov_len=20}, {iov_base="\\x44\\x44\\x44\\x44\\x44", iov_len=5}], '
        'msg_iovlen=2, msg_controllen=0, msg_flags=0}, 0) = 25 <0.000041>'
        % (ANNOTATION, "\\x43" * 10),
    ]
    events, hits = assert_same_events(lines)
    assert [(event["payload"], event["length"]) for event in events[1:]] == [
        (b"A" * 10, 25), (b"C" * 10, 25)]
    assert [event["pieces"] for event in events[1:]] == [
        [(b"A" * 10, 20), (b"B" * 5, 5)], [(b"C" * 10, 20), (b"D" * 5, 5)]]
    assert hits == 0


def test_an_iovec_array_cut_by_s_counts_as_cut_not_as_a_long_datagram():
    """strace -s caps the elements of an array as well ("...]" after 64
    of them): a helper's writev of 200 pieces and recvmsg into 300 buffers
    on TCP were counted as datagrams longer than their buffer (MSG_TRUNC),
    and left out of the -s hint."""
    lines = [
        PRIMER,
        '23048 1795694138.199256 writev(%s, [{iov_base="\\x41", iov_len=1}, '
        '{iov_base="\\x42\\x42", iov_len=2}, ...], 200) = 399 <0.000094>' % ANNOTATION,
        '23048 1795694138.202682 recvmsg(%s, {msg_name=NULL, msg_namelen=0, msg_iov=['
        '{iov_base="\\x43", iov_len=7}, ...], msg_iovlen=300, msg_controllen=0, '
        'msg_flags=0}, 0) = 399 <0.000041>' % ANNOTATION,
    ]
    events, _hits = assert_same_events(lines)
    assert [(event["payload"], event["length"]) for event in events[1:]] == [
        (b"ABB", 399), (b"C", 399)]
    parser = StraceParser(date=DATE)
    for line in lines:
        parser.parse(line)
    parser.held_events()
    assert (parser.truncated_payloads, parser.datagrams_longer_than_read) == (2, 0)


@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=300), style=st.sampled_from(["xx", "x", "default"]),
       cut=st.integers(min_value=0, max_value=300),
       name=st.sampled_from(["write", "sendto", "writev", "sendmsg"]))
def test_payloads_round_trip_through_both_readers(payload, style, cut, name):
    length = len(payload)
    shown = support.strace_quote(payload[:cut], style) + ('"...' if cut < length else '"')
    argument = {"write": '"%s, %d', "sendto": '"%s, %d, MSG_NOSIGNAL, NULL, 0',
                "writev": '[{iov_base="%s, iov_len=%d}], 1',
                "sendmsg": '{msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base="%s, '
                           'iov_len=%d}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, 0'}[name]
    line = "10  1795659371.000001 %s(%s, %s) = %d <0.000010>" % (
        name, ANNOTATION, argument % (shown, length), length)
    # The primer sets the clock's kind: the common reader needs epoch times.
    events, hits = assert_same_events([PRIMER, line])
    assert events[1]["payload"] == payload[:cut] and events[1]["length"] == length
    assert hits == 1 or style != "xx"  # (the primer sets the clock the general way)


# What a trace's bytes decode to (and no Unicode tables for hypothesis to build).
LATIN_1 = "".join(map(chr, range(256)))
REAL_LINES = [line for line in (support.FIXTURES / "dialects" / "xx.strace").read_text(
    "latin-1").splitlines() if "TCP" in line or "UNIX" in line]


# A mangled escape makes codecs.escape_decode warn (DeprecationWarning) before
# the parser falls back and rejects the string: expected here.
@pytest.mark.filterwarnings("ignore:invalid escape sequence:DeprecationWarning")
@settings(max_examples=300, deadline=None)
@given(line=st.sampled_from(REAL_LINES), start=st.integers(0, 2000), stop=st.integers(0, 2000),
       insert=st.text(alphabet=LATIN_1, max_size=20))
def test_mangled_real_lines_give_the_same_events(line, start, stop, insert):
    assert_same_events([PRIMER, line[:start] + insert + line[stop:], line[:stop]])


def test_pieces_printed_after_a_cut_one_keep_their_place():
    """node writes each HTTP/2 frame header as an iovec piece of its own:
    -s cuts the 16 KiB payload pieces, the 9-byte headers after them are
    printed whole.  The event keeps every piece at its place (the general
    reader: the fast one leaves such lines to it); the payload still ends
    at the cut, and a TCP packet with it (pieces as segments of their own
    made Wireshark read more bogus HTTP/2 frames over TCP)."""
    line = ('23048 1795694138.199256 writev(%s, [{iov_base="%s"..., iov_len=20}, '
            '{iov_base="\\x42\\x42\\x42", iov_len=3}, {iov_base="\\x43\\x43", iov_len=5}], 3) '
            '= 24 <0.000094>' % (ANNOTATION, "\\x41" * 10))
    events, hits = assert_same_events([PRIMER, line])
    [event] = events[1:]
    assert (event["payload"], event["length"]) == (b"A" * 10, 24)
    assert event["pieces"] == [(b"A" * 10, 20), (b"BBB", 3), (b"C", 1)]  # 24 bytes written
    assert hits == 0  # the primer goes the general way too
    from strace_parser_2_packet import InetPacketizer
    segments = [(len(frame) - 58, wire_length - 58, frame[58:])
                for _time, frame, wire_length, *_ in InetPacketizer().packets(event)]
    assert segments == [(10, 24, b"A" * 10)]


def test_a_tcp_read_with_msg_trunc_drops_its_bytes_unread(tmp_path):
    """TCP recv(MSG_TRUNC) discards that many bytes without copying them:
    strace prints what the buffer held from the read before (sweep R: the
    wire had "SKIPP" where the buffer showed "BODY-"; sweep T: recvmsg's
    too).  The event declares the length and carries no bytes; both
    readers agree.  One that returns 0 read the peer's FIN, as any read
    (lighttpd drains so before its close: 322 such EOFs were counted as
    reads that dropped 0 bytes)."""
    socket = "5<TCP:[127.0.0.1:9450->127.0.0.1:37006]>"
    lines = [
        '1121  1795735534.278445 recvfrom(%s, "\\x42\\x4f\\x44\\x59\\x2d\\x30\\x31", 100, 0, '
        'NULL, NULL) = 7 <0.000019>' % socket,
        '1121  1795735534.579245 recvfrom(%s, "\\x42\\x4f\\x44\\x59\\x2d", 5, MSG_TRUNC, NULL, '
        'NULL) = 5 <0.000025>' % socket,
        '1121  1795735534.580000 recvmsg(%s, {msg_name=0x7ffceed529d0, msg_namelen=16 => 0, '
        'msg_iov=[{iov_base="\\x59\\x59\\x59", iov_len=3}], msg_iovlen=1, msg_controllen=0, '
        'msg_flags=0}, MSG_TRUNC) = 3 <0.000015>' % socket,
        '1121  1795735534.590000 recvfrom(%s, "", 16384, MSG_TRUNC|MSG_DONTWAIT|MSG_NOSIGNAL, '
        'NULL, NULL) = 0 <0.000010>' % socket]
    events, _hits = assert_same_events(lines)
    assert [(event["payload"], event["length"]) for event in events] == [
        (b"BODY-01", 7), (b"", 5), (b"", 3), (b"", 0)]
    parser = StraceParser()
    for line in lines:
        parser.parse(line)
    assert (parser.discarded_reads, parser.discarded_bytes) == (2, 8)
    trace = tmp_path / "trace.strace"
    trace.write_text("\n".join(lines) + "\n")
    summary = support.convert(trace, tmp_path / "out.pcap").stderr.decode()
    assert "2 TCP reads with MSG_TRUNC dropped 8 bytes unread" in summary


def test_mmsg_lines_give_an_event_per_message_moved():
    """sendmmsg/recvmmsg (glibc's resolver sends its A and AAAA queries
    as one sendmmsg) are read the short way too: an event per message the
    call moved, each with its msg_len, its printed bytes (a cut one short)
    and, on an unconnected socket, its own peer."""
    def message(port, shown, length):
        return ('{msg_hdr={msg_name={sa_family=AF_INET, sin_port=htons(%d), sin_addr=inet_addr('
                '"127.0.0.1")}, msg_namelen=16, msg_iov=[{iov_base=%s, iov_len=512}], '
                'msg_iovlen=1, msg_controllen=0, msg_flags=0}, msg_len=%d}' % (port, shown, length))
    lines = [PRIMER,
             '12  1795659371.000020 recvmmsg(%s, [%s, %s, %s], 3, 0, NULL) = 2 <0.000004>' % (
                 UDP, message(53, '"\\x01\\x02"', 2), message(54, '"\\x03"...', 3),
                 message(55, '"\\x04"', 1)),
             '12  1795659371.000021 sendmmsg(7<UNIX-DGRAM:[123]>, [{msg_hdr={msg_name=NULL, '
             'msg_namelen=0, msg_iov=[{iov_base="\\x05", iov_len=1}], msg_iovlen=1, '
             'msg_controllen=0, msg_flags=0}, msg_len=1}], 1, 0) = 1 <0.000004>']
    events, hits = assert_same_events(lines)
    assert [(event["payload"], event["length"], event["remote"], event["result"])
            for event in events[1:]] == [
        (b"\x01\x02", 2, ("127.0.0.1", 53), 2), (b"\x03", 3, ("127.0.0.1", 54), 2),
        (b"\x05", 1, None, 1)]
    assert hits == 2  # the primer goes the general way


def test_mmsg_messages_strace_did_not_print_are_counted(tmp_path):
    """-s also limits how many entries of an array strace prints: a
    recvmmsg of 3 datagrams at -s 2 shows 2 and "..." (a helper's batches
    of 64 at -s 4: 22 datagrams missing, and the summary said nothing).
    Both readers give the 2 and count the third."""
    message = ('{msg_hdr={msg_name={sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr('
               '"127.0.0.1")}, msg_namelen=16, msg_iov=[{iov_base="\\x01", iov_len=512}], '
               'msg_iovlen=1, msg_controllen=0, msg_flags=0}, msg_len=1}')
    lines = [PRIMER, '12  1795659371.000020 recvmmsg(%s, [%s, %s, ...], 3, 0, NULL) = 3 '
             '<0.000004>' % (UDP, message, message)]
    events, _hits = assert_same_events(lines)
    assert len(events[1:]) == 2
    for common in (True, False):
        parser = StraceParser(date=DATE)
        if not common:
            parser._common_data_line = lambda line: None
        for line in lines:
            parser.parse(line)
        assert parser.unprinted_messages == 1
    trace = tmp_path / "mmsg.strace"
    trace.write_text("\n".join(lines) + "\n")
    summary = support.convert(trace, tmp_path / "out.pcap").stderr.decode()
    assert "  1 message of sendmmsg/recvmmsg calls strace did not print" in summary


def test_a_common_call_left_unfinished_is_read_the_short_way():
    """A common data line cut in two by another thread's line (bench
    small: one socket call in four) is held and joined without the
    general reader: neither half goes that way."""
    lines = [PRIMER,
             '10  1795659371.000007 read(%s,  <unfinished ...>' % ANNOTATION,
             '11  1795659371.000008 sendto(%s, "\\x62", 1, 0, NULL, 0 <unfinished ...>' % ANNOTATION,
             '10  1795659371.000009 <... read resumed>"\\x63\\x64", 10) = 2 <0.000010>',
             '11  1795659371.000010 <... sendto resumed>) = 1 <0.000003>']
    events, _hits = assert_same_events(lines)
    assert [(event["syscall"], event.get("payload"), event["time"]) for event in events[1:]] == [
        ("sendto", None, 1795659371.000008),  # SEND_PENDING: its packet is still to come
        ("read", b"cd", 1795659371.000007), ("sendto", b"b", 1795659371.000008)]
    parser = StraceParser(date=DATE)
    general = []
    parser._other_call = lambda line: general.append(line)
    for line in lines:
        parser.parse(line)
    assert general == []

"""Unit tests of the unix synthesiser's parts: strace's UNIX lines, HTTP/2
frame alignment (linear, bounded, lossless), emission as the trace goes."""

import random
import time

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

import support
from http2_tools import (DATA, HEADERS, MAX_HELD, PREFACE, SETTINGS, FrameAligner, frame,
                         iter_frames, plausible_frame, seed_frames)
from strace_parser import SEND_PENDING, StraceParser
from unix_tcp_synth import (CLIENT_PORTS, FIRST_CLIENT_PORT, SERVER_PORT, UnixPacketizer,
                            dissector_of)

GRPC_CLIENT_TRACE = support.FIXTURES / "unix" / "grpc-client.strace"

# Lines recorded with strace 6.1 -f -ttt -T -yy -xx (tests/fixtures/unix/).
ABSTRACT_ACCEPT = (
    '8152  1795659692.863847 accept4(9<UNIX-STREAM:[9177,@"\\x61\\x62\\x73\\x32"]>, '
    '{sa_family=AF_UNIX}, [110 => 2], SOCK_CLOEXEC) = '
    '12<UNIX-STREAM:[9179->9178,@"\\x61\\x62\\x73\\x32"]> <0.000026>')
SOCKETPAIR = (
    '8152  1795659692.835118 socketpair(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0, '
    '[4<UNIX-STREAM:[10224->10225]>, 5<UNIX-STREAM:[10225->10224]>]) = 0 <0.000043>')
DATAGRAM_FROM_ABSTRACT = (
    '8152  1795659692.839014 recvfrom(4<UNIX:[10226,"\\x2f\\x74\\x6d\\x70\\x2f\\x64"]>, '
    '"\\x64\\x67\\x33", 100, 0, {sa_family=AF_UNIX, sun_path=@"\\x61\\x62"}, [110 => 4])'
    ' = 3 <0.001366>')


def is_data(frame):
    """True for a frame of these IPv4 flows that holds payload bytes: past
    its 58 bytes of headers, and no SYN (whose options come there)."""
    return len(frame) > 58 and not frame[51] & 0x02


def test_parser_reads_strace_unix_shapes():
    parser = StraceParser()
    [accepted] = parser.parse(ABSTRACT_ACCEPT)
    assert (accepted["fd"], accepted["inode"], accepted["peer_inode"], accepted["path"]) == (
        12, 9179, 9178, "@abs2")
    ends = parser.parse(SOCKETPAIR)
    assert [(end["fd"], end["inode"], end["peer_inode"]) for end in ends] == [
        (4, 10224, 10225), (5, 10225, 10224)]
    [datagram] = parser.parse(DATAGRAM_FROM_ABSTRACT)
    assert (datagram["protocol"], datagram["path"], datagram["peer_path"], datagram["payload"]) == (
        "UNIX", "/tmp/d", "@ab", b"dg3")
    assert not parser.skipped


def http2_stream(count, seed=1):
    """A client stream: preface, SETTINGS, then ``count`` HEADERS/DATA frames
    of random sizes (some above the 16 KiB a resync accepts)."""
    generator = random.Random(seed)
    frames = [PREFACE, frame(SETTINGS, 0, 0, b"\x00\x03\x00\x00\x00\x64")]
    for index in range(count):
        stream = 1 + 2 * (index % 7)
        size = generator.choice([0, 5, 300, 16384, 40000])
        frames.append(frame(HEADERS, 4, stream, b"h" * min(size, 100)))
        frames.append(frame(DATA, 0, stream, bytes(generator.getrandbits(8) for _ in range(size % 997))
                            + b"\x00" * (size - size % 997)))
    return b"".join(frames)


def feed_in_pieces(aligner, data, sizes):
    """Feed ``data`` cut at ``sizes`` (repeated); return all chunks and the drain."""
    chunks = []
    position = 0
    index = 0
    while position < len(data):
        size = sizes[index % len(sizes)]
        chunks += aligner.feed(data[position:position + size])
        position += size
        index += 1
    return chunks, aligner.drain()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=30000), min_size=1, max_size=20))
def test_aligner_cuts_on_frames_whatever_the_reads(sizes):
    data = http2_stream(30)
    chunks, rest = feed_in_pieces(FrameAligner(expect_preface=True), data, sizes)
    assert b"".join(chunk for chunk, _ in chunks) + rest == data
    assert rest == b""
    # Every chunk is whole frames (the first after the preface): they tile it exactly.
    for index, (chunk, whole) in enumerate(chunks):
        assert whole
        if index == 0:
            assert chunk.startswith(PREFACE)
            chunk = chunk[len(PREFACE):]
        ends = [offset + 9 + length for offset, length, *_ in iter_frames(chunk)]
        assert ends[-1:] == [len(chunk)] or chunk == b""


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=0, max_size=3000), st.lists(st.integers(1, 5000), min_size=1, max_size=8))
def test_aligner_resyncs_after_garbage_without_losing_bytes(garbage, sizes):
    data = http2_stream(10, seed=2)[len(PREFACE):]
    # Garbage that, with the bytes after it, reads as a frame header (three
    # zero bytes before a SETTINGS frame read as an empty DATA frame) is a
    # boundary no aligner can tell from a real one.
    stream = garbage + data
    assume(not any(plausible_frame(stream, offset) for offset in range(len(garbage))))
    aligner = FrameAligner(synced=False)
    chunks, rest = feed_in_pieces(aligner, garbage + data, sizes)
    assert b"".join(chunk for chunk, _ in chunks) + rest == garbage + data
    # Once synced, the frames come out whole.
    aligned = b"".join(chunk for chunk, whole in chunks if whole)
    assert aligned == b"" or data.endswith(aligned)


def test_aligner_syncs_on_a_small_frame_before_a_long_one():
    """Attached mid-stream, a gRPC server's first write: a HEADERS frame
    and a DATA frame of 196 596 bytes (gRPC allows 4 MiB frames).  The long
    frame confirms the boundary the HEADERS frame opens: both go out whole
    (a helper's trace lost them, "of a frame begun before the trace")."""
    headers = frame(HEADERS, 4, 177, b"x" * 25)
    data = frame(DATA, 0, 177, b"\x00\x00\x02\xff\xef" + b"w" * 196591)
    tail = b"\x77" * 40  # the end of a frame begun before the trace
    aligner = FrameAligner(synced=False)
    chunks = aligner.feed(tail + headers + data)
    assert chunks[0] == (tail, False)
    assert b"".join(chunk for chunk, whole in chunks[1:] if whole) == headers + data
    assert all(whole for _chunk, whole in chunks[1:]) and not aligner.held


def test_aligner_syncs_on_a_long_frame_that_fills_the_first_read():
    """Attached mid-stream, a gRPC client's first sendmsg is one DATA frame
    of 103 556 bytes: its header opens the syscall's bytes and its frame
    ends with them, so it is a boundary whatever its length (a helper's
    trace left 103 565 bytes out).  A first read that holds only the start
    of such a frame confirms nothing: its bytes go out unaligned."""
    data = frame(DATA, 0, 177, b"\x77" * 103556)
    aligner = FrameAligner(synced=False)
    assert aligner.feed(data) == [(data, True)]
    mid = FrameAligner(synced=False)
    chunks = mid.feed(data[:60000])
    assert all(not whole for _chunk, whole in chunks)


def test_aligner_holds_at_most_one_bounded_frame():
    """A 10 MB frame goes through as it comes; small frames are held whole."""
    aligner = FrameAligner()
    big = frame(DATA, 0, 1, b"\x01" * 10_000_000)
    emitted = 0
    for position in range(0, len(big), 50000):
        emitted += sum(len(chunk) for chunk, _ in aligner.feed(big[position:position + 50000]))
        assert len(aligner.held) <= MAX_HELD
    assert emitted == len(big)
    small = frame(HEADERS, 4, 3, b"x" * 100)
    assert aligner.feed(small[:50]) == []
    assert aligner.feed(small[50:]) == [(small, True)]


def test_aligner_is_linear_on_garbage():
    """Resynchronising scans forward only: 8x the bytes cost about 8x the
    time, also for garbage full of near-miss frame headers."""
    near_misses = (b"\x00\x40\x00\x00\x00\x00\x00\x00\x01" + b"\xff" * 23) * 1000
    generator = random.Random(3)

    def run(size):
        data = (near_misses + bytes(generator.getrandbits(8) for _ in range(32000))) * (size // 64000)
        aligner = FrameAligner(synced=False)
        started = time.perf_counter()
        out = 0
        for position in range(0, len(data), 4096):
            out += sum(len(chunk) for chunk, _ in aligner.feed(data[position:position + 4096]))
        out += len(aligner.drain())
        assert out == len(data)
        return time.perf_counter() - started

    small, large = run(256_000), run(2_048_000)
    assert large < 2.0
    assert large < 8 * small * 3


def test_packets_leave_with_their_syscall():
    """On a real HTTP/2 trace every byte is in a packet by the time the
    syscall that moved it is parsed (at most one split frame waits for its
    rest); the end of input adds no data."""
    parser = StraceParser()
    unix = UnixPacketizer()
    moved = emitted = 0
    for line in GRPC_CLIENT_TRACE.read_text().splitlines():
        for event in parser.parse(line):
            if event["protocol"] == SEND_PENDING:
                continue  # a mark for the time order, no socket event
            packets = unix.packets(event)
            moved += event["length"]
            emitted += sum(len(frame_bytes) - 58 for _t, frame_bytes, *_ in packets
                           if is_data(frame_bytes))
            held = sum(len(aligner.held) for flow in unix.flows.values()
                       for aligner in flow.aligners or ())
            assert held <= MAX_HELD
    assert moved == emitted == 904
    assert all(len(frame_bytes) == 58 for _t, frame_bytes, *_ in unix.flush())


def test_socket_without_peer_gets_a_flow_of_its_own():
    """Older kernels print a connected unix socket as a bare inode."""
    parser = StraceParser()
    unix = UnixPacketizer()
    packets = []
    for line in ('7 1795659692.100000 write(3<UNIX-STREAM:[555]>, "\\x61\\x62\\x63", 3) = 3 <0.000010>',
                 '7 1795659692.200000 read(3<UNIX-STREAM:[555]>, "\\x64", 10) = 1 <0.000010>',
                 '8 1795659692.300000 write(4<UNIX-STREAM:[556]>, "\\x65", 1) = 1 <0.000010>'):
        for event in parser.parse(line):
            packets += unix.packets(event)
    payloads = [(frame_bytes[30:38], frame_bytes[58:] if is_data(frame_bytes) else b"")
                for _t, frame_bytes, *_ in packets]
    # IPv4 source and destination: 10.0.0.1 -> 10.0.1.1 and back, then a second flow.
    assert payloads == [(bytes([10, 0, 0, 1, 10, 0, 1, 1]), b"abc"),
                        (bytes([10, 0, 1, 1, 10, 0, 0, 1]), b"d"),
                        (bytes([10, 0, 0, 1, 10, 0, 1, 1]), b"e")]
    assert unix.flow_count == 2


def test_a_client_writing_before_the_accept_meets_its_server_in_one_flow():
    """Until the server accepts, strace shows the client's socket without
    its peer (redis-benchmark writes first): the accepted end, which names
    the client's inode, joins that flow instead of opening a second one
    that would carry the client's bytes again."""
    path = '"\\x2f\\x72"'  # "/r"
    client = '10443 1795691099.%06d %s(5<UNIX-STREAM:[753312%s]>%s'
    server = '9756  1795691099.%06d %s(8<UNIX-STREAM:[752024->753312,' + path + ']>%s'
    lines = [
        client % (100, "connect", "", ', {sa_family=AF_UNIX, sun_path=%s}, 110) = 0 <0.000010>'
                  % path),
        client % (200, "sendto", "", ', "\\x53\\x45\\x54", 3, 0, NULL, 0) = 3 <0.000010>'),
        '9756  1795691099.000300 accept4(7<UNIX-STREAM:[752000,' + path + ']>, '
        '{sa_family=AF_UNIX}, [110 => 2], SOCK_CLOEXEC) = 8<UNIX-STREAM:[752024->753312,'
        + path + ']> <0.000010>',
        server % (400, "read", ', "\\x53\\x45\\x54", 16384) = 3 <0.000010>'),
        server % (500, "write", ', "\\x2b\\x4f\\x4b", 3) = 3 <0.000010>'),
        client % (600, "read", "->752024", ', "\\x2b\\x4f\\x4b", 16384) = 3 <0.000010>'),
    ]
    parser = StraceParser()
    unix = UnixPacketizer()
    packets = [packet for line in lines for event in parser.parse(line)
               for packet in unix.packets(event)]
    assert not parser.skipped
    data = [(frame_bytes[30:38], frame_bytes[58:]) for _t, frame_bytes, *_ in packets
            if is_data(frame_bytes)]
    assert data == [(bytes([10, 0, 0, 1, 10, 0, 1, 1]), b"SET"),
                    (bytes([10, 0, 1, 1, 10, 0, 0, 1]), b"+OK")]
    assert unix.flow_count == 1
    assert len(packets) == 3 + 2  # the handshake, once


def test_no_wireshark_dissector_claims_the_made_up_ports():
    """Wireshark picks a flow's dissector by its lower port first: a client
    port some protocol registers (10000 is NDMP's) would hide the flow's
    own protocol from a user who did not say -d."""
    claimed = set()
    for line in support.tshark("-G", "decodes").splitlines():
        table, port, _dissector = line.split("\t")
        if table in ("tcp.port", "udp.port"):
            claimed.add(int(port))
    assert 10000 in claimed  # NDMP's: the table is read right
    ours = set(range(FIRST_CLIENT_PORT, FIRST_CLIENT_PORT + CLIENT_PORTS)) | {SERVER_PORT}
    assert not claimed & ours


def test_a_blocking_accept_opens_its_connection_when_it_returns():
    """php-fpm waits in accept() for seconds; nginx's connect() is still
    unfinished when it returns (sweep of nginx -> php-fpm over a unix
    socket): the handshake is stamped at the accept's return, not 2.05 s
    early at its start, before the HTTP request that caused it."""
    path = '"\\x2f\\x70"'  # "/p"
    lines = [
        '3645  1795708931.076400 accept(12<UNIX-STREAM:[1354929,' + path + ']>,  <unfinished ...>',
        '3639  1795708933.123476 connect(11<UNIX-STREAM:[1354033]>, {sa_family=AF_UNIX, '
        'sun_path=' + path + '}, 110 <unfinished ...>',
        '3645  1795708933.123618 <... accept resumed>{sa_family=AF_UNIX}, [112 => 2]) = '
        '5<UNIX-STREAM:[1354978->1354033,' + path + ']> <2.047194>',
    ]
    parser = StraceParser()
    unix = UnixPacketizer()
    packets = [packet for line in lines for event in parser.parse(line)
               for packet in unix.packets(event)]
    assert [frame_bytes[51] for _t, frame_bytes, *_ in packets] == [0x02, 0x12, 0x10]  # SYN, SYN-ACK, ACK
    assert [time for time, *_ in packets] == pytest.approx([1795708931.076400 + 2.047194] * 3,
                                                           abs=1e-6)


def test_bytes_strace_cut_in_an_http2_flow_are_a_gap_not_a_frame():
    """A write cut by -s in an HTTP/2 flow: its whole frames go out, the
    frame the cut ends goes out as far as printed, and the bytes never
    printed are a gap in the sequence numbers; the next write starts a
    segment on its frame header.  A segment that declared the missing
    bytes, begun inside a frame, made Wireshark read 'mmmm' as a frame
    header of 7 MB and lose the rest of the direction; an empty segment
    went before each cut write."""
    def line(time, name, data, length=None, cut=False):
        printed = "".join("\\x%02x" % byte for byte in data)
        return ('7 1795659692.%06d %s(3<UNIX-STREAM:[100->101]>, "%s"%s, %d) = %d <0.000010>'
                % (time, name, printed, "..." if cut else "", length or len(data),
                   length or len(data)))
    settings = frame(SETTINGS, 0, 0)
    big = frame(DATA, 0, 1, b"m" * 20000)
    headers = frame(HEADERS, 4, 3, b"h" * 20)
    lines = ['7 1795659692.000100 connect(3<UNIX-STREAM:[100]>, {sa_family=AF_UNIX, '
             'sun_path="/g"}, 110) = 0 <0.000010>',
             line(200, "write", PREFACE + settings),
             line(300, "write", (settings + big)[:4000], length=len(settings + big), cut=True),
             line(400, "write", headers)]
    parser = StraceParser()
    unix = UnixPacketizer()
    packets = [packet for text in lines for event in parser.parse(text)
               for packet in unix.packets(event)]
    data = [(int.from_bytes(frame_bytes[42:46], "big"), frame_bytes[58:], wire_length)
            for _t, frame_bytes, wire_length, *_ in packets if is_data(frame_bytes)]
    assert [(payload, wire_length - 58) for _seq, payload, wire_length in data] == [
        (PREFACE + settings, len(PREFACE + settings)), (settings, 9),
        ((settings + big)[9:4000], 4000 - 9), (headers, len(headers))]
    assert data[3][0] - data[2][0] == len(big)  # the gap: 20009 - 3991 bytes never printed
    assert len(packets) == 3 + 4  # the handshake, then no empty segment


def test_the_summary_asks_for_a_larger_s_when_an_http2_flow_has_a_gap(tmp_path):
    """The bytes -s cut from an HTTP/2 flow are a gap, not lengths its
    packets declare: the summary still asks for the -s that keeps them (it
    said their readers' reads held them all: a helper's gRPC over a unix
    socket, 206 090 of 207 766 bytes unprinted)."""
    settings = frame(SETTINGS, 0, 0)
    cut = settings + frame(DATA, 0, 1, b"m" * 20000)
    lines = ['7 1795659692.000100 connect(3<UNIX-STREAM:[100]>, {sa_family=AF_UNIX, '
             'sun_path="/g"}, 110) = 0 <0.000010>',
             '7 1795659692.000200 write(3<UNIX-STREAM:[100->101]>, %s, %d) = %d <0.000010>'
             % (support.xx_string(PREFACE + settings), len(PREFACE + settings),
                len(PREFACE + settings)),
             '7 1795659692.000300 write(3<UNIX-STREAM:[100->101]>, %s..., %d) = %d <0.000010>'
             % (support.xx_string(cut[:4000]), len(cut), len(cut))]
    trace = tmp_path / "h2-cut.strace"
    trace.write_text("\n".join(lines) + "\n")
    summary = support.convert(trace, tmp_path / "out.pcap",
                              "--capture-unix-socket").stderr.decode().splitlines()
    assert "  1 payload cut by strace's -s (it would have been whole with -s %d)" % len(cut) \
        in summary
    assert any(line.endswith("http2: client->server %d bytes in syscalls, %d in pcap, "
                             "%d not shown by strace, server->client 0 bytes in syscalls, 0 in pcap, "
                             "0 not shown by strace" % (len(PREFACE) + 9 + len(cut), len(PREFACE) + 4009,
                                              len(cut) - 4000))
               for line in summary), summary


@pytest.mark.parametrize("failure, expected", [
    ('read(4<UNIX-STREAM:[101->100,"/s"]>, 0x7ffd5000, 4096) = -1 ECONNRESET (Connection '
     'reset by peer)', [(40000, "R", 0)]),
    ('write(4<UNIX-STREAM:[101->100,"/s"]>, "\\x6d\\x6f\\x72\\x65", 4) = -1 EPIPE '
     '(Broken pipe)', [(40000, "F", 0), (50051, "A", 0), (40000, "R", 0)]),
], ids=["ECONNRESET", "EPIPE"])
def test_a_call_meeting_the_peers_reset_on_a_unix_socket_is_its_rst(tmp_path, failure,
                                                                     expected):
    """A server traced alone (a helper's etcd and php-fpm over unix
    sockets): its read fails with ECONNRESET, or its write with EPIPE, as
    over TCP the peer's RST (after its FIN, for EPIPE); its close then
    sends nothing.  The flow ended with neither, then the server's FIN."""
    server = '4<UNIX-STREAM:[101->100,"/s"]>'
    trace = tmp_path / "reset.strace"
    trace.write_text("\n".join("10 1795795434.%06d %s <0.000010>" % (time, line) for time, line in [
        (100, 'accept4(5<UNIX-STREAM:[99,"/s"]>, {sa_family=AF_UNIX}, [110 => 2], '
              'SOCK_CLOEXEC) = %s' % server),
        (200, "read(%s, %s, 4096) = 2" % (server, support.xx_string(b"hi"))),
        (300, "write(%s, %s, 2) = 2" % (server, support.xx_string(b"ok"))),
        (400, failure),
        (500, "close(%s) = 0" % server)]) + "\n")
    pcap = tmp_path / "out.pcap"
    support.convert(trace, pcap, "--capture-unix-socket")
    after_data = [(segment.sport, str(segment.flags).replace("A", "") or "A", declared)
                  for _index, segment, _key, declared in support.tcp_segments(pcap)
                  if not segment.flags.S][3:]
    assert after_data == expected
    assert support.tcp_analysis_warnings(pcap) == ""


def test_a_servers_short_unix_connections_are_retired():
    """A unix server traced alone (a helper's php-fpm): once its FIN went
    and its client's never shows, a connection leaves the table of live
    flows (it kept every one)."""
    parser, unix = StraceParser(), UnixPacketizer()
    for number in range(50):
        server = '4<UNIX-STREAM:[%d->%d,"/s"]>' % (1000 + 2 * number, 1001 + 2 * number)
        lines = ['accept4(5<UNIX-STREAM:[99,"/s"]>, {sa_family=AF_UNIX}, [110 => 2], '
                 'SOCK_CLOEXEC) = %s' % server,
                 "read(%s, %s, 4096) = 2" % (server, support.xx_string(b"hi")),
                 "write(%s, %s, 2) = 2" % (server, support.xx_string(b"ok")),
                 "close(%s) = 0" % server]
        for offset, line in enumerate(lines):
            text = "10 %.6f %s <0.000010>" % (1795795434 + 10 * number + offset, line)
            for item in parser.parse(text):
                unix.packets(item)
    assert len({id(flow) for flow in unix.flows.values()}) <= 1


def test_a_unix_server_seen_after_its_clients_fin_joins_its_flow():
    """A Rust client connects (its peer's inode not shown yet), writes and
    shuts down before its server's accept line (a sweep's trace): one
    flow (the client's FIN retired it, and the accept began another)."""
    parser, unix = StraceParser(), UnixPacketizer()
    server = '7<UNIX-STREAM:[60994->60993,"/s"]>'
    lines = ['connect(6<UNIX-STREAM:[60993]>, {sa_family=AF_UNIX, sun_path="/s"}, 22) = 0',
             "sendto(6<UNIX-STREAM:[60993]>, %s, 3, MSG_NOSIGNAL, NULL, 0) = 3"
             % support.xx_string(b"abc"),
             "shutdown(6<UNIX-STREAM:[60993]>, SHUT_WR) = 0",
             'accept4(5<UNIX-STREAM:[60992,"/s"]>, {sa_family=AF_UNIX}, [110 => 2], '
             'SOCK_CLOEXEC) = %s' % server,
             "recvfrom(%s, %s, 65536, 0, NULL, NULL) = 3" % (server, support.xx_string(b"abc")),
             'recvfrom(%s, "", 65536, 0, NULL, NULL) = 0' % server]
    for offset, line in enumerate(lines):
        for item in parser.parse("10 %.6f %s <0.000010>" % (1795754188.6 + 0.001 * offset, line)):
            unix.packets(item)
    assert unix.flow_count == 1


def test_a_frame_begun_before_the_trace_is_a_gap_before_the_seeded_frames():
    """--seed-http2, a client traced from mid-stream on (strace -p) whose
    first read begins inside a DATA frame: the rest of that frame is left
    out (its sequence numbers before the first segment), and the server's
    first segment after the seeded SETTINGS begins on a frame header.
    Sent first, its bytes read as a frame header (a helper's gRPC attach:
    a length of 4.7 MB, 2 of 3202 packets of that direction decoded)."""
    rest = b"\xff" * 1500  # of a DATA frame begun before the trace
    frames = frame(DATA, 0, 3, b"d" * 100) + frame(HEADERS, 4, 5, b"h" * 20)
    line = ('7 1795659692.000100 recvfrom(3<UNIX-STREAM:[100->101]>, %s, 65536, 0, NULL, '
            'NULL) = %d <0.000010>' % (support.xx_string(rest + frames), len(rest + frames)))
    unix = UnixPacketizer(seed_http2=True)
    packets = [packet for event in StraceParser().parse(line) for packet in unix.packets(event)]
    packets += unix.flush()
    served = [(int.from_bytes(data[42:46], "big"), data[58:]) for _t, data, *_ in packets
              if Ether(data)[TCP].sport == SERVER_PORT and is_data(data)]
    (seed_seq, seed), (seq, first) = served[:2]
    assert seed == seed_frames()[1] and first.startswith(frames)
    assert seq - seed_seq == len(seed)
    assert rest[:8] not in b"".join(data for _seq, data in served)
    [flow] = unix.listed_flows
    assert "(and 1500 of a frame begun before the trace left out)" in flow.describe()


@pytest.mark.parametrize("response", [
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
    b'{"status":"start","id":"4f2a","Type":"container","Action":"start"}\n' * 20])
def test_seed_http2_leaves_a_flow_that_shows_no_frame_as_it_came(response):
    """--seed-http2, docker events attached to mid-stream: the daemon's
    HTTP/1.1 on docker.sock shows no HTTP/2 frame, so its bytes go out as
    they came, at their times, whole (a helper's: 5 of 1 794 bytes kept,
    the rest taken for a frame begun before the trace, stamped at epoch 0)."""
    lines = ['7 1795659692.%06d write(3<UNIX-STREAM:[101->100,"/d.sock"]>, %s, %d) = %d '
             '<0.000010>' % (100 * number, support.xx_string(piece), len(piece), len(piece))
             for number, piece in enumerate([response[:40], response[40:]], 1)]
    unix = UnixPacketizer(seed_http2=True)
    parser = StraceParser()
    packets = [packet for line in lines for event in parser.parse(line)
               for packet in unix.packets(event)]
    packets += unix.flush()
    served = [(time, data[58:]) for time, data, *_ in packets
              if Ether(data)[TCP].sport == SERVER_PORT and is_data(data)]
    assert b"".join(data for _time, data in served) == response
    times = [time for time, _data in served]
    assert times == sorted(times) and set(times) == {1795659692.0001, 1795659692.0002}
    assert unix.http2_flows == 0


def test_bytes_a_closed_end_read_are_not_lost_with_their_flow():
    """--seed-http2, a ttrpc client seen mid-stream (containerd's shim):
    its 10-byte replies, read one by one, were held for a frame boundary,
    and lost when the flow ended at its close (32 of 50 bytes, the summary
    silent).  The close lets them out first."""
    lines = []
    for number in range(5):
        request = (300).to_bytes(4, "big") + bytes([0, 0, 0, 5 + 2 * number, 1, 0]) + b"r" * 300
        reply = bytes([0, 0, 0, 0, 0, 0, 0, 5 + 2 * number, 2, 0])
        lines += ['7 1795659692.%06d write(30<UNIX-STREAM:[100->101]>, %s, %d) = %d <0.000010>'
                  % (1000 * number + 100, support.xx_string(request), len(request), len(request)),
                  '7 1795659692.%06d read(30<UNIX-STREAM:[100->101]>, %s, 4096) = 10 <0.000010>'
                  % (1000 * number + 200, support.xx_string(reply))]
    lines.append("7 1795659692.009000 close(30<UNIX-STREAM:[100->101]>) = 0 <0.000010>")
    unix = UnixPacketizer(seed_http2=True)
    parser = StraceParser()
    packets = [packet for line in lines for event in parser.parse(line)
               for packet in unix.packets(event)]
    packets += unix.flush()
    [flow] = unix.listed_flows
    assert "server->client 50 bytes in syscalls, 50 in pcap" in flow.describe(), flow.describe()


@pytest.mark.parametrize("reader_traced", [False, True])
def test_frame_headers_printed_after_a_cut_piece_stay_frames(reader_traced):
    """node's writev of HTTP/2 frames, each header a piece of its own, with
    -s 4096: the DATA payload pieces are cut, the headers after them
    printed.  Each goes at its place: the frames after a cut payload begin
    on their headers (they were dropped with the rest of the call: 387
    DATA frame headers in a sweep's trace, no request body decoded).  So
    too when the reader is traced: its reads, cut by the same -s, would
    carry little more (a sweep's node HTTP/2 over a unix socket, both ends
    traced: DATA frames decoded 2 -> 20)."""
    def xx(data):
        return "".join("\\x%02x" % byte for byte in data)
    settings = frame(SETTINGS, 0, 0)
    header = frame(DATA, 0, 1, b"m" * 8000)[:9]
    last = frame(DATA, 1, 1, b"end")
    lines = ['7 1795659692.000100 connect(3<UNIX-STREAM:[100]>, {sa_family=AF_UNIX, '
             'sun_path="/g"}, 110) = 0 <0.000010>',
             '7 1795659692.000200 write(3<UNIX-STREAM:[100->101]>, "%s", %d) = %d <0.000010>'
             % (xx(PREFACE + settings), len(PREFACE + settings), len(PREFACE + settings)),
             '7 1795659692.000300 writev(3<UNIX-STREAM:[100->101]>, [{iov_base="%s", iov_len=9}, '
             '{iov_base="%s"..., iov_len=8000}, {iov_base="%s", iov_len=%d}], 3) = %d <0.000010>'
             % (xx(header), xx(b"m" * 100), xx(last), len(last), 9 + 8000 + len(last))]
    if reader_traced:
        lines.insert(2, '8 1795659692.000250 read(4<UNIX-STREAM:[101->100,"/g"]>, "%s", 65536) = %d '
                        '<0.000010>' % (xx(PREFACE + settings), len(PREFACE + settings)))
    parser = StraceParser()
    unix = UnixPacketizer()
    packets = [packet for text in lines for event in parser.parse(text)
               for packet in unix.packets(event)]
    packets += [packet for event in parser.held_events() for packet in unix.packets(event)]
    data = [(int.from_bytes(frame_bytes[42:46], "big"), frame_bytes[58:])
            for _t, frame_bytes, *_ in packets if is_data(frame_bytes)]
    assert [payload for _seq, payload in data] == [
        PREFACE + settings, header + b"m" * 100, last]
    assert data[2][0] - data[1][0] == 9 + 8000  # the 7 900 bytes never printed: a gap


def test_a_seqpacket_read_of_nothing_is_its_end_not_a_datagram():
    """strace 6.1 names a SOCK_SEQPACKET socket plain "UNIX": its read of 0
    bytes after the peer's close is the end of the connection, not a
    datagram (sweep T: 51 datagrams for 50 messages)."""
    ends = ('[2416842->2416843,@"\\x73\\x65\\x71"]', "[2416843->2416842]")
    lines = [
        '5475  1795739651.593000 sendto(5<UNIX:%s>, "\\x68\\x69", 2, 0, NULL, 0) = 2 <0.000020>'
        % ends[1],
        '5516  1795739651.593100 recvfrom(4<UNIX:%s>, "\\x68\\x69", 70000, 0, NULL, NULL) = 2 '
        '<0.000020>' % ends[0],
        '5475  1795739651.593608 close(5<UNIX:%s>) = 0 <0.000062>' % ends[1],
        '5516  1795739651.593703 recvfrom(4<UNIX:%s>, "", 70000, 0, NULL, NULL) = 0 <0.000486>'
        % ends[0]]
    parser = StraceParser()
    unix = UnixPacketizer()
    sizes = [[len(frame) - 46 for event in parser.parse(line)  # UDP payload sizes
              for _time, frame, *_rest in unix.packets(event)] for line in lines]
    assert sizes[2:] == [[], []]  # the close, the end: no datagram


def test_a_write_after_unprinted_bytes_waits_for_the_readers_reads():
    """As over TCP: the server's write cut by -s, then a small write and
    its shutdown before the client reads; the client's reads carry the
    bytes the write did not show, and the small write follows them, then
    the FIN (node net at -s 65536: 58 240 bytes a connection lost; a Java
    transferTo and its trailer: 6 784)."""
    server = '7 1795659692.%06d %s(4<UNIX-STREAM:[601->600,"\\x2f\\x73"]>, %s <0.000010>'
    client = '7 1795659692.%06d %s(3<UNIX-STREAM:[600->601]>, %s <0.000010>'
    lines = [
        '7 1795659692.000001 connect(3<UNIX-STREAM:[600]>, {sa_family=AF_UNIX, '
        'sun_path="\\x2f\\x73"}, 110) = 0 <0.000010>',
        client % (2, "write", '"\\x51", 1) = 1'),
        server % (3, "read", '"\\x51", 100) = 1'),
        server % (4, "write", '"\\x61\\x62"..., 6) = 6'),
        server % (5, "write", '"\\x7a", 1) = 1'),
        server % (6, "shutdown", "SHUT_WR) = 0"),
        client % (7, "read", '"\\x61\\x62\\x63\\x64", 4) = 4'),
        client % (8, "read", '"\\x65\\x66\\x7a", 100) = 3'),
        '7 1795659692.000009 close(4<UNIX-STREAM:[601->600,"\\x2f\\x73"]>) = 0 <0.000010>',
        client % (10, "read", '"", 100) = 0'),
    ]
    parser, unix = StraceParser(), UnixPacketizer()
    packets = [packet for line in lines for event in parser.parse(line)
               for packet in unix.packets(event)] + unix.flush()
    server_side = [(Ether(frame)[TCP], frame) for _t, frame, *_ in packets
                   if Ether(frame)[TCP].sport == 50051]
    data = b"".join(frame[58:] for segment, frame in server_side if is_data(frame))
    assert data == b"abcdefz"
    assert [str(segment.flags) for segment, _frame in server_side][-2:] == ["PA", "FA"]
    [flow] = unix.listed_flows
    assert flow.cut == [0, 0]


def test_both_ends_first_seen_mid_stream_line_up_by_their_bytes():
    """As over TCP (see test_tcp_rules): a flow both of whose ends the trace
    shows from mid-stream on (strace -p), the server's first read of a
    request sent before the trace began: the client's next request follows
    it whole (both cursors at 0 cut its first 14 bytes).  The summary says
    the flow was first seen mid-stream, as for TCP (it did not)."""
    server = '7 1795659692.%06d %s(7<UNIX-STREAM:[5002->5001,"\\x2f\\x73"]>, %s <0.000010>'
    client = '8 1795659692.%06d %s(3<UNIX-STREAM:[5001->5002]>, %s <0.000010>'
    lines = [
        server % (1, "read", '%s, 100) = 14' % support.xx_string(b"*1 PING $4 xyz")),
        server % (2, "write", '%s, 7) = 7' % support.xx_string(b"+PONG\r\n")),
        client % (3, "read", '%s, 100) = 7' % support.xx_string(b"+PONG\r\n")),
        client % (4, "write", '%s, 19) = 19' % support.xx_string(b"*2 GET a-longer-key")),
        server % (5, "read", '%s, 100) = 19' % support.xx_string(b"*2 GET a-longer-key")),
    ]
    parser, unix = StraceParser(), UnixPacketizer()
    packets = [packet for line in lines for event in parser.parse(line)
               for packet in unix.packets(event)] + unix.flush()
    sent = {}
    for _time, frame, *_rest in packets:
        segment = Ether(frame)[TCP]
        sent[segment.sport] = sent.get(segment.sport, b"") + bytes(segment.payload)
    assert sent == {FIRST_CLIENT_PORT: b"*1 PING $4 xyz*2 GET a-longer-key",
                    SERVER_PORT: b"+PONG\r\n"}
    assert ("  unix: 1 stream connection was open before its first line (no connect() "
            "or accept(): strace -p, or -e trace= without them): no handshake") in unix.summary()


def test_a_datagram_read_in_part_is_written_once():
    """A SOCK_SEQPACKET message of 300 bytes read by recv(fd, buf, 100),
    then one of 5 read whole: two datagrams, each from its send (the
    short read's 100 bytes were a third; INET UDP already matched on the
    first bytes)."""
    def xx(data):
        return "".join("\\x%02x" % byte for byte in data)
    ends = ("[2416842->2416843]", "[2416843->2416842]")
    lines = [
        '5475  1795739651.593000 sendto(5<UNIX:%s>, "%s", 300, 0, NULL, 0) = 300 <0.000020>'
        % (ends[1], xx(b"m" * 300)),
        '5516  1795739651.593100 recvfrom(4<UNIX:%s>, "%s", 100, 0, NULL, NULL) = 100 '
        '<0.000020>' % (ends[0], xx(b"m" * 100)),
        '5475  1795739651.593200 sendto(5<UNIX:%s>, "%s", 5, 0, NULL, 0) = 5 <0.000020>'
        % (ends[1], xx(b"hello")),
        '5516  1795739651.593300 recvfrom(4<UNIX:%s>, "%s", 100, 0, NULL, NULL) = 5 '
        '<0.000020>' % (ends[0], xx(b"hello"))]
    parser = StraceParser()
    unix = UnixPacketizer()
    sizes = [len(frame) - 46 for line in lines for event in parser.parse(line)
             for _time, frame, *_rest in unix.packets(event)]  # UDP payload sizes
    assert sizes == [300, 5]
    assert "  unix: 2 datagrams seen by both ends written once" in unix.summary()


def test_a_datagram_longer_than_udp_holds_is_marked_cut():
    """A unix datagram of 70 000 bytes: the UDP datagram holds 65 507 of
    them and its record declares the whole length, so Wireshark marks the
    packet cut as it marks -s cuts (it looked whole)."""
    line = ('7 1795659692.000100 sendto(5<UNIX:[601->600]>, "%s", 70000, 0, NULL, 0) = 70000 '
            '<0.000010>' % ("\\x6d" * 70000))
    [event] = StraceParser().parse(line)
    unix = UnixPacketizer()
    [(_time, frame, wire_length, _event, _outbound)] = unix.packets(event)
    assert (len(frame) - 46, wire_length - 46) == (65507, 70000)  # Ethernet, 802.1Q, IPv4, UDP
    assert "  unix: 4493 datagram bytes beyond 65507 per datagram left out" in unix.summary()


def test_datagrams_of_the_same_first_bytes_from_a_traced_and_an_untraced_sender():
    """A syslog socket reads Z, from an untraced logger, then X, from the
    traced one: their first bytes are the same ("<13>Nov 27 20:03:52 ").
    Each is written once (a helper's: Z's read was taken for X's copy, Z
    lost and X written twice)."""
    def xx(data):
        return "".join("\\x%02x" % byte for byte in data)
    x = b"<13>Nov 27 20:03:52 traced: X from the traced logger"
    z = b"<13>Nov 27 20:03:52 untraced: Z from an untraced program"
    lines = [
        '23279 1795809832.825031 sendto(3<UNIX:[5502322->5502304]>, "%s", %d, 0, NULL, 0) = %d '
        '<0.000020>' % (xx(x), len(x), len(x)),
        '23092 1795809832.847561 recvfrom(3<UNIX:[5502304]>, "%s", 8192, 0, NULL, NULL) = %d '
        '<0.000014>' % (xx(z), len(z)),
        '23092 1795809832.847868 recvfrom(3<UNIX:[5502304]>, "%s", 8192, 0, NULL, NULL) = %d '
        '<0.000011>' % (xx(x), len(x))]
    parser = StraceParser()
    unix = UnixPacketizer()
    payloads = [frame[46:] for line in lines for event in parser.parse(line)
                for _time, frame, *_rest in unix.packets(event)]
    assert payloads == [x, z]
    assert "  unix: 1 datagram seen by both ends written once" in unix.summary()


def test_a_datagram_sent_through_a_symlink_goes_to_the_path_its_receiver_bound():
    """A logger connects to /dev/log, a symlink to the socket its syslog
    daemon bound; its sends show the receiver's inode.  Each datagram is
    written once, to the bound path (a helper's: every message twice, to
    two servers)."""
    def xx(data):
        return "".join("\\x%02x" % byte for byte in data)
    message = b"<13>Nov 27 20:03:25 viasymlink: message one"
    lines = [
        '21866 1795809805.770524 socket(AF_UNIX, SOCK_DGRAM|SOCK_CLOEXEC, 0) = 3<UNIX:[5499937]> '
        '<0.000020>',
        '21866 1795809805.770647 bind(3<UNIX:[5499937]>, {sa_family=AF_UNIX, sun_path="%s"}, 29) '
        '= 0 <0.000020>' % xx(b"/run/log.sock"),
        '21975 1795809805.783209 connect(3<UNIX:[5499947]>, {sa_family=AF_UNIX, sun_path="%s"}, '
        '110) = 0 <0.000020>' % xx(b"/dev/log"),
        '21975 1795809805.783557 sendto(3<UNIX:[5499947->5499937]>, "%s", %d, 0, NULL, 0) = %d '
        '<0.000020>' % (xx(message), len(message), len(message)),
        '21866 1795809805.783629 recvfrom(3<UNIX:[5499937,"%s"]>, "%s", 8192, 0, NULL, NULL) = %d '
        '<0.000020>' % (xx(b"/run/log.sock"), xx(message), len(message))]
    parser = StraceParser()
    unix = UnixPacketizer()
    frames = [frame for line in lines for event in parser.parse(line)
              for _time, frame, *_rest in unix.packets(event)]
    assert [frame[46:] for frame in frames] == [message]
    assert Ether(frames[0])[IP].dst == unix.addressing.server("/run/log.sock")[0]
    assert "  unix: 1 datagram seen by both ends written once" in unix.summary()


def test_bytes_cut_from_a_datagram_both_ends_show_are_counted_once():
    """Both ends of a 70 000-byte datagram traced: one packet, and the
    bytes beyond what UDP holds counted once (a helper's: twice)."""
    lines = ['7 1795659692.000100 sendto(5<UNIX:[601->600]>, "%s", 70000, 0, NULL, 0) = 70000 '
             '<0.000010>' % ("\\x6d" * 70000),
             '8 1795659692.000200 recvfrom(4<UNIX:[600->601]>, "%s", 80000, 0, NULL, NULL) = '
             '70000 <0.000010>' % ("\\x6d" * 70000)]
    parser = StraceParser()
    unix = UnixPacketizer()
    packets = [packet for line in lines for event in parser.parse(line)
               for packet in unix.packets(event)]
    assert len(packets) == 1
    assert "  unix: 4493 datagram bytes beyond 65507 per datagram left out" in unix.summary()


@pytest.mark.parametrize("first_bytes,from_client,dissector", [
    (b"GET /v1.43/containers/json HTTP/1.1\r\nHost: docker\r\n", True, "http"),
    (b"HTTP/1.1 200 OK\r\n", False, "http"),
    (b"*1\r\n$4\r\nPING\r\n", True, "resp"),
    ((8).to_bytes(4, "big") + (80877103).to_bytes(4, "big"), True, "pgsql"),  # SSLRequest
    ((40).to_bytes(4, "big") + (196608).to_bytes(4, "big") + b"user\x00", True, "pgsql"),
    (bytes(12) + (2013).to_bytes(4, "little") + bytes(5), True, "mongo"),
    (b"+OK\r\n", False, None),
    (b"\x00\x01 something else", True, None),
])
def test_a_flows_first_bytes_name_its_dissector(first_bytes, from_client, dissector):
    """No dissector owns the made-up port: the summary names the one a
    flow's first bytes begin as (a helper's PostgreSQL over a unix socket:
    no word of -d ...,pgsql, which decodes it)."""
    assert dissector_of(first_bytes, from_client) == dissector


def test_the_summary_says_how_to_decode_the_flows():
    lines = ['7 1795659692.000001 connect(3<UNIX-STREAM:[600]>, {sa_family=AF_UNIX, '
             'sun_path="\\x2f\\x73"}, 110) = 0 <0.000010>',
             '7 1795659692.000002 write(3<UNIX-STREAM:[600->601]>, %s, 14) = 14 <0.000010>'
             % support.xx_string(b"*1\r\n$4\r\nPING\r\n")]
    assert ("  unix: 1 flow begins as resp does: tshark -d tcp.port==50051,resp"
            in unix_summary(lines))


def test_the_summary_says_its_decode_as_takes_every_unix_flow():
    """Apache's binary cgid flows beside gunicorn's HTTP (a helper's
    trace): one -d for port 50051 decodes them all as HTTP, which showed
    them malformed; the summary says how many do not begin so."""
    lines = ['7 1795659692.000001 connect(3<UNIX-STREAM:[600]>, {sa_family=AF_UNIX, '
             'sun_path="\\x2f\\x73"}, 110) = 0 <0.000010>',
             '7 1795659692.000002 write(3<UNIX-STREAM:[600->601]>, %s, 14) = 14 <0.000010>'
             % support.xx_string(b"GET / HTTP/1.0"),
             '7 1795659692.000003 connect(4<UNIX-STREAM:[700]>, {sa_family=AF_UNIX, '
             'sun_path="\\x2f\\x74"}, 110) = 0 <0.000010>',
             '7 1795659692.000004 write(4<UNIX-STREAM:[700->701]>, %s, 4) = 4 <0.000010>'
             % support.xx_string(b"\x00\x01\x02\x03")]
    assert ("  unix: 1 flow begins as http does: tshark -d tcp.port==50051,http (it decodes "
            "all 2 unix flows so: 1 does not begin as http does)" in unix_summary(lines))


def test_http2_beside_http1_is_decoded_as_http(tmp_path):
    """A gRPC flow and an HTTP/1.1 one on unix sockets (dockerd's): the
    summary gives one Decode As for both, HTTP, whose dissector hands the
    flow that begins with the preface to HTTP/2 (-d ...,http2 left the
    HTTP/1.1 undecoded)."""
    settings, ping = frame(SETTINGS, 0, 0), frame(0x6, 0, 0, b"12345678")  # PING
    request = b"GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n"
    lines = ['7 1795659692.000001 connect(3<UNIX-STREAM:[600]>, {sa_family=AF_UNIX, '
             'sun_path="\\x2f\\x67"}, 110) = 0 <0.000010>',
             '7 1795659692.000002 write(3<UNIX-STREAM:[600->601]>, %s, %d) = %d <0.000010>'
             % (support.xx_string(PREFACE + settings + ping), len(PREFACE + settings + ping),
                len(PREFACE + settings + ping)),
             '7 1795659692.000003 connect(4<UNIX-STREAM:[700]>, {sa_family=AF_UNIX, '
             'sun_path="\\x2f\\x64"}, 110) = 0 <0.000010>',
             '7 1795659692.000004 write(4<UNIX-STREAM:[700->701]>, %s, %d) = %d <0.000010>'
             % (support.xx_string(request), len(request), len(request))]
    assert unix_summary(lines)[1] == ("  unix: Wireshark decodes HTTP/2 and HTTP/1.x with: "
                                      "tshark -d tcp.port==50051,http (Decode As... HTTP)")
    support.require("tshark")
    trace, pcap = tmp_path / "mixed.strace", tmp_path / "mixed.pcap"
    trace.write_text("\n".join(lines) + "\n")
    support.convert(trace, pcap, "--capture-unix-socket")
    decoded = support.tshark("-r", str(pcap), "-d", "tcp.port==50051,http", "-T", "fields",
                             "-e", "http2.type", "-e", "http.request.uri")
    assert sorted(line.strip() for line in decoded.splitlines() if line.strip()) == [
        "/_ping", "4,6"]


def test_bytes_read_after_a_shutdown_that_followed_epipe_come_before_the_peers_end():
    """The server traced alone (Node's grpc-js and http2): its write fails
    with EPIPE (the client closed), it shuts down, then reads the client's
    last bytes and its end.  The client's bytes, then its FIN and RST, in
    that order, no FIN from the reset server (a helper's: FIN and RST at
    the EPIPE, the bytes after them a sequence number late)."""
    end = '4<UNIX-STREAM:[5642561,"\\x2f\\x73"]>'
    lines = [
        '25888 1795810552.689370 accept4(3<UNIX-STREAM:[5642560,"\\x2f\\x73"]>, '
        '{sa_family=AF_UNIX}, [110 => 2], SOCK_CLOEXEC) = %s <0.08>' % end,
        '25888 1795810553.280022 sendto(%s, "\\x72\\x65", 2, 0, NULL, 0) = -1 EPIPE '
        '(Broken pipe) <0.000050>' % end,
        '25888 1795810553.281221 shutdown(%s, SHUT_WR) = 0 <0.000054>' % end,
        '25888 1795810553.281364 recvfrom(%s, %s, 100, 0, NULL, NULL) = 17 <0.000020>'
        % (end, support.xx_string(b"hello-from-client")),
        '25888 1795810553.281555 recvfrom(%s, "", 100, 0, NULL, NULL) = 0 <0.000051>' % end,
        '25888 1795810553.282689 close(%s) = 0 <0.000082>' % end]
    parser, unix = StraceParser(), UnixPacketizer()
    packets = [packet for line in lines for event in parser.parse(line)
               for packet in unix.packets(event)] + unix.flush()
    shown = [(Ether(data)[TCP].sport, Ether(data)[TCP].seq, str(Ether(data)[TCP].flags),
              bytes(Ether(data)[TCP].payload)) for _time, data, *_rest in packets]
    client = [entry for entry in shown if entry[0] == FIRST_CLIENT_PORT]
    first = client[-3][1]
    assert [(seq - first, flags, data) for _port, seq, flags, data in client[-3:]] == [
        (0, "PA", b"hello-from-client"), (17, "FA", b""), (18, "RA", b"")]
    assert not [entry for entry in shown if entry[0] == SERVER_PORT and "F" in entry[2]]


def test_a_read_of_many_small_frames_goes_out_in_segments_of_32_frames():
    """dockerd read 247 small gRPC DATA frames at once: one segment of them
    made Wireshark give up on it (Malformed, gui_max_tree_depth).  Segments
    of at most 32 whole frames, all the bytes in order."""
    frames = b"".join(frame(DATA, 0, 1, b"\x00\x00\x00\x00\x2d" + b"m" * 45)
                      for _ in range(100))
    chunks = FrameAligner().feed(frames)
    assert b"".join(chunk for chunk, _whole in chunks) == frames
    assert [len(list(iter_frames(chunk))) for chunk, _whole in chunks] == [32, 32, 32, 4]


def unix_summary(lines):
    """The unix packetizer's summary lines after strace ``lines``."""
    parser, unix = StraceParser(), UnixPacketizer()
    for line in lines:
        for event in parser.parse(line):
            unix.packets(event)
    return unix.summary()


def test_the_summary_lists_the_flows_that_carried_bytes():
    """nginx makes a socketpair per worker and closes most of them unused:
    they are counted, not listed one by one as '0 bytes' lines before the
    connections that carried something."""
    lines = ['7 1795659692.000001 socketpair(AF_UNIX, SOCK_STREAM, 0, [3<UNIX-STREAM:[500->501]>, '
             '4<UNIX-STREAM:[501->500]>]) = 0 <0.000010>',
             '7 1795659692.000002 close(3<UNIX-STREAM:[500->501]>) = 0 <0.000010>',
             '7 1795659692.000003 close(4<UNIX-STREAM:[501->500]>) = 0 <0.000010>',
             '7 1795659692.000004 connect(5<UNIX-STREAM:[600]>, {sa_family=AF_UNIX, '
             'sun_path="\\x2f\\x73"}, 110) = 0 <0.000010>',
             '7 1795659692.000005 write(5<UNIX-STREAM:[600->601]>, %s, 14) = 14 <0.000010>'
             % support.xx_string(b"*1\r\n$4\r\nPING\r\n")]
    summary = unix_summary(lines)
    assert summary[0] == "  unix: 2 stream connections (0 HTTP/2), 0 datagrams"
    assert "  unix: 1 stream connection carried no bytes (not listed)" in summary
    flow_lines = [line for line in summary if line.startswith("  unix 10.")]
    assert len(flow_lines) == 1 and "'/s'" in flow_lines[0]
    assert "client->server 14 bytes in syscalls, 14 in pcap" in flow_lines[0]

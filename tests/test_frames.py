"""The packetizer's frames equal scapy's, byte for byte.

For a table of events we build every expected frame with scapy layers
(Ether/Dot1Q/IP|IPv6/TCP|UDP/Raw, with the field values the README
promises: TTL 64, DF, IP id 0, window 65535) and compare with what
``InetPacketizer`` writes.  Sequence numbers are checked as offsets from
each direction's initial sequence number, so the table also states the
seq/ack/flag rules of a clean capture.
"""

import re

import pytest
from scapy.layers.inet import IP, TCP, UDP, in4_pseudoheader
from scapy.layers.inet6 import IPv6, in6_pseudoheader
from scapy.layers.l2 import Dot1Q, Ether
from scapy.packet import Raw
from scapy.utils import checksum

import support
from strace_parser_2_packet import InetPacketizer
from tcp_flow import initial_sequence, receive_time
from tcp_utils import SYSCALL_CODES, decimal_mac, link_header, syscall_mac

CLIENT4, SERVER4 = ("127.0.0.1", 40001), ("127.0.0.1", 18000)
CLIENT6, SERVER6 = ("::1", 40002), ("::1", 18000)
T0 = 1795659000.0


def event(syscall, direction=None, payload=b"", length=None, local=CLIENT4, remote=SERVER4,
          pid=4321, fd=5, session=0, time=T0, protocol=None, how=None, error=None):
    """An event dict as ``strace_parser`` makes it."""
    if protocol is None:
        protocol = "TCP" if syscall != "sendto" and syscall != "recvfrom" else "UDP"
        if local is not None and ":" in local[0] or remote is not None and ":" in remote[0]:
            protocol += "v6"
    return {"pid": pid, "time": time, "duration": 0.0, "syscall": syscall,
            "direction": direction, "result": len(payload) if length is None else length,
            "error": error, "payload": payload,
            "length": len(payload) if length is None else length, "how": how, "fd": fd,
            "protocol": protocol, "session": session, "local": local, "remote": remote,
            "inode": None, "peer_inode": None, "path": None}


def mac_text(raw):
    return ":".join("%02x" % byte for byte in raw)


def link(pid, fd, session, syscall, outbound):
    """Scapy Ether/Dot1Q for a packet of ``syscall`` by (pid, fd, session)."""
    process = mac_text(decimal_mac(pid))
    other = mac_text(syscall_mac(SYSCALL_CODES[syscall], session))
    source, destination = (process, other) if outbound else (other, process)
    return Ether(src=source, dst=destination) / Dot1Q(vlan=min(fd, 4095))


def network(source, destination, transport_length=None):
    if ":" in source[0]:
        return IPv6(src=source[0], dst=destination[0], hlim=64, plen=transport_length)
    return IP(src=source[0], dst=destination[0], ttl=64, flags="DF", id=0,
              len=None if transport_length is None else 20 + transport_length)


def scapy_tcp(source, destination, seq, ack, flags, payload=b"", length=None, urgent=0):
    """IP/TCP/Raw from scapy; ``length`` declares a longer (cut) payload."""
    # A SYN carries the maximum segment size and window scale 7.
    options = [("MSS", 65495), ("NOP", None), ("WScale", 7)] if "S" in str(flags) else []
    segment = TCP(sport=source[1], dport=destination[1], seq=seq & 0xFFFFFFFF,
                  ack=ack & 0xFFFFFFFF, flags=flags, window=65535, options=options,
                  urgptr=urgent)
    if length is None:
        return network(source, destination) / segment / Raw(payload)
    # Cut payload: the headers declare the real length; the checksum covers
    # the bytes we have, with the declared length in the pseudo-header.
    ip = network(source, destination, 20 + length)
    segment.chksum = 0
    segment.chksum = checksum(pseudo_header(ip, 6, 20 + length) + bytes(segment) + payload)
    return ip / segment / Raw(payload)


def pseudo_header(ip, protocol, length):
    if isinstance(ip, IPv6):
        return bytes(in6_pseudoheader(protocol, ip, length))
    return bytes(in4_pseudoheader(protocol, ip, length))


def scapy_udp(source, destination, payload, length=None):
    if length is None:
        datagram = UDP(sport=source[1], dport=destination[1])
        return network(source, destination) / datagram / Raw(payload)
    ip = network(source, destination, 8 + length)
    datagram = UDP(sport=source[1], dport=destination[1], len=8 + length, chksum=0)
    value = checksum(pseudo_header(ip, 17, 8 + length) + bytes(datagram) + payload)
    datagram.chksum = value or 0xFFFF
    return ip / datagram / Raw(payload)


def run(events, flush=True):
    packetizer = InetPacketizer()
    packets = [packet for item in events for packet in packetizer.packets(item)]
    if flush:
        packets += packetizer.flush()
    return packets


class Flow:
    """Expected TCP frames of one connection, seq/ack as offsets from the ISNs."""

    def __init__(self, client, server):
        self.client, self.server = client, server
        self.isn = {client: initial_sequence(client, server),
                    server: initial_sequence(server, client)}

    def frame(self, sender, flags, seq, ack, syscall, outbound, payload=b"", length=None,
              pid=4321, fd=5, session=0, urgent=0):
        receiver = self.server if sender == self.client else self.client
        ack_value = self.isn[receiver] + ack if "A" in flags else 0
        return bytes(link(pid, fd, session, syscall, outbound)
                     / scapy_tcp(sender, receiver, self.isn[sender] + seq, ack_value, flags,
                                 payload, length, urgent))


def assert_frames(packets, expected):
    assert [packet[1].hex() for packet in packets] == [frame.hex() for frame in expected]


@pytest.mark.parametrize("client,server", [(CLIENT4, SERVER4), (CLIENT6, SERVER6)],
                         ids=["ipv4", "ipv6"])
def test_client_connect_write_read_close(client, server):
    flow = Flow(client, server)
    c, s = client, server
    ends = dict(local=client, remote=server)
    packets = run([
        event("connect", local=None, remote=server, error="EINPROGRESS", time=T0),
        event("write", "out", b"GET / HTTP/1.0\r\n\r\n", time=T0 + 1, **ends),
        event("read", "in", b"HTTP/1.0 200 OK\r\n\r\nabc", time=T0 + 2, **ends),
        event("read", "in", b"", time=T0 + 3, **ends),
        event("close", time=T0 + 4, **ends),
    ])
    assert_frames(packets, [
        flow.frame(c, "S", 0, 0, "connect", True),
        flow.frame(s, "SA", 0, 1, "connect", False),
        flow.frame(c, "A", 1, 1, "connect", True),
        flow.frame(c, "PA", 1, 1, "write", True, b"GET / HTTP/1.0\r\n\r\n"),
        flow.frame(s, "PA", 1, 19, "read", False, b"HTTP/1.0 200 OK\r\n\r\nabc"),
        flow.frame(s, "FA", 23, 19, "read", False),
        flow.frame(c, "A", 19, 24, "read", True),
        flow.frame(c, "FA", 19, 24, "close", True),
        flow.frame(s, "A", 24, 20, "close", False),
    ])
    assert [packet[0] for packet in packets] == [T0] * 3 + [T0 + 1, T0 + 2, T0 + 3, T0 + 3,
                                                     T0 + 4, T0 + 4]


def test_server_accept_odd_lengths_and_shutdown():
    """accept's handshake comes from the peer; odd and one-byte payloads;
    shutdown(SHUT_WR) gives the FIN at once, SHUT_RD none."""
    flow = Flow(CLIENT4, SERVER4)
    c, s = CLIENT4, SERVER4
    server_side = dict(local=SERVER4, remote=CLIENT4, pid=77, fd=9)
    packets = run([
        event("accept4", **server_side),
        event("recvfrom", "in", b"x", protocol="TCP", **server_side),
        event("sendto", "out", b"abc", protocol="TCP", **server_side),
        event("shutdown", how="SHUT_RD", **server_side),
        event("shutdown", how="SHUT_WR", **server_side),
    ])
    frame = lambda *a, **k: flow.frame(*a, pid=77, fd=9, **k)  # noqa: E731
    assert_frames(packets, [
        frame(c, "S", 0, 0, "accept4", False),
        frame(s, "SA", 0, 1, "accept4", True),
        frame(c, "A", 1, 1, "accept4", False),
        frame(c, "PA", 1, 1, "recvfrom", False, b"x"),
        frame(s, "PA", 1, 2, "sendto", True, b"abc"),
        frame(s, "FA", 4, 2, "shutdown", True),
        frame(c, "A", 2, 5, "shutdown", False),
    ])


def test_mid_stream_large_write_is_split():
    """No handshake for a connection first seen mid-stream; 150000 bytes in
    one syscall become segments of 65495, 65495 and 19010 bytes."""
    flow = Flow(CLIENT4, SERVER4)
    data = bytes(range(251)) * 598  # 150098 bytes, odd length
    packets = run([event("writev", "out", data)])
    sizes = (65495, 65495, len(data) - 2 * 65495)
    offsets = (0, 65495, 2 * 65495)
    assert_frames(packets, [flow.frame(CLIENT4, "PA", offset, 0, "writev", True,
                                       data[offset:offset + size])
                            for offset, size in zip(offsets, sizes)])
    assert [packet[2] for packet in packets] == [len(packet[1]) for packet in packets]


def test_cut_payload_declares_full_length():
    """strace -s cut: the frame holds the printed bytes, the IP length and
    the pcap wire length declare the real size, the next seq skips it all."""
    flow = Flow(CLIENT6, SERVER6)
    printed = bytes(range(64))
    packets = run([
        event("write", "out", printed, length=1001, local=CLIENT6, remote=SERVER6),
        event("write", "out", b"z", local=CLIENT6, remote=SERVER6),
    ])
    assert_frames(packets, [
        flow.frame(CLIENT6, "PA", 0, 0, "write", True, printed, length=1001),
        flow.frame(CLIENT6, "PA", 1001, 0, "write", True, b"z"),
    ])
    assert packets[0][2] == len(packets[0][1]) + 1001 - 64


def test_both_ends_traced_each_byte_once():
    """The receiver's read of bytes the sender's write already carried adds
    nothing; the close FIN of one end is shown once the peer reads 0."""
    flow = Flow(CLIENT4, SERVER4)
    c, s = CLIENT4, SERVER4
    client = dict(local=CLIENT4, remote=SERVER4, pid=10, fd=3)
    server = dict(local=SERVER4, remote=CLIENT4, pid=20, fd=4)
    packets = run([
        event("connect", local=None, remote=SERVER4, pid=10, fd=3, time=T0),
        event("write", "out", b"hello", time=T0 + 1, **client),
        event("accept", time=T0 + 0.5, **server),
        event("read", "in", b"hel", time=T0 + 2, **server),
        event("read", "in", b"lo", time=T0 + 3, **server),
        event("close", time=T0 + 4, **client),
        event("read", "in", b"", time=T0 + 5, **server),
    ], flush=False)
    assert_frames(packets, [
        flow.frame(c, "S", 0, 0, "connect", True, pid=10, fd=3),
        flow.frame(s, "SA", 0, 1, "connect", False, pid=10, fd=3),
        flow.frame(c, "A", 1, 1, "connect", True, pid=10, fd=3),
        flow.frame(c, "PA", 1, 1, "write", True, b"hello", pid=10, fd=3),
        flow.frame(c, "FA", 6, 1, "close", True, pid=10, fd=3),
        flow.frame(s, "A", 1, 7, "close", False, pid=10, fd=3),
    ])
    assert [packet[0] for packet in packets][-2:] == [T0 + 4, T0 + 4]


@pytest.mark.parametrize("client,server", [(CLIENT4, SERVER4), (CLIENT6, SERVER6)],
                         ids=["ipv4", "ipv6"])
def test_udp_datagrams(client, server):
    """One datagram per syscall from the sockaddr strace printed; odd,
    empty and cut payloads; a datagram seen by both ends is written once."""
    packets = run([
        event("sendto", "out", b"ping!", local=client, remote=server, pid=5, fd=6),
        event("recvfrom", "in", b"ping!", local=server, remote=client, pid=6, fd=7),
        event("recvfrom", "in", b"", local=client, remote=server, pid=5, fd=6),
        event("sendto", "out", b"0123456789", length=3000, local=client, remote=server,
              pid=5, fd=6, session=2),
    ])
    assert_frames(packets, [
        bytes(link(5, 6, 0, "sendto", True) / scapy_udp(client, server, b"ping!")),
        bytes(link(5, 6, 0, "recvfrom", False) / scapy_udp(server, client, b"")),
        bytes(link(5, 6, 2, "sendto", True) / scapy_udp(client, server, b"0123456789", 3000)),
    ])
    assert packets[-1][2] == len(packets[-1][1]) + 2990


@pytest.mark.parametrize("client,server,largest", [(CLIENT4, SERVER4, 65507),
                                                   (CLIENT6, SERVER6, 65527)],
                         ids=["ipv4", "ipv6"])
def test_the_largest_datagram_of_each_family_is_whole(client, server, largest):
    """IPv6's payload length leaves its own header out: a UDP datagram over
    ::1 carries 20 bytes more than over IPv4 (65527, not 65507)."""
    payload = bytes(range(256)) * (largest // 256) + b"x" * (largest % 256)
    packets = run([event("sendto", "out", payload, local=client, remote=server, pid=5, fd=6)])
    assert_frames(packets, [
        bytes(link(5, 6, 0, "sendto", True) / scapy_udp(client, server, payload))])
    assert packets[0][2] == len(packets[0][1])  # nothing cut


def test_a_datagram_read_in_part_or_without_its_address_is_written_once():
    """Both ends traced: a read shorter than its datagram (MSG_TRUNC's whole
    length or msg_flags' cut one) and a recv() that asked for no sender
    (None: a placeholder would stand in) are the sender's datagrams, not new
    ones; the receiver's socket may be bound to 0.0.0.0.  A datagram no
    traced sender wrote is still written, from the placeholder."""
    bound_any = ("0.0.0.0", SERVER4[1])
    sent = [b"A" * 1000, b"B" * 1000, b"C" * 1000, b""]
    packets = run([
        event("sendto", "out", sent[0], local=CLIENT4, remote=SERVER4, pid=5, fd=6),
        event("recvfrom", "in", b"A" * 100, length=1000, local=SERVER4, remote=CLIENT4,
              pid=6, fd=7),
        event("sendto", "out", sent[1], local=CLIENT4, remote=SERVER4, pid=5, fd=6),
        event("recvmsg", "in", b"B" * 100, local=SERVER4, remote=CLIENT4, pid=6, fd=7,
              protocol="UDP"),
        event("sendto", "out", sent[2], local=CLIENT4, remote=SERVER4, pid=5, fd=6),
        event("recv", "in", b"C" * 10, local=bound_any, remote=None, pid=6, fd=7,
              protocol="UDP"),
        event("sendto", "out", sent[3], local=CLIENT4, remote=SERVER4, pid=5, fd=6),
        event("recv", "in", b"", local=SERVER4, remote=None, pid=6, fd=7,
              protocol="UDP"),
        event("recv", "in", b"untraced", local=SERVER4, remote=None, pid=6, fd=7,
              protocol="UDP"),
    ])
    assert [packet[1] for packet in packets[:4]] == [
        bytes(link(5, 6, 0, "sendto", True) / scapy_udp(CLIENT4, SERVER4, payload))
        for payload in sent]
    assert len(packets) == 5 and packets[4][1].endswith(b"untraced")
    assert packets[4][1][26 + 4:30 + 4] == bytes([198, 51, 100, 1])  # the placeholder sender


def test_a_datagram_read_without_an_address_is_told_from_one_of_the_same_first_bytes():
    """recv() without the sender's address reads Z, from an untraced
    program, then X, sent by a traced one: the same first 8 bytes, the
    rest not.  Z is written (from the placeholder) and X once, as tcpdump
    shows them (a helper's: X twice, Z lost)."""
    x, z = b"<13>Nov 2 traced X", b"<13>Nov 2 the untraced Z"
    packets = run([
        event("sendto", "out", x, local=CLIENT4, remote=SERVER4, pid=5, fd=6),
        event("recv", "in", z, local=SERVER4, remote=None, pid=6, fd=7, protocol="UDP"),
        event("recv", "in", x, local=SERVER4, remote=None, pid=6, fd=7, protocol="UDP"),
    ])
    assert [packet[1][-len(payload):] for packet, payload in zip(packets, [x, z])] == [x, z]
    assert len(packets) == 2


def test_a_datagram_to_another_loopback_address_read_on_a_wildcard_socket_is_written_once():
    """Both ends traced: a client sends to 127.0.0.5, a server bound to
    0.0.0.0 reads it (its socket shows no address sent to): the sender's
    datagram, written once (a helper's server: 11 datagrams for 8, each
    written again to 127.0.0.1)."""
    server_any, server5 = ("0.0.0.0", SERVER4[1]), ("127.0.0.5", SERVER4[1])
    packets = run([
        event("sendto", "out", b"to five", local=CLIENT4, remote=server5, pid=5, fd=6),
        event("recvfrom", "in", b"to five", local=server_any, remote=CLIENT4, pid=6, fd=7,
              protocol="UDP"),
    ])
    assert [packet[1] for packet in packets] == [
        bytes(link(5, 6, 0, "sendto", True) / scapy_udp(CLIENT4, server5, b"to five"))]


def test_a_sendmmsg_whose_receiver_wrote_its_first_message_keeps_its_order():
    """Both ends traced: the receiver's recvmmsg of a batch's first message
    returned (its line printed) before the sendmmsg did.  Its copy went at
    the read's end; the batch's other messages carry the send's start,
    earlier: they came before it, out of the sender's order (helper M:
    001 ... 007 000 in every batch).  They follow it now."""
    sent = [b"msg %d" % number for number in range(3)]
    read = event("recvmmsg", "in", sent[0], local=SERVER4, remote=CLIENT4, pid=6, fd=7,
                 time=T0 + 0.001, protocol="UDP")
    read["duration"] = 0.001
    packets = run([read] + [event("sendmmsg", "out", payload, local=CLIENT4, remote=SERVER4,
                                  pid=5, fd=6, time=T0, protocol="UDP") for payload in sent])
    assert [packet[1][-5:] for packet in packets] == sent
    assert [packet[0] for packet in packets] == [receive_time(read)] * 3


def test_a_datagram_read_without_an_address_comes_from_the_one_peer_its_socket_sent_to():
    """A DNS stub traced alone sends its query with sendto() and reads the
    answer with recv() (a helper's dig and memcached UDP clients): the
    answer comes from the server the query went to, to the query's port,
    and tshark pairs them (it came from the placeholder 198.51.100.1:9 to
    0.0.0.0: 31 unanswered DNS queries).  Once a socket sent to two peers,
    its reads without an address keep the placeholder."""
    bound_any = ("0.0.0.0", CLIENT4[1])
    other = ("127.0.0.2", 53)
    packets = run([
        event("sendto", "out", b"query", local=bound_any, remote=SERVER4, pid=5, fd=6),
        event("recv", "in", b"answer", local=bound_any, remote=None, pid=5, fd=6,
              protocol="UDP"),
        event("sendto", "out", b"query 2", local=bound_any, remote=other, pid=5, fd=6),
        event("recv", "in", b"answer 2", local=bound_any, remote=None, pid=5, fd=6,
              protocol="UDP"),
    ])
    assert packets[1][1] == bytes(link(5, 6, 0, "recv", False)
                                  / scapy_udp(SERVER4, CLIENT4, b"answer"))
    assert packets[3][1][26 + 4:30 + 4] == bytes([198, 51, 100, 1])  # the placeholder


def test_a_datagram_held_for_its_port_and_read_without_an_address_keeps_its_sender():
    """An unbound socket's first sendto waits for its port; its reader's
    recv() (no address) came in between: it is the same datagram, written
    once, from the sender's port when it shows (it was written from the
    placeholder 198.51.100.1:9, the sender's copy dropped)."""
    client = ("0.0.0.0", 45014)
    packets = run([
        event("sendto", "out", b"dgram 000 ", local=None, remote=SERVER4, pid=5, fd=3,
              time=T0),
        event("recvfrom", "in", b"dgram 000 ", local=SERVER4, remote=None, pid=6, fd=3,
              time=T0 + 0.001),
        event("sendto", "out", b"dgram 001 ", local=client, remote=SERVER4, pid=5, fd=3,
              time=T0 + 0.002),
    ])
    sender = ("127.0.0.1", 45014)
    assert [packet[1] for packet in packets] == [
        bytes(link(5, 3, 0, "sendto", True) / scapy_udp(sender, SERVER4, payload))
        for payload in (b"dgram 000 ", b"dgram 001 ")]


def test_unbound_udp_first_sendto_waits_for_its_port():
    """The first sendto of an unbound socket shows no local port: it is
    written when the next syscall shows it, from loopback (bound 0.0.0.0)."""
    packets = run([
        event("sendto", "out", b"q", local=None, remote=SERVER4, pid=5, fd=6, time=T0),
        event("recvfrom", "in", b"a", local=("0.0.0.0", 40123), remote=SERVER4, pid=5, fd=6,
              time=T0 + 1),
    ])
    client = ("127.0.0.1", 40123)
    assert_frames(packets, [
        bytes(link(5, 6, 0, "sendto", True) / scapy_udp(client, SERVER4, b"q")),
        bytes(link(5, 6, 0, "recvfrom", False) / scapy_udp(SERVER4, client, b"a")),
    ])
    assert [packet[0] for packet in packets] == [T0, T0 + 1]


def test_pid_fd_session_encoding():
    """Large pid, fd above the VLAN range, a later session: the README table."""
    flow = Flow(CLIENT4, SERVER4)
    packets = run([event("send", "out", b"a", pid=123456, fd=5000, session=3)])
    assert_frames(packets, [flow.frame(CLIENT4, "PA", 0, 0, "send", True, b"a",
                                       pid=123456, fd=5000, session=3)])
    ether = Ether(packets[0][1])
    assert ether.src == "00:00:00:12:34:56"
    assert ether.dst == "00:17:00:00:00:03"
    assert ether[Dot1Q].vlan == 4095


def test_link_header_examples_of_the_readme():
    assert decimal_mac(123456) == bytes.fromhex("000000123456")
    assert decimal_mac(654321) == bytes.fromhex("000000654321")
    header = link_header(654321, 7, 3, SYSCALL_CODES["sendto"], True, 0x0800)
    frame = Ether(header + bytes(IP()))
    assert (frame.src, frame.dst, frame[Dot1Q].vlan) == (
        "00:00:00:65:43:21", "00:06:00:00:00:03", 7)
    inbound = Ether(link_header(654321, 7, 3, SYSCALL_CODES["recvfrom"], False, 0x0800)
                    + bytes(IP()))
    assert (inbound.src, inbound.dst) == ("00:05:00:00:00:03", "00:00:00:65:43:21")


def test_syscall_codes_match_the_readme():
    readme = (support.REPO / "README.md").read_text()
    paragraph = readme[readme.index("Syscall codes:"):]
    paragraph = paragraph[:paragraph.index("\n\n")]
    documented = {name: int(code) for name, code in re.findall(r"(\w+) (\d+)", paragraph)
                  if name in SYSCALL_CODES}
    assert documented == SYSCALL_CODES


def test_scapy_accepts_our_checksums():
    """scapy recomputes the same IP/TCP/UDP checksums on our frames."""
    packets = run([
        event("write", "out", b"odd", local=CLIENT4, remote=SERVER4),
        event("write", "out", b"even", local=CLIENT6, remote=SERVER6),
        event("sendto", "out", b"\xff" * 7, local=CLIENT4, remote=SERVER4),
        event("sendto", "out", b"\x00\x01", local=CLIENT6, remote=SERVER6),
    ])
    for packet in packets:
        parsed = Ether(packet[1])
        layers = [layer for layer in (IP, TCP, UDP) if layer in parsed]
        for layer in layers:
            stored = parsed[layer].chksum
            del parsed[layer].chksum
            if layer is IP:
                del parsed[IP].len
            assert Ether(bytes(parsed))[layer].chksum == stored


def test_ipv4_mapped_endpoints_give_ipv4_frames():
    """A dual-stack socket talking to an IPv4 peer: strace shows
    ``TCPv6:[[::ffff:127.0.0.1]:18000->[::ffff:127.0.0.1]:40001]``, the wire IPv4."""
    flow = Flow(CLIENT4, SERVER4)
    packets = run([event("write", "out", b"hi", local=("::ffff:127.0.0.1", 18000),
                         remote=("::ffff:127.0.0.1", 40001), protocol="TCPv6")])
    assert_frames(packets, [flow.frame(SERVER4, "PA", 0, 0, "write", True, b"hi")])


def test_writes_cut_at_65535_bytes_fill_no_scaled_window(tmp_path):
    """Three writes -s cut at 65 535 bytes (65 495 + 40 printed), their
    reader's reads carrying the rest: with an unscaled 65535 window and no
    pure ACKs each filled the window exactly ("TCP window full", a helper's
    redis trace: 2999 times).  The SYNs scale it; only the first, before
    the reader's first packet, still fills it (a SYN's window is not scaled)."""
    support.require("tshark")
    quote = lambda data: support.strace_quote(data, "xx")  # noqa: E731
    client, server = "127.0.0.1:40000->127.0.0.1:8080", "127.0.0.1:8080->127.0.0.1:40000"
    value = (bytes(range(256)) * 600)[:150050]
    lines = ['7 1795659000.000000 connect(3<TCP:[9]>, {sa_family=AF_INET, sin_port=htons(8080), '
             'sin_addr=inet_addr("127.0.0.1")}, 16) = 0 <0.000010>',
             '8 1795659000.000100 accept4(5<TCP:[127.0.0.1:8080]>, NULL, NULL, 0) = 4<TCP:[%s]> '
             '<0.000010>' % server]
    time = 1795659000.01
    for _ in range(3):
        lines.append('7 %.6f write(3<TCP:[%s]>, "%s"..., %d) = %d <0.000100>'
                     % (time, client, quote(value[:65535]), len(value), len(value)))
        lines.append('8 %.6f read(4<TCP:[%s]>, "%s", 262144) = %d <0.000010>'
                     % (time + 0.001, server, quote(value), len(value)))
        lines.append('8 %.6f write(4<TCP:[%s]>, "%s", 5) = 5 <0.000010>'
                     % (time + 0.002, server, quote(b"+OK\r\n")))
        time += 0.01
    trace = tmp_path / "cut.strace"
    trace.write_text("\n".join(lines) + "\n")
    pcap = tmp_path / "cut.pcap"
    support.convert(trace, pcap)
    full = support.tshark("-r", str(pcap), "-Y", "tcp.analysis.window_full", "-T", "fields",
                          "-e", "frame.number")
    assert full.split() == ["5"]  # 65 495 + 40 bytes after the handshake's 3 packets


@pytest.mark.parametrize("client,server", [(CLIENT4, SERVER4), (CLIENT6, SERVER6)],
                         ids=["ipv4", "ipv6"])
def test_an_urgent_send_carries_urg_and_its_pointer(client, server):
    """send(MSG_OOB) (a helper's Python client: b"normal", b"!" urgent,
    b"tail"): tcpdump shows the urgent byte's segment with URG and urgent
    pointer 1, past its last byte; the others without.  A 70 000-byte
    urgent send: only its last segment, pointer past its last byte."""
    flow = Flow(client, server)
    urgent = [dict(event("send", "out", payload, local=client, remote=server),
                   urgent=True) for payload in (b"!", b"u" * 70000)]
    packets = run([event("write", "out", b"normal", local=client, remote=server), urgent[0],
                   event("write", "out", b"tail", local=client, remote=server), urgent[1]],
                  flush=False)
    big = 70000 - 65495
    assert_frames(packets, [
        flow.frame(client, "PA", 0, 0, "write", True, b"normal"),
        flow.frame(client, "PAU", 6, 0, "send", True, b"!", urgent=1),
        flow.frame(client, "PA", 7, 0, "write", True, b"tail"),
        flow.frame(client, "PA", 11, 0, "send", True, b"u" * 65495),
        flow.frame(client, "PAU", 11 + 65495, 0, "send", True, b"u" * big, urgent=big)])

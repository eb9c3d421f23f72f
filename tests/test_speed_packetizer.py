"""The fast paths of issue 10 build what the plain ones did, byte for byte.

Frames: ``HeaderTemplate`` packs a frame's headers in one struct with
checksums kept as plain sums; scapy, building the same IP/TCP/UDP layers,
is the oracle, also where a checksum wraps (a sum that is a multiple of
0xFFFF: TCP sends 0x0000, UDP 0xFFFF).  Writers: packets joined into one
write still reach the file at every ``flush()`` (a live trace's idle
pause).  Tables: the datagram sightings forget the oldest key first.
"""

import io

from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.packet import Raw

from bounded_tables import SIGHTINGS_SCANNED, DatagramSightings, datagram_body
from pcap_output import PCAP_FILE_HEADER, PcapngOutput, PcapOutput
from tcp_utils import PROTO_TCP, PROTO_UDP, HeaderTemplate

LINK = bytes(range(18))
ENDPOINTS = {4: (("127.0.0.1", 40001), ("10.1.2.3", 8080)),
             6: (("::1", 40002), ("fd00::80", 443))}


def scapy_network(family, source, destination):
    if family == 6:
        return IPv6(src=source[0], dst=destination[0], hlim=64)
    return IP(src=source[0], dst=destination[0], ttl=64, flags="DF", id=0)


def scapy_tcp(family, seq, ack, flags, payload):
    """The frame scapy makes; a SYN carries the maximum segment size and
    window scale 7, no payload."""
    source, destination = ENDPOINTS[family]
    syn = flags & 0x02
    options = [("MSS", 65495), ("NOP", None), ("WScale", 7)] if syn else []
    return bytes(scapy_network(family, source, destination)
                 / TCP(sport=source[1], dport=destination[1], seq=seq, ack=ack, flags=flags,
                       window=65535, options=options) / Raw(b"" if syn else payload))


def scapy_udp(family, payload):
    source, destination = ENDPOINTS[family]
    return bytes(scapy_network(family, source, destination)
                 / UDP(sport=source[1], dport=destination[1]) / Raw(payload))


@settings(max_examples=150, deadline=None)
@given(family=st.sampled_from([4, 6]), seq=st.integers(0, 2 ** 40), ack=st.integers(0, 2 ** 40),
       flags=st.sampled_from([0x02, 0x12, 0x10, 0x18, 0x11]),
       payload=st.binary(max_size=600))
def test_tcp_frame_is_scapys(family, seq, ack, flags, payload):
    """Any seq/ack (wrapped to 32 bits), odd and even payloads, both families."""
    template = HeaderTemplate(*ENDPOINTS[family], PROTO_TCP)
    frame = template.tcp_frame(LINK, seq, ack, flags, payload, len(payload))
    assert frame[:18] == LINK
    assert frame[18:] == scapy_tcp(family, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, flags, payload)


@settings(max_examples=150, deadline=None)
@given(family=st.sampled_from([4, 6]), payload=st.binary(max_size=600))
def test_udp_frame_is_scapys(family, payload):
    template = HeaderTemplate(*ENDPOINTS[family], PROTO_UDP)
    frame = template.udp_frame(LINK, payload, len(payload))
    assert frame[18:] == scapy_udp(family, payload)


def wrapping_word(checksum_with_zero_word):
    """The 16-bit word that, put in place of a zero word, makes the one's
    complement sum 0xFFFF (a multiple of 0xFFFF): the checksum then wraps."""
    folded = ~checksum_with_zero_word & 0xFFFF
    return (0xFFFF - folded).to_bytes(2, "big")


def test_checksums_that_wrap():
    """A TCP sum of 0xFFFF is sent as 0x0000; a UDP one as 0xFFFF (RFC 768)."""
    for family in (4, 6):
        zero_tcp = scapy_tcp(family, 7, 9, 0x18, b"ab\x00\x00")
        header_size = 40 if family == 6 else 20
        payload = b"ab" + wrapping_word(int.from_bytes(zero_tcp[header_size + 16:][:2], "big"))
        template = HeaderTemplate(*ENDPOINTS[family], PROTO_TCP)
        frame = template.tcp_frame(LINK, 7, 9, 0x18, payload, len(payload))
        assert frame[18 + header_size + 16:][:2] == b"\x00\x00"
        assert frame[18:] == scapy_tcp(family, 7, 9, 0x18, payload)

        zero_udp = scapy_udp(family, b"ab\x00\x00")
        payload = b"ab" + wrapping_word(int.from_bytes(zero_udp[header_size + 6:][:2], "big"))
        template = HeaderTemplate(*ENDPOINTS[family], PROTO_UDP)
        frame = template.udp_frame(LINK, payload, len(payload))
        assert frame[18 + header_size + 6:][:2] == b"\xff\xff"
        assert frame[18:] == scapy_udp(family, payload)


def packet(number, size=100):
    event = {"pid": 10, "fd": 3, "syscall": "write", "result": size, "session": 0,
             "protocol": "TCP", "inode": None}
    return (1795659000.0 + number, bytes([number % 256]) * size, size, event, True)


def test_pcap_writer_pushes_pending_packets_at_flush():
    """Packets wait in memory for one joined write, but every flush() (the
    converter's idle pause) puts all written so far in the file."""
    file = io.BytesIO()
    writer = PcapOutput(file)
    writer.write(packet(1))
    writer.write(packet(2))
    writer.flush()
    assert len(file.getvalue()) == PCAP_FILE_HEADER.size + 2 * (16 + 100)
    assert file.getvalue().endswith(bytes([2]) * 100)
    writer.write(packet(3))
    writer.flush()
    assert file.getvalue().endswith(bytes([3]) * 100)


def test_pcapng_writer_pushes_pending_packets_at_flush_and_close():
    file = io.BytesIO()
    writer = PcapngOutput(file, "py-strace2pcap test")
    writer.write(packet(1))
    writer.flush()
    flushed = file.getvalue()
    assert bytes([1]) * 100 in flushed
    writer.write(packet(2))
    closed = []
    file.close = lambda: closed.append(file.getvalue())  # keep the bytes readable
    writer.close()
    assert closed[0].startswith(flushed) and bytes([2]) * 100 in closed[0][len(flushed):]


def test_large_frames_are_written_without_waiting_for_flush():
    """Pending bytes are bounded (64 KiB): a big frame goes to the file at once."""
    file = io.BytesIO()
    writer = PcapOutput(file)
    writer.write(packet(1, size=70000))
    assert len(file.getvalue()) == PCAP_FILE_HEADER.size + 16 + 70000


def test_datagram_sightings_forget_the_oldest_first():
    sightings = DatagramSightings(limit=3)
    for key in "abc":
        assert not sightings.seen_from_other_end(key, outbound=True)
    assert not sightings.seen_from_other_end("d", outbound=True)  # "a" forgotten
    assert not sightings.seen_from_other_end("a", outbound=False)  # new again: "b" forgotten
    assert sightings.seen_from_other_end("c", outbound=False)
    assert sightings.seen_from_other_end("d", outbound=False)
    assert not sightings.seen_from_other_end("b", outbound=False)
    assert len(sightings.sightings) == len(sightings.keys) == 3


def test_datagram_sightings_of_one_end_alone_stay_bounded():
    """A server traced alone reads 100 datagrams of one key, none of them
    written by a traced sender: at most 4 ``limit`` of them are kept (no
    bound before: each sighting went through all those before it, 20 000
    statsd datagrams took 17 s), and the newest still meets its sender."""
    sightings = DatagramSightings(limit=3)
    for number in range(100):
        body = datagram_body(b"metric.%03d:1|c" % number, 14)
        assert sightings.seen_from_other_end("k", False, time=number, body=body) is None
        assert sightings.held <= 12
    assert sightings.seen_from_other_end("k", True, body=datagram_body(b"metric.099:1|c", 14)) == 99
    assert sightings.seen_from_other_end("k", True, body=datagram_body(b"metric.000:1|c", 14)) is None


def test_a_sighting_looks_through_the_newest_of_the_other_end_only():
    """A server traced alone reads untraced senders' datagrams of one key,
    a traced sender's among them: each of the traced sender's looks
    through the newest SIGHTINGS_SCANNED of the reads only (it went through
    them all: 44 000 statsd lines, 1 in 10 traced, took 24 s)."""
    sightings = DatagramSightings(limit=4096)
    count = SIGHTINGS_SCANNED + 100
    for number in range(count):
        body = datagram_body(b"servers.%04d:1|c" % number, 16)
        assert sightings.seen_from_other_end("k", False, time=number, body=body) is None
    newest = datagram_body(b"servers.%04d:1|c" % (count - 1), 16)
    too_old = datagram_body(b"servers.%04d:1|c" % 0, 16)
    assert sightings.seen_from_other_end("k", True, body=newest) == count - 1
    assert sightings.seen_from_other_end("k", True, body=too_old) is None

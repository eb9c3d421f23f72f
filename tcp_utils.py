"""Frame building shared by the INET and UNIX packetizers.

A frame is Ethernet / 802.1Q / IPv4 or IPv6 / TCP or UDP / payload, packed
with one precompiled ``struct.Struct`` per header.  ``HeaderTemplate`` holds
what is fixed for one direction of one conversation (addresses, ports,
the pseudo-header checksum) so that a packet costs a few ``pack`` calls.
``link_header`` encodes who made the syscall into the MACs and VLAN, as the
README's table says.  tests/test_frames.py checks every builder against
scapy's layers, byte for byte.
"""

import socket
import struct

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
ETHERTYPE_VLAN = 0x8100
PROTO_TCP = 6
PROTO_UDP = 17

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

IP_TTL = 64
IP_DONT_FRAGMENT = 0x4000
TCP_WINDOW = 65535
# VLAN ids are 12 bits and 4095 is reserved: fds from 4095 up all show as
# 4095 (the exact fd is in the pcapng comment).
VLAN_FD_LIMIT = 4095
# Largest TCP payload an IPv4 packet can carry (65535 - 20 - 20); IPv6 uses
# the same so that both families segment alike.
MAX_SEGMENT = 65495
# Largest UDP payload an IPv4 datagram can carry (65535 - 20 - 8).
MAX_DATAGRAM = 65507

# Ethernet dst, src, TPID 0x8100, TCI (priority 0, VLAN id), inner ethertype.
ETHER_VLAN = struct.Struct("!6s6sHHH")
# IPv4: version/IHL, TOS, total length, id, flags/fragment, TTL, protocol,
# header checksum, source, destination (RFC 791 section 3.1).
IPV4 = struct.Struct("!BBHHHBBH4s4s")
# IPv6: version/class/flow label, payload length, next header, hop limit,
# source, destination (RFC 8200 section 3).
IPV6 = struct.Struct("!IHBB16s16s")
# TCP: ports, seq, ack, data offset, flags, window, checksum, urgent pointer.
TCP = struct.Struct("!HHIIBBHHH")
TCP_DATA_OFFSET = 5 << 4
# UDP: ports, length, checksum.
UDP = struct.Struct("!HHHH")
FRAME_OVERHEAD = ETHER_VLAN.size


def ones_complement_sum(data):
    """The 16-bit one's complement sum of ``data`` (big-endian words, an odd
    last byte padded with zero), as an int in 0..0xFFFF, 0 only for all-zero data."""
    if len(data) % 2:
        data += b"\x00"
    # 2**16 == 1 (mod 0xFFFF), so the sum of the words is the number mod
    # 0xFFFF: one C-speed conversion instead of a Python loop over the words.
    value = int.from_bytes(data, "big")
    total = value % 0xFFFF
    return 0xFFFF if total == 0 and value else total


def finish_checksum(*partial_sums):
    """Combine partial one's complement sums into the checksum field value."""
    total = sum(partial_sums) % 0xFFFF
    if total == 0 and any(partial_sums):
        total = 0xFFFF
    return ~total & 0xFFFF


def decimal_mac(number):
    """A MAC whose hex digits read as the decimal ``number``: 123456 -> 00:00:00:12:34:56."""
    digits = "%012d" % (number % 10 ** 12)
    return bytes.fromhex(digits)


def syscall_mac(code, session):
    """The MAC of the syscall side: code in byte 1, session (8 decimal digits) in bytes 2-5."""
    return bytes.fromhex("00%02d%08d" % (code % 100, session % 10 ** 8))


def link_header(pid, fd, session, code, outbound, ethertype):
    """Ethernet + 802.1Q header for a packet caused by one syscall.

    The process MAC (``decimal_mac(pid)``) is the source of packets the
    process sends (``outbound``) and the destination of those it receives;
    the other MAC carries the syscall ``code`` and the fd ``session``; the
    VLAN id is the fd (capped at 4095).
    """
    process = decimal_mac(pid)
    syscall = syscall_mac(code, session)
    source, destination = (process, syscall) if outbound else (syscall, process)
    return ETHER_VLAN.pack(destination, source, ETHERTYPE_VLAN, min(fd, VLAN_FD_LIMIT), ethertype)


def address_bytes(ip):
    """Packed bytes of an IPv4 or IPv6 address string."""
    return socket.inet_pton(socket.AF_INET6 if ":" in ip else socket.AF_INET, ip)


class HeaderTemplate:
    """Fixed parts of the IP + TCP/UDP headers from one endpoint to another.

    ``source`` and ``destination`` are (ip string, port); both of one family.
    """

    def __init__(self, source, destination, protocol):
        self.source_ip = address_bytes(source[0])
        self.destination_ip = address_bytes(destination[0])
        self.source_port = source[1]
        self.destination_port = destination[1]
        self.protocol = protocol
        self.ipv6 = len(self.source_ip) == 16
        self.ethertype = ETHERTYPE_IPV6 if self.ipv6 else ETHERTYPE_IPV4
        # Pseudo-header (RFC 793 / RFC 8200 8.1) without its length field.
        self.pseudo_sum = ones_complement_sum(self.source_ip + self.destination_ip) + protocol
        # The UDP checksum's port words, summed once: udp_packet 2.2 -> 1.8 us.
        self.ports_sum = ones_complement_sum(struct.pack("!HH", self.source_port,
                                                         self.destination_port))
        if not self.ipv6:
            self.ip_fixed_sum = ones_complement_sum(IPV4.pack(
                0x45, 0, 0, 0, IP_DONT_FRAGMENT, IP_TTL, protocol, 0,
                self.source_ip, self.destination_ip))

    def ip_header(self, transport_length):
        """The IPv4 or IPv6 header for a transport segment of ``transport_length`` bytes."""
        if self.ipv6:
            return IPV6.pack(0x60000000, transport_length, self.protocol, IP_TTL,
                             self.source_ip, self.destination_ip)
        total_length = 20 + transport_length
        checksum = finish_checksum(self.ip_fixed_sum, total_length)
        return IPV4.pack(0x45, 0, total_length, 0, IP_DONT_FRAGMENT, IP_TTL, self.protocol,
                         checksum, self.source_ip, self.destination_ip)

    def tcp_packet(self, seq, ack, flags, payload, length=None):
        """IP + TCP headers + ``payload``.

        ``length`` is the segment's real payload length when strace cut the
        payload (the checksum then covers the printed bytes only).
        """
        length = len(payload) if length is None else length
        segment_length = 20 + length
        seq &= 0xFFFFFFFF
        ack &= 0xFFFFFFFF
        # The header's words summed directly: cheaper than packing it twice.
        header_sum = (self.source_port + self.destination_port + (seq >> 16) + (seq & 0xFFFF)
                      + (ack >> 16) + (ack & 0xFFFF) + (TCP_DATA_OFFSET << 8) + flags + TCP_WINDOW)
        checksum = finish_checksum(self.pseudo_sum, segment_length, header_sum,
                                   ones_complement_sum(payload))
        return (self.ip_header(segment_length)
                + TCP.pack(self.source_port, self.destination_port, seq, ack, TCP_DATA_OFFSET,
                           flags, TCP_WINDOW, checksum, 0)
                + payload)

    def udp_packet(self, payload, length=None):
        """IP + UDP headers + ``payload`` (``length`` as for ``tcp_packet``)."""
        length = len(payload) if length is None else length
        datagram_length = 8 + length
        checksum = finish_checksum(
            self.pseudo_sum, datagram_length, datagram_length, self.ports_sum,
            ones_complement_sum(payload))
        # RFC 768: a computed checksum of zero is sent as all ones.
        header = UDP.pack(self.source_port, self.destination_port, datagram_length,
                          checksum or 0xFFFF)
        return self.ip_header(datagram_length) + header + payload

# The syscall code carried in byte 1 of the syscall-side MAC (README table).
SYSCALL_CODES = {
    "read": 1, "write": 2, "sendmsg": 3, "recvmsg": 4, "recvfrom": 5, "sendto": 6,
    "close": 7, "readv": 8, "writev": 9, "sendmmsg": 10, "recvmmsg": 11,
    "connect": 12, "accept": 13, "accept4": 14, "shutdown": 15, "recv": 16, "send": 17,
    "socketpair": 18, "sendfile": 19, "sendfile64": 19,
}
# Packets that no syscall caused (HTTP/2 and gRPC seeding).
SYNTHETIC_CODE = 99


class LinkHeaders:
    """Cache of ``link_header`` pairs: ``for_event(event, ethertype)`` gives
    ``(inbound header, outbound header)`` for the packets one syscall causes."""

    def __init__(self, limit=65536):
        self.limit = limit
        self.cache = {}

    def for_event(self, event, ethertype, code=None):
        """Headers for ``event``'s pid, fd, session and syscall (or ``code``)."""
        code = SYSCALL_CODES.get(event["syscall"], 0) if code is None else code
        key = (event["pid"], event["fd"], event["session"], code, ethertype)
        pair = self.cache.get(key)
        if pair is None:
            if len(self.cache) >= self.limit:
                self.cache.clear()
            pair = self.cache[key] = tuple(
                link_header(event["pid"], event["fd"], event["session"], code, outbound, ethertype)
                for outbound in (False, True))
        return pair

"""Frame building shared by the INET and UNIX packetizers.

A frame is Ethernet / 802.1Q / IPv4 or IPv6 / TCP or UDP / payload, its
headers packed with one precompiled ``struct.Struct`` per family and
transport.  ``HeaderTemplate`` holds what is fixed for one direction of one
conversation (addresses, ports, the checksums' fixed words) so that a
packet costs one ``pack`` and one payload sum.
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

FIN, SYN, RST, PSH, ACK, URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20

IP_TTL = 64
IP_DONT_FRAGMENT = 0x4000
TCP_WINDOW = 65535
# VLAN ids are 12 bits and 4095 is reserved: fds from 4095 up all show as
# 4095 (the exact fd is in the pcapng comment).
VLAN_FD_LIMIT = 4095
# Largest TCP payload an IPv4 packet can carry (65535 - 20 - 20); IPv6 uses
# the same so that both families segment alike.
MAX_SEGMENT = 65495
# Largest UDP payload an IPv4 datagram can carry (65535 - 20 - 8), and an
# IPv6 one, whose payload length leaves its own header out (65535 - 8).
MAX_DATAGRAM = 65507
MAX_DATAGRAM_V6 = 65527

# Ethernet dst, src, TPID 0x8100, TCI (priority 0, VLAN id), inner ethertype.
ETHER_VLAN = struct.Struct("!6s6sHHH")
# IPv4: version/IHL, TOS, total length, id, flags/fragment, TTL, protocol,
# header checksum, source, destination (RFC 791 section 3.1).
IPV4 = struct.Struct("!BBHHHBBH4s4s")
# IPv6: version/class/flow label, payload length, next header, hop limit,
# source, destination (RFC 8200 section 3).
IPV6 = struct.Struct("!IHBB16s16s")
# TCP after the ports: seq, ack, data offset (5 words) and flags, window,
# checksum, urgent pointer.
TCP_DATA_OFFSET = 5 << 12
# A SYN's options: the maximum segment size (MAX_SEGMENT, as on loopback),
# NOP and window scale 7 (RFC 7323), so that Wireshark takes each end's
# window as 65535 << 7: with 65535 alone, 65 535 bytes a peer never ACKs
# in between (the pcap has no pure ACKs: a write -s cut there) filled the
# window exactly, "TCP window full" for Wireshark (and a SYN with options
# but no MSS is a note of its own).
SYN_OPTIONS = struct.pack("!BBHBBBB", 2, 4, MAX_SEGMENT, 1, 3, 3, 7)
SYN_DATA_OFFSET = (5 + len(SYN_OPTIONS) // 4) << 12
# A whole frame's headers in one pack: the link header of the syscall, then
# the IP and TCP/UDP headers with what one direction fixes packed once into
# blocks (``HeaderTemplate``): one pack per packet instead of four, and no
# joins (a TCP frame 2.3 -> 1.5 us, UDP 2.0 -> 1.25).  IPv4 blocks:
# version/IHL and TOS; id, flags/fragment, TTL and protocol; addresses and
# ports.  IPv6 blocks: version/class/flow label; next header, hop limit,
# addresses and ports.
LINK_IPV4_TCP = struct.Struct("!18s2sH6sH12sIIHHHH")
LINK_IPV6_TCP = struct.Struct("!18s4sH38sIIHHHH")
# UDP after the ports: length, checksum.
LINK_IPV4_UDP = struct.Struct("!18s2sH6sH12sHH")
LINK_IPV6_UDP = struct.Struct("!18s4sH38sHH")


def ones_complement_sum(data):
    """An int congruent, modulo 0xFFFF, to the 16-bit one's complement sum
    of ``data`` (big-endian words, an odd last byte padded with zero)."""
    # 2**16 == 1 (mod 0xFFFF), so the sum of the words is the number mod
    # 0xFFFF: one C-speed conversion instead of a Python loop over the words;
    # an odd last byte is a word's high byte: the number times 256.
    return int.from_bytes(data, "big") % 0xFFFF << (len(data) & 1) * 8


def checksum_field(total):
    """The checksum field value for a one's complement sum congruent to
    ``total`` (> 0): ``~sum & 0xFFFF``, the sum taken as 0xFFFF when it is
    a multiple of 0xFFFF (RFC 1071: nonzero words never sum to 0)."""
    return -total % 0xFFFF


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
    """What the IP + TCP/UDP headers from one endpoint to another fix: the
    header blocks of the frame structs and the checksums' fixed words.

    ``source`` and ``destination`` are (ip string, port); both of one family.
    """

    def __init__(self, source, destination, protocol):
        source_ip, destination_ip = address_bytes(source[0]), address_bytes(destination[0])
        ports = struct.pack("!HH", source[1], destination[1])
        self.ipv6 = len(source_ip) == 16
        self.ethertype = ETHERTYPE_IPV6 if self.ipv6 else ETHERTYPE_IPV4
        # Pseudo-header (RFC 793 / RFC 8200 8.1) without its length field,
        # plus the ports, which every TCP and UDP header has.
        self.transport_sum = ones_complement_sum(source_ip + destination_ip + ports) + protocol
        self.tcp_sum = self.transport_sum + TCP_DATA_OFFSET + TCP_WINDOW
        if self.ipv6:
            header = IPV6.pack(0x60000000, 0, protocol, IP_TTL, source_ip, destination_ip)
            self.version_block, self.address_block = header[:4], header[6:] + ports
        else:
            header = IPV4.pack(0x45, 0, 0, 0, IP_DONT_FRAGMENT, IP_TTL, protocol, 0,
                               source_ip, destination_ip)
            self.ip_sum = ones_complement_sum(header)
            self.version_block, self.middle_block = header[:2], header[4:10]
            self.address_block = header[12:] + ports

    def tcp_frame(self, link, seq, ack, flags, payload, length, urgent=0):
        """``link`` + IP + TCP headers + ``payload``, a segment of ``length``
        bytes of which ``payload`` holds those strace printed (fewer when
        its ``-s`` cut them: the checksum then covers the printed bytes).
        A SYN holds SYN_OPTIONS, no payload.  ``urgent``: the urgent
        pointer (with URG in ``flags``)."""
        offset = TCP_DATA_OFFSET
        tcp_sum = self.tcp_sum
        if flags & SYN:  # no payload, the options in its place
            payload, length = SYN_OPTIONS, len(SYN_OPTIONS)
            offset = SYN_DATA_OFFSET
            tcp_sum += SYN_DATA_OFFSET - TCP_DATA_OFFSET
        segment_length = 20 + length
        seq &= 0xFFFFFFFF
        ack &= 0xFFFFFFFF
        # seq and ack summed whole: 2**16 == 1 (mod 0xFFFF) adds their words.
        checksum = checksum_field(tcp_sum + segment_length + seq + ack + flags + urgent
                                  + ones_complement_sum(payload))
        if self.ipv6:
            return LINK_IPV6_TCP.pack(link, self.version_block, segment_length,
                                      self.address_block, seq, ack, offset | flags,
                                      TCP_WINDOW, checksum, urgent) + payload
        total_length = 20 + segment_length
        return LINK_IPV4_TCP.pack(link, self.version_block, total_length, self.middle_block,
                                  checksum_field(self.ip_sum + total_length), self.address_block,
                                  seq, ack, offset | flags, TCP_WINDOW, checksum, urgent) + payload

    def udp_frame(self, link, payload, length):
        """``link`` + IP + UDP headers + ``payload`` (``length`` as for ``tcp_frame``)."""
        datagram_length = 8 + length
        # The length is in the pseudo-header and in the UDP header: twice.
        checksum = checksum_field(self.transport_sum + 2 * datagram_length
                                  + ones_complement_sum(payload))
        # RFC 768: a computed checksum of zero is sent as all ones.
        checksum = checksum or 0xFFFF
        if self.ipv6:
            return LINK_IPV6_UDP.pack(link, self.version_block, datagram_length,
                                      self.address_block, datagram_length, checksum) + payload
        total_length = 20 + datagram_length
        return LINK_IPV4_UDP.pack(link, self.version_block, total_length, self.middle_block,
                                  checksum_field(self.ip_sum + total_length), self.address_block,
                                  datagram_length, checksum) + payload


# The syscall code carried in byte 1 of the syscall-side MAC (README table).
SYSCALL_CODES = {
    "read": 1, "write": 2, "sendmsg": 3, "recvmsg": 4, "recvfrom": 5, "sendto": 6,
    "close": 7, "readv": 8, "writev": 9, "sendmmsg": 10, "recvmmsg": 11,
    "connect": 12, "accept": 13, "accept4": 14, "shutdown": 15, "recv": 16, "send": 17,
    "socketpair": 18, "sendfile": 19, "sendfile64": 19, "splice": 20,
    # A FIN at the exit of the process that used the socket last.
    "exit": 21,
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
        # Keyed on the syscall's name: no code look-up on a hit.
        key = (event["pid"], event["fd"], event["session"],
               event["syscall"] if code is None else code, ethertype)
        pair = self.cache.get(key)
        if pair is None:
            if len(self.cache) >= self.limit:
                self.cache.clear()
            code = SYSCALL_CODES.get(event["syscall"], 0) if code is None else code
            pair = self.cache[key] = tuple(
                link_header(event["pid"], event["fd"], event["session"], code, outbound, ethertype)
                for outbound in (False, True))
        return pair

"""Packet writers: plain pcap, and pcapng with who-did-it on every packet.

Both take the packets of the packetizers, tuples ``(time, frame,
wire_length, event, outbound)``, one at a time: ``write(packet)``, then
``flush()`` and ``close()``.  ``describe(strace_flags)`` tells a writer the
strace options the trace was recorded with (see ``strace_flags``).

``PcapOutput`` writes classic pcap, the bytes scapy's ``RawPcapWriter``
writes, packed here (tests/test_bench_writer.py compares them).

``PcapngOutput`` writes the blocks of draft-ietf-opsawg-pcapng itself, with
``struct``: scapy's ``RawPcapNgWriter`` (2.5 to 2.8) opens its own file by
name (no standard output), takes comments and direction only through its
private ``_write_packet`` and cannot write an IDB description or a
Decryption Secrets Block -- and a packet costs here three ``pack`` calls and
one comment string per syscall; both writers join the bytes of many packets
into one ``write`` (``PendingWrites``).  The file holds:

* a Section Header Block naming the converter (``shb_userappl``);
* one Interface Description Block, Ethernet, ``if_name`` ``strace`` and an
  ``if_description`` with the converter's version and the strace options;
* with a TLS key log, a Decryption Secrets Block, before the first packet;
* an Enhanced Packet Block per packet, with ``epb_flags`` inbound/outbound
  and an ``opt_comment`` of key=value pairs (``packet_comment``).

The header blocks are written with the first packet (or at ``close``), so
that the strace options, seen on the line of the first packet, can be named.
"""

import re
import struct

LINKTYPE_ETHERNET = 1
SNAPLEN = 262144

# Classic pcap (draft-ietf-opsawg-pcap): the file header (magic, version
# 2.4, two reserved fields, SnapLen, LinkType), then per packet seconds,
# microseconds, captured length, original length.
PCAP_FILE_HEADER = struct.Struct("<IHHIIII")
PCAP_MAGIC_MICROSECONDS = 0xA1B2C3D4
PCAP_RECORD = struct.Struct("<IIII")
# Packets' bytes are collected and written in one join per this many bytes:
# a pcap packet costs 0.9 us instead of 1.2 with a write per record and frame.
PENDING_BYTES = 1 << 16

# Section 3.1, every block: Block Type, Block Total Length, Block Body (a
# multiple of 32 bits), Block Total Length.  Little-endian throughout.
BLOCK_HEADER = struct.Struct("<II")
BLOCK_TOTAL_LENGTH = struct.Struct("<I")
# Section 4.1, Section Header Block body: Byte-Order Magic, Major Version 1,
# Minor Version 0, Section Length (-1: not given).
SECTION_HEADER = struct.Struct("<IHHq")
BLOCK_TYPE_SHB = 0x0A0D0D0A
BYTE_ORDER_MAGIC = 0x1A2B3C4D
# Section 4.2, Interface Description Block body: LinkType, Reserved, SnapLen.
INTERFACE_DESCRIPTION = struct.Struct("<HHI")
BLOCK_TYPE_IDB = 0x00000001
# Section 4.3, Enhanced Packet Block: Block Type, Block Total Length,
# Interface ID, Timestamp (Upper), Timestamp (Lower), Captured Packet
# Length, Original Packet Length; then Packet Data padded to 32 bits.
ENHANCED_PACKET = struct.Struct("<IIIIIII")
BLOCK_TYPE_EPB = 0x00000006
# Section 4.7, Decryption Secrets Block body: Secrets Type, Secrets Length;
# then Secrets Data padded to 32 bits.
DECRYPTION_SECRETS = struct.Struct("<II")
BLOCK_TYPE_DSB = 0x0000000A
SECRETS_TYPE_TLS_KEY_LOG = 0x544C534B  # "TLSK": an NSS key log file
# Section 3.5, Options: Option Code, Option Length, value padded to 32 bits.
OPTION_HEADER = struct.Struct("<HH")
OPT_ENDOFOPT = 0
OPT_COMMENT = 1
SHB_USERAPPL = 4
IF_NAME = 2
IF_DESCRIPTION = 3
IF_TSRESOL = 9
TIMESTAMP_UNITS_PER_SECOND = 10 ** 6  # if_tsresol 6: microseconds, as strace -ttt
EPB_FLAGS = 2
# Section 4.3.1, epb_flags bits 0-1: 01 inbound, 10 outbound.
INBOUND, OUTBOUND = 1, 2
END_OF_OPTIONS = OPTION_HEADER.pack(OPT_ENDOFOPT, 0)
# epb_flags option and the end of options, for outbound=False / True.
FLAGS_AND_END = tuple(OPTION_HEADER.pack(EPB_FLAGS, 4) + struct.pack("<I", direction)
                      + END_OF_OPTIONS for direction in (INBOUND, OUTBOUND))
PADDING = (b"", b"\x00\x00\x00", b"\x00\x00", b"\x00")  # indexed by length % 4
UNIX_PATHS_KEPT = 65536
MAX_OPTION_LENGTH = 0xFFFF  # Option Length is 16 bits
# An EPB's bytes besides the frame, the comment and their padding.
EPB_OVERHEAD = (ENHANCED_PACKET.size + OPTION_HEADER.size + len(FLAGS_AND_END[0])
                + BLOCK_TOTAL_LENGTH.size)

# What the first socket line shows of the strace options it was written with.
LINE_START = re.compile(r"(?P<pid>\[pid\s+\d+\]\s+|\d+(?:<[^>]*>)?\s+)?"
                        r"(?P<time>\d+\.\d+|\d\d:\d\d:\d\d\.\d+|\d\d:\d\d:\d\d)?")
DURATION_AT_END = re.compile(r"<\d+\.\d+>$")
SOCKET_ANNOTATION = re.compile(r"\d+<[A-Za-z0-9-]+:\[")
# A string of nothing but \xHH escapes (-xx); the repetition is bounded so
# that a megabyte-long payload costs no more than a short one.
HEX_STRING = re.compile(r'"(?:\\x[0-9a-f]{2}){1,64}(?:"|\\x)')
# Comment values that need quotes: empty, or holding blanks, quotes,
# backslashes or control characters.
NEEDS_QUOTES = re.compile(r'^$|[\s"\\\x00-\x1f\x7f]')


def strace_flags(line):
    """The strace options a syscall line shows it was recorded with, as
    text (``"-f -ttt -T -yy -xx"``); ``-s`` leaves no mark and is not named."""
    start = LINE_START.match(line)
    flags = []
    if start.group("pid"):
        flags.append("-f")
    clock = start.group("time")
    if clock:
        flags.append("-tt" if ":" in clock and "." in clock else "-t" if ":" in clock
                     else "-ttt")
    if DURATION_AT_END.search(line):
        flags.append("-T")
    if SOCKET_ANNOTATION.search(line):
        flags.append("-yy")
    if HEX_STRING.search(line):
        flags.append("-xx")
    return " ".join(flags)


def comment_value(text):
    """``text`` as a comment value: as is, or in double quotes with
    backslash escapes when it holds blanks, quotes or control characters."""
    if NEEDS_QUOTES.search(text) is None:
        return text
    return '"%s"' % text.encode("unicode_escape").decode("ascii").replace('"', '\\"')


def packet_comment(event, missing, path=None):
    """The key=value comment of a packet caused by ``event`` whose payload
    lacks ``missing`` bytes that strace's ``-s`` cut, on a unix socket
    bound to ``path`` (see the README).  No pid column (strace without
    ``-f``): no pid key."""
    thread = event["pid"]
    process = event.get("process", thread)
    if not thread:
        who = ""
    elif process == thread:
        who = "pid=%d " % process
    else:
        who = "pid=%d tid=%d " % (process, thread)
    comm = event.get("comm")
    error = event.get("error")
    duration = event.get("duration")
    # One format, not a list of parts: this runs for every syscall.
    return "%s%sfd=%d syscall=%s ret=%d%s%s session=%d%s%s" % (
        who, "" if comm is None else "comm=%s " % comment_value(comm),
        event["fd"], event["syscall"], event["result"],
        "" if error is None else " errno=" + error,
        "" if duration is None else " duration=%.6f" % duration,
        event["session"],
        "" if path is None else " path=" + comment_value(path),
        " truncated=%d" % missing if missing else "")


def option(code, value):
    """One option (section 3.5): code, length, value padded to 32 bits."""
    return OPTION_HEADER.pack(code, len(value)) + value + PADDING[len(value) % 4]


def block(block_type, body):
    """One block (section 3.1): type, total length, body, total length;
    ``body`` must already be a multiple of 32 bits."""
    total = 12 + len(body)
    return BLOCK_HEADER.pack(block_type, total) + body + BLOCK_TOTAL_LENGTH.pack(total)


class PendingWrites:
    """What both writers share: ``_add`` queues a packet's bytes in
    ``pending`` (their count in ``pending_bytes``); they are written to the
    file in one join once PENDING_BYTES are pending, at ``flush`` and at
    ``close``.  ``missing_bytes``: the bytes the packets written declare and
    do not hold (what strace did not print and no other syscall showed)."""

    def __init__(self, file):
        """``file``: a binary file object, open for writing."""
        self.file = file
        self.pending = []
        self.pending_bytes = 0
        self.missing_bytes = 0

    def flush(self):
        """Push what is written to the file."""
        self._write_pending()
        self.file.flush()

    def close(self):
        """Flush and close the file."""
        self._write_pending()
        self.file.close()

    def _add(self, parts, size):
        """Queue the bytes ``parts`` of one packet, ``size`` bytes in all."""
        self.pending += parts
        self.pending_bytes += size
        if self.pending_bytes >= PENDING_BYTES:
            self._write_pending()

    def _write_pending(self):
        self.file.write(b"".join(self.pending))
        self.pending.clear()
        self.pending_bytes = 0


class PcapOutput(PendingWrites):
    """Classic pcap, Ethernet, microsecond timestamps.  Packed here, not with
    scapy's RawPcapWriter (same bytes): importing scapy.utils costs 0.27 s of
    start-up and 30 MB, its write_packet 15% of the CPU of bench small."""

    def __init__(self, file):
        """``file``: a binary file object, open for writing."""
        super().__init__(file)
        # Queued, not written: a file that cannot be written fails in the
        # conversion's first flush, where its error is told in one line.
        self._add((PCAP_FILE_HEADER.pack(PCAP_MAGIC_MICROSECONDS, 2, 4, 0, 0, SNAPLEN,
                                         LINKTYPE_ETHERNET),), PCAP_FILE_HEADER.size)

    def describe(self, flags):
        """Classic pcap has no place for the strace options: ignored."""

    def write(self, packet):
        """Write one packet tuple."""
        timestamp, frame, wire_length, _event, _outbound = packet
        self.missing_bytes += wire_length - len(frame)
        seconds = int(timestamp)
        self._add((PCAP_RECORD.pack(seconds, round((timestamp - seconds) * 1e6),
                                    len(frame), wire_length), frame), len(frame))


class PcapngOutput(PendingWrites):
    """pcapng with a comment and a direction on every packet; see the module doc."""

    def __init__(self, file, application, tls_key_log=None):
        """``file``: a binary file object open for writing; ``application``:
        the converter's name and version; ``tls_key_log``: bytes of an NSS
        key log to embed, or None."""
        super().__init__(file)
        self.application = application
        self.tls_key_log = tls_key_log
        self.flags = ""
        self.header_written = False
        self.last_event = None
        self.last_missing = 0
        self.last_comment = b""
        self.unix_paths = {}  # socket inode -> the path it is bound or connected to

    def describe(self, flags):
        """Name the strace options in the interface description (before the
        first packet only)."""
        self.flags = flags

    def write(self, packet):
        """Write one packet tuple as an Enhanced Packet Block."""
        if not self.header_written:
            self._write_header()
        timestamp, frame, wire_length, event, outbound = packet
        missing = wire_length - len(frame)
        self.missing_bytes += missing
        # The packets of one syscall (a handshake, a big write) share a comment.
        if event is not self.last_event or missing != self.last_missing:
            self.last_event, self.last_missing = event, missing
            self.last_comment = packet_comment(
                event, missing, self._unix_path(event)).encode()[:MAX_OPTION_LENGTH]
        comment = self.last_comment
        ticks = int(round(timestamp * TIMESTAMP_UNITS_PER_SECOND))
        frame_padding = PADDING[len(frame) % 4]
        comment_padding = PADDING[len(comment) % 4]
        total = (EPB_OVERHEAD + len(frame) + len(frame_padding)
                 + len(comment) + len(comment_padding))
        self._add((
            ENHANCED_PACKET.pack(BLOCK_TYPE_EPB, total, 0, ticks >> 32, ticks & 0xFFFFFFFF,
                                 len(frame), wire_length),
            frame, frame_padding,
            OPTION_HEADER.pack(OPT_COMMENT, len(comment)), comment, comment_padding,
            FLAGS_AND_END[outbound],
            BLOCK_TOTAL_LENGTH.pack(total)), total)

    def close(self):
        """Write the header blocks if no packet did, flush and close the file."""
        if not self.header_written:
            self._write_header()
        super().close()

    def _unix_path(self, event):
        """The path of a unix socket event's flow.  Only some of its lines
        show it (the listener's and accepted sockets' annotations, connect's
        and sendto's sockaddr); the others find it by inode or peer inode."""
        if not event["protocol"].startswith("UNIX"):
            return None
        path = event.get("path") or event.get("peer_path")
        if path is not None:
            if len(self.unix_paths) >= UNIX_PATHS_KEPT:
                self.unix_paths.clear()
            self.unix_paths[event["inode"]] = path
            return path
        return self.unix_paths.get(event["inode"]) or self.unix_paths.get(event.get("peer_inode"))

    def _write_header(self):
        """Section header, interface description and decryption secrets."""
        self.header_written = True
        application = self.application.encode()
        self.file.write(block(BLOCK_TYPE_SHB, SECTION_HEADER.pack(BYTE_ORDER_MAGIC, 1, 0, -1)
                              + option(SHB_USERAPPL, application) + END_OF_OPTIONS))
        description = application
        if self.flags:
            description += b" from strace " + self.flags.encode()
        self.file.write(block(BLOCK_TYPE_IDB,
                              INTERFACE_DESCRIPTION.pack(LINKTYPE_ETHERNET, 0, SNAPLEN)
                              + option(IF_NAME, b"strace") + option(IF_DESCRIPTION, description)
                              + option(IF_TSRESOL, b"\x06") + END_OF_OPTIONS))
        if self.tls_key_log:
            secrets = self.tls_key_log
            self.file.write(block(BLOCK_TYPE_DSB, DECRYPTION_SECRETS.pack(
                SECRETS_TYPE_TLS_KEY_LOG, len(secrets)) + secrets + PADDING[len(secrets) % 4]))

"""Shared test helpers: real tools (strace, tcpdump, tshark), conversion,
and reading pcaps back into byte streams.

A test that needs a tool calls ``require("strace")``: on a laptop without it
the test skips with the reason; in CI (``CI`` set) a missing tool fails the
test, because a skip there would hide a gap.
"""

import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CONVERTER = REPO / "py_strace2pcap.py"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
STRACE_OPTIONS = ["-f", "-s655350", "-ttt", "-T", "-yy", "-xx"]


def require(*tools):
    """Skip (fail in CI) unless every tool is on PATH."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        message = "needs %s (installed by .ci/run)" % ", ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def convert(trace, pcap, *flags, stdin=None, check=True):
    """Run the converter on ``trace`` (a path, or None to pass ``stdin`` bytes)."""
    command = [sys.executable, str(CONVERTER), str(pcap), *flags]
    if trace is not None:
        command += ["-r", str(trace)]
    result = subprocess.run(command, input=stdin, capture_output=True, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError("converter exit %d: %s" % (result.returncode,
                                                        result.stderr.decode(errors="replace")))
    return result


def strace(command, trace, options=STRACE_OPTIONS, **popen):
    """Run ``command`` (a list) under strace writing ``trace``; return the CompletedProcess."""
    require("strace")
    return subprocess.run(["strace", *options, "-o", str(trace), *command],
                          capture_output=True, timeout=120, **popen)


class Tcpdump:
    """``with Tcpdump(path, "tcp port 18080"):`` captures loopback traffic to a pcap."""

    def __init__(self, path, capture_filter):
        require("tcpdump")
        self.path = path
        self.capture_filter = capture_filter
        self.process = None
        self.dropped = 0

    def __enter__(self):
        self.process = subprocess.Popen(
            # --immediate-mode: without it packets still in the kernel's
            # current block when SIGINT comes are lost; -B: room for bursts
            # of 64 KiB loopback segments while tcpdump writes.
            ["tcpdump", "-i", "lo", "--immediate-mode", "-B", "65536", "-U", "-s", "0",
             "-w", str(self.path), self.capture_filter],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # tcpdump says "listening on lo" once the capture runs.
        deadline = time.time() + 10
        line = b""
        while b"listening" not in line and time.time() < deadline:
            line = self.process.stderr.readline()
        return self

    def __exit__(self, *exc):
        time.sleep(0.3)
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=10)
        # tcpdump's last words: "N packets dropped by kernel".
        report = self.process.stderr.read().decode(errors="replace")
        dropped = re.search(r"(\d+) packets? dropped by kernel", report)
        self.dropped = int(dropped.group(1)) if dropped else 0


def tshark(*arguments):
    """Output of tshark with ``arguments`` (text)."""
    require("tshark")
    result = subprocess.run(["tshark", *arguments], capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout.decode(errors="replace")


def tcp_analysis_warnings(pcap):
    """tshark's TCP analysis complaints about ``pcap`` (empty when clean)."""
    return tshark("-r", str(pcap), "-Y", "tcp.analysis.flags && !tcp.analysis.window_update")


def malformed_packets(pcap):
    """tshark's malformed-packet findings in ``pcap``."""
    return tshark("-r", str(pcap), "-Y", "_ws.malformed || _ws.expert.severity >= error")


def read_packets(pcap):
    """The packets of a pcap as scapy packets (scapy parses, we do not).
    Whole frames: scapy's readers cut frames at 65535 bytes by default, and a
    full IPv4 packet behind Ethernet + 802.1Q is 65553."""
    import scapy.layers.inet6  # noqa: F401  (registers Ethernet and the IP layers)
    from scapy.utils import PcapReader
    packets = []
    with PcapReader(str(pcap)) as reader:
        while True:
            try:
                packets.append(reader.read_packet(size=1 << 18))
            except EOFError:
                return packets


def tcp_segments(pcap):
    """Yield ``(index, segment, key, declared)`` for each TCP packet of
    ``pcap``: scapy's TCP layer, (src ip, src port, dst ip, dst port) and the
    payload length the IP header declares (more than captured when cut)."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import IPv6
    for index, packet in enumerate(read_packets(pcap)):
        if TCP not in packet:
            continue
        ip = packet[IP] if IP in packet else packet[IPv6]
        segment = packet[TCP]
        header = segment.dataofs * 4  # with the options tcpdump's segments carry
        declared = ip.len - ip.ihl * 4 - header if IP in packet else ip.plen - header
        yield index, segment, (ip.src, segment.sport, ip.dst, segment.dport), declared


def tcp_streams(pcap):
    """{(src ip, src port, dst ip, dst port): bytes} rebuilt by sequence number,
    each byte once (retransmitted bytes must be equal or the test fails)."""
    pieces = defaultdict(dict)
    for _index, segment, key, declared in tcp_segments(pcap):
        payload = bytes(segment.payload)[:declared]
        if not payload:
            continue
        previous = pieces[key].get(segment.seq)
        assert previous is None or previous == payload, "same seq, different bytes in %s" % (key,)
        pieces[key][segment.seq] = payload
    streams = {}
    for key, by_seq in pieces.items():
        first = next(iter(by_seq))
        stream = bytearray()
        for offset, data in sorted(((seq - first) % 2 ** 32, data) for seq, data in by_seq.items()):
            assert offset <= len(stream), "gap in %s at %d" % (key, offset)
            stream[offset:offset + len(data)] = data
        streams[key] = bytes(stream)
    return streams


def udp_datagrams(pcap):
    """[(src ip, src port, dst ip, dst port, payload)] in pcap order."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.inet6 import IPv6
    datagrams = []
    for packet in read_packets(pcap):
        if UDP not in packet:
            continue
        ip = packet[IP] if IP in packet else packet[IPv6]
        datagrams.append((ip.src, packet[UDP].sport, ip.dst, packet[UDP].dport,
                          bytes(packet[UDP].payload)))
    return datagrams


def strace_quote(payload, style):
    """``payload`` as strace 6.1 prints a string (src/util.c string_quote):
    ``xx`` every byte as \\xHH; ``x`` the whole string in hex if any byte is
    neither printable ASCII nor one of \\t\\n\\v\\f\\r, else as by default;
    ``default`` C escapes for those five, \\" and \\\\, printable ASCII as is,
    anything else in octal, three digits when a digit 0-7 follows."""
    if style == "xx" or (style == "x" and any(
            byte > 0x7e or (byte < 0x20 and not 9 <= byte <= 13) for byte in payload)):
        return "".join("\\x%02x" % byte for byte in payload)
    named = {0x22: '\\"', 0x5c: "\\\\", 0x0c: "\\f", 0x0a: "\\n", 0x0d: "\\r",
             0x09: "\\t", 0x0b: "\\v"}
    text = []
    for index, byte in enumerate(payload):
        if byte in named:
            text.append(named[byte])
        elif 0x20 <= byte <= 0x7e:
            text.append(chr(byte))
        else:
            following = payload[index + 1:index + 2]
            if following and 0x30 <= following[0] <= 0x37:
                text.append("\\%03o" % byte)
            else:
                text.append("\\%o" % byte)
    return "".join(text)


def xx_string(payload):
    """``payload`` as a string argument of a -xx trace line, quotes included."""
    return '"%s"' % strace_quote(payload, "xx")


PCAP_HEADER_SIZE = 24
PCAP_RECORD_HEADER = struct.Struct("<IIII")


def pcap_records(data):
    """[(timestamp, frame)] of the whole records in classic pcap bytes
    ``data`` (a growing file may end in half a record: it is left out)."""
    records = []
    position = PCAP_HEADER_SIZE
    while position + PCAP_RECORD_HEADER.size <= len(data):
        seconds, micros, caplen, _wirelen = PCAP_RECORD_HEADER.unpack_from(data, position)
        start = position + PCAP_RECORD_HEADER.size
        if start + caplen > len(data):
            break
        records.append((seconds + micros / 1e6, data[start:start + caplen]))
        position = start + caplen
    return records


def wait_for(condition, timeout=60.0):
    """Poll ``condition()`` until true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)

"""What the speed work must not change: the classic pcap writer's bytes are
scapy's (the oracle), and a plain conversion imports no scapy at all
(scapy.utils alone costs 0.27 s of start-up)."""

import io
import subprocess
import sys

import support
from pcap_output import SNAPLEN, PcapOutput

FRAMES = [
    (1795659689.000036, bytes(range(60)), 60),
    (1795659689.9999996, b"\xab" * 1514, 1514),         # rounds up to 1 000 000 us, as scapy's caller did
    (1795659690.5, b"\x01" * 100, 70000),              # cut by strace's -s: wire length > frame
    (1795659691.25, bytes(65553), 65553),               # the largest IPv4 frame behind 802.1Q
]


def test_pcap_output_writes_the_bytes_scapy_writes():
    from scapy.utils import RawPcapWriter

    ours = io.BytesIO()
    output = PcapOutput(ours)
    for timestamp, frame, wire_length in FRAMES:
        output.write((timestamp, frame, wire_length, None, True))
    output.flush()

    theirs = io.BytesIO()
    writer = RawPcapWriter(theirs, linktype=1, snaplen=SNAPLEN)
    writer.write_header(None)
    for timestamp, frame, wire_length in FRAMES:
        seconds = int(timestamp)
        writer.write_packet(frame, sec=seconds, usec=int(round((timestamp - seconds) * 1e6)),
                            caplen=len(frame), wirelen=wire_length)
    writer.flush()
    assert ours.getvalue() == theirs.getvalue()


def test_a_plain_conversion_imports_no_scapy(tmp_path):
    trace = tmp_path / "ten.strace"
    trace.write_text(
        '3104  1795659371.610672 sendto(5<TCP:[127.0.0.1:36234->127.0.0.1:18080]>, '
        '"\\x68\\x69", 2, MSG_NOSIGNAL, NULL, 0) = 2 <0.000069>\n')
    result = subprocess.run(
        [sys.executable, "-X", "importtime", str(support.CONVERTER), "-q", "-r", str(trace),
         str(tmp_path / "out.pcap")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    imported = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")]
    assert "strace_parser" in imported
    assert not [name for name in imported if name.split(".")[0] == "scapy"]

"""Once the trace shows -yy annotations the parser rejects lines without
one by two substring searches.  Plain and gzip input (two readers) must
agree: the same pcap, line count, skip counts and -v line numbers, CRLF
line ends included."""

import gzip

import support

EXAMPLE = support.REPO / "example" / "curl-http.strace"
BROKEN = ('3104  1795659371.610700 sendto(5<TCP:[127.0.0.1:47040->127.0.0.1:18080]>, '
          '"\\x47\\x45\\x54, 3, MSG_NOSIGNAL, NULL, 0) = 3 <0.000020>')


def test_sieved_and_unsieved_conversions_agree(tmp_path):
    lines = EXAMPLE.read_text(encoding="latin-1").splitlines()
    # Noise after the first socket line (fast rejection is on), then a broken
    # socket line whose number -v must report, CRLF line ends included.
    lines[300:300] = ["3104  1795659371.6%05d futex(0x7f, FUTEX_WAKE_PRIVATE, 1) = 0 <0.000002>"
                      % index for index in range(20000)]
    lines.insert(20400, BROKEN)
    text = "\r\n".join(lines) + "\r\n"
    plain = tmp_path / "trace.strace"
    plain.write_text(text, encoding="latin-1")
    packed = tmp_path / "trace.strace.gz"
    packed.write_bytes(gzip.compress(text.encode("latin-1")))

    results = {}
    for source in (plain, packed):
        pcap = tmp_path / (source.name + ".pcap")
        stderr = support.convert(source, pcap, "-v").stderr.decode()
        results[source] = (pcap.read_bytes(), stderr.split(" in ")[0],
                           [line for line in stderr.splitlines() if line.startswith("  ")])
    assert results[plain] == results[packed]
    assert results[plain][1].startswith("py-strace2pcap: %d lines" % len(lines))
    assert any(line.startswith("  line 20401 (unparseable") for line in results[plain][2])

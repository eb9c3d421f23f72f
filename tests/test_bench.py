"""The benchmark's trace generator (bench/generate.py) at smoke scale: the
same arguments give the same bytes, and every workload converts to the
packet count the generator expects.  Not a timed test: bench/run.py times."""

import importlib.util
import io
import json
import subprocess
import sys

import pytest

import support

sys.path.insert(0, str(support.REPO / "bench"))
import generate  # noqa: E402

# Small enough for a few seconds in all; bulk keeps one 64 KiB write per connection.
SMOKE_SCALES = {"small": 0.01, "bulk": 0.002, "noise": 0.005, "udp": 0.01, "unix": 0.005}


def generated(workload, scale, **options):
    out = io.StringIO()
    summary = generate.generate(workload, out, scale, **options)
    return out.getvalue(), summary


@pytest.mark.parametrize("workload", sorted(SMOKE_SCALES))
def test_generator_is_deterministic(workload):
    first, summary = generated(workload, SMOKE_SCALES[workload])
    second, _ = generated(workload, SMOKE_SCALES[workload])
    assert first == second
    assert first.count("\n") == summary["lines"]
    other_seed, _ = generated(workload, SMOKE_SCALES[workload], seed=1)
    assert other_seed != first


def test_sockets_only_keeps_the_socket_lines():
    whole, summary = generated("noise", 0.005)
    sockets, sockets_summary = generated("noise", 0.005, sockets_only=True)
    assert sockets_summary["lines"] == summary["socket_lines"] == sockets.count("\n")
    assert summary["lines"] > 20 * summary["socket_lines"]  # 98% noise
    assert set(sockets.splitlines()) <= set(whole.splitlines())


def test_lines_have_strace_shapes():
    text, _ = generated("small", 0.01)
    lines = text.splitlines()
    assert any(line.endswith(",  <unfinished ...>") for line in lines)
    assert any(" <... recvfrom resumed>\"\\x" in line for line in lines)
    assert any(line.startswith("9999  17") for line in lines)   # %-5d pid column
    assert any(line.startswith("10000 17") for line in lines)
    assert any("read(20<\\x2f\\x65\\x74\\x63" in line for line in lines)  # file fd, -xx path


@pytest.mark.parametrize("workload", sorted(SMOKE_SCALES))
def test_workload_converts_to_expected_packets(workload, tmp_path):
    if workload == "unix" and importlib.util.find_spec("unix_tcp_synth") is None:
        pytest.skip("unix_tcp_synth.py not in this checkout yet")
    trace = tmp_path / (workload + ".strace")
    with open(trace, "w", encoding="latin-1") as out:
        summary = generate.generate(workload, out, SMOKE_SCALES[workload])
    pcap = tmp_path / (workload + ".pcap")
    support.convert(trace, pcap, "-q", *generate.WORKLOAD_FLAGS.get(workload, []))
    packets = len(support.read_packets(pcap))
    if workload == "unix":
        # Synthetic handshakes and HTTP/2 seeding come on top of one
        # packet per data syscall.
        assert packets >= summary["packets"]
    else:
        assert packets == summary["packets"]


def test_runner_makes_its_workdir_and_reports(tmp_path):
    """bench/run.py at a tiny scale, its --workdir not there yet: it makes
    it, reports the workload's packets as the generator counts them, and
    leaves nothing behind."""
    workdir = tmp_path / "not" / "yet"
    report = tmp_path / "report.json"
    subprocess.run([sys.executable, str(support.REPO / "bench" / "run.py"), "-w", "small",
                    "--scale", "0.002", "-n", "1", "--workdir", str(workdir), "--json",
                    str(report)], check=True, capture_output=True, timeout=300)
    [result] = json.loads(report.read_text())["results"]
    assert result["workload"] == "small" and result["packets_ok"]
    assert list(workdir.iterdir()) == []

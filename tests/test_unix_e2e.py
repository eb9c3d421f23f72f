"""AF_UNIX sockets of real programs, traced with the real strace, converted
with --capture-unix-socket and read back with tshark and scapy."""

import glob
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

import support

UNIX_FIXTURES = support.FIXTURES / "unix"
GRPC_APP = UNIX_FIXTURES / "grpc_app.py"
STREAM_PAIR = UNIX_FIXTURES / "stream_pair.py"
sys.path.insert(0, str(UNIX_FIXTURES))
import stream_pair  # noqa: E402  (the expected bytes)

UNIX_FLAGS = ("--capture-unix-socket", "--no-capture-net")
# Both directions' messages: requests, then replies.
GRPC_MESSAGES = [b"hello-unary", b"hello-stream",
                 b"echo:hello-unary", b"item-0", b"item-1", b"item-2", b"hello-stream"]
GRPC_PATHS = {"/demo.Echo/Say", "/demo.Echo/Count"}


def grpc_fields(pcap, *fields):
    """Rows of tshark fields of the gRPC packets, HTTP/2 decoded on port 50051."""
    arguments = ["-r", str(pcap), "-d", "tcp.port==50051,http2", "-Y", "grpc", "-T", "fields"]
    for name in fields:
        arguments += ["-e", name]
    output = support.tshark(*arguments)
    return [line.split("\t") for line in output.splitlines()]


def record_grpc(tmp_path, traced):
    """Trace the gRPC demo with ``traced`` in client / server / both; the pcap."""
    socket_path = tmp_path / "grpc.sock"
    trace = tmp_path / "trace.txt"
    if traced == "both":
        result = support.strace([sys.executable, str(GRPC_APP), "both", str(socket_path)], trace)
        assert result.returncode == 0, result.stderr.decode()
    else:
        server_command = [sys.executable, str(GRPC_APP), "server", str(socket_path)]
        client_command = [sys.executable, str(GRPC_APP), "client", str(socket_path)]
        if traced == "server":
            server_command = ["strace", *support.STRACE_OPTIONS, "-o", str(trace)] + server_command
        server = subprocess.Popen(server_command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            assert server.stdout.readline() == b"ready\n"
            if traced == "client":
                result = support.strace(client_command, trace)
            else:
                result = subprocess.run(client_command, capture_output=True, timeout=60)
            assert result.returncode == 0, result.stderr.decode()
        finally:
            server.stdin.close()
            server.wait(timeout=60)
    assert b"echo:hello-unary item-0 item-1 item-2 hello-stream" in result.stdout
    pcap = tmp_path / "out.pcap"
    report = support.convert(trace, pcap, *UNIX_FLAGS).stderr.decode()
    return pcap, report


@pytest.mark.parametrize("traced", ["client", "server", "both"])
def test_grpc_calls_decode(tmp_path, traced):
    support.require("strace", "tshark")
    pcap, report = record_grpc(tmp_path, traced)
    assert "(1 HTTP/2)" in report and str(tmp_path / "grpc.sock") in report
    rows = grpc_fields(pcap, "http2.header.value", "grpc.message_data")
    header_values = {value for row in rows for value in row[0].split(",")}
    assert GRPC_PATHS <= header_values
    messages = [bytes.fromhex(data) for row in rows for data in row[1].split(",") if data]
    # Each message once: with both ends traced, the reader's copy adds nothing.
    assert sorted(messages) == sorted(GRPC_MESSAGES)
    assert support.tcp_analysis_warnings(pcap) == ""
    assert support.malformed_packets(pcap) == ""
    # Every TCP segment holds whole HTTP/2 frames: each frame's header starts
    # a segment or follows a whole frame (tshark reassembles nothing).
    reassembled = support.tshark("-r", str(pcap), "-d", "tcp.port==50051,http2",
                                 "-Y", "tcp.reassembled_in || tcp.segment", "-T", "fields",
                                 "-e", "frame.number")
    assert reassembled.strip() == ""
    if traced == "both":
        assert_each_frame_once(pcap)


def assert_each_frame_once(pcap):
    """Both ends traced: each HTTP/2 frame once (the reads add nothing)."""
    headers_with_path = [row for row in grpc_fields(pcap, "http2.header.value")
                         if any(path in row[0] for path in GRPC_PATHS)]
    assert len(headers_with_path) == 2
    streams = support.tcp_streams(pcap)
    assert len(streams) == 2
    client_stream = next(data for key, data in streams.items() if key[3] == 50051)
    assert client_stream.startswith(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    assert client_stream.count(b"/demo.Echo/Say") == 1
    assert client_stream.count(b"hello-unary") == 1


def test_grpc_seeded_mid_stream(tmp_path):
    """A trace cut after the first call: --seed-http2 --seed-grpc still shows
    the streaming call's messages, and the injected packets carry code 99."""
    support.require("tshark")
    # A client-only trace of grpc_app.py, recorded with strace 6.1.
    lines = (UNIX_FIXTURES / "grpc-client.strace").read_text().splitlines(keepends=True)
    # Start at the client's HEADERS of the second call (stream 3): HPACK state lost.
    start = next(index for index, line in enumerate(lines)
                 if "sendmsg(" in line and "UNIX-STREAM" in line
                 and "\\x2f\\x64\\x65\\x6d\\x6f\\x2e\\x45\\x63\\x68\\x6f\\x2f\\x43" in line)
    cut_trace = tmp_path / "cut.txt"
    cut_trace.write_text("".join(lines[start + 1:]))
    pcap = tmp_path / "seeded.pcap"
    plain = tmp_path / "plain.pcap"
    support.convert(cut_trace, plain, *UNIX_FLAGS)
    assert grpc_fields(plain, "grpc.message_data") == []
    report = support.convert(cut_trace, pcap, *UNIX_FLAGS, "--seed-http2",
                             "--seed-grpc").stderr.decode()
    assert "seeded grpc" in report
    assert "  unix: Wireshark decodes HTTP/2 with: tshark -d tcp.port==50051,http2 (Decode " \
           "As... HTTP2)" in report.splitlines()  # as grpc_fields() does below
    messages = {bytes.fromhex(data) for row in grpc_fields(pcap, "grpc.message_data")
                for data in row[0].split(",") if data}
    assert {b"item-0", b"item-1", b"item-2", b"hello-stream"} <= messages
    synthetic = support.tshark("-r", str(pcap), "-Y", "eth.addr[1:1] == 99", "-T", "fields",
                               "-e", "frame.number")
    assert len(synthetic.split()) >= 4  # preface, SETTINGS + ACK, ACK, HEADERS
    assert support.tcp_analysis_warnings(pcap) == ""
    # The summary's bytes in the pcap and the seeded ones are the stream's.
    [(to_server, seeded_to_server, to_client, seeded_to_client)] = re.findall(
        r"seeded grpc: client->server \d+ bytes in syscalls, (\d+) in pcap, 0 not shown by strace "
        r"\(and (\d+) seeded\), server->client \d+ bytes in syscalls, (\d+) in pcap, "
        r"0 not shown by strace \(and (\d+) seeded\)", report)
    streams = support.tcp_streams(pcap)
    [client_stream] = [data for key, data in streams.items() if key[3] == 50051]
    [server_stream] = [data for key, data in streams.items() if key[1] == 50051]
    assert len(client_stream) == int(to_server) + int(seeded_to_server)
    assert len(server_stream) == int(to_client) + int(seeded_to_client)
    assert int(seeded_to_server) > 24  # the preface at least


def test_stream_pair_and_datagrams_exact(tmp_path):
    support.require("strace")
    trace = tmp_path / "trace.txt"
    result = support.strace([sys.executable, str(STREAM_PAIR), str(tmp_path)], trace)
    assert result.returncode == 0, result.stderr.decode()
    pcap = tmp_path / "out.pcap"
    report = support.convert(trace, pcap, *UNIX_FLAGS).stderr.decode()
    sent = b"".join(stream_pair.MESSAGES)
    streams = support.tcp_streams(pcap)
    connected = {key: data for key, data in streams.items() if len(data) > 1000}
    assert sorted(connected.values()) == sorted([sent, sent[::-1]])
    request_key = next(key for key, data in connected.items() if data == sent)
    assert request_key[3] == 50051  # the connect()ing side is the client
    pair_streams = {data for key, data in streams.items() if len(data) <= 1000}
    assert pair_streams == {b"".join(stream_pair.SOCKETPAIR_MESSAGES), b"done"}
    datagrams = [payload for *_addresses, payload in support.udp_datagrams(pcap)]
    expected = []
    for datagram in stream_pair.DATAGRAMS:
        expected += [datagram, datagram[::-1]]
    assert datagrams == expected
    # Per-direction accounting: bytes in syscalls = bytes in the pcap.
    total = len(sent)
    assert ("client->server %d bytes in syscalls, %d in pcap, 0 not shown by strace, "
            "server->client %d bytes in syscalls, %d in pcap, 0 not shown by strace"
            % (total, total, total, total)) in report
    assert str(tmp_path / "pair.sock") in report
    if shutil.which("tshark"):
        assert support.tcp_analysis_warnings(pcap) == ""
        handshakes = support.tshark("-r", str(pcap), "-Y", "tcp.flags.syn==1 && tcp.flags.ack==0",
                                    "-T", "fields", "-e", "tcp.srcport")
        assert len(handshakes.split()) == 2  # connect/accept and socketpair
        # The 70000-byte write went out as segments of at most 65495 bytes.
        lengths = support.tshark("-r", str(pcap), "-Y", "tcp.len > 0", "-T", "fields",
                                 "-e", "tcp.len").split()
        assert max(map(int, lengths)) == 65495


def postgres_bin():
    """The directory of initdb/postgres, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    return os.path.dirname(found[-1]) if found else None


def test_psql_queries_in_order(tmp_path):
    support.require("strace", "tshark", "psql")
    bin_dir = postgres_bin()
    if bin_dir is None:
        support.require("postgres")
    # PostgreSQL refuses to run as root: run the cluster (and strace) as
    # postgres, in a directory it can reach (pytest's are root's only).
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    with tempfile.TemporaryDirectory(prefix="unix-pg-") as cluster:
        if as_user:
            shutil.chown(cluster, "postgres")
        run_psql_under_strace(pathlib.Path(cluster), tmp_path, bin_dir, as_user)


def run_psql_under_strace(cluster, tmp_path, bin_dir, as_user):
    """Start a cluster in ``cluster``, run the queries with psql, all traced
    in one trace; check the converted pcap."""
    data = cluster / "data"
    subprocess.run(as_user + [os.path.join(bin_dir, "initdb"), "-D", str(data), "-A", "trust",
                              "-U", "postgres"], check=True, capture_output=True, timeout=120)
    queries = ["SELECT 1 AS one", "CREATE TABLE t (x int)", "INSERT INTO t VALUES (42)",
               "SELECT x FROM t"]
    script = cluster / "run.sh"
    script.write_text(
        'set -e\n'
        '"$1/postgres" -D "$2/data" -k "$2" -c listen_addresses= -c fsync=off & server=$!\n'
        'for i in $(seq 100); do [ -S "$2/.s.PGSQL.5432" ] && break; sleep 0.1; done\n'
        'psql -h "$2" -U postgres -d postgres -X -q %s >/dev/null\n'
        'kill -INT $server; wait $server\n'
        % " ".join("-c '%s'" % query for query in queries))
    trace = cluster / "trace.txt"
    result = subprocess.run(as_user + ["strace", *support.STRACE_OPTIONS, "-o", str(trace),
                                       "sh", str(script), bin_dir, str(cluster)],
                            capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode()
    pcap = tmp_path / "out.pcap"
    support.convert(trace, pcap, *UNIX_FLAGS)
    shown = support.tshark("-r", str(pcap), "-d", "tcp.port==50051,pgsql", "-Y", "pgsql.query",
                           "-T", "fields", "-e", "pgsql.query").splitlines()
    assert shown == queries
    assert support.tcp_analysis_warnings(pcap) == ""
    # The postmaster's close() after forking the backend ends nothing: the
    # server's replies all come before any FIN.
    rows = support.tshark("-r", str(pcap), "-T", "fields", "-e", "tcp.srcport",
                          "-e", "tcp.len", "-e", "tcp.flags.fin").splitlines()
    first_fin = next(index for index, row in enumerate(rows) if row.split("\t")[2] in ("1", "True"))
    last_data = max(index for index, row in enumerate(rows) if row.split("\t")[1] != "0")
    assert last_data < first_fin


def test_seeding_without_unix_capture_says_what_to_add(tmp_path):
    """--seed-http2 works on unix flows only: alone it did nothing, silently."""
    result = support.convert(support.FIXTURES / "unix" / "grpc-client.strace",
                             tmp_path / "out.pcap", "--seed-http2", "--seed-grpc", check=False)
    assert result.returncode == 2
    assert result.stderr.decode().splitlines() == [
        "py-strace2pcap: --seed-http2 seeds unix flows: add --capture-unix-socket (a TCP "
        "connection's HTTP/2 is decoded with tshark -d tcp.port==PORT,http2 where its first "
        "bytes in the trace begin a frame, its gRPC with HTTP/2 fake headers too: see README, "
        "Seeding)"]

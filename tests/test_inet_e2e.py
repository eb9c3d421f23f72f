"""End to end with real programs: strace them while tcpdump captures lo,
convert, and compare our pcap with tcpdump's.

For every TCP direction the byte stream rebuilt by sequence number equals
tcpdump's, UDP datagrams equal, tshark finds no malformed packet and no TCP
analysis warning, and ``tshark -z conv,tcp`` lists the same conversations.
The programs are in fixtures/inet/peers.py; ports 18000-18999.
"""

import re
import subprocess
import sys
from collections import Counter
from contextlib import contextmanager

import pytest

import support

PEERS = str(support.FIXTURES / "inet" / "peers.py")
SIZES_SUM = 1 + 7 + 1000 + 3 + 100000 + 64 + 5
LARGEST_SEND = 4 + 100000  # length header + payload in one sendall


def peers(*arguments):
    return [sys.executable, PEERS, *map(str, arguments)]


def traced(command, trace, options=support.STRACE_OPTIONS):
    return ["strace", *options, "-o", str(trace), *command]


@contextmanager
def server(command):
    """Run a server (``command`` prints "ready" once listening) for the block."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stdout.readline() == b"ready\n", process.stderr.read()
        yield process
        assert process.wait(timeout=60) == 0, process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@contextmanager
def tcpdump(path, capture_filter):
    """support.Tcpdump, failing if it lost packets (its capture is the reference)."""
    with support.Tcpdump(path, capture_filter) as capture:
        yield capture
    assert capture.dropped == 0, "tcpdump dropped %d packets" % capture.dropped


def run(command):
    result = subprocess.run(command, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode(errors="replace")


def conversations(pcap):
    """The TCP conversations tshark lists, as sorted address pairs."""
    table = support.tshark("-r", str(pcap), "-q", "-z", "conv,tcp")
    return sorted(re.findall(r"^(\S+)\s+<->\s+(\S+)", table, re.MULTILINE))


def data_after_fin(pcap):
    """Indexes of packets carrying data from an end that already sent its FIN."""
    finished = set()
    late = []
    for index, segment, end, declared in support.tcp_segments(pcap):
        if segment.flags.S:
            finished.discard(end)  # a new connection on the 4-tuple
        if declared and end in finished:
            late.append(index)
        if segment.flags.F:
            finished.add(end)
    return late


# The servers' ports: their bytes are the peers' made-up data, read as such
# (else a dissector registered on the client's ephemeral port, PMPROXY's
# 44322 say, finds them malformed).
TEST_PORTS = "18000-18999"


def complaints(pcap):
    """What tshark finds wrong: malformed packets, errors, TCP analysis warnings."""
    return support.tshark("-r", str(pcap), "-d", "tcp.port==%s,data" % TEST_PORTS,
                          "-Y", "_ws.malformed || _ws.expert.severity >= error"
                          " || (tcp.analysis.flags && !tcp.analysis.window_update)")


def assert_like_tcpdump(ours, theirs, udp=False):
    """Our pcap carries what tcpdump saw and reads as a clean capture."""
    assert complaints(ours) == ""
    assert data_after_fin(ours) == []
    ours_streams, their_streams = support.tcp_streams(ours), support.tcp_streams(theirs)
    assert ours_streams.keys() == their_streams.keys()
    for key, stream in their_streams.items():
        assert ours_streams[key] == stream, key
    assert conversations(ours) == conversations(theirs)
    if udp:
        assert Counter(support.udp_datagrams(ours)) == Counter(support.udp_datagrams(theirs))
        assert support.udp_datagrams(ours)


def convert(tmp_path, trace, *flags):
    pcap = tmp_path / "out.pcap"
    result = support.convert(trace, pcap, *flags)
    return pcap, result.stderr.decode()


@pytest.fixture
def tools():
    support.require("strace", "tcpdump", "tshark")


def test_client_traced_alone(tools, tmp_path, host="127.0.0.1", port=18010):
    trace, capture = tmp_path / "trace.txt", tmp_path / "tcpdump.pcap"
    with tcpdump(capture, "tcp port %d" % port):
        with server(peers("tcp-server", host, port, 1)):
            run(traced(peers("tcp-client", host, port), trace))
    pcap, _summary = convert(tmp_path, trace)
    assert_like_tcpdump(pcap, capture)
    assert "= %d <" % LARGEST_SEND in trace.read_text()  # one syscall > 65535 bytes


@pytest.mark.parametrize("bind,host,port", [
    ("127.0.0.1", "127.0.0.1", 18012), ("::1", "::1", 18013), ("::", "127.0.0.1", 18023),
], ids=["ipv4", "ipv6", "dual-stack"])
def test_server_traced_alone(tools, tmp_path, bind, host, port):
    """Also a dual-stack server (bound to ::) with IPv4 clients: strace shows
    ``TCPv6:[[::ffff:127.0.0.1]:...]``, the wire (and our pcap) IPv4."""
    trace, capture = tmp_path / "trace.txt", tmp_path / "tcpdump.pcap"
    with tcpdump(capture, "tcp port %d" % port):
        with server(traced(peers("tcp-server", bind, port, 2), trace)):
            run(peers("tcp-client", host, port))
            run(peers("nonblocking-client", host, port))
    pcap, _summary = convert(tmp_path, trace)
    assert_like_tcpdump(pcap, capture)
    assert len(conversations(pcap)) == 2


@pytest.mark.parametrize("host,port", [("127.0.0.1", 18014), ("::1", 18015)], ids=["ipv4", "ipv6"])
def test_both_ends_in_one_program(tools, tmp_path, host, port):
    """Client and server in one traced process: each byte exactly once."""
    trace, capture = tmp_path / "trace.txt", tmp_path / "tcpdump.pcap"
    with tcpdump(capture, "tcp port %d" % port):
        run(traced(peers("tcp-both", host, port), trace))
    pcap, _summary = convert(tmp_path, trace)
    assert_like_tcpdump(pcap, capture)
    payload_bytes = sum(len(packet["TCP"].payload) for packet in support.read_packets(pcap)
                        if packet.haslayer("TCP"))
    assert payload_bytes == 2 * SIZES_SUM + 4 * 7  # requests with headers, answers


def test_forking_server(tools, tmp_path):
    """socketserver.ForkingTCPServer: the parent closes its copy of each
    connection right after fork while the child serves it; no early FIN."""
    trace, capture = tmp_path / "trace.txt", tmp_path / "tcpdump.pcap"
    port = 18016
    with tcpdump(capture, "tcp port %d" % port):
        with server(traced(peers("forking-server", "127.0.0.1", port, 2), trace)):
            run(peers("tcp-client", "127.0.0.1", port))
            run(peers("tcp-client", "127.0.0.1", port))
    text = trace.read_text()
    assert text.count(" clone(") >= 2
    pcap, _summary = convert(tmp_path, trace)
    assert_like_tcpdump(pcap, capture)
    fins = support.tshark("-r", str(pcap), "-Y", "tcp.flags.fin == 1", "-T", "fields",
                          "-e", "tcp.stream").split()
    assert sorted(fins) == ["0", "0", "1", "1"]


def forking_exchange(tmp_path, server_program, port, *request):
    """Our pcap and summary of a traced forking server and a client that
    reads until its FIN (sending ``request`` first, if given), checked
    against tcpdump; and what the client read."""
    trace, capture = tmp_path / "trace.txt", tmp_path / "tcpdump.pcap"
    with tcpdump(capture, "tcp port %d" % port):
        with server(traced(peers(server_program, "127.0.0.1", port), trace)):
            result = subprocess.run(peers("reading-client", "127.0.0.1", port, *request),
                                    capture_output=True, timeout=60)
    pcap, summary = convert(tmp_path, trace)
    assert_like_tcpdump(pcap, capture)
    return pcap, summary, result.stdout


def test_forked_child_closing_its_copy_sends_no_fin(tools, tmp_path):
    """The server forks a child that closes its copy of the connection; the
    parent writes again 2.5 s later, past the FIN hold: no FIN at the
    child's close (one came, and the parent's bytes after it), one at the
    parent's."""
    port = 18045
    pcap, summary, read = forking_exchange(tmp_path, "copy-closing-server", port)
    assert read == b"hello\nworld\n"
    assert "1 close (or exit) of one copy of a socket another process keeps" in summary
    fins = support.tshark("-r", str(pcap), "-Y", "tcp.flags.fin == 1 && tcp.srcport == %d"
                          % port, "-T", "fields", "-e", "tcp.seq").split()
    data = support.tshark("-r", str(pcap), "-Y", "tcp.len > 0 && tcp.srcport == %d" % port,
                          "-T", "fields", "-e", "tcp.seq", "-e", "tcp.len").split()
    assert data == ["1", "6", "7", "6"] and fins == ["13"]


def test_a_parents_close_after_the_fork_leaves_the_childs_copy(tools, tmp_path):
    """The parent closes its copy right after the fork, the request unread;
    the child answers 2.5 s later: no RST or FIN at the parent's close (a
    RST came, and the answer after it)."""
    pcap, summary, read = forking_exchange(tmp_path, "late-child-server", 18046, "request")
    assert read == b"answer to request\n"
    assert "1 close (or exit) of one copy" in summary
    assert support.tshark("-r", str(pcap), "-Y", "tcp.flags.reset == 1") == ""


def test_a_socket_handed_to_a_worker_is_closed_by_the_worker(tools, tmp_path):
    """The server passes the connection to a worker with SCM_RIGHTS and
    closes its copy, the request unread; the worker answers 2.5 s later:
    no RST at the server's close (one came, and the answer after it), the
    FIN at the worker's.  (The server's close may end before the worker's
    recvmsg, which then cancels its held FIN, as any syscall of that end.)"""
    pcap, _summary, read = forking_exchange(tmp_path, "handing-server", 18047, "request")
    assert read == b"answer to request\n"
    assert support.tshark("-r", str(pcap), "-Y", "tcp.flags.reset == 1") == ""
    assert data_after_fin(pcap) == []


def test_non_blocking_connect_handshake_at_connect_time(tools, tmp_path):
    trace, capture = tmp_path / "trace.txt", tmp_path / "tcpdump.pcap"
    port = 18017
    with tcpdump(capture, "tcp port %d" % port):
        with server(peers("tcp-server", "::1", port, 1)):
            run(traced(peers("nonblocking-client", "::1", port), trace))
    connect = re.search(r"^\d+\s+(\d+\.\d+) connect\(.*EINPROGRESS", trace.read_text(), re.M)
    assert connect is not None
    pcap, _summary = convert(tmp_path, trace)
    assert_like_tcpdump(pcap, capture)
    syn = support.tshark("-r", str(pcap), "-Y", "tcp.flags.syn == 1 && tcp.flags.ack == 0",
                         "-T", "fields", "-e", "frame.time_epoch")
    assert float(syn) == pytest.approx(float(connect.group(1)), abs=1e-6)


def test_connection_four_tuple_reused(tools, tmp_path):
    """Two connections on one 4-tuple are two conversations, each with its handshake."""
    trace, capture = tmp_path / "trace.txt", tmp_path / "tcpdump.pcap"
    port = 18018
    with tcpdump(capture, "tcp port %d" % port):
        with server(peers("tcp-server", "127.0.0.1", port, 2)):
            run(traced(peers("reuse-client", "127.0.0.1", port, 18019), trace))
    pcap, _summary = convert(tmp_path, trace)
    assert support.malformed_packets(pcap) == ""
    # Wireshark notes the reuse on the second SYN, in tcpdump's capture too.
    assert "Port numbers reused" in support.tcp_analysis_warnings(capture)
    warnings = support.tcp_analysis_warnings(pcap).splitlines()
    assert len(warnings) == 1 and "[TCP Port numbers reused]" in warnings[0], warnings
    streams = support.tshark("-r", str(pcap), "-Y", "tcp.flags.syn == 1", "-T", "fields",
                             "-e", "tcp.stream").split()
    assert streams == ["0", "0", "1", "1"]
    assert stream_totals(pcap) == stream_totals(capture)


def stream_totals(pcap):
    """{tcp.stream: bytes sent both ways} of ``pcap``, each byte once
    (tcpdump on a loaded machine sees retransmissions)."""
    fields = support.tshark("-r", str(pcap), "-Y", "tcp.len > 0", "-T", "fields",
                            "-e", "tcp.stream", "-e", "tcp.srcport", "-e", "tcp.seq",
                            "-e", "tcp.len")
    ends = {}
    for line in fields.splitlines():
        stream, port, seq, length = line.split()
        key = (stream, port)
        ends[key] = max(ends.get(key, 0), int(seq) + int(length) - 1)  # seq 1: the first byte
    totals = Counter()
    for (stream, _port), end in ends.items():
        totals[stream] += end
    return totals


def test_http_download_over_one_megabyte(tools, tmp_path):
    """curl and http.server both traced: tshark decodes HTTP and reassembles the body."""
    support.require("curl")
    served = tmp_path / "www"
    served.mkdir()
    body = bytes(range(256)) * 5000 + b"end"  # 1 280 003 bytes
    (served / "big.bin").write_bytes(body)
    trace, capture = tmp_path / "trace.txt", tmp_path / "tcpdump.pcap"
    port = 18020
    with tcpdump(capture, "tcp port %d" % port):
        run(traced(peers("http-both", port, served, "http://127.0.0.1:%d/big.bin" % port), trace))
    pcap, _summary = convert(tmp_path, trace)
    assert_like_tcpdump(pcap, capture)
    exported = tmp_path / "exported"
    support.tshark("-r", str(pcap), "--export-objects", "http,%s" % exported)
    assert (exported / "big.bin").read_bytes() == body
    response = support.tshark("-r", str(pcap), "-Y", "http.response", "-T", "fields",
                              "-e", "http.response.code", "-e", "http.content_length")
    assert response.split() == ["200", str(len(body))]


def segments(pcap):
    """{(src, sport, dst, dport): [(stream offset, captured payload, declared length)]}."""
    result = {}
    origins = {}
    for _index, segment, key, declared in support.tcp_segments(pcap):
        if segment.flags.S:
            origins[key] = segment.seq + 1
        if declared == 0:
            continue
        offset = (segment.seq - origins.setdefault(key, segment.seq)) % 2 ** 32
        result.setdefault(key, []).append((offset, bytes(segment.payload)[:declared], declared))
    return result


def test_cut_payloads_with_s64(tools, tmp_path):
    """strace -s 64: our bytes are tcpdump's at the same offsets, caplen <
    len, sequence numbers advance by the real lengths, the summary tells."""
    trace, capture = tmp_path / "trace.txt", tmp_path / "tcpdump.pcap"
    port = 18021
    options = [option for option in support.STRACE_OPTIONS if not option.startswith("-s")]
    with tcpdump(capture, "tcp port %d" % port):
        run(traced(peers("tcp-both", "127.0.0.1", port), trace, [*options, "-s", "64"]))
    pcap, summary = convert(tmp_path, trace)
    assert complaints(pcap) == ""
    assert conversations(pcap) == conversations(capture)
    their_streams = support.tcp_streams(capture)
    cut = 0
    for key, pieces in segments(pcap).items():
        stream = their_streams[key]
        expected_offset = 0
        for offset, captured, declared in sorted(pieces):
            assert offset == expected_offset, key
            assert stream[offset:offset + len(captured)] == captured, key
            expected_offset += declared
            cut += len(captured) < declared
        assert expected_offset == len(stream), key
    assert cut > 0
    wire = [(len(packet), packet.wirelen) for packet in support.read_packets(pcap)]
    assert any(caplen < wirelen for caplen, wirelen in wire)
    match = re.search(r"(\d+) payloads? cut by strace's -s \((?:it|they) would have been "
                      r"whole with -s (\d+)\)",
                      summary)
    assert match is not None, summary
    assert int(match.group(2)) == LARGEST_SEND


def client_recorded(tmp_path, port, server_program, client_command):
    """``client_command`` traced against ``peers(server_program)`` on port
    ``port`` of 127.0.0.1 while tcpdump captures: (our pcap, its summary,
    tcpdump's capture, the trace)."""
    trace, capture = tmp_path / "trace.txt", tmp_path / "tcpdump.pcap"
    with tcpdump(capture, "tcp port %d" % port):
        with server(peers(server_program, "127.0.0.1", port)):
            run(traced(client_command, trace))
    pcap, summary = convert(tmp_path, trace)
    return pcap, summary, capture, trace


def both_recorded(tmp_path, port, program):
    """``program`` of peers.py (client and server in one process) traced,
    on port ``port`` of 127.0.0.1, while tcpdump captures: (our pcap,
    tcpdump's capture)."""
    trace, capture = tmp_path / "trace.txt", tmp_path / "tcpdump.pcap"
    with tcpdump(capture, "tcp port %d" % port):
        run(traced(peers(program, "127.0.0.1", port), trace))
    pcap, _summary = convert(tmp_path, trace)
    return pcap, capture


def test_a_banner_read_byte_by_byte_is_one_segment(tools, tmp_path):
    """A client reading the server's banner a byte at a time (recv(1), as
    OpenSSH reads its peer's): the banner and the bytes after it, one
    send, are one segment as tcpdump shows it, not one per read, and
    tshark's SSH dissector reads the banner."""
    port = 18024
    pcap, summary, capture, _trace = client_recorded(
        tmp_path, port, "banner-server", peers("byte-reading-client", "127.0.0.1", port))
    assert_like_tcpdump(pcap, capture)
    from_server = {key: pieces for key, pieces in segments(pcap).items() if key[1] == port}
    assert from_server == {key: pieces for key, pieces in segments(capture).items()
                           if key[1] == port}
    [pieces] = from_server.values()
    assert len(pieces) == 1 and pieces[0][1].startswith(b"SSH-2.0-peers_1.0\r\n")
    banners = support.tshark("-r", str(pcap), "-d", "tcp.port==%d,ssh" % port, "-Y", "ssh",
                             "-T", "fields", "-e", "ssh.protocol")
    assert banners.split() == ["SSH-2.0-peers_1.0"] * 2
    # The 18 reads after the first and the read of the 305 bytes after the banner.
    assert "19 small reads joined to the read before them" in summary


def flags_by_sender(pcap):
    """{source port: [TCP flags of each of its packets]}."""
    flags = {}
    for _index, segment, key, _declared in support.tcp_segments(pcap):
        flags.setdefault(key[1], []).append(str(segment.flags))
    return flags


def test_a_read_that_meets_a_reset_shows_the_rst(tools, tmp_path):
    """The server closes with SO_LINGER 0; the traced client's recv fails
    with ECONNRESET and its close sends nothing: tcpdump shows the
    server's RST and no FIN, and so does our pcap."""
    port = 18025
    pcap, _summary, capture, trace = client_recorded(
        tmp_path, port, "resetting-server", peers("reset-client", "127.0.0.1", port))
    assert "ECONNRESET" in trace.read_text()
    ours, theirs = flags_by_sender(pcap), flags_by_sender(capture)
    assert ours.keys() == theirs.keys()
    for sender, flags in theirs.items():
        assert [flag for flag in ours[sender] if "R" in flag or "F" in flag] == [
            flag for flag in flags if "R" in flag or "F" in flag]
    assert ours[port][-1] == "RA"
    assert support.tcp_streams(pcap) == support.tcp_streams(capture)


def test_a_close_with_so_linger_0_is_a_rst(tools, tmp_path):
    """setsockopt(SO_LINGER, {1, 0}) then close(): the kernel resets the
    connection (haproxy, nginx's reset_timedout_connection).  tcpdump
    shows the client's RST and no FIN from it, and so does our pcap."""
    port = 18027
    pcap, _summary, capture, _trace = client_recorded(
        tmp_path, port, "patient-server", peers("lingering-client", "127.0.0.1", port))
    assert_like_tcpdump(pcap, capture)
    ours, theirs = flags_by_sender(pcap), flags_by_sender(capture)
    [client_port] = [sender for sender in ours if sender != port]
    assert ours[client_port][-1] == theirs[client_port][-1] == "RA"
    assert not any("F" in flags for flags in ours[client_port] + theirs[client_port])


def test_a_client_exiting_without_close_sends_its_fin(tools, tmp_path):
    """A client that exits without close(): the kernel sends its FIN at the
    exit, tcpdump shows it, and our pcap has it at the exit line's time."""
    port = 18028
    pcap, _summary, capture, _trace = client_recorded(
        tmp_path, port, "patient-server", peers("exiting-client", "127.0.0.1", port))
    assert_like_tcpdump(pcap, capture)

    def client_fins(path):
        return [packet.time for packet in support.read_packets(path)
                if packet.haslayer("TCP") and packet["TCP"].dport == port
                and packet["TCP"].flags.F]
    ours, theirs = client_fins(pcap), client_fins(capture)
    assert len(ours) == len(theirs) == 1
    assert abs(float(ours[0]) - float(theirs[0])) < 0.05


def test_refused_connects_show_the_syn_and_the_rst(tools, tmp_path):
    """connect() to a port where nothing listens: blocking (IPv4, IPv6) and
    non-blocking, the refusal told by getsockopt(SO_ERROR) or by a send.
    tcpdump shows a SYN and the kernel's RST-ACK for each; so does our
    pcap, from a made-up port (strace never shows the SYN's), the RST
    acking the SYN with sequence number 0, each close to tcpdump's time."""
    port = 18031
    trace, capture = tmp_path / "trace.txt", tmp_path / "tcpdump.pcap"
    with tcpdump(capture, "tcp port %d" % port):
        run(traced(peers("refused-client", port), trace))
    pcap, summary = convert(tmp_path, trace)
    assert complaints(pcap) == ""

    def attempts(path):
        packets = [packet for packet in support.read_packets(path) if packet.haslayer("TCP")]
        return [(float(packet.time), packet["TCP"]) for packet in packets]
    ours, theirs = attempts(pcap), attempts(capture)
    assert [str(segment.flags) for _time, segment in ours] == [
        str(segment.flags) for _time, segment in theirs] == ["S", "RA"] * 4
    for attempt in (ours, theirs):
        for (_syn_time, syn), (_rst_time, rst) in zip(attempt[::2], attempt[1::2]):
            assert (syn.dport, rst.sport, rst.dport) == (port, port, syn.sport)
            assert (rst.seq, rst.ack) == (0, syn.seq + 1)
    assert len({segment.sport for _time, segment in ours[::2]}) == 4
    for (our_time, _ours), (their_time, _theirs) in zip(ours, theirs):
        assert abs(our_time - their_time) < 0.05
    assert "4 connect() calls refused" in summary


def test_a_close_with_bytes_unread_resets_the_connection(tools, tmp_path):
    """The server reads 10 of the client's 1000 bytes and closes: the
    kernel sends a RST, not a FIN, and the client's read meets it.  Both
    ends traced: our pcap has that RST, at the close, and no FIN."""
    port = 18032
    pcap, capture = both_recorded(tmp_path, port, "unread-both")
    assert complaints(pcap) == ""
    ours, theirs = flags_by_sender(pcap), flags_by_sender(capture)
    assert ours.keys() == theirs.keys()
    for sender, flags in theirs.items():
        assert [flag for flag in ours[sender] if "R" in flag or "F" in flag] == [
            flag for flag in flags if "R" in flag or "F" in flag]
    assert [flag for flag in ours[port] if "R" in flag or "F" in flag] == ["RA"]
    assert support.tcp_streams(pcap) == support.tcp_streams(capture)

    def server_reset(path):
        return [float(packet.time) for packet in support.read_packets(path)
                if packet.haslayer("TCP") and packet["TCP"].sport == port
                and packet["TCP"].flags.R]
    [our_reset], [their_reset] = server_reset(pcap), server_reset(capture)
    assert abs(our_reset - their_reset) < 0.05


def test_a_fin_the_peer_writes_after_stays_before_those_bytes(tools, tmp_path):
    """The server closes an idle connection, and half a second later the
    client sends a request (a keep-alive race): tcpdump shows the server's
    FIN at its close, the request, then the server's RST.  Our pcap too,
    though the FIN was held (a fork's child might have used the socket)
    until the client read 0 after its request: the FIN keeps its close's
    time and comes before the request (it came after it, at its time)."""
    port = 18033
    pcap, capture = both_recorded(tmp_path, port, "late-write-both")
    assert complaints(pcap) == ""
    assert support.tcp_streams(pcap) == support.tcp_streams(capture)

    def events(path):
        """[(time, "FIN"/"data"/"RST" from the server or client)] in pcap order."""
        rows = []
        for packet in support.read_packets(path):
            segment = packet["TCP"]
            sender = "server" if segment.sport == port else "client"
            for flag, name in (("F", "FIN"), ("R", "RST")):
                if flag in str(segment.flags):
                    rows.append((float(packet.time), sender + " " + name))
            if len(segment.payload) and not segment.flags.R:
                rows.append((float(packet.time), sender + " data"))
        return rows
    ours, theirs = events(pcap), events(capture)
    assert [name for _time, name in ours] == [name for _time, name in theirs] == [
        "server FIN", "client data", "server RST"]
    for (our_time, _name), (their_time, _their_name) in zip(ours, theirs):
        assert abs(our_time - their_time) < 0.05


BASH_CLIENT = """exec 3<>/dev/tcp/127.0.0.1/{port}
printf 'hello\\n' >&3
read -r line <&3
exec 3>&-
"""


def test_a_connection_used_through_dups_has_its_handshake(tools, tmp_path):
    """bash's /dev/tcp: connect() on one fd, fcntl(F_DUPFD) to another,
    the data on the dups the redirections make (write on 1, reads on 0).
    The handshake is still at the connect, as tcpdump shows it."""
    port = 18026
    pcap, _summary, capture, _trace = client_recorded(
        tmp_path, port, "line-server", ["bash", "-c", BASH_CLIENT.format(port=port)])
    assert_like_tcpdump(pcap, capture)
    ours, theirs = flags_by_sender(pcap), flags_by_sender(capture)
    [client_port] = [sender for sender in ours if sender != port]
    assert ours[client_port][:2] == theirs[client_port][:2] == ["S", "A"]
    assert ours[port][0] == theirs[port][0] == "SA"


def udp_exchange(tmp_path, port, bind, host, trace_client, trace_server, client="udp-client"):
    trace, capture = tmp_path / "trace.txt", tmp_path / "tcpdump.pcap"
    server_trace = tmp_path / "server-trace.txt"
    server_command = peers("udp-server", bind, port)
    client_command = peers(client, host, port)
    with tcpdump(capture, "udp port %d" % port):
        with server(traced(server_command, server_trace) if trace_server else server_command):
            run(traced(client_command, trace) if trace_client else client_command)
    lines = []
    for path in (trace, server_trace):
        if path.exists():
            lines += path.read_text().splitlines(keepends=True)
    # Both traces in one file, as `strace -f` of both would write them.
    lines.sort(key=lambda line: float(line.split()[1]) if line[:1].isdigit() else 0)
    merged = tmp_path / "merged.txt"
    merged.write_text("".join(lines))
    pcap, _summary = convert(tmp_path, merged)
    return pcap, capture


@pytest.mark.parametrize("case", [
    ("127.0.0.1", "127.0.0.1", 18030, True, False, "udp-client"),
    ("0.0.0.0", "127.0.0.1", 18031, False, True, "udp-client"),
    ("::", "::1", 18032, True, True, "udp-client"),
    ("::1", "::1", 18033, True, False, "udp-client"),
    ("127.0.0.1", "127.0.0.1", 18034, True, True, "udp-connected-client"),
    ("::1", "::1", 18035, True, False, "udp-connected-client"),
], ids=["ipv4-client", "ipv4-any-server", "ipv6-both", "ipv6-client", "ipv4-connected-both",
        "ipv6-connected-client"])
def test_udp(tools, tmp_path, case):
    """sendto/recvfrom with the peer in the sockaddr; the client's socket
    is unbound (its first sendto shows no port) or bound to the unspecified
    address and connected (the peer only in connect()); a datagram seen by
    both ends is written once."""
    bind, host, port, trace_client, trace_server, client = case
    pcap, capture = udp_exchange(tmp_path, port, bind, host, trace_client, trace_server, client)
    assert support.malformed_packets(pcap) == ""
    assert Counter(support.udp_datagrams(pcap)) == Counter(support.udp_datagrams(capture))
    assert len(support.udp_datagrams(pcap)) == 10


def test_dns_over_udp_and_tcp_decodes(tools, tmp_path):
    """dig, a real resolver client (it sends with sendmmsg on a connected
    socket and reads with recvmsg; over TCP the 2-byte length first),
    against peers.py's DNS server: the pcap carries what tcpdump saw, and
    tshark's DNS dissector reads each query and its answer."""
    support.require("dig")
    port = 18040
    capture = tmp_path / "tcpdump.pcap"
    traces = []
    with tcpdump(capture, "port %d" % port):
        with server(peers("dns-server", "127.0.0.1", port, 1, 1)):
            for name, transport in (("alpha.test", "+notcp"), ("beta.test", "+tcp")):
                traces.append(tmp_path / ("%s.txt" % name))
                run(traced(["dig", "@127.0.0.1", "-p", str(port), "+tries=1", "+time=10",
                            transport, name, "A"], traces[-1]))
    trace = tmp_path / "trace.txt"
    trace.write_text("".join(path.read_text() for path in traces))  # one after the other
    pcap, summary = convert(tmp_path, trace)
    assert_like_tcpdump(pcap, capture, udp=True)
    assert "without its start" not in summary
    decoded = support.tshark("-r", str(pcap), "-d", "udp.port==%d,dns" % port,
                             "-d", "tcp.port==%d,dns" % port, "-Y", "dns", "-T", "fields",
                             "-e", "frame.protocols", "-e", "dns.qry.name",
                             "-e", "dns.flags.response", "-e", "dns.a")
    rows = [line.split("\t") for line in decoded.splitlines()]
    assert [(protocols.split(":")[-2], name, response, address)
            for protocols, name, response, address in rows] == [
        ("udp", "alpha.test", "0", ""), ("udp", "alpha.test", "1", "192.0.2.1"),
        ("tcp", "beta.test", "0", ""), ("tcp", "beta.test", "1", "192.0.2.2")]


def test_attached_mid_stream(tools, tmp_path):
    """strace -p on a client in the middle of its connection: the pcap
    starts mid-stream (no invented handshake) and its bytes are the tail of
    tcpdump's stream, at the same distance from the end."""
    trace, capture = tmp_path / "trace.txt", tmp_path / "tcpdump.pcap"
    port = 18022
    with tcpdump(capture, "tcp port %d" % port):
        with server(peers("tcp-server", "127.0.0.1", port, 1)):
            client = subprocess.Popen(peers("tcp-client", "127.0.0.1", port, 3),
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            assert client.stdout.readline() == b"paused\n"
            tracer = subprocess.Popen(["strace", *support.STRACE_OPTIONS, "-o", str(trace),
                                       "-p", str(client.pid)], stderr=subprocess.PIPE)
            assert b"attached" in tracer.stderr.readline()
            client.communicate(b"go\n", timeout=60)
            tracer.wait(timeout=60)
            assert client.returncode == 0
    pcap, _summary = convert(tmp_path, trace)
    assert complaints(pcap) == ""
    assert support.tshark("-r", str(pcap), "-Y", "tcp.flags.syn == 1") == ""
    ours, theirs = support.tcp_streams(pcap), support.tcp_streams(capture)
    assert ours.keys() == theirs.keys()
    for key, stream in ours.items():
        assert len(stream) < len(theirs[key])
        assert theirs[key].endswith(stream), key

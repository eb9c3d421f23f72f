"""Recorded strace 6.1 traces of real programs, converted: no strace needed.

forking-server.strace: ``peers.py forking-server`` (socketserver's
ForkingTCPServer) traced with ``strace -f``, serving two ``peers.py
tcp-client`` runs (PEERS_SIZES=1,7,300,2 and 5,1,3000).  The parent closes
each accepted fd right after fork (once as an unfinished close) while the
child serves the connection; the trace starts at the listening socket.

msg-peek.strace: a recvfrom with MSG_PEEK before the real read.

errqueue.strace: reads of sockets' error queues (recvmsg MSG_ERRQUEUE), UDP
and TCP (see its test).

udp-read-in-part.strace: datagrams of unbound sockets read in part (see its test).

attached-echo.strace, two-processes-connect.strace, so-error-reset.strace,
grpc-attached.strace, java-async-close.strace, rust-peek-eof.strace,
shutdown-blocked-reader.strace, killed-in-first-read.strace: see their tests.

inode-only-client.strace, inode-only-server.strace, inode-only-accept.strace:
a helper's client (nc -N's pattern) and gunicorn worker whose sockets
strace annotates with their inode alone once they are in TIME_WAIT, and a
server accepting a connection its client had reset (see their tests).

refused.strace: ``peers.py refused-client`` (port 9, nothing listening):
four refused connects, then by hand a non-blocking one another thread's
getsockopt(SO_ERROR), unfinished and resumed, tells refused, and
getsockopt(SO_ERROR) lines telling no error.

refused-told-late.strace: real traces of a sweep, cut to these lines: a
non-blocking connect whose refusal only poll shows (POLLERR) before the
close; redis-cli's second connect() that returns ECONNREFUSED; two threads'
blocking connects printed in the other order.  Then by hand: a
non-blocking connect to a peer off loopback closed before its outcome
showed, and a refused connect from a bound port.
"""

import importlib.util

import pytest

import support
from test_inet_e2e import complaints, data_after_fin

SERVER = ("127.0.0.1", 18070)
CLIENT_PORTS = {54772: (1, 7, 300, 2), 32816: (5, 1, 3000)}


def load_peers():
    spec = importlib.util.spec_from_file_location("peers", support.FIXTURES / "inet" / "peers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def expected_streams():
    """{(src, sport, dst, dport): bytes} of the two recorded exchanges."""
    peers = load_peers()
    streams = {}
    for port, sizes in CLIENT_PORTS.items():
        requests = [peers.payload(size, salt) for salt, size in enumerate(sizes)]
        streams[("127.0.0.1", port) + SERVER] = b"".join(
            size.to_bytes(4, "big") + request for size, request in zip(sizes, requests))
        streams[SERVER + ("127.0.0.1", port)] = b"".join(request[::-1] for request in requests)
    return streams


def converted(tmp_path):
    pcap = tmp_path / "forking.pcap"
    support.convert(support.FIXTURES / "inet" / "forking-server.strace", pcap)
    return pcap


def test_forking_server_streams_handshakes_and_fins(tmp_path):
    """Each connection: a handshake, every byte once, one FIN per end after
    its last data (the parent's close of its copy is not the end)."""
    from scapy.layers.inet import IP, TCP
    pcap = converted(tmp_path)
    assert support.tcp_streams(pcap) == expected_streams()
    assert data_after_fin(pcap) == []
    flags = {}
    for packet in support.read_packets(pcap):
        end = (packet[IP].src, packet[TCP].sport)
        flags.setdefault(end, []).append(str(packet[TCP].flags))
    for port in CLIENT_PORTS:
        client = flags[("127.0.0.1", port)]
        assert client[0] == "S" and client.count("FA") == 1
    assert flags[SERVER].count("SA") == 2 and flags[SERVER].count("FA") == 2


def test_forking_server_reads_clean_in_tshark(tmp_path):
    support.require("tshark")
    assert complaints(converted(tmp_path)) == ""


def test_msg_peek_reads_are_not_data_twice(tmp_path):
    """msg-peek.strace (strace 6.1, lines of the sockets only): a server
    thread sends "hello world"; the client peeks 5 bytes with MSG_PEEK, then
    reads all 11.  The peeked bytes are read again: they are in the stream
    once."""
    pcap = tmp_path / "peek.pcap"
    support.convert(support.FIXTURES / "inet" / "msg-peek.strace", pcap)
    assert support.tcp_streams(pcap) == {("127.0.0.1", 18090, "127.0.0.1", 43548): b"hello world"}


def test_refused_connects_are_a_syn_and_a_rst_each(tmp_path):
    """Each refused connect, blocking or told later by getsockopt(SO_ERROR)
    (whole, or resumed on another thread) or by a send: a SYN from a port of
    its own and the RST-ACK answering it; getsockopt telling no error gives
    nothing, and no connect counts as failed without packets."""
    from scapy.layers.inet import TCP
    pcap = tmp_path / "refused.pcap"
    result = support.convert(support.FIXTURES / "inet" / "refused.strace", pcap)
    segments = [packet[TCP] for packet in support.read_packets(pcap)]
    assert [str(segment.flags) for segment in segments] == ["S", "RA"] * 5
    syns, resets = segments[::2], segments[1::2]
    assert [syn.sport for syn in syns] == [61000, 61001, 61002, 61003, 61004]
    assert all(syn.dport == 9 for syn in syns)
    assert [(reset.seq, reset.ack) for reset in resets] == [(0, syn.seq + 1) for syn in syns]
    summary = result.stderr.decode()
    assert "5 connect() calls refused" in summary and "failed" not in summary


def test_refusals_told_late_or_not_at_all_keep_the_first_connects_time(tmp_path):
    """The SYN is the first connect's (poll's POLLERR then close, a second
    connect told refused), and on loopback the RST comes with it, so two
    threads' attempts stay in time order; a peer off loopback whose connect
    was closed unresolved gives its SYN alone, said; a bound port is kept."""
    from scapy.layers.inet import TCP
    pcap = tmp_path / "late.pcap"
    result = support.convert(support.FIXTURES / "inet" / "refused-told-late.strace", pcap)
    rows = [(round(float(packet.time), 6), packet[TCP].sport, packet[TCP].dport,
             str(packet[TCP].flags)) for packet in support.read_packets(pcap)]
    starts = [1795719017.458742, 1795719029.848570, 1795719305.319911, 1795719305.323117,
              1795719306.200200]
    ports = [(61000, 18995), (61001, 18997), (61002, 18975), (61003, 18975), (18791, 18975)]
    expected = []
    for start, (client, server) in zip(starts, ports):
        expected += [(start, client, server, "S"), (start, server, client, "RA")]
    expected.insert(-2, (1795719306.0001, 61004, 80, "S"))  # to 10.9.8.7, unanswered
    assert rows == expected
    summary = result.stderr.decode().splitlines()
    assert "  5 connect() calls refused: a SYN each and the peer's RST" in summary
    assert "  1 connect() call in progress was closed with no sign of an answer (the " \
           "program gave up): its SYN alone" in summary
    assert "  5 of those SYNs from a made-up port, 61000 and up: strace does not show it" \
        in summary


def test_error_queue_reads_are_not_data_from_the_peer(tmp_path):
    """errqueue.strace (strace 6.1, a helper's python3 programs, socket lines
    only): recvmsg(MSG_ERRQUEUE) reads back an IP_RECVERR copy of a UDP
    send to a closed port, a UDP send's transmit timestamp with the packet
    sent (65 bytes: Ethernet, IP, UDP headers and payload), and on a TCP
    connection a transmit timestamp of 0 bytes (SOF_TIMESTAMPING_OPT_TSONLY)
    and one of 86.  None of them is data from the peer: tcpdump saw the two
    UDP datagrams sent, and on TCP the requests, the 8-byte response, and
    the server's FIN after it (a 0-byte read was taken for its EOF, the
    86 bytes for its data)."""
    from scapy.layers.inet import TCP
    pcap = tmp_path / "errqueue.pcap"
    result = support.convert(support.FIXTURES / "inet" / "errqueue.strace", pcap)
    assert support.udp_datagrams(pcap) == [
        ("127.0.0.1", 47926, "127.0.0.1", 23081, b"to-closed-port-payload"),
        ("127.0.0.1", 42918, "127.0.0.1", 23080, b"tx-timestamped-datagram")]
    client, server = ("127.0.0.1", 42764), ("127.0.0.1", 23090)
    assert support.tcp_streams(pcap) == {
        client + server: b"first-request-bytessecond-request-bytes",
        server + client: b"response"}
    # Data and FINs in order: the server's FIN after its response, once.
    assert [(key[1], str(segment.flags), len(segment.payload))
            for _index, segment, key, _declared in support.tcp_segments(pcap)
            if segment.flags.F or segment.payload] == [
        (42764, "PA", 19), (42764, "PA", 20), (23090, "PA", 8), (42764, "FA", 0),
        (23090, "FA", 0)]
    assert ("skipped 4: reads of a socket's error queue (MSG_ERRQUEUE): its own errors and "
            "timestamps") in result.stderr.decode()


def test_a_datagram_read_in_part_is_its_senders_copy(tmp_path):
    """udp-read-in-part.strace (strace 6.1, a helper's python3 programs, UDP
    lines only): unbound sockets' first sendto and sendmmsg, their datagrams
    read by recvmsg and recvmmsg into 8-byte buffers (msg_flags MSG_TRUNC)
    that show the senders' ports.  Each datagram is the sender's whole copy,
    from that port, in the order sent: as tcpdump saw them (the reads'
    cut copies were written at their receive times)."""
    pcap = tmp_path / "in-part.pcap"
    result = support.convert(support.FIXTURES / "inet" / "udp-read-in-part.strace", pcap)
    assert support.udp_datagrams(pcap) == [
        ("127.0.0.1", 51740, "127.0.0.1", 23012, b"0123456789abcdef"),
        ("127.0.0.1", 43371, "127.0.0.1", 23010, b"mm-one-AAAA"),
        ("127.0.0.1", 43371, "127.0.0.1", 23011, b"mm-two-BBBBBBBB"),
        ("127.0.0.1", 43371, "127.0.0.1", 23010, b""),
        ("127.0.0.1", 43371, "127.0.0.1", 23010, b"mm-four-CCDDDD")]
    assert ("2 datagrams were read in part (msg_flags MSG_TRUNC: longer than the buffer)"
            in result.stderr.decode())


def test_both_ends_seen_first_mid_stream_line_up(tmp_path):
    """attached-echo.strace (strace 6.1, a helper's recording: ``strace -f
    -p`` on a python3 process whose two threads are an echo server and its
    client, the first 40 lines): each end's first syscall comes mid-stream,
    the client's first read is of an echo the server wrote before the
    attach.  Both streams are whole lines in order, each echo the message
    before it, as in tcpdump's capture (of which they are substrings).  Both
    cursors at 0 cut the first bytes of every message after the first."""
    pcap = tmp_path / "echo.pcap"
    support.convert(support.FIXTURES / "inet" / "attached-echo.strace", pcap)
    streams = support.tcp_streams(pcap)
    sent = streams[("127.0.0.1", 54984, "127.0.0.1", 22008)].split(b"\n")
    echoed = streams[("127.0.0.1", 22008, "127.0.0.1", 54984)].split(b"\n")
    assert sent[-1] == echoed[-1] == b""
    assert [line.split()[1] for line in sent[:-1]] == [b"%d" % n for n in range(6854, 6858)]
    assert echoed[0].startswith(b"echo:msg 6853 ")
    assert [b"echo:" + line for line in sent[:-1]] == echoed[1:-1]


def test_processes_connecting_on_the_same_fd_number_keep_their_connects(tmp_path):
    """two-processes-connect.strace (strace 6.1, a helper's python3 forked
    children, socket lines only): two processes connect to one server on
    fd 3 each, non-blocking, before either sends.  The first one's close
    took the second's pending connect (as if another thread of its own had
    made it): the second connection had no handshake.  Each now opens from
    its own port at its own connect, as tcpdump saw (2 SYNs, 2 streams)."""
    from scapy.layers.inet import TCP
    pcap = tmp_path / "two.pcap"
    result = support.convert(support.FIXTURES / "inet" / "two-processes-connect.strace", pcap)
    assert [key[1] for _index, segment, key, _declared in support.tcp_segments(pcap)
            if segment.flags == "S"] == [41790, 46856]
    assert support.tcp_streams(pcap) == {
        ("127.0.0.1", 41790, "127.0.0.1", 24900): b"hello from A",
        ("127.0.0.1", 46856, "127.0.0.1", 24900): b"hello from B"}
    assert [packet[TCP].sport for packet in support.read_packets(pcap)
            if packet[TCP].flags == "SA"] == [24900, 24900]
    assert "open before their first line" not in result.stderr.decode()


def test_so_error_telling_a_reset_is_the_peers_rst(tmp_path):
    """so-error-reset.strace (strace 6.1, a helper's nginx sending a 20 MB
    file with sendfile to a client that resets; the connection's lines):
    nginx learns of the reset only from getsockopt(SO_ERROR) = [ECONNRESET],
    then closes.  tcpdump shows the client's RST and no FIN from nginx; the
    close made a FIN and the reset was not shown."""
    from scapy.layers.inet import TCP
    pcap = tmp_path / "reset.pcap"
    support.convert(support.FIXTURES / "inet" / "so-error-reset.strace", pcap)
    ends = [(packet[TCP].sport, str(packet[TCP].flags)) for packet in support.read_packets(pcap)
            if packet[TCP].flags.F or packet[TCP].flags.R]
    assert ends == [(44188, "RA")]


def test_grpc_over_tcp_seen_mid_stream_decodes_with_the_readmes_fake_headers(tmp_path):
    """grpc-attached.strace (strace 6.1, a helper's grpcio server on port
    22003 attached with -p for 3 s, its connection's lines): the calls'
    HEADERS went before the attach, so Wireshark decodes their HTTP/2 but
    no gRPC; with the README's HTTP/2 fake headers (Seeding), all 58
    messages tcpdump's capture shows in that window."""
    support.require("tshark")
    pcap = tmp_path / "grpc.pcap"
    support.convert(support.FIXTURES / "inet" / "grpc-attached.strace", pcap)
    fake = ['uat:http2_fake_headers:"22003","0","%s","%s","%s","TRUE"' % header
            for header in [("IN", "content-type", "application/grpc"),
                           ("IN", ":path", "/test.Echo/Say"),
                           ("OUT", "content-type", "application/grpc"),
                           ("OUT", ":path", "/test.Echo/Say")]]
    decoding = ["-r", str(pcap), "-d", "tcp.port==22003,http2", "-Y", "grpc"]
    assert support.tshark(*decoding).splitlines() == []
    options = [argument for option in fake for argument in ("-o", option)]
    assert len(support.tshark(*decoding, *options).splitlines()) == 58


def test_a_java_async_close_by_dup2_is_the_sockets_fin(tmp_path):
    """java-async-close.strace (strace 6.1, a helper's JDK 17 program, its
    socket lines): one thread blocks reading a socket that another closes;
    the JDK dup2s a dead socketpair over the socket's fd, which closes it:
    tcpdump shows the client's FIN then, and the RST that answers the
    server's later write.  The dup2 was taken for a copy: no FIN, no RST."""
    from scapy.layers.inet import TCP
    pcap = tmp_path / "async-close.pcap"
    support.convert(support.FIXTURES / "inet" / "java-async-close.strace", pcap)
    ends = [(packet[TCP].sport, str(packet[TCP].flags)) for packet in support.read_packets(pcap)
            if packet[TCP].flags.F or packet[TCP].flags.R]
    assert ends == [(43824, "FA"), (43824, "RA"), (43840, "FA"), (21050, "FA")]
    streams = support.tcp_streams(pcap)
    assert streams[("127.0.0.1", 21050, "127.0.0.1", 43824)] == (  # v4-mapped: IPv4
        b"first message\nlate write to closed peer\n")


PEEKING_CLIENT = "4358  1795833500.%06d {}(3<TCP:[127.0.0.1:33274->127.0.0.1:24103]>{}) <0.000010>"


@pytest.mark.parametrize("later_read", [None, 64], ids=["unread", "read-after"])
def test_bytes_a_client_peeked_at_came(tmp_path, later_read):
    """wget (a helper's --mirror) peeks at 511 bytes of robots.txt's 404,
    reads its 185 bytes of headers and closes: the body came (tcpdump: the
    server's 520 bytes, and the client's RST for those it left unread).
    The peek was skipped: 185 bytes, and a FIN.  Now its unread bytes go
    before the RST, stamped no earlier than the packet before them; reads
    that take them all send them as without the peek."""
    response = bytes(range(200)) + b"x" * 40
    lines = ['4358  1795833500.000000 connect(3<TCP:[33274]>, {sa_family=AF_INET, '
             'sin_port=htons(24103), sin_addr=inet_addr("127.0.0.1")}, 16) = 0 <0.000010>']
    for time, name, rest in [
            (1000, "write", ', %s, 4) = 4' % support.xx_string(b"GET ")),
            (2000, "recvfrom", ', %s, 511, MSG_PEEK, NULL, NULL) = 200'
             % support.xx_string(response[:200])),
            (2100, "read", ', %s, 150) = 150' % support.xx_string(response[:150])),
            (2200, "read", ', %s, 90) = 90' % support.xx_string(response[150:]))
            if later_read else (2200, "close", ") = 0")]:
        lines.append(PEEKING_CLIENT.format(name, rest) % time)
    trace = tmp_path / "trace.txt"
    trace.write_text("\n".join(lines) + "\n")
    pcap = tmp_path / "out.pcap"
    support.convert(trace, pcap)
    from scapy.layers.inet import TCP
    rows = [(packet[TCP].sport, str(packet[TCP].flags), bytes(packet[TCP].payload),
             round(float(packet.time) - 1795833500, 6))
            for packet in support.read_packets(pcap) if packet[TCP].payload
            or packet[TCP].flags.F or packet[TCP].flags.R]
    server_data = [(payload, time) for port, _flags, payload, time in rows if port == 24103]
    if later_read:
        assert server_data == [(response[:150], 0.00211), (response[150:], 0.00221)]
    else:
        assert server_data == [(response[:150], 0.00211), (response[150:200], 0.00211)]
        assert rows[-1][:2] == (33274, "RA")


def test_a_peek_that_finds_the_end_of_the_stream_is_the_peers_fin(tmp_path):
    """rust-peek-eof.strace (strace 6.1, a helper's Rust std client, its
    socket lines but the long reads): a nonblocking client peeks before each
    read and stops when recvfrom(MSG_PEEK) returns 0, never reading the 0.
    tcpdump shows the server's FIN; the peek was skipped, the FIN lost."""
    from scapy.layers.inet import TCP
    pcap = tmp_path / "peek.pcap"
    support.convert(support.FIXTURES / "inet" / "rust-peek-eof.strace", pcap)
    ends = [(packet[TCP].sport, str(packet[TCP].flags)) for packet in support.read_packets(pcap)
            if packet[TCP].flags.F or packet[TCP].flags.R]
    assert ends == [(33212, "FA"), (21025, "FA")]


def test_data_for_a_socket_shut_down_and_closed_meets_its_rst(tmp_path):
    """shutdown-blocked-reader.strace (strace 6.1, a helper's Python
    program, its socket lines): a server thread blocks in recv(); another
    does shutdown(SHUT_RDWR), which ends that recv with 0, then close();
    the client, which had not shown its port yet, writes 0.7 s later.
    tcpdump: the server's FIN, the client's 9 bytes and the server's RST
    that answers them, no client FIN.  The close was dropped (its FIN out,
    its peer not seen yet) and the read of 0 counted as the client's FIN
    read: no RST, and a client FIN."""
    from scapy.layers.inet import TCP
    pcap = tmp_path / "shutdown.pcap"
    support.convert(support.FIXTURES / "inet" / "shutdown-blocked-reader.strace", pcap)
    packets = [(packet[TCP].sport, str(packet[TCP].flags), bytes(packet[TCP].payload))
               for packet in support.read_packets(pcap)]
    assert packets[3:] == [(22150, "FA", b""), (52908, "A", b""), (52908, "PA", b"late data"),
                           (22150, "RA", b"")]


def test_a_client_killed_in_its_first_read_gets_its_fin_and_rst(tmp_path):
    """killed-in-first-read.strace (strace 6.1, a helper's Python program,
    its socket lines): a forked client connects (the line shows only the
    socket's inode), blocks in recvfrom and is killed: the interrupted
    recvfrom (= ? ERESTARTSYS) is the only line that shows its port.  Then
    the server writes twice (the second gets EPIPE) and closes.  tcpdump:
    the client's FIN at the kill, the server's 4 bytes, the client's RST
    that answers them, no server FIN.  The interrupted line was skipped, the
    client end never joined its connection: no client FIN, no RST, and a
    server FIN."""
    from scapy.layers.inet import TCP
    pcap = tmp_path / "killed.pcap"
    result = support.convert(support.FIXTURES / "inet" / "killed-in-first-read.strace", pcap)
    packets = [(packet[TCP].sport, str(packet[TCP].flags), bytes(packet[TCP].payload))
               for packet in support.read_packets(pcap)]
    assert [(port, flags) for port, flags, _ in packets if "F" in flags or "R" in flags] == [
        (39692, "FA"), (39692, "RA")]
    assert [payload for _, _, payload in packets if payload] == [b"late"]
    assert "interrupted call" not in result.stderr.decode()


@pytest.mark.parametrize("trace, server_port, client_port", [
    ("inode-only-client.strace", 22856, 59262), ("inode-only-server.strace", 22816, 48964)])
def test_a_socket_annotated_by_its_inode_alone_stays_on_its_connection(tmp_path, trace,
                                                                      server_port, client_port):
    """A client shuts down its side after its request, then reads the
    answer; a gunicorn worker shuts down after its answer, then reads the
    client's FIN.  Their sockets are then in TIME_WAIT or near it, which
    -yy's kernel query no longer finds: strace prints ``7<TCP:[4758896]>``.
    Those reads are the fd's connection's: the answer (lost to a second
    connection between made-up addresses), its FIN, one connection."""
    from scapy.layers.inet import IP, TCP
    pcap = tmp_path / "inode.pcap"
    support.convert(support.FIXTURES / "inet" / trace, pcap)
    packets = support.read_packets(pcap)
    assert {(packet[IP].src, packet[TCP].sport) for packet in packets} == {
        ("127.0.0.1", server_port), ("127.0.0.1", client_port)}
    assert [packet[TCP].sport for packet in packets if packet[TCP].flags.F] == (
        [client_port, server_port] if "client" in trace else [server_port, client_port])
    answer = support.tcp_streams(pcap)[("127.0.0.1", server_port, "127.0.0.1", client_port)]
    assert answer.startswith(b"HTTP/1.0 200 OK") and answer.endswith(b"\r\n\r\nhello world\n")


def test_an_accept_of_a_reset_connection_shows_its_ends_from_its_arguments(tmp_path):
    """inode-only-accept.strace: the client sent its request and reset the
    connection (SO_LINGER 0) before the server accepted it; the accepted
    socket shows its inode alone.  Its ends are the listener's address and
    the peer's in the accept's arguments: tcpdump's connection, the
    request, then the client's RST (made-up addresses before, and no RST)."""
    from scapy.layers.inet import IP, TCP
    pcap = tmp_path / "accept.pcap"
    support.convert(support.FIXTURES / "inet" / "inode-only-accept.strace", pcap)
    assert [(packet[IP].src, packet[TCP].sport, str(packet[TCP].flags), len(packet[TCP].payload))
            for packet in support.read_packets(pcap)] == [
        ("127.0.0.1", 40070, "S", 0), ("127.0.0.1", 22857, "SA", 0), ("127.0.0.1", 40070, "A", 0),
        ("127.0.0.1", 40070, "PA", 22), ("127.0.0.1", 40070, "RA", 0)]

"""TCP conversation rules of the INET packetizer, event by event: forks
sharing a socket, held FINs, sockets bound before connect, connects whose
fd a sibling thread uses, 4-tuple reuse."""

import pytest
from scapy.layers.inet import TCP
from scapy.layers.l2 import Ether

from strace_parser import SEND_PENDING, StraceParser
from strace_parser_2_packet import InetPacketizer
from tcp_flow import (FIN_HOLD_SECONDS, ISN_STEP, HeldBackBudget, TcpConversation,
                      initial_sequence)
from tcp_utils import ETHERTYPE_IPV4, LinkHeaders
import support
from test_frames import CLIENT4, SERVER4, T0, event, run

SERVER_SIDE = dict(local=SERVER4, remote=CLIENT4)
CLIENT_SIDE = dict(local=CLIENT4, remote=SERVER4)


def summary(packets):
    """[(sport, flags, payload length, time, pid)] of TCP packets."""
    rows = []
    for time, frame, wire_length, item, _outbound in packets:
        segment = Ether(frame)[TCP]
        rows.append((segment.sport, str(segment.flags), wire_length - len(frame)
                     + len(segment.payload), time, item["pid"]))
    return rows


def test_parent_closes_its_copy_after_fork():
    """ForkingTCPServer: the parent closes the accepted fd, the child serves
    the connection: one FIN from the server, after the child's data, stamped
    with the close that really ended the connection."""
    packets = run([
        event("accept4", pid=1, fd=4, time=T0, **SERVER_SIDE),
        event("close", pid=1, fd=4, time=T0 + 0.001, **SERVER_SIDE),
        event("read", "in", b"question", pid=2, fd=4, time=T0 + 0.002, **SERVER_SIDE),
        event("write", "out", b"answer", pid=2, fd=4, time=T0 + 0.003, **SERVER_SIDE),
        event("close", pid=2, fd=4, time=T0 + 0.004, **SERVER_SIDE),
    ])
    rows = summary(packets)
    assert [(port, flags, length) for port, flags, length, _time, _pid in rows] == [
        (40001, "S", 0), (18000, "SA", 0), (40001, "A", 0),
        (40001, "PA", 8), (18000, "PA", 6), (18000, "FA", 0), (40001, "A", 0)]
    assert rows[-2][3:] == (T0 + 0.004, 2)


def test_child_closes_its_copy_parent_keeps_using():
    packets = run([
        event("write", "out", b"a", pid=1, fd=4, time=T0, **CLIENT_SIDE),
        event("close", pid=2, fd=4, time=T0 + 0.1, **CLIENT_SIDE),
        event("write", "out", b"b", pid=1, fd=4, time=T0 + 0.2, **CLIENT_SIDE),
    ])
    assert [flags for _port, flags, *_rest in summary(packets)] == ["PA", "PA"]


def test_held_fin_goes_out_when_the_trace_moves_on():
    """A close's FIN waits FIN_HOLD_SECONDS of trace time, then goes out
    before the packets of the event that passed that time, with its own time."""
    packetizer_events = [
        event("write", "out", b"a", time=T0, **CLIENT_SIDE),
        event("close", time=T0 + 1, **CLIENT_SIDE),
        event("sendto", "out", b"later", local=("127.0.0.1", 5000), remote=("127.0.0.1", 53),
              fd=9, time=T0 + 1 + FIN_HOLD_SECONDS + 0.1),
    ]
    packets = run(packetizer_events, flush=False)
    assert [packet[0] for packet in packets] == [T0, T0 + 1, T0 + 1,
                                                 T0 + 1 + FIN_HOLD_SECONDS + 0.1]
    assert [str(Ether(packet[1])[TCP].flags) for packet in packets[:3]] == ["PA", "FA", "A"]


def test_peer_reading_zero_releases_the_held_fin():
    packets = run([
        event("write", "out", b"bye", pid=1, fd=3, time=T0, **CLIENT_SIDE),
        event("close", pid=1, fd=3, time=T0 + 0.1, **CLIENT_SIDE),
        event("read", "in", b"", pid=2, fd=4, time=T0 + 0.2, **SERVER_SIDE),
        event("close", pid=2, fd=4, time=T0 + 0.3, **SERVER_SIDE),
    ])
    rows = summary(packets)
    assert [(port, flags, time, pid) for port, flags, _length, time, pid in rows] == [
        (40001, "PA", T0, 1), (40001, "FA", T0 + 0.1, 1), (18000, "A", T0 + 0.1, 1),
        (18000, "FA", T0 + 0.3, 2), (40001, "A", T0 + 0.3, 2)]


def test_a_held_fin_the_peer_data_passed_keeps_its_place():
    """The server closes (its FIN held: a fork's child might go on), then
    the traced client writes, then reads 0.  The FIN and its ACK go out at
    the close's time, with the sequence numbers of then (before the
    client's bytes), and the server's RST answers those bytes."""
    packets = run([
        event("write", "out", b"hi", pid=1, fd=3, time=T0, **CLIENT_SIDE),
        event("read", "in", b"hi", pid=2, fd=4, time=T0 + 0.1, **SERVER_SIDE),
        event("close", pid=2, fd=4, time=T0 + 0.2, **SERVER_SIDE),
        event("write", "out", b"late", pid=1, fd=3, time=T0 + 0.5, **CLIENT_SIDE),
        event("read", "in", b"", pid=1, fd=3, time=T0 + 0.6, **CLIENT_SIDE),
    ])
    rows = [(segment.sport, str(segment.flags), segment.seq, segment.ack, packet[0])
            for packet in packets for segment in [Ether(packet[1])[TCP]]]
    client, server = initial_sequence(CLIENT4, SERVER4), initial_sequence(SERVER4, CLIENT4)
    assert rows == [
        (40001, "PA", client, server, T0),
        (40001, "PA", client + 2, server, T0 + 0.5),
        (18000, "FA", server, client + 2, T0 + 0.2),
        (40001, "A", client + 2, server + 1, T0 + 0.2),
        (18000, "RA", server + 1, client + 6, T0 + 0.5)]


def test_an_accept_of_a_traced_client_takes_its_connect_time():
    """Both ends traced, the client's non-blocking connect() still waiting
    for its port to show when the accept returns 4 ms later (a sweep:
    ZeroMQ, gRPC, PostgreSQL were 3-7 ms late): the SYN at the connect."""
    lines = [
        '7 1795659000.000000 connect(5<TCP:[1001]>, {sa_family=AF_INET, sin_port=htons(18000), '
        'sin_addr=inet_addr("127.0.0.1")}, 16) = -1 EINPROGRESS (Operation now in progress) '
        '<0.000050>',
        '8 1795659000.000100 accept4(3<TCP:[127.0.0.1:18000]>, NULL, NULL, SOCK_CLOEXEC) = '
        '4<TCP:[127.0.0.1:18000->127.0.0.1:40001]> <0.004000>',
        '7 1795659000.004500 getsockopt(5<TCP:[127.0.0.1:40001->127.0.0.1:18000]>, SOL_SOCKET, '
        'SO_ERROR, [0], [4]) = 0 <0.000010>',
        '7 1795659000.004600 sendto(5<TCP:[127.0.0.1:40001->127.0.0.1:18000]>, "\\x68\\x69", 2, '
        '0, NULL, 0) = 2 <0.000010>',
    ]
    parser = StraceParser()
    events = [event for line in lines for event in parser.parse(line)]
    rows = summary(run(events, flush=False))
    assert [(port, flags, time) for port, flags, _length, time, _pid in rows] == [
        (40001, "S", 1795659000.0), (18000, "SA", 1795659000.0), (40001, "A", 1795659000.0),
        (40001, "PA", 1795659000.0046)]


def test_both_ends_closing_let_both_fins_out_at_once():
    """Client and server close() 32 us apart (a sweep's PostgreSQL-like
    program): both ends are done, so neither FIN waits FIN_HOLD_SECONDS
    while later traffic piles up behind them (they were written 1.7 s of
    trace later, after the next connection's packets)."""
    packets = run([
        event("write", "out", b"bye", pid=1, fd=3, time=T0, **CLIENT_SIDE),
        event("read", "in", b"bye", pid=2, fd=4, time=T0 + 0.000005, **SERVER_SIDE),
        event("close", pid=1, fd=3, time=T0 + 0.000010, **CLIENT_SIDE),
        event("close", pid=2, fd=4, time=T0 + 0.000042, **SERVER_SIDE),
    ], flush=False)
    rows = summary(packets)
    assert [(port, flags, time) for port, flags, _length, time, _pid in rows] == [
        (40001, "PA", T0), (40001, "FA", T0 + 0.000010), (18000, "A", T0 + 0.000010),
        (18000, "FA", T0 + 0.000042), (40001, "A", T0 + 0.000042)]


def test_shutdown_rd_sends_no_fin_and_shutdown_wr_at_once():
    """SHUT_RD sends nothing, and the reads of 0 bytes after it are not the
    peer's FIN; SHUT_RDWR sends the FIN at once."""
    packets = run([
        event("write", "out", b"x", time=T0, **CLIENT_SIDE),
        event("shutdown", how="SHUT_RD", time=T0 + 1, **CLIENT_SIDE),
        event("read", "in", b"", time=T0 + 1.5, **CLIENT_SIDE),
        event("shutdown", how="SHUT_RDWR", time=T0 + 2, **CLIENT_SIDE),
    ], flush=False)
    assert [(flags, time) for _port, flags, _length, time, _pid in summary(packets)] == [
        ("PA", T0), ("FA", T0 + 2), ("A", T0 + 2)]


def test_socket_bound_before_connect():
    """strace keeps printing a bound socket's annotation as it was at bind
    (``TCP:[127.0.0.1:40001]``): the peer comes from connect()."""
    packets = run([
        event("connect", local=CLIENT4, remote=SERVER4, time=T0),
        event("write", "out", b"hi", local=CLIENT4, remote=None, time=T0 + 1),
        event("close", local=CLIENT4, remote=None, time=T0 + 2),
    ])
    rows = summary(packets)
    assert [(flags, time) for _port, flags, _length, time, _pid in rows] == [
        ("S", T0), ("SA", T0), ("A", T0), ("PA", T0 + 1), ("FA", T0 + 2), ("A", T0 + 2)]
    assert Ether(packets[3][1])[TCP].dport == SERVER4[1]


def test_connect_in_one_thread_data_in_another():
    packets = run([
        event("connect", local=None, remote=SERVER4, pid=10, fd=3, time=T0),
        event("write", "out", b"hi", pid=11, fd=3, time=T0 + 1, **CLIENT_SIDE),
    ])
    assert [(flags, time) for _port, flags, _length, time, _pid in summary(packets)] == [
        ("S", T0), ("SA", T0), ("A", T0), ("PA", T0 + 1)]


def test_four_tuple_reused_is_a_new_connection():
    """A second connect on the 4-tuple of a finished connection gets its own
    handshake, with sequence numbers past the old ones."""
    one_connection = [
        event("connect", local=None, remote=SERVER4, time=T0),
        event("write", "out", b"abc", time=T0 + 1, **CLIENT_SIDE),
        event("read", "in", b"", time=T0 + 2, **CLIENT_SIDE),
        event("close", time=T0 + 3, **CLIENT_SIDE),
    ]
    later = [dict(item, time=item["time"] + 10) for item in one_connection]
    packets = run(one_connection + later)
    syns = [Ether(packet[1])[TCP] for packet in packets if Ether(packet[1])[TCP].flags.S]
    assert len(syns) == 4
    first_isn = initial_sequence(CLIENT4, SERVER4)
    # Old client direction: SYN + 3 bytes + FIN.
    assert syns[0].seq == first_isn
    assert syns[2].seq == (first_isn + 5 + ISN_STEP) & 0xFFFFFFFF


def test_a_servers_short_connections_are_forgotten_but_their_ports_isns(monkeypatch):
    """A server traced alone serving short connections (a helper's nginx
    under ab, 94 308 of them: 183 MB, every connection kept by the live
    table and its thread's): each is retired once its FIN went and the
    client's never shows, and its thread forgets it.  A client port that
    comes round again, its first connection long gone from the closed
    table, still gets ISNs past the first one's (not the same ISNs:
    Wireshark took them for retransmissions)."""
    import strace_parser_2_packet
    monkeypatch.setattr(strace_parser_2_packet, "CLOSED_CONVERSATIONS_KEPT", 10)
    packetizer = strace_parser_2_packet.InetPacketizer()
    syn_acks = []
    for number in range(200):
        client = dict(local=SERVER4, remote=("127.0.0.1", 40000 + number % 50), fd=6)
        time = T0 + 10 * number
        events = [event("accept4", pid=1, time=time, **client),
                  event("read", "in", b"GET", pid=1, time=time + 1, **client),
                  event("write", "out", b"200", pid=1, time=time + 2, **client),
                  event("close", pid=1, time=time + 3, **client)]
        for item in events:
            for _time, frame, *_rest in packetizer.packets(item):
                segment = Ether(frame)[TCP]
                if str(segment.flags) == "SA" and segment.dport == 40000:
                    syn_acks.append(segment.seq)
    assert len(packetizer.conversations) <= 2 and len(packetizer.last_users.by_thread[1]) <= 2
    first = initial_sequence(SERVER4, ("127.0.0.1", 40000))
    # Each connection: its SYN, 3 bytes and its FIN.
    assert syn_acks == [(first + use * (5 + ISN_STEP)) & 0xFFFFFFFF for use in range(4)]


def test_a_server_seen_after_its_clients_fin_joins_its_connection():
    """A Rust client writes, shuts down and waits, and its server's accept
    line comes after that FIN (a sweep's trace): one connection, whose
    client end is over before its server end shows (it was retired at the
    FIN, and the accept opened a second connection)."""
    packets = run([
        event("connect", local=CLIENT4, remote=SERVER4, pid=7, time=T0),
        event("write", "out", b"abc", pid=7, time=T0 + 0.001, **CLIENT_SIDE),
        event("shutdown", pid=7, time=T0 + 0.002, how="SHUT_WR", **CLIENT_SIDE),
        event("accept4", pid=1, fd=6, time=T0 + 0.0025, **SERVER_SIDE),
        event("read", "in", b"abc", pid=1, fd=6, time=T0 + 0.003, **SERVER_SIDE),
        event("read", "in", b"", pid=1, fd=6, time=T0 + 0.004, **SERVER_SIDE),
    ])
    assert [(port, flags) for port, flags, *_rest in summary(packets)] == [
        (40001, "S"), (18000, "SA"), (40001, "A"), (40001, "PA"), (40001, "FA"), (18000, "A")]


def test_accept_after_connect_of_the_same_connection_adds_no_handshake():
    packets = run([
        event("connect", local=None, remote=SERVER4, pid=1, fd=3, time=T0),
        event("write", "out", b"abc", pid=1, fd=3, time=T0 + 1, **CLIENT_SIDE),
        event("accept", pid=2, fd=4, time=T0 + 0.5, **SERVER_SIDE),
        event("read", "in", b"abc", pid=2, fd=4, time=T0 + 2, **SERVER_SIDE),
    ], flush=False)
    assert [flags for _port, flags, *_rest in summary(packets)] == ["S", "SA", "A", "PA"]


def test_live_table_stays_bounded_and_retired_conversations_continue(monkeypatch):
    """Connections whose end never shows (one end traced, keep-alive) do not
    pile up: idle ones are retired, and a late event still continues them."""
    import strace_parser_2_packet
    monkeypatch.setattr(strace_parser_2_packet, "LIVE_CONVERSATIONS_KEPT", 10)
    packetizer = strace_parser_2_packet.InetPacketizer()
    first = dict(local=("127.0.0.1", 30000), remote=SERVER4)
    packetizer.packets(event("write", "out", b"abc", time=T0, **first))
    for port in range(30001, 30050):
        packetizer.packets(event("write", "out", b"x", time=T0 + 10 * (port - 30000),
                                 local=("127.0.0.1", port), remote=SERVER4))
    assert len(packetizer.conversations) <= 11
    [late] = packetizer.packets(event("write", "out", b"d", time=T0 + 1000, **first))
    assert Ether(late[1])[TCP].seq == initial_sequence(first["local"], SERVER4) + 3


def test_stale_connect_does_not_split_a_live_connection():
    """A connect to the same peer on the same fd number that ended before the
    connection's last packet is not a new connection: the connection the
    process then uses on another fd (a dup) took it as its own, and the
    later syscall on the connect's fd goes on the same stream."""
    packets = run([
        event("connect", local=None, remote=SERVER4, fd=3, time=T0, error="EINPROGRESS"),
        event("write", "out", b"ab", fd=4, time=T0 + 1, **CLIENT_SIDE),
        event("write", "out", b"cd", fd=3, time=T0 + 2, **CLIENT_SIDE),
    ])
    segments = [Ether(packet[1])[TCP] for packet in packets]
    assert [str(segment.flags) for segment in segments] == ["S", "SA", "A", "PA", "PA"]
    assert packets[0][0] == T0
    assert segments[4].seq == segments[3].seq + 2


def test_a_reset_ends_the_conversation():
    """A read failing with ECONNRESET met the server's RST: a RST from the
    server at the read's end, acking the client's bytes; the client's close
    after it sends no FIN, and neither does the server's later close."""
    packets = run([
        event("connect", local=CLIENT4, remote=SERVER4, time=T0),
        event("write", "out", b"hello", time=T0 + 0.001, **CLIENT_SIDE),
        event("read", None, length=-1, error="ECONNRESET", time=T0 + 0.002, **CLIENT_SIDE),
        event("close", time=T0 + 0.003, **CLIENT_SIDE),
        event("close", pid=9, time=T0 + 0.004, **SERVER_SIDE),
    ])
    rows = summary(packets)
    assert [(port, flags, length) for port, flags, length, _time, _pid in rows] == [
        (40001, "S", 0), (18000, "SA", 0), (40001, "A", 0), (40001, "PA", 5), (18000, "RA", 0)]
    segment = Ether(packets[-1][1])[TCP]
    assert segment.ack == Ether(packets[-2][1])[TCP].seq + 5
    assert rows[-1][3] == T0 + 0.002


def exited(pid, time, alone=False):
    return {"protocol": "exited", "pid": pid, "time": time, "syscall": "exit", "comm": None,
            "alone": alone}


def run_with_exits(events):
    """``run``, exit events going to the packetizer's ``exited``."""
    packetizer = InetPacketizer()
    packets = []
    for item in events:
        packets += (packetizer.exited(item) if item["protocol"] == "exited"
                    else packetizer.packets(item))
    return packets + packetizer.flush()


def test_a_process_exit_closes_the_connections_it_used_last():
    """A client that exits without close(): the kernel's FIN, at the exit,
    from the side its thread used last; the exit of another process that
    never used the connection changes nothing."""
    packetizer_events = [
        event("connect", local=CLIENT4, remote=SERVER4, pid=7, time=T0),
        event("write", "out", b"bye", pid=7, time=T0 + 0.001, **CLIENT_SIDE),
        exited(8, T0 + 0.002),
        exited(7, T0 + 0.003),
    ]
    rows = summary(run_with_exits(packetizer_events))
    assert [(port, flags) for port, flags, *_rest in rows][-3:] == [
        (40001, "PA"), (40001, "FA"), (18000, "A")]
    assert rows[-2][3:] == (T0 + 0.003, 7)


def test_bytes_sent_after_a_peers_exit_meet_its_fin_then_its_rst():
    """etcdctl exits without close() after its answer; the server writes
    17 bytes 3 ms later (a helper's etcd and etcdctl, both traced): the
    client's FIN at its exit, then those bytes, then its RST, as tcpdump
    shows (there was only the RST: the exit judged the bytes unread)."""
    rows = summary(run_with_exits([
        event("connect", local=CLIENT4, remote=SERVER4, pid=7, time=T0),
        event("accept4", pid=1, fd=6, time=T0 + 0.0001, **SERVER_SIDE),
        event("write", "out", b"put", pid=7, time=T0 + 0.001, **CLIENT_SIDE),
        event("read", "in", b"put", pid=1, fd=6, time=T0 + 0.002, **SERVER_SIDE),
        event("write", "out", b"ok", pid=1, fd=6, time=T0 + 0.003, **SERVER_SIDE),
        event("read", "in", b"ok", pid=7, time=T0 + 0.004, **CLIENT_SIDE),
        exited(7, T0 + 0.005),
        event("write", "out", b"settings-ack-17by", pid=1, fd=6, time=T0 + 0.008,
              **SERVER_SIDE),
    ]))
    in_time_order = sorted(rows, key=lambda row: row[3])  # as the converter writes them
    assert [(port, flags, length, time)
            for port, flags, length, time, _pid in in_time_order][-4:] == [
        (40001, "FA", 0, T0 + 0.005), (18000, "A", 0, T0 + 0.005),
        (18000, "PA", 17, T0 + 0.008), (40001, "RA", 0, T0 + 0.008)]


def test_a_shutdown_then_an_exit_with_bytes_unread_resets():
    """socat: shutdown(SHUT_RDWR), then exit_group with bytes of its
    peer unread: tcpdump shows the FIN, then the kernel's RST at the exit;
    the traced peer's close later sends nothing (it was a RST of the peer)."""
    rows = summary(run_with_exits([
        event("write", "out", b"request", pid=8, time=T0, **CLIENT_SIDE),
        event("read", "in", b"req", pid=7, time=T0 + 0.001, **SERVER_SIDE),
        event("shutdown", pid=7, time=T0 + 0.002, how="SHUT_RDWR", **SERVER_SIDE),
        exited(7, T0 + 0.003),
        event("close", pid=8, time=T0 + 0.3, **CLIENT_SIDE),
    ]))
    assert [(port, flags, time) for port, flags, _length, time, _pid in rows
            if "F" in flags or "R" in flags] == [(18000, "FA", T0 + 0.002),
                                                 (18000, "RA", T0 + 0.003)]


def test_a_shutdown_then_a_linger_0_close_resets():
    """haproxy aborting a server: shutdown(SHUT_WR), SO_LINGER 0, close():
    the FIN, then the RST (tcpdump), though the peer is not traced."""
    rows = summary(run([
        event("write", "out", b"hello", time=T0, **CLIENT_SIDE),
        event("shutdown", time=T0 + 0.001, how="SHUT_WR", **CLIENT_SIDE),
        event("setsockopt", time=T0 + 0.1, how="SO_LINGER 0", **CLIENT_SIDE),
        event("close", time=T0 + 0.2, **CLIENT_SIDE),
    ]))
    assert [(port, flags, time) for port, flags, _length, time, _pid in rows
            if "F" in flags or "R" in flags] == [(40001, "FA", T0 + 0.001),
                                                 (40001, "RA", T0 + 0.2)]


def test_a_close_after_both_fins_sends_nothing_though_bytes_are_unread():
    """The server shuts down (its FIN), the client sends more and closes
    (its FIN): the server's socket is closed (TIME_WAIT) when it calls
    close() with those bytes unread, and the kernel sends nothing (tcpdump:
    two FINs, no RST; a Go helper's trace had a RST)."""
    rows = summary(run([
        event("write", "out", b"resp", pid=7, time=T0, **SERVER_SIDE),
        event("shutdown", pid=7, time=T0 + 0.001, how="SHUT_WR", **SERVER_SIDE),
        event("read", "in", b"resp", pid=8, time=T0 + 0.002, **CLIENT_SIDE),
        event("write", "out", b"more data", pid=8, time=T0 + 0.003, **CLIENT_SIDE),
        event("close", pid=8, time=T0 + 0.004, **CLIENT_SIDE),
        event("close", pid=7, time=T0 + 0.1, **SERVER_SIDE),
    ]))
    assert [(port, flags) for port, flags, *_rest in rows if "F" in flags or "R" in flags] == [
        (18000, "FA"), (40001, "FA")]


@pytest.mark.parametrize("failed_write", [
    'sendto(%(c)s, "\\x61\\x62", 2, 0, NULL, 0) = -1 EPIPE (Broken pipe)',
    "splice(13<pipe:[123]>, NULL, %(c)s, NULL, 65536, SPLICE_F_MOVE) = -1 EPIPE (Broken pipe)",
], ids=["sendto", "splice"])
def test_a_write_failing_with_epipe_met_the_peers_fin_and_rst(failed_write):
    """A server answers early, shuts down and closes with the request
    unread: its FIN, then its RST, which a write (or haproxy's splice)
    meets as EPIPE (the socket was in CLOSE_WAIT), though the client never
    read 0.  Its later close() sends nothing (tcpdump: the server's FIN and
    RST, no FIN from the client; the pcap had the client's FIN alone)."""
    packets, _packetizer = converted([
        CONNECT, (8, moved("write", "c", b"POST")), (8, failed_write),
        (8, "close(%(c)s) = 0")])
    assert ends(packets) == [(18000, "FA"), (18000, "RA")]


SPLICED = "splice(13<pipe:[123]>, NULL, %%(c)s, NULL, %d, 0) = %s"


def test_bytes_spliced_to_a_peer_that_closed_are_in_the_pcap_before_its_rst():
    """A Go proxy's io.Copy (splice) writes to a server that answered and
    closed, after reading its FIN: the kernel takes the 25 bytes, the
    server's answers them with a RST (tcpdump), and the next splice meets
    EPIPE.  The 25 bytes waited for the server's reads, which never came:
    they were lost, and the RST came at the EPIPE, 50 ms late."""
    packets, _packetizer = converted(OPENING + [
        (8, SPLICED % (11, "11")), (7, moved("read", "s", b"hello 0 0 \n")),
        (7, moved("write", "s", b"HTTP/1.1 400")), (7, "close(%(s)s) = 0"),
        (8, moved("read", "c", b"HTTP/1.1 400")), (8, moved("read", "c", b"")),
        (8, SPLICED % (25, "25")), (8, SPLICED % (29, "-1 EPIPE (Broken pipe)")),
        (8, "close(%(c)s) = 0")])
    rows = summary(packets)
    assert [(port, flags, length) for port, flags, length, _time, _pid in rows][-4:] == [
        (18000, "FA", 0), (54200, "A", 0), (54200, "PA", 25), (18000, "RA", 0)]
    assert rows[-1][3] == rows[-2][3] == T0 + 0.008  # the 25 bytes' splice


def test_bytes_a_held_close_left_unread_go_at_their_write_before_its_rst():
    """The server closes (its FIN held), the client splices 25 bytes 50 ms
    later, which the closed socket answers with a RST: the bytes and the
    RST at the splice, not at the close (they were stamped 50 ms early)."""
    packets, _packetizer = converted(OPENING + [
        (8, SPLICED % (11, "11")), (7, moved("read", "s", b"hello 0 0 \n")),
        (7, "close(%(s)s) = 0"), (8, SPLICED % (25, "25")), (8, "close(%(c)s) = 0")])
    rows = summary(packets)
    assert [(port, flags, length, time) for port, flags, length, time, _pid in rows][-4:] == [
        (18000, "FA", 0, T0 + 0.004), (54200, "A", 0, T0 + 0.004),
        (54200, "PA", 25, T0 + 0.005), (18000, "RA", 0, T0 + 0.005)]


def test_a_thread_ending_alone_sends_no_fin():
    """A thread that ended alone (exit()): its process keeps the socket."""
    packets = run_with_exits([
        event("write", "out", b"a", pid=7, time=T0, **CLIENT_SIDE),
        exited(7, T0 + 0.1, alone=True),
    ])
    assert [flags for _port, flags, *_rest in summary(packets)] == ["PA"]


def test_a_thread_still_using_the_connection_cancels_the_exit_fin():
    """The exit of a thread whose process goes on using the socket (a thread
    of the same pid table, or a forked copy): its FIN is held, as a close's,
    and the next syscall of that side cancels it."""
    packets = run_with_exits([
        event("write", "out", b"a", pid=7, time=T0, **CLIENT_SIDE),
        exited(7, T0 + 0.1),
        event("write", "out", b"b", pid=9, time=T0 + 0.2, **CLIENT_SIDE),
    ])
    assert [flags for _port, flags, *_rest in summary(packets)] == ["PA", "PA"]


def test_a_blocking_accept_opens_its_connection_when_it_returns():
    """php-fpm waits in accept() for seconds; nginx's connect() is still
    unfinished when the accept returns (sweep of nginx -> php-fpm on
    127.0.0.1:9000): the handshake is stamped at the accept's return,
    where tcpdump saw the SYN (0.1 ms before), not 2.09 s early at its start."""
    lines = [
        '6752  1795709034.254682 accept(11<TCP:[127.0.0.1:9000]>,  <unfinished ...>',
        '6751  1795709036.338251 connect(11<TCP:[1364737]>, {sa_family=AF_INET, '
        'sin_port=htons(9000), sin_addr=inet_addr("\\x31\\x32\\x37\\x2e\\x30\\x2e\\x30\\x2e\\x31")}'
        ', 16 <unfinished ...>',
        '6752  1795709036.341532 <... accept resumed>{sa_family=AF_INET, sin_port=htons(52162), '
        'sin_addr=inet_addr("\\x31\\x32\\x37\\x2e\\x30\\x2e\\x30\\x2e\\x31")}, [112 => 16]) = '
        '5<TCP:[127.0.0.1:9000->127.0.0.1:52162]> <2.086828>',
    ]
    parser = StraceParser()
    events = [event for line in lines for event in parser.parse(line)]
    rows = summary(run(events, flush=False))
    assert [(port, flags) for port, flags, _length, _time, _pid in rows] == [
        (52162, "S"), (9000, "SA"), (52162, "A")]
    assert [time for _port, _flags, _length, time, _pid in rows] == pytest.approx(
        [1795709034.254682 + 2.086828] * 3, abs=1e-6)


@pytest.mark.parametrize("remote, bound, source, destination", [
    (("10.1.2.3", 80), None, "192.0.2.", "10.1.2.3"),       # off loopback: a placeholder
    (("2001:db8:5::1", 80), None, "2001:db8::", "2001:db8:5::1"),
    (("::ffff:10.1.2.3", 80), None, "192.0.2.", "10.1.2.3"),  # dual-stack: IPv4 on the wire
    (("::1", 80), None, "::1", "::1"),
    (("127.0.0.1", 80), ("127.0.0.1", 5000), "127.0.0.1", "127.0.0.1"),  # bound first
])
def test_a_refused_connect_comes_from_a_made_up_port_or_its_bound_one(remote, bound, source,
                                                                      destination):
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6
    packets = run([event("connect", local=bound, remote=remote, error="ECONNREFUSED",
                         length=-1)] * 2)
    frames = [Ether(frame) for _time, frame, _length, _item, _outbound in packets]
    assert [str(frame[TCP].flags) for frame in frames] == ["S", "RA", "S", "RA"]
    network = [frame[IP] if frame.haslayer(IP) else frame[IPv6] for frame in frames]
    assert network[0].src.startswith(source) and network[0].dst == destination
    assert (network[1].src, network[1].dst) == (network[0].dst, network[0].src)
    ports = [frame[TCP].sport for frame in frames[::2]]
    assert ports == ([5000, 5000] if bound else [61000, 61001])


def test_a_read_meeting_a_reset_makes_the_peers_held_close_the_rst():
    """Both ends traced: the client sent 1000 bytes, the server read 10 and
    closed, so the kernel reset the connection at that close (a real
    capture: RST 0.2 s in, no FIN).  The client's read that meets it tells:
    the held close goes out as that RST, at its time, not the read's."""
    events = [
        event("connect", pid=1, fd=3, time=T0, error="EINPROGRESS", length=-1,
              local=None, remote=SERVER4),
        event("accept4", pid=2, fd=4, time=T0 + 0.001, **SERVER_SIDE),
        event("write", "out", bytes(1000), pid=1, fd=3, time=T0 + 0.002, **CLIENT_SIDE),
        event("read", "in", bytes(10), pid=2, fd=4, time=T0 + 0.2, **SERVER_SIDE),
        event("close", pid=2, fd=4, time=T0 + 0.201, **SERVER_SIDE),
        event("read", None, pid=1, fd=3, time=T0 + 0.5, length=-1, error="ECONNRESET",
              **CLIENT_SIDE),
    ]
    rows = summary(run(events))
    ends = [(port, flags, time) for port, flags, _length, time, _pid in rows
            if "R" in flags or "F" in flags]
    assert ends == [(SERVER4[1], "RA", T0 + 0.201)]


def test_a_socket_connected_to_itself_sends_each_byte_once():
    """A connect to the socket's own port (it works: a simultaneous open)
    makes one socket both ends: its read is of its own bytes and its 0-read
    of its own FIN.  Each segment once, acking what it received, as tcpdump
    shows it (it gave every byte and the FIN twice: 7 frames Wireshark
    flagged)."""
    own = dict(local=CLIENT4, remote=CLIENT4)
    packets = run([
        event("connect", pid=1, fd=3, time=T0, **own),
        event("sendto", "out", b"hello-self", pid=1, fd=3, time=T0 + 0.001, protocol="TCP",
              **own),
        event("recvfrom", "in", b"hello-self", pid=1, fd=3, time=T0 + 0.002, protocol="TCP",
              **own),
        event("shutdown", pid=1, fd=3, time=T0 + 0.003, how="SHUT_WR", **own),
        event("recvfrom", "in", b"", pid=1, fd=3, time=T0 + 0.004, protocol="TCP", **own),
        event("close", pid=1, fd=3, time=T0 + 0.005, **own),
    ])
    isn = initial_sequence(CLIENT4, CLIENT4)
    assert [(str(segment.flags), segment.seq - isn, segment.ack - isn if segment.ack else 0,
             len(segment.payload))
            for segment in (Ether(frame)[TCP] for _time, frame, *_rest in packets)] == [
        ("S", 0, 0, 0), ("A", 1, 1, 0), ("PA", 1, 1, 10), ("FA", 11, 11, 0), ("A", 12, 12, 0)]


def test_writes_held_back_stay_within_their_budget():
    """The writes held for a traced reader (see test_sendfile) keep their
    printed bytes, all conversations within one budget: past it a write
    goes out at once, after the bytes before it (those strace did not
    print without any), and what was held is let go of."""
    budget = HeldBackBudget(limit=10)
    conversation = TcpConversation((SERVER4, CLIENT4), budget=budget)
    conversation.traced_sides.update((0, 1))
    syscall = {"pid": 1, "fd": 3, "session": 0, "syscall": "write"}
    links = LinkHeaders().for_event(syscall, ETHERTYPE_IPV4)
    conversation.leave_unseen(0, 100, T0)  # a sendfile's 100 bytes
    assert conversation.transfer(0, b"held", 4, True, T0, links, 0, syscall) == []
    assert budget.size == 4
    packets = conversation.transfer(0, b"past the limit", 14, True, T0, links, 0, syscall)
    assert [(wire_length - 58, frame[58:]) for _time, frame, wire_length, _event, _outbound
            in packets] == [(100, b""), (4, b"held"), (14, b"past the limit")]
    assert budget.size == 0


# The two ends of the connection of the tests below: %(c)s in a call is the
# client's socket (pid 8, fd 20), %(s)s the server's (pid 7, fd 21).
ENDS = {"c": "20<TCP:[127.0.0.1:54200->127.0.0.1:18000]>",
        "s": "21<TCP:[127.0.0.1:18000->127.0.0.1:54200]>"}
CONNECT = (8, "connect(%(c)s, {sa_family=AF_INET, sin_port=htons(18000), sin_addr="
              'inet_addr("127.0.0.1")}, 16) = 0')
OPENING = [CONNECT, (7, "accept4(19<TCP:[127.0.0.1:18000]>, NULL, NULL, 0) = %(s)s")]


def converted(calls):
    """``(packets, packetizer)`` of ``calls``, ``(pid, syscall text)`` pairs
    (``ENDS`` filled in) made into strace lines a millisecond apart from
    T0 (lasting 10 us, but a first half), parsed and packetized."""
    parser, packetizer = StraceParser(), InetPacketizer()
    packets = []
    for number, (pid, call) in enumerate(calls):
        line = "%d  %.6f %s" % (pid, T0 + number / 1000, call % ENDS)
        if not line.endswith("<unfinished ...>"):
            line += " <0.000010>"
        for item in parser.parse(line):
            if item["protocol"] != SEND_PENDING:  # (the CLI's time order's)
                packets += packetizer.packets(item)
    return packets + packetizer.flush(), packetizer


def ends(packets):
    """[(source port, flags)] of the packets with a FIN or a RST."""
    return [(port, flags) for port, flags, *_rest in summary(packets)
            if "F" in flags or "R" in flags]


def test_a_close_after_both_fins_leaves_the_next_connect_alone():
    """node's http client without keep-alive, server and client in one
    process: the server shuts down and closes, the client reads and already
    connects again, then shuts down and closes the old socket.  That close
    is not the first syscall of a connection whose fd is a dup of the new
    connect's: each connection gets one SYN, at its own connect, and its
    FINs (a 5-connection node trace gave 9 conversations, 4 client FINs
    missing and 4 connects "given up")."""
    server, first, second = "127.0.0.1:18000", "127.0.0.1:54200", "127.0.0.1:54204"
    connect = ('connect(%d<TCP:[%d]>, {sa_family=AF_INET, sin_port=htons(18000), sin_addr='
               'inet_addr("127.0.0.1")}, 16) = -1 EINPROGRESS (Operation now in progress)')

    def request(client_fd, server_fd, client):
        """The accept, the connect's answer, a request written and read."""
        return [
            "accept4(19<TCP:[%s]>, NULL, NULL, SOCK_CLOEXEC) = %d<TCP:[%s->%s]>"
            % (server, server_fd, server, client),
            "getsockopt(%d<TCP:[%s->%s]>, SOL_SOCKET, SO_ERROR, [0], [4]) = 0"
            % (client_fd, client, server),
            'write(%d<TCP:[%s->%s]>, "\\x47\\x45\\x54", 3) = 3' % (client_fd, client, server),
            'read(%d<TCP:[%s->%s]>, "\\x47\\x45\\x54", 65536) = 3' % (server_fd, server, client)]
    calls = [(7, call) for call in [connect % (20, 84788)] + request(20, 21, first) + [
        'write(21<TCP:[%s->%s]>, "\\x4f\\x4b", 2) = 2' % (server, first),
        "shutdown(21<TCP:[%s->%s]>, SHUT_WR) = 0" % (server, first),
        "close(21<TCP:[%s->%s]>) = 0" % (server, first),
        'read(20<TCP:[%s->%s]>, "\\x4f\\x4b", 65536) = 2' % (first, server),
        connect % (21, 84800),
        "shutdown(20<TCP:[%s->%s]>, SHUT_WR) = 0" % (first, server),
        "close(20<TCP:[%s->%s]>) = 0" % (first, server),
    ] + request(21, 20, second) + [
        "close(21<TCP:[%s->%s]>) = 0" % (second, server),
        "close(20<TCP:[%s->%s]>) = 0" % (server, second),
    ]]
    packets, packetizer = converted(calls)
    rows = summary(packets)
    assert [(port, time) for port, flags, _length, time, _pid in rows if flags == "S"] == [
        (54200, T0), (54204, T0 + 0.009)]
    assert sorted(port for port, flags, *_rest in rows if "F" in flags) == [18000, 18000,
                                                                          54200, 54204]
    assert (packetizer.connections, packetizer.unresolved_connects) == (2, 0)


def test_bytes_left_unread_at_a_close_go_before_its_rst_and_a_shutdown_fin():
    """A server answers without reading the whole request (python's
    http.server to a POST it does not serve), shuts down its sending side
    and closes; -s cut the client's big write and the server's answer.  As
    in tcpdump's capture: the client's unread bytes are on the wire before
    the server's RST, which acks them, and the FIN of the shutdown goes
    before that RST (before: the unprinted bytes were lost, or came after
    the RST; the FIN was dropped)."""
    packets, _packetizer = converted(OPENING + [
        (8, 'write(%(c)s, "\\x48\\x48\\x48\\x48", 4) = 4'),
        (8, 'write(%(c)s, "\\x78\\x78"..., 1000) = 1000'),
        (7, 'read(%(s)s, "\\x48\\x48\\x48\\x48", 4) = 4'),
        (7, 'write(%(s)s, "\\x52\\x52"..., 6) = 6'),
        (7, "shutdown(%(s)s, SHUT_WR) = 0"),
        (7, "close(%(s)s) = 0"),
        (8, 'read(%(c)s, "\\x52\\x52"..., 65536) = 6'),
        (8, "read(%(c)s, 0x7f00, 65536) = -1 ECONNRESET (Connection reset by peer)"),
        (8, "close(%(c)s) = 0"),
    ])
    segments = [Ether(frame)[TCP] for _time, frame, *_rest in packets]
    rows = [(segment.sport, str(segment.flags), length)
            for segment, (_time, frame, length, *_rest) in zip(segments, packets)
            if segment.flags.P or segment.flags.F or segment.flags.R]
    assert [(port, flags) for port, flags, _length in rows] == [
        (54200, "PA"), (54200, "PA"), (18000, "PA"), (18000, "PA"), (54200, "PA"),
        (18000, "FA"), (18000, "RA")]
    header = 58  # Ethernet, 802.1Q, IPv4, TCP
    assert [length - header for port, flags, length in rows if flags == "PA"] == [
        4, 2, 2, 4, 998]  # every byte of both directions
    reset = next(segment for segment in segments if segment.flags.R)
    assert reset.ack == initial_sequence(("127.0.0.1", 54200), ("127.0.0.1", 18000)) + 1 + 1004


def exchange(server_reads, client_copy):
    """Calls of a client that writes 6 bytes and of a server that reads
    ``server_reads`` of them, answers, shuts down and closes; the client
    reads the answer and the end, with ``client_copy`` calls (a dup of its
    socket, fd 11) before its own close."""
    request = "".join("\\x%02x" % byte for byte in b"abcdef"[:server_reads])
    return converted(OPENING + [
        (8, 'write(%(c)s, "\\x61\\x62\\x63\\x64\\x65\\x66", 6) = 6'),
        (7, 'read(%%(s)s, "%s", %d) = %d' % (request, server_reads, server_reads)),
        (7, 'write(%(s)s, "\\x4f\\x4b", 2) = 2'),
        (7, "shutdown(%(s)s, SHUT_WR) = 0"),
        (7, "close(%(s)s) = 0")]
        + [(8, call) for call in client_copy] + [
        (8, 'read(%(c)s, "\\x4f\\x4b", 100) = 2'),
        (8, 'read(%(c)s, "", 100) = 0'),
        (8, "close(%(c)s) = 0")])


def test_a_close_leaving_printed_bytes_unread_resets():
    """Both ends traced, every byte printed: a server that read 4 of the 6
    bytes sent, shut down and closed, reset the connection, as tcpdump
    shows (before: its FIN only, and a FIN from the client at its close)."""
    assert ends(exchange(4, [])[0]) == [(18000, "FA"), (18000, "RA")]
    assert ends(exchange(6, [])[0]) == [(18000, "FA"), (54200, "FA")]  # all read: FINs


def test_a_copy_closed_with_bytes_unread_sends_nothing():
    """Rust's try_clone: the client closes a dup of its socket before it
    has read all, then reads the rest on the other fd and closes it: a FIN,
    no RST (the kernel resets only at the last close)."""
    copy = ["close(%s) = 0" % ENDS["c"].replace("20<", "11<", 1)]
    assert ends(exchange(6, copy)[0]) == [(18000, "FA"), (54200, "FA")]


@pytest.mark.parametrize("shut_down_first, flags", [
    (False, [(18000, "FA"), (18000, "RA")]),
    (True, [(54200, "FA"), (18000, "FA")])])
def test_a_write_failing_with_epipe_met_the_peers_rst(shut_down_first, flags):
    """The client alone traced: it read the server's FIN, then its write
    failed with EPIPE, which after the peer's FIN is what its RST leaves (a
    server that closed with a request unread): that RST, and no FIN at the
    client's close, as tcpdump shows.  Not when the client had shut down its
    own sending side: EPIPE is then its own doing."""
    calls = [CONNECT,
             (8, 'write(%(c)s, "\\x61\\x62", 2) = 2'),
             (8, 'read(%(c)s, "", 100) = 0'),
             (8, 'write(%(c)s, "\\x63", 1) = -1 EPIPE (Broken pipe)'),
             (8, "close(%(c)s) = 0")]
    if shut_down_first:
        calls.insert(2, (8, "shutdown(%(c)s, SHUT_WR) = 0"))
    assert ends(converted(calls)[0]) == flags


def test_a_write_failing_with_epipe_after_the_peers_close():
    """Both ends traced, a download cut short: the client closes with all
    read (a FIN) while the server still writes (its kernel answers those
    bytes with a RST), and the server's next write fails with EPIPE: the
    client's FIN, then that RST, and the server's close sends nothing
    after it, as tcpdump shows a wget whose server wrote after its close."""
    packets, _packetizer = converted(OPENING + [
        (7, 'write(%(s)s, "\\x61\\x62", 2) = 2'),
        (8, 'read(%(c)s, "\\x61\\x62", 100) = 2'),
        (8, "close(%(c)s) = 0"),
        (7, 'write(%(s)s, "\\x63", 1) = 1'),
        (7, 'write(%(s)s, "\\x64", 1) = -1 EPIPE (Broken pipe)'),
        (7, "close(%(s)s) = 0")])
    assert ends(packets) == [(54200, "FA"), (54200, "RA")]


def test_a_close_that_never_read_its_peers_bytes_resets():
    """Both ends write, neither reads, the client closes first: its kernel
    resets (bytes unread), and the server's close sends nothing after that
    RST (before: a FIN from each end; a side that had read nothing was not
    taken to leave bytes unread)."""
    packets, _packetizer = converted(OPENING + [
        (8, 'write(%(c)s, "\\x61\\x62", 2) = 2'),
        (7, 'write(%(s)s, "\\x63\\x64", 2) = 2'),
        (8, "close(%(c)s) = 0"),
        (7, "close(%(s)s) = 0")])
    assert ends(packets) == [(54200, "RA")]


def test_a_late_request_after_a_shutdown_and_close_is_answered_by_a_rst():
    """python's http.server (socketserver's shutdown_request): it answers,
    shuts down, closes; the client sends a second request after that: the
    server's FIN, then its RST for those bytes, and no FIN from the client
    (before: the close after the shutdown's FIN was not held, and the
    client's FIN followed)."""
    packets, _packetizer = converted(OPENING + [
        (8, 'write(%(c)s, "\\x61\\x62", 2) = 2'),
        (7, 'read(%(s)s, "\\x61\\x62", 100) = 2'),
        (7, 'write(%(s)s, "\\x4f\\x4b", 2) = 2'),
        (7, "shutdown(%(s)s, SHUT_WR) = 0"),
        (7, "close(%(s)s) = 0"),
        (8, 'read(%(c)s, "\\x4f\\x4b", 100) = 2'),
        (8, 'write(%(c)s, "\\x63", 1) = 1'),
        (8, 'read(%(c)s, "", 100) = 0'),
        (8, "close(%(c)s) = 0")])
    assert ends(packets) == [(18000, "FA"), (18000, "RA")]


def test_a_parents_copy_closed_while_its_peers_shutdown_waits_is_not_a_rst():
    """A forking echo server at -s 32: the client's cut write and shutdown
    (its FIN waits for the server's reads), the parent closes its copy,
    the child reads and echoes and closes: each end's FIN, no RST (before:
    the parent's close went out at once with the held shutdown, as a RST)."""
    packets, _packetizer = converted(OPENING + [
        (8, 'write(%(c)s, "\\x61\\x62"..., 1000) = 1000'),
        (8, "shutdown(%(c)s, SHUT_WR) = 0"),
        (7, "close(%(s)s) = 0"),
        (9, 'read(%(s)s, "\\x61\\x62"..., 4096) = 1000'),
        (9, 'write(%(s)s, "\\x61\\x62", 2) = 2'),
        (9, 'read(%(s)s, "", 4096) = 0'),
        (9, "close(%(s)s) = 0"),
        (8, 'read(%(c)s, "\\x61\\x62", 4096) = 2'),
        (8, "close(%(c)s) = 0")])
    assert ends(packets) == [(54200, "FA"), (18000, "FA")]


def test_a_read_of_the_shutdowns_fin_leaves_a_copys_close_held():
    """Rust's try_clone: the client shuts down and closes one fd, reads
    the answer on the other.  The server's read of 0 is the shutdown's FIN:
    the copy's close stays held, no RST (without that it went out then,
    as a RST for the answer the client had still to read)."""
    copy = ENDS["c"].replace("20<", "11<", 1)
    packets, _packetizer = converted(OPENING + [
        (8, 'write(%s, "\\x61\\x62", 2) = 2' % copy),
        (8, "shutdown(%s, SHUT_WR) = 0" % copy),
        (8, "close(%s) = 0" % copy),
        (7, 'read(%(s)s, "\\x61\\x62", 100) = 2'),
        (7, 'write(%(s)s, "\\x4f\\x4b", 2) = 2'),
        (7, 'read(%(s)s, "", 100) = 0'),
        (7, "close(%(s)s) = 0"),
        (8, 'read(%(c)s, "\\x4f\\x4b", 100) = 2'),
        (8, 'read(%(c)s, "", 100) = 0'),
        (8, "close(%(c)s) = 0")])
    assert ends(packets) == [(54200, "FA"), (18000, "FA")]


def streams_of(packets):
    """{source port: the bytes it sent, in packet order}."""
    sent = {}
    for _time, frame, _wire_length, _item, _outbound in packets:
        segment = Ether(frame)[TCP]
        sent[segment.sport] = sent.get(segment.sport, b"") + bytes(segment.payload)
    return sent


def moved(name, end, payload):
    """A write or read of ``payload`` on the ``ENDS`` socket ``end``, as strace prints it."""
    count = len(payload) if name == "write" else 65536
    return '%s(%%(%s)s, %s, %d) = %d' % (name, end, support.xx_string(payload), count,
                                          len(payload))


@pytest.mark.parametrize("calls,client_sent,server_sent", [
    # The server's first read is of a request sent before the trace began;
    # the client's next one follows it (redis under strace -p on both ends).
    ([(7, moved("read", "s", b"*1 PING")), (7, moved("write", "s", b"+PONG")),
      (8, moved("read", "c", b"+PONG")), (8, moved("write", "c", b"*2 GET a")),
      (7, moved("read", "s", b"*2 GET a")), (7, moved("write", "s", b"$1 x")),
      (8, moved("read", "c", b"$1 x"))], b"*1 PING*2 GET a", b"+PONG$1 x"),
    # The client wrote before the server's trace began, which then reads
    # the client's second request; the server's close is a FIN, not a reset
    # for bytes left unread.
    ([(8, moved("write", "c", b"PING")), (7, moved("write", "s", b"+PONG")),
      (8, moved("read", "c", b"+PONG")), (8, moved("write", "c", b"QUIT")),
      (7, moved("read", "s", b"QUIT")), (7, moved("write", "s", b"+OK")),
      (7, "close(%(s)s) = 0"), (8, moved("read", "c", b"+OK")), (8, "close(%(c)s) = 0")],
     b"PINGQUIT", b"+PONG+OK"),
    # A read printed before the write that brought its bytes ended.
    ([(7, 'write(%%(s)s, %s, 5 <unfinished ...>' % support.xx_string(b"hello")),
      (8, moved("read", "c", b"hello")), (7, "<... write resumed>) = 5"),
      (7, moved("write", "s", b"world")), (8, moved("read", "c", b"world"))], None, b"helloworld"),
    # A keep-alive client repeating its request, both ends attached: the
    # server's first read (of a request sent before the trace) ended before
    # the client's write of the same bytes began, so it is not that write
    # (taken for it, every later request lost its first bytes: a helper's
    # Go client and server under strace -p).
    ([(7, moved("read", "s", b"GET /a")), (7, moved("write", "s", b"200 ok")),
      (8, moved("read", "c", b"200 ok")), (8, moved("write", "c", b"GET /a")),
      (7, moved("read", "s", b"GET /a")), (7, moved("write", "s", b"200 ok")),
      (8, moved("read", "c", b"200 ok")), (8, moved("write", "c", b"POST /b body")),
      (7, moved("read", "s", b"POST /b body"))],
     b"GET /aGET /aPOST /b body", b"200 ok200 ok"),
], ids=["reads-first", "writes-first", "read-printed-first", "same-request-again"])
def test_both_ends_first_seen_mid_stream_line_up_by_their_bytes(calls, client_sent, server_sent):
    """A connection whose trace begins mid-stream (strace -p) on both ends:
    each end's first syscall is placed where its bytes are in the stream,
    not at 0 for both (which cut the first bytes of every later message
    and made the server's clean close a reset)."""
    packets, _packetizer = converted(calls)
    sent = streams_of(packets)
    assert (sent.get(54200), sent[18000]) == (client_sent, server_sent)
    assert not any("R" in flags for _port, flags in ends(packets))


def test_a_second_connect_showing_the_ports_opens_the_connection():
    """redis-cli's non-blocking connect, then connect() again = 0: the
    second shows the 4-tuple, and the program may exit with nothing else
    on the socket (a helper's sweep: 0 packets, tcpdump a whole
    connection).  The handshake, from the port it shows, at the first's time."""
    packets, packetizer = converted([
        (8, 'connect(20<TCP:[84788]>, {sa_family=AF_INET, sin_port=htons(18000), sin_addr='
            'inet_addr("127.0.0.1")}, 16) = -1 EINPROGRESS (Operation now in progress)'),
        (8, 'connect(%(c)s, {sa_family=AF_INET, sin_port=htons(18000), sin_addr='
            'inet_addr("127.0.0.1")}, 16) = 0')])
    assert [(port, flags, time) for port, flags, _length, time, _pid in summary(packets)] == [
        (54200, "S", T0), (18000, "SA", T0 + 0.00001), (54200, "A", T0 + 0.00001)]
    assert (packetizer.connections, packetizer.seen_open) == (1, 0)


@pytest.mark.parametrize("failure, flags", [
    ("EPIPE (Broken pipe)", [(18000, "FA"), (18000, "RA")]),
    ("ECONNRESET (Connection reset by peer)", [(18000, "RA")])])
def test_bytes_read_after_a_write_met_the_peers_reset_go_before_its_fin_and_rst(failure, flags):
    """php-fpm traced alone: its writes fail (nginx shut down and reset the
    connection), then it reads nginx's last 8 bytes, queued before the RST,
    and 0.  Those bytes come before the peer's FIN and RST, which follow
    them in sequence (they came after the FIN, a sequence number late, and
    after the RST); its close sends nothing after the RST."""
    packets, _packetizer = converted([
        CONNECT, (8, moved("write", "c", b"GET")), (8, moved("read", "c", b"abc")),
        (8, 'write(%(c)s, "\\x61\\x62", 2) = -1 ' + failure),
        (8, 'write(%(c)s, "\\x63", 1) = -1 ' + failure),
        (8, "shutdown(%(c)s, SHUT_WR) = -1 ENOTCONN (Transport endpoint is not connected)"),
        (8, moved("read", "c", b"late")), (8, moved("read", "c", b"")),
        (8, "close(%(c)s) = 0")])
    server = [(str(segment.flags), segment.seq, len(segment.payload))
              for segment in (Ether(frame)[TCP] for _time, frame, *_rest in packets)
              if segment.sport == 18000]
    assert [length for _flags, _seq, length in server if length] == [3, 4]
    late = next(seq for _flags, seq, length in server if length == 4)
    assert [(end, seq) for end, seq, _length in server if "F" in end or "R" in end] == [
        (end, late + 4 + number) for number, (_port, end) in enumerate(flags)]


def test_a_shutdown_after_a_read_met_the_peers_reset_sends_no_fin():
    """A gRPC server traced alone: its read meets the client's RST, then it
    shuts down and closes the socket.  The reset socket sends nothing: the
    RST, then no FIN from the server (with the RST held for later reads,
    the shutdown made one)."""
    packets, _packetizer = converted([
        CONNECT, (8, moved("write", "c", b"GET")),
        (8, 'read(%(c)s, 0x7f0000, 100) = -1 ECONNRESET (Connection reset by peer)'),
        (8, "shutdown(%(c)s, SHUT_RDWR) = 0"), (8, "close(%(c)s) = 0")])
    assert ends(packets) == [(18000, "RA")]


def test_a_close_leaving_bytes_unread_counts_them(tmp_path):
    """The client writes 10 bytes, the server reads 4 and closes: its RST;
    the summary counts the connection and the 6 bytes left unread (in the
    pcap as sent, where the kernels dropped those still queued)."""
    calls = OPENING + [(8, moved("write", "c", b"0123456789")),
                       (7, moved("read", "s", b"0123")), (7, "close(%(s)s) = 0")]
    packets, packetizer = converted(calls)
    assert ends(packets)[-1] == (18000, "RA")
    assert packetizer.unread_at_reset == [1, 6]
    trace = tmp_path / "trace.txt"
    trace.write_text("".join("%d  %.6f %s <0.000010>\n" % (pid, T0 + number / 1000, call % ENDS)
                             for number, (pid, call) in enumerate(calls)))
    summary = support.convert(trace, tmp_path / "out.pcap").stderr.decode()
    assert "1 TCP connection reset by a close that left 6 bytes of the peer unread" in summary


def test_a_close_of_a_dup_the_thread_holds_another_fd_of_sends_nothing():
    """bash's /dev/tcp: the socket dup'd onto stdout for a request, stdout
    restored with a dup2 over it (a close of that fd), the reply read on
    the first fd: no FIN at the dup2 (there was one, and with the server's
    close both went out, the client's as a RST for the reply unread)."""
    client_stdout = "1<TCP:[127.0.0.1:54200->127.0.0.1:18000]>"
    packets, packetizer = converted(OPENING + [
        (8, "dup2(%(c)s, 1) = " + client_stdout),
        (8, 'write(%s, "\\x47\\x45\\x54", 3) = 3' % client_stdout),
        (8, "dup2(11</tmp/out>, %s) = 1</tmp/out>" % client_stdout),
        (7, moved("read", "s", b"GET")), (7, moved("write", "s", b"reply")),
        (7, "close(%(s)s) = 0"),
        (8, moved("read", "c", b"reply")), (8, moved("read", "c", b"")),
        (8, "close(%(c)s) = 0")])
    assert ends(packets) == [(18000, "FA"), (54200, "FA")]
    assert [time for port, flags, _length, time, _pid in summary(packets)
            if "F" in flags and port == 54200] == [T0 + 0.010]
    assert packetizer.dup_closes == 1

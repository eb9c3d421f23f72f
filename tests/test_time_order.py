"""Packets go into the pcap in time order, although a close()'s FIN and a
non-blocking connect's handshake are made after later packets: the
``TimeOrder`` rules, then whole conversions whose late packets must land in
their place."""

from scapy.layers.inet import TCP
from scapy.layers.l2 import Ether

import support
from time_order import MAX_HELD, MAX_HELD_BYTES, MAX_LATE, TimeOrder

T0 = 1795659000.0


def packet(time, name, size=60):
    """A stand-in packet: its time, a frame of ``size`` bytes, and a name
    to recognise it where the event goes."""
    return (time, bytes(size), size, name, True)


def ordered():
    """A TimeOrder and the list of packet names it writes."""
    names = []
    return TimeOrder(lambda item: names.append(item[3])), names


def test_packets_after_something_held_wait_for_it():
    order, names = ordered()
    order.add([packet(T0, "a")], None)
    order.add([packet(T0 + 2, "c")], T0 + 1)  # a FIN of T0 + 1 is held
    assert names == ["a"]
    order.add([packet(T0 + 1, "b"), packet(T0 + 3, "d")], None)  # it came out
    assert names == ["a", "b", "c", "d"]
    assert order.out_of_order == 0 and order.written == 4


def test_packets_before_what_is_held_go_out_at_once():
    order, names = ordered()
    order.add([packet(T0 + 1, "a"), packet(T0 + 5, "c")], T0 + 2)
    assert names == ["a"]
    order.add([], None)  # nothing held any more
    assert names == ["a", "c"]


def test_what_is_held_too_long_is_not_waited_for():
    """A connect that never shows its port (refused) holds nothing back for
    more than MAX_LATE seconds; its handshake, if it ever comes, is counted
    out of order."""
    order, names = ordered()
    order.add([packet(T0 + 0.5, "a")], T0)
    order.add([packet(T0 + MAX_LATE + 1, "b")], T0)
    assert names == []  # the latest seen was T0 + 0.5 when this came
    order.add([packet(T0 + MAX_LATE + 2, "c")], T0)
    assert names == ["a", "b", "c"]
    order.add([packet(T0, "late")], None)
    assert names[-1] == "late" and order.out_of_order == 1


def test_at_most_max_held_packets_wait():
    order, names = ordered()
    order.add([packet(T0 + 1 + index * 1e-6, index) for index in range(MAX_HELD + 5)], T0)
    assert names == list(range(5))


def test_at_most_max_held_bytes_wait():
    """64 KiB frames (bench bulk) held behind a FIN: memory stays bounded."""
    order, names = ordered()
    size = 65536
    count = MAX_HELD_BYTES // size + 3
    order.add([packet(T0 + 1 + index * 1e-6, index, size) for index in range(count)], T0)
    assert names == [0, 1, 2]
    assert order.held_bytes <= MAX_HELD_BYTES


def test_a_full_order_lets_the_fins_held_before_its_oldest_packet_out_first():
    """Megabytes after a close() whose FIN is held: the FIN goes out early,
    before them, not after them out of order."""
    asked = []
    names = []

    def release_held(time):
        asked.append(time)
        return [packet(T0 + 0.5, "fin")] if len(asked) == 1 else []
    order = TimeOrder(lambda item: names.append(item[3]), release_held)
    size = 65536
    count = MAX_HELD_BYTES // size + 3
    order.add([packet(T0 + 1 + index * 1e-6, index, size) for index in range(count)], T0 + 0.5)
    assert asked[0] == T0 + 1  # the oldest packet held
    assert names == ["fin", 0, 1, 2]
    assert order.out_of_order == 0 and order.held_bytes <= MAX_HELD_BYTES


def trace_line(pid, time, call):
    return "%d   %.6f %s" % (pid, time, call)


def sendto(fd, annotation, payload):
    return 'sendto(%d<TCP:[%s]>, "%s", %d, 0, NULL, 0) = %d <0.000010>' % (
        fd, annotation, support.strace_quote(payload, "xx"), len(payload), len(payload))


def flags_and_times(pcap):
    """[(time, TCP flags, payload)] of the pcap's TCP packets, in file order."""
    rows = []
    for time, frame in support.pcap_records(pcap.read_bytes()):
        segment = Ether(frame)[TCP]
        rows.append((round(time, 6), str(segment.flags), bytes(segment.payload)))
    return rows


def test_late_handshake_and_held_fin_land_in_their_place(tmp_path):
    """redis-benchmark's shape: a non-blocking connect whose first data
    comes 0.5 s later, another connection busy meanwhile and closed (its FIN
    held for FIN_HOLD_SECONDS).  Every packet is written in time order: the
    SYN at the connect, the FIN at the close."""
    first = "127.0.0.1:40000->127.0.0.1:6379"
    second = "127.0.0.1:40002->127.0.0.1:6379"
    lines = [
        trace_line(7, T0, 'connect(5<TCP:[1001]>, {sa_family=AF_INET, sin_port=htons(6379), '
                          'sin_addr=inet_addr("127.0.0.1")}, 16) = -1 EINPROGRESS '
                          '(Operation now in progress) <0.000100>'),
        trace_line(7, T0 + 0.1, sendto(6, second, b"ping")),
        trace_line(7, T0 + 0.2, "close(6<TCP:[%s]>) = 0 <0.000010>" % second),
        trace_line(7, T0 + 0.5, sendto(5, first, b"hello")),
        trace_line(7, T0 + 0.6, sendto(5, first, b"again")),
    ]
    trace = tmp_path / "late.strace"
    trace.write_text("\n".join(lines) + "\n")
    pcap = tmp_path / "late.pcap"
    result = support.convert(trace, pcap)
    rows = flags_and_times(pcap)
    assert [time for time, _flags, _payload in rows] == sorted(
        time for time, _flags, _payload in rows)
    assert [(flags, payload) for _time, flags, payload in rows] == [
        ("S", b""), ("SA", b""), ("A", b""),  # 5's handshake, at the connect
        ("PA", b"ping"), ("FA", b""), ("A", b""),  # 6: no handshake seen; its FIN at T0 + 0.2
        ("PA", b"hello"), ("PA", b"again")]
    assert rows[4][0] == round(T0 + 0.2, 6)
    assert b"stamped earlier than" not in result.stderr


def test_fins_held_by_both_packetizers_at_the_end_keep_time_order(tmp_path):
    """At the end of input the INET and the unix packetizers both hand over
    what they hold; a unix close()'s FIN goes before the INET data after it."""
    lines = [
        trace_line(7, T0, 'write(3<UNIX-STREAM:[555->556]>, "\\x61", 1) = 1 <0.000010>'),
        trace_line(7, T0 + 0.1, "close(3<UNIX-STREAM:[555->556]>) = 0 <0.000010>"),
        trace_line(7, T0 + 0.5, sendto(5, "127.0.0.1:40000->127.0.0.1:6379", b"x")),
    ]
    trace = tmp_path / "both.strace"
    trace.write_text("\n".join(lines) + "\n")
    pcap = tmp_path / "both.pcap"
    support.convert(trace, pcap, "-q", "--capture-unix-socket")
    rows = flags_and_times(pcap)
    assert [(time, flags) for time, flags, _payload in rows] == [
        (T0, "PA"), (round(T0 + 0.1, 6), "FA"), (round(T0 + 0.1, 6), "A"),
        (round(T0 + 0.5, 6), "PA")]


def test_a_unix_fin_due_goes_out_before_a_later_inet_packet(tmp_path):
    """nginx's worker closes its copies of a unix socketpair, and the next
    syscall, 3.65 s later, is an INET accept (a sweep): the FIN, due after
    FIN_HOLD_SECONDS, goes out before that accept's packets, not after them
    once the unix packetizer's next event comes."""
    lines = [
        trace_line(7, T0, 'write(3<UNIX-STREAM:[555->556]>, "\\x61", 1) = 1 <0.000010>'),
        trace_line(7, T0 + 0.1, "close(3<UNIX-STREAM:[555->556]>) = 0 <0.000010>"),
        trace_line(7, T0 + 3.75, sendto(5, "127.0.0.1:40000->127.0.0.1:6379", b"x")),
        trace_line(7, T0 + 4.5, sendto(5, "127.0.0.1:40000->127.0.0.1:6379", b"y")),
        trace_line(7, T0 + 5.0, 'write(4<UNIX-STREAM:[557->558]>, "\\x62", 1) = 1 <0.000010>'),
    ]
    trace = tmp_path / "due.strace"
    trace.write_text("\n".join(lines) + "\n")
    pcap = tmp_path / "due.pcap"
    result = support.convert(trace, pcap, "--capture-unix-socket")
    rows = flags_and_times(pcap)
    assert [(time, flags) for time, flags, _payload in rows] == [
        (T0, "PA"), (round(T0 + 0.1, 6), "FA"), (round(T0 + 0.1, 6), "A"),
        (round(T0 + 3.75, 6), "PA"), (round(T0 + 4.5, 6), "PA"), (round(T0 + 5.0, 6), "PA")]
    assert b"stamped earlier than" not in result.stderr


def test_the_summary_counts_connections_first_seen_open(tmp_path):
    """-e trace=read,write,sendto,recvfrom (a sweep) or strace -p: no
    connect() or accept(), so no handshake, and the summary says why."""
    trace = tmp_path / "open.strace"
    trace.write_text(trace_line(7, T0, sendto(5, "127.0.0.1:40000->127.0.0.1:6379", b"x")) + "\n")
    result = support.convert(trace, tmp_path / "open.pcap")
    assert (b"1 TCP connection was open before its first line (no connect() or accept(): "
            b"strace -p, -e trace= without them, or -z hiding an EINPROGRESS): no handshake"
            in result.stderr)
    trace.write_text("\n".join([
        trace_line(7, T0, 'connect(5<TCP:[127.0.0.1:40000->127.0.0.1:6379]>, {sa_family=AF_INET, '
                          'sin_port=htons(6379), sin_addr=inet_addr("127.0.0.1")}, 16) = 0 <0.0001>'),
        trace_line(7, T0 + 0.1, sendto(5, "127.0.0.1:40000->127.0.0.1:6379", b"x"))]) + "\n")
    result = support.convert(trace, tmp_path / "open.pcap")
    assert b"open before" not in result.stderr and flags_and_times(tmp_path / "open.pcap")[0][1] == "S"


def java_lines():
    """Java's HttpServer closes, the client thread shuts another connection
    down, then reads 0 on the first: the held FIN comes out after the other
    connection's FIN but belongs before it."""
    first = "127.0.0.1:51066->127.0.0.1:18101"
    first_server = "127.0.0.1:18101->127.0.0.1:51066"
    second = "127.0.0.1:51050->127.0.0.1:18101"
    return [
        trace_line(8, T0, sendto(5, first_server, b"response")),
        trace_line(8, T0 + 0.1, "close(5<TCP:[%s]>) = 0 <0.000010>" % first_server),
        trace_line(9, T0 + 0.2, "shutdown(6<TCP:[%s]>, SHUT_WR) = 0 <0.000010>" % second),
        trace_line(9, T0 + 0.3, 'read(7<TCP:[%s]>, "", 8192) = 0 <0.000010>' % first),
    ]


def test_a_fin_let_out_by_a_later_event_goes_before_the_packets_after_its_close(tmp_path):
    """All in one block of input (see ``java_lines``)."""
    trace = tmp_path / "java.strace"
    trace.write_text("\n".join(java_lines()) + "\n")
    pcap = tmp_path / "java.pcap"
    result = support.convert(trace, pcap)
    rows = flags_and_times(pcap)
    assert [(time, flags) for time, flags, _payload in rows] == [
        (T0, "PA"), (round(T0 + 0.1, 6), "FA"), (round(T0 + 0.1, 6), "A"),
        (round(T0 + 0.2, 6), "FA"), (round(T0 + 0.2, 6), "A")]
    assert b"stamped earlier than" not in result.stderr


def test_the_pcap_does_not_depend_on_how_the_input_is_cut(tmp_path):
    """The same lines as one block (a file) and one line per block (a
    slow pipe) give the same pcap (a run of small reads cut between
    blocks was two segments or more)."""
    import py_strace2pcap
    from pcap_output import PcapOutput

    def converted(blocks):
        arguments = py_strace2pcap.parse_arguments(["-q", str(tmp_path / "unused.pcap")])
        parse = py_strace2pcap.ParseStage(arguments)
        with open(tmp_path / "out.pcap", "wb") as output:
            writer = PcapOutput(output)
            packets = py_strace2pcap.PacketStage(writer, arguments)
            for block in blocks:
                packets.take(parse.events(block), parse.flags)
            packets.take(parse.held_events(), parse.flags)
            packets.finish()
            writer.close()
        return (tmp_path / "out.pcap").read_bytes()

    # And a banner read a byte at a time (joined into one segment), as ssh does.
    banner = "127.0.0.1:41954->127.0.0.1:2222"
    lines = java_lines() + [
        trace_line(10, T0 + 0.4 + 0.0001 * index,
                   'read(3<TCP:[%s]>, "\\x%02x", 1) = 1 <0.000010>' % (banner, byte))
        for index, byte in enumerate(b"SSH-2.0\r\n")]
    whole = converted(["\n".join(lines)])
    assert len(support.pcap_records(whole)) == 5 + 1
    assert whole == converted(lines)


def test_the_summary_counts_packets_stamped_before_one_written_earlier(tmp_path):
    """Two threads: a read that returned after a write began is printed
    first but stamped later; the summary says how many such packets."""
    connection = "127.0.0.1:40000->127.0.0.1:6379"
    lines = [
        trace_line(7, T0, 'read(5<TCP:[%s]>, "\\x61", 10) = 1 <0.500000>' % connection),
        trace_line(8, T0 + 0.1, sendto(6, "127.0.0.1:40002->127.0.0.1:6379", b"b")),
    ]
    trace = tmp_path / "threads.strace"
    trace.write_text("\n".join(lines) + "\n")
    result = support.convert(trace, tmp_path / "threads.pcap")
    assert b"1 packet stamped earlier than a packet before it" in result.stderr


def test_a_close_followed_by_megabytes_keeps_its_fin_in_place(tmp_path):
    """A one-sided trace: one connection closed (its FIN held, the peer's
    reads not in the trace), then 6 MB on another within the hold.  The
    FIN is written at its close, before those bytes (PostgreSQL client-only
    and server-only traces, a sweep: 2 packets out of order each)."""
    closed = "127.0.0.1:40000->127.0.0.1:5432"
    busy = "127.0.0.1:40002->127.0.0.1:5432"
    lines = [trace_line(7, T0, sendto(5, closed, b"bye")),
             trace_line(7, T0 + 0.1, "close(5<TCP:[%s]>) = 0 <0.000010>" % closed)]
    lines += [trace_line(7, T0 + 0.2 + index * 0.001, sendto(6, busy, bytes(65536)))
              for index in range(100)]
    trace = tmp_path / "busy.strace"
    trace.write_text("\n".join(lines) + "\n")
    pcap = tmp_path / "busy.pcap"
    result = support.convert(trace, pcap)
    times = [time for time, _frame in support.pcap_records(pcap.read_bytes())]
    assert times == sorted(times)
    fins = [(time, flags) for time, flags, _payload in flags_and_times(pcap) if "F" in flags]
    assert fins == [(round(T0 + 0.1, 6), "FA")]
    assert b"stamped earlier than" not in result.stderr


def test_fins_flushed_at_the_end_by_both_packetizers_merge_by_time(tmp_path):
    """A socketpair closed at both ends before any byte (a wake-up pair)
    and a TCP connection closed after it: at the end of input both
    packetizers hand over their held FINs, and they are written by time,
    not the INET ones first (a sweep's trace: 4 packets stamped earlier)."""
    lines = [
        trace_line(7, T0, sendto(5, "127.0.0.1:40000->127.0.0.1:6379", b"x")),
        trace_line(7, T0 + 0.1, 'socketpair(AF_UNIX, SOCK_STREAM, 0, [3<UNIX-STREAM:[555->556]>, '
                                '4<UNIX-STREAM:[556->555]>]) = 0 <0.000010>'),
        trace_line(7, T0 + 0.2, "close(3<UNIX-STREAM:[555->556]>) = 0 <0.000010>"),
        trace_line(7, T0 + 0.3, "close(4<UNIX-STREAM:[556->555]>) = 0 <0.000010>"),
        trace_line(7, T0 + 0.4, "close(5<TCP:[127.0.0.1:40000->127.0.0.1:6379]>) = 0 <0.000010>"),
    ]
    trace = tmp_path / "flush.strace"
    trace.write_text("\n".join(lines) + "\n")
    pcap = tmp_path / "flush.pcap"
    result = support.convert(trace, pcap, "--capture-unix-socket")
    times = [time for time, _flags, _payload in flags_and_times(pcap)]
    assert times == sorted(times) and len(times) == 3 + 1 + 6
    assert b"stamped earlier than" not in result.stderr


def test_a_send_left_unfinished_keeps_its_place_among_other_threads_sends(tmp_path):
    """A send whose line another thread's interrupted: its packet has the
    start time of its first half, though another process's complete send,
    begun later, came before its resumed half (uvicorn --workers 2: 2 of
    552 frames out of order by 2.1 ms).  One that failed on resuming gives
    no packet and holds nothing back past the thread's next line."""
    first = "127.0.0.1:18087->127.0.0.1:60358"
    second = "127.0.0.1:18087->127.0.0.1:60368"
    trace = tmp_path / "unfinished.strace"
    trace.write_text("\n".join([
        trace_line(7, T0, 'sendto(14<TCP:[%s]>, "\\x61", 1, 0, NULL, 0 <unfinished ...>'
                   % first),
        trace_line(8, T0 + 0.002, sendto(15, second, b"b")),
        trace_line(7, T0 + 0.003, "<... sendto resumed>) = 1 <0.002500>"),
        trace_line(7, T0 + 0.004, 'sendto(14<TCP:[%s]>, "\\x63", 1, 0, NULL, 0 <unfinished ...>'
                   % first),
        trace_line(8, T0 + 0.005, sendto(15, second, b"d")),
        trace_line(7, T0 + 0.006, "<... sendto resumed>) = -1 EAGAIN (Resource temporarily "
                                  "unavailable) <0.002000>"),
        trace_line(7, T0 + 0.007, sendto(14, first, b"e")),
    ]) + "\n")
    pcap = tmp_path / "unfinished.pcap"
    result = support.convert(trace, pcap)
    assert [(round(time - T0, 6), payload) for time, _flags, payload in flags_and_times(pcap)] \
        == [(0.0, b"a"), (0.002, b"b"), (0.005, b"d"), (0.007, b"e")]
    assert b"stamped earlier" not in result.stderr
    assert result.stderr.startswith(b"py-strace2pcap: 7 lines, 4 socket events, 4 packets")


def test_a_full_order_keeps_the_fin_of_a_sendfile_its_reader_has_yet_to_read(tmp_path):
    """A server sends a file with sendfile() and closes; its client reads
    it slowly, while megabytes of another connection fill the time order.
    The held FIN stays held as if closed then, and the reads carry every
    byte (a helper's 4 slow readers of 2 MB each: 1.2 of 2 MB each, the
    rest declared without bytes; pyftpdlib's parallel RETRs the same)."""
    served = "127.0.0.1:2121->127.0.0.1:40000"
    client = "127.0.0.1:40000->127.0.0.1:2121"
    busy = "127.0.0.1:40002->127.0.0.1:5432"
    body = bytes(range(256)) * 2344  # 600 064 bytes
    lines = [
        trace_line(8, T0, 'connect(5<TCP:[9001]>, {sa_family=AF_INET, sin_port=htons(2121), '
                          'sin_addr=inet_addr("127.0.0.1")}, 16) = 0 <0.000010>'),
        trace_line(7, T0 + 0.001, 'accept4(3<TCP:[127.0.0.1:2121]>, NULL, NULL, 0) = '
                                  '6<TCP:[%s]> <0.000010>' % served),
        trace_line(7, T0 + 0.01, 'sendfile(6<TCP:[%s]>, 9<\\x2f\\x66>, NULL, %d) = %d <0.000100>'
                   % (served, len(body), len(body))),
        trace_line(7, T0 + 0.02, "close(6<TCP:[%s]>) = 0 <0.000010>" % served)]
    lines += [trace_line(9, T0 + 0.1 + index * 0.001, sendto(4, busy, bytes(65536)))
              for index in range(80)]  # 5 MiB: more than the order holds
    pieces = [body[at:at + 60000] for at in range(0, len(body), 60000)]
    lines += [trace_line(8, T0 + 0.5 + index * 0.01, 'read(5<TCP:[%s]>, "%s", 65536) = %d '
                         '<0.000010>' % (client, support.strace_quote(piece, "xx"), len(piece)))
              for index, piece in enumerate(pieces)]
    lines.append(trace_line(8, T0 + 0.7, 'read(5<TCP:[%s]>, "", 65536) = 0 <0.000010>' % client))
    trace = tmp_path / "slow.strace"
    trace.write_text("\n".join(lines) + "\n")
    pcap = tmp_path / "slow.pcap"
    result = support.convert(trace, pcap)
    assert support.tcp_streams(pcap)[("127.0.0.1", 2121, "127.0.0.1", 40000)] == body
    assert b"lack" not in result.stderr
    fins = [flags for _time, flags, _payload in flags_and_times(pcap) if "F" in flags]
    assert fins == ["FA"]


def test_an_unfinished_send_on_a_socket_not_captured_holds_nothing_back(tmp_path):
    """nginx's master leaves a sendmsg() on its unix socketpair unfinished
    and resumes it (no --capture-unix-socket: an event ignored); its mark
    that a packet is still to come stayed, held every later packet back,
    and 3 s later let them out before the FINs held meanwhile (a helper's
    nginx trace: 174 packets stamped earlier than one before them)."""
    unix = "6<UNIX-STREAM:[1001->1002]>"
    closed = "127.0.0.1:40000->127.0.0.1:80"
    busy = "127.0.0.1:40002->127.0.0.1:80"
    lines = [trace_line(1, T0, "sendmsg(%s, {msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base="
                               '"\\x01", iov_len=1}], msg_iovlen=1, msg_controllen=0, '
                               "msg_flags=0}, 0 <unfinished ...>" % unix),
             trace_line(1, T0 + 0.001, "<... sendmsg resumed>) = 1 <0.000500>"),
             trace_line(2, T0 + 2.8, sendto(5, closed, b"bye")),
             trace_line(2, T0 + 2.9, "close(5<TCP:[%s]>) = 0 <0.000010>" % closed)]
    lines += [trace_line(2, T0 + 0.5 * index, sendto(7, busy, b"more")) for index in range(1, 12)]
    trace = tmp_path / "master.strace"
    trace.write_text("\n".join(sorted(lines, key=lambda line: float(line.split()[1]))) + "\n")
    pcap = tmp_path / "master.pcap"
    result = support.convert(trace, pcap)
    times = [time for time, _frame in support.pcap_records(pcap.read_bytes())]
    assert times == sorted(times) and len(times) == 3 + 11, result.stderr.decode()
    assert b"stamped earlier than" not in result.stderr


def test_a_shutdown_left_unfinished_holds_the_later_packets_back(tmp_path):
    """pika's client: its shutdown(SHUT_RDWR) left unfinished while another
    thread reads (a helper's RabbitMQ trace).  The FIN, stamped at the
    shutdown's start, goes before that read's data, in time order (it came
    after it: the summary counted it stamped earlier)."""
    server = "11<TCP:[127.0.0.1:46950->127.0.0.1:22640]>"
    client = "6<TCP:[127.0.0.1:46938->127.0.0.1:22640]>"
    trace = tmp_path / "shutdown.strace"
    trace.write_text("\n".join("%s 1795795573.%06d %s" % line for line in [
        (24567, 605567, "recvfrom(%s,  <unfinished ...>" % server),
        (24486, 605589, "shutdown(%s, SHUT_RDWR <unfinished ...>" % client),
        (24567, 605602, "<... recvfrom resumed>%s, 4096, 0, NULL, NULL) = 4 <0.000030>"
         % support.xx_string(b"ABCD")),
        (24567, 605653, "recvfrom(%s, %s, 4096, 0, NULL, NULL) = 4 <0.000009>"
         % (server, support.xx_string(b"EFGH"))),
        (24486, 605728, "<... shutdown resumed>) = 0 <0.000128>")]) + "\n")
    pcap = tmp_path / "out.pcap"
    summary = support.convert(trace, pcap).stderr.decode()
    times = [packet.time for packet in support.read_packets(pcap)]
    assert times == sorted(times) and len(times) == 4  # the 2 reads, the FIN and its ACK
    assert "stamped earlier" not in summary

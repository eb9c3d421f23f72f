"""sendfile(): strace shows how many bytes went to the socket, never which;
a write cut by -s: only the first ones.

The packets must keep the stream's sequence numbers whole (declared length,
no bytes captured), the summary must say so, and the bytes strace did show
(the HTTP-style header written before the file) stay exact.  When the
reader is traced too, its reads carry the bytes the writer's line lacks.
"""

import socket
import subprocess
import sys
import textwrap

import pytest

import support

SERVER = textwrap.dedent("""
    import socket, sys, threading
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    print(listener.getsockname()[1], flush=True)
    if len(sys.argv) > 2:  # and the client, in a thread of this process
        def fetch():
            with socket.create_connection(listener.getsockname()) as client:
                client.sendall(b"GET")
                with open(sys.argv[2], "wb") as received:
                    while chunk := client.recv(65536):
                        received.write(chunk)
        threading.Thread(target=fetch).start()
    connection, _ = listener.accept()
    connection.recv(100)
    connection.sendall(b"HEADER\\r\\n")
    with open(sys.argv[1], "rb") as body:
        connection.sendfile(body)
    connection.close()
""")


def test_sendfile_bytes_are_declared_not_invented(tmp_path):
    support.require("strace", "tshark")
    body = tmp_path / "body.bin"
    body.write_bytes(bytes(range(256)) * 1000)
    trace = tmp_path / "server.strace"
    server = subprocess.Popen(
        ["strace", *support.STRACE_OPTIONS, "-o", str(trace), sys.executable, "-c", SERVER,
         str(body)], stdout=subprocess.PIPE)
    port = int(server.stdout.readline())
    received = fetch(port)
    assert server.wait(timeout=60) == 0
    assert received == b"HEADER\r\n" + body.read_bytes()

    pcap = tmp_path / "out.pcap"
    summary = support.convert(trace, pcap).stderr.decode()
    assert "1 sendfile() or splice() call moved 256000 bytes" in summary
    sent = [packet for packet in support.read_packets(pcap)
            if packet.haslayer("TCP") and packet["TCP"].sport == port and packet.wirelen > len(packet)]
    assert sum(packet.wirelen - len(packet) for packet in sent) == 256000
    assert support.tcp_analysis_warnings(pcap) == ""
    streams = support.tcp_streams(pcap)
    [(server_to_client, header)] = [(key, data) for key, data in streams.items()
                                    if key[1] == port]
    assert header == b"HEADER\r\n"


def fetch(port):
    """Send a request to ``port`` and return every byte of the answer."""
    received = b""
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(b"GET")
        while True:
            chunk = connection.recv(65536)
            if not chunk:
                return received
            received += chunk


def traced_server(tmp_path, script, body):
    """Run the Python ``script`` under strace with a file holding ``body``
    and one for what its reader received; return the paths of those two
    files and of the trace."""
    support.require("strace", "tshark")
    body_file, received, trace = (tmp_path / "body.bin", tmp_path / "received.bin",
                                  tmp_path / "both.strace")
    body_file.write_bytes(body)
    subprocess.run(["strace", *support.STRACE_OPTIONS, "-o", str(trace), sys.executable, "-c",
                    script, str(body_file), str(received)], check=True, capture_output=True,
                   timeout=60)
    return body_file, received, trace


def test_sendfile_bytes_come_from_the_traced_reader(tmp_path):
    """Both ends traced: the reader's reads carry the bytes sendfile moved."""
    body, received, trace = traced_server(tmp_path, SERVER, bytes(range(256)) * 1000)
    assert received.read_bytes() == b"HEADER\r\n" + body.read_bytes()

    pcap = tmp_path / "out.pcap"
    support.convert(trace, pcap)
    assert all(packet.wirelen == len(packet) for packet in support.read_packets(pcap))
    streams = support.tcp_streams(pcap)
    assert sorted(streams.values(), key=len) == [b"GET", received.read_bytes()]
    assert support.tcp_analysis_warnings(pcap) == ""


CUT_WRITER = textwrap.dedent("""
    import socket, sys, threading
    family = socket.AF_UNIX if sys.argv[2] == "unix" else socket.AF_INET
    listener = socket.socket(family)
    listener.bind(sys.argv[1] + ".sock" if family == socket.AF_UNIX else ("127.0.0.1", 0))
    listener.listen()
    def fetch():
        with socket.socket(family) as client, open(sys.argv[1], "wb") as received:
            client.connect(listener.getsockname())
            client.sendall(b"GET")
            while chunk := client.recv(500):  # each read printed whole under -s 1000
                received.write(chunk)
    reader = threading.Thread(target=fetch)
    reader.start()
    connection, _ = listener.accept()
    connection.recv(100)
    connection.sendall(bytes(range(256)) * 400)  # one write, cut at 1000 bytes
    connection.close()
    reader.join()
""")


@pytest.mark.parametrize("family", ["inet", "unix"])
def test_bytes_cut_from_a_write_come_from_the_traced_reader(tmp_path, family):
    """Java's HttpServer writes a 1 MiB response in one write(), which
    -s655350 cuts; the client's reads show it all: the pcap has every byte
    (TCP, and a unix stream socket's synthetic flow)."""
    support.require("strace", "tshark")
    received = tmp_path / "received.bin"
    trace = tmp_path / "cut.strace"
    options = [option if option != "-s655350" else "-s1000" for option in support.STRACE_OPTIONS]
    subprocess.run(["strace", *options, "-o", str(trace), sys.executable, "-c", CUT_WRITER,
                    str(received), family], check=True, capture_output=True, timeout=60)
    assert received.read_bytes() == bytes(range(256)) * 400

    pcap = tmp_path / "out.pcap"
    summary = support.convert(trace, pcap, "--capture-unix-socket").stderr.decode()
    assert "1 payload cut by strace's -s: its traced reader's reads hold all its bytes" in summary
    assert all(packet.wirelen == len(packet) for packet in support.read_packets(pcap))
    assert sorted(support.tcp_streams(pcap).values(), key=len) == [b"GET",
                                                                   received.read_bytes()]
    assert support.tcp_analysis_warnings(pcap) == ""


SPLICING_CLIENT = textwrap.dedent("""
    import os, socket, sys
    with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as client:
        client.sendall(b"GET")
        read_end, write_end = os.pipe()
        received = 0
        while moved := os.splice(client.fileno(), write_end, 65536):
            received += len(os.read(read_end, moved))
        print(received)
""")


def test_splice_from_a_socket_declares_its_bytes_and_its_eof(tmp_path):
    """A client moving its socket's bytes into a pipe with splice() (as
    haproxy relays): strace shows how many, never which.  The server's
    bytes are declared in the pcap, as many as tcpdump saw, and the
    splice() returning 0 is the server's FIN; the summary says it."""
    support.require("strace", "tcpdump", "tshark")
    body = tmp_path / "body.bin"
    body.write_bytes(bytes(range(256)) * 1000)
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(body)], stdout=subprocess.PIPE)
    port = int(server.stdout.readline())
    trace, capture = tmp_path / "client.strace", tmp_path / "tcpdump.pcap"
    with support.Tcpdump(capture, "tcp port %d" % port):
        client = subprocess.run(["strace", *support.STRACE_OPTIONS, "-o", str(trace),
                                 sys.executable, "-c", SPLICING_CLIENT, str(port)],
                                capture_output=True, timeout=60, check=True)
    assert server.wait(timeout=60) == 0
    assert int(client.stdout) == 8 + 256000
    pcap = tmp_path / "out.pcap"
    summary = support.convert(trace, pcap).stderr.decode()
    assert "sendfile() or splice() calls moved 256008 bytes" in summary

    def from_server(path):
        """(bytes declared, FINs) of the server's packets, each sequence
        number once (tcpdump on a loaded machine saw retransmissions)."""
        ranges, fins, syn = [], set(), None
        for _index, segment, key, declared in support.tcp_segments(path):
            if key[1] == port:
                syn = segment.seq if syn is None else syn  # the SYN-ACK's, first
                offset = (segment.seq - syn) % 2 ** 32
                ranges.append((offset, offset + declared))
                if segment.flags.F:
                    fins.add(offset)
        covered = end = 0
        for first, last in sorted(ranges):
            covered += max(0, last - max(first, end))
            end = max(end, last)
        return covered, len(fins)
    assert from_server(pcap) == from_server(capture) == (256008, 1)
    assert support.tcp_analysis_warnings(pcap) == ""


SERVER_END = "13<TCP:[127.0.0.1:18083->127.0.0.1:40098]>"
CLIENT_END = "6<TCP:[127.0.0.1:40098->127.0.0.1:18083]>"
LISTENER = "4<TCP:[127.0.0.1:18083]>"
FILE = "16<%s>" % support.strace_quote(b"/srv/f.bin", "xx")
BODY = bytes(range(200)) * 5


def data_segments(pcap, port=None):
    """[(sequence number from the first, declared length, captured bytes)]
    of the data segments in ``pcap`` (those sent from ``port``, if given)."""
    data = [(segment.seq, declared, bytes(segment.payload)[:declared])
            for _index, segment, key, declared in support.tcp_segments(pcap)
            if declared and port in (None, key[1])]
    return [(seq - data[0][0], length, payload) for seq, length, payload in data]


def _server_lines(request_at, sendfile_at):
    """nginx's lines (sweep S, strace -ff, no pid column) answering one
    GET with a header and a sendfile() of BODY."""
    return [
        "1795735015.190352 accept4(%s, {sa_family=AF_INET, sin_port=htons(40098), "
        'sin_addr=inet_addr("127.0.0.1")}, [112 => 16], SOCK_NONBLOCK) = %s <0.000041>'
        % (LISTENER, SERVER_END),
        "1795735015.%06d recvfrom(%s, %s, 1024, 0, NULL, NULL) = 3 <0.000011>"
        % (request_at, SERVER_END, support.xx_string(b"GET")),
        "1795735015.%06d writev(%s, [{iov_base=%s, iov_len=4}], 1) = 4 <0.000020>"
        % (sendfile_at - 79, SERVER_END, support.xx_string(b"200\n")),
        "1795735015.%06d sendfile(%s, %s, [0] => [%d], %d) = %d <0.000037>"
        % (sendfile_at, SERVER_END, FILE, len(BODY), len(BODY), len(BODY))]


def test_sendfile_bytes_come_from_a_reader_whose_first_line_comes_after(tmp_path):
    """strace -ff files merged: lines come in the order their calls ended,
    and the client's request (a send strace slowed, begun first) ends after
    the server's sendfile: the reader's reads still carry the file's bytes
    (sweep S, nginx: 526 of 3000 bodies were length only)."""
    server = tmp_path / "trace.19106"
    server.write_text("\n".join(_server_lines(256298, 256561) + [
        "1795735015.288769 recvfrom(%s, \"\", 1024, 0, NULL, NULL) = 0 <0.000011>" % SERVER_END,
        "1795735015.288859 close(%s) = 0 <0.000251>" % SERVER_END]) + "\n")
    client = tmp_path / "trace.19172"
    client.write_text("\n".join([
        '1795735015.180523 connect(6<TCP:[2189438]>, {sa_family=AF_INET, sin_port=htons(18083), '
        'sin_addr=inet_addr("127.0.0.1")}, 16) = 0 <0.000248>',
        "1795735015.255716 sendto(%s, %s, 3, 0, NULL, 0) = 3 <0.012000>"
        % (CLIENT_END, support.xx_string(b"GET")),
        "1795735015.268135 recvfrom(%s, %s, 65536, 0, NULL, NULL) = %d <0.000020>"
        % (CLIENT_END, support.xx_string(b"200\n" + BODY), 4 + len(BODY)),
        "1795735015.286971 close(%s) = 0 <0.000248>" % CLIENT_END]) + "\n")
    pcap = tmp_path / "out.pcap"
    support.convert(None, pcap, "-r", str(server), str(client))
    assert all(packet.wirelen == len(packet) for packet in support.read_packets(pcap))
    assert sorted(support.tcp_streams(pcap).values(), key=len) == [b"GET", b"200\n" + BODY]


def test_sendfile_bytes_no_reader_shows_keep_their_time_and_place(tmp_path):
    """Only the server traced: the file's packets, without bytes, are
    stamped with the sendfile and come before what follows: the next
    request on the connection, at once or later than the wait for a
    reader's line, or another connection's bytes seconds later.  The
    summary tells how to see HTTP responses whose bodies lack bytes."""
    other = "14<TCP:[127.0.0.1:18083->127.0.0.1:40100]>"
    for reads in ([(15.2567, SERVER_END)], [(15.9567, SERVER_END)],
                  [(19.2567, other), (23.2567, other)]):
        trace = tmp_path / "server.strace"
        trace.write_text("\n".join(_server_lines(256298, 256561) + [
            "17957350%.6f recvfrom(%s, %s, 1024, 0, NULL, NULL) = 4 <0.000011>"
            % (time, fd, support.xx_string(b"GET2")) for time, fd in reads]) + "\n")
        pcap = tmp_path / "out.pcap"
        summary = support.convert(trace, pcap).stderr.decode()
        data = [(packet.time, packet["TCP"].sport, packet.wirelen - len(packet))
                for packet in support.read_packets(pcap)
                if packet.wirelen > 58 and not packet["TCP"].flags.S]
        assert [(port, missing) for _time, port, missing in data[:3]] == [
            (40098, 0), (18083, 0), (18083, len(BODY))]
        assert len(data) == 3 + len(reads)
        assert data[2][0] == pytest.approx(1795735015.256561)
        assert "stamped earlier" not in summary
        assert "show with tshark -o http.desegment_body:FALSE" in summary


def test_splice_to_a_socket_without_xx_keeps_its_place(tmp_path):
    """Without -xx the pipe splice() reads from is annotated too
    ("5<pipe:[2425459]>"): the socket is the annotation after it.  The
    spliced bytes keep their place in the stream, the write after them
    comes after them (a sweep's C program: "HDR0:" + 25 spliced bytes +
    "TRAILER"; the splice was skipped, and the reader's read put 17 wrong
    bytes in the stream)."""
    socket = "4<TCP:[127.0.0.1:52722->127.0.0.1:7063]>"
    trace = tmp_path / "noxx.strace"
    trace.write_text("\n".join([
        "11062 1795739966.213202 connect(4<TCP:[2425458]>, {sa_family=AF_INET, "
        'sin_port=htons(7063), sin_addr=inet_addr("127.0.0.1")}, 16) = 0 <0.000179>',
        '11062 1795739966.220374 write(%s, "HDR0:", 5) = 5 <0.000156>' % socket,
        "11062 1795739966.223926 splice(5<pipe:[2425459]>, NULL, %s, NULL, 25, 0) = 25 "
        "<0.000053>" % socket,
        '11062 1795739966.224635 write(%s, "TRAILER", 7) = 7 <0.000029>' % socket]) + "\n")
    pcap = tmp_path / "out.pcap"
    summary = support.convert(trace, pcap).stderr.decode()
    assert "1 sendfile() or splice() call moved 25 bytes" in summary
    assert data_segments(pcap) == [(0, 5, b"HDR0:"), (5, 25, b""), (30, 7, b"TRAILER")]


INET_PAIR = (
    "connect(3<TCP:[3021671]>, {sa_family=AF_INET, sin_port=htons(22490), "
    'sin_addr=inet_addr("127.0.0.1")}, 16) = 0',
    "accept4(5<TCP:[127.0.0.1:22490]>, {sa_family=AF_INET, sin_port=htons(41772), "
    'sin_addr=inet_addr("127.0.0.1")}, [16], SOCK_CLOEXEC)',
    "3<TCP:[127.0.0.1:41772->127.0.0.1:22490]>", "4<TCP:[127.0.0.1:22490->127.0.0.1:41772]>")
UNIX_PAIR = (
    'connect(3<UNIX-STREAM:[100]>, {sa_family=AF_UNIX, sun_path="/s"}, 110) = 0',
    'accept4(5<UNIX-STREAM:[99,"/s"]>, {sa_family=AF_UNIX}, [110 => 2], SOCK_CLOEXEC)',
    "3<UNIX-STREAM:[100->101]>", '4<UNIX-STREAM:[101->100,"/s"]>')


@pytest.mark.parametrize("pair", [INET_PAIR, UNIX_PAIR], ids=["tcp", "unix"])
def test_bytes_spliced_at_both_ends_count_once(tmp_path, pair):
    """A sender that writes a header and splices a file's bytes into its
    socket, and a receiver that splices them all out of its own, traced
    together (a helper's pair of Python programs): the summary counts the
    bytes strace does not show once, the sender's (it said 2 000 008 of a
    1 000 008-byte stream: both ends' calls, and the printed header again)."""
    connect, accept, client, server = pair
    trace = tmp_path / "both-splice.strace"
    trace.write_text("\n".join([
        "20 1795788877.980000 %s <0.000100>" % connect,
        "10 1795788877.980200 %s = %s <0.000010>" % (accept, server),
        "20 1795788877.981000 sendto(%s, %s, 4, 0, NULL, 0) = 4 <0.000020>"
        % (client, support.xx_string(b"HDR\n")),
        "20 1795788877.982000 splice(6<pipe:[3021673]>, NULL, %s, NULL, 65536, 0) = 1000 "
        "<0.000050>" % client,
        "10 1795788877.983000 splice(%s, NULL, 7<pipe:[3022059]>, NULL, 65536, 0) = 1004 "
        "<0.000050>" % server]) + "\n")
    pcap = tmp_path / "out.pcap"
    summary = support.convert(trace, pcap, "--capture-unix-socket").stderr.decode()
    assert "  1 sendfile() or splice() call moved 1000 bytes strace does not show" in summary
    assert [(offset, size) for offset, size, _data in data_segments(pcap)] == [(0, 4), (4, 1000)]


def test_a_resumed_sendfile_keeps_its_place_before_later_calls(tmp_path):
    """nginx's worker: a sendfile left unfinished while another worker
    reads a request and sendfiles its answer, then resumed.  Its packets,
    stamped with its start, come before the other connection's; none is
    written out of order (sweep T, nginx: 17 were, in a trace of 1464)."""
    first, second, third = ("7<TCP:[127.0.0.1:7010->127.0.0.1:47656]>",
                            "9<TCP:[127.0.0.1:7010->127.0.0.1:47680]>",
                            "11<TCP:[127.0.0.1:7010->127.0.0.1:47694]>")
    trace = tmp_path / "nginx.strace"
    trace.write_text("\n".join([
        "6512  1795739708.822084 sendfile(%s, %s, [0] <unfinished ...>" % (first, FILE),
        "6511  1795739708.822505 recvfrom(%s, %s, 1024, 0, NULL, NULL) = 3 <0.000015>"
        % (second, support.xx_string(b"GET")),
        "6511  1795739708.823365 sendfile(%s, %s, [0] => [%d], %d) = %d <0.000037>"
        % (second, FILE, len(BODY), len(BODY), len(BODY)),
        "6512  1795739708.826970 <... sendfile resumed> => [%d], %d) = %d <0.004886>"
        % (len(BODY), len(BODY), len(BODY))] + [
        "6511  1795739708.%06d recvfrom(%s, %s, 1024, 0, NULL, NULL) = 3 <0.000015>"
        % (time, third, support.xx_string(b"GET")) for time in (827500, 950000)]) + "\n")
    pcap = tmp_path / "out.pcap"
    summary = support.convert(trace, pcap).stderr.decode()
    assert "stamped earlier" not in summary
    data = [(float(packet.time), packet["TCP"].dport)
            for packet in support.read_packets(pcap)
            if packet.wirelen > 58 and not packet["TCP"].flags.S]
    assert data[:3] == [(pytest.approx(1795739708.822084), 47656),
                        (pytest.approx(1795739708.822520), 7010),
                        (pytest.approx(1795739708.823365), 47680)]
    assert len(data) == 5


PIPELINING_SERVER = textwrap.dedent("""
    import os, socket, sys, threading, time
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    def fetch():
        with socket.create_connection(listener.getsockname()) as client:
            client.sendall(b"GET")
            time.sleep(0.3)  # the server's answers all go out first
            with open(sys.argv[2], "wb") as received:
                while chunk := client.recv(65536):
                    received.write(chunk)
    reader = threading.Thread(target=fetch)
    reader.start()
    connection, _ = listener.accept()
    connection.recv(100)
    read_end, write_end = os.pipe()
    with open(sys.argv[1], "rb") as body:
        for answer in range(3):
            connection.sendall(b"HEADER %d\\r\\n" % answer)
            os.sendfile(connection.fileno(), body.fileno(), answer * 1000, 700)
            os.write(write_end, b"spliced %d" % answer)
            os.splice(read_end, connection.fileno(), 9)
    connection.sendall(b"TRAILER")
    connection.shutdown(socket.SHUT_WR)
    reader.join()
    connection.close()
""")


def test_writes_after_a_sendfile_wait_for_the_traced_reader(tmp_path):
    """A pipelining server (nginx with keep-alive) writes the next answer
    before its reader read the file sendfile() sent, and shuts down its
    side: the reads carry the files' and the splices' bytes, the writes
    after them come after them, the FIN last (sweep T, nginx: 15 of 15
    pipelined bodies were length only)."""
    body, received, trace = traced_server(tmp_path, PIPELINING_SERVER, bytes(range(256)) * 12)
    file = body.read_bytes()
    assert received.read_bytes() == b"".join(
        b"HEADER %d\r\n" % answer + file[answer * 1000:answer * 1000 + 700]
        + b"spliced %d" % answer for answer in range(3)) + b"TRAILER"

    pcap = tmp_path / "out.pcap"
    support.convert(trace, pcap)
    packets = support.read_packets(pcap)
    assert all(packet.wirelen == len(packet) for packet in packets)
    assert sorted(support.tcp_streams(pcap).values(), key=len) == [b"GET",
                                                                   received.read_bytes()]
    assert support.tcp_analysis_warnings(pcap) == ""
    [server_port] = [packet["TCP"].sport for packet in packets if packet["TCP"].flags == "SA"]
    sent = [packet["TCP"] for packet in packets if packet["TCP"].sport == server_port]
    fins = [index for index, segment in enumerate(sent) if segment.flags.F]
    assert len(fins) == 1 and fins[0] > max(index for index, segment in enumerate(sent)
                                            if segment.payload)


def test_writes_held_for_a_reader_keep_their_bytes(tmp_path):
    """The reader's reads, cut by -s, print less than the writes held
    behind a sendfile: those writes' bytes fill in theirs; the write its
    reader never read goes out at the end of the trace, bytes and all."""
    trace = tmp_path / "cut.strace"
    request = "1795735015.255716 sendto(%s, %s, 3, 0, NULL, 0) = 3 <0.000012>" % (
        CLIENT_END, support.xx_string(b"GET"))
    trace.write_text("\n".join([request] + _server_lines(256298, 256561) + [
        "1795735015.256700 writev(%s, [{iov_base=%s, iov_len=4}], 1) = 4 <0.000020>"
        % (SERVER_END, support.xx_string(b"201\n")),
        "1795735015.256800 sendfile(%s, %s, [0] => [%d], %d) = %d <0.000037>"
        % (SERVER_END, FILE, len(BODY), len(BODY), len(BODY)),
        "1795735015.256900 writev(%s, [{iov_base=%s, iov_len=4}], 1) = 4 <0.000020>"
        % (SERVER_END, support.xx_string(b"202\n")),
        # The client's read shows its first 6 bytes only (-s 6).
        "1795735015.300000 recvfrom(%s, %s, 65536, 0, NULL, NULL) = %d <0.000020>"
        % (CLIENT_END, support.xx_string((b"200\n" + BODY)[:6]), 4 + 2 * len(BODY) + 4)])
        + "\n")
    pcap = tmp_path / "out.pcap"
    support.convert(trace, pcap)
    assert data_segments(pcap, 18083) == [
        (0, 4, b"200\n"), (4, len(BODY), BODY[:2]), (4 + len(BODY), 4 + len(BODY), b"201\n"),
        (8 + 2 * len(BODY), 4, b"202\n")]


def test_an_urgent_byte_after_a_sendfile_keeps_its_place(tmp_path):
    """send(MSG_OOB) does not wait for the reader: its reads leave the
    urgent byte out (recv(MSG_OOB) gets it), so waiting would put the
    bytes after it one place early (sweep T's C program)."""
    trace = tmp_path / "oob.strace"
    trace.write_text("\n".join([
        "1795735015.180000 sendto(%s, %s, 3, 0, NULL, 0) = 3 <0.000012>"
        % (CLIENT_END, support.xx_string(b"GET")),
        "1795735015.190000 recvfrom(%s, %s, 1024, 0, NULL, NULL) = 3 <0.000011>"
        % (SERVER_END, support.xx_string(b"GET")),
        "1795735015.200000 sendfile(%s, %s, [0] => [6], 6) = 6 <0.000037>" % (SERVER_END, FILE),
        "1795735015.200100 sendto(%s, %s, 1, MSG_OOB, NULL, 0) = 1 <0.000012>"
        % (SERVER_END, support.xx_string(b"!")),
        "1795735015.200200 sendto(%s, %s, 5, 0, NULL, 0) = 5 <0.000012>"
        % (SERVER_END, support.xx_string(b"after")),
        "1795735015.300000 recvfrom(%s, %s, 65536, 0, NULL, NULL) = 11 <0.000020>"
        % (CLIENT_END, support.xx_string(BODY[:6] + b"after")),
        "1795735015.300100 recvfrom(%s, %s, 1, MSG_OOB, NULL, NULL) = 1 <0.000020>"
        % (CLIENT_END, support.xx_string(b"!"))]) + "\n")
    pcap = tmp_path / "out.pcap"
    support.convert(trace, pcap)
    assert data_segments(pcap, 18083) == [
        (0, 6, b""), (6, 1, b"!"), (7, 5, b"after")]


def test_a_reader_closing_with_bytes_unread_resets(tmp_path):
    """nginx sendfiles and shuts down its side; the client closes without
    reading: its kernel answers with a RST, no FIN (sweep U: a FIN and a
    RST from the client, tcpdump's capture only the RST)."""
    client_end = "3<TCP:[127.0.0.1:40098->127.0.0.1:18083]>"
    trace = tmp_path / "unread.strace"
    trace.write_text("\n".join([
        "1795735015.180000 sendto(%s, %s, 3, 0, NULL, 0) = 3 <0.000012>"
        % (client_end, support.xx_string(b"GET"))] + _server_lines(190100, 256561) + [
        "1795735015.256700 shutdown(%s, SHUT_WR) = 0 <0.000010>" % SERVER_END,
        "1795735015.300000 close(%s) = 0 <0.000010>" % client_end,
        "1795735015.300400 recvfrom(%s, 0x7ffc017e19b0, 4096, 0, NULL, NULL) = -1 ECONNRESET "
        "(Connection reset by peer) <0.000100>" % SERVER_END]) + "\n")
    pcap = tmp_path / "out.pcap"
    support.convert(trace, pcap)
    client_flags = [str(packet["TCP"].flags) for packet in support.read_packets(pcap)
                    if packet["TCP"].sport == 40098]
    assert client_flags[-1] == "RA" and not any("F" in flags for flags in client_flags)


def test_writes_wait_for_a_reader_whose_connect_came_before(tmp_path):
    """A server that speaks first sendfiles and writes before its client's
    socket showed its port (the client connected and only reads): the
    client's connect() is in the trace, so its read, 0.3 s later, still
    carries the file and the write after it (sweep U: 2 048 of 2 048 bytes
    were length only)."""
    trace = tmp_path / "speaks-first.strace"
    trace.write_text("\n".join([
        '100 1795746000.000000 connect(3<TCP:[10]>, {sa_family=AF_INET, sin_port=htons(9000), '
        'sin_addr=inet_addr("127.0.0.1")}, 16) = 0 <0.000100>',
        '200 1795746000.000200 accept4(3<TCP:[127.0.0.1:9000]>, {sa_family=AF_INET, '
        'sin_port=htons(40000), sin_addr=inet_addr("127.0.0.1")}, [16], SOCK_CLOEXEC) = '
        '4<TCP:[127.0.0.1:9000->127.0.0.1:40000]> <0.000010>',
        "200 1795746000.003000 sendfile(4<TCP:[127.0.0.1:9000->127.0.0.1:40000]>, %s, [0] => "
        "[4], 4) = 4 <0.000010>" % FILE,
        "200 1795746000.004000 sendto(4<TCP:[127.0.0.1:9000->127.0.0.1:40000]>, %s, 1, 0, "
        "NULL, 0) = 1 <0.000010>" % support.xx_string(b"M"),
        "100 1795746000.300000 recvfrom(3<TCP:[127.0.0.1:40000->127.0.0.1:9000]>, %s, 4096, 0, "
        "NULL, NULL) = 5 <0.000010>" % support.xx_string(b"FILEM")]) + "\n")
    pcap = tmp_path / "out.pcap"
    support.convert(trace, pcap)
    assert all(packet.wirelen == len(packet) for packet in support.read_packets(pcap))
    assert list(support.tcp_streams(pcap).values()) == [b"FILEM"]


def test_a_slow_reader_after_the_writers_close_still_fills_its_bytes(tmp_path):
    """The server's write -s cut, another write, then close(); its client
    reads them 2.5 s later, past the close()'s 2 s hold: the FIN waits for
    the reads, which carry the cut bytes (sweep U, python http.server
    sending 5 MB to a slow client: 179 455 printed bytes were lost)."""
    server, client = ("4<TCP:[127.0.0.1:9000->127.0.0.1:40000]>",
                      "3<TCP:[127.0.0.1:40000->127.0.0.1:9000]>")
    trace = tmp_path / "late.strace"
    trace.write_text("\n".join([
        "100 1795746000.001000 sendto(%s, %s, 2, 0, NULL, 0) = 2 <0.000010>"
        % (client, support.xx_string(b"GO")),
        "200 1795746000.002000 recvfrom(%s, %s, 100, 0, NULL, NULL) = 2 <0.000010>"
        % (server, support.xx_string(b"GO")),
        "200 1795746000.003000 sendto(%s, %s..., 4, 0, NULL, 0) = 4 <0.000010>"
        % (server, support.xx_string(b"AA")),
        "200 1795746000.004000 sendto(%s, %s, 2, 0, NULL, 0) = 2 <0.000010>"
        % (server, support.xx_string(b"BB")),
        "200 1795746000.005000 close(%s) = 0 <0.000010>" % server,
        "100 1795746002.500000 recvfrom(%s, %s, 4096, 0, NULL, NULL) = 6 <0.000010>"
        % (client, support.xx_string(b"AAAABB")),
        '100 1795746002.500100 recvfrom(%s, "", 4096, 0, NULL, NULL) = 0 <0.000010>' % client,
        "100 1795746002.500200 close(%s) = 0 <0.000010>" % client]) + "\n")
    pcap = tmp_path / "out.pcap"
    summary = support.convert(trace, pcap).stderr.decode()
    assert all(packet.wirelen == len(packet) for packet in support.read_packets(pcap))
    assert sorted(support.tcp_streams(pcap).values()) == [b"AAAABB", b"GO"]
    assert support.tcp_analysis_warnings(pcap) == ""
    assert "stamped earlier" not in summary


def test_a_unix_socket_whose_first_bytes_come_from_sendfile_takes_them_from_the_reads(tmp_path):
    """Over a unix socket (a helper's sendfile server and its client, one
    strace -f, recorded shapes): the client connects, its recvfrom waits,
    the server's first bytes come from sendfile().  The client's connect()
    is in the trace, so its reads carry them (the first 65 536 bytes of
    each connection were length only, said "cut by -s").  Bytes no read
    ever carried (a trace cut short) are declared, not left out."""
    server = '4<UNIX-STREAM:[1812583->1812748,"\\x75\\x2e\\x73\\x6f\\x63\\x6b"]>'
    client = "3<UNIX-STREAM:[1812748->1812583]>"
    lines = [
        '9436  1795772876.362690 connect(3<UNIX-STREAM:[1812748]>, {sa_family=AF_UNIX, '
        'sun_path="\\x75\\x2e\\x73\\x6f\\x63\\x6b"}, 9) = 0 <0.000027>',
        '9343  1795772876.362765 accept4(3<UNIX-STREAM:[1812579,"\\x75\\x2e\\x73\\x6f\\x63\\x6b"]>, '
        '{sa_family=AF_UNIX}, [110 => 2], SOCK_CLOEXEC) = %s <1.191182>' % server,
        '9436  1795772876.362836 recvfrom(%s,  <unfinished ...>' % client,
        "9437  1795772876.364200 sendfile(%s, %s, [0] => [4], 4) = 4 <0.000010>" % (server, FILE),
        '9436  1795772876.364275 <... recvfrom resumed>%s, 8192, 0, NULL, NULL) = 4 <0.000100>'
        % support.xx_string(b"FILE"),
        "9437  1795772876.368133 sendfile(%s, %s, [4] => [7], 3) = 3 <0.000010>" % (server, FILE)]
    trace = tmp_path / "unix-sendfile.strace"
    trace.write_text("\n".join(lines) + "\n")
    pcap = tmp_path / "out.pcap"
    result = support.convert(trace, pcap, "--capture-unix-socket")
    assert list(support.tcp_streams(pcap).values()) == [b"FILE"]
    assert ("server->client 7 bytes in syscalls, 4 in pcap, 3 not shown by strace"
            in result.stderr.decode())
    assert "the packets lack 3 bytes" in result.stderr.decode()

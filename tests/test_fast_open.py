"""TCP Fast Open: sendto/sendmsg with MSG_FASTOPEN and an address connect
the socket as they send, on a socket whose annotation shows no address yet
(``TCP:[inode]``).  The lines are those of a sweep's recording (Python
clients, strace 6.1, a server with TCP_FASTOPEN on 127.0.0.1), shortened."""

from support import convert, strace_quote, tcp_segments, xx_string

ADDRESS = ('{sa_family=AF_INET, sin_port=htons(9101), sin_addr=inet_addr("%s")}'
           % strace_quote(b"127.0.0.1", "xx"))
CONNECTED = "3<TCP:[127.0.0.1:36456->127.0.0.1:9101]>"
REQUEST, ANSWER = b"HELLO-TFO-0 " * 20, b"ECHO:" + b"HELLO-TFO-0 " * 20


def line(time, call, result):
    """A line of pid 5521 at 1795734433.``time``."""
    return "5521  1795734433.%06d %s = %s <0.000080>" % (time, call, result)


def convert_lines(tmp_path, lines):
    """[(flags, source port, destination port, payload)] of the TCP segments."""
    trace = tmp_path / "trace.strace"
    trace.write_text("\n".join(lines) + "\n", encoding="latin-1")
    pcap = tmp_path / "out.pcap"
    convert(trace, pcap)
    return [(str(segment.flags), segment.sport, segment.dport, bytes(segment.payload)[:declared])
            for _index, segment, _key, declared in tcp_segments(pcap)]


def exchange(first_call):
    """The sweep's client: ``first_call`` opens the connection with the
    request; the answer is read, the socket closed."""
    return [
        line(949278, "socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP)",
             "3<TCP:[2146591]>"),
        first_call,
        line(956567, "recvfrom(%s, %s, 65536, 0, NULL, NULL)" % (CONNECTED, xx_string(ANSWER)),
             len(ANSWER)),
        line(960371, "close(%s)" % CONNECTED, 0),
    ]


def test_a_fast_open_sendto_opens_the_connection_with_its_bytes(tmp_path):
    segments = convert_lines(tmp_path, exchange(line(
        952565, "sendto(3<TCP:[2146591]>, %s, %d, MSG_FASTOPEN, %s, 16)"
        % (xx_string(REQUEST), len(REQUEST), ADDRESS), len(REQUEST))))
    assert segments[:5] == [("S", 36456, 9101, b""), ("SA", 9101, 36456, b""),
                            ("A", 36456, 9101, b""), ("PA", 36456, 9101, REQUEST),
                            ("PA", 9101, 36456, ANSWER)]
    assert [flags for flags, *_rest in segments[5:]] == ["FA", "A"]


def test_a_fast_open_sendmsg_opens_the_connection_with_its_bytes(tmp_path):
    segments = convert_lines(tmp_path, exchange(line(
        952565, "sendmsg(3<TCP:[2146591]>, {msg_name=%s, msg_namelen=16, msg_iov=[{iov_base=%s, "
        "iov_len=%d}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, MSG_FASTOPEN)"
        % (ADDRESS, xx_string(REQUEST), len(REQUEST)), len(REQUEST))))
    assert [(flags, port, payload) for flags, port, _dport, payload in segments[:5]] == [
        ("S", 36456, b""), ("SA", 9101, b""), ("A", 36456, b""), ("PA", 36456, REQUEST),
        ("PA", 9101, ANSWER)]


def test_a_fast_open_in_progress_sends_its_syn_and_not_its_bytes(tmp_path):
    # Non-blocking with no cookie yet: the SYN alone goes; the program sends
    # again once connected.
    lines = exchange(line(
        952565, "sendto(3<TCP:[2146591]>, %s, %d, MSG_FASTOPEN, %s, 16)"
        % (xx_string(REQUEST), len(REQUEST), ADDRESS),
        "-1 EINPROGRESS (Operation now in progress)"))
    lines.insert(2, line(954000, "sendto(%s, %s, %d, 0, NULL, 0)"
                         % (CONNECTED, xx_string(b"again"), 5), 5))
    segments = convert_lines(tmp_path, lines)
    assert segments[:5] == [("S", 36456, 9101, b""), ("SA", 9101, 36456, b""),
                            ("A", 36456, 9101, b""), ("PA", 36456, 9101, b"again"),
                            ("PA", 9101, 36456, ANSWER)]


def test_a_refused_fast_open_gives_its_syn_and_the_reset(tmp_path):
    segments = convert_lines(tmp_path, [
        line(949278, "socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP)",
             "3<TCP:[2146591]>"),
        line(952565, "sendto(3<TCP:[2146591]>, %s, %d, MSG_FASTOPEN, %s, 16)"
             % (xx_string(REQUEST), len(REQUEST), ADDRESS),
             "-1 ECONNREFUSED (Connection refused)"),
        line(960371, "close(3<TCP:[2146591]>)", 0)])
    assert [(flags, dport) for flags, _sport, dport, _payload in segments] == [
        ("S", 9101), ("RA", segments[0][1])]


def test_a_fast_open_in_progress_on_a_bound_socket_opens_its_connection(tmp_path):
    """kdig +fastopen binds to 0.0.0.0 first (a helper's trace): strace then
    shows the socket's bound address alone, also once connected.  Its
    non-blocking fast open's SYN, the bytes sent after, and the answer read
    are the connection's (the answer was lost, and no SYN was made)."""
    bound = "3<TCP:[0.0.0.0:36456]>"
    lines = [
        line(949278, "socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP)", "3<TCP:[2146591]>"),
        line(950000, 'bind(3<TCP:[2146591]>, {sa_family=AF_INET, sin_port=htons(0), '
             'sin_addr=inet_addr("%s")}, 16)' % strace_quote(b"0.0.0.0", "xx"), 0),
        line(952565, "sendmsg(%s, {msg_name=%s, msg_namelen=16, msg_iov=[{iov_base=%s, "
             "iov_len=%d}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, MSG_FASTOPEN)"
             % (bound, ADDRESS, xx_string(REQUEST), len(REQUEST)),
             "-1 EINPROGRESS (Operation now in progress)"),
        line(954000, "sendmsg(%s, {msg_name=%s, msg_namelen=16, msg_iov=[{iov_base=%s, "
             "iov_len=%d}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, 0)"
             % (bound, ADDRESS, xx_string(REQUEST), len(REQUEST)), len(REQUEST)),
        line(956567, "recvfrom(%s, %s, 65536, 0, NULL, NULL)" % (bound, xx_string(ANSWER)),
             len(ANSWER)),
        line(960371, "close(%s)" % bound, 0)]
    segments = convert_lines(tmp_path, lines)
    assert segments[:5] == [("S", 36456, 9101, b""), ("SA", 9101, 36456, b""),
                            ("A", 36456, 9101, b""), ("PA", 36456, 9101, REQUEST),
                            ("PA", 9101, 36456, ANSWER)]

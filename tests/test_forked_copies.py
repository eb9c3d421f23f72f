"""A forked process's close of a socket it inherited ends only its copy
(fork_finder finds the fork, tcp_flow.HeldFins.copy_keeper tells the close);
so does a close of a socket passed to another process with SCM_RIGHTS.

The traces are sshd's shape: a server (pid 100) accepts a connection,
forks a child (101) that closes its copy, and writes again 3 s later, past
the FIN hold."""

import pytest

import support
from fork_finder import WINDOW, ForkFinder
from strace_parser import StraceParser

ACCEPT = ('100 1795659600.000000 accept4(3<TCP:[127.0.0.1:2222]>, {sa_family=AF_INET, '
          'sin_port=htons(40000), sin_addr=inet_addr("127.0.0.1")}, [16], SOCK_CLOEXEC) = '
          '4<TCP:[127.0.0.1:2222->127.0.0.1:40000]> <0.000010>')
SOCKET = "4<TCP:[127.0.0.1:2222->127.0.0.1:40000]>"
FORK = ("100 1795659600.200000 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|"
        "CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f0000000a10) = 101 <0.000100>")
THREAD = ("100 1795659600.200000 clone(child_stack=0x7f0000001000, flags=CLONE_VM|CLONE_FS|"
          "CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|"
          "CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, parent_tid=[101], tls=0x7f0000002000, "
          "child_tidptr=0x7f0000003000) = 101 <0.000100>")


def call(pid, time, text):
    return "%d 1795659%.6f %s <0.000010>" % (pid, 600 + time, text)


def write(pid, time, payload):
    return call(pid, time, 'write(%s, %s, %d) = %d' % (SOCKET, support.xx_string(payload),
                                                    len(payload), len(payload)))


def close(pid, time):
    return call(pid, time, "close(%s) = 0" % SOCKET)


def server_segments(tmp_path, lines, *flags):
    """[(seconds after the accept, flags, payload)] of the server's packets
    after its SYN-ACK, and the summary."""
    trace = tmp_path / "trace.txt"
    trace.write_text("\n".join(lines) + "\n")
    pcap = tmp_path / "out.pcap"
    summary = support.convert(trace, pcap, *flags).stderr.decode()
    rows = [(round(float(packet.time) - 1795659600, 6), str(packet["TCP"].flags),
             bytes(packet["TCP"].payload))
            for packet in support.read_packets(pcap)
            if packet["TCP"].sport == 2222 and "S" not in str(packet["TCP"].flags)]
    return [row for row in rows if row[1] != "A"], summary


@pytest.mark.parametrize("flags", [[], ["--format", "pcapng"]], ids=["pcap", "pcapng"])
def test_a_forked_childs_close_of_its_copy_sends_no_fin(tmp_path, flags):
    """(pcapng reads every clone line for the process names, pcap looks
    for the fork when the child's close comes.)"""
    rows, summary = server_segments(tmp_path, [
        ACCEPT, write(100, 0.1, b"hello"), FORK, close(101, 0.3),
        write(100, 3.0, b"world"), close(100, 3.1)], *flags)
    assert rows == [(0.1, "PA", b"hello"), (3.0, "PA", b"world"), (3.1, "FA", b"")]
    assert "1 close (or exit) of one copy of a socket another process keeps" in summary


def test_a_forked_childs_exit_with_its_copy_open_sends_no_fin(tmp_path):
    """The child wrote on its copy, then exited: the kernel closed its copy only."""
    rows, _summary = server_segments(tmp_path, [
        ACCEPT, FORK, write(101, 0.3, b"hello"), "101 1795659600.400000 +++ exited with 0 +++",
        write(100, 3.0, b"world"), close(100, 3.1)])
    assert rows == [(0.3, "PA", b"hello"), (3.0, "PA", b"world"), (3.1, "FA", b"")]


def test_a_threads_close_is_the_sockets(tmp_path):
    """A thread (CLONE_FILES) shares the fds: its close is the socket's, its
    FIN goes at its time."""
    rows, summary = server_segments(tmp_path, [
        ACCEPT, write(100, 0.1, b"hello"), THREAD, close(101, 0.3),
        write(100, 3.0, b"x"), close(100, 3.1)])
    assert rows[:2] == [(0.1, "PA", b"hello"), (0.3, "FA", b"")]
    assert "forked process" not in summary


def test_the_childs_close_after_the_parents_is_the_last(tmp_path):
    """The parent closed its copy after the fork: the child's close ends
    the socket."""
    rows, _summary = server_segments(tmp_path, [
        ACCEPT, FORK, close(100, 0.25), write(101, 0.3, b"hello"), close(101, 0.4)])
    assert rows == [(0.3, "PA", b"hello"), (0.4, "FA", b"")]


def test_a_socket_the_parent_got_after_the_fork_is_not_a_copy(tmp_path):
    """Accepted after the fork, the parent's socket was not inherited: the
    child's close of that fd number is of its own (another) socket."""
    rows, _summary = server_segments(tmp_path, [
        FORK, ACCEPT.replace("1795659600.000000", "1795659600.250000"),
        write(100, 0.3, b"hello"), close(101, 0.4), write(100, 3.0, b"x")])
    assert rows[:2] == [(0.3, "PA", b"hello"), (0.4, "FA", b"")]


@pytest.mark.parametrize("lines, found", [
    ([FORK], (100, 1795659600.2, "clone", False)),
    (["[pid   100] 1795659600.200000 fork() = 101 <0.000100>"],
     (100, 1795659600.2, "fork", False)),
    # The resumed half returns the child; the first half shows the flags.
    (["100 1795659600.200000 clone3({flags=CLONE_VM|CLONE_VFORK, exit_signal=SIGCHLD, "
      "stack=0x7f0000000000, stack_size=0x9000}, 88 <unfinished ...>",
      "101 1795659600.200100 execve(\"/bin/true\", [\"true\"], 0x7ffd0 /* 1 var */) = 0",
      "100 1795659600.300000 <... clone3 resumed>) = 101 <0.100000>"],
     (100, 1795659600.2, "clone3", True)),  # and 101 exec'd since
    # A read of 101 bytes returns 101 too.
    (['100 1795659600.200000 read(5</etc/passwd>, "", 101) = 101 <0.000010>'], None),
    (["100 1795659600.200000 clone(child_stack=NULL, flags=SIGCHLD) = 1010 <0.000010>"], None),
])
def test_fork_finder_finds_the_call_that_returned_a_thread(lines, found):
    finder = ForkFinder()
    finder.remember("\n".join(lines))
    creation = finder.creation_of(101, finder.end)
    if found is None:
        assert creation is None
    else:
        parent, time, call_name, flags, execed = creation
        assert (parent, time, call_name, execed) == found
        assert ("CLONE_VFORK" in flags) == (call_name == "clone3")


def test_fork_finder_looks_only_before_the_call_within_its_window():
    finder = ForkFinder()
    finder.remember(FORK)
    assert finder.creation_of(101, 0) is None  # the call's line came first
    assert finder.creation_of(101, len(FORK)) is not None
    finder.remember("x" * (WINDOW - 40))  # the result is 21 characters before the line's end
    assert finder.creation_of(101, finder.end) is not None
    finder.remember("x" * 40)
    assert finder.creation_of(101, finder.end) is None


@pytest.mark.parametrize("block_size", [1, 2, 100])
def test_the_fork_is_found_however_the_input_is_cut(block_size):
    """The text before the call is looked at, and where it does not show
    the creation, the lines after (a clone's resumed half after the
    child's first call, as a vfork's comes, in its block or not): a file
    and a pipe give the same events."""
    lines = [ACCEPT,
             "100 1795659600.200000 clone(child_stack=NULL, flags=SIGCHLD <unfinished ...>",
             close(101, 0.25), "100 1795659600.300000 <... clone resumed>) = 101 <0.100000>",
             write(101, 0.35, b"x"), FORK.replace("101", "102").replace(".2000", ".4000"),
             close(102, 0.45)]
    parser = StraceParser()
    forks = []
    for first in range(0, len(lines), block_size):
        for line in parser.lines_to_parse("\n".join(lines[first:first + block_size])):
            forks += [(event["pid"], event["child"], event["time"])
                      for event in parser.parse(line) if event["protocol"] == "process"]
    # 101's first socket call came before its clone returned: found after.
    assert forks == [(100, 101, 1795659600.2), (100, 102, 1795659600.4)]


def test_the_childs_close_after_the_parents_exit_is_the_last(tmp_path):
    """The parent used the socket, forked, and exited while the child used
    it last: its exit ended its copy, the child's close is the socket's."""
    rows, _summary = server_segments(tmp_path, [
        ACCEPT, write(100, 0.1, b"hello"), FORK, write(101, 0.25, b"world"),
        "100 1795659600.300000 +++ exited with 0 +++", close(101, 0.4)])
    assert rows == [(0.1, "PA", b"hello"), (0.25, "PA", b"world"), (0.4, "FA", b"")]


def test_a_thread_of_a_forked_process_closes_a_copy_too(tmp_path):
    """101 is forked (no socket call of its own); its thread 102 shares its
    fds: 102's close ends 101's copy."""
    thread = THREAD.replace("= 101", "= 102").replace("[101]", "[102]").replace(
        "100 1795659600.200000", "101 1795659600.250000")
    rows, summary = server_segments(tmp_path, [
        ACCEPT, write(100, 0.1, b"hello"), FORK, thread, close(102, 0.3),
        write(100, 3.0, b"world"), close(100, 3.1)])
    assert rows == [(0.1, "PA", b"hello"), (3.0, "PA", b"world"), (3.1, "FA", b"")]
    assert "1 close (or exit) of one copy of a socket another process keeps" in summary


def test_after_its_childs_copies_the_parents_exit_ends_the_socket(tmp_path):
    """inetd's shape: 101 (forked, its parent closed) hands the socket to
    a child it vforks, which uses it by two fds and closes both: 101 holds
    the socket still, and its exit sends the FIN (once lost: the side's
    last user was the child)."""
    dup = SOCKET.replace("4<", "5<")
    rows, summary = server_segments(tmp_path, [
        ACCEPT, FORK, close(100, 0.25), write(101, 0.3, b"hello"),
        "101 1795659600.400000 vfork() = 102 <0.000100>", write(102, 0.5, b"x"),
        call(102, 0.55, 'write(%s, %s, 1) = 1' % (dup, support.xx_string(b"y"))),
        close(102, 0.6), call(102, 0.65, "close(%s) = 0" % dup),
        "102 1795659600.700000 +++ exited with 0 +++",
        "101 1795659600.800000 +++ exited with 0 +++"])
    assert rows == [(0.3, "PA", b"hello"), (0.5, "PA", b"x"), (0.55, "PA", b"y"),
                    (0.8, "FA", b"")]
    # 100's close, then 102's two.
    assert "3 closes (or exits) of one copy of a socket another process keeps" in summary


@pytest.mark.parametrize("child_first", [True, False], ids=["child-seen-first", "child-seen-later"])
def test_a_parents_close_after_the_fork_leaves_the_childs_copy(tmp_path, child_first):
    """The forking server's shape: the parent closes its copy (the request
    unread), the child answers 3 s later.  Whether the child's first socket
    call (the listener's close) comes before the parent's close or after."""
    listener = call(101, 0.21, "close(3<TCP:[127.0.0.1:2222]>) = 0")
    lines = [ACCEPT, FORK, listener, close(100, 0.22)]
    if not child_first:
        lines[2:4] = lines[3:1:-1]
    rows, summary = server_segments(tmp_path, lines + [
        write(101, 3.0, b"answer"), close(101, 3.1)])
    assert rows == [(3.0, "PA", b"answer"), (3.1, "FA", b"")]
    assert "1 close (or exit) of one copy" in summary


def test_a_child_that_execd_first_may_hold_no_copy(tmp_path):
    """A child that exec'd before its first socket call (a spawned program:
    close-on-exec fds closed) is not taken to keep the parent's sockets."""
    execve = '101 1795659600.205000 execve("/bin/true", ["true"], 0x7ffd0 /* 1 var */) = 0'
    own = call(101, 0.21, "close(3<TCP:[127.0.0.1:9]>) = 0")
    rows, summary = server_segments(tmp_path, [
        ACCEPT, write(100, 0.1, b"hello"), FORK, execve, own, close(100, 0.3),
        "101 1795659603.000000 +++ exited with 0 +++"])
    assert rows == [(0.1, "PA", b"hello"), (0.3, "FA", b"")]
    assert "one copy" not in summary


@pytest.mark.parametrize("split", [False, True], ids=["whole", "unfinished"])
@pytest.mark.parametrize("flags", [[], ["--format", "pcapng"]], ids=["pcap", "pcapng"])
@pytest.mark.parametrize("noise_at", [None, 2, 4], ids=["one-block", "noise-before-fork",
                                                       "noise-before-exec"])
def test_a_child_that_execs_after_its_first_socket_call_keeps_no_copy(tmp_path, split, flags,
                                                                      noise_at):
    """Postfix's master forks, the child closes the listener it does not
    need, execs (its close-on-exec copy of the connection closed), and
    lives on: the parent's close is the connection's, its FIN at once.
    The exec was missed once the child was met: its RST came at its exit,
    3 s late, from the wrong process.  Past the first block the parse
    sieves the lines: the exec is found in the block the child was met in,
    and in a later one."""
    listener = call(101, 0.21, "close(3<TCP:[127.0.0.1:2222]>) = 0")
    execve = call(101, 0.22, 'execve("/usr/lib/postfix/sbin/smtpd", ["smtpd"], '
                             '0x7ffd0 /* 1 var */) = 0')
    lines = [ACCEPT, write(100, 0.1, b"hello"), FORK, listener, execve]
    if split:
        lines[-1:] = [execve.split(") = 0")[0] + " <unfinished ...>",
                      call(100, 0.221, "getpid() = 100"),
                      call(101, 0.23, "<... execve resumed>) = 0")]
    if noise_at is not None:
        time = float(lines[noise_at - 1].split()[1]) - 1795659600
        lines[noise_at:noise_at] = [call(102, time, "getpid() = 102")] * 2000  # 110 KB
    rows, summary = server_segments(tmp_path, lines + [
        close(100, 0.3), "101 1795659603.000000 +++ exited with 0 +++"], *flags)
    assert rows == [(0.1, "PA", b"hello"), (0.3, "FA", b"")]
    assert "one copy" not in summary


def test_a_failed_exec_leaves_the_childs_copy(tmp_path):
    """execvp() tries each directory of PATH: an ENOENT execs nothing."""
    failed = call(101, 0.22, 'execve("/usr/local/bin/x", ["x"], 0x7ffd0 /* 1 var */) = -1 '
                             'ENOENT (No such file or directory)')
    rows, summary = server_segments(tmp_path, [
        ACCEPT, write(100, 0.1, b"hello"), FORK, write(101, 0.21, b"x"), failed,
        close(100, 0.3), write(101, 3.0, b"world"), close(101, 3.1)])
    assert rows == [(0.1, "PA", b"hello"), (0.21, "PA", b"x"), (3.0, "PA", b"world"),
                    (3.1, "FA", b"")]
    assert "1 close (or exit) of one copy" in summary


def test_the_parents_exit_leaves_the_childs_copy(tmp_path):
    rows, _summary = server_segments(tmp_path, [
        ACCEPT, write(100, 0.1, b"hello"), FORK, write(101, 0.25, b"x"),
        "100 1795659600.300000 +++ exited with 0 +++", write(101, 3.0, b"world"),
        close(101, 3.1)])
    assert rows == [(0.1, "PA", b"hello"), (0.25, "PA", b"x"), (3.0, "PA", b"world"),
                    (3.1, "FA", b"")]


def test_a_connect_is_not_taken_by_another_forked_process_on_the_same_fd(tmp_path):
    """xargs -P's socat runs: 102 connects on its fd 7 (no ports shown yet);
    101, forked apart, then reads on its own fd 7, a connection the server
    had ended.  102's connect was taken for a new connection on 101's
    ports: 3 SYNs and the server's "ok" twice."""
    client, server = "TCP:[127.0.0.1:%d->127.0.0.1:2222]", "TCP:[127.0.0.1:2222->127.0.0.1:%d]"
    connect = ('%d 1795659600.%06d connect(7<TCP:[%d]>, {sa_family=AF_INET, '
               'sin_port=htons(2222), sin_addr=inet_addr("127.0.0.1")}, 16) = 0 <0.000100>')
    accept = ('200 1795659600.%06d accept4(3<TCP:[127.0.0.1:2222]>, {sa_family=AF_INET, '
              'sin_port=htons(%d), sin_addr=inet_addr("127.0.0.1")}, [16], SOCK_CLOEXEC) = '
              '4<%s> <0.000010>')
    lines = [FORK.replace("= 101", "= 102").replace(".2000", ".2500"), FORK,
             connect % (101, 300000, 1001), accept % (310000, 40000, server % 40000)]
    for pid, time, text in [
            (101, 0.32, 'sendto(7<%s>, %s, 1, 0, NULL, 0) = 1'),
            (101, 0.33, "shutdown(7<%s>, SHUT_WR) = 0"),
            (200, 0.34, 'recvfrom(4<%s>, %s, 100, 0, NULL, NULL) = 1'),
            (200, 0.35, 'sendto(4<%s>, %s, 2, 0, NULL, 0) = 2'),
            (200, 0.36, 'recvfrom(4<%s>, "", 100, 0, NULL, NULL) = 0'),
            (200, 0.37, "shutdown(4<%s>, SHUT_WR) = 0"), (200, 0.38, "close(4<%s>) = 0")]:
        annotation = (client if pid == 101 else server) % 40000
        payload = support.xx_string(b"ok" if time == 0.35 else b"A")
        lines.append(call(pid, time, text % ((annotation, payload)[:text.count("%s")])))
    lines += [connect % (102, 500000, 1002), accept % (510000, 40002, server % 40002),
              call(101, 0.52, 'recvfrom(7<%s>, %s, 100, 0, NULL, NULL) = 2'
                   % (client % 40000, support.xx_string(b"ok"))),
              call(101, 0.54, "close(7<%s>) = 0" % (client % 40000)),
              call(102, 0.6, 'sendto(7<%s>, %s, 1, 0, NULL, 0) = 1'
                   % (client % 40002, support.xx_string(b"B")))]
    trace, pcap = tmp_path / "trace.txt", tmp_path / "out.pcap"
    trace.write_text("\n".join(lines) + "\n")
    support.convert(trace, pcap)
    segments = [(segment.sport, str(segment.flags), bytes(segment.payload))
                for _index, segment, _key, _declared in support.tcp_segments(pcap)]
    assert sorted(sport for sport, flags, _payload in segments if flags == "S") == [40000, 40002]
    assert [payload for _sport, _flags, payload in segments if payload] == [b"A", b"ok", b"B"]


def test_a_copys_close_goes_out_at_the_end_if_its_keeper_is_not_seen_again(tmp_path):
    """strace -qq leaves exit lines out: the child that keeps the socket
    (its exit not shown) does nothing more, and the parent's close is the
    last the trace shows: its FIN, at the end of input (it was lost).  A
    connect in progress meanwhile (its handshake waits for its port) once
    made the converter fail on the close kept."""
    other = "9<TCP:[127.0.0.1:40005->127.0.0.1:2223]>"
    rows, _summary = server_segments(tmp_path, [
        ACCEPT, write(100, 0.1, b"hello"), FORK, write(101, 0.25, b"x"), close(100, 0.3),
        call(100, 0.4, 'connect(9<TCP:[77]>, {sa_family=AF_INET, sin_port=htons(2223), '
                       'sin_addr=inet_addr("127.0.0.1")}, 16) = -1 EINPROGRESS (Operation '
                       'now in progress)'),
        call(100, 0.5, "write(%s, %s, 1) = 1" % (other, support.xx_string(b"y")))])
    assert rows == [(0.1, "PA", b"hello"), (0.25, "PA", b"x"), (0.3, "FA", b"")]


def test_a_copys_close_let_out_at_the_end_is_a_fin_after_what_the_peer_sent(tmp_path):
    """The peer (traced too) writes after the parent's close of its copy,
    the child keeping it; the trace ends there (cut, or strace -qq): the
    kept close goes out as a FIN after those bytes, not a RST answering
    them (a cut nginx trace had its worker's channel end reset so)."""
    client = "5<TCP:[127.0.0.1:40000->127.0.0.1:2222]>"
    rows, _summary = server_segments(tmp_path, [
        ACCEPT, write(100, 0.1, b"hello"), FORK, write(101, 0.25, b"x"), close(100, 0.3),
        call(200, 0.5, "write(%s, %s, 4) = 4" % (client, support.xx_string(b"late")))])
    assert rows == [(0.1, "PA", b"hello"), (0.25, "PA", b"x"), (0.5, "FA", b"")]


def passing(pid, time, name, fd, unix, flags="0"):
    """A ``name`` (sendmsg or recvmsg) line of ``pid`` on the unix socket
    ``unix`` passing the connection, as ``fd``, with SCM_RIGHTS."""
    return call(pid, time, "%s(%s, {msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base="
                     '"\\x01", iov_len=1}], msg_iovlen=1, msg_control=[{cmsg_len=20, '
                     "cmsg_level=SOL_SOCKET, cmsg_type=SCM_RIGHTS, cmsg_data=[%d<TCP:"
                     "[127.0.0.1:2222->127.0.0.1:40000]>]}], msg_controllen=24, msg_flags=0}"
                     ", %s) = 1" % (name, unix, fd, flags))


SENT = passing(100, 0.2, "sendmsg", 4, "6<UNIX-STREAM:[1001->1002]>")
RECEIVED = passing(300, 0.21, "recvmsg", 9, "7<UNIX-STREAM:[1002->1001]>", "MSG_CMSG_CLOEXEC")
WORKER_SOCKET = "9<TCP:[127.0.0.1:2222->127.0.0.1:40000]>"


@pytest.mark.parametrize("passed", [[SENT, RECEIVED], [RECEIVED, SENT]],
                         ids=["sent-first", "received-first"])
def test_a_close_after_passing_the_socket_to_a_worker_sends_no_fin(tmp_path, passed):
    """The server hands the connection to a worker process with
    SCM_RIGHTS (the worker's recvmsg may end first in the trace) and
    closes its copy; the worker writes 2.8 s later and closes: one FIN,
    at the worker's close (the server's came 2 s after its own, the
    worker's bytes after it)."""
    worker_write = call(300, 3.0, "write(%s, %s, 5) = 5" % (WORKER_SOCKET,
                                                           support.xx_string(b"world")))
    rows, summary = server_segments(tmp_path, [
        ACCEPT, write(100, 0.1, b"hello"), *passed, close(100, 0.3), worker_write,
        call(300, 3.1, "close(%s) = 0" % WORKER_SOCKET)])
    assert rows == [(0.1, "PA", b"hello"), (3.0, "PA", b"world"), (3.1, "FA", b"")]
    assert "1 close (or exit) of one copy of a socket another process keeps" in summary


def test_a_passed_socket_is_an_event_of_each_end():
    """The sendmsg and the recvmsg that pass a TCP socket give an event
    for it beside their own (the general reader's, the common one steps
    aside): ``passed``, the fd in that process, the connection's ends."""
    parser = StraceParser()
    events = [event for line in (SENT, RECEIVED) for event in parser.parse(line)]
    passed = [(event["pid"], event["fd"], event["passed"], event["local"], event["remote"])
              for event in events if "passed" in event]
    ends = (("127.0.0.1", 2222), ("127.0.0.1", 40000))
    assert passed == [(100, 4, "out", *ends), (300, 9, "in", *ends)]
    assert [event["payload"] for event in events if "passed" not in event] == [b"\x01"] * 2


def test_the_senders_close_after_the_workers_is_the_sockets(tmp_path):
    """The worker answers and closes first, its process lives on; the
    server's close of the fd it passed comes after: the socket's last
    close, its FIN (it waited for the worker's exit, as if the worker
    still held a copy)."""
    worker_write = call(300, 0.25, "write(%s, %s, 5) = 5" % (WORKER_SOCKET,
                                                            support.xx_string(b"world")))
    rows, _summary = server_segments(tmp_path, [
        ACCEPT, write(100, 0.1, b"hello"), SENT, RECEIVED, worker_write,
        call(300, 0.26, "close(%s) = 0" % WORKER_SOCKET), close(100, 0.3),
        "300 1795659605.000000 +++ exited with 0 +++"])
    assert rows == [(0.1, "PA", b"hello"), (0.25, "PA", b"world"), (0.3, "FA", b"")]


def test_the_workers_close_leaves_the_senders_copy(tmp_path):
    """The worker answers and closes first; the server closes the fd it
    passed 4 s later, past the FIN hold: the worker's close ended its
    copy only (helper W's Python server, with its close 1.5 s later: the
    summary did not count it), the server's is the FIN."""
    worker_write = call(300, 0.25, "write(%s, %s, 5) = 5" % (WORKER_SOCKET,
                                                            support.xx_string(b"world")))
    rows, summary = server_segments(tmp_path, [
        ACCEPT, write(100, 0.1, b"hello"), SENT, RECEIVED, worker_write,
        call(300, 0.26, "close(%s) = 0" % WORKER_SOCKET), close(100, 4.3)])
    assert rows == [(0.1, "PA", b"hello"), (0.25, "PA", b"world"), (4.3, "FA", b"")]
    assert "1 close (or exit) of one copy of a socket another process keeps" in summary


def test_a_worker_that_gets_the_socket_after_the_senders_close_closes_it(tmp_path):
    """The server's close ends before the worker's recvmsg does (the
    order the e2e test's race may print): the worker's pass has no sender
    (a TypeError at its close, the copies' rule comparing with the unknown
    send's time), and the worker's close is the socket's."""
    received = passing(300, 0.31, "recvmsg", 9, "7<UNIX-STREAM:[1002->1001]>")
    worker_write = call(300, 3.0, "write(%s, %s, 5) = 5" % (WORKER_SOCKET,
                                                           support.xx_string(b"world")))
    rows, _summary = server_segments(tmp_path, [
        ACCEPT, write(100, 0.1, b"hello"), SENT, close(100, 0.3), received, worker_write,
        call(300, 3.1, "close(%s) = 0" % WORKER_SOCKET)])
    assert rows == [(0.1, "PA", b"hello"), (3.0, "PA", b"world"), (3.1, "FA", b"")]


STDOUT = "1<TCP:[127.0.0.1:2222->127.0.0.1:40000]>"
VFORK = "100 1795659600.200000 vfork( <unfinished ...>"
VFORK_RETURNS = "100 1795659600.230000 <... vfork resumed>) = 101 <0.030000>"
SPAWNED = [call(101, 0.21, "dup2(%s, 1</dev/pts/0>) = %s" % (SOCKET, STDOUT)),
           call(101, 0.22, 'execve("/bin/sh", ["sh", "-c", "sleep 3; echo x"], '
                           '0x7ffd0 /* 1 var */) = 0')]


def stdout_write(time, payload):
    return call(101, time, "write(%s, %s, %d) = %d" % (STDOUT, support.xx_string(payload),
                                                      len(payload), len(payload)))


@pytest.mark.parametrize("noise", [(), (1400,), (1400, 1340)],
                         ids=["one-block", "sieved", "return-in-a-later-block"])
def test_a_vfork_childs_exit_leaves_the_parents_copy(tmp_path, noise):
    """Python's subprocess.Popen(stdout=sock): the vfork's child dup2s the
    socket onto its stdout and execs, all before the vfork returns; it
    writes and exits; the parent closes 3 s later.  The child's first
    socket call came before its creation showed: its exit took the
    socket's FIN, 3 s early and from the wrong process.  Past the first
    64 KiB block the parse sieves the lines: the creation is found in the
    block the child was met in, and in a later one (1340 lines of 47
    characters: the vfork's first half within the 64 KiB looked at)."""
    lines = [ACCEPT, VFORK, *SPAWNED, VFORK_RETURNS]
    for at, count in reversed(list(zip((1, 4), noise))):
        time = float(lines[at - 1].split()[1]) - 1795659600
        lines[at:at] = [call(102, time, "getpid() = 102")] * count
    rows, summary = server_segments(tmp_path, lines + [
        stdout_write(0.25, b"x\n"), "101 1795659600.260000 +++ exited with 0 +++",
        close(100, 3.3)])
    assert rows == [(0.25, "PA", b"x\n"), (3.3, "FA", b"")]
    assert "1 close (or exit) of one copy" in summary


@pytest.mark.parametrize("creation", [[VFORK], [FORK]], ids=["vfork", "fork"])
def test_a_spawned_programs_stdout_keeps_the_socket_open(tmp_path, creation):
    """The child dup2s the socket onto its stdout (no close-on-exec) and
    execs; the parent closes its copy; the program answers 3 s later and
    exits (helper Y's Popen(stdout=sock), Go's os/exec, posix_spawn): the
    FIN at its exit.  It came at the parent's close (the exec'd child was
    taken to hold none of its sockets), the answer after it, a sequence
    number late."""
    lines = [ACCEPT, *creation, *SPAWNED]
    if creation == [VFORK]:
        lines.append(VFORK_RETURNS)
    rows, summary = server_segments(tmp_path, lines + [
        close(100, 0.3), stdout_write(3.0, b"x\n"),
        "101 1795659603.100000 +++ exited with 0 +++"])
    assert rows == [(3.0, "PA", b"x\n"), (3.1, "FA", b"")]
    assert "1 close (or exit) of one copy" in summary


def test_a_spawned_program_passed_the_socket_keeps_it_open(tmp_path):
    """Popen(pass_fds=[4]): the vfork's child clears the socket's
    close-on-exec with fcntl and execs; the program writes on fd 4 3 s
    after the parent closed its copy, and exits: the FIN at its exit (it
    came at the parent's close, the bytes after it a sequence number late)."""
    rows, summary = server_segments(tmp_path, [
        ACCEPT, VFORK, call(101, 0.21, "fcntl(%s, F_SETFD, 0) = 0" % SOCKET), SPAWNED[1],
        VFORK_RETURNS, close(100, 0.3), write(101, 3.0, b"x\n"),
        "101 1795659603.100000 +++ exited with 0 +++"])
    assert rows == [(3.0, "PA", b"x\n"), (3.1, "FA", b"")]
    assert "1 close (or exit) of one copy" in summary


@pytest.mark.parametrize("child_lines, fin_at", [
    ([], 1.3),
    (['101 1795659600.210000 execve("/nonexistent", ["x"], 0x7ffd0 /* 1 var */) = -1 '
      'ENOENT (No such file or directory) <0.000010>'], 1.3),
    (['101 1795659600.210000 execve("/bin/sleep", ["sleep", "1"], 0x7ffd0 /* 1 var */) = 0 '
      '<0.000300>'], 0.3)], ids=["silent", "exec-failed", "execd"])
def test_a_silent_forked_child_keeps_the_socket_until_its_exit(tmp_path, child_lines, fin_at):
    """A server forks a helper that never touches the connection (a leaked
    fd), closes its copy, and the helper exits 1 s later: the kernel's FIN
    comes at the helper's exit (helper Y's os.fork() + sleep; it came at
    the parent's close, the child met at no socket call).  A child that
    exec'd (close-on-exec) held none: the parent's close is the FIN."""
    rows, summary = server_segments(tmp_path, [
        ACCEPT, write(100, 0.1, b"hello"), FORK, *child_lines, close(100, 0.3),
        "101 1795659601.300000 +++ exited with 0 +++"])
    assert rows == [(0.1, "PA", b"hello"), (fin_at, "FA", b"")]
    assert ("1 close (or exit) of one copy" in summary) == (fin_at > 1)


def test_a_childs_exec_closes_its_close_on_exec_socket(tmp_path):
    """A Perl server's child writes its answer and execs (its sockets
    close-on-exec); the parent had closed its copy: the FIN at the exec
    (helper A2), not at the exec'd program's exit 3 s later."""
    rows, summary = server_segments(tmp_path, [
        ACCEPT, FORK, write(101, 0.21, b"answer"), close(100, 0.22),
        call(101, 0.25, 'execve("/bin/sleep", ["sleep", "3"], 0x7ffd0 /* 1 var */) = 0'),
        "101 1795659603.300000 +++ exited with 0 +++"])
    assert rows == [(0.21, "PA", b"answer"), (0.25, "FA", b"")]
    assert "1 close (or exit) of one copy" in summary


def test_a_background_job_of_a_spawned_shell_keeps_its_socket(tmp_path):
    """socat EXEC's shell (stdin and stdout the connection) answers and
    exits, its background subshell closes stdin and writes on stdout 3 s
    later (helper A2): the FIN at the subshell's exit.  It came at its
    close of stdin, the late bytes a sequence number past it."""
    stdin = STDOUT.replace("1<", "0<")
    subshell = ("101 1795659600.260000 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|"
                "CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f0000000a10) = 102 <0.000100>")
    rows, summary = server_segments(tmp_path, [
        ACCEPT, FORK, *SPAWNED[:1], call(101, 0.215, "dup2(%s, 0</dev/null>) = %s"
                                         % (SOCKET, stdin)), SPAWNED[1], close(100, 0.23),
        stdout_write(0.25, b"x\n"), subshell, "101 1795659600.270000 +++ exited with 0 +++",
        call(102, 0.28, "close(%s) = 0" % stdin),
        call(102, 3.0, "write(%s, %s, 5) = 5" % (STDOUT, support.xx_string(b"late\n"))),
        "102 1795659603.100000 +++ exited with 0 +++"])
    assert rows == [(0.25, "PA", b"x\n"), (3.0, "PA", b"late\n"), (3.1, "FA", b"")]

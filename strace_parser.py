"""strace text -> socket events.

Input: the lines strace writes with ``-f -ttt -T -yy -xx``, and every
lighter dialect strace 6.x prints: no pid column, ``[pid N]`` prefixes,
``N<comm>`` pids (``--decode-pids=comm``), ``-ttt``/nanosecond epoch times,
``-tt``/``-t`` clock times (on the ``date`` given, rolling over midnight),
``-r`` relative times, no times, no ``-T``, strings printed with ``-xx``,
``-x`` or strace's default C escapes, argument names (``-N``:
``read(fd=3, buf="...", count=4)``), and fds annotated with ``-yy``, with ``-y``
(``3<socket:[56888]>``) or not at all: then a ``SocketTable`` learns which
fds are sockets, and their addresses, from socket/bind/connect/accept lines.
Also ``-n`` and ``-i`` (``[  42]``, ``[00007f09d34597c0]`` before the name),
``-X raw``/``-X verbose`` sockaddrs, and the extra lines of ``-k`` (stack
frames) and ``-e read=``/``-e write=`` (hex dumps), counted as such.

``StraceParser.parse(line)`` returns a list of zero or more event dicts; most
lines give none.  ``parse_packed(line)`` gives the event of a common data
line as a tuple instead, which ``unpack_event`` makes the dict.  Lines that
give none are counted by reason in ``StraceParser.skipped`` (a
``collections.Counter``), with the first few kept, numbered, in
``StraceParser.examples``.

An event dict holds:

=============  ==============  ==================================================
key            type            meaning
=============  ==============  ==================================================
pid            int             thread id from the pid column (0 when absent)
comm           str | None      the process name of ``--decode-pids=comm``
time           float           epoch seconds when the syscall started (without
                               timestamps: midnight of ``date`` + 1 us per line)
duration       float | None    seconds the syscall took (``-T``), else None
resumed_at     float           (only a call strace split, ``<unfinished ...>``
                               and ``<... resumed>``) its resumed line's time:
                               after the first line of any other call whose
                               bytes it read (strace prints a call's first
                               line when the call begins)
syscall        str             ``read``, ``sendto``, ``close``, ``accept4``, ...
fd             int             the socket's file descriptor
protocol       str             the ``-yy`` protocol: ``TCP``, ``TCPv6``, ``UDP``,
                               ``UDPv6``, ``UNIX-STREAM``, ``UNIX-DGRAM``, ``UNIX``
direction      str | None      ``"out"`` (data written), ``"in"`` (data read),
                               None for state syscalls (connect, close, ...)
result         int             the return value (bytes moved for data syscalls)
payload        bytes           the bytes strace printed, clipped to ``length``
length         int             bytes the syscall really moved; more than
                               ``len(payload)`` when ``-s`` cut the string
pieces         list            (only a writev/sendmsg with a piece -s cut and
                               one printed after it) ``[(printed bytes,
                               size)]`` of every piece: ``payload`` ends at the
                               cut, these hold the later pieces too
session        int             per pid+fd counter, +1 after each close of the fd
local          (str, int)|None this end's address and port, when known (without
                               -yy, a 192.0.2.x placeholder for a connected
                               TCP socket whose own address the trace never shows)
remote         (str, int)|None the peer's address and port, when known
inode          int | None      the socket inode (always for UNIX, and for INET
                               sockets strace prints before they are connected)
peer_inode     int | None      the peer socket's inode (UNIX stream sockets)
path           str | None      the UNIX socket path, decoded (abstract: ``@name``):
                               the socket's own name from the annotation, for
                               connect the ``sun_path`` it was given
peer_path      str | None      UNIX datagrams: the ``sun_path`` of
                               sendto/recvfrom/sendmsg/recvmsg's sockaddr
error          str | None      ``EINPROGRESS`` for a non-blocking connect (or
                               TCP Fast Open send: direction None);
                               ``ECONNRESET`` for a TCP read, write or
                               getsockopt(SO_ERROR) that met or tells the
                               peer's RST (direction None, no bytes);
                               ``ECONNREFUSED`` for a TCP connect refused, or
                               a TCP read, write or getsockopt(SO_ERROR) that
                               tells a non-blocking connect's refusal
                               (direction None);
                               ``ETIMEDOUT`` for a TCP connect or
                               getsockopt(SO_ERROR) telling it timed out;
                               None for a getsockopt(SO_ERROR) telling a
                               connect in progress was answered
how            str | None      shutdown's ``SHUT_RD`` / ``SHUT_WR`` / ``SHUT_RDWR``;
                               ``SO_LINGER 0`` for a TCP setsockopt that makes
                               the socket's close() send a RST (the only
                               setsockopt giving an event)
=============  ==============  ==================================================

A data syscall gives one event (readv/writev/sendmsg/recvmsg concatenate
their iovec pieces), sendmmsg/recvmmsg one event per message.  ``read``
returning 0 gives an event with an empty payload: the peer closed its side.
``accept``/``accept4`` give an event for the *new* fd (its annotation carries
the connection), ``connect`` an event whose ``remote`` is the sockaddr it was
given, ``socketpair`` one event per end.

With ``StraceParser(process_events=True)``, successful execve, execveat,
clone, clone3, fork and vfork lines also give an event, whose ``protocol``
is ``PROCESS`` (``"process"``); it holds pid, time, syscall, result and:

=============  ==============  ==================================================
comm           str | None      execve: the basename of argv[0] (of the path
                               when argv is empty); None for the others
child          int | None      clone/fork: the new thread's or process's id
thread         bool            clone with CLONE_THREAD: the child is a thread
                               of the caller's process
shares_fds     bool            clone with CLONE_FILES: the child shares the
                               caller's fds (a thread); else it has copies
in_flight      bool            True for the ``<unfinished ...>`` half of a
                               clone/fork (time, result and child None): its
                               child may print lines before the clone returns
=============  ==============  ==================================================

Without ``process_events``, a thread met in a socket call for the first
time gets the process event of the clone or fork that made it, just
before that call's events, where the text before that call shows it (see
``fork_finder``; lines given by ``lines_to_parse`` only): forked
processes' closes of the sockets they inherited end copies, not the
sockets.

Exit lines (``+++ exited with 0 +++``, ``+++ killed by SIGKILL +++``) give an
event whose ``protocol`` is ``EXITED`` (``"exited"``), with pid, comm, time,
syscall ``"exit"`` and ``alone``: True for a thread that ended alone (its
line before is its exit() call, as ``StraceParser.lines_to_parse`` tells),
whose process's sockets stay open; else the kernel closes the sockets of
the process, which ended.

Example::

    >>> p = StraceParser()
    >>> [e] = p.parse('3104  1795659371.610672 sendto(5<TCP:[127.0.0.1:36234->'
    ...               '127.0.0.1:18080]>, "\\\\x68\\\\x69", 2, MSG_NOSIGNAL, NULL, 0)'
    ...               ' = 2 <0.000069>')
    >>> e['payload'], e['local'], e['remote'], e['direction']
    (b'hi', ('127.0.0.1', 36234), ('127.0.0.1', 18080), 'out')
"""

import re
from collections import Counter
from datetime import date as Date

from fork_finder import ForkFinder
from socket_table import SocketTable, socket_protocol
from strace_values import (SOCKET_INODE_PREFIXES, Clock, annotation_fields, decode_string,
                           iovec_payload, is_socket_annotation, parse_sockaddr,
                           parse_unix_path, process_name, program_name, read_string,
                           socket_inode, written_pieces)

OUT, IN = "out", "in"

DATA_SYSCALLS = {
    "read": IN, "recv": IN, "recvfrom": IN, "recvmsg": IN, "readv": IN,
    "recvmmsg": IN,
    "write": OUT, "send": OUT, "sendto": OUT, "sendmsg": OUT, "writev": OUT,
    "sendmmsg": OUT,
    # The file's bytes go from the page cache to the socket: strace shows
    # how many, never which; the event has the length and no payload.
    "sendfile": OUT, "sendfile64": OUT,
    # Bytes moved between a socket and a pipe (haproxy, proxies): "in"
    # when the socket is fd_in, "out" when it is fd_out; no payload either.
    "splice": IN,
}
UNSEEN_PAYLOAD_SYSCALLS = {"sendfile", "sendfile64", "splice"}
IOVEC_SYSCALLS = {"readv", "writev", "sendmsg", "recvmsg"}
MESSAGES_SYSCALLS = {"sendmmsg", "recvmmsg"}
# The calls that pass fds to another process (SCM_RIGHTS): an event per TCP
# socket passed, its "passed" OUT where sent, IN where received.
PASSING_SYSCALLS = {"sendmsg": OUT, "recvmsg": IN}
STATE_SYSCALLS = {"close", "shutdown", "connect", "accept", "accept4", "socketpair",
                  "setsockopt", "getsockopt"}
# A non-blocking connect's outcome, as getsockopt(SO_ERROR) tells it: the
# only getsockopt lines parsed, the others are dropped by these marks.  A
# failure (of those, the errors that give an event: a refusal, a time-out);
# while a connect is in progress (EINPROGRESS) an answer too, "[0]" (the
# bench's noise is full of these: 20 000 lines in noise x0.2).
SO_ERROR_MARK = "SO_ERROR, [E"
SO_ERROR_ANY = "SO_ERROR, ["
SO_ERROR_ANSWERED = "SO_ERROR, [0]"
CONNECT_FAILURES = ("ECONNREFUSED", "ETIMEDOUT")
# Or, on a connection, the peer's RST (nginx asks after a sendfile the
# client reset).
SO_ERROR_FAILURE = re.compile(r"SO_ERROR, \[(%s)\]"
                              % "|".join(CONNECT_FAILURES + ("ECONNRESET",)))
CONNECTING_KEPT = 4096
# Calls that make sockets out of no socket the table knows.
OPENING_CALLS = {"socketpair", "accept", "accept4"}
# (See StraceParser._describe_from_table.)
OPEN_FROM_NEXT = -1
# Calls of strace's %network class that give no event: their lines are in
# a trace recorded with -e trace=%network (see ``network_lines``).
NETWORK_CLASS_OTHERS = frozenset({"listen", "getsockname", "getpeername", "getsockopt"})
# strace's %network class (-e trace=network): no read, write or close.
NETWORK_CLASS = NETWORK_CLASS_OTHERS | {
    "socket", "socketpair", "bind", "connect", "accept", "accept4", "setsockopt", "shutdown",
    "send", "sendto", "sendmsg", "sendmmsg", "recv", "recvfrom", "recvmsg", "recvmmsg"}
# What strace prints for a call a signal interrupted ("= ? ERESTARTSYS").
RESTARTED = ("ERESTARTSYS", "ERESTARTNOINTR", "ERESTARTNOHAND", "ERESTART_RESTARTBLOCK")
SOCKET_SYSCALLS = DATA_SYSCALLS.keys() | STATE_SYSCALLS
# Lines that give no event but tell the SocketTable which fds are sockets,
# for traces without -yy, and which threads share their fds.
# Syscalls whose socket fd is in the return value or further in the arguments.
FD_IN_RESULT = {"accept", "accept4", "socketpair"}
SETUP_SYSCALLS = {"socket", "bind", "getsockname", "clone", "clone3", "fork", "vfork",
                  "dup", "dup2", "dup3", "fcntl", "fcntl64"}
# dup2 and dup3 close their target fd first, if open (see _closed_by_dup),
# whose argument follows the source's: an annotation ends at its "]>" (or
# a file's ">", after a device's own "<char 1:3>" under -yy), which a
# path's hex escapes cannot hold.
REPLACING_DUPS = {"dup2", "dup3"}
DUP_ARGUMENT = r"(?P<%s>\d+)(?:<[^>]*:\[.*?\]>|<[^<>]*(?:<[^<>]*>)?>)?"
DUP_FDS = re.compile(r"(?P<source>%s),\s*(?P<target>%s)\s*[,)]"
                     % (DUP_ARGUMENT % "source_fd", DUP_ARGUMENT % "target_fd"))
DUP_SYSCALLS = {"dup", "dup2", "dup3", "fcntl", "fcntl64"}
# A dup's new fd on a TCP socket, after " = ": an event (see _state_event).
TCP_DUP_RESULT = re.compile(r" = \d+<TCP(?:v6)?:\[")
# fcntl clearing a TCP socket's close-on-exec (Python's Popen(pass_fds=)
# in its child): the fd stays open across an exec, as a dup2's.
CLOEXEC_CLEARED = re.compile(r"\(\d+<TCP(?:v6)?:\[.*\]>, F_SETFD, 0\) = 0\b")
SOCKET_PROTOCOLS = {"TCP", "TCPv6", "UDP", "UDPv6", "UNIX-STREAM", "UNIX-DGRAM", "UNIX"}
# Sockets of kinds not converted whose data syscalls are counted by kind
# (ping's ICMP goes through RAW or PING sockets), not as "not a socket".
# NETLINK is left with the rest: it talks to the kernel, not to a network.
UNCONVERTED_SOCKET_KINDS = {"RAW", "RAWv6", "PING", "PINGv6", "UDPLITE", "UDPLITEv6", "SCTP",
                            "SCTPv6", "DCCP", "DCCPv6", "MPTCP", "MPTCPv6", "PACKET"}
UNCONVERTED = "socket: not converted"
# Syscalls that name a process (execve) or make one inherit its parent's
# name (clone & co.); parsed only with ``StraceParser(process_events=True)``.
EXEC_SYSCALLS = {"execve", "execveat"}
PROCESS_SYSCALLS = EXEC_SYSCALLS | {"clone", "clone3", "fork", "vfork"}
# What a -yy trace must hold for the converter (strace2pcap.sh traces these):
# the socket calls, a dup2() or dup3() onto a socket (it closes it: the
# JDK's close), dup() and fcntl() (a socket's copy in the same process,
# F_DUPFD as bash's /dev/tcp makes it; F_SETFD 0 keeps it across an exec),
# a thread's exit() (it ended alone, its sockets stay open: see
# _exit_lines), and for process names the calls that start processes.
TRACED_SYSCALLS = (SOCKET_SYSCALLS | REPLACING_DUPS | {"dup", "fcntl", "fcntl64", "exit"}
                   | PROCESS_SYSCALLS)
CLONE_SYSCALLS = {"clone", "clone3", "fork", "vfork"}
PROCESS = "process"
# The protocol of the event of a process's exit line (see ``StraceParser._exit_lines``).
EXITED = "exited"
# The protocol of the event of a send on a socket left unfinished: its
# packet will have the start time of this line, though other threads'
# complete lines come before its resumed half (see ``_hold_first_half``).
SEND_PENDING = "send pending"
SEND_SYSCALLS = {name for name, direction in DATA_SYSCALLS.items() if direction == OUT}
# Writes whose iovec pieces -s cuts one by one: an event's ``pieces`` keep
# the ones printed after a cut one, at their place.
WRITTEN_PIECES = {"writev", "sendmsg"}

EXAMPLES_KEPT = 5
# -k prints the stack of each syscall after it, a frame a line: " > /lib/...";
# -e read=/write=SET the data in hex after the syscall: " | 00000  47 45 ...".
STACK_FRAME = "stack frame line (-k)"
DATA_DUMP = "hex dump line (-e read=, -e write=)"
# A call strace let go of mid-way (strace -p stopped with Ctrl-C, timeout).
DETACHED = "calls cut by strace's detach (<detached ...>): what they moved is not shown"
# A read of a socket's error queue returns what the kernel queued about the
# socket's own sends (an ICMP error, a transmit timestamp with the packet
# sent, a zerocopy completion: often 0 bytes), not data from its peer.
ERROR_QUEUE = "reads of a socket's error queue (MSG_ERRQUEUE): its own errors and timestamps"
DUMP_LINE_STARTS = (" | ", " * ")
RESUMED_NOT_SOCKET = "resumed half of a call not on a socket (or begun before the trace)"
# strace's own messages ("strace: Process 7 attached") in a trace read from
# its standard error, which may also cut a line in two.
STRACE_MESSAGE = "strace's own message, mixed in (strace -o FILE keeps them out)"
# strace -c (and -C, after the trace) prints a table of syscall counts.
SUMMARY_TABLE = "strace -c table of counts"
SUMMARY_TABLE_LINE = re.compile(r"""
    % \ time\ | -+(?:\ -+){4,5}$
    | \s*\d+\.\d+\s+\d+\.\d+\s+\d+\s+\d+(?:\s+\d+)?\s+\w+$
""", re.VERBOSE)
# Skips every trace has; ``examples`` keeps the others (input it could not read).
ORDINARY_SKIPS = {"not a socket syscall", "not a socket", "socket setup", "failed call",
                  "signal or exit line", "interrupted call", RESUMED_NOT_SOCKET, STACK_FRAME,
                  SUMMARY_TABLE,
                  DATA_DUMP, STRACE_MESSAGE}

# The start of every syscall line: optional pid column (``%-5u`` padded, or
# ``[pid N]`` when strace writes to a terminal, or ``N<comm>`` with
# --decode-pids=comm), optional timestamp, -n's syscall number ``[  42]``
# and -i's instruction pointer ``[00007f09d34597c0]``, then ``name(`` or
# ``<... name resumed>``.
LINE_HEAD = re.compile(r"""
    (?:\[pid\s+(?P<bracket_pid>\d+)(?:<(?P<bracket_comm>[^>]*)>)?\]\s+
     | (?P<pid>\d+)(?:<(?P<comm>[^>]*)>)?\s+)?
    (?:(?P<time>\d+\.\d+ | \d\d:\d\d:\d\d(?:\.\d+)?)\s+)?
    (?:\[\s*\d+\]\s+)?(?:\[[0-9a-f?]+\]\s+)?
    (?: (?P<name>\w+)\( | <\.\.\.\s(?P<resumed>\w+)\sresumed>)
""", re.VERBOSE)

# The return value after the last " = ": a number, "?" or a pointer, an
# optional errno name with its text, and the -T duration.
RETURN_VALUE = re.compile(r"""
    (?P<ret>-?\d+|\?|0x[0-9a-f]+)
    (?:<(?P<ret_annotation>[^\[>]*\[.*?\])>)?
    (?:\s(?P<errno>E[A-Z0-9]+)\s\([^)]*\))?
    .*?
    (?:\s<(?P<duration>\d+\.\d+)>)?$
""", re.VERBOSE)

# The socket annotation of a fd under -yy: ``5<TCP:[...]>`` (``fd=5<...>``
# with -N's argument names).
FD_ANNOTATION = re.compile(r"(?:\w+=)?(?P<fd>\d+)<(?P<protocol>[A-Za-z0-9-]+):\[(?P<details>.*?)\]>")
# The first argument when it is not a -yy socket: a bare fd, or one with a
# -y path / ``socket:[inode]`` annotation (hex escaped under -xx).
# A -yy socket annotation's start, for lines cut inside it.
SOCKET_FD_START = re.compile(r"(?:\w+=)?\d+<(?:TCP|UDP|UNIX)")
FD_NUMBER = re.compile(r"(?:\w+=)?\d+")
FD_ARGUMENT = re.compile(r"(?:\w+=)?(?P<fd>\d+)(?:<[^>]*>)?")
# The time column of a line LINE_HEAD rejects (exit and signal lines), for -r.
ANY_LINE_TIME = re.compile(r"(?:\[pid\s+\d+[^\]]*\]\s+|\d+(?:<[^>]*>)?\s+)?(\d+\.\d+)\s")
SOCKETPAIR_FDS = re.compile(r"\[(\d+)[^,\]]*,\s*(\d+)")



MESSAGE_LENGTH = re.compile(r"msg_len=(\d+)")
# The line most socket lines of a -f -ttt -yy trace are: a whole data
# syscall on an annotated socket, read by ``StraceParser._common_data_line``
# with one regex instead of three (a 200-byte write or sendto: 14.1 -> 9.0 us).
# It stops at the annotation's "[": the first "]>" after it, found with
# str.find, ends it (a lazy ".*?" there tried every character: 4% of the
# parsing's instructions on bench small).
COMMON_DATA_LINE = re.compile(r"""
    (?P<pid>\d+)\ +(?P<time>\d+\.\d+)\ (?P<name>
        read|write|recv|send|recvfrom|sendto|readv|writev|recvmsg|sendmsg|sendmmsg|recvmmsg)\(
    (?P<fd>\d+)<(?P<protocol>TCP|TCPv6|UDP|UDPv6|UNIX-STREAM|UNIX-DGRAM|UNIX):\[
""", re.VERBOSE)
# What follows " = " on a common data line: the bytes moved, the -T duration.
COMMON_RETURN = re.compile(r"(\d+)(?: <(\d+\.\d+)>)?")
STRING_SYSCALLS = {"read", "write", "recv", "send", "recvfrom", "sendto"}

# A read of fewer bytes than SMALL_READ that filled its buffer
# (``read(fd, "S", 1) = 1``) is a program reading a header a few bytes at a
# time: OpenSSH its peer's banner, mosquitto MQTT's fixed header, Samba
# the NetBIOS length before each SMB2 request (with recvmsg), Go's cmux the
# 24 bytes that tell HTTP/2 from HTTP/1 (it cut the request line).  The bytes
# came as one segment, and Wireshark's SSH and MQTT dissectors cannot read
# them a byte a packet: such a read is joined with the reads of its socket
# right after it (``StraceParser.join_reads``), each begun within JOIN_GAP
# of the one before and returning within JOIN_WAIT (the data was there;
# a traced read of queued bytes took 3 ms on a loaded machine, 7.5 ms in a
# helper's sshd, whose split banners Wireshark's SSH dissector then did not
# read, 7 of 30 connections; joining one that did wait costs only a segment
# boundary, not a byte).
SMALL_READ = 32
JOIN_GAP = 0.02
JOIN_WAIT = 0.02
JOINABLE_READS = {"read", "recv", "recvfrom", "readv", "recvmsg"}
STREAM_PROTOCOLS = {"TCP", "TCPv6", "UNIX-STREAM"}
# Unix datagram sockets (SOCK_SEQPACKET's too: strace names them "UNIX").
# Their peer's path is the one it bound, whatever path connect() took: a
# symlink (/dev/log) to it made each end's copy a datagram of its own.
UNIX_DATAGRAMS = {"UNIX", "UNIX-DGRAM"}
# The count argument after a read's buffer.
READ_COUNT = re.compile(r",\s*(?:\w+=)?(\d+)")
# recvmsg's buffer sizes.
ASKED_IOV = re.compile(r"iov_len=(\d+)")
# How many pieces an iovec call gave: writev's count after the array, sendmsg's msg_iovlen.
IOV_COUNT = re.compile(r"\],\s*(\d+)|msg_iovlen=(\d+)")
SOCKADDR_SYSCALLS = {"recvfrom", "sendto", "recvmsg", "sendmsg"}
# Sends that connect a TCP socket first when given MSG_FASTOPEN and an address.
FAST_OPEN_SYSCALLS = {"sendto", "sendmsg"}

# What the sieve of ``StraceParser.lines_to_parse`` looks for in a block:
# the "<TCP:[" & co. of a -yy socket annotation, found by its ":" (with
# -ttt and -xx a ":" is rare anywhere else: strings and paths are hex, and a
# one-character str.find runs at memchr speed, where a regex for ":\\["
# scanned every character: bench noise x0.2, the parsing side 0.73 -> 0.66 s),
# and the resumed half of a call.
ANNOTATION_NAMES = frozenset(SOCKET_PROTOCOLS | UNCONVERTED_SOCKET_KINDS | {"socket"})
LONGEST_ANNOTATION_NAME = max(map(len, ANNOTATION_NAMES))
# Blocks whose lines are longer than this on average are split, not
# sieved: searching all their text costs more than a look at each line
# (measured on the bench traces: sieving saves 27% of the instructions at
# 285 characters a line, costs 5% at 508 and 8% at 800; bulk, 140 000
# characters a line: 0.83 -> 0.61 s split).
SIEVE_LONGEST_MEAN_LINE = 400
# What the sieve does with a line by its call's name (see StraceParser._sieve_kind),
# remembered for this many names.
SIEVE_ANNOTATED, SIEVE_NETWORK, SIEVE_SKIPPED = 1, 2, 3
SIEVE_KINDS_KEPT = 4096
# A process syscall, after the time column (the sieve runs on timed traces
# only); the leading space makes it searched in C like a literal.
PROCESS_CALL = re.compile(r" (?:execve|execveat|clone|clone3|fork|vfork)\(")
# Threads remembered as met in a socket call (see StraceParser._with_fork_event)
# before the memory is cleared.
THREADS_MET_KEPT = 1 << 16
# Seconds after a TCP socket's close within which the fork of a thread
# that ends with no socket call is looked for (see StraceParser._silent_child):
# the packetizer holds a close's FIN that long (tcp_flow.FIN_HOLD_SECONDS),
# for a forked child's end to take; looking at every such end cost the parse
# of traces of builds and parallel jobs (1 300 to 1 700 ends) 23-37% more.
SILENT_CHILD_WINDOW = 2.0
# Threads whose latest TCP close is remembered for it, at most.
CLOSERS_KEPT = 1024
# Characters before its end within which such a thread's fork is looked
# for (a helper's trace of a parallel build, 370 MB: 1 206 ends of
# processes near other processes' TCP closes, whose fork the text before
# rarely showed: 0.09 s of its parse's 0.9 s, 0.42 s looking 2 MiB back).
SILENT_CHILD_REACH = 1 << 18
# Characters of the text after a thread's first socket call within which
# the creation that returned it is looked for, when the text before did not
# show it (a vfork's child: see StraceParser._late_creation).
CREATION_REACH = 1 << 20
# Characters of the text after a forked process's first socket call within
# which its execve is looked for: a program forks to run another at once
# (Postfix's master, 3 ms; a search of every block for it would cost the
# parse of a trace of file I/O 40% more).
EXEC_REACH = 1 << 23
# The characters of a line before its call's name, at most (pid, time,
# and -n, -i, [pid N] and -Y's comm columns).
LINE_HEAD_REACH = 160
# Creators of a thread met looked for, at most: its creator's creator if
# that was a thread too, and so on.
CREATORS_FOLLOWED = 4
# Distinct annotations remembered before the memory is cleared.
ANNOTATION_CACHE_SIZE = 4096
UNFINISHED = " <unfinished ...>"
# Characters of the trace before a block kept to find the line before an
# exit line (see StraceParser._exit_lines): a thread's exit() call comes a
# few lines before its "+++ exited", in a block read before it or not.
CONTEXT_KEPT = 4096
# A thread's or process's end: "+++ exited with 0 +++", "+++ killed by SIGKILL +++".
EXIT_MARKS = ("+++ exited with ", "+++ killed by ")
EXIT_LINE = re.compile(r"""
    (?:\[pid\s+(?P<bracket_pid>\d+)(?:<(?P<bracket_comm>[^>]*)>)?\]\s+
     | (?P<pid>\d+)(?:<(?P<comm>[^>]*)>)?\s+)?
    (?:(?P<time>\d+\.\d+ | \d\d:\d\d:\d\d(?:\.\d+)?)\s+)?
    (?:\[\s*\d+\]\s+)?(?:\[[0-9a-f?]+\]\s+)?  # -n, -i (as in LINE_HEAD)
    \+\+\+\ (?:exited\ with\ -?\d+ | killed\ by\ SIG\w+.*)\ \+\+\+$
""", re.VERBOSE)
SHUTDOWN_HOW = re.compile(r"SHUT_(?:RDWR|RD|WR)")
# shutdown's last argument as -X raw prints it.
SHUTDOWN_RAW = re.compile(r",\s*(?:0x)?([012])\s*\)?\s*$")
SHUTDOWN_NAMES = ("SHUT_RD", "SHUT_WR", "SHUT_RDWR")
# The option that makes close() reset a TCP connection instead of ending it.
ABORTIVE_LINGER = re.compile(r"SO_LINGER, \{l_onoff=[1-9]\d*, l_linger=0\}")
ABORTIVE_CLOSE = "SO_LINGER 0"




class StraceParser:
    """Turns strace lines into socket events; see the module docstring."""

    def __init__(self, date=None, process_events=False):
        """``date``: the day (``datetime.date``) clock-time timestamps belong
        to; today (local time) when None.  ``process_events``: also return the
        process events of execve/clone/fork lines (see the module docstring)."""
        self.process_events = process_events
        self.syscalls = SOCKET_SYSCALLS | SETUP_SYSCALLS
        if process_events:
            self.syscalls = self.syscalls | PROCESS_SYSCALLS
        # Only these names: most resumed lines in a trace are futex & co.
        self._resumed_wanted = re.compile(r"<\.\.\. (%s) resumed>" % "|".join(
            sorted(self.syscalls, key=len, reverse=True)))
        self.date = date or Date.today()
        self.date_given = date is not None
        self.clock = Clock(self.date)
        self.untimed = False  # lines without a time column were given one
        self.sockets = SocketTable()
        self.placeholder_addresses = 0
        # Unix stream events without -yy: their peer is unknown.
        self.unix_streams_unannotated = 0
        self.skipped = Counter()
        self.examples = []
        self.truncated_payloads = 0
        self.datagrams_longer_than_read = 0  # MSG_TRUNC: the rest was never read
        # recvmsg/recvmmsg's msg_flags MSG_TRUNC: read in part, its length unknown.
        self.datagrams_read_in_part = 0
        # Messages sendmmsg/recvmmsg moved that strace did not print: -s
        # limits how many entries of an array it prints too.
        self.unprinted_messages = 0
        self.process_lines = 0  # execve/clone/fork lines read for process names
        # Lines skipped as "not a socket syscall" that -e trace=%network prints too.
        self.network_lines = 0
        self.unseen_payloads = 0
        self.unseen_bytes = 0
        self.discarded_reads = 0  # TCP recv(MSG_TRUNC): bytes dropped unread
        self.discarded_bytes = 0
        # errno -> connect() calls on TCP/UDP sockets (-yy) that failed: a
        # capture would show a SYN and a RST, the pcap shows nothing.
        self.failed_connects = Counter()
        self.longest_cut_payload = 0
        # Small reads that filled their buffer in the block being parsed,
        # and the reads joined to one before them (see SMALL_READ).
        self._filled_reads = 0
        # (events, runs) a block ended in: its events from its first run of
        # small reads still open on, and those runs, {(pid, fd, session):
        # (index in events, run)}.
        self._open_runs = None
        # Small reads joined (see join_reads): on TCP sockets, on unix ones.
        self.reads_joined = [0, 0]
        # Lines read (see line_number): counted, or in a sieved block, the
        # lines since _line_start, whose number is counted when asked.
        self._lines = 0
        self._line_start = None
        self._count_block = ""
        self._count_base = 0  # the lines before _count_block
        self._counted_to = 0  # how far its newlines are counted ...
        self._counted_lines = 0  # ... and how many there are
        self._unfinished = {}
        # The pids (as text) of them per syscall name: what the sieve looks
        # for, kept here, not gathered from _unfinished per block (3.4 ms a
        # 64 KiB block at its 100 000 limit).
        self._unfinished_pids = {}
        # fds of TCP connects in progress (EINPROGRESS), until their socket's
        # getsockopt(SO_ERROR) or close: the sieve lets their answers in.
        self._connecting = set()
        # A common data line's event whose payload -s cut, held until the
        # next line: its hex dump lines, if any, hold all its bytes.
        self._cut = None
        self._cut_needed = 0  # the -s that would have kept its payload whole
        self._dump = bytearray()
        self._dump_base = 0  # where the iovec piece being dumped starts
        self._dump_goes_on = False  # its dump may go on at the next block's start
        self.payloads_from_dumps = 0
        self._sessions = {}
        # (protocol, details) of a -yy annotation -> the fields it gives:
        # every syscall of a connection prints the same annotation.
        self._annotation_fields = {}
        self._sockaddrs = {}
        # Set once the trace shows -yy socket annotations: every line that
        # can give an event then holds ":[" or "resumed>" (or is a process
        # syscall), the rest are dropped by two substring searches (parse)
        # or never split out of their block (lines_to_parse).
        self.rejects_unannotated = False
        self._sieve_pays = True
        self._context = ""  # the end of the text before the block (CONTEXT_KEPT)
        self._sieve_kinds = {}  # call name -> what the sieve does with its lines
        self._ended_alone = set()  # pids (as text) whose exit line ends a thread alone
        # Without process events, the creation of each thread that makes a
        # socket call is looked for in the recent text (see fork_finder).
        self._forks = None if process_events else ForkFinder()
        self._threads_met = set()
        # Forked processes met before they called execve, and where in the
        # text: their exec is told (see _exec_of_child), up to EXEC_REACH on.
        self._before_exec = {}
        # Threads met whose creation the text before did not show, and
        # where: it may come after (see _late_creation), up to CREATION_REACH on.
        self._creation_awaited = {}
        self._awaited_count = 0  # of entries made in those two tables
        self._tcp_closers = {}  # thread -> the time of its latest TCP socket's close
        # Where the line lines_to_parse yielded last starts in its block (a
        # sieved block's: _line_start), and its block in the trace's text.
        self._line_at = self._block_offset = 0

    # -- bookkeeping -------------------------------------------------------

    def skip(self, reason, line):
        """Count ``line`` as skipped for ``reason``; keep the first few."""
        self.skipped[reason] += 1
        if len(self.examples) < EXAMPLES_KEPT and reason not in ORDINARY_SKIPS:
            self.examples.append((self.line_number, reason, line[:200]))
        return []

    def unfinished_count(self):
        """Calls still waiting for their ``resumed`` half."""
        return len(self._unfinished)

    def finish(self):
        """Count the calls that never resumed; call once at end of input."""
        lines = self.line_number
        for _start_time, first_half, line_number in self._unfinished.values():
            self.line_number = line_number  # the number skip() keeps with the example
            self.skip("unfinished, never resumed", first_half)
        self.line_number = lines
        self._unfinished.clear()
        self._unfinished_pids.clear()

    # -- lines -------------------------------------------------------------

    @property
    def line_number(self):
        """The lines of the trace read so far, the one ``parse`` took last
        included (its number)."""
        if self._line_start is not None:
            # Counted when asked: a sieved block's lines are numbered for the
            # few skips kept as examples and calls left unfinished, not for
            # every line (35 MB of bench noise: the sieve's instructions -7%).
            self._counted_lines += _newlines(self._count_block, self._counted_to,
                                             self._line_start)
            self._counted_to = self._line_start
            return self._count_base + self._counted_lines + self._lines
        return self._lines

    @line_number.setter
    def line_number(self, number):
        self._line_start = None
        self._lines = number

    def lines_to_parse(self, block):
        """Yield the lines of ``block`` (whole lines joined by "\\n") that
        ``parse`` must see.  Once the trace has shown -yy socket annotations
        (``rejects_unannotated``) that is only the lines of socket syscalls
        with a socket annotation, the resumed halves of those left
        unfinished, and
        with ``process_events`` process syscalls: they are found by
        searching the block, and the others are counted skipped without
        being split out (what makes a trace of mostly short file I/O lines
        fast; a block of long lines is split all the same, see
        SIEVE_LONGEST_MEAN_LINE).  ``line_number`` follows the lines yielded."""
        if self._forks is not None:
            self._block_offset = self._forks.remember(block)
        if not self.rejects_unannotated or not self._sieve_pays:
            # Lines cut out with str.find, which scans like memchr; split()
            # compares every character (bench udp: 3.6% of the instructions).
            self._exit_lines(block)  # tells parse() the threads that ended alone
            if self._before_exec or self._creation_awaited:
                self._awaited_needles()  # (forgets those met too long ago)
            lines = 0
            start = 0
            end = block.find("\n")
            while end >= 0:
                self._line_at = start
                yield block[start:end]
                lines += 1
                start = end + 1
                end = block.find("\n", start)
            self._line_at = start
            yield block[start:]
            self._dump_goes_on = self._cut is not None
            self._sieve_pays = len(block) < SIEVE_LONGEST_MEAN_LINE * (lines + 1)
            self._keep_context(block)
            return
        starts = self._sieve(block)
        first_number = self.line_number
        self._count_block, self._count_base = block, first_number
        self._counted_to = self._counted_lines = 0
        kept = 0
        end = -1  # the line before the block's first ended there
        # A call that -s cut waits for its hex dump (-e read=, -e write=)
        # lines: they follow it, maybe in the next block.
        leading_dump = self._dump_goes_on and block.startswith(DUMP_LINE_STARTS)
        if leading_dump:
            starts.insert(0, 0)
        awaited = self._awaited_count  # (the sieve looked for the lines awaited)
        index = 0
        while index < len(starts):
            start = starts[index]
            index += 1
            if start <= end:
                continue  # a hex dump line yielded already
            end = block.find("\n", start)
            self._line_start, self._lines = start, 0  # parse() counts this line
            yield block[start:end] if end >= 0 else block[start:]
            kept += 1
            if awaited != self._awaited_count and end >= 0:
                # A thread met in this block: its exec or creation may follow.
                awaited = self._awaited_count
                later = set(starts[index:])
                for needle in self._awaited_needles():
                    later.update(_lines_with(block, needle, end))
                starts[index:] = sorted(later)
            while self._cut is not None and end >= 0 and block.startswith(DUMP_LINE_STARTS,
                                                                           end + 1):
                start = end + 1
                end = block.find("\n", start)
                self._line_start, self._lines = start, 0
                yield block[start:end] if end >= 0 else block[start:]
                kept += 1
        # Only a held call whose line (or dump) ended the block can have its
        # dump go on in the next: other lines came between.
        self._dump_goes_on = self._cut is not None and end < 0 and kept > 0
        lines = self._counted_lines + _newlines(block, self._counted_to, len(block)) + 1
        self._sieve_pays = len(block) < SIEVE_LONGEST_MEAN_LINE * lines
        self.skipped["not a socket syscall"] += lines - kept
        self.line_number = first_number + lines
        self._keep_context(block)

    def _awaited_needles(self):
        """What the lines awaited hold: "execve" while a forked process met
        in the last EXEC_REACH characters of the text may call it, ") = TID"
        for each thread met in the last CREATION_REACH whose creation is
        awaited (those met before are forgotten)."""
        needles = []
        if self._before_exec:
            self._before_exec = _met_since(self._before_exec, self._block_offset - EXEC_REACH)
            if self._before_exec:
                needles.append("execve")
        if self._creation_awaited:
            self._creation_awaited = _met_since(self._creation_awaited,
                                                self._block_offset - CREATION_REACH)
            needles += [") = %d" % tid for tid in self._creation_awaited]
        return needles

    def _keep_context(self, block):
        """Keep the last CONTEXT_KEPT characters of the trace read so far."""
        if len(block) >= CONTEXT_KEPT:
            self._context = block[-CONTEXT_KEPT:]
        else:
            self._context = (self._context + "\n" + block)[-CONTEXT_KEPT:]

    def _exit_lines(self, block):
        """The line starts of the exit lines of ``block`` ("+++ exited
        with", "+++ killed by").  The pid of one whose line before it of the
        same pid (in the block, or the CONTEXT_KEPT characters of the trace
        before it) called exit() goes in ``_ended_alone``: that thread ended
        alone, its process and sockets live on.  Any other exit line ends
        its thread with the whole process (exit_group, a signal), or is
        the process's last thread, as far as the trace shows."""
        found = []
        at = block.find("+")  # memchr-fast: exit lines are rare
        while at >= 0:
            if block.startswith(EXIT_MARKS, at):
                start = block.rfind("\n", 0, at) + 1
                found.append(start)
                if _ended_by_exit_call(block, start, at, self._context):
                    self._ended_alone.add(block[start:at].split()[0])
                at = block.find("\n", at)
                if at < 0:
                    break
            at = block.find("+", at + 1)
        return found

    def _sieve(self, block):
        """Sorted start offsets of the lines of ``block`` that may give
        events under -yy (see ``lines_to_parse``)."""
        starts = set()
        # Resumed halves are found by name, only those of calls waiting for
        # them: from the block's start for calls begun before it, from the
        # first half for those begun in it (socketpair's resumed half shows
        # its sockets: found as any annotated line).  A regex search for
        # every name's cost as much as the one for annotations; these finds
        # cut the noise child's instructions by 13%, and starting them at
        # the first half another 8% of its time (0.74 -> 0.68 s, x0.2).
        # Of those, only the lines of the pids waiting (see _ResumedHalves).
        waiting = dict.fromkeys(self._unfinished_pids, 0)
        halves = {name: _ResumedHalves(waiting_pids)
                  for name, waiting_pids in self._unfinished_pids.items()}
        find, rfind = block.find, block.rfind
        kinds, kind_of = self._sieve_kinds, self._sieve_kind
        so_error = SO_ERROR_ANY if self._connecting else SO_ERROR_MARK
        at = find(":")
        while at >= 0:
            if block[at + 1:at + 2] != "[":
                at = find(":", at + 1)
                continue
            start = rfind("\n", 0, at) + 1
            # The name first: most annotated lines of a busy process are
            # poll, epoll_ctl & co. on its sockets (bench noise: 60%), and
            # they go before their annotations are read.  The name is the
            # word before the line's first "(", by finds and a slice, what
            # to do with it looked up once per name (a regex and three set
            # lookups: the sieve's CPU time on bench noise x0.2 0.166 ->
            # 0.146 s, best of 3).
            paren = find("(", start, at)
            if paren < 0:
                name = ""
            else:
                space = rfind(" ", start, paren)
                name = block[space + 1 if space >= 0 else start:paren]
            kind = kinds.get(name) or kind_of(name)
            line_end = find("\n", at) % (len(block) + 1)  # -1: the last line
            annotated_at, at = at, find(":", line_end)  # the line's other annotations add nothing
            if kind != SIEVE_ANNOTATED:
                if kind == SIEVE_NETWORK:
                    self.network_lines += 1
                continue
            opening = _socket_annotation(block, annotated_at, line_end)
            if opening < 0:
                continue
            if name == "getsockopt" and (find(so_error, opening, line_end) < 0
                                         and not block.endswith(UNFINISHED, start, line_end)):
                self.network_lines += 1
                continue
            if name == "connect" and (find("EINPROGRESS", opening, line_end) >= 0
                                      or block.endswith(UNFINISHED, start, line_end)):
                so_error = SO_ERROR_ANY  # its answer may come in this block
            if name and block.endswith(UNFINISHED, start, line_end):
                waiting.setdefault(name, line_end)
                halves.setdefault(name, _ResumedHalves()).wait(block[start:find(" ", start)],
                                                               line_end)
            starts.add(start)
        starts.update(self._exit_lines(block))
        for needle in self._awaited_needles():
            starts.update(_lines_with(block, needle, 0))
        if self.process_events:
            for call in PROCESS_CALL.finditer(block):
                start = block.rfind("\n", 0, call.start()) + 1
                starts.add(start)
                line_end = block.find("\n", start) % (len(block) + 1)
                name = call.group()[1:-1]
                if block.endswith(UNFINISHED, start, line_end):
                    waiting.setdefault(name, line_end)
                    halves.setdefault(name, _ResumedHalves()).wait(
                        block[start:block.find(" ", start)], line_end)
        for name, after in waiting.items():
            resumed = "<... %s resumed>" % name
            awaited = halves[name].awaited
            at = block.find(resumed, after)
            while at >= 0:
                start = block.rfind("\n", 0, at) + 1
                if awaited(block[start:block.find(" ", start)], at):
                    starts.add(start)
                at = block.find(resumed, at + len(resumed))
        return sorted(starts)

    def _sieve_kind(self, name):
        """What the sieve does with a line of the call ``name`` (see
        ``_sieve``): SIEVE_ANNOTATED, look for its socket annotation (a
        socket call, or no name to tell); SIEVE_NETWORK, count it a
        network line; SIEVE_SKIPPED, nothing.  Remembered for names."""
        if not name.isidentifier():
            return SIEVE_ANNOTATED  # not a name: not remembered
        kind = (SIEVE_ANNOTATED if name in self.syscalls
                else SIEVE_NETWORK if name in NETWORK_CLASS_OTHERS else SIEVE_SKIPPED)
        if len(self._sieve_kinds) < SIEVE_KINDS_KEPT:
            self._sieve_kinds[name] = kind
        return kind

    def parse(self, line):
        """Parse one line (without its newline); return a list of event dicts."""
        return [event if type(event) is dict else unpack_event(event)
                for event in self.parse_packed(line)]

    def parse_packed(self, line):
        """``parse``, but the event of a common data line comes packed (see
        ``unpack_event``)."""
        if self._cut is not None:
            if self._dump_line(line):
                self._lines += 1
                self.skip(DATA_DUMP, line)
                return []
            return (self._with_fork_event(self._release_cut())
                    + self._with_fork_event(self._parse_packed(line)))
        events = self._parse_packed(line)
        if events and self._forks is not None:
            first = events[0]
            if (first[0] if type(first) is tuple else first["pid"]) not in self._threads_met:
                return self._with_fork_event(events)
        return events

    def _with_fork_event(self, events):
        """``events``, one line's, after the process event of the fork that
        made their thread if it is met for the first time and the recent
        text shows that fork (see ``fork_finder``)."""
        if not events or self._forks is None:
            return events
        first = events[0]
        if type(first) is tuple:
            tid, protocol = first[0], first[PACKED_PROTOCOL]
        else:
            tid, protocol = first["pid"], first["protocol"]
        if tid in self._threads_met or protocol == EXITED:
            return events
        if len(self._threads_met) >= THREADS_MET_KEPT:
            self._threads_met.clear()  # they may be looked for again
        self._threads_met.add(tid)
        if not tid or self.clock.relative:
            return events  # (-r times tell no fork's time on their own)
        created = []
        # A thread's creator may be a thread of a forked process met no more.
        for depth in range(CREATORS_FOLLOWED):
            found = self._forks.creation_of(tid, self._line_offset())
            if found is None:
                if depth == 0:
                    self._await(self._creation_awaited, tid)
                break
            parent, time, name, flags, execed = found
            created.insert(0, self._creation_event(tid, found))
            if "CLONE_FILES" not in flags or parent in self._threads_met:
                break
            self._threads_met.add(parent)
            tid = parent
        return created + events

    def _silent_child(self, tid, time):
        """[the process event of its fork] if thread ``tid``, ending at
        ``time`` with no socket call, is a process forked from another, and
        not exec'd: it held its parent's sockets (a forked helper keeping a
        leaked fd: the client saw the FIN at its exit, after its parent's
        close), else [].  Looked for only as the child of a thread that
        closed a TCP socket within SILENT_CHILD_WINDOW before."""
        closers = self._tcp_closers
        if not tid or self.clock.relative or not closers:
            return []
        while closers and time - closers[next(iter(closers))] > SILENT_CHILD_WINDOW:
            del closers[next(iter(closers))]
        if not closers:
            return []
        found = self._forks.creation_of(tid, self._line_offset(), closers, SILENT_CHILD_REACH)
        if found is None or found[4] or "CLONE_FILES" in found[3]:
            return []
        return [self._creation_event(tid, found)]

    def _creation_event(self, tid, found):
        """The process event of the creation of thread ``tid`` (``found``:
        what ``ForkFinder.creation_of`` tells of it); a forked process not
        exec'd yet is remembered, its exec awaited."""
        parent, time, name, flags, execed = found
        if not execed and "CLONE_FILES" not in flags:
            self._await(self._before_exec, tid)
        return {"protocol": PROCESS, "pid": parent, "syscall": name, "result": tid,
                "time": time, "comm": None, "child": tid, "in_flight": False,
                "thread": "CLONE_THREAD" in flags, "shares_fds": "CLONE_FILES" in flags,
                "execed": execed}

    def _await(self, table, tid):
        """Remember in ``table`` that thread ``tid`` was met at this line."""
        if len(table) >= THREADS_MET_KEPT:
            table.clear()
        table[tid] = self._line_offset()
        self._awaited_count += 1

    def _late_creation(self, line):
        """The process event of ``line`` if it is the creation (see
        ``ForkFinder.creation_at``) of a thread met before it that the text
        before did not show, within CREATION_REACH; None if not."""
        equals = line.rfind(") = ")
        tid = line[equals + 4:line.find(" ", equals + 4) % (len(line) + 1)]
        met = self._creation_awaited.get(int(tid)) if tid.isdigit() else None
        if met is None or self._line_offset() - met > CREATION_REACH:
            return None
        found = self._forks.creation_at(int(tid), self._line_offset(), met)
        if found is None:
            return None
        del self._creation_awaited[int(tid)]
        return [self._creation_event(int(tid), found)]

    def _line_offset(self):
        """Where the line parsed starts in the trace's text (see ForkFinder)."""
        return self._block_offset + (self._line_at if self._line_start is None
                                     else self._line_start)

    def _dump_line(self, line):
        """Take ``line`` if it is a line of the hex dump (``-e read=``,
        ``-e write=``) of the held cut call: True if so.  (strace prints
        them with the call's line: a call waits at most for the next line.)"""
        if line.startswith(" | "):
            try:
                offset, data = int(line[3:8], 16), bytes.fromhex(line[10:59])
            except ValueError:
                return False
            if offset != len(self._dump) - self._dump_base:
                return False  # a dump of another call (the held one had none)
            self._dump += data
        elif line.startswith(" * ") and "bytes in buffer" in line:
            self._dump_base = len(self._dump)  # an iovec's piece, from offset 0
        else:
            return False
        return True

    def _release_cut(self):
        """The held event whose payload -s cut: with the bytes of its hex
        dump if the trace had one (``-e read=``/``-e write=`` print them
        all, whatever -s), else as it was."""
        event, self._cut = self._cut, None
        dump, self._dump, self._dump_base = self._dump, bytearray(), 0
        packed = type(event) is tuple
        result = event[PACKED_RESULT] if packed else event["result"]
        if len(dump) < result:
            self._count_short(result, True, self._cut_needed)
            return [event]
        self.payloads_from_dumps += 1
        if packed:
            return [event[:PACKED_PAYLOAD] + (bytes(dump[:result]),) + event[PACKED_PAYLOAD + 1:]]
        event["payload"] = bytes(dump[:result])
        event.pop("pieces", None)  # every byte is there
        return [event]

    def _parse_packed(self, line):
        self._lines += 1
        if self._before_exec and line.find("execve", 0, LINE_HEAD_REACH) >= 0:
            events = self._exec_of_child(line)
            if events is not None:
                return events
        if self._creation_awaited and (line.find("fork", 0, LINE_HEAD_REACH) >= 0
                                       or line.find("clone", 0, LINE_HEAD_REACH) >= 0):
            events = self._late_creation(line)
            if events is not None:
                return events
        # The resumed halves of futex & co. go too, before LINE_HEAD (small:
        # 2.7% of the instructions).
        if self.rejects_unannotated and ":[" not in line:
            resumed = "resumed>" in line and self._resumed_wanted.search(line)
            if resumed:
                events = self._common_resumed(line, resumed)
                if events is not None:
                    return events
            elif (not (self.process_events and PROCESS_CALL.search(line))
                  and not line.endswith(" +++")):
                self.skipped["not a socket syscall"] += 1
                return []
        events = self._common_data_line(line)
        if events is not None:
            return events
        other = self.rejects_unannotated and self._other_call(line)
        if other:
            self.skipped["not a socket syscall"] += 1
            self.network_lines += other in NETWORK_CLASS_OTHERS
            return []
        head = LINE_HEAD.match(line)
        if head is None and line.startswith(" "):
            line = line.lstrip()  # -r without a pid column: "     0.000123 read(..."
            head = LINE_HEAD.match(line)
        if head is None:
            return self._skip_headless(line)
        if self.clock.relative is not False:
            self.clock.advance(head.group("time"))
        name = head.group("name") or head.group("resumed")
        if name not in self.syscalls or (name == "getsockopt" and SO_ERROR_ANY not in line
                                         and not head.group("resumed")
                                         and not line.endswith(UNFINISHED)):
            self.network_lines += name in NETWORK_CLASS_OTHERS
            return self.skip("not a socket syscall", line)
        pid = int(head.group("pid") or head.group("bracket_pid") or 0)
        if head.group("resumed"):
            started = self._first_half(pid, name, head, line)
            if started is None:
                # Under -yy the first half of a socket call shows its
                # socket; one without was a file write or the like, dropped.
                return self.skip(RESUMED_NOT_SOCKET if self.rejects_unannotated
                                 else "resumed without its start", line)
            start_time, first_half, _line_number = started
            resumed_at = self._seconds(self._start_time(head))
            line = first_half + line[head.end():]
            events = self._common_data_line(line)
            if events is not None:
                return _resumed_at(events, resumed_at)
        else:
            resumed_at = None
            start_time = self._start_time(head)
            if line.endswith("<unfinished ...>"):
                return self._hold_first_half(pid, name, start_time, line)
            if line.endswith("<detached ...>"):
                return self.skip(DETACHED, line)
            if line.endswith("= ?"):
                return self.skip("interrupted call", line)
        if name in SETUP_SYSCALLS:
            # Closed first, before the socket table moves the copy there.
            closed = (self._closed_by_dup(pid, start_time, name, line, head)
                      if name in REPLACING_DUPS else [])
            try:
                reason = self._note_setup(pid, name, line)
            except ValueError as error:
                reason = "unparseable: %s" % error
            if name in DUP_SYSCALLS and (TCP_DUP_RESULT.search(line, line.rfind(" = "))
                                         or name.startswith("fcntl")
                                         and CLOEXEC_CLEARED.search(line)):
                closed += self._complete(pid, start_time, name, line, head)
            if closed:
                return closed
            if not (self.process_events and name in PROCESS_SYSCALLS):
                return self.skip(reason, line)
        if name in PROCESS_SYSCALLS:
            start_time = self._seconds(start_time)
            if start_time is None:
                return self.skip("unparseable: time", line)
            return self._process_event(pid, start_time, name, line)
        events = self._complete(pid, start_time, name, line, head)
        return events if resumed_at is None else _resumed_at(events, resumed_at)

    def _exec_of_child(self, line):
        """The process event of ``line`` if it is a successful execve or
        execveat (whole, or its resumed half) of a forked process met before
        it (see ``_with_fork_event``): its sockets' copies opened
        close-on-exec are closed, it keeps no copy of them for its parent;
        [] for its first half or a failed one; None for any other line."""
        head = LINE_HEAD.match(line)
        if head is None or (head.group("name") or head.group("resumed")) not in EXEC_SYSCALLS:
            return None
        pid = int(head.group("pid") or head.group("bracket_pid") or 0)
        met = self._before_exec.get(pid)
        if met is None or self._line_offset() - met > EXEC_REACH:
            return None
        equals = line.rfind(" = ")
        returned = RETURN_VALUE.match(line, equals + 3) if equals > 0 else None
        time = self._seconds(self._start_time(head))
        if returned is None or returned.group("ret") != "0" or time is None:
            return self.skip("not a socket syscall", line)  # unfinished, failed
        del self._before_exec[pid]
        return [{"protocol": PROCESS, "pid": pid, "syscall": head.group("name")
                 or head.group("resumed"), "result": 0, "time": time, "comm": None,
                 "child": None, "in_flight": False, "thread": False, "shares_fds": False}]

    def _other_call(self, line):
        """The name of the call of ``line`` if it is plainly one no event
        comes from: the name after its time column, before its first "("
        (none in a string), is not one of ``syscalls``; else None.
        epoll_ctl and poll lines show their sockets' annotations, and are
        most of the lines of an event loop's trace: told without LINE_HEAD
        (40 000 lines of redis-benchmark, 69% epoll_ctl: the parse side's
        instructions -6.8%)."""
        paren = line.find("(")
        space = line.rfind(" ", 0, paren)
        if paren > 0 and space > 0 and line[space - 1].isdigit():
            name = line[space + 1:paren]
            if (name not in self.syscalls and name.isidentifier()
                    and line.find('"', 0, paren) < 0):
                return name
        return None

    def _not_a_socket(self, name, line):
        """Skip ``line``, a call ``name`` on an fd that is no socket
        converted (a netlink socket's, a file's); a call of strace's
        %network class counts as a network line (dnsmasq's netlink
        recvmsg lines hid that a trace had only those)."""
        self.network_lines += name in NETWORK_CLASS
        return self.skip("not a socket", line)

    def _skip_headless(self, line):
        """Count a line that is no syscall (exit, signal, -k, -e read=
        lines, or text strace does not print); advance -r's clock over it."""
        if self.clock.relative:
            time = ANY_LINE_TIME.match(line)
            self.clock.advance(time.group(1) if time else None)
        exited = EXIT_LINE.match(line)
        if exited is not None:
            pid = exited.group("pid") or exited.group("bracket_pid") or "0"
            alone = pid in self._ended_alone
            self._ended_alone.discard(pid)
            tid, time = int(pid), self._time_of_this_line(exited.group("time"))
            forked = ([] if tid in self._threads_met or self._forks is None
                      else self._silent_child(tid, time))
            self._threads_met.discard(tid)  # its id may be another's later
            self._before_exec.pop(tid, None)
            self._creation_awaited.pop(tid, None)
            return forked + [{"protocol": EXITED, "pid": tid, "syscall": "exit", "time": time,
                              "comm": process_name(exited.group("comm")
                                                   or exited.group("bracket_comm")),
                              "alone": alone}]
        if SUMMARY_TABLE_LINE.match(line):
            return self.skip(SUMMARY_TABLE, line)
        if line.startswith(("+++", "---")) or " +++ " in line or " --- " in line:
            return self.skip("signal or exit line", line)
        if line.startswith("> "):  # stripped of its leading blank above
            return self.skip(STACK_FRAME, line)
        if line.startswith("| "):
            return self.skip(DATA_DUMP, line)
        if "strace: " in line:
            return self.skip(STRACE_MESSAGE, line)
        return self.skip("unparseable", line)

    def _hold_first_half(self, pid, name, start_time, line):
        """Keep the ``<unfinished ...>`` half of ``pid``'s call ``name`` for
        its resumed half; return the events it gives now (a clone's in-flight
        process event, SEND_PENDING for a socket send or a shutdown that
        sends a FIN, else none)."""
        if len(self._unfinished) > 100000:
            return self.skip("too many unfinished calls", line)
        self._unfinished_pids.setdefault(name, set()).add(str(pid))
        self._unfinished[(pid, name)] = (start_time, line[:-len(UNFINISHED)], self.line_number)
        # (A shutdown's FIN is stamped at its start too: pika's, left
        # unfinished while another thread read, came after that read's data.)
        if name in SEND_SYSCALLS or name == "shutdown" and ("SHUT_WR" in line
                                                            or "SHUT_RDWR" in line):
            annotation = FD_ANNOTATION.search(line)
            start = self._seconds(start_time)
            if (annotation is not None and annotation.group("protocol") in SOCKET_PROTOCOLS
                    and start is not None):
                return [{"protocol": SEND_PENDING, "pid": pid, "syscall": name, "time": start}]
        if self.process_events and name in CLONE_SYSCALLS:
            # The child's first lines often come before the clone
            # returns: say that a child of ``pid`` is on its way.
            self.process_lines += 1
            return [{"protocol": PROCESS, "pid": pid, "syscall": name, "result": None,
                     "time": None, "comm": None, "child": None, "in_flight": True,
                     "thread": "CLONE_THREAD" in line, "shares_fds": "CLONE_FILES" in line}]
        return []

    def _first_half(self, pid, name, head, line):
        """(start time, text before " <unfinished ...>", line number) of the
        first half of the call whose resumed half is ``line`` (``head`` its
        LINE_HEAD match), taken from those held; None if none is."""
        started = self._unfinished.pop((pid, name), None)
        if started is not None:
            self._resumed(pid, name)
        elif name == "socketpair":
            # Its first half names no socket (the -yy sieve drops it);
            # this half holds both fds with their annotations.
            before = line[:line.rfind("<... ", 0, head.start("resumed"))]
            started = (self._start_time(head), before + "socketpair(", self.line_number)
        return started

    def _resumed(self, pid, name):
        """Count the held first half of ``pid``'s call ``name`` taken."""
        pids = self._unfinished_pids[name]
        pids.discard(str(pid))
        if not pids:
            del self._unfinished_pids[name]

    def _common_resumed(self, line, resumed):
        """The events of ``line``, the resumed half (``resumed``: its
        ``_resumed_wanted`` match, after a plain pid and time column) of a
        common data line held whole, joined with it; else None, and the
        general way reads it (with ``_common_first_half``, the parsing child's
        instructions on 8 MB of bench small -2.4%, of udp -3.9%)."""
        head = line[:resumed.start()].split()
        if len(head) != 2 or not head[0].isdigit():
            return None
        key = (int(head[0]), resumed.group(1))
        started = self._unfinished.get(key)
        if started is None:
            return None
        events = self._common_data_line(started[1] + line[resumed.end():])
        if events is not None:
            del self._unfinished[key]
            self._resumed(*key)
            events = _resumed_at(events, head[1])
        return events

    def _common_first_half(self, line):
        """Hold ``line``, the ``<unfinished ...>`` first half of a common
        data line; return what ``_hold_first_half`` does.  None if it is
        not one."""
        common = COMMON_DATA_LINE.match(line)
        if common is None:
            return None
        pid, time, name, _fd, _protocol = common.groups()
        return self._hold_first_half(int(pid), name, time, line)

    def _common_data_line(self, line):
        """The packed event (in a list) of ``line`` if it is a common data line (see
        ``COMMON_DATA_LINE``; epoch times only, not -r), else None: also when
        it is not as common as it looks (a failed call, a quote escaped in a
        string, MSG_PEEK, ...), and ``parse`` reads it the general way."""
        if self.clock.relative is not False:
            return None  # a -r trace
        equals = line.rfind(" = ")
        if equals < 0:
            return self._common_first_half(line) if line.endswith(UNFINISHED) else None
        common = COMMON_DATA_LINE.match(line)
        if common is None:
            return None
        pid, time, name, fd, protocol = common.groups()
        # The first "]>" ends the annotation, as for FD_ANNOTATION's lazy
        # match: on a mangled line a later "]>, " would give other fields.
        details_end = line.find("]>", common.end())
        if details_end < 0 or not line.startswith(", ", details_end + 2):
            return None
        details = line[common.end():details_end]
        after = details_end + 4
        returned = COMMON_RETURN.fullmatch(line, equals + 3) if equals >= after else None
        if returned is None:
            return None
        try:
            local, remote, inode, peer_inode, path = self._fields_of(protocol, details)
            if name in STRING_SYSCALLS:
                end = line.find('"', after + 1)
                if line[after] != '"' or not after < end < equals or line[end - 1] == "\\":
                    return None
                if name.startswith("recv"):
                    flags = line[end:equals]
                    if "MSG_" in flags and ("MSG_PEEK" in flags or "MSG_ERRQUEUE" in flags or
                                            "MSG_TRUNC" in flags and protocol.startswith("TCP")):
                        return None  # peeked, not data, or TCP's dropped unread: the general way tells
                elif name[0] == "s" and "MSG_OOB" in line:
                    return None  # urgent (or its bytes say so): the general way tells
                payload = decode_string(line[after + 1:end])
                name_at, name_end = line.find("{", end, equals), equals
            elif name in MESSAGES_SYSCALLS:
                if name[0] == "r" and "MSG_ERRQUEUE" in line[line.rfind("]", 0, equals):equals]:
                    return None  # not data: the general way tells
                payload, name_at, name_end = b"", -1, equals  # see _common_messages
            else:
                if name == "recvmsg":
                    # msg_flags, the last field, and the call's flags after it.
                    flags = line[line.rfind("msg_flags=", 0, equals):equals]
                    if "MSG_" in flags and ("MSG_PEEK" in flags or "MSG_ERRQUEUE" in flags
                                            or "MSG_TRUNC" in flags):
                        # Peeked, not data, a datagram read in part or TCP's
                        # dropped unread: the general way tells.
                        return None
                elif name == "sendmsg" and "MSG_OOB" in line:
                    return None  # urgent (or its bytes say so): the general way tells
                if line.find("SCM_RIGHTS", line.rfind('"', 0, equals), equals) >= 0:
                    return None  # fds passed: the general way tells
                pieces = []
                end = after  # no string: not cut by -s (the general way tells)
                base = line.find('iov_base="', after, equals)
                while base >= 0:
                    end = line.find('"', base + 10)
                    if not base < end < equals or line[end - 1] == "\\":
                        return None
                    pieces.append(decode_string(line[base + 10:end]))
                    if line.startswith("...", end + 1):
                        if name in WRITTEN_PIECES and line.find('iov_base="', end, equals) >= 0:
                            return None  # pieces after a cut one: the general way keeps them
                        break  # cut by -s: later pieces' bytes belong further on
                    base = line.find('iov_base="', end, equals)
                payload = b"".join(pieces)
                name_at = line.find("msg_name={", after, equals) if name.endswith("msg") else -1
                name_end = line.find("}", name_at)
            peer_path = None
            if remote is None and name_at >= 0 and name in SOCKADDR_SYSCALLS:
                # One sockaddr kind per family: the other parse would give None.
                if protocol.startswith("UNIX"):
                    peer_path = parse_unix_path(line, name_at, name_end)
                else:
                    remote = self._sockaddr(line[name_at:name_end])
            if peer_path is None and peer_inode is not None and protocol in UNIX_DATAGRAMS:
                peer_path = self.sockets.path_of(peer_inode)
            result, duration = returned.groups()
            pid, fd, result = int(pid), int(fd), int(result)
        except (ValueError, IndexError):
            return None
        if 0 < result < SMALL_READ and name in JOINABLE_READS and protocol in STREAM_PROTOCOLS:
            if name in IOVEC_SYSCALLS:
                return None  # the general way tells if it filled its buffers
            count = READ_COUNT.match(line, end + 1)
            if count is not None and int(count.group(1)) == result:
                return None  # a small read that filled its buffer: the general way marks it
        event = (pid, time, duration, name, result, payload, fd, protocol,
                 self._sessions.get((pid, fd), 0), local, remote, inode, peer_inode, path,
                 peer_path)
        if name in MESSAGES_SYSCALLS:
            return self._common_messages(line, after, equals, event)
        if len(payload) > result:
            return [event[:PACKED_PAYLOAD] + (payload[:result],) + event[PACKED_PAYLOAD + 1:]]
        if len(payload) < result:
            if line.startswith("...", end + 1) and not (name.startswith("recv")
                                                         and "MSG_TRUNC" in line[end:equals]):
                # Cut by -s: the hex dump lines that may follow hold its bytes.
                self._cut, self._cut_needed = event, result
                return []
            if name in IOVEC_SYSCALLS:
                return None  # an iovec array -s cut ("...]"): the general way tells
            self._count_short(result, False)
        return [event]

    def _common_messages(self, line, start, end, event):
        """The event dicts of a common sendmmsg/recvmmsg line, one per
        message moved, as ``_message_events`` makes them (``line[start:end]``
        its arguments after the fd, ``event`` the line's packed event, whose
        result is the count); None if a string does not end (the general
        way tells).  Bench udp's sendmmsg lines: 8.2 -> 6.4 us a message;
        the parsing child's instructions on 8 MB of udp -3.8%."""
        try:
            messages = self._messages(line, start, end, event[PACKED_RESULT],
                                      event[PACKED_REMOTE], event[PACKED_SYSCALL] == "recvmmsg")
        except ValueError:
            return None
        events = []
        for payload, length, remote in messages:
            message = unpack_event(event)
            message["length"], message["remote"] = length, remote
            self._set_payload(message, payload, length)
            events.append(message)
        return events

    def join_reads(self, events):
        """``events`` (a block's, in order; dicts or packed) with each run of
        reads of one socket that began with a small read filling its buffer
        joined into the run's first event: its time, all their bytes (see
        SMALL_READ).  A run ends with a read that did not fill its buffer,
        and before any other event on its socket, a read that waited for
        its data, or one begun more than JOIN_GAP after the one before;
        the events of other sockets (and their runs) go on beside it (an
        MQTT subscriber reads each header a byte at a time while
        publishers' lines come between).  A block's events from its first
        run still open on are held for the next block's (``held_events`` at
        the end of input): where the blocks are cut must not matter."""
        if not self._filled_reads and self._open_runs is None:
            return events
        self._filled_reads = 0
        joined, runs = self._open_runs or ([], {})
        self._open_runs = None
        for event in events:
            if runs:
                read = event if type(event) is dict else unpack_event(event)
                if read["protocol"] == SEND_PENDING:
                    # Another thread's send begun meanwhile: it ends no run,
                    # and goes before them (their first reads came first).
                    first = min(at for at, _run in runs.values())
                    joined.insert(first, read)
                    runs = {key: (at + 1, run) for key, (at, run) in runs.items()}
                    continue
                key = (read["pid"], read.get("fd"), read.get("session"))
                if "peek" in read:
                    # It reads nothing: it ends no run.  One of a run's
                    # socket goes (the run's event takes reads after it).
                    if key not in runs:
                        joined.append(event)
                    continue
                opened = runs.get(key)
                if opened is not None and self._continues(opened[1], read):
                    run = opened[1]
                    run["payload"] += read["payload"]
                    run["length"] += read["length"]
                    run["result"] += read["result"]
                    run["ended"] = read["time"] + (read["duration"] or 0.0)
                    self.reads_joined[read["protocol"] == "UNIX-STREAM"] += 1
                    if not read.get("filled"):
                        del runs[key]
                    continue
                runs = {other: opened for other, opened in runs.items()
                        if not _ends_run(opened[1], read)}
            if type(event) is dict and event.get("filled"):
                event = dict(event, ended=event["time"] + (event["duration"] or 0.0))
                runs[(event["pid"], event["fd"], event["session"])] = (len(joined), event)
            joined.append(event)
        if runs:  # the next block's reads may go on them
            first = min(at for at, _run in runs.values())
            self._open_runs = (joined[first:], {key: (at - first, run)
                                                for key, (at, run) in runs.items()})
            del joined[first:]
        return joined

    def holds_reads(self):
        """True if ``join_reads`` holds a run of small reads that the next
        lines may go on."""
        return self._open_runs is not None

    def held_events(self):
        """The events ``join_reads`` still holds, and a cut one waiting for
        its hex dump (at the end of input)."""
        held, self._open_runs = self._open_runs[0] if self._open_runs else [], None
        cut = [] if self._cut is None else self._release_cut()
        return held + cut

    @staticmethod
    def _continues(run, read):
        """True if the event ``read`` goes on the run of small reads ``run``."""
        return (read.get("direction") == IN and read["length"] > 0 and read["pid"] == run["pid"]
                and read["fd"] == run["fd"] and read["session"] == run["session"]
                and read["protocol"] == run["protocol"]
                and len(run["payload"]) == run["length"]
                and read["time"] - run["ended"] <= JOIN_GAP
                and (read["duration"] or 0.0) <= JOIN_WAIT)

    def _start_time(self, head):
        """The time column text of the line whose LINE_HEAD match is
        ``head``, or the float ``_time_of_this_line`` makes of it when it
        cannot wait (see ``_seconds``)."""
        start_time = head.group("time")
        if start_time is None or self.clock.relative:
            start_time = self._time_of_this_line(start_time)
        return start_time

    def _time_of_this_line(self, text):
        """Epoch seconds of the line just read when its time cannot wait for
        ``_seconds``: -r times (the running sum moves on with every line) and
        none at all (midnight of ``date`` + 1 us per line keeps the order)."""
        if text is None:
            self.untimed = True
            return self.clock.midnight + self.line_number * 1e-6
        return self.clock.seconds(text)

    def _seconds(self, start_time):
        """Epoch seconds of a line's time column text (see ``Clock``), or of
        the float ``_time_of_this_line`` made; None if the time is malformed.
        Converted only once a line is known to give events: most never do."""
        if type(start_time) is float:
            return start_time
        try:
            return self.clock.seconds(start_time)
        except ValueError:
            return None

    def _note_setup(self, pid, name, line):
        """Tell the socket table what a socket/bind/getsockname/clone/fork
        line shows; return the reason the line gives no event."""
        equals = line.rfind(" = ")
        returned = RETURN_VALUE.match(line, equals + 3) if equals > 0 else None
        if returned is None or not returned.group("ret").isdigit():
            return "failed call"
        result = int(returned.group("ret"))
        args = line[line.find("(") + 1:equals]
        if name == "socket":
            protocol = socket_protocol(args)
            if protocol is None:
                return "not a socket"
            self.sockets.opened(pid, result, protocol,
                                socket_inode(line, FD_ARGUMENT.match(line, equals + 3)))
        elif name in DUP_SYSCALLS:
            if name.startswith("fcntl") and "F_DUPFD" not in args:
                return "not a socket syscall"
            fd = FD_ARGUMENT.match(args)
            if fd is not None:
                self.sockets.duplicated(pid, int(fd.group("fd")), result)
        elif name in ("bind", "getsockname"):
            fd = FD_ARGUMENT.match(args)
            if fd is not None:
                self.sockets.bound(pid, int(fd.group("fd")), parse_sockaddr(args),
                                   parse_unix_path(args))
        else:
            # clone shares the fd table with CLONE_FILES (threads); fork copies it.
            self.sockets.cloned(pid, result, "CLONE_FILES" in args)
            return "not a socket syscall"
        return "socket setup"

    def _closed_by_dup(self, pid, start_time, name, line, head):
        """The events of a close() of the socket that the dup2/dup3 ``line``
        put another file in place of: the kernel closes what the target fd
        held first (the JDK closes a socket another thread reads so, with a
        dead socketpair dup2'ed over it; the peer sees the FIN then).  []
        if the call failed, the target was no socket the trace shows (a -yy
        annotation, or without one the socket table) or the source itself."""
        args_start = line.find(name + "(") + len(name) + 1
        equals = line.rfind(" = ")
        fds = DUP_FDS.match(line, args_start, max(equals, 0))
        if (fds is None or not line[equals + 3:equals + 4].isdigit()
                or fds.group("target_fd") == fds.group("source_fd")):
            return []
        target = fds.group("target")
        annotation = FD_ANNOTATION.fullmatch(target)
        protocol = annotation.group("protocol") if annotation else None
        if protocol not in SOCKET_PROTOCOLS and (
                protocol not in (None, "socket")
                or self.sockets.lookup(pid, int(fds.group("target_fd"))) is None):
            return []
        return self._complete(pid, start_time, "close", "%sclose(%s) = 0" % (
            line[:args_start - len(name) - 1], target), head)

    def _complete(self, pid, start_time, name, line, head):
        """Turn a whole (joined) syscall line into events; ``head`` is the
        LINE_HEAD match of its (last) line."""
        args_start = line.find(name + "(") + len(name) + 1
        first = None
        if name not in FD_IN_RESULT:
            # Most lines are on files: reject them before anything is decoded.
            first = FD_ANNOTATION.match(line, args_start)
            if name == "splice" and (first is None
                                     or first.group("protocol") not in SOCKET_PROTOCOLS):
                # The socket is fd_out, after fd_in's annotation (without -xx
                # a pipe's reads "pipe:[N]", an annotation too).
                first = FD_ANNOTATION.search(line, args_start if first is None else first.end())
            if ((first is None or first.group("protocol") not in SOCKET_PROTOCOLS)
                    and not self._may_be_table_socket(line, args_start)):
                if (first is None and line.rfind(" = ") < args_start
                        and SOCKET_FD_START.match(line, args_start)):
                    return self.skip("unparseable: socket line without its return value", line)
                if (first is not None and first.group("protocol") in UNCONVERTED_SOCKET_KINDS
                        and name in DATA_SYSCALLS):
                    return self.skip("%s %s" % (first.group("protocol"), UNCONVERTED), line)
                return self._not_a_socket(name, line)
        equals = line.rfind(" = ")
        returned = RETURN_VALUE.match(line, equals + 3) if equals >= args_start else None
        if returned is None:
            # A socket line cut short (a trace truncated mid-write) is lost
            # data, which --strict reports; anything else is just noise.
            if first is not None and first.group("protocol") in SOCKET_PROTOCOLS:
                return self.skip("unparseable: socket line without its return value", line)
            return self.skip("unparseable", line)
        errno = returned.group("errno")
        tcp = first is not None and first.group("protocol").startswith("TCP")
        ret = returned.group("ret")
        # A data call a signal interrupted on a connected TCP socket moved
        # nothing, but its annotation may be the only line that shows the
        # socket's port (a client killed in its first read after connect):
        # an event with no bytes, that ties the connect to the connection.
        interrupted = (ret == "?" and tcp and errno in RESTARTED and name in DATA_SYSCALLS
                       and "->" in first.group("details"))
        if ret == "?" and not interrupted:
            if not (name == "connect" and tcp and errno in RESTARTED):
                return self.skip("interrupted call", line)
            # A connect a signal interrupted (wget's --connect-timeout): its
            # SYN is out and the kernel goes on, as for a non-blocking one.
            ret, errno = "-1", "EINPROGRESS"
        elif interrupted:
            ret = "0"
        result = int(ret, 16) if ret.startswith("0x") else int(ret)  # "= 01" cut from "= 016"
        # A read or write failing with ECONNRESET met the peer's RST, and a
        # write failing with EPIPE after the peer's FIN may have (see the
        # packetizer; so on a unix stream socket), as a TCP shutdown()
        # failing with ENOTCONN did (the socket was connected: the
        # annotation shows its peer): an event, with no bytes, for the
        # packetizer to show it.
        reset = result < 0 and (
            name in DATA_SYSCALLS and first is not None
            and first.group("protocol") in STREAM_PROTOCOLS
            and (errno == "ECONNRESET" or errno == "EPIPE" and (
                DATA_SYSCALLS[name] == OUT or name == "splice" and first.start() > args_start))
            or tcp and name == "shutdown" and errno == "ENOTCONN"
            and "->" in first.group("details"))
        # A connect refused, or a data call telling a non-blocking one's
        # refusal: events, for the SYN and the peer's RST.  A connect timed
        # out: one, for its SYN no answer came to.
        refused = (result < 0 and errno == "ECONNREFUSED" and tcp
                   and (name == "connect" or name in DATA_SYSCALLS))
        timed_out = result < 0 and errno == "ETIMEDOUT" and tcp and name == "connect"
        # A TCP Fast Open send (MSG_FASTOPEN, to an address) connects as
        # it sends: non-blocking, it sent the SYN alone (no cookie yet).
        in_progress = errno == "EINPROGRESS" and (name == "connect"
                                                  or tcp and name in FAST_OPEN_SYSCALLS)
        if result < 0 and not (reset or refused or timed_out or in_progress):
            if (name == "connect" and first is not None
                    and first.group("protocol").startswith(("TCP", "UDP"))):
                self.failed_connects[errno or "?"] += 1
            return self.skip("failed call", line)
        args = line[args_start:equals].rstrip()
        # Where the annotation match counts its positions from, in ``line``.
        offset = 0
        if name in ("accept", "accept4"):
            annotation = FD_ANNOTATION.match("%d<%s>" % (result, returned.group("ret_annotation") or ""))
        elif name == "socketpair":
            annotation = FD_ANNOTATION.search(args)  # the first of the two fds
        else:
            annotation, offset = first, args_start
        annotated = annotation is not None and annotation.group("protocol") in SOCKET_PROTOCOLS
        if annotated and not self.rejects_unannotated:
            # Not with -r: every line moves the clock.
            self.rejects_unannotated = self.clock.relative is False
        # (An accept may be the first the table learns of: see SocketTable.accepted.)
        if not annotated and name not in OPENING_CALLS and (not self.sockets.any() or (
                annotation is not None and annotation.group("protocol") != "socket")):
            return self._not_a_socket(name, line)
        start_time = self._seconds(start_time)
        if start_time is None:
            return self.skip("unparseable: time", line)
        duration = returned.group("duration")
        event = {
            "pid": pid, "comm": process_name(head.group("comm") or head.group("bracket_comm")),
            "time": start_time,
            "duration": float(duration) if duration else None,
            "syscall": name, "direction": DATA_SYSCALLS.get(name),
            "result": result, "error": errno, "payload": b"", "length": 0,
            "how": None,
        }
        if name == "splice" and annotation is not None and annotation.start() > args_start:
            event["direction"] = OUT
        try:
            if annotated:
                self._describe_socket(event, annotation)
                position = annotation.end() - offset
            else:
                position = self._describe_from_table(event, args, line[equals + 3:])
                if position is None:
                    return self._not_a_socket(name, line)
                if position == OPEN_FROM_NEXT:
                    return self.skip("socket setup", line)
            if (reset or interrupted or refused and name != "connect"
                    or in_progress and name != "connect"):
                event["direction"] = None
                if name in FAST_OPEN_SYSCALLS and event["remote"] is None:
                    event["remote"] = parse_sockaddr(args, position)  # a fast open's peer
                    if in_progress and len(self._connecting) < CONNECTING_KEPT:
                        self._connecting.add(event["fd"])
                events = [event]
            elif name in DATA_SYSCALLS:
                events = self._data_events(event, args, position)
                if name in PASSING_SYSCALLS and "SCM_RIGHTS" in args:
                    events += self._passed_sockets(event, args)
            else:
                events = self._state_event(event, args)
        except (ValueError, IndexError) as error:
            return self.skip("unparseable: %s" % error, line)
        if name == "close":
            key = (pid, event["fd"])
            self._sessions[key] = self._sessions.get(key, 0) + 1
            self.sockets.closed(pid, event["fd"])
        return events

    def _may_be_table_socket(self, line, args_start):
        """True if the first argument of ``line`` (at ``args_start``) is an
        fd the socket table may know: bare or ``socket:[inode]``."""
        if not self.sockets.any():
            return False
        number = FD_NUMBER.match(line, args_start)
        if number is None:
            return False
        after = number.end()
        return (line.startswith(SOCKET_INODE_PREFIXES, after + 1) if line.startswith("<", after)
                else True)

    def _describe_from_table(self, event, args, returned):
        """Fill the event of a line whose fd has no -yy socket annotation from
        the socket table (``returned``: the text after " = "); return where
        the arguments after the fd start, None if the fd is not a known
        socket, or OPEN_FROM_NEXT for an accept the table learnt from only."""
        pid, name = event["pid"], event["syscall"]
        if name == "socketpair":
            # ``socketpair(AF_UNIX, SOCK_STREAM, 0, [3, 4])``: two sockets, no data yet.
            protocol = socket_protocol(args)
            pair = SOCKETPAIR_FDS.search(args)
            if protocol is not None and pair is not None:
                for end in pair.groups():
                    self.sockets.opened(pid, int(end), protocol)
            return None
        argument = FD_ARGUMENT.match(args)
        if argument is None or not is_socket_annotation(args, argument):
            return None
        fd = int(argument.group("fd"))
        inode = socket_inode(args, argument)
        if name in ("accept", "accept4"):
            inodes = (inode, socket_inode(returned, FD_ARGUMENT.match(returned)))
            info = self.sockets.accepted(pid, fd, event["result"], parse_sockaddr(args), inodes)
            fd = event["result"]
            if info is not None and info.local is None and info.protocol.startswith("TCP"):
                # Its listener predates the trace (strace -p): its own address
                # shows later (getsockname), and its connection is taken as
                # open from its next syscall, not with made-up ports here.
                return OPEN_FROM_NEXT
        else:
            info = self.sockets.lookup(pid, fd, inode)
            if info is not None and name == "connect":
                self.sockets.connected(pid, fd, parse_sockaddr(args))
        if info is None:
            return None
        event.update(fd=fd, protocol=info.protocol,
                     session=self._sessions.get((pid, fd), 0),
                     local=info.local, remote=info.remote, inode=info.ident, peer_inode=None,
                     path=info.path, peer_path=None)
        if info.protocol == "UNIX-STREAM":
            self.unix_streams_unannotated += 1
        if (info.connected and info.protocol.startswith("TCP")
                and name not in ("connect", "getsockopt")  # (getsockopt: see _tcp)
                and (info.local is None or info.remote is None)):
            # The packetizer needs both ends of a connection; make up the one
            # the trace never showed (getsockname would have).
            local, remote = info.made_up_endpoints(pid, fd, event["session"])
            event["local"] = info.local or local
            event["remote"] = info.remote or remote
            self.placeholder_addresses += 1
        elif info.local is None and info.protocol.startswith("UDP") and name != "connect":
            # A datagram's own port shows on no line without -yy.
            event["local"] = info.made_up_endpoints(pid, fd, event["session"])[0]
            self.placeholder_addresses += 1
        return argument.end()

    def _describe_socket(self, event, annotation):
        """Fill fd, protocol, session and the addresses from a -yy annotation."""
        fd = int(annotation.group("fd"))
        protocol, details = annotation.group("protocol", "details")
        local, remote, inode, peer_inode, path = self._fields_of(protocol, details)
        event.update(fd=fd, protocol=protocol,
                     session=self._sessions.get((event["pid"], fd), 0),
                     local=local, remote=remote, inode=inode, peer_inode=peer_inode,
                     path=path, peer_path=None)

    def _fields_of(self, protocol, details):
        """``annotation_fields(protocol, details)``, remembered."""
        fields = self._annotation_fields.get((protocol, details))
        if fields is None:
            # Parsed once per connection, not per syscall: 14.6 -> 11.5 us a TCP sendto line.
            if len(self._annotation_fields) >= ANNOTATION_CACHE_SIZE:
                self._annotation_fields.clear()
            fields = annotation_fields(protocol, details)
            self._annotation_fields[protocol, details] = fields
        return fields

    def _sockaddr(self, text):
        """``parse_sockaddr(text)``, remembered: a UDP socket mostly talks
        to a few peers (bench udp lines: 15.1 -> 13.6 us on average)."""
        address = self._sockaddrs.get(text, False)
        if address is False:
            if len(self._sockaddrs) >= ANNOTATION_CACHE_SIZE:
                self._sockaddrs.clear()
            address = self._sockaddrs[text] = parse_sockaddr(text)
        return address

    def _data_events(self, event, args, position):
        """Events of a data syscall whose arguments after the fd start at ``position``."""
        name = event["syscall"]
        # The flags come after the strings (recvmsg's msg_flags say it too).
        if name.startswith("recv") and "MSG_ERRQUEUE" in args[args.rfind('"') + 1:]:
            return self.skip(ERROR_QUEUE, args)
        if name in MESSAGES_SYSCALLS:
            return self._message_events(event, args, position)
        if name in UNSEEN_PAYLOAD_SYSCALLS:
            event["length"] = event["result"]
            if event["result"]:
                self.unseen_payloads += 1
                self.unseen_bytes += event["result"]
            return [event]
        if name in IOVEC_SYSCALLS:
            if (name == "recvmsg" and "MSG_PEEK" in args[args.rfind("}"):]
                    and not _peeked_end(event, sum(map(int, ASKED_IOV.findall(args, position))))):
                return self._peeked(event, iovec_payload(args, position), args)
            if (name == "recvmsg" and "MSG_TRUNC" in args[args.rfind("}"):]
                    and event["protocol"].startswith("TCP")):
                return self._discarded(event)
            payload = iovec_payload(args, position)
            cut = "MSG_TRUNC" not in args  # recvmsg's msg_flags: a datagram longer than read
            if not cut and "MSG_TRUNC" not in args[args.rfind("}"):]:
                self.datagrams_read_in_part += 1  # the call returned what it read
            if name in WRITTEN_PIECES and len(payload) < event["result"]:
                pieces = written_pieces(args, event["result"], position)
                if pieces and sum(len(data) for data, _size in pieces) > len(payload):
                    event["pieces"] = pieces
            if name == "sendmsg" and "MSG_OOB" in args[args.rfind("}"):]:
                event["urgent"] = True
            if self._small_read(event):
                self._mark_filled(event, sum(map(int, ASKED_IOV.findall(args, position))))
            if name in ("sendmsg", "recvmsg"):
                name_at = args.find("msg_name={", position)
                if name_at >= 0 and event["remote"] is None:
                    event["remote"] = parse_sockaddr(args, name_at, args.find("}", name_at))
                    event["peer_path"] = parse_unix_path(args, name_at, args.find("}", name_at))
        elif event["result"] == 0 and args.find('"', position) < 0:
            payload, cut = b"", False
        else:
            payload, cut, after = read_string(args, args.index('"', position))
            if (name in ("recv", "recvfrom") and "MSG_PEEK" in args[after:]
                    and not _peeked_end(event, _asked(args, after))):
                return self._peeked(event, payload, args)
            if (name in ("recv", "recvfrom") and "MSG_TRUNC" in args[after:]
                    and event["protocol"].startswith("TCP") and event["result"]):
                return self._discarded(event)  # (0: the peer's FIN, as any read's)
            if cut and name in ("recv", "recvfrom") and "MSG_TRUNC" in args[after:]:
                # A datagram longer than the buffer: it returns the whole
                # length, and a dump shows bytes past the buffer.
                cut = False
            if name in ("send", "sendto") and "MSG_OOB" in args[after:]:
                event["urgent"] = True  # its byte is out of the reader's stream
            if name in ("sendto", "recvfrom") and event["remote"] is None:
                event["remote"] = parse_sockaddr(args, after)
                event["peer_path"] = parse_unix_path(args, after)
            if self._small_read(event):
                count = READ_COUNT.match(args, after)
                self._mark_filled(event, int(count.group(1)) if count is not None else 0)
        if (event["peer_path"] is None and event["peer_inode"] is not None
                and event["protocol"] in UNIX_DATAGRAMS):
            event["peer_path"] = self.sockets.path_of(event["peer_inode"])
        result = event["result"]
        if cut and len(payload) < result:
            # Cut by -s: the hex dump lines that may follow hold its bytes.
            # -s cuts an iovec's pieces one by one: the longest needs it.
            event["payload"], event["length"] = payload, result
            self._cut = event
            self._cut_needed = (_longest_piece(args, position, result)
                                if name in IOVEC_SYSCALLS else result)
            return []
        self._set_payload(event, payload, result, cut)
        return [event]

    @staticmethod
    def _small_read(event):
        """True if ``event`` is a read of a stream socket that returned
        fewer than SMALL_READ bytes (see ``join_reads``)."""
        return (0 < event["result"] < SMALL_READ and event["syscall"] in JOINABLE_READS
                and event["protocol"] in STREAM_PROTOCOLS)

    def _mark_filled(self, event, asked):
        """Mark ``event``, a small read (see ``_small_read``), as one that
        filled its buffer if it returned the ``asked`` bytes: ``join_reads``
        joins the reads right after it to it."""
        if event["result"] == asked:
            event["filled"] = True
            self._filled_reads += 1

    def _peeked(self, event, payload, args):
        """The event of a read with MSG_PEEK of a TCP socket: its printed
        ``payload`` had come from the peer, though the read leaves it queued
        and the next read returns it again (``peek``: the packetizer sends
        what a close leaves unread, wget peeks at a 404's headers and body,
        reads the headers and closes).  Another socket's is skipped: a
        datagram peeked at is read whole later."""
        if not event["protocol"].startswith("TCP") or not payload:
            return self.skip("peeked data (MSG_PEEK)", args)
        event["payload"] = payload[:event["result"]]
        event["length"] = len(event["payload"])  # what it shows, not what -s cut
        event["peek"] = True
        return [event]

    def _discarded(self, event):
        """The event of a TCP read with MSG_TRUNC in its flags: TCP drops
        that many bytes unread, and the buffer strace shows holds what an
        earlier read left there; the event declares their length only."""
        event["length"] = event["result"]
        self.discarded_reads += 1
        self.discarded_bytes += event["result"]
        return [event]

    def _passed_sockets(self, event, args):
        """Events of the TCP sockets that ``event``, a sendmsg or recvmsg
        with ``args``, passed with SCM_RIGHTS: no bytes, ``passed`` OUT or IN.
        The sender's later close of one ends its copy only (a worker
        handed the socket answers later, see tcp_flow.HeldFins)."""
        events = []
        control = args.find("SCM_RIGHTS")
        for annotation in FD_ANNOTATION.finditer(args, control, args.find("]}", control)):
            if annotation.group("protocol") in ("TCP", "TCPv6"):
                passed = dict(event, direction=None, result=0, payload=b"", length=0,
                              passed=PASSING_SYSCALLS[event["syscall"]])
                self._describe_socket(passed, annotation)
                events.append(passed)
        return events

    def _message_events(self, event, args, position):
        """One event per message of sendmmsg/recvmmsg (each with its msg_len)."""
        events = []
        for payload, length, remote in self._messages(args, position, len(args),
                                                      event["result"], event["remote"],
                                                      event["syscall"] == "recvmmsg"):
            message = dict(event, remote=remote)
            self._set_payload(message, payload, length)
            events.append(message)
        return events

    def _messages(self, text, start, end, count, remote, received):
        """``(printed bytes, msg_len, peer)`` of the first ``count`` messages
        of the ``{msg_hdr={...}, msg_len=N}`` list in ``text[start:end]``;
        the peer is ``remote``, else each message's msg_name.  ``received``
        (recvmmsg's): count those read in part (msg_flags MSG_TRUNC).
        Those of the ``count`` the list lacks are counted.
        Raises ValueError for a string that does not end."""
        messages = []
        at = text.find("{msg_hdr={", start, end)
        while at >= 0 and len(messages) < count:
            following = text.find("{msg_hdr={", at + 10, end)
            stop = following if following >= 0 else end
            payload = iovec_payload(text, at, stop)
            lengths = MESSAGE_LENGTH.findall(text, at, stop)
            peer = remote
            if peer is None:
                iov = text.find("msg_iov=", at, stop)
                peer = self._sockaddr(text[at:iov]) if iov >= 0 else None
            messages.append((payload, int(lengths[-1]) if lengths else len(payload), peer))
            if received and text.find("MSG_TRUNC", at, stop) >= 0:
                self.datagrams_read_in_part += 1
            at = following
        self.unprinted_messages += count - len(messages)
        return messages

    def _set_payload(self, event, payload, length, cut=True):
        """Store the payload clipped to ``length``; count what it lacks: cut
        by strace's -s (``cut``), or a datagram longer than its reader's
        buffer (recv's MSG_TRUNC returns the whole length)."""
        event["payload"] = payload[:length] if len(payload) > length else payload
        event["length"] = length
        if len(event["payload"]) < length:
            self._count_short(length, cut)

    def _count_short(self, length, cut, needed=None):
        """Count a payload shorter than its ``length`` bytes: cut by -s (which
        ``needed``, if not ``length``, would not have), or not."""
        if cut:
            self.truncated_payloads += 1
            self.longest_cut_payload = max(self.longest_cut_payload, needed or length)
        else:
            self.datagrams_longer_than_read += 1

    def _state_event(self, event, args):
        """The event of connect/accept/close/shutdown/setsockopt."""
        name = event["syscall"]
        tcp = event["protocol"].startswith("TCP")
        if name == "connect":
            event["remote"] = parse_sockaddr(args)
            event["path"] = parse_unix_path(args) or event["path"]
            if tcp and event["error"] == "EINPROGRESS" and len(self._connecting) < CONNECTING_KEPT:
                self._connecting.add(event["fd"])
        elif name == "close":
            self._connecting.discard(event["fd"])
            if tcp and event["time"] is not None:
                closers = self._tcp_closers
                closers.pop(event["pid"], None)
                closers[event["pid"]] = event["time"]  # (the newest last)
                if len(closers) > CLOSERS_KEPT:
                    del closers[next(iter(closers))]
        elif name in ("accept", "accept4") and tcp and event["local"] is None:
            # The new socket shows its inode alone: strace found it no
            # more (its client had reset it, a helper's slow server); the
            # listener's address and the peer's in the call tell its ends.
            listener = FD_ANNOTATION.match(args)
            if listener is not None and listener.group("protocol") == event["protocol"]:
                event["local"] = self._fields_of(*listener.group("protocol", "details"))[0]
                event["remote"] = parse_sockaddr(args)
        elif name == "shutdown":
            how = SHUTDOWN_HOW.search(args)
            if how is not None:
                event["how"] = how.group(0)
            else:
                raw = SHUTDOWN_RAW.search(args)
                event["how"] = SHUTDOWN_NAMES[int(raw.group(1))] if raw else None
        elif name == "setsockopt":
            if not (event["protocol"].startswith("TCP") and ABORTIVE_LINGER.search(args)):
                return self.skip("socket setup", args)
            event["how"] = ABORTIVE_CLOSE
        elif name == "getsockopt":
            failure = SO_ERROR_FAILURE.search(args) if tcp else None
            connecting = event["fd"] in self._connecting
            if failure is None and not (connecting and SO_ERROR_ANSWERED in args):
                return self.skip("socket setup", args)
            self._connecting.discard(event["fd"])
            event["error"] = failure.group(1) if failure else None
        elif name in DUP_SYSCALLS:
            # Another fd of the same process on the TCP socket (see
            # TCP_DUP_RESULT): its close then ends a copy (bash's /dev/tcp
            # restores stdout with a dup2 over the socket's dup, and talks
            # on).  Or the fd itself, kept open across an exec (CLOEXEC_CLEARED).
            event["dup_fd"] = event["fd"] if "F_SETFD" in args else event["result"]
        elif name == "socketpair":
            # One event per end: ``[3<UNIX-STREAM:[A->B]>, 4<UNIX-STREAM:[B->A]>]``.
            second = dict(event)
            self._describe_socket(second, list(FD_ANNOTATION.finditer(args))[-1])
            return [event, second]
        return [event]

    def _process_event(self, pid, start_time, name, line):
        """The process event of a whole execve/clone/fork line; none if it failed."""
        equals = line.rfind(" = ")
        returned = RETURN_VALUE.match(line, equals + 3) if equals > 0 else None
        if returned is None or not returned.group("ret").isdigit():
            return self.skip("not a socket syscall", line)  # failed: -1 ENOENT, or "?"
        result = int(returned.group("ret"))
        args = line[line.find(name + "(") + len(name) + 1:equals]
        event = {"protocol": PROCESS, "pid": pid, "syscall": name, "result": result,
                 "time": start_time, "comm": None, "child": None, "in_flight": False,
                 "thread": False, "shares_fds": False}
        try:
            if name.startswith("exec"):
                event["comm"] = program_name(args)
        except ValueError:
            return self.skip("unparseable", line)
        if name.startswith(("clone", "fork", "vfork")) and result > 0:
            event["child"] = result
            event["thread"] = "CLONE_THREAD" in args
            event["shares_fds"] = "CLONE_FILES" in args
        self.process_lines += 1
        return [event]


def _longest_piece(args, position, result):
    """The -s that prints whole the iovec array in ``args`` from
    ``position`` of a call of ``result`` bytes: its longest piece's bytes
    (``result`` if it shows no iov_len), or its count of pieces if more
    and -s cut the array ("...]": -s bounds arrays too)."""
    sizes = ASKED_IOV.findall(args, position)
    needed = min(result, max(map(int, sizes))) if sizes else result
    if "...]" in args:
        count = IOV_COUNT.search(args, args.rfind("...]"))
        if count is not None:
            needed = max(needed, int(count.group(1) or count.group(2)))
    return needed


class _ResumedHalves:
    """Where the first halves of one call's name wait in a block, per pid
    text, to tell which of that name's resumed halves are theirs: a thread
    has one call in flight, so the first of its resumed halves after each
    of its first halves.  A busy server's file closes and reads resume by
    the thousand while its socket calls wait in between (a helper's nginx
    without keep-alive: 6 689 resumed closes of files parsed and dropped,
    a PostgreSQL under pgbench -C 65 463 "<... read resumed>" lines, 1 in
    3 of its socket events' lines, before pids were told apart)."""

    def __init__(self, pids_waiting=()):
        # pid text -> offsets of its first halves not yet resumed (-1: a
        # call begun before the block).
        self.first_halves = {pid: [-1] for pid in pids_waiting}

    def wait(self, pid, at):
        """Note ``pid``'s first half, which ends at ``at`` in the block."""
        self.first_halves.setdefault(pid, []).append(at)

    def awaited(self, pid, at):
        """True if the resumed half at ``at`` of ``pid`` (its pid column)
        may be that of a first half noted: one of its first halves came
        before it and no resumed half took it yet; or the line has no pid
        to tell (``[pid N]``, or no pid column at all).  Asked in the
        order of the block."""
        waiting = self.first_halves.get(pid)
        if waiting is None:
            return not pid.isdigit()
        if waiting and waiting[0] < at:
            del waiting[0]
            return True
        return False


def _resumed_at(events, time):
    """``events`` of a resumed line whose time is ``time`` (text or float),
    which they carry (see ``unpack_event``): a packed one as its last item."""
    if time is None:
        return events
    return [event + (time,) if type(event) is tuple else dict(event, resumed_at=float(time))
            for event in events]


def _ends_run(run, event):
    """True if ``event`` ends the run of small reads ``run`` (not one of
    its reads): an event of its socket (its fd with its addresses; any on
    its fd, without them), or one that began past JOIN_GAP after the run's
    last read ended (no read could go on it)."""
    return (event["time"] - run["ended"] > JOIN_GAP
            or event.get("fd") == run["fd"] and event.get("local") == run["local"]
            and event.get("remote") == run["remote"])


def _peeked_end(event, asked):
    """True if ``event``, a MSG_PEEK read of up to ``asked`` bytes, is the
    end of a stream: 0 bytes though it asked for some.  The peer's FIN is
    what it saw, and a program that stops there never reads the 0 (Rust's
    nonblocking peek() loops): an event, as a read's."""
    return event["result"] == 0 and asked > 0 and event["protocol"] in STREAM_PROTOCOLS


def _asked(args, after):
    """The byte count of a read's arguments ``args`` whose buffer ends at ``after``."""
    count = READ_COUNT.match(args, after)
    return int(count.group(1)) if count else 0


def _socket_annotation(block, at, end):
    """Where the first -yy socket annotation ("<TCP:[" & co.) of ``block``
    whose ":[" is at ``at`` or after it, before ``end``, begins; -1 if none."""
    while at >= 0:
        opening = block.rfind("<", max(at - LONGEST_ANNOTATION_NAME - 1, 0), at)
        if opening >= 0 and block[opening + 1:at] in ANNOTATION_NAMES:
            return opening
        at = block.find(":[", at + 1, end)
    return -1


def _lines_with(block, needle, after):
    """The starts of the lines of ``block`` after offset ``after`` that
    hold ``needle``."""
    starts = set()
    at = block.find(needle, after)
    while at >= 0:
        starts.add(block.rfind("\n", 0, at) + 1)
        at = block.find(needle, at + len(needle))
    return starts


def _met_since(table, oldest):
    """``table`` ({thread: offset met}) without those met before ``oldest``."""
    if min(table.values()) >= oldest:
        return table
    return {tid: met for tid, met in table.items() if met >= oldest}


def _newlines(text, start, end):
    """How many "\\n" ``text[start:end]`` holds.  Counted as the bytes a
    replace() takes out: bytes.replace finds each with memchr, str.count
    compares every character (the parsing side on bench noise x0.2:
    0.658 -> 0.604 s CPU, best of 6)."""
    piece = text[start:end].encode("latin-1", "replace")  # "replace": any str, not only read text
    return len(piece) - len(piece.replace(b"\n", b""))


def _ended_by_exit_call(block, start, at, context):
    """True if the exit line at ``start`` of ``block`` (its "+++" at ``at``)
    follows its pid's exit() call: the line before it of that pid, in the
    block or else in ``context`` (the text before the block), is ``exit(``
    or ``<... exit resumed>``."""
    head = block[start:at].split()
    if not head or not head[0].isdigit():
        return False  # no pid column (one process), or [pid N]: not told
    mark = "\n%s " % head[0]
    previous = block.rfind(mark, 0, start)
    if previous < 0 and start > 0 and block.startswith(mark[1:]):
        previous = -1  # the block's first line (a live trace's block began with the exit call)
    elif previous < 0:
        block = context
        previous = context.rfind(mark)
        if previous < 0:
            return False
    end = block.find("\n", previous + 1)
    line = block[previous + 1:end if end >= 0 else len(block)]
    return " exit(" in line or "<... exit resumed>" in line


# Where a packed event holds its fields (see ``unpack_event``).
PACKED_SYSCALL, PACKED_RESULT, PACKED_PAYLOAD, PACKED_PROTOCOL, PACKED_REMOTE = 3, 4, 5, 7, 10
PACKED_FIELDS = 15


def unpack_event(packed):
    """The event dict of a common data line's packed event: the tuple
    (pid, time text, duration text or None, syscall, result, payload, fd,
    protocol, session, local, remote, inode, peer_inode, path, peer_path),
    and for a call strace split, its resumed line's time (text or float).

    Where a child parses, the parent unpacks: building the dict (and
    marshalling it through the pipe) was 17% of the child's instructions on
    bench small, 13% on udp, when the child had the more work of the two."""
    if len(packed) > PACKED_FIELDS:
        event = unpack_event(packed[:PACKED_FIELDS])
        event["resumed_at"] = float(packed[PACKED_FIELDS])
        return event
    (pid, time, duration, name, result, payload, fd, protocol, session,
     local, remote, inode, peer_inode, path, peer_path) = packed
    return {
        "pid": pid, "comm": None, "time": float(time),
        "duration": float(duration) if duration else None,
        "syscall": name, "direction": DATA_SYSCALLS[name], "result": result,
        "error": None, "payload": payload, "length": result, "how": None,
        "fd": fd, "protocol": protocol, "session": session,
        "local": local, "remote": remote, "inode": inode, "peer_inode": peer_inode,
        "path": path, "peer_path": peer_path,
    }



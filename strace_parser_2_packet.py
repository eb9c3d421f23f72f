"""INET socket events -> Ethernet/802.1Q/IPv4|IPv6/TCP|UDP packets.

``InetPacketizer.packets(event)`` takes one event of ``strace_parser`` and
returns the packets it causes, each a tuple ``(time, frame, wire_length,
event, outbound)`` (see ``tcp_flow``).  ``flush()`` returns what is still
held at the end of input.

TCP: one ``TcpConversation`` per 4-tuple, so that both ends of a connection
traced in one trace meet.  connect()/accept() open it with a handshake
(a connect's SYN waits for the fd's next syscall, which shows the source
port, and keeps the connect's time); a connect/accept on a side already seen
opens a new conversation on the same 4-tuple.  shutdown() and reads of 0
bytes end it with FINs; close() too, but its FIN is held (a forked process
may still use the socket: see ``tcp_flow.HeldFins``).  A socket bound before
connect() keeps showing only its bound address: its peer comes from connect().

UDP: one datagram per syscall (per message for sendmmsg/recvmmsg), from the
real peer: the sockaddr of sendto/recvfrom/sendmsg/recvmsg, else the one
given to connect().  A datagram seen by both sender and receiver is written
once.  The first sendto of an unbound socket shows no local port; it is held
until the fd's next syscall shows it.

Packet times: the syscall's start for data sent, its end (start + ``-T``
duration) for data received, and never earlier than the conversation's last
packet.
"""

from collections import OrderedDict
from itertools import islice

from bounded_tables import (DATAGRAM_KEY_BYTES, DatagramSightings, ForkTimes, bounded_put,
                            datagram_body)
from socket_table import placeholder_endpoints
from tcp_flow import (FIN_HOLD_SECONDS, PEER_RESET, HeldBackBudget, HeldFins, LastUsers,
                      TcpConversation, count_splice_of_sent, receive_time)
from tcp_utils import MAX_DATAGRAM, MAX_DATAGRAM_V6, PROTO_UDP, HeaderTemplate, LinkHeaders

INET_PROTOCOLS = {"TCP", "TCPv6", "UDP", "UDPv6"}
UNSPECIFIED_ADDRESSES = ("0.0.0.0", "::")
ACCEPT_SYSCALLS = ("accept", "accept4")
# The errors of a syscall that met the peer's RST (see InetPacketizer._tcp).
CLOSED_CONVERSATIONS_KEPT = 4096
CLOSED_ISNS_KEPT = 32768
# The live table's size before idle conversations are retired, how many are
# looked at per new conversation, and how long (trace time) counts as idle.
LIVE_CONVERSATIONS_KEPT = 16384
EVICTION_TRIES = 4
OVER_TRIES = 2
IDLE_SECONDS = 60.0
PENDING_CONNECTS_KEPT = 4096
TCP_PEERS_KEPT = 65536
RECENT_DATAGRAMS_KEPT = 4096
UDP_ROUTES_KEPT = 65536
TCP_ROUTES_KEPT = 16384
# Exited processes whose dups are kept for a child told later (see
# InetPacketizer.forked).
ENDED_HOLDERS_KEPT = 256
# The made-up ports of failed connects' SYNs: above Linux's default
# ephemeral range (32768-60999).
MADE_UP_PORTS = range(61000, 65536)
# The errors of a connect that sent a SYN and failed (see ``_connect_failure``).
FAILED_CONNECT_ERRORS = ("ECONNREFUSED", "ETIMEDOUT")
# Trace time a write strace did not print the bytes of waits for its
# loopback reader's first line, before its packets go out without bytes.
UNSEEN_WAIT = 0.1
INFINITY = float("inf")


def loopback_source(local, remote):
    """The source address the kernel picks for a socket bound to the
    unspecified address: the loopback address when the peer is on loopback."""
    ip, port = local
    if ip in UNSPECIFIED_ADDRESSES and remote is not None:
        peer = remote[0]
        if peer.startswith("127."):
            return ("127.0.0.1", port)
        if peer == "::1":
            return ("::1", port)
        if peer.startswith("::ffff:127."):
            return ("::ffff:127.0.0.1", port)
    return local


def same_family(local, remote):
    """Both endpoints in the family the wire shows: IPv4 when each is IPv4 or
    IPv4-mapped IPv6 (``::ffff:127.0.0.1``, a dual-stack socket talking to an
    IPv4 peer), else IPv6 with any IPv4 one mapped."""
    local_is_v6, remote_is_v6 = ":" in local[0], ":" in remote[0]
    if not (local_is_v6 or remote_is_v6):
        return local, remote
    local, remote = ipv4_unmapped(local), ipv4_unmapped(remote)
    local_is_v6, remote_is_v6 = ":" in local[0], ":" in remote[0]
    if local_is_v6 == remote_is_v6:
        return local, remote
    if local_is_v6:
        return local, ("::ffff:" + remote[0], remote[1])
    return ("::ffff:" + local[0], local[1]), remote


def on_loopback(ip):
    """True for a loopback address (127.0.0.0/8, ::1, IPv4-mapped 127.x)."""
    return ip.startswith(("127.", "::ffff:127.")) or ip == "::1"


def failed_connect_source(connect, number):
    """``(local, remote)`` on the wire of a failed ``connect`` (refused, or
    no answer) whose socket never showed its port: its bound
    address if it had one, else the loopback address for a loopback peer
    (a TEST-NET placeholder for any other, as ``placeholder_endpoints``
    gives) and port MADE_UP_PORTS[``number``], the ``number``-th made up:
    outside Linux's ephemeral range, so no real connection's."""
    remote = connect["remote"]
    ipv6 = ":" in remote[0] and not remote[0].startswith("::ffff:")
    port = MADE_UP_PORTS[number % len(MADE_UP_PORTS)]
    local = connect["local"] or (UNSPECIFIED_ADDRESSES[ipv6], port)
    local = loopback_source(local, remote)
    if local[0] in UNSPECIFIED_ADDRESSES:
        placeholder, _peer = placeholder_endpoints(connect["pid"], connect["fd"],
                                                   connect["session"], ipv6)
        local = (placeholder[0], local[1])
    return same_family(local, remote)


def ipv4_unmapped(endpoint):
    """``(::ffff:a.b.c.d, port)`` -> ``(a.b.c.d, port)``; others unchanged."""
    ip = endpoint[0]
    if ip.startswith("::ffff:") and "." in ip:
        return ip[7:], endpoint[1]
    return endpoint


class InetPacketizer:
    """Turns INET socket events into packets; see the module docstring."""

    def __init__(self, forks=None):
        """``forks``: the ``ForkTimes`` of the trace's forked processes
        (shared with the unix packetizer), None: none known."""
        self.links = LinkHeaders()
        self.conversations = OrderedDict()
        self.closed_conversations = OrderedDict()
        self.closed_isns = OrderedDict()  # 4-tuple -> ISNs of its next connection
        self.pending_connects = OrderedDict()
        self.forks = ForkTimes() if forks is None else forks
        self.last_users = LastUsers()
        self.held_fins = HeldFins(self._fin, self.forks, self.last_users)
        self.tcp_peers = OrderedDict()
        self.tcp_routes = {}
        self.connections = 0
        self.seen_open = 0  # connections first seen already open (no connect/accept)
        self.refused_connects = 0
        self.made_up_ports = 0  # of failed connects from unbound sockets
        self.unanswered_connects = 0  # timed out
        self.unresolved_connects = 0  # closed before their outcome showed
        # Made (returned 0) on sockets no later syscall showed the port of
        # (-e trace=network, or a process killed before it used them).
        self.unshown_connects = 0
        # [calls, bytes] of splice() out of a socket whose sender is traced
        # (see tcp_flow.count_splice_of_sent).
        self.splices_of_sent = [0, 0]
        # Closes of a fd whose process keeps another fd of the socket (a dup, or inherited).
        self.dup_closes = 0
        self.ended_holders = OrderedDict()  # pid -> (exit time, [(conversation, its dups)])
        # [connections, bytes] a close reset leaving bytes of the peer unread.
        self.unread_at_reset = [0, 0]
        self.udp_peers = {}
        # (pid, fd) -> the one peer an unconnected UDP socket sent to, None
        # once it sent to two: the peer of its reads that show none (a DNS
        # stub's recv() of its answer).
        self.udp_sent_to = {}
        self.udp_routes = {}
        self.recent_datagrams = DatagramSightings(RECENT_DATAGRAMS_KEPT)
        # (pid, fd, start time) of a sendmmsg whose message its receiver
        # wrote first, and when: its later messages go no earlier.
        self.batch_after = None
        self.held_datagrams = {}
        # (conversation, side) -> [(time, length, links, event)] of the
        # sendfile and splice writes to a loopback peer not traced so far.
        self.unseen_waits = {}
        self.unseen_since = INFINITY  # the oldest time in unseen_waits (not in order)
        self.held_back = HeldBackBudget()
        self.placeholder_events = 0
        self.duplicates_dropped = 0

    def packets(self, event):
        """The packets one INET event causes (possibly none)."""
        released = self.held_fins.release_due(event["time"]) if self.held_fins else None
        if self.unseen_since < event["time"] - UNSEEN_WAIT:
            released = (released or []) + self._fill_unseen_before(event["time"] - UNSEEN_WAIT)
        packets = self._tcp(event) if event["protocol"].startswith("TCP") else self._udp(event)
        return released + packets if released else packets

    def exited(self, event):
        """Packets due at a thread's or process's exit ``event``; the FINs of
        the TCP connections it used last are held (see ``HeldFins.at_exit``).
        The dups it held are kept a while for a child whose fork is told
        later (see ``forked``)."""
        used = self.last_users.ended(event["pid"])
        held = []
        for conversation, _owner in used:
            dups = conversation.dups_of(event["pid"])
            if any(dups):
                held.append((conversation, dups))
        if held:
            bounded_put(self.ended_holders, event["pid"], (event["time"], held),
                        ENDED_HOLDERS_KEPT)
        return self.held_fins.at_exit(used, event, "TCP", self._link_of_conversation)

    def forked(self, child, parent, time):
        """Thread ``parent`` forked ``child``, a process, at ``time``: the
        child holds a copy of each dup the parent holds (see
        ``TcpConversation.duplicated``; a shell's background job keeps the
        connection its shell got on its stdin and stdout, after closing its
        stdin), also where the parent exited since (the child's fork is told
        at its first socket call: the shell had run it and exited)."""
        for conversation in self.last_users.by_thread.get(parent, ()):
            conversation.inherit_dups(child, conversation.dups_of(parent))
        ended = self.ended_holders.get(parent)
        if ended is not None and time < ended[0]:
            for conversation, fds_by_side in ended[1]:
                conversation.inherit_dups(child, fds_by_side)

    def execed(self, event):
        """Packets due at thread ``event["pid"]``'s successful execve: the
        TCP connections it used last, of which it holds no dup kept across
        an exec (a dup2's target), closed at the exec, as at an exit (a Perl
        server's child writes its answer, then execs: the FIN was the
        exec'd program's exit's, 3 s late)."""
        pid = event["pid"]
        used = self.last_users.by_thread.get(pid)
        if not used:
            return []
        closed = [(conversation, owner) for conversation, owner in used.items()
                  if not conversation.exec_keeps(pid)]
        for conversation, _owner in closed:
            del used[conversation]
        return self.held_fins.at_exit(closed, dict(event, alone=False), "TCP",
                                      self._link_of_conversation)

    def _link_of_conversation(self, conversation, event):
        """The link headers of ``event`` on ``conversation``'s IP version."""
        return self.links.for_event(event, conversation.templates[0].ethertype)

    def holding(self):
        """The tables whose entries may still make packets for earlier
        times (held FINs, pending connects, held datagrams, waiting unseen
        writes): the same objects for the packetizer's life, empty when
        nothing is held."""
        return (self.held_fins, self.pending_connects, self.held_datagrams, self.unseen_waits)

    def earliest_held(self):
        """The time of the oldest packet this packetizer may still make
        though later ones are out (a held FIN, the handshake of a pending
        connect, a held datagram, a waiting unseen write), or None: see
        ``time_order``."""
        times = [events[0]["time"] for events in self.held_datagrams.values()]
        if self.held_fins:
            times.append(self.held_fins.earliest())
        for connects in self.pending_connects.values():
            times.append(connects[0]["time"])  # the oldest: they come in time order
            break
        if self.unseen_waits:
            times.append(self.unseen_since)
        return min(times) if times else None

    def flush(self):
        """Packets still held: unseen writes no reader showed up for, writes
        held back behind them (see ``TcpConversation.transfer``), FINs
        of close() and datagrams whose local port never showed."""
        packets = self._fill_unseen_before(float("inf"))
        for conversation in self.conversations.values():
            for sender, time, links, traced_side, event in conversation.held_back():
                packets += conversation.fill_unseen(sender, time, links, traced_side, event)
        packets += self.held_fins.release_due(float("inf"))
        for key in list(self.held_datagrams):
            packets += self._release_held(key, None)
        for connects in self.pending_connects.values():
            self._count_unshown(connects)
        return packets

    def _count_unshown(self, connects):
        """Count those of ``connects`` (pending, given up) that were made
        and no accept() of a traced server showed."""
        self.unshown_connects += sum(1 for connect in connects if connect["error"] is None
                                     and not connect.get("syn_taken"))

    # -- TCP ---------------------------------------------------------------

    def _tcp(self, event):
        name = event["syscall"]
        if event["error"] in FAILED_CONNECT_ERRORS:
            return self._connect_failure(event)
        if name == "getsockopt":  # a connect in progress was answered
            connect = self._pending_connect_of(event)
            if connect is not None:
                connect["answered"] = True
            if event["local"] is None or event["remote"] is None or event["inode"] is not None:
                return []
            # Its ports shown (by -yy: not a socket table's placeholders),
            # it is a syscall on the connection, which it opens, maybe on
            # another thread than the connect's (Go): a connection that
            # never carries a byte (Go's spare dial, idle in its pool) still
            # gets the FIN of that thread's exit.
        if (name == "close" and self.pending_connects and event["remote"] is None
                and event["local"] is None):
            return self._closed_unconnected(event)
        # A second connect() = 0 on a socket whose first was in progress
        # (redis-cli, curl) shows its ports: a syscall on the connection,
        # which may carry nothing else before the process exits.
        connected = (name == "connect" and event["error"] is None and event["local"] is not None
                     and self.pending_connects and self._pending_connect_of(event) is not None)
        if not connected and (name == "connect" or event["remote"] is not None and (
                event["error"] == "EINPROGRESS"
                or event["local"] is None and event["direction"] == "out")):
            # A TCP Fast Open send connects as it sends: its bytes wait
            # with it for a syscall that shows the socket's port.  (One
            # bound first shows its bound address alone from then on: kdig
            # +fastopen's non-blocking send, whose answer was lost so.)
            if event["remote"] is not None:
                self._remember_connect(event)
            return []
        local, remote = event["local"], event["remote"]
        if remote is None or local is None or name == "close":
            # The common case, both endpoints shown, needs no call: 0.2 us.
            endpoints = self._tcp_endpoints(event)
            if endpoints is None:
                return []
            local, remote = endpoints
        local, key = self._tcp_route(local, remote)
        conversation = self.conversations.get(key)
        if event["error"] == "EPIPE" and (
                conversation is None
                or conversation.side_of(local) in conversation.writes_shut):
            return []  # this end's own shutdown, or a trace of failed calls (-Z)
        # A syscall on a connection whose FINs are both out (node closes
        # after a shutdown, its next connect already on its way) is not
        # that connection's first: not a dup of another fd's connect.
        connect = (self._take_connect(event["pid"], event["fd"], remote,
                                      conversation is None
                                      and key not in self.closed_conversations,
                                      conversation is None
                                      or conversation.side_of(local)
                                      not in conversation.traced_sides)
                   if self.pending_connects else None)
        if (connect is not None and name in ("close", "shutdown") and conversation is None
                and connect["error"] == "EINPROGRESS" and not connect.get("answered")):
            # Its first syscall since, and nothing said it was answered: a
            # socket shows its ports from the SYN on (SYN_SENT), and a
            # program closes it (Java and socat shut it down first) when its
            # own time-out ran out.  Programs whose connect completed asked
            # getsockopt(SO_ERROR) or sent data first; none of 15 that gave
            # up on a full accept queue did (curl, nc, Go, asyncio, httpx,
            # Java, perl, php, socat, ssh).
            self.unresolved_connects += 1
            return self._failed_connect(connect, None, local)
        if connect is not None:
            opened_at = receive_time(connect)
        else:
            opened_at = receive_time(event) if name in ACCEPT_SYSCALLS else None
        packets = []
        if conversation is None or opened_at is not None:
            packets, conversation = self._conversation(key, local, opened_at, event["time"])
        side = conversation.side_of(local)
        conversation.traced_sides.add(side)
        self.last_users.saw(conversation, conversation, side, event)
        ethertype = conversation.templates[0].ethertype
        if connect is not None:
            connect_links = self.links.for_event(connect, ethertype)
            packets += conversation.open(side, connect["time"], connect_links, side, connect,
                                         receive_time(connect))
            if connect["direction"] == "out":  # a fast open's bytes, right after its SYN
                packets += conversation.transfer(side, connect["payload"], connect["length"],
                                                 True, connect["time"], connect_links, side,
                                                 connect)
        links = self.links.for_event(event, ethertype)
        if (self.unseen_waits and (event["payload"] or event["direction"] == "in"
                                   or name == "shutdown" or event["error"] in PEER_RESET)
                and (conversation, side) in self.unseen_waits):
            # This side sends bytes or reads: what it left unseen goes
            # first, at its own time, acking no later bytes.  Not at its
            # next sendfile or splice (those wait together), nor at its
            # close (the FIN waits anyway, see HeldFins).
            packets += self._fill_unseen(conversation, side,
                                         self.unseen_waits.pop((conversation, side)))
            self._unseen_since_recomputed()
        if name == "close":
            if conversation.dup_fds[side] and conversation.closes_dup(side, event["pid"],
                                                                      event["fd"]):
                self.dup_closes += 1
                return packets
            # Its FIN, or RST (see TcpConversation.close), waits: another
            # fd may share the socket, whose syscall then cancels it.
            event["unread"] = conversation.resets_at_close(side)
            return packets + self.held_fins.hold(conversation, conversation, side, links, event)
        if ((self.held_fins or self.held_fins.kept)
                and not (event["error"] or "").startswith("ERESTART")):
            # This side still uses the connection: a close held for it closed
            # a copy.  Not a call a signal ended with nothing moved (the
            # blocked read the JDK's close wakes so).
            self.held_fins.pop((conversation, side), None)
            packets += self.held_fins.peer_end_before(conversation, side, event)
        if name in ACCEPT_SYSCALLS:
            if not conversation.started:
                syn_time, connect = self._syn_time(event)
                if connect is not None:
                    # Its client's connect() is in the trace: its reads will show.
                    conversation.expected_sides.add(1 - side)
                packets += conversation.open(1 - side, syn_time, links, side, event)
        elif event["direction"] == "out":
            payload, length = event["payload"], event["length"]
            if len(payload) < length and (conversation.reads_to_come(1 - side)
                                          or not payload and on_loopback(remote[0])):
                # The reader's reads carry what strace did not print here:
                # sendfile's bytes, those -s cut.  A loopback reader of a
                # sendfile or splice may show up just after (merged -ff
                # files come in the order the calls ended: a client's send
                # that began first).
                if payload:
                    packets += conversation.transfer(side, payload, len(payload), True,
                                                     event["time"], links, side, event)
                conversation.leave_unseen(side, length - len(payload), event["time"])
                if not conversation.reads_to_come(1 - side):
                    self.unseen_waits.setdefault((conversation, side), []).append(
                        (event["time"], length, links, event))
                    self.unseen_since = min(self.unseen_since, event["time"])
            elif length:  # (a sendfile() at the file's end moves nothing)
                packets += conversation.transfer(side, payload, length, True,
                                                 event["time"], links, side, event)
            if length and 1 - side in conversation.traced_sides and conversation.closed(1 - side):
                # The peer's socket is gone: its kernel answers these bytes
                # with a RST, not the write that meets it as EPIPE later.
                if (conversation, side) in self.unseen_waits:
                    packets += self._fill_unseen(conversation, side,
                                                 self.unseen_waits.pop((conversation, side)))
                    self._unseen_since_recomputed()
                packets += conversation.reset(1 - side, event["time"], links, side, event)
        elif event["direction"] == "in":
            if "peek" in event:
                conversation.peeked(1 - side, event["payload"], receive_time(event))
            elif event["length"]:
                if not event["payload"]:  # (a splice's, if any)
                    count_splice_of_sent(self.splices_of_sent, conversation, side, event)
                packets += conversation.transfer(1 - side, event["payload"], event["length"],
                                                 False, receive_time(event), links, side, event)
            elif side not in conversation.reads_shut:
                # (After its own shutdown(SHUT_RD), a read of 0 tells nothing
                # of the peer: bytes it sends later go unread, and its close
                # resets the connection.)
                conversation.read_to_end.add(side)
                packets += self.held_fins.peer_closed(conversation, conversation, side,
                                                      links, event)
        elif name == "shutdown" and not event["error"]:
            if event["how"] != "SHUT_WR":
                conversation.reads_shut.add(side)
            if event["how"] != "SHUT_RD":
                packets += self.held_fins.shut_down(conversation, conversation, side, links,
                                                    event)
        elif name == "setsockopt":  # SO_LINGER 0: its close will reset
            conversation.abortive.add(side)
        elif "passed" in event:
            conversation.passed(side, event)
        elif "dup_fd" in event:
            conversation.duplicated(side, event["pid"], event["fd"], event["dup_fd"])
        elif event["error"] in PEER_RESET:
            # The call met the peer's RST by its end.
            if event["error"] == "ENOTCONN" and side in conversation.writes_shut:
                pass  # both FINs went: a socket done (TIME_WAIT), not reset
            else:
                packets += self.held_fins.peer_reset(conversation, conversation, side, links,
                                                     event)
        return packets

    def unseen_due(self, now):
        """The packets of the writes left unseen (see ``unseen_waits``)
        whose reader did not show up within UNSEEN_WAIT before ``now``."""
        if self.unseen_since < now - UNSEEN_WAIT:
            return self._fill_unseen_before(now - UNSEEN_WAIT)
        return []

    def _fill_unseen_before(self, time):
        """Packets without bytes for what the writes waiting since before
        ``time`` left unseen (see ``unseen_waits``) and no reader claimed:
        when their reader is still not traced, at their own times."""
        packets = []
        for (conversation, side), writes in list(self.unseen_waits.items()):
            if writes[0][0] < time:
                del self.unseen_waits[(conversation, side)]
                packets += self._fill_unseen(conversation, side, writes)
        self._unseen_since_recomputed()
        return packets

    def _unseen_since_recomputed(self):
        """Set ``unseen_since`` from the waits left: they are not in time
        order (a resumed sendfile's start comes after later calls')."""
        self.unseen_since = min((writes[0][0] for writes in self.unseen_waits.values()),
                                default=INFINITY)

    def _fill_unseen(self, conversation, side, writes):
        """Packets without bytes for ``writes`` (see ``unseen_waits``), each
        at its time, unless their reader is traced now (its reads claim them)."""
        if conversation.reads_to_come(1 - side):
            return []
        packets = []
        for time, length, links, event in writes:
            packets += conversation.fill_unseen(side, time, links, side, event, length)
        return packets

    def _connect_failure(self, event):
        """The packets of a connect that failed: ``event`` is the connect
        (or a fast-open send, its address shown and its own not), or the
        syscall that told a non-blocking one's failure
        (getsockopt(SO_ERROR), a read or write, a second connect), whose
        pending connect sent the SYN.  Refused: the SYN and the peer's RST;
        timed out: the SYN alone."""
        connect = self._take_connect_of(event)
        if connect is None and (event["syscall"] == "connect"
                                or event["local"] is None and event["remote"] is not None):
            connect = event
        if connect is None or connect["remote"] is None:
            return []
        # A socket that timed out may still show the port its SYN left from.
        shown = event["local"] if event["remote"] is not None else None
        if event["error"] == "ETIMEDOUT":
            self.unanswered_connects += 1
            return self._failed_connect(connect, None, shown)
        told_at = receive_time(event) if connect is event else event["time"]
        return self._failed_connect(connect, told_at, shown)

    def _closed_unconnected(self, event):
        """A close of a socket whose non-blocking connect never showed its
        port: refused, when the peer is on loopback (where the answer comes
        at once: the program saw it in poll or epoll, or never looked);
        else the SYN alone (no answer yet, or one the trace does not show),
        counted."""
        connect = self._take_connect_of(event)
        if connect is None or connect["error"] != "EINPROGRESS":
            if connect is not None:
                self._count_unshown([connect])  # made (or reset) before its port showed
            return []
        if not on_loopback(connect["remote"][0]):
            self.unresolved_connects += 1
            return self._failed_connect(connect, None)
        return self._failed_connect(connect, connect["time"])  # on loopback: told by the SYN

    def _failed_connect(self, connect, refused_at, shown=None):
        """The SYN of ``connect``, and if it was refused, as the trace told
        at ``refused_at``, the peer's RST: a loopback peer's comes with the
        SYN (the kernel answers within the connect), another's when the
        trace told it.  ``refused_at`` None: no answer.  The SYN leaves from
        ``shown``, the socket's address if a later syscall showed it, else
        the bound one, else a made-up port (see ``failed_connect_source``)."""
        if shown is not None:
            local, remote = same_family(loopback_source(shown, connect["remote"]),
                                        connect["remote"])
        else:
            local, remote = failed_connect_source(connect, self.made_up_ports)
            if connect["local"] is None:
                self.made_up_ports += 1
        key = (local, remote) if local < remote else (remote, local)
        conversation = TcpConversation(key, self._following_isns(
            key, self.conversations.get(key) or self.closed_conversations.get(key)),
            self.held_back)
        if shown is not None:  # its close, still to come, shows it too
            self.conversations[key] = conversation
        else:
            self._keep_closed(conversation)
        client = conversation.side_of(local)
        links = self.links.for_event(connect, conversation.templates[0].ethertype)
        if refused_at is None:
            return conversation.unanswered(client, connect["time"], links, connect)
        self.refused_connects += 1
        if on_loopback(remote[0]):
            refused_at = connect["time"]
        return conversation.refused(client, connect["time"], refused_at, links, connect)

    def _pending_connect_of(self, event):
        """The pending connect of ``event``'s socket, not yet connected: the
        one of its inode (its annotation shows it until the SYN), any
        thread's; without one, the one of its fd by its thread.  None if
        none."""
        inode, pid, fd = event["inode"], event["pid"], event["fd"]
        for (connect_fd, _remote), connects in self.pending_connects.items():
            for connect in connects:
                if (connect["inode"] == inode if inode is not None
                        else connect["pid"] == pid and connect_fd == fd):
                    return connect
        return None

    def _take_connect_of(self, event):
        """``_pending_connect_of``, no longer pending."""
        connect = self._pending_connect_of(event)
        if connect is None:
            return None
        return self._take_connect(connect["pid"], connect["fd"], connect["remote"], False, True)

    def _tcp_endpoints(self, event):
        """(local, remote) of a TCP event as the trace shows them, or None
        for a listening socket or one never connected."""
        local, remote = event["local"], event["remote"]
        if remote is None and local is not None:
            # Bound before connect: strace keeps showing the bound address only.
            remote = self.tcp_peers.get((event["pid"], event["fd"]))
        if event["syscall"] == "close":
            self.tcp_peers.pop((event["pid"], event["fd"]), None)
        if remote is not None:
            if local is None:  # a fast open's reset before its port showed
                self.placeholder_events += 1
                local = placeholder_endpoints(event["pid"], event["fd"], event["session"],
                                              ":" in remote[0])[0]
            return local, remote
        if local is None:
            # The socket's annotation shows its inode alone: strace found
            # it no longer (-yy asks the kernel, which drops a socket in
            # TIME_WAIT from its tables; a gunicorn worker's read of 0
            # after its shutdown, nc -N's reads after its own).  The
            # connection is the one this fd carried.
            used = self.last_users.endpoints_used(event["pid"], event["fd"], event["session"])
            if used is not None:
                return used
        if local is not None or event["direction"] is None:
            return None
        self.placeholder_events += 1
        return placeholder_endpoints(event["pid"], event["fd"], event["session"])

    def _tcp_route(self, local, remote):
        """``(local, key)``: the local endpoint as the wire shows it and the
        conversation key (the two endpoints in order) of a TCP socket whose
        trace shows ``local`` and ``remote``; cached: 0.3 (IPv4) to 0.6 us
        (IPv6) -> 0.2 us an event."""
        route = self.tcp_routes.get((local, remote))
        if route is None:
            if len(self.tcp_routes) >= TCP_ROUTES_KEPT:
                self.tcp_routes.clear()
            wire_local, wire_remote = same_family(loopback_source(local, remote), remote)
            key = ((wire_local, wire_remote) if wire_local < wire_remote
                   else (wire_remote, wire_local))
            route = self.tcp_routes[(local, remote)] = (wire_local, key)
        return route

    def _remember_connect(self, event):
        """Keep a connect until a syscall on its fd shows the 4-tuple, and
        its peer for as long as the fd lives if the socket was bound first.
        Pending connects are found by fd number and peer: the thread that
        uses the connection may not be the one that connected."""
        pending_key = (event["fd"], event["remote"])
        connects = self.pending_connects.get(pending_key, [])
        self._count_unshown([connect for connect in connects if connect["pid"] == event["pid"]])
        connects = [connect for connect in connects if connect["pid"] != event["pid"]]
        bounded_put(self.pending_connects, pending_key, connects + [event], PENDING_CONNECTS_KEPT)
        if event["local"] is not None:
            bounded_put(self.tcp_peers, (event["pid"], event["fd"]), event["remote"],
                        TCP_PEERS_KEPT)

    def _syn_time(self, accept):
        """When the SYN of the connection ``accept`` returned left: the start
        of the oldest connect() to the accepting address that began before
        the accept returned and still waits for its port to show (the traced
        client's, its line maybe not yet resumed: each is taken once, in
        the accept queue's order); else the accept's return.  Not its
        start: a server waits in accept() for seconds.  Returns that time
        and the connect (None for the accept's return)."""
        returned = receive_time(accept)
        server = accept["local"]
        waiting = [connect for key, connects in self.pending_connects.items()
                   if key[1] == server for connect in connects
                   if connect["time"] <= returned and not connect.get("syn_taken")]
        if not waiting:
            return returned, None
        first = min(waiting, key=lambda connect: connect["time"])
        first["syn_taken"] = True
        return first["time"], first

    def _take_connect(self, pid, fd, remote, first_seen, side_first_seen):
        """The pending connect of ``fd`` to ``remote``: that pid's, else,
        for the ``side_first_seen`` syscall of its end, the oldest of
        another thread's (Go connects on one thread and writes on another;
        later, another process's connect on the same fd number is its own:
        nginx workers connecting upstream at once), unless the two are
        processes known to be others.  For the ``first_seen``
        syscall of a connection, else that pid's connect on another fd to
        ``remote``: the connection's fd is a dup (bash's /dev/tcp
        redirections, git's connect then dup).  None if there is none."""
        pending_key = (fd, remote)
        connects = self.pending_connects.get(pending_key)
        if connects is None:
            if not first_seen:
                return None
            pending_key = next((key for key, connects in self.pending_connects.items()
                                if key[1] == remote
                                and any(connect["pid"] == pid for connect in connects)), None)
            if pending_key is None:
                return None
            connects = self.pending_connects[pending_key]
        index = next((index for index, connect in enumerate(connects)
                      if connect["pid"] == pid), None)
        if index is None and side_first_seen:
            # Not a process known to be another (see ForkTimes): its fd N
            # is another socket (xargs -P's socat runs).
            index = next((index for index, connect in enumerate(connects)
                          if self.forks.may_share_fds(connect["pid"], pid)), None)
        if index is None:
            return None
        connect = connects.pop(index)
        if not connects:
            del self.pending_connects[pending_key]
        return connect

    def _conversation(self, key, local, opened_at, now):
        """``(packets, conversation)`` for the 4-tuple ``key`` seen from
        ``local``.  ``opened_at``: the end time of the connect or accept that
        opened the connection, or None.  An opening on a side the trace
        already saw, after the old conversation's last packet, starts a new
        connection on the same 4-tuple (an older one is a stale connect);
        the packets are the FINs the old one still held.  ``now``: the
        event's time."""
        conversation = self.conversations.get(key)
        previous = conversation or self.closed_conversations.get(key)
        packets = []
        if previous is not None:
            reopened = opened_at is not None and opened_at >= previous.last_time and (
                conversation is None or previous.side_of(local) in previous.traced_sides)
            if not reopened:
                return packets, previous
            if conversation is not None:
                packets = self.held_fins.release_of(conversation)
        conversation = self.conversations[key] = TcpConversation(
            key, self._following_isns(key, previous), self.held_back)
        if len(self.conversations) > LIVE_CONVERSATIONS_KEPT:
            self._retire_an_idle_conversation(now)
        self._retire_over(now)
        self.connections += 1
        if opened_at is None:
            self.seen_open += 1
            conversation.first_seen_mid_stream()
        return packets, conversation

    def _fin(self, conversation, sender, time, links, traced_side, event):
        """FIN from ``sender`` (and the ACK); retire the conversation when both are out."""
        packets = conversation.close(sender, time, links, traced_side, event)
        if conversation.unread_at_reset:
            self.unread_at_reset[0] += 1
            self.unread_at_reset[1] += conversation.unread_at_reset
            conversation.unread_at_reset = 0
        if all(direction.fin_sent for direction in conversation.directions):
            if self.conversations.get(conversation.endpoints) is conversation:
                self._retire(conversation)
        return packets

    def _retire(self, conversation):
        """Move a conversation from the live table to the bounded closed one."""
        del self.conversations[conversation.endpoints]
        self._keep_closed(conversation)

    def _keep_closed(self, conversation):
        """Put ``conversation`` in the bounded closed table, and the ISNs a
        later connection on its 4-tuple takes in a longer one (a client's
        ports come round again after some 28 000 connections)."""
        key = conversation.endpoints
        bounded_put(self.closed_conversations, key, conversation, CLOSED_CONVERSATIONS_KEPT)
        bounded_put(self.closed_isns, key, conversation.following_isns(), CLOSED_ISNS_KEPT)

    def _following_isns(self, key, previous):
        """The ISNs of a new connection on the 4-tuple ``key``: past those
        of ``previous``, the conversation it reuses the 4-tuple of, or of the
        last one closed on it; None for a first."""
        if previous is not None:
            return previous.following_isns()
        return self.closed_isns.get(key)

    def _retire_over(self, now):
        """Retire the oldest live conversations that are over (see
        ``TcpConversation.over``: an untraced client's FIN never shows) and
        idle FIN_HOLD_SECONDS, looking at OVER_TRIES; the others go to the
        back.  (A helper's nginx without keep-alive, 94 308 connections:
        16 384 stayed live, 183 MB.)  Not at once: the other end's first
        syscalls may still come, and must find it live."""
        for key, conversation in list(islice(self.conversations.items(), OVER_TRIES)):
            if conversation.last_time + FIN_HOLD_SECONDS < now and conversation.over():
                self._retire(conversation)
            else:
                self.conversations.move_to_end(key)

    def _retire_an_idle_conversation(self, now):
        """Keep the live table bounded (one end's FIN may never show): retire
        its oldest conversation idle for IDLE_SECONDS, looking at a few;
        busy ones go to the back.  A retired one still serves late events."""
        for _ in range(EVICTION_TRIES):
            key, conversation = next(iter(self.conversations.items()))
            if conversation.last_time + IDLE_SECONDS < now:
                self._retire(conversation)
                return
            self.conversations.move_to_end(key)

    # -- UDP ---------------------------------------------------------------

    def _udp(self, event):
        name = event["syscall"]
        key = (event["pid"], event["fd"])
        if name == "connect":
            if event["remote"] is not None:
                self.udp_peers[key] = event["remote"]
            return []
        packets = []
        if key in self.held_datagrams and (event["local"] is not None or name == "close"):
            packets += self._release_held(key, event["local"])
        if name == "close":
            self.udp_peers.pop(key, None)
            self.udp_sent_to.pop(key, None)
            return packets
        if event["direction"] is None:
            return packets
        if event["local"] is None:
            if event["direction"] == "out":
                self.held_datagrams.setdefault(key, []).append(event)
                return packets
        return packets + self._datagram(event, event["local"])

    def _release_held(self, key, local):
        """Datagrams held for ``key``, sent from ``local`` (placeholder if None)."""
        packets = []
        for event in self.held_datagrams.pop(key):
            packets += self._datagram(event, local)
        return packets

    def _datagram(self, event, local):
        """The packet of one datagram, or none if its other end already wrote it."""
        key = (event["pid"], event["fd"])
        remote = event["remote"] or self.udp_peers.get(key)
        if remote is None and event["direction"] == "in":
            remote = self.udp_sent_to.get(key)
        elif event["remote"] is not None and event["direction"] == "out":
            sent_to = self.udp_sent_to.get(key, False)
            if sent_to is not None and sent_to != remote and key not in self.udp_peers:
                # A first peer, or a second: none then (a server's socket).
                bounded_put(self.udp_sent_to, key, remote if sent_to is False else None,
                            TCP_PEERS_KEPT)
        known_local, known_remote = local is not None, remote is not None
        if remote is None or local is None:
            # The peer's family on the wire (a dual-stack socket's may be IPv4).
            ipv6 = (":" in ipv4_unmapped(remote)[0] if remote is not None
                    else event["protocol"] == "UDPv6")
            placeholders = placeholder_endpoints(event["pid"], event["fd"], event["session"], ipv6)
            if remote is None:
                remote = placeholders[1]
            if local is None:
                local = placeholders[0]
        outbound = event["direction"] == "out"
        source, destination, template = self._udp_route(local, remote, outbound)
        payload = event["payload"]
        length = min(event["length"], MAX_DATAGRAM_V6 if template.ipv6 else MAX_DATAGRAM)
        printed = payload[:length]
        if not outbound and self.held_datagrams:
            held = self._held_read(destination, printed)
            if held is not None:
                # The sender's copy is the datagram (the read may have cut
                # it), written when its port shows: now if the read shows it.
                self.duplicates_dropped += 1
                return self._release_held(held, source) if known_remote else []
        time = event["time"] if outbound else receive_time(event)
        # A held datagram its reader read (``read_by_peer``) is written as it is.
        if not event.get("read_by_peer"):
            written_at = self._seen_from_other_end(
                source, destination, printed, length, outbound,
                known_local if outbound else known_remote,
                not outbound and local[0] in UNSPECIFIED_ADDRESSES, time)
            if written_at:
                if outbound and written_at > time:
                    # The receiver's copy of this message of a sendmmsg went
                    # at its read's end: the call's next messages follow it.
                    self.batch_after = (event["pid"], event["fd"], time, written_at)
                self.duplicates_dropped += 1
                return []
        if outbound and self.batch_after is not None and self.batch_after[:3] == (
                event["pid"], event["fd"], time):
            time = max(time, self.batch_after[3])
        self.placeholder_events += (not known_local) + (not known_remote)
        links = self.links.for_event(event, template.ethertype)
        frame = template.udp_frame(links[outbound], printed, length)
        return [(time, frame, len(frame) + length - len(printed), event, outbound)]

    def _held_read(self, destination, printed):
        """The key of the datagrams held for their sender's port (an unbound
        socket's first sendto) if one of them is the one read into
        ``destination``, its first bytes ``printed`` (None if none is): that
        one is marked ``read_by_peer``, and the read gives no packet (it gave
        the datagram a placeholder sender, or the bytes its buffer held)."""
        for key, events in self.held_datagrams.items():
            for held in events:
                remote = held["remote"] or self.udp_peers.get((held["pid"], held["fd"]))
                if (remote is not None and not held.get("read_by_peer")
                        and remote[1] == destination[1]
                        and (destination[0] in UNSPECIFIED_ADDRESSES
                             or ipv4_unmapped(remote)[0] == ipv4_unmapped(destination)[0])
                        and held["payload"][:DATAGRAM_KEY_BYTES] == printed[:DATAGRAM_KEY_BYTES]):
                    held["read_by_peer"] = True
                    return key
        return None

    def _seen_from_other_end(self, source, destination, printed, length, outbound,
                             known_source, any_destination, time):
        """The time the other end's syscall already wrote the datagram
        ``source`` -> ``destination`` of ``length`` bytes whose first are
        ``printed`` (see ``DatagramSightings``) at, or None; else its own
        ``time`` is noted.  The key is the destination port and
        the hash of the first DATAGRAM_KEY_BYTES.  A recv() without an
        address knows no source, and a socket bound to the unspecified
        address (``any_destination``) not the one sent to: one bound to
        0.0.0.0 reads what was sent to 127.0.0.5 too (a helper's server:
        those datagrams were written twice, the second to 127.0.0.1)."""
        address = destination[0]
        ends = (source if known_source else None,
                None if any_destination or address in UNSPECIFIED_ADDRESSES else address)
        key = (destination[1], hash(printed[:DATAGRAM_KEY_BYTES]))
        return self.recent_datagrams.seen_from_other_end(key, outbound, ends, time,
                                                         datagram_body(printed, length))

    def _udp_route(self, local, remote, outbound):
        """``(source, destination, template)`` of a datagram between the
        endpoints ``local`` and ``remote`` as the trace shows them; cached:
        the wire's addresses and the template look-up, 0.45 (IPv4) to 0.75 us
        (IPv6) -> 0.2 us a datagram."""
        key = (local, remote, outbound)
        route = self.udp_routes.get(key)
        if route is None:
            if len(self.udp_routes) >= UDP_ROUTES_KEPT:
                self.udp_routes.clear()
            local, remote = same_family(loopback_source(local, remote), remote)
            source, destination = (local, remote) if outbound else (remote, local)
            route = self.udp_routes[key] = (source, destination,
                                            HeaderTemplate(source, destination, PROTO_UDP))
        return route

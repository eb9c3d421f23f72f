"""One TCP conversation as a capture would show it: handshake, data with
continuous seq/ack, FINs, each byte once.

Both packetizers (INET and the UNIX synthesiser) drive a ``TcpConversation``
with what the trace shows of either end; it returns packets as tuples
``(time, frame, wire_length, event, outbound)`` where ``outbound`` is True
when the traced process sent the packet.

Each end's syscalls move a cursor through the direction's byte stream: the
writer's ``written``, the reader's ``read``.  Bytes are emitted once, by
whichever syscall first reaches them, so when both ends are traced the
writer's write carries the data and the reader's read of it adds nothing.

``HeldFins`` holds the FINs of close() for both packetizers, with one rule
(see the class).
"""

import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from itertools import islice

from bounded_tables import ForkTimes, bounded_put
from tcp_utils import ACK, FIN, MAX_SEGMENT, PROTO_TCP, PSH, RST, SYN, URG, HeaderTemplate


# How far a reused 4-tuple's ISNs jump past the old connection's last seq.
ISN_STEP = 1 << 24
# How long (trace time) a close()'s FIN waits for a sign that another
# process still uses the socket (see HeldFins).
FIN_HOLD_SECONDS = 2.0
# Connections remembered per thread for the FINs of its process's exit.
USERS_KEPT = 16384
# A thread's oldest connections looked at, each time it takes a new one,
# to forget those over (see LastUsers.saw).
USERS_PRUNED = 2
# Printed bytes the writes held back for their readers (see
# ``TcpConversation.transfer``) may hold, all conversations together.
HELD_BACK_BYTES = 1 << 24
# A mid-stream direction keeps this many last bytes of its first end's
# syscalls to place the other end's first one against, by this many of
# their first bytes (see ``TcpConversation.first_seen_mid_stream``).
ALIGN_KEPT = 1024
ALIGN_PROBE = 64


def receive_time(event):
    """When the bytes of an incoming syscall arrived: the syscall's end."""
    return event["time"] + (event["duration"] or 0.0)


def initial_sequence(source, destination):
    """A fixed initial sequence number for the direction source -> destination."""
    return zlib.crc32(("%s|%s" % (source, destination)).encode())


def split_segment(payload, length):
    """``(payload, length)`` cut into pieces of MAX_SEGMENT bytes, as such pairs."""
    for offset in range(0, length, MAX_SEGMENT):
        size = min(MAX_SEGMENT, length - offset)
        yield payload[offset:offset + size], size


# A call failing so met the peer's RST (shutdown's ENOTCONN: TCP only).
PEER_RESET = ("ECONNRESET", "EPIPE", "ENOTCONN")


def count_splice_of_sent(counts, conversation, side, event):
    """Add ``event`` to ``counts`` ([calls, bytes]) if it is ``side``'s
    splice() of bytes out of its socket in ``conversation`` (strace shows
    how many, not which) from a traced sender, whose own calls count them,
    printed or not."""
    if event["syscall"] == "splice" and event["length"] and 1 - side in conversation.traced_sides:
        counts[0] += 1
        counts[1] += event["length"]


@dataclass
class StreamDirection:
    """The bytes of one direction of a conversation."""
    isn: int
    emitted: int = 0     # stream bytes in the pcap so far (with injected ones)
    claimed: int = 0     # stream bytes some syscall handed out for the pcap
    written: int = 0     # stream bytes the sender's syscalls moved
    read: int = 0        # stream bytes the receiver's syscalls moved
    syn_sent: bool = False
    fin_sent: bool = False
    # First seen mid-stream, until both ends' cursors are placed: the end
    # whose syscalls came first (True: the sender's), the last bytes they
    # moved, where in the stream those begin, and [(offset, time)] of the
    # syscalls that moved them (see ``align``).
    unaligned: bool = False
    first_end: bool = None
    kept: bytes = b""
    kept_at: int = 0
    kept_times: list = field(default_factory=list)
    # [(offset, printed bytes, time, links, event)] of the writes held back
    # behind unprinted ones (see ``TcpConversation.transfer``).
    deferred: list = field(default_factory=list)
    unseen_at: float = 0.0  # when the last bytes strace did not print were written
    # The bytes of the receiver's longest peek (MSG_PEEK) past its read
    # cursor, where in the stream they begin, and when (see TcpConversation.peeked).
    peeked: bytes = b""
    peeked_at: int = 0
    peeked_time: float = 0.0

    def next_seq(self):
        """The sequence number of the next byte (SYN and FIN count one each)."""
        return self.isn + self.syn_sent + self.emitted + self.fin_sent

    def align(self, by_sender, printed, line_time):
        """Place the cursor of the end (the sender's if ``by_sender``) of a
        syscall that printed ``printed``, before that syscall moves it, in a
        direction first seen mid-stream (see
        ``TcpConversation.first_seen_mid_stream``).  ``line_time``: the time
        of the syscall's first line for a write, of the line that printed
        its result for a read.  strace prints a call's first line as it
        begins, so a read's result line comes after the first line of any
        write whose bytes it got: a write's bytes are not those of a read
        printed before it (a keep-alive client repeating its request, both
        ends attached: its write was taken for the server's read of the
        same request before it), nor a read's those of a write begun after it."""
        if self.first_end is None or self.first_end == by_sender:
            self.first_end = by_sender
            at = self.written if by_sender else self.read
            if self.kept and self.kept_at + len(self.kept) == at:
                self.kept_times.append((at, line_time))
                printed = self.kept + printed  # the stream's last bytes, unbroken
                at = self.kept_at
            else:
                self.kept_times = [(at, line_time)]
            self.kept = printed[-ALIGN_KEPT:]
            self.kept_at = at + len(printed) - len(self.kept)
            times = self.kept_times
            while len(times) > 1 and times[1][0] <= self.kept_at:
                del times[0]
            return
        kept = self.kept
        found = self._rfind_in_time(kept, printed[:ALIGN_PROBE], by_sender, line_time)
        if by_sender and found + len(printed) < len(kept):
            found = -1  # a write read already is the last thing read
        if found >= 0:
            start = self.kept_at + found
        else:
            found = printed.find(kept[:ALIGN_PROBE]) if kept else -1
            if found >= 0 and self._in_time(self.kept_at, by_sender, line_time):
                start = self.kept_at - found
            else:
                start = self.read if by_sender else 0
        if by_sender:
            self.written = start
        else:
            self.read = start
        self.unaligned = False
        self.kept = b""
        self.kept_times = []

    def _in_time(self, offset, by_sender, line_time):
        """True if the first end's syscall that moved the kept byte at stream
        ``offset`` may hold bytes of the other end's syscall whose line time
        is ``line_time`` (see ``align``)."""
        their_time = self.kept_times[0][1]
        for start, moved_at in self.kept_times:
            if start > offset:
                break
            their_time = moved_at
        return their_time >= line_time if by_sender else their_time <= line_time

    def _rfind_in_time(self, kept, probe, by_sender, line_time):
        """The last place of ``probe`` in ``kept`` that ``_in_time`` allows; -1 if none."""
        if not probe or not kept:
            return -1
        end = len(kept)
        while True:
            found = kept.rfind(probe, 0, end)
            if found < 0 or self._in_time(self.kept_at + found, by_sender, line_time):
                return found
            end = found + len(probe) - 1


class TcpConversation:
    """State of one TCP connection between ``endpoints[0]`` and ``endpoints[1]``
    ((ip, port) pairs); a side is the index of its endpoint."""

    def __init__(self, endpoints, isns=None, budget=None):
        """``isns``: the initial sequence numbers of its two directions,
        where it reuses the 4-tuple of an earlier connection (see
        ``following_isns``); None: fixed ones (``initial_sequence``).
        ``budget``: the ``HeldBackBudget`` its writes may be held back
        within (see ``transfer``); None: they are not."""
        self.endpoints = endpoints
        self.budget = budget
        self.templates = (HeaderTemplate(endpoints[0], endpoints[1], PROTO_TCP),
                          HeaderTemplate(endpoints[1], endpoints[0], PROTO_TCP))
        if isns is None:
            isns = (initial_sequence(*endpoints), initial_sequence(endpoints[1], endpoints[0]))
        if endpoints[0] == endpoints[1]:
            # A socket connected to itself (a connect to its own port): what
            # it sends, it receives; its read is of its own bytes, its FIN
            # comes back to it.  One stream, both sides.
            self.directions = (StreamDirection(isns[0]),) * 2
        else:
            self.directions = (StreamDirection(isns[0]), StreamDirection(isns[1]))
        self.started = False
        self.last_time = 0.0
        # Sides whose own syscalls the trace showed: an accept or connect on
        # a side already seen is a new connection on the same 4-tuple.
        self.traced_sides = set()
        # Sides not traced yet whose syscalls will show: a client whose
        # connect() the trace has, before its socket showed its port.
        self.expected_sides = set()
        # Sides that did shutdown(SHUT_RD): their reads return 0 with no FIN.
        self.reads_shut = set()
        # Sides that did shutdown(SHUT_WR): their FIN went then, whatever their close does.
        self.writes_shut = set()
        # Sides that read 0: they had read all their peer sent.
        self.read_to_end = set()
        # A RST ended it, or its SYN was never answered: no FIN or RST follows.
        self.aborted = False
        # Sides whose close() resets the connection (SO_LINGER 0).
        self.abortive = set()
        # The bytes its peer wrote that a side's close left unread, resetting
        # it: in the pcap as sent, though the kernels drop those they still
        # hold (the packetizer counts them, then sets this to 0).
        self.unread_at_reset = 0
        # (pid, fd, session) of each side's last syscall: the process whose
        # exit closes that side's socket (see LastUsers, HeldFins.at_exit).
        self.users = [None, None]
        # Each side's first syscall's time and its latest close's (or
        # exit's), for telling a close of one copy of a socket that forked
        # processes share (see HeldFins.copy_keeper).
        self.first_used = [None, None]
        self.closed_at = [None, None]
        # The forks (see ForkTimes) of the processes that closed their copy.
        self.copies_closed_by = [(), ()]
        # Per side, {pid: {fd on the socket: kept across an exec}} of the
        # threads that dup'd it, or inherited dups (see ``duplicated``), or None.
        self.dup_fds = [None, None]
        # (pid, fd, time, receiving pid or None) of each side's socket's
        # last pass to another process with SCM_RIGHTS (see ``passed``).
        self.passes = [None, None]

    def duplicated(self, side, pid, fd, new_fd):
        """Thread ``pid`` made ``new_fd`` a dup of its ``fd`` on ``side``'s
        socket (or cleared ``fd``'s close-on-exec: ``new_fd`` is ``fd``):
        ``new_fd`` stays open across an exec, ``fd`` may not."""
        fds = self._holders(side).setdefault(pid, {})
        fds.setdefault(fd, False)
        fds[new_fd] = True

    def _holders(self, side):
        """``side``'s {pid: its dups} (see ``dup_fds``), made if none yet."""
        if self.dup_fds[side] is None:
            self.dup_fds[side] = {}
        return self.dup_fds[side]

    def closes_dup(self, side, pid, fd):
        """True if thread ``pid``'s close of ``fd`` leaves it another fd on
        ``side``'s socket that it dup'd (see ``duplicated``): the socket
        stays open, nothing is sent."""
        fds = self.dup_fds[side] and self.dup_fds[side].get(pid)
        if not fds or fd not in fds:
            return False
        del fds[fd]
        if not fds:
            del self.dup_fds[side][pid]
        return bool(fds)

    def inherit_dups(self, child, fds_by_side):
        """Process ``child`` was forked holding ``fds_by_side`` ([{fd: kept
        across an exec}, ...] per side, or None): its parent's dups."""
        for side, fds in enumerate(fds_by_side):
            if fds:
                self._holders(side)[child] = dict(fds)

    def dups_of(self, pid):
        """``pid``'s dups per side (see ``inherit_dups``)."""
        return [holders and holders.get(pid) for holders in self.dup_fds]

    def exec_keeps(self, pid):
        """Thread ``pid`` exec'd: its dups closed on exec are gone (those it
        did not make are taken so: a socket accept()ed close-on-exec);
        True if it still holds one."""
        kept = False
        for holders in self.dup_fds:
            fds = holders and holders.get(pid)
            if fds:
                fds = holders[pid] = {fd: True for fd, keep in fds.items() if keep}
                if not fds:
                    del holders[pid]
                kept = kept or bool(fds)
        return kept

    def passed(self, side, event):
        """``event`` passed ``side``'s socket with SCM_RIGHTS (see
        StraceParser._passed_sockets): sent, the sender's close of that fd
        once its receiver got it closes a copy, the receiver keeping it (a
        Python server's worker answered 3 s after its parent's close; see
        HeldFins.copy_keeper); received, the receiver is that (a recvmsg
        begun first may end first: the sender's then finds it)."""
        sender, fd, sent_at, receiver = self.passes[side] or (None,) * 4
        if event["passed"] == "out":
            self.passes[side] = (event["pid"], event["fd"], event["time"],
                                 receiver if sender is None else None)
        else:
            self.passes[side] = (sender, fd, sent_at, event["pid"])

    def following_isns(self):
        """The ISNs of a connection that reuses this one's 4-tuple: past its
        sequence numbers, as a kernel's new ISN would be (else Wireshark
        takes the new connection's segments for retransmissions)."""
        return tuple((direction.next_seq() + ISN_STEP) & 0xFFFFFFFF
                     for direction in self.directions)

    def over(self):
        """True once the exit of its traced ends' processes would send
        nothing (see ``HeldFins.at_exit``): a RST went, or each traced end
        sent its FIN and would not reset."""
        return self.aborted or bool(self.traced_sides) and all(
            self.directions[side].fin_sent and not self.closing_resets(side, exiting=True)
            for side in self.traced_sides)

    def first_seen_mid_stream(self):
        """Its first syscalls are mid-stream (strace -p, a trace begun
        late): in each direction the cursor of the end seen first starts at
        0, the other end's where its first syscall's bytes are found in the
        last ALIGN_KEPT bytes the first end moved, or theirs in its own;
        else a write follows what was read (the reads got bytes sent before
        the trace began), and a read starts at 0 too.  A write is found
        in the reads only as the last bytes read (its read printed first):
        an earlier message of the same bytes is not it.  Both cursors at 0
        made every later message lose its first bytes to the offset between
        them (redis under strace -p on both ends: not one SET of 595 read
        as one)."""
        for stream in self.directions:
            stream.unaligned = True

    def side_of(self, endpoint):
        """The side whose endpoint is ``endpoint``."""
        return 0 if endpoint == self.endpoints[0] else 1

    def _packet(self, sender, flags, payload, length, time, links, traced_side, event):
        """One segment from ``sender``, acking all the peer has sent."""
        self.started = True
        self.last_time = time = max(time, self.last_time)
        stream = self.directions[sender]
        peer = self.directions[1 - sender]
        if not (flags & SYN and not peer.syn_sent):
            flags |= ACK  # every segment but the opening SYN
        outbound = sender == traced_side
        frame = self.templates[sender].tcp_frame(
            links[outbound], stream.next_seq(), peer.next_seq() if flags & ACK else 0, flags,
            payload, length)
        return (time, frame, len(frame) + length - len(payload), event, outbound)

    def open(self, client, time, links, traced_side, event, answered=None):
        """SYN, SYN-ACK, ACK from ``client``, the SYN at ``time``, the
        others at ``answered`` (a blocking connect's return; None: at
        ``time``); nothing if the conversation already has packets (first
        seen mid-stream, or opened by the other end).  A socket connected
        to itself: its SYN and its ACK."""
        if self.started:
            return []
        server = 1 - client
        syn = self._packet(client, SYN, b"", 0, time, links, traced_side, event)
        self.directions[client].syn_sent = True
        if answered is not None:
            time = answered
        if self.directions[client] is self.directions[server]:
            return [syn, self._packet(client, 0, b"", 0, time, links, traced_side, event)]
        syn_ack = self._packet(server, SYN, b"", 0, time, links, traced_side, event)
        self.directions[server].syn_sent = True
        ack = self._packet(client, 0, b"", 0, time, links, traced_side, event)
        return [syn, syn_ack, ack]

    def refused(self, client, time, refused_at, links, event):
        """A connection refused: the SYN of ``client`` (the traced side) at
        ``time``, and at ``refused_at`` the peer's RST-ACK, which acks the
        SYN and has sequence number 0, as a kernel answers a closed port."""
        syn = self._packet(client, SYN, b"", 0, time, links, client, event)
        self.directions[client].syn_sent = True
        self.directions[1 - client].isn = 0
        self.aborted = True
        return [syn, self._packet(1 - client, RST, b"", 0, refused_at, links, client, event)]

    def unanswered(self, client, time, links, event):
        """A connection attempt no answer came to: the SYN of ``client``
        (the traced side) at ``time``."""
        syn = self._packet(client, SYN, b"", 0, time, links, client, event)
        self.directions[client].syn_sent = True
        self.aborted = True
        return [syn]

    def transfer(self, sender, payload, length, by_sender, time, links, traced_side, event):
        """Data of one syscall: ``length`` bytes from ``sender`` of which
        ``payload`` holds what strace printed.  ``by_sender`` tells whether
        the syscall was the sender's write or the receiver's read.  Emits the
        part no earlier syscall emitted, cut into segments of MAX_SEGMENT.

        A write after bytes the sender moved unprinted (``leave_unseen``)
        that the traced receiver has not read yet is held back: the reads
        carry the unprinted bytes and then these, in stream order (a pipelined
        HTTP server's sendfile bodies).  Its printed bytes fill in what the
        reads do not show, and go out at ``fill_unseen`` if no read comes."""
        stream = self.directions[sender]
        if stream.unaligned:
            stream.align(by_sender, payload[:length],
                         event.get("resumed_at", event["time"]) if not by_sender
                         else event["time"])
        packets = None
        if by_sender and stream.written > stream.claimed:
            # Not an urgent byte (MSG_OOB): the reader's reads leave it out.
            budget = self.budget
            if (self.awaits_reader(sender) and not event.get("urgent") and budget is not None
                    and budget.size + len(payload) <= budget.limit):
                stream.deferred.append((stream.written, payload[:length], time, links, event))
                budget.size += len(payload)
                stream.written += length
                return []
            packets = self.fill_unseen(sender, time, links, traced_side, event)
        start = stream.written if by_sender else stream.read
        skip = self.claim(sender, length, by_sender)
        if skip >= length:
            return packets or []
        pieces = [(payload[skip:], length - skip)]
        if stream.deferred:
            if len(payload) < length:
                pieces = self._with_deferred(stream, start + skip, payload[skip:],
                                             start + length)
            self._drop_claimed(stream)
        segments = self.segments(sender, pieces, time, links, traced_side, event)
        return packets + segments if packets else segments

    def peeked(self, sender, payload, time):
        """A read with MSG_PEEK at ``time`` of ``payload``, bytes from
        ``sender`` at the receiver's read cursor: they came, though they
        stay queued and the next read returns them again (its packets carry
        them, as without the peek).  The longest peek past the cursor is
        kept for a close that leaves its bytes unread (see
        ``peeked_unread``); none where the stream was seen mid-stream."""
        stream = self.directions[sender]
        if (not stream.unaligned and stream.read + len(payload)
                > max(stream.claimed, stream.peeked_at + len(stream.peeked))):
            stream.peeked, stream.peeked_at, stream.peeked_time = payload, stream.read, time

    def peeked_unread(self, sender, links, traced_side, event):
        """Data segments of the bytes from ``sender`` its receiver peeked at
        (see ``peeked``) and no syscall claimed, at the peek's time: its
        close leaves them unread (wget peeks at a 404's headers and body,
        reads the headers and closes)."""
        stream = self.directions[sender]
        end = stream.peeked_at + len(stream.peeked)
        unread = stream.peeked[max(stream.claimed - stream.peeked_at, 0):]
        stream.peeked = b""
        if end <= stream.claimed:
            return []
        stream.claimed = end
        return self.segments(sender, [(unread, len(unread))], stream.peeked_time, links,
                             traced_side, event)

    def awaits_reader(self, sender):
        """True when ``sender`` moved bytes strace did not print that its
        traced reader has still to read (see ``transfer``)."""
        stream = self.directions[sender]
        return stream.written > stream.claimed and self.reads_to_come(1 - sender)

    def leaves_unread(self, side, exiting=False):
        """True when ``side`` has not read all its traced peer wrote, or
        bytes it peeked at (MSG_PEEK): its close() then resets the
        connection, as the kernel's does (a server answering a request it
        does not read, or none; wget closing after a 404's headers).  At its process's
        exit (``exiting``) only if it read some: a trace whose filter hides
        read() shows no close() either, but the exit."""
        peer = self.directions[1 - side]
        # (An untraced peer's bytes it peeked at came too.)
        came = (peer.written if 1 - side in self.traced_sides
                else max(peer.claimed, peer.peeked_at + len(peer.peeked)))
        return (peer.read < came and side not in self.read_to_end
                and (peer.read > 0 or not exiting))

    def shows_reads(self, side):
        """True if the trace has, or will have, ``side``'s syscalls."""
        return side in self.traced_sides or side in self.expected_sides

    def reads_to_come(self, side):
        """True if ``side``'s reads will show (see ``shows_reads``) and it
        still reads: it did not close, nor shut its reads down.  Bytes sent
        to it after that no read of it carries (a Go proxy splicing to a
        server that had closed)."""
        return self.shows_reads(side) and side not in self.reads_shut and not self.closed(side)

    def closed(self, side):
        """True if ``side`` closed its socket: its FIN is out, and not by a
        shutdown() (a close's FIN, once held, or its process's exit)."""
        return self.directions[side].fin_sent and side not in self.writes_shut

    def leave_unseen(self, sender, length, time):
        """A write at ``time`` of ``length`` bytes strace did not print
        (sendfile, or what -s cut) to a receiver the trace also shows: only
        the writer's cursor moves, so that the reader's reads carry the real
        bytes."""
        stream = self.directions[sender]
        stream.written += length
        stream.unseen_at = time

    def fill_unseen(self, sender, time, links, traced_side, event, most=None):
        """Segments for what ``leave_unseen`` left and no read claimed before
        the sender wrote again or closed (the first ``most`` bytes of it, if
        given), without bytes but those of the writes ``transfer`` held
        back: the sequence numbers stay whole."""
        stream = self.directions[sender]
        gap = stream.written - stream.claimed
        if most is not None and most < gap:
            gap = most
        if gap <= 0:
            return []
        start = stream.claimed
        stream.claimed += gap
        pieces = [(b"", gap)]
        if stream.deferred:
            pieces = self._with_deferred(stream, start, b"", start + gap)
            self._drop_claimed(stream)
        return self.segments(sender, pieces, time, links, traced_side, event)

    def held_back(self):
        """``(sender, time, links, traced_side, event)`` of the first write
        each direction still holds back (see ``transfer``): at the end of
        input, ``fill_unseen`` with these sends them."""
        return [(sender, time, links, sender, event)
                for sender, stream in enumerate(self.directions)
                for _offset, _printed, time, links, event in stream.deferred[:1]]

    @staticmethod
    def _with_deferred(stream, begin, known, end):
        """``(payload, length)`` pieces for the stream bytes ``begin`` to
        ``end`` of which ``known`` holds the first, completed from the
        printed bytes of the writes held back (a piece's payload may be
        shorter than its length: bytes no syscall printed)."""
        pieces = []
        piece_start = begin
        position = begin + len(known)
        for offset, printed, _time, _links, _event in stream.deferred:
            low, high = max(offset, position), min(offset + len(printed), end)
            if high <= low:
                continue
            if low > position:
                pieces.append((known, low - piece_start))
                piece_start, known = low, printed[low - offset:high - offset]
            else:
                known += printed[low - offset:high - offset]
            position = high
        pieces.append((known, end - piece_start))
        return pieces

    def _drop_claimed(self, stream):
        """Forget the writes held back whose printed bytes are all claimed."""
        deferred = stream.deferred
        while deferred and deferred[0][0] + len(deferred[0][1]) <= stream.claimed:
            self.budget.size -= len(deferred.pop(0)[1])

    def skip(self, sender, length):
        """Leave ``length`` bytes of ``sender`` out: no segment carries them,
        the next one's sequence number is past them (a gap, as a capture
        that lost a segment shows)."""
        self.directions[sender].emitted += length

    def skip_unseen(self, sender):
        """``fill_unseen``'s bytes as a gap (see ``skip``)."""
        stream = self.directions[sender]
        gap = stream.written - stream.claimed
        if gap > 0:
            stream.claimed = stream.written
            self.skip(sender, gap)

    def claim(self, sender, length, by_sender):
        """Move the cursor of one syscall of ``length`` bytes (the sender's
        write if ``by_sender``, else the receiver's read); return how many of
        its leading bytes an earlier syscall already claimed (``length`` or
        more: nothing new).  The new bytes are the caller's to emit."""
        stream = self.directions[sender]
        if by_sender:
            start = stream.written
            stream.written = start + length
        else:
            start = stream.read
            stream.read = start + length
        claimed = stream.claimed
        if start + length > claimed:
            stream.claimed = start + length
        # Comparisons, not max(): claim() 0.74 -> 0.25 us.
        return claimed - start if claimed > start else 0

    def segments(self, sender, pieces, time, links, traced_side, event):
        """Data segments from ``sender``: one per ``(payload, length)`` piece
        (``payload`` may be shorter when strace cut it), pieces larger than
        MAX_SEGMENT split.  No dedup: for bytes ``claim`` handed out, or
        bytes no syscall moved (injected ones)."""
        # _packet's work, done once for all the segments: the data path.
        stream = self.directions[sender]
        template = self.templates[sender]
        outbound = sender == traced_side
        link = links[outbound]
        if time < self.last_time:
            time = self.last_time
        seq = stream.next_seq()
        ack = self.directions[1 - sender].next_seq()
        packets = []
        for payload, length in pieces:
            # A piece that fits goes as it is, not through split_segment's
            # loop: segments() 1.1 -> 0.9 us (without the frame).
            for piece, size in (((payload, length),) if length <= MAX_SEGMENT
                                else split_segment(payload, length)):
                frame = template.tcp_frame(link, seq, ack, PSH | ACK, piece, size)
                packets.append((time, frame, len(frame) + size - len(piece), event, outbound))
                seq += size
            stream.emitted += length
        if packets and outbound and event.get("urgent"):
            # send(MSG_OOB): its last byte is urgent, in the last piece made;
            # Linux's urgent pointer points past it (tcpdump: "urg 1" for a
            # 1-byte send).
            packets[-1] = (time, template.tcp_frame(link, seq - size, ack, PSH | ACK | URG,
                                                    piece, size, size),
                           packets[-1][2], event, outbound)
        if packets:
            self.started = True
            self.last_time = time
        return packets

    def close(self, sender, time, links, traced_side, event):
        """FIN from ``sender`` and the peer's ACK, for ``event``: its
        shutdown(), or the close() (or exit) of its last fd, which is a RST
        instead from a side set to SO_LINGER 0 or leaving bytes of its peer
        unread (those go first: no read will carry them), after the FIN of
        its shutdown(SHUT_WR).  ``event["unread"]``: whether it left such
        bytes when called (a FIN sent since may have carried them); if not,
        and the peer wrote since, its FIN went and the RST answers those
        bytes.  Nothing if already sent, or after a RST."""
        if self.aborted:
            return []
        if event["syscall"] not in ("close", "exit") or event.get("keeper_unseen"):
            return self._fin(sender, time, links, traced_side, event)
        if self.directions[sender].fin_sent and self.directions[1 - sender].fin_sent:
            return []  # both FINs went: the socket is closed (TIME_WAIT), nothing is sent
        packets = []
        unread = event.get("unread")
        if unread or self.resets_at_close(sender, event["syscall"] == "exit"):
            if unread is False:
                packets = self._fin(sender, time, links, traced_side, event)
            self.abortive.add(sender)
            peer = self.directions[1 - sender]
            self.unread_at_reset = max(0, peer.written - peer.read)
            # The peer's bytes no read took: sent by then, or after a close
            # held since (and met by its RST at once).
            packets += self.fill_unseen(1 - sender,
                                        max(time, self.directions[1 - sender].unseen_at),
                                        links, traced_side, event)
            if peer.peeked:
                packets += self.peeked_unread(1 - sender, links, traced_side, event)
        if sender not in self.abortive:
            return self._fin(sender, time, links, traced_side, event)
        if sender in self.writes_shut:
            packets += self._fin(sender, time, links, traced_side, event)
        return packets + self.reset(sender, time, links, traced_side, event)

    def closing_resets(self, side, exiting=False):
        """True when the close() (or the exit, ``exiting``) of ``side``
        after its FIN (a shutdown()'s) still sends a RST: SO_LINGER 0 or
        bytes left unread, unless the peer's FIN came too (the socket is
        closed then: haproxy's shutdown and abort of a server, socat's
        shutdown and exit)."""
        return not (self.aborted or self.directions[1 - side].fin_sent) and (
            side in self.abortive or self.resets_at_close(side, exiting))

    def resets_at_close(self, side, exiting=False):
        """True when a close() by ``side`` now would leave bytes of its
        peer unread (see ``awaits_reader``, ``leaves_unread``)."""
        return self.awaits_reader(1 - side) or self.leaves_unread(side, exiting)

    def _fin(self, sender, time, links, traced_side, event):
        """FIN from ``sender`` after its bytes, and the peer's ACK; nothing if sent."""
        stream = self.directions[sender]
        if stream.fin_sent:
            return []
        packets = self.fill_unseen(sender, time, links, traced_side, event)
        then = event.get("seqs_at_close")
        if (then and not packets and then[2] < time < self.last_time
                and then[0] == stream.next_seq() and not self.directions[1 - sender].fin_sent):
            return self._fin_passed(sender, time, then[1], links, traced_side, event)
        fin = self._packet(sender, FIN, b"", 0, time, links, traced_side, event)
        stream.fin_sent = True
        ack = self._packet(1 - sender, 0, b"", 0, time, links, traced_side, event)
        return packets + [fin, ack]

    def _fin_passed(self, sender, time, peer_seq, links, traced_side, event):
        """The FIN of a close held (see ``HeldFins``) that packets of the
        peer's later syscalls passed: at its close's ``time``, before them,
        and its ACK, as the peer stood then (next sequence number
        ``peer_seq``); the bytes it sent since met a closed socket."""
        stream = self.directions[sender]
        seq = stream.next_seq()
        stream.fin_sent = True
        packets = []
        for source, flags, numbers in ((sender, FIN | ACK, (seq, peer_seq)),
                                       (1 - sender, ACK, (peer_seq, seq + 1))):
            outbound = source == traced_side
            frame = self.templates[source].tcp_frame(links[outbound], *numbers, flags, b"", 0)
            packets.append((time, frame, len(frame), event, outbound))
        return packets

    def reset(self, sender, time, links, traced_side, event):
        """RST from ``sender``, acking what the peer sent (the kernel's
        answer to data for a closed socket); nothing after a first one."""
        if self.aborted:
            return []
        self.aborted = True
        return [self._packet(sender, RST, b"", 0, time, links, traced_side, event)]


class HeldBackBudget:
    """The size of the printed bytes of the writes held back for their
    readers, and its ``limit``: past it, writes go out at once, as without
    a traced reader (a trace of many slow readers keeps its memory)."""

    def __init__(self, limit=HELD_BACK_BYTES):
        self.limit = limit
        self.size = 0


class HeldFins(OrderedDict):
    """The FINs of close() calls held back, oldest first.  A close() may end
    one copy of a socket that another process goes on using (a child forked
    after accept/connect, an fd passed on or exec'd into, a dup), so its FIN
    waits: it goes out when the peer reads 0, FIN_HOLD_SECONDS of trace time
    later (or once its reader read what it has to, see ``release_due``), or
    at the end of input.  A later syscall of that side cancels it:
    the packetizer pops ``(conversation, side)``, this table's key, on each
    of its syscalls while the table is not empty (no method call per event).

    A close (or exit) of one copy of a socket that a forked process shares
    with its parent sends nothing (see ``copy_keeper``): the other keeps
    its copy, however long it waits to use it (sshd's monitor wrote 2.2 s
    after its session child closed its copy; a forking Perl server's child
    answered 3 s after its parent closed its copy).  Its FIN is kept for
    the end of input, in case the keeper's end does not show.

    ``send(owner, sender, time, links, traced_side, event)`` is the
    packetizer's FIN, returning its packets; ``owner`` is what the packetizer
    keeps per connection (the conversation itself, or a flow holding it).
    ``forks``: the ``ForkTimes`` of the trace's forked processes, if known;
    ``users``: the packetizer's ``LastUsers``."""

    def __init__(self, send, forks=None, users=None):
        super().__init__()
        self.send = send
        self.forks = ForkTimes() if forks is None else forks
        self.users = users
        self.copies_closed = 0
        # The closes of copies whose keeper's end the trace may not show
        # (strace -qq leaves exit lines out; the trace may end first), as
        # this table's: released at the end of input only, forgotten at any
        # syscall of their side (the packetizers pop while either table
        # holds something; see hold).
        self.kept = {}

    def pop(self, key, *default):
        """OrderedDict.pop, forgetting ``key``'s close of a copy too."""
        self.kept.pop(key, None)
        return super().pop(key, *default)

    def hold(self, owner, conversation, side, links, event):
        """Hold the FIN of ``side``'s close() ``event`` (once its FIN is out,
        while its traced peer may still write: the RST that answers those
        bytes); return the packets of the FINs it lets out: when the other
        end's close() is held too (not a shutdown()'s FIN), both ends are
        done and neither FIN waits.  Not before any byte: a process that
        forked after socketpair() (socat's EXEC, nginx's master) and its
        child close the end each leaves to the other, and the two ends then
        talk.  A close of a copy another process keeps (see
        ``copy_keeper``) is kept for the end of input instead."""
        keeper, parent_keeps = self.copy_keeper(conversation, side, event)
        if not parent_keeps:
            # (A child's close of its copy, the parent keeping one, leaves
            # the rule as it was for the child's other fds and siblings.)
            conversation.closed_at[side] = event["time"]
        key = (conversation, side)
        self.pop(key, None)
        if keeper is not None:
            self.copies_closed += 1
            conversation.copies_closed_by[side] += (self.forks.get(event["pid"]),)
            # The keeper's exit closes it (as its last user), else the end
            # of input lets this close's FIN out.
            self.users.saw(owner, conversation, side, dict(event, pid=keeper))
            self._note_place(conversation, side, event)
            self.kept[key] = (owner, (side, event["time"], links, side, event))
            return []
        if (conversation.directions[side].fin_sent and not conversation.shows_reads(1 - side)
                and not conversation.closing_resets(side, event["syscall"] == "exit")):
            return []
        fin = (side, event["time"], links, side, event)
        other_key = (conversation, 1 - side)
        other = self.get(other_key)  # (owner, fin): fin[4] is its event
        if (other is None or other[1][4]["syscall"] == "shutdown"
                or conversation.directions[1 - side].fin_sent
                or not (conversation.directions[0].emitted
                        or conversation.directions[1].emitted)):
            self._note_place(conversation, side, event)
            self[key] = (owner, fin)
            return []
        other = self.pop(other_key)
        return self._send(other[0], conversation, other[1]) + self.send(owner, *fin)

    @staticmethod
    def _note_place(conversation, side, event):
        """Where both ends stood at ``side``'s close ``event``, and when
        their last packet went: its FIN keeps its place if packets of the
        peer's later syscalls pass it (see TcpConversation._fin)."""
        if conversation.started:
            event["seqs_at_close"] = (conversation.directions[side].next_seq(),
                                      conversation.directions[1 - side].next_seq(),
                                      conversation.last_time)

    def copy_keeper(self, conversation, side, event):
        """``(thread, parent)``: the thread that keeps a copy of ``side``'s
        socket if ``event``, its close or exit, ends another copy, else
        None, and whether it is the parent.  The parent of a forked
        process, if that side was used before the fork; or a forked child
        of the closing thread that has not exec'd (as far as the trace
        shows), forked after that side's first use: either only where no
        close or exit of a process that used it came since the fork.  Or a
        process known to be another that dup'd the socket and still holds
        the dup (dup2 onto a spawned program's stdin or stdout keeps it
        across the exec).  Or, for a socket passed with SCM_RIGHTS (see
        ``TcpConversation.passed``) once its receiver got it, if no close
        came since: the receiver, for the sender's close of the fd it
        passed; the sender, for the receiver's close.  A copy that goes
        unseen (held by a process that never used it and exited) is taken
        as kept."""
        first_used, closed_at = conversation.first_used[side], conversation.closed_at[side]
        if (event["syscall"] == "shutdown"  # it acts on the socket, whatever its copies
                or first_used is None or conversation.directions[side].fin_sent
                or conversation.aborted):
            return None, False
        passed = conversation.passes[side]
        if passed is not None:
            sender, fd, sent_at, receiver = passed
            kept = sent_at is not None and (closed_at is None or closed_at < sent_at)
            if (sender, fd) == (event["pid"], event["fd"]):
                conversation.passes[side] = None  # the sender's copy ends here
                if receiver is not None and kept:
                    return receiver, False
            elif receiver == event["pid"] != sender and kept:
                conversation.passes[side] = (sender, fd, sent_at, None)  # the receiver's ends
                return sender, False
        if not self.forks:
            return None, False
        holders = conversation.dup_fds[side]
        if holders:
            for holder in holders:
                if not self.forks.may_share_fds(holder, event["pid"]):
                    # A process that dup'd the socket (a spawned program's
                    # stdin or stdout: dup2 keeps it open across an exec).
                    return holder, False
        fork = self.forks.get(event["pid"])
        if fork is not None and first_used < fork[0] and (closed_at is None
                                                          or closed_at < fork[0]):
            return fork[1], True
        return self.forks.keeping_child(event["pid"], max(first_used, closed_at or 0),
                                        conversation.copies_closed_by[side]), False

    def forked(self, child, parent, time):
        """Thread ``parent`` forked ``child`` at ``time`` (one seen not to
        have exec'd): the closes by ``parent`` held since of sockets used
        before then closed copies (the child was seen too late to tell, see
        ``copy_keeper``): the child keeps them, its exit closes them."""
        taken = []
        # Newest first, up to the fork: a child makes its first socket call
        # soon after it, and a busy forking server holds the FINs of 2 s
        # of closes (PostgreSQL under pgbench -C: a fork per connection).
        for key, (owner, fin) in reversed(self.items()):
            if fin[1] <= time:
                break
            taken.append((key, owner, fin))
        for key, owner, fin in taken:
            conversation, side = key
            event = fin[4]
            first_used = conversation.first_used[side]
            if (event["pid"] == parent and event["syscall"] != "shutdown"
                    and not event.get("peer_end")
                    and first_used is not None and first_used < time):
                del self[key]
                self.kept[key] = (owner, fin)
                self.copies_closed += 1
                self.users.saw(owner, conversation, side, dict(event, pid=child))

    def shut_down(self, owner, conversation, side, links, event, may_wait=True):
        """Packets of ``side``'s shutdown(SHUT_WR) ``event``: its FIN at once
        (shutdown acts on the socket itself, whatever other fds share it),
        or, where ``may_wait`` and its traced reader has still to read bytes
        strace did not print, held to go after them, as a close()'s."""
        conversation.writes_shut.add(side)
        if self._held_peer_end(conversation, side) is not None:
            return []  # its socket met the peer's RST: it sends no FIN
        if may_wait and conversation.awaits_reader(side):
            return self.hold(owner, conversation, side, links, event)
        return self.send(owner, side, event["time"], links, side, event)

    def at_exit(self, used, exited, protocol, links_of):
        """The packets of the FINs held before the exit event ``exited``
        that its time releases.  Then hold, as for a close(), the FIN of
        each end still open of the connections ``used`` (``(conversation,
        owner)`` pairs) whose last syscall was by the thread that exited,
        unless it ended alone: the kernel closes a process's sockets when it
        ends (a thread of it still using one cancels the FIN, as for a
        close).  ``links_of(conversation, event)``: the link headers of an
        event."""
        released = self.release_due(exited["time"]) if self else []
        if exited["alone"]:
            return released
        for conversation, owner in used:
            for side in (0, 1):
                user = conversation.users[side]
                if (user is None or user[0] != exited["pid"] or (conversation, side) in self
                        or conversation.aborted or conversation.directions[side].fin_sent
                        and not conversation.closing_resets(side, exiting=True)):
                    continue
                pid, fd, session = user
                event = {"pid": pid, "time": exited["time"], "duration": None,
                         "syscall": "exit", "result": 0, "error": None, "fd": fd,
                         "session": session, "protocol": protocol, "comm": exited["comm"],
                         "direction": None, "payload": b"", "length": 0, "how": None,
                         "local": None, "remote": None, "inode": None, "peer_inode": None,
                         "path": None, "peer_path": None,
                         # Whether it left bytes unread now: the peer's
                         # later bytes meet a closed socket (FIN, then RST).
                         "unread": conversation.resets_at_close(side, exiting=True)}
                if "process" in exited:  # pcapng: the thread's process (ProcessNames)
                    event["process"] = exited["process"]
                released += self.hold(owner, conversation, side, links_of(conversation, event),
                                      event)
        if self.forks:
            # Its copies ended with it, where it was the last user or not:
            # a close by a process forked before may be the socket's last.
            for conversation, _owner in used:
                conversation.closed_at = [exited["time"], exited["time"]]
        for conversation, _owner in used:
            for holders in conversation.dup_fds:
                if holders:
                    holders.pop(exited["pid"], None)  # its dups are closed
        return released

    def peer_closed(self, owner, conversation, side, links, event):
        """Packets of a read of 0 bytes by ``side``: the peer's FIN, the held
        one of its close() if the trace has it, else one at this read.  A
        FIN already out (a shutdown's) is the one read: a close held since
        stays held (it may be a copy's, whose other fd goes on)."""
        if conversation.directions[1 - side].fin_sent:
            return []
        held = self.pop((conversation, 1 - side), None)
        if held is not None:
            return self._send(held[0], conversation, held[1])
        return self.send(owner, 1 - side, receive_time(event), links, side, event)

    def peer_reset(self, owner, conversation, side, links, event):
        """Packets of ``side``'s call ``event`` that failed meeting the
        peer's RST (see PEER_RESET): the FIN of the peer's close() held, or
        where it failed with EPIPE, the peer's FIN (its end shut down, then
        closed with bytes unread: it never read 0, proxies rarely do), then
        that RST.  Where the peer is not traced, they wait for this side's
        reads (see ``_send``): its kernel still returns the bytes the peer
        sent before them (php-fpm read nginx's last 8 bytes after its write
        failed with EPIPE: they came after the FIN, a sequence number late)."""
        if self._held_peer_end(conversation, side) is not None:
            return []  # its end waits already
        held = self.get((conversation, 1 - side))
        if held is not None:  # (this side's went at its read)
            # The peer's close (or exit) held was its socket's: its FIN,
            # then this RST; or its RST, at its time, if it closed with
            # bytes unread.
            packets = self.release_of(conversation)
        elif 1 - side not in conversation.traced_sides:
            self[(conversation, 1 - side)] = (owner, (1 - side, receive_time(event), links, side,
                                                      dict(event, peer_end=event["error"])))
            return []
        elif event["error"] == "EPIPE":
            packets = self.peer_closed(owner, conversation, side, links, event)
        else:
            packets = []
        return packets + conversation.reset(1 - side, receive_time(event), links, side, event)

    def peer_end_before(self, conversation, side, event):
        """Packets of the untraced peer's end held for ``side``'s reads (see
        ``peer_reset``) that ``event``, a call of ``side`` other than its
        close, lets out before its own: any but a read of bytes, a call
        failing as the one that met that end and a shutdown (which sends
        nothing then, see ``shut_down``: Node's servers shut down after
        EPIPE and then read the client's last bytes, which came after its
        FIN and RST, a sequence number late)."""
        held = self._held_peer_end(conversation, side)
        if (held is None or event["direction"] == "in" and event["length"]
                or event["error"] in PEER_RESET or event["syscall"] == "shutdown"):
            return []
        del self[(conversation, 1 - side)]
        return self._send(held[0], conversation, held[1])

    def _held_peer_end(self, conversation, side):
        """What is held of the end of ``side``'s untraced peer (see
        ``peer_reset``), or None."""
        held = self.get((conversation, 1 - side))
        return held if held is not None and held[1][4].get("peer_end") else None

    def _send(self, owner, conversation, fin):
        """Packets of ``fin``, a held FIN (see ``hold``), or an untraced
        peer's end held at this side's call that met it (see
        ``peer_reset``): its FIN, where the call failed with EPIPE, and its
        RST, after the bytes this side read since, when it reads 0, closes,
        exits, or FIN_HOLD_SECONDS later."""
        end = fin[4].get("peer_end")
        if end is None:
            return self.send(owner, *fin)
        sender, time, links, traced_side, event = fin
        time = max(time, conversation.last_time)
        packets = (self.send(owner, sender, time, links, traced_side, event)
                   if end == "EPIPE" else [])
        return packets + conversation.reset(sender, time, links, traced_side, event)

    def earliest(self):
        """The close() time of the oldest FIN held, or None."""
        for _owner, fin in self.values():
            return fin[1]
        return None

    def release_due(self, now):
        """Packets of the FINs held since before ``now`` - FIN_HOLD_SECONDS
        (all of them for ``now`` infinite).  One whose end's bytes its
        traced reader has still to read (``awaits_reader``: a slow client
        of a server that closed) is held on, as if closed ``now``: it goes
        after the reads that carry them."""
        if now == float("inf"):
            packets = self.release_closed_before(now)
            for (conversation, _side), (owner, fin) in list(self.kept.items()):
                packets += self._send(owner, conversation, _keeper_unseen(conversation, fin))
            self.kept.clear()
            return packets
        return self.release_closed_before(now - FIN_HOLD_SECONDS, now)

    def release_closed_before(self, time, held_on=None):
        """Packets of the FINs of the close() calls before ``time``; with
        ``held_on``, those awaiting their reader are held on as if closed
        then (see ``release_due``)."""
        packets = []
        while self:
            key, (owner, fin) = next(iter(self.items()))
            if fin[1] >= time:
                break
            del self[key]
            if held_on is not None and key[0].awaits_reader(key[1]):
                self[key] = (owner, fin[:1] + (held_on,) + fin[2:])
            else:
                packets += self._send(owner, key[0], fin)
        return packets

    def release_of(self, conversation):
        """Packets of the FINs held for either side of ``conversation``."""
        packets = []
        for side in (0, 1):
            held = self.pop((conversation, side), None)
            if held is not None:
                packets += self._send(held[0], conversation, held[1])
        return packets


def _keeper_unseen(conversation, fin):
    """``fin``, a kept copy's close (see ``HeldFins.kept``), as let out at
    the end of input: its keeper's end, which the trace does not show, as
    a FIN after all its connection carried, never a RST (nothing tells
    that the keeper left bytes unread: a cut trace of nginx sent its
    master's last channel message to a worker and had the worker's end
    reset at once)."""
    sender, time, links, traced_side, event = fin
    event = dict(event, keeper_unseen=True)
    event.pop("seqs_at_close", None)
    return sender, max(time, conversation.last_time), links, traced_side, event


class LastUsers:
    """The connections each thread made the latest syscall of one end of,
    for the FINs of its exit: {pid: OrderedDict(conversation -> owner)}, at
    most USERS_KEPT a thread (the oldest forgotten), a thread's forgotten
    at its exit.  ``owner`` is what the packetizer keeps per connection."""

    def __init__(self):
        self.by_thread = {}

    def saw(self, owner, conversation, side, event):
        """``event``'s thread made the latest syscall of ``side``.  Where
        that is new, the thread's oldest connections that are over (see
        ``TcpConversation.over``: their exit sends nothing) are forgotten,
        the others go to the back: its table holds about its open ones (a
        helper's nginx, 2 workers and 94 308 short connections, kept 32 768
        closed ones: 183 MB)."""
        pid, fd, session = event["pid"], event["fd"], event["session"]
        user = conversation.users[side]
        if user is None or user[0] != pid or user[1] != fd or user[2] != session:
            if user is None:
                conversation.first_used[side] = event["time"]
            conversation.users[side] = (pid, fd, session)
            used = self.by_thread.setdefault(pid, OrderedDict())
            bounded_put(used, conversation, owner, USERS_KEPT)
            for oldest in list(islice(used, USERS_PRUNED)):
                if oldest.over():
                    del used[oldest]
                else:
                    used.move_to_end(oldest)

    def endpoints_used(self, pid, fd, session):
        """``(local, remote)``: the endpoints of the connection whose side
        thread ``pid`` used last by ``fd`` in its fd ``session``, as the
        wire shows them; None if none."""
        for conversation in reversed(self.by_thread.get(pid, ())):
            for side, user in enumerate(conversation.users):
                if user == (pid, fd, session):
                    return conversation.endpoints[side], conversation.endpoints[1 - side]
        return None

    def ended(self, pid):
        """The ``(conversation, owner)`` pairs thread ``pid`` used, which
        has ended: it is forgotten."""
        return self.by_thread.pop(pid, {}).items()


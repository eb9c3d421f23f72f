"""Tables the INET and UNIX packetizers both keep, bounded so that a long
trace cannot grow them: ``bounded_put`` for any ``OrderedDict``,
``DatagramSightings``, which writes a datagram once when the syscalls of
both its ends show it, and ``ForkTimes``, when forked processes forked."""

from collections import OrderedDict, deque

# A datagram's key holds the hash of its first bytes, not its length: a read
# shorter than the datagram (recv(fd, buf, 100) of 5 000 bytes) shows no
# more, and the table must not hold 64 KiB datagrams.
DATAGRAM_KEY_BYTES = 8
# The first bytes of a datagram kept to tell it from others of the same key
# when one end shows fewer of its bytes (see ``datagram_body``).
DATAGRAM_HEAD_BYTES = 64
# The other end's sightings of a key a sighting looks through, the newest.
SIGHTINGS_SCANNED = 256
# Forked processes whose fork time is kept, and children of one thread (see ForkTimes).
FORKS_KEPT = 1 << 16
CHILDREN_KEPT = 64


def bounded_put(mapping, key, value, limit):
    """Store into an OrderedDict as its newest entry, dropping the oldest
    beyond ``limit``."""
    mapping.pop(key, None)
    mapping[key] = value
    if len(mapping) > limit:
        mapping.popitem(last=False)


class DatagramSightings:
    """Datagrams one end's syscall showed and the other's not yet, per key
    (the caller's: addresses, length, payload or its hash) and per end; the
    oldest of more than ``limit`` keys are forgotten, and the oldest keys
    while more than 4 ``limit`` sightings are held (a server traced alone
    reads datagrams no other end shows).  A sighting may also
    carry ``ends``, a tuple of what the key leaves out and one end may not
    know (a sender's address that recv() did not ask for): None in it
    matches anything."""

    def __init__(self, limit):
        self.limit = limit
        # key -> (inbound, outbound) sightings not yet met, each a list of
        # (ends, time, body), oldest first.  Per end: a sighting looks only
        # at the other end's (a statsd server traced alone, its datagrams'
        # first bytes all alike: 10 000 of them 7 s, 20 000 17 s, each
        # sighting going through all before it).
        self.sightings = {}
        # The keys, oldest first: a dict and a deque cost half an OrderedDict
        # (0.43 -> 0.21 us a new key).
        self.keys = deque()
        self.held = 0  # sightings in all keys

    def seen_from_other_end(self, key, outbound, ends=None, time=True, body=None):
        """The ``time`` the other end's syscall wrote this datagram at, if
        it did (that sighting consumed); otherwise None, and this one is
        recorded with its own ``time``.  ``body`` (see ``datagram_body``)
        tells datagrams of one key apart: syslog lines of one priority
        and second share their first bytes, and the read of an untraced
        sender's took the place of a traced sender's (a helper's logger:
        the one lost, the other written twice)."""
        pending = self.sightings.get(key)
        if pending is None:
            pending = self.sightings[key] = ([], [])
            self.keys.append(key)
            if len(self.keys) > self.limit:
                self._forget_oldest_key()
        others = pending[not outbound]
        # The newest SIGHTINGS_SCANNED, oldest first: a server reading many
        # untraced senders' datagrams beside a traced one's had each of the
        # traced one's go through all theirs (44 000 statsd lines, 1 in 10
        # traced: 24 s).
        first = max(0, len(others) - SIGHTINGS_SCANNED)
        for index in range(first, len(others)):
            seen_ends, seen_time, seen_body = others[index]
            if (seen_ends == ends or _meet(seen_ends, ends)) and _same_body(seen_body, body):
                del others[index]
                self.held -= 1
                return seen_time
        pending[outbound].append((ends, time, body))
        self.held += 1
        while self.held > 4 * self.limit:
            self._forget_oldest_key()
        return None

    def _forget_oldest_key(self):
        inbound, outbound = self.sightings.pop(self.keys.popleft())
        self.held -= len(inbound) + len(outbound)


def datagram_body(printed, length):
    """What ``DatagramSightings`` compares of a datagram whose syscall
    showed the bytes ``printed`` of its ``length``: the length, how many
    bytes were shown, their hash and the first DATAGRAM_HEAD_BYTES."""
    return length, len(printed), hash(printed), printed[:DATAGRAM_HEAD_BYTES]


def _same_body(body, other):
    """True if two ``datagram_body`` tuples (or None: unknown) may be of one
    datagram: all their bytes agree where both ends showed as many of the
    same length, else their first bytes shown (a read into a shorter
    buffer, strace's -s)."""
    if body is None or other is None:
        return True
    if body[:2] == other[:2]:
        return body[2] == other[2]
    shown = min(body[1], other[1], DATAGRAM_HEAD_BYTES)
    return body[3][:shown] == other[3][:shown]


def _meet(ends, other_ends):
    """True if two ``ends`` tuples agree wherever both are known."""
    return all(end is None or other is None or end == other
               for end, other in zip(ends, other_ends))


class ForkTimes(OrderedDict):
    """When each forked process seen (a thread id the parser found a fork or
    clone without CLONE_FILES return, see ``fork_finder``), and each thread
    of one, was forked and by which thread, for telling the closes of the
    sockets they share (see ``tcp_flow.HeldFins``): {thread id: (fork time,
    forking thread id)}, the latest FORKS_KEPT until their exit; and
    ``children``, {forking thread id: [forked process, ...]}, those that
    had not exec'd when seen (exec closes close-on-exec fds: it may hold
    none of its parent's sockets), the latest CHILDREN_KEPT of each.
    ``recorded`` counts the process events told."""

    def __init__(self):
        super().__init__()
        self.children = {}
        self.recorded = 0

    def created(self, event):
        """Learn from a process event: a clone or fork that returned a
        forked process or a thread sharing the fds of one, or an execve."""
        self.recorded += 1
        child, parent = event["child"], event["pid"]
        if child is None:
            self._execed(parent)
        elif not event["shares_fds"]:
            bounded_put(self, child, (event["time"], parent), FORKS_KEPT)
            if not event.get("execed"):
                children = self.children.setdefault(parent, [])
                children.append(child)
                del children[:-CHILDREN_KEPT]
        elif parent in self:
            bounded_put(self, child, self[parent], FORKS_KEPT)

    def keeping_child(self, parent, since, closed):
        """The newest child of thread ``parent`` forked after ``since``,
        seen not to have exec'd and whose fork is not in ``closed``, or None."""
        for child in reversed(self.children.get(parent, ())):
            fork = self.get(child)
            if fork is not None and fork[0] > since and fork not in closed:
                return child
        return None

    def may_share_fds(self, first, second):
        """False if threads ``first`` and ``second`` are known to be of two
        processes: forked apart, or one forked by the other."""
        first_fork, second_fork = self.get(first), self.get(second)
        if first_fork is not None and second_fork is not None:
            return first_fork == second_fork
        if first_fork is not None:
            return first_fork[1] != second
        return second_fork is None or second_fork[1] != first

    def ended(self, tid):
        """Thread ``tid`` exited: its id may be another's later."""
        fork = self.pop(tid, None)
        self.children.pop(tid, None)
        if fork is not None:
            self._execed(tid, fork[1])

    def _execed(self, tid, parent=None):
        """Thread ``tid`` exec'd (or ended): no child of ``parent`` (its
        forking thread, if known) to keep its sockets."""
        if parent is None:
            fork = self.get(tid)
            parent = fork[1] if fork is not None else None
        siblings = self.children.get(parent)
        if siblings is not None and tid in siblings:
            siblings.remove(tid)

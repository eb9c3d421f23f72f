"""Tables the INET and UNIX packetizers both keep, bounded so that a long
trace cannot grow them: ``bounded_put`` for any ``OrderedDict``, and
``DatagramSightings``, which writes a datagram once when the syscalls of
both its ends show it."""

from collections import OrderedDict, deque

# A datagram's key holds the hash of its first bytes, not its length: a read
# shorter than the datagram (recv(fd, buf, 100) of 5 000 bytes) shows no
# more, and the table must not hold 64 KiB datagrams.
DATAGRAM_KEY_BYTES = 8


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
    oldest of more than ``limit`` keys are forgotten.  A sighting may also
    carry ``ends``, a tuple of what the key leaves out and one end may not
    know (a sender's address that recv() did not ask for): None in it
    matches anything."""

    def __init__(self, limit):
        self.limit = limit
        self.sightings = {}      # key -> [(outbound, ends, time), ...] not yet met
        # The keys, oldest first: a dict and a deque cost half an OrderedDict
        # (0.43 -> 0.21 us a new key).
        self.keys = deque()

    def seen_from_other_end(self, key, outbound, ends=None, time=True):
        """The ``time`` the other end's syscall wrote this datagram at, if
        it did (that sighting consumed); otherwise None, and this one is
        recorded with its own ``time``."""
        pending = self.sightings.get(key)
        if pending is None:
            self.sightings[key] = [(outbound, ends, time)]
            self.keys.append(key)
            if len(self.keys) > self.limit:
                del self.sightings[self.keys.popleft()]
            return None
        for index, (seen_outbound, seen_ends, seen_time) in enumerate(pending):
            if seen_outbound != outbound and (seen_ends == ends or _meet(seen_ends, ends)):
                del pending[index]
                return seen_time
        pending.append((outbound, ends, time))
        return None


def _meet(ends, other_ends):
    """True if two ``ends`` tuples agree wherever both are known."""
    return all(end is None or other is None or end == other
               for end, other in zip(ends, other_ends))

"""Tables the INET and UNIX packetizers both keep, bounded so that a long
trace cannot grow them: ``bounded_put`` for any ``OrderedDict``, and
``DatagramSightings``, which writes a datagram once when the syscalls of
both its ends show it."""

from collections import OrderedDict, deque


def bounded_put(mapping, key, value, limit):
    """Store into an OrderedDict as its newest entry, dropping the oldest
    beyond ``limit``."""
    mapping.pop(key, None)
    mapping[key] = value
    if len(mapping) > limit:
        mapping.popitem(last=False)


class DatagramSightings:
    """Datagrams one end's syscall showed and the other's not yet, counted
    per key (the caller's: addresses, length, payload or its hash) and per
    end; the oldest of more than ``limit`` keys are forgotten."""

    def __init__(self, limit):
        self.limit = limit
        self.sightings = {}      # key -> [inbound count, outbound count]
        # The keys, oldest first: a dict and a deque cost half an OrderedDict
        # (0.43 -> 0.21 us a new key).
        self.keys = deque()

    def seen_from_other_end(self, key, outbound):
        """True if the other end's syscall already wrote this datagram (and
        consume that sighting); otherwise record this one."""
        sightings = self.sightings.get(key)
        if sightings is None:
            sightings = self.sightings[key] = [0, 0]
            self.keys.append(key)
            if len(self.keys) > self.limit:
                del self.sightings[self.keys.popleft()]
        other = 1 if outbound else 0
        if sightings[other]:
            sightings[other] -= 1
            return True
        sightings[1 - other] += 1
        return False

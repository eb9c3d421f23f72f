"""Tables the INET and UNIX packetizers both keep, bounded so that a long
trace cannot grow them: ``bounded_put`` for any ``OrderedDict``, and
``DatagramSightings``, which writes a datagram once when the syscalls of
both its ends show it."""

from collections import OrderedDict


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
        self.sightings = OrderedDict()   # key -> [inbound count, outbound count]

    def seen_from_other_end(self, key, outbound):
        """True if the other end's syscall already wrote this datagram (and
        consume that sighting); otherwise record this one."""
        sightings = self.sightings.get(key)
        if sightings is None:
            sightings = self.sightings[key] = [0, 0]
            if len(self.sightings) > self.limit:
                self.sightings.popitem(last=False)
        other = 1 if outbound else 0
        if sightings[other]:
            sightings[other] -= 1
            return True
        sightings[1 - other] += 1
        return False

"""Packets written in time order, though a few are made after later ones.

The packetizers make most packets in the order of their times, but not all:
a close()'s FIN waits until no other process may still use the socket
(``tcp_flow.HeldFins``, up to FIN_HOLD_SECONDS), the handshake of a
non-blocking connect() waits for a syscall that shows its port, a datagram
waits for its source port, a sendfile's packets for their reader's line.
Each packetizer tells, by ``earliest_held()``, the time of the oldest such
packet it may still make; ``TimeOrder`` holds
back the packets after that time and writes them once the late ones are out,
every packet in its place.

It holds at most MAX_LATE seconds of trace time, MAX_HELD packets and
MAX_HELD_BYTES of frames.  Full, it first asks ``release_held(time)`` for
the FINs held since before the oldest packet it must let out, taken for
the connections' ends (a one-sided trace's close() followed by megabytes
within the hold: else the FIN comes after them); a packet older than what
was already written still goes out where it comes (a handshake that waits
for its port), and is counted in ``out_of_order``.
"""

import heapq

from tcp_flow import FIN_HOLD_SECONDS

# Trace time a packet is held back for a late one: the FIN hold and a margin.
MAX_LATE = FIN_HOLD_SECONDS + 1.0
# Packets, and bytes of their frames, held at most: a packet holds its frame
# and its event (about 1 KB, and the payload again).  With 10 000 packets and
# no byte bound, bench bulk's peak RSS was 212 MB (64 KiB frames held behind
# FINs), small's 28 MB at 1x and 34 MB at 4x, instead of 19 MB.
MAX_HELD = 2000
MAX_HELD_BYTES = 4 << 20


class TimeOrder:
    """Packets ``(time, frame, wire_length, event, outbound)`` in, to
    ``write(packet)`` in time order; ``written`` counts them.
    ``release_held(time)``: the packets of the FINs held since before
    ``time``, let out early (see the module docstring)."""

    def __init__(self, write, release_held=None):
        self.write = write
        self.release_held = release_held
        self.held = []  # heap of (time, arrival number, packet)
        self.held_bytes = 0
        self.arrivals = 0
        self.latest = float("-inf")    # the latest time held
        self.last_out = float("-inf")  # the latest time written
        self.written = 0
        self.out_of_order = 0

    def add(self, packets, earliest_held):
        """Take ``packets``; write those no packet still to come precedes:
        the ones before ``earliest_held`` (None: the packetizers hold
        nothing), all of them when that is more than MAX_LATE seconds
        behind the latest packet (too late to wait for)."""
        held = self.held
        if earliest_held is not None and earliest_held < max(self.latest,
                                                             self.last_out) - MAX_LATE:
            earliest_held = None
        if not held and earliest_held is None:
            self.write_all(packets)  # the common case: nothing late anywhere
            return
        self._hold(packets)
        due = float("inf") if earliest_held is None else earliest_held
        ready = []
        while held and (held[0][0] <= due or len(held) > MAX_HELD
                        or self.held_bytes > MAX_HELD_BYTES):
            if held[0][0] > due and self.release_held is not None:
                released = self.release_held(held[0][0])
                if released:
                    self._hold(released)
                    continue
            packet = heapq.heappop(held)[2]
            self.held_bytes -= len(packet[1])
            ready.append(packet)
        self.write_all(ready)

    def _hold(self, packets):
        """Put ``packets`` on the heap of those held."""
        held = self.held
        for packet in packets:
            self.arrivals += 1
            heapq.heappush(held, (packet[0], self.arrivals, packet))
            self.held_bytes += len(packet[1])
            if packet[0] > self.latest:
                self.latest = packet[0]

    def write_all(self, packets):
        """Write ``packets`` now, in their order (when nothing is ``held``
        and no packetizer holds anything, they need no waiting)."""
        write = self.write
        last_out = self.last_out
        for packet in packets:
            if packet[0] < last_out:
                self.out_of_order += 1
            else:
                last_out = packet[0]
            write(packet)
        self.last_out = last_out
        self.written += len(packets)

"""HTTP/2 framing for the unix synthesiser: frame-boundary alignment and the
bytes injected to make Wireshark decode a flow seen mid-stream.

``FrameAligner`` takes one direction's bytes in the chunks the syscalls
moved and returns them cut on frame boundaries (RFC 9113 section 4.1: a
9-byte header whose first 3 bytes are the payload length), so that each
TCP segment holds whole frames whatever sizes the process read.  It parses
only frame headers, jumping from one to the next: linear in the bytes.  It
holds at most one incomplete frame of up to ``MAX_HELD`` bytes; the bytes of
a larger frame pass through as they come.  Bytes that do not parse as frames
(a flow first seen mid-stream, a payload cut by strace's ``-s``) are
returned at once, unaligned, while a forward-only scan looks for the next
frame boundary: no byte is dropped, none is looked at twice.
"""

import re
import struct

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# Length (24 bits) and type in one word, flags, reserved bit and stream id.
FRAME_HEADER = struct.Struct("!IBI")
HEADER_SIZE = 9
DATA, HEADERS, SETTINGS = 0x0, 0x1, 0x4
FLAG_ACK = 0x1
FLAG_END_HEADERS = 0x4
# A frame larger than this is passed through instead of being held whole.
MAX_HELD = 1 << 18
# Keep segments within one IP packet (tcp_utils.MAX_SEGMENT) where frames allow.
SEGMENT_TARGET = 65495
# And at most this many frames a segment: Wireshark gives up on a packet of
# more ("failed assertion saved_layers_len < prefs.gui_max_tree_depth": a
# helper's dockerd read 247 small gRPC DATA frames at once, 8 packets
# Malformed and their messages lost).
SEGMENT_FRAMES = 32
# Largest frame accepted when looking for a boundary in bytes of unknown
# framing: the default SETTINGS_MAX_FRAME_SIZE (RFC 9113 section 6.5.2).
RESYNC_MAX_LENGTH = 1 << 14
# The frame after it, which confirms the boundary, may be as long as the
# setting allows at most: gRPC raises it to 4 MiB and sends a large
# message's DATA frames that long.
LONGEST_FRAME = (1 << 24) - 1

# Per frame type: (flags allowed, stream id 0 required / forbidden / either,
# exact payload length or None), RFC 9113 section 6.
FRAME_RULES = {
    0x0: (0x09, False, None),   # DATA: END_STREAM, PADDED
    0x1: (0x2D, False, None),   # HEADERS: END_STREAM, END_HEADERS, PADDED, PRIORITY
    0x2: (0x00, False, 5),      # PRIORITY
    0x3: (0x00, False, 4),      # RST_STREAM
    0x4: (0x01, True, None),    # SETTINGS: ACK; length a multiple of 6
    0x5: (0x0C, False, None),   # PUSH_PROMISE: END_HEADERS, PADDED
    0x6: (0x01, True, 8),       # PING: ACK
    0x7: (0x00, True, None),    # GOAWAY
    0x8: (0x00, None, 4),       # WINDOW_UPDATE
    0x9: (0x04, False, None),   # CONTINUATION: END_HEADERS
}
# Where a frame header of at most RESYNC_MAX_LENGTH bytes may start: length
# high byte 0, next byte <= 0x40, a known type, reserved bit clear.  The
# regex scan runs at C speed (its literal first byte lets re skip ahead; a
# lookahead would not); each hit is then checked against FRAME_RULES.
RESYNC_CANDIDATE = re.compile(rb"\x00[\x00-\x40][\x00-\xff][\x00-\x09][\x00-\xff][\x00-\x7f]",
                              re.DOTALL)


def frame_header(data, offset=0):
    """``(length, type, flags, stream id)`` of the frame header at ``offset``."""
    length_and_type, flags, stream = FRAME_HEADER.unpack_from(data, offset)
    return length_and_type >> 8, length_and_type & 0xFF, flags, stream & 0x7FFFFFFF


def plausible_frame(data, offset=0, longest=RESYNC_MAX_LENGTH):
    """True if a known frame type's header at ``offset`` obeys its rules
    (flags, stream 0 or not, fixed lengths, at most ``longest`` bytes)."""
    length, kind, flags, stream = frame_header(data, offset)
    rules = FRAME_RULES.get(kind)
    if rules is None or length > longest or data[offset + 5] & 0x80:
        return False
    allowed_flags, stream_zero, exact_length = rules
    if flags & ~allowed_flags or (exact_length is not None and length != exact_length):
        return False
    if stream_zero is not None and (stream == 0) != stream_zero:
        return False
    return kind != SETTINGS or length % 6 == 0


def starts_as_http2(data, client):
    """Whether the first bytes of a connection's direction look like HTTP/2:
    the client preface (at least its first 3 bytes) from the client, a
    SETTINGS frame from the server."""
    if client:
        return len(data) >= 3 and PREFACE.startswith(data[:len(PREFACE)])
    return (len(data) >= HEADER_SIZE and data[3] == SETTINGS
            and plausible_frame(data))


def frame(kind, flags, stream, payload=b""):
    """One HTTP/2 frame's bytes."""
    length = len(payload)
    return FRAME_HEADER.pack(length << 8 | kind, flags, stream) + payload


def seed_frames():
    """``(client first, server, client second)``: the bytes that open an
    HTTP/2 connection: preface + SETTINGS, SETTINGS + ACK, ACK."""
    settings, ack = frame(SETTINGS, 0, 0), frame(SETTINGS, FLAG_ACK, 0)
    return PREFACE + settings, settings + ack, ack


def iter_frames(chunk):
    """``(offset, length, type, flags, stream id)`` of each frame of a chunk
    of whole frames (as ``FrameAligner`` returns them)."""
    offset = 0
    last_start = len(chunk) - HEADER_SIZE
    while offset <= last_start:
        # frame_header() written out: 1.6 -> 1.3 us a chunk of the unix bench.
        length_and_type, flags, stream = FRAME_HEADER.unpack_from(chunk, offset)
        length = length_and_type >> 8
        yield offset, length, length_and_type & 0xFF, flags, stream & 0x7FFFFFFF
        offset += HEADER_SIZE + length


class FrameAligner:
    """One direction of an HTTP/2 connection, cut on frame boundaries.

    ``feed(data)`` returns ``[(chunk, whole_frames)]``: the bytes that can
    go out now, in order; ``whole_frames`` is False for bytes of unknown
    framing.  ``drain()`` returns what is held (at close, at the end).
    """

    def __init__(self, expect_preface=False, synced=True):
        self.held = bytearray()
        self.synced = synced
        self.expect_preface = expect_preface
        self.pass_through = 0      # bytes of an oversized frame still to come
        self.resync_from = 0       # unsynced: first offset in held not yet scanned

    def feed(self, data):
        """Take the next bytes of the direction; return the chunks to emit."""
        chunks = []
        if self.pass_through:
            through = min(self.pass_through, len(data))
            chunks.append((bytes(data[:through]), False))
            self.pass_through -= through
            data = data[through:]
        if self.synced and not self.held and not self.expect_preface:
            # Nothing held: frames are cut from ``data`` itself, not copied
            # into ``held`` and out again.
            return chunks + self._cut_frames(data)
        self.held += data
        if not self.synced:
            chunks += self._resync(read_start=len(self.held) == len(data))
        if self.synced:
            chunks += self._cut_frames(self.held)
        return chunks

    def drain(self):
        """All held bytes; afterwards the aligner looks for frames anew."""
        held = bytes(self.held)
        self.held.clear()
        self.resync_from = 0
        self.pass_through = 0
        self.synced = False
        self.expect_preface = False
        return held

    def _cut_frames(self, buffer):
        """Chunks of the whole frames at the start of ``buffer`` (``held``,
        or new bytes when none are held); the rest is held."""
        position = 0
        if self.expect_preface:
            if len(buffer) < len(PREFACE) and PREFACE.startswith(buffer):
                return []
            if not buffer.startswith(PREFACE):
                self.synced, self.expect_preface, self.resync_from = False, False, 0
                return self._resync()
            self.expect_preface = False
            position = len(PREFACE)
        chunks = []
        chunk_start = 0
        frames = 0  # in the chunk from chunk_start
        size = len(buffer)
        while size - position >= HEADER_SIZE:
            if buffer[position + 5] & 0x80:  # reserved bit set: not a frame header
                self._emit(chunks, buffer, chunk_start, position)
                self._hold(buffer, position)
                self.synced = False
                self.resync_from = 0
                return chunks + self._resync()
            # The length alone, not frame_header(): 0.24 -> 0.1 us a frame.
            end = position + HEADER_SIZE + (FRAME_HEADER.unpack_from(buffer, position)[0] >> 8)
            if end > size:
                if end - position > MAX_HELD:
                    # Too big to hold: its start goes now, the rest as it comes.
                    self._emit(chunks, buffer, chunk_start, position)
                    chunks.append((bytes(buffer[position:]), False))
                    self.pass_through = end - size
                    self._hold(buffer, size)
                    return chunks
                break
            if position > chunk_start and (end - chunk_start > SEGMENT_TARGET
                                           or frames == SEGMENT_FRAMES):
                self._emit(chunks, buffer, chunk_start, position)
                chunk_start, frames = position, 0
            position = end
            frames += 1
        self._emit(chunks, buffer, chunk_start, position)
        self._hold(buffer, position)
        return chunks

    @staticmethod
    def _emit(chunks, buffer, start, end):
        if end > start:
            chunks.append((bytes(buffer[start:end]), True))

    def _hold(self, buffer, start):
        """Hold ``buffer[start:]``, the bytes not cut yet."""
        if buffer is self.held:
            del buffer[:start]
        elif start < len(buffer):
            self.held += buffer[start:]

    def _resync(self, read_start=False):
        """Look for a frame boundary from ``resync_from`` on; return the bytes
        before it, unaligned.  A plausible header counts as a boundary when
        the next header is plausible too, or when its frame ends exactly
        where the bytes so far end; while that cannot be told yet, the bytes
        from the candidate on are held (at most one small frame).  Where
        the held bytes are those of one syscall (``read_start``), their
        first may open a frame of any length: writers write whole frames
        (gRPC's DATA frames run to 4 MiB)."""
        held = self.held
        if (read_start and len(held) >= HEADER_SIZE and plausible_frame(held, 0, LONGEST_FRAME)
                and self._boundary_at(HEADER_SIZE + frame_header(held, 0)[0])):
            self.synced = True
            return []
        while True:
            found = RESYNC_CANDIDATE.search(held, self.resync_from)
            if found is None:
                # The last 5 bytes are too few for the pattern: keep them.
                return self._release(len(held) - 5)
            start = found.start()
            if start + HEADER_SIZE > len(held):
                return self._release(start)
            if not plausible_frame(held, start):
                self.resync_from = start + 1
                continue
            end = start + HEADER_SIZE + frame_header(held, start)[0]
            if self._boundary_at(end):
                chunks = self._release(start)
                self.synced = True
                return chunks
            if end + HEADER_SIZE <= len(held):
                self.resync_from = start + 1
                continue
            return self._release(start)

    def _boundary_at(self, end):
        """True if a frame ending at ``end`` confirms the header that opens
        it: the bytes held end there, or another plausible header (of any
        length) begins there."""
        held = self.held
        return end == len(held) or (end + HEADER_SIZE <= len(held)
                                    and plausible_frame(held, end, LONGEST_FRAME))

    def _release(self, end):
        """Return ``held[:end]`` as one unaligned chunk and forget it."""
        end = max(0, end)
        if end == 0:
            return []
        chunk = bytes(self.held[:end])
        del self.held[:end]
        self.resync_from = max(0, self.resync_from - end)
        return [(chunk, False)]

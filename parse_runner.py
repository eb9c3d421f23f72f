"""Running the parse stage: in this process, or in a child on a second CPU.

Parsing the lines and making the packets take about the same time, so on
a machine with two CPUs the converter forks: the child reads the trace and
parses it, the parent packetizes and writes the pcap (wall time, median of
3 on the bench traces: small 4.65 -> 3.60 s, udp -26%, unix -34%, noise
-21%; bulk, all hex decoding, the same).  Both runners give the same
batches, so the packets and the pcap are the same byte for byte:

``runner.batches(on_idle)`` yields ``(events, flags)`` per block of input
lines: the block's socket events, and the strace options the trace shows
so far (see ``ParseStage``).  ``on_idle()`` is called before
blocking on ``runner.fd``.  After a ``Stop``, ``stop(signum)`` ends the
parsing at its next block and ``rest()`` yields the batches parsed until
then.  ``finish()`` returns the parser, with its counts, the signal
that stopped the child if one did, and the input's damage (see
``trace_input.Trace.damage``).

The child sends the batches of consecutive blocks as one message on a pipe
(see ``Batch``: up to BATCH_EVENTS events or BATCH_TEXT characters of
trace, sent at once when its input would block): a tag byte, a 4-byte length, then the events ``marshal``-ed
(most of them packed tuples, see ``strace_parser.unpack_event``, the
others dicts of str, int, float, bytes and tuples, for which marshal cost
15% less than pickle), and last its parser, pickled.
"""

import marshal
import os
import pickle
import struct
import sys
import time
import traceback

from stop_signals import Stop
from trace_input import CHUNK_SIZE, is_live, read_chunks

HEADER = struct.Struct("<cI")
EVENTS = b"E"
END = b"Z"
# Exit status of a child that failed (its traceback is on standard error).
CHILD_FAILED = 70
# A message from the child holds the events of blocks until they are this
# many, or the blocks this many characters (a block's may add more).  A
# block of small syscalls (60-70 events in bench small and udp) goes alone,
# as before batches: batches of 1000 events made bench udp x0.2 12% slower,
# of 256 6%, of 64 1% (median wall time, 6 to 14 paired runs); and a bulk
# transfer's 64 KiB events stay out of one big message (1000 of them: bench
# bulk's peak RSS 118 MB).
BATCH_EVENTS = 64
BATCH_TEXT = 1 << 20
# Seconds the first of them waits, at most, while more input is ready.
BATCH_WAIT = 0.1


def two_cpus():
    """True when this process may run on two CPUs or more."""
    try:
        return len(os.sched_getaffinity(0)) > 1
    except AttributeError:
        return (os.cpu_count() or 1) > 1


def start_parsing(stage, trace, stop_signals, inherited_fds=()):
    """A ``ChildProcess`` parsing ``trace`` with ``stage`` (see its
    arguments) where this process may run on two CPUs and can fork, and
    the trace is more than a block; else an ``InProcess``."""
    if two_cpus() and not _one_block(trace):
        try:
            return ChildProcess(stage, trace, stop_signals, inherited_fds)
        except OSError:
            pass  # no fork (a process or memory limit): all in this process
    return InProcess(stage, trace)


def _one_block(trace):
    """True if ``trace`` is a regular file read in one block: nothing to
    overlap, a child would only add its fork (up to 50 ms on a 10-line trace)."""
    return not is_live(trace.fd) and os.fstat(trace.fd).st_size <= CHUNK_SIZE


class ParentGone(Exception):
    """The child's parent stopped reading: nothing left to do."""


class InProcess:
    """The parse stage run here, between the packets."""

    def __init__(self, stage, trace):
        self.stage = stage
        self.trace = trace
        self.fd = trace.fd

    def batches(self, on_idle):
        """``(events, flags)`` for each block of the trace, and last the
        events held back until its end; ``on_idle(held)`` at each pause of
        the input, with those held until then (see ``_run_child``)."""
        def idle():
            if not self.stage.waits_for(self.fd):
                on_idle(self.stage.held_events())
        for block in self.trace.blocks(idle):
            yield self.stage.events(block), self.stage.flags
        yield from self.rest()

    def stop(self, _signum):
        """Nothing runs on its own here: the caller just stops asking."""

    def rest(self):
        """The events held back (see ``ParseStage.held_events``), as a batch."""
        held = self.stage.held_events()
        return [(held, self.stage.flags)] if held else []

    def finish(self):
        """The parser, its books closed; None: no child was stopped; and
        why the input ended early (see ``Trace.damage``)."""
        self.stage.parser.finish()
        return self.stage.parser, None, self.trace.damage()

    def close(self):
        """Nothing to let go of."""


class ChildProcess:
    """The parse stage run in a forked child, its batches read from a pipe."""

    def __init__(self, stage, trace, stop_signals, inherited_fds=()):
        """Fork the child, which parses ``trace`` with ``stage`` and stops
        on ``stop_signals``; ``inherited_fds`` (the output) are closed in it."""
        events_read, events_write = os.pipe()
        control_read, control_write = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            pid = os.fork()
        except OSError:
            for fd in (events_read, events_write, control_read, control_write):
                os.close(fd)
            raise
        if pid == 0:
            status = CHILD_FAILED
            try:
                os.close(events_read)
                os.close(control_write)
                for fd in inherited_fds:
                    os.close(fd)
                stop_signals.after_fork(control_read)
                status = _run_child(stage, trace, stop_signals, events_write)
            finally:
                os._exit(status)  # never back into the parent's code
        os.close(events_write)
        os.close(control_read)
        self.pid = pid
        self.fd = events_read
        self.control = control_write
        self.buffer = bytearray()
        self.end = None  # the child's last message: (parser, stopped_by, io_error, damage)
        self.status = None  # its exit status, once waited for

    def batches(self, on_idle):
        """``(events, flags)`` for each block the child parsed."""
        for tag, body in self._messages(on_idle):
            if tag == END:
                self.end = pickle.loads(body)
                return
            yield marshal.loads(body)

    def stop(self, signum):
        """Ask the child to stop at its next block, as if it got ``signum``."""
        try:
            os.write(self.control, bytes([signum]))
        except OSError:
            pass  # already gone

    def rest(self):
        """The batches the child still sends before it stops."""
        if self.end is None:
            yield from self.batches(None)

    def finish(self):
        """Wait for the child; return its parser, the signal that stopped
        it (or None) and why its input ended early (see ``Trace.damage``).
        Raises the OSError that stopped its reading, or ChildFailed if it
        ended without a word."""
        for _batch in self.rest():
            pass
        self.close()
        if self.end is None:
            raise ChildFailed(self.status)
        parser, stopped_by, io_error, damage = self.end
        if io_error is not None:
            raise io_error
        return parser, stopped_by, damage

    def close(self):
        """Let go of the child: it stops at its next block (if it still
        runs) and is waited for."""
        if self.pid is None:
            return
        for fd in (self.control, self.fd):
            os.close(fd)
        _pid, status = os.waitpid(self.pid, 0)
        self.status = os.waitstatus_to_exitcode(status)
        self.pid = None

    def _messages(self, on_idle):
        """``(tag, body)`` of each message, as the pipe brings them."""
        chunks = read_chunks(self.fd, on_idle)
        while True:
            if len(self.buffer) >= HEADER.size:
                tag, size = HEADER.unpack_from(self.buffer)
                end = HEADER.size + size
                if len(self.buffer) >= end:
                    body = bytes(self.buffer[HEADER.size:end])
                    del self.buffer[:end]
                    yield tag, body
                    continue
            chunk = next(chunks, None)
            if chunk is None:
                return
            self.buffer += chunk


class ChildFailed(Exception):
    """The parsing child ended without its final message."""

    def __init__(self, status):
        super().__init__("the parsing process ended with status %d" % status)
        self.status = status


def _run_child(stage, trace, stop_signals, events_fd):
    """The child's life: parse ``trace``, send the batches and the parser
    to ``events_fd``; return its exit status."""
    batch = Batch(events_fd)

    def on_idle():
        # A live trace: its events so far, before waiting for more; also
        # those held for lines that would have come with them (a call -s cut
        # waiting for its hex dump, a run of small reads: a pause ends both,
        # the run's once no line came within JOIN_GAP).
        if stage.waits_for(trace.fd):
            return
        batch.add(stage.held_events(), stage.flags, 0)
        batch.send()
        stop_signals.wait_for_input(trace.fd)

    try:
        stopped_by = io_error = None
        try:
            for block in trace.blocks(on_idle):
                batch.add(stage.events(block), stage.flags, len(block))
                stop_signals.check()
        except Stop as stop:
            stopped_by = stop.signum
        except OSError as error:  # reading the trace
            io_error = error
        batch.add(stage.held_events(), stage.flags, 0)
        batch.send()
        stage.parser.finish()
        _send(events_fd, END, pickle.dumps((stage.parser, stopped_by, io_error,
                                            trace.damage())))
        return 0
    except ParentGone:
        return 0
    except BaseException:  # a bug: say where, the parent reports the failure
        traceback.print_exc()
        sys.stderr.flush()
        try:
            batch.send()  # the pcap keeps the events parsed before it
        except Exception:  # noqa: BLE001  (the first failure is the one told)
            pass
        return CHILD_FAILED


class Batch:
    """The events of consecutive blocks, sent as one message: a message per
    block woke the parent for every 64 KiB of a trace with a few socket
    lines among its noise (bench noise x0.2, 4 runs: the parent's CPU time
    0.84 -> 0.64 s, the same wall time: the child is the longer)."""

    def __init__(self, fd):
        self.fd = fd
        self.events = []
        self.flags = None
        self.text = 0  # characters of the blocks whose events are queued
        self.since = None  # when the first event queued was

    def add(self, events, flags, text):
        """Queue ``events``, a block's of ``text`` characters, parsed with
        ``flags`` known: a change of flags first sends the events before
        it, with theirs.  Sends the queue once it holds BATCH_EVENTS events
        or BATCH_TEXT characters, or its first waited BATCH_WAIT seconds (a
        live trace busy with other lines)."""
        if events:
            if flags != self.flags:
                self.send()
                self.flags = flags
            if not self.events:
                self.since = time.monotonic()
            self.events += events
            self.text += text
        if self.events and (len(self.events) >= BATCH_EVENTS or self.text >= BATCH_TEXT
                            or time.monotonic() - self.since >= BATCH_WAIT):
            self.send()

    def send(self):
        """Send the queued events, if any."""
        if self.events:
            _send(self.fd, EVENTS, marshal.dumps((self.events, self.flags)))
            self.events = []
            self.text = 0


def _send(fd, tag, body):
    """Write one message to ``fd``, whole."""
    data = memoryview(HEADER.pack(tag, len(body)) + body)
    try:
        while data:
            data = data[os.write(fd, data):]
    except BrokenPipeError:
        raise ParentGone() from None

"""Reading strace text: lines out of a byte stream, live or bulk.

``read_blocks(fd, on_idle)`` yields the lines of a file descriptor as ``str``
(decoded as Latin-1, so any byte sequence is a valid line and hex escapes
cost nothing extra), without their line ends, a block of whole lines per
read (``read_lines`` one by one).  When the input has nothing
ready (a live strace pipe between syscalls), it calls ``on_idle()`` before
blocking: the converter flushes its output there, so packets appear while
the trace is still being written, and bulk input never pays for flushes.

``open_trace(paths, date)`` opens what ``-r`` names: standard input, one
file, or several (``strace -ff -o trace`` writes ``trace.PID`` per thread),
each plain or compressed with gzip or xz (told by its first bytes, not its
name).  Several files are merged in time order; lines of a file named
``NAME.PID`` that have no pid column get that pid, as if strace had written
them with ``-f``.
"""

import errno
import gzip
import heapq
import lzma
import os
import re
import select
import stat
import sys

from strace_values import Clock

# Bytes per read: a block and its str stay in the CPU's cache while the
# parser searches them (the parsing side, best of 3: noise 0.85 -> 0.68 s,
# small 0.27 -> 0.25 s with 256 KiB instead of 1 MiB), and below 128 KiB
# malloc serves them from its heap instead of fresh pages (the converter on
# bench noise x0.2: 46 800 -> 7 400 page faults, 1.39 -> 1.12 s, median of 5).
CHUNK_SIZE = 1 << 16
# A longer line is cut at this many characters (and then fails to parse,
# counted): strace with -s 655350 prints lines of about 2.6 MB.
MAX_LINE = 64 << 20


def _ready(fd):
    """True if reading ``fd`` would not block (always True for regular files)."""
    try:
        return bool(select.select([fd], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def is_live(fd):
    """True if ``fd`` may still grow while it is read (a pipe, a terminal, a
    socket: strace writing as it goes); False for a regular file, whose end
    is the end of the trace whenever it is read."""
    try:
        return not stat.S_ISREG(os.fstat(fd).st_mode)
    except OSError:
        return True


def read_chunks(source, on_idle):
    """Byte chunks of ``source`` (a file descriptor, or a binary file object
    such as a decompressor: no idle calls then) as they are read."""
    while True:
        if isinstance(source, int):
            if on_idle is not None and not _ready(source):
                on_idle()
            chunk = os.read(source, CHUNK_SIZE)
        else:
            try:
                chunk = source.read(CHUNK_SIZE)
            except (OSError, EOFError, lzma.LZMAError):
                chunk = b""  # a damaged or cut archive: keep what came before
        if not chunk:
            return
        yield chunk


def read_blocks(source, on_idle=None):
    """Yield blocks of whole lines read from ``source`` (a file descriptor or
    a binary file object), each a ``str`` of lines joined by "\\n", without
    line ends (CR LF read as LF): one block per read, so that lines no
    converter wants can be skipped without being split out."""
    pending = []  # the start of a line the next read ends
    pending_size = 0
    for chunk in read_chunks(source, on_idle):
        cut = chunk.rfind(b"\n")
        if cut < 0:
            if pending_size < MAX_LINE:
                pending.append(chunk)
                pending_size += len(chunk)
            continue
        if pending:
            if pending_size + cut > MAX_LINE:  # maybe a line too long: cut it
                first_end = chunk.find(b"\n")
                pending.append(chunk[:first_end])
                chunk = b"".join(pending)[:MAX_LINE] + chunk[first_end:]
            else:
                pending.append(chunk)
                chunk = b"".join(pending)
            cut = chunk.rfind(b"\n")
        # Decoded straight from the buffer: one copy of the block, not three.
        block = str(memoryview(chunk)[:cut], "latin-1")
        pending = [chunk[cut + 1:]] if cut + 1 < len(chunk) else []
        pending_size = len(chunk) - cut - 1
        if "\r" in block:
            block = block.replace("\r\n", "\n")
            if block.endswith("\r"):
                block = block[:-1]
        yield block
    if pending:
        line = b"".join(pending)[:MAX_LINE].decode("latin-1")
        yield line[:-1] if line.endswith("\r") else line


def read_lines(source, on_idle=None):
    """Yield the lines of ``source`` one by one (see ``read_blocks``)."""
    for block in read_blocks(source, on_idle):
        yield from block.split("\n")


def _blocks_of(lines, size=4096):
    """Blocks (as ``read_blocks`` yields them) of ``size`` lines of ``lines``."""
    batch = []
    for line in lines:
        batch.append(line)
        if len(batch) == size:
            yield "\n".join(batch)
            batch = []
    if batch:
        yield "\n".join(batch)


GZIP_MAGIC = b"\x1f\x8b"
XZ_MAGIC = b"\xfd7zXZ\x00"
PID_SUFFIX = re.compile(r"\.(\d+)$")
HAS_PID_COLUMN = re.compile(r"\s*(?:\d+(?:<[^>]*>)?\s|\[pid\s)")
# The time column of a line (after an optional pid column), for the merge.
LINE_TIME = re.compile(r"""
    \s*(?:\[pid\s+\d+[^\]]*\]\s+ | \d+(?:<[^>]*>)?\s+)?
    (?P<time>\d+\.\d+ | \d\d:\d\d:\d\d(?:\.\d+)?)\s
""", re.VERBOSE)


class Trace:
    """An opened trace: ``fd`` to watch (progress, idle flushes) and
    ``blocks(on_idle)`` to read it."""

    def __init__(self, fd, blocks):
        self.fd = fd
        self._blocks = blocks

    def blocks(self, on_idle=None):
        """The trace's lines in blocks (see ``read_blocks``)."""
        return self._blocks(on_idle)


def open_file(path):
    """A raw fd for ``path`` (``None`` or ``-``: standard input); raises
    OSError (IsADirectoryError for a directory)."""
    fd = sys.stdin.fileno() if path is None or path == "-" else os.open(path, os.O_RDONLY)
    if stat.S_ISDIR(os.fstat(fd).st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    return fd


def decompressed(fd):
    """``fd`` itself, or a file object decompressing it when it starts with
    the gzip or xz magic bytes (only regular files are sniffed: a pipe's
    first bytes cannot be put back)."""
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        return fd
    magic = os.pread(fd, 6, 0)
    if magic.startswith(GZIP_MAGIC):
        return gzip.GzipFile(fileobj=os.fdopen(fd, "rb"))
    if magic.startswith(XZ_MAGIC):
        return lzma.LZMAFile(os.fdopen(fd, "rb"))
    return fd


def open_trace(paths, date):
    """A ``Trace`` of the files ``paths`` (a list; empty or None: standard
    input).  ``date`` places clock times when several files are merged."""
    paths = paths or [None]
    fds = [open_file(path) for path in paths]
    sources = [decompressed(fd) for fd in fds]
    if len(paths) == 1:
        pid = _pid_suffix(paths[0])
        if pid is None:
            return Trace(fds[0], lambda on_idle: read_blocks(sources[0], on_idle))
        return Trace(fds[0], lambda on_idle: _blocks_of(_with_pid(read_lines(sources[0]), pid)))

    def merged(_on_idle):
        streams = [_timed(_with_pid(read_lines(source), _pid_suffix(path)), date)
                   for path, source in zip(paths, sources)]
        lines = (line for _time, line in heapq.merge(*streams, key=lambda timed: timed[0]))
        return _blocks_of(lines)
    return Trace(fds[0], merged)


def _pid_suffix(path):
    """The pid of a ``-ff`` file name ``trace.1234``, or None."""
    match = PID_SUFFIX.search(os.path.basename(path)) if path not in (None, "-") else None
    return match.group(1) if match else None


def _with_pid(lines, pid):
    """``lines``, with ``pid`` put in front of each when the file has no
    pid column (decided on its first line)."""
    lines = iter(lines)
    first = next(lines, None)
    if first is None:
        return
    if pid is None or HAS_PID_COLUMN.match(first):
        yield first
        yield from lines
        return
    prefix = pid + " "
    yield prefix + first
    for line in lines:
        yield prefix + line


def _timed(lines, date):
    """``(epoch seconds, line)`` for each line, for the merge: when the call
    ended (its start plus the -T duration; a resumed half's own time), the
    order one ``strace -f`` prints in (a blocking read starts before the
    write that feeds it); a line without a time sorts with the line before
    it.  -r relative times are rewritten as epoch times, which stay right
    once lines of other files come between them."""
    clock = Clock(date)
    time = end = 0.0
    for line in lines:
        match = LINE_TIME.match(line)
        if match is not None:
            text = match.group("time")
            clock.advance(text)
            try:
                time = clock.seconds(text)
            except ValueError:
                pass
            else:
                if clock.relative:
                    line = "%s%.6f%s" % (line[:match.start("time")], time,
                                         line[match.end("time"):])
            end = time
            # "= 5 <0.000012>" (or an annotated fd); a resumed half is
            # stamped when the call ended already.
            if line.endswith(">") and " resumed>" not in line:
                try:
                    end = time + float(line[line.rfind(" <") + 2:-1])
                except ValueError:
                    pass
        yield end, line

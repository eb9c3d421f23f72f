"""Reading strace text: lines out of a byte stream, live or bulk.

``read_lines(fd, on_idle)`` yields the lines of a file descriptor as ``str``
(decoded as Latin-1, so any byte sequence is a valid line and hex escapes
cost nothing extra), without their line ends.  When the input has nothing
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

from strace_parser import Clock

CHUNK_SIZE = 1 << 20
# A longer line is cut at this many characters (and then fails to parse,
# counted): strace with -s 655350 prints lines of about 2.6 MB.
MAX_LINE = 64 << 20


def _ready(fd):
    """True if reading ``fd`` would not block (always True for regular files)."""
    try:
        return bool(select.select([fd], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def read_lines(fd, on_idle=None):
    """Yield the lines read from the file descriptor ``fd``, or from a binary
    file object (no idle calls then), see the module doc."""
    if not isinstance(fd, int):
        yield from _read_object_lines(fd)
        return
    pending = []
    pending_size = 0
    while True:
        if on_idle is not None and not _ready(fd):
            on_idle()
        chunk = os.read(fd, CHUNK_SIZE)
        if not chunk:
            break
        text = chunk.decode("latin-1")
        if "\n" not in text:
            if pending_size < MAX_LINE:
                pending.append(text)
                pending_size += len(text)
            continue
        lines = text.split("\n")
        if pending:
            pending.append(lines[0])
            lines[0] = "".join(pending)[:MAX_LINE]
        tail = lines.pop()
        pending = [tail] if tail else []
        pending_size = len(tail)
        if "\r" in text or lines[0].endswith("\r"):  # (a CR may end the previous chunk)
            lines = [line[:-1] if line.endswith("\r") else line for line in lines]
        yield from lines  # one "\r" test per chunk: read_lines -17% CPU (bench noise)
    if pending:
        line = "".join(pending)[:MAX_LINE]
        yield line[:-1] if line.endswith("\r") else line


def _read_object_lines(source):
    """The lines of a binary file object (a decompressor), as ``read_lines``."""
    pending = b""
    while True:
        try:
            chunk = source.read(CHUNK_SIZE)
        except (OSError, EOFError, lzma.LZMAError):
            chunk = b""  # a damaged or cut archive: keep what came before
        if not chunk:
            break
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()[:MAX_LINE]
        for line in lines:
            text = line[:MAX_LINE].decode("latin-1")
            yield text[:-1] if text.endswith("\r") else text
    if pending:
        text = pending.decode("latin-1")
        yield text[:-1] if text.endswith("\r") else text


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
    ``lines(on_idle)`` to read it."""

    def __init__(self, fd, lines):
        self.fd = fd
        self._lines = lines

    def lines(self, on_idle=None):
        """The trace's lines (see ``read_lines``)."""
        return self._lines(on_idle)


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
            return Trace(fds[0], lambda on_idle: read_lines(sources[0], on_idle))
        return Trace(fds[0], lambda on_idle: _with_pid(read_lines(sources[0]), pid))

    def merged(_on_idle):
        streams = [_timed(_with_pid(read_lines(source), _pid_suffix(path)), date)
                   for path, source in zip(paths, sources)]
        for _time, line in heapq.merge(*streams, key=lambda timed: timed[0]):
            yield line
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
    """``(epoch seconds, line)`` for each line, for the merge; a line
    without a time sorts with the line before it.  -r relative times are
    rewritten as epoch times, which stay right once lines of other files
    come between them."""
    clock = Clock(date)
    time = 0.0
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
        yield time, line

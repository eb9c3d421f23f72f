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
each plain or compressed with gzip, xz or bzip2 (told by its first bytes,
not its name, also on a pipe).  Several files are merged in time order;
lines of a file named ``NAME.PID`` that have no pid column get that pid, as
if strace had written them with ``-f``.
"""

import bz2
import errno
import gzip
import heapq
import lzma
import os
import re
import resource
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
# A longer line is cut to this many characters (strace with -s 655350
# prints lines of about 2.6 MB; a call moving 17 MB at -s 20000000 one of
# 68 MB): its first ones and its last TAIL_KEPT (see ``cut_line``).
MAX_LINE = 64 << 20
TAIL_KEPT = 1 << 16
# The most bytes of a call's -xx string (4 characters a byte) a line cut so keeps.
LONGEST_KEPT_STRING = MAX_LINE // 4 - 16
# A cut line's end up to its -xx string's closing quote; that string's
# whole escapes at its head's end.
TO_STRING_END = re.compile(rb'[0-9a-fx\\]*"')
ESCAPES = re.compile(rb"(?:\\x[0-9a-f]{2})+")


def ready_within(fd, seconds=0):
    """True if reading ``fd`` (a file descriptor) would not block, now or
    within ``seconds`` (always True for regular files)."""
    try:
        return bool(select.select([fd], [], [], seconds)[0])
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
    """Byte chunks of ``source`` (a file descriptor, a ``Sniffed`` pipe, or a
    binary file object such as a ``Decompressing``: no idle calls then) as
    they are read."""
    if isinstance(source, Sniffed):
        if source.head:
            yield source.head
        source = source.fd
    while True:
        if isinstance(source, int):
            if on_idle is not None and not ready_within(source):
                on_idle()
            chunk = os.read(source, CHUNK_SIZE)
        else:
            chunk = source.read(CHUNK_SIZE)
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
    tail = b""  # the last characters read of a line past MAX_LINE
    for chunk in read_chunks(source, on_idle):
        cut = chunk.rfind(b"\n")
        if cut < 0:
            if pending_size < MAX_LINE:
                pending.append(chunk)
            else:
                tail = (tail + chunk)[-TAIL_KEPT:]
            pending_size += len(chunk)
            continue
        if pending:
            # (The first line end looked for only where the last is past MAX_LINE.)
            first_end = chunk.find(b"\n") if pending_size + cut > MAX_LINE else cut
            if pending_size + first_end > MAX_LINE:
                head = b"".join(pending)
                head += chunk[:MAX_LINE - len(head)] if len(head) < MAX_LINE else b""
                chunk = cut_line(head[:MAX_LINE],
                                 (tail + chunk[:first_end])[-TAIL_KEPT:]) + chunk[first_end:]
                tail = b""
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
        line = b"".join(pending)
        if pending_size > MAX_LINE:
            line = cut_line(line[:MAX_LINE], tail)
        line = line.decode("latin-1")
        yield line[:-1] if line.endswith("\r") else line


def cut_line(head, end):
    """A line longer than MAX_LINE, of which ``head`` (its first MAX_LINE
    characters) and ``end`` (up to TAIL_KEPT of its last) are kept.  A
    call whose -xx string the head ends in and the end closes reads as
    strace prints a string -s cut: the head's whole escapes, ``"...``,
    and what follows the string (the return value): its packet declares
    the call's length and holds the bytes kept.  Else the head alone,
    which then fails to parse (counted)."""
    to_end = TO_STRING_END.match(end)
    last = head.rfind(b"\\", len(head) - 4)  # the last escape's start: whole if 4 remain
    if last == len(head) - 4:
        last = len(head)
    if to_end is None or last < 0 or ESCAPES.match(head, last - 64, last) is None:
        return head
    return head[:last] + b'"...' + end[to_end.end():]


def read_lines(source, on_idle=None):
    """Yield the lines of ``source`` one by one (see ``read_blocks``)."""
    for block in read_blocks(source, on_idle):
        yield from block.split("\n")


def _blocks_of(lines):
    """Blocks (as ``read_blocks`` yields them) of ``lines``: about CHUNK_SIZE
    characters each, as a read gives (a count of lines made blocks of 4096
    lines of 256 KB each out of a bulk transfer's: 1.5 GB of memory)."""
    batch = []
    size = 0
    for line in lines:
        batch.append(line)
        size += len(line) + 1
        if size >= CHUNK_SIZE:
            yield "\n".join(batch)
            batch = []
            size = 0
    if batch:
        yield "\n".join(batch)


# The first bytes of the archives read as their text, and of zstd's (which
# Python 3.11 cannot read).
ARCHIVES = ((b"\x1f\x8b", "gzip", gzip.open), (b"\xfd7zXZ\x00", "xz", lzma.open),
            (b"BZh", "bzip2", bz2.open))
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# pcap (both byte orders, micro- and nanosecond) and pcapng: an output given as the trace.
CAPTURE_MAGICS = (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1",
                  b"\xa1\xb2\x3c\x4d", b"\x0a\x0d\x0d\x0a")
MAGIC_SIZE = 6
PID_SUFFIX = re.compile(r"\.(\d+)(?:\.(?:gz|xz|bz2))?$")
# Open files beyond a merge's inputs: the pcap, the parsing child's pipe,
# the interpreter's own.
OPEN_FILES_SPARE = 64
HAS_PID_COLUMN = re.compile(r"\s*(?:\d+(?:<[^>]*>)?\s|\[pid\s)")
# The time column of a line (after an optional pid column), for the merge.
LINE_TIME = re.compile(r"""
    \s*(?:\[pid\s+\d+[^\]]*\]\s+ | \d+(?:<[^>]*>)?\s+)?
    (?P<time>\d+\.\d+ | \d\d:\d\d:\d\d(?:\.\d+)?)\s
""", re.VERBOSE)


# A send (or sendfile) on a socket, after the time column: merged at its start (see _timed).
SOCKET_SEND = re.compile(r"\s*(?:send|sendto|sendmsg|sendmmsg|write|writev|sendfile|sendfile64)\(\d+<(?:TCP|UDP|UNIX)")


class Trace:
    """An opened trace: ``fd`` to watch (progress, idle flushes),
    ``blocks(on_idle)`` to read it, and once read, ``damage()``.
    ``merged_relative``: several files merged by -r times (see ``open_trace``)."""

    def __init__(self, fd, blocks, sources, merged_relative=False):
        self.fd = fd
        self._blocks = blocks
        self._sources = sources
        self.merged_relative = merged_relative

    def blocks(self, on_idle=None):
        """The trace's lines in blocks (see ``read_blocks``)."""
        return self._blocks(on_idle)

    def damage(self):
        """Why compressed input ended before its end (a cut or corrupt
        archive, whose text up to there was read), as text; None if it did not."""
        found = [source.damage for source in self._sources
                 if isinstance(source, Decompressing) and source.damage]
        return "; ".join(found) or None


class Sniffed:
    """A pipe whose first bytes ``head`` were read to see what it holds."""

    def __init__(self, fd, head):
        self.fd = fd
        self.head = head

    def read(self, size):
        """Up to ``size`` bytes: ``head`` first, then the pipe's."""
        if self.head:
            head, self.head = self.head[:size], self.head[size:]
            return head
        return os.read(self.fd, size)


class Decompressing:
    """A compressed trace read as its text; ``damage`` says why it ended
    early (an archive cut short or corrupt: what came before is kept), else None."""

    def __init__(self, archive, name):
        self.archive = archive
        self.name = name
        self.damage = None

    def read(self, size):
        """Up to ``size`` bytes of text; b"" at its end."""
        try:
            # read1: what one step decompressed, kept when the next step fails.
            return self.archive.read1(size)
        except (OSError, EOFError, lzma.LZMAError) as error:
            self.damage = "%s: %s" % (self.name, error)
            return b""


def open_file(path):
    """A raw fd for ``path`` (``None`` or ``-``: standard input); raises
    OSError (IsADirectoryError for a directory)."""
    fd = sys.stdin.fileno() if path is None or path == "-" else os.open(path, os.O_RDONLY)
    if stat.S_ISDIR(os.fstat(fd).st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    return fd


def decompressed(fd, path, wait=None):
    """What to read the trace ``fd`` (named ``path``) from: the fd itself,
    a ``Sniffed`` pipe, or a ``Decompressing`` when it starts with the
    gzip, xz or bzip2 magic bytes (a pipe's are read to know, after
    ``wait(fd)``, which may raise to give up waiting).  Raises OSError for
    a zstd archive (Python reads none before 3.14) and for a pcap."""
    if stat.S_ISREG(os.fstat(fd).st_mode):
        head = os.pread(fd, MAGIC_SIZE, 0)
        source = fd
    else:
        head = b""
        while len(head) < MAGIC_SIZE:  # a live strace's first write is a line or more
            if wait is not None:
                wait(fd)
            chunk = os.read(fd, CHUNK_SIZE)
            if not chunk:
                break
            head += chunk
        source = Sniffed(fd, head)
    name = path if path not in (None, "-") else "standard input"
    for magic, kind, reader in ARCHIVES:
        if head.startswith(magic):
            archive = reader(os.fdopen(fd, "rb") if source is fd else source)
            return Decompressing(archive, "%s (%s)" % (name, kind))
    if head.startswith(ZSTD_MAGIC):
        raise OSError(errno.EINVAL, "a zstd archive: decompress it first (zstd -dc %s | "
                      "py-strace2pcap ...)" % ("FILE" if path in (None, "-") else path), path)
    if head.startswith(CAPTURE_MAGICS):
        raise OSError(errno.EINVAL, "a capture, not a strace trace (the output comes first: "
                      "py-strace2pcap OUTPUT -r TRACE)", path)
    return source


def open_trace(paths, date, wait=None):
    """A ``Trace`` of the files ``paths`` (a list; empty or None: standard
    input).  ``date`` places clock times when several files are merged;
    ``wait(fd)`` is called before a blocking read of a pipe's first bytes
    (see ``decompressed``)."""
    paths = paths or [None]
    if len(paths) > 1:
        _allow_open_files(len(paths))
    fds = [open_file(path) for path in paths]
    sources = [decompressed(fd, path, wait) for fd, path in zip(fds, paths)]
    if len(paths) == 1:
        pid = _pid_suffix(paths[0])
        if pid is None:
            return Trace(fds[0], lambda on_idle: read_blocks(sources[0], on_idle), sources)
        return Trace(fds[0], lambda on_idle: _blocks_of(_with_pid(read_lines(sources[0]), pid)),
                     sources)

    def merged(_on_idle):
        streams = [_timed(_with_pid(read_lines(source), _pid_suffix(path)), date)
                   for path, source in zip(paths, sources)]
        lines = (line for _time, line in heapq.merge(*streams, key=lambda timed: timed[0]))
        return _blocks_of(lines)
    # -r times count from each file's own start: the merge takes them as if
    # all began together, a guess the summary owns up to.
    return Trace(fds[0], merged, sources, any(
        source is fd and _relative_times(fd, date) for fd, source in zip(fds, sources)))


def _allow_open_files(count):
    """Raise this process's soft limit on open files, up to its hard limit,
    so that ``count`` files merged are open at once with room to spare: a
    thread pool's ``strace -ff`` makes a file per thread (a helper's 6 046
    files against the common soft limit of 1 024: "Too many open files")."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = count + OPEN_FILES_SPARE
    if soft != resource.RLIM_INFINITY and soft < needed:
        wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        if wanted > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def _relative_times(fd, date):
    """True if the first timed line in the first 4 KiB of the regular file
    ``fd`` has a -r time (seconds since the line before; ``date``: see
    ``Clock``)."""
    for line in os.pread(fd, 4096, 0).decode("latin-1").splitlines():
        match = LINE_TIME.match(line)
        if match is not None:
            clock = Clock(date)
            clock.advance(match.group("time"))
            return bool(clock.relative)
    return False


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
    write that feeds it), but a send on a socket (-yy) when it began, where
    its packet is stamped (a helper's pgbench under -ff: backends' sends
    took up to 13 ms, and 4985 of 33 219 packets came out of time order);
    a line without a time sorts with the line before it.  -r relative
    times are rewritten as epoch times, which stay right once lines of
    other files come between them."""
    clock = Clock(date)
    time = end = last = 0.0
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
            if end > time and SOCKET_SEND.match(line, line.find(" ", match.start("time"))):
                # A send's packet is stamped at its start; not before the
                # line before it (-T's end can pass the next call's start).
                end = max(time, last)
        last = end
        yield end, line


"""Reading strace text: lines out of a byte stream, live or bulk.

``read_lines(fd, on_idle)`` yields the lines of a file descriptor as ``str``
(decoded as Latin-1, so any byte sequence is a valid line and hex escapes
cost nothing extra), without their line ends.  When the input has nothing
ready (a live strace pipe between syscalls), it calls ``on_idle()`` before
blocking: the converter flushes its output there, so packets appear while
the trace is still being written, and bulk input never pays for flushes.
"""

import os
import select

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
    """Yield the lines read from the file descriptor ``fd`` (see module doc)."""
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
        for line in lines:
            yield line[:-1] if line.endswith("\r") else line
    if pending:
        line = "".join(pending)[:MAX_LINE]
        yield line[:-1] if line.endswith("\r") else line

"""The clone or fork that made a thread, found in the trace's recent text.

A process that forks gives its child a copy of each socket it holds: the
child's close() of its copy sends nothing while the parent keeps its own
(the kernel sends the FIN at the last close).  To tell such a close from
the socket's last, the packetizers need to know which threads are forked
processes and when they were forked.  Finding every clone and fork line
of a trace would cost the parse of a trace of file I/O 60% more (a search
for "clone" and one for "fork(" scan every character: 0.11 s each on 228
MB of bench noise, whose parsing side takes 0.37 s), so ``ForkFinder``
looks only for the creation of a thread that makes its first socket call,
in the last WINDOW characters read and the rest of the block being
parsed: a forked child closes the sockets it does not need right after
the fork (sshd's session child, 16 ms after it).  ``creation_at`` tells
the creation of such a thread printed after it (a vfork's, whose child
runs before the call returns), and the parser asks ``creation_of`` at
the end of a thread met in no socket call, when a TCP socket closed
just before (a forked helper that held its parent's socket unused).  A
thread created long before its first socket call is not found: its
closes keep the default rule (a close may be a copy's, see
``tcp_flow.HeldFins``).
"""

import re
from collections import deque

# Characters of the trace kept to search (the blocks read last, whole).
WINDOW = 1 << 21
# Characters before a resumed clone searched for its first half (its flags).
FIRST_HALF_REACH = 1 << 16
# A clone or fork line, or its resumed half, with a pid column and -ttt
# time (the times of other clocks depend on the lines before them).
# Compiled at its first use (see _creation_head).
CREATION_HEAD = r"""
    (?:\[pid\s+(?P<bracket_pid>\d+)[^\]]*\]\s+ | (?P<pid>\d+)(?:<[^>]*>)?\s+)
    (?P<time>\d+\.\d+)\s+
    (?:\[\s*\d+\]\s+)?(?:\[[0-9a-f?]+\]\s+)?  # -n, -i
    (?: (?P<name>clone3?|v?fork)\( | <\.\.\.\s(?P<resumed>clone3?|v?fork)\sresumed>)
"""
UNFINISHED = " <unfinished ...>"
_LINE_PID = re.compile(r"\[pid\s+(\d+)|(\d+)\s")
_EXEC_RETURNED = re.compile(r"\) = 0(?: <[\d.]+>)?$")


class ForkFinder:
    """The text of the trace read last, and the creation lines in it.  Its
    blocks of whole lines are numbered by where they start in the text
    (each ended by a newline), so that a search covers the same text
    however the input was cut: the converter's pcap must not depend on it."""

    def __init__(self):
        self.blocks = deque()  # (offset, text)
        self.end = 0    # the offset after the text remembered
        self.kept = 0   # the characters of the blocks kept

    def remember(self, block):
        """Keep ``block`` (whole lines), the newest, and return its offset;
        forget the oldest blocks beyond WINDOW characters."""
        offset = self.end
        self.blocks.append((offset, block))
        self.end += len(block) + 1
        self.kept += len(block) + 1
        while self.kept - len(self.blocks[0][1]) - 1 >= WINDOW:
            self.kept -= len(self.blocks.popleft()[1]) + 1
        return offset

    def creation_of(self, tid, before, parents=None, reach=WINDOW):
        """``(parent, time, call, flags, execed)`` of the clone, clone3, fork
        or vfork call that returned ``tid``, the newest in the WINDOW
        characters before offset ``before`` (its first socket call's line):
        the calling thread's id, the call's start time (epoch seconds), its
        name, the text of its arguments (where its flags show, "" for fork
        and vfork), and whether ``tid`` called execve since (its
        close-on-exec fds closed); None if not found, or if its parent is
        not one of ``parents`` (when given).  ``reach``: the characters
        looked at, at most WINDOW."""
        returned = ") = %d" % tid
        for offset, block, at in self._occurrences(returned, before - reach, before):
            end = at + len(returned)
            if not block[end:end + 1].isdigit():
                start = block.rfind("\n", 0, at) + 1
                found = self._creation_line(block, start, at, offset + start)
                if found is not None and parents is not None and found[0] not in parents:
                    return None
                if found is not None:
                    # (A resumed half's from its first half's reach: a
                    # vfork's child execs before the call returns.)
                    low = offset + start - (FIRST_HALF_REACH if "resumed>" in block[start:at]
                                            else 0)
                    return found + (self._execed(tid, low, before),)
        return None

    def creation_at(self, tid, line_offset, met):
        """``creation_of``'s answer for the line at offset ``line_offset``
        (of the newest block) if it is the clone, clone3, fork or vfork, or
        its resumed half, that returned ``tid``, a thread first met at
        offset ``met``: a vfork's child runs (and execs) before the call
        returns, and strace prints that return after the child's lines
        (Python's subprocess, posix_spawn, Go's os/exec).  None if it is
        not."""
        offset, block = self.blocks[-1]
        start = line_offset - offset
        end = block.find("\n", start) % (len(block) + 1)
        returned = ") = %d" % tid
        at = block.rfind(returned, start, end)
        if at < 0 or block[at + len(returned):at + len(returned) + 1].isdigit():
            return None
        found = self._creation_line(block, start, at, line_offset)
        if found is None:
            return None
        return found + (self._execed(tid, met - FIRST_HALF_REACH, line_offset),)

    def _execed(self, tid, low, high):
        """True if thread ``tid`` called execve or execveat between offsets
        ``low`` and ``high``, and it returned 0 (execvp's tries of the
        directories of PATH fail with ENOENT; a first half's resumed half
        tells).  Looked for from ``low`` on: a forked child execs soon (the
        newest first, a trace of a build spent 0.31 s of 1.9 here)."""
        for offset, block in self.blocks:
            start, end = max(0, low - offset), min(len(block), high - offset)
            at = block.find("execve", start, end) if start < end else -1
            while at >= 0:
                line = _LINE_PID.match(block, block.rfind("\n", 0, at) + 1)
                if line is not None and int(line.group(1) or line.group(2)) == tid:
                    line_end = block.find("\n", at) % (len(block) + 1)
                    if _EXEC_RETURNED.search(block, at, line_end):
                        return True
                at = block.find("execve", at + 6, end)
        return False

    def _occurrences(self, needle, low, high):
        """``(block's offset, block, index)`` of each occurrence of
        ``needle`` between offsets ``low`` and ``high``, the newest first."""
        for offset, block in reversed(self.blocks):
            if offset >= high:
                continue
            if offset + len(block) < low:
                return
            start, end = max(0, low - offset), min(len(block), high - offset)
            at = block.rfind(needle, start, end)
            while at >= 0:
                yield offset, block, at
                at = block.rfind(needle, start, at)

    def _creation_line(self, block, start, returned_at, line_offset):
        """``(parent, time, call, flags)`` of the line of ``block`` at
        ``start`` (at ``line_offset`` in the text; its result at
        ``returned_at``) if it is a clone or fork, or its resumed half whose
        first half is in the FIRST_HALF_REACH characters before it; else
        None."""
        head = _creation_head(block, start)
        if head is None or head.end() > returned_at:
            return None
        parent = int(head.group("pid") or head.group("bracket_pid"))
        name = head.group("name")
        if name is not None:
            return parent, float(head.group("time")), name, block[head.end():returned_at]
        name = head.group("resumed")
        for _offset, earlier, at in self._occurrences(name + "(",
                                                      line_offset - FIRST_HALF_REACH, line_offset):
            line_start = earlier.rfind("\n", 0, at) + 1
            line_end = earlier.find("\n", at) % (len(earlier) + 1)  # -1: its last line
            first = _creation_head(earlier, line_start)
            if (first is not None and first.group("name") == name
                    and int(first.group("pid") or first.group("bracket_pid")) == parent
                    and earlier.endswith(UNFINISHED, line_start, line_end)):
                return parent, float(first.group("time")), name, earlier[first.end():line_end]
        return None


def _creation_head(text, start):
    """CREATION_HEAD's match at ``start`` of ``text``, or None.  Compiled
    here, once (re caches it): most conversions never look for a fork, and
    compiling it costs 0.7 ms of start-up."""
    return re.compile(CREATION_HEAD, re.VERBOSE).match(text, start)

"""Who made each syscall: the process (thread group) and its command name.

strace's pid column holds the thread id.  ``ProcessNames`` follows the
process events of ``strace_parser`` (``StraceParser(process_events=True)``):

* ``execve`` names the calling thread after its argv[0] basename;
* ``clone``/``clone3``/``fork``/``vfork`` give the child (their return
  value) the caller's name until the child execs; a clone with
  ``CLONE_THREAD`` also makes the child a thread of the caller's process.
  The child often runs before the clone returns: a thread id first seen
  while a clone is in flight (its ``<unfinished ...>`` half) is taken as
  the child of the latest such clone, and keeps the name of an execve it
  made meanwhile (a shell's vfork: the child execs before it returns).

``annotate(event)`` then adds to a socket event ``comm`` (unless the parser
already set it from ``--decode-pids=comm``) and ``process`` (the thread
group id) when they are known.  Unknown stays unknown: no key, no guess.
A thread created before the trace started (``strace -p``) shows as its own
process, since no clone told which process it belongs to.
"""


class ProcessNames:
    """Names and thread groups of the traced threads, from process events."""

    def __init__(self):
        self.names = {}       # thread id -> command name
        self.processes = {}   # thread id -> its process's id, for threads seen created
        self.clones_in_flight = {}  # caller thread id -> CLONE_THREAD, newest last
        self.seen = set()     # thread ids met so far: only a new one can be a child
        # Threads that called execve while a clone was in flight: a vfork's
        # child runs (and execs) before the vfork returns, whose name it keeps.
        self.named_in_flight = set()

    def observe(self, event):
        """Learn from one process event (execve, clone, fork, ...)."""
        caller = event["pid"]
        self.seen.add(caller)
        if event["in_flight"]:
            self.clones_in_flight.pop(caller, None)
            self.clones_in_flight[caller] = event["thread"]
            return
        self.clones_in_flight.pop(caller, None)
        if event["comm"] is not None:
            self.names[caller] = event["comm"]
            if self.clones_in_flight:
                self.named_in_flight.add(caller)
            # execve in a thread makes it the process's only thread, under
            # the leader's id: strace reports the call's end with that id.
            self.processes.pop(caller, None)
            return
        if event["child"] is not None:
            self._inherit(caller, event["child"], event["thread"],
                          event["child"] in self.named_in_flight)
            self.named_in_flight.discard(event["child"])

    def _inherit(self, caller, child, thread, named=False):
        """Give ``child`` the name (unless ``named``: its own execve's) and,
        for a thread, the process of ``caller``."""
        self.seen.add(child)
        name = self.names.get(caller)
        if named:
            pass  # its own execve's name stays
        elif name is None:
            self.names.pop(child, None)  # a reused id must not keep an old name
        else:
            self.names[child] = name
        if thread:
            self.processes[child] = self.processes.get(caller, caller)
        else:
            self.processes.pop(child, None)

    def annotate(self, event):
        """Add ``comm`` and ``process`` to a socket event when known."""
        thread = event["pid"]
        if thread not in self.seen:
            self.seen.add(thread)
            if self.clones_in_flight:
                caller, is_thread = next(reversed(self.clones_in_flight.items()))
                self._inherit(caller, thread, is_thread)
        if event.get("comm") is None:
            name = self.names.get(thread)
            if name is not None:
                event["comm"] = name
        process = self.processes.get(thread)
        if process is not None:
            event["process"] = process

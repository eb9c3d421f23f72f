"""SIGINT and SIGTERM, caught: a conversion ends at its next safe point.

The handler only records the signal, since raising from it could cut a
pcap record in half; ``check()`` raises ``Stop`` between blocks of lines,
and ``wait_for_input(fd)`` sleeps until ``fd`` has input or a signal came
(``set_wakeup_fd`` wakes the ``select``).  A signal ignored when we started
(``nohup``, a background job, the wrappers' sink) stays ignored.

With ``drain`` set (the trace comes from a pipe: strace's ``-o '! ...'``
sink, a shell pipeline), the first signal does not stop the conversion:
Ctrl-C reaches strace and the traced program too, and strace goes on
writing until they end (with ``-o FILE PROG`` it blocks the signal and
waits for PROG, whose way out, its FINs and resets, is what the pcap
lacked; the sink gone, strace printed "Broken pipe" for each line left).
``notice(signum)`` is told once; the end of the input ends the conversion
as usual, and a second signal stops it at once.

A child process that parses for the converter (see ``parse_runner``) also
stops when its parent asks: ``after_fork(control_fd)`` makes every byte on
``control_fd`` count as that signal number, and its end of file (the parent
gone) as SIGTERM.
"""

import os
import select
import signal


class Stop(Exception):
    """Raised at a safe point after SIGINT or SIGTERM, to end the conversion cleanly."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


class StopSignals:
    """The signals that end a conversion, recorded until a safe point."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.signum = None  # the first signal
        self.signals = 0
        self.drain = False  # see the module docstring
        self.notice = None
        self.ordered = False  # the parent asked the child to stop
        self.control = None
        self.wake_read, self.wake_write = _nonblocking_pipe()
        self.previous_wakeup = signal.set_wakeup_fd(self.wake_write)
        self.previous = {signum: signal.getsignal(signum) for signum in self.SIGNALS}
        for signum, handler in self.previous.items():
            if handler is not signal.SIG_IGN:
                signal.signal(signum, self._record)

    def _record(self, signum, _frame):
        if self.signum is None:
            self.signum = signum
        self.signals += 1

    def stopping(self):
        """True once a signal ends the conversion (see ``drain``)."""
        return self.signum is not None and (not self.drain or self.signals > 1 or self.ordered)

    def after_fork(self, control_fd):
        """In a freshly forked child: a wake-up pipe of its own (the one
        inherited is the parent's), and ``control_fd`` read as signals."""
        os.close(self.wake_read)
        os.close(self.wake_write)
        self.wake_read, self.wake_write = _nonblocking_pipe()
        signal.set_wakeup_fd(self.wake_write)
        os.set_blocking(control_fd, False)
        self.control = control_fd
        self.notice = None  # the parent tells

    def _read_control(self):
        try:
            sent = os.read(self.control, 16)
        except BlockingIOError:
            return
        self.ordered = True
        self._record(sent[0] if sent else signal.SIGTERM, None)

    def check(self):
        """Raise ``Stop`` if a signal ends the conversion."""
        if not self.ordered and self.control is not None:
            self._read_control()
        if self.stopping():
            raise Stop(self.signum)
        if self.signum is not None and self.notice is not None:
            notice, self.notice = self.notice, None
            notice(self.signum)

    def wait_for_input(self, fd, timeout=None):
        """Block until ``fd`` is readable (True), ``timeout`` seconds passed
        (False) or a signal ends the conversion (then raise ``Stop``)."""
        watched = [fd, self.wake_read] + ([self.control] if self.control is not None else [])
        while not self.stopping():
            try:
                ready = select.select(watched, [], [], timeout)[0]
            except (OSError, ValueError):
                return True
            if fd in ready:
                break
            if not ready:
                return False
            if self.control in ready:
                self._read_control()
            try:
                os.read(self.wake_read, 512)
            except BlockingIOError:
                pass
            self.check()  # a signal drained: its notice
        self.check()
        return True

    def restore(self):
        """Back to the default actions: a second signal ends us at once."""
        for signum in self.SIGNALS:
            if signal.getsignal(signum) == self._record:
                signal.signal(signum, signal.SIG_DFL)

    def close(self):
        """Put back the handlers found at start (``main()`` called in-process)."""
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        signal.set_wakeup_fd(self.previous_wakeup)
        os.close(self.wake_read)
        os.close(self.wake_write)


def _nonblocking_pipe():
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    os.set_blocking(write_end, False)
    return read_end, write_end

"""SIGINT and SIGTERM, caught: a conversion ends at its next safe point.

The handler only records the signal, since raising from it could cut a
pcap record in half; ``check()`` raises ``Stop`` between blocks of lines,
and ``wait_for_input(fd)`` sleeps until ``fd`` has input or a signal came
(``set_wakeup_fd`` wakes the ``select``).  A signal ignored when we started
(``nohup``, a background job, the wrappers' sink) stays ignored.

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
        self.signum = None
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

    def after_fork(self, control_fd):
        """In a freshly forked child: a wake-up pipe of its own (the one
        inherited is the parent's), and ``control_fd`` read as signals."""
        os.close(self.wake_read)
        os.close(self.wake_write)
        self.wake_read, self.wake_write = _nonblocking_pipe()
        signal.set_wakeup_fd(self.wake_write)
        os.set_blocking(control_fd, False)
        self.control = control_fd

    def _read_control(self):
        try:
            sent = os.read(self.control, 16)
        except BlockingIOError:
            return
        self._record(sent[0] if sent else signal.SIGTERM, None)

    def check(self):
        """Raise ``Stop`` if a signal came."""
        if self.signum is None and self.control is not None:
            self._read_control()
        if self.signum is not None:
            raise Stop(self.signum)

    def wait_for_input(self, fd, timeout=None):
        """Block until ``fd`` is readable (True), ``timeout`` seconds passed
        (False) or a signal came (then raise ``Stop``)."""
        watched = [fd, self.wake_read] + ([self.control] if self.control is not None else [])
        while self.signum is None:
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

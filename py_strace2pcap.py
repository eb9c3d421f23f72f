#!/usr/bin/env python3
"""py-strace2pcap: convert strace output into a pcap Wireshark can read.

Record a trace:   strace -f -s655350 -ttt -T -yy -xx -o trace.txt CMD   (or -p PID)
Convert it:       py_strace2pcap.py out.pcap < trace.txt
Live, as strace's sink:
                  strace -f -s655350 -ttt -T -yy -xx -o '! py_strace2pcap.py out.pcap' CMD
Look at it:       wireshark out.pcap     (or: py_strace2pcap.py - < trace.txt | tshark -r -)

Each packet carries who made it: the process's pid as decimal digits in one
MAC (pid 123456 -> 00:00:00:12:34:56), the syscall code and fd session in
the other, the fd as the VLAN id.  Filter: eth.addr == 00:00:00:12:34:56 && vlan.id == 7
"""

import argparse
import datetime
import os
import select
import signal
import sys
import time

from pcap_output import PcapngOutput, PcapOutput, strace_flags
from process_names import ProcessNames
from strace_parser import PROCESS, StraceParser
from strace_parser_2_packet import INET_PROTOCOLS, InetPacketizer
from trace_input import open_trace

__version__ = "1.0.0"
EXIT_USAGE = 2
EXIT_STRICT = 1
PROGRESS_INTERVAL = 0.5
# While a live input is quiet, the converter wakes this often to let out the
# close() FINs whose hold ran out (see Converter.idle).
IDLE_TICK = 0.5
# A trace whose latest syscall is this close to the wall clock is live.
LIVE_TRACE_SKEW = 60.0


class Stop(Exception):
    """Raised at a safe point after SIGINT or SIGTERM, to end the conversion cleanly."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


class StopSignals:
    """SIGINT and SIGTERM, caught: the conversion ends at its next safe point.

    The handler only records the signal, since raising from it could cut a
    pcap record in half; ``check()`` raises ``Stop`` between lines, and
    ``wait_for_input(fd)`` sleeps until ``fd`` has input or a signal came
    (``set_wakeup_fd`` wakes the ``select``).  A signal ignored when we
    started (``nohup``, a background job, the wrappers' sink) stays ignored.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.signum = None
        self.wake_read, self.wake_write = os.pipe()
        os.set_blocking(self.wake_read, False)
        os.set_blocking(self.wake_write, False)
        self.previous_wakeup = signal.set_wakeup_fd(self.wake_write)
        self.previous = {signum: signal.getsignal(signum) for signum in self.SIGNALS}
        for signum, handler in self.previous.items():
            if handler is not signal.SIG_IGN:
                signal.signal(signum, self._record)

    def _record(self, signum, _frame):
        if self.signum is None:
            self.signum = signum

    def check(self):
        """Raise ``Stop`` if a signal came."""
        if self.signum is not None:
            raise Stop(self.signum)

    def wait_for_input(self, fd, timeout=None):
        """Block until ``fd`` is readable (True), ``timeout`` seconds passed
        (False) or a signal came (then raise ``Stop``)."""
        while self.signum is None:
            try:
                ready = select.select([fd, self.wake_read], [], [], timeout)[0]
            except (OSError, ValueError):
                return True
            if fd in ready:
                break
            if not ready:
                return False
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


def parse_arguments(argv):
    """The command line as an ``argparse.Namespace``."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="exit status: 0 done; 1 --strict found socket lines it could not parse;\n"
               "2 bad arguments, an unreadable input or an unwritable output; 128+N\n"
               "stopped by signal N (the pcap then holds every packet so far)")
    parser.add_argument("output", nargs="?",
                        help="the pcap to write; - writes it to standard output")
    parser.add_argument("--format", choices=("pcap", "pcapng"),
                        help="pcap (the default) or pcapng: the process, command, fd and "
                             "syscall as a comment on every packet (default for an "
                             "OUTPUT ending in .pcapng)")
    parser.add_argument("--tls-keylog", metavar="FILE",
                        help="embed this TLS key log (SSLKEYLOGFILE) so that Wireshark "
                             "decrypts TLS (pcapng only)")
    parser.add_argument("-r", "--input", metavar="FILE", action="extend", nargs="+",
                        help="read the trace from FILE instead of standard input; "
                             "several files (strace -ff's trace.PID) are merged "
                             "in time order; .gz/.xz files are decompressed")
    parser.add_argument("--date", metavar="YYYY-MM-DD", type=parse_date,
                        help="the day of -t/-tt clock times and -r relative times "
                             "(default: today, UTC)")
    parser.add_argument("--capture-net", action=argparse.BooleanOptionalAction, default=True,
                        help="convert TCP/UDP sockets, IPv4 and IPv6 (default: on)")
    parser.add_argument("--capture-unix-socket", action=argparse.BooleanOptionalAction,
                        default=False,
                        help="convert AF_UNIX sockets to synthetic TCP/UDP flows (default: off)")
    parser.add_argument("--seed-http2", action="store_true",
                        help="unix flows first seen mid-stream: inject the HTTP/2 preface "
                             "and SETTINGS so Wireshark decodes them as HTTP/2")
    parser.add_argument("--seed-grpc", action="store_true",
                        help="with --seed-http2: inject a HEADERS frame so gRPC is decoded")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress and no summary on standard error")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show the first lines skipped, with their line numbers")
    parser.add_argument("--strict", action="store_true",
                        help="exit with status 1 if any socket line could not be parsed")
    arguments = parser.parse_args(argv)
    if arguments.output is None and arguments.input and len(arguments.input) > 1:
        arguments.output = arguments.input.pop()  # -r FILE OUTPUT: -r took both
    if arguments.output is None:
        parser.error("the following arguments are required: output")
    if arguments.seed_grpc and not arguments.seed_http2:
        parser.error("--seed-grpc needs --seed-http2")
    if arguments.format is None:
        arguments.format = "pcapng" if arguments.output.endswith(".pcapng") else "pcap"
    if arguments.tls_keylog and arguments.format != "pcapng":
        parser.exit(EXIT_USAGE, "py-strace2pcap: --tls-keylog needs pcapng output: add "
                                "--format pcapng or name the output *.pcapng\n")
    return arguments


def open_output(path):
    """A binary file object for ``path`` (``-``: standard output)."""
    if path == "-":
        # The pcap gets its own copy of the standard output, and descriptor 1
        # becomes standard error: nothing else can ever land in the stream.
        output = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=1 << 16)
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
        return output
    return open(path, "wb", buffering=1 << 16)


def parse_date(text):
    """``--date``'s ``YYYY-MM-DD`` as a ``datetime.date``."""
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a YYYY-MM-DD date: %r" % text) from None


class Converter:
    """Lines in, packets out to a pcap writer; counts what it does."""

    def __init__(self, output, arguments):
        self.output = output
        # pcapng names the process of every packet: follow execve/clone/fork.
        self.processes = ProcessNames() if arguments.format == "pcapng" else None
        self.parser = StraceParser(date=arguments.date,
                                   process_events=self.processes is not None)
        self.described = False
        self.capture_net = arguments.capture_net
        self.inet = InetPacketizer()
        self.unix = None
        if arguments.capture_unix_socket:
            from unix_tcp_synth import UnixPacketizer
            self.unix = UnixPacketizer(seed_http2=arguments.seed_http2,
                                       seed_grpc=arguments.seed_grpc)
        self.events = 0
        self.packets = 0
        self.ignored_events = 0
        self.latest_time = 0.0

    def feed_block(self, block):
        """Parse a block of whole lines ("\\n"-joined) and write the packets
        they cause; the parser picks which lines it needs to see."""
        for line in self.parser.lines_to_parse(block):
            self.feed(line)

    def feed(self, line):
        """Parse one line and write the packets it causes."""
        for event in self.parser.parse(line):
            if event["protocol"] == PROCESS:
                self.processes.observe(event)
                continue
            if self.processes is not None:
                self.processes.annotate(event)
            self.events += 1
            self.latest_time = event["time"]
            if event["protocol"] in INET_PROTOCOLS:
                packetizer = self.inet if self.capture_net else None
            else:
                packetizer = self.unix
            if packetizer is None:
                self.ignored_events += 1
                continue
            packets = packetizer.packets(event)
            if packets and not self.described:
                # The line of the first packet shows the strace options used.
                self.described = True
                self.output.describe(strace_flags(line))
            self.write(packets)

    def idle(self, now):
        """The input paused at wall-clock time ``now``.  In a live trace (its
        latest syscall within LIVE_TRACE_SKEW of ``now``) the close() FINs
        whose hold ran out go out now, not at the next line; a replayed old
        trace keeps them for its next lines."""
        if now - self.latest_time > LIVE_TRACE_SKEW:
            return
        for packetizer in (self.inet, self.unix):
            if packetizer is not None and packetizer.held_fins:
                self.write(packetizer.held_fins.release_due(now))

    def finish(self):
        """Write what the packetizers still hold; close the parser's books."""
        self.parser.finish()
        self.write(self.inet.flush())
        if self.unix is not None:
            self.write(self.unix.flush())

    def write(self, packets):
        """Write packets ``(time, frame, wire_length, event, outbound)``."""
        for packet in packets:
            self.output.write(packet)
            self.packets += 1

    def summary(self, elapsed):
        """The end-of-run report, as lines of text."""
        parser = self.parser
        report = ["py-strace2pcap: %d lines, %d socket events, %d packets, "
                  "%d TCP connections in %.1f s"
                  % (self.parser.line_number, self.events, self.packets, self.inet.connections, elapsed)]
        if self.unix is not None:
            report += self.unix.summary()
        if self.ignored_events:
            report.append("  %d socket events of a kind not captured (see --capture-net, "
                          "--capture-unix-socket)" % self.ignored_events)
        for reason, count in parser.skipped.most_common():
            report.append("  skipped %d: %s" % (count, reason))
        if parser.unseen_payloads:
            report.append("  %d sendfile() calls moved %d bytes strace does not show: their "
                          "packets declare the length and hold no bytes"
                          % (parser.unseen_payloads, parser.unseen_bytes))
        if parser.truncated_payloads:
            report.append("  %d payloads cut by strace's -s; -s %d would have kept them whole"
                          % (parser.truncated_payloads, parser.longest_cut_payload))
        if self.inet.placeholder_events or parser.placeholder_addresses:
            report.append("  %d events with unknown addresses got placeholder endpoints "
                          "(192.0.2.x / 198.51.100.1)"
                          % (self.inet.placeholder_events + parser.placeholder_addresses))
        if parser.clock.used_date and not parser.date_given:
            report.append("  timestamps without a date (-t, -tt, -r or none) were placed on "
                          "%s (today, UTC); --date sets the day" % parser.date)
        if self.inet.duplicates_dropped:
            report.append("  %d UDP datagrams seen by both ends written once"
                          % self.inet.duplicates_dropped)
        return report

    def socket_lines_lost(self):
        """Socket lines that could not be parsed (what --strict fails on)."""
        return sum(count for reason, count in self.parser.skipped.items()
                   if reason.startswith("unparseable") and reason != "unparseable")


class Progress:
    """Bytes-read progress on standard error, for a terminal only."""

    def __init__(self, fd, enabled):
        self.fd = fd
        self.enabled = enabled and sys.stderr.isatty()
        self.total = None
        if self.enabled:
            try:
                self.total = os.fstat(fd).st_size or None
            except OSError:
                pass
        self.started = self.last = time.monotonic()

    def update(self):
        """Redraw the progress line if enough time has passed."""
        now = time.monotonic()
        if now - self.last < PROGRESS_INTERVAL:
            return
        self.last = now
        try:
            done = os.lseek(self.fd, 0, os.SEEK_CUR)
        except OSError:
            return
        rate = done / (now - self.started) / 1e6
        if self.total:
            sys.stderr.write("\r%5.1f%% %d / %d MB, %.0f MB/s "
                             % (100.0 * done / self.total, done // 10 ** 6,
                                self.total // 10 ** 6, rate))
        else:
            sys.stderr.write("\r%d MB, %.0f MB/s " % (done // 10 ** 6, rate))
        sys.stderr.flush()

    def done(self):
        """Clear the progress line."""
        if self.enabled:
            sys.stderr.write("\r\033[K")


def convert(arguments, stop_signals):
    """Run one conversion, ended early by ``stop_signals``; return the exit status."""
    try:
        trace = open_trace(arguments.input, arguments.date
                           or datetime.datetime.now(datetime.timezone.utc).date())
        input_fd = trace.fd
    except OSError as error:
        print("py-strace2pcap: cannot read %s: %s" % (error.filename or "-", error.strerror),
              file=sys.stderr)
        return EXIT_USAGE
    tls_key_log = None
    if arguments.tls_keylog:
        try:
            with open(arguments.tls_keylog, "rb") as key_log:
                tls_key_log = key_log.read()
        except OSError as error:
            print("py-strace2pcap: cannot read %s: %s" % (arguments.tls_keylog, error.strerror),
                  file=sys.stderr)
            return EXIT_USAGE
    try:
        output = open_output(arguments.output)
    except OSError as error:
        print("py-strace2pcap: cannot write %s: %s" % (arguments.output, error.strerror),
              file=sys.stderr)
        return EXIT_USAGE
    if arguments.format == "pcapng":
        writer = PcapngOutput(output, "py-strace2pcap " + __version__, tls_key_log)
    else:
        writer = PcapOutput(output)
    converter = Converter(writer, arguments)
    progress = Progress(input_fd, not arguments.quiet)
    started = time.monotonic()

    def on_idle():
        # The input has nothing ready (a live strace between syscalls): the
        # moment to push the packets out, and never on bulk input.
        while True:
            converter.idle(time.time())
            writer.flush()
            if progress.enabled:
                progress.update()
            if stop_signals.wait_for_input(input_fd, IDLE_TICK):
                return

    stopped_by = None
    try:
        try:
            for block in trace.blocks(on_idle):
                converter.feed_block(block)
                stop_signals.check()
                if progress.enabled:
                    progress.update()
        except Stop as stop:
            stopped_by = stop.signum
            stop_signals.restore()
        converter.finish()
        writer.close()
    except BrokenPipeError:
        # The reader went away (``| head``): leave quietly, as Unix tools do.
        if not output.closed:
            os.dup2(os.open(os.devnull, os.O_WRONLY), output.fileno())
        return 128 + signal.SIGPIPE
    except OSError as error:
        print("py-strace2pcap: stopped by an I/O error: %s" % error.strerror, file=sys.stderr)
        return EXIT_USAGE
    progress.done()
    if not arguments.quiet:
        report = converter.summary(time.monotonic() - started)
        if stopped_by:
            report.insert(0, "py-strace2pcap: interrupted; the pcap holds every packet so far")
        print("\n".join(report), file=sys.stderr)
        if arguments.verbose:
            for number, reason, text in converter.parser.examples:
                print("  line %d (%s): %s" % (number, reason, text), file=sys.stderr)
    if arguments.strict and converter.socket_lines_lost():
        return EXIT_STRICT
    return 128 + stopped_by if stopped_by else 0


def main(argv=None):
    """Entry point of the ``py-strace2pcap`` command."""
    stop_signals = StopSignals()
    try:
        return convert(parse_arguments(argv), stop_signals)
    finally:
        stop_signals.close()


if __name__ == "__main__":
    sys.exit(main())

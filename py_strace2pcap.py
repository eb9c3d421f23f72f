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
import errno
import os
import signal
import stat
import sys
import time

from bounded_tables import ForkTimes
from parse_runner import ChildFailed, start_parsing
from pcap_output import PcapngOutput, PcapOutput, strace_flags
from process_names import ProcessNames
from stop_signals import Stop, StopSignals
from strace_parser import (EXITED, JOIN_GAP, PACKED_PROTOCOL, PROCESS, SEND_PENDING,
                           SUMMARY_TABLE, UNCONVERTED, StraceParser, unpack_event)
from strace_parser_2_packet import INET_PROTOCOLS, MADE_UP_PORTS, InetPacketizer
from time_order import MAX_LATE, TimeOrder
from trace_input import (CAPTURE_MAGICS, LONGEST_KEPT_STRING, MAX_LINE, is_live,
                         open_trace, ready_within)
from wording import worded

__version__ = "1.0.0"
# Calls of sockets not converted that the summary counts as such, beside
# those that moved bytes: what would have shown a connection.
CONNECTING_CALLS = {"connect", "accept", "accept4"}
EXIT_USAGE = 2
EXIT_STRICT = 1
EXIT_FAILED = 3
# How much goes to standard error (-q, -v).
QUIET, SUMMARY, VERBOSE = 0, 1, 2
PROGRESS_INTERVAL = 0.5
# While a live input is quiet, the converter wakes this often to let out the
# close() FINs whose hold ran out (see PacketStage.idle).
IDLE_TICK = 0.5
# A trace whose latest syscall is this close to the wall clock is live.
LIVE_TRACE_SKEW = 60.0
# TCP events, none of these, in a trace with few other lines: -e
# trace=network's, whose class has no read/write/close (nor splice).
FILE_LIKE_CALLS = {"read", "write", "readv", "writev", "close", "splice"}


def command_name(argv0=None):
    """How the help's examples name this command (``argv0``: as it was
    run, sys.argv[0] by default): py-strace2pcap once installed (pip makes
    no py_strace2pcap.py); in a checkout the script's path as typed, ./
    in front if it was run from its directory (strace's sink runs it by
    that name, which PATH does not hold)."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    if not argv0.endswith(".py"):
        return os.path.basename(argv0) or "py-strace2pcap"
    return argv0 if os.sep in argv0 else os.path.join(os.curdir, argv0)


def parse_arguments(argv):
    """The command line as an ``argparse.Namespace``."""
    parser = argparse.ArgumentParser(
        usage="%(prog)s [options] OUTPUT [-r TRACE [TRACE ...]]   (the trace on standard "
              "input without -r)",
        description=__doc__.split("\n\n", 1)[1].replace("py_strace2pcap.py", command_name()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="exit status: 0 done; 1 --strict found socket lines it could not parse,\n"
               "a compressed trace cut short, or no strace trace at all;\n"
               "2 bad arguments, an unreadable input, an unwritable output or an\n"
               "existing file that is no pcap as the output (not written over); 3 the\n"
               "parsing process failed (a bug: its traceback is shown); 128+N stopped\n"
               "by signal N (the pcap then holds every packet so far; 141: the reader\n"
               "of OUTPUT - went away, as | head makes it). Reading a pipe,\n"
               "the first SIGINT or SIGTERM only says so and converts on to the end of\n"
               "the input (strace got it too, and writes the traced program's way out).")
    parser.add_argument("output", nargs="?", metavar="OUTPUT",
                        help="the pcap to write (first: py-strace2pcap OUTPUT -r TRACE); - "
                             "writes it to standard output (not a terminal); an existing "
                             "file that is no pcap is not written over")
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
                             "in time order; gzip, xz and bzip2 files (and standard input) "
                             "are decompressed")
    parser.add_argument("--date", metavar="YYYY-MM-DD", type=parse_date,
                        help="the day of -t/-tt clock times and -r relative times "
                             "(default: today); clock times are read in the local time "
                             "zone, as strace prints them: set TZ to strace's")
    parser.add_argument("--capture-net", action=argparse.BooleanOptionalAction, default=True,
                        help="convert TCP/UDP sockets, IPv4 and IPv6 (default: on)")
    parser.add_argument("--capture-unix-socket", action=argparse.BooleanOptionalAction,
                        default=False,
                        help="convert AF_UNIX sockets to synthetic TCP/UDP flows (default: "
                             "off); all on port 50051: the summary says which Decode As "
                             "(tshark -d tcp.port==50051,PROTOCOL) decodes them")
    parser.add_argument("--seed-http2", action="store_true",
                        help="unix flows first seen mid-stream: inject the HTTP/2 preface "
                             "and SETTINGS so Wireshark decodes them as HTTP/2")
    parser.add_argument("--seed-grpc", action="store_true",
                        help="with --seed-http2: inject a HEADERS frame so gRPC is decoded")
    # The last of -q and -v given wins, as in rsync and git.
    parser.add_argument("-q", "--quiet", dest="verbosity", action="store_const", const=QUIET,
                        default=SUMMARY,
                        help="no progress and no summary on standard error (the last of -q "
                             "and -v given counts)")
    parser.add_argument("-v", "--verbose", dest="verbosity", action="store_const",
                        const=VERBOSE,
                        help="show the first lines skipped for an unusual reason (unparseable, "
                             "cut, never resumed), with their line numbers; lines that are "
                             "simply no socket data are only counted")
    parser.add_argument("--strict", action="store_true",
                        help="exit with status 1 if any socket line could not be parsed, "
                             "a compressed trace ends early, or the input is no strace "
                             "trace (empty, strace -c's table, other text)")
    parser.add_argument("--version", action="version", version="py-strace2pcap " + __version__)
    arguments = parser.parse_args(argv)
    if arguments.output is None and arguments.input and len(arguments.input) > 1:
        arguments.output = arguments.input.pop()  # -r FILE OUTPUT: -r took both
    if arguments.output is None:
        parser.error("the following arguments are required: OUTPUT")
    if arguments.seed_grpc and not arguments.seed_http2:
        parser.error("--seed-grpc needs --seed-http2")
    if arguments.seed_http2 and not arguments.capture_unix_socket:
        parser.exit(EXIT_USAGE, "py-strace2pcap: --seed-http2 seeds unix flows: add "
                                "--capture-unix-socket (a TCP connection's HTTP/2 is decoded "
                                "with tshark -d tcp.port==PORT,http2 where its first bytes in "
                                "the trace begin a frame, its gRPC with HTTP/2 fake headers "
                                "too: see README, Seeding)\n")
    if arguments.format is None:
        arguments.format = "pcapng" if arguments.output.lower().endswith(".pcapng") else "pcap"
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


class ParseStage:
    """Lines in, socket events out: the parser, and for pcapng the process
    names it follows."""

    # How much of strace's options a line that gave an event shows.
    RESUMED, WHOLE, WITH_PAYLOAD = 1, 2, 3

    def __init__(self, arguments):
        # pcapng names the process of every packet: follow execve/clone/fork.
        self.processes = ProcessNames() if arguments.format == "pcapng" else None
        self.parser = StraceParser(date=arguments.date,
                                   process_events=self.processes is not None)
        # The strace options the trace was recorded with, as the line that
        # shows the most of them tells: the first whole line that gave a
        # payload (its string shows -xx, its fd -yy), until then the first
        # whole line that gave an event, or else a resumed one.
        self.flags = None
        self.flags_shown = 0

    def events(self, block):
        """The socket events of a block of whole lines ("\\n"-joined), in
        order; the parser picks which lines it needs to see.  Those of
        common data lines on INET sockets stay packed (see
        ``unpack_event``): in a parsing child that leaves building their
        dicts to the other process."""
        events = []
        parser = self.parser
        for line in parser.lines_to_parse(block):
            for event in parser.parse_packed(line):
                if type(event) is tuple and (self.processes is not None
                                             or event[PACKED_PROTOCOL].startswith("UNIX")):
                    # Process names are known here only; unix packets cost
                    # the other process about twice an INET event's (bench
                    # unix: its CPU time -10%, median of 4, unpacked here).
                    event = unpack_event(event)
                if type(event) is dict:
                    if event["protocol"] == PROCESS:
                        if self.processes is not None:
                            self.processes.observe(event)
                        if event["child"] or event["syscall"].startswith("exec"):
                            events.append(event)  # closes may be of copies (ForkTimes)
                        continue
                    if self.processes is not None:
                        self.processes.annotate(event)
                    if event["protocol"] in (EXITED, SEND_PENDING):
                        events.append(event)
                        continue
                events.append(event)
                if self.flags_shown < self.WITH_PAYLOAD:
                    self._learn_flags(line, event)
        return parser.join_reads(events)

    def held_events(self):
        """The events still held back at the end of input (a run of small
        reads the last block ended in, a call -s cut waiting for its hex
        dump: see ``StraceParser.held_events``)."""
        return self.parser.held_events()

    def waits_for(self, fd):
        """At a pause of the live input ``fd``: True if lines came within
        JOIN_GAP while the parser holds a run of small reads they may go on
        (strace writes a line per syscall: a reader's pipe runs dry between
        the recv(1)s of one banner, which came out a byte or three a
        segment, and Wireshark's SSH dissector read none of a helper's 35
        key exchange messages)."""
        return self.parser.holds_reads() and ready_within(fd, JOIN_GAP)

    def _learn_flags(self, line, event):
        if type(event) is tuple:
            event = unpack_event(event)
        shown = (self.RESUMED if "resumed>" in line
                 else self.WITH_PAYLOAD if event.get("payload") else self.WHOLE)
        if shown > self.flags_shown:
            self.flags, self.flags_shown = strace_flags(line), shown


class ProcessExits:
    """Where a process's exit line goes: to every packetizer, whose
    connections that process used last get a FIN (see ``exited``)."""

    def __init__(self, packetizers, forks):
        self.packetizers = packetizers
        self.forks = forks

    def packets(self, event):
        """The packets of exit event ``event`` (those of FINs held before it
        that its time released)."""
        packets = []
        for packetizer in self.packetizers:
            packets += packetizer.exited(event)
        self.forks.ended(event["pid"])
        return packets


class ProcessExecs:
    """Where a process's successful execve goes: to the INET packetizer,
    whose connections it used last get a FIN, but those it holds a dup of
    (see ``InetPacketizer.execed``)."""

    def __init__(self, packetizer):
        self.packetizer = packetizer

    def packets(self, event):
        """The packets of exec event ``event``."""
        return self.packetizer.execed(event)


class PacketStage:
    """Socket events in, packets out to a pcap writer; counts what it does."""

    def __init__(self, output, arguments):
        self.output = output
        self.described = False
        self.capture_net = arguments.capture_net
        # When each thread known to be a forked process was forked: both
        # packetizers' closes ask (see tcp_flow.HeldFins).
        self.forks = ForkTimes()
        self.inet = InetPacketizer(self.forks)
        self.unix = None
        if arguments.capture_unix_socket:
            from unix_tcp_synth import UnixPacketizer
            self.unix = UnixPacketizer(seed_http2=arguments.seed_http2,
                                       seed_grpc=arguments.seed_grpc,
                                       budget=self.inet.held_back, forks=self.forks)
        self.events = 0
        # Exit lines and sends left unfinished among the events (not socket events).
        self.process_exits = 0
        self.pending_marks = 0
        # pid -> start time of its send on a socket left unfinished: its
        # packet is still to come, the time order holds the later ones.
        self.pending_sends = {}
        self.ignored_events = [0, 0]  # unix, TCP/UDP: not captured
        self.ignored_connecting = [0, 0]  # those that connect or move bytes
        # The syscalls of the TCP events: -e trace=network shows no
        # read/write/close, and the summary asks.
        self.tcp_calls = set()
        self.latest_time = 0.0
        # Wall-clock time less trace time when the latest event arrived: how
        # late a live trace comes (strace's latency, or a replay's age).
        self.arrival_lag = 0.0
        self.order = TimeOrder(output.write, self._fins_held_before)
        self.holding = (self.inet.holding() + (self.unix.holding() if self.unix else ())
                        + (self.pending_sends,))
        self.exits = ProcessExits([self.inet] + ([self.unix] if self.unix else []), self.forks)
        self.execs = ProcessExecs(self.inet)

    def take(self, events, flags):
        """Write the packets ``events`` (dicts, or packed: see
        ``unpack_event``) cause; ``flags``: the strace options the trace
        shows (see ``ParseStage``)."""
        if not events:
            return
        self.events += len(events)
        order = self.order
        for event in events:
            if type(event) is tuple:
                event = unpack_event(event)
            protocol = event["protocol"]
            if protocol in INET_PROTOCOLS:
                packetizer = self.inet if self.capture_net else None
                if protocol[0] == "T":  # TCP, TCPv6
                    self.tcp_calls.add(event["syscall"])
            elif protocol == EXITED:
                packetizer = self.exits
                self.process_exits += 1
            elif protocol == SEND_PENDING:
                self.pending_marks += 1
                self.pending_sends[event["pid"]] = event["time"]
                continue
            elif protocol == PROCESS:
                self.forks.created(event)
                if event["child"] and not event["shares_fds"]:
                    self.inet.forked(event["child"], event["pid"], event["time"])
                    if not event.get("execed") and any(self.holding):
                        for packetizer in (self.inet, self.unix):
                            if packetizer is not None and packetizer.held_fins:
                                packetizer.held_fins.forked(event["child"], event["pid"],
                                                            event["time"])
                if event["child"] or not event["syscall"].startswith("exec"):
                    continue
                packetizer = self.execs  # its close-on-exec sockets close
            else:
                packetizer = self.unix
            if packetizer is None:
                kind = protocol in INET_PROTOCOLS
                self.ignored_events[kind] += 1
                # (Not the close of a socket that never connected: glibc's
                # tries of nscd's socket, in every apt-get trace; nor curl's
                # socketpair that wakes it, which never carries a byte.)
                if event["length"] or event["syscall"] in CONNECTING_CALLS:
                    self.ignored_connecting[kind] += 1
                if self.pending_sends:
                    # Its thread's unfinished send is done (a unix one not
                    # captured: its mark held every later packet back).
                    self.pending_sends.pop(event["pid"], None)
                continue
            packets = packetizer.packets(event)
            if self.unix is not None:
                # The other packetizer's FINs due by this event's time go out
                # now, not at that packetizer's next event, seconds later.
                for other in (self.inet, self.unix):
                    if other is not packetizer and other.held_fins:
                        packets = other.held_fins.release_due(event["time"]) + packets
            if packets and not self.described:
                self.described = True
                self.output.describe(flags)
            # Event by event, not per batch: the pcap must not depend on
            # how the input was cut into blocks (a file, a pipe).  The
            # packetizers are asked only while they hold something (any()
            # of their tables; the time order costs the parent 8.5% more
            # instructions on bench small x0.2, 9.7% asking every event).
            if order.held or any(self.holding):
                order.add(packets, self._earliest_held())
                if self.pending_sends:
                    # A thread's next event: its unfinished send is done.
                    self.pending_sends.pop(event["pid"], None)
            elif packets:
                order.write_all(packets)
        self.latest_time = event["time"]
        self.arrival_lag = time.time() - self.latest_time

    def idle(self, now):
        """The input paused at wall-clock time ``now``.  In a live trace (its
        latest syscall within LIVE_TRACE_SKEW of ``now``) the close() FINs
        and the unprinted writes whose wait ran out go out now, not at the
        next line, and the packets made so far that nothing held precedes
        (all of them once that is MAX_LATE old, as by trace time); a
        replayed old trace keeps them for its next lines.  Their wait is
        counted from when the latest event arrived: a trace recorded
        seconds before it is piped in (cat trace | ...) had every FIN let
        out at once, before the bytes after it (a helper's sshd: 4 to 6
        of 7 connections)."""
        if now - self.latest_time > LIVE_TRACE_SKEW:
            return
        now -= self.arrival_lag  # the trace time it is now, as the trace goes
        released = self.inet.unseen_due(now)
        for packetizer in (self.inet, self.unix):
            if packetizer is not None and packetizer.held_fins:
                released += packetizer.held_fins.release_due(now)
        earliest = self._earliest_held()
        self.order.add(sorted(released, key=lambda packet: packet[0]),
                       None if earliest is None or earliest < now - MAX_LATE else earliest)

    def finish(self):
        """Write what the packetizers still hold, all in time order."""
        packets = self.inet.flush()
        if self.unix is not None:
            # Each packetizer's in time order; the two merged by time.
            packets = sorted(packets + self.unix.flush(), key=lambda packet: packet[0])
        self.order.add(packets, None)

    def _fins_held_before(self, time):
        """The packets of the close() FINs held since before ``time``, let
        out now: the time order is full (see ``time_order``).  One whose
        traced reader has still to read bytes strace did not print stays
        held, as if closed at ``time``: out now, it would send those bytes
        without them, and the reads that print them would come too late."""
        released = []
        for packetizer in (self.inet, self.unix):
            if packetizer is not None and packetizer.held_fins:
                released += packetizer.held_fins.release_closed_before(time, time)
        return released

    def _earliest_held(self):
        """The time of the oldest packet a packetizer may still make, or None."""
        times = [time for time in (self.inet.earliest_held(),
                                   self.unix.earliest_held() if self.unix else None)
                 if time is not None]
        if self.pending_sends:
            times.append(min(self.pending_sends.values()))
        return min(times) if times else None

    def summary(self, parser, elapsed, damaged=False):
        """The end-of-run report, as lines of text; ``parser``: the
        ``StraceParser`` that read the trace; ``damaged``: the input ended
        early (its damage is told: no advice on recording it then)."""
        socket_events = (self.events - self.process_exits - self.pending_marks
                         - self.forks.recorded)
        copies_closed = sum(packetizer.held_fins.copies_closed
                            for packetizer in (self.inet, self.unix) if packetizer is not None)
        report = ["py-strace2pcap: %s, %s, %s, %s in %.1f s"
                  % (plural(parser.line_number, "line"), plural(socket_events, "socket event"),
                     plural(self.order.written, "packet"),
                     plural(self.inet.connections, "TCP connection"), elapsed)]
        if self.unix is not None:
            report += self.unix.summary()
            if parser.unix_streams_unannotated:
                report.append(worded("  %d unix stream event[s] had no -yy annotation: a "
                                     "socket's peer is unknown, so each traced end is a flow "
                                     "of its own (record with -yy to join them)",
                                     parser.unix_streams_unannotated))
        for kind, text, how in ((0, "unix socket", "add --capture-unix-socket"),
                                (1, "TCP/UDP socket", "--no-capture-net")):
            if self.ignored_events[kind]:
                report.append(worded("  %d " + text + " event[s] not converted (%s)",
                                     self.ignored_events[kind], how
                                     if self.ignored_connecting[kind]
                                     else "none connected or moved a byte"))
        for reason, count in parser.skipped.most_common():
            if count:
                report.append("  skipped %d: %s" % (count, reason))
        unconverted = sum(count for reason, count in parser.skipped.items()
                          if reason.endswith(UNCONVERTED))
        if not self.order.written and unconverted:
            report.append("  no packets: the trace's socket data is on sockets of kinds not "
                          "converted (only TCP, UDP and unix sockets are)")
        elif not socket_events and not parser.failed_connects and not damaged:
            report.append(no_events_hint(parser))
        elif (not self.order.written and parser.skipped["failed call"]
              and not any(self.ignored_events) and not parser.skipped["socket setup"]):
            report.append("  no packets: the socket calls in the trace failed (recorded "
                          "with -Z, --failed-only?)")
        # A program that sends and exits without a close() (redis-cli), or
        # a PostgreSQL backend attached to (sendto/recvfrom, epoll_wait,
        # pread64: 53 lines for 260 socket events), has its other syscalls
        # in the trace: trace=network shows few or none, but its signals
        # (Go's SIGURG: 3 for 8 events and 46 socket setup lines).  A
        # forking server's children each send their parent a SIGCHLD, which
        # the sieve counts as not a socket syscall: as many as exit lines,
        # left out (git daemon: 29 for 8 events and 16 socket setup lines).
        other_lines = (parser.skipped["not a socket syscall"] + parser.skipped["not a socket"]
                       - parser.network_lines - self.process_exits)
        socket_lines = socket_events + parser.skipped["socket setup"] + parser.network_lines
        if (self.tcp_calls and not self.tcp_calls & FILE_LIKE_CALLS
                and 10 * other_lines < socket_lines):
            report.append("  no read(), write() or close() on a TCP socket: recorded with -e "
                          "trace=network? It leaves them out, and the bytes they move (add "
                          "-e trace=%network,read,write,readv,writev,close,splice)")
        # A splice() out of a socket reads bytes its traced sender's calls counted.
        unseen = [parser.unseen_payloads, parser.unseen_bytes]
        for packetizer in (self.inet, self.unix):
            if packetizer is not None:
                unseen = [total - again for total, again in zip(unseen,
                                                                 packetizer.splices_of_sent)]
        if unseen[0]:
            report.append(worded("  %d sendfile() or splice() call[s] moved %d byte[s] strace "
                                 "does not show: their packets declare the length and hold no "
                                 "bytes (a traced reader's reads fill them in); HTTP responses "
                                 "with such bodies show with tshark -o "
                                 "http.desegment_body:FALSE", *unseen))
        if parser.discarded_reads:
            report.append(worded("  %d TCP read[s] with MSG_TRUNC dropped %d byte[s] unread "
                                 "(strace shows older bytes of their buffer): their packets "
                                 "declare the length and hold no bytes",
                                 parser.discarded_reads, parser.discarded_bytes))
        report += counted([
            (self.inet.refused_connects, "  %d connect() call[s] refused: a SYN[| each] and "
                                         "the peer's RST"),
            (self.inet.unanswered_connects, "  %d connect() call[s] timed out: a SYN[| each], "
                                            "unanswered (not the kernel's retries)"),
            (self.inet.unresolved_connects, "  %d connect() call[s] in progress [was|were] "
                                            "closed with no sign of an answer (the program "
                                            "gave up): [its|their] SYN alone"),
            (self.inet.unshown_connects, "  %d connect() call[s] made [a connection|"
                                         "connections] no later syscall showed the port of "
                                         "(no read, write or close: -e trace=network?): not "
                                         "in the pcap"),
        ])
        if self.inet.made_up_ports:
            report.append("  %d of those SYNs from a made-up port, %d and up: strace does not "
                          "show it" % (self.inet.made_up_ports, MADE_UP_PORTS[0]))
        if parser.failed_connects:
            report.append(worded("  %d connect() call[s] failed (%s): the pcap shows no "
                                 "packets for [it|them]", sum(parser.failed_connects.values()),
                                 ", ".join("%s %d" % item
                                           for item in parser.failed_connects.most_common())))
        if self.inet.unread_at_reset[0]:
            report.append(worded("  %d TCP connection[s] reset by a close that left %d byte[s] "
                                 "of the peer unread: all are in the pcap as sent, though the "
                                 "kernels dropped those still queued at the RST (how many, "
                                 "the trace does not show)", *self.inet.unread_at_reset))
        report += counted([
            (self.inet.seen_open, "  %d TCP connection[s] [was|were] open before [its|their] "
                                  "first line (no connect() or accept(): strace -p, -e "
                                  "trace= without them, or -z hiding an EINPROGRESS): no "
                                  "handshake"),
            (parser.process_lines, "  %d execve, clone and fork line[s] read for the process "
                                   "names"),
            (copies_closed, "  %d close[s] (or exit[s]) of one copy of a socket another "
                            "process keeps (forked from or by the closer, or passed the "
                            "socket with SCM_RIGHTS): no FIN"),
            (self.inet.dup_closes, "  %d close[s] of a TCP socket's fd whose process keeps "
                                   "another fd of it (dup, dup2, fcntl F_DUPFD, or inherited "
                                   "from its parent's): no FIN"),
            (parser.reads_joined[0] + (parser.reads_joined[1] if self.unix else 0),
             "  %d small read[s] joined to the read before [it|them]: a header read a few "
             "bytes at a time came as one segment (see README)"),
            (parser.datagrams_longer_than_read, "  %d datagram[s] [was|were] longer than the "
                                                "buffer that read [it|them] (MSG_TRUNC): [its "
                                                "packet declares|their packets declare] the "
                                                "whole length"),
            (parser.unprinted_messages, "  %d message[s] of sendmmsg/recvmmsg calls strace did "
                                        "not print (-s limits how many entries of an array it "
                                        "prints too): not in the pcap, unless the other end's "
                                        "calls printed [it|them]"),
            (parser.datagrams_read_in_part, "  %d datagram[s] [was|were] read in part "
                                            "(msg_flags MSG_TRUNC: longer than the buffer): "
                                            "where [its|their] sender is not traced, [its "
                                            "packet holds|their packets hold] only the bytes "
                                            "read"),
            (parser.payloads_from_dumps, "  %d payload[s] cut by strace's -s [was|were] taken "
                                         "whole from [its hex dump|their hex dumps] (-e read=, "
                                         "-e write=)"),
        ])
        # A unix HTTP/2 flow's unprinted bytes are a gap, not declared lengths.
        lacking = self.output.missing_bytes or (self.unix is not None and self.unix.unprinted)
        if parser.truncated_payloads and lacking:
            report.append(worded("  %d payload[s] cut by strace's -s ([it|they] would have "
                                 "been whole with -s %d)", parser.truncated_payloads,
                                 parser.longest_cut_payload))
            if parser.longest_cut_payload > LONGEST_KEPT_STRING:
                report.append("  (but a call's line is cut to its first %d MiB here: the "
                              "packets of a call over %d bytes hold that many)"
                              % (MAX_LINE >> 20, LONGEST_KEPT_STRING))
        elif parser.truncated_payloads:
            report.append(worded("  %d payload[s] cut by strace's -s: [its traced reader's "
                                 "reads hold all its|their traced readers' reads hold all "
                                 "their] bytes", parser.truncated_payloads))
        if self.output.missing_bytes:
            report.append(worded("  the packets lack %d byte[s] of the lengths they declare "
                                 "(Wireshark: \"Packet size limited during capture\")",
                                 self.output.missing_bytes))
        if self.inet.placeholder_events or parser.placeholder_addresses:
            report.append(worded("  %d event[s] with unknown addresses got placeholder "
                                 "endpoints (192.0.2.x / 198.51.100.1)%s",
                                 self.inet.placeholder_events + parser.placeholder_addresses,
                                 "; record with -yy for the real ones (what both ends of a "
                                 "connection show, stream or datagram, appears twice, as "
                                 "each end saw it)" if parser.placeholder_addresses else ""))
        report += made_up_times(parser)
        if self.order.out_of_order:
            report.append(worded("  %d packet[s] stamped earlier than a packet before [it|them] "
                                 "(sent data has its syscall's start time, received data its "
                                 "end; see README)", self.order.out_of_order))
        if self.inet.duplicates_dropped:
            report.append(worded("  %d UDP datagram[s] seen by both ends written once",
                                 self.inet.duplicates_dropped))
        return report


def plural(count, noun):
    """``count`` and ``noun``, an "s" added unless ``count`` is 1: "1 packet", "2 packets"."""
    return "%d %s%s" % (count, noun, "" if count == 1 else "s")


def counted(lines):
    """The report lines of ``lines``, ``(count, text)`` pairs: ``text % count``
    for each count not 0."""
    return [worded(text, count) for count, text in lines if count]


def io_error_place(error, arguments):
    """Where the I/O ``error`` that stopped a conversion of ``arguments``
    likely was, as words: writing the output when it says the disk is
    full, else its file if it names one, else reading or writing."""
    output = "standard output" if arguments.output == "-" else arguments.output
    if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return "writing %s" % output
    if error.filename:
        return error.filename
    return "reading %s or writing %s" % (" ".join(arguments.input or ["standard input"]),
                                          output)


def no_events_hint(parser):
    """The report line saying why a trace gave no socket event."""
    return not_a_trace(parser) or (
        "  no socket syscall in the trace: record with -f, while the program uses "
        "sockets, and keep them in any -e trace=")


def not_a_trace(parser):
    """The report line saying why the input ``parser`` read is no strace
    trace (empty, strace -c's table, mostly other text); None if it is one."""
    if not parser.line_number:
        return "  the trace is empty"
    unreadable = sum(count for reason, count in parser.skipped.items()
                     if reason.startswith("unparseable"))
    if parser.skipped[SUMMARY_TABLE]:
        return ("  this is the table of counts of strace -c, not a trace: record without -c "
                "(-C gives both)")
    if 2 * unreadable > parser.line_number:
        return "  most lines are not strace output: give the file strace -o wrote (see --help)"
    return None


def made_up_times(parser):
    """Summary lines on the times the trace's timestamps do not give whole:
    the day and zone of -t/-tt clock times, -r's and missing times."""
    clock, day = parser.clock, parser.date.isoformat()
    lines = []
    if clock.used_clock:
        zone = time.strftime("%z", time.localtime(clock.first_clock))
        line = ("  -t/-tt clock times were read as local time (UTC%s:%s, set by TZ) on %s"
                % (zone[:3], zone[3:], day))
        if not parser.date_given:
            line += " (today; --date sets the day)"
        if clock.whole_seconds:
            line += ("; -t shows whole seconds: record with -ttt for the order of packets "
                     "within a second")
        lines.append(line)
    if clock.used_relative:
        lines.append("  -r shows only the time between lines: the packets begin at midnight "
                     "of %s; record with -ttt for real times" % day)
    if parser.untimed:
        lines.append("  lines without a timestamp were placed 1 us apart from midnight of "
                     "%s; record with -ttt for real times" % day)
    return lines


def socket_lines_lost(parser):
    """Socket lines ``parser`` could not read (what --strict fails on)."""
    return sum(count for reason, count in parser.skipped.items()
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


class CannotOpen(Exception):
    """A file named on the command line cannot be opened; the message says
    which and why."""


def open_files(arguments, wait):
    """The trace, the TLS key log's bytes (None without ``--tls-keylog``)
    and the output file ``arguments`` name; raises CannotOpen, and
    ``Stop`` from ``wait(fd)``, called before the trace's first bytes are
    waited for (a terminal, a quiet pipe)."""
    if arguments.input in (None, ["-"]) and sys.stdin.isatty() and arguments.verbosity != QUIET:
        # Else it would wait without a word, for strace's lines on a pipe.
        tell(["py-strace2pcap: reading a trace from the terminal: paste strace's lines, "
              "then Ctrl-D (-r FILE reads a file; --help)"])
    try:
        trace = open_trace(arguments.input, arguments.date or datetime.date.today(), wait)
    except OSError as error:
        name = error.filename or " ".join(arguments.input or ["standard input"])
        raise CannotOpen("cannot read %s: %s" % (name, error.strerror)) from None
    tls_key_log = None
    if arguments.tls_keylog:
        try:
            with open(arguments.tls_keylog, "rb") as key_log:
                tls_key_log = key_log.read()
        except OSError as error:
            raise CannotOpen("cannot read %s: %s" % (arguments.tls_keylog, error.strerror)) from None
    guard_output(arguments.output, arguments.input or [])
    try:
        output = open_output(arguments.output)
    except OSError as error:
        raise CannotOpen("cannot write %s: %s" % (arguments.output, error.strerror)) from None
    return trace, tls_key_log, output


def guard_output(path, inputs):
    """Raise CannotOpen where writing ``path`` would destroy a file that
    is no capture: one of the ``inputs``, or any other but an empty one
    (the output comes first: ``py-strace2pcap trace.txt -r x.pcap`` wrote
    an empty pcap over the trace); or where ``-`` is a terminal, which
    binary bytes would garble."""
    if path == "-":
        if sys.stdout.isatty():
            raise CannotOpen("standard output is a terminal: send the pcap to a file or a "
                             "program (> out.pcap, | tshark -r -)")
        return
    try:
        status = os.stat(path)
    except OSError:
        return  # a new file (or one open() will tell about)
    if not stat.S_ISREG(status.st_mode) or status.st_size == 0:
        return  # /dev/null, a pipe, an empty file
    for name in inputs:
        if name != "-" and os.path.exists(name) and os.path.samefile(name, path):
            raise CannotOpen("%s is both the trace and the output" % path)
    with open(path, "rb") as existing:
        if not existing.read(4).startswith(CAPTURE_MAGICS):
            raise CannotOpen("%s exists and is no pcap: not overwriting it (the output "
                             "comes first: py-strace2pcap OUTPUT -r TRACE)" % path)


def convert(arguments, stop_signals):
    """Run one conversion, ended early by ``stop_signals``; return the exit status."""
    try:
        trace, tls_key_log, output = open_files(arguments, stop_signals.wait_for_input)
    except CannotOpen as error:
        print("py-strace2pcap: %s" % error, file=sys.stderr)
        return EXIT_USAGE
    except Stop as stop:
        print("py-strace2pcap: %s before the trace began: nothing written"
              % signal.Signals(stop.signum).name, file=sys.stderr)
        return 128 + stop.signum
    if arguments.format == "pcapng":
        writer = PcapngOutput(output, "py-strace2pcap " + __version__, tls_key_log)
    else:
        writer = PcapOutput(output)
    packets = PacketStage(writer, arguments)
    stage = ParseStage(arguments)
    # A file gives the same pcap whenever it is converted: its held FINs
    # wait for trace time, not for the wall clock.
    live = is_live(trace.fd)
    stop_signals.drain = live and not os.isatty(trace.fd)
    stop_signals.notice = tell_draining
    runner = start_parsing(stage, trace, stop_signals, inherited_fds=[output.fileno()])
    progress = Progress(trace.fd, arguments.verbosity != QUIET)
    started = time.monotonic()

    def on_idle(held=()):
        # Nothing to read (a live strace between syscalls, or the parsing
        # child busy): the moment to push the packets out, with ``held``,
        # the events the parse stage let go at the pause (in this process).
        if held:
            packets.take(held, stage.flags)
        while True:
            if live:
                packets.idle(time.time())
            writer.flush()
            if progress.enabled:
                progress.update()
            if stop_signals.wait_for_input(runner.fd, IDLE_TICK):
                return

    stopped_by = None
    try:
        try:
            for events, flags in runner.batches(on_idle):
                packets.take(events, flags)
                stop_signals.check()
                if progress.enabled:
                    progress.update()
        except Stop as stop:
            stopped_by = stop.signum
            stop_signals.restore()
            runner.stop(stop.signum)
            for events, flags in runner.rest():
                packets.take(events, flags)
        parser, child_stopped_by, damage = runner.finish()
        stopped_by = stopped_by or child_stopped_by
        packets.finish()
        writer.close()
    except BrokenPipeError:
        # The reader went away (``| head``): leave quietly, as Unix tools do.
        if not output.closed:
            os.dup2(os.open(os.devnull, os.O_WRONLY), output.fileno())
        return 128 + signal.SIGPIPE
    except OSError as error:
        print("py-strace2pcap: stopped by an I/O error (%s): %s; the pcap holds the packets "
              "before, its last one maybe cut short" % (io_error_place(error, arguments),
                                                       error.strerror), file=sys.stderr)
        return EXIT_USAGE
    except ChildFailed as failure:
        writer.close()
        print("py-strace2pcap: %s; the pcap holds the packets before" % failure, file=sys.stderr)
        return EXIT_FAILED
    finally:
        runner.close()
    progress.done()
    if arguments.verbosity != QUIET:
        report = packets.summary(parser, time.monotonic() - started, bool(damage))
        if stopped_by:
            report.insert(0, "py-strace2pcap: interrupted; the pcap holds every packet so far")
        elif stop_signals.signum:
            report.append("  %s came: the trace was converted to its end" %
                          signal.Signals(stop_signals.signum).name)
        if damage:
            report.insert(1, "  the trace ends early, cut short or damaged (%s): the pcap "
                             "holds what came before" % damage)
        if trace.merged_relative:
            report.append("  the files' -r times count from each file's own start: they were "
                          "merged as if all began together, a guess; record with -ttt")
        if arguments.verbosity == VERBOSE:
            report += ["  line %d (%s): %s" % (number, reason, printable(line))
                       for number, reason, line in parser.examples]
        tell(report)
    if arguments.strict and (socket_lines_lost(parser) or damage or not_a_trace(parser)):
        return EXIT_STRICT
    return 128 + stopped_by if stopped_by else 0


def printable(text):
    """``text`` with its control and non-ASCII characters as \\xHH: a
    skipped line's raw bytes (an escape sequence) must not reach the
    terminal as they are."""
    return "".join(char if " " <= char <= "~" else "\\x%02x" % ord(char) for char in text)


def tell_draining(signum):
    """Say why a signal (``signum``) did not stop the conversion."""
    tell(["py-strace2pcap: %s: converting the rest of the trace until it ends (strace "
          "writes the traced program's way out); %s again stops now"
          % ((signal.Signals(signum).name,) * 2)])


def tell(lines):
    """Write ``lines`` to standard error.  A standard error closed before the
    end (``2>&1 | head -1``) loses them, not the run's exit status."""
    try:
        print("\n".join(lines), file=sys.stderr, flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stderr.fileno())


def main(argv=None):
    """Entry point of the ``py-strace2pcap`` command."""
    stop_signals = StopSignals()
    try:
        return convert(parse_arguments(argv), stop_signals)
    finally:
        stop_signals.close()


if __name__ == "__main__":
    sys.exit(main())

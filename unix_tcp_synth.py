"""AF_UNIX socket events -> synthetic TCP and UDP packets Wireshark decodes.

``UnixPacketizer.packets(event)`` takes one UNIX event of ``strace_parser``
and returns the packets it causes, tuples ``(time, frame, wire_length,
event, outbound)`` (see ``tcp_flow``); ``flush()`` what is still held at the
end; ``summary()`` lines for the report.

Stream sockets: one TCP flow per connection, keyed on its socket inodes,
so that both ends traced in one trace meet in one flow and each byte is
written once.  Addresses are made up, deterministically (``Addressing``):
the client (the side that connect()ed, else the end of a socketpair strace
printed first, else the side whose annotation shows no path: an accepted
socket shows its listener's) is 10.0.0.X port 40000 + n % 1000 for the
n-th flow (X = 1 + n // 1000); the server is 10.0.1.Y port 50051, one Y per
socket path in order of appearance.  connect/accept/socketpair give the
handshake, close/shutdown/a read of 0 the FINs.  A close()'s FIN is held as
on the INET side (``tcp_flow.HeldFins``): another process may keep using
the socket (PostgreSQL's postmaster closes its copy after forking the
backend).

HTTP/2 flows (client preface seen; with ``seed_http2`` also flows first
seen mid-stream whose bytes parse as frames) are cut on frame boundaries
(``http2_tools.FrameAligner``); mid-stream ones get the preface and
SETTINGS injected, and with ``seed_grpc`` placeholder HEADERS
(``grpc_seed``); injected packets carry syscall code SYNTHETIC_CODE (99).
Other flows pass through, one segment per syscall.

Datagram sockets: one UDP datagram per syscall between the addresses of
the sender and receiver sockets (bound path -> 10.0.1.Y:50051, unbound
socket -> 10.0.0.X), written once when both ends are traced.
"""

from collections import Counter, OrderedDict
from dataclasses import dataclass, field

from bounded_tables import DATAGRAM_KEY_BYTES, DatagramSightings, bounded_put, datagram_body
from grpc_seed import GrpcSeeder
from http2_tools import HEADER_SIZE, FrameAligner, plausible_frame, seed_frames, starts_as_http2
from tcp_flow import (PEER_RESET, HeldBackBudget, HeldFins, LastUsers, TcpConversation,
                      count_splice_of_sent, receive_time)
from tcp_utils import (ETHERTYPE_IPV4, MAX_DATAGRAM, PROTO_UDP, SYNTHETIC_CODE,
                       HeaderTemplate, LinkHeaders)
from wording import worded

SERVER_PORT = 50051
# Client ports no Wireshark dissector claims (tshark 4.0 registers none for
# TCP or UDP in 40000-40999): Wireshark tries the lower port of a flow
# first, and from 10000 (NDMP's) the first flow decoded as NDMP.
FIRST_CLIENT_PORT = 40000
CLIENT_PORTS = 1000
CLIENT, SERVER = 0, 1
OPENING_SYSCALLS = {"accept", "accept4", "socketpair"}
PENDING_CONNECTS_KEPT = 4096
CLOSED_FLOWS_KEPT = 4096
RECENT_DATAGRAMS_KEPT = 4096
KNOWN_SOCKETS_KEPT = 65536
FLOWS_LISTED = 20
# Bytes of a direction of a flow seen mid-stream held while no HTTP/2 frame
# boundary shows (with --seed-http2): past them, or at the flow's end, it is
# no HTTP/2 and they go out as they came.
UNFRAMED_KEPT = 1 << 18


class Addressing:
    """Deterministic made-up addresses: servers by socket path, clients by number."""

    def __init__(self):
        self.servers = {}
        self.clients = 0

    def server(self, path):
        """(ip, port) of the socket named ``path`` (None: unnamed, one shared address)."""
        address = self.servers.get(path)
        if address is None:
            number = len(self.servers)
            address = self.servers[path] = ("10.0.1.%d" % (1 + number % 254),
                                            SERVER_PORT + number // 254)
        return address

    def client(self):
        """(ip, port) for the next client."""
        number = self.clients
        self.clients += 1
        return ("10.0.0.%d" % (1 + number // CLIENT_PORTS % 254),
                FIRST_CLIENT_PORT + number % CLIENT_PORTS)


@dataclass
class UnixFlow:
    """One unix stream connection: its TCP conversation (side 0 the client)
    and what the synthesiser knows of it."""
    conversation: TcpConversation
    inodes: tuple                   # (client inode, server inode), None if unseen
    path: str
    mid_stream: bool
    http2: bool = None              # None: no data yet
    aligners: tuple = None          # per direction, for HTTP/2 flows
    grpc: GrpcSeeder = None
    seeded: bool = False
    last_event: dict = None         # for the links of bytes drained at the end
    cut: list = field(default_factory=lambda: [0, 0])        # bytes strace's -s left out
    injected: list = field(default_factory=lambda: [0, 0])   # seed bytes
    # Seen mid-stream and aligned: whether a whole frame came yet, and the
    # bytes before it (the rest of a frame begun before the trace) left out.
    framed: list = field(default_factory=lambda: [False, False])
    unframed: list = field(default_factory=lambda: [0, 0])
    # Those bytes while no frame came in either direction, per direction:
    # (chunk, time, links, traced_side, event), until it is told whether
    # the flow is HTTP/2 (see UnixPacketizer._aligned).
    prelude: list = field(default_factory=lambda: [[], []])
    prelude_bytes: list = field(default_factory=lambda: [0, 0])

    def side_of(self, inode):
        """CLIENT or SERVER: the side the socket ``inode`` is."""
        return CLIENT if inode == self.inodes[CLIENT] else SERVER

    def describe(self):
        """One summary line: addresses, path, per-direction byte accounting."""
        client, server = self.conversation.endpoints
        kind = " http2" if self.http2 else ""
        kind += " seeded" if self.seeded else ""
        kind += " grpc" if self.grpc is not None and self.grpc.grpc else ""
        parts = []
        for sender, name in ((CLIENT, "client->server"), (SERVER, "server->client")):
            stream = self.conversation.directions[sender]
            in_pcap = (stream.emitted - self.injected[sender] - self.cut[sender]
                       - self.unframed[sender])
            parts.append(worded("%s %d byte[s] in syscalls, %d in pcap, %d not shown by strace",
                                name, max(stream.written, stream.read), in_pcap,
                                self.cut[sender]))
            if self.unframed[sender]:
                parts[-1] += (" (and %d of a frame begun before the trace left out)"
                              % self.unframed[sender])
            if self.injected[sender]:
                parts[-1] += " (and %d seeded)" % self.injected[sender]
        return "  unix %s:%d -> %s:%d %r%s: %s" % (
            client[0], client[1], server[0], server[1], self.path or "(unnamed)", kind,
            ", ".join(parts))


HTTP_METHODS = (b"GET ", b"POST ", b"PUT ", b"HEAD ", b"DELETE ", b"OPTIONS ", b"PATCH ")
# PostgreSQL's first message: protocol 3.0's startup, SSLRequest, GSSENCRequest.
PGSQL_STARTS = (196608, 80877103, 80877104)
MONGO_OPCODES = (2013, 2004)  # OP_MSG, OP_QUERY


def dissector_of(data, from_client):
    """The name of the Wireshark dissector whose protocol a unix stream's
    first bytes ``data`` (the client's if ``from_client``) begin, or None:
    no dissector owns the made-up port, and the summary tells which to ask
    for (Docker's API is HTTP, /run/postgresql is pgsql, redis is resp)."""
    if not from_client:
        return "http" if data.startswith(b"HTTP/1.") else None
    if data.startswith(HTTP_METHODS):
        return "http"
    if data[:1] == b"*" and data[1:2].isdigit():
        return "resp"
    if len(data) >= 8 and int.from_bytes(data[4:8], "big") in PGSQL_STARTS:
        return "pgsql"
    if len(data) >= 16 and int.from_bytes(data[12:16], "little") in MONGO_OPCODES:
        return "mongo"
    return None


def _reads_will_carry(conversation, reader, payload):
    """True if ``reader``'s reads will carry what a write strace did not
    print all of (``payload``: what it printed) moved: it is traced, or
    for bytes sendfile() moved (none printed), expected (its connect()
    is in the trace: its first read may return after the write)."""
    return (reader in conversation.traced_sides
            or not payload and conversation.shows_reads(reader))


def lacking(packets):
    """The bytes ``packets`` declare but do not hold (strace did not print them)."""
    return sum(wire_length - len(frame) for _time, frame, wire_length, *_rest in packets)


class UnixPacketizer:
    """Turns UNIX socket events into packets; see the module docstring."""

    def __init__(self, seed_http2=False, seed_grpc=False, budget=None, forks=None):
        """``budget``: the ``HeldBackBudget`` writes held back for their
        readers share (the INET packetizer's); None: one of its own.
        ``forks``: the trace's ``ForkTimes`` (the INET packetizer's)."""
        self.seed_http2 = seed_http2
        self.held_back = HeldBackBudget() if budget is None else budget
        self.seed_grpc = seed_grpc
        self.links = LinkHeaders()
        self.addressing = Addressing()
        self.flows = {}                       # inode -> UnixFlow
        self.closed_flows = OrderedDict()     # inode -> UnixFlow, both FINs out
        self.pending_connects = OrderedDict()  # inode -> connect event
        self.last_users = LastUsers()
        self.held_fins = HeldFins(self._fin, forks, self.last_users)
        self.flow_count = 0
        self.flows_seen_open = 0  # first seen mid-stream: no handshake
        self.http2_flows = 0
        self.dissectors = Counter()  # Wireshark's name -> flows whose first bytes look so
        self.flows_with_bytes = 0
        self.listed_flows = []  # the first FLOWS_LISTED to carry bytes
        self.socket_paths = OrderedDict()     # datagram inode -> its bound path
        self.datagram_peers = OrderedDict()   # datagram inode -> path given to connect()
        self.datagram_clients = OrderedDict()  # unnamed datagram socket -> address
        self.udp_templates = OrderedDict()
        self.recent_datagrams = DatagramSightings(RECENT_DATAGRAMS_KEPT)
        self.datagrams = 0
        self.datagram_duplicates = 0
        self.datagram_bytes_cut = 0           # beyond what one UDP datagram holds
        self.unprinted = 0  # stream bytes the pcap lacks: the flows' ``cut``, summed
        # [calls, bytes] of splice() out of a socket whose sender is traced
        # (see tcp_flow.count_splice_of_sent).
        self.splices_of_sent = [0, 0]

    def packets(self, event):
        """The packets one UNIX event causes (possibly none)."""
        released = self.held_fins.release_due(event["time"]) if self.held_fins else []
        if event["protocol"] == "UNIX-STREAM":
            packets = self._stream(event)
        elif event["protocol"] in ("UNIX", "UNIX-DGRAM"):
            packets = self._datagram(event)
        else:
            return released
        return released + packets if released else packets

    def exited(self, event):
        """Packets due at a thread's or process's exit ``event``; the FINs of
        the unix connections it used last are held (see ``HeldFins.at_exit``)."""
        return self.held_fins.at_exit(
            self.last_users.ended(event["pid"]), event, "UNIX-STREAM",
            lambda _conversation, fin: self.links.for_event(fin, ETHERTYPE_IPV4))

    def holding(self):
        """The tables whose entries may still make packets for earlier
        times (held FINs, pending connects): the same objects for the
        packetizer's life, empty when nothing is held."""
        return (self.held_fins, self.pending_connects)

    def earliest_held(self):
        """The time of the oldest packet this packetizer may still make
        though later ones are out (a held FIN, the handshake of a pending
        connect), or None: see ``time_order``."""
        times = [self.held_fins.earliest()] if self.held_fins else []
        for connect in self.pending_connects.values():
            times.append(connect["time"])  # the oldest: they come in time order
            break
        return min(times) if times else None

    def flush(self):
        """Held FINs, the writes held back for reads that never came (see
        ``_plain``), the unprinted bytes they never carried and the bytes
        aligners still hold."""
        packets = self.held_fins.release_due(float("inf"))
        for flow in {id(flow): flow for flow in self.flows.values()}.values():
            conversation = flow.conversation
            for sender, time, links, traced_side, event in conversation.held_back():
                filled = conversation.fill_unseen(sender, time, links, traced_side, event)
                self._cut(flow, sender, lacking(filled))
                packets += filled
            if any(flow.prelude):
                packets += self._not_http2(flow)
            for sender in (CLIENT, SERVER):
                if flow.aligners is None:
                    # Unprinted bytes the reads (expected) never carried: declared.
                    packets += self._unseen(flow, sender, conversation.last_time,
                                            self.links.for_event(flow.last_event, ETHERTYPE_IPV4),
                                            sender, flow.last_event)
                packets += self._drain(flow, sender, conversation.last_time, flow.last_event)
        return packets

    def summary(self):
        """Report lines: flows, HTTP/2, datagrams, per-flow byte accounting."""
        lines = [worded("  unix: %d stream connection[s] (%d HTTP/2), %d datagram[s]",
                        self.flow_count, self.http2_flows, self.datagrams)]
        dissectors = self.dissectors.copy()
        if self.http2_flows and dissectors.pop("http", 0):
            # Wireshark's HTTP dissector hands a flow that begins with the
            # HTTP/2 preface (each here, seeded or not) to HTTP/2: one rule
            # for both (a helper's dockerd: -d ...,http2 left 159 of its 215
            # HTTP/1.1 messages undecoded, and decoded 252 fewer HTTP/2 frames).
            lines.append("  unix: Wireshark decodes HTTP/2 and HTTP/1.x with: tshark -d "
                         "tcp.port==%d,http (Decode As... HTTP)" % SERVER_PORT)
        elif self.http2_flows:
            # Wireshark's HTTP/2 heuristics do not claim these flows.
            lines.append("  unix: Wireshark decodes HTTP/2 with: tshark -d tcp.port==%d,http2 "
                         "(Decode As... HTTP2)" % SERVER_PORT)
        for dissector, flows in dissectors.most_common():
            lines.append(worded("  unix: %d flow[s] [begins|begin] as %s does: tshark -d "
                                "tcp.port==%d,%s", flows, dissector, SERVER_PORT, dissector))
            if flows < self.flows_with_bytes:
                # (Apache's binary cgid flows beside gunicorn's HTTP ones:
                # malformed as HTTP.)
                lines[-1] += worded(" (it decodes all %d unix flow[s] so: %d [does|do] not "
                                    "begin as %s does)", self.flows_with_bytes,
                                    self.flows_with_bytes - flows, dissector)
        if self.flows_seen_open:
            lines.append(worded("  unix: %d stream connection[s] [was|were] open before "
                                "[its|their] first line (no connect() or accept(): strace "
                                "-p, or -e trace= without them): no handshake",
                                self.flows_seen_open))
        if self.datagram_duplicates:
            lines.append(worded("  unix: %d datagram[s] seen by both ends written once",
                                self.datagram_duplicates))
        if self.datagram_bytes_cut:
            lines.append(worded("  unix: %d datagram byte[s] beyond %d per datagram left out",
                                self.datagram_bytes_cut, MAX_DATAGRAM))
        if self.flow_count > self.flows_with_bytes:
            lines.append(worded("  unix: %d stream connection[s] carried no bytes (not listed)",
                                self.flow_count - self.flows_with_bytes))
        lines += [flow.describe() for flow in self.listed_flows]
        if self.flows_with_bytes > len(self.listed_flows):
            lines.append(worded("  ... and %d more unix connection[s]",
                                self.flows_with_bytes - len(self.listed_flows)))
        return lines

    # -- stream sockets ----------------------------------------------------

    def _stream(self, event):
        name, inode = event["syscall"], event["inode"]
        if name == "connect":
            if event["peer_inode"] is None:
                # strace prints the annotation before connecting: the peer
                # shows from the socket's next syscall on.
                bounded_put(self.pending_connects, inode, event, PENDING_CONNECTS_KEPT)
                return []
            connect = event
        elif not self.pending_connects:
            connect = None
        else:
            connect = self.pending_connects.pop(inode, None)
            if connect is None and event["peer_inode"] is not None:
                # The peer's connect, when this end is the first to show the pair.
                connect = self.pending_connects.pop(event["peer_inode"], None)
        flow = self.flows.get(inode) or self.closed_flows.get(inode)
        if flow is None and event["peer_inode"] is not None:
            flow = self._flow_awaiting_peer(event["peer_inode"], inode)
        opening = name in OPENING_SYSCALLS or connect is not None
        if flow is not None and opening and all(
                direction.fin_sent for direction in flow.conversation.directions):
            flow = None  # the inode was reused for a new connection
        if flow is None:
            if event["direction"] is None and not opening:
                return []  # a listening socket, or one never connected
            flow = self._new_flow(event, connect, opening)
        side = flow.side_of(inode)
        flow.last_event = event
        conversation = flow.conversation
        conversation.traced_sides.add(side)
        self.last_users.saw(flow, conversation, side, event)
        links = self.links.for_event(event, ETHERTYPE_IPV4)
        packets = []
        if connect is not None:
            # The client's connect() is in the trace: its reads will show
            # (those of what sendfile() sends before its first line).
            conversation.expected_sides.add(CLIENT)
            packets += conversation.open(CLIENT, connect["time"],
                                         self.links.for_event(connect, ETHERTYPE_IPV4),
                                         CLIENT, connect)
        if event["direction"] == "in" and not event["payload"]:  # (a splice's, if any)
            count_splice_of_sent(self.splices_of_sent, conversation, side, event)
        if name == "close":
            return packets + self.held_fins.hold(flow, conversation, side, links, event)
        if self.held_fins or self.held_fins.kept:
            # This side still uses the socket: a close held for it closed a copy.
            self.held_fins.pop((conversation, side), None)
            packets += self.held_fins.peer_end_before(conversation, side, event)
        if name in OPENING_SYSCALLS:
            # An accept's connection came before it returned, not when it began.
            packets += conversation.open(CLIENT, receive_time(event), links, side, event)
        elif event["direction"] == "out" and flow.http2 is False and flow.aligners is None:
            packets += self._plain(flow, side, True, event["payload"], event["length"],
                                   event["time"], links, side, event)
        elif (event["direction"] == "in" and event["length"] and flow.http2 is False
              and flow.aligners is None):
            packets += self._plain(flow, 1 - side, False, event["payload"], event["length"],
                                   receive_time(event), links, side, event)
        elif event["direction"] == "out":
            payload, length = event["payload"], event["length"]
            packets += self._unseen(flow, side, event["time"], links, side, event)
            if (len(payload) < length and _reads_will_carry(conversation, 1 - side, payload)
                    and (flow.aligners is None or not event.get("pieces"))):
                # The reader's reads carry what -s cut here (as for TCP).  Not
                # where pieces after a cut one begin frames (node writes each
                # frame header as a piece): they go at their place, and the
                # reads, cut by the same -s, carry little more.
                packets += self._data(flow, side, True, payload, len(payload), event["time"],
                                      links, side, event)
                conversation.leave_unseen(side, length - len(payload), event["time"])
            else:
                packets += self._data(flow, side, True, payload, length, event["time"],
                                      links, side, event, event.get("pieces"))
        elif event["direction"] == "in":
            if event["length"] == 0:
                conversation.read_to_end.add(side)
                packets += self.held_fins.peer_closed(flow, conversation, side, links, event)
            else:
                packets += self._data(flow, 1 - side, False, event["payload"], event["length"],
                                      receive_time(event),
                                      links, side, event)
        elif name == "shutdown" and event["how"] != "SHUT_RD":
            # (An HTTP/2 flow's unprinted bytes are a gap: nothing to wait for.)
            packets += self.held_fins.shut_down(flow, conversation, side, links, event,
                                                may_wait=flow.aligners is None)
        elif event["error"] in PEER_RESET and not (event["error"] == "EPIPE"
                                                   and side in conversation.writes_shut):
            # The call met the peer's RST (EPIPE also follows this end's
            # own shutdown: nothing then).
            packets += self.held_fins.peer_reset(flow, conversation, side, links, event)
        return packets

    def _new_flow(self, event, connect, opening):
        """A flow for the connection of ``event``'s socket, registered under its inodes."""
        inode, peer = event["inode"], event["peer_inode"]
        if connect is not None:
            client_is_self = connect["inode"] == inode
        elif event["syscall"] == "socketpair":
            client_is_self = True
        else:
            # A connected socket shows a path when it is the accepted end
            # (it inherits the listener's name); clients are rarely bound.
            client_is_self = event["syscall"] not in ("accept", "accept4") and event["path"] is None
        inodes = (inode, peer) if client_is_self else (peer, inode)
        path = connect["path"] if connect is not None else event["path"]
        endpoints = (self.addressing.client(), self.addressing.server(path))
        flow = UnixFlow(TcpConversation(endpoints, budget=self.held_back), inodes, path,
                        mid_stream=not opening)
        if not opening:
            flow.conversation.first_seen_mid_stream()
            self.flows_seen_open += 1
        for known in inodes:
            if known is not None:
                self.closed_flows.pop(known, None)
                self.flows[known] = flow
        self.flow_count += 1
        return flow

    def _flow_awaiting_peer(self, peer, inode):
        """The open flow of socket ``peer`` if it does not know its other end
        yet, now joined by socket ``inode``; else None.  Until the server
        accepts, strace shows a client's socket without its peer: a client
        that writes first (redis-benchmark) opens the flow alone."""
        flow = self.flows.get(peer)
        if flow is None or None not in flow.inodes:
            return None
        flow.inodes = (peer, inode) if flow.inodes[CLIENT] == peer else (inode, peer)
        self.flows[inode] = flow
        return flow

    def _cut(self, flow, sender, count):
        """Count ``count`` bytes of ``sender``'s stream in ``flow`` that the
        pcap lacks (strace did not print them)."""
        flow.cut[sender] += count
        self.unprinted += count

    def _unseen(self, flow, sender, time, links, traced_side, event):
        """Segments without bytes (after what the aligner holds) for what an
        earlier cut write of ``sender`` left to reads that never came; in an
        aligned flow a gap instead (see ``_data``)."""
        stream = flow.conversation.directions[sender]
        if stream.written <= stream.claimed:
            return []
        packets = self._drain(flow, sender, time, event)
        if flow.aligners is not None:
            self._cut(flow, sender, stream.written - stream.claimed)
            flow.conversation.skip_unseen(sender)
            return packets
        filled = flow.conversation.fill_unseen(sender, time, links, traced_side, event)
        self._cut(flow, sender, lacking(filled))
        return packets + filled

    def _plain(self, flow, sender, by_sender, payload, length, time, links, traced_side, event):
        """Packets of one data syscall in a flow of plain bytes (not aligned
        on HTTP/2 frames: see ``_data``), as over TCP: a write after bytes
        strace did not print (sendfile's, those -s cut) waits for the
        traced reader's reads, which carry them (see
        ``TcpConversation.transfer``; before, the next write sent them
        unfilled, and the reads' printed bytes were lost: a Java NIO
        transferTo and its trailer, 6 784 of 400 018 bytes)."""
        conversation = flow.conversation
        if by_sender and len(payload) < length and _reads_will_carry(conversation, 1 - sender,
                                                                     payload):
            packets = conversation.transfer(sender, payload, len(payload), True, time, links,
                                            traced_side, event)
            conversation.leave_unseen(sender, length - len(payload), time)
        else:
            packets = conversation.transfer(sender, payload, length, by_sender, time, links,
                                            traced_side, event)
        self._cut(flow, sender, lacking(packets))
        return packets

    def _data(self, flow, sender, by_sender, payload, length, time, links, traced_side, event,
              pieces=None):
        """Packets of the bytes of one data syscall from ``sender`` (``length``
        of them, ``payload`` printed; ``pieces``: a write's iovec pieces,
        see ``strace_parser``, used in HTTP/2 flows) that no earlier syscall
        emitted."""
        conversation = flow.conversation
        stream = conversation.directions[sender]
        if stream.unaligned:
            stream.align(by_sender, payload[:length],
                         event.get("resumed_at", event["time"]) if not by_sender
                         else event["time"])
        first_new = stream.claimed
        skip = conversation.claim(sender, length, by_sender)
        if skip >= length:
            return []
        whole = [(payload[skip:], length - skip)]
        if flow.http2 is None:
            self._classify(flow, sender, whole[0][0], first_new == 0)
        if flow.aligners is None or pieces is None or skip:
            # (Pieces as segments of their own, their sizes declared, made
            # Wireshark read more bogus frame headers in a sweep's HTTP/2
            # over TCP: only the aligner knows where frames begin.)
            pieces = whole
        for data, size in pieces:
            if size > len(data):
                self._cut(flow, sender, size - len(data))
        if flow.aligners is None:
            return conversation.segments(sender, pieces, time, links, traced_side, event)
        aligner = flow.aligners[sender]
        packets = []
        after_cut = False
        for data, size in pieces:
            if after_cut and (flow.mid_stream or not (len(data) >= HEADER_SIZE
                                                       and plausible_frame(data))):
                # After a gap only a piece that begins a frame goes out (node
                # writes each frame header as a piece); another begins inside
                # one (gRPC's pieces cut its bytes anywhere), and Wireshark
                # would read it as a header: it stays in the gap (counted
                # cut).  Not in a flow seen mid-stream: a frame there could
                # set off the seeding while the other direction is inside a
                # frame (a sweep's gRPC attach: 32 stream directions
                # decoded, 0 with it).
                self._cut(flow, sender, len(data))
                conversation.skip(sender, size)
                continue
            after_cut = False
            packets += self._aligned(flow, sender, aligner.feed(data), time, links,
                                     traced_side, event)
            if len(data) < size:
                after_cut = True
                # Bytes strace did not print: a frame they end goes out as
                # far as it was printed, the rest is a gap (as a capture's
                # lost segment), and the framing is looked for anew after
                # it.  A segment declaring bytes it lacks, begun inside a
                # frame, made Wireshark read its bytes as a frame header (a
                # sweep's gRPC flow: "length 7171437", every later frame of
                # that direction lost).
                held = aligner.drain()
                if held:
                    packets += conversation.segments(sender, [(held, len(held))], time, links,
                                                     traced_side, event)
                conversation.skip(sender, size - len(data))
        return packets

    def _classify(self, flow, sender, data, from_stream_start):
        """Decide, at a flow's first data, whether it is HTTP/2 and aligned."""
        self.flows_with_bytes += 1
        if len(self.listed_flows) < FLOWS_LISTED:
            self.listed_flows.append(flow)
        if flow.mid_stream:
            flow.http2 = False
            if self.seed_http2:
                flow.aligners = (FrameAligner(synced=False), FrameAligner(synced=False))
            return
        flow.http2 = from_stream_start and starts_as_http2(data, sender == CLIENT)
        if flow.http2:
            self.http2_flows += 1
            flow.aligners = (FrameAligner(expect_preface=True), FrameAligner())
        elif from_stream_start:
            dissector = dissector_of(data, sender == CLIENT)
            if dissector is not None:
                self.dissectors[dissector] += 1

    def _aligned(self, flow, sender, chunks, time, links, traced_side, event):
        """Packets for the aligner's chunks, with seeds injected where due."""
        conversation = flow.conversation
        packets = []
        for index, (chunk, whole_frames) in enumerate(chunks):
            if flow.mid_stream and not flow.framed[sender]:
                if not whole_frames and not flow.seeded:
                    # No frame yet, in either direction: maybe no HTTP/2
                    # at all (docker.sock's HTTP/1.1 events, containerd's
                    # ttrpc); held until a frame tells.
                    flow.prelude[sender].append((chunk, time, links, traced_side, event))
                    flow.prelude_bytes[sender] += len(chunk)
                    if flow.prelude_bytes[sender] > UNFRAMED_KEPT:
                        packets += self._not_http2(flow)
                        rest = b"".join(later for later, _whole in chunks[index + 1:])
                        return packets + conversation.segments(
                            sender, [(rest, len(rest))], time, links, traced_side, event)
                    continue
                if not whole_frames or flow.prelude[sender]:
                    # The rest of a frame begun before the trace: where the
                    # dissector starts, its bytes read as a frame header
                    # (a length of 4.7 MB: 2 of 3202 packets decoded).  Left
                    # out, their sequence numbers before the first segment.
                    left_out = (len(chunk) if not whole_frames else 0) + flow.prelude_bytes[sender]
                    flow.prelude[sender], flow.prelude_bytes[sender] = [], 0
                    flow.unframed[sender] += left_out
                    conversation.skip(sender, left_out)
                    if not whole_frames:
                        continue
                flow.framed[sender] = True
            if whole_frames and flow.mid_stream and not flow.seeded:
                packets += self._seed_http2(flow, time, event, traced_side)
            if whole_frames and flow.grpc is not None:
                start = 0
                for offset, header_sender, headers in flow.grpc.injections(chunk, sender):
                    if offset > start:
                        packets += conversation.segments(
                            sender, [(chunk[start:offset], offset - start)],
                            time, links, traced_side, event)
                    packets += self._inject(flow, header_sender, headers, time, event,
                                            traced_side)
                    start = offset
                chunk = chunk[start:]
            if chunk:
                packets += conversation.segments(sender, [(chunk, len(chunk))],
                                                 time, links, traced_side, event)
        return packets

    def _not_http2(self, flow):
        """A flow seen mid-stream whose bytes showed no HTTP/2 frame: the
        bytes held for each direction go out as they came, in plain
        segments, and so does the rest (docker.sock's HTTP/1.1 under
        --seed-http2 kept 5 of its 1 794 bytes, the rest taken for a
        frame begun before the trace)."""
        packets = []
        for sender in (CLIENT, SERVER):
            for chunk, time, links, traced_side, event in flow.prelude[sender]:
                packets += flow.conversation.segments(sender, [(chunk, len(chunk))], time,
                                                      links, traced_side, event)
            flow.prelude[sender], flow.prelude_bytes[sender] = [], 0
            packets += self._drain(flow, sender, flow.conversation.last_time, flow.last_event)
        flow.aligners = None
        return packets

    def _seed_http2(self, flow, time, event, traced_side):
        """Preface + SETTINGS, SETTINGS + ACK, ACK: a mid-stream flow's
        HTTP/2 opening, before its first aligned bytes."""
        flow.seeded = flow.http2 = True
        self.http2_flows += 1
        if self.seed_grpc:
            flow.grpc = GrpcSeeder()
        client_first, server, client_second = seed_frames()
        return (self._inject(flow, CLIENT, client_first, time, event, traced_side)
                + self._inject(flow, SERVER, server, time, event, traced_side)
                + self._inject(flow, CLIENT, client_second, time, event, traced_side))

    def _inject(self, flow, sender, data, time, event, traced_side):
        """A segment of bytes no syscall moved, marked with SYNTHETIC_CODE;
        ``traced_side``: the side of ``event``'s socket."""
        flow.injected[sender] += len(data)
        links = self.links.for_event(event, ETHERTYPE_IPV4, SYNTHETIC_CODE)
        return flow.conversation.segments(sender, [(data, len(data))], time, links,
                                          traced_side, event)

    def _drain(self, flow, sender, time, event):
        """The bytes ``sender``'s aligner holds, as one segment."""
        if flow.aligners is None:
            return []
        held = flow.aligners[sender].drain()
        if not held:
            return []
        links = self.links.for_event(event, ETHERTYPE_IPV4)
        return flow.conversation.segments(sender, [(held, len(held))], time, links,
                                          flow.side_of(event["inode"]), event)

    def _fin(self, flow, sender, time, links, traced_side, event):
        """FIN from ``sender`` after what its aligner holds; retire a flow
        once it is over (see ``TcpConversation.over``) and both its sockets
        are known: the other end's syscalls, if any are still to come,
        find it by either inode among the closed ones."""
        packets = self._not_http2(flow) if any(flow.prelude) else []
        # The peer's bytes held too: no read of this end will frame them, and
        # a flow retired with them held lost them (32 of a ttrpc flow's 50).
        packets += self._drain(flow, 1 - sender, time, event)
        packets += self._drain(flow, sender, time, event)
        packets += self._unseen(flow, sender, time, links, traced_side, event)
        packets += flow.conversation.close(sender, time, links, traced_side, event)
        if flow.conversation.over() and None not in flow.inodes:
            for inode in flow.inodes:
                if inode is not None and self.flows.get(inode) is flow:
                    del self.flows[inode]
                    bounded_put(self.closed_flows, inode, flow, CLOSED_FLOWS_KEPT)
        return packets

    # -- datagram sockets --------------------------------------------------

    def _datagram(self, event):
        name, inode = event["syscall"], event["inode"]
        if event["path"] is not None and name != "connect":
            bounded_put(self.socket_paths, inode, event["path"], KNOWN_SOCKETS_KEPT)
        if name == "connect":
            bounded_put(self.datagram_peers, inode, event["path"], KNOWN_SOCKETS_KEPT)
            return []
        if name == "close":
            self.datagram_peers.pop(inode, None)
            return []
        if event["direction"] is None:
            return []
        if event["direction"] == "in" and not event["length"] and event["protocol"] == "UNIX":
            # A SOCK_SEQPACKET socket (strace names it plain "UNIX", as
            # most datagram sockets) read its end: the peer closed.  An
            # empty datagram only its receiver shows is lost with it.
            return []
        own = self._datagram_address(inode, None)
        peer_inode = event["peer_inode"]
        if event["peer_path"] is not None:
            other = self.addressing.server(event["peer_path"])
        elif peer_inode is not None and peer_inode in self.socket_paths:
            # The path its receiver bound, not the one connect() named: a
            # symlink (/dev/log) to it made the two ends' copies two flows.
            other = self.addressing.server(self.socket_paths[peer_inode])
        elif self.datagram_peers.get(inode) is not None:
            other = self.addressing.server(self.datagram_peers[inode])
        elif peer_inode is not None:
            other = self._datagram_address(peer_inode, None)
        else:
            other = self._datagram_address(None, "(unnamed sender)")
        outbound = event["direction"] == "out"
        source, destination = (own, other) if outbound else (other, own)
        payload, length = event["payload"], min(event["length"], MAX_DATAGRAM)
        payload = payload[:length]
        key = (destination, hash(payload[:DATAGRAM_KEY_BYTES]))
        if self.recent_datagrams.seen_from_other_end(key, outbound,
                                                     body=datagram_body(payload, length)):
            self.datagram_duplicates += 1
            return []
        self.datagram_bytes_cut += event["length"] - length
        template = self.udp_templates.get((source, destination))
        if template is None:
            template = HeaderTemplate(source, destination, PROTO_UDP)
            bounded_put(self.udp_templates, (source, destination), template, KNOWN_SOCKETS_KEPT)
        links = self.links.for_event(event, ETHERTYPE_IPV4)
        frame = template.udp_frame(links[outbound], payload, length)
        self.datagrams += 1
        time = event["time"] if outbound else receive_time(event)
        # Its real length declared: bytes past MAX_DATAGRAM show as cut.
        return [(time, frame, len(frame) + event["length"] - len(payload), event, outbound)]

    def _datagram_address(self, inode, path):
        """The address of a datagram socket: by its path if it has one, else its own."""
        path = path or self.socket_paths.get(inode)
        if path is not None:
            return self.addressing.server(path)
        address = self.datagram_clients.get(inode)
        if address is None:
            address = self.addressing.client()
            bounded_put(self.datagram_clients, inode, address, KNOWN_SOCKETS_KEPT)
        return address

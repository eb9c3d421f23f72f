"""The close() rule both packetizers share (tcp_flow.HeldFins), seen on the
unix side: every close()'s FIN is held, whether or not the trace showed a
fork, and a later syscall on the socket cancels it."""

from scapy.layers.inet import TCP
from scapy.layers.l2 import Ether

from strace_parser import StraceParser
from support import FIXTURES
from tcp_flow import FIN_HOLD_SECONDS
from unix_tcp_synth import UnixPacketizer


def convert(lines):
    """[(time, TCP flags, payload)] of the unix packets of strace lines, flushed."""
    parser = StraceParser()
    unix = UnixPacketizer()
    packets = []
    for line in lines:
        for event in parser.parse(line):
            packets += unix.packets(event)
    packets += unix.flush()
    return [(time, str(Ether(frame)[TCP].flags), bytes(Ether(frame)[TCP].payload))
            for time, frame, *_ in packets]


def test_closing_one_dup_of_a_unix_socket_ends_nothing():
    """No fork in the trace: the process closes fd 3 and goes on writing on
    its dup, fd 4 (the same socket inode), so no FIN at all."""
    rows = convert([
        '7 1795659692.100000 write(3<UNIX-STREAM:[555->556]>, "\\x61", 1) = 1 <0.000010>',
        '7 1795659692.200000 close(3<UNIX-STREAM:[555->556]>) = 0 <0.000010>',
        '7 1795659692.300000 write(4<UNIX-STREAM:[555->556]>, "\\x62", 1) = 1 <0.000010>',
    ])
    assert rows == [(1795659692.1, "PA", b"a"), (1795659692.3, "PA", b"b")]


def test_unix_close_fin_goes_out_at_the_peer_read_or_after_the_hold():
    """The held FIN keeps its close's time: written when the peer reads 0,
    or before the first event FIN_HOLD_SECONDS later."""
    later = 1795659692.2 + FIN_HOLD_SECONDS + 0.5
    rows = convert([
        '7 1795659692.100000 write(3<UNIX-STREAM:[555->556]>, "\\x61", 1) = 1 <0.000010>',
        '7 1795659692.200000 close(3<UNIX-STREAM:[555->556]>) = 0 <0.000010>',
        '8 1795659692.300000 read(5<UNIX-STREAM:[556->555]>, "", 10) = 0 <0.000010>',
        '9 1795659692.400000 write(6<UNIX-STREAM:[700->701]>, "\\x63", 1) = 1 <0.000010>',
        '9 1795659692.500000 close(6<UNIX-STREAM:[700->701]>) = 0 <0.000010>',
        '9 %.6f write(7<UNIX-STREAM:[800->801]>, "\\x64", 1) = 1 <0.000010>' % later,
    ])
    assert [(time, flags) for time, flags, _payload in rows] == [
        (1795659692.1, "PA"), (1795659692.2, "FA"), (1795659692.2, "A"),
        (1795659692.4, "PA"), (1795659692.5, "FA"), (1795659692.5, "A"), (later, "PA")]


def test_copies_of_a_socketpair_closed_after_fork_end_nothing():
    """socat's EXEC (a real trace): socketpair(), fork, the parent closes
    the child's end and the child the parent's (dup'd onto 0 and 1), then
    the two ends talk.  Both ends' closes are held, but before any byte they
    do not end the connection: the FINs come after the data, not before it
    (they did, and Wireshark saw a byte missing in each direction)."""
    lines = (FIXTURES / "unix" / "socat-exec.strace").read_text().splitlines()
    rows = convert(lines)
    flags = [row_flags for _time, row_flags, _payload in rows]
    last_data = max(index for index, (_time, _flags, payload) in enumerate(rows) if payload)
    assert flags[:3] == ["S", "SA", "A"]
    assert not any("F" in row_flags for row_flags in flags[:last_data])
    assert sum("F" in row_flags for row_flags in flags) == 2
    assert sorted(len(payload) for _time, _flags, payload in rows if payload) == [
        11, 11, 111, 111, 211, 211]

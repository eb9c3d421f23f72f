"""pcapng output: who made each packet, in a comment Wireshark filters on.

Unit tests read real strace lines and check the writer's blocks with scapy
as the oracle; the end-to-end test traces a real process tree (curl and a
threaded Python client) and asks tshark and tcpdump.
"""

import re
import socket
import struct
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from scapy.layers.inet import TCP
from scapy.utils import PcapNgReader, rdpcap

import support
from pcap_output import PcapngOutput, comment_value, packet_comment, strace_flags
from process_names import ProcessNames
from strace_parser import PROCESS, StraceParser

FIXTURES = support.FIXTURES / "pcapng"
PORTS = range(21000, 21100)  # this file's test servers (issue 8's range: 21000-21999)
WRITE_SYSCALLS = {"write", "send", "sendto", "sendmsg", "writev", "sendmmsg", "connect", "close"}
READ_SYSCALLS = {"read", "recv", "recvfrom", "recvmsg", "readv", "recvmmsg"}


# -- process events and names ------------------------------------------------

# Real lines (strace 6.1, -f -ttt -T -yy -xx) of tests/fixtures/pcapng/clients.strace
# and of a shell's PATH search.
PROCESS_LINES = [
    '17218 1795659960.010001 execve("\\x2f\\x74\\x6d\\x70\\x2f\\x63\\x6c\\x69\\x65\\x6e\\x74'
    '\\x73\\x2e\\x73\\x68", ["\\x2f\\x74\\x6d\\x70\\x2f\\x63\\x6c\\x69\\x65\\x6e\\x74\\x73\\x2e'
    '\\x73\\x68", "\\x32\\x31\\x30\\x38\\x31"], 0x7ffc0d1d1f48 /* 35 vars */) = 0 <0.000401>',
    '17218 1795659960.014061 vfork( <unfinished ...>',
    '17219 1795659960.017920 execve("\\x2f\\x75\\x73\\x72\\x2f\\x62\\x69\\x6e\\x2f\\x63\\x75\\x72'
    '\\x6c", ["\\x63\\x75\\x72\\x6c", "\\x2d\\x73"], 0x558759633998 /* 35 vars */ <unfinished ...>',
    '17218 1795659960.018378 <... vfork resumed>) = 17219 <0.004304>',
    '17219 1795659960.018496 <... execve resumed>) = 0 <0.000533>',
    '9954  1795659765.399871 execve("\\x2f\\x75\\x73\\x72\\x2f\\x73\\x62\\x69\\x6e\\x2f\\x62\\x61'
    '\\x73\\x68", ["\\x62\\x61\\x73\\x68"], 0x7ffd546f0310 /* 39 vars */) = -1 ENOENT '
    '(No such file or directory) <0.000011>',
    '9918  1795659764.815072 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_'
    'SETTID|SIGCHLD <unfinished ...>',
    '9918  1795659764.815442 <... clone resumed>, child_tidptr=0x7f339725ba10) = 9919 <0.000352>',
    '17223 1795659960.146986 clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|'
    'CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, '
    'child_tid=0x7fc709df1990, parent_tid=0x7fc709df1990, exit_signal=0, stack=0x7fc7095f1000, '
    'stack_size=0x7ff880, tls=0x7fc709df16c0} => {parent_tid=[17224]}, 88) = 17224 <0.000082>',
]


def test_parser_gives_process_events_only_when_asked():
    parser = StraceParser(process_events=True)
    events = [(event["pid"], event["syscall"], event["comm"], event["child"], event["thread"])
              for line in PROCESS_LINES for event in parser.parse(line)]
    assert events == [
        (17218, "execve", "clients.sh", None, False),
        (17218, "vfork", None, None, False),  # its <unfinished ...> half: in flight
        (17218, "vfork", None, 17219, False),
        (17219, "execve", "curl", None, False),
        (9918, "clone", None, None, False),
        (9918, "clone", None, 9919, False),
        (17223, "clone3", None, 17224, True),
    ]
    assert parser.skipped["not a socket syscall"] == 1  # the failed execve
    default = StraceParser()
    assert [event for line in PROCESS_LINES for event in default.parse(line)] == []


def process_event(pid, syscall, comm=None, child=None, thread=False):
    return {"protocol": PROCESS, "pid": pid, "syscall": syscall, "result": child or 0,
            "time": 0.0, "comm": comm, "child": child, "thread": thread, "in_flight": False}


def annotated(names, pid, **preset):
    event = dict({"pid": pid}, **preset)
    names.annotate(event)
    return {key: event[key] for key in ("comm", "process") if key in event}


def test_names_follow_exec_and_are_inherited_until_the_child_execs():
    names = ProcessNames()
    for event in [process_event(100, "execve", comm="sh"),
                  process_event(100, "vfork", child=101),
                  process_event(100, "clone", child=102),
                  process_event(101, "execve", comm="curl"),
                  process_event(102, "clone3", child=103, thread=True),
                  process_event(103, "clone3", child=104, thread=True)]:
        names.observe(event)
    assert annotated(names, 100) == {"comm": "sh"}
    assert annotated(names, 101) == {"comm": "curl"}
    assert annotated(names, 102) == {"comm": "sh"}            # forked, not yet exec'd
    assert annotated(names, 104) == {"comm": "sh", "process": 102}  # thread of a thread
    assert annotated(names, 999) == {}                        # unknown: no guess
    assert annotated(names, 101, comm="curl-worker") == {"comm": "curl-worker"}  # --decode-pids
    names.observe(process_event(999, "clone", child=102))     # id 102 reused by an unknown
    assert annotated(names, 102) == {}


# -- the comment and the blocks ------------------------------------------------

def socket_event(**fields):
    event = {"pid": 4242, "fd": 7, "syscall": "sendto", "result": 100, "error": None,
             "duration": 0.000069, "session": 2, "protocol": "TCP", "path": None}
    event.update(fields)
    return event


def test_packet_comment_names_every_known_fact():
    assert packet_comment(socket_event(), 0) == (
        "pid=4242 fd=7 syscall=sendto ret=100 duration=0.000069 session=2")
    assert packet_comment(socket_event(pid=4243, process=4242, comm="curl", duration=None),
                          40, "/run/my app.sock") == (
        'pid=4242 tid=4243 comm=curl fd=7 syscall=sendto ret=100 session=2 '
        'path="/run/my app.sock" truncated=40')
    assert packet_comment(socket_event(syscall="connect", result=-1, error="EINPROGRESS"), 0) == (
        "pid=4242 fd=7 syscall=connect ret=-1 errno=EINPROGRESS duration=0.000069 session=2")
    assert packet_comment(socket_event(pid=0, comm="curl"), 0) == (  # strace without -f
        "comm=curl fd=7 syscall=sendto ret=100 duration=0.000069 session=2")
    assert comment_value('a"b\n') == '"a\\"b\\n"'
    assert comment_value("") == '""'


def test_strace_flags_from_a_line():
    line = ('3104  1795659371.610672 sendto(5<TCP:[127.0.0.1:36234->127.0.0.1:18080]>, '
            '"\\x68\\x69", 2, MSG_NOSIGNAL, NULL, 0) = 2 <0.000069>')
    assert strace_flags(line) == "-f -ttt -T -yy -xx"
    assert strace_flags('[pid  3104] 10:22:51.610672 write(5<TCP:[1.2.3.4:5->6.7.8.9:10]>, '
                        '"hi", 2) = 2') == "-f -tt -yy"
    assert strace_flags('write(5<UNIX:[1234]>, "hi", 2) = 2') == "-yy"


def read_blocks(data):
    """[(block type, body)] of a little-endian pcapng file, checking the frame."""
    blocks = []
    position = 0
    while position < len(data):
        block_type, total = struct.unpack_from("<II", data, position)
        assert total % 4 == 0 and total >= 12
        assert struct.unpack_from("<I", data, position + total - 4)[0] == total
        blocks.append((block_type, data[position + 8:position + total - 4]))
        position += total
    assert position == len(data)
    return blocks


def test_blocks_are_what_scapy_reads(tmp_path):
    key_log = b"CLIENT_RANDOM " + b"ab" * 32 + b" " + b"cd" * 48 + b"\n"
    frames = [bytes(range(60)), bytes(range(61)), bytes(range(62)), bytes(range(63))]
    packets = [
        (1795659371.610672, frames[0], 60, socket_event(comm="curl"), True),
        (1795659371.610673, frames[1], 61 + 1000, socket_event(syscall="recvfrom"), False),
        (1795659371.9, frames[2], 62, socket_event(), True),
        (1795659372.0, frames[3], 63, socket_event(pid=1), False),
    ]
    path = tmp_path / "out.pcapng"
    output = PcapngOutput(open(path, "wb"), "py-strace2pcap 9.9", key_log)
    output.describe("-f -ttt -T -yy -xx")
    for packet in packets:
        output.write(packet)
    output.close()

    blocks = read_blocks(path.read_bytes())
    assert [block_type for block_type, _ in blocks] == [0x0A0D0D0A, 1, 0x0A, 6, 6, 6, 6]
    idb = blocks[1][1]
    assert struct.unpack_from("<HHI", idb) == (1, 0, 262144)          # Ethernet
    assert b"\x02\x00\x06\x00strace\x00\x00" in idb                    # if_name
    assert b"py-strace2pcap 9.9 from strace -f -ttt -T -yy -xx" in idb  # if_description
    dsb = blocks[2][1]
    assert struct.unpack_from("<II", dsb) == (0x544C534B, len(key_log))
    assert dsb[8:8 + len(key_log)] == key_log

    read = list(PcapNgReader(str(path)))
    assert [bytes(packet) for packet in read] == frames
    assert [packet.wirelen for packet in read] == [60, 1061, 62, 63]
    assert [round(float(packet.time), 6) for packet in read] == [time for time, *_ in packets]
    assert [packet.direction for packet in read] == [2, 1, 2, 1]
    assert [packet.comments for packet in read] == [
        [b"pid=4242 comm=curl fd=7 syscall=sendto ret=100 duration=0.000069 session=2"],
        [b"pid=4242 fd=7 syscall=recvfrom ret=100 duration=0.000069 session=2 truncated=1000"],
        [b"pid=4242 fd=7 syscall=sendto ret=100 duration=0.000069 session=2"],
        [b"pid=1 fd=7 syscall=sendto ret=100 duration=0.000069 session=2"],
    ]


# A client of a unix socket (strace 6.1): only connect() shows the path.
UNIX_CLIENT_LINES = [
    '10209 1795660892.811975 connect(3<UNIX-STREAM:[75764]>, {sa_family=AF_UNIX, sun_path="'
    '\\x2f\\x74\\x6d\\x70\\x2f\\x68\\x38\\x2f\\x6d\\x79\\x20\\x73\\x6f\\x63\\x6b"}, 18) = 0 '
    '<0.000040>',
    '10209 1795660892.812093 sendto(3<UNIX-STREAM:[75764]>, "\\x68\\x65\\x6c\\x6c\\x6f", 5, 0, '
    'NULL, 0) = 5 <0.000015>',
    '10209 1795660892.839227 close(3<UNIX-STREAM:[75764]>) = 0 <0.000024>',
]


def test_unix_path_is_named_on_every_packet_of_the_flow(tmp_path):
    parser = StraceParser()
    events = [event for line in UNIX_CLIENT_LINES for event in parser.parse(line)]
    path = tmp_path / "out.pcapng"
    output = PcapngOutput(open(path, "wb"), "py-strace2pcap")
    for event in events:
        output.write((event["time"], bytes(60), 60, event, event["syscall"] != "recvfrom"))
    output.close()
    assert [packet.comments[0].decode().split(" session=0 ")[1]
            for packet in PcapNgReader(str(path))] == ['path="/tmp/h8/my sock"'] * 3


def test_fixture_process_tree_gets_each_process_name(tmp_path):
    pcapng = tmp_path / "clients.pcapng"
    support.convert(FIXTURES / "clients.strace", pcapng, "-q")
    seen = set()
    for packet in PcapNgReader(str(pcapng)):
        [comment] = packet.comments
        seen.add("%d %d %s %s" % (packet[TCP].sport, packet[TCP].dport,
                                  {1: "in", 2: "out"}[packet.direction], comment.decode()))
    assert sorted(seen) == (FIXTURES / "clients.expected").read_text().splitlines()


# -- the command line -----------------------------------------------------------

def test_format_follows_the_name_unless_given(tmp_path):
    trace = support.REPO / "example" / "curl-http.strace"
    for name, flags, magic in [("a.pcapng", [], b"\x0a\x0d\x0d\x0a"),
                               ("b.pcap", [], b"\xd4\xc3\xb2\xa1"),
                               ("c.pcapng", ["--format", "pcap"], b"\xd4\xc3\xb2\xa1"),
                               ("d.pcap", ["--format", "pcapng"], b"\x0a\x0d\x0d\x0a")]:
        support.convert(trace, tmp_path / name, "-q", *flags)
        assert (tmp_path / name).read_bytes()[:4] == magic, name
    result = support.convert(None, "-", "-q", "--format", "pcapng",
                             stdin=trace.read_bytes())
    assert result.stdout == (tmp_path / "a.pcapng").read_bytes()


def test_pcapng_holds_the_same_packets_as_pcap(tmp_path):
    trace = FIXTURES / "clients.strace"
    support.convert(trace, tmp_path / "out.pcap", "-q")
    support.convert(trace, tmp_path / "out.pcapng", "-q")
    plain, rich = rdpcap(str(tmp_path / "out.pcap")), rdpcap(str(tmp_path / "out.pcapng"))
    assert len(plain) == len(rich) > 0
    assert [(bytes(p), p.wirelen, float(p.time)) for p in plain] == \
           [(bytes(p), p.wirelen, float(p.time)) for p in rich]


def comments_of(trace, tmp_path):
    """The packet comments of the pcapng the text ``trace`` converts to."""
    result = support.convert(None, "-", "-q", "--format", "pcapng", stdin=trace.encode())
    (tmp_path / "out.pcapng").write_bytes(result.stdout)
    return [packet.comments[0] for packet in PcapNgReader(str(tmp_path / "out.pcapng"))]


def test_decode_pids_comm_names_the_process(tmp_path):
    # strace >= 6.16 --decode-pids=comm prints the pid column as N<comm>.
    trace = (
        '4339<curl> 1795659629.361694 connect(5<TCP:[127.0.0.1:47040->127.0.0.1:18080]>, '
        '{sa_family=AF_INET, sin_port=htons(18080), sin_addr=inet_addr("127.0.0.1")}, 16) = 0 '
        '<0.000233>\n'
        '4339<curl> 1795659629.361900 sendto(5<TCP:[127.0.0.1:47040->127.0.0.1:18080]>, "hi", '
        '2, MSG_NOSIGNAL, NULL, 0) = 2 <0.000077>\n')
    assert comments_of(trace, tmp_path) == [
        b"pid=4339 comm=curl fd=5 syscall=connect ret=0 duration=0.000233 session=0"] * 3 + [
        b"pid=4339 comm=curl fd=5 syscall=sendto ret=2 duration=0.000077 session=0"]


def test_the_fin_of_an_exit_names_the_exit(tmp_path):
    """A client that exits without close(): its FIN's comment says exit,
    with the process's name, the fd and session of its last syscall."""
    trace = (
        '4339  1795659629.361694 execve("/usr/bin/curl", ["curl"], 0x7ffd /* 1 var */) = 0 '
        '<0.000300>\n'
        '4339  1795659629.361900 sendto(5<TCP:[127.0.0.1:47040->127.0.0.1:18080]>, "hi", '
        '2, MSG_NOSIGNAL, NULL, 0) = 2 <0.000077>\n'
        '4339  1795659629.362000 exit_group(0) = ?\n'
        '4339  1795659629.362100 +++ exited with 0 +++\n')
    assert comments_of(trace, tmp_path)[-2:] == [
        b"pid=4339 comm=curl fd=5 syscall=exit ret=0 session=0"] * 2


def test_tls_keylog_needs_pcapng(tmp_path):
    keys = tmp_path / "keys.log"
    keys.write_text("")
    result = support.convert(FIXTURES / "clients.strace", tmp_path / "out.pcap",
                             "--tls-keylog", str(keys), check=False)
    assert result.returncode == 2
    assert result.stderr.decode().splitlines() == [
        "py-strace2pcap: --tls-keylog needs pcapng output: add --format pcapng "
        "or name the output *.pcapng"]
    assert not (tmp_path / "out.pcap").exists()
    result = support.convert(FIXTURES / "clients.strace", tmp_path / "out.pcapng",
                             "--tls-keylog", str(tmp_path / "missing.log"), check=False)
    assert result.returncode == 2
    assert b"cannot read" in result.stderr and b"missing.log" in result.stderr


# -- a real process tree, traced -------------------------------------------------

def free_port(ports=PORTS):
    """A port of ``ports`` nobody listens on now."""
    for port in ports:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    pytest.fail("no free port in %s" % ports)


@contextmanager
def server(command, port):
    """Run ``command`` (a list), a server on ``port``, for the with-block."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None and time.time() < deadline, "server did not start"
                time.sleep(0.05)
        yield process
    finally:
        process.kill()
        process.wait()


def frames(pcapng, display_filter, *fields):
    """tshark's ``fields`` (tab-separated) of the frames ``display_filter`` selects."""
    output = support.tshark("-r", str(pcapng), "-Y", display_filter, "-T", "fields",
                            "-e", "frame.number", *[arg for field in fields
                                                    for arg in ("-e", field)])
    return [line.split("\t") for line in output.splitlines()]


def test_traced_process_tree(tmp_path):
    support.require("strace", "tshark", "tcpdump", "curl")
    port = free_port()
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "index.html").write_text("hello\n")
    with server([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                 "--directory", str(tmp_path / "www")], port):
        traced = support.strace(["sh", str(FIXTURES / "clients.sh"), str(port), sys.executable],
                                tmp_path / "trace.txt", cwd=tmp_path)
    assert traced.returncode == 0, traced.stderr.decode()
    # What the clients printed: "curl PID PORT", "python PID PORT".
    clients = {name: (int(pid), int(local_port)) for name, pid, local_port in
               (line.split() for line in traced.stdout.decode().splitlines())}
    assert set(clients) == {"curl", "python"}
    pcapng = tmp_path / "out.pcapng"
    support.convert(tmp_path / "trace.txt", pcapng, "-q")

    everything = frames(pcapng, "tcp")
    comm_of = {"curl": "curl", "python": Path(sys.executable).name}
    for name, (pid, local_port) in clients.items():
        selected = frames(pcapng, 'frame.comment contains "pid=%d"' % pid, "frame.comment")
        of_its_port = frames(pcapng, "tcp.port == %d" % local_port)
        assert len(of_its_port) >= 5  # handshake, request, response
        assert [number for number, _ in selected] == [number for [number] in of_its_port]
        assert all(" comm=%s " % comm_of[name] in comment for _, comment in selected)
    # The Python request ran in a second thread: its tid is named too.
    python_pid = clients["python"][0]
    assert all("tid=" in comment and "tid=%d " % python_pid not in comment
               for _, comment in frames(pcapng, 'frame.comment contains "pid=%d"' % python_pid,
                                        "frame.comment"))

    # Direction: out for what the process wrote, in for what it read.
    for number, comment, direction, payload_length in frames(
            pcapng, "tcp.len > 0", "frame.comment", "frame.packet_flags_direction", "tcp.len"):
        syscall = dict(pair.split("=", 1) for pair in comment.split())["syscall"]
        assert int(direction, 16) == (2 if syscall in WRITE_SYSCALLS else 1), (number, comment)
        assert syscall in WRITE_SYSCALLS | READ_SYSCALLS

    tcpdump = subprocess.run(["tcpdump", "-nn", "-r", str(pcapng)], capture_output=True,
                             timeout=60)
    assert tcpdump.returncode == 0, tcpdump.stderr.decode()
    assert b"link-type EN10MB" in tcpdump.stderr
    assert len(tcpdump.stdout.splitlines()) == len(everything)


def test_pcap_and_pcapng_summaries_account_for_the_same_lines(tmp_path):
    """pcapng reads execve/clone/fork lines that pcap skips: its summary
    says how many, so the two add up to the same lines."""
    def counts(name):
        summary = support.convert(support.FIXTURES / "pcapng" / "clients.strace",
                                  tmp_path / name).stderr.decode()
        skipped = sum(int(count) for count in re.findall(r"^  skipped (\d+): ", summary, re.M))
        read = re.findall(r"^  (\d+) execve, clone and fork lines? read for the process names$",
                          summary, re.M)
        return skipped, [int(count) for count in read]
    pcap_skipped, pcap_read = counts("out.pcap")
    pcapng_skipped, [pcapng_read] = counts("out.pcapng")
    assert pcap_read == [] and pcapng_read > 5
    assert pcap_skipped == pcapng_skipped + pcapng_read

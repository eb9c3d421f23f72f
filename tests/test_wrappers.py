"""strace2pcap.sh and strace2pcap-pipe.sh with the real strace: a real
client's pcap against tcpdump's, the pcap stream on standard output, the
options given to strace, exit statuses, -p with Ctrl-C, and the up-front
checks.  Ports 19100-19199: echo servers from 19110, 19130, 19150, 19170
(the first free of 20), redis-server 19190-19199.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

import support
from test_live import EchoServer, bind_free_port, client, tick_sent_times

WRAPPER = support.REPO / "strace2pcap.sh"
PIPE_WRAPPER = support.REPO / "strace2pcap-pipe.sh"
REDIS_FIRST_PORT = 19190


def run(command, **options):
    """Run ``command``; the CompletedProcess, output captured."""
    options.setdefault("capture_output", True)
    return subprocess.run(command, timeout=120, **options)


@pytest.fixture
def redis_server(tmp_path):
    """The port of a redis-server on 127.0.0.1 (19190-19199), no persistence."""
    support.require("redis-server", "redis-cli")
    with socket.socket() as probe:
        port = bind_free_port(probe, REDIS_FIRST_PORT, 10)
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while run(["redis-cli", "-p", str(port), "ping"]).stdout != b"PONG\n":
        assert server.poll() is None and time.monotonic() < deadline, "redis-server did not start"
        time.sleep(0.05)
    yield port
    server.terminate()
    server.wait(timeout=10)


def test_redis_cli_pcap_equals_tcpdump(redis_server, tmp_path):
    """redis-cli moves its bytes with read()/write(): every byte of both
    directions of both connections is in the pcap, as tcpdump saw them."""
    support.require("strace", "tshark")
    value = bytes(range(256)) * 400
    (tmp_path / "value.bin").write_bytes(value)
    pcap = tmp_path / "redis.pcap"
    command = ("sh -c 'redis-cli -p %d -x set big < value.bin && "
               "redis-cli -p %d get big > got.bin'" % (redis_server, redis_server))
    with support.Tcpdump(tmp_path / "lo.pcap", "tcp port %d" % redis_server):
        result = run([str(WRAPPER), str(pcap), command], cwd=tmp_path)
        settle(tmp_path / "lo.pcap")
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    ours = support.tcp_streams(pcap)
    assert len(ours) == 4
    assert ours == support.tcp_streams(tmp_path / "lo.pcap")
    assert any(value in stream for stream in ours.values())


def settle(path, quiet=0.5, timeout=10.0):
    """Wait until the file at ``path`` stopped growing for ``quiet`` seconds
    (tcpdump on a busy machine lags behind the traffic it captures)."""
    deadline = time.monotonic() + timeout
    size, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now_size = path.stat().st_size
        if now_size != size:
            size, since = now_size, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.05)


def strace_recorder(directory):
    """A ``strace`` for PATH that logs its arguments (NUL-separated, to
    ``strace.args`` in ``directory``) and runs the real one."""
    recorder = directory / "strace"
    recorder.write_text('#!/bin/sh\nprintf "%%s\\0" "$@" > %s/strace.args\nexec %s "$@"\n'
                        % (directory, shutil.which("strace")))
    recorder.chmod(0o755)
    return directory / "strace.args"


def test_strace_options_quoting_and_converter_found_from_elsewhere(tmp_path):
    """Run through a symlink from another directory, with an output path full
    of blanks and quotes: strace gets the converter's options and syscall
    list, the sink finds the converter next to the real script, converter
    options (-q) reach it, and the pcap lands at the odd path."""
    support.require("strace")
    from strace_parser import SOCKET_SYSCALLS, TRACED_SYSCALLS
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    arguments_log = strace_recorder(bin_dir)
    (bin_dir / "s2p").symlink_to(WRAPPER)
    odd = tmp_path / "it's a \"dir\" $HOME"
    odd.mkdir()
    pcap = odd / "out put.pcap"
    environment = dict(os.environ, PATH="%s:%s" % (bin_dir, os.environ["PATH"]))
    with EchoServer(19110) as server:
        command = client(server.port, 3, 0, 50)
        result = run(["s2p", str(pcap), " ".join(command), "-q"],
                     cwd=tmp_path, env=environment)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert b"py-strace2pcap:" not in result.stderr  # -q reached the converter
    assert sorted(tick_sent_times(f for _, f in support.pcap_records(pcap.read_bytes()))) == [0, 1, 2]

    arguments = arguments_log.read_bytes().decode().split("\0")[:-1]
    for option in ["-f", "-s655350", "-ttt", "-T", "-yy", "-xx", "--seccomp-bpf"]:
        assert option in arguments
    traced = arguments[arguments.index("-e") + 1]
    assert traced.startswith("trace=")
    assert {name.lstrip("?") for name in traced[6:].split(",")} == TRACED_SYSCALLS
    assert {"read", "write", "readv", "writev", "close", "splice"} <= SOCKET_SYSCALLS
    assert {"dup", "dup2", "dup3", "fcntl", "exit", "clone", "execve"} <= TRACED_SYSCALLS
    sink = arguments[arguments.index("-o") + 1]
    assert sink.startswith("! ") and str(support.CONVERTER) in sink
    assert arguments[-len(command):] == command


def test_converter_failing_mid_run_sets_the_exit_status(tmp_path):
    """A pcap that outgrows the file size limit (as a full disk would stop
    it) after the up-front checks wrote its header: the converter stops
    with its I/O error, and the wrapper says so and exits with its status,
    not the command's 0 (which left a pcap cut short looking whole)."""
    support.require("strace")
    with EchoServer(19130) as server:
        command = " ".join(client(server.port, 40, 0, 300))
        result = run(["bash", "-c", 'ulimit -f 1; "$0" out.pcap "$1"', str(WRAPPER), command],
                     cwd=tmp_path)
    assert result.returncode == 2, result.stderr.decode(errors="replace")
    assert (tmp_path / "out.pcap").stat().st_size == 1024
    told = result.stderr.decode()  # (strace's "Broken pipe" between)
    assert told.startswith("py-strace2pcap: stopped by an I/O error (writing out.pcap): File "
                           "too large; the pcap holds the packets before, its last one maybe "
                           "cut short\n"), told
    assert told.endswith("strace2pcap.sh: the converter failed (exit status 2; the command's: "
                         "0): the pcap may be cut short\n"), told


def test_verbose_converter_prints_one_summary(tmp_path):
    """-v for the converter: the summary of the run, once; the wrapper's
    up-front checks of the options and the output stay quiet (they ran
    "-q -v", which was quiet only by chance before -v could follow -q)."""
    support.require("strace")
    result = run([str(WRAPPER), "out.pcap", "sh -c 'exit 0'", "-v"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert result.stderr.count(b"py-strace2pcap: ") == 1, result.stderr


@pytest.mark.parametrize("command, status", [
    ("sh -c 'exit 7'", 7),
    ("sh -c 'kill -TERM $$'", 128 + signal.SIGTERM),
])
def test_exit_status_is_the_traced_commands(tmp_path, command, status):
    support.require("strace")
    for wrapper, output in ((WRAPPER, "out.pcap"), (PIPE_WRAPPER, "-")):
        result = run(["bash", "-c", '"$0" "$1" "$2" > /dev/null', str(wrapper), output, command],
                     cwd=tmp_path)
        assert result.returncode == status, (wrapper, result.stderr)


def test_pipe_wrapper_streams_to_tshark_and_keeps_the_file(tmp_path):
    """strace2pcap-pipe.sh out.pcap "client" | tshark -r -: tshark prints
    the packets, out.pcap holds the same bytes as the stream, the client's
    own output went to stderr, and no temporary file is left anywhere."""
    support.require("strace", "tshark")
    work, temporary, stream = tmp_path / "work", tmp_path / "tmp", tmp_path / "stream"
    for directory in (work, temporary, stream):
        directory.mkdir()
    script = ('"$0" out.pcap "$1" | tee "$2/stream.pcap" | tshark -r - -T fields '
              '-e tcp.srcport -e tcp.dstport -e tcp.len; echo "status ${PIPESTATUS[*]}" >&2')
    with EchoServer(19130) as server:
        result = run(["bash", "-c", script, str(PIPE_WRAPPER), " ".join(client(server.port, 4, 0, 80)),
                      str(stream)], cwd=work, env=dict(os.environ, TMPDIR=str(temporary)))
    errors = result.stderr.decode(errors="replace")
    assert "status 0 0 0" in errors, errors
    assert "client done" in errors
    rows = [line.split("\t") for line in result.stdout.decode().splitlines()]
    server_port = str(server.port)
    client_port = next(source for source, destination, _ in rows if destination == server_port)
    assert rows.count([client_port, server_port, "80"]) == 4  # the client's messages
    assert rows.count([server_port, client_port, "80"]) == 4  # their echoes
    assert (work / "out.pcap").read_bytes() == (stream / "stream.pcap").read_bytes()
    assert len(support.pcap_records((work / "out.pcap").read_bytes())) == len(rows)
    assert os.listdir(work) == ["out.pcap"] and os.listdir(temporary) == []


def test_pipe_wrapper_without_file_writes_only_stdout(tmp_path):
    support.require("strace")
    with EchoServer(19150) as server:
        result = run([str(PIPE_WRAPPER), "-", " ".join(client(server.port, 2, 0, 60))],
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(tick_sent_times(f for _, f in support.pcap_records(result.stdout))) == [0, 1]
    assert os.listdir(tmp_path) == []


def test_attach_to_a_running_process_and_ctrl_c(tmp_path):
    """strace2pcap.sh out.pcap "-p PID", then Ctrl-C (SIGINT to the whole
    process group) once the pcap shows traffic: strace detaches, the
    converter reads to the end of the trace and writes its normal summary;
    the process goes on untouched."""
    support.require("strace", "tshark")
    pcap = tmp_path / "attached.pcap"
    arguments_log = strace_recorder(tmp_path)
    environment = dict(os.environ, PATH="%s:%s" % (tmp_path, os.environ["PATH"]))
    with EchoServer(19170) as server:
        traced = subprocess.Popen(client(server.port, 600, 0.05, 70), stdout=subprocess.PIPE)
        try:
            time.sleep(0.3)
            wrapper = subprocess.Popen([str(WRAPPER), str(pcap), "-p %d" % traced.pid],
                                       stderr=subprocess.PIPE, start_new_session=True,
                                       env=environment)
            support.wait_for(lambda: pcap.exists()
                     and len(tick_sent_times(f for _, f in support.pcap_records(pcap.read_bytes()))) >= 3)
            os.killpg(wrapper.pid, signal.SIGINT)
            errors = wrapper.communicate(timeout=60)[1].decode(errors="replace")
            time.sleep(0.2)
            assert traced.poll() is None  # detached, still running
        finally:
            traced.kill()
            traced.wait()
    assert wrapper.returncode in (-signal.SIGINT, 128 + signal.SIGINT), errors
    arguments = arguments_log.read_bytes().split(b"\0")
    assert arguments[-3:] == [b"-p", str(traced.pid).encode(), b""]
    assert b"--seccomp-bpf" not in arguments  # strace refuses it with -p
    assert "interrupted" not in errors and "packets" in errors, errors
    ticks = sorted(tick_sent_times(f for _, f in support.pcap_records(pcap.read_bytes())))
    assert len(ticks) >= 3 and ticks == list(range(ticks[0], ticks[-1] + 1)), ticks
    assert ticks[0] > 0  # attached mid-way
    assert len(support.tshark("-r", str(pcap)).splitlines()) == len(support.pcap_records(pcap.read_bytes()))


def tool_links(directory, *tools):
    """A PATH directory holding only ``tools`` (symlinks to the real ones)."""
    directory.mkdir()
    for tool in tools:
        (directory / tool).symlink_to(shutil.which(tool))
    return str(directory)


@pytest.mark.parametrize("wrapper", [WRAPPER, PIPE_WRAPPER])
def test_usage_and_up_front_checks(tmp_path, wrapper):
    """-h prints usage; missing arguments, strace, Python 3.9+ or a writable
    output: one clear line on stderr, exit 2, nothing run."""
    result = run([str(wrapper), "-h"])
    assert result.returncode == 0 and b"usage: " + wrapper.name.encode() in result.stdout
    assert b"STRACE ARGS" in result.stdout and b"-p PID" in result.stdout

    result = run([str(wrapper), "only-one-argument"])
    assert result.returncode == 2 and b"usage:" in result.stderr

    no_strace = tool_links(tmp_path / "bin", "bash", "dirname", "readlink", "tee")
    result = run([str(wrapper), "out.pcap", "true"], cwd=tmp_path,
                 env=dict(os.environ, PATH=no_strace, PYTHON=sys.executable))
    assert result.returncode == 2
    assert result.stderr.decode().startswith("%s: strace not found" % wrapper.name)

    support.require("strace")
    old_python = tmp_path / "python3.8"  # answers the version check as 3.8 would
    old_python.write_text("#!/bin/sh\nexit 1\n")
    old_python.chmod(0o755)
    result = run([str(wrapper), "out.pcap", "true"], cwd=tmp_path,
                 env=dict(os.environ, PYTHON=str(old_python)))
    assert result.returncode == 2
    assert b"needs Python 3.9 or newer" in result.stderr and result.stderr.count(b"\n") == 1

    result = run([str(wrapper), "out.pcap", "sh -c 'touch ran"], cwd=tmp_path)
    assert result.returncode == 2 and b"unclosed quote" in result.stderr

    result = run([str(wrapper), str(tmp_path / "no" / "dir" / "out.pcap"), "touch ran"],
                 cwd=tmp_path)
    assert result.returncode == 2 and b"cannot write" in result.stderr
    assert not (tmp_path / "ran").exists() and not (tmp_path / "out.pcap").exists()

    # A mistyped converter option, or strace's -o in STRACE ARGS (the
    # command's own -o is its own): before, the command ran, exit 0, and
    # the pcap was empty.
    result = run([str(wrapper), "out.pcap", "touch ran", "--formt", "pcapng"], cwd=tmp_path)
    assert result.returncode == 2 and b"unrecognized arguments: --formt" in result.stderr
    assert b"the converter options are wrong" in result.stderr
    result = run([str(wrapper), "out.pcap", "-s 99 -o log touch ran"], cwd=tmp_path)
    assert result.returncode == 2 and b"must not set strace's output (-o)" in result.stderr
    assert not (tmp_path / "ran").exists() and not (tmp_path / "log").exists()
    # An output the converter cannot write (a full disk) or will not write
    # over (a trace), and -r, which would make it read another trace:
    # before, the command ran, exit 0 (helper N: 52 "Broken pipe" lines).
    (tmp_path / "trace.txt").write_text("7 1795659000.000001 close(3) = 0\n")
    for output, options, message in (
            ("/dev/full", [], b"No space left on device"),
            ("trace.txt", [], b"exists and is no pcap"),
            ("out.pcap", ["-r", "trace.txt"], b"must not set the input (-r)")):
        result = run([str(wrapper), output, "touch ran", *options], cwd=tmp_path)
        assert result.returncode == 2 and message in result.stderr, result.stderr
        assert not (tmp_path / "ran").exists()
    assert (tmp_path / "trace.txt").read_text().startswith("7 ")
    result = run([str(wrapper), "out.pcap", "sh -c 'touch ran' -o x"], cwd=tmp_path)
    assert result.returncode == 0 and (tmp_path / "ran").exists()


def test_a_command_strace_cannot_start_leaves_no_status_file(tmp_path):
    """strace that cannot start the command does not wait for its sink:
    the wrapper returned first, the summary came after the prompt, and
    the converter wrote its status file after the wrapper had removed it
    (helper B2).  Now the wrapper waits: strace's status, the summary
    before it returns, nothing left in TMPDIR."""
    support.require("strace")
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    result = run([str(WRAPPER), str(tmp_path / "z.pcap"), "no-such-command-zz"],
                 env=dict(os.environ, TMPDIR=str(temporary)))
    assert result.returncode == 1
    assert b"py-strace2pcap: 0 lines" in result.stderr
    assert list(temporary.iterdir()) == []


def test_the_pipe_wrapper_refuses_a_terminal(tmp_path):
    """Its pcap stream on a terminal (no | reader): refused up front, before
    strace runs (helper B2: 841 bytes of pcap on the terminal, exit 0)."""
    support.require("script")
    result = run(["script", "-qec", "%s %s true" % (PIPE_WRAPPER, tmp_path / "t.pcap"),
                  "/dev/null"], cwd=tmp_path)
    assert result.returncode == 2
    assert b"standard output is a terminal: pipe the pcap stream into a reader" in result.stdout
    assert not (tmp_path / "t.pcap").exists()

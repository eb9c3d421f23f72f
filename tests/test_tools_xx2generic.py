"""tools/strace_convert/xx2generic.py: a -xx trace turned back into strace's default form.

The oracle is strace itself: the same deterministic program is traced once
with -xx and once without; the converted -xx trace must equal the plain one
on every line, once pids, addresses, ports, inodes and times are masked.
"""

import re
import shutil
import subprocess
import sys

import pytest

import support

TOOL = support.REPO / "tools" / "strace_convert" / "xx2generic.py"
PROGRAM = support.FIXTURES / "tools" / "deterministic_io.py"

# A strace string ("...", escapes included) or an fd path annotation (<...>).
QUOTED_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
# An fd annotation that is a path (3</etc/hosts>, AT_FDCWD</tmp>), not a socket.
FD_PATH = re.compile(r"(?<=[0-9D])<(?!(?:TCP|UDP|UNIX|NETLINK)[\w-]*:)[^<>]*(?=[<>])")


def xx2generic(text, *arguments):
    """Run the tool on ``text`` (bytes) with ``arguments``; return the CompletedProcess."""
    return subprocess.run([sys.executable, str(TOOL), *arguments], input=text,
                          capture_output=True, timeout=60)


def trace_program(tmp_path, name, options):
    """Trace the deterministic program with strace ``options``; return its lines."""
    work = tmp_path / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    trace = tmp_path / name
    # The real interpreter, not a shim: a wrapper script would add processes.
    command = [sys.executable, "-S", "-E", str(PROGRAM), str(work)]
    result = support.strace(command, trace, options=["-f", "-yy", *options])
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return trace.read_bytes().decode("latin-1").splitlines()


def fd_paths(line):
    """The fd path annotations of ``line``, pipe and anon inode numbers masked."""
    return [re.sub(r"\[\d+\]", "[N]", path) for path in FD_PATH.findall(line)]


def masked(line):
    """``line`` without what differs between two runs: pid, numbers, addresses."""
    line = re.sub(r"^\d+ +", "", line)
    return re.sub(r"\d+", "N", re.sub(r"0x[0-9a-f]+", "ADDR", line))


def is_random(line):
    """getrandom's buffer differs from run to run (and stays hex)."""
    return "getrandom" in line


@pytest.mark.parametrize("options", [["-ttt", "-T", "-s65536"], ["-s24"]],
                         ids=["whole-payloads", "truncated-s24"])
def test_converted_xx_trace_equals_strace_default_output(tmp_path, options):
    plain = trace_program(tmp_path, "plain.txt", options)
    hexed = trace_program(tmp_path, "xx.txt", ["-xx", *options])
    result = xx2generic("\n".join(hexed).encode("latin-1") + b"\n")
    assert result.returncode == 0, result.stderr
    converted = result.stdout.decode("latin-1").splitlines()

    assert len(converted) == len(plain) == len(hexed)
    compared = 0
    for plain_line, converted_line in zip(plain, converted):
        if is_random(plain_line):
            assert re.search(r'getrandom\("(\\x[0-9a-f]{2})+"', converted_line)
            continue
        assert QUOTED_STRING.findall(converted_line) == QUOTED_STRING.findall(plain_line)
        assert fd_paths(converted_line) == fd_paths(plain_line)
        assert masked(converted_line) == masked(plain_line)
        compared += 1
    assert compared > 300
    # The program's payloads are in there, every byte value included.
    all_bytes = "".join(plain)
    assert "\\0\\1\\2\\3\\4\\5\\6\\7\\10\\t\\n\\v\\f\\r\\16" in all_bytes
    assert "\\0001\\00163\\7\\10\\0167\\0370\\1779\\3778\\\\0\\n1" in all_bytes
    assert "we\\74i\\76rd \\\"na\\\\me\\\"\\n\\t\\1\\177 \\303\\251\\377>" in all_bytes
    if options == ["-s24"]:
        assert any(line.endswith('"..., 256) = 256') for line in converted)


def test_real_line_decoded_and_realigned():
    line = (b'4339  close(3<\\x2f\\x65\\x74\\x63\\x2f\\x6c\\x64\\x2e\\x73\\x6f\\x2e\\x63\\x61'
            b'\\x63\\x68\\x65>) = 0\n')
    assert xx2generic(line).stdout == b"4339  close(3</etc/ld.so.cache>)        = 0\n"


def test_truncated_string_and_socket_annotation_kept():
    line = (b'4339  1795659629.288 sendto(5<TCP:[127.0.0.1:47040->127.0.0.1:18080]>, '
            b'"\\x47\\x45\\x54\\x20\\x2f"..., 79, MSG_NOSIGNAL, NULL, 0) = 79 <0.000052>\n')
    expected = (b'4339  1795659629.288 sendto(5<TCP:[127.0.0.1:47040->127.0.0.1:18080]>, '
                b'"GET /"..., 79, MSG_NOSIGNAL, NULL, 0) = 79 <0.000052>\n')
    assert xx2generic(line).stdout == expected


def test_lines_without_hex_and_bad_bytes_pass_through(tmp_path):
    lines = (b"+++ exited with 0 +++\n"
             b"not strace at all \xff\xfe \\x4\n"
             b'4339  read(3<\\x2f\\x64>,  <unfinished ...>\n'
             b'4339  <... read resumed>"\\x00\\x31", 2) = 2\n')
    trace = tmp_path / "trace.txt"
    trace.write_bytes(lines)
    result = xx2generic(b"", str(trace))
    assert result.returncode == 0
    resumed = b'4339  <... read resumed>"\\0001", 2)'.ljust(40) + b"= 2\n"
    assert result.stdout == (b"+++ exited with 0 +++\n"
                             b"not strace at all \xff\xfe \\x4\n"
                             b'4339  read(3</d>,  <unfinished ...>\n' + resumed)


def test_missing_file_is_an_error_not_a_traceback(tmp_path):
    result = xx2generic(b"", str(tmp_path / "absent.txt"))
    assert result.returncode == 2
    assert b"absent.txt" in result.stderr and b"Traceback" not in result.stderr


@pytest.mark.parametrize("from_file", [False, True], ids=["stdin", "file"])
def test_closed_reader_stops_quietly(tmp_path, from_file):
    lines = b'1  write(1, "\\x41", 1) = 1\n' * 200000
    trace = tmp_path / "trace.txt"
    trace.write_bytes(lines)
    source = trace if from_file else "-"
    process = subprocess.Popen(f"{sys.executable} {TOOL} {source} | head -1", shell=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    stdout, stderr = process.communicate(b"" if from_file else lines, timeout=60)
    assert stdout == b'1  write(1, "A", 1)'.ljust(40) + b"= 1\n"
    assert process.returncode == 0
    assert b"Traceback" not in stderr and b"Broken pipe" not in stderr

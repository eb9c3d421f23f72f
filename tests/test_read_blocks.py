"""The reader hands the converter blocks of whole lines, one per read: the
lines must be exactly the input's, whatever the read sizes, CR LF line ends
and lines longer than a read (cut at MAX_LINE) included."""

import datetime
import io
import resource
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import support
import trace_input
from strace_parser import StraceParser

LINE = st.text(alphabet="ab\r:[", max_size=40)


@pytest.fixture
def monkeypatch_chunks(monkeypatch):
    """Sets the reader's read size and longest line, for this test only."""
    def set_sizes(chunk_size, max_line):
        monkeypatch.setattr(trace_input, "CHUNK_SIZE", chunk_size)
        monkeypatch.setattr(trace_input, "MAX_LINE", max_line)
    return set_sizes


def expected_lines(text, max_line):
    """The lines as a plain split gives them: CR LF read as LF, each cut at ``max_line``."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    lines = [line[:max_line] for line in lines]
    return [line[:-1] if line.endswith("\r") else line for line in lines]


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(LINE, max_size=30), ended=st.booleans(),
       chunk_size=st.integers(1, 50), max_line=st.integers(60, 120))
def test_blocks_hold_the_input_lines(monkeypatch_chunks, lines, ended, chunk_size, max_line):
    text = "\n".join(lines) + ("\n" if ended and lines else "")
    monkeypatch_chunks(chunk_size, max_line)
    blocks = list(trace_input.read_blocks(io.BytesIO(text.encode("latin-1"))))
    assert [line for block in blocks for line in block.split("\n")] == expected_lines(text, max_line)


def test_a_line_longer_than_max_line_is_cut_and_the_next_kept(monkeypatch_chunks):
    monkeypatch_chunks(7, 20)
    text = "x" * 100 + "\r\nnext\r\n"
    blocks = list(trace_input.read_blocks(io.BytesIO(text.encode("latin-1"))))
    assert "\n".join(blocks).split("\n") == ["x" * 20, "next"]


def test_a_call_longer_than_max_line_reads_as_one_whose_string_s_cut(monkeypatch_chunks):
    """A send of 17 MB at -s 20000000 is a 68 MB line (a helper's MariaDB
    client inserting a blob): cut at MAX_LINE, it failed to parse, and the
    connection's later bytes came 17 MB early.  Its head's whole escapes
    and the end of the line after its string are kept, as strace prints a
    string -s cut: the call's length is known, the bytes kept are there."""
    monkeypatch_chunks(7, 200)
    call = ('1 1795659000.000001 sendto(5<TCP:[127.0.0.1:1->127.0.0.1:2]>, "%s", 100, 0, '
            'NULL, 0) = 100 <0.000010>')
    text = call % ("\\x41" * 100) + "\nnext\n"
    blocks = list(trace_input.read_blocks(io.BytesIO(text.encode("latin-1"))))
    lines = "\n".join(blocks).split("\n")
    head = call[:call.index('"') + 1]
    kept = (200 - len(head)) // 4
    assert lines == [head + "\\x41" * kept + '"..., 100, 0, NULL, 0) = 100 <0.000010>',
                     "next"]
    assert kept == 34
    parser = StraceParser(date=datetime.date(2026, 11, 26))
    assert parser.parse(lines[0]) == []  # held for a hex dump (-e write=) that may follow
    event, = parser.held_events()
    assert (event["payload"], event["length"]) == (b"A" * 34, 100)


def test_merged_files_come_in_blocks_the_size_of_a_read(tmp_path):
    """-r A B of a bulk transfer's traces (lines of 256 KB): blocks of 4096
    lines held 1 GB each (a sweep: 1.5 GB peak RSS); a block ends once it
    holds CHUNK_SIZE characters, the lines all there in time order."""
    payload = "\\x41" * 50000
    for name, pid, start in (("trace.1", 1, 0), ("trace.2", 2, 1)):
        (tmp_path / name).write_text("".join(
            '%d 1795659000.%06d write(3<TCP:[1]>, "%s", 50000) = 50000\n'
            % (pid, start + 2 * index, payload) for index in range(40)))
    trace = trace_input.open_trace([str(tmp_path / "trace.1"), str(tmp_path / "trace.2")],
                                   datetime.date(2026, 11, 26))
    blocks = list(trace.blocks())
    line_size = len(payload) + 60
    assert max(len(block) for block in blocks) < trace_input.CHUNK_SIZE + line_size
    lines = [line for block in blocks for line in block.split("\n")]
    assert [line.split()[0] for line in lines] == ["1", "2"] * 40


def test_more_ff_files_than_the_soft_limit_on_open_files(tmp_path):
    """strace -ff of a thread pool: a file per thread, more than the soft
    limit lets a process open (it was "Too many open files", no pcap)."""
    files = 200
    for pid in range(1000, 1000 + files):
        (tmp_path / ("trace.%d" % pid)).write_text(
            '1795659000.%06d sendto(3<UDP:[127.0.0.1:%d->127.0.0.1:53]>, "\\x41", 1, 0, '
            'NULL, 0) = 1 <0.000010>\n' % (pid, pid))

    def low_limit():
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))

    result = subprocess.run(
        [sys.executable, str(support.CONVERTER), str(tmp_path / "out.pcap"), "-r",
         *sorted(str(path) for path in tmp_path.glob("trace.*"))],
        capture_output=True, timeout=120, preexec_fn=low_limit)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stderr.decode().startswith("py-strace2pcap: %d lines, %d socket events, %d "
                                             "packets" % (files, files, files))

"""The reader hands the converter blocks of whole lines, one per read: the
lines must be exactly the input's, whatever the read sizes, CR LF line ends
and lines longer than a read (cut at MAX_LINE) included."""

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trace_input

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

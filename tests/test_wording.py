"""The summary's counts with their words in the singular or the plural."""

import pytest

from wording import worded


@pytest.mark.parametrize("count, said", [
    (1, "1 connect() call was closed: its SYN alone"),
    (0, "0 connect() calls were closed: their SYN alone"),
    (3, "3 connect() calls were closed: their SYN alone")])
def test_markers_follow_the_count(count, said):
    assert worded("%d connect() call[s] [was|were] closed: [its|their] SYN alone",
                  count) == said


def test_each_marker_follows_the_count_before_it():
    """The bytes' count words "byte", the calls' "calls"; a %s between
    them leaves the count as it was."""
    text = "%d call[s] (%s) moved %d byte[s] for [it|them]"
    assert worded(text, 2, "x[s]", 1) == "2 calls (x[s]) moved 1 byte for it"
    assert worded(text, 1, "y", 5) == "1 call (y) moved 5 bytes for them"


def test_an_empty_alternative_and_other_conversions():
    assert worded("%s %d SYN[| each], %.1f s", "a", 1, 0.25) == "a 1 SYN, 0.2 s"
    assert worded("%s %d SYN[| each], %.1f s", "a", 2, 0.25) == "a 2 SYN each, 0.2 s"

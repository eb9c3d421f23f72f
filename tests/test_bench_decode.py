"""The fast -xx string decoding (codecs.escape_decode, bench issue) gives the
bytes bytes.fromhex gives, and leaves everything that is not pure 4-character
escapes to the general path."""

import random

import pytest

from strace_values import decode_string


def xx(data):
    """``data`` as strace -xx prints it."""
    return "".join("\\x%02x" % byte for byte in data)


def test_every_byte_value_and_length_decodes_as_fromhex():
    rng = random.Random(10)
    for length in (1, 2, 3, 255, 4096, 65536):
        data = bytes(range(256)) if length == 255 else rng.randbytes(length)
        text = xx(data)
        assert decode_string(text) == bytes.fromhex(text.replace("\\x", "")) == data


@pytest.mark.parametrize("text, expected", [
    ("\\x41\\101", b"AA"),                 # octal, as strace's default escaping prints it
    ("\\x41ab", b"Aab"),                   # -x: printable characters stay plain
    ("\\x41xx44", b"Axx44"),               # plain x and hex digits are not escapes
    ("\\x41\\n\\x42", b"A\nB"),
    ("\\x41\\\\x42", b"A\\x42"),           # an escaped backslash before x42
    ("\\x00\\xff\\x0A", b"\x00\xff\x0a"),  # upper-case hex digits too
    # Latin-1 characters of the line (bytes past 0x7f): one byte each, although
    # the fast path hands escape_decode the str, which it reads as UTF-8.
    ("\\x41\xe9\\x42\xff", b"A\xe9B\xff"),
    ("\\x41\xc3\xa9", b"A\xc3\xa9"),
])
def test_mixed_escapes_decode_exactly(text, expected):
    assert decode_string(text) == expected


# "\\q" makes escape_decode warn (DeprecationWarning, silent by default) before
# the general path rejects the string; strace never prints it.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("text", ["\\x4", "\\xZZ", "\\x41\\q"])
def test_broken_escapes_are_errors_not_guesses(text):
    with pytest.raises(ValueError):
        decode_string(text)

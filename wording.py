"""The summary's words for a count: one call, two calls.

``worded("%d call[s] [was|were] refused", n)`` formats its text with the
values, after reading each ``[s]`` and ``[one|many]`` after a ``%d`` by
that count: "1 call was refused", "2 calls were refused".  A marker
belongs to the nearest ``%d`` before it, so a sentence that counts two
things words each by its own.
"""

import re

# A printf conversion of the % operator (the values pair with them in order).
CONVERSION = re.compile(r"%[-+ #0-9.]*[a-zA-Z%]")
# "[s]", or "[one|many]" (either may be empty).
MARKER = re.compile(r"\[s\]|\[([^][|]*)\|([^][]*)\]")


def worded(text, *values):
    """``text % values``, each marker of ``text`` read by the count of the
    "%d" before it (see the module docstring)."""
    pieces = CONVERSION.split(text)
    count = None
    parts = [pieces[0]]
    for conversion, value, piece in zip(CONVERSION.findall(text), values, pieces[1:]):
        if conversion.endswith("d"):
            count = value
        parts += [conversion, MARKER.sub(lambda marker: _word(marker, count), piece)]
    return "".join(parts) % values


def _word(marker, count):
    """What ``marker`` (a MARKER match) reads as for ``count`` things."""
    one, many = marker.groups() if marker.group(1) is not None else ("", "s")
    return one if count == 1 else many

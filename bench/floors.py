#!/usr/bin/env python3
"""The two floors the converter is measured against.

    python3 bench/floors.py read TRACE   # a Python loop that only reads the lines
    python3 bench/floors.py hex TRACE    # ... and bytes.fromhex-decodes every string

``read`` iterates the file's lines as ``str`` (Latin-1, as the converter
reads them): no Python program that looks at every line can be faster.
``hex`` also decodes every ``"\\xHH..."`` string literal of every line (payloads, and
file paths and file contents in the noise lines) with ``bytes.fromhex``,
the least a converter must do to get the payload bytes.  Each prints the
number of lines and of decoded bytes.
"""

import sys


def read_floor(path):
    """Lines of ``path``, read and otherwise ignored."""
    lines = 0
    with open(path, encoding="latin-1") as trace:
        for _line in trace:
            lines += 1
    return lines, 0


def hex_floor(path):
    """Lines of ``path`` and the bytes of all its hex strings, decoded."""
    lines = 0
    decoded = 0
    with open(path, encoding="latin-1") as trace:
        for line in trace:
            lines += 1
            start = line.find('"\\x')
            while start >= 0:
                end = line.find('"', start + 1)
                decoded += len(bytes.fromhex(line[start + 1:end].replace("\\x", "")))
                start = line.find('"\\x', end + 1)
    return lines, decoded


FLOORS = {"read": read_floor, "hex": hex_floor}

if __name__ == "__main__":
    print(*FLOORS[sys.argv[1]](sys.argv[2]))

#!/usr/bin/env python3
"""Turn ``strace -xx`` output back into strace's default, human-readable form.

Input: strace output recorded with ``-xx`` (any other options), from the files
named on the command line or standard input.  Output: the same lines, with

* every all-hex quoted string (``"\\x47\\x45\\x54\\x0a"``) printed the way
  strace prints it without ``-x`` (``"GET\\n"``): printable ASCII as is;
  ``\\t \\n \\v \\f \\r \\" \\\\``; any other byte in octal, in the shortest
  form unless the next byte is an octal digit (then three digits, so
  ``"\\0001"`` stays unambiguous); a ``"..."...`` truncation mark is kept;
* every hex fd path annotation (``3<\\x2f\\x65\\x74\\x63...>``,
  ``AT_FDCWD<\\x2f...>``) decoded the same way, without quotes and with
  ``<`` and ``>`` also in octal, as strace does inside ``<...>``;
* buffers strace prints in hex even without ``-x`` (``getrandom``) kept in hex;
* everything else (socket annotations, numbers, structures, lines that are
  not syscalls) unchanged.

Lines are processed one at a time (the tool streams) and never rejected: a
line with nothing to decode passes through as it is.  Bytes that are not
valid UTF-8 pass through untouched.

Example::

    $ xx2generic.py trace.txt
    4339  1795659629.280002 openat(AT_FDCWD</work/main/example>, "/etc/ld.so.cache", ...
"""

import argparse
import os
import re
import sys

# A string strace printed with -xx: nothing but \xHH escapes between quotes.
HEX_STRING = re.compile(r'"((?:\\x[0-9a-fA-F]{2})+)"')
# A -yy fd path: a run of \xHH right after "<", ended by ">" or by the "<"
# of a device annotation (1</dev/null<char 1:3>>).
HEX_FD_PATH = re.compile(r'<((?:\\x[0-9a-fA-F]{2})+)(?=[<>])')

# Calls whose buffers strace prints in hex even without -x.
FORCED_HEX_CALL = re.compile(r"(?:^|[\s\]])(?:getrandom\(|<\.\.\. getrandom resumed>)")
# The blanks between a call's ")" and "= retval"; never inside a -xx string.
RETURN_SEPARATOR = re.compile(r"\)( +)=(?= |$)")
DEFAULT_ALIGN_COLUMN = 40

NAMED_ESCAPES = {0x09: "\\t", 0x0a: "\\n", 0x0b: "\\v", 0x0c: "\\f", 0x0d: "\\r",
                 0x22: '\\"', 0x5c: "\\\\"}


class StraceQuoter:
    """strace's ``string_quote()`` for one set of extra octal-escaped characters.

    ``quote(text)`` takes the bytes as a latin-1 ``str`` (one char per byte)
    and returns the escaped text, built with ``str.translate`` (no per-byte
    Python loop); only an octal escape followed by an octal digit takes the
    slower three-digit path.
    """

    def __init__(self, extra_octal=""):
        octal_bytes = [byte for byte in range(256)
                       if byte not in NAMED_ESCAPES
                       and (byte < 0x20 or byte >= 0x7f or chr(byte) in extra_octal)]
        # A list indexed by code point: str.translate reads it faster than a dict.
        self.short_forms = [chr(byte) for byte in range(256)]
        for byte in octal_bytes:
            self.short_forms[byte] = "\\%o" % byte
        for byte, escape in NAMED_ESCAPES.items():
            self.short_forms[byte] = escape
        self.long_forms = {chr(byte): "\\%03o" % byte for byte in octal_bytes}
        octal_class = "".join("\\x%02x" % byte for byte in octal_bytes)
        # Capturing group: split() returns the bytes needing the long form at odd indices.
        self.before_octal_digit = re.compile("([%s])(?=[0-7])" % octal_class)

    def quote(self, text):
        """Escape ``text`` (latin-1 str of raw bytes) as strace prints it, without quotes."""
        parts = self.before_octal_digit.split(text)
        parts[0::2] = [part.translate(self.short_forms) for part in parts[0::2]]
        parts[1::2] = [self.long_forms[char] for char in parts[1::2]]
        return "".join(parts)


STRING_QUOTER = StraceQuoter()
FD_PATH_QUOTER = StraceQuoter(extra_octal="<>")


def decode_hex(escaped):
    """``\\x41\\x42`` (str) -> ``AB`` (latin-1 str, one char per byte)."""
    return bytes.fromhex(escaped.replace("\\x", "")).decode("latin-1")


def decode_strings(text):
    """Decode the hex strings and hex fd paths in ``text`` (part of a line)."""
    text = HEX_STRING.sub(lambda match: '"%s"' % STRING_QUOTER.quote(decode_hex(match[1])), text)
    return HEX_FD_PATH.sub(lambda match: "<" + FD_PATH_QUOTER.quote(decode_hex(match[1])), text)


def convert_line(line):
    """One ``-xx`` strace line (str) -> the same line in strace's default escaping.

    strace pads a short call with blanks so that ``= retval`` starts in column
    40 (``-a``); the decoded call is shorter than the hex one, so the padding
    is recomputed for the column the input used (40 when it cannot tell).
    """
    if "\\x" not in line or ("getrandom" in line and FORCED_HEX_CALL.search(line)):
        return line
    separator = RETURN_SEPARATOR.search(line)
    if separator is None:
        return decode_strings(line)
    head, padding, tail = line[:separator.start() + 1], separator[1], line[separator.end() - 1:]
    column = len(head) + len(padding) if len(padding) > 1 else DEFAULT_ALIGN_COLUMN
    head = decode_strings(head)
    return head + " " * max(1, column - len(head)) + decode_strings(tail)


def convert_stream(source, sink):
    """Copy binary ``source`` lines to binary ``sink``, converted."""
    for raw in source:
        # latin-1 maps every byte to one char and back, so nothing is lost.
        sink.write(convert_line(raw.decode("latin-1")).encode("latin-1"))


def main(argv=None):
    """Command line: convert each FILE (or standard input) to standard output."""
    parser = argparse.ArgumentParser(
        description="Convert strace -xx output to strace's default string escaping.")
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help="strace output to convert ('-' or none: standard input)")
    arguments = parser.parse_args(argv)
    sink = sys.stdout.buffer
    try:
        for name in arguments.files or ["-"]:
            if name == "-":
                convert_stream(sys.stdin.buffer, sink)
                continue
            try:
                source = open(name, "rb")
            except OSError as error:
                sys.stderr.write("xx2generic: %s\n" % error)
                return 2
            with source:
                convert_stream(source, sink)
        sink.flush()
    except BrokenPipeError:
        # The reader (head, less) went away: stop quietly, as cat does, and keep
        # the interpreter's final flush from raising again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""strace's printed values -> Python values.

The pieces of a syscall line that are not the syscall itself: string
literals (``-xx``, ``-x`` or C escapes, cut by ``-s``), iovecs, IPv4/IPv6
sockaddrs (also as ``-X raw``/``-X verbose`` print them), AF_UNIX paths, the
``-y``/``-yy`` fd annotations, execve's program name and the time column.
Each function takes the text as strace printed it and returns plain
Python values (bytes, str, int, tuples), or None / ValueError where the
text is not what it reads.
"""

import codecs
import re
import socket
from datetime import datetime, time as dtime, timedelta


# A clock time (-t, -tt) or a number of seconds (-ttt, -r, precision:ns).
CLOCK_TIME = re.compile(r"(\d\d):(\d\d):(\d\d(?:\.\d+)?)$")
# -r prints the seconds since the previous line; -ttt since the epoch.  Any
# epoch time is past 1973, any sensible -r gap is shorter.
RELATIVE_LIMIT = 1e8
# -y's socket:[inode], or -yy's of a unix socket (UNIX:[inode], UNIX:[inode,"path"]).
SOCKET_INODE = re.compile(r"(?:socket:\[(\d+)\]|UNIX(?:-STREAM|-DGRAM)?:\[(\d+)[],-])")
SOCKET_INODE_PREFIXES = ("socket:[", "".join("\\x%02x" % byte for byte in b"socket:["))

INET4_ENDPOINT = r"(?P<{0}_ip>[0-9.]+):(?P<{0}_port>\d+)"
INET6_ENDPOINT = r"\[(?P<{0}_ip>[0-9a-fA-F:.]+)\]:(?P<{0}_port>\d+)"
INET_DETAILS = {
    4: re.compile(INET4_ENDPOINT.format("local") + r"(?:->" + INET4_ENDPOINT.format("remote") + ")?$"),
    6: re.compile(INET6_ENDPOINT.format("local") + r"(?:->" + INET6_ENDPOINT.format("remote") + ")?$"),
}
# An abstract name is printed with its ``@`` before the quotes: ``[9177,@"..."]``.
UNIX_DETAILS = re.compile(r'(?P<inode>\d+)(?:->(?P<peer>\d+))?(?:,(?P<abstract>@?)"(?P<path>.*)")?$')

# A sockaddr as strace prints it, IPv4 or IPv6 (the address string is hex
# escaped under -xx); with -X raw or -X verbose, port and address are the
# struct's bytes in a string (verbose adds a comment after each).
SOCKADDR = re.compile(r"""
    sin_port=htons\((?P<port4>\d+)\),\ sin_addr=inet_addr\("(?P<ip4>[^"]*)"\)
  | sin6_port=htons\((?P<port6>\d+)\),.*?inet_pton\(AF_INET6,\ "(?P<ip6>[^"]*)"
  | sin_port="(?P<raw_port4>[^"]*)"[^,]*,\ sin_addr="(?P<raw_ip4>[^"]*)"
  | sin6_port="(?P<raw_port6>[^"]*)".*?sin6_addr="(?P<raw_ip6>[^"]*)"
""", re.VERBOSE)

# A string literal's inside made only of the escapes strace prints.
# One way only to read each escape (an octal one takes all the digits it
# can, up to 3): "[0-7]{1,3}" let a failing match of a mangled line try
# every split of "\\123" and run for minutes.
STRACE_ESCAPES = re.compile(r'(?:[^\\]|\\(?:x[0-9a-fA-F]{2}|[0-7]{3}|[0-7]{1,2}(?![0-7])|[nrtvf"\\]))*',
                            re.DOTALL)
UNIX_PATH = re.compile(r'sun_path=(@?)"([^"]*)"')
# What follows an iovec piece's string.
IOV_LEN = re.compile(r', iov_len=(\d+)')


def decode_string(text):
    """Decode the inside of a strace string literal (no quotes) to bytes.

    Handles -xx (every byte ``\\xHH``), -x and strace's default C escapes.
    """
    if text.startswith("\\x"):
        try:
            # C escapes decoded in C: 6x faster than replace("\\x", "") and
            # bytes.fromhex (measured: 0.3 vs 2 ms for a 64 KiB payload).
            # The str itself (UTF-8 to escape_decode), not a Latin-1 copy: a
            # character past 0x7f becomes two bytes and fails the check below.
            decoded = codecs.escape_decode(text)[0]
            # Exact only if every character was part of a 4-character escape
            # (\xHH, or an octal \ooo): anything else gives more than one
            # byte per four characters.
            if 4 * len(decoded) == len(text):
                return decoded
        except (ValueError, DeprecationWarning):  # a bad \x; an unknown escape under -W error
            pass
    if "\\" not in text:
        return text.encode("latin-1")
    if STRACE_ESCAPES.fullmatch(text) is None:
        # Not strace's output (a mangled line); escape_decode would warn.
        raise ValueError("invalid escape in string")
    return codecs.escape_decode(text.encode("latin-1"))[0]


def string_end(text, start):
    """Index of the quote closing the string whose first character is at
    ``start`` (just after its opening quote), or -1 if the line ends first."""
    position = start
    while True:
        quote = text.find('"', position)
        if quote < 0:
            return -1
        backslashes = 0
        while text[quote - 1 - backslashes] == "\\":
            backslashes += 1
        if backslashes % 2 == 0:
            return quote
        position = quote + 1


def read_string(text, start):
    """Read the string literal whose opening quote is at ``start``.

    Returns ``(payload, was_cut, index after the literal)``; ``was_cut`` is
    True when strace printed ``"..."...`` (its -s limit).  Raises ValueError
    when the string never closes.
    """
    end = string_end(text, start + 1)
    if end < 0:
        raise ValueError("unterminated string")
    payload = decode_string(text[start + 1:end])
    if text.startswith("...", end + 1):
        return payload, True, end + 4
    return payload, False, end + 1


def iovec_payload(text, start=0, stop=None):
    """Concatenate the ``iov_base="..."`` strings of ``text[start:stop]``
    up to the first one strace cut (-s): the bytes after a cut piece belong
    further on than its printed part ends.  Returns the bytes."""
    stop = len(text) if stop is None else stop
    pieces = []
    position = start
    while True:
        base = text.find('iov_base="', position, stop)
        if base < 0:
            break
        piece, cut, position = read_string(text, base + 9)
        pieces.append(piece)
        if cut:
            break
    return b"".join(pieces)


def written_pieces(text, length, start=0):
    """``[(printed bytes, size)]`` of each ``iov_base="...", iov_len=N``
    piece of a write of ``length`` bytes (a writev's, a sendmsg's) in
    ``text[start:]``, each piece's size clipped to what the write moved;
    None if some piece shows no iov_len.  strace cuts each piece on its
    own (-s): a piece after a cut one is printed, at its own place."""
    pieces = []
    position = start
    left = length
    while left > 0:
        base = text.find('iov_base="', position)
        if base < 0:
            break
        data, _cut, position = read_string(text, base + 9)
        size = IOV_LEN.match(text, position)
        if size is None:
            return None
        size = min(int(size.group(1)), left)
        pieces.append((data[:size], size))
        left -= size
    return pieces


def parse_sockaddr(text, start=0, stop=None):
    """The first IPv4/IPv6 sockaddr in ``text[start:stop]`` as (ip, port), or None."""
    match = SOCKADDR.search(text, start, len(text) if stop is None else stop)
    if match is None:
        return None
    if match.group("port4") is not None:
        return decode_string(match.group("ip4")).decode("latin-1"), int(match.group("port4"))
    if match.group("port6") is not None:
        return decode_string(match.group("ip6")).decode("latin-1"), int(match.group("port6"))
    if match.group("raw_port4") is not None:
        return _raw_endpoint(socket.AF_INET, match.group("raw_ip4"), match.group("raw_port4"))
    return _raw_endpoint(socket.AF_INET6, match.group("raw_ip6"), match.group("raw_port6"))


def _raw_endpoint(family, address, port):
    """(ip, port) of a sockaddr's address and port bytes as -X raw prints
    them (network order); None if they are not 4/16 and 2 bytes."""
    address, port = decode_string(address), decode_string(port)
    if len(port) != 2 or len(address) != (4 if family == socket.AF_INET else 16):
        return None
    return socket.inet_ntop(family, address), int.from_bytes(port, "big")


def parse_unix_path(text, start=0, stop=None):
    """The first AF_UNIX ``sun_path`` in ``text[start:stop]``, decoded
    (abstract names as ``@name``), or None."""
    match = UNIX_PATH.search(text, start, len(text) if stop is None or stop < 0 else stop)
    if match is None:
        return None
    return match.group(1) + decode_string(match.group(2)).decode("latin-1")


def fd_annotation(text, argument):
    """What -y prints in ``<...>`` after the fd ``argument`` (a FD_ARGUMENT
    match in ``text``), or "" for a bare fd."""
    return text[argument.start("fd"):argument.end()].partition("<")[2][:-1]


def socket_inode(text, argument):
    """The inode of -y's ``socket:[inode]`` annotation (hex escaped under
    -xx), or of -yy's of a unix socket, of the fd ``argument`` (a
    FD_ARGUMENT match in ``text``); None if it shows none."""
    annotation = fd_annotation(text, argument)
    if annotation.startswith("\\x"):
        annotation = decode_string(annotation).decode("latin-1")
    inode = SOCKET_INODE.match(annotation)
    return int(inode.group(1) or inode.group(2)) if inode else None


def is_socket_annotation(args, argument):
    """True if the fd ``argument`` (a FD_ARGUMENT match in ``args``) may be a
    socket: a bare fd, or -y's ``socket:[inode]`` (hex escaped under -xx);
    a path annotation says it is a file."""
    annotation = fd_annotation(args, argument)
    return not annotation or annotation.startswith(SOCKET_INODE_PREFIXES)


def midnight_of(date):
    """Epoch seconds of 00:00 local time on ``date`` (a ``datetime.date``)."""
    return datetime.combine(date, dtime()).timestamp()


class Clock:
    """Turns the time column of successive lines into epoch seconds.

    ``-ttt`` and nanosecond times are epoch seconds already; ``-tt``/``-t``
    clock times are strace's local time, placed on ``date`` in this
    process's time zone (``TZ``), and move to the next day when the clock
    goes back more than 12 hours (a trace running over midnight); ``-r``
    gaps are summed from midnight of ``date``, every line's (``advance``).
    ``used_clock``, ``used_relative`` and ``whole_seconds`` (-t) tell what
    the trace showed; ``first_clock`` is the epoch of its first clock time.
    """

    def __init__(self, date):
        self.date = date
        self.midnight = midnight_of(date)
        self.relative = None
        self.elapsed = 0.0
        self.day = 0
        self.last_clock = None
        self.hours = {}  # (day, hour) -> epoch seconds of its start: DST-proof
        self.first_clock = None
        self.used_clock = self.used_relative = self.whole_seconds = False

    def advance(self, text):
        """Feed the time column of any line (None if it has none); needed for -r."""
        if text is None:
            return
        if self.relative is None:
            self.relative = ":" not in text and float(text) < RELATIVE_LIMIT
        if self.relative:
            self.elapsed += float(text)

    def seconds(self, text):
        """Epoch seconds for the time column ``text`` of the line last advanced
        over; raises ValueError on a malformed time."""
        if ":" in text:
            return self._clock_seconds(text)
        if self.relative:
            self.used_relative = True
            return self.midnight + self.elapsed
        return float(text)

    def _clock_seconds(self, text):
        clock = CLOCK_TIME.match(text)
        if clock is None:
            raise ValueError("bad clock time")
        hour, minute, second = int(clock.group(1)), int(clock.group(2)), float(clock.group(3))
        value = hour * 3600 + minute * 60 + second
        if self.last_clock is not None and value < self.last_clock - 43200:
            self.day += 1
        self.last_clock = value
        start = self.hours.get((self.day, hour))
        if start is None:
            start = datetime.combine(self.date + timedelta(days=self.day), dtime(hour)).timestamp()
            self.hours[(self.day, hour)] = start
        if not self.used_clock:
            self.used_clock = True
            self.first_clock = start + minute * 60 + second
            self.whole_seconds = "." not in clock.group(3)
        return start + minute * 60 + second


def annotation_fields(protocol, details):
    """The (local, remote, inode, peer_inode, path) a -yy annotation's
    ``protocol`` and ``details`` (the text inside ``[...]``) show; None for
    what it does not.  Raises ValueError on details it cannot read."""
    if protocol.startswith("UNIX"):
        unix = UNIX_DETAILS.match(details)
        if unix is None:
            raise ValueError("unix socket annotation")
        peer = unix.group("peer")
        path = unix.group("path")
        if path is not None:
            path = unix.group("abstract") + decode_string(path).decode("latin-1")
        return None, None, int(unix.group("inode")), int(peer) if peer else None, path
    if details.isdigit():
        return None, None, int(details), None, None
    inet = INET_DETAILS[6 if protocol.endswith("v6") else 4].match(details)
    if inet is None:
        raise ValueError("inet socket annotation")
    local = (inet.group("local_ip"), int(inet.group("local_port")))
    remote = None
    if inet.group("remote_ip"):
        remote = (inet.group("remote_ip"), int(inet.group("remote_port")))
    return local, remote, None, None, None


def program_name(args):
    """The basename of argv[0] in execve's (or execveat's) arguments ``args``,
    or of the program's path when argv is empty."""
    path, _cut, after = read_string(args, args.index('"'))
    if args.startswith(', ["', after):
        path = read_string(args, after + 3)[0] or path
    name = path.rstrip(b"/").rsplit(b"/", 1)[-1]
    return name.decode("utf-8", "backslashreplace")


def process_name(text):
    """The process name -Y printed (``curl``, or ``\\x63\\x75\\x72\\x6c`` under
    -xx) as text; None stays None."""
    if text is None or "\\" not in text:
        return text
    try:
        return decode_string(text).decode("utf-8", "backslashreplace")
    except ValueError:  # not strace's escapes: as printed
        return text

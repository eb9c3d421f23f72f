"""Which fds are sockets, for traces without ``-yy`` socket annotations.

Under ``-y`` strace shows a socket fd as ``3<socket:[56888]>``, without
``-y`` as a bare ``3``: the protocol and addresses are not on the data lines.
``SocketTable`` learns them from the lines that create and name sockets, as
the parser reads them: socket() and socketpair() (family and type), bind()
and getsockname() (the local address), connect() (the peer), accept()
(the listening socket's protocol and address, the peer from its sockaddr),
dup()s (another fd for the socket), close() (forgets the fd).  Under -y a
fd the table does not know is found by the socket inode it shows.

fds belong to a process, not to a thread: ``clone`` with ``CLONE_FILES``
(threads) makes the child share its parent's table, fork/vfork/clone without
it give the child a copy, as the kernel does.  Entries are keyed by the owner
of the table, so a socket created by one thread is known to all.
"""

import re
from dataclasses import dataclass

# socket(2) family and type as strace prints them -> the -yy protocol name
# (strace 6.1 shows an AF_UNIX datagram socket as ``UNIX``).
PROTOCOLS = {
    ("AF_INET", "SOCK_STREAM"): "TCP", ("AF_INET", "SOCK_DGRAM"): "UDP",
    ("AF_INET6", "SOCK_STREAM"): "TCPv6", ("AF_INET6", "SOCK_DGRAM"): "UDPv6",
    ("AF_UNIX", "SOCK_STREAM"): "UNIX-STREAM", ("AF_UNIX", "SOCK_DGRAM"): "UNIX",
    ("AF_LOCAL", "SOCK_STREAM"): "UNIX-STREAM", ("AF_LOCAL", "SOCK_DGRAM"): "UNIX",
}
# -X raw's numbers for them (Linux's), and the bits of the type that are its kind.
RAW_FAMILIES = {1: "AF_UNIX", 2: "AF_INET", 10: "AF_INET6"}
RAW_KINDS = {1: "SOCK_STREAM", 2: "SOCK_DGRAM"}
SOCK_TYPE_MASK = 0xf
RAW_SOCKET_ARGS = re.compile(r"0x([0-9a-f]+),\s*0x([0-9a-f]+)")
# A process with more sockets than this forgets the oldest (a bound on memory
# for traces that never show the close).
SOCKETS_KEPT = 65536


@dataclass
class SocketInfo:
    """What the trace showed of one socket fd."""
    protocol: str
    local: tuple = None
    remote: tuple = None
    path: str = None
    connected: bool = False
    # The socket's inode under -y, else a number of its own below 0: what
    # tells it from the others (the unix packetizer keys its flows on it).
    ident: int = None
    # (local, remote) made up for it where the trace shows neither (see
    # made_up_endpoints), once made.
    placeholder: tuple = None

    def made_up_endpoints(self, pid, fd, session):
        """This socket's made-up (local, remote) (see placeholder_endpoints),
        made from the first thread and fd that needed them: a dup'd fd or
        another thread on the same socket gets the same (git's sideband
        thread read its pack under -y on a flow of its own)."""
        if self.placeholder is None:
            self.placeholder = placeholder_endpoints(pid, fd, session,
                                                     self.protocol.endswith("v6"))
        return self.placeholder


def socket_protocol(args):
    """The -yy protocol name of socket()'s arguments text, or None (raw,
    netlink, ... sockets are not converted).  Under -X raw the family and
    type are numbers: ``0x2, 0x1|0x80800, 0x6``."""
    raw = RAW_SOCKET_ARGS.match(args) if "AF_" not in args else None
    if raw is not None:
        return PROTOCOLS.get((RAW_FAMILIES.get(int(raw.group(1), 16)),
                              RAW_KINDS.get(int(raw.group(2), 16) & SOCK_TYPE_MASK)))
    family = "AF_INET6" if "AF_INET6" in args else next(
        (name for name in ("AF_INET", "AF_UNIX", "AF_LOCAL") if name in args), None)
    kind = next((name for name in ("SOCK_STREAM", "SOCK_DGRAM") if name in args), None)
    return PROTOCOLS.get((family, kind))


class SocketTable:
    """Socket fds per process fd table; see the module docstring."""

    def __init__(self):
        self._owner = {}
        self._tables = {}
        # -y shows a socket fd's inode (``9<socket:[895609]>``): a dup, an
        # inherited or a passed fd is the same socket under another number.
        self._inodes = {}
        self._made_up = 0  # the last ident made up for a socket -y did not show

    def _table(self, pid):
        owner = self._owner.get(pid, pid)
        table = self._tables.get(owner)
        if table is None:
            table = self._tables[owner] = {}
        return table

    def any(self):
        """True once any socket was seen (else no fd needs a lookup)."""
        return bool(self._tables)

    def lookup(self, pid, fd, inode=None):
        """The ``SocketInfo`` of ``fd`` in ``pid``'s process, or None;
        ``inode``: the socket's, when the line shows it (-y)."""
        table = self._tables.get(self._owner.get(pid, pid))
        info = table.get(fd) if table else None
        if info is None and inode in self._inodes:
            info = self._adopt(pid, fd, self._inodes[inode])
        return info

    def path_of(self, inode):
        """The path the unix socket of ``inode`` (shown by -y) was bound to, or None."""
        info = self._inodes.get(inode)
        return info.path if info is not None else None

    def opened(self, pid, fd, protocol, inode=None):
        """socket() returned ``fd`` (whose inode -y shows); a new socket of
        ``protocol``."""
        ident = inode
        if ident is None:
            self._made_up -= 1
            ident = self._made_up
        info = self._adopt(pid, fd, SocketInfo(protocol, ident=ident))
        if inode is not None:
            if len(self._inodes) >= SOCKETS_KEPT:
                self._inodes.clear()
            self._inodes[inode] = info
        return info

    def duplicated(self, pid, fd, copy):
        """dup/dup2/dup3/fcntl(F_DUPFD) made ``copy`` of ``fd``."""
        info = self.lookup(pid, fd)
        if info is not None:
            self._adopt(pid, copy, info)

    def _adopt(self, pid, fd, info):
        """Enter ``info`` as ``fd`` in ``pid``'s table; return it."""
        table = self._table(pid)
        if len(table) >= SOCKETS_KEPT:
            del table[next(iter(table))]
        table[fd] = info
        return info

    def bound(self, pid, fd, local=None, path=None):
        """bind()/getsockname() showed the local address (or UNIX path)."""
        info = self.lookup(pid, fd)
        if local is not None and local[1] == 0:
            local = None  # bound to port 0: the kernel's pick shows nowhere
        if info is not None:
            info.local = local or info.local
            info.path = path or info.path

    def connected(self, pid, fd, remote):
        """connect() to ``remote`` succeeded (or is in progress)."""
        info = self.lookup(pid, fd)
        if info is not None:
            info.remote = remote or info.remote
            info.connected = True

    def accepted(self, pid, listening_fd, fd, remote, inodes=(None, None)):
        """accept() on ``listening_fd`` returned ``fd`` (``inodes``: theirs,
        when -y shows them) for the peer at ``remote`` ((ip, port), or None);
        None if the listening socket is unknown and ``remote`` no INET
        address (a listener opened before the trace, strace -p: a TCP one
        of the peer's family, its own address unknown until getsockname)."""
        listening = self.lookup(pid, listening_fd, inodes[0])
        if listening is None:
            if remote is None:
                return None
            listening = self.opened(pid, listening_fd, "TCPv6" if ":" in remote[0] else "TCP",
                                    inodes[0])
        info = self.opened(pid, fd, listening.protocol, inodes[1])
        info.local, info.path, info.remote, info.connected = (
            listening.local, listening.path, remote, True)
        return info

    def closed(self, pid, fd):
        """close(): the fd number is free again."""
        table = self._tables.get(self._owner.get(pid, pid))
        if table:
            table.pop(fd, None)

    def cloned(self, pid, child, shares_fds):
        """clone/fork made ``child``: it shares ``pid``'s fd table
        (CLONE_FILES) or starts with a copy of it."""
        owner = self._owner.get(pid, pid)
        if shares_fds:
            self._owner[child] = owner
            return
        self._owner.pop(child, None)
        table = self._tables.get(owner)
        if table:
            self._tables[child] = {fd: SocketInfo(**vars(info)) for fd, info in table.items()}


def placeholder_endpoints(pid, fd, session, ipv6=False):
    """Stand-in (local, remote) endpoints for a socket whose addresses the
    trace does not show: 192.0.2.0/24 (TEST-NET-1) for the process, port from
    the fd and session, and 198.51.100.1 (TEST-NET-2) for the peer; for an
    IPv6 socket 2001:db8::/64 and 2001:db8:1::1 (documentation prefixes)."""
    host, port = 1 + pid % 254, 10000 + (fd * 64 + session) % 50000
    if ipv6:
        return ("2001:db8::%x" % host, port), ("2001:db8:1::1", 9)
    return ("192.0.2.%d" % host, port), ("198.51.100.1", 9)

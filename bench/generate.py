#!/usr/bin/env python3
"""Deterministic generator of strace 6.1 text for the benchmark.

    python3 bench/generate.py WORKLOAD OUTPUT [--scale S] [--sockets-only]

writes the trace of WORKLOAD (small, bulk, noise, unix, udp; see
``WORKLOADS``) to OUTPUT and prints a JSON summary (lines, socket lines,
expected packets) on standard output.  The same arguments always give the
same bytes.  ``--scale`` multiplies the socket syscalls (and with them the
noise); ``--sockets-only`` leaves out the noise lines but writes the same
socket lines (the runner uses it to price the decoding of the socket lines
of the noise workload).

The line shapes are those of ``strace -f -s655350 -ttt -T -yy -xx`` 6.1 as
recorded here from curl, python threads and asyncio: a ``%-5d`` pid column,
hex-escaped strings and file paths, ``-yy`` socket annotations, syscalls
interrupted by other threads printed as ``<unfinished ...>`` /
``<... NAME resumed>`` pairs, failed calls (EAGAIN, ETIMEDOUT, ENOENT), and
the noise a real process makes between its socket syscalls (futex, epoll,
mmap, openat/newfstatat/read/close of files, poll and getsockopt on sockets).

Expected packets follow the README's contract: TCP gives a handshake (3),
one segment per 65 495 bytes of each syscall, FIN+ACK for the peer's EOF
(a read of 0) and for close (2 each), and nothing for the reader's copy of
bytes its traced peer already wrote; UDP one datagram per message.
"""

import argparse
import json
import random
import sys

START_TIME = 1795659689.0
MAX_SEGMENT = 65495
DEFAULT_SEED = 20261126


def escape(data):
    """``data`` as strace -xx prints it: every byte ``\\xHH``."""
    if not data:
        return ""
    return "\\x" + data.hex(":").replace(":", "\\x")


def text_escape(text):
    """A str (path, address) hex-escaped as -xx prints it."""
    return escape(text.encode())


class Pool:
    """Random bytes, escaped once, so a payload of any size costs a slice."""

    def __init__(self, rng, size, textual=False):
        if textual:
            alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789 :/-=.,{}\"\r\n"
            self.data = bytes(rng.choice(alphabet) for _ in range(size))
        else:
            self.data = rng.randbytes(size)
        self.escaped = escape(self.data) + escape(self.data)
        self.size = size

    def escaped_only(self, rng, length):
        """Just the escaped text of ``length`` pool bytes (no bytes copy)."""
        offset = rng.randrange(self.size)
        return self.escaped[4 * offset:4 * (offset + length)]


class TraceWriter:
    """Writes numbered, timestamped lines; splits calls into unfinished /
    resumed pairs the way strace does when another thread prints between."""

    def __init__(self, out, rng, sockets_only=False):
        self.out = out
        self.rng = rng
        self.sockets_only = sockets_only
        self.time = START_TIME
        self.pending = {}
        self.lines = 0
        self.socket_lines = 0
        self.buffer = []
        self.buffered = 0

    def _write(self, pid, text, noise):
        self.time += self.rng.random() * 0.00004
        if noise:
            if self.sockets_only:
                return
        else:
            self.socket_lines += 1
        self.lines += 1
        line = "%-5d %.6f %s\n" % (pid, self.time, text)
        self.buffer.append(line)
        self.buffered += len(line)
        if self.buffered >= 1 << 20:
            self.flush()

    def flush(self):
        """Write out the buffered lines."""
        self.out.write("".join(self.buffer))
        self.buffer.clear()
        self.buffered = 0

    def resume(self, pid):
        """Print the resumed half of ``pid``'s interrupted call, if any."""
        pending = self.pending.pop(pid, None)
        if pending is not None:
            name, tail, result, noise = pending
            self._write(pid, "<... %s resumed>%s) = %s <%.6f>"
                        % (name, tail, result, self.rng.random() * 0.001), noise)

    def call(self, pid, name, head, tail="", result="0", split=0.0, noise=False):
        """One syscall ``name(head + tail) = result``; with probability
        ``split`` printed as ``name(head <unfinished ...>`` now and resumed
        with ``tail`` when ``pid`` next prints."""
        self.resume(pid)
        if self.rng.random() < split:
            self._write(pid, "%s(%s <unfinished ...>" % (name, head), noise)
            self.pending[pid] = (name, tail, result, noise)
        else:
            self._write(pid, "%s(%s%s) = %s <%.6f>"
                        % (name, head, tail, result, self.rng.random() * 0.0002), noise)

    def finish(self):
        """Resume every interrupted call, write everything out."""
        for pid in sorted(self.pending):
            self.resume(pid)
        self.flush()


PATHS = ["/etc/hosts", "/etc/resolv.conf", "/etc/nsswitch.conf", "/proc/self/stat",
         "/var/lib/app/cache/index.db", "/usr/lib/python3/dist-packages/six.py",
         "/sys/fs/cgroup/cpu.max", "/var/log/app/access.log", "/tmp/upload-4f2a.bin"]


class Noise:
    """Non-network lines a busy multi-threaded process prints between its
    socket syscalls (shapes recorded from python and curl under strace 6.1)."""

    def __init__(self, writer, rng, pids, socket_annotations):
        self.writer = writer
        self.rng = rng
        self.pids = pids
        self.socket_annotations = socket_annotations
        self.text = Pool(rng, 1 << 16, textual=True)
        self.binary = Pool(rng, 1 << 16)
        self.files = ["%d<%s>" % (fd, text_escape(path)) for fd, path in
                      zip(range(20, 20 + len(PATHS)), PATHS)]
        self.cwd = "AT_FDCWD<%s>" % text_escape("/srv/app")
        self.epoll = "3<%s>" % text_escape("anon_inode:[eventpoll]")
        self.log = "2<%s>" % text_escape("/var/log/app/error.log")
        self.kinds = [self._futex_wait, self._futex_wake, self._epoll_wait, self._mmap,
                      self._munmap, self._openat, self._fstat, self._read_file, self._write_log,
                      self._close_file, self._lseek, self._poll_socket, self._getsockopt,
                      self._sigprocmask, self._epoll_ctl]
        self.weights = [14, 8, 12, 6, 4, 8, 8, 8, 6, 6, 4, 4, 3, 5, 4]

    def emit(self):
        """Write one noise line from a random thread."""
        pid = self.rng.choice(self.pids)
        self.rng.choices(self.kinds, self.weights)[0](pid)

    def address(self):
        """A random user-space address as strace prints it."""
        return "0x7f%010x" % (self.rng.getrandbits(36) << 4)

    def _futex_wait(self, pid):
        result = self.rng.choice(["0", "0", "-1 EAGAIN (Resource temporarily unavailable)",
                                  "-1 ETIMEDOUT (Connection timed out)"])
        self.writer.call(pid, "futex", "%s, FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME, 0, "
                         "NULL, FUTEX_BITSET_MATCH_ANY" % self.address(), "", result,
                         split=0.7, noise=True)

    def _futex_wake(self, pid):
        self.writer.call(pid, "futex", "%s, FUTEX_WAKE_PRIVATE, 1" % self.address(), "",
                         str(self.rng.randrange(2)), noise=True)

    def _epoll_wait(self, pid):
        fds = self.rng.sample(range(5, 60), self.rng.randrange(0, 3))
        events = ", ".join("{events=EPOLLIN, data={u32=%d, u64=%d}}" % (fd, fd) for fd in fds)
        self.writer.call(pid, "epoll_wait", "%s, " % self.epoll, "[%s], 1024, 1000" % events,
                         str(len(fds)), split=0.5, noise=True)

    def _epoll_ctl(self, pid):
        socket = self.rng.choice(self.socket_annotations)
        self.writer.call(pid, "epoll_ctl", "%s, EPOLL_CTL_MOD, %s, {events=EPOLLIN|EPOLLOUT, "
                         "data={u32=9, u64=139912854634503}}" % (self.epoll, socket), noise=True)

    def _mmap(self, pid):
        self.writer.call(pid, "mmap", "NULL, %d, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS"
                         ", -1, 0" % (4096 << self.rng.randrange(8)), "", self.address(),
                         noise=True)

    def _munmap(self, pid):
        self.writer.call(pid, "munmap", "%s, %d" % (self.address(), 4096 << self.rng.randrange(8)),
                         noise=True)

    def _openat(self, pid):
        index = self.rng.randrange(len(PATHS))
        if self.rng.random() < 0.2:
            result = "-1 ENOENT (No such file or directory)"
        else:
            result = self.files[index]
        self.writer.call(pid, "openat", '%s, "%s", O_RDONLY|O_CLOEXEC'
                         % (self.cwd, text_escape(PATHS[index])), "", result, noise=True)

    def _fstat(self, pid):
        self.writer.call(pid, "newfstatat", '%s, "", {st_mode=S_IFREG|0644, st_size=%d, ...}, '
                         'AT_EMPTY_PATH' % (self.rng.choice(self.files), self.rng.randrange(1 << 20)),
                         noise=True)

    def _read_file(self, pid):
        length = self.rng.randrange(16, 768)
        pool = self.text if self.rng.random() < 0.5 else self.binary
        self.writer.call(pid, self.rng.choice(["read", "pread64"]),
                         "%s, " % self.rng.choice(self.files),
                         '"%s", 4096' % pool.escaped_only(self.rng, length), str(length),
                         noise=True)

    def _write_log(self, pid):
        length = self.rng.randrange(40, 200)
        self.writer.call(pid, "write", '%s, "%s", %d'
                         % (self.log, self.text.escaped_only(self.rng, length), length), "",
                         str(length), noise=True)

    def _close_file(self, pid):
        self.writer.call(pid, "close", self.rng.choice(self.files), noise=True)

    def _lseek(self, pid):
        self.writer.call(pid, "lseek", "%s, 0, SEEK_CUR" % self.rng.choice(self.files), "",
                         str(self.rng.randrange(1 << 16)), noise=True)

    def _poll_socket(self, pid):
        socket = self.rng.choice(self.socket_annotations)
        fd = socket.split("<", 1)[0]
        self.writer.call(pid, "poll", "[{fd=%s, events=POLLIN}], 1, " % socket, "1000",
                         "1 ([{fd=%s, revents=POLLIN}])" % fd, split=0.3, noise=True)

    def _getsockopt(self, pid):
        self.writer.call(pid, "getsockopt", "%s, SOL_SOCKET, SO_ERROR, [0], [4]"
                         % self.rng.choice(self.socket_annotations), noise=True)

    def _sigprocmask(self, pid):
        self.writer.call(pid, "rt_sigprocmask", "SIG_BLOCK, ~[], [], 8", noise=True)


def inet_sockaddr(ip, port):
    """The sockaddr strace prints for (ip, port), and its length."""
    if ":" in ip:
        return ("{sa_family=AF_INET6, sin6_port=htons(%d), sin6_flowinfo=htonl(0), "
                'inet_pton(AF_INET6, "%s", &sin6_addr), sin6_scope_id=0}'
                % (port, text_escape(ip))), 28
    return ('{sa_family=AF_INET, sin_port=htons(%d), sin_addr=inet_addr("%s")}'
            % (port, text_escape(ip))), 16


def endpoint(ip, port):
    """(ip, port) as a -yy annotation writes it: ``[::1]:80`` or ``1.2.3.4:80``."""
    return "[%s]:%d" % (ip, port) if ":" in ip else "%s:%d" % (ip, port)


def tcp_annotation(fd, local, remote):
    """The -yy annotation of a connected TCP fd: ``5<TCP:[a:p->b:q]>``."""
    protocol = "TCPv6" if ":" in local[0] else "TCP"
    return "%d<%s:[%s->%s]>" % (fd, protocol, endpoint(*local), endpoint(*remote))


def segments(length):
    """TCP segments a syscall of ``length`` bytes becomes."""
    return -(-length // MAX_SEGMENT)


class TcpClient:
    """One connection of a traced client whose server is not traced: the
    syscalls of its life, one per ``step``; counts the packets they make."""

    def __init__(self, writer, rng, pool, pid, fd, inode, local, remote, steps, sizes):
        self.writer, self.rng, self.pool, self.pid, self.fd = writer, rng, pool, pid, fd
        self.inode, self.local, self.remote = inode, local, remote
        self.annotation = tcp_annotation(fd, local, remote)
        self.bare = "%d<%s:[%d]>" % (fd, "TCPv6" if ":" in local[0] else "TCP", inode)
        self.sizes = sizes
        self.steps_left = steps
        self.opened = False
        self.packets = 0

    def step(self):
        """Print the connection's next syscall; False once it is closed."""
        if not self.opened:
            self.opened = True
            family = "AF_INET6" if ":" in self.local[0] else "AF_INET"
            self.writer.call(self.pid, "socket", "%s, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, "
                             "IPPROTO_TCP" % family, "", self.bare)
            sockaddr, size = inet_sockaddr(*self.remote)
            self.writer.call(self.pid, "connect", "%s, %s, %d" % (self.bare, sockaddr, size), "",
                             "-1 EINPROGRESS (Operation now in progress)")
            self.packets += 3
        elif self.steps_left > 2:
            roll = self.rng.random()
            if roll < 0.03:
                self.writer.call(self.pid, "recvfrom", "%s, %s, 65536, 0, NULL, NULL"
                                 % (self.annotation, "0x55d0c3a1f2c0"), "",
                                 "-1 EAGAIN (Resource temporarily unavailable)")
            elif roll < 0.5:
                self.send()
            else:
                self.receive()
        elif self.steps_left == 2:
            self.writer.call(self.pid, "read", "%s, " % self.annotation, '"", 16384', "0",
                             split=0.2)
            self.packets += 2
        else:
            self.writer.call(self.pid, "close", self.annotation)
            self.packets += 2
        self.steps_left -= 1
        return self.steps_left > 0

    def send(self):
        """Write one outgoing data syscall of this client (write, send*, writev)."""
        length = self.rng.randrange(*self.sizes)
        data = self.pool.escaped_only(self.rng, length)
        kind = self.rng.randrange(4)
        if kind == 0:
            self.writer.call(self.pid, "write", '%s, "%s", %d' % (self.annotation, data, length),
                             "", str(length), split=0.05)
        elif kind == 1:
            self.writer.call(self.pid, "sendto", '%s, "%s", %d, MSG_NOSIGNAL, NULL, 0'
                             % (self.annotation, data, length), "", str(length), split=0.05)
        elif kind == 2:
            first = length // 3
            self.writer.call(self.pid, "writev", '%s, [{iov_base="%s", iov_len=%d}, '
                             '{iov_base="%s", iov_len=%d}], 2'
                             % (self.annotation, data[:4 * first], first, data[4 * first:],
                                length - first), "", str(length))
        else:
            self.writer.call(self.pid, "sendmsg", '%s, {msg_name=NULL, msg_namelen=0, '
                             'msg_iov=[{iov_base="%s", iov_len=%d}], msg_iovlen=1, '
                             'msg_controllen=0, msg_flags=0}, MSG_NOSIGNAL'
                             % (self.annotation, data, length), "", str(length))
        self.packets += segments(length)

    def receive(self):
        """Write one incoming data syscall of this client (read, recv*, readv)."""
        length = self.rng.randrange(*self.sizes)
        data = self.pool.escaped_only(self.rng, length)
        kind = self.rng.randrange(4)
        head = "%s, " % self.annotation
        if kind == 0:
            self.writer.call(self.pid, "read", head, '"%s", 16384' % data, str(length), split=0.2)
        elif kind == 1:
            self.writer.call(self.pid, "recvfrom", head, '"%s", 65536, 0, NULL, NULL' % data,
                             str(length), split=0.2)
        elif kind == 2:
            self.writer.call(self.pid, "readv", head, '[{iov_base="%s", iov_len=65536}], 1'
                             % data, str(length), split=0.2)
        else:
            self.writer.call(self.pid, "recvmsg", head, '{msg_name=NULL, msg_namelen=0, '
                             'msg_iov=[{iov_base="%s", iov_len=65536}], msg_iovlen=1, '
                             'msg_controllen=0, msg_flags=MSG_CMSG_CLOEXEC}, MSG_CMSG_CLOEXEC'
                             % data, str(length), split=0.2)
        self.packets += segments(length)


def thread_ids(base, count):
    """``count`` consecutive thread ids from ``base``."""
    return [base + index for index in range(count)]


def run_clients(writer, noise, rng, clients, noise_fraction):
    """Step random clients until all are closed, with noise lines between
    (a geometric number with mean noise_fraction / (1 - noise_fraction))."""
    active = list(clients)
    while active:
        index = rng.randrange(len(active))
        if not active[index].step():
            active[index] = active[-1]
            active.pop()
        while rng.random() < noise_fraction:
            noise.emit()
    return sum(client.packets for client in clients)


def tcp_workload(writer, rng, scale, calls, connections, sizes, noise_fraction):
    """Connections of a threaded client to untraced servers (some over IPv6)."""
    pids = thread_ids(9995, 8)  # crosses from 4 to 5 pid digits, as pid wrap does
    pool = Pool(rng, 1 << 16)
    steps = max(4, int(calls * scale) // connections)
    clients = []
    for index in range(connections):
        if index % 4 == 3:
            local, remote = ("fd00::5", 40000 + index), ("fd00::80", 443)
        else:
            local, remote = ("10.0.0.5", 40000 + index), ("10.0.%d.80" % (index % 3), 8080)
        clients.append(TcpClient(writer, rng, pool, pids[index % len(pids)], 5 + index,
                                 70000 + index, local, remote, steps, sizes))
    noise = Noise(writer, rng, pids, [client.annotation for client in clients])
    return run_clients(writer, noise, rng, clients, noise_fraction)


def small(writer, rng, scale):
    """100 000 socket syscalls of 50-300 bytes over 50 TCP connections, 8
    threads, half the lines noise."""
    return tcp_workload(writer, rng, scale, 100000, 50, (50, 301), 0.5)


def noise_workload(writer, rng, scale):
    """About 4 million lines, 98% of them not network."""
    return tcp_workload(writer, rng, scale, 68000, 40, (50, 301), 0.98)


def bulk(writer, rng, scale):
    """125 MiB of TCP payload in 64 KiB syscalls over loopback connections
    whose both ends are traced (each byte printed twice: about 1 GB)."""
    pool = Pool(rng, 1 << 18)
    chunk = 1 << 16
    connections = 4
    writes = max(1, int(2000 * scale) // connections)
    client_pids, server_pids = thread_ids(30100, 4), thread_ids(30200, 4)
    noise = Noise(writer, rng, client_pids + server_pids, ["3<TCP:[127.0.0.1:8080]>"])
    packets = 0
    for index in range(connections):
        if index % 2:
            client, server = ("::1", 50000 + index), ("::1", 8443)
        else:
            client, server = ("127.0.0.1", 50000 + index), ("127.0.0.1", 8080)
        client_pid, server_pid = client_pids[index], server_pids[index]
        client_fd, server_fd = 5 + index, 9 + index
        bare = "%d<%s:[%d]>" % (client_fd, "TCPv6" if index % 2 else "TCP", 81000 + index)
        sockaddr, size = inet_sockaddr(*server)
        writer.call(client_pid, "connect", "%s, %s, %d" % (bare, sockaddr, size), "", "0",
                    split=1.0)
        listener = "%d<%s:[%s]>" % (3 + index % 2, "TCPv6" if index % 2 else "TCP",
                                    endpoint(*server))
        peer, peer_size = inet_sockaddr(*client)
        writer.call(server_pid, "accept4", "%s, " % listener, "%s, [%d], SOCK_CLOEXEC"
                    % (peer, peer_size), tcp_annotation(server_fd, server, client), split=0.5)
        packets += 3
        sent = tcp_annotation(client_fd, client, server)
        received = tcp_annotation(server_fd, server, client)
        for _ in range(writes):
            data = pool.escaped_only(rng, chunk)
            writer.call(client_pid, "sendto", '%s, "%s", %d, MSG_NOSIGNAL, NULL, 0'
                        % (sent, data, chunk), "", str(chunk), split=0.3)
            writer.call(server_pid, "recvfrom", "%s, " % received,
                        '"%s", %d, 0, NULL, NULL' % (data, chunk), str(chunk), split=0.3)
            packets += segments(chunk)
            while rng.random() < 0.5:
                noise.emit()
        writer.call(client_pid, "close", sent)
        writer.call(server_pid, "read", "%s, " % received, '"", 65536', "0")
        writer.call(server_pid, "close", received)
        packets += 4
    return packets


DNS_SERVERS = [("127.0.0.53", 53), ("10.0.0.2", 53), ("::1", 53), ("fd00::53", 53)]


def udp(writer, rng, scale):
    """115 000 UDP syscalls with sockaddrs (DNS-like), IPv4 and IPv6: sendto/
    recvfrom, sendmsg/recvmsg with msg_name, sendmmsg pairs on connected sockets."""
    pids = thread_ids(41000, 8)
    pool = Pool(rng, 1 << 16)
    sockets = []
    for index, pid in enumerate(pids):
        server = DNS_SERVERS[index % len(DNS_SERVERS)]
        local = ("::" if ":" in server[0] else "0.0.0.0", 33000 + index)
        protocol = "UDPv6" if ":" in server[0] else "UDP"
        sockets.append((pid, server, "%d<%s:[%s]>" % (5 + index, protocol, endpoint(*local))))
    noise = Noise(writer, rng, pids, [annotation for _, _, annotation in sockets])
    calls = int(115000 * scale)
    packets = 0
    done = 0
    while done < calls:
        pid, server, annotation = rng.choice(sockets)
        sockaddr, size = inet_sockaddr(*server)
        query = rng.randrange(28, 64)
        answer = rng.randrange(60, 512)
        kind = rng.randrange(3)
        if kind == 0:
            writer.call(pid, "sendto", '%s, "%s", %d, MSG_NOSIGNAL, %s, %d'
                        % (annotation, pool.escaped_only(rng, query), query, sockaddr, size),
                        "", str(query))
            writer.call(pid, "recvfrom", "%s, " % annotation, '"%s", 2048, 0, %s, [%d]'
                        % (pool.escaped_only(rng, answer), sockaddr, size), str(answer),
                        split=0.3)
            packets += 2
            done += 2
        elif kind == 1:
            message = "{msg_name=%s, msg_namelen=%d, msg_iov=[{iov_base=\"%s\", iov_len=%d}], " \
                      "msg_iovlen=1, msg_controllen=0, msg_flags=0}"
            writer.call(pid, "sendmsg", "%s, %s, 0" % (annotation, message % (
                sockaddr, size, pool.escaped_only(rng, query), query)), "", str(query))
            writer.call(pid, "recvmsg", "%s, " % annotation, "%s, 0" % (message % (
                sockaddr, size, pool.escaped_only(rng, answer), 2048)), str(answer), split=0.3)
            packets += 2
            done += 2
        else:
            lengths = [query, query + 1]
            messages = ", ".join(
                '{msg_hdr={msg_name=%s, msg_namelen=%d, msg_iov=[{iov_base="%s", iov_len=%d}], '
                'msg_iovlen=1, msg_controllen=0, msg_flags=0}, msg_len=%d}'
                % (sockaddr, size, pool.escaped_only(rng, length), length, length)
                for length in lengths)
            writer.call(pid, "sendmmsg", "%s, [%s], 2, MSG_NOSIGNAL" % (annotation, messages),
                        "", "2")
            for _ in lengths:
                writer.call(pid, "recvfrom", "%s, " % annotation, '"%s", 2048, 0, %s, [%d]'
                            % (pool.escaped_only(rng, answer), sockaddr, size), str(answer),
                            split=0.3)
            packets += 4
            done += 3
        if rng.random() < 0.02:
            writer.call(pid, "recvfrom", "%s, 0x7ffd2c1e5a10, 2048, 0, 0x7ffd2c1e5990, "
                        "[28]" % annotation, "", "-1 EAGAIN (Resource temporarily unavailable)")
            done += 1
        while rng.random() < 0.3:
            noise.emit()
    return packets


def h2_frame(kind, flags, stream, body):
    """An HTTP/2 frame (RFC 9113 section 4.1): 24-bit length, type, flags, stream id."""
    return len(body).to_bytes(3, "big") + bytes((kind, flags)) + stream.to_bytes(4, "big") + body


H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
H2_DATA, H2_HEADERS, H2_SETTINGS = 0, 1, 4
END_STREAM, END_HEADERS = 0x1, 0x4


def unix(writer, rng, scale):
    """gRPC over HTTP/2 on AF_UNIX stream sockets: a traced client with 8
    threads, each with its connection to an untraced daemon's socket; half
    the connections were open before strace attached (no connect)."""
    pids = thread_ids(52000, 8)
    path = text_escape("/run/containerd/containerd.sock")
    connections = []
    for index, pid in enumerate(pids):
        inode, peer = 91000 + 2 * index, 91001 + 2 * index
        annotation = "%d<UNIX-STREAM:[%d->%d]>" % (5 + index, inode, peer)
        connections.append([pid, annotation, 5 + index, inode, index % 2 == 0, 1])
    noise = Noise(writer, rng, pids, [connection[1] for connection in connections])
    calls = int(200000 * scale)
    done = 0
    data_syscalls = 0
    while done < calls:
        connection = rng.choice(connections)
        pid, annotation, fd, inode, needs_connect, stream = connection
        if needs_connect:
            connection[4] = False
            writer.call(pid, "connect", '%d<UNIX-STREAM:[%d]>, {sa_family=AF_UNIX, '
                        'sun_path="%s"}, 110' % (fd, inode, path))
            preface = H2_PREFACE + h2_frame(H2_SETTINGS, 0, 0, bytes(12))
            writer.call(pid, "write", '%s, "%s", %d' % (annotation, escape(preface),
                                                       len(preface)), "", str(len(preface)))
            settings = h2_frame(H2_SETTINGS, 0, 0, bytes(6)) + h2_frame(H2_SETTINGS, 1, 0, b"")
            writer.call(pid, "read", "%s, " % annotation, '"%s", 8192' % escape(settings),
                        str(len(settings)))
            done += 3
            data_syscalls += 2
            continue
        connection[5] = stream + 2
        message = rng.randbytes(rng.randrange(20, 250))
        headers = h2_frame(H2_HEADERS, END_HEADERS, stream, rng.randbytes(rng.randrange(30, 90)))
        data = h2_frame(H2_DATA, END_STREAM, stream,
                        b"\x00" + len(message).to_bytes(4, "big") + message)
        writer.call(pid, "sendmsg", '%s, {msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base="%s",'
                    ' iov_len=%d}, {iov_base="%s", iov_len=%d}], msg_iovlen=2, msg_controllen=0,'
                    ' msg_flags=0}, MSG_NOSIGNAL' % (annotation, escape(headers), len(headers),
                                                     escape(data), len(data)),
                    "", str(len(headers) + len(data)), split=0.05)
        reply = rng.randbytes(rng.randrange(20, 400))
        response = (h2_frame(H2_HEADERS, END_HEADERS, stream, rng.randbytes(rng.randrange(10, 40)))
                    + h2_frame(H2_DATA, 0, stream,
                               b"\x00" + len(reply).to_bytes(4, "big") + reply)
                    + h2_frame(H2_HEADERS, END_HEADERS | END_STREAM, stream,
                               rng.randbytes(rng.randrange(10, 30))))
        writer.call(pid, "recvmsg", "%s, " % annotation, '{msg_name=NULL, msg_namelen=0, '
                    'msg_iov=[{iov_base="%s", iov_len=8192}], msg_iovlen=1, msg_controllen=0, '
                    'msg_flags=0}, 0' % escape(response), str(len(response)), split=0.3)
        done += 2
        data_syscalls += 2
        while rng.random() < 0.4:
            noise.emit()
    return data_syscalls


WORKLOADS = {"small": small, "bulk": bulk, "noise": noise_workload, "unix": unix, "udp": udp}
# Extra converter flags a workload needs.
WORKLOAD_FLAGS = {"unix": ["--capture-unix-socket", "--seed-http2", "--seed-grpc"]}


def generate(workload, out, scale=1.0, sockets_only=False, seed=DEFAULT_SEED):
    """Write ``workload``'s trace to the text file ``out``.

    Returns a dict: lines, socket_lines, packets (expected for the INET
    workloads; for unix, the data syscalls, each at least one packet).
    """
    rng = random.Random("%s/%d" % (workload, seed))
    writer = TraceWriter(out, rng, sockets_only)
    packets = WORKLOADS[workload](writer, rng, scale)
    writer.finish()
    return {"workload": workload, "scale": scale, "lines": writer.lines,
            "socket_lines": writer.socket_lines, "packets": packets}


def main(argv=None):
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workload", choices=sorted(WORKLOADS))
    parser.add_argument("output")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--sockets-only", action="store_true")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    arguments = parser.parse_args(argv)
    with open(arguments.output, "w", encoding="latin-1", buffering=1 << 20) as out:
        summary = generate(arguments.workload, out, arguments.scale, arguments.sockets_only,
                           arguments.seed)
    json.dump(summary, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())

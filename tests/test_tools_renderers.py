"""tools/cli_tshark_protocol_render: each renderer on a real exchange recorded with strace.

A real client (bash's /dev/tcp and /dev/udp, redis-cli, curl, cgi-fcgi) talks
to a real server on 127.0.0.1 (ports 22000-22999) under strace; the trace is
converted and the renderer must show what the client sent, whole, and what
the server answered.  MongoDB: a constructed OP_MSG exchange over a real
loopback socket (tests/fixtures/tools/mongo_exchange.py), no server needed.
"""

import json
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

import support

RENDERERS = support.REPO / "tools" / "cli_tshark_protocol_render"
TOOL_FIXTURES = support.FIXTURES / "tools"
RENDERER_NAMES = ["statsd.sh", "memcache.sh", "es_http_json.sh", "fcgi.sh",
                  "redis_resp.sh", "mongo.sh", "mongo_q_timings.sh"]


def render(renderer, pcap, *arguments):
    """Output (text) of ``renderer`` on ``pcap``; the renderer must succeed."""
    result = subprocess.run([str(RENDERERS / renderer), str(pcap), *arguments],
                            capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout.decode("latin-1")


def record(tmp_path, command, **popen):
    """Run ``command`` under strace, convert the trace; return the pcap path."""
    trace, pcap = tmp_path / "trace.txt", tmp_path / "trace.pcap"
    result = support.strace(command, trace, **popen)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    support.convert(trace, pcap)
    return pcap


def wait_for_port(port, process):
    """Return once 127.0.0.1:``port`` accepts connections (``process`` must stay up)."""
    deadline = time.time() + 15
    while time.time() < deadline:
        assert process.poll() is None, "server exited early"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("nothing listens on port %d" % port)


@contextmanager
def server(command, port, **popen):
    """Run a server ``command`` until the block ends, once it listens on ``port``."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               **popen)
    try:
        wait_for_port(port, process)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)


HEADER_LINE = re.compile(r"^\d+\.\d{6} \S+ > (\S+) pid \d+ fd \d+ \d+ bytes\n", re.M)


def text_sent_to(output, destination):
    """The payload texts of a payload renderer's ``output`` sent to ``destination``, joined."""
    pieces = HEADER_LINE.split(output)[1:]
    return "".join(text for to, text in zip(pieces[0::2], pieces[1::2]) if to == destination)


def test_memcache_shows_commands_and_replies(tmp_path):
    support.require("memcached", "strace", "tshark")
    commands = "set greeting 0 0 11\r\nhello\x00world\r\nget greeting\r\nquit\r\n"
    # printf turns the escapes back into bytes (the environment cannot hold a NUL).
    escaped = commands.replace("\r", "\\r").replace("\n", "\\n").replace("\x00", "\\000")
    client = 'exec 3<>/dev/tcp/127.0.0.1/22211; printf "$COMMANDS" >&3; timeout 5 cat <&3'
    with server(["memcached", "-u", "root", "-l", "127.0.0.1", "-p", "22211", "-U", "0"], 22211):
        pcap = record(tmp_path, ["bash", "-c", client],
                      env={"COMMANDS": escaped, "PATH": "/usr/bin:/bin"})
    output = render("memcache.sh", pcap, "22211")
    assert text_sent_to(output, "127.0.0.1:22211") == commands.replace("\x00", "\\x00")
    replies = "STORED\r\nVALUE greeting 0 11\r\nhello\\x00world\r\nEND\r\n"
    assert text_sent_to(output, re.search(r"127.0.0.1:\d+(?= > 127.0.0.1:22211)", output)[0]) \
        == replies


def test_redis_resp_shows_commands_and_replies(tmp_path):
    support.require("redis-server", "redis-cli", "strace", "tshark")
    with server(["redis-server", "--port", "22379", "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no"], 22379, cwd=tmp_path):
        pcap = record(tmp_path, ["redis-cli", "-p", "22379", "SET", "user:1", '{"name": "ada"}'])
    output = render("redis_resp.sh", pcap, "22379")
    assert '*3\r\n$3\r\nSET\r\n$6\r\nuser:1\r\n$15\r\n{"name": "ada"}\r\n' in output
    assert "+OK\r\n" in output


class JsonSearchHandler(BaseHTTPRequestHandler):
    """Stands in for Elasticsearch's _search: answers a JSON POST with JSON."""

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        body = json.dumps({"took": 1, "hits": {"total": {"value": 1},
                                               "hits": [{"_source": request["query"]}]}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *arguments):
        pass


def test_es_http_json_shows_request_and_response_bodies(tmp_path):
    support.require("curl", "strace", "tshark")
    query = json.dumps({"query": {"match": {"message": "x" * 3000 + " end"}}})
    http_server = HTTPServer(("127.0.0.1", 22920), JsonSearchHandler)
    thread = threading.Thread(target=http_server.serve_forever, daemon=True)
    thread.start()
    try:
        pcap = record(tmp_path, ["curl", "-s", "-H", "Content-Type: application/json",
                                 "--data-binary", query, "http://127.0.0.1:22920/logs/_search"])
    finally:
        http_server.shutdown()
        http_server.server_close()
    output = render("es_http_json.sh", pcap, "22920")
    assert "POST /logs/_search HTTP/1.1\r\n" in output
    assert query in output  # whole, longer than Wireshark's panes show
    assert '"hits": [{"_source": {"match": {"message": "xxx' in output


def test_statsd_shows_each_datagram_ipv4_and_ipv6(tmp_path):
    support.require("strace", "tshark")
    metrics = {"deploys.count:1|c": "127.0.0.1", "api.latency:320|ms|@0.5": "127.0.0.1",
               "queue.depth:42|g": "::1"}
    receivers = {"127.0.0.1": socket.socket(socket.AF_INET, socket.SOCK_DGRAM),
                 "::1": socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)}
    for address, receiver in receivers.items():
        receiver.bind((address, 22125))
    client = "".join("printf '%%s' '%s' > /dev/udp/%s/22125; " % item for item in metrics.items())
    pcap = record(tmp_path, ["bash", "-c", client])
    received = [receivers[address].recv(100).decode() for address in metrics.values()]
    for receiver in receivers.values():
        receiver.close()
    assert received == list(metrics)
    output = render("statsd.sh", pcap, "22125")
    pieces = HEADER_LINE.split(output)[1:]
    assert pieces[0::2] == ["127.0.0.1:22125", "127.0.0.1:22125", "[::1]:22125"]
    assert pieces[1::2] == [metric + "\n" for metric in metrics]
    # A path with blanks and quotes is one argument.
    awkward = tmp_path / "a dir" / "it's \"here\".pcap"
    awkward.parent.mkdir()
    awkward.write_bytes(pcap.read_bytes())
    assert render("statsd.sh", awkward, "22125") == output


def test_fcgi_shows_params_stdin_and_stdout(tmp_path):
    support.require("cgi-fcgi", "strace", "tshark")
    body = '{"query": {"term": {"user": "bob"}}}'
    environment = {"REQUEST_METHOD": "POST", "SCRIPT_NAME": "/search.php",
                   "SCRIPT_FILENAME": "/var/www/search.php", "QUERY_STRING": "q=a b&x=1",
                   "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body))}
    responder = [sys.executable, str(TOOL_FIXTURES / "fcgi_responder.py"), "22900"]
    with server(responder, 22900):
        pcap = record(tmp_path, [shutil.which("cgi-fcgi"), "-bind", "-connect", "127.0.0.1:22900"],
                      env=environment, input=body.encode())
    output = render("fcgi.sh", pcap, "22900")
    for name, value in environment.items():
        assert "    %s = %s\n" % (name, value) in output
    assert "  STDIN id 1, %d bytes\n%s\n" % (len(body), body) in output
    assert '{"script": "/search.php", "body_length": %d}' % len(body) in output
    assert "  END_REQUEST id 1, 8 bytes\n    app_status 0, protocol_status 0\n" in output


@pytest.fixture(name="mongo_pcap")
def fixture_mongo_pcap(tmp_path):
    """A converted strace of the constructed OP_MSG exchange on port 22017."""
    support.require("strace", "tshark")
    return record(tmp_path, [sys.executable, str(TOOL_FIXTURES / "mongo_exchange.py"), "22017"])


def test_mongo_renders_queries_and_replies(mongo_pcap):
    output = render("mongo.sh", mongo_pcap, "22017").splitlines()
    assert len(output) == 6
    query = re.compile(r"\d+\.\d{6} 127\.0\.0\.1:(\d+) > 127\.0\.0\.1:22017 pid \d+ fd \d+ "
                       r"OP_MSG request 101 (.*)$")
    match = query.match(output[0])
    assert match, output[0]
    assert match[2] == '{find: "users", filter: {name: "alice"}, $db: "shop"}'
    assert output[1].endswith("OP_MSG request 501 response_to 101 "
                              '{cursor: {firstBatch: [], id: 0, ns: "shop.users"}, ok: 1}')
    assert output[2].endswith('OP_MSG request 102 '
                              '{insert: "orders", documents: [{item: "tea", qty: 2}], $db: "shop"}')
    assert output[4].endswith('OP_MSG request 103 {ping: 1, $db: "admin"}')


def test_mongo_q_timings_pairs_each_query_with_its_reply(mongo_pcap):
    messages = render("mongo.sh", mongo_pcap, "22017").splitlines()
    times = [line.split()[0] for line in messages]
    pairs = render("mongo_q_timings.sh", mongo_pcap, "22017").splitlines()
    assert [pair.split()[6] for pair in pairs] == ["find", "insert", "ping"]
    for number, pair in enumerate(pairs):
        query_time, reply_time, latency, client, arrow, server_address = pair.split()[:6]
        assert (query_time, reply_time) == (times[2 * number], times[2 * number + 1])
        # The exact difference of the two timestamps, in microseconds.
        expected = (int(reply_time.replace(".", "")) - int(query_time.replace(".", "")))
        assert int(latency.replace(".", "")) == expected
        # mongo_exchange.py sleeps 10, 20, 30 ms before answering.
        assert expected >= 10000 * (number + 1)
        assert arrow == ">" and server_address == "127.0.0.1:22017"


@pytest.mark.parametrize("renderer", RENDERER_NAMES)
def test_wrong_arguments_print_usage_and_exit_2(tmp_path, renderer):
    command = str(RENDERERS / renderer)
    for arguments in [[], ["a", "1", "extra"], ["--help"]]:
        result = subprocess.run([command, *arguments], capture_output=True, timeout=30)
        assert result.returncode == 2
        assert result.stderr.startswith(b"usage: " + renderer.encode() + b" PCAP [PORT]")
    pcap = tmp_path / "empty.pcap"
    pcap.write_bytes(b"")
    result = subprocess.run([command, str(pcap), "80;rm"], capture_output=True, timeout=30)
    assert result.returncode == 2 and b"PORT must be a number" in result.stderr
    result = subprocess.run([command, str(tmp_path / "absent.pcap")], capture_output=True,
                            timeout=30)
    assert result.returncode == 2 and b"cannot read" in result.stderr


def test_fcgi_record_cut_by_a_segment_is_completed_from_the_next(tmp_path):
    support.require("tshark")
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap
    sys.path.insert(0, str(TOOL_FIXTURES))
    import fcgi_responder
    params = b"\x0b\x04SCRIPT_NAMEa.js\x0c\x00QUERY_STRING"
    stream = (fcgi_responder.record(1, 7, b"\x00\x01\x00\x00\x00\x00\x00\x00")
              + fcgi_responder.record(fcgi_responder.FCGI_PARAMS, 7, params))
    cut = 16 + 10
    segments = [stream[:cut], stream[cut:]]
    frames, seq = [], 1
    for segment in segments:
        frames.append(Ether() / IP(src="127.0.0.1", dst="127.0.0.1")
                      / TCP(sport=40000, dport=9000, seq=seq, flags="PA") / segment)
        seq += len(segment)
    pcap = tmp_path / "cut.pcap"
    wrpcap(str(pcap), frames)
    output = render("fcgi.sh", pcap)
    first, second = re.split(r"^\d+\.\d{6} .*\n", output, flags=re.M)[1:]
    assert first == ("  BEGIN_REQUEST id 7, 8 bytes\n    role RESPONDER, keep_conn 0\n"
                     "  (10 bytes of a record continue in the next segment)\n")
    assert second == ("  PARAMS id 7, %d bytes\n    SCRIPT_NAME = a.js\n    QUERY_STRING = \n"
                      % len(params))

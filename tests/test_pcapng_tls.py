"""TLS decrypted by Wireshark from the key log embedded in the pcapng.

A Python ``ssl`` HTTPS server with a self-signed certificate (made with
openssl) on 127.0.0.1, ``curl -k`` with SSLKEYLOGFILE, traced: converted with
``--tls-keylog``, tshark shows the HTTP request and response; without it,
only TLS.
"""

import os
import re
import subprocess
import sys

import support
from test_pcapng import frames, free_port, server

HTTPS_PORTS = range(21400, 21500)
BODY = "hello over tls"
HTTPS_SERVER = """
import http.server, ssl, sys

class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = %r.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Hello)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[2], sys.argv[3])
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
""" % BODY


def test_https_decrypted_with_the_embedded_key_log(tmp_path):
    support.require("strace", "tshark", "curl", "openssl")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(tmp_path / "key.pem"),
                    "-out", str(tmp_path / "cert.pem")], check=True, capture_output=True,
                   timeout=60)
    port = free_port(HTTPS_PORTS)
    keys = tmp_path / "keys.log"
    with server([sys.executable, "-c", HTTPS_SERVER, str(port), str(tmp_path / "cert.pem"),
                 str(tmp_path / "key.pem")], port):
        traced = support.strace(["curl", "-sk", "--http1.1", "https://127.0.0.1:%d/" % port],
                                tmp_path / "trace.txt",
                                env=dict(os.environ, SSLKEYLOGFILE=str(keys)))
    assert traced.returncode == 0, traced.stderr.decode()
    assert traced.stdout.decode() == BODY
    assert re.search(rb"^(CLIENT_RANDOM|CLIENT_TRAFFIC_SECRET_0) ", keys.read_bytes(), re.M)

    decrypted = tmp_path / "keys.pcapng"
    support.convert(tmp_path / "trace.txt", decrypted, "-q", "--tls-keylog", str(keys))
    http = frames(decrypted, "http", "http.request.method", "http.request.uri",
                  "http.response.code", "http.file_data")
    assert [fields[1:] for fields in http] == [["GET", "/", "", ""], ["", "", "200", BODY]]

    plain = tmp_path / "nokeys.pcapng"
    support.convert(tmp_path / "trace.txt", plain, "-q")
    assert frames(plain, "http") == []
    assert len(frames(plain, "tls.app_data")) >= 2

"""gslbctl asks again when a streamed document is cut short.

gslbd cuts a streamed /status or /zone before its last chunk when a
reload lands mid-stream, so that no client takes half a document for the
whole.  gslbctl must then ask again rather than fail.  The server here is
a real HTTP/1.1 server (http.server) that cuts the first N answers the
way gslbd does: chunked, connection closed before the terminating chunk.
"""
import http.server
import json
import subprocess
import threading

from conftest import free_endpoint
from test_control import gslbctl_binary

DOC = {"generation": 7, "services": []}


def serve(cut_first):
    state = {"requests": 0}

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            state["requests"] += 1
            body = json.dumps(DOC).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            half = body[:len(body) // 2]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(half), half))
            if state["requests"] <= cut_first:
                self.wfile.flush()
                self.close_connection = True
                return
            rest = body[len(half):]
            self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(rest), rest))

    addr, port = free_endpoint()
    srv = http.server.ThreadingHTTPServer((addr, port), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, "http://%s:%d" % (addr, port), state


def run(url):
    return subprocess.run([gslbctl_binary(), "-s", url, "status", "--json"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=30)


def test_status_cut_short_is_asked_again():
    srv, url, state = serve(cut_first=2)
    try:
        r = run(url)
    finally:
        srv.shutdown()
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == DOC
    assert state["requests"] == 3


def test_status_cut_short_every_time_fails_with_a_reason():
    srv, url, state = serve(cut_first=100)
    try:
        r = run(url)
    finally:
        srv.shutdown()
    assert r.returncode != 0
    assert "cannot reach gslbd" in r.stderr or "transfer" in r.stderr.lower(), r.stderr
    assert state["requests"] == 3, "three tries, then give up"

"""test_status_stream.py -- GET /status is streamed a slice at a time as the
client takes it: 20 clients that ask for it at 5,000 services and never
read leave the control thread free (/healthz answers, probes keep their
interval) and cost gslbd a bounded buffer each, not the whole document."""
import http.client
import json
import os
import socket
import time

from conftest import wait_for

NSVCS = 5000
NCLIENTS = 20
NPROBED = 4
INTERVAL_MS = 200
WINDOW_S = 3.0
# Each stream holds at most one 64 KiB slice plus one service in gslbd
# (about 1.4 MiB for 20), plus the short-lived jansson trees of a slice;
# 32 MiB leaves room for malloc's arenas.  Built whole, the same requests
# hold 20 documents of about 2.5 MB each besides their trees.
RSS_BOUND_KIB = 32 * 1024


def config(backends):
    lines = ["zone:", "  name: big.test", "  nameservers:",
             "    - name: ns1", "      addresses: [127.0.0.1]",
             "probe-defaults: { type: none }",
             "services:"]
    for i, b in enumerate(backends):
        lines += ["  - name: p%d" % i,
                  "    probe: { type: http, port: %d, path: /, interval: %dms, timeout: 150ms }"
                  % (b.port, INTERVAL_MS),
                  "    endpoints:",
                  "      - { region: eu, addresses: [%s] }" % b.addr]
    for i in range(NSVCS):
        lines += ["  - name: s%d" % i, "    endpoints:",
                  "      - { region: eu, addresses: [127.1.%d.%d] }"
                  % (i // 250, i % 250 + 1),
                  "      - { region: us, addresses: [127.2.%d.%d] }"
                  % (i // 250, i % 250 + 1)]
    return "\n".join(lines) + "\n"


def hostport(g):
    h, port = g.control.rsplit(":", 1)
    return h.strip("[]"), int(port)


def get(g, path, timeout=10):
    c = http.client.HTTPConnection(*hostport(g), timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def attempts(g):
    _, body = get(g, "/metrics", timeout=30)
    for line in body.decode().splitlines():
        if line.startswith("gslbd_probe_attempts_total "):
            return float(line.split()[1])
    raise AssertionError("no gslbd_probe_attempts_total")


def stalled_client(g):
    """A client that asks for /status and never reads: a small receive
    buffer, so what is not taken stays in gslbd, not in the kernel."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(5)
    s.connect(hostport(g))
    s.sendall(b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    return s


def test_status_clients_that_do_not_read(gslbd, http_backend, monkeypatch):
    """20 /status clients that do not read: RSS within a bound, /healthz within 1 s, probes on schedule."""
    # The kernel takes up to tcp_wmem's maximum (4 MB) of each stream
    # before a client that does not read stalls it, so gslbd makes and
    # frees that much per client; under AddressSanitizer every free goes
    # to a quarantine of 256 MB first, which is no memory gslbd holds.
    monkeypatch.setenv("ASAN_OPTIONS", os.environ.get("ASAN_OPTIONS", "") +
                       ":quarantine_size_mb=4")
    backends = [http_backend() for _ in range(NPROBED)]
    g = gslbd(config(backends))
    pid = g.proc.pid
    wait_for(lambda: all(b.hits for b in backends), timeout=10,
             what="every backend probed")
    st, body = get(g, "/status", timeout=30)
    doc = json.loads(body)
    assert st == 200 and len(doc["services"]) == NSVCS + NPROBED
    # The probe rate with nothing else going on (interval plus jitter).
    a0, t0 = attempts(g), time.monotonic()
    n = wait_for(lambda: max(0, attempts(g) - a0 - 10 * NPROBED), timeout=10,
                 interval=0.1, what="probe runs") + 10 * NPROBED
    quiet = n / (time.monotonic() - t0)
    base = rss_kib(pid)
    a0, t0 = attempts(g), time.monotonic()

    clients = [stalled_client(g) for _ in range(NCLIENTS)]
    try:
        worst, peak = 0.0, base
        while time.monotonic() - t0 < WINDOW_S:
            t = time.monotonic()
            st, body = get(g, "/healthz", timeout=10)
            worst = max(worst, time.monotonic() - t)
            assert st == 200 and body == b"ok\n"
            peak = max(peak, rss_kib(pid))
            time.sleep(0.05)
        a1, t1 = attempts(g), time.monotonic()
        peak = max(peak, rss_kib(pid))
    finally:
        for s in clients:
            s.close()
    expect = quiet * (t1 - t0)
    print("healthz worst %.3f s, RSS %d -> %d KiB, probe runs %d of ~%d"
          % (worst, base, peak, a1 - a0, expect))
    assert worst < 1.0, "/healthz took %.3f s" % worst
    assert peak - base < RSS_BOUND_KIB, "RSS grew %d KiB" % (peak - base)
    assert expect >= NPROBED * WINDOW_S, "probes too slow to compare"
    assert a1 - a0 >= 0.7 * expect, "%d probe runs, ~%d due" % (a1 - a0, expect)
    # The streams were real: a client that reads still gets it all.
    st, body = get(g, "/status", timeout=30)
    assert st == 200 and len(json.loads(body)["services"]) == NSVCS + NPROBED


def test_status_cut_short_by_a_new_service_list(gslbd):
    """A reload that replaces the service list during a streamed /status closes the connection before the body ends: the client sees a failed transfer, never a cut document that looks whole."""
    g = gslbd(config([]))
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10)
    s.connect(hostport(g))
    s.sendall(b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    try:
        head = s.recv(4096)
        assert head.startswith(b"HTTP/1.1 200") and b"chunked" in head.lower()
        mark = g.log_mark()
        g.write_config(config([]).replace("name: s0\n", "name: renamed\n"))
        g.reload()
        g.wait_log(r"reload done", since=mark, timeout=20)
        body = head
        while True:
            b = s.recv(65536)
            if not b:
                break
            body += b
    finally:
        s.close()
    g.wait_log(r"status stream cut short reason=the service list changed",
               since=mark)
    # Chunked: the last chunk (0 CRLF CRLF) never came.
    assert not body.endswith(b"\r\n0\r\n\r\n")
    # A new request gets the whole new document.
    st, body = get(g, "/status", timeout=30)
    names = [x["name"] for x in json.loads(body)["services"]]
    assert st == 200 and "renamed.big.test." in names and len(names) == NSVCS

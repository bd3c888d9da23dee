"""Black-holed regions with the default probe settings (interval 1 s,
timeout 800 ms, jitter 100 ms, fast-interval 200 ms, rise/fall 2): a
backend whose SYNs are dropped (connect never completes, as behind a
firewall DROP) leaves the answers within issue 13's 2.0 s, because a run
unanswered past the target's usual latency starts a suspect re-check
beside it and the two timeouts overlap; a healthy target, quick or slow,
is still probed once per interval."""
import re
import select
import socket
import threading
import time

import dns.rdatatype as T
import pytest

from conftest import free_endpoint, wait_for

Z = "global.example.org."

# Settings are the defaults: only type, port and path are given.
CONFIG = """server:
  workers: 1
zone:
  name: global.example.org
  soa:
    serial: 7
    minimum: 60s
  nameservers:
    - name: ns1
      addresses: [192.0.2.53]
probe-defaults:
  type: http
  path: /healthz
services:
  - name: www
    policy: all
    ttl: 5s
    endpoints:
%s"""

# Scheduling slack on a loaded 2-core machine (and a sanitizer build).
SLACK = 0.5

LINE_RE = re.compile(r"^(\S+)Z gslbd\[\w+\]: (health change|probe verdict|"
                     r"probe suspect) address=(\S+) port=(\d+)(.*)$")


def endpoint(region, addr, port):
    return ("      - region: %s\n        addresses: [%s]\n"
            "        probe: { port: %d }\n" % (region, addr, port))


def _ts(stamp):
    base, ms = stamp.split(".")
    return time.mktime(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) + \
        int(ms) / 1000.0


def probe_lines(g, addr):
    """(time, kind, rest) of the probe log lines about addr."""
    out = []
    for line in g.log().splitlines():
        m = LINE_RE.match(line)
        if m and m.group(3) == addr:
            out.append((_ts(m.group(1)), m.group(2), m.group(5)))
    return out


def answers(g):
    m = g.query("www." + Z, "A")
    return {rd.address for rr in m.answer for rd in rr
            if rr.rdtype == T.A}


class Backend:
    """An HTTP/1.0 server on a fresh 127.0.0.x that can become a black
    hole: it stops accepting, its listen backlog shrinks to 0 and is
    filled by connections of our own, so the kernel drops every further
    SYN and connects never complete."""

    def __init__(self, delay=0.0):
        self.delay = delay
        self.hits = 0
        self.accepting = True
        self.fillers = []
        for _ in range(50):
            addr, port = free_endpoint()
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((addr, port))
            except OSError:
                s.close()
                continue
            s.listen(128)
            self.sock, self.addr, self.port = s, addr, port
            break
        else:
            raise RuntimeError("no backend address")
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.done.is_set():
            if not self.accepting:
                time.sleep(0.02)
                continue
            r, _, _ = select.select([self.sock], [], [], 0.05)
            if not r or not self.accepting:
                continue
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._answer, args=(c,),
                             daemon=True).start()

    def _answer(self, c):
        try:
            c.settimeout(2)
            buf = b""
            while b"\r\n\r\n" not in buf:
                d = c.recv(4096)
                if not d:
                    return
                buf += d
            self.hits += 1
            if self.delay:
                time.sleep(self.delay)
            c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
        except OSError:
            pass
        finally:
            c.close()

    def blackhole(self):
        self.accepting = False
        self.sock.listen(0)
        # One queued connection fills a backlog of 0; the next SYNs are
        # dropped (and retried by the client's kernel, in vain).
        for _ in range(2):
            f = socket.socket()
            f.setblocking(False)
            f.connect_ex((self.addr, self.port))
            self.fillers.append(f)
        time.sleep(0.05)

    def stop(self):
        self.done.set()
        self.thread.join(5)
        for f in self.fillers:
            f.close()
        self.sock.close()


@pytest.fixture
def backends():
    made = []
    used = set()

    def make(delay=0.0):
        for _ in range(50):
            b = Backend(delay)
            made.append(b)
            if b.addr not in used:
                used.add(b.addr)
                return b
        raise RuntimeError("no distinct backend address")
    yield make
    for b in made:
        b.stop()


def test_blackholed_backend_leaves_within_2s(gslbd, backends):
    """With the default probe settings, a backend whose SYNs are dropped leaves the answers within 2.0 s (interval + jitter + timeout + the suspect delay), going down about one suspect delay after its first timeout, not a whole second timeout later."""
    steady, bh = backends(), backends()
    g = gslbd(CONFIG % (endpoint("eu", steady.addr, steady.port) +
                        endpoint("us", bh.addr, bh.port)), args=("-l", "debug"))
    wait_for(lambda: answers(g) == {steady.addr, bh.addr}, 10,
             what="both regions answered")
    # Three successes make the target's latency known.
    wait_for(lambda: len(probe_lines(g, bh.addr)) >= 4, 8,
             what="four runs of the backend")
    assert not any(k == "probe suspect" for _, k, _ in probe_lines(g, bh.addr)), \
        "a healthy quick target was probed twice:\n" + g.log()[-3000:]

    bh.blackhole()
    with pytest.raises(OSError):
        socket.create_connection((bh.addr, bh.port), timeout=0.3).close()
    t0 = time.monotonic()
    wait_for(lambda: answers(g) == {steady.addr}, 2.0 + SLACK + 3, 0.02,
             what="the black-holed region left the answers")
    took = time.monotonic() - t0

    lines = probe_lines(g, bh.addr)
    fails = [t for t, k, rest in lines
             if k == "probe verdict" and " ok=0 " in rest and "reason=timeout" in rest]
    downs = [t for t, k, rest in lines
             if k == "health change" and "state=down" in rest]
    assert fails and downs, "no timeout verdicts or down change:\n" + g.log()[-3000:]
    assert any(k == "probe suspect" for _, k, _ in lines), lines
    nsuspect = sum(1 for _, k, _ in probe_lines(g, bh.addr) if k == "probe suspect")
    assert g.metric("gslbd_probe_suspect_runs_total") >= nsuspect >= 1
    gap = downs[0] - fails[0]
    # Without the suspect re-check the second timeout starts when the
    # first ends: 800 ms later.  With it, about 50 ms.
    assert gap < 0.4, "down %.3f s after the first timeout:\n%s" % (gap, g.log()[-3000:])
    assert took <= 2.0 + SLACK, "left after %.2f s" % took


def test_healthy_targets_probed_once_per_interval(gslbd, backends):
    """Healthy targets keep the steady-state load of one run per interval: a quick one almost never gets a suspect re-check, and a slow-but-healthy one (150 ms, more than fast-interval / 2) never does."""
    quick, slow = backends(), backends(delay=0.15)
    g = gslbd(CONFIG % (endpoint("eu", quick.addr, quick.port) +
                        endpoint("us", slow.addr, slow.port)), args=("-l", "debug"))
    wait_for(lambda: answers(g) == {quick.addr, slow.addr}, 10,
             what="both regions answered")
    h0 = (quick.hits, slow.hits)
    time.sleep(5.0)
    dq, ds = quick.hits - h0[0], slow.hits - h0[1]
    # Five intervals of 1 s (+ up to 100 ms jitter): 4 to 6 runs.
    assert 4 <= ds <= 6, "slow target: %d runs in 5 s" % ds
    assert 4 <= dq <= 7, "quick target: %d runs in 5 s" % dq
    assert not any(k == "probe suspect" for _, k, _ in probe_lines(g, slow.addr)), \
        "the slow target was probed twice:\n" + g.log()[-3000:]

"""Probe targets are shared: a (address, port, probe settings) target is
probed once, however many names answer with it (issue 9).

The acceptance test: three ServiceDNSRecords, each on two clusters (eu-west
and us-east, one zone each), give 15 names (per record: global, two region
names, two zone names); both clusters of every record share the same two
load-balancer addresses, so every one of the 15 names answers both.  A backend that counts connections sees at
most 1.5 a second per address at the default 1 s probe interval, and when
one backend stops, all 15 names drop its address within 200 ms of each
other.  A companion test does the same for services of the configuration
file, and checks that different probe settings on the same address are
still separate targets.

The backends here are in-process HTTP servers bound to chosen 127.0.0.x
addresses and one shared port (the conftest ``http_backend`` picks its own
address and port, and keeps no timestamps).  They answer HTTP/1.0, so every
request is one connection; both are counted, with their times, and rates
are measured over a window of several intervals, not at an instant.

Probe settings are gslbd's defaults (interval 1 s, timeout 800 ms, jitter
100 ms, fall 2, rise 2) apart from the port, the path and the Host header,
which are the same for every name that should share a target.  The Host
header defaults to each service's own (global) name, so records or
services that should share a target set it explicitly.
"""
import http.server
import random
import threading
import time

import dns.rcode
import pytest

import kube_objects as ko
from conftest import _port_free, wait_for
from fake_kube import fake_kube, kube_certs, write_kubeconfig  # noqa: F401
from test_kube import kube_support

INTERVAL = 1.0          # the default probe interval, s
MAX_RATE = 1.5          # probes per second per target allowed (issue 9)
WINDOW = 6.0            # measurement window, s (six intervals)
MIN_IN_WINDOW = 3       # a target must really be probed in the window
DROP_SPREAD = 0.2       # all names drop a dead address within this, s
DROP_DEADLINE = 10.0    # ...and within this of the backend stopping, s

PROBE_HOST = "lb-health.example.com"
HEALTH_PATH = "/healthz"


# --- a backend that counts connections -----------------------------------------

class CountingBackend:
    """An HTTP/1.0 server on (addr, port) that records the time of every
    accepted connection and every request (path, Host header); with
    version "HTTP/1.1" it keeps connections alive."""

    def __init__(self, addr, port, version="HTTP/1.0"):
        self.addr, self.port = addr, port
        self.lock = threading.Lock()
        self.conns = []     # monotonic accept times
        self.reqs = []      # (monotonic time, path, Host header)
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = version

            def do_GET(self):
                with backend.lock:
                    backend.reqs.append((time.monotonic(), self.path,
                                         self.headers.get("Host")))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def do_HEAD(self):
                self.do_GET()

            def log_message(self, *a):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def get_request(self):
                conn = super().get_request()
                with backend.lock:
                    backend.conns.append(time.monotonic())
                return conn

        self.server = Server((addr, port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.stopped = False

    def conns_in(self, t0, t1):
        with self.lock:
            return sum(1 for t in self.conns if t0 <= t < t1)

    def reqs_in(self, t0, t1, path=None):
        with self.lock:
            return sum(1 for t, p, _ in self.reqs
                       if t0 <= t < t1 and (path is None or p == path))

    def seen(self, t0, t1):
        """{(path, host): count} of the requests in [t0, t1) (for messages)."""
        out = {}
        with self.lock:
            for t, p, h in self.reqs:
                if t0 <= t < t1:
                    out[(p, h)] = out.get((p, h), 0) + 1
        return out

    def stop(self):
        """Close the listening socket: the port then refuses connections."""
        if not self.stopped:
            self.stopped = True
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(5)


def counting_backends(n, version="HTTP/1.0"):
    """n CountingBackends on n distinct fresh 127.0.0.x addresses sharing one port."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randint(20000, 60000)
        addrs = ["127.0.0.%d" % rng.randint(2, 250) for _ in range(n)]
        if len(set(addrs)) < n or not all(_port_free(a, port) for a in addrs):
            continue
        out = []
        try:
            for a in addrs:
                out.append(CountingBackend(a, port, version))
            return out
        except OSError:  # taken in between: try elsewhere
            for b in out:
                b.stop()
    raise RuntimeError("no port free on %d 127.0.0.x addresses" % n)


@pytest.fixture
def backends():
    """Factory: counting_backends(n); every backend is stopped at teardown."""
    made = []

    def make(n, version="HTTP/1.0"):
        bs = counting_backends(n, version)
        made.extend(bs)
        return bs
    yield make
    for b in made:
        b.stop()


def measure(window=WINDOW):
    """Let the probes run for `window` s; return (t0, t1) of the window."""
    t0 = time.monotonic()
    time.sleep(window)   # a measurement window, not a wait for a condition
    return t0, time.monotonic()


def rate_report(b, t0, t1):
    span = t1 - t0
    conns, reqs = b.conns_in(t0, t1), b.reqs_in(t0, t1)
    return ("%s:%d saw %d connections (%.2f/s) and %d requests (%.2f/s) in %.1f s; "
            "requests by (path, Host): %s"
            % (b.addr, b.port, conns, conns / span, reqs, reqs / span, span,
               b.seen(t0, t1)))


# --- DNS helpers -----------------------------------------------------------------

def a_answer(g, name, timeout=1.0):
    """(rcode, set of A addresses) of gslbd's answer for name."""
    r = g.query(name, "A", timeout=timeout)
    return r.rcode(), {rd.address for rr in r.answer for rd in rr
                       if hasattr(rd, "address")}


def wait_answers(g, want, timeout=10.0):
    """Until every name in want (name -> set of addresses) answers exactly that."""
    last = {}

    def ok():
        for name, addrs in want.items():
            try:
                rc, got = a_answer(g, name)
            except Exception as e:  # busy: ask again
                last[name] = repr(e)
                return False
            last[name] = (dns.rcode.to_text(rc), sorted(got))
            if rc != dns.rcode.NOERROR or got != addrs:
                return False
        return True
    try:
        wait_for(ok, timeout, 0.05, what="all %d names to answer" % len(want))
    except AssertionError as e:
        raise AssertionError("%s; last answers %s\nlog:\n%s"
                             % (e, last, g.log()[-4000:])) from None


# --- the KubeFed acceptance test --------------------------------------------------------

ZONE = "example.com"
RECORDS = ("web", "cart", "api")
NS = "shop"
EU, US = ("eu-west", ["eu-west-1a"]), ("us-east", ["us-east-1a"])


def kube_config(kubeconfig, cache):
    """gslbd config: zone example.com, default probe settings (http), the fake API."""
    return """server:
  workers: 2
zone:
  name: %s
  nameservers:
    - name: ns1
      addresses: [192.0.2.53]
probe-defaults:
  type: http
kubernetes:
  kubeconfig: %s
  cache-file: %s
  timeout: 2s
""" % (ZONE, kubeconfig, cache)


def names_of(svc):
    """The 5 names of one record: global, 2 region names, 2 zone names."""
    return {
        "global": ko.global_name(svc, NS),
        "region-eu": ko.region_name(svc, NS, EU[0]),
        "region-us": ko.region_name(svc, NS, US[0]),
        "zone-eu": ko.zone_name(svc, NS, EU[1][0], EU[0]),
        "zone-us": ko.zone_name(svc, NS, US[1][0], US[0]),
    }


def test_kubefed_shared_targets_probed_once_and_drop_together(fake_kube, gslbd,  # noqa: F811
                                                             tmp_path, backends):
    """Issue 9: 3 ServiceDNSRecords on 2 shared LBs: <= 1.5 probes/s per address; a dead LB leaves all 15 names within 200 ms."""
    why = kube_support()
    if why:
        pytest.fail(why, pytrace=False)
    a, b = backends(2)            # the two shared load balancers
    k = fake_kube(bookmark_interval=0.5)
    k.apply(ko.domain("kubefed", ZONE, "ns1." + ZONE))
    k.apply(ko.kubefed_cluster("eu", True, EU[0], EU[1]))
    k.apply(ko.kubefed_cluster("us", True, US[0], US[1]))
    ann = {"gslbd.io/probe-port": str(a.port),
           "gslbd.io/probe-path": HEALTH_PATH,
           "gslbd.io/probe-host": PROBE_HOST}
    for svc in RECORDS:
        k.apply(ko.service_dns_record(svc, NS, annotations=ann, dns=[
            ko.cluster_dns("eu", [a.addr, b.addr], region=EU[0], zones=EU[1]),
            ko.cluster_dns("us", [b.addr, a.addr], region=US[0], zones=US[1])]))
    d = tmp_path / "kube"
    d.mkdir()
    kubeconfig = str(d / "kubeconfig")
    write_kubeconfig(kubeconfig, k.server, ca=k.certs["ca"], token="fake-token")
    g = gslbd(kube_config(kubeconfig, str(d / "kube-cache.json")))

    # every name served: both clusters, so every level, have both LBs
    want = {name: {a.addr, b.addr} for svc in RECORDS
            for name in names_of(svc).values()}
    assert len(want) == 15
    wait_answers(g, want, 10)

    # Phase 1: probe load per address over a window of several intervals.
    wait_for(lambda: a.reqs and b.reqs, 5, what="the first probes of both LBs")
    t0, t1 = measure()
    for be in (a, b):
        conns, reqs = be.conns_in(t0, t1), be.reqs_in(t0, t1)
        assert conns >= MIN_IN_WINDOW and reqs >= MIN_IN_WINDOW, \
            "LB not probed every interval: " + rate_report(be, t0, t1)
        assert conns / (t1 - t0) <= MAX_RATE, \
            "LB probed more than once per interval: " + rate_report(be, t0, t1)
        assert reqs / (t1 - t0) <= MAX_RATE, \
            "LB probed more than once per interval: " + rate_report(be, t0, t1)
    # every name still up on both
    wait_answers(g, want, 2)

    # Phase 2: stop LB a (its port then refuses); poll all 15 names in a
    # tight loop, one UDP query after another (a round takes milliseconds).
    names = sorted(want)
    a.stop()
    t_stop = time.monotonic()
    dropped = {}        # name -> first time a is gone from its answer
    back = []           # (name, time): a came back after it was dropped
    bad = []            # answers without b, or not NOERROR
    deadline = t_stop + DROP_DEADLINE
    while len(dropped) < len(names) and time.monotonic() < deadline:
        for name in names:
            try:
                rc, got = a_answer(g, name, timeout=0.5)
            except Exception:  # a lost or late reply: ask again
                continue
            now = time.monotonic()
            if rc != dns.rcode.NOERROR:
                bad.append((name, dns.rcode.to_text(rc), now - t_stop))
                continue
            if b.addr not in got:
                bad.append((name, sorted(got), now - t_stop))
            if a.addr in got:
                if name in dropped:
                    back.append((name, now - t_stop))
            elif name not in dropped:
                dropped[name] = now
    missing = [n for n in names if n not in dropped]
    assert not missing, ("%d of 15 names still answer %s %.0f s after its LB stopped: %s\nlog:\n%s"
                         % (len(missing), a.addr, DROP_DEADLINE, missing, g.log()[-3000:]))
    times = {n: round(t - t_stop, 3) for n, t in dropped.items()}
    spread = max(dropped.values()) - min(dropped.values())
    assert spread <= DROP_SPREAD, \
        ("the 15 names dropped %s over %.3f s (> %.1f s); seconds after the stop: %s"
         % (a.addr, spread, DROP_SPREAD, times))
    assert not back, "%s came back after being dropped: %s" % (a.addr, back)
    assert not bad, "answers without the live LB %s (name, answer, s): %s" % (b.addr, bad)
    # and they stay that way: every name answers the live LB only
    wait_answers(g, {n: {b.addr} for n in names}, 2)


# --- the same for services of the configuration file -----------------------------------

STATIC_ZONE = "global.example.org."


def static_service(name, addr, port, path, host=PROBE_HOST):
    return """  - name: %s
    probe:
      port: %d
      path: %s
      host: %s
    endpoints:
      - region: eu-west
        addresses: [%s]
""" % (name, port, path, host, addr)


def test_static_services_share_a_target_other_settings_do_not(gslbd, backends):
    """Config services with one address and equal probe settings share one probe; a different path is its own probe."""
    (c,) = backends(1)
    g = gslbd("""server:
  workers: 1
zone:
  name: global.example.org
  nameservers:
    - name: ns1
      addresses: [192.0.2.53]
probe-defaults:
  type: http
services:
""" + static_service("www1", c.addr, c.port, HEALTH_PATH)
        + static_service("www2", c.addr, c.port, HEALTH_PATH)
        + static_service("www3", c.addr, c.port, "/other"))
    wait_answers(g, {n + "." + STATIC_ZONE: {c.addr} for n in ("www1", "www2", "www3")}, 10)
    wait_for(lambda: c.reqs_in(0, float("inf"), HEALTH_PATH)
             and c.reqs_in(0, float("inf"), "/other"), 5,
             what="first probes of both paths")
    t0, t1 = measure()
    shared = c.reqs_in(t0, t1, HEALTH_PATH)
    other = c.reqs_in(t0, t1, "/other")
    assert shared >= MIN_IN_WINDOW, \
        "shared target not probed every interval: " + rate_report(c, t0, t1)
    assert shared / (t1 - t0) <= MAX_RATE, \
        ("two services with equal probe settings: %s%s probed %.2f times a second: "
         % (c.addr, HEALTH_PATH, shared / (t1 - t0))) + rate_report(c, t0, t1)
    assert MIN_IN_WINDOW <= other and other / (t1 - t0) <= MAX_RATE, \
        "the /other target is not probed once per interval: " + rate_report(c, t0, t1)
    # load-independent: the shared target gets no more probes than the lone
    # one (at the same interval), give or take the window's edges
    assert shared <= other + 2, \
        ("%s%s probed %d times while the lone %s/other target was probed %d times: "
         % (c.addr, HEALTH_PATH, shared, c.addr, other)) + rate_report(c, t0, t1)
    # two targets, one connection per probe: about two connections an interval
    assert c.conns_in(t0, t1) / (t1 - t0) <= 2 * MAX_RATE, rate_report(c, t0, t1)

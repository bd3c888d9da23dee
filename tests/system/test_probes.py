"""Active health probes (HTTP, HTTPS, TCP) driving the answers, and the
load-balancing policies (all, failover, weighted, topology, all-down) on
top of them.  Every backend is a real server on its own 127.0.0.x address,
standing for one region; gslbd probes it with short settings, and the
tests bound every wait by what those settings imply."""
import calendar
import http.server
import os
import re
import socket
import ssl
import subprocess
import threading
import time

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype as T
import pytest

from conftest import free_endpoint, wait_for

Z = "global.example.org."

# Probe settings used throughout, and the bounds they imply.
INTERVAL, TIMEOUT, JITTER = 0.2, 0.15, 0.02
RISE, FALL = 2, 2
# Scheduling slack on a loaded 2-core machine (and a sanitizer build).
SLACK = 1.0
# The last of FALL failed probes starts at most FALL x (interval + jitter)
# after the backend dies and fails at most one timeout later.
DOWN_BOUND = FALL * (INTERVAL + JITTER) + TIMEOUT + SLACK
# The first success comes at most one interval + jitter after the backend
# is back, the RISE-th RISE - 1 periods later.
UP_BOUND = RISE * (INTERVAL + JITTER) + TIMEOUT + SLACK

PROBE_DEFAULTS = """probe-defaults:
  type: http
  interval: %dms
  timeout: %dms
  jitter: %dms
  rise: %d
  fall: %d
  path: /healthz
""" % (INTERVAL * 1000, TIMEOUT * 1000, JITTER * 1000, RISE, FALL)

ZONE_HEAD = """server:
  workers: 1
zone:
  name: global.example.org
  soa:
    serial: 7
    minimum: 60s
  nameservers:
    - name: ns1
      addresses: [192.0.2.53]
"""


def n(label):
    return label + "." + Z


def ep(region, addrs, port=None, probe=(), **keys):
    """One endpoint in YAML; probe lines go in its own probe block."""
    if isinstance(addrs, str):
        addrs = [addrs]
    lines = ["      - region: %s" % region,
             "        addresses: [%s]" % ", ".join(addrs)]
    for k, v in keys.items():
        lines.append("        %s: %s" % (k.replace("_", "-"), v))
    probe = list(probe)
    if port is not None:
        probe.insert(0, "port: %d" % port)
    if probe:
        lines.append("        probe:")
        lines += ["          " + p for p in probe]
    return "\n".join(lines) + "\n"


def svc(name, endpoints, policy="all", probe=(), **keys):
    """One service in YAML."""
    lines = ["  - name: %s" % name, "    policy: %s" % policy, "    ttl: 5s"]
    for k, v in keys.items():
        lines.append("    %s: %s" % (k.replace("_", "-"), v))
    if probe:
        lines.append("    probe:")
        lines += ["      " + p for p in probe]
    lines.append("    endpoints:")
    return "\n".join(lines) + "\n" + "".join(endpoints)


def config(*services, topology=""):
    return ZONE_HEAD + PROBE_DEFAULTS + topology + "services:\n" + "".join(services)


def backend_ep(region, b, **kw):
    return ep(region, b.addr, port=b.port, **kw)


# --- answers and logs -------------------------------------------------------

def answer(g, name="www", rdtype="A", **kw):
    m = g.query(n(name), rdtype, **kw)
    assert m.rcode() == dns.rcode.NOERROR, m
    return [rd.address for rr in m.answer for rd in rr]


def aset(g, name="www", **kw):
    return set(answer(g, name, **kw))


def dig_set(g, name="www", *args):
    out = g.dig("+short", n(name), "A", *args)
    return set(l for l in out.split() if l)


def wait_answer(g, want, name="www", timeout=DOWN_BOUND):
    """Wait until the A set of name is exactly want; return the time taken."""
    t0 = time.monotonic()
    want = set(want)
    last = []

    def ok():
        m = g.query(n(name), "A")
        got = {rd.address for rr in m.answer for rd in rr}
        last[:] = [(dns.rcode.to_text(m.rcode()), sorted(got))]
        return m.rcode() == dns.rcode.NOERROR and got == want
    try:
        wait_for(ok, timeout, 0.03, what="answers %s" % sorted(want))
    except AssertionError as e:
        raise AssertionError("%s; last answer %s\nlog:\n%s"
                             % (e, last[0] if last else None,
                                g.log()[-4000:]))
    return time.monotonic() - t0


LOG_RE = re.compile(
    r"^(\S+)Z gslbd\[\w+\]: (health change|probe verdict) address=(\S+) "
    r"port=(\d+) type=(\w+) host=(\S+) (?:ok=(\d) )?state=(\w+) reason=(.*)$")


def _ts(stamp):
    base, ms = stamp.split(".")
    return calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) + int(ms) / 1000.0


def events(g, addr=None):
    """Probe log lines: dicts with t, change (bool), ok, state, reason."""
    out = []
    for line in g.log().splitlines():
        m = LOG_RE.match(line)
        if not m or (addr and m.group(3) != addr):
            continue
        change = m.group(2) == "health change"
        out.append(dict(t=_ts(m.group(1)), change=change, addr=m.group(3),
                        port=int(m.group(4)), type=m.group(5), host=m.group(6),
                        ok=(m.group(8) == "up") if change else m.group(7) == "1",
                        state=m.group(8), reason=m.group(9)))
    return out


def changes(g, addr):
    return [e for e in events(g, addr) if e["change"]]


def wait_change(g, addr, state, timeout=DOWN_BOUND, after=0):
    """Wait for the (after+1)-th health change of addr to state; return it."""
    def find():
        cs = [c for c in changes(g, addr) if c["state"] == state]
        return cs[after] if len(cs) > after else None
    try:
        return wait_for(find, timeout, 0.03)
    except AssertionError:
        raise AssertionError("no health change of %s to %s within %.1fs:\n%s"
                             % (addr, state, timeout, g.log()[-4000:]))


def ecs_of(msg):
    for o in msg.options:
        if isinstance(o, dns.edns.ECSOption):
            return o
    return None


# --- backends of our own ----------------------------------------------------

# Addresses taken in the running test: free_endpoint() may hand out one
# 127.0.0.x twice (with different ports), and two regions on one address
# would make the answers ambiguous.
USED = set()


@pytest.fixture(autouse=True)
def _fresh_addresses():
    USED.clear()
    yield
    USED.clear()


def distinct(make):
    """Call make() until what it returns has an address no one else in
    this test has; the rejects are cleaned up with the rest."""
    for _ in range(100):
        obj = make()
        addr = obj[0] if isinstance(obj, tuple) else obj.addr
        if addr not in USED:
            USED.add(addr)
            return obj
    raise RuntimeError("no distinct 127.0.0.x address")


@pytest.fixture
def backend(http_backend):
    """conftest's http_backend, each on an address of its own."""
    def make(**kw):
        return distinct(lambda: http_backend(**kw))
    return make

def restart(b):
    """Start a stopped conftest http_backend again on the same address and port."""
    assert b.stopped
    b.server = http.server.ThreadingHTTPServer((b.addr, b.port),
                                               b.server.RequestHandlerClass)
    b.server.daemon_threads = True
    b.thread = threading.Thread(target=b.server.serve_forever,
                                kwargs={"poll_interval": 0.1}, daemon=True)
    b.thread.start()
    b.stopped = False


class Scripted:
    """An HTTP(S) server whose answer to the k-th request is respond(k);
    it records (method, path, headers) of every request."""

    def __init__(self, respond, tls=None):
        self.respond = respond
        self.requests = []
        self.lock = threading.Lock()
        me = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"
            timeout = 2

            def setup(self):
                if tls:
                    self.request.settimeout(2)
                    self.request.do_handshake()
                super().setup()

            def _answer(self, body_too):
                with me.lock:
                    me.requests.append((self.command, self.path, dict(self.headers)))
                    status, body = me.respond(len(me.requests))
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body_too:
                    self.wfile.write(body)

            def do_GET(self):
                self._answer(True)

            def do_HEAD(self):
                self._answer(False)

            def log_message(self, *a):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self):
                s, a = self.socket.accept()
                if tls:
                    s = tls.wrap_socket(s, server_side=True,
                                        do_handshake_on_connect=False)
                return s, a

            def handle_error(self, request, client_address):
                pass  # a client that rejects our certificate, say

        for _ in range(50):
            addr, port = free_endpoint()
            try:
                self.server = Server((addr, port), Handler)
                break
            except OSError:
                continue
        self.addr, self.port = addr, port
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def methods(self):
        with self.lock:
            return [r[0] for r in self.requests]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def scripted():
    """Factory: Scripted(respond, tls=None) servers, stopped at teardown."""
    made = []

    def make1(respond, tls=None):
        s = Scripted(respond, tls)
        made.append(s)
        return s

    def make(respond, tls=None):
        return distinct(lambda: make1(respond, tls))
    yield make
    for s in made:
        s.stop()


@pytest.fixture
def listener():
    """Factory: a TCP port on a fresh 127.0.0.x that completes handshakes
    (the kernel's backlog) but never accepts, so never answers."""
    socks = []

    def make1():
        for _ in range(50):
            addr, port = free_endpoint()
            s = socket.socket()
            try:
                s.bind((addr, port))
            except OSError:
                s.close()
                continue
            s.listen(128)
            socks.append(s)
            return addr, port
        raise RuntimeError("no listener address")

    def make():
        return distinct(make1)
    yield make
    for s in socks:
        s.close()


def closed_port():
    """A 127.0.0.x address and port where nothing listens (refused)."""
    return distinct(free_endpoint)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A private CA and a server certificate for secure.global.example.org,
    made with the openssl CLI."""
    d = str(tmp_path_factory.mktemp("pki"))

    def ossl(*args):
        subprocess.run(["openssl"] + list(args), cwd=d, check=True, timeout=30,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ossl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
         "-subj", "/CN=gslbd test CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    ossl("req", "-new", *ec, "-keyout", "srv.key", "-out", "srv.csr",
         "-subj", "/CN=secure.global.example.org")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=DNS:secure.global.example.org\n"
                "basicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\n")
    ossl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "srv.pem", "-days", "2", "-extfile", "ext.cnf")
    return dict(ca=os.path.join(d, "ca.pem"), cert=os.path.join(d, "srv.pem"),
                key=os.path.join(d, "srv.key"))


def tls_context(certs):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs["cert"], certs["key"])
    return ctx


def ok_200(k):
    return 200, b"ok"


DEBUG = ("-l", "debug")


# --- health transitions -----------------------------------------------------

def test_stopped_backend_leaves_and_returns_after_rise(gslbd, backend):
    """A stopped backend leaves the answers within fall x (interval+jitter) + timeout, after exactly `fall` failures; restarted, it returns within rise periods, after exactly `rise` successes."""
    a, b = backend(), backend()
    g = gslbd(config(svc("www", [backend_ep("eu", a), backend_ep("us", b)])), args=DEBUG)
    wait_change(g, a.addr, "up")
    wait_answer(g, {a.addr, b.addr})

    a.stop()
    took = wait_answer(g, {b.addr}, timeout=DOWN_BOUND)
    down = wait_change(g, a.addr, "down", timeout=1)
    assert down["reason"] == "refused", down
    assert took <= DOWN_BOUND
    # Exactly fall - 1 failed verdicts while still up, then the transition.
    evs = events(g, a.addr)
    i = evs.index(down)
    before = evs[i - (FALL - 1):i]
    assert [(e["change"], e["ok"], e["state"]) for e in before] == \
        [(False, False, "up")] * (FALL - 1), evs[i - FALL:i + 1]
    assert evs[i - FALL]["ok"], "the transition came after more than fall failures: %s" % evs

    restart(a)
    took = wait_answer(g, {a.addr, b.addr}, timeout=UP_BOUND)
    assert took <= UP_BOUND
    up = wait_change(g, a.addr, "up", after=1, timeout=1)
    assert up["reason"] == "status 200"
    evs = events(g, a.addr)
    i = evs.index(up)
    before = evs[i - (RISE - 1):i]
    assert [(e["change"], e["ok"], e["state"]) for e in before] == \
        [(False, True, "down")] * (RISE - 1), evs[i - RISE:i + 1]
    assert not evs[i - RISE]["ok"], "came back after more than rise successes: %s" % evs
    assert changes(g, b.addr)[-1]["state"] == "up" and len(changes(g, b.addr)) == 1


def test_first_verdict_is_immediate(gslbd, backend):
    """The first probe result decides at once: a dead backend is out within about one timeout + jitter of start, even with a long interval and fall 3."""
    a = backend()
    dead = closed_port()
    cfg = config(svc("www", [backend_ep("eu", a), ep("us", dead[0], port=dead[1])],
                     probe=["interval: 3s", "timeout: 300ms", "fall: 3"]))
    t0 = time.monotonic()
    g = gslbd(cfg)
    wait_answer(g, {a.addr}, timeout=2.5)
    # Slow start (fall x interval) would take 6 s; fast is one probe.
    assert time.monotonic() - t0 < 2.5
    down = wait_change(g, dead[0], "down", timeout=1)
    assert down["reason"] == "refused"
    serving = [l for l in g.log().splitlines() if "serving zone=" in l]
    assert serving, g.log()
    start = _ts(serving[0].split("Z ")[0])
    # One probe (timeout 300ms, refused sooner) after its jitter.
    assert down["t"] - start <= 0.3 + JITTER + 0.5, (down, serving[0])


def test_flapping_backend_does_not_flap_answers(gslbd, backend, scripted):
    """A backend alternating success and failure on every probe keeps its first verdict: no health transition and no change in the answers while it flaps (rise = fall = 2)."""
    steady = backend()
    flap = scripted(lambda k: (200, b"ok") if k % 2 else (503, b"no"))
    g = gslbd(config(svc("www", [backend_ep("eu", steady), backend_ep("us", flap)])),
              args=DEBUG)
    wait_change(g, flap.addr, "up")
    seen = set()
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        seen.add(frozenset(aset(g)))
        time.sleep(0.05)
    assert seen == {frozenset({steady.addr, flap.addr})}, seen
    evs = events(g, flap.addr)
    fails = [e for e in evs if not e["change"] and not e["ok"]]
    succ = [e for e in evs if not e["change"] and e["ok"]]
    assert len(fails) >= 3 and len(succ) >= 3, "it did not flap: %s" % evs
    assert all(e["reason"] == "status 503" for e in fails), fails
    assert len(changes(g, flap.addr)) == 1, changes(g, flap.addr)


# --- HTTP probe settings and failure reasons --------------------------------

def test_timeout_backend_leaves_reason_timeout(gslbd, backend, listener):
    """A backend that accepts connections but never answers fails by timeout: it is out of the answers and the log says reason=timeout."""
    a = backend()
    mute = listener()
    g = gslbd(config(svc("www", [backend_ep("eu", a), ep("us", mute[0], port=mute[1])])))
    wait_answer(g, {a.addr})
    down = wait_change(g, mute[0], "down", timeout=1)
    assert down["reason"] == "timeout", down


def test_status_503_leaves(gslbd, backend):
    """A backend that starts answering 503 leaves within the fall bound, with reason "status 503"; answering 200 again brings it back."""
    a, b = backend(), backend()
    g = gslbd(config(svc("www", [backend_ep("eu", a), backend_ep("us", b)])))
    wait_change(g, a.addr, "up")
    a.status = 503
    wait_answer(g, {b.addr}, timeout=DOWN_BOUND)
    assert wait_change(g, a.addr, "down", timeout=1)["reason"] == "status 503"
    a.status = 200
    wait_answer(g, {a.addr, b.addr}, timeout=UP_BOUND)


def test_expect_status_list(gslbd, backend):
    """expect-status ["200-299", 404] accepts a 404 and rejects a 302 that the default range would accept."""
    ok = backend(status=200)
    nf = backend(status=404)
    redirect = backend(status=302)
    g = gslbd(config(svc("www", [backend_ep("a", ok), backend_ep("b", nf),
                                 backend_ep("c", redirect)],
                         probe=['expect-status: ["200-299", 404]'])))
    wait_answer(g, {ok.addr, nf.addr})
    assert wait_change(g, nf.addr, "up", timeout=1)["reason"] == "status 404"
    assert wait_change(g, redirect.addr, "down", timeout=1)["reason"] == "status 302"


def test_expect_body(gslbd, backend):
    """expect-body: a 200 whose body lacks the string is down with reason "body mismatch"; one that contains it is up."""
    good = backend(body=b"status: all healthy here\n")
    bad = backend(body=b"status: degraded\n")
    g = gslbd(config(svc("www", [backend_ep("a", good), backend_ep("b", bad)],
                         probe=['expect-body: "healthy"'])))
    wait_answer(g, {good.addr})
    assert wait_change(g, bad.addr, "down", timeout=1)["reason"] == "body mismatch"
    assert wait_change(g, good.addr, "up", timeout=1)["reason"] == "status 200"
    bad.body = b"now healthy"
    wait_answer(g, {good.addr, bad.addr}, timeout=UP_BOUND)


def test_method_head(gslbd, scripted):
    """method: HEAD sends HEAD requests (and the default sends GET)."""
    head = scripted(ok_200)
    get = scripted(ok_200)
    g = gslbd(config(svc("www", [backend_ep("a", head, probe=["method: HEAD"]),
                                 backend_ep("b", get)])))
    wait_for(lambda: len(head.methods()) >= 2 and len(get.methods()) >= 2, 3)
    assert set(head.methods()) == {"HEAD"}, head.methods()
    assert set(get.methods()) == {"GET"}, get.methods()
    wait_answer(g, {head.addr, get.addr})
    assert g.alive()


def test_host_header_path_and_custom_header(gslbd, backend):
    """The probe sends the configured path, Host header and extra headers; without host, the Host is the service name."""
    custom = backend()
    plain = backend()
    g = gslbd(config(
        svc("www", [backend_ep("a", custom)],
            probe=["path: /health/check?deep=1", "host: probe.example.test",
                   'headers: ["X-Probe: gslbd-test", "X-Region: eu"]']),
        svc("api", [backend_ep("a", plain)])))
    wait_for(lambda: custom.hits >= 1 and plain.hits >= 1, 3)
    h = custom.headers[0]
    assert custom.paths[0] == "/health/check?deep=1"
    assert h.get("Host") in ("probe.example.test", "probe.example.test:%d" % custom.port), h
    assert h.get("X-Probe") == "gslbd-test" and h.get("X-Region") == "eu", h
    h = plain.headers[0]
    assert plain.paths[0] == "/healthz"
    assert h.get("Host") in ("api.global.example.org",
                             "api.global.example.org:%d" % plain.port), h
    assert "X-Probe" not in h
    assert g.alive()


# A TLS handshake with a Python server on a loaded machine can take longer
# than the 150ms used elsewhere: give HTTPS probes room.
HTTPS_PROBE = ["type: https", "interval: 500ms", "timeout: 400ms"]
HTTPS_BOUND = 2 * (0.5 + JITTER) + 0.4 + SLACK


def wait_reason(g, addr, prefix, timeout=HTTPS_BOUND):
    """Wait for a verdict (or change) of addr whose reason starts with prefix."""
    def find():
        return [e for e in events(g, addr) if e["reason"].startswith(prefix)]
    try:
        return wait_for(find, timeout, 0.03)[0]
    except AssertionError:
        raise AssertionError("no %r verdict for %s within %.1fs:\n%s"
                             % (prefix, addr, timeout, g.log()[-4000:]))


def test_https_verify_ca_file_and_no_verify(gslbd, scripted, certs):
    """HTTPS to a server with a private CA: verification against the system store fails with a "tls error", ca-file makes it pass, tls-verify false makes it pass."""
    ctx = tls_context(certs)
    strict = scripted(ok_200, tls=ctx)
    with_ca = scripted(ok_200, tls=ctx)
    lax = scripted(ok_200, tls=ctx)
    g = gslbd(config(svc("secure", [
        backend_ep("a", strict),
        backend_ep("b", with_ca, probe=["ca-file: %s" % certs["ca"]]),
        backend_ep("c", lax, probe=["tls-verify: false"]),
    ], probe=HTTPS_PROBE)), args=DEBUG)
    wait_answer(g, {with_ca.addr, lax.addr}, name="secure", timeout=HTTPS_BOUND)
    wait_reason(g, strict.addr, "tls error (host secure.global.example.org): ")
    assert not [e for e in events(g, strict.addr) if e["ok"]], events(g, strict.addr)
    wait_reason(g, with_ca.addr, "status 200")
    wait_reason(g, lax.addr, "status 200")
    # The verified probe got through TLS to the HTTP layer, with the service
    # name as Host (and SNI: the certificate is only valid for that name).
    wait_for(lambda: with_ca.requests, 2)
    assert with_ca.requests[0][2]["Host"].startswith("secure.global.example.org")
    assert not strict.requests


def test_https_wrong_name_fails(gslbd, scripted, certs, backend):
    """With the right CA but a host the certificate is not for, the HTTPS probe fails with a "tls error" naming that host."""
    other = backend()
    srv = scripted(ok_200, tls=tls_context(certs))
    g = gslbd(config(svc("secure", [
        backend_ep("a", srv, probe=HTTPS_PROBE + ["ca-file: %s" % certs["ca"],
                                                  "host: elsewhere.example.test"]),
        backend_ep("b", other)])), args=DEBUG)
    wait_answer(g, {other.addr}, name="secure", timeout=HTTPS_BOUND)
    wait_reason(g, srv.addr, "tls error (host elsewhere.example.test): ")
    assert not [e for e in events(g, srv.addr) if e["ok"]], events(g, srv.addr)
    assert not srv.requests


def test_tcp_probe_open_and_closed(gslbd, listener):
    """type tcp: a port that accepts is up, a closed port is down with reason "refused"."""
    open_ = listener()
    shut = closed_port()
    g = gslbd(config(svc("www", [ep("a", open_[0], port=open_[1]),
                                 ep("b", shut[0], port=shut[1])],
                         probe=["type: tcp"])))
    wait_answer(g, {open_[0]})
    assert wait_change(g, shut[0], "down", timeout=1)["reason"] == "refused"
    assert wait_change(g, open_[0], "up", timeout=1)


# --- policies ---------------------------------------------------------------

def test_policy_all_rotates_capped_healthy_only(gslbd, backend):
    """policy all: every healthy address, at most max-answers per answer, the order rotating; a down one never appears."""
    bs = [backend() for _ in range(4)]
    dead = closed_port()
    eps = [backend_ep("r%d" % i, b) for i, b in enumerate(bs)]
    eps.append(ep("dead", dead[0], port=dead[1]))
    g = gslbd(config(svc("www", eps, max_answers=3)))
    healthy = {b.addr for b in bs}
    wait_change(g, dead[0], "down")
    firsts, union = [], set()
    for _ in range(8):
        out = [l for l in g.dig("+short", n("www"), "A").split() if l]
        assert len(out) == 3 and len(set(out)) == 3, out
        assert set(out) <= healthy, out
        firsts.append(out[0])
        union |= set(out)
    assert union == healthy
    assert len(set(firsts)) >= 3, "no rotation: %s" % firsts


def test_policy_failover(gslbd, backend):
    """policy failover: only the lowest priority value with a healthy endpoint; the next one only when it has none; back when it recovers."""
    p1, p2, p3 = backend(), backend(), backend()
    g = gslbd(config(svc("www", [backend_ep("eu", p1, priority=1),
                                 backend_ep("us", p2, priority=2),
                                 backend_ep("ap", p3, priority=3)],
                         policy="failover")))
    wait_change(g, p1.addr, "up")
    assert dig_set(g) == {p1.addr}
    p1.stop()
    wait_answer(g, {p2.addr})
    assert dig_set(g) == {p2.addr}
    restart(p1)
    wait_answer(g, {p1.addr}, timeout=UP_BOUND)
    assert dig_set(g) == {p1.addr}


def test_policy_weighted(gslbd, backend):
    """policy weighted: over 400 answers each endpoint's share follows its weight, one endpoint per answer, never an unhealthy one."""
    heavy, light = backend(), backend()
    dead = closed_port()
    g = gslbd(config(svc("www", [backend_ep("eu", heavy, weight=3),
                                 backend_ep("us", light, weight=1),
                                 ep("ap", dead[0], port=dead[1], weight=4)],
                         policy="weighted")))
    wait_change(g, dead[0], "down")
    wait_change(g, heavy.addr, "up")
    wait_change(g, light.addr, "up")
    counts = {}
    for _ in range(400):
        out = answer(g)
        assert len(out) == 1, out
        counts[out[0]] = counts.get(out[0], 0) + 1
    assert set(counts) <= {heavy.addr, light.addr}, counts
    # Expected 300 : 100; binomial sd about 9.
    assert 255 <= counts.get(heavy.addr, 0) <= 345, counts


TOPOLOGY = """topology:
  - region: eu
    subnets: [10.1.0.0/16, 127.0.0.200/29]
  - region: us
    subnets: [10.2.0.0/16, 127.0.0.208/29]
"""


def query_from(g, name, source, **kw):
    q = dns.message.make_query(n(name), "A", **kw)
    return dns.query.udp(q, g.addr, port=g.port, timeout=2, source=source)


def test_policy_topology(gslbd, backend):
    """policy topology: the ECS subnet, else the resolver's address, picks the region; the reply's ECS scope is the rule's prefix; unmatched clients get every healthy address; the client's region down gives the other healthy ones."""
    eu, us, ap = backend(), backend(), backend()
    g = gslbd(config(svc("www", [backend_ep("eu", eu), backend_ep("us", us),
                                 backend_ep("ap", ap)], policy="topology"),
                     topology=TOPOLOGY))
    for b in (eu, us, ap):
        wait_change(g, b.addr, "up")

    m = g.query(n("www"), "A", use_edns=0, options=[dns.edns.ECSOption("10.1.2.0", 24)])
    assert {rd.address for rr in m.answer for rd in rr} == {eu.addr}, m
    o = ecs_of(m)
    assert o is not None and o.srclen == 24 and o.scopelen == 16, m
    m = g.query(n("www"), "A", use_edns=0, options=[dns.edns.ECSOption("10.2.200.0", 24)])
    assert {rd.address for rr in m.answer for rd in rr} == {us.addr}, m
    assert ecs_of(m).scopelen == 16
    out = g.dig("+subnet=10.1.7.0/24", n("www"), "A")
    assert "CLIENT-SUBNET: 10.1.7.0/24/16" in out, out
    assert re.search(r"IN\s+A\s+%s\b" % re.escape(eu.addr), out), out
    assert not re.search(r"IN\s+A\s+%s\b" % re.escape(us.addr), out), out
    # Unmatched subnet: everything healthy.
    m = g.query(n("www"), "A", use_edns=0, options=[dns.edns.ECSOption("10.9.0.0", 16)])
    assert {rd.address for rr in m.answer for rd in rr} == {eu.addr, us.addr, ap.addr}

    # No ECS: the resolver's own address decides.
    m = query_from(g, "www", "127.0.0.203")
    assert {rd.address for rr in m.answer for rd in rr} == {eu.addr}, m
    m = query_from(g, "www", "127.0.0.210")
    assert {rd.address for rr in m.answer for rd in rr} == {us.addr}, m
    m = query_from(g, "www", "127.0.0.199")
    assert {rd.address for rr in m.answer for rd in rr} == {eu.addr, us.addr, ap.addr}, m

    # The client's region down: the other healthy ones.
    eu.stop()
    wait_change(g, eu.addr, "down")

    def eu_clients():
        m = g.query(n("www"), "A", use_edns=0,
                    options=[dns.edns.ECSOption("10.1.2.0", 24)])
        return {rd.address for rr in m.answer for rd in rr} == {us.addr, ap.addr}
    wait_for(eu_clients, 1, what="eu clients to get the other regions")
    m = query_from(g, "www", "127.0.0.203")
    assert {rd.address for rr in m.answer for rd in rr} == {us.addr, ap.addr}, m
    # The others are unaffected.
    m = query_from(g, "www", "127.0.0.210")
    assert {rd.address for rr in m.answer for rd in rr} == {us.addr}, m


def test_ecs_echo_scope_zero_for_policy_all(gslbd, backend):
    """A query with ECS to a policy-all service gets the option echoed with scope 0 (the answer is the same for everyone)."""
    a = backend()
    g = gslbd(config(svc("www", [backend_ep("eu", a)]), topology=TOPOLOGY))
    wait_change(g, a.addr, "up")
    m = g.query(n("www"), "A", use_edns=0, options=[dns.edns.ECSOption("10.1.2.0", 24)])
    assert {rd.address for rr in m.answer for rd in rr} == {a.addr}
    o = ecs_of(m)
    assert o is not None, m
    assert o.srclen == 24 and o.scopelen == 0 and o.address == "10.1.2.0", o
    out = g.dig("+subnet=10.1.7.0/24", n("www"), "A")
    assert "CLIENT-SUBNET: 10.1.7.0/24/0" in out, out


# --- all down, enabled: false ----------------------------------------------

def test_all_down_serve_all_default(gslbd, backend):
    """all-down serve-all (the default): with every probe failing, every enabled address is answered, and a disabled endpoint is not, healthy as it is."""
    d1, d2 = closed_port(), closed_port()
    off = backend()
    g = gslbd(config(svc("www", [ep("eu", d1[0], port=d1[1]), ep("us", d2[0], port=d2[1]),
                                 backend_ep("ap", off, enabled="false")])))
    wait_change(g, d1[0], "down")
    wait_change(g, d2[0], "down")
    for _ in range(5):
        assert dig_set(g) == {d1[0], d2[0]}


def test_all_down_servfail(gslbd, backend):
    """all-down servfail: SERVFAIL once the last healthy address fails, answers again when it recovers."""
    a = backend()
    dead = closed_port()
    g = gslbd(config(svc("www", [backend_ep("eu", a), ep("us", dead[0], port=dead[1])],
                         all_down="servfail")))
    wait_change(g, dead[0], "down")
    wait_answer(g, {a.addr})
    a.stop()

    def servfail():
        return g.query(n("www"), "A").rcode() == dns.rcode.SERVFAIL
    wait_for(servfail, DOWN_BOUND, 0.03, what="SERVFAIL")
    assert "status: SERVFAIL" in g.dig(n("www"), "A")
    restart(a)
    wait_answer(g, {a.addr}, timeout=UP_BOUND)


def test_all_down_nodata(gslbd):
    """all-down nodata: NOERROR, AA, no answer, the zone's SOA in authority."""
    d1, d2 = closed_port(), closed_port()
    g = gslbd(config(svc("www", [ep("eu", d1[0], port=d1[1]), ep("us", d2[0], port=d2[1])],
                         all_down="nodata")))
    wait_change(g, d1[0], "down")
    wait_change(g, d2[0], "down")

    def nodata():
        m = g.query(n("www"), "A")
        return m if m.rcode() == dns.rcode.NOERROR and not m.answer else None
    m = wait_for(nodata, 1, 0.03, what="NODATA")
    assert m.flags & dns.flags.AA
    assert len(m.authority) == 1 and m.authority[0].rdtype == T.SOA, m
    assert m.authority[0].name.to_text().lower() == Z
    assert m.authority[0][0].serial == 7


def test_disabled_endpoint_never_answered(gslbd, backend):
    """enabled: false leaves a healthy endpoint out of every answer, under every policy."""
    on, off = backend(), backend()
    g = gslbd(config(
        svc("www", [backend_ep("eu", on), backend_ep("us", off, enabled="false")]),
        svc("fo", [backend_ep("eu", on, priority=2),
                   backend_ep("us", off, priority=1, enabled="false")], policy="failover"),
        svc("wt", [backend_ep("eu", on, weight=1),
                   backend_ep("us", off, weight=100, enabled="false")], policy="weighted")))
    wait_change(g, on.addr, "up")
    hits = on.hits   # two more probe rounds: time for a wrong verdict to show
    wait_for(lambda: on.hits >= hits + 2, 5, what="two more probes")
    for name in ("www", "fo", "wt"):
        for _ in range(20):
            assert aset(g, name) == {on.addr}, name
    assert dig_set(g, "www") == {on.addr}


# --- reload -----------------------------------------------------------------

def test_reload_keeps_state_and_probes_new_endpoints(gslbd, backend):
    """SIGHUP with an unchanged config keeps a down address down with no new transition; endpoints added by a reload are probed at once: a live one is answered, a dead one leaves."""
    a = backend()
    dead = closed_port()
    base = [backend_ep("eu", a), ep("us", dead[0], port=dead[1])]
    g = gslbd(config(svc("www", base)))
    wait_change(g, dead[0], "down")
    wait_answer(g, {a.addr})
    n_changes = len(changes(g, dead[0]))

    fails = g.metric("gslbd_probe_failures_total")
    g.reload()
    wait_for(lambda: g.log().count("reload done") >= 1, 5, what="reload done")
    for _ in range(20):
        assert aset(g) == {a.addr}
        time.sleep(0.02)
    # The dead target probed twice more since: a reset state would show.
    g.wait_metric("gslbd_probe_failures_total", lambda v: v >= fails + 2)
    assert aset(g) == {a.addr}
    assert len(changes(g, dead[0])) == n_changes, changes(g, dead[0])
    assert len(changes(g, a.addr)) == 1, changes(g, a.addr)

    c = backend()
    dead2 = closed_port()
    g.write_config(config(svc("www", base + [backend_ep("ap", c),
                                             ep("sa", dead2[0], port=dead2[1])])))
    g.reload()
    wait_for(lambda: g.log().count("reload done") >= 2, 5, what="second reload")
    wait_answer(g, {a.addr, c.addr})
    wait_for(lambda: c.hits >= 1, 1, what="the new endpoint to be probed")
    assert wait_change(g, c.addr, "up", timeout=1)
    assert wait_change(g, dead2[0], "down", timeout=1)["reason"] == "refused"
    assert len(changes(g, dead[0])) == n_changes

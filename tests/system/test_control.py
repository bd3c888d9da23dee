"""test_control.py -- the control API (control/control.c) and gslbctl, against
a real gslbd: endpoints, tokens, admin actions seen in DNS answers, reloads,
Prometheus exposition validity, and the privilege drop."""
import grp
import http.client
import json
import math
import os
import pwd
import re
import shutil
import socket
import subprocess
import urllib.parse

import pytest

from conftest import free_endpoint, gslbd_binary, wait_for

CONFIG = """server:
  workers: 2
zone:
  name: example.org
  nameservers:
    - name: ns1.example.net.
probe-defaults:
  type: none
services:
  - name: www
    policy: all
    max-answers: 0
    endpoints:
      - region: eu
        addresses: [192.0.2.1, 192.0.2.2]
      - region: us
        addresses: [192.0.2.3]
  - name: api
    endpoints:
      - region: eu
        name: eu-1
        addresses: [192.0.2.11]
      - region: us
        addresses: [192.0.2.13]
%(extra)s"""

EXTRA_SERVICE = """  - name: extra
    endpoints:
      - region: eu
        addresses: [192.0.2.99]
"""


def cfg(extra="", control=""):
    return CONFIG % dict(extra=extra) + control


TOKEN = "s3cret-token"
TOKEN_CONTROL = 'control:\n  listen: "@CONTROL@"\n  token: "%s"\n' % TOKEN


def gslbctl_binary():
    path = os.environ.get("GSLBCTL") or os.path.join(
        os.path.dirname(gslbd_binary()), "gslbctl")
    if not os.access(path, os.X_OK):
        pytest.fail("no gslbctl next to gslbd (GSLBCTL=%r)" % path)
    return path


def request(g, method, path, token=None, body=None, headers=None):
    """One HTTP request to g's control API -> (status, headers, body text)."""
    host, port = g.control.rsplit(":", 1)
    conn = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=5)
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = "Bearer " + token
    if body is not None:
        h.setdefault("Content-Type", "application/x-www-form-urlencoded")
    try:
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode()
    finally:
        conn.close()


def get_json(g, path, token=None):
    st, _, body = request(g, "GET", path, token)
    assert st == 200, (st, body)
    return json.loads(body)


def a_set(g, name):
    r = g.query(name, "A")
    return {rr.address for rrset in r.answer for rr in rrset}


def ctl(g, *args, token=None, env=None):
    e = dict(os.environ)
    e.pop("GSLBD_CONTROL", None)
    e.pop("GSLBD_TOKEN", None)
    e.update(env or {})
    cmd = [gslbctl_binary(), "-s", g.control_url if g else "http://127.0.0.1:1"]
    if token:
        cmd += ["-t", token]
    return subprocess.run(cmd + list(args), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=30, env=e)


@pytest.fixture(scope="module")
def ctlsrv(gslbd_module):
    """One gslbd with the control API on its own address, no token."""
    return gslbd_module(cfg())


# --- plain endpoints --------------------------------------------------------

def test_rebound_host_refused_without_token(ctlsrv):
    """Without a token only loopback Host names are served: a page whose name was rebound to 127.0.0.1 (DNS rebinding) gets 403."""
    st, _, _ = request(ctlsrv, "GET", "/status", headers={"Host": "evil.example:8053"})
    assert st == 403
    for host in ("localhost:8053", "127.0.0.1", "[::1]:8053", ctlsrv.control):
        assert request(ctlsrv, "GET", "/status", headers={"Host": host})[0] == 200, host


def test_healthz_and_readyz(ctlsrv):
    """/healthz says ok; /readyz is 200 once (no probes) the first round is done."""
    st, _, body = request(ctlsrv, "GET", "/healthz")
    assert (st, body) == (200, "ok\n")
    wait_for(lambda: request(ctlsrv, "GET", "/readyz")[0] == 200, 5,
             what="readyz 200")


def test_status_json(ctlsrv):
    """/status lists zone, services, endpoints and addresses with health and admin state."""
    s = get_json(ctlsrv, "/status")
    assert s["zone"] == "example.org."
    assert s["ready"] is True and s["generation"] >= 1
    svcs = {x["name"]: x for x in s["services"]}
    assert set(svcs) == {"www.example.org.", "api.example.org."}
    www = svcs["www.example.org."]
    assert www["policy"] == "all" and www["source"] == "config"
    eps = {e["name"]: e for e in www["endpoints"]}
    assert eps["eu"]["region"] == "eu" and eps["eu"]["admin"] == "none"
    assert [a["address"] for a in eps["eu"]["addresses"]] == ["192.0.2.1", "192.0.2.2"]
    a = eps["eu"]["addresses"][0]
    assert set(a) >= {"address", "health", "reason", "since", "eligible"}
    assert a["eligible"] is True
    assert {e["name"] for e in svcs["api.example.org."]["endpoints"]} == {"eu-1", "us"}
    assert isinstance(s["admin-rules"], list)


def test_unknown_path_404_and_wrong_method_405(ctlsrv):
    """Unknown paths are 404; GET on an action and POST on a read are 405 with Allow."""
    assert request(ctlsrv, "GET", "/nope")[0] == 404
    assert request(ctlsrv, "GET", "/admin/drain?region=eu")[0] == 405
    st, h, _ = request(ctlsrv, "POST", "/metrics", body="")
    assert st == 405 and h.get("Allow") == "GET, HEAD"
    st, h, _ = request(ctlsrv, "PUT", "/reload", body="")
    assert st == 405 and h.get("Allow") == "POST"
    st, h, body = request(ctlsrv, "HEAD", "/healthz")
    assert st == 200 and body == ""


def test_browser_requests_refused(ctlsrv):
    """A request with an Origin header (a web page, maybe cross-site) is refused with 403."""
    st, _, _ = request(ctlsrv, "POST", "/admin/drain?region=eu", body="",
                       headers={"Origin": "http://evil.example"})
    assert st == 403
    assert get_json(ctlsrv, "/status")["admin-rules"] == []


def test_admin_bad_parameters(ctlsrv):
    """Admin actions need region, service or endpoint, and refuse unknown or repeated ones."""
    st, _, body = request(ctlsrv, "POST", "/admin/drain", body="")
    assert st == 400 and "region" in json.loads(body)["error"]
    st, _, body = request(ctlsrv, "POST", "/admin/drain?colour=red", body="")
    assert st == 400 and "colour" in body
    st, _, body = request(ctlsrv, "POST", "/admin/drain?region=eu&region=us", body="")
    assert st == 400 and "repeated" in body
    assert a_set(ctlsrv, "www.example.org") == {"192.0.2.1", "192.0.2.2", "192.0.2.3"}


def test_admin_over_http_query_and_form(ctlsrv):
    """drain by query string, force-down by form body: answers follow; undrain restores."""
    st, _, body = request(ctlsrv, "POST", "/admin/drain?region=eu", body="")
    assert st == 200 and json.loads(body)["matched"] == 2   # www/eu, api/eu-1
    wait_for(lambda: a_set(ctlsrv, "www.example.org") == {"192.0.2.3"}, 3,
             what="eu drained from www")
    assert a_set(ctlsrv, "api.example.org") == {"192.0.2.13"}
    st, _, body = request(ctlsrv, "POST", "/admin/force-down",
                          body=urllib.parse.urlencode({"service": "api", "endpoint": "us"}))
    assert st == 200 and json.loads(body)["matched"] == 1
    s = get_json(ctlsrv, "/status")
    rules = [(r["admin"], r["region"], r["service"], r["endpoint"]) for r in s["admin-rules"]]
    assert rules == [("drained", "eu", None, None), ("force-down", None, "api", "us")]
    for path, body in (("/admin/undrain?region=eu", ""),
                       ("/admin/undrain", "service=api&endpoint=us")):
        st, _, _ = request(ctlsrv, "POST", path, body=body)
        assert st == 200
    wait_for(lambda: a_set(ctlsrv, "www.example.org") == {"192.0.2.1", "192.0.2.2", "192.0.2.3"},
             3, what="eu back in www")
    assert get_json(ctlsrv, "/status")["admin-rules"] == []


def test_admin_service_name_forms(ctlsrv):
    """service= matches as "www", "www.example.org", "WWW.Example.Org." alike."""
    for name in ("www", "www.example.org", "WWW.Example.Org."):
        st, _, body = request(ctlsrv, "POST", "/admin/drain?" + urllib.parse.urlencode(
            {"service": name, "region": "us"}), body="")
        assert st == 200 and json.loads(body)["matched"] == 1, (name, body)
        st, _, body = request(ctlsrv, "POST", "/admin/undrain?" + urllib.parse.urlencode(
            {"service": name, "region": "us"}), body="")
        assert st == 200
    assert get_json(ctlsrv, "/status")["admin-rules"] == []
    st, _, body = request(ctlsrv, "POST", "/admin/drain?service=www.example.org.example.org",
                          body="")
    assert st == 200 and json.loads(body)["matched"] == 0
    request(ctlsrv, "POST", "/admin/undrain?service=www.example.org.example.org", body="")


def test_force_up_overrides_a_failed_probe(gslbd):
    """force-up puts an address whose probe fails back into the answers."""
    closed_addr, closed_port = free_endpoint()
    g = gslbd(cfg(extra="""  - name: probed
    endpoints:
      - region: eu
        addresses: [%s]
        probe: {type: tcp, port: %d, interval: 300ms, timeout: 200ms}
      - region: us
        addresses: [192.0.2.50]
""" % (closed_addr, closed_port)))
    wait_for(lambda: a_set(g, "probed.example.org") == {"192.0.2.50"}, 5,
             what="closed port marked down")
    st, _, body = request(g, "POST", "/admin/force-up?region=eu&service=probed", body="")
    assert st == 200 and json.loads(body)["matched"] == 1
    wait_for(lambda: a_set(g, "probed.example.org") == {closed_addr, "192.0.2.50"}, 3,
             what="forced up")


# --- tokens -----------------------------------------------------------------

@pytest.fixture(scope="module")
def tokensrv(gslbd_module):
    return gslbd_module(cfg(control=TOKEN_CONTROL))


@pytest.mark.parametrize("method,path", [
    ("GET", "/metrics"), ("GET", "/status"),
    ("POST", "/admin/drain?region=eu"), ("POST", "/admin/undrain?region=eu"),
    ("POST", "/admin/force-up?region=eu"), ("POST", "/admin/force-down?region=eu"),
    ("POST", "/reload"), ("GET", "/nope-but-authenticated-first"),
])
def test_token_required(tokensrv, method, path):
    """With control.token, every endpoint but /healthz and /readyz wants the bearer token: 401 without or wrong."""
    body = "" if method == "POST" else None
    for tok in (None, "wrong", TOKEN + "x", TOKEN[:-1], ""):
        st, h, _ = request(tokensrv, method, path, token=tok, body=body)
        if path.startswith("/nope"):
            assert st == 404   # unknown paths say so without a token
            continue
        assert st == 401, (method, path, tok, st)
        assert h.get("WWW-Authenticate", "").startswith("Bearer")
    assert a_set(tokensrv, "www.example.org") == {"192.0.2.1", "192.0.2.2", "192.0.2.3"}


def test_token_accepted(tokensrv):
    """The right token works; /healthz and /readyz (Kubernetes probes) need none; the scheme name is case-insensitive."""
    assert request(tokensrv, "GET", "/healthz")[0] == 200
    assert request(tokensrv, "GET", "/readyz")[0] in (200, 503)
    assert request(tokensrv, "GET", "/status", token=TOKEN)[0] == 200
    assert request(tokensrv, "GET", "/metrics",
                   headers={"Authorization": "bearer " + TOKEN})[0] == 200
    st, _, body = request(tokensrv, "POST", "/admin/drain?region=us", token=TOKEN, body="")
    assert st == 200 and json.loads(body)["matched"] == 2
    wait_for(lambda: a_set(tokensrv, "www.example.org") == {"192.0.2.1", "192.0.2.2"}, 3)
    assert request(tokensrv, "POST", "/admin/undrain?region=us", token=TOKEN, body="")[0] == 200
    wait_for(lambda: "192.0.2.3" in a_set(tokensrv, "www.example.org"), 3)


def test_gslbctl_token(tokensrv):
    """gslbctl: 401 without the token (with a hint), works with -t, GSLBD_TOKEN or --token-file."""
    r = ctl(tokensrv, "status")
    assert r.returncode != 0 and "401" in r.stderr and "token" in r.stderr
    assert ctl(tokensrv, "status", token=TOKEN).returncode == 0
    assert ctl(tokensrv, "status", env={"GSLBD_TOKEN": TOKEN}).returncode == 0
    tf = os.path.join(tokensrv.dir, "token")
    with open(tf, "w") as f:
        f.write(TOKEN + "\n")
    r = ctl(tokensrv, "--token-file", tf, "ready")
    assert r.returncode == 0 and r.stdout.strip() == "ready"


# --- reload -----------------------------------------------------------------

def test_reload_over_http(gslbd):
    """POST /reload takes a good config (200 ok) and refuses a bad one (409, old config kept)."""
    g = gslbd(cfg())
    g.write_config(cfg(extra=EXTRA_SERVICE))
    st, _, body = request(g, "POST", "/reload", body="")
    assert st == 200 and json.loads(body) == {"ok": True}
    assert a_set(g, "extra.example.org") == {"192.0.2.99"}
    g.write_config(cfg(extra="  - name: [broken\n"))
    st, _, body = request(g, "POST", "/reload", body="")
    assert st == 409 and json.loads(body)["ok"] is False and json.loads(body)["error"]
    assert a_set(g, "extra.example.org") == {"192.0.2.99"}
    m = metrics(g)
    assert m.value("gslbd_reloads_total", result="ok") == 1
    assert m.value("gslbd_reloads_total", result="failed") == 1
    assert m.value("gslbd_last_reload_success") == 0


def test_drain_survives_sighup(gslbd):
    """A drain set over the API stays in force across a SIGHUP reload."""
    g = gslbd(cfg())
    r = ctl(g, "drain", "eu")
    assert r.returncode == 0, r.stderr
    wait_for(lambda: a_set(g, "www.example.org") == {"192.0.2.3"}, 3)
    # the new service is in region eu too: the rule applies to it as well
    g.write_config(cfg(extra=EXTRA_SERVICE + """      - region: ap
        addresses: [192.0.2.98]
"""))
    g.reload()
    wait_for(lambda: "reload done" in g.log(), 5, what="reload done")
    assert a_set(g, "extra.example.org") == {"192.0.2.98"}
    assert a_set(g, "www.example.org") == {"192.0.2.3"}
    assert any(r["admin"] == "drained" and r["region"] == "eu"
               for r in get_json(g, "/status")["admin-rules"])


# --- gslbctl ----------------------------------------------------------------

def test_gslbctl_status_table(ctlsrv):
    """gslbctl status prints one row per address with its health and admin state."""
    r = ctl(ctlsrv, "status")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("zone example.org.")
    header = next(l for l in lines if l.startswith("SERVICE"))
    for col in ("REGION", "ENDPOINT", "ADDRESS", "HEALTH", "ADMIN", "SOURCE", "SINCE",
                "REASON"):
        assert col in header
    rows = [l.split() for l in lines if l.startswith(("www.", "api."))]
    # where each name came from: these are the config file's
    assert all(row[7] == "config" for row in rows), rows
    addrs = {row[3] for row in rows}
    assert addrs == {"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.11", "192.0.2.13"}
    assert ["api.example.org.", "eu", "eu-1", "192.0.2.11"] in [row[:4] for row in rows]
    js = ctl(ctlsrv, "status", "--json")
    assert json.loads(js.stdout)["zone"] == "example.org."


def test_gslbctl_drain_undrain_force_down(gslbd):
    """gslbctl drain REGION removes it from the answers, undrain brings it back, force-down an endpoint."""
    g = gslbd(cfg())
    full = {"192.0.2.1", "192.0.2.2", "192.0.2.3"}
    r = ctl(g, "drain", "eu")
    assert r.returncode == 0 and "2 endpoints matched" in r.stdout, r
    wait_for(lambda: a_set(g, "www.example.org") == {"192.0.2.3"}, 3)
    st = ctl(g, "status").stdout
    assert re.search(r"www\.example\.org\.\s+eu\s+eu\s+192\.0\.2\.1\s+\S+\s+drained\s+no", st), st
    assert "admin rules" in st and "region=eu" in st
    r = ctl(g, "undrain", "eu")
    assert r.returncode == 0
    wait_for(lambda: a_set(g, "www.example.org") == full, 3)
    r = ctl(g, "force-down", "--service", "www", "--endpoint", "us")
    assert r.returncode == 0 and "1 endpoint matched" in r.stdout
    wait_for(lambda: a_set(g, "www.example.org") == {"192.0.2.1", "192.0.2.2"}, 3)
    assert a_set(g, "api.example.org") == {"192.0.2.11", "192.0.2.13"}
    r = ctl(g, "drain", "mars")
    assert r.returncode == 0 and "0 endpoints matched" in r.stdout and "note" in r.stderr
    r = ctl(g, "drain")
    assert r.returncode == 2 and "REGION" in r.stderr


def test_gslbctl_reload_and_metrics(gslbd):
    """gslbctl reload applies a new config; gslbctl metrics prints the exposition."""
    g = gslbd(cfg())
    g.write_config(cfg(extra=EXTRA_SERVICE))
    r = ctl(g, "reload")
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr
    assert a_set(g, "extra.example.org") == {"192.0.2.99"}
    g.write_config(cfg(extra="  - name: [broken\n"))
    r = ctl(g, "reload")
    assert r.returncode == 1 and "409" in r.stderr
    r = ctl(g, "metrics")
    assert r.returncode == 0 and "gslbd_queries_total" in r.stdout


def test_gslbctl_env_default_server(ctlsrv):
    """GSLBD_CONTROL (host:port, no scheme) names the server when -s is not given."""
    e = dict(os.environ, GSLBD_CONTROL=ctlsrv.control)
    e.pop("GSLBD_TOKEN", None)
    r = subprocess.run([gslbctl_binary(), "ready"], capture_output=True, text=True,
                       timeout=30, env=e)
    assert r.returncode == 0 and r.stdout.strip() == "ready", r.stderr


def test_gslbctl_unreachable():
    """gslbctl against nothing exits non-zero with 'cannot reach gslbd at URL: Connection refused'."""
    addr, port = free_endpoint()
    url = "http://%s:%d" % (addr, port)
    for cmd in (["status"], ["drain", "eu"], ["reload"], ["metrics"]):
        r = subprocess.run([gslbctl_binary(), "-s", url] + cmd, capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 1
        assert r.stderr.strip() == "gslbctl: cannot reach gslbd at %s: Connection refused" % url


def test_gslbctl_usage_errors():
    """Unknown commands and options are usage errors (exit 2)."""
    assert subprocess.run([gslbctl_binary(), "frobnicate"], capture_output=True).returncode == 2
    assert subprocess.run([gslbctl_binary()], capture_output=True).returncode == 2
    assert subprocess.run([gslbctl_binary(), "status", "--bogus"],
                          capture_output=True).returncode == 2
    r = subprocess.run([gslbctl_binary(), "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "drain" in r.stdout


# --- startup ----------------------------------------------------------------

def test_control_listen_clash_is_fatal(gslbd, ctlsrv):
    """A control address already in use stops gslbd at start with a clear message."""
    g = gslbd(cfg(control='control:\n  listen: "%s"\n' % ctlsrv.control),
              check=False, wait=False)
    wait_for(lambda: not g.alive(), 10, what="gslbd to exit")
    assert g.proc.returncode != 0
    assert "cannot listen on %s" % ctlsrv.control in g.log()


def test_public_control_address_needs_token(tmp_path):
    """gslbd -t refuses a non-loopback control.listen without control.token."""
    conf = tmp_path / "g.yaml"
    conf.write_text(cfg(control='control:\n  listen: "0.0.0.0:8053"\n'))
    r = subprocess.run([gslbd_binary(), "-t", "-c", str(conf)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1
    assert "control.listen: a non-loopback address needs control.token" in r.stderr
    conf.write_text(cfg(control='control:\n  listen: "0.0.0.0:8053"\n  token: t0k\n'))
    r = subprocess.run([gslbd_binary(), "-t", "-c", str(conf)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr


def test_control_disabled(gslbd):
    """control.enabled: false: nothing listens on the control address."""
    g = gslbd(cfg(control="control:\n  enabled: false\n"))
    host, port = g.control.rsplit(":", 1)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=2).close()


def test_readyz_waits_for_first_probe_round(gslbd, http_backend):
    """/readyz is 503 while the first probe is still running, 200 after it."""
    slow = http_backend(delay=1.5)
    g = gslbd(cfg(extra="""  - name: slow
    endpoints:
      - region: eu
        addresses: [%s]
        probe: {type: http, port: %d, path: /, timeout: 5s, interval: 10s}
""" % (slow.addr, slow.port)))
    st, _, body = request(g, "GET", "/readyz")
    assert (st, body) == (503, "not ready\n")
    assert get_json(g, "/status")["ready"] is False
    wait_for(lambda: request(g, "GET", "/readyz")[0] == 200, 8, what="ready")


# --- metrics ----------------------------------------------------------------

SAMPLE_RE = re.compile(
    r'^([a-zA-Z_:][a-zA-Z0-9_:]*)'
    r'(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")'
    r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*,?)?\})?'
    r' ([^ ]+)( -?[0-9]+)?$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')


def _num(s):
    if s in ("+Inf", "Inf"):
        return math.inf
    if s == "-Inf":
        return -math.inf
    if s == "NaN":
        return math.nan
    assert re.match(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$", s), "bad value %r" % s
    return float(s)


def _unescape(v):
    return re.sub(r'\\(.)', lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), v)


class Exposition:
    """A strict parser of the Prometheus text format 0.0.4."""

    def __init__(self, text):
        assert text.endswith("\n"), "exposition must end with a newline"
        self.types, self.helps, self.samples = {}, {}, []
        seen_series, done_families = set(), set()
        current = None
        for n, line in enumerate(text.split("\n")[:-1], 1):
            where = "line %d: %r" % (n, line)
            if not line.strip():
                continue
            if line.startswith("#"):
                m = re.match(r"^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$", line)
                if not m:
                    continue   # a plain comment
                kind, name, rest = m.groups()
                if kind == "HELP":
                    assert name not in self.helps, "second HELP, " + where
                    assert rest.strip(), "empty HELP, " + where
                    self.helps[name] = rest
                else:
                    assert name not in self.types, "second TYPE, " + where
                    assert rest in ("counter", "gauge", "histogram", "summary",
                                    "untyped"), where
                    assert not any(s[0] == name or s[0].startswith(name + "_")
                                   and self.family_of(s[0]) == name
                                   for s in self.samples), "TYPE after samples, " + where
                    self.types[name] = rest
                if current is not None and current != name:
                    done_families.add(current)
                current = name
                continue
            m = SAMPLE_RE.match(line)
            assert m, "not a sample line, " + where
            name, labels, value, _ts = m.groups()
            fam = self.family_of(name)
            assert fam in self.types, "sample without TYPE, " + where
            assert fam in self.helps, "sample without HELP, " + where
            assert fam == current, "family not contiguous, " + where
            lab = {}
            for k, v in LABEL_RE.findall(labels or ""):
                assert k not in lab, "repeated label, " + where
                lab[k] = _unescape(v)
            key = (name, tuple(sorted(lab.items())))
            assert key not in seen_series, "duplicate series, " + where
            seen_series.add(key)
            v = _num(value)
            t = self.types[fam]
            if t == "counter":
                assert name == fam and name.endswith("_total"), "counter name, " + where
                assert v >= 0 and not math.isnan(v), "negative counter, " + where
            if t == "histogram":
                assert name in (fam + "_bucket", fam + "_sum", fam + "_count"), where
                assert ("le" in lab) == (name == fam + "_bucket"), where
            elif t == "gauge":
                assert name == fam, where
            self.samples.append((name, lab, v))
        self._check_histograms()

    def family_of(self, name):
        if name in self.types:
            return name
        for suffix in ("_bucket", "_sum", "_count"):
            base = name[:-len(suffix)]
            if name.endswith(suffix) and self.types.get(base) == "histogram":
                return base
        return name

    def _check_histograms(self):
        for fam, t in self.types.items():
            if t != "histogram":
                continue
            series = {}
            for name, lab, v in self.samples:
                if self.family_of(name) != fam:
                    continue
                rest = tuple(sorted((k, x) for k, x in lab.items() if k != "le"))
                s = series.setdefault(rest, {"buckets": [], "count": None, "sum": None})
                if name.endswith("_bucket"):
                    s["buckets"].append((_num(lab["le"]), v))
                elif name.endswith("_count"):
                    s["count"] = v
                else:
                    s["sum"] = v
            for rest, s in series.items():
                les = [le for le, _ in s["buckets"]]
                assert les == sorted(les) and len(set(les)) == len(les), (fam, rest)
                assert les and les[-1] == math.inf, "no +Inf bucket %s %s" % (fam, rest)
                counts = [c for _, c in s["buckets"]]
                assert counts == sorted(counts), "buckets not cumulative %s %s" % (fam, rest)
                assert s["count"] == counts[-1], "+Inf != _count %s %s" % (fam, rest)
                assert s["sum"] is not None and s["sum"] >= 0, (fam, rest)

    def value(self, name, **labels):
        got = [v for n, lab, v in self.samples
               if n == name and all(lab.get(k) == x for k, x in labels.items())]
        assert len(got) == 1, "%s %s: %d samples" % (name, labels, len(got))
        return got[0]

    def find(self, name, **labels):
        return [(lab, v) for n, lab, v in self.samples
                if n == name and all(lab.get(k) == x for k, x in labels.items())]


def metrics(g, token=None):
    st, h, body = request(g, "GET", "/metrics", token)
    assert st == 200, body
    assert h["Content-Type"].startswith("text/plain; version=0.0.4")
    return Exposition(body)


def test_exposition_parser_rejects_bad_input():
    """The strict parser used below does catch the mistakes it is meant to."""
    good = ('# HELP x_total h\n# TYPE x_total counter\nx_total{a="1"} 2\n')
    Exposition(good)
    bad = [
        good.replace("# HELP x_total h\n", ""),                     # no HELP
        good + 'x_total{a="1"} 3\n',                                 # duplicate
        good.replace(" 2\n", " -1\n"),                               # negative counter
        good.replace('{a="1"}', '{a="1}'),                           # bad quoting
        good.rstrip("\n"),                                           # no final newline
        '# HELP h h\n# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\n'
        'h_count 1\nh_sum 0\n',                                      # not cumulative
        '# HELP h h\n# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_count 1\nh_sum 0\n',
    ]
    for text in bad:
        with pytest.raises(AssertionError):
            Exposition(text)


PER_TARGET = 'control:\n  listen: "@CONTROL@"\n  metrics-per-target: true\n'

# Present only with control.metrics-per-target: a series set per address
# or per probe target.
PER_TARGET_FAMILIES = (
    "gslbd_endpoint_up", "gslbd_endpoint_eligible", "gslbd_endpoint_admin",
    "gslbd_endpoint_last_transition_timestamp_seconds",
    "gslbd_probe_last_duration_seconds")
TARGET_LABELS = {"service", "endpoint", "region", "address", "port", "host"}


def start_busy(gslbd, http_backend, control=""):
    """A gslbd with probes that succeed, fail by status and fail by refusal."""
    up = http_backend()
    down = http_backend(status=503)
    closed_addr, closed_port = free_endpoint()
    g = gslbd(cfg(extra="""  - name: probed
    endpoints:
      - region: eu
        addresses: [%s]
        probe: {type: http, port: %d, path: /, interval: 200ms, timeout: 200ms}
      - region: us
        name: "us \\"quoted\\" \\\\ back"
        addresses: [%s]
        probe: {type: http, port: %d, path: /, interval: 200ms, timeout: 200ms}
      - region: ap
        addresses: [%s]
        probe: {type: tcp, port: %d, interval: 200ms, timeout: 200ms}
""" % (up.addr, up.port, down.addr, down.port, closed_addr, closed_port), control=control))
    # free_endpoint may give two of them one 127.0.0.x (other ports):
    # tests tell them apart by port, region or endpoint too
    g.up, g.down, g.closed, g.closed_port = up, down, closed_addr, closed_port
    g.per_target = bool(control)
    wait_for(lambda: up.hits >= 3 and down.hits >= 3, 10, what="probes running")
    wait_for(lambda: get_json(g, "/status")["ready"], 5, what="every target decided")
    for _ in range(3):
        g.query("www.example.org", "A")
    g.query("www.example.org", "AAAA", tcp=True)
    g.query("nope.example.org", "TXT", use_edns=0)
    g.query("other.test", "A")
    return g


@pytest.fixture
def busy(gslbd, http_backend):
    """start_busy with the default metrics: totals, no per-target series."""
    return start_busy(gslbd, http_backend)


@pytest.fixture
def busy_pt(gslbd, http_backend):
    """start_busy with control.metrics-per-target: true."""
    return start_busy(gslbd, http_backend, PER_TARGET)


@pytest.fixture(params=["default", "per-target"])
def busy_any(request, gslbd, http_backend):
    """start_busy once with each metrics setting."""
    return start_busy(gslbd, http_backend,
                      PER_TARGET if request.param == "per-target" else "")


def test_metrics_valid_exposition(busy_any):
    """/metrics is valid Prometheus text either way: HELP/TYPE first, no duplicates, cumulative histograms."""
    m = metrics(busy_any)
    for name in ("gslbd_queries_total", "gslbd_queries_by_qtype_total",
                 "gslbd_responses_total", "gslbd_truncated_total", "gslbd_dropped_total",
                 "gslbd_edns_queries_total", "gslbd_ecs_queries_total",
                 "gslbd_probes_active", "gslbd_probe_transitions_total",
                 "gslbd_probe_suspect_runs_total",
                 "gslbd_probe_attempts_total", "gslbd_probe_failures_total",
                 "gslbd_probe_duration_seconds", "gslbd_probe_targets",
                 "gslbd_services", "gslbd_services_all_down", "gslbd_addresses",
                 "gslbd_snapshot_generation", "gslbd_snapshot_build_seconds",
                 "gslbd_snapshot_names", "gslbd_snapshot_bytes", "gslbd_reloads_total",
                 "gslbd_last_reload_success", "gslbd_start_time_seconds", "gslbd_ready"):
        assert name in m.types, name
    assert m.types["gslbd_probe_duration_seconds"] == "histogram"
    for name in PER_TARGET_FAMILIES:
        assert (name in m.types) == busy_any.per_target, name


def test_metrics_default_has_no_per_target_series(busy):
    """By default no series is per address or per probe target: the size does not grow with the service list."""
    m = metrics(busy)
    assert [n for n in PER_TARGET_FAMILIES if n in m.types] == []
    assert [(n, lab) for n, lab, _ in m.samples if TARGET_LABELS & set(lab)] == []
    assert len(m.samples) < 150


def test_metrics_promtool(busy_any):
    """promtool check metrics (Prometheus' own linter) finds nothing, with and without per-target series."""
    exe = shutil.which("promtool")
    # tests/deps.sh installs it: missing is a broken test setup, not a skip.
    assert exe, "promtool not installed (Debian package prometheus, tests/deps.sh)"
    # It really lints: a metric without HELP text is reported.
    r = subprocess.run([exe, "check", "metrics"], input="bad_total 1\n",
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "no help text" in r.stdout + r.stderr, r
    text = request(busy_any, "GET", "/metrics")[2]
    r = subprocess.run([exe, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), r


def test_metrics_values(busy):
    """Query counters, and the probe totals, failures by class, targets by health and address counts by default."""
    hits = busy.up.hits + busy.down.hits
    m = metrics(busy)
    assert m.value("gslbd_queries_total", proto="udp") >= 5
    assert m.value("gslbd_queries_total", proto="tcp") >= 1
    assert m.value("gslbd_queries_by_qtype_total", qtype="A") >= 4
    assert m.value("gslbd_queries_by_qtype_total", qtype="AAAA") >= 1
    assert m.value("gslbd_responses_total", rcode="NOERROR") >= 4
    assert m.value("gslbd_responses_total", rcode="NXDOMAIN") >= 1
    assert m.value("gslbd_responses_total", rcode="REFUSED") >= 1
    assert m.value("gslbd_edns_queries_total") >= 1
    assert m.value("gslbd_snapshot_generation") >= 1
    assert m.value("gslbd_snapshot_names") >= 3
    assert m.value("gslbd_snapshot_bytes") > 0
    assert m.value("gslbd_ready") == 1
    assert m.value("gslbd_last_reload_success") == 1
    # every HTTP request the backends saw was a probe run started
    attempts = m.value("gslbd_probe_attempts_total")
    assert attempts >= hits + 1
    assert m.value("gslbd_probe_failures_total", reason="status") >= 3
    assert m.value("gslbd_probe_failures_total", reason="refused") >= 1
    assert len(m.find("gslbd_probe_failures_total")) == 7
    # verdicts: every hit but those still in flight (one per HTTP target)
    count = m.value("gslbd_probe_duration_seconds_count")
    assert hits - 2 <= count <= attempts
    assert m.value("gslbd_probe_duration_seconds_bucket", le="+Inf") == count
    assert m.value("gslbd_probe_duration_seconds_sum") > 0
    assert m.value("gslbd_probes_active") == 3
    assert m.value("gslbd_probe_targets", health="up") == 1
    assert m.value("gslbd_probe_targets", health="down") == 2
    assert m.value("gslbd_probe_targets", health="unknown") == 0
    assert m.value("gslbd_probe_transitions_total") >= 3
    # www 3 + api 2 + probed: the one up; the 503 and the closed port not
    assert m.value("gslbd_addresses", state="eligible") == 6
    assert m.value("gslbd_addresses", state="ineligible") == 2
    assert m.value("gslbd_services") == 3
    assert m.value("gslbd_services_all_down") == 0
    # counters: a later scrape never shows less
    later = metrics(busy)
    for name, lab, v in m.samples:
        if m.types.get(m.family_of(name)) in ("counter", "histogram") \
                and not name.endswith("_sum"):
            assert later.value(name, **lab) >= v, (name, lab)


def test_metrics_values_per_target(busy_pt):
    """With metrics-per-target, probe series per target and endpoint series per address count what happened."""
    m = metrics(busy_pt)
    svc = "probed.example.org."
    # probe series are per target: address, port, type, Host
    up_t = dict(address=busy_pt.up.addr, port=str(busy_pt.up.port), type="http",
                host="probed.example.org")
    assert m.value("gslbd_probe_attempts_total", **up_t) >= 3
    assert m.value("gslbd_probe_failures_total", reason="status", **up_t) == 0
    assert m.value("gslbd_probe_duration_seconds_count", **up_t) >= 3
    assert m.value("gslbd_probe_last_duration_seconds", **up_t) > 0
    up = dict(service=svc, address=busy_pt.up.addr, region="eu")
    assert m.value("gslbd_endpoint_up", **up) == 1
    down = dict(service=svc, address=busy_pt.down.addr, region="us")
    assert m.value("gslbd_probe_failures_total", reason="status",
                   address=busy_pt.down.addr, port=str(busy_pt.down.port)) >= 3
    # label values round-trip through escaping
    assert m.find("gslbd_endpoint_up", **down)[0][0]["endpoint"] == 'us "quoted" \\ back'
    assert m.value("gslbd_endpoint_up", **down) == 0
    assert m.value("gslbd_endpoint_eligible", **down) == 0
    assert m.value("gslbd_endpoint_last_transition_timestamp_seconds", **down) > 1e9
    assert m.value("gslbd_probe_failures_total", reason="refused",
                   address=busy_pt.closed, port=str(busy_pt.closed_port)) >= 1
    www = dict(service="www.example.org.", address="192.0.2.1")
    assert m.value("gslbd_endpoint_up", **www) == 1
    assert m.value("gslbd_endpoint_admin", state="none", **www) == 1
    assert m.value("gslbd_endpoint_admin", state="drained", **www) == 0
    assert m.find("gslbd_probe_attempts_total", service="www.example.org.") == []
    # the per-target series add up to what the counts say
    assert len(m.find("gslbd_probe_attempts_total")) == m.value("gslbd_probes_active") == 3
    assert sum(v for _, v in m.find("gslbd_endpoint_eligible")) == \
        m.value("gslbd_addresses", state="eligible") == 6
    # no unlabelled total beside the per-target series: sum() stays right
    assert all(lab for n, lab, _ in m.samples
               if m.family_of(n) == "gslbd_probe_attempts_total")


def test_metrics_follow_admin_state(busy_any):
    """After a drain the address counts (and per address, the admin gauge and eligibility) change."""
    before = metrics(busy_any).value("gslbd_addresses", state="eligible")
    assert request(busy_any, "POST", "/admin/drain?region=eu&service=www", body="")[0] == 200
    m = metrics(busy_any)
    assert m.value("gslbd_addresses", state="eligible") == before - 2
    assert m.value("gslbd_admin_rules") == 1
    if busy_any.per_target:
        www = dict(service="www.example.org.", address="192.0.2.1")
        assert m.value("gslbd_endpoint_admin", state="drained", **www) == 1
        assert m.value("gslbd_endpoint_admin", state="none", **www) == 0
        assert m.value("gslbd_endpoint_eligible", **www) == 0
        assert m.value("gslbd_endpoint_up", **www) == 1


def test_metrics_per_target_follows_reload(gslbd):
    """control.metrics-per-target is taken by a reload, both ways; a rejected reload keeps it."""
    g = gslbd(cfg())
    assert "gslbd_endpoint_up" not in metrics(g).types
    g.write_config(cfg(control=PER_TARGET))
    assert request(g, "POST", "/reload", body="")[0] == 200
    m = metrics(g)
    assert "gslbd_endpoint_up" in m.types
    assert len(m.find("gslbd_endpoint_up")) == 5
    g.write_config(cfg(control=PER_TARGET.replace("true", "sometimes")))
    assert request(g, "POST", "/reload", body="")[0] == 409
    assert "gslbd_endpoint_up" in metrics(g).types
    g.write_config(cfg(control=PER_TARGET.replace("true", "false")))
    assert request(g, "POST", "/reload", body="")[0] == 200
    assert "gslbd_endpoint_up" not in metrics(g).types


def test_metrics_per_target_must_be_boolean(tmp_path):
    """gslbd -t refuses a control.metrics-per-target that is not a boolean, at its file:line:column."""
    conf = tmp_path / "g.yaml"
    text = cfg(control="control:\n  metrics-per-target: 10000\n")
    conf.write_text(text)
    line = text.splitlines().index("  metrics-per-target: 10000") + 1
    r = subprocess.run([gslbd_binary(), "-t", "-c", str(conf)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1
    assert "%s:%d:23: control.metrics-per-target: expected a boolean" % (conf, line) \
        in r.stderr, r.stderr


# Many addresses without probes: per-address series of some megabytes,
# streamed in many slices, and no probe traffic.  With cfg()'s 5 more.
BIG = 8 * 600 + 5


def big_config(nsvc=8, naddr=600, control=PER_TARGET):
    svcs = "".join("""  - name: big%d
    endpoints:
      - region: eu
        addresses: [%s]
""" % (i, ", ".join("10.%d.%d.%d" % (i, k // 250, k % 250 + 1) for k in range(naddr)))
        for i in range(nsvc))
    return cfg(extra=svcs, control=control)


def read_raw(g, req, rcvbuf=None, pause_after=None, during_pause=None):
    """Send a raw HTTP request, read to the close -> (head, body bytes).
    With pause_after, stop reading after that many bytes, call during_pause,
    then read on."""
    host, port = g.control.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect((host.strip("[]"), int(port)))
    s.sendall(req.encode())
    data = b""
    paused = pause_after is None
    while True:
        if not paused and len(data) >= pause_after:
            during_pause()
            paused = True
        chunk = s.recv(4096 if not paused else 1 << 20)
        if not chunk:
            break
        data += chunk
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return head.decode(), body


def dechunk(body):
    out, i = b"", 0
    while True:
        j = body.index(b"\r\n", i)
        n = int(body[i:j], 16)
        if n == 0:
            return out
        out += body[j + 2:j + 2 + n]
        assert body[j + 2 + n:j + 4 + n] == b"\r\n"
        i = j + 4 + n


def test_metrics_streamed_in_slices(gslbd):
    """A large per-target /metrics is sent chunked, in slices, valid as a whole; HTTP/1.0 gets it up to the close."""
    g = gslbd(big_config())
    st, h, body = request(g, "GET", "/metrics")
    assert st == 200 and h.get("Transfer-Encoding") == "chunked"
    m = Exposition(body)
    assert len(m.find("gslbd_endpoint_up")) == BIG
    assert len(body) > 2 * 256 * 1024
    head, raw = read_raw(g, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n"
                            "Connection: close\r\n\r\n")
    assert "Transfer-Encoding: chunked" in head
    assert raw.count(b"\r\n") > 4   # more than one chunk
    assert len(Exposition(dechunk(raw).decode()).find("gslbd_endpoint_up")) == BIG
    head, raw = read_raw(g, "GET /metrics HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert head.startswith("HTTP/1.0 200") and "chunked" not in head
    assert "Content-Length" not in head and "keep-alive" not in head.lower()
    assert len(Exposition(raw.decode()).find("gslbd_endpoint_up")) == BIG
    st, h, body = request(g, "HEAD", "/metrics")
    assert st == 200 and body == ""
    exe = shutil.which("promtool")
    if exe:
        text = request(g, "GET", "/metrics")[2]
        r = subprocess.run([exe, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), r


def test_metrics_client_gone_mid_stream(gslbd):
    """Clients that go away in the middle of a streamed /metrics leave gslbd serving (and, under ASan, clean)."""
    g = gslbd(big_config())
    host, port = g.control.rsplit(":", 1)
    for _ in range(5):
        s = socket.create_connection((host.strip("[]"), int(port)), timeout=5)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert s.recv(65536)
        s.close()   # a reset, with most of the body unsent
    assert request(g, "GET", "/healthz")[:3:2] == (200, "ok\n")
    assert len(metrics(g).find("gslbd_endpoint_up")) == BIG


def test_metrics_scrape_cut_short_by_reload(gslbd):
    """A new service list during a streamed scrape ends it early, still valid, with a comment saying why."""
    g = gslbd(big_config(nsvc=16))
    full = len(metrics(g).samples)

    def reload():
        g.write_config(big_config(nsvc=16) + "#\n")
        st, _, _ = request(g, "POST", "/reload", body="")
        assert st == 200

    head, raw = read_raw(g, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n"
                            "Connection: close\r\n\r\n",
                         rcvbuf=4096, pause_after=65536, during_pause=reload)
    text = dechunk(raw).decode()
    assert text.endswith("# the service list changed during the scrape: "
                         "per-target series cut short\n")
    m = Exposition(text)
    assert "gslbd_probes_active" in m.types
    assert len(m.samples) < full
    assert "metrics scrape cut short" in g.log()
    assert len(metrics(g).samples) == full


# --- privilege drop -----------------------------------------------------------

def _ids(pid):
    with open("/proc/%d/status" % pid) as f:
        st = f.read()
    uid = [int(x) for x in re.search(r"^Uid:\s+(.*)$", st, re.M).group(1).split()]
    gid = [int(x) for x in re.search(r"^Gid:\s+(.*)$", st, re.M).group(1).split()]
    groups = re.search(r"^Groups:\s*(.*)$", st, re.M).group(1).split()
    return uid, gid, [int(x) for x in groups]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_privilege_drop(gslbd):
    """Started as root with server.user nobody / group nogroup, every uid and gid is dropped."""
    try:
        nobody = pwd.getpwnam("nobody").pw_uid
        nogroup = grp.getgrnam("nogroup").gr_gid
    except KeyError:
        pytest.skip("no nobody user or nogroup group")
    g = gslbd(cfg().replace("server:\n", "server:\n  user: nobody\n  group: nogroup\n", 1))
    uid, gid, groups = _ids(g.proc.pid)
    assert uid == [nobody] * 4
    assert gid == [nogroup] * 4
    assert groups in ([], [nogroup])
    assert "dropped privileges" in g.log()
    # bound before the drop: DNS and the control API still work
    assert a_set(g, "www.example.org") == {"192.0.2.1", "192.0.2.2", "192.0.2.3"}
    assert request(g, "GET", "/healthz")[0] == 200
    # each worker thread too
    for tid in os.listdir("/proc/%d/task" % g.proc.pid):
        with open("/proc/%d/task/%s/status" % (g.proc.pid, tid)) as f:
            assert re.search(r"^Uid:\s+%d\s+%d\s+%d\s+%d$" % ((nobody,) * 4), f.read(), re.M)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_privilege_drop_unknown_user(gslbd):
    """An unknown server.user stops gslbd at start rather than running as root."""
    g = gslbd(cfg().replace("server:\n", "server:\n  user: no-such-user-gslbd\n", 1),
              check=False, wait=False)
    wait_for(lambda: not g.alive(), 10, what="gslbd to exit")
    assert g.proc.returncode != 0 and "unknown user" in g.log()

"""gslbd serves the KubeFed host cluster's services (list + watch of the fake
API in fake_kube.py) and survives the API's outages, errors and bad data."""
import http.server
import os
import random
import re
import subprocess
import threading
import time

import dns.rcode
import dns.rdatatype
import pytest

import kube_objects as ko
from conftest import _port_free, gslbd_binary, wait_for
from fake_kube import fake_kube, kube_certs, write_kubeconfig  # noqa: F401

ZONE = "example.com."
SYS = ko.KUBEFED_NS
TOKEN = "fake-token"
WEB = ko.global_name("web", "shop")

_support = {}


def kube_support():
    """None when gslbd can watch the API, else why not (a regression: the tests fail)."""
    if "why" not in _support:
        exe = gslbd_binary()
        d = os.environ.get("TMPDIR", "/tmp")
        cfg = os.path.join(d, "gslbd-kube-probe-%d.yaml" % os.getpid())
        with open(cfg, "w") as f:
            f.write("zone:\n  name: example.com\n  nameservers:\n"
                    "    - name: ns1\n      addresses: [192.0.2.53]\n"
                    "kubernetes:\n  kubeconfig: /nonexistent\n")
        try:
            r = subprocess.run([exe, "-t", "-c", cfg], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, timeout=10)
        finally:
            os.unlink(cfg)
        why = None
        if "unknown key 'kubernetes'" in r.stdout:
            why = "gslbd does not know the kubernetes: section yet"
        else:
            with open(exe, "rb") as f:
                if b"servicednsrecords" not in f.read():
                    why = "gslbd is built without the Kubernetes client yet"
        _support["why"] = why
    return _support["why"]


@pytest.fixture(autouse=True)
def _need_kube_client():
    # A failure, not a skip: a parser that lost the kubernetes: key must
    # not turn every test here into a skip.
    why = kube_support()
    if why:
        pytest.fail(why, pytrace=False)


# --- helpers ---------------------------------------------------------------------

def cluster_dns(cluster, addrs, region, zones=None):
    return ko.cluster_dns(cluster, addrs, region=region, zones=zones)


def web(a1=("192.0.2.1",), a2=("192.0.2.2",), name="web", ns="shop", **kw):
    """A ServiceDNSRecord on clusters c1 (eu-west) and c2 (us-east)."""
    return ko.service_dns_record(name, ns, dns=[
        cluster_dns("c1", a1, "eu-west", ["eu-west-1a"]),
        cluster_dns("c2", a2, "us-east", ["us-east-1a"])], **kw)


def base_objects(k):
    k.apply(ko.domain("kubefed", "example.com", "ns1.example.com"))
    k.apply(ko.kubefed_cluster("c1", True, "eu-west", ["eu-west-1a"]))
    k.apply(ko.kubefed_cluster("c2", True, "us-east", ["us-east-1a"]))
    k.apply(ko.kubefed_cluster("c3", True, "eu-west", ["eu-west-1b"]))


class Env:
    """A fake API with the base objects, and gslbd configs pointing at it."""

    def __init__(self, k, factory, d):
        self.k, self.factory, self.dir = k, factory, d
        os.makedirs(d, exist_ok=True)
        self.kubeconfig = os.path.join(d, "kubeconfig")
        self.token_file = os.path.join(d, "token")
        self.cache = os.path.join(d, "kube-cache.json")
        self.write_kubeconfig()

    def write_kubeconfig(self, token=TOKEN, token_file=False):
        if token_file:
            self.set_token_file(token)
            write_kubeconfig(self.kubeconfig, self.k.server, ca=self.k.certs["ca"],
                             token_file=self.token_file)
        else:
            write_kubeconfig(self.kubeconfig, self.k.server, ca=self.k.certs["ca"],
                             token=token)

    def set_token_file(self, token):
        tmp = self.token_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(token + "\n")
        os.rename(tmp, self.token_file)

    def config(self, kube_extra="", probe="probe-defaults:\n  type: none\n"):
        return """server:
  workers: 2
zone:
  name: example.com
  nameservers:
    - name: ns1
      addresses: [192.0.2.53]
%s
kubernetes:
  kubeconfig: %s
  cache-file: %s
  timeout: 2s
%s""" % (probe, self.kubeconfig, self.cache, kube_extra)

    def start(self, kube_extra="", probe="probe-defaults:\n  type: none\n", **kw):
        return self.factory(self.config(kube_extra, probe), **kw)


@pytest.fixture
def env(fake_kube, gslbd, tmp_path):
    k = fake_kube(bookmark_interval=0.5)
    base_objects(k)
    return Env(k, gslbd, str(tmp_path / "kube"))


def answer(g, name, rdtype="A"):
    """(rcode, set of addresses) of gslbd's answer."""
    r = g.query(name, rdtype, timeout=1.0)
    out = set()
    for rrset in r.answer:
        for rd in rrset:
            if hasattr(rd, "address"):
                out.add(rd.address)
    return r.rcode(), out


def wait_addrs(g, name, want, timeout=5.0, rdtype="A"):
    """Until name answers exactly `want` (a set; empty: NXDOMAIN); seconds taken."""
    t0 = time.monotonic()
    last = []

    def ok():
        try:
            rc, got = answer(g, name, rdtype)
        except Exception as e:  # a timeout while it is busy: try again
            last[:] = [repr(e)]
            return False
        last[:] = [(dns.rcode.to_text(rc), sorted(got))]
        if not want:
            return rc == dns.rcode.NXDOMAIN
        return rc == dns.rcode.NOERROR and got == set(want)
    try:
        wait_for(ok, timeout, 0.02, what="%s -> %s" % (name, sorted(want) or "NXDOMAIN"))
    except AssertionError as e:
        raise AssertionError("%s; last answer %s\nlog:\n%s"
                             % (e, last, g.log()[-4000:])) from None
    return time.monotonic() - t0


def sdr_requests(k, watch=None):
    return k.requests_matching(path="/servicednsrecords", watch=watch)


# --- tests -----------------------------------------------------------------------------

def test_added_answers_within_1s(env):
    """A ServiceDNSRecord added while gslbd watches is answered within 1 s (dig sees it)."""
    env.k.apply(web())
    g = env.start()
    wait_addrs(g, WEB, {"192.0.2.1", "192.0.2.2"}, 10)
    assert env.k.wait_watches(1, "servicednsrecords")
    name = ko.global_name("cart", "shop")
    rc, _ = answer(g, name)
    assert rc == dns.rcode.NXDOMAIN
    env.k.apply(web(("192.0.2.11",), ("192.0.2.12",), name="cart"))
    took = wait_addrs(g, name, {"192.0.2.11", "192.0.2.12"}, 5)
    assert took < 1.0, "took %.2fs" % took
    out = g.dig(name, "A")
    assert "status: NOERROR" in out and "192.0.2.11" in out and "192.0.2.12" in out


def test_changed_and_deleted(env):
    """A changed record changes the answer; a deleted one gives NXDOMAIN."""
    env.k.apply(web())
    g = env.start()
    wait_addrs(g, WEB, {"192.0.2.1", "192.0.2.2"}, 10)
    env.k.apply(web(("192.0.2.5", "192.0.2.6"), ("192.0.2.2",)))
    assert wait_addrs(g, WEB, {"192.0.2.5", "192.0.2.6", "192.0.2.2"}) < 1.0
    env.k.delete("servicednsrecords", "shop", "web")
    assert wait_addrs(g, WEB, set()) < 1.0
    r = g.query(WEB, "A")
    assert r.rcode() == dns.rcode.NXDOMAIN
    assert any(rr.rdtype == dns.rdatatype.SOA for rr in r.authority)


def test_one_event_maps_one_object(env):
    """A MODIFIED ServiceDNSRecord among 21 maps that one object again, not all of them (its remap log line says objects=1)."""
    k = env.k
    for i in range(20):
        k.apply(web(("192.0.2.%d" % (100 + i),), name="svc%d" % i))
    k.apply(web())
    g = env.start()
    wait_addrs(g, WEB, {"192.0.2.1", "192.0.2.2"}, 10)
    assert k.wait_watches(3)
    k.apply(web(("192.0.2.9",), ("192.0.2.2",)))

    def remap_line():
        return [l for l in g.log().splitlines() if "kube services changed" in l]
    lines = wait_for(remap_line, 5, what="the remap's log line")
    assert len(lines) == 1 and "objects=1 " in lines[0], lines
    assert "names=5 " in lines[0], lines  # global, 2 regions, 2 zones
    wait_addrs(g, WEB, {"192.0.2.9", "192.0.2.2"}, 2)


def test_cluster_not_ready_leaves(env):
    """A KubeFedCluster that is not Ready takes its addresses out of the answers, and back."""
    env.k.apply(web())
    g = env.start()
    wait_addrs(g, WEB, {"192.0.2.1", "192.0.2.2"}, 10)
    env.k.apply(ko.kubefed_cluster("c2", False, "us-east", ["us-east-1a"]))
    wait_addrs(g, WEB, {"192.0.2.1"}, 3)
    ev = g.metric("gslbd_kube_watch_events_total")
    env.k.apply(ko.kubefed_cluster("c2", None, "us-east", ["us-east-1a"]))  # offline
    g.wait_metric("gslbd_kube_watch_events_total", lambda v: v > ev)
    assert answer(g, WEB)[1] == {"192.0.2.1"}
    env.k.apply(ko.kubefed_cluster("c2", True, "us-east", ["us-east-1a"]))
    wait_addrs(g, WEB, {"192.0.2.1", "192.0.2.2"}, 3)


class Health(http.server.ThreadingHTTPServer):
    daemon_threads = True


def health_servers(n):
    """n HTTP servers on n 127.0.0.x addresses sharing one port; each has .status."""
    for _ in range(100):
        port = random.randint(20000, 60000)
        addrs = ["127.0.0.%d" % random.randint(2, 250) for _ in range(n)]
        if len(set(addrs)) == n and all(_port_free(a, port) for a in addrs):
            break
    out = []
    for a in addrs:
        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                st = self.server.status
                self.send_response(st)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *x):
                pass
        s = Health((a, port), H)
        s.status = 200
        s.addr = a
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.1},
                         daemon=True).start()
        out.append(s)
    return out, port


def test_api_down_answers_unchanged_probes_go_on(env):
    """With the API down the answers stay, and probes still move addresses in and out."""
    (b1, b2), port = health_servers(2)
    try:
        env.k.apply(web((b1.addr,), (b2.addr,)))
        probe = ("probe-defaults:\n  type: http\n  port: %d\n  path: /healthz\n"
                 "  interval: 200ms\n  timeout: 150ms\n  jitter: 0ms\n"
                 "  rise: 1\n  fall: 1\n" % port)
        g = env.start(probe=probe)
        both = {b1.addr, b2.addr}
        wait_addrs(g, WEB, both, 10)
        env.k.down()
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            assert answer(g, WEB) == (dns.rcode.NOERROR, both)
            time.sleep(0.1)
        b2.status = 503
        wait_addrs(g, WEB, {b1.addr}, 5)
        b2.status = 200
        wait_addrs(g, WEB, both, 5)
        assert g.alive()
        env.k.up()
        env.k.apply(web((b1.addr,), (b2.addr,), name="cart"))
        wait_addrs(g, ko.global_name("cart", "shop"), both, 15)
    finally:
        for s in (b1, b2):
            s.shutdown()
            s.server_close()


def test_restart_with_api_down_serves_cache(env):
    """A gslbd restarted while the API is down serves the cache file's services."""
    env.k.apply(web())
    g1 = env.start()
    wait_addrs(g1, WEB, {"192.0.2.1", "192.0.2.2"}, 10)
    wait_for(lambda: os.path.exists(env.cache) and os.path.getsize(env.cache) > 0
             and b"web" in open(env.cache, "rb").read(), 5, what="the cache file")
    assert g1.stop() == 0
    env.k.down()
    g2 = env.start()
    wait_addrs(g2, WEB, {"192.0.2.1", "192.0.2.2"}, 5)
    assert g2.alive()
    env.k.apply(web(("192.0.2.7",), ("192.0.2.2",)))
    env.k.up()
    wait_addrs(g2, WEB, {"192.0.2.7", "192.0.2.2"}, 15)


@pytest.mark.parametrize("gone", ["event", "http"])
def test_gone_relists_and_converges(fake_kube, gslbd, tmp_path, gone):
    """Missed events + compacted history: the watch gets 410, gslbd relists and converges."""
    k = fake_kube(bookmark_interval=0.5, gone_as_http=(gone == "http"))
    base_objects(k)
    e = Env(k, gslbd, str(tmp_path / "kube"))
    k.apply(web())
    k.apply(web(name="old"))
    g = e.start()
    wait_addrs(g, WEB, {"192.0.2.1", "192.0.2.2"}, 10)
    wait_addrs(g, ko.global_name("old", "shop"), {"192.0.2.1", "192.0.2.2"}, 5)
    assert k.wait_watches(1, "servicednsrecords")
    k.down()
    k.apply(web(("192.0.2.9",), ("192.0.2.2",)))
    k.delete("servicednsrecords", "shop", "old")
    k.apply(web(("192.0.2.31",), (), name="new"))
    k.compact()
    k.reset_requests()
    k.up()
    wait_addrs(g, WEB, {"192.0.2.9", "192.0.2.2"}, 15)
    wait_addrs(g, ko.global_name("old", "shop"), set(), 5)
    wait_addrs(g, ko.global_name("new", "shop"), {"192.0.2.31"}, 5)
    assert any(not r["watch"] and r["status"] == 200 for r in sdr_requests(k)), \
        "no relist after 410: %r" % sdr_requests(k)
    if gone == "event":
        # an ERROR 410 inside an open watch also means relist
        assert k.wait_watches(1, "servicednsrecords")
        k.reset_requests()
        k.expire_watches()
        wait_for(lambda: any(not r["watch"] and r["status"] == 200
                             for r in sdr_requests(k)), 10, what="a relist")
        k.apply(web(("192.0.2.10",), ("192.0.2.2",)))
        wait_addrs(g, WEB, {"192.0.2.10", "192.0.2.2"}, 10)


def test_malformed_objects_skipped(env):
    """Malformed objects (and a broken watch line) are skipped: the rest is served, gslbd lives."""
    k = env.k
    bad1 = ko.service_dns_record("bad1", "shop")
    bad1["status"] = {"domain": "example.com", "dns": "oops"}
    bad2 = web(("999.1.1.1",), ("192.0.2.2",), name="bad2")
    bad3 = ko.service_dns_record("bad3", "shop")
    bad3["spec"] = 42
    bad4 = web(name="bad4")
    bad4["status"]["dns"][0]["zones"] = {"not": "a list"}
    bad4["status"]["dns"][1]["loadBalancer"]["ingress"] = "nope"
    for o in (bad1, bad2, bad3, bad4, web()):
        k.apply(o)
    k.apply(ko.dns_endpoint("bad5", "shop", [{"dnsName": 7, "targets": "x"}]))
    g = env.start()
    wait_addrs(g, WEB, {"192.0.2.1", "192.0.2.2"}, 10)
    assert answer(g, ko.global_name("bad1", "shop"))[0] == dns.rcode.NXDOMAIN
    assert "192.0.2.2" in answer(g, ko.global_name("bad2", "shop"))[1] or \
        answer(g, ko.global_name("bad2", "shop"))[0] == dns.rcode.NXDOMAIN
    # bad data arriving by watch
    assert k.wait_watches(1, "servicednsrecords")
    bad6 = web(name="bad6")
    bad6["status"]["dns"] = [None, 3, "x"]
    k.apply(bad6)
    k.apply(web(name="good2"))
    wait_addrs(g, ko.global_name("good2", "shop"), {"192.0.2.1", "192.0.2.2"}, 5)
    assert k.send_raw(b'{"type":"ADDED","object":{"kind":\n', "servicednsrecords") >= 1
    k.apply(web(name="good3"))
    wait_addrs(g, ko.global_name("good3", "shop"), {"192.0.2.1", "192.0.2.2"}, 15)
    assert g.alive()
    assert answer(g, WEB)[1] == {"192.0.2.1", "192.0.2.2"}


def test_wrong_token_logged_retried_recovers(env):
    """A rejected token is logged clearly, retried with backoff, and works once the token file is fixed."""
    env.k.apply(web())
    env.write_kubeconfig(token="wrong-token", token_file=True)
    g = env.start()
    wait_for(lambda: len([r for r in sdr_requests(env.k) if r["status"] == 401]) >= 2,
             10, what="retries after 401")
    assert g.alive()
    log = g.log()
    assert re.search(r"401|[Uu]nauthori[sz]ed", log), log
    assert answer(g, WEB)[0] == dns.rcode.NXDOMAIN
    n = len(env.k.requests)
    time.sleep(1.0)
    assert len(env.k.requests) - n < 20, "retries without backoff"
    env.set_token_file(TOKEN)
    wait_addrs(g, WEB, {"192.0.2.1", "192.0.2.2"}, 40)


def test_paging(env):
    """More objects than a page: gslbd pages with limit + continue and serves them all."""
    for i in range(1100):
        env.k.apply(web(("10.%d.%d.1" % (i // 256, i % 256),), (), name="s%04d" % i))
    g = env.start()
    for i in (0, 499, 500, 1099):
        wait_addrs(g, ko.global_name("s%04d" % i, "shop"),
                   {"10.%d.%d.1" % (i // 256, i % 256)}, 15)
    lists = [r for r in sdr_requests(env.k, watch=False) if r["status"] == 200]
    assert any(r["query"].get("continue") for r in lists), lists
    assert all(int(r["query"].get("limit", "0")) > 0 for r in lists)


def test_region_and_zone_names(env):
    """Region and zone names answer their own clusters; dnsPrefix, externalName, legacy shape."""
    k = env.k
    k.apply(ko.service_dns_record("web", "shop", dns=[
        cluster_dns("c1", ["192.0.2.1"], "eu-west", ["eu-west-1a"]),
        cluster_dns("c3", ["192.0.2.3"], "eu-west", ["eu-west-1b"]),
        cluster_dns("c2", ["192.0.2.2"], "us-east", ["us-east-1a"])],
        dns_prefix="shopweb"))
    k.apply(web(("192.0.2.41",), ("192.0.2.42",), name="api", external_name="rest"))
    k.apply(ko.service_dns_record("old", "shop", legacy=True, dns=[
        ko.cluster_dns("c1", ["192.0.2.51"], region="eu-west", zone="eu-west-1a")]))
    g = env.start()
    allw = {"192.0.2.1", "192.0.2.2", "192.0.2.3"}
    wait_addrs(g, WEB, allw, 10)
    assert answer(g, ko.region_name("web", "shop", "eu-west"))[1] == {"192.0.2.1", "192.0.2.3"}
    assert answer(g, ko.region_name("web", "shop", "us-east"))[1] == {"192.0.2.2"}
    assert answer(g, ko.zone_name("web", "shop", "eu-west-1a", "eu-west"))[1] == {"192.0.2.1"}
    assert answer(g, ko.zone_name("web", "shop", "eu-west-1b", "eu-west"))[1] == {"192.0.2.3"}
    assert answer(g, ko.zone_name("web", "shop", "us-east-1a", "us-east"))[1] == {"192.0.2.2"}
    assert answer(g, "shopweb.example.com.")[1] == allw
    assert answer(g, ko.global_name("rest", "shop"))[1] == {"192.0.2.41", "192.0.2.42"}
    assert answer(g, ko.global_name("api", "shop"))[0] == dns.rcode.NXDOMAIN
    assert answer(g, ko.global_name("old", "shop"))[1] == {"192.0.2.51"}
    assert answer(g, ko.zone_name("old", "shop", "eu-west-1a", "eu-west"))[1] == {"192.0.2.51"}
    # a zone whose cluster loses its addresses falls back to its region
    k.apply(ko.service_dns_record("web", "shop", dns=[
        cluster_dns("c1", [], "eu-west", ["eu-west-1a"]),
        cluster_dns("c3", ["192.0.2.3"], "eu-west", ["eu-west-1b"]),
        cluster_dns("c2", ["192.0.2.2"], "us-east", ["us-east-1a"])],
        dns_prefix="shopweb"))
    wait_addrs(g, ko.zone_name("web", "shop", "eu-west-1a", "eu-west"), {"192.0.2.3"}, 3)


def test_dnsendpoints(env):
    """DNSEndpoint A/AAAA records in the zone are served; outside names skipped; a ServiceDNSRecord's own names win."""
    k = env.k
    k.apply(web())
    k.apply(ko.dns_endpoint("api", "shop", [
        ko.endpoint("api.example.com", ["192.0.2.80", "192.0.2.81"], "A", ttl=60),
        ko.endpoint("api.example.com", ["2001:db8::80"], "AAAA"),
        ko.endpoint("api.example.com", ["api.example.net"], "CNAME"),
        ko.endpoint("elsewhere.example.net", ["192.0.2.99"], "A")]))
    # what KubeFed's DNS endpoint controller makes from the record (it
    # sets no ownerReferences)
    k.apply(ko.dns_endpoint("service-web", "shop", [
        ko.endpoint(WEB.rstrip("."), ["192.0.2.200"], "A")]))
    g = env.start()
    wait_addrs(g, "api.example.com.", {"192.0.2.80", "192.0.2.81"}, 10)
    r = g.query("api.example.com.", "A")
    assert r.answer[0].ttl == 60
    assert answer(g, "api.example.com.", "AAAA")[1] == {"2001:db8::80"}
    assert g.query("elsewhere.example.net.", "A").rcode() == dns.rcode.REFUSED
    assert answer(g, WEB)[1] == {"192.0.2.1", "192.0.2.2"}
    k.delete("dnsendpoints", "shop", "api")
    wait_addrs(g, "api.example.com.", set(), 3)
    assert g.alive()


def test_dnsendpoint_cannot_take_zone_names(env):
    """A DNSEndpoint for the apex or a name server's name is not served (its glue stays); one with too many targets is skipped; the rest still answer."""
    k = env.k
    k.apply(web())
    k.apply(ko.dns_endpoint("grab", "tenant", [
        ko.endpoint("ns1.example.com", ["10.6.6.6"], "A"),
        ko.endpoint("example.com", ["10.6.6.7"], "A"),
        ko.endpoint("fine.example.com", ["192.0.2.90"], "A")]))
    k.apply(ko.dns_endpoint("huge", "tenant", [
        ko.endpoint("huge.example.com",
                    ["10.%d.%d.%d" % (i >> 16, (i >> 8) & 255, i & 255)
                     for i in range(1, 40001)], "A")]))
    g = env.start()
    wait_addrs(g, "fine.example.com.", {"192.0.2.90"}, 10)
    assert answer(g, "ns1.example.com.")[1] == {"192.0.2.53"}
    assert answer(g, "example.com.")[1] == set()
    assert answer(g, "huge.example.com.")[0] == dns.rcode.NXDOMAIN
    # the zone still takes changes: nothing is stuck behind the bad objects
    k.apply(web(("192.0.2.7",)))
    wait_addrs(g, WEB, {"192.0.2.7", "192.0.2.2"}, 5)
    assert g.alive()


def test_namespaces_limit(env):
    """With `namespaces:`, only those namespaces are watched (namespaced paths) and served."""
    env.k.apply(web())
    env.k.apply(web(name="web", ns="other"))
    g = env.start(kube_extra="  namespaces: [shop]\n")
    wait_addrs(g, WEB, {"192.0.2.1", "192.0.2.2"}, 10)
    assert answer(g, ko.global_name("web", "other"))[0] == dns.rcode.NXDOMAIN
    paths = {r["path"] for r in sdr_requests(env.k)}
    assert paths == {"/apis/multiclusterdns.kubefed.io/v1alpha1/namespaces/shop/servicednsrecords"}, paths


def test_bookmarks_spare_a_relist(env):
    """Watch bookmarks keep the resume point fresh: after compaction a resumed watch needs no relist."""
    k = env.k
    k.apply(web())
    g = env.start()
    wait_addrs(g, WEB, {"192.0.2.1", "192.0.2.2"}, 10)
    assert k.wait_watches(3)
    # the global resourceVersion moves on through another resource only
    for i in range(5):
        k.apply(ko.dns_endpoint("e%d" % i, "shop",
                                [ko.endpoint("e%d.example.com" % i, ["192.0.2.%d" % (60 + i)])]))
    wait_addrs(g, "e4.example.com.", {"192.0.2.64"}, 5)
    # Every watch carried a bookmark with the new resourceVersion (twice:
    # the first was read before the second was sent).
    rv = int(k.state()["resourceVersion"])
    wait_for(lambda: k.bookmarked_watches(rv, 2) >= k.open_watches() >= 3, 10,
             what="bookmarks at the new resourceVersion on every watch")
    k.compact()
    k.reset_requests()
    assert k.close_watches() >= 3
    wait_for(lambda: k.open_watches() >= 3, 10, what="watches resumed")
    k.apply(web(("192.0.2.8",), ("192.0.2.2",)))
    wait_addrs(g, WEB, {"192.0.2.8", "192.0.2.2"}, 5)
    relists = [r for r in sdr_requests(k) if not r["watch"]]
    assert not relists, "relisted although bookmarks were sent: %r" % relists


def test_api_errors_and_slowness_change_nothing(env):
    """500s and an API slower than the request timeout change no answer; gslbd catches up afterwards."""
    k = env.k
    k.apply(web())
    g = env.start()
    wait_addrs(g, WEB, {"192.0.2.1", "192.0.2.2"}, 10)
    errors = g.metric("gslbd_kube_errors_total")
    k.fail(500)
    k.close_watches()
    g.wait_metric("gslbd_kube_errors_total", lambda v: v > errors, 10)
    assert answer(g, WEB) == (dns.rcode.NOERROR, {"192.0.2.1", "192.0.2.2"})
    assert any(r["status"] == 500 for r in k.requests_matching())
    k.clear_failures()
    t0 = time.time()
    k.set_latency(2.5)  # above kubernetes.timeout: 2s
    k.close_watches()
    # gslbd came back and the slow API served it only after the delay.
    wait_for(lambda: any(r["time"] >= t0 and r["status"] is not None
                         for r in k.requests_matching()), 15,
             what="a request served after the API's delay")
    assert answer(g, WEB) == (dns.rcode.NOERROR, {"192.0.2.1", "192.0.2.2"})
    k.set_latency(0)
    k.apply(web(("192.0.2.4",), ("192.0.2.2",)))
    wait_addrs(g, WEB, {"192.0.2.4", "192.0.2.2"}, 20)
    assert g.alive()


@pytest.mark.parametrize("how", ["forbidden", "not-installed"])
def test_one_unreadable_resource(env, how):
    """DNSEndpoint forbidden by RBAC (403) or not installed (404): logged, and the records are still served."""
    k = env.k
    k.apply(web())
    if how == "forbidden":
        k.forbid("dnsendpoints")
    else:
        k.hide("dnsendpoints")
    g = env.start()
    wait_for(lambda: any(r["status"] in (403, 404) for r in
                         k.requests_matching(path="/dnsendpoints")), 5)
    code = "403" if how == "forbidden" else "404"
    wait_for(lambda: code in g.log(), 5, what="the error in the log")
    wait_addrs(g, WEB, {"192.0.2.1", "192.0.2.2"}, 4)

"""gslbd answers what KubeFed v0.6.1 would publish (issue 11): each address
once, KubeFed's own DNSEndpoints quietly, IngressDNSRecords, the answer size,
and an RBAC that is exactly what gslbd reads."""
import os

import dns.rcode
import pytest
import yaml

import kube_objects as ko
from conftest import wait_for
from fake_kube import fake_kube, kube_certs, write_kubeconfig  # noqa: F401
from lbdns import LbDns, fqdn

TOKEN = "fake-token"
TOP = os.environ.get("top_srcdir", os.path.join(os.path.dirname(__file__), "..", ".."))


class Env:
    """A fake API with three Ready clusters, and gslbd configs pointing at it."""

    def __init__(self, k, factory, d):
        self.k, self.factory, self.dir = k, factory, d
        os.makedirs(d, exist_ok=True)
        self.kubeconfig = os.path.join(d, "kubeconfig")
        write_kubeconfig(self.kubeconfig, k.server, ca=k.certs["ca"], token=TOKEN)

    def config(self, kube_extra="", top_extra="",
               probe="probe-defaults:\n  type: none\n"):
        return """server:
  workers: 2
zone:
  name: example.com
  nameservers:
    - name: ns1
      addresses: [192.0.2.53]
%s%s
kubernetes:
  kubeconfig: %s
  timeout: 2s
%s""" % (probe, top_extra, self.kubeconfig, kube_extra)

    def start(self, kube_extra="", top_extra="",
              probe="probe-defaults:\n  type: none\n", **kw):
        return self.factory(self.config(kube_extra, top_extra, probe), **kw)


@pytest.fixture
def env(fake_kube, gslbd, tmp_path):
    k = fake_kube(bookmark_interval=0.5)
    for name, region, zones in (("c1", "us", ["us1"]), ("c2", "eu", ["eu1"]),
                                ("c3", "us", ["us2"])):
        k.apply(ko.kubefed_cluster(name, True, region, zones))
    return Env(k, gslbd, str(tmp_path / "kube"))


def answer(g, name, rdtype="A"):
    """(rcode, list of addresses in answer order) of gslbd's answer."""
    r = g.query(name, rdtype, timeout=1.0)
    out = []
    for rrset in r.answer:
        for rd in rrset:
            if hasattr(rd, "address"):
                out.append(rd.address)
    return r.rcode(), out


def wait_addrs(g, name, want, timeout=10.0):
    """Until name answers exactly the set `want` (empty: NXDOMAIN)."""
    last = []

    def ok():
        try:
            rc, got = answer(g, name)
        except Exception as e:  # busy: try again
            last[:] = [repr(e)]
            return False
        last[:] = [(dns.rcode.to_text(rc), got)]
        if not want:
            return rc == dns.rcode.NXDOMAIN
        return rc == dns.rcode.NOERROR and set(got) == set(want)
    try:
        wait_for(ok, timeout, 0.02, what="%s -> %s" % (name, sorted(want)))
    except AssertionError as e:
        raise AssertionError("%s; last %s\nlog:\n%s" % (e, last, g.log()[-3000:])) from None


def test_duplicate_addresses_answered_once(env):
    """Two clusters behind one load balancer: one A record, not two (RFC 2181 5)."""
    env.k.apply(ko.service_dns_record("nginx", "dup", domain_ref="galactic", dns=[
        ko.cluster_dns("c1", ["10.0.0.1"], region="us", zones=["us1"]),
        ko.cluster_dns("c2", ["10.0.0.1"], region="eu", zones=["eu1"])]))
    g = env.start()
    name = ko.global_name("nginx", "dup", "galactic")
    wait_addrs(g, name, {"10.0.0.1"})
    rc, got = answer(g, name)
    assert got == ["10.0.0.1"], got
    for level in (ko.region_name("nginx", "dup", "eu", "galactic"),
                  ko.zone_name("nginx", "dup", "us1", "us", "galactic")):
        assert answer(g, level) == (dns.rcode.NOERROR, ["10.0.0.1"])


def test_kubefeds_own_dnsendpoints_are_quiet(env):
    """service-<name>/ingress-<name> DNSEndpoints as KubeFed writes them (no ownerReferences): the records' names answer, nothing is warned."""
    k = env.k
    k.apply(ko.service_dns_record("web", "shop", dns=[
        ko.cluster_dns("c1", ["10.0.0.1"], region="us", zones=["us1"])]))
    k.apply(ko.dns_endpoint("service-web", "shop", [
        ko.endpoint(ko.global_name("web", "shop").rstrip("."), ["10.0.0.1"]),
        ko.endpoint(ko.region_name("web", "shop", "us").rstrip("."), ["10.0.0.1"]),
        ko.endpoint(ko.zone_name("web", "shop", "us1", "us").rstrip("."),
                    ["10.0.0.1"])]))
    k.apply(ko.ingress_dns_record("shop", "shop", hosts=["www.example.com"], dns=[
        ko.cluster_ingress_dns("c1", ["10.0.0.7"])]))
    k.apply(ko.dns_endpoint("ingress-shop", "shop", [
        ko.endpoint("www.example.com", ["10.0.0.7"])]))
    # a look-alike that is not KubeFed's: still warned
    k.apply(ko.dns_endpoint("service-web", "other", [
        ko.endpoint(ko.global_name("web", "shop").rstrip("."), ["10.6.6.6"])]))
    g = env.start()
    wait_addrs(g, ko.global_name("web", "shop"), {"10.0.0.1"})
    wait_addrs(g, "www.example.com.", {"10.0.0.7"})
    wait_for(lambda: "DNSEndpoint other/service-web" in g.log(), 5,
             what="the look-alike's warning")
    warned = [l for l in g.log().splitlines()
              if "already served" in l and ("shop/service-web" in l or
                                            "shop/ingress-shop" in l)]
    assert not warned, warned


def test_ingress_dns_record(env, http_backend):
    """An IngressDNSRecord's hosts answer every cluster's addresses, probed with the host as Host; changes and deletion follow."""
    k = env.k
    b = http_backend()
    k.apply(ko.ingress_dns_record("shop", "web", hosts=["shop.example.com",
                                                        "www.example.com"], ttl=60,
                                  dns=[ko.cluster_ingress_dns("c1", [b.addr]),
                                       ko.cluster_ingress_dns("c2", ["10.0.0.2"])]))
    g = env.start()
    for h in ("shop.example.com.", "www.example.com."):
        wait_addrs(g, h, {b.addr, "10.0.0.2"})
    assert g.query("www.example.com.", "A").answer[0].ttl == 60
    k.apply(ko.ingress_dns_record("shop", "web", hosts=["www.example.com"], dns=[
        ko.cluster_ingress_dns("c1", [b.addr])]))
    wait_addrs(g, "www.example.com.", {b.addr}, 5)
    wait_addrs(g, "shop.example.com.", set(), 5)
    k.delete("ingressdnsrecords", "web", "shop")
    wait_addrs(g, "www.example.com.", set(), 5)


def test_ingress_probe_host(env, http_backend):
    """Each ingress host is probed with its own Host header (an ingress routes by it)."""
    b = http_backend()
    env.k.apply(ko.ingress_dns_record("shop", "web", hosts=["shop.example.com",
                                                            "www.example.com"],
                                      dns=[ko.cluster_ingress_dns("c1", [b.addr])]))
    probe = ("probe-defaults:\n  type: http\n  port: %d\n  interval: 200ms\n"
             "  timeout: 150ms\n" % b.port)
    g = env.start(probe=probe)
    wait_addrs(g, "www.example.com.", {b.addr})
    want = {"shop.example.com:%d" % b.port, "www.example.com:%d" % b.port}
    hosts = lambda: {h.get("Host") for h in list(b.headers)}  # noqa: E731
    try:
        wait_for(lambda: hosts() >= want, 5)
    except AssertionError:
        raise AssertionError("Host headers seen: %s\n%s" % (hosts(), g.log()[-3000:]))


def _ten(n=10):
    return ["10.1.0.%d" % i for i in range(1, n + 1)]


@pytest.mark.parametrize("how,want", [("default", 8), ("config", 10),
                                      ("annotation", 10), ("annotation-3", 3)])
def test_max_answers(env, how, want):
    """TenLBsInOneCluster: 8 addresses by default; kubernetes.max-answers: 0 or gslbd.io/max-answers gives all 10 (or caps at 3)."""
    ann = {"annotation": {"gslbd.io/max-answers": "0"},
           "annotation-3": {"gslbd.io/max-answers": "3"}}.get(how)
    env.k.apply(ko.service_dns_record("ten", "lb", annotations=ann, dns=[
        ko.cluster_dns("c1", _ten(), region="us", zones=["us1"])]))
    g = env.start(kube_extra="  max-answers: 0\n" if how == "config" else "")
    name = ko.global_name("ten", "lb")
    wait_for(lambda: answer(g, name)[1], 10, what="the name to answer")
    for _ in range(3):
        rc, got = answer(g, name)
        assert rc == dns.rcode.NOERROR and len(got) == want and \
            len(set(got)) == want and set(got) <= set(_ten()), got


def test_rbac_is_what_gslbd_reads(env):
    """docs/deploy/rbac.yaml grants list+watch on exactly the resources gslbd lists and watches (no more: no Domain)."""
    env.k.apply(ko.service_dns_record("web", "shop", dns=[
        ko.cluster_dns("c1", ["10.0.0.1"], region="us", zones=["us1"])]))
    g = env.start()
    wait_addrs(g, ko.global_name("web", "shop"), {"10.0.0.1"})
    assert env.k.wait_watches(4)
    used = set()
    for r in env.k.requests_matching():
        parts = r["path"].split("?")[0].split("/")
        if len(parts) >= 5 and parts[1] == "apis":
            used.add((parts[2], parts[-1], "watch" if r["watch"] else "list"))
    with open(os.path.join(TOP, "docs", "deploy", "rbac.yaml")) as f:
        role = [d for d in yaml.safe_load_all(f) if d["kind"] == "ClusterRole"][0]
    granted = set()
    for rule in role["rules"]:
        for grp in rule["apiGroups"]:
            for res in rule["resources"]:
                for verb in rule["verbs"]:
                    granted.add((grp, res, verb))
    assert used <= granted, used - granted
    needed = {(grp, res) for grp, res, _ in used}
    assert {(grp, res) for grp, res, _ in granted} == needed, \
        "granted but never read: %s" % ({(a, b) for a, b, _ in granted} - needed)


def test_hostname_lb_followed_in_place(env, gslbd):
    """A KubeFed load balancer's hostname (HostnameInLB): resolved and answered at every level; a change at its DNS is merged into the five names in place, not by recomposing everything."""
    lb = LbDns(gslbd, {"a9": ["127.0.0.31"]})
    env.k.apply(ko.service_dns_record("web", "shop", dns=[
        ko.cluster_dns("c1", [fqdn("a9")], region="us", zones=["us1"]),
        ko.cluster_dns("c2", ["10.0.0.2"], region="eu", zones=["eu1"])]))
    g = env.start(kube_extra="", top_extra="""resolver:
  servers: ["%s"]
  min-ttl: 300ms
  max-ttl: 1s
""" % lb.server, args=("-l", "debug"))
    glob = ko.global_name("web", "shop")
    wait_addrs(g, glob, {"127.0.0.31", "10.0.0.2"})
    wait_addrs(g, ko.zone_name("web", "shop", "us1", "us"), {"127.0.0.31"})
    wait_addrs(g, ko.region_name("web", "shop", "eu"), {"10.0.0.2"})
    lb.set({"a9": ["127.0.0.32"]})
    wait_addrs(g, glob, {"127.0.0.32", "10.0.0.2"}, 5)
    wait_addrs(g, ko.region_name("web", "shop", "us"), {"127.0.0.32"}, 2)
    after = g.log().split("hostname addresses changed name=a9.elb.test")[1]
    assert "hostname change merged services=5" in after, after[-2000:]
    assert "recomposing services" not in after, after[-2000:]


def test_ingress_crd_missing_changes_nothing(env):
    """IngressDNSRecord not installed (404) or forbidden (403): logged, and the ServiceDNSRecords are still served."""
    for how in ("hide", "forbid"):
        getattr(env.k, how)("ingressdnsrecords")
        env.k.apply(ko.service_dns_record("web", "shop", dns=[
            ko.cluster_dns("c1", ["10.0.0.1"], region="us", zones=["us1"])]))
        g = env.start()
        wait_addrs(g, ko.global_name("web", "shop"), {"10.0.0.1"})
        code = "404" if how == "hide" else "403"
        wait_for(lambda: code in g.log(), 5, what="the %s in the log" % code)
        g.stop()
        getattr(env.k, how)("ingressdnsrecords", False)

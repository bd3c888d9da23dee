"""KubeFed v0.6.1's own DNS test cases (kubefed_cases.py), replayed: the
records go into the fake API, gslbd serves them, and every name is asked
through a real Unbound (a stub zone pointing at gslbd), as a client would.
The addresses it gets must be those KubeFed + ExternalDNS would have
published, hostname load balancers included (resolved against a DNS server
on loopback that serves the ELB's name)."""
import os

import dns.rcode
import pytest

import kube_objects as ko
import kubefed_cases as kc
from conftest import wait_for
from fake_kube import fake_kube, kube_certs, write_kubeconfig  # noqa: F401
from lbdns import LbDns

DOMAIN = "example.com"


def svc_names(case, spec):
    """Every name a ServiceDNSRecord case may have: key -> FQDN."""
    ns = "s-" + kc.slug(case)
    svc = spec.get("externalName", kc.SVC)
    base = "%s.%s.%s.svc" % (svc, ns, kc.FED)
    names = {"GLOBAL": "%s.%s." % (base, DOMAIN)}
    for r in ("us", "eu"):
        names["REGION:" + r] = "%s.%s.%s." % (base, r, DOMAIN)
    for z in ("us1.us", "us2.us", "eu1.eu"):
        names["ZONE:" + z] = "%s.%s.%s." % (base, z, DOMAIN)
    if "dnsPrefix" in spec:
        names["PREFIX:" + spec["dnsPrefix"]] = "%s.%s." % (spec["dnsPrefix"], DOMAIN)
    return names


def host_name(case, host):
    return "%s.i-%s.%s." % (host, kc.slug(case), DOMAIN)


def objects():
    """The fake API's objects for every case."""
    out = []
    for case, spec, clusters, _, ttl in kc.SERVICE_CASES:
        dns = [ko.cluster_dns(c["cluster"], c["lb"], region=c["region"],
                              zones=c["zones"]) for c in clusters]
        out.append(ko.service_dns_record(
            kc.SVC, "s-" + kc.slug(case), dns=dns, domain_ref=kc.FED,
            domain=DOMAIN, ttl=ttl, dns_prefix=spec.get("dnsPrefix"),
            external_name=spec.get("externalName")))
    for case, hosts, clusters, _, ttl in kc.INGRESS_CASES:
        out.append(ko.ingress_dns_record(
            "ing", "i-" + kc.slug(case), hosts=[host_name(case, h).rstrip(".")
                                                for h in hosts],
            dns=[ko.cluster_ingress_dns(c, lbs) for c, lbs in clusters], ttl=ttl))
    return out


def expectations():
    """(case, FQDN, set of addresses, ttl or None) for every name."""
    out = []
    for case, spec, _, want, ttl in kc.SERVICE_CASES:
        for key, name in svc_names(case, spec).items():
            out.append((case, name, set(want.get(key, ())), ttl))
    for case, hosts, _, want, ttl in kc.INGRESS_CASES:
        for h in hosts:
            out.append(("ingress " + case, host_name(case, h), set(want.get(h, ())), ttl))
    return out


def addresses(peer, name):
    r = peer.query(name, "A", timeout=3.0)
    got = set()
    for rrset in r.answer:
        got |= {rd.address for rd in rrset if hasattr(rd, "address")}
    return r.rcode(), got, r


@pytest.fixture
def served(fake_kube, gslbd, tmp_path):
    """gslbd fed every case, its ELB name resolvable on loopback."""
    elb = LbDns(gslbd, kc.ELB_RECORDS, ttl=30, zone=kc.ELB_ZONE)
    k = fake_kube()
    for name, region, zones in (("c1", "us", ["us1"]), ("c2", "eu", ["eu1"]),
                                ("c3", "us", ["us2"])):
        k.apply(ko.kubefed_cluster(name, True, region, zones))
    for o in objects():
        k.apply(o)
    kubeconfig = os.path.join(str(tmp_path), "kubeconfig")
    write_kubeconfig(kubeconfig, k.server, ca=k.certs["ca"], token="fake-token")
    g = gslbd("""server:
  workers: 2
zone:
  name: %s
  nameservers:
    - name: ns1
      addresses: [192.0.2.53]
probe-defaults:
  type: none
resolver:
  servers: ["%s"]
kubernetes:
  kubeconfig: %s
  timeout: 2s
  max-answers: 0        # KubeFed publishes every address
""" % (DOMAIN, elb.server, kubeconfig))
    # settled: the ELB's address is in (the last thing to arrive)
    probe_name = svc_names("HostnameInLB", {})["GLOBAL"]
    wait_for(lambda: addresses(g, probe_name)[1] == {kc.LB2, kc.LB3}, 15,
             what="the ELB hostname's address in %s" % probe_name)
    return g


def test_replay_through_unbound(served, unbound):
    """Every name of every KubeFed case: through Unbound, the addresses KubeFed + ExternalDNS would have given."""
    u = unbound(DOMAIN + ".", served.addr, served.port)
    bad = []
    for case, name, want, _ in expectations():
        rc, got, _ = addresses(u, name)
        if got != want or (not want and rc not in (dns.rcode.NXDOMAIN,
                                                   dns.rcode.NOERROR)):
            bad.append("%-32s %-58s want %-28s got %s %s" % (
                case, name, sorted(want), dns.rcode.to_text(rc), sorted(got)))
    assert not bad, "\n" + "\n".join(bad)
    out = u.dig(svc_names("HostnameInLB", {})["ZONE:us1.us"], "A")
    assert "status: NOERROR" in out and kc.LB3 in out, out


def test_replay_ttls_and_single_records(served):
    """recordTTL is kept, otherwise gslbd's 30 s (KubeFed's 180 s on purpose not); no name repeats an address."""
    for case, name, want, ttl in expectations():
        rc, got, r = addresses(served, name)
        if not want:
            continue
        ans = [rrset for rrset in r.answer if rrset.rdtype == 1]
        assert len(ans) == 1, (case, name, r)
        assert ans[0].ttl == (ttl or 30), (case, name, ans[0].ttl)
        assert len(ans[0]) == len(want), (case, name, ans[0])

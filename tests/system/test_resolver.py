"""Delegation through a real resolver: Unbound (iterator only, 0x20 on)
with a stub-zone for the test zone resolves services, caches NXDOMAIN and
NODATA (RFC 2308) and keeps them as such."""
import os
import random
import time

import dns.flags
import dns.rcode
import dns.rdatatype as T
import pytest

from conftest import STD_CONFIG, STD_FILES, WWW_A, ZONE, _port_free

WWW = "www." + ZONE


def test_unbound_resolves_service(gslbd, unbound):
    """dig through Unbound (caps-for-id) resolves the service to its addresses; RA set by the resolver, not AA."""
    g = gslbd(STD_CONFIG, files=STD_FILES)
    u = unbound(ZONE, g.addr, g.port)
    out = u.dig(WWW, "A")
    assert "status: NOERROR" in out, out + u.log()
    got = sorted(ln.split()[-1] for ln in out.splitlines()
                 if ln and not ln.startswith(";") and "\tA\t" in ln)
    assert got == sorted(WWW_A), out
    m = u.query(WWW, "AAAA")
    assert m.rcode() == dns.rcode.NOERROR and [rd.address for rd in m.answer[0]] == ["2001:db8::1"]
    m = u.query("txt." + ZONE, "TXT")
    assert m.rcode() == dns.rcode.NOERROR and m.answer[0][0].strings == (b"hello world",)


def test_unbound_nxdomain_cached(gslbd, unbound):
    """A nonexistent name is NXDOMAIN through Unbound, then still NXDOMAIN from its cache (SOA TTL counting down, gslbd gone)."""
    g = gslbd(STD_CONFIG, files=STD_FILES)
    u = unbound(ZONE, g.addr, g.port)
    m1 = u.query("nope." + ZONE, "A")
    assert m1.rcode() == dns.rcode.NXDOMAIN, m1
    soa1 = [r for r in m1.authority if r.rdtype == T.SOA]
    assert soa1 and soa1[0].ttl <= 60, m1
    m = u.query(WWW, "A")           # positive answer cached too
    assert m.rcode() == dns.rcode.NOERROR
    time.sleep(1.1)
    assert g.stop() == 0, g.log()   # from here on only Unbound's cache can answer
    m2 = u.query("nope." + ZONE, "A", timeout=5)
    assert m2.rcode() == dns.rcode.NXDOMAIN, m2
    soa2 = [r for r in m2.authority if r.rdtype == T.SOA]
    assert soa2 and soa2[0].ttl < soa1[0].ttl, (m1, m2)
    m = u.query(WWW, "A", timeout=5)
    assert m.rcode() == dns.rcode.NOERROR and {rd.address for rd in m.answer[0]} == WWW_A


def test_unbound_nodata_stays_nodata(gslbd, unbound):
    """NODATA through Unbound is NOERROR with an empty answer, first from gslbd, then from cache."""
    g = gslbd(STD_CONFIG, files=STD_FILES)
    u = unbound(ZONE, g.addr, g.port)
    for name, rdtype in ((WWW, "TXT"), ("c." + ZONE, "A")):
        m1 = u.query(name, rdtype)
        assert m1.rcode() == dns.rcode.NOERROR and not m1.answer, m1
        assert any(r.rdtype == T.SOA for r in m1.authority), m1
    g.stop()
    for name, rdtype in ((WWW, "TXT"), ("c." + ZONE, "A")):
        m2 = u.query(name, rdtype, timeout=5)
        assert m2.rcode() == dns.rcode.NOERROR and not m2.answer, m2


@pytest.mark.skipif(os.geteuid() != 0, reason="the child server needs port 53 (glue has no port)")
def test_unbound_follows_referral(gslbd, unbound):
    """Unbound follows gslbd's referral for a delegated child to the child server named by the glue."""
    for _ in range(50):
        child_addr = "127.0.0.%d" % random.randint(2, 250)
        if _port_free(child_addr, 53):
            break
    else:
        pytest.skip("no 127.0.0.x with port 53 free")
    parent_files = {"static.zone": "sub NS ns.sub\nns.sub A %s\n" % child_addr}
    parent = gslbd(STD_CONFIG,
                   files=parent_files)
    child = gslbd("""server:
  listen: ["%s"]
  port: 53
zone:
  name: sub.global.example.org
  nameservers:
    - name: ns
      addresses: [%s]
probe-defaults:
  type: none
services:
  - name: host
    endpoints:
      - region: eu-west
        addresses: [203.0.113.44]
""" % (child_addr, child_addr), addr=child_addr, port=53)
    u = unbound(ZONE, parent.addr, parent.port)
    m = u.query("host.sub." + ZONE, "A", timeout=8)
    assert m.rcode() == dns.rcode.NOERROR, str(m) + u.log()
    assert [rd.address for rd in m.answer[0]] == ["203.0.113.44"]
    m = u.query("nope.sub." + ZONE, "A", timeout=8)
    assert m.rcode() == dns.rcode.NXDOMAIN, m
    assert child.alive()

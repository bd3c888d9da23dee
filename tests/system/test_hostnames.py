"""Endpoints known by host name (cloud load balancers): resolved on the
control loop against a real DNS server on loopback, re-resolved when the
TTL runs out, the last good addresses kept for `keep-stale` when lookups
fail, then dropped; each change logged once."""
import re
import urllib.request

import dns.rcode
import pytest

from conftest import wait_for
from lbdns import LbDns, fqdn

ZONE = "example.com."


def config(lb, extra_ep="", keep="2s", probe="probe-defaults:\n  type: none\n"):
    return """server:
  workers: 2
zone:
  name: example.com
  nameservers:
    - name: ns1
      addresses: [192.0.2.53]
%s
resolver:
  servers: ["%s"]
  min-ttl: 300ms
  max-ttl: 1s
  keep-stale: %s
  timeout: 300ms
services:
  - name: www
    max-answers: 0
    endpoints:
      - region: aws
        hostnames: [%s]
%s      - region: onprem
        addresses: [127.0.0.9]
""" % (probe, lb.server, keep, fqdn("a9"), extra_ep)


def addrs(g, name="www.example.com."):
    r = g.query(name, "A", timeout=1.0)
    out = []
    for rrset in r.answer:
        out += [rd.address for rd in rrset if hasattr(rd, "address")]
    return r.rcode(), out


def wait_addrs(g, want, timeout=10.0, name="www.example.com."):
    last = []

    def ok():
        try:
            rc, got = addrs(g, name)
        except Exception as e:
            last[:] = [repr(e)]
            return False
        last[:] = [got]
        return rc == dns.rcode.NOERROR and sorted(got) == sorted(want)
    try:
        wait_for(ok, timeout, 0.05, what="%s -> %s" % (name, sorted(want)))
    except AssertionError as e:
        raise AssertionError("%s; last %s\nlog:\n%s" % (e, last, g.log()[-3000:])) from None


@pytest.fixture
def lb(gslbd):
    s = LbDns(gslbd, {"a9": ["127.0.0.31"], "b7": ["127.0.0.41", "127.0.0.42"]})
    yield s
    s.resume()


def test_hostname_resolved_and_followed(gslbd, lb):
    """A config endpoint's hostname answers its addresses; a change at the DNS shows after the TTL, without a reload of gslbd."""
    g = gslbd(config(lb))
    wait_addrs(g, ["127.0.0.31", "127.0.0.9"])
    assert "hostname resolved name=a9.elb.test addresses=127.0.0.31" in g.log()
    lb.set({"a9": ["127.0.0.32", "127.0.0.33"]})
    wait_addrs(g, ["127.0.0.32", "127.0.0.33", "127.0.0.9"], 5)
    assert g.log().count("hostname addresses changed name=a9.elb.test") == 1


def test_hostname_duplicates_and_ip_together(gslbd, lb):
    """A hostname whose address another endpoint lists gives one record, and hostnames stand beside addresses in one endpoint."""
    extra = ("      - region: dup\n        addresses: [127.0.0.31, 127.0.0.5]\n"
             "        hostnames: [%s]\n" % fqdn("b7"))
    g = gslbd(config(lb, extra))
    wait_addrs(g, ["127.0.0.31", "127.0.0.5", "127.0.0.41", "127.0.0.42",
                   "127.0.0.9"])


def test_lookup_failure_keeps_then_drops(gslbd, lb):
    """When the DNS stops answering the last addresses stay for keep-stale, then leave; each state change is logged once; they come back with the DNS."""
    g = gslbd(config(lb, keep="2s"))
    wait_addrs(g, ["127.0.0.31", "127.0.0.9"])
    lb.silence()
    wait_for(lambda: "hostname lookup failed, keeping the last addresses "
             "name=a9.elb.test" in g.log(), 5, what="the stale warning")
    assert sorted(addrs(g)[1]) == ["127.0.0.31", "127.0.0.9"]
    wait_addrs(g, ["127.0.0.9"], 6)
    log = g.log()
    assert log.count("hostname has no addresses now name=a9.elb.test") == 1
    assert log.count("hostname lookup failed, keeping") == 1
    m = urllib.request.urlopen(g.control_url + "/metrics", timeout=5).read().decode()
    assert 'gslbd_resolver_names{state="failed"} 1' in m, m
    assert re.search(r"^gslbd_resolver_failures_total [1-9]", m, re.M), m
    lb.resume()
    wait_addrs(g, ["127.0.0.31", "127.0.0.9"], 6)
    assert "hostname resolved name=a9.elb.test addresses=127.0.0.31" in \
        g.log().split("hostname has no addresses now")[1]


def test_hostname_addresses_probed(gslbd, lb, http_backend):
    """A resolved address is probed like any other: a failing backend leaves the answer and comes back."""
    b, other = http_backend(), http_backend()
    lb.set({"a9": [b.addr]})
    g = gslbd("""zone:
  name: example.com
  nameservers:
    - name: ns1
      addresses: [192.0.2.53]
probe-defaults:
  type: http
  interval: 200ms
  timeout: 150ms
  jitter: 0ms
  rise: 1
  fall: 1
resolver:
  servers: ["%s"]
  min-ttl: 300ms
services:
  - name: www
    endpoints:
      - region: aws
        hostnames: [%s]
        probe: {port: %d}
      - region: onprem
        addresses: [%s]
        probe: {port: %d}
""" % (lb.server, fqdn("a9"), b.port, other.addr, other.port))
    wait_addrs(g, [b.addr, other.addr])
    wait_for(lambda: b.hits > 0, 5, what="the resolved address to be probed")
    b.status = 503
    wait_addrs(g, [other.addr], 5)
    b.status = 200
    wait_addrs(g, [b.addr, other.addr], 5)


def test_bad_resolver_config(gslbd, tmp_path):
    """A bad resolver section or hostname is a config error with file:line:column."""
    import subprocess
    from conftest import gslbd_binary
    p = tmp_path / "bad.yaml"
    p.write_text("""zone:
  name: example.com
  nameservers:
    - name: ns1
      addresses: [192.0.2.53]
resolver:
  servers: ["not an address"]
  min-ttl: 10s
  max-ttl: 1s
services:
  - name: www
    endpoints:
      - region: aws
        hostnames: ["bad host!", 192.0.2.1]
""")
    r = subprocess.run([gslbd_binary(), "-t", "-c", str(p)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=10)
    assert r.returncode == 1, r.stdout
    assert "bad.yaml:7:" in r.stdout and "not an address" in r.stdout, r.stdout
    assert "bad.yaml:9:" in r.stdout and "less than min-ttl" in r.stdout, r.stdout
    assert "bad.yaml:14:" in r.stdout and "not a host name" in r.stdout, r.stdout
    # An address would be looked up as a name and never resolve.
    assert ("bad.yaml:14:34: services[0].endpoints[0].hostnames[1]: "
            "'192.0.2.1' is an address" in r.stdout), r.stdout


def test_reload_changes_resolver(gslbd, lb):
    """A reload with other resolver servers looks every name up again there; a reload without hostnames serves the file's addresses."""
    other = LbDns(gslbd, {"a9": ["127.0.0.77"]})
    g = gslbd(config(lb))
    wait_addrs(g, ["127.0.0.31", "127.0.0.9"])
    g.write_config(config(other))
    g.reload()
    wait_addrs(g, ["127.0.0.77", "127.0.0.9"], 5)
    g.write_config(config(lb).replace("hostnames: [%s]" % fqdn("a9"),
                                      "addresses: [127.0.0.8]"))
    n = g.log().count("reload done")
    g.reload()
    wait_for(lambda: g.log().count("reload done") > n, 5, what="the reload")
    wait_addrs(g, ["127.0.0.8", "127.0.0.9"], 5)
    assert g.alive()

"""lbdns.py -- a real DNS server on loopback that serves load balancers'
host names (a gslbd with a zone file: no other daemon needed), for the
tests of endpoints known by host name."""
import os
import signal

LB_ZONE = "elb.test"

CONFIG = """zone:
  name: %s
  nameservers:
    - name: ns1
      addresses: [192.0.2.53]
  zone-file: lb.zone
"""


def zone_text(records, ttl=1):
    """records: {relative name: [addresses]}; every record with `ttl`."""
    lines = ["$TTL %d" % ttl]
    for name, addrs in sorted(records.items()):
        for a in addrs:
            lines.append("%s %d IN %s %s" % (name, ttl, "AAAA" if ":" in a else "A", a))
    return "\n".join(lines) + "\n"


class LbDns:
    """The server (a started gslbd) and how to change or silence it."""

    def __init__(self, factory, records, ttl=1, zone=LB_ZONE):
        """records: {name relative to zone: [addresses]}."""
        self.ttl = ttl
        self.g = factory(CONFIG % zone, files={"lb.zone": zone_text(records, ttl)})
        self.stopped = False

    @property
    def server(self):
        return "%s:%d" % (self.g.addr, self.g.port)

    def set(self, records):
        """New records, by a reload (as a zone change at the provider)."""
        with open(os.path.join(self.g.dir, "lb.zone"), "w") as f:
            f.write(zone_text(records, self.ttl))
        n = self.g.log().count("reload done")
        self.g.reload()
        from conftest import wait_for
        wait_for(lambda: self.g.log().count("reload done") > n, 5,
                 what="the load balancers' DNS to reload")

    def silence(self):
        """It stops answering (stopped, not gone: queries time out)."""
        os.kill(self.g.proc.pid, signal.SIGSTOP)
        self.stopped = True

    def resume(self):
        if self.stopped:
            os.kill(self.g.proc.pid, signal.SIGCONT)
            self.stopped = False


def fqdn(rel):
    return "%s.%s" % (rel, LB_ZONE)

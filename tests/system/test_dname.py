"""DNAME in the zone file (RFC 6672): a name below the owner gets the DNAME
and a synthesized CNAME with the DNAME's TTL (YXDOMAIN when the new name
would be too long), checked with dig, kdig, dnspython and through a real
Unbound; a zone file breaking the DNAME rules is refused at FILE:LINE:1."""
import subprocess

import dns.flags
import dns.name
import dns.rcode
import dns.rdatatype as T

from conftest import gslbd_binary

Z = "global.example.org."

LONG = ".".join(c * 63 for c in "abc") + ".d."  # 195 bytes on the wire

ZONE_FILE = """$TTL 300
out     1200 DNAME  target.example.net.
old          DNAME  new
new     TXT  "new here"
apexish TXT  "plain"
long         DNAME  %s
""" % LONG

CONFIG = """server:
  workers: 1
zone:
  name: global.example.org
  nameservers:
    - name: ns1
      addresses: [192.0.2.53]
  zone-file: static.zone
probe-defaults:
  type: none
services:
  - name: www.new
    endpoints:
      - region: eu
        addresses: [192.0.2.1, 192.0.2.2]
"""


def rrs(m, section="answer"):
    return [(str(r.name).lower(), T.to_text(r.rdtype), r.ttl, [rd.to_text() for rd in r])
            for r in getattr(m, section)]


def test_dname_synthesizes_cname(gslbd):
    """A query below a DNAME gets AA, the DNAME and a CNAME to the substituted name with the DNAME's TTL; the qname's case is kept in the CNAME."""
    g = gslbd(CONFIG, files={"static.zone": ZONE_FILE})
    m = g.query("Host.Sub.out." + Z, "A")
    assert m.rcode() == dns.rcode.NOERROR and m.flags & dns.flags.AA, m
    assert rrs(m) == [
        ("out." + Z, "DNAME", 1200, ["target.example.net."]),
        ("host.sub.out." + Z, "CNAME", 1200, ["Host.Sub.target.example.net."]),
    ], m
    assert not m.authority, m
    # Over TCP, for another type, the same.
    m = g.query("x.out." + Z, "MX", tcp=True)
    assert rrs(m)[1] == ("x.out." + Z, "CNAME", 1200, ["x.target.example.net."]), m


def test_dname_owner_itself_is_not_redirected(gslbd):
    """The DNAME owner answers its own DNAME, and NODATA with the SOA for other types (RFC 6672 2.3)."""
    g = gslbd(CONFIG, files={"static.zone": ZONE_FILE})
    m = g.query("out." + Z, "DNAME")
    assert rrs(m) == [("out." + Z, "DNAME", 1200, ["target.example.net."])], m
    m = g.query("out." + Z, "A")
    assert m.rcode() == dns.rcode.NOERROR and not m.answer, m
    assert m.authority[0].rdtype == T.SOA, m
    # Names beside it are untouched.
    assert g.query("nope." + Z, "A").rcode() == dns.rcode.NXDOMAIN
    assert g.query("apexish." + Z, "TXT").answer[0][0].strings == (b"plain",)


def test_dname_too_long_is_yxdomain(gslbd):
    """When the substituted name would pass 255 bytes the answer is YXDOMAIN with the DNAME only (RFC 6672 2.2)."""
    g = gslbd(CONFIG, files={"static.zone": ZONE_FILE})
    # The target takes 195 bytes: a 60-byte prefix (a label of 59) makes
    # exactly 255, one more is too long.
    m = g.query("e" * 60 + ".long." + Z, "A")
    assert m.rcode() == dns.rcode.YXDOMAIN, m
    assert rrs(m) == [("long." + Z, "DNAME", 300, [LONG])], m
    assert m.flags & dns.flags.AA
    m = g.query("e" * 59 + ".long." + Z, "A")
    assert m.rcode() == dns.rcode.NOERROR and len(m.answer) == 2, m
    assert len(m.answer[1][0].target.to_wire()) == 255, m


def test_dname_dig_and_kdig(gslbd):
    """dig and kdig parse the synthesized answer: status NOERROR, the DNAME and the CNAME lines."""
    g = gslbd(CONFIG, files={"static.zone": ZONE_FILE})
    for out in (g.dig("a.old." + Z, "TXT"), g.kdig("a.old." + Z, "TXT")):
        words = " ".join(out.split())
        assert "status: NOERROR" in words, out
        assert "old.%s 300 IN DNAME new.%s" % (Z, Z) in words, out
        assert "a.old.%s 300 IN CNAME a.new.%s" % (Z, Z) in words, out
    assert "flags: qr aa" in g.dig("a.old." + Z, "TXT")


def test_dname_through_unbound(gslbd, unbound):
    """Unbound (0x20 on) follows the DNAME to the in-zone service and the in-zone TXT, and accepts the synthesized CNAME."""
    g = gslbd(CONFIG, files={"static.zone": ZONE_FILE})
    u = unbound(Z, g.addr, g.port)
    m = u.query("WwW.oLd." + Z, "A", timeout=5)
    assert m.rcode() == dns.rcode.NOERROR, (m, u.log())
    types = [T.to_text(r.rdtype) for r in m.answer]
    assert types == ["DNAME", "CNAME", "A"], m
    assert sorted(rd.address for rd in m.answer[2]) == ["192.0.2.1", "192.0.2.2"]
    assert m.answer[2].name == dns.name.from_text("www.new." + Z)
    m = u.query("x.old." + Z, "TXT", timeout=5)
    assert m.rcode() == dns.rcode.NXDOMAIN, m   # x.new does not exist
    out = u.dig("www.old." + Z, "A")
    assert "status: NOERROR" in out and "192.0.2.1" in out, out


def check(tmp_path, zone):
    (tmp_path / "static.zone").write_text(zone)
    cfg = tmp_path / "gslbd.yaml"
    cfg.write_text(CONFIG.replace("server:\n", "server:\n  listen: [127.0.0.1]\n"))
    r = subprocess.run([gslbd_binary(), "-t", "-c", str(cfg)], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20,
                       text=True, cwd=str(tmp_path))
    return r.returncode, r.stderr


def test_dname_rules_checked_at_load(tmp_path):
    """Data below a DNAME, two DNAMEs at one name, a DNAME beside a CNAME or at a delegation, and a service below a DNAME are refused with FILE:LINE:1."""
    zf = str(tmp_path / "static.zone")
    cases = [
        ("d DNAME x.example.\na.d TXT \"below\"\n",
         "%s:2:1: a.d.%s: below the DNAME at d.%s" % (zf, Z, Z)),
        ("d DNAME x.example.\nd DNAME y.example.\n",
         "%s:2:1: d.%s: more than one DNAME" % (zf, Z)),
        ("d NS ns.example.\nd DNAME x.example.\n",
         "%s:2:1: d.%s: DNAME at a delegation" % (zf, Z)),
        ("d CNAME x.example.\nd DNAME x.example.\n",
         "%s:2:1: d.%s: CNAME beside other data" % (zf, Z)),
        ("new DNAME x.example.\n", "below the DNAME at new.%s" % Z),
    ]
    for zone, want in cases:
        rc, err = check(tmp_path, zone)
        assert rc != 0 and want in err, (zone, err)
    rc, err = check(tmp_path, ZONE_FILE)
    assert rc == 0, err

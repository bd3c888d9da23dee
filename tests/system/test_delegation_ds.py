"""DS at a delegation (RFC 4035 3.1.4.1): the parent answers a DS query for
the delegated name itself, with AA, not as a referral; NODATA with the SOA
when it has no DS; other types there and names below still get the
referral.  A DS anywhere but at a delegation is refused at load."""
import subprocess

import dns.flags
import dns.rcode
import dns.rdatatype as T

from conftest import gslbd_binary

Z = "global.example.org."

DS = "12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

ZONE_FILE = """$TTL 300
signed        NS   ns.signed
signed   600  DS   %s
ns.signed     A    192.0.2.77
unsigned      NS   ns.unsigned
ns.unsigned   A    192.0.2.78
""" % DS

CONFIG = """server:
  workers: 1
zone:
  name: global.example.org
  soa:
    minimum: 60s
  nameservers:
    - name: ns1
      addresses: [192.0.2.53]
  zone-file: static.zone
probe-defaults:
  type: none
"""


def test_ds_answered_by_parent_with_aa(gslbd):
    """DS for a delegated name: AA, the DS RRset in the answer section, no referral (dnspython, UDP and TCP)."""
    g = gslbd(CONFIG, files={"static.zone": ZONE_FILE})
    for tcp in (False, True):
        m = g.query("SiGnEd." + Z, "DS", tcp=tcp)
        assert m.rcode() == dns.rcode.NOERROR and m.flags & dns.flags.AA, m
        assert len(m.answer) == 1 and m.answer[0].rdtype == T.DS, m
        assert m.answer[0].ttl == 600 and m.answer[0][0].key_tag == 12345, m
        assert not m.authority, m


def test_ds_nodata_when_unsigned(gslbd):
    """DS for a delegation without one: NODATA with AA and the SOA (negative TTL), not a referral."""
    g = gslbd(CONFIG, files={"static.zone": ZONE_FILE})
    m = g.query("unsigned." + Z, "DS")
    assert m.rcode() == dns.rcode.NOERROR and m.flags & dns.flags.AA, m
    assert not m.answer and [r.rdtype for r in m.authority] == [T.SOA], m
    assert m.authority[0].ttl == 60


def test_other_types_and_names_below_still_referred(gslbd):
    """A at the delegation and DS below it are referrals (no AA, NS in authority, glue)."""
    g = gslbd(CONFIG, files={"static.zone": ZONE_FILE})
    for name, rdtype in (("signed." + Z, "A"), ("www.signed." + Z, "DS"),
                         ("signed." + Z, "NS")):
        m = g.query(name, rdtype)
        assert not m.flags & dns.flags.AA and not m.answer, (name, rdtype, m)
        assert [r.rdtype for r in m.authority] == [T.NS], m
        assert m.additional and m.additional[0][0].address == "192.0.2.77", m


def test_ds_dig_kdig(gslbd):
    """dig and kdig show the DS with aa from the parent."""
    g = gslbd(CONFIG, files={"static.zone": ZONE_FILE})
    out = g.dig("signed." + Z, "DS")
    assert "flags: qr aa" in out and "ANSWER: 1" in out and "12345 13 2" in out, out
    out = g.kdig("signed." + Z, "DS")
    assert "aa" in out.split("Flags:")[1].split(";")[0] and "12345 13 2" in out, out


def test_ds_outside_a_delegation_refused(tmp_path):
    """A DS at the apex or at a name without NS is refused at FILE:LINE:1."""
    zf = tmp_path / "static.zone"
    cfg = tmp_path / "gslbd.yaml"
    cfg.write_text(CONFIG.replace("server:\n", "server:\n  listen: [127.0.0.1]\n"))
    for zone, want in (("@ DS %s\n" % DS, "1:1: %s: a DS at the apex belongs in the parent zone" % Z),
                       ("x TXT \"a\"\nx DS %s\n" % DS, "2:1: x.%s: a DS belongs at a delegation" % Z)):
        zf.write_text(zone)
        r = subprocess.run([gslbd_binary(), "-t", "-c", str(cfg)], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20,
                           text=True, cwd=str(tmp_path))
        assert r.returncode != 0 and "%s:%s" % (zf, want) in r.stderr, (zone, r.stderr)

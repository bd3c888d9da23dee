"""Answers: services, apex SOA/NS + glue, static records, referrals,
negative answers (RFC 2308), REFUSED out of zone, 0x20 and ANY (RFC 8482)."""
import time

import dns.flags
import dns.rcode
import dns.rdatatype as T

from conftest import BIG_TXT_STRINGS, STD_CONFIG, WWW_A, ZONE

Z = ZONE


def n(label):
    return label + "." + Z if label else Z


def rrset(msg, rdtype, section="answer"):
    for r in getattr(msg, section):
        if r.rdtype == rdtype:
            return r
    return None


def addrs(msg, rdtype=T.A):
    r = rrset(msg, rdtype)
    return [rd.address for rd in r] if r else []


def assert_positive(msg):
    assert msg.rcode() == dns.rcode.NOERROR, msg
    assert msg.flags & dns.flags.AA, "AA not set:\n%s" % msg
    assert not msg.flags & dns.flags.RA, "RA set:\n%s" % msg
    assert msg.answer, "empty answer:\n%s" % msg


def assert_negative(msg, rcode, soa_ttl=60):
    assert msg.rcode() == rcode, msg
    assert msg.flags & dns.flags.AA, "AA not set:\n%s" % msg
    assert not msg.flags & dns.flags.RA, msg
    assert not msg.answer, "answer not empty:\n%s" % msg
    assert len(msg.authority) == 1, "want exactly the SOA in authority:\n%s" % msg
    soa = msg.authority[0]
    assert soa.rdtype == T.SOA and soa.name.to_text().lower() == Z, msg
    assert soa.ttl == soa_ttl, "negative SOA TTL %d, want %d" % (soa.ttl, soa_ttl)
    assert soa[0].serial == 2024010101


def test_service_a_answers_enabled_endpoints(std):
    """A query for a service answers exactly the enabled endpoints' IPv4 addresses, AA=1, RA=0, TTL from the service."""
    m = std.query(n("www"), "A")
    assert_positive(m)
    assert set(addrs(m)) == WWW_A
    assert len(addrs(m)) == 4
    assert rrset(m, T.A).ttl == 45


def test_minimal_responses(std):
    """A positive service answer carries only the answer section: no NS in authority, no additional."""
    m = std.query(n("www"), "A")
    assert_positive(m)
    assert len(m.answer) == 1
    assert m.authority == [] and m.additional == [], m


def test_rd_copied(std):
    """RD in the response is copied from the query; RA is never set."""
    m1 = std.query(n("www"), "A", rd=True)
    m0 = std.query(n("www"), "A", rd=False)
    assert m1.flags & dns.flags.RD and not m1.flags & dns.flags.RA
    assert not m0.flags & dns.flags.RD and not m0.flags & dns.flags.RA


def test_service_aaaa(std):
    """An AAAA query answers the enabled endpoints' IPv6 addresses only."""
    m = std.query(n("www"), "AAAA")
    assert_positive(m)
    assert addrs(m, T.AAAA) == ["2001:db8::1"]


def test_disabled_endpoint_never_answered(std):
    """Addresses of an endpoint with enabled: false never appear, over many queries."""
    for _ in range(20):
        m = std.query(n("www"), "A")
        assert "192.0.2.99" not in addrs(m)
    m = std.query(n("www"), "AAAA")
    assert "2001:db8::99" not in addrs(m, T.AAAA)


def test_default_service_ttl_is_30(std):
    """A service without ttl answers with TTL 30."""
    m = std.query(n("deflt"), "A")
    assert_positive(m)
    assert addrs(m) == ["192.0.2.10"] and m.answer[0].ttl == 30


def test_policy_all_rotates(std):
    """Policy all answers every address but rotates the order between successive queries."""
    orders = set()
    for _ in range(12):
        a = addrs(std.query(n("www"), "A"))
        assert set(a) == WWW_A and len(a) == 4
        orders.add(tuple(a))
    assert len(orders) >= 2, "order never changed: %s" % orders


def test_max_answers_caps_and_rotates(std):
    """max-answers caps the addresses per answer; rotation makes all of them appear over time."""
    seen = set()
    pool = {"10.0.0.%d" % i for i in range(1, 9)}
    for _ in range(16):
        a = addrs(std.query(n("capped"), "A"))
        assert len(a) == 3, a
        assert set(a) <= pool
        seen |= set(a)
    assert len(seen) > 3, "cap never rotated: %s" % seen


def test_apex_soa(std):
    """The apex SOA is the configured one (serial as configured), TTL = zone ttl."""
    m = std.query(Z, "SOA")
    assert_positive(m)
    soa = rrset(m, T.SOA)
    assert soa.ttl == 3600
    s = soa[0]
    assert s.mname.to_text() == "ns1." + Z
    assert s.rname.to_text() == "hostmaster.example.org."
    assert (s.serial, s.refresh, s.retry, s.expire, s.minimum) == \
        (2024010101, 3600, 600, 604800, 60)
    assert m.authority == []


def test_apex_ns_with_glue(std):
    """The apex NS query answers the NS names with in-zone glue A/AAAA in additional."""
    m = std.query(Z, "NS")
    assert_positive(m)
    ns = rrset(m, T.NS)
    assert {rd.target.to_text() for rd in ns} == {"ns1." + Z, "ns2." + Z}
    assert ns.ttl == 3600
    glue = {}
    for r in m.additional:
        for rd in r:
            glue.setdefault(r.name.to_text().lower(), set()).add(rd.address)
    assert glue == {"ns1." + Z: {"192.0.2.53", "2001:db8::53"},
                    "ns2." + Z: {"198.51.100.53"}}, m
    assert m.authority == []


def test_glue_names_answer(std):
    """The in-zone name servers answer A and AAAA with their glue addresses."""
    m = std.query(n("ns1"), "A")
    assert_positive(m)
    assert addrs(m) == ["192.0.2.53"] and m.answer[0].ttl == 3600
    m = std.query(n("ns1"), "AAAA")
    assert_positive(m)
    assert addrs(m, T.AAAA) == ["2001:db8::53"]
    m = std.query(n("ns2"), "A")
    assert_positive(m)
    assert addrs(m) == ["198.51.100.53"]


def test_static_records(std):
    """Zone-file records (TXT, MX, SRV, A) are served as written, with their TTL."""
    m = std.query(n("txt"), "TXT")
    assert_positive(m)
    assert [b"".join(rd.strings) for rd in m.answer[0]] == [b"hello world"]
    assert m.answer[0].ttl == 300
    m = std.query(n("mx"), "MX")
    assert_positive(m)
    rd = m.answer[0][0]
    assert (rd.preference, rd.exchange.to_text()) == (10, "mail." + Z)
    m = std.query(n("_sip._tcp"), "SRV")
    assert_positive(m)
    rd = m.answer[0][0]
    assert (rd.priority, rd.weight, rd.port, rd.target.to_text()) == (10, 60, 5060, "sip." + Z)
    m = std.query(n("mail"), "A")
    assert_positive(m)
    assert addrs(m) == ["192.0.2.25"]


def test_big_txt_rrset_over_tcp(std):
    """A large static TXT RRset is served complete over TCP."""
    m = std.query(n("big"), "TXT", tcp=True)
    assert_positive(m)
    got = sorted(b"".join(rd.strings).decode() for rd in m.answer[0])
    assert got == sorted(BIG_TXT_STRINGS)


def test_cname_query_answers_cname(std):
    """A CNAME query for an alias answers the CNAME record."""
    m = std.query(n("alias"), "CNAME")
    assert_positive(m)
    c = rrset(m, T.CNAME)
    assert c is not None and c[0].target.to_text() == "www." + Z


def test_a_query_on_cname_starts_with_cname(std):
    """An A query for an alias answers (at least) the CNAME first, NOERROR, AA=1."""
    m = std.query(n("alias"), "A")
    assert_positive(m)
    assert m.answer[0].rdtype == T.CNAME and m.answer[0].name.to_text().lower() == n("alias")
    # if the server chases the in-zone target, it must give the service's addresses
    chased = [r for r in m.answer if r.rdtype == T.A]
    if chased:
        assert {rd.address for rd in chased[0]} == WWW_A


def test_referral_for_delegated_child(std):
    """Names at and below a zone-file delegation get a referral: AA=0, NOERROR, NS in authority, glue."""
    for q in ("sub", "host.sub", "deep.host.sub"):
        m = std.query(n(q), "A")
        assert m.rcode() == dns.rcode.NOERROR, m
        assert not m.flags & dns.flags.AA, "AA set on a referral:\n%s" % m
        assert not m.flags & dns.flags.RA
        assert m.answer == [], m
        ns = rrset(m, T.NS, "authority")
        assert ns is not None, m
        assert ns.name.to_text().lower() == n("sub")
        assert [rd.target.to_text() for rd in ns] == ["ns.sub." + Z]
        glue = rrset(m, T.A, "additional")
        assert glue is not None and glue.name.to_text().lower() == n("ns.sub")
        assert [rd.address for rd in glue] == ["192.0.2.77"]


def test_nxdomain_with_soa(std):
    """A name that does not exist is NXDOMAIN, AA=1, SOA in authority with TTL min(zone ttl, minimum)=60."""
    assert_negative(std.query(n("nope"), "A"), dns.rcode.NXDOMAIN)
    assert_negative(std.query(n("deeper.nope"), "AAAA"), dns.rcode.NXDOMAIN)
    assert_negative(std.query(n("x.www"), "A"), dns.rcode.NXDOMAIN)


def test_nodata_with_soa(std):
    """An existing name without the asked type is NODATA: NOERROR, AA=1, empty answer, SOA in authority."""
    assert_negative(std.query(n("www"), "TXT"), dns.rcode.NOERROR)
    assert_negative(std.query(n("deflt"), "AAAA"), dns.rcode.NOERROR)
    assert_negative(std.query(n("mail"), "MX"), dns.rcode.NOERROR)
    assert_negative(std.query(n("txt"), "A"), dns.rcode.NOERROR)
    assert_negative(std.query(Z, "TXT"), dns.rcode.NOERROR)


def test_empty_non_terminal_is_nodata(std):
    """An empty non-terminal (a parent of a service or of a zone-file name) is NODATA, not NXDOMAIN."""
    assert_negative(std.query(n("c"), "A"), dns.rcode.NOERROR)
    assert_negative(std.query(n("y"), "TXT"), dns.rcode.NOERROR)
    assert_negative(std.query(n("_tcp"), "SRV"), dns.rcode.NOERROR)


def test_negative_ttl_is_zone_ttl_when_smaller(gslbd):
    """The negative-answer SOA TTL is the zone ttl when that is smaller than soa minimum; serial 0 means load time."""
    cfg = STD_CONFIG.replace("  ttl: 1h\n", "  ttl: 20s\n", 1) \
        .replace("minimum: 60s", "minimum: 300s").replace("serial: 2024010101", "serial: 0") \
        .replace("  zone-file: static.zone\n", "")
    t0 = int(time.time())
    g = gslbd(cfg)
    m = g.query(n("nope"), "A")
    assert m.rcode() == dns.rcode.NXDOMAIN and m.flags & dns.flags.AA
    soa = m.authority[0]
    assert soa.rdtype == T.SOA and soa.ttl == 20, m
    assert t0 - 5 <= soa[0].serial <= int(time.time()) + 5, "serial 0 not replaced by load time"
    m = g.query(Z, "SOA")
    assert m.answer[0].ttl == 20 and m.answer[0][0].minimum == 300


def test_out_of_zone_refused(std):
    """Names outside the zone (a sibling, the parent, the root, another TLD) get REFUSED, AA=0, no records."""
    for q in ("example.com.", "example.org.", "org.", ".", "www.other.example.org.",
              "global.example.org.evil."):
        m = std.query(q, "A")
        assert m.rcode() == dns.rcode.REFUSED, "%s:\n%s" % (q, m)
        assert not m.flags & dns.flags.AA
        assert not m.flags & dns.flags.RA
        assert not m.answer and not m.authority and not m.additional, m


def test_0x20_case_preserved(std):
    """The qname's case is preserved in the question and in the answer owner names (0x20)."""
    q = "WwW.GloBal.Example.ORG."
    for rdtype in ("A", "AAAA"):
        m = std.query(q, rdtype)
        assert_positive(m)
        assert m.question[0].name.to_text() == q
        assert m.answer[0].name.to_text() == q, m.answer[0].name.to_text()
    q = "NoPe.GLOBAL.example.org."
    m = std.query(q, "A")
    assert m.rcode() == dns.rcode.NXDOMAIN
    assert m.question[0].name.to_text() == q
    q = "TxT.gLoBaL.eXaMpLe.OrG."
    m = std.query(q, "TXT")
    assert_positive(m)
    assert m.answer[0].name.to_text() == q


def test_0x20_case_preserved_over_tcp(std):
    """0x20 case is also preserved over TCP."""
    q = "WWW.global.EXAMPLE.org."
    m = std.query(q, "A", tcp=True)
    assert_positive(m)
    assert m.question[0].name.to_text() == q and m.answer[0].name.to_text() == q


def test_any_answers_one_rrset(std):
    """ANY is answered with a single RRset (or HINFO), never every type (RFC 8482)."""
    for q in (Z, n("www"), n("multi"), n("ns1")):
        m = std.query(q, "ANY")
        assert m.rcode() == dns.rcode.NOERROR, m
        assert m.flags & dns.flags.AA
        assert len(m.answer) == 1, "ANY %s answered %d RRsets:\n%s" % (q, len(m.answer), m)
        assert m.answer[0].name.to_text().lower() == q


def test_any_over_tcp_one_rrset(std):
    """ANY over TCP is also limited to one RRset."""
    m = std.query(n("multi"), "ANY", tcp=True)
    assert m.rcode() == dns.rcode.NOERROR and len(m.answer) == 1, m


def test_dig_and_kdig_agree(std):
    """The real dig and kdig (UDP and TCP) see the service answer with aa set and no ra."""
    want = sorted(WWW_A)
    for args in ((), ("+tcp",)):
        out = std.dig(n("www"), "A", *args)
        assert "status: NOERROR" in out, out
        flags = [ln for ln in out.splitlines() if ln.startswith(";; flags:")][0]
        assert " aa" in flags and " ra" not in flags, flags
        got = sorted(ln.split()[-1] for ln in out.splitlines()
                     if ln and not ln.startswith(";") and "\tA\t" in ln)
        assert got == want, out
        out = std.kdig(n("www"), "A", *args)
        assert "status: NOERROR" in out, out
        flags = [ln for ln in out.splitlines() if ln.startswith(";; Flags:")][0]
        assert " aa" in flags and " ra" not in flags, flags
        got = sorted(ln.split()[-1] for ln in out.splitlines()
                     if ln and not ln.startswith(";") and "\tA\t" in ln)
        assert got == want, out


DUP_CONFIG = """zone:
  name: dup.example.org
  nameservers:
    - name: ns1
      addresses: [192.0.2.53]
probe-defaults:
  type: none
services:
  - name: www
    endpoints:
      - region: eu
        addresses: [192.0.2.7, 192.0.2.8, "2001:db8::7"]
      - region: us
        addresses: [192.0.2.7, "2001:db8::7"]
"""


def test_same_address_in_two_endpoints_answered_once(gslbd):
    """Two endpoints listing one address give one record (RFC 2181 5: no duplicates in an RRset); counted from dig's raw lines, since dnspython merges duplicates."""
    g = gslbd(DUP_CONFIG)
    a = g.dig("www.dup.example.org.", "A", "+short").split()
    aaaa = g.dig("www.dup.example.org.", "AAAA", "+short").split()
    assert sorted(a) == ["192.0.2.7", "192.0.2.8"], a
    assert aaaa == ["2001:db8::7"], aaaa

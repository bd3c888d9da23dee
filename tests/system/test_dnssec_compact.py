"""RFC 9824 compact denial (`dnssec.denial: compact`, issue 12): a missing
name gets NOERROR with an NSEC owned by the name, next name \\000.<name>,
types RRSIG NSEC NXNAME, signed online (NXDOMAIN and the CO flag when the
query set CO); a validating Unbound accepts it; qtype NXNAME is FORMERR;
a per-worker token bucket sends a random-name flood to the presigned
chain; a per-worker cache answers repeats without signing."""
import os
import re
import subprocess

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rdataclass
import dns.rcode
import dns.rdatatype as T
import pytest

from conftest import gslbd_binary, wait_for
from test_dnssec import (V6Backend, ZONE, ZONE_FILE, WWW, addrs, check_error,
                         config, ds_of, gslbctl, keygen, validated, verify_zone,
                         www_endpoints)
from test_dnssec import keys, validator  # noqa: F401  (fixtures)

CO = 0x4000
NXNAME = 128


def compact_config(keylines, eps, rate=None, denial="compact"):
    text = config(keylines, eps)
    extra = "  denial: %s\n" % denial
    if rate is not None:
        extra += "  online-sign-rate: %d\n" % rate
    return text.replace("dnssec:\n", "dnssec:\n" + extra, 1)


STATIC_EP = """      - region: a
        addresses: [192.0.2.1]
        probe: {type: none}"""


def do_query(g, name, rdtype="A", co=False, tcp=False):
    q = dns.message.make_query(name, rdtype, want_dnssec=True)
    if co:
        q.ednsflags |= CO
    if tcp:
        return dns.query.tcp(q, g.addr, port=g.port, timeout=3)
    return dns.query.udp(q, g.addr, port=g.port, timeout=3)


def nsecs(m):
    return [r for r in m.authority if r.rdtype == T.NSEC]


def is_compact(m, name):
    """The RFC 9824 shape: one NSEC, owned by the query name, next name
    \\000.<name>, bitmap exactly RRSIG NSEC NXNAME, with its RRSIG."""
    n = nsecs(m)
    if len(n) != 1 or n[0].name != dns.name.from_text(name):
        return False
    rd = n[0][0]
    want_next = dns.name.Name((b"\x00",) + dns.name.from_text(name).labels)
    types = set()
    for window, bitmap in rd.windows:
        for i, byte in enumerate(bitmap):
            for bit in range(8):
                if byte & (0x80 >> bit):
                    types.add(window * 256 + i * 8 + bit)
    sigs = [r for r in m.authority if r.rdtype == T.RRSIG and r.name == n[0].name]
    return (rd.next == want_next and types == {T.RRSIG, T.NSEC, NXNAME} and
            sigs and sigs[0][0].type_covered == T.NSEC)


def is_chain(m, name):
    """The traditional NXDOMAIN: NSECs that cover the name (none owned by it)."""
    n = nsecs(m)
    return (m.rcode() == dns.rcode.NXDOMAIN and n and
            all(r.name != dns.name.from_text(name) for r in n))


def test_compact_answer_shapes_co_flag_and_no_do(gslbd, keys):
    """DO without CO: NOERROR, SOA + RRSIG and the NXNAME NSEC + RRSIG; DO with CO: the same proof with NXDOMAIN and CO echoed; without DO: a plain NXDOMAIN with no NSEC; TCP alike; dig shows the NXNAME type."""
    g = gslbd(compact_config([keys["ksk"], keys["zsk"]], STATIC_EP),
              files={"static.zone": ZONE_FILE})
    name = "nope." + ZONE
    m = do_query(g, name)
    assert m.rcode() == dns.rcode.NOERROR and not m.answer, m
    assert m.flags & dns.flags.AA, m
    assert is_compact(m, name), m
    soa = [r for r in m.authority if r.rdtype == T.SOA]
    assert soa and soa[0].ttl == 60, m  # min(SOA TTL, minimum) as the chain's
    assert nsecs(m)[0].ttl == 60, m
    assert not m.ednsflags & CO, m
    m = do_query(g, name, co=True)
    assert m.rcode() == dns.rcode.NXDOMAIN and is_compact(m, name), m
    assert m.ednsflags & CO, m
    m = do_query(g, "A.Deeper.NoPe." + ZONE, co=True, tcp=True)
    assert m.rcode() == dns.rcode.NXDOMAIN and is_compact(m, "a.deeper.nope." + ZONE), m
    m = do_query(g, "*.wild." + ZONE)   # a literal "*": the chain proves it
    assert is_chain(m, "*.wild." + ZONE), m
    m = g.query(name, "A")
    assert m.rcode() == dns.rcode.NXDOMAIN and not nsecs(m), m
    assert not any(r.rdtype == T.RRSIG for r in m.authority), m
    out = g.dig("+dnssec", name, "A")
    assert "status: NOERROR" in out and "NSEC\t\\000.nope." + ZONE in out, out
    assert "RRSIG NSEC TYPE128" in out or "RRSIG NSEC NXNAME" in out, out
    # Existing names keep the presigned chain: NODATA proven by the
    # name's own NSEC, no NXNAME, nothing signed online.
    before = g.metric("gslbd_dnssec_online_signatures_total")
    m = do_query(g, "txt." + ZONE, "MX")
    n = nsecs(m)
    assert m.rcode() == dns.rcode.NOERROR and n and "TYPE128" not in n[0].to_text(), m
    assert g.metric("gslbd_dnssec_online_signatures_total") == before


def test_qtype_nxname_is_formerr(gslbd, keys):
    """RFC 9824 3.5: a query for type NXNAME (128) gets FORMERR, with DO or without, for a missing name or an existing one."""
    g = gslbd(compact_config([keys["ksk"], keys["zsk"]], STATIC_EP),
              files={"static.zone": ZONE_FILE})
    for name in ("nope." + ZONE, WWW, ZONE):
        for do in (False, True):
            q = dns.message.make_query(name, NXNAME, want_dnssec=do)
            m = dns.query.udp(q, g.addr, port=g.port, timeout=3)
            assert m.rcode() == dns.rcode.FORMERR and not m.authority, (name, do, m)


def test_validating_resolver_accepts_compact_answers(gslbd, validator, http_backend, keys):
    """A validating Unbound (DS trust anchor only) gives AD for missing names (compact NODATA-style answers; Unbound 1.17 does not know NXNAME, so NOERROR), NODATA, services and the apex SOA, before and after a backend dies; never SERVFAIL; the answers were signed online."""
    a, b, v6 = http_backend(), http_backend(), V6Backend()
    try:
        g = gslbd(compact_config([keys["ksk"], keys["zsk"]], www_endpoints(a, b, v6)),
                  files={"static.zone": ZONE_FILE})
        u = validator(ds_of(keys["ksk"]), g.addr, g.port)
        wait_for(lambda: addrs(g.query(WWW, "AAAA"), T.AAAA) == ["::1"], 10,
                 what="the IPv6 endpoint to be up")

        def check(a4, v6addrs):
            for name, rdtype in (("nope." + ZONE, "A"), ("a.b.c.nope." + ZONE, "TXT"),
                                 ("zz." + ZONE, "AAAA"), ("*.nope." + ZONE, "A")):
                m = u.query(name, rdtype, want_dnssec=True, timeout=5)
                assert m.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN), m
                assert m.flags & dns.flags.AD and not m.answer, (m, u.log()[-3000:])
            assert set(addrs(validated(u, WWW, "A"), T.A)) <= set(a4)
            assert addrs(validated(u, WWW, "AAAA"), T.AAAA) == v6addrs
            assert not validated(u, WWW, "TXT").answer            # NODATA
            assert not validated(u, "x." + ZONE, "A").answer      # empty non-terminal
            assert not validated(u, "txt." + ZONE, "MX").answer
            m = validated(u, ZONE, "SOA")
            assert m.answer[0].rdtype == T.SOA, m
        check([a.addr, b.addr], ["::1"])
        a.stop()
        v6.stop()
        wait_for(lambda: not addrs(g.query(WWW, "AAAA"), T.AAAA) and
                 all(addrs(g.query(WWW, "A"), T.A) == [b.addr] for _ in range(5)),
                 10, what="the dead backends to leave the answers")
        check([b.addr], [])
        assert g.metric("gslbd_dnssec_online_signatures_total") >= 3
    finally:
        v6.stop()


def test_ed25519_compact(gslbd, validator, tmp_path):
    """An Ed25519 CSK signs compact answers online; the validator gives AD."""
    csk = keygen(str(tmp_path), "-a", "ED25519", "-k")
    g = gslbd(compact_config([csk], STATIC_EP), files={"static.zone": ZONE_FILE})
    u = validator(ds_of(csk), g.addr, g.port)
    m = do_query(g, "nope." + ZONE)
    assert is_compact(m, "nope." + ZONE), m
    sig = [r for r in m.authority if r.rdtype == T.RRSIG and r[0].type_covered == T.NSEC]
    assert sig[0][0].algorithm == 15, m
    m = u.query("other." + ZONE, "A", want_dnssec=True, timeout=5)
    assert m.flags & dns.flags.AD and not m.answer, (m, u.log()[-3000:])


def test_cache_hit_on_repeat(gslbd, keys):
    """The same missing name asked twice (any case) is signed once: the second answer comes from the worker's cache, byte for byte the same proof."""
    g = gslbd(compact_config([keys["ksk"], keys["zsk"]], STATIC_EP),
              files={"static.zone": ZONE_FILE})
    m1 = do_query(g, "again." + ZONE)
    signed = g.metric("gslbd_dnssec_online_signatures_total")
    hits = g.metric("gslbd_dnssec_online_cache_hits_total")
    assert signed >= 1 and is_compact(m1, "again." + ZONE), m1
    m2 = do_query(g, "AGAIN." + ZONE)
    assert is_compact(m2, "again." + ZONE), m2
    assert g.metric("gslbd_dnssec_online_cache_hits_total") == hits + 1
    assert g.metric("gslbd_dnssec_online_signatures_total") == signed
    s1 = [r for r in m1.authority if r.rdtype == T.RRSIG and r[0].type_covered == T.NSEC]
    s2 = [r for r in m2.authority if r.rdtype == T.RRSIG and r[0].type_covered == T.NSEC]
    assert s1[0][0].signature == s2[0][0].signature


def test_bucket_empty_falls_back_to_the_chain(gslbd, validator, keys):
    """online-sign-rate 1: a burst of 200 distinct missing names gets the presigned chain's NXDOMAIN proof for almost all (fallback metric), the compact one for the few the bucket allows; every kind still validates; rate 0 never signs."""
    g = gslbd(compact_config([keys["ksk"], keys["zsk"]], STATIC_EP, rate=1),
              files={"static.zone": ZONE_FILE})
    compact = chain = 0
    for i in range(200):
        name = "flood%d.%s" % (i, ZONE)
        m = do_query(g, name)
        if is_compact(m, name):
            compact += 1
        else:
            assert is_chain(m, name), m
            chain += 1
    assert chain >= 150 and compact >= 1, (chain, compact)
    assert g.metric("gslbd_dnssec_online_fallbacks_total") == chain
    assert g.metric("gslbd_dnssec_online_signatures_total") == compact
    u = validator(ds_of(keys["ksk"]), g.addr, g.port)
    for i in range(20):
        m = u.query("v%d.%s" % (i, ZONE), "A", want_dnssec=True, timeout=5)
        assert m.flags & dns.flags.AD and m.rcode() in (
            dns.rcode.NOERROR, dns.rcode.NXDOMAIN) and not m.answer, (m, u.log()[-3000:])
    assert g.metric("gslbd_dnssec_online_fallbacks_total") > chain

    g0 = gslbd(compact_config([keys["ksk"], keys["zsk"]], STATIC_EP, rate=0),
               files={"static.zone": ZONE_FILE})
    m = do_query(g0, "zero." + ZONE)
    assert is_chain(m, "zero." + ZONE), m
    assert g0.metric("gslbd_dnssec_online_signatures_total") == 0


def test_gslbctl_zone_verifies_in_compact_mode(gslbd, keys, tmp_path):
    """In compact mode the presigned chain is still there (fallback, NODATA): `gslbctl zone` passes ldns-verify-zone and dnssec-verify, and no NSEC in it lists NXNAME (TYPE128)."""
    g = gslbd(compact_config([keys["ksk"], keys["zsk"]], STATIC_EP),
              files={"static.zone": ZONE_FILE})
    do_query(g, "nope." + ZONE)
    text = gslbctl(g, "zone")
    assert "IN\tNSEC\t" in text and "TYPE128" not in text and "NXNAME" not in text, text
    p = str(tmp_path / "zone")
    with open(p, "w") as f:
        f.write(text)
    verify_zone(p)


def test_compact_is_a_config_value_others_are_errors(keys, tmp_path):
    """`denial: compact` with an online-sign-rate loads; another denial value or a negative rate is a config error naming file:line:column."""
    exe = gslbd_binary()
    d = str(tmp_path)
    text = compact_config([keys["ksk"], keys["zsk"]], STATIC_EP, rate=5)
    out = check_error(exe, d, compact_config([keys["ksk"], keys["zsk"]], STATIC_EP,
                                             denial="nsec3"), "denial")
    assert re.search(r"bad\.yaml:\d+:11: dnssec\.denial: unknown denial 'nsec3' "
                     r"\(nsec, compact\)", out), out
    out = check_error(exe, d, text.replace("online-sign-rate: 5", "online-sign-rate: -1"),
                      "online-sign-rate")
    assert re.search(r"bad\.yaml:\d+:\d+: dnssec\.online-sign-rate", out), out
    p = os.path.join(d, "ok.yaml")
    with open(p, "w") as f:
        f.write(text)
    r = subprocess.run([exe, "-t", "-c", p], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=30)
    assert r.returncode == 0, r.stdout


def test_no_nxname_without_compact(gslbd, keys):
    """denial: nsec (the default): a missing name is a plain chain NXDOMAIN, nothing is signed online, and qtype NXNAME is still FORMERR."""
    g = gslbd(compact_config([keys["ksk"], keys["zsk"]], STATIC_EP, denial="nsec"),
              files={"static.zone": ZONE_FILE})
    m = do_query(g, "nope." + ZONE, co=True)
    assert is_chain(m, "nope." + ZONE) and not m.ednsflags & CO, m
    assert g.metric("gslbd_dnssec_online_signatures_total") == 0
    q = dns.message.make_query(ZONE, NXNAME)
    assert dns.query.udp(q, g.addr, port=g.port, timeout=3).rcode() == dns.rcode.FORMERR


def test_qtype_rrsig_answers_the_signatures_of_one_rrset(gslbd, keys):
    """qtype RRSIG at a signed name answers the RRSIGs of one RRset there (the first by type; a service's address answer), with or without DO, instead of a NODATA that denies them; a missing name still gets the denial."""
    g = gslbd(compact_config([keys["ksk"], keys["zsk"]], STATIC_EP),
              files={"static.zone": ZONE_FILE})
    for name, covered in (("txt." + ZONE, T.TXT), (WWW, T.A), (ZONE, T.NS),
                          ("mail." + ZONE, T.A)):
        for do in (False, True):
            q = dns.message.make_query(name, "RRSIG", want_dnssec=do)
            m = dns.query.udp(q, g.addr, port=g.port, timeout=3)
            sigs = [r for r in m.answer if r.rdtype == T.RRSIG]
            assert m.rcode() == dns.rcode.NOERROR and sigs, (name, do, m)
            assert sigs[0].name == dns.name.from_text(name), m
            assert {rd.type_covered for rd in sigs[0]} == {covered}, (name, m)
    m = do_query(g, "nope." + ZONE, "RRSIG")
    assert not m.answer and is_compact(m, "nope." + ZONE), m


def test_two_workers_sign_concurrently_and_signatures_verify(gslbd, keys):
    """Two workers, two clients at once, 300 distinct missing names: every answer is a compact or a chain proof whose RRSIGs verify against the zone's DNSKEY (dnspython), signed on both workers at once with one shared key."""
    import threading
    import dns.dnssec
    g = gslbd(compact_config([keys["ksk"], keys["zsk"]], STATIC_EP).replace(
        "  workers: 1\n", "  workers: 2\n"), files={"static.zone": ZONE_FILE})
    dnskey = do_query(g, ZONE, "DNSKEY").find_rrset(
        dns.message.ANSWER, dns.name.from_text(ZONE), dns.rdataclass.IN, T.DNSKEY)
    keyring = {dns.name.from_text(ZONE): dnskey}
    bad, shapes = [], []

    def client(k):
        for i in range(150):
            name = "c%d-%d.%s" % (k, i, ZONE)
            m = do_query(g, name)
            try:
                assert is_compact(m, name) or is_chain(m, name), m
                for rr in nsecs(m):
                    sig = m.find_rrset(dns.message.AUTHORITY, rr.name, dns.rdataclass.IN,
                                       T.RRSIG, T.NSEC)
                    dns.dnssec.validate(rr, sig, keyring)
                shapes.append(is_compact(m, name))
            except Exception as e:  # noqa: BLE001  (collected, asserted below)
                bad.append((name, repr(e)))
    threads = [threading.Thread(target=client, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not bad, bad[:3]
    assert len(shapes) == 300 and all(shapes), shapes.count(False)
    assert g.metric("gslbd_dnssec_online_signatures_total") == 300
    assert g.alive()

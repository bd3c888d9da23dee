"""DNSSEC presigned at snapshot time (issue 12): a validating Unbound with
the zone's DS as its only trust anchor gives AD for service answers,
NXDOMAIN, NODATA, the apex and zone-file records, before and after
backends die; expired signatures or a wrong anchor make the same checks
fail; RRSIG/NSEC only with DO; key problems are config errors."""
import http.server
import os
import shutil
import socket
import subprocess
import threading

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype as T
import pytest

from conftest import Daemon, DnsPeer, free_endpoint, start_unbound, wait_for
from fake_kube import fake_kube, kube_certs  # noqa: F401  (fixtures)

ZONE = "global.example.org."
WWW = "www." + ZONE

ZONE_FILE = """$TTL 300
txt     TXT "hello"
mail    A   192.0.2.25
deep.x  TXT "deep"
sub     NS  ns.sub
ns.sub  A   192.0.2.77
"""


def keygen(d, *args):
    """ldns-keygen in d; returns the key's base name (a path)."""
    r = subprocess.run(["ldns-keygen"] + list(args) + [ZONE.rstrip(".")],
                       cwd=d, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=60, check=True)
    base = os.path.join(d, r.stdout.strip().splitlines()[-1])
    for ext in (".ds",):
        if os.path.exists(base + ext):
            os.unlink(base + ext)
    return base


def ds_of(base):
    r = subprocess.run(["ldns-key2ds", "-n", "-2", base + ".key"],
                       stdout=subprocess.PIPE, text=True, timeout=30, check=True)
    return r.stdout.strip()


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """A KSK and a ZSK (ECDSA P-256), and an unrelated KSK."""
    d = str(tmp_path_factory.mktemp("keys"))
    ksk = keygen(d, "-a", "ECDSAP256SHA256", "-k")
    zsk = keygen(d, "-a", "ECDSAP256SHA256")
    other_d = os.path.join(d, "other")
    os.makedirs(other_d)
    other = keygen(other_d, "-a", "ECDSAP256SHA256", "-k")
    return {"dir": d, "ksk": ksk, "zsk": zsk, "other": other}


class V6Backend:
    """An HTTP health endpoint on [::1]: the IPv6 address of a service."""

    def __init__(self):
        class Server(http.server.ThreadingHTTPServer):
            address_family = socket.AF_INET6

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *a):
                pass

        self.server = Server(("::1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()
        self.stopped = False

    def stop(self):
        if not self.stopped:
            self.stopped = True
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(5)


class Validator(Daemon, DnsPeer):
    pass


@pytest.fixture
def validator(tmp_path):
    """Factory: a validating Unbound (validator + iterator) whose only
    trust anchor is the DS given, with a stub-zone to gslbd and no cache
    for answers, not even NSEC ranges (RFC 8198), so each query reaches
    gslbd.  override_date: validate
    as if it were that date (YYYYMMDDhhmmss)."""
    made = []

    def make(ds, stub_addr, stub_port, override_date=None, zone=ZONE):
        d = os.path.join(str(tmp_path), "validator%d" % len(made))
        os.makedirs(d)
        addr, port = free_endpoint()
        extra = ('  val-override-date: "%s"\n' % override_date) if override_date else ""
        with open(os.path.join(d, "unbound.conf"), "w") as f:
            f.write("""server:
  interface: %(addr)s
  port: %(port)d
  do-ip6: no
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "%(d)s"
  pidfile: "%(d)s/unbound.pid"
  use-syslog: no
  logfile: ""
  verbosity: 1
  val-log-level: 2
  num-threads: 1
  module-config: "validator iterator"
  do-not-query-localhost: no
  access-control: 127.0.0.0/8 allow
  cache-max-ttl: 0
  cache-max-negative-ttl: 0
  aggressive-nsec: no
  trust-anchor-signaling: no
  trust-anchor: "%(ds)s"
%(extra)sremote-control:
  control-enable: no
stub-zone:
  name: "%(zone)s"
  stub-addr: %(saddr)s@%(sport)d
""" % dict(addr=addr, port=port, d=d, ds=ds, zone=zone, saddr=stub_addr,
                sport=stub_port, extra=extra))
        u = start_unbound(Validator, d, os.path.join(d, "unbound.conf"),
                          addr, port)
        made.append(u)
        return u
    yield make
    for u in made:
        u.stop()


def config(keylines, www_eps, validity="14d", extra=""):
    return """server:
  workers: 1
zone:
  name: global.example.org
  zone-file: static.zone
  soa:
    minimum: 60s
  nameservers:
    - name: ns1
      addresses: [192.0.2.53]
probe-defaults:
  type: http
  interval: 200ms
  timeout: 200ms
  jitter: 0ms
  rise: 1
  fall: 1
  path: /
dnssec:
  keys: [%s]
  signature-validity: %s
services:
  - name: www
    policy: weighted
    endpoints:
%s
  - name: pool
    policy: all
    max-answers: 2
    probe: {type: none}
    endpoints:
      - region: a
        addresses: [192.0.2.11, 192.0.2.12, 192.0.2.13]
%s""" % (", ".join(keylines), validity, www_eps, extra)


def www_endpoints(a, b, v6):
    return """      - region: a
        addresses: [%s]
        probe: {port: %d}
      - region: b
        addresses: [%s]
        probe: {port: %d}
      - region: c
        addresses: ["::1"]
        probe: {port: %d}""" % (a.addr, a.port, b.addr, b.port, v6.port)


def validated(u, name, rdtype, rcode=dns.rcode.NOERROR):
    """Ask the validator with DO; the answer must be AD with rcode."""
    m = u.query(name, rdtype, want_dnssec=True, timeout=5)
    assert m.rcode() == rcode and m.flags & dns.flags.AD, (
        "%s %s: %s AD=%s\n%s\n%s" % (name, rdtype, dns.rcode.to_text(m.rcode()),
                                    bool(m.flags & dns.flags.AD), m, u.log()[-3000:]))
    return m


def addrs(m, rdtype):
    return sorted(rd.address for rr in m.answer if rr.rdtype == rdtype for rd in rr)


def check_all(u, a4, v6):
    """Every kind of answer validates (AD), none SERVFAILs."""
    m = validated(u, WWW, "A")
    assert set(addrs(m, T.A)) <= set(a4) and addrs(m, T.A), m
    m = validated(u, WWW, "AAAA")
    assert addrs(m, T.AAAA) == v6, m
    for _ in range(3):  # each rotation window is its own signed RRset
        m = validated(u, "pool." + ZONE, "A")
        assert len(addrs(m, T.A)) == 2, m
    validated(u, "nope." + ZONE, "A", dns.rcode.NXDOMAIN)
    validated(u, "a.b.c.nope." + ZONE, "TXT", dns.rcode.NXDOMAIN)
    # Deep names: the closest encloser is found however deep the name is.
    validated(u, "x." * 90 + "nope." + ZONE, "A", dns.rcode.NXDOMAIN)
    validated(u, "x." * 90 + WWW, "A", dns.rcode.NXDOMAIN)
    m = validated(u, WWW, "TXT")                  # NODATA at a service
    assert not m.answer, m
    m = validated(u, "x." + ZONE, "A")            # NODATA at an empty non-terminal
    assert not m.answer, m
    m = validated(u, "txt." + ZONE, "MX")         # NODATA at a zone-file name
    assert not m.answer, m
    m = validated(u, ZONE, "SOA")
    assert m.answer and m.answer[0].rdtype == T.SOA, m
    m = validated(u, "txt." + ZONE, "TXT")
    assert m.answer[0][0].strings == (b"hello",), m
    m = validated(u, "deep.x." + ZONE, "TXT")
    assert m.answer[0][0].strings == (b"deep",), m
    validated(u, "mail." + ZONE, "A")


def test_validating_resolver_before_and_after_backends_die(gslbd, validator, http_backend, keys):
    """A validating Unbound (DS trust anchor only) gives AD for service answers, NXDOMAIN, NODATA, the apex and zone-file records; after a v4 backend and the only IPv6 backend die, still AD (AAAA NODATA proven by an NSEC without AAAA), never SERVFAIL."""
    a, b, v6 = http_backend(), http_backend(), V6Backend()
    try:
        g = gslbd(config([keys["ksk"], keys["zsk"]], www_endpoints(a, b, v6)),
                  files={"static.zone": ZONE_FILE})
        u = validator(ds_of(keys["ksk"]), g.addr, g.port)
        wait_for(lambda: addrs(g.query(WWW, "AAAA"), T.AAAA) == ["::1"], 10,
                 what="the IPv6 endpoint to be up")
        check_all(u, [a.addr, b.addr], ["::1"])
        a.stop()
        v6.stop()
        wait_for(lambda: not addrs(g.query(WWW, "AAAA"), T.AAAA) and
                 all(addrs(g.query(WWW, "A"), T.A) == [b.addr] for _ in range(5)),
                 10, what="the dead backends to leave the answers")
        check_all(u, [b.addr], [])
        # The NODATA for AAAA comes with an NSEC whose bitmap has A only.
        m = g.query(WWW, "AAAA", want_dnssec=True)
        nsec = [r for r in m.authority if r.rdtype == T.NSEC]
        assert nsec, m
        text = nsec[0].to_text() + " "
        assert "AAAA" not in text and " A " in text, m
    finally:
        v6.stop()


def test_expired_signatures_fail_validation(gslbd, validator, keys):
    """The same zone checked as if it were 2040 (every signature expired): the validator SERVFAILs, never AD."""
    g = gslbd(config([keys["ksk"], keys["zsk"]], """      - region: a
        addresses: [192.0.2.1]
        probe: {type: none}"""), files={"static.zone": ZONE_FILE})
    u = validator(ds_of(keys["ksk"]), g.addr, g.port, override_date="20400101000000")
    for name, rdtype in ((WWW, "A"), ("nope." + ZONE, "A"), (ZONE, "SOA")):
        m = u.query(name, rdtype, want_dnssec=True, timeout=5)
        assert m.rcode() == dns.rcode.SERVFAIL and not m.flags & dns.flags.AD, m
    with pytest.raises(AssertionError):
        validated(u, WWW, "A")


def test_wrong_trust_anchor_fails_validation(gslbd, validator, keys):
    """With another key's DS as the anchor the chain does not verify: SERVFAIL, never AD."""
    g = gslbd(config([keys["ksk"], keys["zsk"]], """      - region: a
        addresses: [192.0.2.1]
        probe: {type: none}"""), files={"static.zone": ZONE_FILE})
    u = validator(ds_of(keys["other"]), g.addr, g.port)
    m = u.query(WWW, "A", want_dnssec=True, timeout=5)
    assert m.rcode() == dns.rcode.SERVFAIL and not m.flags & dns.flags.AD, m


def test_ed25519_csk(gslbd, validator, tmp_path):
    """One Ed25519 key (algorithm 15, flags 257) as a CSK signs everything; the validator gives AD."""
    d = str(tmp_path)
    csk = keygen(d, "-a", "ED25519", "-k")
    g = gslbd(config([csk], """      - region: a
        addresses: [192.0.2.1, "2001:db8::1"]
        probe: {type: none}"""), files={"static.zone": ZONE_FILE})
    u = validator(ds_of(csk), g.addr, g.port)
    assert addrs(validated(u, WWW, "A"), T.A) == ["192.0.2.1"]
    assert addrs(validated(u, WWW, "AAAA"), T.AAAA) == ["2001:db8::1"]
    validated(u, "nope." + ZONE, "A", dns.rcode.NXDOMAIN)
    m = g.query(ZONE, "DNSKEY", want_dnssec=True)
    sigs = [r for r in m.answer if r.rdtype == T.RRSIG]
    assert sigs and sigs[0][0].algorithm == 15, m


def test_rrsig_only_with_do(gslbd, keys):
    """Without DO a signed zone answers as an unsigned one (no RRSIG, no NSEC); with DO every answer and proof carries them; the capped `all` answer's signature covers exactly its rotation window."""
    g = gslbd(config([keys["ksk"], keys["zsk"]], """      - region: a
        addresses: [192.0.2.1]
        probe: {type: none}"""), files={"static.zone": ZONE_FILE})
    for name, rdtype in ((WWW, "A"), ("nope." + ZONE, "A"), (WWW, "TXT"),
                         ("txt." + ZONE, "TXT")):
        m = g.query(name, rdtype, use_edns=0)
        assert not [r for r in m.answer + m.authority
                    if r.rdtype in (T.RRSIG, T.NSEC)], m
        m = g.query(name, rdtype, want_dnssec=True)
        assert [r for r in m.answer + m.authority if r.rdtype == T.RRSIG], m
    m = g.query("nope." + ZONE, "A", want_dnssec=True)
    assert len([r for r in m.authority if r.rdtype == T.NSEC]) == 2, m
    seen = set()
    for _ in range(6):
        m = g.query("pool." + ZONE, "A", want_dnssec=True)
        a = [r for r in m.answer if r.rdtype == T.A][0]
        assert len(a) == 2
        seen.add(tuple(sorted(rd.address for rd in a)))
    assert len(seen) == 3, seen   # three windows of two, each signed
    # qtype NSEC: the name's NSEC (its RRSIG only with DO); an empty
    # non-terminal has none: NODATA.
    m = g.query("txt." + ZONE, "NSEC", use_edns=0)
    assert [rr.rdtype for rr in m.answer] == [T.NSEC], m
    m = g.query("txt." + ZONE, "NSEC", want_dnssec=True)
    assert [rr.rdtype for rr in m.answer] == [T.NSEC, T.RRSIG], m
    m = g.query("x." + ZONE, "NSEC", want_dnssec=True)
    assert not m.answer and m.rcode() == dns.rcode.NOERROR, m
    # A referral with DO proves the child unsigned (NSEC at the cut, NS bit, no DS).
    m = g.query("host.sub." + ZONE, "A", want_dnssec=True)
    nsec = [r for r in m.authority if r.rdtype == T.NSEC]
    assert nsec and nsec[0].name.to_text() == "sub." + ZONE, m
    assert " NS " in nsec[0].to_text() + " " and " DS" not in nsec[0].to_text(), m


def test_do_answer_that_does_not_fit_is_truncated(gslbd, keys):
    """A DO answer too big for 512 bytes is TC over UDP, and whole (with its RRSIGs) over TCP."""
    big = "".join('big TXT "%s"\n' % (chr(ord("a") + i) * 60) for i in range(6))
    g = gslbd(config([keys["ksk"], keys["zsk"]], """      - region: a
        addresses: [192.0.2.1]
        probe: {type: none}"""), files={"static.zone": ZONE_FILE + big})
    m = g.query("big." + ZONE, "TXT", use_edns=0, payload=512, want_dnssec=True)
    assert m.flags & dns.flags.TC and not m.answer, m
    m = g.query("big." + ZONE, "TXT", want_dnssec=True, tcp=True)
    assert len([r for r in m.answer if r.rdtype == T.RRSIG]) == 1, m


def check_error(gslbd_bin, d, text, want):
    p = os.path.join(d, "bad.yaml")
    with open(p, "w") as f:
        f.write(text)
    with open(os.path.join(d, "static.zone"), "w") as f:
        f.write(ZONE_FILE)
    r = subprocess.run([gslbd_bin, "-t", "-c", p], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=30)
    assert r.returncode == 1 and want in r.stdout, r.stdout
    assert "bad.yaml:" in r.stdout, r.stdout
    return r.stdout


EP = """      - region: a
        addresses: [192.0.2.1]
        probe: {type: none}"""


def test_key_problems_are_config_errors(tmp_path, keys):
    """A .private readable by others, a key owned by another name, an unsupported algorithm, a missing file, a validity under a day or under twice the largest TTL: each a file:line:column error."""
    from conftest import gslbd_binary
    exe = gslbd_binary()
    d = str(tmp_path)
    # readable by group/others
    loose = keygen(d, "-a", "ECDSAP256SHA256", "-k")
    os.chmod(loose + ".private", 0o644)
    out = check_error(exe, d, config([loose], EP), "readable by group or others")
    assert "dnssec.keys[0]" in out and "chmod 600" in out, out
    # another owner
    r = subprocess.run(["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", "other.example."],
                       cwd=d, stdout=subprocess.PIPE, text=True, check=True)
    other = os.path.join(d, r.stdout.strip())
    check_error(exe, d, config([other], EP), "not the zone apex")
    # RSA: not algorithm 13 or 15
    rsa = keygen(d, "-a", "RSASHA256", "-b", "1024", "-k")
    check_error(exe, d, config([rsa], EP), "algorithm 8 is not supported")
    check_error(exe, d, config([os.path.join(d, "Knope")], EP), "No such file")
    check_error(exe, d, config([keys["ksk"]], EP, validity="12h"), "under one day")
    check_error(exe, d, config([keys["ksk"]], EP, validity="1d") +
                "\n".join(["", "  - name: slow", "    ttl: 50000", "    probe: {type: none}",
                           "    endpoints:", EP]), "twice the largest TTL")
    # and the same keys, well kept, are fine
    p = os.path.join(d, "ok.yaml")
    with open(p, "w") as f:
        f.write(config([keys["ksk"], keys["zsk"]], EP))
    r = subprocess.run([exe, "-t", "-c", p], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=30)
    assert r.returncode == 0, r.stdout


def gslbctl(g, *args):
    exe = os.environ.get("GSLBCTL") or os.path.join(os.path.dirname(
        os.environ["GSLBD"]), "gslbctl")
    r = subprocess.run([exe, "-s", g.control_url] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def verify_zone(path):
    r = subprocess.run(["ldns-verify-zone", path], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=60)
    assert r.returncode == 0 and "verified" in r.stdout, r.stdout
    # bind9-utils is installed by tests/deps.sh: missing, this fails.
    r = subprocess.run(["dnssec-verify", "-o", ZONE, path], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=60)
    assert r.returncode == 0 and "Zone fully signed" in r.stdout, r.stdout


def test_gslbctl_zone_verifies_before_and_after_a_health_change(gslbd, http_backend, keys, tmp_path):
    """`gslbctl zone` prints the zone as served (signed, with its NSEC chain and the other policy variants as comments); ldns-verify-zone and dnssec-verify accept it, and again after a backend died; `gslbctl ds` prints the KSK's DS."""
    a, b = http_backend(), http_backend()
    eps = """      - region: a
        addresses: [%s]
        probe: {port: %d}
      - region: b
        addresses: [%s]
        probe: {port: %d}""" % (a.addr, a.port, b.addr, b.port)
    g = gslbd(config([keys["ksk"], keys["zsk"]], eps), files={"static.zone": ZONE_FILE})
    wait_for(lambda: a.hits and b.hits, 10, what="both backends probed")
    text = gslbctl(g, "zone")
    assert "; variant: www." in text and "; rotation: pool." in text, text
    assert "IN\tNSEC\t" in text and "IN\tDNSKEY\t" in text, text
    p = str(tmp_path / "zone1")
    with open(p, "w") as f:
        f.write(text)
    verify_zone(p)
    a.stop()
    wait_for(lambda: a.addr not in gslbctl(g, "zone"), 10, what="a to leave the zone")
    p = str(tmp_path / "zone2")
    with open(p, "w") as f:
        f.write(gslbctl(g, "zone"))
    verify_zone(p)
    ds = gslbctl(g, "ds").split()
    want = ds_of(keys["ksk"]).split()
    assert ds[-4:] == want[-4:] and len(ds) == len(want), (ds, want)


def test_zone_unsigned_and_ds_empty_without_dnssec(gslbd):
    """Without a dnssec section `gslbctl zone` still prints the zone (no RRSIG, no NSEC) and `gslbctl ds` prints nothing."""
    g = gslbd("""zone:
  name: global.example.org
  nameservers:
    - name: ns1
      addresses: [192.0.2.53]
services:
  - name: www
    endpoints:
      - region: a
        addresses: [192.0.2.1]
        probe: {type: none}
""")
    text = gslbctl(g, "zone")
    assert "www.global.example.org.\t30\tIN\tA\t192.0.2.1" in text, text
    assert "RRSIG" not in text and "NSEC" not in text, text
    assert gslbctl(g, "ds") == ""


# faketime is installed by tests/deps.sh; without it the clock tests fail.
FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"


def faked_gslbd(gslbd, monkeypatch, tmp_path, *args, **kw):
    """Start gslbd under libfaketime (wall clock only; monotonic timers
    run true); returns it and shift(offset) that moves its clock, e.g.
    shift("+11d")."""
    ft = str(tmp_path / "faketime")

    def shift(offset):
        with open(ft, "w") as f:
            f.write(offset + "\n")
    shift("+0")
    assert os.path.exists(FAKETIME_LIB), "faketime missing: run tests/deps.sh"
    monkeypatch.setenv("LD_PRELOAD", FAKETIME_LIB)
    monkeypatch.setenv("FAKETIME_TIMESTAMP_FILE", ft)
    monkeypatch.setenv("FAKETIME_NO_CACHE", "1")
    monkeypatch.setenv("FAKETIME_DONT_FAKE_MONOTONIC", "1")
    # Under ASan (tests/run.sh's second round) libfaketime comes first.
    asan = os.environ.get("ASAN_OPTIONS", "")
    monkeypatch.setenv("ASAN_OPTIONS", (asan + ":" if asan else "") +
                       "verify_asan_link_order=0")
    g = gslbd(*args, **kw)
    monkeypatch.delenv("LD_PRELOAD")
    if asan:
        monkeypatch.setenv("ASAN_OPTIONS", asan)
    else:
        monkeypatch.delenv("ASAN_OPTIONS")
    return g, shift


def expiry_metric(g):
    for line in gslbctl(g, "metrics").splitlines():
        if line.startswith("gslbd_dnssec_signature_expiry_timestamp_seconds "):
            return int(float(line.split()[1]))
    return None


def test_signatures_refreshed_when_a_third_is_left(gslbd, keys, tmp_path, monkeypatch):
    """Signatures expire within validity minus 10% jitter; when the (faked) clock leaves less than a third, gslbd re-signs everything (log line, later expiry in the metric and in the RRSIGs served)."""
    import time
    g, shift = faked_gslbd(
        gslbd, monkeypatch, tmp_path, config([keys["ksk"], keys["zsk"]], EP), files={"static.zone": ZONE_FILE})
    now = int(time.time())
    e0 = expiry_metric(g)
    assert now + 14 * 86400 * 0.9 - 60 <= e0 <= now + 14 * 86400, (now, e0)
    m = g.query(WWW, "A", want_dnssec=True)
    sig = [r for r in m.answer if r.rdtype == T.RRSIG][0][0]
    assert sig.inception <= now - 3600 + 60 and sig.expiration >= e0, sig
    assert "re-signing" not in g.log()
    shift("+11d")   # 3 days or less left of 14: under a third
    wait_for(lambda: "re-signing the zone" in g.log(), 10, what="re-signing")
    e1 = wait_for(lambda: (expiry_metric(g) or 0) > e0 + 10 * 86400 and expiry_metric(g), 10,
                  what="the metric to move")
    m = g.query(WWW, "A", want_dnssec=True)
    sig = [r for r in m.answer if r.rdtype == T.RRSIG][0][0]
    assert sig.expiration >= e1 and sig.inception > now + 10 * 86400, sig


def bind_keygen(d, *args):
    """dnssec-keygen (bind9-utils) in d, with timing options; the base name."""
    r = subprocess.run(["dnssec-keygen", "-q", "-K", d, "-a", "ECDSAP256SHA256"] +
                       list(args) + [ZONE.rstrip(".")], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=60, check=True)
    base = os.path.join(d, r.stdout.strip().splitlines()[-1])
    os.chmod(base + ".private", 0o600)
    return base


def key_tag(base):
    return int(base.rsplit("+", 1)[1])


def dnskey_tags(g):
    import dns.dnssec
    m = g.query(ZONE, "DNSKEY", want_dnssec=True, tcp=True)
    return sorted(dns.dnssec.key_id(rd) for rr in m.answer if rr.rdtype == T.DNSKEY
                  for rd in rr)


def rrsig_tags(g, name, rdtype):
    m = g.query(name, rdtype, want_dnssec=True, tcp=True)
    return sorted(rd.key_tag for rr in m.answer if rr.rdtype == T.RRSIG for rd in rr)


def test_cds_and_cdnskey(gslbd, validator, keys):
    """CDS and CDNSKEY for the KSK at the apex, signed (AD through the validator); `cds: delete` publishes the RFC 8078 delete form; `cds: none` neither (the apex NSEC then has no CDS bit)."""
    g = gslbd(config([keys["ksk"], keys["zsk"]], EP), files={"static.zone": ZONE_FILE})
    u = validator(ds_of(keys["ksk"]), g.addr, g.port)
    m = validated(u, ZONE, "CDS")
    cds = [rr for rr in m.answer if rr.rdtype == T.CDS][0]
    want = ds_of(keys["ksk"]).split()
    assert [(rd.key_tag, rd.algorithm, rd.digest_type, rd.digest.hex())
            for rd in cds] == [(int(want[4]), 13, 2, want[7].lower())], m
    m = validated(u, ZONE, "CDNSKEY")
    assert [rd.flags for rr in m.answer if rr.rdtype == T.CDNSKEY for rd in rr] == [257], m
    g2 = gslbd(config([keys["ksk"], keys["zsk"]], EP).replace(
        "  signature-validity: 14d\n", "  signature-validity: 14d\n  cds: delete\n"),
        files={"static.zone": ZONE_FILE})
    m = g2.query(ZONE, "CDS", want_dnssec=True)
    assert [rd.to_text() for rr in m.answer if rr.rdtype == T.CDS for rd in rr] == ["0 0 0 00"], m
    m = g2.query(ZONE, "CDNSKEY", want_dnssec=True)
    assert [rd.to_text() for rr in m.answer if rr.rdtype == T.CDNSKEY for rd in rr] == ["0 3 0 AA=="], m
    g3 = gslbd(config([keys["ksk"], keys["zsk"]], EP).replace(
        "  signature-validity: 14d\n", "  signature-validity: 14d\n  cds: none\n"),
        files={"static.zone": ZONE_FILE})
    m = g3.query(ZONE, "CDS", want_dnssec=True)
    assert not m.answer, m
    nsec = [r for r in m.authority if r.rdtype == T.NSEC][0].to_text()
    assert "CDS" not in nsec and "DNSKEY" in nsec, m


def test_zsk_prepublish_rollover_follows_bind_timing(gslbd, tmp_path, monkeypatch):
    """A pre-published ZSK (Publish now, Activate +2d) is in the DNSKEY RRset but does not sign; when the (faked) clock passes its Activate and the old ZSK's Inactive, gslbd rebuilds and signs with the new one; past the old one's Delete it leaves the DNSKEY RRset.  A key set with nothing active is a config error."""
    d = str(tmp_path / "keys")
    os.makedirs(d)
    ksk = bind_keygen(d, "-f", "KSK")
    old = bind_keygen(d, "-I", "+2d", "-D", "+4d")
    new = bind_keygen(d, "-P", "now", "-A", "+2d")
    g, shift = faked_gslbd(
        gslbd, monkeypatch, tmp_path, config([ksk, old, new], EP), files={"static.zone": ZONE_FILE})
    assert dnskey_tags(g) == sorted(map(key_tag, (ksk, old, new)))
    assert rrsig_tags(g, WWW, "A") == [key_tag(old)]
    assert rrsig_tags(g, ZONE, "DNSKEY") == [key_tag(ksk)]
    shift("+50h")   # past the new ZSK's Activate, the old one's Inactive
    wait_for(lambda: "key timing event" in g.log(), 10, what="the key event")
    wait_for(lambda: rrsig_tags(g, WWW, "A") == [key_tag(new)], 10,
             what="the new ZSK to sign")
    assert dnskey_tags(g) == sorted(map(key_tag, (ksk, old, new)))  # old still published
    shift("+98h")   # past the old ZSK's Delete
    wait_for(lambda: dnskey_tags(g) == sorted(map(key_tag, (ksk, new))), 10,
             what="the old ZSK to leave the DNSKEY RRset")
    assert rrsig_tags(g, "txt." + ZONE, "TXT") == [key_tag(new)]
    # Nothing active now: refused.
    from conftest import gslbd_binary
    late = bind_keygen(d, "-P", "+1d", "-A", "+1d")
    check_error(gslbd_binary(), str(tmp_path), config([ksk, late], EP),
                "no key signing the zone is active now")


def signed_counts(g):
    import re
    return [(int(a), int(b)) for a, b in re.findall(
        r"zone signed signatures_made=(\d+) reused=(\d+)", g.log())]


def test_reload_resigns_only_what_changed(gslbd, validator, keys):
    """A reload reuses the signatures of unchanged RRsets (signature cache): unchanged config, only the SOA (new serial) is signed again; a changed zone-file record is signed anew, and everything still validates."""
    cfg = config([keys["ksk"], keys["zsk"]], EP)
    g = gslbd(cfg, files={"static.zone": ZONE_FILE})
    u = validator(ds_of(keys["ksk"]), g.addr, g.port)
    first = signed_counts(g)[0]
    assert first[0] > 20, first
    n = len(signed_counts(g))
    g.reload()
    wait_for(lambda: len(signed_counts(g)) > n, 10, what="the reload's build")
    made, reused = signed_counts(g)[-1]
    assert made <= 1 and reused >= first[0] - 1, signed_counts(g)
    with open(os.path.join(g.dir, "static.zone"), "w") as f:
        f.write(ZONE_FILE.replace('"hello"', '"changed"'))
    n = len(signed_counts(g))
    g.reload()
    wait_for(lambda: len(signed_counts(g)) > n, 10, what="the second reload's build")
    made, reused = signed_counts(g)[-1]
    assert 1 <= made <= 2, signed_counts(g)
    m = validated(u, "txt." + ZONE, "TXT")
    assert m.answer[0][0].strings == (b"changed",), m
    check_all_static(u)


def check_all_static(u):
    validated(u, "nope." + ZONE, "A", dns.rcode.NXDOMAIN)
    validated(u, ZONE, "SOA")
    validated(u, "mail." + ZONE, "A")
    validated(u, WWW, "A")


@pytest.mark.skipif(os.geteuid() != 0, reason="Zonemaster asks port 53 only")
def test_zonemaster_dnssec_no_errors(gslbd, keys):
    """Zonemaster's DNSSEC test module (undelegated: our name server and the KSK's DS given) reports no warning, error or critical."""
    import random
    from conftest import _port_free
    for _ in range(50):
        addr = "127.0.0.%d" % random.randint(2, 250)
        if _port_free(addr, 53):
            break
    else:
        pytest.skip("no 127.0.0.x with port 53 free")
    cfg = config([keys["ksk"], keys["zsk"]], EP).replace(
        "      addresses: [192.0.2.53]", "      addresses: [%s]" % addr)
    g = gslbd(cfg, files={"static.zone": ZONE_FILE}, addr=addr, port=53)
    ds = ds_of(keys["ksk"]).split()
    r = subprocess.run(["zonemaster-cli", "--no-ipv6", "--ns",
                        "ns1.%s/%s" % (ZONE.rstrip("."), g.addr),
                        "--ds", ",".join(ds[4:8]), "--test", "DNSSEC",
                        "--level", "INFO", ZONE.rstrip(".")],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout
    bad = [ln for ln in r.stdout.splitlines()
           if any(" %s " % lv in ln for lv in ("WARNING", "ERROR", "CRITICAL"))]
    assert not bad and "NSEC records" in r.stdout, r.stdout


ZONE_FILE_DS_DNAME = ZONE_FILE + """sub     DS  12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
dn      DNAME x.global.example.org.
"""


def test_ds_at_delegation_and_dname_validate(gslbd, validator, keys, tmp_path):
    """With a DS for a delegated child and a DNAME in the zone file: the DS answer and a name below the DNAME (its signed DNAME, an unsigned synthesized CNAME, then the target's TXT) validate; a DO referral carries the DS and its RRSIG; `gslbctl zone` still verifies."""
    g = gslbd(config([keys["ksk"], keys["zsk"]], EP), files={"static.zone": ZONE_FILE_DS_DNAME})
    u = validator(ds_of(keys["ksk"]), g.addr, g.port)
    m = validated(u, "sub." + ZONE, "DS")
    assert [rd.key_tag for rr in m.answer if rr.rdtype == T.DS for rd in rr] == [12345], m
    m = validated(u, "deep.dn." + ZONE, "TXT")
    assert [rd.strings for rr in m.answer if rr.rdtype == T.TXT for rd in rr] == [(b"deep",)], m
    m = g.query("deep.dn." + ZONE, "TXT", want_dnssec=True)
    sigs = [rr for rr in m.answer if rr.rdtype == T.RRSIG]
    assert sigs and sigs[0].name.to_text() == "dn." + ZONE and sigs[0][0].type_covered == T.DNAME, m
    m = g.query("host.sub." + ZONE, "A", want_dnssec=True)
    assert [rr.rdtype for rr in m.authority] == [T.NS, T.DS, T.RRSIG], m
    assert all(rr.name.to_text() == "sub." + ZONE for rr in m.authority), m
    p = str(tmp_path / "zone")
    with open(p, "w") as f:
        f.write(gslbctl(g, "zone"))
    verify_zone(p)


def test_refresh_resigns_in_slices(gslbd, keys, tmp_path, monkeypatch):
    """When the earliest signature reaches a third of its validity, the refresh re-signs only the slice that expires first (the rest is reused from the signature cache), and every signature served then has more than a third left."""
    import time
    validity = 14 * 86400
    g, shift = faked_gslbd(
        gslbd, monkeypatch, tmp_path, config([keys["ksk"], keys["zsk"]], EP), files={"static.zone": ZONE_FILE})
    total = signed_counts(g)[0][0]
    e0 = expiry_metric(g)
    n = len(signed_counts(g))
    # Just past the point where the earliest has a third left.
    skew = e0 - validity // 3 + 60 - int(time.time())
    shift("+%d" % skew)
    wait_for(lambda: len(signed_counts(g)) > n, 10, what="the refresh build")
    made, reused = signed_counts(g)[n]
    assert 0 < made < total and reused > 0, signed_counts(g)
    e1 = expiry_metric(g)
    fake_now = int(time.time()) + skew
    assert e1 > e0 and e1 - fake_now > validity // 3, (e0, e1, fake_now)
    for name, rdtype in ((WWW, "A"), ("txt." + ZONE, "TXT"), ("nope." + ZONE, "A"),
                         (ZONE, "DNSKEY")):
        m = g.query(name, rdtype, want_dnssec=True, tcp=True)
        for rr in m.answer + m.authority:
            if rr.rdtype == T.RRSIG:
                assert all(rd.expiration - fake_now > validity // 3 for rd in rr), m


def test_not_ready_when_signatures_cannot_be_refreshed(gslbd, tmp_path, monkeypatch):
    """The only ZSK goes inactive with no successor: gslbd refuses to build an unsigned snapshot (the signed one keeps serving, RRSIGs and all), and once less than a day of validity is left /readyz fails."""
    d = str(tmp_path / "keys")
    os.makedirs(d)
    ksk = bind_keygen(d, "-f", "KSK")
    zsk = bind_keygen(d, "-I", "+2d")
    g, shift = faked_gslbd(
        gslbd, monkeypatch, tmp_path, config([ksk, zsk], EP), files={"static.zone": ZONE_FILE})
    exe = os.environ.get("GSLBCTL") or os.path.join(os.path.dirname(
        os.environ["GSLBD"]), "gslbctl")
    wait_for(lambda: subprocess.run([exe, "-s", g.control_url, "ready"],
                                    stdout=subprocess.PIPE).returncode == 0,
             10, what="ready")
    shift("+13d")   # the ZSK went inactive at +2d; < 1 day of validity left
    wait_for(lambda: "snapshot build failed" in g.log(), 10, what="the refused build")
    r = subprocess.run([exe, "-s", g.control_url, "ready"], stdout=subprocess.PIPE,
                       text=True, timeout=30)
    assert r.returncode == 1 and "not ready" in r.stdout, r.stdout
    m = g.query(WWW, "A", want_dnssec=True)
    assert [rr for rr in m.answer if rr.rdtype == T.RRSIG], m   # never unsigned



def kube_and_keys(k, tmp_path):
    """A kubeconfig for the fake API k and a P-256 KSK + ZSK for
    example.com, under tmp_path: (kubeconfig, ksk, zsk) base names."""
    from fake_kube import write_kubeconfig
    d = str(tmp_path / "kube")
    os.makedirs(d)
    kubeconfig = os.path.join(d, "kubeconfig")
    write_kubeconfig(kubeconfig, k.server, ca=k.certs["ca"], token="fake-token")
    kd = str(tmp_path / "keys")
    os.makedirs(kd)
    ksk, zsk = [os.path.join(kd, subprocess.run(
        ["ldns-keygen", "-a", "ECDSAP256SHA256"] + extra + ["example.com"], cwd=kd,
        stdout=subprocess.PIPE, text=True, check=True, timeout=60).stdout.strip())
        for extra in (["-k"], [])]
    return kubeconfig, ksk, zsk

def test_kubernetes_names_signed_as_they_come_and_change(fake_kube, gslbd, validator, tmp_path):
    """Services from the Kubernetes API in a signed zone: a new ServiceDNSRecord (new names: a full build from the signature cache) validates at once; an edit that leaves a name IPv6 only (patched in place) gets its A NODATA proven by an NSEC without A, AD; NXDOMAIN stays AD."""
    import kube_objects as ko
    k = fake_kube(bookmark_interval=0.5)
    k.apply(ko.domain("kubefed", "example.com", "ns1.example.com"))
    k.apply(ko.kubefed_cluster("c1", True, "eu-west", ["eu-west-1a"]))
    k.apply(ko.kubefed_cluster("c2", True, "us-east", ["us-east-1a"]))

    def sdr(name, a1, a2):
        return ko.service_dns_record(name, "shop", dns=[
            ko.cluster_dns("c1", a1, region="eu-west", zones=["eu-west-1a"]),
            ko.cluster_dns("c2", a2, region="us-east", zones=["us-east-1a"])])
    k.apply(sdr("web", ("192.0.2.1",), ("192.0.2.2",)))
    kubeconfig, ksk, zsk = kube_and_keys(k, tmp_path)
    g = gslbd("""server:
  workers: 2
zone:
  name: example.com
  nameservers:
    - name: ns1
      addresses: [192.0.2.53]
probe-defaults:
  type: none
kubernetes:
  kubeconfig: %s
  timeout: 2s
dnssec:
  keys: [%s, %s]
""" % (kubeconfig, ksk, zsk))
    web, cart = ko.global_name("web", "shop"), ko.global_name("cart", "shop")
    wait_for(lambda: addrs(g.query(web, "A"), T.A) == ["192.0.2.1", "192.0.2.2"], 10,
             what="web from the API")
    u = validator(ds_of(ksk), g.addr, g.port, zone="example.com.")
    assert addrs(validated(u, web, "A"), T.A) == ["192.0.2.1", "192.0.2.2"]
    validated(u, cart, "A", dns.rcode.NXDOMAIN)
    k.apply(sdr("cart", ("192.0.2.11",), ("192.0.2.12",)))
    wait_for(lambda: addrs(g.query(cart, "A"), T.A) == ["192.0.2.11", "192.0.2.12"], 10,
             what="cart from the API")
    assert addrs(validated(u, cart, "A"), T.A) == ["192.0.2.11", "192.0.2.12"]
    k.apply(sdr("web", ("2001:db8::1",), ("2001:db8::2",)))
    wait_for(lambda: addrs(g.query(web, "AAAA"), T.AAAA) == ["2001:db8::1", "2001:db8::2"],
             10, what="web to turn IPv6 only")
    m = validated(u, web, "A")
    assert not m.answer, m
    assert addrs(validated(u, web, "AAAA"), T.AAAA) == ["2001:db8::1", "2001:db8::2"]
    validated(u, "nope.example.com.", "A", dns.rcode.NXDOMAIN)

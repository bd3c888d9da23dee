"""Response rate limiting (UDP, per client prefix and answer group) and DNS
cookies (RFC 7873, RFC 9018): real dig and kdig, floods from dnspython on
bound 127.0.0.x sources, counters in /metrics."""
import os
import re
import select
import socket
import subprocess
import time
import urllib.request

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import pytest

from conftest import free_endpoint, wait_for

Z = "rl.example.org."
WWW = "www." + Z
SECRET = "0123456789abcdef0123456789abcdef"

BASE = """server:
  workers: 1
%(server)s
zone:
  name: rl.example.org
  nameservers:
    - name: ns1
      addresses: [192.0.2.53]
probe-defaults:
  type: none
services:
  - name: www
    endpoints:
      - region: a
        addresses: [192.0.2.1]
  - name: api
    endpoints:
      - region: a
        addresses: [192.0.2.2]
%(rrl)s
"""


def config(rrl="", server=""):
    return BASE % {"rrl": rrl, "server": server}


def metric(g, name, **labels):
    body = urllib.request.urlopen(g.control_url + "/metrics", timeout=5).read().decode()
    want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
    pat = re.compile(r"^%s%s (\S+)$" % (re.escape(name),
                     re.escape("{%s}" % want) if labels else ""), re.M)
    m = pat.search(body)
    assert m, "no %s%s in /metrics" % (name, labels)
    return int(float(m.group(1)))


def reload(g):
    """SIGHUP, then await the log line of a reload done."""
    n = g.log().count("reload done")
    g.reload()
    wait_for(lambda: g.log().count("reload done") > n, 5, what="reload done")


def udp_total(g):
    return metric(g, "gslbd_queries_total", proto="udp")


def cookie_opt(client, server=b""):
    return dns.edns.GenericOption(dns.edns.COOKIE, client + server)


def cookie_of(resp):
    for o in resp.options:
        if o.otype == dns.edns.COOKIE:
            return o.to_wire() if hasattr(o, "to_wire") else o.data
    return None


class Flood(list):
    """The responses to a flood; .seconds: how many clock seconds (the
    rate limit's windows) it may have touched, from the first query sent
    to the last one counted by gslbd."""
    seconds = 1


def within(n, rps, resps):
    """n answers passed: at least one window's worth, at most one per
    window the flood touched (a loaded machine may stretch it)."""
    return rps <= n <= rps * resps.seconds


def flood(g, src, n, wire_of):
    """Send n queries from src as fast as possible, reading as they come;
    return the responses once gslbd has seen every query and everything
    it sent has arrived (it reports its drops in /metrics)."""
    before_udp = udp_total(g)
    before_drop = metric(g, "gslbd_rrl_dropped_total")
    fam = socket.AF_INET6 if ":" in src else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.setblocking(False)
    # Room for every answer should this process be held up mid-flood.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    got = Flood()
    t0 = time.time()

    def drain():
        while True:
            try:
                got.append(dns.message.from_wire(s.recv(4096)))
            except BlockingIOError:
                return

    try:
        for i in range(n):
            s.sendto(wire_of(i), (g.addr, g.port))
            drain()
        wait_for(lambda: udp_total(g) >= before_udp + n, 5,
                 what="gslbd to count every query")
        # gslbd reads the coarse clock (time(2)), up to a tick behind.
        got.seconds = int(time.time()) - int(t0 - 0.05) + 1
        dropped = metric(g, "gslbd_rrl_dropped_total") - before_drop
        deadline = time.monotonic() + 5
        while len(got) < n - dropped and time.monotonic() < deadline:
            select.select([s], [], [], 0.2)
            drain()
        assert len(got) == n - dropped, (len(got), n, dropped)
        return got
    finally:
        s.close()


def plain(name=WWW, opts=None):
    def wire_of(i):
        q = dns.message.make_query(name, "A", use_edns=0, options=opts or [])
        q.id = i & 0xFFFF
        return q.to_wire()
    return wire_of


def kinds(resps):
    normal = [r for r in resps if r.rcode() == dns.rcode.NOERROR and
              not r.flags & dns.flags.TC and r.answer]
    tc = [r for r in resps if r.flags & dns.flags.TC]
    return normal, tc


def src_addr(g):
    """A 127.0.0.x client address other than the server's."""
    while True:
        a = free_endpoint()[0]
        if a != g.addr:
            return a


def test_flood_limited_with_slip_pattern(gslbd):
    """A flood from one source past responses-per-second: the excess is limited, every 2nd limited answer slips out with TC=1, the rest are dropped, and /metrics counts each."""
    g = gslbd(config("rate-limit:\n  responses-per-second: 10\n  slip: 2\n"))
    resps = flood(g, src_addr(g), 100, plain())
    normal, tc = kinds(resps)
    assert within(len(normal), 10, resps), (len(normal), resps.seconds)
    limited = 100 - len(normal)
    assert len(tc) == limited // 2, (len(tc), limited)
    for r in tc:
        assert not r.answer and not r.authority, r
        assert r.edns == 0, "the OPT stays in a slipped answer"
    assert metric(g, "gslbd_rrl_limited_total") == limited
    assert metric(g, "gslbd_rrl_slipped_total") == len(tc)
    assert metric(g, "gslbd_rrl_dropped_total") == limited - len(tc)


def test_slip_zero_drops_all_one_truncates_all(gslbd):
    """slip 0 drops every limited answer; slip 1 truncates every one."""
    g = gslbd(config("rate-limit:\n  responses-per-second: 5\n  slip: 0\n"))
    src = src_addr(g)
    resps = flood(g, src, 40, plain())
    normal, tc = kinds(resps)
    assert within(len(normal), 5, resps) and not tc, (len(normal), len(tc))
    assert metric(g, "gslbd_rrl_dropped_total") == 40 - len(normal)
    g.write_config(config("rate-limit:\n  responses-per-second: 5\n  slip: 1\n"))
    reload(g)
    resps = flood(g, src_addr(g), 40, plain("api." + Z))
    normal, tc = kinds(resps)
    assert within(len(normal), 5, resps), len(normal)
    assert len(tc) == 40 - len(normal), (len(normal), len(tc))


def test_exempt_prefix_not_limited(gslbd):
    """A client inside rate-limit.exempt is never limited, one outside is."""
    g = gslbd(config("rate-limit:\n  responses-per-second: 5\n"
                     "  exempt: [127.0.0.0/8]\n"))
    normal, tc = kinds(flood(g, src_addr(g), 60, plain()))
    assert len(normal) == 60 and not tc
    assert metric(g, "gslbd_rrl_limited_total") == 0


def test_exempt_is_by_prefix(gslbd):
    """An exemption of one /32 leaves its /24 neighbours limited."""
    g = gslbd(config("rate-limit:\n  responses-per-second: 5\n  ipv4-prefix: 32\n"
                     "  exempt: [127.0.0.251/32]\n"))
    normal, _ = kinds(flood(g, "127.0.0.251", 40, plain()))
    assert len(normal) == 40
    resps = flood(g, "127.0.0.252", 40, plain())
    normal, _ = kinds(resps)
    assert within(len(normal), 5, resps), len(normal)


def test_prefixes_limited_separately(gslbd):
    """With ipv4-prefix 32 two 127.0.0.x sources each get their own allowance; with the default /24 they share one."""
    g = gslbd(config("rate-limit:\n  responses-per-second: 10\n  ipv4-prefix: 32\n"))
    a, b = src_addr(g), src_addr(g)
    while b == a:
        b = src_addr(g)
    fa, fb = flood(g, a, 40, plain()), flood(g, b, 40, plain())
    na, _ = kinds(fa)
    nb, _ = kinds(fb)
    assert within(len(na), 10, fa) and within(len(nb), 10, fb), (len(na), len(nb))

    g2 = gslbd(config("rate-limit:\n  responses-per-second: 10\n"))

    def both():
        # Both floods inside one second, so the shared count shows; not
        # at its very start, where gslbd's coarse clock may still show
        # the one before.
        if time.time() % 1.0 > 0.5:
            time.sleep(1.0 - time.time() % 1.0)
        if time.time() % 1.0 < 0.05:
            time.sleep(0.05)
        t0 = time.time()
        n1, _ = kinds(flood(g2, a, 30, plain()))
        n2, _ = kinds(flood(g2, b, 30, plain()))
        return int(t0) == int(time.time()), len(n1) + len(n2)

    for attempt in range(5):
        if attempt:
            # A fresh window: the last try's count must not carry over.
            time.sleep(1.0 - time.time() % 1.0)
        same_second, total = both()
        if same_second:
            break
    assert same_second, "could not fit two floods in one second"
    assert total == 10, "one /24: one allowance of 10 for both sources, got %d" % total


def test_groups_limited_separately(gslbd):
    """Different names from one source are counted apart; NXDOMAINs for different names share the zone's count."""
    g = gslbd(config("rate-limit:\n  responses-per-second: 10\n"))
    src = src_addr(g)
    t0 = time.time()
    fw, fa = flood(g, src, 30, plain(WWW)), flood(g, src, 30, plain("api." + Z))
    n_www, _ = kinds(fw)
    n_api, _ = kinds(fa)
    assert within(len(n_www), 10, fw) and within(len(n_api), 10, fa)
    nx = flood(g, src, 30, lambda i: dns.message.make_query(
        "nx%d.%s" % (i, Z), "A").to_wire())
    nxd = [r for r in nx if r.rcode() == dns.rcode.NXDOMAIN and not r.flags & dns.flags.TC]
    assert within(len(nxd), 10, nx), "30 different NXDOMAIN names are one group: %d" % len(nxd)
    assert time.time() - t0 < 30


def test_defaults_limit_at_200(gslbd):
    """With `rate-limit: {}` the defaults apply (200 a second, slip 2, no exemption): a flood of 500 gets limited."""
    g = gslbd(config("rate-limit: {}\n"))
    resps = flood(g, src_addr(g), 500, plain())
    normal, tc = kinds(resps)
    assert within(len(normal), 200, resps), (len(normal), resps.seconds)
    limited = 500 - len(normal)
    assert len(tc) == limited // 2
    assert metric(g, "gslbd_rrl_limited_total") == limited


def test_ipv6_flood_limited(gslbd):
    """Over IPv6 the same: a flood from ::1 is limited per /56, with the slip pattern."""
    from conftest import free_endpoint6
    addr, port = free_endpoint6()
    g = gslbd(config("rate-limit:\n  responses-per-second: 10\n"), addr=addr, port=port)
    resps = flood(g, "::1", 60, plain())
    normal, tc = kinds(resps)
    assert within(len(normal), 10, resps), len(normal)
    assert len(tc) == (60 - len(normal)) // 2
    assert metric(g, "gslbd_rrl_limited_total") == 60 - len(normal)


def test_rate_limit_zero_is_off(gslbd):
    """responses-per-second 0 turns limiting off."""
    g = gslbd(config("rate-limit:\n  responses-per-second: 0\n"))
    normal, _ = kinds(flood(g, src_addr(g), 100, plain()))
    assert len(normal) == 100


def test_tcp_not_limited(gslbd):
    """TCP answers are never limited (the client proved its address)."""
    g = gslbd(config("rate-limit:\n  responses-per-second: 2\n"))
    for i in range(20):
        r = g.query(WWW, "A", tcp=True)
        assert r.rcode() == dns.rcode.NOERROR and r.answer, (i, r)
    assert metric(g, "gslbd_rrl_limited_total") == 0


# --- cookies --------------------------------------------------------------

def dig_cookie(out):
    m = re.search(r"; COOKIE: ([0-9a-f]+)( \(good\))?", out)
    assert m, out
    return m.group(1), bool(m.group(2))


def test_dig_cookie(gslbd):
    """dig +cookie: the client cookie is echoed with a 16-byte RFC 9018 server cookie; sent back, it is accepted (valid in /metrics) and echoed unchanged."""
    g = gslbd(config())
    out = g.dig("+cookie", WWW, "A")
    c, good = dig_cookie(out)
    assert good, "dig says the client cookie was echoed: " + out
    assert len(c) == 48 and c[16:18] == "01" and c[18:24] == "000000", c
    ts = int(c[24:32], 16)
    assert abs(ts - time.time()) < 10, "the timestamp is now"
    assert metric(g, "gslbd_cookie_queries_total", server_cookie="valid") == 0
    out2 = g.dig("+cookie=" + c, WWW, "A")
    c2, good2 = dig_cookie(out2)
    assert good2 and c2 == c, (c, c2)
    assert "status: NOERROR" in out2 and "192.0.2.1" in out2
    assert metric(g, "gslbd_cookie_queries_total", server_cookie="valid") == 1
    assert metric(g, "gslbd_cookie_queries_total",
                  server_cookie="none_or_invalid") == 1


def test_kdig_cookie(gslbd):
    """kdig +cookie: a server cookie comes back; kdig +cookie=<it> is accepted on the next query."""
    g = gslbd(config())
    out = g.kdig("+cookie", WWW, "A")
    m = re.search(r";; COOKIE: ([0-9A-Fa-f]+)", out)
    assert m, out
    c = m.group(1).lower()
    assert len(c) == 48 and c[16:18] == "01", c
    out2 = g.kdig("+cookie=" + c, WWW, "A")
    m2 = re.search(r";; COOKIE: ([0-9A-Fa-f]+)", out2)
    assert m2 and m2.group(1).lower() == c, out2
    assert "NOERROR" in out2
    assert metric(g, "gslbd_cookie_queries_total", server_cookie="valid") == 1


def test_bad_cookie_length_formerr(gslbd):
    """A malformed COOKIE option (9 bytes) gets FORMERR (RFC 7873 5.2.2)."""
    g = gslbd(config())
    r = g.query(WWW, "A", use_edns=0, options=[cookie_opt(b"123456789")])
    assert r.rcode() == dns.rcode.FORMERR


def test_invalid_server_cookie_answered_normally(gslbd):
    """A server cookie that fails validation gets a normal answer and a fresh cookie, not BADCOOKIE (RFC 7873 5.2.4)."""
    g = gslbd(config())
    bogus = b"\x01\x00\x00\x00" + int(time.time()).to_bytes(4, "big") + b"12345678"
    r = g.query(WWW, "A", use_edns=0, options=[cookie_opt(b"abcdefgh", bogus)])
    assert r.rcode() == dns.rcode.NOERROR and r.answer
    c = cookie_of(r)
    assert c[:8] == b"abcdefgh" and len(c) == 24 and c[8:] != bogus


def get_cookie(g, client=b"clientck"):
    r = g.query(WWW, "A", use_edns=0, options=[cookie_opt(client)])
    c = cookie_of(r)
    assert c and c[:8] == client and len(c) == 24
    return c


def test_valid_cookie_flood_not_limited(gslbd):
    """A flood that carries a valid server cookie is never limited; the same flood with a client cookie alone is, and its slips are BADCOOKIE with a fresh cookie that then gets through."""
    g = gslbd(config("rate-limit:\n  responses-per-second: 5\n"))
    # Learn the cookie from the flooding address itself: it is bound to it.
    src = src_addr(g)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.settimeout(2)
    q = dns.message.make_query(WWW, "A", use_edns=0, options=[cookie_opt(b"clientck")])
    s.sendto(q.to_wire(), (g.addr, g.port))
    full = cookie_of(dns.message.from_wire(s.recv(4096)))
    s.close()
    good = flood(g, src, 80, plain(opts=[cookie_opt(full[:8], full[8:])]))
    normal, tc = kinds(good)
    assert len(normal) == 80 and not tc, (len(normal), len(tc))
    assert metric(g, "gslbd_rrl_limited_total") == 0
    assert metric(g, "gslbd_cookie_queries_total", server_cookie="valid") >= 80

    # Another name: the query that learnt the cookie counted for www.
    other = src_addr(g)
    resps = flood(g, other, 40, plain("api." + Z, opts=[cookie_opt(b"clientck")]))
    normal, tc = kinds(resps)
    bad = [r for r in resps if r.rcode() == dns.rcode.BADCOOKIE]
    assert within(len(normal), 5, resps) and not tc, (len(normal), len(tc))
    assert len(bad) == (40 - len(normal)) // 2, len(bad)
    fresh = cookie_of(bad[0])
    assert fresh[:8] == b"clientck" and len(fresh) == 24
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((other, 0))
    s.settimeout(2)
    q = dns.message.make_query(WWW, "A", use_edns=0,
                               options=[cookie_opt(fresh[:8], fresh[8:])])
    s.sendto(q.to_wire(), (g.addr, g.port))
    r = dns.message.from_wire(s.recv(4096))
    s.close()
    assert r.rcode() == dns.rcode.NOERROR and r.answer, r


def test_shared_secret_across_instances(gslbd):
    """Two instances with the same cookie-secret accept each other's cookies; one with another secret does not."""
    srv = '  cookie-secret: "%s"' % SECRET
    a = gslbd(config(server=srv))
    b = gslbd(config(server=srv))
    other = gslbd(config(server='  cookie-secret: "%s"' % ("f" * 32)))
    c = get_cookie(a)
    for g, valid in ((b, 1), (other, 0)):
        r = g.query(WWW, "A", use_edns=0, options=[cookie_opt(c[:8], c[8:])])
        assert r.rcode() == dns.rcode.NOERROR and r.answer
        assert metric(g, "gslbd_cookie_queries_total", server_cookie="valid") == valid
        if valid:
            assert cookie_of(r) == c, "a young valid cookie is echoed as it is"


def test_secret_rotation(gslbd):
    """Rotation (RFC 9018 4.3): with the old secret as cookie-secret-previous, its cookies stay valid and get a new one; once dropped, they are not valid."""
    old, new = SECRET, "fedcba9876543210fedcba9876543210"
    g = gslbd(config(server='  cookie-secret: "%s"' % old))
    c = get_cookie(g)
    g.write_config(config(server='  cookie-secret: "%s"\n  cookie-secret-previous: "%s"'
                          % (new, old)))
    reload(g)

    def reissued():
        r = g.query(WWW, "A", use_edns=0, options=[cookie_opt(c[:8], c[8:])])
        n = cookie_of(r)
        return n if n != c else None
    n = reissued()
    assert n, "a cookie of the previous secret gets one of the new secret"
    assert metric(g, "gslbd_cookie_queries_total", server_cookie="valid") == 1
    g.write_config(config(server='  cookie-secret: "%s"' % new))
    reload(g)

    def old_refused():
        before = metric(g, "gslbd_cookie_queries_total", server_cookie="none_or_invalid")
        g.query(WWW, "A", use_edns=0, options=[cookie_opt(c[:8], c[8:])])
        return metric(g, "gslbd_cookie_queries_total",
                      server_cookie="none_or_invalid") == before + 1
    assert old_refused(), "once the previous secret is dropped, its cookie is not valid"
    r = g.query(WWW, "A", use_edns=0, options=[cookie_opt(n[:8], n[8:])])
    assert cookie_of(r) == n, "the new secret's cookie is valid"


def test_cookies_off(gslbd):
    """server.cookies: false: the COOKIE option is ignored, none comes back."""
    g = gslbd(config(server="  cookies: false"))
    r = g.query(WWW, "A", use_edns=0, options=[cookie_opt(b"clientck")])
    assert r.rcode() == dns.rcode.NOERROR and cookie_of(r) is None


@pytest.mark.parametrize("server,rrl,msg", [
    ('  cookie-secret: "0123"', "", r"server\.cookie-secret: 32 hex digits"),
    ('  cookie-secret: "%s"' % ("g" * 32), "", r"server\.cookie-secret: not a hex digit"),
    ('  cookie-secret-previous: "%s"' % SECRET, "", r"needs server\.cookie-secret"),
    ("", "rate-limit:\n  slip: 101\n", r"rate-limit\.slip"),
    ("", "rate-limit:\n  ipv4-prefix: 33\n", r"rate-limit\.ipv4-prefix"),
    ("", "rate-limit:\n  exempt: [10.0.0.1/8]\n", r"rate-limit\.exempt\[0\]: bad subnet"),
    ("", "rate-limit:\n  burst: 3\n", r"burst"),
])
def test_bad_config_names_the_place(tmp_path, server, rrl, msg):
    """A bad rate-limit or cookie setting fails `gslbd -t` with FILE:LINE:COL."""
    p = tmp_path / "bad.yaml"
    p.write_text(config(rrl=rrl, server=server))
    from conftest import gslbd_binary
    r = subprocess.run([gslbd_binary(), "-t", "-c", str(p)], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode != 0
    assert re.search(re.escape(str(p)) + r":\d+:\d+: .*" + msg, r.stderr + r.stdout), \
        r.stderr + r.stdout

"""Protocol handling: header checks (FORMERR, NOTIMP, dropped responses,
zone transfers), EDNS0 (RFC 6891), truncation, TCP (RFC 7766), NSID
(RFC 5001), CH TXT identity, ECS (RFC 7871)."""
import socket
import struct
import time

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.opcode
import dns.rdatatype as T
import dns.rrset
import pytest

import wirehelp as w
from conftest import STD_CONFIG, STD_FILES, WWW_A, ZONE

Z = ZONE
WWW = "www." + Z


# --- header --------------------------------------------------------------

def test_qdcount_zero_formerr(std):
    """A query with QDCOUNT 0 gets FORMERR (same ID, QR=1)."""
    r = std.raw(w.header(id=0x0a0b, flags=w.RD, qd=0))
    h = w.Header(r)
    assert h.qr and h.id == 0x0a0b and h.rcode == dns.rcode.FORMERR, h
    assert h.ancount == 0 and not h.ra


def test_qdcount_two_formerr(std):
    """A query with QDCOUNT 2 gets FORMERR."""
    wire = w.header(id=0x0a0c, flags=w.RD, qd=2) + w.question(WWW) + w.question(WWW, 28)
    h = w.Header(std.raw(wire))
    assert h.qr and h.id == 0x0a0c and h.rcode == dns.rcode.FORMERR, h
    assert h.ancount == 0


def test_qdcount_two_formerr_tcp(std):
    """QDCOUNT 2 over TCP also gets FORMERR."""
    wire = w.header(id=0x0a0d, qd=2) + w.question(WWW) + w.question(WWW, 28)
    h = w.Header(std.raw(wire, tcp=True))
    assert h.rcode == dns.rcode.FORMERR and h.id == 0x0a0d, h


@pytest.mark.parametrize("opcode", [1, 2, 3, 4, 5, 6, 15])
def test_unknown_opcode_notimp(std, opcode):
    """Opcodes other than QUERY (IQUERY, STATUS, NOTIFY, UPDATE, unassigned) get NOTIMP."""
    wire = w.query(WWW, 1, id=0x4400 + opcode, flags=0, opcode=opcode)
    h = w.Header(std.raw(wire))
    assert h.qr and h.id == 0x4400 + opcode, h
    assert h.rcode == dns.rcode.NOTIMP, h
    assert h.ancount == 0 and not h.aa, h


def test_notify_via_dnspython_notimp(std):
    """A well-formed NOTIFY for the zone (SOA question, AA set) gets NOTIMP."""
    q = dns.message.make_query(Z, "SOA")
    q.flags = dns.flags.AA
    q.set_opcode(dns.opcode.NOTIFY)
    h = w.Header(std.raw(q.to_wire()))
    assert h.rcode == dns.rcode.NOTIMP and h.opcode == 4, h


def test_response_bit_set_is_dropped(std):
    """A packet with QR=1 gets no answer at all; the server keeps answering queries."""
    wire = w.query(WWW, 1, flags=w.QR | w.AA)
    assert std.raw(wire, timeout=1.0) is None
    m = std.query(WWW, "A")
    assert m.rcode() == dns.rcode.NOERROR and {rd.address for rd in m.answer[0]} == WWW_A


@pytest.mark.parametrize("qtype", ["AXFR", "IXFR", "IXFR-with-SOA"])
@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_zone_transfer_refused(std, qtype, tcp):
    """AXFR and IXFR (bare, and as RFC 1995 sends it with a SOA in authority) are REFUSED over UDP and TCP."""
    q = dns.message.make_query(Z, qtype.split("-")[0])
    if qtype == "IXFR-with-SOA":
        soa = dns.rrset.from_text(Z, 0, "IN", "SOA",
                                  "ns1.%s hostmaster.example.org. 1 1 1 1 1" % Z)
        q.authority.append(soa)
    h = w.Header(std.raw(q.to_wire(), tcp=tcp))
    assert h.rcode == dns.rcode.REFUSED, h
    assert h.ancount == 0 and h.nscount == 0, h


def test_axfr_with_dig_fails(std):
    """dig AXFR gets no zone (the transfer is refused)."""
    out = std.dig(Z, "AXFR")
    assert "Transfer failed" in out or "REFUSED" in out, out
    assert "\tSOA\t" not in out, out


# --- EDNS0 -----------------------------------------------------------------

def test_edns_opt_echoed(std):
    """An EDNS query gets an OPT record: version 0, UDP size 1232 (default), DO clear."""
    m = std.query(WWW, "A", use_edns=0, payload=4096)
    assert m.rcode() == dns.rcode.NOERROR
    assert m.edns == 0, "no OPT / wrong version"
    assert m.payload == 1232, m.payload
    assert not m.ednsflags & dns.flags.DO


def test_edns_do_bit_echoed(std):
    """The DO bit is copied from the query's OPT to the response's."""
    m = std.query(WWW, "A", use_edns=0, want_dnssec=True)
    assert m.edns == 0 and m.ednsflags & dns.flags.DO


def test_no_opt_without_edns(std):
    """A query without OPT gets a response without OPT."""
    r = std.raw(w.query(WWW))
    h = w.Header(r)
    assert h.rcode == 0 and h.arcount == 0, h
    assert w.parse(r).edns == -1


def test_edns_badvers(std):
    """EDNS version 1 gets BADVERS (extended rcode 16) with an OPT of version 0 and no answer."""
    q = dns.message.make_query(WWW, "A")
    q.use_edns(edns=1, payload=1232)
    r = std.raw(q.to_wire())
    m = w.parse(r)
    assert m.edns == 0, "OPT missing or not version 0"
    assert m.rcode() == dns.rcode.BADVERS, dns.rcode.to_text(m.rcode())
    assert not m.answer


def test_edns_unknown_option_ignored(std):
    """An unknown EDNS option is ignored: a normal answer, the option not echoed."""
    opt = dns.edns.GenericOption(65001, b"\x01\x02\x03")
    m = std.query(WWW, "A", use_edns=0, options=[opt])
    assert m.rcode() == dns.rcode.NOERROR
    assert {rd.address for rd in m.answer[0]} == WWW_A
    assert all(o.otype != 65001 for o in m.options), m.options


def test_two_opt_records_formerr(std):
    """A query with two OPT records gets FORMERR."""
    wire = w.query(WWW, 1, opts=[w.opt_rr(), w.opt_rr()])
    h = w.Header(std.raw(wire))
    assert h.rcode == dns.rcode.FORMERR and h.ancount == 0, h


def test_opt_with_bad_owner_formerr(std):
    """An OPT record whose owner is not the root name is malformed: FORMERR."""
    opt = w.encode_name("x.") + w.opt_rr()[1:]
    h = w.Header(std.raw(w.query(WWW, 1, opts=[opt])))
    assert h.rcode == dns.rcode.FORMERR, h


def test_advertised_udp_size_configurable(gslbd):
    """server.edns-udp-size is what the OPT advertises."""
    cfg = STD_CONFIG.replace("  workers: 2\n", "  workers: 1\n  edns-udp-size: 1400\n")
    g = gslbd(cfg, files=STD_FILES)
    m = g.query(WWW, "A", use_edns=0, payload=4096)
    assert m.edns == 0 and m.payload == 1400


# --- truncation -------------------------------------------------------------

def test_tc_without_edns_over_512(std):
    """Without EDNS an answer over 512 bytes comes back TC=1 with no answer records."""
    r = std.raw(w.query("many40." + Z, 28))
    h = w.Header(r)
    assert h.tc and h.ancount == 0 and h.rcode == 0, h
    assert len(r) <= 512
    assert w.parse(r).question[0].name.to_text().lower() == "many40." + Z


@pytest.mark.parametrize("name,rdtype", [("many40", "AAAA"), ("many50", "AAAA"),
                                         ("big", "TXT"), ("www", "A")])
@pytest.mark.parametrize("bufsize", [None, 512, 1000, 1232, 1300, 4096])
def test_udp_size_limit(std, name, rdtype, bufsize):
    """UDP answers fit min(client size, server 1232) (512 without EDNS); what does not fit is TC=1 with no answer."""
    qname = name + "." + Z
    kw = {} if bufsize is None else dict(use_edns=0, payload=bufsize)
    q = dns.message.make_query(qname, rdtype, **kw)
    full_wire = std.raw(q.to_wire(), tcp=True)
    full = w.parse(full_wire)
    assert not full.flags & dns.flags.TC
    full_len = len(full_wire)
    limit = 512 if bufsize is None else max(512, min(bufsize, 1232))
    r = std.raw(q.to_wire())
    h = w.Header(r)
    assert len(r) <= limit, "UDP response of %d bytes over limit %d" % (len(r), limit)
    if full_len <= limit:
        assert not h.tc, "TC set although the %d-byte answer fits %d" % (full_len, limit)
        assert h.ancount == sum(len(x) for x in full.answer)
    else:
        assert h.tc, "answer of %d bytes > %d without TC" % (full_len, limit)
        assert h.ancount == 0, h
        if bufsize is not None:
            assert w.parse(r).edns == 0, "OPT missing from the truncated answer"


def test_dig_retries_over_tcp(std):
    """dig sees TC over UDP without EDNS, retries over TCP, and gets all 40 AAAA records."""
    out = std.dig("many40." + Z, "AAAA", "+noedns")
    assert "Truncated, retrying in TCP mode" in out, out
    got = [ln for ln in out.splitlines() if ln and not ln.startswith(";") and "\tAAAA\t" in ln]
    assert len(got) == 40, out
    out = std.dig("many40." + Z, "AAAA", "+noedns", "+ignore")
    flags = [ln for ln in out.splitlines() if ln.startswith(";; flags:")][0]
    assert " tc" in flags and "ANSWER: 0" in flags, out


def test_dig_bufsize_big_txt(std):
    """dig +bufsize=4096 on a 2.5 kB TXT RRset: truncated over UDP, complete over TCP."""
    out = std.dig("big." + Z, "TXT", "+bufsize=4096")
    assert "Truncated, retrying in TCP mode" in out, out
    got = [ln for ln in out.splitlines() if ln and not ln.startswith(";") and "\tTXT\t" in ln]
    assert len(got) == 12, out


def test_kdig_tcp_many(std):
    """kdig +tcp gets all 50 AAAA records of a large service in one TCP answer."""
    out = std.kdig("many50." + Z, "AAAA", "+tcp")
    assert "status: NOERROR" in out, out
    got = [ln for ln in out.splitlines() if ln and not ln.startswith(";") and "\tAAAA\t" in ln]
    assert len(got) == 50, out


# --- TCP (RFC 7766) ---------------------------------------------------------

def tcp_read_msg(s):
    hdr = w_recv(s, 2)
    if not hdr:
        return None
    return w_recv(s, struct.unpack("!H", hdr)[0])


def w_recv(s, n):
    buf = b""
    while len(buf) < n:
        c = s.recv(n - len(buf))
        if not c:
            return None
        buf += c
    return buf


def closed_within(s, seconds):
    """True when the peer closes (EOF or reset) within the given time."""
    s.settimeout(seconds)
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < seconds:
            if s.recv(512) == b"":
                return True
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True
    return False


def test_tcp_pipelined_queries(std):
    """Several queries sent in one TCP segment are all answered, in order, on the same connection."""
    names = [(WWW, 1), ("deflt." + Z, 1), ("nope." + Z, 1), (WWW, 28), ("big." + Z, 16)]
    wires = [w.query(nm, t, id=0x100 + i) for i, (nm, t) in enumerate(names)]
    blob = b"".join(struct.pack("!H", len(x)) + x for x in wires)
    with socket.create_connection((std.addr, std.port), timeout=3) as s:
        s.sendall(blob)
        ids = []
        rcodes = []
        for _ in names:
            r = tcp_read_msg(s)
            assert r is not None, "connection closed after %d answers" % len(ids)
            h = w.Header(r)
            ids.append(h.id)
            rcodes.append(h.rcode)
    assert ids == [0x100 + i for i in range(len(names))]
    assert rcodes == [0, 0, 3, 0, 0]


def test_tcp_half_close_gets_every_answer(std):
    """A client that sends its queries and shuts down its sending side at once still gets every answer before the close."""
    for n in (1, 50, 800):
        wires = [w.query(WWW if i % 2 else "nope." + Z, 1, id=i) for i in range(n)]
        blob = b"".join(struct.pack("!H", len(x)) + x for x in wires)
        with socket.create_connection((std.addr, std.port), timeout=5) as s:
            s.sendall(blob)
            s.shutdown(socket.SHUT_WR)
            got = []
            while True:
                r = tcp_read_msg(s)
                if r is None:
                    break
                got.append(w.Header(r).id)
        assert got == list(range(n)), "%d queries, %d answers" % (n, len(got))


def test_tcp_query_split_across_segments(std):
    """A TCP query delivered in several small pieces is answered."""
    x = w.query(WWW, 1, id=0x2222)
    blob = struct.pack("!H", len(x)) + x
    with socket.create_connection((std.addr, std.port), timeout=3) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(0, len(blob), 5):
            s.sendall(blob[i:i + 5])
            time.sleep(0.02)
        r = tcp_read_msg(s)
    h = w.Header(r)
    assert h.id == 0x2222 and h.rcode == 0 and h.ancount == 4


def test_tcp_idle_connection_closed(std):
    """An idle TCP connection is closed by the server after tcp-idle-timeout (1 s here)."""
    with socket.create_connection((std.addr, std.port), timeout=3) as s:
        t0 = time.monotonic()
        assert closed_within(s, 5.0), "idle connection still open after 5s"
        assert time.monotonic() - t0 >= 0.5, "closed much earlier than the 1s idle timeout"


def test_tcp_idle_after_answer_closed(std):
    """After answering, a connection that stays idle is closed after the idle timeout."""
    with socket.create_connection((std.addr, std.port), timeout=3) as s:
        x = w.query(WWW, 1, id=7)
        s.sendall(struct.pack("!H", len(x)) + x)
        assert w.Header(tcp_read_msg(s)).id == 7
        assert closed_within(s, 5.0)


def test_tcp_half_length_prefix_stall_closed(std):
    """A connection that sends one byte of the length prefix and stalls is closed."""
    with socket.create_connection((std.addr, std.port), timeout=3) as s:
        s.sendall(b"\x00")
        assert closed_within(s, 5.0)


def test_tcp_partial_message_stall_closed(std):
    """A connection that sends a length and part of the message then stalls is closed."""
    x = w.query(WWW, 1)
    with socket.create_connection((std.addr, std.port), timeout=3) as s:
        s.sendall(struct.pack("!H", len(x)) + x[:10])
        assert closed_within(s, 5.0)


def test_tcp_still_serves_after_idle_closes(std):
    """After idle connections were closed the server still answers over TCP."""
    m = std.query(WWW, "A", tcp=True)
    assert {rd.address for rd in m.answer[0]} == WWW_A


# --- NSID, CH TXT --------------------------------------------------------

def nsid_of(m):
    for o in m.options:
        if o.otype == dns.edns.NSID:
            return o.to_wire()
    return None


def test_nsid_returned_when_asked(std):
    """A query with an empty NSID option gets NSID = server.nsid."""
    m = std.query(WWW, "A", use_edns=0, options=[dns.edns.GenericOption(dns.edns.NSID, b"")])
    assert m.rcode() == 0
    assert nsid_of(m) == b"gslbd-nsid-1", m.options


def test_nsid_absent_when_not_asked(std):
    """Without an NSID option in the query, the response carries none."""
    m = std.query(WWW, "A", use_edns=0)
    assert nsid_of(m) is None


def test_dig_nsid(std):
    """dig +nsid shows the configured NSID."""
    out = std.dig(WWW, "A", "+nsid")
    assert "NSID:" in out and "gslbd-nsid-1" in out, out


@pytest.mark.parametrize("name,want", [("id.server.", "gslbd-test-id"),
                                       ("hostname.bind.", "gslbd-test-id"),
                                       ("version.bind.", "gslbd-test-version"),
                                       ("version.server.", "gslbd-test-version")])
def test_chaos_txt(std, name, want):
    """CH TXT id.server/hostname.bind answer server.identity; version.bind/version.server server.version."""
    m = std.query(name, "TXT", "CH")
    assert m.rcode() == dns.rcode.NOERROR, m
    assert m.answer and m.answer[0].rdtype == T.TXT and m.answer[0].rdclass == 3, m
    assert b"".join(m.answer[0][0].strings) == want.encode()


def test_chaos_and_nsid_off_when_unset(gslbd):
    """Without identity/version/nsid configured, CH TXT queries are REFUSED and no NSID is sent."""
    cfg = STD_CONFIG.replace('  identity: "gslbd-test-id"\n', "") \
        .replace('  version: "gslbd-test-version"\n', "").replace('  nsid: "gslbd-nsid-1"\n', "")
    g = gslbd(cfg, files=STD_FILES)
    for name in ("id.server.", "hostname.bind.", "version.bind.", "version.server."):
        m = g.query(name, "TXT", "CH")
        assert m.rcode() == dns.rcode.REFUSED, "%s:\n%s" % (name, m)
        assert not m.answer
    m = g.query(WWW, "A", use_edns=0, options=[dns.edns.GenericOption(dns.edns.NSID, b"")])
    assert m.rcode() == 0 and nsid_of(m) is None


# --- ECS (RFC 7871) ---------------------------------------------------------

def ecs_of(m):
    for o in m.options:
        if o.otype == dns.edns.ECS:
            return o
    return None


@pytest.mark.parametrize("addr,prefix", [("192.0.2.0", 24), ("10.0.0.0", 8),
                                         ("2001:db8:1::", 48), ("0.0.0.0", 0)])
def test_ecs_echoed_with_scope_zero(std, addr, prefix):
    """A valid ECS option on a policy-all service is echoed with the same source and scope prefix 0."""
    m = std.query(WWW, "A", use_edns=0, options=[dns.edns.ECSOption(addr, prefix)])
    assert m.rcode() == dns.rcode.NOERROR, m
    assert {rd.address for rd in m.answer[0]} == WWW_A
    e = ecs_of(m)
    assert e is not None, "ECS not echoed"
    assert (e.address, e.srclen, e.scopelen) == (addr, prefix, 0)


ECS_BAD = [
    (b"\x00\x01\x21\x00" + bytes(5), "IPv4 source prefix 33"),
    (b"\x00\x02\x81\x00" + bytes(17), "IPv6 source prefix 129"),
    (b"\x00\x01\x08\x00\x0a\x00\x00", "3 address bytes for a /8"),
    (b"\x00\x01\x18\x00\x0a\x00", "2 address bytes for a /24"),
    (b"\x00\x01\x0c\x00\x0a\x01", "bits set beyond the source prefix /12"),
    (b"\x00\x01\x08", "option shorter than its fixed part"),
    (b"\x00\x03\x00\x00", "unknown family 3"),
]


@pytest.mark.parametrize("data,why", ECS_BAD, ids=[c[1].replace(" ", "-") for c in ECS_BAD])
def test_ecs_malformed_formerr(std, data, why):
    """A malformed ECS option gets FORMERR."""
    opts = w.edns_option(8, data)
    h = w.Header(std.raw(w.query(WWW, 1, opts=[w.opt_rr(options=opts)])))
    assert h.rcode == dns.rcode.FORMERR, "%s: %r" % (why, h)
    assert h.ancount == 0


# --- listeners ---------------------------------------------------------------

def test_ipv6_listener(gslbd):
    """A server listening on ::1 answers over UDP and TCP there, with dig too."""
    from conftest import free_endpoint6
    addr, port = free_endpoint6()
    g = gslbd(STD_CONFIG, files=STD_FILES, addr=addr, port=port)
    m = g.query(WWW, "A")
    assert m.rcode() == 0 and {rd.address for rd in m.answer[0]} == WWW_A
    m = g.query(WWW, "AAAA", tcp=True)
    assert m.rcode() == 0 and [rd.address for rd in m.answer[0]] == ["2001:db8::1"]
    out = g.dig(WWW, "AAAA", "+tcp")
    assert "status: NOERROR" in out and "2001:db8::1" in out, out


def test_listen_both_families_bracket_syntax(gslbd):
    """listen: ["ADDR", "[::1]:PORT"] answers on both addresses."""
    from conftest import free_endpoint6
    import conftest
    for _ in range(50):
        addr6, port = free_endpoint6()
        addr4 = "127.0.0.%d" % conftest._rng.randint(2, 250)
        if conftest._port_free(addr4, port):
            break
    cfg = STD_CONFIG.replace("server:\n", 'server:\n  listen: ["%s", "[::1]:%d"]\n  port: %d\n'
                             % (addr4, port, port), 1)
    g = gslbd(cfg, files=STD_FILES, addr=addr4, port=port)
    assert {rd.address for rd in g.query(WWW, "A").answer[0]} == WWW_A
    m = dns.query.udp(dns.message.make_query(WWW, "A"), "::1", port=port, timeout=2)
    assert {rd.address for rd in m.answer[0]} == WWW_A

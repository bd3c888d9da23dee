"""Malformed input: random, truncated and bit-flipped packets over UDP and
TCP must not crash or wedge the server, nor trip a sanitizer."""
import os
import random
import socket
import struct
import time

import dns.exception
import dns.message
import dns.rcode

import wirehelp as w
from conftest import STD_CONFIG, STD_FILES, WWW_A, ZONE, wait_for

SEED = int(os.environ.get("GSLBD_FUZZ_SEED", "20240101"))
WWW = "www." + ZONE


def valid_queries():
    qs = [w.query(WWW, 1), w.query(WWW, 28), w.query("nope." + ZONE, 1),
          w.query("big." + ZONE, 16), w.query(ZONE, 255), w.query("host.sub." + ZONE, 1),
          w.query(WWW, 1, opts=[w.opt_rr(options=w.edns_option(8, b"\x00\x01\x18\x00\xc0\x00\x02"))]),
          w.query(WWW, 1, opts=[w.opt_rr(options=w.edns_option(3, b""))]),
          w.query("id.server.", 16)]
    return qs


def nasty_packets():
    """Hand-made edge cases: pointer loops, long labels, counts lying about content."""
    h = w.header(qd=1)
    return [
        b"",
        b"\x00",
        h,                                          # question missing
        h + b"\xc0\x0c\x00\x01\x00\x01",            # pointer to itself
        h + b"\x03www\xc0\x0c\x00\x01\x00\x01",     # pointer back into the name
        h + b"\xc0\xff\x00\x01\x00\x01",            # pointer past the end
        h + b"\x40" + b"a" * 64 + b"\x00\x00\x01\x00\x01",   # label > 63
        h + (b"\x3f" + b"a" * 63) * 5 + b"\x00\x00\x01\x00\x01",  # name > 255
        h + b"\x03www\x00\x00",                     # truncated qtype/qclass
        w.header(qd=1, an=65535, ns=65535, ar=65535) + w.question(WWW),
        w.header(qd=1, ar=1) + w.question(WWW) + b"\x00\x00\x29",  # truncated OPT
        w.header(qd=1, ar=1) + w.question(WWW) + b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 40) + b"\x00\x08",
        w.header(qd=1, ar=1) + w.question(WWW) + w.opt_rr(options=b"\x00\x08\xff\xff"),
        w.header(qd=1, ar=1) + w.question(WWW) + w.opt_rr(payload=0),
        w.header(qd=1, ar=1) + w.question(WWW, 41),  # question of type OPT, counts lie
        w.header(qd=65535) + w.question(WWW) * 3,
        w.query(WWW, 0), w.query(WWW, 65535), w.query(WWW, 252), w.query(WWW, 251),
        w.header(qd=1) + w.encode_name(WWW) + struct.pack("!HH", 1, 255),   # class ANY
        w.header(qd=1) + w.encode_name(WWW) + struct.pack("!HH", 1, 254),   # class NONE
        w.header(qd=1) + w.encode_name(WWW) + struct.pack("!HH", 16, 3),    # CH for a zone name
    ]


def mutate(rng, base):
    kind = rng.randrange(5)
    b = bytearray(base)
    if kind == 0:                       # random bytes
        return bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 600)))
    if kind == 1:                       # truncated
        return bytes(b[:rng.randrange(0, len(b))])
    if kind == 2:                       # bit flips
        for _ in range(rng.randrange(1, 9)):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
        return bytes(b)
    if kind == 3:                       # trailing garbage
        return bytes(b) + bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 100)))
    b[2:12] = bytes(rng.getrandbits(8) for _ in range(10))   # random header
    return bytes(b)


def assert_healthy(g):
    assert g.alive(), "gslbd died:\n" + g.log()[-5000:]
    m = g.query(WWW, "A", timeout=3)
    assert m.rcode() == dns.rcode.NOERROR and {rd.address for rd in m.answer[0]} == WWW_A
    m = g.query(WWW, "A", tcp=True, timeout=3)
    assert m.rcode() == dns.rcode.NOERROR and {rd.address for rd in m.answer[0]} == WWW_A
    assert not g.sanitizer_report(), g.log()[-5000:]


def test_malformed_udp_packets(gslbd):
    """2000 random/truncated/bit-flipped/edge-case UDP packets leave the server alive and answering correctly."""
    g = gslbd(STD_CONFIG, files=STD_FILES)
    rng = random.Random(SEED)
    bases = valid_queries()
    pkts = nasty_packets() + [mutate(rng, rng.choice(bases)) for _ in range(2000)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setblocking(False)
        for i, p in enumerate(pkts):
            try:
                s.sendto(p, (g.addr, g.port))
            except (BlockingIOError, ConnectionRefusedError):
                pass
            if i % 50 == 49:            # drain answers; pace a little
                time.sleep(0.005)
                try:
                    while s.recv(65535):
                        pass
                except (BlockingIOError, ConnectionRefusedError):
                    pass
        # A last valid query on the same socket (so the same worker): its
        # answer means every packet before it was handled.
        s.settimeout(3)
        s.sendto(dns.message.make_query(WWW, "A", id=0xBEEF).to_wire(), (g.addr, g.port))
        while True:
            data = s.recv(65535)
            if len(data) >= 2 and data[:2] == b"\xbe\xef":
                break
    assert_healthy(g)


def test_malformed_tcp_streams(gslbd):
    """Garbage over TCP (bad lengths, random bodies, early close) leaves the server alive and answering."""
    g = gslbd(STD_CONFIG, files=STD_FILES)
    rng = random.Random(SEED + 1)
    bases = valid_queries()
    streams = [
        b"\x00\x00",                                        # zero-length message
        b"\xff\xff" + b"\x00" * 100,                        # claims 64 KiB, sends 100 then closes
        b"\x00\x05hello",
        b"\x00\x0c" + w.header(qd=1),                       # header only
        b"".join(struct.pack("!H", len(q)) + q for q in bases) + b"\x00\x30garbage",
    ]
    for p in nasty_packets():
        streams.append(struct.pack("!H", len(p)) + p)
    for _ in range(40):
        m = mutate(rng, rng.choice(bases))
        if rng.random() < 0.5:
            streams.append(struct.pack("!H", len(m)) + m)
        else:
            streams.append(bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 300))))
    for data in streams:
        try:
            with socket.create_connection((g.addr, g.port), timeout=2) as s:
                s.sendall(data)
                s.settimeout(0.1)
                try:
                    s.recv(65535)
                except (socket.timeout, ConnectionResetError):
                    pass
        except (ConnectionResetError, BrokenPipeError):
            pass
    assert_healthy(g)


def test_stalled_tcp_clients_do_not_lock_out(gslbd):
    """Many stalled TCP clients (over tcp-max-clients) neither stop UDP nor keep a new TCP query out past the idle timeout."""
    cfg = STD_CONFIG.replace("  workers: 2\n", "  workers: 1\n  tcp-max-clients: 4\n")
    g = gslbd(cfg, files=STD_FILES)
    held = []
    try:
        for _ in range(20):
            s = socket.create_connection((g.addr, g.port), timeout=2)
            s.sendall(b"\x00")          # half a length prefix, then nothing
            held.append(s)
        m = g.query(WWW, "A", timeout=2)
        assert m.rcode() == dns.rcode.NOERROR
        # Over the limit a new connection may be closed at once; once the
        # stalled ones hit the 1 s idle timeout a retry must get through.
        def tcp_answer():
            try:
                return g.query(WWW, "A", tcp=True, timeout=1)
            except (EOFError, OSError, dns.exception.Timeout):
                return None
        m = wait_for(tcp_answer, 6, interval=0.2, what="a TCP answer past stalled clients")
        assert m.rcode() == dns.rcode.NOERROR and {rd.address for rd in m.answer[0]} == WWW_A
    finally:
        for s in held:
            s.close()
    assert_healthy(g)

"""wirehelp.py -- raw DNS wire helpers for the system tests.

Most checks use dnspython messages; these helpers are for the cases where
the test must control or read bytes dnspython would normalise: header bits,
counts, several OPT records, exact name case, response sizes.
"""
import struct

import dns.message
import dns.rcode

QR, AA, TC, RD = 0x8000, 0x0400, 0x0200, 0x0100
RA = 0x0080


class Header:
    def __init__(self, wire):
        assert wire is not None and len(wire) >= 12, "short response: %r" % (wire,)
        (self.id, self.flags, self.qdcount, self.ancount, self.nscount,
         self.arcount) = struct.unpack("!HHHHHH", wire[:12])
        self.qr = bool(self.flags & QR)
        self.opcode = (self.flags >> 11) & 0xF
        self.aa = bool(self.flags & AA)
        self.tc = bool(self.flags & TC)
        self.rd = bool(self.flags & RD)
        self.ra = bool(self.flags & RA)
        self.rcode = self.flags & 0xF

    def __repr__(self):
        return ("Header(id=%d qr=%d opcode=%d aa=%d tc=%d rd=%d ra=%d rcode=%d "
                "qd=%d an=%d ns=%d ar=%d)" % (
                    self.id, self.qr, self.opcode, self.aa, self.tc, self.rd,
                    self.ra, self.rcode, self.qdcount, self.ancount,
                    self.nscount, self.arcount))


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def question(name, rdtype=1, rdclass=1):
    return encode_name(name) + struct.pack("!HH", rdtype, rdclass)


def header(id=0x1234, flags=0, qd=1, an=0, ns=0, ar=0, opcode=0):
    flags = (flags & ~0x7800) | ((opcode & 0xF) << 11)
    return struct.pack("!HHHHHH", id, flags, qd, an, ns, ar)


def opt_rr(payload=1232, ext_rcode=0, version=0, flags=0, options=b""):
    ttl = (ext_rcode << 24) | (version << 16) | flags
    return b"\0" + struct.pack("!HHIH", 41, payload, ttl, len(options)) + options


def edns_option(code, data):
    return struct.pack("!HH", code, len(data)) + data


def query(name, rdtype=1, id=0x1234, flags=RD, opcode=0, opts=()):
    """A raw query; opts is a list of complete OPT RRs (opt_rr())."""
    return header(id, flags, 1, 0, 0, len(opts), opcode) + question(name, rdtype) + b"".join(opts)


def parse(wire):
    """dnspython Message from raw bytes (fails the test if it cannot parse)."""
    return dns.message.from_wire(wire)


def rcode_of(msg):
    return msg.rcode()

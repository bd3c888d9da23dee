"""tcp-max-per-source counts an IPv6 client by its /64: a host is given a
whole /64, and counting each address apart would let it take a share from
every one of them.  IPv6 addresses other than ::1 need a network of
their own: the test runs gslbd and its clients in a network namespace it
creates (unshare -n, root), with fd00:1::53 (gslbd), fd00:2::a and
fd00:2::b (one /64) and fd00:3::c (another) on its loopback."""
import json
import os
import subprocess
import sys

from conftest import gslbd_binary

INSIDE = r'''
import json, os, socket, struct, subprocess, sys, time, urllib.request
import dns.message, dns.rcode

gslbd, d = sys.argv[1], sys.argv[2]
for cmd in (["ip", "link", "set", "lo", "up"],
            ["ip", "-6", "addr", "add", "fd00:1::53/128", "dev", "lo", "nodad"],
            ["ip", "-6", "addr", "add", "fd00:2::a/128", "dev", "lo", "nodad"],
            ["ip", "-6", "addr", "add", "fd00:2::b/128", "dev", "lo", "nodad"],
            ["ip", "-6", "addr", "add", "fd00:3::c/128", "dev", "lo", "nodad"]):
    subprocess.run(cmd, check=True)
conf = os.path.join(d, "gslbd.yaml")
with open(conf, "w") as f:
    f.write("""server:
  workers: 1
  listen: ["fd00:1::53"]
  port: 5353
  tcp-max-per-source: 2
  tcp-query-timeout: 10s
  tcp-idle-timeout: 10s
zone:
  name: conn.test
  nameservers:
    - name: ns1
      addresses: [192.0.2.53]
probe-defaults:
  type: none
control:
  listen: "127.0.0.1:18053"
services:
  - name: www
    endpoints:
      - region: a
        addresses: [192.0.2.1]
""")
log = open(os.path.join(d, "gslbd.log"), "w")
p = subprocess.Popen([gslbd, "-c", conf], stdout=log, stderr=log)
out = {}

def connect(src):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.settimeout(2)
    s.bind((src, 0))
    s.connect(("fd00:1::53", 5353))
    return s

def ask(src):
    try:
        with connect(src) as s:
            w = dns.message.make_query("www.conn.test.", "A").to_wire()
            s.sendall(struct.pack("!H", len(w)) + w)
            h = s.recv(2)
            if len(h) < 2:
                return None
            n = struct.unpack("!H", h)[0]
            b = b""
            while len(b) < n:
                c = s.recv(n - len(b))
                if not c:
                    return None
                b += c
            return dns.rcode.to_text(dns.message.from_wire(b).rcode())
    except OSError:
        return None

def metric(name, reason):
    with urllib.request.urlopen("http://127.0.0.1:18053/metrics", timeout=3) as r:
        for line in r.read().decode().splitlines():
            if line.startswith('%s{reason="%s"}' % (name, reason)):
                return float(line.split()[-1])
    return 0.0

try:
    t0 = time.monotonic()
    while ask("fd00:3::c") is None:
        if time.monotonic() - t0 > 10 or p.poll() is not None:
            raise SystemExit("gslbd did not answer: " + open(log.name).read())
        time.sleep(0.05)
    held = []
    for _ in range(2):
        s = connect("fd00:2::a")
        s.sendall(b"\x00")          # half a length prefix: busy, not idle
        held.append(s)
    out["other_64"] = ask("fd00:3::c")   # also shows the worker read the bytes
    out["same_64"] = ask("fd00:2::b")
    out["per_source"] = metric("gslbd_tcp_closed_total", "per-source")
    for s in held:
        s.close()
finally:
    p.terminate()
    out["rc"] = p.wait(timeout=10)
print(json.dumps(out))
'''


def test_ipv6_source_is_its_64(tmp_path):
    """Two busy connections from fd00:2::a fill the share of fd00:2::/64: fd00:2::b is refused; fd00:3::c is served."""
    r = subprocess.run(["unshare", "-n", "--", sys.executable, "-c", INSIDE,
                        gslbd_binary(), str(tmp_path)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=60, env=dict(os.environ))
    assert r.returncode == 0, "the namespace run failed (needs root for " \
        "unshare -n):\n%s\n%s" % (r.stdout, r.stderr)
    out = json.loads(r.stdout.strip().splitlines()[-1])
    log = (tmp_path / "gslbd.log").read_text()
    assert out["other_64"] == "NOERROR", (out, log)
    assert out["same_64"] is None, ("another address of the same /64 was "
                                    "served past its share", out, log)
    assert out["per_source"] == 1, (out, log)
    assert out["rc"] == 0, (out, log)

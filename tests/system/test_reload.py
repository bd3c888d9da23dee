"""SIGHUP reload: a good config swaps answers without losing a query; a bad
one is reported as FILE:LINE:COL and the old answers stay."""
import re
import socket
import threading
import time

import dns.message
import dns.rcode

from conftest import wait_for

Z = "global.example.org."

TEMPLATE = """server:
  workers: 2
zone:
  name: global.example.org
  soa:
    serial: %(serial)d
  nameservers:
    - name: ns1
      addresses: [192.0.2.53]
probe-defaults:
  type: none
services:
  - name: www
    policy: all
    endpoints:
      - region: eu-west
        addresses: %(addrs)s
%(extra)s"""

A = ["192.0.2.1", "192.0.2.2"]
B = ["198.51.100.7"]


def cfg(addrs, serial=1, extra=""):
    return TEMPLATE % dict(addrs="[" + ", ".join(addrs) + "]", serial=serial, extra=extra)


NEW_SERVICE = """  - name: fresh
    endpoints:
      - region: us-east
        addresses: [203.0.113.9]
"""

def bad_cfg():
    return cfg(B, serial=3).replace("    policy: all\n", "    policy: nonsense\n")


def line_of(path, text):
    """1-based number of the first line of the file containing text."""
    with open(path) as f:
        for i, line in enumerate(f, 1):
            if text in line:
                return i
    raise AssertionError("%r not in %s" % (text, path))


def answer_set(g, name="www." + Z):
    m = g.query(name, "A")
    if m.rcode() != dns.rcode.NOERROR or not m.answer:
        return None
    return sorted(rd.address for rd in m.answer[0])


def test_reload_good_config_changes_answers(gslbd):
    """SIGHUP with a changed config serves the new addresses, the new service and the new serial."""
    g = gslbd(cfg(A))
    assert answer_set(g) == A
    assert g.query("fresh." + Z, "A").rcode() == dns.rcode.NXDOMAIN
    g.write_config(cfg(B, serial=2, extra=NEW_SERVICE))
    g.reload()
    wait_for(lambda: answer_set(g) == B, 5, what="new answers after reload")
    assert answer_set(g, "fresh." + Z) == ["203.0.113.9"]
    assert g.query(Z, "SOA").answer[0][0].serial == 2
    assert g.alive()


def test_reload_loses_no_query(gslbd):
    """Queries sent continuously during several reloads all get a complete answer (zero failures)."""
    g = gslbd(cfg(A))
    stop = threading.Event()
    stats = {"ok": 0, "fail": [], "a": 0, "b": 0}

    def hammer():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(1.0)
        i = 0
        deadline = time.monotonic() + 20
        while not stop.is_set() and time.monotonic() < deadline:
            i += 1
            q = dns.message.make_query("www." + Z, "A", id=i & 0xFFFF)
            try:
                s.sendto(q.to_wire(), (g.addr, g.port))
                while True:
                    data, _ = s.recvfrom(4096)
                    r = dns.message.from_wire(data)
                    if r.id == q.id:
                        break
                got = sorted(rd.address for rd in r.answer[0]) if r.answer else None
                if r.rcode() != dns.rcode.NOERROR or got not in (A, B):
                    stats["fail"].append((i, dns.rcode.to_text(r.rcode()), got))
                else:
                    stats["ok"] += 1
                    stats["a" if got == A else "b"] += 1
            except (socket.timeout, OSError) as e:
                stats["fail"].append((i, "timeout/error", str(e)))
            time.sleep(0.002)
        s.close()

    threads = [threading.Thread(target=hammer) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for k in range(6):
            # Queries before each reload, and each reload done before
            # the next: awaited, not slept.
            ok = stats["ok"]
            wait_for(lambda: stats["ok"] >= ok + 20 or stats["fail"], 10,
                     what="queries answered between reloads")
            g.write_config(cfg(B if k % 2 == 0 else A, serial=10 + k))
            g.reload()
            g.wait_metric("gslbd_reloads_total", lambda v, k=k: v >= k + 1,
                          result="ok")
        ok = stats["ok"]
        wait_for(lambda: stats["ok"] >= ok + 20 or stats["fail"], 10,
                 what="queries answered after the last reload")
    finally:
        stop.set()
        for t in threads:
            t.join(25)
    assert stats["fail"] == [], "%d of %d queries failed during reloads: %s" % (
        len(stats["fail"]), len(stats["fail"]) + stats["ok"], stats["fail"][:10])
    assert stats["ok"] > 100, stats
    assert stats["b"] > 0, "the reloads never changed the answers: %s" % stats
    assert g.alive()


def test_reload_bad_config_keeps_old_answers(gslbd):
    """SIGHUP with a bad config logs FILE:LINE:COL and keeps serving the old answers; a fixed config then loads."""
    g = gslbd(cfg(A))
    g.write_config(bad_cfg())
    g.reload()
    bad_line = line_of(g.config_path, "policy: nonsense")
    pat = re.compile(r"%s:%d:\d+: " % (re.escape(g.config_path), bad_line))
    wait_for(lambda: pat.search(g.log()), 5, what="the reload error in the log")
    assert g.alive(), g.log()
    for _ in range(10):
        assert answer_set(g) == A
    assert g.query(Z, "SOA").answer[0][0].serial == 1
    g.write_config(cfg(B, serial=4))
    g.reload()
    wait_for(lambda: answer_set(g) == B, 5, what="answers from the fixed config")


def test_reload_unreadable_config_keeps_serving(gslbd):
    """SIGHUP when the config file has vanished keeps the old answers and the process alive."""
    import os
    g = gslbd(cfg(A))
    os.rename(g.config_path, g.config_path + ".gone")
    mark = g.log_mark()
    g.reload()
    g.wait_log(r"reload rejected, keeping the running configuration", since=mark)
    assert g.alive(), g.log()
    assert answer_set(g) == A
    os.rename(g.config_path + ".gone", g.config_path)

#!/usr/bin/env python3
"""qps_lib.py -- the engine behind bench/qps: gslbd against NSD, Knot and
gdnsd on loopback, driven by dnsperf.

Every server gets the same zone (100 names, 3 A + 1 AAAA each), its own
127.0.0.x address and its own files in a temporary directory, and runs in
the foreground as a child of this script.  Then, in alternation (gslbd nsd
knot gdnsd gslbd nsd ...) for a number of rounds, each server gets

  1. an unthrottled dnsperf run: answered queries per second;
  2. a run at a fixed offered load (dnsperf -Q): the server's user and
     system CPU, read from /proc for every process and thread it has,
     divided by the queries dnsperf saw answered.

The medians (with min-max) are printed with the ratio gslbd / peer and the
three targets of the issue.  Only loopback addresses are used, every run
is bounded by dnsperf -l, and only the PIDs started here are signalled.
"""
import argparse
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

ZONE = "bench.example"
NAMES = 100
PORT = 15353
CLK_TCK = os.sysconf("SC_CLK_TCK")
# --dnssec: the KSK and ZSK base names (gslbd signs with them, NSD and Knot
# serve the zone presigned with them by ldns-signzone), and dnsperf -D.
KEYS = None


def make_keys(work):
    """A KSK and a ZSK (ECDSA P-256) for the zone, in work/keys."""
    d = os.path.join(work, "keys")
    os.makedirs(d)
    out = []
    for extra in (["-k"], []):
        r = subprocess.run(["ldns-keygen", "-a", "ECDSAP256SHA256"] + extra +
                           [ZONE], cwd=d, capture_output=True, text=True,
                           check=True, timeout=60)
        out.append(os.path.join(d, r.stdout.strip().splitlines()[-1]))
    return out


# --- zone data ---------------------------------------------------------

def name_addrs(i):
    """Three IPv4 (one from each documentation range) and one IPv6."""
    return ([f"192.0.2.{i + 1}", f"198.51.100.{i + 1}", f"203.0.113.{i + 1}"],
            f"2001:db8::{i + 1:x}")


def zone_file(path):
    lines = [f"$ORIGIN {ZONE}.", "$TTL 3600",
             "@ 3600 IN SOA ns1 hostmaster 1 3600 600 604800 60",
             "@ 3600 IN NS ns1", "ns1 3600 IN A 192.0.2.253"]
    for i in range(NAMES):
        v4, v6 = name_addrs(i)
        for a in v4:
            lines.append(f"s{i:03d} 30 IN A {a}")
        lines.append(f"s{i:03d} 30 IN AAAA {v6}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    if KEYS:
        # Presigned for the peers: NSEC chain, RRSIGs, the DNSKEYs.
        subprocess.run(["ldns-signzone", "-f", path + ".signed", path] + KEYS,
                       check=True, timeout=300, capture_output=True)
        os.replace(path + ".signed", path)


def query_file(path, n=1000, seed=1):
    """80% A, 10% AAAA, 10% NXDOMAIN, shuffled with a fixed seed."""
    qs = []
    for k in range(n):
        i = k % NAMES
        if k % 10 < 8:
            qs.append(f"s{i:03d}.{ZONE} A")
        elif k % 10 == 8:
            qs.append(f"s{i:03d}.{ZONE} AAAA")
        else:
            qs.append(f"nx{i:03d}.{ZONE} A")
    random.Random(seed).shuffle(qs)
    with open(path, "w") as f:
        f.write("\n".join(qs) + "\n")


# --- servers -------------------------------------------------------------

class Server:
    """One server under test: writes its config, starts, stops."""
    name = "?"

    def __init__(self, work, addr, workers, pin):
        self.dir = os.path.join(work, f"{self.name}-w{workers}")
        os.makedirs(self.dir)
        self.addr = addr
        self.workers = workers
        self.pin = pin
        self.proc = None
        self.log = os.path.join(self.dir, "stderr.log")
        self.dnsperf_extra = []  # options only this server's runs get

    def argv(self):
        raise NotImplementedError

    def start(self):
        argv = self.argv()
        if self.pin is not None:
            argv = ["taskset", "-c", str(self.pin)] + argv
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log,
                                         cwd=self.dir)
        if not wait_answer(self.addr, PORT, 15.0, self.proc):
            self.stop()
            with open(self.log) as f:
                tail = f.read()[-2000:]
            raise RuntimeError(f"{self.name} did not answer on "
                               f"{self.addr}:{PORT}\n{tail}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                for pid in proc_tree(self.proc.pid):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                self.proc.wait(5)
        self.proc = None



class Gslbd(Server):
    name = "gslbd"

    def __init__(self, work, addr, workers, pin, binary):
        super().__init__(work, addr, workers, pin)
        self.binary = binary
        self.conf = os.path.join(self.dir, "gslbd.yaml")
        out = [f"""server:
  listen: ["{addr}"]
  port: {PORT}
  workers: {workers}
control: {{ enabled: false }}
# The peers run without rate limiting; gslbd+rrl measures what it costs.
rate-limit: {{ responses-per-second: 0 }}
zone:
  name: {ZONE}
  ttl: 1h
  soa:
    mname: ns1.{ZONE}
    rname: hostmaster.{ZONE}
    serial: 1
    refresh: 1h
    retry: 10m
    expire: 1w
    minimum: 60s
  nameservers:
    - name: ns1
      addresses: [192.0.2.253]
probe-defaults:
  type: none
services:
"""]
        if KEYS:
            out[0] = out[0].replace("\nservices:\n", "\ndnssec:\n  keys: "
                                    f"[{', '.join(KEYS)}]\nservices:\n")
        for i in range(NAMES):
            v4, v6 = name_addrs(i)
            alist = ", ".join(f'"{a}"' for a in v4 + [v6])
            out.append(f"""  - name: s{i:03d}
    policy: all
    ttl: 30s
    endpoints:
      - region: r1
        addresses: [{alist}]
""")
        with open(self.conf, "w") as f:
            f.write("".join(out))

    def argv(self):
        return [self.binary, "-c", self.conf, "-l", "warn"]



COOKIE_SECRET = "00112233445566778899aabbccddeeff"


class GslbdRrl(Gslbd):
    """gslbd with rate limiting on at a limit nothing reaches, so every
    answer takes the whole rate-limiting path (classify, hash, count) and
    none is limited: what RRL costs an answer.  With cookie, dnsperf also
    sends a valid server cookie in every query (EDNS, -E), which gslbd
    checks (SipHash-2-4) and echoes: what cookies cost."""
    name = "gslbd+rrl"

    def __init__(self, work, addr, workers, pin, binary, cookie=False):
        if cookie:
            self.name = "gslbd+ck"
        super().__init__(work, addr, workers, pin, binary)
        self.cookie = cookie
        with open(self.conf) as f:
            text = f.read()
        text = text.replace("rate-limit: { responses-per-second: 0 }",
                            "rate-limit: { responses-per-second: 1000000 }")
        text = text.replace("server:\n", "server:\n  cookie-secret: "
                            f'"{COOKIE_SECRET}"\n', 1)
        with open(self.conf, "w") as f:
            f.write(text)

    def start(self):
        super().start()
        if self.cookie:
            self.dnsperf_extra = ["-E", "10:" + learn_cookie(self.addr)]


def learn_cookie(addr):
    """The server cookie gslbd gives this host's loopback source (the
    address dnsperf sends from too), as client + server cookie in hex."""
    client = bytes.fromhex("0102030405060708")
    q = bytearray(struct.pack(">HHHHHH", 0x4242, 0, 1, 0, 0, 1))
    for label in ("s000", ZONE.split(".")[0], ZONE.split(".")[1]):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", 1, 1)
    q += b"\0" + struct.pack(">HHIH", 41, 1232, 0, 12)
    q += struct.pack(">HH", 10, 8) + client
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    try:
        s.sendto(bytes(q), (addr, PORT))
        r = s.recv(4096)
    finally:
        s.close()
    i = r.find(struct.pack(">HH", 10, 24) + client)
    if i < 0:
        raise RuntimeError("gslbd+ck: no server cookie in the answer")
    return r[i + 4:i + 28].hex()


class GslbdRef(Gslbd):
    """The same as plain gslbd with another binary (--ref): a build before
    a change, measured in the same alternation as the build after it, so
    the two compare round by round on the same machine state."""
    name = "gslbd-ref"

    def __init__(self, work, addr, workers, pin, binary):
        super().__init__(work, addr, workers, pin, binary)
        ok = subprocess.run([binary, "-t", "-c", self.conf],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL).returncode == 0
        if not ok:
            # A build from before rate limiting has no such key (and no
            # rate limiting to turn off).
            with open(self.conf) as f:
                text = f.read()
            with open(self.conf, "w") as f:
                f.write(text.replace(
                    "rate-limit: { responses-per-second: 0 }\n", ""))


class GslbdProbed(Gslbd):
    """gslbd serving the same zone while it HTTP-probes PROBED more
    endpoints every second (against a local nginx): what probing costs a
    query, measured in the same alternation as the peers."""
    name = "gslbd+p"

    def __init__(self, work, addr, workers, pin, binary, probed,
                 keepalive=False):
        if keepalive:
            self.name = "gslbd+k"    # the same, probes kept alive
        super().__init__(work, addr, workers, pin, binary)
        self.nginx = None
        self.probed = probed
        # Its own address, from the server's (127.0.NET.X -> 127.2.NET.X):
        # two runs with different --net never share an nginx.
        _, _, net, host = addr.split(".")
        ip, port = f"127.2.{net}.{host}", 18099
        self.nginx_conf = os.path.join(self.dir, "nginx.conf")
        with open(self.nginx_conf, "w") as f:
            f.write(f"""worker_processes 1;
daemon off;
pid {self.dir}/nginx.pid;
error_log {self.dir}/nginx-error.log;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  server {{ listen {ip}:{port}; location / {{ return 200 "ok\\n"; }} }}
}}
""")
        extra = [f"""  - name: p{i:04d}
    endpoints:
      - region: r1
        addresses: [{ip}]
        probe: {{ type: http, port: {port}, path: /healthz, interval: 1s,
                 timeout: 800ms{", keepalive: true" if keepalive else ""} }}
""" for i in range(probed)]
        with open(self.conf, "a") as f:
            f.write("".join(extra))

    def start(self):
        with open(os.path.join(self.dir, "nginx.log"), "w") as log:
            self.nginx = subprocess.Popen(
                ["nginx", "-p", self.dir, "-c", self.nginx_conf],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        time.sleep(0.3)
        super().start()
        time.sleep(2)  # every probe has run at least once

    def stop(self):
        super().stop()
        if self.nginx and self.nginx.poll() is None:
            self.nginx.send_signal(signal.SIGQUIT)
            try:
                self.nginx.wait(10)
            except subprocess.TimeoutExpired:
                self.nginx.kill()
                self.nginx.wait()
        self.nginx = None


class Nsd(Server):
    name = "nsd"

    def __init__(self, work, addr, workers, pin):
        super().__init__(work, addr, workers, pin)
        zf = os.path.join(self.dir, ZONE + ".zone")
        zone_file(zf)
        self.conf = os.path.join(self.dir, "nsd.conf")
        d = self.dir
        with open(self.conf, "w") as f:
            f.write(f"""server:
  ip-address: {addr}@{PORT}
  do-ip6: no
  server-count: {workers}
  reuseport: {"yes" if workers > 1 else "no"}
  minimal-responses: yes
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
  username: ""
  chroot: ""
  zonesdir: "{d}"
  database: ""
  zonelistfile: "{d}/zone.list"
  xfrdfile: "{d}/xfrd.state"
  xfrdir: "{d}"
  pidfile: "{d}/nsd.pid"
  logfile: "{d}/nsd.log"
  verbosity: 0
remote-control:
  control-enable: no
zone:
  name: {ZONE}
  zonefile: "{zf}"
""")

    def argv(self):
        return ["nsd", "-d", "-c", self.conf]



class Knot(Server):
    name = "knot"

    def __init__(self, work, addr, workers, pin):
        super().__init__(work, addr, workers, pin)
        zf = os.path.join(self.dir, ZONE + ".zone")
        zone_file(zf)
        self.conf = os.path.join(self.dir, "knot.conf")
        d = self.dir
        with open(self.conf, "w") as f:
            f.write(f"""server:
    rundir: "{d}"
    pidfile: "{d}/knot.pid"
    listen: {addr}@{PORT}
    udp-workers: {workers}
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: warning
database:
    storage: "{d}/db"
control:
    listen: "{d}/knot.sock"
template:
  - id: default
    storage: "{d}"
    zonefile-sync: -1
    journal-content: none
zone:
  - domain: {ZONE}
    file: "{zf}"
""")

    def argv(self):
        return ["knotd", "-c", self.conf]



class Gdnsd(Server):
    name = "gdnsd"

    def __init__(self, work, addr, workers, pin):
        super().__init__(work, addr, workers, pin)
        d = self.dir
        os.makedirs(os.path.join(d, "etc", "zones"))
        zone_file(os.path.join(d, "etc", "zones", ZONE))
        with open(os.path.join(d, "etc", "config"), "w") as f:
            f.write(f"""options => {{
  listen => [ {addr} ]
  dns_port => {PORT}
  udp_threads => {workers}
  tcp_threads => 1
  run_dir => {d}/run
  state_dir => {d}/state
}}
""")

    def argv(self):
        return ["gdnsd", "-c", os.path.join(self.dir, "etc"), "start"]


def versions(gslbd):
    out = [run_out([gslbd, "-V"]).strip().split("\n")[0]]
    m = re.search(r"NSD version (\S+)", run_out(["nsd", "-v"]))
    out.append("nsd " + (m.group(1) if m else "?"))
    out.append(run_out(["knotd", "-V"]).strip().split("\n")[0])
    m = re.search(r"gdnsd version (\S+)", run_out(["gdnsd", "-V"]))
    out.append("gdnsd " + (m.group(1) if m else "?"))
    m = re.search(r"Version (\S+)", run_out(["dnsperf", "-h"]))
    out.append("dnsperf " + (m.group(1) if m else "?"))
    return out


# --- helpers -------------------------------------------------------------

def run_out(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return r.stdout + r.stderr
    except (OSError, subprocess.TimeoutExpired):
        return ""


def wait_answer(addr, port, timeout, proc):
    """Until the server answers s000 A with NOERROR and 3 records."""
    qid = 0x4242
    name = b"".join(bytes([len(l)]) + l.encode()
                    for l in f"s000.{ZONE}".split(".")) + b"\0"
    pkt = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0) + name + \
        struct.pack(">HH", 1, 1)
    end = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        while time.monotonic() < end:
            if proc.poll() is not None:
                return False
            try:
                s.sendto(pkt, (addr, port))
                r, _ = s.recvfrom(4096)
                hid, flags, _, an = struct.unpack(">HHHH", r[:8])
                if hid == qid and flags & 0xf == 0 and an == 3:
                    return True
            except OSError:
                pass
            time.sleep(0.1)
    return False


def proc_tree(root):
    """root and its descendants (NSD forks its servers and xfrd)."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
        except OSError:
            continue
        ppid = int(st[st.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def cpu_ticks(root):
    """(user, system) clock ticks of every thread of every process in the
    tree.  Per process, /proc/PID/stat is the sum over /proc/PID/task/*/stat
    plus threads that already exited."""
    u = s = 0
    for pid in proc_tree(root):
        try:
            with open(f"/proc/{pid}/stat") as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()
        u += int(fields[11])   # utime, field 14
        s += int(fields[12])   # stime, field 15
    return u, s


def busy_ticks():
    """Busy clock ticks of the whole machine (all CPUs), and what this
    script's waited-for children (dnsperf) used, for the noise estimate."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    busy = sum(v[:8]) - v[3] - v[4]   # all but idle and iowait
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return busy, (ru.ru_utime + ru.ru_stime) * CLK_TCK


def server_pid(srv):
    """The server itself, not the taskset wrapper (taskset execs, so the
    PID is the same; kept as a function in case that ever changes)."""
    return srv.proc.pid


def dnsperf(addr, qfile, seconds, qps_limit, cpu, clients, outstanding,
            extra=()):
    argv = ["dnsperf", "-s", addr, "-p", str(PORT), "-d", qfile,
            "-l", str(seconds), "-c", str(clients), "-T", "1",
            "-q", str(outstanding), "-t", "1"] + list(extra)
    if qps_limit:
        argv += ["-Q", str(qps_limit)]
    if KEYS:
        argv += ["-D"]   # the DO bit: every answer with its RRSIGs
    if cpu is not None:
        argv = ["taskset", "-c", str(cpu)] + argv
    r = subprocess.run(argv, capture_output=True, text=True,
                       timeout=seconds + 30)
    out = r.stdout + r.stderr

    def num(pat, cast=float):
        m = re.search(pat, out)
        return cast(m.group(1)) if m else None
    res = {
        "sent": num(r"Queries sent:\s+(\d+)", int),
        "completed": num(r"Queries completed:\s+(\d+)", int),
        "lost": num(r"Queries lost:\s+(\d+)", int),
        "qps": num(r"Queries per second:\s+([\d.]+)"),
        "runtime": num(r"Run time \(s\):\s+([\d.]+)"),
        "resp_size": num(r"Average packet size:.*response (\d+)", int),
        "codes": dict((k, int(v)) for k, v in
                      re.findall(r"([A-Z]+) (\d+) \(", out.split(
                          "Response codes:")[-1].split("\n")[0])),
    }
    if res["completed"] is None or res["qps"] is None:
        raise RuntimeError("dnsperf failed:\n" + out[-2000:])
    return res


# --- the benchmark -------------------------------------------------------

def measure(srv, args, qfile, dcpu):
    """One round for one server: unthrottled qps, then CPU at fixed load."""
    free = dnsperf(srv.addr, qfile, args.duration, 0, dcpu, args.clients,
                   args.outstanding, srv.dnsperf_extra)
    pid = server_pid(srv)
    t0 = time.monotonic()
    b0, c0 = busy_ticks()
    u0, s0 = cpu_ticks(pid)
    fixed = dnsperf(srv.addr, qfile, args.duration, args.load, dcpu,
                    args.clients, args.outstanding, srv.dnsperf_extra)
    u1, s1 = cpu_ticks(pid)
    b1, c1 = busy_ticks()
    elapsed = max(time.monotonic() - t0, 0.001)
    runtime = max(fixed["runtime"] or args.duration, 0.001)
    # CPU used by anything but this server and dnsperf, in % of one CPU:
    # other load on the machine, which skews the numbers.
    other = ((b1 - b0) - (u1 - u0) - (s1 - s0) - (c1 - c0)) / CLK_TCK / \
        elapsed
    n = max(fixed["completed"], 1)
    us = 1e6 / CLK_TCK
    return {
        "qps": free["qps"], "lost_free": free["lost"],
        "fixed_qps": fixed["qps"], "fixed_lost": fixed["lost"],
        "fixed_completed": fixed["completed"],
        "user_ticks": u1 - u0, "sys_ticks": s1 - s0,
        "user_us": (u1 - u0) * us / n, "sys_us": (s1 - s0) * us / n,
        "total_us": ((u1 - u0) + (s1 - s0)) * us / n,
        "cpu_util": ((u1 - u0) + (s1 - s0)) / CLK_TCK / runtime,
        "other": max(other, 0.0),
        "resp_size": fixed["resp_size"], "codes": fixed["codes"],
    }


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def summarize(name, runs):
    keys = ["qps", "user_us", "sys_us", "total_us", "fixed_qps", "cpu_util",
            "other", "resp_size"]
    out = {"name": name, "n": len(runs)}
    for k in keys:
        xs = [r[k] for r in runs if r[k] is not None]
        out[k] = (med(xs), min(xs) if xs else 0, max(xs) if xs else 0)
    # User time is sampled by the scheduler tick (a few dozen samples a
    # run), so user and system per query are pooled over every round:
    # total ticks / total answered queries.
    n = sum(r["fixed_completed"] for r in runs) or 1
    us = 1e6 / CLK_TCK
    out["user_pool"] = sum(r["user_ticks"] for r in runs) * us / n
    out["sys_pool"] = sum(r["sys_ticks"] for r in runs) * us / n
    out["user_ticks"] = sum(r["user_ticks"] for r in runs)
    codes = {}
    for r in runs:
        for c, v in r["codes"].items():
            codes[c] = codes.get(c, 0) + v
    tot = sum(codes.values()) or 1
    out["nx_share"] = codes.get("NXDOMAIN", 0) / tot
    out["other_rcodes"] = {c: v for c, v in codes.items()
                           if c not in ("NOERROR", "NXDOMAIN")}
    out["lost"] = sum((r["lost_free"] or 0) + (r["fixed_lost"] or 0)
                      for r in runs)
    out["lost_fixed_share"] = sum(r["fixed_lost"] or 0 for r in runs) / n
    return out


def print_table(title, summ, args, notes):
    print()
    print(f"== {title}")
    g = summ["gslbd"]
    peers = [s for s in summ if not s.startswith("gslbd")]
    hdr = (f"{'server':<7} {'qps median (min-max)':>27} "
           f"{'user us/q*':>10} {'sys us/q*':>9} {'total us/q (min-max)':>22} "
           f"{'cpu%':>5} {'other%':>6} {'resp B':>6}  {'gslbd/peer qps':>14} "
           f"{'gslbd/peer cpu':>14}")
    print(hdr)
    print("-" * len(hdr))
    for name, s in summ.items():
        q = s["qps"]
        t = s["total_us"]
        if name == "gslbd":
            rq = rc = "-"
        else:
            rq = f"{g['qps'][0] / q[0]:.3f}" if q[0] else "?"
            rc = f"{g['total_us'][0] / t[0]:.3f}" if t[0] else "?"
        print(f"{name:<7} {q[0]:>9.0f} ({q[1]:>7.0f}-{q[2]:>7.0f}) "
              f"{s['user_pool']:>10.3f} {s['sys_pool']:>9.3f} "
              f"{t[0]:>7.3f} ({t[1]:>5.2f}-{t[2]:>5.2f}) "
              f"{100 * s['cpu_util'][0]:>4.0f}% {100 * s['other'][0]:>5.0f}% "
              f"{s['resp_size'][0]:>6.0f}  "
              f"{rq:>14} {rc:>14}")
    if not peers:
        return  # gslbd variants only (--servers): no targets to check
    best_total = min(summ[p]["total_us"][0] for p in peers)
    best_user = min(summ[p]["user_pool"] for p in peers)
    best_total_name = min(peers, key=lambda p: summ[p]["total_us"][0])
    best_user_name = min(peers, key=lambda p: summ[p]["user_pool"])
    max_qps_name = max(peers, key=lambda p: summ[p]["qps"][0])
    max_qps = summ[max_qps_name]["qps"][0]

    def verdict(ok):
        return "MET" if ok else "NOT MET"
    print("* user and sys: pooled over all rounds (tick-sampled; "
          + ", ".join(f"{n} {summ[n]['user_ticks']}" for n in summ)
          + " user ticks of 1/%d s); total: median of the rounds" % CLK_TCK)
    print("  qps: unthrottled; total/user/sys: server CPU per answered "
          f"query at {args.load} qps offered; cpu%: the server's CPU then "
          "(100% = one core);\n  other%: CPU used meanwhile by anything but "
          "the server and dnsperf (noise); ratios: gslbd / peer medians")
    print()
    print(f"targets ({title}):")
    print(f"  total CPU/query <= 0.9 x best peer ({best_total_name} "
          f"{best_total:.3f} us -> limit {0.9 * best_total:.3f}): gslbd "
          f"{g['total_us'][0]:.3f} us = {g['total_us'][0] / best_total:.3f} x"
          f"  {verdict(g['total_us'][0] <= 0.9 * best_total)}")
    print(f"  user CPU/query <= best peer ({best_user_name} "
          f"{best_user:.3f} us): gslbd {g['user_pool']:.3f} us"
          f"  {verdict(g['user_pool'] <= best_user)}")
    ok = g["qps"][0] >= max_qps
    overlap = g["qps"][2] >= summ[max_qps_name]["qps"][1]
    extra = ""
    if not ok and overlap:
        extra = " (ranges overlap: within run-to-run noise)"
    print(f"  unthrottled qps >= every peer (highest {max_qps_name} "
          f"{max_qps:.0f}): gslbd {g['qps'][0]:.0f}  {verdict(ok)}{extra}")
    for pn, how in (("gslbd+p", "a new connection per run"),
                    ("gslbd+k", "keepalive")):
        if pn not in summ:
            continue
        gp = summ[pn]
        print(f"  with {args.probed} targets probed every 1 s ({pn}, {how}): "
              f"total CPU/query {gp['total_us'][0]:.3f} us = "
              f"{gp['total_us'][0] / best_total:.3f} x best peer, "
              f"{gp['total_us'][0] / g['total_us'][0]:.3f} x gslbd without "
              f"probes  {verdict(gp['total_us'][0] <= best_total)}"
              " (target: <= best peer; the probes' CPU is counted)")
    for n in notes:
        print(f"  note: {n}")
    for name, s in summ.items():
        if s["lost_fixed_share"] > 0.001:
            print(f"  WARNING: {name} lost {100 * s['lost_fixed_share']:.2f}"
                  "% of the queries at the fixed load")
        if s["other_rcodes"]:
            print(f"  WARNING: {name} answered {s['other_rcodes']}")
        if abs(s["nx_share"] - 0.10) > 0.02:
            print(f"  WARNING: {name} NXDOMAIN share "
                  f"{100 * s['nx_share']:.1f}% (expected 10%)")


def print_round_ratios(title, results):
    """Every gslbd variant's total CPU per answer against gdnsd's and, with
    --ref, against the reference build's, within each round (the runs of
    one round are seconds apart): median (min-max) over the rounds."""
    for peer in ("gdnsd", "gslbd-ref"):
        if peer not in results:
            continue
        lines = []
        for name, runs in results.items():
            if not name.startswith("gslbd") or name == peer:
                continue
            rs = [r["total_us"] / p["total_us"]
                  for r, p in zip(runs, results[peer])
                  if r["total_us"] and p["total_us"]]
            if rs:
                lines.append(f"  {name:<10} / {peer}: {med(rs):.3f} "
                             f"({min(rs):.3f}-{max(rs):.3f}) over "
                             f"{len(rs)} rounds")
        if lines:
            print(f"\ntotal CPU per answer / {peer}'s in the same round "
                  f"({title}):")
            print("\n".join(lines))


def print_rrl_cost(title, results):
    """gslbd+rrl and gslbd+ck against gslbd, round by round: each round
    runs them back to back, so the ratio within a round cancels most of
    the machine's drift."""
    for name, what in (("gslbd+rrl", "rate limiting on (nothing limited)"),
                       ("gslbd+ck", "rate limiting on + a valid cookie in "
                        "every query (EDNS)")):
        if name not in results or "gslbd" not in results:
            continue
        pairs = list(zip(results[name], results["gslbd"]))
        tot = sorted(a["total_us"] / b["total_us"] for a, b in pairs
                     if b["total_us"])
        qps = sorted(a["qps"] / b["qps"] for a, b in pairs if b["qps"])
        if not tot:
            continue
        print(f"  {name} / gslbd ({what}; {title}): total CPU per answer "
              f"x{med(tot):.3f} median (min {tot[0]:.3f}, max {tot[-1]:.3f}) "
              f"over {len(tot)} rounds; unthrottled qps x{med(qps):.3f} "
              f"({qps[0]:.3f}-{qps[-1]:.3f})")


def run_mode(args, work, qfile, workers):
    pin = workers == 1 and not args.no_pin
    scpu, dcpu = (0, 1) if pin else (None, None)
    mk = [lambda a: Gslbd(work, a, workers, scpu, args.gslbd),
          lambda a: GslbdProbed(work, a, workers, scpu, args.gslbd,
                                args.probed),
          lambda a: GslbdProbed(work, a, workers, scpu, args.gslbd,
                                args.probed, keepalive=True),
          lambda a: GslbdRrl(work, a, workers, scpu, args.gslbd),
          lambda a: GslbdRrl(work, a, workers, scpu, args.gslbd,
                             cookie=True),
          lambda a: GslbdRef(work, a, workers, scpu, args.ref),
          lambda a: Nsd(work, a, workers, scpu),
          lambda a: Knot(work, a, workers, scpu),
          lambda a: Gdnsd(work, a, workers, scpu)]
    names = ["gslbd", "gslbd+p", "gslbd+k", "gslbd+rrl", "gslbd+ck",
             "gslbd-ref", "nsd", "knot", "gdnsd"]
    only = args.servers.split(",") if args.servers else names
    if not args.probed:
        only = [n for n in only if n not in ("gslbd+p", "gslbd+k")]
    if not args.keepalive:
        only = [n for n in only if n != "gslbd+k"]
    if KEYS:
        only = [n for n in only if n != "gdnsd"]   # no DNSSEC in gdnsd 3
    if not args.rrl:
        only = [n for n in only if n not in ("gslbd+rrl", "gslbd+ck")]
    if not args.ref:
        only = [n for n in only if n != "gslbd-ref"]
    servers = []
    base = 60 + 10 * workers
    for i, f in enumerate(mk):
        if names[i] in only:
            servers.append(f(f"127.0.{args.net}.{base + i}"))
    results = {s.name: [] for s in servers}
    try:
        for s in servers:
            s.start()
        # Warm up each once (page faults, caches), unmeasured.
        for s in servers:
            dnsperf(s.addr, qfile, 1, 0, dcpu, args.clients,
                    args.outstanding, s.dnsperf_extra)
        for rnd in range(args.rounds):
            for s in servers:
                if s.proc.poll() is not None:
                    raise RuntimeError(f"{s.name} exited (see {s.log})")
                r = measure(s, args, qfile, dcpu)
                results[s.name].append(r)
                print(f"  workers={workers} round {rnd + 1}/{args.rounds} "
                      f"{s.name:<6} qps={r['qps']:>8.0f}  at "
                      f"{args.load}: answered={r['fixed_qps']:>8.0f}/s "
                      f"user={r['user_us']:.3f} sys={r['sys_us']:.3f} "
                      f"total={r['total_us']:.3f} us/q "
                      f"other={100 * r['other']:.0f}%", flush=True)
    finally:
        for s in servers:
            s.stop()
    summ = {n: summarize(n, rs) for n, rs in results.items()}
    notes = []
    if pin:
        title = (f"{workers} worker each, server pinned to core 0, "
                 f"dnsperf to core 1")
    else:
        title = f"{workers} workers each, nothing pinned"
        notes.append("servers and dnsperf share the cores: dnsperf (one "
                     "thread) is likely the limit of the unthrottled qps")
    noisy = max(s["other"][0] for s in summ.values())
    if noisy > 0.10:
        notes.append(f"other processes used up to {100 * noisy:.0f}% of a "
                     "CPU during the runs (median): the numbers are noisy")
    qps_all = [summ[n]["qps"][0] for n in summ]
    if max(qps_all) > 0 and min(qps_all) / max(qps_all) > 0.9:
        notes.append("all unthrottled medians within 10% of each other: "
                     "dnsperf is probably the limit, not the servers")
    for n, s in summ.items():
        if s["fixed_qps"][0] < 0.97 * args.load:
            notes.append(f"{n} answered {s['fixed_qps'][0]:.0f}/s of the "
                         f"{args.load} offered: its CPU/query is measured "
                         f"at a lower load")
    if len(summ) > 1 and "gslbd" in summ:
        print_table(title, summ, args, notes)
    print_rrl_cost(title, results)
    print_round_ratios(title, results)
    return {"workers": workers, "pinned": pin, "runs": results,
            "summary": summ}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gslbd", required=True, help="gslbd binary")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 3 rounds of 2 s (about 2 minutes)")
    ap.add_argument("--rounds", type=int, help="rounds (default 5)")
    ap.add_argument("--duration", type=int, help="seconds per run "
                    "(default 5)")
    ap.add_argument("--load", type=int, default=100000,
                    help="offered qps for the CPU runs (default 100000)")
    ap.add_argument("--workers", default="1,2",
                    help="worker counts to run, comma separated")
    ap.add_argument("--servers", default="",
                    help="subset, e.g. gslbd,knot (default all four)")
    ap.add_argument("--clients", type=int, default=4,
                    help="dnsperf -c (sockets; spreads over SO_REUSEPORT)")
    ap.add_argument("--outstanding", type=int, default=500,
                    help="dnsperf -q")
    ap.add_argument("--no-pin", action="store_true",
                    help="do not pin even the one-worker run")
    ap.add_argument("--probed", type=int, default=0,
                    help="also measure gslbd while it HTTP-probes this many "
                    "endpoints every second (e.g. 1000; needs nginx)")
    ap.add_argument("--keepalive", action="store_true",
                    help="with --probed: also gslbd whose probes keep their "
                    "connections alive (gslbd+k)")
    ap.add_argument("--dnssec", action="store_true",
                    help="signed zone, every query with DO: gslbd signing "
                    "with a KSK+ZSK against NSD and Knot serving the zone "
                    "presigned by ldns-signzone (gdnsd left out)")
    ap.add_argument("--rrl", action="store_true",
                    help="also gslbd with rate limiting on at a limit "
                    "nothing reaches (gslbd+rrl) and with a valid DNS "
                    "cookie in every query (gslbd+ck): what they cost")
    ap.add_argument("--ref", help="also measure this gslbd binary "
                    "(gslbd-ref: e.g. the build before a change) with the "
                    "plain gslbd's config, and give per-round ratios")
    ap.add_argument("--net", type=int, default=0,
                    help="serve on 127.0.NET.61-77 (default 0), so that two "
                    "runs at once do not answer each other's queries")
    ap.add_argument("--json", help="also write every run to this file")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directory")
    args = ap.parse_args()
    if args.rounds is None:
        args.rounds = 3 if args.quick else 5
    if args.duration is None:
        args.duration = 2 if args.quick else 5
    if args.rounds < 1 or args.duration < 1:
        ap.error("rounds and duration must be at least 1")

    for tool in ("dnsperf", "nsd", "knotd", "gdnsd", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"qps: {tool} not found (bench/qps installs it)")
    if os.cpu_count() < 2:
        print("qps: fewer than 2 CPUs; pinning disabled", file=sys.stderr)
        args.no_pin = True

    work = tempfile.mkdtemp(prefix="gslbd-qps.")
    if args.dnssec:
        global KEYS
        KEYS = make_keys(work)
    qfile = os.path.join(work, "queries.txt")
    query_file(qfile)
    print(f"qps: {NAMES} names x (3 A + 1 AAAA), queries 80% A / 10% AAAA "
          f"/ 10% NXDOMAIN{', DNSSEC (DO, ECDSA P-256 KSK+ZSK)' if KEYS else ''}"
          f"; {args.rounds} rounds x {args.duration} s, "
          f"fixed load {args.load} qps; dnsperf -c {args.clients} -q "
          f"{args.outstanding} -T 1")
    vers = versions(args.gslbd)
    print("qps: " + "; ".join(v for v in vers if v))
    print(f"qps: work dir {work}; load average "
          f"{os.getloadavg()[0]:.2f} (other load skews results)")
    all_res = []
    t0 = time.monotonic()
    try:
        for w in [int(x) for x in args.workers.split(",") if x]:
            all_res.append(run_mode(args, work, qfile, w))
    finally:
        if args.json:
            with open(args.json, "w") as f:
                json.dump(all_res, f, indent=1)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nqps: done in {time.monotonic() - t0:.0f} s")


if __name__ == "__main__":
    main()

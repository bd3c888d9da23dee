"""conftest.py -- fixtures that drive the real gslbd binary and real peers.

Fixture API (reuse it in any tests/system/test_*.py):

``gslbd(config, files=None, check=True, wait=True, args=())``  (function scope;
``gslbd_module`` is the same factory with module scope)
    Write ``config`` (YAML text) as ``gslbd.yaml`` in a fresh temporary
    directory, start ``$GSLBD -c FILE`` in the foreground with stderr (and
    stdout) captured to ``gslbd.log``, wait (10 s at most) until it answers
    a query over UDP and accepts TCP, and return a :class:`Gslbd`.
    - The server listens on a fresh 127.0.0.x address (x in 2..250) and a
      free high port.  If the config has no ``server:`` section one is
      added; if it has one without ``listen:``, ``listen`` and ``port`` are
      inserted.  ``@ADDR@``, ``@PORT@`` and ``@DIR@`` in the config and in
      ``files`` are replaced by the address, port and directory.
    - Rate limiting is on by default (200 answers a second per /24), and
      every test client is on 127.0.0.0/8: a config without a top-level
      ``rate-limit:`` gets one that exempts loopback, so tests that send
      many queries are not limited.  Tests of rate limiting write their
      own ``rate-limit:`` section (``rate-limit: {}`` for the defaults).
    - ``files`` maps file names (relative to the config's directory) to
      text, e.g. ``{"static.zone": "..."}`` for ``zone-file: static.zone``.
    - ``check=False`` skips the exit-status check at teardown (for a test
      that expects the process to die).  ``wait=False`` returns at once.
    At teardown every server still running gets SIGTERM; the test fails
    unless it exits with status 0 within 10 s and its log has no
    sanitizer report.

:class:`Gslbd` methods: ``.addr``, ``.port``, ``.dir``, ``.config_path``,
``.proc``; ``.query(name, rdtype="A", rdclass="IN", tcp=False, rd=True,
timeout=2, **make_query_kwargs)`` -> ``dns.message.Message`` (dnspython;
pass ``use_edns=0``, ``payload=``, ``options=[...]``, ``want_dnssec=True``
for EDNS); ``.raw(wire, tcp=False, timeout=2)`` -> response bytes or
``None`` on timeout; ``.dig(*args)`` / ``.kdig(*args)`` run the real tools
(``@addr -p port +norec``, bounded) and return their stdout;
``.write_config(text)`` rewrites the config (same placeholders and listen
insertion; a config without a top-level ``control:`` gets one listening
on ``.control``, i.e. the same 127.0.0.x and another free port, with
``.control_url`` = ``"http://" + .control``; ``@CONTROL@`` in a config
is replaced by ``.control``); ``.reload()`` sends SIGHUP;
``.log()`` returns the log text; ``.log_mark()`` its length now and
``.wait_log(pattern, timeout=5, since=0)`` waits until the log from offset
``since`` (a ``.log_mark()``, so that an earlier line does not count)
matches the regex ``pattern`` and returns the match: how tests await an
event the daemon logs (a reload done or rejected, a health change)
instead of sleeping; ``.metric(name, **labels)`` sums the samples of
``name`` with those labels in the control API's /metrics (0 when none) and
``.wait_metric(name, pred, timeout=5, **labels)`` waits until
``pred(value)`` holds: how tests await what the daemon counts (reloads,
Kubernetes watch events and errors);
``.alive()``; ``.stop(sig=SIGTERM)`` -> exit status (idempotent).

``free_endpoint()`` -> ``(addr, port)``: a fresh 127.0.0.x address and a
port free for both UDP and TCP on it; ``free_endpoint6()`` -> ``("::1",
port)`` (pass both to the factory as ``addr=``, ``port=``).

``wait_for(pred, timeout=5, interval=0.05)``: poll ``pred()`` until it is
truthy (returns its value) or raise AssertionError after ``timeout`` s.

``http_backend(status=200, body=b"ok", delay=0.0)`` (factory fixture): an
in-process HTTP server on a fresh 127.0.0.x address; its ``.status``,
``.body`` and ``.delay`` may be changed at any time, ``.hits`` counts
requests, ``.paths`` records request paths, ``.stop()`` closes it (the
port then refuses connections).

``nginx(locations)`` (factory fixture): a real nginx on a fresh
127.0.0.x address; ``locations`` is nginx config text for the ``server``
block (e.g. ``'location /healthz { return 200 "ok"; }'``).  Returns an
object with ``.addr``, ``.port``, ``.stop()``.

``unbound(stub_zone, stub_addr, stub_port)`` (factory fixture): a real
Unbound resolver (iterator only, no DNSSEC, no chroot, as the current
user, ``use-caps-for-id: yes``) on a fresh 127.0.0.x address, with a
``stub-zone`` for ``stub_zone`` pointing at ``stub_addr@stub_port``.
Returns an object with ``.addr``, ``.port``, ``.query(...)`` as above,
``.dig(*args)`` and ``.stop()``.
"""
import http.server
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
import urllib.request

import dns.flags
import dns.message
import dns.query
import dns.rdataclass
import dns.rdatatype
import pytest

SANITIZER_PATTERNS = re.compile(
    r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|"
    r"UndefinedBehaviorSanitizer|ThreadSanitizer|MemorySanitizer|"
    r"SUMMARY: \w+Sanitizer"
)

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


def gslbd_binary():
    path = os.environ.get("GSLBD")
    if not path:
        top = os.environ.get("top_srcdir") or os.path.join(
            os.path.dirname(__file__), "..", "..")
        for cand in ("gslbd", "_build/gslbd"):
            p = os.path.join(top, cand)
            if os.access(p, os.X_OK):
                path = p
                break
    if not path or not os.access(path, os.X_OK):
        pytest.fail("GSLBD does not name an executable gslbd (GSLBD=%r)"
                    % os.environ.get("GSLBD"))
    return os.path.abspath(path)


def wait_for(pred, timeout=5.0, interval=0.05, what=None):
    """Poll pred() until truthy; return its value or fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s"
                                 % (timeout, what or getattr(pred, "__name__", "condition")))
        time.sleep(interval)


_rng = random.Random()


def _family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def _port_free(addr, port):
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        s = socket.socket(_family(addr), kind)
        try:
            s.bind((addr, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def free_endpoint():
    """A fresh 127.0.0.x address and a port free for UDP and TCP on it."""
    for _ in range(200):
        addr = "127.0.0.%d" % _rng.randint(2, 250)
        port = _rng.randint(20000, 60000)
        if _port_free(addr, port):
            return addr, port
    raise RuntimeError("no free 127.0.0.x port found")


def free_endpoint6():
    """("::1", port) with the port free for UDP and TCP; skips the test without IPv6."""
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    for _ in range(200):
        port = _rng.randint(20000, 60000)
        try:
            if _port_free("::1", port):
                return "::1", port
        except OSError:
            pytest.skip("::1 not usable")
    raise RuntimeError("no free port on ::1 found")


def _free_port_other(addr, port):
    """Another port free on addr (for the control API)."""
    for _ in range(200):
        p = _rng.randint(20000, 60000)
        if p != port and _port_free(addr, p):
            return p
    raise RuntimeError("no second free port on %s found" % addr)


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


class DnsPeer:
    """Query helpers shared by gslbd and unbound wrappers."""

    addr = None
    port = None

    def query(self, name, rdtype="A", rdclass="IN", tcp=False, rd=True,
              timeout=2.0, **kw):
        q = dns.message.make_query(name, rdtype, rdclass, **kw)
        if not rd:
            q.flags &= ~dns.flags.RD
        if tcp:
            return dns.query.tcp(q, self.addr, port=self.port, timeout=timeout)
        return dns.query.udp(q, self.addr, port=self.port, timeout=timeout,
                             ignore_trailing=False)

    def raw(self, wire, tcp=False, timeout=2.0):
        """Send raw bytes; return the raw response, or None on timeout/close."""
        if tcp:
            with socket.create_connection((self.addr, self.port), timeout=timeout) as s:
                s.sendall(struct.pack("!H", len(wire)) + wire)
                try:
                    hdr = _recv_exact(s, 2)
                    if hdr is None:
                        return None
                    return _recv_exact(s, struct.unpack("!H", hdr)[0])
                except (socket.timeout, ConnectionResetError):
                    return None
        with socket.socket(_family(self.addr), socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            s.connect((self.addr, self.port))
            try:
                s.send(wire)
                return s.recv(65535)
            except (socket.timeout, ConnectionRefusedError):
                # refused: ICMP port unreachable, nothing listens (yet)
                return None

    def _tool(self, tool, base, args, timeout=15):
        cmd = [tool, "@%s" % self.addr, "-p", str(self.port)] + base + list(args)
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout, text=True)
        return r.stdout

    def dig(self, *args):
        """Run dig @addr -p port +norec +time=2 +tries=1 ARGS; return stdout."""
        return self._tool("dig", ["+norec", "+time=2", "+tries=1"], args)

    def kdig(self, *args):
        """Run kdig @addr -p port +norec +time=2 +retry=0 ARGS; return stdout."""
        return self._tool("kdig", ["+norec", "+time=2", "+retry=0"], args)


def _prepare_config(text, addr, port, d, control=None):
    text = text.replace("@ADDR@", addr).replace("@PORT@", str(port)) \
               .replace("@DIR@", d)
    if control:
        text = text.replace("@CONTROL@", control)
    lines = text.splitlines()
    # Its own control API address: the default 127.0.0.1:8053 would clash
    # between servers running at the same time.
    if control and not any(re.match(r"^control:", l) for l in lines):
        lines += ["control:", '  listen: "%s"' % control]
    if not any(re.match(r"^rate-limit:", l) for l in lines):
        lines += ["rate-limit:", '  exempt: [127.0.0.0/8, "::1/128"]']
    server_idx = [i for i, l in enumerate(lines) if re.match(r"^server:\s*(#.*)?$", l)]
    listen = ['  listen: ["%s"]' % addr, "  port: %d" % port]
    if not server_idx:
        lines = ["server:"] + listen + lines
    else:
        i = server_idx[0]
        j = i + 1
        has_listen = False
        while j < len(lines) and (lines[j].startswith((" ", "\t")) or not lines[j].strip()):
            if re.match(r"^\s+listen:", lines[j]):
                has_listen = True
            j += 1
        if not has_listen:
            lines[i + 1:i + 1] = listen
    return "\n".join(lines) + "\n"


class Gslbd(DnsPeer):
    """One running gslbd process (see the module docstring)."""

    def __init__(self, binary, d, config, files, addr=None, port=None, args=()):
        self.binary = binary
        self.dir = d
        if addr is None:
            addr, port = free_endpoint()
        self.addr, self.port = addr, port
        self.control_port = _free_port_other(addr, port)
        host = "[%s]" % addr if ":" in addr else addr
        self.control = "%s:%d" % (host, self.control_port)
        self.control_url = "http://" + self.control
        self.config_path = os.path.join(d, "gslbd.yaml")
        self.log_path = os.path.join(d, "gslbd.log")
        for name, text in (files or {}).items():
            p = os.path.join(d, name)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "w") as f:
                f.write(text.replace("@ADDR@", addr).replace("@PORT@", str(port))
                            .replace("@DIR@", d))
        self.write_config(config)
        self.args = list(args)
        self.returncode = None
        self._logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [binary, "-c", self.config_path] + self.args,
            stdin=subprocess.DEVNULL, stdout=self._logf, stderr=subprocess.STDOUT,
            cwd=d)

    def write_config(self, text):
        with open(self.config_path, "w") as f:
            f.write(_prepare_config(text, self.addr, self.port, self.dir,
                                    self.control))

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log_mark(self):
        """The log's length now: pass it as wait_log(since=) to skip older lines."""
        return len(self.log())

    def wait_log(self, pattern, timeout=5.0, since=0):
        """Wait until the log from offset since matches the regex pattern; return the match."""
        rx = re.compile(pattern)
        try:
            return wait_for(lambda: rx.search(self.log()[since:]), timeout,
                            what="log line /%s/" % pattern)
        except AssertionError as e:
            raise AssertionError("%s; log since the mark:\n%s"
                                 % (e, self.log()[since:][-3000:])) from None

    _SAMPLE = re.compile(r'^([A-Za-z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)')
    _LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')

    def metric(self, name, **labels):
        """Sum of the /metrics samples called name with these labels; 0 when none."""
        with urllib.request.urlopen(self.control_url + "/metrics", timeout=5) as r:
            text = r.read().decode()
        total = 0.0
        for line in text.splitlines():
            m = self._SAMPLE.match(line)
            if not m or m.group(1) != name:
                continue
            lab = dict(self._LABEL.findall(m.group(2) or ""))
            if all(lab.get(k) == v for k, v in labels.items()):
                total += float(m.group(3))
        return total

    def wait_metric(self, name, pred, timeout=5.0, **labels):
        """Wait until pred(metric(name, **labels)) holds; return the value."""
        last = []

        def check():
            last[:] = [self.metric(name, **labels)]
            return pred(last[0])
        try:
            wait_for(check, timeout, what="metric %s%s" % (name, labels or ""))
        except AssertionError as e:
            raise AssertionError("%s; last value %s" % (e, last)) from None
        return last[0]

    def alive(self):
        return self.proc.poll() is None

    def reload(self):
        assert self.alive(), "gslbd is not running:\n" + self.log()
        self.proc.send_signal(signal.SIGHUP)

    def wait_ready(self, timeout=START_TIMEOUT):
        """Until it answers a UDP query and accepts TCP, or fail with its log."""
        deadline = time.monotonic() + timeout
        q = dns.message.make_query(".", "SOA").to_wire()
        while time.monotonic() < deadline:
            if not self.alive():
                raise AssertionError("gslbd exited with status %s during start:\n%s"
                                     % (self.proc.returncode, self.log()))
            if self.raw(q, timeout=0.2) is not None:
                try:
                    socket.create_connection((self.addr, self.port), timeout=0.5).close()
                    return self
                except OSError:
                    pass
            time.sleep(0.05)
        raise AssertionError("gslbd did not answer within %.0fs:\n%s" % (timeout, self.log()))

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Signal the process (if alive), wait for it; return its exit status."""
        if self.returncode is None:
            if self.proc.poll() is None:
                self.proc.send_signal(sig)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
                    self.returncode = "hung: killed after %.0fs" % timeout
            if self.returncode is None:
                self.returncode = self.proc.returncode
            self._logf.close()
        return self.returncode

    def sanitizer_report(self):
        m = SANITIZER_PATTERNS.search(self.log())
        return m is not None


class GslbdFactory:
    def __init__(self, base_dir):
        self.base = str(base_dir)
        self.servers = []  # (server, check)

    def __call__(self, config, files=None, check=True, wait=True, args=(),
                 addr=None, port=None):
        d = os.path.join(self.base, "gslbd%d" % len(self.servers))
        os.makedirs(d)
        s = Gslbd(gslbd_binary(), d, config, files, addr, port, args)
        self.servers.append((s, check))
        if wait:
            try:
                s.wait_ready()
            except AssertionError:
                s.stop(signal.SIGKILL)
                raise
        return s

    def finish(self):
        problems = []
        for s, check in self.servers:
            rc = s.stop()
            if not check:
                continue
            mine = []
            if rc != 0:
                mine.append("gslbd on %s port %d exited with %s" % (s.addr, s.port, rc))
            if s.sanitizer_report():
                mine.append("gslbd on %s port %d: sanitizer report in its log" % (s.addr, s.port))
            if mine:
                problems += mine + ["log:\n" + s.log()[-6000:]]
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def gslbd(tmp_path):
    """Factory: start a gslbd on a config (see module docstring)."""
    f = GslbdFactory(tmp_path)
    yield f
    f.finish()


@pytest.fixture(scope="module")
def gslbd_module(tmp_path_factory):
    """Module-scoped variant of the gslbd factory."""
    f = GslbdFactory(tmp_path_factory.mktemp("gslbd"))
    yield f
    f.finish()


# --- HTTP backends ---------------------------------------------------------

class HttpBackend:
    """An in-process HTTP server whose answers the test controls."""

    def __init__(self, status=200, body=b"ok", delay=0.0):
        self.status, self.body, self.delay = status, body, delay
        self.hits = 0
        self.paths = []
        self.headers = []
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def _answer(self, with_body):
                backend.hits += 1
                backend.paths.append(self.path)
                backend.headers.append(dict(self.headers))
                if backend.delay:
                    time.sleep(backend.delay)
                body = backend.body if isinstance(backend.body, bytes) \
                    else str(backend.body).encode()
                self.send_response(backend.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if with_body:
                    self.wfile.write(body)

            def do_GET(self):
                self._answer(True)

            def do_HEAD(self):
                self._answer(False)

            def log_message(self, *a):
                pass

        for _ in range(50):
            addr, port = free_endpoint()
            try:
                self.server = http.server.ThreadingHTTPServer((addr, port), Handler)
                break
            except OSError:
                continue
        self.server.daemon_threads = True
        self.addr, self.port = addr, port
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


@pytest.fixture
def http_backend():
    """Factory: in-process HTTP backends on fresh 127.0.0.x addresses."""
    made = []

    def make(status=200, body=b"ok", delay=0.0):
        b = HttpBackend(status, body, delay)
        made.append(b)
        return b
    yield make
    for b in made:
        b.stop()


class Daemon:
    def __init__(self, proc, addr, port, d, log_path):
        self.proc, self.addr, self.port, self.dir = proc, addr, port, d
        self.log_path = log_path

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
def nginx(tmp_path):
    """Factory: a real nginx on a fresh 127.0.0.x address."""
    exe = shutil.which("nginx") or "/usr/sbin/nginx"
    made = []

    def make(locations='location / { return 200 "ok\\n"; }'):
        d = os.path.join(str(tmp_path), "nginx%d" % len(made))
        os.makedirs(os.path.join(d, "logs"))
        addr, port = free_endpoint()
        user = "user root;\n" if os.geteuid() == 0 else ""
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write("""%sdaemon off;
master_process on;
worker_processes 1;
pid %s/nginx.pid;
error_log %s/logs/error.log warn;
events { worker_connections 64; }
http {
  access_log %s/logs/access.log;
  client_body_temp_path %s/body; proxy_temp_path %s/proxy;
  fastcgi_temp_path %s/fcgi; uwsgi_temp_path %s/uwsgi; scgi_temp_path %s/scgi;
  server {
    listen %s:%d;
    %s
  }
}
""" % ((user, d, d, d) + (d,) * 5 + (addr, port, locations)))
        log_path = os.path.join(d, "stderr.log")
        with open(log_path, "wb") as lf:
            proc = subprocess.Popen([exe, "-p", d, "-c", conf], stdin=subprocess.DEVNULL,
                                    stdout=lf, stderr=subprocess.STDOUT)
        n = Daemon(proc, addr, port, d, log_path)
        made.append(n)

        def up():
            if proc.poll() is not None:
                raise AssertionError("nginx exited:\n" + n.log())
            try:
                socket.create_connection((addr, port), timeout=0.5).close()
                return True
            except OSError:
                return False
        wait_for(up, 10, what="nginx to listen")
        return n
    yield make
    for n in made:
        n.stop()


class Unbound(Daemon, DnsPeer):
    def dig(self, *args):
        """dig through the resolver (recursion desired)."""
        return self._tool("dig", ["+rec", "+time=3", "+tries=1"], args)


def start_unbound(cls, d, conf, addr, port):
    """Start Unbound with the config file conf (listening on addr, port;
    its log in d) as an instance of cls; return it once it answers."""
    exe = shutil.which("unbound") or "/usr/sbin/unbound"
    log_path = os.path.join(d, "unbound.log")
    with open(log_path, "wb") as lf:
        proc = subprocess.Popen([exe, "-d", "-c", conf], stdin=subprocess.DEVNULL,
                                stdout=lf, stderr=subprocess.STDOUT)
    u = cls(proc, addr, port, d, log_path)
    probe = dns.message.make_query("localhost.", "A").to_wire()

    def up():
        if proc.poll() is not None:
            raise AssertionError("unbound exited:\n" + u.log())
        return u.raw(probe, timeout=0.3) is not None
    try:
        wait_for(up, 10, what="unbound to answer")
    except BaseException:
        u.stop()
        raise
    return u


@pytest.fixture
def unbound(tmp_path):
    """Factory: a real Unbound with a stub-zone pointing at a gslbd."""
    made = []

    def make(stub_zone, stub_addr, stub_port):
        d = os.path.join(str(tmp_path), "unbound%d" % len(made))
        os.makedirs(d)
        addr, port = free_endpoint()
        conf = os.path.join(d, "unbound.conf")
        with open(conf, "w") as f:
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
  num-threads: 1
  module-config: "iterator"
  do-not-query-localhost: no
  use-caps-for-id: yes
  access-control: 127.0.0.0/8 allow
  cache-min-ttl: 0
  prefetch: no
  serve-expired: no
remote-control:
  control-enable: no
stub-zone:
  name: "%(zone)s"
  stub-addr: %(saddr)s@%(sport)d
  stub-prime: no
  stub-first: no
""" % dict(addr=addr, port=port, d=d, zone=stub_zone, saddr=stub_addr,
                sport=stub_port))
        u = start_unbound(Unbound, d, conf, addr, port)
        made.append(u)
        return u
    yield make
    for u in made:
        u.stop()


# --- the standard zone used by most protocol tests ---------------------------

ZONE = "global.example.org."

STD_ZONE_FILE = """$TTL 300
txt         TXT   "hello world"
mx          MX    10 mail
mail        A     192.0.2.25
alias       CNAME www
_sip._tcp   SRV   10 60 5060 sip
sip         A     192.0.2.26
multi       TXT   "one"
multi       MX    20 mail
x.y         TXT   "deep"
sub         NS    ns.sub
ns.sub      A     192.0.2.77
""" + "".join('big TXT "%s"\n' % (chr(ord("a") + i) * 200) for i in range(12))

BIG_TXT_STRINGS = [chr(ord("a") + i) * 200 for i in range(12)]


def _addr_list(fmt, n):
    return "[" + ", ".join('"%s"' % (fmt % i) for i in range(1, n + 1)) + "]"


STD_CONFIG = """server:
  workers: 2
  tcp-idle-timeout: 1s
  identity: "gslbd-test-id"
  version: "gslbd-test-version"
  nsid: "gslbd-nsid-1"
zone:
  name: global.example.org
  ttl: 1h
  soa:
    mname: ns1.global.example.org
    rname: hostmaster.example.org
    serial: 2024010101
    refresh: 1h
    retry: 10m
    expire: 1w
    minimum: 60s
  nameservers:
    - name: ns1
      addresses: [192.0.2.53, "2001:db8::53"]
    - name: ns2.global.example.org.
      addresses: [198.51.100.53]
  zone-file: static.zone
probe-defaults:
  type: none
services:
  - name: www
    policy: all
    ttl: 45s
    max-answers: 0
    endpoints:
      - region: eu-west
        addresses: [192.0.2.1, 192.0.2.2, "2001:db8::1"]
      - region: us-east
        addresses: [192.0.2.3, 192.0.2.4]
      - region: retired
        enabled: false
        addresses: [192.0.2.99, "2001:db8::99"]
  - name: capped
    policy: all
    max-answers: 3
    endpoints:
      - region: eu-west
        addresses: %(capped)s
  - name: deflt
    endpoints:
      - region: eu-west
        addresses: [192.0.2.10]
  - name: b.c
    endpoints:
      - region: eu-west
        addresses: [192.0.2.11]
  - name: many40
    max-answers: 0
    endpoints:
      - region: eu-west
        addresses: %(many40)s
  - name: many50
    max-answers: 0
    endpoints:
      - region: eu-west
        addresses: %(many50)s
""" % dict(capped=_addr_list("10.0.0.%d", 8),
           many40=_addr_list("2001:db8:40::%x", 40),
           many50=_addr_list("2001:db8:50::%x", 50))

STD_FILES = {"static.zone": STD_ZONE_FILE}

WWW_A = {"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"}


@pytest.fixture(scope="module")
def std(gslbd_module):
    """A gslbd serving STD_CONFIG + STD_ZONE_FILE (one per test module)."""
    return gslbd_module(STD_CONFIG, files=STD_FILES)

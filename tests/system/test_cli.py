"""Command line: -t config check with FILE:LINE:COL errors, --version,
--help, usage errors, and clean exit on SIGTERM/SIGINT."""
import re
import signal
import subprocess

import dns.rcode

from conftest import free_endpoint, gslbd_binary, wait_for

GOOD = """server:
  listen: ["127.0.0.1"]
  port: 53
zone:
  name: global.example.org
  nameservers:
    - name: ns1
      addresses: [192.0.2.53]
probe-defaults:
  type: none
services:
  - name: www
    endpoints:
      - region: eu-west
        addresses: [192.0.2.1]
"""

# Two independent errors, on lines 13 and 16.
BAD = """server:
  listen: ["127.0.0.1"]
  port: 53
zone:
  name: global.example.org
  nameservers:
    - name: ns1
      addresses: [192.0.2.53]
probe-defaults:
  type: none
services:
  - name: www
    policy: bogus
    endpoints:
      - region: eu-west
        addresses: [not-an-address]
"""
BAD_LINES = (13, 16)

RUNNABLE = GOOD.replace("127.0.0.1", "@ADDR@").replace("port: 53", "port: @PORT@")


def run(*args, timeout=20):
    return subprocess.run([gslbd_binary()] + list(args), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout, text=True)


def test_version():
    """--version prints "gslbd 0.1.0" and exits 0."""
    r = run("--version")
    assert r.returncode == 0, r
    assert r.stdout.splitlines()[0].strip() == "gslbd 0.1.0", r.stdout


def test_help():
    """--help exits 0 and describes -c."""
    r = run("--help")
    assert r.returncode == 0, r
    assert "-c" in r.stdout + r.stderr


def test_unknown_option_is_usage_error():
    """An unknown option exits 2 (usage) with a message on stderr."""
    for opt in ("--no-such-option", "-Z"):
        r = run(opt)
        assert r.returncode == 2, (opt, r)
        assert r.stderr.strip(), "no usage message for %s" % opt


def test_check_good_config(tmp_path):
    """gslbd -t -c on a valid config exits 0."""
    p = tmp_path / "good.yaml"
    p.write_text(GOOD)
    r = run("-t", "-c", str(p))
    assert r.returncode == 0, r


def test_check_example_config():
    """The annotated example config docs/examples/gslbd.yaml passes gslbd -t."""
    import os
    top = os.environ.get("top_srcdir") or os.path.join(os.path.dirname(__file__), "..", "..")
    r = run("-t", "-c", os.path.join(top, "docs", "examples", "gslbd.yaml"))
    assert r.returncode == 0, r


def test_check_bad_config_reports_every_error(tmp_path):
    """gslbd -t on a config with two errors exits 1 and reports both as FILE:LINE:COL: message."""
    p = tmp_path / "bad.yaml"
    p.write_text(BAD)
    r = run("-t", "-c", str(p))
    assert r.returncode == 1, r
    pat = re.compile(r"^%s:(\d+):(\d+): \S" % re.escape(str(p)), re.M)
    lines = {int(m.group(1)) for m in pat.finditer(r.stderr)}
    for want in BAD_LINES:
        assert want in lines, "no error for line %d in:\n%s" % (want, r.stderr)


def test_check_yaml_syntax_error(tmp_path):
    """A YAML syntax error is reported as FILE:LINE:COL and exits 1."""
    p = tmp_path / "syntax.yaml"
    p.write_text(GOOD.replace('listen: ["127.0.0.1"]', 'listen: ["127.0.0.1"'))
    r = run("-t", "-c", str(p))
    assert r.returncode == 1, r
    assert re.search(r"^%s:\d+:\d+: \S" % re.escape(str(p)), r.stderr, re.M), r.stderr


def test_check_missing_file(tmp_path):
    """gslbd -t on a file that does not exist exits 1 with a message."""
    r = run("-t", "-c", str(tmp_path / "nope.yaml"))
    assert r.returncode == 1, r
    assert r.stderr.strip()


def test_sigterm_exits_zero(gslbd):
    """A running server exits 0 on SIGTERM."""
    g = gslbd(RUNNABLE, check=False)   # this test checks the exit itself
    assert g.query("www.global.example.org.", "A").rcode() == dns.rcode.NOERROR
    assert g.stop(signal.SIGTERM) == 0 and not g.sanitizer_report(), g.log()


def test_pidfile_and_log_level(gslbd, tmp_path):
    """server.pidfile holds the PID while running and is removed at exit; server.log-level: warn hides info lines."""
    pidfile = tmp_path / "gslbd.pid"
    conf = RUNNABLE.replace("  port: @PORT@",
                            f"  port: @PORT@\n  pidfile: {pidfile}\n  log-level: warn")
    g = gslbd(conf, check=False)
    assert g.query("www.global.example.org.", "A").rcode() == dns.rcode.NOERROR
    assert int(pidfile.read_text()) == g.proc.pid
    assert "serving zone=" not in g.log()
    assert g.stop(signal.SIGTERM) == 0, g.log()
    assert not pidfile.exists()


def test_pidfile_tmp_symlink_not_followed(gslbd, tmp_path):
    """A symlink planted at <pidfile>.tmp is replaced, never written through: the file it points to keeps its contents."""
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    pidfile = tmp_path / "gslbd.pid"
    (tmp_path / "gslbd.pid.tmp").symlink_to(victim)
    conf = RUNNABLE.replace("  port: @PORT@",
                            f"  port: @PORT@\n  pidfile: {pidfile}")
    g = gslbd(conf, check=False)
    assert g.query("www.global.example.org.", "A").rcode() == dns.rcode.NOERROR
    assert victim.read_text() == "precious\n"
    assert not pidfile.is_symlink() and int(pidfile.read_text()) == g.proc.pid
    assert g.stop(signal.SIGTERM) == 0, g.log()


def test_sigint_exits_zero(gslbd):
    """A running server exits 0 on SIGINT."""
    g = gslbd(RUNNABLE, check=False)   # this test checks the exit itself
    assert g.query("www.global.example.org.", "A").rcode() == dns.rcode.NOERROR
    assert g.stop(signal.SIGINT) == 0 and not g.sanitizer_report(), g.log()


def test_start_with_bad_config_fails(tmp_path):
    """Starting (not -t) on a bad config exits 1 with the errors, binding nothing."""
    addr, port = free_endpoint()
    p = tmp_path / "bad.yaml"
    p.write_text(BAD.replace("127.0.0.1", addr).replace("port: 53", "port: %d" % port))
    r = run("-c", str(p), timeout=20)
    assert r.returncode == 1, r
    assert re.search(r"^%s:%d:\d+: " % (re.escape(str(p)), BAD_LINES[0]), r.stderr, re.M), r.stderr


def server_recv_queue(port, peer_port):
    """Bytes waiting in the server's socket of one TCP connection (ss), or None."""
    r = subprocess.run(["ss", "-Htn", "( sport = :%d and dport = :%d )" % (port, peer_port)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=10)
    fields = r.stdout.split()
    return int(fields[1]) if len(fields) > 1 else None


def test_sigterm_with_open_tcp_connections(gslbd):
    """SIGTERM while TCP clients are connected (one mid-message) exits 0, with no leak under sanitizers."""
    import socket
    g = gslbd(RUNNABLE, check=False)   # this test checks the exit itself
    held = [socket.create_connection((g.addr, g.port), timeout=2) for _ in range(3)]
    try:
        held[0].sendall(b"\x00")
        # Mid-message for real: gslbd has read the byte (its socket's
        # receive queue is empty again).
        wait_for(lambda: server_recv_queue(g.port, held[0].getsockname()[1]) == 0,
                 5, what="gslbd to read the first byte")
        rc = g.stop(signal.SIGTERM)
    finally:
        for s in held:
            s.close()
    assert rc == 0 and not g.sanitizer_report(), g.log()[-4000:]

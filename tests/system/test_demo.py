"""The README's first command, docs/examples/demo.sh, runs end to end and
prints what it promises: the config file's zone with probes and failover,
then the KubeFed part (fake host-cluster API, a ServiceDNSRecord's global,
region and zone names, zone -> region -> global fallback without a CNAME,
answers kept while the API is down, gslbctl status naming each name's
source, the API back).  The demo uses the binaries under test (GSLBD, GSLBCTL), so it does
not build anything."""
import os
import re
import signal
import socket
import subprocess

import pytest

from conftest import gslbd_binary

TIMEOUT = 150  # the demo itself should take well under a minute

# Fixed addresses the demo uses (it is a walk-through, not a fixture).
DEMO_PORTS = [("127.0.0.53", 5300), ("127.0.0.63", 5300),
              ("127.0.0.53", 8053), ("127.0.0.63", 8053)] + \
    [("127.0.0.%d" % i, 8080) for i in (11, 12, 13, 21, 22, 23)]

G = "web.shop.kubefed.svc.example.com"
R = "web.shop.kubefed.svc.eu-west.example.com"
Z = "web.shop.kubefed.svc.eu-west-1a.eu-west.example.com"


def port_free(addr, port):
    """Nothing bound there (TIME-WAIT from an earlier run does not count:
    the demo's servers set SO_REUSEADDR too)."""
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((addr, port))
            if kind == socket.SOCK_STREAM:
                s.listen(1)
        except OSError:
            return False
        finally:
            s.close()
    return True


def gslbctl_binary():
    path = os.environ.get("GSLBCTL") or os.path.join(
        os.path.dirname(gslbd_binary()), "gslbctl")
    if not os.access(path, os.X_OK):
        pytest.fail("no gslbctl next to gslbd (GSLBCTL=%r)" % path)
    return os.path.abspath(path)


def top_srcdir():
    return os.path.abspath(os.environ.get("top_srcdir") or os.path.join(
        os.path.dirname(__file__), "..", ".."))


def run_demo():
    """(exit status, output with colours stripped)."""
    env = dict(os.environ, GSLBD=gslbd_binary(), GSLBCTL=gslbctl_binary(),
               PYTHONDONTWRITEBYTECODE="1")
    script = os.path.join(top_srcdir(), "docs", "examples", "demo.sh")
    p = subprocess.Popen(["bash", script], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         env=env, text=True, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        # SIGTERM runs the demo's cleanup trap; then nothing may be left.
        os.killpg(p.pid, signal.SIGTERM)
        try:
            out, _ = p.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, _ = p.communicate()
        pytest.fail("demo.sh did not finish in %d s:\n%s" % (TIMEOUT, out))
    return p.returncode, re.sub(r"\x1b\[[0-9;]*m", "", out)


@pytest.fixture(scope="module")
def demo():
    busy = [a for a in DEMO_PORTS if not port_free(*a)]
    if busy:
        pytest.fail("the demo's addresses are in use: %s" % busy)
    rc, out = run_demo()
    return rc, out, [" ".join(line.split()) for line in out.splitlines()]


def steps(lines):
    """The demo's "== ..." step lines, whitespace collapsed."""
    return [line[3:] for line in lines if line.startswith("== ")]


def assert_in_order(have, want):
    i = 0
    for w in want:
        while i < len(have) and have[i] != w:
            i += 1
        assert i < len(have), "step %r missing (or out of order); steps:\n%s" % (
            w, "\n".join(have))
        i += 1


def test_demo_exits_0(demo):
    rc, out, lines = demo
    assert rc == 0, out
    assert steps(lines)[-1] == "done", out
    # everything it started is stopped by its trap
    busy = [a for a in DEMO_PORTS if not port_free(*a)]
    assert not busy, "still listening after the demo: %s" % busy


def test_static_part(demo):
    _, _, lines = demo
    assert_in_order(steps(lines), [
        "www (policy all): 127.0.0.11 127.0.0.12 127.0.0.13",
        "api (policy failover): 127.0.0.11",
        "stopping region us-east (kill its HTTP server)",
        "www now: 127.0.0.11 127.0.0.13",
        "www now: 127.0.0.13 (only ap-south is healthy)",
        "api now: 127.0.0.12 (failover: priority 2 region)",
        "api now: 127.0.0.11 (back to priority 1)",
        "www now: 127.0.0.11 127.0.0.12 127.0.0.13",
    ])
    assert any(x.startswith("us-east left the www answers after ")
               for x in lines)


def test_kube_part(demo):
    _, out, lines = demo
    assert_in_order(steps(lines), [
        "kube global %s: 127.0.0.21 127.0.0.22 127.0.0.23" % G,
        "kube region %s: 127.0.0.21 127.0.0.22" % R,
        "kube zone %s: 127.0.0.21" % Z,
        # c1 (eu-west-1a) dies: the zone name answers c3, same region
        "kube zone -> region %s: 127.0.0.22" % Z,
        "kube region %s: 127.0.0.22" % R,
        # c3 dies too: zone and region names answer c2 (us-east)
        "kube zone -> global %s: 127.0.0.23" % Z,
        "kube region -> global %s: 127.0.0.23" % R,
        # the API is down: the answers stay, the probes still decide
        "kube api down: zone %s: 127.0.0.23" % Z,
        "kube api down: global %s: 127.0.0.23" % G,
        "kube api down: zone %s: 127.0.0.21" % Z,
        "the API comes back: gslbd resumes its watches",
        "kube api back: zone %s: 127.0.0.21" % Z,
    ])
    # the fallback is answered with A records directly, no CNAME hop
    assert "%s. 5 IN A 127.0.0.22" % Z in lines
    assert "%s. 5 IN A 127.0.0.23" % R in lines
    assert "CNAME" not in out
    # gslbctl status: the API is unreachable, the services are still there;
    # then the API is back and gslbd reconnects
    kube = [x for x in lines if x.startswith("kubernetes: ")]
    assert len(kube) == 2, out
    assert kube[0].startswith("kubernetes: not connected, synced, 6 services"), out
    assert kube[1].startswith("kubernetes: connected, synced, 6 services"), out
    for name in (G, R, Z):
        assert "source kube %s." % name in lines, out
    assert "source config portal.example.com." in lines, out

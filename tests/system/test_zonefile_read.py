"""Zone files that are not text files (a directory, /dev/zero, a FIFO, a
file over the size limit, a NUL byte) fail `gslbd -t` at once with the file
and the reason, and a reload to such a config is rejected while the running
config keeps answering and probing and SIGTERM still works."""
import os
import re
import subprocess

import dns.rcode
import pytest

from conftest import gslbd_binary

Z = "global.example.org."

# Bounded: the old reader spun for ever on these files.
CHECK_TIMEOUT = 10

CONFIG = """server:
  workers: 1
zone:
  name: global.example.org
  nameservers:
    - name: ns1
      addresses: [192.0.2.53]
  zone-file: %(zone_file)s
probe-defaults:
  type: %(probe)s
  interval: 200ms
  timeout: 150ms
  jitter: 20ms
  rise: 1
  fall: 2
services:
  - name: www
    policy: all
    endpoints:
      - region: eu
        addresses: [%(addr)s]
%(port)s"""

GOOD_ZONE = 'txt TXT "static"\n'

LIMIT = 16 << 20  # READFILE_MAX


def config(zone_file, probe="none", addr="192.0.2.1", port=None):
    return CONFIG % dict(zone_file=zone_file, probe=probe, addr=addr,
                         port="        probe:\n          port: %d\n" % port
                         if port else "")


def check(tmp_path, zone_file):
    """gslbd -t on a config naming zone_file; (exit status, stderr)."""
    p = tmp_path / "gslbd.yaml"
    p.write_text(config(zone_file).replace("server:\n", "server:\n  listen: [127.0.0.1]\n"))
    try:
        r = subprocess.run([gslbd_binary(), "-t", "-c", str(p)],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=CHECK_TIMEOUT, text=True,
                           cwd=str(tmp_path))
    except subprocess.TimeoutExpired:
        pytest.fail("gslbd -t did not finish within %ds on zone-file %s"
                    % (CHECK_TIMEOUT, zone_file))
    return r.returncode, r.stderr, p


def zone_key_place(cfg_path):
    """FILE:LINE:COL of the zone-file value in the config."""
    with open(cfg_path) as f:
        for i, line in enumerate(f, 1):
            if "zone-file:" in line:
                return "%s:%d:%d" % (cfg_path, i, line.index(":") + 3)
    raise AssertionError("no zone-file line")


@pytest.mark.parametrize("kind", ["directory", "devzero", "fifo", "toolarge"])
def test_check_refuses_non_regular_or_huge_zone_file(tmp_path, kind):
    """-t on a zone file that is a directory, /dev/zero, a FIFO without a writer or a file over the limit exits non-zero at once, naming the config place, the file and the reason."""
    if kind == "directory":
        zf, why = str(tmp_path / "zone.d"), "a directory, not a regular file"
        os.mkdir(zf)
    elif kind == "devzero":
        zf, why = "/dev/zero", "a character device, not a regular file"
    elif kind == "fifo":
        zf, why = str(tmp_path / "zone.fifo"), "a FIFO, not a regular file"
        os.mkfifo(zf)
    else:
        zf, why = str(tmp_path / "huge.zone"), "larger than %d bytes" % LIMIT
        with open(zf, "w") as f:
            f.truncate(LIMIT + 1)  # sparse: costs no disk
    rc, err, cfg_path = check(tmp_path, zf)
    assert rc != 0, err
    line = "%s: zone.zone-file: cannot read zone file '%s': %s" % (
        zone_key_place(cfg_path), zf, why)
    assert line in err, err


def test_check_nul_byte_names_line_and_column(tmp_path):
    """A NUL byte in a zone file is reported as ZONEFILE:LINE:COL."""
    zf = tmp_path / "nul.zone"
    zf.write_bytes(b'a TXT "x"\nb TXT "y\0"\n')
    rc, err, _ = check(tmp_path, str(zf))
    assert rc != 0
    assert "%s:2:9: NUL byte in the file" % zf in err, err


def test_check_config_file_that_is_a_directory(tmp_path):
    """-c naming a directory or /dev/zero fails at once with CONFIG:1:1 and the reason."""
    for path, why in ((str(tmp_path), "a directory"),
                      ("/dev/zero", "a character device")):
        r = subprocess.run([gslbd_binary(), "-t", "-c", path], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=CHECK_TIMEOUT, text=True)
        assert r.returncode != 0
        assert "%s:1:1: %s, not a regular file" % (path, why) in r.stderr, r.stderr


def answers(g):
    m = g.query("www." + Z, "A")
    return sorted(rd.address for rd in m.answer[0]) if m.answer else []


@pytest.mark.parametrize("bad", ["directory", "/dev/zero"])
def test_reload_to_unreadable_zone_file_keeps_serving_and_probing(gslbd, http_backend, bad):
    """A reload to a zone file that is a directory or /dev/zero is rejected with the reason; the old zone keeps answering, probes keep running (a dead backend leaves), SIGTERM exits 0."""
    be = http_backend()
    g = gslbd(config("static.zone", probe="http", addr=be.addr, port=be.port),
              files={"static.zone": GOOD_ZONE})
    g.wait_log(r"health change address=%s .*state=up" % re.escape(be.addr))
    assert answers(g) == [be.addr]
    if bad == "directory":
        os.mkdir(os.path.join(g.dir, "zone.d"))
        bad = os.path.join(g.dir, "zone.d")
    mark = g.log_mark()
    g.write_config(config(bad, probe="http", addr=be.addr, port=be.port))
    g.reload()
    g.wait_log(r"cannot read zone file '%s': a (directory|character device), "
               r"not a regular file" % re.escape(bad), since=mark)
    g.wait_log(r"reload rejected, keeping the running configuration", since=mark)
    assert g.query("txt." + Z, "TXT").answer[0][0].strings == (b"static",)
    # Probing goes on: the backend dies and its health changes (the one
    # endpoint stays in the answers: all down serves all).
    be.stop()
    g.wait_log(r"health change address=%s .*state=down" % re.escape(be.addr),
               since=mark, timeout=5)
    assert g.query("txt." + Z, "TXT").rcode() == dns.rcode.NOERROR
    assert g.stop() == 0, g.log()[-3000:]


def test_symlinked_zone_file_loads(gslbd, tmp_path):
    """A zone file reached through symbolic links (as a Kubernetes ConfigMap mount lays it out) loads."""
    d = tmp_path / "mount"
    (d / "..2024_01_01").mkdir(parents=True)
    (d / "..2024_01_01" / "static.zone").write_text(GOOD_ZONE)
    os.symlink("..2024_01_01", str(d / "..data"))
    os.symlink("..data/static.zone", str(d / "static.zone"))
    g = gslbd(config(str(d / "static.zone")))
    assert g.query("txt." + Z, "TXT").answer[0][0].strings == (b"static",)

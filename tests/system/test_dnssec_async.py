"""Big DNSSEC re-signs run on the signer threads (issue 12): a reload that
changes every signature (a new ZSK) defers while the old snapshot keeps
serving, validated, with health changes still patched into it; the control
API answers meanwhile; further reloads coalesce into one round; POST
/reload answers with the deferred reload's result; the new snapshot then
validates with the new key."""
import json
import os
import re
import subprocess
import threading
import time
import urllib.request

import dns.rdatatype as T

from conftest import wait_for
from fake_kube import fake_kube, kube_certs  # noqa: F401  (fixtures)
from test_dnssec import ZONE, addrs, ds_of, keygen, kube_and_keys, validated, validator  # noqa: F401

WWW = "www." + ZONE
# Each rotation window of a capped `all` answer is an RRset of its own:
# SERVICES x ADDRS RRsets, enough that the pool needs a few seconds.
SERVICES = 4000
ADDRS = 25


def big_config(keylines, a, b):
    out = ["""server:
  workers: 1
zone:
  name: global.example.org
  soa:
    minimum: 60s
  nameservers:
    - name: ns1
      addresses: [192.0.2.53]
probe-defaults:
  type: http
  interval: 200ms
  timeout: 200ms
  jitter: 0ms
  rise: 1
  fall: 1
  path: /
dnssec:
  keys: [%s]
services:
  - name: www
    policy: all
    endpoints:
      - region: a
        addresses: [%s]
        probe: {port: %d}
      - region: b
        addresses: [%s]
        probe: {port: %d}""" % (", ".join(keylines), a.addr, a.port, b.addr, b.port)]
    for i in range(SERVICES):
        ads = ", ".join("10.%d.%d.%d" % (i >> 8, i & 0xff, k + 1) for k in range(ADDRS))
        out.append("  - {name: s%d, policy: all, max-answers: 1, probe: {type: none}, "
                   "endpoints: [{region: a, addresses: [%s]}]}" % (i, ads))
    return "\n".join(out) + "\n"


def rrsig_tags(g, name, rdtype):
    m = g.query(name, rdtype, want_dnssec=True)
    return sorted(rd.key_tag for rr in m.answer if rr.rdtype == T.RRSIG for rd in rr)


def key_tag(base):
    return int(re.search(r"\+(\d+)$", base).group(1))


def post_reload(g, out):
    req = urllib.request.Request(g.control_url + "/reload", data=b"", method="POST")
    t = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            out.append((r.status, json.loads(r.read()), time.monotonic() - t))
    except urllib.error.HTTPError as e:
        out.append((e.code, json.loads(e.read()), time.monotonic() - t))


def gslbctl_reload(g, out):
    exe = os.environ.get("GSLBCTL") or os.path.join(os.path.dirname(
        os.environ["GSLBD"]), "gslbctl")
    r = subprocess.run([exe, "-s", g.control_url, "-T", "120", "reload"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=150)
    out.append((r.returncode, r.stdout))


def healthz_seconds(g):
    t = time.monotonic()
    with urllib.request.urlopen(g.control_url + "/healthz", timeout=30) as r:
        assert r.status == 200
    return time.monotonic() - t


def test_big_resign_runs_beside_the_serving_snapshot(gslbd, validator, http_backend, tmp_path):
    """A reload to a new ZSK (every signature changes) signs on the pool: /healthz answers fast, DO answers come validated from the old snapshot (old ZSK), a backend killed meanwhile leaves the answers; SIGHUP twice, a POST /reload and a gslbctl reload during the batch make one more round; POST /reload and gslbctl reload answer (200, "reload: ok") when it is done; then AD with the new ZSK."""
    d = str(tmp_path / "keys")
    os.makedirs(d)
    ksk = keygen(d, "-a", "ECDSAP256SHA256", "-k")
    zsk = keygen(d, "-a", "ECDSAP256SHA256")
    zsk2 = keygen(d, "-a", "ECDSAP256SHA256")
    a, b = http_backend(), http_backend()
    g = gslbd(big_config([ksk, zsk], a, b), wait=False)
    g.wait_ready(timeout=120)
    assert g.wait_log(r"signing batch started rrsets=\d+ threads=\d+ wait=start-up", 1)
    u = validator(ds_of(ksk), g.addr, g.port)
    wait_for(lambda: addrs(g.query(WWW, "A"), T.A) == sorted([a.addr, b.addr]), 10,
             what="both backends up")
    validated(u, WWW, "A")
    assert rrsig_tags(g, WWW, "A") == [key_tag(zsk)]

    mark = g.log_mark()
    g.write_config(big_config([ksk, zsk2], a, b))
    g.reload()
    m = g.wait_log(r"signing batch started rrsets=(\d+) threads=(\d+) for=reload", 60,
                   since=mark)
    assert int(m.group(1)) >= SERVICES * ADDRS, m.group(0)
    landed = r"signing batch landed"
    # The control API and DNS go on while the pool signs.
    slow = max(healthz_seconds(g) for _ in range(5))
    assert slow < 0.5, slow
    assert g.metric("gslbd_dnssec_signatures_pending") >= SERVICES * ADDRS
    m = validated(u, WWW, "A")
    assert rrsig_tags(g, WWW, "A") == [key_tag(zsk)]
    # More reloads coalesce; POST /reload waits for the outcome.
    queued = "reload queued until signing finishes"
    posted, ctl = [], []
    t = threading.Thread(target=post_reload, args=(g, posted))
    t.start()
    t2 = threading.Thread(target=gslbctl_reload, args=(g, ctl))
    for n in (1, 2, 3, 4):
        if n == 2:
            t2.start()
        elif n > 2:
            g.reload()
        wait_for(lambda: g.log()[mark:].count(queued) >= n, 10, what="queued reload %d" % n)
    # A health change is patched into the old snapshot, signed, meanwhile.
    a.stop()
    wait_for(lambda: addrs(g.query(WWW, "A"), T.A) == [b.addr], 10,
             what="the dead backend to leave the answers")
    m = validated(u, WWW, "A")
    assert addrs(m, T.A) == [b.addr], m
    assert rrsig_tags(g, WWW, "A") == [key_tag(zsk)]
    assert landed not in g.log()[mark:], "the batch landed too early for this test"
    g.wait_log(landed, 120, since=mark)
    t.join(120)
    t2.join(150)
    assert posted and posted[0][0] == 200 and posted[0][1] == {"ok": True}, posted
    assert ctl == [(0, "reload: ok\n")], ctl
    g.wait_log(r"reload done", 60, since=mark)
    log = g.log()[mark:]
    # The first reload was deferred, then run once more for all five.
    assert log.count("reloading config=") == 2, log
    assert log.count(landed) == 1, log
    assert log.count("reload done") == 1, log
    wait_for(lambda: rrsig_tags(g, WWW, "A") == [key_tag(zsk2)], 10,
             what="the new ZSK's signatures")
    m = validated(u, WWW, "A")
    assert addrs(m, T.A) == [b.addr], m
    validated(u, "s17." + ZONE, "A")
    validated(u, "nope." + ZONE, "A", 3)
    assert g.metric("gslbd_dnssec_signatures_pending") == 0
    assert g.metric("gslbd_dnssec_signing_batches_total") == 2


def test_kubernetes_relist_of_many_names_signs_on_the_pool(fake_kube, gslbd, validator, tmp_path):
    """The first Kubernetes list after start-up brings 600 names (200 ServiceDNSRecords; a relist: a new service list): more misses than are signed inline, so the build is deferred (for=relist) while the config's snapshot serves; when the batch lands the relist runs again and every name validates (AD)."""
    import kube_objects as ko
    import dns.rcode
    k = fake_kube(bookmark_interval=0.5)
    k.apply(ko.domain("kubefed", "example.com", "ns1.example.com"))
    k.apply(ko.kubefed_cluster("c1", True, "eu-west", ["eu-west-1a"]))
    n = 200  # x 3 names: global, region, zone
    for i in range(n):
        k.apply(ko.service_dns_record("svc%d" % i, "shop", dns=[
            ko.cluster_dns("c1", ("192.0.2.%d" % (i % 250 + 1),), region="eu-west",
                           zones=["eu-west-1a"])]))
    kubeconfig, ksk, zsk = kube_and_keys(k, tmp_path)
    g = gslbd("""server:
  workers: 1
zone:
  name: example.com
  nameservers:
    - name: ns1
      addresses: [192.0.2.53]
probe-defaults:
  type: none
kubernetes:
  kubeconfig: %s
  timeout: 2s
dnssec:
  keys: [%s, %s]
services:
  - name: www
    endpoints:
      - region: a
        addresses: [192.0.2.80]
""" % (kubeconfig, ksk, zsk))
    m = g.wait_log(r"signing batch started rrsets=(\d+) threads=\d+ for=relist", 30)
    assert int(m.group(1)) > 256, m.group(0)
    g.wait_log(r"signing batch landed rrsets=\d+ failed=0 ms=\d+ rerun=relist", 60)
    last = ko.global_name("svc%d" % (n - 1), "shop")
    wait_for(lambda: addrs(g.query(last, "A"), T.A) == ["192.0.2.%d" % ((n - 1) % 250 + 1)],
             30, what="the Kubernetes names")
    u = validator(ds_of(ksk), g.addr, g.port, zone="example.com.")
    for i in (0, n // 2, n - 1):
        name = ko.global_name("svc%d" % i, "shop")
        assert addrs(validated(u, name, "A"), T.A) == ["192.0.2.%d" % (i % 250 + 1)]
    validated(u, "www.example.com.", "A")
    validated(u, "nope.example.com.", "A", dns.rcode.NXDOMAIN)
    assert g.metric("gslbd_dnssec_signing_batches_total") >= 1


def test_deferred_reload_of_a_broken_config_answers_409(gslbd, http_backend, tmp_path):
    """A reload deferred for signing re-reads the file when the batch lands: if the file broke meanwhile, POST /reload answers 409 with the reason, as an immediate reload would, and the old configuration (old ZSK) keeps serving."""
    d = str(tmp_path / "keys")
    os.makedirs(d)
    ksk = keygen(d, "-a", "ECDSAP256SHA256", "-k")
    zsk = keygen(d, "-a", "ECDSAP256SHA256")
    zsk2 = keygen(d, "-a", "ECDSAP256SHA256")
    a, b = http_backend(), http_backend()
    g = gslbd(big_config([ksk, zsk], a, b), wait=False)
    g.wait_ready(timeout=120)
    mark = g.log_mark()
    g.write_config(big_config([ksk, zsk2], a, b))
    g.reload()
    g.wait_log(r"signing batch started rrsets=\d+ threads=\d+ for=reload", 60, since=mark)
    with open(g.config_path, "a") as f:
        f.write("no-such-key: 1\n")
    posted = []
    t = threading.Thread(target=post_reload, args=(g, posted))
    t.start()
    g.wait_log(r"reload queued until signing finishes", 10, since=mark)
    assert "signing batch landed" not in g.log()[mark:], "the batch landed too early for this test"
    t.join(120)
    assert posted and posted[0][0] == 409 and posted[0][1]["ok"] is False, posted
    assert "rejected" in posted[0][1]["error"], posted
    assert rrsig_tags(g, WWW, "A") == [key_tag(zsk)]
    assert g.metric("gslbd_last_reload_success") == 0

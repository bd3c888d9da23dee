"""The fake Kubernetes API server (fake_kube.py) follows the API's semantics:
auth, list + paging, watch + bookmarks + 410, and its failure controls."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

import kube_objects as ko
from conftest import wait_for
from fake_kube import (ControlServer, KubeClient, fake_kube, kube_certs,  # noqa: F401
                       write_kubeconfig)

SDR = "/apis/multiclusterdns.kubefed.io/v1alpha1/servicednsrecords"
SDR_NS = "/apis/multiclusterdns.kubefed.io/v1alpha1/namespaces/%s/servicednsrecords"
KFC = "/apis/core.kubefed.io/v1beta1/namespaces/kube-federation-system/kubefedclusters"


def client(k, token="fake-token", timeout=5.0):
    return KubeClient("127.0.0.1", k.port, k.certs["ca"], token=token,
                      timeout=timeout)


def svc(name, ns="default", addrs=("192.0.2.1",)):
    return ko.service_dns_record(name, ns, dns=[
        ko.cluster_dns("c1", addrs, region="eu", zones=["eu-a"])])


def test_auth_required(fake_kube):
    """No token or a wrong one is 401 with a Status body; the right one is 200."""
    k = fake_kube()
    c = client(k)
    for tok in (None, "wrong"):
        st, hd, body = c.get(SDR, token=tok)
        assert st == 401
        assert hd["Content-Type"] == "application/json"
        assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {},
                        "status": "Failure", "message": "Unauthorized",
                        "reason": "Unauthorized", "code": 401}
    st, _, body = c.get(SDR)
    assert st == 200 and body["kind"] == "ServiceDNSRecordList"
    k.set_token("rotated")
    assert c.get(SDR)[0] == 401
    assert c.get(SDR, token="rotated")[0] == 200


def test_client_certificate_auth(fake_kube, kube_certs):
    """With client_ca, a client certificate signed by it authenticates without a token."""
    certs = kube_certs
    k2 = fake_kube(client_ca=certs["ca"], token=None)
    c = KubeClient("127.0.0.1", k2.port, certs["ca"], client_cert=certs["client_cert"],
                   client_key=certs["client_key"])
    assert c.get(SDR)[0] == 200
    assert KubeClient("127.0.0.1", k2.port, certs["ca"]).get(SDR)[0] == 401


def test_discovery(fake_kube):
    """/version, /apis and the group/version resource lists are served."""
    c = client(fake_kube())
    st, _, v = c.get("/version")
    assert st == 200 and v["major"] == "1"
    names = {g["name"] for g in c.get("/apis")[2]["groups"]}
    assert {"multiclusterdns.kubefed.io", "core.kubefed.io"} <= names
    rl = c.get("/apis/multiclusterdns.kubefed.io/v1alpha1")[2]
    assert {r["name"] for r in rl["resources"]} == {
        "servicednsrecords", "ingressdnsrecords", "dnsendpoints", "domains"}
    st, _, body = c.get("/apis/nope.io/v1/things")
    assert st == 404 and body["reason"] == "NotFound"


def test_list_and_get(fake_kube):
    """LIST in all namespaces or one, sorted, with metadata set by the server; GET one."""
    k = fake_kube()
    k.apply(svc("b", "ns2"))
    k.apply(svc("a", "ns2"))
    made = k.apply(svc("z", "ns1"))
    assert made["metadata"]["resourceVersion"] == k.resource_version
    c = client(k)
    st, _, body = c.get(SDR)
    assert st == 200
    assert body["apiVersion"] == "multiclusterdns.kubefed.io/v1alpha1"
    assert body["metadata"]["resourceVersion"] == k.resource_version
    assert "continue" not in body["metadata"]
    names = [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in body["items"]]
    assert names == [("ns1", "z"), ("ns2", "a"), ("ns2", "b")]
    for i in body["items"]:
        md = i["metadata"]
        assert md["uid"] and md["creationTimestamp"] and int(md["resourceVersion"]) > 0
        assert i["kind"] == "ServiceDNSRecord"
    body = c.get(SDR_NS % "ns2")[2]
    assert [i["metadata"]["name"] for i in body["items"]] == ["a", "b"]
    st, _, o = c.get(SDR_NS % "ns1" + "/z")
    assert st == 200 and o["metadata"]["name"] == "z"
    st, _, o = c.get(SDR_NS % "ns1" + "/nope")
    assert st == 404 and o["reason"] == "NotFound"


def test_noop_update_keeps_resource_version(fake_kube):
    """An update that changes nothing gets no new resourceVersion (as the real server)."""
    k = fake_kube()
    a = k.apply(svc("a"))
    b = k.apply(svc("a"))
    assert a["metadata"]["resourceVersion"] == b["metadata"]["resourceVersion"]
    c = k.apply(svc("a", addrs=("192.0.2.9",)))
    assert int(c["metadata"]["resourceVersion"]) > int(a["metadata"]["resourceVersion"])
    assert c["metadata"]["uid"] == a["metadata"]["uid"]


def test_paging_consistent_snapshot(fake_kube):
    """limit + continue page through a consistent snapshot at the first page's resourceVersion."""
    k = fake_kube()
    for i in range(7):
        k.apply(svc("s%d" % i))
    c = client(k)
    body = c.get(SDR + "?limit=3")[2]
    rv = body["metadata"]["resourceVersion"]
    assert len(body["items"]) == 3 and body["metadata"]["remainingItemCount"] == 4
    got = [i["metadata"]["name"] for i in body["items"]]
    # changes after the first page do not show in the next pages
    k.delete("servicednsrecords", "default", "s5")
    k.apply(svc("s6", addrs=("198.51.100.1",)))
    k.apply(svc("s7"))
    pages = 1
    while body["metadata"].get("continue"):
        st, _, body = c.get(SDR + "?limit=3&continue=" + body["metadata"]["continue"])
        assert st == 200
        assert body["metadata"]["resourceVersion"] == rv
        got += [i["metadata"]["name"] for i in body["items"]]
        pages += 1
        if body["metadata"].get("continue"):
            assert "remainingItemCount" in body["metadata"]
        else:
            assert body["items"][-1]["status"]["dns"][0]["loadBalancer"] == \
                {"ingress": [{"ip": "192.0.2.1"}]}
    assert pages == 3
    assert got == ["s%d" % i for i in range(7)]


def test_expired_continue_is_410(fake_kube):
    """A continue token older than the compacted history is 410 Expired."""
    k = fake_kube()
    for i in range(4):
        k.apply(svc("s%d" % i))
    c = client(k)
    tok = c.get(SDR + "?limit=2")[2]["metadata"]["continue"]
    k.apply(svc("s9"))
    k.compact()
    st, _, body = c.get(SDR + "?limit=2&continue=" + tok)
    assert st == 410 and body["reason"] == "Expired" and body["code"] == 410
    st, _, body = c.get(SDR + "?limit=2&continue=garbage!")
    assert st == 400


def test_list_resource_version_semantics(fake_kube):
    """resourceVersion=0 ignores limit; Exact lists an old state or 410 once compacted."""
    k = fake_kube()
    for i in range(5):
        k.apply(svc("s%d" % i))
    c = client(k)
    body = c.get(SDR + "?limit=2&resourceVersion=0")[2]
    assert len(body["items"]) == 5 and "continue" not in body["metadata"]
    old = k.resource_version
    k.delete("servicednsrecords", "default", "s0")
    body = c.get(SDR + "?resourceVersion=%s&resourceVersionMatch=Exact" % old)[2]
    assert len(body["items"]) == 5 and body["metadata"]["resourceVersion"] == old
    body = c.get(SDR + "?resourceVersion=%s" % old)[2]  # NotOlderThan: current
    assert len(body["items"]) == 4
    k.compact()
    st, _, body = c.get(SDR + "?resourceVersion=%s&resourceVersionMatch=Exact" % old)
    assert st == 410 and body["reason"] == "Expired"


def test_watch_events_in_order(fake_kube):
    """A watch from a list's resourceVersion streams ADDED, MODIFIED, DELETED in order, chunked."""
    k = fake_kube()
    k.apply(svc("pre"))
    c = client(k)
    rv = c.get(SDR_NS % "default")[2]["metadata"]["resourceVersion"]
    w = c.watch(SDR_NS % "default" + "?watch=1&resourceVersion=%s" % rv)
    try:
        assert w.status == 200
        assert w.headers.get("Transfer-Encoding") == "chunked"
        assert k.wait_watches(1)
        k.apply(svc("a"))
        k.apply(svc("other-ns", "elsewhere"))  # not in this watch's namespace
        k.apply(svc("a", addrs=("192.0.2.2",)))
        k.delete("servicednsrecords", "default", "a")
        evs = w.events(3)
        assert [e["type"] for e in evs] == ["ADDED", "MODIFIED", "DELETED"]
        assert all(e["object"]["metadata"]["name"] == "a" for e in evs)
        rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in evs]
        assert rvs == sorted(rvs) and rvs[0] > int(rv)
        assert evs[2]["object"]["metadata"]["resourceVersion"] == k.resource_version
    finally:
        w.close()


def test_watch_without_resource_version_starts_with_state(fake_kube):
    """A watch without resourceVersion first sends every current object as ADDED."""
    k = fake_kube()
    k.apply(svc("x"))
    k.apply(svc("y"))
    w = client(k).watch(SDR + "?watch=true&timeoutSeconds=1")
    try:
        evs = []
        while True:
            e = w.next()
            if e is None:
                break
            evs.append(e)
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in evs] == \
            [("ADDED", "x"), ("ADDED", "y")]
    finally:
        w.close()


def test_watch_replays_history(fake_kube):
    """A watch from an older resourceVersion replays the events after it."""
    k = fake_kube()
    rv = k.resource_version
    k.apply(svc("a"))
    k.apply(svc("b"))
    k.delete("servicednsrecords", "default", "a")
    w = client(k).watch(SDR + "?watch=1&resourceVersion=%s" % rv)
    try:
        evs = w.events(3)
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in evs] == \
            [("ADDED", "a"), ("ADDED", "b"), ("DELETED", "a")]
    finally:
        w.close()


def test_watch_bookmarks(fake_kube):
    """allowWatchBookmarks=true brings BOOKMARK events with the current resourceVersion only."""
    k = fake_kube(bookmark_interval=0.2)
    k.apply(svc("a"))
    rv = k.resource_version
    c = client(k)
    w = c.watch(SDR + "?watch=1&allowWatchBookmarks=true&resourceVersion=%s" % rv)
    try:
        e = w.next()
        assert e["type"] == "BOOKMARK"
        assert e["object"] == {"kind": "ServiceDNSRecord",
                               "apiVersion": "multiclusterdns.kubefed.io/v1alpha1",
                               "metadata": {"resourceVersion": rv}}
        k.apply(svc("b"))
        while True:
            e = w.next()
            if e["type"] != "BOOKMARK":
                break
        assert e["type"] == "ADDED"
        e = w.next()
        assert e["type"] == "BOOKMARK"
        assert e["object"]["metadata"]["resourceVersion"] == k.resource_version
    finally:
        w.close()
    w = c.watch(SDR + "?watch=1&resourceVersion=%s&timeoutSeconds=1" % k.resource_version)
    try:  # no bookmarks unless asked for
        assert w.next() is None
    finally:
        w.close()


def test_watch_gone_after_compaction(fake_kube):
    """A watch from a compacted resourceVersion gets an ERROR event: Status 410 Expired."""
    k = fake_kube()
    rv = k.resource_version
    k.apply(svc("a"))
    k.compact()
    c = client(k)
    w = c.watch(SDR + "?watch=1&resourceVersion=%s" % rv)
    try:
        assert w.status == 200
        e = w.next()
        assert e["type"] == "ERROR"
        st = e["object"]
        assert st["kind"] == "Status" and st["code"] == 410 and st["reason"] == "Expired"
        assert "too old resource version" in st["message"]
        assert w.next() is None
    finally:
        w.close()
    # from the compaction point on, watching works
    w = c.watch(SDR + "?watch=1&resourceVersion=%s&timeoutSeconds=1" % k.resource_version)
    try:
        assert w.next() is None
    finally:
        w.close()


def test_watch_gone_as_http(fake_kube):
    """With gone_as_http, a compacted watch is an HTTP 410 answer."""
    k = fake_kube(gone_as_http=True)
    rv = k.resource_version
    k.apply(svc("a"))
    k.compact()
    st, _, body = client(k).get(SDR + "?watch=1&resourceVersion=%s" % rv)
    assert st == 410 and body["reason"] == "Expired"


def test_history_window_is_bounded(fake_kube):
    """Only the last `history` events are kept: older watches get 410."""
    k = fake_kube(history=3)
    rv = k.resource_version
    for i in range(5):
        k.apply(svc("s%d" % i))
    w = client(k).watch(SDR + "?watch=1&resourceVersion=%s" % rv)
    try:
        assert w.next()["type"] == "ERROR"
    finally:
        w.close()


def test_watch_timeout_and_close(fake_kube):
    """timeoutSeconds ends the stream cleanly; close_watches and expire_watches end open ones."""
    k = fake_kube()
    c = client(k)
    t = time.monotonic()
    w = c.watch(SDR + "?watch=1&timeoutSeconds=1")
    assert w.next() is None
    assert 0.8 < time.monotonic() - t < 4
    w.close()
    w = c.watch(SDR + "?watch=1&resourceVersion=%s" % k.resource_version)
    assert k.wait_watches(1)
    assert k.close_watches() == 1
    assert w.next() is None
    w.close()
    w = c.watch(SDR + "?watch=1&resourceVersion=%s" % k.resource_version)
    assert k.wait_watches(1)
    k.expire_watches()
    e = w.next()
    assert e["type"] == "ERROR" and e["object"]["code"] == 410
    assert w.next() is None
    w.close()
    wait_for(lambda: k.open_watches() == 0, 5)


def test_label_selector_watch(fake_kube):
    """With a label selector, an object that starts/stops matching is ADDED/DELETED."""
    k = fake_kube()
    c = client(k)
    w = c.watch(SDR + "?watch=1&labelSelector=gslb%%3Don&resourceVersion=%s"
                % k.resource_version)
    try:
        assert k.wait_watches(1)
        o = svc("a")
        k.apply(o)  # not labelled: unseen
        o["metadata"]["labels"] = {"gslb": "on"}
        k.apply(o)
        o["metadata"]["labels"] = {"gslb": "off"}
        k.apply(o)
        assert [e["type"] for e in w.events(2)] == ["ADDED", "DELETED"]
    finally:
        w.close()
    assert len(c.get(SDR + "?labelSelector=gslb%3Doff")[2]["items"]) == 1
    assert len(c.get(SDR + "?labelSelector=gslb%20in%20(x,y)")[2]["items"]) == 0
    assert c.get(SDR + "?labelSelector=%3D%3D%3D")[0] == 400


def test_down_and_up(fake_kube):
    """down() cuts open watches and refuses connections; up() serves the same state on the same port."""
    k = fake_kube()
    k.apply(svc("a"))
    c = client(k, timeout=3)
    port = k.port
    w = c.watch(SDR + "?watch=1&resourceVersion=%s" % k.resource_version)
    assert k.wait_watches(1)
    k.down()
    with pytest.raises(ConnectionError):  # cut, not a clean end
        w.next()
    w.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    assert k.open_watches() == 0
    k.apply(svc("b"))  # changes while down
    k.up()
    assert k.port == port
    body = c.get(SDR)[2]
    assert [i["metadata"]["name"] for i in body["items"]] == ["a", "b"]


def test_latency_failures_forbidden(fake_kube):
    """set_latency delays answers; fail() answers N requests with an error; forbid() is 403, hide() 404."""
    k = fake_kube()
    c = client(k)
    k.set_latency(0.3)
    t = time.monotonic()
    assert c.get(SDR)[0] == 200
    assert time.monotonic() - t >= 0.3
    k.set_latency(0)
    k.fail(500, count=2)
    for _ in range(2):
        st, _, body = c.get(SDR)
        assert st == 500 and body["reason"] == "InternalError"
    assert c.get(SDR)[0] == 200
    k.fail(503)
    st, hd, body = c.get(SDR)
    assert st == 503 and hd.get("Retry-After") == "1"
    k.clear_failures()
    k.forbid("servicednsrecords")
    st, _, body = c.get(SDR)
    assert st == 403 and body["reason"] == "Forbidden" and "cannot list" in body["message"]
    assert c.get(KFC)[0] == 200
    k.clear_failures()
    assert c.get(SDR)[0] == 200
    k.hide("dnsendpoints")
    st, _, body = c.get("/apis/multiclusterdns.kubefed.io/v1alpha1/dnsendpoints")
    assert st == 404 and body["reason"] == "NotFound"
    rl = c.get("/apis/multiclusterdns.kubefed.io/v1alpha1")[2]
    assert "dnsendpoints" not in {r["name"] for r in rl["resources"]}
    k.clear_failures()
    assert c.get("/apis/multiclusterdns.kubefed.io/v1alpha1/dnsendpoints")[0] == 200


def test_keepalive_connection_reuse(fake_kube):
    """Several requests share one HTTP/1.1 connection, errors included."""
    k = fake_kube()
    c = client(k)
    conn = c.conn()
    try:
        for tok in (False, None, False):
            st, _, _ = c.get(SDR, token=tok, conn=conn)
            assert st in (200, 401)
    finally:
        conn.close()
    assert k.state()["requests"] == 3


def test_control_http(fake_kube):
    """The plain-HTTP control endpoint applies objects, reports state and takes the API down/up."""
    k = fake_kube()
    ctl = ControlServer(k)
    base = "http://127.0.0.1:%d" % ctl.port

    def post(op, body=None):
        req = urllib.request.Request(base + "/" + op, data=json.dumps(body or {}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.load(r)
    try:
        r = post("apply", ko.kubefed_cluster("c1", region="eu"))
        assert r["ok"] and r["result"]["metadata"]["resourceVersion"]
        with urllib.request.urlopen(base + "/state", timeout=5) as r:
            st = json.load(r)
        assert st["objects"]["kubefedclusters"] == 1 and st["up"]
        assert post("down")["ok"] and not k.is_up
        assert post("up")["result"] == k.port and k.is_up
        assert post("delete", {"resource": "kubefedclusters",
                               "namespace": "kube-federation-system",
                               "name": "c1"})["result"] is True
        try:
            post("nope")
            raise AssertionError("unknown op accepted")
        except urllib.error.HTTPError as e:
            assert e.code == 400
    finally:
        ctl.stop()


def test_standalone(tmp_path):
    """`fake_kube.py --state-dir D` makes certificates, a kubeconfig and serves until SIGTERM."""
    d = str(tmp_path / "state")
    exe = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_kube.py")
    p = subprocess.Popen([sys.executable, exe, "--state-dir", d, "--token", "T"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        info_path = os.path.join(d, "fake_kube.json")
        wait_for(lambda: os.path.exists(info_path) or p.poll() is not None, 20)
        assert p.poll() is None, p.stdout.read()
        with open(info_path) as f:
            info = json.load(f)
        assert info["pid"] == p.pid
        with open(info["kubeconfig"]) as f:
            kc = f.read()
        assert info["server"] in kc and "token: \"T\"" in kc
        c = KubeClient("127.0.0.1", info["port"], info["ca"], token="T")
        assert c.get(SDR)[0] == 200
        req = urllib.request.Request(
            "http://127.0.0.1:%d/apply" % info["control_port"],
            data=json.dumps(ko.domain()).encode())
        with urllib.request.urlopen(req, timeout=5) as r:
            assert json.load(r)["ok"]
        body = c.get("/apis/multiclusterdns.kubefed.io/v1alpha1/domains")[2]
        assert body["items"][0]["domain"] == "example.com"
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            assert p.wait(10) == 0
        finally:
            if p.poll() is None:
                p.kill()
                p.wait(5)
            p.stdout.close()


def test_kubeconfig_writer(tmp_path, kube_certs):
    """write_kubeconfig writes file paths or embedded base64 data and a current-context."""
    p = write_kubeconfig(str(tmp_path / "kc"), "https://127.0.0.1:1", ca=kube_certs["ca"],
                         token="t", embed=True, extra_contexts=("other",))
    text = open(p).read()
    assert "certificate-authority-data: " in text and "current-context: fake" in text
    assert "- name: other" in text
    p = write_kubeconfig(str(tmp_path / "kc2"), "https://127.0.0.1:1",
                         client_cert=kube_certs["client_cert"],
                         client_key=kube_certs["client_key"], ca=kube_certs["ca"])
    text = open(p).read()
    assert "client-certificate: \"%s\"" % kube_certs["client_cert"] in text

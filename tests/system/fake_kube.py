#!/usr/bin/env python3
"""fake_kube.py -- a fake Kubernetes API server for the KubeFed resources.

Python 3 standard library only.  It follows the API server's semantics
closely enough that a client which works against it should work against a
real cluster, and it lets a test break it on purpose.

Served (HTTPS, HTTP/1.1, keep-alive):

- ``multiclusterdns.kubefed.io/v1alpha1``: ``servicednsrecords``,
  ``ingressdnsrecords``, ``dnsendpoints``, ``domains``; ``core.kubefed.io/v1beta1``:
  ``kubefedclusters``.  All namespaced.  Paths
  ``/apis/G/V/PLURAL`` (every namespace), ``/apis/G/V/namespaces/NS/PLURAL``
  and ``.../PLURAL/NAME`` (get).  Discovery: ``/version``, ``/api``,
  ``/apis``, ``/apis/G``, ``/apis/G/V``; ``/healthz``, ``/livez``,
  ``/readyz``.
- Authentication: ``Authorization: Bearer <token>`` (or a client
  certificate signed by ``client_ca`` when one is given); anything else is
  401 with a ``Status`` body.  Writes over HTTPS are 405: the fake is changed
  through its control interface only.
- One global resourceVersion counter, as etcd's revision: every write bumps
  it; objects get ``metadata.resourceVersion``, ``uid``,
  ``creationTimestamp``, ``generation``.  An update that changes nothing is
  a no-op (no new resourceVersion, no event), as in the real server.
- LIST: ``limit`` + ``continue`` paging with a consistent snapshot (every page
  is served at the first page's resourceVersion, ``remainingItemCount`` on
  all but the last page); a continue token older than the compacted history
  is 410 ``Expired``.  ``resourceVersion=0`` is served "from the cache": the
  whole list, ``limit`` ignored (as the real watch cache does).
  ``resourceVersion=N`` with ``resourceVersionMatch=Exact`` lists the state
  at N (410 when compacted); otherwise N must not be in the future (504
  "Too large resource version" after 3 s, as the real server).
  ``labelSelector`` (=, ==, !=, exists, !exists, in, notin) and
  ``fieldSelector`` on ``metadata.name`` / ``metadata.namespace``.
- WATCH (``watch=1|true``): chunked, one JSON event per line.  Without a
  resourceVersion (or ``0``) the current objects come first as ``ADDED``;
  with ``resourceVersion=N`` the events after N are replayed from a bounded
  history (``history`` events); N older than that is an ``ERROR`` event
  carrying a 410 ``Expired`` Status (or HTTP 410, ``gone_as_http=True``, as
  servers without the watch cache did).  ``allowWatchBookmarks=true`` adds
  ``BOOKMARK`` events every ``bookmark_interval`` s; ``timeoutSeconds`` ends
  the stream cleanly (default ``default_watch_timeout``).  With a label
  selector an object that starts or stops matching is ADDED / DELETED.

Control (in process: the methods of :class:`FakeKube`; or over plain HTTP on
a separate loopback port, see :class:`ControlServer`): ``apply``,
``create``, ``update``, ``delete``, ``compact``, ``down`` / ``up`` (close the
listening socket and every connection; listen again on the same port),
``set_token``, ``set_latency``, ``fail`` (answer N or all requests with an
error code), ``forbid`` (RBAC 403 on a resource), ``hide`` (404: as if its
CRD were not installed), ``close_watches`` (end
every stream cleanly, as a server-side timeout), ``expire_watches`` (an
ERROR 410 into every stream), ``send_raw`` (raw bytes into streams: a
broken event).  ``requests`` records every request.

Standalone::

    python3 fake_kube.py --port 16443 --cert server.pem --key server.key \\
        --token T --state-dir DIR [--control-port 0] [--client-ca ca.pem]

writes ``DIR/fake_kube.json`` (``pid``, ``port``, ``control_port``,
``server``, ``ca``, ``token``); with ``--state-dir`` and no ``--cert`` it
makes a CA and certificates in DIR first (openssl CLI) and a ``kubeconfig``.

Helpers: :func:`make_certs` (openssl CLI: CA, server cert for 127.0.0.1,
client cert), :func:`write_kubeconfig`, :class:`KubeClient` (a small
http.client based API client for tests).  Pytest fixtures ``kube_certs``
(session) and ``fake_kube`` (factory) are defined when pytest is importable;
import them into a test module to use them.
"""
import argparse
import base64
import collections
import copy
import datetime
import gzip
import http.client
import http.server
import json
import os
import queue
import random
import re
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

try:  # fixtures only; the module itself needs the standard library alone
    import pytest
except ImportError:  # pragma: no cover
    pytest = None


# --- resources ----------------------------------------------------------------

class ResourceType:
    def __init__(self, group, version, plural, kind, singular, short=()):
        self.group, self.version, self.plural = group, version, plural
        self.kind, self.singular = kind, singular
        self.short = list(short)
        self.namespaced = True

    @property
    def api_version(self):
        return "%s/%s" % (self.group, self.version)

    @property
    def key(self):
        return (self.group, self.plural)


MCDNS = "multiclusterdns.kubefed.io"
CORE = "core.kubefed.io"

RESOURCES = [
    ResourceType(MCDNS, "v1alpha1", "servicednsrecords", "ServiceDNSRecord",
                 "servicednsrecord"),
    ResourceType(MCDNS, "v1alpha1", "ingressdnsrecords", "IngressDNSRecord",
                 "ingressdnsrecord"),
    ResourceType(MCDNS, "v1alpha1", "dnsendpoints", "DNSEndpoint",
                 "dnsendpoint"),
    ResourceType(MCDNS, "v1alpha1", "domains", "Domain", "domain"),
    ResourceType(CORE, "v1beta1", "kubefedclusters", "KubeFedCluster",
                 "kubefedcluster", ("kfc",)),
]
BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCES}
BY_KIND = {(r.api_version, r.kind): r for r in RESOURCES}
BY_NAME = {}
for _r in RESOURCES:
    BY_NAME[_r.plural] = BY_NAME[_r.kind] = BY_NAME[_r.kind.lower()] = _r


def resource_for(what):
    """A ResourceType from a plural, a kind, or an object."""
    if isinstance(what, ResourceType):
        return what
    if isinstance(what, dict):
        r = BY_KIND.get((what.get("apiVersion"), what.get("kind")))
        if r is None:
            raise ValueError("unknown apiVersion/kind %r/%r"
                             % (what.get("apiVersion"), what.get("kind")))
        return r
    r = BY_NAME.get(what)
    if r is None:
        raise ValueError("unknown resource %r" % (what,))
    return r


# --- Status objects -------------------------------------------------------------

REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden",
           404: "NotFound", 405: "MethodNotAllowed", 409: "AlreadyExists",
           410: "Expired", 422: "Invalid", 429: "TooManyRequests",
           500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout"}


def status_obj(code, message=None, reason=None, details=None):
    s = {"kind": "Status", "apiVersion": "v1", "metadata": {},
         "status": "Failure", "message": message or REASONS.get(code, "Error"),
         "reason": reason or REASONS.get(code, "Unknown"), "code": code}
    if details is not None:
        s["details"] = details
    return s


class ApiError(Exception):
    def __init__(self, code, message=None, reason=None, details=None,
                 headers=None):
        super().__init__(message)
        self.code = code
        self.status = status_obj(code, message, reason, details)
        self.headers = headers or {}


# --- label selectors ------------------------------------------------------------

_SEL_SET = re.compile(r"^\s*([^\s!=,()]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split_selector(s):
    """Split on commas outside parentheses."""
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur)
    return out


def parse_label_selector(s):
    """A predicate on a labels dict; raises ApiError(400) on a bad selector."""
    if not s:
        return lambda labels: True
    reqs = []
    for part in _split_selector(s):
        part = part.strip()
        m = _SEL_SET.match(part)
        if m:
            vals = {v.strip() for v in m.group(3).split(",") if v.strip()}
            k, op = m.group(1), m.group(2)
            if op == "in":
                reqs.append(lambda l, k=k, v=vals: l.get(k) in v)
            else:
                reqs.append(lambda l, k=k, v=vals: l.get(k) not in v)
            continue
        m = re.match(r"^([^\s!=]+)\s*(==|!=|=)\s*([^\s]*)$", part)
        if m:
            k, op, v = m.groups()
            if op == "!=":
                reqs.append(lambda l, k=k, v=v: l.get(k) != v)
            else:
                reqs.append(lambda l, k=k, v=v: k in l and l[k] == v)
            continue
        m = re.match(r"^(!?)([^\s!=,()]+)$", part)
        if m:
            neg, k = m.groups()
            if neg:
                reqs.append(lambda l, k=k: k not in l)
            else:
                reqs.append(lambda l, k=k: k in l)
            continue
        raise ApiError(400, "unable to parse requirement: %r" % part)
    return lambda labels: all(r(labels or {}) for r in reqs)


def parse_field_selector(s):
    if not s:
        return lambda obj: True
    reqs = []
    for part in s.split(","):
        m = re.match(r"^\s*(metadata\.name|metadata\.namespace)\s*(==|!=|=)\s*(\S*)\s*$",
                     part)
        if not m:
            raise ApiError(400, "field label not supported: %s" % part.strip())
        field, op, v = m.groups()
        key = field.split(".")[1]
        if op == "!=":
            reqs.append(lambda o, key=key, v=v: o["metadata"].get(key) != v)
        else:
            reqs.append(lambda o, key=key, v=v: o["metadata"].get(key) == v)
    return lambda obj: all(r(obj) for r in reqs)


# --- the store --------------------------------------------------------------------

Event = collections.namedtuple("Event", "rv type res ns name obj prev")


def _now_ts():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _labels(obj):
    md = obj.get("metadata") if isinstance(obj, dict) else None
    if isinstance(md, dict) and isinstance(md.get("labels"), dict):
        return md["labels"]
    return {}


def _strip_meta(obj):
    o = copy.deepcopy(obj)
    md = o.get("metadata", {})
    for k in ("resourceVersion", "uid", "creationTimestamp", "generation",
              "managedFields"):
        md.pop(k, None)
    return o


class _Watch:
    def __init__(self, res, ns, label_pred, field_pred):
        self.res, self.ns = res, ns
        self.label_pred, self.field_pred = label_pred, field_pred
        self.q = queue.Queue()

    def _match(self, obj):
        if obj is None:
            return False
        return self.label_pred(_labels(obj)) and self.field_pred(obj)

    def translate(self, ev):
        """The (type, object) this watcher sees for a store event, or None."""
        if ev.res is not self.res or (self.ns is not None and ev.ns != self.ns):
            return None
        now, before = self._match(ev.obj), self._match(ev.prev)
        if ev.type == "DELETED":
            return ("DELETED", ev.obj) if before else None
        if ev.type == "ADDED":
            return ("ADDED", ev.obj) if now else None
        if now and before:
            return ("MODIFIED", ev.obj)
        if now:
            return ("ADDED", ev.obj)
        if before:
            return ("DELETED", ev.obj)
        return None


def _event_line(etype, obj):
    return (json.dumps({"type": etype, "object": obj},
                       separators=(",", ":")) + "\n").encode()


class FakeKube:
    """The fake API server.  Start with :meth:`start`; stop with :meth:`stop`.

    Parameters: ``cert``/``key`` (server certificate, required), ``token``
    (accepted bearer token; None: no token accepted unless ``client_ca``),
    ``port`` (0: a free port chosen in 10000-19999, kept across down/up),
    ``client_ca`` (verify client certificates; a verified one authenticates),
    ``require_client_cert``, ``history`` (events kept for watch replay),
    ``bookmark_interval`` (s), ``default_watch_timeout`` (s, when the client
    gives no timeoutSeconds), ``gone_as_http`` (410 as HTTP status instead of
    an ERROR event), ``start_rv``.
    """

    def __init__(self, cert, key, token="fake-token", port=0, client_ca=None,
                 require_client_cert=False, history=1000,
                 bookmark_interval=1.0, default_watch_timeout=1800.0,
                 gone_as_http=False, start_rv=1000, host="127.0.0.1"):
        self.cert, self.key, self.client_ca = cert, key, client_ca
        self.require_client_cert = require_client_cert
        self.host = host
        self.port = port
        self.token = token
        self.history_size = history
        self.bookmark_interval = bookmark_interval
        self.default_watch_timeout = default_watch_timeout
        self.gone_as_http = gone_as_http
        self.latency = 0.0
        self.lock = threading.RLock()
        self.rv = start_rv
        self.floor = start_rv  # watches/lists from rv >= floor can be served
        self.objs = {r.key: {} for r in RESOURCES}
        self.hist = collections.deque()
        self.watches = set()
        self.conns = set()
        self.requests = []
        self.bookmarks = {}  # id of a watch stream -> resourceVersions sent
        self.failures = None  # dict(code, count, watch, list, message)
        self.forbidden = set()
        self.hidden = set()
        self.is_up = False
        self.httpd = None
        self.thread = None
        self.ctx = None

    # -- lifecycle ---------------------------------------------------------

    @property
    def server(self):
        return "https://%s:%d" % (self.host, self.port)

    def _make_ctx(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.cert, self.key)
        ctx.set_alpn_protocols(["http/1.1"])
        if self.client_ca:
            ctx.load_verify_locations(self.client_ca)
            ctx.verify_mode = (ssl.CERT_REQUIRED if self.require_client_cert
                               else ssl.CERT_OPTIONAL)
        return ctx

    def _bind(self):
        if self.port:
            last = None
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                try:
                    return _HTTPServer((self.host, self.port), self)
                except OSError as e:  # e.g. the old socket still closing
                    last = e
                    time.sleep(0.05)
            raise last
        for _ in range(100):
            port = random.randint(10000, 19999)
            try:
                s = _HTTPServer((self.host, port), self)
            except OSError:
                continue
            self.port = port
            return s
        raise RuntimeError("no free port for the fake API server")

    def start(self):
        """Listen (first time or after down()); returns self."""
        with self.lock:
            if self.is_up:
                return self
            self.ctx = self._make_ctx()
            self.httpd = self._bind()
            self.is_up = True
            self.thread = threading.Thread(
                target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                name="fake-kube-%d" % self.port, daemon=True)
            self.thread.start()
        return self

    up = start

    def down(self):
        """Close the listening socket and every open connection (watches too).

        Clients see their streams cut (no terminating chunk) and new
        connections refused until up()."""
        with self.lock:
            if not self.is_up:
                return
            self.is_up = False
            httpd, thread = self.httpd, self.thread
            self.httpd = self.thread = None
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
        with self.lock:
            for w in self.watches:
                w.q.put(("kill", None))
            self.watches.clear()
            conns = list(self.conns)
        for c in conns:
            _kill_socket(c)

    def stop(self):
        self.down()

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()

    # -- control: objects --------------------------------------------------

    def _emit(self, etype, res, ns, name, obj, prev):
        ev = Event(self.rv, etype, res, ns, name, obj, prev)
        self.hist.append(ev)
        while len(self.hist) > self.history_size:
            old = self.hist.popleft()
            self.floor = max(self.floor, old.rv)
        for w in self.watches:
            t = w.translate(ev)
            if t is not None:
                w.q.put(("event", _event_line(*t)))

    def _put(self, obj, mode):
        if not isinstance(obj, dict):
            raise ValueError("an object must be a dict")
        res = resource_for(obj)
        md = obj.get("metadata")
        if not isinstance(md, dict) or not isinstance(md.get("name"), str) \
                or not md["name"]:
            raise ValueError("metadata.name is required")
        obj = copy.deepcopy(obj)
        md = obj["metadata"]
        ns = md.setdefault("namespace", "default")
        name = md["name"]
        with self.lock:
            store = self.objs[res.key]
            prev = store.get((ns, name))
            if prev is None and mode == "update":
                raise KeyError("%s %s/%s not found" % (res.plural, ns, name))
            if prev is not None and mode == "create":
                raise KeyError("%s %s/%s already exists" % (res.plural, ns, name))
            if prev is not None and _strip_meta(prev) == _strip_meta(obj):
                return copy.deepcopy(prev)  # no-op update, as the real server
            self.rv += 1
            md["resourceVersion"] = str(self.rv)
            if prev is None:
                md["uid"] = str(uuid.uuid4())
                md["creationTimestamp"] = _now_ts()
                md["generation"] = 1
            else:
                pm = prev["metadata"]
                md["uid"] = pm["uid"]
                md["creationTimestamp"] = pm["creationTimestamp"]
                g = pm.get("generation", 1)
                md["generation"] = g + (1 if prev.get("spec") != obj.get("spec") else 0)
            store[(ns, name)] = obj
            self._emit("MODIFIED" if prev else "ADDED", res, ns, name,
                       copy.deepcopy(obj), prev)
            return copy.deepcopy(obj)

    def apply(self, obj):
        """Create or update an object; returns the stored copy."""
        return self._put(obj, "apply")

    def create(self, obj):
        return self._put(obj, "create")

    def update(self, obj):
        return self._put(obj, "update")

    def delete(self, resource, namespace, name):
        """Delete (resource: plural, kind or an object); True if it existed."""
        res = resource_for(resource)
        with self.lock:
            prev = self.objs[res.key].pop((namespace, name), None)
            if prev is None:
                return False
            self.rv += 1
            obj = copy.deepcopy(prev)
            obj["metadata"]["resourceVersion"] = str(self.rv)
            self._emit("DELETED", res, namespace, name, obj, prev)
            return True

    def delete_obj(self, obj):
        md = obj["metadata"]
        return self.delete(obj, md.get("namespace", "default"), md["name"])

    def get(self, resource, namespace, name):
        res = resource_for(resource)
        with self.lock:
            o = self.objs[res.key].get((namespace, name))
            return copy.deepcopy(o)

    def objects(self, resource=None):
        with self.lock:
            out = []
            for r in RESOURCES:
                if resource is not None and r is not resource_for(resource):
                    continue
                for k in sorted(self.objs[r.key]):
                    out.append(copy.deepcopy(self.objs[r.key][k]))
            return out

    @property
    def resource_version(self):
        with self.lock:
            return str(self.rv)

    # -- control: failures -------------------------------------------------

    def compact(self, rv=None):
        """Drop watch history up to rv (default: now): older watches and
        continue tokens then get 410 Expired.  Open watches go on."""
        with self.lock:
            rv = self.rv if rv is None else int(rv)
            while self.hist and self.hist[0].rv <= rv:
                self.hist.popleft()
            self.floor = max(self.floor, rv)
            return str(self.floor)

    def close_watches(self):
        """End every open watch stream cleanly (as timeoutSeconds would)."""
        with self.lock:
            for w in self.watches:
                w.q.put(("close", None))
            return len(self.watches)

    def expire_watches(self):
        """Send an ERROR 410 Expired event into every open watch, then end it
        (what the server does to a watcher that fell behind)."""
        with self.lock:
            for w in self.watches:
                w.q.put(("expire", None))
            return len(self.watches)

    def send_raw(self, data, resource=None):
        """Write raw bytes (e.g. a broken event line) into open watches."""
        if isinstance(data, str):
            data = data.encode()
        res = resource_for(resource) if resource is not None else None
        with self.lock:
            n = 0
            for w in self.watches:
                if res is None or w.res is res:
                    w.q.put(("raw", data))
                    n += 1
            return n

    def set_token(self, token):
        with self.lock:
            self.token = token

    def set_latency(self, seconds):
        self.latency = float(seconds)

    def fail(self, code=500, count=None, watch=True, list=True, message=None):
        """Answer the next `count` API requests (None: all, until clear) with
        an error Status of `code`; `watch`/`list` choose which requests."""
        with self.lock:
            self.failures = dict(code=int(code), count=count, watch=watch,
                                 list=list, message=message)

    def clear_failures(self):
        with self.lock:
            self.failures = None
            self.forbidden.clear()
            self.hidden.clear()

    def hide(self, resource, on=True):
        """As if the resource's CRD were not installed: 404 NotFound on its
        paths, and gone from discovery.  Objects are kept for later."""
        res = resource_for(resource)
        with self.lock:
            if on:
                self.hidden.add(res.key)
            else:
                self.hidden.discard(res.key)

    def forbid(self, resource, on=True):
        """RBAC: 403 Forbidden on every request for a resource."""
        res = resource_for(resource)
        with self.lock:
            if on:
                self.forbidden.add(res.key)
            else:
                self.forbidden.discard(res.key)

    # -- observation --------------------------------------------------------

    def open_watches(self, resource=None):
        res = resource_for(resource) if resource is not None else None
        with self.lock:
            return sum(1 for w in self.watches if res is None or w.res is res)

    def wait_watches(self, n=1, resource=None, timeout=10.0):
        """Until at least n watches are open; True, or False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.open_watches(resource) >= n:
                return True
            time.sleep(0.02)
        return False

    def bookmarked_watches(self, rv, times=1):
        """Open watch streams that sent a BOOKMARK at resourceVersion >= rv
        at least `times` times (a second one proves the first was delivered)."""
        with self.lock:
            return sum(1 for w in self.watches
                       if sum(1 for v in self.bookmarks.get(id(w), ()) if v >= rv) >= times)

    def requests_matching(self, path=None, watch=None, status=None):
        with self.lock:
            out = []
            for r in self.requests:
                if path is not None and path not in r["path"]:
                    continue
                if watch is not None and r["watch"] != watch:
                    continue
                if status is not None and r.get("status") != status:
                    continue
                out.append(dict(r))
            return out

    def reset_requests(self):
        with self.lock:
            self.requests = []

    def state(self):
        with self.lock:
            return {"up": self.is_up, "port": self.port,
                    "resourceVersion": str(self.rv), "floor": str(self.floor),
                    "history": len(self.hist), "watches": len(self.watches),
                    "connections": len(self.conns),
                    "requests": len(self.requests),
                    "objects": {r.plural: len(self.objs[r.key]) for r in RESOURCES},
                    "token": self.token, "latency": self.latency,
                    "failures": self.failures,
                    "forbidden": sorted(p for _, p in self.forbidden)}

    # -- request handling -----------------------------------------------------

    def _authenticate(self, h):
        auth = h.headers.get("Authorization", "")
        if self.client_ca:
            try:
                if h.connection.getpeercert():
                    return True
            except (AttributeError, ValueError, OSError):
                pass
        with self.lock:
            token = self.token
        m = re.match(r"^Bearer\s+(\S+)\s*$", auth)
        return bool(m and token is not None and m.group(1) == token)

    def _check_failure(self, is_watch):
        with self.lock:
            f = self.failures
            if not f:
                return
            if (is_watch and not f["watch"]) or (not is_watch and not f["list"]):
                return
            if f["count"] is not None:
                if f["count"] <= 0:
                    self.failures = None
                    return
                f["count"] -= 1
            code, message = f["code"], f["message"]
        headers = {"Retry-After": "1"} if code in (429, 503) else None
        raise ApiError(code, message or {
            500: "Internal error occurred: fake failure",
            503: "the server is currently unable to handle the request",
            429: "too many requests, please try again later",
            504: "the server was unable to return a response in the time allotted",
        }.get(code), headers=headers)

    def handle(self, h, method):
        """Serve one request on handler h (a BaseHTTPRequestHandler)."""
        url = urllib.parse.urlsplit(h.path)
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(
            url.query, keep_blank_values=True).items()}
        is_watch = q.get("watch", "").lower() in ("1", "true")
        rec = {"time": time.time(), "method": method, "path": url.path,
               "query": q, "watch": is_watch, "status": None,
               "user_agent": h.headers.get("User-Agent", "")}
        with self.lock:
            self.requests.append(rec)
        if self.latency:
            time.sleep(self.latency)
        try:
            if not self._authenticate(h):
                raise ApiError(401, "Unauthorized")
            path = url.path.rstrip("/") or "/"
            if path in ("/healthz", "/livez", "/readyz"):
                rec["status"] = 200
                return _send(h, 200, b"ok", "text/plain; charset=utf-8")
            if method not in ("GET", "HEAD"):
                raise ApiError(405, "the fake API server is read-only over "
                               "HTTPS; change it through its control interface")
            self._check_failure(is_watch)
            if self._discovery(h, path, rec):
                return
            res, ns, name = self._route(path)
            if res.key in self.hidden:
                raise ApiError(404, "the server could not find the "
                               "requested resource")
            if res.key in self.forbidden:
                who = "system:serviceaccount:gslbd:gslbd"
                verb = "watch" if is_watch else ("get" if name else "list")
                scope = ("in the namespace \"%s\"" % ns) if ns else "at the cluster scope"
                raise ApiError(403, '%s.%s is forbidden: User "%s" cannot %s '
                               'resource "%s" in API group "%s" %s'
                               % (res.plural, res.group, who, verb, res.plural,
                                  res.group, scope),
                               details={"group": res.group, "kind": res.plural})
            if name is not None:
                obj = self.get(res, ns, name)
                if obj is None:
                    raise ApiError(404, '%s.%s "%s" not found'
                                   % (res.plural, res.group, name),
                                   details={"name": name, "group": res.group,
                                            "kind": res.plural})
                rec["status"] = 200
                return _send_json(h, 200, obj)
            if is_watch:
                return self._watch(h, res, ns, q, rec)
            return self._list(h, res, ns, q, rec)
        except ApiError as e:
            rec["status"] = e.code
            return _send_json(h, e.code, e.status, e.headers)

    def _discovery(self, h, path, rec):
        body = None
        if path == "/version":
            body = {"major": "1", "minor": "27", "gitVersion": "v1.27.0-fake",
                    "gitCommit": "0" * 40, "gitTreeState": "clean",
                    "buildDate": "2024-01-01T00:00:00Z", "goVersion": "go1.20",
                    "compiler": "gc", "platform": "linux/amd64"}
        elif path == "/api":
            body = {"kind": "APIVersions", "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{
                        "clientCIDR": "0.0.0.0/0",
                        "serverAddress": "%s:%d" % (self.host, self.port)}]}
        elif path == "/apis":
            body = {"kind": "APIGroupList", "apiVersion": "v1",
                    "groups": [self._group(g) for g in (MCDNS, CORE)]}
        else:
            parts = path.strip("/").split("/")
            if len(parts) == 2 and parts[0] == "apis" and parts[1] in (MCDNS, CORE):
                body = dict(self._group(parts[1]), kind="APIGroup", apiVersion="v1")
            elif len(parts) == 3 and parts[0] == "apis":
                rs = [r for r in RESOURCES
                      if r.group == parts[1] and r.version == parts[2]
                      and r.key not in self.hidden]
                if rs:
                    body = {"kind": "APIResourceList", "apiVersion": "v1",
                            "groupVersion": "%s/%s" % (parts[1], parts[2]),
                            "resources": [{
                                "name": r.plural, "singularName": r.singular,
                                "namespaced": True, "kind": r.kind,
                                "verbs": ["delete", "deletecollection", "get",
                                          "list", "patch", "create", "update",
                                          "watch"],
                                "shortNames": r.short} for r in rs]}
        if body is None:
            return False
        rec["status"] = 200
        _send_json(h, 200, body)
        return True

    @staticmethod
    def _group(g):
        v = [r.version for r in RESOURCES if r.group == g][0]
        gv = {"groupVersion": "%s/%s" % (g, v), "version": v}
        return {"name": g, "versions": [gv], "preferredVersion": gv}

    @staticmethod
    def _route(path):
        parts = path.strip("/").split("/")
        notfound = ApiError(404, "the server could not find the requested resource")
        if len(parts) < 4 or parts[0] != "apis":
            raise notfound
        g, v, rest = parts[1], parts[2], parts[3:]
        ns = name = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            ns, rest = rest[1], rest[2:]
        if len(rest) == 1:
            plural = rest[0]
        elif len(rest) == 2 and ns is not None:
            plural, name = rest
        else:
            raise notfound
        res = BY_PATH.get((g, v, plural))
        if res is None:
            raise notfound
        return res, ns, name

    # -- list -----------------------------------------------------------------

    def _state_at(self, res, rv):
        """{(ns, name): obj} of a resource as it was at rv (lock held)."""
        if rv < self.floor:
            return None
        state = dict(self.objs[res.key])
        for ev in reversed(self.hist):
            if ev.rv <= rv:
                break
            if ev.res is not res:
                continue
            if ev.type == "ADDED":
                state.pop((ev.ns, ev.name), None)
            else:
                state[(ev.ns, ev.name)] = ev.prev
        return state

    def _wait_rv(self, rv):
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            with self.lock:
                if self.rv >= rv:
                    return
            time.sleep(0.05)
        with self.lock:
            cur = self.rv
        raise ApiError(504, "Too large resource version: %d, current: %d"
                       % (rv, cur), reason="Timeout",
                       details={"causes": [{"reason": "ResourceVersionTooLarge",
                                            "message": "Too large resource version"}],
                                "retryAfterSeconds": 1},
                       headers={"Retry-After": "1"})

    def _list(self, h, res, ns, q, rec):
        label_pred = parse_label_selector(q.get("labelSelector"))
        field_pred = parse_field_selector(q.get("fieldSelector"))
        try:
            limit = int(q.get("limit") or 0)
        except ValueError:
            raise ApiError(400, "invalid limit %r" % q.get("limit"))
        rvq = q.get("resourceVersion", "")
        cont = q.get("continue", "")
        start_key = None
        if cont:
            if rvq not in ("", None):
                raise ApiError(400, "specifying resource version is not "
                               "allowed when using continue")
            try:
                tok = json.loads(base64.b64decode(cont + "=" * (-len(cont) % 4)))
                list_rv, start_key = int(tok["rv"]), tok["start"]
            except Exception:
                raise ApiError(400, "continue key is not valid: incorrect "
                               "encoded start resourceVersion (version "
                               "meta.k8s.io/v1)")
        elif rvq in ("", None, "0"):
            list_rv = None
            if rvq == "0":
                limit = 0  # served from the watch cache: limit ignored
        else:
            try:
                n = int(rvq)
            except ValueError:
                raise ApiError(400, "invalid resource version %r" % rvq)
            if q.get("resourceVersionMatch") == "Exact":
                list_rv = n
            else:
                self._wait_rv(n)
                list_rv = None
        with self.lock:
            if list_rv is None:
                list_rv = self.rv
                state = self.objs[res.key]
            else:
                if list_rv > self.rv:
                    raise ApiError(504, "Too large resource version: %d, current: %d"
                                   % (list_rv, self.rv), reason="Timeout")
                state = self._state_at(res, list_rv)
                if state is None:
                    if cont:
                        raise ApiError(410, "The provided continue parameter is "
                                       "too old to display a consistent list "
                                       "result. You can start a new list "
                                       "without the continue parameter.",
                                       reason="Expired")
                    raise ApiError(410, "The resourceVersion for the provided "
                                   "list is too old.", reason="Expired")
            keys = sorted(k for k in state
                          if (ns is None or k[0] == ns))
            items = [copy.deepcopy(state[k]) for k in keys]
        pairs = [(k, o) for k, o in zip(keys, items)
                 if label_pred(_labels(o)) and field_pred(o)]
        if start_key is not None:
            sk = tuple(start_key)
            pairs = [(k, o) for k, o in pairs if k > sk]
        meta = {"resourceVersion": str(list_rv)}
        if limit > 0 and len(pairs) > limit:
            last = pairs[limit - 1][0]
            meta["continue"] = base64.b64encode(json.dumps(
                {"v": "meta.k8s.io/v1", "rv": list_rv, "start": list(last)},
                separators=(",", ":")).encode()).decode().rstrip("=")
            meta["remainingItemCount"] = len(pairs) - limit
            pairs = pairs[:limit]
        body = {"apiVersion": res.api_version, "kind": res.kind + "List",
                "metadata": meta, "items": [o for _, o in pairs]}
        rec["status"] = 200
        rec["items"] = len(pairs)
        _send_json(h, 200, body)

    # -- watch ----------------------------------------------------------------

    def _watch(self, h, res, ns, q, rec):
        label_pred = parse_label_selector(q.get("labelSelector"))
        field_pred = parse_field_selector(q.get("fieldSelector"))
        bookmarks = q.get("allowWatchBookmarks", "").lower() in ("1", "true")
        try:
            timeout = float(q["timeoutSeconds"]) if q.get("timeoutSeconds") \
                else self.default_watch_timeout
        except ValueError:
            raise ApiError(400, "invalid timeoutSeconds")
        rvq = q.get("resourceVersion", "")
        try:
            since = None if rvq in ("", "0") else int(rvq)
        except ValueError:
            raise ApiError(400, "invalid resource version %r" % rvq)
        w = _Watch(res, ns, label_pred, field_pred)
        initial = []
        gone = None
        with self.lock:
            if since is None:
                for k in sorted(self.objs[res.key]):
                    o = self.objs[res.key][k]
                    if (ns is None or k[0] == ns) and w._match(o):
                        initial.append(_event_line("ADDED", copy.deepcopy(o)))
            elif since < self.floor:
                gone = "too old resource version: %d (%d)" % (since, self.floor)
            else:
                for ev in self.hist:
                    if ev.rv > since:
                        t = w.translate(ev)
                        if t is not None:
                            initial.append(_event_line(*t))
            if gone is None:
                self.watches.add(w)
        if gone and self.gone_as_http:
            raise ApiError(410, gone, reason="Expired")
        rec["status"] = 200
        try:
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Cache-Control", "no-cache, private")
            h.send_header("Audit-Id", str(uuid.uuid4()))
            h.send_header("Transfer-Encoding", "chunked")
            h.end_headers()
            if gone:
                _chunk(h, _event_line("ERROR", status_obj(410, gone, "Expired")))
                _chunk(h, b"")
                return
            for line in initial:
                _chunk(h, line)
            self._stream(h, w, res, bookmarks, timeout)
        except OSError:
            h.close_connection = True
        finally:
            with self.lock:
                self.watches.discard(w)

    def _stream(self, h, w, res, bookmarks, timeout):
        now = time.monotonic()
        deadline = now + timeout
        next_bm = now + self.bookmark_interval if bookmarks else None
        while True:
            now = time.monotonic()
            if now >= deadline:
                break
            until = deadline if next_bm is None else min(deadline, next_bm)
            try:
                kind, data = w.q.get(timeout=max(0.0, min(until - now, 0.25)))
            except queue.Empty:
                if next_bm is not None and time.monotonic() >= next_bm:
                    with self.lock:
                        rv = self.rv if w.q.empty() else None
                    if rv is not None:
                        _chunk(h, _event_line("BOOKMARK", {
                            "kind": res.kind, "apiVersion": res.api_version,
                            "metadata": {"resourceVersion": str(rv)}}))
                        with self.lock:
                            self.bookmarks.setdefault(id(w), []).append(rv)
                    next_bm = time.monotonic() + self.bookmark_interval
                continue
            if kind == "event" or kind == "raw":
                _chunk(h, data)
            elif kind == "close":
                break
            elif kind == "expire":
                with self.lock:
                    msg = "too old resource version: %d (%d)" % (self.floor, self.rv)
                _chunk(h, _event_line("ERROR", status_obj(410, msg, "Expired")))
                break
            elif kind == "kill":
                h.close_connection = True
                return
        _chunk(h, b"")


# --- HTTP plumbing -----------------------------------------------------------------

def _kill_socket(s):
    try:
        socket.socket.shutdown(s, socket.SHUT_RDWR)
    except (OSError, ValueError):
        pass


def _chunk(h, data):
    h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))


def _send(h, code, body, ctype, headers=None):
    gz = False
    if len(body) > 128 * 1024 and "gzip" in h.headers.get("Accept-Encoding", ""):
        body = gzip.compress(body)
        gz = True
    h.send_response(code)
    h.send_header("Content-Type", ctype)
    h.send_header("Cache-Control", "no-cache, private")
    h.send_header("Audit-Id", str(uuid.uuid4()))
    if gz:
        h.send_header("Content-Encoding", "gzip")
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    if h.command != "HEAD":
        h.wfile.write(body)


def _send_json(h, code, obj, headers=None):
    _send(h, code, json.dumps(obj, separators=(",", ":")).encode(),
          "application/json", headers)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120  # idle keep-alive connections

    def version_string(self):
        return "fake-kube-apiserver"

    def _do(self):
        try:
            self.server.api.handle(self, self.command)
        except (OSError, ssl.SSLError):
            self.close_connection = True

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _do

    def log_message(self, *a):
        pass


class _HTTPServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """TLS is negotiated in the connection's own thread, so a slow or broken
    client never blocks accept()."""
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, addr, api):
        self.api = api
        super().__init__(addr, _Handler)

    def server_bind(self):
        # HTTPServer.server_bind would resolve the host name (getfqdn)
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def finish_request(self, request, client_address):
        api = self.api
        with api.lock:
            api.conns.add(request)
        tls = None
        try:
            request.settimeout(10)
            tls = api.ctx.wrap_socket(request, server_side=True)
            tls.settimeout(None)
            with api.lock:
                api.conns.discard(request)
                api.conns.add(tls)
            if not api.is_up:
                return
            _Handler(tls, client_address, self)
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            with api.lock:
                api.conns.discard(request)
                if tls is not None:
                    api.conns.discard(tls)
            for s in (tls, request):
                if s is not None:
                    try:
                        s.close()
                    except OSError:
                        pass

    def shutdown_request(self, request):
        pass  # finish_request closed it

    def handle_error(self, request, client_address):
        pass


# --- control over plain HTTP ---------------------------------------------------------

class ControlServer:
    """Plain-HTTP control endpoint on 127.0.0.1 (for non-Python tests).

    ``GET /state``, ``GET /objects[?resource=PLURAL]``,
    ``GET /requests[?path=...]``; ``POST /OP`` with a JSON body:
    ``apply`` / ``create`` / ``update`` (body: the object, or a list of
    them), ``delete`` ({"resource","namespace","name"}), ``compact``
    ({"rv"}?), ``down``, ``up``, ``set_token`` ({"token"}), ``set_latency``
    ({"seconds"}), ``fail`` ({"code","count","watch","list","message"}),
    ``clear_failures``, ``forbid`` / ``hide`` ({"resource","on"}),
    ``close_watches``,
    ``expire_watches``, ``send_raw`` ({"data","resource"}),
    ``reset_requests``.  Answers ``{"ok": true, "result": ...}`` or 400 with
    ``{"ok": false, "error": "..."}``.
    """

    OPS = ("apply", "create", "update", "delete", "compact", "down", "up",
           "set_token", "set_latency", "fail", "clear_failures", "forbid", "hide",
           "close_watches", "expire_watches", "send_raw", "reset_requests")

    def __init__(self, api, port=0, host="127.0.0.1"):
        ctl = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _reply(self, code, obj):
                b = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(b)))
                self.end_headers()
                self.wfile.write(b)

            def do_GET(self):
                u = urllib.parse.urlsplit(self.path)
                q = {k: v[-1] for k, v in urllib.parse.parse_qs(u.query).items()}
                if u.path == "/state":
                    return self._reply(200, api.state())
                if u.path == "/objects":
                    return self._reply(200, api.objects(q.get("resource")))
                if u.path == "/requests":
                    return self._reply(200, api.requests_matching(q.get("path")))
                self._reply(404, {"ok": False, "error": "no such path"})

            def do_POST(self):
                op = self.path.strip("/")
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                try:
                    body = json.loads(raw) if raw.strip() else {}
                    result = ctl.call(op, body)
                    self._reply(200, {"ok": True, "result": result})
                except Exception as e:  # report, never die
                    self._reply(400, {"ok": False, "error": "%s: %s"
                                      % (type(e).__name__, e)})

            def log_message(self, *a):
                pass

        self.api = api
        self.httpd = http.server.ThreadingHTTPServer((host, port), H)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def call(self, op, body):
        if op not in self.OPS:
            raise ValueError("unknown operation %r" % op)
        fn = getattr(self.api, op)
        if op in ("apply", "create", "update"):
            if isinstance(body, list):
                return [fn(o) for o in body]
            return fn(body.get("object", body))
        if op == "up":
            fn()
            return self.api.port
        return fn(**body)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


# --- certificates and kubeconfig ---------------------------------------------------------

def _openssl(*args, cwd=None):
    r = subprocess.run(["openssl"] + list(args), cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30, text=True)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed:\n%s" % (" ".join(args), r.stdout))


def make_certs(d, client=True, days=2):
    """A CA, a server certificate for 127.0.0.1 (SAN IP:127.0.0.1 and
    DNS:localhost) and, with client=True, a client certificate (CN gslbd,
    clientAuth), all with EC P-256 keys, in directory d.  Returns a dict of
    paths: ca, ca_key, cert, key, client_cert, client_key."""
    os.makedirs(d, exist_ok=True)
    p = lambda n: os.path.join(d, n)  # noqa: E731
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", p("ca.key"), "-out", p("ca.pem"),
             "-days", str(days), "-subj", "/CN=fake-kube-ca",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    def leaf(name, cn, ext):
        with open(p(name + ".ext"), "w") as f:
            f.write(ext)
        _openssl("req", "-new", *ec, "-keyout", p(name + ".key"),
                 "-out", p(name + ".csr"), "-subj", cn)
        _openssl("x509", "-req", "-in", p(name + ".csr"), "-CA", p("ca.pem"),
                 "-CAkey", p("ca.key"), "-CAcreateserial", "-out", p(name + ".pem"),
                 "-days", str(days), "-extfile", p(name + ".ext"))

    leaf("server", "/CN=kube-apiserver",
         "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
         "extendedKeyUsage=serverAuth\n"
         "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n")
    out = {"ca": p("ca.pem"), "ca_key": p("ca.key"), "cert": p("server.pem"),
           "key": p("server.key"), "dir": d}
    if client:
        leaf("client", "/O=system:masters/CN=gslbd",
             "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
             "extendedKeyUsage=clientAuth\n")
        out.update(client_cert=p("client.pem"), client_key=p("client.key"))
    return out


def _q(s):
    return json.dumps(s)  # a JSON string is a valid YAML double-quoted scalar


def write_kubeconfig(path, server, ca=None, token=None, client_cert=None,
                     client_key=None, token_file=None, context="fake",
                     cluster="fake-cluster", user="gslbd", namespace=None,
                     embed=False, insecure=False, extra_contexts=()):
    """Write a kubeconfig for one cluster/user/context (current-context).

    embed=True puts certificate-authority-data / client-*-data (base64)
    instead of file paths.  extra_contexts: names of further contexts on
    the same cluster whose user has the token "wrong-token" (to test
    `context:`)."""
    def b64(f):
        with open(f, "rb") as fh:
            return base64.b64encode(fh.read()).decode()
    lines = ["apiVersion: v1", "kind: Config", "preferences: {}", "clusters:",
             "- name: %s" % cluster, "  cluster:", "    server: %s" % _q(server)]
    if ca:
        if embed:
            lines.append("    certificate-authority-data: %s" % b64(ca))
        else:
            lines.append("    certificate-authority: %s" % _q(ca))
    if insecure:
        lines.append("    insecure-skip-tls-verify: true")
    lines += ["users:", "- name: %s" % user, "  user:"]
    u = []
    if token:
        u.append("    token: %s" % _q(token))
    if token_file:
        u.append("    tokenFile: %s" % _q(token_file))
    if client_cert:
        u.append("    client-certificate%s: %s" % (
            ("-data", b64(client_cert)) if embed else ("", _q(client_cert))))
    if client_key:
        u.append("    client-key%s: %s" % (
            ("-data", b64(client_key)) if embed else ("", _q(client_key))))
    lines += u or ["    {}"]
    for x in extra_contexts:
        lines += ["- name: %s-user" % x, "  user:", "    token: \"wrong-token\""]
    lines += ["contexts:", "- name: %s" % context, "  context:",
              "    cluster: %s" % cluster, "    user: %s" % user]
    if namespace:
        lines.append("    namespace: %s" % namespace)
    for x in extra_contexts:
        lines += ["- name: %s" % x, "  context:", "    cluster: %s" % cluster,
                  "    user: %s-user" % x]
    lines += ["current-context: %s" % context, ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path


# --- a small client for tests ---------------------------------------------------------------

class KubeClient:
    """http.client against the fake (or any) API server; bounded timeouts."""

    def __init__(self, host, port, ca, token=None, timeout=5.0,
                 client_cert=None, client_key=None):
        self.host, self.port, self.token, self.timeout = host, port, token, timeout
        self.ctx = ssl.create_default_context(cafile=ca)
        if client_cert:
            self.ctx.load_cert_chain(client_cert, client_key)

    def conn(self, timeout=None):
        return http.client.HTTPSConnection(self.host, self.port, context=self.ctx,
                                           timeout=timeout or self.timeout)

    def _headers(self, token):
        t = self.token if token is False else token
        hd = {"Accept": "application/json"}
        if t:
            hd["Authorization"] = "Bearer %s" % t
        return hd

    def get(self, path, token=False, conn=None):
        """(status, headers dict, parsed JSON or text)."""
        c = conn or self.conn()
        try:
            c.request("GET", path, headers=self._headers(token))
            r = c.getresponse()
            body = r.read()
            if r.getheader("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            try:
                data = json.loads(body)
            except ValueError:
                data = body.decode("utf-8", "replace")
            return r.status, dict(r.getheaders()), data
        finally:
            if conn is None:
                c.close()

    def watch(self, path, token=False, timeout=None):
        """Open a watch; returns a :class:`WatchStream`."""
        c = self.conn(timeout)
        c.request("GET", path, headers=self._headers(token))
        r = c.getresponse()
        return WatchStream(c, r)


class WatchStream:
    """Reads the chunked body itself, so that a stream cut before its
    terminating chunk (an outage) is told apart from a clean end."""

    def __init__(self, conn, resp):
        self.conn, self.resp = conn, resp
        self.status = resp.status
        self.headers = dict(resp.getheaders())
        self.fp = resp.fp
        self.buf = b""
        self.ended = False
        self.chunked = resp.chunked
        if not self.chunked:  # an error answer: the whole body at once
            self.buf = resp.read()
            self.ended = True

    def _chunk(self):
        line = self.fp.readline(65537)
        if not line:
            raise ConnectionError("watch stream cut (no terminating chunk)")
        size = int(line.split(b";")[0].strip() or b"x", 16)
        if size == 0:
            self.fp.readline()
            self.ended = True
            return
        data = self.fp.read(size + 2)
        if len(data) < size + 2:
            raise ConnectionError("watch stream cut inside a chunk")
        self.buf += data[:size]

    def next(self):
        """The next event (dict), or None at the clean end of the stream.
        Raises ConnectionError when the stream is cut, socket.timeout when
        nothing comes within the connection timeout."""
        while b"\n" not in self.buf and not self.ended:
            self._chunk()
        if b"\n" not in self.buf:
            if self.buf.strip():
                line, self.buf = self.buf, b""
                return json.loads(line)
            return None
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def events(self, n):
        out = []
        for _ in range(n):
            ev = self.next()
            if ev is None:
                break
            out.append(ev)
        return out

    def close(self):
        try:
            self.conn.sock and self.conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.conn.close()


# --- pytest fixtures -------------------------------------------------------------------------

if pytest is not None:
    @pytest.fixture(scope="session")
    def kube_certs(tmp_path_factory):
        """CA, server and client certificates (made once per session)."""
        return make_certs(str(tmp_path_factory.mktemp("kube-certs")))

    @pytest.fixture
    def fake_kube(kube_certs):
        """Factory: fake_kube(**FakeKube kwargs) -> a started FakeKube
        (token "fake-token" unless given); each is stopped at teardown."""
        made = []

        def make(**kw):
            kw.setdefault("cert", kube_certs["cert"])
            kw.setdefault("key", kube_certs["key"])
            k = FakeKube(**kw).start()
            k.certs = kube_certs
            made.append(k)
            return k
        yield make
        for k in made:
            k.stop()


# --- standalone ------------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--client-ca")
    ap.add_argument("--token", default="fake-token")
    ap.add_argument("--state-dir")
    ap.add_argument("--control-port", type=int, default=0)
    ap.add_argument("--history", type=int, default=1000)
    ap.add_argument("--bookmark-interval", type=float, default=1.0)
    ap.add_argument("--gone-as-http", action="store_true")
    ap.add_argument("--objects", help="JSON file: a list of objects to create")
    a = ap.parse_args(argv)
    ca = a.client_ca
    if not a.cert:
        if not a.state_dir:
            ap.error("--cert/--key or --state-dir (to make certificates) required")
        certs = make_certs(os.path.join(a.state_dir, "certs"))
        a.cert, a.key, server_ca = certs["cert"], certs["key"], certs["ca"]
    else:
        server_ca = None
    api = FakeKube(a.cert, a.key, token=a.token, port=a.port, client_ca=ca,
                   history=a.history, bookmark_interval=a.bookmark_interval,
                   gone_as_http=a.gone_as_http).start()
    if a.objects:
        with open(a.objects) as f:
            for o in json.load(f):
                api.apply(o)
    ctl = ControlServer(api, a.control_port)
    info = {"pid": os.getpid(), "port": api.port, "control_port": ctl.port,
            "server": api.server, "token": a.token, "ca": server_ca}
    if a.state_dir:
        os.makedirs(a.state_dir, exist_ok=True)
        if server_ca:
            info["kubeconfig"] = write_kubeconfig(
                os.path.join(a.state_dir, "kubeconfig"), api.server, ca=server_ca,
                token=a.token)
        tmp = os.path.join(a.state_dir, "fake_kube.json.tmp")
        with open(tmp, "w") as f:
            json.dump(info, f)
        os.rename(tmp, os.path.join(a.state_dir, "fake_kube.json"))
    print(json.dumps(info), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *x: stop.set())
    signal.signal(signal.SIGINT, lambda *x: stop.set())
    while not stop.wait(0.5):
        pass
    ctl.stop()
    api.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

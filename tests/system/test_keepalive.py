"""HTTP probes with `keepalive: true` (issue 13): a healthy target's runs
reuse one connection, a new one is opened at least every 10 runs, and a
server that stops accepting new connections (while its old ones still
answer) is still seen going down.  Without the key every run is a new
connection.  The backends count connections and requests (HTTP/1.1, so a
connection can carry many requests)."""
import re

from conftest import wait_for
from test_targets import backends, wait_answers  # noqa: F401

INTERVAL = 0.2          # probe interval, s
FRESH = 10              # PROBE_KEEPALIVE_FRESH: a new connection this often
WINDOW = 4.0            # s: about 20 runs


def config(ka, plain):
    return """server:
  workers: 1
zone:
  name: ka.test
  nameservers:
    - name: ns1
      addresses: [192.0.2.53]
probe-defaults:
  type: http
  path: /healthz
  interval: 200ms
  timeout: 150ms
  jitter: 0ms
services:
  - name: kept
    probe: { port: %d, keepalive: true }
    endpoints:
      - region: a
        addresses: [%s]
  - name: fresh
    probe: { port: %d }
    endpoints:
      - region: a
        addresses: [%s]
""" % (ka.port, ka.addr, plain.port, plain.addr)


def test_keepalive_reuses_connections_and_still_sees_a_closed_listener(gslbd, backends):  # noqa: F811
    """keepalive reuses the connection (a new one every 10 runs); a server that stops accepting still goes down."""
    (ka,) = backends(1, "HTTP/1.1")
    (plain,) = backends(1, "HTTP/1.1")
    g = gslbd(config(ka, plain))
    wait_answers(g, {"kept.ka.test": {ka.addr}, "fresh.ka.test": {plain.addr}}, 10)
    wait_for(lambda: ka.reqs_in(0, float("inf")) >= 3
             and plain.reqs_in(0, float("inf")) >= 3, 5, what="probes running")
    t0 = ka.reqs[-1][0]
    wait_for(lambda: ka.reqs_in(t0, float("inf")) >= 2 * FRESH, 3 * WINDOW,
             what="%d kept-alive runs" % (2 * FRESH))
    t1 = ka.reqs[-1][0] + 1e-6
    reqs, conns = ka.reqs_in(t0, t1), ka.conns_in(t0, t1)
    assert conns <= reqs // FRESH + 2, \
        "keepalive: %d connections for %d runs" % (conns, reqs)
    assert conns >= reqs // FRESH - 1, \
        "keepalive: only %d new connections in %d runs (one every %d wanted)" \
        % (conns, reqs, FRESH)
    preqs, pconns = plain.reqs_in(t0, t1), plain.conns_in(t0, t1)
    assert preqs >= FRESH and pconns >= preqs - 1, \
        "without keepalive every run connects: %d connections, %d runs" % (pconns, preqs)

    # The listener goes, the kept connection stays and keeps answering:
    # the next fresh connection is refused, and the address leaves.
    ka.server.shutdown()
    ka.server.server_close()
    t_stop = ka.reqs[-1][0]
    wait_answers(g, {"kept.ka.test": {ka.addr}}, 1)   # fail-open: still itself
    wait_for(lambda: re.search(r"health change address=%s port=%d type=http "
                               r"host=\S+ state=down reason=refused"
                               % (re.escape(ka.addr), ka.port), g.log()),
             (FRESH + 4) * INTERVAL + 3, what="the closed listener seen")
    assert ka.reqs_in(t_stop, float("inf")) <= FRESH + 1, \
        "runs went on over the old connection for too long"

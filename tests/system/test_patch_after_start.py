"""The first health change after start-up (or after a reload) patches the
snapshot that went live with the new service list instead of rebuilding
it: that snapshot was compiled against the very health the probes then
started from, so nothing it misses needs a full build.  At 100,000 signed
names a full build costs seconds; a patch re-signs one service."""
import re

from test_probes import backend_ep, config, svc, wait_answer

PUBLISHED = re.compile(r"snapshot published generation=(\d+) .*arenas=(\d+)")


def published(g, since=0):
    return [(int(a), int(b)) for a, b in PUBLISHED.findall(g.log()[since:])]


def next_build(g, since, what):
    """The arena count of the first snapshot published after offset since."""
    g.wait_log(r"snapshot published generation=", since=since, timeout=10)
    new = published(g, since)
    # A patch adds an arena to the one a full build has.
    assert new[0][1] >= 2, ("%s: a full build (arenas=1) instead of a patch: "
                            "%s\n%s" % (what, new, g.log()[-3000:]))


def test_first_health_change_is_a_patch(gslbd, http_backend):
    a, b, c = http_backend(), http_backend(), http_backend()
    cfg = config(svc("www", [backend_ep("eu", a), backend_ep("us", b)]),
                 svc("api", [backend_ep("eu", a)]))
    g = gslbd(cfg, args=("-l", "debug"), wait=False)
    g.wait_log(r"snapshot published generation=1 ", timeout=10)
    start = g.log().index("snapshot published generation=1 ")
    # The probes' first verdicts (unknown -> up) are the first changes.
    g.wait_log(r"health change address=%s " % re.escape(a.addr), timeout=10)
    next_build(g, start + 1, "the first health change after start-up")
    g.wait_ready()
    wait_answer(g, {a.addr, b.addr})

    # After a reload that brings a new target: its first verdict.
    mark = g.log_mark()
    g.write_config(cfg + svc("mail", [backend_ep("eu", c)]))
    g.reload()
    g.wait_log(r"reload done services=3", since=mark)
    at = mark + g.log()[mark:].index("reload done")
    g.wait_log(r"health change address=%s " % re.escape(c.addr), since=at,
               timeout=10)
    next_build(g, at, "the first health change after a reload")
    wait_answer(g, {c.addr}, name="mail")

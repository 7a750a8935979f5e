#!/usr/bin/env python3
"""horloged keeps its own time from upstream servers: three `chronyd -x` servers (stratum 1 on
127.0.0.21-23) and one serving time 0.3 s ahead (fakentp on 127.0.0.24). horloged marks the
shifted one a falseticker and selects a chronyd; it serves stratum 2 with that chronyd's
address as refid, its offset stays small, and a chronyd client of horloged selects it."""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import (NOCLOCK, FakeNtp, Server, Skip, check, check_server_reply, chronyd_upstream,
                    free_port, horloge_json, note, query, run, sources_by_addr, wait_until)

TRUE = ["127.0.0.21", "127.0.0.22", "127.0.0.23"]
LIAR = "127.0.0.24"
SHIFT = 0.3
POLL = "iburst minpoll 0 maxpoll 2"


def refid_of(addr):
    a = [int(x) for x in addr.split(".")]
    return (a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3]


def falseticker_marked(ctx, sock):
    srcs = sources_by_addr(ctx, sock)
    if len(srcs) != 4 or srcs.get(LIAR, {}).get("state") != "falseticker":
        return None
    states = [srcs[a].get("state") for a in TRUE]
    if "selected" not in states or any(s not in ("selected", "candidate") for s in states):
        return None
    return srcs


def check_status(ctx, sock):
    st = horloge_json(ctx, sock, "status")
    check(st.get("stratum") == 2, "status stratum: %r" % st)
    check(st.get("source_kind") == "ntp", "status source_kind: %r" % st)
    refids = ["0x%08X" % refid_of(a) for a in TRUE]
    check(st.get("reference_id") in refids, "status reference_id %r not one of %s"
          % (st.get("reference_id"), refids))
    check(st.get("reference_id_text") in TRUE and st.get("source") == st.get("reference_id_text"),
          "status reference_id_text/source: %r" % st)
    return st


def chronyd_client(ctx, port):
    """A chronyd client of horloged; returns its `chronyc sources` line once it selects us."""
    sock = ctx.path("client.sock")
    conf = ctx.path("client.conf")
    with open(conf, "w") as f:
        f.write("server 127.0.0.1 port %d iburst minpoll 0 maxpoll 1\n"
                "port 0\ncmdport 0\nbindcmdaddress %s\npidfile %s\n"
                % (port, sock, ctx.path("client.pid")))
    client = ctx.spawn(NOCLOCK + ["chronyd", "-x", "-d", "-f", conf], "client.log")
    seen = [""]

    def selected():
        check(client.poll() is None, "chronyd client exited:\n" + ctx.read("client.log"))
        if not os.path.exists(sock):
            return None
        r = subprocess.run(["chronyc", "-h", sock, "-n", "sources"], capture_output=True,
                           text=True, timeout=10)
        for l in r.stdout.splitlines():
            if "127.0.0.1" in l:
                seen[0] = l
        return seen[0] if seen[0].startswith("^*") else None
    try:
        line, secs = wait_until(ctx, 20, selected, "chronyd client selecting horloged")
    except Exception:
        note("last chronyc line: %r\n%s" % (seen[0], ctx.read("client.log")[-2000:]))
        raise
    return line, secs


def test(ctx):
    ctx.need_horloged("upstream sources")
    if os.geteuid() != 0:
        raise Skip("chronyd upstreams need root (they drop to _chrony)")
    up_port = free_port(TRUE + [LIAR])
    for i, addr in enumerate(TRUE):
        chronyd_upstream(ctx, addr, up_port, "up%d" % (i + 1))
    FakeNtp(ctx, LIAR, up_port, "liar", "--shift", SHIFT)
    lines = ["server %s port %d %s" % (a, up_port, POLL) for a in TRUE + [LIAR]]
    srv = Server(ctx, lines)
    t0 = time.time()
    srv.start()

    srcs, secs = wait_until(ctx, 20, lambda: falseticker_marked(ctx, srv.sock),
                            "the shifted server marked falseticker, a chronyd selected")
    note("falseticker marked and a chronyd selected %.1f s after start" % (time.time() - t0))
    for a in TRUE + [LIAR]:
        r = srcs[a]
        note("%-11s %-11s stratum %s poll %s reach %s last_offset %s"
             % (a, r.get("state"), r.get("stratum"), r.get("poll"), r.get("reach"),
                r.get("last_offset")))
    liar_off = srcs[LIAR].get("last_offset")
    check(isinstance(liar_off, float) and abs(liar_off - SHIFT) < 0.02,
          "the shifted server's offset %r is not about %.1f s" % (liar_off, SHIFT))
    for a in TRUE:
        check(srcs[a].get("stratum") == 1, "%s stratum: %r" % (a, srcs[a]))
        off = srcs[a].get("last_offset")
        check(isinstance(off, float) and abs(off) < 0.01, "%s offset: %r" % (a, srcs[a]))

    st, _ = wait_until(ctx, 10, lambda: horloge_json(ctx, srv.sock, "status").get("stratum") == 2,
                       "status at stratum 2")
    st = check_status(ctx, srv.sock)
    note("status: stratum %s, reference %s (%s), %s, mode %s"
         % (st["stratum"], st["reference_id"], st["reference_id_text"], st["source_kind"],
            st.get("reference_mode")))
    tr = horloge_json(ctx, srv.sock, "tracking")
    off = tr.get("system_time_offset")
    check(isinstance(off, (int, float)) and abs(off) < 0.01,
          "tracking system_time_offset %r (the liar pulled us?)" % off)
    check(tr.get("clock_control") == "off", "tracking says the clock is controlled: %r" % tr)
    note("tracking: system_time_offset %s, rms_offset %s, frequency %s ppm, skew %s ppm"
         % (off, tr.get("rms_offset"), tr.get("frequency_ppm"), tr.get("skew_ppm")))

    # What a client gets on the wire: stratum 2, the selected chronyd's address as refid, our time.
    def wire_matches_status():
        rep, req, ta, tb = query(srv.port, timeout=1.0 * ctx.slow)
        ref = horloge_json(ctx, srv.sock, "status").get("reference_id_text")
        if rep is None or ".".join(str(b) for b in rep.refid) != ref:
            return None
        return rep, req, ta, tb
    (rep, req, ta, tb), _ = wait_until(ctx, 5, wire_matches_status,
                                       "a reply whose refid is the status's reference")
    check_server_reply(rep, req, ta, tb, tol=0.01)
    check(rep.li == 0 and rep.stratum == 2, "reply LI %d stratum %d" % (rep.li, rep.stratum))
    addr = ".".join(str(b) for b in rep.refid)
    check(addr in TRUE, "reply refid %s is not a chronyd's address" % addr)
    check(0 < rep.root_delay < 0.01 and 0 < rep.root_disp < 0.1,
          "root delay and dispersion must be small but not 0 at stratum 2: %r" % rep)
    note("reply: %r refid %s" % (rep, addr))

    line, secs = chronyd_client(ctx, srv.port)
    fields = line.split()
    check(fields[2] == "2", "chronyc shows horloged at stratum %s: %r" % (fields[2], line))
    note("chronyd client selected horloged after %.1f s: %s" % (secs, line))
    m = re.search(r"\[\s*([-+]?[0-9.]+)(ns|us|ms|s)\]", line)
    if m:
        scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[m.group(2)]
        check(abs(float(m.group(1)) * scale) < 0.01, "chronyd measures horloged off: %r" % line)
    # For a few more seconds (more samples from all four): the liar is never trusted.
    states = set()
    t_end = time.time() + 5.0
    while time.time() < t_end:
        srcs = sources_by_addr(ctx, srv.sock)
        states.add(srcs[LIAR].get("state"))
        time.sleep(0.25)
    check(states == {"falseticker"}, "the shifted server was also %r" % states)
    tr = horloge_json(ctx, srv.sock, "tracking")
    off = tr.get("system_time_offset")
    check(isinstance(off, (int, float)) and abs(off) < 0.01, "tracking at the end: %r" % tr)
    note("at the end (%.1f s): system_time_offset %s, rms_offset %s, frequency %s ppm, "
         "skew %s ppm, poll %s" % (time.time() - t0, off, tr.get("rms_offset"),
                                   tr.get("frequency_ppm"), tr.get("skew_ppm"),
                                   {a: srcs[a].get("poll") for a in TRUE}))


if __name__ == "__main__":
    run("upstream-falseticker", test)

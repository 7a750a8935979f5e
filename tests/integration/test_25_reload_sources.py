#!/usr/bin/env python3
"""SIGHUP applies `server` lines and `minsources`. horloged starts with upstream A (a `chronyd -x`
at stratum 1 on 127.0.0.51) and selects it. A reload to A + B (127.0.0.52) adds B, which gets
reach, while A keeps its association untouched: its reach register keeps its bits, its request
and sample counts go on, the reference stays synchronised throughout. A reload to B alone drops
A: it leaves `horloge sources`, its socket is closed (A's chronyd, asked by chronyc, receives no
more requests) and B is selected. `minsources 2` by reload with one source takes the reference to
holdover (the source: not-enough), and a `refclock` line added is named in the restart warning.
A bad configuration at the end changes nothing."""
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import (Server, Skip, check, chronyd_upstream, free_port, horloge_json, note, run,
                    sources_by_addr, reach_of, wait_until)

A = "127.0.0.51"
B = "127.0.0.52"
POLL = "iburst minpoll -1 maxpoll 0"


def bits(reach):
    return bin(reach).count("1")


def packets_received(ctx, up):
    """`NTP packets received` of a chronyd upstream, from `chronyc serverstats`."""
    r = subprocess.run(["chronyc", "-h", up.sock, "serverstats"], capture_output=True, text=True,
                       timeout=10 * ctx.slow)
    m = re.search(r"NTP packets received\s*:\s*(\d+)", r.stdout)
    check(m is not None, "chronyc serverstats on %s: %r %r" % (up.name, r.stdout, r.stderr))
    return int(m.group(1))


def stats_of(ctx, srv, addr):
    recs = horloge_json(ctx, srv.sock, "sourcestats").get("sources", [])
    for r in recs:
        if str(r.get("address", "")).startswith(addr + ":"):
            return r
    return None


def reload_with(ctx, srv, lines, summary):
    """Writes the configuration, sends SIGHUP and waits for the reload's summary in the log."""
    mark = len(srv.log())
    srv.write_conf(lines)
    srv.signal(signal.SIGHUP)
    wait_until(ctx, 5, lambda: summary in srv.log()[mark:], "`%s` logged" % summary)
    return srv.log()[mark:]


def check_a_kept(ctx, srv, lines, a_before):
    """The reload to A + B: B appears and gets reach; A is never reset and tracking goes on."""
    t0 = time.time()
    log = reload_with(ctx, srv, lines, "reload: 1 source added, 0 removed, 1 kept")
    check("reload: server %s port" % B in log and " added" in log, "no `added` line:\n" + log)
    a = sources_by_addr(ctx, srv.sock)[A]
    a_stats = stats_of(ctx, srv, A)
    note("right after the reload: A reach %s (before %03o), requests %s (before %s)"
         % (a.get("reach"), a_before["reach"], a_stats.get("requests_sent"),
            a_before["requests_sent"]))
    check(bits(reach_of(a)) >= 6, "A's reach register was reset: %s" % a.get("reach"))
    check(a_stats.get("requests_sent") >= a_before["requests_sent"] and
          a_stats.get("samples") >= a_before["samples"], "A's counts went back: %r" % a_stats)
    modes = set()
    a_states = set()

    def b_reached():
        st = horloge_json(ctx, srv.sock, "status")
        modes.add(st.get("reference_mode"))
        srcs = sources_by_addr(ctx, srv.sock)
        a_states.add(srcs[A].get("state"))
        b = srcs.get(B)
        return b if b and reach_of(b) and b.get("state") in ("selected", "candidate") else None
    b, secs = wait_until(ctx, 20, b_reached, "B reachable and combined")
    t_end = time.time() + 2.0 * ctx.slow  # and a few polls more with both
    while time.time() < t_end:
        b_reached()
        time.sleep(0.25)
    note("B %s with reach %s %.1f s after the SIGHUP; meanwhile modes %s, A %s"
         % (b.get("state"), b.get("reach"), time.time() - t0, sorted(modes), sorted(a_states)))
    check(modes == {"synchronised"}, "tracking interrupted by the reload: %s" % sorted(modes))
    check(a_states <= {"selected", "candidate"}, "A was not combined throughout: %s"
          % sorted(a_states))


def check_a_dropped(ctx, srv, lines, up_a):
    """The reload to B alone: A leaves the reports, its chronyd hears no more, B is selected."""
    log = reload_with(ctx, srv, lines, "reload: 0 sources added, 1 removed, 1 kept")
    check("reload: server %s port" % A in log and "removed (1 address closed)" in log,
          "no `removed` line:\n" + log)
    srcs = sources_by_addr(ctx, srv.sock)
    check(A not in srcs and B in srcs, "sources after dropping A: %s" % sorted(srcs))
    n1 = packets_received(ctx, up_a)
    time.sleep(3.0 * ctx.slow)  # six polls of 2^-1 .. 2^0 s
    n2 = packets_received(ctx, up_a)
    note("A's chronyd received %d packets, then %d over %.0f s after the reload"
         % (n1, n2 - n1, 3.0 * ctx.slow))
    check(n2 == n1, "A still asked after its removal: %d -> %d packets" % (n1, n2))

    def b_selected():
        st = horloge_json(ctx, srv.sock, "status")
        return st if (st.get("reference_id_text") == B and st.get("stratum") == 2 and
                      st.get("reference_mode") == "synchronised") else None
    st, secs = wait_until(ctx, 20, b_selected, "B selected")
    note("B selected (status stratum %s, reference %s) %.1f s after A went"
         % (st.get("stratum"), st.get("reference_id_text"), secs))


def check_minsources(ctx, srv, lines):
    """`minsources 2` with one source: holdover, the source not-enough, the refclock named."""
    log = reload_with(ctx, srv, lines + ["minsources 2", "refclock SOCK %s" % ctx.path("gps.sock")],
                      "reload: 0 sources added, 0 removed, 1 kept")
    check("reload: refclock changed; takes effect at the next start" in log,
          "the restart warning does not name refclock:\n" + log)

    def holdover():
        st = horloge_json(ctx, srv.sock, "tracking")
        b = sources_by_addr(ctx, srv.sock).get(B, {})
        return st if st.get("reference_mode") == "holdover" and b.get("state") == "not-enough" else None
    tr, secs = wait_until(ctx, 5, holdover, "holdover with B not-enough")
    st = horloge_json(ctx, srv.sock, "status")
    note("minsources 2: %s after %.1f s, status stratum %s source %s, B not-enough"
         % (tr.get("reference_mode"), secs, st.get("stratum"), st.get("source")))
    check(st.get("stratum") == 2 and st.get("source") == B, "holdover status: %r" % st)


def test(ctx):
    ctx.need_horloged("source changes on SIGHUP")
    if os.geteuid() != 0:
        raise Skip("chronyd upstreams need root (they drop to _chrony)")
    port = free_port([A, B])
    up_a = chronyd_upstream(ctx, A, port, "upA")
    chronyd_upstream(ctx, B, port, "upB")
    line_a = "server %s port %d %s" % (A, port, POLL)
    line_b = "server %s port %d %s" % (B, port, POLL)
    srv = Server(ctx, [line_a]).start()
    pid = srv.proc.pid

    def a_ready():
        a = sources_by_addr(ctx, srv.sock).get(A, {})
        st = horloge_json(ctx, srv.sock, "status")
        ready = a.get("state") == "selected" and bits(reach_of(a)) >= 7 and st.get("stratum") == 2
        return a if ready else None
    a, secs = wait_until(ctx, 30, a_ready, "A selected with 7 bits of reach")
    note("A selected, reach %s, %.1f s after start" % (a.get("reach"), secs))
    a_stats = stats_of(ctx, srv, A)
    a_before = {"reach": reach_of(a), "requests_sent": a_stats.get("requests_sent"),
                "samples": a_stats.get("samples")}

    check_a_kept(ctx, srv, [line_a, line_b], a_before)
    check_a_dropped(ctx, srv, [line_b], up_a)
    check_minsources(ctx, srv, [line_b])

    # A bad configuration (that would add A back) keeps everything as it was.
    mark = len(srv.log())
    srv.write_conf([line_b, line_a, "frobnicate"])
    srv.signal(signal.SIGHUP)
    wait_until(ctx, 5, lambda: "still running with the previous configuration" in srv.log()[mark:],
               "the bad reload refused")
    time.sleep(1.0 * ctx.slow)
    check(srv.alive() and srv.proc.pid == pid, "daemon died on a bad reload")
    srcs = sources_by_addr(ctx, srv.sock)
    tr = horloge_json(ctx, srv.sock, "tracking")
    check(sorted(srcs) == [B] and srcs[B].get("state") == "not-enough" and
          tr.get("reference_mode") == "holdover", "a bad reload changed something: %s %s"
          % ({k: v.get("state") for k, v in srcs.items()}, tr.get("reference_mode")))
    note("bad reload refused: still B alone, not-enough, holdover")
    rc, _ = srv.stop()
    check(rc == 0, "exit code %r after SIGTERM" % rc)


if __name__ == "__main__":
    run("reload-sources", test)

#!/usr/bin/env python3
"""A timing loop between two horloged (RFC 5905 §8, chrony's test 7): A keeps time from a
`chronyd -x` (stratum 1 on 127.0.0.41) and also has B as a server; B's only server is A, so B
serves stratum 3 with A's address, as B sees it, as its refid. A counts B's replies as
`timing-loop` (`horloge sourcestats --json`), takes no sample from them and never selects B.

Why the addresses line up: on loopback the kernel sends from 127.0.0.1 to any 127.0.0.0/8
destination (`ip route get 127.0.0.42` says `src 127.0.0.1`), so A's socket connected to B
has 127.0.0.1 as its local address, and that is A's local refid. A listens on 127.0.0.1, so
B, whose server line names 127.0.0.1, announces refid 127.0.0.1 once synchronised to A: the
refid A recognises as itself. With A listening on another 127.0.0.x the loop would still be
there but would not be visible by its refid (as on a multi-homed host, RFC 5905 §8's limit)."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import (Server, Skip, check, chronyd_upstream, free_port, horloge_json, note, query, run,
                    sources_by_addr, wait_until)

UPSTREAM = "127.0.0.41"
A_ADDR = "127.0.0.1"
B_ADDR = "127.0.0.42"
POLL = "iburst minpoll 0 maxpoll 1"


def kernel_source_address(dst):
    r = subprocess.run(["ip", "route", "get", dst], capture_output=True, text=True)
    words = r.stdout.split()
    return words[words.index("src") + 1] if "src" in words else None


def b_looped_back(ctx, a, b, seen_states):
    """A's record of B once B's replies were counted as a timing loop a few times; None before."""
    srcs = sources_by_addr(ctx, a.sock)
    if B_ADDR in srcs:
        seen_states.add(srcs[B_ADDR].get("state"))
    st_b = horloge_json(ctx, b.sock, "status")
    if st_b.get("stratum") != 3:
        return None
    stats = {r.get("address", "").rsplit(":", 1)[0]: r
             for r in horloge_json(ctx, a.sock, "sourcestats").get("sources", [])}
    rec = stats.get(B_ADDR, {})
    return rec if rec.get("timing-loop", 0) >= 3 else None


def test(ctx):
    ctx.need_horloged("two horloged in a loop")
    if os.geteuid() != 0:
        raise Skip("the chronyd upstream needs root (it drops to _chrony)")
    src = kernel_source_address(B_ADDR)
    check(src == A_ADDR, "the kernel sends to %s from %r, not %s: the test's addresses do not "
          "line up on this host" % (B_ADDR, src, A_ADDR))
    up_port = free_port([UPSTREAM])
    chronyd_upstream(ctx, UPSTREAM, up_port, "up")
    b_port = free_port([B_ADDR])
    a = Server(ctx, ["server %s port %d %s" % (UPSTREAM, up_port, POLL),
                     "server %s port %d %s" % (B_ADDR, b_port, POLL)], name="a", listen=(A_ADDR,))
    b = Server(ctx, ["server %s port %d %s" % (A_ADDR, a.port, POLL)], name="b", port=b_port,
               listen=(B_ADDR,))
    t0 = time.time()
    a.start()
    b.start()

    seen_states = set()
    rec, secs = wait_until(ctx, 30, lambda: b_looped_back(ctx, a, b, seen_states),
                           "A counting B's replies as timing-loop")
    note("A counted %s timing-loop replies from B %.1f s after start; sourcestats: %r"
         % (rec.get("timing-loop"), time.time() - t0, rec))
    st_b = horloge_json(ctx, b.sock, "status")
    check(st_b.get("reference_id_text") == A_ADDR,
          "B's refid is %r, not A's address %s" % (st_b.get("reference_id_text"), A_ADDR))
    rep, _, _, _ = query(b.port, dst=B_ADDR, timeout=1.0 * ctx.slow)
    check(rep is not None and rep.stratum == 3 and ".".join(str(x) for x in rep.refid) == A_ADDR,
          "B's reply: %r" % rep)
    note("B serves %r refid %s" % (rep, A_ADDR))

    # For a few more polls: B never gives A a sample, never becomes a candidate.
    t_end = time.time() + 5.0
    while time.time() < t_end:
        b_looped_back(ctx, a, b, seen_states)
        time.sleep(0.25)
    stats = {r.get("address", "").rsplit(":", 1)[0]: r
             for r in horloge_json(ctx, a.sock, "sourcestats").get("sources", [])}
    rec = stats.get(B_ADDR, {})
    check(rec.get("samples", 0) == 0, "A took samples from B: %r" % rec)
    # B answers LI 3 until it has synchronised to A (shown as such), then only timing loops.
    check(seen_states <= {"unreachable", "unsynchronised"}, "A's view of B was %r" % seen_states)
    st_a = horloge_json(ctx, a.sock, "status")
    check(st_a.get("stratum") == 2 and st_a.get("reference_id_text") == UPSTREAM,
          "A is not synchronised to the chronyd: %r" % st_a)
    note("A: stratum %s from %s; B seen by A as %s; B's record %r"
         % (st_a["stratum"], st_a["reference_id_text"], sorted(seen_states), rec))


if __name__ == "__main__":
    run("timing-loop", test)

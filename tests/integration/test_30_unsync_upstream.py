#!/usr/bin/env python3
"""An upstream that answers but is unsynchronised (fakentp --unsync: LI 3, stratum 16) is shown
as `unsynchronised` in `horloge sources` (text and JSON), not as unreachable like a server that
is down (a port where nothing answers), and is never selected; a `chronyd -x` beside them is.
A source is not selected on its first sample: with `iburst`, a few consistent ones come first."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import (FakeNtp, Server, Skip, check, chronyd_upstream, free_port, horloge_json, note,
                    run, sources_by_addr, wait_until)

GOOD = "127.0.0.21"
UNSYNC = "127.0.0.25"
DOWN = "127.0.0.26"
POLL = "iburst minpoll 0 maxpoll 1"


def test(ctx):
    ctx.need_horloged("horloged's sources report")
    if os.geteuid() != 0:
        raise Skip("a chronyd upstream needs root (it drops to _chrony)")
    good_port = free_port([GOOD])
    chronyd_upstream(ctx, GOOD, good_port, "good")
    unsync_port = free_port([UNSYNC])
    unsync = FakeNtp(ctx, UNSYNC, unsync_port, "unsync", "--unsync")
    down_port = free_port([DOWN])
    lines = ["server %s port %d %s" % (GOOD, good_port, POLL),
             "server %s port %d %s" % (UNSYNC, unsync_port, POLL),
             "server %s port %d %s" % (DOWN, down_port, POLL)]
    srv = Server(ctx, lines).start()
    t0 = time.time()

    def states():
        srcs = sources_by_addr(ctx, srv.sock)
        got = {a: srcs.get(a, {}).get("state") for a in (GOOD, UNSYNC, DOWN)}
        return got if got[GOOD] == "selected" and got[UNSYNC] == "unsynchronised" else None
    got, secs = wait_until(ctx, 20, states, "chronyd selected and the LI 3 server unsynchronised")
    note("after %.1f s: %s" % (secs, got))
    check(got[DOWN] == "unreachable", "a silent server should be unreachable: %r" % got)
    check(len(unsync.requests()) > 0, "the unsynchronised server was never asked")

    # The first sample alone never selects: the chronyd needed a few (iburst: 1 s apart here).
    track = horloge_json(ctx, srv.sock, "tracking")
    check(track.get("reference_mode") == "synchronised", "tracking: %r" % track)
    stats = [r for r in horloge_json(ctx, srv.sock, "sourcestats").get("sources", [])
             if str(r.get("address", "")).startswith(GOOD + ":")]
    check(stats and int(stats[0].get("samples", 0)) >= 3, "selected on fewer than 3 samples: %r"
          % stats)
    text = srv_text(ctx, srv)
    line = [l for l in text.splitlines() if UNSYNC in l]
    check(line and line[0].startswith("?") and line[0].rstrip().endswith("unsynchronised"),
          "sources text for the LI 3 server: %r" % line)
    note("sources: %s" % line[0].strip())
    note("selected %.1f s after start" % (time.time() - t0))


def srv_text(ctx, srv):
    out = subprocess.run([ctx.horloge, "-s", srv.sock, "sources"],
                         capture_output=True, text=True, timeout=10)
    check(out.returncode == 0, "horloge sources failed: %s" % out.stderr)
    return out.stdout


if __name__ == "__main__":
    run("unsync_upstream", test)

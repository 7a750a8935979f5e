#!/usr/bin/env python3
"""Interleaved mode as a client (RFC 9769): horloged with `server ... xleave` against a `chronyd
-x` server and against another horloged takes interleaved samples from both (`horloge
sourcestats`: mode interleaved, in JSON and text), each request's T1 the kernel's transmit
timestamp; a third server without `xleave` stays basic. Offsets on one clock stay small."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import (Server, Skip, check, chronyd_upstream, free_port, horloge_json, note, run,
                    wait_until)

CHRONY = "127.0.0.61"
HORLOGE = "127.0.0.62"
BASIC = "127.0.0.63"
POLL = "iburst minpoll -1 maxpoll -1"


def stats_by_host(ctx, srv):
    out = {}
    for r in horloge_json(ctx, srv.sock, "sourcestats").get("sources", []):
        out[str(r.get("address", "")).rsplit(":", 1)[0]] = r
    return out


def test(ctx):
    ctx.need_horloged("interleaved client")
    if os.geteuid() != 0:
        raise Skip("chronyd needs root (it drops to _chrony)")
    port = free_port((CHRONY, HORLOGE, BASIC))
    chronyd_upstream(ctx, CHRONY, port, "chrony-up")
    chronyd_upstream(ctx, BASIC, port, "basic-up")
    Server(ctx, ["local stratum 1"], name="horloge-up", port=port, listen=(HORLOGE,)).start()
    srv = Server(ctx, ["server %s port %d %s xleave" % (CHRONY, port, POLL),
                       "server %s port %d %s xleave" % (HORLOGE, port, POLL),
                       "server %s port %d %s" % (BASIC, port, POLL)], name="client").start()

    def all_interleaved():
        st = stats_by_host(ctx, srv)
        ok = all(st.get(h, {}).get("mode") == "interleaved" and
                 int(st[h].get("interleaved_samples", 0)) >= 4 for h in (CHRONY, HORLOGE))
        return st if ok else None
    st, waited = wait_until(ctx, 30, all_interleaved, "interleaved samples from both servers")
    for h in (CHRONY, HORLOGE, BASIC):
        r = st.get(h, {})
        note("%s: mode %s, interleaved samples %s of %s requests, offset %s, delay %s, "
             "T1 kernel/clock %s/%s" % (h, r.get("mode"), r.get("interleaved_samples"),
                                        r.get("requests_sent"), r.get("offset"), r.get("delay"),
                                        r.get("kernel_tx_timestamps"),
                                        r.get("software_tx_timestamps")))
        check(int(r.get("kernel_tx_timestamps", 0)) > 0, "%s: no kernel transmit timestamp: %r"
              % (h, r))
        check(abs(float(r.get("offset", 1))) < 0.001, "%s: offset %s on one clock" % (h, r.get("offset")))
    note("interleaved from both after %.1f s" % waited)
    check(st[BASIC].get("mode") == "basic" and int(st[BASIC].get("interleaved_samples", 1)) == 0,
          "the server without xleave is not basic: %r" % st[BASIC])
    text = subprocess.run([ctx.horloge, "-s", srv.sock, "sourcestats"], capture_output=True,
                          text=True, timeout=10).stdout
    lines = [l for l in text.splitlines() if l.startswith((CHRONY, HORLOGE, BASIC))]
    note("sourcestats:\n        " + "\n        ".join(lines))
    for l in lines:
        want = "basic" if l.startswith(BASIC) else "interleaved"
        check(l.split()[-1] == want, "text sourcestats: %r, expected mode %s" % (l, want))


if __name__ == "__main__":
    run("xleave-client", test)

#!/usr/bin/env python3
"""`hwtimestamp IFACE` where the NIC has no hardware timestamps falls back to software ones:
with `hwtimestamp lo` (loopback has none) and `hwtimestamp` of an interface that does not exist,
horloged logs one warning for each ("hwtimestamp lo: ...; software timestamps"), starts, and
synchronises to a `chronyd -x` upstream with `xleave`, every request's T1 and every reply's T4 a
kernel software timestamp (sourcestats: no hardware ones, none read from the clock). A bad
interface name fails `-t` with FILE:LINE; a reload that changes `hwtimestamp` names it in the
restart warning."""
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import (Server, Skip, check, chronyd_upstream, free_port, horloge_json, note, run,
                    wait_until)

UP = "127.0.0.66"


def test(ctx):
    ctx.need_horloged("hwtimestamp")
    if os.geteuid() != 0:
        raise Skip("chronyd needs root (it drops to _chrony)")
    port = free_port((UP,))
    chronyd_upstream(ctx, UP, port, "up")
    lines = ["hwtimestamp lo", "hwtimestamp nosuch0",
             "server %s port %d iburst minpoll -1 maxpoll -1 xleave" % (UP, port)]
    srv = Server(ctx, lines, name="client").start()

    def synced():
        recs = horloge_json(ctx, srv.sock, "sourcestats").get("sources", [])
        r = recs[0] if recs else {}
        return r if r.get("mode") == "interleaved" and int(r.get("kernel_tx_timestamps", 0)) >= 4 else None
    r, waited = wait_until(ctx, 30, synced, "interleaved samples with software timestamps")
    log = srv.log()
    for iface in ("lo", "nosuch0"):
        warn = [l for l in log.splitlines() if "hwtimestamp %s:" % iface in l]
        check(len(warn) == 1 and "software timestamps" in warn[0],
              "expected one fallback warning for %s, got %r" % (iface, warn))
        note(warn[0].split("horloged ", 1)[-1])
    note("after %.1f s: T1 kernel %s hardware %s clock %s; T4 kernel %s hardware %s; mode %s"
         % (waited, r.get("kernel_tx_timestamps"), r.get("hardware_tx_timestamps"),
            r.get("software_tx_timestamps"), r.get("kernel_rx_timestamps"),
            r.get("hardware_rx_timestamps"), r.get("mode")))
    check(int(r.get("hardware_tx_timestamps", 1)) == 0 and int(r.get("hardware_rx_timestamps", 1)) == 0,
          "hardware timestamps on loopback? %r" % r)
    check(int(r.get("software_tx_timestamps", 1)) == 0, "T1 read from the clock: %r" % r)
    st = horloge_json(ctx, srv.sock, "tracking")
    check(st.get("reference_mode") == "synchronised", "not synchronised: %r" % st)

    # A reload that changes hwtimestamp: named among what needs a restart.
    mark = len(srv.log())
    srv.write_conf(lines[1:])
    srv.signal(signal.SIGHUP)
    wait_until(ctx, 5, lambda: "effect at the next start" in srv.log()[mark:], "restart warning")
    check("hwtimestamp" in srv.log()[mark:], "reload did not name hwtimestamp:\n" + srv.log()[mark:])

    bad = ctx.path("bad.conf")
    with open(bad, "w") as f:
        f.write("hwtimestamp\nhwtimestamp a/b\nhwtimestamp averyveryverylongname\n")
    out = subprocess.run([ctx.horloged, "-t", "-f", bad], capture_output=True, text=True, timeout=10)
    errs = [l for l in (out.stdout + out.stderr).splitlines() if l.startswith(bad + ":")]
    check(out.returncode == 1 and len(errs) == 3, "horloged -t on bad hwtimestamp lines: exit %d\n%s"
          % (out.returncode, out.stdout + out.stderr))
    note("-t: " + "; ".join(e.split(":", 1)[1] for e in errs))


if __name__ == "__main__":
    run("hwtimestamp", test)

#!/usr/bin/env python3
"""Smooth corrections are visible and bounded: horloged -x synchronised to a `chronyd -x` with
`corrtimeratio 2` and `maxslewrate 50` reports its frequency excursion in `horloge tracking`
(text `Slew rate` line, JSON `slew_rate_ppm`, `max_slew_rate_ppm`, `maxslewrate_ppm`), never
above the limit; `-t` refuses out-of-range `corrtimeratio`, `maxslewrate` and an unknown
`leapsmear` curve with FILE:LINE, and accepts the good ones."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import Server, Skip, check, chronyd_upstream, free_port, horloge_json, note, run, wait_until

UP = "127.0.0.21"


def check_config_errors(ctx):
    conf = ctx.path("bad.conf")
    bad = ["corrtimeratio -1", "corrtimeratio lots", "maxslewrate 0", "maxslewrate 501",
           "leapsmear cosine", "leapsmear"]
    with open(conf, "w") as f:
        f.write("port 0\ncontrolsocket none\npidfile none\n")
        f.write("\n".join(bad) + "\n")
    r = subprocess.run([ctx.horloged, "-t", "-f", conf], capture_output=True, text=True, timeout=10)
    check(r.returncode == 1, "-t accepted bad lines: %d %s" % (r.returncode, r.stderr))
    for n in range(4, 4 + len(bad)):
        check("%s:%d:" % (conf, n) in r.stderr, "-t did not name line %d: %s" % (n, r.stderr))
    good = ctx.path("good.conf")
    with open(good, "w") as f:
        f.write("port 0\ncontrolsocket none\npidfile none\ncorrtimeratio 0\nmaxslewrate 500\n"
                "leapsmear quadratic\nleapsmear off\nleapsmear linear\n")
    r = subprocess.run([ctx.horloged, "-t", "-f", good], capture_output=True, text=True, timeout=10)
    check(r.returncode == 0, "-t refused good lines: %s" % r.stderr)
    note("-t: %d bad lines named, the good ones accepted" % len(bad))


def test(ctx):
    ctx.need_horloged("horloged's slew report")
    check_config_errors(ctx)
    if os.geteuid() != 0:
        raise Skip("a chronyd upstream needs root (it drops to _chrony)")
    port = free_port([UP])
    chronyd_upstream(ctx, UP, port, "up")
    srv = Server(ctx, ["server %s port %d iburst minpoll 0 maxpoll 0" % (UP, port),
                       "corrtimeratio 2", "maxslewrate 50"]).start()
    wait_until(ctx, 20, lambda: horloge_json(ctx, srv.sock, "tracking").get("reference_mode")
               == "synchronised", "synchronised")
    peak = 0.0
    for _ in range(8):
        t = horloge_json(ctx, srv.sock, "tracking")
        for key in ("slew_rate_ppm", "max_slew_rate_ppm", "maxslewrate_ppm"):
            check(key in t, "tracking has no %s: %r" % (key, t))
        check(float(t["maxslewrate_ppm"]) == 50, "maxslewrate not reported: %r" % t)
        peak = max(peak, float(t["max_slew_rate_ppm"]))
        check(abs(float(t["slew_rate_ppm"])) <= 50.0 + 1e-3, "slew above the limit: %r" % t)
        check(float(t["max_slew_rate_ppm"]) <= 50.0 + 1e-3, "peak above the limit: %r" % t)
        time.sleep(0.5)
    text = subprocess.run([ctx.horloge, "-s", srv.sock, "tracking"], capture_output=True,
                          text=True, timeout=10).stdout
    line = [l for l in text.splitlines() if l.startswith("Slew rate")]
    check(line and "limit 50 ppm" in line[0], "tracking text: %r" % text)
    note("%s (peak seen %.3f ppm)" % (line[0], peak))


if __name__ == "__main__":
    run("slew_tracking", test)

#!/usr/bin/env python3
"""A daemon that cannot steer the clock says so and serves no lie: horloged started as root
WITHOUT -x but without CAP_SYS_TIME (as in a container or a systemd unit lacking it), its one
upstream (fakentp) 0.5 s ahead. It logs the failure once with "Operation not permitted",
`horloge tracking` and `status` (--json and text) show clock control failed with the error
count and the last error, tracking keeps the uncorrected 0.5 s offset (the discipline does not
believe the slews the kernel refused), and every reply says LI 3 / stratum 0, never stratum 2 —
to our own queries and to `chronyd -Q`. The harness then checks the machine's clock was left
untouched, as after every test."""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import (FakeNtp, Server, Skip, check, check_chronyd_refuses, free_port, horloge_json,
                    note, query, run, sources_by_addr, wait_until)

UP = "127.0.0.41"
SHIFT = 0.5
POLL = "iburst minpoll 0 maxpoll 1"
FAILURE = "cannot steer the system clock"


def failed_and_selected(ctx, srv):
    """Tracking once the source is selected and clock control reported failed, else None."""
    tr = horloge_json(ctx, srv.sock, "tracking")
    src = sources_by_addr(ctx, srv.sock).get(UP, {})
    if tr.get("clock_control") != "failed" or src.get("state") != "selected":
        return None
    return tr


def check_replies(ctx, srv, seconds):
    """Queries for `seconds`: every reply must be LI 3 / stratum 0; returns how many."""
    n = 0
    t_end = time.time() + seconds
    while time.time() < t_end:
        rep, _, _, _ = query(srv.port, timeout=1.0 * ctx.slow)
        check(rep is not None, "no reply while the clock cannot be steered")
        check(rep.li == 3 and rep.stratum == 0,
              "a reply claims synchronisation although the clock cannot be steered: %r" % rep)
        n += 1
        time.sleep(0.2)
    return n


def check_uncorrected(tr):
    """Nothing was corrected, and the discipline knows it: the whole 0.5 s is still to do, and
    no phantom slew (400 ppm for a refused 0.5 s) shows up in the frequency, which stays within
    its noise (3 skews) of the kernel's 0 ppm."""
    off, freq, skew = (tr.get(k) for k in ("system_time_offset", "frequency_ppm", "skew_ppm"))
    check(isinstance(off, float) and abs(off - SHIFT) < 0.05,
          "tracking system_time_offset %r, not the uncorrected %.1f s" % (off, SHIFT))
    check(all(isinstance(v, (int, float)) for v in (freq, skew)) and abs(freq) < 3 * skew + 5,
          "tracking frequency %r ppm (skew %r): the discipline believes slews that were not made"
          % (freq, skew))


def check_cli_text(ctx, srv):
    for command in ("tracking", "status"):
        r = subprocess.run([ctx.horloge, "-s", srv.sock, command], capture_output=True,
                           text=True, timeout=30 * ctx.slow)
        check(r.returncode == 0, "horloge %s: %s" % (command, r.stderr))
        m = re.search(r"^Clock control\s*:\s*(failed .*Operation not permitted.*)$", r.stdout, re.M)
        check(m, "horloge %s does not show the failure:\n%s" % (command, r.stdout))
        note("horloge %s: Clock control: %s" % (command, m.group(1)))


def test(ctx):
    ctx.need_horloged("clock control")
    if os.geteuid() != 0:
        raise Skip("dropping CAP_SYS_TIME from the bounding set needs root")
    up_port = free_port([UP])
    FakeNtp(ctx, UP, up_port, "ahead", "--shift", SHIFT)
    srv = Server(ctx, ["server %s port %d %s" % (UP, up_port, POLL)], steer_clock=True).start()

    tr, secs = wait_until(ctx, 20, lambda: failed_and_selected(ctx, srv),
                          "source selected and clock control failed")
    note("source selected, clock control failed %.1f s after start" % secs)
    log = srv.log()
    check(re.search(FAILURE + r": .*: Operation not permitted", log),
          "the log does not name the failure:\n%s" % log[-2000:])
    note("log: %s" % [l for l in log.splitlines() if FAILURE in l][0].strip())

    n = check_replies(ctx, srv, 3.0)
    note("%d replies in 3 s, all LI 3 / stratum 0" % n)
    tr = horloge_json(ctx, srv.sock, "tracking")
    check(tr.get("clock_control") == "failed" and tr.get("reference_mode") == "clock-failed",
          "tracking: %r" % tr)
    check(isinstance(tr.get("clock_errors"), int) and tr["clock_errors"] > 0,
          "tracking clock_errors: %r" % tr)
    check("Operation not permitted" in str(tr.get("last_clock_error")),
          "tracking last_clock_error: %r" % tr)
    check_uncorrected(tr)
    note("tracking: clock_errors %s, last_clock_error %r, system_time_offset %.6f"
         % (tr["clock_errors"], tr["last_clock_error"], tr["system_time_offset"]))
    st = horloge_json(ctx, srv.sock, "status")
    check(st.get("clock_control") == "failed" and st.get("leap") == 3 and st.get("stratum") == 16
          and st.get("source_kind") == "none", "status: %r" % st)
    check_cli_text(ctx, srv)
    last = check_chronyd_refuses(ctx, srv.port, "a server that cannot steer its clock")
    note("chronyd -Q against it: %s" % last)
    n += check_replies(ctx, srv, 1.0)

    tr = horloge_json(ctx, srv.sock, "tracking")
    check_uncorrected(tr)
    log = srv.log()
    check(log.count(FAILURE) == 1, "the failure was logged %d times, not once:\n%s"
          % (log.count(FAILURE), log[-2000:]))
    note("at the end: %s clock errors, logged once; %d replies, none synchronised; frequency "
         "%.3f ppm, skew %.3f ppm" % (tr.get("clock_errors"), n, tr["frequency_ppm"],
                                      tr["skew_ppm"]))


if __name__ == "__main__":
    run("clock-failure", test)

#!/usr/bin/env python3
"""The drift file and the upstream config lines: horloged synchronised from a `chronyd -x`
writes `driftfile DIR/drift` in chrony's format ("FREQ SKEW") when stopped with SIGTERM, and
reads it back at the next start; a corrupt or out-of-range drift file is logged and ignored
(horloged still starts and synchronises); bad `server`/`pool`/`makestep`... lines fail `-t`
with `FILE:LINE: message`."""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import (SAN_PATTERNS, Server, Skip, check, chronyd_upstream, free_port, horloge_json,
                    note, run, wait_until)

UP = "127.0.0.21"
DRIFT_LINE = re.compile(r"^\s*([-+]?\d+\.\d+)\s+(\d+\.\d+)\s*$")

# (line, why it is bad); each is checked alone and all together in one file
BAD_LINES = [
    ("server 127.0.0.1 minpoll 99", "minpoll out of range"),
    ("server 127.0.0.1 maxpoll -7", "maxpoll out of range"),
    ("server 127.0.0.1 minpoll 5 maxpoll 3", "minpoll above maxpoll"),
    ("server 127.0.0.1 port 0", "port 0"),
    ("server 127.0.0.1 port", "port without a value"),
    ("server 127.0.0.1 frobnicate", "unknown option"),
    ("server", "no host"),
    ("server bad/host", "not a host"),
    ("server 127.0.0.1 maxsources 2", "maxsources on a server"),
    ("pool localhost maxsources 0", "maxsources 0"),
    ("pool localhost prefer", "prefer on a pool"),
    ("minsources 0", "minsources 0"),
    ("maxdistance 0", "maxdistance 0"),
    ("makestep 0.1", "makestep without a limit"),
    ("makestep -1 3", "negative threshold"),
    ("driftfile", "driftfile without a path"),
]


def synced(ctx, srv):
    st = horloge_json(ctx, srv.sock, "status")
    return st if st.get("stratum") == 2 else None


def read_drift(path):
    with open(path) as f:
        text = f.read()
    m = DRIFT_LINE.match(text)
    check(m and text.count("\n") == 1, "drift file is not chrony's \"FREQ SKEW\": %r" % text)
    return float(m.group(1)), float(m.group(2)), text


def check_config_errors(ctx):
    problems = []
    for i, (line, why) in enumerate(BAD_LINES):
        path = ctx.path("bad%d.conf" % i)
        with open(path, "w") as f:
            f.write("# %s\nport 0\n%s\n" % (why, line))
        r = subprocess.run([ctx.horloged, "-t", "-f", path], capture_output=True, text=True,
                           timeout=20 * ctx.slow)
        if any(p in r.stderr for p in SAN_PATTERNS):
            problems.append("sanitizer report for %r:\n%s" % (line, r.stderr))
        prefix = "%s:3: " % path
        if r.returncode == 0 or not any(l.startswith(prefix) and len(l) > len(prefix)
                                        for l in r.stderr.splitlines()):
            problems.append("%r (%s): exit %d, stderr %r" % (line, why, r.returncode, r.stderr))
        elif line == BAD_LINES[0][0]:
            note("-t on %r: %s" % (line, r.stderr.strip().splitlines()[0]))
    path = ctx.path("allbad.conf")
    with open(path, "w") as f:
        f.write("\n".join(l for l, _ in BAD_LINES) + "\n")
    r = subprocess.run([ctx.horloged, "-t", "-f", path], capture_output=True, text=True,
                       timeout=20 * ctx.slow)
    missing = [n for n in range(1, len(BAD_LINES) + 1)
               if not any(l.startswith("%s:%d: " % (path, n)) for l in r.stderr.splitlines())]
    if r.returncode == 0 or missing:
        problems.append("all bad lines in one file: exit %d, lines %r not reported:\n%s"
                        % (r.returncode, missing, r.stderr))
    good = ctx.path("goodup.conf")
    with open(good, "w") as f:
        f.write("port 0\nserver 127.0.0.1 port 123 iburst minpoll -6 maxpoll 17 prefer\n"
                "server ::1 minpoll 4\npool localhost port 1234 iburst maxsources 16\n"
                "minsources 2\nmaxdistance 1.5\nmakestep 0.1 3\nmakestep 1 -1\n"
                "driftfile %s\n" % ctx.path("x.drift"))
    r = subprocess.run([ctx.horloged, "-t", "-f", good], capture_output=True, text=True,
                       timeout=20 * ctx.slow)
    if r.returncode != 0:
        problems.append("a good upstream config fails -t: %s" % r.stderr)
    check(not problems, "\n".join(problems))
    note("%d bad upstream lines each reported as FILE:LINE, alone and together" % len(BAD_LINES))


def test(ctx):
    ctx.need_horloged("horloged's drift file and config checking")
    check_config_errors(ctx)
    if os.geteuid() != 0:
        raise Skip("a chronyd upstream needs root (it drops to _chrony)")
    up_port = free_port([UP])
    chronyd_upstream(ctx, UP, up_port, "up")
    drift = ctx.path("drift")
    lines = ["server %s port %d iburst minpoll -1 maxpoll 0" % (UP, up_port), "driftfile " + drift]

    # 1. No drift file yet: synchronise, stop, and the file is there.
    srv = Server(ctx, lines, name="first")
    t0 = time.time()
    srv.start()
    wait_until(ctx, 20, lambda: synced(ctx, srv), "first run at stratum 2")
    secs = time.time() - t0
    wait_until(ctx, 10, lambda: horloge_json(ctx, srv.sock, "sourcestats")["sources"][0]
               .get("used", 0) >= 3, "three samples used")
    tr = horloge_json(ctx, srv.sock, "tracking")
    check(not os.path.exists(drift), "drift file written before the first stop")
    rc, took = srv.stop()
    check(rc == 0, "SIGTERM: exit %r after %.1f s" % (rc, took))
    check(os.path.exists(drift), "no drift file after SIGTERM; log:\n" + srv.log()[-2000:])
    freq, skew, text = read_drift(drift)
    check(abs(freq) < 100 and skew < 1000, "drift values odd: %r" % text)
    check(not [f for f in os.listdir(ctx.dir) if f.startswith("drift.")],
          "temporary drift files left: %r" % os.listdir(ctx.dir))
    note("synchronised in %.1f s; tracking frequency %s ppm skew %s ppm; drift file %r"
         % (secs, tr.get("frequency_ppm"), tr.get("skew_ppm"), text))

    # 2. A drift file we wrote ourselves is read back.
    with open(drift, "w") as f:
        f.write("%20.6f %20.6f\n" % (12.5, 0.25))
    srv = Server(ctx, lines, name="second").start()
    m = re.search(r"frequency (-?[0-9.]+) ppm from " + re.escape(drift), srv.log())
    check(m and abs(abs(float(m.group(1))) - 12.5) < 1e-6,
          "second run did not read 12.5 ppm from the drift file:\n" + srv.log()[-2000:])
    note("read back: %s" % m.group(0))
    wait_until(ctx, 20, lambda: synced(ctx, srv), "second run at stratum 2")
    srv.stop()
    read_drift(drift)

    # 3. Corrupt and out-of-range files: a warning, then business as usual.
    for name, content in (("corrupt", "not a drift file\n"), ("range", "1000000.0 1.0\n"),
                          ("binary", "\0\1\2garbage"), ("empty", "")):
        with open(drift, "w") as f:
            f.write(content)
        srv = Server(ctx, lines, name=name).start()
        log = srv.log()
        warn = [l for l in log.splitlines() if "drift file" in l and "warning" in l]
        check(warn, "%s drift file: no warning in the log:\n%s" % (name, log[-2000:]))
        wait_until(ctx, 20, lambda: synced(ctx, srv), "%s run at stratum 2" % name)
        srv.stop()
        read_drift(drift)
        note("%-7s drift file: %s" % (name, warn[0].split(": ", 1)[-1]))


if __name__ == "__main__":
    run("driftfile", test)

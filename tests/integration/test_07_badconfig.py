#!/usr/bin/env python3
"""Bad config lines: `horloged -t -f BAD` exits non-zero and reports `BAD:LINE: message` for
every bad line; a good config passes -t; a bad config refuses to start (the process exits,
nothing is bound, no pid file)."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import SAN_PATTERNS, check, free_port, note, port_is_free, query, run


def no_sanitizer_report(text, what):
    hits = [p for p in SAN_PATTERNS if p in text]
    check(not hits, "sanitizer report from %s:\n%s" % (what, text[-3000:]))

# (file name, content, bad line numbers)
BAD = [
    ("unknown.conf", "# comment\nport 12345\nfrobnicate yes\n", [3]),
    ("port.conf", "port 70000\n", [1]),
    ("portword.conf", "\n\nport abc\n", [3]),
    ("prefix.conf", "allow 10.0.0.0/33\n", [1]),
    ("addr.conf", "deny 300.1.2.3\n", [1]),
    ("listen.conf", "listen not-an-address\n", [1]),
    ("stratum.conf", "local stratum 16\n", [1]),
    ("stratum0.conf", "local stratum 0\n", [1]),
    ("denyaction.conf", "denyaction maybe\n", [1]),
    ("ratelimit.conf", "ratelimit interval x burst 4\n", [1]),
    ("burst.conf", "ratelimit interval 1 burst 0\n", [1]),
    ("leak.conf", "ratelimit leak 9\n", [1]),
    ("threads.conf", "threads -1\n", [1]),
    ("threadsbig.conf", "threads 65\n", [1]),
    ("missingarg.conf", "port\n", [1]),
    ("extra.conf", "port 123 456\n", [1]),
    ("multi.conf", "port 1234\nlisten 1.2.3.4.5\nallow all\nlocal stratum 99\n# ok\nthreads -1\n",
     [2, 4, 6]),
]
GOOD = ("# a good config\nport 12345\nlisten 127.0.0.1\nlisten ::1\nallow 127.0.0.0/8\n"
        "deny 127.0.0.2\ndenyaction kod\nratelimit interval 1 burst 4 leak 0\nthreads 2\n"
        "local stratum 5 distance 0.5\ncontrolsocket none\npidfile none\n")


def test(ctx):
    ctx.need_horloged("config checking (-t)")
    good = ctx.path("good.conf")
    with open(good, "w") as f:
        f.write(GOOD)
    r = subprocess.run([ctx.horloged, "-t", "-f", good], capture_output=True, text=True,
                       timeout=20 * ctx.slow)
    check(r.returncode == 0, "-t on a good config exits %d: %s" % (r.returncode, r.stderr))

    problems = []
    for name, text, lines in BAD:
        path = ctx.path(name)
        with open(path, "w") as f:
            f.write(text)
        r = subprocess.run([ctx.horloged, "-t", "-f", path], capture_output=True, text=True,
                           timeout=20 * ctx.slow)
        no_sanitizer_report(r.stderr, "horloged -t -f " + name)
        if r.returncode == 0:
            problems.append("%s: -t exits 0" % name)
            continue
        for n in lines:
            prefix = "%s:%d: " % (path, n)
            if not any(l.startswith(prefix) and len(l) > len(prefix) for l in
                       r.stderr.splitlines()):
                problems.append("%s: no `%s...` line in stderr: %r" % (name, prefix, r.stderr))
        note("%-16s exit %d: %s" % (name, r.returncode, r.stderr.strip().replace("\n", " | ")))
    missing = ctx.path("does-not-exist.conf")
    r = subprocess.run([ctx.horloged, "-t", "-f", missing], capture_output=True, text=True,
                       timeout=20 * ctx.slow)
    if r.returncode == 0 or missing not in r.stderr:
        problems.append("missing file: exit %d, stderr %r" % (r.returncode, r.stderr))
    else:
        note("missing file     exit %d: %s" % (r.returncode, r.stderr.strip()))
    check(not problems, "\n".join(problems))

    # A bad config refuses to start: nothing left running, nothing bound, no pid file.
    port = free_port()
    bad = ctx.path("start.conf")
    pidfile = ctx.path("start.pid")
    with open(bad, "w") as f:
        f.write("port %d\nlisten 127.0.0.1\npidfile %s\ncontrolsocket %s\nlocal stratum 3\n"
                "frobnicate\n" % (port, pidfile, ctx.path("start.sock")))
    p = ctx.spawn(["setpriv", "--bounding-set", "-sys_time", ctx.horloged, "-x", "-d", "-f", bad],
                  "start.log")
    try:
        rc = p.wait(10 * ctx.slow)
    except subprocess.TimeoutExpired:
        rc = None
    check(rc is not None, "horloged with a bad config is still running")
    check(rc != 0, "horloged with a bad config exited 0")
    no_sanitizer_report(ctx.read("start.log"), "horloged with a bad config")
    check("%s:6: " % bad in ctx.read("start.log"), "start log lacks the error line: %r"
          % ctx.read("start.log"))
    check(port_is_free(port), "port %d still bound" % port)
    rep, _, _, _ = query(port, timeout=0.3)
    check(rep is None, "something answered on port %d" % port)
    check(not os.path.exists(pidfile), "pid file left behind")
    check(not os.path.exists(ctx.path("start.sock")), "control socket left behind")
    note("bad config refused to start: exit %d, port free, no pid file" % rc)


if __name__ == "__main__":
    run("badconfig", test)

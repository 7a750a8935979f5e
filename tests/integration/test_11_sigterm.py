#!/usr/bin/env python3
"""SIGTERM stops the daemon cleanly within 2 s (scaled for sanitizer builds) and removes its
pid file; the port is free afterwards. Both in the foreground (-d) and detached (no -d, where
the pid file is the only handle on the daemon)."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import Server, check, note, port_is_free, query, run


def gone(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def detached(ctx):
    srv = Server(ctx, ["local stratum 3"], name="bg")
    argv = [a for a in srv.argv() if a != "-d"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=20 * ctx.slow)
    check(r.returncode == 0, "detached start exits %d: %s" % (r.returncode, r.stderr))
    deadline = time.time() + 10 * ctx.slow
    while not os.path.exists(srv.pidfile) and time.time() < deadline:
        time.sleep(0.05)
    check(os.path.exists(srv.pidfile), "detached daemon wrote no pid file")
    with open(srv.pidfile) as f:
        pid = int(f.read().strip())

    def kill():
        if not gone(pid):
            os.kill(pid, signal.SIGKILL)
    ctx.on_cleanup(kill)
    check(not gone(pid), "pid %d from the pid file is not running" % pid)
    rep = None
    while rep is None and time.time() < deadline:
        rep, _, _, _ = query(srv.port, timeout=0.2)
    check(rep is not None and rep.stratum == 3, "detached daemon does not serve")
    t0 = time.time()
    os.kill(pid, signal.SIGTERM)
    limit = 2.0 * ctx.slow
    while not gone(pid) and time.time() - t0 < limit:
        time.sleep(0.01)
    took = time.time() - t0
    check(gone(pid), "detached daemon still running %.1f s after SIGTERM" % limit)
    check(not os.path.exists(srv.pidfile), "detached daemon left its pid file")
    check(port_is_free(srv.port), "port %d still bound" % srv.port)
    note("detached: pid %d from the pid file, stopped in %.3f s, pid file removed" % (pid, took))


def test(ctx):
    srv = Server(ctx, ["local stratum 3"]).start()
    deadline = time.time() + 5 * ctx.slow
    while not os.path.exists(srv.pidfile) and time.time() < deadline:
        time.sleep(0.05)
    check(os.path.exists(srv.pidfile), "no pid file %s" % srv.pidfile)
    with open(srv.pidfile) as f:
        text = f.read().strip()
    check(text == str(srv.proc.pid), "pid file says %r, the daemon is %d" % (text, srv.proc.pid))
    limit = 2.0 * ctx.slow
    rc, took = srv.stop(timeout=limit)
    check(rc is not None, "still running %.1f s after SIGTERM" % limit)
    check(rc == 0, "exit code %d after SIGTERM" % rc)
    check(not os.path.exists(srv.pidfile), "pid file left behind")
    check(port_is_free(srv.port), "port %d still bound" % srv.port)
    rep, _, _, _ = query(srv.port, timeout=0.3)
    check(rep is None, "something still answers")
    if ctx.is_horloged() and os.path.exists(srv.sock):
        note("warning: control socket %s left behind" % srv.sock)
    note("SIGTERM: exit 0 in %.3f s, pid file removed, port free" % took)
    detached(ctx)


if __name__ == "__main__":
    run("sigterm", test)

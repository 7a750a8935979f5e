#!/usr/bin/env python3
"""SIGTERM stops the daemon cleanly within 2 s (scaled for sanitizer builds) and removes its
pid file; the port is free afterwards."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import Server, check, note, port_is_free, query, run


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


if __name__ == "__main__":
    run("sigterm", test)

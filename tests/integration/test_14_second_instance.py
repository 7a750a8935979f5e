#!/usr/bin/env python3
"""A second daemon started with the same config (same port, pid file and control socket) must
refuse to start and leave the first one alone: still serving, its pid file and control socket
intact after the second has exited."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import Server, check, note, query, run


def test(ctx):
    first = Server(ctx, ["local stratum 3"], name="first").start()
    deadline = time.time() + 5 * ctx.slow
    while not os.path.exists(first.pidfile) and time.time() < deadline:
        time.sleep(0.05)
    check(os.path.exists(first.pidfile), "first instance wrote no pid file")
    second = ctx.spawn(first.argv(), "second.log")
    try:
        rc = second.wait(10 * ctx.slow)
    except subprocess.TimeoutExpired:
        rc = None
    check(rc is not None, "a second instance on the same port and pid file keeps running "
          "(it should refuse to start); its log:\n%s" % ctx.read("second.log"))
    check(rc != 0, "the second instance exited 0")
    note("second instance: exit %d: %s" % (rc, ctx.read("second.log").strip()
                                           .replace("\n", " | ")))
    check(first.alive(), "the first instance died")
    check(os.path.exists(first.pidfile), "the second instance removed the first one's pid file")
    with open(first.pidfile) as f:
        check(f.read().strip() == str(first.proc.pid), "the pid file no longer names the first")
    for _ in range(5):
        rep, _, _, _ = query(first.port, timeout=1.0 * ctx.slow)
        check(rep is not None and rep.stratum == 3, "the first instance stopped answering")
    if ctx.is_horloged():
        check(os.path.exists(first.sock), "the second instance removed the control socket")
        r = subprocess.run([ctx.horloge, "-s", first.sock, "status"], capture_output=True,
                           text=True, timeout=30 * ctx.slow)
        check(r.returncode == 0, "the first instance's control socket no longer answers: %s"
              % r.stderr)
    note("first instance still serving, pid file and control socket intact")


if __name__ == "__main__":
    run("second-instance", test)

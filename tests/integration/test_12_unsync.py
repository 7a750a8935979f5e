#!/usr/bin/env python3
"""Unsynchronised without a local reference: replies say LI=3 and stratum 0 on the wire (so no
client takes the time), still echo the origin, and chronyd as a client refuses to use them."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import NOCLOCK, Server, check, check_server_reply, note, query, run


def test(ctx):
    srv = Server(ctx, []).start()
    for vn, mode, want in ((4, 3, 4), (3, 3, 4), (3, 1, 2), (2, 3, 4)):
        rep, req, t0, t1 = query(srv.port, timeout=1.0 * ctx.slow, vn=vn, mode=mode)
        check(rep is not None, "no reply to v%d mode %d while unsynchronised" % (vn, mode))
        check_server_reply(rep, req, t0, t1, tol=0.05 * ctx.slow)
        check(rep.li == 3 and rep.stratum == 0, "unsynchronised reply: %r" % rep)
        check(rep.vn == vn and rep.mode == want, "unsynchronised reply version/mode: %r" % rep)
        if ctx.is_horloged():
            # A kiss code would tell clients something else; an unsynchronised server says nothing.
            check(rep.refid not in (b"RATE", b"DENY", b"RSTR"), "refid %r looks like a KoD"
                  % rep.refid)
        note("unsynchronised v%d mode %d -> %r" % (vn, mode, rep))
    if os.geteuid() != 0:
        return
    cmd = NOCLOCK + ["chronyd", "-x", "-Q", "-t", str(int(3 * ctx.slow)), "-f", "/dev/null",
                     "server 127.0.0.1 port %d iburst maxsamples 2" % srv.port,
                     "pidfile %s" % ctx.path("q.pid")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=40 * ctx.slow)
    out = r.stdout + r.stderr
    check(not re.search(r"System clock wrong by", out),
          "chronyd took time from an unsynchronised server:\n%s" % out)
    note("chronyd -Q against it: %s" % (out.strip().splitlines() or ["(nothing)"])[-1])


if __name__ == "__main__":
    run("unsync", test)

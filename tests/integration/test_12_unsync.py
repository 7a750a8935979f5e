#!/usr/bin/env python3
"""Unsynchronised without a local reference: replies say LI=3 and stratum 0 on the wire (so no
client takes the time), still echo the origin, and chronyd as a client refuses to use them."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import Server, check, check_chronyd_refuses, check_server_reply, note, query, run


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
    last = check_chronyd_refuses(ctx, srv.port, "an unsynchronised server")
    note("chronyd -Q against it: %s" % last)


if __name__ == "__main__":
    run("unsync", test)

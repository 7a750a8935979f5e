#!/usr/bin/env python3
"""Serving on ::1 (`listen ::1`): mode-3 and mode-1 requests over IPv6 get replies."""
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import Server, Skip, check, check_server_reply, note, query, run

STRATUM = 3


def test(ctx):
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
    except OSError as e:
        raise Skip("no IPv6 loopback: %s" % e)
    srv = Server(ctx, ["local stratum %d" % STRATUM], listen=("::1",)).start()
    for vn, mode, want in ((4, 3, 4), (3, 3, 4), (3, 1, 2)):
        rep, req, t0, t1 = query(srv.port, dst="::1", timeout=1.0 * ctx.slow, vn=vn, mode=mode)
        check(rep is not None, "no reply over IPv6 to v%d mode %d" % (vn, mode))
        check_server_reply(rep, req, t0, t1, tol=0.05 * ctx.slow)
        check(rep.vn == vn and rep.mode == want and rep.stratum == STRATUM,
              "IPv6 reply: %r" % rep)
        note("::1 v%d mode %d -> %r" % (vn, mode, rep))
    # Only ::1 was asked for: IPv4 loopback on that port must not answer (chronyd binds a
    # bindaddress per family, so it still serves IPv4 on the wildcard).
    if ctx.is_horloged():
        rep, _, _, _ = query(srv.port, dst="127.0.0.1", timeout=0.3 * ctx.slow)
        check(rep is None, "server also answers on 127.0.0.1 though it listens on ::1 only")


if __name__ == "__main__":
    run("ipv6", test)

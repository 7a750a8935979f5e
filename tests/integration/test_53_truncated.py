#!/usr/bin/env python3
"""Datagrams longer than the 1280-byte receive buffer are dropped and counted, on both paths
(the bug: the kernel cut them to 1280 bytes, MSG_TRUNC was never checked, and the prefix was
taken for the whole).
- Serving: a 1300-byte request (header, a 1232-byte extension field, a 20-byte MAC) whose
  1280-byte prefix is a valid request without its MAC gets no reply and is counted in
  serverstats `dropped_truncated`; the same request without the MAC (1280 bytes, exactly the
  buffer) is answered.
- Upstream: a source (fakentp --length 1780) whose replies are 1780 bytes, the first 1280 a
  valid reply, is never reachable and its sourcestats count `truncated`; a second source sending
  1280-byte replies of the same shape is reached and used."""
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import (FakeNtp, Server, build_header, check, exchange, free_port, horloge_json, note,
                    reach_of, run, sources_by_addr, wait_until)

LONG_UP, FITTING_UP = "127.0.0.53", "127.0.0.54"
POLL = "iburst minpoll 0 maxpoll 1"


def ef(length):
    return struct.pack("!HH", 0x7F00, length) + bytes(length - 4)


def serving(ctx, srv):
    fitting = build_header() + ef(1232)
    check(len(fitting) == 1280, "fitting request is %d bytes" % len(fitting))
    rep, _, _ = exchange(srv.port, fitting, timeout=1.0 * ctx.slow)
    check(rep is not None and len(rep) <= 1280, "1280-byte request not answered: %r" % rep)
    long_req = build_header() + ef(1232) + struct.pack("!I", 1) + bytes(16)
    check(len(long_req) == 1300, "long request is %d bytes" % len(long_req))
    for _ in range(3):
        rep, _, _ = exchange(srv.port, long_req, timeout=0.5 * ctx.slow)
        check(rep is None, "a 1300-byte request cut to 1280 was answered: %r" % rep)
    st = horloge_json(ctx, srv.sock, "serverstats")
    check(st.get("dropped_truncated") == 3, "serverstats dropped_truncated %r, not 3"
          % st.get("dropped_truncated"))
    note("serving: 1280-byte request answered (%d bytes); 3 x 1300 bytes dropped, "
         "dropped_truncated %d" % (len(fitting), st["dropped_truncated"]))


def upstream(ctx, srv):
    def state():
        srcs = sources_by_addr(ctx, srv.sock)
        fit = srcs.get(FITTING_UP, {})
        stats = {r.get("address", "").rsplit(":", 1)[0]: r
                 for r in horloge_json(ctx, srv.sock, "sourcestats").get("sources", [])}
        long_stats = stats.get(LONG_UP, {})
        if reach_of(fit) and long_stats.get("truncated", 0) >= 3:
            return srcs, long_stats
        return None
    (srcs, long_stats), secs = wait_until(ctx, 20, state, "fitting source reached, long one truncated")
    check(reach_of(srcs[LONG_UP]) == 0, "the 1780-byte source is reachable: %r" % srcs[LONG_UP])
    check(long_stats.get("samples", 0) == 0, "samples from the 1780-byte source: %r" % long_stats)
    note("upstream: 1280-byte replies reached (reach %o); 1780-byte replies: reach 0, "
         "truncated %d (%.1f s)" % (reach_of(srcs[FITTING_UP]), long_stats["truncated"], secs))


def test(ctx):
    ctx.need_horloged("serverstats and sourcestats")
    long_port, fit_port = free_port([LONG_UP]), free_port([FITTING_UP])
    FakeNtp(ctx, LONG_UP, long_port, "long", "--length", 1780)
    FakeNtp(ctx, FITTING_UP, fit_port, "fitting", "--length", 1280)
    srv = Server(ctx, ["server %s port %d %s" % (LONG_UP, long_port, POLL),
                       "server %s port %d %s" % (FITTING_UP, fit_port, POLL)]).start()
    serving(ctx, srv)
    upstream(ctx, srv)


if __name__ == "__main__":
    run("truncated", test)

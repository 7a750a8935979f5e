#!/usr/bin/env python3
"""Rate limiting: `ratelimit interval 1 burst 4 leak 0`. A burst from 127.0.0.1 is limited with
RATE Kiss-o'-Death replies (leak 0: every limited request gets one), while 127.0.0.3 keeps
being served during the flood."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import Server, check, check_server_reply, horloge_json, note, query, run

STRATUM = 3
FLOOD = 40
BURST = 4


def test(ctx):
    conf = ["local stratum %d" % STRATUM, "ratelimit interval 1 burst %d leak 0" % BURST]
    srv = Server(ctx, conf, probe_src="127.0.0.9").start()
    normal = kod = dropped = other_ok = 0
    t_start = time.time()
    for i in range(FLOOD):
        rep, req, t0, t1 = query(srv.port, src="127.0.0.1", timeout=0.25 * ctx.slow)
        if rep is None:
            dropped += 1
        elif rep.stratum == 0:
            check(rep.refid == b"RATE", "limited reply is a KoD with refid %r" % rep.refid)
            check(rep.org == int.from_bytes(req[40:48], "big"), "RATE KoD origin != transmit")
            check(rep.mode == 4 and rep.length == 48 and rep.li == 3, "RATE KoD: %r" % rep)
            kod += 1
        else:
            check_server_reply(rep, req, t0, t1, tol=0.05 * ctx.slow)
            normal += 1
        if i % 10 == 5:
            rep, req, t0, t1 = query(srv.port, src="127.0.0.3", timeout=1.0 * ctx.slow)
            check(rep is not None and rep.stratum == STRATUM,
                  "127.0.0.3 not served during the flood (request %d): %r" % (i, rep))
            check_server_reply(rep, req, t0, t1, tol=0.05 * ctx.slow)
            other_ok += 1
    elapsed = time.time() - t_start
    note("flood of %d from 127.0.0.1 in %.2f s: %d served, %d RATE KoD, %d dropped; "
         "127.0.0.3 served %d/%d" % (FLOOD, elapsed, normal, kod, dropped, other_ok, other_ok))
    # Tokens come back at one per 2 s; allow one more for rounding.
    allowed = BURST + int(elapsed / 2) + 1
    check(normal >= BURST, "only %d normal replies, burst is %d" % (normal, BURST))
    if ctx.is_horloged():
        check(normal <= allowed, "%d normal replies in %.1f s, at most %d allowed"
              % (normal, elapsed, allowed))
        check(kod >= FLOOD - allowed, "only %d RATE KoDs for %d limited requests"
              % (kod, FLOOD - normal))
        check(dropped == 0, "leak 0 must answer every limited request with a KoD; %d dropped"
              % dropped)
    else:
        # chronyd's leak is at least 1 (half the limited requests answered normally).
        check(dropped + kod > 0, "nothing was limited")
    check(srv.alive(), "server died")
    if ctx.is_horloged():
        st = horloge_json(ctx, srv.sock, "serverstats")
        check(st.get("kod_rate") == kod and st.get("rate_limited") == kod + dropped,
              "serverstats kod_rate %r rate_limited %r, expected %d and %d"
              % (st.get("kod_rate"), st.get("rate_limited"), kod, kod + dropped))
        clients = {c["address"]: c for c in horloge_json(ctx, srv.sock, "clients")["clients"]}
        c1, c3 = clients.get("127.0.0.1"), clients.get("127.0.0.3")
        check(c1 and c1["requests"] == FLOOD and c1["limited"] == kod + dropped
              and c1["kod_sent"] == kod, "clients entry for the flooder: %r" % c1)
        check(c3 and c3["requests"] == other_ok and c3["limited"] == 0,
              "clients entry for 127.0.0.3: %r" % c3)
        note("serverstats kod_rate %d, rate_limited %d; clients: 127.0.0.1 %d requests %d "
             "limited, 127.0.0.3 %d requests" % (st["kod_rate"], st["rate_limited"],
                                                 c1["requests"], c1["limited"], c3["requests"]))


if __name__ == "__main__":
    run("ratelimit", test)

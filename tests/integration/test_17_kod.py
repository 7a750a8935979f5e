#!/usr/bin/env python3
"""Kiss-o'-Death from upstream (RFC 5905 §7.4): a server answering DENY (and one answering RSTR)
is asked once and never again, `horloge sources` shows it removed, and horloged stays
unsynchronised. A server answering RATE to requests closer than 3 s apart makes horloged poll
it no faster than that: the poll exponent goes up from 0 to 2 (in `horloge sources` and in the
requests' poll field) before any sample could change it, the requests spread out, and horloged
synchronises from the time answers that follow."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import (FakeNtp, Server, check, free_port, horloge_json, note, query, run,
                    sources_by_addr, wait_until)

DENY, RSTR, RATE = "127.0.0.26", "127.0.0.27", "127.0.0.25"
MIN_INTERVAL = 3.0


def deny(ctx, port):
    fakes = [FakeNtp(ctx, DENY, port, "deny", "--kod", "DENY"),
             FakeNtp(ctx, RSTR, port, "rstr", "--kod", "RSTR")]
    srv = Server(ctx, ["server %s port %d iburst minpoll 0 maxpoll 1" % (a, port)
                       for a in (DENY, RSTR)], name="denied").start()
    return srv, fakes


def check_denied(ctx, srv, fakes, started):
    def removed():
        srcs = sources_by_addr(ctx, srv.sock)
        gone = all(srcs.get(a, {}).get("state", "removed") == "removed" for a in (DENY, RSTR))
        return srcs or True if gone else None
    srcs, _ = wait_until(ctx, 10, removed, "DENY and RSTR sources removed")
    note("DENY and RSTR sources: %s"
         % ({a: r.get("state") for a, r in srcs.items()} if isinstance(srcs, dict) else
            "dropped from the list"))
    time.sleep(max(0.0, 4.0 - (time.time() - started)))  # several more polls, had it kept on
    for f in fakes:
        reqs = f.requests()
        check(len(reqs) == 1, "%s server got %d requests, expected 1: %r"
              % (f.name, len(reqs), reqs))
    st = horloge_json(ctx, srv.sock, "status")
    check(st.get("stratum") == 16 and st.get("source_kind") == "none"
          and st.get("leap") == 3, "status after DENY/RSTR: %r" % st)
    rep, _, _, _ = query(srv.port, timeout=1.0 * ctx.slow)
    check(rep is not None and rep.li == 3 and rep.stratum in (0, 16),
          "reply after DENY/RSTR: %r" % rep)
    log = srv.log()
    for word in ("DENY", "RSTR"):
        check("Kiss-o'-Death " + word in log, "no Kiss-o'-Death %s in the log" % word)
    note("each asked once, then left alone; still unsynchronised (LI %d stratum %d)"
         % (rep.li, rep.stratum))


def check_rate(ctx, srv, fake):
    def backed_off():
        rec = sources_by_addr(ctx, srv.sock).get(RATE, {})
        return rec if isinstance(rec.get("poll"), int) and rec["poll"] >= 2 else None
    rec, secs = wait_until(ctx, 20, backed_off, "poll raised to 2 by RATE kisses")
    polls = []

    def two_more_polls():
        p = sources_by_addr(ctx, srv.sock).get(RATE, {}).get("poll")
        if not polls or polls[-1] != p:
            polls.append(p)
        kinds = [r[3] for r in fake.requests()]
        return "RATE" in kinds and len(kinds) - max(i for i, k in enumerate(kinds) if k == "RATE") > 2
    wait_until(ctx, 20, two_more_polls, "two requests after the last RATE")
    reqs = fake.requests()
    kinds = [r[3] for r in reqs]
    gaps = [b[0] - a[0] for a, b in zip(reqs, reqs[1:])]
    note("RATE server: %d requests: %s" % (len(reqs), ", ".join(
        "%s (poll %d)" % (k, p) for _, _, p, k in reqs)))
    note("intervals (s): %s" % " ".join("%.1f" % g for g in gaps))
    note("`horloge sources` poll 2 after %.1f s, then %r" % (secs, polls))
    check(kinds[:2] == ["RATE", "RATE"], "expected two RATE kisses first: %r" % kinds)
    first_time = kinds.index("time") if "time" in kinds else len(kinds)
    wire = [r[2] for r in reqs[:first_time + 1]]
    check(wire == sorted(wire) and wire[-1] >= 2 and wire[0] == 0,
          "request poll field did not climb 0 -> 2 under RATE: %r" % wire)
    check(all(p is not None and p >= 2 for p in polls), "poll came back down: %r" % polls)
    last_rate = max(i for i, k in enumerate(kinds) if k == "RATE")
    after = gaps[last_rate:]
    check(len(after) >= 2 and all(g >= MIN_INTERVAL for g in after),
          "requests after the last RATE still closer than %.0f s: %r" % (MIN_INTERVAL, after))
    check(kinds.count("RATE") <= 3, "%d RATE kisses: horloged kept pushing" % kinds.count("RATE"))
    stats = horloge_json(ctx, srv.sock, "sourcestats").get("sources", [{}])[0]
    check(stats.get("kod-rate", 0) >= 2, "sourcestats kod-rate: %r" % stats)
    # Selected once its filter has a few samples (core/sync.h SYNC_MIN_SAMPLES), at this poll.
    st, _ = wait_until(ctx, 20, lambda: (lambda s: s if s.get("stratum") == 2 else None)(
        horloge_json(ctx, srv.sock, "status")), "synchronised from the rate-limiting server")
    check(st.get("reference_id") == "0x7F000019",
          "not synchronised from the rate-limiting server: %r" % st)
    note("sourcestats kod-rate %s, samples %s; status stratum %s from %s" % (
        stats.get("kod-rate"), stats.get("samples"), st.get("stratum"), st.get("source")))


def test(ctx):
    ctx.need_horloged("upstream sources")
    port = free_port([DENY, RSTR, RATE])
    fake = FakeNtp(ctx, RATE, port, "rate", "--kod", "RATE", "--min-interval", MIN_INTERVAL)
    rated = Server(ctx, ["server %s port %d iburst minpoll 0 maxpoll 3" % (RATE, port)],
                   name="rated").start()
    srv, fakes = deny(ctx, port)
    started = time.time()
    check_rate(ctx, rated, fake)
    check_denied(ctx, srv, fakes, started)


if __name__ == "__main__":
    run("kod", test)

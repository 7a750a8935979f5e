#!/usr/bin/env python3
"""The log has one line per significant event: horloged -x with two fake upstreams 0.5 s ahead
and a third 0.5 s behind (`makestep 0.1 3`) logs the reference becoming synchronised, the
virtual clock stepped by +0.5 s, a source selected and the liar a falseticker; a good source
stopped is logged lost; SIGHUP with a leap-second list announcing tonight's leap logs the reload
and the leap second; a client over `ratelimit` gets RATE kisses, logged as one summary line
however many were sent (network-triggered lines are rate limited)."""
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import FakeNtp, Server, check, free_port, note, query, run, wait_until

GOOD = ("127.0.0.44", "127.0.0.45")
LIAR = "127.0.0.46"
NTP = 2208988800
DAY = 86400


def write_leap_list(path, leap_tonight):
    now = int(time.time())
    entries = [(1435708800, 36), (1483228800, 37)]
    if leap_tonight:
        entries.append(((now // DAY + 1) * DAY, 38))
    lines = ["#$\t%d" % (now - 30 * DAY + NTP), "#@\t%d" % (now + 150 * DAY + NTP)]
    lines += ["%d\t%d" % (t + NTP, off) for t, off in entries]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def wait_log(ctx, srv, text, timeout=20):
    wait_until(ctx, timeout, lambda: text in srv.log(), "log line %r" % text)
    line = [l for l in srv.log().splitlines() if text in l][0]
    note(line.split(" ", 1)[1])


def test(ctx):
    ctx.need_horloged("horloged's event log")
    if DAY - int(time.time()) % DAY < 120:
        time.sleep(DAY - int(time.time()) % DAY + 2)  # the leap list's "tonight" must stay tonight
    fakes = []
    lines = []
    for addr, shift in ((GOOD[0], 0.5), (GOOD[1], 0.5), (LIAR, -0.5)):
        port = free_port([addr])
        fakes.append(FakeNtp(ctx, addr, port, "up-" + addr.rsplit(".", 1)[1], "--shift", shift))
        lines.append("server %s port %d iburst minpoll -2 maxpoll -2" % (addr, port))
    leaps = ctx.path("leap-seconds.list")
    write_leap_list(leaps, False)
    srv = Server(ctx, lines + ["makestep 0.1 3", "leapseclist " + leaps,
                               "ratelimit interval 3 burst 2 leak 0"], name="events").start()
    wait_log(ctx, srv, "reference: unsynchronised -> synchronised")
    # The step is the measured offset: 0.5 s to within the exchange's delay (0.499990 seen under ASan).
    wait_log(ctx, srv, "clock stepped by +0.")
    step = [l for l in srv.log().splitlines() if "clock stepped by +0." in l][0]
    size = float(re.search(r"clock stepped by \+([0-9.]+)", step).group(1))
    check(abs(size - 0.5) < 0.01, "the step was %.6f s, not 0.5 s: %s" % (size, step))
    wait_log(ctx, srv, ": selected")
    wait_log(ctx, srv, "source %s: falseticker" % LIAR)

    # A good source stops answering: after 8 unanswered polls (0.25 s each) it is lost.
    good = [f for f in fakes if f.addr == GOOD[0]][0]
    good.proc.terminate()
    good.proc.wait()
    wait_log(ctx, srv, "source %s: lost" % GOOD[0])

    write_leap_list(leaps, True)
    srv.signal(signal.SIGHUP)
    wait_log(ctx, srv, "reloaded ")
    wait_log(ctx, srv, "leap second: a second inserted")

    # 50 requests in a burst: over the limit, each gets a RATE kiss (leak 0); one line says so.
    for _ in range(50):
        query(srv.port, timeout=0.2)
    wait_log(ctx, srv, "Kiss-o'-Death sent to clients: ")
    time.sleep(1.5)
    for _ in range(50):
        query(srv.port, timeout=0.2)
    time.sleep(1.5)
    n = srv.log().count("Kiss-o'-Death sent to clients")
    check(n == 1, "%d KoD summary lines for 100 requests over the limit (expected 1)" % n)
    check(srv.alive(), "horloged died")


if __name__ == "__main__":
    run("test_44_event_log", test)

#!/usr/bin/env python3
"""Interleaved mode as a server (RFC 9769): a chronyd client with `xleave` reports interleaved
replies (`chronyc ntpdata`: "Interleaved : Yes", its packet tests all passed, 4 good replies) from horloged
serving from a thread (threads 1) and from the event loop (threads 0), and `serverstats`
counts them (replied_interleaved, kernel_tx_timestamps)."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import (NOCLOCK, Server, Skip, check, chrony_ntpdata, horloge_json, note, run,
                    wait_until)


def test(ctx):
    if os.geteuid() != 0:
        raise Skip("chronyd as a client needs root (it drops to _chrony)")
    ctx.need_horloged("interleaved serving")
    threaded = Server(ctx, ["local stratum 3"], name="threaded").start()
    looped = Server(ctx, ["local stratum 3", "threads 0"], name="looped",
                    listen=("127.0.0.2",)).start()
    sock = ctx.path("client.sock")
    conf = ctx.path("client.conf")
    with open(conf, "w") as f:
        f.write("server 127.0.0.1 port %d xleave minpoll -1 maxpoll -1\n"
                "server 127.0.0.2 port %d xleave minpoll -1 maxpoll -1\n"
                "port 0\ncmdport 0\nbindcmdaddress %s\npidfile %s\n"
                % (threaded.port, looped.port, sock, ctx.path("client.pid")))
    client = ctx.spawn(NOCLOCK + ["chronyd", "-x", "-d", "-f", conf], "client.log")

    for srv, addr in ((threaded, "127.0.0.1"), (looped, "127.0.0.2")):
        def interleaved():
            check(client.poll() is None, "chronyd client exited:\n" + ctx.read("client.log"))
            if not os.path.exists(sock):
                return None
            d = chrony_ntpdata(sock, addr)
            # chronyd fails its test A on the first interleaved reply after a basic one, by design.
            ok = d.get("Interleaved") == "Yes" and "0" not in d.get("NTP tests", "0")
            return d if ok and int(d.get("Total good RX", "0")) >= 4 else None
        d, waited = wait_until(ctx, 30, interleaved, "chronyd takes interleaved replies from %s, all its tests passed"
                               % srv.name)
        note("%s: chronyc ntpdata after %.1f s: Interleaved %s, NTP tests %s, Mode %s, "
             "Offset %s, Peer delay %s" % (srv.name, waited, d.get("Interleaved"),
                                          d.get("NTP tests"), d.get("Mode"), d.get("Offset"),
                                          d.get("Peer delay")))
        stats = horloge_json(ctx, srv.sock, "serverstats")
        note("%s: replied %s, interleaved %s, kernel tx timestamps %s"
             % (srv.name, stats.get("replied"), stats.get("replied_interleaved"),
                stats.get("kernel_tx_timestamps")))
        check(int(stats.get("replied_interleaved", 0)) > 0, "no interleaved reply counted: %r" % stats)
        check(int(stats.get("kernel_tx_timestamps", 0)) > 0, "no transmit timestamp read: %r" % stats)
        # A basic client of the same server still gets basic replies (origin = its transmit).
        r = subprocess.run([ctx.horloge, "-s", srv.sock, "query", "%s:%d" % (addr, srv.port)],
                           capture_output=True, text=True, timeout=10)
        check(r.returncode == 0, "horloge query (basic) failed: %s" % (r.stdout + r.stderr))


if __name__ == "__main__":
    run("xleave-server", test)

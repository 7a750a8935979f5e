#!/usr/bin/env python3
"""Several serving threads (`threads 4`: four SO_REUSEPORT sockets, each with its thread, on each of
127.0.0.1 and ::1): many clients at once all get their own answers (origin checked), serverstats
counts every request, and the clients spread over the sockets of an address."""
import json
import os
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import Reply, Server, build_header, check, note, run

STRATUM = 2
CLIENTS = 24
ROUNDS = 10


def test(ctx):
    have6 = True
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
    except OSError:
        have6 = False
    listen = ("127.0.0.1", "::1") if have6 else ("127.0.0.1",)
    srv = Server(ctx, ["local stratum %d" % STRATUM, "threads 4"], listen=listen).start()
    socks = []
    for i in range(CLIENTS):
        if have6 and i % 4 == 3:
            s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            s.bind(("::1", 0))
            dst = ("::1", srv.port)
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.1.%d" % (i + 1), 0))
            dst = ("127.0.0.1", srv.port)
        s.settimeout(2.0 * ctx.slow)
        socks.append((s, dst))
    answered = 0
    t0 = time.time()
    for _ in range(ROUNDS):
        sent = []
        for s, dst in socks:
            req = build_header()
            s.sendto(req, dst)
            sent.append(req)
        for (s, dst), req in zip(socks, sent):
            rep = Reply(s.recv(2048))
            check(rep.org == struct.unpack("!Q", req[40:48])[0], "reply to another request")
            check(rep.stratum == STRATUM and rep.mode == 4, "bad reply %r" % rep)
            answered += 1
    took = time.time() - t0
    for s, _ in socks:
        s.close()
    note("%d clients x %d rounds: %d answered in %.2f s" % (CLIENTS, ROUNDS, answered, took))
    check(answered == CLIENTS * ROUNDS, "answered %d of %d" % (answered, CLIENTS * ROUNDS))
    if ctx.is_horloged():
        r = subprocess.run([ctx.horloge, "-s", srv.sock, "serverstats", "--json"],
                           capture_output=True, text=True, timeout=30 * ctx.slow)
        check(r.returncode == 0, "serverstats: %s" % r.stderr)
        st = json.loads(r.stdout)
        note("serverstats: threads %s, sockets %s (%s used), received %s, replied %s"
             % (st.get("threads"), st.get("sockets"), st.get("sockets_used"), st.get("received"),
                st.get("replied")))
        check(st.get("threads") == 4, "serverstats threads: %r" % st.get("threads"))
        check(st.get("sockets") == 4 * len(listen), "serverstats sockets: %r" % st.get("sockets"))
        # 18 IPv4 clients hashed over 4 sockets all landing on 2 or fewer: odds about 2e-5.
        spread = 4 if have6 else 3
        check(st.get("sockets_used", 0) >= spread, "requests reached %r sockets, not >= %d: not spread"
              % (st.get("sockets_used"), spread))
        check(st.get("replied", 0) >= CLIENTS * ROUNDS, "replied counter %r < %d"
              % (st.get("replied"), CLIENTS * ROUNDS))
    rc, took = srv.stop()
    check(rc == 0, "exit code %r after SIGTERM with 4 threads" % rc)
    note("SIGTERM with 4 threads: stopped in %.3f s" % took)


if __name__ == "__main__":
    run("threads", test)

#!/usr/bin/env python3
"""Stuck control-socket clients stall nothing. With `threads 0` (serving shares the event loop with
the control socket: the hard case) and with the default `threads 1`: while control connections are
opened that never send, one sends half a request, and one asks for `clients` and never reads the
answer, 1000 NTP requests are all answered with a p99 of a few ms, and `horloge status` still
answers at once. The stuck connections are closed by the daemon's deadline (5 s)."""
import os
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import Reply, Server, build_header, check, horloge_json, note, run

STRATUM = 3
REQUESTS = 1000
DISTINCT_CLIENTS = 64      # so that `clients` has a full answer to not read
SILENT = 6
DEADLINE = 5.0             # CONTROL_DEADLINE_SECONDS


def make_distinct_clients(port):
    for i in range(DISTINCT_CLIENTS):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.2.%d" % (i + 1), 0))
            s.sendto(build_header(), ("127.0.0.1", port))


def open_stuck_client(sock_path, kind):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(sock_path)
    if kind == "partial":
        c.sendall(b"sta")
    elif kind == "unread":
        c.sendall(b"clients\n")
    return c


def timed_status(ctx, sock_path):
    t0 = time.time()
    r = subprocess.run([ctx.horloge, "-s", sock_path, "status"], capture_output=True, text=True,
                       timeout=30 * ctx.slow)
    return r, time.time() - t0


def closed_by_daemon(c):
    c.setblocking(False)
    try:
        data = c.recv(1 << 20)
        while data:
            more = c.recv(1 << 20)
            if not more:
                return True
            data = more
        return True
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


def serve_while_stuck(ctx, srv):
    """1000 requests from one socket; stuck control clients are opened as they run."""
    kinds = ["silent"] * SILENT + ["partial", "unread"]
    stuck, rtts, lost = [], [], 0
    status = None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(1.0 * ctx.slow)
        for i in range(REQUESTS):
            if i % 50 == 0 and kinds:
                stuck.append(open_stuck_client(srv.sock, kinds.pop(0)))
            if i == REQUESTS // 2:
                status = timed_status(ctx, srv.sock)
            req = build_header()
            t0 = time.perf_counter()
            s.sendto(req, ("127.0.0.1", srv.port))
            try:
                while True:
                    rep = Reply(s.recv(2048))
                    if rep.org == struct.unpack("!Q", req[40:48])[0]:
                        break
            except socket.timeout:
                lost += 1
                continue
            rtts.append(time.perf_counter() - t0)
            check(rep.stratum == STRATUM and rep.mode == 4, "bad reply %r" % rep)
    return stuck, rtts, lost, status


def one_mode(ctx, threads_line):
    srv = Server(ctx, ["local stratum %d" % STRATUM, "allow all"] + threads_line,
                 name="srv%d" % len(ctx.servers)).start()
    make_distinct_clients(srv.port)
    t_open = time.time()
    stuck, rtts, lost, (st, st_secs) = serve_while_stuck(ctx, srv)
    rtts.sort()
    p50 = rtts[len(rtts) // 2] * 1e3
    p99 = rtts[int(len(rtts) * 0.99)] * 1e3
    mode = threads_line[0] if threads_line else "threads 1 (default)"
    note("%s: %d stuck control clients; %d/%d answered, p50 %.3f ms, p99 %.3f ms, max %.3f ms; "
         "horloge status in %.3f s" % (mode, len(stuck), len(rtts), REQUESTS, p50, p99, rtts[-1] * 1e3,
                                       st_secs))
    check(lost == 0, "%s: %d of %d requests unanswered" % (mode, lost, REQUESTS))
    check(p99 < 5.0 * ctx.slow, "%s: p99 %.3f ms while control clients hang" % (mode, p99))
    # The old control socket waited 200 ms per stuck read: a stall shows as one slow reply.
    stalled = [r for r in rtts if r > 0.1 * ctx.slow]
    check(not stalled, "%s: %d replies took over %.0f ms" % (mode, len(stalled), 100 * ctx.slow))
    check(st.returncode == 0 and "Stratum:" in st.stdout, "%s: horloge status: %s %s"
          % (mode, st.returncode, st.stderr))
    check(st_secs < 1.0 * ctx.slow, "%s: horloge status took %.3f s" % (mode, st_secs))
    stats = horloge_json(ctx, srv.sock, "serverstats")
    want = int(threads_line[0].split()[1]) if threads_line else 1
    check(stats.get("threads") == want and stats.get("sockets") == 1,
          "%s: serverstats threads %r sockets %r" % (mode, stats.get("threads"), stats.get("sockets")))
    # The unread answer was written whole (it fits the socket's buffer); the others time out.
    time.sleep(max(0.0, t_open + DEADLINE + 1.5 * ctx.slow - time.time()))
    closed = sum(closed_by_daemon(c) for c in stuck)
    note("%s: %d of %d stuck clients closed by the daemon after %.1f s"
         % (mode, closed, len(stuck), time.time() - t_open))
    check(closed == len(stuck), "%s: %d of %d stuck clients still open after the deadline"
          % (mode, len(stuck) - closed, len(stuck)))
    for c in stuck:
        c.close()
    rc, took = srv.stop()
    check(rc == 0, "%s: exit code %r after SIGTERM" % (mode, rc))
    note("%s: stopped in %.3f s" % (mode, took))


def test(ctx):
    ctx.need_horloged("the control socket")
    one_mode(ctx, ["threads 0"])
    one_mode(ctx, [])


if __name__ == "__main__":
    run("slow_control", test)

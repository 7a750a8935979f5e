#!/usr/bin/env python3
"""Flood and abuse. horloged with `clientlogsize 1024` and `ratelimit interval 0 burst 4 leak 2`
takes 3 requests from each of 30,000 source addresses across 127.0.0.0/8 (one bound socket
each, briefly), plus one address hammering it, while a legitimate client (127.0.0.1) asks
once a second (within its limit of one a second on average):
- the client table stays within its configured size (serverstats clients_tracked <= 1024) and
  the daemon's resident memory grows by less than 2 MB (VmRSS before and after, printed);
- the legitimate client is answered every time (one retry allowed), with time;
- Kiss-o'-Death replies are themselves rate limited: the hammering address gets RATE KoDs for
  about one in 2^leak = 4 of its limited requests, never one per request, and is otherwise
  dropped."""
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import Server, build_header, check, horloge_json, note, query, run

ADDRESSES = 30000
PER_ADDRESS = 3
TABLE = 1024
BURST = 4
HAMMER, HAMMER_N = "127.0.0.77", 400
RSS_GROWTH_MAX_KB = 2048


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def flood_address(k):
    """The k-th flood source: 127.1.0.1 upwards, never .0 or .255 in the last byte."""
    k = k + k // 254 * 2 + 1
    return "127.%d.%d.%d" % (1 + (k >> 16), (k >> 8) & 0xFF, k & 0xFF)


def flood(port):
    req = build_header(xmt=0)
    for k in range(ADDRESSES):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((flood_address(k), 0))
            for _ in range(PER_ADDRESS):
                s.sendto(req, ("127.0.0.1", port))


def hammer(port):
    """HAMMER_N requests from one address as fast as replies allow; (time replies, RATE KoDs)."""
    normal = kod = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HAMMER, 0))
        s.settimeout(0.01)
        for _ in range(HAMMER_N):
            s.sendto(build_header(), ("127.0.0.1", port))
            try:
                rep = s.recv(512)
            except socket.timeout:
                continue
            if rep[1] == 0 and rep[12:16] == b"RATE":
                kod += 1
            else:
                normal += 1
    return normal, kod


def legitimate(ctx, port, stop, results):
    """Once a second, retrying once as clients do: a datagram lost in a full socket buffer
    on a loaded test machine is not the server refusing the client."""
    while not stop.is_set():
        for attempt in range(2):
            rep, _, _, _ = query(port, src="127.0.0.1", timeout=1.0 * ctx.slow)
            if rep is not None:
                break
        results.append(rep is not None and rep.stratum == 3)
        stop.wait(1.0)


def test(ctx):
    srv = Server(ctx, ["local stratum 3", "clientlogsize %d" % TABLE,
                       "ratelimit interval 0 burst %d leak 2" % BURST], probe_src="127.0.0.9").start()
    time.sleep(0.3)
    rss0 = rss_kb(srv.proc.pid)
    stop, answered = threading.Event(), []
    legit = threading.Thread(target=legitimate, args=(ctx, srv.port, stop, answered))
    legit.start()
    t0 = time.time()
    try:
        flood(srv.port)
        t_flood = time.time() - t0
        t1 = time.time()
        normal, kod = hammer(srv.port)
        t_hammer = time.time() - t1
    finally:
        stop.set()
        legit.join()
    rss1 = rss_kb(srv.proc.pid)
    check(srv.alive(), "server died under the flood")
    note("%d requests from %d addresses in %.1f s; VmRSS %d kB -> %d kB (+%d kB)"
         % (ADDRESSES * PER_ADDRESS, ADDRESSES, t_flood, rss0, rss1, rss1 - rss0))
    check(rss1 - rss0 < RSS_GROWTH_MAX_KB, "resident memory grew by %d kB" % (rss1 - rss0))
    check(answered and all(answered), "legitimate client answered %d of %d times"
          % (sum(answered), len(answered)))
    note("legitimate client answered %d of %d times during the flood" % (sum(answered), len(answered)))
    limited = HAMMER_N - normal
    note("hammering address: %d requests, %d time replies, %d RATE KoDs (limited %d)"
         % (HAMMER_N, normal, kod, limited))
    # One token a second comes back while it hammers.
    check(normal <= BURST + 2 + int(t_hammer), "hammering address got %d time replies" % normal)
    check(0 < kod <= limited // 2, "%d RATE KoDs for %d limited requests: KoDs not rate limited"
          % (kod, limited))
    if ctx.is_horloged():
        st = horloge_json(ctx, srv.sock, "serverstats")
        check(st["clients_tracked"] <= TABLE and st["client_table_entries"] == TABLE,
              "client table: %d tracked, room %d" % (st["clients_tracked"], st["client_table_entries"]))
        note("serverstats: %d received, %d replied, %d rate limited, %d KoD RATE; client table "
             "%d of %d entries" % (st["received"], st["replied"], st["rate_limited"],
                                   st["kod_rate"], st["clients_tracked"], st["client_table_entries"]))


if __name__ == "__main__":
    run("flood", test)

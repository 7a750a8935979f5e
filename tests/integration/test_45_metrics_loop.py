#!/usr/bin/env python3
"""The metrics endpoint lives in the event loop without ever holding it: horloged with `threads 0`
(one thread, everything in poll()) and `metrics [::1]:PORT` (127.0.0.1 without IPv6) keeps
answering NTP promptly while 16 HTTP connections sit idle and one sends half a request; a 17th
connection is refused by the limit, and once the idle ones have timed out (5 s) /metrics is served
again. Only GET is served, unknown paths are 404. A reload that moves the endpoint says it takes
effect at the next start and the old one goes on."""
import os
import signal
import socket
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import Server, check, free_port, note, query, run, wait_until


def loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return "::1", "[::1]"
    except OSError:
        return "127.0.0.1", "127.0.0.1"


def get(url, timeout, method="GET"):
    """(HTTP status, body), or (0, reason) when the connection failed or was closed."""
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""
    except (OSError, urllib.error.URLError) as e:
        return 0, str(e)


def ntp_round_trips(ctx, srv, n):
    worst = 0.0
    for _ in range(n):
        rep, _, t0, t1 = query(srv.port, timeout=1.0 * ctx.slow)
        check(rep is not None and rep.stratum == 10, "no NTP reply while HTTP clients hang: %r" % rep)
        worst = max(worst, t1 - t0)
    return worst


def test(ctx):
    ctx.need_horloged("the metrics endpoint")
    addr, shown = loopback()
    port = free_port()
    conf = ["local stratum 10", "threads 0", "metrics %s:%d" % (shown, port)]
    srv = Server(ctx, conf, name="loop").start()
    url = "http://%s:%d/" % (shown, port)
    status, body = get(url + "metrics", 5 * ctx.slow)
    check(status == 200 and "horloge_stratum 10" in body, "/metrics: %d %r" % (status, body[:300]))
    check(get(url + "nowhere", 5 * ctx.slow)[0] == 404, "unknown path not 404")
    check(get(url, 5 * ctx.slow, method="POST")[0] == 405, "POST not refused")

    hanging = []
    for i in range(16):
        s = socket.create_connection((addr, port), timeout=5)
        if i == 0:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # never finished
        hanging.append(s)
    time.sleep(0.3)
    worst = ntp_round_trips(ctx, srv, 20)
    check(worst < 0.2 * ctx.slow, "NTP replies slowed to %.3f s by hanging HTTP clients" % worst)
    note("16 HTTP connections hanging: 20 NTP replies, the slowest in %.1f ms" % (worst * 1e3))
    status, _ = get(url + "metrics", 2)
    check(status == 0, "a 17th HTTP connection was served (limit 16): %r" % status)
    t0 = time.time()
    wait_until(ctx, 15, lambda: (lambda r: r if r[0] == 200 else None)(get(url + "metrics", 2)),
               "/metrics again after the idle connections timed out")
    note("17th connection refused; /metrics served again %.1f s later" % (time.time() - t0))
    for s in hanging:
        s.close()
    for _ in range(50):
        get(url + "metrics", 2)  # plenty of connections...
    for _ in range(20):
        socket.create_connection((addr, port), timeout=5)  # ...and refusals, whose log lines are bounded
    n = srv.log().count("connection limit")
    check(n <= 20, "%d log lines about the connection limit: not rate limited" % n)

    srv.write_conf(["local stratum 10", "threads 0", "metrics %s:%d" % (shown, free_port())])
    srv.signal(signal.SIGHUP)
    wait_until(ctx, 10, lambda: "metrics changed; takes effect at the next start" in srv.log(), "reload warning")
    check(get(url + "metrics", 5 * ctx.slow)[0] == 200, "the old endpoint stopped after the reload")
    note("reload: 'metrics changed; takes effect at the next start', the old endpoint still serves")


if __name__ == "__main__":
    run("test_45_metrics_loop", test)

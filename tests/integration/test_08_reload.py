#!/usr/bin/env python3
"""SIGHUP reload: `local stratum 5` -> `local stratum 7` is served after a HUP; a broken config
on the next HUP keeps the daemon running with stratum 7 and logs why."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import Server, check, check_server_reply, note, query, run


def stratum_now(ctx, srv):
    rep, req, t0, t1 = query(srv.port, timeout=1.0 * ctx.slow)
    check(rep is not None, "no reply")
    check_server_reply(rep, req, t0, t1, tol=0.05 * ctx.slow)
    return rep.stratum


def wait_stratum(ctx, srv, want, timeout):
    deadline = time.time() + timeout * ctx.slow
    s = None
    while time.time() < deadline:
        s = stratum_now(ctx, srv)
        if s == want:
            return True
        time.sleep(0.1)
    return False


def test(ctx):
    ctx.need_horloged("config reload on SIGHUP")
    srv = Server(ctx, ["local stratum 5"]).start()
    check(stratum_now(ctx, srv) == 5, "stratum is not 5 at start")
    pid = srv.proc.pid

    srv.write_conf(["local stratum 7"])
    t0 = time.time()
    srv.signal(signal.SIGHUP)
    check(wait_stratum(ctx, srv, 7, 5), "stratum is still %s 5 s after SIGHUP"
          % stratum_now(ctx, srv))
    note("SIGHUP: stratum 5 -> 7 in %.2f s" % (time.time() - t0))

    log_before = len(srv.log())
    srv.write_conf(["local stratum 7", "local stratum 99", "frobnicate"])
    srv.signal(signal.SIGHUP)
    time.sleep(1.0 * ctx.slow)
    check(srv.alive(), "daemon died on a bad reload (exit %s)" % srv.proc.returncode)
    check(srv.proc.pid == pid, "daemon pid changed")
    for _ in range(3):
        check(stratum_now(ctx, srv) == 7, "stratum changed after a bad reload")
    new_log = srv.log()[log_before:]
    want = "%s:%d:" % (srv.conf_path, len(srv.base_lines()) + 2)
    check(want in new_log, "no `%s` error logged after the bad reload; log:\n%s"
          % (want, new_log))
    note("bad reload kept stratum 7 and logged: %s"
         % [l for l in new_log.splitlines() if want in l][0].strip())

    # A later good config still applies after the rejected one.
    srv.write_conf(["local stratum 6"])
    srv.signal(signal.SIGHUP)
    check(wait_stratum(ctx, srv, 6, 5), "a good config after a bad one did not apply")
    note("then a good reload: stratum 6")

    # The access list and the rate limits are reloaded too.
    srv.write_conf(["local stratum 6", "deny 127.0.0.2", "allow", "denyaction kod"])
    srv.signal(signal.SIGHUP)
    deadline = time.time() + 5 * ctx.slow
    rep = None
    while time.time() < deadline:
        rep, _, _, _ = query(srv.port, src="127.0.0.2", timeout=0.5 * ctx.slow)
        if rep is not None and rep.refid == b"DENY":
            break
        time.sleep(0.1)
    check(rep is not None and rep.stratum == 0 and rep.refid == b"DENY",
          "127.0.0.2 not denied after reloading `deny 127.0.0.2`: %r" % rep)
    check(stratum_now(ctx, srv) == 6, "127.0.0.1 not served after the ACL reload")
    srv.write_conf(["local stratum 6", "ratelimit interval 4 burst 2 leak 0"])
    srv.signal(signal.SIGHUP)
    deadline = time.time() + 5 * ctx.slow
    got_rate = False
    while time.time() < deadline and not got_rate:
        for _ in range(4):
            rep, _, _, _ = query(srv.port, src="127.0.0.7", timeout=0.5 * ctx.slow)
            got_rate = got_rate or (rep is not None and rep.refid == b"RATE")
        time.sleep(0.2)
    check(got_rate, "no RATE KoD after reloading a ratelimit")
    rep, _, _, _ = query(srv.port, src="127.0.0.2", timeout=1.0 * ctx.slow)
    check(rep is not None and rep.stratum == 6, "127.0.0.2 still denied after the deny went: %r"
          % rep)
    note("reloads apply `deny` (DENY KoD to 127.0.0.2), then a ratelimit (RATE KoD)")
    rc, took = srv.stop()
    check(rc == 0, "exit code %r after SIGTERM" % rc)


if __name__ == "__main__":
    run("reload", test)

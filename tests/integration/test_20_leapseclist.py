#!/usr/bin/env python3
"""`leapseclist PATH`: horloged -x with `local stratum 10` and a leap-seconds.list written here
whose next entry is the coming UTC midnight announces LI=1 (that midnight is always less than a day
away, so now is always in the last day before it), and `horloge tracking`/`status` say so; after
SIGHUP the changed file applies: an entry two days out gives LI=0, a decreasing offset LI=2, an
expired list is ignored. An unparsable file is logged as FILE:LINE and ignored: at start the daemon
runs with LI=0; on SIGHUP the list read before stays."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import Server, check, check_server_reply, horloge_json, note, query, run, wait_until

NTP = 2208988800
DAY = 86400
JUL_2015 = 1435708800
JAN_2017 = 1483228800


def write_list(path, entries, updated_ago=30 * DAY, expires_in=150 * DAY, extra=()):
    """A list in the IETF format: `#$` last update, `#@` expiry, NTP seconds and TAI-UTC."""
    now = int(time.time())
    lines = ["#\tleap second list written by test_20_leapseclist",
             "#$\t%d" % (now - updated_ago + NTP),
             "#@\t%d" % (now + expires_in + NTP), "#"]
    lines += ["%d\t%d\t# %s" % (t + NTP, off, time.strftime("%d %b %Y", time.gmtime(t)))
              for t, off in entries]
    lines += list(extra)
    lines.append("#h\t01234567 89abcdef 01234567 89abcdef 01234567")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return len(lines)


def reply(ctx, srv):
    rep, req, t0, t1 = query(srv.port, timeout=1.0 * ctx.slow)
    check(rep is not None, "no reply from %s" % srv.name)
    check_server_reply(rep, req, t0, t1, tol=0.05 * ctx.slow)
    check(rep.stratum == 10 and rep.refid == b"LOCL", "%s is not the local stratum 10: %r"
          % (srv.name, rep))
    return rep


def wait_li(ctx, srv, want, what):
    rep, secs = wait_until(ctx, 5, lambda: (lambda r: r if r.li == want else None)(reply(ctx, srv)),
                           "%s: LI=%d" % (what, want))
    for _ in range(3):  # and it stays
        got = reply(ctx, srv)
        check(got.li == want, "%s: LI went back to %d" % (what, got.li))
    return secs


def test(ctx):
    ctx.need_horloged("horloged's leapseclist")
    to_midnight = DAY - int(time.time()) % DAY
    if to_midnight < 60:
        note("%d s to UTC midnight: waiting for the new day" % to_midnight)
        time.sleep(to_midnight + 2)
    midnight = (int(time.time()) // DAY + 1) * DAY
    today = time.strftime("%Y-%m-%d", time.gmtime(midnight - 1))
    base = [(JUL_2015, 36), (JAN_2017, 37)]
    path = ctx.path("leap-seconds.list")

    # 1. The coming midnight inserts a second: LI=1 from the start.
    write_list(path, base + [(midnight, 38)])
    srv = Server(ctx, ["local stratum 10", "leapseclist " + path]).start()
    wait_li(ctx, srv, 1, "entry at the coming midnight")
    tr = horloge_json(ctx, srv.sock, "tracking")
    check(tr.get("leap_status") == "insert second" and tr.get("leap_source") == "leapseclist"
          and tr.get("tai_offset") == 37, "tracking: %r" % tr)
    st = horloge_json(ctx, srv.sock, "status")
    check(st.get("leap") == 1, "status leap: %r" % st)
    check("next leap second at the end of %s" % today in srv.log(),
          "the loaded list is not logged:\n" + srv.log()[-2000:])
    note("entry at %s 24:00 UTC (in %.1f h): LI=1, tracking leap_status %r, TAI-UTC %s"
         % (today, (midnight - time.time()) / 3600, tr["leap_status"], tr["tai_offset"]))

    # 2. SIGHUP after the file changed: an entry two days out is no leap yet.
    write_list(path, base + [(midnight + DAY, 38)])
    srv.signal(signal.SIGHUP)
    secs = wait_li(ctx, srv, 0, "entry two days out")
    check(horloge_json(ctx, srv.sock, "tracking").get("leap_status") == "normal", "tracking not normal")
    note("entry two days out, after SIGHUP: LI=0 within %.1f s" % secs)

    # 3. A decreasing offset deletes a second: LI=2.
    write_list(path, base + [(midnight, 36)])
    srv.signal(signal.SIGHUP)
    wait_li(ctx, srv, 2, "negative leap at the coming midnight")
    check(horloge_json(ctx, srv.sock, "tracking").get("leap_status") == "delete second",
          "tracking not delete second")
    note("offset 37 -> 36 at the coming midnight: LI=2")

    # 4. An expired list says nothing; the local reference's own 0 holds.
    log_at = len(srv.log())
    write_list(path, base + [(midnight, 38)], updated_ago=200 * DAY, expires_in=-DAY)
    srv.signal(signal.SIGHUP)
    wait_li(ctx, srv, 0, "expired list")
    wait_until(ctx, 5, lambda: "has expired" in srv.log()[log_at:], "expiry warning")
    tr = horloge_json(ctx, srv.sock, "tracking")
    check(tr.get("leap_source") == "sources" and tr.get("leapseclist_expired") == "yes",
          "tracking with an expired list: %r" % tr)
    note("expired list: LI=0, logged: %s" % [l for l in srv.log()[log_at:].splitlines()
                                             if "has expired" in l][0].split(": ", 1)[-1])

    # 5. Good again, then a broken file on SIGHUP: FILE:LINE logged, the list read before stays.
    write_list(path, base + [(midnight, 38)])
    srv.signal(signal.SIGHUP)
    wait_li(ctx, srv, 1, "good list again")
    log_at = len(srv.log())
    n = write_list(path, base + [(midnight, 39)])
    bad_line = n - 1  # the entry before the #h line
    srv.signal(signal.SIGHUP)
    want = "%s:%d: " % (path, bad_line)
    wait_until(ctx, 5, lambda: want in srv.log()[log_at:], "`%s` logged" % want)
    check(srv.alive(), "daemon died on a bad leap second list")
    wait_li(ctx, srv, 1, "bad list on SIGHUP keeps the previous one")
    note("broken list on SIGHUP: LI stays 1, logged %s"
         % [l for l in srv.log()[log_at:].splitlines() if want in l][0].split(" warning: ")[-1])

    # 6. Started with the broken file: it runs, logs FILE:LINE once, LI=0; `-t` only warns.
    bad = Server(ctx, ["local stratum 10", "leapseclist " + path], name="bad").start()
    wait_li(ctx, bad, 0, "daemon started with a broken list")
    log = bad.log()
    check(log.count(want) == 1, "`%s` not logged exactly once:\n%s" % (want, log[-2000:]))
    r = subprocess.run([ctx.horloged, "-t", "-f", bad.conf_path], capture_output=True, text=True,
                       timeout=20 * ctx.slow)
    check(r.returncode == 0 and want in r.stderr, "-t with a broken list: exit %d, stderr %r"
          % (r.returncode, r.stderr))
    note("started with it: serving stratum 10 with LI=0; `-t` exit 0 with the warning")

    # 7. A missing file is a warning too.
    missing = ctx.path("no-such.list")
    bad.write_conf(["local stratum 10", "leapseclist " + missing])
    log_at = len(bad.log())
    bad.signal(signal.SIGHUP)
    wait_until(ctx, 5, lambda: "leapseclist %s: No such file" % missing in bad.log()[log_at:],
               "missing file warning")
    wait_li(ctx, bad, 0, "missing list")
    check(srv.alive() and bad.alive(), "a daemon died")
    note("missing file: warning logged, LI=0")


if __name__ == "__main__":
    run("leapseclist", test)

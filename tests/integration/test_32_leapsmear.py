#!/usr/bin/env python3
"""`leapsmear linear`: horloged -x with `local stratum 10` and a leap-seconds.list whose next
entry is the coming UTC midnight (so a second is inserted tonight) serves LI 0 where a server
without the smear serves LI 1, and its served time is the system clock minus the part of the
second already smeared (linear over 24 h centred on the leap: 0 before noon UTC, growing at
11.6 ppm after), measured by NTP queries; `horloge tracking` shows both the leap status the
system clock follows (insert second) and the served one (normal), the curve and the offset."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import Server, check, horloge_json, note, ntp_to_unix, query, run, wait_until
from test_20_leapseclist import DAY, JAN_2017, JUL_2015, write_list


def expected_offset(leap_at, now):
    """Served - system: minus the linear smear's fraction (the window is 24 h centred on the leap)."""
    return -min(1.0, max(0.0, (now - leap_at + DAY / 2) / DAY))


def measured_offset(ctx, srv):
    rep, req, t0, t1 = query(srv.port, timeout=1.0 * ctx.slow)
    check(rep is not None, "no reply from %s" % srv.name)
    return rep, ((ntp_to_unix(rep.rec) - t0) + (ntp_to_unix(rep.xmt) - t1)) / 2


def test(ctx):
    ctx.need_horloged("horloged's leapsmear")
    to_midnight = DAY - int(time.time()) % DAY
    if to_midnight < 60:
        time.sleep(to_midnight + 2)
    midnight = (int(time.time()) // DAY + 1) * DAY
    path = ctx.path("leap-seconds.list")
    write_list(path, [(JUL_2015, 36), (JAN_2017, 37), (midnight, 38)])
    plain = Server(ctx, ["local stratum 10", "leapseclist " + path], name="plain").start()
    smear = Server(ctx, ["local stratum 10", "leapseclist " + path, "leapsmear linear"],
                   name="smear").start()
    wait_until(ctx, 5, lambda: measured_offset(ctx, plain)[0].li == 1, "LI 1 without the smear")
    for _ in range(3):
        rep, off = measured_offset(ctx, smear)
        want = expected_offset(midnight, time.time())
        check(rep.li == 0 and rep.stratum == 10, "smearing server's reply: %r" % rep)
        check(abs(off - want) < 0.005 * ctx.slow, "served offset %.6f s, the curve says %.6f s"
              % (off, want))
        time.sleep(0.3)
    tr = horloge_json(ctx, smear.sock, "tracking")
    check(tr.get("leapsmear") == "linear" and tr.get("leap_status") == "insert second"
          and tr.get("served_leap_status") == "normal", "tracking: %r" % tr)
    check(abs(float(tr.get("served_time_offset")) - expected_offset(midnight, time.time())) < 0.001,
          "tracking served_time_offset: %r" % tr)
    text = subprocess.run([ctx.horloge, "-s", smear.sock, "tracking"], capture_output=True,
                          text=True, timeout=10).stdout
    check("Leap smear      : linear" in text, "tracking text: %s" % text)
    plain_tr = horloge_json(ctx, plain.sock, "tracking")
    check(plain_tr.get("leapsmear") == "off" and float(plain_tr.get("served_time_offset")) == 0.0,
          "plain tracking: %r" % plain_tr)
    note("leap in %.1f h: LI 0 served (1 without the smear), served offset %.6f s (curve %.6f s)"
         % ((midnight - time.time()) / 3600, off, want))


if __name__ == "__main__":
    run("leapsmear", test)

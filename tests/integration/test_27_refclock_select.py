#!/usr/bin/env python3
"""Reference clocks are sources like any other, and pulses need their seconds numbered.

1. Outvoted: horloged has three `chronyd -x` servers (127.0.0.31-33) and a reference clock whose
   readings (SOCK) say the time is 0.3 s ahead; the servers outvote it: `horloge sources` marks it
   a falseticker and horloged serves stratum 2 from a server.
2. Locked pulses: another horloged has a coarse clock (SOCK readings 100 ms late, as NMEA is,
   configured `offset 0.1 delay 0.1 noselect`, refid NMEA: read, never selected) and a pulse clock (SOCK datagrams with the
   pulse flag, whose offset is known only modulo 1 s: the reference is 200 us ahead of this
   machine) with `lock NMEA`. The pulses are numbered by the coarse clock and selected: stratum 1,
   refid PPS, serving this machine's time + 200 us. When the coarse clock stops, the pulses
   can no longer be numbered: counted as `pulses_unnumbered`, the PPS clock's reach drains and
   it is no longer selected."""
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import (Server, check, chronyd_upstream, free_port, horloge_json, note, run, served_offset,
                    wait_until)

SOCK_MAGIC = 0x534f434b
TRUE = ["127.0.0.31", "127.0.0.32", "127.0.0.33"]
PPS_AHEAD = 0.0002


def sock_sample(t, offset, pulse=0):
    sec = int(t)
    return struct.pack("@qqdiiiI", sec, int((t - sec) * 1e6), offset, pulse, 0, 0, SOCK_MAGIC)


class Sender(threading.Thread):
    """Every 0.25 s, each (path, offset function, pulse flag) gets a datagram while enabled."""

    def __init__(self):
        super().__init__(daemon=True)
        self.feeds = {}
        self.running = True

    def run(self):
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            while self.running:
                now = time.time()
                for path, (offset_of, pulse) in list(self.feeds.items()):
                    try:
                        s.sendto(sock_sample(now, offset_of(now), pulse), path)
                    except OSError:
                        pass  # not created yet
                time.sleep(0.25)


def state_of(ctx, srv, name):
    for rec in horloge_json(ctx, srv.sock, "sources").get("sources", []):
        if rec.get("name") == name:
            return rec
    return {}


def test(ctx):
    ctx.need_horloged("reference clocks")
    sender = Sender()
    sender.start()
    ctx.on_cleanup(lambda: setattr(sender, "running", False))

    # 1. A reference clock outvoted by three servers.
    port = free_port(TRUE)
    for i, addr in enumerate(TRUE):
        chronyd_upstream(ctx, addr, port, "up%d" % i)
    bad_path = ctx.path("bad.sock")
    bad_name = "BAD (SOCK %s)" % bad_path
    voted = Server(ctx, ["server %s port %d iburst minpoll 0 maxpoll 2" % (a, port) for a in TRUE]
                   + ["refclock SOCK %s refid BAD poll 0 delay 0.001" % bad_path], name="voted").start()
    sender.feeds[bad_path] = (lambda now: 0.3, 0)

    # 2. Pulses numbered by a coarse clock.
    nmea_path, pps_path = ctx.path("nmea.sock"), ctx.path("pps.sock")
    pps_name = "PPS (SOCK %s)" % pps_path
    locked = Server(ctx, ["refclock SOCK %s refid NMEA poll 0 offset 0.1 delay 0.1 noselect" % nmea_path,
                          "refclock SOCK %s refid PPS lock NMEA poll 0 prefer" % pps_path], name="locked").start()
    sender.feeds[nmea_path] = (lambda now: -0.1 + PPS_AHEAD, 0)
    # A pulse says the time modulo 1 s only: its offset is sent off by a varying whole second.
    sender.feeds[pps_path] = (lambda now: PPS_AHEAD + int(now) % 3 - 1, 1)

    def outvoted():
        rec = state_of(ctx, voted, bad_name)
        st = horloge_json(ctx, voted.sock, "status")
        return (rec, st) if rec.get("state") == "falseticker" and str(st.get("stratum")) == "2" else None
    (rec, st), waited = wait_until(ctx, 30, outvoted, "the 0.3 s-wrong reference clock marked a falseticker")
    note("outvoted after %.1f s: %s is %s (reach %s); serving stratum %s from %s" % (
        waited, bad_name.split(" ")[0], rec.get("state"), rec.get("reach"), st.get("stratum"), st.get("source")))
    check(st.get("source") in TRUE, "voted: source %r" % st.get("source"))

    def pps_selected():
        st = horloge_json(ctx, locked.sock, "status")
        return st if str(st.get("stratum")) == "1" and st.get("reference_id_text") == "PPS" else None
    st, waited = wait_until(ctx, 30, pps_selected, "the locked pulses selected")
    check(st.get("source") == pps_name, "locked: source %r" % st.get("source"))
    nmea = state_of(ctx, locked, "NMEA (SOCK %s)" % nmea_path)
    check(nmea.get("state") == "noselect" and nmea.get("reach") != "000", "NMEA clock: %r" % nmea)

    # Numbered right, the pulses measure +200 us (less what the -x clock has already taken in);
    # numbered a second wrong they would measure about 1 s. Then the -x clock converges on them.
    stats = [r for r in horloge_json(ctx, locked.sock, "sourcestats").get("sources", [])
             if r.get("name") == pps_name][0]
    check(abs(float(stats.get("offset", "1"))) < 0.001, "PPS filtered offset %r" % stats.get("offset"))

    def served_pps_time():
        med = served_offset(locked.port)
        return med if med is not None and abs(med - PPS_AHEAD) < 50e-6 else None
    served, waited2 = wait_until(ctx, 30, served_pps_time, "serving the pulses' time (200 us ahead, within 50 us)")
    note("pulses numbered by NMEA: stratum 1 refid PPS after %.1f s; PPS filtered offset then %.0f us; serving "
         "%.0f us ahead after %.1f s more; pulses %s, unnumbered %s (before the first NMEA reading)"
         % (waited, float(stats.get("offset")) * 1e6, served * 1e6, waited2, stats.get("pulse_readings"),
            stats.get("pulses_unnumbered")))

    # The coarse clock stops: no pulse can be numbered any more.
    del sender.feeds[nmea_path]

    last = [None]

    def pps_lost():
        rec = state_of(ctx, locked, pps_name)
        st = horloge_json(ctx, locked.sock, "tracking")
        last[0] = (rec, st)
        return (rec, st) if rec.get("reach") == "000" and rec.get("state") != "selected" else None
    try:
        (rec, st), waited = wait_until(ctx, 30, pps_lost, "pulses dropped once the lock is lost")
    except Exception:
        note("last seen: %r" % (last[0],))
        raise
    stats = [r for r in horloge_json(ctx, locked.sock, "sourcestats").get("sources", [])
             if r.get("name") == pps_name][0]
    check(int(stats.get("pulses_unnumbered", "0")) > 0, "no pulse counted unnumbered: %r" % stats)
    note("lock lost: after %.1f s the PPS clock's reach is %s, state %s, %s pulses unnumbered; tracking: %s"
         % (waited, rec.get("reach"), rec.get("state"), stats.get("pulses_unnumbered"), st.get("reference_mode")))


if __name__ == "__main__":
    run("refclock-select", test)

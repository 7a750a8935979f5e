#!/usr/bin/env python3
"""A reference clock through the SOCK driver (chrony's socket protocol, as gpsd writes it): readings
sent by this test make horloged a stratum-1 server with refid GPS, which `horloge status` names as
`GPS (SOCK path)`, `horloge sources` lists, and a chronyd client accepts; bad datagrams are counted,
and when the readings stop the reference clock becomes unreachable."""
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import (NOCLOCK, Server, check, horloge_json, note, query, run, served_offset, wait_until)

SOCK_MAGIC = 0x534f434b
OFFSET = 0.0002  # the reference is 200 us ahead of this machine's clock


def sock_sample(t, offset, leap=0, pulse=0, magic=SOCK_MAGIC):
    """chrony's struct sock_sample on this host: timeval, double offset, pulse, leap, pad, magic."""
    sec = int(t)
    return struct.pack("@qqdiiiI", sec, int((t - sec) * 1e6), offset, pulse, leap, 0, magic)


class Gps(threading.Thread):
    """Sends a reading every 0.2 s to the daemon's socket, as gpsd does once per second."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.running = True
        self.sent = 0

    def run(self):
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            while self.running:
                try:
                    s.sendto(sock_sample(time.time(), OFFSET), self.path)
                    self.sent += 1
                except OSError:
                    pass  # the daemon has not created its socket yet
                time.sleep(0.2)


def test(ctx):
    ctx.need_horloged("reference clocks")
    path = ctx.path("gps.sock")
    srv = Server(ctx, ["refclock SOCK %s refid GPS poll 0 precision -20" % path]).start()
    gps = Gps(path)
    gps.start()
    ctx.on_cleanup(lambda: setattr(gps, "running", False))

    def synced():
        st = horloge_json(ctx, srv.sock, "status")
        return st if str(st.get("stratum")) == "1" else None
    st, waited = wait_until(ctx, 30, synced, "stratum 1 from the reference clock")
    note("synchronised to the reference clock after %.1f s: %s" % (waited, st.get("source")))
    check(st.get("reference_id_text") == "GPS", "status refid %r, expected GPS" % st.get("reference_id_text"))
    check(st.get("source") == "GPS (SOCK %s)" % path, "status source %r" % st.get("source"))
    check(st.get("source_kind") == "refclock", "status source_kind %r" % st.get("source_kind"))

    rep, req, t0, t1 = query(srv.port)
    check(rep is not None and rep.stratum == 1 and rep.refid_text() == "GPS" and rep.li == 0,
          "reply not stratum 1 / GPS: %r" % rep)

    srcs = horloge_json(ctx, srv.sock, "sources").get("sources", [])
    check(len(srcs) == 1, "sources lists %d entries: %r" % (len(srcs), srcs))
    gps_src = srcs[0]
    note("horloge sources: %r" % gps_src)
    check(gps_src.get("kind") == "refclock" and gps_src.get("state") == "selected",
          "the reference clock is not the selected refclock source: %r" % gps_src)
    check(gps_src.get("name") == "GPS (SOCK %s)" % path, "source name %r" % gps_src.get("name"))

    # Under -x the daemon serves what it tracks: the reference's time, 200 us ahead of this clock.
    def near_reference():
        med = served_offset(srv.port)
        return med if med is not None and abs(med - OFFSET) < 30e-6 else None
    off, waited = wait_until(ctx, 40, near_reference, "serving the reference clock's time")
    note("served time is %.1f us ahead of this clock (the reference's %.0f us) after %.1f s more"
         % (off * 1e6, OFFSET * 1e6, waited))

    # A real client accepts us as a stratum-1 server.
    cmd = NOCLOCK + ["chronyd", "-x", "-Q", "-f", "/dev/null",
                     "server 127.0.0.1 port %d iburst maxsamples 4" % srv.port,
                     "pidfile %s" % ctx.path("q.pid")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=40 * ctx.slow)
    m = re.search(r"System clock wrong by (-?[0-9.]+) seconds", r.stdout + r.stderr)
    check(r.returncode == 0 and m, "chronyd -Q did not accept us:\n%s" % (r.stdout + r.stderr))
    check(abs(float(m.group(1)) - OFFSET) < 0.002, "chronyd -Q measured %s s" % m.group(1))
    note("chronyd -Q: %s" % m.group(0))

    # Bad datagrams are dropped and counted, never taken.
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(b"\0" * 12, path)
        s.sendto(sock_sample(time.time(), 5.0, magic=0x1234), path)
        s.sendto(sock_sample(time.time(), float("nan")), path)

    def counted():
        recs = horloge_json(ctx, srv.sock, "sourcestats").get("sources", [])
        return recs and int(recs[0].get("bad_readings", "0")) >= 3 and recs[0]
    stats, _ = wait_until(ctx, 10, counted, "bad readings counted")
    note("sourcestats: %r" % stats)
    check(abs(float(stats.get("offset", "1")) + 0.0) < 0.01, "filtered offset %r" % stats.get("offset"))

    # The readings stop: the reach register drains and the clock is no longer selected.
    gps.running = False
    gps.join()

    def lost():
        recs = horloge_json(ctx, srv.sock, "sources").get("sources", [])
        return recs and recs[0].get("reach") == "000" and recs[0].get("state") != "selected" and recs[0]
    rec, waited = wait_until(ctx, 30, lost, "reference clock unreachable after its readings stop")
    note("readings stopped: reach %s, state %s after %.1f s" % (rec.get("reach"), rec.get("state"), waited))


if __name__ == "__main__":
    run("refclock-sock", test)

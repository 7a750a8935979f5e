#!/usr/bin/env python3
"""A real gpsd as horloged's reference clock, through SHM and through SOCK: this test plays a GPS
receiver sending NMEA ($GPRMC, $GPGGA, $GPZDA) stamped with the current second, once a second;
gpsd (Debian's, `-N -n -b`) reads it and writes the time to NTP SHM segment 0 as root does. One
horloged (-x) takes it with `refclock SHM 0 refid GPS`, another with `refclock SOCK PATH refid GPS`;
both serve stratum 1 with refid GPS, and a chronyd client (-x) accepts the first.

Two things gpsd itself decides, and how the test lives with them:
- gpsd exports no time at all from a pseudo-terminal (ntpshm_link_activate: "don't talk to NTP when
  we're running inside the test harness", it classifies the device by its major number), so the
  receiver is on a TCP socket instead (`tcp://127.0.0.1:PORT`, gpsd's networked-receiver source),
  which gpsd treats as a real receiver;
- gpsd writes chrony's SOCK datagrams only for PPS edges (its PPS thread), which need a serial
  port's DCD line or a /dev/ppsN — this machine has neither. The SOCK path gets gpsd's own time
  reports instead: the TOFF messages gpsd sends its clients, the same (real, clock) pair it
  writes to SHM, forwarded in the datagram gpsd's chrony_send builds from such a pair.
NMEA time is coarse: our receiver sends its sentences 50 ms (+-10 ms) after the second it names,
so both refclocks say `offset 0.05 delay 0.05` and the test expects tens of milliseconds, not
microseconds. The test runs in an IPC namespace of its own, so segment 0 is nobody else's."""
import json
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import (EXIT_SKIP, NOCLOCK, Server, Skip, check, free_port, horloge_json, note, query, run,
                    served_offset, wait_until)

SOCK_MAGIC = 0x534f434b
NMEA_LATE = 0.05      # our receiver's sentences leave this long after the second they name
NMEA_JITTER = 0.01    # +- this
REFCLOCK_OPTS = "refid GPS poll 1 offset %.3f delay 0.05 precision -7" % NMEA_LATE


def rerun_in_ipcns():
    """Runs this script again in an IPC namespace of its own (SysV segments private to it and the
    gpsd and horloged it starts); inside, returns None and the test goes on."""
    if os.environ.get("HL_IPCNS"):
        return None
    if os.geteuid() != 0 or not shutil.which("unshare"):
        print("SKIP: an IPC namespace needs root and unshare", flush=True)
        return EXIT_SKIP
    env = dict(os.environ, HL_IPCNS="1")
    return subprocess.run(["unshare", "--ipc", sys.executable] + sys.argv, env=env).returncode


def nmea(body):
    cks = 0
    for ch in body:
        cks ^= ord(ch)
    return "$%s*%02X\r\n" % (body, cks)


def sentences(sec):
    tm = time.gmtime(sec)
    hms = time.strftime("%H%M%S", tm) + ".00"
    return [nmea("GPRMC,%s,A,4807.038,N,01131.000,E,0.0,0.0,%s,,,A" % (hms, time.strftime("%d%m%y", tm))),
            nmea("GPGGA,%s,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,," % hms),
            nmea("GPZDA,%s,%s,00,00" % (hms, time.strftime("%d,%m,%Y", tm)))]


class Receiver(threading.Thread):
    """A GPS receiver on a TCP socket: a burst of NMEA per second, stamped with the system clock."""

    def __init__(self):
        super().__init__(daemon=True)
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.running = True
        self.sent = 0

    def run(self):
        conn, _ = self.listener.accept()
        with conn:
            while self.running:
                now = time.time()
                sec = int(now) + 1
                time.sleep(sec + NMEA_LATE + random.uniform(-NMEA_JITTER, NMEA_JITTER) - now)
                try:
                    conn.sendall("".join(sentences(sec)).encode())
                    self.sent += 1
                except OSError:
                    return


class ToffToSock(threading.Thread):
    """gpsd's TOFF reports (real = the GPS's time, clock = the system's when it was received), each
    sent to horloged's SOCK socket as chrony's sock_sample: tv = clock, offset = real - clock."""

    def __init__(self, gpsd_port, path):
        super().__init__(daemon=True)
        self.gpsd_port, self.path = gpsd_port, path
        self.running = True
        self.forwarded = 0

    def run(self):
        while self.running:
            try:
                self.forward()
            except OSError:
                time.sleep(0.2)  # gpsd not listening yet

    def forward(self):
        with socket.create_connection(("127.0.0.1", self.gpsd_port), timeout=1) as c, \
                socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as out:
            c.sendall(b'?WATCH={"enable":true,"json":true,"pps":true};\n')
            buf = b""
            while self.running:
                try:
                    data = c.recv(65536)
                except socket.timeout:
                    continue
                if not data:
                    return
                buf += data
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    self.send_toff(out, line)

    def send_toff(self, out, line):
        try:
            msg = json.loads(line)
        except ValueError:
            return
        if msg.get("class") != "TOFF":
            return
        real = msg["real_sec"] + msg["real_nsec"] * 1e-9
        clock_sec, clock_usec = msg["clock_sec"], msg["clock_nsec"] // 1000
        offset = real - (clock_sec + clock_usec * 1e-6)
        try:
            out.sendto(struct.pack("@qqdiiiI", clock_sec, clock_usec, offset, 0, 0, 0, SOCK_MAGIC),
                       self.path)
            self.forwarded += 1
        except OSError:
            pass  # the daemon has not created its socket yet


def start_gpsd(ctx, rx_port, gpsd_port):
    p = ctx.spawn(["gpsd", "-N", "-n", "-b", "-S", str(gpsd_port), "tcp://127.0.0.1:%d" % rx_port],
                  "gpsd.log")

    def kill():  # gpsd can sit out a SIGTERM for seconds; nothing of it needs a clean stop
        if p.poll() is None:
            p.kill()
            p.wait()
    ctx.on_cleanup(kill)
    return p


def wait_stratum1(ctx, srv, source):
    def synced():
        st = horloge_json(ctx, srv.sock, "status")
        return st if str(st.get("stratum")) == "1" else None
    st, waited = wait_until(ctx, 40, synced, "%s at stratum 1 from gpsd" % srv.name)
    note("%s: stratum 1 after %.1f s more, source %s, refid %s"
         % (srv.name, waited, st.get("source"), st.get("reference_id_text")))
    check(st.get("reference_id_text") == "GPS", "%s refid %r" % (srv.name, st.get("reference_id_text")))
    check(st.get("source") == source, "%s source %r, expected %r" % (srv.name, st.get("source"), source))
    rep, _, _, _ = query(srv.port)
    check(rep is not None and rep.stratum == 1 and rep.refid_text() == "GPS" and rep.li == 0,
          "%s reply not stratum 1 / GPS / LI 0: %r" % (srv.name, rep))
    src = horloge_json(ctx, srv.sock, "sources").get("sources", [{}])[0]
    check(src.get("kind") == "refclock" and src.get("state") == "selected" and src.get("name") == source,
          "%s: horloge sources: %r" % (srv.name, src))


def test(ctx):
    ctx.need_horloged("reference clocks")
    if not shutil.which("gpsd"):
        raise Skip("gpsd is not installed (Debian package gpsd; tools/deps.sh installs it)")
    rx = Receiver()
    rx.start()
    gpsd_port = free_port()
    gpsd = start_gpsd(ctx, rx.port, gpsd_port)
    sock_path = ctx.path("chrony.gps0.sock")
    bridge = ToffToSock(gpsd_port, sock_path)
    bridge.start()
    ctx.on_cleanup(lambda: (setattr(rx, "running", False), setattr(bridge, "running", False)))

    shm = Server(ctx, ["refclock SHM 0 " + REFCLOCK_OPTS], name="shm").start()
    sock = Server(ctx, ["refclock SOCK %s %s" % (sock_path, REFCLOCK_OPTS)], name="sock").start()
    check(gpsd.poll() is None, "gpsd exited: %s" % ctx.read("gpsd.log")[-2000:])
    wait_stratum1(ctx, shm, "GPS (SHM 0)")
    segs = subprocess.run(["ipcs", "-m"], capture_output=True, text=True).stdout
    seg0 = [l.split() for l in segs.splitlines() if l.startswith("0x4e545030")]
    check(seg0 and seg0[0][3] == "600", "SHM 0 is not root-only (0600): %r" % seg0)
    note("SHM 0 (key 0x4e545030): owner %s, mode %s, as ntpd and gpsd make units 0 and 1" % (seg0[0][2], seg0[0][3]))
    wait_stratum1(ctx, sock, "GPS (SOCK %s)" % sock_path)
    note("receiver sent %d NMEA bursts, %d gpsd TOFF reports forwarded to SOCK" % (rx.sent, bridge.forwarded))

    # Under -x each serves what it tracks: gpsd's time, which is this machine's to within the
    # receiver's jitter once the configured offset takes out its 50 ms lateness.
    for srv in (shm, sock):
        off, waited = wait_until(ctx, 20, lambda: (lambda o: o if o is not None and abs(o) < 0.02 else None)(
            served_offset(srv.port)), "%s serving gpsd's time within 20 ms" % srv.name)
        note("%s serves time %.1f ms from this clock" % (srv.name, off * 1e3))
        stats = horloge_json(ctx, srv.sock, "sourcestats").get("sources", [{}])[0]
        note("%s sourcestats: readings %s, offset %s, jitter %s" % (srv.name, stats.get("readings"),
             stats.get("offset"), stats.get("jitter")))

    # A real client accepts the SHM-fed server as stratum 1.
    cmd = NOCLOCK + ["chronyd", "-x", "-Q", "-f", "/dev/null",
                     "server 127.0.0.1 port %d iburst maxsamples 4" % shm.port, "pidfile %s" % ctx.path("q.pid")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=40 * ctx.slow)
    m = re.search(r"System clock wrong by (-?[0-9.]+) seconds", r.stdout + r.stderr)
    check(r.returncode == 0 and m, "chronyd -Q did not accept us:\n%s" % (r.stdout + r.stderr))
    check(abs(float(m.group(1))) < 0.03, "chronyd -Q measured %s s" % m.group(1))
    note("chronyd -Q against the SHM-fed server: %s" % m.group(0))


if __name__ == "__main__":
    rc = rerun_in_ipcns()
    if rc is not None:
        sys.exit(rc)
    run("refclock-gpsd", test)

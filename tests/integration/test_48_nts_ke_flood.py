#!/usr/bin/env python3
"""NTS-KE under a connection flood: from hundreds of source addresses across 127.0.0.0/8, thousands
of TCP connections to the NTS-KE port that stay idle, dribble a TLS ClientHello a byte at a time
(slowloris) or send garbage. Meanwhile horloged keeps answering NTP, new legitimate NTS-KE
handshakes (`horloge ntske`) succeed, and its memory and open descriptors stay bounded;
serverstats counts the evictions. Then 30 connections at once from one address: 8 are held, the
rest refused at once and counted."""
import errno
import os
import resource
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import Server, Skip, check, horloge_json, note, query, run
from ntshelp import free_tcp_ports, horloged_nts_lines, make_test_ca

FLOOD_SECONDS = 10
TARGET_OPEN = 2000
NEW_PER_ROUND = 150
HELLO = bytes.fromhex("160301020001000200030300") + os.urandom(64)


def proc_status(pid):
    with open("/proc/%d/status" % pid) as f:
        fields = dict(l.split(":", 1) for l in f)
    return int(fields["VmRSS"].split()[0]), len(os.listdir("/proc/%d/fd" % pid))


class Flood:
    """Non-blocking attack connections, renewed as the server drops them; bounded in count and time."""

    def __init__(self, port):
        self.port = port
        self.open = []          # (socket, kind, bytes sent)
        self.opened = 0
        self.dropped_by_server = 0
        self.src = 0

    def next_source(self):
        self.src += 1
        return "127.0.%d.%d" % (1 + self.src // 250 % 200, 1 + self.src % 250)

    def connect_some(self):
        for _ in range(min(NEW_PER_ROUND, TARGET_OPEN - len(self.open))):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.bind((self.next_source(), 0))
                s.connect_ex(("127.0.0.1", self.port))
            except OSError:
                s.close()
                continue
            kind = ("idle", "slow", "junk")[self.opened % 3]
            self.open.append([s, kind, 0])
            self.opened += 1

    def feed(self):
        keep = []
        for entry in self.open:
            s, kind, sent = entry
            try:
                if kind == "slow" and sent < len(HELLO):
                    entry[2] += s.send(HELLO[sent:sent + 1], socket.MSG_NOSIGNAL)
                elif kind == "junk" and sent < 4096:
                    entry[2] += s.send(os.urandom(256), socket.MSG_NOSIGNAL)
                if s.recv(4096, socket.MSG_DONTWAIT) == b"":
                    raise ConnectionResetError()
            except (BlockingIOError, InterruptedError):
                pass
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.ENOTCONN, errno.EINPROGRESS):
                    self.dropped_by_server += 1
                    s.close()
                    continue
            keep.append(entry)
        self.open = keep

    def close(self):
        for s, _, _ in self.open:
            s.close()
        self.open = []


def legit_checks(ctx, srv, ntsport, ca, stop, results):
    while not stop.is_set():
        rep, _, _, _ = query(srv.port, timeout=1.0)
        results["ntp"].append(rep is not None)
        t0 = time.time()
        import subprocess
        r = subprocess.run([ctx.horloge, "ntske", "127.0.0.1", "-p", str(ntsport), "--cafile", ca],
                           capture_output=True, text=True, timeout=20)
        ok = r.returncode == 0 and r.stdout.count("cookie ") == 8
        results["ke"].append((ok, time.time() - t0, "exit %d: %s %s" % (r.returncode, r.stderr.strip(), r.stdout[-200:])))
        time.sleep(0.5)


def test(ctx):
    ctx.need_horloged("the NTS-KE server's bounds")
    if os.geteuid() != 0:
        raise Skip("binding many 127.0.0.0/8 source addresses and raising the descriptor limit needs root")
    resource.setrlimit(resource.RLIMIT_NOFILE, (TARGET_OPEN + 1024, TARGET_OPEN + 1024))
    ca, cert, key = make_test_ca(ctx)
    ntsport, = free_tcp_ports(1)
    srv = Server(ctx, ["local stratum 2"] + horloged_nts_lines(cert, key, ntsport)).start()
    rss0, fds0 = proc_status(srv.proc.pid)

    flood = Flood(ntsport)
    stop = threading.Event()
    results = {"ntp": [], "ke": []}
    checker = threading.Thread(target=legit_checks, args=(ctx, srv, ntsport, ca, stop, results))
    checker.start()
    peak_open, peak_fds, peak_rss = 0, fds0, rss0
    t_end = time.time() + FLOOD_SECONDS
    try:
        while time.time() < t_end:
            flood.connect_some()
            flood.feed()
            peak_open = max(peak_open, len(flood.open))
            rss, fds = proc_status(srv.proc.pid)
            peak_rss, peak_fds = max(peak_rss, rss), max(peak_fds, fds)
            time.sleep(0.05)
    finally:
        stop.set()
        checker.join()
        flood.close()
    check(srv.alive(), "horloged died under the flood:\n" + srv.log()[-2000:])
    ntp_ok = sum(results["ntp"])
    ke_ok = [r for r in results["ke"] if r[0]]
    note("flood: %d attack connections opened from %d addresses (at most %d open at once), %d dropped "
         "by the server" % (flood.opened, min(flood.src, 50000), peak_open, flood.dropped_by_server))
    note("during it: NTP %d/%d answered, NTS-KE %d/%d handshakes completed (slowest %.2f s); "
         "horloged RSS %d -> %d kB, descriptors %d -> %d"
         % (ntp_ok, len(results["ntp"]), len(ke_ok), len(results["ke"]),
            max((r[1] for r in ke_ok), default=0), rss0, peak_rss, fds0, peak_fds))
    check(flood.opened >= 2000, "the flood opened only %d connections" % flood.opened)
    check(results["ntp"] and ntp_ok == len(results["ntp"]), "NTP went unanswered during the flood: %d/%d"
          % (ntp_ok, len(results["ntp"])))
    failures = [r for r in results["ke"] if not r[0]]
    if failures:
        note("failed handshakes: %r" % failures)
    check(results["ke"] and len(failures) <= len(results["ke"]) // 5,
          "legitimate NTS-KE handshakes failed during the flood: %r" % failures[:3])
    check(peak_fds < fds0 + 256 + 16, "descriptors grew from %d to %d" % (fds0, peak_fds))
    # Under ASan freed memory waits in its quarantine (256 MB by default) before it is reused.
    quarantine = 320 * 1024 if "san" in os.path.basename(ctx.build) else 0
    check(peak_rss < rss0 + 64 * 1024 + quarantine, "RSS grew from %d to %d kB" % (rss0, peak_rss))
    # After the flood, at once: a handshake succeeds.
    import subprocess
    r = subprocess.run([ctx.horloge, "ntske", "127.0.0.1", "-p", str(ntsport), "--cafile", ca],
                       capture_output=True, text=True, timeout=20)
    check(r.returncode == 0, "NTS-KE failed right after the flood: %s" % r.stderr)
    stats = horloge_json(ctx, srv.sock, "serverstats")
    note("serverstats: " + ", ".join("%s %s" % (k, v) for k, v in sorted(stats.items()) if k.startswith("ntske")))
    check(stats.get("ntske_completed", 0) >= len(ke_ok) and stats.get("ntske_evicted", 0) > 0,
          "serverstats does not show the handshakes and evictions: %r" % stats)
    check_one_address_bounded(ctx, srv, ntsport, stats.get("ntske_rate_limited", 0))


def check_one_address_bounded(ctx, srv, ntsport, limited_before):
    """30 connections at once from one address: at most 8 held (NTS_KE_MAX_PER_CLIENT) and 16 in a
    burst (ntsratelimit's default): the rest are closed at once and counted."""
    socks = []
    for _ in range(30):
        s = socket.socket()
        s.bind(("127.0.0.9", 0))
        s.connect(("127.0.0.1", ntsport))
        socks.append(s)
    time.sleep(0.5)
    closed = 0
    for s in socks:
        try:
            closed += s.recv(1, socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
        s.close()
    limited = horloge_json(ctx, srv.sock, "serverstats").get("ntske_rate_limited", 0) - limited_before
    note("30 connections at once from 127.0.0.9: %d closed at once, %d counted as refused" % (closed, limited))
    check(closed >= 22 and limited >= 22, "one address held more than 8 NTS-KE connections: %d closed, %d refused"
          % (closed, limited))


if __name__ == "__main__":
    run("nts-ke-flood", test)

#!/usr/bin/env python3
"""chronyd as a client accepts the server's replies: a one-shot `chronyd -Q` measurement, and a
lasting chronyd client that selects the server (^*) at the configured stratum."""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import NOCLOCK, Server, Skip, check, note, run

STRATUM = 4


def test(ctx):
    if os.geteuid() != 0:
        raise Skip("chronyd as a client needs root (it drops to _chrony)")
    srv = Server(ctx, ["local stratum %d" % STRATUM]).start()

    # One-shot: chronyd -Q prints the offset it measured and exits without touching the clock.
    cmd = NOCLOCK + ["chronyd", "-x", "-Q", "-f", "/dev/null",
                     "server 127.0.0.1 port %d iburst maxsamples 4" % srv.port,
                     "pidfile %s" % ctx.path("q.pid")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=40 * ctx.slow)
    out = r.stdout + r.stderr
    m = re.search(r"System clock wrong by (-?[0-9.]+) seconds", out)
    check(r.returncode == 0 and m, "chronyd -Q (exit %d) did not measure:\n%s" % (r.returncode, out))
    offset = float(m.group(1))
    check(abs(offset) < 0.01, "chronyd -Q measured an offset of %.6f s on the same clock" % offset)
    note("chronyd -Q: %s" % m.group(0))

    # A lasting client with a command socket in a _chrony-owned directory.
    sock = ctx.path("client.sock")
    conf = ctx.path("client.conf")
    with open(conf, "w") as f:
        f.write("server 127.0.0.1 port %d iburst minpoll 0 maxpoll 1\n"
                "port 0\ncmdport 0\nbindcmdaddress %s\npidfile %s\n"
                % (srv.port, sock, ctx.path("client.pid")))
    client = ctx.spawn(NOCLOCK + ["chronyd", "-x", "-d", "-f", conf], "client.log")
    deadline = time.time() + 40 * ctx.slow
    line = ""
    while time.time() < deadline:
        check(client.poll() is None, "chronyd client exited:\n" + ctx.read("client.log"))
        if os.path.exists(sock):
            r = subprocess.run(["chronyc", "-h", sock, "-n", "sources"], capture_output=True,
                               text=True, timeout=10)
            for l in r.stdout.splitlines():
                if "127.0.0.1" in l:
                    line = l
            if line.startswith("^*"):
                break
        time.sleep(0.5)
    check(line.startswith("^*"), "chronyd never selected the server: %r\nclient log:\n%s"
          % (line, ctx.read("client.log")[-2000:]))
    fields = line.split()
    check(fields[2] == str(STRATUM), "chronyc shows stratum %s, expected %d: %r"
          % (fields[2], STRATUM, line))
    note("chronyc sources: %s" % line)
    r = subprocess.run(["chronyc", "-h", sock, "-n", "ntpdata", "127.0.0.1"], capture_output=True,
                       text=True, timeout=10)
    tests = None
    for l in r.stdout.splitlines():
        if re.match(r"(Mode|Stratum|Reference ID|Leap status|Root delay|Root dispersion|"
                    r"NTP tests|Total valid RX|Total good RX)\s*:", l):
            note("ntpdata  " + l)
        if l.startswith("NTP tests"):
            tests = l.split(":", 1)[1].strip()
    # chrony's RFC 5905 packet tests for the last reply, e.g. "111 111 1111": all must pass.
    check(tests is not None and "0" not in tests, "chronyd's packet tests failed: %r\n%s"
          % (tests, r.stdout))


if __name__ == "__main__":
    run("chrony-client", test)

#!/usr/bin/env python3
"""NTPsec's ntpdig accepts the reply. ntpdig only talks to port 123, so the server runs on port
123 inside a network namespace of our own."""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import Server, Skip, check, note, run

STRATUM = 2


def test(ctx):
    if shutil.which("ntpdig") is None:
        raise Skip("ntpdig not installed")
    ns = "hl-test-%d" % os.getpid()
    r = subprocess.run(["ip", "netns", "add", ns], capture_output=True, text=True)
    if r.returncode != 0:
        raise Skip("cannot create a network namespace: %s" % r.stderr.strip())
    ctx.on_cleanup(lambda: subprocess.run(["ip", "netns", "del", ns], capture_output=True))
    r = subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"],
                       capture_output=True, text=True)
    check(r.returncode == 0, "cannot bring lo up in %s: %s" % (ns, r.stderr))

    srv = Server(ctx, ["local stratum %d" % STRATUM], port=123, netns=ns,
                 listen=("127.0.0.1", "::1")).start()
    check(srv.alive(), "server not running")

    # ntpdig sends LI=3 VN=4 mode 3 (0xe3); one sample, three in a row, then over IPv6.
    for samples, host in (("1", "127.0.0.1"), ("3", "127.0.0.1"), ("1", "::1")):
        argv = ["ip", "netns", "exec", ns, "ntpdig", "-j", "-t", str(int(2 * ctx.slow)),
                "-p", samples, host]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30 * ctx.slow)
        check(r.returncode == 0, "ntpdig -p %s failed (exit %d): %s %s"
              % (samples, r.returncode, r.stdout, r.stderr))
        line = [l for l in r.stdout.splitlines() if l.startswith("{")]
        check(line, "ntpdig printed no JSON: %r" % r.stdout)
        j = json.loads(line[-1])
        note("ntpdig -p %s %s: %s" % (samples, host, line[-1]))
        check(j.get("stratum") == STRATUM, "ntpdig saw stratum %r, expected %d"
              % (j.get("stratum"), STRATUM))
        check(abs(float(j["offset"])) < 0.01, "ntpdig offset %r on the same clock" % j["offset"])
        check(j.get("leap") in ("no-leap", "no_leap", "none", 0, "0"),
              "ntpdig leap %r" % j.get("leap"))
        check(not j.get("adjusted"), "ntpdig claims it adjusted the clock")

    rc, took = srv.stop()
    check(rc == 0, "server exit code %r after SIGTERM" % rc)


if __name__ == "__main__":
    run("ntpdig", test)

#!/usr/bin/env python3
"""`horloge windows-setup --server 192.0.2.10` and `... --gpo` print, byte for byte, the golden
files tests/integration/golden/windows-setup*.txt when no daemon answers (the default
configuration assumed, and said so); with a running horloged (`local stratum 7`) the script
carries its stratum, reference ID and precision as `horloge status --json` gives them, and the
stratum w32time will show (8). A bad option is refused with exit 2.
HL_UPDATE_GOLDEN=1 rewrites the golden files from the current output."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import Fail, Server, check, horloge_json, note, run

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")


def windows_setup(ctx, sock, *args):
    r = subprocess.run([ctx.horloge, "-s", sock, "windows-setup"] + list(args), capture_output=True,
                       text=True, timeout=30 * ctx.slow)
    return r.returncode, r.stdout, r.stderr


def compare_golden(ctx, name, args):
    rc, out, err = windows_setup(ctx, "/nonexistent/horloged.sock", *args)
    check(rc == 0 and not err, "windows-setup %s: exit %d %s" % (" ".join(args), rc, err))
    path = os.path.join(GOLDEN, name)
    if os.environ.get("HL_UPDATE_GOLDEN"):
        with open(path, "w") as f:
            f.write(out)
    with open(path) as f:
        want = f.read()
    if out != want:
        got, exp = out.splitlines(), want.splitlines()
        first = next((i for i in range(max(len(got), len(exp)))
                      if i >= len(got) or i >= len(exp) or got[i] != exp[i]), 0)
        raise Fail("windows-setup %s differs from %s at line %d:\n  got:  %r\n  want: %r"
                   % (" ".join(args), name, first + 1, got[first] if first < len(got) else None,
                      exp[first] if first < len(exp) else None))
    note("windows-setup %s = golden/%s (%d lines)" % (" ".join(args), name, len(want.splitlines())))


def test(ctx):
    ctx.need_horloged("horloge windows-setup")
    compare_golden(ctx, "windows-setup.txt", ["--server", "192.0.2.10"])
    compare_golden(ctx, "windows-setup-gpo.txt", ["--gpo", "--server", "ntp.example.org"])
    rc, _, err = windows_setup(ctx, "/nonexistent", "--bogus")
    check(rc == 2 and "--bogus" in err, "a bad option: exit %d %r" % (rc, err))

    srv = Server(ctx, ["local stratum 7"]).start()
    status = horloge_json(ctx, srv.sock, "status")
    rc, out, err = windows_setup(ctx, srv.sock, "--server", "ntp.example.org")
    check(rc == 0, "windows-setup with a daemon: exit %d %s" % (rc, err))
    want = ["This server now: stratum 7, leap indicator 0, reference ID LOCL, precision %s"
            % status["precision"],
            "Stratum: 8 (secondary reference - syncd by (S)NTP)   [this server's 7 + 1]",
            'w32tm /config /manualpeerlist:"ntp.example.org,0x8" /syncfromflags:manual /update',
            "ReferenceId: 0x........ (source IP:  the address ntp.example.org resolves to)"]
    for w in want:
        check(w in out, "windows-setup with the daemon lacks %r:\n%s" % (w, out))
    check("not answering" not in out, "windows-setup did not reach the daemon:\n" + out)
    note("with horloged running: stratum 7 -> w32tm shows 8, refid LOCL, precision %s"
         % status["precision"])


if __name__ == "__main__":
    run("windows_setup", test)

#!/usr/bin/env python3
"""The CLI: `horloge status` (text and --json) shows the local reference, `serverstats` counts
received/answered/dropped by reason, `clients` lists 127.0.0.1, `horloge query` prints samples
from horloged and from chronyd."""
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import Fail, Server, build_header, check, exchange, note, query, run

STRATUM = 4


def cli(ctx, *args, ok=True):
    r = subprocess.run([ctx.horloge] + list(args), capture_output=True, text=True,
                       timeout=30 * ctx.slow)
    if ok:
        check(r.returncode == 0, "horloge %s: exit %d\n%s%s"
              % (" ".join(args), r.returncode, r.stdout, r.stderr))
    return r


def cli_json(ctx, sock, command):
    r = cli(ctx, "-s", sock, command, "--json")
    try:
        return json.loads(r.stdout)
    except ValueError as e:
        raise Fail("horloge %s --json is not JSON (%s): %r" % (command, e, r.stdout))


def check_query_output(ctx, out, port, stratum, count):
    lines = [l for l in out.splitlines() if l.strip()]
    samples = [l for l in lines if re.search(r"stratum %d\b" % stratum, l)]
    check(len(samples) == count, "expected %d samples at stratum %d, got:\n%s"
          % (count, stratum, out))
    for l in samples:
        check(":%d" % port in l, "sample does not name the server: %r" % l)
        m = re.search(r"offset ([-+]?[0-9.]+) s", l)
        check(m and abs(float(m.group(1))) < 0.01, "sample offset missing or large: %r" % l)
        m = re.search(r"delay ([0-9.]+) s", l)
        check(m and 0 <= float(m.group(1)) < 0.1 * ctx.slow, "sample delay missing or odd: %r" % l)


def query_chronyd(ctx):
    srv = Server(ctx, ["local stratum 6"], name="chronyd", kind="chronyd").start()
    r = cli(ctx, "query", "127.0.0.1:%d" % srv.port, "-c", "2", "-i", "0.3")
    check_query_output(ctx, r.stdout, srv.port, 6, 2)
    note("horloge query against chronyd: " + r.stdout.splitlines()[0])
    r = cli(ctx, "query", "127.0.0.1:%d" % srv.port, "--json")
    j = json.loads(r.stdout.splitlines()[0])
    check(j.get("stratum") == 6 and j.get("mode") == 4, "query --json vs chronyd: %r" % j)
    srv.stop()


def test(ctx):
    check(os.access(ctx.horloge, os.X_OK), "no CLI at %s" % ctx.horloge)
    if os.geteuid() == 0:
        query_chronyd(ctx)
    if not ctx.is_horloged():
        note("status/serverstats/clients are horloged-specific: not checked against %s"
             % ctx.target)
        return
    srv = Server(ctx, ["local stratum %d" % STRATUM]).start()
    sock = srv.sock

    r = cli(ctx, "-s", sock, "status")
    text = r.stdout
    for pat in (r"^Stratum:\s+%d\b" % STRATUM, r"^Reference ID:.*LOCL",
                r"^Source:\s+local clock \(reliable time source\)", r"^Leap indicator:\s+0\b",
                r"^Precision:\s+-\d+", r"^Root dispersion:"):
        check(re.search(pat, text, re.M), "status lacks /%s/:\n%s" % (pat, text))
    note("status:\n    " + text.strip().replace("\n", "\n    "))
    st = cli_json(ctx, sock, "status")
    check(st.get("stratum") == STRATUM, "status --json stratum: %r" % st)
    check("LOCL" in str(st.get("reference_id_text", "")) + str(st.get("reference_id", "")),
          "status --json reference id: %r" % st)
    check(st.get("leap") == 0, "status --json leap: %r" % st)

    before = cli_json(ctx, sock, "serverstats")
    for k in ("received", "replied", "dropped_malformed", "dropped_control_mode"):
        check(isinstance(before.get(k), int), "serverstats --json lacks integer %r: %r"
              % (k, before))
    exchange(srv.port, build_header()[:47], timeout=0.2)               # malformed
    exchange(srv.port, bytes.fromhex("1700032a00000000"), timeout=0.2)   # 8-byte mode 7
    exchange(srv.port, bytes.fromhex("1700032a") + bytes(44), timeout=0.2)  # 48-byte mode 7
    exchange(srv.port, build_header(vn=4, mode=6), timeout=0.2)        # mode 6
    exchange(srv.port, build_header(vn=4, mode=5), timeout=0.2)        # mode 5
    exchange(srv.port, build_header(vn=3, mode=1), timeout=1.0)        # w32time's mode 1
    rep, _, _, _ = query(srv.port, timeout=1.0 * ctx.slow)
    check(rep is not None, "no reply after the bad packets")
    deadline = time.time() + 3 * ctx.slow
    while True:
        after = cli_json(ctx, sock, "serverstats")
        d = {k: after[k] - before[k] for k in before if isinstance(before[k], int)
             and isinstance(after.get(k), int)}
        if d.get("received", 0) >= 7 or time.time() > deadline:
            break
        time.sleep(0.1)
    note("serverstats deltas: " + ", ".join("%s %+d" % kv for kv in sorted(d.items()) if kv[1]))
    check(d.get("received", 0) >= 7, "received moved by %r, expected >= 7" % d.get("received"))
    check(d.get("replied", 0) >= 2, "replied moved by %r, expected >= 2" % d.get("replied"))
    # The 8-byte mode-7 request (shorter than a header) may count as malformed or as control.
    mal, ctl = d.get("dropped_malformed", 0), d.get("dropped_control_mode", 0)
    check(mal in (1, 2) and ctl in (2, 3) and mal + ctl == 4,
          "dropped_malformed %+d and dropped_control_mode %+d, expected 1-2 and 2-3, 4 in all"
          % (mal, ctl))
    check(d.get("dropped_bad_mode") == 1, "dropped_bad_mode moved by %r, expected 1"
          % d.get("dropped_bad_mode"))
    check(d.get("replied_symmetric") == 1, "replied_symmetric moved by %r, expected 1"
          % d.get("replied_symmetric"))
    text = cli(ctx, "-s", sock, "serverstats").stdout
    for label in ("received", "malformed", "control"):
        check(re.search(label, text, re.I), "serverstats text lacks %r:\n%s" % (label, text))

    text = cli(ctx, "-s", sock, "clients").stdout
    check(re.search(r"^127\.0\.0\.1\s", text, re.M), "clients lacks 127.0.0.1:\n%s" % text)
    note("clients:\n    " + text.strip().replace("\n", "\n    "))
    cj = cli_json(ctx, sock, "clients")
    addrs = [c.get("address") for c in cj.get("clients", [])] if isinstance(cj, dict) else []
    check("127.0.0.1" in addrs, "clients --json lacks 127.0.0.1: %r" % cj)

    r = cli(ctx, "query", "127.0.0.1:%d" % srv.port, "-c", "3")
    check_query_output(ctx, r.stdout, srv.port, STRATUM, 3)
    check(all("LOCL" in l for l in r.stdout.splitlines() if "stratum" in l),
          "query samples do not show refid LOCL:\n%s" % r.stdout)
    note("horloge query -c 3:\n    " + r.stdout.strip().replace("\n", "\n    "))
    r = cli(ctx, "query", "[::1]:%d" % srv.port, "-t", "0.5", ok=False)
    check(r.returncode != 0 and "no reply" in r.stdout,
          "query to a port nobody serves on ::1: exit %d %r" % (r.returncode, r.stdout))

    r = cli(ctx, "-s", ctx.path("nowhere.sock"), "status", ok=False)
    check(r.returncode != 0 and r.stderr.strip(), "status on a missing socket: exit %d, %r"
          % (r.returncode, r.stderr))
    r = cli(ctx, "-s", sock, "frobnicate", ok=False)
    check(r.returncode != 0, "an unknown command exits 0")


if __name__ == "__main__":
    run("cli", test)

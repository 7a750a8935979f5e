#!/usr/bin/env python3
"""`--json` on every horloge command, read by Python's JSON parser: status, tracking, sources,
sourcestats, serverstats, clients, metrics (against horloged following a fake upstream, after a
few client requests) and query (one object per sample). The text forms carry what the JSON
has: sourcestats its delay and the replies rejected by test, metrics the same families as its
JSON, both passing promtool. The unit tests' golden files (tests/unit/golden/) are valid JSON
and Prometheus text too."""
import glob
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import Fail, FakeNtp, Server, check, free_port, note, query, run, wait_until

UP = "127.0.0.43"
COMMANDS = ("status", "tracking", "sources", "sourcestats", "serverstats", "clients", "metrics")
GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "unit", "golden")


def cli(ctx, *args):
    r = subprocess.run([ctx.horloge] + list(args), capture_output=True, text=True, timeout=30 * ctx.slow)
    check(r.returncode == 0, "horloge %s: exit %d\n%s" % (" ".join(args), r.returncode, r.stderr))
    return r.stdout


def parse_json(text, what):
    try:
        return json.loads(text)
    except ValueError as e:
        raise Fail("%s is not JSON (%s): %r" % (what, e, text[:2000]))


def promtool_ok(text, what):
    if not shutil.which("promtool"):
        return False
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, "promtool on %s: %s%s" % (what, r.stdout, r.stderr))
    return True


def check_metrics_forms(text, doc):
    families = {l.split()[2] for l in text.splitlines() if l.startswith("# TYPE ")}
    names = {m["name"] for m in doc["metrics"]}
    check(families == names, "metrics text and JSON families differ: %r" % (families ^ names))
    for m in doc["metrics"]:
        for s in m["samples"]:
            check(isinstance(s["value"], (int, float)), "non-numeric sample in %s" % m["name"])


def test(ctx):
    ctx.need_horloged("horloge's --json")
    up_port = free_port([UP])
    FakeNtp(ctx, UP, up_port, "up", "--shift", "0.001")
    srv = Server(ctx, ["server %s port %d iburst minpoll -2 maxpoll -2" % (UP, up_port)], name="json").start()
    wait_until(ctx, 20, lambda: any(s.get("state") == "selected" for s in
                                    parse_json(cli(ctx, "-s", srv.sock, "sources", "--json"), "sources")
                                    .get("sources", [])), "source selected")
    for _ in range(3):
        query(srv.port)
    for command in COMMANDS:
        text = cli(ctx, "-s", srv.sock, command)
        doc = parse_json(cli(ctx, "-s", srv.sock, command, "--json"), command + " --json")
        check(isinstance(doc, dict) and doc and text.strip(), "%s: empty output" % command)
        if command == "sourcestats":
            rec = doc["sources"][0]
            check("delay" in rec and "Delay" in text and "Replies rejected, by test:" in text,
                  "sourcestats text lacks the delay or the rejections:\n" + text)
        if command == "clients":
            check(any(c.get("address") == "127.0.0.1" for c in doc["clients"]), "clients: %r" % doc)
        if command == "metrics":
            check_metrics_forms(text, doc)
            promtool_ok(text, "horloge metrics")
        note("%-12s text %2d lines, --json %s" % (command, len(text.splitlines()), type(doc).__name__))
    samples = cli(ctx, "query", "127.0.0.1:%d" % srv.port, "-c", "2", "-i", "0.2", "--json").splitlines()
    check(len(samples) == 2, "query --json: %r" % samples)
    for line in samples:
        check(parse_json(line, "query --json").get("stratum") == 2, "query --json: %r" % line)
    note("query --json: 2 objects, stratum 2")
    for path in sorted(glob.glob(os.path.join(GOLDEN, "*.json"))):
        with open(path) as f:
            parse_json(f.read(), path)
    with open(os.path.join(GOLDEN, "metrics.prom")) as f:
        checked = promtool_ok(f.read(), "golden metrics.prom")
    note("golden files: %d JSON valid, metrics.prom %s" % (len(glob.glob(os.path.join(GOLDEN, "*.json"))),
                                                          "passes promtool" if checked else "(no promtool)"))


if __name__ == "__main__":
    run("test_43_json_everywhere", test)

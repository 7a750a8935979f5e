#!/usr/bin/env python3
"""NTS servers sharing `ntsmasterkey` accept each other's cookies with no coordination: server A's
NTS-KE (ntsntpserver/ntsntpport) sends chronyd to server B for NTP, and B opens the cookies A
sealed (chronyd selects B, authdata shows no NAK). A server C with a different master key cannot:
it answers those cookies with NTS NAKs. Restarting B changes nothing (its keys are derived)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import Server, Skip, check, note, run, wait_until
from ntshelp import ChronyNtsClient, free_tcp_ports, horloged_nts_lines, make_test_ca


def write_secret(ctx, name):
    path = ctx.path(name)
    with open(path, "wb") as f:
        f.write(os.urandom(32))
    os.chmod(path, 0o600)
    return path


def test(ctx):
    ctx.need_horloged("ntsmasterkey")
    if os.geteuid() != 0:
        raise Skip("chronyd as a client needs root (it drops to _chrony)")
    ca, cert, key = make_test_ca(ctx)
    shared, other = write_secret(ctx, "shared.key"), write_secret(ctx, "other.key")
    ke_b, ke_c, ke_port_ab, ke_port_ac = free_tcp_ports(4)
    b = Server(ctx, ["local stratum 2"] + horloged_nts_lines(cert, key, ke_b, ["ntsmasterkey %s" % shared]),
               name="b").start()
    c = Server(ctx, ["local stratum 2"] + horloged_nts_lines(cert, key, ke_c, ["ntsmasterkey %s" % other]),
               name="c").start()
    Server(ctx, ["local stratum 2"] + horloged_nts_lines(
        cert, key, ke_port_ab, ["ntsmasterkey %s" % shared, "ntsntpserver 127.0.0.1", "ntsntpport %d" % b.port]),
        name="a").start()
    Server(ctx, ["local stratum 2"] + horloged_nts_lines(
        cert, key, ke_port_ac, ["ntsmasterkey %s" % shared, "ntsntpserver 127.0.0.1", "ntsntpport %d" % c.port]),
        name="a2").start()

    good = ChronyNtsClient(ctx, 1, ke_port_ab, ca, name="good")   # port 1: NTS-KE says where to go
    bad = ChronyNtsClient(ctx, 1, ke_port_ac, ca, name="bad")
    line = good.wait_selected()
    auth = good.authdata()
    note("A's cookies on B: %s / %s" % (line, auth))
    check(auth and auth["nak"] == "0", "B refused A's cookies: %r" % auth)

    def bad_naks():
        a = bad.authdata()
        return a if a and int(a["nak"]) > 0 else None
    nak, _ = wait_until(ctx, 20, bad_naks, "C answering A's cookies with NTS NAK")
    note("A's cookies on C (other master key): %s" % nak)
    check(not bad.source_line().startswith("^*"), "chronyd selected C, which cannot open its cookies")

    # B restarts: its keys are derived again from the secret, chronyd's cookies still open.
    b.stop()
    b.start()
    before = good.authdata()
    wait_until(ctx, 20, lambda: int(good.authdata()["cook"]) == 8 and good.source_line().startswith("^*"),
               "chronyd still synchronised to B after B restarted")
    after = good.authdata()
    check(after["nak"] == "0" and int(after["last"]) >= int(before["last"]),
          "B's restart cost chronyd a new NTS-KE: %r -> %r" % (before, after))
    note("after B restarted: %s" % after)


if __name__ == "__main__":
    run("nts-masterkey", test)

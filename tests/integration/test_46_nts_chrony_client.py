#!/usr/bin/env python3
"""NTS server: chronyd (-x, `server ... nts ntsport Q`, `ntstrustedcerts` of a CA made by the
openssl CLI now) synchronises from horloged over NTS and `chronyc authdata` shows NTS with
cookies; after horloged restarts (cookie keys kept in ntsdumpdir) chronyd's cookies still work:
new replies arrive and authdata shows no new NTS-KE and no NAK. SIGHUP reloads the certificate
without breaking NTP service or cookies."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import Server, Skip, check, exchange, note, run, wait_until
from ntshelp import ChronyNtsClient, free_tcp_ports, horloged_nts_lines, make_test_ca, nts_requests


def test(ctx):
    ctx.need_horloged("NTS service")
    if os.geteuid() != 0:
        raise Skip("chronyd as a client needs root (it drops to _chrony)")
    ca, cert, key = make_test_ca(ctx)
    ntsport, = free_tcp_ports(1)
    dumpdir = ctx.path("ntsdump")
    os.makedirs(dumpdir)
    lines = ["local stratum 3"] + horloged_nts_lines(cert, key, ntsport, ["ntsdumpdir %s" % dumpdir])
    srv = Server(ctx, lines).start()
    check_crafted(ctx, srv, ntsport, ca)
    client = ChronyNtsClient(ctx, srv.port, ntsport, ca)
    line = client.wait_selected()
    note("chronyc sources: %s" % line)
    auth, _ = wait_until(ctx, 10, lambda: (lambda a: a if a and int(a["cook"]) > 0 else None)(client.authdata()),
                         "authdata with cookies")
    note("chronyc authdata: %s" % auth)
    check(auth["mode"] == "NTS" and auth["nak"] == "0", "authdata is not NTS without NAKs: %r" % auth)
    check(int(auth["klen"]) == 256, "chronyd's NTS key is %s bits, expected 256 (AES-SIV-CMAC-256)" % auth["klen"])
    check(os.path.exists(os.path.join(dumpdir, "ntskeys")), "cookie keys were not saved in ntsdumpdir")

    # Restart: the keys come back from ntsdumpdir, so chronyd's cookies still open.
    rc, _ = srv.stop()
    check(rc == 0, "horloged exited %s on SIGTERM" % rc)
    last_before = int(client.authdata()["last"])
    srv.start()
    stamp = time.time()
    n_before = ntp_replies(client)
    wait_until(ctx, 20, lambda: ntp_replies(client) >= n_before + 4, "4 NTS replies after the restart")
    after = client.authdata()
    waited = time.time() - stamp
    note("after restart: authdata %s, %.1f s later" % (after, waited))
    check(after["nak"] == "0", "horloged answered chronyd's old cookies with NTS NAKs: %r" % after)
    check(int(after["last"]) >= last_before, "chronyd made a new NTS-KE after the restart: %r" % after)
    check(client.source_line().startswith("^*"), "chronyd no longer selects horloged: %r" % client.source_line())

    # SIGHUP: certificates reloaded; NTP service and cookies go on.
    srv.signal(signal.SIGHUP)
    wait_until(ctx, 10, lambda: "certificates reloaded" in srv.log(), "the certificate reload logged")
    n_before = ntp_replies(client)
    wait_until(ctx, 20, lambda: ntp_replies(client) >= n_before + 3, "3 NTS replies after SIGHUP")
    final = client.authdata()
    check(final["nak"] == "0" and int(final["last"]) >= int(after["last"]),
          "SIGHUP cost chronyd its cookies: %r" % final)
    note("after SIGHUP: authdata %s" % final)


def check_crafted(ctx, srv, ntsport, ca):
    """Requests from a real handshake (ntshelp.nts_requests): each answered at most its own size,
    with a cookie for each it spent and asked for; one forged byte gets an NTS NAK (KoD NTSN)."""
    reqs = nts_requests(ctx, ntsport, ca)
    check(len(reqs) == 8, "%d NTS requests from 8 cookies" % len(reqs))
    for req in reqs[:4]:
        rep, _, _ = exchange(srv.port, req)
        check(rep is not None and len(rep) <= len(req) and rep[1] == 3 and rep[24:32] == req[40:48],
              "NTS request of %d bytes: reply %r" % (len(req), rep and rep[:16]))
    forged = bytearray(reqs[4])
    forged[-1] ^= 1
    rep, _, _ = exchange(srv.port, bytes(forged))
    check(rep is not None and rep[1] == 0 and rep[12:16] == b"NTSN" and len(rep) <= len(forged),
          "a forged NTS request got %r, not an NTSN kiss" % (rep and rep[:16]))
    note("crafted NTS requests of %d..%d bytes answered in kind; a forged one got an NTSN kiss (%d bytes)"
         % (min(map(len, reqs)), max(map(len, reqs)), len(rep)))


def ntp_replies(client):
    for l in client.chronyc("ntpdata", "127.0.0.1").splitlines():
        if l.startswith("Total valid RX"):
            return int(l.split(":", 1)[1])
    return 0


if __name__ == "__main__":
    run("nts-chrony-client", test)

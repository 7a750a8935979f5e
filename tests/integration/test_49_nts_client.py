#!/usr/bin/env python3
"""NTS client: horloged (`server 127.0.0.1 port P nts ntsport Q`, `ntstrustedcerts` of a test CA,
`threads 0`: the handshake runs in its one poll() loop) synchronises from a chronyd NTS server;
its session (keys and cookies) is saved in ntsdumpdir, so after a restart it goes on without a
new NTS-KE. A second horloged that does not trust the server's CA never uses that server, not
even unauthenticated. Against a horloged NTS server that restarts with new cookie keys, the
client gets an NTS NAK, makes a new handshake and is selected again."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import Server, Skip, check, horloge_json, note, reach_of, run, sources_by_addr, wait_until
from ntshelp import free_tcp_ports, make_test_ca


def selected(ctx, srv):
    rec = sources_by_addr(ctx, srv.sock).get("127.0.0.1")
    return rec if rec and rec.get("state") == "selected" else None


def test(ctx):
    ctx.need_horloged("the NTS client")
    if os.geteuid() != 0:
        raise Skip("chronyd as an NTS server needs root (it drops to _chrony)")
    ca, cert, key = make_test_ca(ctx)
    ntsport, = free_tcp_ports(1)
    chrony_dump = ctx.path("chrony-nts")
    os.makedirs(chrony_dump)
    os.chown(chrony_dump, *[__import__("pwd").getpwnam("_chrony")[i] for i in (2, 3)])
    up = Server(ctx, ["local stratum 1", "ntsservercert %s" % cert, "ntsserverkey %s" % key,
                      "ntsport %d" % ntsport, "ntsdumpdir %s" % chrony_dump], name="up", kind="chronyd").start()
    dump = ctx.path("horloge-nts")
    os.makedirs(dump)
    line = "server 127.0.0.1 port %d nts ntsport %d iburst minpoll 0 maxpoll 1" % (up.port, ntsport)
    cl = Server(ctx, [line, "ntstrustedcerts %s" % ca, "ntsdumpdir %s" % dump, "threads 0"], name="cl").start()
    rec, secs = wait_until(ctx, 30, lambda: selected(ctx, cl), "horloged selecting chronyd over NTS")
    note("selected over NTS after %.1f s: %s" % (secs, rec))
    check("NTS-KE with 127.0.0.1: 8 cookies" in cl.log(), "no NTS-KE logged:\n" + cl.log()[-1500:])
    saved = [f for f in os.listdir(dump) if f.endswith(".nts")]
    check(saved, "the NTS session was not saved in ntsdumpdir")

    # Restart: the saved session is used, no new NTS-KE.
    rc, _ = cl.stop()
    check(rc == 0, "horloged exited %s" % rc)
    cl.start()
    rec, secs = wait_until(ctx, 30, lambda: selected(ctx, cl), "horloged selecting chronyd after a restart")
    log = cl.log().split("stopped")[-1]
    check("session read from" in log and "NTS-KE with" not in log,
          "the restarted horloged made a new NTS-KE instead of using its saved session:\n" + log[-1500:])
    note("after a restart, from the saved session (no NTS-KE) in %.1f s: %s" % (secs, rec))

    # A client that does not trust the server's CA never uses it, authenticated or not.
    other_ca = make_test_ca_elsewhere(ctx)
    bad = Server(ctx, [line, "ntstrustedcerts %s" % other_ca], name="bad").start()
    wait_until(ctx, 15, lambda: "certificate not trusted" in bad.log(), "the untrusted certificate refused")
    rec = sources_by_addr(ctx, bad.sock).get("127.0.0.1", {})
    check(reach_of(rec) == 0 and rec.get("state") != "selected",
          "a source failing NTS was used: %r" % rec)
    note("untrusted NTS server: %s; %s" % (rec, [l for l in bad.log().splitlines() if "NTS-KE" in l][-1]))

    # An NTS NAK: the server restarts with new cookie keys (no ntsdumpdir), the client re-keys.
    kport, = free_tcp_ports(1)
    hs = Server(ctx, ["local stratum 1", "ntsservercert %s" % cert, "ntsserverkey %s" % key, "ntsport %d" % kport],
                name="hs").start()
    rekey = Server(ctx, ["server 127.0.0.1 port %d nts ntsport %d iburst minpoll 0 maxpoll 1" % (hs.port, kport),
                         "ntstrustedcerts %s" % ca], name="rekey").start()
    wait_until(ctx, 30, lambda: selected(ctx, rekey), "horloged selecting a horloged NTS server")
    hs.stop()
    hs.start()
    wait_until(ctx, 30, lambda: "NTS NAK from the server; new handshake" in rekey.log(), "an NTS NAK and a re-key")
    wait_until(ctx, 30, lambda: rekey.log().count("NTS-KE with 127.0.0.1: 8 cookies") >= 2 and selected(ctx, rekey),
               "selected again after the new handshake")
    stats = horloge_json(ctx, rekey.sock, "sourcestats").get("sources", [{}])[0]
    nts = {k: v for k, v in stats.items() if k.startswith("nts_")}
    check(nts.get("nts_naks", 0) >= 1 and nts.get("nts_handshakes", 0) >= 2 and nts.get("nts_authenticated", 0) > 0,
          "sourcestats does not show the NAK and the second handshake: %r" % stats)
    note("server restarted with new keys: NTS NAK, new NTS-KE, selected again; sourcestats %s" % nts)


def make_test_ca_elsewhere(ctx):
    import subprocess
    p = ctx.path("other-ca.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", ctx.path("other-ca.key"), "-out", p, "-days", "2", "-subj", "/CN=other CA"],
                   check=True, capture_output=True, timeout=30)
    return p


if __name__ == "__main__":
    run("nts-client", test)

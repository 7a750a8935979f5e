#!/usr/bin/env python3
"""`server` and `pool` by name, resolved through /etc/hosts only: the test runs in a network
namespace of its own (loopback only, so no DNS server is reachable) whose /etc/hosts gives
`localhost` as 127.0.0.1 and ::1 and `pool.test` as 127.0.0.31-33, all served by `chronyd -x`.
`pool localhost maxsources 2` uses both addresses, `server localhost` one of them, `pool
pool.test maxsources 2` two of its three; a name that does not resolve is logged and retried
while the other sources serve; every horloged reaches stratum 2. A pool of 16 silent addresses
has its members replaced over and over (twice the source table's size), and still takes up a
server that appears at one of them."""
import hashlib
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import (Server, check, chronyd_upstream, free_port, horloge_json, note,
                    query, reach_of, rerun_in_netns, run, sources_by_addr, wait_until)

DEAD = ["127.0.0.%d" % i for i in range(40, 56)]
HOSTS = ("127.0.0.1 localhost\n::1 localhost\n"
         "127.0.0.31 pool.test\n127.0.0.32 pool.test\n127.0.0.33 pool.test\n"
         + "".join("%s dead.test\n" % a for a in DEAD))
POOL = ["127.0.0.31", "127.0.0.32", "127.0.0.33"]
POLL = "iburst minpoll -1 maxpoll 0"


def used(ctx, srv, want):
    """The sources once `want` of them are reachable and horloged is at stratum 2."""
    srcs = sources_by_addr(ctx, srv.sock)
    live = {a: r for a, r in srcs.items() if reach_of(r) and r.get("state") in
            ("selected", "candidate", "outlier")}
    st = horloge_json(ctx, srv.sock, "status")
    return srcs if len(live) >= want and st.get("stratum") == 2 else None


def refid_of(addr):
    """RFC 5905 §7.3: an IPv4 address itself, for IPv6 the first 4 bytes of its MD5."""
    if ":" in addr:
        return hashlib.md5(socket.inet_pton(socket.AF_INET6, addr)).digest()[:4]
    return socket.inet_aton(addr)


def check_refid(ctx, srv):
    """The announced refid (status and on the wire) names the selected source."""
    seen = []

    def consistent():
        sel = [a for a, r in sources_by_addr(ctx, srv.sock).items()
               if r.get("state") == "selected"]
        st = horloge_json(ctx, srv.sock, "status")
        rep, _, _, _ = query(srv.port, timeout=1.0 * ctx.slow)
        seen[:] = [sel, st.get("reference_id"), rep]
        if len(sel) != 1 or rep is None:
            return None
        want = refid_of(sel[0])
        ok = st.get("reference_id") == "0x" + want.hex().upper() and rep.refid == want
        return (sel[0], want) if ok else None
    try:
        (addr, want), _ = wait_until(ctx, 5, consistent, "refid naming the selected source")
    except Exception:
        note("selected, status refid, reply: %r" % seen)
        raise
    note("%s: refid 0x%s for %s, in status and on the wire" % (srv.name, want.hex().upper(), addr))


def check_dead_pool(ctx, srv, port, started):
    def replaced():
        return srv.log().count("unreachable pool member") >= 48
    _, secs = wait_until(ctx, 20, replaced, "48 pool members replaced")
    note("deadpool: %d members replaced in %.1f s, %d \"no room\" warnings"
         % (srv.log().count("unreachable pool member"), time.time() - started,
            srv.log().count("no room")))
    chronyd_upstream(ctx, DEAD[0], port, "up-dead0")
    srcs, secs = wait_until(ctx, 15, lambda: used(ctx, srv, 1), "deadpool using %s" % DEAD[0])
    check(DEAD[0] in srcs and reach_of(srcs[DEAD[0]]), "deadpool sources: %r" % srcs)
    note("deadpool: %s taken up %.1f s after it started serving" % (DEAD[0], secs))


def show(srv, srcs):
    for a, r in sorted(srcs.items()):
        note("%-9s %-18s %-10s %-10s reach %s" % (srv.name, r.get("name"), a, r.get("state"),
                                                 r.get("reach")))


def test(ctx):
    ctx.need_horloged("upstream sources by name")
    lo_port = free_port(["127.0.0.1", "::1"])
    chronyd_upstream(ctx, ("127.0.0.1", "::1"), lo_port, "up-lo")
    pool_port = free_port(POOL)
    for i, a in enumerate(POOL):
        chronyd_upstream(ctx, a, pool_port, "up-pool%d" % i)

    lo_pool = Server(ctx, ["pool localhost port %d maxsources 2 %s" % (lo_port, POLL)],
                     name="lopool").start()
    lo_server = Server(ctx, ["server localhost port %d %s" % (lo_port, POLL),
                             "server no-such-host.test port %d %s" % (lo_port, POLL)],
                       name="loserver").start()
    named_pool = Server(ctx, ["pool pool.test port %d maxsources 2 %s" % (pool_port, POLL)],
                        name="namedpool").start()
    # 16 polls 1/64 s apart without an answer make a pool member unreachable and replaced.
    dead_pool = Server(ctx, ["pool dead.test port %d maxsources 16 iburst minpoll -6 maxpoll -6"
                             % pool_port], name="deadpool").start()
    t_dead = time.time()

    srcs, secs = wait_until(ctx, 20, lambda: used(ctx, lo_pool, 2), "pool localhost: 2 sources")
    show(lo_pool, srcs)
    check(sorted(srcs) == ["127.0.0.1", "::1"], "pool localhost sources: %r" % sorted(srcs))
    check(all(r.get("name") == "localhost" for r in srcs.values()), "names: %r" % srcs)
    note("pool localhost: both addresses used, stratum 2 after %.1f s" % secs)
    check_refid(ctx, lo_pool)

    srcs, _ = wait_until(ctx, 20, lambda: used(ctx, lo_server, 1), "server localhost used")
    show(lo_server, srcs)
    check(len(srcs) == 1 and list(srcs)[0] in ("127.0.0.1", "::1"),
          "server localhost sources: %r" % srcs)
    check_refid(ctx, lo_server)
    log = lo_server.log()
    check("no-such-host.test" in log and "trying again" in log,
          "unresolvable name not logged:\n" + log[-2000:])
    note("unresolvable name: " + [l for l in log.splitlines() if "no-such-host" in l][0])

    srcs, _ = wait_until(ctx, 20, lambda: used(ctx, named_pool, 2), "pool pool.test: 2 sources")
    show(named_pool, srcs)
    check(len(srcs) == 2 and all(a in POOL for a in srcs), "pool.test sources: %r" % srcs)
    st = horloge_json(ctx, named_pool.sock, "status")
    check(st.get("reference_id_text") in srcs, "pool.test status: %r" % st)
    check_dead_pool(ctx, dead_pool, pool_port, t_dead)
    for srv in (lo_pool, lo_server, named_pool, dead_pool):
        check(srv.alive(), "%s died" % srv.name)


if __name__ == "__main__":
    rc = rerun_in_netns("pool", HOSTS)
    if rc is not None:
        sys.exit(rc)
    run("pool-names", test)

#!/usr/bin/env python3
"""Sources lost: horloged synchronised to one `chronyd -x` (stratum 2) loses it. With `local
stratum 9` (distance 1 s by default, as chrony's) it holds over: still stratum 2 with the
chronyd's refid, its root dispersion growing between queries, while `horloge sources` shows the
reach register draining to 0 and the source unreachable. With `local stratum 9 distance 0` the
local reference takes over at once. (The hold time itself is the simulator's to show.)"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import (Server, Skip, check, chronyd_upstream, free_port, horloge_json, note, query,
                    reach_of, run, sources_by_addr, wait_until)

UP = "127.0.0.21"
UP_REFID = b"\x7f\x00\x00\x15"
POLL = "iburst minpoll -1 maxpoll 0"


def synced(ctx, srv):
    st = horloge_json(ctx, srv.sock, "status")
    return st if st.get("stratum") == 2 and st.get("reference_mode") == "synchronised" else None


def test(ctx):
    ctx.need_horloged("upstream sources")
    if os.geteuid() != 0:
        raise Skip("a chronyd upstream needs root (it drops to _chrony)")
    up_port = free_port([UP])
    up = chronyd_upstream(ctx, UP, up_port, "up")
    line = "server %s port %d %s" % (UP, up_port, POLL)
    hold = Server(ctx, [line, "local stratum 9"], name="hold").start()
    local = Server(ctx, [line, "local stratum 9 distance 0"], name="local").start()
    for srv in (hold, local):
        _, secs = wait_until(ctx, 20, lambda: synced(ctx, srv), "%s at stratum 2" % srv.name)
        note("%s synchronised (stratum 2) %.1f s after it answered" % (srv.name, secs))
    time.sleep(1.0)  # a few more samples

    rc, _ = up.stop()
    check(rc is not None, "chronyd upstream did not stop")
    t_loss = time.time()
    note("chronyd upstream stopped")

    # Holdover: the reply keeps stratum 2 and the refid; only the dispersion grows.
    rep1, _, _, _ = query(hold.port, timeout=1.0 * ctx.slow)
    time.sleep(3.0)
    rep2, _, _, _ = query(hold.port, timeout=1.0 * ctx.slow)
    t_rep2 = time.time()
    check(rep1 is not None and rep2 is not None, "horloged stopped answering after the loss")
    for rep in (rep1, rep2):
        check(rep.li == 0 and rep.stratum == 2 and rep.refid == UP_REFID,
              "holdover reply changed: %r" % rep)
    grew = rep2.root_disp - rep1.root_disp
    check(grew > 0, "root dispersion did not grow in holdover: %.6f -> %.6f"
          % (rep1.root_disp, rep2.root_disp))
    note("holdover root dispersion %.6f -> %.6f s over 3 s (+%.1f us)"
         % (rep1.root_disp, rep2.root_disp, grew * 1e6))

    # The reach register drains one bit per poll; after 8 polls the source is unreachable.
    reaches = []

    def unreachable():
        rec = sources_by_addr(ctx, hold.sock).get(UP, {})
        r = reach_of(rec)
        if not reaches or reaches[-1] != r:
            reaches.append(r)
        return rec if rec.get("state") == "unreachable" and r == 0 else None
    rec, _ = wait_until(ctx, 20, unreachable, "source unreachable with reach 0")
    note("reach register after the loss: %s; unreachable %.1f s after it; poll now %s"
         % (" ".join("%03o" % r for r in reaches), time.time() - t_loss, rec.get("poll")))
    bits = [bin(r).count("1") for r in reaches]
    check(len(reaches) >= 2 and reaches[-1] == 0 and all(b <= a for a, b in zip(bits, bits[1:])),
          "reach did not drain: %s" % " ".join("%03o" % r for r in reaches))

    st = horloge_json(ctx, hold.sock, "status")
    check(st.get("stratum") == 2 and st.get("reference_mode") == "holdover",
          "status in holdover: %r" % st)
    check(st.get("reference_id") == "0x7F000015", "holdover refid: %r" % st)
    check(st.get("source_kind") == "ntp" and st.get("source") == UP,
          "holdover status does not name the source it holds: %r" % st)
    time.sleep(max(0.0, t_rep2 + 2.0 - time.time()))  # 30 us more: two 16.16 units
    rep3, _, _, _ = query(hold.port, timeout=1.0 * ctx.slow)
    check(rep3 is not None and rep3.stratum == 2 and rep3.root_disp > rep2.root_disp,
          "later holdover reply: %r" % rep3)
    note("status: %s, %s %s, root dispersion %s" % (
        st.get("reference_mode"), st.get("source_kind"), st.get("source"),
        st.get("root_dispersion")))

    # distance 0: the local reference as soon as nothing is selected.
    def is_local():
        st = horloge_json(ctx, local.sock, "status")
        return st if st.get("source_kind") == "local" and st.get("stratum") == 9 else None
    st, _ = wait_until(ctx, 15, is_local, "`local stratum 9 distance 0` taking over")
    rep, _, _, _ = query(local.port, timeout=1.0 * ctx.slow)
    check(rep is not None and rep.stratum == 9 and rep.refid == b"LOCL" and rep.li == 0,
          "local reference reply: %r" % rep)
    note("with distance 0: %s at stratum %d (%s)" % (st.get("reference_mode"), rep.stratum,
                                                     rep.refid_text()))
    for srv in (hold, local):
        check(srv.alive(), "%s died" % srv.name)


if __name__ == "__main__":
    run("upstream-loss", test)

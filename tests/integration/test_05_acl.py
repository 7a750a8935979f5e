#!/usr/bin/env python3
"""Access list end to end: `deny 127.0.0.2` with `allow` for the rest. 127.0.0.2 gets nothing
(or a DENY Kiss-o'-Death with `denyaction kod`), 127.0.0.1 is served."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import Server, check, check_server_reply, horloge_json, note, query, run

STRATUM = 3


def served(ctx, port, src, what):
    rep, req, t0, t1 = query(port, src=src, timeout=1.0 * ctx.slow)
    check(rep is not None, "%s: %s got no reply" % (what, src))
    check_server_reply(rep, req, t0, t1, tol=0.05 * ctx.slow)
    check(rep.stratum == STRATUM and rep.mode == 4, "%s: %s got %r" % (what, src, rep))


def test(ctx):
    conf = ["local stratum %d" % STRATUM, "deny 127.0.0.2", "allow"]
    srv = Server(ctx, conf, name="drop").start()
    served(ctx, srv.port, "127.0.0.1", "denyaction drop")
    served(ctx, srv.port, "127.0.0.3", "denyaction drop")
    for vn, mode in ((4, 3), (3, 1)):
        rep, _, _, _ = query(srv.port, src="127.0.0.2", timeout=0.5 * ctx.slow, vn=vn, mode=mode)
        check(rep is None, "denied 127.0.0.2 (v%d mode %d) got a reply: %r" % (vn, mode, rep))
    served(ctx, srv.port, "127.0.0.1", "denyaction drop, after the denied requests")
    note("denyaction drop: 127.0.0.2 ignored, 127.0.0.1 and 127.0.0.3 served")
    rc, _ = srv.stop()
    check(rc == 0, "server exit code %r" % rc)

    # A narrower rule inside a wider one: allow only 127.0.0.0/30 except 127.0.0.2.
    srv = Server(ctx, ["local stratum %d" % STRATUM, "allow 127.0.0.0/30", "deny 127.0.0.2/32"],
                 name="prefix").start()
    served(ctx, srv.port, "127.0.0.1", "allow /30")
    served(ctx, srv.port, "127.0.0.3", "allow /30")
    for src in ("127.0.0.2", "127.0.0.4", "127.0.0.9"):
        rep, _, _, _ = query(srv.port, src=src, timeout=0.3 * ctx.slow)
        check(rep is None, "%s outside the allowed set got a reply: %r" % (src, rep))
    note("allow 127.0.0.0/30 + deny 127.0.0.2/32: .1 .3 served; .2 .4 .9 ignored")
    srv.stop()

    if not ctx.is_horloged():
        note("denyaction kod is horloged-specific: not checked against %s" % ctx.target)
        return
    srv = Server(ctx, conf + ["denyaction kod"], name="kod").start()
    served(ctx, srv.port, "127.0.0.1", "denyaction kod")
    for vn, mode, want_mode in ((4, 3, 4), (3, 3, 4), (3, 1, 2)):
        rep, req, t0, t1 = query(srv.port, src="127.0.0.2", timeout=1.0 * ctx.slow, vn=vn,
                                 mode=mode)
        check(rep is not None, "denyaction kod: 127.0.0.2 (v%d mode %d) got no KoD" % (vn, mode))
        check(rep.length == 48, "DENY KoD is %d bytes" % rep.length)
        check(rep.stratum == 0 and rep.refid == b"DENY",
              "expected a DENY KoD (stratum 0, refid DENY), got %r" % rep)
        check(rep.vn == vn and rep.mode == want_mode, "DENY KoD version/mode: %r" % rep)
        check(rep.li == 3, "DENY KoD leap indicator %d, expected 3 (alarm)" % rep.li)
        check(rep.org == int.from_bytes(req[40:48], "big"), "DENY KoD origin != request transmit")
        note("denyaction kod, v%d mode %d from 127.0.0.2 -> %r" % (vn, mode, rep))
    served(ctx, srv.port, "127.0.0.1", "denyaction kod, after the KoDs")
    st = horloge_json(ctx, srv.sock, "serverstats")
    check(st.get("kod_deny") == 3 and st.get("denied") == 3,
          "serverstats kod_deny %r denied %r, expected 3 and 3" % (st.get("kod_deny"),
                                                                 st.get("denied")))
    note("serverstats: denied %d, kod_deny %d" % (st["denied"], st["kod_deny"]))


if __name__ == "__main__":
    run("acl", test)

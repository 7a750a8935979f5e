#!/usr/bin/env python3
"""Symmetric keys (keyfile in chrony's format), interoperating with chronyd both ways, all -x.

1. chronyd as a client of horloged: `server 127.0.0.1 ... key 10` (AES128-CMAC) and
   `server 127.0.0.2 ... key 11` (SHA1); chronyd takes both as authenticated sources
   (`chronyc authdata`: mode SK, the key and its type) and selects one of them; `chronyd -Q`
   takes horloged's time with SHA256 (whole 32-byte digest, as chronyd sends), AES256 and MD5 keys.
2. horloged as a client of chronyd: `server 127.0.0.21 ... key 10`, `server 127.0.0.24 ... key 15`
   (SHA256, sent cut to 20 bytes in NTPv4) and `server 127.0.0.22 ...
   key 11`: all three reachable with no reply refused, one selected; a fourth line whose key chronyd
   does not hold is never reached and gives no sample (chronyd's crypto-NAKs, if any, refused).
3. Crafted requests: a known key gets a reply signed with that key (checked here, SHA1 with
   hashlib, AES-CMAC with python3-cryptography), an unknown key a crypto-NAK, a wrong digest
   nothing; after the keyfile changes and SIGHUP, the old secret gets nothing, the new one a reply.
"""
import hashlib
import hmac
import os
import re
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import (NOCLOCK, Fail, Server, build_header, check, exchange, free_port, horloge_json,
                    note, reach_of, run, sources_by_addr, spawn_chronyd_client, wait_until)

AES_KEY = bytes(range(1, 17))
SHA1_KEY = b"horloge-sha1-secret-20"
NEW_SHA1_KEY = b"horloge-sha1-renewed-20"
OTHER_AES_KEY = bytes(range(101, 117))
SHA256_KEY = bytes(range(32))
# The other types chronyd must accept from horloged too (chronyd -Q): SHA256's whole 32-byte digest.
OTHER_TYPES = ("12 SHA256 HEX:%s\n13 AES256 HEX:%s\n14 MD5 horloge-md5-legacy\n"
               % (bytes(range(32)).hex(), bytes(range(64, 96)).hex()))


def keyfile_text(sha1_key):
    return ("# test keys\n10 AES128 HEX:%s\n11 SHA1 %s\n%s" % (AES_KEY.hex().upper(),
                                                               sha1_key.decode(), OTHER_TYPES))


def mac_of(kind, key, data):
    if kind == "SHA1":
        return hashlib.sha1(key + data).digest()
    from cryptography.hazmat.primitives import cmac
    from cryptography.hazmat.primitives.ciphers import algorithms
    c = cmac.CMAC(algorithms.AES(key))
    c.update(data)
    return c.finalize()


def signed_request(key_id, kind, key):
    req = build_header(vn=4, mode=3)
    return req + struct.pack("!I", key_id) + mac_of(kind, key, req)


def check_signed_reply(rep, req, key_id, kind, key, what):
    check(rep is not None, "%s: no reply" % what)
    dlen = 20 if kind == "SHA1" else 16
    check(len(rep) == 48 + 4 + dlen, "%s: reply of %d bytes" % (what, len(rep)))
    check(rep[24:32] == req[40:48], "%s: origin not echoed" % what)
    got_id = struct.unpack("!I", rep[48:52])[0]
    check(got_id == key_id, "%s: reply signed with key %d" % (what, got_id))
    check(hmac.compare_digest(rep[52:], mac_of(kind, key, rep[:48])), "%s: bad MAC in reply" % what)


def crafted_checks(ctx, srv, keyfile):
    port = srv.port
    for key_id, kind, key in ((10, "AES128", AES_KEY), (11, "SHA1", SHA1_KEY)):
        req = signed_request(key_id, kind, key)
        rep, _, _ = exchange(port, req)
        check_signed_reply(rep, req, key_id, kind, key, "key %d (%s)" % (key_id, kind))
    req = signed_request(99, "AES128", OTHER_AES_KEY)
    rep, _, _ = exchange(port, req)
    check(rep is not None and len(rep) == 52 and rep[48:52] == b"\0\0\0\0",
          "unknown key 99: expected a 52-byte crypto-NAK, got %r" % (rep and len(rep)))
    bad = bytearray(signed_request(10, "AES128", AES_KEY))
    bad[-1] ^= 1
    rep, _, _ = exchange(port, bytes(bad), timeout=0.5)
    check(rep is None, "a wrong AES128 digest was answered (%d bytes)" % len(rep or b""))
    # The keyfile changes: the old secret is refused, the new one signs.
    with open(keyfile, "w") as f:
        f.write(keyfile_text(NEW_SHA1_KEY))
    srv.signal(1)
    wait_until(ctx, 5, lambda: srv.log().count("keyfile %s: 5 keys" % keyfile) >= 2,
               "keyfile reloaded")
    rep, _, _ = exchange(port, signed_request(11, "SHA1", SHA1_KEY), timeout=0.5)
    check(rep is None, "the old SHA1 secret was still answered after SIGHUP")
    req = signed_request(11, "SHA1", NEW_SHA1_KEY)
    rep, _, _ = exchange(port, req)
    check_signed_reply(rep, req, 11, "SHA1", NEW_SHA1_KEY, "key 11 renewed")
    stats = horloge_json(ctx, srv.sock, "serverstats")
    check(int(stats.get("crypto_nak", 0)) >= 1 and int(stats.get("dropped_auth", 0)) >= 2,
          "serverstats does not count the crypto-NAK and the refused MACs: %r" % stats)
    note("crafted: AES128 and SHA1 replies verified, unknown key crypto-NAK, bad digest dropped, "
         "SIGHUP reload of the keyfile; serverstats %r" % {k: stats[k] for k in stats
                                                          if "auth" in k or "nak" in k})
    # Put the original keys back for chronyd's sake.
    with open(keyfile, "w") as f:
        f.write(keyfile_text(SHA1_KEY))
    srv.signal(1)
    wait_until(ctx, 5, lambda: srv.log().count("keyfile %s: 5 keys" % keyfile) >= 3,
               "keyfile reloaded again")


def chronyd_measures_other_types(ctx, port, keyfile):
    """`chronyd -Q` with SHA256, AES256 and MD5 keys takes horloged's signed time."""
    for key in (12, 13, 14):
        r = subprocess.run(NOCLOCK + ["chronyd", "-x", "-Q", "-t", str(int(8 * ctx.slow)), "-f", "/dev/null",
                                      "server 127.0.0.1 port %d iburst key %d maxsamples 2" % (port, key),
                                      "keyfile %s" % keyfile, "pidfile %s" % ctx.path("q%d.pid" % key)],
                           capture_output=True, text=True, timeout=40 * ctx.slow)
        check("System clock wrong by" in r.stdout + r.stderr,
              "chronyd -Q with key %d took no time from horloged:\n%s" % (key, r.stdout + r.stderr))
    note("chronyd -Q accepted horloged's SHA256, AES256 and MD5 replies")


def chronyd_client_of_horloged(ctx, port, keyfile):
    client, sock = spawn_chronyd_client(ctx, [
        "server 127.0.0.1 port %d iburst minpoll 0 maxpoll 1 key 10" % port,
        "server 127.0.0.2 port %d iburst minpoll 0 maxpoll 1 key 11" % port,
        "keyfile %s" % keyfile])
    seen = {}

    def both_authenticated():
        check(client.poll() is None, "chronyd client exited:\n" + ctx.read("client.log"))
        if not os.path.exists(sock):
            return None
        src = subprocess.run(["chronyc", "-h", sock, "-n", "sources"], capture_output=True,
                             text=True, timeout=10).stdout
        auth = subprocess.run(["chronyc", "-h", sock, "-n", "authdata"], capture_output=True,
                              text=True, timeout=10).stdout
        seen["sources"], seen["authdata"] = src, auth
        lines = [l for l in src.splitlines() if re.search(r"127\.0\.0\.[12] ", l)]
        if len(lines) != 2 or not any(l.startswith("^*") for l in lines):
            return None
        if not all(l[:2] in ("^*", "^+", "^-") for l in lines):  # both usable, not `^?`
            return None
        if any(not re.search(r" 377 | 17 | 37 | 77 | 177 | 7 ", l) for l in lines):
            return None
        a = {l.split()[0]: l.split() for l in auth.splitlines() if l.startswith("127.0.0.")}
        # chronyc 4.3 prints the type as chrony's number: 13 = AES128 (CMAC), 2 = SHA1.
        ok = (a.get("127.0.0.1", [""])[1:4] in (["SK", "10", "AES128"], ["SK", "10", "13"]) and
              a.get("127.0.0.2", [""])[1:4] in (["SK", "11", "SHA1"], ["SK", "11", "2"]))
        return lines if ok else None
    try:
        lines, secs = wait_until(ctx, 25, both_authenticated,
                                 "chronyd taking both keyed sources from horloged")
    except Fail:
        note("chronyc sources:\n%s\nchronyc authdata:\n%s\n%s" % (
            seen.get("sources"), seen.get("authdata"), ctx.read("client.log")[-2000:]))
        raise
    note("chronyd client of horloged after %.1f s:\n%s\n%s" % (secs, "\n".join(lines),
                                                               seen["authdata"].strip()))


def horloged_client_of_chronyd(ctx, keyfile):
    port = free_port(("127.0.0.21", "127.0.0.22", "127.0.0.24"))
    for addr, name in (("127.0.0.21", "up1"), ("127.0.0.22", "up2")):
        Server(ctx, ["local stratum 1", "keyfile %s" % keyfile], name=name, port=port,
               listen=(addr,), kind="chronyd").start()
    poll = "iburst minpoll 0 maxpoll 1"
    cli = Server(ctx, ["server 127.0.0.21 port %d %s key 10" % (port, poll),
                       "server 127.0.0.22 port %d %s key 11" % (port, poll),
                       "server 127.0.0.23 port %d %s key 12" % (port, poll),
                       "server 127.0.0.24 port %d %s key 15" % (port, poll),
                       "keyfile %s" % ctx.path("client-keys"), "local stratum 10"],
                 name="cli", listen=("127.0.0.3",))
    with open(ctx.path("client-keys"), "w") as f:
        f.write("10 AES128 HEX:%s\n11 SHA1 %s\n12 AES128 HEX:%s\n15 SHA256 HEX:%s\n"
                % (AES_KEY.hex(), SHA1_KEY.decode(), OTHER_AES_KEY.hex(), SHA256_KEY.hex()))
    with open(ctx.path("other-keys"), "w") as f:
        f.write("13 AES128 HEX:%s\n" % OTHER_AES_KEY.hex())
    Server(ctx, ["local stratum 1", "keyfile %s" % ctx.path("other-keys")], name="up3",
           port=port, listen=("127.0.0.23",), kind="chronyd").start()
    # SHA256 in NTPv4: chronyd answers only the digest cut to 20 bytes (RFC 7822), which horloged sends.
    with open(ctx.path("sha256-keys"), "w") as f:
        f.write("15 SHA256 HEX:%s\n" % SHA256_KEY.hex())
    Server(ctx, ["local stratum 1", "keyfile %s" % ctx.path("sha256-keys")], name="up4",
           port=port, listen=("127.0.0.24",), kind="chronyd").start()
    cli.start()

    def keyed_sources_used():
        srcs = sources_by_addr(ctx, cli.sock)
        a, b = srcs.get("127.0.0.21", {}), srcs.get("127.0.0.22", {})
        if reach_of(a) < 3 or reach_of(b) < 3 or reach_of(srcs.get("127.0.0.24", {})) < 3:
            return None
        if "selected" not in (a.get("state"), b.get("state")):
            return None
        return srcs
    srcs, secs = wait_until(ctx, 25, keyed_sources_used, "horloged selecting a keyed chronyd")
    stats = horloge_json(ctx, cli.sock, "sourcestats").get("sources", [])
    by = {str(s.get("address", "")).rsplit(":", 1)[0]: s for s in stats}
    for addr in ("127.0.0.21", "127.0.0.22", "127.0.0.24"):
        check(int(by.get(addr, {}).get("auth-failed", 0)) == 0,
              "%s: authenticated replies refused: %r" % (addr, by.get(addr)))
    nak = srcs.get("127.0.0.23", {})
    check(reach_of(nak) == 0, "the source whose key chronyd lacks was reached: %r" % nak)
    check(int(by.get("127.0.0.23", {}).get("samples", 0)) == 0,
          "a sample was taken from a source whose key chronyd lacks: %r" % by.get("127.0.0.23"))
    note("horloged client of chronyd after %.1f s: %s" % (secs, {
        k: (v.get("state"), v.get("reach")) for k, v in srcs.items()}))


def test(ctx):
    ctx.need_horloged("keyfile and key N")
    if os.geteuid() != 0:
        raise Fail("needs root (chronyd)")
    keyfile = ctx.path("keys")
    with open(keyfile, "w") as f:
        f.write(keyfile_text(SHA1_KEY))
    srv = Server(ctx, ["local stratum 3", "keyfile %s" % keyfile],
                 listen=("127.0.0.1", "127.0.0.2")).start()
    crafted_checks(ctx, srv, keyfile)
    chronyd_measures_other_types(ctx, srv.port, keyfile)
    chronyd_client_of_horloged(ctx, srv.port, keyfile)
    horloged_client_of_chronyd(ctx, keyfile)


if __name__ == "__main__":
    run("symkeys_chrony", test)

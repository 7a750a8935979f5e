#!/usr/bin/env python3
"""Crafted requests as each kind of client sends them, every reply checked field by field;
requests that must get no reply get none."""
import os
import random
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import (Reply, Server, build_header, check, check_server_reply, exchange, fresh_xmt,
                    note, ntp_to_unix, run)

STRATUM = 3
LOCAL_REFID_CHRONY = bytes([127, 127, 1, 1])


def pad(data, n):
    return data + bytes(n - len(data))


def with_xmt(head, xmt=None):
    """A 48-byte packet whose first bytes are `head` and whose transmit timestamp is fresh."""
    if xmt is None:
        xmt = fresh_xmt()
    return pad(head, 40) + struct.pack("!Q", xmt)


def requests():
    """(name, request bytes, expected reply version, mode, length) for requests that get time."""
    w32time = with_xmt(bytes.fromhex("d9000afa" "00000000" "00010400") + bytes(4))
    v1 = with_xmt(bytes.fromhex("08000400"))
    v2 = build_header(vn=2, mode=3, poll=6)
    v3 = build_header(vn=3, mode=3, li=3, poll=6, precision=-6)   # ntpdate: 0xdb
    v4 = build_header(vn=4, mode=3, poll=6, precision=-20)
    v4_ntpsec = build_header(vn=4, mode=3, li=3, poll=0, precision=0)  # ntpdig: 0xe3
    sntp = with_xmt(bytes([0x23]))
    mac_md5 = build_header() + struct.pack("!I", 1) + os.urandom(16)
    mac_sha1 = build_header() + struct.pack("!I", 77) + os.urandom(20)
    # RFC 7822: an extension field of unassigned type, the last one without MAC >= 28 bytes.
    ext = build_header() + struct.pack("!HH", 0xF7F7, 28) + bytes(24)
    return [
        ("w32time NTPv3 mode 1", w32time, 3, 2, 48),
        ("NTPv1 mode 0", v1, 1, 4, 48),
        ("NTPv2 mode 3", v2, 2, 4, 48),
        ("NTPv3 mode 3 (ntpdate)", v3, 3, 4, 48),
        ("NTPv4 mode 3", v4, 4, 4, 48),
        ("NTPv4 mode 3 (ntpdig)", v4_ntpsec, 4, 4, 48),
        ("SNTP transmit only", sntp, 4, 4, 48),
        ("68-byte MD5 MAC, unknown key", mac_md5, 4, 4, 52),
        ("72-byte SHA1 MAC, unknown key", mac_sha1, 4, 4, 52),
        ("RFC 7822 extension field", ext, 4, 4, 48),
    ]


def silent_requests():
    """Requests that must get no reply at all."""
    return [
        ("mode 6 ntpq readstat (12 bytes)", bytes.fromhex("160100010000000000000000")),
        ("mode 6 (48 bytes)", build_header(vn=2, mode=6)),
        ("mode 7 monlist (8 bytes)", bytes.fromhex("1700032a00000000")),
        ("mode 7 monlist (48 bytes)", pad(bytes.fromhex("1700032a"), 48)),
        ("mode 2", build_header(vn=4, mode=2)),
        ("mode 4", build_header(vn=4, mode=4)),
        ("mode 5", build_header(vn=4, mode=5)),
        ("version 0 mode 3", build_header(vn=0, mode=3)),
        ("version 5 mode 3", build_header(vn=5, mode=3)),
        ("47-byte mode 3", build_header()[:47]),
        ("empty datagram", b""),
        ("garbage text", b"GET / HTTP/1.0\r\n\r\n"),
        ("garbage 0xff * 64", b"\xff" * 64),
        ("mode 3 + 8 junk bytes", build_header() + b"\x01" * 8),
    ]


def check_reply(ctx, name, rep, req, t0, t1, vn, mode, length):
    check(rep.length == length, "%s: reply length %d, expected %d" % (name, rep.length, length))
    check_server_reply(rep, req, t0, t1, tol=0.05 * ctx.slow)
    check(rep.vn == vn, "%s: version %d, expected %d" % (name, rep.vn, vn))
    check(rep.mode == mode, "%s: mode %d, expected %d" % (name, rep.mode, mode))
    check(rep.li == 0, "%s: LI %d, expected 0 (local reference)" % (name, rep.li))
    check(rep.stratum == STRATUM, "%s: stratum %d, expected %d" % (name, rep.stratum, STRATUM))
    req_poll = struct.unpack("!b", req[2:3])[0]
    if ctx.is_horloged():
        check(rep.poll == min(max(req_poll, 4), 17), "%s: poll %d for request poll %d"
              % (name, rep.poll, req_poll))
    else:
        check(0 <= rep.poll <= 17, "%s: poll %d" % (name, rep.poll))
    check(-30 <= rep.precision <= -6, "%s: precision %d not sane" % (name, rep.precision))
    check(0 <= rep.root_delay < 1.0, "%s: root delay %.6f" % (name, rep.root_delay))
    check(0 <= rep.root_disp < 1.0, "%s: root dispersion %.6f" % (name, rep.root_disp))
    want_refid = b"LOCL" if ctx.is_horloged() else LOCAL_REFID_CHRONY
    check(rep.refid == want_refid, "%s: refid %r, expected %r" % (name, rep.refid, want_refid))
    ref = ntp_to_unix(rep.reftime)
    check(rep.reftime != 0 and t0 - 86400 < ref <= t1 + 0.05 * ctx.slow,
          "%s: reference time %.6f not in the last day (now %.6f)" % (name, ref, t1))
    if length > 48:
        check(rep.raw[48:] == bytes(length - 48),
              "%s: crypto-NAK trailer %s, expected zeros" % (name, rep.raw[48:].hex()))


def sweep(ctx, port):
    """Every length from 48 to 160 and some large ones, zero and random trailers, all versions:
    whatever gets a reply gets one no longer than the request, echoing its transmit."""
    lengths = list(range(48, 161)) + [200, 500, 1000, 1276, 1280, 1284, 1400, 1472, 2000, 4000]
    rng = random.Random(4)
    pending = []
    for n in lengths:
        for trailer in ("zero", "random"):
            vn = rng.choice((1, 2, 3, 4))
            mode = rng.choice((0, 1, 3)) if vn == 1 else rng.choice((1, 3))
            req = build_header(vn=vn, mode=mode)
            req += bytes(n - 48) if trailer == "zero" else bytes(rng.getrandbits(8)
                                                                 for _ in range(n - 48))
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            s.setblocking(False)
            s.sendto(req, ("127.0.0.1", port))
            pending.append((req, s))
        if len(pending) >= 64:
            sweep_collect(ctx, pending)
            pending = []
    replies, total = sweep_collect(ctx, pending)
    note("length sweep: %d of %d requests of 48..4000 bytes answered, each reply <= its request"
         % (replies, total))


_sweep_stats = [0, 0]


def sweep_collect(ctx, pending):
    time.sleep(0.3 * ctx.slow)
    for req, s in pending:
        try:
            data = s.recv(8192)
        except BlockingIOError:
            data = None
        s.close()
        _sweep_stats[1] += 1
        if data is None:
            continue
        _sweep_stats[0] += 1
        check(len(data) <= len(req), "%d-byte reply to a %d-byte request" % (len(data), len(req)))
        rep = Reply(data)
        check(rep.org == struct.unpack("!Q", req[40:48])[0],
              "reply to a %d-byte request does not echo its transmit" % len(req))
        check(rep.vn == (req[0] >> 3) & 7, "reply version %d to a version %d request"
              % (rep.vn, (req[0] >> 3) & 7))
    return tuple(_sweep_stats)


def test(ctx):
    srv = Server(ctx, ["local stratum %d" % STRATUM]).start()
    port = srv.port

    for name, req, vn, mode, length in requests():
        raw, t0, t1 = exchange(port, req, timeout=1.0 * ctx.slow)
        if not ctx.is_horloged() and length == 52:
            note("%-32s chronyd: %s" % (name, "no reply" if raw is None else "%d bytes" % len(raw)))
            continue
        check(raw is not None, "%s: no reply" % name)
        rep = Reply(raw)
        check_reply(ctx, name, rep, req, t0, t1, vn, mode, length)
        note("%-32s -> %r" % (name, rep))

    socks = []
    for name, req in silent_requests():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.setblocking(False)
        s.sendto(req, ("127.0.0.1", port))
        socks.append((name, req, s))
    time.sleep(0.5 * ctx.slow)
    bad = []
    for name, req, s in socks:
        try:
            data = s.recv(4096)
            if ctx.is_horloged() or name != "mode 3 + 8 junk bytes":
                bad.append("%s: got a %d-byte reply %s" % (name, len(data), data[:8].hex()))
            else:
                note("%-32s chronyd replied %d bytes" % (name, len(data)))
        except BlockingIOError:
            note("%-32s -> no reply (as required)" % name)
        s.close()
    check(not bad, "; ".join(bad))
    check(srv.alive(), "server died on the silent requests")

    sweep(ctx, port)

    # Root dispersion of an idle local reference must not shrink a second later.
    req = build_header()
    raw1, t0, t1 = exchange(port, req)
    check(raw1 is not None, "no reply after the silent requests")
    time.sleep(1.2)
    req2 = build_header()
    raw2, t2, t3 = exchange(port, req2)
    check(raw2 is not None, "no reply to the second dispersion query")
    r1, r2 = Reply(raw1), Reply(raw2)
    check_server_reply(r2, req2, t2, t3, tol=0.05 * ctx.slow)
    check(r2.root_disp >= r1.root_disp,
          "root dispersion shrank: %.6f -> %.6f" % (r1.root_disp, r2.root_disp))
    note("root dispersion %.6f -> %.6f s over %.1f s" % (r1.root_disp, r2.root_disp, t2 - t0))


if __name__ == "__main__":
    run("crafted", test)

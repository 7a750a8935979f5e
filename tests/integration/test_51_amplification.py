#!/usr/bin/env python3
"""No amplification: every request shape gets a reply no longer than itself, or none.

Shapes (SHAPES below; add a generator to extend the list, e.g. NTS fields valid and forged):
every mode x version; every length 0..2000 of a v4 client request (header plus padding);
RFC 7822 extension fields of known and unknown types, one or several, of every legal length up
to 512, with and without a MAC after them; a MAC of every length 4..68 (a bare key identifier
is a crypto-NAK); a MAC after every padding length.

Each shape goes to three servers' paths: served normally (horloged, no rate limit), rate-limited
(every request after the first gets a RATE KoD: `ratelimit ... burst 1 leak 0`) and denied with a
DENY KoD (`denyaction kod`). Every request carries its own transmit timestamp, so each reply is
matched to its request by its origin timestamp; a reply that matches none fails the test."""
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import Server, build_header, check, horloge_json, note, run

MAX_LEN = 2000
RATE_SRC, DENY_SRC, PLAIN_SRC = "127.0.0.51", "127.0.0.52", "127.0.0.1"


def header(vn=4, mode=3):
    return build_header(vn=vn, mode=mode, xmt=0)


def ef(ftype, length):
    """An extension field of `length` bytes (type, length, then a value of that many bytes less 4)."""
    return struct.pack("!HH", ftype, length) + bytes((i * 7) & 0xFF for i in range(length - 4))


def mac(length):
    """A MAC: key identifier 1 then a digest, `length` bytes in all."""
    return struct.pack("!I", 1) + bytes(range(length - 4))


# ---- the shapes: each generator yields (name, bytes); the transmit timestamp is set later ----

def modes_and_versions():
    for vn in range(8):
        for mode in range(8):
            yield "v%d mode %d" % (vn, mode), header(vn, mode)


def lengths():
    base = header()
    for n in range(0, MAX_LEN + 1):
        yield "length %d" % n, (base + bytes(max(0, n - 48)))[:n]


EF_TYPES = (0x0104, 0x0204, 0x0304, 0x0404, 0x2005, 0x0002, 0xFFFF)


def extension_fields():
    for ftype in EF_TYPES:
        for length in range(16, 513, 4):
            yield "ef %04x len %d" % (ftype, length), header() + ef(ftype, length)
            yield "ef %04x len %d + mac 20" % (ftype, length), header() + ef(ftype, length) + mac(20)
        yield "3 x ef %04x" % ftype, header() + ef(ftype, 16) + ef(ftype, 28) + ef(ftype, 100)
        yield "ef %04x short length field" % ftype, header() + struct.pack("!HH", ftype, 8) + bytes(12)
        yield "ef %04x overlong length field" % ftype, header() + struct.pack("!HH", ftype, 400) + bytes(60)


def macs():
    for length in range(4, 69):
        yield "mac %d" % length, header() + mac(length)
    for pad in range(0, 80, 4):
        for length in (4, 20, 24, 36):
            yield "pad %d + mac %d" % (pad, length), header() + bytes(pad) + mac(length)


SHAPES = [modes_and_versions, lengths, extension_fields, macs]


def all_shapes():
    for gen in SHAPES:
        yield from gen()


def send_all(port, src, shapes, slow):
    """Sends every shape with a unique transmit timestamp; returns (sent, replies, violations)."""
    by_xmt, sent, replies, bad = {}, 0, 0, []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        s.bind((src, 0))
        s.settimeout(0.3 * slow)

        def drain(wait):
            nonlocal replies
            s.settimeout(wait)
            while True:
                try:
                    rep = s.recv(4096)
                except socket.timeout:
                    return
                replies += 1
                org = struct.unpack("!Q", rep[24:32])[0] if len(rep) >= 32 else None
                req = by_xmt.get(org)
                if req is None:
                    bad.append("a %d-byte reply matching no request (org %r)" % (len(rep), org))
                elif len(rep) > len(req[1]):
                    bad.append("%s: %d-byte request, %d-byte reply" % (req[0], len(req[1]), len(rep)))
                s.settimeout(0.002)

        for i, (name, data) in enumerate(shapes):
            if len(data) >= 48:
                xmt = (0xE0000000 << 32) | (os.getpid() << 20) | i
                data = data[:40] + struct.pack("!Q", xmt) + data[48:]
                by_xmt[xmt] = (name, data)
            s.sendto(data, ("127.0.0.1", port))
            sent += 1
            if sent % 64 == 0:
                drain(0.002)
        drain(0.5 * slow)
    return sent, replies, bad


def test(ctx):
    shapes = list(all_shapes())
    plain = Server(ctx, ["local stratum 2"], name="plain").start()
    kod = Server(ctx, ["local stratum 2", "ratelimit interval 10 burst 1 leak 0",
                       "deny %s" % DENY_SRC, "denyaction kod"], name="kod").start()
    total_sent = 0
    for srv, src, what in ((plain, PLAIN_SRC, "served"), (kod, RATE_SRC, "rate-limited"),
                           (kod, DENY_SRC, "denied")):
        t0 = time.time()
        sent, replies, bad = send_all(srv.port, src, shapes, ctx.slow)
        total_sent += sent
        check(not bad, "%s: %d violations, e.g. %s" % (what, len(bad), bad[:5]))
        check(replies > 0, "%s: no reply at all" % what)
        note("%s: %d shapes sent, %d replies, none longer than its request (%.1f s)"
             % (what, sent, replies, time.time() - t0))
        check(srv.alive(), "%s died" % srv.name)
    if ctx.is_horloged():
        st = horloge_json(ctx, plain.sock, "serverstats")
        check(st.get("dropped_truncated", 0) > 0, "no truncated request counted: %r" % st)
        st2 = horloge_json(ctx, kod.sock, "serverstats")
        check(st2.get("kod_rate", 0) > 0 and st2.get("kod_deny", 0) > 0, "no KoD sent: %r" % st2)
        note("plain server: %d received, %d replied, %d malformed, %d truncated, %d no room; "
             "kod server: %d RATE, %d DENY KoDs" % (st["received"], st["replied"],
                                                    st["dropped_malformed"], st["dropped_truncated"],
                                                    st["dropped_no_room"], st2["kod_rate"],
                                                    st2["kod_deny"]))


if __name__ == "__main__":
    run("amplification", test)

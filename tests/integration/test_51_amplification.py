#!/usr/bin/env python3
"""No amplification: every request shape gets a reply no longer than itself, or none.

Shapes (SHAPES below; add a generator to extend the list):
every mode x version; every length 0..2000 of a v4 client request (header plus padding);
RFC 7822 extension fields of known and unknown types, one or several, of every legal length up
to 512, with and without a MAC after them; a MAC of every length 4..68 (a bare key identifier
is a crypto-NAK); a MAC after every padding length; MACs of the keys the servers hold (keyfile:
AES128, AES256, SHA1, SHA256, MD5), valid, wrong, truncated and extended, of every length;
MS-SNTP-looking 68- and 120-byte requests (an `ntpsigndsocket` with no signer behind it); NTS
(RFC 8915) requests, valid ones from a real NTS-KE handshake with the server under test and
forged ones: every byte flipped, truncated anywhere, each field's length wrong, extra
placeholders and cookies up to 2000 bytes, a Unique Identifier as big as fits (a NAK echoes it).
Valid MACs are computed after the transmit timestamp is set; valid NTS requests keep their own.

Each shape goes to three servers' paths: served normally (horloged, no rate limit), rate-limited
(every request after the first gets a RATE KoD: `ratelimit ... burst 1 leak 0`) and denied with a
DENY KoD (`denyaction kod`). Every request carries its own transmit timestamp, so each reply is
matched to its request by its origin timestamp; a reply that matches none fails the test."""
import hashlib
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import Server, build_header, check, horloge_json, note, run
from ntshelp import free_tcp_ports, horloged_nts_lines, make_test_ca, nts_requests
import mssntp

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


# ---- MACs of keys the servers hold: valid ones are computed once the transmit timestamp is set ----

# Ids above 36: a SHA256 MAC (36 bytes) whose key id reads as a fitting extension field header
# (type 0, length 16..36) is taken as that field.
KEYS = {  # id: (type, key)
    101: ("AES128", bytes(range(16))),
    102: ("AES256", bytes(range(32, 64))),
    103: ("SHA1", b"horloge-amp-sha1"),
    104: ("SHA256", b"horloge-amp-sha256"),
    105: ("MD5", b"horloge-amp-md5"),
}


def keyfile_text():
    return "".join("%d %s HEX:%s\n" % (kid, kind, key.hex()) for kid, (kind, key) in KEYS.items())


def digest(kid, data):
    kind, key = KEYS[kid]
    if kind.startswith("AES"):
        from cryptography.hazmat.primitives import cmac
        from cryptography.hazmat.primitives.ciphers import algorithms
        c = cmac.CMAC(algorithms.AES(key))
        c.update(data)
        return c.finalize()
    return hashlib.new(kind.lower(), key + data).digest()


def signer(kid, pad=0, cut=None, extra=b"", flip=False):
    """Signs the request once its transmit timestamp is set: MAC of key `kid` over header + padding."""
    def sign(data):
        d = digest(kid, data[:48 + pad])
        d = bytes([d[0] ^ 1]) + d[1:] if flip else d
        return data[:48 + pad] + struct.pack("!I", kid) + (d if cut is None else d[:cut]) + extra
    return sign


def symmetric_keys():
    for kid, (kind, _) in KEYS.items():
        # SHA256 in NTPv4: horloged takes the whole 32-byte digest, chronyd 4.3 only its first 20
        # bytes (cut to 20 below), so neither form must be answered by both.
        yield "%s %s" % (kind, "whole digest" if kind == "SHA256" else "valid"), header(), signer(kid)
        yield "%s wrong digest" % kind, header(), signer(kid, flip=True)
        yield "%s after 16 bytes padding" % kind, header() + bytes(16), signer(kid, pad=16)
        yield "%s + extra 4" % kind, header(), signer(kid, extra=bytes(4))
        for cut in range(0, 65):
            yield "%s digest cut to %d" % (kind, cut), header(), signer(kid, cut=cut)
        for length in range(4, 69):
            yield "key %d, %d-byte MAC of garbage" % (kid, length), header() + struct.pack("!I", kid) + \
                bytes((i * 13) & 0xFF for i in range(length - 4))


def ms_sntp():
    for rid in (1104, 0x80000000 | 1104, 500):
        for vn in (1, 3, 4):
            req = mssntp.request(rid, vn=vn)
            yield "MS-SNTP 68 v%d rid %x" % (vn, rid), req
            yield "MS-SNTP 120 v%d rid %x" % (vn, rid), (req[:52] + bytes(120))[:120]
            yield "MS-SNTP 68 mode 4 v%d rid %x" % (vn, rid), mssntp.request(rid, vn=vn, mode=4)


# ---- NTS: requests from a real NTS-KE handshake (nts_shapes' argument), then forged ----

NTS_UID, NTS_COOKIE, NTS_PLACEHOLDER, NTS_AUTH = 0x0104, 0x0204, 0x0304, 0x0404
KEEP_XMT = "keep"  # a valid NTS request: its authenticator covers its own transmit timestamp


def nts_fields(req):
    """[(offset, type, length)] of the extension fields after the header."""
    out, pos = [], 48
    while pos + 4 <= len(req):
        ftype, flen = struct.unpack("!HH", req[pos:pos + 4])
        out.append((pos, ftype, flen))
        if flen < 4:
            break
        pos += flen
    return out


def with_length(req, off, flen):
    return req[:off + 2] + struct.pack("!H", flen & 0xFFFF) + req[off + 4:]


def nts_forgeries(req):
    fields = nts_fields(req)
    by_type = {t: (o, l) for o, t, l in fields}
    auth_off = by_type[NTS_AUTH][0]
    cookie = req[by_type[NTS_COOKIE][0]:by_type[NTS_COOKIE][0] + by_type[NTS_COOKIE][1]]
    for i in range(48, len(req)):
        yield "NTS byte %d flipped" % i, req[:i] + bytes([req[i] ^ 0x5A]) + req[i + 1:]
    for n in range(48, len(req), 3):
        yield "NTS truncated to %d" % n, req[:n]
    for off, ftype, flen in fields:
        for wrong in (0, 2, 4, flen - 4, flen + 4, flen + 1, 0xFFFF):
            yield "NTS ef %04x length %d" % (ftype, wrong), with_length(req, off, wrong)
    placeholder = struct.pack("!HH", NTS_PLACEHOLDER, len(cookie)) + bytes(len(cookie) - 4)
    for k in range(1, 20):
        more = req[:auth_off] + placeholder * k + req[auth_off:]
        if len(more) > MAX_LEN:
            break
        yield "NTS + %d placeholders" % k, more
        yield "NTS + %d placeholders after the authenticator" % k, req + placeholder * k
        yield "NTS + %d cookies" % k, req[:auth_off] + cookie * k + req[auth_off:]
    for size in (8, 16, len(cookie) - 4, len(cookie) + 4, 1024):
        odd = struct.pack("!HH", NTS_PLACEHOLDER, size) + bytes(size - 4)
        yield "NTS + placeholder of %d" % size, req[:auth_off] + odd * 3 + req[auth_off:]
    uid_off, uid_len = by_type[NTS_UID]
    for size in (36, 100, 512, 1024, MAX_LEN - len(req) + uid_len - 4):
        big_uid = struct.pack("!HH", NTS_UID, size) + bytes(size - 4)
        yield "NTS uid of %d" % size, req[:uid_off] + big_uid + req[uid_off + uid_len:]
    yield "NTS without authenticator", req[:auth_off]
    yield "NTS without cookie", req[:by_type[NTS_COOKIE][0]] + req[by_type[NTS_COOKIE][0] + len(cookie):]
    yield "NTS authenticator twice", req + req[auth_off:]


def nts_shapes(valid):
    def gen():
        for i, req in enumerate(valid):
            yield "NTS valid %d" % i, req, KEEP_XMT
        yield from nts_forgeries(valid[0])
    return gen


SHAPES = [modes_and_versions, lengths, extension_fields, macs, symmetric_keys, ms_sntp]


def all_shapes(shapes):
    for gen in shapes:
        yield from gen()


def prepare(data, i, finish):
    """The request as sent, its transmit timestamp unique (or its own, for a valid NTS request)."""
    if len(data) < 48:
        return data, None
    if finish == KEEP_XMT:
        return data, struct.unpack("!Q", data[40:48])[0]
    xmt = (0xE0000000 << 32) | (os.getpid() << 20) | i
    data = data[:40] + struct.pack("!Q", xmt) + data[48:]
    return (finish(data) if finish else data), xmt


def send_all(port, src, shapes, slow):
    """Sends every shape with a unique transmit timestamp; returns (sent, replies, violations,
    names of the shapes answered)."""
    by_xmt, sent, replies, bad, answered = {}, 0, 0, [], set()
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
                else:
                    answered.add(req[0])
                s.settimeout(0.002)

        for i, (name, data, *finish) in enumerate(shapes):
            data, xmt = prepare(data, i, finish[0] if finish else None)
            if xmt is not None:
                by_xmt[xmt] = (name, data)
            s.sendto(data, ("127.0.0.1", port))
            sent += 1
            if sent % 64 == 0:
                drain(0.002)
        drain(0.5 * slow)
    return sent, replies, bad, answered


def auth_lines(ctx):
    """Keyfile, MS-SNTP signer socket (none there) and NTS with a master key both servers share
    (chronyd, which has none, gets each server its own keys: the other's cookies are then forged)."""
    keyfile, secret, signd = ctx.path("keys"), ctx.path("nts.secret"), ctx.path("signd")
    with open(keyfile, "w") as f:
        f.write(keyfile_text())
    with open(secret, "wb") as f:
        f.write(os.urandom(32))
    os.makedirs(signd, exist_ok=True)
    lines = ["keyfile %s" % keyfile, "ntpsigndsocket %s" % signd]
    return lines + (["ntsmasterkey %s" % secret] if ctx.is_horloged() else [])


def test(ctx):
    ca, cert, key = make_test_ca(ctx)
    auth = auth_lines(ctx)
    ke_plain, ke_kod = free_tcp_ports(2)
    plain = Server(ctx, ["local stratum 2"] + horloged_nts_lines(cert, key, ke_plain, auth),
                   name="plain").start()
    kod = Server(ctx, ["local stratum 2", "ratelimit interval 10 burst 1 leak 0",
                       "deny %s" % DENY_SRC, "denyaction kod"] + horloged_nts_lines(cert, key, ke_kod, auth),
                 name="kod").start()
    valid = nts_requests(ctx, ke_plain, ca)
    check(len(valid) >= 2, "NTS-KE gave %d requests" % len(valid))
    shapes = list(all_shapes(SHAPES + [nts_shapes(valid)]))
    note("%d shapes, %d of them NTS (from %d valid requests)"
         % (len(shapes), sum(1 for x in shapes if x[0].startswith("NTS")), len(valid)))
    total_sent = 0
    for srv, src, what in ((plain, PLAIN_SRC, "served"), (kod, RATE_SRC, "rate-limited"),
                           (kod, DENY_SRC, "denied")):
        t0 = time.time()
        sent, replies, bad, answered = send_all(srv.port, src, shapes, ctx.slow)
        total_sent += sent
        check(not bad, "%s: %d violations, e.g. %s" % (what, len(bad), bad[:5]))
        # chronyd (HL_TARGET=chronyd) sends no DENY KoD: a denied client gets nothing there.
        check(replies > 0 or (what == "denied" and not ctx.is_horloged()), "%s: no reply at all" % what)
        note("%s: %d shapes sent, %d replies, none longer than its request (%.1f s)"
             % (what, sent, replies, time.time() - t0))
        check(srv.alive(), "%s died" % srv.name)
        if what == "served":
            unanswered = [n for n, *_ in shapes if n.endswith(" valid") or n.startswith("NTS valid")
                          if n not in answered]
            check(not unanswered, "valid authenticated requests unanswered: %s" % unanswered)
    if ctx.is_horloged():
        st = horloge_json(ctx, plain.sock, "serverstats")
        check(st.get("dropped_truncated", 0) > 0, "no truncated request counted: %r" % st)
        check(st.get("nts_authenticated", 0) > 0 and st.get("nts_nak", 0) > 0, "NTS not exercised: %r" % st)
        st2 = horloge_json(ctx, kod.sock, "serverstats")
        check(st2.get("kod_rate", 0) > 0 and st2.get("kod_deny", 0) > 0, "no KoD sent: %r" % st2)
        note("plain server: NTS %d authenticated, %d NAKs; %d crypto-NAKs, %d dropped for a bad MAC, "
             "%d MS-SNTP deferred" % (st["nts_authenticated"], st["nts_nak"], st.get("crypto_nak", 0),
                                      st.get("dropped_auth", 0), st.get("mssntp_deferred", 0)))
        note("plain server: %d received, %d replied, %d malformed, %d truncated, %d no room; "
             "kod server: %d RATE, %d DENY KoDs" % (st["received"], st["replied"],
                                                    st["dropped_malformed"], st["dropped_truncated"],
                                                    st["dropped_no_room"], st2["kod_rate"],
                                                    st2["kod_deny"]))


if __name__ == "__main__":
    run("amplification", test)

#!/usr/bin/env python3
"""
fakentp: a small NTP server for the integration tests (Python standard library only).

Owns: answering mode-3 requests the way a misbehaving or strict upstream would, so the
tests can show how horloged treats it as a source:
  --shift S          serve our clock + S seconds (stratum 1, refid GPS, LI 0): a falseticker
  --kod DENY|RSTR    answer every request with that Kiss-o'-Death (LI 3, stratum 0)
  --unsync           answer as an unsynchronised server does: LI 3, stratum 16 (no time to give)
  --kod RATE --min-interval T   RATE KoD to a client's first request and to any sooner than T s
                     after its previous one, time otherwise
  --length N         pad every time reply to N bytes with extension fields of an unassigned type
                     (a first one that ends at byte 1280, then one for the rest): a reply longer
                     than horloged's receive buffer whose 1280-byte prefix is a valid reply
Every request is logged as `REQ <unix time> <client> <poll> <answer>` on stdout (line
buffered), which the tests read to count requests and measure intervals.

    fakentp.py --addr 127.0.0.24 --port P [--shift 0.3] [--kod RATE --min-interval 3]
"""
import argparse
import socket
import struct
import sys
import time

NTP_EPOCH_OFFSET = 2208988800


def to_ntp(t):
    secs = int(t // 1)
    frac = int((t - secs) * 4294967296.0) & 0xFFFFFFFF
    return (((secs + NTP_EPOCH_OFFSET) & 0xFFFFFFFF) << 32) | frac


def refid(text):
    return struct.unpack("!I", text.encode("ascii").ljust(4, b"\0")[:4])[0]


def answer(req, rx, shift, kod=None, unsync=False):
    """The reply to a request received at unix time rx, or None for anything but mode 3."""
    if len(req) < 48:
        return None
    b0, _, poll = req[0], req[1], struct.unpack("!b", req[2:3])[0]
    vn, mode = (b0 >> 3) & 7, b0 & 7
    if mode != 3 or vn < 1 or vn > 4:
        return None
    org = struct.unpack("!Q", req[40:48])[0]
    if kod:
        # RFC 5905 §7.4: LI 3, stratum 0, the kiss code as refid; the timestamps may be
        # anything, chrony and ntpd send their own, so do we.
        return struct.pack("!BBbbIII4Q", (3 << 6) | (vn << 3) | 4, 0, poll, -20, 0, 0,
                           refid(kod), 0, org, to_ntp(rx), to_ntp(time.time()))
    rec = to_ntp(rx + shift)
    li, stratum = (3, 16) if unsync else (0, 1)
    head = struct.pack("!BBbbIII", (li << 6) | (vn << 3) | 4, stratum, poll, -20, 0, 0x10,
                       refid("GPS"))
    return head + struct.pack("!4Q", to_ntp(rx + shift - 1.0), org, rec,
                              to_ntp(time.time() + shift))


def pad_to(reply, length):
    """`reply` followed by extension fields (type 0x7F00) making it `length` bytes."""
    def ef(n):
        return struct.pack("!HH", 0x7F00, n) + bytes(n - 4)
    rest = length - len(reply)
    if rest <= 0:
        return reply
    first = min(rest, 1280 - len(reply)) if length > 1280 else rest
    if 0 < rest - first < 16:
        first -= 16
    return reply + ef(first) + (ef(rest - first) if rest > first else b"")


def serve(addr, port, shift, kod, min_interval, out, length=None, unsync=False):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((addr, port))
    print("READY %s %d" % (addr, port), file=out, flush=True)
    last = {}
    while True:
        req, client = s.recvfrom(4096)
        rx = time.time()
        key = client[0]
        this_kod = kod
        if kod == "RATE":
            prev = last.get(key)
            this_kod = "RATE" if prev is None or rx - prev < min_interval else None
        last[key] = rx
        reply = answer(req, rx, shift, this_kod, unsync)
        poll = struct.unpack("!b", req[2:3])[0] if len(req) > 2 else 0
        print("REQ %.6f %s %d %s" % (rx, key, poll, this_kod or ("time" if reply else "none")),
              file=out, flush=True)
        if reply is not None:
            s.sendto(pad_to(reply, length) if length and not this_kod else reply, client)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--shift", type=float, default=0.0)
    ap.add_argument("--kod", choices=("DENY", "RSTR", "RATE"))
    ap.add_argument("--min-interval", type=float, default=2.0)
    ap.add_argument("--length", type=int)
    ap.add_argument("--unsync", action="store_true")
    a = ap.parse_args()
    try:
        serve(a.addr, a.port, a.shift, a.kod, a.min_interval, sys.stdout, a.length, a.unsync)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

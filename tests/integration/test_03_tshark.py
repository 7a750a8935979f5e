#!/usr/bin/env python3
"""tshark dissects the server's replies (modes 4 and 2, versions 1-4, DENY and RATE
Kiss-o'-Death, crypto-NAK) without `[Malformed Packet]` or Expert Info warnings/errors.
Captured live on lo with dumpcap; if capturing is not permitted, the exchanged datagrams
are written to a pcap instead (HL_NO_CAPTURE=1 forces that)."""
import os
import shutil
import signal
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import Server, Skip, build_header, check, exchange, note, run

STRATUM = 2


def ip_checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4_udp(src, sport, dst, dport, payload):
    udp_len = 8 + len(payload)
    s, d = bytes(map(int, src.split("."))), bytes(map(int, dst.split(".")))
    pseudo = s + d + struct.pack("!BBH", 0, 17, udp_len)
    udp = struct.pack("!HHHH", sport, dport, udp_len, 0) + payload
    csum = ip_checksum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", csum) + udp[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, 0, 0x4000, 64, 17, 0, s, d)
    ip = ip[:10] + struct.pack("!H", ip_checksum(ip)) + ip[12:]
    return ip + udp


def write_pcap(path, packets):
    """packets: (time, ip datagram); LINKTYPE_RAW (101)."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))
        for t, data in packets:
            f.write(struct.pack("<IIII", int(t), int((t % 1) * 1e6), len(data), len(data)))
            f.write(data)


def start_capture(ctx, port, path):
    if os.environ.get("HL_NO_CAPTURE") or shutil.which("dumpcap") is None:
        return None
    p = ctx.spawn(["dumpcap", "-i", "lo", "-f", "udp port %d" % port, "-w", path], "dumpcap.log")
    deadline = time.time() + 10 * ctx.slow
    while time.time() < deadline:
        if p.poll() is not None:
            note("dumpcap failed, writing a pcap instead: " + ctx.read("dumpcap.log").strip())
            return None
        if "Capturing on" in ctx.read("dumpcap.log"):
            return p
        time.sleep(0.05)
    p.terminate()
    return None


def test(ctx):
    if shutil.which("tshark") is None:
        raise Skip("tshark not installed")
    conf = ["local stratum %d" % STRATUM, "deny 127.0.0.2", "allow",
            "ratelimit interval 1 burst 4 leak 0"]
    if ctx.is_horloged():
        conf.append("denyaction kod")
    srv = Server(ctx, conf, probe_src="127.0.0.9").start()
    port = srv.port
    # dumpcap keeps no CAP_DAC_OVERRIDE: it writes into a root-owned directory of its own.
    cap = os.path.join(ctx.private_dir(), "ntp.pcapng")
    dumpcap = start_capture(ctx, port, cap)

    w32 = bytes.fromhex("d9000afa0000000000010400") + bytes(28)
    sends = [
        ("127.0.0.1", build_header(vn=4, mode=3)),
        ("127.0.0.1", build_header(vn=3, mode=3)),
        ("127.0.0.5", w32 + build_header()[40:]),
        ("127.0.0.5", build_header(vn=4, mode=1)),
        ("127.0.0.6", bytes.fromhex("08000400") + build_header()[4:]),
        ("127.0.0.6", build_header(vn=2, mode=3)),
        ("127.0.0.7", build_header() + struct.pack("!I", 1) + os.urandom(16)),
        ("127.0.0.2", build_header(vn=4, mode=3)),
        ("127.0.0.2", build_header(vn=3, mode=1)),
    ] + [("127.0.0.4", build_header(vn=4, mode=3))] * 8
    packets = []
    for src, req in sends:
        raw, t0, t1 = exchange(port, req, src=src, timeout=0.5 * ctx.slow)
        packets.append((t0, ipv4_udp(src, 40000, "127.0.0.1", port, req)))
        if raw is not None:
            packets.append((t1, ipv4_udp("127.0.0.1", port, src, 40000, raw)))
    if dumpcap is not None:
        time.sleep(0.5)
        dumpcap.send_signal(signal.SIGTERM)
        dumpcap.wait(10)
        note("captured live on lo")
    else:
        cap = os.path.join(ctx.private_dir(), "ntp.pcap")
        write_pcap(cap, packets)
        note("wrote %d datagrams to a pcap" % len(packets))

    r = subprocess.run(["tshark", "-n", "-d", "udp.port==%d,ntp" % port, "-r", cap, "-V", "-Y", "ntp"], capture_output=True,
                       text=True, timeout=60)
    check(r.returncode == 0, "tshark failed: %s" % r.stderr)
    text = r.stdout
    with open(ctx.path("tshark.txt"), "w") as f:
        f.write(text)
    bad = [l.strip() for l in text.splitlines()
           if "Malformed" in l or "Expert Info (Warn" in l or "Expert Info (Error" in l]
    check(not bad, "tshark complains:\n" + "\n".join(bad[:20]))
    for l in sorted(set(l.strip() for l in text.splitlines() if "Expert Info" in l)):
        note("tshark note: " + l)

    r = subprocess.run(["tshark", "-n", "-d", "udp.port==%d,ntp" % port, "-r", cap, "-Y", "ntp && udp.srcport == %d" % port,
                        "-T", "fields", "-E", "separator=,", "-e", "udp.length",
                        "-e", "ntp.flags.vn", "-e", "ntp.flags.mode", "-e", "ntp.stratum",
                        "-e", "ntp.refid"], capture_output=True, text=True, timeout=60)
    rows = [l.split(",") for l in r.stdout.splitlines() if l]
    seen = set()
    for ulen, vn, mode, stratum, refid in rows:
        kod = ""
        if stratum == "0":
            try:
                kod = bytes.fromhex(refid.replace(":", "")).decode("ascii", "replace")
            except ValueError:
                kod = refid
        seen.add((vn, mode, kod, int(ulen) - 8))
    for s in sorted(seen):
        note("tshark reply: version %s mode %s %s%d bytes" % (s[0], s[1],
                                                              "KoD %s, " % s[2] if s[2] else "",
                                                              s[3]))
    want = {("4", "4"), ("3", "4"), ("3", "2"), ("4", "2"), ("1", "4"), ("2", "4")}
    got = {(v, m) for v, m, _, _ in seen}
    check(want <= got, "tshark did not see replies %s" % sorted(want - got))
    if ctx.is_horloged():
        kods = {k for _, _, k, _ in seen}
        check({"DENY", "RATE"} <= kods, "tshark did not see DENY and RATE KoDs: %s" % kods)
        check(any(n == 52 for _, _, _, n in seen), "tshark did not see the 52-byte crypto-NAK")


if __name__ == "__main__":
    run("tshark", test)

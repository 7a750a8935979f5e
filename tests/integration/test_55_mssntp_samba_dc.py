#!/usr/bin/env python3
"""MS-SNTP with a real Samba AD DC: signed time for Windows domain members through ntp_signd.

In a network namespace of its own, the test provisions a throw-away domain with Debian's Samba
(`samba-tool domain provision --server-role=dc --dns-backend=NONE`), creates a machine account
with a known password, starts `samba -i` with only its ntp_signd service, and points horloged's
`ntpsigndsocket` at the DC's socket directory. Then, as a domain member would:
  - 68-byte requests carrying the account's RID (and the previous-password bit) get 68-byte
    replies whose key id is the RID as sent and whose checksum is MD5(NT hash || reply), the NT
    hash computed here (MD4 of the UTF-16LE password);
  - a 68-byte request whose key id is in `keyfile` stays symmetric (AES128-CMAC), not signed;
  - a RID that is not a machine account (Administrator, 500) gets no reply; the DC then drops
    the connection, and horloged reconnects: the next member request is signed again;
  - a 120-byte ExtendedAuthenticator request gets no reply, is counted and logged once;
  - `horloge serverstats` counts all of it.
"""
# hltest: plain-only
import os
import re
import shutil
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import (NOCLOCK, Fail, Server, Skip, build_header, check, exchange, horloge_json,
                    note, rerun_in_netns, run, wait_until)
import mssntp

REALM = "HORLOGE.TEST"
MACHINE = "WIN55"
PASSWORD = "Machine-Pass-55!"
AES_KEY = bytes(range(1, 17))
HOSTS = "127.0.0.1 localhost\n127.0.0.1 dc1.horloge.test dc1\n"


def samba_tool(ctx, conf, *args):
    r = subprocess.run(["samba-tool"] + list(args) + ["-s", conf], capture_output=True, text=True,
                       timeout=120 * ctx.slow)
    check(r.returncode == 0, "samba-tool %s: %s" % (" ".join(args[:2]), (r.stdout + r.stderr)[-1500:]))
    return r.stdout


def provision(ctx, top):
    """A domain in `top`; returns (smb.conf path, the ntp_signd directory)."""
    signd = os.path.join(top, "ntp_signd")
    t0 = time.time()
    r = subprocess.run(["samba-tool", "domain", "provision", "--realm=" + REALM, "--domain=HORLOGE",
                        "--server-role=dc", "--dns-backend=NONE", "--host-name=dc1",
                        "--adminpass=Adm1n-Pass-55!", "--targetdir=" + top,
                        "--option=ntp signd socket directory=" + signd],
                       capture_output=True, text=True, timeout=150 * ctx.slow)
    check(r.returncode == 0, "samba-tool domain provision failed:\n%s" % (r.stdout + r.stderr)[-2500:])
    conf = os.path.join(top, "etc", "smb.conf")
    text = open(conf).read()
    # Only the signer: no SMB, LDAP, KDC or DNS listening, logs and pid file in the test directory.
    text = re.sub(r"\n\s*server services = [^\n]*", "\n\tserver services = ntp_signd", text)
    text = re.sub(r"\n\s*log file = [^\n]*", "\n\tlog file = %s/log.%%m\n\tpid directory = %s/run\n"
                  "\tinterfaces = lo\n\tbind interfaces only = yes" % (top, top), text)
    with open(conf, "w") as f:
        f.write(text)
    os.makedirs(os.path.join(top, "run"), exist_ok=True)
    note("provisioned %s in %.1f s" % (REALM, time.time() - t0))
    return conf, signd


def machine_account(ctx, conf, top):
    """Creates the machine account with a known password; returns its RID."""
    sam = "tdb://" + os.path.join(top, "private", "sam.ldb")
    samba_tool(ctx, conf, "computer", "create", MACHINE, "-H", sam)
    samba_tool(ctx, conf, "user", "setpassword", MACHINE + "$", "--newpassword=" + PASSWORD, "-H", sam)
    out = samba_tool(ctx, conf, "computer", "show", MACHINE, "-H", sam, "--attributes=objectSid")
    m = re.search(r"objectSid: S-1-5-21-[\d-]+-(\d+)\s", out + "\n")
    check(m, "no objectSid for %s: %r" % (MACHINE, out))
    return int(m.group(1))


def start_dc(ctx, conf, signd):
    dc = ctx.spawn(NOCLOCK + ["samba", "-i", "-s", conf], "samba.log")
    sock = os.path.join(signd, "socket")
    wait_until(ctx, 30, lambda: (check(dc.poll() is None, "samba exited:\n" + ctx.read("samba.log")[-2000:])
                                 or os.path.exists(sock)), "samba's ntp_signd socket")
    return dc


def signed_exchange(port, rid, previous=False):
    req = mssntp.request(rid, previous_password=previous)
    rep, t0, t1 = exchange(port, req, timeout=3.0)
    return req, rep


def check_signed(req, rep, what):
    check(rep is not None, "%s: no reply" % what)
    check(len(rep) == 68, "%s: reply of %d bytes" % (what, len(rep)))
    check(rep[24:32] == req[40:48], "%s: origin timestamp not echoed" % what)
    check(rep[0] & 7 == 4 and rep[1] == 2, "%s: not a mode-4 stratum-2 reply: %r" % (what, rep[:2]))
    check(mssntp.signature_ok(rep, PASSWORD, req[48:52]),
          "%s: the signature is not MD5(NT hash || reply) with key id %s" % (what, req[48:52].hex()))


def symmetric_stays_symmetric(port):
    from cryptography.hazmat.primitives import cmac
    from cryptography.hazmat.primitives.ciphers import algorithms

    def mac(data):
        c = cmac.CMAC(algorithms.AES(AES_KEY))
        c.update(data)
        return c.finalize()
    hdr = build_header(vn=4, mode=3)
    req = hdr + struct.pack("!I", 42) + mac(hdr)
    rep, _, _ = exchange(port, req)
    check(rep is not None and len(rep) == 68 and rep[48:52] == struct.pack("!I", 42) and
          rep[52:] == mac(rep[:48]), "a 68-byte request of keyfile key 42 was not answered with "
          "key 42's AES128-CMAC: %r" % (rep and rep.hex()))


def test(ctx):
    ctx.need_horloged("ntpsigndsocket")
    for tool in ("samba", "samba-tool"):
        if not shutil.which(tool):
            raise Skip("%s not installed (tools/deps.sh installs samba and samba-ad-provision)" % tool)
    top = ctx.private_dir()
    conf, signd = provision(ctx, top)
    rid = machine_account(ctx, conf, top)
    start_dc(ctx, conf, signd)
    keyfile = ctx.path("keys")
    with open(keyfile, "w") as f:
        f.write("42 AES128 HEX:%s\n" % AES_KEY.hex())
    srv = Server(ctx, ["local stratum 2", "ntpsigndsocket %s" % signd, "keyfile %s" % keyfile]).start()
    t0 = time.time()
    for i in range(20):
        req, rep = signed_exchange(srv.port, rid, previous=(i % 5 == 4))
        check_signed(req, rep, "request %d for RID %d" % (i + 1, rid))
    note("20 requests for %s (RID %d, 4 with the previous-password bit) signed by the DC and "
         "verified with the NT hash, in %.2f s" % (MACHINE, rid, time.time() - t0))
    symmetric_stays_symmetric(srv.port)
    # Administrator (500) is no machine account: the DC refuses it and closes the connection.
    _, rep = signed_exchange(srv.port, 500)
    check(rep is None, "a request for RID 500 (not a trust account) was answered: %r" % (rep and rep.hex()))
    req, rep = signed_exchange(srv.port, rid)
    if rep is None:  # the one asked while the connection was being re-made may time out
        req, rep = signed_exchange(srv.port, rid)
    check_signed(req, rep, "the request after the DC dropped the connection")
    ext = build_header(vn=3, mode=3) + struct.pack("<I", rid) + bytes(68)
    for _ in range(2):
        rep, _, _ = exchange(srv.port, ext, timeout=0.5)
        check(rep is None, "a 120-byte ExtendedAuthenticator request was answered")
    stats = horloge_json(ctx, srv.sock, "serverstats")
    c = {k: int(v) for k, v in stats.items() if k.startswith("mssntp_")}
    check(c.get("mssntp_signed", 0) >= 21 and c.get("mssntp_sign_failed", 0) >= 1 and
          c.get("mssntp_extended") == 2 and c.get("mssntp_deferred", 0) >= 22,
          "serverstats MS-SNTP counters: %r" % c)
    check(srv.log().count("120-byte ExtendedAuthenticator") == 1,
          "the 120-byte request is not logged exactly once:\n" + srv.log()[-1500:])
    note("serverstats: %r" % c)


if __name__ == "__main__":
    rc = rerun_in_netns("mssntp", HOSTS)
    if rc is not None:
        sys.exit(rc)
    run("mssntp_samba_dc", test)

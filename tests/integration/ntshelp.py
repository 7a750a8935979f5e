"""
ntshelp: what the NTS tests share — a test CA and server certificate made with the openssl CLI
at test time, horloged's NTS configuration lines, and a chronyd NTS client with its
`chronyc authdata` and `sources` readings.
"""
import os
import re
import subprocess
import time

from hltest import NOCLOCK, Fail, check, free_port


def make_test_ca(ctx, name="127.0.0.1"):
    """A throw-away CA and a server certificate for `name` (an IP or DNS SAN); returns paths
    (ca_cert, server_cert, server_key)."""
    d = ctx.path("pki")
    os.makedirs(d, exist_ok=True)
    p = lambda f: os.path.join(d, f)
    san = ("IP:%s" % name) if re.match(r"^[0-9.:]+$", name) else ("DNS:%s" % name)

    def run(*args):
        r = subprocess.run(["openssl"] + list(args), capture_output=True, text=True, timeout=30)
        check(r.returncode == 0, "openssl %s failed:\n%s" % (args[0], r.stderr))
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", p("ca.key"), "-out", p("ca.pem"), "-days", "2", "-subj", "/CN=horloge test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", p("server.key"), "-out", p("server.csr"), "-subj", "/CN=%s" % name)
    with open(p("ext.cnf"), "w") as f:
        f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n" % san)
    run("x509", "-req", "-in", p("server.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
        "-CAcreateserial", "-out", p("server.pem"), "-days", "2", "-extfile", p("ext.cnf"))
    for f in ("ca.pem", "server.pem", "server.key"):
        os.chmod(p(f), 0o644)
    return p("ca.pem"), p("server.pem"), p("server.key")


def horloged_nts_lines(cert, key, ntsport, extra=()):
    return ["ntsservercert %s" % cert, "ntsserverkey %s" % key, "ntsport %d" % ntsport] + list(extra)


class ChronyNtsClient:
    """A lasting `chronyd -x` polling one NTS server every 1-2 s, with a command socket."""

    def __init__(self, ctx, port, ntsport, ca, name="client", dumpdir=None):
        self.ctx = ctx
        self.name = name
        self.sock = ctx.path(name + ".sock")
        conf = ctx.path(name + ".conf")
        lines = ["server 127.0.0.1 port %d nts ntsport %d iburst minpoll 0 maxpoll 1" % (port, ntsport),
                 "ntstrustedcerts %s" % ca, "port 0", "cmdport 0", "bindcmdaddress %s" % self.sock,
                 "pidfile %s" % ctx.path(name + ".pid")]
        if dumpdir:
            lines.append("ntsdumpdir %s" % dumpdir)
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = ctx.spawn(NOCLOCK + ["chronyd", "-x", "-d", "-f", conf], name + ".log")

    def chronyc(self, *args):
        if not os.path.exists(self.sock):
            return ""
        r = subprocess.run(["chronyc", "-h", self.sock, "-n"] + list(args), capture_output=True,
                           text=True, timeout=10)
        return r.stdout

    def source_line(self):
        for l in self.chronyc("sources").splitlines():
            if "127.0.0.1" in l:
                return l
        return ""

    def authdata(self):
        """chronyc authdata's row as a dict: Mode, KeyID, Type, KLen, Last, Atmp, NAK, Cook, CLen."""
        out = self.chronyc("-c", "authdata")
        for l in out.splitlines():
            f = l.split(",")
            if len(f) >= 10 and f[0] == "127.0.0.1":
                return dict(zip(["addr", "mode", "keyid", "type", "klen", "last", "atmp", "nak",
                                 "cook", "clen"], f))
        return None

    def wait_selected(self, timeout=40):
        deadline = time.time() + timeout * self.ctx.slow
        line = ""
        while time.time() < deadline:
            check(self.proc.poll() is None, "chronyd client exited:\n" + self.ctx.read(self.name + ".log"))
            line = self.source_line()
            if line.startswith("^*"):
                return line
            time.sleep(0.5)
        raise Fail("chronyd never selected the NTS server: %r\nauthdata: %r\nclient log:\n%s"
                   % (line, self.chronyc("authdata"), self.ctx.read(self.name + ".log")[-2000:]))


def free_tcp_ports(n):
    """n distinct TCP ports free on 127.0.0.1 now (held together while chosen, so never the same)."""
    import socket
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def nts_requests(ctx, ntsport, ca, host="127.0.0.1"):
    """A real NTS-KE handshake (`horloge ntske --requests`): valid NTS requests, one per cookie
    received (header, UID, cookie, placeholders, authenticator under the C2S key), as bytes.
    Flip a byte of one to forge it: the server then answers an NTS NAK (KoD NTSN)."""
    r = subprocess.run([ctx.horloge, "ntske", host, "-p", str(ntsport), "--cafile", ca, "--requests"],
                       capture_output=True, text=True, timeout=20)
    check(r.returncode == 0, "horloge ntske failed: %s" % r.stderr)
    return [bytes.fromhex(l.split()[1]) for l in r.stdout.splitlines() if l.startswith("request ")]

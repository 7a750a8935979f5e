"""
hltest: shared helpers for horloge's integration tests (Python standard library only).

Owns: the test context (build directory, target server, temp dir, cleanup),
starting the server under test (horloged, or chronyd standing in for it when
HL_TARGET=chronyd), free ports, and crafting/parsing NTP packets.

Every test is a script `test_*.py BUILD_DIR`; it exits 0 (pass), 77 (skip,
reason on the last line) or anything else (fail). The server under test always
runs without CAP_SYS_TIME in its bounding set, and with -x unless a test asks
for `steer_clock` (to see the daemon fail to steer): nothing here may touch the
real clock.
"""
import ctypes
import grp
import os
import pwd
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback

EXIT_SKIP = 77
NTP_EPOCH_OFFSET = 2208988800
SAN_PATTERNS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                "SUMMARY: UndefinedBehaviorSanitizer", "SUMMARY: AddressSanitizer")


class Skip(Exception):
    pass


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def note(msg):
    print("  " + msg, flush=True)


# ---------------------------------------------------------------- NTP packets

def unix_to_ntp(t):
    """Unix seconds (float) -> 64-bit NTP timestamp (era 0)."""
    secs = int(t) + NTP_EPOCH_OFFSET
    frac = int((t - int(t)) * 4294967296.0) & 0xFFFFFFFF
    return ((secs & 0xFFFFFFFF) << 32) | frac


def ntp_to_unix(ts):
    return (ts >> 32) - NTP_EPOCH_OFFSET + (ts & 0xFFFFFFFF) / 4294967296.0


def short_to_float(v):
    return (v >> 16) + (v & 0xFFFF) / 65536.0


def fresh_xmt():
    """A transmit timestamp near now whose low fraction bits are random, so each origin is unique."""
    return (unix_to_ntp(time.time()) & ~0xFFFFF) | random.getrandbits(20)


def build_header(vn=4, mode=3, li=0, stratum=0, poll=6, precision=-20, root_delay=0,
                 root_disp=0, refid=0, reftime=0, org=0, rec=0, xmt=None):
    if xmt is None:
        xmt = fresh_xmt()
    return struct.pack("!BBbbIII4Q", (li << 6) | (vn << 3) | mode, stratum, poll, precision,
                       root_delay, root_disp, refid, reftime, org, rec, xmt)


class Reply:
    """A decoded NTP header (the first 48 bytes) plus the raw bytes."""

    def __init__(self, data):
        self.raw = data
        self.length = len(data)
        check(len(data) >= 48, "reply shorter than 48 bytes: %d" % len(data))
        (b0, self.stratum, self.poll, self.precision, self.root_delay_raw, self.root_disp_raw,
         self.refid_raw, self.reftime, self.org, self.rec, self.xmt) = struct.unpack(
            "!BBbbIII4Q", data[:48])
        self.li = b0 >> 6
        self.vn = (b0 >> 3) & 7
        self.mode = b0 & 7
        self.refid = struct.pack("!I", self.refid_raw)
        self.root_delay = short_to_float(self.root_delay_raw)
        self.root_disp = short_to_float(self.root_disp_raw)

    def refid_text(self):
        return self.refid.decode("ascii", "replace").rstrip("\0")

    def __repr__(self):
        return ("<reply len=%d li=%d vn=%d mode=%d stratum=%d poll=%d prec=%d rdelay=%.6f "
                "rdisp=%.6f refid=%r>" % (self.length, self.li, self.vn, self.mode, self.stratum,
                                         self.poll, self.precision, self.root_delay,
                                         self.root_disp, self.refid))


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def exchange(port, data, dst="127.0.0.1", src=None, timeout=1.0):
    """Sends `data` from `src` (default: same family loopback) and returns (reply bytes or None, t_send, t_recv)."""
    fam = family_of(dst)
    if src is None:
        src = "::1" if fam == socket.AF_INET6 else "127.0.0.1"
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.bind((src, 0))
        s.settimeout(timeout)
        t0 = time.time()
        s.sendto(data, (dst, port))
        try:
            reply, _ = s.recvfrom(4096)
        except socket.timeout:
            return None, t0, None
        return reply, t0, time.time()


def query(port, dst="127.0.0.1", src=None, timeout=1.0, **hdr):
    """One mode-3 (by default) exchange; returns (Reply or None, request bytes, t_send, t_recv)."""
    req = build_header(**hdr)
    raw, t0, t1 = exchange(port, req, dst, src, timeout)
    return (Reply(raw) if raw is not None else None), req, t0, t1


def served_offset(port, n=5):
    """The median over n queries of the server's time - this machine's clock (seconds), or None."""
    offs = []
    for _ in range(n):
        rep, _, t0, t1 = query(port)
        if rep is not None and t1 is not None:
            offs.append(((ntp_to_unix(rep.rec) - t0) + (ntp_to_unix(rep.xmt) - t1)) / 2)
    offs.sort()
    return offs[len(offs) // 2] if offs else None


def check_server_reply(rep, req, t0, t1, tol=0.1):
    """Checks what every time-carrying reply must satisfy against its request."""
    req_xmt = struct.unpack("!Q", req[40:48])[0]
    check(rep.length <= len(req), "reply (%d) longer than request (%d)" % (rep.length, len(req)))
    check(rep.org == req_xmt, "origin %016x != request transmit %016x" % (rep.org, req_xmt))
    rx, tx = ntp_to_unix(rep.rec), ntp_to_unix(rep.xmt)
    check(t0 - tol <= rx <= t1 + tol, "receive timestamp %.6f outside [%.6f, %.6f]" % (rx, t0, t1))
    check(t0 - tol <= tx <= t1 + tol, "transmit timestamp %.6f outside [%.6f, %.6f]" % (tx, t0, t1))
    check(tx >= rx, "transmit %.9f before receive %.9f" % (tx, rx))


# --------------------------------------------------------- the machine's clock

CAP_SYS_TIME = 25


def kernel_clock_state():
    """What adjtimex(2) reads (modes 0: changes nothing) that a daemon steering the clock would
    change, and CLOCK_REALTIME - CLOCK_MONOTONIC, which only a step moves."""
    buf = ctypes.create_string_buffer(512)  # struct timex is 208 bytes on x86-64 and arm64
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.adjtimex(buf) < 0:
        return None
    offset, freq = struct.unpack_from("2l", buf.raw, 8)
    status = struct.unpack_from("i", buf.raw, 40)[0]
    tick = struct.unpack_from("l", buf.raw, 88)[0]
    step = time.clock_gettime(time.CLOCK_REALTIME) - time.clock_gettime(time.CLOCK_MONOTONIC)
    return {"offset": offset, "freq": freq, "status": status, "tick": tick, "realtime": step}


def clock_changes(before, after):
    """Differences between two kernel_clock_state() readings, as text ('' = untouched)."""
    if before is None or after is None:
        return ""
    out = ["%s %r -> %r" % (k, before[k], after[k]) for k in ("offset", "freq", "status", "tick")
           if before[k] != after[k]]
    if abs(after["realtime"] - before["realtime"]) > 0.001:
        out.append("CLOCK_REALTIME stepped by %.6f s" % (after["realtime"] - before["realtime"]))
    return ", ".join(out)


def has_sys_time(pid):
    """True when process pid may set the clock (CAP_SYS_TIME effective or in its bounding set)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            caps = dict(l.split(":", 1) for l in f if l.startswith("Cap"))
    except OSError:
        return False
    return any(int(caps.get(k, "0").strip(), 16) >> CAP_SYS_TIME & 1 for k in ("CapEff", "CapBnd"))


# ------------------------------------------------------------------ processes

def free_port(addrs=("127.0.0.1",), lo=11000, hi=29000):
    """A UDP port free on every address in `addrs` (and on the wildcard), probed by binding."""
    rng = random.Random(os.getpid() ^ int(time.time() * 1000))
    for _ in range(200):
        port = rng.randrange(lo, hi)
        ok = True
        for a in tuple(addrs) + ("0.0.0.0",):
            try:
                with socket.socket(family_of(a), socket.SOCK_DGRAM) as s:
                    s.bind((a, port))
            except OSError:
                ok = False
                break
        if ok:
            return port
    raise Fail("no free UDP port found")


def port_is_free(port, addr="127.0.0.1"):
    try:
        with socket.socket(family_of(addr), socket.SOCK_DGRAM) as s:
            s.bind((addr, port))
        return True
    except OSError:
        return False


class Ctx:
    """Per-test state: build dir, target, temp dir (owned by _chrony so chronyd may write), cleanups."""

    def __init__(self, name):
        self.name = name
        build = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("HL_BUILD", "build")
        self.build = os.path.abspath(build)
        self.target = os.environ.get("HL_TARGET", "horloged")
        self.horloged = os.path.join(self.build, "horloged")
        self.horloge = os.path.join(self.build, "horloge")
        slow = os.environ.get("HL_SLOW")
        self.slow = float(slow) if slow else (3.0 if "san" in os.path.basename(self.build) else 1.0)
        self.dir = tempfile.mkdtemp(prefix="hl-%s-" % name)
        try:
            os.chown(self.dir, pwd.getpwnam("_chrony").pw_uid, grp.getgrnam("_chrony").gr_gid)
        except (KeyError, PermissionError):
            pass
        os.chmod(self.dir, 0o770)
        self._cleanups = []
        self.servers = []

    def is_horloged(self):
        return self.target == "horloged"

    def need_horloged(self, what):
        if not self.is_horloged():
            raise Skip("%s is horloged-specific (target is %s)" % (what, self.target))

    def private_dir(self):
        """A second temp dir owned by the caller only (for tools that drop capabilities as root)."""
        d = tempfile.mkdtemp(prefix="hl-%s-own-" % self.name)
        self.on_cleanup(lambda: None if os.environ.get("HL_KEEP")
                        else shutil.rmtree(d, ignore_errors=True))
        return d

    def path(self, name):
        return os.path.join(self.dir, name)

    def on_cleanup(self, fn):
        self._cleanups.append(fn)

    def cleanup(self):
        while self._cleanups:
            fn = self._cleanups.pop()
            try:
                fn()
            except Exception as e:  # cleanup must go on
                print("  cleanup error: %r" % e)
        if os.environ.get("HL_KEEP"):
            print("  kept %s" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def spawn(self, argv, log_name, **kw):
        """Starts a process we own, stdout+stderr to a log file, killed at cleanup if still alive."""
        logf = open(self.path(log_name), "wb")
        p = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             **kw)
        logf.close()

        def kill():
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.on_cleanup(kill)
        return p

    def read(self, name):
        try:
            with open(self.path(name), "r", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


NOCLOCK = ["setpriv", "--bounding-set", "-sys_time"]


def check_noclock_works():
    """Fails unless a program started under NOCLOCK really lacks CAP_SYS_TIME, checked before a
    daemon is started without -x (which then tries, and must fail, to steer the clock)."""
    r = subprocess.run(NOCLOCK + ["cat", "/proc/self/status"], capture_output=True, text=True)
    caps = dict(l.split(":", 1) for l in r.stdout.splitlines() if l.startswith("Cap"))
    check(r.returncode == 0 and caps, "%s failed: %s" % (" ".join(NOCLOCK), r.stderr.strip()))
    held = [k for k in ("CapEff", "CapPrm", "CapBnd", "CapAmb")
            if int(caps.get(k, "0").strip(), 16) >> CAP_SYS_TIME & 1]
    check(not held, "%s leaves CAP_SYS_TIME in %s" % (" ".join(NOCLOCK), held))


class Server:
    """The NTP server under test, configured in horloged's syntax (translated for chronyd)."""

    def __init__(self, ctx, conf_lines, name="srv", port=None, listen=("127.0.0.1",),
                 netns=None, probe_src=None, kind=None, steer_clock=False):
        self.ctx = ctx
        self.kind = kind or ctx.target
        # Without -x horloged tries to steer the clock: safe only because NOCLOCK takes
        # CAP_SYS_TIME away (checked before it starts), so every attempt fails with EPERM.
        self.steer_clock = steer_clock
        self.name = name
        self.listen = list(listen)
        self.port = port if port is not None else free_port(self.listen)
        self.netns = netns
        self.probe_src = probe_src
        self.conf_path = ctx.path(name + ".conf")
        self.pidfile = ctx.path(name + ".pid")
        self.sock = ctx.path(name + ".sock")
        self.log_name = name + ".log"
        self.proc = None
        self.write_conf(conf_lines)

    def base_lines(self):
        lines = ["port %d" % self.port]
        lines += ["listen %s" % a for a in self.listen]
        lines += ["pidfile %s" % self.pidfile, "controlsocket %s" % self.sock]
        return lines

    def write_conf(self, conf_lines, raw=False):
        lines = list(conf_lines) if raw else self.base_lines() + list(conf_lines)
        if self.kind != "horloged":
            lines = chrony_translate(lines)
        with open(self.conf_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def argv(self):
        if self.kind == "horloged":
            x = [] if self.steer_clock else ["-x"]
            cmd = NOCLOCK + [self.ctx.horloged] + x + ["-d", "-f", self.conf_path]
        else:
            cmd = NOCLOCK + ["chronyd", "-x", "-d", "-f", self.conf_path]
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns] + cmd
        return cmd

    def start(self, wait=True):
        if self.steer_clock:
            check(self.kind == "horloged", "steer_clock is for horloged only")
            check_noclock_works()
        # registered first so it runs after the process is gone (leak reports come at exit)
        self.ctx.on_cleanup(self.check_sanitizer)
        self.proc = self.ctx.spawn(self.argv(), self.log_name)
        self.ctx.servers.append(self)
        if wait:
            self.wait_ready()
            self.check_no_clock_capability()
        return self

    def check_no_clock_capability(self):
        # Something else may have answered wait_ready: look once the program itself runs.
        prog = "horloged" if self.kind == "horloged" else "chronyd"
        deadline = time.time() + 5 * self.ctx.slow
        while self.alive() and time.time() < deadline:
            try:
                with open("/proc/%d/comm" % self.proc.pid) as f:
                    if f.read().strip() == prog:
                        break
            except OSError:
                pass
            time.sleep(0.05)
        check(not has_sys_time(self.proc.pid), "%s (pid %d) holds CAP_SYS_TIME"
              % (self.name, self.proc.pid))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        return self.ctx.read(self.log_name)

    def wait_ready(self, timeout=10.0):
        dst = self.listen[0] if self.listen else "127.0.0.1"
        deadline = time.time() + timeout * self.ctx.slow
        while time.time() < deadline:
            if not self.alive():
                raise Fail("%s exited with %s before serving; log:\n%s"
                           % (self.name, self.proc.returncode, self.log()[-3000:]))
            if self.netns:
                r = subprocess.run(["ip", "netns", "exec", self.netns, "ntpdig", "-t", "1",
                                    dst], capture_output=True, text=True)
                if r.returncode == 0:
                    return
            else:
                rep, _, _, _ = query(self.port, dst=dst, src=self.probe_src, timeout=0.2)
                if rep is not None:
                    return
            time.sleep(0.1)
        raise Fail("%s not answering on port %d after %.0f s; log:\n%s"
                   % (self.name, self.port, timeout * self.ctx.slow, self.log()[-3000:]))

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=5.0):
        """SIGTERM; returns (exit code or None if still running after timeout, seconds taken)."""
        if not self.alive():
            return self.proc.returncode, 0.0
        t0 = time.time()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            rc = None
        return rc, time.time() - t0

    def check_sanitizer(self):
        text = self.log()
        for pat in SAN_PATTERNS:
            if pat in text:
                i = text.index(pat)
                raise_later(self.ctx, "sanitizer report in %s log:\n%s"
                            % (self.name, text[max(0, i - 200):i + 2500]))
                return


_late_failures = []


def raise_later(ctx, msg):
    _late_failures.append(msg)


def chrony_translate(lines):
    """horloged config lines -> chronyd's, for validating the tests against chronyd."""
    out = ["cmdport 0"]
    has_allow = any(l.split()[:1] == ["allow"] for l in lines)
    has_cmd = False
    if not has_allow:
        out.append("allow all")
    # chronyd's `allow all`/`deny all` override earlier rules; horloged's longest prefix wins.
    general = [l for l in lines if l.split() in (["allow"], ["deny"], ["allow", "all"],
                                                 ["deny", "all"])]
    lines = general + [l for l in lines if l not in general]
    for line in lines:
        w = line.split()
        if not w or w[0].startswith("#"):
            continue
        d = w[0]
        if d == "listen":
            out.append("bindaddress " + w[1])
        elif d == "controlsocket":
            out.append("bindcmdaddress " + w[1])
            has_cmd = True
        elif d in ("allow", "deny"):
            out.append(line if len(w) > 1 else d + " all")
        elif d == "ratelimit":
            t = " ".join(w)
            t = re.sub(r"leak 0\b", "leak 1", t)
            out.append(t)
        elif d in ("threads", "denyaction", "clientlogsize", "user", "log"):
            continue
        else:
            out.append(line)
    if not has_cmd:
        out.append("bindcmdaddress /")
    return out


def spawn_chronyd_client(ctx, lines, name="client"):
    """A `chronyd -x` client with these config lines (its command socket and pid file in the test
    dir); returns (process, command socket path) for `chronyc -h SOCK`."""
    sock = ctx.path(name + ".sock")
    conf = ctx.path(name + ".conf")
    with open(conf, "w") as f:
        f.write("\n".join(list(lines) + ["port 0", "cmdport 0", "bindcmdaddress " + sock,
                                         "pidfile " + ctx.path(name + ".pid")]) + "\n")
    return ctx.spawn(NOCLOCK + ["chronyd", "-x", "-d", "-f", conf], name + ".log"), sock


def check_chronyd_refuses(ctx, port, what):
    """`chronyd -Q` (measuring only, no CAP_SYS_TIME) against our server must not take its time;
    `what` says why it must not, for the failure message. Returns chronyd's last line."""
    cmd = NOCLOCK + ["chronyd", "-x", "-Q", "-t", str(int(3 * ctx.slow)), "-f", "/dev/null",
                     "server 127.0.0.1 port %d iburst maxsamples 2" % port,
                     "pidfile %s" % ctx.path("q.pid")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=40 * ctx.slow)
    out = r.stdout + r.stderr
    check(not re.search(r"System clock wrong by", out), "chronyd took time from %s:\n%s"
          % (what, out))
    return (out.strip().splitlines() or ["(nothing)"])[-1]


# ------------------------------------------------------------ upstream sources

def wait_until(ctx, timeout, fn, what):
    """Calls fn() every 0.25 s until it returns something true; returns (it, seconds waited)."""
    t0 = time.time()
    deadline = t0 + timeout * ctx.slow
    last = None
    while True:
        last = fn()
        if last:
            return last, time.time() - t0
        if time.time() > deadline:
            raise Fail("%s: not within %.0f s" % (what, timeout * ctx.slow))
        time.sleep(0.25)


def chronyd_upstream(ctx, addrs, port, name, stratum=1):
    """A `chronyd -x` serving `local stratum N` on port at one address (or one per family) —
    the tests' true time source. Without an IPv6 address it binds [::]:port as well."""
    addrs = (addrs,) if isinstance(addrs, str) else tuple(addrs)
    return Server(ctx, ["local stratum %d" % stratum], name=name, port=port, listen=addrs,
                  kind="chronyd").start()


class FakeNtp:
    """tests/integration/fakentp.py in a process of its own; its log lists every request."""

    def __init__(self, ctx, addr, port, name, *args):
        self.ctx = ctx
        self.addr = addr
        self.port = port
        self.name = name
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fakentp.py")
        self.proc = ctx.spawn([sys.executable, "-u", script, "--addr", addr, "--port", str(port)]
                              + [str(a) for a in args], name + ".log")
        wait_until(ctx, 5, lambda: "READY" in ctx.read(name + ".log") or self.proc.poll() is not None,
                   "%s ready" % name)
        check(self.proc.poll() is None, "%s exited: %s" % (name, ctx.read(name + ".log")))

    def requests(self):
        """[(unix time, client, poll, answer)] received so far."""
        out = []
        for line in self.ctx.read(self.name + ".log").splitlines():
            w = line.split()
            if len(w) == 5 and w[0] == "REQ":
                out.append((float(w[1]), w[2], int(w[3]), w[4]))
        return out


def rerun_in_netns(tag, hosts):
    """Runs this test script again inside a network namespace of its own, with `hosts` as its
    /etc/hosts (`ip netns exec` mounts /etc/netns/NAME/hosts there) and only a loopback
    interface, so that resolving names can never reach a DNS server; returns the exit code.
    Call it first thing; inside the namespace it returns None and the test goes on."""
    if os.environ.get("HL_NETNS"):
        return None
    if os.geteuid() != 0:
        print("SKIP: a network namespace needs root", flush=True)
        return EXIT_SKIP
    ns = "hl-%s-%d" % (tag, os.getpid())
    etc = os.path.join("/etc/netns", ns)
    made_root = not os.path.isdir("/etc/netns")

    def remove():
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(etc, ignore_errors=True)
        if made_root:
            try:
                os.rmdir("/etc/netns")
            except OSError:
                pass
    signal.signal(signal.SIGTERM, lambda s, f: (remove(), os._exit(1)))
    try:
        r = subprocess.run(["ip", "netns", "add", ns], capture_output=True, text=True)
        if r.returncode != 0:
            print("SKIP: ip netns add: %s" % r.stderr.strip(), flush=True)
            return EXIT_SKIP
        os.makedirs(etc)
        with open(os.path.join(etc, "hosts"), "w") as f:
            f.write(hosts)
        subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"], check=True)
        env = dict(os.environ, HL_NETNS=ns)
        return subprocess.run(["ip", "netns", "exec", ns, sys.executable] + sys.argv,
                              env=env).returncode
    finally:
        remove()


def sources_by_addr(ctx, sock):
    """`horloge sources --json` as {address without port: record}."""
    recs = horloge_json(ctx, sock, "sources").get("sources", [])
    out = {}
    for r in recs:
        addr = str(r.get("address", ""))
        host = addr.rsplit(":", 1)[0].strip("[]") if addr.count(":") == 1 or "]" in addr else addr
        out[host] = r
    return out


def reach_of(rec):
    return int(str(rec.get("reach", "0")), 8)


# ---------------------------------------------------------------------- main

def chrony_ntpdata(sock, addr):
    """`chronyc ntpdata ADDR` of the chronyd whose command socket is SOCK, as {field: value}."""
    r = subprocess.run(["chronyc", "-h", sock, "-n", "ntpdata", addr], capture_output=True,
                       text=True, timeout=10)
    return dict((k.strip(), v.strip()) for k, v in
                (l.split(":", 1) for l in r.stdout.splitlines() if ":" in l))


def horloge_json(ctx, sock, command):
    """`horloge -s SOCK COMMAND --json`, parsed."""
    import json
    r = subprocess.run([ctx.horloge, "-s", sock, command, "--json"], capture_output=True,
                       text=True, timeout=30 * ctx.slow)
    check(r.returncode == 0, "horloge %s --json: exit %d %s" % (command, r.returncode, r.stderr))
    try:
        return json.loads(r.stdout)
    except ValueError as e:
        raise Fail("horloge %s --json is not JSON (%s): %r" % (command, e, r.stdout))


def server_logs(ctx, lines=15):
    out = ""
    for srv in ctx.servers:
        tail = srv.log().splitlines()[-lines:]
        out += "\n  --- last lines of %s log ---\n" % srv.name + "\n".join("  | " + l for l in tail)
    return out


def run(name, fn):
    """Runs fn(ctx) as a test: prints the reason on failure/skip, always cleans up."""
    ctx = Ctx(name)

    def on_signal(signum, frame):
        ctx.cleanup()
        print("FAIL: killed by signal %d (timeout?)" % signum)
        os._exit(1)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    rc = 0
    clock_before = kernel_clock_state()
    try:
        fn(ctx)
    except Skip as e:
        rc = EXIT_SKIP
        msg = "SKIP: %s" % e
    except Fail as e:
        rc = 1
        msg = "FAIL: %s" % e + server_logs(ctx)
    except Exception:
        rc = 1
        msg = "FAIL: exception\n" + traceback.format_exc() + server_logs(ctx)
    finally:
        ctx.cleanup()
    changed = clock_changes(clock_before, kernel_clock_state())
    if changed:
        raise_later(ctx, "the machine's clock was touched during the test: " + changed)
    if _late_failures:
        rc = 1
        msg = "FAIL: " + "\n".join(_late_failures)
    if rc == 0:
        msg = "ok"
    print(msg, flush=True)
    sys.exit(rc)

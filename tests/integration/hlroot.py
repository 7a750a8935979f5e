"""
hlroot: throw-away roots for the packaging tests (test_38, test_39; standard library only).

Owns: moving this test process into mount and network namespaces of its own (what it mounts
is seen nowhere else, its only network is its own loopback, so port 123 is free and private),
and a root directory whose /usr, /etc and /var are overlays of this machine's with every
write kept in memory (tmpfs), optionally under more layers (a DESTDIR): what is installed,
enabled or created there (dpkg's database, users, units) vanishes with the test, and this
machine's packages and files are never touched. Also: running horloged in such a root the
way horloge.service does, and listening to what it tells the service manager; or booting
systemd itself in such a root (systemd-nspawn) to run the unit for real.
"""
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from hltest import Fail, Skip, check, note, query

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MERGED_DIRS = ("usr", "etc", "var")
EMPTY_DIRS = ("proc", "dev", "run", "tmp", "root", "home", "sys", "mnt")
DEVICES = ("null", "zero", "full", "random", "urandom")


def sh(*argv):
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode != 0:
        raise Fail("%s: exit %d: %s" % (" ".join(argv), r.returncode, r.stderr.strip()))
    return r.stdout


def enter_private_namespaces():
    """Call first thing, before any thread or child exists (unshare needs a single thread)."""
    if os.geteuid() != 0:
        raise Skip("mount and network namespaces need root")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS | CLONE_NEWNET) != 0:
        raise Skip("unshare(CLONE_NEWNS|CLONE_NEWNET): %s" % os.strerror(ctypes.get_errno()))
    sh("mount", "--make-rprivate", "/")
    sh("ip", "link", "set", "lo", "up")


class Root:
    """A throw-away root: this machine's /usr, /etc, /var under `layers` (top first), in memory."""

    def __init__(self, ctx, layers=(), for_boot=False):
        # Outside ctx.dir, and removed only by rmdir after unmounting: a cleanup that went wrong
        # can never recurse into a bind-mounted /dev or an overlay's lower layer.
        self.layers_dir = tempfile.mkdtemp(prefix="hl-layers-")
        self.path = tempfile.mkdtemp(prefix="hl-root-")
        ctx.on_cleanup(self.remove)
        sh("mount", "-t", "tmpfs", "-o", "mode=0700", "tmpfs", self.layers_dir)
        sh("mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", self.path)
        for d in MERGED_DIRS:
            self._overlay(d, layers)
        for name in os.listdir("/"):
            if os.path.islink("/" + name):
                os.symlink(os.readlink("/" + name), self.at("/" + name))
        for d in EMPTY_DIRS:
            os.mkdir(self.at("/" + d))
        os.chmod(self.at("/tmp"), 0o1777)
        if for_boot:  # systemd-nspawn mounts /proc, /dev, /run and /sys itself
            return
        sh("mount", "-t", "proc", "proc", self.at("/proc"))
        sh("mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", self.at("/run"))
        for dev in DEVICES:
            open(self.at("/dev/" + dev), "w").close()
            sh("mount", "--bind", "/dev/" + dev, self.at("/dev/" + dev))

    def _overlay(self, d, layers):
        lowers = [os.path.join(l, d) for l in layers if os.path.isdir(os.path.join(l, d))]
        upper, work = os.path.join(self.layers_dir, d, "u"), os.path.join(self.layers_dir, d, "w")
        os.makedirs(upper)
        os.makedirs(work)
        os.mkdir(self.at("/" + d))
        opts = "lowerdir=%s,upperdir=%s,workdir=%s" % (":".join(lowers + ["/" + d]), upper, work)
        r = subprocess.run(["mount", "-t", "overlay", "overlay", "-o", opts, self.at("/" + d)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise Skip("overlayfs not available here: %s" % r.stderr.strip())

    def at(self, path):
        """This root's `path` (absolute inside the root) seen from outside."""
        return os.path.join(self.path, path.lstrip("/"))

    def run(self, argv, timeout=60, env=None):
        return subprocess.run(["chroot", self.path] + list(argv), capture_output=True, text=True,
                              timeout=timeout, env=env)

    def remove(self):
        subprocess.run(["umount", "-R", "-l", self.path], capture_output=True)
        subprocess.run(["umount", "-l", self.layers_dir], capture_output=True)
        for d in (self.path, self.layers_dir):
            try:
                os.rmdir(d)
            except OSError as e:
                print("  left %s: %s" % (d, e))


class Manager:
    """Stands in for systemd's NOTIFY_SOCKET: collects what the daemon sends (sd_notify)."""

    def __init__(self, root):
        self.sock_path = "/run/notify.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(root.at(self.sock_path))
        os.chmod(root.at(self.sock_path), 0o666)  # the daemon sends as _horloge
        self.messages = []

    def wait_for(self, ctx, field, timeout):
        """Returns the first message (a dict) not yet taken that has `field`, or fails."""
        deadline = time.time() + timeout * ctx.slow
        while time.time() < deadline:
            for m in self.messages:
                if field in m and not m.get("_taken"):
                    m["_taken"] = True
                    return m
            self.sock.settimeout(max(0.01, deadline - time.time()))
            try:
                data = self.sock.recv(4096).decode()
            except socket.timeout:
                break
            self.messages.append(dict(l.split("=", 1) for l in data.splitlines() if "=" in l))
        raise Fail("no %s from horloged within %.0f s (got %r)" % (field, timeout * ctx.slow,
                                                                    self.messages))


UNIT_BOUNDING = "+net_bind_service,+setuid,+setgid,+setpcap,+chown"  # the unit's, less SYS_TIME


def start_like_unit(ctx, root, manager, watchdog_usec=2000000):
    """horloged -d with the installed config, as horloge.service runs it: as root with the unit's
    bounding set (without CAP_SYS_TIME, so -x as every test), the unit's RuntimeDirectory made
    root's 0755, NOTIFY_SOCKET set. /var/lib/horloge is left to whoever installed (tmpfiles.d)."""
    r = root.run(["getent", "passwd", "_horloge"])
    check(r.returncode == 0, "no _horloge user in the root: %s" % r.stderr)
    os.makedirs(root.at("/run/horloge"), mode=0o755, exist_ok=True)
    env = dict(os.environ, NOTIFY_SOCKET=manager.sock_path, WATCHDOG_USEC=str(watchdog_usec))
    argv = ["chroot", root.path, "setpriv", "--inh-caps=-all", "--bounding-set=-all," + UNIT_BOUNDING,
            "/usr/sbin/horloged", "-d", "-x", "-f", "/etc/horloge/horloge.conf"]
    proc = ctx.spawn(argv, "horloged.log", env=env)
    ready = manager.wait_for(ctx, "READY", 10)
    note("READY=1, STATUS=%s" % ready.get("STATUS", "?"))
    return proc


def check_dropped(status, who):
    """`status` (/proc/PID/status) is a process running as `who` with no capability at all, under
    its seccomp filter."""
    fields = dict(l.split(":", 1) for l in status.splitlines() if ":" in l)
    check(fields["Seccomp"].strip() == "2" and fields["NoNewPrivs"].strip() == "1",
          "not under its seccomp filter: Seccomp %s NoNewPrivs %s" % (fields["Seccomp"].strip(),
                                                                      fields["NoNewPrivs"].strip()))
    caps = {k: int(fields[k].strip(), 16) for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")}
    check(not any(caps.values()), "capabilities left: %r" % caps)
    check(fields["Uid"].split() == [who] * 4, "uids %s, want %s" % (fields["Uid"].strip(), who))


def check_serves_and_supervised(ctx, root, manager, proc, log):
    """The daemon in `root` answers on port 123, reports status, pings the watchdog, reloads
    and stops as a Type=notify service should."""
    rep = None
    deadline = time.time() + 5 * ctx.slow
    while rep is None and time.time() < deadline:
        rep, _, _, _ = query(123, timeout=0.3)
    check(rep is not None, "no NTP reply on 127.0.0.1:123; log:\n%s" % log())
    check(rep.stratum == 10 and rep.refid_text() == "LOCL",
          "reply stratum %d refid %s, want 10 LOCL" % (rep.stratum, rep.refid_text()))
    st = root.run(["horloge", "status"])
    check(st.returncode == 0 and "LOCL" in st.stdout, "horloge status in the root: %s%s"
          % (st.stdout, st.stderr))
    check("running as user _horloge without capabilities" in log(), "did not see it drop to _horloge:\n"
          + log())
    with open("/proc/%d/status" % proc.pid) as f:
        check_dropped(f.read(), root.run(["id", "-u", "_horloge"]).stdout.strip())
    manager.wait_for(ctx, "WATCHDOG", 3)
    proc.send_signal(signal.SIGHUP)
    manager.wait_for(ctx, "RELOADING", 5)
    manager.wait_for(ctx, "READY", 5)
    proc.send_signal(signal.SIGTERM)
    manager.wait_for(ctx, "STOPPING", 5)
    check(proc.wait(10 * ctx.slow) == 0, "horloged exit code %s" % proc.returncode)
    note("stratum 10 LOCL on :123, horloge status ok, dropped to _horloge with no capability, under seccomp, "
         "WATCHDOG=1, RELOADING=1/READY=1 on SIGHUP, STOPPING=1 and exit 0 on SIGTERM")


def descendant(pid, comm):
    """The first process below `pid` whose name is `comm`, or None."""
    children = {}
    for entry in os.listdir("/proc"):
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open("/proc/%s/comm" % entry) as f:
                children.setdefault(int(fields[1]), []).append((int(entry), f.read().strip()))
        except (OSError, ValueError, IndexError):
            continue
    todo = [pid]
    while todo:
        for child, name in children.get(todo.pop(), []):
            if name == comm:
                return child
            todo.append(child)
    return None


class Boot:
    """systemd booted in `root` by systemd-nspawn, with `unit` as its default target: its own
    PID, mount, IPC, UTS and network namespaces, and without CAP_SYS_TIME."""

    def __init__(self, ctx, root, unit):
        if not shutil.which("systemd-nspawn"):
            raise Skip("systemd-nspawn is missing (package systemd-container, tools/deps.sh)")
        with open("/proc/self/mounts") as f:
            cgroups = [l for l in f if l.split()[2] in ("cgroup", "cgroup2")]
        if not cgroups:  # e.g. a chroot with /sys bound without its submounts
            raise Skip("no cgroup hierarchy is mounted here, and systemd-nspawn needs one")
        self.ctx = ctx
        open(root.at("/etc/machine-id"), "w").close()  # this root's own, made at boot
        self.proc = ctx.spawn(["systemd-nspawn", "-q", "-D", root.path, "--boot", "--private-network",
                               "--register=no", "--keep-unit", "--drop-capability=CAP_SYS_TIME",
                               "systemd.unit=" + unit], "nspawn.log")
        ctx.on_cleanup(self.poweroff)
        deadline = time.time() + 20 * ctx.slow
        self.init = None
        while self.init is None and time.time() < deadline and self.proc.poll() is None:
            time.sleep(0.2)
            self.init = descendant(self.proc.pid, "systemd")
        check(self.init is not None, "systemd-nspawn did not boot:\n" + ctx.read("nspawn.log")[-2000:])

    def run(self, argv, timeout=30):
        """`argv` inside the booted container (all its namespaces)."""
        return subprocess.run(["nsenter", "-t", str(self.init), "-a"] + list(argv), capture_output=True,
                              text=True, timeout=timeout * self.ctx.slow)

    def wait_state(self, unit, states, timeout=30):
        deadline = time.time() + timeout * self.ctx.slow
        state = "?"
        while time.time() < deadline:
            state = self.run(["systemctl", "is-active", unit]).stdout.strip()
            if state in states:
                return state
            time.sleep(0.3)
        raise Fail("%s still %s after %.0f s; journal:\n%s" % (unit, state, timeout * self.ctx.slow,
                                                               self.journal(unit)))

    def journal(self, unit):
        return self.run(["journalctl", "-u", unit, "-o", "cat", "--no-pager"]).stdout

    def poweroff(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # nspawn asks the container's systemd to power off
            try:
                self.proc.wait(20 * self.ctx.slow)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

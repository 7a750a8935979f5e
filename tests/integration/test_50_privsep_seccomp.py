#!/usr/bin/env python3
"""Privilege separation and the sandbox, read from /proc. horloged started as root with
`user nobody` and an upstream (so it steers the clock: no -x), but under the harness's bounding
set without CAP_SYS_TIME, so its helper's clock calls fail with EPERM and the machine's clock is
never touched. Then:
- the network process (the pid we started, which parses every packet) runs as nobody with
  CapEff, CapPrm, CapInh, CapAmb and CapBnd all zero, NoNewPrivs 1 and `Seccomp: 2` in every
  one of its threads;
- its one child is the clock helper (`horloged-clock`), as nobody, no capability but
  CAP_SYS_TIME anywhere, and the clock calls really go there: status shows clock control failed
  with "Operation not permitted", the helper's refusal passed back;
- the run directory the daemon created is root's, mode 0755, and the pid file and control socket
  in it are root's: user nobody can neither write there nor replace them (the bug was a run
  directory given to nobody);
- with LD_PRELOAD set (as under a clock simulator) and no `privsep on`/`seccomp on`, neither the
  helper nor the filter is used, and the log says why, once; `seccomp off` leaves no filter."""
import os
import pwd
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import (CAP_SYS_TIME, FakeNtp, Server, Skip, check, free_port, horloge_json, note,
                    run, wait_until)

UP = "127.0.0.50"
POLL = "iburst minpoll 0 maxpoll 1"
CAP_KEYS = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")


def proc_status(pid, task=None):
    path = "/proc/%d/status" % pid if task is None else "/proc/%d/task/%d/status" % (pid, task)
    with open(path) as f:
        return dict((k, v.strip()) for k, v in (l.split(":", 1) for l in f if ":" in l))


def caps(status):
    return {k: int(status.get(k, "0"), 16) for k in CAP_KEYS}


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(d))
    return out


def started(ctx, srv):
    """Waits for start-up's last line, so every line of the start-up can be checked."""
    wait_until(ctx, 10, lambda: "serving NTP on port" in srv.log(), "%s started" % srv.name)
    return srv


def check_network_process(pid, nobody):
    st = proc_status(pid)
    c = caps(st)
    check(all(v == 0 for v in c.values()), "network process %d holds capabilities: %s"
          % (pid, {k: "%016x" % v for k, v in c.items()}))
    check(int(st["Uid"].split()[1]) == nobody, "network process euid %s, not nobody" % st["Uid"])
    check(st.get("NoNewPrivs") == "1", "network process NoNewPrivs %r" % st.get("NoNewPrivs"))
    tasks = [int(t) for t in os.listdir("/proc/%d/task" % pid)]
    modes = {t: proc_status(pid, t).get("Seccomp") for t in tasks}
    check(all(m == "2" for m in modes.values()), "Seccomp per thread: %r" % modes)
    note("network process %d: uid nobody, %s all 0, Seccomp 2 in all %d threads"
         % (pid, "/".join(CAP_KEYS), len(tasks)))


def check_helper(pid, nobody):
    kids = children(pid)
    check(len(kids) == 1, "the network process has %d children %r, not one helper" % (len(kids), kids))
    helper = kids[0]
    with open("/proc/%d/comm" % helper) as f:
        comm = f.read().strip()
    check(comm == "horloged-clock", "child %d is %r" % (helper, comm))
    st = proc_status(helper)
    c = caps(st)
    extra = {k: "%016x" % v for k, v in c.items() if v & ~(1 << CAP_SYS_TIME)}
    check(not extra, "clock helper holds more than CAP_SYS_TIME: %s" % extra)
    check(int(st["Uid"].split()[1]) == nobody, "helper euid %s, not nobody" % st["Uid"])
    check(st.get("Seccomp") == "2", "clock helper Seccomp %r" % st.get("Seccomp"))
    note("clock helper %d (%s): uid nobody, Seccomp 2, capabilities CapEff %s CapBnd %s (at most CAP_SYS_TIME)"
         % (helper, comm, st["CapEff"], st["CapBnd"]))
    return helper


def check_run_dir(run_dir, srv):
    for path in (run_dir, srv.pidfile, srv.sock):
        s = os.stat(path)
        check(s.st_uid == 0, "%s is owned by uid %d, not root" % (path, s.st_uid))
    mode = os.stat(run_dir).st_mode & 0o7777
    check(mode == 0o755, "run directory mode %o, not 755" % mode)
    # What the shared nobody account could do to them: nothing.
    attack = ("echo 1 > %s/horloged.pid.tmp && mv %s/horloged.pid.tmp %s" % (run_dir, run_dir, srv.pidfile))
    r = subprocess.run(["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups",
                        "sh", "-c", attack], capture_output=True, text=True)
    check(r.returncode != 0, "user nobody replaced the pid file")
    with open(srv.pidfile) as f:
        check(int(f.read().strip()) == srv.proc.pid, "pid file no longer names the daemon")
    note("run directory %s: root 0755; pid file and control socket root's; nobody cannot "
         "replace them (%s)" % (run_dir, r.stderr.strip().splitlines()[-1] if r.stderr else "refused"))


def steered_server(ctx, up_port):
    # The run directory's parent is searchable by everyone, so only the run directory's own
    # owner and mode stand between nobody and the files.
    parent = tempfile.mkdtemp(prefix="hl-run-")
    os.chmod(parent, 0o755)
    ctx.on_cleanup(lambda: subprocess.run(["rm", "-rf", parent]))
    run_dir = os.path.join(parent, "horloge")
    srv = Server(ctx, [], steer_clock=True)
    srv.pidfile = os.path.join(run_dir, "horloged.pid")
    srv.sock = os.path.join(run_dir, "horloged.sock")
    srv.write_conf(["server %s port %d %s" % (UP, up_port, POLL), "user nobody"])
    return started(ctx, srv.start()), run_dir


def check_clock_through_helper(ctx, srv):
    st, secs = wait_until(ctx, 20, lambda: (lambda s: s if s.get("clock_control") == "failed"
                                            else None)(horloge_json(ctx, srv.sock, "status")),
                          "clock control failed (helper without CAP_SYS_TIME)")
    # The network process itself would die of SIGSYS calling clock_adjtime: this came back from the helper.
    check("Operation not permitted" in str(st.get("last_clock_error")), "status: %r" % st)
    check(re.search(r"clock calls go to helper process \d+", srv.log()), "no helper in the log")
    note("clock calls through the helper: %s (%.1f s)" % (st["last_clock_error"], secs))


def preloaded_server(ctx, up_port, extra, name):
    """A steering server started with LD_PRELOAD set to a library it already uses."""
    srv = Server(ctx, ["server %s port %d %s" % (UP, up_port, POLL), "user nobody"] + extra,
                 steer_clock=True, name=name)
    # ASan insists on being first in the library list; a preload is what this test is about.
    asan = (os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0").lstrip(":")
    env = dict(os.environ, LD_PRELOAD="libm.so.6", ASAN_OPTIONS=asan)
    srv.proc = ctx.spawn(srv.argv(), srv.log_name, env=env)
    ctx.servers.append(srv)
    srv.wait_ready()
    return started(ctx, srv)


def check_not_sandboxed(srv, why):
    st = proc_status(srv.proc.pid)
    check(st.get("Seccomp") == "0", "%s: Seccomp %r" % (srv.name, st.get("Seccomp")))
    check(not children(srv.proc.pid), "%s: has a helper" % srv.name)
    log = srv.log()
    for pattern in why:
        check(len(re.findall(pattern, log)) == 1, "%s: %r not logged once:\n%s"
              % (srv.name, pattern, log[-1500:]))


def test(ctx):
    ctx.need_horloged("privilege separation")
    if os.geteuid() != 0:
        raise Skip("starting as root and dropping to nobody needs root")
    nobody = pwd.getpwnam("nobody").pw_uid
    up_port = free_port([UP])
    FakeNtp(ctx, UP, up_port, "up")
    srv, run_dir = steered_server(ctx, up_port)
    check_clock_through_helper(ctx, srv)
    check_network_process(srv.proc.pid, nobody)
    helper = check_helper(srv.proc.pid, nobody)
    check_run_dir(run_dir, srv)
    rc, secs = srv.stop()
    check(rc == 0, "exit status %r after SIGTERM" % rc)
    wait_until(ctx, 5, lambda: not os.path.exists("/proc/%d" % helper), "the helper gone")
    note("stopped in %.2f s, helper gone with it" % secs)

    pre = preloaded_server(ctx, up_port, [], "pre")
    check_not_sandboxed(pre, [r"LD_PRELOAD is set: no clock helper", r"LD_PRELOAD is set: no system-call filter"])
    note("LD_PRELOAD set: no helper, Seccomp 0, both reasons logged once")
    off = started(ctx, Server(ctx, ["local stratum 5", "seccomp off"], name="off").start())
    check(proc_status(off.proc.pid).get("Seccomp") == "0", "seccomp off still filtered")
    forced = preloaded_server(ctx, up_port, ["privsep on", "seccomp on"], "forced")
    check(proc_status(forced.proc.pid).get("Seccomp") == "2" and len(children(forced.proc.pid)) == 1,
          "privsep on / seccomp on under LD_PRELOAD: not forced")
    note("seccomp off: Seccomp 0; privsep on + seccomp on under LD_PRELOAD: helper and Seccomp 2")


if __name__ == "__main__":
    run("privsep", test)

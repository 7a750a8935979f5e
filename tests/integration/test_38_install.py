#!/usr/bin/env python3
"""`make install DESTDIR=...` installs horloged, horloge, the three man pages, the example config
(naming _horloge), the systemd unit and its sysusers file; `systemd-analyze verify` accepts the
unit in a throw-away root made of this machine's /usr, /etc and /var under the DESTDIR (no
systemd needs to run: verify loads the unit and what it references offline); each man page
renders with `man -l` without a groff warning; `systemd-analyze security --offline` rates the
unit's sandbox below 4.0 ("OK"). Then, in that root (systemd-sysusers and systemd-tmpfiles
run there: /var/lib/horloge is _horloge's), horloged runs as the unit runs it (as root with the
unit's bounding set, NOTIFY_SOCKET and WATCHDOG_USEC set, with -x): it drops to _horloge with no
capability, serves on port 123 of a network namespace of the test's own and says READY,
WATCHDOG, RELOADING and STOPPING. Last, a real systemd booted in such a root (systemd-nspawn, no
CAP_SYS_TIME, -x by a drop-in) runs the unit, synchronised to a second horloged there: active
once READY, dropped to _horloge with no capability, kept alive by its watchdog pings
(WatchdogSec=2) under the seccomp filter, reloaded and stopped cleanly, its drift file written by
_horloge in /var/lib/horloge."""
# hltest: plain-only
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import Skip, check, note, run
import hlroot

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INSTALLED = {
    "usr/sbin/horloged": 0o755, "usr/bin/horloge": 0o755,
    "usr/share/man/man8/horloged.8": 0o644, "usr/share/man/man1/horloge.1": 0o644,
    "usr/share/man/man5/horloge.conf.5": 0o644, "etc/horloge/horloge.conf": 0o644,
    "usr/lib/systemd/system/horloge.service": 0o644, "usr/lib/sysusers.d/horloge.conf": 0o644,
    "usr/lib/tmpfiles.d/horloge.conf": 0o644,
}


def make_install(ctx, destdir):
    r = subprocess.run(["make", "-s", "-C", REPO, "B=" + ctx.build, "PREFIX=/usr",
                        "DESTDIR=" + destdir, "install"], capture_output=True, text=True,
                       timeout=300)
    check(r.returncode == 0, "make install: %s%s" % (r.stdout, r.stderr))
    for path, mode in INSTALLED.items():
        full = os.path.join(destdir, path)
        check(os.path.isfile(full), "make install did not install /%s" % path)
        check(os.stat(full).st_mode & 0o7777 == mode, "/%s has mode %o, want %o"
              % (path, os.stat(full).st_mode & 0o7777, mode))
    with open(os.path.join(destdir, "etc/horloge/horloge.conf")) as f:
        check("\nuser _horloge\n" in f.read(), "installed config does not name user _horloge")
    note("make install: %d files, modes right, config names _horloge" % len(INSTALLED))


def check_man_pages(destdir):
    for page in ("man8/horloged.8", "man1/horloge.1", "man5/horloge.conf.5"):
        path = os.path.join(destdir, "usr/share/man", page)
        r = subprocess.run(["man", "--warnings", "-l", path], capture_output=True, text=True,
                           env=dict(os.environ, MANWIDTH="80"))
        title = os.path.basename(page).rsplit(".", 1)[0]
        check(r.returncode == 0 and "NAME" in r.stdout and title in r.stdout,
              "man -l %s: exit %d %s" % (page, r.returncode, r.stderr))
        check(not r.stderr.strip(), "man -l %s warns: %s" % (page, r.stderr.strip()))
        note("man -l %s: %d lines, no warning" % (page, len(r.stdout.splitlines())))


DROPIN = """[Unit]
Wants=upstream.service
After=upstream.service
[Service]
ExecStart=
ExecStart=/usr/sbin/horloged -d -x -f /etc/horloge/horloge.conf
WatchdogSec=2
"""
# A second horloged in the container, on its loopback, for horloge.service to synchronise to, so
# that it has a frequency to write to its drift file when stopped.
UPSTREAM_UNIT = """[Service]
ExecStart=/usr/sbin/horloged -d -x -f /etc/horloge/upstream.conf
"""
UPSTREAM_CONF = "port 1123\nlisten 127.0.0.1\nlocal stratum 5\ncontrolsocket none\npidfile none\n"
SERVICE_CONF = "server 127.0.0.1 port 1123 iburst minpoll -2 maxpoll -1\ndriftfile /var/lib/horloge/drift\n"


def unit_properties(boot):
    r = boot.run(["systemctl", "show", "horloge.service", "-p",
                  "Type,ActiveState,StatusText,MainPID,NRestarts,WatchdogUSec"])
    return dict(l.split("=", 1) for l in r.stdout.splitlines() if "=" in l)


def check_under_systemd(ctx, destdir):
    """The installed unit run by a real systemd, booted in a throw-away root by systemd-nspawn
    (no CAP_SYS_TIME there, and -x added by a drop-in, with a 2 s watchdog)."""
    root = hlroot.Root(ctx, layers=[destdir], for_boot=True)
    os.makedirs(root.at("/etc/systemd/system/horloge.service.d"))
    for path, text in (("/etc/systemd/system/horloge.service.d/test.conf", DROPIN),
                       ("/etc/systemd/system/upstream.service", UPSTREAM_UNIT),
                       ("/etc/horloge/upstream.conf", UPSTREAM_CONF)):
        with open(root.at(path), "w") as f:
            f.write(text)
    with open(root.at("/etc/horloge/horloge.conf"), "a") as f:
        f.write(SERVICE_CONF)
    boot = hlroot.Boot(ctx, root, "horloge.service")
    state = boot.wait_state("horloge.service", ("active", "failed"))
    check(state == "active", "horloge.service is %s:\n%s" % (state, boot.journal("horloge.service")))
    props = unit_properties(boot)
    check(props.get("Type") == "notify" and props.get("StatusText", "").startswith("serving NTP"),
          "unit properties: %r" % props)
    pid = props["MainPID"]
    hlroot.check_dropped(boot.run(["cat", "/proc/%s/status" % pid]).stdout,
                         boot.run(["id", "-u", "_horloge"]).stdout.strip())
    deadline = time.time() + 10 * ctx.slow
    out = ""
    while "Stratum:           6" not in out:  # synchronised to the stratum-5 upstream
        check(time.time() < deadline, "horloge status inside: %r" % out)
        time.sleep(0.3)
        out = boot.run(["horloge", "status"]).stdout
    time.sleep(5 * ctx.slow)  # over two watchdog periods: without WATCHDOG=1 systemd would kill it
    later = unit_properties(boot)
    check(later.get("ActiveState") == "active" and later.get("MainPID") == pid and
          later.get("NRestarts") == "0", "after 5 s with WatchdogSec=2: %r" % later)
    r = boot.run(["systemctl", "reload", "horloge.service"])
    check(r.returncode == 0, "systemctl reload: %s" % r.stderr)
    deadline = time.time() + 5 * ctx.slow
    while "reloaded /etc/horloge/horloge.conf" not in boot.journal("horloge.service"):
        check(time.time() < deadline, "no reload in the journal:\n" + boot.journal("horloge.service"))
        time.sleep(0.2)
    boot.run(["systemctl", "stop", "horloge.service"])
    check(boot.wait_state("horloge.service", ("inactive", "failed")) == "inactive",
          "stop: " + boot.journal("horloge.service"))
    journal = boot.journal("horloge.service")
    check("stopped" in journal, "no 'stopped' in the journal")
    check("running as user _horloge without capabilities" in journal, "no drop to _horloge:\n" + journal)
    drift = boot.run(["stat", "-c", "%U %a", "/var/lib/horloge/drift"]).stdout.split()
    check(drift[:1] == ["_horloge"], "no drift file written by _horloge (%r):\n%s" % (drift, journal))
    text = boot.run(["cat", "/var/lib/horloge/drift"]).stdout.strip()
    note("under systemd (nspawn): active as notify, StatusText %r, dropped to _horloge with no "
         "capability, watchdog 2 s kept (no restart in 5 s), reload and stop clean, drift file "
         "%r written by _horloge (mode %s)" % (props["StatusText"][:40], text, drift[1]))


def test(ctx):
    hlroot.enter_private_namespaces()
    destdir = ctx.private_dir()
    make_install(ctx, destdir)
    check_man_pages(destdir)
    root = hlroot.Root(ctx, layers=[destdir])
    r = root.run(["systemd-analyze", "verify", "horloge.service"])
    check(r.returncode == 0 and not r.stderr.strip() and not r.stdout.strip(),
          "systemd-analyze verify horloge.service: exit %d\n%s%s" % (r.returncode, r.stdout, r.stderr))
    # The control: verify does catch a broken copy of the same unit.
    with open(root.at("/usr/lib/systemd/system/horloge.service")) as f:
        broken = f.read().replace("ProtectSystem=strict", "ProtectSystem=bogus").replace(
            "/usr/sbin/horloged -d", "/usr/sbin/horloged-missing -d")
    with open(root.at("/etc/systemd/system/horloge-broken.service"), "w") as f:
        f.write(broken)
    r = root.run(["systemd-analyze", "verify", "horloge-broken.service"])
    check(r.returncode != 0 and "bogus" in r.stderr and "horloged-missing" in r.stderr,
          "systemd-analyze verify accepted a broken unit: %s" % r.stderr)
    note("systemd-analyze verify horloge.service: clean (a broken copy: exit %d)" % r.returncode)
    r = root.run(["systemd-analyze", "security", "--offline=true", "horloge.service"])
    score = re.search(r"Overall exposure level for horloge.service: ([0-9.]+)", r.stdout)
    check(score is not None and float(score.group(1)) < 4.0,
          "systemd-analyze security: %s" % (r.stdout[-500:] + r.stderr))
    note("systemd-analyze security --offline: exposure %s (below 4.0)" % score.group(1))
    r = root.run(["systemd-sysusers"])
    check(r.returncode == 0, "systemd-sysusers in the root: %s" % r.stderr)
    r = root.run(["systemd-tmpfiles", "--create", "horloge.conf"])
    owner = root.run(["stat", "-c", "%U %a", "/var/lib/horloge"]).stdout.strip()
    check(r.returncode == 0 and owner == "_horloge 755", "systemd-tmpfiles: %s, /var/lib/horloge %r"
          % (r.stderr, owner))
    manager = hlroot.Manager(root)
    proc = hlroot.start_like_unit(ctx, root, manager)
    hlroot.check_serves_and_supervised(ctx, root, manager, proc, lambda: ctx.read("horloged.log"))
    try:
        check_under_systemd(ctx, destdir)
    except Skip as e:
        note("under systemd: not run: %s" % e)


if __name__ == "__main__":
    run("install", test)

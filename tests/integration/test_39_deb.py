#!/usr/bin/env python3
"""`dpkg-buildpackage -us -uc -b` on a copy of the source tree builds horloge_*.deb, which lintian
passes without an error; `dpkg -i` installs it into a throw-away root (this machine's /usr, /etc
and /var as overlays in memory, in mount and network namespaces of the test's own: this machine's
packages, users and units are untouched, checked): its postinst creates the _horloge user
and its /var/lib/horloge (tmpfiles.d), enables horloge.service, /etc/horloge/horloge.conf is a conffile; horloged then runs there as the
unit runs it (with -x) and serves on port 123 of the test's own loopback; `dpkg --purge` removes
it, its conffile and the unit's enablement."""
# hltest: plain-only
# hltest: timeout 300
import glob
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import Skip, check, note, run
import hlroot

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NOT_COPIED = shutil.ignore_patterns(".git", "build", "build-*", "__pycache__", "*.deb")


def host_state():
    """What installing into the throw-away root must leave as it is on this machine."""
    pkg = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "horloge"], capture_output=True,
                         text=True).stdout
    user = subprocess.run(["getent", "passwd", "_horloge"], capture_output=True, text=True).stdout
    return pkg, user, os.path.exists("/etc/systemd/system/multi-user.target.wants/horloge.service")


def build_deb(ctx):
    for tool in ("dpkg-buildpackage", "lintian", "dh"):
        if not shutil.which(tool):
            raise Skip("%s is missing (tools/deps.sh installs it)" % tool)
    top = ctx.private_dir()
    src = os.path.join(top, "horloge")
    shutil.copytree(REPO, src, ignore=NOT_COPIED, symlinks=True)
    env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck noautodbgsym parallel=2")
    t0 = time.time()
    r = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, env=env,
                       capture_output=True, text=True, timeout=600)
    check(r.returncode == 0, "dpkg-buildpackage: exit %d\n%s" % (r.returncode, r.stdout[-3000:]
                                                                 + r.stderr[-3000:]))
    debs = glob.glob(os.path.join(top, "horloge_*.deb"))
    check(len(debs) == 1, "dpkg-buildpackage made %s" % os.listdir(top))
    note("dpkg-buildpackage -us -uc -b: %s in %.0f s" % (os.path.basename(debs[0]), time.time() - t0))
    return debs[0], glob.glob(os.path.join(top, "horloge_*.changes"))[0]


def lint(changes):
    r = subprocess.run(["lintian", "--fail-on", "error", "--pedantic", "-I", changes],
                       capture_output=True, text=True, timeout=300)
    tags = [l for l in r.stdout.splitlines() if l[:2] in ("E:", "W:", "I:", "P:")]
    errors = [l for l in tags if l.startswith("E:")]
    check(r.returncode == 0 and not errors, "lintian: exit %d\n%s" % (r.returncode, r.stdout))
    note("lintian: no error, %d warning(s), %d info/pedantic tag(s)%s"
         % (sum(l.startswith("W:") for l in tags), sum(l[:2] in ("I:", "P:") for l in tags),
            "".join("\n    " + l for l in tags)))


def install(root, deb):
    shutil.copy(deb, root.at("/tmp/horloge.deb"))
    r = root.run(["dpkg", "-i", "/tmp/horloge.deb"], timeout=120)
    check(r.returncode == 0, "dpkg -i in the root: exit %d\n%s%s" % (r.returncode, r.stdout, r.stderr))
    q = root.run(["dpkg-query", "-W", "-f=${Status}\n${Conffiles}\n", "horloge"])
    check(q.stdout.startswith("install ok installed"), "dpkg says %r" % q.stdout)
    check("/etc/horloge/horloge.conf " in q.stdout, "horloge.conf is not a conffile: %r" % q.stdout)
    check(os.path.islink(root.at("/etc/systemd/system/multi-user.target.wants/horloge.service")),
          "postinst did not enable horloge.service")
    owner = root.run(["stat", "-c", "%U %a", "/var/lib/horloge"]).stdout.strip()
    check(owner == "_horloge 755", "postinst's tmpfiles: /var/lib/horloge is %r" % owner)
    note("dpkg -i in the root: installed, _horloge created, /var/lib/horloge its own, unit enabled, conffile %s"
         % q.stdout.split("\n")[1].strip())


def test(ctx):
    hlroot.enter_private_namespaces()
    before = host_state()
    deb, changes = build_deb(ctx)
    lint(changes)
    root = hlroot.Root(ctx)
    install(root, deb)
    check(host_state() == before, "this machine changed: %r -> %r" % (before, host_state()))
    manager = hlroot.Manager(root)
    proc = hlroot.start_like_unit(ctx, root, manager)
    hlroot.check_serves_and_supervised(ctx, root, manager, proc, lambda: ctx.read("horloged.log"))
    purge(root)


def purge(root):
    r = root.run(["dpkg", "--purge", "horloge"], timeout=120)
    check(r.returncode == 0, "dpkg --purge in the root: %s%s" % (r.stdout, r.stderr))
    left = [p for p in ("/usr/sbin/horloged", "/etc/horloge/horloge.conf",
                        "/etc/systemd/system/multi-user.target.wants/horloge.service")
            if os.path.lexists(root.at(p))]
    check(not left, "dpkg --purge left %s" % left)
    note("dpkg --purge: binaries, conffile and the unit's enablement gone")


if __name__ == "__main__":
    run("deb", test)

#!/usr/bin/env python3
"""Where the kernel refuses transmit timestamps (as an LD_PRELOAD clock/network simulator may:
here a preloaded shim fails every SO_TIMESTAMPING setsockopt that asks for them, or, in a second
server, every send carrying a timestamp request), horloged falls back per socket, saying so once:
as a server it still answers a chronyd `xleave` client, in basic mode (`chronyc ntpdata`: Interleaved No; `serverstats` replied_interleaved 0); as a client with
`xleave` against a `chronyd -x` it still takes interleaved samples, with T1 read from the clock
(`sourcestats`: software_tx_timestamps, no kernel ones) and T4 still the kernel's."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hltest import (NOCLOCK, Server, Skip, check, chrony_ntpdata, chronyd_upstream, free_port,
                    horloge_json, note, run, wait_until)

SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <linux/net_tstamp.h>
#include <string.h>
#include <sys/socket.h>

#include <stdlib.h>

/* NOTX_MODE=setsockopt: refuse to set transmit timestamping; =cmsg: refuse sends asking for it. */
static int refuse(const char *what)
{
    const char *mode = getenv("NOTX_MODE");
    return mode && strcmp(mode, what) == 0;
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    static ssize_t (*real)(int, const struct msghdr *, int);
    if (!real)
        real = (ssize_t (*)(int, const struct msghdr *, int))dlsym(RTLD_NEXT, "sendmsg");
    if (refuse("cmsg") && msg->msg_controllen) {
        errno = EINVAL;
        return -1;
    }
    return real(fd, msg, flags);
}

int sendmmsg(int fd, struct mmsghdr *msgs, unsigned int n, int flags)
{
    static int (*real)(int, struct mmsghdr *, unsigned int, int);
    if (!real)
        real = (int (*)(int, struct mmsghdr *, unsigned int, int))dlsym(RTLD_NEXT, "sendmmsg");
    for (unsigned int i = 0; i < n && refuse("cmsg"); i++)
        if (msgs[i].msg_hdr.msg_controllen) {
            errno = EINVAL;
            return -1;
        }
    return real(fd, msgs, n, flags);
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    static int (*real)(int, int, int, const void *, socklen_t);
    if (!real)
        real = (int (*)(int, int, int, const void *, socklen_t))dlsym(RTLD_NEXT, "setsockopt");
    int flags = 0;
    if (refuse("setsockopt") && level == SOL_SOCKET && name == SO_TIMESTAMPING &&
        len >= (socklen_t)sizeof flags) {
        memcpy(&flags, val, sizeof flags);
        if (flags & (SOF_TIMESTAMPING_OPT_ID | SOF_TIMESTAMPING_TX_SOFTWARE)) {
            errno = EINVAL;
            return -1;
        }
    }
    return real(fd, level, name, val, len);
}
"""

SERVER = "127.0.0.71"
UP = "127.0.0.72"
SERVER2 = "127.0.0.73"


class ShimmedServer(Server):
    """horloged with the shim preloaded (ASan tolerates a library loaded before its runtime)."""

    mode = "setsockopt"

    def argv(self):
        env = ["env", "LD_PRELOAD=" + self.ctx.path("notx.so"), "NOTX_MODE=" + self.mode,
               "ASAN_OPTIONS=verify_asan_link_order=0"]
        return NOCLOCK + env + [self.ctx.horloged, "-x", "-d", "-f", self.conf_path]


class CmsgRefusingServer(ShimmedServer):
    mode = "cmsg"


def test(ctx):
    ctx.need_horloged("transmit-timestamp fallback")
    if os.geteuid() != 0:
        raise Skip("chronyd needs root (it drops to _chrony)")
    with open(ctx.path("notx.c"), "w") as f:
        f.write(SHIM)
    r = subprocess.run(["cc", "-shared", "-fPIC", "-o", ctx.path("notx.so"), ctx.path("notx.c"), "-ldl"],
                       capture_output=True, text=True)
    check(r.returncode == 0, "building the shim failed: %s" % r.stderr)

    port = free_port((SERVER, UP, SERVER2))
    srv = ShimmedServer(ctx, ["local stratum 2"], name="server", port=port, listen=(SERVER,)).start()
    srv2 = CmsgRefusingServer(ctx, ["local stratum 2"], name="server2", port=port,
                              listen=(SERVER2,)).start()
    chronyd_upstream(ctx, UP, port, "up")
    cli = ShimmedServer(ctx, ["server %s port %d iburst minpoll -1 maxpoll -1 xleave" % (UP, port)],
                        name="client").start()

    sock = ctx.path("chronyc.sock")
    conf = ctx.path("chrony-client.conf")
    with open(conf, "w") as f:
        f.write("server %s port %d xleave minpoll -1 maxpoll -1\n"
                "server %s port %d xleave minpoll -1 maxpoll -1\nport 0\ncmdport 0\n"
                "bindcmdaddress %s\npidfile %s\n" % (SERVER, port, SERVER2, port, sock, ctx.path("cc.pid")))
    client = ctx.spawn(NOCLOCK + ["chronyd", "-x", "-d", "-f", conf], "chrony-client.log")

    for who, addr in ((srv, SERVER), (srv2, SERVER2)):
        def basic_answers():
            check(client.poll() is None, "chronyd client exited:\n" + ctx.read("chrony-client.log"))
            d = chrony_ntpdata(sock, addr) if os.path.exists(sock) else {}
            return d if int(d.get("Total good RX", "0")) >= 4 else None
        d, waited = wait_until(ctx, 30, basic_answers, "chronyd takes 4 good replies from %s" % who.name)
        note("%s (%s refused): chronyc ntpdata after %.1f s: Interleaved %s, NTP tests %s, good RX %s"
             % (who.name, who.mode, waited, d.get("Interleaved"), d.get("NTP tests"), d.get("Total good RX")))
        check(d.get("Interleaved") == "No", "interleaved without transmit timestamps? %r" % d)
        stats = horloge_json(ctx, who.sock, "serverstats")
        check(int(stats.get("replied_interleaved", 1)) == 0 and int(stats.get("kernel_tx_timestamps", 1)) == 0,
              "%s stats: %r" % (who.name, stats))
        check(int(stats.get("kernel_rx_timestamps", 0)) > 0, "no kernel receive timestamps: %r" % stats)
        check(int(stats.get("send_errors", 1)) == 0, "%s: replies lost: %r" % (who.name, stats))

    def interleaved():
        recs = horloge_json(ctx, cli.sock, "sourcestats").get("sources", [])
        rec = recs[0] if recs else {}
        return rec if rec.get("mode") == "interleaved" and int(rec.get("interleaved_samples", 0)) >= 3 else None
    rec, waited = wait_until(ctx, 30, interleaved, "the client's interleaved samples")
    note("client after %.1f s: mode %s, T1 kernel %s clock %s, T4 kernel %s clock %s, offset %s"
         % (waited, rec.get("mode"), rec.get("kernel_tx_timestamps"), rec.get("software_tx_timestamps"),
            rec.get("kernel_rx_timestamps"), rec.get("software_rx_timestamps", 0), rec.get("offset")))
    check(int(rec.get("kernel_tx_timestamps", 1)) == 0 and int(rec.get("software_tx_timestamps", 0)) > 0,
          "T1 should come from the clock: %r" % rec)
    check(int(rec.get("kernel_rx_timestamps", 0)) > 0, "T4 should still be the kernel's: %r" % rec)
    check(abs(float(rec.get("offset", 1))) < 0.001, "offset %s on one clock" % rec.get("offset"))

    for who, proc, pat in ((srv, "server", r"no kernel transmit timestamps on "),
                           (srv2, "server2", r"transmit timestamp requests refused"),
                           (cli, "client", r"source %s: no kernel transmit timestamps" % UP)):
        lines = [l for l in who.log().splitlines() if re.search(pat, l)]
        check(len(lines) == 1, "%s: expected the fallback logged once, got %r" % (proc, lines))
        note("%s log: %s" % (proc, lines[0].split("horloged ", 1)[-1]))


if __name__ == "__main__":
    run("no-tx-timestamps", test)

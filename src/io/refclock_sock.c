/*
 * refclock_sock: the SOCK driver — readings that another process (gpsd, or
 * any GPS daemon that talks to chrony) sends as datagrams to a Unix socket
 * we create at PARAM (`refclock SOCK /run/chrony.ttyS0.sock`). The datagram
 * format and its checks are core/refclock's; this file only owns the socket.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "io/refclock.h"
#include "io/sockio.h"

/* Datagrams read per wake-up at most: a sender cannot keep the loop to itself. */
#define SOCK_READS_PER_WAKE 16

static void sock_readable(void *ctx, int fd, short revents)
{
    struct refclock *rc = ctx;
    (void)revents;
    for (int i = 0; i < SOCK_READS_PER_WAKE; i++) {
        uint8_t buf[REFCLOCK_SOCK_LEN + 1];
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0)
            return;
        struct refclock_reading r;
        enum refclock_status st = refclock_decode_sock(buf, (size_t)n, &r);
        if (st == REFCLOCK_OK)
            refclock_add_reading(rc, &r);
        else
            refclock_count_bad(rc, st);
    }
}

static int sock_init(struct refclock *rc)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(rc->cfg.param) >= sizeof sun.sun_path)
        return -ENAMETOOLONG;
    memcpy(sun.sun_path, rc->cfg.param, strlen(rc->cfg.param) + 1);
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd < 0)
        return -errno;
    int err = 0;
    unlink(rc->cfg.param); /* a socket left by an earlier run */
    /* Only root and the group may send us time: 0660. */
    mode_t old = umask(0117);
    if (bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0 || sockio_set_nonblocking(fd) < 0)
        err = -errno;
    umask(old);
    if (!err && loop_watch_fd(rc->loop, fd, POLLIN, sock_readable, rc) < 0)
        err = -EMFILE;
    if (err) {
        close(fd);
        return err;
    }
    rc->fd = fd;
    return 0;
}

static void sock_fini(struct refclock *rc)
{
    loop_unwatch_fd(rc->loop, rc->fd);
    close(rc->fd);
    unlink(rc->cfg.param);
    rc->fd = -1;
}

const struct refclock_driver refclock_sock_driver = {
    .name = "SOCK",
    .init = sock_init,
    .fini = sock_fini,
};

/*
 * refclock_pps: the PPS driver — kernel pulse-per-second timestamps (RFC 2783
 * through linux/pps.h): `refclock PPS /dev/ppsN [lock REFID]` enables assert
 * capture and, every second, fetches the latest assert edge without waiting.
 * An edge is a pulse reading: its phase (-fraction of the system time it was
 * stamped at) is exact, its second unknown until core/refclock numbers it
 * from the locked clock or our own synchronised clock.
 *
 * Owns: the device descriptor, the capture mode, the last edge's sequence.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/pps.h>
#include <math.h>
#include <stdlib.h>

#include "io/refclock.h"

/* An edge stamped longer ago than this is not the latest second's: the signal stopped. */
#define PPS_MAX_EDGE_AGE 2.0

struct pps_state {
    int fd;
    bool have_seq;
    unsigned seq;
};

static int pps_enable_assert(struct refclock *rc, int fd)
{
    int caps = 0;
    struct pps_kparams params;
    if (rc->os->ioctl(fd, PPS_GETCAP, &caps) < 0 || rc->os->ioctl(fd, PPS_GETPARAMS, &params) < 0)
        return -errno;
    if (!(caps & PPS_CAPTUREASSERT))
        return -EOPNOTSUPP;
    if (params.mode & PPS_CAPTUREASSERT)
        return 0;
    params.mode |= PPS_CAPTUREASSERT | PPS_TSFMT_TSPEC;
    return rc->os->ioctl(fd, PPS_SETPARAMS, &params) < 0 ? -errno : 0;
}

static int pps_init(struct refclock *rc)
{
    int fd = rc->os->open(rc->cfg.param, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct pps_state *st = calloc(1, sizeof *st);
    int err = st ? pps_enable_assert(rc, fd) : -ENOMEM;
    if (err) {
        free(st);
        rc->os->close(fd);
        return err;
    }
    st->fd = fd;
    rc->drv_state = st;
    return 0;
}

static void pps_read(struct refclock *rc)
{
    struct pps_state *st = rc->drv_state;
    struct pps_fdata fetch = {.timeout = {.sec = 0, .nsec = 0, .flags = 0}}; /* return at once */
    if (rc->os->ioctl(st->fd, PPS_FETCH, &fetch) < 0) {
        refclock_count_bad(rc, REFCLOCK_BAD_VALUE);
        return;
    }
    const struct pps_ktime *edge = &fetch.info.assert_tu;
    if ((st->have_seq && fetch.info.assert_sequence == st->seq) || fetch.info.assert_sequence == 0) {
        refclock_count_bad(rc, REFCLOCK_NOT_VALID);
        return;
    }
    st->have_seq = true;
    st->seq = fetch.info.assert_sequence;
    struct timespec now;
    rc->os->clock_gettime(CLOCK_REALTIME, &now);
    if (edge->nsec < 0 || edge->nsec >= 1000000000 || edge->sec < 0) {
        refclock_count_bad(rc, REFCLOCK_BAD_VALUE);
        return;
    }
    if (fabs((double)(now.tv_sec - edge->sec) + (now.tv_nsec - edge->nsec) * 1e-9) > PPS_MAX_EDGE_AGE) {
        refclock_count_bad(rc, REFCLOCK_STALE);
        return;
    }
    struct refclock_reading r = {.local = {edge->sec, (uint32_t)edge->nsec}, .offset = -edge->nsec * 1e-9,
                                 .pulse = true};
    refclock_add_reading(rc, &r);
}

static void pps_fini(struct refclock *rc)
{
    struct pps_state *st = rc->drv_state;
    rc->os->close(st->fd);
    free(st);
    rc->drv_state = NULL;
}

const struct refclock_driver refclock_pps_driver = {
    .name = "PPS",
    .init = pps_init,
    .fini = pps_fini,
    .read = pps_read,
};

/*
 * refclock_phc: the PHC driver — a PTP hardware clock (`refclock PHC
 * /dev/ptpN`), such as a NIC's clock that linuxptp's ptp4l disciplines, read
 * every second with clock_gettime on the device's dynamic clock id, between
 * two readings of the system clock: the reading's system time is their
 * midpoint. The PHC must keep UTC (phc2sys and ptp4l commonly keep TAI on it:
 * then `offset` cannot bridge the 37 s; run it in UTC for horloged).
 *
 * Owns: the device descriptor.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

#include "io/refclock.h"

/* The kernel's dynamic clock id of an open clock device (its posix-clock convention). */
#define PHC_CLOCKID(fd) ((clockid_t)((~(unsigned)(fd) << 3) | 3))

static int phc_init(struct refclock *rc)
{
    int fd = rc->os->open(rc->cfg.param, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct timespec ts;
    if (rc->os->clock_gettime(PHC_CLOCKID(fd), &ts) < 0) {
        int err = -errno;
        rc->os->close(fd);
        return err;
    }
    rc->fd = fd;
    return 0;
}

static double ts_diff(const struct timespec *a, const struct timespec *b)
{
    return (double)(a->tv_sec - b->tv_sec) + (a->tv_nsec - b->tv_nsec) * 1e-9;
}

static void phc_read(struct refclock *rc)
{
    struct timespec before, phc, after;
    if (rc->os->clock_gettime(CLOCK_REALTIME, &before) < 0 ||
        rc->os->clock_gettime(PHC_CLOCKID(rc->fd), &phc) < 0 ||
        rc->os->clock_gettime(CLOCK_REALTIME, &after) < 0) {
        refclock_count_bad(rc, REFCLOCK_BAD_VALUE);
        return;
    }
    double half = ts_diff(&after, &before) / 2;
    long nsec = before.tv_nsec + (long)(half * 1e9);
    struct refclock_reading r = {.local = {before.tv_sec + nsec / 1000000000, (uint32_t)(nsec % 1000000000)}};
    r.offset = ts_diff(&phc, &before) - half;
    refclock_add_reading(rc, &r);
}

static void phc_fini(struct refclock *rc)
{
    rc->os->close(rc->fd);
    rc->fd = -1;
}

const struct refclock_driver refclock_phc_driver = {
    .name = "PHC",
    .init = phc_init,
    .fini = phc_fini,
    .read = phc_read,
};

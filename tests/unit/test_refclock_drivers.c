/*
 * Unit tests for the PPS and PHC drivers through the driver interface
 * (refclock_start_on, the driver's read, the feed), on a fake kernel: this
 * machine has no /dev/ppsN or /dev/ptpN, so open, ioctl (PPS_GETCAP,
 * PPS_GETPARAMS, PPS_SETPARAMS, PPS_FETCH) and clock_gettime (the realtime
 * clock and the PHC's dynamic clock id) are the test's.
 */
#include <errno.h>
#include <linux/pps.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/packet.h"
#include "io/refclock.h"

#define BASE_SEC 1800000000
#define PPS_FD 41
#define PHC_FD 42

/* The fake kernel: a realtime clock the test sets, a PPS device and a PHC. */
static struct {
    struct timespec now;
    int pps_mode;
    unsigned assert_seq;
    struct pps_ktime assert_tu;
    double phc_ahead;       /* PHC - realtime, s */
    bool phc_present;
} k;

static int fake_open(const char *path, int flags)
{
    (void)flags;
    if (strcmp(path, "/dev/pps0") == 0)
        return PPS_FD;
    if (strcmp(path, "/dev/ptp0") == 0 && k.phc_present)
        return PHC_FD;
    errno = ENOENT;
    return -1;
}

static int fake_close(int fd)
{
    (void)fd;
    return 0;
}

static int fake_ioctl(int fd, unsigned long request, void *arg)
{
    if (fd != PPS_FD) {
        errno = ENOTTY;
        return -1;
    }
    if (request == PPS_GETCAP) {
        *(int *)arg = PPS_CAPTUREASSERT | PPS_CAPTURECLEAR | PPS_TSFMT_TSPEC;
    } else if (request == PPS_GETPARAMS) {
        *(struct pps_kparams *)arg = (struct pps_kparams){.api_version = 1, .mode = k.pps_mode};
    } else if (request == PPS_SETPARAMS) {
        k.pps_mode = ((const struct pps_kparams *)arg)->mode;
    } else if (request == PPS_FETCH) {
        struct pps_fdata *f = arg;
        assert_true(f->timeout.sec == 0 && f->timeout.nsec == 0 && !(f->timeout.flags & PPS_TIME_INVALID));
        f->info = (struct pps_kinfo){.assert_sequence = k.assert_seq, .assert_tu = k.assert_tu,
                                     .current_mode = k.pps_mode};
    } else {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

static int fake_gettime(clockid_t id, struct timespec *ts)
{
    if (id == CLOCK_REALTIME) {
        *ts = k.now;
        return 0;
    }
    if (id == (clockid_t)((~(unsigned)PHC_FD << 3) | 3) && k.phc_present) {
        double t = (double)k.now.tv_sec + k.now.tv_nsec * 1e-9 + k.phc_ahead;
        ts->tv_sec = (time_t)floor(t);
        ts->tv_nsec = (long)((t - floor(t)) * 1e9);
        return 0;
    }
    errno = EINVAL;
    return -1;
}

static const struct refclock_os fake_os = {fake_open, fake_close, fake_ioctl, fake_gettime};

static void set_now(double since_base)
{
    double whole = floor(since_base);
    k.now = (struct timespec){BASE_SEC + (time_t)whole, (long)((since_base - whole) * 1e9)};
}

/* An edge at `sec` (since BASE_SEC) + nsec by the system clock; read `after` seconds later. */
static void pps_edge(int sec, int nsec, double after)
{
    k.assert_seq++;
    k.assert_tu = (struct pps_ktime){.sec = BASE_SEC + sec, .nsec = nsec};
    set_now(sec + nsec * 1e-9 + after);
}

/* The engine: a clock that reads the fake realtime and takes every command. */
static int eng_read(void *ctx, struct unix_time *now)
{
    (void)ctx;
    *now = (struct unix_time){k.now.tv_sec, (uint32_t)k.now.tv_nsec};
    return 0;
}
static int eng_set_frequency(void *ctx, double ppm) { (void)ctx; (void)ppm; return 0; }
static int eng_get_frequency(void *ctx, double *ppm) { (void)ctx; *ppm = 0; return 0; }
static int eng_step(void *ctx, double offset) { (void)ctx; (void)offset; return 0; }
static int eng_status(void *ctx, bool s, int leap, double e, double m)
{
    (void)ctx; (void)s; (void)leap; (void)e; (void)m;
    return 0;
}

/* No -x correction: the engine's clock is the system clock. */
static ntp_ts same_time(void *ctx, const struct unix_time *raw)
{
    (void)ctx;
    return ntp_from_unix(*raw);
}

struct world {
    struct loop loop;
    struct sync sync;
    struct refclock pps, phc;
};

static struct world w;

static int setup(void **state)
{
    memset(&k, 0, sizeof k);
    memset(&w, 0, sizeof w);
    k.phc_present = true;
    k.phc_ahead = 0.2;
    set_now(0.5);
    loop_init(&w.loop, NULL);
    struct sync_params p;
    sync_default_params(&p);
    struct clock_driver drv = {.read = eng_read, .set_frequency = eng_set_frequency,
                               .get_frequency = eng_get_frequency, .step = eng_step,
                               .set_sync_status = eng_status};
    sync_init(&w.sync, &p, &drv, ntp_from_unix((struct unix_time){BASE_SEC, 0}));
    *state = &w;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (w.pps.loop) /* started, or its failed start cleaned up: stopping again is a no-op */
        refclock_stop(&w.pps);
    if (w.phc.loop)
        refclock_stop(&w.phc);
    return 0;
}

static struct cfg_refclock cfg_of(const char *driver, const char *param, const char *refid)
{
    struct cfg_refclock c = {.poll = 2, .delay = 1e-9, .precision = -20, .refid = pkt_refid_ascii(refid)};
    snprintf(c.driver, sizeof c.driver, "%s", driver);
    snprintf(c.param, sizeof c.param, "%s", param);
    return c;
}

static void start(struct refclock *rc, const char *driver, const char *param, const char *refid)
{
    struct cfg_refclock c = cfg_of(driver, param, refid);
    assert_int_equal(refclock_start_on(rc, &fake_os, &c, &w.loop, &w.sync, same_time, NULL), 0);
}

static void test_pps_enables_assert_capture(void **unused)
{
    (void)unused;
    start(&w.pps, "PPS", "/dev/pps0", "PPS");
    assert_true(k.pps_mode & PPS_CAPTUREASSERT);
    /* No edge yet: nothing, quietly. */
    w.pps.drv->read(&w.pps);
    assert_int_equal(w.pps.feed.n_readings, 0);
    assert_int_equal(w.pps.n_bad, 0);
    assert_int_equal(w.pps.last_quiet, REFCLOCK_NOT_VALID);
}

static void test_pps_locked_to_phc(void **unused)
{
    (void)unused;
    start(&w.phc, "PHC", "/dev/ptp0", "PHC");
    start(&w.pps, "PPS", "/dev/pps0", "PPS");
    w.pps.feed.lock = &w.phc.feed; /* `lock PHC` (refclock_set_start does this by refid) */
    /* The PHC says the system clock is 0.2 s behind; edges come 1.234 us after the system's second. */
    for (int sec = 1; sec <= 3; sec++) {
        set_now(sec + 0.1);
        w.phc.drv->read(&w.phc);
        pps_edge(sec, 1234, 0.3);
        w.pps.drv->read(&w.pps);
        w.pps.drv->read(&w.pps); /* the same edge again: not taken twice */
    }
    assert_int_equal(w.phc.feed.n_pending, 3);
    assert_true(fabs(w.phc.feed.pending[0].offset - 0.2) < 1e-6);
    assert_int_equal(w.pps.feed.n_pulses, 3);
    assert_int_equal(w.pps.feed.n_unnumbered, 0);
    assert_int_equal(w.pps.feed.n_pending, 3);
    for (unsigned i = 0; i < 3; i++) {
        /* Numbered: the edge is the whole second, so the offset is exactly -1.234 us, not the PHC's 0.2 s. */
        assert_true(fabs(w.pps.feed.pending[i].offset + 1.234e-6) < 1e-12);
        assert_false(w.pps.feed.pending[i].pulse);
    }
    /* End of the poll interval: one sample each into the engine. */
    assert_true(refclock_feed_poll(&w.pps.feed));
    assert_int_equal(w.sync.src[w.pps.sync_index].n_samples, 1);
    assert_true(fabs(w.sync.src[w.pps.sync_index].last_sample.offset + 1.234e-6) < 1e-9);

    /* The PHC is read no more: once its last reading is older than REFCLOCK_LOCK_MAX_AGE, edges go unnumbered. */
    pps_edge(4, 1234, 0.3);
    w.pps.drv->read(&w.pps);
    assert_int_equal(w.pps.feed.n_unnumbered, 0);
    pps_edge(9, 1234, 0.3);
    w.pps.drv->read(&w.pps);
    assert_int_equal(w.pps.feed.n_unnumbered, 1);
    assert_int_equal(w.pps.last_quiet, REFCLOCK_NO_SECOND);
    assert_int_equal(w.pps.n_bad, 0);
}

static void test_pps_refusals(void **unused)
{
    (void)unused;
    start(&w.phc, "PHC", "/dev/ptp0", "PHC");
    start(&w.pps, "PPS", "/dev/pps0", "PPS");
    w.pps.feed.lock = &w.phc.feed;
    /* A coarse time 0.5 s off the edges' phase: the second is a guess, not taken. */
    k.phc_ahead = 0.5;
    set_now(1.1);
    w.phc.drv->read(&w.phc);
    pps_edge(1, 0, 0.3);
    w.pps.drv->read(&w.pps);
    assert_int_equal(w.pps.feed.n_unnumbered, 1);
    /* An edge stamped 5 s before it is read: the signal stopped; stale. */
    pps_edge(2, 0, 5.0);
    w.pps.drv->read(&w.pps);
    assert_int_equal(w.pps.last_quiet, REFCLOCK_STALE);
    assert_int_equal(w.pps.feed.n_pending, 0);
    /* Without a lock and with the engine unsynchronised, no edge is numbered. */
    w.pps.feed.lock = NULL;
    pps_edge(3, 0, 0.3);
    w.pps.drv->read(&w.pps);
    assert_int_equal(w.pps.feed.n_unnumbered, 2);
}

static void test_missing_devices(void **unused)
{
    (void)unused;
    struct cfg_refclock c = cfg_of("PPS", "/dev/pps9", "PPS");
    assert_int_equal(refclock_start_on(&w.pps, &fake_os, &c, &w.loop, &w.sync, same_time, NULL), -1);
    k.phc_present = false;
    c = cfg_of("PHC", "/dev/ptp0", "PHC");
    assert_int_equal(refclock_start_on(&w.phc, &fake_os, &c, &w.loop, &w.sync, same_time, NULL), -1);
    /* Nothing left behind in the engine. */
    assert_true(w.sync.n_src == 0 || w.sync.src[0].removed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pps_enables_assert_capture, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pps_locked_to_phc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pps_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_devices, setup, teardown),
    };
    return cmocka_run_group_tests_name("refclock_drivers", tests, NULL, NULL);
}

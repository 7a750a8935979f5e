/*
 * Unit tests for clock_linux. The machine's clock is never stepped and its
 * frequency is never set to a different value: the real driver is checked by
 * read-only queries, by writing back the frequency just read, and through
 * the pure conversions it makes; the "none" driver must leave the kernel's
 * clock state exactly as it was.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/timex.h>
#include <time.h>

#include <cmocka.h>

#include "core/packet.h"
#include "io/clock_linux.h"

static struct timex query(void)
{
    struct timex tx = {0};
    assert_true(clock_adjtime(CLOCK_REALTIME, &tx) >= 0);
    return tx;
}

static struct clock_real hz100(long tick)
{
    return (struct clock_real){.hz = 100, .nominal_tick = 10000, .tick = tick};
}

static void test_real_read_only(void **state)
{
    (void)state;
    struct clock_real c;
    struct clock_driver drv;
    assert_int_equal(clock_real_open(&c, &drv), 0);
    struct timex before = query();
    double ppm = NAN;
    assert_int_equal(drv.get_frequency(drv.ctx, &ppm), 0);
    assert_true(isfinite(ppm) && fabs(ppm) < 100500);
    assert_true(fabs(ppm - clock_real_ppm_of(&c, &before)) < 1e-9);
    struct unix_time now;
    assert_int_equal(drv.read(drv.ctx, &now), 0);
    assert_true(now.sec > 1600000000 && now.nsec < 1000000000U);
    assert_true(c.nominal_tick * c.hz > 999000 && c.nominal_tick * c.hz < 1001000);
}

/* Writes back exactly the frequency in effect: a no-op for the clock, a real call for the driver. */
static void test_real_rewrite_same_frequency(void **state)
{
    (void)state;
    struct clock_real c;
    struct clock_driver drv;
    assert_int_equal(clock_real_open(&c, &drv), 0);
    struct timex before = query();
    if (before.tick != c.nominal_tick) {
        skip(); /* the split would move ppm between tick and freq: not "the same value" */
        return;
    }
    double ppm;
    assert_int_equal(drv.get_frequency(drv.ctx, &ppm), 0);
    struct timex planned;
    assert_int_equal(clock_real_fill_frequency(&c, ppm, &planned), 0);
    assert_true(planned.freq == before.freq && planned.tick == before.tick);
    int err = drv.set_frequency(drv.ctx, ppm);
    if (err == -EPERM) {
        skip(); /* no CAP_SYS_TIME */
        return;
    }
    assert_int_equal(err, 0);
    struct timex after = query();
    assert_true(after.freq == before.freq);
    assert_true(after.tick == before.tick);
}

static void test_frequency_split(void **state)
{
    (void)state;
    struct clock_real c = hz100(10000);
    struct timex tx;
    assert_int_equal(clock_real_fill_frequency(&c, 12.5, &tx), 0);
    assert_true(tx.modes == (ADJ_FREQUENCY | ADJ_TICK));
    assert_true(tx.tick == 10000 && tx.freq == (long)(12.5 * 65536));
    assert_true(fabs(clock_real_ppm_of(&c, &tx) - 12.5) < 1e-9);
    assert_int_equal(clock_real_fill_frequency(&c, -480, &tx), 0); /* fits: nominal tick kept */
    assert_true(tx.tick == 10000 && tx.freq == -480 * 65536);
    assert_int_equal(clock_real_fill_frequency(&c, 520, &tx), 0);
    assert_true(tx.tick == 10005 && tx.freq == 20 * 65536);
    assert_int_equal(clock_real_fill_frequency(&c, -1234.5, &tx), 0);
    assert_true(tx.tick == 9988 && tx.freq == (long)(-34.5 * 65536));
    assert_true(fabs(clock_real_ppm_of(&c, &tx) + 1234.5) < 1e-9);

    c = hz100(10005); /* near a tick boundary the current tick is kept */
    assert_int_equal(clock_real_fill_frequency(&c, 480, &tx), 0);
    assert_true(tx.tick == 10005 && tx.freq == -20 * 65536);
    assert_int_equal(clock_real_fill_frequency(&c, 300, &tx), 0); /* well inside: nominal again */
    assert_true(tx.tick == 10000 && tx.freq == 300 * 65536);

    assert_int_equal(clock_real_fill_frequency(&c, 1e6, &tx), 0); /* clamped to the tick range */
    assert_true(tx.tick == 10999 && tx.freq == 500 * 65536);
    assert_int_equal(clock_real_fill_frequency(&c, -1e6, &tx), 0);
    assert_true(tx.tick == 9001 && tx.freq == -500 * 65536);
    assert_int_equal(clock_real_fill_frequency(&c, NAN, &tx), -EINVAL);
}

static void test_step_encoding(void **state)
{
    (void)state;
    struct timex tx;
    assert_int_equal(clock_real_fill_step(1.25, &tx), 0);
    assert_true(tx.modes == (ADJ_SETOFFSET | ADJ_NANO));
    assert_true(tx.time.tv_sec == 1 && tx.time.tv_usec == 250000000);
    assert_int_equal(clock_real_fill_step(-1.25, &tx), 0);
    assert_true(tx.time.tv_sec == -2 && tx.time.tv_usec == 750000000);
    assert_int_equal(clock_real_fill_step(-1e-10, &tx), 0);
    assert_true(tx.time.tv_sec == 0 && tx.time.tv_usec == 0);
    assert_int_equal(clock_real_fill_step(-3e-9, &tx), 0);
    assert_true(tx.time.tv_sec == -1 && tx.time.tv_usec == 999999997);
    assert_int_equal(clock_real_fill_step(INFINITY, &tx), -EINVAL);
}

static void test_status_encoding(void **state)
{
    (void)state;
    struct timex tx;
    clock_real_fill_status(true, NTP_LEAP_INSERT, 0.001, 0.05, &tx);
    assert_true(tx.modes == (ADJ_STATUS | ADJ_ESTERROR | ADJ_MAXERROR));
    assert_true(tx.status == STA_INS);
    assert_true(tx.esterror == 1000 && tx.maxerror == 50000);
    clock_real_fill_status(true, NTP_LEAP_DELETE, 0, -1, &tx);
    assert_true(tx.status == STA_DEL && tx.esterror == 0 && tx.maxerror == 0);
    clock_real_fill_status(false, NTP_LEAP_NONE, 100, 1e9, &tx);
    assert_true(tx.status == STA_UNSYNC);
    assert_true(tx.esterror == 16000000 && tx.maxerror == 16000000);
    assert_false(tx.status & (STA_PLL | STA_FLL | STA_PPSFREQ | STA_PPSTIME));
}

static void assert_same_kernel_state(const struct timex *a, const struct timex *b)
{
    assert_true(a->freq == b->freq);
    assert_true(a->offset == b->offset);
    assert_true(a->status == b->status);
    assert_true(a->tick == b->tick);
    assert_true(a->esterror == b->esterror);
}

static void test_none_changes_nothing(void **state)
{
    (void)state;
    struct timex before = query();
    struct clock_none c;
    struct clock_driver drv;
    assert_int_equal(clock_none_open(&c, &drv), 0);
    assert_int_equal(drv.set_frequency(drv.ctx, 250.0), 0);
    assert_int_equal(drv.step(drv.ctx, 0.5), 0);
    assert_int_equal(drv.step(drv.ctx, -0.25), 0);
    assert_int_equal(drv.set_sync_status(drv.ctx, true, NTP_LEAP_INSERT, 1e-4, 1e-2), 0);
    assert_int_equal(drv.set_frequency(drv.ctx, -30000.0), 0);
    struct timex after = query();
    assert_same_kernel_state(&before, &after);
    double ppm;
    assert_int_equal(drv.get_frequency(drv.ctx, &ppm), 0);
    assert_true(ppm == -30000.0);
    assert_int_equal(c.n_steps, 2);
    assert_true(fabs(c.stepped - 0.25) < 1e-12);
    assert_true(c.synchronised && c.leap == NTP_LEAP_INSERT);
    assert_int_equal(drv.set_frequency(drv.ctx, NAN), -EINVAL);
    clock_none_close(&c);
}

/* The virtual clock: steps add, the frequency integrates over raw time. */
static void test_none_virtual_clock(void **state)
{
    (void)state;
    struct clock_none c;
    struct clock_driver drv;
    assert_int_equal(clock_none_open(&c, &drv), 0);
    struct unix_time raw = c.since;
    assert_true(fabs(clock_none_correction(&c, raw)) < 1e-12);
    assert_int_equal(drv.step(drv.ctx, 2.5), 0);
    c.since = raw; /* pin the integration start so the arithmetic is exact */
    c.freq_ppm = 100.0;
    struct unix_time later = clock_add_sec(raw, 1000);
    assert_true(fabs(clock_none_correction(&c, later) - 2.6) < 1e-9);

    struct unix_time real_now, virt_now;
    struct timespec ts;
    assert_int_equal(drv.read(drv.ctx, &virt_now), 0);
    clock_gettime(CLOCK_REALTIME, &ts);
    real_now.sec = ts.tv_sec;
    real_now.nsec = (uint32_t)ts.tv_nsec;
    double diff = (double)(virt_now.sec - real_now.sec) + ((double)virt_now.nsec - (double)real_now.nsec) * 1e-9;
    assert_true(diff > 2.49 && diff < 2.51);
    clock_none_close(&c);
}

static void test_add_sec(void **state)
{
    (void)state;
    struct unix_time t = clock_add_sec((struct unix_time){100, 900000000}, 0.2);
    assert_true(t.sec == 101 && t.nsec == 100000000);
    t = clock_add_sec((struct unix_time){100, 100000000}, -0.2);
    assert_true(t.sec == 99 && t.nsec == 900000000);
    t = clock_add_sec((struct unix_time){100, 999999999}, 1e-9);
    assert_true(t.sec == 101 && t.nsec == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_read_only),
        cmocka_unit_test(test_real_rewrite_same_frequency),
        cmocka_unit_test(test_frequency_split),
        cmocka_unit_test(test_step_encoding),
        cmocka_unit_test(test_status_encoding),
        cmocka_unit_test(test_none_changes_nothing),
        cmocka_unit_test(test_none_virtual_clock),
        cmocka_unit_test(test_add_sec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

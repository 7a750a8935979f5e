/* Unit tests for clockwatch: a failing clock is told once, then hourly at most, and its recovery once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "io/clockwatch.h"

static enum clockwatch_event check_at(struct clockwatch *w, const struct sync_clock_health *h,
                                      double now)
{
    unsigned long n_new;
    return clockwatch_check(w, h, now, &n_new);
}

static void test_once_then_hourly_then_recovery(void **state)
{
    (void)state;
    struct clockwatch w = {0};
    struct sync_clock_health h = {0};
    assert_int_equal(check_at(&w, &h, 10.0), CLOCKWATCH_QUIET);
    h.failing = true;
    h.n_errors = 1;
    assert_int_equal(check_at(&w, &h, 11.0), CLOCKWATCH_FAILED);
    /* Failing every second for the next hour: quiet. */
    for (double t = 12.0; t < 11.0 + CLOCKWATCH_SUMMARY_SECONDS; t += 1.0) {
        h.n_errors++;
        assert_int_equal(check_at(&w, &h, t), CLOCKWATCH_QUIET);
    }
    unsigned long n_new = 0;
    h.n_errors++;
    assert_int_equal(clockwatch_check(&w, &h, 11.0 + CLOCKWATCH_SUMMARY_SECONDS, &n_new),
                     CLOCKWATCH_STILL_FAILING);
    assert_int_equal(n_new, CLOCKWATCH_SUMMARY_SECONDS);
    /* Still failing but no new failure in the next hour: nothing to summarise. */
    assert_int_equal(check_at(&w, &h, 12.0 + 2 * CLOCKWATCH_SUMMARY_SECONDS), CLOCKWATCH_QUIET);
    h.failing = false;
    assert_int_equal(check_at(&w, &h, 13.0 + 2 * CLOCKWATCH_SUMMARY_SECONDS),
                     CLOCKWATCH_RECOVERED);
    assert_int_equal(check_at(&w, &h, 14.0 + 2 * CLOCKWATCH_SUMMARY_SECONDS), CLOCKWATCH_QUIET);
}

/* A call that failed and a later one that worked, both between two checks, are still told. */
static void test_failure_between_checks(void **state)
{
    (void)state;
    struct clockwatch w = {0};
    struct sync_clock_health h = {.n_errors = 1};
    assert_int_equal(check_at(&w, &h, 1.0), CLOCKWATCH_FAILED);
    assert_int_equal(check_at(&w, &h, 2.0), CLOCKWATCH_RECOVERED);
    assert_int_equal(check_at(&w, &h, 3.0), CLOCKWATCH_QUIET);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_once_then_hourly_then_recovery),
        cmocka_unit_test(test_failure_between_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

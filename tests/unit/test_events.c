/* Unit tests for io/events' rate limit: what the network can trigger stays bounded in the log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "io/events.h"

static void test_budget(void **state)
{
    (void)state;
    struct events_budget b = {0};
    unsigned logged = 0;
    /* A flood in one second: the burst, then nothing. */
    for (int i = 0; i < 1000; i++)
        logged += events_budget_take(&b, 100.0 + i * 0.001);
    assert_int_equal(logged, EVENTS_BURST);
    assert_int_equal(b.suppressed, 1000 - EVENTS_BURST);
    /* An hour of one event a second: one line per refill period. */
    logged = 0;
    for (int i = 0; i < 3600; i++)
        logged += events_budget_take(&b, 101.0 + i);
    assert_true(logged >= 3600 / EVENTS_REFILL_SECONDS - 1 && logged <= 3600 / EVENTS_REFILL_SECONDS + 1);
    /* Quiet for long enough, the whole burst is back. */
    logged = 0;
    for (int i = 0; i < 100; i++)
        logged += events_budget_take(&b, 100000.0);
    assert_int_equal(logged, EVENTS_BURST);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

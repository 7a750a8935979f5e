/* Unit tests for leapsmear: the curves, the served offset around an inserted or deleted second, the state. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/leapsmear.h"
#include "core/packet.h"

#define LEAP 1719792000.0 /* 2024-07-01 00:00:00 UTC */

static void test_parse_and_names(void **state)
{
    (void)state;
    enum leapsmear_kind k;
    assert_true(leapsmear_parse("linear", &k));
    assert_int_equal(k, LEAPSMEAR_LINEAR);
    assert_true(leapsmear_parse("quadratic", &k));
    assert_int_equal(k, LEAPSMEAR_QUADRATIC);
    assert_true(leapsmear_parse("off", &k));
    assert_int_equal(k, LEAPSMEAR_OFF);
    assert_false(leapsmear_parse("cosine", &k));
    assert_string_equal(leapsmear_name(LEAPSMEAR_QUADRATIC), "quadratic");
}

static void test_curves(void **state)
{
    (void)state;
    for (int k = LEAPSMEAR_LINEAR; k <= LEAPSMEAR_QUADRATIC; k++) {
        assert_true(leapsmear_fraction(k, -43200.0) == 0.0);
        assert_true(fabs(leapsmear_fraction(k, 0.0) - 0.5) < 1e-12);
        assert_true(leapsmear_fraction(k, 43200.0) == 1.0);
        assert_true(leapsmear_fraction(k, -50000.0) == 0.0);
        assert_true(leapsmear_fraction(k, 50000.0) == 1.0);
    }
    /* Linear: 1/86400 per second (11.6 ppm), as the public smearing servers. */
    assert_true(fabs(leapsmear_fraction(LEAPSMEAR_LINEAR, -21600.0) - 0.25) < 1e-12);
    /* Quadratic: slow at the ends, 1/8 of the second smeared a quarter of the way in. */
    assert_true(fabs(leapsmear_fraction(LEAPSMEAR_QUADRATIC, -21600.0) - 0.125) < 1e-12);
    assert_int_equal(leapsmear_fraction(LEAPSMEAR_OFF, 0.0) == 0.0, 1);
}

/* Served time = reading + offset: continuous through the kernel's repeated second. */
static void test_insert_served_time_continuous(void **state)
{
    (void)state;
    struct leapsmear sm;
    leapsmear_init(&sm, LEAPSMEAR_LINEAR);
    assert_true(leapsmear_note(&sm, LEAP - 3600.0, NTP_LEAP_INSERT));
    assert_true(sm.leap_at == (int64_t)LEAP && sm.sign == 1);
    double prev = -1.0;
    /* True continuous time c from 2 s before the leap to 2 s after, the kernel repeating L - 1. */
    for (double c = LEAP - 2.0; c <= LEAP + 2.0; c += 0.25) {
        bool repeating = c >= LEAP && c < LEAP + 1.0;
        double reading = c >= LEAP ? c - 1.0 : c;
        assert_int_equal(leapsmear_ambiguous(&sm, reading), reading >= LEAP - 1.0 && reading < LEAP);
        double served = reading + leapsmear_offset(&sm, reading, repeating);
        assert_true(fabs(served - (c - leapsmear_fraction(LEAPSMEAR_LINEAR, c - LEAP))) < 1e-6);
        assert_true(served > prev);
        prev = served;
    }
    /* Served time meets the system clock at both ends of the window. */
    assert_true(fabs(leapsmear_offset(&sm, LEAP - 43200.0, false)) < 1e-9);
    assert_true(fabs(leapsmear_offset(&sm, LEAP + 43199.0, false)) < 1e-9);
}

static void test_delete_served_time_continuous(void **state)
{
    (void)state;
    struct leapsmear sm;
    leapsmear_init(&sm, LEAPSMEAR_QUADRATIC);
    leapsmear_note(&sm, LEAP - 10.0, NTP_LEAP_DELETE);
    double prev = -1.0;
    for (double c = LEAP - 3.0; c <= LEAP + 2.0; c += 0.25) {
        double reading = c >= LEAP - 1.0 ? c + 1.0 : c; /* 23:59:59 skipped */
        double served = reading + leapsmear_offset(&sm, reading, false);
        assert_true(fabs(served - (c + leapsmear_fraction(LEAPSMEAR_QUADRATIC, c - LEAP))) < 1e-6);
        assert_true(served > prev);
        prev = served;
    }
}

/* The leap stays noted when the indicator clears at the leap, until the smear is over. */
static void test_note_state(void **state)
{
    (void)state;
    struct leapsmear sm;
    leapsmear_init(&sm, LEAPSMEAR_LINEAR);
    assert_false(leapsmear_note(&sm, LEAP - 7200.0, NTP_LEAP_NONE));
    assert_int_equal(leapsmear_served_leap(&sm, NTP_LEAP_INSERT), NTP_LEAP_NONE);
    leapsmear_note(&sm, LEAP - 7200.0, NTP_LEAP_INSERT);
    assert_false(leapsmear_note(&sm, LEAP + 60.0, NTP_LEAP_NONE));
    assert_true(sm.leap_at == (int64_t)LEAP);
    assert_true(leapsmear_note(&sm, LEAP + 43202.0, NTP_LEAP_NONE));
    assert_true(sm.leap_at == 0);
    /* Withdrawn before it happens: forgotten. */
    leapsmear_note(&sm, LEAP - 7200.0, NTP_LEAP_INSERT);
    assert_true(leapsmear_note(&sm, LEAP - 3600.0, NTP_LEAP_NONE));
    assert_true(sm.leap_at == 0 && leapsmear_offset(&sm, LEAP - 3600.0, false) == 0.0);
    /* Off: nothing is noted, the announced leap is served as it is. */
    leapsmear_init(&sm, LEAPSMEAR_OFF);
    assert_false(leapsmear_note(&sm, LEAP - 7200.0, NTP_LEAP_INSERT));
    assert_int_equal(leapsmear_served_leap(&sm, NTP_LEAP_INSERT), NTP_LEAP_INSERT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_names),
        cmocka_unit_test(test_curves),
        cmocka_unit_test(test_insert_served_time_continuous),
        cmocka_unit_test(test_delete_served_time_continuous),
        cmocka_unit_test(test_note_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

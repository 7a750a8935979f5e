/* Unit tests for reference: stratum/refid/root figures, dispersion growth, holdover timeouts, local fallback. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/packet.h"
#include "core/reference.h"

/* 2023-06-30 01:00 UTC: a month's last day, when the sources' leap announcement counts. */
#define T0 ((ntp_ts)3897075600ULL << 32)

static ntp_ts at(double seconds)
{
    return ntp_add_sec(T0, seconds);
}

static struct ref_peer peer(void)
{
    return (struct ref_peer){
        .stratum = 2,
        .refid = 0xc0000201, /* 192.0.2.1 */
        .root_delay = 0.010,
        .root_dispersion = 0.020,
        .delay = 0.004,
        .dispersion = 0.001,
        .jitter = 0.0005,
        .age = 10.0,
    };
}

static void test_init_unsync_or_local(void **state)
{
    (void)state;
    struct ref_params p;
    ref_default_params(&p);
    struct ref r;
    ref_init(&r, &p, at(0));
    assert_int_equal(r.mode, REF_UNSYNC);
    assert_int_equal(ref_resp_state(&r)->stratum, NTP_STRATUM_UNSYNC);
    assert_int_equal(ref_resp_state(&r)->leap, NTP_LEAP_UNSYNC);
    assert_int_equal(ref_resp_state(&r)->precision, p.precision);
    p.local_enabled = true;
    p.local_stratum = 10;
    ref_init(&r, &p, at(0));
    assert_int_equal(r.mode, REF_LOCAL);
    assert_int_equal(ref_resp_state(&r)->stratum, 10);
    assert_int_equal(ref_resp_state(&r)->refid, pkt_refid_ascii("LOCL"));
    assert_int_equal(ref_resp_state(&r)->leap, NTP_LEAP_NONE);
}

/* ntpd announces a leap from the month's start: the kernel must not make it at tonight's midnight. */
static void test_leap_waits_for_the_last_day(void **state)
{
    (void)state;
    struct ref_params p;
    ref_default_params(&p);
    struct ref r;
    ref_init(&r, &p, at(0));
    struct ref_peer pe = peer();
    ref_update(&r, at(-20 * 86400.0), &pe, NTP_LEAP_INSERT); /* 10 June */
    assert_int_equal(ref_resp_state(&r)->leap, NTP_LEAP_NONE);
    ref_update(&r, at(0), &pe, NTP_LEAP_INSERT);             /* 30 June */
    assert_int_equal(ref_resp_state(&r)->leap, NTP_LEAP_INSERT);
}

static void test_update_figures(void **state)
{
    (void)state;
    struct ref_params p;
    ref_default_params(&p);
    struct ref r;
    ref_init(&r, &p, at(0));
    struct ref_peer pe = peer();
    ref_update(&r, at(100), &pe, NTP_LEAP_INSERT);
    const struct resp_state *s = ref_resp_state(&r);
    assert_int_equal(r.mode, REF_SYNCED);
    assert_int_equal(s->stratum, 3);
    assert_int_equal(s->refid, 0xc0000201);
    assert_int_equal(s->leap, NTP_LEAP_INSERT);
    assert_true(s->reference_time == at(100));
    assert_true(fabs(s->root_delay - 0.014) < 1e-12);
    assert_true(fabs(s->root_dispersion - (0.020 + 0.001 + 0.0005 + NTP_PHI * 10.0)) < 1e-12);
    assert_true(fabs(ref_root_distance_at(&r, at(100)) - (0.007 + s->root_dispersion)) < 1e-12);
}

static void test_dispersion_grows_at_phi(void **state)
{
    (void)state;
    struct ref_params p;
    ref_default_params(&p);
    struct ref r;
    ref_init(&r, &p, at(0));
    struct ref_peer pe = peer();
    ref_update(&r, at(0), &pe, NTP_LEAP_NONE);
    double d0 = resp_root_dispersion_at(ref_resp_state(&r), at(0));
    double d1 = resp_root_dispersion_at(ref_resp_state(&r), at(1000));
    assert_true(fabs(d1 - d0 - NTP_PHI * 1000.0) < 1e-9);
    struct ref_tracking t;
    struct disc d;
    struct disc_params dp;
    disc_default_params(&dp);
    struct disc_cmd cmd;
    disc_init(&d, &dp, 0.0, 3.0, 1.0, &cmd);
    ref_get_tracking(&r, &d, at(1000), 1000.0, &t);
    assert_true(fabs(t.root_dispersion - d1) < 1e-12);
    assert_int_equal(t.stratum, 3);
    assert_int_equal(t.refid, 0xc0000201);
    assert_true(fabs(t.freq_ppm - 3.0) < 1e-12);
    assert_int_equal(t.mode, REF_SYNCED);
}

static void test_holdover_then_unsync(void **state)
{
    (void)state;
    struct ref_params p;
    ref_default_params(&p);
    p.hold_time = 3600.0;
    struct ref r;
    ref_init(&r, &p, at(0));
    struct ref_peer pe = peer();
    ref_update(&r, at(0), &pe, NTP_LEAP_NONE);
    ref_set_unselected(&r, at(600));
    assert_int_equal(r.mode, REF_HOLDOVER);
    assert_int_equal(ref_resp_state(&r)->stratum, 3);
    assert_false(ref_tick(&r, at(3599)));
    assert_int_equal(r.mode, REF_HOLDOVER);
    assert_true(ref_tick(&r, at(3601)));
    assert_int_equal(r.mode, REF_UNSYNC);
    assert_int_equal(ref_resp_state(&r)->stratum, NTP_STRATUM_UNSYNC);
    assert_int_equal(ref_resp_state(&r)->leap, NTP_LEAP_UNSYNC);
    /* A source returns. */
    ref_update(&r, at(4000), &pe, NTP_LEAP_NONE);
    assert_int_equal(r.mode, REF_SYNCED);
    assert_int_equal(ref_resp_state(&r)->stratum, 3);
}

static void test_synced_without_updates_times_out(void **state)
{
    (void)state;
    struct ref_params p;
    ref_default_params(&p);
    struct ref r;
    ref_init(&r, &p, at(0));
    struct ref_peer pe = peer();
    ref_update(&r, at(0), &pe, NTP_LEAP_NONE);
    assert_false(ref_tick(&r, at(REF_HOLD_TIME - 1)));
    assert_true(ref_tick(&r, at(REF_HOLD_TIME + 1)));
    assert_int_equal(r.mode, REF_UNSYNC);
}

static void test_maxdistance_drops_reference(void **state)
{
    (void)state;
    struct ref_params p;
    ref_default_params(&p);
    p.maxdistance = 0.1;
    struct ref r;
    ref_init(&r, &p, at(0));
    struct ref_peer pe = peer();
    ref_update(&r, at(0), &pe, NTP_LEAP_NONE);
    /* Root distance 0.0286 + PHI * age crosses 0.1 s after about 4760 s; hold time is later. */
    p.hold_time = 1e6;
    r.params.hold_time = 1e6;
    assert_false(ref_tick(&r, at(4700)));
    assert_true(ref_tick(&r, at(4800)));
    assert_int_equal(r.mode, REF_UNSYNC);
}

static void test_local_fallback(void **state)
{
    (void)state;
    struct ref_params p;
    ref_default_params(&p);
    p.local_enabled = true;
    p.local_stratum = 7;
    p.local_distance = 0.05;
    struct ref r;
    ref_init(&r, &p, at(0));
    struct ref_peer pe = peer();
    ref_update(&r, at(0), &pe, NTP_LEAP_NONE);
    /* Still synchronised while a peer is selected, whatever the distance (0.0511 s here)... */
    assert_false(ref_tick(&r, at(1500)));
    assert_int_equal(r.mode, REF_SYNCED);
    /* ...and local at once when selection finds none. */
    ref_set_unselected(&r, at(1500));
    assert_int_equal(r.mode, REF_LOCAL);
    ref_update(&r, at(0), &pe, NTP_LEAP_NONE);
    ref_set_unselected(&r, at(1000));
    /* Held until the root distance (0.0286 + PHI * age) reaches 0.05 s, at about 1427 s. */
    assert_int_equal(r.mode, REF_HOLDOVER);
    assert_false(ref_tick(&r, at(1400)));
    assert_true(ref_tick(&r, at(1450)));
    assert_int_equal(r.mode, REF_LOCAL);
    const struct resp_state *s = ref_resp_state(&r);
    assert_int_equal(s->stratum, 7);
    assert_int_equal(s->refid, pkt_refid_ascii("LOCL"));
    assert_int_equal(s->leap, NTP_LEAP_NONE);
    assert_true(s->root_delay == 0.0);
    /* The local reference does not accumulate dispersion. */
    ref_tick(&r, at(90000));
    assert_true(resp_root_dispersion_at(ref_resp_state(&r), at(90000)) < 1e-9);
    ref_update(&r, at(90001), &pe, NTP_LEAP_NONE);
    assert_int_equal(r.mode, REF_SYNCED);
}

static void test_peer_stratum_15_is_unsync(void **state)
{
    (void)state;
    struct ref_params p;
    ref_default_params(&p);
    struct ref r;
    ref_init(&r, &p, at(0));
    struct ref_peer pe = peer();
    pe.stratum = 15;
    ref_update(&r, at(0), &pe, NTP_LEAP_NONE);
    assert_int_equal(r.mode, REF_UNSYNC);
    assert_int_equal(ref_resp_state(&r)->stratum, NTP_STRATUM_UNSYNC);
    pe.stratum = 14;
    ref_update(&r, at(1), &pe, NTP_LEAP_UNSYNC);
    assert_int_equal(ref_resp_state(&r)->stratum, 15);
    assert_int_equal(ref_resp_state(&r)->leap, NTP_LEAP_NONE);
}

/* A clock we cannot steer: unsynchronised (never local) whatever comes, until it can be again. */
static void test_clock_failed(void **state)
{
    (void)state;
    struct ref_params p;
    ref_default_params(&p);
    p.local_enabled = true;
    p.local_stratum = 7;
    struct ref r;
    ref_init(&r, &p, at(0));
    ref_set_leap_override(&r, NTP_LEAP_INSERT);
    struct ref_peer pe = peer();
    ref_update(&r, at(0), &pe, NTP_LEAP_NONE);
    ref_set_clock_failed(&r, at(1), true);
    assert_int_equal(r.mode, REF_CLOCK_FAILED);
    assert_string_equal(ref_mode_name(r.mode), "clock-failed");
    const struct resp_state *s = ref_resp_state(&r);
    assert_int_equal(s->stratum, NTP_STRATUM_UNSYNC);
    assert_int_equal(s->leap, NTP_LEAP_UNSYNC);
    assert_int_equal(s->refid, pkt_refid_ascii("INIT"));
    ref_update(&r, at(2), &pe, NTP_LEAP_NONE);
    ref_set_unselected(&r, at(3));
    assert_false(ref_tick(&r, at(5000)));
    ref_set_leap_override(&r, NTP_LEAP_DELETE);
    assert_int_equal(r.mode, REF_CLOCK_FAILED);
    assert_int_equal(s->stratum, NTP_STRATUM_UNSYNC);
    assert_int_equal(s->leap, NTP_LEAP_UNSYNC);
    ref_set_clock_failed(&r, at(5001), true);
    assert_int_equal(r.mode, REF_CLOCK_FAILED);
    /* Steering works again: the local reference until the next update synchronises. */
    ref_set_clock_failed(&r, at(5002), false);
    assert_int_equal(r.mode, REF_LOCAL);
    assert_int_equal(s->stratum, 7);
    ref_update(&r, at(5003), &pe, NTP_LEAP_NONE);
    assert_int_equal(r.mode, REF_SYNCED);
    assert_int_equal(s->stratum, 3);
    ref_set_clock_failed(&r, at(5004), false);
    assert_int_equal(r.mode, REF_SYNCED);
    /* Without `local`: unsynchronised. */
    p.local_enabled = false;
    ref_init(&r, &p, at(0));
    ref_set_clock_failed(&r, at(1), true);
    ref_set_clock_failed(&r, at(2), false);
    assert_int_equal(r.mode, REF_UNSYNC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_unsync_or_local),
        cmocka_unit_test(test_leap_waits_for_the_last_day),
        cmocka_unit_test(test_update_figures),
        cmocka_unit_test(test_dispersion_grows_at_phi),
        cmocka_unit_test(test_holdover_then_unsync),
        cmocka_unit_test(test_synced_without_updates_times_out),
        cmocka_unit_test(test_maxdistance_drops_reference),
        cmocka_unit_test(test_local_fallback),
        cmocka_unit_test(test_peer_stratum_15_is_unsync),
        cmocka_unit_test(test_clock_failed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

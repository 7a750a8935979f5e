/* Unit tests for filter: Kalman convergence, delay weighting, the popcorn gate, root distance, poll policy. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/filter.h"
#include "core/responder.h"

#define US 1e-6

/* A small deterministic generator, uniform on [0, 1). */
static double unit_rand(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) * 0x1.0p-53;
}

static struct ntp_sample make_sample(double t, double offset, double delay)
{
    return (struct ntp_sample){
        .local_time = t,
        .offset = offset,
        .delay = delay,
        .dispersion = 1 * US,
        .root_delay = 0.002,
        .root_dispersion = 0.003,
        .stratum = 2,
        .leap = 0,
        .refid = 0x0a000001,
    };
}

static void test_kalman_tracks_line(void **state)
{
    (void)state;
    struct filt_params p;
    filt_default_params(&p);
    p.wander_fixed = true;
    p.wander_init = 1e-24;
    struct filt_kalman k;
    filt_kalman_init(&k, p.wander_init, 0.0, 1e-6);
    uint64_t seed = 1;
    for (int i = 0; i < 200; i++) {
        double t = 64.0 * i;
        double z = 0.010 + 50e-6 * t + (unit_rand(&seed) - 0.5) * 20 * US;
        assert_int_equal(filt_kalman_update(&k, &p, t, z, (20 * US) * (20 * US) / 12), FILT_ACCEPTED);
    }
    double off, var, freq, fvar;
    filt_kalman_predict(&k, 64.0 * 200, &off, &var, &freq, &fvar);
    assert_true(fabs(off - (0.010 + 50e-6 * 64.0 * 200)) < 2 * US);
    assert_true(fabs(freq - 50e-6) < 1e-9);
    assert_true(sqrt(var) < 3 * US);
}

static void test_kalman_rejects_bad_input(void **state)
{
    (void)state;
    struct filt_params p;
    filt_default_params(&p);
    struct filt_kalman k;
    filt_kalman_init(&k, p.wander_init, 0.0, 1e-6);
    assert_int_equal(filt_kalman_update(&k, &p, 0.0, NAN, 1e-10), FILT_INVALID);
    assert_int_equal(filt_kalman_update(&k, &p, 0.0, 0.0, 0.0), FILT_INVALID);
    assert_int_equal(filt_kalman_update(&k, &p, INFINITY, 0.0, 1e-10), FILT_INVALID);
    assert_false(k.started);
}

static void test_source_rejects_bad_samples(void **state)
{
    (void)state;
    struct filt_params p;
    filt_default_params(&p);
    struct filt_source f;
    filt_source_init(&f, &p, 0.0, 1e-8);
    struct ntp_sample s = make_sample(0.0, 0.0, -1e-3);
    assert_int_equal(filt_source_add(&f, &s, NULL), FILT_INVALID);
    s = make_sample(0.0, NAN, 1e-3);
    assert_int_equal(filt_source_add(&f, &s, NULL), FILT_INVALID);
    s = make_sample(0.0, 0.0, 1e-3);
    s.root_dispersion = INFINITY;
    assert_int_equal(filt_source_add(&f, &s, NULL), FILT_INVALID);
    struct filt_estimate e;
    filt_source_estimate(&f, 0.0, &e);
    assert_false(e.valid);
}

/*
 * Delay weighting: the path is symmetric except for queueing on the way
 * back, so every sample's error is -excess/2. Low-delay samples must win.
 */
static void test_delay_weighting(void **state)
{
    (void)state;
    struct filt_params p;
    filt_default_params(&p);
    struct filt_source f;
    filt_source_init(&f, &p, 0.0, 1e-12);
    uint64_t seed = 7;
    double sum = 0.0;
    int n = 0;
    struct filt_meas low = {0}, high = {0};
    for (int i = 0; i < 400; i++) {
        double excess = -200 * US * log(1.0 - unit_rand(&seed));
        struct ntp_sample s = make_sample(16.0 * i, -excess / 2.0, 200 * US + excess);
        struct filt_meas m;
        enum filt_verdict v = filt_source_add(&f, &s, &m);
        assert_true(v == FILT_ACCEPTED || v == FILT_HELD);
        if (i >= 200) {
            sum += s.offset;
            n++;
            if (v == FILT_ACCEPTED && excess < 10 * US && low.var == 0.0)
                low = m;
            if (v == FILT_ACCEPTED && excess > 400 * US && high.var == 0.0)
                high = m;
        }
    }
    struct filt_estimate e;
    filt_source_estimate(&f, 16.0 * 400, &e);
    /* The plain mean is off by the mean excess / 2 (100 us); the filter by a quarter of that. */
    assert_true(fabs(sum / n) > 80 * US);
    assert_true(fabs(e.offset) < 30 * US);
    assert_true(fabs(e.offset) < fabs(sum / n) / 3.0);
    assert_true(low.var > 0.0 && high.var > 0.0);
    assert_true(high.var > 100.0 * low.var);
    assert_true(fabs(e.min_delay - 200 * US) < 10 * US);
}

static void feed_steady(struct filt_source *f, int n, double t0, double offset)
{
    for (int i = 0; i < n; i++) {
        struct ntp_sample s = make_sample(t0 + 16.0 * i, offset, 300 * US);
        assert_int_equal(filt_source_add(f, &s, NULL), FILT_ACCEPTED);
    }
}

/* A source settled on 1 ms, 50 samples 16 s apart. */
static void steady_source(struct filt_source *f)
{
    struct filt_params p;
    filt_default_params(&p);
    filt_source_init(f, &p, 0.0, 1e-12);
    feed_steady(f, 50, 0.0, 0.001);
}

static void test_popcorn_spike_held(void **state)
{
    (void)state;
    struct filt_source f;
    steady_source(&f);
    struct ntp_sample spike = make_sample(16.0 * 50, 0.011, 300 * US);
    assert_int_equal(filt_source_add(&f, &spike, NULL), FILT_HELD);
    struct filt_estimate e;
    filt_source_estimate(&f, 16.0 * 51, &e);
    assert_true(fabs(e.offset - 0.001) < 1 * US);
    feed_steady(&f, 5, 16.0 * 51, 0.001);
}

static void test_popcorn_real_step_forced(void **state)
{
    (void)state;
    struct filt_source f;
    steady_source(&f);
    enum filt_verdict v[2];
    for (int i = 0; i < 2; i++) {
        struct ntp_sample s = make_sample(16.0 * (50 + i), 0.011, 300 * US);
        v[i] = filt_source_add(&f, &s, NULL);
    }
    /* Popcorn is isolated: a second sample as far off on the same side is a real step. */
    assert_int_equal(v[0], FILT_HELD);
    assert_int_equal(v[1], FILT_FORCED);
    assert_int_equal(f.kf.n_changes, 1);
    struct filt_estimate e;
    filt_source_estimate(&f, 16.0 * 52, &e);
    /* The held sample was replayed with the forced one: the step is taken whole. */
    assert_true(fabs(e.offset - 0.011) < 100 * US);
    /* A forced sample is a disturbance: poll at minpoll for a while. */
    assert_int_equal(filt_recommend_poll(&f, 1e-18, 6, 10), 6);
}

/* Spikes on alternate sides stay popcorn, up to max_holds in a row. */
static void test_popcorn_alternating_held(void **state)
{
    (void)state;
    struct filt_source f;
    steady_source(&f);
    for (int i = 0; i < 3; i++) {
        double off = i % 2 ? -0.009 : 0.011;
        struct ntp_sample s = make_sample(16.0 * (50 + i), off, 300 * US);
        assert_int_equal(filt_source_add(&f, &s, NULL), FILT_HELD);
    }
    assert_int_equal(f.kf.n_changes, 0);
}

/* A frequency step: the filter re-learns the frequency from the held run, not over hours. */
static void test_kalman_frequency_step(void **state)
{
    (void)state;
    struct filt_params p;
    filt_default_params(&p);
    p.wander_init = 1e-19;
    struct filt_kalman k;
    filt_kalman_init(&k, p.wander_init, 0.0, 1e-12);
    uint64_t seed = 7;
    double r = (20 * US) * (20 * US) / 12;
    for (int i = 0; i < 300; i++) {
        double t = 64.0 * i, step = 64.0 * 200;
        double z = (unit_rand(&seed) - 0.5) * 20 * US + (i >= 200 ? 2e-6 * (t - step) : 0.0);
        filt_kalman_update(&k, &p, t, z, r);
        if (i == 210) {
            double freq;
            filt_kalman_predict(&k, t, NULL, NULL, &freq, NULL);
            assert_true(fabs(freq - 2e-6) < 0.2e-6);
        }
    }
    assert_true(k.n_changes >= 1);
}

/*
 * A source whose stated variance under-states its noise 25-fold (a coarse
 * reference clock: +-50 ms stated as +-10 ms): once the gate has seen its
 * spread, its ordinary samples are neither held as popcorn nor taken, two on
 * one side, as changes of frequency.
 */
static void test_understated_noise_not_popcorn(void **state)
{
    (void)state;
    struct filt_params p;
    filt_default_params(&p);
    struct filt_kalman k;
    filt_kalman_init(&k, p.wander_init, 0.0, 1e-12);
    uint64_t seed = 3;
    double stated_r = 0.020 * 0.020 / 12;
    unsigned held = 0, changes_before = 0;
    for (int i = 0; i < 600; i++) {
        double z = (unit_rand(&seed) - 0.5) * 0.100;
        if (i == 200)
            changes_before = k.n_changes;
        enum filt_verdict v = filt_kalman_update(&k, &p, 16.0 * i, z, stated_r);
        held += i >= 200 && v == FILT_HELD;
    }
    assert_true(held <= 8);
    assert_true(k.n_changes - changes_before <= 2);
    double off;
    filt_kalman_predict(&k, 16.0 * 600, &off, NULL, NULL, NULL);
    assert_true(fabs(off) < 0.010);
}

static void test_root_distance(void **state)
{
    (void)state;
    struct filt_params p;
    filt_default_params(&p);
    struct filt_source f;
    filt_source_init(&f, &p, 0.0, 1e-12);
    feed_steady(&f, 20, 0.0, 0.0);
    double t_last = 16.0 * 19;
    struct filt_estimate e0, e1;
    filt_source_estimate(&f, t_last, &e0);
    filt_source_estimate(&f, t_last + 1000.0, &e1);
    assert_true(e0.valid);
    assert_int_equal(e0.stratum, 2);
    assert_int_equal(e0.refid, 0x0a000001);
    double expect = (0.002 + 300 * US) / 2 + 0.003 + 1 * US + e0.jitter;
    assert_true(fabs(e0.root_distance - expect) < 1e-9);
    assert_true(fabs(e1.root_distance - e0.root_distance - NTP_PHI * 1000.0) < 1e-9);
    assert_true(fabs(e1.age - 1000.0) < 1e-9);
    assert_true(e1.error > e0.error);
}

static void test_poll_error_grows(void **state)
{
    (void)state;
    double prev = 0.0;
    for (int poll = 4; poll <= 10; poll++) {
        double e = filt_poll_error(1e-18, (50 * US) * (50 * US), poll);
        assert_true(e > prev);
        prev = e;
    }
    /* Noise-dominated: about 2^(3/8) per doubling, so one step already costs over 20 %. */
    double r = filt_poll_error(1e-18, (50 * US) * (50 * US), 7) /
               filt_poll_error(1e-18, (50 * US) * (50 * US), 6);
    assert_true(r > 1.2 && r < 1.5);
}

static void test_poll_policy_lan_and_wan(void **state)
{
    (void)state;
    struct filt_params p;
    filt_default_params(&p);
    struct filt_source lan, wan;
    filt_source_init(&lan, &p, 0.0, 1e-12);
    filt_source_init(&wan, &p, 0.0, 1e-12);
    uint64_t seed = 3;
    for (int i = 0; i < 100; i++) {
        double x = -100 * US * log(1.0 - unit_rand(&seed));
        struct ntp_sample s = make_sample(64.0 * i, 0.0, 200 * US + x);
        filt_source_add(&lan, &s, NULL);
        s = make_sample(64.0 * i, 0.0, 40e-3 + 10 * x);
        filt_source_add(&wan, &s, NULL);
    }
    /* On a LAN every poll doubling costs accuracy; on a 40 ms path the asymmetry hides it. */
    assert_int_equal(filt_recommend_poll(&lan, 1e-18, 6, 10), 6);
    assert_int_equal(filt_recommend_poll(&wan, 1e-18, 6, 10), 10);
    assert_int_equal(filt_recommend_poll(&wan, 1e-18, 6, 4), 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kalman_tracks_line),
        cmocka_unit_test(test_kalman_rejects_bad_input),
        cmocka_unit_test(test_source_rejects_bad_samples),
        cmocka_unit_test(test_delay_weighting),
        cmocka_unit_test(test_popcorn_spike_held),
        cmocka_unit_test(test_popcorn_real_step_forced),
        cmocka_unit_test(test_popcorn_alternating_held),
        cmocka_unit_test(test_kalman_frequency_step),
        cmocka_unit_test(test_understated_noise_not_popcorn),
        cmocka_unit_test(test_root_distance),
        cmocka_unit_test(test_poll_error_grows),
        cmocka_unit_test(test_poll_policy_lan_and_wan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for discipline: frames, slews, step rules, convergence on an ideal clock, holdover, drift. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/discipline.h"

#define US 1e-6

/* An ideal clock: raw runs (1 + raw_freq) fast, the system clock (1 + ppm) faster than raw. */
struct ideal {
    double t;           /* true time */
    double sys;         /* system clock */
    double raw_freq;
    double ppm;
    unsigned steps;
    bool timer;
    double timer_due;   /* true time */
};

static void ideal_advance(struct ideal *c, double t)
{
    c->sys += (1.0 + c->ppm * 1e-6) * (1.0 + c->raw_freq) * (t - c->t);
    c->t = t;
}

static void ideal_apply(struct ideal *c, const struct disc_cmd *cmd)
{
    if (cmd->step) {
        c->sys += cmd->step_by;
        c->steps++;
    }
    if (cmd->set_freq)
        c->ppm = cmd->freq_ppm;
    c->timer = cmd->timer_in > 0.0;
    c->timer_due = c->t + cmd->timer_in;
}

/* A perfect server measurement of the system clock now, through the frames. */
static enum filt_verdict measure(struct disc *d, struct filt_source *f, struct ideal *c)
{
    struct ntp_sample s = {
        .local_time = c->sys,
        .offset = c->t + 1e6 - c->sys,
        .delay = 200 * US,
        .dispersion = 1 * US,
        .stratum = 1,
    };
    struct ntp_sample raw;
    assert_true(disc_sample_to_raw(d, &s, &raw));
    struct filt_meas m;
    enum filt_verdict v = filt_source_add(f, &raw, &m);
    if (v != FILT_ACCEPTED && v != FILT_FORCED)
        return v;
    struct disc_cmd cmd;
    v = disc_update(d, c->sys, &m, &cmd);
    ideal_apply(c, &cmd);
    return v;
}

/* Runs until true time `end`, measuring every `poll` seconds (never when poll <= 0). */
static void run_until(struct disc *d, struct filt_source *f, struct ideal *c, double end,
                      double poll, double *next_poll)
{
    for (;;) {
        double t = end;
        bool is_timer = false;
        if (c->timer && c->timer_due < t) {
            t = c->timer_due;
            is_timer = true;
        }
        if (poll > 0.0 && *next_poll < t) {
            t = *next_poll;
            is_timer = false;
        }
        if (t >= end)
            break;
        ideal_advance(c, t);
        if (is_timer) {
            struct disc_cmd cmd;
            disc_timer(d, c->sys, &cmd);
            ideal_apply(c, &cmd);
        } else {
            measure(d, f, c);
            *next_poll += poll;
        }
    }
    ideal_advance(c, end);
}

static void setup(struct disc *d, struct filt_source *f, struct ideal *c,
                  const struct disc_params *p, double raw_freq, double offset)
{
    *c = (struct ideal){.sys = 1e6 + offset, .raw_freq = raw_freq};
    struct disc_cmd cmd;
    disc_init(d, p, c->sys, 0.0, 500.0, &cmd);
    ideal_apply(c, &cmd);
    double freq, var;
    disc_source_prior(d, &freq, &var);
    filt_source_init(f, &p->filt, freq, var);
}

static double ideal_error(const struct ideal *c)
{
    return c->sys - 1e6 - c->t;
}

static void test_converges_from_100ppm_and_half_second(void **state)
{
    (void)state;
    struct disc_params p;
    disc_default_params(&p);
    struct disc d;
    struct filt_source f;
    struct ideal c;
    setup(&d, &f, &c, &p, 100e-6, 0.5);
    double next = 1.0;
    run_until(&d, &f, &c, 7200.0, 16.0, &next);
    assert_int_equal(c.steps, 0);
    assert_true(fabs(ideal_error(&c)) < 1 * US);
    double ppm, err;
    disc_get_frequency(&d, &ppm, &err);
    double ideal_ppm = -100e-6 / (1.0 + 100e-6) * 1e6;
    assert_true(fabs(ppm - ideal_ppm) < 0.01);
    struct disc_tracking t;
    disc_get_tracking(&d, c.sys, &t);
    assert_true(fabs(t.offset) < 1 * US);
    assert_true(fabs(t.update_interval - 16.0) < 0.1);
    assert_false(t.slewing);
    assert_true(fabs(c.ppm - ppm) < 1e-6);
}

static void test_holdover_keeps_frequency(void **state)
{
    (void)state;
    struct disc_params p;
    disc_default_params(&p);
    struct disc d;
    struct filt_source f;
    struct ideal c;
    setup(&d, &f, &c, &p, -37e-6, 0.002);
    double next = 1.0;
    run_until(&d, &f, &c, 7200.0, 16.0, &next);
    double ppm_before = c.ppm;
    run_until(&d, &f, &c, 7200.0 + 6 * 3600.0, 0.0, &next);
    assert_true(c.ppm == ppm_before);
    assert_true(fabs(ideal_error(&c)) < 2 * US);
}

static void test_slew_then_timer(void **state)
{
    (void)state;
    struct disc_params p;
    disc_default_params(&p);
    struct disc d;
    struct disc_cmd cmd;
    disc_init(&d, &p, 1000.0, 0.0, 500.0, &cmd);
    assert_true(cmd.set_freq && cmd.freq_ppm == 0.0 && !cmd.step);
    struct filt_meas m = {.time = disc_raw_time(&d, 1000.0), .offset = 0.010, .var = 1e-10};
    assert_int_equal(disc_update(&d, 1000.0, &m, &cmd), FILT_ACCEPTED);
    assert_false(cmd.step);
    /* 10 ms at 400 ppm: 25 s. */
    assert_true(fabs(cmd.timer_in - 25.0) < 1e-6);
    assert_true(fabs(cmd.freq_ppm - 400.0) < 0.2);
    double c;
    assert_true(disc_correction_at(&d, 1025.0, &c));
    assert_true(fabs(c - 0.010) < 1e-9);
    disc_timer(&d, 1025.0, &cmd);
    assert_true(cmd.set_freq);
    assert_true(fabs(cmd.freq_ppm) < 1e-3);
    assert_true(cmd.timer_in == 0.0);
    struct disc_tracking t;
    disc_get_tracking(&d, 1025.0, &t);
    assert_true(fabs(t.offset) < 1e-9);
    assert_int_equal(t.n_updates, 1);
}

/*
 * Smooth corrections: after updates 64 s apart, an offset within 3 sigma of the estimate is
 * spread over corrtimeratio intervals (0.5: 32 s), a real error faster but never above
 * maxslewrate; tracking reports the excursion and its peak.
 */
static void test_slew_spread_over_interval(void **state)
{
    (void)state;
    struct disc_params p;
    disc_default_params(&p);
    p.max_slew_ppm = 50.0;
    struct disc d;
    struct disc_cmd cmd;
    disc_init(&d, &p, 0.0, 0.0, 1.0, &cmd);
    struct filt_meas m = {.offset = 0.0, .var = 20e-6 * 20e-6};
    for (int i = 1; i <= 40; i++) {
        m.time = disc_raw_time(&d, 64.0 * i);
        disc_update(&d, 64.0 * i, &m, &cmd);
    }
    assert_true(fabs(d.update_interval - 64.0) < 1e-6);
    m.offset = 2e-6;
    m.time = disc_raw_time(&d, 64.0 * 41);
    assert_int_equal(disc_update(&d, 64.0 * 41, &m, &cmd), FILT_ACCEPTED);
    assert_true(fabs(cmd.timer_in - 32.0) < 1e-6);
    struct disc_tracking t;
    disc_get_tracking(&d, 64.0 * 41, &t);
    assert_true(fabs(t.slew_ppm) < 0.1 && t.slew_ppm != 0.0);
    /* A source's filter found a real 5 ms change: as fast as maxslewrate allows. */
    m = (struct filt_meas){.time = disc_raw_time(&d, 64.0 * 42), .offset = 0.005,
                           .var = 20e-6 * 20e-6, .change = true};
    assert_int_equal(disc_update(&d, 64.0 * 42, &m, &cmd), FILT_FORCED);
    disc_get_tracking(&d, 64.0 * 42, &t);
    assert_true(cmd.timer_in >= 0.004 / 50e-6); /* rate-limited, not spread to 32 s only */
    assert_true(fabs(t.slew_ppm) <= 50.01 && fabs(t.slew_ppm) > 40.0);
    assert_true(t.peak_slew_ppm >= fabs(t.slew_ppm));
}

static void test_unused_sample_keeps_slew_timer(void **state)
{
    (void)state;
    struct disc_params p;
    disc_default_params(&p);
    struct disc d;
    struct disc_cmd cmd;
    disc_init(&d, &p, 0.0, 0.0, 1.0, &cmd);
    struct filt_meas m = {.offset = 0.0, .var = 1e-8};
    for (int i = 1; i <= 20; i++) {
        m.time = disc_raw_time(&d, 16.0 * i);
        disc_update(&d, 16.0 * i, &m, &cmd);
    }
    m.offset = 0.0003;
    m.time = disc_raw_time(&d, 336.0);
    assert_int_equal(disc_update(&d, 336.0, &m, &cmd), FILT_ACCEPTED);
    assert_true(cmd.set_freq && cmd.timer_in >= 1.0);
    double due = 336.0 + cmd.timer_in;
    /* A popcorn spike half a second later is held: the command only keeps the slew's timer. */
    m.offset = 0.05;
    m.time = disc_raw_time(&d, 336.5);
    assert_int_equal(disc_update(&d, 336.5, &m, &cmd), FILT_HELD);
    assert_false(cmd.step || cmd.set_freq);
    assert_true(fabs(336.5 + cmd.timer_in - due) < 1e-9);
}

static void test_frames(void **state)
{
    (void)state;
    struct disc_params p;
    disc_default_params(&p);
    struct disc d;
    struct disc_cmd cmd;
    disc_init(&d, &p, 1000.0, 10.0, 1.0, &cmd);
    assert_true(cmd.set_freq && cmd.freq_ppm == 10.0);
    double c;
    assert_true(disc_correction_at(&d, 1100.0, &c));
    assert_true(fabs(c - 10e-6 / (1.0 + 10e-6) * 100.0) < 1e-15);
    assert_false(disc_correction_at(&d, 999.0, &c));
    /* local_time is T4: the correction is taken at the middle of the exchange. */
    struct ntp_sample s = {.local_time = 1100.0, .offset = 0.001, .delay = 0.2};
    struct ntp_sample raw;
    assert_true(disc_sample_to_raw(&d, &s, &raw));
    double c_mid = 10e-6 / (1.0 + 10e-6) * 99.9;
    assert_true(fabs(raw.offset - (0.001 + c_mid)) < 1e-15);
    assert_true(fabs(raw.local_time - (1099.9 - c_mid)) < 1e-9);
    s.local_time = 999.0;
    assert_false(disc_sample_to_raw(&d, &s, &raw));
    /* An exchange that began before the start (T1 = T4 - delay) is refused too. */
    s.local_time = 1000.1;
    assert_false(disc_sample_to_raw(&d, &s, &raw));
    s.delay = -1.0;
    s.local_time = 1100.0;
    assert_false(disc_sample_to_raw(&d, &s, &raw));
    s.local_time = NAN;
    assert_false(disc_sample_to_raw(&d, &s, &raw));
}

static void test_makestep_first_updates_only(void **state)
{
    (void)state;
    struct disc_params p;
    disc_default_params(&p);
    p.makestep = true;
    p.step_threshold = 0.1;
    p.step_limit = 3;
    struct disc d;
    struct filt_source f;
    struct ideal c;
    setup(&d, &f, &c, &p, 50e-6, 0.5);
    double next = 1.0;
    run_until(&d, &f, &c, 3600.0, 16.0, &next);
    assert_int_equal(c.steps, 1);
    assert_true(fabs(ideal_error(&c)) < 1 * US);
    struct disc_tracking t;
    disc_get_tracking(&d, c.sys, &t);
    assert_int_equal(t.n_steps, 1);
    /* A sample measured before the step is refused. */
    struct ntp_sample s = {.local_time = 1e6 + 0.4, .offset = 0.0, .delay = 1e-4};
    struct ntp_sample raw;
    assert_false(disc_sample_to_raw(&d, &s, &raw));
}

static struct disc_cmd update_with(struct disc *d, double now, double offset)
{
    struct filt_meas m = {.time = disc_raw_time(d, now), .offset = offset, .var = 1e-12};
    struct disc_cmd cmd;
    disc_update(d, now, &m, &cmd);
    return cmd;
}

static void test_step_rules(void **state)
{
    (void)state;
    struct disc_params p;
    disc_default_params(&p);
    p.makestep = true;
    p.step_threshold = 0.1;
    p.step_limit = 3;
    struct disc d;
    struct disc_cmd cmd;
    /* Below the threshold: slewed. */
    disc_init(&d, &p, 0.0, 0.0, 1.0, &cmd);
    cmd = update_with(&d, 1.0, 0.05);
    assert_false(cmd.step);
    /* Past the first LIMIT updates a large offset (accepted once forced) is slewed too. */
    for (int i = 2; i <= 4; i++)
        assert_false(update_with(&d, i, 0.05).step);
    bool stepped = false;
    for (int i = 5; i <= 12; i++)
        stepped |= update_with(&d, i, 0.9).step;
    assert_false(stepped);
    /* Within them: stepped, by the whole offset. */
    disc_init(&d, &p, 0.0, 0.0, 1.0, &cmd);
    cmd = update_with(&d, 1.0, -0.3);
    assert_true(cmd.step);
    assert_true(fabs(cmd.step_by + 0.3) < 1e-9);
    assert_true(cmd.timer_in == 0.0);
    /* LIMIT -1: always allowed. */
    p.step_limit = -1;
    disc_init(&d, &p, 0.0, 0.0, 1.0, &cmd);
    for (int i = 1; i <= 10; i++)
        update_with(&d, i, 0.0);
    stepped = false;
    for (int i = 11; i <= 20; i++)
        stepped |= update_with(&d, i, 0.9).step;
    assert_true(stepped);
    /* No makestep: never. */
    p.makestep = false;
    disc_init(&d, &p, 0.0, 0.0, 1.0, &cmd);
    cmd = update_with(&d, 1.0, 5.0);
    assert_false(cmd.step);
    assert_true(fabs(cmd.freq_ppm) <= p.max_freq_ppm);
    assert_true(cmd.timer_in > 5.0 / 500e-6);
}

static void test_drift_and_limits(void **state)
{
    (void)state;
    struct disc_params p;
    disc_default_params(&p);
    struct disc d;
    struct disc_cmd cmd;
    disc_init(&d, &p, 0.0, 12.5, 0.5, &cmd);
    assert_true(cmd.set_freq && cmd.freq_ppm == 12.5);
    double ppm, err, f, var;
    disc_get_frequency(&d, &ppm, &err);
    assert_true(fabs(ppm - 12.5) < 1e-12 && fabs(err - 0.5) < 1e-12);
    disc_source_prior(&d, &f, &var);
    assert_true(fabs(f - 12.5e-6) < 1e-18 && fabs(var - 0.25e-12) < 1e-24);
    disc_init(&d, &p, 0.0, 900.0, 1.0, &cmd);
    assert_true(cmd.freq_ppm == p.max_freq_ppm);
    disc_init(&d, &p, 0.0, NAN, 1.0, &cmd);
    assert_true(cmd.freq_ppm == 0.0);
    /* A stray timer before any update changes nothing. */
    disc_init(&d, &p, 1.7e9, 20.0, 1.0, &cmd);
    disc_timer(&d, 1.7e9 + 5.0, &cmd);
    assert_false(cmd.step);
    assert_true(fabs(cmd.freq_ppm - 20.0) < 1e-9);
    assert_true(cmd.timer_in == 0.0);
}

/* The frame record: segments (oldest first), and when samples start being accepted. */
static bool same_frames(const struct disc *a, const struct disc *b)
{
    if (a->n_seg != b->n_seg || a->seg_head != b->seg_head || a->valid_from != b->valid_from ||
        a->n_steps != b->n_steps || a->total_stepped != b->total_stepped)
        return false;
    for (unsigned i = 0; i < a->n_seg; i++) {
        unsigned k = (a->seg_head + DISC_NSEG - i) % DISC_NSEG;
        if (memcmp(&a->seg[k], &b->seg[k], sizeof a->seg[k]) != 0)
            return false;
    }
    return true;
}

/* A slew the clock refused (EPERM) is not in the frames: the correction stays the clock's. */
static void test_failed_set_frequency_leaves_frames(void **state)
{
    (void)state;
    struct disc_params p;
    disc_default_params(&p);
    struct disc d;
    struct disc_cmd cmd;
    disc_init(&d, &p, 1000.0, 3.0, 1.0, &cmd);
    update_with(&d, 1016.0, 0.001);
    disc_timer(&d, 1020.0, &cmd);
    struct disc before = d;
    double c_before[4], at[4] = {1000.0, 1016.0, 1030.0, 5000.0};
    for (int i = 0; i < 4; i++)
        assert_true(disc_correction_at(&d, at[i], &c_before[i]));
    struct filt_meas m = {.time = disc_raw_time(&d, 1032.0), .offset = 0.0012, .var = 1e-8};
    assert_int_equal(disc_update(&d, 1032.0, &m, &cmd), FILT_ACCEPTED);
    assert_true(cmd.set_freq && cmd.timer_in > 0.0);
    assert_false(same_frames(&d, &before));
    disc_cmd_failed(&d, &cmd, false, NAN);
    assert_true(same_frames(&d, &before));
    for (int i = 0; i < 4; i++) {
        double c;
        assert_true(disc_correction_at(&d, at[i], &c));
        assert_true(c == c_before[i]);
    }
    assert_true(disc_raw_time(&d, 5000.0) == disc_raw_time(&before, 5000.0));
    assert_true(d.slewing == before.slewing && d.slew_end == before.slew_end);
    /* Told twice, or about a command that was not the last, it changes nothing more. */
    disc_cmd_failed(&d, &cmd, false, NAN);
    assert_true(same_frames(&d, &before));
    /* What the estimate saw is all still to be corrected. */
    struct disc_tracking t;
    disc_get_tracking(&d, 1032.0, &t);
    assert_true(t.offset > 1e-4);
}

/* With the ring of segments full, the command's segment took the oldest slot: it comes back. */
static void test_failed_command_with_full_history(void **state)
{
    (void)state;
    struct disc_params p;
    disc_default_params(&p);
    struct disc d;
    struct disc_cmd cmd;
    disc_init(&d, &p, 0.0, 0.0, 1.0, &cmd);
    for (int i = 1; i <= 3 * DISC_NSEG; i++)
        update_with(&d, 16.0 * i, 1e-5);
    assert_int_equal(d.n_seg, DISC_NSEG);
    struct disc before = d;
    cmd = update_with(&d, 16.0 * (3 * DISC_NSEG + 1), 2e-5);
    disc_cmd_failed(&d, &cmd, false, NAN);
    assert_true(same_frames(&d, &before));
}

/* A step made whose frequency change failed: the step stands, at the frequency before it. */
static void test_failed_frequency_after_step(void **state)
{
    (void)state;
    struct disc_params p;
    disc_default_params(&p);
    p.makestep = true;
    p.step_threshold = 0.1;
    p.step_limit = -1;
    struct disc d;
    struct disc_cmd cmd;
    disc_init(&d, &p, 0.0, 7.0, 1.0, &cmd);
    cmd = update_with(&d, 10.0, 0.3);
    assert_true(cmd.step);
    disc_cmd_failed(&d, &cmd, true, NAN);
    assert_int_equal(d.n_steps, 1);
    assert_true(d.valid_from == 10.0 + cmd.step_by);
    assert_true(d.seg[d.seg_head].ppm == 7.0);
    double c;
    assert_true(disc_correction_at(&d, 10.0 + cmd.step_by, &c));
    assert_true(fabs(c - (7e-6 / (1.0 + 7e-6) * 10.0 + cmd.step_by)) < 1e-12);
    /* Neither made: no step in the record, samples from before it still accepted. */
    disc_init(&d, &p, 0.0, 7.0, 1.0, &cmd);
    struct disc before = d;
    cmd = update_with(&d, 10.0, 0.3);
    assert_true(cmd.step);
    disc_cmd_failed(&d, &cmd, false, NAN);
    assert_true(same_frames(&d, &before));
    assert_int_equal(d.n_steps, 0);
}

/* disc_init's frequency refused: the frame runs at the frequency the clock really has. */
static void test_failed_init_takes_clock_frequency(void **state)
{
    (void)state;
    struct disc_params p;
    disc_default_params(&p);
    struct disc d;
    struct disc_cmd cmd;
    disc_init(&d, &p, 0.0, 12.0, 1.0, &cmd);
    disc_cmd_failed(&d, &cmd, false, -3.0);
    assert_true(d.seg[d.seg_head].ppm == -3.0);
    double ppm;
    disc_get_frequency(&d, &ppm, NULL);
    assert_true(ppm == 12.0); /* the estimate of the raw clock is another matter */
    disc_init(&d, &p, 0.0, 12.0, 1.0, &cmd);
    disc_cmd_failed(&d, &cmd, false, NAN);
    assert_true(d.seg[d.seg_head].ppm == 12.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_converges_from_100ppm_and_half_second),
        cmocka_unit_test(test_holdover_keeps_frequency),
        cmocka_unit_test(test_slew_then_timer),
        cmocka_unit_test(test_slew_spread_over_interval),
        cmocka_unit_test(test_unused_sample_keeps_slew_timer),
        cmocka_unit_test(test_frames),
        cmocka_unit_test(test_makestep_first_updates_only),
        cmocka_unit_test(test_step_rules),
        cmocka_unit_test(test_drift_and_limits),
        cmocka_unit_test(test_failed_set_frequency_leaves_frames),
        cmocka_unit_test(test_failed_command_with_full_history),
        cmocka_unit_test(test_failed_frequency_after_step),
        cmocka_unit_test(test_failed_init_takes_clock_frequency),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

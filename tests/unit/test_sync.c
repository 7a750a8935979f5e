/*
 * Unit tests for sync when the clock driver refuses (-EPERM, as without
 * CAP_SYS_TIME): the failure is counted with its operation and error, the
 * reference serves unsynchronised, the discipline's frames describe the clock
 * as it really runs, and all comes back once the driver works again. Also a
 * reload's `minsources`, `maxdistance` and `makestep` taken by a running
 * engine (sync_apply_params).
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/packet.h"
#include "core/sync.h"

#define BASE_SEC 1800000000
#define SHIFT 0.5           /* the upstream is this far ahead of our clock at the start */
#define DELAY 0.001

/* A perfect oscillator; the system clock runs (1 + ppm) times it and can be stepped. */
struct fake_clock {
    double t;               /* true time since BASE_SEC */
    double sys;             /* system clock since BASE_SEC */
    double ppm;
    int fail_steer;         /* 0, or what step and set_frequency return (-EPERM) */
    int fail_status;        /* 0, or what set_sync_status returns */
    unsigned n_freq_sets, n_steps;
};

static int fake_read(void *ctx, struct unix_time *now)
{
    const struct fake_clock *c = ctx;
    double whole = floor(c->sys);
    *now = (struct unix_time){BASE_SEC + (int64_t)whole, (uint32_t)((c->sys - whole) * 1e9)};
    return 0;
}

static int fake_set_frequency(void *ctx, double ppm)
{
    struct fake_clock *c = ctx;
    if (c->fail_steer)
        return c->fail_steer;
    c->ppm = ppm;
    c->n_freq_sets++;
    return 0;
}

static int fake_get_frequency(void *ctx, double *ppm)
{
    *ppm = ((struct fake_clock *)ctx)->ppm;
    return 0;
}

static int fake_step(void *ctx, double offset)
{
    struct fake_clock *c = ctx;
    if (c->fail_steer)
        return c->fail_steer;
    c->sys += offset;
    c->n_steps++;
    return 0;
}

static int fake_set_sync_status(void *ctx, bool synchronised, int leap, double est_error,
                                double max_error)
{
    (void)synchronised;
    (void)leap;
    (void)est_error;
    (void)max_error;
    return ((struct fake_clock *)ctx)->fail_status;
}

static void advance(struct fake_clock *c, double dt)
{
    c->sys += (1.0 + c->ppm * 1e-6) * dt;
    c->t += dt;
}

static void start(struct sync *n, struct fake_clock *c, bool makestep)
{
    struct sync_params p;
    sync_default_params(&p);
    p.disc.makestep = makestep;
    p.disc.step_threshold = 0.1;
    p.disc.step_limit = -1;
    p.ref.local_enabled = true; /* a failed clock must not fall back to it */
    struct clock_driver drv = {
        .ctx = c,
        .read = fake_read,
        .set_frequency = fake_set_frequency,
        .get_frequency = fake_get_frequency,
        .step = fake_step,
        .set_sync_status = fake_set_sync_status,
    };
    sync_init(n, &p, &drv, ntp_from_unix((struct unix_time){BASE_SEC, 0}));
    assert_int_equal(sync_add_source(n, 0xc0000201, false, 0, 1), 0);
}

/* One exchange with the upstream (stratum 1, SHIFT ahead of true time), then a tick. */
static void exchange(struct sync *n, struct fake_clock *c)
{
    sync_polled(n, 0, n->src[0].n_samples > 0, true); /* a source that answers every poll */
    double mid_sys = c->sys + DELAY / 2.0, mid_t = c->t + DELAY / 2.0;
    advance(c, DELAY);
    struct ntp_sample s = {
        .local_time = c->sys,
        .offset = mid_t + SHIFT - mid_sys,
        .delay = DELAY,
        .dispersion = 1e-6,
        .root_dispersion = 1e-4,
        .stratum = 1,
        .leap = NTP_LEAP_NONE,
    };
    sync_sample(n, 0, &s);
    sync_tick(n);
}

/* `count` exchanges 2 s apart, the discipline's timer served in between. */
static void run(struct sync *n, struct fake_clock *c, int count)
{
    for (int i = 0; i < count; i++) {
        double now = sync_now(n, NULL);
        if (n->timer_armed && n->timer_at < now + 2.0) {
            advance(c, fmax(0.0, n->timer_at - now));
            sync_timer(n);
            now = sync_now(n, NULL);
        }
        advance(c, 2.0 - fmod(now, 2.0));
        exchange(n, c);
    }
}

/* The discipline's correction now agrees with what the clock really did (nothing: c = 0). */
static void assert_frames_uncorrected(const struct sync *n, const struct fake_clock *c)
{
    double corr;
    assert_true(disc_correction_at(&n->disc, sync_now(n, NULL), &corr));
    assert_true(corr == 0.0);
    assert_int_equal(n->disc.n_seg, 1);
    assert_true(n->disc.seg[n->disc.seg_head].ppm == c->ppm);
    assert_int_equal(n->disc.n_steps, 0);
}

static void assert_serving_unsynchronised(const struct sync *n)
{
    const struct resp_state *s = ref_resp_state(&n->ref);
    assert_int_equal(n->ref.mode, REF_CLOCK_FAILED);
    assert_int_equal(s->leap, NTP_LEAP_UNSYNC);
    assert_int_equal(s->stratum, NTP_STRATUM_UNSYNC);
}

static void test_eperm_from_start_then_recovery(void **state)
{
    (void)state;
    struct fake_clock c = {.fail_steer = -EPERM, .fail_status = -EPERM};
    struct sync n;
    start(&n, &c, false);
    assert_true(n.clock.failing && n.clock.steering_failed);
    assert_int_equal(n.clock.n_errors, 1);
    assert_int_equal(n.clock.last_op, SYNC_CLOCK_SET_FREQUENCY);
    assert_int_equal(n.clock.last_errno, EPERM);
    assert_string_equal(sync_clock_op_name(n.clock.last_op), "set frequency");
    assert_serving_unsynchronised(&n);

    run(&n, &c, 20);
    /* The source is good and selected; the discipline asked for slews, all refused. */
    assert_int_equal(n.src[0].verdict, SEL_SELECTED);
    assert_true(n.n_updates > 10);
    assert_true(n.clock.n_errors > n.n_updates);
    assert_int_equal(n.clock.last_errno, EPERM);
    assert_serving_unsynchronised(&n);
    assert_frames_uncorrected(&n, &c);
    assert_int_equal(c.n_freq_sets, 0);
    struct ref_tracking t;
    sync_get_tracking(&n, &t);
    assert_int_equal(t.mode, REF_CLOCK_FAILED);
    assert_int_equal(t.leap, NTP_LEAP_UNSYNC);
    assert_int_equal(t.stratum, NTP_STRATUM_UNSYNC);
    /* Nothing corrected, and the discipline knows it: no phantom frequency. */
    assert_true(fabs(t.system_offset - SHIFT) < 1e-3);
    assert_true(fabs(t.freq_ppm) < 1.0);

    /*
     * Steering works again: the next update slews, the tick after it clears the status (the
     * local reference until then), the update after that synchronises.
     */
    c.fail_steer = 0;
    c.fail_status = 0;
    unsigned long errors = n.clock.n_errors;
    run(&n, &c, 1);
    assert_false(n.clock.failing);
    assert_int_equal(n.clock.n_errors, errors);
    assert_int_equal(n.ref.mode, REF_LOCAL);
    run(&n, &c, 1);
    assert_int_equal(n.ref.mode, REF_SYNCED);
    assert_int_equal(ref_resp_state(&n.ref)->stratum, 2);
    assert_int_equal(ref_resp_state(&n.ref)->leap, NTP_LEAP_NONE);
    assert_true(c.n_freq_sets >= 1);
    assert_true(n.disc.seg[n.disc.seg_head].ppm == c.ppm);
    assert_true(c.ppm > 100.0); /* slewing the 0.5 s out */
    run(&n, &c, 10);
    assert_int_equal(n.ref.mode, REF_SYNCED);
    double corr;
    assert_true(disc_correction_at(&n.disc, sync_now(&n, NULL), &corr));
    assert_true(fabs(c.sys - c.t - corr) < 1e-9);
}

/* Working at first, then refused: the frames keep what was made and nothing after. */
static void test_eperm_after_working(void **state)
{
    (void)state;
    struct fake_clock c = {0};
    struct sync n;
    start(&n, &c, false);
    run(&n, &c, 5);
    assert_int_equal(n.ref.mode, REF_SYNCED);
    c.fail_steer = -EPERM;
    struct disc before = n.disc;
    double ppm_before = c.ppm;
    unsigned long updates = n.n_updates;
    run(&n, &c, 3);
    assert_true(n.n_updates > updates);
    assert_true(n.clock.failing && n.clock.steering_failed && !n.clock.status_failed);
    assert_int_equal(n.clock.last_op, SYNC_CLOCK_SET_FREQUENCY);
    assert_serving_unsynchronised(&n);
    assert_true(c.ppm == ppm_before);
    assert_int_equal(n.disc.n_seg, before.n_seg);
    assert_int_equal(n.disc.seg_head, before.seg_head);
    assert_memory_equal(n.disc.seg, before.seg, sizeof before.seg);
    double corr;
    assert_true(disc_correction_at(&n.disc, sync_now(&n, NULL), &corr));
    assert_true(fabs(c.sys - c.t - corr) < 1e-9);
    c.fail_steer = 0;
    run(&n, &c, 1);
    assert_false(n.clock.failing);
    assert_int_equal(n.ref.mode, REF_SYNCED);
}

/* A refused step is not in the record: the clock was not stepped, samples from before still count. */
static void test_step_refused(void **state)
{
    (void)state;
    struct fake_clock c = {.fail_steer = -EPERM};
    struct sync n;
    start(&n, &c, true);
    run(&n, &c, 3);
    assert_int_equal(n.clock.last_op, SYNC_CLOCK_STEP);
    assert_int_equal(c.n_steps, 0);
    assert_frames_uncorrected(&n, &c);
    assert_serving_unsynchronised(&n);
    c.fail_steer = 0;
    run(&n, &c, 1);
    assert_int_equal(c.n_steps, 1);
    assert_int_equal(n.disc.n_steps, 1);
    assert_true(fabs(c.sys - c.t - SHIFT) < 1e-3);
    assert_false(n.clock.failing);
}

/* Only the sync status refused: unsynchronised until it is accepted, steering notwithstanding. */
static void test_status_refused(void **state)
{
    (void)state;
    struct fake_clock c = {.fail_status = -EINVAL};
    struct sync n;
    start(&n, &c, false);
    assert_false(n.clock.failing);
    run(&n, &c, 3);
    assert_true(n.clock.failing && n.clock.status_failed && !n.clock.steering_failed);
    assert_int_equal(n.clock.last_op, SYNC_CLOCK_SET_SYNC_STATUS);
    assert_int_equal(n.clock.last_errno, EINVAL);
    assert_serving_unsynchronised(&n);
    assert_true(c.n_freq_sets > 1); /* the clock itself is steered */
    c.fail_status = 0;
    run(&n, &c, 2);
    assert_false(n.clock.failing);
    assert_int_equal(n.ref.mode, REF_SYNCED);
}

/* The shell's own call, at start: counted and shown the same way. */
static void test_take_control_refused(void **state)
{
    (void)state;
    struct fake_clock c = {0};
    struct sync n;
    start(&n, &c, false);
    sync_clock_result(&n, SYNC_CLOCK_TAKE_CONTROL, -EPERM);
    assert_true(n.clock.failing);
    assert_int_equal(n.clock.n_errors, 1);
    assert_string_equal(sync_clock_op_name(n.clock.last_op), "take control");
    assert_serving_unsynchronised(&n);
    run(&n, &c, SYNC_MIN_SAMPLES);
    assert_false(n.clock.failing);
    assert_int_equal(n.ref.mode, REF_SYNCED);
}

static struct sync_reload_params reload_params(unsigned minsources, double maxdistance, bool makestep)
{
    return (struct sync_reload_params){.minsources = minsources, .maxdistance = maxdistance,
                                       .makestep = makestep, .step_threshold = 0.1, .step_limit = -1};
}

/* `minsources` and `maxdistance` judge the sources again at once; the source keeps its samples. */
static void test_reload_selection_params(void **state)
{
    (void)state;
    struct fake_clock c = {0};
    struct sync n;
    start(&n, &c, false);
    n.ref.params.local_distance = 1.0; /* horloged's default: holdover before the local reference */
    run(&n, &c, 5);
    assert_int_equal(n.ref.mode, REF_SYNCED);
    unsigned samples = n.src[0].n_samples, updates = n.n_updates;

    struct sync_reload_params p = reload_params(2, 3.0, false);
    sync_apply_params(&n, &p);
    assert_int_equal(n.params.sel.minsources, 2);
    assert_int_equal(n.sel.selected, -1);
    assert_int_equal(n.src[0].verdict, SEL_NOT_ENOUGH);
    assert_int_equal(n.ref.mode, REF_HOLDOVER);
    assert_int_equal(n.src[0].n_samples, samples);
    run(&n, &c, 2);
    assert_int_equal(n.ref.mode, REF_HOLDOVER);
    assert_int_equal(n.n_updates, updates); /* one source is not enough: nothing steers */

    p = reload_params(1, 3.0, false);
    sync_apply_params(&n, &p);
    assert_int_equal(n.sel.selected, 0);
    run(&n, &c, 1);
    assert_int_equal(n.ref.mode, REF_SYNCED);

    /* The sample's root distance is about 6e-4 s. */
    p = reload_params(1, 1e-4, false);
    sync_apply_params(&n, &p);
    assert_true(n.ref.params.maxdistance == 1e-4);
    assert_true(n.params.sel.maxdistance == 1e-4);
    assert_int_equal(n.src[0].verdict, SEL_TOO_FAR);
    assert_int_equal(n.ref.mode, REF_LOCAL); /* the held reference is too far now too */
}

/* One sample proves nothing: a source is selected once its filter has accepted a few. */
static void test_not_selected_on_one_sample(void **state)
{
    (void)state;
    struct fake_clock c = {0};
    struct sync n;
    start(&n, &c, false);
    for (int i = 1; i < SYNC_MIN_SAMPLES; i++) {
        run(&n, &c, 1);
        assert_int_equal(n.sel.selected, -1);
        assert_int_equal(n.n_updates, 0);
    }
    run(&n, &c, 1);
    assert_int_equal(n.sel.selected, 0);
    assert_int_equal(n.ref.mode, REF_SYNCED);
}

/* `makestep` turned on by a reload steps the next update; turned off, nothing steps. */
static void test_reload_makestep(void **state)
{
    (void)state;
    struct fake_clock c = {0};
    struct sync n;
    start(&n, &c, false);
    struct sync_reload_params p = reload_params(1, 3.0, true);
    sync_apply_params(&n, &p);
    assert_true(n.disc.params.makestep && n.disc.params.step_threshold == 0.1);
    assert_int_equal(n.disc.params.step_limit, -1);
    run(&n, &c, SYNC_MIN_SAMPLES);
    assert_int_equal(c.n_steps, 1);
    assert_true(fabs(c.sys - c.t - SHIFT) < 1e-3);

    struct fake_clock c2 = {0};
    start(&n, &c2, true);
    p = reload_params(1, 3.0, false);
    sync_apply_params(&n, &p);
    run(&n, &c2, 3);
    assert_int_equal(c2.n_steps, 0);
    assert_int_equal(n.disc.n_steps, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eperm_from_start_then_recovery),
        cmocka_unit_test(test_eperm_after_working),
        cmocka_unit_test(test_step_refused),
        cmocka_unit_test(test_status_refused),
        cmocka_unit_test(test_take_control_refused),
        cmocka_unit_test(test_reload_selection_params),
        cmocka_unit_test(test_reload_makestep),
        cmocka_unit_test(test_not_selected_on_one_sample),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Simulation scenarios with reference clocks, through the daemon's own feed
 * (core/refclock: pulse numbering, per-poll median, reach) and engine:
 *  - a PPS locked to a coarse NMEA-like clock (tens of ms of jitter), then the
 *    coarse clock lost: the PPS stops being used (its seconds can no longer
 *    be numbered) and the engine holds over;
 *  - a PPS without lock, numbered by our own clock once NTP servers have set
 *    it, then the servers lost: the PPS goes on alone (its phase keeps our
 *    clock within microseconds, so our clock keeps numbering it right);
 *  - a reference clock 200 ms wrong, outvoted by three servers as a falseticker.
 * Each prints "SIM ..." figures and asserts bounds.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/packet.h"
#include "sim_world.h"

#define US 1e-6
#define MS 1e-3
#define HOUR 3600.0

/* What an observer sees, split at the moment a source is lost. */
struct split {
    double lost_at;
    unsigned n_before;
    double sum2_before, max_before;
    double max_after;
    enum ref_mode mode_after;   /* 10 minutes after the loss */
};

static void observe_split(void *ctx, const struct sim_observation *o)
{
    struct split *s = ctx;
    if (o->t < 2 * HOUR)
        return;
    if (o->t < s->lost_at) {
        s->n_before++;
        s->sum2_before += o->error * o->error;
        s->max_before = fmax(s->max_before, fabs(o->error));
    } else {
        s->max_after = fmax(s->max_after, fabs(o->error));
        if (o->t < s->lost_at + 600)
            s->mode_after = o->node->ref.mode;
    }
}

static void scenario(struct sim_scenario *sc, const char *name, double hours)
{
    sim_scenario_defaults(sc);
    sc->name = name;
    sc->duration = hours * HOUR;
    sc->warmup = 2 * HOUR;
    sc->n_servers = 0;
}

/* NMEA time: each second named 100 ms late, +-50 ms; configured with that offset and delay. */
static struct sim_refclock nmea_clock(void)
{
    return (struct sim_refclock){
        .kind = SIM_REFCLOCK_COARSE,
        .late = 0.1,
        .jitter = 0.05,
        .lock = -1,
        .poll = 4,
        .params = {.refid = pkt_refid_ascii("GPS"), .offset = 0.1, .delay = 0.1, .precision = -7},
    };
}

/* A PPS edge stamped with 1 us of jitter. */
static struct sim_refclock pps_clock(int lock)
{
    return (struct sim_refclock){
        .kind = SIM_REFCLOCK_PPS,
        .jitter = 1 * US,
        .lock = lock,
        .poll = 4,
        .prefer = true,
        .params = {.refid = pkt_refid_ascii("PPS"), .delay = 1 * US, .precision = -20},
    };
}

static double rms_before(const struct split *s)
{
    return s->n_before ? sqrt(s->sum2_before / s->n_before) : INFINITY;
}

static void assert_below(double value, double bound, const char *what)
{
    if (!(value <= bound)) {
        print_message("%s = %g exceeds its bound %g\n", what, value, bound);
        fail();
    }
}

static void test_nmea_alone(void **state)
{
    (void)state;
    struct sim_scenario sc;
    scenario(&sc, "refclock-nmea-alone", 4);
    sc.n_refclocks = 1;
    sc.refclocks[0] = nmea_clock();
    struct split s = {.lost_at = sc.duration};
    struct sim_result res;
    assert_int_equal(sim_run(&sc, &res, observe_split, &s), 0);
    printf("SIM scenario=%s rms_us=%.1f max_us=%.1f samples_used=%u\n", sc.name, rms_before(&s) / US,
           s.max_before / US, res.rc[0].samples_used);
    /* 3.7 ms; 16 ms when the gate took its noise for frequency steps (docs/discipline.md). */
    assert_below(rms_before(&s), 6 * MS, "rms offset");
    assert_true(res.rc[0].samples_used > 100);
}

static void test_pps_locked_then_lock_lost(void **state)
{
    (void)state;
    struct sim_scenario sc;
    scenario(&sc, "refclock-pps-lock-nmea-then-lost", 6);
    sc.n_refclocks = 2;
    sc.refclocks[0] = nmea_clock();
    sc.refclocks[0].up_from = 0;
    sc.refclocks[0].up_to = 4 * HOUR;
    sc.refclocks[1] = pps_clock(0);
    struct split s = {.lost_at = 4 * HOUR};
    struct sim_result res;
    assert_int_equal(sim_run(&sc, &res, observe_split, &s), 0);
    const struct sim_refclock_figures *pps = &res.rc[1];
    printf("SIM scenario=%s rms_us=%.2f max_us=%.2f pps_used=%u pps_unnumbered=%u "
           "pps_last_sample_after_loss_s=%.0f mode_after=%s holdover_max_us=%.1f\n",
           sc.name, rms_before(&s) / US, s.max_before / US, pps->samples_used, pps->unnumbered,
           pps->last_sample_at - s.lost_at, ref_mode_name(s.mode_after), s.max_after / US);
    /* Locked: the PPS's microsecond, not the NMEA's tens of milliseconds. */
    assert_below(rms_before(&s), 5 * US, "rms offset while locked");
    assert_below(s.max_before, 30 * US, "max offset while locked");
    /* Lost: every edge after REFCLOCK_LOCK_MAX_AGE is unnumbered, the last sample within a poll or two. */
    assert_true(pps->unnumbered >= 2 * 3600 - 10);
    assert_below(pps->last_sample_at - s.lost_at, 2 * 16 + 1, "PPS samples after the lock was lost (s)");
    assert_int_equal(s.mode_after, REF_HOLDOVER);
    assert_below(s.max_after, 1 * MS, "holdover error over 2 h");
}

static void test_pps_unlocked_survives_servers(void **state)
{
    (void)state;
    struct sim_scenario sc;
    scenario(&sc, "refclock-pps-unlocked-servers-lost", 6);
    sc.n_servers = 1; /* the default good server, poll 64 s */
    sc.servers[0].down_from = 4 * HOUR;
    sc.servers[0].down_to = sc.duration + 1;
    sc.n_refclocks = 1;
    sc.refclocks[0] = pps_clock(-1);
    struct split s = {.lost_at = 4 * HOUR};
    struct sim_result res;
    assert_int_equal(sim_run(&sc, &res, observe_split, &s), 0);
    const struct sim_refclock_figures *pps = &res.rc[0];
    printf("SIM scenario=%s rms_us=%.2f max_us=%.2f pps_used=%u pps_unnumbered=%u "
           "max_after_servers_lost_us=%.2f mode_after=%s pps_selected=%.2f\n",
           sc.name, rms_before(&s) / US, s.max_before / US, pps->samples_used, pps->unnumbered,
           s.max_after / US, ref_mode_name(s.mode_after), pps->frac_selected);
    assert_below(rms_before(&s), 5 * US, "rms offset with servers and PPS");
    /* Once our clock is synchronised the PPS is numbered by it, and keeps it so without the servers. */
    assert_below(s.max_after, 30 * US, "max offset after the servers are lost");
    assert_int_equal(s.mode_after, REF_SYNCED);
    assert_below(sc.duration - pps->last_sample_at, 2 * 16 + 1, "PPS still used at the end (s)");
}

static void test_refclock_falseticker(void **state)
{
    (void)state;
    struct sim_scenario sc;
    scenario(&sc, "refclock-falseticker-outvoted", 8);
    sc.n_servers = 3;
    for (unsigned i = 0; i < 3; i++) {
        sim_server_defaults(&sc.servers[i]);
        sc.servers[i].address = 0xc0000201 + i;
    }
    sc.n_refclocks = 1;
    sc.refclocks[0] = nmea_clock();
    sc.refclocks[0].error = 0.2; /* a receiver 200 ms wrong, sure of itself */
    sc.refclocks[0].jitter = 1 * MS;
    sc.refclocks[0].params.delay = 1 * MS;
    struct split s = {.lost_at = sc.duration};
    struct sim_result res;
    assert_int_equal(sim_run(&sc, &res, observe_split, &s), 0);
    printf("SIM scenario=%s rms_us=%.2f max_us=%.1f refclock_falseticker=%.3f refclock_used=%u\n", sc.name,
           rms_before(&s) / US, s.max_before / US, res.rc[0].frac_falseticker, res.rc[0].samples_used);
    assert_true(res.rc[0].frac_falseticker > 0.99);
    assert_int_equal(res.rc[0].last_verdict, SEL_FALSETICKER);
    assert_below(s.max_before, 200 * US, "max offset");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nmea_alone),
        cmocka_unit_test(test_pps_locked_then_lock_lost),
        cmocka_unit_test(test_pps_unlocked_survives_servers),
        cmocka_unit_test(test_refclock_falseticker),
    };
    return cmocka_run_group_tests_name("sim_refclock", tests, NULL, NULL);
}

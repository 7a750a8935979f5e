/*
 * Simulation scenarios: the real filter, selection, discipline and reference
 * drive a simulated clock against simulated servers for days of simulated
 * time. Each prints its figures ("SIM ..." lines, read by bench/accuracy.sh)
 * beside chronyd's and NTPsec's in the same conditions, and asserts bounds.
 * HORLOGE_SIM_SEEDS (default 1) and HORLOGE_SIM_DAYS (default 2) lengthen
 * the runs; the bounds hold for the aggregate figures.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/packet.h"
#include "core/responder.h"
#include "sim_world.h"

#define US 1e-6
#define MS 1e-3
#define HOUR 3600.0
#define DAY 86400.0

struct figures {
    double rms;         /* RMS over seeds of each run's RMS offset */
    double max;         /* largest offset of any run */
    double mean_abs;    /* largest |mean offset| of any run */
    double sd;          /* RMS over seeds of each run's spread around its mean */
    double freq_rms;    /* ppm: the frequency estimate's error */
    double freq_max;
    double rate_rms;    /* ppm: the clock's rate error (its frequency excursion, slews included) */
    double rate_max;
    unsigned seeds;
    unsigned steps;     /* total over runs */
    struct sim_result last;
};

static unsigned env_seeds(void)
{
    const char *s = getenv("HORLOGE_SIM_SEEDS");
    int n = s ? atoi(s) : 1;
    return n >= 1 && n <= 1000 ? (unsigned)n : 1;
}

static double env_days(void)
{
    const char *s = getenv("HORLOGE_SIM_DAYS");
    double d = s ? atof(s) : 2.0;
    return d >= 0.5 && d <= 365.0 ? d : 2.0;
}

/* The steady-state scenarios: `days` long, the first 8 hours not counted. */
static void base_scenario(struct sim_scenario *sc, const char *name)
{
    sim_scenario_defaults(sc);
    sc->name = name;
    sc->duration = env_days() * DAY;
    sc->warmup = 8 * HOUR;
}

static void run_seeds(struct sim_scenario *sc, struct figures *f, sim_observer obs, void *ctx)
{
    memset(f, 0, sizeof *f);
    double sum2 = 0.0, fsum2 = 0.0, rsum2 = 0.0, sd2 = 0.0;
    unsigned n = env_seeds();
    uint64_t seed0 = sc->seed;
    for (unsigned i = 0; i < n; i++) {
        sc->seed = seed0 + i;
        assert_int_equal(sim_run(sc, &f->last, obs, ctx), 0);
        sum2 += f->last.rms_offset * f->last.rms_offset;
        fsum2 += f->last.rms_freq_ppm * f->last.rms_freq_ppm;
        rsum2 += f->last.rms_rate_ppm * f->last.rms_rate_ppm;
        f->freq_max = fmax(f->freq_max, f->last.max_freq_ppm);
        f->rate_max = fmax(f->rate_max, f->last.max_rate_ppm);
        f->max = fmax(f->max, f->last.max_offset);
        f->mean_abs = fmax(f->mean_abs, fabs(f->last.mean_offset));
        sd2 += f->last.rms_offset * f->last.rms_offset - f->last.mean_offset * f->last.mean_offset;
        f->steps += f->last.n_steps;
    }
    sc->seed = seed0;
    f->seeds = n;
    f->rms = sqrt(sum2 / n);
    f->freq_rms = sqrt(fsum2 / n);
    f->rate_rms = sqrt(rsum2 / n);
    f->sd = sqrt(fmax(sd2, 0.0) / n);
}

/* chrony_us / ntpsec_us: their RMS in the same conditions (clknetsim), < 0 when unknown. */
static void print_figures(const struct sim_scenario *sc, const struct figures *f, double chrony_us,
                          double ntpsec_us)
{
    char chrony[16] = "-", ntpsec[16] = "-";
    if (chrony_us > 0)
        snprintf(chrony, sizeof chrony, "%.0f", chrony_us);
    if (ntpsec_us > 0)
        snprintf(ntpsec, sizeof ntpsec, "%.0f", ntpsec_us);
    printf("SIM scenario=%s rms_us=%.2f max_us=%.1f freq_rms_ppm=%.4f freq_max_ppm=%.3f "
           "rate_rms_ppm=%.3f rate_max_ppm=%.2f chrony_us=%s ntpsec_us=%s seeds=%u days=%.1f\n",
           sc->name, f->rms / US, f->max / US, f->freq_rms, f->freq_max, f->rate_rms, f->rate_max,
           chrony, ntpsec, f->seeds, sc->duration / DAY);
}

static void assert_below(double value, double bound, const char *what)
{
    if (!(value <= bound)) {
        print_message("%s = %g exceeds its bound %g\n", what, value, bound);
        fail();
    }
}

/* 1. One good server, 100 us delay, 100 us jitter each way, poll 64 s. */
static void test_one_server(void **state)
{
    (void)state;
    struct sim_scenario sc;
    base_scenario(&sc, "one-server-100us-poll64");
    struct figures f;
    run_seeds(&sc, &f, NULL, NULL);
    print_figures(&sc, &f, 23, 21);
    assert_below(f.rms, 16 * US, "rms offset");
    assert_below(f.max, 110 * US, "max offset");
    assert_below(f.freq_rms, 0.035, "rms frequency error (ppm)");
    /* Corrections spread over the update interval: chronyd's few ppm, not tens. */
    assert_below(f.rate_rms, 0.2, "rms clock rate error (ppm)");
    assert_below(f.rate_max, 8.0, "max clock rate error (ppm)");
    assert_int_equal(f.steps, 0);
}

static void test_one_server_1ms_jitter(void **state)
{
    (void)state;
    struct sim_scenario sc;
    base_scenario(&sc, "one-server-1ms-jitter-poll64");
    sc.servers[0].path.jitter = 1 * MS;
    struct figures f;
    run_seeds(&sc, &f, NULL, NULL);
    print_figures(&sc, &f, 70, 143);
    assert_below(f.rms, 72 * US, "rms offset");
    assert_below(f.max, 420 * US, "max offset");
    assert_below(f.freq_rms, 0.06, "rms frequency error (ppm)");
}

static void test_one_server_poll16(void **state)
{
    (void)state;
    struct sim_scenario sc;
    base_scenario(&sc, "one-server-100us-poll16");
    sc.servers[0].minpoll = sc.servers[0].maxpoll = 4;
    struct figures f;
    run_seeds(&sc, &f, NULL, NULL);
    print_figures(&sc, &f, 11, -1);
    assert_below(f.rate_max, 8.0, "max clock rate error (ppm)");
    assert_below(f.rms, 8.5 * US, "rms offset");
    assert_below(f.max, 55 * US, "max offset");
    assert_below(f.freq_rms, 0.03, "rms frequency error (ppm)");
}

/* The poll policy left free between 6 and 10 keeps minpoll here (E(7) > 1.2 E(6)). */
static void test_poll_policy(void **state)
{
    (void)state;
    struct sim_scenario sc;
    base_scenario(&sc, "one-server-100us-poll6..10");
    sc.servers[0].maxpoll = 10;
    struct figures f;
    run_seeds(&sc, &f, NULL, NULL);
    print_figures(&sc, &f, -1, -1);
    assert_below(f.rms, 16 * US, "rms offset");
    assert_int_equal(f.last.src[0].polls > 2000, 1);
}

/* On a 20 ms path the unobservable asymmetry dwarfs the gain of fast polling: back off. */
static void test_poll_policy_internet(void **state)
{
    (void)state;
    struct sim_scenario sc;
    base_scenario(&sc, "internet-10ms-1ms-jitter-poll6..10");
    sc.servers[0].path.delay = 10 * MS;
    sc.servers[0].path.jitter = 1 * MS;
    sc.servers[0].maxpoll = 10;
    struct figures f;
    run_seeds(&sc, &f, NULL, NULL);
    print_figures(&sc, &f, -1, -1);
    printf("SIM scenario=%s polls=%u final_poll=%d\n", sc.name, f.last.src[0].polls,
           f.last.src[0].final_poll);
    assert_true(f.last.src[0].final_poll >= 9);
    assert_true(f.last.src[0].polls < 400);
    assert_below(f.rms, 400 * US, "rms offset");
    assert_below(f.max, 2 * MS, "max offset");
}

static void add_servers(struct sim_scenario *sc, unsigned n)
{
    sc->n_servers = n;
    for (unsigned i = 0; i < n; i++) {
        sim_server_defaults(&sc->servers[i]);
        sc->servers[i].address = 0xc0000201 + i;
        sc->servers[i].refid = pkt_refid_ascii("GPS");
    }
}

/* 2. Three servers, one lying by +0.5 s. */
static void test_falseticker(void **state)
{
    (void)state;
    struct sim_scenario sc;
    base_scenario(&sc, "three-servers-one-liar");
    add_servers(&sc, 3);
    sc.servers[1].offset = 0.5;
    struct figures f;
    run_seeds(&sc, &f, NULL, NULL);
    print_figures(&sc, &f, -1, -1);
    assert_int_equal(f.last.src[1].last_verdict, SEL_FALSETICKER);
    assert_true(f.last.src[1].frac_falseticker > 0.999);
    assert_true(f.last.src[0].frac_combined > 0.99 && f.last.src[2].frac_combined > 0.99);
    assert_below(f.rms, 12 * US, "rms offset");
    assert_below(f.max, 80 * US, "max offset");
}

/* The liar answers first, with makestep on: it must not win alone and step the clock. */
static void test_falseticker_answers_first(void **state)
{
    (void)state;
    struct sim_scenario sc;
    base_scenario(&sc, "three-servers-liar-first-makestep");
    sc.duration = 1 * DAY;
    sc.warmup = 4 * HOUR;
    add_servers(&sc, 3);
    sc.servers[1].offset = 0.5;
    sc.servers[1].first_poll = 0.5;
    sc.servers[0].first_poll = 1.5;
    sc.servers[2].first_poll = 2.5;
    sc.node.disc.makestep = true;
    sc.node.disc.step_threshold = 0.1;
    sc.node.disc.step_limit = 3;
    struct figures f;
    run_seeds(&sc, &f, NULL, NULL);
    print_figures(&sc, &f, -1, -1);
    assert_int_equal(f.steps, 0);
    assert_int_equal(f.last.src[1].samples_used, 0);
    assert_int_equal(f.last.src[1].last_verdict, SEL_FALSETICKER);
    assert_below(f.max, 80 * US, "max offset");
}

/* 3. Five servers, two lying in opposite directions. */
static void test_two_falsetickers(void **state)
{
    (void)state;
    struct sim_scenario sc;
    base_scenario(&sc, "five-servers-two-liars");
    add_servers(&sc, 5);
    sc.servers[1].offset = 0.3;
    sc.servers[3].offset = -0.4;
    struct figures f;
    run_seeds(&sc, &f, NULL, NULL);
    print_figures(&sc, &f, -1, -1);
    for (unsigned i = 0; i < 5; i++) {
        bool liar = i == 1 || i == 3;
        assert_int_equal(f.last.src[i].last_verdict == SEL_FALSETICKER, liar);
        if (liar)
            assert_true(f.last.src[i].frac_falseticker > 0.999);
        else
            assert_true(f.last.src[i].frac_combined > 0.99);
    }
    assert_below(f.rms, 10 * US, "rms offset");
    assert_below(f.max, 80 * US, "max offset");
}

/* 4. 30 % of the exchanges get no reply. */
static void test_packet_loss(void **state)
{
    (void)state;
    struct sim_scenario sc;
    base_scenario(&sc, "one-server-30pct-loss");
    sc.servers[0].path.loss = 0.3;
    struct figures f;
    run_seeds(&sc, &f, NULL, NULL);
    print_figures(&sc, &f, -1, -1);
    double replied = (double)f.last.src[0].replies / f.last.src[0].polls;
    assert_true(replied > 0.65 && replied < 0.75);
    assert_below(f.rms, 19 * US, "rms offset");
    assert_below(f.max, 130 * US, "max offset");
}

/* 5. 1 ms more delay on the way out: an error of half of it is unobservable, no more. */
static void test_asymmetry(void **state)
{
    (void)state;
    struct sim_scenario sc;
    base_scenario(&sc, "one-server-1ms-asymmetry");
    sc.servers[0].path.asymmetry = 1 * MS;
    struct figures f;
    run_seeds(&sc, &f, NULL, NULL);
    print_figures(&sc, &f, -1, -1);
    /* The clock ends up 0.5 ms fast, as any NTP client's would: assert the spread around it. */
    assert_true(fabs(f.last.mean_offset - 0.5 * MS) < 10 * US);
    assert_below(f.max, 0.5 * MS + 100 * US, "max offset");
    assert_below(f.sd, 17 * US, "rms offset around the bias");
}

/* 6. All servers down for 6 hours. */
struct outage {
    double down_from, down_to;
    double err_at_loss, freq_err_at_loss, wander;
    double disp_at[2];          /* root dispersion 10 and 30 minutes into the outage */
    double max_excess;          /* worst |error| beyond what frequency error and wander explain */
    double freq_during;         /* commanded frequency once the outage slews are over */
    bool freq_changed;
    enum ref_mode mode_late;    /* 5 hours into the outage */
    uint8_t stratum_late, leap_late;
    uint32_t refid_late;
    struct resp_state resp_late;
    ntp_ts ntp_late;
    double err_at_return;       /* |error| when the servers come back */
    double peak_after;          /* largest |error| after the return */
    double recovered_in;        /* seconds from the return until |error| stays below 100 us */
    double max_after;           /* |error| from 30 minutes after the return */
    double t_local;             /* when the reference went LOCAL */
    double dist_before_local;   /* root distance just before */
    double prev_dist;
    enum ref_mode mode_end;
    uint8_t stratum_end;
    uint32_t refid_end;
};

static void outage_observer(void *ctx, const struct sim_observation *o)
{
    struct outage *st = ctx;
    const struct sync *n = o->node;
    if (o->t < st->down_from) {
        st->err_at_loss = o->error;
        st->freq_err_at_loss = (o->freq_ppm - o->ideal_ppm) * 1e-6;
        return;
    }
    if (o->t < st->down_to) {
        double tau = o->t - st->down_from;
        /* 4 sigma of the wander's phase plus what the known frequency error explains. */
        double explained = fabs(st->err_at_loss) + fabs(st->freq_err_at_loss) * tau +
                           4.0 * sqrt(st->wander * tau * tau * tau / 3.0) + 20 * US;
        st->max_excess = fmax(st->max_excess, fabs(o->error) - explained);
        struct ref_tracking tr;
        ref_get_tracking(&n->ref, &n->disc, o->now_ntp, o->now, &tr);
        if (n->ref.mode == REF_LOCAL && st->t_local == 0.0) {
            st->t_local = o->t;
            st->dist_before_local = st->prev_dist;
        }
        st->prev_dist = tr.root_delay / 2.0 + tr.root_dispersion;
        st->err_at_return = fabs(o->error);
        if (tau >= 600.0 && st->disp_at[0] == 0.0)
            st->disp_at[0] = tr.root_dispersion;
        if (tau >= 1800.0 && st->disp_at[1] == 0.0)
            st->disp_at[1] = tr.root_dispersion;
        if (tau >= 600.0 && !n->disc.slewing) {
            if (st->freq_during == 0.0)
                st->freq_during = o->clock->freq_ppm;
            else if (o->clock->freq_ppm != st->freq_during)
                st->freq_changed = true;
        }
        if (tau >= 5 * HOUR && st->ntp_late == 0) {
            st->mode_late = n->ref.mode;
            st->stratum_late = tr.stratum;
            st->leap_late = tr.leap;
            st->refid_late = tr.refid;
            st->resp_late = *ref_resp_state(&n->ref);
            st->ntp_late = o->now_ntp;
        }
        return;
    }
    st->peak_after = fmax(st->peak_after, fabs(o->error));
    if (fabs(o->error) >= 100 * US)
        st->recovered_in = o->t - st->down_to;
    if (o->t >= st->down_to + 0.5 * HOUR)
        st->max_after = fmax(st->max_after, fabs(o->error));
    st->mode_end = n->ref.mode;
    st->stratum_end = n->ref.state.stratum;
    st->refid_end = n->ref.state.refid;
}

static void outage_scenario(struct sim_scenario *sc, struct outage *st, const char *name)
{
    base_scenario(sc, name);
    sc->duration = 2 * DAY;
    add_servers(sc, 3);
    memset(st, 0, sizeof *st);
    st->max_excess = -INFINITY;
    st->down_from = 1 * DAY;
    st->down_to = st->down_from + 6 * HOUR;
    st->wander = sc->wander;
    for (unsigned i = 0; i < 3; i++) {
        sc->servers[i].down_from = st->down_from;
        sc->servers[i].down_to = st->down_to;
        sc->servers[i].stratum = 2;
        sc->servers[i].root_delay = 1 * MS;
        sc->servers[i].root_dispersion = 2 * MS;
    }
}

/* What a client of ours reads in a reply built from the reference state. */
static void query(const struct resp_state *rs, ntp_ts now, struct ntp_header *h)
{
    uint8_t req[NTP_HEADER_LEN] = {0x23}, rep[NTP_MAX_PACKET_LEN];
    enum resp_outcome outcome;
    size_t len = resp_build(rs, req, sizeof req, now, RESP_KOD_NONE, rep, sizeof rep, &outcome);
    assert_int_equal(len, NTP_HEADER_LEN);
    assert_int_equal(pkt_decode(rep, len, h, NULL), PKT_OK);
}

static void check_outage_unsync(struct sim_scenario *sc, struct outage *st)
{
    struct sim_result r;
    assert_int_equal(sim_run(sc, &r, outage_observer, st), 0);
    printf("SIM scenario=%s seed=%llu holdover_error_at_6h_us=%.0f (wander sigma %.0f) "
           "disp_growth_ppm=%.3f peak_after_return_us=%.0f recovered_in_s=%.0f "
           "max_from_30min_after_us=%.1f mode_5h=%s mode_end=%s\n",
           sc->name, (unsigned long long)sc->seed, st->err_at_return / US,
           sqrt(st->wander * pow(6 * HOUR, 3) / 3.0) / US,
           (st->disp_at[1] - st->disp_at[0]) / 1200.0 * 1e6, st->peak_after / US,
           st->recovered_in, st->max_after / US, ref_mode_name(st->mode_late),
           ref_mode_name(st->mode_end));
    assert_below(st->max_excess, 0.0, "holdover error beyond frequency error and wander");
    assert_false(st->freq_changed);
    assert_true(fabs((st->disp_at[1] - st->disp_at[0]) / 1200.0 - NTP_PHI) < 0.02 * NTP_PHI);
    assert_int_equal(st->mode_late, REF_UNSYNC);
    assert_int_equal(st->stratum_late, NTP_STRATUM_UNSYNC);
    assert_int_equal(st->leap_late, NTP_LEAP_UNSYNC);
    struct ntp_header h;
    query(&st->resp_late, st->ntp_late, &h);
    assert_int_equal(h.leap, NTP_LEAP_UNSYNC);
    assert_int_equal(h.stratum, 0);
    assert_int_equal(st->mode_end, REF_SYNCED);
    assert_int_equal(st->stratum_end, 3);
    /* Our refid is the peer's address, not the peer's own refid. */
    assert_true(st->refid_end >= 0xc0000201 && st->refid_end <= 0xc0000203);
    assert_below(st->recovered_in, 600.0, "seconds back within 100 us after the return");
    assert_below(st->max_after, 100 * US, "max offset from 30 min after the return");
    assert_int_equal(r.n_steps, 0);
}

static void test_outage_unsync(void **state)
{
    (void)state;
    for (unsigned i = 0; i < env_seeds(); i++) {
        struct sim_scenario sc;
        struct outage st;
        outage_scenario(&sc, &st, "outage-6h-unsync");
        sc.seed += i;
        check_outage_unsync(&sc, &st);
    }
}

static void check_outage_local(struct sim_scenario *sc, struct outage *st)
{
    struct sim_result r;
    assert_int_equal(sim_run(sc, &r, outage_observer, st), 0);
    printf("SIM scenario=%s seed=%llu local_after_s=%.0f root_distance_then_ms=%.2f mode_5h=%s "
           "stratum_5h=%u max_from_30min_after_us=%.1f\n",
           sc->name, (unsigned long long)sc->seed, st->t_local - st->down_from,
           st->dist_before_local / MS, ref_mode_name(st->mode_late), st->stratum_late,
           st->max_after / US);
    /* LOCAL takes over once the held reference's root distance reaches `local distance`. */
    assert_true(st->t_local > st->down_from);
    assert_true(st->dist_before_local <= 0.020 && st->dist_before_local > 0.019);
    assert_int_equal(st->mode_late, REF_LOCAL);
    assert_int_equal(st->stratum_late, 8);
    assert_int_equal(st->refid_late, pkt_refid_ascii("LOCL"));
    struct ntp_header h;
    query(&st->resp_late, st->ntp_late, &h);
    assert_int_equal(h.leap, NTP_LEAP_NONE);
    assert_int_equal(h.stratum, 8);
    assert_int_equal(st->mode_end, REF_SYNCED);
    assert_below(st->max_after, 100 * US, "max offset from 30 min after the return");
}

static void test_outage_local(void **state)
{
    (void)state;
    for (unsigned i = 0; i < env_seeds(); i++) {
        struct sim_scenario sc;
        struct outage st;
        outage_scenario(&sc, &st, "outage-6h-local");
        sc.seed += i;
        sc.node.ref.local_enabled = true;
        sc.node.ref.local_stratum = 8;
        sc.node.ref.local_distance = 0.020;
        check_outage_local(&sc, &st);
    }
}

/* 7. Start 0.5 s off. */
static void step_scenario(struct sim_scenario *sc, const char *name)
{
    base_scenario(sc, name);
    sc->duration = 1 * DAY;
    sc->warmup = 4 * HOUR;
    sc->initial_offset = 0.5;
}

static void test_makestep(void **state)
{
    (void)state;
    struct sim_scenario sc;
    step_scenario(&sc, "start-0.5s-makestep");
    sc.node.disc.makestep = true;
    sc.node.disc.step_threshold = 0.1;
    sc.node.disc.step_limit = 3;
    struct figures f;
    run_seeds(&sc, &f, NULL, NULL);
    print_figures(&sc, &f, -1, -1);
    assert_int_equal(f.steps, f.seeds);
    assert_true(fabs(f.last.stepped + 0.5) < 1 * MS);
    assert_below(f.rms, 16 * US, "rms offset");
    assert_below(f.max, 120 * US, "max offset");
}

static void test_no_makestep(void **state)
{
    (void)state;
    struct sim_scenario sc;
    step_scenario(&sc, "start-0.5s-slew");
    struct figures f;
    run_seeds(&sc, &f, NULL, NULL);
    print_figures(&sc, &f, -1, -1);
    assert_int_equal(f.steps, 0);
    assert_below(f.last.max_abs_freq_set_ppm, sc.node.disc.max_freq_ppm, "largest frequency (ppm)");
    assert_below(f.rms, 16 * US, "rms offset");
    assert_below(f.max, 120 * US, "max offset");
}

/* 8. Kiss-o'-Death RATE from one of three servers for two hours: it is polled less, never faster again. */
static void test_kod_rate(void **state)
{
    (void)state;
    struct sim_scenario sc;
    base_scenario(&sc, "three-servers-one-kisses-rate-2h");
    add_servers(&sc, 3);
    sc.servers[0].kod = RESP_KOD_RATE;
    sc.servers[0].kod_from = 2 * HOUR;
    sc.servers[0].kod_to = 4 * HOUR;
    struct figures f;
    run_seeds(&sc, &f, NULL, NULL);
    print_figures(&sc, &f, -1, -1);
    const struct sim_source_figures *k = &f.last.src[0], *good = &f.last.src[1];
    printf("SIM scenario=%s kisses=%u polls=%u final_poll=%d (others: polls=%u final_poll=%d)\n",
           sc.name, k->kods_rate, k->polls, k->final_poll, good->polls, good->final_poll);
    /* Each kiss at least doubles the interval: 2 h of RATE takes only a handful of requests. */
    assert_true(k->kods_rate >= 3 && k->kods_rate <= 8);
    assert_true(k->final_poll >= 6 + (int)k->kods_rate);
    assert_true(k->polls < good->polls / 4);
    assert_false(k->removed);
    assert_true(f.last.src[1].frac_combined > 0.99 && f.last.src[2].frac_combined > 0.99);
    assert_below(f.rms, 12 * US, "rms offset");
    assert_below(f.max, 80 * US, "max offset");
}

/* 9. DENY from one of three servers after 6 hours: removed, never asked again, the others go on. */
static void test_kod_deny(void **state)
{
    (void)state;
    struct sim_scenario sc;
    base_scenario(&sc, "three-servers-one-kisses-deny-at-6h");
    add_servers(&sc, 3);
    sc.servers[1].kod = RESP_KOD_DENY;
    sc.servers[1].kod_from = 6 * HOUR;
    sc.servers[1].kod_to = sc.duration;
    struct figures f;
    run_seeds(&sc, &f, NULL, NULL);
    print_figures(&sc, &f, -1, -1);
    const struct sim_source_figures *d = &f.last.src[1];
    printf("SIM scenario=%s polls=%u samples_used=%u polls_after_removal=%u\n", sc.name, d->polls,
           d->samples_used, d->polls_after_removal);
    assert_true(d->removed);
    assert_int_equal(d->polls_after_removal, 0);
    assert_true(d->polls <= 6 * HOUR / 64 + 8 + 2); /* the burst, then every 64 s until the kiss */
    assert_true(d->samples_used > 0); /* it was used before the kiss */
    assert_true(d->frac_combined == 0.0);
    assert_true(f.last.src[0].frac_combined > 0.99 && f.last.src[2].frac_combined > 0.99);
    assert_true(f.last.src[0].last_verdict == SEL_SELECTED || f.last.src[2].last_verdict == SEL_SELECTED);
    assert_below(f.rms, 12 * US, "rms offset");
    assert_below(f.max, 80 * US, "max offset");
}

/* 10. Disturbances real oscillators meet, and the first minutes after a start. */

/* How the clock answers a frequency step at `step_at`: peak error, settling and ringing. */
struct step_response {
    double step_at;
    double peak;            /* largest |error| after the step, worst run */
    double settle;          /* seconds from the step until |error| stays below 100 us, worst run */
    unsigned swings;        /* sign changes between excursions beyond 100 us, worst run */
    double run_peak, run_settle;
    unsigned run_swings;
    int last_sign;
};

static void step_response_close_run(struct step_response *st)
{
    st->peak = fmax(st->peak, st->run_peak);
    st->settle = fmax(st->settle, st->run_settle);
    if (st->run_swings > st->swings)
        st->swings = st->run_swings;
    st->run_peak = st->run_settle = 0.0;
    st->run_swings = 0;
    st->last_sign = 0;
}

static void step_observer(void *ctx, const struct sim_observation *o)
{
    struct step_response *st = ctx;
    if (o->t == 0.0)
        step_response_close_run(st);
    if (o->t < st->step_at)
        return;
    double e = fabs(o->error);
    st->run_peak = fmax(st->run_peak, e);
    if (e < 100 * US)
        return;
    st->run_settle = o->t - st->step_at;
    int sign = o->error > 0 ? 1 : -1;
    if (st->last_sign != 0 && sign != st->last_sign)
        st->run_swings++;
    st->last_sign = sign;
}

static void check_freq_step(double step_ppm, const char *name, double chrony_settle_s, int maxpoll)
{
    struct sim_scenario sc;
    base_scenario(&sc, name);
    sc.servers[0].maxpoll = maxpoll;
    struct step_response st = {.step_at = 1 * DAY};
    sc.freq_profile.step_at = st.step_at;
    sc.freq_profile.step = step_ppm * 1e-6;
    struct figures f;
    run_seeds(&sc, &f, step_observer, &st);
    step_response_close_run(&st);
    print_figures(&sc, &f, -1, -1);
    printf("SIM scenario=%s step_ppm=%.1f peak_after_step_us=%.0f settled_within_100us_s=%.0f "
           "swings=%u (chronyd: ~%.0f s, no overshoot)\n",
           sc.name, step_ppm, st.peak / US, st.settle, st.swings, chrony_settle_s);
    assert_below(st.settle, 1200.0, "seconds to settle within 100 us after the step");
    assert_below(st.peak, 1.5 * MS, "peak error after the step");
    assert_below(f.rms, 60 * US, "rms offset");
}

static void test_freq_step(void **state)
{
    (void)state;
    check_freq_step(2.0, "freq-step-2ppm", 600, 6);
}

/* The same with the poll free up to 1024 s, as horloged's default `maxpoll 10`. */
static void test_freq_step_free_poll(void **state)
{
    (void)state;
    check_freq_step(2.0, "freq-step-2ppm-poll6..10", 600, 10);
}

static void test_freq_step_5ppm(void **state)
{
    (void)state;
    check_freq_step(-5.0, "freq-step-minus-5ppm", 600, 6);
}

/* Daily temperature: 1 ppm of frequency swing with a period of one day. */
static void test_freq_sine(void **state)
{
    (void)state;
    struct sim_scenario sc;
    base_scenario(&sc, "daily-sine-1ppm");
    sc.freq_profile.sine_amp = 1e-6;
    sc.freq_profile.sine_period = DAY;
    struct figures f;
    run_seeds(&sc, &f, NULL, NULL);
    print_figures(&sc, &f, -1, -1);
    assert_below(f.rms, 25 * US, "rms offset");
    assert_below(f.max, 200 * US, "max offset");
    assert_below(f.rate_max, 10.0, "max clock rate error (ppm)");
}

/* Polls of 1024 s: the wander between samples dominates (chronyd 93 us in clknetsim). */
static void test_poll1024(void **state)
{
    (void)state;
    struct sim_scenario sc;
    base_scenario(&sc, "one-server-100us-poll1024");
    sc.duration = fmax(4 * DAY, sc.duration);
    sc.servers[0].minpoll = sc.servers[0].maxpoll = 10;
    struct figures f;
    run_seeds(&sc, &f, NULL, NULL);
    print_figures(&sc, &f, 93, -1);
    assert_below(f.rms, 90 * US, "rms offset");
    assert_below(f.max, 600 * US, "max offset");
    /* Whole offsets slewed in a second made this hundreds of ppm. */
    assert_below(f.rate_max, 25.0, "max clock rate error (ppm)");
}

/* The first minutes: when the first update comes, and when the error stays within 100 us. */
struct startup {
    double first_fix;       /* worst run: seconds until the reference is synchronised */
    double within_100us;    /* worst run: from then on |error| < 100 us */
    double run_fix, run_within;
};

static void startup_close_run(struct startup *st)
{
    st->first_fix = fmax(st->first_fix, st->run_fix);
    st->within_100us = fmax(st->within_100us, st->run_within);
    st->run_fix = -1.0;
    st->run_within = 0.0;
}

static void startup_observer(void *ctx, const struct sim_observation *o)
{
    struct startup *st = ctx;
    if (o->t == 0.0)
        startup_close_run(st);
    if (st->run_fix < 0.0 && o->node->ref.mode == REF_SYNCED)
        st->run_fix = o->t;
    if (fabs(o->error) >= 100 * US)
        st->run_within = o->t;
}

static void check_startup(struct sim_scenario *sc, double fix_bound, double within_bound)
{
    sc->duration = 2 * HOUR;
    sc->warmup = 0.0;
    struct startup st = {.run_fix = -1.0};
    struct figures f;
    run_seeds(sc, &f, startup_observer, &st);
    startup_close_run(&st);
    print_figures(sc, &f, -1, -1);
    printf("SIM scenario=%s first_fix_s=%.0f within_100us_from_s=%.0f\n", sc->name, st.first_fix,
           st.within_100us);
    assert_true(st.first_fix >= 0.0);
    assert_below(st.first_fix, fix_bound, "seconds to the first fix");
    assert_below(st.within_100us, within_bound, "seconds until the error stays within 100 us");
}

/* No drift file: the oscillator is 100 ppm off and nobody knows it; the clock 5 ms off. */
static void test_startup_cold(void **state)
{
    (void)state;
    struct sim_scenario sc;
    base_scenario(&sc, "start-cold-5ms-100ppm");
    sc.initial_offset = 5 * MS;
    check_startup(&sc, 30.0, 1200.0);
}

/* A drift file within 0.5 ppm of the truth, the clock 5 ms off. */
static void test_startup_drift(void **state)
{
    (void)state;
    struct sim_scenario sc;
    base_scenario(&sc, "start-driftfile-5ms");
    sc.initial_offset = 5 * MS;
    sc.node.drift_ppm = -100.0 + 0.5;
    sc.node.drift_error_ppm = 1.0;
    check_startup(&sc, 30.0, 900.0);
}

/* 11. A leap second smeared for our clients: the served time follows the curve, the clock leaps. */
struct smear_check {
    double leap_unix;           /* the leap, Unix seconds */
    int sign;
    enum leapsmear_kind kind;
    double max_dev;             /* |served - curve| */
    double max_step_dev;        /* |served step - (true step - curve step)| between observations */
    double prev_served, prev_expected;
    unsigned li_leaps_served;   /* observations in the smear window serving LI 1 or 2 */
    unsigned in_window;
    unsigned in_leap_second;    /* observations while the clock repeated the inserted second */
    int clock_leaps;
};

static void smear_observer(void *ctx, const struct sim_observation *o)
{
    struct smear_check *st = ctx;
    const struct sim_clock *c = o->clock;
    double sys = (double)c->base_sec + c->sys;
    double served = sys + leapsmear_offset(&o->node->smear, sys, sim_clock_in_leap_second(c));
    /* True continuous time, and the smeared UTC clients should get. */
    double truth = (double)c->base_sec + o->t;
    double expected = truth - st->sign * leapsmear_fraction(st->kind, truth - st->leap_unix);
    if (fabs(truth - st->leap_unix) < LEAPSMEAR_WINDOW / 2) {
        st->in_window++;
        uint8_t li = (uint8_t)leapsmear_served_leap(&o->node->smear, o->node->ref.state.leap);
        st->li_leaps_served += li == NTP_LEAP_INSERT || li == NTP_LEAP_DELETE;
    }
    st->clock_leaps = c->leaps;
    st->in_leap_second += sim_clock_in_leap_second(c);
    if (o->t >= 4 * HOUR) {
        st->max_dev = fmax(st->max_dev, fabs(served - expected));
        double step = (served - st->prev_served) - (expected - st->prev_expected);
        st->max_step_dev = fmax(st->max_step_dev, fabs(step));
    }
    st->prev_served = served;
    st->prev_expected = expected;
}

static void check_leapsmear(enum leapsmear_kind kind, int sign, const char *name)
{
    struct sim_scenario sc;
    base_scenario(&sc, name);
    /* Start at noon UTC; the leap is at the second midnight, 36 h in, the smear from 24 h to 48 h. */
    sc.base_sec = 1700006400 - 43200;
    sc.duration = 2.5 * DAY;
    sc.warmup = 4 * HOUR;
    sc.servers[0].leap_at = 1.5 * DAY;
    sc.servers[0].leap_sign = sign;
    sc.node.leapsmear = kind;
    struct smear_check st = {.leap_unix = (double)sc.base_sec + 1.5 * DAY, .sign = sign, .kind = kind};
    struct figures f;
    run_seeds(&sc, &f, smear_observer, &st);
    print_figures(&sc, &f, -1, -1);
    printf("SIM scenario=%s served_vs_curve_max_us=%.1f served_step_vs_curve_max_us=%.1f "
           "clock_leaps=%d li_served_in_window=%u\n",
           sc.name, st.max_dev / US, st.max_step_dev / US, st.clock_leaps, st.li_leaps_served);
    /* Clients see the curve, to within our clock's own error: no 1 s jump anywhere. */
    assert_below(st.max_dev, 300 * US, "|served time - smear curve|");
    assert_below(st.max_step_dev, 100 * US, "served time's step off the curve's in one second");
    assert_int_equal(st.li_leaps_served, 0);
    assert_true(st.in_window > 0);
    /* The system clock itself made the leap (and the check saw it in the inserted second). */
    assert_int_equal(st.clock_leaps, sign);
    assert_true(sign < 0 || st.in_leap_second >= 1);
    assert_int_equal(f.last.n_steps, 0);
    assert_below(f.max, 300 * US, "max offset of the system clock from UTC");
}

static void test_leapsmear_linear(void **state)
{
    (void)state;
    check_leapsmear(LEAPSMEAR_LINEAR, 1, "leap-insert-smear-linear");
}

static void test_leapsmear_quadratic(void **state)
{
    (void)state;
    check_leapsmear(LEAPSMEAR_QUADRATIC, 1, "leap-insert-smear-quadratic");
}

static void test_leapsmear_delete(void **state)
{
    (void)state;
    check_leapsmear(LEAPSMEAR_LINEAR, -1, "leap-delete-smear-linear");
}

/*
 * Interleaved mode (RFC 9769): a loaded server reads its transmit timestamp
 * 100 us (mean, exponential) before the reply really leaves, over a 10 us
 * jitter path. Basic samples carry that error (half of it in the offset, a
 * bias and a noise); interleaved ones the real departure of the previous reply.
 */
static void xleave_scenario(struct sim_scenario *sc, const char *name, bool xleave)
{
    base_scenario(sc, name);
    sc->servers[0].path.jitter = 10 * US;
    sc->servers[0].tx_lag = 100 * US;
    sc->servers[0].xleave = xleave;
}

static void test_interleaved(void **state)
{
    (void)state;
    struct sim_scenario basic, xleave;
    struct figures fb, fx;
    xleave_scenario(&basic, "server-tx-lag-100us-basic", false);
    run_seeds(&basic, &fb, NULL, NULL);
    print_figures(&basic, &fb, -1, -1);
    xleave_scenario(&xleave, "server-tx-lag-100us-xleave", true);
    run_seeds(&xleave, &fx, NULL, NULL);
    print_figures(&xleave, &fx, -1, -1);
    assert_true(fx.last.src[0].replies > 0.9 * fb.last.src[0].replies);
    assert_below(fx.rms, 0.4 * fb.rms, "interleaved rms offset / basic's");
    assert_below(fx.rms, 10 * US, "interleaved rms offset");
    assert_below(fx.max, 60 * US, "interleaved max offset");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_server),
        cmocka_unit_test(test_one_server_1ms_jitter),
        cmocka_unit_test(test_one_server_poll16),
        cmocka_unit_test(test_poll_policy),
        cmocka_unit_test(test_poll_policy_internet),
        cmocka_unit_test(test_falseticker),
        cmocka_unit_test(test_falseticker_answers_first),
        cmocka_unit_test(test_two_falsetickers),
        cmocka_unit_test(test_packet_loss),
        cmocka_unit_test(test_asymmetry),
        cmocka_unit_test(test_outage_unsync),
        cmocka_unit_test(test_outage_local),
        cmocka_unit_test(test_makestep),
        cmocka_unit_test(test_no_makestep),
        cmocka_unit_test(test_kod_rate),
        cmocka_unit_test(test_kod_deny),
        cmocka_unit_test(test_interleaved),
        cmocka_unit_test(test_freq_step),
        cmocka_unit_test(test_freq_step_5ppm),
        cmocka_unit_test(test_freq_step_free_poll),
        cmocka_unit_test(test_freq_sine),
        cmocka_unit_test(test_poll1024),
        cmocka_unit_test(test_startup_cold),
        cmocka_unit_test(test_startup_drift),
        cmocka_unit_test(test_leapsmear_linear),
        cmocka_unit_test(test_leapsmear_quadratic),
        cmocka_unit_test(test_leapsmear_delete),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* sim_world: simulated paths, servers, exchanges and the scenario runner; see sim_world.h. */
#include "sim_world.h"

#include <math.h>
#include <string.h>

#include "core/assoc.h"
#include "core/packet.h"
#include "sim_plot.h"
#include "sim_rng.h"

#define SIM_LOCAL_PRECISION (-24)
/* Event kinds in sim_run below -2: a refclock's reading (-100 - j) and its poll (-200 - j). */
#define SIM_EV_RC_READ (-100)
#define SIM_EV_RC_POLL (-200)

void sim_server_defaults(struct sim_server *s)
{
    *s = (struct sim_server){0};
    s->address = 0xc0000201; /* 192.0.2.1 */
    s->stratum = 1;
    s->leap = NTP_LEAP_NONE;
    s->precision = -24;
    s->refid = pkt_refid_ascii("GPS");
    s->root_delay = 0.0;
    s->root_dispersion = 10e-6;
    s->proc_time = 20e-6;
    s->path = (struct sim_path){.delay = 100e-6, .jitter = 100e-6};
    s->minpoll = 6;
    s->maxpoll = 6;
}

void sim_scenario_defaults(struct sim_scenario *sc)
{
    *sc = (struct sim_scenario){0};
    sc->name = "one-good";
    sc->seed = 1;
    sc->duration = 2 * 86400.0;
    sc->warmup = 8 * 3600.0;
    sc->base_sec = 1700000000;
    sc->freq_error = 100e-6;
    sc->wander = 1e-18;
    sc->iburst = true;
    sc->observe_every = 1.0;
    sync_default_params(&sc->node);
    sc->n_servers = 1;
    sim_server_defaults(&sc->servers[0]);
}

struct world_server {
    struct sim_server cfg;
    struct sim_rng rng;
    struct assoc assoc;
    struct sim_rng nonce_rng;
    struct resp_state state;
    ntp_ts last_rx, last_departure; /* its last reply to us, as its interleaved mode keeps it */
    double next_poll;
    struct sim_source_figures fig;
    unsigned obs_false, obs_comb, obs_sel;
};

struct world_refclock {
    struct sim_refclock cfg;
    struct sim_rng rng;
    struct refclock_feed feed;
    double next_read, next_poll; /* true time */
    int64_t second;              /* the true second its next reading is of */
    struct sim_refclock_figures fig;
    unsigned obs_false, obs_comb, obs_sel;
};

struct world {
    const struct sim_scenario *sc;
    struct sim_clock clock;
    struct sync node;
    ntp_ts epoch;
    struct world_server srv[SYNC_MAX_SOURCES];
    struct world_refclock rc[4];
};

static bool server_down(const struct sim_server *s, double t)
{
    return s->down_to > s->down_from && t >= s->down_from && t < s->down_to;
}

static enum resp_kod kod_at(const struct sim_server *s, double t)
{
    return s->kod_to > s->kod_from && t >= s->kod_from && t < s->kod_to ? s->kod : RESP_KOD_NONE;
}

static void note_outcome(struct world_server *ws, const struct assoc_outcome *o)
{
    ws->fig.replies += o->verdict == SRC_SAMPLE;
    ws->fig.kods_rate += o->action == ASSOC_BACKED_OFF;
    ws->fig.removed |= o->action == ASSOC_REMOVED;
}

/*
 * The server's reply, interleaved when the client asks and it knows when its
 * last reply left; a basic reply's transmit field is read tx_lag early.
 */
static size_t serve(struct world_server *ws, const uint8_t *req, size_t req_len, ntp_ts rx,
                    enum resp_kod kod, uint8_t *rep, size_t *len)
{
    const struct resp_request rq = {.bytes = req, .len = req_len, .rx = rx, .kod = kod,
                                    .prev_rx = ws->last_rx, .prev_tx = ws->last_departure};
    enum resp_outcome outcome;
    *len = resp_answer(&ws->state, NULL, &rq, rep, NTP_MAX_PACKET_LEN, &outcome);
    if (*len == 0)
        return 0;
    ntp_ts departure = ntp_add_sec(rx, ws->cfg.proc_time);
    double lag = ws->cfg.tx_lag > 0 ? sim_rng_exp(&ws->rng, ws->cfg.tx_lag) : 0.0;
    if (outcome != RESP_REPLIED_INTERLEAVED)
        pkt_set_transmit(rep, ntp_add_sec(departure, -lag));
    if (outcome != RESP_KOD_SENT) {
        ws->last_rx = rx;
        ws->last_departure = departure;
    }
    return *len;
}

/* One request through the association, and the server's reply back to it unless lost. */
static void exchange(struct world *w, unsigned i)
{
    struct world_server *ws = &w->srv[i];
    const struct sim_path *path = &ws->cfg.path;
    ntp_ts t1 = ntp_from_unix(sim_clock_read(&w->clock));
    uint8_t req[NTP_MAX_PACKET_LEN], rep[NTP_MAX_PACKET_LEN];
    size_t len;
    size_t req_len = assoc_build_request(&ws->assoc, t1, sim_rng_u64(&ws->nonce_rng), req, sizeof req);
    ws->fig.polls++;
    ws->fig.polls_after_removal += ws->fig.removed;
    /* Always draw all three, so loss does not reshuffle the delays. */
    double d1 = path->delay + path->asymmetry + sim_rng_exp(&ws->rng, path->jitter);
    double d2 = path->delay + sim_rng_exp(&ws->rng, path->jitter);
    bool lost = sim_rng_uniform(&ws->rng) < path->loss;
    double t2 = w->clock.t + d1;
    if (req_len == 0 || lost || server_down(&ws->cfg, t2))
        return;
    /* A leap second: announced until it happens, then the server's UTC is one second behind. */
    double utc_offset = ws->cfg.offset;
    ws->state.leap = ws->cfg.leap;
    if (ws->cfg.leap_at > 0.0) {
        bool made = t2 >= ws->cfg.leap_at;
        utc_offset -= made ? ws->cfg.leap_sign : 0;
        /* Announced during the last day only, as a leap-second list has it. */
        if (!made && t2 >= ws->cfg.leap_at - 86400.0)
            ws->state.leap = ws->cfg.leap_sign > 0 ? NTP_LEAP_INSERT : NTP_LEAP_DELETE;
    }
    ntp_ts rx = ntp_add_sec(w->epoch, t2 + utc_offset);
    ws->state.reference_time = rx;
    if (serve(ws, req, req_len, rx, kod_at(&ws->cfg, t2), rep, &len) == 0)
        return;
    sim_clock_advance(&w->clock, t2 + ws->cfg.proc_time + d2);
    ntp_ts t4 = ntp_from_unix(sim_clock_read(&w->clock));
    struct assoc_outcome o = assoc_handle_reply(&ws->assoc, rep, len, t4);
    note_outcome(ws, &o);
}

static void schedule_poll(struct world *w, unsigned i)
{
    struct world_server *ws = &w->srv[i];
    ntp_ts now = ntp_from_unix(sim_clock_read(&w->clock));
    ws->next_poll = w->clock.t + assoc_time_to_poll(&ws->assoc, now);
}

struct stats {
    unsigned n;
    double sum, sum2, max, fsum2, fmax, rsum2, rmax;
    double prev_t, prev_error;
};

static void observe(struct world *w, struct stats *st, sim_observer cb, void *ctx)
{
    sync_tick(&w->node);
    struct sim_observation o = {
        .t = w->clock.t,
        .error = sim_clock_error(&w->clock),
        .ideal_ppm = sim_clock_ideal_ppm(&w->clock),
        .node = &w->node,
        .clock = &w->clock,
    };
    o.now = sync_now(&w->node, &o.now_ntp);
    disc_get_frequency(&w->node.disc, &o.freq_ppm, NULL);
    if (o.t > st->prev_t)
        o.rate_error_ppm = (o.error - st->prev_error) / (o.t - st->prev_t) * 1e6;
    st->prev_t = o.t;
    st->prev_error = o.error;
    if (w->clock.t >= w->sc->warmup) {
        double fe = o.freq_ppm - o.ideal_ppm;
        st->rsum2 += o.rate_error_ppm * o.rate_error_ppm;
        st->rmax = fmax(st->rmax, fabs(o.rate_error_ppm));
        st->n++;
        st->sum += o.error;
        st->sum2 += o.error * o.error;
        st->max = fmax(st->max, fabs(o.error));
        st->fsum2 += fe * fe;
        st->fmax = fmax(st->fmax, fabs(fe));
        for (unsigned i = 0; i < w->sc->n_servers; i++) {
            enum sel_verdict v = w->node.src[i].verdict;
            w->srv[i].obs_false += v == SEL_FALSETICKER;
            w->srv[i].obs_comb += v == SEL_CANDIDATE || v == SEL_SELECTED;
            w->srv[i].obs_sel += v == SEL_SELECTED;
        }
        for (unsigned j = 0; j < w->sc->n_refclocks; j++) {
            struct world_refclock *r = &w->rc[j];
            enum sel_verdict v = w->node.src[r->feed.sync_index].verdict;
            r->obs_false += v == SEL_FALSETICKER;
            r->obs_comb += v == SEL_CANDIDATE || v == SEL_SELECTED;
            r->obs_sel += v == SEL_SELECTED;
        }
    }
    sim_plot_observe(&o);
    if (cb)
        cb(ctx, &o);
}

static void world_init(struct world *w, const struct sim_scenario *sc)
{
    memset(w, 0, sizeof *w);
    w->sc = sc;
    sim_clock_init(&w->clock, sc->seed, sc->base_sec, sc->freq_error, sc->wander,
                   sc->initial_offset);
    sim_clock_set_profile(&w->clock, &sc->freq_profile);
    w->epoch = ntp_from_unix((struct unix_time){sc->base_sec, 0});
    struct clock_driver drv;
    sim_clock_driver(&w->clock, &drv);
    sync_init(&w->node, &sc->node, &drv, w->epoch);
    for (unsigned i = 0; i < sc->n_servers; i++) {
        struct world_server *ws = &w->srv[i];
        ws->cfg = sc->servers[i];
        sim_rng_seed(&ws->rng, sc->seed, 100 + i);
        ws->state = (struct resp_state){
            .leap = ws->cfg.leap,
            .stratum = ws->cfg.stratum,
            .precision = ws->cfg.precision,
            .refid = ws->cfg.refid,
            .root_delay = ws->cfg.root_delay,
            .root_dispersion = ws->cfg.root_dispersion,
        };
        sim_rng_seed(&ws->nonce_rng, sc->seed, 200 + i);
        struct src_params sp = {
            .minpoll = ws->cfg.minpoll,
            .maxpoll = ws->cfg.maxpoll,
            .iburst = sc->iburst,
            .prefer = ws->cfg.prefer,
            .precision = SIM_LOCAL_PRECISION,
            .refid = ws->cfg.address,
            .epoch = w->epoch,
            .xleave = ws->cfg.xleave,
        };
        assoc_init(&ws->assoc, &w->node, &sp, NULL);
        double phase = 1.0 + 2.0 * sim_rng_uniform(&ws->rng);
        ws->next_poll = ws->cfg.first_poll > 0.0 ? ws->cfg.first_poll : phase;
    }
}

static bool refclock_up(const struct sim_refclock *c, double t)
{
    return c->up_to <= c->up_from || (t >= c->up_from && t < c->up_to);
}

/* The next reading's true time: a PPS edge at its second (plus the receiver's error), NMEA late. */
static void schedule_read(struct world_refclock *r)
{
    double at = r->cfg.kind == SIM_REFCLOCK_PPS ? r->cfg.error
                                                : r->cfg.late + r->cfg.jitter * (2 * sim_rng_uniform(&r->rng) - 1);
    r->next_read = (double)r->second + at;
}

static struct unix_time unix_add(struct unix_time u, double sec)
{
    return ntp_to_unix(ntp_add_sec(ntp_from_unix(u), sec), u.sec);
}

static void refclock_read(struct world *w, struct world_refclock *r)
{
    if (refclock_up(&r->cfg, w->clock.t)) {
        struct unix_time local = sim_clock_read(&w->clock);
        struct refclock_reading rd = {.local = local};
        if (r->cfg.kind == SIM_REFCLOCK_PPS) {
            rd.local = unix_add(local, r->cfg.jitter * sim_rng_normal(&r->rng));
            rd.offset = -(double)rd.local.nsec * 1e-9;
            rd.pulse = true;
        } else {
            /* It names second `second` (+ its error) when our clock reads `local`. */
            rd.offset = ntp_diff_sec(ntp_add_sec(w->epoch, (double)r->second + r->cfg.error), ntp_from_unix(local));
        }
        r->fig.readings++;
        r->fig.unnumbered += refclock_feed_reading(&r->feed, &rd) == REFCLOCK_NO_SECOND;
    }
    r->second++;
    schedule_read(r);
}

static void refclock_poll(struct world *w, struct world_refclock *r)
{
    if (refclock_feed_poll(&r->feed))
        r->fig.last_sample_at = w->clock.t;
    r->next_poll += ldexp(1.0, r->cfg.poll);
}

static void refclocks_init(struct world *w, const struct sim_scenario *sc)
{
    for (unsigned j = 0; j < sc->n_refclocks; j++) {
        struct world_refclock *r = &w->rc[j];
        r->cfg = sc->refclocks[j];
        sim_rng_seed(&r->rng, sc->seed, 300 + j);
        struct refclock_params p = r->cfg.params;
        p.epoch = w->epoch;
        int idx = sync_add_source(&w->node, p.refid, r->cfg.prefer, r->cfg.poll, r->cfg.poll);
        refclock_feed_init(&r->feed, &p, &w->node, (unsigned)(idx < 0 ? 0 : idx));
        r->second = 1;
        schedule_read(r);
        r->next_poll = ldexp(1.0, r->cfg.poll) + 0.5;
    }
    for (unsigned j = 0; j < sc->n_refclocks; j++)
        if (w->rc[j].cfg.lock >= 0 && (unsigned)w->rc[j].cfg.lock < sc->n_refclocks)
            w->rc[j].feed.lock = &w->rc[w->rc[j].cfg.lock].feed;
}

static void finish_refclocks(struct world *w, const struct stats *st, struct sim_result *res)
{
    for (unsigned j = 0; j < w->sc->n_refclocks; j++) {
        struct world_refclock *r = &w->rc[j];
        const struct sync_source *src = &w->node.src[r->feed.sync_index];
        res->rc[j] = r->fig;
        res->rc[j].samples_used = src->n_used;
        res->rc[j].last_verdict = src->verdict;
        if (st->n > 0) {
            res->rc[j].frac_falseticker = (double)r->obs_false / st->n;
            res->rc[j].frac_combined = (double)r->obs_comb / st->n;
            res->rc[j].frac_selected = (double)r->obs_sel / st->n;
        }
    }
}

static void finish(struct world *w, const struct stats *st, struct sim_result *res)
{
    *res = (struct sim_result){0};
    if (st->n > 0) {
        res->rms_offset = sqrt(st->sum2 / st->n);
        res->mean_offset = st->sum / st->n;
        res->max_offset = st->max;
        res->rms_freq_ppm = sqrt(st->fsum2 / st->n);
        res->max_freq_ppm = st->fmax;
        res->rms_rate_ppm = sqrt(st->rsum2 / st->n);
        res->max_rate_ppm = st->rmax;
    }
    res->n_observations = st->n;
    res->n_steps = w->clock.n_steps;
    res->stepped = w->clock.stepped;
    res->n_updates = w->node.n_updates;
    res->final_wander = disc_wander(&w->node.disc);
    res->max_abs_freq_set_ppm = w->clock.max_abs_freq_ppm;
    for (unsigned i = 0; i < w->sc->n_servers; i++) {
        struct world_server *ws = &w->srv[i];
        res->src[i] = ws->fig;
        res->src[i].samples_used = w->node.src[i].n_used;
        res->src[i].last_verdict = w->node.src[i].verdict;
        res->src[i].final_poll = src_poll(&ws->assoc.src);
        if (st->n > 0) {
            res->src[i].frac_falseticker = (double)ws->obs_false / st->n;
            res->src[i].frac_combined = (double)ws->obs_comb / st->n;
            res->src[i].frac_selected = (double)ws->obs_sel / st->n;
        }
    }
    finish_refclocks(w, st, res);
}

int sim_run(const struct sim_scenario *sc, struct sim_result *res, sim_observer cb, void *ctx)
{
    if (sc->n_servers + sc->n_refclocks == 0 || sc->n_servers > SYNC_MAX_SOURCES || sc->n_refclocks > 4 ||
        !(sc->observe_every > 0.0))
        return -1;
    static struct world w; /* large; one run at a time */
    world_init(&w, sc);
    sim_plot_begin(sc);
    refclocks_init(&w, sc);
    struct stats st = {0};
    double next_obs = 0.0;
    for (;;) {
        double t_ev = next_obs;
        int kind = -1; /* -1 observe, -2 timer, i >= 0 poll of server i, below: refclock events */
        if (w.node.timer_armed) {
            double due = w.clock.t + (w.node.timer_at - sync_now(&w.node, NULL));
            if (due < t_ev) {
                t_ev = due;
                kind = -2;
            }
        }
        for (unsigned i = 0; i < sc->n_servers; i++) {
            if (w.srv[i].next_poll < t_ev) {
                t_ev = w.srv[i].next_poll;
                kind = (int)i;
            }
        }
        for (unsigned j = 0; j < sc->n_refclocks; j++) {
            if (w.rc[j].next_read < t_ev) {
                t_ev = w.rc[j].next_read;
                kind = SIM_EV_RC_READ - (int)j;
            }
            if (w.rc[j].next_poll < t_ev) {
                t_ev = w.rc[j].next_poll;
                kind = SIM_EV_RC_POLL - (int)j;
            }
        }
        if (t_ev >= sc->duration)
            break;
        sim_clock_advance(&w.clock, t_ev);
        if (kind == -1) {
            observe(&w, &st, cb, ctx);
            next_obs += sc->observe_every;
        } else if (kind == -2) {
            sync_timer(&w.node);
        } else if (kind <= SIM_EV_RC_POLL) {
            refclock_poll(&w, &w.rc[SIM_EV_RC_POLL - kind]);
        } else if (kind <= SIM_EV_RC_READ) {
            refclock_read(&w, &w.rc[SIM_EV_RC_READ - kind]);
        } else {
            exchange(&w, (unsigned)kind);
            schedule_poll(&w, (unsigned)kind);
        }
    }
    finish(&w, &st, res);
    sim_plot_end(sc, res);
    return 0;
}

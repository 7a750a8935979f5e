/* sync: from samples to clock commands and the reference state; see sync.h. */
#include "core/sync.h"

#include <math.h>

#include "core/ntptime.h"
#include "core/packet.h"

void sync_default_params(struct sync_params *p)
{
    disc_default_params(&p->disc);
    sel_default_params(&p->sel);
    ref_default_params(&p->ref);
    p->drift_ppm = 0.0;
    p->drift_error_ppm = 500.0;
}

double sync_now(const struct sync *n, ntp_ts *ntp)
{
    struct unix_time u;
    n->drv.read(n->drv.ctx, &u);
    ntp_ts now = ntp_from_unix(u);
    if (ntp)
        *ntp = now;
    return ntp_diff_sec(now, n->epoch);
}

const char *sync_clock_op_name(enum sync_clock_op op)
{
    switch (op) {
    case SYNC_CLOCK_TAKE_CONTROL: return "take control";
    case SYNC_CLOCK_STEP: return "step";
    case SYNC_CLOCK_SET_FREQUENCY: return "set frequency";
    case SYNC_CLOCK_SET_SYNC_STATUS: return "set sync status";
    }
    return "unknown";
}

/*
 * Each kind of call is cleared only by a success of its own kind: a sync
 * status the kernel accepts says nothing about a frequency it refused.
 */
void sync_clock_result(struct sync *n, enum sync_clock_op op, int err)
{
    struct sync_clock_health *h = &n->clock;
    bool was_failing = h->failing;
    if (op == SYNC_CLOCK_SET_SYNC_STATUS)
        h->status_failed = err != 0;
    else
        h->steering_failed = err != 0;
    h->failing = h->steering_failed || h->status_failed;
    if (err) {
        h->n_errors++;
        h->last_op = op;
        h->last_errno = err < 0 ? -err : err;
    }
    if (h->failing != was_failing) {
        ntp_ts now_ntp;
        sync_now(n, &now_ntp);
        ref_set_clock_failed(&n->ref, now_ntp, h->failing);
    }
}

static int clock_call(struct sync *n, enum sync_clock_op op, int err)
{
    sync_clock_result(n, op, err);
    return err;
}

/* The frequency the clock really runs at, for a discipline whose first command failed. */
static double driver_frequency(const struct sync *n)
{
    double ppm;
    if (n->drv.get_frequency && n->drv.get_frequency(n->drv.ctx, &ppm) == 0)
        return ppm;
    return NAN;
}

/* A command the clock refuses is not made by halves: after a failed step its frequency is not set. */
static void apply(struct sync *n, double now, const struct disc_cmd *cmd)
{
    int err = 0;
    bool stepped = false;
    if (cmd->step) {
        err = clock_call(n, SYNC_CLOCK_STEP, n->drv.step(n->drv.ctx, cmd->step_by));
        stepped = err == 0;
    }
    if (!err && cmd->set_freq)
        err = clock_call(n, SYNC_CLOCK_SET_FREQUENCY, n->drv.set_frequency(n->drv.ctx, cmd->freq_ppm));
    if (err)
        disc_cmd_failed(&n->disc, cmd, stepped, driver_frequency(n));
    n->timer_armed = cmd->timer_in > 0.0;
    if (n->timer_armed)
        n->timer_at = now + (stepped ? cmd->step_by : 0.0) + cmd->timer_in;
}

void sync_init(struct sync *n, const struct sync_params *p,
                   const struct clock_driver *drv, ntp_ts epoch)
{
    *n = (struct sync){0};
    n->params = *p;
    n->drv = *drv;
    n->epoch = epoch;
    n->sel.selected = -1;
    ntp_ts now_ntp;
    double now = sync_now(n, &now_ntp);
    ref_init(&n->ref, &p->ref, now_ntp);
    leapsmear_init(&n->smear, p->leapsmear);
    struct disc_cmd cmd;
    disc_init(&n->disc, &p->disc, now, p->drift_ppm, p->drift_error_ppm, &cmd);
    apply(n, now, &cmd);
}

/* A removed source's slot is reused, so replacing pool members never fills the table. */
static int free_slot(struct sync *n)
{
    for (unsigned i = 0; i < n->n_src; i++)
        if (n->src[i].removed)
            return (int)i;
    if (n->n_src >= SYNC_MAX_SOURCES)
        return -1;
    return (int)n->n_src++;
}

int sync_add_source(struct sync *n, uint32_t refid, bool prefer, int minpoll, int maxpoll)
{
    int i = free_slot(n);
    if (i < 0)
        return -1;
    struct sync_source *s = &n->src[i];
    *s = (struct sync_source){0};
    double freq, freq_var;
    disc_source_prior(&n->disc, &freq, &freq_var);
    filt_source_init(&s->filt, &n->params.disc.filt, freq, freq_var);
    s->refid = refid;
    s->prefer = prefer;
    s->minpoll = minpoll;
    s->maxpoll = maxpoll;
    s->recommended_poll = minpoll;
    s->pending = true;
    s->verdict = SEL_UNREACHABLE;
    n->verdicts[i] = SEL_UNREACHABLE;
    return i;
}

static void run_selection(struct sync *n, double now, ntp_ts now_ntp)
{
    struct sel_input in[SYNC_MAX_SOURCES];
    double now_raw = disc_raw_time(&n->disc, now);
    for (unsigned i = 0; i < n->n_src; i++) {
        struct filt_estimate e;
        filt_source_estimate(&n->src[i].filt, now_raw, &e);
        bool removed = n->src[i].removed;
        in[i] = (struct sel_input){
            .reachable = !removed && e.valid && n->src[i].reachable,
            .pending = !removed && !e.valid && n->src[i].pending,
            .unproven = n->src[i].n_filtered < SYNC_MIN_SAMPLES,
            .prefer = n->src[i].prefer,
            .offset = e.offset,
            .error = e.error,
            .jitter = e.jitter,
            .root_distance = e.root_distance,
            .stratum = e.stratum,
            .leap = e.leap,
        };
    }
    sel_run(&n->params.sel, in, n->n_src, n->sel.selected, n->verdicts, &n->sel);
    n->n_selections++;
    for (unsigned i = 0; i < n->n_src; i++)
        n->src[i].verdict = n->verdicts[i];
    if (n->sel.selected < 0)
        ref_set_unselected(&n->ref, now_ntp);
}

void sync_polled(struct sync *n, unsigned i, bool reachable, bool pending)
{
    if (i >= n->n_src)
        return;
    struct sync_source *s = &n->src[i];
    bool was_reachable = s->reachable;
    s->reachable = reachable;
    s->pending = pending;
    if (was_reachable && !reachable) {
        ntp_ts now_ntp;
        double now = sync_now(n, &now_ntp);
        run_selection(n, now, now_ntp);
    }
}

static void update_reference(struct sync *n, double now, ntp_ts now_ntp)
{
    if (n->sel.selected < 0)
        return;
    const struct sync_source *s = &n->src[n->sel.selected];
    struct filt_estimate e;
    filt_source_estimate(&s->filt, disc_raw_time(&n->disc, now), &e);
    /* RFC 5905: our refid names the peer (its address), not the peer's own reference. */
    struct ref_peer peer = {
        .stratum = e.stratum,
        .refid = s->refid,
        .root_delay = e.root_delay,
        .root_dispersion = e.root_dispersion,
        .delay = e.delay,
        .dispersion = e.dispersion,
        .jitter = e.jitter,
        .age = e.age,
    };
    ref_update(&n->ref, now_ntp, &peer, n->sel.leap);
}

void sync_sample(struct sync *n, unsigned i, const struct ntp_sample *smp)
{
    if (i >= n->n_src)
        return;
    struct sync_source *s = &n->src[i];
    ntp_ts now_ntp;
    double now = sync_now(n, &now_ntp);
    if (s->removed)
        return;
    s->reachable = true;
    s->unsynchronised = false;
    s->n_samples++;
    s->last_sample = *smp;
    s->last_sample_at = now;
    struct ntp_sample raw;
    if (!disc_sample_to_raw(&n->disc, smp, &raw)) {
        s->n_refused++;
        return;
    }
    struct filt_meas m;
    enum filt_verdict v = filt_source_add(&s->filt, &raw, &m);
    if (v == FILT_HELD)
        s->n_held++;
    if (v != FILT_ACCEPTED && v != FILT_FORCED)
        return;
    s->n_filtered++;
    s->recommended_poll = disc_recommend_poll(&n->disc, &s->filt, s->minpoll, s->maxpoll);
    run_selection(n, now, now_ntp);
    if (s->verdict != SEL_SELECTED && s->verdict != SEL_CANDIDATE)
        return;
    struct disc_cmd cmd;
    enum filt_verdict dv = disc_update(&n->disc, now, &m, &cmd);
    if (dv != FILT_ACCEPTED && dv != FILT_FORCED)
        return;
    s->n_used++;
    n->n_updates++;
    apply(n, now, &cmd);
    update_reference(n, now, now_ntp);
}

void sync_unsynchronised(struct sync *n, unsigned i)
{
    if (i < n->n_src)
        n->src[i].unsynchronised = true;
}

void sync_timer(struct sync *n)
{
    double now = sync_now(n, NULL);
    struct disc_cmd cmd;
    disc_timer(&n->disc, now, &cmd);
    apply(n, now, &cmd);
}

/* The system clock as Unix seconds, the leap smear's timescale. */
static double unix_now(const struct sync *n)
{
    struct unix_time u;
    n->drv.read(n->drv.ctx, &u);
    return (double)u.sec + u.nsec * 1e-9;
}

double sync_served_offset(const struct sync *n)
{
    return leapsmear_offset(&n->smear, unix_now(n), false);
}

void sync_get_tracking(const struct sync *n, struct ref_tracking *t)
{
    ntp_ts now_ntp;
    double now = sync_now(n, &now_ntp);
    ref_get_tracking(&n->ref, &n->disc, now_ntp, now, t);
    t->leapsmear = n->smear.kind;
    t->served_offset = sync_served_offset(n);
    t->served_leap = leapsmear_served_leap(&n->smear, t->leap);
}

/* Tells the kernel (and through it other programs, e.g. ntp_gettime users) how we are doing. */
static void publish_sync_status(struct sync *n)
{
    struct ref_tracking t;
    sync_get_tracking(n, &t);
    bool synced = t.mode == REF_SYNCED || t.mode == REF_HOLDOVER;
    double max_error = t.root_delay / 2 + t.root_dispersion;
    /* A LOCAL reference announces a leap-second list's leap too: the kernel must make it. */
    int leap = t.leap == NTP_LEAP_UNSYNC ? NTP_LEAP_NONE : t.leap;
    if (n->drv.set_sync_status)
        sync_clock_result(n, SYNC_CLOCK_SET_SYNC_STATUS,
                          n->drv.set_sync_status(n->drv.ctx, synced, leap, t.est_error, max_error));
}

void sync_tick(struct sync *n)
{
    ntp_ts now_ntp;
    sync_now(n, &now_ntp);
    ref_tick(&n->ref, now_ntp);
    leapsmear_note(&n->smear, unix_now(n), n->ref.state.leap);
    publish_sync_status(n);
}

int sync_recommended_poll(const struct sync *n, unsigned i)
{
    return n->src[i].recommended_poll;
}

void sync_remove_source(struct sync *n, unsigned i)
{
    if (i >= n->n_src)
        return;
    n->src[i].removed = true;
    n->src[i].reachable = false;
    n->src[i].pending = false;
    ntp_ts now_ntp;
    double now = sync_now(n, &now_ntp);
    run_selection(n, now, now_ntp);
}

void sync_apply_params(struct sync *n, const struct sync_reload_params *p)
{
    n->params.sel.minsources = p->minsources;
    n->params.sel.maxdistance = p->maxdistance;
    n->params.ref.maxdistance = p->maxdistance;
    n->ref.params.maxdistance = p->maxdistance;
    struct disc_params *dp[] = {&n->params.disc, &n->disc.params};
    for (unsigned k = 0; k < 2; k++) {
        dp[k]->makestep = p->makestep;
        dp[k]->step_threshold = p->step_threshold;
        dp[k]->step_limit = p->step_limit;
    }
    ntp_ts now_ntp;
    double now = sync_now(n, &now_ntp);
    run_selection(n, now, now_ntp);
}

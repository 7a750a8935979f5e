/* discipline: system filter, frames and feed-forward steering; see discipline.h. */
#include "core/discipline.h"

#include <math.h>
#include <stddef.h>

/*
 * An offset up to this many standard deviations of the estimate is mostly
 * noise: spread over the whole corr_time_ratio time (docs/discipline.md).
 */
#define DISC_SLEW_SIGMAS 3.0
/*
 * An update this many mean intervals after the last one, and at least
 * DISC_GAP_MIN seconds (the filter's gap), ends a gap; it leaves the mean alone.
 */
#define DISC_GAP_FACTOR 4.0
#define DISC_GAP_MIN 1100.0
/* Below this the estimate and the correction agree: no slew is started. */
#define DISC_SLEW_EPSILON 1e-9

void disc_default_params(struct disc_params *p)
{
    p->makestep = false;
    p->step_threshold = 0.0;
    p->step_limit = 0;
    p->max_freq_ppm = 500.0;
    p->max_slew_ppm = DISC_MAX_SLEW_PPM;
    p->min_slew_time = 1.0;
    p->corr_time_ratio = DISC_CORR_TIME_RATIO;
    filt_default_params(&p->filt);
}

static const struct disc_segment *seg_newest(const struct disc *d)
{
    return &d->seg[d->seg_head];
}

static void seg_push(struct disc *d, double start, double c, double ppm)
{
    d->seg_head = (d->seg_head + 1) % DISC_NSEG;
    if (d->n_seg < DISC_NSEG)
        d->n_seg++;
    d->seg[d->seg_head] = (struct disc_segment){start, c, ppm};
}

/* ds/dr = 1 + x for a commanded frequency x, so dc/ds = x / (1 + x). */
static double seg_correction(const struct disc_segment *s, double t)
{
    double x = s->ppm * 1e-6;
    return s->c + x / (1.0 + x) * (t - s->start);
}

void disc_init(struct disc *d, const struct disc_params *p, double now, double freq_ppm,
               double freq_error_ppm, struct disc_cmd *cmd)
{
    *d = (struct disc){0};
    d->params = *p;
    if (!isfinite(freq_ppm))
        freq_ppm = 0.0;
    freq_ppm = fmax(-p->max_freq_ppm, fmin(p->max_freq_ppm, freq_ppm));
    if (!(freq_error_ppm > 0.0))
        freq_error_ppm = p->max_freq_ppm;
    double fe = freq_error_ppm * 1e-6;
    filt_kalman_init(&d->kf, p->filt.wander_init, freq_ppm * 1e-6, fe * fe);
    d->seg_head = 0;
    d->n_seg = 1;
    d->seg[0] = (struct disc_segment){now, 0.0, freq_ppm};
    d->valid_from = now;
    d->last_update = NAN;
    d->undo.kind = DISC_UNDO_INIT;
    *cmd = (struct disc_cmd){.set_freq = true, .freq_ppm = freq_ppm};
}

bool disc_correction_at(const struct disc *d, double t, double *c)
{
    for (unsigned i = 0; i < d->n_seg; i++) {
        const struct disc_segment *s = &d->seg[(d->seg_head + DISC_NSEG - i) % DISC_NSEG];
        if (t >= s->start) {
            *c = seg_correction(s, t);
            return true;
        }
    }
    return false;
}

/* Correction now: never earlier than the newest command, which the shell applied at `now`. */
static double correction_now(const struct disc *d, double now)
{
    const struct disc_segment *s = seg_newest(d);
    return seg_correction(s, now > s->start ? now : s->start);
}

double disc_raw_time(const struct disc *d, double t)
{
    double c;
    if (!disc_correction_at(d, t, &c))
        c = d->seg[(d->seg_head + DISC_NSEG - d->n_seg + 1) % DISC_NSEG].c;
    return t - c;
}

bool disc_sample_to_raw(const struct disc *d, const struct ntp_sample *s, struct ntp_sample *raw)
{
    if (!isfinite(s->local_time) || !isfinite(s->delay) || s->delay < 0.0)
        return false;
    /* local_time is T4; the offset belongs to the middle of the exchange, which began at T1. */
    double mid = s->local_time - s->delay / 2.0, c;
    if (s->local_time - s->delay < d->valid_from || !disc_correction_at(d, mid, &c))
        return false;
    *raw = *s;
    raw->local_time = mid - c;
    raw->offset = s->offset + c;
    return true;
}

/*
 * How long to spread a correction of e over: an offset up to DISC_SLEW_SIGMAS
 * times the estimate's error sigma takes corr_time_ratio update intervals, a
 * larger one less in proportion (it is more surely real, and its rate grows
 * as e^2, chrony's rule), never less than the rate limit allows nor than
 * min_slew_time.
 */
static double slew_duration(const struct disc_params *p, double e, double sigma, double interval)
{
    double t = p->corr_time_ratio * interval;
    double big = DISC_SLEW_SIGMAS * sigma;
    if (fabs(e) > big && big > 0.0)
        t *= big / fabs(e);
    return fmax(p->min_slew_time, t);
}

/*
 * Frequency that makes the correction reach the estimate (offset e ahead of
 * it now, which itself moves at f) within the slew time, and that time.
 */
static double slew_plan(const struct disc_params *p, double e, double f, double duration,
                        double *slew_time)
{
    double fmax_ = p->max_freq_ppm * 1e-6;
    double base = fmax(-fmax_, fmin(fmax_, f));
    *slew_time = 0.0;
    if (fabs(e) < DISC_SLEW_EPSILON)
        return base * 1e6;
    double avail = fmin(p->max_slew_ppm, p->max_freq_ppm - fabs(base) * 1e6);
    avail = fmax(avail, 0.1 * p->max_slew_ppm) * 1e-6;
    double t = fmax(duration, fabs(e) / avail);
    /* Over t system seconds c gains q*t, the estimate f*(t - q*t): solve q*t = e + f*(t - q*t). */
    double q = (e + base * t) / ((1.0 + base) * t);
    double x = q / (1.0 - q);
    x = fmax(-fmax_, fmin(fmax_, x));
    *slew_time = t;
    return x * 1e6;
}

static bool step_allowed(const struct disc *d, double e)
{
    const struct disc_params *p = &d->params;
    if (!p->makestep || fabs(e) <= p->step_threshold)
        return false;
    return p->step_limit < 0 || d->n_updates <= (unsigned)p->step_limit;
}

static void save_undo(struct disc *d)
{
    d->undo = (struct disc_undo){
        .kind = DISC_UNDO_STEER,
        .seg_head = d->seg_head,
        .n_seg = d->n_seg,
        .overwritten = d->seg[(d->seg_head + 1) % DISC_NSEG],
        .valid_from = d->valid_from,
        .slewing = d->slewing,
        .slew_end = d->slew_end,
    };
}

/* The frequency excursion `horloge tracking` reports: now, and its peak over the last hour or so. */
static void note_slew(struct disc *d, double now, double slew_ppm)
{
    d->slew_ppm = slew_ppm;
    if (!(now - d->peak_since < DISC_PEAK_WINDOW)) {
        d->peak_since = now;
        d->prev_peak_slew_ppm = d->peak_slew_ppm;
        d->peak_slew_ppm = 0.0;
    }
    d->peak_slew_ppm = fmax(d->peak_slew_ppm, fabs(slew_ppm));
}

static void steer(struct disc *d, double now, bool may_step, struct disc_cmd *cmd)
{
    save_undo(d);
    double c = correction_now(d, now);
    double theta = c, var = 0.0, f = d->kf.s.x1;
    if (d->kf.started)
        filt_kalman_predict(&d->kf, now - c, &theta, &var, &f, NULL);
    double e = theta - c;
    if (may_step) {
        d->last_offset = e;
        d->rms_offset = d->n_updates <= 1 ? fabs(e)
                                          : sqrt(d->rms_offset * d->rms_offset * 0.875 +
                                                 e * e * 0.125);
    }
    if (may_step && step_allowed(d, e)) {
        cmd->step = true;
        cmd->step_by = e;
        now += e;
        c += e;
        d->valid_from = now;
        d->n_steps++;
        d->total_stepped += e;
        e = 0.0;
    }
    double slew_time;
    double duration = slew_duration(&d->params, e, sqrt(var), d->update_interval);
    double ppm = slew_plan(&d->params, e, f, duration, &slew_time);
    note_slew(d, now, ppm - f * 1e6);
    seg_push(d, now, c, ppm);
    cmd->set_freq = true;
    cmd->freq_ppm = ppm;
    cmd->timer_in = slew_time;
    d->slewing = slew_time > 0.0;
    d->slew_end = now + slew_time;
}

enum filt_verdict disc_update(struct disc *d, double now, const struct filt_meas *m,
                              struct disc_cmd *cmd)
{
    *cmd = (struct disc_cmd){0};
    d->undo.kind = DISC_UNDO_NONE;
    double f_before = d->kf.s.x1;
    bool had_state = d->kf.started;
    enum filt_verdict v =
        m->change ? filt_kalman_take_change(&d->kf, &d->params.filt, m->time, m->offset, m->var)
                  : filt_kalman_update(&d->kf, &d->params.filt, m->time, m->offset, m->var);
    if (v != FILT_ACCEPTED && v != FILT_FORCED) {
        if (d->slewing && d->slew_end > now)
            cmd->timer_in = d->slew_end - now;
        return v;
    }
    d->n_updates++;
    d->residual_ppm = had_state ? (d->kf.s.x1 - f_before) * 1e6 : 0.0;
    if (isfinite(d->last_update) && now > d->last_update) {
        double iv = now - d->last_update;
        /* A gap (an outage) is not the interval: it would slow the slews after it for hours. */
        if (!(d->update_interval > 0.0))
            d->update_interval = iv;
        else if (iv < fmax(DISC_GAP_FACTOR * d->update_interval, DISC_GAP_MIN))
            d->update_interval += (iv - d->update_interval) / 8.0;
    }
    d->last_update = now;
    steer(d, now, true, cmd);
    return v;
}

void disc_timer(struct disc *d, double now, struct disc_cmd *cmd)
{
    *cmd = (struct disc_cmd){0};
    steer(d, now, false, cmd);
}

void disc_cmd_failed(struct disc *d, const struct disc_cmd *cmd, bool stepped, double clock_ppm)
{
    struct disc_undo *u = &d->undo;
    if (u->kind == DISC_UNDO_INIT && isfinite(clock_ppm))
        d->seg[d->seg_head].ppm = clock_ppm;
    if (u->kind != DISC_UNDO_STEER) {
        u->kind = DISC_UNDO_NONE;
        return;
    }
    if (stepped) {
        d->seg[d->seg_head].ppm = d->seg[u->seg_head].ppm;
    } else {
        d->seg[d->seg_head] = u->overwritten;
        d->seg_head = u->seg_head;
        d->n_seg = u->n_seg;
        d->valid_from = u->valid_from;
        if (cmd->step) {
            d->n_steps--;
            d->total_stepped -= cmd->step_by;
        }
    }
    /* The slew in progress before goes on at its frequency (shifted by a step that was made). */
    d->slewing = u->slewing;
    d->slew_end = u->slew_end + (stepped ? cmd->step_by : 0.0);
    u->kind = DISC_UNDO_NONE;
}

void disc_get_frequency(const struct disc *d, double *ppm, double *error_ppm)
{
    if (ppm)
        *ppm = d->kf.s.x1 * 1e6;
    if (error_ppm)
        *error_ppm = sqrt(d->kf.s.p11) * 1e6;
}

void disc_source_prior(const struct disc *d, double *freq, double *freq_var)
{
    *freq = d->kf.s.x1;
    /* Not below (0.01 ppm)^2: the new source must still be free to disagree. */
    *freq_var = fmax(d->kf.s.p11, 1e-16);
}

double disc_wander(const struct disc *d)
{
    return d->kf.wander;
}

int disc_recommend_poll(const struct disc *d, const struct filt_source *src, int minpoll,
                        int maxpoll)
{
    return filt_recommend_poll(src, d->kf.wander, minpoll, maxpoll);
}

void disc_get_tracking(const struct disc *d, double now, struct disc_tracking *t)
{
    *t = (struct disc_tracking){0};
    double c = correction_now(d, now);
    double theta = c, var = 0.0, f = d->kf.s.x1, fvar = d->kf.s.p11;
    if (d->kf.started)
        filt_kalman_predict(&d->kf, now - c, &theta, &var, &f, &fvar);
    t->offset = theta - c;
    t->last_offset = d->last_offset;
    t->rms_offset = d->rms_offset;
    t->est_error = sqrt(var);
    t->freq_ppm = fmax(-d->params.max_freq_ppm, fmin(d->params.max_freq_ppm, f * 1e6));
    t->residual_freq_ppm = d->residual_ppm;
    t->skew_ppm = sqrt(fvar) * 1e6;
    t->update_interval = d->update_interval;
    t->wander = d->kf.wander;
    t->n_updates = d->n_updates;
    t->n_steps = d->n_steps;
    t->slewing = d->slewing;
    t->slew_ppm = d->slew_ppm;
    t->peak_slew_ppm = fmax(d->peak_slew_ppm, d->prev_peak_slew_ppm);
}

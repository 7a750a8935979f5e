/* filter: Kalman estimator and per-source delay-weighted filter; see filter.h. */
#include "core/filter.h"

#include <math.h>
#include <stddef.h>

#include "core/responder.h"

/* RFC 5905 MINDISP as ntpd uses it: a floor for (root delay + delay). */
#define FILT_MINDISP 0.001
/* NIS above which a source counts as disturbed (poll drops to minpoll). */
#define FILT_NIS_DISTURBED 9.0
/* Poll policy: E(p) may be 1.2 x E(minpoll), or this fraction of the minimum delay. */
#define FILT_POLL_FACTOR 1.2
#define FILT_POLL_ASYM_FRACTION 0.02
/* Wander alternatives: A / FILT_WANDER_RATIO and A * FILT_WANDER_RATIO. */
#define FILT_WANDER_RATIO 2.0
/* Weight of one accepted sample in the running mean of its NIS (filt_kalman.nis_scale). */
#define FILT_NIS_SCALE_GAIN (1.0 / 64.0)
/* A mean NIS up to this is chance: the gate scales only beyond it. */
#define FILT_NIS_SLACK 2.0
/* Samples scored before A may move, and after which the comparison restarts. */
#define FILT_WANDER_MIN_SCORED 64
#define FILT_WANDER_MAX_SCORED 256
/* An alternative must predict this much better (relative score) to win. */
#define FILT_WANDER_MARGIN 0.01

void filt_default_params(struct filt_params *p)
{
    p->excess_k = 0.1;
    p->r0 = 1e-14;
    p->window_age = 86400.0;
    p->gate = 25.0;
    p->max_holds = 3;
    p->wander_init = 1e-17;
    p->wander_min = 1e-22;
    p->wander_max = 1e-12;
    p->wander_fixed = false;
}

const char *filt_verdict_name(enum filt_verdict v)
{
    switch (v) {
    case FILT_ACCEPTED: return "accepted";
    case FILT_HELD: return "held";
    case FILT_FORCED: return "forced";
    case FILT_INVALID: return "invalid";
    }
    return "unknown";
}

void filt_kalman_init(struct filt_kalman *k, double wander, double freq, double freq_var)
{
    *k = (struct filt_kalman){0};
    k->wander = wander;
    k->s.x1 = freq;
    k->s.p11 = freq_var;
    k->nis_mean = 1.0;
    k->nis_scale = 1.0;
}

static struct filt_kstate kal_predict(const struct filt_kstate *k, double a, double dt)
{
    struct filt_kstate p;
    p.x0 = k->x0 + k->x1 * dt;
    p.x1 = k->x1;
    p.p00 = k->p00 + 2.0 * dt * k->p01 + dt * dt * k->p11 + a * dt * dt * dt / 3.0;
    p.p01 = k->p01 + dt * k->p11 + a * dt * dt / 2.0;
    p.p11 = k->p11 + a * dt;
    return p;
}

/* Measurement update of a predicted state; returns the innovation. */
static double kal_correct(struct filt_kstate *k, const struct filt_kstate *pr, double z, double r)
{
    double y = z - pr->x0;
    double s = pr->p00 + r;
    double k0 = pr->p00 / s, k1 = pr->p01 / s;
    k->x0 = pr->x0 + k0 * y;
    k->x1 = pr->x1 + k1 * y;
    k->p00 = pr->p00 * (1.0 - k0);
    k->p01 = pr->p01 * (1.0 - k0);
    k->p11 = pr->p11 - k1 * pr->p01;
    if (k->p11 < 1e-30)
        k->p11 = 1e-30;
    return y;
}

static void wander_fork(struct filt_kalman *k)
{
    k->alt[0] = k->s;
    k->alt[1] = k->s;
    k->score[0] = k->score[1] = k->score[2] = 0.0;
    k->n_scored = 0;
}

static double alt_wander(const struct filt_kalman *k, int i)
{
    return i == 0 ? k->wander / FILT_WANDER_RATIO : k->wander * FILT_WANDER_RATIO;
}

/* Moves A to an alternative that predicted clearly better (docs/discipline.md). */
static void wander_decide(struct filt_kalman *k, const struct filt_params *p)
{
    if (k->n_scored < FILT_WANDER_MIN_SCORED)
        return;
    int best = -1;
    double best_score = INFINITY;
    for (int i = 0; i < 2; i++) {
        double a = alt_wander(k, i);
        if (k->score[i + 1] < k->score[0] * (1.0 - FILT_WANDER_MARGIN) &&
            k->score[i + 1] < best_score &&
            a >= p->wander_min && a <= p->wander_max) {
            best = i;
            best_score = k->score[i + 1];
        }
    }
    if (best >= 0) {
        k->wander = alt_wander(k, best);
        k->s = k->alt[best];
        wander_fork(k);
    } else if (k->n_scored >= FILT_WANDER_MAX_SCORED) {
        wander_fork(k);
    }
}

static void kal_start(struct filt_kalman *k, double t, double z, double r)
{
    k->started = true;
    k->t = t;
    k->s.x0 = z;
    k->s.p00 = r;
    k->s.p01 = 0.0;
    k->jitter2 = r;
    k->n_updates = 1;
    k->last_nis = 0.0;
    k->nis_mean = 1.0;
    k->nis_scale = 1.0;
    k->last_innovation = 0.0;
    wander_fork(k);
}

/*
 * The popcorn gate: hold a far-off sample, unless too many were held in a
 * row, or it follows a held one further off on the same side: popcorn is
 * isolated, while after a step of offset or frequency every sample is off,
 * the same way, by as much or more (a frequency step: more each time).
 */
static enum filt_verdict kal_gate(struct filt_kalman *k, const struct filt_params *p, double nis,
                                  double y)
{
    if (nis <= p->gate) {
        k->holds = 0;
        return FILT_ACCEPTED;
    }
    if (k->holds > 0) {
        double prev = k->held[k->holds - 1].y;
        if (prev * y > 0.0 && fabs(y) >= fabs(prev))
            return FILT_FORCED;
    }
    if (k->holds < p->max_holds && k->holds < FILT_MAX_HOLDS)
        return FILT_HELD;
    return FILT_FORCED;
}

static void kal_inflate_all(struct filt_kalman *k, double offset_var, double freq_var)
{
    struct filt_kstate *st[] = {&k->s, &k->alt[0], &k->alt[1]};
    for (unsigned i = 0; i < 3; i++) {
        st[i]->p00 += offset_var;
        st[i]->p11 += freq_var;
    }
}

/* Updates the two wander alternatives with the same measurement and scores their predictions. */
static void kal_update_alternatives(struct filt_kalman *k, double dt, double z, double r)
{
    for (int i = 0; i < 2; i++) {
        struct filt_kstate pr = kal_predict(&k->alt[i], alt_wander(k, i), dt);
        double y = kal_correct(&k->alt[i], &pr, z, r);
        k->score[i + 1] += y * y / r;
    }
}

static void kal_adapt_wander(struct filt_kalman *k, const struct filt_params *p,
                             enum filt_verdict verdict)
{
    if (p->wander_fixed) {
        if (verdict == FILT_FORCED)
            wander_fork(k);
        return;
    }
    if (verdict == FILT_ACCEPTED) {
        wander_decide(k, p);
        return;
    }
    /* Predictions this far off say A is too small; the gate would otherwise hold it there. */
    k->wander = fmin(k->wander * FILT_WANDER_RATIO * FILT_WANDER_RATIO, p->wander_max);
    wander_fork(k);
}

/* Predicts, corrects and scores one measurement (no gate); dt >= 0. */
static void kal_take(struct filt_kalman *k, double dt, double z, double r)
{
    kal_update_alternatives(k, dt, z, r);
    struct filt_kstate pr = kal_predict(&k->s, k->wander, dt);
    double y = kal_correct(&k->s, &pr, z, r);
    k->score[0] += y * y / r;
    k->n_scored++;
    k->t += dt;
    k->last_innovation = y;
    k->jitter2 += (y * y - k->jitter2) / 8.0;
    k->n_updates++;
}

/*
 * The gate judges an innovation against the spread accepted ones have shown
 * when that is well beyond the predicted one: a source whose stated variance
 * under-states its noise (NMEA time, +-50 ms, stated as a few ms) would
 * otherwise have its ordinary samples held as popcorn, and any two of them
 * on one side taken as a change of frequency, widening and replaying the
 * state every few polls (docs/discipline.md, section 6). A slow mean, so the
 * few large innovations after a real step barely raise it, and a slack, so a
 * source whose stated variance is right keeps a scale of 1 and is gated
 * exactly as before.
 */
static void nis_scale_note(struct filt_kalman *k, double raw_nis)
{
    k->nis_mean += (raw_nis - k->nis_mean) * FILT_NIS_SCALE_GAIN;
    k->nis_scale = fmax(1.0, k->nis_mean / FILT_NIS_SLACK);
}

/* A measurement older than the state is moved forward along the frequency. */
static double kal_dt(const struct filt_kalman *k, double t, double *z)
{
    double dt = t - k->t;
    if (dt >= 0.0)
        return dt;
    *z += k->s.x1 * -dt;
    return 0.0;
}

/*
 * A run of held samples ended by a forced one was no popcorn: the offset or
 * the frequency really changed. Widen the state by both (the offset by the
 * first innovation, the frequency by the slope the run shows since the last
 * accepted sample), then take the held samples and this one in order, so the
 * filter re-learns from all of them instead of one (docs/discipline.md).
 */
static void kal_take_change(struct filt_kalman *k, double t, double z, double r, double y)
{
    const struct filt_held *h0 = k->holds > 0 ? &k->held[0] : NULL;
    double y0 = h0 ? h0->y : y;
    double span = t - k->t;
    double slope = span > 0.0 ? y / span : 0.0;
    kal_inflate_all(k, y0 * y0, slope * slope);
    for (unsigned i = 0; i < k->holds; i++) {
        double zi = k->held[i].z;
        kal_take(k, kal_dt(k, k->held[i].t, &zi), zi, k->held[i].r);
    }
    k->holds = 0;
    kal_take(k, kal_dt(k, t, &z), z, r);
    k->n_changes++;
}

enum filt_verdict filt_kalman_update(struct filt_kalman *k, const struct filt_params *p, double t,
                                     double z, double r)
{
    if (!isfinite(t) || !isfinite(z) || !isfinite(r) || r <= 0.0)
        return FILT_INVALID;
    if (!k->started) {
        kal_start(k, t, z, r);
        return FILT_ACCEPTED;
    }
    double zt = z;
    double dt = kal_dt(k, t, &zt);
    struct filt_kstate pr = kal_predict(&k->s, k->wander, dt);
    double y = zt - pr.x0;
    double raw_nis = y * y / (pr.p00 + r);
    double nis = raw_nis / k->nis_scale;
    enum filt_verdict verdict = kal_gate(k, p, nis, y);
    k->last_nis = nis;
    if (verdict == FILT_HELD) {
        k->held[k->holds++] = (struct filt_held){t, z, r, y};
        return verdict;
    }
    if (verdict == FILT_FORCED) {
        kal_take_change(k, t, z, r, y);
    } else {
        kal_take(k, dt, zt, r);
        nis_scale_note(k, raw_nis);
    }
    kal_adapt_wander(k, p, verdict);
    return verdict;
}

enum filt_verdict filt_kalman_take_change(struct filt_kalman *k, const struct filt_params *p,
                                          double t, double z, double r)
{
    if (!isfinite(t) || !isfinite(z) || !isfinite(r) || r <= 0.0)
        return FILT_INVALID;
    if (!k->started) {
        kal_start(k, t, z, r);
        return FILT_ACCEPTED;
    }
    double y = z - (k->s.x0 + k->s.x1 * (t - k->t));
    k->last_nis = y * y / (k->s.p00 + r) / k->nis_scale;
    kal_take_change(k, t, z, r, y);
    kal_adapt_wander(k, p, FILT_FORCED);
    return FILT_FORCED;
}

void filt_kalman_predict(const struct filt_kalman *k, double t, double *offset, double *offset_var,
                         double *freq, double *freq_var)
{
    double dt = t - k->t;
    struct filt_kstate pr = kal_predict(&k->s, k->wander, dt > 0.0 ? dt : 0.0);
    if (offset)
        *offset = k->s.x0 + k->s.x1 * dt;
    if (offset_var)
        *offset_var = pr.p00;
    if (freq)
        *freq = pr.x1;
    if (freq_var)
        *freq_var = pr.p11;
}

void filt_kalman_inflate(struct filt_kalman *k, double var)
{
    if (!(var > 0.0) || !isfinite(var))
        return;
    k->s.p00 += var;
    k->alt[0].p00 += var;
    k->alt[1].p00 += var;
}

void filt_source_init(struct filt_source *f, const struct filt_params *p, double freq,
                      double freq_var)
{
    *f = (struct filt_source){0};
    f->params = *p;
    filt_kalman_init(&f->kf, p->wander_init, freq, freq_var);
}

static void delays_push(struct filt_source *f, double t, double delay)
{
    f->delays[f->delay_head] = delay;
    f->delay_times[f->delay_head] = t;
    f->delay_head = (f->delay_head + 1) % FILT_NDELAY;
    if (f->n_delays < FILT_NDELAY)
        f->n_delays++;
}

static bool delay_in_window(const struct filt_source *f, unsigned i, double now)
{
    return now - f->delay_times[i] <= f->params.window_age;
}

static double delays_min(const struct filt_source *f, double now)
{
    double m = INFINITY;
    for (unsigned i = 0; i < f->n_delays; i++)
        if (delay_in_window(f, i, now) && f->delays[i] < m)
            m = f->delays[i];
    return m;
}

/* Minimum of the last `n` delays (the RFC 5905 clock filter's choice). */
static double delays_recent_min(const struct filt_source *f, unsigned n)
{
    double m = INFINITY;
    for (unsigned i = 0; i < n && i < f->n_delays; i++) {
        unsigned idx = (f->delay_head + FILT_NDELAY - 1 - i) % FILT_NDELAY;
        if (f->delays[idx] < m)
            m = f->delays[idx];
    }
    return m;
}

static void swap_d(double *a, double *b)
{
    double t = *a;
    *a = *b;
    *b = t;
}

/* k-th smallest of v[0..n-1] (quickselect, middle pivot; reorders v). */
static double select_kth(double *v, unsigned n, unsigned kth)
{
    unsigned lo = 0, hi = n - 1;
    while (lo < hi) {
        swap_d(&v[lo + (hi - lo) / 2], &v[hi]);
        double pivot = v[hi];
        unsigned store = lo;
        for (unsigned i = lo; i < hi; i++)
            if (v[i] < pivot)
                swap_d(&v[i], &v[store++]);
        swap_d(&v[store], &v[hi]);
        if (kth == store)
            break;
        if (kth < store)
            hi = store - 1;
        else
            lo = store + 1;
    }
    return v[kth];
}

static double delays_median_excess(const struct filt_source *f, double now, double dmin)
{
    double tmp[FILT_NDELAY];
    unsigned n = 0;
    for (unsigned i = 0; i < f->n_delays; i++)
        if (delay_in_window(f, i, now))
            tmp[n++] = f->delays[i] - dmin;
    if (n == 0)
        return 0.0;
    return select_kth(tmp, n, n / 2);
}

static double meas_var(const struct filt_source *f, double excess, double median_excess,
                       double dispersion)
{
    double e = excess + f->params.excess_k * median_excess;
    return e * e / 12.0 + f->params.r0 + dispersion * dispersion / 12.0;
}

static bool sample_valid(const struct ntp_sample *s)
{
    return isfinite(s->local_time) && isfinite(s->offset) && isfinite(s->delay) &&
           isfinite(s->dispersion) && s->delay >= 0.0 && s->dispersion >= 0.0 &&
           isfinite(s->root_delay) && isfinite(s->root_dispersion);
}

enum filt_verdict filt_source_add(struct filt_source *f, const struct ntp_sample *raw,
                                  struct filt_meas *out)
{
    if (!sample_valid(raw))
        return FILT_INVALID;
    double t = raw->local_time;
    delays_push(f, t, raw->delay);
    f->n_samples++;
    double dmin = delays_min(f, t);
    double m = delays_median_excess(f, t, dmin);
    double r = meas_var(f, raw->delay - dmin, m, raw->dispersion);
    /* Until the minimum delay is known, a sample is only known to within +-delay/2. */
    if (f->n_samples < FILT_NRECENT && r < raw->delay * raw->delay / 12.0)
        r = raw->delay * raw->delay / 12.0 + f->params.r0;
    double gap = f->has_last ? t - f->last.local_time : 0.0;
    enum filt_verdict v = filt_kalman_update(&f->kf, &f->params, t, raw->offset, r);
    if (v != FILT_ACCEPTED && v != FILT_FORCED)
        return v;
    if (v == FILT_FORCED || f->kf.last_nis > FILT_NIS_DISTURBED || gap > 1100.0)
        f->disturbed = FILT_NRECENT;
    else if (f->disturbed > 0)
        f->disturbed--;
    f->last = *raw;
    f->has_last = true;
    if (out) {
        out->time = t;
        out->offset = raw->offset;
        out->var = r;
        out->delay = raw->delay;
        out->change = v == FILT_FORCED;
    }
    return v;
}

void filt_source_estimate(const struct filt_source *f, double now_raw, struct filt_estimate *e)
{
    *e = (struct filt_estimate){0};
    if (!f->has_last)
        return;
    double var, fvar;
    filt_kalman_predict(&f->kf, now_raw, &e->offset, &var, &e->freq, &fvar);
    e->valid = true;
    e->error = sqrt(var);
    e->freq_error = sqrt(fvar);
    e->jitter = sqrt(f->kf.jitter2);
    e->delay = delays_recent_min(f, FILT_NRECENT);
    e->min_delay = delays_min(f, now_raw);
    if (!isfinite(e->min_delay))
        e->min_delay = e->delay;
    e->age = now_raw - f->last.local_time;
    if (e->age < 0.0)
        e->age = 0.0;
    e->dispersion = f->last.dispersion + NTP_PHI * e->age;
    e->root_delay = f->last.root_delay;
    e->root_dispersion = f->last.root_dispersion;
    e->root_distance = fmax(FILT_MINDISP, e->root_delay + e->delay) / 2.0 + e->root_dispersion +
                       e->dispersion + e->jitter;
    e->stratum = f->last.stratum;
    e->leap = f->last.leap;
    e->refid = f->last.refid;
}

double filt_source_typical_var(const struct filt_source *f)
{
    if (f->n_delays == 0)
        return f->params.r0;
    double now = f->delay_times[(f->delay_head + FILT_NDELAY - 1) % FILT_NDELAY];
    double dmin = delays_min(f, now);
    double m = delays_median_excess(f, now, dmin);
    return meas_var(f, m, m, f->has_last ? f->last.dispersion : 0.0);
}

double filt_poll_error(double wander, double r, int poll)
{
    double dt = ldexp(1.0, poll);
    struct filt_kstate k = {.p00 = r, .p11 = r / (dt * dt)};
    /* Iterate the Riccati recursion to its steady state. */
    for (int i = 0; i < 2000; i++) {
        struct filt_kstate pr = kal_predict(&k, wander, dt);
        double before = k.p00;
        kal_correct(&k, &pr, 0.0, r);
        if (i > 8 && fabs(k.p00 - before) <= 1e-9 * k.p00)
            break;
    }
    /* Mean over t in [0, dt] of P00 + 2 t P01 + t^2 P11 + A t^3 / 3. */
    double e = k.p00 + dt * k.p01 + dt * dt * k.p11 / 3.0 + wander * dt * dt * dt / 12.0;
    return sqrt(e > 0.0 ? e : 0.0);
}

int filt_recommend_poll(const struct filt_source *f, double wander, int minpoll, int maxpoll)
{
    if (maxpoll < minpoll)
        maxpoll = minpoll;
    if (f->disturbed > 0 || !f->has_last)
        return minpoll;
    double r = filt_source_typical_var(f);
    double limit = FILT_POLL_FACTOR * filt_poll_error(wander, r, minpoll);
    /* Accuracy far below what the path's possible asymmetry hides is not worth more packets. */
    double dmin = delays_min(f, f->last.local_time);
    if (isfinite(dmin))
        limit = fmax(limit, FILT_POLL_ASYM_FRACTION * dmin);
    int best = minpoll;
    for (int p = minpoll + 1; p <= maxpoll; p++) {
        if (filt_poll_error(wander, r, p) > limit)
            break;
        best = p;
    }
    return best;
}

/* sim_clock: simulated oscillator and system clock; see sim_clock.h. */
#include "sim_clock.h"

#include <errno.h>
#include <math.h>

void sim_clock_init(struct sim_clock *c, uint64_t seed, int64_t base_sec, double freq_error,
                    double wander, double initial_offset)
{
    *c = (struct sim_clock){0};
    sim_rng_seed(&c->rng, seed, 1);
    c->base_sec = base_sec;
    c->osc_freq = freq_error;
    c->wander = wander;
    c->sys = initial_offset;
}

void sim_clock_set_profile(struct sim_clock *c, const struct sim_freq_profile *p)
{
    c->profile = *p;
}

static double profile_freq(const struct sim_freq_profile *p, double t)
{
    double f = p->step != 0.0 && t >= p->step_at ? p->step : 0.0;
    if (p->sine_amp != 0.0 && p->sine_period > 0.0)
        f += p->sine_amp * sin(2.0 * M_PI * t / p->sine_period);
    return f;
}

/* Integral of profile_freq over [t0, t1]. */
static double profile_phase(const struct sim_freq_profile *p, double t0, double t1)
{
    double x = 0.0;
    if (p->step != 0.0 && t1 > p->step_at)
        x += p->step * (t1 - fmax(t0, p->step_at));
    if (p->sine_amp != 0.0 && p->sine_period > 0.0) {
        double w = 2.0 * M_PI / p->sine_period;
        x += p->sine_amp / w * (cos(w * t0) - cos(w * t1));
    }
    return x;
}

/*
 * As Linux: an armed leap is made at the system clock's UTC midnight, an
 * inserted second by repeating the one before, a deleted one by skipping
 * 23:59:59.
 */
static void make_leap(struct sim_clock *c, double before)
{
    if (!c->leap_armed)
        return;
    int sign = c->leap_armed == 1 ? 1 : -1;
    double after = (double)c->base_sec + c->sys;
    double midnight = (floor((before + (sign < 0)) / 86400.0) + 1.0) * 86400.0;
    if (after < midnight - (sign < 0))
        return;
    c->sys -= sign;
    c->leaps += sign;
    c->leap_armed = 0;
    c->leap_wait = true;
    if (sign > 0)
        c->leap_second_end = midnight;
}

bool sim_clock_in_leap_second(const struct sim_clock *c)
{
    return (double)c->base_sec + c->sys < c->leap_second_end;
}

void sim_clock_advance(struct sim_clock *c, double t)
{
    double dt = t - c->t;
    if (!(dt > 0.0))
        return;
    /* W over dt and its integral are jointly Gaussian: var dt, dt^3/3, covariance dt^2/2. */
    double z1 = sim_rng_normal(&c->rng), z2 = sim_rng_normal(&c->rng);
    double sa = sqrt(c->wander);
    double dw = sqrt(dt) * z1;
    double iw = dt * sqrt(dt) * (0.5 * z1 + z2 / (2.0 * sqrt(3.0)));
    double draw = dt + c->osc_freq * dt + sa * iw + profile_phase(&c->profile, c->t, t);
    c->osc_freq += sa * dw;
    double before = (double)c->base_sec + c->sys;
    c->sys += (1.0 + c->freq_ppm * 1e-6) * draw;
    c->t = t;
    make_leap(c, before);
}

double sim_clock_now(const struct sim_clock *c)
{
    return (double)c->base_sec + c->sys;
}

struct unix_time sim_clock_read(const struct sim_clock *c)
{
    double whole = floor(c->sys);
    int64_t nsec = llround((c->sys - whole) * 1e9);
    struct unix_time u = {c->base_sec + (int64_t)whole, 0};
    if (nsec >= 1000000000) {
        u.sec++;
        nsec -= 1000000000;
    }
    u.nsec = (uint32_t)nsec;
    return u;
}

double sim_clock_error(const struct sim_clock *c)
{
    return c->sys - c->t + c->leaps;
}

double sim_clock_ideal_ppm(const struct sim_clock *c)
{
    double f = c->osc_freq + profile_freq(&c->profile, c->t);
    return -f / (1.0 + f) * 1e6;
}

static int drv_read(void *ctx, struct unix_time *now)
{
    *now = sim_clock_read(ctx);
    return 0;
}

static int drv_set_frequency(void *ctx, double ppm)
{
    struct sim_clock *c = ctx;
    if (!isfinite(ppm))
        return -EINVAL;
    c->freq_ppm = ppm;
    c->n_freq_sets++;
    if (fabs(ppm) > c->max_abs_freq_ppm)
        c->max_abs_freq_ppm = fabs(ppm);
    return 0;
}

static int drv_get_frequency(void *ctx, double *ppm)
{
    *ppm = ((struct sim_clock *)ctx)->freq_ppm;
    return 0;
}

static int drv_step(void *ctx, double offset)
{
    struct sim_clock *c = ctx;
    if (!isfinite(offset))
        return -EINVAL;
    c->sys += offset;
    c->n_steps++;
    c->stepped += offset;
    return 0;
}

static int drv_set_sync_status(void *ctx, bool synchronised, int leap, double est_error,
                               double max_error)
{
    (void)est_error;
    (void)max_error;
    struct sim_clock *c = ctx;
    c->synchronised = synchronised;
    if (leap != 1 && leap != 2)
        c->leap_wait = false;
    c->leap_armed = (leap == 1 || leap == 2) && !c->leap_wait ? leap : 0;
    return 0;
}

void sim_clock_driver(struct sim_clock *c, struct clock_driver *drv)
{
    *drv = (struct clock_driver){
        .ctx = c,
        .read = drv_read,
        .set_frequency = drv_set_frequency,
        .get_frequency = drv_get_frequency,
        .step = drv_step,
        .set_sync_status = drv_set_sync_status,
    };
}

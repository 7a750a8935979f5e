/* clock_linux: the real and the "none" system clock drivers; see clock_linux.h. */
#include "io/clock_linux.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/packet.h"

/* The kernel refuses esterror/maxerror above NTP_PHASE_LIMIT (16 s, in microseconds). */
#define KERNEL_MAX_ERROR_US 16000000.0

static int adjust(struct timex *tx)
{
    /* clock_adjtime returns the clock state (TIME_ERROR = unsynchronised is no failure) or -1. */
    if (clock_adjtime(CLOCK_REALTIME, tx) < 0)
        return -errno;
    return 0;
}

bool clock_real_in_leap_second(void)
{
    struct timex tx = {.modes = 0};
    return clock_adjtime(CLOCK_REALTIME, &tx) == TIME_OOP;
}

static int read_realtime(struct unix_time *now)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
        return -errno;
    now->sec = ts.tv_sec;
    now->nsec = (uint32_t)ts.tv_nsec;
    return 0;
}

struct unix_time clock_add_sec(struct unix_time t, double seconds)
{
    double whole = floor(seconds);
    int64_t nsec = (int64_t)t.nsec + llround((seconds - whole) * 1e9);
    t.sec += (int64_t)whole + nsec / 1000000000;
    t.nsec = (uint32_t)(nsec % 1000000000);
    return t;
}

static double unix_diff(struct unix_time a, struct unix_time b)
{
    return (double)(a.sec - b.sec) + ((double)a.nsec - (double)b.nsec) * 1e-9;
}

/* ---- real ---- */

double clock_real_ppm_of(const struct clock_real *c, const struct timex *tx)
{
    return (double)tx->freq / 65536.0 + (double)c->hz * (double)(tx->tick - c->nominal_tick);
}

/*
 * Keeps the nominal tick for ordinary frequencies; beyond them picks the
 * tick that leaves the smallest remainder for ADJ_FREQUENCY, but keeps the
 * current tick while the remainder fits, so a frequency wandering around
 * a tick boundary does not flap between ticks (chrony's sys_linux idea).
 */
int clock_real_fill_frequency(const struct clock_real *c, double ppm, struct timex *tx)
{
    if (!isfinite(ppm))
        return -EINVAL;
    long max_delta = c->nominal_tick / 10 - 1; /* the kernel allows tick within ±10 % */
    double limit = (double)c->hz * (double)max_delta + CLOCK_MAX_FREQ_PPM;
    ppm = fmax(-limit, fmin(limit, ppm));
    long delta = c->tick - c->nominal_tick;
    if (fabs(ppm) <= CLOCK_NOMINAL_TICK_PPM)
        delta = 0;
    else if (fabs(ppm - (double)(c->hz * delta)) > CLOCK_MAX_FREQ_PPM)
        delta = lround(ppm / (double)c->hz);
    if (delta > max_delta)
        delta = max_delta;
    if (delta < -max_delta)
        delta = -max_delta;
    double rest = ppm - (double)(c->hz * delta);
    rest = fmax(-CLOCK_MAX_FREQ_PPM, fmin(CLOCK_MAX_FREQ_PPM, rest));
    memset(tx, 0, sizeof *tx);
    tx->modes = ADJ_FREQUENCY | ADJ_TICK;
    tx->freq = (long)llround(rest * 65536.0);
    tx->tick = c->nominal_tick + delta;
    return 0;
}

int clock_real_fill_step(double offset, struct timex *tx)
{
    if (!isfinite(offset) || fabs(offset) > 1e9)
        return -EINVAL;
    struct unix_time t = clock_add_sec((struct unix_time){0, 0}, offset);
    memset(tx, 0, sizeof *tx);
    tx->modes = ADJ_SETOFFSET | ADJ_NANO;
    tx->time.tv_sec = (time_t)t.sec;
    tx->time.tv_usec = (long)t.nsec; /* nanoseconds under ADJ_NANO */
    return 0;
}

static long error_us(double seconds)
{
    if (!(seconds > 0))
        return 0;
    return (long)fmin(seconds * 1e6, KERNEL_MAX_ERROR_US);
}

/* No STA_PLL/STA_FLL/STA_PPS*: writing the status clears them, so the kernel loop stays off. */
void clock_real_fill_status(bool synchronised, int leap, double est_error, double max_error,
                            struct timex *tx)
{
    memset(tx, 0, sizeof *tx);
    tx->modes = ADJ_STATUS | ADJ_ESTERROR | ADJ_MAXERROR;
    tx->status = synchronised ? 0 : STA_UNSYNC;
    if (leap == NTP_LEAP_INSERT)
        tx->status |= STA_INS;
    else if (leap == NTP_LEAP_DELETE)
        tx->status |= STA_DEL;
    tx->esterror = error_us(est_error);
    tx->maxerror = error_us(max_error);
}

static int real_read(void *ctx, struct unix_time *now)
{
    (void)ctx;
    return read_realtime(now);
}

static int real_get_frequency(void *ctx, double *ppm)
{
    struct clock_real *c = ctx;
    struct timex tx = {0};
    int err = adjust(&tx);
    if (err)
        return err;
    c->tick = tx.tick;
    *ppm = clock_real_ppm_of(c, &tx);
    return 0;
}

static int real_set_frequency(void *ctx, double ppm)
{
    struct clock_real *c = ctx;
    struct timex tx;
    int err = clock_real_fill_frequency(c, ppm, &tx);
    if (!err)
        err = adjust(&tx);
    if (!err)
        c->tick = tx.tick;
    return err;
}

static int real_step(void *ctx, double offset)
{
    (void)ctx;
    struct timex tx;
    int err = clock_real_fill_step(offset, &tx);
    return err ? err : adjust(&tx);
}

static int real_set_sync_status(void *ctx, bool synchronised, int leap, double est_error,
                                double max_error)
{
    (void)ctx;
    struct timex tx;
    clock_real_fill_status(synchronised, leap, est_error, max_error, &tx);
    return adjust(&tx);
}

int clock_real_open(struct clock_real *c, struct clock_driver *drv)
{
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0)
        hz = 100;
    c->hz = hz;
    c->nominal_tick = (1000000 + hz / 2) / hz;
    struct timex tx = {0};
    int err = adjust(&tx);
    if (err)
        return err;
    c->tick = tx.tick;
    drv->ctx = c;
    drv->read = real_read;
    drv->set_frequency = real_set_frequency;
    drv->get_frequency = real_get_frequency;
    drv->step = real_step;
    drv->set_sync_status = real_set_sync_status;
    return 0;
}

/*
 * The kernel PLL only accepts ADJ_OFFSET while STA_PLL is on, so the pending
 * offset is zeroed with the PLL on, then the PLL is turned off; an adjtime()
 * slew is cancelled separately (ADJ_OFFSET_SINGLESHOT admits no other bits).
 */
int clock_real_take_control(struct clock_real *c)
{
    (void)c;
    struct timex tx = {0};
    tx.modes = ADJ_OFFSET | ADJ_STATUS;
    tx.status = STA_PLL | STA_UNSYNC;
    int err = adjust(&tx);
    if (err)
        return err;
    memset(&tx, 0, sizeof tx);
    tx.modes = ADJ_STATUS;
    tx.status = STA_UNSYNC;
    if ((err = adjust(&tx)))
        return err;
    memset(&tx, 0, sizeof tx);
    tx.modes = ADJ_OFFSET_SINGLESHOT;
    return adjust(&tx);
}

/* ---- none ---- */

static double none_correction_locked(const struct clock_none *c, struct unix_time raw)
{
    return c->offset + c->freq_ppm * 1e-6 * unix_diff(raw, c->since);
}

double clock_none_correction(struct clock_none *c, struct unix_time raw)
{
    pthread_mutex_lock(&c->lock);
    double corr = none_correction_locked(c, raw);
    pthread_mutex_unlock(&c->lock);
    return corr;
}

static int none_read(void *ctx, struct unix_time *now)
{
    struct clock_none *c = ctx;
    struct unix_time raw;
    int err = read_realtime(&raw);
    if (err)
        return err;
    *now = clock_add_sec(raw, clock_none_correction(c, raw));
    return 0;
}

static int none_get_frequency(void *ctx, double *ppm)
{
    struct clock_none *c = ctx;
    pthread_mutex_lock(&c->lock);
    *ppm = c->freq_ppm;
    pthread_mutex_unlock(&c->lock);
    return 0;
}

static int none_set_frequency(void *ctx, double ppm)
{
    struct clock_none *c = ctx;
    if (!isfinite(ppm))
        return -EINVAL;
    struct unix_time raw;
    int err = read_realtime(&raw);
    if (err)
        return err;
    pthread_mutex_lock(&c->lock);
    c->offset = none_correction_locked(c, raw);
    c->since = raw;
    c->freq_ppm = ppm;
    c->n_frequency_sets++;
    pthread_mutex_unlock(&c->lock);
    return 0;
}

static int none_step(void *ctx, double offset)
{
    struct clock_none *c = ctx;
    if (!isfinite(offset))
        return -EINVAL;
    pthread_mutex_lock(&c->lock);
    c->offset += offset;
    c->stepped += offset;
    c->n_steps++;
    pthread_mutex_unlock(&c->lock);
    return 0;
}

static int none_set_sync_status(void *ctx, bool synchronised, int leap, double est_error,
                                double max_error)
{
    struct clock_none *c = ctx;
    pthread_mutex_lock(&c->lock);
    c->synchronised = synchronised;
    c->leap = leap;
    c->est_error = est_error;
    c->max_error = max_error;
    pthread_mutex_unlock(&c->lock);
    return 0;
}

int clock_none_open(struct clock_none *c, struct clock_driver *drv)
{
    memset(c, 0, sizeof *c);
    int err = read_realtime(&c->since);
    if (err)
        return err;
    if ((err = pthread_mutex_init(&c->lock, NULL)))
        return -err;
    drv->ctx = c;
    drv->read = none_read;
    drv->set_frequency = none_set_frequency;
    drv->get_frequency = none_get_frequency;
    drv->step = none_step;
    drv->set_sync_status = none_set_sync_status;
    return 0;
}

void clock_none_close(struct clock_none *c)
{
    pthread_mutex_destroy(&c->lock);
}

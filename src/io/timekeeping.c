/*
 * timekeeping: horloged's own time — the clock driver (the real clock, or
 * the -x virtual one), the engine (core/sync) and what feeds it (upstream
 * NTP sources, reference clocks), the daemon's timers on the loop (the
 * one-second tick, the discipline's slew timer, the drift-file save), the
 * drift file, the leap-second list's verdict, and what the serving side is
 * told after every change (timekeeping_publish). See io/daemon.h.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "io/daemon.h"
#include "io/driftfile.h"
#include "io/log.h"

#define TICK_SECONDS 1.0
/* The drift file is rewritten this often (and at exit) once the frequency is known. */
#define DRIFT_SAVE_SECONDS 3600.0

double daemon_mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* What we tell clients comes from the reference; under -x, with the correction we track. */
void timekeeping_publish(struct horloged *d)
{
    d->state = *ref_resp_state(&d->sync.ref);
    d->state.precision = d->precision;
    memset(&d->correction, 0, sizeof d->correction);
    if (!d->clock_controlled) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct unix_time raw = {ts.tv_sec, (uint32_t)ts.tv_nsec};
        d->correction.offset = clock_none_correction(&d->virtual_clock, raw);
        d->correction.ppm = d->virtual_clock.freq_ppm;
        d->correction.since = raw;
    }
    /* A leap smear: clients get the smeared time and no leap to make (core/leapsmear). */
    d->state.leap = (uint8_t)leapsmear_served_leap(&d->sync.smear, d->state.leap);
    d->correction.smear = d->sync.smear;
    server_publish_state(d->srv, &d->state, &d->correction);
    events_check(&d->events, d, daemon_mono_now());
}

/* Local clock reading for the sources: the driver's, or a raw kernel timestamp converted to it. */
static ntp_ts local_time(void *ctx, const struct unix_time *raw)
{
    struct horloged *d = ctx;
    struct unix_time t;
    if (!raw) {
        d->drv.read(d->drv.ctx, &t);
        return ntp_from_unix(t);
    }
    if (d->clock_controlled)
        return ntp_from_unix(*raw);
    return ntp_add_sec(ntp_from_unix(*raw), clock_none_correction(&d->virtual_clock, *raw));
}

/* `minsources`, `maxdistance` and `makestep` may change on reload: the engine takes them now. */
static void apply_sync_params(struct horloged *d)
{
    struct sync_reload_params p = {
        .minsources = d->cfg.minsources,
        .maxdistance = d->cfg.maxdistance,
        .makestep = d->cfg.makestep_enabled,
        .step_threshold = d->cfg.makestep_threshold,
        .step_limit = d->cfg.makestep_limit,
    };
    sync_apply_params(&d->sync, &p);
}

/* `local` may change on reload: the reference takes the new figures now. */
static void apply_local_reference(struct horloged *d)
{
    struct ref_params *rp = &d->sync.ref.params;
    rp->local_enabled = d->cfg.local_enabled;
    rp->local_stratum = d->cfg.local_stratum;
    rp->local_distance = d->cfg.local_distance;
    ntp_ts now;
    sync_now(&d->sync, &now);
    if (d->sync.ref.mode == REF_LOCAL || d->sync.ref.mode == REF_UNSYNC) {
        struct ref fresh;
        ref_init(&fresh, rp, now);
        d->sync.ref.mode = fresh.mode;
        d->sync.ref.state = fresh.state;
    }
}

/* The leap-second list, when loaded and not expired, decides the leap indicator. */
static void apply_leapseclist(struct horloged *d)
{
    struct unix_time now;
    d->drv.read(d->drv.ctx, &now);
    ref_set_leap_override(&d->sync.ref, leaplist_verdict(&d->leaplist, now.sec));
}

static void save_drift(struct horloged *d)
{
    if (!d->cfg.driftfile[0] || d->sync.n_updates == 0)
        return;
    struct drift_value v;
    disc_get_frequency(&d->sync.disc, &v.freq_ppm, &v.skew_ppm);
    int err = 0;
    enum drift_status st = drift_write(d->cfg.driftfile, &v, &err);
    if (st != DRIFT_OK)
        log_warn("drift file %s: %s%s%s", d->cfg.driftfile, drift_status_name(st), err ? ": " : "",
                 err ? strerror(err) : "");
}

/* The discipline's timer is due in engine (system clock) seconds; the loop's timers are monotonic. */
static void arm_discipline_timer(struct horloged *d)
{
    if (d->sync.timer_armed)
        loop_timer_arm(&d->loop, d->discipline_timer, d->sync.timer_at - sync_now(&d->sync, NULL));
    else
        loop_timer_disarm(&d->loop, d->discipline_timer);
}

/* A source's sample may have moved the reference and armed the discipline's timer. */
static void after_sample(void *ctx)
{
    struct horloged *d = ctx;
    timekeeping_publish(d);
    arm_discipline_timer(d);
}

/* The two clocks drift apart (the system clock is slewed): early, it is re-armed for the rest. */
static void on_discipline_timer(void *ctx)
{
    struct horloged *d = ctx;
    if (d->sync.timer_armed && sync_now(&d->sync, NULL) >= d->sync.timer_at) {
        sync_timer(&d->sync);
        timekeeping_publish(d);
    }
    arm_discipline_timer(d);
}

static void on_tick(void *ctx)
{
    struct horloged *d = ctx;
    loop_timer_arm(&d->loop, d->tick_timer, TICK_SECONDS);
    apply_leapseclist(d);
    sync_tick(&d->sync);
    clockwatch_update(&d->clockwatch, &d->sync.clock, daemon_mono_now());
    timekeeping_publish(d);
    arm_discipline_timer(d);
    pages_record(d);
}

static void on_drift_save(void *ctx)
{
    struct horloged *d = ctx;
    loop_timer_arm(&d->loop, d->drift_timer, DRIFT_SAVE_SECONDS);
    save_drift(d);
}

int timekeeping_start_timers(struct horloged *d)
{
    d->tick_timer = loop_timer_new(&d->loop, on_tick, d);
    d->discipline_timer = loop_timer_new(&d->loop, on_discipline_timer, d);
    d->drift_timer = loop_timer_new(&d->loop, on_drift_save, d);
    if (d->tick_timer < 0 || d->discipline_timer < 0 || d->drift_timer < 0) {
        log_error("the event loop has no room for the daemon's timers");
        return -1;
    }
    loop_timer_arm(&d->loop, d->tick_timer, TICK_SECONDS);
    loop_timer_arm(&d->loop, d->drift_timer, DRIFT_SAVE_SECONDS);
    arm_discipline_timer(d);
    return 0;
}

/*
 * The real clock is steered only when there is something to steer it by and
 * -x was not given; otherwise a virtual clock tracks what we would do.
 */
static int open_clock(struct horloged *d)
{
    d->clock_controlled = !d->no_clock_control && d->cfg.n_sources + d->cfg.n_refclocks > 0;
    int err = d->clock_controlled ? clock_real_open(&d->real_clock, &d->drv)
                                  : clock_none_open(&d->virtual_clock, &d->drv);
    if (err) {
        log_error("cannot open the system clock: %s", strerror(-err));
        return -1;
    }
    /* Failing (EPERM without CAP_SYS_TIME) is counted, logged and shown like any clock failure. */
    if (d->clock_controlled)
        d->take_control_err = clock_real_take_control(&d->real_clock);
    return 0;
}

static void read_drift(const struct horloged *d, struct sync_params *p)
{
    struct drift_value v;
    int err = 0;
    enum drift_status st = drift_read(d->cfg.driftfile, &v, &err);
    if (st == DRIFT_OK) {
        p->drift_ppm = v.freq_ppm;
        p->drift_error_ppm = v.skew_ppm > 1.0 ? v.skew_ppm : 1.0;
        log_info("frequency %.3f ppm from %s", v.freq_ppm, d->cfg.driftfile);
    } else if (st != DRIFT_MISSING) {
        log_warn("drift file %s: %s%s%s; starting without it", d->cfg.driftfile, drift_status_name(st),
                 err ? ": " : "", err ? strerror(err) : "");
    }
}

static void sync_params_from_config(const struct horloged *d, struct sync_params *p)
{
    sync_default_params(p);
    p->sel.minsources = d->cfg.minsources;
    p->sel.maxdistance = d->cfg.maxdistance;
    p->disc.makestep = d->cfg.makestep_enabled;
    p->disc.step_threshold = d->cfg.makestep_threshold;
    p->disc.step_limit = d->cfg.makestep_limit;
    p->disc.corr_time_ratio = d->cfg.corrtimeratio;
    p->disc.max_slew_ppm = d->cfg.maxslewrate;
    p->leapsmear = d->cfg.leapsmear;
    p->ref.local_enabled = d->cfg.local_enabled;
    p->ref.local_stratum = d->cfg.local_stratum;
    p->ref.local_distance = d->cfg.local_distance;
    p->ref.maxdistance = d->cfg.maxdistance;
    p->ref.precision = d->precision;
    if (d->cfg.driftfile[0])
        read_drift(d, p);
}

int timekeeping_start(struct horloged *d)
{
    if (open_clock(d) < 0)
        return -1;
    struct sync_params sp;
    sync_params_from_config(d, &sp);
    struct unix_time now;
    d->drv.read(d->drv.ctx, &now);
    sync_init(&d->sync, &sp, &d->drv, ntp_from_unix(now));
    if (d->take_control_err)
        sync_clock_result(&d->sync, SYNC_CLOCK_TAKE_CONTROL, d->take_control_err);
    clockwatch_update(&d->clockwatch, &d->sync.clock, daemon_mono_now());
    upstream_init(&d->up, &d->cfg, &d->sync, &d->loop, local_time, d, d->precision);
    upstream_on_change(&d->up, after_sample, d);
    d->kinds[0] = (struct timesource_kind){&d->up, upstream_view, upstream_stats};
    d->kinds[1] = (struct timesource_kind){&d->refclocks, refclock_view, refclock_stats};
    if (refclock_set_start(&d->refclocks, &d->cfg, &d->loop, &d->sync, local_time, d, after_sample, d) < 0)
        return -1;
    d->sync_started = true;
    leaplist_init(&d->leaplist);
    leaplist_load(&d->leaplist, d->cfg.leapseclist);
    apply_leapseclist(d);
    return 0;
}

void timekeeping_reload(struct horloged *d)
{
    apply_sync_params(d);
    apply_local_reference(d);
    leaplist_load(&d->leaplist, d->cfg.leapseclist);
    apply_leapseclist(d);
    timekeeping_publish(d);
}

void timekeeping_stop(struct horloged *d)
{
    if (!d->sync_started)
        return;
    save_drift(d);
    refclock_set_stop(&d->refclocks);
    upstream_close(&d->up);
    if (!d->clock_controlled)
        clock_none_close(&d->virtual_clock);
}

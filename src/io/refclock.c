/* refclock: reference clocks behind the driver table; see refclock.h. */
#include "io/refclock.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/log.h"
#include "io/netutil.h"

static const struct refclock_driver *const drivers[] = {
    &refclock_sock_driver,
    &refclock_shm_driver,
    &refclock_pps_driver,
    &refclock_phc_driver,
};

static int os_open(const char *path, int flags)
{
    return open(path, flags);
}

static int os_ioctl(int fd, unsigned long request, void *arg)
{
    return ioctl(fd, request, arg);
}

const struct refclock_os refclock_os_linux = {
    .open = os_open,
    .close = close,
    .ioctl = os_ioctl,
    .clock_gettime = clock_gettime,
};

const struct refclock_driver *refclock_driver_find(const char *name)
{
    for (size_t i = 0; i < sizeof drivers / sizeof drivers[0]; i++)
        if (strcmp(drivers[i]->name, name) == 0)
            return drivers[i];
    return NULL;
}

const char *refclock_driver_names(void)
{
    static char names[64];
    size_t len = 0;
    for (size_t i = 0; i < sizeof drivers / sizeof drivers[0] && len < sizeof names; i++)
        len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "", drivers[i]->name);
    return names;
}

void refclock_describe(const struct refclock *rc, char *out, size_t cap)
{
    char id[8];
    netaddr_format_refid(rc->cfg.refid, 1, id, sizeof id);
    snprintf(out, cap, "%s (%s %s)", id, rc->cfg.driver, rc->cfg.param);
}

static double poll_seconds(const struct refclock *rc)
{
    return ldexp(1.0, rc->cfg.poll);
}

static double read_seconds(const struct refclock *rc)
{
    return fmin(REFCLOCK_READ_INTERVAL, poll_seconds(rc));
}

static void on_read_timer(void *ctx)
{
    struct refclock *rc = ctx;
    loop_timer_arm(rc->loop, rc->read_timer, read_seconds(rc));
    rc->drv->read(rc);
}

/* Every poll interval: the interval's sample, the reach register. */
static void on_poll_timer(void *ctx)
{
    struct refclock *rc = ctx;
    loop_timer_arm(rc->loop, rc->timer, poll_seconds(rc));
    if (refclock_feed_poll(&rc->feed) && rc->on_sample)
        rc->on_sample(rc->sample_ctx);
}

void refclock_add_reading(struct refclock *rc, const struct refclock_reading *r)
{
    /* Into the engine's clock: under -x it runs ahead of the system clock by the tracked correction. */
    struct refclock_reading local = *r;
    ntp_ts raw = ntp_from_unix(r->local);
    ntp_ts eng = rc->local_time(rc->time_ctx, &r->local);
    double correction = ntp_diff_sec(eng, raw);
    local.local = ntp_to_unix(eng, r->local.sec);
    local.offset -= correction;
    enum refclock_status st = refclock_feed_reading(&rc->feed, &local);
    if (st != REFCLOCK_OK)
        refclock_count_bad(rc, st);
}

void refclock_count_bad(struct refclock *rc, enum refclock_status why)
{
    if (refclock_status_is_quiet(why)) {
        rc->n_quiet++;
        rc->last_quiet = why;
        return;
    }
    if (rc->n_bad++ == 0)
        log_warn("refclock %s %s: bad reading (%s); counted, further ones silently", rc->cfg.driver,
                 rc->cfg.param, refclock_status_name(why));
    rc->last_bad = why;
}

int refclock_start(struct refclock *rc, const struct cfg_refclock *cfg, struct loop *loop, struct sync *sync,
                   timesource_time_fn local_time, void *time_ctx)
{
    return refclock_start_on(rc, &refclock_os_linux, cfg, loop, sync, local_time, time_ctx);
}

int refclock_start_on(struct refclock *rc, const struct refclock_os *os, const struct cfg_refclock *cfg,
                      struct loop *loop, struct sync *sync, timesource_time_fn local_time, void *time_ctx)
{
    *rc = (struct refclock){.os = os, .cfg = *cfg, .loop = loop, .sync = sync, .local_time = local_time,
                            .time_ctx = time_ctx, .fd = -1, .timer = -1, .read_timer = -1,
                            .sync_index = -1};
    rc->drv = refclock_driver_find(cfg->driver);
    if (!rc->drv) {
        log_error("refclock %s: no such driver", cfg->driver);
        return -1;
    }
    rc->sync_index = sync_add_source(sync, cfg->refid, cfg->prefer, cfg->poll, cfg->poll);
    rc->timer = loop_timer_new(loop, on_poll_timer, rc);
    if (rc->drv->read)
        rc->read_timer = loop_timer_new(loop, on_read_timer, rc);
    if (rc->sync_index < 0 || rc->timer < 0 || (rc->drv->read && rc->read_timer < 0)) {
        log_error("refclock %s %s: no room for another source", cfg->driver, cfg->param);
        refclock_stop(rc);
        return -1;
    }
    struct refclock_params params = {.refid = cfg->refid, .offset = cfg->offset, .delay = cfg->delay,
                                     .precision = (int8_t)cfg->precision, .epoch = sync->epoch};
    refclock_feed_init(&rc->feed, &params, sync, (unsigned)rc->sync_index);
    rc->feed.noselect = cfg->noselect;
    int err = rc->drv->init(rc);
    if (err) {
        log_error("refclock %s %s: %s", cfg->driver, cfg->param, strerror(-err));
        refclock_stop(rc);
        return -1;
    }
    rc->driver_started = true;
    loop_timer_arm(loop, rc->timer, poll_seconds(rc));
    if (rc->drv->read)
        loop_timer_arm(loop, rc->read_timer, read_seconds(rc));
    char name[TIMESOURCE_TEXT_MAX];
    refclock_describe(rc, name, sizeof name);
    log_info("reference clock %s added, poll 2^%d s", name, cfg->poll);
    return 0;
}

void refclock_stop(struct refclock *rc)
{
    if (rc->driver_started)
        rc->drv->fini(rc);
    rc->driver_started = false;
    if (rc->timer >= 0)
        loop_timer_free(rc->loop, rc->timer);
    if (rc->read_timer >= 0)
        loop_timer_free(rc->loop, rc->read_timer);
    if (rc->sync_index >= 0)
        sync_remove_source(rc->sync, (unsigned)rc->sync_index);
    rc->timer = -1;
    rc->read_timer = -1;
    rc->sync_index = -1;
}

/* `lock REFID`: each clock that names one gets that clock's feed to number its pulses. */
static int lock_clocks(struct refclock_set *set)
{
    for (unsigned i = 0; i < set->n; i++) {
        struct refclock *rc = &set->clocks[i];
        if (!rc->cfg.lock)
            continue;
        for (unsigned j = 0; j < set->n && !rc->feed.lock; j++)
            if (j != i && set->clocks[j].cfg.refid == rc->cfg.lock)
                rc->feed.lock = &set->clocks[j].feed;
        if (!rc->feed.lock) {
            char id[8];
            netaddr_format_refid(rc->cfg.lock, 1, id, sizeof id);
            log_error("refclock %s %s: lock %s: no other reference clock has that refid", rc->cfg.driver,
                      rc->cfg.param, id);
            return -1;
        }
    }
    return 0;
}

int refclock_set_start(struct refclock_set *set, const struct config *cfg, struct loop *loop, struct sync *sync,
                       timesource_time_fn local_time, void *time_ctx, void (*on_sample)(void *ctx), void *sample_ctx)
{
    set->n = 0;
    for (unsigned i = 0; i < cfg->n_refclocks; i++) {
        struct refclock *rc = &set->clocks[set->n];
        if (refclock_start(rc, &cfg->refclocks[i], loop, sync, local_time, time_ctx) < 0)
            return -1;
        rc->on_sample = on_sample;
        rc->sample_ctx = sample_ctx;
        set->n++;
    }
    return lock_clocks(set);
}

void refclock_set_stop(struct refclock_set *set)
{
    for (unsigned i = 0; i < set->n; i++)
        refclock_stop(&set->clocks[i]);
    set->n = 0;
}

static const struct refclock *clock_of(const struct refclock_set *set, unsigned sync_index)
{
    for (unsigned i = 0; i < set->n; i++)
        if (set->clocks[i].sync_index == (int)sync_index)
            return &set->clocks[i];
    return NULL;
}

bool refclock_view(const void *set, unsigned sync_index, struct timesource_view *out)
{
    const struct refclock *rc = clock_of(set, sync_index);
    if (!rc)
        return false;
    out->kind = "refclock";
    refclock_describe(rc, out->name, sizeof out->name);
    snprintf(out->address, sizeof out->address, "%s", rc->cfg.param);
    snprintf(out->label, sizeof out->label, "%s", out->name);
    out->poll = rc->cfg.poll;
    out->reach = rc->feed.reach;
    out->state = rc->cfg.noselect ? "noselect" : NULL;
    return true;
}

void refclock_stats(const void *set, unsigned sync_index, struct kv_out *out)
{
    const struct refclock *rc = clock_of(set, sync_index);
    if (!rc)
        return;
    kv_add(out, "readings", "%llu", (unsigned long long)rc->feed.n_readings);
    kv_add(out, "bad_readings", "%llu", (unsigned long long)rc->n_bad);
    kv_add(out, "pulse_readings", "%llu", (unsigned long long)rc->feed.n_pulses);
    kv_add(out, "pulses_unnumbered", "%llu", (unsigned long long)rc->feed.n_unnumbered);
    if (rc->n_bad)
        kv_add(out, "last_bad_reading", "%s", refclock_status_name(rc->last_bad));
    kv_add(out, "no_reading", "%llu", (unsigned long long)rc->n_quiet);
    if (rc->n_quiet)
        kv_add(out, "last_no_reading", "%s", refclock_status_name(rc->last_quiet));
}

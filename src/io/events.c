/* events: significant events to the log, rate limited; see events.h. */
#include "io/events.h"

#include <math.h>
#include <stdio.h>

#include "io/daemon.h"
#include "io/log.h"
#include "io/netutil.h"

bool events_budget_take(struct events_budget *b, double now_mono)
{
    if (b->last == 0.0) {
        b->tokens = EVENTS_BURST;
        b->last = now_mono;
    }
    b->tokens = fmin(EVENTS_BURST, b->tokens + (now_mono - b->last) / EVENTS_REFILL_SECONDS);
    b->last = now_mono;
    if (b->tokens < 1.0) {
        b->suppressed++;
        return false;
    }
    b->tokens -= 1.0;
    return true;
}

/* One source event, with the count of those the budget left out before it. */
static void source_line(struct events *e, double now, const char *label, const char *what)
{
    if (!events_budget_take(&e->sources, now))
        return;
    if (e->sources.suppressed)
        log_info("source %s: %s (%u source events not logged before this one)", label, what, e->sources.suppressed);
    else
        log_info("source %s: %s", label, what);
    e->sources.suppressed = 0;
}

static const char *verdict_event(enum sel_verdict v)
{
    switch (v) {
    case SEL_SELECTED: return "selected";
    case SEL_FALSETICKER: return "falseticker (its interval disagrees with the majority), not used";
    default: return NULL;
    }
}

static void check_sources(struct events *e, struct horloged *d, double now)
{
    for (unsigned i = 0; i < d->sync.n_src && i < SYNC_MAX_SOURCES; i++) {
        const struct sync_source *s = &d->sync.src[i];
        struct timesource_view v;
        if (s->removed || !reports_source_view(d, i, &v)) {
            /* A slot given to a new source later starts from nothing, not from the old one's state. */
            e->verdict[i] = SEL_UNREACHABLE;
            e->reachable[i] = false;
            continue;
        }
        bool lost = e->reachable[i] && !s->reachable;
        if (lost)
            source_line(e, now, v.label, "lost (no reply to the last 8 requests)");
        else if (s->verdict != e->verdict[i] && verdict_event(s->verdict))
            source_line(e, now, v.label, verdict_event(s->verdict));
        e->verdict[i] = s->verdict;
        e->reachable[i] = s->reachable;
    }
}

static void check_reference(struct events *e, struct horloged *d)
{
    struct ref_tracking t;
    sync_get_tracking(&d->sync, &t);
    if (t.mode != e->mode) {
        char refid[32];
        netaddr_format_refid(t.refid, t.stratum, refid, sizeof refid);
        log_info("reference: %s -> %s (stratum %u, refid %s)", ref_mode_name(e->mode), ref_mode_name(t.mode),
                 t.stratum, refid);
        e->mode = t.mode;
    }
    static const char *const leaps[] = {"none", "a second inserted at the end of the UTC day",
                                        "a second deleted at the end of the UTC day", "unknown (not synchronised)"};
    if (t.leap != e->leap && (t.leap == 1 || t.leap == 2 || e->leap == 1 || e->leap == 2))
        log_info("leap second: %s (was: %s)", leaps[t.leap & 3], leaps[e->leap & 3]);
    e->leap = t.leap;
    if (d->sync.disc.n_steps != e->steps) {
        log_warn("clock stepped by %+.6f s (%u step%s since start)%s", d->sync.disc.total_stepped - e->stepped,
                 d->sync.disc.n_steps, d->sync.disc.n_steps == 1 ? "" : "s",
                 d->clock_controlled ? "" : ", the virtual clock (-x)");
        e->steps = d->sync.disc.n_steps;
        e->stepped = d->sync.disc.total_stepped;
    }
}

static void check_kod_sent(struct events *e, struct horloged *d, double now)
{
    if (now < e->kod_next || !d->srv)
        return;
    struct server_counters c;
    server_get_counters(d->srv, &c);
    uint64_t rate = c.serve.kod_rate - e->kod_rate_seen, deny = c.serve.kod_deny - e->kod_deny_seen;
    if (rate + deny == 0)
        return;
    log_info("Kiss-o'-Death sent to clients: %llu RATE, %llu DENY (%llu rate-limited and %llu denied requests "
             "in all since start); the next such line in %.0f s at the earliest",
             (unsigned long long)rate, (unsigned long long)deny, (unsigned long long)c.serve.rate_limited,
             (unsigned long long)c.serve.denied, EVENTS_KOD_SECONDS);
    e->kod_rate_seen = c.serve.kod_rate;
    e->kod_deny_seen = c.serve.kod_deny;
    e->kod_next = now + EVENTS_KOD_SECONDS;
}

void events_check(struct events *e, struct horloged *d, double now_mono)
{
    if (!e->started) {
        /* The state at start is the baseline: only changes are events. */
        e->started = true;
        e->mode = d->sync.ref.mode;
        e->leap = NTP_LEAP_UNSYNC;
    }
    check_sources(e, d, now_mono);
    check_reference(e, d);
    check_kod_sent(e, d, now_mono);
}

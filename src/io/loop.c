/* loop: descriptors and timers that modules register, one poll() per round; see loop.h. */
#include "io/loop.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>

static double monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void loop_init(struct loop *l, loop_clock_fn clock)
{
    memset(l, 0, sizeof *l);
    l->clock = clock ? clock : monotonic_seconds;
    for (unsigned i = 0; i < LOOP_MAX_WATCHES; i++)
        l->watch[i].fd = -1;
}

double loop_now(const struct loop *l)
{
    return l->clock();
}

static struct loop_watch *find_watch(struct loop *l, int fd)
{
    for (unsigned i = 0; i < l->n_slots; i++)
        if (l->watch[i].fd == fd)
            return &l->watch[i];
    return NULL;
}

int loop_watch_fd(struct loop *l, int fd, short events, loop_io_fn fn, void *ctx)
{
    if (fd < 0 || !fn || find_watch(l, fd))
        return -1;
    unsigned slot = 0;
    while (slot < l->n_slots && l->watch[slot].fd >= 0)
        slot++;
    if (slot == LOOP_MAX_WATCHES)
        return -1;
    if (slot == l->n_slots)
        l->n_slots++;
    struct loop_watch *w = &l->watch[slot];
    w->fd = fd;
    w->events = events;
    w->fn = fn;
    w->ctx = ctx;
    return 0;
}

void loop_set_events(struct loop *l, int fd, short events)
{
    struct loop_watch *w = find_watch(l, fd);
    if (w)
        w->events = events;
}

void loop_unwatch_fd(struct loop *l, int fd)
{
    struct loop_watch *w = find_watch(l, fd);
    if (!w)
        return;
    w->fd = -1;
    w->fn = NULL;
    w->ctx = NULL;
    w->generation++;
    while (l->n_slots > 0 && l->watch[l->n_slots - 1].fd < 0)
        l->n_slots--;
}

static struct loop_timer *timer_of(struct loop *l, int id)
{
    if (id < 0 || id >= LOOP_MAX_TIMERS || !l->timers[id].used)
        return NULL;
    return &l->timers[id];
}

int loop_timer_new(struct loop *l, loop_timer_fn fn, void *ctx)
{
    if (!fn)
        return -1;
    for (int id = 0; id < LOOP_MAX_TIMERS; id++) {
        if (!l->timers[id].used) {
            l->timers[id] = (struct loop_timer){.used = true, .fn = fn, .ctx = ctx};
            return id;
        }
    }
    return -1;
}

void loop_timer_arm_at(struct loop *l, int id, double due)
{
    struct loop_timer *t = timer_of(l, id);
    if (!t)
        return;
    t->armed = true;
    t->due = due;
}

void loop_timer_arm(struct loop *l, int id, double seconds)
{
    loop_timer_arm_at(l, id, loop_now(l) + (seconds > 0 ? seconds : 0));
}

void loop_timer_disarm(struct loop *l, int id)
{
    struct loop_timer *t = timer_of(l, id);
    if (t)
        t->armed = false;
}

bool loop_timer_armed(const struct loop *l, int id)
{
    return id >= 0 && id < LOOP_MAX_TIMERS && l->timers[id].used && l->timers[id].armed;
}

double loop_timer_due(const struct loop *l, int id)
{
    return loop_timer_armed(l, id) ? l->timers[id].due : INFINITY;
}

void loop_timer_free(struct loop *l, int id)
{
    struct loop_timer *t = timer_of(l, id);
    if (t)
        *t = (struct loop_timer){0};
}

/* The earliest armed timer's due time, or INFINITY. */
static double next_due(const struct loop *l)
{
    double due = INFINITY;
    for (int id = 0; id < LOOP_MAX_TIMERS; id++)
        if (l->timers[id].armed && l->timers[id].due < due)
            due = l->timers[id].due;
    return due;
}

static int poll_timeout_ms(const struct loop *l, int max_wait_ms)
{
    double due = next_due(l);
    if (isinf(due))
        return max_wait_ms;
    double wait = due - loop_now(l);
    /* Rounded up: waking a little late is harmless, waking early only spins. */
    int ms = wait <= 0 ? 0 : wait > 86400.0 ? 86400000 : (int)ceil(wait * 1000.0);
    return max_wait_ms >= 0 && max_wait_ms < ms ? max_wait_ms : ms;
}

static unsigned build_pollset(struct loop *l)
{
    unsigned n = 0;
    for (unsigned i = 0; i < l->n_slots; i++) {
        const struct loop_watch *w = &l->watch[i];
        if (w->fd < 0)
            continue;
        l->pfd[n] = (struct pollfd){.fd = w->fd, .events = w->events};
        l->pfd_slot[n] = i;
        l->pfd_generation[n] = w->generation;
        n++;
    }
    return n;
}

static void dispatch_ready(struct loop *l, unsigned n)
{
    for (unsigned k = 0; k < n; k++) {
        short revents = l->pfd[k].revents;
        if (!revents)
            continue;
        struct loop_watch *w = &l->watch[l->pfd_slot[k]];
        /* Removed (and maybe reused) by an earlier callback of this round: not ours any more. */
        if (w->generation != l->pfd_generation[k] || w->fd != l->pfd[k].fd)
            continue;
        w->fn(w->ctx, w->fd, revents);
    }
}

/* Runs each timer that is due, once: one that re-arms itself for now runs again next round. */
static void run_due_timers(struct loop *l)
{
    double now = loop_now(l);
    for (int id = 0; id < LOOP_MAX_TIMERS; id++) {
        struct loop_timer *t = &l->timers[id];
        if (!t->armed || t->due > now)
            continue;
        t->armed = false;
        t->fn(t->ctx);
    }
}

int loop_run_once(struct loop *l, int max_wait_ms)
{
    unsigned n = build_pollset(l);
    int r = poll(l->pfd, n, poll_timeout_ms(l, max_wait_ms));
    l->n_rounds++;
    if (r < 0) {
        if (errno != EINTR)
            return -1;
        r = 0;
    }
    if (r > 0)
        dispatch_ready(l, n);
    run_due_timers(l);
    return 0;
}

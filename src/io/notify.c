/* notify: readiness, reload, stop and watchdog messages to systemd; see notify.h. */
#include "io/notify.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "io/log.h"

#ifdef HORLOGE_SYSTEMD
#include <systemd/sd-daemon.h>

static int send_state(const char *state)
{
    return sd_notify(0, state);
}

/* Seconds between pings the manager asked for, 0 when it asked for none. */
static double watchdog_seconds(void)
{
    uint64_t usec = 0;
    return sd_watchdog_enabled(0, &usec) > 0 ? usec * 1e-6 : 0.0;
}
#else
static int send_state(const char *state)
{
    (void)state;
    return 0;
}

static double watchdog_seconds(void)
{
    return 0.0;
}
#endif

static void tell_manager(struct notify *n, const char *state)
{
    int rc = send_state(state);
    /* sd_notify returns 0 when nobody listens, > 0 when sent, -errno on failure. */
    if (rc < 0 && !n->failed) {
        n->failed = true;
        log_warn("cannot notify the service manager (%.*s): %s", (int)strcspn(state, "\n"), state,
                 strerror(-rc));
    }
}

static void on_watchdog(void *ctx)
{
    struct notify *n = ctx;
    tell_manager(n, "WATCHDOG=1");
    loop_timer_arm(n->loop, n->watchdog_timer, n->watchdog_interval);
}

int notify_start(struct notify *n, struct loop *l)
{
    *n = (struct notify){.watchdog_timer = -1, .loop = l};
    double period = watchdog_seconds();
    if (period <= 0)
        return 0;
    /* Half the period, as sd_watchdog_enabled(3) advises: one late round must not kill us. */
    n->watchdog_interval = period / 2;
    n->watchdog_timer = loop_timer_new(l, on_watchdog, n);
    if (n->watchdog_timer < 0) {
        log_error("watchdog: no free loop timer");
        return -1;
    }
    loop_timer_arm(l, n->watchdog_timer, 0);
    log_info("watchdog: pinging the service manager every %.1f s", n->watchdog_interval);
    return 0;
}

void notify_ready(struct notify *n, const char *status)
{
    char msg[256];
    snprintf(msg, sizeof msg, "READY=1\nSTATUS=%s", status);
    tell_manager(n, msg);
}

void notify_reloading(struct notify *n)
{
    /* MONOTONIC_USEC lets a manager that knows Type=notify-reload match this to its request. */
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    char msg[80];
    snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
             (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u);
    tell_manager(n, msg);
}

void notify_stopping(struct notify *n)
{
    tell_manager(n, "STOPPING=1");
}

void notify_stop(struct notify *n)
{
    if (n->loop)
        loop_timer_free(n->loop, n->watchdog_timer);
    n->watchdog_timer = -1;
}

/*
 * notify: tells a supervising service manager how horloged is doing, through
 * libsystemd's sd_notify() (the unit is Type=notify): READY=1 once serving,
 * RELOADING=1 ... READY=1 around a SIGHUP reload, STOPPING=1 at the stop, and
 * WATCHDOG=1 from a loop timer at half the unit's WatchdogSec, so a loop that
 * stalls gets the daemon restarted.
 *
 * Owns: the watchdog timer and whether the manager is listening. Without
 * NOTIFY_SOCKET in the environment (started by hand, by a test, under a
 * simulator) every call is a no-op; built without libsystemd (no pkg-config
 * entry for it), likewise.
 */
#ifndef HORLOGE_NOTIFY_H
#define HORLOGE_NOTIFY_H

#include <stdbool.h>

#include "io/loop.h"

struct notify {
    bool failed;        /* a send failed: logged once, not again */
    int watchdog_timer; /* -1: no watchdog asked for */
    double watchdog_interval;
    struct loop *loop;
};

/* Arms the watchdog timer when the manager asked for one (WATCHDOG_USEC for this pid). 0 or -1. */
int notify_start(struct notify *n, struct loop *l);
/* READY=1 with a STATUS= line (e.g. "serving NTP on port 123, local reference"). */
void notify_ready(struct notify *n, const char *status);
void notify_reloading(struct notify *n);
void notify_stopping(struct notify *n);
void notify_stop(struct notify *n);

#endif

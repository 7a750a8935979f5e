/*
 * clockwatch: what the log says about steering the system clock.
 *
 * Owns what the log last said, so that a clock the daemon cannot steer
 * (core/sync's `clock` health: a driver call failed, e.g. EPERM without
 * CAP_SYS_TIME) is logged once with the operation and the error, then at most
 * one summary an hour while it keeps failing, and once when steering works
 * again — never once per failed call.
 */
#ifndef HORLOGE_CLOCKWATCH_H
#define HORLOGE_CLOCKWATCH_H

#include <stdbool.h>

#include "core/sync.h"

/* Shortest interval between two summaries of a clock that keeps failing. */
#define CLOCKWATCH_SUMMARY_SECONDS 3600.0

enum clockwatch_event {
    CLOCKWATCH_QUIET,
    CLOCKWATCH_FAILED,          /* steering stopped working (or a call failed since the last check) */
    CLOCKWATCH_STILL_FAILING,   /* the hourly summary: more failures since the last message */
    CLOCKWATCH_RECOVERED,       /* steering works again */
};

struct clockwatch {
    bool failing;               /* what the log last said */
    unsigned long n_seen;       /* failures accounted for by the last check */
    unsigned long n_at_message; /* failures accounted for by the last failure message */
    double next_summary;        /* monotonic seconds */
};

/* Decides what to say, given the health now (monotonic `now`); updates `w`. */
enum clockwatch_event clockwatch_check(struct clockwatch *w, const struct sync_clock_health *h,
                                       double now, unsigned long *n_new);
/* clockwatch_check, then logs what it decided; call it every tick. */
void clockwatch_update(struct clockwatch *w, const struct sync_clock_health *h, double now);

#endif

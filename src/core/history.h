/*
 * history: what the status page plots — the clock's offset, frequency and
 * root dispersion over the last HISTORY_POINTS intervals (24 h at the
 * default one point a minute).
 *
 * Owns: a fixed ring of points, caller-owned, overwritten oldest first, so
 * its memory never grows however long the daemon runs. Pure: the caller
 * gives the times and values.
 */
#ifndef HORLOGE_HISTORY_H
#define HORLOGE_HISTORY_H

#include <stdbool.h>

#define HISTORY_POINTS 1440
#define HISTORY_DEFAULT_INTERVAL 60.0

struct history_point {
    double t;                 /* seconds, on the caller's timescale (Unix time for the daemon) */
    double offset;            /* s */
    double freq_ppm;
    double root_dispersion;   /* s */
};

struct history {
    double interval;          /* seconds between points */
    double next_at;           /* a point is taken at or after this time */
    unsigned head;            /* next slot written */
    unsigned n;               /* points held, <= HISTORY_POINTS */
    struct history_point p[HISTORY_POINTS];
};

/* interval <= 0: HISTORY_DEFAULT_INTERVAL. */
void history_init(struct history *h, double interval);
/* Keeps `pt` when an interval has passed since the last point kept; returns whether it did. */
bool history_offer(struct history *h, const struct history_point *pt);
/* Point i, 0 the oldest held; i < h->n. */
const struct history_point *history_at(const struct history *h, unsigned i);

#endif

/*
 * clockif: the interface to a system clock that the discipline steers.
 *
 * Three back ends implement it: the real Linux clock (src/io, clock_adjtime),
 * "none" (-x: reads the clock, never changes it) and the simulated clock of
 * the test harness (tests/sim). The core never calls it itself: the
 * discipline returns commands and the shell applies them through this table.
 */
#ifndef HORLOGE_CLOCKIF_H
#define HORLOGE_CLOCKIF_H

#include <stdbool.h>

#include "core/ntptime.h"

struct clock_driver {
    void *ctx;
    /* Current time of the clock (CLOCK_REALTIME for the real one). */
    int (*read)(void *ctx, struct unix_time *now);
    /* Frequency correction in ppm (positive = run faster), replacing the previous one. */
    int (*set_frequency)(void *ctx, double ppm);
    /* Current frequency correction in ppm. */
    int (*get_frequency)(void *ctx, double *ppm);
    /* Step the clock by `offset` seconds (positive = forward). */
    int (*step)(void *ctx, double offset);
    /* Tell the kernel (and through it other programs) our sync state and leap warning. */
    int (*set_sync_status)(void *ctx, bool synchronised, int leap, double est_error, double max_error);
};

#endif

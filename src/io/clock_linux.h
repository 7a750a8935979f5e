/*
 * clock_linux: the two system clock drivers behind core/clockif.h.
 *
 * Owns:
 *  - "real": CLOCK_REALTIME steered through libc's clock_adjtime() (never a
 *    raw syscall, so an LD_PRELOAD clock simulator sees every call).
 *    Frequency with ADJ_FREQUENCY, split with ADJ_TICK beyond the kernel's
 *    ±500 ppm as chrony's sys_linux does; steps with ADJ_SETOFFSET|ADJ_NANO;
 *    the kernel PLL stays off (STA_PLL clear); STA_UNSYNC, STA_INS/STA_DEL,
 *    esterror and maxerror tell other programs how good the clock is.
 *  - "none" (horloged -x): reads CLOCK_REALTIME and never calls anything that
 *    changes the clock. Like chronyd -x it keeps the corrections it would
 *    have made as a virtual clock: read() returns CLOCK_REALTIME plus the
 *    virtual correction (steps plus the integral of the frequency set), so
 *    the discipline's loop closes and the daemon serves the time it would
 *    have set. Raw kernel packet timestamps convert with clock_none_correction().
 * The core never calls these: the shell applies the discipline's commands.
 */
#ifndef HORLOGE_CLOCK_LINUX_H
#define HORLOGE_CLOCK_LINUX_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/timex.h>

#include "core/clockif.h"

/* The kernel's ADJ_FREQUENCY range; beyond it the tick length takes the bulk. */
#define CLOCK_MAX_FREQ_PPM 500.0
/* Below this a frequency goes back to the nominal tick (hysteresis against tick flapping). */
#define CLOCK_NOMINAL_TICK_PPM 450.0

struct clock_real {
    long hz;            /* USER_HZ: ppm per tick unit */
    long nominal_tick;  /* microseconds per tick at 0 ppm */
    long tick;          /* last tick read or written */
};

/* The kernel is inside an inserted leap second (TIME_OOP), repeating the second before the leap. */
bool clock_real_in_leap_second(void);
/* Reads the kernel state (modes 0, changes nothing) and fills `drv`; -errno if unavailable. */
int clock_real_open(struct clock_real *c, struct clock_driver *drv);

/*
 * Takes the clock from whatever steered it before (once, at daemon start,
 * never in tests): cancels a pending kernel PLL offset and an adjtime()
 * slew, turns the kernel PLL off and marks the clock unsynchronised.
 */
int clock_real_take_control(struct clock_real *c);

/* The conversions the real driver makes, exposed so tests check them without a syscall. */
int clock_real_fill_frequency(const struct clock_real *c, double ppm, struct timex *tx);
double clock_real_ppm_of(const struct clock_real *c, const struct timex *tx);
int clock_real_fill_step(double offset, struct timex *tx);
void clock_real_fill_status(bool synchronised, int leap, double est_error, double max_error,
                            struct timex *tx);

/* What the "none" driver would have done; guarded by `lock` (server threads may read). */
struct clock_none {
    pthread_mutex_t lock;
    double freq_ppm;            /* the frequency correction in effect */
    double offset;              /* virtual correction at `since` (s) */
    struct unix_time since;     /* raw CLOCK_REALTIME of the last change */
    bool synchronised;
    int leap;
    double est_error, max_error;
    unsigned long n_steps, n_frequency_sets;
    double stepped;             /* sum of all steps (s) */
};

int clock_none_open(struct clock_none *c, struct clock_driver *drv);
void clock_none_close(struct clock_none *c);
/* Virtual correction (s) to add to a raw CLOCK_REALTIME reading taken at `raw`. */
double clock_none_correction(struct clock_none *c, struct unix_time raw);

/* t + seconds, normalised (nsec in [0, 1e9)). */
struct unix_time clock_add_sec(struct unix_time t, double seconds);

#endif

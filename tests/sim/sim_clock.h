/*
 * sim_clock: a simulated local clock that knows the true time exactly.
 *
 * An oscillator with a frequency error that does a random walk (wander A:
 * the frequency's variance grows by A per second; 1 ppb/sqrt(s) is A = 1e-18)
 * drives the raw clock; the system clock runs at (1 + commanded frequency)
 * times the raw rate and can be stepped, as Linux's does. Advancing samples
 * the frequency walk and its integral jointly and exactly, so the result
 * does not depend on how often the clock is advanced. Implements
 * struct clock_driver for the core's commands.
 */
#ifndef HORLOGE_SIM_CLOCK_H
#define HORLOGE_SIM_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "core/clockif.h"
#include "sim_rng.h"

/*
 * A deterministic frequency change on top of the random walk: a step of
 * `step` (s/s) at true time `step_at` (a fan stopping, a VM migrating), and a
 * sinusoid of amplitude `sine_amp` and period `sine_period` (daily
 * temperature). Zero: none.
 */
struct sim_freq_profile {
    double step_at;
    double step;
    double sine_amp;
    double sine_period;
};

struct sim_clock {
    struct sim_rng rng;
    double t;               /* true time since the start, s */
    double sys;             /* system clock - base, s */
    double osc_freq;        /* oscillator frequency error, s/s (positive: raw runs fast) */
    double wander;          /* A */
    double freq_ppm;        /* commanded frequency correction */
    int64_t base_sec;       /* Unix seconds added to every reading */
    unsigned n_steps;
    double stepped;         /* sum of steps */
    unsigned n_freq_sets;
    double max_abs_freq_ppm;
    bool synchronised;
    struct sim_freq_profile profile;
    /* The kernel's leap second: armed by set_sync_status, made at the system clock's midnight. */
    int leap_armed;         /* NTP_LEAP_INSERT / _DELETE, or 0 */
    int leaps;              /* seconds inserted (+) or deleted (-) so far */
    bool leap_wait;         /* a leap was made: not armed again until the status says none
                               (Linux's TIME_WAIT) */
    double leap_second_end; /* Unix time: the inserted second is being repeated until then */
};

void sim_clock_init(struct sim_clock *c, uint64_t seed, int64_t base_sec, double freq_error,
                    double wander, double initial_offset);
void sim_clock_set_profile(struct sim_clock *c, const struct sim_freq_profile *p);
/* Moves to true time t (never backwards). */
void sim_clock_advance(struct sim_clock *c, double t);
/* System clock now as seconds (base included), the shell's double timescale. */
double sim_clock_now(const struct sim_clock *c);
/* System clock now as struct unix_time (nanosecond resolution). */
struct unix_time sim_clock_read(const struct sim_clock *c);
/* The kernel is repeating the second before an inserted leap (Linux's TIME_OOP). */
bool sim_clock_in_leap_second(const struct sim_clock *c);
/* System - true UTC (true time less the leaps made), s. */
double sim_clock_error(const struct sim_clock *c);
/* The frequency correction (ppm) that would make the system clock run true now. */
double sim_clock_ideal_ppm(const struct sim_clock *c);
void sim_clock_driver(struct sim_clock *c, struct clock_driver *drv);

#endif

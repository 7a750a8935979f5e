/*
 * discipline: from measurements of the selected sources to clock commands.
 *
 * Owns (docs/discipline.md):
 *  - the frames: every frequency change and step it commands is recorded, so
 *    the correction c(t) = system - raw is known exactly at any recent time;
 *    samples are moved into the raw (uncorrected) frame before filtering
 *    (disc_sample_to_raw), which keeps the estimators open-loop;
 *  - the system filter: one filt_kalman fed with the accepted measurements of
 *    all combined sources;
 *  - feed-forward steering: the base frequency is the estimated frequency of
 *    the raw clock, and at every update the whole estimated offset is slewed
 *    out as a temporary frequency offset, spread over a time tied to the
 *    update interval and the estimate's error (corr_time_ratio) and at most
 *    max_slew_ppm, ended by a timer; a step only under `makestep THRESHOLD
 *    LIMIT` rules;
 *  - holdover: without samples the last frequency stays and nothing moves;
 *  - the frequency to save in the drift file, and the poll policy.
 * Pure: `now` is the system clock reading, in the same timescale (seconds) as
 * the samples' local_time; the shell applies the commands at once, and tells
 * disc_cmd_failed() when the clock refused one, so the frames never record a
 * correction the clock did not make.
 */
#ifndef HORLOGE_DISCIPLINE_H
#define HORLOGE_DISCIPLINE_H

#include <stdbool.h>

#include "core/filter.h"
#include "core/sample.h"

/* Defaults of corr_time_ratio and max_slew_ppm (docs/discipline.md, "Smooth corrections"). */
#define DISC_CORR_TIME_RATIO 0.5
#define DISC_MAX_SLEW_PPM 400.0

/* The largest slew rate is reported over windows of this many seconds (the last and this one). */
#define DISC_PEAK_WINDOW 3600.0

/* Frequency segments remembered for converting recent samples into the raw frame. */
#define DISC_NSEG 32

struct disc_params {
    bool makestep;
    double step_threshold;  /* seconds */
    int step_limit;         /* updates in which a step is allowed; -1 = always */
    double max_freq_ppm;    /* largest |frequency| ever commanded */
    double max_slew_ppm;    /* largest slew rate on top of the base frequency (`maxslewrate`) */
    double min_slew_time;   /* seconds: shortest slew */
    double corr_time_ratio; /* an offset up to 3 times the estimate's error is slewed out over
                               this many update intervals; larger ones faster, as error / offset
                               (chrony's corrtimeratio); 0: at once, within the rate limit */
    struct filt_params filt;
};

void disc_default_params(struct disc_params *p);

/*
 * What the shell applies, in this order, right away (at the `now` it passed).
 * Every command returned is complete and safe to apply as it is.
 */
struct disc_cmd {
    bool step;
    double step_by;         /* clock_driver.step(step_by) */
    bool set_freq;
    double freq_ppm;        /* clock_driver.set_frequency(freq_ppm) */
    double timer_in;        /* > 0: (re)arm the timer to call disc_timer() this many seconds
                               after now (+ step_by); 0: no timer needed (cancel it) */
};

struct disc_segment {
    double start;           /* system time when it began (after the step, if one) */
    double c;               /* correction system - raw at start */
    double ppm;             /* frequency commanded from start */
};

/* What the last command changed in the frames, so that a refused command can be taken back. */
enum disc_undo_kind {
    DISC_UNDO_NONE,         /* the last command changed nothing, or was taken back */
    DISC_UNDO_INIT,         /* disc_init's: nothing before it */
    DISC_UNDO_STEER,        /* disc_update's or disc_timer's: the fields below */
};

struct disc_undo {
    enum disc_undo_kind kind;
    unsigned seg_head, n_seg;
    struct disc_segment overwritten; /* the slot the command's segment took */
    double valid_from;
    bool slewing;
    double slew_end;
};

struct disc {
    struct disc_params params;
    struct filt_kalman kf;  /* system filter, raw frame */
    struct disc_segment seg[DISC_NSEG];
    unsigned seg_head;      /* index of the newest segment */
    unsigned n_seg;
    double valid_from;      /* samples measured before this system time are refused */
    unsigned n_updates;
    unsigned n_steps;
    double total_stepped;
    bool slewing;
    double slew_end;        /* system time the current slew ends */
    double last_update;     /* system time of the last accepted update */
    double update_interval; /* running mean */
    double last_offset;     /* offset corrected at the last update (NTP - system) */
    double rms_offset;
    double residual_ppm;    /* change of the frequency estimate at the last update */
    double slew_ppm;        /* commanded - base frequency now: the slew's rate, ppm */
    double peak_slew_ppm;   /* largest |slew_ppm| since peak_since */
    double prev_peak_slew_ppm; /* and in the window before */
    double peak_since;      /* system time; the peak restarts every DISC_PEAK_WINDOW */
    struct disc_undo undo;
};

/*
 * Starts at system time `now` with the frequency from the drift file
 * (freq_error_ppm its uncertainty, e.g. 1), or without one the kernel's
 * current frequency with a large error (e.g. 500). `cmd` sets it.
 */
void disc_init(struct disc *d, const struct disc_params *p, double now, double freq_ppm,
               double freq_error_ppm, struct disc_cmd *cmd);

/* Correction c = system - raw at system time t; false when t is older than the history. */
bool disc_correction_at(const struct disc *d, double t, double *c);
/* Raw time of system time t (the filters' time axis). */
double disc_raw_time(const struct disc *d, double t);
/*
 * Moves a sample into the raw frame, its time to the middle of the exchange
 * (local_time is taken as T4, source.c's convention, minus delay / 2). False
 * when the exchange began (T4 - delay) before a step, or predates the history:
 * drop it.
 */
bool disc_sample_to_raw(const struct disc *d, const struct ntp_sample *s, struct ntp_sample *raw);

/*
 * An accepted measurement (filt_source_add's output) of a combined source.
 * Returns the system filter's verdict; when it is not used, `cmd` changes
 * nothing but keeps the running slew's timer.
 */
enum filt_verdict disc_update(struct disc *d, double now, const struct filt_meas *m,
                              struct disc_cmd *cmd);
/* The timer asked for in a previous command expired (ends a slew). */
void disc_timer(struct disc *d, double now, struct disc_cmd *cmd);
/*
 * The clock did not make all of `cmd`, the command disc_init, disc_update or
 * disc_timer just returned: `stepped` says whether its step was made (its
 * frequency change was not). The frames take back what the clock did not do,
 * so that the correction stays the clock's real one: without the step they are
 * as before the command; with it, the step stands at the frequency before it.
 * disc_init's command has no "before": its frequency becomes `clock_ppm`, the
 * frequency the clock really runs at (the driver's reading; NAN if unknown:
 * the frame keeps the commanded one).
 */
void disc_cmd_failed(struct disc *d, const struct disc_cmd *cmd, bool stepped, double clock_ppm);

/* Frequency of the raw clock to correct (what to save in the drift file), ppm, and its std. */
void disc_get_frequency(const struct disc *d, double *ppm, double *error_ppm);
/* Prior for a new source's filter: frequency (s/s) and its variance. */
void disc_source_prior(const struct disc *d, double *freq, double *freq_var);
/* Wander (A) estimated by the system filter. */
double disc_wander(const struct disc *d);
/* Poll exponent to hand to a source, from its filter and the system wander. */
int disc_recommend_poll(const struct disc *d, const struct filt_source *src, int minpoll,
                        int maxpoll);

struct disc_tracking {
    double offset;          /* NTP - system now: what is still to be corrected, s */
    double last_offset;     /* correction decided at the last update, s */
    double rms_offset;
    double est_error;       /* std of the system filter's offset now, s */
    double freq_ppm;        /* base frequency applied */
    double residual_freq_ppm;
    double skew_ppm;        /* std of the frequency estimate */
    double update_interval; /* s */
    double wander;          /* A */
    unsigned n_updates;
    unsigned n_steps;
    bool slewing;
    double slew_ppm;        /* frequency excursion now: commanded - base frequency */
    double peak_slew_ppm;   /* the largest |excursion| in the last hour or so */
};

void disc_get_tracking(const struct disc *d, double now, struct disc_tracking *t);

#endif

/*
 * filter: the estimator behind every clock estimate (see docs/discipline.md).
 *
 * Owns two layers:
 *  - filt_kalman: a 2-state Kalman filter, x = [offset, frequency] of a
 *    reference against the RAW (uncorrected) local clock, with random-walk
 *    frequency noise of spectral density A ("wander") that adapts to the
 *    innovations, and an innovation gate that holds popcorn spikes. The
 *    discipline runs one as the system filter.
 *  - filt_source: one upstream source. Gives each sample a measurement
 *    variance from its delay excess over the minimum delay (delay
 *    weighting), runs its own filt_kalman, and answers what selection needs:
 *    offset estimate, its error, jitter, root distance.
 * Samples must already be in the raw frame (disc_sample_to_raw). Pure: no
 * clock reads; all times are parameters in the raw timescale (seconds).
 */
#ifndef HORLOGE_FILTER_H
#define HORLOGE_FILTER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/sample.h"

/* Delays remembered for the minimum and median delay (at most FILT_WINDOW_AGE old). */
#define FILT_NDELAY 128
/* Samples whose minimum delay is the RFC 5905 "peer delay" used for the root delay. */
#define FILT_NRECENT 8

struct filt_params {
    double excess_k;        /* R = (excess + k * median excess)^2 / 12 + r0 */
    double r0;              /* variance floor, s^2 */
    double window_age;      /* seconds a delay stays in the minimum-delay window */
    double gate;            /* hold a sample when innovation^2 > gate * S */
    unsigned max_holds;     /* accept anyway after this many consecutive holds (<= FILT_MAX_HOLDS) */
    double wander_init;     /* A, s^2/s^3 (1 ppb/sqrt(s) random walk = 1e-18) */
    double wander_min;
    double wander_max;
    bool wander_fixed;      /* keep wander_init (no adaptation) */
};

void filt_default_params(struct filt_params *p);

/* Held samples remembered for replay when the run of holds turns out to be a real change. */
#define FILT_MAX_HOLDS 8

/* A measurement the gate held: replayed, in order, if the change it showed was real. */
struct filt_held {
    double t, z, r;
    double y;               /* its innovation */
};

/* One Kalman state (time is shared by the filter and its alternatives). */
struct filt_kstate {
    double x0;              /* offset, s */
    double x1;              /* frequency, s/s */
    double p00, p01, p11;   /* covariance */
};

/*
 * The wander A is chosen by prediction: two alternatives with A / 2 and A * 2
 * see the same measurements, and A moves to one that predicts them better
 * (sum of innovation^2 / R, over 64 to 256 samples); a sample accepted only
 * after the gate held its predecessors multiplies A by 4. This needs no
 * Gaussian assumption, unlike a chi-square test of the innovations, which
 * the uniform errors of delay-weighted samples bias (docs/discipline.md).
 */
struct filt_kalman {
    bool started;
    double t;               /* raw time of the state */
    struct filt_kstate s;   /* the estimate, with wander A */
    struct filt_kstate alt[2];
    double wander;          /* A */
    double score[3];        /* the estimate's, then the alternatives' */
    unsigned n_scored;
    unsigned holds;         /* consecutive held samples */
    struct filt_held held[FILT_MAX_HOLDS];
    unsigned n_changes;     /* real changes of offset or frequency taken (forced samples) */
    double last_nis;        /* innovation^2 / S of the last sample, over nis_scale */
    double nis_mean;        /* running mean of accepted samples' innovation^2 / S */
    double nis_scale;       /* what the gate divides the NIS by (>= 1) */
    double last_innovation;
    double jitter2;         /* running mean of accepted innovation^2 */
    unsigned n_updates;
};

enum filt_verdict {
    FILT_ACCEPTED = 0,
    FILT_HELD,      /* popcorn spike, not used */
    FILT_FORCED,    /* accepted after max_holds holds: the offset really changed */
    FILT_INVALID,   /* non-finite values, negative delay or non-positive variance */
};

const char *filt_verdict_name(enum filt_verdict v);

void filt_kalman_init(struct filt_kalman *k, double wander, double freq, double freq_var);
/* Feeds measurement z (offset at raw time t) of variance r. */
enum filt_verdict filt_kalman_update(struct filt_kalman *k, const struct filt_params *p, double t,
                                     double z, double r);
/* Offset and frequency predicted to raw time t, with their variances. */
void filt_kalman_predict(const struct filt_kalman *k, double t, double *offset, double *offset_var,
                         double *freq, double *freq_var);
/*
 * Takes measurement z as a real change of offset or frequency, whatever the
 * gate would say (a source's filter found one: its FILT_FORCED sample).
 */
enum filt_verdict filt_kalman_take_change(struct filt_kalman *k, const struct filt_params *p,
                                          double t, double z, double r);
/* Adds `var` to the offset variance (after a step of the reference, a gap...). */
void filt_kalman_inflate(struct filt_kalman *k, double var);

/* What one accepted sample contributes to the system filter. */
struct filt_meas {
    double time;    /* raw time */
    double offset;  /* raw frame */
    double var;     /* R */
    double delay;
    bool change;    /* the source's filter took it as a real change (FILT_FORCED) */
};

struct filt_source {
    struct filt_params params;
    struct filt_kalman kf;
    double delays[FILT_NDELAY];
    double delay_times[FILT_NDELAY];
    unsigned n_delays;
    unsigned delay_head;        /* next slot to write */
    struct ntp_sample last;     /* last accepted sample (server's stratum, root figures...) */
    bool has_last;
    unsigned n_samples;         /* all valid samples seen */
    unsigned disturbed;         /* samples left at minpoll after a disturbance */
};

/* Estimate of one source at a given time, for selection, reference and display. */
struct filt_estimate {
    bool valid;             /* at least one sample accepted */
    double offset;          /* raw frame, predicted to the time asked */
    double error;           /* std of offset */
    double freq;            /* s/s */
    double freq_error;
    double jitter;          /* RMS innovation */
    double delay;           /* min delay of the last FILT_NRECENT samples */
    double min_delay;       /* min delay of the window */
    double dispersion;      /* last sample's, grown by PHI * age */
    double root_delay;
    double root_dispersion;
    double root_distance;   /* RFC 5905 lambda with the filtered figures */
    double age;             /* seconds since the last accepted sample */
    uint8_t stratum;
    uint8_t leap;
    uint32_t refid;
};

/* `freq`/`freq_var`: prior frequency of the raw clock (the discipline's estimate). */
void filt_source_init(struct filt_source *f, const struct filt_params *p, double freq,
                      double freq_var);
/* Filters one raw-frame sample; on acceptance `out` (may be NULL) gets the measurement. */
enum filt_verdict filt_source_add(struct filt_source *f, const struct ntp_sample *raw,
                                  struct filt_meas *out);
void filt_source_estimate(const struct filt_source *f, double now_raw, struct filt_estimate *e);
/* Median measurement variance over the window (the poll policy's R). */
double filt_source_typical_var(const struct filt_source *f);

/*
 * Poll policy (docs/discipline.md): the largest poll p in [minpoll, maxpoll]
 * whose predicted steady-state RMS error E(p) (for wander A and the source's
 * typical measurement variance) is within 1.2 x E(minpoll) or below 2 % of
 * the minimum delay (the bound of the unobservable asymmetry error);
 * minpoll while the source is disturbed (a forced sample, NIS > 9, a gap).
 */
int filt_recommend_poll(const struct filt_source *f, double wander, int minpoll, int maxpoll);
/* E(p) itself, RMS seconds averaged over the poll interval 2^poll. */
double filt_poll_error(double wander, double r, int poll);

#endif

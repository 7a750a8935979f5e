/*
 * sync: the synchronisation engine — how samples from upstream sources become
 * clock commands and the server's reference state. horloged and the
 * simulator drive this same code (see docs/discipline.md "Wiring").
 *
 * Owns per source a filt_source and its selection verdict, and the system's
 * discipline and reference. On each sample: into the raw frame, filter,
 * select, feed the discipline when the source is combined, apply its command
 * through the injected clock driver, update the reference; a timer for the
 * end of slews; a tick for the reference's timeouts and the kernel's sync
 * status. It reads time only through the driver; its timescale is seconds
 * since `epoch` (an NTP timestamp), as source.c's samples' local_time.
 * Also owns how steering the clock goes: a driver call that fails (-errno)
 * is counted with its operation and error, the discipline takes back the
 * command, and the reference serves unsynchronised (CLOCK_FAILED) until a
 * clock command succeeds again; the shell reads `clock` to log and report it.
 */
#ifndef HORLOGE_SYNC_H
#define HORLOGE_SYNC_H

#include <stdbool.h>
#include <stdint.h>

#include "core/clockif.h"
#include "core/discipline.h"
#include "core/filter.h"
#include "core/leapsmear.h"
#include "core/ntptime.h"
#include "core/reference.h"
#include "core/sample.h"
#include "core/select.h"

#define SYNC_MAX_SOURCES 32
/* A source without an estimate counts for the majority during its first this many polls (`pending`). */
#define SYNC_PENDING_POLLS 8
/*
 * Samples a source's filter must have accepted before selection may combine
 * or select it: one sample proves nothing, `iburst` gives a consistent few
 * within seconds. Until then it only votes in the intersection.
 */
#define SYNC_MIN_SAMPLES 3

struct sync_params {
    struct disc_params disc;
    struct sel_params sel;
    struct ref_params ref;
    double drift_ppm;        /* initial frequency (drift file) */
    double drift_error_ppm;  /* its uncertainty; large = no drift file */
    enum leapsmear_kind leapsmear;
};

void sync_default_params(struct sync_params *p);

/* What a configuration reload may change in a running engine: `minsources`, `maxdistance`, `makestep`. */
struct sync_reload_params {
    unsigned minsources;
    double maxdistance;      /* selection's, and the held reference's */
    bool makestep;
    double step_threshold;
    int step_limit;          /* still counted in updates since start */
};

/* The clock-changing driver calls, as `horloge tracking` names them. */
enum sync_clock_op {
    SYNC_CLOCK_TAKE_CONTROL,    /* the shell's, at start (clock_real_take_control) */
    SYNC_CLOCK_STEP,
    SYNC_CLOCK_SET_FREQUENCY,
    SYNC_CLOCK_SET_SYNC_STATUS,
};

const char *sync_clock_op_name(enum sync_clock_op op);

struct sync_clock_health {
    bool failing;               /* steering_failed || status_failed: serving unsynchronised */
    bool steering_failed;       /* the last take control, step or set frequency failed */
    bool status_failed;         /* the last set sync status failed */
    unsigned long n_errors;     /* failed calls since start */
    enum sync_clock_op last_op; /* the last failed call (when n_errors > 0) */
    int last_errno;             /* and its error, a positive errno value */
};

struct sync_source {
    struct filt_source filt;
    bool removed;            /* taken out for good (KoD DENY, replaced pool member) */
    uint32_t refid;          /* what we announce when it is our peer: its IPv4 address */
    bool prefer;
    int minpoll, maxpoll;    /* the bounds the poll policy recommends within */
    int recommended_poll;    /* the discipline's wish; the source clamps and applies it */
    /* What the source's state machine tells at each poll (it owns the reach register): */
    bool reachable;          /* a sample within its last 8 polls */
    bool pending;            /* still in its first polls: counts for the majority until it answers */
    bool unsynchronised;     /* its last answer said it has no time to give (LI 3, stratum 16) */
    enum sel_verdict verdict;
    unsigned n_samples, n_filtered, n_held, n_refused, n_used;
    struct ntp_sample last_sample; /* the latest, as measured (system frame) */
    double last_sample_at;         /* engine seconds; 0 = none yet */
};

struct sync {
    struct sync_params params;
    struct clock_driver drv;
    ntp_ts epoch;
    struct disc disc;
    struct ref ref;
    unsigned n_src;
    struct sync_source src[SYNC_MAX_SOURCES];
    enum sel_verdict verdicts[SYNC_MAX_SOURCES];
    struct sel_result sel;
    bool timer_armed;
    double timer_at;         /* system time when sync_timer is due */
    unsigned n_updates;      /* discipline updates */
    unsigned n_selections;
    struct sync_clock_health clock;
    struct leapsmear smear;  /* the leap the served time is smeared over (sync_tick notes it) */
};

void sync_init(struct sync *n, const struct sync_params *p,
                   const struct clock_driver *drv, ntp_ts epoch);
/* The node's clock now, in its timescale (and as an NTP timestamp when ntp is not NULL). */
double sync_now(const struct sync *n, ntp_ts *ntp);
/* Returns the new source's index (a removed source's, if any), or -1 when full. */
int sync_add_source(struct sync *n, uint32_t refid, bool prefer, int minpoll, int maxpoll);
/*
 * A request was sent to source i; `reachable` and `pending` are its state
 * after it (core/assoc tells them). Losing reachability reruns selection.
 */
void sync_polled(struct sync *n, unsigned i, bool reachable, bool pending);
/* Source i answered with this sample (system-frame, as the source module gives it): reachable. */
void sync_sample(struct sync *n, unsigned i, const struct ntp_sample *s);
/* Source i answered, but unsynchronised (LI 3 or stratum 16): reported as such, not unreachable. */
void sync_unsynchronised(struct sync *n, unsigned i);
/* The discipline's timer expired. */
void sync_timer(struct sync *n);
/* Periodic housekeeping: the reference's timeouts. */
void sync_tick(struct sync *n);
/* The poll exponent the discipline recommends for source i, within its [minpoll, maxpoll]. */
int sync_recommended_poll(const struct sync *n, unsigned i);
/* Takes source i out of selection for good; its index may be given to a source added later. */
void sync_remove_source(struct sync *n, unsigned i);
/*
 * The outcome of a clock-changing call (0 or -errno) the shell made itself
 * (SYNC_CLOCK_TAKE_CONTROL); sync records its own driver calls the same way.
 */
void sync_clock_result(struct sync *n, enum sync_clock_op op, int err);
/*
 * Applies a reload's parameters at once: selection runs again under them, so
 * a larger `minsources` than the sources agreeing takes the reference to
 * holdover now, not at the next sample. Sources keep their state.
 */
void sync_apply_params(struct sync *n, const struct sync_reload_params *p);
/* Served time - system time now (a leap smear; 0 when none). */
double sync_served_offset(const struct sync *n);
/* What `horloge tracking` shows, now. */
void sync_get_tracking(const struct sync *n, struct ref_tracking *t);

#endif

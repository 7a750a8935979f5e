/*
 * sim_world: the simulated network, upstream servers and the scenario runner.
 *
 * Paths have a one-way base delay, an exponential jitter per direction, a
 * fixed extra delay on the way out (asymmetry) and a loss probability.
 * Servers keep true time plus an offset (liars), may be down for a while,
 * may kiss (RATE, DENY, RSTR) for a while, and answer through the real
 * responder (resp_build). Each exchange makes real packets: T1 and T4 read
 * from the simulated local clock, T2 and T3 from the server's clock. Each
 * server is polled through the daemon's own association object (core/assoc:
 * requests, poll schedule, reply tests, KoD, samples into the engine); this
 * file only moves the packets. The runner drives a sync through a scenario in
 * simulated time, deterministically from the seed, and measures the true
 * error of the node's clock.
 */
#ifndef HORLOGE_SIM_WORLD_H
#define HORLOGE_SIM_WORLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ntptime.h"
#include "core/refclock.h"
#include "core/responder.h"
#include "core/sample.h"
#include "sim_clock.h"
#include "core/sync.h"

struct sim_path {
    double delay;           /* one-way base delay, s */
    double jitter;          /* mean of the exponential extra delay, each direction, s */
    double asymmetry;       /* extra delay client -> server, s */
    double loss;            /* probability that an exchange gets no reply */
};

struct sim_server {
    uint32_t address;       /* its IPv4 address, the refid we announce when it is our peer */
    double offset;          /* server clock - true time, s */
    double down_from;       /* true time the server stops answering ... */
    double down_to;         /* ... and starts again (down_to <= down_from: never down) */
    enum resp_kod kod;      /* the Kiss-o'-Death it answers with ... */
    double kod_from;        /* ... from this true time ... */
    double kod_to;          /* ... until this one (kod_to <= kod_from: never) */
    uint8_t stratum;
    uint8_t leap;
    int8_t precision;
    uint32_t refid;         /* its own reference */
    double root_delay;
    double root_dispersion;
    double proc_time;       /* T3 - T2 */
    double tx_lag;          /* mean (exponential) of how much earlier than the real departure
                               a basic reply's transmit timestamp is read; 0: exact */
    bool xleave;            /* the client asks it for interleaved mode (RFC 9769) */
    struct sim_path path;
    bool prefer;
    int minpoll, maxpoll;
    double first_poll;      /* true time of the first request; 0: random in [1, 3) s */
    double leap_at;         /* true time of a leap second it announces the day before and
                               makes (its UTC then one second behind, or ahead); 0: none */
    int leap_sign;          /* +1 inserted, -1 deleted */
};

/*
 * A reference clock: readings once a true second, through the daemon's own
 * feed (core/refclock: pulse numbering, per-poll median, reach) into the
 * engine. COARSE names each second late (NMEA: `late` after it, plus
 * uniform +-`jitter`); PPS stamps each second's edge with the local clock,
 * +-`jitter` (gaussian sd), its second numbered by clock `lock` (or by the
 * engine's own clock when lock < 0).
 */
enum sim_refclock_kind { SIM_REFCLOCK_COARSE, SIM_REFCLOCK_PPS };

struct sim_refclock {
    enum sim_refclock_kind kind;
    uint32_t refid;
    double error;           /* its time - true time, s (a receiver that is wrong) */
    double late;            /* COARSE: its reading of second k arrives at k + late */
    double jitter;          /* s */
    double up_from;         /* true time it starts giving readings ... */
    double up_to;           /* ... and stops (up_to <= up_from: always) */
    int lock;               /* PPS: index in refclocks[] of the clock that numbers it, -1: none */
    int poll;
    bool prefer;
    struct refclock_params params; /* offset (correction), delay, precision, refid; epoch is the world's */
};

struct sim_refclock_figures {
    unsigned readings, samples_used, unnumbered;
    double last_sample_at;    /* true time of its last sample into the engine, s */
    double frac_falseticker, frac_combined, frac_selected;
    enum sel_verdict last_verdict;
};

struct sim_scenario {
    const char *name;
    uint64_t seed;
    double duration;        /* simulated seconds */
    double warmup;          /* seconds excluded from the figures */
    int64_t base_sec;       /* Unix time of the start */
    double freq_error;      /* oscillator frequency error at the start, s/s */
    double wander;          /* A, s^2/s^3 */
    double initial_offset;  /* system - true at the start, s */
    struct sim_freq_profile freq_profile; /* frequency step / sinusoid on top of the walk */
    bool iburst;
    double observe_every;   /* seconds between measurements of the true error */
    struct sync_params node;
    unsigned n_servers;
    struct sim_server servers[SYNC_MAX_SOURCES];
    unsigned n_refclocks;
    struct sim_refclock refclocks[4];
};

/* One good stratum-1 server, poll 64 s, 100 us delay and jitter, 100 ppm, 1 ppb/sqrt(s), 2 days. */
void sim_scenario_defaults(struct sim_scenario *sc);
void sim_server_defaults(struct sim_server *s);

struct sim_source_figures {
    unsigned polls, replies, samples_used;
    unsigned kods_rate;       /* RATE kisses taken */
    bool removed;             /* DENY or RSTR took it out */
    unsigned polls_after_removal;
    int final_poll;           /* the source's poll exponent at the end */
    double frac_falseticker;  /* of observations after warm-up */
    double frac_combined;     /* selected or candidate */
    double frac_selected;
    enum sel_verdict last_verdict;
};

struct sim_result {
    double rms_offset;      /* true clock error after warm-up, s */
    double max_offset;
    double mean_offset;
    double rms_freq_ppm;    /* frequency estimate - truth, after warm-up */
    double max_freq_ppm;
    double rms_rate_ppm;    /* the system clock's rate error (its frequency excursion, slews
                               included) over each observation interval, after warm-up */
    double max_rate_ppm;
    unsigned n_observations;
    unsigned n_steps;
    double stepped;
    unsigned n_updates;
    double final_wander;
    double max_abs_freq_set_ppm;
    struct sim_source_figures src[SYNC_MAX_SOURCES];
    struct sim_refclock_figures rc[4];
};

struct sim_observation {
    double t;               /* true time */
    double error;           /* system - true, s */
    double ideal_ppm;
    double freq_ppm;        /* the discipline's estimate */
    double rate_error_ppm;  /* system clock's rate - true rate since the last observation */
    double now;             /* system clock, s, in the node's timescale (since the start) */
    ntp_ts now_ntp;
    const struct sync *node;
    const struct sim_clock *clock;
};

typedef void (*sim_observer)(void *ctx, const struct sim_observation *o);

/* Runs a scenario; `observe` (may be NULL) sees every measurement. 0, or -1 on a bad scenario. */
int sim_run(const struct sim_scenario *sc, struct sim_result *res, sim_observer observe, void *ctx);

#endif

/*
 * sim_node: the simulated horloged's synchronisation glue, written the way
 * the daemon wires the core (see docs/discipline.md "Wiring"): per source a
 * filt_source; on each sample: into the raw frame, filter, select, feed the
 * discipline when the source is combined, apply its command through the
 * clock_driver, update the reference; a timer for the end of slews; a tick
 * for the reference's timeouts. It reads time only through the driver; its
 * timescale is seconds since `epoch` (an NTP timestamp), as source.c's
 * samples' local_time.
 */
#ifndef HORLOGE_SIM_NODE_H
#define HORLOGE_SIM_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/clockif.h"
#include "core/discipline.h"
#include "core/filter.h"
#include "core/ntptime.h"
#include "core/reference.h"
#include "core/sample.h"
#include "core/select.h"

#define SIM_MAX_SOURCES 8

struct sim_node_params {
    struct disc_params disc;
    struct sel_params sel;
    struct ref_params ref;
    double drift_ppm;        /* initial frequency (drift file) */
    double drift_error_ppm;  /* its uncertainty; large = no drift file */
};

void sim_node_default_params(struct sim_node_params *p);

struct sim_node_source {
    struct filt_source filt;
    uint32_t refid;          /* what we announce when it is our peer: its IPv4 address */
    bool prefer;
    int minpoll, maxpoll;
    int poll;                /* current poll exponent */
    uint8_t reach;
    unsigned n_polled;
    enum sel_verdict verdict;
    unsigned n_samples, n_filtered, n_held, n_refused, n_used;
};

struct sim_node {
    struct sim_node_params params;
    struct clock_driver drv;
    ntp_ts epoch;
    struct disc disc;
    struct ref ref;
    unsigned n_src;
    struct sim_node_source src[SIM_MAX_SOURCES];
    enum sel_verdict verdicts[SIM_MAX_SOURCES];
    struct sel_result sel;
    bool timer_armed;
    double timer_at;         /* system time when sim_node_timer is due */
    unsigned n_updates;      /* discipline updates */
    unsigned n_selections;
    unsigned n_driver_errors;
};

void sim_node_init(struct sim_node *n, const struct sim_node_params *p,
                   const struct clock_driver *drv, ntp_ts epoch);
/* The node's clock now, in its timescale (and as an NTP timestamp when ntp is not NULL). */
double sim_node_now(const struct sim_node *n, ntp_ts *ntp);
/* Returns the new source's index, or -1 when full. */
int sim_node_add_source(struct sim_node *n, uint32_t refid, bool prefer, int minpoll, int maxpoll);
/* A request is sent to source i (shifts its reach register). */
void sim_node_polled(struct sim_node *n, unsigned i);
/* Source i answered with this sample (system-frame, as the source module gives it). */
void sim_node_sample(struct sim_node *n, unsigned i, const struct ntp_sample *s);
/* The discipline's timer expired. */
void sim_node_timer(struct sim_node *n);
/* Periodic housekeeping: the reference's timeouts. */
void sim_node_tick(struct sim_node *n);
/* Poll interval the source should use next, in seconds. */
double sim_node_poll_interval(const struct sim_node *n, unsigned i);

#endif

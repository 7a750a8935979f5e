/*
 * upstream: the shell side of keeping our own time — the `server` and `pool`
 * sources, their name resolution, one UDP socket each (bound to a random
 * unprivileged port chosen by the kernel), sending requests when the source
 * state machine says so, receiving replies with kernel timestamps, and
 * handing samples to the sync engine.
 */
#ifndef HORLOGE_UPSTREAM_H
#define HORLOGE_UPSTREAM_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/source.h"
#include "core/sync.h"
#include "io/config.h"
#include "io/netutil.h"
#include "io/resolve.h"

#define UPSTREAM_MAX_PEERS SYNC_MAX_SOURCES
/* Addresses that kissed us away (DENY, RSTR) and are never asked again, oldest forgotten first. */
#define UPSTREAM_MAX_DENIED 32

struct upstream_peer {
    bool active;
    unsigned cfg_index;           /* the `server`/`pool` line it came from */
    struct resolve_addr addr;
    struct net_addr net;
    int fd;
    int sync_index;
    struct source src;
    struct source_timestamps {
        uint64_t kernel_rx;
        uint64_t software_rx;
    } ts;
};

/* Converts kernel packet timestamps (raw CLOCK_REALTIME) to the local clock the engine uses. */
typedef ntp_ts (*upstream_time_fn)(void *ctx, const struct unix_time *raw_or_null);

struct upstream {
    struct config cfg;           /* as at start: sources change only at restart */
    struct sync *sync;
    upstream_time_fn local_time;
    void *time_ctx;
    int8_t precision;
    struct resolve_job *jobs[CFG_MAX_SOURCES];
    double retry_at[CFG_MAX_SOURCES];  /* engine seconds: when to resolve that line again */
    unsigned wanted[CFG_MAX_SOURCES];  /* peers wanted from that line */
    unsigned n_peers;
    struct upstream_peer peers[UPSTREAM_MAX_PEERS];
    unsigned n_denied;
    struct resolve_addr denied[UPSTREAM_MAX_DENIED];
};

void upstream_init(struct upstream *u, const struct config *cfg, struct sync *sync,
                   upstream_time_fn local_time, void *time_ctx, int8_t precision);
/* Starts resolving every configured source. */
void upstream_start(struct upstream *u);
/* Adds the peers' sockets to a poll set; returns how many were written. */
unsigned upstream_pollfds(const struct upstream *u, struct pollfd *fds, unsigned max);
/* True when `fd` belonged to a peer (and was handled). */
bool upstream_handle_readable(struct upstream *u, int fd);
/* Sends due requests, picks up resolutions, replaces lost pool members. Returns seconds to the next due event. */
double upstream_run_timers(struct upstream *u);
/* Name and address of the peer behind sync source `sync_index`, for reports. */
const struct upstream_peer *upstream_peer_of(const struct upstream *u, unsigned sync_index);
const char *upstream_peer_name(const struct upstream *u, const struct upstream_peer *p);
void upstream_close(struct upstream *u);

#endif

/*
 * upstream: the shell side of keeping our own time — the `server` and `pool`
 * sources, their name resolution, and for each server address one UDP socket
 * connected to it (on a random unprivileged port the kernel picks) and one
 * poll timer, both registered with the event loop.
 *
 * Owns the bytes and the timers only: each server's protocol (requests, poll
 * schedule, reply tests, Kiss-o'-Death, samples into the sync engine) is its
 * core/assoc object, the one the simulator drives too. Upstream sends what
 * the association builds (T1 from the kernel's transmit timestamp, read back
 * from the socket's error queue; the NIC's with `hwtimestamp`, io/hwts.h),
 * reads replies with kernel timestamps, and acts on
 * what it returns: closes a kissed-away server's socket and never asks that
 * address again, replaces lost pool members, re-resolves names (picked up
 * from the resolver by a timer of its own while a job is pending), applies a
 * reload's `server`/`pool` lines (upstream_apply_config), and calls the
 * `on_change` hook when the engine's state may have changed.
 */
#ifndef HORLOGE_UPSTREAM_H
#define HORLOGE_UPSTREAM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/assoc.h"
#include "core/sync.h"
#include "io/config.h"
#include "io/hwts.h"
#include "io/loop.h"
#include "io/netutil.h"
#include "io/resolve.h"
#include "io/symkeys.h"
#include "io/timesource.h"

#define UPSTREAM_MAX_PEERS SYNC_MAX_SOURCES
/* Addresses that kissed us away (DENY, RSTR) and are never asked again, oldest forgotten first. */
#define UPSTREAM_MAX_DENIED 32

struct upstream;
struct nts_source;

struct upstream_peer {
    bool active;
    unsigned cfg_index;           /* the `server`/`pool` line it came from */
    struct resolve_addr addr;
    struct net_addr net;
    int fd;                       /* connected to addr */
    int timer;                    /* its poll timer in the loop */
    struct upstream *owner;
    struct assoc assoc;
    struct nts_source *nts;       /* `server ... nts`: its NTS-KE and session; NULL otherwise */
    struct symkey_ctx key_ctx;    /* `key N`: the assoc's authenticator context */
    bool tx_stamps;               /* the kernel gives transmit timestamps on fd */
    bool awaiting_tx;             /* a (better) transmit timestamp of the latest request may still come */
    bool tx_stamped;              /* the latest request's T1 is a kernel timestamp */
    uint32_t tx_key;              /* requests sent with a stamp asked for (the kernel numbers them) */
    struct source_timestamps {
        uint64_t kernel_rx;       /* replies with a kernel receive timestamp */
        uint64_t hardware_rx;     /* of which the NIC's (hwtimestamp) */
        uint64_t software_rx;     /* replies whose T4 was read from the clock */
        uint64_t kernel_tx;       /* requests whose T1 is the kernel's transmit timestamp */
        uint64_t hardware_tx;     /* of which the NIC's */
        uint64_t software_tx;     /* requests whose T1 was read from the clock */
        uint64_t truncated;       /* longer than the receive buffer (MSG_TRUNC): dropped */
    } ts;
};

/* Called after a sample or a removal: the engine's state (what we serve) may have changed. */
typedef void (*upstream_change_fn)(void *ctx);

struct upstream {
    struct config cfg;           /* as at start or at the last reload (upstream_apply_config) */
    struct sync *sync;
    struct loop *loop;
    timesource_time_fn local_time;
    void *time_ctx;
    int8_t precision;
    upstream_change_fn on_change;
    void *change_ctx;
    const struct symkeys *keys;  /* for `key N` sources (upstream_use_keys); NULL: none */
    int timer;                   /* resolutions, retries, pool replacement */
    struct hwts hwts;            /* NIC timestamps (`hwtimestamp`) for the peers' sockets */
    struct resolve_job *jobs[CFG_MAX_SOURCES];
    double retry_at[CFG_MAX_SOURCES];  /* loop (monotonic) seconds: resolve that line again; 0: no */
    unsigned wanted[CFG_MAX_SOURCES];  /* peers wanted from that line */
    unsigned n_peers;
    struct upstream_peer peers[UPSTREAM_MAX_PEERS];
    unsigned n_denied;
    struct resolve_addr denied[UPSTREAM_MAX_DENIED];
};

void upstream_init(struct upstream *u, const struct config *cfg, struct sync *sync, struct loop *loop,
                   timesource_time_fn local_time, void *time_ctx, int8_t precision);
/* The hook called when the engine's state may have changed (NULL: none). */
void upstream_on_change(struct upstream *u, upstream_change_fn fn, void *ctx);
/* The keys `server ... key N` lines sign with; they must outlive the upstream. */
void upstream_use_keys(struct upstream *u, const struct symkeys *keys);
/* Registers upstream's timer with the loop and starts resolving every source; -1 when the loop is full. */
int upstream_start(struct upstream *u);
/*
 * A reload's `server`/`pool` lines and `maxdistance`: a line equal to an old
 * one (cfg_source_equal) keeps its peers and all their state; the old lines
 * not kept lose their peers (sockets closed, out of the loop and the engine,
 * resolutions dropped); the new ones start resolving as at start. Logs one
 * line per line added or removed and a summary. -1 (nothing changed) when
 * the loop has no room for the housekeeping timer.
 */
int upstream_apply_config(struct upstream *u, const struct config *cfg);
/* Name and address of the peer behind sync source `sync_index`, for reports. */
const struct upstream_peer *upstream_peer_of(const struct upstream *u, unsigned sync_index);
const char *upstream_peer_name(const struct upstream *u, const struct upstream_peer *p);
/* The reports' view of sync source `sync_index` when it is one of ours (io/timesource.h). */
bool upstream_view(const void *upstream, unsigned sync_index, struct timesource_view *out);
/* Requests sent and the verdict on every reply, for `horloge sourcestats`. */
void upstream_stats(const void *upstream, unsigned sync_index, struct kv_out *out);
void upstream_close(struct upstream *u);

#endif

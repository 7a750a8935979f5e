/*
 * server: the serving side of the shell — UDP sockets, kernel receive
 * timestamps, batching, and the worker threads that answer NTP requests.
 *
 * Owns: the workers, one per socket: `threads N` (N >= 1) opens N sockets
 * per listen address (SO_REUSEPORT between them when N > 1), each with a
 * thread of its own blocking in recvmmsg on it, so the serving path has no
 * poll(); `threads 0` opens one per address and registers them with the
 * daemon's event loop (server_register), so the whole daemon is one thread
 * waiting only in poll(), for an LD_PRELOAD clock/network simulator. A client
 * stays on one socket, so each worker's rate limiter and counters are its
 * own. Around the serving policy (core/serve): receiving, timestamping (kernel
 * receive times, the -x time correction) and sending, and the per-worker counters.
 * Replies to interleaved clients (RFC 9769) alone are sent with a kernel
 * transmit timestamp asked for, read back from the socket's error queue and
 * kept in the client's entry for its next request; basic clients cost nothing.
 */
#ifndef HORLOGE_SERVER_H
#define HORLOGE_SERVER_H

#include <stdint.h>

#include "core/leapsmear.h"
#include "core/ratelimit.h"
#include "core/responder.h"
#include "core/serve.h"
#include "io/config.h"
#include "io/loop.h"
#include "io/ntpsignd.h"

/* What the serving policy decided (serve.h), and what the sockets did. */
struct server_counters {
    struct serve_counters serve;
    uint64_t send_errors;
    uint64_t kernel_timestamps;/* receive timestamps that came from the kernel */
    uint64_t kernel_tx_timestamps; /* transmit timestamps of replies to interleaved clients */
    uint64_t truncated;        /* longer than the receive buffer (MSG_TRUNC): dropped unread */
};

/*
 * How served timestamps relate to the raw system clock: served = raw +
 * offset + ppm * 1e-6 * (raw - since). Zero for a clock we steer ourselves;
 * under -x it is the correction we track but may not apply (as chronyd -x
 * serves its estimate of true time, not the free-running clock).
 */
struct time_correction {
    double offset;
    double ppm;
    struct unix_time since;
    struct leapsmear smear;     /* then smeared over a leap second (`leapsmear`) */
};

struct server;

/* Creates the sockets (call before dropping privileges). NULL on failure, logged. */
struct server *server_open(const struct config *cfg, const struct resp_state *initial);
/* Starts the serving threads (none with `threads 0`). Returns 0 or -1 (logged). */
int server_start_threads(struct server *srv);
/* With `threads 0`, watches the serving sockets in `loop` (nothing otherwise). 0, or -1 (logged). */
int server_register(struct server *srv, struct loop *loop);
/* Publishes what the server says about itself; workers pick it up at their next batch. */
void server_publish_state(struct server *srv, const struct resp_state *state,
                          const struct time_correction *correction);
/* Applies reloadable settings (access list, denyaction, rate limits). */
void server_apply_config(struct server *srv, const struct config *cfg);
/* The authentication strategies requests are judged by (core/auth.h); their contexts must outlive the server. */
void server_set_auth(struct server *srv, const struct auth_set *auth);
/* Where MS-SNTP replies (RESP_DEFERRED) go to be signed; set before the threads start. NULL: none. */
void server_set_signer(struct server *srv, struct ntpsignd *signer);
/* Runs fn(arg) while every worker is between batches: how shared contexts (keys) change under them. */
void server_exclusive(struct server *srv, void (*fn)(void *arg), void *arg);
void server_get_counters(struct server *srv, struct server_counters *out);
/* Busiest clients over all workers, most requests first. */
unsigned server_top_clients(struct server *srv, struct rl_client_stats *out, unsigned max);
/* How the server is laid out, for serverstats. */
struct server_layout {
    unsigned threads;        /* the `threads` setting it started with (0: served from the loop) */
    unsigned sockets;        /* serving sockets, one per worker (and thread) */
    unsigned sockets_used;   /* of which have received a request */
    unsigned clients_tracked;   /* entries in use in the workers' client tables */
    unsigned client_capacity;   /* their sizes (clientlogsize per worker): the bound */
};
void server_get_layout(struct server *srv, struct server_layout *out);
/* Stops the serving threads (waking them with shutdown()), unregisters and closes every socket. */
void server_close(struct server *srv);

#endif

/*
 * server: the serving side of the shell — UDP sockets, kernel receive
 * timestamps, batching, and the worker threads that answer NTP requests.
 *
 * Owns: one socket per listen address per worker (SO_REUSEPORT spreads
 * clients over workers; a client stays on one worker, so each worker's rate
 * limiter and counters are private to it), receiving, timestamping (kernel
 * receive times, the -x time correction) and sending around the serving
 * policy (core/serve), and the per-worker counters.
 * Worker 0 is driven by the daemon's main loop (so `threads 1` is a single
 * thread blocking only in poll()); workers 1..N-1 run their own threads.
 */
#ifndef HORLOGE_SERVER_H
#define HORLOGE_SERVER_H

#include <poll.h>
#include <stdint.h>

#include "core/ratelimit.h"
#include "core/responder.h"
#include "core/serve.h"
#include "io/config.h"

/* What the serving policy decided (serve.h), and what the sockets did. */
struct server_counters {
    struct serve_counters serve;
    uint64_t send_errors;
    uint64_t kernel_timestamps;/* receive timestamps that came from the kernel */
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
};

struct server;

/* Creates the sockets (call before dropping privileges). NULL on failure, logged. */
struct server *server_open(const struct config *cfg, const struct resp_state *initial);
/* Starts workers 1..N-1. Returns 0 or -1 (logged). */
int server_start_threads(struct server *srv);
/* Worker 0's sockets for the main loop's poll set; returns how many were written (<= max). */
unsigned server_pollfds(const struct server *srv, struct pollfd *fds, unsigned max);
/* Answers everything waiting on worker 0's socket `fd`. */
void server_handle_readable(struct server *srv, int fd);
/* Publishes what the server says about itself; workers pick it up at their next batch. */
void server_publish_state(struct server *srv, const struct resp_state *state,
                          const struct time_correction *correction);
/* Applies reloadable settings (access list, denyaction, rate limits). */
void server_apply_config(struct server *srv, const struct config *cfg);
void server_get_counters(struct server *srv, struct server_counters *out);
/* Busiest clients over all workers, most requests first. */
unsigned server_top_clients(struct server *srv, struct rl_client_stats *out, unsigned max);
unsigned server_worker_count(const struct server *srv);
/* Stops the worker threads and closes every socket. */
void server_close(struct server *srv);

#endif

/*
 * resolve: turns `server`/`pool` host names into addresses without ever
 * blocking the event loop.
 *
 * Owns: numeric addresses (AI_NUMERICHOST), resolved at once in the caller's
 * thread; names, resolved by getaddrinfo() in a detached worker thread whose
 * result waits in a mutex-guarded slot until the loop collects it with
 * resolve_poll() on a timer tick. No pipe or eventfd joins the poll set: the
 * daemon must also run under an LD_PRELOAD simulator that knows only plain
 * sockets and timers. A pool gives up to max_addrs distinct addresses.
 */
#ifndef HORLOGE_RESOLVE_H
#define HORLOGE_RESOLVE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/netaddr.h"

#define RESOLVE_MAX_ADDRS 16
#define RESOLVE_HOST_MAX 256

struct resolve_addr {
    struct sockaddr_storage sa; /* AF_INET or AF_INET6, port set */
    socklen_t len;
};

struct resolve_result {
    int error;    /* 0, or an EAI_* code: resolve_error_text() */
    unsigned n;
    struct resolve_addr addrs[RESOLVE_MAX_ADDRS];
};

enum resolve_state { RESOLVE_PENDING = 0, RESOLVE_DONE };

struct resolve_job;

/*
 * Starts resolving `host` for UDP `port`, keeping at most max_addrs addresses
 * (1..RESOLVE_MAX_ADDRS). A numeric host is done before this returns. NULL
 * only when no job could be made (memory, threads), with errno set.
 */
struct resolve_job *resolve_start(const char *host, uint16_t port, unsigned max_addrs);
/* Never blocks: RESOLVE_PENDING, or RESOLVE_DONE with *out filled (as often as asked). */
enum resolve_state resolve_poll(struct resolve_job *job, struct resolve_result *out);
/* Drops the caller's hold; a job still running is freed by its worker when it ends. */
void resolve_release(struct resolve_job *job);

/* Synchronous, numeric only: 0, or EAI_NONAME when `host` is a name. */
int resolve_numeric(const char *host, uint16_t port, unsigned max_addrs, struct resolve_result *out);
const char *resolve_error_text(int error);
/* The address without port, as the core's access lists and refids take it. */
void resolve_to_net_addr(const struct resolve_addr *a, struct net_addr *out);

#endif

/*
 * nts_ke_server: the NTS-KE server (RFC 8915 §4): TLS 1.3 only, ALPN ntske/1,
 * on TCP `ntsport` (4460) of every listen address.
 *
 * Owns: the listening sockets, the TLS context (certificate/key pairs,
 * replaced whole on SIGHUP while connections and cookies carry on), and one
 * thread of its own that serves every connection off the NTP serving path:
 * it waits in poll() over non-blocking sockets, so no client can hold it.
 * Bounded everywhere: at most NTS_KE_MAX_CONNECTIONS at once (when full, the
 * oldest of those that got least far is dropped for the newcomer, so idle and
 * slowloris connections cannot starve new clients), NTS_KE_MAX_PER_CLIENT from one address, each
 * closed NTS_KE_TIMEOUT seconds after it was accepted, a request of at most
 * NTS_KE_MAX_REQUEST bytes, and a per-address handshake rate limit
 * (`ntsratelimit`, core/ratelimit's token bucket). The thread also rotates
 * the cookie keys when their period ends.
 */
#ifndef HORLOGE_NTS_KE_SERVER_H
#define HORLOGE_NTS_KE_SERVER_H

#include <stdint.h>

#include "io/config.h"
#include "io/nts_keys.h"

#define NTS_KE_MAX_CONNECTIONS 256
#define NTS_KE_MAX_PER_CLIENT 8
#define NTS_KE_TIMEOUT 3.0
#define NTS_KE_MAX_REQUEST 1024
#define NTS_KE_CLIENT_TABLE 4096

struct nts_ke_counters {
    uint64_t accepted;
    uint64_t completed;     /* cookies handed out */
    uint64_t failed;        /* TLS or protocol failure, error record sent or not */
    uint64_t rate_limited;  /* refused by ntsratelimit or the per-address cap */
    uint64_t evicted;       /* dropped for a newcomer when the table was full */
    uint64_t timed_out;
};

struct nts_ke_server;

/* Binds the sockets and loads the certificates (before privileges are dropped). NULL on failure, logged. */
struct nts_ke_server *nts_ke_server_open(const struct config *cfg, struct nts_keys *keys);
/* Starts the thread (after detaching). 0, or -1 (logged). */
int nts_ke_server_start(struct nts_ke_server *s);
/* Loads the configuration's certificates anew; on failure (logged) the old ones stay. 0 or -1. */
int nts_ke_server_reload(struct nts_ke_server *s, const struct config *cfg);
void nts_ke_server_get_counters(struct nts_ke_server *s, struct nts_ke_counters *out);
/* Stops the thread, closes every connection and socket, frees `s`. */
void nts_ke_server_close(struct nts_ke_server *s);

#endif

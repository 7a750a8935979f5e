/*
 * ratelimit: per-client request accounting and rate limiting (config
 * `ratelimit interval I burst B leak L`), also the server's client log.
 *
 * Owns: a fixed-size hashed table of client entries in caller-provided
 * memory (bounded whatever the number of source addresses; a new client
 * evicts the least recently seen entry of its bucket, where a client seen
 * over a span of time counts as seen that much later, so a scan of one-shot
 * addresses cannot push out clients that keep coming back), a token bucket per
 * client, and the counts `horloge clients` shows. One table per worker: the
 * kernel's SO_REUSEPORT hashing keeps a client on one socket, so no locks.
 *
 * Token bucket: each reply costs 2^interval seconds of credit; a client may
 * hold at most burst * 2^interval. A request without enough credit is
 * limited: one in 2^leak limited requests is answered with a RATE
 * Kiss-o'-Death (so a real client learns to back off), the others dropped.
 * The addresses are hashed with a random key given at init, so an attacker
 * cannot aim collisions at a victim's entry.
 *
 * Each entry also keeps the client's last exchange for interleaved mode
 * (RFC 9769, chronyd's per-client record): the receive timestamp our last
 * reply carried and, for a client that asked in interleaved mode, the kernel
 * transmit timestamp of that reply once the shell has it.
 */
#ifndef HORLOGE_RATELIMIT_H
#define HORLOGE_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/netaddr.h"
#include "core/ntptime.h"

struct rl_params {
    bool enabled;        /* false: count clients, never limit */
    int interval_log2;   /* -4..12: minimum mean interval between replies, log2 seconds */
    unsigned burst;      /* 1..255 replies that may come back to back */
    unsigned leak_log2;  /* 0..4: one in 2^leak limited requests gets a RATE KoD */
};

enum rl_verdict { RL_PASS = 0, RL_DROP, RL_KOD };

struct rl_client_stats {
    struct net_addr addr;
    uint64_t requests;   /* all requests seen */
    uint64_t limited;    /* dropped or answered with KoD by the limiter */
    uint64_t kod_sent;
    uint64_t first_ns;   /* monotonic time of the first and last request */
    uint64_t last_ns;
};

/* A client's last exchange, as served (0: not known). */
struct rl_xleave {
    ntp_ts rx;   /* the receive timestamp our last reply to it carried */
    ntp_ts tx;   /* when that reply left (kernel timestamp), recorded only for interleaved clients */
};

struct rl_table;

/* Bytes of memory a table of `n_entries` (a power of two, >= 16) needs. */
size_t rl_table_bytes(unsigned n_entries);
/*
 * Lays a table out in `mem` (8-byte aligned, rl_table_bytes long, and ZERO-FILLED,
 * e.g. from calloc): the table never writes pages no client has reached, so a
 * large table costs memory only as clients arrive. NULL on bad sizes.
 */
struct rl_table *rl_table_init(void *mem, size_t mem_bytes, unsigned n_entries,
                               const struct rl_params *params, uint64_t hash_key);
/* Changes the limits (on reload); the entries stay. */
void rl_set_params(struct rl_table *table, const struct rl_params *params);
/* Counts a request from `client` at monotonic `now_ns` and says what to do with it. */
enum rl_verdict rl_check(struct rl_table *table, const struct net_addr *client, uint64_t now_ns);
/* rl_check that also lends the client's interleaved-mode record (valid until the next call). */
enum rl_verdict rl_check_client(struct rl_table *table, const struct net_addr *client, uint64_t now_ns,
                                struct rl_xleave **xleave);
/* The record of a client already in the table, or NULL (no entry is made). */
struct rl_xleave *rl_find_xleave(struct rl_table *table, const struct net_addr *client);
/* Copies up to `max` entries, busiest (most requests) first; returns how many. */
unsigned rl_top_clients(const struct rl_table *table, struct rl_client_stats *out, unsigned max);
/* Number of entries currently in use. */
unsigned rl_used_entries(const struct rl_table *table);

#endif

/*
 * serve: the serving policy, one request at a time.
 *
 * Owns: the order in which a request is judged — access list (drop, or a
 * DENY Kiss-o'-Death with `denyaction kod`), then the caller's rate-limit
 * table (drop, or one RATE Kiss-o'-Death in 2^leak), then the responder with
 * the server's authentication strategies — and the counters of what became
 * of every request, kept from those decisions' outcomes, never from reply
 * bytes. The shell receives, timestamps, sends and owns the memory (policy,
 * rate-limit table, counters); nothing here locks, allocates or copies.
 *
 * Interleaved mode (RFC 9769): the rate-limit table's entry of each client
 * keeps the receive timestamp of our last reply and, for interleaved clients
 * only, when that reply left; serve_request hands them to the responder and
 * tells the shell whether to ask the kernel when this reply leaves
 * (serve_record_departure), so basic clients cost no transmit timestamp.
 */
#ifndef HORLOGE_SERVE_H
#define HORLOGE_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/acl.h"
#include "core/auth.h"
#include "core/netaddr.h"
#include "core/ratelimit.h"
#include "core/responder.h"

/* Who is served and how; replaced whole on reload. */
struct serve_policy {
    struct acl acl;
    bool deny_kod;          /* a denied client gets a DENY KoD instead of nothing */
    struct auth_set auth;   /* server-side authentication strategies (auth.h) */
};

/* What became of the requests (all uint64_t: callers sum them field by field). */
struct serve_counters {
    uint64_t received;
    uint64_t replied;          /* time replies (mode 4 and mode 2) */
    uint64_t replied_sym;      /* of which mode 2 replies to symmetric active (w32time) */
    uint64_t replied_xleave;   /* of which interleaved replies (RFC 9769) */
    uint64_t kod_rate;
    uint64_t kod_deny;
    uint64_t denied;           /* refused by the access list (dropped or DENY KoD) */
    uint64_t rate_limited;     /* refused by the rate limiter (dropped or RATE KoD) */
    uint64_t malformed;        /* too short, bad version, bad extension fields or trailer */
    uint64_t bad_mode;         /* modes 0 (v2+), 2, 4, 5 */
    uint64_t control_mode;     /* modes 6 and 7 */
    uint64_t crypto_nak;       /* time replies with a crypto-NAK: a MAC of a key we do not hold */
    uint64_t auth_failed;      /* authentication a strategy refused */
    uint64_t no_room;          /* the reply would have been longer than the request */
    uint64_t deferred;         /* MS-SNTP requests handed to the signer (its own counters say what then) */
    uint64_t mssntp_extended;  /* MS-SNTP 120-byte ExtendedAuthenticator requests: not signable, dropped */
};

/* One received datagram, as the shell read it. */
struct serve_request {
    const struct net_addr *client;
    uint64_t mono_ns;        /* monotonic receive time, for the rate limiter */
    const uint8_t *bytes;
    size_t len;
    ntp_ts rx;               /* receive timestamp, as served */
    enum resp_outcome *outcome; /* optional: set to what became of it (RESP_DEFERRED: the shell signs) */
};

/* What the shell does about a reply's transmit timestamp. */
enum serve_tx {
    SERVE_TX_STAMP = 0,     /* write the send time into it just before sending (basic mode) */
    SERVE_TX_STAMP_RECORD,  /* the same, and pass the kernel's departure time to serve_record_departure */
    SERVE_TX_KEEP_RECORD,   /* keep it (interleaved: the last reply's departure); record this one's */
};

/* Serve everyone, drop the denied, authenticate with auth_none alone. */
void serve_policy_init(struct serve_policy *policy);

/*
 * Judges `rq` and builds its reply into `out`: returns the reply's length, or
 * 0 to send nothing. Every request is counted in `counters`, once as
 * received and once more for what became of it; `rl` learns of the client.
 * `tx` (may be NULL) says what to do with the reply's transmit timestamp.
 */
size_t serve_request(const struct serve_policy *policy, const struct resp_state *state,
                     struct rl_table *rl, const struct serve_request *rq, uint8_t *out,
                     size_t out_cap, struct serve_counters *counters, enum serve_tx *tx);

/*
 * The reply to `client` whose receive timestamp was `served_rx` left at
 * `departure` (served time): kept for the client's next interleaved request,
 * unless the client has been answered again or evicted since.
 */
void serve_record_departure(struct rl_table *rl, const struct net_addr *client, ntp_ts served_rx,
                            ntp_ts departure);

#endif

/*
 * assoc: one upstream association, sans-IO — the client state machine of a
 * server (core/source) wired to the synchronisation engine (core/sync).
 * horloged (io/upstream) and the simulator (tests/sim/sim_world) drive this
 * same object; they only move bytes, timestamps and timers.
 *
 * Owns the sequence of an association: requests built with the poll the
 * discipline recommends (source clamps it to minpoll/maxpoll and any RATE
 * floor); the engine told of each poll, here and nowhere else; T1
 * corrections; replies judged; samples fed to the engine and its new
 * recommended poll applied; Kiss-o'-Death acted on (DENY/RSTR take the source
 * out of the engine for good); and the action left to the shell, returned.
 * The reach register and the poll exponent in use are the source's; the
 * engine only hears whether the source is reachable or still pending.
 *
 * Use, per server address:
 *   assoc_init(&a, &sync, &params, auth)   registers with the engine (-1: full)
 *   when assoc_time_to_poll(&a, now) <= 0:
 *       n = assoc_build_request(&a, now, random64, buf, cap);
 *       if (n) send the n bytes, then assoc_sent(&a, t1) with the best T1 known;
 *   on a datagram from the server: o = assoc_handle_reply(&a, buf, len, rx);
 *       ASSOC_SAMPLED:    the engine's state may have changed: republish it;
 *       ASSOC_BACKED_OFF: RATE, the poll went up (log it);
 *       ASSOC_REMOVED:    DENY/RSTR: close the socket, never ask that address again;
 *       o.poll_changed:   the next request's time moved: re-arm the poll timer.
 *   assoc_remove(&a) when the shell gives the server up (a lost pool member).
 * Times are local clock readings as NTP timestamps, as source.h says.
 *
 * Authentication: `auth` is the association's strategy (core/auth.h; none
 * given: auth_none). assoc_build_request lets its build_request append a MAC
 * or extension fields (up to `cap`) to the 48-byte request src_build_request
 * wrote, and assoc_handle_reply lets its check_reply judge a datagram before
 * the source does: a refusal is counted (SRC_DROP_AUTH) and leaves the
 * request outstanding, so a forged reply cannot consume it. source.c itself
 * stays unaware of authentication.
 */
#ifndef HORLOGE_ASSOC_H
#define HORLOGE_ASSOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/source.h"
#include "core/sync.h"

#include "core/auth.h"

/* What the shell must do after a reply. */
enum assoc_action {
    ASSOC_NONE = 0,    /* dropped (the verdict says why; counted by the source) */
    ASSOC_SAMPLED,     /* a sample went to the engine */
    ASSOC_BACKED_OFF,  /* Kiss-o'-Death RATE: the poll was raised */
    ASSOC_REMOVED,     /* Kiss-o'-Death DENY or RSTR: out of the engine for good */
};

struct assoc_outcome {
    enum src_verdict verdict;
    enum assoc_action action;
    bool poll_changed; /* the time of the next request moved */
};

/* The caller owns it. `src` may be read through source.h's accessors. */
struct assoc {
    struct source src;
    struct sync *sync;
    int sync_index;    /* the engine's index of this source */
    struct auth_instance auth;
};

/* Registers a new source with the engine; 0, or -1 when the engine has no room. */
int assoc_init(struct assoc *a, struct sync *sync, const struct src_params *params,
               const struct auth_instance *auth);
/* Seconds until the next request is due (<= 0: now); SRC_NEVER once removed. */
double assoc_time_to_poll(const struct assoc *a, ntp_ts now);
/* The next request into buf (see src_build_request); tells the engine of the poll. 0: none. */
size_t assoc_build_request(struct assoc *a, ntp_ts now, uint64_t random64, uint8_t *buf, size_t cap);
/* The request just built left at `t1` (a kernel TX timestamp, or a read right after sending). */
void assoc_sent(struct assoc *a, ntp_ts t1);
/* Judges a datagram from the server received at local time `rx`, and acts on it. */
struct assoc_outcome assoc_handle_reply(struct assoc *a, const uint8_t *buf, size_t len, ntp_ts rx);
/* Takes the source out of the engine for good (its index may go to a later source). */
void assoc_remove(struct assoc *a);

#endif

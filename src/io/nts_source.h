/*
 * nts_source: an upstream source's NTS-KE handshakes, run in the daemon's
 * event loop (non-blocking TLS on a loop-registered descriptor, a loop timer
 * for its time limit and retries), so `threads 0` stays one poll() loop.
 *
 * Owns: the source's NTS session (io/nts_client, the association's strategy),
 * the handshake under way, its retry schedule (doubling from 2 s to 1024 s
 * after failures), and the session saved to `ntsdumpdir` (keys and cookies,
 * written atomically after each handshake and at stop, read at start) so a
 * restart needs no new handshake. A handshake is started when the source is
 * about to poll and has no session or cookies left, or after an NTS NAK.
 */
#ifndef HORLOGE_NTS_SOURCE_H
#define HORLOGE_NTS_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/auth.h"
#include "core/netaddr.h"
#include "io/config.h"
#include "io/control.h"
#include "io/loop.h"
#include "io/nts_client.h"
#include "io/nts_ke_client.h"

#define NTS_SOURCE_KE_TIMEOUT 10.0
#define NTS_SOURCE_RETRY_MIN 2.0
#define NTS_SOURCE_RETRY_MAX 1024.0

/* Called when a handshake gave a session: the NTP port the server named (0: keep the configured one). */
typedef void (*nts_source_ready_fn)(void *ctx, uint16_t ntp_port);

struct nts_source {
    struct nts_client session;
    struct nts_ke_client ke;
    struct loop *loop;
    bool ke_running;
    int timer;                    /* time limit of the handshake, or the next retry */
    double retry_after;           /* seconds, doubled on each failure */
    double not_before;            /* loop time before which no handshake starts */
    struct net_addr addr;
    uint16_t ke_port;
    char host[CFG_HOST_MAX];
    char trusted[CFG_PATH_MAX];
    char save_path[CFG_PATH_MAX + 128];
    nts_source_ready_fn ready;
    void *ready_ctx;
    uint64_t handshakes, failures;
};

/* 0, or -1 when the loop has no room (logged). Reads a saved session when there is one. */
int nts_source_init(struct nts_source *s, struct loop *loop, const struct cfg_source *cs,
                    const struct net_addr *addr, const struct config *cfg, nts_source_ready_fn ready, void *ctx);
/* The association's strategy. */
struct auth_instance nts_source_auth(struct nts_source *s);
/* Before each request: starts a handshake when the session needs one (and no retry is pending). */
void nts_source_poll(struct nts_source *s);
/* sourcestats' NTS lines: handshakes, their failures, replies authenticated and refused, NAKs, cookies held. */
void nts_source_report(const struct nts_source *s, struct kv_out *out);
/* Saves the session, ends any handshake, frees the timer. */
void nts_source_close(struct nts_source *s);

#endif

/*
 * nts_client: NTS (RFC 8915) on an upstream source's NTP path, as the
 * association's authentication strategy (core/auth.h client hooks).
 *
 * Owns: one source's NTS session — the C2S/S2C keys and the cookies an NTS-KE
 * handshake gave, the Unique Identifier of the request outstanding — and the
 * rules: every request carries a fresh Unique Identifier, one cookie (used
 * once) and placeholders asking for as many cookies as we lack; a reply counts
 * only when it echoes that identifier and its Authenticator opens under the
 * S2C key, whose fresh cookies are then kept. An NTS NAK (Kiss-o'-Death NTSN
 * echoing the identifier) drops the session. Without keys or cookies no
 * request is built at all: a source failing NTS is never used unauthenticated.
 */
#ifndef HORLOGE_NTS_CLIENT_H
#define HORLOGE_NTS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/auth.h"
#include "core/nts.h"

#define NTS_CLIENT_UID_LEN 32

struct nts_client {
    bool have_keys;
    bool nak;                          /* an NTS NAK arrived: the session is over */
    struct nts_session_keys keys;
    unsigned n_cookies;                /* cookies[0..n) held, the last one used next */
    uint16_t cookie_len[NTS_COOKIES_PER_KE];
    uint8_t cookies[NTS_COOKIES_PER_KE][NTS_COOKIE_MAX_LEN];
    bool outstanding;
    uint8_t uid[NTS_CLIENT_UID_LEN];
    uint64_t authenticated, refused, naks;
};

/* A new session from an NTS-KE handshake's keys and cookies. */
void nts_client_start_session(struct nts_client *c, const struct nts_session_keys *keys,
                              const struct nts_ke_response *resp);
/* Whether an NTS-KE handshake is needed before the next request. */
bool nts_client_needs_ke(const struct nts_client *c);

/* The client hooks of auth_nts (io/auth_nts.h), ctx a struct nts_client: see auth_ops. */
size_t nts_client_build_request(void *ctx, uint8_t *pkt, size_t len, size_t cap);
bool nts_client_check_reply(void *ctx, const uint8_t *pkt, size_t len, const struct ntp_layout *layout);

#endif

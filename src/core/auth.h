/*
 * auth: the authentication seam, one strategy per association (client side)
 * or per kind of authenticated request (server side).
 *
 * Owns: the strategy table `struct auth_ops` and the order in which the
 * server asks its strategies about a request. A strategy is a const table of
 * hooks plus a context it owns (keys, cookies, a signing queue), kept in the
 * caller's memory: the core allocates nothing and holds no state.
 *
 *   client side (a source, per association):
 *     build_request  appends what the request needs after the 48-byte header
 *                    (MAC, extension fields) and returns the new length;
 *     check_reply    says whether a reply's authentication is acceptable.
 *   server side (the responder, per request):
 *     check_request  recognises the request's authentication, or says
 *                    AUTH_NOT_MINE so the next strategy is asked, and notes in
 *                    `info` what sealing the reply will need;
 *     seal_reply     appends to the encoded reply header whatever the verdict
 *                    calls for, never past `cap`. The responder makes `cap` the
 *                    smaller of the request's length and its buffer, and drops
 *                    a reply a strategy made longer: that check is the one place
 *                    where "a reply is never longer than its request" holds.
 *
 * The server asks the strategies of its `struct auth_set` in order; a request
 * none claims falls to `auth_none`: plain requests get plain replies, and a
 * request carrying a MAC of a key nobody holds gets a crypto-NAK (RFC 5905
 * §9.2). Each strategy is a file auth_NAME.c defining `const struct auth_ops
 * auth_NAME` and one entry in auth.c's registry (so configuration finds it
 * by name); auth_symkey and auth_mssntp exist, NTS is to come:
 *   - symmetric keys (RFC 5905 MAC with MD5/SHA-1, RFC 8573 AES-CMAC): the
 *     context is the key table; check_request claims a request whose key id
 *     it holds (AUTH_VALID, or AUTH_INVALID on a wrong digest; an unknown id
 *     it leaves to auth_none's crypto-NAK), seal_reply appends key id and
 *     digest (4 + 16 or 20 bytes, which the request's own MAC made room for);
 *     build_request/check_reply do the same for a source's `key N`.
 *   - NTS (RFC 8915): check_request claims a request with a Unique Identifier
 *     and an NTS Cookie extension field, decrypts the cookie with the
 *     context's server keys and keeps the S2C key in info->data; seal_reply
 *     appends the Unique Identifier and the encrypted fields with fresh
 *     cookies, as many as the request's placeholders made room for (`cap`).
 *   - MS-SNTP (Samba-signed, 68-byte requests from domain members): check_request
 *     claims a 68-byte request whose key id no earlier strategy holds (an
 *     account RID); Samba signs asynchronously, so check_request sets
 *     info->deferred and seal_reply leaves the 48-byte reply unsigned: the
 *     responder reports RESP_DEFERRED and the shell queues the reply for
 *     Samba's socket (io/ntpsignd). That mark is the one addition to the
 *     seam it brings.
 */
#ifndef HORLOGE_AUTH_H
#define HORLOGE_AUTH_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/packet.h"

/* Specialised server strategies a server may hold, tried in order before auth_none. */
#define AUTH_SET_MAX 4
/* What a strategy may keep between check_request and seal_reply (an NTS S2C key and nonce). */
#define AUTH_INFO_DATA_LEN 128
/* A crypto-NAK: a MAC of a zero key id and no digest (RFC 5905 §9.2). */
#define AUTH_CRYPTO_NAK_LEN 4

enum auth_verdict {
    AUTH_NOT_MINE = 0, /* not this strategy's kind of authentication: ask the next */
    AUTH_PLAIN,        /* unauthenticated: a plain reply */
    AUTH_VALID,        /* authenticated: a sealed reply */
    AUTH_CRYPTO_NAK,   /* authenticated with a key we do not hold: a reply with a crypto-NAK */
    AUTH_INVALID,      /* authentication that fails: no reply */
};

const char *auth_verdict_name(enum auth_verdict verdict);

struct auth_instance;

/* What check_request learnt, for seal_reply. Lives on the stack per request; not zeroed. */
struct auth_request_info {
    const struct auth_instance *strategy; /* whose verdict this is (set by auth_check_request) */
    enum auth_verdict verdict;
    uint32_t key_id;                      /* the request's key id (MAC, MS-SNTP RID), 0 if none */
    bool deferred;                        /* sealed later, by the shell (MS-SNTP's signer) */
    alignas(8) uint8_t data[AUTH_INFO_DATA_LEN];
};

struct auth_ops {
    const char *name;
    /* client side */
    size_t (*build_request)(void *ctx, uint8_t *pkt, size_t len, size_t cap);
    bool (*check_reply)(void *ctx, const uint8_t *pkt, size_t len, const struct ntp_layout *layout);
    /* server side */
    enum auth_verdict (*check_request)(void *ctx, const uint8_t *req, size_t len,
                                       const struct ntp_layout *layout, struct auth_request_info *info);
    /* `len` bytes of reply are encoded; returns the new length (<= cap), or 0 for no reply. */
    size_t (*seal_reply)(void *ctx, const struct auth_request_info *info, uint8_t *reply, size_t len,
                         size_t cap_never_above_request_len);
};

/* A strategy and its context: a source's authenticator, or one of the server's. */
struct auth_instance {
    const struct auth_ops *ops;
    void *ctx;
};

/* The server's strategies, asked in order; auth_none answers what none of them claims. */
struct auth_set {
    unsigned n;
    struct auth_instance strategies[AUTH_SET_MAX];
};

/* No authentication: requests go out plain, any reply is accepted (its MAC ignored, as chrony does). */
extern const struct auth_ops auth_none;

/* The registered strategies by name ("none"), for configuration; NULL when unknown. */
const struct auth_ops *auth_find(const char *name);

/* An empty set: every request is auth_none's. */
void auth_set_init(struct auth_set *set);
/* Appends a strategy; false when the set is full. */
bool auth_set_add(struct auth_set *set, const struct auth_ops *ops, void *ctx);

/* Asks the set's strategies, then auth_none, and records the verdict and its owner in `info`. */
enum auth_verdict auth_check_request(const struct auth_set *set, const uint8_t *req, size_t len,
                                     const struct ntp_layout *layout, struct auth_request_info *info);
/* Lets the strategy that judged the request seal its reply (see auth_ops.seal_reply). */
size_t auth_seal_reply(const struct auth_request_info *info, uint8_t *reply, size_t len, size_t cap);

/* Appends a crypto-NAK at `len`; returns the new length, or 0 if it does not fit in `cap`. */
size_t auth_append_crypto_nak(uint8_t *reply, size_t len, size_t cap);

#endif

/* auth_nts: NTS request judging and reply sealing; see auth_nts.h. */
#include "io/auth_nts.h"

#include <string.h>

#include <openssl/crypto.h>

#include "core/nts.h"
#include "io/nts_client.h"
#include "io/nts_crypto.h"
#include "io/nts_keys.h"

#define NTP_REFID_OFF 12
#define NTP_STRATUM_OFF 1

/* What check_request hands seal_reply in info->data; the request outlives both calls. */
struct nts_plan {
    const uint8_t *req;
    uint16_t uid_off, uid_len;
    uint8_t nak;
    uint8_t cookies_wanted;
    struct nts_session_keys keys;
};
_Static_assert(sizeof(struct nts_plan) <= AUTH_INFO_DATA_LEN, "an NTS plan fits in auth_request_info");

static bool request_authenticates(const uint8_t *req, const struct nts_fields *f, const struct nts_session_keys *keys)
{
    uint8_t plain[NTP_MAX_PACKET_LEN];
    return nts_aead_open(keys->c2s, req + f->nonce_off, f->nonce_len, req, f->auth_off, req + f->sealed_off,
                         f->sealed_len, plain);
}

static enum auth_verdict nts_check_request(void *ctx, const uint8_t *req, size_t len,
                                           const struct ntp_layout *layout, struct auth_request_info *info)
{
    (void)len;
    struct nts_fields f;
    enum nts_parse parsed = nts_parse_request(req, layout, &f);
    if (parsed == NTS_NOT_NTS)
        return AUTH_NOT_MINE;
    if (parsed == NTS_MALFORMED || f.uid_len > UINT16_MAX)
        return AUTH_INVALID;
    struct nts_plan *plan = (struct nts_plan *)info->data;
    memset(plan, 0, sizeof *plan);
    plan->req = req;
    plan->uid_off = (uint16_t)f.uid_off;
    plan->uid_len = (uint16_t)f.uid_len;
    unsigned wanted = 1 + f.placeholders;
    plan->cookies_wanted = (uint8_t)(wanted > NTS_COOKIES_PER_KE ? NTS_COOKIES_PER_KE : wanted);
    struct nts_keys *keys = ctx;
    plan->nak = !nts_cookie_open(keys, req + f.cookie_off, f.cookie_len, &plan->keys) ||
                !request_authenticates(req, &f, &plan->keys);
    atomic_fetch_add_explicit(plan->nak ? &keys->requests_nak : &keys->requests_valid, 1, memory_order_relaxed);
    return AUTH_VALID;
}

/* RFC 8915 §5.7: a Kiss-o'-Death NTSN carrying the request's Unique Identifier, nothing authenticated. */
static size_t seal_nak(const struct nts_plan *plan, uint8_t *reply, size_t len, size_t cap)
{
    reply[0] = (uint8_t)(reply[0] | 0xc0);
    reply[NTP_STRATUM_OFF] = 0;
    store_be32(reply + NTP_REFID_OFF, pkt_refid_ascii("NTSN"));
    size_t pos = len;
    return nts_ef_put(reply, cap, &pos, NTS_EF_UID, plan->req + plan->uid_off, plan->uid_len) ? pos : 0;
}

/* As many fresh cookies as were asked for and fit, as Cookie fields in `plain`; their total length. */
static size_t make_cookies(struct nts_keys *keys, const struct nts_plan *plan, size_t room, uint8_t *plain)
{
    size_t one = nts_ef_size(NTS_COOKIE_LEN), pos = 0;
    for (unsigned i = 0; i < plan->cookies_wanted && room >= one * (i + 1); i++) {
        uint8_t cookie[NTS_COOKIE_LEN];
        if (!nts_cookie_make(keys, &plan->keys, cookie) ||
            !nts_ef_put(plain, NTP_MAX_PACKET_LEN, &pos, NTS_EF_COOKIE, cookie, sizeof cookie))
            break;
    }
    return pos;
}

static size_t nts_seal_reply(void *ctx, const struct auth_request_info *info, uint8_t *reply, size_t len,
                             size_t cap)
{
    const struct nts_plan *plan = (const struct nts_plan *)info->data;
    if (plan->nak)
        return seal_nak(plan, reply, len, cap);
    size_t pos = len;
    if (!nts_ef_put(reply, cap, &pos, NTS_EF_UID, plan->req + plan->uid_off, plan->uid_len))
        return 0;
    size_t fixed = nts_auth_size(NTS_NONCE_LEN, NTS_TAG_LEN);
    if (cap < pos + fixed)
        return 0;
    uint8_t plain[NTP_MAX_PACKET_LEN];
    size_t plain_len = make_cookies(ctx, plan, cap - pos - fixed, plain);
    uint8_t nonce[NTS_NONCE_LEN];
    struct nts_fields f;
    bool ok = nts_random_nonce(nonce, sizeof nonce) &&
              nts_auth_put(reply, cap, &pos, nonce, sizeof nonce, NTS_TAG_LEN + plain_len, &f) &&
              nts_aead_seal(plan->keys.s2c, nonce, sizeof nonce, reply, f.auth_off, plain, plain_len,
                            reply + f.sealed_off);
    OPENSSL_cleanse(plain, plain_len);
    return ok ? pos : 0;
}

const struct auth_ops auth_nts = {
    .name = "nts",
    .build_request = nts_client_build_request,
    .check_reply = nts_client_check_reply,
    .check_request = nts_check_request,
    .seal_reply = nts_seal_reply,
};

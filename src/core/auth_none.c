/*
 * auth_none: no authentication (see auth.h). Owns the plain exchange and the
 * crypto-NAK a server answers a MAC with when no strategy holds its key.
 */
#include "core/auth.h"

static size_t none_build_request(void *ctx, uint8_t *pkt, size_t len, size_t cap)
{
    (void)ctx, (void)pkt, (void)cap;
    return len;
}

static bool none_check_reply(void *ctx, const uint8_t *pkt, size_t len, const struct ntp_layout *layout)
{
    (void)ctx, (void)pkt, (void)len, (void)layout;
    return true;
}

/*
 * A 4-byte trailer is itself a crypto-NAK, not a MAC to refuse: answered
 * plain. Any longer MAC names a key no strategy claimed (RFC 5905 §9.2).
 */
static enum auth_verdict none_check_request(void *ctx, const uint8_t *req, size_t len,
                                            const struct ntp_layout *layout,
                                            struct auth_request_info *info)
{
    (void)ctx, (void)req, (void)len, (void)info;
    if (layout->has_mac && layout->mac_len > AUTH_CRYPTO_NAK_LEN)
        return AUTH_CRYPTO_NAK;
    return AUTH_PLAIN;
}

static size_t none_seal_reply(void *ctx, const struct auth_request_info *info, uint8_t *reply,
                              size_t len, size_t cap)
{
    (void)ctx;
    if (info->verdict == AUTH_CRYPTO_NAK)
        return auth_append_crypto_nak(reply, len, cap);
    return len;
}

const struct auth_ops auth_none = {
    .name = "none",
    .build_request = none_build_request,
    .check_reply = none_check_reply,
    .check_request = none_check_request,
    .seal_reply = none_seal_reply,
};

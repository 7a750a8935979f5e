/*
 * auth: the strategy registry, the server's order of asking, and auth_none,
 * the fallback every server has; see auth.h. auth_none lives here, not in a
 * file of its own like the strategies to come, so that the serving hot path
 * (almost every request is plain) judges and seals without an indirect call.
 */
#include "core/auth.h"

#include "core/auth_mssntp.h"
#include "core/auth_symkey.h"

#include <string.h>

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

/* The fallback every server has; it keeps no state, so one shared instance serves all. */
static const struct auth_instance fallback = {.ops = &auth_none, .ctx = NULL};

/* Every strategy, for configuration by name: a new authenticator adds its line here. */
static const struct auth_ops *const registry[] = {
    &auth_none,
    &auth_symkey,
    &auth_mssntp,
};


const char *auth_verdict_name(enum auth_verdict verdict)
{
    switch (verdict) {
    case AUTH_NOT_MINE: return "not-mine";
    case AUTH_PLAIN: return "plain";
    case AUTH_VALID: return "valid";
    case AUTH_CRYPTO_NAK: return "crypto-nak";
    case AUTH_INVALID: return "invalid";
    }
    return "unknown";
}

const struct auth_ops *auth_find(const char *name)
{
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
        if (strcmp(registry[i]->name, name) == 0)
            return registry[i];
    return NULL;
}

void auth_set_init(struct auth_set *set)
{
    set->n = 0;
}

bool auth_set_add(struct auth_set *set, const struct auth_ops *ops, void *ctx)
{
    if (set->n >= AUTH_SET_MAX)
        return false;
    set->strategies[set->n++] = (struct auth_instance){.ops = ops, .ctx = ctx};
    return true;
}

/* The set's strategies in order; the verdict of the first that claims the request, or NOT_MINE. */
static enum auth_verdict ask_set(const struct auth_set *set, const uint8_t *req, size_t len,
                                 const struct ntp_layout *layout, struct auth_request_info *info)
{
    for (unsigned i = 0; i < set->n; i++) {
        const struct auth_instance *s = &set->strategies[i];
        info->strategy = s;
        info->verdict = s->ops->check_request(s->ctx, req, len, layout, info);
        if (info->verdict != AUTH_NOT_MINE)
            return info->verdict;
    }
    return AUTH_NOT_MINE;
}

enum auth_verdict auth_check_request(const struct auth_set *set, const uint8_t *req, size_t len,
                                     const struct ntp_layout *layout, struct auth_request_info *info)
{
    info->key_id = layout->has_mac ? layout->key_id : 0;
    info->deferred = false;
    if (set && set->n > 0 && ask_set(set, req, len, layout, info) != AUTH_NOT_MINE)
        return info->verdict;
    info->strategy = &fallback;
    info->verdict = none_check_request(NULL, req, len, layout, info);
    return info->verdict;
}

size_t auth_seal_reply(const struct auth_request_info *info, uint8_t *reply, size_t len, size_t cap)
{
    const struct auth_instance *s = info->strategy;
    if (s == &fallback)
        return none_seal_reply(NULL, info, reply, len, cap);
    return s->ops->seal_reply(s->ctx, info, reply, len, cap);
}

size_t auth_append_crypto_nak(uint8_t *reply, size_t len, size_t cap)
{
    if (len > cap || cap - len < AUTH_CRYPTO_NAK_LEN)
        return 0;
    store_be32(reply + len, 0);
    return len + AUTH_CRYPTO_NAK_LEN;
}

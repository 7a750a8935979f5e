/* auth: the strategy registry and the server's order of asking; see auth.h. */
#include "core/auth.h"

#include <string.h>

/* Every strategy, for configuration by name: a new authenticator adds its line here. */
static const struct auth_ops *const registry[] = {
    &auth_none,
};

/* The fallback every server has; it keeps no state, so one shared instance serves all. */
static const struct auth_instance fallback = {.ops = &auth_none, .ctx = NULL};

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

static enum auth_verdict ask(const struct auth_instance *strategy, const uint8_t *req, size_t len,
                             const struct ntp_layout *layout, struct auth_request_info *info)
{
    info->strategy = strategy;
    info->verdict = strategy->ops->check_request(strategy->ctx, req, len, layout, info);
    return info->verdict;
}

enum auth_verdict auth_check_request(const struct auth_set *set, const uint8_t *req, size_t len,
                                     const struct ntp_layout *layout, struct auth_request_info *info)
{
    info->key_id = layout->has_mac ? layout->key_id : 0;
    for (unsigned i = 0; set && i < set->n; i++)
        if (ask(&set->strategies[i], req, len, layout, info) != AUTH_NOT_MINE)
            return info->verdict;
    /* auth_none claims everything: a NOT_MINE from it would be a broken fallback, so refuse. */
    if (ask(&fallback, req, len, layout, info) == AUTH_NOT_MINE)
        info->verdict = AUTH_INVALID;
    return info->verdict;
}

size_t auth_seal_reply(const struct auth_request_info *info, uint8_t *reply, size_t len, size_t cap)
{
    const struct auth_instance *s = info->strategy;
    return s->ops->seal_reply(s->ctx, info, reply, len, cap);
}

size_t auth_append_crypto_nak(uint8_t *reply, size_t len, size_t cap)
{
    if (len > cap || cap - len < AUTH_CRYPTO_NAK_LEN)
        return 0;
    store_be32(reply + len, 0);
    return len + AUTH_CRYPTO_NAK_LEN;
}

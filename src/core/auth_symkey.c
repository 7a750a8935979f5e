/* auth_symkey: symmetric-key MACs as an auth strategy; see auth_symkey.h. */
#include "core/auth_symkey.h"

#include "core/packet.h"

/* A context without keys (no keyfile) holds none. */
static const struct key_entry *find_key(const struct symkey_ctx *ctx, uint32_t id)
{
    return ctx->keys ? keys_find(ctx->keys, id) : NULL;
}

size_t symkey_append_mac(const struct symkey_ctx *ctx, const struct key_entry *key, uint8_t *pkt,
                         size_t len, size_t cap, size_t digest_len)
{
    if (len > cap || cap - len < 4 + digest_len || !key_digest_len_ok(key->type, digest_len))
        return 0;
    uint8_t digest[KEY_DIGEST_MAX];
    if (ctx->crypto->mac(ctx->crypto->impl, key, pkt, len, digest) != key_digest_len(key->type))
        return 0;
    store_be32(pkt + len, key->id);
    for (size_t i = 0; i < digest_len; i++)
        pkt[len + 4 + i] = digest[i];
    return len + 4 + digest_len;
}

bool symkey_mac_valid(const struct symkey_ctx *ctx, const struct key_entry *key, const uint8_t *pkt,
                      const struct ntp_layout *layout)
{
    size_t digest_len = layout->mac_len - 4;
    if (!layout->has_mac || layout->mac_len < 4 || !key_digest_len_ok(key->type, digest_len))
        return false;
    return ctx->crypto->verify(ctx->crypto->impl, key, pkt, layout->mac_offset, pkt + layout->mac_offset + 4,
                               digest_len);
}

static size_t symkey_build_request(void *c, uint8_t *pkt, size_t len, size_t cap)
{
    const struct symkey_ctx *ctx = c;
    const struct key_entry *key = find_key(ctx, ctx->key_id);
    unsigned version = len > 0 ? (pkt[0] >> 3) & 7 : 4;
    return key ? symkey_append_mac(ctx, key, pkt, len, cap, key_digest_len_for(key->type, version)) : 0;
}

/* A reply must carry our key's valid MAC: a plain reply or a crypto-NAK is not authentic. */
static bool symkey_check_reply(void *c, const uint8_t *pkt, size_t len, const struct ntp_layout *layout)
{
    (void)len;
    const struct symkey_ctx *ctx = c;
    const struct key_entry *key = find_key(ctx, ctx->key_id);
    return key && layout->has_mac && layout->key_id == ctx->key_id && symkey_mac_valid(ctx, key, pkt, layout);
}

/*
 * Only MACs of keys we hold are ours; info->key_id (set by auth_check_request) names the key to seal
 * with, and info->data[0] the request's digest length, which the reply's MAC repeats.
 */
static enum auth_verdict symkey_check_request(void *c, const uint8_t *req, size_t len,
                                              const struct ntp_layout *layout, struct auth_request_info *info)
{
    (void)len;
    const struct symkey_ctx *ctx = c;
    if (!layout->has_mac || layout->mac_len <= AUTH_CRYPTO_NAK_LEN)
        return AUTH_NOT_MINE;
    const struct key_entry *key = find_key(ctx, layout->key_id);
    if (!key)
        return AUTH_NOT_MINE;
    info->data[0] = (uint8_t)(layout->mac_len - 4);
    return symkey_mac_valid(ctx, key, req, layout) ? AUTH_VALID : AUTH_INVALID;
}

static size_t symkey_seal_reply(void *c, const struct auth_request_info *info, uint8_t *reply, size_t len,
                                size_t cap)
{
    const struct symkey_ctx *ctx = c;
    const struct key_entry *key = find_key(ctx, info->key_id);
    return key ? symkey_append_mac(ctx, key, reply, len, cap, info->data[0]) : 0;
}

const struct auth_ops auth_symkey = {
    .name = "symkey",
    .build_request = symkey_build_request,
    .check_reply = symkey_check_reply,
    .check_request = symkey_check_request,
    .seal_reply = symkey_seal_reply,
};

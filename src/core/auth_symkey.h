/*
 * auth_symkey: symmetric-key MACs (RFC 5905 §7.3 with MD5/SHA-1/SHA-256,
 * RFC 8573 AES-CMAC), client and server side, as an auth strategy (auth.h).
 *
 * Owns: where the MAC goes and what it covers — key id then digest after the
 * header (and any extension fields), the digest over every byte before the
 * key id — and the verdicts: a request whose key this table holds is
 * AUTH_VALID (sealed with that same key) or AUTH_INVALID (wrong length or
 * digest: no reply); one whose key it lacks is not its own, so auth_none
 * crypto-NAKs it (or MS-SNTP claims it), never a reply signed with another
 * key. The arithmetic and the constant-time comparison are the shell's
 * (`struct symkey_crypto`, OpenSSL in io/symkeys), so the core stays pure.
 */
#ifndef HORLOGE_AUTH_SYMKEY_H
#define HORLOGE_AUTH_SYMKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/auth.h"
#include "core/keys.h"

struct symkey_crypto {
    /* The digest of `data` under `key` into out (KEY_DIGEST_MAX bytes); its length, or 0 on failure. */
    size_t (*mac)(void *impl, const struct key_entry *key, const uint8_t *data, size_t len, uint8_t *out);
    /* Whether `mac` of mac_len bytes is the digest of `data` under `key`, compared in constant time. */
    bool (*verify)(void *impl, const struct key_entry *key, const uint8_t *data, size_t len,
                   const uint8_t *mac, size_t mac_len);
    void *impl;
};

/* A strategy's context: the keys (read, never written, while serving) and the crypto. */
struct symkey_ctx {
    const struct key_table *keys;
    const struct symkey_crypto *crypto;
    uint32_t key_id; /* client side: the association's `key N`; unused on the server side */
};

extern const struct auth_ops auth_symkey;

/* Appends key id and the first `digest_len` bytes of pkt[0..len)'s MAC under `key` (key_digest_len_ok);
   the new length, or 0 if it does not fit `cap`. */
size_t symkey_append_mac(const struct symkey_ctx *ctx, const struct key_entry *key, uint8_t *pkt,
                         size_t len, size_t cap, size_t digest_len);
/* Whether the packet's MAC (at layout->mac_offset) is `key`'s over the bytes before it. */
bool symkey_mac_valid(const struct symkey_ctx *ctx, const struct key_entry *key, const uint8_t *pkt,
                      const struct ntp_layout *layout);

#endif

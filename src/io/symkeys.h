/*
 * symkeys: the daemon's symmetric keys (`keyfile`) and their MAC arithmetic.
 *
 * Owns: the key table every symkey context reads (the server's and each
 * `server ... key N` source's), reading the key file (errors and warnings
 * logged as `file:line: message`), and the OpenSSL side of core/auth_symkey:
 * digest-of-key-then-packet for MD5/SHA1/SHA256 (RFC 5905 §7.3, the whole
 * digest, as chronyd computes it), AES-CMAC through EVP_MAC (RFC 8573),
 * and CRYPTO_memcmp for the comparison. The table is replaced in place on
 * reload, while the serving threads are held between batches (server.h).
 */
#ifndef HORLOGE_SYMKEYS_H
#define HORLOGE_SYMKEYS_H

#include <stdbool.h>

#include "core/auth_symkey.h"
#include "core/keys.h"

/* The key file is a text file of at most KEYS_MAX lines; anything larger is not one. */
#define SYMKEYS_FILE_MAX (64 * 1024)

struct symkeys {
    struct key_table table;
    struct symkey_crypto crypto;
    struct symkey_ctx server_ctx; /* the serving side's context (no key id of its own) */
    void *cmac;                   /* the fetched EVP_MAC, shared read-only by every thread */
};

/* Empty table; the crypto comes with symkeys_enable(). */
void symkeys_init(struct symkeys *k);
/*
 * Readies the crypto before the first keys are installed (a no-op after):
 * 0, or -1 (logged) when OpenSSL has no CMAC.
 */
int symkeys_enable(struct symkeys *k);
/* Reads and parses `path` into `out`, logging each problem. 0, or -1 when it cannot be used. */
int symkeys_read(const char *path, struct key_table *out);
/* A client context for `key N` over these keys. */
struct symkey_ctx symkeys_client_ctx(const struct symkeys *k, uint32_t key_id);
void symkeys_close(struct symkeys *k);

#endif

/* symkeys: the key file and OpenSSL MACs; see symkeys.h. */
#include "io/symkeys.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "io/fileutil.h"
#include "io/log.h"

static const EVP_MD *hash_of(enum key_type type)
{
    switch (type) {
    case KEY_MD5: return EVP_md5();
    case KEY_SHA1: return EVP_sha1();
    case KEY_SHA256: return EVP_sha256();
    default: return NULL;
    }
}

/* RFC 5905 §7.3's construction, as ntpd and chrony compute it: H(key || packet). */
static size_t hash_mac(const struct key_entry *key, const uint8_t *data, size_t len, uint8_t *out)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    bool ok = ctx && EVP_DigestInit_ex(ctx, hash_of(key->type), NULL) == 1 &&
              EVP_DigestUpdate(ctx, key->secret, key->len) == 1 && EVP_DigestUpdate(ctx, data, len) == 1 &&
              EVP_DigestFinal_ex(ctx, digest, &n) == 1;
    EVP_MD_CTX_free(ctx);
    size_t want = key_digest_len(key->type);
    if (!ok || n < want)
        return 0;
    memcpy(out, digest, want);
    return want;
}

static size_t cmac(EVP_MAC *mac, const struct key_entry *key, const uint8_t *data, size_t len, uint8_t *out)
{
    char cipher[16];
    strcpy(cipher, key->type == KEY_AES128_CMAC ? "AES-128-CBC" : "AES-256-CBC");
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, cipher, 0),
        OSSL_PARAM_construct_end(),
    };
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    size_t n = 0;
    bool ok = ctx && EVP_MAC_init(ctx, key->secret, key->len, params) == 1 &&
              EVP_MAC_update(ctx, data, len) == 1 && EVP_MAC_final(ctx, out, &n, KEY_DIGEST_MAX) == 1;
    EVP_MAC_CTX_free(ctx);
    return ok && n == 16 ? n : 0;
}

static size_t compute_mac(void *impl, const struct key_entry *key, const uint8_t *data, size_t len, uint8_t *out)
{
    if (key->type == KEY_AES128_CMAC || key->type == KEY_AES256_CMAC)
        return cmac(impl, key, data, len, out);
    return hash_mac(key, data, len, out);
}

static bool verify_mac(void *impl, const struct key_entry *key, const uint8_t *data, size_t len,
                       const uint8_t *mac, size_t mac_len)
{
    uint8_t expected[KEY_DIGEST_MAX];
    size_t n = compute_mac(impl, key, data, len, expected);
    /* The whole digest, or (key_digest_len_ok) a longer one cut to its first bytes in NTPv4. */
    return n != 0 && mac_len <= n && key_digest_len_ok(key->type, mac_len) &&
           CRYPTO_memcmp(expected, mac, mac_len) == 0;
}

void symkeys_init(struct symkeys *k)
{
    memset(k, 0, sizeof *k);
    k->crypto = (struct symkey_crypto){.mac = compute_mac, .verify = verify_mac, .impl = NULL};
    k->server_ctx = (struct symkey_ctx){.keys = &k->table, .crypto = &k->crypto};
}

/*
 * Fetching CMAC loads OpenSSL's provider, megabytes of resident library pages
 * a server without keys has no use for: done only once a keyfile is named.
 */
int symkeys_enable(struct symkeys *k)
{
    if (k->cmac)
        return 0;
    k->cmac = EVP_MAC_fetch(NULL, "CMAC", NULL);
    if (!k->cmac) {
        log_error("keys: OpenSSL offers no CMAC");
        return -1;
    }
    k->crypto.impl = k->cmac;
    return 0;
}

static void log_report(const struct keys_report *rep)
{
    char copy[sizeof rep->text];
    memcpy(copy, rep->text, sizeof copy);
    for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        const char *w = strstr(line, ": warning: ");
        if (w)
            log_warn("%.*s: %s", (int)(w - line), line, w + strlen(": warning: "));
        else
            log_error("%s", line);
    }
}

int symkeys_read(const char *path, struct key_table *out)
{
    char *text = malloc(SYMKEYS_FILE_MAX);
    struct keys_report *rep = malloc(sizeof *rep);
    size_t len = 0;
    int err = text && rep ? fileutil_read_small(path, text, SYMKEYS_FILE_MAX, &len) : ENOMEM;
    int rc = -1;
    if (err) {
        log_error("keyfile %s: %s", path, strerror(err));
    } else {
        rc = keys_parse_text(text, len, path, out, rep);
        log_report(rep);
        if (rc == 0)
            log_info("keyfile %s: %u key%s", path, out->n, out->n == 1 ? "" : "s");
    }
    free(text);
    free(rep);
    return rc;
}

struct symkey_ctx symkeys_client_ctx(const struct symkeys *k, uint32_t key_id)
{
    return (struct symkey_ctx){.keys = &k->table, .crypto = &k->crypto, .key_id = key_id};
}

void symkeys_close(struct symkeys *k)
{
    EVP_MAC_free(k->cmac);
    k->cmac = NULL;
    OPENSSL_cleanse(&k->table, sizeof k->table);
}

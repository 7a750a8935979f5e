/* nts_crypto: AES-SIV (Nettle), random bytes and HKDF (OpenSSL); see nts_crypto.h. */
#include "io/nts_crypto.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

void nts_aead_key_set(struct nts_aead_key *k, const uint8_t key[NTS_KEY_LEN])
{
    siv_cmac_aes128_set_key(&k->siv, key);
}

void nts_aead_key_clear(struct nts_aead_key *k)
{
    OPENSSL_cleanse(k, sizeof *k);
}

bool nts_aead_seal_with(const struct nts_aead_key *k, const uint8_t *nonce, size_t nonce_len, const uint8_t *ad,
                        size_t ad_len, const uint8_t *plain, size_t plain_len, uint8_t *out)
{
    if (nonce_len < SIV_MIN_NONCE_SIZE)
        return false;
    siv_cmac_aes128_encrypt_message(&k->siv, nonce_len, nonce, ad_len, ad, plain_len + SIV_DIGEST_SIZE, out, plain);
    return true;
}

bool nts_aead_open_with(const struct nts_aead_key *k, const uint8_t *nonce, size_t nonce_len, const uint8_t *ad,
                        size_t ad_len, const uint8_t *sealed, size_t sealed_len, uint8_t *plain)
{
    if (nonce_len < SIV_MIN_NONCE_SIZE || sealed_len < SIV_DIGEST_SIZE)
        return false;
    return siv_cmac_aes128_decrypt_message(&k->siv, nonce_len, nonce, ad_len, ad, sealed_len - SIV_DIGEST_SIZE,
                                           plain, sealed) != 0;
}

bool nts_aead_seal(const uint8_t key[NTS_KEY_LEN], const uint8_t *nonce, size_t nonce_len,
                   const uint8_t *ad, size_t ad_len, const uint8_t *plain, size_t plain_len, uint8_t *out)
{
    struct nts_aead_key k;
    nts_aead_key_set(&k, key);
    bool ok = nts_aead_seal_with(&k, nonce, nonce_len, ad, ad_len, plain, plain_len, out);
    nts_aead_key_clear(&k);
    return ok;
}

bool nts_aead_open(const uint8_t key[NTS_KEY_LEN], const uint8_t *nonce, size_t nonce_len,
                   const uint8_t *ad, size_t ad_len, const uint8_t *sealed, size_t sealed_len,
                   uint8_t *plain)
{
    struct nts_aead_key k;
    nts_aead_key_set(&k, key);
    bool ok = nts_aead_open_with(&k, nonce, nonce_len, ad, ad_len, sealed, sealed_len, plain);
    nts_aead_key_clear(&k);
    return ok;
}

bool nts_random(uint8_t *buf, size_t len)
{
    return len <= 0x7fffffff && RAND_bytes(buf, (int)len) == 1;
}

/* Nonces need only be unpredictable and never repeat, not a fresh generator call each. */
#define NONCE_POOL_LEN 1024
struct nonce_pool {
    size_t used;
    uint8_t bytes[NONCE_POOL_LEN];
};
static _Thread_local struct nonce_pool nonce_pool = {.used = NONCE_POOL_LEN};

bool nts_random_nonce(uint8_t *buf, size_t len)
{
    struct nonce_pool *p = &nonce_pool;
    if (len > 64)
        return false;
    if (NONCE_POOL_LEN - p->used < len) {
        if (!nts_random(p->bytes, sizeof p->bytes))
            return false;
        p->used = 0;
    }
    memcpy(buf, p->bytes + p->used, len);
    OPENSSL_cleanse(p->bytes + p->used, len);
    p->used += len;
    return true;
}

bool nts_hkdf(const uint8_t *secret, size_t secret_len, const uint8_t *info, size_t info_len,
              uint8_t out[NTS_KEY_LEN])
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    EVP_KDF_free(kdf);
    if (!kctx)
        return false;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, secret_len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len),
        OSSL_PARAM_construct_end(),
    };
    bool ok = EVP_KDF_derive(kctx, out, NTS_KEY_LEN, params) == 1;
    EVP_KDF_CTX_free(kctx);
    return ok;
}

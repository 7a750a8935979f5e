/* nts_crypto: AES-SIV (Nettle), random bytes and HKDF (OpenSSL); see nts_crypto.h. */
#include "io/nts_crypto.h"

#include <nettle/siv-cmac.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

bool nts_aead_seal(const uint8_t key[NTS_KEY_LEN], const uint8_t *nonce, size_t nonce_len,
                   const uint8_t *ad, size_t ad_len, const uint8_t *plain, size_t plain_len, uint8_t *out)
{
    if (nonce_len < SIV_MIN_NONCE_SIZE)
        return false;
    struct siv_cmac_aes128_ctx ctx;
    siv_cmac_aes128_set_key(&ctx, key);
    siv_cmac_aes128_encrypt_message(&ctx, nonce_len, nonce, ad_len, ad, plain_len + SIV_DIGEST_SIZE, out, plain);
    OPENSSL_cleanse(&ctx, sizeof ctx);
    return true;
}

bool nts_aead_open(const uint8_t key[NTS_KEY_LEN], const uint8_t *nonce, size_t nonce_len,
                   const uint8_t *ad, size_t ad_len, const uint8_t *sealed, size_t sealed_len,
                   uint8_t *plain)
{
    if (nonce_len < SIV_MIN_NONCE_SIZE || sealed_len < SIV_DIGEST_SIZE)
        return false;
    struct siv_cmac_aes128_ctx ctx;
    siv_cmac_aes128_set_key(&ctx, key);
    int ok = siv_cmac_aes128_decrypt_message(&ctx, nonce_len, nonce, ad_len, ad, sealed_len - SIV_DIGEST_SIZE,
                                             plain, sealed);
    OPENSSL_cleanse(&ctx, sizeof ctx);
    return ok != 0;
}

bool nts_random(uint8_t *buf, size_t len)
{
    return len <= 0x7fffffff && RAND_bytes(buf, (int)len) == 1;
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

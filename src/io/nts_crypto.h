/*
 * nts_crypto: the cryptography NTS needs, from well-kept libraries.
 *
 * Owns: AEAD_AES_SIV_CMAC_256 sealing and opening (RFC 5297 through the
 * RFC 5116 interface NTS uses: associated data, nonce, plaintext), random
 * bytes, and the HKDF (RFC 5869) that derives rotating cookie keys from a
 * master secret. AES-SIV comes from Nettle, not OpenSSL: OpenSSL 3.0's
 * AES-SIV cannot encrypt an empty plaintext (its EncryptFinal fails), and
 * every NTS client request authenticates exactly that. Random bytes and HKDF
 * come from OpenSSL. Nothing here keeps state: any thread may call it.
 */
#ifndef HORLOGE_NTS_CRYPTO_H
#define HORLOGE_NTS_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/nts.h"

/* Writes the tag then the ciphertext: plain_len + NTS_TAG_LEN bytes at `out` (may not overlap `plain`). */
bool nts_aead_seal(const uint8_t key[NTS_KEY_LEN], const uint8_t *nonce, size_t nonce_len,
                   const uint8_t *ad, size_t ad_len, const uint8_t *plain, size_t plain_len, uint8_t *out);
/* Checks and decrypts sealed (tag then ciphertext) into sealed_len - NTS_TAG_LEN bytes at `plain`. */
bool nts_aead_open(const uint8_t key[NTS_KEY_LEN], const uint8_t *nonce, size_t nonce_len,
                   const uint8_t *ad, size_t ad_len, const uint8_t *sealed, size_t sealed_len,
                   uint8_t *plain);
/* Cryptographically random bytes; false when the generator failed. */
bool nts_random(uint8_t *buf, size_t len);
/* HKDF-SHA256 of `secret` with `info`, NTS_KEY_LEN bytes out. */
bool nts_hkdf(const uint8_t *secret, size_t secret_len, const uint8_t *info, size_t info_len,
              uint8_t out[NTS_KEY_LEN]);

#endif

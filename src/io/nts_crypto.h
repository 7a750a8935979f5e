/*
 * nts_crypto: the cryptography NTS needs, from well-kept libraries.
 *
 * Owns: AEAD_AES_SIV_CMAC_256 sealing and opening (RFC 5297 through the
 * RFC 5116 interface NTS uses: associated data, nonce, plaintext), random
 * bytes, and the HKDF (RFC 5869) that derives rotating cookie keys from a
 * master secret. A key used for many messages (a cookie key) is expanded
 * once into a struct nts_aead_key, read-only afterwards, so any number of
 * threads seal and open with it at once. AES-SIV comes from Nettle, not OpenSSL: OpenSSL 3.0's
 * AES-SIV cannot encrypt an empty plaintext (its EncryptFinal fails), and
 * every NTS client request authenticates exactly that. Random bytes and HKDF
 * come from OpenSSL. Nonces come from a per-thread buffer of OpenSSL random
 * bytes (one RAND_bytes call costs as much as a whole AES-SIV seal); that
 * buffer is the only state here, and it is the calling thread's own (a
 * forked child would share its parent's: horloged's only child, the clock
 * helper, does no NTS).
 */
#ifndef HORLOGE_NTS_CRYPTO_H
#define HORLOGE_NTS_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nettle/siv-cmac.h>

#include "core/nts.h"

/* An AES-SIV key with its subkeys expanded: set once, then only read. */
struct nts_aead_key {
    struct siv_cmac_aes128_ctx siv;
};
void nts_aead_key_set(struct nts_aead_key *k, const uint8_t key[NTS_KEY_LEN]);
void nts_aead_key_clear(struct nts_aead_key *k);
bool nts_aead_seal_with(const struct nts_aead_key *k, const uint8_t *nonce, size_t nonce_len, const uint8_t *ad,
                        size_t ad_len, const uint8_t *plain, size_t plain_len, uint8_t *out);
bool nts_aead_open_with(const struct nts_aead_key *k, const uint8_t *nonce, size_t nonce_len, const uint8_t *ad,
                        size_t ad_len, const uint8_t *sealed, size_t sealed_len, uint8_t *plain);

/* As the _with forms, for a key used once (a session key). Writes the tag then the ciphertext: plain_len + NTS_TAG_LEN bytes at `out` (may not overlap `plain`). */
bool nts_aead_seal(const uint8_t key[NTS_KEY_LEN], const uint8_t *nonce, size_t nonce_len,
                   const uint8_t *ad, size_t ad_len, const uint8_t *plain, size_t plain_len, uint8_t *out);
/* Checks and decrypts sealed (tag then ciphertext) into sealed_len - NTS_TAG_LEN bytes at `plain`. */
bool nts_aead_open(const uint8_t key[NTS_KEY_LEN], const uint8_t *nonce, size_t nonce_len,
                   const uint8_t *ad, size_t ad_len, const uint8_t *sealed, size_t sealed_len,
                   uint8_t *plain);
/* Cryptographically random bytes; false when the generator failed. */
bool nts_random(uint8_t *buf, size_t len);
/* Random bytes for a nonce (len <= 64), from the calling thread's buffer; false when the generator failed. */
bool nts_random_nonce(uint8_t *buf, size_t len);
/* HKDF-SHA256 of `secret` with `info`, NTS_KEY_LEN bytes out. */
bool nts_hkdf(const uint8_t *secret, size_t secret_len, const uint8_t *info, size_t info_len,
              uint8_t out[NTS_KEY_LEN]);

#endif

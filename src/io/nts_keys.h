/*
 * nts_keys: the NTS server's cookie keys and the cookies sealed under them.
 *
 * Owns: the keyring (core/nts) behind a read-write lock — serving threads open
 * and make cookies under the read lock, rotation takes the write lock — and
 * where its keys come from: every `ntsrotate` seconds a new key named by the
 * rotation period number (unix time / ntsrotate), either random and saved
 * atomically to `ntsdumpdir`/ntskeys (so a restart keeps clients' cookies
 * valid), or, with `ntsmasterkey`, derived by HKDF from the shared secret and
 * the period number, so servers sharing the secret seal and open each
 * other's cookies with no coordination and nothing to save.
 * Every key a cookie may be opened with is expanded once, when the keys
 * change (struct nts_prepared_keys), never per request: with a master secret
 * that includes the derived keys of the periods just outside the ring.
 */
#ifndef HORLOGE_NTS_KEYS_H
#define HORLOGE_NTS_KEYS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "core/nts.h"
#include "io/nts_crypto.h"

#define NTS_DEFAULT_ROTATE 86400
#define NTS_MASTER_MAX 256
#define NTS_KEYS_FILE "ntskeys"

/* Derived keys are named by period; a peer a period ahead or a few behind is still understood. */
#define NTS_DERIVED_AHEAD 1
/* The ring, plus with a master secret the window cur - NTS_KEYRING_MAX .. cur + NTS_DERIVED_AHEAD. */
#define NTS_PREPARED_MAX (2 * NTS_KEYRING_MAX + NTS_DERIVED_AHEAD + 1)

struct nts_prepared_keys {
    unsigned n;                      /* keys[0] is the current key */
    uint32_t id[NTS_PREPARED_MAX];
    struct nts_aead_key aead[NTS_PREPARED_MAX];
};

struct nts_keys {
    pthread_rwlock_t lock;
    struct nts_keyring ring;         /* written by the rotating thread only */
    struct nts_prepared_keys prepared; /* read under the lock by serving threads */
    unsigned rotate;                 /* seconds per key */
    size_t master_len;               /* 0: random keys */
    uint8_t master[NTS_MASTER_MAX];
    char path[512];                  /* the saved keyring; "" when not saved */
    /* NTS requests on the NTP path (io/auth_nts), counted by every serving thread. */
    atomic_ullong requests_valid, requests_nak;
};

/*
 * Loads the master secret or the saved keys and makes sure a key for the
 * current period exists. `master_file` and `dump_dir` may be "" (none).
 * 0, or -1 (logged).
 */
int nts_keys_init(struct nts_keys *k, unsigned rotate, const char *master_file, const char *dump_dir,
                  time_t now);
/* A new current key when the period changed (saved when keys are saved). */
void nts_keys_rotate(struct nts_keys *k, time_t now);
void nts_keys_fini(struct nts_keys *k);

/* Seals the session keys into a cookie of NTS_COOKIE_LEN bytes under the current key. */
bool nts_cookie_make(struct nts_keys *k, const struct nts_session_keys *sk, uint8_t out[NTS_COOKIE_LEN]);
/* Opens a cookie: false when its key is unknown or it does not authenticate. */
bool nts_cookie_open(struct nts_keys *k, const uint8_t *cookie, size_t len, struct nts_session_keys *sk);

#endif

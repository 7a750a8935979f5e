/* nts_keys: cookie keys (rotation, saving, master-key derivation) and cookies; see nts_keys.h. */
#include "io/nts_keys.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "core/packet.h"
#include "io/atomicfile.h"
#include "io/log.h"
#include "io/nts_crypto.h"

#define HKDF_INFO "horloge nts cookie key"

static uint32_t period_of(const struct nts_keys *k, time_t now)
{
    return (uint32_t)((uint64_t)(now < 0 ? 0 : now) / k->rotate);
}

static bool derive_key(const struct nts_keys *k, uint32_t id, struct nts_server_key *out)
{
    uint8_t info[sizeof HKDF_INFO - 1 + 4];
    memcpy(info, HKDF_INFO, sizeof HKDF_INFO - 1);
    store_be32(info + sizeof HKDF_INFO - 1, id);
    out->id = id;
    return nts_hkdf(k->master, k->master_len, info, sizeof info, out->key);
}

static int read_master(struct nts_keys *k, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        log_error("ntsmasterkey %s: %s", path, strerror(errno));
        return -1;
    }
    k->master_len = fread(k->master, 1, sizeof k->master, f);
    fclose(f);
    if (k->master_len < 16) {
        log_error("ntsmasterkey %s: at least 16 bytes of secret are needed, found %zu", path, k->master_len);
        return -1;
    }
    return 0;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static bool parse_key_line(const char *line, struct nts_server_key *key)
{
    unsigned long id;
    char hex[2 * NTS_KEY_LEN + 2];
    if (sscanf(line, "%lu %65s", &id, hex) != 2 || strlen(hex) != 2 * NTS_KEY_LEN || id > UINT32_MAX)
        return false;
    for (size_t i = 0; i < NTS_KEY_LEN; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        key->key[i] = (uint8_t)(hi << 4 | lo);
    }
    key->id = (uint32_t)id;
    return true;
}

/* The saved keyring, oldest first so that pushing them in order leaves the newest current. */
static void load_saved(struct nts_keys *k)
{
    FILE *f = fopen(k->path, "r");
    if (!f) {
        if (errno != ENOENT)
            log_warn("NTS keys %s: %s; starting with new keys", k->path, strerror(errno));
        return;
    }
    char line[160];
    unsigned n = 0;
    while (fgets(line, sizeof line, f)) {
        struct nts_server_key key;
        if (parse_key_line(line, &key)) {
            nts_keyring_push(&k->ring, &key);
            n++;
        }
        OPENSSL_cleanse(line, sizeof line);
    }
    fclose(f);
    log_info("NTS: %u cookie key(s) read from %s", n, k->path);
}

/* Replaced whole (io/atomicfile): a crash never leaves half a keyring. Oldest first, one "ID HEX" a line. */
static void save(const struct nts_keys *k)
{
    if (!k->path[0])
        return;
    char text[NTS_KEYRING_MAX * (12 + 2 * NTS_KEY_LEN + 1) + 1];
    size_t pos = 0;
    for (unsigned i = k->ring.n; i-- > 0;) {
        pos += (size_t)snprintf(text + pos, sizeof text - pos, "%u ", k->ring.keys[i].id);
        for (size_t j = 0; j < NTS_KEY_LEN; j++)
            pos += (size_t)snprintf(text + pos, sizeof text - pos, "%02x", k->ring.keys[i].key[j]);
        text[pos++] = '\n';
    }
    if (atomicfile_write(k->path, text, pos, 0600) < 0)
        log_error("cannot save NTS keys to %s: %s", k->path, strerror(errno));
    OPENSSL_cleanse(text, sizeof text);
}

static bool new_key(const struct nts_keys *k, uint32_t id, struct nts_server_key *key)
{
    if (k->master_len)
        return derive_key(k, id, key);
    key->id = id;
    return nts_random(key->key, sizeof key->key);
}

static void prepare_one(struct nts_prepared_keys *t, const struct nts_server_key *key)
{
    t->id[t->n] = key->id;
    nts_aead_key_set(&t->aead[t->n], key->key);
    t->n++;
}

/* Every key a cookie may open under, expanded: the ring's, then with a master secret the periods around it. */
static void prepare_keys(const struct nts_keys *k, struct nts_prepared_keys *t)
{
    t->n = 0;
    for (unsigned i = 0; i < k->ring.n; i++)
        prepare_one(t, &k->ring.keys[i]);
    const struct nts_server_key *cur = nts_keyring_current(&k->ring);
    if (!k->master_len || !cur)
        return;
    uint32_t first = cur->id > NTS_KEYRING_MAX ? cur->id - NTS_KEYRING_MAX : 0;
    for (uint32_t id = first; id <= cur->id + NTS_DERIVED_AHEAD && t->n < NTS_PREPARED_MAX; id++) {
        struct nts_server_key key;
        if (!nts_keyring_find(&k->ring, id) && derive_key(k, id, &key))
            prepare_one(t, &key);
        OPENSSL_cleanse(&key, sizeof key);
    }
}

/* Expanded outside the lock (HKDF, key schedules), swapped in under it. */
static void refresh_prepared(struct nts_keys *k)
{
    struct nts_prepared_keys fresh;
    prepare_keys(k, &fresh);
    pthread_rwlock_wrlock(&k->lock);
    k->prepared = fresh;
    pthread_rwlock_unlock(&k->lock);
    OPENSSL_cleanse(&fresh, sizeof fresh);
}

/* A new current key when the period changed; true when the ring changed. */
static bool push_period_key(struct nts_keys *k, time_t now)
{
    uint32_t period = period_of(k, now);
    const struct nts_server_key *cur = nts_keyring_current(&k->ring);
    if (cur && cur->id == period)
        return false;
    struct nts_server_key key;
    if (!new_key(k, period, &key)) {
        log_error("NTS: cannot make the cookie key of period %u; keeping the previous one", period);
        return false;
    }
    pthread_rwlock_wrlock(&k->lock);
    nts_keyring_push(&k->ring, &key);
    pthread_rwlock_unlock(&k->lock);
    OPENSSL_cleanse(&key, sizeof key);
    save(k);
    log_info("NTS: cookie key %u is current (%u kept)", period, k->ring.n);
    return true;
}

int nts_keys_init(struct nts_keys *k, unsigned rotate, const char *master_file, const char *dump_dir,
                  time_t now)
{
    memset(k, 0, sizeof *k);
    pthread_rwlock_init(&k->lock, NULL);
    k->rotate = rotate ? rotate : NTS_DEFAULT_ROTATE;
    nts_keyring_init(&k->ring);
    if (master_file[0]) {
        if (read_master(k, master_file) < 0)
            return -1;
        /* The previous periods' keys, so cookies handed out before a restart still open. */
        uint32_t cur = period_of(k, now);
        for (uint32_t back = NTS_KEYRING_MAX - 1; back > 0; back--) {
            struct nts_server_key key;
            if (cur >= back && derive_key(k, cur - back, &key))
                nts_keyring_push(&k->ring, &key);
        }
    } else if (dump_dir[0]) {
        snprintf(k->path, sizeof k->path, "%s/%s", dump_dir, NTS_KEYS_FILE);
        load_saved(k);
    } else {
        log_warn("NTS: no ntsdumpdir nor ntsmasterkey: clients' cookies will not survive a restart");
    }
    push_period_key(k, now);
    refresh_prepared(k);
    if (!nts_keyring_current(&k->ring)) {
        log_error("NTS: cannot make a cookie key");
        return -1;
    }
    return 0;
}

void nts_keys_rotate(struct nts_keys *k, time_t now)
{
    if (push_period_key(k, now))
        refresh_prepared(k);
}

void nts_keys_fini(struct nts_keys *k)
{
    pthread_rwlock_destroy(&k->lock);
    OPENSSL_cleanse(k, sizeof *k);
}

bool nts_cookie_make(struct nts_keys *k, const struct nts_session_keys *sk, uint8_t out[NTS_COOKIE_LEN])
{
    uint8_t plain[NTS_COOKIE_PLAIN_LEN];
    nts_cookie_plain_encode(sk, plain);
    bool ok = nts_random_nonce(out + NTS_COOKIE_NONCE_OFF, NTS_NONCE_LEN);
    pthread_rwlock_rdlock(&k->lock);
    const struct nts_prepared_keys *t = &k->prepared;
    ok = ok && t->n > 0;
    if (ok) {
        store_be32(out, t->id[0]);
        ok = nts_aead_seal_with(&t->aead[0], out + NTS_COOKIE_NONCE_OFF, NTS_NONCE_LEN, out, 4, plain,
                                sizeof plain, out + NTS_COOKIE_SEALED_OFF);
    }
    pthread_rwlock_unlock(&k->lock);
    OPENSSL_cleanse(plain, sizeof plain);
    return ok;
}

static const struct nts_aead_key *find_prepared(const struct nts_prepared_keys *t, uint32_t id)
{
    for (unsigned i = 0; i < t->n; i++)
        if (t->id[i] == id)
            return &t->aead[i];
    return NULL;
}

bool nts_cookie_open(struct nts_keys *k, const uint8_t *cookie, size_t len, struct nts_session_keys *sk)
{
    if (len != NTS_COOKIE_LEN)
        return false;
    uint8_t plain[NTS_COOKIE_PLAIN_LEN];
    pthread_rwlock_rdlock(&k->lock);
    const struct nts_aead_key *key = find_prepared(&k->prepared, nts_cookie_key_id(cookie));
    bool ok = key && nts_aead_open_with(key, cookie + NTS_COOKIE_NONCE_OFF, NTS_NONCE_LEN, cookie, 4,
                                        cookie + NTS_COOKIE_SEALED_OFF, len - NTS_COOKIE_SEALED_OFF, plain);
    pthread_rwlock_unlock(&k->lock);
    ok = ok && nts_cookie_plain_decode(plain, sk);
    OPENSSL_cleanse(plain, sizeof plain);
    return ok;
}

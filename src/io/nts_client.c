/* nts_client: an upstream's NTS requests and replies; see nts_client.h. */
#include "io/nts_client.h"

#include <string.h>

#include <openssl/crypto.h>

#include "core/packet.h"
#include "io/nts_crypto.h"

#define NTP_REFID_OFF 12
#define NTP_STRATUM_OFF 1

void nts_client_start_session(struct nts_client *c, const struct nts_session_keys *keys,
                              const struct nts_ke_response *resp)
{
    uint64_t authenticated = c->authenticated, refused = c->refused, naks = c->naks;
    OPENSSL_cleanse(c, sizeof *c);
    c->authenticated = authenticated;
    c->refused = refused;
    c->naks = naks;
    c->keys = *keys;
    c->have_keys = true;
    for (unsigned i = 0; i < resp->n_cookies && i < NTS_COOKIES_PER_KE; i++) {
        memcpy(c->cookies[i], resp->cookies[i], resp->cookie_len[i]);
        c->cookie_len[i] = resp->cookie_len[i];
    }
    c->n_cookies = resp->n_cookies;
}

bool nts_client_needs_ke(const struct nts_client *c)
{
    return !c->have_keys || c->nak || c->n_cookies == 0;
}

/* UID, the newest cookie (used up), placeholders for the cookies we lack, then an Authenticator. */
size_t nts_client_build_request(void *ctx, uint8_t *pkt, size_t len, size_t cap)
{
    struct nts_client *c = ctx;
    if (nts_client_needs_ke(c) || !nts_random(c->uid, sizeof c->uid))
        return 0;
    unsigned i = --c->n_cookies;
    size_t pos = len;
    bool ok = nts_ef_put(pkt, cap, &pos, NTS_EF_UID, c->uid, sizeof c->uid) &&
              nts_ef_put(pkt, cap, &pos, NTS_EF_COOKIE, c->cookies[i], c->cookie_len[i]);
    for (unsigned k = c->n_cookies + 1; ok && k < NTS_COOKIES_PER_KE; k++)
        ok = nts_ef_put(pkt, cap, &pos, NTS_EF_PLACEHOLDER, NULL, c->cookie_len[i]);
    uint8_t nonce[NTS_NONCE_LEN];
    struct nts_fields f;
    ok = ok && nts_random(nonce, sizeof nonce) && nts_auth_put(pkt, cap, &pos, nonce, sizeof nonce, NTS_TAG_LEN, &f) &&
         nts_aead_seal(c->keys.c2s, nonce, sizeof nonce, pkt, f.auth_off, NULL, 0, pkt + f.sealed_off);
    c->outstanding = ok;
    return ok ? pos : 0;
}

static void keep_cookie(void *ctx, const uint8_t *cookie, size_t len)
{
    struct nts_client *c = ctx;
    if (c->n_cookies < NTS_COOKIES_PER_KE && len <= NTS_COOKIE_MAX_LEN) {
        memcpy(c->cookies[c->n_cookies], cookie, len);
        c->cookie_len[c->n_cookies++] = (uint16_t)len;
    }
}

static bool is_nak(const uint8_t *pkt)
{
    return pkt[NTP_STRATUM_OFF] == 0 && load_be32(pkt + NTP_REFID_OFF) == pkt_refid_ascii("NTSN");
}

bool nts_client_check_reply(void *ctx, const uint8_t *pkt, size_t len, const struct ntp_layout *layout)
{
    (void)len;
    struct nts_client *c = ctx;
    struct nts_fields f;
    enum nts_parse parsed = c->outstanding ? nts_parse_reply(pkt, layout, c->uid, sizeof c->uid, &f) : NTS_NOT_NTS;
    if (parsed != NTS_NOT_NTS && is_nak(pkt)) {
        /* Unauthenticated by nature, but it echoes our random identifier: only the server (or a path) saw it. */
        c->nak = true;
        c->naks++;
        c->outstanding = false;
        return false;
    }
    uint8_t plain[NTP_MAX_PACKET_LEN];
    if (parsed != NTS_PARSED ||
        !nts_aead_open(c->keys.s2c, pkt + f.nonce_off, f.nonce_len, pkt, f.auth_off, pkt + f.sealed_off,
                       f.sealed_len, plain) ||
        !nts_each_cookie(plain, f.sealed_len - NTS_TAG_LEN, keep_cookie, c)) {
        c->refused++;
        return false;
    }
    c->outstanding = false;
    c->authenticated++;
    return true;
}

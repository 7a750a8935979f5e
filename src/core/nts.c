/* nts: NTS-KE records, NTS extension fields, cookie layout, keyring; see nts.h. */
#include "core/nts.h"

#include <string.h>

#define KE_RECORD_HEADER 4
#define EF_HEADER 4
#define AUTH_BODY_HEADER 4

static size_t pad4(size_t n)
{
    return (n + 3) & ~(size_t)3;
}

/* ---- NTS-KE records ---- */

int nts_ke_record_parse(const uint8_t *buf, size_t len, struct nts_ke_record *rec)
{
    if (len < KE_RECORD_HEADER)
        return 0;
    uint16_t word = load_be16(buf);
    uint16_t body_len = load_be16(buf + 2);
    if (body_len > NTS_KE_MAX_BODY)
        return -1;
    if (len < (size_t)KE_RECORD_HEADER + body_len)
        return 0;
    rec->critical = (word & NTS_KE_CRITICAL) != 0;
    rec->type = word & (uint16_t)~NTS_KE_CRITICAL;
    rec->body_len = body_len;
    rec->body = buf + KE_RECORD_HEADER;
    return KE_RECORD_HEADER + body_len;
}

bool nts_ke_record_put(uint8_t *buf, size_t cap, size_t *pos, uint16_t type, bool critical,
                       const uint8_t *body, size_t body_len)
{
    if (body_len > NTS_KE_MAX_BODY || *pos > cap || cap - *pos < KE_RECORD_HEADER + body_len)
        return false;
    store_be16(buf + *pos, (uint16_t)(type | (critical ? NTS_KE_CRITICAL : 0)));
    store_be16(buf + *pos + 2, (uint16_t)body_len);
    if (body_len)
        memcpy(buf + *pos + KE_RECORD_HEADER, body, body_len);
    *pos += KE_RECORD_HEADER + body_len;
    return true;
}

/* Whether a body of 16-bit ids holds `wanted`; false for an odd-length body. */
static bool ids_contain(const struct nts_ke_record *rec, uint16_t wanted, bool *well_formed)
{
    *well_formed = rec->body_len % 2 == 0;
    for (size_t i = 0; *well_formed && i + 1 < rec->body_len; i += 2)
        if (load_be16(rec->body + i) == wanted)
            return true;
    return false;
}

/*
 * Feeds records to `take` until the message ends, is bad, or needs more bytes;
 * shared by the request and the response readers.
 */
static enum nts_ke_status feed_records(const uint8_t *buf, size_t len, size_t *consumed, size_t *total,
                                       enum nts_ke_status (*take)(void *ctx, const struct nts_ke_record *rec),
                                       void *ctx, uint16_t *error)
{
    *consumed = 0;
    for (;;) {
        struct nts_ke_record rec;
        int n = nts_ke_record_parse(buf + *consumed, len - *consumed, &rec);
        if (n < 0 || (n == 0 && *total + (len - *consumed) >= NTS_KE_MAX_MESSAGE)) {
            *error = NTS_KE_ERR_BAD_REQUEST;
            return NTS_KE_BAD;
        }
        if (n == 0)
            return NTS_KE_MORE;
        *consumed += (size_t)n;
        *total += (size_t)n;
        enum nts_ke_status st = take(ctx, &rec);
        if (st != NTS_KE_MORE)
            return st;
    }
}

static enum nts_ke_status request_bad(struct nts_ke_request *req, uint16_t code)
{
    req->error = code;
    return NTS_KE_BAD;
}

static enum nts_ke_status request_take(void *ctx, const struct nts_ke_record *rec)
{
    struct nts_ke_request *req = ctx;
    bool ok = true;
    switch (rec->type) {
    case NTS_KE_END:
        if (!req->seen_protocol || !req->seen_aead || !req->ntpv4 || !req->siv)
            return request_bad(req, NTS_KE_ERR_BAD_REQUEST);
        return NTS_KE_DONE;
    case NTS_KE_NEXT_PROTOCOL:
        if (req->seen_protocol)
            return request_bad(req, NTS_KE_ERR_BAD_REQUEST);
        req->seen_protocol = true;
        req->ntpv4 = ids_contain(rec, NTS_PROTOCOL_NTPV4, &ok);
        break;
    case NTS_KE_AEAD:
        if (req->seen_aead)
            return request_bad(req, NTS_KE_ERR_BAD_REQUEST);
        req->seen_aead = true;
        req->siv = ids_contain(rec, NTS_AEAD_SIV_CMAC_256, &ok);
        break;
    case NTS_KE_ERROR:
    case NTS_KE_WARNING:
    case NTS_KE_COOKIE:
        /* RFC 8915 §4.1: clients do not send these. */
        return request_bad(req, NTS_KE_ERR_BAD_REQUEST);
    default:
        /* Server and Port records are a client's wishes, which we may ignore; unknown ones too unless critical. */
        if (rec->critical && rec->type != NTS_KE_SERVER && rec->type != NTS_KE_PORT)
            return request_bad(req, NTS_KE_ERR_UNRECOGNIZED);
        break;
    }
    return ok ? NTS_KE_MORE : request_bad(req, NTS_KE_ERR_BAD_REQUEST);
}

void nts_ke_request_init(struct nts_ke_request *req)
{
    memset(req, 0, sizeof *req);
}

enum nts_ke_status nts_ke_request_feed(struct nts_ke_request *req, const uint8_t *buf, size_t len,
                                       size_t *consumed)
{
    return feed_records(buf, len, consumed, &req->total, request_take, req, &req->error);
}

static enum nts_ke_status response_bad(struct nts_ke_response *resp)
{
    if (resp->error == 0xffff)
        resp->error = NTS_KE_ERR_BAD_REQUEST;
    return NTS_KE_BAD;
}

static bool take_server(struct nts_ke_response *resp, const struct nts_ke_record *rec)
{
    if (rec->body_len == 0 || rec->body_len > NTS_HOST_MAX)
        return false;
    for (size_t i = 0; i < rec->body_len; i++)
        if (rec->body[i] <= ' ' || rec->body[i] > '~')
            return false;
    memcpy(resp->server, rec->body, rec->body_len);
    resp->server[rec->body_len] = '\0';
    return true;
}

static void take_cookie(struct nts_ke_response *resp, const struct nts_ke_record *rec)
{
    if (resp->n_cookies >= NTS_COOKIES_PER_KE || rec->body_len == 0 || rec->body_len > NTS_COOKIE_MAX_LEN)
        return;
    memcpy(resp->cookies[resp->n_cookies], rec->body, rec->body_len);
    resp->cookie_len[resp->n_cookies++] = rec->body_len;
}

static enum nts_ke_status response_take(void *ctx, const struct nts_ke_record *rec)
{
    struct nts_ke_response *resp = ctx;
    bool ok = true;
    switch (rec->type) {
    case NTS_KE_END:
        if (!resp->ntpv4 || !resp->siv || resp->n_cookies == 0)
            return response_bad(resp);
        return NTS_KE_DONE;
    case NTS_KE_NEXT_PROTOCOL:
        /* The server picks one: exactly NTPv4. */
        resp->ntpv4 = rec->body_len == 2 && load_be16(rec->body) == NTS_PROTOCOL_NTPV4;
        ok = resp->ntpv4;
        break;
    case NTS_KE_AEAD:
        resp->siv = rec->body_len == 2 && load_be16(rec->body) == NTS_AEAD_SIV_CMAC_256;
        ok = resp->siv;
        break;
    case NTS_KE_ERROR:
        resp->error = rec->body_len == 2 ? load_be16(rec->body) : NTS_KE_ERR_BAD_REQUEST;
        return NTS_KE_BAD;
    case NTS_KE_COOKIE:
        take_cookie(resp, rec);
        break;
    case NTS_KE_SERVER:
        ok = take_server(resp, rec);
        break;
    case NTS_KE_PORT:
        ok = rec->body_len == 2 && load_be16(rec->body) != 0;
        if (ok)
            resp->port = load_be16(rec->body);
        break;
    default:
        ok = !rec->critical;
        break;
    }
    return ok ? NTS_KE_MORE : response_bad(resp);
}

void nts_ke_response_init(struct nts_ke_response *resp)
{
    memset(resp, 0, sizeof *resp);
    resp->error = 0xffff;
}

enum nts_ke_status nts_ke_response_feed(struct nts_ke_response *resp, const uint8_t *buf, size_t len,
                                        size_t *consumed)
{
    uint16_t error = 0;
    enum nts_ke_status st = feed_records(buf, len, consumed, &resp->total, response_take, resp, &error);
    if (st == NTS_KE_BAD && resp->error == 0xffff)
        resp->error = error;
    return st;
}

size_t nts_ke_response_start(uint8_t *buf, size_t cap, const struct nts_ke_offer *offer)
{
    uint8_t proto[2], aead[2], port[2];
    store_be16(proto, NTS_PROTOCOL_NTPV4);
    store_be16(aead, NTS_AEAD_SIV_CMAC_256);
    size_t pos = 0;
    bool ok = nts_ke_record_put(buf, cap, &pos, NTS_KE_NEXT_PROTOCOL, true, proto, 2) &&
              nts_ke_record_put(buf, cap, &pos, NTS_KE_AEAD, false, aead, 2);
    if (ok && offer->server)
        ok = nts_ke_record_put(buf, cap, &pos, NTS_KE_SERVER, false, (const uint8_t *)offer->server,
                               strlen(offer->server));
    if (ok && offer->port) {
        store_be16(port, offer->port);
        ok = nts_ke_record_put(buf, cap, &pos, NTS_KE_PORT, false, port, 2);
    }
    return ok ? pos : 0;
}

size_t nts_ke_error_response(uint8_t *buf, size_t cap, uint16_t code)
{
    uint8_t body[2];
    store_be16(body, code);
    size_t pos = 0;
    bool ok = nts_ke_record_put(buf, cap, &pos, NTS_KE_ERROR, true, body, 2) &&
              nts_ke_record_put(buf, cap, &pos, NTS_KE_END, true, NULL, 0);
    return ok ? pos : 0;
}

/* ---- cookies ---- */

void nts_cookie_plain_encode(const struct nts_session_keys *keys, uint8_t out[NTS_COOKIE_PLAIN_LEN])
{
    store_be16(out, NTS_AEAD_SIV_CMAC_256);
    store_be16(out + 2, 0);
    memcpy(out + 4, keys->c2s, NTS_KEY_LEN);
    memcpy(out + 4 + NTS_KEY_LEN, keys->s2c, NTS_KEY_LEN);
}

bool nts_cookie_plain_decode(const uint8_t in[NTS_COOKIE_PLAIN_LEN], struct nts_session_keys *keys)
{
    if (load_be16(in) != NTS_AEAD_SIV_CMAC_256 || load_be16(in + 2) != 0)
        return false;
    memcpy(keys->c2s, in + 4, NTS_KEY_LEN);
    memcpy(keys->s2c, in + 4 + NTS_KEY_LEN, NTS_KEY_LEN);
    return true;
}

uint32_t nts_cookie_key_id(const uint8_t *cookie)
{
    return load_be32(cookie);
}

/* ---- keyring ---- */

void nts_keyring_init(struct nts_keyring *ring)
{
    memset(ring, 0, sizeof *ring);
}

void nts_keyring_push(struct nts_keyring *ring, const struct nts_server_key *key)
{
    struct nts_keyring old = *ring;
    ring->keys[0] = *key;
    ring->n = 1;
    for (unsigned i = 0; i < old.n && ring->n < NTS_KEYRING_MAX; i++)
        if (old.keys[i].id != key->id)
            ring->keys[ring->n++] = old.keys[i];
    memset(&old, 0, sizeof old);
}

const struct nts_server_key *nts_keyring_find(const struct nts_keyring *ring, uint32_t id)
{
    for (unsigned i = 0; i < ring->n; i++)
        if (ring->keys[i].id == id)
            return &ring->keys[i];
    return NULL;
}

const struct nts_server_key *nts_keyring_current(const struct nts_keyring *ring)
{
    return ring->n ? &ring->keys[0] : NULL;
}

/* ---- extension fields ---- */

size_t nts_ef_size(size_t body_len)
{
    size_t size = pad4(EF_HEADER + body_len);
    return size < NTP_EF_MIN_LEN ? NTP_EF_MIN_LEN : size;
}

bool nts_ef_put(uint8_t *pkt, size_t cap, size_t *pos, uint16_t type, const uint8_t *body, size_t body_len)
{
    size_t size = nts_ef_size(body_len);
    if (size > UINT16_MAX || *pos > cap || cap - *pos < size)
        return false;
    store_be16(pkt + *pos, type);
    store_be16(pkt + *pos + 2, (uint16_t)size);
    if (body && body_len)
        memcpy(pkt + *pos + EF_HEADER, body, body_len);
    memset(pkt + *pos + EF_HEADER + body_len, 0, size - EF_HEADER - body_len);
    *pos += size;
    return true;
}

size_t nts_auth_size(size_t nonce_len, size_t sealed_len)
{
    return nts_ef_size(AUTH_BODY_HEADER + pad4(nonce_len) + pad4(sealed_len));
}

bool nts_auth_put(uint8_t *pkt, size_t cap, size_t *pos, const uint8_t *nonce, size_t nonce_len,
                  size_t sealed_len, struct nts_fields *f)
{
    size_t size = nts_auth_size(nonce_len, sealed_len);
    if (size > UINT16_MAX || *pos > cap || cap - *pos < size)
        return false;
    uint8_t *ef = pkt + *pos;
    memset(ef, 0, size);
    store_be16(ef, NTS_EF_AUTH);
    store_be16(ef + 2, (uint16_t)size);
    store_be16(ef + 4, (uint16_t)nonce_len);
    store_be16(ef + 6, (uint16_t)sealed_len);
    memcpy(ef + EF_HEADER + AUTH_BODY_HEADER, nonce, nonce_len);
    f->auth_off = *pos;
    f->nonce_off = *pos + EF_HEADER + AUTH_BODY_HEADER;
    f->nonce_len = nonce_len;
    f->sealed_off = f->nonce_off + pad4(nonce_len);
    f->sealed_len = sealed_len;
    *pos += size;
    return true;
}

/* The Authenticator's body: nonce and sealed part within the field, the sealed part at least a tag. */
static bool parse_auth(const uint8_t *pkt, const struct ntp_extfield *ef, struct nts_fields *f)
{
    size_t body_len = ef->length - EF_HEADER;
    const uint8_t *body = pkt + ef->offset + EF_HEADER;
    if (body_len < AUTH_BODY_HEADER)
        return false;
    size_t nonce_len = load_be16(body), sealed_len = load_be16(body + 2);
    if (nonce_len < NTS_NONCE_LEN || sealed_len < NTS_TAG_LEN ||
        AUTH_BODY_HEADER + pad4(nonce_len) + pad4(sealed_len) > body_len)
        return false;
    f->auth_off = ef->offset;
    f->nonce_off = ef->offset + EF_HEADER + AUTH_BODY_HEADER;
    f->nonce_len = nonce_len;
    f->sealed_off = f->nonce_off + pad4(nonce_len);
    f->sealed_len = sealed_len;
    return true;
}

/* Notes one field of a request; false when it makes the request malformed. */
static bool note_request_field(const struct ntp_extfield *ef, struct nts_fields *f, unsigned *uids,
                               unsigned *cookies)
{
    size_t body_off = ef->offset + EF_HEADER, body_len = ef->length - EF_HEADER;
    switch (ef->type) {
    case NTS_EF_UID:
        f->uid_off = body_off;
        f->uid_len = body_len;
        return ++*uids == 1 && body_len >= NTS_UID_MIN_LEN;
    case NTS_EF_COOKIE:
        f->cookie_off = body_off;
        f->cookie_len = body_len;
        return ++*cookies == 1;
    case NTS_EF_PLACEHOLDER:
        f->placeholders++;
        return true;
    default:
        /* Unknown fields are allowed (RFC 7822) as long as they are authenticated, before the end. */
        return true;
    }
}

enum nts_parse nts_parse_request(const uint8_t *pkt, const struct ntp_layout *layout, struct nts_fields *f)
{
    memset(f, 0, sizeof *f);
    unsigned uids = 0, cookies = 0, n = layout->n_extfields;
    bool ok = true;
    for (unsigned i = 0; i < n; i++) {
        const struct ntp_extfield *ef = &layout->extfields[i];
        if (ef->type == NTS_EF_AUTH && i + 1 == n)
            ok = ok && parse_auth(pkt, ef, f);
        else if (ef->type == NTS_EF_AUTH)
            ok = false;
        else
            ok = note_request_field(ef, f, &uids, &cookies) && ok;
    }
    if (uids == 0 || cookies == 0)
        return NTS_NOT_NTS;
    if (!ok || f->auth_off == 0 || layout->has_mac)
        return NTS_MALFORMED;
    return NTS_PARSED;
}

enum nts_parse nts_parse_reply(const uint8_t *pkt, const struct ntp_layout *layout, const uint8_t *uid,
                               size_t uid_len, struct nts_fields *f)
{
    memset(f, 0, sizeof *f);
    unsigned n = layout->n_extfields;
    bool uid_seen = false;
    for (unsigned i = 0; i < n; i++) {
        const struct ntp_extfield *ef = &layout->extfields[i];
        size_t body_len = ef->length - EF_HEADER;
        if (ef->type == NTS_EF_UID && body_len >= uid_len && !uid_seen &&
            memcmp(pkt + ef->offset + EF_HEADER, uid, uid_len) == 0) {
            uid_seen = true;
            f->uid_off = ef->offset + EF_HEADER;
            f->uid_len = uid_len;
        } else if (ef->type == NTS_EF_AUTH && i + 1 == n) {
            if (!parse_auth(pkt, ef, f))
                return NTS_MALFORMED;
        }
    }
    if (!uid_seen)
        return NTS_NOT_NTS;
    return f->auth_off && !layout->has_mac ? NTS_PARSED : NTS_MALFORMED;
}

bool nts_each_cookie(const uint8_t *plain, size_t len,
                     void (*take)(void *ctx, const uint8_t *cookie, size_t cookie_len), void *ctx)
{
    size_t pos = 0;
    while (pos < len) {
        if (len - pos < EF_HEADER)
            return false;
        size_t ef_len = load_be16(plain + pos + 2);
        if (ef_len < EF_HEADER || ef_len % 4 != 0 || ef_len > len - pos)
            return false;
        if (load_be16(plain + pos) == NTS_EF_COOKIE && ef_len > EF_HEADER)
            take(ctx, plain + pos + EF_HEADER, ef_len - EF_HEADER);
        pos += ef_len;
    }
    return true;
}

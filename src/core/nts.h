/*
 * nts: Network Time Security (RFC 8915) without the cryptography — record and
 * field codecs, the cookie layout and the server's cookie keyring.
 *
 * Owns:
 *   - the NTS-KE record parser, incremental and bounded in picohttpparser's
 *     shape (bytes consumed / need more / error), and the messages built of
 *     records: a client's request read by the server, the server's response
 *     read by the client, and the server's response written;
 *   - the NTS extension fields of an NTP packet (Unique Identifier, Cookie,
 *     Cookie Placeholder, Authenticator and Encrypted Extension Fields): found
 *     and checked in a request or a reply, and appended with RFC 7822 padding;
 *   - the cookie's layout: key id, nonce, then the AEAD output over the plain
 *     part (algorithm, C2S key, S2C key) — sealing and opening are io/'s;
 *   - the keyring of server cookie keys: a current key and a few previous
 *     ones, each named by its rotation period number.
 * The AEAD (AES-SIV-CMAC-256) and TLS live in io/ (OpenSSL); nothing here
 * allocates, and every length read from the network is checked before use.
 */
#ifndef HORLOGE_NTS_H
#define HORLOGE_NTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/packet.h"

#define NTS_KE_DEFAULT_PORT 4460
#define NTS_ALPN "ntske/1"
/* RFC 8915 §5.1: exporter label; context = protocol id, AEAD id, 0 (C2S) or 1 (S2C). */
#define NTS_EXPORTER_LABEL "EXPORTER-network-time-security"

/* AEAD_AES_SIV_CMAC_256 (RFC 5297), the one every NTS implementation must offer. */
#define NTS_AEAD_SIV_CMAC_256 15
#define NTS_KEY_LEN 32
#define NTS_TAG_LEN 16
#define NTS_NONCE_LEN 16
#define NTS_PROTOCOL_NTPV4 0

/* NTS-KE record types (RFC 8915 §4). */
enum nts_ke_type {
    NTS_KE_END = 0,
    NTS_KE_NEXT_PROTOCOL = 1,
    NTS_KE_ERROR = 2,
    NTS_KE_WARNING = 3,
    NTS_KE_AEAD = 4,
    NTS_KE_COOKIE = 5,
    NTS_KE_SERVER = 6,
    NTS_KE_PORT = 7,
};
#define NTS_KE_CRITICAL 0x8000
enum nts_ke_error_code { NTS_KE_ERR_UNRECOGNIZED = 0, NTS_KE_ERR_BAD_REQUEST = 1, NTS_KE_ERR_INTERNAL = 2 };

/* A record body is never longer than this here: a cookie or a host name fits, a flood does not. */
#define NTS_KE_MAX_BODY 512
/* A whole NTS-KE message (request or response) is never longer than this. */
#define NTS_KE_MAX_MESSAGE 4096
/* Cookies a server hands out per handshake (RFC 8915 §4.1.6 recommends 8). */
#define NTS_COOKIES_PER_KE 8
#define NTS_COOKIE_MAX_LEN 256
#define NTS_HOST_MAX 255

/* NTP extension field types (RFC 8915 §5.7). */
#define NTS_EF_UID 0x0104
#define NTS_EF_COOKIE 0x0204
#define NTS_EF_PLACEHOLDER 0x0304
#define NTS_EF_AUTH 0x0404
#define NTS_UID_MIN_LEN 32

/* ---- NTS-KE records ---- */

struct nts_ke_record {
    uint16_t type;       /* without the critical bit */
    bool critical;
    uint16_t body_len;
    const uint8_t *body; /* points into the parsed buffer */
};

/*
 * Parses one record at the start of buf: > 0 bytes consumed, 0 when the record
 * is not complete yet, -1 when it never can be (body over NTS_KE_MAX_BODY).
 */
int nts_ke_record_parse(const uint8_t *buf, size_t len, struct nts_ke_record *rec);
/* Appends a record at *pos; false (nothing written) when it does not fit in cap. */
bool nts_ke_record_put(uint8_t *buf, size_t cap, size_t *pos, uint16_t type, bool critical,
                       const uint8_t *body, size_t body_len);

enum nts_ke_status { NTS_KE_MORE = 0, NTS_KE_DONE, NTS_KE_BAD };

/* A client's request, as the server reads it record by record. */
struct nts_ke_request {
    bool seen_protocol, seen_aead;
    bool ntpv4;          /* NTPv4 among the next protocols offered */
    bool siv;            /* AES-SIV-CMAC-256 among the algorithms offered */
    uint16_t error;      /* when BAD: the error code to send back */
    size_t total;        /* bytes consumed so far */
};
void nts_ke_request_init(struct nts_ke_request *req);
/*
 * Feeds what has arrived (the unconsumed bytes, from the start of the next
 * record); *consumed says how many bytes were used. DONE after End of Message
 * with both negotiations acceptable; BAD with req->error set otherwise.
 */
enum nts_ke_status nts_ke_request_feed(struct nts_ke_request *req, const uint8_t *buf, size_t len,
                                       size_t *consumed);

/* The server's response, as the client reads it. */
struct nts_ke_response {
    bool ntpv4, siv;
    uint16_t error;      /* 0xffff: none received */
    unsigned n_cookies;
    uint16_t cookie_len[NTS_COOKIES_PER_KE];
    uint8_t cookies[NTS_COOKIES_PER_KE][NTS_COOKIE_MAX_LEN];
    char server[NTS_HOST_MAX + 1]; /* empty: the NTS-KE server's own address */
    uint16_t port;                 /* 0: 123 */
    size_t total;
};
void nts_ke_response_init(struct nts_ke_response *resp);
enum nts_ke_status nts_ke_response_feed(struct nts_ke_response *resp, const uint8_t *buf, size_t len,
                                        size_t *consumed);

/* What the server's response says besides its cookies. */
struct nts_ke_offer {
    const char *server;  /* NULL: none (clients use the NTS-KE server's address) */
    uint16_t port;       /* 0: none (clients use 123) */
};
/* Writes the response's leading records (protocol, AEAD, server, port); its length, or 0. */
size_t nts_ke_response_start(uint8_t *buf, size_t cap, const struct nts_ke_offer *offer);
/* Writes an Error record and End of Message; its length, or 0. */
size_t nts_ke_error_response(uint8_t *buf, size_t cap, uint16_t code);

/* ---- cookies ---- */

/* The cookie's plain part: algorithm (2), reserved (2), C2S key, S2C key. */
#define NTS_COOKIE_PLAIN_LEN (4 + 2 * NTS_KEY_LEN)
/* Key id (4), nonce, AEAD tag, encrypted plain part: 104 bytes, a multiple of 4. */
#define NTS_COOKIE_LEN (4 + NTS_NONCE_LEN + NTS_TAG_LEN + NTS_COOKIE_PLAIN_LEN)
#define NTS_COOKIE_NONCE_OFF 4
#define NTS_COOKIE_SEALED_OFF (4 + NTS_NONCE_LEN)

struct nts_session_keys {
    uint8_t c2s[NTS_KEY_LEN];
    uint8_t s2c[NTS_KEY_LEN];
};
void nts_cookie_plain_encode(const struct nts_session_keys *keys, uint8_t out[NTS_COOKIE_PLAIN_LEN]);
/* False when the algorithm is not ours or the reserved bytes are not zero. */
bool nts_cookie_plain_decode(const uint8_t in[NTS_COOKIE_PLAIN_LEN], struct nts_session_keys *keys);
/* The key id of a cookie of NTS_COOKIE_LEN bytes. */
uint32_t nts_cookie_key_id(const uint8_t *cookie);

/* ---- the server's cookie keys ---- */

#define NTS_KEYRING_MAX 4
struct nts_server_key {
    uint32_t id;         /* rotation period number */
    uint8_t key[NTS_KEY_LEN];
};
struct nts_keyring {
    unsigned n;          /* keys[0] is the current one */
    struct nts_server_key keys[NTS_KEYRING_MAX];
};
void nts_keyring_init(struct nts_keyring *ring);
/* Makes `key` current, keeping at most NTS_KEYRING_MAX - 1 previous ones (a key of the same id is replaced). */
void nts_keyring_push(struct nts_keyring *ring, const struct nts_server_key *key);
const struct nts_server_key *nts_keyring_find(const struct nts_keyring *ring, uint32_t id);
const struct nts_server_key *nts_keyring_current(const struct nts_keyring *ring);

/* ---- NTS extension fields in NTP packets ---- */

/* Where the NTS fields of a packet lie (offsets into the packet). */
struct nts_fields {
    size_t uid_off, uid_len;           /* body */
    size_t cookie_off, cookie_len;     /* body of the one Cookie field (requests) */
    unsigned placeholders;
    size_t auth_off;                   /* the Authenticator field's first byte: end of associated data */
    size_t nonce_off, nonce_len;
    size_t sealed_off, sealed_len;     /* tag then ciphertext */
};

enum nts_parse { NTS_NOT_NTS = 0, NTS_PARSED, NTS_MALFORMED };
/*
 * A request is NTS when it has a Unique Identifier and a Cookie field; it is
 * well formed with exactly one of each, an Authenticator as its last field,
 * no MAC, and nothing unknown before it.
 */
enum nts_parse nts_parse_request(const uint8_t *pkt, const struct ntp_layout *layout, struct nts_fields *f);
/* A reply is checked for the Unique Identifier `uid` and a last Authenticator field. */
enum nts_parse nts_parse_reply(const uint8_t *pkt, const struct ntp_layout *layout, const uint8_t *uid,
                               size_t uid_len, struct nts_fields *f);

/* Bytes an extension field with a body of `body_len` takes (padded to 4, at least 16). */
size_t nts_ef_size(size_t body_len);
/* Appends an extension field at *pos (zero padding); false when it does not fit in cap. */
bool nts_ef_put(uint8_t *pkt, size_t cap, size_t *pos, uint16_t type, const uint8_t *body, size_t body_len);
/*
 * Lays out an Authenticator field at *pos for a nonce of nonce_len and a
 * sealed part (tag + ciphertext) of sealed_len, copying the nonce in; the
 * caller writes the sealed bytes at f->sealed_off. False when it does not fit.
 */
bool nts_auth_put(uint8_t *pkt, size_t cap, size_t *pos, const uint8_t *nonce, size_t nonce_len,
                  size_t sealed_len, struct nts_fields *f);
/* Size of an Authenticator field with that nonce and sealed part. */
size_t nts_auth_size(size_t nonce_len, size_t sealed_len);

/*
 * Walks plaintext decrypted from a reply's Authenticator (a run of extension
 * fields) for NTS Cookie fields: calls `take` for each cookie body. False when
 * the run is malformed.
 */
bool nts_each_cookie(const uint8_t *plain, size_t len,
                     void (*take)(void *ctx, const uint8_t *cookie, size_t cookie_len), void *ctx);

#endif

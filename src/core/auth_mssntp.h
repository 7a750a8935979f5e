/*
 * auth_mssntp: MS-SNTP signed replies for Windows domain members, through
 * Samba's ntp_signd, as an auth strategy (auth.h) — and that signer's
 * protocol, byte for byte.
 *
 * Owns: which requests are MS-SNTP — 68 bytes (header, 4-byte key id, 16-byte
 * checksum) whose key id no earlier strategy claimed (the server asks
 * symmetric keys first, so a key id in `keyfile` stays symmetric). Such a
 * request is AUTH_VALID and *deferred*: its 48-byte reply is handed,
 * unsigned, to the shell (outcome RESP_DEFERRED), which queues it for the
 * signer and sends what the signer returns. The key id's bytes are the
 * account's RID little-endian, the top bit choosing the previous password;
 * they go to the signer as they came, and the DC verifies nothing of the
 * request (MS-SNTP §3.2.5.1: the request's checksum is not checked).
 * A 120-byte request (ExtendedAuthenticator, MS-SNTP §2.2.2) is not one the
 * signer can sign: the responder counts it apart (RESP_DROP_MSSNTP_EXTENDED).
 *
 * Samba's socket protocol (source4/ntp_signd, librpc/idl/ntp_signd.idl: NDR,
 * so each field aligned to its size), each message prefixed by its length as
 * a 4-byte big-endian integer:
 *   request: version u32 BE (0), op u32 BE (0 = SIGN_TO_CLIENT), packet id
 *            u16 BE, 2 bytes of alignment, key id u32 LE, the 48-byte reply;
 *   answer:  version u32 BE, op u32 BE (3 = SIGNING_SUCCESS, 4 = FAILURE),
 *            packet id u32 BE, then on success the signed 68-byte reply
 *            (ours, then the key id as sent, then MD5(NT hash || reply)).
 * (Checked against a Samba 4.17 DC by tests/integration/test_55.)
 */
#ifndef HORLOGE_AUTH_MSSNTP_H
#define HORLOGE_AUTH_MSSNTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/auth.h"

#define MSSNTP_REQUEST_LEN 68
#define MSSNTP_EXTENDED_LEN 120
#define MSSNTP_SIGNED_LEN 68
/* A whole sign request on the socket: length prefix, 16 bytes of fields, the 48-byte reply. */
#define MSSNTP_SIGN_REQUEST_LEN (4 + 16 + 48)
/* The largest answer we accept (Samba's is 4 + 12 + 68); longer ones are the signer's error. */
#define MSSNTP_ANSWER_MAX (4 + 12 + MSSNTP_SIGNED_LEN)

enum mssntp_op {
    MSSNTP_SIGN_TO_CLIENT = 0,
    MSSNTP_SIGNING_SUCCESS = 3,
    MSSNTP_SIGNING_FAILURE = 4,
};

extern const struct auth_ops auth_mssntp;

/* Whether a request of this length and layout is MS-SNTP's 68-byte form. */
bool mssntp_is_request(size_t len, const struct ntp_layout *layout);

/* Writes the sign request for `reply` (48 bytes) into out (MSSNTP_SIGN_REQUEST_LEN bytes). */
void mssntp_encode_sign_request(uint16_t packet_id, const uint8_t key_id_wire[4], const uint8_t *reply,
                                uint8_t *out);

struct mssntp_answer {
    enum mssntp_op op;
    uint16_t packet_id;
    const uint8_t *signed_reply; /* MSSNTP_SIGNED_LEN bytes inside the buffer, or NULL */
};

enum mssntp_parse {
    MSSNTP_NEED_MORE = 0, /* not a whole answer yet */
    MSSNTP_ANSWER,        /* one answer of *used bytes */
    MSSNTP_BAD,           /* not the protocol: the connection must be dropped */
};

/* Looks for one answer at the start of buf; *used is its length when MSSNTP_ANSWER. */
enum mssntp_parse mssntp_parse_answer(const uint8_t *buf, size_t len, struct mssntp_answer *out, size_t *used);

#endif

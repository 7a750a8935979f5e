/*
 * libFuzzer target for NTS on the server's NTP path and the cookie opener:
 * any datagram goes through the responder with the NTS strategy (fixed cookie
 * keys): the reply is never longer than the request and decodes; any bytes
 * given to the cookie opener as a cookie are refused unless they are one. The
 * input's first byte picks whether it is placed behind a valid header, UID
 * and a real cookie, so the authenticator and placeholder paths are reached.
 * The same datagram, taken as a reply by an NTS client waiting on that UID,
 * is never accepted (it cannot carry a valid authenticator under S2C).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/nts.h"
#include "core/packet.h"
#include "core/responder.h"
#include "io/auth_nts.h"
#include "io/log.h"
#include "io/nts_client.h"
#include "io/nts_keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct resp_state state = {.stratum = 2, .precision = -24, .refid = 0xc0000201};

static struct nts_keys *keys(void)
{
    static struct nts_keys k;
    static bool ready;
    if (!ready) {
        log_open("fuzz", 0, LOG_LEVEL_ERROR);
        nts_keys_init(&k, 3600, "", "", 1790000000);
        ready = true;
    }
    return &k;
}

/* A header, a UID and a genuine cookie, then the fuzzer's bytes. */
static size_t with_prefix(const uint8_t *data, size_t size, uint8_t *pkt)
{
    struct ntp_header h = {.version = 4, .mode = NTP_MODE_CLIENT};
    pkt_encode_header(&h, pkt);
    size_t pos = NTP_HEADER_LEN;
    uint8_t uid[32] = {1}, cookie[NTS_COOKIE_LEN];
    struct nts_session_keys sk = {{0}};
    nts_ef_put(pkt, NTP_MAX_PACKET_LEN, &pos, NTS_EF_UID, uid, sizeof uid);
    if (nts_cookie_make(keys(), &sk, cookie))
        nts_ef_put(pkt, NTP_MAX_PACKET_LEN, &pos, NTS_EF_COOKIE, cookie, sizeof cookie);
    size_t n = size < NTP_MAX_PACKET_LEN - pos ? size : NTP_MAX_PACKET_LEN - pos;
    memcpy(pkt + pos, data, n);
    return pos + n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t pkt[NTP_MAX_PACKET_LEN], out[NTP_MAX_PACKET_LEN];
    size_t len = data[0] & 1 ? with_prefix(data + 1, size - 1, pkt) : (size - 1 < sizeof pkt ? size - 1 : sizeof pkt);
    if (!(data[0] & 1))
        memcpy(pkt, data + 1, len);
    struct auth_set set;
    auth_set_init(&set);
    auth_set_add(&set, &auth_nts, keys());
    struct resp_request rq = {.bytes = pkt, .len = len, .rx = 0xec12345600000000ULL};
    enum resp_outcome outcome;
    size_t n = resp_answer(&state, &set, &rq, out, sizeof out, &outcome);
    struct ntp_header h;
    if (n > len || (n && pkt_decode(out, n, &h, NULL) != PKT_OK))
        __builtin_trap();
    struct nts_session_keys sk;
    if (nts_cookie_open(keys(), data + 1, size - 1, &sk))
        __builtin_trap(); /* forging a cookie under a random key: not from a fuzzer */
    static struct nts_client client;
    memset(&client, 0, sizeof client);
    client.have_keys = true;
    client.outstanding = true;
    client.uid[0] = 1; /* the prefix's UID */
    struct ntp_layout layout;
    if (pkt_decode(pkt, len, &h, &layout) == PKT_OK && nts_client_check_reply(&client, pkt, len, &layout))
        __builtin_trap();
    if (client.n_cookies > NTS_COOKIES_PER_KE)
        __builtin_trap();
    return 0;
}

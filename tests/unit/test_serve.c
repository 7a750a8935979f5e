/*
 * Unit tests for the serving policy: access list drop vs DENY KoD, rate
 * limit drop vs RATE KoD, what every kind of request is counted as, and a
 * reply never longer than its request over a sweep of lengths and contents.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/packet.h"
#include "core/serve.h"

#define SEC 1000000000ULL
#define RX 0xEB00000080000000ULL
#define RL_ENTRIES 64

struct fixture {
    struct serve_policy policy;
    struct resp_state state;
    void *rl_mem;
    struct rl_table *rl;
    struct serve_counters c;
    struct net_addr client;
    uint64_t now_ns;
    uint8_t out[NTP_MAX_PACKET_LEN];
    enum serve_tx tx;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    serve_policy_init(&f->policy);
    f->state = (struct resp_state){.stratum = 2, .precision = -20, .refid = 0x0a000001};
    size_t bytes = rl_table_bytes(RL_ENTRIES);
    f->rl_mem = calloc(1, bytes);
    assert_non_null(f->rl_mem);
    const struct rl_params off = {.enabled = false, .interval_log2 = 3, .burst = 8, .leak_log2 = 2};
    f->rl = rl_table_init(f->rl_mem, bytes, RL_ENTRIES, &off, 0x5eed);
    assert_non_null(f->rl);
    f->client.family = NET_IPV4;
    memcpy(f->client.bytes, (uint8_t[]){192, 0, 2, 7}, 4);
    f->now_ns = 1000 * SEC;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    free(f->rl_mem);
    free(f);
    return 0;
}

static size_t request(uint8_t *buf, uint8_t version, uint8_t mode)
{
    memset(buf, 0, NTP_HEADER_LEN);
    buf[0] = (uint8_t)((version << 3) | mode);
    store_be64(buf + 40, 0x1122334455667788ULL);
    return NTP_HEADER_LEN;
}

static size_t serve(struct fixture *f, const uint8_t *req, size_t len)
{
    const struct serve_request rq = {
        .client = &f->client, .mono_ns = f->now_ns, .bytes = req, .len = len, .rx = RX,
    };
    size_t n = serve_request(&f->policy, &f->state, f->rl, &rq, f->out, sizeof f->out, &f->c, &f->tx);
    assert_true(n <= len);
    return n;
}

static uint32_t reply_refid(const struct fixture *f)
{
    struct ntp_header h;
    assert_int_equal(pkt_decode(f->out, NTP_HEADER_LEN, &h, NULL), PKT_OK);
    return h.refid;
}

static void deny_everyone(struct fixture *f)
{
    const struct acl_rule deny_all = {.net = {.family = NET_NONE}, .prefix_bits = 0, .allow = false};
    assert_true(acl_add(&f->policy.acl, &deny_all));
}

/* Every counter at once: the ones not named must have stayed zero. */
static void expect(const struct fixture *f, struct serve_counters want)
{
    const uint64_t *got = (const uint64_t *)&f->c, *exp = (const uint64_t *)&want;
    for (size_t i = 0; i < sizeof want / sizeof(uint64_t); i++)
        assert_int_equal(got[i], exp[i]);
}

/* Serves a 48-byte request of `version` and `mode`. */
static size_t serve_header(struct fixture *f, uint8_t version, uint8_t mode)
{
    uint8_t req[NTP_HEADER_LEN];
    return serve(f, req, request(req, version, mode));
}

static void test_plain_request_replied(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(serve_header(f, 4, NTP_MODE_CLIENT), NTP_HEADER_LEN);
    expect(f, (struct serve_counters){.received = 1, .replied = 1});
    assert_int_equal(rl_used_entries(f->rl), 1); /* the client log saw it */
}

static void test_acl_deny_drops(void **state)
{
    struct fixture *f = *state;
    deny_everyone(f);
    assert_int_equal(serve_header(f, 4, NTP_MODE_CLIENT), 0);
    expect(f, (struct serve_counters){.received = 1, .denied = 1});
    assert_int_equal(rl_used_entries(f->rl), 0); /* refused before the rate limiter */
}

static void test_acl_deny_kod(void **state)
{
    struct fixture *f = *state;
    deny_everyone(f);
    f->policy.deny_kod = true;
    assert_int_equal(serve_header(f, 4, NTP_MODE_CLIENT), NTP_HEADER_LEN);
    assert_int_equal(reply_refid(f), pkt_refid_ascii("DENY"));
    expect(f, (struct serve_counters){.received = 1, .denied = 1, .kod_deny = 1});
    /* A denied client's malformed request is counted as denied and malformed, no KoD. */
    assert_int_equal(serve_header(f, 0, NTP_MODE_CLIENT), 0);
    expect(f, (struct serve_counters){.received = 2, .denied = 2, .kod_deny = 1, .malformed = 1});
}

static void limit(struct fixture *f, unsigned leak_log2)
{
    const struct rl_params p = {.enabled = true, .interval_log2 = 3, .burst = 2, .leak_log2 = leak_log2};
    rl_set_params(f->rl, &p);
}

static void test_rate_limited_kod(void **state)
{
    struct fixture *f = *state;
    limit(f, 0); /* every limited request gets a RATE KoD */
    for (int i = 0; i < 3; i++)
        assert_int_equal(serve_header(f, 4, NTP_MODE_CLIENT), NTP_HEADER_LEN);
    assert_int_equal(reply_refid(f), pkt_refid_ascii("RATE"));
    expect(f, (struct serve_counters){.received = 3, .replied = 2, .rate_limited = 1, .kod_rate = 1});
}

static void test_rate_limited_drop(void **state)
{
    struct fixture *f = *state;
    limit(f, 4); /* one limited request in 16 gets a KoD, the others nothing */
    unsigned answered = 0;
    for (int i = 0; i < 2 + 32; i++)
        answered += serve_header(f, 4, NTP_MODE_CLIENT) > 0;
    expect(f, (struct serve_counters){.received = 34, .replied = 2, .rate_limited = 32, .kod_rate = 2});
    assert_int_equal(answered, 2 + 2);
}

static void test_w32time_counted_symmetric(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(serve_header(f, 3, NTP_MODE_SYM_ACTIVE), NTP_HEADER_LEN);
    assert_int_equal(f->out[0] & 7, NTP_MODE_SYM_PASSIVE);
    expect(f, (struct serve_counters){.received = 1, .replied = 1, .replied_sym = 1});
}

static void test_mac_counted_crypto_nak(void **state)
{
    struct fixture *f = *state;
    uint8_t req[NTP_HEADER_LEN + 20] = {0};
    request(req, 4, NTP_MODE_CLIENT);
    store_be32(req + NTP_HEADER_LEN, 1);
    assert_int_equal(serve(f, req, sizeof req), NTP_HEADER_LEN + AUTH_CRYPTO_NAK_LEN);
    expect(f, (struct serve_counters){.received = 1, .replied = 1, .crypto_nak = 1});
    /* A KoD carries the crypto-NAK too, but counts only as the KoD (as before the seam). */
    deny_everyone(f);
    f->policy.deny_kod = true;
    assert_int_equal(serve(f, req, sizeof req), NTP_HEADER_LEN + AUTH_CRYPTO_NAK_LEN);
    expect(f, (struct serve_counters){.received = 2, .replied = 1, .crypto_nak = 1, .denied = 1,
                                      .kod_deny = 1});
}

/* An interleaved request (RFC 9769): origin = our last reply's receive time, receive = a client value. */
static size_t serve_xleave(struct fixture *f, ntp_ts origin, ntp_ts receive, ntp_ts rx)
{
    uint8_t req[NTP_HEADER_LEN];
    request(req, 4, NTP_MODE_CLIENT);
    store_be64(req + 24, origin);
    store_be64(req + 32, receive);
    const struct serve_request rq = {
        .client = &f->client, .mono_ns = f->now_ns, .bytes = req, .len = sizeof req, .rx = rx,
    };
    return serve_request(&f->policy, &f->state, f->rl, &rq, f->out, sizeof f->out, &f->c, &f->tx);
}

static void test_interleaved_client(void **state)
{
    struct fixture *f = *state;
    struct ntp_header h;
    /* First contact: basic, nothing to record. */
    assert_int_equal(serve_xleave(f, 0, 0, RX), NTP_HEADER_LEN);
    assert_int_equal(f->tx, SERVE_TX_STAMP);
    /* Its origin names our last receive time: an interleaved client, but no departure known yet. */
    assert_int_equal(serve_xleave(f, RX, 0xC0FFEE, RX + 1000), NTP_HEADER_LEN);
    assert_int_equal(f->tx, SERVE_TX_STAMP_RECORD);
    assert_int_equal(pkt_decode(f->out, NTP_HEADER_LEN, &h, NULL), PKT_OK);
    assert_true(h.origin == 0x1122334455667788ULL); /* basic: origin = request's transmit */
    serve_record_departure(f->rl, &f->client, RX + 999, RX + 1500); /* not this reply's: ignored */
    serve_record_departure(f->rl, &f->client, RX + 1000, RX + 1001);
    /* Now interleaved: origin = request's receive, transmit = the last reply's departure. */
    assert_int_equal(serve_xleave(f, RX + 1000, 0xBEEF, RX + 2000), NTP_HEADER_LEN);
    assert_int_equal(f->tx, SERVE_TX_KEEP_RECORD);
    assert_int_equal(pkt_decode(f->out, NTP_HEADER_LEN, &h, NULL), PKT_OK);
    assert_true(h.origin == 0xBEEF && h.receive == RX + 2000 && h.transmit == RX + 1001);
    /* A client whose origin is stale (a reply lost) falls back to basic. */
    assert_int_equal(serve_xleave(f, RX + 1000, 0xBEEF, RX + 3000), NTP_HEADER_LEN);
    assert_int_equal(f->tx, SERVE_TX_STAMP);
    expect(f, (struct serve_counters){.received = 4, .replied = 4, .replied_xleave = 1});
}

static void test_drops_counted(void **state)
{
    struct fixture *f = *state;
    uint8_t req[NTP_HEADER_LEN];
    assert_int_equal(serve(f, req, request(req, 4, NTP_MODE_CLIENT) - 1), 0);
    assert_int_equal(serve_header(f, 0, NTP_MODE_CLIENT), 0);
    assert_int_equal(serve_header(f, 4, NTP_MODE_BROADCAST), 0);
    assert_int_equal(serve_header(f, 4, NTP_MODE_SERVER), 0);
    assert_int_equal(serve_header(f, 2, NTP_MODE_CONTROL), 0);
    assert_int_equal(serve(f, req, request(req, 2, NTP_MODE_PRIVATE) - 40), 0); /* ntpdc's 8 bytes */
    expect(f, (struct serve_counters){.received = 6, .malformed = 2, .bad_mode = 2, .control_mode = 2});
}

/* Each request lands in exactly one outcome counter (with the rate limiter off and everyone allowed). */
static uint64_t outcomes(const struct serve_counters *c)
{
    return c->replied + c->kod_rate + c->kod_deny + c->malformed + c->bad_mode + c->control_mode +
           c->auth_failed + c->no_room + c->deferred + c->mssntp_extended;
}

/* Any remainder after the header: zeros, a MAC-sized tail, extension fields, noise. */
static void fill_trailer(uint8_t *req, size_t len, unsigned pattern)
{
    for (size_t i = NTP_HEADER_LEN; i < len; i++)
        req[i] = (uint8_t)(pattern == 0 ? 0 : (i * 2654435761u + pattern) >> 13);
    if (len >= NTP_HEADER_LEN + 16 && pattern == 1) {
        store_be16(req + NTP_HEADER_LEN, 0x0104);
        store_be16(req + NTP_HEADER_LEN + 2, (uint16_t)((len - NTP_HEADER_LEN) & ~3u));
    }
}

static void test_reply_never_larger_than_request(void **state)
{
    struct fixture *f = *state;
    static uint8_t req[NTP_MAX_PACKET_LEN + 8];
    const uint8_t first_bytes[] = {0x23, 0x1b, 0x19, 0x0b, 0xe3, 0x26, 0x17, 0x20};
    uint64_t replies = 0;
    for (size_t len = 0; len <= sizeof req; len++) {
        for (unsigned pattern = 0; pattern < 3; pattern++) {
            for (size_t b = 0; b < sizeof first_bytes; b++) {
                memset(req, 0, NTP_HEADER_LEN);
                req[0] = first_bytes[b];
                fill_trailer(req, len, pattern);
                size_t n = serve(f, req, len); /* asserts n <= len */
                replies += n > 0;
            }
        }
    }
    assert_int_equal(f->c.received, outcomes(&f->c));
    assert_int_equal(replies, f->c.replied + f->c.kod_rate + f->c.kod_deny);
    assert_true(f->c.replied > 0 && f->c.crypto_nak > 0 && f->c.malformed > 0);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_plain_request_replied),
        T(test_acl_deny_drops),
        T(test_acl_deny_kod),
        T(test_rate_limited_kod),
        T(test_rate_limited_drop),
        T(test_w32time_counted_symmetric),
        T(test_mac_counted_crypto_nak),
        T(test_interleaved_client),
        T(test_drops_counted),
        T(test_reply_never_larger_than_request),
    };
#undef T
    return cmocka_run_group_tests_name("serve", tests, NULL, NULL);
}

/*
 * Unit tests for the authentication seam: a test strategy (a fake 4+16-byte
 * MAC) registered in a server's set proves the responder asks the strategies
 * in order, lets the judging one seal, hands it a cap no larger than the
 * request and drops what a strategy makes longer; auth_none's client hooks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/auth.h"
#include "core/packet.h"
#include "core/responder.h"

#define RX 0xEB00000080000000ULL
#define KEY_HELD 42
#define KEY_WRONG_DIGEST 13
#define DIGEST_LEN 16
#define DIGEST_BYTE 0x5a

/* The test strategy's state: what it was asked, and how far it oversteps when told to. */
struct fake_mac {
    unsigned checks;
    unsigned seals;
    size_t last_cap;
    size_t overreach; /* bytes written past cap, to prove the responder refuses them */
};

static enum auth_verdict fake_check(void *ctx, const uint8_t *req, size_t len,
                                    const struct ntp_layout *layout, struct auth_request_info *info)
{
    (void)req, (void)len;
    struct fake_mac *f = ctx;
    f->checks++;
    if (!layout->has_mac || layout->mac_len != 4 + DIGEST_LEN)
        return AUTH_NOT_MINE;
    if (layout->key_id == KEY_WRONG_DIGEST)
        return AUTH_INVALID;
    if (layout->key_id != KEY_HELD)
        return AUTH_NOT_MINE;
    memset(info->data, DIGEST_BYTE, DIGEST_LEN); /* what sealing will need, kept in info */
    return AUTH_VALID;
}

static size_t fake_seal(void *ctx, const struct auth_request_info *info, uint8_t *reply, size_t len,
                        size_t cap)
{
    struct fake_mac *f = ctx;
    f->seals++;
    f->last_cap = cap;
    assert_int_equal(info->verdict, AUTH_VALID);
    if (f->overreach)
        return cap + f->overreach;
    if (cap < len + 4 + DIGEST_LEN)
        return 0;
    store_be32(reply + len, info->key_id);
    memcpy(reply + len + 4, info->data, DIGEST_LEN);
    return len + 4 + DIGEST_LEN;
}

static const struct auth_ops fake_mac_ops = {
    .name = "fake-mac",
    .check_request = fake_check,
    .seal_reply = fake_seal,
};

static const struct resp_state state = {.stratum = 2, .precision = -20, .refid = 0x0a000001};

/* A server whose set holds the fake strategy, and one request/reply pair. */
struct fixture {
    struct auth_set set;
    struct fake_mac fake;
    uint8_t req[NTP_MAX_PACKET_LEN];
    uint8_t out[NTP_MAX_PACKET_LEN];
    size_t req_len;
    enum resp_outcome oc;
};

static int setup(void **state_)
{
    struct fixture *f = test_calloc(1, sizeof *f);
    auth_set_init(&f->set);
    assert_true(auth_set_add(&f->set, &fake_mac_ops, &f->fake));
    *state_ = f;
    return 0;
}

static int teardown(void **state_)
{
    test_free(*state_);
    return 0;
}

/* A client request with a MAC of `mac_len` bytes (0: none) naming `key_id`. */
static void request(struct fixture *f, uint32_t key_id, size_t mac_len)
{
    memset(f->req, 0, NTP_HEADER_LEN + mac_len);
    f->req[0] = (4 << 3) | NTP_MODE_CLIENT;
    store_be64(f->req + 40, 0x1122334455667788ULL);
    if (mac_len >= 4)
        store_be32(f->req + NTP_HEADER_LEN, key_id);
    f->req_len = NTP_HEADER_LEN + mac_len;
}

/* Answers a request with a fake-MAC-sized MAC naming `key_id`, into `cap` bytes. */
static size_t answer(struct fixture *f, uint32_t key_id, size_t cap)
{
    request(f, key_id, 4 + DIGEST_LEN);
    const struct resp_request rq = {.bytes = f->req, .len = f->req_len, .rx = RX, .kod = RESP_KOD_NONE};
    size_t n = resp_answer(&state, &f->set, &rq, f->out, cap, &f->oc);
    assert_true(n <= f->req_len && n <= cap);
    return n;
}

static void test_held_key_is_sealed_by_its_strategy(void **state_)
{
    struct fixture *f = *state_;
    size_t len = NTP_HEADER_LEN + 4 + DIGEST_LEN;
    assert_int_equal(answer(f, KEY_HELD, sizeof f->out), len);
    assert_int_equal(f->oc, RESP_REPLIED);
    assert_int_equal(f->fake.checks, 1);
    assert_int_equal(f->fake.seals, 1);
    assert_int_equal(f->fake.last_cap, len); /* the request's length, not the 1280-byte buffer */
    assert_int_equal(load_be32(f->out + NTP_HEADER_LEN), KEY_HELD);
    assert_int_equal(f->out[NTP_HEADER_LEN + 4], DIGEST_BYTE);
    assert_int_equal(f->out[len - 1], DIGEST_BYTE);
}

static void test_cap_is_smaller_of_request_and_buffer(void **state_)
{
    struct fixture *f = *state_;
    size_t cap = NTP_HEADER_LEN + 4 + DIGEST_LEN - 1;
    assert_int_equal(answer(f, KEY_HELD, cap), 0);
    assert_int_equal(f->oc, RESP_DROP_NO_ROOM);
    assert_int_equal(f->fake.last_cap, cap);
}

static void test_overreaching_strategy_is_refused(void **state_)
{
    struct fixture *f = *state_;
    f->fake.overreach = 4;
    assert_int_equal(answer(f, KEY_HELD, sizeof f->out), 0);
    assert_int_equal(f->oc, RESP_DROP_NO_ROOM);
    assert_int_equal(f->fake.seals, 1);
}

static void test_invalid_is_dropped_unsealed(void **state_)
{
    struct fixture *f = *state_;
    assert_int_equal(answer(f, KEY_WRONG_DIGEST, sizeof f->out), 0);
    assert_int_equal(f->oc, RESP_DROP_AUTH);
    assert_int_equal(f->fake.seals, 0);
}

/* What no strategy claims is auth_none's: a plain reply, or a crypto-NAK for a key nobody holds. */
static void test_unclaimed_falls_to_auth_none(void **state_)
{
    struct fixture *f = *state_;
    assert_int_equal(answer(f, 7, sizeof f->out), NTP_HEADER_LEN + AUTH_CRYPTO_NAK_LEN);
    assert_int_equal(f->oc, RESP_CRYPTO_NAK);
    assert_int_equal(load_be32(f->out + NTP_HEADER_LEN), 0);
    request(f, 0, 0);
    const struct resp_request rq = {.bytes = f->req, .len = f->req_len, .rx = RX};
    assert_int_equal(resp_answer(&state, &f->set, &rq, f->out, sizeof f->out, &f->oc), NTP_HEADER_LEN);
    assert_int_equal(f->oc, RESP_REPLIED);
    assert_int_equal(f->fake.checks, 2);
    assert_int_equal(f->fake.seals, 0);
}

static void test_strategies_asked_in_order(void **state_)
{
    struct fixture *f = *state_;
    struct fake_mac second = {0};
    assert_true(auth_set_add(&f->set, &fake_mac_ops, &second));
    assert_int_equal(answer(f, KEY_HELD, sizeof f->out), NTP_HEADER_LEN + 4 + DIGEST_LEN);
    assert_int_equal(f->fake.seals, 1);
    assert_int_equal(second.checks, 0); /* the first claimed it */
    answer(f, 7, sizeof f->out);
    assert_int_equal(second.checks, 1);
}

static void test_set_is_bounded(void **unused)
{
    (void)unused;
    struct auth_set set;
    auth_set_init(&set);
    for (unsigned i = 0; i < AUTH_SET_MAX; i++)
        assert_true(auth_set_add(&set, &auth_none, NULL));
    assert_false(auth_set_add(&set, &auth_none, NULL));
}

static void test_registry_and_none_client_side(void **unused)
{
    (void)unused;
    assert_ptr_equal(auth_find("none"), &auth_none);
    assert_null(auth_find("fake-mac"));
    uint8_t pkt[NTP_MAX_PACKET_LEN] = {0x23};
    assert_int_equal(auth_none.build_request(NULL, pkt, NTP_HEADER_LEN, sizeof pkt), NTP_HEADER_LEN);
    struct ntp_header h;
    struct ntp_layout layout;
    assert_int_equal(pkt_decode(pkt, NTP_HEADER_LEN, &h, &layout), PKT_OK);
    assert_true(auth_none.check_reply(NULL, pkt, NTP_HEADER_LEN, &layout));
    assert_string_equal(auth_verdict_name(AUTH_CRYPTO_NAK), "crypto-nak");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_held_key_is_sealed_by_its_strategy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_is_smaller_of_request_and_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overreaching_strategy_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_is_dropped_unsealed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unclaimed_falls_to_auth_none, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strategies_asked_in_order, setup, teardown),
        cmocka_unit_test(test_set_is_bounded),
        cmocka_unit_test(test_registry_and_none_client_side),
    };
    return cmocka_run_group_tests_name("auth", tests, NULL, NULL);
}

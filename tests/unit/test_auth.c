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

static size_t request(uint8_t *buf, uint32_t key_id, size_t mac_len)
{
    memset(buf, 0, NTP_HEADER_LEN + mac_len);
    buf[0] = (4 << 3) | NTP_MODE_CLIENT;
    store_be64(buf + 40, 0x1122334455667788ULL);
    if (mac_len >= 4)
        store_be32(buf + NTP_HEADER_LEN, key_id);
    return NTP_HEADER_LEN + mac_len;
}

static size_t answer(const struct auth_set *set, const uint8_t *req, size_t len, uint8_t *out,
                     size_t cap, enum resp_outcome *oc)
{
    const struct resp_request rq = {.bytes = req, .len = len, .rx = RX, .kod = RESP_KOD_NONE};
    size_t n = resp_answer(&state, set, &rq, out, cap, oc);
    assert_true(n <= len && n <= cap);
    return n;
}

static void with_fake(struct auth_set *set, struct fake_mac *f)
{
    memset(f, 0, sizeof *f);
    auth_set_init(set);
    assert_true(auth_set_add(set, &fake_mac_ops, f));
}

static void test_held_key_is_sealed_by_its_strategy(void **unused)
{
    (void)unused;
    struct auth_set set;
    struct fake_mac f;
    with_fake(&set, &f);
    uint8_t req[NTP_MAX_PACKET_LEN], out[NTP_MAX_PACKET_LEN];
    enum resp_outcome oc;
    size_t len = request(req, KEY_HELD, 4 + DIGEST_LEN);
    assert_int_equal(answer(&set, req, len, out, sizeof out, &oc), len);
    assert_int_equal(oc, RESP_REPLIED);
    assert_int_equal(f.checks, 1);
    assert_int_equal(f.seals, 1);
    assert_int_equal(f.last_cap, len); /* the request's length, not the 1280-byte buffer */
    assert_int_equal(load_be32(out + NTP_HEADER_LEN), KEY_HELD);
    assert_int_equal(out[NTP_HEADER_LEN + 4], DIGEST_BYTE);
    assert_int_equal(out[len - 1], DIGEST_BYTE);
}

static void test_cap_is_smaller_of_request_and_buffer(void **unused)
{
    (void)unused;
    struct auth_set set;
    struct fake_mac f;
    with_fake(&set, &f);
    uint8_t req[NTP_MAX_PACKET_LEN], out[NTP_MAX_PACKET_LEN];
    enum resp_outcome oc;
    size_t len = request(req, KEY_HELD, 4 + DIGEST_LEN);
    assert_int_equal(answer(&set, req, len, out, len - 1, &oc), 0);
    assert_int_equal(oc, RESP_DROP_NO_ROOM);
    assert_int_equal(f.last_cap, len - 1);
}

static void test_overreaching_strategy_is_refused(void **unused)
{
    (void)unused;
    struct auth_set set;
    struct fake_mac f;
    with_fake(&set, &f);
    f.overreach = 4;
    uint8_t req[NTP_MAX_PACKET_LEN], out[NTP_MAX_PACKET_LEN];
    enum resp_outcome oc;
    size_t len = request(req, KEY_HELD, 4 + DIGEST_LEN);
    assert_int_equal(answer(&set, req, len, out, sizeof out, &oc), 0);
    assert_int_equal(oc, RESP_DROP_NO_ROOM);
    assert_int_equal(f.seals, 1);
}

static void test_invalid_is_dropped_unsealed(void **unused)
{
    (void)unused;
    struct auth_set set;
    struct fake_mac f;
    with_fake(&set, &f);
    uint8_t req[NTP_MAX_PACKET_LEN], out[NTP_MAX_PACKET_LEN];
    enum resp_outcome oc;
    size_t len = request(req, KEY_WRONG_DIGEST, 4 + DIGEST_LEN);
    assert_int_equal(answer(&set, req, len, out, sizeof out, &oc), 0);
    assert_int_equal(oc, RESP_DROP_AUTH);
    assert_int_equal(f.seals, 0);
}

/* What no strategy claims is auth_none's: a plain reply, or a crypto-NAK for a key nobody holds. */
static void test_unclaimed_falls_to_auth_none(void **unused)
{
    (void)unused;
    struct auth_set set;
    struct fake_mac f;
    with_fake(&set, &f);
    uint8_t req[NTP_MAX_PACKET_LEN], out[NTP_MAX_PACKET_LEN];
    enum resp_outcome oc;
    size_t len = request(req, 7, 4 + DIGEST_LEN);
    assert_int_equal(answer(&set, req, len, out, sizeof out, &oc), NTP_HEADER_LEN + AUTH_CRYPTO_NAK_LEN);
    assert_int_equal(oc, RESP_CRYPTO_NAK);
    assert_int_equal(load_be32(out + NTP_HEADER_LEN), 0);
    len = request(req, 0, 0);
    assert_int_equal(answer(&set, req, len, out, sizeof out, &oc), NTP_HEADER_LEN);
    assert_int_equal(oc, RESP_REPLIED);
    assert_int_equal(f.checks, 2);
    assert_int_equal(f.seals, 0);
}

static void test_strategies_asked_in_order(void **unused)
{
    (void)unused;
    struct auth_set set;
    struct fake_mac first, second;
    with_fake(&set, &first);
    memset(&second, 0, sizeof second);
    assert_true(auth_set_add(&set, &fake_mac_ops, &second));
    uint8_t req[NTP_MAX_PACKET_LEN], out[NTP_MAX_PACKET_LEN];
    enum resp_outcome oc;
    size_t len = request(req, KEY_HELD, 4 + DIGEST_LEN);
    assert_int_equal(answer(&set, req, len, out, sizeof out, &oc), len);
    assert_int_equal(first.seals, 1);
    assert_int_equal(second.checks, 0); /* the first claimed it */
    len = request(req, 7, 4 + DIGEST_LEN);
    answer(&set, req, len, out, sizeof out, &oc);
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
    uint8_t pkt[NTP_MAX_PACKET_LEN];
    size_t len = request(pkt, 0, 0);
    assert_int_equal(auth_none.build_request(NULL, pkt, len, sizeof pkt), len);
    struct ntp_header h;
    struct ntp_layout layout;
    assert_int_equal(pkt_decode(pkt, len, &h, &layout), PKT_OK);
    assert_true(auth_none.check_reply(NULL, pkt, len, &layout));
    assert_string_equal(auth_verdict_name(AUTH_CRYPTO_NAK), "crypto-nak");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_held_key_is_sealed_by_its_strategy),
        cmocka_unit_test(test_cap_is_smaller_of_request_and_buffer),
        cmocka_unit_test(test_overreaching_strategy_is_refused),
        cmocka_unit_test(test_invalid_is_dropped_unsealed),
        cmocka_unit_test(test_unclaimed_falls_to_auth_none),
        cmocka_unit_test(test_strategies_asked_in_order),
        cmocka_unit_test(test_set_is_bounded),
        cmocka_unit_test(test_registry_and_none_client_side),
    };
    return cmocka_run_group_tests_name("auth", tests, NULL, NULL);
}

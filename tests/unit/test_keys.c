/*
 * Unit tests for symmetric keys: chrony's key file format (core/keys), the
 * symkey strategy with OpenSSL's arithmetic (io/symkeys) against published
 * vectors (RFC 4493 AES-CMAC, FIPS 180 SHA-1), the responder signing with the
 * request's key, crypto-NAK for an unknown key, nothing for a bad digest, and
 * the client side (a request signed, a reply checked).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/auth_symkey.h"
#include "core/keys.h"
#include "core/packet.h"
#include "core/responder.h"
#include "io/symkeys.h"

#define RX 0xEB00000080000000ULL

static int parse(const char *text, struct key_table *t, struct keys_report *rep)
{
    return keys_parse_text(text, strlen(text), "keys", t, rep);
}

static void test_parse_chrony_format(void **state)
{
    (void)state;
    static struct key_table t;
    static struct keys_report rep;
    const char *text = "# comment\n"
                       "\n"
                       "  3 SHA256 HEX:000102030405060708090A0B0C0D0E0F10111213  # trailing\n"
                       "1 horloge-ascii-key\n"
                       "2 AES128 HEX:2b7e151628aed2a6abf7158809cf4f3c\n"
                       "4294967295 SHA1 abcdefghijklmnop\n"
                       "5 AES256 HEX:603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4\r\n";
    assert_int_equal(parse(text, &t, &rep), 0);
    assert_int_equal(t.n, 5);
    assert_int_equal(t.keys[0].id, 1); /* sorted */
    assert_int_equal(t.keys[0].type, KEY_MD5);
    assert_int_equal(t.keys[0].len, 17);
    assert_memory_equal(t.keys[0].secret, "horloge-ascii-key", 17);
    const struct key_entry *k = keys_find(&t, 2);
    assert_non_null(k);
    assert_int_equal(k->type, KEY_AES128_CMAC);
    assert_int_equal(k->len, 16);
    assert_int_equal(k->secret[0], 0x2b);
    assert_int_equal(keys_find(&t, 5)->len, 32);
    assert_int_equal(keys_find(&t, 3)->len, 20);
    assert_non_null(keys_find(&t, 4294967295u));
    assert_null(keys_find(&t, 6));
    assert_int_equal(rep.errors, 0);
    assert_int_equal(rep.warnings, 1); /* the MD5 key */
    assert_non_null(strstr(rep.text, "keys:4: warning: key 1: MD5"));
}

static void test_parse_errors_reported_by_line(void **state)
{
    (void)state;
    static struct key_table t;
    static struct keys_report rep;
    const char *text = "0 SHA1 zerokeyid1234\n"                   /* 1: id 0 */
                       "7 SHA3 abcdefghijkl\n"                    /* 2: unknown type */
                       "8 AES128 HEX:0011\n"                      /* 3: wrong CMAC length */
                       "9 SHA1 HEX:0g\n"                          /* 4: bad hex */
                       "10 SHA1 HEX:123\n"                        /* 5: odd digits */
                       "11\n"                                     /* 6: no key */
                       "12 SHA1 abcdefghijkl\n"
                       "12 SHA1 abcdefghijkl\n"                   /* 8: twice */
                       "13 SHA1 a b\n"                            /* 9: four words */
                       "x1 SHA1 abcdefghijkl\n";                  /* 10: bad id */
    assert_int_equal(parse(text, &t, &rep), -1);
    assert_int_equal(rep.errors, 9);
    for (int line = 1; line <= 10; line++) {
        if (line == 7)
            continue;
        char want[16];
        snprintf(want, sizeof want, "keys:%d: ", line);
        assert_non_null(strstr(rep.text, want));
    }
}

static struct symkeys keys;

static int setup_keys(void **state)
{
    (void)state;
    symkeys_init(&keys);
    if (symkeys_enable(&keys) < 0)
        return -1;
    static struct keys_report rep;
    const char *text = "2 AES128 HEX:2b7e151628aed2a6abf7158809cf4f3c\n"
                       "7 SHA1 horloge-sha1-secret\n"
                       "12 SHA256 horloge-sha256-secret\n";
    return keys_parse_text(text, strlen(text), "keys", &keys.table, &rep);
}

static int teardown_keys(void **state)
{
    (void)state;
    symkeys_close(&keys);
    return 0;
}

/* RFC 4493 §4, example 2: AES-128 CMAC of a 16-byte message. */
static void test_cmac_rfc4493_vector(void **state)
{
    (void)state;
    static const uint8_t msg[16] = {0x6b, 0xc1, 0xbe, 0xe2, 0x2e, 0x40, 0x9f, 0x96,
                                    0xe9, 0x3d, 0x7e, 0x11, 0x73, 0x93, 0x17, 0x2a};
    static const uint8_t want[16] = {0x07, 0x0a, 0x16, 0xb4, 0x6b, 0x4d, 0x41, 0x44,
                                     0xf7, 0x9b, 0xdd, 0x9d, 0xd0, 0x4a, 0x28, 0x7c};
    uint8_t out[KEY_DIGEST_MAX];
    const struct key_entry *k = keys_find(&keys.table, 2);
    assert_int_equal(keys.crypto.mac(keys.crypto.impl, k, msg, sizeof msg, out), 16);
    assert_memory_equal(out, want, 16);
    assert_true(keys.crypto.verify(keys.crypto.impl, k, msg, sizeof msg, want, 16));
    out[15] ^= 1;
    assert_false(keys.crypto.verify(keys.crypto.impl, k, msg, sizeof msg, out, 16));
}

/* SHA1(key || "abc") with key "" is FIPS 180's "abc" vector: the construction is key then data. */
static void test_hash_is_key_then_packet(void **state)
{
    (void)state;
    struct key_entry k = {.id = 1, .type = KEY_SHA1, .len = 1, .secret = {'a'}};
    static const uint8_t want[20] = {0xa9, 0x99, 0x3e, 0x36, 0x47, 0x06, 0x81, 0x6a, 0xba, 0x3e,
                                     0x25, 0x71, 0x78, 0x50, 0xc2, 0x6c, 0x9c, 0xd0, 0xd8, 0x9d};
    uint8_t out[KEY_DIGEST_MAX];
    assert_int_equal(keys.crypto.mac(keys.crypto.impl, &k, (const uint8_t *)"bc", 2, out), 20);
    assert_memory_equal(out, want, 20);
}

static const struct resp_state synced = {.leap = 0, .stratum = 2, .precision = -20,
                                         .refid = 0x7f000001, .reference_time = RX - (1ULL << 32)};

static size_t answer(const uint8_t *req, size_t len, uint8_t *out, enum resp_outcome *outcome)
{
    struct auth_set set;
    auth_set_init(&set);
    auth_set_add(&set, &auth_symkey, &keys.server_ctx);
    const struct resp_request rq = {.bytes = req, .len = len, .rx = RX};
    return resp_answer(&synced, &set, &rq, out, NTP_MAX_PACKET_LEN, outcome);
}

/* A client request of NTP version `version` signed by the client side of the strategy, with key `id`. */
static size_t client_request_v(uint32_t id, uint8_t *req, unsigned version)
{
    struct symkey_ctx client = symkeys_client_ctx(&keys, id);
    memset(req, 0, NTP_HEADER_LEN);
    req[0] = (uint8_t)(version << 3 | 3); /* mode 3 */
    store_be64(req + 40, 0x1122334455667788ULL);
    return auth_symkey.build_request(&client, req, NTP_HEADER_LEN, NTP_MAX_PACKET_LEN);
}

static size_t client_request(uint32_t id, uint8_t *req)
{
    return client_request_v(id, req, 4);
}

static void test_server_signs_with_the_requests_key(void **state)
{
    (void)state;
    static const struct {
        uint32_t id;
        unsigned version;
        size_t len;
    } cases[] = {
        {2, 4, 68}, {7, 4, 72}, /* AES128-CMAC, SHA1 */
        {12, 4, 72},            /* SHA256 in v4: cut to 20 bytes (RFC 7822), the form chronyd answers */
        {12, 3, 84},            /* SHA256 in v3: the whole digest */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint32_t id = cases[c].id;
        uint8_t req[NTP_MAX_PACKET_LEN], out[NTP_MAX_PACKET_LEN];
        size_t len = client_request_v(id, req, cases[c].version);
        assert_int_equal(len, cases[c].len);
        enum resp_outcome outcome;
        size_t n = answer(req, len, out, &outcome);
        assert_int_equal(outcome, RESP_REPLIED);
        assert_int_equal(n, len);
        assert_true(resp_transmit_sealed(n));
        assert_int_equal(load_be32(out + 48), id);
        /* The client side accepts it, and no longer once a byte changes. */
        struct symkey_ctx client = symkeys_client_ctx(&keys, id);
        struct ntp_header h;
        struct ntp_layout layout;
        assert_int_equal(pkt_decode(out, n, &h, &layout), PKT_OK);
        assert_true(auth_symkey.check_reply(&client, out, n, &layout));
        struct symkey_ctx other = symkeys_client_ctx(&keys, id == 2 ? 7 : 2);
        assert_false(auth_symkey.check_reply(&other, out, n, &layout));
        out[47] ^= 1;
        assert_false(auth_symkey.check_reply(&client, out, n, &layout));
    }
}

static void test_unknown_key_nak_bad_digest_nothing(void **state)
{
    (void)state;
    uint8_t req[NTP_MAX_PACKET_LEN], out[NTP_MAX_PACKET_LEN];
    size_t len = client_request(2, req);
    store_be32(req + 48, 99); /* a key nobody holds */
    enum resp_outcome outcome;
    assert_int_equal(answer(req, len, out, &outcome), 52);
    assert_int_equal(outcome, RESP_CRYPTO_NAK);
    assert_int_equal(load_be32(out + 48), 0);
    len = client_request(2, req);
    req[len - 1] ^= 1;
    assert_int_equal(answer(req, len, out, &outcome), 0);
    assert_int_equal(outcome, RESP_DROP_AUTH);
    /* A SHA1 key's MAC cut to MD5's length is a wrong length: refused, not another key's. */
    len = client_request(7, req);
    assert_int_equal(answer(req, len - 4, out, &outcome), 0);
    assert_int_equal(outcome, RESP_DROP_AUTH);
}

static void test_client_without_its_key_sends_nothing(void **state)
{
    (void)state;
    uint8_t req[NTP_MAX_PACKET_LEN];
    assert_int_equal(client_request(5, req), 0);
    struct symkey_ctx none = {.key_id = 2}; /* no keyfile at all */
    assert_int_equal(auth_symkey.build_request(&none, req, NTP_HEADER_LEN, sizeof req), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_chrony_format),
        cmocka_unit_test(test_parse_errors_reported_by_line),
        cmocka_unit_test(test_cmac_rfc4493_vector),
        cmocka_unit_test(test_hash_is_key_then_packet),
        cmocka_unit_test(test_server_signs_with_the_requests_key),
        cmocka_unit_test(test_unknown_key_nak_bad_digest_nothing),
        cmocka_unit_test(test_client_without_its_key_sends_nothing),
    };
    return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}

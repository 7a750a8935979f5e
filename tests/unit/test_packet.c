/* Unit tests for ntptime and packet: timestamp arithmetic and the codec's bounds checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/ntptime.h"
#include "core/packet.h"

static void make_request(uint8_t *buf, uint8_t version, uint8_t mode)
{
    memset(buf, 0, NTP_HEADER_LEN);
    buf[0] = (uint8_t)((version << 3) | mode);
}

static void test_unix_round_trip(void **state)
{
    (void)state;
    struct unix_time t = {1795000000, 123456789};
    struct unix_time back = ntp_to_unix(ntp_from_unix(t), t.sec);
    assert_int_equal(back.sec, t.sec);
    assert_true(back.nsec >= 123456788 && back.nsec <= 123456790);
}

static void test_era_rollover(void **state)
{
    (void)state;
    /* 2036-02-07 06:28:16 UTC is the end of NTP era 0. */
    struct unix_time before = {2085978495, 500000000};
    struct unix_time after = {2085978497, 0};
    ntp_ts a = ntp_from_unix(before), b = ntp_from_unix(after);
    assert_true(b < a); /* wrapped */
    assert_true(ntp_diff_sec(b, a) > 1.49 && ntp_diff_sec(b, a) < 1.51);
    struct unix_time back = ntp_to_unix(b, 2085978000);
    assert_int_equal(back.sec, after.sec);
}

static void test_short_format(void **state)
{
    (void)state;
    assert_int_equal(ntp_short_from_sec(1.0), 0x00010000);
    assert_int_equal(ntp_short_from_sec(-1.0), 0);
    assert_int_equal(ntp_short_from_sec(1e9), 0xffffffffU);
    /* error bounds round up: a few microseconds of dispersion are never announced as 0 */
    assert_int_equal(ntp_short_from_sec(1e-6), 1);
    assert_int_equal(ntp_short_from_sec(0.5 + 1e-9), 0x00008001);
    assert_int_equal(ntp_short_from_sec(0.5), 0x00008000);
    assert_true(ntp_short_to_sec(0x00008000) == 0.5);
    assert_int_equal(ntp_log2_from_sec(1e-6), -19);
    assert_int_equal(ntp_log2_from_sec(64), 6);
}

static void test_decode_header_fields(void **state)
{
    (void)state;
    uint8_t buf[NTP_HEADER_LEN];
    make_request(buf, 4, 3);
    buf[0] |= 0xc0;
    buf[1] = 2;
    buf[2] = 6;
    buf[3] = (uint8_t)-20;
    store_be32(buf + 12, 0xC0A80108);
    store_be64(buf + 40, 0x0102030405060708ULL);
    struct ntp_header h;
    assert_int_equal(pkt_decode(buf, sizeof buf, &h, NULL), PKT_OK);
    assert_int_equal(h.leap, 3);
    assert_int_equal(h.version, 4);
    assert_int_equal(h.mode, 3);
    assert_int_equal(h.stratum, 2);
    assert_int_equal(h.poll, 6);
    assert_int_equal(h.precision, -20);
    assert_int_equal(h.refid, 0xC0A80108);
    assert_true(h.transmit == 0x0102030405060708ULL);
    uint8_t again[NTP_HEADER_LEN];
    pkt_encode_header(&h, again);
    assert_memory_equal(buf, again, sizeof buf);
}

static void test_rejects_short_and_bad_version(void **state)
{
    (void)state;
    uint8_t buf[NTP_HEADER_LEN];
    struct ntp_header h;
    make_request(buf, 4, 3);
    assert_int_equal(pkt_decode(buf, 47, &h, NULL), PKT_TOO_SHORT);
    make_request(buf, 0, 3);
    assert_int_equal(pkt_decode(buf, sizeof buf, &h, NULL), PKT_BAD_VERSION);
    make_request(buf, 5, 3);
    assert_int_equal(pkt_decode(buf, sizeof buf, &h, NULL), PKT_BAD_VERSION);
}

static void test_mac_trailer(void **state)
{
    (void)state;
    uint8_t buf[NTP_HEADER_LEN + 20] = {0};
    make_request(buf, 3, 3);
    store_be32(buf + NTP_HEADER_LEN, 42);
    struct ntp_header h;
    struct ntp_layout l;
    assert_int_equal(pkt_decode(buf, sizeof buf, &h, &l), PKT_OK);
    assert_true(l.has_mac);
    assert_int_equal(l.key_id, 42);
    assert_int_equal(l.mac_len, 20);
    /* A v3 packet cannot carry 16 bytes of something else. */
    assert_int_equal(pkt_decode(buf, NTP_HEADER_LEN + 16, &h, &l), PKT_BAD_TRAILER);
}

static void test_extension_fields(void **state)
{
    (void)state;
    uint8_t buf[NTP_HEADER_LEN + 32 + 20] = {0};
    make_request(buf, 4, 3);
    store_be16(buf + 48, 0x0104);
    store_be16(buf + 50, 32);
    store_be32(buf + 80, 7);
    struct ntp_header h;
    struct ntp_layout l;
    assert_int_equal(pkt_decode(buf, sizeof buf, &h, &l), PKT_OK);
    assert_int_equal(l.n_extfields, 1);
    assert_int_equal(l.extfields[0].type, 0x0104);
    assert_int_equal(l.extfields[0].offset, 48);
    assert_true(l.has_mac);
    assert_int_equal(l.key_id, 7);

    store_be16(buf + 50, 30); /* unaligned */
    assert_int_equal(pkt_decode(buf, sizeof buf, &h, &l), PKT_BAD_EXTENSION);
    store_be16(buf + 50, 200); /* overruns */
    assert_int_equal(pkt_decode(buf, sizeof buf, &h, &l), PKT_BAD_EXTENSION);
    store_be16(buf + 50, 4); /* shorter than its minimum */
    assert_int_equal(pkt_decode(buf, sizeof buf, &h, &l), PKT_BAD_EXTENSION);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unix_round_trip),
        cmocka_unit_test(test_era_rollover),
        cmocka_unit_test(test_short_format),
        cmocka_unit_test(test_decode_header_fields),
        cmocka_unit_test(test_rejects_short_and_bad_version),
        cmocka_unit_test(test_mac_trailer),
        cmocka_unit_test(test_extension_fields),
    };
    return cmocka_run_group_tests_name("packet", tests, NULL, NULL);
}

/* Unit tests for the responder: which request gets which reply, byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/packet.h"
#include "core/responder.h"

#define XMT 0x1122334455667788ULL
#define RX 0xEB00000080000000ULL

static struct resp_state synced_state(void)
{
    struct resp_state s = {
        .leap = NTP_LEAP_NONE,
        .stratum = 2,
        .precision = -24,
        .refid = 0xC0A80108,
        .reference_time = RX - (100ULL << 32), /* 100 s before the request */
        .root_delay = 0.004491,
        .root_dispersion = 0.010,
    };
    return s;
}

static size_t make_request(uint8_t *buf, uint8_t version, uint8_t mode, int8_t poll)
{
    memset(buf, 0, NTP_HEADER_LEN);
    buf[0] = (uint8_t)((version << 3) | mode);
    buf[2] = (uint8_t)poll;
    store_be64(buf + 40, XMT);
    return NTP_HEADER_LEN;
}

static size_t respond(const struct resp_state *s, const uint8_t *req, size_t len, enum resp_kod kod,
                      uint8_t *out, struct ntp_header *rep, enum resp_outcome *outcome)
{
    size_t n = resp_build(s, req, len, RX, kod, out, NTP_MAX_PACKET_LEN, outcome);
    if (n >= NTP_HEADER_LEN)
        assert_int_equal(pkt_decode(out, n, rep, NULL), PKT_OK);
    assert_true(n <= len);
    return n;
}

static void test_client_gets_server_reply(void **unused)
{
    (void)unused;
    struct resp_state s = synced_state();
    uint8_t req[NTP_HEADER_LEN], out[NTP_MAX_PACKET_LEN];
    struct ntp_header rep;
    enum resp_outcome oc;
    size_t len = make_request(req, 4, NTP_MODE_CLIENT, 6);
    assert_int_equal(respond(&s, req, len, RESP_KOD_NONE, out, &rep, &oc), NTP_HEADER_LEN);
    assert_int_equal(oc, RESP_REPLIED);
    assert_int_equal(rep.version, 4);
    assert_int_equal(rep.mode, NTP_MODE_SERVER);
    assert_int_equal(rep.leap, NTP_LEAP_NONE);
    assert_int_equal(rep.stratum, 2);
    assert_int_equal(rep.poll, 6);
    assert_int_equal(rep.precision, -24);
    assert_int_equal(rep.refid, 0xC0A80108);
    assert_true(rep.origin == XMT);
    assert_true(rep.receive == RX);
    assert_true(rep.reference == s.reference_time);
    assert_int_equal(rep.root_delay, ntp_short_from_sec(0.004491));
    /* RFC 5905: dispersion grows by PHI (15 ppm) per second since the reference time. */
    assert_int_equal(rep.root_dispersion, ntp_short_from_sec(0.010 + 100 * NTP_PHI));
}

static void test_w32time_symmetric_active_gets_passive(void **unused)
{
    (void)unused;
    struct resp_state s = synced_state();
    uint8_t req[NTP_HEADER_LEN], out[NTP_MAX_PACKET_LEN];
    struct ntp_header rep;
    enum resp_outcome oc;
    size_t len = make_request(req, 3, NTP_MODE_SYM_ACTIVE, 10);
    req[0] |= 0xc0; /* w32time sends LI=3 while it is unsynchronised */
    assert_int_equal(respond(&s, req, len, RESP_KOD_NONE, out, &rep, &oc), NTP_HEADER_LEN);
    assert_int_equal(oc, RESP_REPLIED_SYMMETRIC);
    assert_int_equal(rep.version, 3);
    assert_int_equal(rep.mode, NTP_MODE_SYM_PASSIVE);
    assert_int_equal(rep.poll, 10);
    assert_true(rep.origin == XMT);
}

static void test_versions_one_to_four(void **unused)
{
    (void)unused;
    struct resp_state s = synced_state();
    uint8_t req[NTP_HEADER_LEN], out[NTP_MAX_PACKET_LEN];
    struct ntp_header rep;
    enum resp_outcome oc;
    for (uint8_t v = 1; v <= 4; v++) {
        size_t len = make_request(req, v, v == 1 ? NTP_MODE_RESERVED : NTP_MODE_CLIENT, 4);
        assert_int_equal(respond(&s, req, len, RESP_KOD_NONE, out, &rep, &oc), NTP_HEADER_LEN);
        assert_int_equal(rep.version, v);
        assert_int_equal(rep.mode, NTP_MODE_SERVER);
    }
}

static void test_no_reply_modes_and_versions(void **unused)
{
    (void)unused;
    struct resp_state s = synced_state();
    uint8_t req[NTP_HEADER_LEN], out[NTP_MAX_PACKET_LEN];
    struct ntp_header rep;
    enum resp_outcome oc;
    const struct {
        uint8_t version, mode;
        enum resp_outcome why;
    } cases[] = {
        {4, NTP_MODE_SYM_PASSIVE, RESP_DROP_MODE}, {4, NTP_MODE_SERVER, RESP_DROP_MODE},
        {4, NTP_MODE_BROADCAST, RESP_DROP_MODE},   {4, NTP_MODE_RESERVED, RESP_DROP_MODE},
        {2, NTP_MODE_CONTROL, RESP_DROP_CONTROL},  {2, NTP_MODE_PRIVATE, RESP_DROP_CONTROL},
        {0, NTP_MODE_CLIENT, RESP_DROP_MALFORMED}, {7, NTP_MODE_CLIENT, RESP_DROP_MALFORMED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = make_request(req, cases[i].version, cases[i].mode, 6);
        assert_int_equal(respond(&s, req, len, RESP_KOD_NONE, out, &rep, &oc), 0);
        assert_int_equal(oc, cases[i].why);
    }
    make_request(req, 4, NTP_MODE_CLIENT, 6);
    assert_int_equal(respond(&s, req, 47, RESP_KOD_NONE, out, &rep, &oc), 0);
    assert_int_equal(oc, RESP_DROP_MALFORMED);
    make_request(req, 2, NTP_MODE_PRIVATE, 0); /* an 8-byte ntpdc monlist probe */
    assert_int_equal(respond(&s, req, 8, RESP_KOD_NONE, out, &rep, &oc), 0);
    assert_int_equal(oc, RESP_DROP_CONTROL);
}

static void test_mac_gets_crypto_nak(void **unused)
{
    (void)unused;
    struct resp_state s = synced_state();
    uint8_t req[NTP_HEADER_LEN + 20] = {0}, out[NTP_MAX_PACKET_LEN];
    struct ntp_header rep;
    enum resp_outcome oc;
    make_request(req, 4, NTP_MODE_CLIENT, 6);
    store_be32(req + NTP_HEADER_LEN, 1);
    memset(req + NTP_HEADER_LEN + 4, 0xab, 16);
    assert_int_equal(respond(&s, req, sizeof req, RESP_KOD_NONE, out, &rep, &oc), NTP_HEADER_LEN + 4);
    assert_int_equal(oc, RESP_CRYPTO_NAK);
    assert_int_equal(load_be32(out + NTP_HEADER_LEN), 0);
    /* A symmetric peer with a key we lack: mode 2, still a crypto-NAK. */
    req[0] = (uint8_t)((3 << 3) | NTP_MODE_SYM_ACTIVE);
    assert_int_equal(respond(&s, req, sizeof req, RESP_KOD_NONE, out, &rep, &oc), NTP_HEADER_LEN + 4);
    assert_int_equal(oc, RESP_CRYPTO_NAK_SYMMETRIC);
    assert_int_equal(rep.mode, NTP_MODE_SYM_PASSIVE);
    /* A KoD to such a request carries the crypto-NAK too, and counts as the KoD. */
    assert_int_equal(respond(&s, req, sizeof req, RESP_KOD_RATE, out, &rep, &oc), NTP_HEADER_LEN + 4);
    assert_int_equal(oc, RESP_KOD_SENT);
}

static void test_crypto_nak_trailer_gets_plain_reply(void **unused)
{
    (void)unused;
    struct resp_state s = synced_state();
    uint8_t req[NTP_HEADER_LEN + 4] = {0}, out[NTP_MAX_PACKET_LEN];
    struct ntp_header rep;
    enum resp_outcome oc;
    make_request(req, 4, NTP_MODE_CLIENT, 6);
    assert_int_equal(respond(&s, req, sizeof req, RESP_KOD_NONE, out, &rep, &oc), NTP_HEADER_LEN);
    assert_int_equal(oc, RESP_REPLIED);
}

/* The buffer, not only the request, bounds the reply: too small a buffer is a counted drop. */
static void test_small_buffer_is_no_room(void **unused)
{
    (void)unused;
    struct resp_state s = synced_state();
    uint8_t req[NTP_HEADER_LEN + 20] = {0}, out[NTP_MAX_PACKET_LEN];
    enum resp_outcome oc;
    make_request(req, 4, NTP_MODE_CLIENT, 6);
    store_be32(req + NTP_HEADER_LEN, 9);
    assert_int_equal(resp_build(&s, req, sizeof req, RX, RESP_KOD_NONE, out, NTP_HEADER_LEN + 3, &oc), 0);
    assert_int_equal(oc, RESP_DROP_NO_ROOM);
    assert_int_equal(resp_build(&s, req, NTP_HEADER_LEN, RX, RESP_KOD_NONE, out, NTP_HEADER_LEN - 1, &oc), 0);
    assert_int_equal(oc, RESP_DROP_NO_ROOM);
    assert_int_equal(resp_build(&s, req, NTP_HEADER_LEN, RX, RESP_KOD_NONE, out, NTP_HEADER_LEN, &oc),
                     NTP_HEADER_LEN);
    assert_int_equal(oc, RESP_REPLIED);
}

static void test_extension_field_request_gets_plain_reply(void **unused)
{
    (void)unused;
    struct resp_state s = synced_state();
    uint8_t req[NTP_HEADER_LEN + 28] = {0}, out[NTP_MAX_PACKET_LEN];
    struct ntp_header rep;
    enum resp_outcome oc;
    make_request(req, 4, NTP_MODE_CLIENT, 6);
    store_be16(req + NTP_HEADER_LEN, 0x2005);
    store_be16(req + NTP_HEADER_LEN + 2, 28);
    assert_int_equal(respond(&s, req, sizeof req, RESP_KOD_NONE, out, &rep, &oc), NTP_HEADER_LEN);
}

static void test_kiss_o_death(void **unused)
{
    (void)unused;
    struct resp_state s = synced_state();
    uint8_t req[NTP_HEADER_LEN], out[NTP_MAX_PACKET_LEN];
    struct ntp_header rep;
    enum resp_outcome oc;
    size_t len = make_request(req, 4, NTP_MODE_CLIENT, 6);
    assert_int_equal(respond(&s, req, len, RESP_KOD_RATE, out, &rep, &oc), NTP_HEADER_LEN);
    assert_int_equal(oc, RESP_KOD_SENT);
    assert_int_equal(rep.stratum, 0);
    assert_int_equal(rep.leap, NTP_LEAP_UNSYNC);
    assert_int_equal(rep.refid, pkt_refid_ascii("RATE"));
    assert_true(rep.origin == XMT);
    respond(&s, req, len, RESP_KOD_DENY, out, &rep, &oc);
    assert_int_equal(rep.refid, pkt_refid_ascii("DENY"));
}

static void test_unsynchronised_state(void **unused)
{
    (void)unused;
    struct resp_state s = synced_state();
    s.stratum = NTP_STRATUM_UNSYNC;
    uint8_t req[NTP_HEADER_LEN], out[NTP_MAX_PACKET_LEN];
    struct ntp_header rep;
    enum resp_outcome oc;
    size_t len = make_request(req, 4, NTP_MODE_CLIENT, 6);
    respond(&s, req, len, RESP_KOD_NONE, out, &rep, &oc);
    assert_int_equal(rep.leap, NTP_LEAP_UNSYNC);
    assert_int_equal(rep.stratum, 0);
}

static void test_poll_clamped(void **unused)
{
    (void)unused;
    struct resp_state s = synced_state();
    uint8_t req[NTP_HEADER_LEN], out[NTP_MAX_PACKET_LEN];
    struct ntp_header rep;
    enum resp_outcome oc;
    respond(&s, req, make_request(req, 4, NTP_MODE_CLIENT, -3), RESP_KOD_NONE, out, &rep, &oc);
    assert_int_equal(rep.poll, NTP_MINPOLL);
    respond(&s, req, make_request(req, 4, NTP_MODE_CLIENT, 40), RESP_KOD_NONE, out, &rep, &oc);
    assert_int_equal(rep.poll, NTP_MAXPOLL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_gets_server_reply),
        cmocka_unit_test(test_w32time_symmetric_active_gets_passive),
        cmocka_unit_test(test_versions_one_to_four),
        cmocka_unit_test(test_no_reply_modes_and_versions),
        cmocka_unit_test(test_mac_gets_crypto_nak),
        cmocka_unit_test(test_crypto_nak_trailer_gets_plain_reply),
        cmocka_unit_test(test_small_buffer_is_no_room),
        cmocka_unit_test(test_extension_field_request_gets_plain_reply),
        cmocka_unit_test(test_kiss_o_death),
        cmocka_unit_test(test_unsynchronised_state),
        cmocka_unit_test(test_poll_clamped),
    };
    return cmocka_run_group_tests_name("responder", tests, NULL, NULL);
}

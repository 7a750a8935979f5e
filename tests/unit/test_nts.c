/*
 * Unit tests for NTS: the NTS-KE record parser fed whole, byte by byte and
 * broken; request and response messages; the server's cookie keys (sealing,
 * opening, tampering, saving across a restart, master-key derivation shared by
 * two servers); and our NTS client's requests judged and answered by our NTS
 * server strategy through the responder: cookies refilled, the reply never
 * longer than the request, a stale cookie or a forged authenticator answered
 * with an NTS NAK the client recognises.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/nts.h"
#include "core/packet.h"
#include "core/responder.h"
#include "io/auth_nts.h"
#include "io/nts_client.h"
#include "io/nts_crypto.h"
#include "io/nts_keys.h"

#define NOW 1790000000
#define RX 0xEB00000080000000ULL

static size_t client_request(uint8_t *buf, size_t cap)
{
    size_t pos = 0;
    uint8_t proto[2] = {0, 0}, aead[2] = {0, NTS_AEAD_SIV_CMAC_256};
    assert_true(nts_ke_record_put(buf, cap, &pos, NTS_KE_NEXT_PROTOCOL, true, proto, 2));
    assert_true(nts_ke_record_put(buf, cap, &pos, NTS_KE_AEAD, true, aead, 2));
    assert_true(nts_ke_record_put(buf, cap, &pos, NTS_KE_END, true, NULL, 0));
    return pos;
}

static void test_record_parse_needs_more_then_consumes(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t len = client_request(buf, sizeof buf);
    struct nts_ke_record rec;
    assert_int_equal(nts_ke_record_parse(buf, 3, &rec), 0);
    assert_int_equal(nts_ke_record_parse(buf, 5, &rec), 0);
    assert_int_equal(nts_ke_record_parse(buf, len, &rec), 6);
    assert_true(rec.critical);
    assert_int_equal(rec.type, NTS_KE_NEXT_PROTOCOL);
    uint8_t huge[4] = {0, 5, 0xff, 0xff};
    assert_int_equal(nts_ke_record_parse(huge, sizeof huge, &rec), -1);
}

static void test_request_fed_byte_by_byte(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t len = client_request(buf, sizeof buf), have = 0, pending = 0;
    struct nts_ke_request req;
    nts_ke_request_init(&req);
    enum nts_ke_status st = NTS_KE_MORE;
    uint8_t window[64];
    for (size_t i = 0; i < len && st == NTS_KE_MORE; i++) {
        window[pending++] = buf[i];
        size_t used;
        st = nts_ke_request_feed(&req, window, pending, &used);
        memmove(window, window + used, pending - used);
        pending -= used;
        have += used;
    }
    assert_int_equal(st, NTS_KE_DONE);
    assert_int_equal(have, len);
    assert_true(req.ntpv4 && req.siv);
}

static void test_request_refused(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t pos = 0, used;
    uint8_t proto[2] = {0, 0}, gcm[2] = {0, 30};
    struct nts_ke_request req;
    /* No algorithm we know. */
    nts_ke_record_put(buf, sizeof buf, &pos, NTS_KE_NEXT_PROTOCOL, true, proto, 2);
    nts_ke_record_put(buf, sizeof buf, &pos, NTS_KE_AEAD, true, gcm, 2);
    nts_ke_record_put(buf, sizeof buf, &pos, NTS_KE_END, true, NULL, 0);
    nts_ke_request_init(&req);
    assert_int_equal(nts_ke_request_feed(&req, buf, pos, &used), NTS_KE_BAD);
    assert_int_equal(req.error, NTS_KE_ERR_BAD_REQUEST);
    /* An unknown critical record. */
    pos = 0;
    nts_ke_record_put(buf, sizeof buf, &pos, 0x4321, true, proto, 2);
    nts_ke_request_init(&req);
    assert_int_equal(nts_ke_request_feed(&req, buf, pos, &used), NTS_KE_BAD);
    assert_int_equal(req.error, NTS_KE_ERR_UNRECOGNIZED);
}

static void test_response_round_trip(void **state)
{
    (void)state;
    uint8_t buf[1024], cookie[NTS_COOKIE_LEN];
    memset(cookie, 0xc0, sizeof cookie);
    struct nts_ke_offer offer = {.server = "ntp.example", .port = 1234};
    size_t pos = nts_ke_response_start(buf, sizeof buf, &offer);
    assert_true(pos > 0);
    for (int i = 0; i < 3; i++)
        assert_true(nts_ke_record_put(buf, sizeof buf, &pos, NTS_KE_COOKIE, false, cookie, sizeof cookie));
    assert_true(nts_ke_record_put(buf, sizeof buf, &pos, NTS_KE_END, true, NULL, 0));
    static struct nts_ke_response resp;
    nts_ke_response_init(&resp);
    size_t used;
    assert_int_equal(nts_ke_response_feed(&resp, buf, pos, &used), NTS_KE_DONE);
    assert_int_equal(resp.n_cookies, 3);
    assert_int_equal(resp.port, 1234);
    assert_string_equal(resp.server, "ntp.example");
    assert_memory_equal(resp.cookies[2], cookie, sizeof cookie);
    size_t n = nts_ke_error_response(buf, sizeof buf, NTS_KE_ERR_BAD_REQUEST);
    nts_ke_response_init(&resp);
    assert_int_equal(nts_ke_response_feed(&resp, buf, n, &used), NTS_KE_BAD);
    assert_int_equal(resp.error, NTS_KE_ERR_BAD_REQUEST);
}

/* ---- cookie keys ---- */

static char dir[64];

static int make_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/test_nts.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static struct nts_session_keys some_keys(void)
{
    struct nts_session_keys k;
    memset(k.c2s, 0x11, sizeof k.c2s);
    memset(k.s2c, 0x22, sizeof k.s2c);
    return k;
}

static void test_cookie_sealed_opened_and_tamper_refused(void **state)
{
    (void)state;
    static struct nts_keys keys;
    assert_int_equal(nts_keys_init(&keys, 3600, "", "", NOW), 0);
    struct nts_session_keys sk = some_keys(), back;
    uint8_t cookie[NTS_COOKIE_LEN];
    assert_true(nts_cookie_make(&keys, &sk, cookie));
    assert_true(nts_cookie_open(&keys, cookie, sizeof cookie, &back));
    assert_memory_equal(&sk, &back, sizeof sk);
    cookie[NTS_COOKIE_LEN - 1] ^= 1;
    assert_false(nts_cookie_open(&keys, cookie, sizeof cookie, &back));
    assert_false(nts_cookie_open(&keys, cookie, sizeof cookie - 4, &back));
    nts_keys_fini(&keys);
}

static void test_saved_keys_survive_restart_and_rotation_keeps_old(void **state)
{
    (void)state;
    static struct nts_keys keys;
    struct nts_session_keys sk = some_keys(), back;
    uint8_t cookie[NTS_COOKIE_LEN];
    assert_int_equal(nts_keys_init(&keys, 3600, "", dir, NOW), 0);
    assert_true(nts_cookie_make(&keys, &sk, cookie));
    nts_keys_fini(&keys);
    /* A restart two periods later: the old key is read back, a new one made current. */
    assert_int_equal(nts_keys_init(&keys, 3600, "", dir, NOW + 7200), 0);
    assert_true(nts_cookie_open(&keys, cookie, sizeof cookie, &back));
    assert_int_equal(keys.ring.n, 2);
    /* NTS_KEYRING_MAX rotations later it is gone. */
    for (int i = 1; i <= NTS_KEYRING_MAX; i++)
        nts_keys_rotate(&keys, NOW + 7200 + i * 3600);
    assert_false(nts_cookie_open(&keys, cookie, sizeof cookie, &back));
    nts_keys_fini(&keys);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_master_key_shared_by_two_servers(void **state)
{
    (void)state;
    char shared[128], other[128];
    snprintf(shared, sizeof shared, "%s/shared", dir);
    snprintf(other, sizeof other, "%s/other", dir);
    write_file(shared, "a secret of the pool, shared by every server");
    write_file(other, "another pool's secret, not ours at all!!");
    static struct nts_keys a, b, c;
    assert_int_equal(nts_keys_init(&a, 3600, shared, "", NOW), 0);
    /* b runs a period ahead: a's cookies still open there, and b's at a. */
    assert_int_equal(nts_keys_init(&b, 3600, shared, "", NOW + 3600), 0);
    assert_int_equal(nts_keys_init(&c, 3600, other, "", NOW), 0);
    struct nts_session_keys sk = some_keys(), back;
    uint8_t from_a[NTS_COOKIE_LEN], from_b[NTS_COOKIE_LEN];
    assert_true(nts_cookie_make(&a, &sk, from_a));
    assert_true(nts_cookie_make(&b, &sk, from_b));
    assert_true(nts_cookie_open(&b, from_a, sizeof from_a, &back));
    assert_true(nts_cookie_open(&a, from_b, sizeof from_b, &back));
    assert_false(nts_cookie_open(&c, from_a, sizeof from_a, &back));
    nts_keys_fini(&a);
    nts_keys_fini(&b);
    nts_keys_fini(&c);
}

/* A pool peer's cookie opens while its period is within NTS_KEYRING_MAX behind or NTS_DERIVED_AHEAD ahead. */
static void test_master_key_window(void **state)
{
    (void)state;
    char shared[128];
    snprintf(shared, sizeof shared, "%s/shared", dir);
    write_file(shared, "a secret of the pool, shared by every server");
    static struct nts_keys here, peer;
    assert_int_equal(nts_keys_init(&here, 3600, shared, "", NOW), 0);
    struct nts_session_keys sk = some_keys(), back;
    for (int shift = -NTS_KEYRING_MAX - 2; shift <= NTS_DERIVED_AHEAD + 2; shift++) {
        assert_int_equal(nts_keys_init(&peer, 3600, shared, "", NOW + shift * 3600), 0);
        uint8_t cookie[NTS_COOKIE_LEN];
        assert_true(nts_cookie_make(&peer, &sk, cookie));
        bool within = shift >= -NTS_KEYRING_MAX && shift <= NTS_DERIVED_AHEAD;
        assert_int_equal(nts_cookie_open(&here, cookie, sizeof cookie, &back), within);
        if (within)
            assert_memory_equal(back.c2s, sk.c2s, sizeof sk.c2s);
        nts_keys_fini(&peer);
    }
    /* After a rotation the window moves with the current key. */
    nts_keys_rotate(&here, NOW + 3600);
    assert_int_equal(nts_keys_init(&peer, 3600, shared, "", NOW + 2 * 3600), 0);
    uint8_t ahead[NTS_COOKIE_LEN];
    assert_true(nts_cookie_make(&peer, &sk, ahead));
    assert_true(nts_cookie_open(&here, ahead, sizeof ahead, &back));
    nts_keys_fini(&peer);
    nts_keys_fini(&here);
}

/* ---- the NTP path: our client against our server strategy ---- */

static const struct resp_state serving = {.stratum = 2, .precision = -20, .refid = 0x0a000001};

struct exchange {
    size_t req_len, rep_len;
    enum resp_outcome outcome;
    uint8_t req[NTP_MAX_PACKET_LEN], rep[NTP_MAX_PACKET_LEN];
};

static void ask(struct nts_keys *keys, struct nts_client *cl, struct exchange *x, bool forge)
{
    struct ntp_header h = {.version = 4, .mode = NTP_MODE_CLIENT, .transmit = 0x1234};
    pkt_encode_header(&h, x->req);
    x->req_len = auth_nts.build_request(cl, x->req, NTP_HEADER_LEN, sizeof x->req);
    assert_true(x->req_len > NTP_HEADER_LEN);
    if (forge)
        x->req[x->req_len - 1] ^= 1;
    struct auth_set set;
    auth_set_init(&set);
    auth_set_add(&set, &auth_nts, keys);
    struct resp_request rq = {.bytes = x->req, .len = x->req_len, .rx = RX};
    x->rep_len = resp_answer(&serving, &set, &rq, x->rep, sizeof x->rep, &x->outcome);
}

static bool client_accepts(struct nts_client *cl, const struct exchange *x)
{
    struct ntp_header h;
    struct ntp_layout layout;
    assert_int_equal(pkt_decode(x->rep, x->rep_len, &h, &layout), PKT_OK);
    return auth_nts.check_reply(cl, x->rep, x->rep_len, &layout);
}

static void start_client(struct nts_keys *keys, struct nts_client *cl, unsigned cookies)
{
    static struct nts_ke_response resp;
    nts_ke_response_init(&resp);
    struct nts_session_keys sk;
    assert_true(nts_random((uint8_t *)&sk, sizeof sk));
    for (unsigned i = 0; i < cookies; i++) {
        assert_true(nts_cookie_make(keys, &sk, resp.cookies[i]));
        resp.cookie_len[i] = NTS_COOKIE_LEN;
    }
    resp.n_cookies = cookies;
    memset(cl, 0, sizeof *cl);
    nts_client_start_session(cl, &sk, &resp);
}

static void test_client_and_server_refill_cookies(void **state)
{
    (void)state;
    static struct nts_keys keys;
    static struct nts_client cl;
    static struct exchange x;
    assert_int_equal(nts_keys_init(&keys, 3600, "", "", NOW), 0);
    start_client(&keys, &cl, 2);
    ask(&keys, &cl, &x, false);
    assert_int_equal(x.outcome, RESP_REPLIED);
    assert_true(x.rep_len <= x.req_len);
    assert_int_equal(cl.n_cookies, 1);
    assert_true(client_accepts(&cl, &x));
    /* One cookie spent, seven asked for (one cookie field and six placeholders, plus the spent one): 8. */
    assert_int_equal(cl.n_cookies, NTS_COOKIES_PER_KE);
    /* A reply replayed, or to someone else's identifier, is refused. */
    assert_false(client_accepts(&cl, &x));
    nts_keys_fini(&keys);
}

static void test_forged_or_stale_gets_nak(void **state)
{
    (void)state;
    static struct nts_keys keys, other;
    static struct nts_client cl;
    static struct exchange x;
    assert_int_equal(nts_keys_init(&keys, 3600, "", "", NOW), 0);
    assert_int_equal(nts_keys_init(&other, 3600, "", "", NOW), 0);
    start_client(&keys, &cl, 4);
    ask(&keys, &cl, &x, true);
    assert_int_equal(x.outcome, RESP_REPLIED);
    assert_int_equal(load_be32(x.rep + 12), pkt_refid_ascii("NTSN"));
    assert_false(client_accepts(&cl, &x));
    assert_true(cl.nak && nts_client_needs_ke(&cl));
    /* A cookie of a server whose keys we do not hold. */
    start_client(&other, &cl, 4);
    ask(&keys, &cl, &x, false);
    assert_int_equal(load_be32(x.rep + 12), pkt_refid_ascii("NTSN"));
    assert_false(client_accepts(&cl, &x));
    assert_true(cl.nak);
    nts_keys_fini(&keys);
    nts_keys_fini(&other);
}

static void test_no_cookies_no_request(void **state)
{
    (void)state;
    static struct nts_client cl;
    memset(&cl, 0, sizeof cl);
    uint8_t pkt[NTP_MAX_PACKET_LEN] = {0};
    assert_int_equal(auth_nts.build_request(&cl, pkt, NTP_HEADER_LEN, sizeof pkt), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_parse_needs_more_then_consumes),
        cmocka_unit_test(test_request_fed_byte_by_byte),
        cmocka_unit_test(test_request_refused),
        cmocka_unit_test(test_response_round_trip),
        cmocka_unit_test(test_cookie_sealed_opened_and_tamper_refused),
        cmocka_unit_test_setup_teardown(test_saved_keys_survive_restart_and_rotation_keeps_old, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_master_key_shared_by_two_servers, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_master_key_window, make_dir, remove_dir),
        cmocka_unit_test(test_client_and_server_refill_cookies),
        cmocka_unit_test(test_forged_or_stale_gets_nak),
        cmocka_unit_test(test_no_cookies_no_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

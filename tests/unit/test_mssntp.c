/*
 * Unit tests for MS-SNTP: which requests the strategy claims (68 bytes whose
 * key id no earlier strategy holds), the deferred outcome and its unsigned
 * 48-byte reply, the 120-byte form counted apart; Samba's ntp_signd protocol
 * both ways (request bytes, answers whole, split, bad); and io/ntpsignd end
 * to end against a signer played by the test on a Unix socket: a reply
 * signed and sent, a failure counted, an unanswered one timed out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "core/auth_mssntp.h"
#include "core/auth_symkey.h"
#include "core/packet.h"
#include "core/responder.h"
#include "core/serve.h"
#include "io/ntpsignd.h"
#include "io/sockio.h"

#define RX 0xEB00000080000000ULL
#define RID 1104u

static const struct resp_state synced = {.leap = 0, .stratum = 2, .precision = -20,
                                         .refid = 0x7f000001, .reference_time = RX - (1ULL << 32)};

static size_t member_request(uint8_t *req, size_t len)
{
    memset(req, 0, len);
    req[0] = 0x1b; /* v3, mode 3 */
    store_be64(req + 40, 0x0102030405060708ULL);
    uint32_t rid = RID | 0x80000000u; /* previous password */
    for (int i = 0; i < 4; i++)
        req[48 + i] = (uint8_t)(rid >> (8 * i)); /* little-endian, as Windows sends it */
    return len;
}

static size_t answer(const uint8_t *req, size_t len, uint8_t *out, enum resp_outcome *outcome)
{
    struct auth_set set;
    auth_set_init(&set);
    auth_set_add(&set, &auth_mssntp, NULL);
    const struct resp_request rq = {.bytes = req, .len = len, .rx = RX};
    return resp_answer(&synced, &set, &rq, out, NTP_MAX_PACKET_LEN, outcome);
}

static void test_68_byte_request_is_deferred(void **state)
{
    (void)state;
    uint8_t req[68], out[NTP_MAX_PACKET_LEN];
    enum resp_outcome outcome;
    assert_int_equal(answer(req, member_request(req, 68), out, &outcome), 48);
    assert_int_equal(outcome, RESP_DEFERRED);
    assert_int_equal(load_be64(out + 24), 0x0102030405060708ULL); /* origin */
    /* A 72-byte (SHA1-sized) MAC is no MS-SNTP request: auth_none's crypto-NAK. */
    uint8_t longer[72];
    assert_int_equal(answer(longer, member_request(longer, 72), out, &outcome), 52);
    assert_int_equal(outcome, RESP_CRYPTO_NAK);
    uint8_t ext[120];
    assert_int_equal(answer(ext, member_request(ext, 120), out, &outcome), 0);
    assert_int_equal(outcome, RESP_DROP_MSSNTP_EXTENDED);
    struct serve_counters c = {0};
    struct serve_policy policy;
    serve_policy_init(&policy);
    auth_set_add(&policy.auth, &auth_mssntp, NULL);
    struct net_addr client = {.family = NET_IPV4, .bytes = {127, 0, 0, 1}};
    enum resp_outcome seen = RESP_REPLIED;
    struct serve_request rq = {.client = &client, .bytes = req, .len = 68, .rx = RX, .outcome = &seen};
    static uint8_t rl_mem[1 << 16];
    struct rl_params rp = {.enabled = false};
    struct rl_table *rl = rl_table_init(rl_mem, sizeof rl_mem, 16, &rp, 1);
    assert_non_null(rl);
    assert_int_equal(serve_request(&policy, &synced, rl, &rq, out, sizeof out, &c, NULL), 48);
    assert_int_equal(seen, RESP_DEFERRED);
    rq.bytes = ext;
    rq.len = 120;
    assert_int_equal(serve_request(&policy, &synced, rl, &rq, out, sizeof out, &c, NULL), 0);
    assert_int_equal(c.deferred, 1);
    assert_int_equal(c.mssntp_extended, 1);
    assert_int_equal(c.replied, 0);
}

static size_t fake_mac(void *impl, const struct key_entry *key, const uint8_t *data, size_t len, uint8_t *out)
{
    (void)impl, (void)key, (void)data, (void)len;
    memset(out, 0xab, 16);
    return 16;
}

static bool fake_verify(void *impl, const struct key_entry *key, const uint8_t *data, size_t len,
                        const uint8_t *mac, size_t mac_len)
{
    (void)impl, (void)key, (void)data, (void)len;
    return mac_len == 16 && mac[0] == 0xab;
}

/* A key id in the keyfile is symmetric even at 68 bytes: symkey is asked before MS-SNTP. */
static void test_keyfile_key_stays_symmetric(void **state)
{
    (void)state;
    static struct key_table table = {.n = 1, .keys = {{.id = 0x50040080u, .type = KEY_AES128_CMAC, .len = 16}}};
    const struct symkey_crypto crypto = {.mac = fake_mac, .verify = fake_verify};
    struct symkey_ctx ctx = {.keys = &table, .crypto = &crypto};
    struct auth_set set;
    auth_set_init(&set);
    auth_set_add(&set, &auth_symkey, &ctx);
    auth_set_add(&set, &auth_mssntp, NULL);
    uint8_t req[68], out[NTP_MAX_PACKET_LEN];
    member_request(req, 68);
    memset(req + 52, 0xab, 16);
    const struct resp_request rq = {.bytes = req, .len = 68, .rx = RX};
    enum resp_outcome outcome;
    assert_int_equal(load_be32(req + 48), 0x50040080u);
    assert_int_equal(resp_answer(&synced, &set, &rq, out, sizeof out, &outcome), 68);
    assert_int_equal(outcome, RESP_REPLIED);
}

static void test_protocol_bytes(void **state)
{
    (void)state;
    uint8_t reply[48], out[MSSNTP_SIGN_REQUEST_LEN];
    for (int i = 0; i < 48; i++)
        reply[i] = (uint8_t)i;
    const uint8_t key_id[4] = {0x50, 0x04, 0x00, 0x80};
    mssntp_encode_sign_request(0x1234, key_id, reply, out);
    static const uint8_t head[20] = {0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0, 0,
                                     0x50, 0x04, 0x00, 0x80};
    assert_memory_equal(out, head, sizeof head);
    assert_memory_equal(out + 20, reply, 48);

    uint8_t ans[MSSNTP_ANSWER_MAX] = {0, 0, 0, 80, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0x12, 0x34};
    struct mssntp_answer a;
    size_t used = 0;
    for (size_t cut = 0; cut < sizeof ans; cut++)
        assert_int_equal(mssntp_parse_answer(ans, cut, &a, &used), MSSNTP_NEED_MORE);
    assert_int_equal(mssntp_parse_answer(ans, sizeof ans, &a, &used), MSSNTP_ANSWER);
    assert_int_equal(used, sizeof ans);
    assert_int_equal(a.op, MSSNTP_SIGNING_SUCCESS);
    assert_int_equal(a.packet_id, 0x1234);
    assert_ptr_equal(a.signed_reply, ans + 16);
    static const uint8_t failure[16] = {0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 7};
    assert_int_equal(mssntp_parse_answer(failure, sizeof failure, &a, &used), MSSNTP_ANSWER);
    assert_int_equal(a.op, MSSNTP_SIGNING_FAILURE);
    assert_null(a.signed_reply);
    uint8_t bad[16];
    memcpy(bad, failure, 16);
    bad[11] = 9; /* unknown op */
    assert_int_equal(mssntp_parse_answer(bad, 16, &a, &used), MSSNTP_BAD);
    memcpy(bad, failure, 16);
    bad[3] = 200; /* longer than any answer */
    assert_int_equal(mssntp_parse_answer(bad, 16, &a, &used), MSSNTP_BAD);
    memcpy(bad, failure, 16);
    bad[11] = 3; /* success without a signed reply */
    assert_int_equal(mssntp_parse_answer(bad, 16, &a, &used), MSSNTP_BAD);
}

/* ---- io/ntpsignd against the test playing Samba ---- */

static double fake_now;

static double fake_clock(void)
{
    return fake_now;
}

static int udp_pair(int *a, struct sockaddr_storage *a_addr, socklen_t *alen)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    *a = socket(AF_INET, SOCK_DGRAM, 0);
    socklen_t len = sizeof sa;
    if (bind(*a, (struct sockaddr *)&sa, sizeof sa) < 0 || getsockname(*a, (struct sockaddr *)&sa, &len) < 0)
        return -1;
    memcpy(a_addr, &sa, len);
    *alen = len;
    return 0;
}

static void read_exact(int fd, uint8_t *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, buf + got, n - got, 0);
        assert_true(r > 0);
        got += (size_t)r;
    }
}

static void run_loop(struct loop *l, int rounds)
{
    for (int i = 0; i < rounds; i++)
        loop_run_once(l, 0);
}

static void test_ntpsignd_end_to_end(void **state)
{
    (void)state;
    char dir[] = "/tmp/hl-mssntp-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s/socket", dir);
    int listener = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(listener, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(listener, 1), 0);
    static struct loop loop;
    loop_init(&loop, fake_clock);
    struct ntpsignd *s = ntpsignd_open(dir, &loop);
    assert_non_null(s);
    int client, server_fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_storage to;
    socklen_t tolen = 0;
    assert_int_equal(udp_pair(&client, &to, &tolen), 0);
    uint8_t reply[48] = {0x1c}, key_id[4] = {0x50, 0x04, 0, 0};
    assert_true(ntpsignd_submit(s, server_fd, &to, tolen, reply, key_id));
    assert_true(ntpsignd_submit(s, server_fd, &to, tolen, reply, key_id));
    run_loop(&loop, 2);
    int conn = accept(listener, NULL, NULL);
    assert_true(conn >= 0);
    uint8_t req[2][MSSNTP_SIGN_REQUEST_LEN];
    read_exact(conn, req[0], sizeof req[0]);
    read_exact(conn, req[1], sizeof req[1]);
    assert_memory_equal(req[0] + 16, key_id, 4);
    /* The first is signed, the second refused. */
    uint8_t ans[MSSNTP_ANSWER_MAX] = {0, 0, 0, 80, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, req[0][12], req[0][13]};
    memcpy(ans + 16, reply, 48);
    memcpy(ans + 64, key_id, 4);
    memset(ans + 68, 0xcd, 16);
    uint8_t fail[16] = {0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, req[1][12], req[1][13]};
    assert_int_equal(send(conn, ans, sizeof ans, 0), (ssize_t)sizeof ans);
    assert_int_equal(send(conn, fail, sizeof fail, 0), (ssize_t)sizeof fail);
    run_loop(&loop, 3);
    uint8_t got[128];
    assert_int_equal(recv(client, got, sizeof got, 0), 68);
    assert_memory_equal(got, ans + 16, 68);
    /* A third is never answered: it times out. */
    assert_true(ntpsignd_submit(s, server_fd, &to, tolen, reply, key_id));
    run_loop(&loop, 2);
    fake_now += NTPSIGND_TIMEOUT + 0.1;
    run_loop(&loop, 2);
    struct ntpsignd_counters c;
    ntpsignd_get_counters(s, &c);
    assert_int_equal(c.queued, 3);
    assert_int_equal(c.signed_ok, 1);
    assert_int_equal(c.failed, 1);
    assert_int_equal(c.timeouts, 1);
    ntpsignd_close(s);
    close(conn);
    close(listener);
    close(client);
    close(server_fd);
    unlink(sa.sun_path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_68_byte_request_is_deferred),
        cmocka_unit_test(test_keyfile_key_stays_symmetric),
        cmocka_unit_test(test_protocol_bytes),
        cmocka_unit_test(test_ntpsignd_end_to_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * libFuzzer target for the serving path, resp_build and serve_request, with
 * a fixed synchronised state: whatever arrives, a reply is never longer than
 * its request (no amplification), never overruns an exactly sized buffer, is
 * itself a valid packet, and serve counts each request exactly once as
 * received and once for what became of it; a request whose origin names the
 * last reply's receive time gets an interleaved reply (RFC 9769) once that
 * reply's departure is recorded. The last byte also picks the KoD
 * kind and the policy (access list, denyaction, rate limit), so every path
 * gets explored.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/auth_mssntp.h"
#include "core/packet.h"
#include "core/responder.h"
#include "core/serve.h"

#define RL_ENTRIES 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct resp_state state = {
    .leap = NTP_LEAP_NONE,
    .stratum = 2,
    .precision = -24,
    .refid = 0xc0000201,
    .reference_time = 0xec00000080000000ULL,
    .root_delay = 0.0125,
    .root_dispersion = 0.0003,
};

static const ntp_ts rx = 0xec12345600000000ULL;

static bool is_time_reply(enum resp_outcome outcome)
{
    return outcome == RESP_REPLIED || outcome == RESP_REPLIED_SYMMETRIC ||
           outcome == RESP_CRYPTO_NAK || outcome == RESP_CRYPTO_NAK_SYMMETRIC ||
           resp_records_departure(outcome);
}

/* The departure serve_record_departure is told of between the two rounds of fuzz_serve. */
static const ntp_ts departure = 0xec12345600001000ULL;

static void check_packet_as(const uint8_t *req, size_t req_len, const uint8_t *out, size_t len, size_t cap,
                            bool interleaved)
{
    if (len > req_len || len > cap)
        __builtin_trap();
    struct ntp_header rq, rp;
    if (pkt_decode(req, req_len, &rq, NULL) != PKT_OK || pkt_decode(out, len, &rp, NULL) != PKT_OK)
        __builtin_trap();
    if (rp.version != rq.version || (rp.mode != NTP_MODE_SERVER && rp.mode != NTP_MODE_SYM_PASSIVE))
        __builtin_trap();
    if (interleaved ? rp.origin != rq.receive || rp.transmit != departure : rp.origin != rq.transmit)
        __builtin_trap();
}

static void check_packet(const uint8_t *req, size_t req_len, const uint8_t *out, size_t len, size_t cap)
{
    check_packet_as(req, req_len, out, len, cap, false);
}

static void check_reply(const uint8_t *req, size_t req_len, const uint8_t *out, size_t len,
                        size_t cap, enum resp_outcome outcome, enum resp_kod kod)
{
    if (outcome >= RESP_OUTCOME_COUNT || !resp_outcome_name(outcome))
        __builtin_trap();
    bool sent = outcome == RESP_KOD_SENT || is_time_reply(outcome);
    if ((len > 0) != sent)
        __builtin_trap();
    if (len == 0)
        return;
    if ((kod != RESP_KOD_NONE) != (outcome == RESP_KOD_SENT))
        __builtin_trap();
    check_packet(req, req_len, out, len, cap);
}

static void fuzz_responder(const uint8_t *data, size_t size, enum resp_kod kod)
{
    size_t caps[] = {NTP_MAX_PACKET_LEN, size, NTP_HEADER_LEN + 4, NTP_HEADER_LEN};
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        uint8_t *out = malloc(caps[i] ? caps[i] : 1);
        if (!out)
            return;
        enum resp_outcome outcome = RESP_OUTCOME_COUNT;
        size_t len = resp_build(&state, data, size, rx, kod, out, caps[i], &outcome);
        check_reply(data, size, out, len, caps[i], outcome, kod);
        free(out);
    }
}

static uint64_t counted(const struct serve_counters *c)
{
    return c->replied + c->kod_rate + c->kod_deny + c->malformed + c->bad_mode + c->control_mode +
           c->auth_failed + c->no_room + c->deferred + c->mssntp_extended;
}

/*
 * Policy bits: 4 deny everyone, 8 denyaction kod, 16 rate limit (burst 1, every limited one a KoD),
 * 32 MS-SNTP (a 68-byte request's reply is deferred: 48 unsigned bytes for the shell's signer).
 */
static void make_policy(uint8_t bits, struct serve_policy *policy, struct rl_table *rl)
{
    serve_policy_init(policy);
    policy->deny_kod = bits & 8;
    if (bits & 4) {
        const struct acl_rule deny_all = {.net = {.family = NET_NONE}, .prefix_bits = 0, .allow = false};
        acl_add(&policy->acl, &deny_all);
    }
    const struct rl_params limits = {.enabled = bits & 16, .interval_log2 = 3, .burst = 1, .leak_log2 = 0};
    rl_set_params(rl, &limits);
    if (bits & 32)
        auth_set_add(&policy->auth, &auth_mssntp, NULL);
}

/* Serves the input twice from one client (the second may be rate limited) and checks the books. */
static void fuzz_serve(const uint8_t *data, size_t size, uint8_t bits)
{
    size_t bytes = rl_table_bytes(RL_ENTRIES);
    void *mem = calloc(1, bytes);
    struct serve_policy *policy = malloc(sizeof *policy);
    uint8_t *out = malloc(NTP_MAX_PACKET_LEN);
    struct rl_table *rl = mem ? rl_table_init(mem, bytes, RL_ENTRIES, &(struct rl_params){0}, 1) : NULL;
    if (rl && policy && out) {
        make_policy(bits, policy, rl);
        const struct net_addr client = {.family = NET_IPV4, .bytes = {192, 0, 2, 1}};
        const struct serve_request rq = {.client = &client, .mono_ns = 1, .bytes = data, .len = size, .rx = rx};
        struct serve_counters c = {0};
        for (uint64_t round = 1; round <= 2; round++) {
            uint64_t before = c.replied + c.kod_rate + c.kod_deny + c.deferred;
            enum serve_tx tx;
            size_t len = serve_request(policy, &state, rl, &rq, out, NTP_MAX_PACKET_LEN, &c, &tx);
            if ((len > 0) != (c.replied + c.kod_rate + c.kod_deny + c.deferred > before))
                __builtin_trap();
            if (len > 0)
                check_packet_as(data, size, out, len, NTP_MAX_PACKET_LEN, tx == SERVE_TX_KEEP_RECORD);
            if (len == 0 && tx != SERVE_TX_STAMP)
                __builtin_trap();
            /* An input whose origin is `rx` is an interleaved client: round 2 may then be interleaved. */
            serve_record_departure(rl, &client, rx, departure);
            /* With leak 0 every limited request is answered (KoD), so only the ACL drops unseen. */
            uint64_t refused = policy->deny_kod ? 0 : c.denied;
            if (c.received != round || counted(&c) + refused != round)
                __builtin_trap();
        }
    }
    free(out);
    free(policy);
    free(mem);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t last = size ? data[size - 1] : 0;
    fuzz_responder(data, size, (enum resp_kod)(last & 3));
    fuzz_serve(data, size, last);
    return 0;
}

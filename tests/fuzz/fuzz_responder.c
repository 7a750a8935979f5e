/*
 * libFuzzer target for resp_build with a fixed synchronised state: whatever
 * arrives, a reply is never longer than its request (no amplification),
 * never overruns an exactly sized buffer, and is itself a valid packet.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/packet.h"
#include "core/responder.h"

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

static void check_reply(const uint8_t *req, size_t req_len, const uint8_t *out, size_t len,
                        size_t cap, enum resp_outcome outcome, enum resp_kod kod)
{
    if (outcome >= RESP_OUTCOME_COUNT || !resp_outcome_name(outcome))
        __builtin_trap();
    if (len == 0) {
        if (outcome == RESP_REPLIED || outcome == RESP_KOD_SENT)
            __builtin_trap();
        return;
    }
    if (len > req_len || len > cap)
        __builtin_trap();
    if (outcome != (kod == RESP_KOD_NONE ? RESP_REPLIED : RESP_KOD_SENT))
        __builtin_trap();
    struct ntp_header rq, rp;
    if (pkt_decode(req, req_len, &rq, NULL) != PKT_OK || pkt_decode(out, len, &rp, NULL) != PKT_OK)
        __builtin_trap();
    if (rp.version != rq.version || (rp.mode != NTP_MODE_SERVER && rp.mode != NTP_MODE_SYM_PASSIVE))
        __builtin_trap();
    if (rp.origin != rq.transmit)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The last byte also picks the KoD request, so every kind gets explored. */
    enum resp_kod kod = size ? (enum resp_kod)(data[size - 1] & 3) : RESP_KOD_NONE;
    const ntp_ts rx = 0xec12345600000000ULL;
    size_t caps[] = {NTP_MAX_PACKET_LEN, size, NTP_HEADER_LEN + 4, NTP_HEADER_LEN};
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        uint8_t *out = malloc(caps[i] ? caps[i] : 1);
        if (!out)
            return 0;
        enum resp_outcome outcome = RESP_OUTCOME_COUNT;
        size_t len = resp_build(&state, data, size, rx, kod, out, caps[i], &outcome);
        check_reply(data, size, out, len, caps[i], outcome, kod);
        free(out);
    }
    return 0;
}

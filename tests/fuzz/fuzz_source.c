/*
 * Fuzz target for source: arbitrary bytes as the reply to an outstanding
 * request. The request's nonce is taken from the input's origin field and
 * T1/T4 are placed around the input's T2/T3, so the fuzzer reaches the
 * arithmetic and the KoD paths, not only the origin test.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "core/packet.h"
#include "core/source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_sample(const struct ntp_sample *smp)
{
    if (!isfinite(smp->offset) || !isfinite(smp->dispersion) || !(smp->delay >= 0) ||
        !(smp->dispersion >= 0) || !(smp->root_delay >= 0) || !(smp->root_dispersion >= 0))
        __builtin_trap();
}

/* Just after a request at `now`, the next one is due within maxpoll. */
static void check_source(const struct source *s, const struct src_params *p, ntp_ts now)
{
    int poll = src_poll(s);
    if (poll < p->minpoll || poll > p->maxpoll)
        __builtin_trap();
    double wait = src_time_to_poll(s, now);
    if (!src_is_demobilised(s) && !(wait > 0 && wait <= ldexp(1.0, p->maxpoll)))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct src_params p = {.minpoll = 4, .maxpoll = 10, .iburst = true, .local_refid = 0x7f000001};
    struct source s;
    src_init(&s, &p);
    uint64_t nonce = size >= 32 ? load_be64(data + 24) : 1;
    ntp_ts t2 = size >= 40 ? load_be64(data + 32) : 0;
    ntp_ts t3 = size >= 48 ? load_be64(data + 40) : 0;
    ntp_ts t1 = t2 - ((uint64_t)(size > 1 ? data[1] : 0) << 16);
    ntp_ts t4 = t3 + ((uint64_t)(size > 2 ? data[2] : 0) << 16);
    uint8_t req[SRC_REQUEST_LEN];
    if (src_build_request(&s, t1, nonce, req, sizeof req) != SRC_REQUEST_LEN)
        __builtin_trap();

    struct ntp_sample smp;
    enum src_verdict v = src_handle_reply(&s, data, size, t4, &smp);
    if ((unsigned)v >= SRC_VERDICT_COUNT)
        __builtin_trap();
    if (v == SRC_SAMPLE) {
        check_sample(&smp);
        if (!(src_reach(&s) & 1))
            __builtin_trap();
    }
    check_source(&s, &p, t1);
    /* The same datagram again is never a second sample. */
    if (src_handle_reply(&s, data, size, t4, &smp) == SRC_SAMPLE)
        __builtin_trap();
    /* Nor is it one for the next request (a new nonce). */
    if (src_build_request(&s, t4, nonce, req, sizeof req) == SRC_REQUEST_LEN &&
        src_handle_reply(&s, data, size, t4, &smp) == SRC_SAMPLE)
        __builtin_trap();
    check_source(&s, &p, t4);
    return 0;
}

/*
 * Fuzz target for an association (core/assoc over core/source, feeding a
 * sync engine): arbitrary bytes as the reply to an outstanding request. The
 * request's nonce is taken from the input's origin field and T1/T4 are
 * placed around the input's T2/T3, so the fuzzer reaches the arithmetic, the
 * KoD paths and the engine, not only the origin test.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "core/assoc.h"
#include "core/packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_sample(const struct ntp_sample *smp)
{
    if (!isfinite(smp->offset) || !isfinite(smp->dispersion) || !(smp->delay >= 0) ||
        !(smp->dispersion >= 0) || !(smp->root_delay >= 0) || !(smp->root_dispersion >= 0))
        __builtin_trap();
}

/*
 * Just after a request at `now`, the next one is due within maxpoll: the
 * configured one, or the one a RATE kiss raised (never above SRC_POLL_MAX).
 */
static void check_source(const struct source *s, const struct src_params *p, ntp_ts now)
{
    int maxpoll = s->p.maxpoll;
    if (maxpoll < p->maxpoll || maxpoll > SRC_POLL_MAX)
        __builtin_trap();
    int poll = src_poll(s);
    if (poll < p->minpoll || poll > maxpoll)
        __builtin_trap();
    double wait = src_time_to_poll(s, now);
    if (!src_is_demobilised(s) && !(wait > 0 && wait <= ldexp(1.0, maxpoll)))
        __builtin_trap();
}

/* The engine's clock: always the same instant, every command accepted. */
static int fixed_read(void *ctx, struct unix_time *now)
{
    (void)ctx;
    *now = (struct unix_time){1750000000, 0};
    return 0;
}

/* Frequency changes and steps (the core never reads them back). */
static int accept_command(void *ctx, double value)
{
    (void)ctx;
    (void)value;
    return 0;
}

/* The engine must have taken a sample exactly when the verdict says so, and dropped a kissed-away source. */
static void check_engine(const struct assoc *a, const struct assoc_outcome *o, unsigned samples_before)
{
    const struct sync_source *e = &a->sync->src[a->sync_index];
    if (e->n_samples != samples_before + (o->verdict == SRC_SAMPLE))
        __builtin_trap();
    if ((o->action == ASSOC_REMOVED) != (o->verdict == SRC_KOD_DENY || o->verdict == SRC_KOD_RSTR) ||
        (o->action == ASSOC_REMOVED && !e->removed))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct sync engine;
    struct clock_driver drv = {NULL, fixed_read, accept_command, NULL, accept_command, NULL};
    struct sync_params sp;
    sync_default_params(&sp);
    sync_init(&engine, &sp, &drv, 0);
    struct src_params p = {.minpoll = 4, .maxpoll = 10, .iburst = true, .local_refid = 0x7f000001};
    struct assoc a;
    if (assoc_init(&a, &engine, &p, NULL) != 0)
        __builtin_trap();
    const struct source *s = &a.src;
    uint64_t nonce = size >= 32 ? load_be64(data + 24) : 1;
    ntp_ts t2 = size >= 40 ? load_be64(data + 32) : 0;
    ntp_ts t3 = size >= 48 ? load_be64(data + 40) : 0;
    ntp_ts t1 = t2 - ((uint64_t)(size > 1 ? data[1] : 0) << 16);
    ntp_ts t4 = t3 + ((uint64_t)(size > 2 ? data[2] : 0) << 16);
    uint8_t req[SRC_REQUEST_LEN];
    if (assoc_build_request(&a, t1, nonce, req, sizeof req) != SRC_REQUEST_LEN)
        __builtin_trap();
    assoc_sent(&a, t1);

    struct assoc_outcome o = assoc_handle_reply(&a, data, size, t4);
    if ((unsigned)o.verdict >= SRC_VERDICT_COUNT)
        __builtin_trap();
    check_engine(&a, &o, 0);
    if (o.verdict == SRC_SAMPLE) {
        check_sample(&engine.src[a.sync_index].last_sample);
        if (!(src_reach(s) & 1))
            __builtin_trap();
    }
    check_source(s, &p, t1);
    unsigned samples = engine.src[a.sync_index].n_samples;
    /* The same datagram again is never a second sample. */
    o = assoc_handle_reply(&a, data, size, t4);
    check_engine(&a, &o, samples);
    if (o.verdict == SRC_SAMPLE)
        __builtin_trap();
    /* Nor is it one for the next request (a new nonce). */
    if (assoc_build_request(&a, t4, nonce, req, sizeof req) == SRC_REQUEST_LEN &&
        assoc_handle_reply(&a, data, size, t4).verdict == SRC_SAMPLE)
        __builtin_trap();
    check_source(s, &p, t4);
    return 0;
}

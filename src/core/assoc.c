/* assoc: one upstream association, source wired to the engine; see assoc.h. */
#include "core/assoc.h"

int assoc_init(struct assoc *a, struct sync *sync, const struct src_params *params,
               const struct auth_instance *auth)
{
    *a = (struct assoc){.sync = sync, .auth = {.ops = &auth_none}};
    if (auth && auth->ops)
        a->auth = *auth;
    src_init(&a->src, params);
    const struct src_params *p = &a->src.p; /* minpoll and maxpoll as the source clamped them */
    a->sync_index = sync_add_source(sync, p->refid, p->prefer, p->minpoll, p->maxpoll);
    return a->sync_index < 0 ? -1 : 0;
}

double assoc_time_to_poll(const struct assoc *a, ntp_ts now)
{
    return src_time_to_poll(&a->src, now);
}

size_t assoc_build_request(struct assoc *a, ntp_ts now, uint64_t random64, uint8_t *buf, size_t cap)
{
    size_t n = src_build_request(&a->src, now, random64, buf, cap);
    if (n > 0 && a->auth.ops->build_request)
        n = a->auth.ops->build_request(a->auth.ctx, buf, n, cap);
    if (n == 0)
        return 0;
    bool pending = src_sent(&a->src) <= SYNC_PENDING_POLLS;
    sync_polled(a->sync, (unsigned)a->sync_index, src_is_reachable(&a->src), pending);
    return n;
}

void assoc_sent(struct assoc *a, ntp_ts t1)
{
    src_set_tx_time(&a->src, t1);
}

/* The sample goes to the engine, whose recommended poll the source then adopts. */
static void take_sample(struct assoc *a, const struct ntp_sample *smp)
{
    sync_sample(a->sync, (unsigned)a->sync_index, smp);
    src_set_poll(&a->src, sync_recommended_poll(a->sync, (unsigned)a->sync_index));
}

static enum assoc_action act_on(struct assoc *a, enum src_verdict v, const struct ntp_sample *smp)
{
    switch (v) {
    case SRC_SAMPLE:
        take_sample(a, smp);
        return ASSOC_SAMPLED;
    case SRC_KOD_RATE:
        return ASSOC_BACKED_OFF;
    case SRC_DROP_UNSYNC:
        sync_unsynchronised(a->sync, (unsigned)a->sync_index);
        return ASSOC_NONE;
    case SRC_KOD_DENY:
    case SRC_KOD_RSTR:
        assoc_remove(a);
        return ASSOC_REMOVED;
    default:
        return ASSOC_NONE;
    }
}

/* The strategy's verdict on a datagram's authentication; undecodable ones are the source's to count. */
static bool authentic(const struct assoc *a, const uint8_t *buf, size_t len)
{
    struct ntp_header h;
    struct ntp_layout layout;
    if (!a->auth.ops->check_reply || pkt_decode(buf, len, &h, &layout) != PKT_OK)
        return true;
    return a->auth.ops->check_reply(a->auth.ctx, buf, len, &layout);
}

struct assoc_outcome assoc_handle_reply(struct assoc *a, const uint8_t *buf, size_t len, ntp_ts rx)
{
    double wait_before = src_time_to_poll(&a->src, rx);
    if (!authentic(a, buf, len)) {
        src_count_refused(&a->src, SRC_DROP_AUTH);
        return (struct assoc_outcome){.verdict = SRC_DROP_AUTH, .action = ASSOC_NONE};
    }
    struct ntp_sample smp;
    struct assoc_outcome o = {.verdict = src_handle_reply(&a->src, buf, len, rx, &smp)};
    o.action = act_on(a, o.verdict, &smp);
    o.poll_changed = src_time_to_poll(&a->src, rx) != wait_before;
    return o;
}

void assoc_remove(struct assoc *a)
{
    sync_remove_source(a->sync, (unsigned)a->sync_index);
}

/* serve: the serving policy and its counters; see serve.h. */
#include "core/serve.h"

void serve_policy_init(struct serve_policy *policy)
{
    acl_init(&policy->acl);
    policy->deny_kod = false;
    auth_set_init(&policy->auth);
}

/* Access list, then rate limit: what kind of reply this client may get. Returns false to drop. */
static bool admit(const struct serve_policy *policy, struct rl_table *rl,
                  const struct serve_request *rq, struct serve_counters *c, enum resp_kod *kod,
                  struct rl_xleave **xleave)
{
    *kod = RESP_KOD_NONE;
    *xleave = NULL;
    if (!acl_allows(&policy->acl, rq->client)) {
        c->denied++;
        *kod = RESP_KOD_DENY;
        return policy->deny_kod;
    }
    enum rl_verdict v = rl_check_client(rl, rq->client, rq->mono_ns, xleave);
    if (v == RL_PASS)
        return true;
    c->rate_limited++;
    *kod = RESP_KOD_RATE;
    return v == RL_KOD;
}

static void count_time_reply(struct serve_counters *c, bool symmetric, bool crypto_nak)
{
    c->replied++;
    c->replied_sym += symmetric;
    c->crypto_nak += crypto_nak;
}

static bool is_time_reply(enum resp_outcome outcome)
{
    return outcome == RESP_REPLIED || outcome == RESP_REPLIED_SYMMETRIC ||
           outcome == RESP_CRYPTO_NAK || outcome == RESP_CRYPTO_NAK_SYMMETRIC ||
           resp_records_departure(outcome);
}

static void count(struct serve_counters *c, enum resp_kod kod, enum resp_outcome outcome)
{
    switch (outcome) {
    case RESP_REPLIED: count_time_reply(c, false, false); break;
    case RESP_REPLIED_SYMMETRIC: count_time_reply(c, true, false); break;
    case RESP_REPLIED_INTERLEAVED:
        c->replied_xleave++;
        count_time_reply(c, false, false);
        break;
    case RESP_REPLIED_XLEAVE_START: count_time_reply(c, false, false); break;
    case RESP_CRYPTO_NAK: count_time_reply(c, false, true); break;
    case RESP_CRYPTO_NAK_SYMMETRIC: count_time_reply(c, true, true); break;
    case RESP_KOD_SENT:
        if (kod == RESP_KOD_RATE)
            c->kod_rate++;
        else
            c->kod_deny++;
        break;
    case RESP_DROP_MALFORMED: c->malformed++; break;
    case RESP_DROP_MODE: c->bad_mode++; break;
    case RESP_DROP_CONTROL: c->control_mode++; break;
    case RESP_DROP_AUTH: c->auth_failed++; break;
    case RESP_DROP_NO_ROOM: c->no_room++; break;
    case RESP_DEFERRED: c->deferred++; break;
    case RESP_DROP_MSSNTP_EXTENDED: c->mssntp_extended++; break;
    case RESP_OUTCOME_COUNT: break;
    }
}

/* The client's record now names this reply; its departure is unknown until recorded. */
static enum serve_tx remember_reply(struct rl_xleave *xleave, ntp_ts rx, enum resp_outcome outcome)
{
    if (!xleave || !is_time_reply(outcome))
        return SERVE_TX_STAMP;
    *xleave = (struct rl_xleave){.rx = rx};
    if (outcome == RESP_REPLIED_INTERLEAVED)
        return SERVE_TX_KEEP_RECORD;
    return outcome == RESP_REPLIED_XLEAVE_START ? SERVE_TX_STAMP_RECORD : SERVE_TX_STAMP;
}

size_t serve_request(const struct serve_policy *policy, const struct resp_state *state,
                     struct rl_table *rl, const struct serve_request *rq, uint8_t *out,
                     size_t out_cap, struct serve_counters *counters, enum serve_tx *tx)
{
    counters->received++;
    enum resp_kod kod;
    struct rl_xleave *xleave;
    bool admitted = admit(policy, rl, rq, counters, &kod, &xleave);
    if (tx)
        *tx = SERVE_TX_STAMP;
    if (rq->outcome)
        *rq->outcome = RESP_KOD_SENT; /* or a refusal: anything but RESP_DEFERRED */
    if (!admitted)
        return 0;
    struct resp_request req = {.bytes = rq->bytes, .len = rq->len, .rx = rq->rx, .kod = kod};
    if (xleave) {
        req.prev_rx = xleave->rx;
        req.prev_tx = xleave->tx;
    }
    enum resp_outcome outcome;
    size_t len = resp_answer(state, &policy->auth, &req, out, out_cap, &outcome);
    count(counters, kod, outcome);
    enum serve_tx what = len ? remember_reply(xleave, rq->rx, outcome) : SERVE_TX_STAMP;
    if (tx)
        *tx = what;
    if (rq->outcome)
        *rq->outcome = outcome;
    return len;
}

void serve_record_departure(struct rl_table *rl, const struct net_addr *client, ntp_ts served_rx,
                            ntp_ts departure)
{
    struct rl_xleave *xleave = rl_find_xleave(rl, client);
    if (xleave && xleave->rx == served_rx)
        xleave->tx = departure;
}

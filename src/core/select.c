/* select: intersection, clustering and combining of sources; see select.h. */
#include "core/select.h"

#include <math.h>

#include "core/packet.h"
#include "core/responder.h"

/* chrony's stratumweight: one stratum counts as 1 ms of root distance when choosing the peer. */
#define SEL_STRATUM_WEIGHT 0.001
/* The previous system peer stays while its score is within this factor of the best. */
#define SEL_HYSTERESIS 1.5

void sel_default_params(struct sel_params *p)
{
    p->minsources = 1;
    p->maxdistance = NTP_DEFAULT_MAXDISTANCE;
}

const char *sel_verdict_name(enum sel_verdict v)
{
    switch (v) {
    case SEL_UNREACHABLE: return "unreachable";
    case SEL_UNFIT: return "unfit";
    case SEL_TOO_FAR: return "too-far";
    case SEL_FALSETICKER: return "falseticker";
    case SEL_NOT_ENOUGH: return "not-enough";
    case SEL_OUTLIER: return "outlier";
    case SEL_CANDIDATE: return "candidate";
    case SEL_SELECTED: return "selected";
    }
    return "unknown";
}

char sel_verdict_mark(enum sel_verdict v)
{
    switch (v) {
    case SEL_UNREACHABLE: return '?';
    case SEL_UNFIT: return '?';
    case SEL_TOO_FAR: return '~';
    case SEL_FALSETICKER: return 'x';
    case SEL_NOT_ENOUGH: return '?';
    case SEL_OUTLIER: return '-';
    case SEL_CANDIDATE: return '+';
    case SEL_SELECTED: return '*';
    }
    return '?';
}

double sel_interval_halfwidth(const struct sel_input *in)
{
    return in->root_distance + 2.0 * in->error;
}

static enum sel_verdict fitness(const struct sel_params *p, const struct sel_input *in)
{
    if (!in->reachable || !isfinite(in->offset) || !isfinite(in->error) ||
        !isfinite(in->root_distance))
        return SEL_UNREACHABLE;
    /* Stratum 0 is a reference clock's (an NTP server's stratum 0 is a kiss, never a sample). */
    if (in->leap == NTP_LEAP_UNSYNC || in->stratum >= NTP_STRATUM_UNSYNC)
        return SEL_UNFIT;
    if (in->root_distance > p->maxdistance)
        return SEL_TOO_FAR;
    return SEL_CANDIDATE;
}

struct endpoint {
    double value;
    int type; /* -1 low end, +1 high end */
};

/* Ascending by value; at equal values low ends first, so touching intervals intersect. */
static void sort_endpoints(struct endpoint *e, unsigned n)
{
    for (unsigned i = 1; i < n; i++) {
        struct endpoint x = e[i];
        unsigned j = i;
        while (j > 0 && (e[j - 1].value > x.value ||
                         (e[j - 1].value == x.value && e[j - 1].type > x.type))) {
            e[j] = e[j - 1];
            j--;
        }
        e[j] = x;
    }
}

/*
 * RFC 5905 §11.2.1: for f = 0, 1, ... while n - f is a majority, the lowest
 * point covered by n - f intervals and the highest; done when low <= high.
 */
static bool intersect(const struct endpoint *e, unsigned n_src, unsigned n_pending, double *low,
                      double *high)
{
    unsigned n_ep = 2 * n_src;
    for (unsigned f = 0; 2 * (n_src - f) > n_src + n_pending; f++) {
        int need = (int)(n_src - f), count = 0;
        double l = INFINITY, u = -INFINITY;
        for (unsigned i = 0; i < n_ep; i++) {
            count -= e[i].type;
            if (count >= need) {
                l = e[i].value;
                break;
            }
        }
        count = 0;
        for (unsigned i = n_ep; i-- > 0;) {
            count += e[i].type;
            if (count >= need) {
                u = e[i].value;
                break;
            }
        }
        if (l <= u) {
            *low = l;
            *high = u;
            return true;
        }
    }
    return false;
}

static void mark_all(enum sel_verdict *verdicts, unsigned n, enum sel_verdict from,
                     enum sel_verdict to)
{
    for (unsigned i = 0; i < n; i++)
        if (verdicts[i] == from)
            verdicts[i] = to;
}

/* RFC 5905 §11.2.2: drop the survivor with the largest selection jitter while it dominates. */
static void cluster(const struct sel_input *in, unsigned n, enum sel_verdict *verdicts)
{
    for (;;) {
        unsigned n_surv = 0;
        double min_jitter = INFINITY;
        for (unsigned i = 0; i < n; i++) {
            if (verdicts[i] != SEL_CANDIDATE)
                continue;
            n_surv++;
            min_jitter = fmin(min_jitter, fmax(in[i].jitter, in[i].error));
        }
        if (n_surv <= SEL_MIN_CLUSTER)
            return;
        double max_sel = -1.0;
        unsigned worst = 0;
        for (unsigned i = 0; i < n; i++) {
            if (verdicts[i] != SEL_CANDIDATE)
                continue;
            double sum = 0.0;
            for (unsigned j = 0; j < n; j++) {
                if (verdicts[j] != SEL_CANDIDATE)
                    continue;
                double d = in[j].offset - in[i].offset;
                sum += d * d;
            }
            double sel_jitter = sqrt(sum / (n_surv - 1));
            if (sel_jitter > max_sel) {
                max_sel = sel_jitter;
                worst = i;
            }
        }
        if (max_sel <= min_jitter)
            return;
        verdicts[worst] = SEL_OUTLIER;
    }
}

static double peer_score(const struct sel_input *in)
{
    return in->root_distance + SEL_STRATUM_WEIGHT * in->stratum;
}

static int choose_peer(const struct sel_input *in, unsigned n, const enum sel_verdict *verdicts,
                       int prev_selected)
{
    int best = -1;
    for (unsigned i = 0; i < n; i++)
        if (verdicts[i] == SEL_CANDIDATE &&
            (best < 0 || peer_score(&in[i]) < peer_score(&in[best])))
            best = (int)i;
    if (best >= 0 && prev_selected >= 0 && (unsigned)prev_selected < n &&
        verdicts[prev_selected] == SEL_CANDIDATE &&
        peer_score(&in[prev_selected]) <= SEL_HYSTERESIS * peer_score(&in[best]))
        best = prev_selected;
    return best;
}

static void combine(const struct sel_input *in, unsigned n, const enum sel_verdict *verdicts,
                    struct sel_result *out)
{
    double sw = 0.0, swx = 0.0;
    unsigned n_leap[4] = {0};
    for (unsigned i = 0; i < n; i++) {
        if (verdicts[i] != SEL_CANDIDATE && verdicts[i] != SEL_SELECTED)
            continue;
        double e = fmax(in[i].error, 1e-9);
        double w = 1.0 / (e * e);
        sw += w;
        swx += w * in[i].offset;
        n_leap[in[i].leap & 3]++;
        out->n_combined++;
    }
    if (sw > 0.0) {
        out->offset = swx / sw;
        out->error = sqrt(1.0 / sw);
    }
    out->leap = NTP_LEAP_NONE;
    if (2 * n_leap[NTP_LEAP_INSERT] > out->n_combined)
        out->leap = NTP_LEAP_INSERT;
    else if (2 * n_leap[NTP_LEAP_DELETE] > out->n_combined)
        out->leap = NTP_LEAP_DELETE;
}

static bool any_prefer(const struct sel_input *in, unsigned n, const enum sel_verdict *verdicts)
{
    for (unsigned i = 0; i < n; i++)
        if (verdicts[i] == SEL_CANDIDATE && in[i].prefer)
            return true;
    return false;
}

int sel_run(const struct sel_params *p, const struct sel_input *in, unsigned n, int prev_selected,
            enum sel_verdict *verdicts, struct sel_result *out)
{
    *out = (struct sel_result){.selected = -1, .leap = NTP_LEAP_UNSYNC};
    if (n > SEL_MAX_SOURCES)
        return -1;
    struct endpoint ep[2 * SEL_MAX_SOURCES];
    unsigned n_cand = 0, n_pending = 0;
    for (unsigned i = 0; i < n; i++) {
        verdicts[i] = fitness(p, &in[i]);
        n_pending += verdicts[i] == SEL_UNREACHABLE && in[i].pending;
        if (verdicts[i] != SEL_CANDIDATE)
            continue;
        double h = sel_interval_halfwidth(&in[i]);
        ep[2 * n_cand] = (struct endpoint){in[i].offset - h, -1};
        ep[2 * n_cand + 1] = (struct endpoint){in[i].offset + h, +1};
        n_cand++;
    }
    if (n_cand == 0)
        return 0;
    sort_endpoints(ep, 2 * n_cand);
    if (!intersect(ep, n_cand, n_pending, &out->low, &out->high)) {
        mark_all(verdicts, n, SEL_CANDIDATE, SEL_NOT_ENOUGH);
        return 0;
    }
    for (unsigned i = 0; i < n; i++) {
        if (verdicts[i] != SEL_CANDIDATE)
            continue;
        double h = sel_interval_halfwidth(&in[i]);
        if (in[i].offset + h < out->low || in[i].offset - h > out->high)
            verdicts[i] = SEL_FALSETICKER;
        else
            out->n_truechimers++;
    }
    for (unsigned i = 0; i < n; i++)
        if (verdicts[i] == SEL_CANDIDATE && in[i].unproven)
            verdicts[i] = SEL_OUTLIER;
    if (out->n_truechimers < p->minsources) {
        mark_all(verdicts, n, SEL_CANDIDATE, SEL_NOT_ENOUGH);
        return 0;
    }
    cluster(in, n, verdicts);
    if (any_prefer(in, n, verdicts))
        for (unsigned i = 0; i < n; i++)
            if (verdicts[i] == SEL_CANDIDATE && !in[i].prefer)
                verdicts[i] = SEL_OUTLIER;
    out->selected = choose_peer(in, n, verdicts, prev_selected);
    if (out->selected >= 0)
        verdicts[out->selected] = SEL_SELECTED;
    combine(in, n, verdicts, out);
    return 0;
}

/* source: one upstream server's client state machine; see source.h. */
#include "core/source.h"

#include <math.h>

#include "core/packet.h"
#include "core/responder.h"

static int clamp_int(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

void src_init(struct source *s, const struct src_params *params)
{
    *s = (struct source){0};
    s->p = *params;
    s->p.minpoll = clamp_int(params->minpoll, SRC_POLL_MIN, SRC_POLL_MAX);
    s->p.maxpoll = clamp_int(params->maxpoll, s->p.minpoll, SRC_POLL_MAX);
    src_set_maxdistance(s, params->maxdistance);
    if (!(s->p.maxdelay > 0))
        s->p.maxdelay = SRC_DEFAULT_MAXDELAY;
    if (s->p.precision == 0)
        s->p.precision = SRC_DEFAULT_PRECISION;
    s->poll = s->p.minpoll;
    s->poll_floor = s->p.minpoll;
    s->unreach_poll = s->p.minpoll;
    s->burst_left = s->p.iburst ? SRC_BURST_COUNT : 0;
}

const char *src_verdict_name(enum src_verdict v)
{
    switch (v) {
    case SRC_SAMPLE: return "sample";
    case SRC_DROP_MALFORMED: return "malformed";
    case SRC_DROP_VERSION: return "bad-version";
    case SRC_DROP_MODE: return "bad-mode";
    case SRC_DROP_DUPLICATE: return "duplicate";
    case SRC_DROP_UNEXPECTED: return "unexpected";
    case SRC_DROP_STALE: return "stale";
    case SRC_DROP_BOGUS: return "bogus-origin";
    case SRC_KOD_RATE: return "kod-rate";
    case SRC_KOD_DENY: return "kod-deny";
    case SRC_KOD_RSTR: return "kod-rstr";
    case SRC_DROP_UNSYNC: return "unsynchronised";
    case SRC_DROP_ZERO_TIME: return "zero-timestamp";
    case SRC_DROP_LOOP: return "timing-loop";
    case SRC_DROP_DELAY: return "bad-delay";
    case SRC_DROP_DISTANCE: return "distance";
    case SRC_DROP_AUTH: return "auth-failed";
    case SRC_XLEAVE_REPEAT: return "interleaved-repeat";
    case SRC_VERDICT_COUNT: break;
    }
    return "unknown";
}

static bool is_unreachable(const struct source *s)
{
    return s->missed >= SRC_UNREACH_MISSES;
}

int src_poll(const struct source *s)
{
    return is_unreachable(s) ? s->unreach_poll : s->poll;
}

uint8_t src_reach(const struct source *s) { return s->reach; }
bool src_is_reachable(const struct source *s) { return s->reach != 0; }
bool src_is_demobilised(const struct source *s) { return s->demobilised; }
bool src_in_burst(const struct source *s) { return s->burst_left > 0; }
uint64_t src_sent(const struct source *s) { return s->n_sent; }
bool src_last_interleaved(const struct source *s) { return s->last_interleaved; }
uint64_t src_interleaved_samples(const struct source *s) { return s->n_interleaved; }

void src_count_refused(struct source *s, enum src_verdict v)
{
    if ((unsigned)v < SRC_VERDICT_COUNT)
        s->counts[v]++;
}

uint64_t src_count(const struct source *s, enum src_verdict v)
{
    return (unsigned)v < SRC_VERDICT_COUNT ? s->counts[v] : 0;
}

double src_time_to_poll(const struct source *s, ntp_ts now)
{
    if (s->demobilised)
        return SRC_NEVER;
    if (!s->sent_any)
        return 0.0;
    return ntp_diff_sec(s->next_tx, now);
}

/*
 * An unreachable source backs off one poll step per miss up to 2^8 s, or
 * comes down to it from a longer poll, so that a server coming back is seen
 * within minutes (DISCIPLINE.md "Holdover and outages").
 */
static void back_off_unreachable(struct source *s)
{
    int cap = clamp_int(SRC_UNREACH_POLL, s->poll_floor, s->p.maxpoll);
    if (s->missed == SRC_UNREACH_MISSES)
        s->unreach_poll = s->poll < cap ? s->poll : cap;
    else if (s->unreach_poll < cap)
        s->unreach_poll++;
    else
        s->unreach_poll = cap;
}

/* RFC 5905 §13: the reach register shifts at each poll; a sample sets bit 0. */
static void account_previous_poll(struct source *s)
{
    if (s->sent_any && !(s->reach & 1)) {
        if (s->missed < 255)
            s->missed++;
        if (is_unreachable(s))
            back_off_unreachable(s);
    }
    s->reach = (uint8_t)(s->reach << 1);
}

/* A burst is never slower than the poll it hastens (sub-second polls: chrony's "2 s or less"). */
static double next_interval(struct source *s)
{
    if (s->burst_left > 0 && --s->burst_left > 0)
        return fmin(SRC_BURST_INTERVAL, ldexp(1.0, src_poll(s)));
    return ldexp(1.0, src_poll(s));
}

static uint64_t choose_nonce(const struct source *s, uint64_t random64)
{
    /* Zero reads as "no origin", and a repeated nonce would make stale replies look current. */
    while (random64 == 0 || (s->sent_any && (random64 == s->nonce || random64 == s->prev_nonce)))
        random64 += 0x9e3779b97f4a7c15ULL;
    return random64;
}

/*
 * draft-ietf-ntp-data-minimization: a request says nothing but its version,
 * mode and poll — and, interleaved, the server's own receive timestamp and a nonce.
 */
static void encode_request(const struct source *s, uint8_t *buf)
{
    struct ntp_header h = {0};
    h.leap = NTP_LEAP_NONE;
    h.version = 4;
    h.mode = NTP_MODE_CLIENT;
    h.poll = (int8_t)src_poll(s);
    h.transmit = s->nonce;
    if (s->rx_nonce) {
        h.origin = s->prev.t2;
        h.receive = s->rx_nonce;
    }
    pkt_encode_header(&h, buf);
}

/* A second nonce from the same random draw (splitmix64's finaliser), never 0 or the first. */
static uint64_t second_nonce(uint64_t nonce)
{
    uint64_t z = nonce + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return z == 0 || z == nonce ? nonce ^ 0x5555555555555555ULL : z;
}

size_t src_build_request(struct source *s, ntp_ts now, uint64_t random64, uint8_t *buf, size_t cap)
{
    if (s->demobilised || cap < SRC_REQUEST_LEN)
        return 0;
    account_previous_poll(s);
    uint64_t nonce = choose_nonce(s, random64);
    if (s->sent_any) {
        s->prev_nonce = s->nonce;
        s->prev_rx_nonce = s->rx_nonce;
    }
    s->nonce = nonce;
    s->rx_nonce = s->p.xleave && s->prev.valid ? second_nonce(nonce) : 0;
    s->t1 = now;
    s->last_tx = now;
    s->outstanding = true;
    s->sent_any = true;
    s->next_tx = ntp_add_sec(now, next_interval(s));
    s->n_sent++;
    encode_request(s, buf);
    return SRC_REQUEST_LEN;
}

void src_set_tx_time(struct source *s, ntp_ts t1)
{
    if (s->outstanding)
        s->t1 = t1;
}

/* Reschedules the next request `interval` after the last one, unless a burst paces it. */
static void reschedule(struct source *s)
{
    if (s->sent_any && s->burst_left == 0)
        s->next_tx = ntp_add_sec(s->last_tx, ldexp(1.0, src_poll(s)));
}

void src_set_maxdistance(struct source *s, double maxdistance)
{
    s->p.maxdistance = maxdistance > 0 ? maxdistance : SRC_DEFAULT_MAXDISTANCE;
}

void src_set_poll(struct source *s, int poll)
{
    poll = clamp_int(poll, s->poll_floor, s->p.maxpoll);
    if (poll == s->poll)
        return;
    s->poll = poll;
    reschedule(s);
}

/*
 * RFC 5905 §7.4 and RFC 8633 §3: RATE asks for a longer poll, so at least
 * double it, to the server's advertised poll if that is longer, and never
 * come back below it — even past our own maxpoll, which is raised with it
 * (as chrony does): a client that keeps its rate after a kiss gets blocked.
 * DENY and RSTR mean this server will not serve us.
 */
static enum src_verdict handle_kod(struct source *s, const struct ntp_header *h)
{
    if (h->refid == pkt_refid_ascii("RATE")) {
        int want = s->poll + 1 > h->poll ? s->poll + 1 : h->poll;
        want = clamp_int(want, SRC_POLL_MIN, SRC_POLL_MAX);
        if (want > s->p.maxpoll)
            s->p.maxpoll = want;
        s->poll_floor = clamp_int(want, s->poll_floor, s->p.maxpoll);
        s->poll = clamp_int(s->poll, s->poll_floor, s->p.maxpoll);
        s->burst_left = 0;
        ntp_ts due = ntp_add_sec(s->last_tx, ldexp(1.0, src_poll(s)));
        if (ntp_diff_sec(due, s->next_tx) > 0)
            s->next_tx = due;
        return SRC_KOD_RATE;
    }
    bool deny = h->refid == pkt_refid_ascii("DENY");
    if (deny || h->refid == pkt_refid_ascii("RSTR")) {
        s->demobilised = true;
        s->burst_left = 0;
        return deny ? SRC_KOD_DENY : SRC_KOD_RSTR;
    }
    return SRC_DROP_UNSYNC;
}

/* RFC 5905 §8: offset, delay and dispersion of exchange x, whose T3 this reply carries. */
static enum src_verdict measure(const struct source *s, const struct ntp_header *h,
                                const struct src_exchange *x, struct ntp_sample *out)
{
    ntp_ts t3 = h->transmit, t4 = x->t4;
    double t21 = ntp_diff_sec(x->t2, x->t1);
    double t34 = ntp_diff_sec(t3, t4);
    double round_trip = ntp_diff_sec(t4, x->t1);
    double server_time = ntp_diff_sec(t3, x->t2);
    double delay = round_trip - server_time;
    double rho_local = ldexp(1.0, s->p.precision);
    double rho_server = ldexp(1.0, h->precision);
    if (round_trip < 0 || server_time < -rho_server)
        return SRC_DROP_DELAY;
    if (delay < -(rho_local + rho_server) || delay > s->p.maxdelay)
        return SRC_DROP_DELAY;
    if (delay < rho_local)
        delay = rho_local;
    double dispersion = rho_local + rho_server + NTP_PHI * round_trip;
    double root_delay = ntp_short_to_sec(h->root_delay);
    double root_disp = ntp_short_to_sec(h->root_dispersion);
    if ((root_delay + delay) / 2 + root_disp + dispersion > s->p.maxdistance)
        return SRC_DROP_DISTANCE;
    out->local_time = ntp_diff_sec(t4, s->p.epoch);
    out->offset = (t21 + t34) / 2;
    out->delay = delay;
    out->dispersion = dispersion;
    out->root_delay = root_delay;
    out->root_dispersion = root_disp;
    out->stratum = h->stratum;
    out->leap = h->leap;
    out->refid = h->refid;
    return SRC_SAMPLE;
}

static enum src_verdict check_header(const struct source *s, const struct ntp_header *h)
{
    if (h->leap == NTP_LEAP_UNSYNC || h->stratum == 0 || h->stratum >= NTP_STRATUM_UNSYNC)
        return SRC_DROP_UNSYNC;
    if (h->receive == 0 || h->transmit == 0)
        return SRC_DROP_ZERO_TIME;
    if (s->p.local_refid != 0 && h->stratum > 1 && h->refid == s->p.local_refid)
        return SRC_DROP_LOOP;
    return SRC_SAMPLE;
}

static void note_sample(struct source *s)
{
    bool was_unreachable = is_unreachable(s);
    s->reach |= 1;
    s->missed = 0;
    if (was_unreachable)
        reschedule(s);
}

/* Tests that a datagram answers our outstanding request, in RFC 5905 order. */
static bool is_stale(const struct source *s, ntp_ts origin)
{
    return (s->prev_nonce != 0 && origin == s->prev_nonce) ||
           (s->prev_rx_nonce != 0 && origin == s->prev_rx_nonce);
}

/* Tests that a datagram answers our outstanding request, in RFC 5905 order; says if interleaved. */
static enum src_verdict check_exchange(const struct source *s, const struct ntp_header *h,
                                       bool *interleaved)
{
    if (h->version != 4 && h->version != 3)
        return SRC_DROP_VERSION;
    if (h->mode != NTP_MODE_SERVER)
        return SRC_DROP_MODE;
    if (h->transmit != 0 && h->transmit == s->last_rx_xmt)
        return SRC_DROP_DUPLICATE;
    if (!s->outstanding)
        return SRC_DROP_UNEXPECTED;
    /* RFC 9769 §2: an interleaved reply echoes the request's receive field, a basic one its transmit. */
    *interleaved = s->rx_nonce != 0 && h->origin == s->rx_nonce;
    if (h->origin != s->nonce && !*interleaved)
        return is_stale(s, h->origin) ? SRC_DROP_STALE : SRC_DROP_BOGUS;
    return SRC_SAMPLE;
}

/*
 * A time reply: basic, it measures this exchange; interleaved, the previous
 * one, with the server's real departure time. This exchange becomes the
 * previous one either way (the server keeps its receive time for our next origin).
 */
static enum src_verdict measure_reply(struct source *s, const struct ntp_header *h, ntp_ts rx,
                                      bool interleaved, struct ntp_sample *out)
{
    const struct src_exchange now = {.valid = true, .t1 = s->t1, .t2 = h->receive, .t4 = rx};
    const struct src_exchange prev = s->prev;
    s->prev = now;
    if (!interleaved) {
        enum src_verdict v = measure(s, h, &now, out);
        s->prev.sampled = v == SRC_SAMPLE;
        s->last_interleaved = false;
        return v;
    }
    if (prev.sampled)
        return SRC_XLEAVE_REPEAT;
    enum src_verdict v = measure(s, h, &prev, out);
    s->last_interleaved = v == SRC_SAMPLE;
    s->n_interleaved += v == SRC_SAMPLE;
    return v;
}

static enum src_verdict judge(struct source *s, const uint8_t *buf, size_t len, ntp_ts rx,
                              struct ntp_sample *out)
{
    struct ntp_header h;
    enum pkt_status ps = pkt_decode(buf, len, &h, NULL);
    if (ps == PKT_BAD_VERSION)
        return SRC_DROP_VERSION;
    if (ps != PKT_OK)
        return SRC_DROP_MALFORMED;
    bool interleaved = false;
    enum src_verdict v = check_exchange(s, &h, &interleaved);
    if (v != SRC_SAMPLE)
        return v;
    /* Authentic (it echoes our nonce): the request is answered whatever follows. */
    s->outstanding = false;
    s->last_rx_xmt = h.transmit;
    if (h.stratum == 0)
        return handle_kod(s, &h);
    v = check_header(s, &h);
    if (v == SRC_SAMPLE)
        v = measure_reply(s, &h, rx, interleaved, out);
    if (v == SRC_SAMPLE || v == SRC_XLEAVE_REPEAT)
        note_sample(s);
    return v;
}

enum src_verdict src_handle_reply(struct source *s, const uint8_t *buf, size_t len, ntp_ts rx,
                                  struct ntp_sample *out)
{
    enum src_verdict v = judge(s, buf, len, rx, out);
    s->counts[v]++;
    return v;
}

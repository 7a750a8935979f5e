/* responder: builds NTP server replies; see responder.h. */
#include "core/responder.h"

#include "core/packet.h"

const char *resp_outcome_name(enum resp_outcome outcome)
{
    switch (outcome) {
    case RESP_REPLIED: return "replied";
    case RESP_REPLIED_SYMMETRIC: return "replied-symmetric";
    case RESP_REPLIED_INTERLEAVED: return "replied-interleaved";
    case RESP_REPLIED_XLEAVE_START: return "replied-interleaved-start";
    case RESP_CRYPTO_NAK: return "crypto-nak";
    case RESP_CRYPTO_NAK_SYMMETRIC: return "crypto-nak-symmetric";
    case RESP_KOD_SENT: return "kod-sent";
    case RESP_DROP_MALFORMED: return "malformed";
    case RESP_DROP_MODE: return "bad-mode";
    case RESP_DROP_CONTROL: return "control-mode";
    case RESP_DROP_AUTH: return "auth-failed";
    case RESP_DROP_NO_ROOM: return "no-room";
    case RESP_DEFERRED: return "deferred";
    case RESP_DROP_MSSNTP_EXTENDED: return "mssntp-extended";
    case RESP_OUTCOME_COUNT: break;
    }
    return "unknown";
}

bool resp_records_departure(enum resp_outcome outcome)
{
    return outcome == RESP_REPLIED_INTERLEAVED || outcome == RESP_REPLIED_XLEAVE_START;
}

double resp_root_dispersion_at(const struct resp_state *state, ntp_ts now)
{
    double age = ntp_diff_sec(now, state->reference_time);
    if (age < 0)
        age = 0;
    return state->root_dispersion + NTP_PHI * age;
}

/* Which mode answers a request mode, or 0 when it gets no answer. */
static uint8_t reply_mode(const struct ntp_header *req, enum resp_outcome *outcome)
{
    switch (req->mode) {
    case NTP_MODE_CLIENT:
        return NTP_MODE_SERVER;
    case NTP_MODE_SYM_ACTIVE:
        /* w32time's default; answered statelessly, as chronyd does, with no peer association. */
        return NTP_MODE_SYM_PASSIVE;
    case NTP_MODE_RESERVED:
        if (req->version == 1)
            return NTP_MODE_SERVER; /* NTPv1 had no mode field: treat as a client request */
        break;
    case NTP_MODE_CONTROL:
    case NTP_MODE_PRIVATE:
        *outcome = RESP_DROP_CONTROL;
        return 0;
    default:
        break;
    }
    *outcome = RESP_DROP_MODE;
    return 0;
}

static int8_t clamp_poll(int8_t poll)
{
    if (poll < NTP_MINPOLL)
        return NTP_MINPOLL;
    if (poll > NTP_MAXPOLL)
        return NTP_MAXPOLL;
    return poll;
}

static uint32_t kod_code(enum resp_kod kod)
{
    switch (kod) {
    case RESP_KOD_RATE: return pkt_refid_ascii("RATE");
    case RESP_KOD_DENY: return pkt_refid_ascii("DENY");
    case RESP_KOD_RSTR: return pkt_refid_ascii("RSTR");
    case RESP_KOD_NONE: break;
    }
    return 0;
}

static void fill_time_fields(const struct resp_state *state, ntp_ts rx_ts, struct ntp_header *rep)
{
    if (state->stratum >= NTP_STRATUM_UNSYNC || state->stratum == 0) {
        /* RFC 5905 §7.3: unsynchronised is stratum 16 inside, 0 on the wire, with LI=3. */
        rep->leap = NTP_LEAP_UNSYNC;
        rep->stratum = 0;
        rep->refid = 0;
    } else {
        rep->leap = state->leap;
        rep->stratum = state->stratum;
        rep->refid = state->refid;
    }
    rep->precision = state->precision;
    rep->root_delay = ntp_short_from_sec(state->root_delay);
    rep->root_dispersion = ntp_short_from_sec(resp_root_dispersion_at(state, rx_ts));
    rep->reference = state->reference_time;
}

static void encode_reply(const struct resp_state *state, const struct ntp_header *rq, uint8_t mode,
                         const struct resp_request *req, bool interleaved, uint8_t *out)
{
    struct ntp_header rep = {0};
    rep.version = rq->version;
    rep.mode = mode;
    rep.poll = clamp_poll(rq->poll);
    fill_time_fields(state, req->rx, &rep);
    if (req->kod != RESP_KOD_NONE) {
        rep.leap = NTP_LEAP_UNSYNC;
        rep.stratum = 0;
        rep.refid = kod_code(req->kod);
    }
    rep.origin = interleaved ? rq->receive : rq->transmit;
    rep.receive = req->rx;
    rep.transmit = interleaved ? req->prev_tx : req->rx;
    pkt_encode_header(&rep, out);
}

/* MS-SNTP §2.2.2: a domain member's 120-byte request (48 + 72-byte ExtendedAuthenticator), NTPv3. */
static bool is_extended_authenticator(const struct resp_request *rq)
{
    uint8_t mode = rq->bytes[0] & 7;
    return rq->len == 120 && (mode == NTP_MODE_CLIENT || mode == NTP_MODE_SYM_ACTIVE);
}

/* Decodes the request and picks the reply mode; 0 (with the outcome set) when it gets no reply. */
static uint8_t accept_request(const struct resp_request *rq, struct ntp_header *hdr,
                              struct ntp_layout *layout, enum resp_outcome *outcome)
{
    if (pkt_decode(rq->bytes, rq->len, hdr, layout) == PKT_OK)
        return reply_mode(hdr, outcome);
    /* Short ntpq/ntpdc probes (mode 6/7, often 8 to 12 bytes) are counted as what they are. */
    uint8_t mode = rq->len > 0 ? (uint8_t)(rq->bytes[0] & 7) : NTP_MODE_RESERVED;
    bool control = mode == NTP_MODE_CONTROL || mode == NTP_MODE_PRIVATE;
    *outcome = control ? RESP_DROP_CONTROL : is_extended_authenticator(rq) ? RESP_DROP_MSSNTP_EXTENDED
                                                                            : RESP_DROP_MALFORMED;
    return 0;
}

/*
 * RFC 9769 §2: an interleaved client's request carries, as its origin, the
 * receive timestamp of our last reply to it (a time reply, not a KoD or a NAK).
 */
static bool from_interleaved_client(const struct resp_request *rq, const struct ntp_header *hdr,
                                    uint8_t mode, enum auth_verdict verdict)
{
    return mode == NTP_MODE_SERVER && rq->kod == RESP_KOD_NONE && verdict != AUTH_CRYPTO_NAK &&
           rq->prev_rx != 0 && hdr->origin == rq->prev_rx;
}

static enum resp_outcome reply_outcome(enum resp_kod kod, uint8_t mode, enum auth_verdict verdict,
                                       bool deferred)
{
    bool symmetric = mode == NTP_MODE_SYM_PASSIVE;
    if (kod != RESP_KOD_NONE)
        return RESP_KOD_SENT;
    if (verdict == AUTH_CRYPTO_NAK)
        return symmetric ? RESP_CRYPTO_NAK_SYMMETRIC : RESP_CRYPTO_NAK;
    if (deferred)
        return RESP_DEFERRED;
    return symmetric ? RESP_REPLIED_SYMMETRIC : RESP_REPLIED;
}

/*
 * The one place a reply is held to its request's length (no amplification):
 * the strategy seals within `cap`, and a reply it made longer is dropped.
 */
static size_t seal(const struct auth_request_info *info, uint8_t *out, size_t cap)
{
    size_t len = auth_seal_reply(info, out, NTP_HEADER_LEN, cap);
    return len >= NTP_HEADER_LEN && len <= cap ? len : 0;
}

size_t resp_answer(const struct resp_state *state, const struct auth_set *auth,
                   const struct resp_request *rq, uint8_t *out, size_t out_cap,
                   enum resp_outcome *outcome)
{
    struct ntp_header hdr;
    struct ntp_layout layout;
    uint8_t mode = accept_request(rq, &hdr, &layout, outcome);
    if (mode == 0)
        return 0;
    struct auth_request_info info;
    if (auth_check_request(auth, rq->bytes, rq->len, &layout, &info) == AUTH_INVALID) {
        *outcome = RESP_DROP_AUTH;
        return 0;
    }
    size_t cap = out_cap < rq->len ? out_cap : rq->len;
    if (cap < NTP_HEADER_LEN) {
        *outcome = RESP_DROP_NO_ROOM;
        return 0;
    }
    bool xleave = from_interleaved_client(rq, &hdr, mode, info.verdict);
    encode_reply(state, &hdr, mode, rq, xleave && rq->prev_tx != 0, out);
    size_t len = seal(&info, out, cap);
    *outcome = len ? reply_outcome(rq->kod, mode, info.verdict, info.deferred) : RESP_DROP_NO_ROOM;
    if (len && xleave && !info.deferred)
        *outcome = rq->prev_tx != 0 ? RESP_REPLIED_INTERLEAVED : RESP_REPLIED_XLEAVE_START;
    return len;
}

size_t resp_build(const struct resp_state *state, const uint8_t *req, size_t req_len, ntp_ts rx_ts,
                  enum resp_kod kod, uint8_t *out, size_t out_cap, enum resp_outcome *outcome)
{
    const struct resp_request rq = {.bytes = req, .len = req_len, .rx = rx_ts, .kod = kod};
    return resp_answer(state, NULL, &rq, out, out_cap, outcome);
}

/* responder: builds NTP server replies; see responder.h. */
#include "core/responder.h"

#include "core/packet.h"

const char *resp_outcome_name(enum resp_outcome outcome)
{
    switch (outcome) {
    case RESP_REPLIED: return "replied";
    case RESP_KOD_SENT: return "kod-sent";
    case RESP_DROP_MALFORMED: return "malformed";
    case RESP_DROP_MODE: return "bad-mode";
    case RESP_DROP_CONTROL: return "control-mode";
    case RESP_DROP_NO_ROOM: return "no-room";
    case RESP_OUTCOME_COUNT: break;
    }
    return "unknown";
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

/*
 * A request authenticated with a key we do not have gets a crypto-NAK (a
 * 4-byte zero key id, RFC 5905 §9.2), which tells the client why it cannot
 * trust us; still never longer than its request.
 */
static size_t append_mac(const struct ntp_layout *layout, uint8_t *out, size_t len)
{
    if (!layout->has_mac || layout->mac_len <= 4)
        return len;
    store_be32(out + len, 0);
    return len + 4;
}

size_t resp_build(const struct resp_state *state, const uint8_t *req, size_t req_len, ntp_ts rx_ts,
                  enum resp_kod kod, uint8_t *out, size_t out_cap, enum resp_outcome *outcome)
{
    struct ntp_header rq;
    struct ntp_layout layout;
    if (pkt_decode(req, req_len, &rq, &layout) != PKT_OK) {
        /* Short ntpq/ntpdc probes (mode 6/7, often 8 to 12 bytes) are counted as what they are. */
        bool control = req_len > 0 && ((req[0] & 7) == NTP_MODE_CONTROL || (req[0] & 7) == NTP_MODE_PRIVATE);
        *outcome = control ? RESP_DROP_CONTROL : RESP_DROP_MALFORMED;
        return 0;
    }
    uint8_t mode = reply_mode(&rq, outcome);
    if (mode == 0)
        return 0;
    if (out_cap < NTP_HEADER_LEN + 4) {
        *outcome = RESP_DROP_NO_ROOM;
        return 0;
    }
    struct ntp_header rep = {0};
    rep.version = rq.version;
    rep.mode = mode;
    rep.poll = clamp_poll(rq.poll);
    fill_time_fields(state, rx_ts, &rep);
    if (kod != RESP_KOD_NONE) {
        rep.leap = NTP_LEAP_UNSYNC;
        rep.stratum = 0;
        rep.refid = kod_code(kod);
    }
    rep.origin = rq.transmit;
    rep.receive = rx_ts;
    rep.transmit = rx_ts;
    pkt_encode_header(&rep, out);
    size_t len = append_mac(&layout, out, NTP_HEADER_LEN);
    *outcome = kod != RESP_KOD_NONE ? RESP_KOD_SENT : RESP_REPLIED;
    return len;
}

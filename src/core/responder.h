/*
 * responder: the server side of NTP, one request at a time (RFC 5905 §8-9).
 *
 * Owns: deciding whether a request gets a reply and building it into a
 * caller-owned buffer: mode 3 -> 4, mode 1 (w32time's symmetric active) -> 2,
 * NTPv1 mode 0 -> 4, each in the request's version; Kiss-o'-Death replies;
 * the rule that a reply is never longer than its request (enforced on what
 * the authentication strategy seals, see auth.h). Knows no sockets, clocks
 * or clients: access control and rate limiting are decided before (serve),
 * the transmit timestamp is written after (pkt_set_transmit), by the shell.
 *
 * Interleaved mode (RFC 9769 §2): a client request whose origin timestamp is
 * the receive timestamp of our last reply to that client comes from an
 * interleaved client. When the kernel transmit timestamp of that last reply
 * is known, the reply is interleaved: origin = the request's receive field,
 * receive = now, transmit = when the last reply really left, and the shell
 * must keep that transmit field. Either way the shell records when this reply
 * leaves, for the next one. Basic clients cost nothing more.
 */
#ifndef HORLOGE_RESPONDER_H
#define HORLOGE_RESPONDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/auth.h"
#include "core/ntp.h"
#include "core/ntptime.h"
#include "core/packet.h"

/* What the server says about itself; the shell publishes a new one on every change. */
struct resp_state {
    uint8_t leap;             /* NTP_LEAP_* */
    uint8_t stratum;          /* 1..15 synchronised, NTP_STRATUM_UNSYNC otherwise */
    int8_t precision;         /* log2 seconds, measured at start */
    uint32_t refid;
    ntp_ts reference_time;    /* when the clock was last set or corrected */
    double root_delay;        /* seconds */
    double root_dispersion;   /* seconds, as of reference_time */
};

enum resp_kod {
    RESP_KOD_NONE = 0,
    RESP_KOD_RATE,
    RESP_KOD_DENY,
    RESP_KOD_RSTR,
};

/* What the responder did with a request; serve counts these. */
enum resp_outcome {
    RESP_REPLIED = 0,          /* time, in mode 4 */
    RESP_REPLIED_SYMMETRIC,    /* time, in mode 2 to a symmetric active request (w32time) */
    RESP_REPLIED_INTERLEAVED,  /* time, interleaved (transmit = the last reply's departure) */
    RESP_REPLIED_XLEAVE_START, /* time in basic mode to an interleaved client, whose last
                                  reply's departure is not known: record this one's */
    RESP_CRYPTO_NAK,           /* time in mode 4, with a crypto-NAK (a MAC of a key we lack) */
    RESP_CRYPTO_NAK_SYMMETRIC, /* the same in mode 2 */
    RESP_KOD_SENT,             /* the Kiss-o'-Death asked for */
    RESP_DROP_MALFORMED,       /* too short, bad version, bad extension fields or trailer */
    RESP_DROP_MODE,            /* modes 0 (v2+), 2, 4, 5 */
    RESP_DROP_CONTROL,         /* modes 6 and 7 (ntpq/ntpdc): never answered, they amplify */
    RESP_DROP_AUTH,            /* authentication that fails (AUTH_INVALID) */
    RESP_DROP_NO_ROOM,         /* the reply would be longer than the request or the buffer */
    RESP_DEFERRED,             /* a 48-byte reply the shell has signed elsewhere (MS-SNTP) */
    RESP_DROP_MSSNTP_EXTENDED, /* MS-SNTP's 120-byte ExtendedAuthenticator: Samba cannot sign it */
    RESP_OUTCOME_COUNT
};

const char *resp_outcome_name(enum resp_outcome outcome);

struct resp_request {
    const uint8_t *bytes;
    size_t len;
    ntp_ts rx;           /* receive timestamp, as served */
    enum resp_kod kod;   /* a Kiss-o'-Death instead of time */
    ntp_ts prev_rx;      /* our last reply to this client: its receive timestamp (0: none) */
    ntp_ts prev_tx;      /* and when it left, if recorded (0: not known) */
};

/* The outcome is a time reply whose departure the shell must record (interleaved mode). */
bool resp_records_departure(enum resp_outcome outcome);

/*
 * Builds the reply to `rq` into `out` and returns its length, or 0 for no
 * reply; `outcome` says which. The request's authentication is judged by
 * `auth`'s strategies, then auth_none (`auth` may be NULL: auth_none alone),
 * and the judging strategy seals the reply. The transmit timestamp is set to
 * rq->rx; the shell overwrites it just before sending.
 */
size_t resp_answer(const struct resp_state *state, const struct auth_set *auth,
                   const struct resp_request *rq, uint8_t *out, size_t out_cap,
                   enum resp_outcome *outcome);

/* resp_answer for `req` received at `rx_ts`, with auth_none alone (the simulator's server). */
size_t resp_build(const struct resp_state *state, const uint8_t *req, size_t req_len, ntp_ts rx_ts,
                  enum resp_kod kod, uint8_t *out, size_t out_cap, enum resp_outcome *outcome);

/*
 * Whether a reply of this length carries authentication (a MAC, NTS fields)
 * that covers its transmit timestamp, which the shell must then leave as the
 * responder wrote it (the receive time): a crypto-NAK alone covers nothing.
 */
static inline bool resp_transmit_sealed(size_t reply_len)
{
    return reply_len > NTP_HEADER_LEN + AUTH_CRYPTO_NAK_LEN;
}

/* Root dispersion to announce at `now`: the stored value grown by PHI since the reference time. */
double resp_root_dispersion_at(const struct resp_state *state, ntp_ts now);

#endif

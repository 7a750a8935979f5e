/*
 * source: the client side of NTP for one upstream server (RFC 5905 §8, §13),
 * sans-IO. Inputs in (timer due, reply bytes, local timestamps, randomness),
 * actions out (request bytes to send, a sample, a verdict, when to poll next).
 *
 * Owns: building mode-3 requests whose transmit timestamp is a random nonce
 * (the real send time T1 stays inside, so requests reveal nothing of our
 * clock: chrony's and draft-ietf-ntp-data-minimization's practice), checking
 * replies against the RFC 5905 §8 tests, Kiss-o'-Death handling, the offset
 * and delay arithmetic, the reach register and the poll schedule (iburst,
 * unreachable back-off, rate-limit back-off). It knows no sockets, address,
 * clock or filter: the shell sends, timestamps and passes samples on.
 *
 * Use from the shell, per upstream address:
 *   src_init(&s, &params);
 *   loop: if (src_time_to_poll(&s, now) <= 0) {
 *             n = src_build_request(&s, now, random64, buf, sizeof buf);
 *             if (n) send(buf, n);  then, with a kernel TX timestamp, src_set_tx_time(&s, t1);
 *         }
 *         on a datagram from that address/port:
 *             v = src_handle_reply(&s, buf, len, rx_time, &sample);
 *             SRC_SAMPLE -> filter(sample); SRC_KOD_DENY/RSTR -> drop the source;
 *         sleep at most src_time_to_poll() seconds.
 * All times are local clock readings as NTP timestamps (ntp_from_unix of
 * CLOCK_REALTIME or of the kernel's packet timestamps).
 *
 * Interleaved mode (RFC 9769 §2, `xleave`): once a server has answered, each
 * request carries as its origin the server's receive timestamp of that last
 * answer, and as its receive field a second random nonce. A server that
 * knows when its last answer really left replies interleaved: origin = that
 * nonce, transmit = the departure of its previous reply, which with our T1
 * and T4 of the previous exchange and its T2 gives a sample free of the
 * server's transmit-timestamp error; any other reply is judged as basic. So
 * a server without interleaved mode, or one that lost our last exchange,
 * simply gets basic samples taken; the first interleaved reply after a basic
 * one measures an exchange already sampled and gives no second sample.
 */
#ifndef HORLOGE_SOURCE_H
#define HORLOGE_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ntp.h"
#include "core/ntptime.h"
#include "core/sample.h"

#define SRC_REQUEST_LEN 48
/* iburst: this many requests SRC_BURST_INTERVAL seconds apart (ntpd's and DISCIPLINE.md's 8). */
#define SRC_BURST_COUNT 8
#define SRC_BURST_INTERVAL 2.0
/* Polls without a valid reply before a source counts as unreachable (the 8-bit reach register). */
#define SRC_UNREACH_MISSES 8
/* An unreachable source polls no slower than 2^8 s (if its maxpoll allows) to notice a return. */
#define SRC_UNREACH_POLL 8
/* Poll exponents accepted (chrony's range at the low end: sub-second polls for LANs and tests). */
#define SRC_POLL_MIN (-6)
#define SRC_POLL_MAX 17
#define SRC_DEFAULT_MAXDISTANCE NTP_DEFAULT_MAXDISTANCE
#define SRC_DEFAULT_MAXDELAY 3.0
#define SRC_DEFAULT_PRECISION (-20)
/* What src_time_to_poll returns for a demobilised source: a year, finite so it converts safely. */
#define SRC_NEVER 31536000.0

struct src_params {
    int minpoll;          /* log2 s, clamped to [SRC_POLL_MIN, SRC_POLL_MAX] */
    int maxpoll;          /* log2 s, raised to minpoll if below */
    bool iburst;
    bool prefer;          /* kept for selection; the source itself ignores it */
    double maxdistance;   /* reject replies whose root distance exceeds this (s); 0 = default */
    double maxdelay;      /* reject round-trip delays above this (s); 0 = default */
    int8_t precision;     /* log2 s of the local clock; 0 = SRC_DEFAULT_PRECISION */
    uint32_t refid;       /* the refid we announce while synchronised to this server (the shell
                             computes it from the address: IPv4 bytes, or MD5 of IPv6) */
    uint32_t local_refid; /* refid form of our own address as this server sees it; a stratum > 1
                             reply naming it is a timing loop (chrony's test 7); 0 = no check */
    ntp_ts epoch;         /* samples' local_time = (T4 - epoch) in seconds */
    bool xleave;          /* ask for interleaved mode (RFC 9769) */
};

/*
 * The verdict on one received datagram, in the order the tests run. Each is
 * counted in the source. Only SRC_SAMPLE fills the sample and sets reach.
 */
enum src_verdict {
    SRC_SAMPLE = 0,
    SRC_DROP_MALFORMED,    /* short, long, bad extension fields or trailer (pkt_decode) */
    SRC_DROP_VERSION,      /* version other than 4 or 3 */
    SRC_DROP_MODE,         /* mode other than 4 (server) */
    SRC_DROP_DUPLICATE,    /* RFC 5905 test 1: transmit equals the last accepted reply's */
    SRC_DROP_UNEXPECTED,   /* no request outstanding: never sent, already answered, demobilised */
    SRC_DROP_STALE,        /* answers the previous request, superseded by a newer one */
    SRC_DROP_BOGUS,        /* RFC 5905 test 2: origin is not our request's transmit nonce */
    SRC_KOD_RATE,          /* Kiss-o'-Death RATE: poll backed off */
    SRC_KOD_DENY,          /* Kiss-o'-Death DENY: source demobilised, stop using it */
    SRC_KOD_RSTR,          /* Kiss-o'-Death RSTR: likewise */
    SRC_DROP_UNSYNC,       /* LI=3, stratum >= 16, or stratum 0 with an unknown kiss code */
    SRC_DROP_ZERO_TIME,    /* RFC 5905 test 3: receive or transmit timestamp zero */
    SRC_DROP_LOOP,         /* the server is synchronised to us (refid == local_refid) */
    SRC_DROP_DELAY,        /* negative beyond clock precision, or above maxdelay */
    SRC_DROP_DISTANCE,     /* root distance above maxdistance */
    SRC_DROP_AUTH,         /* the association's authenticator refused it (counted by src_count_refused) */
    SRC_XLEAVE_REPEAT,     /* interleaved, for an exchange a basic reply already gave a sample of */
    SRC_VERDICT_COUNT
};

/* The caller owns this (no allocation); fields are private: read them through the accessors. */
struct source {
    struct src_params p;
    int poll;              /* current poll exponent, within [poll_floor, maxpoll] */
    int poll_floor;        /* minpoll, raised by RATE kisses */
    int unreach_poll;      /* poll exponent while unreachable */
    uint8_t reach;         /* RFC 5905 reach register: bit 0 = latest poll answered */
    unsigned missed;       /* consecutive polls without a sample (saturates at 255) */
    unsigned burst_left;   /* iburst requests still to send after the current one */
    bool demobilised;
    bool sent_any;
    bool outstanding;      /* the latest request awaits its reply */
    ntp_ts next_tx;        /* when the next request is due */
    ntp_ts last_tx;        /* local time the latest request was built */
    ntp_ts t1;             /* its real send time (T1) */
    uint64_t nonce;        /* its transmit field */
    uint64_t prev_nonce;   /* the request before it */
    ntp_ts last_rx_xmt;    /* transmit timestamp of the last authentic reply (test 1) */
    uint64_t rx_nonce;     /* receive field of the latest request if interleaved, else 0 */
    uint64_t prev_rx_nonce;
    struct src_exchange {  /* the last exchange a time reply answered (interleaved mode) */
        bool valid;
        bool sampled;      /* a basic reply gave its sample already */
        ntp_ts t1, t2, t4;
    } prev;
    bool last_interleaved; /* the last sample came from an interleaved reply */
    uint64_t n_interleaved;/* samples from interleaved replies */
    uint64_t n_sent;
    uint64_t counts[SRC_VERDICT_COUNT];
};

void src_init(struct source *s, const struct src_params *params);

/* Seconds until the next request is due (<= 0: now). SRC_NEVER once demobilised. */
double src_time_to_poll(const struct source *s, ntp_ts now);

/*
 * Builds the next request into buf (cap >= SRC_REQUEST_LEN) and schedules the
 * one after; returns its length, or 0 when demobilised or cap is too small.
 * `random64` (from a CSPRNG) becomes the transmit field; the reply must echo
 * it. `now` is taken as T1 until src_set_tx_time says better. A request that
 * was still unanswered counts as a missed poll.
 */
size_t src_build_request(struct source *s, ntp_ts now, uint64_t random64, uint8_t *buf, size_t cap);

/* Corrects T1 of the outstanding request (a kernel or a late software TX timestamp). */
void src_set_tx_time(struct source *s, ntp_ts t1);

/* Judges a datagram from the server received at local time `rx`; fills *out on SRC_SAMPLE. */
enum src_verdict src_handle_reply(struct source *s, const uint8_t *buf, size_t len, ntp_ts rx,
                                  struct ntp_sample *out);

/* The discipline's wanted poll exponent, clamped to [minpoll (or a RATE floor), maxpoll]. */
void src_set_poll(struct source *s, int poll);

/* A reload's new `maxdistance` for the replies still to come (s; 0 = the default). */
void src_set_maxdistance(struct source *s, double maxdistance);

/* Counts a datagram refused before the source judged it (its authentication failed). */
void src_count_refused(struct source *s, enum src_verdict v);

const char *src_verdict_name(enum src_verdict v);
int src_poll(const struct source *s);           /* exponent of the interval in use now */
uint8_t src_reach(const struct source *s);
bool src_is_reachable(const struct source *s);   /* a sample within the last 8 polls */
bool src_is_demobilised(const struct source *s);
bool src_in_burst(const struct source *s);
uint64_t src_count(const struct source *s, enum src_verdict v);
uint64_t src_sent(const struct source *s);
bool src_last_interleaved(const struct source *s);
uint64_t src_interleaved_samples(const struct source *s);

#endif

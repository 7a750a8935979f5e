/*
 * ntpload: NTP client-mode load generator for the serving benchmark (bench/serve.sh), loopback only.
 *
 * Owns: the benchmark's client side. It sends 48-byte NTPv4 mode-3 requests from S connected UDP
 * sockets, either open loop (-r: a fixed total request rate, to measure a server's CPU per reply)
 * or closed loop (-w: W requests outstanding per socket, to find its highest rate), for a warm-up
 * and then a measured window, and drains the last replies for one timeout. It stops by itself:
 * after the window, after -n requests, or on SIGINT/SIGTERM.
 *
 * Every request's transmit timestamp is a nonce (the current NTP second, random bits and the
 * request's slot in its socket's ring); a reply is valid only when it is at least 48 bytes and no
 * longer than the request, VN 4 mode 4, echoes a pending nonce as its origin, has a sane stratum
 * and leap indicator and non-zero receive and transmit timestamps. Invalid replies are counted by
 * reason; a request unanswered after -T ms is lost. Latency is from just before the sendmmsg()
 * that carried a request to just after the recvmmsg() that returned its reply (CLOCK_MONOTONIC).
 *
 * With -N PORT it loads NTS (RFC 8915) instead: an NTS-KE handshake with the target on that TCP
 * port at start (certificate checked against -A FILE, or the system store) gives the keys and a
 * cookie, and every request then carries a fresh Unique Identifier, that cookie and an
 * Authenticator sealed under the C2S key, so the server opens a cookie, checks a request and
 * seals a reply with a new cookie for each. Replies are judged as above, against that length.
 * With -x each socket is an interleaved-mode client (RFC 9769) from an address of its own
 * (127.0.1.N, servers keep interleaved state per address): its requests carry as origin the
 * receive timestamp of the last reply it got and as receive field its nonce with the high bits
 * flipped, which an interleaved reply echoes as its origin; the replies of each kind are counted
 * (`interleaved=`). Use a window of 1 (a client waits for its reply), many sockets for load.
 *
 * The last line printed is `key=value` pairs for scripts; the exit status is 0 when at least one
 * valid reply came back, 1 when none did, 2 on a usage error.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* recvmmsg, sendmmsg, ppoll */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/nts.h"
#include "io/nts_crypto.h"
#include "io/nts_ke_client.h"

#define NTP_HEADER_LEN 48
#define REQUEST_MAX 512
#define NTP_UNIX_EPOCH_DIFF 2208988800u
#define MAX_SOCKETS 64
#define MAX_BATCH 256
#define RECV_BUF_LEN 2048 /* room to see (and reject) replies longer than our request */
#define RING_MIN_BITS 10
#define RING_MAX_BITS 20
#define NSEC_PER_SEC 1000000000ull
/* -x: the request's receive field is its nonce with these bits flipped (the ring slot stays). */
#define XLEAVE_MARK 0xa5a5a5a500000000ull

/* Latency histogram: exact below 128 ns, then 64 buckets per power of two (under 1.6 % error). */
#define HIST_SUB_BITS 7
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_HALF (HIST_SUB / 2)
#define HIST_BUCKETS ((64 - HIST_SUB_BITS + 2) * HIST_HALF)

static volatile sig_atomic_t stop_requested;

struct options {
    const char *target;
    int port;
    double duration_s, warmup_s, timeout_ms;
    int sockets, window, batch;
    double rate; /* > 0: open loop */
    uint64_t max_requests;
    int accept_unsync, want_stratum, quiet, xleave;
    int nts_port;       /* > 0: NTS requests, keys from an NTS-KE handshake on this port */
    const char *nts_ca; /* the CA file the server's certificate is checked against ("" system store) */
};

/* What every NTS request is built from: the session's C2S key and one cookie, used again and again. */
struct nts_load {
    struct nts_session_keys keys;
    uint8_t cookie[NTS_COOKIE_MAX_LEN];
    size_t cookie_len;
};

/* Why a reply was not counted valid; REPLY_VALID first. */
enum verdict {
    REPLY_VALID,
    REPLY_SHORT,
    REPLY_LONGER,
    REPLY_MODE,
    REPLY_ORIGIN,
    REPLY_LATE,
    REPLY_KOD,
    REPLY_UNSYNC,
    REPLY_STRATUM,
    REPLY_ZERO_TS,
    VERDICT_COUNT
};

static const char *const verdict_names[VERDICT_COUNT] = {
    "valid", "short", "longer than request", "mode/version", "origin mismatch",
    "late/duplicate", "kiss-o'-death", "unsynchronised", "stratum", "zero timestamps",
};

struct pending {
    uint64_t nonce;   /* kept after release, so a late reply is told from a bogus one */
    uint64_t sent_ns; /* 0: not outstanding */
};

/* One connected socket and its requests, oldest (tail) to newest (head). */
struct flow {
    int fd;
    unsigned ring_bits;
    struct pending *ring;
    uint64_t head, tail, outstanding;
    uint64_t last_rx; /* -x: the receive timestamp of the last valid reply */
};

struct histogram {
    uint64_t count[HIST_BUCKETS];
    uint64_t n, max_ns;
};

struct tally {
    uint64_t sent, measured_sent, lost, send_errors, max_deficit;
    uint64_t replies[VERDICT_COUNT];
    uint64_t measured_valid;
    uint64_t interleaved; /* valid replies in interleaved mode */
    struct histogram latency;
};

/* The phases of a run, CLOCK_MONOTONIC ns. */
struct schedule {
    uint64_t start, measure, stop, drain_until;
    uint64_t issued; /* open loop: requests due and handled so far */
    int next_flow;   /* open loop: the socket the next batch goes out on */
    int draining;
};

struct io_batch {
    const struct nts_load *nts; /* NULL: plain requests */
    size_t request_len;
    unsigned char out[MAX_BATCH][REQUEST_MAX];
    unsigned char in[MAX_BATCH][RECV_BUF_LEN];
    struct iovec out_iov[MAX_BATCH], in_iov[MAX_BATCH];
    struct mmsghdr out_msg[MAX_BATCH], in_msg[MAX_BATCH];
};

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static uint64_t read_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void write_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

/* xorshift64*: the nonces' random bits need to be unpredictable to a stale reply, not secure. */
static uint64_t next_random(uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 0x2545F4914F6CDD1Dull;
}

/* ---------------------------------------------------------------- histogram */

static unsigned hist_bucket(uint64_t ns)
{
    if (ns < HIST_SUB)
        return (unsigned)ns;
    unsigned shift = (unsigned)(63 - __builtin_clzll(ns)) - (HIST_SUB_BITS - 1);
    return shift * HIST_HALF + (unsigned)(ns >> shift);
}

static double hist_bucket_mid_us(unsigned bucket)
{
    if (bucket < HIST_SUB)
        return bucket / 1e3;
    unsigned shift = bucket / HIST_HALF - 1;
    uint64_t low = (uint64_t)(bucket - shift * HIST_HALF) << shift;
    return ((double)low + (double)((uint64_t)1 << shift) / 2) / 1e3;
}

static void hist_add(struct histogram *h, uint64_t ns)
{
    h->count[hist_bucket(ns)]++;
    h->n++;
    if (ns > h->max_ns)
        h->max_ns = ns;
}

/* The latency at quantile q (0..1) in µs, the first bucket reaching rank ceil(q n); -1 when empty. */
static double hist_quantile_us(const struct histogram *h, double q)
{
    if (!h->n)
        return -1;
    uint64_t rank = (uint64_t)(q * (double)h->n);
    if ((double)rank < q * (double)h->n || rank == 0)
        rank++;
    uint64_t seen = 0;
    for (unsigned b = 0; b < HIST_BUCKETS; b++) {
        seen += h->count[b];
        if (seen >= rank)
            return hist_bucket_mid_us(b);
    }
    return (double)h->max_ns / 1e3;
}

/* ---------------------------------------------------------------- options */

static void usage(void)
{
    fprintf(stderr,
            "usage: ntpload [-s ADDR] [-p PORT] [-d SEC] [-u SEC] [-c SOCKETS] (-w WINDOW | -r RATE)\n"
            "               [-b BATCH] [-T MS] [-n COUNT] [-U] [-S STRATUM] [-x] [-q] [-N PORT [-A CAFILE]]\n"
            "  -s ADDR    target, in 127.0.0.0/8 or ::1 (default 127.0.0.1)\n"
            "  -p PORT    target UDP port (default 123)\n"
            "  -d SEC     measured window, 0.1..60 s (default 5)\n"
            "  -u SEC     warm-up before it, 0..10 s (default 0.5)\n"
            "  -c N       client sockets, 1..%d (default 1)\n"
            "  -w W       closed loop: W requests outstanding per socket (default 1)\n"
            "  -r RATE    open loop: total requests per second (overrides -w)\n"
            "  -b BATCH   requests per sendmmsg/recvmmsg, 1..%d (default 64)\n"
            "  -T MS      a request unanswered after MS ms is lost, 1..5000 (default 200)\n"
            "  -n COUNT   send at most COUNT requests (default 100000000)\n"
            "  -U         count unsynchronised replies (LI 3 or stratum 16) as valid\n"
            "  -S N       count only replies of stratum N as valid\n"
            "  -x         interleaved-mode clients (RFC 9769), one address each (IPv4 only)\n"
            "  -q         print only the final key=value line\n"
            "  -N PORT    NTS requests, keys and cookie from an NTS-KE handshake on TCP PORT\n"
            "  -A FILE    CA certificates the NTS-KE server is checked against (default: system store)\n",
            MAX_SOCKETS, MAX_BATCH);
    exit(2);
}

static double parse_number(const char *text, char option, double min, double max)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !(v >= min && v <= max)) {
        fprintf(stderr, "ntpload: -%c %s: not a number in [%g, %g]\n", option, text, min, max);
        exit(2);
    }
    return v;
}

static struct options parse_options(int argc, char **argv)
{
    struct options o = {
        .target = "127.0.0.1", .port = 123, .duration_s = 5, .warmup_s = 0.5, .timeout_ms = 200,
        .sockets = 1, .window = 1, .batch = 64, .max_requests = 100000000, .want_stratum = -1, .nts_ca = "",
    };
    int c;
    while ((c = getopt(argc, argv, "s:p:d:u:c:w:r:b:T:n:US:xqN:A:h")) != -1) {
        switch (c) {
        case 's': o.target = optarg; break;
        case 'p': o.port = (int)parse_number(optarg, 'p', 1, 65535); break;
        case 'd': o.duration_s = parse_number(optarg, 'd', 0.1, 60); break;
        case 'u': o.warmup_s = parse_number(optarg, 'u', 0, 10); break;
        case 'c': o.sockets = (int)parse_number(optarg, 'c', 1, MAX_SOCKETS); break;
        case 'w': o.window = (int)parse_number(optarg, 'w', 1, 1 << 16); break;
        case 'r': o.rate = parse_number(optarg, 'r', 1, 1e7); break;
        case 'b': o.batch = (int)parse_number(optarg, 'b', 1, MAX_BATCH); break;
        case 'T': o.timeout_ms = parse_number(optarg, 'T', 1, 5000); break;
        case 'n': o.max_requests = (uint64_t)parse_number(optarg, 'n', 1, 1e10); break;
        case 'U': o.accept_unsync = 1; break;
        case 'S': o.want_stratum = (int)parse_number(optarg, 'S', 0, 16); break;
        case 'x': o.xleave = 1; break;
        case 'q': o.quiet = 1; break;
        case 'N': o.nts_port = (int)parse_number(optarg, 'N', 1, 65535); break;
        case 'A': o.nts_ca = optarg; break;
        default: usage();
        }
    }
    if (optind != argc)
        usage();
    if (o.xleave && strchr(o.target, ':')) {
        fprintf(stderr, "ntpload: -x needs an IPv4 target (its clients take 127.0.1.N each)\n");
        exit(2);
    }
    return o;
}

/* The target as a socket address, refusing anything but loopback: this tool floods what it aims at. */
static socklen_t loopback_target(const struct options *o, struct sockaddr_storage *ss)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    memset(ss, 0, sizeof *ss);
    if (inet_pton(AF_INET, o->target, &v4->sin_addr) == 1) {
        if ((ntohl(v4->sin_addr.s_addr) >> 24) == 127) {
            v4->sin_family = AF_INET;
            v4->sin_port = htons((uint16_t)o->port);
            return sizeof *v4;
        }
    } else if (inet_pton(AF_INET6, o->target, &v6->sin6_addr) == 1) {
        if (IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr)) {
            v6->sin6_family = AF_INET6;
            v6->sin6_port = htons((uint16_t)o->port);
            return sizeof *v6;
        }
    } else {
        fprintf(stderr, "ntpload: -s %s: not an IPv4 or IPv6 address\n", o->target);
        exit(2);
    }
    fprintf(stderr, "ntpload: refusing target %s: only loopback (127.0.0.0/8 or ::1) may be loaded\n",
            o->target);
    exit(2);
}

/* ---------------------------------------------------------------- sockets */

/* Ring entries per socket: every request that can be outstanding within one timeout, twice over. */
static unsigned ring_bits_for(const struct options *o)
{
    double per_socket = o->rate > 0 ? o->rate * o->timeout_ms / 1e3 / o->sockets : o->window;
    unsigned bits = RING_MIN_BITS;
    while (bits < RING_MAX_BITS && (double)(1u << bits) < 2 * per_socket + MAX_BATCH)
        bits++;
    return bits;
}

static void grow_buffer(int fd, int option, int forced_option)
{
    int size = 8 << 20;
    /* The FORCE variant passes rmem_max/wmem_max as root; elsewhere the plain one is capped. */
    if (setsockopt(fd, SOL_SOCKET, forced_option, &size, sizeof size) != 0)
        (void)setsockopt(fd, SOL_SOCKET, option, &size, sizeof size);
}

/* -x: flow `index` sends from 127.0.1.(index + 1), a client of its own to the server. */
static int bind_client_address(int fd, int index)
{
    struct sockaddr_in me = {.sin_family = AF_INET};
    me.sin_addr.s_addr = htonl(0x7f000100u + (uint32_t)index + 1);
    if (bind(fd, (const struct sockaddr *)&me, sizeof me) == 0)
        return 0;
    perror("ntpload: bind");
    return -1;
}

static int open_flow(struct flow *f, const struct sockaddr_storage *dst, socklen_t dst_len,
                     unsigned ring_bits, int xleave_index)
{
    f->fd = socket(dst->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (f->fd < 0) {
        perror("ntpload: socket");
        return -1;
    }
    grow_buffer(f->fd, SO_RCVBUF, SO_RCVBUFFORCE);
    grow_buffer(f->fd, SO_SNDBUF, SO_SNDBUFFORCE);
    if (xleave_index >= 0 && bind_client_address(f->fd, xleave_index) != 0)
        return -1;
    /* connect() picks a loopback source address for a loopback target and filters other senders. */
    if (connect(f->fd, (const struct sockaddr *)dst, dst_len) != 0) {
        perror("ntpload: connect");
        return -1;
    }
    f->ring_bits = ring_bits;
    f->ring = calloc((size_t)1 << ring_bits, sizeof *f->ring);
    if (!f->ring) {
        perror("ntpload: calloc");
        return -1;
    }
    return 0;
}

static void init_io_batch(struct io_batch *io)
{
    for (int i = 0; i < MAX_BATCH; i++) {
        io->out_iov[i] = (struct iovec){.iov_base = io->out[i], .iov_len = io->request_len};
        io->out_msg[i].msg_hdr = (struct msghdr){.msg_iov = &io->out_iov[i], .msg_iovlen = 1};
        io->in_iov[i] = (struct iovec){.iov_base = io->in[i], .iov_len = RECV_BUF_LEN};
        io->in_msg[i].msg_hdr = (struct msghdr){.msg_iov = &io->in_iov[i], .msg_iovlen = 1};
    }
}

/* ---------------------------------------------------------------- replies */

static struct pending *slot_of(struct flow *f, uint64_t nonce)
{
    return &f->ring[nonce & (((uint64_t)1 << f->ring_bits) - 1)];
}

/* Classifies one reply and releases the request it answers, if any. */
static enum verdict judge_reply(const struct options *o, struct flow *f, const unsigned char *r,
                                size_t len, size_t request_len, uint64_t *sent_ns, int *interleaved)
{
    if (len < NTP_HEADER_LEN)
        return REPLY_SHORT;
    uint64_t origin = read_be64(r + 24);
    struct pending *p = slot_of(f, origin);
    /* An interleaved reply echoes the request's receive field, a basic one its transmit. */
    *interleaved = o->xleave && origin != 0 && p->nonce == (origin ^ XLEAVE_MARK);
    if ((p->nonce != origin || origin == 0) && !*interleaved)
        return REPLY_ORIGIN;
    if (!p->sent_ns)
        return REPLY_LATE;
    *sent_ns = p->sent_ns;
    p->sent_ns = 0; /* answered, valid or not */
    f->outstanding--;
    unsigned leap = r[0] >> 6, version = (r[0] >> 3) & 7, mode = r[0] & 7, stratum = r[1];
    if (len > request_len)
        return REPLY_LONGER; /* a server must never amplify */
    if (mode != 4 || version != 4)
        return REPLY_MODE;
    int unsync = leap == 3 || stratum >= 16; /* an unsynchronised server may send stratum 0 too */
    if (unsync && !o->accept_unsync)
        return REPLY_UNSYNC;
    if (stratum == 0 && !unsync)
        return REPLY_KOD;
    if (o->want_stratum >= 0 && stratum != (unsigned)o->want_stratum)
        return REPLY_STRATUM;
    if (!read_be64(r + 32) || !read_be64(r + 40))
        return REPLY_ZERO_TS;
    return REPLY_VALID;
}

static void receive_flow(const struct options *o, struct flow *f, struct io_batch *io,
                         const struct schedule *s, struct tally *t)
{
    for (;;) {
        int n = recvmmsg(f->fd, io->in_msg, (unsigned)o->batch, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return; /* EAGAIN, or ECONNREFUSED while nothing listens: the requests will be lost */
        uint64_t now = monotonic_ns();
        for (int i = 0; i < n; i++) {
            uint64_t sent_ns = 0;
            int interleaved = 0;
            enum verdict v = judge_reply(o, f, io->in[i], io->in_msg[i].msg_len, io->request_len, &sent_ns,
                                         &interleaved);
            t->replies[v]++;
            if (v == REPLY_VALID) {
                f->last_rx = read_be64(io->in[i] + 32);
                t->interleaved += (uint64_t)interleaved;
            }
            if (v == REPLY_VALID && now >= s->measure && now < s->stop) {
                t->measured_valid++;
                hist_add(&t->latency, now - sent_ns);
            }
        }
        if (n < o->batch)
            return;
    }
}

/* Counts as lost every request older than the timeout, oldest first. */
static void expire_flow(struct flow *f, uint64_t now, uint64_t timeout_ns, struct tally *t)
{
    for (; f->tail < f->head; f->tail++) {
        struct pending *p = &f->ring[f->tail & (((uint64_t)1 << f->ring_bits) - 1)];
        if (p->sent_ns && now - p->sent_ns < timeout_ns)
            return;
        if (p->sent_ns) {
            p->sent_ns = 0;
            f->outstanding--;
            t->lost++;
        }
    }
}

/* ---------------------------------------------------------------- requests */

/* Makes room for `want` new requests: a full ring gives up its oldest ones as lost. */
static void make_room(struct flow *f, int want, struct tally *t)
{
    uint64_t size = (uint64_t)1 << f->ring_bits;
    while (f->head + (uint64_t)want - f->tail > size) {
        struct pending *p = &f->ring[f->tail & (size - 1)];
        if (p->sent_ns) {
            p->sent_ns = 0;
            f->outstanding--;
            t->lost++;
        }
        f->tail++;
    }
}

static uint64_t make_nonce(struct flow *f, uint64_t seq, uint64_t ntp_seconds, uint64_t *rng)
{
    uint64_t mask = ((uint64_t)1 << f->ring_bits) - 1;
    uint64_t fraction = (next_random(rng) & 0xffffffffu & ~mask) | (seq & mask);
    return ntp_seconds << 32 | fraction;
}

/* UID, the cookie, an Authenticator over all before it (RFC 8915 §5.6); the request's length. */
static size_t nts_extend(const struct nts_load *nts, unsigned char *p, uint64_t *rng)
{
    uint8_t uid[32], nonce[NTS_NONCE_LEN];
    for (size_t i = 0; i < sizeof uid; i += 8)
        write_be64(uid + i, next_random(rng));
    write_be64(nonce, next_random(rng));
    write_be64(nonce + 8, next_random(rng));
    size_t pos = NTP_HEADER_LEN;
    struct nts_fields f;
    if (!nts_ef_put(p, REQUEST_MAX, &pos, NTS_EF_UID, uid, sizeof uid) ||
        !nts_ef_put(p, REQUEST_MAX, &pos, NTS_EF_COOKIE, nts->cookie, nts->cookie_len) ||
        !nts_auth_put(p, REQUEST_MAX, &pos, nonce, sizeof nonce, NTS_TAG_LEN, &f) ||
        !nts_aead_seal(nts->keys.c2s, nonce, sizeof nonce, p, f.auth_off, NULL, 0, p + f.sealed_off))
        return 0;
    return pos;
}

static void fill_requests(const struct options *o, struct flow *f, struct io_batch *io, int count,
                          uint64_t *rng)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t seconds = ((uint64_t)now.tv_sec + NTP_UNIX_EPOCH_DIFF) & 0xffffffffu;
    for (int i = 0; i < count; i++) {
        unsigned char *p = io->out[i];
        memset(p, 0, NTP_HEADER_LEN);
        p[0] = 0 << 6 | 4 << 3 | 3; /* LI 0, VN 4, client */
        p[2] = 6;                   /* poll 64 s */
        p[3] = (unsigned char)-20;  /* precision ~1 µs */
        uint64_t nonce = make_nonce(f, f->head + (uint64_t)i, seconds, rng);
        write_be64(p + 40, nonce);
        if (o->xleave && f->last_rx) {
            write_be64(p + 24, f->last_rx);
            write_be64(p + 32, nonce ^ XLEAVE_MARK);
        }
        if (io->nts)
            nts_extend(io->nts, p, rng);
    }
}

/* Sends up to `count` requests on one flow; returns how many the kernel took. */
static int send_requests(const struct options *o, const struct schedule *s, struct flow *f,
                         struct io_batch *io, int count, uint64_t *rng, struct tally *t)
{
    make_room(f, count, t);
    fill_requests(o, f, io, count, rng);
    uint64_t now = monotonic_ns();
    int n = sendmmsg(f->fd, io->out_msg, (unsigned)count, 0);
    if (n < 0)
        n = 0;
    t->send_errors += (uint64_t)(count - n);
    for (int i = 0; i < n; i++) {
        struct pending *p = slot_of(f, f->head);
        p->nonce = read_be64(io->out[i] + 40);
        p->sent_ns = now;
        f->head++;
    }
    f->outstanding += (uint64_t)n;
    t->sent += (uint64_t)n;
    if (now >= s->measure)
        t->measured_sent += (uint64_t)n;
    return n;
}

static int room_in_budget(const struct options *o, const struct tally *t, int want)
{
    uint64_t left = o->max_requests - (t->sent + t->send_errors);
    return (uint64_t)want < left ? want : (int)left;
}

/* Closed loop: tops every socket up to its window. Returns whether anything was sent. */
static int send_closed_loop(const struct options *o, const struct schedule *s, struct flow *flows,
                            struct io_batch *io, uint64_t *rng, struct tally *t)
{
    int progress = 0;
    for (int i = 0; i < o->sockets; i++) {
        struct flow *f = &flows[i];
        while (f->outstanding < (uint64_t)o->window) {
            int want = (int)((uint64_t)o->window - f->outstanding);
            want = room_in_budget(o, t, want < o->batch ? want : o->batch);
            if (want <= 0)
                break;
            int sent = send_requests(o, s, f, io, want, rng, t);
            progress |= sent > 0;
            if (sent < want)
                break;
        }
    }
    return progress;
}

/* Open loop: sends what the rate says is due by now, round-robin over the sockets; a request the
 * kernel refuses is counted and not retried, so the offered rate stays what was asked. */
static int send_open_loop(const struct options *o, struct schedule *s, struct flow *flows,
                          struct io_batch *io, uint64_t *rng, struct tally *t)
{
    uint64_t due = (uint64_t)((double)(monotonic_ns() - s->start) * o->rate / 1e9);
    if (due > s->issued && due - s->issued > t->max_deficit)
        t->max_deficit = due - s->issued;
    int progress = 0;
    while (s->issued < due) {
        uint64_t gap = due - s->issued;
        int want = room_in_budget(o, t, gap < (uint64_t)o->batch ? (int)gap : o->batch);
        if (want <= 0)
            break;
        progress |= send_requests(o, s, &flows[s->next_flow], io, want, rng, t) > 0;
        s->next_flow = (s->next_flow + 1) % o->sockets;
        s->issued += (uint64_t)want;
    }
    return progress;
}

/* ---------------------------------------------------------------- the run */

static uint64_t outstanding(const struct options *o, const struct flow *flows)
{
    uint64_t n = 0;
    for (int i = 0; i < o->sockets; i++)
        n += flows[i].outstanding;
    return n;
}

/* Starts the drain once the window is over, the request budget spent or a signal came. */
static void advance_phase(const struct options *o, struct schedule *s, const struct tally *t,
                          uint64_t now)
{
    if (s->draining)
        return;
    if (now >= s->stop || stop_requested || t->sent + t->send_errors >= o->max_requests) {
        s->draining = 1;
        s->drain_until = now + (uint64_t)(o->timeout_ms * 1e6);
    }
}

static void wait_for_work(const struct options *o, const struct schedule *s, const struct flow *flows)
{
    uint64_t now = monotonic_ns();
    uint64_t wake = now + 1000000; /* at most 1 ms, so lost requests expire on time */
    if (!s->draining && o->rate > 0) {
        uint64_t next_send = s->start + (uint64_t)((double)(s->issued + 1) * 1e9 / o->rate);
        wake = next_send < wake ? next_send : wake;
    }
    uint64_t end = s->draining ? s->drain_until : s->stop;
    wake = end < wake ? end : wake;
    if (wake <= now)
        return;
    struct pollfd fds[MAX_SOCKETS];
    for (int i = 0; i < o->sockets; i++)
        fds[i] = (struct pollfd){.fd = flows[i].fd, .events = POLLIN};
    struct timespec timeout = {.tv_sec = (time_t)((wake - now) / NSEC_PER_SEC),
                               .tv_nsec = (long)((wake - now) % NSEC_PER_SEC)};
    (void)ppoll(fds, (nfds_t)o->sockets, &timeout, NULL);
}

static void run(const struct options *o, struct flow *flows, struct io_batch *io, struct tally *t)
{
    uint64_t rng;
    if (getrandom(&rng, sizeof rng, 0) != (ssize_t)sizeof rng || rng == 0)
        rng = (monotonic_ns() ^ ((uint64_t)getpid() << 32)) | 1;
    const uint64_t timeout_ns = (uint64_t)(o->timeout_ms * 1e6);
    struct schedule s = {.start = monotonic_ns()};
    s.measure = s.start + (uint64_t)(o->warmup_s * 1e9);
    s.stop = s.measure + (uint64_t)(o->duration_s * 1e9);
    for (;;) {
        uint64_t now = monotonic_ns();
        advance_phase(o, &s, t, now);
        if (s.draining && (!outstanding(o, flows) || now >= s.drain_until))
            break;
        for (int i = 0; i < o->sockets; i++)
            receive_flow(o, &flows[i], io, &s, t);
        now = monotonic_ns();
        for (int i = 0; i < o->sockets; i++)
            expire_flow(&flows[i], now, timeout_ns, t);
        int progress = 0;
        if (!s.draining)
            progress = o->rate > 0 ? send_open_loop(o, &s, flows, io, &rng, t)
                                   : send_closed_loop(o, &s, flows, io, &rng, t);
        if (!progress)
            wait_for_work(o, &s, flows);
    }
    t->lost += outstanding(o, flows); /* unanswered when the drain ended */
}

/* ---------------------------------------------------------------- report */

static uint64_t invalid_count(const struct tally *t)
{
    uint64_t n = 0;
    for (int v = REPLY_VALID + 1; v < VERDICT_COUNT; v++)
        if (v != REPLY_LATE)
            n += t->replies[v];
    return n;
}

static void print_human(const struct options *o, const struct tally *t, double cpu_s, double wall_s)
{
    const struct histogram *h = &t->latency;
    printf("target %s port %d: %s loop, %s %g, %d socket(s), batch %d, warm-up %.2f s, "
           "measured %.2f s, timeout %g ms\n", o->target, o->port, o->rate > 0 ? "open" : "closed",
           o->rate > 0 ? "rate" : "window", o->rate > 0 ? o->rate : o->window, o->sockets,
           o->batch, o->warmup_s, o->duration_s, o->timeout_ms);
    printf("sent             %llu (measured window %llu, %.0f/s), send errors %llu\n",
           (unsigned long long)t->sent, (unsigned long long)t->measured_sent,
           (double)t->measured_sent / o->duration_s, (unsigned long long)t->send_errors);
    printf("valid replies    %llu (measured window %llu, %.0f/s), interleaved %llu\n",
           (unsigned long long)t->replies[REPLY_VALID], (unsigned long long)t->measured_valid,
           (double)t->measured_valid / o->duration_s, (unsigned long long)t->interleaved);
    printf("invalid replies  %llu:", (unsigned long long)invalid_count(t));
    for (int v = REPLY_VALID + 1; v < VERDICT_COUNT; v++)
        if (v != REPLY_LATE)
            printf(" %s %llu%s", verdict_names[v], (unsigned long long)t->replies[v],
                   v + 1 < VERDICT_COUNT ? "," : "\n");
    printf("lost             %llu, late/duplicate replies %llu\n", (unsigned long long)t->lost,
           (unsigned long long)t->replies[REPLY_LATE]);
    printf("latency us       p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  (n=%llu)\n",
           hist_quantile_us(h, 0.5), hist_quantile_us(h, 0.9), hist_quantile_us(h, 0.99),
           hist_quantile_us(h, 0.999), h->n ? (double)h->max_ns / 1e3 : -1,
           (unsigned long long)h->n);
    printf("generator cpu    %.2f s over %.2f s (%.0f%%)\n", cpu_s, wall_s, 100 * cpu_s / wall_s);
    if (o->rate > 0 && (double)t->max_deficit > o->rate / 100)
        printf("WARNING: the open-loop sender fell behind its rate by up to %llu requests\n",
               (unsigned long long)t->max_deficit);
}

static void print_summary(const struct options *o, const struct tally *t, double cpu_s, double wall_s)
{
    const struct histogram *h = &t->latency;
    printf("rate=%.0f p50_us=%.1f p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f sent=%llu "
           "valid=%llu invalid=%llu lost=%llu late=%llu mode=%s c=%d %s=%g d=%g gen_cpu=%.2f "
           "interleaved=%llu\n",
           (double)t->measured_valid / o->duration_s, hist_quantile_us(h, 0.5),
           hist_quantile_us(h, 0.9), hist_quantile_us(h, 0.99), hist_quantile_us(h, 0.999),
           h->n ? (double)h->max_ns / 1e3 : -1, (unsigned long long)t->sent,
           (unsigned long long)t->replies[REPLY_VALID], (unsigned long long)invalid_count(t),
           (unsigned long long)t->lost, (unsigned long long)t->replies[REPLY_LATE],
           o->rate > 0 ? "open" : "closed", o->sockets, o->rate > 0 ? "r" : "w",
           o->rate > 0 ? o->rate : o->window, o->duration_s, cpu_s / wall_s,
           (unsigned long long)t->interleaved);
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* One NTS-KE handshake: its C2S key and first cookie make every request. */
static int nts_start(const struct options *o, struct nts_load *nts, struct io_batch *io)
{
    static struct nts_ke_client ke;
    if (nts_ke_fetch(&ke, o->target, (uint16_t)o->nts_port, o->nts_ca, 5.0) != 0) {
        fprintf(stderr, "ntpload: NTS-KE with %s port %d: %s\n", o->target, o->nts_port, ke.error);
        return -1;
    }
    nts->keys = ke.keys;
    nts->cookie_len = ke.resp.cookie_len[0];
    memcpy(nts->cookie, ke.resp.cookies[0], nts->cookie_len);
    unsigned char probe[REQUEST_MAX] = {0};
    uint64_t rng = 1;
    io->nts = nts;
    io->request_len = nts_extend(nts, probe, &rng);
    if (!o->quiet)
        printf("NTS: keys and a %zu-byte cookie from NTS-KE port %d; requests of %zu bytes\n", nts->cookie_len,
               o->nts_port, io->request_len);
    return io->request_len ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct options o = parse_options(argc, argv);
    struct sockaddr_storage dst;
    socklen_t dst_len = loopback_target(&o, &dst);
    static struct flow flows[MAX_SOCKETS];
    static struct io_batch io;
    static struct tally tally;
    unsigned ring_bits = ring_bits_for(&o);
    for (int i = 0; i < o.sockets; i++)
        if (open_flow(&flows[i], &dst, dst_len, ring_bits, o.xleave ? i : -1) != 0)
            return 1;
    static struct nts_load nts;
    io.request_len = NTP_HEADER_LEN;
    if (o.nts_port && nts_start(&o, &nts, &io) != 0)
        return 1;
    init_io_batch(&io);
    struct sigaction sa = {.sa_handler = on_stop_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    uint64_t t0 = monotonic_ns();
    double cpu0 = cpu_seconds();
    run(&o, flows, &io, &tally);
    double wall_s = (double)(monotonic_ns() - t0) / 1e9, cpu_s = cpu_seconds() - cpu0;
    if (!o.quiet)
        print_human(&o, &tally, cpu_s, wall_s);
    print_summary(&o, &tally, cpu_s, wall_s);
    return tally.replies[REPLY_VALID] ? 0 : 1;
}

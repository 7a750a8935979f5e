/* server: UDP serving workers; see server.h. */
#include "io/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/packet.h"
#include "io/clock_linux.h"
#include "io/log.h"
#include "io/netutil.h"
#include "io/sockio.h"

#define BATCH 64
/* Room for SCM_TIMESTAMPING (three timespecs) and a little more. */
#define CONTROL_LEN 128
/* Replies to interleaved clients whose kernel transmit timestamp is awaited (a power of two). */
#define DEPARTURES 256

/* The settings workers use; replaced whole on publish/reload, tracked by a generation number. */
struct serving_settings {
    struct resp_state state;
    struct time_correction correction;
    bool corrected; /* correction is not zero */
    struct serve_policy policy;
    struct rl_params ratelimit;
};

struct batch {
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    struct sockaddr_storage addrs[BATCH];
    uint8_t bufs[BATCH][NTP_MAX_PACKET_LEN];
    uint8_t control[BATCH][CONTROL_LEN];
    struct mmsghdr out_msgs[BATCH];
    struct iovec out_iov[BATCH];
    uint8_t out_bufs[BATCH][NTP_MAX_PACKET_LEN];
    uint8_t out_control[BATCH][SOCKIO_TX_CONTROL_LEN];
    enum serve_tx out_tx[BATCH];
    struct net_addr out_client[BATCH];
    ntp_ts out_rx[BATCH];
    unsigned dirty; /* messages the last receive filled */
};

/*
 * A reply to an interleaved client, sent with a transmit timestamp asked for:
 * the kernel numbers those replies in order (SOF_TIMESTAMPING_OPT_ID), so the
 * number finds the client and the receive time the reply carried.
 */
struct departure {
    uint32_t key;
    struct net_addr client;
    ntp_ts rx;
};

struct worker {
    struct server *srv;
    unsigned index;
    int fd;                 /* its one socket; -1 before it is opened */
    pthread_t thread;
    bool thread_started;
    bool use_sendmmsg;
    bool tx_stamps;         /* the kernel gives transmit timestamps on this socket */
    /* Guards everything below; held for one batch at a time, so uncontended in practice. */
    pthread_mutex_t lock;
    unsigned seen_generation;
    struct serving_settings settings;
    struct rl_table *rl;
    void *rl_mem;
    struct server_counters counters;
    struct batch *batch;
    uint32_t next_key;      /* the kernel's number for the next stamped reply */
    unsigned awaited;       /* stamped replies sent since the error queue was last found empty */
    struct departure departures[DEPARTURES];
};

struct server {
    unsigned threads;       /* per listen address; 0: the sockets are served from the daemon's loop */
    unsigned n_workers;     /* one per socket: threads (at least 1) x the addresses that opened */
    unsigned clientlog_size;    /* entries in each worker's client table */
    struct worker *workers;
    struct loop *loop;      /* threads 0: where the sockets are registered */
    atomic_uint generation;
    atomic_bool stopping;
    struct ntpsignd *signer;     /* MS-SNTP replies go there (server_set_signer) */
    atomic_bool extended_logged; /* the first 120-byte MS-SNTP request has been logged */
    pthread_mutex_t settings_lock;
    struct serving_settings settings;
};

static void settings_from_config(struct serving_settings *s, const struct config *cfg)
{
    s->policy.acl = cfg->acl;
    s->policy.deny_kod = cfg->deny_kod;
    s->ratelimit = cfg->ratelimit;
}

static int open_socket(const struct net_addr *addr, uint16_t port, bool reuseport, bool blocking,
                       bool *tx_stamps)
{
    struct sockaddr_storage ss;
    socklen_t len = netaddr_to_sockaddr(addr, port, &ss);
    int family = addr->family == NET_IPV6 ? AF_INET6 : AF_INET;
    int fd = socket(family, SOCK_DGRAM, 0);
    if (fd < 0) {
        log_error("socket for %s: %s", netaddr_format_port(addr, port).text, strerror(errno));
        return -1;
    }
    int one = 1;
    /*
     * A serving thread's socket blocks, with no receive timeout: it is woken
     * for a stop by shutdown(), and a timeout would cost a kernel timer armed
     * and cancelled on every wait (measured ~80 ns a reply at 60k req/s).
     * A socket served from the loop (`threads 0`) is non-blocking.
     */
    if ((blocking ? fcntl(fd, F_SETFD, FD_CLOEXEC) : sockio_set_nonblocking(fd)) < 0)
        log_warn("fcntl on %s: %s", netaddr_format_port(addr, port).text, strerror(errno));
    if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0)
        log_warn("IPV6_V6ONLY: %s", strerror(errno));
    /* Only between our own workers: without it a second daemon on the same port fails to bind. */
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        log_warn("SO_REUSEPORT: %s", strerror(errno));
    /* SO_TIMESTAMPING, not SO_TIMESTAMPNS alone: see sockio.h. Transmit times only when asked. */
    int ts = sockio_enable_timestamps(fd, false, 0);
    if (ts < 0)
        log_warn("SO_TIMESTAMPING unavailable (%s): receive times read from the clock", strerror(errno));
    else if (ts > 0)
        log_info("no kernel transmit timestamps on %s (%s): interleaved clients answered in basic mode",
                 netaddr_format_port(addr, port).text, strerror(errno));
    *tx_stamps = ts == 0;
    if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
        log_error("cannot bind %s: %s", netaddr_format_port(addr, port).text, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static void batch_init(struct batch *b)
{
    for (unsigned i = 0; i < BATCH; i++) {
        b->iov[i].iov_base = b->bufs[i];
        b->iov[i].iov_len = sizeof b->bufs[i];
        struct msghdr *m = &b->msgs[i].msg_hdr;
        m->msg_name = &b->addrs[i];
        m->msg_namelen = sizeof b->addrs[i];
        m->msg_iov = &b->iov[i];
        m->msg_iovlen = 1;
        m->msg_control = b->control[i];
        m->msg_controllen = CONTROL_LEN;
        m->msg_flags = 0;
    }
    b->dirty = 0;
}

/* Frees what worker_init and the socket took (not the thread: it must have stopped). */
static void worker_release(struct worker *w)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    free(w->batch);
    free(w->rl_mem);
    w->batch = NULL;
    w->rl_mem = NULL;
    pthread_mutex_destroy(&w->lock);
}

static int worker_init(struct server *srv, struct worker *w, unsigned index, const struct config *cfg)
{
    w->srv = srv;
    w->index = index;
    w->fd = -1;
    w->use_sendmmsg = true;
    pthread_mutex_init(&w->lock, NULL);
    w->batch = calloc(1, sizeof *w->batch);
    if (w->batch)
        batch_init(w->batch);
    size_t bytes = rl_table_bytes(cfg->clientlog_size);
    w->rl_mem = calloc(1, bytes); /* zero pages: resident only as clients arrive */
    if (!w->batch || !w->rl_mem) {
        log_error("out of memory for worker %u", index);
        return -1;
    }
    w->rl = rl_table_init(w->rl_mem, bytes, cfg->clientlog_size, &cfg->ratelimit, sockio_random64());
    if (!w->rl) {
        log_error("bad client table size %u", cfg->clientlog_size);
        return -1;
    }
    return 0;
}

/*
 * `threads` workers on listen address `addr`, each with its own socket
 * (SO_REUSEPORT between them), appended to srv->workers. An IPv6 address
 * that cannot be opened at all (a host or simulator without IPv6) is a
 * warning, not a failure: returns 1 then, 0 when served, -1 on failure.
 */
static int open_address_workers(struct server *srv, const struct config *cfg, const struct net_addr *addr)
{
    unsigned per_address = srv->threads ? srv->threads : 1;
    for (unsigned t = 0; t < per_address; t++) {
        struct worker *w = &srv->workers[srv->n_workers++];
        if (worker_init(srv, w, srv->n_workers - 1, cfg) < 0)
            return -1;
        w->fd = open_socket(addr, cfg->port, per_address > 1, srv->threads > 0, &w->tx_stamps);
        if (w->fd >= 0)
            continue;
        if (t > 0 || addr->family != NET_IPV6)
            return -1;
        worker_release(w);
        srv->n_workers--;
        return 1;
    }
    return 0;
}

struct server *server_open(const struct config *cfg, const struct resp_state *initial)
{
    struct server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        log_error("out of memory");
        return NULL;
    }
    srv->threads = cfg->threads;
    srv->clientlog_size = cfg->clientlog_size;
    srv->workers = calloc((size_t)cfg->n_listen * (cfg->threads ? cfg->threads : 1), sizeof *srv->workers);
    pthread_mutex_init(&srv->settings_lock, NULL);
    serve_policy_init(&srv->settings.policy);
    settings_from_config(&srv->settings, cfg);
    srv->settings.state = *initial;
    atomic_store(&srv->generation, 1);
    if (!srv->workers) {
        log_error("out of memory");
        server_close(srv);
        return NULL;
    }
    for (unsigned i = 0; i < cfg->n_listen; i++) {
        if (open_address_workers(srv, cfg, &cfg->listen[i]) < 0) {
            server_close(srv);
            return NULL;
        }
    }
    if (srv->n_workers == 0) {
        log_error("no address to serve on");
        server_close(srv);
        return NULL;
    }
    return srv;
}

/* Called with w->lock held, once per batch: a relaxed generation check, a copy only on change. */
static void worker_refresh_settings(struct worker *w)
{
    unsigned gen = atomic_load_explicit(&w->srv->generation, memory_order_acquire);
    if (gen == w->seen_generation)
        return;
    pthread_mutex_lock(&w->srv->settings_lock);
    bool rl_changed = memcmp(&w->settings.ratelimit, &w->srv->settings.ratelimit,
                             sizeof w->settings.ratelimit) != 0;
    w->settings = w->srv->settings;
    w->seen_generation = atomic_load(&w->srv->generation);
    pthread_mutex_unlock(&w->srv->settings_lock);
    if (rl_changed)
        rl_set_params(w->rl, &w->settings.ratelimit);
}

/* Raw clock reading -> the time we serve (see struct time_correction). */
static ntp_ts corrected(const struct serving_settings *s, ntp_ts raw)
{
    if (!s->corrected)
        return raw;
    const struct time_correction *c = &s->correction;
    double since = ntp_diff_sec(raw, ntp_from_unix(c->since));
    ntp_ts t = ntp_add_sec(raw, c->offset + c->ppm * 1e-6 * since);
    if (c->smear.leap_at == 0)
        return t;
    struct unix_time u = ntp_to_unix(t, c->smear.leap_at);
    double now = (double)u.sec + u.nsec * 1e-9;
    bool in_leap = leapsmear_ambiguous(&c->smear, now) && clock_real_in_leap_second();
    return ntp_add_sec(t, leapsmear_offset(&c->smear, now, in_leap));
}

/*
 * A reply that is not sent from here: MS-SNTP's goes to the signer with its
 * transmit time read now; a 120-byte MS-SNTP request is said once in the log.
 */
static void hand_over(struct worker *w, unsigned i, enum resp_outcome outcome, uint8_t *reply,
                      const struct net_addr *client)
{
    struct batch *b = w->batch;
    struct server *srv = w->srv;
    if (outcome == RESP_DROP_MSSNTP_EXTENDED && !atomic_exchange(&srv->extended_logged, true))
        log_warn("MS-SNTP: %s sent a 120-byte ExtendedAuthenticator request, which Samba's ntp_signd "
                 "cannot sign: such requests get no reply (counted as mssntp_extended; see README, "
                 "Windows domain members)", netaddr_format(client).text);
    if (outcome != RESP_DEFERRED || !srv->signer) /* only a signer makes MS-SNTP a strategy */
        return;
    pkt_set_transmit(reply, corrected(&w->settings, sockio_realtime_ntp()));
    ntpsignd_submit(srv->signer, w->fd, &b->addrs[i], b->msgs[i].msg_hdr.msg_namelen, reply,
                    b->bufs[i] + NTP_HEADER_LEN);
}

/*
 * Reads the transmit timestamps the kernel queued for replies to interleaved
 * clients and keeps each in its client's entry. Called with w->lock held.
 */
static void worker_collect_departures(struct worker *w)
{
    struct sockio_stamp ts;
    uint32_t key;
    int r;
    while ((r = sockio_read_tx_timestamp(w->fd, &ts, &key)) >= 0) {
        if (r == 0 || !ts.has_sw)
            continue;
        w->counters.kernel_tx_timestamps++;
        const struct departure *d = &w->departures[key % DEPARTURES];
        if (d->key == key && d->client.family != NET_NONE)
            serve_record_departure(w->rl, &d->client, d->rx, corrected(&w->settings, ntp_from_unix(ts.sw)));
    }
    w->awaited = 0;
}

static void set_reply(struct batch *b, unsigned out, unsigned i, size_t len)
{
    b->out_iov[out].iov_base = b->out_bufs[out];
    b->out_iov[out].iov_len = len;
    memset(&b->out_msgs[out].msg_hdr, 0, sizeof b->out_msgs[out].msg_hdr);
    b->out_msgs[out].msg_hdr.msg_name = &b->addrs[i];
    b->out_msgs[out].msg_hdr.msg_namelen = b->msgs[i].msg_hdr.msg_namelen;
    b->out_msgs[out].msg_hdr.msg_iov = &b->out_iov[out];
    b->out_msgs[out].msg_hdr.msg_iovlen = 1;
}

/* A reply to an interleaved client: ask the kernel when it leaves (if it can tell). */
static void want_departure(struct worker *w, unsigned out, const struct net_addr *client, ntp_ts rx)
{
    struct batch *b = w->batch;
    b->out_client[out] = *client;
    b->out_rx[out] = rx;
    if (w->tx_stamps)
        sockio_request_tx_timestamp(&b->out_msgs[out].msg_hdr, b->out_control[out]);
}

/* The kernel receive timestamp if there is one, else the clock now. */
static ntp_ts receive_time(struct worker *w, struct msghdr *msg)
{
    struct unix_time kts;
    if (sockio_rx_timestamp(msg, &kts)) {
        w->counters.kernel_timestamps++;
        return ntp_from_unix(kts);
    }
    return sockio_realtime_ntp(); /* no kernel timestamp: the next best thing */
}

/* Builds the replies for `n` received messages; returns how many to send. */
static unsigned worker_process(struct worker *w, unsigned n)
{
    struct batch *b = w->batch;
    uint64_t mono = sockio_monotonic_ns();
    unsigned out = 0;
    pthread_mutex_lock(&w->lock);
    worker_refresh_settings(w);
    if (w->awaited)
        worker_collect_departures(w);
    for (unsigned i = 0; i < n; i++) {
        struct msghdr *msg = &b->msgs[i].msg_hdr;
        /* The kernel cut it to our buffer: a MAC or field may be missing, so it is not the request. */
        if (msg->msg_flags & MSG_TRUNC) {
            w->counters.serve.received++;
            w->counters.truncated++;
            continue;
        }
        ntp_ts rx = receive_time(w, msg);
        struct net_addr client;
        if (!netaddr_from_sockaddr(&b->addrs[i], &client)) {
            w->counters.serve.received++; /* a datagram all the same, but no address to answer */
            continue;
        }
        enum resp_outcome outcome;
        const struct serve_request rq = {
            .client = &client, .mono_ns = mono, .bytes = b->bufs[i], .len = b->msgs[i].msg_len,
            .rx = corrected(&w->settings, rx), .outcome = &outcome,
        };
        size_t rlen = serve_request(&w->settings.policy, &w->settings.state, w->rl, &rq,
                                    b->out_bufs[out], NTP_MAX_PACKET_LEN, &w->counters.serve,
                                    &b->out_tx[out]);
        if (outcome == RESP_DEFERRED || outcome == RESP_DROP_MSSNTP_EXTENDED)
            hand_over(w, i, outcome, b->out_bufs[out], &client);
        if (rlen == 0 || outcome == RESP_DEFERRED)
            continue;
        set_reply(b, out, i, rlen);
        if (b->out_tx[out] != SERVE_TX_STAMP)
            want_departure(w, out, &client, rq.rx);
        out++;
    }
    pthread_mutex_unlock(&w->lock);
    return out;
}

/* The first `sent` replies left: number the stamped ones as the kernel does, then read the stamps. */
static void note_departures(struct worker *w, unsigned sent)
{
    struct batch *b = w->batch;
    unsigned stamped = 0;
    for (unsigned i = 0; i < sent && w->tx_stamps; i++) {
        if (b->out_tx[i] == SERVE_TX_STAMP)
            continue;
        w->departures[w->next_key % DEPARTURES] =
            (struct departure){.key = w->next_key, .client = b->out_client[i], .rx = b->out_rx[i]};
        w->next_key++;
        stamped++;
    }
    if (stamped == 0)
        return;
    w->awaited += stamped;
    /* A software timestamp is usually queued by the time the send returns. */
    pthread_mutex_lock(&w->lock);
    worker_collect_departures(w);
    pthread_mutex_unlock(&w->lock);
}

/*
 * A send refused for its timestamp request (a network simulator may take
 * SO_TIMESTAMPING but not the control message): sent again without it, and
 * no more stamps asked on this socket. False when that fails too.
 */
static bool send_unstamped(struct worker *w, int fd, struct msghdr *msg)
{
    if (msg->msg_controllen == 0 || errno != EINVAL)
        return false;
    if (w->tx_stamps)
        log_info("serving socket %u: transmit timestamp requests refused; interleaved clients answered "
                 "in basic mode", w->index);
    w->tx_stamps = false;
    msg->msg_control = NULL;
    msg->msg_controllen = 0;
    return sendmsg(fd, msg, 0) >= 0;
}

/*
 * sendmmsg when the kernel has it; plain sendmsg when it fails as not
 * implemented, as under an LD_PRELOAD network simulator, and from then on.
 */
static void worker_send(struct worker *w, int fd, unsigned n)
{
    struct batch *b = w->batch;
    /* The transmit timestamp is read as late as possible: once, right before the batch leaves. */
    ntp_ts tx = corrected(&w->settings, sockio_realtime_ntp());
    for (unsigned i = 0; i < n; i++)
        /* Interleaved: it holds the last departure; sealed: a MAC covers it (resp_transmit_sealed). */
        if (b->out_tx[i] != SERVE_TX_KEEP_RECORD && !resp_transmit_sealed(b->out_iov[i].iov_len))
            pkt_set_transmit(b->out_bufs[i], tx);
    unsigned sent = 0;
    while (w->use_sendmmsg && sent < n) {
        int r = sendmmsg(fd, b->out_msgs + sent, n - sent, 0);
        if (r > 0) {
            sent += (unsigned)r;
            continue;
        }
        if (r < 0 && (errno == ENOSYS || errno == EBADF || errno == ENOTSOCK || errno == EINVAL)) {
            w->use_sendmmsg = false;
            break;
        }
        break;
    }
    for (; !w->use_sendmmsg && sent < n; sent++) {
        if (sendmsg(fd, &b->out_msgs[sent].msg_hdr, 0) < 0 && !send_unstamped(w, fd, &b->out_msgs[sent].msg_hdr))
            break;
    }
    note_departures(w, sent);
    if (sent < n) {
        pthread_mutex_lock(&w->lock);
        w->counters.send_errors += n - sent;
        pthread_mutex_unlock(&w->lock);
    }
}

/* The kernel rewrites only the lengths of the messages it filled: restore just those. */
static int worker_receive(struct worker *w, int fd, int flags)
{
    struct batch *b = w->batch;
    for (unsigned i = 0; i < b->dirty; i++) {
        b->msgs[i].msg_hdr.msg_namelen = sizeof b->addrs[i];
        b->msgs[i].msg_hdr.msg_controllen = CONTROL_LEN;
    }
    int n = recvmmsg(fd, b->msgs, BATCH, flags, NULL);
    b->dirty = n > 0 ? (unsigned)n : 0;
    return n;
}

/* Drains a readable socket: batches until the kernel has nothing more (bounded, to stay fair). */
static void worker_drain(struct worker *w, int fd)
{
    for (int round = 0; round < 16; round++) {
        int n = worker_receive(w, fd, 0);
        if (n <= 0)
            return;
        unsigned replies = worker_process(w, (unsigned)n);
        if (replies > 0)
            worker_send(w, fd, replies);
        if (n < BATCH)
            return;
    }
}

/*
 * A serving thread blocks in recvmmsg on its one socket: one system call per
 * wake-up, as the udpecho floor, where poll() then recvmmsg would be two.
 */
static void *worker_thread(void *arg)
{
    struct worker *w = arg;
    for (;;) {
        int n = worker_receive(w, w->fd, MSG_WAITFORONE);
        /* After shutdown() recvmmsg returns at once, with nothing real in it. */
        if (atomic_load_explicit(&w->srv->stopping, memory_order_relaxed))
            return NULL;
        if (n <= 0)
            continue;
        unsigned replies = worker_process(w, (unsigned)n);
        if (replies > 0)
            worker_send(w, w->fd, replies);
    }
}

/* Signals go to the main thread, whose poll() they interrupt: workers start with them blocked. */
int server_start_threads(struct server *srv)
{
    if (srv->threads == 0)
        return 0;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int err = 0;
    for (unsigned i = 0; i < srv->n_workers && !err; i++) {
        struct worker *w = &srv->workers[i];
        err = pthread_create(&w->thread, NULL, worker_thread, w);
        if (err)
            log_error("cannot start serving thread %u: %s", i, strerror(err));
        else
            w->thread_started = true;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err ? -1 : 0;
}

static void worker_on_readable(void *ctx, int fd, short revents)
{
    struct worker *w = ctx;
    if (revents & POLLERR) { /* transmit timestamps queued late */
        pthread_mutex_lock(&w->lock);
        worker_collect_departures(w);
        pthread_mutex_unlock(&w->lock);
    }
    worker_drain(w, fd);
}

int server_register(struct server *srv, struct loop *loop)
{
    if (srv->threads > 0)
        return 0;
    srv->loop = loop;
    for (unsigned i = 0; i < srv->n_workers; i++) {
        if (loop_watch_fd(loop, srv->workers[i].fd, POLLIN, worker_on_readable, &srv->workers[i]) < 0) {
            log_error("serving socket %u: the event loop is full", i);
            return -1;
        }
    }
    return 0;
}

static void bump_generation(struct server *srv)
{
    atomic_fetch_add_explicit(&srv->generation, 1, memory_order_release);
}

void server_publish_state(struct server *srv, const struct resp_state *state,
                          const struct time_correction *correction)
{
    pthread_mutex_lock(&srv->settings_lock);
    srv->settings.state = *state;
    srv->settings.correction = *correction;
    srv->settings.corrected = correction->offset != 0.0 || correction->ppm != 0.0 ||
                              correction->smear.leap_at != 0;
    bump_generation(srv);
    pthread_mutex_unlock(&srv->settings_lock);
}

void server_apply_config(struct server *srv, const struct config *cfg)
{
    pthread_mutex_lock(&srv->settings_lock);
    settings_from_config(&srv->settings, cfg);
    bump_generation(srv);
    pthread_mutex_unlock(&srv->settings_lock);
}

void server_set_signer(struct server *srv, struct ntpsignd *signer)
{
    srv->signer = signer;
}

void server_set_auth(struct server *srv, const struct auth_set *auth)
{
    pthread_mutex_lock(&srv->settings_lock);
    srv->settings.policy.auth = *auth;
    bump_generation(srv);
    pthread_mutex_unlock(&srv->settings_lock);
}

/* A worker holds its lock for a whole batch: holding them all means none is inside one. */
void server_exclusive(struct server *srv, void (*fn)(void *arg), void *arg)
{
    for (unsigned i = 0; i < srv->n_workers; i++)
        pthread_mutex_lock(&srv->workers[i].lock);
    fn(arg);
    for (unsigned i = srv->n_workers; i > 0; i--)
        pthread_mutex_unlock(&srv->workers[i - 1].lock);
}

static void add_counters(struct server_counters *sum, const struct server_counters *c)
{
    _Static_assert(sizeof *c % sizeof(uint64_t) == 0, "server_counters is summed as uint64_t words");
    const uint64_t *src = (const uint64_t *)c;
    uint64_t *dst = (uint64_t *)sum;
    for (size_t i = 0; i < sizeof *c / sizeof(uint64_t); i++)
        dst[i] += src[i];
}

void server_get_counters(struct server *srv, struct server_counters *out)
{
    memset(out, 0, sizeof *out);
    for (unsigned i = 0; i < srv->n_workers; i++) {
        struct worker *w = &srv->workers[i];
        pthread_mutex_lock(&w->lock);
        add_counters(out, &w->counters);
        pthread_mutex_unlock(&w->lock);
    }
}

static int by_requests_desc(const void *a, const void *b)
{
    const struct rl_client_stats *x = a, *y = b;
    return (x->requests < y->requests) - (x->requests > y->requests);
}

unsigned server_top_clients(struct server *srv, struct rl_client_stats *out, unsigned max)
{
    unsigned total = 0;
    struct rl_client_stats *all = calloc((size_t)max * srv->n_workers, sizeof *all);
    if (!all)
        return 0;
    for (unsigned i = 0; i < srv->n_workers; i++) {
        struct worker *w = &srv->workers[i];
        pthread_mutex_lock(&w->lock);
        total += rl_top_clients(w->rl, all + total, max);
        pthread_mutex_unlock(&w->lock);
    }
    qsort(all, total, sizeof *all, by_requests_desc);
    unsigned n = total < max ? total : max;
    memcpy(out, all, n * sizeof *out);
    free(all);
    return n;
}

void server_get_layout(struct server *srv, struct server_layout *out)
{
    *out = (struct server_layout){.threads = srv->threads, .sockets = srv->n_workers,
                                  .client_capacity = srv->n_workers * srv->clientlog_size};
    for (unsigned i = 0; i < srv->n_workers; i++) {
        struct worker *w = &srv->workers[i];
        pthread_mutex_lock(&w->lock);
        out->sockets_used += w->counters.serve.received > 0;
        out->clients_tracked += rl_used_entries(w->rl);
        pthread_mutex_unlock(&w->lock);
    }
}

void server_close(struct server *srv)
{
    if (!srv)
        return;
    atomic_store(&srv->stopping, true);
    for (unsigned i = 0; i < srv->n_workers; i++) {
        struct worker *w = &srv->workers[i];
        if (w->thread_started) {
            /*
             * Linux wakes a recvmmsg blocked on the socket at once, even an
             * unconnected UDP one, where shutdown() still fails with ENOTCONN.
             */
            shutdown(w->fd, SHUT_RD);
            pthread_join(w->thread, NULL);
        }
        if (srv->loop)
            loop_unwatch_fd(srv->loop, w->fd);
        worker_release(w);
    }
    free(srv->workers);
    pthread_mutex_destroy(&srv->settings_lock);
    free(srv);
}

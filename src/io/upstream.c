/* upstream: sources' sockets, resolution and scheduling; see upstream.h. */
#include "io/upstream.h"

#include <errno.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <string.h>
#include <unistd.h>

#include "core/packet.h"
#include "io/log.h"
#include "io/sockio.h"

/* A pool line whose peers were lost, or a name that did not resolve, is tried again this much later. */
#define RESOLVE_RETRY_SECONDS 60.0
#define RESOLVE_FAIL_RETRY_SECONDS 30.0
/* An unreachable pool member is replaced after this many polls without an answer. */
#define POOL_REPLACE_MISSES 16

static double engine_now(const struct upstream *u)
{
    return sync_now(u->sync, NULL);
}

static ntp_ts local_now(const struct upstream *u)
{
    return u->local_time(u->time_ctx, NULL);
}

/* RFC 5905 §7.3: an IPv4 upstream's address is the refid; for IPv6, the first 4 bytes of its MD5. */
static uint32_t refid_of(const struct net_addr *a)
{
    if (a->family == NET_IPV4)
        return load_be32(a->bytes);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(a->bytes, 16, digest, &len, EVP_md5(), NULL) != 1 || len < 4)
        return 0;
    return load_be32(digest);
}

static int open_peer_socket(const struct resolve_addr *addr)
{
    int fd = socket(addr->sa.ss_family, SOCK_DGRAM, 0);
    if (fd < 0)
        return -1;
    if (sockio_set_nonblocking(fd) < 0)
        log_warn("fcntl on an upstream socket: %s", strerror(errno));
    if (sockio_enable_rx_timestamps(fd) < 0)
        log_debug("SO_TIMESTAMPING on an upstream socket: %s", strerror(errno));
    /* Port 0: the kernel picks a random unprivileged port, unknown to an off-path attacker. */
    struct sockaddr_storage any;
    memset(&any, 0, sizeof any);
    any.ss_family = addr->sa.ss_family;
    socklen_t len = addr->sa.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (bind(fd, (struct sockaddr *)&any, len) < 0) {
        log_warn("bind of an upstream socket: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static bool same_addr(const struct resolve_addr *a, const struct resolve_addr *b)
{
    return a->len == b->len && memcmp(&a->sa, &b->sa, a->len) == 0;
}

static bool peer_exists(const struct upstream *u, const struct resolve_addr *a)
{
    for (unsigned i = 0; i < u->n_peers; i++)
        if (u->peers[i].active && same_addr(&u->peers[i].addr, a))
            return true;
    return false;
}

static bool is_denied(const struct upstream *u, const struct resolve_addr *a)
{
    unsigned n = u->n_denied < UPSTREAM_MAX_DENIED ? u->n_denied : UPSTREAM_MAX_DENIED;
    for (unsigned i = 0; i < n; i++)
        if (same_addr(&u->denied[i], a))
            return true;
    return false;
}

static unsigned active_peers_of(const struct upstream *u, unsigned cfg_index)
{
    unsigned n = 0;
    for (unsigned i = 0; i < u->n_peers; i++)
        n += u->peers[i].active && u->peers[i].cfg_index == cfg_index;
    return n;
}

/* The peer slot that goes with sync source `sync_index`: the removed peer's that had it, or a new one. */
static struct upstream_peer *peer_slot(struct upstream *u, int sync_index)
{
    for (unsigned i = 0; i < u->n_peers; i++)
        if (!u->peers[i].active && u->peers[i].sync_index == sync_index)
            return &u->peers[i];
    return u->n_peers < UPSTREAM_MAX_PEERS ? &u->peers[u->n_peers++] : NULL;
}

static void add_peer(struct upstream *u, unsigned cfg_index, const struct resolve_addr *a)
{
    const struct cfg_source *cs = &u->cfg.sources[cfg_index];
    struct net_addr net;
    resolve_to_net_addr(a, &net);
    int fd = open_peer_socket(a);
    if (fd < 0)
        return;
    uint32_t refid = refid_of(&net);
    int sync_index = sync_add_source(u->sync, refid, cs->prefer, cs->minpoll, cs->maxpoll);
    struct upstream_peer *p = sync_index >= 0 ? peer_slot(u, sync_index) : NULL;
    if (!p) {
        log_warn("%s: no room for more sources (%d at most)", cs->host, UPSTREAM_MAX_PEERS);
        if (sync_index >= 0)
            sync_remove_source(u->sync, (unsigned)sync_index);
        close(fd);
        return;
    }
    memset(p, 0, sizeof *p);
    p->addr = *a;
    p->net = net;
    p->fd = fd;
    p->sync_index = sync_index;
    struct src_params sp = {
        .minpoll = cs->minpoll,
        .maxpoll = cs->maxpoll,
        .iburst = cs->iburst,
        .prefer = cs->prefer,
        .maxdistance = u->cfg.maxdistance,
        .precision = u->precision,
        .refid = refid,
        .epoch = u->sync->epoch,
    };
    src_init(&p->src, &sp);
    p->cfg_index = cfg_index;
    p->active = true;
    log_info("source %s (%s) added", netaddr_format_port(&p->net, netaddr_port_of(&a->sa)).text, cs->host);
}

void upstream_init(struct upstream *u, const struct config *cfg, struct sync *sync,
                   upstream_time_fn local_time, void *time_ctx, int8_t precision)
{
    memset(u, 0, sizeof *u);
    u->cfg = *cfg; /* a copy: sources change only at restart */
    u->sync = sync;
    u->local_time = local_time;
    u->time_ctx = time_ctx;
    u->precision = precision;
}

static void start_resolve(struct upstream *u, unsigned i)
{
    const struct cfg_source *cs = &u->cfg.sources[i];
    u->wanted[i] = cs->is_pool ? cs->maxsources : 1;
    u->jobs[i] = resolve_start(cs->host, cs->port, cs->is_pool ? RESOLVE_MAX_ADDRS : 1);
    if (!u->jobs[i]) {
        log_warn("%s: cannot start resolving", cs->host);
        u->retry_at[i] = engine_now(u) + RESOLVE_FAIL_RETRY_SECONDS;
    }
}

void upstream_start(struct upstream *u)
{
    for (unsigned i = 0; i < u->cfg.n_sources; i++)
        start_resolve(u, i);
}

static void collect_resolution(struct upstream *u, unsigned i)
{
    struct resolve_result res;
    if (!u->jobs[i] || resolve_poll(u->jobs[i], &res) != RESOLVE_DONE)
        return;
    resolve_release(u->jobs[i]);
    u->jobs[i] = NULL;
    const struct cfg_source *cs = &u->cfg.sources[i];
    if (res.error) {
        log_warn("%s: %s; trying again in %.0f s", cs->host, resolve_error_text(res.error),
                 RESOLVE_FAIL_RETRY_SECONDS);
        u->retry_at[i] = engine_now(u) + RESOLVE_FAIL_RETRY_SECONDS;
        return;
    }
    for (unsigned k = 0; k < res.n && active_peers_of(u, i) < u->wanted[i]; k++)
        if (!peer_exists(u, &res.addrs[k]) && !is_denied(u, &res.addrs[k]))
            add_peer(u, i, &res.addrs[k]);
    if (active_peers_of(u, i) < u->wanted[i])
        u->retry_at[i] = engine_now(u) + RESOLVE_RETRY_SECONDS;
}

static void drop_peer(struct upstream *u, struct upstream_peer *p, const char *why)
{
    log_warn("source %s: %s; no longer used", netaddr_format(&p->net).text, why);
    sync_remove_source(u->sync, (unsigned)p->sync_index);
    close(p->fd);
    p->fd = -1;
    p->active = false;
    /* A pool (or a name that may now resolve elsewhere) gets a replacement. */
    if (u->retry_at[p->cfg_index] == 0)
        u->retry_at[p->cfg_index] = engine_now(u) + 1.0;
}

/* RFC 5905 §7.4: after DENY or RSTR the client must stop sending to that server, for good. */
static void deny_peer(struct upstream *u, struct upstream_peer *p, const char *why)
{
    u->denied[u->n_denied++ % UPSTREAM_MAX_DENIED] = p->addr;
    drop_peer(u, p, why);
}

static void send_request(struct upstream *u, struct upstream_peer *p)
{
    uint8_t buf[SRC_REQUEST_LEN];
    src_set_poll(&p->src, sync_poll_exponent(u->sync, (unsigned)p->sync_index));
    size_t n = src_build_request(&p->src, local_now(u), sockio_random64(), buf, sizeof buf);
    if (n == 0)
        return;
    /* T1 as late as possible: right before the send. */
    src_set_tx_time(&p->src, local_now(u));
    if (sendto(p->fd, buf, n, 0, (struct sockaddr *)&p->addr.sa, p->addr.len) < 0)
        log_debug("send to %s: %s", netaddr_format(&p->net).text, strerror(errno));
    sync_polled(u->sync, (unsigned)p->sync_index);
}

static void replace_lost_pool_members(struct upstream *u)
{
    for (unsigned i = 0; i < u->n_peers; i++) {
        struct upstream_peer *p = &u->peers[i];
        if (!p->active || !u->cfg.sources[p->cfg_index].is_pool)
            continue;
        if (!src_is_reachable(&p->src) && src_sent(&p->src) >= POOL_REPLACE_MISSES)
            drop_peer(u, p, "unreachable pool member");
    }
}

double upstream_run_timers(struct upstream *u)
{
    double now = engine_now(u), next = 1.0;
    for (unsigned i = 0; i < u->cfg.n_sources; i++) {
        collect_resolution(u, i);
        if (!u->jobs[i] && u->retry_at[i] > 0 && now >= u->retry_at[i]) {
            u->retry_at[i] = 0;
            if (active_peers_of(u, i) < u->wanted[i])
                start_resolve(u, i);
        }
    }
    replace_lost_pool_members(u);
    ntp_ts t = local_now(u);
    for (unsigned i = 0; i < u->n_peers; i++) {
        struct upstream_peer *p = &u->peers[i];
        if (!p->active)
            continue;
        if (src_time_to_poll(&p->src, t) <= 0)
            send_request(u, p);
        double wait = src_time_to_poll(&p->src, local_now(u));
        if (wait < next)
            next = wait;
    }
    return next < 0 ? 0 : next;
}

unsigned upstream_pollfds(const struct upstream *u, struct pollfd *fds, unsigned max)
{
    unsigned n = 0;
    for (unsigned i = 0; i < u->n_peers && n < max; i++)
        if (u->peers[i].active)
            fds[n++] = (struct pollfd){.fd = u->peers[i].fd, .events = POLLIN};
    return n;
}

static bool from_peer(const struct upstream_peer *p, const struct sockaddr_storage *from)
{
    struct net_addr a;
    return netaddr_from_sockaddr(from, &a) && a.family == p->net.family &&
           memcmp(a.bytes, p->net.bytes, sizeof a.bytes) == 0 &&
           netaddr_port_of(from) == netaddr_port_of(&p->addr.sa);
}

static void handle_verdict(struct upstream *u, struct upstream_peer *p, enum src_verdict v,
                           const struct ntp_sample *smp)
{
    switch (v) {
    case SRC_SAMPLE:
        sync_sample(u->sync, (unsigned)p->sync_index, smp);
        break;
    case SRC_KOD_DENY:
    case SRC_KOD_RSTR:
        deny_peer(u, p, v == SRC_KOD_DENY ? "Kiss-o'-Death DENY" : "Kiss-o'-Death RSTR");
        break;
    case SRC_KOD_RATE:
        log_info("source %s: Kiss-o'-Death RATE, polling every 2^%d s", netaddr_format(&p->net).text,
                 src_poll(&p->src));
        break;
    default:
        log_debug("source %s: reply dropped (%s)", netaddr_format(&p->net).text, src_verdict_name(v));
        break;
    }
}

static void receive_from(struct upstream *u, struct upstream_peer *p)
{
    for (int round = 0; round < 8 && p->active; round++) {
        uint8_t buf[NTP_MAX_PACKET_LEN];
        uint8_t control[128];
        struct sockaddr_storage from;
        struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
        struct msghdr msg = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov,
                             .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
        ssize_t n = recvmsg(p->fd, &msg, 0);
        if (n < 0)
            return;
        struct unix_time kts;
        ntp_ts rx;
        if (sockio_rx_timestamp(&msg, &kts)) {
            rx = u->local_time(u->time_ctx, &kts);
            p->ts.kernel_rx++;
        } else {
            rx = local_now(u);
            p->ts.software_rx++;
        }
        if (!from_peer(p, &from))
            continue; /* not our server: spoofed or stray */
        struct ntp_sample smp;
        handle_verdict(u, p, src_handle_reply(&p->src, buf, (size_t)n, rx, &smp), &smp);
    }
}

bool upstream_handle_readable(struct upstream *u, int fd)
{
    for (unsigned i = 0; i < u->n_peers; i++) {
        if (u->peers[i].active && u->peers[i].fd == fd) {
            receive_from(u, &u->peers[i]);
            return true;
        }
    }
    return false;
}

const struct upstream_peer *upstream_peer_of(const struct upstream *u, unsigned sync_index)
{
    for (unsigned i = 0; i < u->n_peers; i++)
        if (u->peers[i].sync_index == (int)sync_index)
            return &u->peers[i];
    return NULL;
}

const char *upstream_peer_name(const struct upstream *u, const struct upstream_peer *p)
{
    return u->cfg.sources[p->cfg_index].host;
}

void upstream_close(struct upstream *u)
{
    for (unsigned i = 0; i < u->cfg.n_sources; i++)
        if (u->jobs[i])
            resolve_release(u->jobs[i]);
    for (unsigned i = 0; i < u->n_peers; i++)
        if (u->peers[i].active)
            close(u->peers[i].fd);
    u->n_peers = 0;
}

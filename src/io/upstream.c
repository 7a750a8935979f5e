/* upstream: sources' sockets, timers and resolution around core/assoc; see upstream.h. */
#include "io/upstream.h"

#include <errno.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/packet.h"
#include "io/log.h"
#include "io/nts_source.h"
#include "io/sockio.h"

/* A pool line whose peers were lost, or a name that did not resolve, is tried again this much later. */
#define RESOLVE_RETRY_SECONDS 60.0
#define RESOLVE_FAIL_RETRY_SECONDS 30.0
/* How often a pending name resolution is looked at (the resolver thread cannot wake the loop). */
#define RESOLVE_POLL_SECONDS 0.1
/* An unreachable pool member is replaced after this many polls without an answer. */
#define POOL_REPLACE_MISSES 16

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

/*
 * connect() picks a random unprivileged local port (unknown to an off-path
 * attacker), makes the kernel drop datagrams from anyone but the server, and
 * fixes the local address the server sees, which *local receives.
 */
static int open_peer_socket(const struct upstream *u, const struct resolve_addr *addr,
                            struct net_addr *local, bool *tx_stamps)
{
    int fd = socket(addr->sa.ss_family, SOCK_DGRAM, 0);
    if (fd < 0) {
        log_warn("upstream socket: %s", strerror(errno));
        return -1;
    }
    if (sockio_set_nonblocking(fd) < 0)
        log_warn("fcntl on an upstream socket: %s", strerror(errno));
    /* Every request gets a kernel transmit timestamp: T1 is when it left, not when send() was called. */
    int ts = sockio_enable_timestamps(fd, true, hwts_socket_flags(&u->hwts));
    if (ts != 0) {
        struct net_addr server;
        resolve_to_net_addr(addr, &server);
        log_info("source %s: no kernel %s timestamps (%s): read from the clock", netaddr_format(&server).text,
                 ts > 0 ? "transmit" : "receive or transmit", strerror(errno));
    }
    *tx_stamps = ts == 0;
    struct sockaddr_storage me;
    socklen_t len = sizeof me;
    if (connect(fd, (const struct sockaddr *)&addr->sa, addr->len) < 0 ||
        getsockname(fd, (struct sockaddr *)&me, &len) < 0 || !netaddr_from_sockaddr(&me, local)) {
        log_warn("connecting an upstream socket: %s", strerror(errno));
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

/*
 * The peer slot that goes with sync source `sync_index`: the removed peer's
 * that had it, a slot a reload freed (sync_index -1), or a new one.
 */
static struct upstream_peer *peer_slot(struct upstream *u, int sync_index)
{
    for (unsigned i = 0; i < u->n_peers; i++)
        if (!u->peers[i].active && u->peers[i].assoc.sync_index == sync_index)
            return &u->peers[i];
    for (unsigned i = 0; i < u->n_peers; i++)
        if (!u->peers[i].active && u->peers[i].assoc.sync_index < 0)
            return &u->peers[i];
    return u->n_peers < UPSTREAM_MAX_PEERS ? &u->peers[u->n_peers++] : NULL;
}

static void changed(struct upstream *u)
{
    if (u->on_change)
        u->on_change(u->change_ctx);
}

/* ---- the housekeeping timer: resolutions, retries, pool replacement ---- */

static void arm_housekeeping(struct upstream *u)
{
    double now = loop_now(u->loop), due = 0;
    for (unsigned i = 0; i < u->cfg.n_sources; i++) {
        double at = u->jobs[i] ? now + RESOLVE_POLL_SECONDS : u->retry_at[i];
        if (at > 0 && (due == 0 || at < due))
            due = at;
    }
    if (due > 0)
        loop_timer_arm_at(u->loop, u->timer, due);
    else
        loop_timer_disarm(u->loop, u->timer);
}

static void retry_later(struct upstream *u, unsigned cfg_index, double seconds)
{
    u->retry_at[cfg_index] = loop_now(u->loop) + seconds;
    arm_housekeeping(u);
}

static void start_resolve(struct upstream *u, unsigned i)
{
    const struct cfg_source *cs = &u->cfg.sources[i];
    u->wanted[i] = cs->is_pool ? cs->maxsources : 1;
    u->jobs[i] = resolve_start(cs->host, cs->port, cs->is_pool ? RESOLVE_MAX_ADDRS : 1);
    if (!u->jobs[i]) {
        log_warn("%s: cannot start resolving: %s", cs->host, strerror(errno));
        retry_later(u, i, RESOLVE_FAIL_RETRY_SECONDS);
    }
}

/* Unregisters and closes the peer's socket; the caller has taken it out of the engine. */
static void release_peer(struct upstream *u, struct upstream_peer *p)
{
    if (p->nts) {
        nts_source_close(p->nts);
        free(p->nts);
        p->nts = NULL;
    }
    loop_unwatch_fd(u->loop, p->fd);
    loop_timer_free(u->loop, p->timer);
    close(p->fd);
    p->fd = -1;
    p->timer = -1;
    p->active = false;
}

static void close_peer(struct upstream *u, struct upstream_peer *p, const char *why)
{
    log_warn("source %s: %s; no longer used", netaddr_format(&p->net).text, why);
    release_peer(u, p);
    /* A pool (or a name that may now resolve elsewhere) gets a replacement. */
    if (u->retry_at[p->cfg_index] == 0)
        retry_later(u, p->cfg_index, 1.0);
    changed(u);
}

static bool is_lost_pool_member(const struct upstream *u, const struct upstream_peer *p)
{
    return p->active && u->cfg.sources[p->cfg_index].is_pool && !src_is_reachable(&p->assoc.src) &&
           src_sent(&p->assoc.src) >= POOL_REPLACE_MISSES;
}

static void replace_lost_pool_members(struct upstream *u)
{
    for (unsigned i = 0; i < u->n_peers; i++) {
        struct upstream_peer *p = &u->peers[i];
        if (is_lost_pool_member(u, p)) {
            assoc_remove(&p->assoc);
            close_peer(u, p, "unreachable pool member");
        }
    }
}

/* `key N`: requests carry the key's MAC and only replies with a valid one are taken (never plain ones). */
static void use_key(const struct upstream *u, struct upstream_peer *p, const struct cfg_source *cs)
{
    if (!cs->key)
        return;
    if (!u->keys || !keys_find(&u->keys->table, cs->key))
        log_warn("%s: key %u is not in the keyfile: no request is sent until it is", cs->host, (unsigned)cs->key);
    p->key_ctx = u->keys ? symkeys_client_ctx(u->keys, cs->key) : (struct symkey_ctx){.key_id = cs->key};
    p->assoc.auth = (struct auth_instance){.ops = &auth_symkey, .ctx = &p->key_ctx};
}

static void add_peer(struct upstream *u, unsigned cfg_index, const struct resolve_addr *a);

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
        retry_later(u, i, RESOLVE_FAIL_RETRY_SECONDS);
        return;
    }
    for (unsigned k = 0; k < res.n && active_peers_of(u, i) < u->wanted[i]; k++)
        if (!peer_exists(u, &res.addrs[k]) && !is_denied(u, &res.addrs[k]))
            add_peer(u, i, &res.addrs[k]);
    if (active_peers_of(u, i) < u->wanted[i])
        retry_later(u, i, RESOLVE_RETRY_SECONDS);
}

static void housekeeping(void *ctx)
{
    struct upstream *u = ctx;
    for (unsigned i = 0; i < u->cfg.n_sources; i++) {
        collect_resolution(u, i);
        if (!u->jobs[i] && u->retry_at[i] > 0 && loop_now(u->loop) >= u->retry_at[i]) {
            u->retry_at[i] = 0;
            if (active_peers_of(u, i) < u->wanted[i])
                start_resolve(u, i);
        }
    }
    replace_lost_pool_members(u);
    arm_housekeeping(u);
}

/* The housekeeping timer, made when the first source is configured (at start or on reload). */
static int ensure_timer(struct upstream *u)
{
    if (u->timer >= 0)
        return 0;
    u->timer = loop_timer_new(u->loop, housekeeping, u);
    if (u->timer < 0) {
        log_error("upstream: no room for a timer in the event loop");
        return -1;
    }
    return 0;
}

/* ---- one peer: its poll timer and its socket ---- */

/*
 * The association counts in local-clock seconds, the loop in monotonic ones:
 * they differ by the clock's frequency error (ppm) and its steps. A timer that
 * fires early finds nothing due yet and is re-armed for the rest.
 */
static void arm_poll_timer(struct upstream *u, struct upstream_peer *p)
{
    loop_timer_arm(u->loop, p->timer, assoc_time_to_poll(&p->assoc, local_now(u)));
}

/* A kernel stamp as local time: the NIC's when there is one we can convert, else the software one. */
static bool stamp_local_time(const struct upstream *u, const struct sockio_stamp *st, ntp_ts *out,
                             bool *hardware)
{
    struct unix_time t = st->sw;
    *hardware = st->has_hw && hwts_to_system(&u->hwts, st->ifindex, st->hw, &t);
    if (!*hardware && !st->has_sw)
        return false;
    *out = u->local_time(u->time_ctx, &t);
    return true;
}

/*
 * The kernel's transmit timestamps queued on the socket: the one numbered
 * as the latest request is its T1 (taken only while it awaits its reply).
 * The software stamp comes first; a NIC's, when one comes, replaces it.
 */
static void read_departures(struct upstream *u, struct upstream_peer *p)
{
    struct sockio_stamp st;
    uint32_t key;
    int r;
    while ((r = sockio_read_tx_timestamp(p->fd, &st, &key)) >= 0) {
        ntp_ts t1;
        bool hardware;
        if (r == 0 || !p->awaiting_tx || key != p->tx_key - 1 || !stamp_local_time(u, &st, &t1, &hardware))
            continue;
        assoc_sent(&p->assoc, t1);
        p->ts.kernel_tx += !p->tx_stamped;
        p->ts.hardware_tx += hardware;
        p->tx_stamped = true;
        p->awaiting_tx = !hardware && u->hwts.n > 0;
    }
}

static void send_request(struct upstream *u, struct upstream_peer *p)
{
    uint8_t buf[NTP_MAX_PACKET_LEN]; /* the header, and whatever the authenticator appends */
    if (p->nts)
        nts_source_poll(p->nts);
    size_t n = assoc_build_request(&p->assoc, local_now(u), sockio_random64(), buf, sizeof buf);
    if (n == 0)
        return;
    /* T1 as late as possible: right before the send; the kernel's, when it has it, replaces it. */
    ntp_ts t1 = local_now(u);
    bool sent = send(p->fd, buf, n, 0) >= 0;
    if (!sent)
        log_debug("send to %s: %s", netaddr_format(&p->net).text, strerror(errno));
    assoc_sent(&p->assoc, t1);
    p->ts.software_tx += !p->tx_stamped && src_sent(&p->assoc.src) > 1; /* the previous one's */
    p->tx_stamped = false;
    p->awaiting_tx = sent && p->tx_stamps;
    if (p->awaiting_tx) {
        p->tx_key++;
        read_departures(u, p);
    }
}

static void peer_poll_due(void *ctx)
{
    struct upstream_peer *p = ctx;
    struct upstream *u = p->owner;
    if (assoc_time_to_poll(&p->assoc, local_now(u)) <= 0) {
        send_request(u, p);
        if (is_lost_pool_member(u, p))
            loop_timer_arm(u->loop, u->timer, 0); /* replaced there, not under our own feet */
    }
    arm_poll_timer(u, p);
}

static bool from_peer(const struct upstream_peer *p, const struct sockaddr_storage *from)
{
    struct net_addr a;
    return netaddr_from_sockaddr(from, &a) && a.family == p->net.family &&
           memcmp(a.bytes, p->net.bytes, sizeof a.bytes) == 0 &&
           netaddr_port_of(from) == netaddr_port_of(&p->addr.sa);
}

/* RFC 5905 §7.4: after DENY or RSTR the client must stop sending to that server, for good. */
static void act_on(struct upstream *u, struct upstream_peer *p, const struct assoc_outcome *o)
{
    struct addr_text name = netaddr_format(&p->net);
    switch (o->action) {
    case ASSOC_SAMPLED:
        changed(u);
        break;
    case ASSOC_REMOVED:
        u->denied[u->n_denied++ % UPSTREAM_MAX_DENIED] = p->addr;
        close_peer(u, p, o->verdict == SRC_KOD_DENY ? "Kiss-o'-Death DENY" : "Kiss-o'-Death RSTR");
        return;
    case ASSOC_BACKED_OFF:
        log_info("source %s: Kiss-o'-Death RATE, polling every 2^%d s", name.text, src_poll(&p->assoc.src));
        break;
    case ASSOC_NONE:
        log_debug("source %s: reply dropped (%s)", name.text, src_verdict_name(o->verdict));
        break;
    }
    if (o->poll_changed)
        arm_poll_timer(u, p);
}

static void receive_one(struct upstream *u, struct upstream_peer *p, const uint8_t *buf, size_t len,
                        struct msghdr *msg)
{
    struct sockio_stamp st;
    ntp_ts rx;
    bool hardware = false;
    if (sockio_stamp_of(msg, &st) && stamp_local_time(u, &st, &rx, &hardware)) {
        p->ts.kernel_rx++;
        p->ts.hardware_rx += hardware;
    } else {
        rx = local_now(u);
        p->ts.software_rx++;
    }
    if (!from_peer(p, msg->msg_name))
        return; /* not our server: spoofed or stray */
    /* A prefix of a longer datagram is not the reply the server sent: it is never judged. */
    if (msg->msg_flags & MSG_TRUNC) {
        p->ts.truncated++;
        return;
    }
    struct assoc_outcome o = assoc_handle_reply(&p->assoc, buf, len, rx);
    act_on(u, p, &o);
}

static void peer_readable(void *ctx, int fd, short revents)
{
    struct upstream_peer *p = ctx;
    if (revents & POLLERR) /* a transmit timestamp queued after the send returned */
        read_departures(p->owner, p);
    for (int round = 0; round < 8 && p->active; round++) {
        uint8_t buf[NTP_MAX_PACKET_LEN];
        uint8_t control[128];
        struct sockaddr_storage from;
        struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
        struct msghdr msg = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov,
                             .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
        ssize_t n = recvmsg(fd, &msg, 0);
        if (n < 0)
            return;
        receive_one(p->owner, p, buf, (size_t)n, &msg);
    }
}

static bool register_peer(struct upstream *u, struct upstream_peer *p)
{
    p->timer = loop_timer_new(u->loop, peer_poll_due, p);
    if (p->timer >= 0 && loop_watch_fd(u->loop, p->fd, POLLIN, peer_readable, p) == 0) {
        arm_poll_timer(u, p);
        return true;
    }
    loop_timer_free(u->loop, p->timer);
    return false;
}

static struct src_params peer_params(const struct upstream *u, const struct cfg_source *cs,
                                     const struct net_addr *net, const struct net_addr *local)
{
    return (struct src_params){
        .minpoll = cs->minpoll,
        .maxpoll = cs->maxpoll,
        .iburst = cs->iburst,
        .prefer = cs->prefer,
        .maxdistance = u->cfg.maxdistance,
        .precision = u->precision,
        .refid = refid_of(net),
        .local_refid = refid_of(local),
        .epoch = u->sync->epoch,
        .xleave = cs->xleave,
    };
}

/* A handshake named the NTP port to use: the socket is connected there from now on. */
static void peer_nts_ready(void *ctx, uint16_t ntp_port)
{
    struct upstream_peer *p = ctx;
    if (!ntp_port || ntp_port == netaddr_port_of(&p->addr.sa))
        return;
    struct resolve_addr moved = p->addr;
    struct net_addr net;
    resolve_to_net_addr(&moved, &net);
    moved.len = netaddr_to_sockaddr(&net, ntp_port, &moved.sa);
    if (connect(p->fd, (const struct sockaddr *)&moved.sa, moved.len) < 0) {
        log_warn("source %s: cannot move to NTP port %u: %s", netaddr_format(&p->net).text, ntp_port, strerror(errno));
        return;
    }
    p->addr = moved;
    log_info("source %s: NTP on port %u, as its NTS-KE server says", netaddr_format(&p->net).text, ntp_port);
}

/* `server ... nts`: the source's NTS-KE and session, whose strategy the association uses. */
static struct nts_source *open_nts(struct upstream *u, const struct cfg_source *cs, const struct net_addr *net)
{
    struct nts_source *nts = cs->nts ? calloc(1, sizeof *nts) : NULL;
    if (nts && nts_source_init(nts, u->loop, cs, net, &u->cfg, peer_nts_ready, NULL) == 0)
        return nts;
    free(nts);
    return NULL;
}

static void add_peer(struct upstream *u, unsigned cfg_index, const struct resolve_addr *a)
{
    const struct cfg_source *cs = &u->cfg.sources[cfg_index];
    struct net_addr net, local;
    resolve_to_net_addr(a, &net);
    struct nts_source *nts = open_nts(u, cs, &net);
    bool tx_stamps = false;
    int fd = cs->nts && !nts ? -1 : open_peer_socket(u, a, &local, &tx_stamps);
    if (fd < 0) {
        if (nts)
            nts_source_close(nts);
        free(nts);
        return;
    }
    struct src_params sp = peer_params(u, cs, &net, &local);
    struct assoc assoc;
    struct auth_instance auth = nts ? nts_source_auth(nts) : (struct auth_instance){.ops = &auth_none};
    struct upstream_peer *p = assoc_init(&assoc, u->sync, &sp, &auth) == 0 ? peer_slot(u, assoc.sync_index) : NULL;
    if (p) {
        *p = (struct upstream_peer){.cfg_index = cfg_index, .addr = *a, .net = net, .fd = fd,
                                    .owner = u, .assoc = assoc, .active = true, .tx_stamps = tx_stamps,
                                    .nts = nts};
        if (nts)
            nts->ready_ctx = p;
        use_key(u, p, cs);
        if (register_peer(u, p)) {
            log_info("source %s (%s) added, from %s", netaddr_format_port(&net, netaddr_port_of(&a->sa)).text,
                     cs->host, netaddr_format(&local).text);
            return;
        }
        p->active = false;
    }
    log_warn("%s: no room for more sources (%d at most)", cs->host, UPSTREAM_MAX_PEERS);
    if (assoc.sync_index >= 0)
        assoc_remove(&assoc);
    if (nts)
        nts_source_close(nts);
    free(nts);
    close(fd);
}

/* ---- a reload: the lines kept keep their peers, the others go or start ---- */

static void log_line(const char *what, const struct cfg_source *cs, unsigned n_closed)
{
    char port[16] = "";
    if (cs->port != NTP_PORT)
        snprintf(port, sizeof port, " port %u", (unsigned)cs->port);
    if (n_closed)
        log_info("reload: %s %s%s %s (%u address%s closed)", cs->is_pool ? "pool" : "server", cs->host,
                 port, what, n_closed, n_closed == 1 ? "" : "es");
    else
        log_info("reload: %s %s%s %s", cs->is_pool ? "pool" : "server", cs->host, port, what);
}

/*
 * Old line i is gone: its pending resolution is let go, its peers leave the
 * engine (selection runs without them) and the loop, and their slots are freed
 * (sync_index -1), so they leave the reports too.
 */
static void drop_line(struct upstream *u, unsigned i)
{
    if (u->jobs[i])
        resolve_release(u->jobs[i]);
    u->jobs[i] = NULL;
    unsigned n_closed = 0;
    for (unsigned k = 0; k < u->n_peers; k++) {
        struct upstream_peer *p = &u->peers[k];
        if (p->cfg_index != i || p->assoc.sync_index < 0)
            continue;
        if (p->active) {
            assoc_remove(&p->assoc);
            release_peer(u, p);
            n_closed++;
        }
        p->assoc.sync_index = -1;
    }
    log_line("removed", &u->cfg.sources[i], n_closed);
}

/* The kept lines' state and peers move to their indices in the new configuration, which replaces the old. */
static void renumber_lines(struct upstream *u, const struct config *cfg, const int old_to_new[CFG_MAX_SOURCES])
{
    struct resolve_job *jobs[CFG_MAX_SOURCES] = {NULL};
    double retry_at[CFG_MAX_SOURCES] = {0};
    unsigned wanted[CFG_MAX_SOURCES] = {0};
    for (unsigned i = 0; i < u->cfg.n_sources; i++) {
        int j = old_to_new[i];
        if (j >= 0) {
            jobs[j] = u->jobs[i];
            retry_at[j] = u->retry_at[i];
            wanted[j] = u->wanted[i];
        }
    }
    for (unsigned k = 0; k < u->n_peers; k++)
        if (u->peers[k].assoc.sync_index >= 0)
            u->peers[k].cfg_index = (unsigned)old_to_new[u->peers[k].cfg_index];
    memcpy(u->jobs, jobs, sizeof jobs);
    memcpy(u->retry_at, retry_at, sizeof retry_at);
    memcpy(u->wanted, wanted, sizeof wanted);
    u->cfg = *cfg;
}

int upstream_apply_config(struct upstream *u, const struct config *cfg)
{
    if (cfg->n_sources > 0 && ensure_timer(u) < 0)
        return -1;
    int old_to_new[CFG_MAX_SOURCES];
    bool new_is_kept[CFG_MAX_SOURCES];
    unsigned kept = cfg_match_sources(&u->cfg, cfg, old_to_new, new_is_kept);
    unsigned removed = u->cfg.n_sources - kept, added = cfg->n_sources - kept;
    for (unsigned i = 0; i < u->cfg.n_sources; i++)
        if (old_to_new[i] < 0)
            drop_line(u, i);
    renumber_lines(u, cfg, old_to_new);
    for (unsigned k = 0; k < u->n_peers; k++)
        if (u->peers[k].active)
            src_set_maxdistance(&u->peers[k].assoc.src, cfg->maxdistance);
    for (unsigned j = 0; j < cfg->n_sources; j++)
        if (!new_is_kept[j]) {
            log_line("added", &cfg->sources[j], 0);
            start_resolve(u, j);
        }
    if (added || removed || kept)
        log_info("reload: %u source%s added, %u removed, %u kept", added, added == 1 ? "" : "s", removed, kept);
    if (u->timer >= 0)
        arm_housekeeping(u);
    if (added)
        loop_timer_arm(u->loop, u->timer, 0); /* numeric addresses are resolved already */
    if (removed)
        changed(u);
    return 0;
}

/* ---- the API ---- */

void upstream_init(struct upstream *u, const struct config *cfg, struct sync *sync, struct loop *loop,
                   timesource_time_fn local_time, void *time_ctx, int8_t precision)
{
    memset(u, 0, sizeof *u);
    u->cfg = *cfg; /* a copy: upstream_apply_config changes it */
    u->sync = sync;
    u->loop = loop;
    u->local_time = local_time;
    u->time_ctx = time_ctx;
    u->precision = precision;
    u->timer = -1;
    hwts_open(&u->hwts, cfg); /* before privileges are dropped: it may switch NICs on */
}

void upstream_use_keys(struct upstream *u, const struct symkeys *keys)
{
    u->keys = keys;
}

void upstream_on_change(struct upstream *u, upstream_change_fn fn, void *ctx)
{
    u->on_change = fn;
    u->change_ctx = ctx;
}

int upstream_start(struct upstream *u)
{
    if (u->cfg.n_sources == 0)
        return 0;
    if (ensure_timer(u) < 0)
        return -1;
    for (unsigned i = 0; i < u->cfg.n_sources; i++)
        start_resolve(u, i);
    /* Numeric addresses are resolved already: take them up at the loop's first round. */
    loop_timer_arm(u->loop, u->timer, 0);
    return 0;
}

const struct upstream_peer *upstream_peer_of(const struct upstream *u, unsigned sync_index)
{
    for (unsigned i = 0; i < u->n_peers; i++)
        if (u->peers[i].assoc.sync_index == (int)sync_index)
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
            release_peer(u, &u->peers[i]);
    loop_timer_free(u->loop, u->timer);
    u->n_peers = 0;
    hwts_close(&u->hwts);
}

bool upstream_view(const void *upstream, unsigned sync_index, struct timesource_view *out)
{
    const struct upstream *u = upstream;
    const struct upstream_peer *p = upstream_peer_of(u, sync_index);
    if (!p || !p->active)
        return false;
    out->kind = "ntp";
    snprintf(out->name, sizeof out->name, "%s", upstream_peer_name(u, p));
    snprintf(out->address, sizeof out->address, "%s",
             netaddr_format_port(&p->net, netaddr_port_of(&p->addr.sa)).text);
    snprintf(out->label, sizeof out->label, "%s", netaddr_format(&p->net).text);
    out->poll = src_poll(&p->assoc.src);
    out->reach = src_reach(&p->assoc.src);
    return true;
}

void upstream_stats(const void *upstream, unsigned sync_index, struct kv_out *out)
{
    const struct upstream_peer *p = upstream_peer_of(upstream, sync_index);
    if (!p)
        return;
    const struct source *s = &p->assoc.src;
    kv_add(out, "requests_sent", "%llu", (unsigned long long)src_sent(s));
    /* interleaved: the last sample came from an interleaved reply (RFC 9769) */
    kv_add(out, "mode", "%s", src_last_interleaved(s) ? "interleaved" : "basic");
    kv_add(out, "interleaved_samples", "%llu", (unsigned long long)src_interleaved_samples(s));
    kv_add(out, "kernel_tx_timestamps", "%llu", (unsigned long long)p->ts.kernel_tx);
    kv_add(out, "hardware_tx_timestamps", "%llu", (unsigned long long)p->ts.hardware_tx);
    kv_add(out, "software_tx_timestamps", "%llu", (unsigned long long)p->ts.software_tx);
    kv_add(out, "kernel_rx_timestamps", "%llu", (unsigned long long)p->ts.kernel_rx);
    kv_add(out, "hardware_rx_timestamps", "%llu", (unsigned long long)p->ts.hardware_rx);
    if (p->ts.truncated)
        kv_add(out, "truncated", "%llu", (unsigned long long)p->ts.truncated);
    for (int v = 1; v < SRC_VERDICT_COUNT; v++)
        if (src_count(s, (enum src_verdict)v))
            kv_add(out, src_verdict_name((enum src_verdict)v), "%llu",
                   (unsigned long long)src_count(s, (enum src_verdict)v));
    if (p->nts)
        nts_source_report(p->nts, out);
}

/* nts_ke_server: NTS-KE over TLS 1.3 in a thread of its own; see nts_ke_server.h. */
#include "io/nts_ke_server.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "core/ratelimit.h"
#include "io/log.h"
#include "io/netutil.h"
#include "io/nts_keys.h"
#include "io/sockio.h"

#define POLL_MS 250
#define RESPONSE_MAX 1536

enum conn_state { CONN_FREE = 0, CONN_HANDSHAKE, CONN_READ, CONN_WRITE, CONN_SHUTDOWN };

struct conn {
    enum conn_state state;
    int fd;
    SSL *ssl;
    double accepted;              /* monotonic seconds */
    struct net_addr client;
    struct nts_ke_request req;
    size_t in_len, out_len, out_pos;
    uint8_t in[NTS_KE_MAX_REQUEST];
    uint8_t out[RESPONSE_MAX];
};

struct nts_ke_server {
    unsigned n_listen;
    int listen_fd[CFG_MAX_LISTEN];
    struct nts_keys *keys;
    pthread_mutex_t ctx_lock;     /* guards tls: replaced on reload */
    SSL_CTX *tls;
    struct nts_ke_offer offer;
    char offer_server[CFG_HOST_MAX];
    struct rl_table *rl;
    void *rl_mem;
    pthread_t thread;
    bool thread_started;
    atomic_bool stopping;
    pthread_mutex_t counters_lock;
    struct nts_ke_counters counters;
    struct conn conns[NTS_KE_MAX_CONNECTIONS];
    struct pollfd pfd[CFG_MAX_LISTEN + NTS_KE_MAX_CONNECTIONS];
};

static double mono_now(void)
{
    return (double)sockio_monotonic_ns() * 1e-9;
}

static void count(struct nts_ke_server *s, uint64_t *field)
{
    pthread_mutex_lock(&s->counters_lock);
    (*field)++;
    pthread_mutex_unlock(&s->counters_lock);
}

static void log_tls_error(const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    log_error("NTS-KE: %s: %s", what, e ? buf : "unknown error");
    ERR_clear_error();
}

/* ---- TLS context ---- */

/* RFC 8915 §4: the client must offer ntske/1; without it the handshake fails (no_application_protocol). */
static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg)
{
    (void)ssl, (void)arg;
    static const unsigned char ours[] = "\x07" NTS_ALPN;
    unsigned char *selected;
    if (SSL_select_next_proto(&selected, outlen, ours, sizeof ours - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *tls_context(const struct cfg_nts *nts)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        log_tls_error("cannot create a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 0);
    for (unsigned i = 0; i < nts->n_certs; i++) {
        if (SSL_CTX_use_certificate_chain_file(ctx, nts->cert[i]) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, nts->key[i], SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(ctx) != 1) {
            char what[2 * CFG_PATH_MAX + 32];
            snprintf(what, sizeof what, "certificate %s with key %s", nts->cert[i], nts->key[i]);
            log_tls_error(what);
            SSL_CTX_free(ctx);
            return NULL;
        }
    }
    return ctx;
}

/* ---- sockets ---- */

static int open_listener(const struct net_addr *addr, uint16_t port)
{
    struct sockaddr_storage ss;
    socklen_t len = netaddr_to_sockaddr(addr, port, &ss);
    int fd = socket(addr->family == NET_IPV6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    int one = 1;
    if (fd < 0 || sockio_set_nonblocking(fd) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        (addr->family == NET_IPV6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) ||
        bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 128) < 0) {
        log_error("NTS-KE: cannot listen on %s: %s", netaddr_format_port(addr, port).text, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static void set_offer(struct nts_ke_server *s, const struct config *cfg)
{
    snprintf(s->offer_server, sizeof s->offer_server, "%s", cfg->nts.ntp_server);
    s->offer.server = s->offer_server[0] ? s->offer_server : NULL;
    /* Clients go to port 123 unless told otherwise: tell them when we serve elsewhere. */
    s->offer.port = cfg->nts.ntp_port ? cfg->nts.ntp_port : cfg->port != NTP_PORT ? cfg->port : 0;
}

struct nts_ke_server *nts_ke_server_open(const struct config *cfg, struct nts_keys *keys)
{
    struct nts_ke_server *s = calloc(1, sizeof *s);
    if (!s) {
        log_error("NTS-KE: out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->ctx_lock, NULL);
    pthread_mutex_init(&s->counters_lock, NULL);
    s->keys = keys;
    for (unsigned i = 0; i < NTS_KE_MAX_CONNECTIONS; i++)
        s->conns[i].fd = -1;
    set_offer(s, cfg);
    struct rl_params rl = {.enabled = true, .interval_log2 = cfg->nts.ratelimit_interval_log2,
                           .burst = cfg->nts.ratelimit_burst, .leak_log2 = 0};
    size_t bytes = rl_table_bytes(NTS_KE_CLIENT_TABLE);
    s->rl_mem = calloc(1, bytes);
    s->rl = s->rl_mem ? rl_table_init(s->rl_mem, bytes, NTS_KE_CLIENT_TABLE, &rl, sockio_random64()) : NULL;
    s->tls = tls_context(&cfg->nts);
    if (!s->rl || !s->tls) {
        nts_ke_server_close(s);
        return NULL;
    }
    for (unsigned i = 0; i < cfg->n_listen; i++) {
        int fd = open_listener(&cfg->listen[i], cfg->nts.port);
        if (fd < 0) {
            nts_ke_server_close(s);
            return NULL;
        }
        s->listen_fd[s->n_listen++] = fd;
    }
    return s;
}

/* ---- one connection ---- */

static void conn_close(struct conn *c)
{
    if (c->ssl)
        SSL_free(c->ssl);
    if (c->fd >= 0)
        close(c->fd);
    c->ssl = NULL;
    c->fd = -1;
    c->state = CONN_FREE;
}

static bool export_key(SSL *ssl, uint8_t direction, uint8_t out[NTS_KEY_LEN])
{
    uint8_t context[5];
    store_be16(context, NTS_PROTOCOL_NTPV4);
    store_be16(context + 2, NTS_AEAD_SIV_CMAC_256);
    context[4] = direction;
    return SSL_export_keying_material(ssl, out, NTS_KEY_LEN, NTS_EXPORTER_LABEL, sizeof NTS_EXPORTER_LABEL - 1,
                                      context, sizeof context, 1) == 1;
}

/* Protocol, AEAD, the offer, NTS_COOKIES_PER_KE cookies under the session's keys, End of Message. */
static bool build_response(struct nts_ke_server *s, struct conn *c)
{
    struct nts_session_keys sk;
    size_t pos = nts_ke_response_start(c->out, sizeof c->out, &s->offer);
    bool ok = pos > 0 && export_key(c->ssl, 0, sk.c2s) && export_key(c->ssl, 1, sk.s2c);
    for (unsigned i = 0; ok && i < NTS_COOKIES_PER_KE; i++) {
        uint8_t cookie[NTS_COOKIE_LEN];
        ok = nts_cookie_make(s->keys, &sk, cookie) &&
             nts_ke_record_put(c->out, sizeof c->out, &pos, NTS_KE_COOKIE, false, cookie, sizeof cookie);
    }
    ok = ok && nts_ke_record_put(c->out, sizeof c->out, &pos, NTS_KE_END, true, NULL, 0);
    OPENSSL_cleanse(&sk, sizeof sk);
    c->out_len = ok ? pos : 0;
    return ok;
}

static void start_write(struct nts_ke_server *s, struct conn *c, bool ok)
{
    if (!ok) {
        count(s, &s->counters.failed);
        c->out_len = nts_ke_error_response(c->out, sizeof c->out,
                                           c->req.error ? c->req.error : NTS_KE_ERR_INTERNAL);
    } else {
        count(s, &s->counters.completed);
    }
    c->out_pos = 0;
    c->state = CONN_WRITE;
}

/* What SSL_* said: true to keep the connection (waiting for more), false to close it. */
static bool ssl_would_block(struct conn *c, int rc)
{
    int err = SSL_get_error(c->ssl, rc);
    ERR_clear_error();
    return err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE;
}

static bool step_read(struct nts_ke_server *s, struct conn *c)
{
    for (;;) {
        if (c->in_len == sizeof c->in) {
            c->req.error = NTS_KE_ERR_BAD_REQUEST;
            start_write(s, c, false);
            return true;
        }
        int n = SSL_read(c->ssl, c->in + c->in_len, (int)(sizeof c->in - c->in_len));
        if (n <= 0)
            return ssl_would_block(c, n);
        c->in_len += (size_t)n;
        size_t used;
        enum nts_ke_status st = nts_ke_request_feed(&c->req, c->in, c->in_len, &used);
        memmove(c->in, c->in + used, c->in_len - used);
        c->in_len -= used;
        if (st == NTS_KE_DONE)
            start_write(s, c, build_response(s, c));
        if (st == NTS_KE_BAD)
            start_write(s, c, false);
        if (st != NTS_KE_MORE)
            return true;
    }
}

static bool step_write(struct conn *c)
{
    while (c->out_pos < c->out_len) {
        int n = SSL_write(c->ssl, c->out + c->out_pos, (int)(c->out_len - c->out_pos));
        if (n <= 0)
            return ssl_would_block(c, n);
        c->out_pos += (size_t)n;
    }
    c->state = CONN_SHUTDOWN;
    return SSL_shutdown(c->ssl) == 0;
}

/* Advances a connection as far as its socket allows; closes it when done or failed. */
static void conn_step(struct nts_ke_server *s, struct conn *c)
{
    bool keep = true;
    if (c->state == CONN_HANDSHAKE) {
        int rc = SSL_accept(c->ssl);
        if (rc == 1)
            c->state = CONN_READ;
        else if (!ssl_would_block(c, rc)) {
            count(s, &s->counters.failed);
            keep = false;
        }
    }
    if (keep && c->state == CONN_READ)
        keep = step_read(s, c);
    if (keep && c->state == CONN_WRITE)
        keep = step_write(c);
    else if (keep && c->state == CONN_SHUTDOWN)
        keep = SSL_shutdown(c->ssl) == 0;
    if (!keep)
        conn_close(c);
}

/* ---- accepting ---- */

static unsigned connections_from(const struct nts_ke_server *s, const struct net_addr *client)
{
    unsigned n = 0;
    for (unsigned i = 0; i < NTS_KE_MAX_CONNECTIONS; i++)
        if (s->conns[i].state != CONN_FREE && s->conns[i].client.family == client->family &&
            memcmp(s->conns[i].client.bytes, client->bytes, sizeof client->bytes) == 0)
            n++;
    return n;
}

/* How far a connection has got: 0 no ClientHello yet, 1 handshake under way, 2 past it. */
static int progress(const struct conn *c)
{
    if (c->state != CONN_HANDSHAKE)
        return 2;
    return SSL_get_state(c->ssl) == TLS_ST_BEFORE ? 0 : 1;
}

/*
 * A free slot, or one taken from another connection: the oldest of those that
 * got least far (no ClientHello, then a handshake under way, then the rest). A
 * flood of idle or dribbling connections thus only ever displaces its own kind,
 * and a client whose handshake is done keeps its slot.
 */
static struct conn *free_slot(struct nts_ke_server *s)
{
    struct conn *victim = NULL;
    int victim_progress = 3;
    for (unsigned i = 0; i < NTS_KE_MAX_CONNECTIONS; i++) {
        struct conn *c = &s->conns[i];
        if (c->state == CONN_FREE)
            return c;
        int p = progress(c);
        if (p < victim_progress || (p == victim_progress && c->accepted < victim->accepted)) {
            victim = c;
            victim_progress = p;
        }
    }
    count(s, &s->counters.evicted);
    conn_close(victim);
    return victim;
}

static SSL *new_ssl(struct nts_ke_server *s, int fd)
{
    pthread_mutex_lock(&s->ctx_lock);
    SSL *ssl = SSL_new(s->tls);
    pthread_mutex_unlock(&s->ctx_lock);
    if (ssl && SSL_set_fd(ssl, fd) == 1)
        return ssl;
    SSL_free(ssl);
    ERR_clear_error();
    return NULL;
}

static bool admit(struct nts_ke_server *s, const struct net_addr *client, double now)
{
    uint64_t now_ns = (uint64_t)(now * 1e9);
    if (rl_check(s->rl, client, now_ns) != RL_PASS || connections_from(s, client) >= NTS_KE_MAX_PER_CLIENT) {
        count(s, &s->counters.rate_limited);
        return false;
    }
    return true;
}

/* Takes one waiting connection; false when none was waiting. */
static bool accept_one(struct nts_ke_server *s, int lfd, double now)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int fd = accept(lfd, (struct sockaddr *)&ss, &len);
    if (fd < 0)
        return errno == EINTR || errno == ECONNABORTED;
    struct net_addr client;
    SSL *ssl = NULL;
    if (!netaddr_from_sockaddr(&ss, &client) || !admit(s, &client, now) || sockio_set_nonblocking(fd) < 0 ||
        !(ssl = new_ssl(s, fd))) {
        close(fd);
        return true;
    }
    count(s, &s->counters.accepted);
    struct conn *c = free_slot(s);
    c->state = CONN_HANDSHAKE;
    c->fd = fd;
    c->ssl = ssl;
    c->accepted = now;
    c->client = client;
    nts_ke_request_init(&c->req);
    c->in_len = c->out_len = c->out_pos = 0;
    conn_step(s, c);
    return true;
}

/* ---- the thread ---- */

static short conn_events(const struct conn *c)
{
    if (c->state == CONN_HANDSHAKE || c->state == CONN_SHUTDOWN)
        return SSL_want_write(c->ssl) ? POLLOUT : POLLIN;
    return c->state == CONN_WRITE ? POLLOUT : POLLIN;
}

static unsigned build_poll_set(struct nts_ke_server *s, unsigned conn_of[])
{
    unsigned n = 0;
    for (unsigned i = 0; i < s->n_listen; i++)
        s->pfd[n++] = (struct pollfd){.fd = s->listen_fd[i], .events = POLLIN};
    for (unsigned i = 0; i < NTS_KE_MAX_CONNECTIONS; i++) {
        if (s->conns[i].state == CONN_FREE)
            continue;
        conn_of[n] = i;
        s->pfd[n++] = (struct pollfd){.fd = s->conns[i].fd, .events = conn_events(&s->conns[i])};
    }
    return n;
}

static void expire(struct nts_ke_server *s, double now)
{
    for (unsigned i = 0; i < NTS_KE_MAX_CONNECTIONS; i++) {
        if (s->conns[i].state != CONN_FREE && now - s->conns[i].accepted > NTS_KE_TIMEOUT) {
            count(s, &s->counters.timed_out);
            conn_close(&s->conns[i]);
        }
    }
}

/* Accepts a bounded number per round, so connections already open keep being served under a flood. */
#define ACCEPTS_PER_ROUND 32

static void run_round(struct nts_ke_server *s)
{
    unsigned conn_of[CFG_MAX_LISTEN + NTS_KE_MAX_CONNECTIONS];
    unsigned n = build_poll_set(s, conn_of);
    int ready = poll(s->pfd, n, POLL_MS);
    double now = mono_now();
    for (unsigned i = s->n_listen; ready > 0 && i < n; i++)
        if (s->pfd[i].revents && s->conns[conn_of[i]].fd == s->pfd[i].fd)
            conn_step(s, &s->conns[conn_of[i]]);
    for (unsigned i = 0; ready > 0 && i < s->n_listen; i++)
        for (unsigned k = 0; k < ACCEPTS_PER_ROUND && (s->pfd[i].revents & POLLIN); k++)
            if (!accept_one(s, s->listen_fd[i], now))
                break;
    expire(s, now);
    nts_keys_rotate(s->keys, time(NULL));
}

static void *ke_thread(void *arg)
{
    struct nts_ke_server *s = arg;
    while (!atomic_load(&s->stopping))
        run_round(s);
    return NULL;
}

int nts_ke_server_start(struct nts_ke_server *s)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&s->thread, NULL, ke_thread, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        log_error("NTS-KE: cannot start its thread: %s", strerror(rc));
        return -1;
    }
    s->thread_started = true;
    return 0;
}

int nts_ke_server_reload(struct nts_ke_server *s, const struct config *cfg)
{
    SSL_CTX *fresh = tls_context(&cfg->nts);
    if (!fresh) {
        log_error("NTS-KE: certificates not reloaded; the previous ones stay in use");
        return -1;
    }
    pthread_mutex_lock(&s->ctx_lock);
    SSL_CTX *old = s->tls;
    s->tls = fresh;
    pthread_mutex_unlock(&s->ctx_lock);
    /* Connections under way hold their own reference to the old context. */
    SSL_CTX_free(old);
    log_info("NTS-KE: certificates reloaded");
    return 0;
}

void nts_ke_server_get_counters(struct nts_ke_server *s, struct nts_ke_counters *out)
{
    pthread_mutex_lock(&s->counters_lock);
    *out = s->counters;
    pthread_mutex_unlock(&s->counters_lock);
}

void nts_ke_server_close(struct nts_ke_server *s)
{
    if (!s)
        return;
    atomic_store(&s->stopping, true);
    if (s->thread_started)
        pthread_join(s->thread, NULL);
    for (unsigned i = 0; i < NTS_KE_MAX_CONNECTIONS; i++)
        if (s->conns[i].state != CONN_FREE)
            conn_close(&s->conns[i]);
    for (unsigned i = 0; i < s->n_listen; i++)
        close(s->listen_fd[i]);
    SSL_CTX_free(s->tls);
    free(s->rl_mem);
    pthread_mutex_destroy(&s->ctx_lock);
    pthread_mutex_destroy(&s->counters_lock);
    free(s);
}

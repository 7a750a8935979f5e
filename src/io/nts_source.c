/* nts_source: NTS-KE for an upstream source, in the event loop; see nts_source.h. */
#include "io/nts_source.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "io/atomicfile.h"
#include "io/auth_nts.h"
#include "io/log.h"
#include "io/netutil.h"

/* ---- the saved session: keys, then cookies, in binary with a length before each cookie ---- */

#define SAVE_MAGIC "horloge-nts-session-1\n"

static void save_session(const struct nts_source *s)
{
    const struct nts_client *c = &s->session;
    if (!s->save_path[0] || nts_client_needs_ke(c))
        return;
    uint8_t data[sizeof SAVE_MAGIC + sizeof c->keys + NTS_COOKIES_PER_KE * (2 + NTS_COOKIE_MAX_LEN)];
    size_t pos = sizeof SAVE_MAGIC - 1;
    memcpy(data, SAVE_MAGIC, pos);
    memcpy(data + pos, &c->keys, sizeof c->keys);
    pos += sizeof c->keys;
    for (unsigned i = 0; i < c->n_cookies; i++) {
        data[pos++] = (uint8_t)(c->cookie_len[i] >> 8);
        data[pos++] = (uint8_t)c->cookie_len[i];
        memcpy(data + pos, c->cookies[i], c->cookie_len[i]);
        pos += c->cookie_len[i];
    }
    if (atomicfile_write(s->save_path, data, pos, 0600) < 0)
        log_warn("NTS %s: cannot save the session to %s: %s", s->host, s->save_path, strerror(errno));
    OPENSSL_cleanse(data, sizeof data);
}

static void load_session(struct nts_source *s)
{
    FILE *f = s->save_path[0] ? fopen(s->save_path, "rb") : NULL;
    if (!f)
        return;
    char magic[sizeof SAVE_MAGIC];
    struct nts_session_keys keys;
    static struct nts_ke_response resp;
    nts_ke_response_init(&resp);
    bool ok = fread(magic, sizeof SAVE_MAGIC - 1, 1, f) == 1 && memcmp(magic, SAVE_MAGIC, sizeof SAVE_MAGIC - 1) == 0 &&
              fread(&keys, sizeof keys, 1, f) == 1;
    uint8_t len[2];
    while (ok && resp.n_cookies < NTS_COOKIES_PER_KE && fread(len, 2, 1, f) == 1) {
        uint16_t n = (uint16_t)(len[0] << 8 | len[1]);
        ok = n > 0 && n <= NTS_COOKIE_MAX_LEN && fread(resp.cookies[resp.n_cookies], n, 1, f) == 1;
        if (ok)
            resp.cookie_len[resp.n_cookies++] = n;
    }
    fclose(f);
    if (ok && resp.n_cookies > 0) {
        nts_client_start_session(&s->session, &keys, &resp);
        log_info("NTS %s: session read from %s (%u cookies)", s->host, s->save_path, resp.n_cookies);
    }
    OPENSSL_cleanse(&keys, sizeof keys);
    OPENSSL_cleanse(&resp, sizeof resp);
}

/* ---- the handshake in the loop ---- */

static void end_handshake(struct nts_source *s)
{
    if (!s->ke_running)
        return;
    loop_unwatch_fd(s->loop, s->ke.fd);
    nts_ke_client_end(&s->ke);
    s->ke_running = false;
    loop_timer_disarm(s->loop, s->timer);
}

static void handshake_failed(struct nts_source *s, const char *why)
{
    end_handshake(s);
    s->failures++;
    log_warn("NTS-KE with %s (%s) failed: %s; next try in %.0f s", s->host,
             netaddr_format_port(&s->addr, s->ke_port).text, why, s->retry_after);
    s->not_before = loop_now(s->loop) + s->retry_after;
    s->retry_after = s->retry_after * 2 > NTS_SOURCE_RETRY_MAX ? NTS_SOURCE_RETRY_MAX : s->retry_after * 2;
}

static void handshake_done(struct nts_source *s)
{
    uint16_t port = s->ke.resp.port;
    nts_client_start_session(&s->session, &s->ke.keys, &s->ke.resp);
    if (s->ke.resp.server[0] && strcmp(s->ke.resp.server, s->host) != 0)
        log_warn("NTS %s: the server names NTP server %s; asking %s all the same", s->host, s->ke.resp.server,
                 netaddr_format(&s->addr).text);
    log_info("NTS-KE with %s: %u cookies%s", s->host, s->ke.resp.n_cookies, port ? ", NTP port given" : "");
    end_handshake(s);
    OPENSSL_cleanse(&s->ke.keys, sizeof s->ke.keys);
    s->handshakes++;
    s->retry_after = NTS_SOURCE_RETRY_MIN;
    save_session(s);
    if (s->ready)
        s->ready(s->ready_ctx, port);
}

static void handshake_step(struct nts_source *s)
{
    switch (nts_ke_client_step(&s->ke)) {
    case NTS_KEC_WANT_READ:
        loop_set_events(s->loop, s->ke.fd, POLLIN);
        break;
    case NTS_KEC_WANT_WRITE:
        loop_set_events(s->loop, s->ke.fd, POLLOUT);
        break;
    case NTS_KEC_DONE:
        handshake_done(s);
        break;
    case NTS_KEC_FAILED:
        handshake_failed(s, s->ke.error);
        break;
    }
}

static void handshake_ready(void *ctx, int fd, short revents)
{
    (void)fd, (void)revents;
    handshake_step(ctx);
}

static void handshake_timer(void *ctx)
{
    struct nts_source *s = ctx;
    if (s->ke_running)
        handshake_failed(s, "no answer in time");
}

static void start_handshake(struct nts_source *s)
{
    if (nts_ke_client_begin(&s->ke, &s->addr, s->ke_port, s->host, s->trusted) < 0) {
        s->ke_running = false;
        handshake_failed(s, s->ke.error);
        return;
    }
    if (loop_watch_fd(s->loop, s->ke.fd, POLLOUT, handshake_ready, s) < 0) {
        nts_ke_client_end(&s->ke);
        handshake_failed(s, "no room in the event loop");
        return;
    }
    s->ke_running = true;
    loop_timer_arm(s->loop, s->timer, NTS_SOURCE_KE_TIMEOUT);
    handshake_step(s);
}

void nts_source_poll(struct nts_source *s)
{
    if (s->ke_running || !nts_client_needs_ke(&s->session) || loop_now(s->loop) < s->not_before)
        return;
    if (s->session.nak)
        log_info("NTS %s: NTS NAK from the server; new handshake", s->host);
    start_handshake(s);
}

int nts_source_init(struct nts_source *s, struct loop *loop, const struct cfg_source *cs,
                    const struct net_addr *addr, const struct config *cfg, nts_source_ready_fn ready, void *ctx)
{
    memset(s, 0, sizeof *s);
    s->loop = loop;
    s->addr = *addr;
    s->ke_port = cs->nts_port;
    s->ke.fd = -1;
    s->retry_after = NTS_SOURCE_RETRY_MIN;
    s->ready = ready;
    s->ready_ctx = ctx;
    snprintf(s->host, sizeof s->host, "%s", cs->host);
    snprintf(s->trusted, sizeof s->trusted, "%s", cfg->nts.trusted_certs);
    if (cfg->nts.dumpdir[0])
        snprintf(s->save_path, sizeof s->save_path, "%s/%s-%u.nts", cfg->nts.dumpdir, netaddr_format(addr).text,
                 cs->nts_port);
    s->timer = loop_timer_new(loop, handshake_timer, s);
    if (s->timer < 0) {
        log_error("NTS %s: no room for a timer in the event loop", s->host);
        return -1;
    }
    load_session(s);
    return 0;
}

struct auth_instance nts_source_auth(struct nts_source *s)
{
    return (struct auth_instance){.ops = &auth_nts, .ctx = &s->session};
}

void nts_source_report(const struct nts_source *s, struct kv_out *out)
{
    const struct nts_client *c = &s->session;
    kv_add(out, "nts_handshakes", "%llu", (unsigned long long)s->handshakes);
    kv_add(out, "nts_handshake_failures", "%llu", (unsigned long long)s->failures);
    kv_add(out, "nts_authenticated", "%llu", (unsigned long long)c->authenticated);
    kv_add(out, "nts_refused", "%llu", (unsigned long long)c->refused);
    kv_add(out, "nts_naks", "%llu", (unsigned long long)c->naks);
    kv_add(out, "nts_cookies", "%u", c->n_cookies);
}

void nts_source_close(struct nts_source *s)
{
    end_handshake(s);
    save_session(s);
    loop_timer_free(s->loop, s->timer);
    s->timer = -1;
    OPENSSL_cleanse(&s->session, sizeof s->session);
}

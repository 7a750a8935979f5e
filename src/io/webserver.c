/* webserver: libmicrohttpd inside the event loop; see webserver.h. */
#include "io/webserver.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>

#include <microhttpd.h>

#include "io/events.h"
#include "io/log.h"
#include "io/netutil.h"

static void sync_fds(struct webserver *w);

static enum MHD_Result send_page(struct MHD_Connection *conn, unsigned status, const char *type, void *body,
                                 size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (!r) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ok = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size,
                                  void **con_cls)
{
    struct webserver *w = cls;
    (void)version, (void)upload_data, (void)con_cls;
    static char not_allowed[] = "only GET\n", failed[] = "internal error\n";
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        *upload_size = 0;
        return send_page(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", not_allowed, sizeof not_allowed - 1,
                         MHD_RESPMEM_PERSISTENT);
    }
    struct web_page page = {0};
    if (w->page(w->ctx, url, &page) < 0 || !page.body) {
        free(page.body);
        return send_page(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", failed, sizeof failed - 1,
                         MHD_RESPMEM_PERSISTENT);
    }
    return send_page(conn, page.status, page.content_type, page.body, page.len, MHD_RESPMEM_MUST_FREE);
}

/* Runs MHD on what poll() reported for one descriptor (or on nothing, when its timer fired). */
static void run_mhd(struct webserver *w, int fd, short revents)
{
    fd_set rs, ws, es;
    FD_ZERO(&rs);
    FD_ZERO(&ws);
    FD_ZERO(&es);
    if (fd >= 0 && (revents & (POLLIN | POLLHUP | POLLERR)))
        FD_SET(fd, &rs);
    if (fd >= 0 && (revents & (POLLOUT | POLLERR)))
        FD_SET(fd, &ws);
    MHD_run_from_select(w->mhd, &rs, &ws, &es);
    sync_fds(w);
}

static void on_fd(void *ctx, int fd, short revents)
{
    run_mhd(ctx, fd, revents);
}

static void on_timer(void *ctx)
{
    run_mhd(ctx, -1, 0);
}

static int find_fd(const struct webserver *w, int fd)
{
    for (unsigned i = 0; i < w->n_fds; i++)
        if (w->fds[i] == fd)
            return (int)i;
    return -1;
}

static short wanted_events(int fd, const fd_set *rs, const fd_set *ws)
{
    return (short)((FD_ISSET(fd, rs) ? POLLIN : 0) | (FD_ISSET(fd, ws) ? POLLOUT : 0));
}

/* Keeps the loop's watches equal to MHD's fd sets, and its timer to MHD's timeout. */
static void sync_fds(struct webserver *w)
{
    fd_set rs, ws, es;
    FD_ZERO(&rs);
    FD_ZERO(&ws);
    FD_ZERO(&es);
    MHD_socket max_fd = -1;
    if (MHD_get_fdset2(w->mhd, &rs, &ws, &es, &max_fd, FD_SETSIZE) != MHD_YES)
        max_fd = -1;
    for (unsigned i = 0; i < w->n_fds;) {
        if (w->fds[i] <= max_fd && wanted_events(w->fds[i], &rs, &ws)) {
            i++;
            continue;
        }
        loop_unwatch_fd(w->loop, w->fds[i]);
        w->n_fds--;
        w->fds[i] = w->fds[w->n_fds];
        w->events[i] = w->events[w->n_fds];
    }
    for (int fd = 0; fd <= max_fd; fd++) {
        short ev = wanted_events(fd, &rs, &ws);
        int i = ev ? find_fd(w, fd) : -1;
        if (!ev)
            continue;
        if (i >= 0 && w->events[i] != ev) {
            loop_set_events(w->loop, fd, ev);
            w->events[i] = ev;
        } else if (i < 0 && w->n_fds < WEB_MAX_FDS && loop_watch_fd(w->loop, fd, ev, on_fd, w) == 0) {
            w->fds[w->n_fds] = fd;
            w->events[w->n_fds++] = ev;
        }
    }
    MHD_UNSIGNED_LONG_LONG ms;
    if (MHD_get_timeout(w->mhd, &ms) == MHD_YES)
        loop_timer_arm(w->loop, w->timer, (double)ms / 1000.0);
    else
        loop_timer_disarm(w->loop, w->timer);
}

/* What clients make MHD say (a connection limit reached, a bad request) shares the event log's budget. */
__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct webserver *w = cls;
    char text[sizeof w->start_error];
    vsnprintf(text, sizeof text, fmt, ap);
    size_t n = strlen(text);
    if (n && text[n - 1] == '\n')
        text[n - 1] = '\0';
    /* While starting, what MHD says becomes part of the one error line, if start fails. */
    if (!w->mhd) {
        memcpy(w->start_error, text, sizeof text);
        return;
    }
    if (!events_budget_take(&w->log_budget, loop_now(w->loop)))
        return;
    if (w->log_budget.suppressed)
        log_warn("metrics %s: %s (%u such lines not logged before this one)", w->where, text, w->log_budget.suppressed);
    else
        log_warn("metrics %s: %s", w->where, text);
    w->log_budget.suppressed = 0;
}

int webserver_open(struct webserver *w, const struct net_addr *addr, uint16_t port, struct loop *loop,
                   web_page_fn page, void *ctx)
{
    memset(w, 0, sizeof *w);
    w->loop = loop;
    w->page = page;
    w->ctx = ctx;
    snprintf(w->where, sizeof w->where, "%s", netaddr_format_port(addr, port).text);
    struct sockaddr_storage ss;
    netaddr_to_sockaddr(addr, port, &ss);
    w->timer = loop_timer_new(loop, on_timer, w);
    if (w->timer < 0) {
        log_error("metrics %s: no room for a timer in the event loop", w->where);
        return -1;
    }
    unsigned flags = MHD_USE_ERROR_LOG | (addr->family == NET_IPV6 ? MHD_USE_IPv6 : 0);
    /* The logger first: MHD logs through its default one until it has seen it. */
    w->mhd = MHD_start_daemon(flags, port, NULL, NULL, on_request, w, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, w,
                              MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)WEB_MAX_CONNECTIONS,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)WEB_CONNECTION_TIMEOUT, MHD_OPTION_END);
    if (!w->mhd) {
        log_error("metrics %s: cannot serve HTTP there: %s", w->where,
                  w->start_error[0] ? w->start_error : errno ? strerror(errno) : "libmicrohttpd refused");
        loop_timer_free(loop, w->timer);
        return -1;
    }
    sync_fds(w);
    snprintf(w->where, sizeof w->where, "%s", netaddr_format_port(addr, webserver_port(w)).text);
    log_info("metrics and status page on http://%s/", w->where);
    return 0;
}

uint16_t webserver_port(const struct webserver *w)
{
    const union MHD_DaemonInfo *info = w->mhd ? MHD_get_daemon_info(w->mhd, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    return info ? info->port : 0;
}

void webserver_close(struct webserver *w)
{
    if (!w->mhd)
        return;
    for (unsigned i = 0; i < w->n_fds; i++)
        loop_unwatch_fd(w->loop, w->fds[i]);
    w->n_fds = 0;
    loop_timer_free(w->loop, w->timer);
    MHD_stop_daemon(w->mhd);
    w->mhd = NULL;
}

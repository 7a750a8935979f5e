/* control: control socket server and client; see control.h. */
#include "io/control.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "io/log.h"
#include "io/sockio.h"

__attribute__((format(printf, 2, 0))) static void kv_vappend(struct kv_out *out, const char *fmt, va_list ap)
{
    if (out->overflow)
        return;
    int n = vsnprintf(out->buf + out->len, out->cap - out->len, fmt, ap);
    if (n < 0 || (size_t)n >= out->cap - out->len) {
        out->overflow = true;
        out->buf[out->len] = '\0';
        return;
    }
    out->len += (size_t)n;
}

__attribute__((format(printf, 2, 3))) static void kv_append(struct kv_out *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kv_vappend(out, fmt, ap);
    va_end(ap);
}

void kv_add(struct kv_out *out, const char *key, const char *fmt, ...)
{
    size_t mark = out->len;
    kv_append(out, "%s=", key);
    va_list ap;
    va_start(ap, fmt);
    kv_vappend(out, fmt, ap);
    va_end(ap);
    /* Values never carry newlines: they would split the record. */
    for (size_t i = mark; i < out->len; i++)
        if (out->buf[i] == '\n' || out->buf[i] == '\r')
            out->buf[i] = ' ';
    kv_append(out, "\n");
}

void kv_end_record(struct kv_out *out)
{
    kv_append(out, "--\n");
}

void kv_error(struct kv_out *out, const char *fmt, ...)
{
    out->len = 0;
    out->overflow = false;
    kv_append(out, "error ");
    va_list ap;
    va_start(ap, fmt);
    kv_vappend(out, fmt, ap);
    va_end(ap);
    kv_append(out, "\n");
}

static int fill_sockaddr(const char *path, struct sockaddr_un *sun)
{
    memset(sun, 0, sizeof *sun);
    sun->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sun->sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(sun->sun_path, path);
    return 0;
}

/* The listening socket, non-blocking: accept() in the loop must never wait. */
static int open_listener(const char *path)
{
    struct sockaddr_un sun;
    if (fill_sockaddr(path, &sun) < 0) {
        log_error("control socket %s: path too long", path);
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
        log_warn("control socket %s: %s", path, strerror(errno));
        return -1;
    }
    unlink(path);
    mode_t old = umask(0117);
    int r = bind(fd, (struct sockaddr *)&sun, sizeof sun);
    umask(old);
    if (r < 0 || chmod(path, 0660) < 0 || listen(fd, CONTROL_MAX_CLIENTS) < 0 || sockio_set_nonblocking(fd) < 0) {
        log_warn("control socket %s: %s (the CLI will not reach this daemon)", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static void conn_close(struct control_conn *c)
{
    if (c->fd < 0)
        return;
    loop_unwatch_fd(c->cs->loop, c->fd);
    loop_timer_free(c->cs->loop, c->deadline);
    close(c->fd);
    free(c->answer);
    *c = (struct control_conn){.cs = c->cs, .fd = -1, .deadline = -1};
}

static void conn_on_deadline(void *ctx)
{
    struct control_conn *c = ctx;
    log_debug("control connection closed after %.0f s without finishing", CONTROL_DEADLINE_SECONDS);
    conn_close(c);
}

/* Produces the answer once, into a copy of its own size: a stuck reader holds no more than that. */
static void conn_answer(struct control_conn *c)
{
    struct control_server *cs = c->cs;
    struct kv_out out = {.buf = cs->scratch, .cap = CONTROL_MAX_RESPONSE};
    kv_append(&out, "ok\n");
    cs->handler(cs->ctx, c->req, &out);
    if (out.overflow)
        kv_error(&out, "response too large");
    c->answer = malloc(out.len ? out.len : 1);
    if (!c->answer) {
        log_error("control: out of memory for a %zu-byte answer", out.len);
        conn_close(c);
        return;
    }
    memcpy(c->answer, out.buf, out.len);
    c->answer_len = out.len;
    loop_set_events(cs->loop, c->fd, POLLOUT);
}

/* Reads what has arrived of the request line; at its '\n', answers. EOF or an overlong line closes. */
static void conn_read(struct control_conn *c)
{
    ssize_t n = read(c->fd, c->req + c->req_len, sizeof c->req - 1 - c->req_len);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        conn_close(c);
        return;
    }
    c->req_len += (size_t)n;
    c->req[c->req_len] = '\0';
    char *nl = memchr(c->req, '\n', c->req_len);
    if (nl) {
        *nl = '\0';
        conn_answer(c);
    } else if (c->req_len == sizeof c->req - 1) {
        conn_close(c);
    }
}

static void conn_write(struct control_conn *c)
{
    ssize_t n = send(c->fd, c->answer + c->sent, c->answer_len - c->sent, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n > 0)
        c->sent += (size_t)n;
    if (n <= 0 || c->sent == c->answer_len)
        conn_close(c);
}

static void conn_on_ready(void *ctx, int fd, short revents)
{
    (void)fd;
    struct control_conn *c = ctx;
    if (revents & (POLLERR | POLLNVAL))
        conn_close(c);
    else if (!c->answer)
        conn_read(c); /* POLLHUP included: the read sees the end */
    else
        conn_write(c);
}

static struct control_conn *free_conn(struct control_server *cs)
{
    for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++)
        if (cs->conns[i].fd < 0)
            return &cs->conns[i];
    return NULL;
}

/* Takes an accepted connection into a free slot; beyond CONTROL_MAX_CLIENTS it is closed at once. */
static void conn_start(struct control_server *cs, int fd)
{
    struct control_conn *c = free_conn(cs);
    if (!c || sockio_set_nonblocking(fd) < 0) {
        if (!c)
            log_debug("control: %u connections open already; one more closed", CONTROL_MAX_CLIENTS);
        close(fd);
        return;
    }
    c->fd = fd;
    c->deadline = loop_timer_new(cs->loop, conn_on_deadline, c);
    if (c->deadline < 0 || loop_watch_fd(cs->loop, fd, POLLIN, conn_on_ready, c) < 0) {
        log_warn("control: the event loop is full; connection closed");
        loop_timer_free(cs->loop, c->deadline);
        *c = (struct control_conn){.cs = cs, .fd = -1, .deadline = -1};
        close(fd);
        return;
    }
    loop_timer_arm(cs->loop, c->deadline, CONTROL_DEADLINE_SECONDS);
}

/* accept(), not accept4(): an LD_PRELOAD network simulator may not provide the latter. */
static void control_on_listener(void *ctx, int fd, short revents)
{
    (void)revents;
    struct control_server *cs = ctx;
    for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++) {
        int conn = accept(fd, NULL, NULL);
        if (conn < 0)
            return;
        conn_start(cs, conn);
    }
}

int control_open(struct control_server *cs, const char *path, struct loop *loop,
                 control_handler handler, void *ctx)
{
    *cs = (struct control_server){.open = true, .loop = loop, .handler = handler, .ctx = ctx};
    for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++)
        cs->conns[i] = (struct control_conn){.cs = cs, .fd = -1, .deadline = -1};
    snprintf(cs->path, sizeof cs->path, "%s", path);
    cs->listen_fd = open_listener(path);
    cs->scratch = malloc(CONTROL_MAX_RESPONSE);
    if (cs->listen_fd >= 0 && !cs->scratch)
        log_error("control socket %s: out of memory", path);
    else if (cs->listen_fd >= 0 && loop_watch_fd(loop, cs->listen_fd, POLLIN, control_on_listener, cs) < 0)
        log_error("control socket %s: the event loop is full", path);
    else if (cs->listen_fd >= 0)
        return 0;
    control_close(cs);
    return -1;
}

void control_close(struct control_server *cs)
{
    if (!cs->open)
        return;
    for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++)
        conn_close(&cs->conns[i]);
    if (cs->listen_fd >= 0) {
        loop_unwatch_fd(cs->loop, cs->listen_fd);
        close(cs->listen_fd);
        unlink(cs->path);
    }
    free(cs->scratch);
    *cs = (struct control_server){.open = false, .listen_fd = -1};
}

unsigned control_connections(const struct control_server *cs)
{
    unsigned n = 0;
    for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++)
        n += cs->open && cs->conns[i].fd >= 0;
    return n;
}

int control_request(const char *path, const char *command, char *resp, size_t cap)
{
    struct sockaddr_un sun;
    if (fill_sockaddr(path, &sun) < 0)
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    char line[CONTROL_MAX_REQUEST];
    int n = snprintf(line, sizeof line, "%s\n", command);
    if (n < 0 || (size_t)n >= sizeof line || write(fd, line, (size_t)n) != n) {
        close(fd);
        errno = EMSGSIZE;
        return -1;
    }
    size_t len = 0;
    ssize_t r;
    while (len < cap - 1 && (r = read(fd, resp + len, cap - 1 - len)) > 0)
        len += (size_t)r;
    resp[len] = '\0';
    close(fd);
    return 0;
}

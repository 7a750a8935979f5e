/* control: control socket server and client; see control.h. */
#include "io/control.h"

#include <errno.h>
#include <fcntl.h>
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

/* A slow or stuck client may not hold up serving (which shares the main loop with threads 1). */
#define CONTROL_IO_TIMEOUT_MS 200

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

int control_open(const char *path)
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
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    unlink(path);
    mode_t old = umask(0117);
    int r = bind(fd, (struct sockaddr *)&sun, sizeof sun);
    umask(old);
    if (r < 0 || chmod(path, 0660) < 0 || listen(fd, 16) < 0) {
        log_warn("control socket %s: %s (the CLI will not reach this daemon)", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

void control_close(int listen_fd, const char *path)
{
    if (listen_fd < 0)
        return;
    close(listen_fd);
    unlink(path);
}

/* Reads one request line, waiting at most CONTROL_IO_TIMEOUT_MS. Returns its length or -1. */
static int read_request(int fd, char *req, size_t cap)
{
    size_t len = 0;
    while (len < cap - 1) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, CONTROL_IO_TIMEOUT_MS) <= 0)
            return -1;
        ssize_t n = read(fd, req + len, cap - 1 - len);
        if (n <= 0)
            return -1;
        len += (size_t)n;
        req[len] = '\0';
        char *nl = strchr(req, '\n');
        if (nl) {
            *nl = '\0';
            return (int)(nl - req);
        }
    }
    return -1;
}

static void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        if (poll(&p, 1, CONTROL_IO_TIMEOUT_MS) <= 0)
            return;
        ssize_t n = write(fd, buf, len);
        if (n <= 0)
            return;
        buf += n;
        len -= (size_t)n;
    }
}

void control_serve_one(int listen_fd, control_handler handler, void *ctx)
{
    int fd = accept(listen_fd, NULL, NULL);
    if (fd < 0)
        return;
    char req[CONTROL_MAX_REQUEST];
    struct kv_out out = {.cap = CONTROL_MAX_RESPONSE};
    out.buf = malloc(out.cap);
    if (out.buf && read_request(fd, req, sizeof req) >= 0) {
        kv_append(&out, "ok\n");
        handler(ctx, req, &out);
        if (out.overflow)
            kv_error(&out, "response too large");
        write_all(fd, out.buf, out.len);
    }
    free(out.buf);
    close(fd);
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

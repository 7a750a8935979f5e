/*
 * webserver: the `metrics ADDRESS:PORT` HTTP endpoint, served by
 * libmicrohttpd (no HTTP parser of our own) inside the daemon's event loop.
 *
 * Owns: the MHD daemon in external-select mode — no thread of its own, so
 * `threads 0` stays one thread waiting only in poll() —, the descriptors it
 * asks to be watched (registered with loop_watch_fd and kept in step with
 * MHD's fd sets after every run) and its timeout as a loop timer. It answers
 * GET (and HEAD) only, at most WEB_MAX_CONNECTIONS at once, each dropped
 * after WEB_CONNECTION_TIMEOUT idle seconds; the pages themselves come from
 * the caller's function.
 */
#ifndef HORLOGE_WEBSERVER_H
#define HORLOGE_WEBSERVER_H

#include <stddef.h>
#include <stdint.h>

#include "core/netaddr.h"
#include "io/events.h"
#include "io/loop.h"

#define WEB_MAX_CONNECTIONS 16
#define WEB_CONNECTION_TIMEOUT 5
/* The listening socket and the connections, with room to spare. */
#define WEB_MAX_FDS (WEB_MAX_CONNECTIONS + 4)

struct web_page {
    unsigned status;          /* 200, 404 */
    const char *content_type;
    char *body;               /* malloc'd; the server frees it */
    size_t len;
};

/* Fills *out for `url`; 0, or -1 when the page could not be made (a 500 is sent). */
typedef int (*web_page_fn)(void *ctx, const char *url, struct web_page *out);

struct webserver {
    struct MHD_Daemon *mhd;   /* NULL: not serving */
    struct loop *loop;
    int timer;
    unsigned n_fds;
    int fds[WEB_MAX_FDS];
    short events[WEB_MAX_FDS];
    web_page_fn page;
    void *ctx;
    char where[64];           /* "127.0.0.1:9123", for the log */
    struct events_budget log_budget;
    char start_error[160];    /* MHD's last word while starting */
};

/* Binds and registers with `loop`; 0, or -1 (logged) and w not serving. */
int webserver_open(struct webserver *w, const struct net_addr *addr, uint16_t port, struct loop *loop,
                   web_page_fn page, void *ctx);
/* The port it listens on (port 0 asked: the one the kernel chose). */
uint16_t webserver_port(const struct webserver *w);
/* Stops serving and unregisters. No-op when not serving. */
void webserver_close(struct webserver *w);

#endif

/*
 * control: the local control socket between horloged and the horloge CLI.
 *
 * Owns: the Unix stream socket (mode 0660) and its protocol. A client sends
 * one command line (at most CONTROL_MAX_REQUEST bytes, ending in '\n'); the
 * daemon answers with lines and closes:
 *     ok                    or   error MESSAGE
 *     key=value             (zero or more)
 *     --                    (ends a record, for lists such as clients)
 * Keys are [a-z0-9_.]; values have no newline. The CLI renders text or JSON
 * from these, so the daemon has one representation to keep right.
 *
 * The daemon's side never blocks the event loop it shares with the sources
 * (and, with `threads 0`, with serving): the listening socket and every
 * connection are registered with the loop and non-blocking; a connection
 * reads its request line as it arrives, the answer is produced once, then
 * written as the socket takes it. At most CONTROL_MAX_CLIENTS connections at
 * once (more are closed at once), each closed CONTROL_DEADLINE_SECONDS after
 * it was accepted, finished or not.
 */
#ifndef HORLOGE_CONTROL_H
#define HORLOGE_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#include "io/loop.h"

#define CONTROL_MAX_REQUEST 256
#define CONTROL_MAX_RESPONSE (256 * 1024)
#define CONTROL_MAX_CLIENTS 16
#define CONTROL_DEADLINE_SECONDS 5.0

struct kv_out {
    char *buf;
    size_t len;
    size_t cap;
    bool overflow;
};

void kv_add(struct kv_out *out, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void kv_end_record(struct kv_out *out);

/* Fills `out` (which already holds "ok\n") for `command`; may replace it with an error. */
typedef void (*control_handler)(void *ctx, const char *command, struct kv_out *out);

/* One client connection: reading its request, then writing its answer. */
struct control_conn {
    struct control_server *cs;
    int fd;                 /* -1: a free slot */
    int deadline;           /* its loop timer */
    size_t req_len;
    char req[CONTROL_MAX_REQUEST];
    char *answer;           /* NULL while the request is being read */
    size_t answer_len, sent;
};

struct control_server {
    bool open;              /* false: no control socket (all zero is closed) */
    int listen_fd;
    char path[108];         /* sizeof sun_path */
    struct loop *loop;
    control_handler handler;
    void *ctx;
    char *scratch;          /* CONTROL_MAX_RESPONSE bytes, where answers are produced */
    struct control_conn conns[CONTROL_MAX_CLIENTS];
};

/* Creates the listening socket and registers it with `loop`; 0, or -1 (logged) and cs closed. */
int control_open(struct control_server *cs, const char *path, struct loop *loop,
                 control_handler handler, void *ctx);
/* Closes every connection and the listening socket, removes the socket file. No-op when not open. */
void control_close(struct control_server *cs);
/* Connections open now (for tests). */
unsigned control_connections(const struct control_server *cs);
/* Replaces the response with an error line. */
void kv_error(struct kv_out *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* CLI side: sends `command`, reads the whole answer into resp (NUL-terminated). -1 with errno on failure. */
int control_request(const char *path, const char *command, char *resp, size_t cap);

#endif

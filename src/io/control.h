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
 */
#ifndef HORLOGE_CONTROL_H
#define HORLOGE_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#define CONTROL_MAX_REQUEST 256
#define CONTROL_MAX_RESPONSE (256 * 1024)

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

/* Creates the listening socket; -1 (logged) on failure. */
int control_open(const char *path);
/* Accepts one connection on `listen_fd` and answers it. */
void control_serve_one(int listen_fd, control_handler handler, void *ctx);
void control_close(int listen_fd, const char *path);
/* Replaces the response with an error line. */
void kv_error(struct kv_out *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* CLI side: sends `command`, reads the whole answer into resp (NUL-terminated). -1 with errno on failure. */
int control_request(const char *path, const char *command, char *resp, size_t cap);

#endif

/*
 * privsep: privilege separation for the clock (OpenNTPD's shape).
 *
 * Owns: the small privileged helper process that alone may change the
 * system clock, the fixed-size messages the network process sends it, and
 * the clock driver (core/clockif.h) the network process steers through it.
 * The network process (the one parsing packets) then holds no capability
 * at all: it reads the clock itself and asks the helper for every change.
 *
 * Messages are fixed-size records over a SOCK_SEQPACKET socketpair, encoded
 * at explicit byte offsets; the helper accepts one only when its length is
 * exact and every field is in range (unused fields zero), and exits on the
 * first that is not, so a compromised network process can ask for nothing
 * beyond the four clock operations with sane arguments. The channel is used
 * synchronously (request, blocking reply) from the main thread, never in
 * poll(): an LD_PRELOAD simulator need not follow it, and by default it is
 * not started under one at all (privsep_decide).
 */
#ifndef HORLOGE_PRIVSEP_H
#define HORLOGE_PRIVSEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/clockif.h"
#include "io/config.h"

enum privsep_op {
    PRIVSEP_GET_FREQUENCY = 1,
    PRIVSEP_SET_FREQUENCY,
    PRIVSEP_STEP,
    PRIVSEP_SET_SYNC_STATUS,
    PRIVSEP_OP_END
};

/*
 * Request, 40 bytes:  0 op (u32) | 4 flags (u32, bit 0: synchronised) |
 *   8 leap (i32, 0..3) | 12 reserved (u32, 0) | 16 value (f64: ppm or s) |
 *   24 est_error (f64, s) | 32 max_error (f64, s)
 * Reply, 16 bytes:  0 op (u32, the request's) | 4 err (i32, 0 or -errno) |
 *   8 value (f64: the frequency read, else 0)
 * Host byte order: both ends are this program on this machine.
 */
#define PRIVSEP_REQUEST_LEN 40
#define PRIVSEP_REPLY_LEN 16
/* Limits the helper enforces beyond the drivers' own (a step past a year is no NTP correction). */
#define PRIVSEP_MAX_PPM 100000.0
#define PRIVSEP_MAX_STEP 31622400.0
#define PRIVSEP_MAX_ERROR 1e6

struct privsep_request {
    enum privsep_op op;
    double value;           /* SET_FREQUENCY: ppm; STEP: seconds */
    bool synchronised;      /* SET_SYNC_STATUS ... */
    int leap;
    double est_error, max_error;
};

struct privsep_reply {
    enum privsep_op op;
    int err;                /* 0 or -errno from the clock call */
    double value;           /* GET_FREQUENCY: ppm */
};

void privsep_encode_request(const struct privsep_request *rq, uint8_t out[PRIVSEP_REQUEST_LEN]);
/* 0, or -EBADMSG when `len` is not exact or a field is out of range or unused but set. */
int privsep_decode_request(const uint8_t *buf, size_t len, struct privsep_request *rq);
void privsep_encode_reply(const struct privsep_reply *rp, uint8_t out[PRIVSEP_REPLY_LEN]);
/* 0, or -EBADMSG unless `len` is exact, the op is `expected` and err and value are sane. */
int privsep_decode_reply(const uint8_t *buf, size_t len, enum privsep_op expected, struct privsep_reply *rp);

/* Runs one request against `clock` (the real driver) and fills the reply. */
void privsep_execute(const struct clock_driver *clock, const struct privsep_request *rq,
                     struct privsep_reply *rp);

/*
 * The helper's loop on `fd`: one request, one reply, until the other end
 * closes (returns 0) or sends a bad message (logged, returns -1).
 */
int privsep_serve(int fd, const struct clock_driver *clock);

/*
 * Whether the helper is used. Only when the real clock is steered; `privsep
 * off` never, `on` always; by default when a `user` is configured (without
 * one the daemon keeps the privileges it was started with), and not when
 * LD_PRELOAD is set: a clock simulator preloaded into horloged would not see
 * the helper's clock calls. `why` says why not (or why forced), for the log.
 */
bool privsep_decide(enum cfg_switch mode, bool clock_controlled, bool has_user, bool preloaded,
                    const char **why);

struct privsep {
    int fd;                 /* the network process's end; -1 when there is no helper */
    pid_t pid;
    struct clock_driver real;   /* what the helper runs (kept for its copy after fork) */
};

/*
 * Forks the helper (call before any thread starts and before privileges are
 * dropped). The helper keeps only CAP_SYS_TIME, as `user` when given, and
 * serves `*drv`; in the network process `*drv` is replaced by the proxy
 * driver (read() stays local). `sandboxed`: the helper enters its own
 * seccomp list (io/sandbox.h). Returns 0 or -1, logged.
 */
int privsep_start(struct privsep *ps, struct clock_driver *drv, const char *user, bool sandboxed);
/* Closes the channel (the helper exits on it) and reaps the helper. */
void privsep_stop(struct privsep *ps);

#endif

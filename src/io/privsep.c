/* privsep: the clock helper process and its messages; see privsep.h. */
#include "io/privsep.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/log.h"
#include "io/process.h"
#include "io/sandbox.h"

/* Larger than any message, so an oversized one shows as longer, not as cut to fit. */
#define RECV_ROOM 64

static void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, sizeof v); }
static void put_f64(uint8_t *p, double v) { memcpy(p, &v, sizeof v); }
static uint32_t get_u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, sizeof v); return v; }
static double get_f64(const uint8_t *p) { double v; memcpy(&v, p, sizeof v); return v; }

void privsep_encode_request(const struct privsep_request *rq, uint8_t out[PRIVSEP_REQUEST_LEN])
{
    memset(out, 0, PRIVSEP_REQUEST_LEN);
    put_u32(out, (uint32_t)rq->op);
    put_u32(out + 4, rq->synchronised ? 1U : 0U);
    put_u32(out + 8, (uint32_t)rq->leap);
    put_f64(out + 16, rq->value);
    put_f64(out + 24, rq->est_error);
    put_f64(out + 32, rq->max_error);
}

static bool in_range(double v, double lo, double hi)
{
    return isfinite(v) && v >= lo && v <= hi;
}

/* Which fields each operation uses; every other one must be zero. */
static bool fields_valid(const struct privsep_request *rq, uint32_t flags)
{
    bool value_zero = rq->value == 0.0 && !signbit(rq->value);
    bool status_zero = flags == 0 && rq->leap == 0 && rq->est_error == 0.0 && rq->max_error == 0.0;
    switch (rq->op) {
    case PRIVSEP_GET_FREQUENCY:
        return value_zero && status_zero;
    case PRIVSEP_SET_FREQUENCY:
        return in_range(rq->value, -PRIVSEP_MAX_PPM, PRIVSEP_MAX_PPM) && status_zero;
    case PRIVSEP_STEP:
        return in_range(rq->value, -PRIVSEP_MAX_STEP, PRIVSEP_MAX_STEP) && status_zero;
    case PRIVSEP_SET_SYNC_STATUS:
        return value_zero && flags <= 1 && rq->leap >= 0 && rq->leap <= 3 &&
               in_range(rq->est_error, 0.0, PRIVSEP_MAX_ERROR) && in_range(rq->max_error, 0.0, PRIVSEP_MAX_ERROR);
    default:
        return false;
    }
}

int privsep_decode_request(const uint8_t *buf, size_t len, struct privsep_request *rq)
{
    if (len != PRIVSEP_REQUEST_LEN)
        return -EBADMSG;
    uint32_t op = get_u32(buf), flags = get_u32(buf + 4), leap = get_u32(buf + 8);
    if (op == 0 || op >= PRIVSEP_OP_END || leap > 3 || get_u32(buf + 12) != 0)
        return -EBADMSG;
    rq->op = (enum privsep_op)op;
    rq->synchronised = flags & 1U;
    rq->leap = (int)leap;
    rq->value = get_f64(buf + 16);
    rq->est_error = get_f64(buf + 24);
    rq->max_error = get_f64(buf + 32);
    return fields_valid(rq, flags) ? 0 : -EBADMSG;
}

void privsep_encode_reply(const struct privsep_reply *rp, uint8_t out[PRIVSEP_REPLY_LEN])
{
    put_u32(out, (uint32_t)rp->op);
    put_u32(out + 4, (uint32_t)rp->err);
    put_f64(out + 8, rp->value);
}

int privsep_decode_reply(const uint8_t *buf, size_t len, enum privsep_op expected, struct privsep_reply *rp)
{
    if (len != PRIVSEP_REPLY_LEN || get_u32(buf) != (uint32_t)expected)
        return -EBADMSG;
    rp->op = expected;
    rp->err = (int)get_u32(buf + 4);
    rp->value = get_f64(buf + 8);
    /* errno values are below 4096 (the kernel's MAX_ERRNO). */
    if (rp->err > 0 || rp->err < -4095 || !isfinite(rp->value))
        return -EBADMSG;
    return 0;
}

void privsep_execute(const struct clock_driver *clock, const struct privsep_request *rq,
                     struct privsep_reply *rp)
{
    rp->op = rq->op;
    rp->value = 0.0;
    switch (rq->op) {
    case PRIVSEP_GET_FREQUENCY:
        rp->err = clock->get_frequency(clock->ctx, &rp->value);
        if (rp->err || !isfinite(rp->value))
            rp->value = 0.0;
        break;
    case PRIVSEP_SET_FREQUENCY:
        rp->err = clock->set_frequency(clock->ctx, rq->value);
        break;
    case PRIVSEP_STEP:
        rp->err = clock->step(clock->ctx, rq->value);
        break;
    case PRIVSEP_SET_SYNC_STATUS:
        rp->err = clock->set_sync_status(clock->ctx, rq->synchronised, rq->leap, rq->est_error, rq->max_error);
        break;
    default:
        rp->err = -EINVAL;
        break;
    }
}

/* One whole datagram's length (MSG_TRUNC: the real length even when longer than the room). */
static ssize_t receive_message(int fd, uint8_t *buf, size_t room)
{
    ssize_t n;
    do
        n = recv(fd, buf, room, MSG_TRUNC);
    while (n < 0 && errno == EINTR);
    return n;
}

static int send_message(int fd, const uint8_t *buf, size_t len)
{
    ssize_t n;
    do
        n = send(fd, buf, len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)len ? 0 : -1;
}

int privsep_serve(int fd, const struct clock_driver *clock)
{
    for (;;) {
        uint8_t buf[RECV_ROOM];
        ssize_t n = receive_message(fd, buf, sizeof buf);
        if (n == 0)
            return 0;
        if (n < 0) {
            log_error("clock helper: receive: %s", strerror(errno));
            return -1;
        }
        struct privsep_request rq;
        if (privsep_decode_request(buf, (size_t)n, &rq) < 0) {
            log_error("clock helper: refused a malformed request (%zd bytes); exiting", n);
            return -1;
        }
        struct privsep_reply rp;
        privsep_execute(clock, &rq, &rp);
        uint8_t out[PRIVSEP_REPLY_LEN];
        privsep_encode_reply(&rp, out);
        if (send_message(fd, out, sizeof out) < 0) {
            log_error("clock helper: send: %s", strerror(errno));
            return -1;
        }
    }
}

bool privsep_decide(enum cfg_switch mode, bool clock_controlled, bool has_user, bool preloaded,
                    const char **why)
{
    static const struct cfg_switch_reasons reasons = {
        .off = "privsep off: the daemon keeps CAP_SYS_TIME itself",
        .forced = "privsep on: clock calls go to a helper process although LD_PRELOAD is set",
        .preloaded = "LD_PRELOAD is set: no clock helper process, a preloaded clock simulator would not "
                     "see its calls (privsep on forces it); the daemon keeps CAP_SYS_TIME itself",
    };
    *why = NULL;
    if (!clock_controlled)
        return false; /* no clock to steer: nobody needs a capability */
    bool on = cfg_switch_resolve(mode, preloaded, &reasons, why);
    /* Without `user` the daemon keeps the privileges it was started with, unless told otherwise. */
    return on && (has_user || mode == CFG_ON);
}

/* ---- the network process's side: the proxy driver ---- */

static int ask_helper(struct privsep *ps, const struct privsep_request *rq, struct privsep_reply *rp)
{
    uint8_t out[PRIVSEP_REQUEST_LEN], in[RECV_ROOM];
    privsep_encode_request(rq, out);
    if (ps->fd < 0 || send_message(ps->fd, out, sizeof out) < 0)
        return ps->fd < 0 ? -EPIPE : -errno;
    ssize_t n = receive_message(ps->fd, in, sizeof in);
    if (n <= 0)
        return n == 0 ? -EPIPE : -errno;
    if (privsep_decode_reply(in, (size_t)n, rq->op, rp) < 0)
        return -EBADMSG;
    return rp->err;
}

static int proxy_get_frequency(void *ctx, double *ppm)
{
    struct privsep_request rq = {.op = PRIVSEP_GET_FREQUENCY};
    struct privsep_reply rp;
    int err = ask_helper(ctx, &rq, &rp);
    if (!err)
        *ppm = rp.value;
    return err;
}

static int proxy_set_frequency(void *ctx, double ppm)
{
    if (!in_range(ppm, -PRIVSEP_MAX_PPM, PRIVSEP_MAX_PPM))
        return -EINVAL;
    struct privsep_request rq = {.op = PRIVSEP_SET_FREQUENCY, .value = ppm};
    struct privsep_reply rp;
    return ask_helper(ctx, &rq, &rp);
}

static int proxy_step(void *ctx, double offset)
{
    if (!in_range(offset, -PRIVSEP_MAX_STEP, PRIVSEP_MAX_STEP))
        return -EINVAL;
    struct privsep_request rq = {.op = PRIVSEP_STEP, .value = offset};
    struct privsep_reply rp;
    return ask_helper(ctx, &rq, &rp);
}

static double clamp_error(double v)
{
    return isfinite(v) && v > 0 ? fmin(v, PRIVSEP_MAX_ERROR) : 0.0;
}

static int proxy_set_sync_status(void *ctx, bool synchronised, int leap, double est_error, double max_error)
{
    struct privsep_request rq = {.op = PRIVSEP_SET_SYNC_STATUS, .synchronised = synchronised,
                                 .leap = leap & 3, .est_error = clamp_error(est_error),
                                 .max_error = clamp_error(max_error)};
    struct privsep_reply rp;
    return ask_helper(ctx, &rq, &rp);
}

/* The helper: nothing open but its channel (and stderr for the log), CAP_SYS_TIME alone. */
static void run_helper(int fd, const struct clock_driver *clock, const char *user, bool sandboxed)
{
    if (dup2(fd, 3) < 0 || close_range(4, ~0U, 0) < 0) {
        log_error("clock helper: cannot close inherited descriptors: %s", strerror(errno));
        _exit(1);
    }
    prctl(PR_SET_NAME, "horloged-clock", 0, 0, 0);
    /* A signal for the daemon (SIGHUP, a terminal's SIGINT) is not for us: the channel's end is. */
    signal(SIGHUP, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    if (process_drop_privileges(user, true) < 0)
        _exit(1);
    int err = sandboxed ? sandbox_enter_helper() : 0;
    if (err) {
        log_error("clock helper: cannot enter its seccomp filter: %s", strerror(-err));
        _exit(1);
    }
    _exit(privsep_serve(3, clock) == 0 ? 0 : 1);
}

int privsep_start(struct privsep *ps, struct clock_driver *drv, const char *user, bool sandboxed)
{
    int sv[2];
    ps->fd = -1;
    ps->pid = -1;
    /* SEQPACKET keeps message boundaries, so a length is a message's and can be checked exactly. */
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        log_error("clock helper: socketpair: %s", strerror(errno));
        return -1;
    }
    ps->real = *drv;
    pid_t pid = fork();
    if (pid < 0) {
        log_error("clock helper: fork: %s", strerror(errno));
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    if (pid == 0) {
        close(sv[0]);
        run_helper(sv[1], &ps->real, user, sandboxed);
    }
    close(sv[1]);
    ps->fd = sv[0];
    ps->pid = pid;
    /* Reading the clock needs no privilege: it stays here. */
    *drv = (struct clock_driver){ps, drv->read, proxy_set_frequency, proxy_get_frequency, proxy_step,
                                 proxy_set_sync_status};
    log_info("clock calls go to helper process %ld", (long)pid);
    return 0;
}

void privsep_stop(struct privsep *ps)
{
    if (ps->fd < 0)
        return;
    close(ps->fd);
    ps->fd = -1;
    int status;
    while (waitpid(ps->pid, &status, 0) < 0 && errno == EINTR)
        ;
}

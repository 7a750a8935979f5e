/*
 * Unit tests for io/privsep (the clock helper's messages: exact lengths,
 * fields in range, unused fields zero; a real helper process serving a fake
 * clock through the proxy driver) and io/sandbox (the seccomp filter kills a
 * forbidden call with SIGSYS; the clock-setting calls only when allowed).
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/privsep.h"
#include "io/sandbox.h"

static void encode(const struct privsep_request *rq, uint8_t *buf)
{
    privsep_encode_request(rq, buf);
}

static void test_requests_round_trip(void **state)
{
    (void)state;
    const struct privsep_request rqs[] = {
        {.op = PRIVSEP_GET_FREQUENCY},
        {.op = PRIVSEP_SET_FREQUENCY, .value = -123.456},
        {.op = PRIVSEP_STEP, .value = 0.25},
        {.op = PRIVSEP_SET_SYNC_STATUS, .synchronised = true, .leap = 1, .est_error = 1e-3, .max_error = 0.5},
    };
    for (size_t i = 0; i < sizeof rqs / sizeof rqs[0]; i++) {
        uint8_t buf[PRIVSEP_REQUEST_LEN];
        encode(&rqs[i], buf);
        struct privsep_request out;
        assert_int_equal(privsep_decode_request(buf, sizeof buf, &out), 0);
        assert_int_equal(out.op, rqs[i].op);
        assert_true(out.value == rqs[i].value && out.leap == rqs[i].leap);
        assert_true(out.synchronised == rqs[i].synchronised && out.max_error == rqs[i].max_error);
        /* One byte more or less is no request. */
        assert_int_equal(privsep_decode_request(buf, sizeof buf - 1, &out), -EBADMSG);
        uint8_t longer[PRIVSEP_REQUEST_LEN + 1] = {0};
        memcpy(longer, buf, sizeof buf);
        assert_int_equal(privsep_decode_request(longer, sizeof longer, &out), -EBADMSG);
    }
}

static int decode_one(struct privsep_request rq)
{
    uint8_t buf[PRIVSEP_REQUEST_LEN];
    encode(&rq, buf);
    struct privsep_request out;
    return privsep_decode_request(buf, sizeof buf, &out);
}

static void test_bad_fields_refused(void **state)
{
    (void)state;
    assert_int_equal(decode_one((struct privsep_request){.op = 0}), -EBADMSG);
    assert_int_equal(decode_one((struct privsep_request){.op = PRIVSEP_OP_END}), -EBADMSG);
    assert_int_equal(decode_one((struct privsep_request){.op = PRIVSEP_SET_FREQUENCY, .value = NAN}), -EBADMSG);
    assert_int_equal(decode_one((struct privsep_request){.op = PRIVSEP_SET_FREQUENCY, .value = 2 * PRIVSEP_MAX_PPM}), -EBADMSG);
    assert_int_equal(decode_one((struct privsep_request){.op = PRIVSEP_STEP, .value = INFINITY}), -EBADMSG);
    assert_int_equal(decode_one((struct privsep_request){.op = PRIVSEP_STEP, .value = -2 * PRIVSEP_MAX_STEP}), -EBADMSG);
    assert_int_equal(decode_one((struct privsep_request){.op = PRIVSEP_SET_SYNC_STATUS, .est_error = -1}), -EBADMSG);
    assert_int_equal(decode_one((struct privsep_request){.op = PRIVSEP_SET_SYNC_STATUS, .max_error = NAN}), -EBADMSG);
    /* A field the operation does not use must be zero. */
    assert_int_equal(decode_one((struct privsep_request){.op = PRIVSEP_GET_FREQUENCY, .value = 1}), -EBADMSG);
    assert_int_equal(decode_one((struct privsep_request){.op = PRIVSEP_STEP, .value = 1, .leap = 1}), -EBADMSG);
    assert_int_equal(decode_one((struct privsep_request){.op = PRIVSEP_SET_FREQUENCY, .synchronised = true}), -EBADMSG);
    /* Leap and the reserved word, written past what the encoder allows. */
    uint8_t buf[PRIVSEP_REQUEST_LEN];
    encode(&(struct privsep_request){.op = PRIVSEP_SET_SYNC_STATUS}, buf);
    struct privsep_request out;
    buf[8] = 4;
    assert_int_equal(privsep_decode_request(buf, sizeof buf, &out), -EBADMSG);
    buf[8] = 0;
    buf[12] = 1;
    assert_int_equal(privsep_decode_request(buf, sizeof buf, &out), -EBADMSG);
}

static void test_replies_checked(void **state)
{
    (void)state;
    uint8_t buf[PRIVSEP_REPLY_LEN];
    struct privsep_reply rp;
    privsep_encode_reply(&(struct privsep_reply){PRIVSEP_GET_FREQUENCY, 0, 7.5}, buf);
    assert_int_equal(privsep_decode_reply(buf, sizeof buf, PRIVSEP_GET_FREQUENCY, &rp), 0);
    assert_true(rp.value == 7.5 && rp.err == 0);
    assert_int_equal(privsep_decode_reply(buf, sizeof buf, PRIVSEP_STEP, &rp), -EBADMSG);
    assert_int_equal(privsep_decode_reply(buf, sizeof buf - 1, PRIVSEP_GET_FREQUENCY, &rp), -EBADMSG);
    privsep_encode_reply(&(struct privsep_reply){PRIVSEP_STEP, 5, 0}, buf);
    assert_int_equal(privsep_decode_reply(buf, sizeof buf, PRIVSEP_STEP, &rp), -EBADMSG);
    privsep_encode_reply(&(struct privsep_reply){PRIVSEP_STEP, -EPERM, 0}, buf);
    assert_int_equal(privsep_decode_reply(buf, sizeof buf, PRIVSEP_STEP, &rp), 0);
    assert_int_equal(rp.err, -EPERM);
}

static void test_decide(void **state)
{
    (void)state;
    const char *why;
    assert_false(privsep_decide(CFG_AUTO, false, true, false, &why));
    assert_true(privsep_decide(CFG_AUTO, true, true, false, &why));
    assert_null(why);
    assert_false(privsep_decide(CFG_AUTO, true, false, false, &why));
    assert_false(privsep_decide(CFG_AUTO, true, true, true, &why));
    assert_non_null(strstr(why, "LD_PRELOAD"));
    assert_true(privsep_decide(CFG_ON, true, true, true, &why));
    assert_false(privsep_decide(CFG_OFF, true, true, false, &why));
    assert_true(sandbox_decide(CFG_AUTO, false, &why));
    assert_false(sandbox_decide(CFG_AUTO, true, &why));
    assert_non_null(strstr(why, "LD_PRELOAD"));
    assert_true(sandbox_decide(CFG_ON, true, &why));
    assert_false(sandbox_decide(CFG_OFF, false, &why));
}

/* The helper's clock: remembers the frequency, refuses steps as the kernel does without the capability. */
struct fake_clock {
    double ppm;
};

static int fake_read(void *ctx, struct unix_time *now)
{
    (void)ctx;
    *now = (struct unix_time){1750000000, 0};
    return 0;
}

static int fake_get(void *ctx, double *ppm)
{
    *ppm = ((struct fake_clock *)ctx)->ppm;
    return 0;
}

static int fake_set(void *ctx, double ppm)
{
    ((struct fake_clock *)ctx)->ppm = ppm;
    return 0;
}

static int fake_step(void *ctx, double offset)
{
    (void)ctx;
    (void)offset;
    return -EPERM;
}

static int fake_status(void *ctx, bool synchronised, int leap, double est, double max)
{
    (void)ctx;
    (void)leap;
    (void)est;
    (void)max;
    return synchronised ? 0 : -EINVAL;
}

static void test_helper_process(void **state)
{
    (void)state;
    static struct fake_clock fake = {.ppm = 3.0};
    struct clock_driver drv = {&fake, fake_read, fake_set, fake_get, fake_step, fake_status};
    struct privsep ps;
    assert_int_equal(privsep_start(&ps, &drv, NULL, true), 0);
    assert_true(ps.pid > 0 && drv.ctx == &ps);
    double ppm = 0;
    assert_int_equal(drv.get_frequency(drv.ctx, &ppm), 0);
    assert_true(ppm == 3.0);
    /* The helper's memory changes, not ours. */
    assert_int_equal(drv.set_frequency(drv.ctx, -41.5), 0);
    assert_int_equal(drv.get_frequency(drv.ctx, &ppm), 0);
    assert_true(ppm == -41.5 && fake.ppm == 3.0);
    assert_int_equal(drv.step(drv.ctx, 0.5), -EPERM);
    assert_int_equal(drv.step(drv.ctx, NAN), -EINVAL); /* refused before it is sent */
    assert_int_equal(drv.set_sync_status(drv.ctx, true, 1, 1e-3, 1e9), 0);
    assert_int_equal(drv.set_sync_status(drv.ctx, false, 0, 0, 0), -EINVAL);
    assert_int_equal(drv.read(drv.ctx, &(struct unix_time){0, 0}), 0);
    pid_t pid = ps.pid;
    privsep_stop(&ps);
    assert_int_equal(kill(pid, 0), -1); /* reaped */
    assert_int_equal(drv.step(drv.ctx, 0.5), -EPIPE);
}

/* A malformed request ends the helper; the proxy then sees the channel closed. */
static void test_helper_exits_on_garbage(void **state)
{
    (void)state;
    static struct fake_clock fake;
    struct clock_driver drv = {&fake, fake_read, fake_set, fake_get, fake_step, fake_status};
    struct privsep ps;
    assert_int_equal(privsep_start(&ps, &drv, NULL, true), 0);
    uint8_t junk[PRIVSEP_REQUEST_LEN - 1] = {1};
    assert_int_equal(write(ps.fd, junk, sizeof junk), (ssize_t)sizeof junk);
    int status = 0;
    assert_int_equal(waitpid(ps.pid, &status, 0), ps.pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
    double ppm;
    assert_int_not_equal(drv.get_frequency(drv.ctx, &ppm), 0);
    close(ps.fd);
}

enum which_filter { MAIN_PROCESS, MAIN_PROCESS_STEERING, CLOCK_HELPER };

/* Runs `call` in a child inside a filter; returns its wait status. */
static int in_sandbox(enum which_filter which, long (*call)(void))
{
    pid_t pid = fork();
    if (pid == 0) {
        if ((which == CLOCK_HELPER ? sandbox_enter_helper() : sandbox_enter(which == MAIN_PROCESS_STEERING)) != 0)
            _exit(90);
        _exit(call() < 0 ? 91 : 0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

static long call_getpid(void) { return getpid(); }
static long call_chroot(void) { return syscall(SYS_chroot, "/"); }
static long call_read_clock(void)
{
    struct timex tx = {0};
    return clock_adjtime(CLOCK_REALTIME, &tx) < 0 ? -1 : 0; /* modes 0: reads, changes nothing */
}

/* CLOCK_MONOTONIC cannot be set (EINVAL): the call is judged by the filter, never changes a clock. */
static long call_set_clock(void)
{
    struct timespec ts = {0};
    return clock_settime(CLOCK_MONOTONIC, &ts);
}

static bool not_killed(int st) { return !(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS); }

static long call_inet_socket(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    return fd < 0 ? -1 : close(fd);
}

static long call_unix_socket(void)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    return fd < 0 ? -1 : close(fd);
}

/* A sanitizer build's helper allows what LeakSanitizer needs at exit, sockets included (sandbox.c). */
#if defined(__SANITIZE_ADDRESS__)
#define HELPER_LIST_IS_SHORT false
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HELPER_LIST_IS_SHORT false
#endif
#endif
#ifndef HELPER_LIST_IS_SHORT
#define HELPER_LIST_IS_SHORT true
#endif

static bool exited_ok(int st) { return WIFEXITED(st) && WEXITSTATUS(st) == 0; }
static bool killed(int st) { return WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS; }

static void test_sandbox_kills_forbidden_calls(void **state)
{
    (void)state;
    assert_true(exited_ok(in_sandbox(MAIN_PROCESS, call_getpid)));
    assert_true(exited_ok(in_sandbox(MAIN_PROCESS, call_inet_socket)));
    assert_true(killed(in_sandbox(MAIN_PROCESS, call_chroot)));
    /* Setting the clock is the helper's: the network process dies asking. Reading the kernel
       clock's state (clock_adjtime, modes 0) stays allowed: a change needs CAP_SYS_TIME. */
    assert_true(killed(in_sandbox(MAIN_PROCESS, call_set_clock)));
    assert_true(not_killed(in_sandbox(MAIN_PROCESS_STEERING, call_set_clock)));
    assert_true(exited_ok(in_sandbox(MAIN_PROCESS, call_read_clock)));
    /* The helper: the clock and a Unix socket for syslog, no network. */
    assert_true(exited_ok(in_sandbox(CLOCK_HELPER, call_read_clock)));
    assert_true(exited_ok(in_sandbox(CLOCK_HELPER, call_unix_socket)));
    if (HELPER_LIST_IS_SHORT)
        assert_true(killed(in_sandbox(CLOCK_HELPER, call_inet_socket)));
    assert_true(killed(in_sandbox(CLOCK_HELPER, call_chroot)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests_round_trip),
        cmocka_unit_test(test_bad_fields_refused),
        cmocka_unit_test(test_replies_checked),
        cmocka_unit_test(test_decide),
        cmocka_unit_test(test_helper_process),
        cmocka_unit_test(test_helper_exits_on_garbage),
        cmocka_unit_test(test_sandbox_kills_forbidden_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

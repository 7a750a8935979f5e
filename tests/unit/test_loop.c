/* Unit tests for the event loop: modules register their own descriptors and timers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/loop.h"

/* A fake monotonic clock the tests move by hand. */
static double fake_now;
static double fake_clock(void) { return fake_now; }

static struct loop l;

/* A module as the daemon's would be: it owns a socket and a timer and registers both itself. */
struct module {
    struct loop *loop;
    int fd;
    int timer;
    unsigned reads, fires;
    short last_revents;
    int unwatch_on_read;   /* another fd to remove when this one is read, or -1 */
    int watch_on_read;     /* an fd to add (reusing the slot freed), or -1 */
};

static void module_readable(void *ctx, int fd, short revents)
{
    struct module *m = ctx;
    char buf[64];
    m->reads++;
    m->last_revents = revents;
    while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
        ;
    if (m->unwatch_on_read >= 0)
        loop_unwatch_fd(m->loop, m->unwatch_on_read);
    if (m->watch_on_read >= 0)
        assert_int_equal(loop_watch_fd(m->loop, m->watch_on_read, POLLIN, module_readable, m), 0);
}

static void module_timer(void *ctx)
{
    struct module *m = ctx;
    m->fires++;
}

static void module_start(struct module *m, struct loop *loop, int fd)
{
    *m = (struct module){.loop = loop, .fd = fd, .unwatch_on_read = -1, .watch_on_read = -1};
    assert_int_equal(loop_watch_fd(loop, fd, POLLIN, module_readable, m), 0);
    m->timer = loop_timer_new(loop, module_timer, m);
    assert_true(m->timer >= 0);
}

static int setup(void **unused)
{
    (void)unused;
    fake_now = 1000.0;
    loop_init(&l, fake_clock);
    return 0;
}

static void test_module_registers_fd_and_timer(void **unused)
{
    (void)unused;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
    struct module m;
    module_start(&m, &l, sv[0]);
    loop_timer_arm(&l, m.timer, 5.0);
    assert_true(loop_timer_armed(&l, m.timer));
    assert_true(loop_timer_due(&l, m.timer) == 1005.0);

    assert_int_equal(loop_run_once(&l, 0), 0);
    assert_int_equal(m.reads, 0);
    assert_int_equal(m.fires, 0);

    assert_int_equal(send(sv[1], "x", 1, 0), 1);
    assert_int_equal(loop_run_once(&l, 0), 0);
    assert_int_equal(m.reads, 1);
    assert_true(m.last_revents & POLLIN);
    assert_int_equal(m.fires, 0);

    fake_now += 4.999;
    assert_int_equal(loop_run_once(&l, 0), 0);
    assert_int_equal(m.fires, 0);
    fake_now += 0.001;
    assert_int_equal(loop_run_once(&l, 0), 0);
    assert_int_equal(m.fires, 1);
    assert_false(loop_timer_armed(&l, m.timer));
    /* A fired timer stays quiet until armed again. */
    fake_now += 100;
    assert_int_equal(loop_run_once(&l, 0), 0);
    assert_int_equal(m.fires, 1);

    loop_unwatch_fd(&l, sv[0]);
    assert_int_equal(send(sv[1], "x", 1, 0), 1);
    assert_int_equal(loop_run_once(&l, 0), 0);
    assert_int_equal(m.reads, 1);
    close(sv[0]);
    close(sv[1]);
}

static void test_timers_disarm_and_free(void **unused)
{
    (void)unused;
    struct module m = {.unwatch_on_read = -1, .watch_on_read = -1};
    int a = loop_timer_new(&l, module_timer, &m);
    int b = loop_timer_new(&l, module_timer, &m);
    assert_true(a >= 0 && b >= 0 && a != b);
    loop_timer_arm(&l, a, 1.0);
    loop_timer_arm(&l, b, 1.0);
    loop_timer_disarm(&l, b);
    fake_now += 2.0;
    assert_int_equal(loop_run_once(&l, 0), 0);
    assert_int_equal(m.fires, 1);
    loop_timer_free(&l, a);
    loop_timer_arm(&l, a, 0); /* freed: ignored */
    assert_false(loop_timer_armed(&l, a));
    assert_int_equal(loop_timer_new(&l, module_timer, &m), a); /* the slot is reused */
    loop_timer_free(&l, -1);                                   /* harmless */
}

static void test_double_watch_refused(void **unused)
{
    (void)unused;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
    struct module m;
    module_start(&m, &l, sv[0]);
    assert_int_equal(loop_watch_fd(&l, sv[0], POLLIN, module_readable, &m), -1);
    assert_int_equal(loop_watch_fd(&l, -1, POLLIN, module_readable, &m), -1);
    close(sv[0]);
    close(sv[1]);
}

/* A callback that removes another ready descriptor: that one is not called this round, nor its new owner. */
static void test_removal_during_dispatch(void **unused)
{
    (void)unused;
    int a[2], b[2], c[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, a), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, b), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, c), 0);
    struct module ma, mb;
    module_start(&ma, &l, a[0]);
    module_start(&mb, &l, b[0]);
    ma.unwatch_on_read = b[0];
    ma.watch_on_read = c[0]; /* takes b's freed slot at once */
    assert_int_equal(send(a[1], "x", 1, 0), 1);
    assert_int_equal(send(b[1], "x", 1, 0), 1);
    assert_int_equal(send(c[1], "x", 1, 0), 1);
    assert_int_equal(loop_run_once(&l, 0), 0);
    assert_int_equal(ma.reads, 1);
    assert_int_equal(mb.reads, 0);
    /* Next round, c (now watched, owned by ma) is read. */
    ma.unwatch_on_read = -1;
    ma.watch_on_read = -1;
    assert_int_equal(loop_run_once(&l, 0), 0);
    assert_int_equal(ma.reads, 2);
    assert_int_equal(mb.reads, 0);
    for (int i = 0; i < 2; i++) {
        close(a[i]);
        close(b[i]);
        close(c[i]);
    }
}

static void test_set_events_pauses_fd(void **unused)
{
    (void)unused;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
    struct module m;
    module_start(&m, &l, sv[0]);
    loop_set_events(&l, sv[0], 0);
    assert_int_equal(send(sv[1], "x", 1, 0), 1);
    assert_int_equal(loop_run_once(&l, 0), 0);
    assert_int_equal(m.reads, 0);
    loop_set_events(&l, sv[0], POLLIN);
    assert_int_equal(loop_run_once(&l, 0), 0);
    assert_int_equal(m.reads, 1);
    close(sv[0]);
    close(sv[1]);
}

/* With the real clock, poll() itself waits for the timer and no longer. */
static void test_poll_waits_for_timer(void **unused)
{
    (void)unused;
    struct loop real;
    loop_init(&real, NULL);
    struct module m = {.unwatch_on_read = -1, .watch_on_read = -1};
    int t = loop_timer_new(&real, module_timer, &m);
    double start = loop_now(&real);
    loop_timer_arm(&real, t, 0.05);
    while (m.fires == 0)
        assert_int_equal(loop_run_once(&real, -1), 0);
    double waited = loop_now(&real) - start;
    assert_true(waited >= 0.05 && waited < 1.0);
    assert_true(real.n_rounds <= 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_module_registers_fd_and_timer, setup),
        cmocka_unit_test_setup(test_timers_disarm_and_free, setup),
        cmocka_unit_test_setup(test_double_watch_refused, setup),
        cmocka_unit_test_setup(test_removal_during_dispatch, setup),
        cmocka_unit_test_setup(test_set_events_pauses_fd, setup),
        cmocka_unit_test(test_poll_waits_for_timer),
    };
    return cmocka_run_group_tests_name("loop", tests, NULL, NULL);
}

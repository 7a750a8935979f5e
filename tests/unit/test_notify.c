/* Unit tests for io/notify: what horloged tells systemd, read from a NOTIFY_SOCKET of our own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/log.h"
#include "io/loop.h"
#include "io/notify.h"

static double fake_now;
static double fake_clock(void) { return fake_now; }

static struct loop l;
static int manager = -1;
static char sock_path[64];

/* A datagram socket standing in for systemd's, named by NOTIFY_SOCKET. */
static int setup(void **unused)
{
    (void)unused;
    fake_now = 100.0;
    loop_init(&l, fake_clock);
    snprintf(sock_path, sizeof sock_path, "/tmp/hl-notify-%d.sock", (int)getpid());
    unlink(sock_path);
    manager = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", sock_path);
    assert_int_equal(bind(manager, (struct sockaddr *)&a, sizeof a), 0);
    setenv("NOTIFY_SOCKET", sock_path, 1);
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    return 0;
}

static int teardown(void **unused)
{
    (void)unused;
    close(manager);
    unlink(sock_path);
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    return 0;
}

/* The next message, or "" when none is waiting. */
static const char *next_message(void)
{
    static char buf[512];
    ssize_t n = recv(manager, buf, sizeof buf - 1, MSG_DONTWAIT);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

#ifdef HORLOGE_SYSTEMD
static void test_ready_reloading_stopping(void **unused)
{
    (void)unused;
    struct notify n;
    assert_int_equal(notify_start(&n, &l), 0);
    assert_int_equal(n.watchdog_timer, -1);
    notify_ready(&n, "serving NTP on port 123");
    assert_string_equal(next_message(), "READY=1\nSTATUS=serving NTP on port 123");
    notify_reloading(&n);
    assert_true(strncmp(next_message(), "RELOADING=1\nMONOTONIC_USEC=", 27) == 0);
    notify_stopping(&n);
    assert_string_equal(next_message(), "STOPPING=1");
    assert_false(n.failed);
    notify_stop(&n);
}

static void test_watchdog_pings_at_half_the_period(void **unused)
{
    (void)unused;
    setenv("WATCHDOG_USEC", "4000000", 1);
    struct notify n;
    assert_int_equal(notify_start(&n, &l), 0);
    assert_true(n.watchdog_timer >= 0);
    assert_true(n.watchdog_interval > 1.99 && n.watchdog_interval < 2.01);
    assert_int_equal(loop_run_once(&l, 0), 0);
    assert_string_equal(next_message(), "WATCHDOG=1");
    fake_now += 1.0;
    assert_int_equal(loop_run_once(&l, 0), 0);
    assert_string_equal(next_message(), "");
    fake_now += 1.0;
    assert_int_equal(loop_run_once(&l, 0), 0);
    assert_string_equal(next_message(), "WATCHDOG=1");
    notify_stop(&n);
    assert_false(loop_timer_armed(&l, 0));
}

static void test_failure_is_kept_once(void **unused)
{
    (void)unused;
    setenv("NOTIFY_SOCKET", "/nonexistent/dir/notify.sock", 1);
    struct notify n;
    assert_int_equal(notify_start(&n, &l), 0);
    notify_ready(&n, "x");
    assert_true(n.failed);
    notify_stopping(&n);
    assert_true(n.failed);
}
#endif

static void test_no_manager_no_effect(void **unused)
{
    (void)unused;
    unsetenv("NOTIFY_SOCKET");
    setenv("WATCHDOG_USEC", "4000000", 1);
    struct notify n;
    assert_int_equal(notify_start(&n, &l), 0);
    notify_ready(&n, "x");
    notify_stopping(&n);
    assert_false(n.failed);
    assert_string_equal(next_message(), "");
    notify_stop(&n);
}

int main(void)
{
    log_open("test_notify", 0, LOG_LEVEL_ERROR);
    const struct CMUnitTest tests[] = {
#ifdef HORLOGE_SYSTEMD
        cmocka_unit_test_setup_teardown(test_ready_reloading_stopping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watchdog_pings_at_half_the_period, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_is_kept_once, setup, teardown),
#endif
        cmocka_unit_test_setup_teardown(test_no_manager_no_effect, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for resolve: numeric addresses at once, `localhost` through the worker (/etc/hosts, never DNS). */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "io/resolve.h"

static void wait_done(struct resolve_job *job, struct resolve_result *out)
{
    struct timespec pause = {0, 1000000};
    for (int i = 0; i < 5000; i++) {
        if (resolve_poll(job, out) == RESOLVE_DONE)
            return;
        nanosleep(&pause, NULL);
    }
    fail_msg("resolution still pending after 5 s");
}

static void test_numeric_ipv4(void **state)
{
    (void)state;
    struct resolve_job *job = resolve_start("127.0.0.1", 123, 4);
    assert_non_null(job);
    struct resolve_result r;
    assert_int_equal(resolve_poll(job, &r), RESOLVE_DONE); /* no waiting for a numeric address */
    assert_int_equal(r.error, 0);
    assert_int_equal(r.n, 1);
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&r.addrs[0].sa;
    assert_int_equal(sin->sin_family, AF_INET);
    assert_int_equal(ntohs(sin->sin_port), 123);
    assert_true(sin->sin_addr.s_addr == htonl(INADDR_LOOPBACK));
    assert_int_equal(r.addrs[0].len, sizeof(struct sockaddr_in));
    struct net_addr na;
    resolve_to_net_addr(&r.addrs[0], &na);
    assert_int_equal(na.family, NET_IPV4);
    assert_memory_equal(na.bytes, "\x7f\0\0\x01", 4);
    resolve_release(job);
}

static void test_numeric_ipv6(void **state)
{
    (void)state;
    struct resolve_result r;
    assert_int_equal(resolve_numeric("::1", 11123, 4, &r), 0);
    assert_int_equal(r.n, 1);
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&r.addrs[0].sa;
    assert_int_equal(sin6->sin6_family, AF_INET6);
    assert_int_equal(ntohs(sin6->sin6_port), 11123);
    assert_memory_equal(&sin6->sin6_addr, &in6addr_loopback, 16);
    struct net_addr na;
    resolve_to_net_addr(&r.addrs[0], &na);
    assert_int_equal(na.family, NET_IPV6);
    assert_int_equal(na.bytes[15], 1);

    assert_int_equal(resolve_numeric("localhost", 123, 4, &r), EAI_NONAME);
    assert_int_equal(r.n, 0);
    assert_int_equal(resolve_numeric("", 123, 4, &r), EAI_NONAME);
}

static void test_bad_hosts_fail_at_once(void **state)
{
    (void)state;
    char long_name[RESOLVE_HOST_MAX + 10];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    const char *hosts[] = {"", long_name};
    for (size_t i = 0; i < 2; i++) {
        struct resolve_job *job = resolve_start(hosts[i], 123, 4);
        assert_non_null(job);
        struct resolve_result r;
        assert_int_equal(resolve_poll(job, &r), RESOLVE_DONE);
        assert_int_equal(r.error, EAI_NONAME);
        assert_int_equal(r.n, 0);
        assert_non_null(resolve_error_text(r.error));
        resolve_release(job);
    }
}

static void test_localhost_in_worker(void **state)
{
    (void)state;
    struct resolve_job *job = resolve_start("localhost", 4123, 8);
    assert_non_null(job);
    struct resolve_result r;
    wait_done(job, &r);
    assert_int_equal(r.error, 0);
    assert_true(r.n >= 1);
    bool found_v4 = false;
    for (unsigned i = 0; i < r.n; i++) {
        struct net_addr na;
        resolve_to_net_addr(&r.addrs[i], &na);
        if (na.family == NET_IPV4) {
            assert_int_equal(na.bytes[0], 127);
            found_v4 = true;
            assert_int_equal(ntohs(((const struct sockaddr_in *)&r.addrs[i].sa)->sin_port), 4123);
        } else {
            assert_int_equal(na.family, NET_IPV6);
        }
        for (unsigned j = 0; j < i; j++) /* distinct */
            assert_false(r.addrs[i].len == r.addrs[j].len &&
                         memcmp(&r.addrs[i].sa, &r.addrs[j].sa, r.addrs[i].len) == 0);
    }
    assert_true(found_v4);
    assert_int_equal(resolve_poll(job, &r), RESOLVE_DONE); /* stays done */
    resolve_release(job);
}

/* A pool keeps at most max_addrs; released jobs still running free themselves. */
static void test_pool_limit_and_release(void **state)
{
    (void)state;
    struct resolve_job *job = resolve_start("localhost", 123, 1);
    struct resolve_result r;
    wait_done(job, &r);
    assert_int_equal(r.n, 1);
    resolve_release(job);

    struct resolve_job *jobs[6];
    for (int i = 0; i < 6; i++) {
        jobs[i] = resolve_start("localhost", 123, 4);
        assert_non_null(jobs[i]);
    }
    for (int i = 0; i < 6; i += 2)
        resolve_release(jobs[i]); /* abandoned, possibly mid-lookup */
    for (int i = 1; i < 6; i += 2) {
        wait_done(jobs[i], &r);
        assert_int_equal(r.error, 0);
        resolve_release(jobs[i]);
    }
    struct timespec settle = {0, 200000000}; /* let abandoned workers finish before LSan looks */
    nanosleep(&settle, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numeric_ipv4),
        cmocka_unit_test(test_numeric_ipv6),
        cmocka_unit_test(test_bad_hosts_fail_at_once),
        cmocka_unit_test(test_localhost_in_worker),
        cmocka_unit_test(test_pool_limit_and_release),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for resolve: numeric addresses at once, `localhost` through the worker. What
 * `localhost` is depends on the machine's /etc/hosts, so the worker's answer is checked against
 * getaddrinfo's own, and those cases are skipped, saying why, where the name does not resolve. */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
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

/* getaddrinfo's own answer for `localhost` (the caller frees it), or NULL after saying why the
 * test that needs it is skipped. */
static struct addrinfo *localhost_or_skip_reason(void)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM}, *list = NULL;
    int err = getaddrinfo("localhost", NULL, &hints, &list);
    if (err != 0) {
        print_message("skipped: 'localhost' does not resolve on this machine (%s)\n", gai_strerror(err));
        return NULL;
    }
    return list;
}

static bool same_address(const struct sockaddr *a, const struct sockaddr *b)
{
    if (a->sa_family != b->sa_family)
        return false;
    if (a->sa_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    return a->sa_family == AF_INET6 &&
           memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                  &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
}

/* The distinct IPv4 and IPv6 addresses in `list`, the answer a job must give (up to its limit). */
static unsigned distinct_inet(const struct addrinfo *list)
{
    unsigned n = 0;
    for (const struct addrinfo *ai = list; ai; ai = ai->ai_next) {
        bool seen = false;
        for (const struct addrinfo *prev = list; prev != ai && !seen; prev = prev->ai_next)
            seen = same_address(prev->ai_addr, ai->ai_addr);
        n += !seen && (ai->ai_family == AF_INET || ai->ai_family == AF_INET6);
    }
    return n;
}

static bool listed(const struct addrinfo *list, const struct sockaddr *sa)
{
    for (const struct addrinfo *ai = list; ai; ai = ai->ai_next)
        if (same_address(ai->ai_addr, sa))
            return true;
    return false;
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
    struct addrinfo *expected = localhost_or_skip_reason();
    if (!expected) {
        skip();
        return;
    }
    struct resolve_job *job = resolve_start("localhost", 4123, 8);
    assert_non_null(job);
    struct resolve_result r;
    wait_done(job, &r);
    assert_int_equal(r.error, 0);
    unsigned want = distinct_inet(expected);
    assert_int_equal(r.n, want < 8 ? want : 8);
    for (unsigned i = 0; i < r.n; i++) {
        const struct sockaddr *sa = (const struct sockaddr *)&r.addrs[i].sa;
        assert_true(listed(expected, sa));
        uint16_t port = sa->sa_family == AF_INET ? ((const struct sockaddr_in *)sa)->sin_port
                                                 : ((const struct sockaddr_in6 *)sa)->sin6_port;
        assert_int_equal(ntohs(port), 4123);
        for (unsigned j = 0; j < i; j++) /* distinct */
            assert_false(same_address(sa, (const struct sockaddr *)&r.addrs[j].sa));
    }
    freeaddrinfo(expected);
    assert_int_equal(resolve_poll(job, &r), RESOLVE_DONE); /* stays done */
    resolve_release(job);
}

/* A pool keeps at most max_addrs; released jobs still running free themselves. */
static void test_pool_limit_and_release(void **state)
{
    (void)state;
    struct addrinfo *expected = localhost_or_skip_reason();
    if (!expected) {
        skip();
        return;
    }
    freeaddrinfo(expected);
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

/*
 * Unit tests for io/webserver: libmicrohttpd driven by the daemon's event loop
 * alone — a request on loopback is answered by loop_run_once() rounds, the
 * descriptors MHD uses are registered and unregistered with the loop as
 * connections come and go, and a page that cannot be made is a 500.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/loop.h"
#include "io/webserver.h"

static struct loop l;
static struct webserver w;
static unsigned pages_asked;

static int page(void *ctx, const char *url, struct web_page *out)
{
    (void)ctx;
    pages_asked++;
    if (strcmp(url, "/fail") == 0)
        return -1;
    out->status = 200;
    out->content_type = "text/plain";
    out->body = strdup("hello\n");
    out->len = 6;
    return 0;
}

static int connect_loopback(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

/* Sends a request and runs the loop until the server has answered and closed. */
static void request(const char *path, char *answer, size_t cap)
{
    int fd = connect_loopback(webserver_port(&w));
    char req[128];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", path);
    assert_int_equal(write(fd, req, (size_t)n), n);
    size_t got = 0;
    for (int round = 0; round < 200; round++) {
        assert_int_equal(loop_run_once(&l, 20), 0);
        ssize_t r = recv(fd, answer + got, cap - 1 - got, MSG_DONTWAIT);
        if (r > 0)
            got += (size_t)r;
        if (r == 0)
            break;
    }
    answer[got] = '\0';
    close(fd);
}

static void test_served_by_the_loop(void **state)
{
    (void)state;
    loop_init(&l, NULL);
    struct net_addr lo = {.family = NET_IPV4, .bytes = {127, 0, 0, 1}};
    assert_int_equal(webserver_open(&w, &lo, 0, &l, page, NULL), 0);
    assert_true(webserver_port(&w) > 0);
    assert_int_equal(w.n_fds, 1); /* the listening socket */
    char answer[2048];
    request("/metrics", answer, sizeof answer);
    assert_non_null(strstr(answer, "HTTP/1.1 200"));
    assert_non_null(strstr(answer, "hello\n"));
    assert_non_null(strstr(answer, "no-store"));
    request("/fail", answer, sizeof answer);
    assert_non_null(strstr(answer, "HTTP/1.1 500"));
    assert_int_equal(pages_asked, 2);
    for (int i = 0; i < 5; i++)
        loop_run_once(&l, 10);
    assert_int_equal(w.n_fds, 1); /* closed connections are no longer watched */
    webserver_close(&w);
    assert_null(w.mhd);
    webserver_close(&w);
}

static void test_bind_failure(void **state)
{
    (void)state;
    loop_init(&l, NULL);
    struct net_addr lo = {.family = NET_IPV4, .bytes = {127, 0, 0, 1}};
    struct webserver first;
    assert_int_equal(webserver_open(&first, &lo, 0, &l, page, NULL), 0);
    assert_int_equal(webserver_open(&w, &lo, webserver_port(&first), &l, page, NULL), -1);
    assert_null(w.mhd);
    webserver_close(&first);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_served_by_the_loop),
        cmocka_unit_test(test_bind_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

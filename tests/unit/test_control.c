/* Unit tests for the control protocol: the daemon's key=value answers and the CLI's reading of them. */
#include <errno.h>
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

#include "io/control.h"
#include "io/kvdoc.h"
#include "io/loop.h"

static struct kvdoc doc;

static void test_kv_out_and_parse(void **unused)
{
    (void)unused;
    char buf[512];
    struct kv_out out = {.buf = buf, .cap = sizeof buf};
    out.len = (size_t)snprintf(buf, sizeof buf, "ok\n");
    kv_add(&out, "address", "%s", "127.0.0.1");
    kv_add(&out, "requests", "%d", 5);
    kv_end_record(&out);
    kv_add(&out, "address", "%s", "bad\nvalue"); /* a newline may not split the record */
    kv_add(&out, "requests", "%d", 2);
    kv_end_record(&out);
    assert_false(out.overflow);
    assert_int_equal(kvdoc_parse(buf, &doc), 0);
    assert_null(doc.error);
    assert_int_equal(doc.n_records, 2);
    assert_string_equal(kvdoc_get(&doc, 0, "address"), "127.0.0.1");
    assert_string_equal(kvdoc_get(&doc, 1, "address"), "bad value");
    assert_string_equal(kvdoc_get(&doc, 1, "requests"), "2");
    assert_null(kvdoc_get(&doc, 2, "address"));
}

static void test_overflow_detected(void **unused)
{
    (void)unused;
    char buf[16];
    struct kv_out out = {.buf = buf, .cap = sizeof buf};
    kv_add(&out, "a_long_key", "%s", "a long value");
    assert_true(out.overflow);
}

static void test_error_answer(void **unused)
{
    (void)unused;
    char text[] = "error unknown command 'x'\n";
    assert_int_equal(kvdoc_parse(text, &doc), 0);
    assert_string_equal(doc.error, "unknown command 'x'");
    char junk[] = "hello\n";
    assert_int_equal(kvdoc_parse(junk, &doc), -1);
    char no_eq[] = "ok\nnovalue\n";
    assert_int_equal(kvdoc_parse(no_eq, &doc), -1);
}

static void test_json_rendering(void **unused)
{
    (void)unused;
    char text[] = "ok\nstratum=2\nreference_id=0xC0A80108\nroot_delay=0.004491\nsource=a \"quoted\" name\n"
                  "version=007\n";
    assert_int_equal(kvdoc_parse(text, &doc), 0);
    char *json = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&json, &len);
    kvdoc_print_json(&doc, NULL, f);
    fclose(f);
    assert_string_equal(json, "{\"stratum\": 2, \"reference_id\": \"0xC0A80108\", \"root_delay\": 0.004491, "
                              "\"source\": \"a \\\"quoted\\\" name\", \"version\": \"007\"}\n");
    free(json);
}

/* ---- the daemon's side: connections in the event loop, never blocking it ---- */

static double fake_now;
static double fake_clock(void) { return fake_now; }

static struct loop loop;
static struct control_server cs;
static char dir[] = "/tmp/horloge-test-control-XXXXXX";
static char path[80];
static unsigned answered;

/* "big" answers more than a Unix socket buffers, so its writing takes many rounds. */
static void handler(void *ctx, const char *command, struct kv_out *out)
{
    (void)ctx;
    answered++;
    if (strcmp(command, "big") == 0) {
        for (unsigned i = 0; i < 4000; i++)
            kv_add(out, "line", "%u and some padding to make it long enough to matter", i);
    } else if (strcmp(command, "status") == 0) {
        kv_add(out, "stratum", "%d", 2);
    } else {
        kv_error(out, "unknown command '%.40s'", command);
    }
}

static int setup_server(void **unused)
{
    (void)unused;
    fake_now = 100.0;
    answered = 0;
    loop_init(&loop, fake_clock);
    strcpy(dir, "/tmp/horloge-test-control-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/sock", dir);
    assert_int_equal(control_open(&cs, path, &loop, handler, NULL), 0);
    return 0;
}

static int teardown_server(void **unused)
{
    (void)unused;
    control_close(&cs);
    assert_int_equal(access(path, F_OK), -1); /* the socket file is removed */
    rmdir(dir);
    return 0;
}

static int connect_client(void)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof sun), 0);
    return fd;
}

/* Rounds that never wait: a round that blocked would hang the test. */
static void spin(unsigned rounds)
{
    for (unsigned i = 0; i < rounds; i++)
        assert_int_equal(loop_run_once(&loop, 0), 0);
}

static void send_text(int fd, const char *text)
{
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
}

/* Reads until EOF (the daemon closes after answering); what the CLI's control_request does. */
static size_t read_answer(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    for (unsigned i = 0; i < 100000 && len < cap - 1; i++) {
        ssize_t n = recv(fd, buf + len, cap - 1 - len, MSG_DONTWAIT);
        if (n == 0)
            break;
        if (n > 0)
            len += (size_t)n;
        else
            spin(1);
    }
    buf[len] = '\0';
    return len;
}

/* Closed: end of stream, or a reset when the daemon closed without reading all we sent. */
static bool closed_by_daemon(int fd)
{
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

static void test_silent_clients_do_not_block_an_answer(void **unused)
{
    (void)unused;
    int silent[3];
    for (unsigned i = 0; i < 3; i++)
        silent[i] = connect_client();
    int fd = connect_client();
    send_text(fd, "sta"); /* a request may arrive in pieces */
    spin(4);
    assert_int_equal(answered, 0);
    send_text(fd, "tus\n");
    char buf[256];
    read_answer(fd, buf, sizeof buf);
    assert_string_equal(buf, "ok\nstratum=2\n");
    assert_int_equal(control_connections(&cs), 3);
    for (unsigned i = 0; i < 3; i++)
        assert_false(closed_by_daemon(silent[i]));
    close(fd);
    for (unsigned i = 0; i < 3; i++)
        close(silent[i]);
    spin(2);
    assert_int_equal(control_connections(&cs), 0);
}

static void test_connections_bounded(void **unused)
{
    (void)unused;
    int fds[CONTROL_MAX_CLIENTS + 1];
    for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++) {
        fds[i] = connect_client();
        spin(1);
    }
    assert_int_equal(control_connections(&cs), CONTROL_MAX_CLIENTS);
    fds[CONTROL_MAX_CLIENTS] = connect_client();
    spin(2);
    assert_true(closed_by_daemon(fds[CONTROL_MAX_CLIENTS]));
    assert_false(closed_by_daemon(fds[0]));
    for (unsigned i = 0; i <= CONTROL_MAX_CLIENTS; i++)
        close(fds[i]);
}

static void test_deadline_closes_stuck_clients(void **unused)
{
    (void)unused;
    int silent = connect_client();
    int reader = connect_client();
    send_text(reader, "big\n"); /* answered, but never read */
    spin(4);
    assert_int_equal(answered, 1);
    assert_int_equal(control_connections(&cs), 2);
    fake_now += CONTROL_DEADLINE_SECONDS - 0.5;
    spin(2);
    assert_int_equal(control_connections(&cs), 2);
    fake_now += 1.0;
    spin(1);
    assert_int_equal(control_connections(&cs), 0);
    assert_true(closed_by_daemon(silent));
    close(silent);
    close(reader);
}

static void test_large_answer_written_as_read(void **unused)
{
    (void)unused;
    int fd = connect_client();
    send_text(fd, "big\n");
    spin(8); /* the socket buffer fills; the loop goes on */
    static char buf[CONTROL_MAX_RESPONSE];
    size_t len = read_answer(fd, buf, sizeof buf);
    assert_true(len > 200000);
    assert_memory_equal(buf, "ok\nline=0 ", 10);
    const char *last = "line=3999 and some padding to make it long enough to matter\n";
    assert_string_equal(buf + len - strlen(last), last);
    close(fd);
}

static void test_overlong_request_closed(void **unused)
{
    (void)unused;
    int fd = connect_client();
    char line[CONTROL_MAX_REQUEST + 8];
    memset(line, 'a', sizeof line - 1);
    line[sizeof line - 1] = '\0';
    send_text(fd, line);
    spin(4);
    assert_true(closed_by_daemon(fd));
    assert_int_equal(answered, 0);
    close(fd);
}

static void test_cli_request_compatible(void **unused)
{
    (void)unused;
    /* control_request blocks until the answer: the "daemon" runs once it has sent. */
    int fd = connect_client();
    send_text(fd, "nonsense\n");
    char buf[256];
    read_answer(fd, buf, sizeof buf);
    assert_string_equal(buf, "error unknown command 'nonsense'\n");
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kv_out_and_parse),
        cmocka_unit_test(test_overflow_detected),
        cmocka_unit_test(test_error_answer),
        cmocka_unit_test(test_json_rendering),
        cmocka_unit_test_setup_teardown(test_silent_clients_do_not_block_an_answer, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_connections_bounded, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_deadline_closes_stuck_clients, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_large_answer_written_as_read, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_overlong_request_closed, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_cli_request_compatible, setup_server, teardown_server),
    };
    return cmocka_run_group_tests_name("control", tests, NULL, NULL);
}

/* Unit tests for the control protocol: the daemon's key=value answers and the CLI's reading of them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "io/control.h"
#include "io/kvdoc.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kv_out_and_parse),
        cmocka_unit_test(test_overflow_detected),
        cmocka_unit_test(test_error_answer),
        cmocka_unit_test(test_json_rendering),
    };
    return cmocka_run_group_tests_name("control", tests, NULL, NULL);
}

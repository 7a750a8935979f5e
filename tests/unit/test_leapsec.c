/*
 * Unit tests for leapsec: the fixture list (tests/unit/data/leap-seconds.list)
 * parses; every kind of malformed line is refused with its line number; the
 * leap is announced only during the last day before its entry, INSERT for a
 * growing offset and DELETE for a shrinking one; expiry is reported. And the
 * list's verdict in the reference (ref_set_leap_override) and on to the clock
 * driver's set_sync_status.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/leapsec.h"
#include "core/packet.h"
#include "core/reference.h"
#include "core/sync.h"

#define DAY 86400
/* Unix times of entries in the fixture. */
#define JUL_2012 1341100800LL
#define JAN_2017 1483228800LL
#define FIXTURE_EXPIRY_UNIX (3991593600LL - 2208988800LL)

static struct leapsec_list list;

static size_t read_fixture(char *buf, size_t cap)
{
    char path[512];
    const char *slash = strrchr(__FILE__, '/');
    int dir_len = slash ? (int)(slash - __FILE__) : 1;
    snprintf(path, sizeof path, "%.*s/data/leap-seconds.list", dir_len, slash ? __FILE__ : ".");
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    assert_true(n > 0 && n < cap);
    return n;
}

static int parse_text(const char *text, struct leapsec_error *err)
{
    return leapsec_parse(text, strlen(text), &list, err);
}

static struct leapsec_status status_at(int64_t unix_sec)
{
    struct leapsec_status st;
    leapsec_query(&list, unix_sec, &st);
    return st;
}

static void test_parse_fixture(void **state)
{
    (void)state;
    char buf[4096];
    size_t len = read_fixture(buf, sizeof buf);
    struct leapsec_error err;
    assert_int_equal(leapsec_parse(buf, len, &list, &err), 0);
    assert_int_equal(list.n, 5);
    assert_true(list.updated == 3944678400LL);
    assert_true(list.expiry == 3991593600LL);
    assert_true(list.entry[0].ntp_sec == 3345062400LL);
    assert_int_equal(list.entry[0].tai_offset, 33);
    assert_true(list.entry[4].ntp_sec == 3692217600LL);
    assert_int_equal(list.entry[4].tai_offset, 37);
    /* chrony's sanity check of a leap source: 30 Jun 2012 has a leap, 31 Dec 2012 has none. */
    struct leapsec_status st = status_at(JUL_2012 - DAY);
    assert_int_equal(st.leap, NTP_LEAP_INSERT);
    assert_int_equal(st.tai_offset, 34);
    st = status_at(1356912000LL);
    assert_int_equal(st.leap, NTP_LEAP_NONE);
    assert_int_equal(st.tai_offset, 35);
}

/* The system's copy of the published list, where tzdata installed one (not shipped here). */
static void test_parse_system_list(void **state)
{
    (void)state;
    static char buf[65536];
    FILE *f = fopen("/usr/share/zoneinfo/leap-seconds.list", "r");
    if (!f) {
        skip();
        return;
    }
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    struct leapsec_error err = {0};
    if (leapsec_parse(buf, len, &list, &err) != 0)
        fail_msg("/usr/share/zoneinfo/leap-seconds.list:%u: %s", err.line, err.message);
    assert_true(list.n >= 28);
    assert_true(list.entry[0].ntp_sec == 2272060800LL);
    assert_int_equal(list.entry[0].tai_offset, 10);
    struct leapsec_status st = status_at(JUL_2012 - 1);
    assert_int_equal(st.leap, NTP_LEAP_INSERT);
    assert_int_equal(st.tai_offset, 34);
    assert_int_equal(status_at(JAN_2017).tai_offset, 37);
}

static void test_last_day_only(void **state)
{
    (void)state;
    struct leapsec_error err;
    assert_int_equal(parse_text("#$ 3944678400\n#@ 3991593600\n3644697600 36\n3692217600 37\n", &err), 0);
    /* 31 Dec 2016 23:59:59 UTC and 00:00:00: the last day before 1 Jan 2017. */
    struct leapsec_status st = status_at(JAN_2017 - 1);
    assert_int_equal(st.leap, NTP_LEAP_INSERT);
    assert_int_equal(st.tai_offset, 36);
    assert_true(st.next_unix == JAN_2017);
    assert_false(st.expired);
    assert_int_equal(status_at(JAN_2017 - DAY).leap, NTP_LEAP_INSERT);
    /* A day earlier (30 Dec 23:59:59) and a week earlier: nothing to announce yet. */
    st = status_at(JAN_2017 - DAY - 1);
    assert_int_equal(st.leap, NTP_LEAP_NONE);
    assert_int_equal(st.tai_offset, 36);
    assert_true(st.next_unix == JAN_2017);
    assert_int_equal(status_at(JAN_2017 - 7 * DAY).leap, NTP_LEAP_NONE);
    /* After: the new offset, no announcement, no next entry. */
    st = status_at(JAN_2017);
    assert_int_equal(st.leap, NTP_LEAP_NONE);
    assert_int_equal(st.tai_offset, 37);
    assert_true(st.next_unix == 0);
    assert_int_equal(status_at(JAN_2017 + 3600).leap, NTP_LEAP_NONE);
    /* Before the first entry nothing is known, and its date is no leap. */
    st = status_at(1435708800LL - 10);
    assert_int_equal(st.leap, NTP_LEAP_NONE);
    assert_int_equal(st.tai_offset, 0);
}

static void test_negative_leap(void **state)
{
    (void)state;
    struct leapsec_error err;
    /* A deleted second: the offset goes 37 -> 36 at 1 Jan 2017. */
    assert_int_equal(parse_text("#$ 3944678400\n#@ 3991593600\n3644697600 37\n3692217600 36\n", &err), 0);
    struct leapsec_status st = status_at(JAN_2017 - 2);
    assert_int_equal(st.leap, NTP_LEAP_DELETE);
    assert_int_equal(st.tai_offset, 37);
    assert_int_equal(status_at(JAN_2017 - DAY - 1).leap, NTP_LEAP_NONE);
    st = status_at(JAN_2017);
    assert_int_equal(st.leap, NTP_LEAP_NONE);
    assert_int_equal(st.tai_offset, 36);
}

static void test_expiry(void **state)
{
    (void)state;
    char buf[4096];
    size_t len = read_fixture(buf, sizeof buf);
    struct leapsec_error err;
    assert_int_equal(leapsec_parse(buf, len, &list, &err), 0);
    assert_false(status_at(FIXTURE_EXPIRY_UNIX - 1).expired);
    struct leapsec_status st = status_at(FIXTURE_EXPIRY_UNIX);
    assert_true(st.expired);
    assert_int_equal(st.tai_offset, 37);
    assert_int_equal(st.leap, NTP_LEAP_NONE);
    assert_true(status_at(FIXTURE_EXPIRY_UNIX + 365 * DAY).expired);
}

static void test_format_variants(void **state)
{
    (void)state;
    struct leapsec_error err;
    /* CRLF, blank and indented lines, comments after entries, no final newline. */
    assert_int_equal(parse_text("# comment\r\n\r\n#$\t 3944678400\r\n   \t\r\n#@\t3991593600 \r\n"
                                "  3644697600\t\t36 # 1 Jul 2015\r\n#h 1 2 3\r\n3692217600 37", &err),
                     0);
    assert_int_equal(list.n, 2);
    assert_int_equal(list.entry[1].tai_offset, 37);
    /* The special lines may come after the entries. */
    assert_int_equal(parse_text("3644697600 36\n3692217600 37\n#@ 3991593600\n#$ 3944678400\n", &err), 0);
    assert_true(list.expiry == 3991593600LL);
}

struct bad_case {
    const char *line;       /* line 5 of an otherwise good list */
    const char *message;    /* words of the expected message */
    size_t len;             /* 0: strlen(line); set when the line holds a NUL */
};

#define GOOD_HEAD "#$ 3944678400\n#@ 3991593600\n3644697600 36\n3692217600 37\n"

static const struct bad_case bad_lines[] = {
    {"3723753600", "expected", 0},
    {"3723753600 38 x", "unexpected text", 0},
    {"3723753600 38x", "unexpected text", 0},
    {"abc 38", "expected", 0},
    {"-3723753600 38", "expected", 0},
    {"3723753600 -38", "expected", 0},
    {"3723753600,38", "expected", 0},
    {"3723753601 38", "midnight", 0},
    {"1000 38", "out of range", 0},
    {"99999999999999 38", "expected", 0},
    {"8640000000 38", "out of range", 0},
    {"3723753600 0", "offset out of range", 0},
    {"3723753600 999", "offset out of range", 0},
    {"3692217600 38", "not later", 0},
    {"3644697600 38", "not later", 0},
    {"3723753600 39", "exactly one second", 0},
    {"3723753600 37", "exactly one second", 0},
    {"#$ 3944678400", "second last-update", 0},
    {"#@ 3991593600", "second expiry", 0},
    {"3723753600\0 38", "expected", 14},
    {"3723753600 38\0", "unexpected text", 14},
};

static void test_malformed_lines(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_lines / sizeof bad_lines[0]; i++) {
        char text[256];
        size_t head = strlen(GOOD_HEAD);
        size_t line_len = bad_lines[i].len ? bad_lines[i].len : strlen(bad_lines[i].line);
        memcpy(text, GOOD_HEAD, head);
        memcpy(text + head, bad_lines[i].line, line_len);
        memcpy(text + head + line_len, "\n3786912000 38\n", 15);
        struct leapsec_error err = {0};
        int r = leapsec_parse(text, head + line_len + 15, &list, &err);
        if (r != -1 || err.line != 5 || !err.message || !strstr(err.message, bad_lines[i].message))
            fail_msg("case %zu %s: r=%d line=%u message=%s", i, bad_lines[i].line, r, err.line,
                     err.message ? err.message : "(none)");
    }
}

static void test_incomplete_lists(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        unsigned line;
        const char *message;
    } cases[] = {
        {"", 1, "no leap second entries"},
        {"# nothing\n#$ 3944678400\n#@ 3991593600\n", 3, "no leap second entries"},
        {"#$ 3944678400\n3692217600 37\n", 2, "no expiry"},
        {"#@ 3991593600\n3692217600 37\n\n", 3, "no last-update"},
        {"3692217600 37\n#@ 3944678400\n#$ 3991593600\n", 2, "expiry not after"},
        {"#$ 3944678400\n#@ 3944678400\n3692217600 37\n", 2, "expiry not after"},
        {"#$ 100\n#@ 3991593600\n3692217600 37\n", 1, "out of range"},
        {"#$ 3944678400\n#@ abc\n3692217600 37\n", 2, "bad expiry"},
        {"#$ 3944678400\n#@\n3692217600 37\n", 2, "bad expiry"},
        {"#$ 3944678400\n#@ 3991593600 5\n3692217600 37\n", 2, "bad expiry"},
        {"#$ 3944678400 # x\n#@ 3991593600\n3692217600 37\n", 1, "bad last-update"},
        {"#$\n#@ 3991593600\n3692217600 37\n", 1, "bad last-update"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct leapsec_error err = {0};
        int r = parse_text(cases[i].text, &err);
        if (r != -1 || err.line != cases[i].line || !strstr(err.message, cases[i].message))
            fail_msg("case %zu: r=%d line=%u message=%s", i, r, err.line, err.message ? err.message : "(none)");
    }
}

static void test_too_many_entries(void **state)
{
    (void)state;
    static char text[16384];
    size_t len = (size_t)snprintf(text, sizeof text, "#$ 3944678400\n#@ 8000000000\n");
    for (int i = 0; i <= LEAPSEC_MAX_ENTRIES; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "%lld %d\n",
                                2272060800LL + (long long)i * 180 * DAY, 10 + i % 2);
    struct leapsec_error err;
    assert_int_equal(leapsec_parse(text, len, &list, &err), -1);
    assert_int_equal(err.line, 2 + LEAPSEC_MAX_ENTRIES + 1);
    assert_non_null(strstr(err.message, "too many"));
    /* One fewer fits. */
    char *last = text + len - 1;
    while (last > text && last[-1] != '\n')
        last--;
    assert_int_equal(leapsec_parse(text, (size_t)(last - text), &list, &err), 0);
    assert_int_equal(list.n, LEAPSEC_MAX_ENTRIES);
}

/* 2023-06-30 01:00 UTC: the last day of a month, when a leap announced by the sources counts. */
static ntp_ts at(double seconds)
{
    return ntp_add_sec((ntp_ts)3897075600ULL << 32, seconds);
}

static int64_t unix_of(int y, int mo, int d, int h)
{
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h};
    return (int64_t)timegm(&tm);
}

/* A leap is for a month's end: only the last day of a month says yes, leap years included. */
static void test_last_day_of_month(void **state)
{
    (void)state;
    assert_true(leapsec_last_day_of_month(unix_of(2016, 12, 31, 23)));
    assert_true(leapsec_last_day_of_month(unix_of(2015, 6, 30, 0)));
    assert_true(leapsec_last_day_of_month(unix_of(2024, 2, 29, 12)));
    assert_true(leapsec_last_day_of_month(unix_of(2023, 2, 28, 12)));
    assert_true(leapsec_last_day_of_month(unix_of(2100, 2, 28, 12))); /* 2100 is not a leap year */
    assert_false(leapsec_last_day_of_month(unix_of(2024, 2, 28, 12)));
    assert_false(leapsec_last_day_of_month(unix_of(2016, 12, 1, 0)));
    assert_false(leapsec_last_day_of_month(unix_of(2017, 1, 1, 0)));
    assert_false(leapsec_last_day_of_month(unix_of(2026, 6, 29, 23)));
    assert_true(leapsec_last_day_of_month(unix_of(1969, 12, 31, 5)));
}

static void test_reference_override(void **state)
{
    (void)state;
    struct ref_params p;
    ref_default_params(&p);
    struct ref r;
    ref_init(&r, &p, at(0));
    ref_set_leap_override(&r, NTP_LEAP_INSERT);
    assert_int_equal(ref_resp_state(&r)->leap, NTP_LEAP_UNSYNC); /* unsynchronised says so */
    struct ref_peer pe = {.stratum = 2, .refid = 0xc0000201, .age = 1.0};
    ref_update(&r, at(10), &pe, NTP_LEAP_NONE);
    assert_int_equal(ref_resp_state(&r)->leap, NTP_LEAP_INSERT);
    ref_set_leap_override(&r, REF_LEAP_FROM_SOURCES);
    assert_int_equal(ref_resp_state(&r)->leap, NTP_LEAP_NONE);
    /* A current list also silences a leap the sources announce. */
    ref_update(&r, at(20), &pe, NTP_LEAP_INSERT);
    assert_int_equal(ref_resp_state(&r)->leap, NTP_LEAP_INSERT);
    ref_set_leap_override(&r, NTP_LEAP_NONE);
    assert_int_equal(ref_resp_state(&r)->leap, NTP_LEAP_NONE);
    ref_set_leap_override(&r, NTP_LEAP_DELETE);
    ref_update(&r, at(30), &pe, NTP_LEAP_INSERT);
    assert_int_equal(ref_resp_state(&r)->leap, NTP_LEAP_DELETE);
    /* Holdover keeps it; a LOCAL reference announces it too. */
    ref_set_unselected(&r, at(40));
    assert_int_equal(r.mode, REF_HOLDOVER);
    assert_int_equal(ref_resp_state(&r)->leap, NTP_LEAP_DELETE);
    p.local_enabled = true;
    ref_init(&r, &p, at(0));
    assert_int_equal(ref_resp_state(&r)->leap, NTP_LEAP_NONE);
    ref_set_leap_override(&r, NTP_LEAP_INSERT);
    assert_int_equal(r.mode, REF_LOCAL);
    assert_int_equal(ref_resp_state(&r)->leap, NTP_LEAP_INSERT);
    ref_tick(&r, at(100));
    assert_int_equal(ref_resp_state(&r)->leap, NTP_LEAP_INSERT);
    ref_set_leap_override(&r, 3); /* not a verdict: back to the sources (none: 0 in LOCAL) */
    assert_int_equal(ref_resp_state(&r)->leap, NTP_LEAP_NONE);
}

struct fake_clock {
    int leap;
    bool synchronised;
    unsigned status_calls;
};

static int fake_read(void *ctx, struct unix_time *now)
{
    (void)ctx;
    *now = (struct unix_time){JAN_2017 - 10, 0};
    return 0;
}

static int fake_set_frequency(void *ctx, double ppm)
{
    (void)ctx;
    (void)ppm;
    return 0;
}

static int fake_get_frequency(void *ctx, double *ppm)
{
    (void)ctx;
    *ppm = 0.0;
    return 0;
}

static int fake_step(void *ctx, double offset)
{
    (void)ctx;
    (void)offset;
    return 0;
}

static int fake_set_sync_status(void *ctx, bool synchronised, int leap, double est_error, double max_error)
{
    struct fake_clock *c = ctx;
    (void)est_error;
    (void)max_error;
    c->synchronised = synchronised;
    c->leap = leap;
    c->status_calls++;
    return 0;
}

static void test_leap_reaches_driver(void **state)
{
    (void)state;
    static struct sync n;
    struct fake_clock fc = {0};
    struct clock_driver drv = {&fc, fake_read, fake_set_frequency, fake_get_frequency, fake_step,
                               fake_set_sync_status};
    struct sync_params p;
    sync_default_params(&p);
    sync_init(&n, &p, &drv, ntp_from_unix((struct unix_time){JAN_2017 - 10, 0}));
    ref_set_leap_override(&n.ref, NTP_LEAP_INSERT);
    sync_tick(&n);
    assert_int_equal(fc.status_calls, 1);
    assert_false(fc.synchronised);
    assert_int_equal(fc.leap, NTP_LEAP_NONE); /* unsynchronised: nothing to announce */
    p.ref.local_enabled = true;
    sync_init(&n, &p, &drv, ntp_from_unix((struct unix_time){JAN_2017 - 10, 0}));
    ref_set_leap_override(&n.ref, NTP_LEAP_INSERT);
    sync_tick(&n);
    assert_int_equal(fc.leap, NTP_LEAP_INSERT);
    struct ref_tracking t;
    sync_get_tracking(&n, &t);
    assert_int_equal(t.leap, NTP_LEAP_INSERT);
    ref_set_leap_override(&n.ref, REF_LEAP_FROM_SOURCES);
    sync_tick(&n);
    assert_int_equal(fc.leap, NTP_LEAP_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_fixture),
        cmocka_unit_test(test_parse_system_list),
        cmocka_unit_test(test_last_day_only),
        cmocka_unit_test(test_negative_leap),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_format_variants),
        cmocka_unit_test(test_malformed_lines),
        cmocka_unit_test(test_incomplete_lists),
        cmocka_unit_test(test_too_many_entries),
        cmocka_unit_test(test_last_day_of_month),
        cmocka_unit_test(test_reference_override),
        cmocka_unit_test(test_leap_reaches_driver),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

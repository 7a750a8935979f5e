/* Unit tests for driftfile: round trip, chrony's format and sign, errors, atomic replacement. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/driftfile.h"

struct fixture {
    char dir[64];
    char path[128];
};

static int setup(void **state)
{
    static struct fixture fx;
    snprintf(fx.dir, sizeof fx.dir, "/tmp/test_driftfile.XXXXXX");
    if (!mkdtemp(fx.dir))
        return -1;
    snprintf(fx.path, sizeof fx.path, "%s/horloge.drift", fx.dir);
    *state = &fx;
    return 0;
}

static unsigned count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    unsigned n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    if (d)
        closedir(d);
    return n;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    DIR *d = opendir(fx->dir);
    struct dirent *e;
    char p[512];
    while (d && (e = readdir(d))) {
        snprintf(p, sizeof p, "%s/%s", fx->dir, e->d_name);
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            unlink(p);
    }
    if (d)
        closedir(d);
    return rmdir(fx->dir);
}

static void put_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void get_text(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}

static void test_round_trip(void **state)
{
    struct fixture *fx = *state;
    struct drift_value v = {.freq_ppm = 12.345678, .skew_ppm = 0.042}, back;
    int err = -1;
    assert_int_equal(drift_write(fx->path, &v, &err), DRIFT_OK);
    assert_int_equal(err, 0);
    char text[128];
    get_text(fx->path, text, sizeof text);
    assert_string_equal(text, "          -12.345678             0.042000\n");
    assert_int_equal(drift_read(fx->path, &back, &err), DRIFT_OK);
    assert_true(fabs(back.freq_ppm - v.freq_ppm) < 1e-9);
    assert_true(fabs(back.skew_ppm - v.skew_ppm) < 1e-9);
    v.freq_ppm = -3.5;
    assert_int_equal(drift_write(fx->path, &v, NULL), DRIFT_OK);
    assert_int_equal(drift_read(fx->path, &back, NULL), DRIFT_OK);
    assert_true(back.freq_ppm == -3.5);
    assert_int_equal(count_entries(fx->dir), 1); /* no temporary left behind */
}

/* A file written by chronyd: its value is the clock's gain rate, the opposite of our correction. */
static void test_chrony_file(void **state)
{
    struct fixture *fx = *state;
    put_text(fx->path, "            7.250000             0.123000\n");
    struct drift_value v;
    assert_int_equal(drift_read(fx->path, &v, NULL), DRIFT_OK);
    assert_true(v.freq_ppm == -7.25 && v.skew_ppm == 0.123);
    put_text(fx->path, "-1.5 2");
    assert_int_equal(drift_read(fx->path, &v, NULL), DRIFT_OK);
    assert_true(v.freq_ppm == 1.5 && v.skew_ppm == 2);
}

static void test_missing_and_corrupt(void **state)
{
    struct fixture *fx = *state;
    struct drift_value v = {.freq_ppm = 99, .skew_ppm = 99};
    int err = 0;
    assert_int_equal(drift_read(fx->path, &v, &err), DRIFT_MISSING);
    assert_int_equal(err, ENOENT);
    assert_string_equal(drift_status_name(DRIFT_MISSING), "missing");
    static const struct { const char *text; enum drift_status status; } cases[] = {
        {"", DRIFT_CORRUPT},
        {"abc def\n", DRIFT_CORRUPT},
        {"1.0\n", DRIFT_CORRUPT},
        {"1.0 2.0 junk\n", DRIFT_CORRUPT},
        {"1.0 2.0\n3.0 4.0\n", DRIFT_CORRUPT},
        {"nan 1\n", DRIFT_CORRUPT},
        {"1 inf\n", DRIFT_CORRUPT},
        {"200000 1\n", DRIFT_RANGE},
        {"1 -0.5\n", DRIFT_RANGE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        put_text(fx->path, cases[i].text);
        assert_int_equal(drift_read(fx->path, &v, &err), cases[i].status);
        assert_int_equal(err, 0);
    }
    char big[400];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    big[0] = '1';
    big[2] = '2';
    put_text(fx->path, big);
    assert_int_equal(drift_read(fx->path, &v, NULL), DRIFT_CORRUPT);
    assert_true(v.freq_ppm == 99); /* untouched on failure */
    unlink(fx->path);
    assert_int_equal(drift_read(fx->dir, &v, &err), DRIFT_IO); /* a directory */
    assert_int_equal(err, EISDIR);
}

static void test_write_errors(void **state)
{
    struct fixture *fx = *state;
    struct drift_value v = {.freq_ppm = NAN, .skew_ppm = 1};
    int err = 0;
    assert_int_equal(drift_write(fx->path, &v, &err), DRIFT_RANGE);
    v.freq_ppm = 1;
    char path[160];
    snprintf(path, sizeof path, "%s/no/such/dir/drift", fx->dir);
    assert_int_equal(drift_write(path, &v, &err), DRIFT_IO);
    assert_int_equal(err, ENOENT);
    assert_int_equal(count_entries(fx->dir), 0);
}

/* A write that fails midway (file size limit: EFBIG) leaves the old file whole and no temporary. */
static void test_failed_write_keeps_old(void **state)
{
    struct fixture *fx = *state;
    struct drift_value old = {.freq_ppm = 4.5, .skew_ppm = 0.25}, v = {.freq_ppm = -8, .skew_ppm = 1};
    assert_int_equal(drift_write(fx->path, &old, NULL), DRIFT_OK);
    struct rlimit saved, small;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    small = saved;
    small.rlim_cur = 10;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    int err = 0;
    enum drift_status st = drift_write(fx->path, &v, &err);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    signal(SIGXFSZ, prev);
    assert_int_equal(st, DRIFT_IO);
    assert_int_equal(err, EFBIG);
    struct drift_value back;
    assert_int_equal(drift_read(fx->path, &back, NULL), DRIFT_OK);
    assert_true(back.freq_ppm == 4.5 && back.skew_ppm == 0.25);
    assert_int_equal(count_entries(fx->dir), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chrony_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_and_corrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_write_keeps_old, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

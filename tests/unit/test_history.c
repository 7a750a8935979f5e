/* Unit tests for core/history (the status page's ring) and io/svgplot (its charts). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/history.h"
#include "io/svgplot.h"

static struct history h;

static bool offer(double t, double offset)
{
    struct history_point p = {t, offset, 1.0, 0.001};
    return history_offer(&h, &p);
}

static void test_one_point_per_interval(void **state)
{
    (void)state;
    history_init(&h, 60);
    assert_true(offer(1000, 1));
    assert_false(offer(1001, 2));
    assert_false(offer(1059.9, 3));
    assert_true(offer(1060, 4));
    assert_int_equal(h.n, 2);
    assert_true(history_at(&h, 0)->offset == 1 && history_at(&h, 1)->offset == 4);
    history_init(&h, 0);
    assert_true(h.interval == HISTORY_DEFAULT_INTERVAL);
}

/* Bounded memory: the oldest points are overwritten, in order. */
static void test_ring_wraps(void **state)
{
    (void)state;
    history_init(&h, 1);
    for (unsigned i = 0; i < HISTORY_POINTS + 10; i++)
        assert_true(offer(i, i));
    assert_int_equal(h.n, HISTORY_POINTS);
    assert_true(history_at(&h, 0)->offset == 10);
    assert_true(history_at(&h, HISTORY_POINTS - 1)->offset == HISTORY_POINTS + 9);
}

/* A clock that went back far does not stop the recording until it catches up. */
static void test_time_going_back(void **state)
{
    (void)state;
    history_init(&h, 60);
    assert_true(offer(100000, 1));
    assert_true(offer(50000, 2));
    assert_true(offer(50060, 3));
    assert_int_equal(h.n, 3);
}

static void chart(const double *x, const double *y, unsigned n, const char *unit, char *out, size_t cap)
{
    FILE *f = fmemopen(out, cap, "w");
    assert_non_null(f);
    struct svgplot p = {"Offset", "plot-offset", "hours before now", unit, x, y, n};
    assert_int_equal(svgplot_write(f, &p), 0);
    fclose(f);
}

static void test_svg_chart(void **state)
{
    (void)state;
    static char svg[65536];
    double x[] = {-2, -1, 0}, y[] = {-3e-6, 1e-6, 4e-6};
    chart(x, y, 3, "s", svg, sizeof svg);
    assert_non_null(strstr(svg, "<svg id=\"plot-offset\""));
    assert_non_null(strstr(svg, "Offset (\u00b5s)"));  /* seconds get the prefix that fits */
    assert_non_null(strstr(svg, "<polyline class=\"series\""));
    assert_non_null(strstr(svg, "hours before now"));
    assert_true(strstr(svg, "</svg>") == svg + strlen(svg) - 6);
    chart(x, (double[]){200, 250, 300}, 3, "ppm", svg, sizeof svg);
    assert_non_null(strstr(svg, "Offset (ppm)"));
    chart(x, y, 1, "s", svg, sizeof svg);
    assert_non_null(strstr(svg, "<circle class=\"point\""));
    chart(x, y, 0, "s", svg, sizeof svg);
    assert_non_null(strstr(svg, "no data yet"));
    double flat[] = {0, 0, 0};
    chart(x, flat, 3, "s", svg, sizeof svg);
    assert_null(strstr(svg, "nan"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_point_per_interval),
        cmocka_unit_test(test_ring_wraps),
        cmocka_unit_test(test_time_going_back),
        cmocka_unit_test(test_svg_chart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

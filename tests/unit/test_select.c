/* Unit tests for select: Marzullo with known intervals, majority, prefer, maxdistance, minsources, leap. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/packet.h"
#include "core/select.h"

/* A source at `offset` whose correctness interval is offset +- halfwidth. */
static struct sel_input src(double offset, double halfwidth)
{
    return (struct sel_input){
        .reachable = true,
        .offset = offset,
        .error = halfwidth / 100.0,
        .jitter = halfwidth / 50.0,
        .root_distance = halfwidth - 2.0 * halfwidth / 100.0,
        .stratum = 2,
        .leap = NTP_LEAP_NONE,
    };
}

static void run(const struct sel_params *p, const struct sel_input *in, unsigned n, int prev,
                enum sel_verdict *v, struct sel_result *r)
{
    assert_int_equal(sel_run(p, in, n, prev, v, r), 0);
}

static void test_interval_halfwidth(void **state)
{
    (void)state;
    struct sel_input s = src(0.0, 0.010);
    assert_true(fabs(sel_interval_halfwidth(&s) - 0.010) < 1e-12);
}

static void test_marzullo_finds_falsetickers(void **state)
{
    (void)state;
    struct sel_params p;
    sel_default_params(&p);
    /* Three agree around 0.001..0.002; two are far on either side. */
    struct sel_input in[5] = {
        src(0.000, 0.002),  /* [-0.002, 0.002] */
        src(0.003, 0.002),  /* [ 0.001, 0.005] */
        src(0.500, 0.002),
        src(0.0015, 0.001), /* [ 0.0005, 0.0025] */
        src(-0.400, 0.002),
    };
    enum sel_verdict v[5];
    struct sel_result r;
    run(&p, in, 5, -1, v, &r);
    assert_int_equal(v[2], SEL_FALSETICKER);
    assert_int_equal(v[4], SEL_FALSETICKER);
    const int agree[3] = {0, 1, 3};
    for (int i = 0; i < 3; i++)
        assert_true(v[agree[i]] == SEL_SELECTED || v[agree[i]] == SEL_CANDIDATE);
    assert_int_equal(r.n_truechimers, 3);
    assert_int_equal(r.n_combined, 3);
    assert_true(fabs(r.low - 0.001) < 1e-12);
    assert_true(fabs(r.high - 0.002) < 1e-12);
    assert_true(r.selected >= 0 && v[r.selected] == SEL_SELECTED);
    assert_true(r.offset > 0.0 && r.offset < 0.003);
}

static void test_majority_required(void **state)
{
    (void)state;
    struct sel_params p;
    sel_default_params(&p);
    /* Two against two: no majority, nobody is trusted. */
    struct sel_input in[4] = {src(0.0, 0.001), src(0.0005, 0.001), src(0.3, 0.001),
                              src(0.3005, 0.001)};
    enum sel_verdict v[4];
    struct sel_result r;
    run(&p, in, 4, -1, v, &r);
    for (int i = 0; i < 4; i++)
        assert_int_equal(v[i], SEL_NOT_ENOUGH);
    assert_int_equal(r.selected, -1);
    assert_int_equal(r.leap, NTP_LEAP_UNSYNC);
    /* Two servers that disagree: same. */
    run(&p, in + 1, 2, -1, v, &r);
    assert_int_equal(v[0], SEL_NOT_ENOUGH);
    assert_int_equal(v[1], SEL_NOT_ENOUGH);
    /* One liar out of three is outvoted. */
    struct sel_input three[3] = {src(0.0, 0.001), src(0.5, 0.001), src(0.0008, 0.001)};
    run(&p, three, 3, -1, v, &r);
    assert_int_equal(v[1], SEL_FALSETICKER);
    assert_int_equal(r.n_truechimers, 2);
}

static void test_pending_sources_count(void **state)
{
    (void)state;
    struct sel_params p;
    sel_default_params(&p);
    /* The first of three configured sources to answer cannot win alone. */
    struct sel_input in[3] = {src(0.5, 0.001), src(0.0, 0.001), src(0.0, 0.001)};
    in[1].reachable = in[2].reachable = false;
    in[1].pending = in[2].pending = true;
    enum sel_verdict v[3];
    struct sel_result r;
    run(&p, in, 3, -1, v, &r);
    assert_int_equal(v[0], SEL_NOT_ENOUGH);
    assert_int_equal(v[1], SEL_UNREACHABLE);
    assert_int_equal(r.selected, -1);
    /* Two that agree are a majority of three. */
    in[1].reachable = true;
    in[1].pending = false;
    run(&p, in, 3, -1, v, &r);
    assert_int_equal(v[0], SEL_NOT_ENOUGH);
    in[0].offset = 0.0005;
    run(&p, in, 3, -1, v, &r);
    assert_true(r.selected == 0 || r.selected == 1);
    assert_int_equal(r.n_combined, 2);
    /* A source no longer pending does not count. */
    in[0].offset = 0.5;
    in[2].pending = false;
    run(&p, in, 3, -1, v, &r);
    assert_int_equal(v[0], SEL_NOT_ENOUGH);
    assert_int_equal(v[1], SEL_NOT_ENOUGH);
}

static void test_single_source(void **state)
{
    (void)state;
    struct sel_params p;
    sel_default_params(&p);
    struct sel_input in = src(0.25, 0.001);
    enum sel_verdict v;
    struct sel_result r;
    run(&p, &in, 1, -1, &v, &r);
    assert_int_equal(v, SEL_SELECTED);
    assert_int_equal(r.selected, 0);
    assert_true(fabs(r.offset - 0.25) < 1e-12);
}

static void test_prefer(void **state)
{
    (void)state;
    struct sel_params p;
    sel_default_params(&p);
    struct sel_input in[3] = {src(0.0, 0.001), src(0.0002, 0.005), src(0.0001, 0.001)};
    in[1].prefer = true;
    enum sel_verdict v[3];
    struct sel_result r;
    run(&p, in, 3, -1, v, &r);
    /* The preferred source wins although it is the worst, and alone is combined. */
    assert_int_equal(r.selected, 1);
    assert_int_equal(v[1], SEL_SELECTED);
    assert_int_equal(v[0], SEL_OUTLIER);
    assert_int_equal(v[2], SEL_OUTLIER);
    assert_true(fabs(r.offset - 0.0002) < 1e-12);
    /* A preferred falseticker gets nothing. */
    in[1].offset = 0.5;
    run(&p, in, 3, -1, v, &r);
    assert_int_equal(v[1], SEL_FALSETICKER);
    assert_true(r.selected == 0 || r.selected == 2);
}

static void test_maxdistance(void **state)
{
    (void)state;
    struct sel_params p;
    sel_default_params(&p);
    p.maxdistance = 0.1;
    struct sel_input in[2] = {src(0.0, 0.05), src(0.0, 0.5)};
    enum sel_verdict v[2];
    struct sel_result r;
    run(&p, in, 2, -1, v, &r);
    assert_int_equal(v[0], SEL_SELECTED);
    assert_int_equal(v[1], SEL_TOO_FAR);
    p.maxdistance = 0.01;
    run(&p, in, 2, -1, v, &r);
    assert_int_equal(v[0], SEL_TOO_FAR);
    assert_int_equal(r.selected, -1);
}

static void test_minsources(void **state)
{
    (void)state;
    struct sel_params p;
    sel_default_params(&p);
    p.minsources = 3;
    struct sel_input in[3] = {src(0.0, 0.001), src(0.0005, 0.001), src(0.7, 0.001)};
    enum sel_verdict v[3];
    struct sel_result r;
    run(&p, in, 3, -1, v, &r);
    assert_int_equal(v[0], SEL_NOT_ENOUGH);
    assert_int_equal(v[1], SEL_NOT_ENOUGH);
    assert_int_equal(v[2], SEL_FALSETICKER);
    assert_int_equal(r.selected, -1);
    p.minsources = 2;
    run(&p, in, 3, -1, v, &r);
    assert_true(r.selected == 0 || r.selected == 1);
}

static void test_unreachable_and_unfit(void **state)
{
    (void)state;
    struct sel_params p;
    sel_default_params(&p);
    struct sel_input in[5] = {src(0.0, 0.001), src(0.0, 0.001), src(0.0, 0.001),
                              src(0.0, 0.001), src(0.0, 0.001)};
    in[0].reachable = false;
    in[1].leap = NTP_LEAP_UNSYNC;
    in[2].stratum = 16;
    in[3].offset = NAN;
    enum sel_verdict v[5];
    struct sel_result r;
    run(&p, in, 5, -1, v, &r);
    assert_int_equal(v[0], SEL_UNREACHABLE);
    assert_int_equal(v[1], SEL_UNFIT);
    assert_int_equal(v[2], SEL_UNFIT);
    assert_int_equal(v[3], SEL_UNREACHABLE);
    assert_int_equal(v[4], SEL_SELECTED);
    assert_int_equal(sel_run(&p, in, SEL_MAX_SOURCES + 1, -1, v, &r), -1);
}

/* A reference clock's samples are stratum 0: selectable, and ahead of servers by stratum weight. */
static void test_reference_clock_selected(void **state)
{
    (void)state;
    struct sel_params p;
    sel_default_params(&p);
    struct sel_input in[3] = {src(0.0, 0.001), src(0.0, 0.001), src(0.0, 0.001)};
    in[1].stratum = 0;
    enum sel_verdict v[3];
    struct sel_result r;
    run(&p, in, 3, -1, v, &r);
    assert_int_equal(v[1], SEL_SELECTED);
    assert_int_equal(r.selected, 1);
}

static void test_leap_majority(void **state)
{
    (void)state;
    struct sel_params p;
    sel_default_params(&p);
    struct sel_input in[3] = {src(0.0, 0.001), src(0.0001, 0.001), src(0.0002, 0.001)};
    in[0].leap = NTP_LEAP_INSERT;
    enum sel_verdict v[3];
    struct sel_result r;
    run(&p, in, 3, -1, v, &r);
    assert_int_equal(r.leap, NTP_LEAP_NONE);
    in[2].leap = NTP_LEAP_INSERT;
    run(&p, in, 3, -1, v, &r);
    assert_int_equal(r.leap, NTP_LEAP_INSERT);
    in[0].leap = in[1].leap = in[2].leap = NTP_LEAP_DELETE;
    run(&p, in, 3, -1, v, &r);
    assert_int_equal(r.leap, NTP_LEAP_DELETE);
}

static void test_combine_weighted(void **state)
{
    (void)state;
    struct sel_params p;
    sel_default_params(&p);
    struct sel_input in[2] = {src(0.0, 0.01), src(0.001, 0.01)};
    in[0].error = 1e-4;
    in[1].error = 2e-4; /* a quarter of the weight */
    enum sel_verdict v[2];
    struct sel_result r;
    run(&p, in, 2, -1, v, &r);
    assert_int_equal(r.n_combined, 2);
    assert_true(fabs(r.offset - 0.001 * 0.25 / 1.25) < 1e-12);
    assert_true(fabs(r.error - sqrt(1.0 / (1e8 + 0.25e8))) < 1e-12);
}

static void test_cluster_prunes_outlier(void **state)
{
    (void)state;
    struct sel_params p;
    sel_default_params(&p);
    /* All intervals overlap, but the fifth sits far from the others relative to their jitter. */
    struct sel_input in[5] = {src(0.0, 0.01), src(0.0001, 0.01), src(-0.0001, 0.01),
                              src(0.00005, 0.01), src(0.008, 0.01)};
    for (int i = 0; i < 5; i++)
        in[i].jitter = 0.0002;
    enum sel_verdict v[5];
    struct sel_result r;
    run(&p, in, 5, -1, v, &r);
    assert_int_equal(r.n_truechimers, 5);
    assert_int_equal(v[4], SEL_OUTLIER);
    assert_int_equal(r.n_combined, 4);
    assert_true(fabs(r.offset) < 0.0002);
}

static void test_peer_hysteresis(void **state)
{
    (void)state;
    struct sel_params p;
    sel_default_params(&p);
    struct sel_input in[2] = {src(0.0, 0.010), src(0.0, 0.012)};
    enum sel_verdict v[2];
    struct sel_result r;
    run(&p, in, 2, -1, v, &r);
    assert_int_equal(r.selected, 0);
    /* The previous peer stays while within 1.5 x the best score... */
    run(&p, in, 2, 1, v, &r);
    assert_int_equal(r.selected, 1);
    assert_int_equal(v[1], SEL_SELECTED);
    assert_int_equal(v[0], SEL_CANDIDATE);
    /* ...and not beyond. */
    in[1] = src(0.0, 0.030);
    run(&p, in, 2, 1, v, &r);
    assert_int_equal(r.selected, 0);
}

/* An unproven source (too few samples) votes for the majority but is never combined or selected. */
static void test_unproven_votes_only(void **state)
{
    (void)state;
    struct sel_params p;
    sel_default_params(&p);
    struct sel_input in[3] = {src(0.000, 0.002), src(0.001, 0.002), src(0.5, 0.002)};
    in[1].unproven = true;
    enum sel_verdict v[3];
    struct sel_result r;
    run(&p, in, 3, -1, v, &r);
    /* With its vote the first is a majority of 2 against the liar; the unproven is not combined. */
    assert_int_equal(v[0], SEL_SELECTED);
    assert_int_equal(v[1], SEL_OUTLIER);
    assert_int_equal(v[2], SEL_FALSETICKER);
    assert_int_equal(r.n_combined, 1);
    /* Alone, unproven: nothing is selected. */
    run(&p, &in[1], 1, -1, v, &r);
    assert_int_equal(r.selected, -1);
    assert_int_equal(v[0], SEL_OUTLIER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interval_halfwidth),
        cmocka_unit_test(test_marzullo_finds_falsetickers),
        cmocka_unit_test(test_majority_required),
        cmocka_unit_test(test_pending_sources_count),
        cmocka_unit_test(test_single_source),
        cmocka_unit_test(test_prefer),
        cmocka_unit_test(test_maxdistance),
        cmocka_unit_test(test_minsources),
        cmocka_unit_test(test_unreachable_and_unfit),
        cmocka_unit_test(test_reference_clock_selected),
        cmocka_unit_test(test_leap_majority),
        cmocka_unit_test(test_combine_weighted),
        cmocka_unit_test(test_cluster_prunes_outlier),
        cmocka_unit_test(test_peer_hysteresis),
        cmocka_unit_test(test_unproven_votes_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for core/refclock: chrony's SOCK datagram as gpsd sends it, and readings into samples. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/time.h>

#include <cmocka.h>

#include "core/packet.h"
#include "core/refclock.h"

/* What the sender (gpsd, chrony's refclock_sock.c convention) writes: its native struct. */
struct sender_sample {
    struct timeval tv;
    double offset;
    int pulse;
    int leap;
    int pad;
    int magic;
};

static size_t encode(uint8_t *buf, long sec, long usec, double offset, int pulse, int leap, unsigned magic)
{
    struct sender_sample s = {.tv = {.tv_sec = sec, .tv_usec = usec}, .offset = offset, .pulse = pulse,
                              .leap = leap, .magic = (int)magic};
    memcpy(buf, &s, sizeof s);
    return sizeof s;
}

static void test_layout_matches_sender(void **unused)
{
    (void)unused;
    assert_int_equal(REFCLOCK_SOCK_LEN, sizeof(struct sender_sample));
}

static void test_decode_good(void **unused)
{
    (void)unused;
    uint8_t buf[64];
    size_t n = encode(buf, 1700000000, 250000, -0.0123, 0, NTP_LEAP_INSERT, REFCLOCK_SOCK_MAGIC);
    struct refclock_reading r;
    assert_int_equal(refclock_decode_sock(buf, n, &r), REFCLOCK_OK);
    assert_int_equal(r.local.sec, 1700000000);
    assert_int_equal(r.local.nsec, 250000000);
    assert_true(r.offset == -0.0123);
    assert_int_equal(r.leap, NTP_LEAP_INSERT);
    assert_false(r.pulse);
}

static void test_decode_rejects(void **unused)
{
    (void)unused;
    uint8_t buf[64];
    struct refclock_reading r;
    size_t n = encode(buf, 1700000000, 0, 0.0, 0, 0, REFCLOCK_SOCK_MAGIC);
    assert_int_equal(refclock_decode_sock(buf, n - 1, &r), REFCLOCK_BAD_LENGTH);
    assert_int_equal(refclock_decode_sock(buf, n + 1, &r), REFCLOCK_BAD_LENGTH);
    assert_int_equal(refclock_decode_sock(buf, 0, &r), REFCLOCK_BAD_LENGTH);
    n = encode(buf, 1700000000, 0, 0.0, 0, 0, 0x12345678);
    assert_int_equal(refclock_decode_sock(buf, n, &r), REFCLOCK_BAD_MAGIC);
    n = encode(buf, 1700000000, 1000000, 0.0, 0, 0, REFCLOCK_SOCK_MAGIC);
    assert_int_equal(refclock_decode_sock(buf, n, &r), REFCLOCK_BAD_VALUE);
    n = encode(buf, 1700000000, -1, 0.0, 0, 0, REFCLOCK_SOCK_MAGIC);
    assert_int_equal(refclock_decode_sock(buf, n, &r), REFCLOCK_BAD_VALUE);
    n = encode(buf, 1700000000, 0, NAN, 0, 0, REFCLOCK_SOCK_MAGIC);
    assert_int_equal(refclock_decode_sock(buf, n, &r), REFCLOCK_BAD_VALUE);
    n = encode(buf, 1700000000, 0, 2e6, 0, 0, REFCLOCK_SOCK_MAGIC);
    assert_int_equal(refclock_decode_sock(buf, n, &r), REFCLOCK_BAD_VALUE);
    n = encode(buf, 1700000000, 0, 0.0, 0, 3, REFCLOCK_SOCK_MAGIC);
    assert_int_equal(refclock_decode_sock(buf, n, &r), REFCLOCK_BAD_VALUE);
    n = encode(buf, -5, 0, 0.0, 0, 0, REFCLOCK_SOCK_MAGIC);
    assert_int_equal(refclock_decode_sock(buf, n, &r), REFCLOCK_BAD_VALUE);
}

static void test_sample_from_reading(void **unused)
{
    (void)unused;
    struct refclock_params p = {
        .refid = pkt_refid_ascii("GPS"),
        .offset = 0.001,
        .delay = 0.0002,
        .precision = -10,
        .epoch = ntp_from_unix((struct unix_time){1700000000, 0}),
    };
    struct refclock_reading r = {.local = {1700000010, 500000000}, .offset = 0.25, .leap = NTP_LEAP_NONE};
    struct ntp_sample s;
    assert_true(refclock_make_sample(&p, &r, &s));
    assert_true(fabs(s.local_time - (10.5 + 0.0001)) < 1e-9);
    assert_true(fabs(s.offset - 0.251) < 1e-12);
    assert_true(s.delay == 0.0002);
    assert_true(fabs(s.dispersion - ldexp(1.0, -10)) < 1e-15);
    assert_int_equal(s.stratum, 0);
    assert_true(s.root_delay == 0.0 && s.root_dispersion == 0.0);
    assert_int_equal(s.refid, pkt_refid_ascii("GPS"));
    /* Defaults for what was not configured. */
    p.delay = 0;
    p.precision = 0;
    assert_true(refclock_make_sample(&p, &r, &s));
    assert_true(s.delay == REFCLOCK_DEFAULT_DELAY);
    assert_true(s.dispersion == ldexp(1.0, REFCLOCK_DEFAULT_PRECISION));
    /* A pulse alone does not say which second it is. */
    r.pulse = true;
    assert_false(refclock_make_sample(&p, &r, &s));
}

static void test_number_pulse(void **unused)
{
    (void)unused;
    /* An edge stamped 3 us after the system's second: modulo 1 s, the system is 3 us ahead. */
    struct refclock_reading pulse = {.local = {1700000100, 3000}, .offset = -3e-6, .pulse = true}, out;
    /* The coarse source says the system is 1.2 s behind (within 0.4 s of the phase + 1 s). */
    assert_int_equal(refclock_number_pulse(&pulse, 1.2, &out), REFCLOCK_OK);
    assert_true(fabs(out.offset - (1.0 - 3e-6)) < 1e-12);
    assert_false(out.pulse);
    assert_int_equal(refclock_number_pulse(&pulse, -0.39, &out), REFCLOCK_OK);
    assert_true(fabs(out.offset + 3e-6) < 1e-12);
    /* Half a second from the phase: which second is a guess. */
    assert_int_equal(refclock_number_pulse(&pulse, 0.5, &out), REFCLOCK_NO_SECOND);
    assert_int_equal(refclock_number_pulse(&pulse, -0.41, &out), REFCLOCK_NO_SECOND);
    /* An edge just before the system's second (offset -0.999998 == +2 us modulo 1 s). */
    pulse = (struct refclock_reading){.local = {1700000100, 999998000}, .offset = -0.999998, .pulse = true};
    assert_int_equal(refclock_number_pulse(&pulse, 0.01, &out), REFCLOCK_OK);
    assert_true(fabs(out.offset - 2e-6) < 1e-9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_matches_sender),
        cmocka_unit_test(test_decode_good),
        cmocka_unit_test(test_decode_rejects),
        cmocka_unit_test(test_sample_from_reading),
        cmocka_unit_test(test_number_pulse),
    };
    return cmocka_run_group_tests_name("refclock", tests, NULL, NULL);
}

/*
 * Unit tests for the SHM reader (io/refclock_shm.c, core/refclock's decoder) against a
 * SysV segment this test creates itself (IPC_PRIVATE, so no other program's) and writes
 * as gpsd does: torn reads refused, stale samples ignored, `valid` honoured.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <time.h>

#include <cmocka.h>

#include "io/refclock.h"

/* The writer's view: ntpd's struct shmTime as gpsd declares it. */
struct writer_shm {
    int mode;
    volatile int count;
    time_t clock_sec;
    int clock_usec;
    time_t receive_sec;
    int receive_usec;
    int leap;
    int precision;
    int nsamples;
    volatile int valid;
    unsigned clock_nsec;
    unsigned receive_nsec;
    int spare[8];
};

#define NOW_SEC 1790000000

struct fixture {
    int id;
    struct writer_shm *w;
};

static int setup(void **state)
{
    static struct fixture f;
    f.id = shmget(IPC_PRIVATE, sizeof(struct writer_shm), IPC_CREAT | 0600);
    if (f.id < 0)
        return -1;
    f.w = shmat(f.id, NULL, 0);
    shmctl(f.id, IPC_RMID, NULL); /* gone once detached, whatever happens */
    if (f.w == (void *)-1)
        return -1;
    memset(f.w, 0, sizeof *f.w);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    shmdt(f->w);
    return 0;
}

/* A writer's sample, as gpsd's ntp_write makes it: count bumped around the fields, then valid. */
static void write_sample(struct writer_shm *w, int mode, time_t clock_sec, unsigned clock_nsec, time_t rx_sec,
                         unsigned rx_nsec, int leap)
{
    w->mode = mode;
    w->valid = 0;
    w->count++;
    w->clock_sec = clock_sec;
    w->clock_usec = (int)(clock_nsec / 1000);
    w->clock_nsec = clock_nsec;
    w->receive_sec = rx_sec;
    w->receive_usec = (int)(rx_nsec / 1000);
    w->receive_nsec = rx_nsec;
    w->leap = leap;
    w->precision = -20;
    w->nsamples = 3;
    w->count++;
    w->valid = 1;
}

static const struct unix_time now = {NOW_SEC, 300000000};

static enum refclock_status take(struct fixture *f, struct refclock_reading *r)
{
    return refclock_shm_take((volatile uint8_t *)f->w, refclock_shm_copy, NULL, now, r);
}

static void test_layout_matches_writer(void **unused)
{
    (void)unused;
    assert_int_equal(REFCLOCK_SHM_LEN, sizeof(struct writer_shm));
    assert_int_equal(REFCLOCK_SHM_COUNT_AT, offsetof(struct writer_shm, count));
    assert_int_equal(REFCLOCK_SHM_CLOCK_SEC_AT, offsetof(struct writer_shm, clock_sec));
    assert_int_equal(REFCLOCK_SHM_RECEIVE_SEC_AT, offsetof(struct writer_shm, receive_sec));
    assert_int_equal(REFCLOCK_SHM_LEAP_AT, offsetof(struct writer_shm, leap));
    assert_int_equal(REFCLOCK_SHM_VALID_AT, offsetof(struct writer_shm, valid));
}

static void test_valid_honoured(void **state)
{
    struct fixture *f = *state;
    struct refclock_reading r;
    /* Nothing written yet: valid is 0. */
    assert_int_equal(take(f, &r), REFCLOCK_NOT_VALID);
    write_sample(f->w, 1, NOW_SEC, 0, NOW_SEC, 250123456, 0);
    assert_int_equal(take(f, &r), REFCLOCK_OK);
    assert_int_equal(r.local.sec, NOW_SEC);
    assert_int_equal(r.local.nsec, 250123456);
    assert_true(fabs(r.offset - (-0.250123456)) < 1e-12);
    assert_int_equal(r.leap, 0);
    assert_false(r.pulse);
    /* Taken once: valid is cleared, and the same sample is not taken again. */
    assert_int_equal(f->w->valid, 0);
    assert_int_equal(take(f, &r), REFCLOCK_NOT_VALID);
    /* Mode 0 too. */
    write_sample(f->w, 0, NOW_SEC + 1, 0, NOW_SEC, 999000000, 1);
    assert_int_equal(take(f, &r), REFCLOCK_OK);
    assert_true(fabs(r.offset - 0.001) < 1e-12);
    assert_int_equal(r.leap, 1);
    assert_int_equal(f->w->valid, 0);
}

/* The test's copy: copies half, lets the writer write a whole new sample, copies the rest. */
static void copy_while_writing(uint8_t *dst, const volatile uint8_t *seg, size_t len, void *ctx)
{
    struct writer_shm *w = ctx;
    refclock_shm_copy(dst, seg, len / 2, NULL);
    write_sample(w, w->mode, NOW_SEC + 5, 0, NOW_SEC, 100000000, 0);
    refclock_shm_copy(dst + len / 2, seg + len / 2, len - len / 2, NULL);
}

static void test_torn_read_refused(void **state)
{
    struct fixture *f = *state;
    struct refclock_reading r;
    write_sample(f->w, 1, NOW_SEC, 0, NOW_SEC, 200000000, 0);
    assert_int_equal(refclock_shm_take((volatile uint8_t *)f->w, copy_while_writing, f->w, now, &r),
                     REFCLOCK_TORN);
    /* Not cleared: the next read takes the writer's finished sample, whole. */
    assert_int_equal(f->w->valid, 1);
    assert_int_equal(take(f, &r), REFCLOCK_OK);
    assert_true(fabs(r.offset - 4.9) < 1e-9);
    /* Mode 0 has no handshake: the same interference goes unseen, as ntpd's mode 0 does. */
    write_sample(f->w, 0, NOW_SEC, 0, NOW_SEC, 200000000, 0);
    assert_int_equal(refclock_shm_take((volatile uint8_t *)f->w, copy_while_writing, f->w, now, &r), REFCLOCK_OK);
}

static void test_stale_ignored(void **state)
{
    struct fixture *f = *state;
    struct refclock_reading r;
    /* A sample left by a writer that stopped 10 s ago, valid still set. */
    write_sample(f->w, 1, NOW_SEC - 10, 0, NOW_SEC - 10, 0, 0);
    assert_int_equal(take(f, &r), REFCLOCK_STALE);
    assert_int_equal(f->w->valid, 0);
    /* Received in the future by more than the limit: not this second's either. */
    write_sample(f->w, 1, NOW_SEC + 10, 0, NOW_SEC + 10, 0, 0);
    assert_int_equal(take(f, &r), REFCLOCK_STALE);
    /* Within the limit. */
    write_sample(f->w, 1, NOW_SEC - 2, 0, NOW_SEC - 2, 0, 0);
    assert_int_equal(take(f, &r), REFCLOCK_OK);
}

static void test_refusals(void **state)
{
    struct fixture *f = *state;
    struct refclock_reading r;
    /* gpsd before its first fix: leap 3, "not in sync". */
    write_sample(f->w, 1, NOW_SEC, 0, NOW_SEC, 0, 3);
    assert_int_equal(take(f, &r), REFCLOCK_NOT_SYNCED);
    write_sample(f->w, 2, NOW_SEC, 0, NOW_SEC, 0, 0);
    assert_int_equal(take(f, &r), REFCLOCK_BAD_MODE);
    write_sample(f->w, 1, NOW_SEC, 0, NOW_SEC, 0, 0);
    f->w->receive_usec = 1000000;
    assert_int_equal(take(f, &r), REFCLOCK_BAD_VALUE);
    /* A writer without nanoseconds (0): the microseconds count. */
    write_sample(f->w, 1, NOW_SEC, 0, NOW_SEC, 0, 0);
    f->w->receive_usec = 123456;
    assert_int_equal(take(f, &r), REFCLOCK_OK);
    assert_int_equal(r.local.nsec, 123456000);
    uint8_t small[8] = {0};
    struct refclock_shm_read rd = {.now = now};
    assert_int_equal(refclock_decode_shm(small, sizeof small, &rd, &r), REFCLOCK_BAD_LENGTH);
}

/* A writer thread racing the reader: whatever is taken is one whole sample (clock = receive + 0.5 s). */
struct race {
    struct writer_shm *w;
    volatile int stop;
};

static void *race_writer(void *arg)
{
    struct race *rc = arg;
    unsigned n = 0;
    while (!rc->stop) {
        n = (n + 1) % 400000000u;
        write_sample(rc->w, 1, NOW_SEC, n + 500000000u, NOW_SEC, n, 0);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        for (volatile int spin = 0; spin < 200; spin++) /* a moment with valid set, as between fixes */
            ;
    }
    return NULL;
}

static void test_race_never_mixes(void **state)
{
    struct fixture *f = *state;
    struct race rc = {.w = f->w};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, race_writer, &rc), 0);
    unsigned ok = 0, torn = 0;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (t = t0; ok < 1000 && t.tv_sec - t0.tv_sec < 3; clock_gettime(CLOCK_MONOTONIC, &t)) {
        struct refclock_reading r;
        enum refclock_status st = take(f, &r);
        if (st == REFCLOCK_OK) {
            ok++;
            assert_true(fabs(r.offset - 0.5) < 1e-9);
        }
        torn += st == REFCLOCK_TORN;
    }
    rc.stop = 1;
    pthread_join(th, NULL);
    print_message("race: %u samples taken whole, %u torn copies refused\n", ok, torn);
    assert_true(ok > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_matches_writer),
        cmocka_unit_test_setup_teardown(test_valid_honoured, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_read_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_race_never_mixes, setup, teardown),
    };
    return cmocka_run_group_tests_name("refclock_shm", tests, NULL, NULL);
}

/*
 * refclock_shm: the SHM driver — ntpd's shared-memory protocol, what gpsd
 * (and other GPS daemons) write for ntpd and chrony: `refclock SHM N` attaches
 * SysV segment REFCLOCK_SHM_KEY_BASE + N (creating it, as ntpd does, when the
 * writer has not yet: 0600 for units 0 and 1, which only root may then
 * write, 0666 from 2 on) and reads it every second.
 *
 * Owns: the attachment and the read itself (copy, count again, clear valid);
 * the bytes are decoded by core/refclock (refclock_decode_shm).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <time.h>

#include "io/refclock.h"

/* ntpd accepts units 0..217 (its key space up to "NTP9"); no more here. */
#define SHM_MAX_UNIT 217

void refclock_shm_copy(uint8_t *dst, const volatile uint8_t *seg, size_t len, void *ctx)
{
    (void)ctx;
    for (size_t i = 0; i < len; i++)
        dst[i] = seg[i];
}

static int load_volatile_int(const volatile uint8_t *p)
{
    uint8_t b[sizeof(int)];
    for (size_t i = 0; i < sizeof b; i++)
        b[i] = p[i];
    int v;
    memcpy(&v, b, sizeof v);
    return v;
}

enum refclock_status refclock_shm_take(volatile uint8_t *seg, refclock_shm_copy_fn copy, void *copy_ctx,
                                       struct unix_time now, struct refclock_reading *out)
{
    uint8_t snap[REFCLOCK_SHM_LEN];
    /* The writer's stores of count, the fields and valid must be seen in the order it made them. */
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    copy(snap, seg, sizeof snap, copy_ctx);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    struct refclock_shm_read rd = {.count_after = load_volatile_int(seg + REFCLOCK_SHM_COUNT_AT), .now = now};
    enum refclock_status st = refclock_decode_shm(snap, sizeof snap, &rd, out);
    /* A torn copy is tried again at the next read: the writer sets valid once it has finished. */
    if (st != REFCLOCK_NOT_VALID && st != REFCLOCK_TORN && st != REFCLOCK_BAD_MODE) {
        /* Taken, or refused for good: the writer sets valid again with its next sample. */
        const int zero = 0;
        for (size_t i = 0; i < sizeof zero; i++)
            seg[REFCLOCK_SHM_VALID_AT + i] = ((const uint8_t *)&zero)[i];
        __atomic_thread_fence(__ATOMIC_RELEASE);
    }
    return st;
}

static int parse_unit(const char *param, long *unit)
{
    char *end;
    errno = 0;
    *unit = strtol(param, &end, 10);
    return errno || end == param || *end || *unit < 0 || *unit > SHM_MAX_UNIT ? -EINVAL : 0;
}

static bool shm_param_ok(const char *param)
{
    long unit;
    return parse_unit(param, &unit) == 0;
}

static int shm_init(struct refclock *rc)
{
    long unit;
    if (parse_unit(rc->cfg.param, &unit) < 0)
        return -EINVAL;
    int perms = unit < REFCLOCK_SHM_ROOT_ONLY_UNITS ? 0600 : 0666;
    int id = shmget((key_t)(REFCLOCK_SHM_KEY_BASE + unit), REFCLOCK_SHM_LEN, IPC_CREAT | perms);
    if (id < 0)
        return -errno;
    void *seg = shmat(id, NULL, 0);
    if (seg == (void *)-1)
        return -errno;
    rc->drv_state = seg;
    return 0;
}

static void shm_read(struct refclock *rc)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct unix_time now = {ts.tv_sec, (uint32_t)ts.tv_nsec};
    struct refclock_reading r;
    enum refclock_status st = refclock_shm_take(rc->drv_state, refclock_shm_copy, NULL, now, &r);
    if (st == REFCLOCK_OK)
        refclock_add_reading(rc, &r);
    else
        refclock_count_bad(rc, st);
}

static void shm_fini(struct refclock *rc)
{
    shmdt(rc->drv_state);
    rc->drv_state = NULL;
}

const struct refclock_driver refclock_shm_driver = {
    .name = "SHM",
    .init = shm_init,
    .fini = shm_fini,
    .read = shm_read,
    .param_ok = shm_param_ok,
    .param_what = "a segment number (0-217)",
};

/* refclock: reference-clock sample logic; see refclock.h. */
#include "core/refclock.h"

#include <math.h>
#include <string.h>

#include "core/packet.h"

const char *refclock_status_name(enum refclock_status st)
{
    switch (st) {
    case REFCLOCK_OK: return "ok";
    case REFCLOCK_BAD_LENGTH: return "bad-length";
    case REFCLOCK_BAD_MAGIC: return "bad-magic";
    case REFCLOCK_BAD_VALUE: return "bad-value";
    case REFCLOCK_BAD_MODE: return "bad-mode";
    case REFCLOCK_NOT_VALID: return "not-valid";
    case REFCLOCK_TORN: return "torn";
    case REFCLOCK_STALE: return "stale";
    case REFCLOCK_NOT_SYNCED: return "not-synced";
    case REFCLOCK_NO_SECOND: return "no-second";
    }
    return "unknown";
}

bool refclock_status_is_quiet(enum refclock_status st)
{
    return st == REFCLOCK_NOT_VALID || st == REFCLOCK_TORN || st == REFCLOCK_STALE || st == REFCLOCK_NOT_SYNCED ||
           st == REFCLOCK_NO_SECOND;
}

/* Native-endian fields: the sender is a process on this host. */
static long load_long(const uint8_t *p)
{
    long v;
    memcpy(&v, p, sizeof v);
    return v;
}

static int load_int(const uint8_t *p)
{
    int v;
    memcpy(&v, p, sizeof v);
    return v;
}

static double load_double(const uint8_t *p)
{
    double v;
    memcpy(&v, p, sizeof v);
    return v;
}

enum refclock_status refclock_decode_sock(const uint8_t *buf, size_t len, struct refclock_reading *out)
{
    const size_t tv_usec_at = sizeof(long), offset_at = 2 * sizeof(long);
    const size_t pulse_at = offset_at + sizeof(double), leap_at = pulse_at + sizeof(int);
    const size_t magic_at = leap_at + 2 * sizeof(int);
    if (len != REFCLOCK_SOCK_LEN)
        return REFCLOCK_BAD_LENGTH;
    if ((unsigned)load_int(buf + magic_at) != REFCLOCK_SOCK_MAGIC)
        return REFCLOCK_BAD_MAGIC;
    long sec = load_long(buf), usec = load_long(buf + tv_usec_at);
    double offset = load_double(buf + offset_at);
    int leap = load_int(buf + leap_at);
    if (sec < 0 || usec < 0 || usec >= 1000000 || !isfinite(offset) || fabs(offset) > REFCLOCK_MAX_OFFSET ||
        leap < 0 || leap > 2)
        return REFCLOCK_BAD_VALUE;
    *out = (struct refclock_reading){
        .local = {.sec = sec, .nsec = (uint32_t)usec * 1000u},
        .offset = offset,
        .leap = (uint8_t)leap,
        .pulse = load_int(buf + pulse_at) != 0,
    };
    return REFCLOCK_OK;
}

static int64_t load_time_t(const uint8_t *p)
{
    time_t v;
    memcpy(&v, p, sizeof v);
    return (int64_t)v;
}

/*
 * One of the segment's two timestamps: seconds, then microseconds, and (since
 * ntpd 4.2.7) nanoseconds further on. Writers that predate the nanoseconds
 * leave them 0, so they count only when they agree with the microseconds.
 */
static bool load_shm_time(const uint8_t *seg, size_t sec_at, size_t nsec_at, struct unix_time *out)
{
    int64_t sec = load_time_t(seg + sec_at);
    int usec = load_int(seg + sec_at + sizeof(time_t));
    unsigned nsec = (unsigned)load_int(seg + nsec_at);
    if (sec < 0 || usec < 0 || usec >= 1000000)
        return false;
    if (nsec >= 1000000000u || nsec / 1000u != (unsigned)usec)
        nsec = (unsigned)usec * 1000u;
    *out = (struct unix_time){.sec = sec, .nsec = nsec};
    return true;
}

static double unix_diff(struct unix_time a, struct unix_time b)
{
    return (double)(a.sec - b.sec) + ((double)a.nsec - (double)b.nsec) * 1e-9;
}

/* SHM leap field: 0 none, 1 insert, 2 delete, 3 "not in sync". */
#define SHM_LEAP_NOT_IN_SYNC 3

enum refclock_status refclock_decode_shm(const uint8_t *seg, size_t len, const struct refclock_shm_read *rd,
                                         struct refclock_reading *out)
{
    const size_t clock_nsec_at = REFCLOCK_SHM_VALID_AT + sizeof(int);
    const size_t receive_nsec_at = clock_nsec_at + sizeof(int);
    if (len < REFCLOCK_SHM_LEN)
        return REFCLOCK_BAD_LENGTH;
    int mode = load_int(seg);
    if (mode != 0 && mode != 1)
        return REFCLOCK_BAD_MODE;
    if (!load_int(seg + REFCLOCK_SHM_VALID_AT))
        return REFCLOCK_NOT_VALID;
    /* Mode 1: the writer bumps count before and after writing; a change means our copy mixes two samples. */
    if (mode == 1 && load_int(seg + REFCLOCK_SHM_COUNT_AT) != rd->count_after)
        return REFCLOCK_TORN;
    struct unix_time clock, receive;
    int leap = load_int(seg + REFCLOCK_SHM_LEAP_AT);
    if (!load_shm_time(seg, REFCLOCK_SHM_CLOCK_SEC_AT, clock_nsec_at, &clock) ||
        !load_shm_time(seg, REFCLOCK_SHM_RECEIVE_SEC_AT, receive_nsec_at, &receive) || leap < 0 ||
        leap > SHM_LEAP_NOT_IN_SYNC)
        return REFCLOCK_BAD_VALUE;
    if (leap == SHM_LEAP_NOT_IN_SYNC)
        return REFCLOCK_NOT_SYNCED;
    if (fabs(unix_diff(rd->now, receive)) > REFCLOCK_SHM_MAX_AGE)
        return REFCLOCK_STALE;
    double offset = unix_diff(clock, receive);
    if (fabs(offset) > REFCLOCK_MAX_OFFSET)
        return REFCLOCK_BAD_VALUE;
    *out = (struct refclock_reading){.local = receive, .offset = offset, .leap = (uint8_t)leap};
    return REFCLOCK_OK;
}

/*
 * The engine takes local_time as the end of an exchange (T4) and moves it
 * back by delay / 2 to the measurement; a reading is instantaneous, so its
 * time is pushed forward by the same half delay.
 */
bool refclock_make_sample(const struct refclock_params *p, const struct refclock_reading *r,
                          struct ntp_sample *out)
{
    if (r->pulse)
        return false;
    double delay = p->delay > 0 ? p->delay : REFCLOCK_DEFAULT_DELAY;
    *out = (struct ntp_sample){
        .local_time = ntp_diff_sec(ntp_from_unix(r->local), p->epoch) + delay / 2,
        .offset = r->offset + p->offset,
        .delay = delay,
        .dispersion = ldexp(1.0, p->precision ? p->precision : REFCLOCK_DEFAULT_PRECISION),
        .root_delay = 0.0,
        .root_dispersion = 0.0,
        .stratum = 0,
        .leap = r->leap,
        .refid = p->refid,
    };
    return true;
}

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
    }
    return "unknown";
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

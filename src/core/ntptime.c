/* ntptime: NTP timestamp arithmetic; see ntptime.h. */
#include "core/ntptime.h"

#include <math.h>

#define FRAC_PER_SEC 4294967296.0 /* 2^32 */

ntp_ts ntp_from_unix(struct unix_time t)
{
    uint64_t sec = (uint64_t)(t.sec + (int64_t)NTP_UNIX_OFFSET);
    /* Round to nearest fraction unit: nsec * 2^32 / 1e9. */
    uint64_t frac = (((uint64_t)t.nsec << 32) + 500000000ULL) / 1000000000ULL;
    return (sec << 32) + frac;
}

struct unix_time ntp_to_unix(ntp_ts ts, int64_t pivot_sec)
{
    int64_t era_sec = (int64_t)(ts >> 32) - (int64_t)NTP_UNIX_OFFSET;
    const int64_t era_len = (int64_t)1 << 32;
    /* Choose the era whose result lies within half an era of the pivot. */
    int64_t k = (pivot_sec - era_sec + era_len / 2);
    k = k >= 0 ? k / era_len : -((-k + era_len - 1) / era_len);
    struct unix_time out;
    out.sec = era_sec + k * era_len;
    out.nsec = (uint32_t)(((ts & 0xffffffffULL) * 1000000000ULL + (1ULL << 31)) >> 32);
    if (out.nsec >= 1000000000U) {
        out.sec += 1;
        out.nsec -= 1000000000U;
    }
    return out;
}

double ntp_diff_sec(ntp_ts a, ntp_ts b)
{
    int64_t d = (int64_t)(a - b);
    return (double)d / FRAC_PER_SEC;
}

ntp_ts ntp_add_sec(ntp_ts ts, double seconds)
{
    return ts + (uint64_t)(int64_t)llround(seconds * FRAC_PER_SEC);
}

uint32_t ntp_short_from_sec(double seconds)
{
    if (!(seconds > 0.0))
        return 0;
    if (seconds >= 65535.99998)
        return 0xffffffffU;
    /* Rounded up: root delay and dispersion are error bounds, and 0 would claim a perfect reference. */
    return (uint32_t)ceil(seconds * 65536.0);
}

double ntp_short_to_sec(uint32_t s)
{
    return (double)s / 65536.0;
}

int8_t ntp_log2_from_sec(double seconds)
{
    if (!(seconds > 0.0))
        return -128;
    double l = ceil(log2(seconds));
    if (l < -128)
        return -128;
    if (l > 127)
        return 127;
    return (int8_t)l;
}

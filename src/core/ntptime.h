/*
 * ntptime: NTP time representations and conversions (RFC 5905 §6).
 *
 * Owns: the 64-bit timestamp (32.32 fixed point seconds since the era start),
 * the 32-bit short format (16.16, root delay/dispersion), era-safe differences
 * and conversion from/to Unix time. Pure arithmetic: reads no clock.
 */
#ifndef HORLOGE_NTPTIME_H
#define HORLOGE_NTPTIME_H

#include <stdint.h>

/* Seconds from 1900-01-01 (NTP era 0) to 1970-01-01 (Unix epoch). */
#define NTP_UNIX_OFFSET 2208988800ULL

/* 64-bit NTP timestamp: high 32 bits seconds, low 32 bits fraction. */
typedef uint64_t ntp_ts;

/* Unix time with nanoseconds, the shell's clock readings. */
struct unix_time {
    int64_t sec;
    uint32_t nsec;
};

ntp_ts ntp_from_unix(struct unix_time t);
/* Converts back, picking the era that puts the result nearest to `pivot_sec` (Unix seconds). */
struct unix_time ntp_to_unix(ntp_ts ts, int64_t pivot_sec);

/*
 * a - b in seconds. Era-safe: the 64-bit wrap-around difference is taken as a
 * signed value, so timestamps in adjacent eras (e.g. 2035/2037) compare right
 * as long as they are within 68 years of each other.
 */
double ntp_diff_sec(ntp_ts a, ntp_ts b);
/* ts + seconds (may be negative), modulo the era. */
ntp_ts ntp_add_sec(ntp_ts ts, double seconds);

/* Short format (16.16 unsigned seconds), rounded up, saturating at its maximum. */
uint32_t ntp_short_from_sec(double seconds);
double ntp_short_to_sec(uint32_t s);

/* log2 of a duration in seconds, as the packet's poll/precision fields hold it. */
int8_t ntp_log2_from_sec(double seconds);

#endif

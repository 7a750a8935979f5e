/*
 * refclock: reference-clock sample logic, pure. The drivers that read devices
 * and sockets live in src/io (refclock.h there: the driver table); this is
 * what they share and what can be tested without a device.
 *
 * Owns:
 *  - decoding chrony's SOCK datagram, the sample gpsd (and other GPS
 *    daemons) send over a Unix datagram socket: the system time of the
 *    measurement, the offset true - system, a pulse flag, the leap
 *    indicator and a magic number, in the sender's native layout (same host):
 *        struct timeval tv; double offset; int pulse; int leap; int pad; int magic;
 *    decoded field by field at the offsets that layout has, length checked;
 *  - turning a reading into the ntp_sample the filters, selection and the
 *    discipline take from every kind of source: stratum 0 (so we serve
 *    stratum 1), the configured offset, delay and precision, no root delay
 *    or dispersion, the refid the driver's configuration names.
 */
#ifndef HORLOGE_REFCLOCK_H
#define HORLOGE_REFCLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ntptime.h"
#include "core/sample.h"

#define REFCLOCK_SOCK_MAGIC 0x534f434bu
/* sizeof(struct timeval) is two longs; then a double and four ints. */
#define REFCLOCK_SOCK_LEN (2 * sizeof(long) + sizeof(double) + 4 * sizeof(int))
/* A reference clock is a time source we trust only when it is close: samples further off are refused. */
#define REFCLOCK_MAX_OFFSET 1.0e6
/* chrony's defaults: a reference clock is polled every 2^4 s and its delay is 1 ns. */
#define REFCLOCK_DEFAULT_POLL 4
#define REFCLOCK_DEFAULT_DELAY 1e-9
#define REFCLOCK_DEFAULT_PRECISION (-20)

/* One measurement of a reference clock. */
struct refclock_reading {
    struct unix_time local;   /* the system (local) clock when measured */
    double offset;            /* reference - local, seconds */
    uint8_t leap;             /* NTP_LEAP_NONE/INSERT/DELETE */
    bool pulse;               /* a PPS edge: the offset is known only modulo one second */
};

enum refclock_status {
    REFCLOCK_OK = 0,
    REFCLOCK_BAD_LENGTH,
    REFCLOCK_BAD_MAGIC,
    REFCLOCK_BAD_VALUE,       /* microseconds out of range, offset not finite or too large, leap > 2 */
};

const char *refclock_status_name(enum refclock_status st);

/* Decodes one SOCK datagram. */
enum refclock_status refclock_decode_sock(const uint8_t *buf, size_t len, struct refclock_reading *out);

/* What a configured reference clock adds to each of its readings. */
struct refclock_params {
    uint32_t refid;           /* e.g. "GPS" */
    double offset;            /* added to every reading's offset (a known constant error), s */
    double delay;             /* the reading's uncertainty as a round-trip delay, s */
    int8_t precision;         /* log2 s */
    ntp_ts epoch;             /* samples' local_time = seconds since this */
};

/* The sample the engine takes (sync_sample). False for a pulse, which needs another source's second. */
bool refclock_make_sample(const struct refclock_params *p, const struct refclock_reading *r,
                          struct ntp_sample *out);

#endif

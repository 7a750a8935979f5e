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
 *  - decoding ntpd's shared-memory (SHM) segment, what gpsd and other GPS
 *    daemons write for ntpd and chrony (SysV key REFCLOCK_SHM_KEY_BASE + N),
 *    from a snapshot of its bytes: the mode 0/1 count-and-valid handshake,
 *    torn and stale samples refused, at the offsets the native layout has;
 *  - numbering a pulse (a PPS edge: its phase is exact, its second unknown)
 *    from a coarse source: the locked reference clock's latest reading, or
 *    the engine's own clock while it is synchronised within 0.4 s;
 *  - a reference clock's feed into the engine (struct refclock_feed): the
 *    readings of each poll interval, their median into sync_sample, the reach
 *    register — the part the daemon and the simulator share;
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
#include <time.h>

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
    REFCLOCK_BAD_MODE,        /* an SHM segment in a mode other than 0 or 1 */
    /* Not bad, only nothing to take: */
    REFCLOCK_NOT_VALID,       /* SHM: no new sample since the last read (`valid` clear) */
    REFCLOCK_TORN,            /* SHM mode 1: the writer changed the sample while we copied it */
    REFCLOCK_STALE,           /* SHM: the sample was taken too long ago (a writer that stopped) */
    REFCLOCK_NOT_SYNCED,      /* the reference says it has no time yet (leap 3, as gpsd before a fix) */
    REFCLOCK_NO_SECOND,       /* a pulse, with no coarse time fresh and close enough to number it */
};

/* Statuses that are not a broken reading, only no reading now. */
bool refclock_status_is_quiet(enum refclock_status st);

const char *refclock_status_name(enum refclock_status st);

/* Decodes one SOCK datagram. */
enum refclock_status refclock_decode_sock(const uint8_t *buf, size_t len, struct refclock_reading *out);

/*
 * ntpd's SHM segment (its struct shmTime), natively laid out: int mode,
 * int count, time_t clock_sec, int clock_usec, time_t receive_sec,
 * int receive_usec, int leap, int precision, int nsamples, int valid,
 * unsigned clock_nsec, unsigned receive_nsec, int spare[8]. "clock" is the
 * reference's time, "receive" the system clock's when it was read. Segments 0
 * and 1 are root's (mode 0600), 2 and up anyone's (0666), by convention.
 */
#define REFCLOCK_SHM_KEY_BASE 0x4e545030
#define REFCLOCK_SHM_ROOT_ONLY_UNITS 2
#define REFCLOCK_SHM_ALIGN_UP(x, a) (((x) + (a) - 1) / (a) * (a))
#define REFCLOCK_SHM_CLOCK_SEC_AT REFCLOCK_SHM_ALIGN_UP(2 * sizeof(int), _Alignof(time_t))
#define REFCLOCK_SHM_RECEIVE_SEC_AT \
    REFCLOCK_SHM_ALIGN_UP(REFCLOCK_SHM_CLOCK_SEC_AT + sizeof(time_t) + sizeof(int), _Alignof(time_t))
#define REFCLOCK_SHM_LEAP_AT (REFCLOCK_SHM_RECEIVE_SEC_AT + sizeof(time_t) + sizeof(int))
#define REFCLOCK_SHM_VALID_AT (REFCLOCK_SHM_LEAP_AT + 3 * sizeof(int))
#define REFCLOCK_SHM_COUNT_AT sizeof(int)
#define REFCLOCK_SHM_LEN REFCLOCK_SHM_ALIGN_UP(REFCLOCK_SHM_VALID_AT + 11 * sizeof(int), _Alignof(time_t))
/* A sample whose receive time is this far from now is not this second's: its writer stopped. */
#define REFCLOCK_SHM_MAX_AGE 4.0

/* What the reader saw around its copy of the segment. */
struct refclock_shm_read {
    int count_after;          /* `count` read again after the copy (mode 1's torn-read check) */
    struct unix_time now;     /* the system clock after the copy */
};

/*
 * Decodes a copy of an SHM segment: REFCLOCK_OK with a reading, or why there
 * is none. The reader clears `valid` in the segment after any copy that found
 * it set (both modes), so each sample is taken once.
 */
enum refclock_status refclock_decode_shm(const uint8_t *seg, size_t len, const struct refclock_shm_read *rd,
                                         struct refclock_reading *out);

/* What a configured reference clock adds to each of its readings. */
struct refclock_params {
    uint32_t refid;           /* e.g. "GPS" */
    double offset;            /* added to every reading's offset (a known constant error), s */
    double delay;             /* the reading's uncertainty as a round-trip delay, s */
    int8_t precision;         /* log2 s */
    ntp_ts epoch;             /* samples' local_time = seconds since this */
};

/*
 * A pulse's second: the pulse's offset is known modulo 1 s (a PPS edge at
 * system time L marks a whole second: offset -frac(L)); `coarse_offset` is
 * reference - system near that time by a coarse source. REFCLOCK_OK with
 * *out the pulse numbered (offset + the whole seconds that bring it nearest
 * the coarse offset), or REFCLOCK_NO_SECOND when they differ by more than
 * REFCLOCK_PULSE_MAX_ERROR modulo 1 s: then the second is a guess.
 */
#define REFCLOCK_PULSE_MAX_ERROR 0.4
enum refclock_status refclock_number_pulse(const struct refclock_reading *pulse, double coarse_offset,
                                           struct refclock_reading *out);

/* A locked clock's reading older than this at a pulse does not number it (its source stopped). */
#define REFCLOCK_LOCK_MAX_AGE 4.0
/* Readings kept per poll interval (a 1 Hz clock at poll 6). */
#define REFCLOCK_MAX_PENDING 64

struct sync;

/* One reference clock's feed into the engine. Readings are in the engine's frame. */
struct refclock_feed {
    struct refclock_params params;
    struct sync *sync;
    unsigned sync_index;
    const struct refclock_feed *lock; /* `lock REFID`: the clock that numbers our pulses, or NULL */
    bool noselect;                    /* read (and a lock for others) but never given to selection */
    uint8_t reach;                    /* bit 0: a good reading in the last poll interval */
    unsigned n_polls;                 /* poll intervals so far (saturating): the engine's "pending" */
    unsigned n_pending;               /* readings of the current poll interval */
    struct refclock_reading pending[REFCLOCK_MAX_PENDING];
    bool have_last;
    struct refclock_reading last;     /* the latest whole reading: what a pulse locked to us is numbered by */
    uint64_t n_readings, n_pulses, n_unnumbered;
};

void refclock_feed_init(struct refclock_feed *f, const struct refclock_params *p, struct sync *sync,
                        unsigned sync_index);
/* A reading; a pulse is numbered first (by f->lock, or the engine's clock). REFCLOCK_OK when kept. */
enum refclock_status refclock_feed_reading(struct refclock_feed *f, const struct refclock_reading *r);
/*
 * The end of a poll interval: the reach register, then the interval's median
 * as one sample (none for a `noselect` clock, which the engine hears as never
 * reachable). True if fed.
 */
bool refclock_feed_poll(struct refclock_feed *f);

/* The sample the engine takes (sync_sample). False for a pulse, which needs another source's second. */
bool refclock_make_sample(const struct refclock_params *p, const struct refclock_reading *r,
                          struct ntp_sample *out);

#endif

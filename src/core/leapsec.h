/*
 * leapsec: the IETF/NIST leap-seconds.list file (`leapseclist PATH`) and the
 * leap status it decides.
 *
 * The file's format (times are NTP seconds since 1900-01-01 00:00 UTC):
 *   #$  3913697179          last update (required, once)
 *   #@  4291747200          expiry: the list says nothing beyond it (required, once)
 *   3692217600  37  # 1 Jan 2017    from this UTC midnight on, TAI - UTC = 37 s
 *   #h  ...                 hash of the data; like any other `#` line, ignored
 * Each entry's time is a UTC midnight, later than the one before, and its
 * offset differs from the one before by exactly one second (+1: a second was
 * inserted at the end of the previous day, -1: one was deleted).
 *
 * Owns: parsing and validating that text into a caller-owned table (errors
 * come back with their line number), and the query: at a given UTC time, the
 * leap indicator to announce (RFC 5905: INSERT/DELETE during the last day
 * before the entry, i.e. when the entry is the coming midnight), the TAI - UTC
 * offset in force and whether the list has expired. Pure: no I/O, no clock.
 */
#ifndef HORLOGE_LEAPSEC_H
#define HORLOGE_LEAPSEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The published list has 28 entries (1972-2017); room for a century more. */
#define LEAPSEC_MAX_ENTRIES 128
#define LEAPSEC_DAY 86400
/* 1 Jan 1972, when leap seconds began (TAI - UTC = 10 s), in NTP seconds. */
#define LEAPSEC_MIN_NTP 2272060800LL
/* 2^33 NTP seconds (year 2172): anything later is a typo, not a date. */
#define LEAPSEC_MAX_NTP 8589934592LL
#define LEAPSEC_MIN_OFFSET 1
#define LEAPSEC_MAX_OFFSET 200

struct leapsec_entry {
    int64_t ntp_sec;    /* the UTC midnight from which tai_offset holds */
    int tai_offset;     /* TAI - UTC, s */
};

struct leapsec_list {
    unsigned n;
    struct leapsec_entry entry[LEAPSEC_MAX_ENTRIES];
    int64_t updated;    /* #$, NTP seconds */
    int64_t expiry;     /* #@, NTP seconds */
};

struct leapsec_error {
    unsigned line;      /* 1-based; for a missing line, the last line */
    const char *message;
};

/* Parses `len` bytes of `text` (need not be NUL-terminated). 0, or -1 with `err` set. */
int leapsec_parse(const char *text, size_t len, struct leapsec_list *out, struct leapsec_error *err);

struct leapsec_status {
    uint8_t leap;       /* NTP_LEAP_NONE, _INSERT or _DELETE: what to announce now */
    int tai_offset;     /* TAI - UTC in force now, s (0 before the first entry) */
    bool expired;       /* now is at or past the list's expiry */
    int64_t next_unix;  /* Unix time of the next entry after now; 0 = none */
};

/*
 * Whether `unix_sec` (UTC) falls on the last day of a month, the only day a
 * leap second may be announced for: servers (ntpd among them) set LI for
 * weeks ahead, and a leap taken from them must wait for that day's midnight.
 */
bool leapsec_last_day_of_month(int64_t unix_sec);

/* The list's verdict at `unix_sec` (UTC, Unix seconds). */
void leapsec_query(const struct leapsec_list *l, int64_t unix_sec, struct leapsec_status *st);

#endif

/*
 * timesource: what every kind of time source tells the reports, so that
 * `horloge status`, `sources` and `sourcestats` list an NTP server, a pool
 * member and a reference clock alike, from the engine's (core/sync) view of
 * each plus a few words from the module that owns it.
 *
 * Owns: the view one source gives (its kind, name, address, poll, reach) and
 * the table of kinds the daemon builds at start. A new kind of source (say,
 * a PTP hardware clock that is not a reference-clock driver) fills a view for
 * each engine index it owns, writes its own counters, and adds one entry to
 * that table (io/daemon.c, daemon_source_kinds).
 */
#ifndef HORLOGE_TIMESOURCE_H
#define HORLOGE_TIMESOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/ntptime.h"
#include "io/config.h"
#include "io/control.h"

/*
 * The engine's clock for every kind of source: a raw CLOCK_REALTIME reading (a
 * kernel packet timestamp, a reference clock's reading) converted to the clock
 * the engine runs on (the -x virtual one, or itself); NULL: read it now.
 */
typedef ntp_ts (*timesource_time_fn)(void *ctx, const struct unix_time *raw_or_null);

/* Room for a host name or path with a few words around it. */
#define TIMESOURCE_TEXT_MAX (CFG_PATH_MAX + 48)

struct timesource_view {
    const char *kind;                 /* "ntp", "refclock" */
    char name[TIMESOURCE_TEXT_MAX];     /* as configured: a host name, "GPS (SOCK /run/gps.sock)" */
    char address[TIMESOURCE_TEXT_MAX];  /* "192.0.2.1:123", or the device or socket path */
    char label[TIMESOURCE_TEXT_MAX];    /* what `horloge status` calls it: "192.0.2.1", "GPS (SOCK /run/gps.sock)" */
    int poll;                         /* exponent of the interval in use */
    uint8_t reach;                    /* one bit per poll, bit 0 the latest */
    const char *state;                /* NULL, or what to show instead of the engine's verdict ("noselect") */
};

struct timesource_kind {
    const void *owner;
    /* Fills *out when engine source `sync_index` is this owner's. */
    bool (*view)(const void *owner, unsigned sync_index, struct timesource_view *out);
    /* Its own counters for `horloge sourcestats`. */
    void (*stats)(const void *owner, unsigned sync_index, struct kv_out *out);
};

#endif

/* leaplist: the leap-second list file and its verdict; see leaplist.h. */
#include "io/leaplist.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/packet.h"
#include "core/reference.h"
#include "io/fileutil.h"
#include "io/log.h"

void leaplist_init(struct leaplist *ll)
{
    memset(ll, 0, sizeof *ll);
    ll->verdict = REF_LEAP_FROM_SOURCES;
}

static void format_date(int64_t unix_sec, char *out, size_t cap)
{
    time_t t = (time_t)unix_sec;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, cap, "%Y-%m-%d", &tm) == 0)
        snprintf(out, cap, "@%lld", (long long)unix_sec);
}

/* Parses `path` into `out`; logs `path:line: message` (or the system error) and returns -1 on failure. */
int leaplist_read(const char *path, struct leapsec_list *out)
{
    static char text[LEAPLIST_MAX_BYTES];
    size_t len = 0;
    int err = fileutil_read_small(path, text, sizeof text, &len);
    if (err) {
        log_warn("leapseclist %s: %s", path, strerror(err));
        return -1;
    }
    struct leapsec_error perr;
    if (leapsec_parse(text, len, out, &perr) < 0) {
        log_warn("%s:%u: %s", path, perr.line, perr.message);
        return -1;
    }
    return 0;
}

static void log_loaded(const struct leaplist *ll)
{
    const struct leapsec_list *l = &ll->list;
    char expiry[32], next[32] = "";
    format_date(l->expiry - (int64_t)NTP_UNIX_OFFSET, expiry, sizeof expiry);
    struct leapsec_status st;
    leapsec_query(l, time(NULL), &st);
    if (st.next_unix)
        format_date(st.next_unix - 1, next, sizeof next);
    log_info("leap second list %s: %u entries, TAI-UTC %d s, expires %s%s%s", ll->path, l->n,
             st.tai_offset, expiry, next[0] ? ", next leap second at the end of " : "", next);
}

/*
 * A list that cannot be read or parsed is a warning, never a config error:
 * leap seconds then follow the sources, or, when the same file gave a list
 * before, that list stays (what it said is still true).
 */
void leaplist_load(struct leaplist *ll, const char *path)
{
    bool same = ll->loaded && strcmp(path, ll->path) == 0;
    if (!path[0]) {
        if (ll->loaded)
            log_info("no leap second list any more: leap seconds follow the sources");
        ll->loaded = false;
        return;
    }
    static struct leapsec_list fresh;
    if (leaplist_read(path, &fresh) < 0) {
        if (same)
            log_warn("keeping the leap second list read before from %s", path);
        else
            log_warn("leap second list %s not used: leap seconds follow the sources", path);
        ll->loaded = same;
        return;
    }
    ll->list = fresh;
    ll->loaded = true;
    ll->expiry_logged = false;
    snprintf(ll->path, sizeof ll->path, "%s", path);
    log_loaded(ll);
}

/* The list, when loaded and not expired, decides the leap indicator (see reference.h). */
int leaplist_verdict(struct leaplist *ll, int64_t now_sec)
{
    int leap = REF_LEAP_FROM_SOURCES;
    ll->status = (struct leapsec_status){0};
    if (ll->loaded) {
        leapsec_query(&ll->list, now_sec, &ll->status);
        if (!ll->status.expired) {
            leap = ll->status.leap;
        } else if (!ll->expiry_logged) {
            log_warn("leap second list %s has expired: leap seconds follow the sources; update it",
                     ll->path);
            ll->expiry_logged = true;
        }
    }
    if (leap != ll->verdict && (leap == NTP_LEAP_INSERT || leap == NTP_LEAP_DELETE))
        log_info("leap second list: a leap second will be %s at the end of this UTC day",
                 leap == NTP_LEAP_INSERT ? "inserted" : "deleted");
    ll->verdict = leap;
    return leap;
}


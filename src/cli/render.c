/* render: text output of the CLI's reports; see render.h. */
#include "cli/render.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *get(const struct kvdoc *doc, const char *key)
{
    const char *v = kvdoc_get(doc, 0, key);
    return v ? v : "";
}

static long get_long(const struct kvdoc *doc, unsigned rec, const char *key)
{
    const char *v = kvdoc_get(doc, rec, key);
    return v ? strtol(v, NULL, 0) : 0;
}

static double get_double(const struct kvdoc *doc, unsigned rec, const char *key)
{
    const char *v = kvdoc_get(doc, rec, key);
    return v ? strtod(v, NULL) : 0.0;
}

static const char *leap_meaning(long leap)
{
    static const char *const names[] = {"no warning", "last minute of the day has 61 seconds",
                                        "last minute of the day has 59 seconds", "not synchronised"};
    return leap >= 0 && leap <= 3 ? names[leap] : "?";
}

static const char *stratum_meaning(long stratum, const char *source_kind)
{
    if (stratum == 0 || stratum >= 16)
        return "unspecified / unsynchronised";
    if (strcmp(source_kind, "local") == 0)
        return "local reference clock (reliable time source)";
    if (stratum == 1)
        return "primary reference";
    return "secondary reference, synchronised by NTP";
}

static void print_age(FILE *f, double seconds)
{
    if (seconds < 120)
        fprintf(f, "%.0f s ago", seconds);
    else if (seconds < 7200)
        fprintf(f, "%.0f min ago", seconds / 60);
    else
        fprintf(f, "%.1f h ago", seconds / 3600);
}

static void render_status(const struct kvdoc *doc, FILE *f)
{
    long leap = get_long(doc, 0, "leap"), stratum = get_long(doc, 0, "stratum");
    long precision = get_long(doc, 0, "precision");
    const char *kind = get(doc, "source_kind");
    fprintf(f, "Leap indicator:    %ld (%s)\n", leap, leap_meaning(leap));
    fprintf(f, "Stratum:           %ld (%s)\n", stratum, stratum_meaning(stratum, kind));
    fprintf(f, "Precision:         %ld (%.3f ns per tick)\n", precision, ldexp(1.0, (int)precision) * 1e9);
    fprintf(f, "Root delay:        %.6f s\n", get_double(doc, 0, "root_delay"));
    fprintf(f, "Root dispersion:   %.6f s\n", get_double(doc, 0, "root_dispersion"));
    const char *rtext = get(doc, "reference_id_text");
    if (strcmp(kind, "ntp") == 0 && stratum > 1 && stratum < 16)
        fprintf(f, "Reference ID:      %s (source IP: %s)\n", get(doc, "reference_id"), rtext);
    else
        fprintf(f, "Reference ID:      %s (%s)\n", get(doc, "reference_id"), rtext);
    const char *last = kvdoc_get(doc, 0, "last_sync");
    if (last) {
        time_t t = (time_t)strtod(last, NULL);
        struct tm tm;
        char when[32];
        gmtime_r(&t, &tm);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
        fprintf(f, "Last successful sync: %s (", when);
        print_age(f, get_double(doc, 0, "last_sync_age"));
        fprintf(f, ")\n");
    } else {
        fprintf(f, "Last successful sync: unspecified\n");
    }
    fprintf(f, "Source:            %s\n", get(doc, "source"));
    long poll = get_long(doc, 0, "poll");
    fprintf(f, "Poll interval:     %ld (%.0f s)\n", poll, ldexp(1.0, (int)poll));
}

static const char *const serverstats_labels[][2] = {
    {"received", "Requests received"},
    {"replied", "Time replies sent"},
    {"replied_symmetric", "  of which mode 2 (w32time)"},
    {"kod_rate", "KoD RATE sent"},
    {"kod_deny", "KoD DENY sent"},
    {"rate_limited", "Rate-limited requests"},
    {"denied", "Denied by access list"},
    {"dropped_malformed", "Dropped: malformed"},
    {"dropped_bad_mode", "Dropped: mode not served"},
    {"dropped_control_mode", "Dropped: mode 6/7 (control)"},
    {"crypto_nak", "Crypto-NAKs sent"},
    {"send_errors", "Send errors"},
    {"kernel_rx_timestamps", "Kernel receive timestamps"},
    {"threads", "Serving threads"},
    {"uptime", "Uptime (s)"},
};

static void render_serverstats(const struct kvdoc *doc, FILE *f)
{
    for (size_t i = 0; i < sizeof serverstats_labels / sizeof serverstats_labels[0]; i++) {
        const char *v = kvdoc_get(doc, 0, serverstats_labels[i][0]);
        if (v)
            fprintf(f, "%-29s: %s\n", serverstats_labels[i][1], v);
    }
}

static void render_clients(const struct kvdoc *doc, FILE *f)
{
    fprintf(f, "%-39s %10s %8s %6s %9s %9s\n", "Client", "Requests", "Limited", "KoD", "Interval", "Last");
    for (unsigned i = 0; i < doc->n_records; i++) {
        const char *addr = kvdoc_get(doc, i, "address");
        fprintf(f, "%-39s %10ld %8ld %6ld %8.1fs %8.0fs\n", addr ? addr : "?", get_long(doc, i, "requests"),
                get_long(doc, i, "limited"), get_long(doc, i, "kod_sent"), get_double(doc, i, "interval"),
                get_double(doc, i, "last_seen_ago"));
    }
    if (doc->n_records == 0)
        fprintf(f, "(no clients yet)\n");
}

/* Generic renderer: each record's pairs, one per line, records separated by blank lines. */
static void render_pairs(const struct kvdoc *doc, FILE *f)
{
    for (unsigned r = 0; r < doc->n_records; r++) {
        if (r)
            fputc('\n', f);
        const struct kv_record *rec = &doc->records[r];
        for (unsigned i = rec->first; i < rec->first + rec->count; i++)
            fprintf(f, "%-22s: %s\n", doc->pairs[i].key, doc->pairs[i].value);
    }
}

static const struct report_renderer renderers[] = {
    {"status", NULL, render_status},
    {"serverstats", NULL, render_serverstats},
    {"clients", "clients", render_clients},
    {"tracking", NULL, render_pairs},
    {"sources", "sources", render_pairs},
    {"sourcestats", "sources", render_pairs},
};

const struct report_renderer *render_find(const char *command)
{
    for (size_t i = 0; i < sizeof renderers / sizeof renderers[0]; i++)
        if (strcmp(renderers[i].command, command) == 0)
            return &renderers[i];
    return NULL;
}

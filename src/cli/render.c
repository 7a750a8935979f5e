/* render: text output of the CLI's reports; see render.h. */
#include "cli/render.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/source.h"

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

/* A Unix time given as text ("1795595684.370524348") in UTC: "2026-11-25 09:38:33 UTC", or chronyc's form. */
static void format_utc(const char *unix_text, bool chronyc_style, char *out, size_t cap)
{
    time_t t = (time_t)strtod(unix_text, NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = chronyc_style ? strftime(out, cap, "%a %b %d %H:%M:%S %Y", &tm)
                             : strftime(out, cap, "%Y-%m-%d %H:%M:%S UTC", &tm);
    if (n == 0)
        snprintf(out, cap, "?");
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

/* "failed (set frequency: Operation not permitted; 12 errors)", "on", "on (1 error before: ...)". */
static void print_clock_control(const struct kvdoc *doc, FILE *f)
{
    long errors = get_long(doc, 0, "clock_errors");
    fprintf(f, "%s", get(doc, "clock_control"));
    if (errors > 0)
        fprintf(f, " (%ld error%s, the last: %s)", errors, errors == 1 ? "" : "s",
                get(doc, "last_clock_error"));
    fputc('\n', f);
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
        char when[40];
        format_utc(last, false, when, sizeof when);
        fprintf(f, "Last successful sync: %s (", when);
        print_age(f, get_double(doc, 0, "last_sync_age"));
        fprintf(f, ")\n");
    } else {
        fprintf(f, "Last successful sync: unspecified\n");
    }
    fprintf(f, "Source:            %s\n", get(doc, "source"));
    long poll = get_long(doc, 0, "poll");
    fprintf(f, "Poll interval:     %ld (%.0f s)\n", poll, ldexp(1.0, (int)poll));
    fprintf(f, "Clock control:     ");
    print_clock_control(doc, f);
}

static const char *const serverstats_labels[][2] = {
    {"received", "Requests received"},
    {"replied", "Time replies sent"},
    {"replied_symmetric", "  of which mode 2 (w32time)"},
    {"replied_interleaved", "  of which interleaved"},
    {"kod_rate", "KoD RATE sent"},
    {"kod_deny", "KoD DENY sent"},
    {"rate_limited", "Rate-limited requests"},
    {"denied", "Denied by access list"},
    {"dropped_malformed", "Dropped: malformed"},
    {"dropped_bad_mode", "Dropped: mode not served"},
    {"dropped_control_mode", "Dropped: mode 6/7 (control)"},
    {"dropped_auth", "Dropped: authentication"},
    {"dropped_no_room", "Dropped: reply > request"},
    {"dropped_truncated", "Dropped: truncated (too long)"},
    {"crypto_nak", "Crypto-NAKs sent"},
    {"nts_authenticated", "NTS requests authenticated"},
    {"nts_nak", "NTS NAKs sent"},
    {"ntske_accepted", "NTS-KE connections accepted"},
    {"ntske_completed", "  handshakes completed"},
    {"ntske_failed", "  failed (TLS or protocol)"},
    {"ntske_rate_limited", "  refused (ntsratelimit)"},
    {"ntske_evicted", "  dropped for a newcomer"},
    {"ntske_timed_out", "  timed out"},
    {"mssntp_deferred", "MS-SNTP sent to the signer"},
    {"mssntp_signed", "  signed and sent"},
    {"mssntp_sign_failed", "  refused by the signer"},
    {"mssntp_sign_timeouts", "  not signed in time"},
    {"mssntp_queue_full", "  dropped: signer queue full"},
    {"mssntp_signer_unavailable", "  dropped: signer unreachable"},
    {"mssntp_extended", "MS-SNTP 120-byte (unsignable)"},
    {"send_errors", "Send errors"},
    {"kernel_rx_timestamps", "Kernel receive timestamps"},
    {"kernel_tx_timestamps", "Kernel transmit timestamps"},
    {"threads", "Serving threads per address"},
    {"sockets", "Serving sockets"},
    {"sockets_used", "  of which received requests"},
    {"clients_tracked", "Clients in the client tables"},
    {"client_table_entries", "  room for (clientlogsize each)"},
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

/* A duration in seconds printed with a unit that keeps 3 significant figures (ns, us, ms, s),
 * right-aligned in `width` characters (0: as long as it is). */
static void print_seconds_in(FILE *f, double v, bool with_sign, int width)
{
    double a = fabs(v);
    const char *unit = "s";
    double scaled = v;
    int decimals = 3;
    if (a < 1e-6) {
        unit = "ns";
        scaled = v * 1e9;
        decimals = 0;
    } else if (a < 1e-3) {
        unit = "us";
        scaled = v * 1e6;
        decimals = 1;
    } else if (a < 1.0) {
        unit = "ms";
        scaled = v * 1e3;
    }
    char text[48];
    snprintf(text, sizeof text, with_sign ? "%+.*f%s" : "%.*f%s", decimals, scaled, unit);
    fprintf(f, "%*s", width, text);
}

static void print_seconds(FILE *f, double v, bool with_sign)
{
    print_seconds_in(f, v, with_sign, 0);
}

static void render_tracking(const struct kvdoc *doc, FILE *f)
{
    fprintf(f, "Reference ID    : %s (%s)\n", get(doc, "reference_id"), get(doc, "reference_id_text"));
    fprintf(f, "Mode            : %s\n", get(doc, "reference_mode"));
    fprintf(f, "Stratum         : %s\n", get(doc, "stratum"));
    const char *ref = kvdoc_get(doc, 0, "reference_time");
    if (ref) {
        char when[40];
        format_utc(ref, true, when, sizeof when);
        fprintf(f, "Ref time (UTC)  : %s\n", when);
    }
    double off = get_double(doc, 0, "system_time_offset");
    fprintf(f, "System time     : %.9f seconds %s of NTP time\n", fabs(off), off > 0 ? "slow" : "fast");
    fprintf(f, "Last offset     : %+.9f seconds\n", get_double(doc, 0, "last_offset"));
    fprintf(f, "RMS offset      : %.9f seconds\n", get_double(doc, 0, "rms_offset"));
    fprintf(f, "Estimated error : %.9f seconds\n", get_double(doc, 0, "estimated_error"));
    /* As chronyc: how the uncorrected clock runs; we apply the opposite correction. */
    double freq = get_double(doc, 0, "frequency_ppm");
    fprintf(f, "Frequency       : %.3f ppm %s\n", fabs(freq), freq > 0 ? "slow" : "fast");
    fprintf(f, "Residual freq   : %+.3f ppm\n", get_double(doc, 0, "residual_frequency_ppm"));
    fprintf(f, "Skew            : %.3f ppm\n", get_double(doc, 0, "skew_ppm"));
    fprintf(f, "Root delay      : %.9f seconds\n", get_double(doc, 0, "root_delay"));
    fprintf(f, "Root dispersion : %.9f seconds\n", get_double(doc, 0, "root_dispersion"));
    fprintf(f, "Update interval : %.1f seconds\n", get_double(doc, 0, "update_interval"));
    /* What clients and interval-measuring programs see of our corrections. */
    fprintf(f, "Slew rate       : %+.3f ppm (largest in the last hour %.3f ppm, limit %s ppm)\n",
            get_double(doc, 0, "slew_rate_ppm"), get_double(doc, 0, "max_slew_rate_ppm"),
            get(doc, "maxslewrate_ppm"));
    fprintf(f, "Leap status     : %s", get(doc, "leap_status"));
    if (kvdoc_get(doc, 0, "tai_offset"))
        fprintf(f, " (from %s, TAI-UTC %s s)", get(doc, "leap_source"), get(doc, "tai_offset"));
    fputc('\n', f);
    const char *smear = kvdoc_get(doc, 0, "leapsmear");
    if (smear && strcmp(smear, "off") != 0)
        fprintf(f, "Leap smear      : %s; served time %+.9f seconds from the system clock, served "
                   "leap status %s\n",
                smear, get_double(doc, 0, "served_time_offset"), get(doc, "served_leap_status"));
    fprintf(f, "Clock control   : ");
    print_clock_control(doc, f);
}

static char state_symbol(const char *state)
{
    static const char *const names[] = {"selected", "candidate", "falseticker", "outlier", "too-far",
                                        "unsynchronised", "not-enough", "unreachable", "removed"};
    static const char symbols[] = {'*', '+', 'x', '-', '~', '?', '?', '?', '#'};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(state, names[i]) == 0)
            return symbols[i];
    return '?';
}

/* A server by its address; a reference clock (whose address is a path) by its name, "GPS (SOCK path)". */
static const char *source_label(const struct kvdoc *doc, unsigned i)
{
    const char *kind = kvdoc_get(doc, i, "kind");
    const char *label = kvdoc_get(doc, i, kind && strcmp(kind, "refclock") == 0 ? "name" : "address");
    return label ? label : "?";
}

static void render_sources(const struct kvdoc *doc, FILE *f)
{
    fprintf(f, "S Name/Address                          Stratum Poll Reach LastRx Last sample\n");
    fprintf(f, "=================================================================================\n");
    for (unsigned i = 0; i < doc->n_records; i++) {
        const char *state = kvdoc_get(doc, i, "state");
        fprintf(f, "%c %-38s %7ld %4ld %5s ", state_symbol(state ? state : ""), source_label(doc, i),
                get_long(doc, i, "stratum"), get_long(doc, i, "poll"),
                kvdoc_get(doc, i, "reach") ? kvdoc_get(doc, i, "reach") : "0");
        if (kvdoc_get(doc, i, "last_offset")) {
            fprintf(f, "%5.0fs ", get_double(doc, i, "last_rx_ago"));
            print_seconds(f, get_double(doc, i, "last_offset"), true);
            if (kvdoc_get(doc, i, "error")) {
                fprintf(f, " +/- ");
                print_seconds(f, get_double(doc, i, "error"), false);
            }
        } else {
            fprintf(f, "     - ");
        }
        fprintf(f, "  %s\n", state ? state : "");
    }
    fprintf(f, "(* selected, + combined, - not combined, x falseticker, ~ too far, ? unusable or unreachable, # removed)\n");
}

/* "bogus-origin 3, bad-delay 1": the replies the RFC 5905 tests (or a kiss) refused, by test. */
static void print_rejections(const struct kvdoc *doc, unsigned i, FILE *f)
{
    bool any = false;
    for (int v = SRC_SAMPLE + 1; v < SRC_VERDICT_COUNT; v++) {
        const char *name = src_verdict_name((enum src_verdict)v);
        long n = get_long(doc, i, name);
        if (n > 0)
            fprintf(f, "%s%s %ld", any ? ", " : "", name, n);
        any |= n > 0;
    }
    long bad = get_long(doc, i, "bad_readings");
    if (bad > 0)
        fprintf(f, "%sbad readings %ld", any ? ", " : "", bad);
    fputs(any || bad > 0 ? "\n" : "none\n", f);
}

static void render_sourcestats(const struct kvdoc *doc, FILE *f)
{
    fprintf(f, "Name/Address                           Samples  Used  Freq ppm  Skew ppm      Offset     Error    Jitter     Delay  Mode\n");
    fprintf(f, "============================================================================================================================\n");
    for (unsigned i = 0; i < doc->n_records; i++) {
        fprintf(f, "%-38s %8ld %5ld %+9.3f %9.3f ", source_label(doc, i), get_long(doc, i, "samples"),
                get_long(doc, i, "used"), get_double(doc, i, "frequency_ppm"),
                get_double(doc, i, "frequency_error_ppm"));
        static const char *const columns[] = {"offset", "error", "jitter", "delay"};
        for (size_t c = 0; c < sizeof columns / sizeof columns[0]; c++)
            print_seconds_in(f, get_double(doc, i, columns[c]), c == 0, c ? 10 : 11);
        const char *mode = kvdoc_get(doc, i, "mode");
        fprintf(f, "  %s\n", mode ? mode : "-");
    }
    if (doc->n_records == 0)
        return;
    fprintf(f, "\nReplies rejected, by test:\n");
    for (unsigned i = 0; i < doc->n_records; i++) {
        fprintf(f, "  %-36s ", source_label(doc, i));
        print_rejections(doc, i, f);
    }
}

static const struct report_renderer renderers[] = {
    {"status", NULL, render_status},
    {"serverstats", NULL, render_serverstats},
    {"clients", "clients", render_clients},
    {"tracking", NULL, render_tracking},
    {"sources", "sources", render_sources},
    {"sourcestats", "sources", render_sourcestats},
};

const struct report_renderer *render_find(const char *command)
{
    for (size_t i = 0; i < sizeof renderers / sizeof renderers[0]; i++)
        if (strcmp(renderers[i].command, command) == 0)
            return &renderers[i];
    return NULL;
}

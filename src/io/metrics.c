/* metrics: Prometheus text or JSON from the reports; see metrics.h. */
#include "io/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/source.h"
#include "io/version.h"

const char *const metrics_report_command[METRICS_REPORTS] = {"status", "tracking", "serverstats", "sourcestats"};

#define MAX_LABELS 5

struct label {
    const char *name, *value;
};

/* Where samples go: Prometheus text, or a JSON list of families each with its samples. */
struct writer {
    FILE *f;
    bool json;
    bool any_family, any_sample;
    const char *family;
};

static void text_label_value(FILE *f, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            fprintf(f, "\\%c", *v);
        else if (*v == '\n')
            fputs("\\n", f);
        else
            fputc(*v, f);
    }
}

static void family(struct writer *w, const char *name, const char *type, const char *help)
{
    w->family = name;
    if (!w->json) {
        fprintf(w->f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
        return;
    }
    fprintf(w->f, "%s\n  {\"name\": \"%s\", \"type\": \"%s\", \"help\": ", w->any_family ? "]}," : "", name, type);
    json_print_string(help, w->f);
    fputs(", \"samples\": [", w->f);
    w->any_family = true;
    w->any_sample = false;
}

static void sample(struct writer *w, const struct label *labels, unsigned n, double value)
{
    if (w->json) {
        fprintf(w->f, "%s\n    {\"labels\": {", w->any_sample ? "," : "");
        for (unsigned i = 0; i < n; i++) {
            fprintf(w->f, "%s\"%s\": ", i ? ", " : "", labels[i].name);
            json_print_string(labels[i].value, w->f);
        }
        fprintf(w->f, "}, \"value\": %.12g}", isfinite(value) ? value : 0.0);
        w->any_sample = true;
        return;
    }
    fputs(w->family, w->f);
    for (unsigned i = 0; i < n; i++) {
        fprintf(w->f, "%s%s=\"", i ? "," : "{", labels[i].name);
        text_label_value(w->f, labels[i].value);
        fputc('"', w->f);
    }
    fprintf(w->f, "%s %.12g\n", n ? "}" : "", value);
}

static bool number_of(const struct kvdoc *doc, unsigned rec, const char *key, double *out)
{
    const char *v = doc ? kvdoc_get(doc, rec, key) : NULL;
    if (!v)
        return false;
    char *end;
    *out = strtod(v, &end);
    return end != v;
}

/* One unlabelled gauge or counter from a single-record report; nothing when the key is absent. */
static void simple(struct writer *w, const struct kvdoc *doc, const char *key, const char *name,
                   const char *type, const char *help)
{
    double v;
    if (!number_of(doc, 0, key, &v))
        return;
    family(w, name, type, help);
    sample(w, NULL, 0, v);
}

/* A state as one gauge per possible value, 1 for the current one (OpenMetrics' StateSet, in 0.0.4). */
static void stateset(struct writer *w, const char *label, const char *current,
                     const char *const *states, size_t n, const struct label *extra, unsigned n_extra)
{
    struct label l[MAX_LABELS];
    if (n_extra)
        memcpy(l, extra, n_extra * sizeof *l);
    for (size_t i = 0; i < n; i++) {
        l[n_extra] = (struct label){label, states[i]};
        sample(w, l, n_extra + 1, current && strcmp(current, states[i]) == 0);
    }
}

static void write_build_and_reference(struct writer *w, const struct kvdoc *status)
{
    const char *version = status ? kvdoc_get(status, 0, "version") : NULL;
    family(w, "horloge_build_info", "gauge", "horloged's version (1)");
    sample(w, (struct label[]){{"version", version ? version : HORLOGE_VERSION}}, 1, 1);
    if (!status)
        return;
    const char *refid = kvdoc_get(status, 0, "reference_id_text"), *mode = kvdoc_get(status, 0, "reference_mode");
    const char *source = kvdoc_get(status, 0, "source");
    family(w, "horloge_reference_info", "gauge", "what this server's time comes from (1)");
    sample(w, (struct label[]){{"refid", refid ? refid : ""}, {"mode", mode ? mode : ""}, {"source", source ? source : ""}},
           3, 1);
    simple(w, status, "stratum", "horloge_stratum", "gauge", "stratum served to clients (16: unsynchronised)");
    simple(w, status, "leap", "horloge_leap_indicator", "gauge", "leap indicator served to clients (3: unsynchronised)");
    simple(w, status, "root_delay", "horloge_root_delay_seconds", "gauge", "root delay served to clients");
    simple(w, status, "root_dispersion", "horloge_root_dispersion_seconds", "gauge", "root dispersion served to clients");
    simple(w, status, "last_sync_age", "horloge_last_sync_age_seconds", "gauge", "seconds since the reference was last updated");
    simple(w, status, "uptime", "horloge_uptime_seconds", "gauge", "seconds since horloged started");
    static const char *const controls[] = {"on", "off", "failed"};
    family(w, "horloge_clock_control", "gauge", "whether horloged steers the system clock (1 for the current state)");
    stateset(w, "state", kvdoc_get(status, 0, "clock_control"), controls, 3, NULL, 0);
    simple(w, status, "clock_errors", "horloge_clock_errors_total", "counter", "clock adjustments the kernel refused");
}

static const struct {
    const char *key, *name, *help;
} tracking_gauges[] = {
    {"system_time_offset", "horloge_tracking_system_offset_seconds", "system clock minus NTP time, still to correct"},
    {"last_offset", "horloge_tracking_last_offset_seconds", "offset measured at the last clock update"},
    {"rms_offset", "horloge_tracking_rms_offset_seconds", "long-term average of the offset"},
    {"estimated_error", "horloge_tracking_estimated_error_seconds", "estimated error of the system clock"},
    {"frequency_ppm", "horloge_tracking_frequency_ppm", "frequency error of the uncorrected clock (ppm, positive: slow)"},
    {"residual_frequency_ppm", "horloge_tracking_residual_frequency_ppm", "frequency still to correct (ppm)"},
    {"skew_ppm", "horloge_tracking_skew_ppm", "error bound of the frequency estimate (ppm)"},
    {"update_interval", "horloge_tracking_update_interval_seconds", "interval between the last clock updates"},
};

static void write_tracking(struct writer *w, const struct kvdoc *tracking)
{
    for (size_t i = 0; i < sizeof tracking_gauges / sizeof tracking_gauges[0]; i++)
        simple(w, tracking, tracking_gauges[i].key, tracking_gauges[i].name, "gauge", tracking_gauges[i].help);
    static const char *const leaps[] = {"normal", "insert second", "delete second", "not synchronised"};
    const char *leap = tracking ? kvdoc_get(tracking, 0, "leap_status") : NULL;
    if (!leap)
        return;
    family(w, "horloge_leap_status", "gauge", "leap second status of the clock (1 for the current state)");
    stateset(w, "status", leap, leaps, 4, NULL, 0);
    simple(w, tracking, "tai_offset", "horloge_tai_offset_seconds", "gauge", "TAI - UTC from the leap second list");
}

/* Counters that share a family, told apart by one label. */
static const struct {
    const char *key, *name, *label, *value, *help;
} server_counters[] = {
    {"received", "horloge_server_requests_total", NULL, NULL, "NTP requests received"},
    {"replied", "horloge_server_replies_total", NULL, NULL, "time replies sent"},
    {"replied_symmetric", "horloge_server_symmetric_replies_total", NULL, NULL, "mode 2 replies sent to symmetric-active (w32time) requests"},
    {"replied_interleaved", "horloge_server_interleaved_replies_total", NULL, NULL, "interleaved-mode replies sent (RFC 9769)"},
    {"kod_rate", "horloge_server_kod_sent_total", "code", "RATE", "Kiss-o'-Death packets sent"},
    {"kod_deny", "horloge_server_kod_sent_total", "code", "DENY", NULL},
    {"rate_limited", "horloge_server_rate_limited_total", NULL, NULL, "requests over the rate limit"},
    {"denied", "horloge_server_denied_total", NULL, NULL, "requests refused by the access list"},
    {"dropped_malformed", "horloge_server_dropped_total", "reason", "malformed", "requests dropped, by reason"},
    {"dropped_bad_mode", "horloge_server_dropped_total", "reason", "mode_not_served", NULL},
    {"dropped_control_mode", "horloge_server_dropped_total", "reason", "control_mode", NULL},
    {"dropped_auth", "horloge_server_dropped_total", "reason", "authentication", NULL},
    {"dropped_no_room", "horloge_server_dropped_total", "reason", "reply_larger_than_request", NULL},
    {"dropped_truncated", "horloge_server_dropped_total", "reason", "truncated", NULL},
    {"mssntp_extended", "horloge_server_dropped_total", "reason", "mssntp_extended_unsignable", NULL},
    {"crypto_nak", "horloge_server_crypto_naks_total", NULL, NULL, "crypto-NAKs sent"},
    {"send_errors", "horloge_server_send_errors_total", NULL, NULL, "replies the kernel refused to send"},
    {"kernel_rx_timestamps", "horloge_server_kernel_timestamps_total", "direction", "rx", "packets timestamped by the kernel: requests received, replies sent"},
    {"kernel_tx_timestamps", "horloge_server_kernel_timestamps_total", "direction", "tx", NULL},
    {"mssntp_deferred", "horloge_server_mssntp_replies_total", "result", "handed_to_signer", "MS-SNTP replies handed to Samba's signer, and what became of them"},
    {"mssntp_signed", "horloge_server_mssntp_replies_total", "result", "signed", NULL},
    {"mssntp_sign_failed", "horloge_server_mssntp_replies_total", "result", "refused", NULL},
    {"mssntp_sign_timeouts", "horloge_server_mssntp_replies_total", "result", "timeout", NULL},
    {"mssntp_queue_full", "horloge_server_mssntp_replies_total", "result", "queue_full", NULL},
    {"mssntp_signer_unavailable", "horloge_server_mssntp_replies_total", "result", "signer_unavailable", NULL},
};

static void write_server(struct writer *w, const struct kvdoc *stats)
{
    for (size_t i = 0; i < sizeof server_counters / sizeof server_counters[0]; i++) {
        double v;
        if (!number_of(stats, 0, server_counters[i].key, &v))
            continue;
        if (server_counters[i].help)
            family(w, server_counters[i].name, "counter", server_counters[i].help);
        struct label l = {server_counters[i].label, server_counters[i].value};
        sample(w, &l, l.name ? 1 : 0, v);
    }
    simple(w, stats, "clients_tracked", "horloge_server_clients_tracked", "gauge",
           "clients in the rate limiter's tables");
    simple(w, stats, "client_table_entries", "horloge_server_client_table_entries", "gauge",
           "room in the rate limiter's tables (clientlogsize)");
}

/* A server by its address, a reference clock by its name (as `horloge sources`). */
static unsigned source_labels(const struct kvdoc *doc, unsigned rec, struct label *l)
{
    const char *kind = kvdoc_get(doc, rec, "kind"), *name = kvdoc_get(doc, rec, "name");
    const char *address = kvdoc_get(doc, rec, "address");
    bool refclock = kind && strcmp(kind, "refclock") == 0;
    l[0] = (struct label){"source", (refclock ? name : address) ? (refclock ? name : address) : "?"};
    l[1] = (struct label){"kind", kind ? kind : "?"};
    l[2] = (struct label){"name", name ? name : ""};
    return 3;
}

static const struct {
    const char *key, *name, *type, *help;
} source_values[] = {
    {"offset", "horloge_source_offset_seconds", "gauge", "filtered offset of the source against the system clock"},
    {"error", "horloge_source_error_seconds", "gauge", "error bound of the filtered offset"},
    {"delay", "horloge_source_delay_seconds", "gauge", "filtered round-trip delay"},
    {"jitter", "horloge_source_jitter_seconds", "gauge", "jitter of the source's offsets"},
    {"root_distance", "horloge_source_root_distance_seconds", "gauge", "root distance through the source"},
    {"frequency_ppm", "horloge_source_frequency_ppm", "gauge", "the system clock's frequency against the source (ppm)"},
    {"stratum", "horloge_source_stratum", "gauge", "stratum of the source's last reply"},
    {"poll", "horloge_source_poll_exponent", "gauge", "poll interval in use, as a power of 2 seconds"},
    {"reach", "horloge_source_reach", "gauge", "reach register: one bit per poll, bit 0 the latest (0-255)"},
    {"requests_sent", "horloge_source_requests_total", "counter", "requests sent to the source"},
    {"samples", "horloge_source_samples_total", "counter", "samples taken from the source"},
    {"interleaved_samples", "horloge_source_interleaved_samples_total", "counter", "samples taken from interleaved replies (RFC 9769)"},
};

/* Where each request's transmit and each reply's receive timestamp came from. */
static const struct {
    const char *key, *direction, *origin;
} source_timestamps[] = {
    {"kernel_tx_timestamps", "tx", "kernel"}, {"hardware_tx_timestamps", "tx", "hardware"},
    {"software_tx_timestamps", "tx", "software"}, {"kernel_rx_timestamps", "rx", "kernel"},
    {"hardware_rx_timestamps", "rx", "hardware"},
};

static void write_source_timestamps(struct writer *w, const struct kvdoc *doc)
{
    bool any = false;
    for (unsigned r = 0; r < doc->n_records; r++) {
        struct label l[MAX_LABELS];
        unsigned n = source_labels(doc, r, l);
        for (size_t i = 0; i < sizeof source_timestamps / sizeof source_timestamps[0]; i++) {
            double count;
            if (!number_of(doc, r, source_timestamps[i].key, &count))
                continue;
            if (!any)
                family(w, "horloge_source_timestamps_total", "counter",
                       "timestamps of requests sent (tx) and replies received (rx), by origin");
            any = true;
            l[n] = (struct label){"direction", source_timestamps[i].direction};
            l[n + 1] = (struct label){"origin", source_timestamps[i].origin};
            sample(w, l, n + 2, count);
        }
    }
}

static void write_source_value(struct writer *w, const struct kvdoc *doc, size_t which)
{
    bool any = false;
    for (unsigned r = 0; r < doc->n_records; r++) {
        const char *text = kvdoc_get(doc, r, source_values[which].key);
        if (!text)
            continue;
        if (!any)
            family(w, source_values[which].name, source_values[which].type, source_values[which].help);
        any = true;
        struct label l[MAX_LABELS];
        unsigned n = source_labels(doc, r, l);
        /* The reach register is octal, as chronyc prints it. */
        sample(w, l, n, strcmp(source_values[which].key, "reach") == 0 ? (double)strtol(text, NULL, 8) : strtod(text, NULL));
    }
}

static const char *const source_states[] = {"selected", "candidate", "outlier", "falseticker", "too-far",
                                            "unsynchronised", "not-enough", "unreachable"};

static void write_sources(struct writer *w, const struct kvdoc *doc)
{
    if (!doc || doc->n_records == 0)
        return;
    for (size_t i = 0; i < sizeof source_values / sizeof source_values[0]; i++)
        write_source_value(w, doc, i);
    write_source_timestamps(w, doc);
    family(w, "horloge_source_state", "gauge", "the selection's verdict on the source (1 for the current state)");
    for (unsigned r = 0; r < doc->n_records; r++) {
        struct label l[MAX_LABELS];
        unsigned n = source_labels(doc, r, l);
        stateset(w, "state", kvdoc_get(doc, r, "state"), source_states,
                 sizeof source_states / sizeof source_states[0], l, n);
    }
    family(w, "horloge_source_rejected_total", "counter", "replies rejected, by the RFC 5905 test or Kiss-o'-Death that refused them");
    for (unsigned r = 0; r < doc->n_records; r++) {
        struct label l[MAX_LABELS];
        unsigned n = source_labels(doc, r, l);
        for (int v = SRC_SAMPLE + 1; v < SRC_VERDICT_COUNT; v++) {
            double count;
            l[n] = (struct label){"test", src_verdict_name((enum src_verdict)v)};
            if (number_of(doc, r, l[n].value, &count))
                sample(w, l, n + 1, count);
        }
    }
}

int metrics_write(FILE *f, const struct kvdoc *const reports[METRICS_REPORTS], bool json)
{
    struct writer w = {.f = f, .json = json};
    if (json)
        fputs("{\"metrics\": [", f);
    write_build_and_reference(&w, reports[METRICS_STATUS]);
    write_tracking(&w, reports[METRICS_TRACKING]);
    write_server(&w, reports[METRICS_SERVERSTATS]);
    write_sources(&w, reports[METRICS_SOURCESTATS]);
    if (json)
        fputs(w.any_family ? "]}\n]}\n" : "]}\n", f);
    return ferror(f) ? -1 : 0;
}

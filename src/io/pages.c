/*
 * pages: what the `metrics` HTTP endpoint (io/webserver) serves for the
 * daemon — /metrics (io/metrics, from the same control reports as `horloge
 * metrics`) and / (the status page: the `horloge status`/`tracking` fields,
 * the sources, and SVG plots of the history the one-second tick records,
 * drawn server-side by io/svgplot, no JavaScript). See io/daemon.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/daemon.h"
#include "io/kvdoc.h"
#include "io/metrics.h"
#include "io/svgplot.h"
#include "io/version.h"

/* The reports as the control socket would answer them, each parsed in place. */
struct report_set {
    char text[METRICS_REPORTS][CONTROL_MAX_RESPONSE];
    struct kvdoc doc[METRICS_REPORTS];
    const struct kvdoc *ptr[METRICS_REPORTS];
};

static void fetch_reports(struct horloged *d, struct report_set *rs)
{
    for (int i = 0; i < METRICS_REPORTS; i++) {
        struct kv_out out = {.buf = rs->text[i], .cap = sizeof rs->text[i]};
        memcpy(out.buf, "ok\n", 4);
        out.len = 3;
        reports_handle(d, metrics_report_command[i], &out);
        rs->ptr[i] = kvdoc_parse(rs->text[i], &rs->doc[i]) == 0 && !rs->doc[i].error ? &rs->doc[i] : NULL;
    }
}

void pages_record(struct horloged *d)
{
    struct ref_tracking t;
    sync_get_tracking(&d->sync, &t);
    struct history_point p = {daemon_mono_now(), t.last_offset, t.freq_ppm, t.root_dispersion};
    history_offer(&d->history, &p);
}

static void html_text(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* Labels as `horloge status` and `tracking` print them; a key the report lacks is left out. */
static const char *const status_rows[][2] = {
    {"leap", "Leap indicator"}, {"stratum", "Stratum"}, {"precision", "Precision (log2 s)"},
    {"root_delay", "Root delay (s)"}, {"root_dispersion", "Root dispersion (s)"},
    {"reference_id_text", "Reference ID"}, {"last_sync_age", "Last successful sync (s ago)"},
    {"source", "Source"}, {"poll", "Poll interval (log2 s)"}, {"clock_control", "Clock control"},
    {"last_clock_error", "Last clock error"},
};
static const char *const tracking_rows[][2] = {
    {"reference_mode", "Mode"}, {"system_time_offset", "System time offset (s)"},
    {"last_offset", "Last offset (s)"}, {"rms_offset", "RMS offset (s)"}, {"estimated_error", "Estimated error (s)"},
    {"frequency_ppm", "Frequency (ppm slow)"}, {"residual_frequency_ppm", "Residual frequency (ppm)"},
    {"skew_ppm", "Skew (ppm)"}, {"update_interval", "Update interval (s)"}, {"leap_status", "Leap status"},
};

static void field_table(FILE *f, const char *id, const struct kvdoc *doc, const char *const rows[][2], size_t n)
{
    fprintf(f, "<table id=\"%s\">", id);
    for (size_t i = 0; doc && i < n; i++) {
        const char *v = kvdoc_get(doc, 0, rows[i][0]);
        if (!v)
            continue;
        fprintf(f, "<tr><th>%s</th><td>", rows[i][1]);
        html_text(f, v);
        fputs("</td></tr>", f);
    }
    fputs("</table>", f);
}

/* Seconds as a phone shows them best: "-1.66 us", "2.3 ms". */
static void seconds_text(FILE *f, const char *v)
{
    double s = v ? strtod(v, NULL) : 0, a = fabs(s);
    if (!v)
        return;
    if (a >= 1.0 || a == 0.0)
        fprintf(f, "%.3g s", s);
    else if (a >= 1e-3)
        fprintf(f, "%.3g ms", s * 1e3);
    else if (a >= 1e-6)
        fprintf(f, "%.3g \u00b5s", s * 1e6);
    else
        fprintf(f, "%.3g ns", s * 1e9);
}

static void sources_table(FILE *f, const struct kvdoc *doc)
{
    static const char *const cols[][2] = {{"state", "State"}, {"address", "Address"}, {"stratum", "Stratum"},
                                          {"poll", "Poll"}, {"reach", "Reach"}, {"offset", "Offset"},
                                          {"error", "Error"}, {"delay", "Delay"}, {"jitter", "Jitter"}};
    size_t n = sizeof cols / sizeof cols[0];
    fputs("<table id=\"sources\"><tr>", f);
    for (size_t c = 0; c < n; c++)
        fprintf(f, "<th>%s</th>", cols[c][1]);
    fputs("</tr>", f);
    for (unsigned r = 0; doc && r < doc->n_records; r++) {
        fputs("<tr>", f);
        for (size_t c = 0; c < n; c++) {
            fputs("<td>", f);
            if (c >= 5)
                seconds_text(f, kvdoc_get(doc, r, cols[c][0]));
            else
                html_text(f, kvdoc_get(doc, r, cols[c][0]));
            fputs("</td>", f);
        }
        fputs("</tr>", f);
    }
    if (!doc || doc->n_records == 0)
        fprintf(f, "<tr><td colspan=\"%zu\">no time sources</td></tr>", n);
    fputs("</table>", f);
}

/* The three plots: x in hours before now, from the history ring. */
static void history_plots(FILE *f, const struct history *h)
{
    double *x = calloc(h->n + 1, sizeof *x), *y = calloc(3 * (h->n + 1), sizeof *y);
    if (!x || !y) {
        free(x);
        free(y);
        fputs("<p>plots unavailable (out of memory)</p>", f);
        return;
    }
    double now = daemon_mono_now();
    /* Minutes while the history is short (just started, or `every` small), then hours. */
    bool minutes = h->n == 0 || now - history_at(h, 0)->t < 2 * 3600.0;
    for (unsigned i = 0; i < h->n; i++) {
        const struct history_point *p = history_at(h, i);
        x[i] = (p->t - now) / (minutes ? 60.0 : 3600.0);
        y[i] = p->offset;
        y[h->n + i] = p->freq_ppm;
        y[2 * h->n + i] = p->root_dispersion;
    }
    static const char *const titles[][3] = {{"Offset", "plot-offset", "s"}, {"Frequency", "plot-frequency", "ppm"},
                                            {"Root dispersion", "plot-rootdisp", "s"}};
    for (unsigned k = 0; k < 3; k++) {
        struct svgplot p = {titles[k][0], titles[k][1], minutes ? "minutes before now" : "hours before now",
                            titles[k][2], x, y + k * h->n, h->n};
        fputs("<figure>", f);
        svgplot_write(f, &p);
        fputs("</figure>", f);
    }
    free(x);
    free(y);
}

static const char page_style[] =
    "body{font-family:sans-serif;margin:0 auto;padding:8px;max-width:960px;color:#222}"
    "h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.2em}"
    "table{border-collapse:collapse;font-size:.9em;margin-bottom:.5em}"
    "th,td{text-align:left;padding:2px 8px;border-bottom:1px solid #eee}td{overflow-wrap:anywhere}"
    "figure{margin:8px 0}.wrap{overflow-x:auto}";

static void status_page(FILE *f, struct horloged *d, const struct report_set *rs)
{
    fprintf(f, "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
               "<meta http-equiv=\"refresh\" content=\"60\"><title>horloged status</title><style>%s</style></head>"
               "<body><h1>horloged %s</h1><h2>Status</h2>",
            page_style, HORLOGE_VERSION);
    field_table(f, "status", rs->ptr[METRICS_STATUS], status_rows, sizeof status_rows / sizeof status_rows[0]);
    fputs("<h2>Tracking</h2>", f);
    field_table(f, "tracking", rs->ptr[METRICS_TRACKING], tracking_rows, sizeof tracking_rows / sizeof tracking_rows[0]);
    fputs("<h2>Sources</h2><div class=\"wrap\">", f);
    sources_table(f, rs->ptr[METRICS_SOURCESTATS]);
    fprintf(f, "</div><h2>The last %.3g hours (one point every %.0f s)</h2>",
            d->history.interval * HISTORY_POINTS / 3600.0, d->history.interval);
    history_plots(f, &d->history);
    fputs("<p><a href=\"/metrics\">/metrics</a> (Prometheus)</p></body></html>\n", f);
}

int pages_produce(void *ctx, const char *url, struct web_page *out)
{
    struct horloged *d = ctx;
    bool metrics = strcmp(url, "/metrics") == 0;
    if (!metrics && strcmp(url, "/") != 0) {
        out->status = 404;
        out->content_type = "text/plain";
        out->body = strdup("not found: try / or /metrics\n");
        out->len = out->body ? strlen(out->body) : 0;
        return out->body ? 0 : -1;
    }
    struct report_set *rs = malloc(sizeof *rs);
    FILE *f = rs ? open_memstream(&out->body, &out->len) : NULL;
    if (!f) {
        free(rs);
        return -1;
    }
    fetch_reports(d, rs);
    if (metrics)
        metrics_write(f, rs->ptr, false);
    else
        status_page(f, d, rs);
    int failed = ferror(f);
    free(rs);
    if (fclose(f) != 0 || failed)
        return -1;
    out->status = 200;
    out->content_type = metrics ? METRICS_CONTENT_TYPE : "text/html; charset=utf-8";
    return 0;
}

/*
 * reports: the control socket's commands (status, serverstats, clients,
 * tracking, sources, sourcestats) as key=value records (io/control.h). Each
 * report asks the module that owns the data: the engine (core/sync) for
 * tracking and per-source filters, the server for its counters and clients,
 * and each kind of time source (io/timesource.h) for its name, poll, reach
 * and counters, so every kind is listed alike.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/packet.h"
#include "io/daemon.h"
#include "io/netutil.h"
#include "io/sockio.h"
#include "io/version.h"

#define CLIENTS_SHOWN 64

/* Which kind owns engine source `i`, and its view; false when none does (a removed slot). */
static bool view_of(const struct horloged *d, unsigned i, struct timesource_view *v,
                    const struct timesource_kind **kind);

bool reports_source_view(const struct horloged *d, unsigned i, struct timesource_view *v)
{
    return view_of(d, i, v, NULL);
}

static bool view_of(const struct horloged *d, unsigned i, struct timesource_view *v,
                    const struct timesource_kind **kind)
{
    v->state = NULL; /* a kind that has no say leaves it so */
    for (unsigned k = 0; k < DAEMON_SOURCE_KINDS; k++) {
        if (d->kinds[k].view && d->kinds[k].view(d->kinds[k].owner, i, v)) {
            if (kind)
                *kind = &d->kinds[k];
            return true;
        }
    }
    return false;
}

/* The source the reference came from; in holdover nothing is selected, but the refid still names it. */
static bool reference_view(const struct horloged *d, struct timesource_view *v)
{
    if (d->sync.sel.selected >= 0)
        return view_of(d, (unsigned)d->sync.sel.selected, v, NULL);
    if (d->sync.ref.mode != REF_HOLDOVER)
        return false;
    for (unsigned i = 0; i < d->sync.n_src; i++)
        if (!d->sync.src[i].removed && d->sync.src[i].refid == d->sync.ref.state.refid && view_of(d, i, v, NULL))
            return true;
    return false;
}

/* Whether we steer the clock (on/off/failed), how many clock calls failed, and the last failure. */
static void report_clock_control(const struct horloged *d, struct kv_out *out)
{
    const struct sync_clock_health *h = &d->sync.clock;
    kv_add(out, "clock_control", "%s", !d->clock_controlled ? "off" : h->failing ? "failed" : "on");
    kv_add(out, "clock_errors", "%lu", h->n_errors);
    if (h->n_errors)
        kv_add(out, "last_clock_error", "%s: %s", sync_clock_op_name(h->last_op), strerror(h->last_errno));
}

static void report_status(struct horloged *d, struct kv_out *out)
{
    const struct resp_state *s = &d->state;
    ntp_ts now = sockio_realtime_ntp();
    bool synced = s->stratum < NTP_STRATUM_UNSYNC;
    char rtext[32];
    netaddr_format_refid(s->refid, s->stratum, rtext, sizeof rtext);
    kv_add(out, "leap", "%u", s->leap);
    kv_add(out, "stratum", "%u", s->stratum);
    kv_add(out, "precision", "%d", s->precision);
    kv_add(out, "root_delay", "%.6f", s->root_delay);
    kv_add(out, "root_dispersion", "%.6f", synced ? resp_root_dispersion_at(s, now) : 0.0);
    kv_add(out, "reference_id", "0x%08X", s->refid);
    kv_add(out, "reference_id_text", "%s", rtext);
    if (synced) {
        struct unix_time ref = ntp_to_unix(s->reference_time, time(NULL));
        kv_add(out, "last_sync", "%lld.%09u", (long long)ref.sec, ref.nsec);
        kv_add(out, "last_sync_age", "%.0f", ntp_diff_sec(now, s->reference_time));
    }
    struct timesource_view v;
    bool have = reference_view(d, &v);
    if (d->sync.ref.mode == REF_LOCAL) {
        kv_add(out, "source_kind", "local");
        kv_add(out, "source", "local clock (reliable time source)");
    } else if ((d->sync.ref.mode == REF_SYNCED || d->sync.ref.mode == REF_HOLDOVER) && have) {
        kv_add(out, "source_kind", "%s", v.kind);
        kv_add(out, "source", "%s", v.label);
        kv_add(out, "source_name", "%s", v.name);
    } else {
        kv_add(out, "source_kind", "none");
        kv_add(out, "source", "%s", d->sync.ref.mode == REF_CLOCK_FAILED
                                        ? "none (the system clock cannot be steered)"
                                        : "none (unsynchronised)");
    }
    kv_add(out, "reference_mode", "%s", ref_mode_name(d->sync.ref.mode));
    kv_add(out, "poll", "%d", have ? v.poll : NTP_DEFAULT_MINPOLL);
    report_clock_control(d, out);
    kv_add(out, "uptime", "%.0f", daemon_mono_now() - d->start_mono);
    kv_add(out, "version", "%s", HORLOGE_VERSION);
}

static const struct {
    const char *key;
    size_t offset;
} serverstats_fields[] = {
    {"received", offsetof(struct server_counters, serve.received)},
    {"replied", offsetof(struct server_counters, serve.replied)},
    {"replied_symmetric", offsetof(struct server_counters, serve.replied_sym)},
    {"replied_interleaved", offsetof(struct server_counters, serve.replied_xleave)},
    {"kod_rate", offsetof(struct server_counters, serve.kod_rate)},
    {"kod_deny", offsetof(struct server_counters, serve.kod_deny)},
    {"rate_limited", offsetof(struct server_counters, serve.rate_limited)},
    {"denied", offsetof(struct server_counters, serve.denied)},
    {"dropped_malformed", offsetof(struct server_counters, serve.malformed)},
    {"dropped_bad_mode", offsetof(struct server_counters, serve.bad_mode)},
    {"dropped_control_mode", offsetof(struct server_counters, serve.control_mode)},
    {"dropped_auth", offsetof(struct server_counters, serve.auth_failed)},
    {"dropped_no_room", offsetof(struct server_counters, serve.no_room)},
    {"dropped_truncated", offsetof(struct server_counters, truncated)},
    {"crypto_nak", offsetof(struct server_counters, serve.crypto_nak)},
    {"mssntp_deferred", offsetof(struct server_counters, serve.deferred)},
    {"mssntp_extended", offsetof(struct server_counters, serve.mssntp_extended)},
    {"send_errors", offsetof(struct server_counters, send_errors)},
    {"kernel_rx_timestamps", offsetof(struct server_counters, kernel_timestamps)},
    {"kernel_tx_timestamps", offsetof(struct server_counters, kernel_tx_timestamps)},
};

/* What became of the MS-SNTP replies handed to Samba's signer (only with `ntpsigndsocket`). */
static void report_signer(struct horloged *d, struct kv_out *out)
{
    if (!d->signer)
        return;
    struct ntpsignd_counters c;
    ntpsignd_get_counters(d->signer, &c);
    kv_add(out, "mssntp_signed", "%llu", (unsigned long long)c.signed_ok);
    kv_add(out, "mssntp_sign_failed", "%llu", (unsigned long long)c.failed);
    kv_add(out, "mssntp_sign_timeouts", "%llu", (unsigned long long)c.timeouts);
    kv_add(out, "mssntp_queue_full", "%llu", (unsigned long long)c.queue_full);
    kv_add(out, "mssntp_signer_unavailable", "%llu", (unsigned long long)c.unavailable);
}

static void report_serverstats(struct horloged *d, struct kv_out *out)
{
    struct server_counters c;
    server_get_counters(d->srv, &c);
    for (size_t i = 0; i < sizeof serverstats_fields / sizeof serverstats_fields[0]; i++) {
        uint64_t v;
        memcpy(&v, (const char *)&c + serverstats_fields[i].offset, sizeof v);
        kv_add(out, serverstats_fields[i].key, "%llu", (unsigned long long)v);
    }
    nts_service_report(&d->nts, out);
    report_signer(d, out);
    struct server_layout layout;
    server_get_layout(d->srv, &layout);
    kv_add(out, "threads", "%u", layout.threads);
    kv_add(out, "sockets", "%u", layout.sockets);
    kv_add(out, "sockets_used", "%u", layout.sockets_used);
    kv_add(out, "clients_tracked", "%u", layout.clients_tracked);
    kv_add(out, "client_table_entries", "%u", layout.client_capacity);
    kv_add(out, "uptime", "%.0f", daemon_mono_now() - d->start_mono);
}

static void report_clients(struct horloged *d, struct kv_out *out)
{
    struct rl_client_stats top[CLIENTS_SHOWN];
    unsigned n = server_top_clients(d->srv, top, CLIENTS_SHOWN);
    uint64_t now_ns = sockio_monotonic_ns();
    for (unsigned i = 0; i < n; i++) {
        kv_add(out, "address", "%s", netaddr_format(&top[i].addr).text);
        kv_add(out, "requests", "%llu", (unsigned long long)top[i].requests);
        kv_add(out, "limited", "%llu", (unsigned long long)top[i].limited);
        kv_add(out, "kod_sent", "%llu", (unsigned long long)top[i].kod_sent);
        kv_add(out, "last_seen_ago", "%.0f", (double)(now_ns - top[i].last_ns) * 1e-9);
        double span = (double)(top[i].last_ns - top[i].first_ns) * 1e-9;
        kv_add(out, "interval", "%.1f", top[i].requests > 1 ? span / (double)(top[i].requests - 1) : 0.0);
        kv_end_record(out);
    }
}

static const char *leap_status_name(uint8_t leap)
{
    static const char *const names[] = {"normal", "insert second", "delete second", "not synchronised"};
    return names[leap & 3];
}

static void report_tracking(struct horloged *d, struct kv_out *out)
{
    struct ref_tracking t;
    sync_get_tracking(&d->sync, &t);
    char rtext[32];
    netaddr_format_refid(t.refid, t.stratum, rtext, sizeof rtext);
    kv_add(out, "reference_id", "0x%08X", t.refid);
    kv_add(out, "reference_id_text", "%s", rtext);
    kv_add(out, "reference_mode", "%s", ref_mode_name(t.mode));
    kv_add(out, "stratum", "%u", t.stratum);
    if (t.reference_time) {
        struct unix_time ref = ntp_to_unix(t.reference_time, time(NULL));
        kv_add(out, "reference_time", "%lld.%09u", (long long)ref.sec, ref.nsec);
    }
    kv_add(out, "system_time_offset", "%.9f", t.system_offset);
    kv_add(out, "last_offset", "%.9f", t.last_offset);
    kv_add(out, "rms_offset", "%.9f", t.rms_offset);
    kv_add(out, "estimated_error", "%.9f", t.est_error);
    kv_add(out, "frequency_ppm", "%.3f", t.freq_ppm);
    kv_add(out, "residual_frequency_ppm", "%.3f", t.residual_freq_ppm);
    kv_add(out, "skew_ppm", "%.3f", t.skew_ppm);
    kv_add(out, "root_delay", "%.9f", t.root_delay);
    kv_add(out, "root_dispersion", "%.9f", t.root_dispersion);
    kv_add(out, "update_interval", "%.1f", t.update_interval);
    kv_add(out, "slew_rate_ppm", "%.3f", t.slew_ppm);
    kv_add(out, "max_slew_rate_ppm", "%.3f", t.peak_slew_ppm);
    kv_add(out, "maxslewrate_ppm", "%.0f", d->cfg.maxslewrate);
    kv_add(out, "leap_status", "%s", leap_status_name(t.leap));
    /* The system clock makes the leap; with a smear, clients get the served time instead. */
    kv_add(out, "leapsmear", "%s", leapsmear_name(t.leapsmear));
    kv_add(out, "served_time_offset", "%.9f", t.served_offset);
    kv_add(out, "served_leap_status", "%s", leap_status_name(t.served_leap));
    kv_add(out, "leap_source", "%s", d->leaplist.verdict != REF_LEAP_FROM_SOURCES ? "leapseclist" : "sources");
    if (d->leaplist.loaded) {
        kv_add(out, "tai_offset", "%d", d->leaplist.status.tai_offset);
        kv_add(out, "leapseclist_expired", "%s", d->leaplist.status.expired ? "yes" : "no");
    }
    report_clock_control(d, out);
}

static const char *source_state_name(const struct sync_source *s)
{
    if (s->removed)
        return "removed";
    /* It answers, but has no time to give: not to be confused with a server that is down. */
    if (s->unsynchronised && s->verdict != SEL_SELECTED && s->verdict != SEL_CANDIDATE)
        return "unsynchronised";
    switch (s->verdict) {
    case SEL_SELECTED: return "selected";
    case SEL_CANDIDATE: return "candidate";
    case SEL_FALSETICKER: return "falseticker";
    case SEL_OUTLIER: return "outlier";
    case SEL_TOO_FAR: return "too-far";
    case SEL_UNFIT: return "unsynchronised";
    case SEL_NOT_ENOUGH: return "not-enough";
    case SEL_UNREACHABLE: break;
    }
    return "unreachable";
}

/* One source of any kind: the engine's figures, then its owner's view and counters. */
static void report_one_source(struct horloged *d, unsigned i, const struct timesource_view *v,
                              const struct timesource_kind *kind, bool stats, struct kv_out *out)
{
    const struct sync_source *s = &d->sync.src[i];
    double now = sync_now(&d->sync, NULL);
    kv_add(out, "kind", "%s", v->kind);
    kv_add(out, "name", "%s", v->name);
    kv_add(out, "address", "%s", v->address);
    kv_add(out, "state", "%s", v->state ? v->state : source_state_name(s));
    kv_add(out, "stratum", "%u", s->last_sample_at > 0 ? s->last_sample.stratum : 0);
    kv_add(out, "poll", "%d", v->poll);
    kv_add(out, "reach", "%03o", v->reach);
    if (s->last_sample_at > 0) {
        kv_add(out, "last_rx_ago", "%.0f", now - s->last_sample_at);
        kv_add(out, "last_offset", "%.9f", s->last_sample.offset);
        kv_add(out, "last_delay", "%.9f", s->last_sample.delay);
    }
    /* The filters work in the raw frame; shown offsets are against the system clock. */
    double now_raw = disc_raw_time(&d->sync.disc, now);
    struct filt_estimate e;
    filt_source_estimate(&s->filt, now_raw, &e);
    if (e.valid) {
        kv_add(out, "offset", "%.9f", e.offset - (now - now_raw));
        kv_add(out, "error", "%.9f", e.error);
    }
    if (stats) {
        kv_add(out, "samples", "%u", s->n_samples);
        kv_add(out, "filtered", "%u", s->n_filtered);
        kv_add(out, "held", "%u", s->n_held);
        kv_add(out, "used", "%u", s->n_used);
        if (e.valid) {
            kv_add(out, "frequency_ppm", "%.3f", e.freq * 1e6);
            kv_add(out, "frequency_error_ppm", "%.3f", e.freq_error * 1e6);
            kv_add(out, "jitter", "%.9f", e.jitter);
            kv_add(out, "delay", "%.9f", e.delay);
            kv_add(out, "min_delay", "%.9f", e.min_delay);
            kv_add(out, "root_distance", "%.9f", e.root_distance);
        }
        kind->stats(kind->owner, i, out);
    }
    kv_end_record(out);
}

static void report_sources(struct horloged *d, bool stats, struct kv_out *out)
{
    for (unsigned i = 0; i < d->sync.n_src; i++) {
        struct timesource_view v;
        const struct timesource_kind *kind;
        if (!d->sync.src[i].removed && view_of(d, i, &v, &kind))
            report_one_source(d, i, &v, kind, stats, out);
    }
}

void reports_handle(void *ctx, const char *command, struct kv_out *out)
{
    struct horloged *d = ctx;
    if (strcmp(command, "status") == 0)
        report_status(d, out);
    else if (strcmp(command, "serverstats") == 0)
        report_serverstats(d, out);
    else if (strcmp(command, "clients") == 0)
        report_clients(d, out);
    else if (strcmp(command, "tracking") == 0)
        report_tracking(d, out);
    else if (strcmp(command, "sources") == 0)
        report_sources(d, false, out);
    else if (strcmp(command, "sourcestats") == 0)
        report_sources(d, true, out);
    else
        kv_error(out, "unknown command '%.40s'", command);
}


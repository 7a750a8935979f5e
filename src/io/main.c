/*
 * horloged: the NTP daemon's entry point and main loop.
 *
 * Owns: the command line, start-up order (config, clock, sockets, control
 * socket, detach, privilege drop), the event loop (io/loop) that the modules
 * register their sockets and timers with — the control socket, the upstream
 * sources, the serving sockets with `threads 0` — and main.c's own timers on
 * it (the one-second tick, the discipline's timer, the drift-file save),
 * config reload on SIGHUP, the drift file, the leap-second list
 * (`leapseclist`, read at start and on SIGHUP, its verdict handed to the
 * reference every tick), and the reports the control socket serves.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/packet.h"
#include "core/responder.h"
#include "core/sync.h"
#include "io/clock_linux.h"
#include "io/clockwatch.h"
#include "io/config.h"
#include "io/control.h"
#include "io/driftfile.h"
#include "io/leaplist.h"
#include "io/log.h"
#include "io/loop.h"
#include "io/netutil.h"
#include "io/process.h"
#include "io/server.h"
#include "io/sockio.h"
#include "io/upstream.h"

#define TICK_SECONDS 1.0
/* The drift file is rewritten this often (and at exit) once the frequency is known. */
#define DRIFT_SAVE_SECONDS 3600.0
#define CLIENTS_SHOWN 64

struct horloged {
    const char *config_path;
    bool foreground;
    bool no_clock_control;
    struct config cfg;
    struct loop loop;
    struct server *srv;
    struct control_server control;
    /* What this process created, kept apart from cfg, which a reload may change. */
    char pidfile_written[CFG_PATH_MAX];
    struct process_signals signals;
    int8_t precision;
    struct resp_state state;
    struct time_correction correction;
    double start_mono;
    bool clock_controlled;      /* the real clock is steered (sources configured, no -x) */
    struct clock_real real_clock;
    struct clock_none virtual_clock;
    struct clock_driver drv;
    int take_control_err;       /* clock_real_take_control()'s, counted once sync has started */
    struct clockwatch clockwatch;
    struct sync sync;
    struct upstream up;
    int tick_timer, discipline_timer, drift_timer;
    bool sync_started;
    struct leaplist leaplist;
};

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The clock's precision as RFC 5905 means it: the shortest observable tick of reading it. */
static int8_t measure_precision(void)
{
    double best = 1.0;
    struct timespec prev, cur;
    clock_gettime(CLOCK_REALTIME, &prev);
    for (int i = 0; i < 1000; i++) {
        clock_gettime(CLOCK_REALTIME, &cur);
        double d = (double)(cur.tv_sec - prev.tv_sec) + (cur.tv_nsec - prev.tv_nsec) * 1e-9;
        if (d > 0 && d < best)
            best = d;
        prev = cur;
    }
    return ntp_log2_from_sec(best);
}

/* What we tell clients comes from the reference; under -x, with the correction we track. */
static void publish_state(struct horloged *d)
{
    d->state = *ref_resp_state(&d->sync.ref);
    d->state.precision = d->precision;
    memset(&d->correction, 0, sizeof d->correction);
    if (!d->clock_controlled) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct unix_time raw = {ts.tv_sec, (uint32_t)ts.tv_nsec};
        d->correction.offset = clock_none_correction(&d->virtual_clock, raw);
        d->correction.ppm = d->virtual_clock.freq_ppm;
        d->correction.since = raw;
    }
    server_publish_state(d->srv, &d->state, &d->correction);
}

/* Local clock reading for the sources: the driver's, or a raw kernel timestamp converted to it. */
static ntp_ts local_time(void *ctx, const struct unix_time *raw)
{
    struct horloged *d = ctx;
    struct unix_time t;
    if (!raw) {
        d->drv.read(d->drv.ctx, &t);
        return ntp_from_unix(t);
    }
    if (d->clock_controlled)
        return ntp_from_unix(*raw);
    return ntp_add_sec(ntp_from_unix(*raw), clock_none_correction(&d->virtual_clock, *raw));
}

/* ---- reports served on the control socket ---- */

/* The peer the reference came from; in holdover nothing is selected, but the refid still names it. */
static const struct upstream_peer *reference_peer(const struct horloged *d)
{
    if (d->sync.sel.selected >= 0)
        return upstream_peer_of(&d->up, (unsigned)d->sync.sel.selected);
    if (d->sync.ref.mode != REF_HOLDOVER)
        return NULL;
    for (unsigned i = 0; i < d->up.n_peers; i++) {
        const struct upstream_peer *p = &d->up.peers[i];
        if (p->assoc.sync_index >= 0 && d->sync.src[p->assoc.sync_index].refid == d->sync.ref.state.refid)
            return p;
    }
    return NULL;
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
    const struct upstream_peer *p = reference_peer(d);
    if (d->sync.ref.mode == REF_LOCAL) {
        kv_add(out, "source_kind", "local");
        kv_add(out, "source", "local clock (reliable time source)");
    } else if ((d->sync.ref.mode == REF_SYNCED || d->sync.ref.mode == REF_HOLDOVER) && p) {
        kv_add(out, "source_kind", "ntp");
        kv_add(out, "source", "%s", netaddr_format(&p->net).text);
        kv_add(out, "source_name", "%s", upstream_peer_name(&d->up, p));
    } else {
        kv_add(out, "source_kind", "none");
        kv_add(out, "source", "%s", d->sync.ref.mode == REF_CLOCK_FAILED
                                        ? "none (the system clock cannot be steered)"
                                        : "none (unsynchronised)");
    }
    kv_add(out, "reference_mode", "%s", ref_mode_name(d->sync.ref.mode));
    kv_add(out, "poll", "%d", p ? src_poll(&p->assoc.src) : 6);
    report_clock_control(d, out);
    kv_add(out, "uptime", "%.0f", mono_now() - d->start_mono);
}

static const struct {
    const char *key;
    size_t offset;
} serverstats_fields[] = {
    {"received", offsetof(struct server_counters, serve.received)},
    {"replied", offsetof(struct server_counters, serve.replied)},
    {"replied_symmetric", offsetof(struct server_counters, serve.replied_sym)},
    {"kod_rate", offsetof(struct server_counters, serve.kod_rate)},
    {"kod_deny", offsetof(struct server_counters, serve.kod_deny)},
    {"rate_limited", offsetof(struct server_counters, serve.rate_limited)},
    {"denied", offsetof(struct server_counters, serve.denied)},
    {"dropped_malformed", offsetof(struct server_counters, serve.malformed)},
    {"dropped_bad_mode", offsetof(struct server_counters, serve.bad_mode)},
    {"dropped_control_mode", offsetof(struct server_counters, serve.control_mode)},
    {"dropped_auth", offsetof(struct server_counters, serve.auth_failed)},
    {"dropped_no_room", offsetof(struct server_counters, serve.no_room)},
    {"crypto_nak", offsetof(struct server_counters, serve.crypto_nak)},
    {"send_errors", offsetof(struct server_counters, send_errors)},
    {"kernel_rx_timestamps", offsetof(struct server_counters, kernel_timestamps)},
};

static void report_serverstats(struct horloged *d, struct kv_out *out)
{
    struct server_counters c;
    server_get_counters(d->srv, &c);
    for (size_t i = 0; i < sizeof serverstats_fields / sizeof serverstats_fields[0]; i++) {
        uint64_t v;
        memcpy(&v, (const char *)&c + serverstats_fields[i].offset, sizeof v);
        kv_add(out, serverstats_fields[i].key, "%llu", (unsigned long long)v);
    }
    struct server_layout layout;
    server_get_layout(d->srv, &layout);
    kv_add(out, "threads", "%u", layout.threads);
    kv_add(out, "sockets", "%u", layout.sockets);
    kv_add(out, "sockets_used", "%u", layout.sockets_used);
    kv_add(out, "uptime", "%.0f", mono_now() - d->start_mono);
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
    kv_add(out, "leap_status", "%s", leap_status_name(t.leap));
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

static void report_one_source(struct horloged *d, const struct upstream_peer *p, bool stats, struct kv_out *out)
{
    const struct sync_source *s = &d->sync.src[p->assoc.sync_index];
    double now = sync_now(&d->sync, NULL);
    kv_add(out, "name", "%s", upstream_peer_name(&d->up, p));
    kv_add(out, "address", "%s", netaddr_format_port(&p->net, netaddr_port_of(&p->addr.sa)).text);
    kv_add(out, "state", "%s", source_state_name(s));
    kv_add(out, "stratum", "%u", s->last_sample_at > 0 ? s->last_sample.stratum : 0);
    kv_add(out, "poll", "%d", src_poll(&p->assoc.src));
    kv_add(out, "reach", "%03o", src_reach(&p->assoc.src));
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
        kv_add(out, "requests_sent", "%llu", (unsigned long long)src_sent(&p->assoc.src));
        if (e.valid) {
            kv_add(out, "frequency_ppm", "%.3f", e.freq * 1e6);
            kv_add(out, "frequency_error_ppm", "%.3f", e.freq_error * 1e6);
            kv_add(out, "jitter", "%.9f", e.jitter);
            kv_add(out, "delay", "%.9f", e.delay);
            kv_add(out, "min_delay", "%.9f", e.min_delay);
            kv_add(out, "root_distance", "%.9f", e.root_distance);
        }
        for (int v = 1; v < SRC_VERDICT_COUNT; v++)
            if (src_count(&p->assoc.src, (enum src_verdict)v))
                kv_add(out, src_verdict_name((enum src_verdict)v), "%llu",
                       (unsigned long long)src_count(&p->assoc.src, (enum src_verdict)v));
    }
    kv_end_record(out);
}

static void report_sources(struct horloged *d, bool stats, struct kv_out *out)
{
    for (unsigned i = 0; i < d->up.n_peers; i++)
        if (d->up.peers[i].assoc.sync_index >= 0)
            report_one_source(d, &d->up.peers[i], stats, out);
}

static void handle_control(void *ctx, const char *command, struct kv_out *out)
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

/* ---- configuration ---- */

static void print_config_errors(const struct cfg_errors *errs)
{
    fputs(errs->text, stderr);
    if (errs->count && errs->text[0] && errs->text[strlen(errs->text) - 1] != '\n')
        fputc('\n', stderr);
}

static void log_config_errors(const struct cfg_errors *errs)
{
    char copy[sizeof errs->text];
    memcpy(copy, errs->text, sizeof copy);
    for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        log_error("%s", line);
}

static void warn_restart_needed(const struct horloged *d, const struct config *fresh)
{
    char what[160];
    unsigned n = cfg_restart_needed(&d->cfg, fresh, what, sizeof what);
    if (n)
        log_warn("reload: %s changed; %s at the next start", what, n == 1 ? "takes effect" : "take effect");
    /* Whether the real clock is steered was settled at start (sources or not), privileges with it. */
    if (!d->no_clock_control && !d->clock_controlled && fresh->n_sources > 0)
        log_warn("reload: sources added to a configuration that had none steer the system clock only "
                 "after a restart; until then their time is served as under -x");
}

/* `minsources`, `maxdistance` and `makestep` may change on reload: the engine takes them now. */
static void apply_sync_params(struct horloged *d)
{
    struct sync_reload_params p = {
        .minsources = d->cfg.minsources,
        .maxdistance = d->cfg.maxdistance,
        .makestep = d->cfg.makestep_enabled,
        .step_threshold = d->cfg.makestep_threshold,
        .step_limit = d->cfg.makestep_limit,
    };
    sync_apply_params(&d->sync, &p);
}

/* `local` may change on reload: the reference takes the new figures now. */
static void apply_local_reference(struct horloged *d)
{
    struct ref_params *rp = &d->sync.ref.params;
    rp->local_enabled = d->cfg.local_enabled;
    rp->local_stratum = d->cfg.local_stratum;
    rp->local_distance = d->cfg.local_distance;
    ntp_ts now;
    sync_now(&d->sync, &now);
    if (d->sync.ref.mode == REF_LOCAL || d->sync.ref.mode == REF_UNSYNC) {
        struct ref fresh;
        ref_init(&fresh, rp, now);
        d->sync.ref.mode = fresh.mode;
        d->sync.ref.state = fresh.state;
    }
}

/* The leap-second list, when loaded and not expired, decides the leap indicator. */
static void apply_leapseclist(struct horloged *d)
{
    struct unix_time now;
    d->drv.read(d->drv.ctx, &now);
    ref_set_leap_override(&d->sync.ref, leaplist_verdict(&d->leaplist, now.sec));
}

static void reload_config(struct horloged *d)
{
    struct config fresh;
    struct cfg_errors errs = {0};
    if (cfg_load_file(d->config_path, &fresh, &errs) < 0) {
        log_config_errors(&errs);
        log_error("reload of %s failed; still running with the previous configuration", d->config_path);
        return;
    }
    if (upstream_apply_config(&d->up, &fresh) < 0) {
        log_error("reload of %s failed; still running with the previous configuration", d->config_path);
        return;
    }
    warn_restart_needed(d, &fresh);
    d->cfg = fresh;
    server_apply_config(d->srv, &d->cfg);
    apply_sync_params(d);
    apply_local_reference(d);
    leaplist_load(&d->leaplist, d->cfg.leapseclist);
    apply_leapseclist(d);
    publish_state(d);
    log_info("reloaded %s", d->config_path);
}

/* ---- main loop: each timer registered with the loop by what it drives ---- */

static void save_drift(struct horloged *d)
{
    if (!d->cfg.driftfile[0] || d->sync.n_updates == 0)
        return;
    struct drift_value v;
    disc_get_frequency(&d->sync.disc, &v.freq_ppm, &v.skew_ppm);
    int err = 0;
    enum drift_status st = drift_write(d->cfg.driftfile, &v, &err);
    if (st != DRIFT_OK)
        log_warn("drift file %s: %s%s%s", d->cfg.driftfile, drift_status_name(st), err ? ": " : "",
                 err ? strerror(err) : "");
}

/* The discipline's timer is due in engine (system clock) seconds; the loop's timers are monotonic. */
static void arm_discipline_timer(struct horloged *d)
{
    if (d->sync.timer_armed)
        loop_timer_arm(&d->loop, d->discipline_timer, d->sync.timer_at - sync_now(&d->sync, NULL));
    else
        loop_timer_disarm(&d->loop, d->discipline_timer);
}

/* A source's sample may have moved the reference and armed the discipline's timer. */
static void after_sample(void *ctx)
{
    struct horloged *d = ctx;
    publish_state(d);
    arm_discipline_timer(d);
}

/* The two clocks drift apart (the system clock is slewed): early, it is re-armed for the rest. */
static void on_discipline_timer(void *ctx)
{
    struct horloged *d = ctx;
    if (d->sync.timer_armed && sync_now(&d->sync, NULL) >= d->sync.timer_at) {
        sync_timer(&d->sync);
        publish_state(d);
    }
    arm_discipline_timer(d);
}

static void on_tick(void *ctx)
{
    struct horloged *d = ctx;
    loop_timer_arm(&d->loop, d->tick_timer, TICK_SECONDS);
    apply_leapseclist(d);
    sync_tick(&d->sync);
    clockwatch_update(&d->clockwatch, &d->sync.clock, mono_now());
    publish_state(d);
    arm_discipline_timer(d);
}

static void on_drift_save(void *ctx)
{
    struct horloged *d = ctx;
    loop_timer_arm(&d->loop, d->drift_timer, DRIFT_SAVE_SECONDS);
    save_drift(d);
}

static int start_timers(struct horloged *d)
{
    d->tick_timer = loop_timer_new(&d->loop, on_tick, d);
    d->discipline_timer = loop_timer_new(&d->loop, on_discipline_timer, d);
    d->drift_timer = loop_timer_new(&d->loop, on_drift_save, d);
    if (d->tick_timer < 0 || d->discipline_timer < 0 || d->drift_timer < 0) {
        log_error("the event loop has no room for the daemon's timers");
        return -1;
    }
    loop_timer_arm(&d->loop, d->tick_timer, TICK_SECONDS);
    loop_timer_arm(&d->loop, d->drift_timer, DRIFT_SAVE_SECONDS);
    arm_discipline_timer(d);
    return 0;
}

/* Everything else happens in the callbacks the modules registered with the loop. */
static void run_loop(struct horloged *d)
{
    while (!d->signals.stop) {
        if (d->signals.reload) {
            d->signals.reload = 0;
            reload_config(d);
        }
        if (loop_run_once(&d->loop, -1) < 0) {
            log_error("poll: %s", strerror(errno));
            break;
        }
    }
}

static void usage(FILE *f)
{
    fprintf(f, "usage: horloged [-f CONFIG] [-d] [-x] [-t] [-v]\n"
               "  -f CONFIG  configuration file (default %s)\n"
               "  -d         stay in the foreground and log to stderr\n"
               "  -x         never touch the system clock\n"
               "  -t         check the configuration and exit (0 when good)\n"
               "  -v         log debug messages too\n",
            CFG_DEFAULT_PATH);
}

static int parse_args(int argc, char **argv, struct horloged *d, bool *check_only, bool *verbose)
{
    int opt;
    while ((opt = getopt(argc, argv, "f:dxtvh")) != -1) {
        switch (opt) {
        case 'f': d->config_path = optarg; break;
        case 'd': d->foreground = true; break;
        case 'x': d->no_clock_control = true; break;
        case 't': *check_only = true; break;
        case 'v': *verbose = true; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return -1;
    }
    return 0;
}

/*
 * The real clock is steered only when there is something to steer it by and
 * -x was not given; otherwise a virtual clock tracks what we would do.
 */
static int open_clock(struct horloged *d)
{
    d->clock_controlled = !d->no_clock_control && d->cfg.n_sources > 0;
    int err = d->clock_controlled ? clock_real_open(&d->real_clock, &d->drv)
                                  : clock_none_open(&d->virtual_clock, &d->drv);
    if (err) {
        log_error("cannot open the system clock: %s", strerror(-err));
        return -1;
    }
    /* Failing (EPERM without CAP_SYS_TIME) is counted, logged and shown like any clock failure. */
    if (d->clock_controlled)
        d->take_control_err = clock_real_take_control(&d->real_clock);
    return 0;
}

static void read_drift(const struct horloged *d, struct sync_params *p)
{
    struct drift_value v;
    int err = 0;
    enum drift_status st = drift_read(d->cfg.driftfile, &v, &err);
    if (st == DRIFT_OK) {
        p->drift_ppm = v.freq_ppm;
        p->drift_error_ppm = v.skew_ppm > 1.0 ? v.skew_ppm : 1.0;
        log_info("frequency %.3f ppm from %s", v.freq_ppm, d->cfg.driftfile);
    } else if (st != DRIFT_MISSING) {
        log_warn("drift file %s: %s%s%s; starting without it", d->cfg.driftfile, drift_status_name(st),
                 err ? ": " : "", err ? strerror(err) : "");
    }
}

static void sync_params_from_config(const struct horloged *d, struct sync_params *p)
{
    sync_default_params(p);
    p->sel.minsources = d->cfg.minsources;
    p->sel.maxdistance = d->cfg.maxdistance;
    p->disc.makestep = d->cfg.makestep_enabled;
    p->disc.step_threshold = d->cfg.makestep_threshold;
    p->disc.step_limit = d->cfg.makestep_limit;
    p->ref.local_enabled = d->cfg.local_enabled;
    p->ref.local_stratum = d->cfg.local_stratum;
    p->ref.local_distance = d->cfg.local_distance;
    p->ref.maxdistance = d->cfg.maxdistance;
    p->ref.precision = d->precision;
    if (d->cfg.driftfile[0])
        read_drift(d, p);
}

static int start_sync(struct horloged *d)
{
    if (open_clock(d) < 0)
        return -1;
    struct sync_params sp;
    sync_params_from_config(d, &sp);
    struct unix_time now;
    d->drv.read(d->drv.ctx, &now);
    sync_init(&d->sync, &sp, &d->drv, ntp_from_unix(now));
    if (d->take_control_err)
        sync_clock_result(&d->sync, SYNC_CLOCK_TAKE_CONTROL, d->take_control_err);
    clockwatch_update(&d->clockwatch, &d->sync.clock, mono_now());
    upstream_init(&d->up, &d->cfg, &d->sync, &d->loop, local_time, d, d->precision);
    upstream_on_change(&d->up, after_sample, d);
    d->sync_started = true;
    leaplist_init(&d->leaplist);
    leaplist_load(&d->leaplist, d->cfg.leapseclist);
    apply_leapseclist(d);
    return 0;
}

static int start(struct horloged *d)
{
    /* Before anything: a second instance must not replace the first one's pid file and control socket. */
    if (d->cfg.pidfile[0] && process_check_pidfile(d->cfg.pidfile) < 0)
        return -1;
    d->precision = measure_precision();
    d->start_mono = mono_now();
    loop_init(&d->loop, NULL);
    if (start_sync(d) < 0)
        return -1;
    d->state = *ref_resp_state(&d->sync.ref);
    d->state.precision = d->precision;
    d->srv = server_open(&d->cfg, &d->state);
    if (!d->srv)
        return -1;
    if (d->cfg.controlsocket[0] && process_make_parent_dir(d->cfg.controlsocket, d->cfg.user) == 0)
        control_open(&d->control, d->cfg.controlsocket, &d->loop, handle_control, d);
    if (!d->foreground && process_daemonize() < 0)
        return -1;
    if (d->cfg.pidfile[0] &&
        (process_make_parent_dir(d->cfg.pidfile, d->cfg.user) < 0 || process_write_pidfile(d->cfg.pidfile) < 0))
        return -1;
    snprintf(d->pidfile_written, sizeof d->pidfile_written, "%s", d->cfg.pidfile);
    if (d->cfg.driftfile[0] && process_make_parent_dir(d->cfg.driftfile, d->cfg.user) < 0)
        log_warn("the drift file will not be saved");
    if (d->cfg.user[0] && process_drop_privileges(d->cfg.user, d->clock_controlled) < 0)
        return -1;
    if (server_start_threads(d->srv) < 0 || server_register(d->srv, &d->loop) < 0)
        return -1;
    publish_state(d);
    if (start_timers(d) < 0 || upstream_start(&d->up) < 0)
        return -1;
    struct server_layout layout;
    server_get_layout(d->srv, &layout);
    log_info("serving NTP on port %u on %u socket(s), %s, %s, precision 2^%d s%s", d->cfg.port, layout.sockets,
             layout.threads ? "each with its own thread" : "served from the event loop (threads 0)",
             d->cfg.n_sources ? "with upstream sources" : d->cfg.local_enabled ? "local reference" : "unsynchronised",
             d->precision, !d->clock_controlled ? ", clock control off"
             : d->sync.clock.failing ? ", clock control failed" : ", steering the system clock");
    return 0;
}

static void stop(struct horloged *d)
{
    control_close(&d->control);
    server_close(d->srv);
    if (d->sync_started) {
        save_drift(d);
        upstream_close(&d->up);
        if (!d->clock_controlled)
            clock_none_close(&d->virtual_clock);
    }
    if (d->pidfile_written[0])
        unlink(d->pidfile_written);
    log_info("stopped");
}

int main(int argc, char **argv)
{
    static struct horloged d = {.config_path = CFG_DEFAULT_PATH};
    bool check_only = false, verbose = false;
    if (parse_args(argc, argv, &d, &check_only, &verbose) < 0)
        return 2;
    struct cfg_errors errs = {0};
    if (cfg_load_file(d.config_path, &d.cfg, &errs) < 0) {
        print_config_errors(&errs);
        fprintf(stderr, "horloged: %s has errors; not starting\n", d.config_path);
        return 1;
    }
    if (check_only) {
        printf("%s: configuration OK\n", d.config_path);
        /* A bad leap second list is only a warning, as at run time. */
        static struct leapsec_list leaplist;
        if (d.cfg.leapseclist[0] && leaplist_read(d.cfg.leapseclist, &leaplist) == 0)
            printf("%s: leap second list OK (%u entries)\n", d.cfg.leapseclist, leaplist.n);
        return 0;
    }
    bool to_syslog = !d.foreground && d.cfg.log == CFG_LOG_SYSLOG;
    log_open("horloged", to_syslog, verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
    process_install_signals(&d.signals);
    int status = 0;
    if (start(&d) == 0)
        run_loop(&d);
    else
        status = 1;
    stop(&d);
    log_close();
    return status;
}

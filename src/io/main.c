/*
 * horloged: the NTP daemon's entry point and main loop.
 *
 * Owns: the command line, start-up order (config, sockets, control socket,
 * detach, privilege drop), the single-threaded event loop (poll() on worker
 * 0's sockets and the control socket, a one-second tick), config reload on
 * SIGHUP, and the reports the control socket serves.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/packet.h"
#include "core/responder.h"
#include "io/config.h"
#include "io/control.h"
#include "io/log.h"
#include "io/netutil.h"
#include "io/process.h"
#include "io/server.h"

#define MAX_POLLFDS (CFG_MAX_LISTEN + 8)
#define TICK_MS 1000
#define CLIENTS_SHOWN 64

struct horloged {
    const char *config_path;
    bool foreground;
    bool no_clock_control;
    struct config cfg;
    struct server *srv;
    int control_fd;
    /* What this process created, kept apart from cfg, which a reload may change. */
    char pidfile_written[CFG_PATH_MAX];
    char control_path[CFG_PATH_MAX];
    struct process_signals signals;
    int8_t precision;
    struct resp_state state;
    struct time_correction correction;
    double start_mono;
};

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static ntp_ts ntp_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ntp_from_unix((struct unix_time){ts.tv_sec, (uint32_t)ts.tv_nsec});
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

/* What we tell clients, from what we know: for now a local reference or nothing. */
static void compute_state(struct horloged *d)
{
    struct resp_state *s = &d->state;
    s->precision = d->precision;
    if (d->cfg.local_enabled) {
        s->leap = NTP_LEAP_NONE;
        s->stratum = (uint8_t)d->cfg.local_stratum;
        s->refid = pkt_refid_ascii("LOCL");
        s->reference_time = ntp_now();
        s->root_delay = 0;
        s->root_dispersion = d->cfg.local_distance;
    } else {
        s->leap = NTP_LEAP_UNSYNC;
        s->stratum = NTP_STRATUM_UNSYNC;
        s->refid = 0;
        s->reference_time = 0;
        s->root_delay = 0;
        s->root_dispersion = 0;
    }
}

/* ---- reports served on the control socket ---- */

static void refid_text(uint32_t refid, uint8_t stratum, char *out, size_t cap)
{
    if (stratum <= 1 || stratum >= NTP_STRATUM_UNSYNC || refid == pkt_refid_ascii("LOCL")) {
        char c[5];
        for (int i = 0; i < 4; i++) {
            char ch = (char)(refid >> (24 - 8 * i));
            c[i] = (ch >= 32 && ch < 127) ? ch : '.';
        }
        c[4] = '\0';
        snprintf(out, cap, "%s", c);
        if (refid == 0)
            snprintf(out, cap, "none");
    } else {
        snprintf(out, cap, "%u.%u.%u.%u", refid >> 24, (refid >> 16) & 255, (refid >> 8) & 255, refid & 255);
    }
}

static void report_status(struct horloged *d, struct kv_out *out)
{
    const struct resp_state *s = &d->state;
    ntp_ts now = ntp_now();
    bool synced = s->stratum < NTP_STRATUM_UNSYNC;
    char rtext[32];
    refid_text(s->refid, s->stratum, rtext, sizeof rtext);
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
    if (d->cfg.local_enabled) {
        kv_add(out, "source_kind", "local");
        kv_add(out, "source", "local clock (reliable time source)");
    } else {
        kv_add(out, "source_kind", "none");
        kv_add(out, "source", "none (unsynchronised)");
    }
    kv_add(out, "poll", "%d", 6);
    kv_add(out, "clock_control", "%s", d->no_clock_control ? "off" : "on");
    kv_add(out, "uptime", "%.0f", mono_now() - d->start_mono);
}

static void report_serverstats(struct horloged *d, struct kv_out *out)
{
    struct server_counters c;
    server_get_counters(d->srv, &c);
    kv_add(out, "received", "%llu", (unsigned long long)c.received);
    kv_add(out, "replied", "%llu", (unsigned long long)c.replied);
    kv_add(out, "replied_symmetric", "%llu", (unsigned long long)c.replied_sym);
    kv_add(out, "kod_rate", "%llu", (unsigned long long)c.kod_rate);
    kv_add(out, "kod_deny", "%llu", (unsigned long long)c.kod_deny);
    kv_add(out, "rate_limited", "%llu", (unsigned long long)c.rate_limited);
    kv_add(out, "denied", "%llu", (unsigned long long)c.denied);
    kv_add(out, "dropped_malformed", "%llu", (unsigned long long)c.malformed);
    kv_add(out, "dropped_bad_mode", "%llu", (unsigned long long)c.bad_mode);
    kv_add(out, "dropped_control_mode", "%llu", (unsigned long long)c.control_mode);
    kv_add(out, "crypto_nak", "%llu", (unsigned long long)c.crypto_nak);
    kv_add(out, "send_errors", "%llu", (unsigned long long)c.send_errors);
    kv_add(out, "kernel_rx_timestamps", "%llu", (unsigned long long)c.kernel_timestamps);
    kv_add(out, "threads", "%u", server_worker_count(d->srv));
    kv_add(out, "uptime", "%.0f", mono_now() - d->start_mono);
}

static void report_clients(struct horloged *d, struct kv_out *out)
{
    struct rl_client_stats top[CLIENTS_SHOWN];
    unsigned n = server_top_clients(d->srv, top, CLIENTS_SHOWN);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
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

static void handle_control(void *ctx, const char *command, struct kv_out *out)
{
    struct horloged *d = ctx;
    if (strcmp(command, "status") == 0)
        report_status(d, out);
    else if (strcmp(command, "serverstats") == 0)
        report_serverstats(d, out);
    else if (strcmp(command, "clients") == 0)
        report_clients(d, out);
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

static void warn_restart_needed(const struct config *old, const struct config *new)
{
    if (old->port != new->port || old->n_listen != new->n_listen ||
        memcmp(old->listen, new->listen, sizeof old->listen) != 0 || old->threads != new->threads ||
        strcmp(old->controlsocket, new->controlsocket) != 0 || old->clientlog_size != new->clientlog_size)
        log_warn("reload: port, listen, threads, clientlogsize and controlsocket changes take effect at restart");
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
    warn_restart_needed(&d->cfg, &fresh);
    d->cfg = fresh;
    server_apply_config(d->srv, &d->cfg);
    compute_state(d);
    server_publish_state(d->srv, &d->state, &d->correction);
    log_info("reloaded %s", d->config_path);
}

/* ---- main loop ---- */

static void tick(struct horloged *d)
{
    compute_state(d);
    server_publish_state(d->srv, &d->state, &d->correction);
}

static void run_loop(struct horloged *d)
{
    double next_tick = mono_now() + TICK_MS / 1000.0;
    while (!d->signals.stop) {
        if (d->signals.reload) {
            d->signals.reload = 0;
            reload_config(d);
        }
        struct pollfd fds[MAX_POLLFDS];
        unsigned n = server_pollfds(d->srv, fds, MAX_POLLFDS - 1);
        unsigned control_index = n;
        if (d->control_fd >= 0)
            fds[n++] = (struct pollfd){.fd = d->control_fd, .events = POLLIN};
        int timeout = (int)ceil((next_tick - mono_now()) * 1000.0);
        int r = poll(fds, n, timeout < 0 ? 0 : timeout);
        if (r < 0 && errno != EINTR) {
            log_error("poll: %s", strerror(errno));
            break;
        }
        for (unsigned i = 0; r > 0 && i < n; i++) {
            if (!(fds[i].revents & POLLIN))
                continue;
            if (i == control_index && d->control_fd >= 0)
                control_serve_one(d->control_fd, handle_control, d);
            else
                server_handle_readable(d->srv, fds[i].fd);
        }
        if (mono_now() >= next_tick) {
            tick(d);
            next_tick = mono_now() + TICK_MS / 1000.0;
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

static int start(struct horloged *d)
{
    /* Before binding: with SO_REUSEADDR a second instance would bind too, steal the traffic and
     * remove the first one's control socket. */
    if (d->cfg.pidfile[0] && process_check_pidfile(d->cfg.pidfile) < 0)
        return -1;
    d->precision = measure_precision();
    d->start_mono = mono_now();
    compute_state(d);
    d->srv = server_open(&d->cfg, &d->state);
    if (!d->srv)
        return -1;
    d->control_fd = -1;
    if (d->cfg.controlsocket[0] && process_make_parent_dir(d->cfg.controlsocket) == 0)
        d->control_fd = control_open(d->cfg.controlsocket);
    snprintf(d->control_path, sizeof d->control_path, "%s", d->cfg.controlsocket);
    if (!d->foreground && process_daemonize() < 0)
        return -1;
    if (d->cfg.pidfile[0] &&
        (process_make_parent_dir(d->cfg.pidfile) < 0 || process_write_pidfile(d->cfg.pidfile) < 0))
        return -1;
    snprintf(d->pidfile_written, sizeof d->pidfile_written, "%s", d->cfg.pidfile);
    if (d->cfg.user[0] && process_drop_privileges(d->cfg.user, !d->no_clock_control) < 0)
        return -1;
    if (server_start_threads(d->srv) < 0)
        return -1;
    log_info("serving NTP on port %u with %u thread(s), %s, precision 2^%d s%s", d->cfg.port,
             server_worker_count(d->srv),
             d->cfg.local_enabled ? "local reference" : "unsynchronised", d->precision,
             d->no_clock_control ? ", clock control off" : "");
    return 0;
}

static void stop(struct horloged *d)
{
    control_close(d->control_fd, d->control_path);
    server_close(d->srv);
    if (d->pidfile_written[0])
        unlink(d->pidfile_written);
    log_info("stopped");
}

int main(int argc, char **argv)
{
    static struct horloged d = {.config_path = CFG_DEFAULT_PATH, .control_fd = -1};
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

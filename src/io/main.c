/*
 * horloged: the NTP daemon's entry point (see io/daemon.h for the files
 * that make the daemon).
 *
 * Owns: the command line, the start-up order (config, our own time and the
 * sources, serving sockets, control socket, detach, pid file, privilege drop,
 * serving threads, timers), the event loop (io/loop) that every module
 * registered its sockets and timers with, SIGHUP reload and the stop.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/auth_mssntp.h"
#include "io/daemon.h"
#include "io/log.h"

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
    if (!d->no_clock_control && !d->clock_controlled && fresh->n_sources + fresh->n_refclocks > 0)
        log_warn("reload: sources added to a configuration that had none steer the system clock only "
                 "after a restart; until then their time is served as under -x");
}

/* ---- keys ---- */

struct key_swap {
    struct key_table *into;
    const struct key_table *from;
};

static void swap_keys(void *arg)
{
    struct key_swap *s = arg;
    *s->into = *s->from;
}

/*
 * The keyfile read again (or emptied when no longer named); -1 when it is bad,
 * the old keys kept. Workers are held between batches while the table changes.
 */
static int reload_keys(struct horloged *d, const struct config *fresh)
{
    struct key_table *table = calloc(1, sizeof *table);
    if (!table || (fresh->keyfile[0] && (symkeys_read(fresh->keyfile, table) < 0 || symkeys_enable(&d->keys) < 0))) {
        free(table);
        return -1;
    }
    struct key_swap swap = {.into = &d->keys.table, .from = table};
    server_exclusive(d->srv, swap_keys, &swap);
    free(table);
    return 0;
}

/*
 * The strategies requests are judged by, in order: symmetric keys, then
 * MS-SNTP (a 68-byte request whose key id is not in the keyfile), then auth_none.
 */
static int start_auth(struct horloged *d)
{
    symkeys_init(&d->keys);
    if (d->cfg.keyfile[0] && (symkeys_read(d->cfg.keyfile, &d->keys.table) < 0 || symkeys_enable(&d->keys) < 0))
        return -1;
    auth_set_init(&d->auth);
    auth_set_add(&d->auth, &auth_symkey, &d->keys.server_ctx);
    if (d->cfg.ntpsigndsocket[0]) {
        d->signer = ntpsignd_open(d->cfg.ntpsigndsocket, &d->loop);
        if (!d->signer)
            return -1;
        auth_set_add(&d->auth, &auth_mssntp, NULL);
    }
    return 0;
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
    if (reload_keys(d, &fresh) < 0 || upstream_apply_config(&d->up, &fresh) < 0) {
        log_error("reload of %s failed; still running with the previous configuration", d->config_path);
        return;
    }
    warn_restart_needed(d, &fresh);
    d->cfg = fresh;
    server_apply_config(d->srv, &d->cfg);
    nts_service_reload(&d->nts, &d->cfg);
    timekeeping_reload(d);
    log_info("reloaded %s", d->config_path);
}

static void describe_serving(const struct horloged *d, char *buf, size_t size)
{
    struct server_layout layout;
    server_get_layout(d->srv, &layout);
    snprintf(buf, size, "serving NTP on port %u on %u socket(s), %s, %s, precision 2^%d s%s", d->cfg.port,
             layout.sockets, layout.threads ? "each with its own thread" : "served from the event loop (threads 0)",
             d->cfg.n_sources + d->cfg.n_refclocks ? "with time sources" : d->cfg.local_enabled ? "local reference" : "unsynchronised",
             d->precision, !d->clock_controlled ? ", clock control off"
             : d->sync.clock.failing ? ", clock control failed" : ", steering the system clock");
}

/* Everything else happens in the callbacks the modules registered with the loop. */
static void run_loop(struct horloged *d)
{
    while (!d->signals.stop) {
        if (d->signals.reload) {
            d->signals.reload = 0;
            notify_reloading(&d->notify);
            reload_config(d);
            char serving[200];
            describe_serving(d, serving, sizeof serving);
            notify_ready(&d->notify, serving);
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
 * The clock helper, when privsep_decide() wants it, is forked here, before
 * any thread starts; then this process, which parses every packet, drops to
 * `user` with no capability, or with CAP_SYS_TIME alone when it steers the
 * clock itself (no helper).
 */
static int separate_privileges(struct horloged *d)
{
    const char *why;
    bool helper = privsep_decide(d->cfg.privsep, d->clock_controlled, d->cfg.user[0] != '\0',
                                 getenv("LD_PRELOAD") != NULL, &why);
    if (why)
        log_info("%s", why);
    const char *ignored; /* sandbox_start() logs it */
    bool sandboxed = sandbox_decide(d->cfg.seccomp, getenv("LD_PRELOAD") != NULL, &ignored);
    if (helper && privsep_start(&d->privsep, &d->drv, d->cfg.user, sandboxed) < 0)
        return -1;
    d->sync.drv = d->drv; /* the engine keeps its own copy of the driver: now the helper's proxy */
    if (!helper && !d->cfg.user[0])
        return 0;
    return process_drop_privileges(d->cfg.user, d->clock_controlled && !helper);
}

static int start(struct horloged *d)
{
    /* Before anything: a second instance must not replace the first one's pid file and control socket. */
    if (d->cfg.pidfile[0] && process_check_pidfile(d->cfg.pidfile) < 0)
        return -1;
    d->precision = measure_precision();
    d->start_mono = daemon_mono_now();
    loop_init(&d->loop, NULL);
    if (start_auth(d) < 0 || timekeeping_start(d) < 0)
        return -1;
    upstream_use_keys(&d->up, &d->keys);
    d->state = *ref_resp_state(&d->sync.ref);
    d->state.precision = d->precision;
    d->srv = server_open(&d->cfg, &d->state);
    if (!d->srv || nts_service_open(&d->nts, &d->cfg, &d->auth) < 0)
        return -1;
    server_set_auth(d->srv, &d->auth);
    server_set_signer(d->srv, d->signer);
    if (d->cfg.controlsocket[0] && process_make_parent_dir(d->cfg.controlsocket, NULL) == 0)
        control_open(&d->control, d->cfg.controlsocket, &d->loop, reports_handle, d);
    /* Bound before privileges are dropped, as the NTP sockets: the port may be privileged. */
    history_init(&d->history, d->cfg.metrics_every);
    if (d->cfg.metrics_enabled &&
        webserver_open(&d->web, &d->cfg.metrics_addr, d->cfg.metrics_port, &d->loop, pages_produce, d) < 0)
        return -1;
    if (!d->foreground && process_daemonize() < 0)
        return -1;
    if (d->cfg.pidfile[0] &&
        (process_make_parent_dir(d->cfg.pidfile, NULL) < 0 || process_write_pidfile(d->cfg.pidfile) < 0))
        return -1;
    snprintf(d->pidfile_written, sizeof d->pidfile_written, "%s", d->cfg.pidfile);
    if (d->cfg.driftfile[0] && process_make_parent_dir(d->cfg.driftfile, d->cfg.user) < 0)
        log_warn("the drift file will not be saved");
    if (separate_privileges(d) < 0)
        return -1;
    /* Before any packet is read: the serving and resolver threads inherit the filter. */
    bool steers_itself = d->clock_controlled && d->privsep.fd < 0;
    if (sandbox_start(d->cfg.seccomp, steers_itself, getenv("LD_PRELOAD") != NULL) < 0)
        return -1;
    if (server_start_threads(d->srv) < 0 || server_register(d->srv, &d->loop) < 0 ||
        nts_service_start(&d->nts) < 0)
        return -1;
    timekeeping_publish(d);
    if (timekeeping_start_timers(d) < 0 || upstream_start(&d->up) < 0)
        return -1;
    if (notify_start(&d->notify, &d->loop) < 0)
        return -1;
    char serving[200];
    describe_serving(d, serving, sizeof serving);
    log_info("%s", serving);
    notify_ready(&d->notify, serving);
    return 0;
}

static void stop(struct horloged *d)
{
    notify_stopping(&d->notify);
    notify_stop(&d->notify);
    webserver_close(&d->web);
    control_close(&d->control);
    server_close(d->srv);
    nts_service_close(&d->nts);
    ntpsignd_close(d->signer);
    timekeeping_stop(d);
    privsep_stop(&d->privsep);
    symkeys_close(&d->keys);
    /* After dropping privileges this fails in a root-owned run directory: a stale pid file is harmless. */
    if (d->pidfile_written[0])
        unlink(d->pidfile_written);
    log_info("stopped");
}

int main(int argc, char **argv)
{
    static struct horloged d = {.config_path = CFG_DEFAULT_PATH, .privsep = {.fd = -1}};
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
        static struct key_table keys;
        if (d.cfg.keyfile[0] && symkeys_read(d.cfg.keyfile, &keys) < 0)
            return 1;
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

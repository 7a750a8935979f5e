/*
 * daemon: horloged's state, shared by the files that make the daemon:
 *   main.c         command line, start-up order, the loop, SIGHUP, stop
 *   timekeeping.c  our own time: the clock driver, the engine (core/sync), the
 *                  upstream sources and reference clocks feeding it, its timers
 *                  (tick, discipline, drift file), the leap-second list, and what
 *                  the serving side is told (publish)
 *   reports.c      the control socket's commands: each report asks the module
 *                  that owns the data (sync, server, the source kinds)
 *   pages.c        the `metrics` endpoint's pages (/metrics, the status page)
 *                  and the history its plots draw
 * Owns nothing itself: it is the one struct those files pass around.
 */
#ifndef HORLOGE_DAEMON_H
#define HORLOGE_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "core/history.h"
#include "core/responder.h"
#include "core/sync.h"
#include "io/clock_linux.h"
#include "io/clockwatch.h"
#include "io/config.h"
#include "io/events.h"
#include "io/control.h"
#include "io/leaplist.h"
#include "io/loop.h"
#include "io/nts_service.h"
#include "io/notify.h"
#include "io/privsep.h"
#include "io/process.h"
#include "io/refclock.h"
#include "io/sandbox.h"
#include "io/server.h"
#include "io/symkeys.h"
#include "io/timesource.h"
#include "io/upstream.h"
#include "io/webserver.h"

/* Kinds of time source: NTP servers and pools, reference clocks. */
#define DAEMON_SOURCE_KINDS 2

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
    struct notify notify;       /* the service manager (systemd), when one supervises us */
    int8_t precision;
    double start_mono;
    /* What the serving side was last told. */
    struct resp_state state;
    struct time_correction correction;
    /* Our own time (timekeeping.c). */
    bool clock_controlled;      /* the real clock is steered (sources configured, no -x) */
    struct clock_real real_clock;
    struct clock_none virtual_clock;
    struct clock_driver drv;
    struct privsep privsep;     /* the clock helper, when the clock is steered through one (fd >= 0) */
    int take_control_err;       /* clock_real_take_control()'s, counted once sync has started */
    struct clockwatch clockwatch;
    struct sync sync;
    struct upstream up;
    struct refclock_set refclocks;
    struct timesource_kind kinds[DAEMON_SOURCE_KINDS];
    int tick_timer, discipline_timer, drift_timer;
    bool sync_started;
    struct leaplist leaplist;
    struct nts_service nts;
    struct webserver web;
    struct history history;     /* the status page's plots (pages.c) */
    struct events events;       /* what the log has said of the engine's state (io/events) */
    /* Authentication: the keyfile's keys, the server's strategies (main.c). */
    struct symkeys keys;
    struct auth_set auth;
    struct ntpsignd *signer;    /* `ntpsigndsocket`: MS-SNTP replies signed by Samba; NULL: none */
};

double daemon_mono_now(void);

/* timekeeping.c */
int timekeeping_start(struct horloged *d);        /* before privileges are dropped */
int timekeeping_start_timers(struct horloged *d); /* once serving has started */
void timekeeping_publish(struct horloged *d);
/* After a reload put the new configuration in d->cfg: engine parameters, `local`, the leap list. */
void timekeeping_reload(struct horloged *d);
void timekeeping_stop(struct horloged *d);

/* reports.c: the control socket's handler (io/control.h). */
void reports_handle(void *ctx, const char *command, struct kv_out *out);
/* Engine source i's view from the kind that owns it; false for a removed slot. */
bool reports_source_view(const struct horloged *d, unsigned i, struct timesource_view *v);

/* pages.c: the web server's page function (io/webserver.h); the tick's history point. */
int pages_produce(void *ctx, const char *url, struct web_page *out);
void pages_record(struct horloged *d);

#endif

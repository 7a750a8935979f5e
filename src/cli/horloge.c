/*
 * horloge: the admin CLI. Reads the daemon's state through the control
 * socket (status, serverstats, clients, ...) and renders it as text, in the
 * spirit of `w32tm /query /status` and `chronyc tracking`, or as JSON; and
 * queries any NTP server (`horloge query`).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io/kvdoc.h"
#include "cli/ntske.h"
#include "cli/query.h"
#include "cli/render.h"
#include "cli/windows.h"
#include "io/config.h"
#include "io/control.h"
#include "io/metrics.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: horloge [-s CONTROLSOCKET] COMMAND [--json]\n"
            "commands:\n"
            "  status        what this server tells its clients (like w32tm /query /status)\n"
            "  tracking      the system clock's synchronisation (like chronyc tracking)\n"
            "  sources       upstream sources and their state\n"
            "  sourcestats   per-source statistics\n"
            "  serverstats   requests received, answered, dropped by reason, KoD sent\n"
            "  clients       the busiest clients\n"
            "  metrics       all of them in the Prometheus text format (or JSON with --json)\n"
            "  query HOST[:PORT] [-c COUNT] [-i INTERVAL]   ask any NTP server (clock untouched)\n"
            "  ntske HOST [-p PORT] [--cafile FILE] [--requests]   an NTS-KE handshake: keys, server,\n"
            "                cookies (and ready NTS requests)\n"
            "  windows-setup [--gpo] [--server NAME]   commands pointing Windows clients at this server\n"
            "default control socket: %s\n",
            CFG_DEFAULT_CONTROLSOCKET);
}

static int parse_number(const char *text, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(text, &end);
    return (errno || end == text || *end) ? -1 : 0;
}

static int run_query(int argc, char **argv, bool json)
{
    struct query_options opt = {.count = 1, .interval = 1.0, .timeout = 2.0, .json = json};
    for (int i = 0; i < argc; i++) {
        double v;
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "-i") == 0 || strcmp(argv[i], "-t") == 0) &&
            i + 1 < argc && parse_number(argv[i + 1], &v) == 0 && v > 0) {
            if (argv[i][1] == 'c')
                opt.count = (int)v;
            else if (argv[i][1] == 'i')
                opt.interval = v;
            else
                opt.timeout = v;
            i++;
        } else if (!opt.target && argv[i][0] != '-') {
            opt.target = argv[i];
        } else {
            fprintf(stderr, "horloge query: unexpected '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!opt.target) {
        fprintf(stderr, "horloge query: which server? (HOST[:PORT])\n");
        return 2;
    }
    return query_run(&opt);
}

/* Asks horloged for one report into `doc` (which points into `resp`); 0, or 1 with the error printed unless `quiet`. */
static int fetch_report(const char *socket_path, const char *command, char *resp, size_t cap, struct kvdoc *doc,
                        bool quiet)
{
    int failed = 1;
    if (control_request(socket_path, command, resp, cap) < 0) {
        if (!quiet)
            fprintf(stderr, "horloge: cannot reach horloged at %s: %s\n", socket_path, strerror(errno));
    } else if (kvdoc_parse(resp, doc) < 0) {
        if (!quiet)
            fprintf(stderr, "horloge: unreadable answer from horloged\n");
    } else if (doc->error) {
        if (!quiet)
            fprintf(stderr, "horloge: horloged says: %s\n", doc->error);
    } else {
        failed = 0;
    }
    return failed;
}

static int run_metrics(const char *socket_path, bool json)
{
    static char resp[METRICS_REPORTS][CONTROL_MAX_RESPONSE];
    static struct kvdoc docs[METRICS_REPORTS];
    const struct kvdoc *reports[METRICS_REPORTS];
    for (int i = 0; i < METRICS_REPORTS; i++) {
        if (fetch_report(socket_path, metrics_report_command[i], resp[i], sizeof resp[i], &docs[i], false))
            return 1;
        reports[i] = &docs[i];
    }
    return metrics_write(stdout, reports, json) < 0 ? 1 : 0;
}

static int run_windows_setup(const char *socket_path, int argc, char **argv)
{
    static char host[256];
    static char resp[CONTROL_MAX_RESPONSE];
    static struct kvdoc doc;
    struct windows_options opt = {.socket_path = socket_path};
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--gpo") == 0) {
            opt.gpo = true;
        } else if (strcmp(argv[i], "--server") == 0 && i + 1 < argc) {
            opt.server = argv[++i];
        } else {
            fprintf(stderr, "horloge windows-setup: unexpected '%s' (usage: [--gpo] [--server NAME])\n", argv[i]);
            return 2;
        }
    }
    if (!opt.server) {
        if (gethostname(host, sizeof host - 1) < 0) {
            fprintf(stderr, "horloge windows-setup: this machine's name: %s; give --server NAME\n", strerror(errno));
            return 1;
        }
        opt.server = host;
    }
    /* Not running is an answer too: the script then assumes the default configuration. */
    bool running = fetch_report(socket_path, "status", resp, sizeof resp, &doc, true) == 0;
    windows_setup_print(&opt, running ? &doc : NULL, stdout);
    return 0;
}

static int run_report(const char *socket_path, const char *command, bool json)
{
    static char resp[CONTROL_MAX_RESPONSE];
    static struct kvdoc doc;
    if (strcmp(command, "metrics") == 0)
        return run_metrics(socket_path, json);
    const struct report_renderer *r = render_find(command);
    if (!r) {
        fprintf(stderr, "horloge: unknown command '%s'\n", command);
        usage(stderr);
        return 2;
    }
    if (fetch_report(socket_path, command, resp, sizeof resp, &doc, false))
        return 1;
    if (json)
        kvdoc_print_json(&doc, r->list_name, stdout);
    else
        r->render_text(&doc, stdout);
    return 0;
}

int main(int argc, char **argv)
{
    const char *socket_path = CFG_DEFAULT_CONTROLSOCKET;
    bool json = false;
    int first = 1;
    while (first < argc && argv[first][0] == '-') {
        if (strcmp(argv[first], "-s") == 0 && first + 1 < argc) {
            socket_path = argv[first + 1];
            first += 2;
        } else if (strcmp(argv[first], "--json") == 0 || strcmp(argv[first], "-j") == 0) {
            json = true;
            first++;
        } else if (strcmp(argv[first], "-h") == 0 || strcmp(argv[first], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (first >= argc) {
        usage(stderr);
        return 2;
    }
    /* --json may also follow the command. */
    int n = 0;
    char **rest = argv + first + 1;
    int rest_count = argc - first - 1;
    for (int i = 0; i < rest_count; i++) {
        if (strcmp(rest[i], "--json") == 0 || strcmp(rest[i], "-j") == 0)
            json = true;
        else
            rest[n++] = rest[i];
    }
    if (strcmp(argv[first], "query") == 0)
        return run_query(n, rest, json);
    if (strcmp(argv[first], "ntske") == 0)
        return ntske_run(n, rest);
    if (strcmp(argv[first], "windows-setup") == 0) {
        if (json) {
            fprintf(stderr, "horloge windows-setup: prints a script, not JSON\n");
            return 2;
        }
        return run_windows_setup(socket_path, n, rest);
    }
    if (n > 0) {
        fprintf(stderr, "horloge %s: unexpected '%s'\n", argv[first], rest[0]);
        return 2;
    }
    return run_report(socket_path, argv[first], json);
}

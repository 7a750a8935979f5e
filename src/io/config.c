/*
 * config: horloge.conf -> struct config; see config.h for the directives.
 *
 * Owns the parse only: a line is split into blank-separated words, the first
 * names the directive, whose handler consumes the rest and leaves any word it
 * did not expect to be reported. Every error is collected as `file:line: ...`
 * and parsing goes on, so one run shows all mistakes.
 */
#include "io/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/history.h"
#include "core/discipline.h"
#include "core/ntp.h"
#include "core/nts.h"
#include "core/packet.h"
#include "core/refclock.h"
#include "core/source.h"
#include "io/refclock.h"

#define CFG_LINE_MAX 1023
#define CFG_MAX_WORDS 32
#define CFG_FILE_MAX (1024 * 1024)
#define CFG_SOCKET_PATH_MAX 107 /* sizeof(sun_path) - 1 */
#define CFG_QUOTE_MAX 64

struct parser {
    const char *name;
    unsigned line;
    struct config *cfg;
    struct cfg_errors *errs;
    bool listen_seen;
};

/* The words of one line after the directive; `i` is the next one to consume. */
struct args {
    const char *directive;
    char **w;
    unsigned n, i;
};

static void errs_append(struct cfg_errors *errs, const char *text)
{
    static const char marker[] = "...\n";
    size_t used = strlen(errs->text);
    size_t len = strlen(text);
    size_t room = sizeof errs->text - used;
    if (len + sizeof marker <= room) {
        memcpy(errs->text + used, text, len + 1);
        return;
    }
    if (used < sizeof marker - 1 || strcmp(errs->text + used - (sizeof marker - 1), marker) != 0)
        if (room >= sizeof marker)
            memcpy(errs->text + used, marker, sizeof marker);
}

__attribute__((format(printf, 3, 4))) static void errs_add(struct cfg_errors *errs,
                                                           const char *prefix,
                                                           const char *fmt, ...)
{
    char line[512];
    int n = snprintf(line, sizeof line, "%s", prefix);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < sizeof line)
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = strlen(line);
    if (len + 1 < sizeof line) {
        line[len] = '\n';
        line[len + 1] = '\0';
    } else {
        line[sizeof line - 2] = '\n';
    }
    errs->count++;
    errs_append(errs, line);
}

__attribute__((format(printf, 2, 3))) static void parse_error(struct parser *p, const char *fmt,
                                                              ...)
{
    char prefix[CFG_PATH_MAX + 32];
    char msg[384];
    snprintf(prefix, sizeof prefix, "%s:%u: ", p->name, p->line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    errs_add(p->errs, prefix, "%s", msg);
}

/* A word as it may appear in a message: printable, and cut short when long. */
static const char *quote(const char *word, char buf[CFG_QUOTE_MAX + 4])
{
    size_t i = 0;
    for (; word[i] && i < CFG_QUOTE_MAX; i++)
        buf[i] = isprint((unsigned char)word[i]) ? word[i] : '?';
    if (word[i]) {
        memcpy(buf + i, "...", 4);
    } else {
        buf[i] = '\0';
    }
    return buf;
}

static const char *next_word(struct args *a)
{
    return a->i < a->n ? a->w[a->i++] : NULL;
}

static const char *need_word(struct parser *p, struct args *a)
{
    const char *w = next_word(a);
    if (!w)
        parse_error(p, "%s: missing argument", a->directive);
    return w;
}

static const char *need_value(struct parser *p, struct args *a, const char *option)
{
    const char *w = next_word(a);
    if (!w)
        parse_error(p, "%s: %s needs a value", a->directive, option);
    return w;
}

static bool at_end(struct parser *p, struct args *a)
{
    if (a->i >= a->n)
        return true;
    char q[CFG_QUOTE_MAX + 4];
    parse_error(p, "%s: unexpected '%s'", a->directive, quote(a->w[a->i], q));
    return false;
}

/* Whole-word decimal integer, optionally negative; no blanks, no '+', no overflow. */
static bool parse_long(const char *w, long *out)
{
    const char *d = w[0] == '-' ? w + 1 : w;
    if (!*d)
        return false;
    for (const char *c = d; *c; c++)
        if (!isdigit((unsigned char)*c))
            return false;
    errno = 0;
    char *end;
    long v = strtol(w, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = v;
    return true;
}

/* Whole-word finite decimal number (no hex, inf or nan). */
static bool parse_double(const char *w, double *out)
{
    if (!*w)
        return false;
    for (const char *c = w; *c; c++)
        if (!isdigit((unsigned char)*c) && !strchr(".eE+-", *c))
            return false;
    errno = 0;
    char *end;
    double v = strtod(w, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static bool get_long(struct parser *p, const struct args *a, const char *w, long lo, long hi,
                     const char *what, long *out)
{
    long v;
    if (parse_long(w, &v) && v >= lo && v <= hi) {
        *out = v;
        return true;
    }
    char q[CFG_QUOTE_MAX + 4];
    parse_error(p, "%s: '%s' is not %s (%ld..%ld)", a->directive, quote(w, q), what, lo, hi);
    return false;
}

static bool get_seconds(struct parser *p, const struct args *a, const char *w, double lo,
                        bool lo_open, double hi, const char *what, double *out)
{
    double v;
    if (parse_double(w, &v) && (lo_open ? v > lo : v >= lo) && v <= hi) {
        *out = v;
        return true;
    }
    char q[CFG_QUOTE_MAX + 4];
    parse_error(p, "%s: '%s' is not %s", a->directive, quote(w, q), what);
    return false;
}

static bool get_path(struct parser *p, const struct args *a, const char *w, size_t max,
                     char *dst)
{
    if (strlen(w) > max) {
        parse_error(p, "%s: path is too long (at most %zu characters)", a->directive, max);
        return false;
    }
    strcpy(dst, w);
    return true;
}

static void mask_host_bits(struct net_addr *addr, unsigned prefix_bits)
{
    for (unsigned i = 0; i < sizeof addr->bytes; i++) {
        unsigned keep = prefix_bits >= 8 * (i + 1) ? 8 : prefix_bits > 8 * i ? prefix_bits - 8 * i : 0;
        addr->bytes[i] &= (uint8_t)(0xff00 >> keep);
    }
}

bool cfg_parse_prefix(const char *text, struct net_addr *addr, unsigned *prefix_bits)
{
    char host[INET6_ADDRSTRLEN];
    const char *slash = strchr(text, '/');
    size_t host_len = slash ? (size_t)(slash - text) : strlen(text);
    if (host_len == 0 || host_len >= sizeof host)
        return false;
    memcpy(host, text, host_len);
    host[host_len] = '\0';
    struct net_addr a;
    memset(&a, 0, sizeof a);
    unsigned max;
    if (inet_pton(AF_INET, host, a.bytes) == 1) {
        a.family = NET_IPV4;
        max = 32;
    } else if (inet_pton(AF_INET6, host, a.bytes) == 1) {
        a.family = NET_IPV6;
        max = 128;
    } else {
        return false;
    }
    unsigned bits = max;
    if (slash) {
        const char *d = slash + 1;
        size_t n = strlen(d);
        if (n == 0 || n > 3 || strspn(d, "0123456789") != n)
            return false;
        bits = (unsigned)atoi(d);
        if (bits > max)
            return false;
    }
    *addr = a;
    *prefix_bits = bits;
    return true;
}

static void do_port(struct parser *p, struct args *a)
{
    const char *w = need_word(p, a);
    long v;
    if (w && get_long(p, a, w, 0, 65535, "a port number", &v))
        p->cfg->port = (uint16_t)v;
}

static void do_listen(struct parser *p, struct args *a)
{
    const char *w = need_word(p, a);
    if (!w)
        return;
    struct net_addr addr;
    unsigned bits;
    char q[CFG_QUOTE_MAX + 4];
    if (strchr(w, '/') || !cfg_parse_prefix(w, &addr, &bits)) {
        parse_error(p, "listen: '%s' is not an IPv4 or IPv6 address", quote(w, q));
        return;
    }
    struct config *cfg = p->cfg;
    if (!p->listen_seen) {
        cfg->n_listen = 0;
        p->listen_seen = true;
    }
    for (unsigned i = 0; i < cfg->n_listen; i++) {
        if (cfg->listen[i].family == addr.family &&
            memcmp(cfg->listen[i].bytes, addr.bytes, sizeof addr.bytes) == 0) {
            parse_error(p, "listen: '%s' is given twice", quote(w, q));
            return;
        }
    }
    if (cfg->n_listen >= CFG_MAX_LISTEN) {
        parse_error(p, "listen: more than %d addresses", CFG_MAX_LISTEN);
        return;
    }
    cfg->listen[cfg->n_listen++] = addr;
}

static void add_rule(struct parser *p, struct args *a, bool allow)
{
    struct acl_rule rule;
    memset(&rule, 0, sizeof rule);
    rule.allow = allow;
    const char *w = next_word(a);
    if (w && strcmp(w, "all") != 0) {
        unsigned bits;
        if (!cfg_parse_prefix(w, &rule.net, &bits)) {
            char q[CFG_QUOTE_MAX + 4];
            parse_error(p, "%s: '%s' is not an address or prefix", a->directive, quote(w, q));
            return;
        }
        mask_host_bits(&rule.net, bits);
        rule.prefix_bits = (uint8_t)bits;
    }
    if (!acl_add(&p->cfg->acl, &rule))
        parse_error(p, "%s: more than %d allow and deny rules", a->directive, ACL_MAX_RULES);
}

static void do_allow(struct parser *p, struct args *a) { add_rule(p, a, true); }
static void do_deny(struct parser *p, struct args *a) { add_rule(p, a, false); }

static void do_denyaction(struct parser *p, struct args *a)
{
    const char *w = need_word(p, a);
    if (!w)
        return;
    if (strcmp(w, "drop") == 0 || strcmp(w, "kod") == 0) {
        p->cfg->deny_kod = w[0] == 'k';
        return;
    }
    char q[CFG_QUOTE_MAX + 4];
    parse_error(p, "denyaction: '%s' is not drop or kod", quote(w, q));
}

static void parse_switch(struct parser *p, struct args *a, enum cfg_switch *out)
{
    const char *w = need_word(p, a);
    if (!w)
        return;
    if (strcmp(w, "on") == 0 || strcmp(w, "off") == 0) {
        *out = w[1] == 'n' ? CFG_ON : CFG_OFF;
        return;
    }
    char q[CFG_QUOTE_MAX + 4];
    parse_error(p, "%s: '%s' is not on or off", a->directive, quote(w, q));
}

bool cfg_switch_resolve(enum cfg_switch mode, bool preloaded, const struct cfg_switch_reasons *reasons,
                        const char **why)
{
    bool on = mode == CFG_ON || (mode == CFG_AUTO && !preloaded);
    *why = mode == CFG_OFF ? reasons->off : !preloaded ? NULL : on ? reasons->forced : reasons->preloaded;
    return on;
}

static void do_privsep(struct parser *p, struct args *a) { parse_switch(p, a, &p->cfg->privsep); }
static void do_seccomp(struct parser *p, struct args *a) { parse_switch(p, a, &p->cfg->seccomp); }

static void do_ratelimit(struct parser *p, struct args *a)
{
    struct rl_params *rl = &p->cfg->ratelimit;
    rl->enabled = true;
    const char *opt;
    while ((opt = next_word(a))) {
        long v;
        const char *w = NULL;
        if (strcmp(opt, "interval") == 0) {
            if ((w = need_value(p, a, opt)) && get_long(p, a, w, -4, 12, "an interval exponent", &v))
                rl->interval_log2 = (int)v;
        } else if (strcmp(opt, "burst") == 0) {
            if ((w = need_value(p, a, opt)) && get_long(p, a, w, 1, 255, "a burst size", &v))
                rl->burst = (unsigned)v;
        } else if (strcmp(opt, "leak") == 0) {
            if ((w = need_value(p, a, opt)) && get_long(p, a, w, 0, 4, "a leak exponent", &v))
                rl->leak_log2 = (unsigned)v;
        } else {
            char q[CFG_QUOTE_MAX + 4];
            parse_error(p, "ratelimit: unknown option '%s'", quote(opt, q));
            return;
        }
        if (!w)
            return;
    }
}

static void do_clientlogsize(struct parser *p, struct args *a)
{
    const char *w = need_word(p, a);
    if (!w)
        return;
    long v;
    if (parse_long(w, &v) && v >= 16 && v <= 1048576 && (v & (v - 1)) == 0) {
        p->cfg->clientlog_size = (unsigned)v;
        return;
    }
    char q[CFG_QUOTE_MAX + 4];
    parse_error(p, "clientlogsize: '%s' is not a power of two (16..1048576)", quote(w, q));
}

static void do_threads(struct parser *p, struct args *a)
{
    const char *w = need_word(p, a);
    long v;
    if (w && get_long(p, a, w, 0, 64, "a thread count", &v))
        p->cfg->threads = (unsigned)v;
}

static void do_local(struct parser *p, struct args *a)
{
    struct config *cfg = p->cfg;
    cfg->local_enabled = true;
    const char *opt;
    while ((opt = next_word(a))) {
        const char *w = NULL;
        if (strcmp(opt, "stratum") == 0) {
            long v;
            if ((w = need_value(p, a, opt)) && get_long(p, a, w, 1, 15, "a stratum", &v))
                cfg->local_stratum = (int)v;
        } else if (strcmp(opt, "distance") == 0) {
            if ((w = need_value(p, a, opt)))
                get_seconds(p, a, w, 0, false, NTP_MAXDISP,
                            "a distance in seconds (0..16)", &cfg->local_distance);
        } else {
            char q[CFG_QUOTE_MAX + 4];
            parse_error(p, "local: unknown option '%s'", quote(opt, q));
            return;
        }
        if (!w)
            return;
    }
}

/* controlsocket and pidfile: a path, or `none`. */
static void do_optional_path(struct parser *p, struct args *a, size_t max, char *dst)
{
    const char *w = need_word(p, a);
    if (!w)
        return;
    if (strcmp(w, "none") == 0)
        dst[0] = '\0';
    else
        get_path(p, a, w, max, dst);
}

static void do_controlsocket(struct parser *p, struct args *a)
{
    do_optional_path(p, a, CFG_SOCKET_PATH_MAX, p->cfg->controlsocket);
}

static void do_pidfile(struct parser *p, struct args *a)
{
    do_optional_path(p, a, CFG_PATH_MAX - 1, p->cfg->pidfile);
}

/* A directive whose one argument is a path of at most `max` characters. */
static void path_directive(struct parser *p, struct args *a, size_t max, char *dst)
{
    const char *w = need_word(p, a);
    if (w)
        get_path(p, a, w, max, dst);
}

static void do_driftfile(struct parser *p, struct args *a)
{
    path_directive(p, a, CFG_PATH_MAX - 1, p->cfg->driftfile);
}

static void do_leapseclist(struct parser *p, struct args *a)
{
    path_directive(p, a, CFG_PATH_MAX - 1, p->cfg->leapseclist);
}

static void do_keyfile(struct parser *p, struct args *a)
{
    path_directive(p, a, CFG_PATH_MAX - 1, p->cfg->keyfile);
}

/* Samba's socket is DIR/socket: the directory must leave room for it in a sockaddr_un. */
static void do_ntpsigndsocket(struct parser *p, struct args *a)
{
    path_directive(p, a, CFG_SOCKET_PATH_MAX - 8, p->cfg->ntpsigndsocket);
}

/* "ADDRESS:PORT" or "[V6]:PORT": the metrics endpoint's address. */
static bool parse_endpoint(const char *w, struct net_addr *addr, uint16_t *port)
{
    char host[INET6_ADDRSTRLEN + 2];
    const char *colon = w[0] == '[' ? strstr(w, "]:") : strrchr(w, ':');
    size_t skip = w[0] == '[' ? 1 : 0;
    if (!colon || (size_t)(colon - w) - skip >= sizeof host)
        return false;
    memcpy(host, w + skip, (size_t)(colon - w) - skip);
    host[colon - w - (ptrdiff_t)skip] = '\0';
    unsigned bits;
    long v;
    const char *digits = colon + (w[0] == '[' ? 2 : 1);
    /* An IPv6 address only in brackets: "::1:80" could be either. */
    if (strchr(host, '/') || (!skip && strchr(host, ':')) || !cfg_parse_prefix(host, addr, &bits) ||
        !parse_long(digits, &v) || v < 1 || v > 65535)
        return false;
    *port = (uint16_t)v;
    return true;
}

static void do_metrics(struct parser *p, struct args *a)
{
    const char *w = need_word(p, a);
    if (!w)
        return;
    char q[CFG_QUOTE_MAX + 4];
    struct config *cfg = p->cfg;
    if (!parse_endpoint(w, &cfg->metrics_addr, &cfg->metrics_port)) {
        parse_error(p, "metrics: '%s' is not ADDRESS:PORT (as 127.0.0.1:9123 or [::1]:9123)", quote(w, q));
        return;
    }
    cfg->metrics_enabled = true;
    const char *opt = next_word(a);
    if (!opt)
        return;
    if (strcmp(opt, "every") != 0) {
        parse_error(p, "metrics: unknown option '%s'", quote(opt, q));
        return;
    }
    if ((w = need_value(p, a, opt)))
        get_seconds(p, a, w, 1, false, 3600, "an interval in seconds (1..3600)", &cfg->metrics_every);
}

/* POSIX portable user names: letters, digits, '.', '_', '-', not starting with '-'. */
static bool valid_user(const char *w)
{
    size_t n = strlen(w);
    if (n == 0 || n >= sizeof ((struct config *)0)->user || w[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)w[i]) && !strchr("._-", w[i]))
            return false;
    return true;
}

static void do_user(struct parser *p, struct args *a)
{
    const char *w = need_word(p, a);
    if (!w)
        return;
    if (valid_user(w)) {
        strcpy(p->cfg->user, w);
        return;
    }
    char q[CFG_QUOTE_MAX + 4];
    parse_error(p, "user: '%s' is not a user name", quote(w, q));
}

/* A Linux interface name: 1..15 characters, no '/', blank or ':' (which names an alias). */
static bool valid_ifname(const char *w)
{
    size_t n = strlen(w);
    if (n == 0 || n >= CFG_IFNAME_MAX || strcmp(w, ".") == 0 || strcmp(w, "..") == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isgraph((unsigned char)w[i]) || w[i] == '/' || w[i] == ':')
            return false;
    return true;
}

static void do_hwtimestamp(struct parser *p, struct args *a)
{
    const char *w = need_word(p, a);
    char q[CFG_QUOTE_MAX + 4];
    if (!w)
        return;
    if (!valid_ifname(w))
        parse_error(p, "hwtimestamp: '%s' is not an interface name", quote(w, q));
    else if (p->cfg->n_hwtimestamp >= CFG_MAX_HWTIMESTAMP)
        parse_error(p, "hwtimestamp: at most %d interfaces", CFG_MAX_HWTIMESTAMP);
    else
        strcpy(p->cfg->hwtimestamp[p->cfg->n_hwtimestamp++], w);
}

static void do_log(struct parser *p, struct args *a)
{
    const char *w = need_word(p, a);
    if (!w)
        return;
    if (strcmp(w, "stderr") == 0) {
        p->cfg->log = CFG_LOG_STDERR;
    } else if (strcmp(w, "syslog") == 0) {
        p->cfg->log = CFG_LOG_SYSLOG;
    } else {
        char q[CFG_QUOTE_MAX + 4];
        parse_error(p, "log: '%s' is not stderr or syslog", quote(w, q));
    }
}

/* A DNS name (at most 253 characters) or an address literal, kept as text: resolved later. */
static bool valid_host(const char *w)
{
    size_t n = strlen(w);
    if (n == 0 || n > 253 || (!isalnum((unsigned char)w[0]) && w[0] != ':'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)w[i]) && !strchr(".-_:%", w[i]))
            return false;
    return true;
}

static bool source_option(struct parser *p, struct args *a, const char *opt,
                          struct cfg_source *src, bool *min_given, bool *max_given)
{
    const char *w = NULL;
    long v;
    if (strcmp(opt, "iburst") == 0) {
        src->iburst = true;
        return true;
    }
    if (strcmp(opt, "xleave") == 0) {
        src->xleave = true;
        return true;
    }
    if (!src->is_pool && strcmp(opt, "prefer") == 0) {
        src->prefer = true;
        return true;
    }
    if (!src->is_pool && strcmp(opt, "nts") == 0) {
        src->nts = true;
        return true;
    }
    if (strcmp(opt, "port") == 0) {
        if ((w = need_value(p, a, opt)) && get_long(p, a, w, 1, 65535, "a port number", &v))
            src->port = (uint16_t)v;
    } else if (!src->is_pool && strcmp(opt, "ntsport") == 0) {
        if ((w = need_value(p, a, opt)) && get_long(p, a, w, 1, 65535, "a port number", &v))
            src->nts_port = (uint16_t)v;
    } else if (strcmp(opt, "minpoll") == 0) {
        *min_given = true;
        if ((w = need_value(p, a, opt)) && get_long(p, a, w, SRC_POLL_MIN, SRC_POLL_MAX, "a poll exponent", &v))
            src->minpoll = (int)v;
    } else if (strcmp(opt, "maxpoll") == 0) {
        *max_given = true;
        if ((w = need_value(p, a, opt)) && get_long(p, a, w, SRC_POLL_MIN, SRC_POLL_MAX, "a poll exponent", &v))
            src->maxpoll = (int)v;
    } else if (!src->is_pool && strcmp(opt, "key") == 0) {
        if ((w = need_value(p, a, opt)) && get_long(p, a, w, 1, UINT32_MAX, "a key id", &v))
            src->key = (uint32_t)v;
    } else if (src->is_pool && strcmp(opt, "maxsources") == 0) {
        if ((w = need_value(p, a, opt)) && get_long(p, a, w, 1, 16, "a source count", &v))
            src->maxsources = (unsigned)v;
    } else {
        char q[CFG_QUOTE_MAX + 4];
        parse_error(p, "%s: unknown option '%s'", a->directive, quote(opt, q));
        return false;
    }
    return w != NULL;
}

/*
 * A lone minpoll above the default maxpoll (or maxpoll below the default
 * minpoll) moves the other bound along; only two explicit bounds can conflict.
 */
static bool settle_poll_range(struct parser *p, const struct args *a, struct cfg_source *src,
                              bool min_given, bool max_given)
{
    if (src->minpoll <= src->maxpoll)
        return true;
    if (min_given && max_given) {
        parse_error(p, "%s: minpoll %d is greater than maxpoll %d", a->directive, src->minpoll,
                    src->maxpoll);
        return false;
    }
    if (min_given)
        src->maxpoll = src->minpoll;
    else
        src->minpoll = src->maxpoll;
    return true;
}

static void add_source(struct parser *p, struct args *a, bool is_pool)
{
    const char *host = need_word(p, a);
    if (!host)
        return;
    struct cfg_source src;
    memset(&src, 0, sizeof src);
    src.is_pool = is_pool;
    src.port = NTP_PORT;
    src.minpoll = NTP_DEFAULT_MINPOLL;
    src.maxpoll = NTP_DEFAULT_MAXPOLL;
    src.maxsources = 4;
    src.nts_port = NTS_KE_DEFAULT_PORT;
    char q[CFG_QUOTE_MAX + 4];
    if (!valid_host(host)) {
        parse_error(p, "%s: '%s' is not a host name or address", a->directive, quote(host, q));
        return;
    }
    strcpy(src.host, host);
    bool min_given = false, max_given = false;
    const char *opt;
    while ((opt = next_word(a)))
        if (!source_option(p, a, opt, &src, &min_given, &max_given))
            return;
    if (!settle_poll_range(p, a, &src, min_given, max_given))
        return;
    struct config *cfg = p->cfg;
    if (cfg->n_sources >= CFG_MAX_SOURCES) {
        parse_error(p, "%s: more than %d servers and pools", a->directive, CFG_MAX_SOURCES);
        return;
    }
    cfg->sources[cfg->n_sources++] = src;
}

static void do_server(struct parser *p, struct args *a) { add_source(p, a, false); }
static void do_pool(struct parser *p, struct args *a) { add_source(p, a, true); }

/* refid: 1 to 4 printable ASCII characters, as reference-clock refids are written (RFC 5905 §7.3). */
static bool parse_refid(const char *w, uint32_t *refid)
{
    size_t n = strlen(w);
    if (n == 0 || n > 4)
        return false;
    char padded[4] = {0};
    for (size_t i = 0; i < n; i++) {
        if (!isgraph((unsigned char)w[i]))
            return false;
        padded[i] = w[i];
    }
    *refid = pkt_refid_ascii(padded);
    return true;
}

static bool refclock_option(struct parser *p, struct args *a, const char *opt, struct cfg_refclock *rc)
{
    char q[CFG_QUOTE_MAX + 4];
    long v;
    if (strcmp(opt, "prefer") == 0 || strcmp(opt, "noselect") == 0) {
        *(strcmp(opt, "prefer") == 0 ? &rc->prefer : &rc->noselect) = true;
        return true;
    }
    static const char *const with_value[] = {"refid", "poll", "offset", "delay", "precision", "lock"};
    bool known = false;
    for (size_t i = 0; i < sizeof with_value / sizeof with_value[0]; i++)
        known |= strcmp(opt, with_value[i]) == 0;
    if (!known) {
        parse_error(p, "%s: unknown option '%s'", a->directive, quote(opt, q));
        return false;
    }
    const char *w = need_value(p, a, opt);
    if (!w)
        return false;
    if (strcmp(opt, "refid") == 0 || strcmp(opt, "lock") == 0) {
        if (parse_refid(w, strcmp(opt, "lock") == 0 ? &rc->lock : &rc->refid))
            return true;
        parse_error(p, "%s: '%s' is not a refid (1 to 4 ASCII characters)", a->directive, quote(w, q));
        return false;
    }
    if (strcmp(opt, "poll") == 0) {
        if (!get_long(p, a, w, SRC_POLL_MIN, SRC_POLL_MAX, "a poll exponent", &v))
            return false;
        rc->poll = (int)v;
        return true;
    }
    if (strcmp(opt, "offset") == 0)
        return get_seconds(p, a, w, -1.0, false, 1.0, "an offset in seconds (-1..1)", &rc->offset);
    if (strcmp(opt, "delay") == 0)
        return get_seconds(p, a, w, 0, true, 1.0, "a delay in seconds (above 0, at most 1)", &rc->delay);
    if (!get_long(p, a, w, -30, 0, "a precision exponent", &v)) /* "precision" */
        return false;
    rc->precision = (int)v;
    return true;
}

static void do_refclock(struct parser *p, struct args *a)
{
    char q[CFG_QUOTE_MAX + 4];
    const char *driver = need_word(p, a);
    if (!driver)
        return;
    const struct refclock_driver *drv = refclock_driver_find(driver);
    if (!drv) {
        parse_error(p, "%s: unknown driver '%s' (known: %s)", a->directive, quote(driver, q),
                    refclock_driver_names());
        return;
    }
    const char *param = need_word(p, a);
    struct cfg_refclock rc = {.poll = REFCLOCK_DEFAULT_POLL, .delay = REFCLOCK_DEFAULT_DELAY,
                              .precision = REFCLOCK_DEFAULT_PRECISION};
    if (!param || !get_path(p, a, param, sizeof rc.param - 1, rc.param))
        return;
    if (drv->param_ok && !drv->param_ok(param)) {
        parse_error(p, "%s: '%s' is not %s", a->directive, quote(param, q), drv->param_what);
        return;
    }
    snprintf(rc.driver, sizeof rc.driver, "%s", driver);
    parse_refid(rc.driver, &rc.refid);
    const char *opt;
    while ((opt = next_word(a)))
        if (!refclock_option(p, a, opt, &rc))
            return;
    struct config *cfg = p->cfg;
    if (cfg->n_refclocks >= CFG_MAX_REFCLOCKS) {
        parse_error(p, "%s: more than %d reference clocks", a->directive, CFG_MAX_REFCLOCKS);
        return;
    }
    cfg->refclocks[cfg->n_refclocks++] = rc;
}

static void do_minsources(struct parser *p, struct args *a)
{
    const char *w = need_word(p, a);
    long v;
    if (w && get_long(p, a, w, 1, 16, "a source count", &v))
        p->cfg->minsources = (unsigned)v;
}

static void do_maxdistance(struct parser *p, struct args *a)
{
    const char *w = need_word(p, a);
    if (w)
        get_seconds(p, a, w, 0, true, NTP_MAXDISP,
                    "a distance in seconds (above 0, at most 16)", &p->cfg->maxdistance);
}

static void do_makestep(struct parser *p, struct args *a)
{
    const char *t = need_word(p, a);
    if (!t)
        return;
    const char *l = need_word(p, a);
    double threshold;
    bool ok = get_seconds(p, a, t, 0, true, HUGE_VAL, "a threshold in seconds (above 0)",
                          &threshold);
    long limit;
    if (!l)
        return;
    ok &= get_long(p, a, l, -1, 2147483647L, "an update count", &limit);
    if (!ok)
        return;
    p->cfg->makestep_enabled = true;
    p->cfg->makestep_threshold = threshold;
    p->cfg->makestep_limit = (int)limit;
}

static void do_corrtimeratio(struct parser *p, struct args *a)
{
    const char *w = need_word(p, a);
    if (w)
        get_seconds(p, a, w, 0, false, 100, "a ratio (0..100)", &p->cfg->corrtimeratio);
}

static void do_maxslewrate(struct parser *p, struct args *a)
{
    const char *w = need_word(p, a);
    if (w)
        get_seconds(p, a, w, 1, false, 500, "a rate in ppm (1..500)", &p->cfg->maxslewrate);
}

static void do_leapsmear(struct parser *p, struct args *a)
{
    const char *w = need_word(p, a);
    if (!w)
        return;
    if (!leapsmear_parse(w, &p->cfg->leapsmear)) {
        char q[CFG_QUOTE_MAX + 4];
        parse_error(p, "%s: '%s' is not off, linear or quadratic", a->directive, quote(w, q));
    }
}

/* ---- NTS ---- */

/* ntsservercert and ntsserverkey: the n-th of each make a pair. */
static void add_nts_file(struct parser *p, struct args *a, char (*files)[CFG_PATH_MAX], unsigned *n)
{
    const char *w = need_word(p, a);
    if (!w)
        return;
    if (*n >= CFG_MAX_NTS_CERTS) {
        parse_error(p, "%s: more than %d", a->directive, CFG_MAX_NTS_CERTS);
        return;
    }
    if (get_path(p, a, w, CFG_PATH_MAX - 1, files[*n]))
        (*n)++;
}

static void do_ntsservercert(struct parser *p, struct args *a)
{
    add_nts_file(p, a, p->cfg->nts.cert, &p->cfg->nts.n_certs);
}

static void do_ntsserverkey(struct parser *p, struct args *a)
{
    add_nts_file(p, a, p->cfg->nts.key, &p->cfg->nts.n_keys);
}

static void do_nts_port(struct parser *p, struct args *a, uint16_t *dst)
{
    const char *w = need_word(p, a);
    long v;
    if (w && get_long(p, a, w, 1, 65535, "a port number", &v))
        *dst = (uint16_t)v;
}

static void do_ntsport(struct parser *p, struct args *a) { do_nts_port(p, a, &p->cfg->nts.port); }
static void do_ntsntpport(struct parser *p, struct args *a) { do_nts_port(p, a, &p->cfg->nts.ntp_port); }

static void do_ntsntpserver(struct parser *p, struct args *a)
{
    const char *w = need_word(p, a);
    char q[CFG_QUOTE_MAX + 4];
    if (w && (!valid_host(w) || strlen(w) > NTS_HOST_MAX))
        parse_error(p, "ntsntpserver: '%s' is not a host name or address", quote(w, q));
    else if (w)
        strcpy(p->cfg->nts.ntp_server, w);
}

static void do_ntsrotate(struct parser *p, struct args *a)
{
    const char *w = need_word(p, a);
    long v;
    if (w && get_long(p, a, w, 60, 365L * 86400, "a key lifetime in seconds", &v))
        p->cfg->nts.rotate = (unsigned)v;
}

static void do_nts_path(struct parser *p, struct args *a, char *dst)
{
    const char *w = need_word(p, a);
    if (w)
        get_path(p, a, w, CFG_PATH_MAX - 1, dst);
}

static void do_ntsdumpdir(struct parser *p, struct args *a) { do_nts_path(p, a, p->cfg->nts.dumpdir); }
static void do_ntsmasterkey(struct parser *p, struct args *a) { do_nts_path(p, a, p->cfg->nts.masterkey); }
static void do_ntstrustedcerts(struct parser *p, struct args *a) { do_nts_path(p, a, p->cfg->nts.trusted_certs); }

static void do_ntsratelimit(struct parser *p, struct args *a)
{
    struct cfg_nts *nts = &p->cfg->nts;
    const char *opt;
    while ((opt = next_word(a))) {
        long v;
        const char *w = need_value(p, a, opt);
        if (!w)
            return;
        if (strcmp(opt, "interval") == 0 && get_long(p, a, w, -4, 12, "an interval exponent", &v)) {
            nts->ratelimit_interval_log2 = (int)v;
        } else if (strcmp(opt, "burst") == 0 && get_long(p, a, w, 1, 255, "a burst size", &v)) {
            nts->ratelimit_burst = (unsigned)v;
        } else if (strcmp(opt, "interval") != 0 && strcmp(opt, "burst") != 0) {
            char q[CFG_QUOTE_MAX + 4];
            parse_error(p, "ntsratelimit: unknown option '%s'", quote(opt, q));
            return;
        }
    }
}

struct directive {
    const char *name;
    void (*parse)(struct parser *p, struct args *a);
};

static const struct directive directives[] = {
    {"port", do_port},
    {"listen", do_listen},
    {"allow", do_allow},
    {"deny", do_deny},
    {"denyaction", do_denyaction},
    {"ratelimit", do_ratelimit},
    {"clientlogsize", do_clientlogsize},
    {"threads", do_threads},
    {"local", do_local},
    {"controlsocket", do_controlsocket},
    {"pidfile", do_pidfile},
    {"user", do_user},
    {"privsep", do_privsep},
    {"seccomp", do_seccomp},
    {"log", do_log},
    {"server", do_server},
    {"pool", do_pool},
    {"refclock", do_refclock},
    {"hwtimestamp", do_hwtimestamp},
    {"minsources", do_minsources},
    {"maxdistance", do_maxdistance},
    {"makestep", do_makestep},
    {"corrtimeratio", do_corrtimeratio},
    {"maxslewrate", do_maxslewrate},
    {"leapsmear", do_leapsmear},
    {"driftfile", do_driftfile},
    {"leapseclist", do_leapseclist},
    {"metrics", do_metrics},
    {"keyfile", do_keyfile},
    {"ntpsigndsocket", do_ntpsigndsocket},
    {"ntsservercert", do_ntsservercert},
    {"ntsserverkey", do_ntsserverkey},
    {"ntsport", do_ntsport},
    {"ntsntpserver", do_ntsntpserver},
    {"ntsntpport", do_ntsntpport},
    {"ntsrotate", do_ntsrotate},
    {"ntsdumpdir", do_ntsdumpdir},
    {"ntsmasterkey", do_ntsmasterkey},
    {"ntsratelimit", do_ntsratelimit},
    {"ntstrustedcerts", do_ntstrustedcerts},
};

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Splits `line` in place; returns the word count, or more than CFG_MAX_WORDS when cut short. */
static unsigned split_words(char *line, char **words)
{
    unsigned n = 0;
    char *c = line;
    for (;;) {
        while (is_blank(*c))
            c++;
        if (!*c || *c == '#')
            return n;
        if (n == CFG_MAX_WORDS)
            return n + 1;
        words[n++] = c;
        while (*c && !is_blank(*c) && *c != '#')
            c++;
        if (*c == '#') {
            *c = '\0';
            return n;
        }
        if (*c)
            *c++ = '\0';
    }
}

static void parse_line(struct parser *p, char *line)
{
    char *words[CFG_MAX_WORDS];
    unsigned n = split_words(line, words);
    if (n == 0)
        return;
    if (n > CFG_MAX_WORDS) {
        parse_error(p, "too many words (at most %d)", CFG_MAX_WORDS);
        return;
    }
    for (size_t i = 0; i < sizeof directives / sizeof directives[0]; i++) {
        if (strcmp(words[0], directives[i].name) != 0)
            continue;
        struct args a = {directives[i].name, words, n, 1};
        unsigned before = p->errs->count;
        directives[i].parse(p, &a);
        if (p->errs->count == before)
            at_end(p, &a);
        return;
    }
    char q[CFG_QUOTE_MAX + 4];
    parse_error(p, "unknown directive '%s'", quote(words[0], q));
}

void cfg_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->port = NTP_PORT;
    /* 0.0.0.0 and ::, until the first `listen` directive replaces them. */
    cfg->n_listen = 2;
    cfg->listen[0].family = NET_IPV4;
    cfg->listen[1].family = NET_IPV6;
    acl_init(&cfg->acl);
    cfg->deny_kod = false;
    cfg->ratelimit = (struct rl_params){.enabled = false, .interval_log2 = 3, .burst = 8, .leak_log2 = 2};
    cfg->clientlog_size = 65536;
    cfg->threads = 1;
    cfg->local_enabled = false;
    cfg->local_stratum = 10;
    cfg->local_distance = 1.0; /* chrony's default: a held reference yields to the local one at 1 s root distance */
    strcpy(cfg->controlsocket, CFG_DEFAULT_CONTROLSOCKET);
    cfg->metrics_every = HISTORY_DEFAULT_INTERVAL;
    strcpy(cfg->pidfile, CFG_DEFAULT_PIDFILE);
    cfg->log = CFG_LOG_SYSLOG;
    cfg->minsources = 1;
    cfg->maxdistance = NTP_DEFAULT_MAXDISTANCE;
    cfg->makestep_enabled = false;
    cfg->corrtimeratio = DISC_CORR_TIME_RATIO;
    cfg->maxslewrate = DISC_MAX_SLEW_PPM;
    cfg->leapsmear = LEAPSMEAR_OFF;
    cfg->nts.port = NTS_KE_DEFAULT_PORT;
    cfg->nts.rotate = 86400;
    cfg->nts.ratelimit_interval_log2 = 0;
    cfg->nts.ratelimit_burst = 16;
}

static void errs_clear(struct cfg_errors *errs)
{
    errs->count = 0;
    errs->text[0] = '\0';
}

int cfg_parse_text(const char *text, size_t len, const char *name, struct config *cfg,
                   struct cfg_errors *errs)
{
    struct cfg_errors scratch;
    if (!errs)
        errs = &scratch;
    errs_clear(errs);
    cfg_defaults(cfg);
    struct parser p = {name ? name : "config", 0, cfg, errs, false};
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t line_len = nl ? (size_t)(nl - (text + pos)) : len - pos;
        p.line++;
        char line[CFG_LINE_MAX + 1];
        if (line_len > CFG_LINE_MAX) {
            parse_error(&p, "line is too long (at most %d characters)", CFG_LINE_MAX);
        } else if (memchr(text + pos, '\0', line_len)) {
            parse_error(&p, "line contains a NUL byte");
        } else {
            memcpy(line, text + pos, line_len);
            line[line_len] = '\0';
            parse_line(&p, line);
        }
        pos += line_len + 1;
    }
    if (cfg->nts.n_certs != cfg->nts.n_keys)
        parse_error(&p, "ntsservercert and ntsserverkey come in pairs: %u certificate(s), %u key(s)",
                    cfg->nts.n_certs, cfg->nts.n_keys);
    return errs->count ? -1 : 0;
}

int cfg_load_file(const char *path, struct config *cfg, struct cfg_errors *errs)
{
    struct cfg_errors scratch;
    if (!errs)
        errs = &scratch;
    errs_clear(errs);
    cfg_defaults(cfg);
    char prefix[CFG_PATH_MAX + 8];
    snprintf(prefix, sizeof prefix, "%s: ", path);
    char why[128];
    FILE *f = fopen(path, "rb");
    if (!f) {
        errs_add(errs, prefix, "cannot read: %s", strerror_r(errno, why, sizeof why));
        return -1;
    }
    char *buf = malloc(CFG_FILE_MAX + 1);
    if (!buf) {
        fclose(f);
        errs_add(errs, prefix, "cannot read: %s", strerror_r(ENOMEM, why, sizeof why));
        return -1;
    }
    size_t n = fread(buf, 1, CFG_FILE_MAX + 1, f);
    int read_errno = ferror(f) ? errno : 0;
    fclose(f);
    int rc = -1;
    if (read_errno)
        errs_add(errs, prefix, "cannot read: %s", strerror_r(read_errno, why, sizeof why));
    else if (n > CFG_FILE_MAX)
        errs_add(errs, prefix, "is too large (more than %d bytes)", CFG_FILE_MAX);
    else
        rc = cfg_parse_text(buf, n, path, cfg, errs);
    free(buf);
    return rc;
}

/* ---- what a reload changes ---- */

bool cfg_source_equal(const struct cfg_source *a, const struct cfg_source *b)
{
    return strcmp(a->host, b->host) == 0 && a->port == b->port && a->is_pool == b->is_pool &&
           a->iburst == b->iburst && a->prefer == b->prefer && a->xleave == b->xleave &&
           a->minpoll == b->minpoll &&
           a->maxpoll == b->maxpoll && a->maxsources == b->maxsources && a->key == b->key &&
           a->nts == b->nts && a->nts_port == b->nts_port;
}

unsigned cfg_match_sources(const struct config *old, const struct config *fresh,
                           int old_to_new[CFG_MAX_SOURCES], bool new_is_kept[CFG_MAX_SOURCES])
{
    bool taken[CFG_MAX_SOURCES] = {false};
    unsigned kept = 0;
    for (unsigned i = 0; i < old->n_sources; i++) {
        old_to_new[i] = -1;
        for (unsigned j = 0; j < fresh->n_sources && old_to_new[i] < 0; j++)
            if (!taken[j] && cfg_source_equal(&old->sources[i], &fresh->sources[j])) {
                taken[j] = true;
                old_to_new[i] = (int)j;
                kept++;
            }
    }
    if (new_is_kept)
        memcpy(new_is_kept, taken, sizeof taken);
    return kept;
}

static bool refclock_equal(const struct cfg_refclock *a, const struct cfg_refclock *b)
{
    return strcmp(a->driver, b->driver) == 0 && strcmp(a->param, b->param) == 0 && a->refid == b->refid &&
           a->poll == b->poll && a->offset == b->offset && a->delay == b->delay &&
           a->precision == b->precision && a->prefer == b->prefer && a->lock == b->lock &&
           a->noselect == b->noselect;
}

static bool refclocks_equal(const struct config *a, const struct config *b)
{
    if (a->n_refclocks != b->n_refclocks)
        return false;
    for (unsigned i = 0; i < a->n_refclocks; i++)
        if (!refclock_equal(&a->refclocks[i], &b->refclocks[i]))
            return false;
    return true;
}

static bool listen_equal(const struct config *a, const struct config *b)
{
    return a->n_listen == b->n_listen && memcmp(a->listen, b->listen, a->n_listen * sizeof a->listen[0]) == 0;
}

static bool hwtimestamp_equal(const struct config *a, const struct config *b)
{
    return a->n_hwtimestamp == b->n_hwtimestamp &&
           memcmp(a->hwtimestamp, b->hwtimestamp, sizeof a->hwtimestamp) == 0;
}

static void name_if(bool changed, const char *name, unsigned *n, char *buf, size_t cap)
{
    if (!changed)
        return;
    size_t used = strlen(buf);
    if (used < cap)
        snprintf(buf + used, cap - used, "%s%s", *n ? ", " : "", name);
    (*n)++;
}

/* NTS settings other than the certificate files (which SIGHUP reads again) and ntstrustedcerts. */
static bool nts_server_equal(const struct cfg_nts *a, const struct cfg_nts *b)
{
    return (a->n_certs > 0) == (b->n_certs > 0) && a->port == b->port &&
           strcmp(a->ntp_server, b->ntp_server) == 0 && a->ntp_port == b->ntp_port && a->rotate == b->rotate &&
           strcmp(a->dumpdir, b->dumpdir) == 0 && strcmp(a->masterkey, b->masterkey) == 0 &&
           a->ratelimit_interval_log2 == b->ratelimit_interval_log2 && a->ratelimit_burst == b->ratelimit_burst;
}

/* Each of these is read once at start: sockets bound, files created, privileges dropped, threads made. */
unsigned cfg_restart_needed(const struct config *old, const struct config *fresh, char *buf, size_t cap)
{
    unsigned n = 0;
    if (cap)
        buf[0] = '\0';
    name_if(old->port != fresh->port, "port", &n, buf, cap);
    name_if(!listen_equal(old, fresh), "listen", &n, buf, cap);
    name_if(old->threads != fresh->threads, "threads", &n, buf, cap);
    name_if(old->clientlog_size != fresh->clientlog_size, "clientlogsize", &n, buf, cap);
    name_if(strcmp(old->controlsocket, fresh->controlsocket) != 0, "controlsocket", &n, buf, cap);
    name_if(strcmp(old->pidfile, fresh->pidfile) != 0, "pidfile", &n, buf, cap);
    name_if(strcmp(old->user, fresh->user) != 0, "user", &n, buf, cap);
    name_if(old->privsep != fresh->privsep, "privsep", &n, buf, cap);
    name_if(old->seccomp != fresh->seccomp, "seccomp", &n, buf, cap);
    name_if(old->log != fresh->log, "log", &n, buf, cap);
    name_if(!refclocks_equal(old, fresh), "refclock", &n, buf, cap);
    name_if(!nts_server_equal(&old->nts, &fresh->nts), "nts (other than the certificates)", &n, buf, cap);
    name_if(!hwtimestamp_equal(old, fresh), "hwtimestamp", &n, buf, cap);
    name_if(old->metrics_enabled != fresh->metrics_enabled || old->metrics_port != fresh->metrics_port ||
                memcmp(&old->metrics_addr, &fresh->metrics_addr, sizeof old->metrics_addr) != 0 ||
                old->metrics_every != fresh->metrics_every,
            "metrics", &n, buf, cap);
    name_if(old->corrtimeratio != fresh->corrtimeratio, "corrtimeratio", &n, buf, cap);
    name_if(old->maxslewrate != fresh->maxslewrate, "maxslewrate", &n, buf, cap);
    name_if(old->leapsmear != fresh->leapsmear, "leapsmear", &n, buf, cap);
    name_if(strcmp(old->ntpsigndsocket, fresh->ntpsigndsocket) != 0, "ntpsigndsocket", &n, buf, cap);
    return n;
}

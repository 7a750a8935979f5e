/*
 * config: horloge.conf parsed into a `struct config` value (no globals).
 *
 * Syntax (chrony's idiom): one directive per line, words separated by blanks,
 * `#` starts a comment. Every error is reported as `file:line: what is wrong`
 * and a config with any error is refused whole. See README "Configuration".
 *
 * Directives:
 *   port N                      UDP port to serve on (default 123; 0 = do not serve)
 *   listen ADDRESS              address to bind (repeatable; default: 0.0.0.0 and ::)
 *   allow [all|ADDR[/BITS]]     access list (see core/acl.h); `allow` alone = all
 *   deny  [all|ADDR[/BITS]]
 *   denyaction drop|kod         what a denied client gets (default drop; kod = DENY KoD)
 *   ratelimit [interval I] [burst B] [leak L]   enable per-client limiting
 *                               (defaults 3, 8, 2 as chrony's)
 *   clientlogsize N             entries in each worker's client table (power of 2, default 65536)
 *   threads N                   serving threads per listen address (0..64, default 1; 0: served from the event loop)
 *   local stratum N [distance D]   reliable local reference: serve own clock at stratum N
 *                               (1..15, default 10 as chrony's when `local` is given alone)
 *                               when no source is selected; with sources, when the held reference's root
 *                               distance reaches D (s, 0..16, default 1 as chrony's)
 *   controlsocket PATH          (default /run/horloge/horloged.sock; `controlsocket none` disables)
 *   pidfile PATH                (default /run/horloge/horloged.pid; `none` disables)
 *   user NAME                   drop privileges to this user after binding (default: stay)
 *   privsep on|off              steer the clock from a privileged helper process, the network process
 *                               keeping no capability (default: when `user` is set and the clock is
 *                               steered, unless under LD_PRELOAD; `on` forces it even then)
 *   seccomp on|off              system-call allow-list after start-up (default on, unless under
 *                               LD_PRELOAD; `off` for debugging)
 *   log stderr|syslog           where logs go in daemon mode (default syslog)
 *   server HOST [port P] [iburst] [minpoll N] [maxpoll N] [prefer] [xleave] [key N]
 *   pool NAME [port P] [iburst] [minpoll N] [maxpoll N] [maxsources N] [xleave]
 *                               xleave: interleaved mode (RFC 9769) with servers that offer it
 *   minsources N                (default 1)
 *   maxdistance SECONDS         (default 3)
 *   makestep THRESHOLD LIMIT    step when |offset| > THRESHOLD in the first LIMIT updates
 *                               (LIMIT -1 = always); default: never step
 *   corrtimeratio R             an offset up to 3x the estimate's error is slewed out over R update
 *                               intervals, larger ones faster (0..100, default 0.5; 0: at once)
 *   maxslewrate PPM             fastest slew on top of the frequency (1..500, default 400)
 *   leapsmear off|linear|quadratic   serve a leap second smeared over 24 h centred on it
 *                               (the system clock still makes the leap; default off)
 *   refclock DRIVER PARAM [refid ID] [poll N] [offset S] [delay S] [precision P] [prefer] [noselect] [lock ID]
 *                               a reference clock (src/io/refclock.h lists the drivers; SOCK PATH:
 *                               chrony's socket protocol, as gpsd writes it; SHM N: ntpd's
 *                               shared-memory segment N, as gpsd writes it; PPS /dev/ppsN, its
 *                               pulses numbered by `lock ID`'s clock or ours; PHC /dev/ptpN); refid 1-4 ASCII
 *                               characters (default the driver's name), poll default 4
 *   hwtimestamp IFACE           NIC (hardware) timestamps for the upstream sources' packets on
 *                               IFACE where it has them, software timestamps otherwise; repeatable
 *   driftfile PATH
 *   ntsservercert FILE / ntsserverkey FILE   an NTS-KE certificate chain and its key (PEM;
 *                               repeatable, paired in order); with them, NTS is served
 *   ntsport N                   NTS-KE TCP port (default 4460)
 *   ntsntpserver HOST / ntsntpport N   NTP server and port NTS-KE sends clients to (default: us)
 *   ntsrotate SECONDS           cookie key lifetime (default 86400; a few previous keys kept)
 *   ntsdumpdir DIR              where cookie keys are saved, so a restart keeps cookies valid
 *   ntsmasterkey FILE           a secret shared by servers of one pool: cookie keys derived from it
 *   ntsratelimit [interval I] [burst B]   NTS-KE handshakes per client address (default 0, 16)
 *   ntstrustedcerts FILE        CA certificates an NTS client trusts (default: the system store)
 *   server HOST ... nts [ntsport P]   authenticate a server with NTS
 *   leapseclist PATH            IETF/NIST leap-seconds.list; read at start and on SIGHUP (not here: a
 *                               bad file is a warning, never a config error); while not expired it
 *                               decides the leap indicator (LI=1/2 in the last UTC day before an entry)
 *   keyfile PATH                symmetric keys in chrony's format (core/keys.h); read at start and on SIGHUP
 *   ntpsigndsocket DIR          Samba's ntp_signd socket directory: MS-SNTP requests are signed there
 */
#ifndef HORLOGE_CONFIG_H
#define HORLOGE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/acl.h"
#include "core/leapsmear.h"
#include "core/netaddr.h"
#include "core/ratelimit.h"

#define CFG_MAX_LISTEN 16
#define CFG_MAX_SOURCES 32
#define CFG_PATH_MAX 256
#define CFG_HOST_MAX 256
#define CFG_DEFAULT_PATH "/etc/horloge/horloge.conf"
#define CFG_DEFAULT_CONTROLSOCKET "/run/horloge/horloged.sock"
#define CFG_DEFAULT_PIDFILE "/run/horloge/horloged.pid"

struct cfg_source {
    char host[CFG_HOST_MAX];
    uint16_t port;       /* default 123 */
    bool is_pool;
    bool iburst;
    bool prefer;
    bool xleave;         /* ask for interleaved mode (RFC 9769) */
    int minpoll;         /* default 6 */
    int maxpoll;         /* default 10 */
    unsigned maxsources; /* pools only, default 4 */
    bool nts;            /* authenticated with NTS (RFC 8915) */
    uint16_t nts_port;   /* its NTS-KE port, default 4460 */
    uint32_t key;        /* `key N`: requests signed and replies checked with keyfile key N; 0 = none */
};

#define CFG_MAX_NTS_CERTS 4

/* NTS (RFC 8915): the NTS-KE server, cookie keys, and what NTS clients trust. */
struct cfg_nts {
    unsigned n_certs, n_keys;
    char cert[CFG_MAX_NTS_CERTS][CFG_PATH_MAX];
    char key[CFG_MAX_NTS_CERTS][CFG_PATH_MAX];
    uint16_t port;                    /* ntsport, default 4460 */
    char ntp_server[CFG_HOST_MAX];    /* "" = none sent */
    uint16_t ntp_port;                /* 0 = none sent */
    unsigned rotate;                  /* s */
    char dumpdir[CFG_PATH_MAX];
    char masterkey[CFG_PATH_MAX];
    int ratelimit_interval_log2;      /* one handshake per 2^I s per client, on average */
    unsigned ratelimit_burst;
    char trusted_certs[CFG_PATH_MAX]; /* "" = the system store */
};

#define CFG_MAX_REFCLOCKS 8
#define CFG_MAX_HWTIMESTAMP 8
#define CFG_IFNAME_MAX 16 /* IFNAMSIZ, the terminating NUL included */

struct cfg_refclock {
    char driver[16];     /* as the driver table names it, e.g. "SOCK" */
    char param[CFG_PATH_MAX]; /* the driver's parameter: a path or device */
    uint32_t refid;      /* default: the driver's name */
    int poll;            /* log2 s; default 4 (chrony's) */
    double offset;       /* added to every reading, s */
    double delay;        /* the reading's uncertainty as a delay, s; default 1 ns */
    int precision;       /* log2 s; default -20 */
    bool prefer;
    bool noselect;       /* read, shown and a lock for pulses, never selected */
    uint32_t lock;       /* `lock REFID`: the reference clock that numbers this one's pulses; 0 = none */
};

enum cfg_log { CFG_LOG_SYSLOG = 0, CFG_LOG_STDERR };

/* A safeguard left to start-up's judgement (auto), or forced by the operator. */
enum cfg_switch { CFG_AUTO = 0, CFG_ON, CFG_OFF };

struct config {
    uint16_t port;
    unsigned n_listen;
    struct net_addr listen[CFG_MAX_LISTEN];
    struct acl acl;
    bool deny_kod;
    struct rl_params ratelimit;
    unsigned clientlog_size;
    unsigned threads;
    bool local_enabled;
    int local_stratum;
    double local_distance;
    char controlsocket[CFG_PATH_MAX]; /* empty = none */
    char pidfile[CFG_PATH_MAX];       /* empty = none */
    char user[64];                    /* empty = keep the starting user */
    enum cfg_switch privsep;          /* clock calls through a privileged helper (io/privsep.h) */
    enum cfg_switch seccomp;          /* system-call allow-list after start-up (io/sandbox.h) */
    enum cfg_log log;
    unsigned n_sources;
    struct cfg_source sources[CFG_MAX_SOURCES];
    unsigned n_refclocks;
    struct cfg_refclock refclocks[CFG_MAX_REFCLOCKS];
    unsigned n_hwtimestamp;
    char hwtimestamp[CFG_MAX_HWTIMESTAMP][CFG_IFNAME_MAX];
    unsigned minsources;
    double maxdistance;
    bool makestep_enabled;
    double makestep_threshold;
    int makestep_limit;
    double corrtimeratio;
    double maxslewrate;               /* ppm */
    enum leapsmear_kind leapsmear;
    char driftfile[CFG_PATH_MAX];     /* empty = none */
    char leapseclist[CFG_PATH_MAX];   /* empty = none */
    struct cfg_nts nts;
    /* `metrics ADDRESS:PORT [every SECONDS]`: the HTTP status page and /metrics (io/webserver). */
    bool metrics_enabled;
    struct net_addr metrics_addr;
    uint16_t metrics_port;
    double metrics_every;             /* seconds between the status page's plotted points */
    char keyfile[CFG_PATH_MAX];       /* empty = none */
    char ntpsigndsocket[CFG_PATH_MAX];/* Samba's ntp_signd socket directory; empty = none */
};

/* What a safeguard's log says: when it is off, forced under LD_PRELOAD, left out under LD_PRELOAD. */
struct cfg_switch_reasons {
    const char *off, *forced, *preloaded;
};
/*
 * `on`: true, `off`: false; by default (auto) true unless LD_PRELOAD is set
 * (`preloaded`): a preloaded simulator or tool must see every system call.
 * `why` gets the reason worth logging once, or NULL.
 */
bool cfg_switch_resolve(enum cfg_switch mode, bool preloaded, const struct cfg_switch_reasons *reasons,
                        const char **why);

/* Collected `file:line: message` lines, newline-separated, truncated safely when long. */
struct cfg_errors {
    unsigned count;
    char text[4096];
};

void cfg_defaults(struct config *cfg);
/* Parses `text` as if read from `name`. Returns 0, or -1 with errors in `errs` (cfg is then unspecified). */
int cfg_parse_text(const char *text, size_t len, const char *name, struct config *cfg,
                   struct cfg_errors *errs);
/* Reads and parses a file; a missing or unreadable file is one error too. */
int cfg_load_file(const char *path, struct config *cfg, struct cfg_errors *errs);
/* Parses "ADDR" or "ADDR/BITS" (IPv4 or IPv6); returns false on anything else. */
bool cfg_parse_prefix(const char *text, struct net_addr *addr, unsigned *prefix_bits);

/* ---- what a reload changes (SIGHUP) ---- */

/* The same `server`/`pool` line: host, port, kind and every option equal. */
bool cfg_source_equal(const struct cfg_source *a, const struct cfg_source *b);
/*
 * Pairs the old configuration's source lines with the fresh one's: old_to_new[i]
 * is the index in `fresh` of a line equal to old line i, or -1 when it is gone
 * (a changed line is gone and its new form new). Each fresh line is paired at
 * most once, in order, so repeated identical lines pair one to one; fills
 * new_is_kept[j] for each fresh line when not NULL. Returns the lines kept.
 */
unsigned cfg_match_sources(const struct config *old, const struct config *fresh,
                           int old_to_new[CFG_MAX_SOURCES], bool new_is_kept[CFG_MAX_SOURCES]);
/*
 * The directives that differ between old and fresh and that a reload cannot
 * apply (they take effect at the next start), as "port, listen, refclock" in
 * buf ("" when none, cut short to fit cap). Returns how many.
 */
unsigned cfg_restart_needed(const struct config *old, const struct config *fresh, char *buf, size_t cap);

#endif

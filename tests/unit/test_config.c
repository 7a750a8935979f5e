/*
 * Unit tests for config: a complete valid file, the defaults, one exact
 * `file:line: message` for each of many bad lines, several errors reported
 * together, file loading and prefix parsing; what a reload compares
 * (cfg_source_equal, cfg_match_sources, cfg_restart_needed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/nts.h"
#include "io/config.h"
#include "io/netutil.h"

static struct config cfg;
static struct cfg_errors errs;

static int parse(const char *text)
{
    return cfg_parse_text(text, strlen(text), "horloge.conf", &cfg, &errs);
}

static struct net_addr addr(const char *text)
{
    struct net_addr a;
    if (!netaddr_parse(text, &a))
        fail_msg("bad test address %s", text);
    return a;
}

static bool allows(const char *client)
{
    struct net_addr a = addr(client);
    return acl_allows(&cfg.acl, &a);
}

static void assert_addr(const struct net_addr *a, const char *text)
{
    struct net_addr b = addr(text);
    assert_int_equal(a->family, b.family);
    assert_memory_equal(a->bytes, b.bytes, sizeof b.bytes);
}

static void test_defaults(void **state)
{
    (void)state;
    assert_int_equal(parse(""), 0);
    assert_int_equal(errs.count, 0);
    assert_string_equal(errs.text, "");
    assert_int_equal(cfg.port, 123);
    assert_int_equal(cfg.n_listen, 2);
    assert_addr(&cfg.listen[0], "0.0.0.0");
    assert_addr(&cfg.listen[1], "::");
    assert_int_equal(cfg.acl.n_rules, 0);
    assert_true(allows("203.0.113.1"));
    assert_false(cfg.deny_kod);
    assert_false(cfg.ratelimit.enabled);
    assert_int_equal(cfg.ratelimit.interval_log2, 3);
    assert_int_equal(cfg.ratelimit.burst, 8);
    assert_int_equal(cfg.ratelimit.leak_log2, 2);
    assert_int_equal(cfg.clientlog_size, 65536);
    assert_int_equal(cfg.threads, 1);
    assert_false(cfg.local_enabled);
    assert_string_equal(cfg.controlsocket, CFG_DEFAULT_CONTROLSOCKET);
    assert_string_equal(cfg.pidfile, CFG_DEFAULT_PIDFILE);
    assert_string_equal(cfg.user, "");
    assert_int_equal(cfg.privsep, CFG_AUTO);
    assert_int_equal(cfg.seccomp, CFG_AUTO);
    assert_int_equal(cfg.log, CFG_LOG_SYSLOG);
    assert_int_equal(cfg.n_sources, 0);
    assert_int_equal(cfg.minsources, 1);
    assert_true(cfg.maxdistance == 3.0);
    assert_false(cfg.makestep_enabled);
    assert_string_equal(cfg.driftfile, "");
    assert_string_equal(cfg.leapseclist, "");

    struct config direct;
    cfg_defaults(&direct);
    assert_memory_equal(&direct, &cfg, sizeof cfg);
    /* Comments, blank lines, CRLF and a missing final newline are all fine. */
    assert_int_equal(parse("# only a comment\n\n   \t\r\n  # indented comment\r\n"), 0);
    assert_int_equal(parse("port 124"), 0);
    assert_int_equal(cfg.port, 124);
}

static const char full_config[] =
    "# horloge.conf exercising every directive\n"
    "port 1123\n"
    "listen 127.0.0.1\n"
    "listen ::1   # loopback only\n"
    "\n"
    "deny all\n"
    "allow 10.0.0.0/8\n"
    "deny 10.66.0.0/16\n"
    "allow 2001:db8::/32\r\n"
    "allow 192.0.2.7\n"
    "denyaction kod\n"
    "ratelimit interval 1 burst 16 leak 3\n"
    "clientlogsize 4096\n"
    "threads 4\n"
    "local stratum 8 distance 0.5\n"
    "controlsocket /tmp/horloge.sock\n"
    "pidfile none\n"
    "user _horloge\n"
    "privsep on\n"
    "seccomp off\n"
    "log stderr\n"
    "\tserver ntp1.example.net iburst prefer\n"
    "server 192.0.2.1 port 10123 minpoll 4 maxpoll 8\n"
    "server 2001:db8::123 minpoll -2 maxpoll -2\n"
    "pool pool.example.org iburst maxsources 6 maxpoll 12\n"
    "minsources 2\n"
    "maxdistance 1.5\n"
    "makestep 0.1 3\n"
    "driftfile /var/lib/horloge/drift\n"
    "leapseclist /usr/share/zoneinfo/leap-seconds.list\n";

static void test_full_config(void **state)
{
    (void)state;
    assert_int_equal(parse(full_config), 0);
    assert_int_equal(errs.count, 0);
    assert_int_equal(cfg.port, 1123);
    assert_int_equal(cfg.n_listen, 2);
    assert_addr(&cfg.listen[0], "127.0.0.1");
    assert_addr(&cfg.listen[1], "::1");
    assert_int_equal(cfg.acl.n_rules, 5);
    assert_true(allows("10.1.2.3"));
    assert_false(allows("10.66.1.1"));
    assert_true(allows("2001:db8:1::1"));
    assert_true(allows("192.0.2.7"));
    assert_false(allows("192.0.2.8"));
    assert_false(allows("2001:db9::1"));
    assert_true(cfg.deny_kod);
    assert_true(cfg.ratelimit.enabled);
    assert_int_equal(cfg.ratelimit.interval_log2, 1);
    assert_int_equal(cfg.ratelimit.burst, 16);
    assert_int_equal(cfg.ratelimit.leak_log2, 3);
    assert_int_equal(cfg.clientlog_size, 4096);
    assert_int_equal(cfg.threads, 4);
    assert_true(cfg.local_enabled);
    assert_int_equal(cfg.local_stratum, 8);
    assert_true(cfg.local_distance == 0.5);
    assert_string_equal(cfg.controlsocket, "/tmp/horloge.sock");
    assert_string_equal(cfg.pidfile, "");
    assert_string_equal(cfg.user, "_horloge");
    assert_int_equal(cfg.privsep, CFG_ON);
    assert_int_equal(cfg.seccomp, CFG_OFF);
    assert_int_equal(cfg.log, CFG_LOG_STDERR);
    assert_int_equal(cfg.n_sources, 4);

    const struct cfg_source *s = cfg.sources;
    assert_string_equal(s[0].host, "ntp1.example.net");
    assert_false(s[0].is_pool);
    assert_true(s[0].iburst && s[0].prefer);
    assert_int_equal(s[0].port, 123);
    assert_int_equal(s[0].minpoll, 6);
    assert_int_equal(s[0].maxpoll, 10);
    assert_string_equal(s[1].host, "192.0.2.1");
    assert_int_equal(s[1].port, 10123);
    assert_false(s[1].iburst || s[1].prefer);
    assert_int_equal(s[1].minpoll, 4);
    assert_int_equal(s[1].maxpoll, 8);
    assert_string_equal(s[2].host, "2001:db8::123");
    assert_int_equal(s[2].minpoll, -2);
    assert_int_equal(s[2].maxpoll, -2);
    assert_string_equal(s[3].host, "pool.example.org");
    assert_true(s[3].is_pool && s[3].iburst);
    assert_int_equal(s[3].maxsources, 6);
    assert_int_equal(s[3].minpoll, 6);
    assert_int_equal(s[3].maxpoll, 12);

    assert_int_equal(cfg.minsources, 2);
    assert_true(cfg.maxdistance == 1.5);
    assert_true(cfg.makestep_enabled);
    assert_true(cfg.makestep_threshold == 0.1);
    assert_int_equal(cfg.makestep_limit, 3);
    assert_string_equal(cfg.driftfile, "/var/lib/horloge/drift");
    assert_string_equal(cfg.leapseclist, "/usr/share/zoneinfo/leap-seconds.list");
}

static void test_directive_variants(void **state)
{
    (void)state;
    assert_int_equal(parse("allow\n"), 0);
    assert_int_equal(cfg.acl.n_rules, 1);
    assert_int_equal(cfg.acl.rules[0].net.family, NET_NONE);
    assert_true(cfg.acl.rules[0].allow);

    /* Host bits beyond the prefix are dropped. */
    assert_int_equal(parse("deny 10.1.2.3/8\n"), 0);
    assert_addr(&cfg.acl.rules[0].net, "10.0.0.0");
    assert_int_equal(cfg.acl.rules[0].prefix_bits, 8);

    assert_int_equal(parse("ratelimit\nlocal\ncontrolsocket none\nmakestep 1 -1\nport 0\n"), 0);
    assert_true(cfg.ratelimit.enabled);
    assert_int_equal(cfg.ratelimit.interval_log2, 3);
    assert_int_equal(cfg.ratelimit.burst, 8);
    assert_int_equal(cfg.ratelimit.leak_log2, 2);
    assert_true(cfg.local_enabled);
    assert_int_equal(cfg.local_stratum, 10);
    assert_string_equal(cfg.controlsocket, "");
    assert_int_equal(cfg.makestep_limit, -1);
    assert_int_equal(cfg.port, 0);

    /* A lone minpoll or maxpoll drags the default other bound along. */
    assert_int_equal(parse("server a.example minpoll 12\nserver b.example maxpoll 3\n"), 0);
    assert_int_equal(cfg.sources[0].minpoll, 12);
    assert_int_equal(cfg.sources[0].maxpoll, 12);
    assert_int_equal(cfg.sources[1].minpoll, 3);
    assert_int_equal(cfg.sources[1].maxpoll, 3);

    /* Repeated single-value directives: the last one counts. */
    assert_int_equal(parse("threads 2\nthreads 3\nlog stderr\nlog syslog\n"), 0);
    assert_int_equal(cfg.threads, 3);
    /* threads 0: no serving threads, the sockets are served from the event loop. */
    assert_int_equal(parse("threads 0\n"), 0);
    assert_int_equal(cfg.threads, 0);
    assert_int_equal(cfg.log, CFG_LOG_SYSLOG);
}

struct bad_line {
    const char *line;
    const char *message;
};

/* Each is put on line 3 of a file whose other lines are valid. */
static const struct bad_line bad_lines[] = {
    {"alow 10.0.0.0/8", "unknown directive 'alow'"},
    {"Port 123", "unknown directive 'Port'"},
    {"port 70000", "port: '70000' is not a port number (0..65535)"},
    {"port -1", "port: '-1' is not a port number (0..65535)"},
    {"port 12a", "port: '12a' is not a port number (0..65535)"},
    {"port +5", "port: '+5' is not a port number (0..65535)"},
    {"port 99999999999999999999", "port: '99999999999999999999' is not a port number (0..65535)"},
    {"port", "port: missing argument"},
    {"port 123 456", "port: unexpected '456'"},
    {"listen 10.0.0.0/8", "listen: '10.0.0.0/8' is not an IPv4 or IPv6 address"},
    {"listen localhost", "listen: 'localhost' is not an IPv4 or IPv6 address"},
    {"listen 127.0.0.1 ::1", "listen: unexpected '::1'"},
    {"allow 10.0.0.0/33", "allow: '10.0.0.0/33' is not an address or prefix"},
    {"allow 2001:db8::/129", "allow: '2001:db8::/129' is not an address or prefix"},
    {"deny 10.0.0.0/", "deny: '10.0.0.0/' is not an address or prefix"},
    {"deny 10.0.0/8", "deny: '10.0.0/8' is not an address or prefix"},
    {"allow all 10.0.0.0/8", "allow: unexpected '10.0.0.0/8'"},
    {"denyaction reject", "denyaction: 'reject' is not drop or kod"},
    {"privsep yes", "privsep: 'yes' is not on or off"},
    {"seccomp", "seccomp: missing argument"},
    {"ratelimit interval 13", "ratelimit: '13' is not an interval exponent (-4..12)"},
    {"ratelimit interval -5", "ratelimit: '-5' is not an interval exponent (-4..12)"},
    {"ratelimit burst 0", "ratelimit: '0' is not a burst size (1..255)"},
    {"ratelimit burst 256", "ratelimit: '256' is not a burst size (1..255)"},
    {"ratelimit leak 5", "ratelimit: '5' is not a leak exponent (0..4)"},
    {"ratelimit leak", "ratelimit: leak needs a value"},
    {"ratelimit speed 3", "ratelimit: unknown option 'speed'"},
    {"clientlogsize 1000", "clientlogsize: '1000' is not a power of two (16..1048576)"},
    {"clientlogsize 8", "clientlogsize: '8' is not a power of two (16..1048576)"},
    {"clientlogsize 2097152", "clientlogsize: '2097152' is not a power of two (16..1048576)"},
    {"threads -1", "threads: '-1' is not a thread count (0..64)"},
    {"threads 65", "threads: '65' is not a thread count (0..64)"},
    {"threads 1.5", "threads: '1.5' is not a thread count (0..64)"},
    {"local stratum 16", "local: '16' is not a stratum (1..15)"},
    {"local stratum 0", "local: '0' is not a stratum (1..15)"},
    {"local distance -1", "local: '-1' is not a distance in seconds (0..16)"},
    {"local distance nan", "local: 'nan' is not a distance in seconds (0..16)"},
    {"local orphan", "local: unknown option 'orphan'"},
    {"controlsocket /tmp/a/very/long/path/for/a/unix/domain/socket/that/does/not/fit/into/the/sun_path/of/one/hundred/and/eight/bytes.sock",
     "controlsocket: path is too long (at most 107 characters)"},
    {"pidfile", "pidfile: missing argument"},
    {"user root:root", "user: 'root:root' is not a user name"},
    {"user -r", "user: '-r' is not a user name"},
    {"log file", "log: 'file' is not stderr or syslog"},
    {"server", "server: missing argument"},
    {"server ntp.example.net burst", "server: unknown option 'burst'"},
    {"server ntp.example.net maxsources 3", "server: unknown option 'maxsources'"},
    {"pool pool.example.net prefer", "pool: unknown option 'prefer'"},
    {"server -ntp.example.net", "server: '-ntp.example.net' is not a host name or address"},
    {"server ntp.example.net port 0", "server: '0' is not a port number (1..65535)"},
    {"server ntp.example.net minpoll -7", "server: '-7' is not a poll exponent (-6..17)"},
    {"server ntp.example.net maxpoll 18", "server: '18' is not a poll exponent (-6..17)"},
    {"server ntp.example.net minpoll 8 maxpoll 6", "server: minpoll 8 is greater than maxpoll 6"},
    {"server ntp.example.net minpoll", "server: minpoll needs a value"},
    {"pool pool.example.net maxsources 17", "pool: '17' is not a source count (1..16)"},
    {"minsources 0", "minsources: '0' is not a source count (1..16)"},
    {"maxdistance 0", "maxdistance: '0' is not a distance in seconds (above 0, at most 16)"},
    {"maxdistance 1e3", "maxdistance: '1e3' is not a distance in seconds (above 0, at most 16)"},
    {"maxdistance 0x2", "maxdistance: '0x2' is not a distance in seconds (above 0, at most 16)"},
    {"makestep 0 3", "makestep: '0' is not a threshold in seconds (above 0)"},
    {"makestep 1 -2", "makestep: '-2' is not an update count (-1..2147483647)"},
    {"makestep 1", "makestep: missing argument"},
    {"makestep 1 3 5", "makestep: unexpected '5'"},
    {"driftfile", "driftfile: missing argument"},
    {"leapseclist /a /b", "leapseclist: unexpected '/b'"},
    {"keyfile", "keyfile: missing argument"},
    {"server ntp.example.net key 0", "server: '0' is not a key id (1..4294967295)"},
    {"server ntp.example.net key 4294967296", "server: '4294967296' is not a key id (1..4294967295)"},
    {"pool pool.example.net key 1", "pool: unknown option 'key'"},
    {"ntpsigndsocket /var/lib/samba/a/directory/whose/socket/would/not/fit/into/the/sun_path/of/a/unix/domain/socket/xyz1",
     "ntpsigndsocket: path is too long (at most 99 characters)"},
    {"port \x01\x7f", "port: '?\?' is not a port number (0..65535)"},
};

static void test_bad_lines(void **state)
{
    (void)state;
    assert_true(sizeof bad_lines / sizeof bad_lines[0] >= 25);
    for (size_t i = 0; i < sizeof bad_lines / sizeof bad_lines[0]; i++) {
        char text[512], expected[512];
        snprintf(text, sizeof text, "port 123\n# fine so far\n%s\nthreads 2\n", bad_lines[i].line);
        snprintf(expected, sizeof expected, "horloge.conf:3: %s\n", bad_lines[i].message);
        int rc = parse(text);
        if (rc != -1 || errs.count != 1 || strcmp(errs.text, expected) != 0)
            fail_msg("line '%s': rc %d, %u errors:\n%sexpected:\n%s", bad_lines[i].line, rc,
                     errs.count, errs.text, expected);
    }
}

static void test_nts_directives(void **state)
{
    (void)state;
    assert_int_equal(parse(""), 0);
    assert_int_equal(cfg.nts.n_certs, 0);
    assert_int_equal(cfg.nts.port, NTS_KE_DEFAULT_PORT);
    assert_int_equal(cfg.nts.rotate, 86400);
    assert_int_equal(parse("ntsservercert /a.crt\nntsserverkey /a.key\nntsservercert /b.crt\nntsserverkey /b.key\n"
                           "ntsport 4461\nntsntpserver ntp.example\nntsntpport 1123\nntsrotate 3600\n"
                           "ntsdumpdir /var/lib/h\nntsmasterkey /etc/h/secret\nntsratelimit interval 2 burst 4\n"
                           "ntstrustedcerts /etc/h/ca.pem\nserver time.example nts ntsport 4000 iburst\n"
                           "server other.example\n"), 0);
    assert_int_equal(cfg.nts.n_certs, 2);
    assert_string_equal(cfg.nts.cert[1], "/b.crt");
    assert_string_equal(cfg.nts.key[1], "/b.key");
    assert_int_equal(cfg.nts.port, 4461);
    assert_string_equal(cfg.nts.ntp_server, "ntp.example");
    assert_int_equal(cfg.nts.ntp_port, 1123);
    assert_int_equal(cfg.nts.rotate, 3600);
    assert_string_equal(cfg.nts.masterkey, "/etc/h/secret");
    assert_int_equal(cfg.nts.ratelimit_interval_log2, 2);
    assert_int_equal(cfg.nts.ratelimit_burst, 4);
    assert_string_equal(cfg.nts.trusted_certs, "/etc/h/ca.pem");
    assert_true(cfg.sources[0].nts && cfg.sources[0].iburst);
    assert_int_equal(cfg.sources[0].nts_port, 4000);
    assert_false(cfg.sources[1].nts);
    assert_int_equal(cfg.sources[1].nts_port, NTS_KE_DEFAULT_PORT);
    /* Unpaired certificates and keys, a pool with nts, a short rotation: refused. */
    assert_int_equal(parse("ntsservercert /a.crt\n"), -1);
    assert_non_null(strstr(errs.text, "come in pairs: 1 certificate(s), 0 key(s)"));
    assert_int_equal(parse("pool p.example nts\n"), -1);
    assert_int_equal(parse("ntsrotate 10\n"), -1);
    assert_int_equal(parse("ntsratelimit speed 3\n"), -1);
    /* A renewed certificate applies on reload; the other NTS server settings wait for a restart. */
    static struct config old;
    assert_int_equal(parse("ntsservercert /a.crt\nntsserverkey /a.key\n"), 0);
    old = cfg;
    char what[160];
    assert_int_equal(parse("ntsservercert /new.crt\nntsserverkey /new.key\n"), 0);
    assert_int_equal(cfg_restart_needed(&old, &cfg, what, sizeof what), 0);
    assert_int_equal(parse("ntsservercert /a.crt\nntsserverkey /a.key\nntsport 4462\n"), 0);
    assert_int_equal(cfg_restart_needed(&old, &cfg, what, sizeof what), 1);
    assert_string_equal(what, "nts (other than the certificates)");
}

static void test_many_errors_reported(void **state)
{
    (void)state;
    const char *text = "port 1\n"
                       "alow all\n"
                       "threads 99\n"
                       "\n"
                       "allow 10.0.0.0/33   # typo\n"
                       "server ntp.example.net iburst\n"
                       "ratelimit interval 99 burst 0\n"
                       "log\n";
    assert_int_equal(parse(text), -1);
    assert_int_equal(errs.count, 6);
    assert_string_equal(errs.text,
                        "horloge.conf:2: unknown directive 'alow'\n"
                        "horloge.conf:3: threads: '99' is not a thread count (0..64)\n"
                        "horloge.conf:5: allow: '10.0.0.0/33' is not an address or prefix\n"
                        "horloge.conf:7: ratelimit: '99' is not an interval exponent (-4..12)\n"
                        "horloge.conf:7: ratelimit: '0' is not a burst size (1..255)\n"
                        "horloge.conf:8: log: missing argument\n");
}

static void test_error_text_is_bounded(void **state)
{
    (void)state;
    static char text[64 * 1024];
    size_t len = 0;
    for (int i = 0; i < 1000; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "bogus%d\n", i);
    assert_int_equal(cfg_parse_text(text, len, "x.conf", &cfg, &errs), -1);
    assert_int_equal(errs.count, 1000);
    size_t n = strlen(errs.text);
    assert_true(n < sizeof errs.text);
    assert_string_equal(errs.text + n - 4, "...\n");
    assert_memory_equal(errs.text, "x.conf:1: unknown directive 'bogus0'\n", 37);
}

static void test_limits(void **state)
{
    (void)state;
    static char text[64 * 1024];
    size_t len = 0;
    for (int i = 0; i < 17; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "listen 127.0.0.%d\n", i + 1);
    assert_int_equal(cfg_parse_text(text, len, "h.conf", &cfg, &errs), -1);
    assert_string_equal(errs.text, "h.conf:17: listen: more than 16 addresses\n");

    assert_int_equal(parse("listen ::1\nlisten ::1\n"), -1);
    assert_string_equal(errs.text, "horloge.conf:2: listen: '::1' is given twice\n");

    len = 0;
    for (int i = 0; i < 33; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "server s%d.example\n", i);
    assert_int_equal(cfg_parse_text(text, len, "h.conf", &cfg, &errs), -1);
    assert_string_equal(errs.text, "h.conf:33: server: more than 32 servers and pools\n");

    len = 0;
    for (int i = 0; i < ACL_MAX_RULES + 1; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "deny 10.%d.0.0/16\n", i % 250);
    assert_int_equal(cfg_parse_text(text, len, "h.conf", &cfg, &errs), -1);
    assert_string_equal(errs.text, "h.conf:257: deny: more than 256 allow and deny rules\n");

    memset(text, 'x', 2000);
    memcpy(text + 2000, "\nport 1\0\n", 9);
    assert_int_equal(cfg_parse_text(text, 2009, "h.conf", &cfg, &errs), -1);
    assert_string_equal(errs.text, "h.conf:1: line is too long (at most 1023 characters)\n"
                                   "h.conf:2: line contains a NUL byte\n");

    len = 0;
    for (int i = 0; i < 40; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "a%d ", i);
    assert_int_equal(cfg_parse_text(text, len, "h.conf", &cfg, &errs), -1);
    assert_string_equal(errs.text, "h.conf:1: too many words (at most 32)\n");

    /* A long word is cut short in the message. */
    memset(text, 'y', 300);
    text[300] = '\0';
    assert_int_equal(parse(text), -1);
    char expected[200];
    snprintf(expected, sizeof expected, "horloge.conf:1: unknown directive '%.64s...'\n", text);
    assert_string_equal(errs.text, expected);
}

static void test_load_file(void **state)
{
    (void)state;
    char path[] = "/tmp/horloge-test-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char body[] = "port 4123\nthreads 99\n";
    assert_int_equal(write(fd, body, sizeof body - 1), (ssize_t)(sizeof body - 1));
    close(fd);
    assert_int_equal(cfg_load_file(path, &cfg, &errs), -1);
    char expected[256];
    snprintf(expected, sizeof expected, "%s:2: threads: '99' is not a thread count (0..64)\n", path);
    assert_string_equal(errs.text, expected);

    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(full_config, f);
    fclose(f);
    assert_int_equal(cfg_load_file(path, &cfg, &errs), 0);
    assert_int_equal(cfg.port, 1123);
    assert_int_equal(cfg.n_sources, 4);
    unlink(path);

    assert_int_equal(cfg_load_file(path, &cfg, &errs), -1);
    assert_int_equal(errs.count, 1);
    snprintf(expected, sizeof expected, "%s: cannot read: No such file or directory\n", path);
    assert_string_equal(errs.text, expected);

    assert_int_equal(cfg_load_file("/tmp", &cfg, &errs), -1);
    assert_string_equal(errs.text, "/tmp: cannot read: Is a directory\n");
}

static void test_parse_prefix(void **state)
{
    (void)state;
    struct net_addr a;
    unsigned bits;
    assert_true(cfg_parse_prefix("192.0.2.1", &a, &bits));
    assert_addr(&a, "192.0.2.1");
    assert_int_equal(bits, 32);
    assert_true(cfg_parse_prefix("2001:db8::/32", &a, &bits));
    assert_addr(&a, "2001:db8::");
    assert_int_equal(bits, 32);
    assert_true(cfg_parse_prefix("::1", &a, &bits));
    assert_int_equal(bits, 128);
    assert_true(cfg_parse_prefix("0.0.0.0/0", &a, &bits));
    assert_int_equal(bits, 0);
    assert_true(cfg_parse_prefix("::/128", &a, &bits));
    assert_int_equal(bits, 128);

    const char *bad[] = {"", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/+8",
                         "10.0.0.0/8/8", "10.0.0.0/ 8", "10.0.0.0/0008", "::/129", "10.0.0",
                         "10.0.0.256", "fe80::1%eth0", "example.com", " 10.0.0.1", "10.0.0.1/8x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (cfg_parse_prefix(bad[i], &a, &bits))
            fail_msg("'%s' accepted", bad[i]);
}

static void test_refclock(void **state)
{
    (void)state;
    assert_int_equal(parse("refclock SOCK /run/chrony.ttyS0.sock refid GPS poll 3 offset -0.002 "
                           "delay 0.0002 precision -12 prefer\n"
                           "refclock SOCK /tmp/second.sock\n"
                           "refclock PPS /dev/pps0 lock GPS noselect\n"),
                     0);
    assert_int_equal(cfg.n_refclocks, 3);
    assert_int_equal(cfg.refclocks[2].lock, 0x47505300); /* "GPS" */
    assert_int_equal(cfg.refclocks[0].lock, 0);
    assert_true(cfg.refclocks[2].noselect && !cfg.refclocks[0].noselect);
    const struct cfg_refclock *rc = &cfg.refclocks[0];
    assert_string_equal(rc->driver, "SOCK");
    assert_string_equal(rc->param, "/run/chrony.ttyS0.sock");
    assert_int_equal(rc->refid, 0x47505300); /* "GPS" */
    assert_int_equal(rc->poll, 3);
    assert_true(rc->offset == -0.002 && rc->delay == 0.0002);
    assert_int_equal(rc->precision, -12);
    assert_true(rc->prefer);
    rc = &cfg.refclocks[1];
    assert_int_equal(rc->refid, 0x534f434b); /* the driver's name */
    assert_int_equal(rc->poll, 4);
    assert_false(rc->prefer);

    static const struct {
        const char *line, *message;
    } bad[] = {
        {"refclock GPIO 0", "refclock: unknown driver 'GPIO' (known: SOCK, SHM, PPS, PHC)"},
        {"refclock SHM 218", "refclock: '218' is not a segment number (0-217)"},
        {"refclock SHM x", "refclock: 'x' is not a segment number (0-217)"},
        {"refclock SOCK", "refclock: missing argument"},
        {"refclock SOCK /s refid TOOLONG", "refclock: 'TOOLONG' is not a refid (1 to 4 ASCII characters)"},
        {"refclock SOCK /s poll 40", "refclock: '40' is not a poll exponent (-6..17)"},
        {"refclock SOCK /s offset 2", "refclock: '2' is not an offset in seconds (-1..1)"},
        {"refclock SOCK /s delay 0", "refclock: '0' is not a delay in seconds (above 0, at most 1)"},
        {"refclock SOCK /s noise", "refclock: unknown option 'noise'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[256], expected[256];
        snprintf(text, sizeof text, "%s\n", bad[i].line);
        snprintf(expected, sizeof expected, "horloge.conf:1: %s\n", bad[i].message);
        if (parse(text) != -1 || strcmp(errs.text, expected) != 0)
            fail_msg("'%s': got '%s', expected '%s'", bad[i].line, errs.text, expected);
    }
}

static struct config parsed(const char *text)
{
    assert_int_equal(parse(text), 0);
    return cfg;
}

static void test_source_equal(void **state)
{
    (void)state;
    struct config c = parsed("server 192.0.2.1 iburst minpoll 4\n"
                             "server 192.0.2.1 minpoll 4 iburst\n"   /* same options, other order */
                             "server 192.0.2.1 iburst minpoll 5\n"
                             "server 192.0.2.1 iburst minpoll 4 port 124\n"
                             "pool 192.0.2.1 iburst minpoll 4\n"
                             "server 192.0.2.1 iburst minpoll 4 prefer\n"
                             "server 192.0.2.2 iburst minpoll 4\n"
                             "server 192.0.2.1 minpoll 4\n"
                             "pool 192.0.2.1 iburst minpoll 4 maxsources 2\n"
                             "server 192.0.2.1 iburst minpoll 4 key 7\n");
    assert_true(cfg_source_equal(&c.sources[0], &c.sources[1]));
    assert_true(cfg_source_equal(&c.sources[0], &c.sources[0]));
    for (unsigned i = 2; i < 8; i++)
        assert_false(cfg_source_equal(&c.sources[0], &c.sources[i]));
    assert_false(cfg_source_equal(&c.sources[4], &c.sources[8])); /* maxsources */
    assert_false(cfg_source_equal(&c.sources[0], &c.sources[9])); /* key */
    assert_int_equal(c.sources[9].key, 7);
}

static void test_xleave_and_hwtimestamp(void **state)
{
    (void)state;
    struct config c = parsed("server 192.0.2.1 iburst xleave\npool pool.example xleave\n"
                             "server 192.0.2.1 iburst\nhwtimestamp eth0\nhwtimestamp lo\n");
    assert_true(c.sources[0].xleave && c.sources[1].xleave && !c.sources[2].xleave);
    assert_false(cfg_source_equal(&c.sources[0], &c.sources[2])); /* xleave is part of the line */
    assert_int_equal(c.n_hwtimestamp, 2);
    assert_string_equal(c.hwtimestamp[0], "eth0");
    assert_string_equal(c.hwtimestamp[1], "lo");
    struct config other = parsed("hwtimestamp eth0\n");
    char buf[128];
    assert_int_equal(cfg_restart_needed(&c, &other, buf, sizeof buf), 1);
    assert_string_equal(buf, "hwtimestamp");
    assert_int_equal(parse("hwtimestamp a:1\nhwtimestamp 0123456789abcdef\nhwtimestamp eth0 eth1\n"), -1);
    assert_int_equal(errs.count, 3);
}

static void test_match_sources(void **state)
{
    (void)state;
    struct config old = parsed("server 192.0.2.1\nserver 192.0.2.2 iburst\npool pool.example\n"
                               "server 192.0.2.9\nserver 192.0.2.9\n");
    /* .1 gone, .2 changed (removed + added), the pool moved up, one of the two .9 lines gone, .3 new */
    struct config fresh = parsed("pool pool.example\nserver 192.0.2.9\nserver 192.0.2.2\n"
                                 "server 192.0.2.3\n");
    int map[CFG_MAX_SOURCES];
    bool kept[CFG_MAX_SOURCES];
    assert_int_equal(cfg_match_sources(&old, &fresh, map, kept), 2);
    assert_int_equal(map[0], -1);
    assert_int_equal(map[1], -1);
    assert_int_equal(map[2], 0);
    assert_int_equal(map[3], 1);
    assert_int_equal(map[4], -1);
    assert_true(kept[0] && kept[1]);
    assert_false(kept[2] || kept[3]);

    /* The same configuration keeps everything in place; an empty one keeps nothing. */
    assert_int_equal(cfg_match_sources(&old, &old, map, NULL), 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(map[i], i);
    struct config none = parsed("local stratum 10\n");
    assert_int_equal(cfg_match_sources(&old, &none, map, NULL), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(map[i], -1);
    assert_int_equal(cfg_match_sources(&none, &old, map, kept), 0);
    for (int j = 0; j < 5; j++)
        assert_false(kept[j]);
}

static void test_restart_needed(void **state)
{
    (void)state;
    struct config old = parsed("port 123\nserver 192.0.2.1\nminsources 1\nallow\nlocal stratum 10\n"
                               "refclock SOCK /run/a.sock\n");
    /* What a reload applies (sources, selection, access, local, leap list, drift file) needs no restart. */
    struct config fresh = parsed("port 123\nserver 192.0.2.2\nminsources 2\nmaxdistance 1\n"
                                 "makestep 1 3\ndeny 192.0.2.0/24\nlocal stratum 9\n"
                                 "ratelimit\ndriftfile /var/lib/x\nleapseclist /tmp/l\n"
                                 "refclock SOCK /run/a.sock\nkeyfile /etc/horloge/keys\n");
    char what[256];
    assert_int_equal(cfg_restart_needed(&old, &fresh, what, sizeof what), 0);
    assert_string_equal(what, "");

    fresh = parsed("port 124\nlisten 127.0.0.1\nthreads 2\nclientlogsize 1024\ncontrolsocket none\n"
                   "pidfile none\nuser nobody\nlog stderr\nrefclock SOCK /run/b.sock\n");
    assert_int_equal(cfg_restart_needed(&old, &fresh, what, sizeof what), 9);
    assert_string_equal(what, "port, listen, threads, clientlogsize, controlsocket, pidfile, user, log, refclock");
    /* A refclock option alone counts; the text is cut short, never overrun. */
    fresh = parsed("port 123\nrefclock SOCK /run/a.sock poll 3\nntpsigndsocket /var/lib/samba/ntp_signd\n");
    assert_int_equal(cfg_restart_needed(&old, &fresh, what, sizeof what), 2);
    assert_string_equal(what, "refclock, ntpsigndsocket");
    fresh = parsed("port 124\nthreads 2\nrefclock SOCK /run/a.sock\n");
    char small[8];
    assert_int_equal(cfg_restart_needed(&old, &fresh, small, sizeof small), 2);
    assert_string_equal(small, "port, t");
}

/* metrics ADDRESS:PORT [every SECONDS]: off by default; a reload cannot move it. */
static void test_metrics_directive(void **state)
{
    (void)state;
    assert_int_equal(parse("port 124"), 0);
    assert_false(cfg.metrics_enabled);
    assert_true(cfg.metrics_every == 60.0);
    assert_int_equal(parse("metrics 127.0.0.1:9123"), 0);
    assert_true(cfg.metrics_enabled);
    assert_addr(&cfg.metrics_addr, "127.0.0.1");
    assert_int_equal(cfg.metrics_port, 9123);
    assert_int_equal(parse("metrics [::1]:80 every 5"), 0);
    assert_addr(&cfg.metrics_addr, "::1");
    assert_int_equal(cfg.metrics_port, 80);
    assert_true(cfg.metrics_every == 5.0);
    static const char *const bad[] = {"metrics", "metrics 127.0.0.1", "metrics 127.0.0.1:0", "metrics ::1:80",
                                      "metrics host.example:80", "metrics 10.0.0.0/8:80", "metrics [::1]80",
                                      "metrics 127.0.0.1:9123 every 0", "metrics 127.0.0.1:9123 often 5",
                                      "metrics 127.0.0.1:9123 every 5 x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (parse(bad[i]) != -1)
            fail_msg("accepted '%s'", bad[i]);
        assert_non_null(strstr(errs.text, "metrics"));
    }
    struct config old, fresh;
    cfg_parse_text("metrics 127.0.0.1:9123\n", 23, "a", &old, &errs);
    cfg_parse_text("metrics 127.0.0.1:9124\n", 23, "b", &fresh, &errs);
    char what[64];
    assert_int_equal(cfg_restart_needed(&old, &fresh, what, sizeof what), 1);
    assert_string_equal(what, "metrics");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_full_config),
        cmocka_unit_test(test_directive_variants),
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_many_errors_reported),
        cmocka_unit_test(test_error_text_is_bounded),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_parse_prefix),
        cmocka_unit_test(test_refclock),
        cmocka_unit_test(test_source_equal),
        cmocka_unit_test(test_xleave_and_hwtimestamp),
        cmocka_unit_test(test_match_sources),
        cmocka_unit_test(test_restart_needed),
        cmocka_unit_test(test_nts_directives),
        cmocka_unit_test(test_metrics_directive),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}

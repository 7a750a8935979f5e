/* log: stderr or syslog output; see log.h. */
#include "io/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>

static int log_to_syslog;
static enum log_level log_max = LOG_LEVEL_INFO;

void log_open(const char *ident, int to_syslog, enum log_level max_level)
{
    log_to_syslog = to_syslog;
    log_max = max_level;
    if (to_syslog)
        openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_close(void)
{
    if (log_to_syslog)
        closelog();
}

static int syslog_priority(enum log_level level)
{
    static const int map[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
    return map[level];
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level > log_max)
        return;
    va_list ap;
    va_start(ap, fmt);
    if (log_to_syslog) {
        vsyslog(syslog_priority(level), fmt, ap);
    } else {
        static const char *const names[] = {"error", "warning", "info", "debug"};
        char stamp[32];
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
        fprintf(stderr, "%s horloged %s: ", stamp, names[level]);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
    }
    va_end(ap);
}

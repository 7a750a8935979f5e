/* driftfile: chrony-compatible frequency file, read and replaced atomically; see driftfile.h. */
#include "io/driftfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/atomicfile.h"

/* Longer than any line we or chrony write: anything beyond is not a drift file. */
#define DRIFT_TEXT_MAX 256

const char *drift_status_name(enum drift_status status)
{
    switch (status) {
    case DRIFT_OK: return "ok";
    case DRIFT_MISSING: return "missing";
    case DRIFT_IO: return "I/O error";
    case DRIFT_CORRUPT: return "corrupt (expected \"FREQ SKEW\")";
    case DRIFT_RANGE: return "value out of range";
    case DRIFT_STATUS_COUNT: break;
    }
    return "unknown";
}

static enum drift_status fail(enum drift_status status, int err, int *sys_errno)
{
    if (sys_errno)
        *sys_errno = err;
    return status;
}

enum drift_status drift_parse(const char *text, struct drift_value *out)
{
    char *end;
    double values[2];
    const char *p = text;
    for (int i = 0; i < 2; i++) {
        values[i] = strtod(p, &end);
        if (end == p)
            return DRIFT_CORRUPT;
        p = end;
    }
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    if (*p != '\0' || !isfinite(values[0]) || !isfinite(values[1]))
        return DRIFT_CORRUPT;
    if (fabs(values[0]) > DRIFT_MAX_FREQ_PPM || values[1] < 0 || values[1] > DRIFT_MAX_SKEW_PPM)
        return DRIFT_RANGE;
    out->freq_ppm = -values[0];
    out->skew_ppm = values[1];
    return DRIFT_OK;
}

static ssize_t read_all(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    while (len < cap) {
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        len += (size_t)n;
    }
    return (ssize_t)len;
}

enum drift_status drift_read(const char *path, struct drift_value *out, int *sys_errno)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(errno == ENOENT ? DRIFT_MISSING : DRIFT_IO, errno, sys_errno);
    char text[DRIFT_TEXT_MAX + 1];
    ssize_t len = read_all(fd, text, DRIFT_TEXT_MAX + 1);
    int err = errno;
    close(fd);
    if (len < 0)
        return fail(DRIFT_IO, err, sys_errno);
    if ((size_t)len > DRIFT_TEXT_MAX || memchr(text, '\0', (size_t)len))
        return fail(DRIFT_CORRUPT, 0, sys_errno);
    text[len] = '\0';
    return fail(drift_parse(text, out), 0, sys_errno);
}

enum drift_status drift_write(const char *path, const struct drift_value *value, int *sys_errno)
{
    if (!isfinite(value->freq_ppm) || !isfinite(value->skew_ppm) ||
        fabs(value->freq_ppm) > DRIFT_MAX_FREQ_PPM || value->skew_ppm < 0 ||
        value->skew_ppm > DRIFT_MAX_SKEW_PPM)
        return fail(DRIFT_RANGE, 0, sys_errno);
    char text[DRIFT_TEXT_MAX];
    snprintf(text, sizeof text, "%20.6f %20.6f\n", 0.0 - value->freq_ppm, value->skew_ppm);
    if (atomicfile_write(path, text, strlen(text), 0644) < 0)
        return fail(DRIFT_IO, errno, sys_errno);
    return fail(DRIFT_OK, 0, sys_errno);
}

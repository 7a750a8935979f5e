/* sockio: shared socket plumbing; see sockio.h. */
#include "io/sockio.h"

#include <fcntl.h>
#include <linux/net_tstamp.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

int sockio_set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return -1;
    return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

int sockio_enable_rx_timestamps(int fd)
{
    int flags = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
    return setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof flags);
}

bool sockio_rx_timestamp(struct msghdr *msg, struct unix_time *out)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_TIMESTAMPING ||
            c->cmsg_len < CMSG_LEN(sizeof(struct timespec)))
            continue;
        struct timespec ts;
        memcpy(&ts, CMSG_DATA(c), sizeof ts); /* ts[0] is the software timestamp */
        if (ts.tv_sec == 0 && ts.tv_nsec == 0)
            continue;
        *out = (struct unix_time){ts.tv_sec, (uint32_t)ts.tv_nsec};
        return true;
    }
    return false;
}

uint64_t sockio_random64(void)
{
    uint64_t v;
    if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        v = ((uint64_t)ts.tv_nsec << 32) ^ (uint64_t)ts.tv_sec ^ (uint64_t)getpid();
    }
    return v;
}

ntp_ts sockio_realtime_ntp(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ntp_from_unix((struct unix_time){ts.tv_sec, (uint32_t)ts.tv_nsec});
}

uint64_t sockio_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* sockio: shared socket plumbing; see sockio.h. */
#include "io/sockio.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <netinet/in.h>
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

int sockio_enable_timestamps(int fd, bool tx_all, int hw_flags)
{
    int rx = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
    /* TSONLY: the error queue returns the timestamp alone, not a copy of the datagram. */
    int tx = rx | SOF_TIMESTAMPING_OPT_ID | SOF_TIMESTAMPING_OPT_TSONLY |
             (tx_all ? SOF_TIMESTAMPING_TX_SOFTWARE : 0);
    if (hw_flags && setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &(int){tx | hw_flags}, sizeof tx) == 0)
        return 0;
    if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &tx, sizeof tx) == 0)
        return 0;
    return sockio_enable_rx_timestamps(fd) == 0 ? 1 : -1;
}

void sockio_request_tx_timestamp(struct msghdr *msg, void *control)
{
    _Static_assert(CMSG_SPACE(sizeof(uint32_t)) <= SOCKIO_TX_CONTROL_LEN, "room for the cmsg");
    memset(control, 0, SOCKIO_TX_CONTROL_LEN);
    msg->msg_control = control;
    msg->msg_controllen = CMSG_SPACE(sizeof(uint32_t));
    struct cmsghdr *c = CMSG_FIRSTHDR(msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SO_TIMESTAMPING;
    c->cmsg_len = CMSG_LEN(sizeof(uint32_t));
    uint32_t flags = SOF_TIMESTAMPING_TX_SOFTWARE;
    memcpy(CMSG_DATA(c), &flags, sizeof flags);
}

static bool is_recverr(const struct cmsghdr *c)
{
    return (c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
           (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR);
}

/* The datagram's number from a timestamping report on the error queue. */
static bool tx_key(struct msghdr *msg, uint32_t *key)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        if (!is_recverr(c) || c->cmsg_len < CMSG_LEN(sizeof(struct sock_extended_err)))
            continue;
        struct sock_extended_err err;
        memcpy(&err, CMSG_DATA(c), sizeof err);
        if (err.ee_errno != ENOMSG || err.ee_origin != SO_EE_ORIGIN_TIMESTAMPING)
            continue;
        *key = err.ee_data;
        return true;
    }
    return false;
}

int sockio_read_tx_timestamp(int fd, struct sockio_stamp *out, uint32_t *key)
{
    uint8_t data[64];
    uint8_t control[256];
    struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                         .msg_controllen = sizeof control};
    if (recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
        return -1;
    return sockio_stamp_of(&msg, out) && tx_key(&msg, key) ? 1 : 0;
}

/* The interface a stamp came through: SCM_TIMESTAMPING_PKTINFO (received), IP(V6)_PKTINFO (sent). */
static int stamp_ifindex(const struct cmsghdr *c)
{
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPING_PKTINFO &&
        c->cmsg_len >= CMSG_LEN(sizeof(struct scm_ts_pktinfo))) {
        struct scm_ts_pktinfo info;
        memcpy(&info, CMSG_DATA(c), sizeof info);
        return (int)info.if_index;
    }
    if (c->cmsg_level == SOL_IP && c->cmsg_type == IP_PKTINFO &&
        c->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
        struct in_pktinfo info;
        memcpy(&info, CMSG_DATA(c), sizeof info);
        return info.ipi_ifindex;
    }
    if (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
        c->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
        struct in6_pktinfo info;
        memcpy(&info, CMSG_DATA(c), sizeof info);
        return (int)info.ipi6_ifindex;
    }
    return 0;
}

bool sockio_stamp_of(struct msghdr *msg, struct sockio_stamp *out)
{
    *out = (struct sockio_stamp){0};
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        if (!out->ifindex)
            out->ifindex = stamp_ifindex(c);
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_TIMESTAMPING ||
            c->cmsg_len < CMSG_LEN(3 * sizeof(struct timespec)))
            continue;
        struct timespec ts[3]; /* [0] software, [2] the NIC's raw hardware clock */
        memcpy(ts, CMSG_DATA(c), sizeof ts);
        out->has_sw = ts[0].tv_sec != 0 || ts[0].tv_nsec != 0;
        out->sw = (struct unix_time){ts[0].tv_sec, (uint32_t)ts[0].tv_nsec};
        out->has_hw = ts[2].tv_sec != 0 || ts[2].tv_nsec != 0;
        out->hw = ts[2];
    }
    return out->has_sw || out->has_hw;
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

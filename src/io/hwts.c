/* hwts: NIC timestamps and their clocks; see hwts.h. */
#include "io/hwts.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/net_tstamp.h>
#include <linux/ptp_clock.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/log.h"

#define NS_PER_SEC 1000000000LL
/* Readings of the two clocks per conversion; the narrowest bracket wins. */
#define PHC_READINGS 5

static int ifreq_ioctl(int sock, const char *name, unsigned long request, void *data)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    ifr.ifr_data = data;
    return ioctl(sock, request, &ifr);
}

/* The receive filter that covers NTP, best first; -1 when the NIC has none. */
static int ntp_rx_filter(const struct ethtool_ts_info *info)
{
    if (info->rx_filters & (1u << HWTSTAMP_FILTER_NTP_ALL))
        return HWTSTAMP_FILTER_NTP_ALL;
    if (info->rx_filters & (1u << HWTSTAMP_FILTER_ALL))
        return HWTSTAMP_FILTER_ALL;
    return -1;
}

/* Why `name` cannot have NIC timestamps, or NULL when it can (its PHC index in *phc). */
static const char *probe(int sock, const char *name, int *phc, int *rx_filter)
{
    struct ethtool_ts_info info = {.cmd = ETHTOOL_GET_TS_INFO};
    if (ifreq_ioctl(sock, name, SIOCETHTOOL, &info) < 0)
        return errno == ENODEV ? "no such interface" : strerror(errno);
    const unsigned need = SOF_TIMESTAMPING_RAW_HARDWARE | SOF_TIMESTAMPING_TX_HARDWARE |
                          SOF_TIMESTAMPING_RX_HARDWARE;
    if ((info.so_timestamping & need) != need || info.phc_index < 0)
        return "the interface has no hardware timestamping";
    *rx_filter = ntp_rx_filter(&info);
    if (!(info.tx_types & (1u << HWTSTAMP_TX_ON)) || *rx_filter < 0)
        return "the NIC cannot timestamp NTP packets both ways";
    *phc = info.phc_index;
    return NULL;
}

/* Switches the NIC's timestamping on and opens its clock; NULL, or why not. */
static const char *enable(int sock, struct hwts_iface *ifc, int phc, int rx_filter)
{
    struct hwtstamp_config hc = {.tx_type = HWTSTAMP_TX_ON, .rx_filter = rx_filter};
    if (ifreq_ioctl(sock, ifc->name, SIOCSHWTSTAMP, &hc) < 0)
        return strerror(errno);
    char path[32];
    snprintf(path, sizeof path, "/dev/ptp%d", phc);
    ifc->phc_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (ifc->phc_fd < 0)
        return strerror(errno);
    ifc->ifindex = (int)if_nametoindex(ifc->name);
    return NULL;
}

unsigned hwts_open(struct hwts *h, const struct config *cfg)
{
    memset(h, 0, sizeof *h);
    if (cfg->n_hwtimestamp == 0)
        return 0;
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    for (unsigned i = 0; i < cfg->n_hwtimestamp; i++) {
        struct hwts_iface *ifc = &h->ifaces[h->n];
        snprintf(ifc->name, sizeof ifc->name, "%s", cfg->hwtimestamp[i]);
        int phc = -1, rx_filter = -1;
        const char *why = sock < 0 ? strerror(errno) : probe(sock, ifc->name, &phc, &rx_filter);
        if (!why)
            why = enable(sock, ifc, phc, rx_filter);
        if (why) {
            log_warn("hwtimestamp %s: %s; software timestamps", cfg->hwtimestamp[i], why);
            continue;
        }
        log_info("hwtimestamp %s: NIC timestamps on, clock /dev/ptp%d", ifc->name, phc);
        h->n++;
    }
    if (sock >= 0)
        close(sock);
    return h->n;
}

int hwts_socket_flags(const struct hwts *h)
{
    if (h->n == 0)
        return 0;
    /* PKTINFO and CMSG name the interface of each stamp, so it meets the right clock. */
    return SOF_TIMESTAMPING_RAW_HARDWARE | SOF_TIMESTAMPING_RX_HARDWARE | SOF_TIMESTAMPING_TX_HARDWARE |
           SOF_TIMESTAMPING_OPT_PKTINFO | SOF_TIMESTAMPING_OPT_CMSG;
}

static const struct hwts_iface *iface_of(const struct hwts *h, int ifindex)
{
    for (unsigned i = 0; i < h->n; i++)
        if (h->ifaces[i].ifindex == ifindex)
            return &h->ifaces[i];
    return ifindex == 0 && h->n == 1 ? &h->ifaces[0] : NULL;
}

static int64_t ns_of(struct ptp_clock_time t)
{
    return (int64_t)t.sec * NS_PER_SEC + t.nsec;
}

/* PHC - CLOCK_REALTIME now, in ns, from the reading whose system-time bracket is narrowest. */
static bool phc_offset(int fd, int64_t *offset)
{
    struct ptp_sys_offset so;
    memset(&so, 0, sizeof so);
    so.n_samples = PHC_READINGS;
    if (ioctl(fd, PTP_SYS_OFFSET, &so) < 0)
        return false;
    int64_t best = INT64_MAX;
    for (unsigned i = 0; i < PHC_READINGS; i++) {
        int64_t before = ns_of(so.ts[2 * i]), phc = ns_of(so.ts[2 * i + 1]), after = ns_of(so.ts[2 * i + 2]);
        if (after - before < best) {
            best = after - before;
            *offset = phc - (before + (after - before) / 2);
        }
    }
    return best != INT64_MAX;
}

bool hwts_to_system(const struct hwts *h, int ifindex, struct timespec hw, struct unix_time *out)
{
    const struct hwts_iface *ifc = iface_of(h, ifindex);
    int64_t offset;
    if (!ifc || !phc_offset(ifc->phc_fd, &offset))
        return false;
    int64_t sys = (int64_t)hw.tv_sec * NS_PER_SEC + hw.tv_nsec - offset;
    *out = (struct unix_time){sys / NS_PER_SEC, (uint32_t)(sys % NS_PER_SEC)};
    return sys > 0;
}

void hwts_close(struct hwts *h)
{
    for (unsigned i = 0; i < h->n; i++)
        close(h->ifaces[i].phc_fd);
    h->n = 0;
}

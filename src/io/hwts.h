/*
 * hwts: hardware (NIC) timestamps on the interfaces `hwtimestamp IFACE` names.
 *
 * Owns: asking each named interface what it can do (ETHTOOL_GET_TS_INFO),
 * switching its NIC timestamping on (SIOCSHWTSTAMP: needs CAP_NET_ADMIN, so
 * it is done at start, before privileges are dropped), keeping its PTP
 * hardware clock open, and turning a NIC timestamp (that clock's time) into
 * raw CLOCK_REALTIME by reading the two clocks against each other
 * (PTP_SYS_OFFSET, the narrowest of a few readings) at each conversion.
 * An interface without hardware timestamping (loopback, most virtual NICs),
 * unknown, or one we may not switch on, is logged once and left to software
 * timestamps. The upstream sockets ask for NIC stamps when an interface has
 * them (hwts_socket_flags); serving sockets keep software stamps.
 */
#ifndef HORLOGE_HWTS_H
#define HORLOGE_HWTS_H

#include <stdbool.h>
#include <time.h>

#include "core/ntptime.h"
#include "io/config.h"

struct hwts_iface {
    char name[CFG_IFNAME_MAX];
    int ifindex;
    int phc_fd;          /* its PTP hardware clock, /dev/ptpN */
};

struct hwts {
    unsigned n;          /* interfaces with NIC timestamps switched on */
    struct hwts_iface ifaces[CFG_MAX_HWTIMESTAMP];
};

/* Switches on what cfg's `hwtimestamp` interfaces can do; logs each fallback. Returns h->n. */
unsigned hwts_open(struct hwts *h, const struct config *cfg);
/* SO_TIMESTAMPING flags that add NIC timestamps (0 when no interface has them). */
int hwts_socket_flags(const struct hwts *h);
/*
 * The raw CLOCK_REALTIME time of NIC timestamp `hw` from interface `ifindex`
 * (0: unknown, taken as the only interface when there is one). False when
 * no open interface matches or its clock cannot be read.
 */
bool hwts_to_system(const struct hwts *h, int ifindex, struct timespec hw, struct unix_time *out);
void hwts_close(struct hwts *h);

#endif

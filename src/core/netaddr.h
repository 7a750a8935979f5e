/*
 * netaddr: a socket-free IP address value, so the core can key clients and
 * match access lists without knowing struct sockaddr.
 */
#ifndef HORLOGE_NETADDR_H
#define HORLOGE_NETADDR_H

#include <stdbool.h>
#include <stdint.h>

enum net_family { NET_NONE = 0, NET_IPV4 = 4, NET_IPV6 = 6 };

struct net_addr {
    uint8_t family;     /* enum net_family */
    uint8_t bytes[16];  /* network order; IPv4 uses the first 4 */
};

/* True when the first `prefix_bits` bits of a and b agree (and the families match). */
bool net_prefix_match(const struct net_addr *a, const struct net_addr *b, unsigned prefix_bits);

#endif

/*
 * netutil: conversions between the core's struct net_addr and the socket
 * API's sockaddr, and printable forms of addresses and reference IDs.
 */
#ifndef HORLOGE_NETUTIL_H
#define HORLOGE_NETUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/netaddr.h"

struct addr_text {
    char text[64]; /* "192.0.2.1", "[2001:db8::1]:123" */
};

socklen_t netaddr_to_sockaddr(const struct net_addr *addr, uint16_t port, struct sockaddr_storage *out);
/* False for families other than IPv4/IPv6. An IPv4-mapped IPv6 address becomes IPv4. */
bool netaddr_from_sockaddr(const struct sockaddr_storage *ss, struct net_addr *out);
uint16_t netaddr_port_of(const struct sockaddr_storage *ss);
struct addr_text netaddr_format(const struct net_addr *addr);
struct addr_text netaddr_format_port(const struct net_addr *addr, uint16_t port);
bool netaddr_parse(const char *text, struct net_addr *out);
/* A reference ID as people read it: "LOCL", "RATE", "192.0.2.1", or "none". */
void netaddr_format_refid(uint32_t refid, uint8_t stratum, char *out, size_t cap);

#endif

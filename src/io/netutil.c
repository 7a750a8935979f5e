/* netutil: sockaddr <-> net_addr and printable addresses and refids; see netutil.h. */
#include "io/netutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "core/packet.h"
#include "core/responder.h"

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

socklen_t netaddr_to_sockaddr(const struct net_addr *addr, uint16_t port, struct sockaddr_storage *out)
{
    memset(out, 0, sizeof *out);
    if (addr->family == NET_IPV6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        memcpy(&s6->sin6_addr, addr->bytes, 16);
        return sizeof *s6;
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)out;
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    memcpy(&s4->sin_addr, addr->bytes, 4);
    return sizeof *s4;
}

bool netaddr_from_sockaddr(const struct sockaddr_storage *ss, struct net_addr *out)
{
    memset(out, 0, sizeof *out);
    if (ss->ss_family == AF_INET) {
        out->family = NET_IPV4;
        memcpy(out->bytes, &((const struct sockaddr_in *)ss)->sin_addr, 4);
        return true;
    }
    if (ss->ss_family == AF_INET6) {
        const uint8_t *b = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
        if (memcmp(b, v4_mapped_prefix, sizeof v4_mapped_prefix) == 0) {
            out->family = NET_IPV4;
            memcpy(out->bytes, b + 12, 4);
        } else {
            out->family = NET_IPV6;
            memcpy(out->bytes, b, 16);
        }
        return true;
    }
    return false;
}

uint16_t netaddr_port_of(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
    return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

struct addr_text netaddr_format(const struct net_addr *addr)
{
    struct addr_text t = {{0}};
    int af = addr->family == NET_IPV6 ? AF_INET6 : AF_INET;
    if (addr->family == NET_NONE || !inet_ntop(af, addr->bytes, t.text, sizeof t.text))
        snprintf(t.text, sizeof t.text, "?");
    return t;
}

struct addr_text netaddr_format_port(const struct net_addr *addr, uint16_t port)
{
    struct addr_text a = netaddr_format(addr), t;
    if (addr->family == NET_IPV6)
        snprintf(t.text, sizeof t.text, "[%.46s]:%u", a.text, port);
    else
        snprintf(t.text, sizeof t.text, "%.46s:%u", a.text, port);
    return t;
}

bool netaddr_parse(const char *text, struct net_addr *out)
{
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, text, out->bytes) == 1) {
        out->family = NET_IPV4;
        return true;
    }
    if (inet_pton(AF_INET6, text, out->bytes) == 1) {
        out->family = NET_IPV6;
        return true;
    }
    return false;
}

void netaddr_format_refid(uint32_t refid, uint8_t stratum, char *out, size_t cap)
{
    /* Kiss codes, stratum-1 sources and a local reference's "LOCL" are ASCII; a synchronised
     * stratum >= 2 refid is the upstream's IPv4 address (or a hash of its IPv6 one). */
    if (stratum <= 1 || stratum >= NTP_STRATUM_UNSYNC || refid == pkt_refid_ascii("LOCL")) {
        if (refid == 0) {
            snprintf(out, cap, "none");
            return;
        }
        /* Left-justified and zero-padded (RFC 5905 §7.3): "GPS" is "GPS\0". */
        char c[5] = {0};
        int len = 4;
        while (len > 0 && ((refid >> (32 - 8 * len)) & 255) == 0)
            len--;
        for (int i = 0; i < len; i++) {
            char ch = (char)(refid >> (24 - 8 * i));
            c[i] = (ch >= 32 && ch < 127) ? ch : '.';
        }
        snprintf(out, cap, "%s", c);
        return;
    }
    snprintf(out, cap, "%u.%u.%u.%u", refid >> 24, (refid >> 16) & 255, (refid >> 8) & 255, refid & 255);
}

/* netaddr: prefix comparison of socket-free addresses; see netaddr.h. */
#include "core/netaddr.h"

static unsigned family_bits(uint8_t family)
{
    switch (family) {
    case NET_IPV4: return 32;
    case NET_IPV6: return 128;
    default: return 0;
    }
}

bool net_prefix_match(const struct net_addr *a, const struct net_addr *b, unsigned prefix_bits)
{
    if (a->family != b->family)
        return false;
    unsigned max = family_bits(a->family);
    if (prefix_bits > max)
        prefix_bits = max;
    unsigned whole = prefix_bits / 8;
    for (unsigned i = 0; i < whole; i++)
        if (a->bytes[i] != b->bytes[i])
            return false;
    unsigned rest = prefix_bits % 8;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return ((a->bytes[whole] ^ b->bytes[whole]) & mask) == 0;
}

/*
 * acl: the server's access list (config `allow` / `deny`).
 *
 * Owns: deciding whether a client address may be served. The most specific
 * matching rule wins (longest prefix; among equal prefixes, the later rule).
 * An address no rule matches is allowed when the list has no `allow` rule,
 * and denied otherwise, so `allow 192.168.0.0/16` alone means "only those".
 * A rule with family NET_NONE (`allow all` / `deny all`) matches every
 * address with prefix length 0.
 */
#ifndef HORLOGE_ACL_H
#define HORLOGE_ACL_H

#include <stdbool.h>

#include "core/netaddr.h"

#define ACL_MAX_RULES 256

struct acl_rule {
    struct net_addr net;
    uint8_t prefix_bits;
    bool allow;
};

struct acl {
    unsigned n_rules;
    struct acl_rule rules[ACL_MAX_RULES];
};

void acl_init(struct acl *acl);
/* Returns false when the list is full. */
bool acl_add(struct acl *acl, const struct acl_rule *rule);
bool acl_allows(const struct acl *acl, const struct net_addr *client);

#endif

/* acl: longest-prefix access list for the server; see acl.h. */
#include "core/acl.h"

#include <stddef.h>

void acl_init(struct acl *acl)
{
    acl->n_rules = 0;
}

bool acl_add(struct acl *acl, const struct acl_rule *rule)
{
    if (acl->n_rules >= ACL_MAX_RULES)
        return false;
    struct acl_rule r = *rule;
    unsigned max = r.net.family == NET_IPV4 ? 32 : r.net.family == NET_IPV6 ? 128 : 0;
    if (r.prefix_bits > max)
        r.prefix_bits = (uint8_t)max;
    acl->rules[acl->n_rules++] = r;
    return true;
}

static bool rule_matches(const struct acl_rule *rule, const struct net_addr *client)
{
    return rule->net.family == NET_NONE || net_prefix_match(&rule->net, client, rule->prefix_bits);
}

bool acl_allows(const struct acl *acl, const struct net_addr *client)
{
    const struct acl_rule *best = NULL;
    bool any_allow = false;
    for (unsigned i = 0; i < acl->n_rules; i++) {
        const struct acl_rule *rule = &acl->rules[i];
        any_allow |= rule->allow;
        if (!rule_matches(rule, client))
            continue;
        if (!best || rule->prefix_bits >= best->prefix_bits)
            best = rule;
    }
    if (best)
        return best->allow;
    return !any_allow;
}

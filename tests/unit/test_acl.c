/* Unit tests for netaddr and acl: prefix matching and rule precedence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/acl.h"
#include "core/netaddr.h"
#include "io/netutil.h"

static struct net_addr addr(const char *text)
{
    struct net_addr a;
    if (!netaddr_parse(text, &a))
        fail_msg("bad test address %s", text);
    return a;
}

static void add(struct acl *acl, bool allow, const char *net, unsigned bits)
{
    struct acl_rule r;
    memset(&r, 0, sizeof r);
    if (net)
        r.net = addr(net);
    r.prefix_bits = (uint8_t)bits;
    r.allow = allow;
    assert_true(acl_add(acl, &r));
}

static bool allows(const struct acl *acl, const char *client)
{
    struct net_addr a = addr(client);
    return acl_allows(acl, &a);
}

static void test_prefix_match(void **state)
{
    (void)state;
    struct net_addr a = addr("192.168.1.77"), b = addr("192.168.1.200");
    assert_true(net_prefix_match(&a, &b, 24));
    assert_true(net_prefix_match(&a, &b, 0));
    assert_false(net_prefix_match(&a, &b, 25));
    assert_false(net_prefix_match(&a, &b, 32));
    assert_true(net_prefix_match(&a, &a, 32));
    assert_true(net_prefix_match(&a, &a, 200)); /* clamped to the family's length */
    struct net_addr c = addr("2001:db8::1"), d = addr("2001:db8:0:1::1");
    assert_true(net_prefix_match(&c, &d, 48));
    assert_true(net_prefix_match(&c, &d, 63));
    assert_false(net_prefix_match(&c, &d, 64));
    assert_true(net_prefix_match(&c, &c, 128));
}

static void test_families_never_cross(void **state)
{
    (void)state;
    struct net_addr v4 = addr("0.0.0.0"), v6 = addr("::");
    assert_false(net_prefix_match(&v4, &v6, 0));
    struct acl acl;
    acl_init(&acl);
    add(&acl, true, "0.0.0.0", 0);
    assert_true(allows(&acl, "8.8.8.8"));
    assert_false(allows(&acl, "2001:db8::1")); /* an allow rule exists, none matches */
    assert_false(allows(&acl, "::ffff:8.8.8.8"));

    acl_init(&acl);
    add(&acl, false, "::", 0);
    assert_false(allows(&acl, "2001:db8::1"));
    assert_true(allows(&acl, "10.1.2.3")); /* no allow rule: unmatched is allowed */
}

static void test_empty_list_allows(void **state)
{
    (void)state;
    struct acl acl;
    acl_init(&acl);
    assert_true(allows(&acl, "203.0.113.9"));
    assert_true(allows(&acl, "2001:db8::9"));
}

static void test_default_with_allow_rule(void **state)
{
    (void)state;
    struct acl acl;
    acl_init(&acl);
    add(&acl, true, "192.168.0.0", 16);
    assert_true(allows(&acl, "192.168.44.1"));
    assert_false(allows(&acl, "10.0.0.1"));
    assert_false(allows(&acl, "2001:db8::1"));
}

static void test_default_with_only_deny(void **state)
{
    (void)state;
    struct acl acl;
    acl_init(&acl);
    add(&acl, false, "10.0.0.0", 8);
    add(&acl, false, "2001:db8::", 32);
    assert_false(allows(&acl, "10.200.0.1"));
    assert_false(allows(&acl, "2001:db8:ffff::1"));
    assert_true(allows(&acl, "11.0.0.1"));
    assert_true(allows(&acl, "2001:db9::1"));
}

static void test_longer_prefix_wins(void **state)
{
    (void)state;
    struct acl acl;
    acl_init(&acl);
    /* Order must not matter: the narrow rules come first and last. */
    add(&acl, true, "10.1.2.0", 24);
    add(&acl, false, "10.0.0.0", 8);
    add(&acl, true, "10.1.2.3", 32);
    add(&acl, false, "10.1.2.128", 25);
    assert_false(allows(&acl, "10.9.9.9"));
    assert_true(allows(&acl, "10.1.2.4"));
    assert_false(allows(&acl, "10.1.2.200"));
    assert_true(allows(&acl, "10.1.2.3"));
    assert_false(allows(&acl, "172.16.0.1")); /* allow rules exist */
}

static void test_later_equal_rule_wins(void **state)
{
    (void)state;
    struct acl acl;
    acl_init(&acl);
    add(&acl, true, "198.51.100.0", 24);
    add(&acl, false, "198.51.100.0", 24);
    assert_false(allows(&acl, "198.51.100.7"));
    add(&acl, true, "198.51.100.0", 24);
    assert_true(allows(&acl, "198.51.100.7"));
}

static void test_all_rules(void **state)
{
    (void)state;
    struct acl acl;
    acl_init(&acl);
    add(&acl, false, NULL, 0); /* deny all */
    add(&acl, true, "2001:db8::", 48);
    assert_false(allows(&acl, "192.0.2.1"));
    assert_false(allows(&acl, "2001:db9::1"));
    assert_true(allows(&acl, "2001:db8:0:5::1"));

    acl_init(&acl);
    add(&acl, true, NULL, 0); /* allow all */
    add(&acl, false, "192.0.2.0", 24);
    assert_true(allows(&acl, "192.0.3.1"));
    assert_true(allows(&acl, "::1"));
    assert_false(allows(&acl, "192.0.2.1"));

    /* `all` and a /0 of one family are equally specific: the later one wins. */
    acl_init(&acl);
    add(&acl, true, NULL, 0);
    add(&acl, false, "0.0.0.0", 0);
    assert_false(allows(&acl, "192.0.2.1"));
    assert_true(allows(&acl, "2001:db8::1"));
}

static void test_oversized_prefix_is_clamped(void **state)
{
    (void)state;
    struct acl acl;
    acl_init(&acl);
    add(&acl, false, "192.0.2.1", 99); /* counts as a /32, not as more specific */
    add(&acl, true, "192.0.2.1", 32);
    assert_true(allows(&acl, "192.0.2.1"));
    assert_false(allows(&acl, "192.0.2.2"));
}

static void test_full_list(void **state)
{
    (void)state;
    static struct acl acl;
    acl_init(&acl);
    struct acl_rule r;
    memset(&r, 0, sizeof r);
    r.net = addr("10.0.0.0");
    r.prefix_bits = 8;
    for (unsigned i = 0; i < ACL_MAX_RULES; i++)
        assert_true(acl_add(&acl, &r));
    assert_false(acl_add(&acl, &r));
    assert_int_equal(acl.n_rules, ACL_MAX_RULES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefix_match),
        cmocka_unit_test(test_families_never_cross),
        cmocka_unit_test(test_empty_list_allows),
        cmocka_unit_test(test_default_with_allow_rule),
        cmocka_unit_test(test_default_with_only_deny),
        cmocka_unit_test(test_longer_prefix_wins),
        cmocka_unit_test(test_later_equal_rule_wins),
        cmocka_unit_test(test_all_rules),
        cmocka_unit_test(test_oversized_prefix_is_clamped),
        cmocka_unit_test(test_full_list),
    };
    return cmocka_run_group_tests_name("acl", tests, NULL, NULL);
}

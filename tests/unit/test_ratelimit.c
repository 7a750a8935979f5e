/*
 * Unit tests for ratelimit: token bucket limits, KoD leak ratio, recovery,
 * isolation between clients, the bounded table under an address scan, and
 * the client log's counts and ordering.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/ratelimit.h"

#define SEC 1000000000ULL
#define MS 1000000ULL
#define KEY 0x0123456789abcdefULL

struct fixture {
    void *mem;
    struct rl_table *table;
};

static struct net_addr v4(uint32_t ip)
{
    struct net_addr a;
    memset(&a, 0, sizeof a);
    a.family = NET_IPV4;
    a.bytes[0] = (uint8_t)(ip >> 24);
    a.bytes[1] = (uint8_t)(ip >> 16);
    a.bytes[2] = (uint8_t)(ip >> 8);
    a.bytes[3] = (uint8_t)ip;
    return a;
}

static struct rl_params params(bool enabled, int interval, unsigned burst, unsigned leak)
{
    struct rl_params p = {enabled, interval, burst, leak};
    return p;
}

static struct rl_table *make_table(struct fixture *f, unsigned entries, struct rl_params p)
{
    size_t bytes = rl_table_bytes(entries);
    assert_true(bytes > 0);
    f->mem = aligned_alloc(64, (bytes + 63) / 64 * 64);
    assert_non_null(f->mem);
    f->table = rl_table_init(f->mem, bytes, entries, &p, KEY);
    assert_non_null(f->table);
    return f->table;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    free(f->mem);
    free(f);
    return 0;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    *state = f;
    return 0;
}

/* The stats of `client`, found through rl_top_clients; fails if it has no entry. */
static struct rl_client_stats stats_of(const struct rl_table *t, const struct net_addr *client)
{
    static struct rl_client_stats all[4096];
    unsigned n = rl_top_clients(t, all, 4096);
    for (unsigned i = 0; i < n; i++)
        if (all[i].addr.family == client->family &&
            memcmp(all[i].addr.bytes, client->bytes, sizeof client->bytes) == 0)
            return all[i];
    fail_msg("client has no entry");
    struct rl_client_stats none = {0};
    return none;
}

static void test_sizes(void **state)
{
    (void)state;
    assert_int_equal(rl_table_bytes(0), 0);
    assert_int_equal(rl_table_bytes(8), 0);
    assert_int_equal(rl_table_bytes(24), 0);
    assert_int_equal(rl_table_bytes(1u << 31), 0);
    assert_true(rl_table_bytes(16) > 0);
    assert_true(rl_table_bytes(65536) > rl_table_bytes(32768));
    static uint64_t mem[1024];
    struct rl_params p = params(true, 3, 8, 2);
    size_t need = rl_table_bytes(16);
    assert_true(need <= sizeof mem);
    assert_null(rl_table_init(mem, need - 1, 16, &p, KEY));
    assert_null(rl_table_init(mem, sizeof mem, 17, &p, KEY));
    assert_null(rl_table_init((char *)mem + 1, sizeof mem - 1, 16, &p, KEY));
    struct rl_table *t = rl_table_init(mem, need, 16, &p, KEY);
    assert_non_null(t);
    assert_int_equal(rl_used_entries(t), 0);
}

static void test_burst_then_limit(void **state)
{
    struct rl_table *t = make_table(*state, 1024, params(true, 3, 4, 0));
    struct net_addr c = v4(0xc0000201);
    for (int i = 0; i < 4; i++)
        assert_int_equal(rl_check(t, &c, 0), RL_PASS);
    assert_int_equal(rl_check(t, &c, 0), RL_KOD); /* leak 0: every limited request gets one */
    assert_int_equal(rl_check(t, &c, 1 * SEC), RL_KOD);
    /* 8 s of credit buys exactly one reply. */
    assert_int_equal(rl_check(t, &c, 8 * SEC), RL_PASS);
    assert_int_equal(rl_check(t, &c, 8 * SEC), RL_KOD);
    struct rl_client_stats s = stats_of(t, &c);
    assert_int_equal(s.requests, 8);
    assert_int_equal(s.limited, 3);
    assert_int_equal(s.kod_sent, 3);
    assert_int_equal(s.first_ns, 0);
    assert_int_equal(s.last_ns, 8 * SEC);
}

static void test_leak_ratio(void **state)
{
    struct rl_table *t = make_table(*state, 1024, params(true, 0, 1, 0));
    for (unsigned leak = 0; leak <= 4; leak++) {
        struct rl_params p = params(true, 0, 1, leak);
        rl_set_params(t, &p);
        /* A client at 20 requests/s for 1000 s against a limit of 1 reply/s. */
        struct net_addr c = v4(0x0a000000 + leak);
        unsigned pass = 0, drop = 0, kod = 0;
        for (uint64_t i = 0; i < 20000; i++) {
            switch (rl_check(t, &c, 5 * SEC + i * 50 * MS)) {
            case RL_PASS: pass++; break;
            case RL_DROP: drop++; break;
            case RL_KOD: kod++; break;
            }
        }
        unsigned limited = drop + kod;
        assert_in_range(pass, 999, 1001);
        assert_int_equal(limited, 20000 - pass);
        /* One in 2^leak limited requests, the first of each run, is a KoD. */
        assert_int_equal(kod, (limited + (1u << leak) - 1) >> leak);
        struct rl_client_stats s = stats_of(t, &c);
        assert_int_equal(s.limited, limited);
        assert_int_equal(s.kod_sent, kod);
        print_message("leak %u: %u replies, %u KoD, %u dropped\n", leak, pass, kod, drop);
    }
}

static void test_recovery_after_waiting(void **state)
{
    struct rl_table *t = make_table(*state, 1024, params(true, -2, 5, 2));
    struct net_addr c = v4(0x0a000001);
    uint64_t t0 = 1000 * SEC;
    unsigned pass = 0;
    for (int i = 0; i < 50; i++)
        pass += rl_check(t, &c, t0) == RL_PASS;
    assert_int_equal(pass, 5);
    /* 250 ms is one reply's worth; 1.25 s refills the whole burst, and waiting longer adds nothing. */
    assert_int_equal(rl_check(t, &c, t0 + 249 * MS), RL_DROP);
    assert_int_equal(rl_check(t, &c, t0 + 250 * MS), RL_PASS);
    assert_int_not_equal(rl_check(t, &c, t0 + 250 * MS), RL_PASS);
    uint64_t later = t0 + 3600 * SEC;
    pass = 0;
    for (int i = 0; i < 50; i++)
        pass += rl_check(t, &c, later) == RL_PASS;
    assert_int_equal(pass, 5);
}

static void test_flood_does_not_limit_others(void **state)
{
    struct rl_table *t = make_table(*state, 1024, params(true, 3, 8, 2));
    struct net_addr flooder = v4(0xcb007101), victim = v4(0xcb007102);
    uint64_t now = 0;
    unsigned victim_pass = 0, flood_pass = 0;
    for (int i = 0; i < 1000000; i++) {
        now += 100 * 1000; /* 10k requests/s from the flooder */
        flood_pass += rl_check(t, &flooder, now) == RL_PASS;
        if (i % 80000 == 0) /* the victim asks every 8 s, right at its limit */
            victim_pass += rl_check(t, &victim, now) == RL_PASS;
    }
    assert_int_equal(victim_pass, 13);
    assert_int_equal(flood_pass, 8 + 12); /* the burst, then one per 8 s of 100 s */
}

static void test_disabled_counts_only(void **state)
{
    struct rl_table *t = make_table(*state, 64, params(false, -4, 1, 0));
    struct net_addr c = v4(0x7f000001);
    for (uint64_t i = 0; i < 1000; i++)
        assert_int_equal(rl_check(t, &c, 7 * SEC + i), RL_PASS);
    struct rl_client_stats s = stats_of(t, &c);
    assert_int_equal(s.requests, 1000);
    assert_int_equal(s.limited, 0);
    assert_int_equal(s.first_ns, 7 * SEC);
    assert_int_equal(s.last_ns, 7 * SEC + 999);
    /* Enabling on reload keeps the entry and starts it with a full bucket. */
    struct rl_params on = params(true, -4, 1, 0);
    rl_set_params(t, &on);
    assert_int_equal(rl_check(t, &c, 7 * SEC + 1000), RL_PASS);
    assert_int_equal(rl_check(t, &c, 7 * SEC + 1000), RL_KOD);
    assert_int_equal(stats_of(t, &c).requests, 1002);
    assert_int_equal(rl_used_entries(t), 1);
}

static void test_time_extremes(void **state)
{
    struct rl_table *t = make_table(*state, 64, params(true, 12, 2, 0));
    struct net_addr a = v4(1), b = v4(2);
    assert_int_equal(rl_check(t, &a, 0), RL_PASS);
    assert_int_equal(rl_check(t, &a, 0), RL_PASS);
    assert_int_equal(rl_check(t, &a, 0), RL_KOD);
    assert_int_equal(rl_check(t, &a, 4096 * SEC - 1), RL_KOD);
    assert_int_equal(rl_check(t, &a, 4096 * SEC), RL_PASS);
    /* Near the top of the 64-bit range: no overflow in refill or eviction keys. */
    uint64_t top = UINT64_MAX - 10 * SEC;
    assert_int_equal(rl_check(t, &a, top), RL_PASS);
    assert_int_equal(rl_check(t, &a, top), RL_PASS);
    assert_int_equal(rl_check(t, &a, top), RL_KOD);
    assert_int_equal(rl_check(t, &b, UINT64_MAX), RL_PASS);
    /* A reading older than the last one adds no credit and does not move last_ns back. */
    assert_int_equal(rl_check(t, &a, 5), RL_KOD);
    assert_true(stats_of(t, &a).last_ns == top);
    assert_int_equal(stats_of(t, &a).first_ns, 0);
}

static void test_ipv4_tail_bytes_ignored(void **state)
{
    struct rl_table *t = make_table(*state, 64, params(true, 3, 1, 0));
    struct net_addr a = v4(0x0a0a0a0a), b = a;
    b.bytes[9] = 0x55;
    assert_int_equal(rl_check(t, &a, 0), RL_PASS);
    assert_int_equal(rl_check(t, &b, 0), RL_KOD);
    assert_int_equal(rl_used_entries(t), 1);
    struct net_addr v6;
    memset(&v6, 0, sizeof v6);
    v6.family = NET_IPV6;
    memcpy(v6.bytes, a.bytes, 4); /* same bytes, other family: another client */
    assert_int_equal(rl_check(t, &v6, 0), RL_PASS);
    assert_int_equal(rl_used_entries(t), 2);
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/*
 * 1,000,000 one-shot spoofed IPv6 sources at 10k/s through a 4096-entry
 * table: ~244 new addresses land in each 8-way bucket, ~39 between two
 * requests of the regular client, so plain LRU would evict it every time.
 */
static void test_scan_keeps_table_bounded_and_clients(void **state)
{
    struct rl_table *t = make_table(*state, 4096, params(true, 1, 8, 2));
    struct net_addr regular = v4(0xc6336401), flooder = v4(0xc6336402);
    uint64_t now = 0, seed = 0x9e3779b97f4a7c15ULL;
    unsigned regular_sent = 0, regular_pass = 0, flood_sent = 0, flood_pass = 0;
    for (int i = 0; i < 10; i++, now += 2 * SEC) {
        regular_pass += rl_check(t, &regular, now) == RL_PASS;
        regular_sent++;
    }
    uint64_t scan_start = now;
    for (unsigned i = 0; i < 1000000; i++) {
        struct net_addr one;
        one.family = NET_IPV6;
        uint64_t r1 = xorshift(&seed), r2 = xorshift(&seed);
        memcpy(one.bytes, &r1, 8);
        memcpy(one.bytes + 8, &r2, 8);
        assert_int_equal(rl_check(t, &one, now), RL_PASS);
        if (i % 20000 == 0) {
            regular_pass += rl_check(t, &regular, now) == RL_PASS;
            regular_sent++;
        }
        if (i % 100 == 0) {
            flood_pass += rl_check(t, &flooder, now) == RL_PASS;
            flood_sent++;
        }
        now += 100 * 1000;
    }
    assert_true(rl_used_entries(t) <= 4096);
    assert_true(rl_used_entries(t) >= 4000);

    struct rl_client_stats top[3];
    assert_int_equal(rl_top_clients(t, top, 3), 3);
    /* The flooder was never reset to a fresh bucket: 8 + 100 s / 2 s replies at most. */
    assert_true(top[0].addr.family == NET_IPV4 && top[0].requests == flood_sent);
    assert_int_equal(top[0].first_ns, scan_start);
    assert_in_range(flood_pass, 8, 59);
    /* The regular client kept one entry since its first request, and was never limited. */
    assert_true(top[1].addr.family == NET_IPV4 && top[1].requests == regular_sent);
    assert_int_equal(top[1].first_ns, 0);
    assert_int_equal(top[1].limited, 0);
    assert_int_equal(regular_pass, regular_sent);
    assert_int_equal(top[2].requests, 1);
    print_message("scan: %u entries used; flooder %u/%u replies; regular %u/%u replies\n",
                  rl_used_entries(t), flood_pass, flood_sent, regular_pass, regular_sent);
}

static void test_top_clients_order(void **state)
{
    struct rl_table *t = make_table(*state, 256, params(false, 3, 8, 2));
    const unsigned counts[] = {5, 3, 9, 1, 7, 2, 8};
    const unsigned n = sizeof counts / sizeof counts[0];
    for (unsigned i = 0; i < n; i++) {
        struct net_addr c = v4(0x0a000100 + i);
        for (unsigned k = 0; k < counts[i]; k++)
            rl_check(t, &c, (uint64_t)k * SEC);
    }
    struct rl_client_stats out[16];
    assert_int_equal(rl_top_clients(t, out, 0), 0);
    assert_int_equal(rl_top_clients(t, out, 3), 3);
    assert_int_equal(out[0].requests, 9);
    assert_int_equal(out[1].requests, 8);
    assert_int_equal(out[2].requests, 7);
    assert_int_equal(out[0].addr.bytes[3], 2);
    assert_int_equal(rl_top_clients(t, out, 16), n);
    for (unsigned i = 1; i < n; i++)
        assert_true(out[i - 1].requests > out[i].requests);
    assert_int_equal(out[n - 1].requests, 1);
    assert_int_equal(out[n - 1].addr.bytes[3], 3);
}

static bool same_survivors(const struct rl_table *a, const struct rl_table *b)
{
    struct rl_client_stats sa[16], sb[16];
    unsigned na = rl_top_clients(a, sa, 16), nb = rl_top_clients(b, sb, 16);
    if (na != nb)
        return false;
    for (unsigned i = 0; i < na; i++)
        if (memcmp(sa[i].addr.bytes, sb[i].addr.bytes, 4) != 0)
            return false;
    return true;
}

static void test_key_changes_placement(void **state)
{
    (void)state;
    /* 40 clients through 16 entries: which 16 survive depends on the key, not on the addresses alone. */
    static uint64_t m1[2048], m2[2048];
    struct rl_params p = params(false, 3, 8, 2);
    struct rl_table *a = rl_table_init(m1, sizeof m1, 16, &p, 1);
    struct rl_table *b = rl_table_init(m2, sizeof m2, 16, &p, 2);
    assert_non_null(a);
    assert_non_null(b);
    for (uint32_t i = 0; i < 40; i++) {
        struct net_addr c = v4(0x0a000000 + i);
        /* Fewer requests for later clients, so rl_top_clients lists survivors in one order. */
        for (uint32_t k = 0; k < 40 - i; k++) {
            rl_check(a, &c, i * SEC);
            rl_check(b, &c, i * SEC);
        }
    }
    assert_int_equal(rl_used_entries(a), 16);
    assert_int_equal(rl_used_entries(b), 16);
    assert_false(same_survivors(a, b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test_setup_teardown(test_burst_then_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leak_ratio, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_after_waiting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flood_does_not_limit_others, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disabled_counts_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time_extremes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ipv4_tail_bytes_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_keeps_table_bounded_and_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_top_clients_order, setup, teardown),
        cmocka_unit_test(test_key_changes_placement),
    };
    return cmocka_run_group_tests_name("ratelimit", tests, NULL, NULL);
}

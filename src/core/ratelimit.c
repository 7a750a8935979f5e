/*
 * ratelimit: the per-worker client table and token buckets; see ratelimit.h.
 *
 * Layout in the caller's memory: the table header, then one 128-byte bucket
 * head per RL_WAYS entries (tags and eviction keys, so a lookup reads one
 * head and at most one entry), then the entries. A lookup hashes the address
 * with SipHash-1-3 under the table's key, picks a bucket by the low bits and
 * compares a 32-bit tag from the high bits before the full address.
 */
#include "core/ratelimit.h"

#include <string.h>

#define RL_WAYS 8
#define RL_MIN_ENTRIES 16u
#define RL_MAX_ENTRIES (1u << 24)
#define RL_CACHE_LINE 64
#define NS_PER_SEC 1000000000ULL
/* An established client keeps its entry for as long as it has been seen, up to this (~18 h). */
#define RL_PROTECT_MAX_NS (65536ULL * NS_PER_SEC)

struct rl_bucket {
    _Alignas(RL_CACHE_LINE) uint32_t tag[RL_WAYS]; /* 0 = empty way */
    uint64_t keep_until[RL_WAYS];                  /* eviction order: smallest goes first */
};

struct rl_entry {
    struct net_addr addr; /* tail bytes beyond the family's length are zero */
    uint64_t first_ns;
    uint64_t last_ns;
    uint64_t credit_ns;
    uint64_t requests;
    uint64_t limited;
    uint64_t kod_sent;
    struct rl_xleave xleave;
};

struct rl_table {
    struct rl_bucket *buckets;
    struct rl_entry *entries;
    uint64_t k0, k1;
    uint64_t cost_ns;   /* credit one reply costs: 2^interval s */
    uint64_t cap_ns;    /* burst * cost_ns */
    uint64_t leak_mask; /* 2^leak - 1 */
    bool enabled;
    unsigned bucket_mask;
    unsigned used;
};

static size_t round_up(size_t n, size_t to)
{
    return (n + to - 1) / to * to;
}

static bool valid_entry_count(unsigned n)
{
    return n >= RL_MIN_ENTRIES && n <= RL_MAX_ENTRIES && (n & (n - 1)) == 0;
}

size_t rl_table_bytes(unsigned n_entries)
{
    if (!valid_entry_count(n_entries))
        return 0;
    /* One cache line of slack so the bucket heads can be aligned whatever `mem` is. */
    return round_up(sizeof(struct rl_table), RL_CACHE_LINE) + RL_CACHE_LINE +
           (size_t)(n_entries / RL_WAYS) * sizeof(struct rl_bucket) +
           (size_t)n_entries * sizeof(struct rl_entry);
}

static unsigned clamp_uint(unsigned v, unsigned lo, unsigned hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

void rl_set_params(struct rl_table *table, const struct rl_params *params)
{
    int interval = params->interval_log2;
    if (interval < -4)
        interval = -4;
    if (interval > 12)
        interval = 12;
    unsigned burst = clamp_uint(params->burst, 1, 255);
    unsigned leak = clamp_uint(params->leak_log2, 0, 4);
    table->enabled = params->enabled;
    table->cost_ns = interval >= 0 ? NS_PER_SEC << interval : NS_PER_SEC >> -interval;
    table->cap_ns = burst * table->cost_ns;
    table->leak_mask = (1ULL << leak) - 1;
}

struct rl_table *rl_table_init(void *mem, size_t mem_bytes, unsigned n_entries,
                               const struct rl_params *params, uint64_t hash_key)
{
    size_t need = rl_table_bytes(n_entries);
    if (!mem || need == 0 || mem_bytes < need || (uintptr_t)mem % _Alignof(struct rl_table) != 0)
        return NULL;
    struct rl_table *table = mem;
    uintptr_t heads = (uintptr_t)mem + sizeof(struct rl_table);
    heads = (heads + RL_CACHE_LINE - 1) & ~(uintptr_t)(RL_CACHE_LINE - 1);
    table->buckets = (struct rl_bucket *)heads;
    table->entries = (struct rl_entry *)(table->buckets + n_entries / RL_WAYS);
    table->k0 = hash_key;
    table->k1 = ((hash_key << 32) | (hash_key >> 32)) ^ 0x9e3779b97f4a7c15ULL;
    table->bucket_mask = n_entries / RL_WAYS - 1;
    rl_set_params(table, params);
    return table;
}

unsigned rl_used_entries(const struct rl_table *table)
{
    return table->used;
}

static unsigned addr_length(uint8_t family)
{
    return family == NET_IPV4 ? 4 : family == NET_IPV6 ? 16 : 0;
}

/* The address with the bytes its family does not use zeroed, so stray bytes never split a client. */
static struct net_addr addr_key(const struct net_addr *addr)
{
    struct net_addr key;
    memset(&key, 0, sizeof key);
    key.family = addr->family;
    memcpy(key.bytes, addr->bytes, addr_length(addr->family));
    return key;
}

static bool addr_equal(const struct net_addr *a, const struct net_addr *b)
{
    return a->family == b->family && memcmp(a->bytes, b->bytes, sizeof a->bytes) == 0;
}

static uint64_t rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

struct sip {
    uint64_t v0, v1, v2, v3;
};

static void sip_round(struct sip *s)
{
    s->v0 += s->v1;
    s->v1 = rotl(s->v1, 13) ^ s->v0;
    s->v0 = rotl(s->v0, 32);
    s->v2 += s->v3;
    s->v3 = rotl(s->v3, 16) ^ s->v2;
    s->v0 += s->v3;
    s->v3 = rotl(s->v3, 21) ^ s->v0;
    s->v2 += s->v1;
    s->v1 = rotl(s->v1, 17) ^ s->v2;
    s->v2 = rotl(s->v2, 32);
}

static void sip_absorb(struct sip *s, uint64_t m)
{
    s->v3 ^= m;
    sip_round(s);
    s->v0 ^= m;
}

/* SipHash-1-3 of the 17-byte key: keyed, so remote senders cannot aim collisions at a bucket. */
static uint64_t addr_hash(const struct rl_table *table, const struct net_addr *key)
{
    struct sip s = {
        table->k0 ^ 0x736f6d6570736575ULL,
        table->k1 ^ 0x646f72616e646f6dULL,
        table->k0 ^ 0x6c7967656e657261ULL,
        table->k1 ^ 0x7465646279746573ULL,
    };
    uint64_t m0, m1;
    memcpy(&m0, key->bytes, 8);
    memcpy(&m1, key->bytes + 8, 8);
    sip_absorb(&s, m0);
    sip_absorb(&s, m1);
    sip_absorb(&s, (17ULL << 56) | key->family);
    s.v2 ^= 0xff;
    sip_round(&s);
    sip_round(&s);
    sip_round(&s);
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

/*
 * Eviction key: the last time seen, pushed later by how long the client has
 * been seen (capped). One-shot addresses from a scan then replace each other
 * (least recently seen first) while a client that keeps coming back survives
 * gaps as long as its history: a flood of fresh spoofed sources can neither
 * evict regular clients nor reset a flooder's bucket to full credit.
 */
static uint64_t keep_until(const struct rl_entry *e)
{
    uint64_t span = e->last_ns - e->first_ns;
    if (span > RL_PROTECT_MAX_NS)
        span = RL_PROTECT_MAX_NS;
    uint64_t keep = e->last_ns + span;
    return keep < e->last_ns ? UINT64_MAX : keep;
}

static unsigned pick_victim(const struct rl_bucket *b)
{
    unsigned victim = 0;
    for (unsigned w = 0; w < RL_WAYS; w++) {
        if (b->tag[w] == 0)
            return w;
        if (b->keep_until[w] < b->keep_until[victim])
            victim = w;
    }
    return victim;
}

static struct rl_entry *claim_way(struct rl_table *table, struct rl_bucket *b, size_t base,
                                  uint32_t tag, const struct net_addr *key, uint64_t now_ns,
                                  unsigned *way)
{
    unsigned w = pick_victim(b);
    if (b->tag[w] == 0)
        table->used++;
    b->tag[w] = tag;
    struct rl_entry *e = &table->entries[base + w];
    memset(e, 0, sizeof *e);
    e->addr = *key;
    e->first_ns = now_ns;
    e->last_ns = now_ns;
    e->credit_ns = table->cap_ns;
    *way = w;
    return e;
}

static enum rl_verdict charge(const struct rl_table *table, struct rl_entry *e, uint64_t elapsed)
{
    if (!table->enabled) {
        e->credit_ns = table->cap_ns;
        return RL_PASS;
    }
    uint64_t room = table->cap_ns > e->credit_ns ? table->cap_ns - e->credit_ns : 0;
    e->credit_ns = elapsed >= room ? table->cap_ns : e->credit_ns + elapsed;
    if (e->credit_ns >= table->cost_ns) {
        e->credit_ns -= table->cost_ns;
        return RL_PASS;
    }
    e->limited++;
    /* The first limited request of each run of 2^leak gets the KoD, so a real client learns at once. */
    if (((e->limited - 1) & table->leak_mask) != 0)
        return RL_DROP;
    e->kod_sent++;
    return RL_KOD;
}

/* The entry of `key` (hashed `h`) in its bucket, or NULL; *way gets its way. */
static struct rl_entry *lookup(struct rl_table *table, const struct net_addr *key, uint64_t h,
                               unsigned *way)
{
    size_t bucket = (size_t)(h & table->bucket_mask);
    const struct rl_bucket *b = &table->buckets[bucket];
    uint32_t tag = (uint32_t)(h >> 32) | 1;
    for (unsigned w = 0; w < RL_WAYS; w++) {
        if (b->tag[w] == tag && addr_equal(&table->entries[bucket * RL_WAYS + w].addr, key)) {
            *way = w;
            return &table->entries[bucket * RL_WAYS + w];
        }
    }
    return NULL;
}

enum rl_verdict rl_check_client(struct rl_table *table, const struct net_addr *client, uint64_t now_ns,
                                struct rl_xleave **xleave)
{
    struct net_addr key = addr_key(client);
    uint64_t h = addr_hash(table, &key);
    size_t bucket = (size_t)(h & table->bucket_mask);
    struct rl_bucket *b = &table->buckets[bucket];
    unsigned way = 0;
    struct rl_entry *e = lookup(table, &key, h, &way);
    if (!e)
        e = claim_way(table, b, bucket * RL_WAYS, (uint32_t)(h >> 32) | 1, &key, now_ns, &way);
    uint64_t elapsed = 0;
    if (now_ns > e->last_ns) {
        elapsed = now_ns - e->last_ns;
        e->last_ns = now_ns;
    }
    e->requests++;
    enum rl_verdict verdict = charge(table, e, elapsed);
    b->keep_until[way] = keep_until(e);
    if (xleave)
        *xleave = &e->xleave;
    return verdict;
}

enum rl_verdict rl_check(struct rl_table *table, const struct net_addr *client, uint64_t now_ns)
{
    return rl_check_client(table, client, now_ns, NULL);
}

struct rl_xleave *rl_find_xleave(struct rl_table *table, const struct net_addr *client)
{
    struct net_addr key = addr_key(client);
    unsigned way;
    struct rl_entry *e = lookup(table, &key, addr_hash(table, &key), &way);
    return e ? &e->xleave : NULL;
}

static bool busier(const struct rl_client_stats *a, const struct rl_client_stats *b)
{
    if (a->requests != b->requests)
        return a->requests > b->requests;
    return a->last_ns > b->last_ns;
}

/* Restores the min-heap (least busy at the root) below `i`. */
static void heap_sift_down(struct rl_client_stats *heap, unsigned n, unsigned i)
{
    for (;;) {
        unsigned least = i, l = 2 * i + 1, r = 2 * i + 2;
        if (l < n && busier(&heap[least], &heap[l]))
            least = l;
        if (r < n && busier(&heap[least], &heap[r]))
            least = r;
        if (least == i)
            return;
        struct rl_client_stats tmp = heap[i];
        heap[i] = heap[least];
        heap[least] = tmp;
        i = least;
    }
}

static void heap_push(struct rl_client_stats *heap, unsigned n, const struct rl_client_stats *s)
{
    unsigned i = n;
    heap[i] = *s;
    while (i > 0) {
        unsigned parent = (i - 1) / 2;
        if (!busier(&heap[parent], &heap[i]))
            return;
        struct rl_client_stats tmp = heap[i];
        heap[i] = heap[parent];
        heap[parent] = tmp;
        i = parent;
    }
}

static struct rl_client_stats entry_stats(const struct rl_entry *e)
{
    struct rl_client_stats s = {
        .addr = e->addr,
        .requests = e->requests,
        .limited = e->limited,
        .kod_sent = e->kod_sent,
        .first_ns = e->first_ns,
        .last_ns = e->last_ns,
    };
    return s;
}

unsigned rl_top_clients(const struct rl_table *table, struct rl_client_stats *out, unsigned max)
{
    if (max == 0)
        return 0;
    unsigned n = 0;
    size_t n_slots = ((size_t)table->bucket_mask + 1) * RL_WAYS;
    for (size_t i = 0; i < n_slots; i++) {
        if (table->buckets[i / RL_WAYS].tag[i % RL_WAYS] == 0)
            continue;
        struct rl_client_stats s = entry_stats(&table->entries[i]);
        if (n < max) {
            heap_push(out, n++, &s);
        } else if (busier(&s, &out[0])) {
            out[0] = s;
            heap_sift_down(out, n, 0);
        }
    }
    /* Heap sort: moving each root (the least busy left) to the end leaves the busiest first. */
    for (unsigned end = n; end > 1; end--) {
        struct rl_client_stats tmp = out[0];
        out[0] = out[end - 1];
        out[end - 1] = tmp;
        heap_sift_down(out, end - 1, 0);
    }
    return n;
}

/* Unit tests for assoc: the sequence of one association between source and the sync engine. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/assoc.h"
#include "core/packet.h"

/* A clock that reads what the test says and accepts every command. */
struct fake_clock {
    struct unix_time now;
};

static int fake_read(void *ctx, struct unix_time *now)
{
    *now = ((struct fake_clock *)ctx)->now;
    return 0;
}

/* Frequency changes and steps: accepted, not needed here (the core never reads them back). */
static int fake_accept(void *ctx, double value)
{
    (void)ctx;
    (void)value;
    return 0;
}

struct rig {
    struct fake_clock clock;
    struct sync sync;
    struct assoc a;
    struct src_params p;
    uint64_t nonce;
};

static ntp_ts rig_now(const struct rig *r)
{
    return ntp_from_unix(r->clock.now);
}

static void rig_advance(struct rig *r, double seconds)
{
    ntp_ts t = ntp_add_sec(rig_now(r), seconds);
    r->clock.now = ntp_to_unix(t, r->clock.now.sec);
}

static void rig_init(struct rig *r, int minpoll, int maxpoll)
{
    memset(r, 0, sizeof *r);
    r->clock.now = (struct unix_time){1750000000, 0};
    struct clock_driver drv = {&r->clock, fake_read, fake_accept, NULL, fake_accept, NULL};
    struct sync_params sp;
    sync_default_params(&sp);
    sync_init(&r->sync, &sp, &drv, rig_now(r));
    r->p = (struct src_params){.minpoll = minpoll, .maxpoll = maxpoll, .refid = 0xc0000201,
                               .local_refid = 0xc0000264, .epoch = rig_now(r)};
    assert_int_equal(assoc_init(&r->a, &r->sync, &r->p, NULL), 0);
}

/* A request now; returns its nonce (0 when none was built). */
static uint64_t rig_poll(struct rig *r)
{
    uint8_t req[SRC_REQUEST_LEN];
    if (assoc_build_request(&r->a, rig_now(r), ++r->nonce, req, sizeof req) != SRC_REQUEST_LEN)
        return 0;
    assoc_sent(&r->a, rig_now(r));
    assert_int_equal((int8_t)req[2], src_poll(&r->a.src)); /* asks at the poll in use */
    return load_be64(req + 40);
}

static struct ntp_header good_reply(const struct rig *r, uint64_t origin)
{
    ntp_ts t2 = ntp_add_sec(rig_now(r), 0.010);
    return (struct ntp_header){.version = 4, .mode = NTP_MODE_SERVER, .stratum = 2, .poll = 6,
                               .precision = -20, .refid = 0xc6336401, .reference = t2,
                               .origin = origin, .receive = t2, .transmit = ntp_add_sec(t2, 0.001)};
}

static struct assoc_outcome rig_deliver(struct rig *r, const struct ntp_header *h)
{
    uint8_t buf[NTP_HEADER_LEN];
    pkt_encode_header(h, buf);
    return assoc_handle_reply(&r->a, buf, sizeof buf, ntp_add_sec(rig_now(r), 0.021));
}

static struct ntp_header kiss(const struct rig *r, uint64_t origin, const char *code)
{
    struct ntp_header h = good_reply(r, origin);
    h.leap = NTP_LEAP_UNSYNC;
    h.stratum = 0;
    h.refid = pkt_refid_ascii(code);
    return h;
}

static const struct sync_source *engine_view(const struct rig *r)
{
    return &r->sync.src[r->a.sync_index];
}

static void test_registers_with_engine(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r, 6, 10);
    assert_int_equal(r.a.sync_index, 0);
    assert_int_equal(r.sync.n_src, 1);
    assert_true(engine_view(&r)->refid == 0xc0000201);
    assert_true(engine_view(&r)->pending);
    assert_false(engine_view(&r)->reachable);
    struct assoc more;
    for (unsigned i = 1; i < SYNC_MAX_SOURCES; i++)
        assert_int_equal(assoc_init(&more, &r.sync, &r.p, NULL), 0);
    assert_int_equal(assoc_init(&more, &r.sync, &r.p, NULL), -1);
}

/* A sample goes to the engine (and makes the source reachable there), and nothing else does. */
static void test_sample_fed_to_sync(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r, 6, 10);
    uint64_t nonce = rig_poll(&r);
    struct ntp_header h = good_reply(&r, nonce + 1);
    struct assoc_outcome o = rig_deliver(&r, &h);
    assert_int_equal(o.verdict, SRC_DROP_BOGUS);
    assert_int_equal(o.action, ASSOC_NONE);
    assert_false(o.poll_changed);
    assert_int_equal(engine_view(&r)->n_samples, 0);
    h.origin = nonce;
    o = rig_deliver(&r, &h);
    assert_int_equal(o.verdict, SRC_SAMPLE);
    assert_int_equal(o.action, ASSOC_SAMPLED);
    assert_int_equal(engine_view(&r)->n_samples, 1);
    assert_true(fabs(engine_view(&r)->last_sample.offset) < 1e-6);
    assert_true(engine_view(&r)->reachable);
    assert_int_equal(src_reach(&r.a.src), 1);
}

/* A server answering LI 3 is known to the engine as unsynchronised, until it gives a sample. */
static void test_unsynchronised_answer(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r, 6, 10);
    struct ntp_header h = good_reply(&r, rig_poll(&r));
    h.leap = NTP_LEAP_UNSYNC;
    struct assoc_outcome o = rig_deliver(&r, &h);
    assert_int_equal(o.verdict, SRC_DROP_UNSYNC);
    assert_true(engine_view(&r)->unsynchronised);
    assert_int_equal(engine_view(&r)->n_samples, 0);
    rig_advance(&r, 70.0);
    h = good_reply(&r, rig_poll(&r));
    assert_int_equal(rig_deliver(&r, &h).verdict, SRC_SAMPLE);
    assert_false(engine_view(&r)->unsynchronised);
}

/* The engine hears each poll once, at the request, with the source's (only) reach register. */
static void test_one_reach_register(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r, 6, 10);
    struct ntp_header h = good_reply(&r, rig_poll(&r));
    assert_int_equal(rig_deliver(&r, &h).action, ASSOC_SAMPLED);
    unsigned selections = r.sync.n_selections;
    for (unsigned i = 1; i <= 8; i++) {
        rig_advance(&r, assoc_time_to_poll(&r.a, rig_now(&r)));
        assert_true(rig_poll(&r) != 0);
        assert_int_equal(engine_view(&r)->reachable, src_is_reachable(&r.a.src));
        assert_int_equal(engine_view(&r)->reachable, i < 8);
        assert_int_equal(engine_view(&r)->pending, i + 1 <= SYNC_PENDING_POLLS);
    }
    assert_int_equal(src_reach(&r.a.src), 0);
    /* Losing the source reruns selection at once. */
    assert_int_equal(r.sync.n_selections, selections + 1);
}

/* The discipline's recommended poll is adopted after each sample, within minpoll/maxpoll and a RATE floor. */
static void test_poll_sequencing(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r, 4, 10);
    for (int i = 0; i < 12; i++) {
        rig_advance(&r, assoc_time_to_poll(&r.a, rig_now(&r)));
        struct ntp_header h = good_reply(&r, rig_poll(&r));
        assert_int_equal(rig_deliver(&r, &h).action, ASSOC_SAMPLED);
        int want = sync_recommended_poll(&r.sync, (unsigned)r.a.sync_index);
        assert_true(want >= 4 && want <= 10);
        assert_int_equal(src_poll(&r.a.src), want);
    }
    int before = src_poll(&r.a.src);
    rig_advance(&r, assoc_time_to_poll(&r.a, rig_now(&r)));
    struct ntp_header k = kiss(&r, rig_poll(&r), "RATE");
    assert_int_equal(rig_deliver(&r, &k).action, ASSOC_BACKED_OFF);
    rig_advance(&r, assoc_time_to_poll(&r.a, rig_now(&r)));
    struct ntp_header h = good_reply(&r, rig_poll(&r));
    assert_int_equal(rig_deliver(&r, &h).action, ASSOC_SAMPLED);
    assert_true(sync_recommended_poll(&r.sync, (unsigned)r.a.sync_index) <= before);
    assert_int_equal(src_poll(&r.a.src), before + 1); /* the kissed floor holds, past maxpoll too */
}

static void test_rate_backs_off(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r, 6, 10);
    struct ntp_header k = kiss(&r, rig_poll(&r), "RATE");
    struct assoc_outcome o = rig_deliver(&r, &k);
    assert_int_equal(o.verdict, SRC_KOD_RATE);
    assert_int_equal(o.action, ASSOC_BACKED_OFF);
    assert_true(o.poll_changed);
    assert_int_equal(src_poll(&r.a.src), 7);
    assert_true(fabs(assoc_time_to_poll(&r.a, rig_now(&r)) - 128) < 1e-6);
    assert_false(engine_view(&r)->removed);
    assert_int_equal(engine_view(&r)->n_samples, 0);
}

/* DENY (and RSTR): out of the engine, and no request is ever built again. */
static void check_removing_kiss(const char *code, enum src_verdict verdict)
{
    struct rig r;
    rig_init(&r, 6, 10);
    struct ntp_header h = good_reply(&r, rig_poll(&r));
    assert_int_equal(rig_deliver(&r, &h).action, ASSOC_SAMPLED);
    rig_advance(&r, 64);
    struct ntp_header k = kiss(&r, rig_poll(&r), code);
    struct assoc_outcome o = rig_deliver(&r, &k);
    assert_int_equal(o.verdict, verdict);
    assert_int_equal(o.action, ASSOC_REMOVED);
    assert_true(engine_view(&r)->removed);
    assert_false(engine_view(&r)->reachable);
    assert_true(assoc_time_to_poll(&r.a, rig_now(&r)) >= SRC_NEVER);
    rig_advance(&r, 1e5);
    assert_int_equal(rig_poll(&r), 0);
    assert_int_equal(src_sent(&r.a.src), 2);
    /* Its engine slot goes to the next source. */
    struct assoc next;
    assert_int_equal(assoc_init(&next, &r.sync, &r.p, NULL), 0);
    assert_int_equal(next.sync_index, r.a.sync_index);
}

static void test_deny_removes(void **state)
{
    (void)state;
    check_removing_kiss("DENY", SRC_KOD_DENY);
    check_removing_kiss("RSTR", SRC_KOD_RSTR);
}

/* A stratum > 1 server whose refid is our own address is synchronised to us: counted, not used. */
static void test_timing_loop(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r, 6, 10);
    struct ntp_header h = good_reply(&r, rig_poll(&r));
    h.stratum = 3;
    h.refid = r.p.local_refid;
    struct assoc_outcome o = rig_deliver(&r, &h);
    assert_int_equal(o.verdict, SRC_DROP_LOOP);
    assert_int_equal(o.action, ASSOC_NONE);
    assert_string_equal(src_verdict_name(o.verdict), "timing-loop");
    assert_int_equal(src_count(&r.a.src, SRC_DROP_LOOP), 1);
    assert_int_equal(engine_view(&r)->n_samples, 0);
    assert_false(src_is_reachable(&r.a.src));
    /* Another refid from the same server is fine. */
    rig_advance(&r, 64);
    h = good_reply(&r, rig_poll(&r));
    h.stratum = 3;
    assert_int_equal(rig_deliver(&r, &h).action, ASSOC_SAMPLED);
}

/* A test authenticator: a 20-byte MAC (key id 7) after each request; replies must carry key id 7. */
struct test_auth {
    unsigned built, checked;
};

static size_t test_build(void *ctx, uint8_t *pkt, size_t len, size_t cap)
{
    struct test_auth *t = ctx;
    t->built++;
    if (cap < len + 20)
        return 0;
    memset(pkt + len, 0, 20);
    pkt[len + 3] = 7;
    return len + 20;
}

static bool test_check(void *ctx, const uint8_t *pkt, size_t len, const struct ntp_layout *layout)
{
    struct test_auth *t = ctx;
    t->checked++;
    return layout->has_mac && len >= NTP_HEADER_LEN + 20 && pkt[NTP_HEADER_LEN + 3] == 7;
}

static const struct auth_ops test_ops = {.name = "test", .build_request = test_build, .check_reply = test_check};

/* The association's authenticator signs its requests and judges replies before the source does. */
static void test_authenticator_hooks(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r, 6, 10);
    struct test_auth t = {0};
    struct auth_instance inst = {&test_ops, &t};
    assoc_remove(&r.a);
    assert_int_equal(assoc_init(&r.a, &r.sync, &r.p, &inst), 0);

    uint8_t req[NTP_HEADER_LEN + 20];
    assert_int_equal(assoc_build_request(&r.a, rig_now(&r), 99, req, sizeof req), NTP_HEADER_LEN + 20);
    assert_int_equal(req[NTP_HEADER_LEN + 3], 7);
    assert_int_equal(t.built, 1);
    uint64_t nonce = load_be64(req + 40);
    /* No room for the MAC: no request. */
    rig_advance(&r, 100);
    assert_int_equal(assoc_build_request(&r.a, rig_now(&r), 100, req, NTP_HEADER_LEN), 0);
    rig_advance(&r, 100);
    assert_int_equal(assoc_build_request(&r.a, rig_now(&r), 101, req, sizeof req), NTP_HEADER_LEN + 20);
    nonce = load_be64(req + 40);

    /* A plain reply, however good otherwise, is refused and counted; the request stays open. */
    struct ntp_header h = good_reply(&r, nonce);
    struct assoc_outcome o = rig_deliver(&r, &h);
    assert_int_equal(o.verdict, SRC_DROP_AUTH);
    assert_int_equal(o.action, ASSOC_NONE);
    assert_int_equal(src_count(&r.a.src, SRC_DROP_AUTH), 1);
    assert_int_equal(engine_view(&r)->n_samples, 0);

    /* The signed reply is then accepted. */
    uint8_t buf[NTP_HEADER_LEN + 20] = {0};
    pkt_encode_header(&h, buf);
    buf[NTP_HEADER_LEN + 3] = 7;
    o = assoc_handle_reply(&r.a, buf, sizeof buf, ntp_add_sec(rig_now(&r), 0.021));
    assert_int_equal(o.verdict, SRC_SAMPLE);
    assert_int_equal(o.action, ASSOC_SAMPLED);
    assert_int_equal(t.checked, 2);
    assert_string_equal(src_verdict_name(SRC_DROP_AUTH), "auth-failed");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_authenticator_hooks),
        cmocka_unit_test(test_registers_with_engine),
        cmocka_unit_test(test_sample_fed_to_sync),
        cmocka_unit_test(test_one_reach_register),
        cmocka_unit_test(test_poll_sequencing),
        cmocka_unit_test(test_rate_backs_off),
        cmocka_unit_test(test_deny_removes),
        cmocka_unit_test(test_timing_loop),
        cmocka_unit_test(test_unsynchronised_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

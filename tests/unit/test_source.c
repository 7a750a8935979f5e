/* Unit tests for source: request format, RFC 5905 reply tests, KoD, offset maths, polling. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/packet.h"
#include "core/source.h"

#define NONCE 0x0123456789abcdefULL

/* 2025-06-15 15:06:40 UTC: an ordinary time, well inside era 0. */
static ntp_ts base_time(void)
{
    return ntp_from_unix((struct unix_time){1750000000, 0});
}

static struct src_params default_params(void)
{
    struct src_params p = {0};
    p.minpoll = 6;
    p.maxpoll = 10;
    p.epoch = base_time();
    return p;
}

/* What a well-behaved stratum-2 server answers; tests then spoil one field. */
static struct ntp_header server_reply(const uint8_t *req, ntp_ts t2, ntp_ts t3)
{
    struct ntp_header h = {0};
    h.version = 4;
    h.mode = NTP_MODE_SERVER;
    h.stratum = 2;
    h.poll = 6;
    h.precision = -20;
    h.root_delay = ntp_short_from_sec(0.010);
    h.root_dispersion = ntp_short_from_sec(0.005);
    h.refid = pkt_refid_ascii("GPS\0");
    h.reference = ntp_add_sec(t2, -30);
    h.origin = load_be64(req + 40);
    h.receive = t2;
    h.transmit = t3;
    return h;
}

static enum src_verdict deliver(struct source *s, const struct ntp_header *h, ntp_ts t4,
                                struct ntp_sample *out)
{
    uint8_t buf[NTP_HEADER_LEN];
    pkt_encode_header(h, buf);
    return src_handle_reply(s, buf, sizeof buf, t4, out);
}

/* One exchange: server `offset` ahead, 10 ms each way, 1 ms inside the server. */
static enum src_verdict exchange(struct source *s, ntp_ts t1, double offset, struct ntp_sample *out)
{
    uint8_t req[SRC_REQUEST_LEN];
    assert_int_equal(src_build_request(s, t1, NONCE + src_sent(s), req, sizeof req), SRC_REQUEST_LEN);
    ntp_ts t2 = ntp_add_sec(t1, 0.010 + offset);
    struct ntp_header h = server_reply(req, t2, ntp_add_sec(t2, 0.001));
    return deliver(s, &h, ntp_add_sec(t1, 0.021), out);
}

/*
 * A server `offset` ahead, 10 ms each way, that writes its basic transmit field
 * 0.5 ms before its reply really leaves (1 ms after receiving). `interleaved`:
 * it answers with the real departure of its previous reply, `prev_departure`.
 */
struct xleave_server {
    double offset;
    ntp_ts last_rx;        /* its receive time of our last request */
    ntp_ts last_departure; /* when its last reply really left */
};

static enum src_verdict xleave_exchange(struct source *s, struct xleave_server *srv, ntp_ts t1,
                                        bool answer_interleaved, struct ntp_sample *out)
{
    uint8_t req[SRC_REQUEST_LEN];
    assert_int_equal(src_build_request(s, t1, NONCE + src_sent(s), req, sizeof req), SRC_REQUEST_LEN);
    ntp_ts t2 = ntp_add_sec(t1, 0.010 + srv->offset);
    struct ntp_header h = server_reply(req, t2, ntp_add_sec(t2, 0.0005));
    bool asked = load_be64(req + 24) != 0 && load_be64(req + 24) == srv->last_rx;
    if (answer_interleaved && asked) {
        h.origin = load_be64(req + 32);
        h.transmit = srv->last_departure;
    }
    srv->last_rx = t2;
    srv->last_departure = ntp_add_sec(t2, 0.001);
    src_set_tx_time(s, t1);
    return deliver(s, &h, ntp_add_sec(t1, 0.021), out);
}

static void test_interleaved_client(void **state)
{
    (void)state;
    struct source s;
    struct src_params p = default_params();
    p.xleave = true;
    src_init(&s, &p);
    struct xleave_server srv = {.offset = 0.5};
    struct ntp_sample smp;
    ntp_ts t1 = ntp_add_sec(base_time(), 100);
    /* First a basic exchange: the early transmit field skews the offset by 0.25 ms. */
    assert_int_equal(xleave_exchange(&s, &srv, t1, true, &smp), SRC_SAMPLE);
    assert_true(fabs(smp.offset - 0.49975) < 1e-8);
    assert_false(src_last_interleaved(&s));
    /* Interleaved, but for the exchange just sampled: no second sample, still reachable. */
    ntp_ts t1b = ntp_add_sec(t1, 64);
    assert_int_equal(xleave_exchange(&s, &srv, t1b, true, &smp), SRC_XLEAVE_REPEAT);
    assert_int_equal(src_reach(&s) & 1, 1);
    /* Then samples of the previous exchange with the real departure: exact. */
    assert_int_equal(xleave_exchange(&s, &srv, ntp_add_sec(t1, 128), true, &smp), SRC_SAMPLE);
    assert_true(fabs(smp.offset - 0.5) < 1e-8);
    assert_true(fabs(smp.delay - 0.020) < 1e-8);
    assert_true(fabs(smp.local_time - (164.021)) < 1e-8); /* the previous exchange's T4 */
    assert_true(src_last_interleaved(&s));
    assert_int_equal(src_interleaved_samples(&s), 1);
    /* A server that answers basic to an interleaved request gets a basic sample taken. */
    assert_int_equal(xleave_exchange(&s, &srv, ntp_add_sec(t1, 192), false, &smp), SRC_SAMPLE);
    assert_true(fabs(smp.offset - 0.49975) < 1e-8);
    assert_false(src_last_interleaved(&s));
}

static void test_interleaved_request_format(void **state)
{
    (void)state;
    struct source s;
    struct src_params p = default_params();
    src_init(&s, &p); /* without xleave, never interleaved requests */
    struct xleave_server srv = {.offset = 0.1};
    struct ntp_sample smp;
    ntp_ts t1 = ntp_add_sec(base_time(), 100);
    assert_int_equal(xleave_exchange(&s, &srv, t1, true, &smp), SRC_SAMPLE);
    uint8_t req[SRC_REQUEST_LEN];
    src_build_request(&s, ntp_add_sec(t1, 64), NONCE, req, sizeof req);
    for (int i = 3; i < 40; i++)
        assert_int_equal(req[i], 0);
    /* With xleave: origin = the server's receive time, receive = a nonce; nothing of our clock. */
    p.xleave = true;
    src_init(&s, &p);
    srv.last_rx = 0;
    assert_int_equal(xleave_exchange(&s, &srv, t1, true, &smp), SRC_SAMPLE);
    src_build_request(&s, ntp_add_sec(t1, 64), NONCE, req, sizeof req);
    assert_true(load_be64(req + 24) == srv.last_rx);
    uint64_t rx_nonce = load_be64(req + 32);
    assert_true(rx_nonce != 0 && rx_nonce != NONCE);
    /* A reply echoing the previous request's receive nonce is stale, not bogus. */
    src_build_request(&s, ntp_add_sec(t1, 128), NONCE + 7, req, sizeof req);
    struct ntp_header h = server_reply(req, ntp_add_sec(t1, 128.1), ntp_add_sec(t1, 128.2));
    h.origin = rx_nonce;
    assert_int_equal(deliver(&s, &h, ntp_add_sec(t1, 128.3), &smp), SRC_DROP_STALE);
}

static void test_request_format(void **state)
{
    (void)state;
    struct source s;
    struct src_params p = default_params();
    src_init(&s, &p);
    assert_true(src_time_to_poll(&s, base_time()) <= 0);
    uint8_t req[64];
    memset(req, 0xee, sizeof req);
    assert_int_equal(src_build_request(&s, base_time(), NONCE, req, 47), 0);
    assert_int_equal(src_build_request(&s, base_time(), NONCE, req, sizeof req), 48);
    assert_int_equal(req[0], 0x23); /* LI 0, version 4, mode 3 */
    assert_int_equal(req[1], 0);
    assert_int_equal((int8_t)req[2], 6);
    for (int i = 3; i < 40; i++)
        assert_int_equal(req[i], 0); /* nothing about our clock leaks */
    assert_true(load_be64(req + 40) == NONCE);
    assert_int_equal(req[48], 0xee);
    assert_int_equal(src_sent(&s), 1);
    assert_true(fabs(src_time_to_poll(&s, base_time()) - 64.0) < 1e-6);
}

static void test_full_exchange(void **state)
{
    (void)state;
    struct source s;
    struct src_params p = default_params();
    src_init(&s, &p);
    ntp_ts t1 = ntp_add_sec(base_time(), 100);
    struct ntp_sample smp;
    assert_int_equal(exchange(&s, t1, 0.5, &smp), SRC_SAMPLE);
    assert_true(fabs(smp.offset - 0.5) < 1e-8);
    assert_true(fabs(smp.delay - 0.020) < 1e-8);
    assert_true(smp.dispersion > 0 && smp.dispersion < 1e-5);
    assert_true(fabs(smp.local_time - 100.021) < 1e-8);
    assert_true(fabs(smp.root_delay - 0.010) < 1e-4);
    assert_true(fabs(smp.root_dispersion - 0.005) < 1e-4);
    assert_int_equal(smp.stratum, 2);
    assert_int_equal(smp.leap, 0);
    assert_true(smp.refid == pkt_refid_ascii("GPS\0"));
    assert_int_equal(src_reach(&s), 1);
    assert_true(src_is_reachable(&s));
    assert_int_equal(src_count(&s, SRC_SAMPLE), 1);
    assert_true(fabs(src_time_to_poll(&s, ntp_add_sec(t1, 4)) - 60.0) < 1e-6);
}

/* A kernel TX timestamp replaces the time given to src_build_request. */
static void test_tx_time_correction(void **state)
{
    (void)state;
    struct source s;
    struct src_params p = default_params();
    src_init(&s, &p);
    ntp_ts t1 = base_time();
    uint8_t req[SRC_REQUEST_LEN];
    src_build_request(&s, ntp_add_sec(t1, -0.004), NONCE, req, sizeof req);
    src_set_tx_time(&s, t1);
    ntp_ts t2 = ntp_add_sec(t1, 0.010);
    struct ntp_header h = server_reply(req, t2, t2);
    struct ntp_sample smp;
    assert_int_equal(deliver(&s, &h, ntp_add_sec(t1, 0.020), &smp), SRC_SAMPLE);
    assert_true(fabs(smp.offset) < 1e-8);
    assert_true(fabs(smp.delay - 0.020) < 1e-8);
}

/* A reply whose origin is not our nonce is dropped and the genuine one still counts. */
static void test_bogus_origin(void **state)
{
    (void)state;
    struct source s;
    struct src_params p = default_params();
    src_init(&s, &p);
    uint8_t req[SRC_REQUEST_LEN];
    ntp_ts t1 = base_time();
    src_build_request(&s, t1, NONCE, req, sizeof req);
    struct ntp_header h = server_reply(req, t1, t1);
    struct ntp_sample smp;
    h.origin = NONCE + 1;
    assert_int_equal(deliver(&s, &h, t1, &smp), SRC_DROP_BOGUS);
    h.origin = t1; /* a server echoing our clock instead of the nonce is bogus too */
    assert_int_equal(deliver(&s, &h, t1, &smp), SRC_DROP_BOGUS);
    h.origin = 0;
    assert_int_equal(deliver(&s, &h, t1, &smp), SRC_DROP_BOGUS);
    h.origin = NONCE;
    assert_int_equal(deliver(&s, &h, ntp_add_sec(t1, 0.001), &smp), SRC_SAMPLE);
    assert_int_equal(src_count(&s, SRC_DROP_BOGUS), 3);
}

static void test_duplicate_and_unexpected(void **state)
{
    (void)state;
    struct source s;
    struct src_params p = default_params();
    src_init(&s, &p);
    uint8_t buf[NTP_HEADER_LEN] = {0};
    struct ntp_sample smp;
    buf[0] = 0x24;
    assert_int_equal(src_handle_reply(&s, buf, sizeof buf, base_time(), &smp), SRC_DROP_UNEXPECTED);
    uint8_t req[SRC_REQUEST_LEN];
    ntp_ts t1 = base_time();
    src_build_request(&s, t1, NONCE, req, sizeof req);
    struct ntp_header h = server_reply(req, t1, ntp_add_sec(t1, 0.001));
    assert_int_equal(deliver(&s, &h, ntp_add_sec(t1, 0.002), &smp), SRC_SAMPLE);
    assert_int_equal(deliver(&s, &h, ntp_add_sec(t1, 0.003), &smp), SRC_DROP_DUPLICATE);
    h.transmit = ntp_add_sec(h.transmit, 0.0001); /* a second, different answer to one request */
    assert_int_equal(deliver(&s, &h, ntp_add_sec(t1, 0.003), &smp), SRC_DROP_UNEXPECTED);
    assert_int_equal(src_reach(&s), 1);
}

/* The answer to an earlier request arriving after a newer one went out. */
static void test_stale_reply(void **state)
{
    (void)state;
    struct source s;
    struct src_params p = default_params();
    src_init(&s, &p);
    uint8_t req1[SRC_REQUEST_LEN], req2[SRC_REQUEST_LEN];
    ntp_ts t1 = base_time();
    src_build_request(&s, t1, NONCE, req1, sizeof req1);
    src_build_request(&s, ntp_add_sec(t1, 64), NONCE + 7, req2, sizeof req2);
    struct ntp_header h = server_reply(req1, t1, t1);
    struct ntp_sample smp;
    assert_int_equal(deliver(&s, &h, ntp_add_sec(t1, 65), &smp), SRC_DROP_STALE);
    h = server_reply(req2, ntp_add_sec(t1, 64.01), ntp_add_sec(t1, 64.01));
    assert_int_equal(deliver(&s, &h, ntp_add_sec(t1, 64.02), &smp), SRC_SAMPLE);
}

/* Sends a request at t1 and delivers `h` (origin filled in) as its reply. */
static enum src_verdict answer_with(struct source *s, ntp_ts t1, struct ntp_header h)
{
    uint8_t req[SRC_REQUEST_LEN];
    struct ntp_sample smp;
    assert_int_equal(src_build_request(s, t1, NONCE ^ t1, req, sizeof req), SRC_REQUEST_LEN);
    h.origin = load_be64(req + 40);
    /* a server never sends the same transmit timestamp twice */
    double bump = 1e-6 * (double)src_sent(s);
    if (h.receive != 0)
        h.receive = ntp_add_sec(h.receive, bump);
    if (h.transmit != 0)
        h.transmit = ntp_add_sec(h.transmit, bump);
    return deliver(s, &h, ntp_add_sec(t1, 0.021 + bump), &smp);
}

static struct ntp_header good_header(ntp_ts t1)
{
    uint8_t req[SRC_REQUEST_LEN] = {0};
    ntp_ts t2 = ntp_add_sec(t1, 0.010);
    return server_reply(req, t2, ntp_add_sec(t2, 0.001));
}

static void test_header_tests(void **state)
{
    (void)state;
    struct source s;
    struct src_params p = default_params();
    p.local_refid = 0x7f000001;
    src_init(&s, &p);
    ntp_ts t = base_time();
    struct ntp_header h = good_header(t);
    h.leap = NTP_LEAP_UNSYNC;
    assert_int_equal(answer_with(&s, t, h), SRC_DROP_UNSYNC);
    h = good_header(t);
    h.stratum = 16;
    assert_int_equal(answer_with(&s, t, h), SRC_DROP_UNSYNC);
    h = good_header(t);
    h.stratum = 0;
    h.refid = pkt_refid_ascii("INIT"); /* a kiss code with no action: just unsynchronised */
    assert_int_equal(answer_with(&s, t, h), SRC_DROP_UNSYNC);
    h = good_header(t);
    h.receive = 0;
    assert_int_equal(answer_with(&s, t, h), SRC_DROP_ZERO_TIME);
    h = good_header(t);
    h.refid = 0x7f000001;
    assert_int_equal(answer_with(&s, t, h), SRC_DROP_LOOP);
    h.stratum = 1; /* a stratum-1 refid is a clock name, not an address */
    assert_int_equal(answer_with(&s, t, h), SRC_SAMPLE);
    h = good_header(t);
    h.root_dispersion = ntp_short_from_sec(3.5);
    assert_int_equal(answer_with(&s, t, h), SRC_DROP_DISTANCE);
    h = good_header(t);
    h.root_delay = ntp_short_from_sec(6.0);
    assert_int_equal(answer_with(&s, t, h), SRC_DROP_DISTANCE);
    h = good_header(t);
    h.receive = ntp_add_sec(t, 0.5);
    h.transmit = ntp_add_sec(t, 0.4); /* server's T3 before its T2 */
    assert_int_equal(answer_with(&s, t, h), SRC_DROP_DELAY);
    h = good_header(t);
    h.transmit = ntp_add_sec(h.receive, 0.5); /* 0.5 s inside the server, 21 ms round trip */
    assert_int_equal(answer_with(&s, t, h), SRC_DROP_DELAY);
    h = good_header(t);
    h.version = 3;
    assert_int_equal(answer_with(&s, t, h), SRC_SAMPLE);
    assert_int_equal(src_count(&s, SRC_DROP_UNSYNC), 3);
    assert_int_equal(src_count(&s, SRC_DROP_DELAY), 2);
    assert_int_equal(src_count(&s, SRC_SAMPLE), 2);
}

static void test_mode_version_length(void **state)
{
    (void)state;
    struct source s;
    struct src_params p = default_params();
    src_init(&s, &p);
    ntp_ts t = base_time();
    struct ntp_header h = good_header(t);
    h.mode = NTP_MODE_CLIENT;
    assert_int_equal(answer_with(&s, t, h), SRC_DROP_MODE);
    h.mode = NTP_MODE_SYM_PASSIVE;
    assert_int_equal(answer_with(&s, t, h), SRC_DROP_MODE);
    h = good_header(t);
    h.version = 2;
    assert_int_equal(answer_with(&s, t, h), SRC_DROP_VERSION);
    h.version = 5;
    assert_int_equal(answer_with(&s, t, h), SRC_DROP_VERSION);

    uint8_t req[SRC_REQUEST_LEN], buf[NTP_HEADER_LEN + 8];
    struct ntp_sample smp;
    src_build_request(&s, t, NONCE, req, sizeof req);
    h = server_reply(req, t, t);
    pkt_encode_header(&h, buf);
    assert_int_equal(src_handle_reply(&s, buf, 47, t, &smp), SRC_DROP_MALFORMED);
    assert_int_equal(src_handle_reply(&s, buf, 0, t, &smp), SRC_DROP_MALFORMED);
    memset(buf + 48, 0, 8); /* 8 trailing bytes: neither an extension field nor a MAC */
    assert_int_equal(src_handle_reply(&s, buf, sizeof buf, t, &smp), SRC_DROP_MALFORMED);
    assert_int_equal(src_handle_reply(&s, buf, 48, ntp_add_sec(t, 0.001), &smp), SRC_SAMPLE);
}

static void test_kod_rate(void **state)
{
    (void)state;
    struct source s;
    struct src_params p = default_params();
    p.iburst = true;
    src_init(&s, &p);
    ntp_ts t = base_time();
    struct ntp_header kod = good_header(t);
    kod.leap = NTP_LEAP_UNSYNC;
    kod.stratum = 0;
    kod.refid = pkt_refid_ascii("RATE");
    kod.poll = 4;
    kod.receive = kod.transmit = 0;

    uint8_t req[SRC_REQUEST_LEN];
    struct ntp_sample smp;
    src_build_request(&s, t, NONCE, req, sizeof req);
    assert_true(src_in_burst(&s));
    kod.origin = NONCE + 1; /* a spoofed kiss changes nothing */
    assert_int_equal(deliver(&s, &kod, t, &smp), SRC_DROP_BOGUS);
    assert_int_equal(src_poll(&s), 6);
    kod.origin = NONCE;
    assert_int_equal(deliver(&s, &kod, t, &smp), SRC_KOD_RATE);
    assert_int_equal(src_poll(&s), 7);
    assert_false(src_in_burst(&s));
    assert_true(fabs(src_time_to_poll(&s, t) - 128.0) < 1e-6);
    src_set_poll(&s, 6); /* the discipline cannot go back below the kissed poll */
    assert_int_equal(src_poll(&s), 7);

    kod.poll = 9; /* the server's advertised poll is respected */
    assert_int_equal(answer_with(&s, ntp_add_sec(t, 128), kod), SRC_KOD_RATE);
    assert_int_equal(src_poll(&s), 9);
    kod.poll = 14; /* even beyond our maxpoll: the server insists */
    assert_int_equal(answer_with(&s, ntp_add_sec(t, 640), kod), SRC_KOD_RATE);
    assert_int_equal(src_poll(&s), 14);
    assert_false(src_is_demobilised(&s));
}

static void check_demobilising_kiss(const char *code, enum src_verdict expected)
{
    struct source s;
    struct src_params p = default_params();
    src_init(&s, &p);
    ntp_ts t = base_time();
    struct ntp_header kod = good_header(t);
    kod.stratum = 0;
    kod.refid = pkt_refid_ascii(code);
    kod.origin = NONCE;
    struct ntp_sample smp;
    assert_int_equal(deliver(&s, &kod, t, &smp), SRC_DROP_UNEXPECTED);
    assert_false(src_is_demobilised(&s));
    assert_int_equal(answer_with(&s, t, kod), expected);
    assert_true(src_is_demobilised(&s));
    uint8_t req[SRC_REQUEST_LEN];
    assert_int_equal(src_build_request(&s, ntp_add_sec(t, 64), NONCE, req, sizeof req), 0);
    assert_true(src_time_to_poll(&s, ntp_add_sec(t, 1e6)) >= SRC_NEVER);
    kod.stratum = 1;
    kod.transmit = ntp_add_sec(kod.transmit, 1);
    assert_int_equal(deliver(&s, &kod, t, &smp), SRC_DROP_UNEXPECTED);
    assert_int_equal(src_sent(&s), 1);
}

static void test_kod_deny_rstr(void **state)
{
    (void)state;
    check_demobilising_kiss("DENY", SRC_KOD_DENY);
    check_demobilising_kiss("RSTR", SRC_KOD_RSTR);
}

/* T1 just before the era 0 -> 1 rollover (2036-02-07 06:28:16 UTC), T4 after it. */
static void test_era_rollover(void **state)
{
    (void)state;
    struct source s;
    struct src_params p = default_params();
    ntp_ts t1 = ntp_from_unix((struct unix_time){2085978495, 990000000});
    p.epoch = t1;
    src_init(&s, &p);
    struct ntp_sample smp;
    /* server 3 ms behind: T2 = T1 + 10 ms - 3 ms lies before the wrap, T3/T4 after it */
    uint8_t req[SRC_REQUEST_LEN];
    src_build_request(&s, t1, NONCE, req, sizeof req);
    ntp_ts t2 = ntp_add_sec(t1, 0.007), t3 = ntp_add_sec(t1, 1.007), t4 = ntp_add_sec(t1, 1.020);
    assert_true(t4 < t1 && t3 < t2); /* wrapped */
    struct ntp_header h = server_reply(req, t2, t3);
    assert_int_equal(deliver(&s, &h, t4, &smp), SRC_SAMPLE);
    assert_true(fabs(smp.offset + 0.003) < 1e-8);
    assert_true(fabs(smp.delay - 0.020) < 1e-8);
    assert_true(fabs(smp.local_time - 1.020) < 1e-8);
    /* and the next poll is scheduled across the wrap */
    assert_true(fabs(src_time_to_poll(&s, t4) - (64 - 1.020)) < 1e-6);
}

/* Drives a source against a server that answers when `answers`; returns send times (s). */
static unsigned run_polls(struct source *s, ntp_ts start, double duration, bool answers,
                          double *times, unsigned max)
{
    unsigned n = 0;
    double now = 0;
    while (now <= duration && n < max) {
        double wait = src_time_to_poll(s, ntp_add_sec(start, now));
        if (wait > 1e-6) {
            now += wait;
            continue;
        }
        ntp_ts t1 = ntp_add_sec(start, now);
        uint8_t req[SRC_REQUEST_LEN];
        assert_int_equal(src_build_request(s, t1, NONCE + n, req, sizeof req), SRC_REQUEST_LEN);
        times[n++] = now;
        if (answers) {
            struct ntp_header h = server_reply(req, ntp_add_sec(t1, 0.01), ntp_add_sec(t1, 0.011));
            struct ntp_sample smp;
            assert_int_equal(deliver(s, &h, ntp_add_sec(t1, 0.021), &smp), SRC_SAMPLE);
        }
    }
    return n;
}

static void test_iburst_timing(void **state)
{
    (void)state;
    struct source s;
    struct src_params p = default_params();
    p.iburst = true;
    src_init(&s, &p);
    double times[16];
    unsigned n = run_polls(&s, base_time(), 200, true, times, 16);
    assert_int_equal(n, 10); /* 8 in the burst, then 64 s apart: 78, 142, 206 > 200 */
    for (unsigned i = 0; i < 8; i++)
        assert_true(fabs(times[i] - 2.0 * i) < 1e-6);
    assert_true(fabs(times[8] - 78) < 1e-6);
    assert_true(fabs(times[9] - 142) < 1e-6);
    assert_int_equal(src_reach(&s), 0xff);

    struct source plain;
    p.iburst = false;
    src_init(&plain, &p);
    n = run_polls(&plain, base_time(), 200, true, times, 16);
    assert_int_equal(n, 4);
    assert_true(fabs(times[1] - 64) < 1e-6);

    /* With sub-second polls the burst goes at the poll, not slower at 2 s. */
    struct source fast;
    p.iburst = true;
    p.minpoll = -1;
    p.maxpoll = 4;
    src_init(&fast, &p);
    n = run_polls(&fast, base_time(), 3.6, true, times, 16);
    assert_int_equal(n, 8);
    for (unsigned i = 0; i < 8; i++)
        assert_true(fabs(times[i] - 0.5 * i) < 1e-6);
}

static void test_reach_register(void **state)
{
    (void)state;
    struct source s;
    struct src_params p = default_params();
    src_init(&s, &p);
    ntp_ts t = base_time();
    struct ntp_header h = good_header(t);
    assert_int_equal(answer_with(&s, t, h), SRC_SAMPLE);
    uint8_t req[SRC_REQUEST_LEN];
    src_build_request(&s, ntp_add_sec(t, 64), NONCE, req, sizeof req); /* lost */
    assert_int_equal(answer_with(&s, ntp_add_sec(t, 128), h), SRC_SAMPLE);
    assert_int_equal(src_reach(&s), 5); /* 0b101 */
    for (int i = 0; i < 7; i++)
        src_build_request(&s, ntp_add_sec(t, 192 + 64 * i), NONCE + 1 + (unsigned)i, req, sizeof req);
    assert_int_equal(src_reach(&s), 0x80); /* the sample 7 polls ago is still in the register */
    assert_true(src_is_reachable(&s));
    src_build_request(&s, ntp_add_sec(t, 640), NONCE + 9, req, sizeof req);
    assert_int_equal(src_reach(&s), 0);
    assert_false(src_is_reachable(&s));
}

static void check_intervals(const double *times, unsigned n, const double *expected)
{
    for (unsigned i = 1; i < n; i++)
        assert_true(fabs(times[i] - times[i - 1] - expected[i - 1]) < 1e-6);
}

/* A silent server: 8 misses at the normal poll, then back off to 256 s, and back at once on return. */
static void test_unreachable_backoff(void **state)
{
    (void)state;
    struct source s;
    struct src_params p = default_params();
    src_init(&s, &p);
    double times[16];
    unsigned n = run_polls(&s, base_time(), 3000, false, times, 15);
    assert_int_equal(n, 15);
    /* the 8th miss is known when the 9th request goes: it goes at 64 s, then 128 s, then 256 s */
    const double expected[] = {64, 64, 64, 64, 64, 64, 64, 64, 64, 128, 256, 256, 256, 256};
    check_intervals(times, n, expected);
    assert_int_equal(src_poll(&s), 8);
    assert_false(src_is_reachable(&s));

    /* The server comes back: the next poll returns to 2^6 s after the last request. */
    double last = times[n - 1];
    ntp_ts t1 = ntp_add_sec(base_time(), last);
    assert_true(fabs(src_time_to_poll(&s, t1) - 256) < 1e-6);
    uint8_t req[SRC_REQUEST_LEN];
    struct ntp_sample smp;
    /* re-send as the last request of the run to answer it */
    src_build_request(&s, t1, NONCE + 99, req, sizeof req);
    struct ntp_header h = server_reply(req, t1, t1);
    assert_int_equal(deliver(&s, &h, ntp_add_sec(t1, 0.001), &smp), SRC_SAMPLE);
    assert_int_equal(src_poll(&s), 6);
    assert_true(fabs(src_time_to_poll(&s, t1) - 64) < 1e-6);
}

/* From a long poll, unreachability brings the poll down to 2^8 s; a large minpoll wins. */
static void test_unreachable_poll_limits(void **state)
{
    (void)state;
    struct source s;
    struct src_params p = default_params();
    src_init(&s, &p);
    src_set_poll(&s, 10);
    double times[12];
    unsigned n = run_polls(&s, base_time(), 20000, false, times, 11);
    const double expected[] = {1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 256, 256};
    check_intervals(times, n, expected);

    p.minpoll = 10;
    p.maxpoll = 12;
    src_init(&s, &p);
    n = run_polls(&s, base_time(), 20000, false, times, 11);
    assert_int_equal(src_poll(&s), 10);
    assert_true(fabs(times[10] - times[9] - 1024) < 1e-6);

    p.minpoll = 4;
    p.maxpoll = 6;
    src_init(&s, &p);
    n = run_polls(&s, base_time(), 20000, false, times, 12);
    const double small[] = {16, 16, 16, 16, 16, 16, 16, 16, 16, 32, 64};
    check_intervals(times, n, small);
}

static void test_set_poll(void **state)
{
    (void)state;
    struct source s;
    struct src_params p = default_params();
    p.minpoll = 20; /* clamped into range */
    p.maxpoll = 3;
    src_init(&s, &p);
    assert_int_equal(src_poll(&s), SRC_POLL_MAX);
    p = default_params();
    src_init(&s, &p);
    src_set_poll(&s, 2);
    assert_int_equal(src_poll(&s), 6);
    src_set_poll(&s, 30);
    assert_int_equal(src_poll(&s), 10);
    ntp_ts t = base_time();
    uint8_t req[SRC_REQUEST_LEN];
    src_build_request(&s, t, NONCE, req, sizeof req);
    assert_int_equal((int8_t)req[2], 10);
    assert_true(fabs(src_time_to_poll(&s, ntp_add_sec(t, 100)) - 924) < 1e-6);
    src_set_poll(&s, 6); /* rescheduled from the last request, so due at once here */
    assert_true(fabs(src_time_to_poll(&s, ntp_add_sec(t, 100)) + 36) < 1e-6);
}

/* Zero and repeated random values never make a nonce that matches "nothing" or an old request. */
static void test_nonce_choice(void **state)
{
    (void)state;
    struct source s;
    struct src_params p = default_params();
    src_init(&s, &p);
    uint8_t req1[SRC_REQUEST_LEN], req2[SRC_REQUEST_LEN];
    src_build_request(&s, base_time(), 0, req1, sizeof req1);
    assert_true(load_be64(req1 + 40) != 0);
    src_build_request(&s, base_time(), 1, req2, sizeof req2);
    assert_true(load_be64(req2 + 40) != load_be64(req1 + 40));
    for (int v = 0; v < SRC_VERDICT_COUNT; v++)
        assert_string_not_equal(src_verdict_name((enum src_verdict)v), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_format),
        cmocka_unit_test(test_interleaved_client),
        cmocka_unit_test(test_interleaved_request_format),
        cmocka_unit_test(test_full_exchange),
        cmocka_unit_test(test_tx_time_correction),
        cmocka_unit_test(test_bogus_origin),
        cmocka_unit_test(test_duplicate_and_unexpected),
        cmocka_unit_test(test_stale_reply),
        cmocka_unit_test(test_header_tests),
        cmocka_unit_test(test_mode_version_length),
        cmocka_unit_test(test_kod_rate),
        cmocka_unit_test(test_kod_deny_rstr),
        cmocka_unit_test(test_era_rollover),
        cmocka_unit_test(test_iburst_timing),
        cmocka_unit_test(test_reach_register),
        cmocka_unit_test(test_unreachable_backoff),
        cmocka_unit_test(test_unreachable_poll_limits),
        cmocka_unit_test(test_set_poll),
        cmocka_unit_test(test_nonce_choice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

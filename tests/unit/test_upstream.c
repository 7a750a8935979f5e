/*
 * Unit tests for upstream_apply_config, a reload's `server`/`pool` lines: a
 * kept line keeps its peer as it was (slot, socket, timer, engine state) under
 * its new line number; a removed line's peer leaves the loop, the engine and
 * the reports, its socket closed; a new line's peer starts as at start, in the
 * freed slot. The peers are numeric 127.0.0.1 addresses on ports nobody
 * serves: connect() needs no listener and nothing is sent outside loopback.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "io/clock_linux.h"
#include "io/upstream.h"

/* The loop's monotonic clock, moved by hand (only its timers see it). */
static double fake_mono;
static double fake_clock(void) { return fake_mono; }

/* The engine runs on horloged -x's virtual clock: it never changes the real one. */
static struct clock_none virtual_clock;
static struct clock_driver drv;

static ntp_ts local_time(void *ctx, const struct unix_time *raw)
{
    (void)ctx;
    struct unix_time now;
    if (!raw)
        drv.read(drv.ctx, &now);
    return ntp_from_unix(raw ? *raw : now);
}

static struct sync engine;
static struct loop loop;
static struct upstream up;
static struct config cfg;

static const struct config *config_of(const char *text)
{
    struct cfg_errors errs;
    assert_int_equal(cfg_parse_text(text, strlen(text), "test.conf", &cfg, &errs), 0);
    return &cfg;
}

static int setup(void **state)
{
    (void)state;
    fake_mono = 0;
    assert_int_equal(clock_none_open(&virtual_clock, &drv), 0);
    struct sync_params sp;
    sync_default_params(&sp);
    struct unix_time now;
    drv.read(drv.ctx, &now);
    sync_init(&engine, &sp, &drv, ntp_from_unix(now));
    loop_init(&loop, fake_clock);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    upstream_close(&up);
    clock_none_close(&virtual_clock);
    return 0;
}

/* The active peer whose server listens on `port`, or NULL. */
static struct upstream_peer *peer_on(unsigned port)
{
    for (unsigned i = 0; i < up.n_peers; i++)
        if (up.peers[i].active && netaddr_port_of(&up.peers[i].addr.sa) == port)
            return &up.peers[i];
    return NULL;
}

static unsigned active_peers(void)
{
    unsigned n = 0;
    for (unsigned i = 0; i < up.n_peers; i++)
        n += up.peers[i].active;
    return n;
}

static bool fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0 || errno != EBADF;
}

static void test_reload_keeps_drops_and_adds(void **state)
{
    (void)state;
    upstream_init(&up, config_of("server 127.0.0.1 port 40001 minpoll 0\nserver 127.0.0.1 port 40002\n"),
                  &engine, &loop, local_time, NULL, -20);
    assert_int_equal(upstream_start(&up), 0);
    assert_int_equal(loop_run_once(&loop, 0), 0); /* numeric: taken up at the first round */
    assert_int_equal(active_peers(), 2);
    struct upstream_peer *a = peer_on(40001), *b = peer_on(40002);
    assert_non_null(a);
    assert_non_null(b);
    struct upstream_peer a_before = *a;
    int a_index = a->assoc.sync_index, b_index = b->assoc.sync_index, b_fd = b->fd;
    engine.src[a_index].n_samples = 7; /* a mark: the engine's state of A must survive */

    /* A kept (now the second line), B gone, C new; maxdistance applies to the kept peer. */
    assert_int_equal(upstream_apply_config(&up, config_of("server 127.0.0.1 port 40003\n"
                                                          "server 127.0.0.1 port 40001 minpoll 0\n"
                                                          "maxdistance 1.5\n")),
                     0);
    assert_ptr_equal(peer_on(40001), a);
    assert_int_equal(a->cfg_index, 1);
    assert_int_equal(a->fd, a_before.fd);
    assert_int_equal(a->timer, a_before.timer);
    assert_int_equal(a->assoc.sync_index, a_index);
    assert_int_equal(src_sent(&a->assoc.src), src_sent(&a_before.assoc.src));
    assert_true(a->assoc.src.p.maxdistance == 1.5);
    assert_int_equal(engine.src[a_index].n_samples, 7);
    assert_false(engine.src[a_index].removed);
    assert_true(fd_is_open(a->fd));

    assert_null(peer_on(40002));
    assert_false(b->active);
    assert_int_equal(b->assoc.sync_index, -1); /* out of the reports */
    assert_true(engine.src[b_index].removed);
    assert_false(fd_is_open(b_fd));
    for (unsigned i = 0; i < LOOP_MAX_WATCHES; i++)
        assert_false(loop.watch[i].fd == b_fd);
    assert_string_equal(upstream_peer_name(&up, a), "127.0.0.1");

    assert_int_equal(loop_run_once(&loop, 0), 0);
    struct upstream_peer *c = peer_on(40003);
    assert_non_null(c);
    assert_ptr_equal(c, b); /* the freed slot, and the engine's freed index */
    assert_int_equal(c->cfg_index, 0);
    assert_int_equal(c->assoc.sync_index, b_index);
    assert_false(engine.src[b_index].removed);
    assert_int_equal(up.n_peers, 2);
    assert_ptr_equal(upstream_peer_of(&up, (unsigned)a_index), a);

    /* The same configuration again changes nothing. */
    assert_int_equal(upstream_apply_config(&up, &up.cfg), 0);
    assert_ptr_equal(peer_on(40001), a);
    assert_ptr_equal(peer_on(40003), c);
    assert_int_equal(engine.src[a_index].n_samples, 7);

    /* No source left: every peer closed, nothing reported. */
    int a_fd = a->fd, c_fd = c->fd;
    assert_int_equal(upstream_apply_config(&up, config_of("local stratum 10\n")), 0);
    assert_int_equal(active_peers(), 0);
    assert_false(fd_is_open(a_fd) || fd_is_open(c_fd));
    for (unsigned i = 0; i < up.n_peers; i++)
        assert_int_equal(up.peers[i].assoc.sync_index, -1);
    assert_int_equal(engine.sel.selected, -1);
}

/* A configuration that had no source gets its housekeeping timer on the first reload that adds one. */
static void test_reload_from_no_source(void **state)
{
    (void)state;
    upstream_init(&up, config_of("local stratum 10\n"), &engine, &loop, local_time, NULL, -20);
    assert_int_equal(upstream_start(&up), 0);
    assert_int_equal(up.timer, -1);
    assert_int_equal(upstream_apply_config(&up, config_of("server 127.0.0.1 port 40001\n")), 0);
    assert_true(up.timer >= 0);
    assert_int_equal(loop_run_once(&loop, 0), 0);
    assert_non_null(peer_on(40001));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reload_keeps_drops_and_adds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_from_no_source, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * loop: the daemon's event loop, which modules register with (chrony's
 * sched.c model: SCH_AddFileHandler / SCH_AddTimeout).
 *
 * Owns: a fixed table of watched descriptors (fd, events, callback, context)
 * and of timers (monotonic due time, callback, context). loop_run_once()
 * builds the poll set from the table, waits in poll() until the earliest
 * timer is due, then runs the callbacks of what is ready and of what is due.
 * The loop knows nobody: the control socket, the upstream sources, the
 * serving sockets (`threads 0`), the resolver and whatever comes later
 * (NTS-KE, reference clocks, metrics, a signer) add and remove their own.
 *
 * Why poll() and nothing else: this thread waits only there, with timers as
 * poll timeouts (no epoll, timerfd or sleep), so horloged stays drivable by
 * an LD_PRELOAD clock/network simulator (tools/check-sim-ready.sh).
 *
 * Callbacks may add and remove descriptors and timers, their own or others',
 * at any time: a descriptor removed during a round is not called again in it,
 * even if its slot is reused at once. Single-threaded: call it from the loop's
 * thread only (other threads hand results over through state the loop's
 * timers or descriptors pick up).
 */
#ifndef HORLOGE_LOOP_H
#define HORLOGE_LOOP_H

#include <poll.h>
#include <stdbool.h>

#define LOOP_MAX_WATCHES 256
#define LOOP_MAX_TIMERS 128

typedef void (*loop_io_fn)(void *ctx, int fd, short revents);
typedef void (*loop_timer_fn)(void *ctx);
/* Monotonic seconds; injectable so tests control time. */
typedef double (*loop_clock_fn)(void);

struct loop_watch {
    int fd;                 /* -1: free slot */
    short events;
    loop_io_fn fn;
    void *ctx;
    unsigned generation;    /* bumped on every removal: tells a reused slot from the old one */
};

struct loop_timer {
    bool used;
    bool armed;
    double due;             /* monotonic seconds */
    loop_timer_fn fn;
    void *ctx;
};

struct loop {
    loop_clock_fn clock;
    unsigned n_slots;       /* watch slots in use or freed: [0, n_slots) */
    struct loop_watch watch[LOOP_MAX_WATCHES];
    struct loop_timer timers[LOOP_MAX_TIMERS];
    /* The round being dispatched: poll entry i belongs to slot[i] as it was at poll time. */
    struct pollfd pfd[LOOP_MAX_WATCHES];
    unsigned pfd_slot[LOOP_MAX_WATCHES];
    unsigned pfd_generation[LOOP_MAX_WATCHES];
    unsigned long n_rounds;
};

/* `clock` NULL: CLOCK_MONOTONIC. */
void loop_init(struct loop *l, loop_clock_fn clock);
/* Monotonic seconds now, by the loop's clock. */
double loop_now(const struct loop *l);

/* Watches `fd` for `events` (POLLIN, POLLOUT). 0, or -1 when the table is full or fd is watched already. */
int loop_watch_fd(struct loop *l, int fd, short events, loop_io_fn fn, void *ctx);
/* Changes what a watched fd waits for (0: nothing for now, the fd stays registered). */
void loop_set_events(struct loop *l, int fd, short events);
/* Stops watching `fd` (does not close it). No-op when it is not watched. */
void loop_unwatch_fd(struct loop *l, int fd);

/* A new, disarmed timer; its id (>= 0), or -1 when the table is full. */
int loop_timer_new(struct loop *l, loop_timer_fn fn, void *ctx);
/* Arms (or re-arms) timer `id` to fire `seconds` from now (<= 0: at the next round). */
void loop_timer_arm(struct loop *l, int id, double seconds);
/* Arms timer `id` for monotonic time `due`. */
void loop_timer_arm_at(struct loop *l, int id, double due);
void loop_timer_disarm(struct loop *l, int id);
bool loop_timer_armed(const struct loop *l, int id);
/* Monotonic time timer `id` fires at; only meaningful when armed. */
double loop_timer_due(const struct loop *l, int id);
/* Frees timer `id` (a later loop_timer_new may reuse it). Negative ids are ignored. */
void loop_timer_free(struct loop *l, int id);

/*
 * One round: waits in poll() for at most `max_wait_ms` (-1: until the next
 * timer, or for ever without one) and runs what is ready, then what is due.
 * Returns 0, or -1 when poll() failed other than by a signal (errno set).
 */
int loop_run_once(struct loop *l, int max_wait_ms);

#endif

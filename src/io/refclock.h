/*
 * refclock (the shell's side): reference clocks as time sources, behind a
 * three-function driver table (chrony's refclock.h model). A driver reads
 * its device or socket and hands readings over; everything else — the
 * engine's source slot, the poll timer, the reach register, the sample
 * arithmetic (core/refclock), selection against the other sources — is
 * shared by every driver and every kind of source.
 *
 * Owns: the table of drivers, each configured clock's life (start: its sync
 * source, its loop timer, the driver's init; stop), its reach register (one
 * bit per poll interval: did a good reading arrive?) and its counters.
 *
 * Adding a driver: write src/io/refclock_NAME.c defining a
 * `const struct refclock_driver refclock_NAME_driver` with init (open, and
 * register descriptors with rc->loop if the driver is event-driven), fini
 * and optionally read (called every REFCLOCK_READ_INTERVAL seconds, or every
 * poll interval when that is shorter, for clocks read on demand such as SHM
 * or a PHC); call refclock_add_reading() for each reading and
 * refclock_count_bad() for each reading refused (quiet statuses, such as an
 * SHM segment with nothing new, are only counted); add it to the table in
 * refclock.c. The config's `refclock NAME PARAM ...` then finds it.
 */
#ifndef HORLOGE_IO_REFCLOCK_H
#define HORLOGE_IO_REFCLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "core/refclock.h"
#include "core/sync.h"
#include "io/config.h"
#include "io/loop.h"
#include "io/timesource.h"

/* On-demand clocks (SHM, PHC) are read once a second, as chrony's default dpoll 0. */
#define REFCLOCK_READ_INTERVAL 1.0

struct refclock;

/*
 * What drivers ask the kernel, through a table a test can replace: a fake PPS
 * or PTP device where the machine has none. The daemon uses refclock_os_linux.
 */
struct refclock_os {
    int (*open)(const char *path, int flags);
    int (*close)(int fd);
    int (*ioctl)(int fd, unsigned long request, void *arg);
    int (*clock_gettime)(clockid_t id, struct timespec *ts);
};
extern const struct refclock_os refclock_os_linux;

struct refclock_driver {
    const char *name;                   /* as in `refclock NAME PARAM` */
    int (*init)(struct refclock *rc);   /* 0, or -errno (the caller logs it) */
    void (*fini)(struct refclock *rc);
    void (*read)(struct refclock *rc);  /* optional: every read interval */
    bool (*param_ok)(const char *param); /* optional: the config's check of PARAM ... */
    const char *param_what;             /* ... and what it must be: "a segment number (0-217)" */
};

/* The drivers (one file each). */
extern const struct refclock_driver refclock_sock_driver;
extern const struct refclock_driver refclock_shm_driver;
extern const struct refclock_driver refclock_pps_driver;
extern const struct refclock_driver refclock_phc_driver;

struct refclock {
    const struct refclock_driver *drv;
    const struct refclock_os *os;
    struct cfg_refclock cfg;
    struct loop *loop;
    struct sync *sync;
    timesource_time_fn local_time;
    void *time_ctx;
    void (*on_sample)(void *ctx);       /* the engine's state may have changed */
    void *sample_ctx;
    int sync_index;
    int timer;
    int read_timer;                     /* drivers with read(): their read interval */
    int fd;                             /* the driver's descriptor, -1 when none */
    void *drv_state;                    /* the driver's own (an attached SHM segment) */
    bool driver_started;                /* init succeeded: fini is owed */
    struct refclock_feed feed;          /* readings -> the engine (core/refclock) */
    uint64_t n_bad, n_quiet;
    enum refclock_status last_bad, last_quiet;
};

const struct refclock_driver *refclock_driver_find(const char *name);
/* The drivers' names, for error messages: "SOCK". */
const char *refclock_driver_names(void);

/* Starts a configured clock: its engine slot, its timer and the driver. 0, or -1 (logged). */
int refclock_start(struct refclock *rc, const struct cfg_refclock *cfg, struct loop *loop, struct sync *sync,
                   timesource_time_fn local_time, void *time_ctx);
/* The same on another kernel (a test's fake devices). */
int refclock_start_on(struct refclock *rc, const struct refclock_os *os, const struct cfg_refclock *cfg,
                      struct loop *loop, struct sync *sync, timesource_time_fn local_time, void *time_ctx);
void refclock_stop(struct refclock *rc);

/* For drivers: a reading (system time and reference - system offset), and a datagram that was not one. */
void refclock_add_reading(struct refclock *rc, const struct refclock_reading *r);
void refclock_count_bad(struct refclock *rc, enum refclock_status why);

/*
 * SHM: one read of a segment laid out as ntpd's (any memory will do: a test's
 * own): `copy` copies it (memcpy's job; a test may write to the segment while
 * it copies), then count is read again, the copy decoded (core/refclock) with
 * `now`, and `valid` cleared when it was set. REFCLOCK_OK with *out, or why not.
 */
typedef void (*refclock_shm_copy_fn)(uint8_t *dst, const volatile uint8_t *seg, size_t len, void *ctx);
enum refclock_status refclock_shm_take(volatile uint8_t *seg, refclock_shm_copy_fn copy, void *copy_ctx,
                                       struct unix_time now, struct refclock_reading *out);
void refclock_shm_copy(uint8_t *dst, const volatile uint8_t *seg, size_t len, void *ctx);

/* "GPS (SOCK /run/chrony.ttyS0.sock)": what `horloge status` shows as the source. */
void refclock_describe(const struct refclock *rc, char *out, size_t cap);

/* The daemon's configured reference clocks. */
struct refclock_set {
    unsigned n;
    struct refclock clocks[CFG_MAX_REFCLOCKS];
};

/* Starts every `refclock` line of cfg (before privileges are dropped: devices and sockets open then). */
int refclock_set_start(struct refclock_set *set, const struct config *cfg, struct loop *loop, struct sync *sync,
                       timesource_time_fn local_time, void *time_ctx, void (*on_sample)(void *ctx), void *sample_ctx);
void refclock_set_stop(struct refclock_set *set);
/* The reports' view and counters of sync source `sync_index` when it is one of ours (io/timesource.h). */
bool refclock_view(const void *set, unsigned sync_index, struct timesource_view *out);
void refclock_stats(const void *set, unsigned sync_index, struct kv_out *out);

#endif

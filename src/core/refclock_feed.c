/* refclock_feed: a reference clock's readings into the engine, and pulse numbering; see refclock.h. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "core/refclock.h"
#include "core/sync.h"

static double unix_sec(struct unix_time t)
{
    return (double)t.sec + t.nsec * 1e-9;
}

enum refclock_status refclock_number_pulse(const struct refclock_reading *pulse, double coarse_offset,
                                           struct refclock_reading *out)
{
    double seconds = round(coarse_offset - pulse->offset);
    if (fabs(coarse_offset - pulse->offset - seconds) > REFCLOCK_PULSE_MAX_ERROR)
        return REFCLOCK_NO_SECOND;
    *out = *pulse;
    out->offset = pulse->offset + seconds;
    out->pulse = false;
    return REFCLOCK_OK;
}

void refclock_feed_init(struct refclock_feed *f, const struct refclock_params *p, struct sync *sync,
                        unsigned sync_index)
{
    *f = (struct refclock_feed){.params = *p, .sync = sync, .sync_index = sync_index};
}

/*
 * Without a lock, our own clock numbers the pulse while the engine is
 * synchronised (or holding over) within REFCLOCK_PULSE_MAX_ERROR: it is then
 * within that of true time, so rounding to its second is right. Once the
 * pulses themselves keep it there this stays true — chrony's rule for an
 * unlocked PPS, which needs another source only to start.
 */
static bool coarse_offset_for(const struct refclock_feed *f, const struct refclock_reading *pulse, double *coarse)
{
    if (f->lock) {
        const struct refclock_feed *l = f->lock;
        if (!l->have_last || fabs(unix_sec(pulse->local) - unix_sec(l->last.local)) > REFCLOCK_LOCK_MAX_AGE)
            return false;
        *coarse = l->last.offset + l->params.offset;
        return true;
    }
    const struct ref *ref = &f->sync->ref;
    if (ref->mode != REF_SYNCED && ref->mode != REF_HOLDOVER)
        return false;
    *coarse = 0.0;
    return ref_root_distance_at(ref, ntp_from_unix(pulse->local)) < REFCLOCK_PULSE_MAX_ERROR;
}

enum refclock_status refclock_feed_reading(struct refclock_feed *f, const struct refclock_reading *r)
{
    f->n_readings++;
    struct refclock_reading whole = *r;
    if (r->pulse) {
        f->n_pulses++;
        double coarse;
        enum refclock_status st =
            coarse_offset_for(f, r, &coarse) ? refclock_number_pulse(r, coarse, &whole) : REFCLOCK_NO_SECOND;
        if (st != REFCLOCK_OK) {
            f->n_unnumbered++;
            return st;
        }
    } else {
        f->have_last = true;
        f->last = *r;
    }
    if (f->n_pending == REFCLOCK_MAX_PENDING)
        f->n_pending--; /* a clock faster than its poll: the newest readings win */
    f->pending[f->n_pending++] = whole;
    return REFCLOCK_OK;
}

static int by_offset(const void *a, const void *b)
{
    double x = ((const struct refclock_reading *)a)->offset, y = ((const struct refclock_reading *)b)->offset;
    return (x > y) - (x < y);
}

bool refclock_feed_poll(struct refclock_feed *f)
{
    /* The engine hears the register as it stands before this interval's sample, which it sees next. */
    uint8_t shifted = (uint8_t)(f->reach << 1);
    if (f->n_polls < UINT_MAX)
        f->n_polls++;
    sync_polled(f->sync, f->sync_index, shifted != 0 && !f->noselect,
                f->n_polls <= SYNC_PENDING_POLLS && !f->noselect);
    f->reach = (uint8_t)(shifted | (f->n_pending > 0));
    if (f->n_pending == 0 || f->noselect) {
        f->n_pending = 0;
        return false;
    }
    /* The readings of one poll interval become one sample: their median (chrony filters them too). */
    qsort(f->pending, f->n_pending, sizeof f->pending[0], by_offset);
    struct ntp_sample smp;
    bool fed = refclock_make_sample(&f->params, &f->pending[f->n_pending / 2], &smp);
    if (fed)
        sync_sample(f->sync, f->sync_index, &smp);
    f->n_pending = 0;
    return fed;
}

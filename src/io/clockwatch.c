/* clockwatch: logging the system clock's steering failures; see clockwatch.h. */
#include "io/clockwatch.h"

#include <string.h>

#include "io/log.h"

enum clockwatch_event clockwatch_check(struct clockwatch *w, const struct sync_clock_health *h,
                                       double now, unsigned long *n_new)
{
    /* A call that failed and a later one that worked, both between two checks, still get told. */
    bool failed_since = h->n_errors > w->n_seen;
    w->n_seen = h->n_errors;
    *n_new = h->n_errors - w->n_at_message;
    if (!w->failing && (h->failing || failed_since)) {
        w->failing = true;
        w->n_at_message = h->n_errors;
        w->next_summary = now + CLOCKWATCH_SUMMARY_SECONDS;
        return CLOCKWATCH_FAILED;
    }
    if (w->failing && !h->failing) {
        w->failing = false;
        return CLOCKWATCH_RECOVERED;
    }
    if (!w->failing || now < w->next_summary || *n_new == 0)
        return CLOCKWATCH_QUIET;
    w->n_at_message = h->n_errors;
    w->next_summary = now + CLOCKWATCH_SUMMARY_SECONDS;
    return CLOCKWATCH_STILL_FAILING;
}

void clockwatch_update(struct clockwatch *w, const struct sync_clock_health *h, double now)
{
    unsigned long n_new;
    const char *op = sync_clock_op_name(h->last_op);
    switch (clockwatch_check(w, h, now, &n_new)) {
    case CLOCKWATCH_QUIET:
        break;
    case CLOCKWATCH_FAILED:
        log_error("cannot steer the system clock: %s: %s; serving unsynchronised until it can be",
                  op, strerror(h->last_errno));
        break;
    case CLOCKWATCH_STILL_FAILING:
        log_error("still cannot steer the system clock: %lu more failures (%lu in all), the last: "
                  "%s: %s; serving unsynchronised", n_new, h->n_errors, op, strerror(h->last_errno));
        break;
    case CLOCKWATCH_RECOVERED:
        log_info("steering the system clock works again (after %lu failures); serving time as "
                 "soon as the sources are used again", h->n_errors);
        break;
    }
}

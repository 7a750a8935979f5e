/* history: the status page's ring of points; see history.h. */
#include "core/history.h"

void history_init(struct history *h, double interval)
{
    h->interval = interval > 0 ? interval : HISTORY_DEFAULT_INTERVAL;
    h->next_at = 0;
    h->head = 0;
    h->n = 0;
}

bool history_offer(struct history *h, const struct history_point *pt)
{
    /* A clock stepped back must not stop the recording for as long as it went back. */
    if (h->n > 0 && pt->t < h->next_at && pt->t >= h->next_at - 2 * h->interval)
        return false;
    h->p[h->head] = *pt;
    h->head = (h->head + 1) % HISTORY_POINTS;
    if (h->n < HISTORY_POINTS)
        h->n++;
    h->next_at = pt->t + h->interval;
    return true;
}

const struct history_point *history_at(const struct history *h, unsigned i)
{
    unsigned oldest = (h->head + HISTORY_POINTS - h->n) % HISTORY_POINTS;
    return &h->p[(oldest + i) % HISTORY_POINTS];
}

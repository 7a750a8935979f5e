/*
 * events: the log's one line per significant event — a source selected,
 * lost (unreachable) or marked a falseticker, the reference's mode changing
 * (synchronised, holdover, local, unsynchronised), a clock step, a leap
 * second announced or withdrawn, and a summary of the Kiss-o'-Death packets
 * sent to clients. (Reloads, KoD received, clock failures are logged where
 * they happen: io/main, io/upstream, io/clockwatch.)
 *
 * Owns: the last state seen of each of those, compared after every change of
 * the engine, and the budgets that keep what the network can trigger
 * bounded: source events share a token bucket (EVENTS_BURST lines, then one
 * per EVENTS_REFILL_SECONDS, the number left out said on the next line) and
 * the KoD summary is at most one line per EVENTS_KOD_SECONDS — the first
 * KoD of a quiet period is logged at once, later ones counted into the next.
 */
#ifndef HORLOGE_EVENTS_H
#define HORLOGE_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/reference.h"
#include "core/select.h"
#include "core/sync.h"

#define EVENTS_BURST 20
#define EVENTS_REFILL_SECONDS 30.0
#define EVENTS_KOD_SECONDS 600.0

struct events_budget {
    double tokens;
    double last;            /* monotonic seconds of the last refill */
    unsigned suppressed;    /* lines left out since the last one logged */
};

struct events {
    bool started;
    enum sel_verdict verdict[SYNC_MAX_SOURCES];
    bool reachable[SYNC_MAX_SOURCES];
    enum ref_mode mode;
    uint8_t leap;
    unsigned steps;
    double stepped;         /* the discipline's total stepped, at the last step logged */
    struct events_budget sources;
    uint64_t kod_rate_seen, kod_deny_seen;  /* the server's counters at the last summary */
    double kod_next;                        /* monotonic time the next summary may be logged */
};

struct horloged;

/* After anything changed the engine (a sample, its timer, the tick): logs what is new. */
void events_check(struct events *e, struct horloged *d, double now_mono);
/* Whether a rate-limited line may be logged now; counts it as left out when not (for tests too). */
bool events_budget_take(struct events_budget *b, double now_mono);

#endif

/*
 * select: which sources to trust (RFC 5905 §11.2).
 *
 * Owns: the fitness checks (reachable, synchronised upstream, root distance
 * within `maxdistance`), the intersection algorithm (Marzullo, as RFC 5905
 * §11.2.1: the smallest number of falsetickers f such that n - f correctness
 * intervals share a point and n - f is a majority of the candidates and the
 * pending sources) that marks falsetickers, the
 * `minsources` rule, clustering (RFC 5905 §11.2.2, pruning the outlier with
 * the largest selection jitter while it exceeds the smallest source jitter),
 * the choice of the system peer (`prefer` first, then the smallest root
 * distance, with hysteresis), combining the survivors weighted by 1/error^2,
 * and the leap indicator by majority. Array in, verdicts out; no state.
 */
#ifndef HORLOGE_SELECT_H
#define HORLOGE_SELECT_H

#include <stdbool.h>
#include <stdint.h>

#define SEL_MAX_SOURCES 64
/* RFC 5905 CMIN: clustering never prunes below this many survivors. */
#define SEL_MIN_CLUSTER 3

enum sel_verdict {
    SEL_UNREACHABLE = 0, /* no estimate, or the source says it is unreachable */
    SEL_UNFIT,           /* upstream unsynchronised (LI 3 or stratum >= 16) */
    SEL_TOO_FAR,         /* root distance above maxdistance */
    SEL_FALSETICKER,     /* outside the majority's intersection */
    SEL_NOT_ENOUGH,      /* no majority, or fewer than minsources truechimers */
    SEL_OUTLIER,         /* truechimer, pruned by clustering or not preferred: not combined */
    SEL_CANDIDATE,       /* combined */
    SEL_SELECTED,        /* the system peer (combined too) */
};

const char *sel_verdict_name(enum sel_verdict v);
/* chronyc-style one-character mark: '*' selected, '+' combined, '-' outlier, 'x' falseticker... */
char sel_verdict_mark(enum sel_verdict v);

struct sel_input {
    bool reachable;
    /*
     * Not reachable yet but still expected to answer (a new source within its
     * first polls): counted in the majority, never selected, so that the first
     * source to answer cannot win alone.
     */
    bool pending;
    /*
     * Too few samples yet to be trusted on its own (sync.h SYNC_MIN_SAMPLES):
     * it votes in the intersection, but is never combined or selected.
     */
    bool unproven;
    bool prefer;
    double offset;          /* estimate at a common time, common frame (seconds) */
    double error;           /* std of offset */
    double jitter;          /* the source's own sample jitter */
    double root_distance;   /* RFC 5905 lambda */
    uint8_t stratum;
    uint8_t leap;
};

struct sel_params {
    unsigned minsources;    /* default 1 */
    double maxdistance;     /* default 3 s */
};

void sel_default_params(struct sel_params *p);

struct sel_result {
    int selected;           /* index of the system peer, -1 when none */
    unsigned n_truechimers;
    unsigned n_combined;
    double offset;          /* combined estimate */
    double error;           /* its std */
    double low, high;       /* the intersection interval */
    uint8_t leap;           /* majority of the combined sources */
};

/*
 * Judges n (<= SEL_MAX_SOURCES) sources; verdicts[i] is filled for each.
 * prev_selected is the last system peer (-1 if none), kept while it is
 * combined and not much worse than the best. Returns 0, or -1 when n is too large.
 */
int sel_run(const struct sel_params *p, const struct sel_input *in, unsigned n, int prev_selected,
            enum sel_verdict *verdicts, struct sel_result *out);

/* Half-width of a source's correctness interval. */
double sel_interval_halfwidth(const struct sel_input *in);

#endif

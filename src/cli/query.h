/*
 * query: `horloge query HOST[:PORT]` — asks any NTP server for the time, as
 * `ntpdate -q` and `w32tm /stripchart` do, and prints what it said. Never
 * touches the clock.
 */
#ifndef HORLOGE_QUERY_H
#define HORLOGE_QUERY_H

#include <stdbool.h>

struct query_options {
    const char *target;   /* HOST, HOST:PORT, [V6]:PORT */
    int count;            /* samples, default 1 */
    double interval;      /* seconds between samples, default 1 */
    double timeout;       /* seconds to wait for each reply, default 2 */
    bool json;
};

/* Returns 0 when at least one sample was received, 1 otherwise (errors printed). */
int query_run(const struct query_options *opt);

#endif

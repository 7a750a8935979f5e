/*
 * metrics: the Prometheus text exposition (format 0.0.4, which promtool
 * checks) of horloged's reports — server counters, tracking, leap status,
 * per-source offset, delay, jitter, reach, state and rejections, build info
 * — or the same samples as JSON. `horloge metrics` and the daemon's HTTP
 * /metrics both write it from the control reports (io/control.h key=value
 * records), so the two cannot disagree and the daemon keeps one
 * representation of its state.
 *
 * Owns: metric names, types, help texts and labels.
 */
#ifndef HORLOGE_METRICS_H
#define HORLOGE_METRICS_H

#include <stdbool.h>
#include <stdio.h>

#include "io/kvdoc.h"

/* The reports metrics are made of, in the order fetched; each parsed from its control answer. */
enum metrics_report { METRICS_STATUS, METRICS_TRACKING, METRICS_SERVERSTATS, METRICS_SOURCESTATS, METRICS_REPORTS };

extern const char *const metrics_report_command[METRICS_REPORTS];

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Writes every metric; 0, or -1 when the stream failed. */
int metrics_write(FILE *f, const struct kvdoc *const reports[METRICS_REPORTS], bool json);

#endif

/*
 * sim_plot: the figures of docs/simulations.md. When HORLOGE_SIM_PLOT_DIR is
 * set, every scenario sim_run() runs — whichever test defines it, so a new
 * scenario gets its figures without being listed anywhere — leaves there
 * NAME-offset.svg (the true error of the node's clock), NAME-settled.svg
 * (the same after the warm-up), NAME-frequency.svg (the discipline's
 * frequency), NAME-freqerror.svg (its error after the warm-up) drawn by the status page's code (io/svgplot), and a line in
 * index.tsv describing it; tools/simdocs.sh writes the page from that.
 *
 * Owns: the recorder, one point every duration/SIM_PLOT_POINTS seconds.
 */
#ifndef HORLOGE_SIM_PLOT_H
#define HORLOGE_SIM_PLOT_H

#include "sim_world.h"

#define SIM_PLOT_POINTS 960

/* Each a no-op unless HORLOGE_SIM_PLOT_DIR is set. */
void sim_plot_begin(const struct sim_scenario *sc);
void sim_plot_observe(const struct sim_observation *o);
void sim_plot_end(const struct sim_scenario *sc, const struct sim_result *res);

#endif

/* sim_plot: a scenario's figures for docs/simulations.md; see sim_plot.h. */
#include "sim_plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/svgplot.h"

/* One run at a time, as sim_run itself. */
static struct {
    const char *dir;
    double every, next;
    unsigned n;
    double hours[SIM_PLOT_POINTS + 1], error[SIM_PLOT_POINTS + 1], freq[SIM_PLOT_POINTS + 1];
    double freq_error[SIM_PLOT_POINTS + 1];
} rec;

void sim_plot_begin(const struct sim_scenario *sc)
{
    rec.dir = getenv("HORLOGE_SIM_PLOT_DIR");
    rec.every = sc->duration / SIM_PLOT_POINTS;
    rec.next = 0.0;
    rec.n = 0;
}

void sim_plot_observe(const struct sim_observation *o)
{
    if (!rec.dir || o->t < rec.next || rec.n > SIM_PLOT_POINTS)
        return;
    rec.hours[rec.n] = o->t / 3600.0;
    rec.error[rec.n] = o->error;
    rec.freq[rec.n] = o->freq_ppm;
    rec.freq_error[rec.n] = o->freq_ppm - o->ideal_ppm;
    rec.n++;
    rec.next += rec.every;
}

/* The scenario's name as a file name: letters, digits and '-'. */
static void file_stem(const char *name, char *out, size_t cap)
{
    size_t j = 0;
    for (size_t i = 0; name[i] && j + 1 < cap; i++)
        out[j++] = (char)((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ? name[i] : '-');
    out[j] = '\0';
}

static void write_figure(const char *stem, const char *what, const char *title, const char *unit, unsigned from,
                         const double *y)
{
    char path[1024], id[160];
    snprintf(path, sizeof path, "%s/%s-%s.svg", rec.dir, stem, what);
    snprintf(id, sizeof id, "%s-%s", stem, what);
    struct svgplot p = {title, id, "hours of simulated time", unit, rec.hours + from, y + from, rec.n - from};
    if (svgplot_write_file(path, &p) < 0)
        fprintf(stderr, "sim_plot: cannot write %s\n", path);
}

/* What the scenario is, in a few words: servers, path, poll, liars, losses, start. */
static void describe(const struct sim_scenario *sc, char *out, size_t cap)
{
    const struct sim_server *s = &sc->servers[0];
    unsigned liars = 0, kisses = 0, outages = 0;
    for (unsigned i = 0; i < sc->n_servers; i++) {
        liars += fabs(sc->servers[i].offset) > 1e-3;
        kisses += sc->servers[i].kod_to > sc->servers[i].kod_from;
        outages += sc->servers[i].down_to > sc->servers[i].down_from;
    }
    snprintf(out, cap,
             "%u server%s (%u off by more than 1 ms, %u kissing, %u going down), one-way delay %.0f us + %.0f us "
             "mean jitter, %.0f us asymmetry, %.0f%% loss, poll 2^%d..2^%d s; clock %.0f ppm off%s",
             sc->n_servers, sc->n_servers == 1 ? "" : "s", liars, kisses, outages, s->path.delay * 1e6,
             s->path.jitter * 1e6, s->path.asymmetry * 1e6, s->path.loss * 100, s->minpoll, s->maxpoll,
             sc->freq_error * 1e6, sc->initial_offset != 0 ? ", started off by" : "");
    if (sc->initial_offset != 0) {
        size_t n = strlen(out);
        snprintf(out + n, cap - n, " %.3f s%s", sc->initial_offset, sc->node.disc.makestep ? " (makestep)" : "");
    }
}

void sim_plot_end(const struct sim_scenario *sc, const struct sim_result *res)
{
    if (!rec.dir || rec.n == 0)
        return;
    char stem[128], text[512], path[1024];
    file_stem(sc->name, stem, sizeof stem);
    unsigned settled = 0;
    while (settled + 1 < rec.n && rec.hours[settled] * 3600.0 < sc->warmup)
        settled++;
    write_figure(stem, "offset", "True offset", "s", 0, rec.error);
    write_figure(stem, "settled", "True offset after the warm-up", "s", settled, rec.error);
    write_figure(stem, "frequency", "Frequency correction", "ppm", 0, rec.freq);
    write_figure(stem, "freqerror", "Frequency error after the warm-up", "ppm", settled, rec.freq_error);
    describe(sc, text, sizeof text);
    snprintf(path, sizeof path, "%s/index.tsv", rec.dir);
    FILE *f = fopen(path, "a");
    if (!f)
        return;
    fprintf(f, "%s\t%s\t%.2f\t%.1f\t%.1f\t%.1f\t%u\t%s\n", sc->name, stem, res->rms_offset * 1e6,
            res->max_offset * 1e6, sc->duration / 3600.0, sc->warmup / 3600.0, res->n_steps, text);
    fclose(f);
}

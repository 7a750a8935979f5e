/* svgplot: SVG line charts; see svgplot.h. */
#include "io/svgplot.h"

#include <math.h>
#include <string.h>

#define W 640.0
#define H 240.0
#define LEFT 64.0
#define RIGHT 12.0
#define TOP 28.0
#define BOTTOM 40.0
#define MAX_TICKS 8

struct axis {
    double lo, hi, step;
};

/* A range [lo, hi] widened to whole 1-2-5 steps, at most MAX_TICKS of them. */
static struct axis nice_axis(double lo, double hi, double zero_pad)
{
    if (!(hi > lo)) {
        double pad = lo != 0.0 ? fabs(lo) * 0.1 : zero_pad;
        lo -= pad;
        hi += pad;
    }
    double raw = (hi - lo) / (MAX_TICKS - 2);
    double mag = pow(10.0, floor(log10(raw)));
    double step = mag * (raw <= mag ? 1 : raw <= 2 * mag ? 2 : raw <= 5 * mag ? 5 : 10);
    return (struct axis){floor(lo / step) * step, ceil(hi / step) * step, step};
}

/* Seconds shown in the unit that keeps the largest value between 1 and 1000. */
static void unit_scale(const char *unit, double largest, double *scale, const char **shown)
{
    *scale = 1.0;
    *shown = unit;
    if (strcmp(unit, "s") != 0 || largest >= 1.0)
        return;
    static const struct { double limit, scale; const char *name; } prefixes[] = {
        {1e-6, 1e9, "ns"}, {1e-3, 1e6, "\u00b5s"}, {1.0, 1e3, "ms"}};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        if (largest < prefixes[i].limit) {
            *scale = prefixes[i].scale;
            *shown = prefixes[i].name;
            return;
        }
    }
}

static void range_of(const double *v, unsigned n, double *lo, double *hi)
{
    *lo = n ? v[0] : 0.0;
    *hi = *lo;
    for (unsigned i = 1; i < n; i++) {
        *lo = fmin(*lo, v[i]);
        *hi = fmax(*hi, v[i]);
    }
}

static double px(const struct axis *a, double v, double from, double to)
{
    return from + (v - a->lo) / (a->hi - a->lo) * (to - from);
}

static void write_grid(FILE *f, const struct axis *ax, const struct axis *ay, double yscale)
{
    for (double v = ax->lo; v <= ax->hi + ax->step * 0.5; v += ax->step) {
        double x = px(ax, v, LEFT, W - RIGHT);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>", x, TOP, x, H - BOTTOM);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>", x, H - BOTTOM + 14,
                fabs(v) < ax->step * 1e-6 ? 0.0 : v);
    }
    for (double v = ay->lo; v <= ay->hi + ay->step * 0.5; v += ay->step) {
        double y = px(ay, v, H - BOTTOM, TOP);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>", LEFT, y, W - RIGHT, y);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.4g</text>", LEFT - 4, y + 4,
                fabs(v) < ay->step * 1e-6 ? 0.0 : v * yscale);
    }
}

static void write_line(FILE *f, const struct svgplot *p, const struct axis *ax, const struct axis *ay)
{
    if (p->n == 1) {
        fprintf(f, "<circle class=\"point\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#1565c0\"/>",
                px(ax, p->x[0], LEFT, W - RIGHT), px(ay, p->y[0], H - BOTTOM, TOP));
        return;
    }
    fputs("<polyline class=\"series\" fill=\"none\" stroke=\"#1565c0\" stroke-width=\"2\" points=\"", f);
    for (unsigned i = 0; i < p->n; i++)
        fprintf(f, "%s%.1f,%.1f", i ? " " : "", px(ax, p->x[i], LEFT, W - RIGHT), px(ay, p->y[i], H - BOTTOM, TOP));
    fputs("\"/>", f);
}

static void write_chart(FILE *f, const struct svgplot *p, const char *xmlns)
{
    double xlo, xhi, ylo, yhi, scale;
    const char *unit;
    range_of(p->x, p->n, &xlo, &xhi);
    range_of(p->y, p->n, &ylo, &yhi);
    /* A flat series of zeros still gets a sensible scale: a microsecond, or one unit. */
    struct axis ax = nice_axis(xlo, xhi, 1.0), ay = nice_axis(ylo, yhi, strcmp(p->y_unit, "s") == 0 ? 1e-6 : 1.0);
    unit_scale(p->y_unit, fmax(fabs(ay.lo), fabs(ay.hi)), &scale, &unit);
    fprintf(f, "<svg%s id=\"%s\" class=\"plot\" viewBox=\"0 0 %.0f %.0f\" width=\"100%%\" "
               "preserveAspectRatio=\"xMidYMid meet\" font-family=\"sans-serif\" font-size=\"11\" role=\"img\">",
            xmlns, p->id, W, H);
    fprintf(f, "<title>%s (%s)</title><rect width=\"%.0f\" height=\"%.0f\" fill=\"#fff\"/>", p->title, unit, W, H);
    fprintf(f, "<text x=\"%.1f\" y=\"16\" font-size=\"13\" font-weight=\"bold\">%s (%s)</text>", LEFT, p->title, unit);
    write_grid(f, &ax, &ay, scale);
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#888\"/>", LEFT, TOP,
            W - LEFT - RIGHT, H - TOP - BOTTOM);
    if (p->n)
        write_line(f, p, &ax, &ay);
    else
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">no data yet</text>", W / 2, H / 2);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text></svg>", (LEFT + W - RIGHT) / 2, H - 6,
            p->x_label);
}

int svgplot_write(FILE *f, const struct svgplot *p)
{
    write_chart(f, p, "");
    return ferror(f) ? -1 : 0;
}

int svgplot_write_file(const char *path, const struct svgplot *p)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
    write_chart(f, p, " xmlns=\"http://www.w3.org/2000/svg\"");
    fputc('\n', f);
    int err = ferror(f);
    return fclose(f) != 0 || err ? -1 : 0;
}

/*
 * svgplot: a line chart as an inline SVG element, readable without
 * JavaScript and on a phone (it scales to its container's width). The status
 * page draws its offset, frequency and root-dispersion plots with it, and
 * docs/simulations.md's figures come from the same code.
 *
 * Owns: axis ranges and ticks (1-2-5 steps), the unit prefix of seconds
 * (ns, us, ms), and the SVG text. Points are given in their base unit.
 */
#ifndef HORLOGE_SVGPLOT_H
#define HORLOGE_SVGPLOT_H

#include <stdio.h>

struct svgplot {
    const char *title;        /* "Offset" */
    const char *id;           /* the element's id, for tests and links */
    const char *x_label;      /* "hours before now" */
    const char *y_unit;       /* "s" gets a prefix (ns, us, ms); anything else is printed as is */
    const double *x;
    const double *y;
    unsigned n;
};

/* Writes one <svg> element; 0, or -1 when the stream failed. */
int svgplot_write(FILE *f, const struct svgplot *p);
/* A standalone SVG file (XML declaration and namespace) around the same chart. */
int svgplot_write_file(const char *path, const struct svgplot *p);

#endif

// Line plots as SVG: a small writer for curves that share one x axis (e.g. `attnlrp eval --plot`).
// Axes with "nice" ticks, axis labels, a title and a legend to the right of the plot area.
#ifndef LRP_PLOT_H
#define LRP_PLOT_H

#include <stdio.h>

#define LRP_PLOT_GREY (-1)   // colour index of a neutral grey (baselines)
#define LRP_PLOT_INK (-2)    // near-black (legend entries that explain a line style)

typedef struct lrp_plot_line {
    const double *y;   // [n] values at the plot's x; NaN or inf leaves a gap
    int color;         // index into the palette (wraps), LRP_PLOT_GREY or LRP_PLOT_INK
    int dashed;
} lrp_plot_line;

typedef struct lrp_plot_key {
    const char *label;   // UTF-8, escaped for XML; NULL: a blank line in the legend (separates groups)
    int color;
    int dashed;
} lrp_plot_key;

typedef struct lrp_plot {
    const char *title, *subtitle, *xlabel, *ylabel;   // any may be NULL
    const double *x;                                   // [n], increasing
    int n;
    const lrp_plot_line *lines;
    int n_lines;
    const lrp_plot_key *keys;                          // legend entries, top to bottom
    int n_keys;
} lrp_plot;

// "#rrggbb" of a palette colour (Okabe–Ito, distinguishable with colour-vision deficiencies).
const char *lrp_plot_color(int color);

// Writes a standalone SVG document. The y range covers every finite value (and 0 and 1); a plot with
// nothing finite still gets empty axes. Write errors show in ferror(f).
void lrp_plot_svg(FILE *f, const lrp_plot *p);

// Tick positions for [lo, hi]: a step of 1, 2 or 5 × 10^k giving about `target` ticks; writes the
// rounded-out range into *t0 and *t1 and returns the step.
double lrp_plot_ticks(double lo, double hi, int target, double *t0, double *t1);

#endif

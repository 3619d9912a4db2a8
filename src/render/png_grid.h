// Relevance of text as a PNG picture without text (no font): coloured boxes on the diverging colour map
// of png.h (blue negative, white 0, red positive; non-finite values and empty cells grey).
//
// Layout (canvas pixels, white background; CELL = 16, PITCH = 18: a 16 x 16 box and a 2-pixel gap):
//   - the units (tokens, or words with --aggregate word) as boxes in reading order, PER_ROW = 32 per
//     line: unit k at x = 8 + (k % 32) * 18, y = 8 + (k / 32) * 18; colour = value / units_max;
//   - then, 8 pixels lower, the matrix (when given) as a rows x cols grid of boxes with the same pitch,
//     row r at y = matrix_y + r * 18, column c at x = 8 + c * 18; colour = value / (the largest |value| of
//     its row when row_scaled, else of the whole matrix); NaN cells are empty (light grey 230);
//   - then, 8 pixels lower, the colour bar: 201 x 10 pixels at x = 8, column i showing t = (i - 100) / 100.
// The canvas is 8 pixels wider and higher than the last thing drawn.
#ifndef LRP_RENDER_PNG_GRID_H
#define LRP_RENDER_PNG_GRID_H

#include <stddef.h>

#include "core/err.h"
#include "inputs/image.h"

#define LRP_GRID_MARGIN 8
#define LRP_GRID_CELL 16
#define LRP_GRID_PITCH 18
#define LRP_GRID_PER_ROW 32

typedef struct lrp_grid_png {
    const double *units;   // [n_units] or NULL
    int n_units;
    const float *matrix;   // [rows][cols] or NULL; NaN = no value
    int rows, cols;
    int row_scaled;        // colour each matrix row by its own max |value|
} lrp_grid_png;

typedef struct lrp_grid_layout {
    int width, height;
    int units_y;           // top of the first line of units (8)
    int matrix_y;          // top of the matrix (-1 when none)
    int bar_y;             // top of the colour bar
    double units_max;      // the units' colour scale (1 when all zero)
} lrp_grid_layout;

int lrp_grid_render(const lrp_grid_png *g, lrp_pixels *out, lrp_grid_layout *layout, lrp_err *err);
// Writes the picture to path whole or not at all.
int lrp_grid_write(const char *path, const lrp_grid_png *g, lrp_err *err);

#endif

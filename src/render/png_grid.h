// Relevance of text as a PNG picture: coloured boxes on the diverging colour map of png.h (blue negative,
// white 0, red positive; non-finite values grey), labelled with a 7x14 bitmap font (render/font.h,
// printable ASCII; any other character is drawn as '?', so "Café" reads "Caf?": the colours, not the
// labels, are the content).
//
// Layout (canvas pixels, white background):
//   - the units (tokens, or words with --aggregate word) in reading order, UNITS_PER_ROW = 16 per line:
//     unit k is a UNIT_W x UNIT_H (60 x 18) box at x = 8 + (k % 16) * 62, y = 8 + (k / 16) * 20, coloured
//     by value / (max |value| of the units), with its first 8 characters in black (white on dark boxes)
//     from (x + 2, y + 2);
//   - then, 8 pixels lower (matrix_y), the matrix (when given): a 60-pixel column of row labels at x = 8,
//     then rows x cols boxes of 16 x 16 on an 18-pixel pitch: row r, column c at x = 70 + c * 18,
//     y = matrix_y + r * 18; colour = value / (the largest |value| of its row when row_scaled, else of the
//     whole matrix); NaN cells are empty (light grey 230);
//   - then, 8 pixels lower (bar_y), the colour bar: 201 x 10 pixels at x = 8, column i showing
//     t = (i - 100) / 100, and right of it scale_text (default "+-max|R| <units max>").
// The canvas is 8 pixels wider than the widest row (at least 8 + 201 + 8 + the bar's text) and 8 higher
// than the bar.
#ifndef LRP_RENDER_PNG_GRID_H
#define LRP_RENDER_PNG_GRID_H

#include <stddef.h>

#include "core/err.h"
#include "inputs/image.h"

#define LRP_GRID_MARGIN 8
#define LRP_GRID_UNIT_W 60
#define LRP_GRID_UNIT_H 18
#define LRP_GRID_UNITS_PER_ROW 16
#define LRP_GRID_CELL 16
#define LRP_GRID_PITCH 18

typedef struct lrp_grid_png {
    const double *units;      // [n_units] or NULL
    char *const *unit_labels; // [n_units] UTF-8 labels, or NULL
    int n_units;
    const float *matrix;      // [rows][cols] or NULL; NaN = no value
    char *const *row_labels;  // [rows] or NULL
    int rows, cols;
    int row_scaled;           // colour each matrix row by its own max |value|
    const char *scale_text;   // the text beside the colour bar, or NULL: "+-max|R| <units max>"
} lrp_grid_png;

typedef struct lrp_grid_layout {
    int width, height;
    int units_y;           // top of the first line of units (8)
    int matrix_x;          // left edge of the matrix's first column (70)
    int matrix_y;          // top of the matrix (-1 when none)
    int bar_y;             // top of the colour bar
    double units_max;      // the units' colour scale (1 when all zero)
} lrp_grid_layout;

int lrp_grid_render(const lrp_grid_png *g, lrp_pixels *out, lrp_grid_layout *layout, lrp_err *err);
// Writes the picture to path whole or not at all.
int lrp_grid_write(const char *path, const lrp_grid_png *g, lrp_err *err);

#endif

#include "render/png_grid.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "render/png.h"

static void box(lrp_pixels *c, int x0, int y0, int w, int h, const unsigned char rgb[3]) {
    for (int y = y0; y < y0 + h && y < c->height; y++)
        for (int x = x0; x < x0 + w && x < c->width; x++) memcpy(c->data + ((size_t)y * c->width + x) * 3, rgb, 3);
}

static void value_color(double v, double m, unsigned char rgb[3]) {
    if (!isfinite(v)) rgb[0] = rgb[1] = rgb[2] = 128;
    else lrp_diverging_color(v / m, rgb);
}

int lrp_grid_render(const lrp_grid_png *g, lrp_pixels *out, lrp_grid_layout *layout, lrp_err *err) {
    memset(out, 0, sizeof *out);
    lrp_grid_layout L = {0};
    int n = g->units ? g->n_units : 0, lines = (n + LRP_GRID_PER_ROW - 1) / LRP_GRID_PER_ROW;
    int cols_units = n < LRP_GRID_PER_ROW ? n : LRP_GRID_PER_ROW;
    if (g->matrix && (g->rows <= 0 || g->cols <= 0)) return lrp_fail(err, "png: empty matrix");
    if (g->matrix && ((long long)g->cols * LRP_GRID_PITCH > 30000 || (long long)g->rows * LRP_GRID_PITCH > 30000))
        return lrp_fail(err, "png: %d x %d cells is too large a picture", g->rows, g->cols);
    int y = LRP_GRID_MARGIN, w = LRP_GRID_MARGIN + 201;
    L.units_y = y;
    if (n) {
        y += lines * LRP_GRID_PITCH - 2 + LRP_GRID_MARGIN;
        if (LRP_GRID_MARGIN + cols_units * LRP_GRID_PITCH > w) w = LRP_GRID_MARGIN + cols_units * LRP_GRID_PITCH;
    }
    L.matrix_y = -1;
    if (g->matrix) {
        L.matrix_y = y;
        y += g->rows * LRP_GRID_PITCH - 2 + LRP_GRID_MARGIN;
        if (LRP_GRID_MARGIN + g->cols * LRP_GRID_PITCH > w) w = LRP_GRID_MARGIN + g->cols * LRP_GRID_PITCH;
    }
    L.bar_y = y;
    L.height = y + 10 + LRP_GRID_MARGIN;
    L.width = w + LRP_GRID_MARGIN;
    out->width = L.width;
    out->height = L.height;
    out->channels = 3;
    out->data = malloc((size_t)L.width * L.height * 3);
    if (!out->data) return lrp_fail(err, "png: out of memory");
    memset(out->data, 255, (size_t)L.width * L.height * 3);
    unsigned char rgb[3];
    L.units_max = 0;
    for (int k = 0; k < n; k++)
        if (isfinite(g->units[k]) && fabs(g->units[k]) > L.units_max) L.units_max = fabs(g->units[k]);
    if (L.units_max == 0) L.units_max = 1;
    for (int k = 0; k < n; k++) {
        value_color(g->units[k], L.units_max, rgb);
        box(out, LRP_GRID_MARGIN + (k % LRP_GRID_PER_ROW) * LRP_GRID_PITCH,
            L.units_y + (k / LRP_GRID_PER_ROW) * LRP_GRID_PITCH, LRP_GRID_CELL, LRP_GRID_CELL, rgb);
    }
    if (g->matrix) {
        double all = 0;
        for (size_t i = 0; i < (size_t)g->rows * g->cols; i++)
            if (isfinite(g->matrix[i]) && fabs(g->matrix[i]) > all) all = fabs(g->matrix[i]);
        for (int r = 0; r < g->rows; r++) {
            const float *row = g->matrix + (size_t)r * g->cols;
            double m = all;
            if (g->row_scaled) {
                m = 0;
                for (int c = 0; c < g->cols; c++)
                    if (isfinite(row[c]) && fabs(row[c]) > m) m = fabs(row[c]);
            }
            if (m == 0) m = 1;
            for (int c = 0; c < g->cols; c++) {
                if (isnan(row[c])) rgb[0] = rgb[1] = rgb[2] = 230;
                else value_color(row[c], m, rgb);
                box(out, LRP_GRID_MARGIN + c * LRP_GRID_PITCH, L.matrix_y + r * LRP_GRID_PITCH, LRP_GRID_CELL,
                    LRP_GRID_CELL, rgb);
            }
        }
    }
    for (int i = 0; i <= 200; i++) {
        lrp_diverging_color((i - 100) / 100.0, rgb);
        box(out, LRP_GRID_MARGIN + i, L.bar_y, 1, 10, rgb);
    }
    if (layout) *layout = L;
    return 0;
}

int lrp_grid_write(const char *path, const lrp_grid_png *g, lrp_err *err) {
    lrp_pixels img;
    if (lrp_grid_render(g, &img, NULL, err)) return -1;
    int rc = lrp_png_write(path, &img, err);
    free(img.data);
    return rc;
}

#include "render/png_grid.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render/font.h"
#include "render/png.h"

#define LABEL_CHARS 8
#define UNIT_PITCH_X (LRP_GRID_UNIT_W + 2)
#define UNIT_PITCH_Y (LRP_GRID_UNIT_H + 2)

static void box(lrp_pixels *c, int x0, int y0, int w, int h, const unsigned char rgb[3]) {
    for (int y = y0 < 0 ? 0 : y0; y < y0 + h && y < c->height; y++)
        for (int x = x0 < 0 ? 0 : x0; x < x0 + w && x < c->width; x++)
            memcpy(c->data + ((size_t)y * c->width + x) * 3, rgb, 3);
}

static void value_color(double v, double m, unsigned char rgb[3]) {
    if (!isfinite(v)) rgb[0] = rgb[1] = rgb[2] = 128;
    else lrp_diverging_color(v / m, rgb);
}

// Draws at most max_chars characters of the UTF-8 text s from (x, y): printable ASCII from the font,
// any other character as '?', control characters (newline, tab) as a space.
static void label(lrp_pixels *c, int x, int y, const char *s, int max_chars, const unsigned char ink[3]) {
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    for (int k = 0; *p && k < max_chars; k++, x += LRP_FONT_W) {
        int ch = *p;
        if (ch >= 0x80) {  // skip the whole multi-byte character
            ch = '?';
            p++;
            while ((*p & 0xc0) == 0x80) p++;
        } else {
            p++;
            if (ch < 32 || ch == 127) ch = ' ';
        }
        const unsigned char *g = lrp_font7x14[ch - 32];
        for (int r = 0; r < LRP_FONT_H; r++)
            for (int b = 0; b < LRP_FONT_W; b++)
                if (g[r] >> (LRP_FONT_W - 1 - b) & 1) box(c, x + b, y + r, 1, 1, ink);
    }
}

int lrp_grid_render(const lrp_grid_png *g, lrp_pixels *out, lrp_grid_layout *layout, lrp_err *err) {
    memset(out, 0, sizeof *out);
    lrp_grid_layout L = {0};
    int n = g->units ? g->n_units : 0, lines = (n + LRP_GRID_UNITS_PER_ROW - 1) / LRP_GRID_UNITS_PER_ROW;
    int per_line = n < LRP_GRID_UNITS_PER_ROW ? n : LRP_GRID_UNITS_PER_ROW;
    if (g->matrix && (g->rows <= 0 || g->cols <= 0)) return lrp_fail(err, "png: empty matrix");
    if (n > 100000 || (g->matrix && ((long long)g->cols * LRP_GRID_PITCH > 30000 || (long long)g->rows * LRP_GRID_PITCH > 30000)))
        return lrp_fail(err, "png: too many cells for a picture");
    L.units_max = 0;
    for (int k = 0; k < n; k++)
        if (isfinite(g->units[k]) && fabs(g->units[k]) > L.units_max) L.units_max = fabs(g->units[k]);
    if (L.units_max == 0) L.units_max = 1;
    char bar_text[64];
    if (g->scale_text) snprintf(bar_text, sizeof bar_text, "%s", g->scale_text);
    else snprintf(bar_text, sizeof bar_text, "+-max|R| %.4g", L.units_max);
    int y = LRP_GRID_MARGIN, w = LRP_GRID_MARGIN + 201 + 6 + (int)strlen(bar_text) * LRP_FONT_W;
    L.units_y = y;
    if (n) {
        y += lines * UNIT_PITCH_Y - 2 + LRP_GRID_MARGIN;
        if (LRP_GRID_MARGIN + per_line * UNIT_PITCH_X - 2 > w) w = LRP_GRID_MARGIN + per_line * UNIT_PITCH_X - 2;
    }
    L.matrix_x = LRP_GRID_MARGIN + UNIT_PITCH_X;
    L.matrix_y = -1;
    if (g->matrix) {
        L.matrix_y = y;
        y += g->rows * LRP_GRID_PITCH - 2 + LRP_GRID_MARGIN;
        if (L.matrix_x + g->cols * LRP_GRID_PITCH - 2 > w) w = L.matrix_x + g->cols * LRP_GRID_PITCH - 2;
    }
    L.bar_y = y;
    L.height = y + LRP_FONT_H + LRP_GRID_MARGIN;
    L.width = w + LRP_GRID_MARGIN;
    out->width = L.width;
    out->height = L.height;
    out->channels = 3;
    out->data = malloc((size_t)L.width * L.height * 3);
    if (!out->data) return lrp_fail(err, "png: out of memory");
    memset(out->data, 255, (size_t)L.width * L.height * 3);
    static const unsigned char black[3] = {0, 0, 0}, white[3] = {255, 255, 255};
    unsigned char rgb[3];
    for (int k = 0; k < n; k++) {
        int x = LRP_GRID_MARGIN + (k % LRP_GRID_UNITS_PER_ROW) * UNIT_PITCH_X;
        int yy = L.units_y + (k / LRP_GRID_UNITS_PER_ROW) * UNIT_PITCH_Y;
        value_color(g->units[k], L.units_max, rgb);
        box(out, x, yy, LRP_GRID_UNIT_W, LRP_GRID_UNIT_H, rgb);
        int dark = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] < 110;
        if (g->unit_labels) label(out, x + 2, yy + 2, g->unit_labels[k], LABEL_CHARS, dark ? white : black);
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
            if (g->row_labels) label(out, LRP_GRID_MARGIN, L.matrix_y + r * LRP_GRID_PITCH + 1, g->row_labels[r], LABEL_CHARS, black);
            for (int c = 0; c < g->cols; c++) {
                if (isnan(row[c])) rgb[0] = rgb[1] = rgb[2] = 230;
                else value_color(row[c], m, rgb);
                box(out, L.matrix_x + c * LRP_GRID_PITCH, L.matrix_y + r * LRP_GRID_PITCH, LRP_GRID_CELL,
                    LRP_GRID_CELL, rgb);
            }
        }
    }
    for (int i = 0; i <= 200; i++) {
        lrp_diverging_color((i - 100) / 100.0, rgb);
        box(out, LRP_GRID_MARGIN + i, L.bar_y, 1, 10, rgb);
    }
    label(out, LRP_GRID_MARGIN + 201 + 6, L.bar_y - 2, bar_text, 64, black);
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

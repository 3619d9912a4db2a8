// Heatmap PNGs (see png.h): the canvas is drawn here, the PNG encoding is libpng's.
#include "render/png.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomic_file.h"

#define MARGIN 8
#define GAP 8
#define BAR_W 14
#define LABEL_GAP 4
#define MIN_PANEL_H 64
#define OVERLAY_ALPHA 0.85

// ColorBrewer RdBu (11 classes) without its two palest entries, white in the middle; linear between anchors.
static const unsigned char rdbu[9][3] = {
    {5, 48, 97},    {33, 102, 172}, {67, 147, 195}, {146, 197, 222}, {255, 255, 255},
    {244, 165, 130}, {214, 96, 77},  {178, 24, 43},  {103, 0, 31},
};

void lrp_diverging_color(double t, unsigned char rgb[3]) {
    if (!(t >= -1)) t = -1;   // NaN lands here too; callers draw non-finite values grey themselves
    if (t > 1) t = 1;
    double u = (t + 1) * 4;   // 0 .. 8 over the anchors
    int i = (int)u;
    if (i > 7) i = 7;
    double f = u - i;
    for (int c = 0; c < 3; c++) rgb[c] = (unsigned char)lrint(rdbu[i][c] + f * (rdbu[i + 1][c] - rdbu[i][c]));
}

// ---- a 5×7 bitmap font for the scale labels (bit 4 is the leftmost column) ----

static const char font_chars[] = "0123456789+-.e";
static const unsigned char font[][7] = {
    {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}, {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E},
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}, {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E},
    {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}, {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E},
    {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}, {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08},
    {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}, {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C},
    {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00}, {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00},
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C}, {0x00, 0x00, 0x0E, 0x11, 0x1F, 0x10, 0x0E},
};

static void put(lrp_pixels *c, int x, int y, const unsigned char rgb[3]) {
    if (x < 0 || y < 0 || x >= c->width || y >= c->height) return;
    memcpy(c->data + ((size_t)y * c->width + x) * 3, rgb, 3);
}

// Draws text with its top-left corner at (x, y), each font pixel fs × fs; characters not in the font are blank.
static void draw_text(lrp_pixels *c, int x, int y, int fs, const char *s) {
    static const unsigned char ink[3] = {32, 32, 32};
    for (; *s; s++, x += 6 * fs) {
        const char *k = strchr(font_chars, *s);
        if (!k || !*s) continue;
        const unsigned char *g = font[k - font_chars];
        for (int r = 0; r < 7; r++)
            for (int col = 0; col < 5; col++)
                if (g[r] & (0x10 >> col))
                    for (int dy = 0; dy < fs; dy++)
                        for (int dx = 0; dx < fs; dx++) put(c, x + col * fs + dx, y + r * fs + dy, ink);
    }
}

static int text_width(const char *s, int fs) { return s[0] ? (int)strlen(s) * 6 * fs - fs : 0; }

// "+1.23e-05", "0", "-0.5": three significant digits.
static void scale_label(char *buf, size_t cap, double v, int sign) {
    if (v == 0) {
        snprintf(buf, cap, "0");
        return;
    }
    snprintf(buf, cap, "%c%.3g", sign < 0 ? '-' : '+', v);
}

// ---- the canvas ----

int lrp_heatmap_render(const lrp_heatmap *h, lrp_pixels *out, lrp_heatmap_layout *layout, lrp_err *err) {
    memset(out, 0, sizeof *out);
    const lrp_pixels *im = h->image;
    if (!h->relevance || h->rows <= 0 || h->cols <= 0)
        return lrp_fail(err, "heatmap: the relevance map is empty (%d x %d)", h->rows, h->cols);
    if (h->overlay && !im) return lrp_fail(err, "heatmap: overlay needs the input image");
    if (im && (!im->data || im->width <= 0 || im->height <= 0 || (im->channels != 1 && im->channels != 3)))
        return lrp_fail(err, "heatmap: the image must be 8-bit gray or RGB with a positive size");
    if (h->scale < 0 || h->scale > 64) return lrp_fail(err, "heatmap: scale %d is outside 0..64", h->scale);
    int H = im ? im->height : h->rows, W = im ? im->width : h->cols;
    if (h->rows > H || h->cols > W)
        return lrp_fail(err, "heatmap: the relevance map (%d x %d) is larger than the image (%d x %d)", h->rows, h->cols,
                        H, W);
    int longer = H > W ? H : W;
    int s = h->scale ? h->scale : (224 / longer > 1 ? 224 / longer : 1);
    if ((long long)H * s > 16384 || (long long)W * s > 16384)
        return lrp_fail(err, "heatmap: %d x %d magnified %d times is too large", H, W, s);

    size_t n = (size_t)h->rows * h->cols;
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(h->relevance[i]) && fabs(h->relevance[i]) > m) m = fabs(h->relevance[i]);

    lrp_heatmap_layout L = {0};
    L.scale = s;
    L.max_abs = m;
    L.panel_w = W * s;
    L.panel_h = H * s;
    L.panel_y = MARGIN;
    int x = MARGIN;
    L.image_x = -1;
    if (im && !h->overlay) {
        L.image_x = x;
        x += L.panel_w + GAP;
    }
    L.map_x = x;
    x += L.panel_w + GAP;
    int fs = L.panel_h >= 160 ? 2 : 1;
    char top[32], mid[8] = "0", bottom[32];
    scale_label(top, sizeof top, m, +1);
    scale_label(bottom, sizeof bottom, m, -1);
    int body_h = L.panel_h > MIN_PANEL_H ? L.panel_h : MIN_PANEL_H;
    L.bar_x = x;
    L.bar_y = MARGIN;
    L.bar_w = BAR_W;
    L.bar_h = body_h;
    L.label_x = x + BAR_W + LABEL_GAP;
    int lw = text_width(top, fs) > text_width(bottom, fs) ? text_width(top, fs) : text_width(bottom, fs);
    L.width = L.label_x + lw + MARGIN;
    L.height = MARGIN + body_h + MARGIN;

    out->data = malloc((size_t)L.width * L.height * 3);
    if (!out->data) return lrp_fail(err, "heatmap: out of memory");
    out->width = L.width;
    out->height = L.height;
    out->channels = 3;
    memset(out->data, 255, (size_t)L.width * L.height * 3);

    for (int y = 0; y < L.panel_h; y++) {
        int iy = y / s, ry = (int)((long long)iy * h->rows / H);
        for (int xx = 0; xx < L.panel_w; xx++) {
            int ix = xx / s, rx = (int)((long long)ix * h->cols / W);
            unsigned char px[3] = {0, 0, 0}, col[3];
            if (im) {
                const unsigned char *p = im->data + ((size_t)iy * W + ix) * im->channels;
                if (im->channels == 3) memcpy(px, p, 3);
                else px[0] = px[1] = px[2] = p[0];
            }
            float r = h->relevance[(size_t)ry * h->cols + rx];
            double t = 0;
            if (!isfinite(r)) {
                col[0] = col[1] = col[2] = 128;
            } else {
                t = m > 0 ? r / m : 0;
                lrp_diverging_color(t, col);
            }
            if (L.image_x >= 0) put(out, L.image_x + xx, L.panel_y + y, px);
            if (h->overlay) {
                // Luma as PIL's convert("L"), then alpha-blend the colour by the relevance's strength.
                double luma = (px[0] * 19595 + px[1] * 38470 + px[2] * 7471 + 0x8000) >> 16;
                double a = isfinite(r) ? OVERLAY_ALPHA * sqrt(fabs(t)) : OVERLAY_ALPHA;
                for (int c = 0; c < 3; c++) col[c] = (unsigned char)lrint((1 - a) * luma + a * col[c]);
            }
            put(out, L.map_x + xx, L.panel_y + y, col);
        }
    }
    // The colour bar: +max at the top, -max at the bottom, framed in grey.
    static const unsigned char frame[3] = {160, 160, 160};
    for (int y = 0; y < L.bar_h; y++) {
        unsigned char col[3];
        lrp_diverging_color(1.0 - 2.0 * (y + 0.5) / L.bar_h, col);
        for (int xx = 0; xx < L.bar_w; xx++) put(out, L.bar_x + xx, L.bar_y + y, col);
    }
    for (int xx = -1; xx <= L.bar_w; xx++) {
        put(out, L.bar_x + xx, L.bar_y - 1, frame);
        put(out, L.bar_x + xx, L.bar_y + L.bar_h, frame);
    }
    for (int y = -1; y <= L.bar_h; y++) {
        put(out, L.bar_x - 1, L.bar_y + y, frame);
        put(out, L.bar_x + L.bar_w, L.bar_y + y, frame);
    }
    int th = 7 * fs;
    draw_text(out, L.label_x, L.bar_y, fs, top);
    draw_text(out, L.label_x, L.bar_y + (L.bar_h - th) / 2, fs, mid);
    draw_text(out, L.label_x, L.bar_y + L.bar_h - th, fs, bottom);
    if (layout) *layout = L;
    return 0;
}

// ---- PNG encoding (libpng into memory) ----

typedef struct png_out {
    unsigned char *buf;
    size_t n, cap;
    int oom;
    char msg[256];
    png_structp png;
    png_infop info;
    png_bytep *rows;
} png_out;

static void png_write_memory(png_structp png, png_bytep data, size_t len) {
    png_out *o = png_get_io_ptr(png);
    if (o->n + len > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        while (cap < o->n + len) cap *= 2;
        unsigned char *b = realloc(o->buf, cap);
        if (!b) {
            o->oom = 1;
            png_error(png, "out of memory");
        }
        o->buf = b;
        o->cap = cap;
    }
    memcpy(o->buf + o->n, data, len);
    o->n += len;
}

static void png_flush_nothing(png_structp png) { (void)png; }

static void png_write_error(png_structp png, png_const_charp msg) {
    png_out *o = png_get_error_ptr(png);
    snprintf(o->msg, sizeof o->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_write_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

static int png_encode_job(png_out *o, const lrp_pixels *img) {
    if (setjmp(png_jmpbuf(o->png))) return -1;
    png_set_write_fn(o->png, o, png_write_memory, png_flush_nothing);
    png_set_IHDR(o->png, o->info, img->width, img->height, 8, img->channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(o->png, o->info);
    for (int y = 0; y < img->height; y++) o->rows[y] = img->data + (size_t)y * img->width * img->channels;
    png_write_image(o->png, o->rows);
    png_write_end(o->png, NULL);
    return 0;
}

int lrp_png_encode(const lrp_pixels *img, unsigned char **png, size_t *n, lrp_err *err) {
    *png = NULL;
    *n = 0;
    if (!img->data || img->width <= 0 || img->height <= 0 || (img->channels != 1 && img->channels != 3))
        return lrp_fail(err, "png: the image must be 8-bit gray or RGB with a positive size");
    png_out *o = calloc(1, sizeof *o);
    if (!o) return lrp_fail(err, "png: out of memory");
    o->rows = malloc(sizeof *o->rows * img->height);
    o->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, o, png_write_error, png_write_warning);
    o->info = o->png ? png_create_info_struct(o->png) : NULL;
    int rc = -1;
    if (!o->rows || !o->info) {
        snprintf(o->msg, sizeof o->msg, "out of memory");
    } else {
        rc = png_encode_job(o, img);
    }
    png_destroy_write_struct(o->png ? &o->png : NULL, o->info ? &o->info : NULL);
    free(o->rows);
    if (rc) {
        free(o->buf);
        lrp_fail(err, "png: %s", o->msg);
    } else {
        *png = o->buf;
        *n = o->n;
    }
    free(o);
    return rc;
}

// Writes bytes to path whole or not at all (core/atomic_file.h: through links, keeping an existing mode).
static int write_whole(const char *path, const unsigned char *data, size_t n, lrp_err *err) {
    lrp_atomic_file a;
    if (lrp_atomic_open(&a, path)) return lrp_fail(err, "%s: %s", path, strerror(errno));
    if (fwrite(data, 1, n, a.f) != n) {
        int e = errno ? errno : EIO;
        lrp_atomic_abort(&a);
        return lrp_fail(err, "%s: %s", path, strerror(e));
    }
    if (lrp_atomic_commit(&a)) return lrp_fail(err, "%s: %s", path, strerror(errno));
    return 0;
}

int lrp_png_write(const char *path, const lrp_pixels *img, lrp_err *err) {
    unsigned char *png;
    size_t n;
    if (lrp_png_encode(img, &png, &n, err)) return lrp_fail_prefix(err, path);
    int rc = write_whole(path, png, n, err);
    free(png);
    return rc;
}

int lrp_heatmap_png(const lrp_heatmap *h, unsigned char **png, size_t *n, lrp_err *err) {
    lrp_pixels canvas;
    *png = NULL;
    *n = 0;
    if (lrp_heatmap_render(h, &canvas, NULL, err)) return -1;
    int rc = lrp_png_encode(&canvas, png, n, err);
    lrp_pixels_free(&canvas);
    return rc;
}

int lrp_heatmap_write(const char *path, const lrp_heatmap *h, lrp_err *err) {
    unsigned char *png;
    size_t n;
    if (lrp_heatmap_png(h, &png, &n, err)) return lrp_fail_prefix(err, path);
    int rc = write_whole(path, png, n, err);
    free(png);
    return rc;
}

char *lrp_base64(const unsigned char *data, size_t n) {
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (n > (((size_t)-1) / 4 - 4) / 4 * 3) return NULL;
    char *s = malloc((n + 2) / 3 * 4 + 1), *p = s;
    if (!s) return NULL;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)data[i] << 16 | (unsigned)data[i + 1] << 8 | data[i + 2];
        *p++ = abc[v >> 18];
        *p++ = abc[(v >> 12) & 63];
        *p++ = abc[(v >> 6) & 63];
        *p++ = abc[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)data[i] << 16;
        *p++ = abc[v >> 18];
        *p++ = abc[(v >> 12) & 63];
        *p++ = '=';
        *p++ = '=';
    } else if (n - i == 2) {
        unsigned v = (unsigned)data[i] << 16 | (unsigned)data[i + 1] << 8;
        *p++ = abc[v >> 18];
        *p++ = abc[(v >> 12) & 63];
        *p++ = abc[(v >> 6) & 63];
        *p++ = '=';
    }
    *p = 0;
    return s;
}

// Heatmaps of image relevance as PNG (libpng): a relevance map per pixel `[H][W]` or per patch `[h][w]`
// (patches drawn as blocks, nearest neighbour), in a diverging colour map centred at zero on a symmetric
// scale ±max|R| (ColorBrewer RdBu anchors with a pure white centre: blue negative, white zero, red
// positive), with a colour bar labelled +max, 0, −max, and the input image beside the map or under it
// (overlay). Small images are magnified by an integer factor so that people can see them.
//
// Layout (all sizes in canvas pixels, white background): a margin of 8 around everything; panels of
// (image height × scale) × (image width × scale); [image] 8 [map] 8 [bar 14 wide, panel high] 4 [labels],
// or [overlay] 8 [bar] 4 [labels]; the canvas is at least 8 + 64 + 8 high so the labels fit.
//
// Overlay: out = (1 − α)·L + α·colour(t), with L the image's luma (PIL convert("L")), t = R / max|R|
// and α = 0.85·√|t|: the image shows as it is where relevance is zero, the colour where it is large.
// Non-finite relevance is drawn mid grey (128, 128, 128) and left out of the scale.
#ifndef LRP_RENDER_PNG_H
#define LRP_RENDER_PNG_H

#include <stddef.h>

#include "core/err.h"
#include "inputs/image.h"

typedef struct lrp_heatmap {
    const float *relevance;      // [rows][cols], row-major: per pixel (the image's size) or per patch
    int rows, cols;
    const lrp_pixels *image;     // the input as people see it (lrp_image.display, 1 or 3 channels), or NULL
    int overlay;                 // 1: blend the map over the image (needs image); 0: the image beside the map
    int scale;                   // integer magnification; 0: automatic, max(1, 224 / longer side)
} lrp_heatmap;

// Where render put things (for tests and for callers that annotate the picture).
typedef struct lrp_heatmap_layout {
    int width, height;           // the canvas
    int scale;                   // the magnification used
    double max_abs;              // the scale: max |R| over the finite values (0 when none or all zero)
    int image_x;                 // left edge of the image panel, -1 when none (no image, or overlay)
    int map_x;                   // left edge of the map (or overlay) panel
    int panel_y, panel_w, panel_h;
    int bar_x, bar_y, bar_w, bar_h;
    int label_x;                 // left edge of the labels
} lrp_heatmap_layout;

// The colour of t = R / max|R| in [-1, 1] (clamped): white at 0, red towards +1, blue towards -1.
void lrp_diverging_color(double t, unsigned char rgb[3]);

// Draws the picture into an RGB canvas (out->channels = 3). layout may be NULL. Errors: a map larger than
// the image, overlay without an image, sizes that are not positive, out of memory.
int lrp_heatmap_render(const lrp_heatmap *h, lrp_pixels *out, lrp_heatmap_layout *layout, lrp_err *err);

// The heatmap as PNG bytes in memory (malloc'ed; for embedding, see lrp_base64).
int lrp_heatmap_png(const lrp_heatmap *h, unsigned char **png, size_t *n, lrp_err *err);

// Writes the heatmap PNG to path whole or not at all (a temporary file beside it, then rename).
int lrp_heatmap_write(const char *path, const lrp_heatmap *h, lrp_err *err);

// Any 8-bit gray or RGB image as PNG bytes (malloc'ed), and the whole-or-nothing file write.
int lrp_png_encode(const lrp_pixels *img, unsigned char **png, size_t *n, lrp_err *err);
int lrp_png_write(const char *path, const lrp_pixels *img, lrp_err *err);

// Standard base64 (RFC 4648, with padding) as a malloc'ed NUL-terminated string; NULL when out of memory.
char *lrp_base64(const unsigned char *data, size_t n);

#endif

// What the text, HTML and PNG views of an explanation show: display units (characters merged across
// tokens, or words; render/units.h) of the source row and of the decoder row, and the scales.
#ifndef LRP_RENDER_VIEW_H
#define LRP_RENDER_VIEW_H

#include "render/render.h"
#include "render/units.h"

typedef struct lrp_view {
    lrp_units src, dec;   // units of the input (and decoder input) tokens; n = 0 for images
    int words;            // the units are words (--aggregate word)
    double scale;         // the values shown are relevance / scale (1 without --normalize)
    double color_max;     // max |unit relevance| (tokens: max |token relevance|) in raw units; 1 when 0
} lrp_view;

// Returns 0, or -1 when out of memory.
int lrp_view_build(const lrp_explanation *e, const lrp_render_ctx *ctx, lrp_view *v);
void lrp_view_free(lrp_view *v);

#endif

// Presenting an explanation: JSON (SPEC §8), plain text for people (coloured on a terminal), HTML.
#ifndef LRP_RENDER_H
#define LRP_RENDER_H

#include <stdio.h>

#include "explain/explain.h"

typedef struct lrp_render_ctx {
    const char *family;            // the config's model_type
    char **tokens;                 // [T] display strings of the input tokens, or NULL (no tokenizer)
    char *target_token;            // display string of the target, or NULL
    char *top_tokens[LRP_TOP_K];   // display strings of the top predictions, or NULL
    int all_logits;                // include every logit at the explained position
} lrp_render_ctx;

void lrp_render_json(FILE *f, const lrp_explanation *e, const lrp_render_ctx *ctx);
void lrp_render_text(FILE *f, const lrp_explanation *e, const lrp_render_ctx *ctx, int color);
void lrp_render_html(FILE *f, const lrp_explanation *e, const lrp_render_ctx *ctx);

// JSON building blocks (also used by other commands).
void lrp_json_string(FILE *f, const char *s);      // quoted, escaped; invalid UTF-8 bytes become U+FFFD
void lrp_json_number(FILE *f, double v);           // shortest round-trip for floats; NaN/inf -> null
void lrp_json_float_array(FILE *f, const float *v, int n);
void lrp_json_int_array(FILE *f, const int *v, int n);

#endif

#include "render/view.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lrp_view_free(lrp_view *v) {
    lrp_units_free(&v->src);
    lrp_units_free(&v->dec);
    memset(v, 0, sizeof *v);
}

// Units of one row; without display strings each token is "[id]".
static int row_units(char **tokens, const int *ids, int T, const unsigned char *word_start, const float *rel,
                     lrp_units *u) {
    if (tokens) return lrp_units_build(tokens, T, word_start, rel, u);
    char **tmp = calloc((size_t)T, sizeof *tmp);
    int rc = tmp ? 0 : -1;
    for (int t = 0; !rc && t < T; t++) {
        if (!(tmp[t] = malloc(16))) rc = -1;
        else snprintf(tmp[t], 16, "[%d]", ids[t]);
    }
    if (!rc) rc = lrp_units_build(tmp, T, NULL, rel, u);
    for (int t = 0; tmp && t < T; t++) free(tmp[t]);
    free(tmp);
    return rc;
}

static double max_abs_d(const double *v, int n, double m) {
    for (int i = 0; i < n; i++)
        if (isfinite(v[i]) && fabs(v[i]) > m) m = fabs(v[i]);
    return m;
}

int lrp_view_build(const lrp_explanation *e, const lrp_render_ctx *ctx, lrp_view *v) {
    memset(v, 0, sizeof *v);
    v->words = ctx->aggregate == LRP_AGGREGATE_WORD;
    int n_tok = e->ids ? e->T : e->n_relevance, n_dec = e->decoder_ids ? e->decoder_T : 0;
    double *tok = malloc(((size_t)n_tok + (size_t)n_dec + 1) * sizeof *tok);
    if (!tok) return -1;
    for (int i = 0; i < n_tok; i++) tok[i] = e->relevance[i];
    for (int i = 0; i < n_dec; i++) tok[n_tok + i] = e->decoder_relevance[i];
    if (e->ids) {
        if (row_units(ctx->token_bytes ? ctx->token_bytes : ctx->tokens, e->ids, e->T, v->words ? ctx->word_start : NULL, e->relevance, &v->src) ||
            (n_dec && row_units(ctx->decoder_token_bytes ? ctx->decoder_token_bytes : ctx->decoder_tokens, e->decoder_ids, n_dec, v->words ? ctx->decoder_word_start : NULL,
                                e->decoder_relevance, &v->dec))) {
            free(tok);
            lrp_view_free(v);
            return -1;
        }
    }
    if (v->words) {
        v->scale = lrp_normalize_scale(ctx->normalize, v->src.relevance, v->src.n, v->dec.relevance, v->dec.n);
        v->color_max = max_abs_d(v->dec.relevance, v->dec.n, max_abs_d(v->src.relevance, v->src.n, 0));
    } else {
        v->scale = lrp_normalize_scale(ctx->normalize, tok, n_tok, tok + n_tok, n_dec);
        v->color_max = max_abs_d(tok, n_tok + n_dec, 0);
        // merged characters are coloured by their sum: keep them on the scale too
        v->color_max = max_abs_d(v->dec.relevance, v->dec.n, max_abs_d(v->src.relevance, v->src.n, v->color_max));
    }
    if (v->color_max == 0) v->color_max = 1;
    free(tok);
    return 0;
}

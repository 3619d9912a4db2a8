#include "api/describe.h"

#include <stdlib.h>
#include <string.h>

static void free_strings(char **v, int n) {
    for (int i = 0; v && i < n; i++) free(v[i]);
    free(v);
}

// n display strings of ids (NULL when out of memory).
static char **token_strings(const lrp_tokenizer *tok, const int *ids, int n) {
    char **v = calloc((size_t)n + 1, sizeof *v);
    for (int t = 0; v && t < n; t++)
        if (!(v[t] = lrp_token_string(tok, ids[t]))) {
            free_strings(v, t);
            return NULL;
        }
    return v;
}

// The bytes each token decodes to (render/units.h merges them into characters), or NULL (out of memory).
static char **token_bytes(const lrp_tokenizer *tok, const int *ids, int n) {
    char **v = calloc((size_t)n + 1, sizeof *v), buf[256];
    for (int t = 0; v && t < n; t++) {
        lrp_tokenizer_token_bytes(tok, ids[t], buf, sizeof buf);
        if (!(v[t] = strdup(buf))) {
            free_strings(v, t);
            return NULL;
        }
    }
    return v;
}

int lrp_describe_explanation(const lrp_session *s, const lrp_explanation *e, lrp_render_ctx *ctx, lrp_err *err) {
    const lrp_config *cfg = &s->m->cfg;
    int named = s->tok || cfg->task == LRP_TASK_CLASSIFIER;  // outputs have display strings
    ctx->family = cfg->model_type;
    if (cfg->task == LRP_TASK_CLASSIFIER) ctx->labels = cfg->labels;
    if (s->tok && e->ids) {
        if (!(ctx->tokens = token_strings(s->tok, e->ids, e->T))) goto oom;
        if (!(ctx->token_bytes = token_bytes(s->tok, e->ids, e->T))) goto oom;
    }
    if (s->tok && e->decoder_ids) {
        if (!(ctx->decoder_tokens = token_strings(s->tok, e->decoder_ids, e->decoder_T))) goto oom;
        if (!(ctx->decoder_token_bytes = token_bytes(s->tok, e->decoder_ids, e->decoder_T))) goto oom;
    }
    if (e->contrast >= 0 && named && !(ctx->contrast_token = lrp_output_string(cfg, s->tok, e->contrast))) goto oom;
    if (named) {
        if (!(ctx->target_token = lrp_output_string(cfg, s->tok, e->target))) goto oom;
        for (int i = 0; i < e->n_top; i++)
            if (!(ctx->top_tokens[i] = lrp_output_string(cfg, s->tok, e->top[i].id))) goto oom;
        if (e->n_answer > 0 && !(ctx->answer_tokens = token_strings(s->tok, e->answer_ids, e->n_answer))) goto oom;
    }
    return 0;
oom:
    lrp_describe_free(ctx, e);
    return lrp_fail(err, "out of memory");
}

void lrp_describe_free(lrp_render_ctx *ctx, const lrp_explanation *e) {
    free_strings(ctx->tokens, e->T);
    free_strings(ctx->token_bytes, e->T);
    free_strings(ctx->decoder_tokens, e->decoder_T);
    free_strings(ctx->decoder_token_bytes, e->decoder_T);
    free_strings(ctx->answer_tokens, e->n_answer);
    free(ctx->target_token);
    free(ctx->contrast_token);
    for (int i = 0; i < LRP_TOP_K; i++) free(ctx->top_tokens[i]);
    ctx->tokens = ctx->token_bytes = ctx->decoder_tokens = ctx->decoder_token_bytes = ctx->answer_tokens = NULL;
    ctx->target_token = ctx->contrast_token = NULL;
    memset(ctx->top_tokens, 0, sizeof ctx->top_tokens);
}

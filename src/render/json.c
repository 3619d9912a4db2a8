#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "explain/methods.h"
#include "render/render.h"
#include "render/units.h"
#include "render/view.h"

void lrp_json_string(FILE *f, const char *str) {
    const unsigned char *s = (const unsigned char *)str;
    fputc('"', f);
    while (*s) {
        unsigned c = *s;
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc((int)c, f);
            s++;
        } else if (c < 0x20) {
            switch (c) {
            case '\n': fputs("\\n", f); break;
            case '\t': fputs("\\t", f); break;
            case '\r': fputs("\\r", f); break;
            default: fprintf(f, "\\u%04x", c); break;
            }
            s++;
        } else {
            int n = lrp_utf8_char_len(s);
            if (n == 0) {
                fputs("\\ufffd", f);
                s++;
            } else {
                fwrite(s, 1, (size_t)n, f);
                s += n;
            }
        }
    }
    fputc('"', f);
}

void lrp_json_number(FILE *f, double v) {
    if (!isfinite(v)) {
        fputs("null", f);
        return;
    }
    // A value that is a float prints with the 9 digits that identify it as a float; any other double
    // with the shortest of %.15g .. %.17g that reads back as exactly v.
    if (v == (double)(float)v) {
        fprintf(f, "%.9g", v);
        return;
    }
    char buf[40];
    static const int digits[] = {15, 16, 17};
    for (size_t i = 0; i < sizeof digits / sizeof digits[0]; i++) {
        snprintf(buf, sizeof buf, "%.*g", digits[i], v);
        if (strtod(buf, NULL) == v) break;
    }
    fputs(buf, f);
}

void lrp_json_float_array(FILE *f, const float *v, int n) {
    fputc('[', f);
    for (int i = 0; i < n; i++) {
        if (i) fputs(", ", f);
        lrp_json_number(f, v[i]);
    }
    fputc(']', f);
}

void lrp_json_int_array(FILE *f, const int *v, int n) {
    fputc('[', f);
    for (int i = 0; i < n; i++) fprintf(f, i ? ", %d" : "%d", v[i]);
    fputc(']', f);
}

// The parameters of the baseline methods and the softmax ablation, as run, and the cost in passes.
void lrp_render_json_method_params(FILE *f, const lrp_explanation *e) {
    int m = (int)e->method;
    if (e->softmax_rule > 0 && e->softmax_rule < LRP_SOFTMAX_COUNT)
        fprintf(f, ", \"softmax_rule\": \"%s\"", lrp_softmax_rule_name(e->softmax_rule));
    if (e->nonfinite) fprintf(f, ", \"nonfinite\": %d", e->nonfinite);
    if (e->nonfinite_tensor) {
        fputs(", \"nonfinite_weight\": {\"tensor\": ", f);
        lrp_json_string(f, e->nonfinite_tensor);
        fprintf(f, ", \"index\": %lld", e->nonfinite_index);
        if (e->nonfinite_weights) fprintf(f, ", \"count\": %lld", e->nonfinite_weights);
        fputc('}', f);
    }
    if (!LRP_METHOD_IS_BASELINE(m)) return;
    if (m == LRP_METHOD_IG)
        fprintf(f, ", \"steps\": %d, \"quadrature\": \"%s\"", e->steps, lrp_quadrature_name(e->quadrature ? 1 : 0));
    if (m == LRP_METHOD_SMOOTHGRAD || m == LRP_METHOD_KERNELSHAP)
        fprintf(f, ", \"samples\": %d, \"seed\": %llu", e->samples, e->seed);
    if (m == LRP_METHOD_SMOOTHGRAD) {
        fputs(", \"noise\": ", f);
        lrp_json_number(f, e->noise);
        fputs(", \"noise_sigma\": ", f);
        lrp_json_number(f, e->noise_abs);
    }
    if (m == LRP_METHOD_KERNELSHAP) fprintf(f, ", \"exact_shapley\": %s", e->exact_shapley ? "true" : "false");
    if (m == LRP_METHOD_ATMAN) {
        fputs(", \"atman_factor\": ", f);
        lrp_json_number(f, e->atman_factor);
        fputs(", \"atman_threshold\": ", f);
        lrp_json_number(f, e->atman_threshold);
    }
    if (e->has_baseline_value) {
        fputs(", \"baseline_value\": ", f);
        lrp_json_number(f, e->baseline_value);
    }
    fprintf(f, ", \"forward_passes\": %d, \"backward_passes\": %d", e->forward_passes, e->backward_passes);
}

static void json_words(FILE *f, const char *key, const lrp_units *u, double scale, int normalized) {
    fprintf(f, ", \"%s\": [", key);
    for (int k = 0; k < u->n; k++) {
        fputs(k ? ", {\"text\": " : "{\"text\": ", f);
        lrp_json_string(f, u->text[k]);
        fprintf(f, ", \"start_token\": %d, \"end_token\": %d, \"relevance\": ", u->first[k], u->last[k]);
        lrp_json_number(f, u->relevance[k]);
        if (normalized) {
            fputs(", \"relevance_normalized\": ", f);
            lrp_json_number(f, u->relevance[k] / scale);
        }
        fputc('}', f);
    }
    fputc(']', f);
}

// --normalize and --aggregate word: `normalization` {method, scale, over}, `relevance_normalized` (and
// `decoder_relevance_normalized`), `words` (and `decoder_words`). `relevance` itself stays as computed.
static void json_views(FILE *f, const lrp_explanation *e, const lrp_render_ctx *ctx) {
    lrp_view v;
    if (lrp_view_build(e, ctx, &v)) return;
    fputs(", \"normalization\": {\"method\": ", f);
    lrp_json_string(f, lrp_normalize_name(ctx->normalize));
    fputs(", \"scale\": ", f);
    lrp_json_number(f, v.scale);
    fprintf(f, ", \"over\": \"%s\"}", v.words ? "words" : e->ids ? "tokens" : "patches");
    int normalized = ctx->normalize != LRP_NORMALIZE_NONE;
    if (normalized && !v.words) {
        fputs(", \"relevance_normalized\": [", f);
        for (int i = 0; i < e->n_relevance; i++) {
            if (i) fputs(", ", f);
            lrp_json_number(f, e->relevance[i] / v.scale);
        }
        fputc(']', f);
        if (e->decoder_relevance) {
            fputs(", \"decoder_relevance_normalized\": [", f);
            for (int i = 0; i < e->decoder_T; i++) {
                if (i) fputs(", ", f);
                lrp_json_number(f, e->decoder_relevance[i] / v.scale);
            }
            fputc(']', f);
        }
    }
    if (v.words) {
        json_words(f, "words", &v.src, v.scale, normalized);
        if (e->decoder_ids) json_words(f, "decoder_words", &v.dec, v.scale, normalized);
    }
    lrp_view_free(&v);
}

void lrp_render_json(FILE *f, const lrp_explanation *e, const lrp_render_ctx *ctx) {
    fputs("{\"method\": ", f);
    lrp_json_string(f, lrp_method_label(e->method));
    fputs(", \"family\": ", f);
    lrp_json_string(f, ctx->family ? ctx->family : "");
    if (e->ids) {
        fputs(", \"ids\": ", f);
        lrp_json_int_array(f, e->ids, e->T);
    } else {
        fprintf(f, ", \"image\": {\"channels\": %d, \"height\": %d, \"width\": %d, \"patch_size\": %d}", e->channels,
                e->height, e->width, e->patch_size);
    }
    if (e->gamma_conv > 0 || e->gamma_lin > 0) {
        fputs(", \"gamma\": [", f);
        lrp_json_number(f, e->gamma_conv);
        fputs(", ", f);
        lrp_json_number(f, e->gamma_lin);
        fputc(']', f);
    }
    if (ctx->tokens) {
        fputs(", \"tokens\": [", f);
        for (int t = 0; t < e->T; t++) {
            if (t) fputs(", ", f);
            lrp_json_string(f, ctx->tokens[t]);
        }
        fputc(']', f);
    }
    if (e->token_types) {
        fputs(", \"token_type_ids\": ", f);
        lrp_json_int_array(f, e->token_types, e->T);
    }
    if (e->attention_mask) {
        fputs(", \"attention_mask\": [", f);
        for (int t = 0; t < e->T; t++) fprintf(f, t ? ", %d" : "%d", e->attention_mask[t]);
        fputc(']', f);
    }
    fputs(", \"task\": ", f);
    lrp_json_string(f, lrp_task_name(e->task));
    if (e->position >= 0) fprintf(f, ", \"position\": %d", e->position);
    if (e->latent_start[0] < 0) {  // a latent start explains a neuron, not an output token
        fprintf(f, ", \"target\": %d", e->target);
        if (ctx->target_token) {
            fputs(", \"target_token\": ", f);
            lrp_json_string(f, ctx->target_token);
        }
        fputs(", \"target_logit\": ", f);
        lrp_json_number(f, e->target_logit);
    }
    if (e->contrast >= 0) {
        fprintf(f, ", \"contrast\": %d, \"contrast_logit\": ", e->contrast);
        lrp_json_number(f, e->contrast_logit);
    }
    if (e->latent_start[0] >= 0)
        fprintf(f, ", \"latent_start\": [%d, %d, %d]", e->latent_start[0], e->latent_start[1], e->latent_start[2]);
    fputs(", \"start_value\": ", f);
    lrp_json_number(f, e->start_value);
    lrp_render_json_score(f, e, ctx);
    fputs(", \"relevance\": ", f);
    lrp_json_float_array(f, e->relevance, e->n_relevance);
    if (e->relevance_pixels) {
        fputs(", \"relevance_pixels\": [", f);
        for (int r = 0; r < e->height; r++) {
            if (r) fputs(", ", f);
            lrp_json_float_array(f, e->relevance_pixels + (size_t)r * e->width, e->width);
        }
        fputc(']', f);
    }
    if (e->relevance_positions) {
        fputs(", \"relevance_positions\": ", f);
        lrp_json_float_array(f, e->relevance_positions, e->T);
    }
    if (e->relevance_token_types) {
        fputs(", \"relevance_token_types\": ", f);
        lrp_json_float_array(f, e->relevance_token_types, e->T);
    }
    if (e->has_cls) {
        fputs(", \"relevance_cls\": ", f);
        lrp_json_number(f, e->relevance_cls);
    }
    if (e->decoder_ids) {  // encoder-decoders: the decoder's input (start token first) and its relevance
        fputs(", \"decoder_ids\": ", f);
        lrp_json_int_array(f, e->decoder_ids, e->decoder_T);
        if (ctx->decoder_tokens) {
            fputs(", \"decoder_tokens\": [", f);
            for (int t = 0; t < e->decoder_T; t++) {
                if (t) fputs(", ", f);
                lrp_json_string(f, ctx->decoder_tokens[t]);
            }
            fputc(']', f);
        }
        fputs(", \"decoder_relevance\": ", f);
        lrp_json_float_array(f, e->decoder_relevance, e->decoder_T);
    }
    fputs(", \"relevance_sum\": ", f);
    lrp_json_number(f, e->relevance_sum);
    json_views(f, e, ctx);
    lrp_render_json_conservation(f, e);
    lrp_render_json_method_params(f, e);
    if (lrp_readout_convention(e->method)) {
        fputs(", \"readout\": ", f);
        lrp_json_string(f, lrp_readout_convention(e->method));
    }
    if (ctx->all_logits || e->task == LRP_TASK_CLASSIFIER) {
        fputs(", \"logits\": ", f);
        lrp_json_float_array(f, e->logits, e->n_out);
    }
    fputs(", \"top\": [", f);
    for (int i = 0; i < e->n_top; i++) {
        fprintf(f, "%s{\"id\": %d", i ? ", " : "", e->top[i].id);
        if (ctx->top_tokens[i]) {
            fputs(", \"token\": ", f);
            lrp_json_string(f, ctx->top_tokens[i]);
        }
        fputs(", \"logit\": ", f);
        lrp_json_number(f, e->top[i].logit);
        fputs(", \"prob\": ", f);
        lrp_json_number(f, e->top[i].prob);
        fputc('}', f);
    }
    fputc(']', f);
    if (e->residual_relevance) {
        fputs(", \"residual_relevance\": [", f);
        for (int l = 0; l < e->n_layers; l++) {
            if (l) fputs(", ", f);
            lrp_json_float_array(f, e->residual_relevance + (size_t)l * e->T, e->T);
        }
        fputc(']', f);
    }
    for (int k = 0; k < 2; k++) {  // encoder-decoders: [layer][position] per stack
        const float *r = k ? e->decoder_residual_relevance : e->encoder_residual_relevance;
        int n = k ? e->n_layers - e->n_encoder_layers : e->n_encoder_layers, T = k ? e->decoder_T : e->T;
        if (!r) continue;
        fprintf(f, ", \"%s_residual_relevance\": [", k ? "decoder" : "encoder");
        for (int l = 0; l < n; l++) {
            if (l) fputs(", ", f);
            lrp_json_float_array(f, r + (size_t)l * T, T);
        }
        fputc(']', f);
    }
    if (e->head_relevance) {
        fputs(", \"head_relevance\": [", f);
        for (int l = 0; l < e->n_layers; l++) {
            if (l) fputs(", ", f);
            lrp_json_float_array(f, e->head_relevance + (size_t)l * e->n_heads, e->n_heads);
        }
        fputs("]", f);
    }
    if (e->latent_relevance) {
        fprintf(f, ", \"latent_layer\": %d, \"latent_relevance\": ", e->latent_layer);
        lrp_json_float_array(f, e->latent_relevance, e->n_latent);
        if (e->latent_position_relevance) {
            fputs(", \"latent_position_relevance\": [", f);
            for (int t = 0; t < e->n_latent_positions; t++) {
                if (t) fputs(", ", f);
                lrp_json_float_array(f, e->latent_position_relevance + (size_t)t * e->n_latent, e->n_latent);
            }
            fputs("]", f);
        }
    }
    if (e->latent_expert >= 0) fprintf(f, ", \"latent_expert\": %d", e->latent_expert);
    if (e->expert_relevance) {
        fputs(", \"expert_relevance\": [", f);
        for (int l = 0; l < e->n_layers; l++) {
            if (l) fputs(", ", f);
            lrp_json_float_array(f, e->expert_relevance + (size_t)l * e->n_experts, e->n_experts);
        }
        fputc(']', f);
    }
    if (e->shared_expert_relevance) {
        fputs(", \"shared_expert_relevance\": ", f);
        lrp_json_float_array(f, e->shared_expert_relevance, e->n_layers);
    }
    fputs(", \"seconds\": {\"forward\": ", f);
    lrp_json_number(f, e->seconds_forward);
    fputs(", \"backward\": ", f);
    lrp_json_number(f, e->seconds_backward);
    fputs("}}\n", f);
}

// ---- jansson values ----

json_t *lrp_jv_text(const char *str) {
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    size_t n = strlen((const char *)s), k = 0;
    char *clean = malloc(3 * n + 1);   // every invalid byte becomes the three bytes of U+FFFD
    if (!clean) return NULL;
    while (*s) {
        int len = lrp_utf8_char_len(s);
        if (len == 0) {
            memcpy(clean + k, "\xef\xbf\xbd", 3);
            k += 3;
            s++;
        } else {
            memcpy(clean + k, s, (size_t)len);
            k += (size_t)len;
            s += len;
        }
    }
    json_t *v = json_stringn(clean, k);
    free(clean);
    return v;
}

json_t *lrp_jv_number(double v) { return isfinite(v) ? json_real(v) : json_null(); }

json_t *lrp_jv_int_array(const int *v, int n) {
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++) json_array_append_new(a, json_integer(v[i]));
    return a;
}

json_t *lrp_jv_float_array(const float *v, int n) {
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++) json_array_append_new(a, lrp_jv_number(v[i]));
    return a;
}

json_t *lrp_jv_double_array(const double *v, int n) {
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++) json_array_append_new(a, lrp_jv_number(v[i]));
    return a;
}

int lrp_jv_dump(FILE *f, json_t *v, int float_precision) {
    if (!v) return -1;
    int rc = json_dumpf(v, f, float_precision ? JSON_REAL_PRECISION(9) : JSON_REAL_PRECISION(17));
    json_decref(v);
    if (rc == 0 && fputc('\n', f) == EOF) rc = -1;
    return rc;
}

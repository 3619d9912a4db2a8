// The explanation for people: a header, the tokens coloured by relevance on a terminal, a table of
// per-token relevance with bars, the top predictions (classifiers: every class's probability).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "explain/methods.h"
#include "render/render.h"
#include "render/view.h"

// Writes s with control characters made visible (newline as \n, tab as \t).
int lrp_top_experts(const lrp_explanation *e, int l, int *idx, double *total) {
    const float *r = e->expert_relevance + (size_t)l * e->n_experts;
    int k = 0;
    *total = 0;
    for (int j = 0; j < e->n_experts; j++) {
        *total += r[j];
        // insertion into the running top list (stable: an equal magnitude stays behind the lower index)
        int at = k < LRP_TOP_EXPERTS ? k++ : LRP_TOP_EXPERTS;
        while (at > 0 && fabsf(r[j]) > fabsf(r[idx[at - 1]])) {
            if (at < LRP_TOP_EXPERTS) idx[at] = idx[at - 1];
            at--;
        }
        if (at < LRP_TOP_EXPERTS) idx[at] = j;
    }
    return k;
}

static void put_visible(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '\n') fputs("\\n", f);
        else if (*s == '\t') fputs("\\t", f);
        else if ((unsigned char)*s < 0x20) fprintf(f, "\\x%02x", (unsigned char)*s);
        else fputc(*s, f);
    }
}

static float max_abs(const float *v, int n) {
    float m = 0;
    for (int i = 0; i < n; i++) m = fabsf(v[i]) > m ? fabsf(v[i]) : m;
    return m;
}

// Background colour for relevance r in [-1, 1]: red for positive, blue for negative (24-bit ANSI).
static void put_bg(FILE *f, float r) {
    int a = (int)(fminf(fabsf(r), 1.0f) * 200.0f);
    if (r >= 0) fprintf(f, "\x1b[48;2;255;%d;%dm\x1b[38;2;0;0;0m", 255 - a, 255 - a);
    else fprintf(f, "\x1b[48;2;%d;%d;255m\x1b[38;2;0;0;0m", 255 - a, 255 - a);
}

// An image's patches as a grid of relevance values (coloured cells on a terminal).
static void patch_grid(FILE *f, const lrp_explanation *e, float m, double scale, int color) {
    int side = e->width / e->patch_size;
    double pos = 0;
    for (int t = 0; e->relevance_positions && t < e->T; t++) pos += e->relevance_positions[t];
    fprintf(f, "relevance per patch (%d x %d patches of %d px); CLS token %.4g, position embeddings %.4g\n", side, side,
            e->patch_size, e->relevance_cls, pos);
    for (int r = 0; r < side; r++) {
        for (int c = 0; c < side; c++) {
            float v = e->relevance[r * side + c];
            if (color) put_bg(f, v / m);
            fprintf(f, " %9.3g", v / scale);
            if (color) fputs("\x1b[0m", f);
        }
        fputc('\n', f);
    }
}

// Approximate display width of s: UTF-8 lead bytes.
static int text_width(const char *s) {
    int w = 0;
    for (; *s; s++) w += ((unsigned char)*s & 0xc0) != 0x80;
    return w;
}

// The units (characters merged across tokens, or words) coloured in a line, on a terminal.
static void unit_line(FILE *f, const lrp_units *u, double cmax) {
    fputc('\n', f);
    for (int k = 0; k < u->n; k++) {
        put_bg(f, (float)(u->relevance[k] / cmax));
        put_visible(f, u->text[k]);
        fputs("\x1b[0m", f);
    }
    fputs("\n\n", f);
}

// One row per token with its relevance (divided by scale) and a bar; m is the largest |relevance| (one bar
// scale for every row of an explanation). A character split over several tokens is shown whole on each
// of them, marked (i/n).
static void token_table(FILE *f, const int *ids, int T, int have_tokens, const lrp_units *u, const float *rel,
                        float m, double cmax, double scale, int color) {
    if (color && have_tokens) unit_line(f, u, cmax);
    fprintf(f, "%5s  %-20s %8s %12s\n", "pos", "token", "id", "relevance");
    int k = 0;
    for (int t = 0; t < T; t++) {
        while (k + 1 < u->n && u->first[k + 1] <= t) k++;
        fprintf(f, "%5d  ", t);
        int width = 0;
        if (have_tokens) {
            if (color) put_bg(f, rel[t] / m);
            fputc('"', f);
            put_visible(f, u->text[k]);
            fputc('"', f);
            if (color) fputs("\x1b[0m", f);
            width = 2 + text_width(u->text[k]);
            if (u->last[k] > u->first[k]) width += fprintf(f, " (%d/%d)", t - u->first[k] + 1, u->last[k] - u->first[k] + 1);
        }
        for (; width < 20; width++) fputc(' ', f);
        fprintf(f, " %8d %12.6g ", ids[t], rel[t] / scale);
        int bar = (int)lroundf(fabsf(rel[t]) / m * 20.0f);
        for (int i = 0; i < bar; i++) fputs(rel[t] >= 0 ? "+" : "-", f);
        fputc('\n', f);
    }
}

// One row per word: its text, its tokens, the sum of their relevance (divided by scale) and a bar.
static void word_table(FILE *f, const lrp_units *u, double cmax, double scale, int color) {
    if (color) unit_line(f, u, cmax);
    fprintf(f, "%5s  %-24s %9s %12s\n", "word", "text", "tokens", "relevance");
    for (int k = 0; k < u->n; k++) {
        fprintf(f, "%5d  ", k);
        if (color) put_bg(f, (float)(u->relevance[k] / cmax));
        fputc('"', f);
        put_visible(f, u->text[k]);
        fputc('"', f);
        if (color) fputs("\x1b[0m", f);
        for (int width = 2 + text_width(u->text[k]); width < 24; width++) fputc(' ', f);
        char span[32];
        if (u->first[k] == u->last[k]) snprintf(span, sizeof span, "%d", u->first[k]);
        else snprintf(span, sizeof span, "%d-%d", u->first[k], u->last[k]);
        fprintf(f, " %9s %12.6g ", span, u->relevance[k] / scale);
        int bar = (int)lround(fabs(u->relevance[k]) / cmax * 20.0);
        for (int i = 0; i < bar; i++) fputs(u->relevance[k] >= 0 ? "+" : "-", f);
        fputc('\n', f);
    }
}

static void row_table(FILE *f, const lrp_view *v, const lrp_units *u, const int *ids, int T, int have_tokens,
                      const float *rel, float m, int color) {
    if (v->words) word_table(f, u, v->color_max, v->scale, color);
    else token_table(f, ids, T, have_tokens, u, rel, m, v->color_max, v->scale, color);
}

void lrp_render_text(FILE *f, const lrp_explanation *e, const lrp_render_ctx *ctx, int color) {
    float m = max_abs(e->relevance, e->n_relevance);
    if (e->decoder_relevance && max_abs(e->decoder_relevance, e->decoder_T) > m)
        m = max_abs(e->decoder_relevance, e->decoder_T);
    if (m == 0) m = 1;
    if (!e->ids)
        fprintf(f, "method %s%s, %s model, image %dx%dx%d\n", lrp_method_label(e->method),
                e->gamma_conv > 0 || e->gamma_lin > 0 ? " + gamma" : "", ctx->family ? ctx->family : "?", e->channels,
                e->height, e->width);
    else
        fprintf(f, "method %s, %s model, %d tokens%s\n", lrp_method_label(e->method), ctx->family ? ctx->family : "?",
                e->T, e->decoder_ids ? " in the source" : "");
    if (e->latent_start[0] >= 0) {
        fprintf(f, "start: MLP neuron %d of layer %d at position %d, activation %.6g\n", e->latent_start[2],
                e->latent_start[0], e->latent_start[1], e->start_value);
    } else {
        if (e->task == LRP_TASK_CLASSIFIER) fprintf(f, "explaining class %d", e->target);
        else fprintf(f, "explaining %sposition %d: target %d", e->decoder_ids ? "decoder " : "", e->position, e->target);
        if (ctx->target_token) {
            fputs(" \"", f);
            put_visible(f, ctx->target_token);
            fputc('"', f);
        }
        fprintf(f, ", logit %.6g", e->target_logit);
        if (e->contrast >= 0) {
            fprintf(f, ", minus foil %d", e->contrast);
            if (ctx->contrast_token) {
                fputs(" \"", f);
                put_visible(f, ctx->contrast_token);
                fputc('"', f);
            }
            fprintf(f, " (logit %.6g)", e->contrast_logit);
        }
        fprintf(f, "; start value %.6g\n", e->start_value);
    }
    lrp_render_text_score(f, e, ctx);
    lrp_view v;
    if (lrp_view_build(e, ctx, &v)) {
        fputs("out of memory\n", f);
        return;
    }
    fprintf(f, "relevance sum %.6g, start value %.6g", e->relevance_sum, e->start_value);
    if (lrp_conserved_value(e) != e->start_value) fprintf(f, ", seed value %.6g", lrp_conserved_value(e));
    if (lrp_conserved_value(e) != 0) fprintf(f, ", ratio %.4g", e->relevance_sum / lrp_conserved_value(e));
    fputc('\n', f);
    const char *over = v.words ? "words" : e->ids ? "tokens" : "patches";
    if (ctx->normalize == LRP_NORMALIZE_MAX) fprintf(f, "scale: max|R| = %.6g over %s (values shown divided by it)\n", v.scale, over);
    else if (ctx->normalize == LRP_NORMALIZE_SUM) fprintf(f, "scale: sum|R| = %.6g over %s (values shown divided by it)\n", v.scale, over);
    else fprintf(f, "scale: none (values as computed); colours: +-max|R| = %.6g over %s\n", v.color_max, over);
    if (!e->ids) patch_grid(f, e, m, v.scale, color);
    if (e->decoder_ids) {  // encoder-decoders: the source, then the target prefix, on one colour scale
        fputs("source:\n", f);
        row_table(f, &v, &v.src, e->ids, e->T, ctx->tokens != NULL, e->relevance, m, color);
        fputs("target prefix (decoder input, start token first):\n", f);
        row_table(f, &v, &v.dec, e->decoder_ids, e->decoder_T, ctx->decoder_tokens != NULL, e->decoder_relevance, m,
                  color);
    } else if (e->ids) {
        row_table(f, &v, &v.src, e->ids, e->T, ctx->tokens != NULL, e->relevance, m, color);
    }
    lrp_view_free(&v);
    if (e->latent_start[0] < 0 && e->task == LRP_TASK_CLASSIFIER) {
        // every class, in the model's order: a classifier has few
        double mx = -INFINITY, z = 0;
        for (int i = 0; i < e->n_out; i++) mx = e->logits[i] > mx ? e->logits[i] : mx;
        for (int i = 0; i < e->n_out; i++) z += exp((double)e->logits[i] - mx);
        fputs("class probabilities:", f);
        for (int i = 0; i < e->n_out; i++) {
            fprintf(f, "%s %d", i ? "," : "", i);
            if (ctx->labels && ctx->labels[i]) {
                fputs(" \"", f);
                put_visible(f, ctx->labels[i]);
                fputc('"', f);
            }
            fprintf(f, " (p %.3f, logit %.4g)", exp((double)e->logits[i] - mx) / z, e->logits[i]);
        }
        fputc('\n', f);
    } else if (e->latent_start[0] < 0) {
        fputs("top predictions:", f);
        for (int i = 0; i < e->n_top; i++) {
            fprintf(f, "%s %d", i ? "," : "", e->top[i].id);
            if (ctx->top_tokens[i]) {
                fputs(" \"", f);
                put_visible(f, ctx->top_tokens[i]);
                fputc('"', f);
            }
            fprintf(f, " (p %.3f)", e->top[i].prob);
        }
        fputc('\n', f);
    }
    for (int k = 0; k < 2; k++) {  // encoder-decoders: each stack's blocks
        const float *r = k ? e->decoder_residual_relevance : e->encoder_residual_relevance;
        int n = k ? e->n_layers - e->n_encoder_layers : e->n_encoder_layers, T = k ? e->decoder_T : e->T;
        if (!r) continue;
        fprintf(f, "%s residual stream relevance per layer (sum over positions; layers numbered %s):\n",
                k ? "decoder" : "encoder", k ? "after the encoder's" : "from 0");
        for (int l = 0; l < n; l++) {
            double sum = 0;
            for (int t = 0; t < T; t++) sum += r[(size_t)l * T + t];
            fprintf(f, "  layer %2d  %.6g\n", k ? e->n_encoder_layers + l : l, sum);
        }
    }
    if (e->residual_relevance) {
        fputs("residual stream relevance per layer (sum over positions; lost: (output - input) / start value):\n", f);
        double prev = e->relevance_sum;
        for (int l = 0; l < e->n_layers; l++) {
            double s = 0;
            for (int t = 0; t < e->T; t++) s += e->residual_relevance[(size_t)l * e->T + t];
            fprintf(f, "  layer %2d  %12.6g", l, s);
            if (e->start_value != 0) fprintf(f, "  lost %+.4f", (s - prev) / e->start_value);
            fputc('\n', f);
            prev = s;
        }
        if (e->latent_start[0] < 0 && e->start_value != 0)
            fprintf(f, "  head      %12.6g  lost %+.4f\n", e->start_value, (e->start_value - prev) / e->start_value);
    }
    if (e->latent_relevance) {
        fprintf(f, "most relevant MLP neurons of layer %d:\n", e->latent_layer);
        int shown[10], k = e->n_latent < 10 ? e->n_latent : 10;
        float *mag = malloc((size_t)e->n_latent * sizeof *mag);
        if (!mag) k = 0;
        for (int i = 0; mag && i < e->n_latent; i++) mag[i] = fabsf(e->latent_relevance[i]);
        if (mag) lrp_rank_top(mag, e->n_latent, k, shown);
        free(mag);
        for (int r = 0; r < k; r++) {
            int best = shown[r];
            fprintf(f, "  neuron %6d  %.6g\n", best, e->latent_relevance[best]);
        }
    }
    if (e->expert_relevance) {
        fputs("router relevance per layer (sum over experts; the most relevant experts):\n", f);
        for (int l = 0; l < e->n_layers; l++) {
            int idx[LRP_TOP_EXPERTS];
            double total;
            int k = lrp_top_experts(e, l, idx, &total);
            fprintf(f, "  layer %2d  %12.6g ", l, total);
            for (int r = 0; r < k; r++)
                fprintf(f, "%s expert %d %.4g", r ? "," : "", idx[r],
                        e->expert_relevance[(size_t)l * e->n_experts + idx[r]]);
            fputc('\n', f);
        }
    }
}

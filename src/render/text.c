#include <math.h>
#include <string.h>

#include "render/render.h"

// Writes s with control characters made visible (newline as \n, tab as \t).
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

void lrp_render_text(FILE *f, const lrp_explanation *e, const lrp_render_ctx *ctx, int color) {
    float m = max_abs(e->relevance, e->T);
    if (m == 0) m = 1;
    fprintf(f, "method %s, %s model, %d tokens\n", lrp_method_name(e->method), ctx->family ? ctx->family : "?", e->T);
    if (e->latent_start[0] >= 0) {
        fprintf(f, "start: MLP neuron %d of layer %d at position %d, activation %.6g\n", e->latent_start[2],
                e->latent_start[0], e->latent_start[1], e->start_value);
    } else {
        fprintf(f, "explaining position %d: target %d", e->position, e->target);
        if (ctx->target_token) {
            fputs(" \"", f);
            put_visible(f, ctx->target_token);
            fputc('"', f);
        }
        fprintf(f, ", logit %.6g", e->target_logit);
        if (e->contrast >= 0) fprintf(f, ", minus foil %d (logit %.6g)", e->contrast, e->contrast_logit);
        fprintf(f, "; start value %.6g\n", e->start_value);
    }
    fprintf(f, "relevance sum %.6g\n", e->relevance_sum);
    if (color && ctx->tokens) {
        fputc('\n', f);
        for (int t = 0; t < e->T; t++) {
            put_bg(f, e->relevance[t] / m);
            put_visible(f, ctx->tokens[t]);
            fputs("\x1b[0m", f);
        }
        fputs("\n\n", f);
    }
    fprintf(f, "%5s  %-20s %8s %12s\n", "pos", "token", "id", "relevance");
    for (int t = 0; t < e->T; t++) {
        fprintf(f, "%5d  ", t);
        int width = 0;
        if (ctx->tokens) {
            if (color) put_bg(f, e->relevance[t] / m);
            fputc('"', f);
            put_visible(f, ctx->tokens[t]);
            fputc('"', f);
            if (color) fputs("\x1b[0m", f);
            // approximate display width: count UTF-8 lead bytes
            width = 2;
            for (const char *s = ctx->tokens[t]; *s; s++) width += ((unsigned char)*s & 0xc0) != 0x80;
        }
        for (; width < 20; width++) fputc(' ', f);
        fprintf(f, " %8d %12.6g ", e->ids[t], e->relevance[t]);
        int bar = (int)lroundf(fabsf(e->relevance[t]) / m * 20.0f);
        for (int i = 0; i < bar; i++) fputs(e->relevance[t] >= 0 ? "+" : "-", f);
        fputc('\n', f);
    }
    if (e->latent_start[0] < 0) {
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
    if (e->residual_relevance) {
        fputs("residual stream relevance per layer (sum over positions):\n", f);
        for (int l = 0; l < e->n_layers; l++) {
            double s = 0;
            for (int t = 0; t < e->T; t++) s += e->residual_relevance[(size_t)l * e->T + t];
            fprintf(f, "  layer %2d  %.6g\n", l, s);
        }
    }
    if (e->latent_relevance) {
        fprintf(f, "most relevant MLP neurons of layer %d:\n", e->latent_layer);
        int shown[10];
        int k = e->n_latent < 10 ? e->n_latent : 10;
        for (int r = 0; r < k; r++) {
            int best = -1;
            for (int i = 0; i < e->n_latent; i++) {
                int taken = 0;
                for (int s = 0; s < r; s++) taken |= shown[s] == i;
                if (!taken && (best < 0 || fabsf(e->latent_relevance[i]) > fabsf(e->latent_relevance[best]))) best = i;
            }
            shown[r] = best;
            fprintf(f, "  neuron %6d  %.6g\n", best, e->latent_relevance[best]);
        }
    }
}

static void html_escape(FILE *f, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\n': fputs("&#9166;<br>", f); break;
        default: fputc(*s, f);
        }
    }
}

void lrp_render_html(FILE *f, const lrp_explanation *e, const lrp_render_ctx *ctx) {
    float m = max_abs(e->relevance, e->T);
    if (m == 0) m = 1;
    fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>attnlrp explanation</title>\n"
          "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
          ".t{white-space:pre-wrap;font-family:monospace;font-size:1.1em;line-height:1.8}"
          ".t span{border-radius:3px;padding:1px 0}</style></head><body>\n",
          f);
    fprintf(f, "<h1>%s</h1>\n<p>", lrp_method_name(e->method));
    if (e->latent_start[0] >= 0) {
        fprintf(f, "Start: MLP neuron %d of layer %d at position %d (activation %.6g).", e->latent_start[2],
                e->latent_start[0], e->latent_start[1], e->start_value);
    } else {
        fprintf(f, "Explaining position %d: target %d ", e->position, e->target);
        if (ctx->target_token) {
            fputs("&ldquo;", f);
            html_escape(f, ctx->target_token);
            fputs("&rdquo; ", f);
        }
        fprintf(f, "(logit %.6g, start value %.6g).", e->target_logit, e->start_value);
    }
    fputs(" Red: supports the prediction; blue: speaks against it.</p>\n<div class=\"t\">", f);
    for (int t = 0; t < e->T; t++) {
        float r = e->relevance[t] / m;
        int a = (int)(fminf(fabsf(r), 1.0f) * 200.0f);
        if (r >= 0) fprintf(f, "<span style=\"background:rgb(255,%d,%d)\"", 255 - a, 255 - a);
        else fprintf(f, "<span style=\"background:rgb(%d,%d,255)\"", 255 - a, 255 - a);
        fprintf(f, " title=\"pos %d, id %d, relevance %.6g\">", t, e->ids[t], e->relevance[t]);
        if (ctx->tokens) html_escape(f, ctx->tokens[t]);
        else fprintf(f, "[%d]", e->ids[t]);
        fputs("</span>", f);
    }
    fputs("</div>\n</body></html>\n", f);
}

// The explanation as a self-contained HTML page: the input text with each token's background coloured by
// its relevance (red supports the prediction, blue speaks against it).
#include <math.h>
#include <stdlib.h>

#include "explain/methods.h"
#include "render/render.h"
#include "render/view.h"

void lrp_html_escape(FILE *f, const char *s) {
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

// Background colour of r in [-1, 1] (clamped): red positive, blue negative, white 0.
static void bg_style(FILE *f, double r) {
    int a = (int)(fmin(fabs(r), 1.0) * 200.0);
    if (!isfinite(r)) fputs("background:rgb(128,128,128)", f);
    else if (r >= 0) fprintf(f, "background:rgb(255,%d,%d)", 255 - a, 255 - a);
    else fprintf(f, "background:rgb(%d,%d,255)", 255 - a, 255 - a);
}

// One line of units (tokens, characters merged across tokens, or words), each with its background
// coloured by its relevance / cmax and a tooltip with its tokens and value (divided by scale).
static void unit_spans(FILE *f, const lrp_units *u, const int *ids, const float *rel, double cmax, double scale,
                       int words) {
    fputs("<div class=\"t\">", f);
    for (int k = 0; k < u->n; k++) {
        fputs("<span style=\"", f);
        bg_style(f, u->relevance[k] / cmax);
        if (u->first[k] == u->last[k])
            fprintf(f, "\" title=\"pos %d, id %d, relevance %.6g\">", u->first[k], ids[u->first[k]],
                    u->relevance[k] / scale);
        else {
            fprintf(f, "\" title=\"%s tokens %d-%d, relevance %.6g (", words ? "word," : "one character,", u->first[k],
                    u->last[k], u->relevance[k] / scale);
            for (int t = u->first[k]; t <= u->last[k]; t++)
                fprintf(f, "%sid %d: %.4g", t > u->first[k] ? "; " : "", ids[t], rel[t] / scale);
            fputs(")\">", f);
        }
        lrp_html_escape(f, u->text[k]);
        fputs("</span>", f);
    }
    fputs("</div>\n", f);
}

// The colour legend: a bar from -cmax (blue) through 0 (white) to +cmax (red), in the values shown.
static void legend(FILE *f, double cmax, double scale, const char *over) {
    fprintf(f, "<div class=\"legend\"><span>%.4g</span><span class=\"bar\"></span><span>+%.4g</span> "
               "<small>colour scale: &plusmn;max|R| over %s", -cmax / scale, cmax / scale, over);
    if (scale != 1) fprintf(f, "; values divided by %.6g", scale);
    fputs("</small></div>\n", f);
}

// The conservation report: relevance_sum, start_value and their ratio.
static void conservation(FILE *f, const lrp_explanation *e) {
    fprintf(f, "<p class=\"cons\">Conservation: relevance sum %.6g, start value %.6g", e->relevance_sum,
            e->start_value);
    if (lrp_conserved_value(e) != e->start_value) fprintf(f, ", seed value %.6g", lrp_conserved_value(e));
    if (lrp_conserved_value(e) != 0) fprintf(f, ", ratio %.4g", e->relevance_sum / lrp_conserved_value(e));
    fputs(".</p>\n", f);
}

// --layers: a layer x position heatmap of the residual relevance (colour per matrix max), with the
// sum per layer and the share of the start value lost in each block.
static void layer_heatmap(FILE *f, const lrp_explanation *e, const lrp_units *u) {
    float m = 0;
    size_t n = (size_t)e->n_layers * e->T;
    for (size_t i = 0; i < n; i++)
        if (isfinite(e->residual_relevance[i]) && fabsf(e->residual_relevance[i]) > m) m = fabsf(e->residual_relevance[i]);
    if (m == 0) m = 1;
    fprintf(f, "<h2>Residual stream relevance per layer</h2>\n<p>Relevance of each block's output per position "
               "(colour: &plusmn;%.4g, the largest |value|); lost: (output &minus; input) / start value.</p>\n"
               "<table class=\"hm\" id=\"layers\"><tr><th>layer</th>", m);
    for (int k = 0; k < u->n; k++)
        for (int t = u->first[k]; t <= u->last[k]; t++) {
            fputs("<th>", f);
            if (t == u->first[k]) lrp_html_escape(f, u->text[k]);
            fputs("</th>", f);
        }
    fputs("<th>sum</th><th>lost</th></tr>\n", f);
    double prev = e->relevance_sum;
    for (int l = e->n_layers - 1; l >= 0; l--) {  // the output at the top, as relevance flows
        double s = 0, in = 0;
        for (int t = 0; t < e->T; t++) s += e->residual_relevance[(size_t)l * e->T + t];
        if (l > 0)
            for (int t = 0; t < e->T; t++) in += e->residual_relevance[(size_t)(l - 1) * e->T + t];
        else in = prev;
        fprintf(f, "<tr><th>%d</th>", l);
        for (int t = 0; t < e->T; t++) {
            float v = e->residual_relevance[(size_t)l * e->T + t];
            fputs("<td style=\"", f);
            bg_style(f, v / m);
            fprintf(f, "\" title=\"layer %d, pos %d: %.6g\"></td>", l, t, v);
        }
        fprintf(f, "<td class=\"n\">%.4g</td><td class=\"n\">", s);
        if (e->start_value != 0) fprintf(f, "%+.3f", (s - in) / e->start_value);
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

// The most likely next tokens (LMs).
static void top_table(FILE *f, const lrp_explanation *e, const lrp_render_ctx *ctx) {
    fputs("<h2>Top predictions</h2>\n<table id=\"top\"><tr><th>id</th><th>token</th><th>probability</th>"
          "<th>logit</th></tr>\n", f);
    for (int i = 0; i < e->n_top; i++) {
        fprintf(f, "<tr%s><td>%d</td><td>", e->top[i].id == e->target ? " style=\"font-weight:bold\"" : "",
                e->top[i].id);
        if (ctx->top_tokens[i]) {
            fputs("&ldquo;", f);
            lrp_html_escape(f, ctx->top_tokens[i]);
            fputs("&rdquo;", f);
        }
        fprintf(f, "</td><td>%.4f</td><td>%.4g</td></tr>\n", e->top[i].prob, e->top[i].logit);
    }
    fputs("</table>\n", f);
}

// --heads: a layer × head heatmap of head_relevance (output layer at the top), each cell with its value.
static void head_heatmap(FILE *f, const lrp_explanation *e) {
    int H = e->n_heads;
    float m = 0;
    for (int i = 0; i < e->n_layers * H; i++)
        if (isfinite(e->head_relevance[i]) && fabsf(e->head_relevance[i]) > m) m = fabsf(e->head_relevance[i]);
    if (m == 0) m = 1;
    fprintf(f, "<h2>Attention head relevance</h2>\n<p>Relevance of each head's output (its slice of the "
               "o-projection input) per layer (colour: &plusmn;%.4g, the largest |value|).</p>\n"
               "<table class=\"hm\" id=\"heads\"><tr><th>layer</th>", m);
    for (int h = 0; h < H; h++) fprintf(f, "<th>head %d</th>", h);
    fputs("</tr>\n", f);
    for (int l = e->n_layers - 1; l >= 0; l--) {
        fprintf(f, "<tr><th>%d</th>", l);
        for (int h = 0; h < H; h++) {
            float v = e->head_relevance[(size_t)l * H + h];
            fputs("<td class=\"n\" style=\"", f);
            bg_style(f, v / m);
            fprintf(f, "\" title=\"layer %d, head %d\">%.4g</td>", l, h, v);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
}

// --latent-layer: the ten neurons with the largest |relevance|.
static void latent_table(FILE *f, const lrp_explanation *e) {
    int shown[10], k = e->n_latent < 10 ? e->n_latent : 10;
    float *mag = malloc((size_t)e->n_latent * sizeof *mag);
    if (!mag) return;
    for (int i = 0; i < e->n_latent; i++) mag[i] = fabsf(e->latent_relevance[i]);
    lrp_rank_top(mag, e->n_latent, k, shown);
    float m = k ? mag[shown[0]] : 1;
    free(mag);
    if (!(m > 0)) m = 1;
    fprintf(f, "<h2>Most relevant MLP neurons of layer %d</h2>\n<table id=\"latent\"><tr><th>neuron</th>"
               "<th>relevance</th></tr>\n", e->latent_layer);
    for (int r = 0; r < k; r++) {
        float v = e->latent_relevance[shown[r]];
        fprintf(f, "<tr><td>%d</td><td style=\"", shown[r]);
        bg_style(f, v / m);
        fprintf(f, "\">%.6g</td></tr>\n", v);
    }
    fputs("</table>\n", f);
}

void lrp_render_html(FILE *f, const lrp_explanation *e, const lrp_render_ctx *ctx) {
    lrp_view v;
    if (lrp_view_build(e, ctx, &v)) return;
    fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>attnlrp explanation</title>\n"
          "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
          ".t{white-space:pre-wrap;font-family:monospace;font-size:1.1em;line-height:1.8}"
          ".t span{border-radius:3px;padding:1px 0}"
          ".legend{margin:.5em 0}.legend .bar{display:inline-block;width:12em;height:1em;vertical-align:middle;"
          "margin:0 .5em;background:linear-gradient(to right,rgb(55,55,255),#fff,rgb(255,55,55));border:1px solid #999}"
          "table{border-collapse:collapse}td,th{padding:2px 6px}.hm td{min-width:1.2em;height:1.2em;padding:0}"
          ".hm th{font-weight:normal;font-family:monospace;white-space:pre}.hm td.n{padding:0 8px;text-align:right}</style></head><body>\n",
          f);
    fprintf(f, "<h1>%s</h1>\n<p>", lrp_method_label(e->method));
    if (e->latent_start[0] >= 0) {
        fprintf(f, "Start: MLP neuron %d of layer %d at position %d (activation %.6g).", e->latent_start[2],
                e->latent_start[0], e->latent_start[1], e->start_value);
    } else {
        if (e->task == LRP_TASK_CLASSIFIER) fprintf(f, "Explaining class %d ", e->target);
        else fprintf(f, "Explaining %sposition %d: target %d ", e->decoder_ids ? "decoder " : "", e->position, e->target);
        if (ctx->target_token) {
            fputs("&ldquo;", f);
            lrp_html_escape(f, ctx->target_token);
            fputs("&rdquo; ", f);
        }
        fprintf(f, "(logit %.6g", e->target_logit);
        if (e->contrast >= 0) {
            fprintf(f, " minus the logit of foil %d ", e->contrast);
            if (ctx->contrast_token) {
                fputs("&ldquo;", f);
                lrp_html_escape(f, ctx->contrast_token);
                fputs("&rdquo; ", f);
            }
            fprintf(f, "(%.6g)", e->contrast_logit);
        }
        fprintf(f, "; explained scalar: start value %.6g).", e->start_value);
    }
    fputs(" Red: supports the prediction; blue: speaks against it.</p>\n", f);
    lrp_render_html_score(f, e, ctx);
    conservation(f, e);
    if (e->task == LRP_TASK_CLASSIFIER && e->latent_start[0] < 0) {
        // every class with its probability, the explained one in bold
        double mx = -INFINITY, z = 0;
        for (int i = 0; i < e->n_out; i++) mx = e->logits[i] > mx ? e->logits[i] : mx;
        for (int i = 0; i < e->n_out; i++) z += exp((double)e->logits[i] - mx);
        fputs("<table><tr><th>class</th><th>probability</th><th>logit</th></tr>\n", f);
        for (int i = 0; i < e->n_out; i++) {
            fprintf(f, "<tr%s><td>%d ", i == e->target ? " style=\"font-weight:bold\"" : "", i);
            if (ctx->labels && ctx->labels[i]) lrp_html_escape(f, ctx->labels[i]);
            fprintf(f, "</td><td>%.4f</td><td>%.4g</td></tr>\n", exp((double)e->logits[i] - mx) / z, e->logits[i]);
        }
        fputs("</table>\n", f);
    }
    if (!e->ids) {
        fprintf(f, "<p>Image %dx%dx%d, relevance summed over channels; CLS token %.4g.", e->channels, e->height,
                e->width, e->relevance_cls);
        if (e->gamma_conv > 0 || e->gamma_lin > 0)
            fprintf(f, " Gamma rule: %g on the patch convolution, %g on the MLP and classifier.", e->gamma_conv,
                    e->gamma_lin);
        fputs("</p>\n", f);
        if (ctx->image_png_base64)
            fprintf(f, "<img alt=\"relevance heatmap\" src=\"data:image/png;base64,%s\">\n", ctx->image_png_base64);
        fputs("</body></html>\n", f);
        lrp_view_free(&v);
        return;
    }
    legend(f, v.color_max, v.scale, v.words ? "words" : "tokens");
    if (e->decoder_ids) {  // encoder-decoders: the source, then the target prefix, on one colour scale
        fputs("<h2>Source</h2>\n", f);
        unit_spans(f, &v.src, e->ids, e->relevance, v.color_max, v.scale, v.words);
        fputs("<h2>Target prefix (decoder input, start token first)</h2>\n", f);
        unit_spans(f, &v.dec, e->decoder_ids, e->decoder_relevance, v.color_max, v.scale, v.words);
    } else {
        unit_spans(f, &v.src, e->ids, e->relevance, v.color_max, v.scale, v.words);
    }
    if (e->task != LRP_TASK_CLASSIFIER && e->latent_start[0] < 0) top_table(f, e, ctx);
    if (e->residual_relevance) layer_heatmap(f, e, &v.src);
    if (e->latent_relevance) latent_table(f, e);
    if (e->head_relevance) head_heatmap(f, e);
    if (e->expert_relevance) {
        fputs("<h2>Router relevance</h2>\n<p>Per layer: the relevance that reaches the routing weights (sum over "
              "experts) and the experts that receive most of it.</p>\n"
              "<table><tr><th>layer</th><th>sum</th><th>most relevant experts</th></tr>\n", f);
        for (int l = 0; l < e->n_layers; l++) {
            int idx[LRP_TOP_EXPERTS];
            double total;
            int k = lrp_top_experts(e, l, idx, &total);
            fprintf(f, "<tr><td>%d</td><td>%.6g</td><td>", l, total);
            for (int r = 0; r < k; r++)
                fprintf(f, "%sexpert %d: %.4g", r ? ", " : "", idx[r],
                        e->expert_relevance[(size_t)l * e->n_experts + idx[r]]);
            fputs("</td></tr>\n", f);
        }
        fputs("</table>\n", f);
    }
    fputs("</body></html>\n", f);
    lrp_view_free(&v);
}

void lrp_render_generation_html(FILE *f, const char *method, char *const *token_bytes, int n_prompt, int n_gen,
                                const float *matrix) {
    int n_all = n_prompt + n_gen, cols = n_all - 1;
    lrp_units u;
    if (lrp_units_build(token_bytes, n_all, NULL, NULL, &u)) return;
    fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>attnlrp generation</title>\n"
          "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
          ".hm td{min-width:1.2em;height:1.2em;padding:0;border:1px solid #fff}"
          ".hm th{font-weight:normal;font-family:monospace;white-space:pre;padding:0 3px}"
          ".hm thead th{writing-mode:vertical-rl;transform:rotate(180deg);text-align:left}"
          ".legend .bar{display:inline-block;width:12em;height:1em;vertical-align:middle;margin:0 .5em;"
          "background:linear-gradient(to right,rgb(55,55,255),#fff,rgb(255,55,55));border:1px solid #999}"
          "</style></head><body>\n<h1>Generation, explained token by token</h1>\n",
          f);
    fputs("<p>Method ", f);
    lrp_html_escape(f, method);
    fprintf(f, ". %d prompt tokens, %d generated. Row g: the relevance of every earlier token for generated token "
               "g (its logit explained), coloured by the row's own largest |value|; grey: after the token.</p>\n",
            n_prompt, n_gen);
    fputs("<div class=\"legend\">&minus;max<span class=\"bar\"></span>+max <small>per row</small></div>\n", f);
    // the text, prompt then generated
    fputs("<p style=\"font-family:monospace;white-space:pre-wrap\">", f);
    int bold = 0;  // the generated text in bold
    for (int j = 0; j < u.n; j++) {
        if (!bold && u.last[j] >= n_prompt) bold = fputs("<b>", f) >= 0;
        lrp_html_escape(f, u.text[j]);
    }
    if (bold) fputs("</b>", f);
    fputs("</p>\n<table class=\"hm\" id=\"matrix\"><thead><tr><th></th>", f);
    int k = 0;
    for (int t = 0; t < cols; t++) {
        while (k + 1 < u.n && u.first[k + 1] <= t) k++;
        fputs("<th>", f);
        if (t == u.first[k]) lrp_html_escape(f, u.text[k]);
        fputs("</th>", f);
    }
    fputs("</tr></thead>\n", f);
    for (int g = 0; g < n_gen; g++) {
        const float *row = matrix + (size_t)g * cols;
        double m = 0;
        for (int t = 0; t < cols; t++)
            if (isfinite(row[t]) && fabs(row[t]) > m) m = fabs(row[t]);
        if (m == 0) m = 1;
        int t_out = n_prompt + g;  // the generated token of this row
        for (k = 0; k + 1 < u.n && u.first[k + 1] <= t_out; k++) {}
        fputs("<tr><th>", f);
        lrp_html_escape(f, u.text[k]);
        fputs("</th>", f);
        for (int t = 0; t < cols; t++) {
            if (isnan(row[t])) {
                fputs("<td style=\"background:#e6e6e6\"></td>", f);
                continue;
            }
            fputs("<td style=\"", f);
            bg_style(f, row[t] / m);
            fprintf(f, "\" title=\"step %d, pos %d: %.6g\"></td>", g, t, row[t]);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n</body></html>\n", f);
    lrp_units_free(&u);
}

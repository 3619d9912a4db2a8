// The explanation as a self-contained HTML page: the input text with each token's background coloured by
// its relevance (red supports the prediction, blue speaks against it).
#include <math.h>

#include "explain/methods.h"
#include "render/render.h"

static float max_abs(const float *v, int n) {
    float m = 0;
    for (int i = 0; i < n; i++) m = fabsf(v[i]) > m ? fabsf(v[i]) : m;
    return m;
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

// One line of tokens, each with its background coloured by rel[t] / m.
static void token_spans(FILE *f, const int *ids, int T, char **tokens, const float *rel, float m) {
    fputs("<div class=\"t\">", f);
    for (int t = 0; t < T; t++) {
        float r = rel[t] / m;
        int a = (int)(fminf(fabsf(r), 1.0f) * 200.0f);
        if (r >= 0) fprintf(f, "<span style=\"background:rgb(255,%d,%d)\"", 255 - a, 255 - a);
        else fprintf(f, "<span style=\"background:rgb(%d,%d,255)\"", 255 - a, 255 - a);
        fprintf(f, " title=\"pos %d, id %d, relevance %.6g\">", t, ids[t], rel[t]);
        if (tokens) html_escape(f, tokens[t]);
        else fprintf(f, "[%d]", ids[t]);
        fputs("</span>", f);
    }
    fputs("</div>\n", f);
}

void lrp_render_html(FILE *f, const lrp_explanation *e, const lrp_render_ctx *ctx) {
    float m = max_abs(e->relevance, e->n_relevance);
    if (e->decoder_relevance && max_abs(e->decoder_relevance, e->decoder_T) > m)
        m = max_abs(e->decoder_relevance, e->decoder_T);
    if (m == 0) m = 1;
    fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>attnlrp explanation</title>\n"
          "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
          ".t{white-space:pre-wrap;font-family:monospace;font-size:1.1em;line-height:1.8}"
          ".t span{border-radius:3px;padding:1px 0}</style></head><body>\n",
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
            html_escape(f, ctx->target_token);
            fputs("&rdquo; ", f);
        }
        fprintf(f, "(logit %.6g, start value %.6g).", e->target_logit, e->start_value);
    }
    fputs(" Red: supports the prediction; blue: speaks against it.</p>\n", f);
    lrp_render_html_score(f, e, ctx);
    if (e->task == LRP_TASK_CLASSIFIER && e->latent_start[0] < 0) {
        // every class with its probability, the explained one in bold
        double mx = -INFINITY, z = 0;
        for (int i = 0; i < e->n_out; i++) mx = e->logits[i] > mx ? e->logits[i] : mx;
        for (int i = 0; i < e->n_out; i++) z += exp((double)e->logits[i] - mx);
        fputs("<table><tr><th>class</th><th>probability</th><th>logit</th></tr>\n", f);
        for (int i = 0; i < e->n_out; i++) {
            fprintf(f, "<tr%s><td>%d ", i == e->target ? " style=\"font-weight:bold\"" : "", i);
            if (ctx->labels && ctx->labels[i]) html_escape(f, ctx->labels[i]);
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
        return;
    }
    if (e->decoder_ids) {  // encoder-decoders: the source, then the target prefix, on one colour scale
        fputs("<h2>Source</h2>\n", f);
        token_spans(f, e->ids, e->T, ctx->tokens, e->relevance, m);
        fputs("<h2>Target prefix (decoder input, start token first)</h2>\n", f);
        token_spans(f, e->decoder_ids, e->decoder_T, ctx->decoder_tokens, e->decoder_relevance, m);
    } else {
        token_spans(f, e->ids, e->T, ctx->tokens, e->relevance, m);
    }
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
}

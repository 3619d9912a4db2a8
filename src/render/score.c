// What is explained, in words and numbers: the start scalar's formula (score kind, contrast, answer),
// the per-token scores of an answer, the chat layout. Shared by the JSON, text and HTML renderers.
#include <stdio.h>
#include <string.h>

#include "render/render.h"

double lrp_conserved_value(const lrp_explanation *e) {
    return e->latent_start[0] < 0 && e->score != LRP_SCORE_LOGIT ? e->seed_value : e->start_value;
}

void lrp_explained_formula(const lrp_explanation *e, char *buf, size_t cap) {
    const char *s = lrp_score_name(e->score);
    if (e->latent_start[0] >= 0)
        snprintf(buf, cap, "activation(layer %d, position %d, neuron %d)", e->latent_start[0], e->latent_start[1],
                 e->latent_start[2]);
    else if (e->n_answer > 0)
        snprintf(buf, cap, "sum_j %s(answer[j])", s);
    else if (e->contrast >= 0)
        snprintf(buf, cap, "%s(target) - %s(contrast)", s, s);
    else
        snprintf(buf, cap, "%s(target)", s);
}

void lrp_render_json_score(FILE *f, const lrp_explanation *e, const lrp_render_ctx *ctx) {
    char formula[128];
    lrp_explained_formula(e, formula, sizeof formula);
    fputs(", \"explained\": ", f);
    lrp_json_string(f, formula);
    if (e->latent_start[0] >= 0) return;
    fputs(", \"score\": ", f);
    lrp_json_string(f, lrp_score_name(e->score));
    fputs(", \"target_score\": ", f);
    lrp_json_number(f, e->target_score);
    if (e->contrast >= 0) {
        if (ctx->contrast_token) {
            fputs(", \"contrast_token\": ", f);
            lrp_json_string(f, ctx->contrast_token);
        }
        fputs(", \"contrast_score\": ", f);
        lrp_json_number(f, e->contrast_score);
    }
    fputs(", \"seed_value\": ", f);
    lrp_json_number(f, e->seed_value);
    if (e->n_answer > 0) {
        fputs(", \"answer_ids\": ", f);
        lrp_json_int_array(f, e->answer_ids, e->n_answer);
        if (ctx->answer_tokens) {
            fputs(", \"answer_tokens\": [", f);
            for (int j = 0; j < e->n_answer; j++) {
                if (j) fputs(", ", f);
                lrp_json_string(f, ctx->answer_tokens[j] ? ctx->answer_tokens[j] : "");
            }
            fputc(']', f);
        }
        fputs(", \"answer_positions\": ", f);
        lrp_json_int_array(f, e->answer_positions, e->n_answer);
        fputs(", \"answer_logits\": ", f);
        lrp_json_float_array(f, e->answer_logits, e->n_answer);
        fputs(", \"answer_scores\": [", f);
        for (int j = 0; j < e->n_answer; j++) {
            if (j) fputs(", ", f);
            lrp_json_number(f, e->answer_scores[j]);
        }
        fputc(']', f);
    }
    if (ctx->chat_family) {
        fputs(", \"chat_template\": ", f);
        lrp_json_string(f, ctx->chat_family);
    }
    if (ctx->chat_prompt) {
        fputs(", \"prompt\": ", f);
        lrp_json_string(f, ctx->chat_prompt);
    }
}

// Control characters made visible (newline as \n).
static void put_visible(FILE *f, const char *s, int html) {
    for (; s && *s; s++) {
        if (*s == '\n') fputs("\\n", f);
        else if (*s == '\t') fputs("\\t", f);
        else if ((unsigned char)*s < 0x20) fprintf(f, "\\x%02x", (unsigned char)*s);
        else if (html && *s == '<') fputs("&lt;", f);
        else if (html && *s == '>') fputs("&gt;", f);
        else if (html && *s == '&') fputs("&amp;", f);
        else if (html && *s == '"') fputs("&quot;", f);
        else fputc(*s, f);
    }
}

static void score_line(FILE *f, const lrp_explanation *e, const lrp_render_ctx *ctx, int html) {
    char formula[128];
    lrp_explained_formula(e, formula, sizeof formula);
    fprintf(f, "explained: %s = %.6g", formula, e->start_value);
    if (e->contrast >= 0 && e->latent_start[0] < 0) {
        fputs(html ? " (contrast &ldquo;" : " (contrast \"", f);
        put_visible(f, ctx->contrast_token ? ctx->contrast_token : "", html);
        fprintf(f, html ? "&rdquo; %d)" : "\" %d)", e->contrast);
    }
    if (e->n_answer > 0) {
        fprintf(f, html ? "; answer tokens (&ldquo;token&rdquo;@position: %s):" : "\nanswer tokens (\"token\"@position: %s):",
                lrp_score_name(e->score));
        for (int j = 0; j < e->n_answer; j++) {
            fputs(html ? " &ldquo;" : " \"", f);
            put_visible(f, ctx->answer_tokens && ctx->answer_tokens[j] ? ctx->answer_tokens[j] : "", html);
            fprintf(f, html ? "&rdquo;@%d: %.6g" : "\"@%d: %.6g", e->answer_positions[j], e->answer_scores[j]);
        }
    }
    if (ctx->chat_family) fprintf(f, html ? "; chat template: %s" : "\nchat template: %s", ctx->chat_family);
}

void lrp_render_text_score(FILE *f, const lrp_explanation *e, const lrp_render_ctx *ctx) {
    score_line(f, e, ctx, 0);
    fputc('\n', f);
}

void lrp_render_html_score(FILE *f, const lrp_explanation *e, const lrp_render_ctx *ctx) {
    fputs("<p>", f);
    score_line(f, e, ctx, 1);
    fputs(".</p>\n", f);
}

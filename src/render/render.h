// Presenting results: an explanation as JSON (SPEC §8, json.c), plain text for people (coloured on a
// terminal, text.c) or HTML (html.c); an evaluation report as a table, JSON or an SVG plot (eval.c).
#ifndef LRP_RENDER_H
#define LRP_RENDER_H

#include <jansson.h>
#include <stdio.h>

#include "evaluate/runner.h"
#include "explain/explain.h"

typedef struct lrp_render_ctx {
    const char *family;            // the config's model_type
    char **tokens;                 // [T] display strings of the input tokens, or NULL (no tokenizer)
    char *target_token;            // display string of the target, or NULL
    char *top_tokens[LRP_TOP_K];   // display strings of the top predictions, or NULL
    int all_logits;                // include every logit at the explained position
    const char *image_png_base64;  // images (HTML): the heatmap PNG, base64, or NULL
    char *const *labels;           // classifiers: [n_out] class names, or NULL
    char **decoder_tokens;         // encoder-decoders: [decoder_T] display strings of the decoder's input, or NULL
    // Views (README "Output views"): words or tokens, the scale of the values shown.
    int aggregate;                 // LRP_AGGREGATE_TOKEN (default) or LRP_AGGREGATE_WORD
    int normalize;                 // LRP_NORMALIZE_NONE (default), _MAX or _SUM
    const unsigned char *word_start;          // [T] 1 where a word starts (lrp_tokenizer_word_starts), or NULL
    const unsigned char *decoder_word_start;  // [decoder_T], or NULL
    char *contrast_token;          // display string of the contrast (foil), or NULL
    char **token_bytes;            // [T] the bytes each token decodes to (lrp_tokenizer_token_bytes), or NULL:
    char **decoder_token_bytes;    // merged across tokens into whole characters for display (render/units.h)
    char **answer_tokens;          // [n_answer] display strings of an answer's tokens, or NULL
    const char *chat_family;       // --chat: the chat template's family (inputs/chat.h), or NULL
    const char *chat_prompt;       // --chat: the prompt the template wrote, or NULL
} lrp_render_ctx;

enum { LRP_AGGREGATE_TOKEN, LRP_AGGREGATE_WORD };
enum { LRP_NORMALIZE_NONE, LRP_NORMALIZE_MAX, LRP_NORMALIZE_SUM };

// The scale the values shown are divided by: 1 (none), max|v| (max) or sum |v| (sum) over v[0..n), and
// w[0..m) when w is not NULL (encoder-decoders: both rows on one scale); 1 when that is 0.
double lrp_normalize_scale(int normalize, const double *v, int n, const double *w, int m);
const char *lrp_normalize_name(int normalize);   // "none", "max", "sum"

// The conservation report (SPEC §8 `conservation`): relevance_sum / start_value, and with --layers per
// layer the relevance sum at the block's input and output and the share of start_value lost in it.
void lrp_render_json_conservation(FILE *f, const lrp_explanation *e);
// What conservation is measured against: start_value, or for logprob/prob scores the seed_value (the
// value that enters the network at the logits; log-softmax is not linear in them).
double lrp_conserved_value(const lrp_explanation *e);

void lrp_render_json(FILE *f, const lrp_explanation *e, const lrp_render_ctx *ctx);
// The baseline methods' parameters and cost, the softmax rule and the count of non-finite relevance
// values, as ", key: value" pairs (inside an object).
void lrp_render_json_method_params(FILE *f, const lrp_explanation *e);
void lrp_render_text(FILE *f, const lrp_explanation *e, const lrp_render_ctx *ctx, int color);
// s as HTML text: <, >, & and " escaped, a newline shown as ⏎ and a line break.
void lrp_html_escape(FILE *f, const char *s);
void lrp_render_html(FILE *f, const lrp_explanation *e, const lrp_render_ctx *ctx);

// What is explained (score.c): the start scalar's formula, e.g. "logit(target)", "logprob(target) -
// logprob(contrast)", "sum_j logprob(answer[j])" (JSON field `explained`), into buf.
void lrp_explained_formula(const lrp_explanation *e, char *buf, size_t cap);
// The score, contrast, answer and chat fields as ", key: value" pairs (inside the JSON object).
void lrp_render_json_score(FILE *f, const lrp_explanation *e, const lrp_render_ctx *ctx);
// One line (text) or paragraph (HTML) naming the explained scalar, its value and the answer's tokens.
void lrp_render_text_score(FILE *f, const lrp_explanation *e, const lrp_render_ctx *ctx);
void lrp_render_html_score(FILE *f, const lrp_explanation *e, const lrp_render_ctx *ctx);

// MoE: the experts of layer l with the largest |expert_relevance| (at most LRP_TOP_EXPERTS, ties to the
// lower index) into idx, most relevant first; returns how many, and their sum over all experts in *total.
#define LRP_TOP_EXPERTS 3
int lrp_top_experts(const lrp_explanation *e, int l, int *idx, double *total);

// JSON building blocks (also used by other commands).
void lrp_json_string(FILE *f, const char *s);      // quoted, escaped; invalid UTF-8 bytes become U+FFFD
void lrp_json_number(FILE *f, double v);           // shortest round-trip for floats; NaN/inf -> null
void lrp_json_float_array(FILE *f, const float *v, int n);
void lrp_json_int_array(FILE *f, const int *v, int n);

// jansson values for the JSON that commands build: text with invalid UTF-8 bytes as U+FFFD, numbers
// with NaN/inf as null, arrays. Each returns a new reference (NULL only when out of memory).
json_t *lrp_jv_text(const char *s);
json_t *lrp_jv_number(double v);
json_t *lrp_jv_int_array(const int *v, int n);
json_t *lrp_jv_float_array(const float *v, int n);
json_t *lrp_jv_double_array(const double *v, int n);
// Writes v and a newline, then releases v. float_precision: write reals with 9 significant digits (every
// value is a float), else 17. Returns 0, or -1 when v is NULL (out of memory) or the write fails.
int lrp_jv_dump(FILE *f, json_t *v, int float_precision);

// generate --explain as a token x token heatmap page: matrix [n_gen][n_prompt + n_gen - 1], row g the
// relevance of every earlier token for generated token g (NaN after it); token_bytes [n_prompt + n_gen]
// (lrp_tokenizer_token_bytes; merged into whole characters for display).
void lrp_render_generation_html(FILE *f, const char *method, char *const *token_bytes, int n_prompt, int n_gen,
                                const float *matrix);

// ---- an evaluation report ----

typedef struct lrp_eval_render_ctx {
    const char *model_path, *family, *data_path, *span_field;
    unsigned long long seed;
    char **target_names;           // [report->n_records] display strings of each record's target, or NULL
    // JSON only (NULL sha256: left out): what shards of one run share and which shard this is, for
    // attnlrp merge: the records' SHA-256, shard K of N, the data's record count before sharding, and
    // the options the numbers depend on (a compact JSON object).
    const char *sha256;
    int shard_k, shard_n, records_in_data;
    const char *options;
    const char *nonfinite_tensor;  // the model's first weight holding NaN/inf (ATTNLRP_NONFINITE=warn), or NULL
    long long nonfinite_index, nonfinite_count;  // its first such element; the model's count in all
} lrp_eval_render_ctx;

// A table of the per-method means (ΔA with its 95% CI, paired differences against the first method).
void lrp_render_eval_text(FILE *f, const lrp_eval_report *r, const lrp_eval_render_ctx *ctx);
// Every number, per record and the mean curves; returns 0, or -1 when out of memory or the write fails.
int lrp_render_eval_json(FILE *f, const lrp_eval_report *r, const lrp_eval_render_ctx *ctx);
// One record of the report as the JSON above holds it ("records"[i]); evaluate/runner.h reads it back
// (lrp_eval_record_from_json) exactly. target_name: its "target_token", or NULL for none.
json_t *lrp_render_eval_record_json(const lrp_eval_report *r, int i, const char *target_name);
// Mean MoRF (solid) and LeRF (dashed) curves per method, as SVG.
void lrp_render_eval_plot(FILE *f, const lrp_eval_report *r, const lrp_eval_render_ctx *ctx);

#endif

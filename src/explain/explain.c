#include "explain/explain.h"
#include "explain/memory.h"

#include "explain/baselines.h"
#include "explain/methods.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void lrp_explain_opts_default(lrp_explain_opts *o) {
    memset(o, 0, sizeof *o);
    o->method = LRP_METHOD_ATTNLRP;
    o->target = -1;
    o->position = -1;
    o->contrast = -1;
    o->latent_start[0] = -1;
    o->latent_layer = -1;
    o->latent_expert = -1;
    o->noise = -1;
    o->atman_factor = -1;
    o->atman_threshold = -1;
}

const char *lrp_score_name(int score) {
    static const char *const names[] = {"logit", "logprob", "prob"};
    return score >= 0 && score < LRP_SCORE_COUNT ? names[score] : "?";
}

int lrp_score_lookup(const char *name) {
    for (int k = 0; k < LRP_SCORE_COUNT; k++)
        if (!strcmp(name, lrp_score_name(k))) return k;
    return -1;
}

static int name_index(const char *const *names, int n, const char *name) {
    for (int k = 0; k < n; k++)
        if (!strcmp(name, names[k])) return k;
    return -1;
}

static const char *const softmax_rule_names[] = {"exact", "identity", "distribute-bias"};
static const char *const quadrature_names[] = {"midpoint", "gauss-legendre"};

const char *lrp_softmax_rule_name(int rule) {
    return rule >= 0 && rule < LRP_SOFTMAX_COUNT ? softmax_rule_names[rule] : "?";
}

int lrp_softmax_rule_lookup(const char *name) { return name_index(softmax_rule_names, LRP_SOFTMAX_COUNT, name); }

const char *lrp_quadrature_name(int quadrature) { return quadrature >= 0 && quadrature < 2 ? quadrature_names[quadrature] : "?"; }

int lrp_quadrature_lookup(const char *name) { return name_index(quadrature_names, 2, name); }

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int lrp_check_ids(const lrp_model *m, const int *ids, int T, lrp_err *err) {
    if (T <= 0) return lrp_fail(err, "ids: no input tokens");
    for (int t = 0; t < T; t++)
        if (ids[t] < 0 || ids[t] >= m->cfg.vocab_size)
            return lrp_fail(err, "ids: id %d at index %d is out of range (vocabulary size %d)", ids[t], t,
                            m->cfg.vocab_size);
    return 0;
}

// The sequence the model runs over: the tokens, or an image's patches and its CLS token.
static int sequence_length(const lrp_model *m, const lrp_inputs *in) {
    const lrp_config *c = &m->cfg;
    if (c->image_size <= 0) return in->T;
    int side = c->image_size / c->patch_size;
    return side * side + 1;
}

// Encoder-decoders: the decoder's ids, which only encoder-decoders take.
static int check_decoder_ids(const lrp_model *m, const lrp_inputs *in, lrp_err *err) {
    const lrp_config *c = &m->cfg;
    if (!in->decoder_ids) return 0;
    if (c->task != LRP_TASK_SEQ2SEQ_LM)
        return lrp_fail(err, "decoder_ids: %s is not an encoder-decoder (only T5-style models have a decoder input)",
                        c->model_type);
    if (in->decoder_T <= 0) return lrp_fail(err, "decoder_ids: no decoder tokens (the start token comes first)");
    for (int t = 0; t < in->decoder_T; t++)
        if (in->decoder_ids[t] < 0 || in->decoder_ids[t] >= c->vocab_size)
            return lrp_fail(err, "decoder_ids: id %d at index %d is out of range (vocabulary size %d)",
                            in->decoder_ids[t], t, c->vocab_size);
    return 0;
}

// The positions a language model's output can be read at: the decoder's for encoder-decoders.
static int output_length(const lrp_model *m, const lrp_inputs *in) {
    return m->cfg.task == LRP_TASK_SEQ2SEQ_LM ? in->decoder_T : sequence_length(m, in);
}

// The rows of layer l's block output and MLP intermediate (encoder-decoders: the stack's length).
static int layer_rows(const lrp_model *m, const lrp_inputs *in, int l) {
    return l >= m->cfg.num_encoder_layers ? output_length(m, in) : sequence_length(m, in);
}

// An encoder-decoder given no decoder input reads its start token alone; *in is rewritten to point at
// `start` then.
static void default_decoder(const lrp_model *m, lrp_inputs *in, int *start) {
    if (m->cfg.task != LRP_TASK_SEQ2SEQ_LM || in->decoder_ids) return;
    *start = m->cfg.decoder_start_token_id;
    in->decoder_ids = start;
    in->decoder_T = 1;
}

int lrp_check_inputs(const lrp_model *m, const lrp_inputs *in, lrp_err *err) {
    const lrp_config *c = &m->cfg;
    if (check_decoder_ids(m, in, err)) return -1;
    if (c->image_size > 0) {
        if (!in->pixels) return lrp_fail(err, "pixels: %s takes an image, not token ids", c->model_type);
        if (in->channels != c->num_channels || in->height != c->image_size || in->width != c->image_size)
            return lrp_fail(err, "pixels: the model takes [%d, %d, %d] images (channels, height, width), got [%d, %d, %d]",
                            c->num_channels, c->image_size, c->image_size, in->channels, in->height, in->width);
        size_t n = (size_t)in->channels * in->height * in->width;
        for (size_t i = 0; i < n; i++)
            if (!isfinite(in->pixels[i])) return lrp_fail(err, "pixels: value %zu is not finite", i);
        return 0;
    }
    if (in->pixels) return lrp_fail(err, "pixels: %s reads text, not images", c->model_type);
    if (lrp_check_ids(m, in->ids, in->T, err)) return -1;
    // Past its context a model computes positions it was never trained on (RoPE) or has no embedding for
    // (learned positions): refused, never explained silently (generate refuses the same way).
    if (c->max_position_embeddings > 0 && in->T > c->max_position_embeddings)
        return lrp_fail(err, "input: %d tokens exceed the model's context of %d positions (max_position_embeddings)",
                        in->T, c->max_position_embeddings);
    if (in->token_types) {
        if (c->type_vocab_size <= 0)
            return lrp_fail(err, "token_types: %s has no token types (no text pairs)", c->model_type);
        for (int t = 0; t < in->T; t++)
            if (in->token_types[t] < 0 || in->token_types[t] >= c->type_vocab_size)
                return lrp_fail(err, "token_types: type %d at index %d is out of range (0..%d)", in->token_types[t], t,
                                c->type_vocab_size - 1);
    }
    if (in->attention_mask) {
        int real = 0;
        for (int t = 0; t < in->T; t++) {
            if (in->attention_mask[t] > 1)
                return lrp_fail(err, "attention_mask: value %d at index %d (expected 0 or 1)", in->attention_mask[t], t);
            real += in->attention_mask[t];
        }
        if (!real) return lrp_fail(err, "attention_mask: every token is padding");
    }
    return 0;
}

// The last position that is not padding.
static int last_real(const lrp_inputs *in) {
    int p = in->T - 1;
    while (in->attention_mask && p > 0 && !in->attention_mask[p]) p--;
    return p;
}

// An answer-level target: a causal LM or an encoder-decoder, nothing else chosen at the output, and the
// input (the decoder's) ending with the answer's tokens but its last.
static int check_answer(const lrp_model *m, const lrp_inputs *in, const lrp_explain_opts *o, lrp_err *err) {
    const lrp_config *c = &m->cfg;
    int k = o->n_answer, seq2seq = c->task == LRP_TASK_SEQ2SEQ_LM;
    if (c->task != LRP_TASK_CAUSAL_LM && !seq2seq)
        return lrp_fail(err, "answer: a %s has no answer to force (causal LMs and encoder-decoders only)",
                        lrp_task_name(c->task));
    if (!o->answer) return lrp_fail(err, "answer: no answer ids");
    if (o->latent_start[0] != -1) return lrp_fail(err, "answer: cannot be combined with latent_start (a neuron start)");
    if (o->position != -1) return lrp_fail(err, "answer: cannot be combined with position (the answer sets the rows)");
    if (o->target != -1) return lrp_fail(err, "answer: cannot be combined with target (the answer is the target)");
    if (o->contrast != -1) return lrp_fail(err, "answer: cannot be combined with contrast");
    if (in->attention_mask) return lrp_fail(err, "answer: cannot be combined with attention_mask");
    const int *ids = seq2seq ? in->decoder_ids : in->ids;
    int L = seq2seq ? in->decoder_T : in->T;
    if (L < k) return lrp_fail(err, "answer: %d answer tokens need an input of at least %d tokens, got %d", k, k, L);
    for (int j = 0; j < k; j++) {
        if (o->answer[j] < 0 || o->answer[j] >= lrp_model_n_outputs(m))
            return lrp_fail(err, "answer: id %d at index %d is out of range (vocabulary size %d)", o->answer[j], j,
                            lrp_model_n_outputs(m));
        if (j < k - 1 && ids[L - k + 1 + j] != o->answer[j])
            return lrp_fail(err, "answer: the %s does not end with the answer's tokens but its last (index %d is %d, "
                            "answer token %d is %d)", seq2seq ? "decoder input" : "input", L - k + 1 + j,
                            ids[L - k + 1 + j], j, o->answer[j]);
    }
    return 0;
}

static int check_opts(const lrp_model *m, const lrp_inputs *in, const lrp_explain_opts *o, int position,
                      lrp_err *err) {
    const lrp_config *c = &m->cfg;
    int T = output_length(m, in), n_out = lrp_model_n_outputs(m);
    const char *what = c->task == LRP_TASK_CLASSIFIER ? "classes" : "vocabulary size";
    if ((unsigned)o->method >= LRP_METHOD_COUNT) return lrp_fail(err, "method: unknown method");
    if (c->task == LRP_TASK_CLASSIFIER) {
        if (o->position != -1)
            return lrp_fail(err, "position %d: a classifier explains the whole input, not a position", o->position);
    } else if (c->task == LRP_TASK_MASKED_LM && o->position == -1) {
        return lrp_fail(err, "position: a masked LM needs the position to explain (the [MASK] token)");
    } else if (position < 0 || position >= T) {
        return lrp_fail(err, "position %d: out of range for %d tokens (0..%d)", o->position, T, T - 1);
    }
    if (o->target >= n_out || o->target < -1)
        return lrp_fail(err, "target %d: out of range (%s %d)", o->target, what, n_out);
    if (o->contrast >= n_out || o->contrast < -1)
        return lrp_fail(err, "contrast %d: out of range (%s %d)", o->contrast, what, n_out);
    if (o->latent_start[0] != -1) {
        const int *ls = o->latent_start;
        if (ls[0] < 0 || ls[0] >= c->num_layers)
            return lrp_fail(err, "latent_start %d,%d,%d: layer %d out of range (0..%d)", ls[0], ls[1], ls[2], ls[0],
                            c->num_layers - 1);
        int rows = layer_rows(m, in, ls[0]);
        if (ls[1] < 0 || ls[1] >= rows)
            return lrp_fail(err, "latent_start %d,%d,%d: position %d out of range (0..%d)", ls[0], ls[1], ls[2], ls[1],
                            rows - 1);
        if (ls[2] < 0 || ls[2] >= c->intermediate_size)
            return lrp_fail(err, "latent_start %d,%d,%d: neuron %d out of range (0..%d)", ls[0], ls[1], ls[2], ls[2],
                            c->intermediate_size - 1);
        if (o->contrast != -1) return lrp_fail(err, "contrast: cannot be combined with latent_start");
    }
    if (o->gamma_conv < 0 || o->gamma_lin < 0 || !isfinite(o->gamma_conv) || !isfinite(o->gamma_lin))
        return lrp_fail(err, "gamma %g,%g: must not be negative", o->gamma_conv, o->gamma_lin);
    if ((o->gamma_conv > 0 || o->gamma_lin > 0) && c->image_size <= 0)
        return lrp_fail(err, "gamma: the gamma rule is for Vision Transformers; %s is a text model", c->model_type);
    if ((o->gamma_conv > 0 || o->gamma_lin > 0) && o->method != LRP_METHOD_ATTNLRP && o->method != LRP_METHOD_CPLRP)
        return lrp_fail(err, "gamma: only with the LRP methods (attnlrp, cplrp), not %s", lrp_method_label(o->method));
    if (o->latent_expert != -1 && c->num_experts <= 0)
        return lrp_fail(err, "latent_expert %d: %s has no experts (not a mixture-of-experts model)", o->latent_expert,
                        c->model_type);
    if (o->latent_expert != -1 && (o->latent_expert < 0 || o->latent_expert >= c->num_experts))
        return lrp_fail(err, "latent_expert %d: out of range (0..%d)", o->latent_expert, c->num_experts - 1);
    if (o->latent_layer != -1 && (o->latent_layer < 0 || o->latent_layer >= c->num_layers))
        return lrp_fail(err, "latent_layer %d: out of range (0..%d)", o->latent_layer, c->num_layers - 1);
    if (o->score < 0 || o->score >= LRP_SCORE_COUNT)
        return lrp_fail(err, "score %d: unknown (logit, logprob, prob)", o->score);
    if (o->score != LRP_SCORE_LOGIT && o->latent_start[0] != -1)
        return lrp_fail(err, "score %s: a latent start is a neuron's activation, not an output score",
                        lrp_score_name(o->score));
    if (o->n_answer > 0 && check_answer(m, in, o, err)) return -1;
    if (o->softmax_rule < 0 || o->softmax_rule >= LRP_SOFTMAX_COUNT)
        return lrp_fail(err, "softmax_rule %d: unknown (exact, identity, distribute-bias)", o->softmax_rule);
    if (o->softmax_rule != LRP_SOFTMAX_EXACT && o->method != LRP_METHOD_ATTNLRP)
        return lrp_fail(err, "softmax_rule: the softmax ablations are for attnlrp, not %s", lrp_method_label(o->method));
    if (o->n_head_iv < 0 || (o->n_head_iv > 0 && !o->head_iv)) return lrp_fail(err, "head_iv: no interventions");
    return lrp_check_interventions(m, o->iv, o->n_iv, err) || lrp_check_head_interventions(m, o->head_iv, o->n_head_iv, err)
               ? -1 : 0;
}

// v[a] ranks before v[b]: larger first, NaN last (equal values keep their index order).
static int ranks_before(const float *v, int a, int b) {
    if (isnan(v[a])) return 0;
    return isnan(v[b]) || v[a] > v[b];
}

void lrp_rank_top(const float *v, int n, int k, int *idx) {
    // Insertion into the sorted top k: O(n) for the common case, O(n·k) at worst; k may be a
    // `neurons --top` of thousands, n a vocabulary or every neuron of a model.
    int m = 0;
    for (int i = 0; i < n && k > 0; i++) {
        if (m == k && !ranks_before(v, i, idx[k - 1])) continue;
        int j = m < k ? m++ : k - 1;
        while (j > 0 && ranks_before(v, i, idx[j - 1])) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = i;
    }
}

static void fill_top(lrp_explanation *e) {
    int V = e->n_out;
    float mx = -INFINITY;
    for (int i = 0; i < V; i++) mx = e->logits[i] > mx ? e->logits[i] : mx;
    double z = 0;
    for (int i = 0; i < V; i++) z += exp((double)e->logits[i] - mx);
    int k = V < LRP_TOP_K ? V : LRP_TOP_K, idx[LRP_TOP_K];
    lrp_rank_top(e->logits, V, k, idx);
    for (int r = 0; r < k; r++) {
        e->top[r].id = idx[r];
        e->top[r].logit = e->logits[idx[r]];
        e->top[r].prob = (float)(exp((double)e->logits[idx[r]] - mx) / z);
    }
    e->n_top = k;
}

// Per row: Σ over columns of x ⊙ ĝ (zero where no gradient arrived), or ‖ĝ‖₂ for the gradient method.
static void row_relevance(const lrp_act *a, int gradient_norm, float *dst) {
    for (int t = 0; t < a->rows; t++) {
        double s = 0;
        const float *x = a->x + (size_t)t * a->cols, *gr = a->g ? a->g + (size_t)t * a->cols : NULL;
        for (int i = 0; gr && i < a->cols; i++) s += gradient_norm ? (double)gr[i] * gr[i] : (double)x[i] * gr[i];
        dst[t] = (float)(gradient_norm ? sqrt(s) : s);
    }
}

// Σ over rows of x ⊙ ĝ per column (the relevance of each neuron of an MLP intermediate), or the L2 norm of
// the column of ĝ for the gradient method (the convention of row_relevance, methods.h).
static void column_relevance(const lrp_act *z, int gradient_norm, float *dst) {
    for (int i = 0; i < z->cols; i++) {
        double s = 0;
        for (int t = 0; z->g && t < z->rows; t++) {
            double g = z->g[(size_t)t * z->cols + i];
            s += gradient_norm ? g * g : (double)z->x[(size_t)t * z->cols + i] * g;
        }
        dst[i] = (float)(gradient_norm ? sqrt(s) : s);
    }
}

static int copy_inputs(lrp_explanation *e, const lrp_inputs *in) {
    int T = in->T;
    if (!in->ids) return 0;  // an image
    e->ids = malloc((size_t)T * sizeof(int));
    if (!e->ids) return -1;
    memcpy(e->ids, in->ids, (size_t)T * sizeof(int));
    if (in->token_types) {
        if (!(e->token_types = malloc((size_t)T * sizeof(int)))) return -1;
        memcpy(e->token_types, in->token_types, (size_t)T * sizeof(int));
    }
    if (in->attention_mask) {
        if (!(e->attention_mask = malloc((size_t)T))) return -1;
        memcpy(e->attention_mask, in->attention_mask, (size_t)T);
    }
    return 0;
}

// Image readouts (SPEC §3): per pixel Σ_channels x ⊙ ĝ, per patch the sum over its pixels (gradient: the
// L2 norms over the channels, and over the patch), the CLS token's relevance, one number per position.
static int read_image(lrp_explanation *e, const lrp_taps *taps, int patch, int gradient_norm) {
    const lrp_act *pix = taps->input[LRP_INPUT_PIXELS];
    int C = pix->rows, HW = pix->cols, H = e->height, W = e->width, side = W / patch;
    e->relevance_pixels = calloc((size_t)HW, sizeof(float));
    e->relevance = calloc((size_t)e->n_relevance, sizeof(float));
    e->relevance_positions = calloc((size_t)e->T, sizeof(float));
    if (!e->relevance_pixels || !e->relevance || !e->relevance_positions) return -1;
    double *patch_sum = calloc((size_t)e->n_relevance, sizeof(double));
    if (!patch_sum) return -1;
    for (int i = 0; i < HW; i++) {
        double s = 0;
        for (int c = 0; pix->g && c < C; c++) {
            double gr = pix->g[(size_t)c * HW + i];
            s += gradient_norm ? gr * gr : (double)pix->x[(size_t)c * HW + i] * gr;
        }
        e->relevance_pixels[i] = (float)(gradient_norm ? sqrt(s) : s);
        patch_sum[(i / W / patch) * side + (i % W) / patch] += s;
    }
    for (int k = 0; k < e->n_relevance; k++) {
        e->relevance[k] = (float)(gradient_norm ? sqrt(patch_sum[k]) : patch_sum[k]);
        e->relevance_sum += e->relevance[k];
    }
    free(patch_sum);
    (void)H;
    float cls;
    row_relevance(taps->input[LRP_INPUT_CLS], gradient_norm, &cls);
    e->has_cls = 1;
    e->relevance_cls = cls;
    row_relevance(taps->input[LRP_INPUT_POSITIONS], gradient_norm, e->relevance_positions);
    e->relevance_sum += cls;
    for (int t = 0; t < e->T; t++) e->relevance_sum += e->relevance_positions[t];
    return 0;
}

// The input readouts: one array per input kind the family has, their sum, and the [CLS] slot of encoders.
static int read_inputs(lrp_explanation *e, const lrp_taps *taps, int gradient_norm) {
    float **dst[LRP_INPUT_COUNT] = {[LRP_INPUT_WORDS] = &e->relevance,
                                    [LRP_INPUT_POSITIONS] = &e->relevance_positions,
                                    [LRP_INPUT_TOKEN_TYPES] = &e->relevance_token_types,
                                    [LRP_INPUT_DECODER_WORDS] = &e->decoder_relevance};
    for (int k = 0; k < LRP_INPUT_COUNT; k++) {
        const lrp_act *a = taps->input[k];
        if (!a || !dst[k]) continue;
        int n = a->rows;   // T tokens; the decoder's input: decoder_T
        if (!(*dst[k] = calloc((size_t)n, sizeof(float)))) return -1;
        row_relevance(a, gradient_norm, *dst[k]);
        for (int t = 0; t < n; t++) e->relevance_sum += (*dst[k])[t];
    }
    if (e->task != LRP_TASK_CAUSAL_LM && e->task != LRP_TASK_SEQ2SEQ_LM) {
        e->has_cls = 1;
        e->relevance_cls = e->relevance[0] + (e->relevance_positions ? e->relevance_positions[0] : 0) +
                           (e->relevance_token_types ? e->relevance_token_types[0] : 0);
    }
    return 0;
}

// Seeds one output row l[V] (gradient g[V]) with ∂/∂logit of score(y) − score(foil) (foil -1: none):
// logit: +1 at y; logprob: δ_vy − p_v; prob: p_y (δ_vy − p_v); the foil's the same with the opposite sign.
// Returns score(y) − score(foil), with the two scores in *sy, *sf; adds Σ_v seed_v · l_v to *seed_value.
static double seed_row(const float *l, float *g, int V, int score, int y, int foil, double *sy, double *sf,
                       double *seed_value) {
    double mx = -INFINITY, z = 0;
    if (score != LRP_SCORE_LOGIT) {
        for (int v = 0; v < V; v++) mx = l[v] > mx ? l[v] : mx;
        for (int v = 0; v < V; v++) z += exp((double)l[v] - mx);
    }
    double lz = mx + log(z), out = 0;
    for (int k = 0; k < 2; k++) {
        int id = k ? foil : y;
        double sign = k ? -1.0 : 1.0, s;
        if (id < 0) continue;
        if (score == LRP_SCORE_LOGIT) {
            s = l[id];
            g[id] += (float)sign;
            *seed_value += sign * l[id];
        } else {
            double lp = (double)l[id] - lz, w = score == LRP_SCORE_PROB ? exp(lp) : 1.0;
            s = score == LRP_SCORE_PROB ? exp(lp) : lp;
            for (int v = 0; v < V; v++) {
                double d = sign * w * ((v == id) - exp((double)l[v] - lz));
                g[v] += (float)d;
                *seed_value += d * l[v];
            }
        }
        *(k ? sf : sy) = s;
        out += sign * s;
    }
    return out;
}

// Inputs of at least this many tokens recompute each block in the backward (lrp_forward.checkpoint) when
// no readout looks inside the blocks: the recorded activations of a long input (about 70 KB per token
// and block for a hidden size of 768) would otherwise dominate the memory. ATTNLRP_CHECKPOINT=1 or 0
// forces it on or off (tests, benchmarks).
#define CHECKPOINT_MIN_TOKENS 4096
static int checkpoint_blocks(int T) {
    const char *e = getenv("ATTNLRP_CHECKPOINT");
    if (e && strcmp(e, "1") == 0) return 1;
    if (e && strcmp(e, "0") == 0) return 0;
    return T >= CHECKPOINT_MIN_TOKENS;
}

// Non-finite weights found at load, or non-finite relevance or logits: name the first weight holding NaN/inf,
// if any (the scan after an output that is not finite runs only after ATTNLRP_NONFINITE=skip).
static void note_nonfinite_weight(const lrp_model *m, lrp_explanation *e) {
    if (m->nonfinite_first) {  // the load's scan found some (ATTNLRP_NONFINITE=warn): always said
        e->nonfinite_tensor = m->nonfinite_first->name;
        e->nonfinite_index = m->nonfinite_first_index;
        e->nonfinite_weights = m->nonfinite_count;
        return;
    }
    int bad = e->nonfinite;
    for (int i = 0; !bad && e->logits && i < e->n_out; i++) bad = !isfinite(e->logits[i]);
    if (!bad) return;
    int64_t idx = 0;
    const lrp_tensor *t = lrp_model_find_nonfinite(m, &idx);
    e->nonfinite_tensor = t ? t->name : NULL;
    e->nonfinite_index = t ? (long long)idx : 0;
}

int lrp_explain_inputs(const lrp_model *m, const lrp_inputs *in_arg, const lrp_explain_opts *o, lrp_explanation *e,
                       lrp_err *err) {
    if (LRP_METHOD_IS_BASELINE((int)o->method)) {
        if (o->score != LRP_SCORE_LOGIT || o->n_answer > 0)
            return lrp_fail(err, "method %s: explains logits only (logprob/prob scores and answers need attnlrp, "
                            "cplrp, gradxinput or gradient)", lrp_method_label(o->method));
        if (lrp_check_inputs(m, in_arg, err) ||
            lrp_check_memory(m, "explaining", sequence_length(m, in_arg), in_arg->decoder_T, 1, o->max_memory, err))
            return -1;
        int brc = lrp_explain_baseline(m, in_arg, o, e, err);
        if (brc == 0) lrp_memory_blas_ready();
        if (brc == 0) note_nonfinite_weight(m, e);
        return brc;
    }
    memset(e, 0, sizeof *e);
    e->latent_layer = -1;
    e->latent_start[0] = -1;
    e->latent_expert = -1;
    lrp_inputs in_copy = *in_arg, *in = &in_copy;
    int start_token;
    default_decoder(m, in, &start_token);
    if (lrp_check_inputs(m, in, err)) return -1;
    const lrp_config *c = &m->cfg;
    int T = sequence_length(m, in), NL = c->num_layers, n_out = lrp_model_n_outputs(m);
    int seq2seq = c->task == LRP_TASK_SEQ2SEQ_LM, NE = c->num_encoder_layers, TD = in->decoder_T;
    int last = seq2seq ? TD - 1 : last_real(in);
    int position = c->task == LRP_TASK_CLASSIFIER ? -1 : o->position == -1 ? last : o->position;
    int K = o->n_answer > 0 ? o->n_answer : 1;   // output rows read (answers: one per answer token)
    if (o->n_answer > 0 && output_length(m, in) >= o->n_answer && o->position == -1)
        position = output_length(m, in) - o->n_answer;
    if (check_opts(m, in, o, position, err) || lrp_check_memory(m, "explaining", T, TD, K, o->max_memory, err)) return -1;

    e->method = o->method;
    e->task = c->task;
    e->T = T;
    e->n_relevance = c->image_size > 0 ? T - 1 : T;
    e->height = c->image_size > 0 ? in->height : 0;
    e->width = c->image_size > 0 ? in->width : 0;
    e->channels = c->image_size > 0 ? in->channels : 0;
    e->patch_size = c->patch_size;
    e->position = position;
    e->contrast = o->contrast;
    e->n_out = n_out;
    e->n_layers = NL;
    e->n_encoder_layers = NE;
    e->logits = malloc((size_t)n_out * sizeof(float));
    if (seq2seq) {
        e->decoder_T = TD;
        if ((e->decoder_ids = malloc((size_t)TD * sizeof(int)))) memcpy(e->decoder_ids, in->decoder_ids, (size_t)TD * sizeof(int));
    }
    e->score = o->score;
    int *rows = malloc((size_t)K * sizeof(int));
    if (rows)
        for (int j = 0; j < K; j++) rows[j] = position + j;
    if (o->n_answer > 0) {
        e->n_answer = K;
        e->answer_ids = malloc((size_t)K * sizeof(int));
        e->answer_positions = malloc((size_t)K * sizeof(int));
        e->answer_logits = malloc((size_t)K * sizeof(float));
        e->answer_scores = malloc((size_t)K * sizeof(double));
        if (e->answer_ids && e->answer_positions && rows) {
            memcpy(e->answer_ids, o->answer, (size_t)K * sizeof(int));
            memcpy(e->answer_positions, rows, (size_t)K * sizeof(int));
        }
    }
    if (!e->logits || !rows || copy_inputs(e, in) || (seq2seq && !e->decoder_ids) ||
        (o->n_answer > 0 && (!e->answer_ids || !e->answer_positions || !e->answer_logits || !e->answer_scores))) {
        free(rows);
        lrp_explanation_free(e);
        return lrp_fail(err, "out of memory");
    }
    lrp_graph g;
    if (lrp_graph_init(&g, lrp_model_scratch_floats(m), err)) {
        free(rows);
        lrp_explanation_free(e);
        return -1;
    }
    g.on_node = o->on_node;
    g.on_node_ctx = o->on_node_ctx;
    lrp_forward f = {.in = *in, .head_rows = position >= 0 ? rows : NULL, .n_head_rows = K, .iv = o->iv,
                     .n_iv = o->n_iv, .head_iv = o->head_iv, .n_head_iv = o->n_head_iv, .latent_expert = o->latent_expert > 0 ? o->latent_expert : 0,
                     .no_latent = o->latent_start[0] < 0 && o->latent_layer < 0 && !o->neurons};
    e->latent_expert = o->latent_expert;
    f.checkpoint = f.no_latent && !o->heads && checkpoint_blocks(in->T + (seq2seq ? in->decoder_T : 0));
    double t0 = now_seconds();
    int rc = lrp_model_forward(m, &g, &f);
    double t1 = now_seconds();
    if (rc != 0) {
        lrp_fail(err, "%s", g.err.msg);
        goto fail;
    }
    memcpy(e->logits, f.taps.logits->x, (size_t)n_out * sizeof(float));
    fill_top(e);
    e->target = o->n_answer > 0 ? o->answer[0] : o->target >= 0 ? o->target : e->top[0].id;
    e->target_logit = e->logits[e->target];

    // Seed the start scalar: ĝ(y) = 1 (and −1 on the foil's logit).
    if (o->latent_start[0] >= 0) {
        memcpy(e->latent_start, o->latent_start, sizeof e->latent_start);
        lrp_act *z = f.taps.mlp_act[o->latent_start[0]];
        size_t at = (size_t)o->latent_start[1] * z->cols + o->latent_start[2];
        float *gz = lrp_act_grad(&g, z);
        if (!gz) goto oom;
        gz[at] = 1.0f;
        e->start_value = z->x[at];
    } else {
        float *gl = lrp_act_grad(&g, f.taps.logits);
        if (!gl) goto oom;
        e->start_value = 0;
        for (int j = 0; j < K; j++) {  // one row per answer token (one row without an answer)
            const float *lj = f.taps.logits->x + (size_t)j * n_out;
            int y = o->n_answer > 0 ? o->answer[j] : e->target;
            double st = 0, sc = 0;
            e->start_value += seed_row(lj, gl + (size_t)j * n_out, n_out, o->score, y, o->contrast, &st, &sc,
                                       &e->seed_value);
            if (j == 0) {
                e->target_score = st;
                e->contrast_score = sc;
            }
            if (o->n_answer > 0) {
                e->answer_logits[j] = lj[y];
                e->answer_scores[j] = st;
            }
        }
        if (o->contrast >= 0) e->contrast_logit = e->logits[o->contrast];
    }
    // The readouts below read these gradients after the backward: keep them from being recycled.
    for (int k = 0; k < LRP_INPUT_COUNT; k++)
        if (f.taps.input[k]) f.taps.input[k]->keep_grad = 1;
    for (int l = 0; l < NL; l++) {
        f.taps.block_out[l]->keep_grad = o->layers;
        if (f.taps.mlp_act[l]) f.taps.mlp_act[l]->keep_grad = o->latent_layer == l || o->neurons;
        if (f.taps.moe_weights) f.taps.moe_weights[l]->keep_grad = 1;
        if (f.taps.moe_shared_gate && f.taps.moe_shared_gate[l]) f.taps.moe_shared_gate[l]->keep_grad = 1;
        if (o->heads && f.taps.attn_out[l]) f.taps.attn_out[l]->keep_grad = 1;
        else if (o->heads) {
            lrp_fail(err, "heads: %s has no attention head outputs to read (not supported for this family)",
                     c->model_type);
            goto fail;
        }
    }
    lrp_rules rules = lrp_rules_for(o->method);
    rules.gamma_conv = (float)o->gamma_conv;
    rules.gamma_lin = (float)o->gamma_lin;
    rules.softmax = (lrp_softmax_rule)o->softmax_rule;
    e->softmax_rule = o->softmax_rule;
    e->gamma_conv = o->gamma_conv;
    e->gamma_lin = o->gamma_lin;
    if (lrp_graph_backward(&g, &rules, err)) goto fail;
    double t2 = now_seconds();

    int gnorm = o->method == LRP_METHOD_GRADIENT;  // every readout: ‖ĝ‖₂ (methods.h, lrp_readout_convention)
    if (c->image_size > 0 ? read_image(e, &f.taps, c->patch_size, gnorm) : read_inputs(e, &f.taps, gnorm))
        goto oom;
    if (o->layers && seq2seq) {  // one array per stack
        e->encoder_residual_relevance = calloc((size_t)NE * T, sizeof(float));
        e->decoder_residual_relevance = calloc((size_t)(NL - NE) * TD, sizeof(float));
        if (!e->encoder_residual_relevance || !e->decoder_residual_relevance) goto oom;
        for (int l = 0; l < NE; l++)
            row_relevance(f.taps.block_out[l], gnorm, e->encoder_residual_relevance + (size_t)l * T);
        for (int l = NE; l < NL; l++)
            row_relevance(f.taps.block_out[l], gnorm, e->decoder_residual_relevance + (size_t)(l - NE) * TD);
    } else if (o->layers) {
        e->residual_relevance = calloc((size_t)NL * T, sizeof(float));
        if (!e->residual_relevance) goto oom;
        for (int l = 0; l < NL; l++) row_relevance(f.taps.block_out[l], gnorm, e->residual_relevance + (size_t)l * T);
    }
    if (o->heads) {  // per head: Σ over rows and the head's columns of the o-projection input's x ⊙ ĝ
                     // (--method gradient: ‖ĝ‖₂ over them)
        int H = c->num_heads;
        e->n_heads = H;
        e->head_relevance = calloc((size_t)NL * H, sizeof(float));
        if (!e->head_relevance) goto oom;
        for (int l = 0; l < NL; l++) {
            const lrp_act *a = f.taps.attn_out[l];
            int hd = a->cols / H;
            for (int h = 0; a->g && h < H; h++) {
                double s = 0;
                for (int t = 0; t < a->rows; t++)
                    for (int d = h * hd; d < (h + 1) * hd; d++)
                        s += (gnorm ? (double)a->g[(size_t)t * a->cols + d] : (double)a->x[(size_t)t * a->cols + d]) *
                             a->g[(size_t)t * a->cols + d];
                e->head_relevance[(size_t)l * H + h] = (float)(gnorm ? sqrt(s) : s);
            }
        }
    }
    if (o->latent_layer >= 0) {
        const lrp_act *z = f.taps.mlp_act[o->latent_layer];
        e->latent_layer = o->latent_layer;
        e->n_latent = z->cols;
        e->latent_relevance = calloc((size_t)z->cols, sizeof(float));
        if (!e->latent_relevance) goto oom;
        column_relevance(z, gnorm, e->latent_relevance);
        if (o->latent_per_position) {  // x ⊙ ĝ per entry; --method gradient: |ĝ| (the norm of one value)
            size_t n = (size_t)z->rows * z->cols;
            e->n_latent_positions = z->rows;
            e->latent_position_relevance = calloc(n, sizeof(float));
            if (!e->latent_position_relevance) goto oom;
            for (size_t i = 0; z->g && i < n; i++)
                e->latent_position_relevance[i] = gnorm ? fabsf(z->g[i]) : z->x[i] * z->g[i];
        }
    }
    if (f.taps.moe_weights) {  // the router's relevance per expert: Σ over (token, slot) of w ⊙ ĝ(w)
        int E = c->num_experts;
        e->n_experts = E;
        e->expert_relevance = calloc((size_t)NL * E, sizeof(float));
        if (!e->expert_relevance) goto oom;
        for (int l = 0; l < NL; l++) {
            const lrp_act *w = f.taps.moe_weights[l];
            const int *idx = f.taps.moe_experts[l];
            double *acc = calloc((size_t)E, sizeof(double));
            if (!acc) goto oom;
            for (size_t i = 0; w->g && i < (size_t)w->rows * w->cols; i++)
                acc[idx[i]] += gnorm ? (double)w->g[i] * w->g[i] : (double)w->x[i] * w->g[i];
            for (int j = 0; j < E; j++) e->expert_relevance[(size_t)l * E + j] = (float)(gnorm ? sqrt(acc[j]) : acc[j]);
            free(acc);
        }
    }
    if (f.taps.moe_shared_gate) {  // the shared expert's gate, the same way (its one weight per token)
        if (!(e->shared_expert_relevance = calloc((size_t)NL, sizeof(float)))) goto oom;
        for (int l = 0; l < NL; l++) {
            const lrp_act *s = f.taps.moe_shared_gate[l];
            double acc = 0;
            for (int i = 0; s && s->g && i < s->rows * s->cols; i++)
                acc += gnorm ? (double)s->g[i] * s->g[i] : (double)s->x[i] * s->g[i];
            e->shared_expert_relevance[l] = (float)(gnorm ? sqrt(acc) : acc);
        }
    }
    if (o->neurons) {
        int W = f.taps.mlp_act[0]->cols, at = position >= 0 ? position : 0;
        e->neuron_width = W;
        e->neuron_relevance = calloc((size_t)NL * W, sizeof(float));
        e->neuron_activation = calloc((size_t)NL * W, sizeof(float));
        if (!e->neuron_relevance || !e->neuron_activation) goto oom;
        for (int l = 0; l < NL; l++) {
            const lrp_act *z = f.taps.mlp_act[l];
            int row = at < z->rows ? at : z->rows - 1;   // an encoder layer of an encoder-decoder: its last row
            column_relevance(z, gnorm, e->neuron_relevance + (size_t)l * W);
            for (int i = 0; i < W; i++) e->neuron_activation[(size_t)l * W + i] = z->x[(size_t)row * W + i];
        }
    }
    for (int t = 0; t < e->n_relevance; t++) e->nonfinite += !isfinite(e->relevance[t]);
    note_nonfinite_weight(m, e);
    e->forward_passes = e->backward_passes = 1;
    e->seconds_forward = t1 - t0;
    e->seconds_backward = t2 - t1;
    e->activation_bytes = g.bytes_allocated;
    e->activation_bytes_used = g.bytes_used;
    lrp_graph_free(&g);
    free(rows);
    lrp_memory_blas_ready();
    return 0;
oom:
    lrp_fail(err, "out of memory");
fail:
    free(rows);
    lrp_graph_free(&g);
    lrp_explanation_free(e);
    return -1;
}

int lrp_explain(const lrp_model *m, const int *ids, int T, const lrp_explain_opts *o, lrp_explanation *e,
                lrp_err *err) {
    lrp_inputs in = {.ids = ids, .T = T};
    return lrp_explain_inputs(m, &in, o, e, err);
}

void lrp_explanation_free(lrp_explanation *e) {
    free(e->ids);
    free(e->token_types);
    free(e->attention_mask);
    free(e->relevance);
    free(e->relevance_positions);
    free(e->relevance_token_types);
    free(e->relevance_pixels);
    free(e->logits);
    free(e->residual_relevance);
    free(e->latent_relevance);
    free(e->latent_position_relevance);
    free(e->head_relevance);
    free(e->expert_relevance);
    free(e->shared_expert_relevance);
    free(e->neuron_relevance);
    free(e->neuron_activation);
    free(e->decoder_ids);
    free(e->decoder_relevance);
    free(e->encoder_residual_relevance);
    free(e->decoder_residual_relevance);
    free(e->answer_ids);
    free(e->answer_positions);
    free(e->answer_logits);
    free(e->answer_scores);
    memset(e, 0, sizeof *e);
}

int lrp_forward_outputs(const lrp_model *m, const lrp_inputs *in_arg, int position, const lrp_intervention *iv, int n_iv,
                        float *logits, lrp_err *err) {
    lrp_inputs in_copy = *in_arg, *in = &in_copy;
    int start_token;
    default_decoder(m, in, &start_token);
    if (lrp_check_inputs(m, in, err) || lrp_check_interventions(m, iv, n_iv, err)) return -1;
    int classifier = m->cfg.task == LRP_TASK_CLASSIFIER, n_pos = output_length(m, in);
    if (position < 0) position = m->cfg.task == LRP_TASK_SEQ2SEQ_LM ? n_pos - 1 : last_real(in);
    if (!classifier && position >= n_pos)
        return lrp_fail(err, "position %d: out of range for %d tokens (0..%d)", position, n_pos, n_pos - 1);
    lrp_graph g;
    if (lrp_graph_init(&g, lrp_model_scratch_floats(m), err)) return -1;
    g.grad_enabled = 0;
    lrp_forward f = {.in = *in, .head_rows = classifier ? NULL : &position, .n_head_rows = 1, .iv = iv, .n_iv = n_iv};
    int rc = lrp_model_forward(m, &g, &f);
    if (rc == 0) memcpy(logits, f.taps.logits->x, (size_t)lrp_model_n_outputs(m) * sizeof(float));
    else lrp_fail(err, "%s", g.err.msg);
    lrp_graph_free(&g);
    return rc;
}

int lrp_forward_logits(const lrp_model *m, const int *ids, int T, int position, const unsigned char *drop,
                       const lrp_intervention *iv, int n_iv, float *logits, lrp_err *err) {
    float *scale = NULL;
    if (drop) {
        if (T <= 0) return lrp_fail(err, "ids: no input tokens");
        scale = malloc((size_t)T * sizeof *scale);
        if (!scale) return lrp_fail(err, "out of memory");
        for (int t = 0; t < T; t++) scale[t] = drop[t] ? 0.0f : 1.0f;
    }
    lrp_inputs in = {.ids = ids, .T = T, .embed_scale = scale};
    int rc = lrp_forward_outputs(m, &in, position, iv, n_iv, logits, err);
    free(scale);
    return rc;
}

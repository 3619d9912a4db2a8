// T5 encoder-decoders (T5ForConditionalGeneration: T5 v1.0, T5 v1.1, Flan-T5; mT5, the same graph).
//
// Conventions checked against transformers' models/t5/modeling_t5.py and configuration_t5.py:
// - T5LayerNorm is an RMSNorm: w ⊙ x · (mean(x²) + eps)^-½, no mean, no bias (eps: layer_norm_epsilon).
// - Attention scores are q·kᵀ with no 1/√d_kv scaling (Mesh TensorFlow folds it into the init); inner
//   dimension num_heads · d_kv, which need not equal d_model. No biases anywhere.
// - The relative position bias is an embedding [relative_attention_num_buckets, num_heads] held only by
//   block 0's SelfAttention of each stack (has_relative_attention_bias = i == 0); the bias it computes is
//   passed on and added to the scores of every layer of that stack. Encoder buckets are bidirectional,
//   decoder buckets causal (memory position − query position, positive distances folded to 0). The
//   cross-attention (EncDecAttention) has no position bias.
// - Blocks are pre-norm: encoder x += o(attn(ln0 x)); x += ff(ln1 x); decoder x += self(ln0 x);
//   x += cross(ln1 x, encoder output); x += ff(ln2 x); each stack ends in its final_layer_norm.
// - feed_forward_proj "relu": wo(relu(wi x)); "gated-gelu": wo(gelu_new(wi_0 x) ⊙ wi_1 x) (the config
//   maps gated-gelu to gelu_new, the tanh approximation); generally "[gated-]ACT".
// - The word embeddings (shared.weight) are not scaled. tie_word_embeddings (default true, T5 v1.0):
//   lm_head is shared.weight and the decoder output is multiplied by d_model^-½ before it; Flan-T5 and
//   v1.1 set it false and store lm_head.weight.
// Relevance (SPEC §2-3): every norm gets the norm rule, the gated product the ½ rule, all three attentions
// the ¼/¼/½ rule (cross-attention: queries from the decoder, keys and values from the encoder), the
// position bias is a constant. Layers are numbered encoder first, then decoder (lrp_config.num_layers).
#include "models/t5.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/matmul.h"
#include "models/bind.h"
#include "models/registry.h"

int lrp_t5_relative_bucket(int relative_position, int bidirectional, int num_buckets, int max_distance) {
    int bucket = 0, d;
    if (bidirectional) {
        num_buckets /= 2;
        if (relative_position > 0) bucket = num_buckets;
        d = relative_position < 0 ? -relative_position : relative_position;
    } else {
        d = relative_position < 0 ? -relative_position : 0;
    }
    int max_exact = num_buckets / 2;
    if (d < max_exact) return bucket + d;
    // float32 throughout, as torch evaluates it on an int tensor cast with .float()
    float large = logf((float)d / (float)max_exact) / (float)log((double)max_distance / max_exact) *
                  (float)(num_buckets - max_exact);
    int b = max_exact + (int)large;
    return bucket + (b < num_buckets - 1 ? b : num_buckets - 1);
}

// ---- hyper-parameters -------------------------------------------------------------------------------

static int t5_read_config(lrp_config *c, const lrp_hp *h) {
    int n_enc = 0, n_dec = -1;
    if (lrp_hp_int(h, "d_model", 1, &c->hidden_size) || lrp_hp_int(h, "d_kv", 1, &c->head_dim) ||
        lrp_hp_int(h, "num_heads", 1, &c->num_heads) || lrp_hp_int(h, "num_layers", 1, &n_enc) ||
        lrp_hp_int(h, "num_decoder_layers", 0, &n_dec) || lrp_hp_int(h, "d_ff", 1, &c->intermediate_size) ||
        lrp_hp_int(h, "vocab_size", 1, &c->vocab_size))
        return -1;
    if (n_dec < 0) n_dec = n_enc;  // num_decoder_layers absent or null: as many as the encoder
    if (n_enc < 1 || n_dec < 1 || n_enc > (1 << 16) || n_dec > (1 << 16))
        return lrp_fail(h->err, "%s: num_layers %d and num_decoder_layers %d must be positive", h->where, n_enc, n_dec);
    c->num_encoder_layers = n_enc;
    c->num_layers = n_enc + n_dec;
    c->num_kv_heads = c->num_heads;
    c->relative_attention_num_buckets = 32;
    c->relative_attention_max_distance = 128;
    c->norm_eps = 1e-6;
    c->tie_word_embeddings = 1;
    char ffp[32] = "relu";
    if (lrp_hp_int(h, "relative_attention_num_buckets", 0, &c->relative_attention_num_buckets) ||
        lrp_hp_int(h, "relative_attention_max_distance", 0, &c->relative_attention_max_distance) ||
        lrp_hp_eps(h, "layer_norm_epsilon", &c->norm_eps) ||
        lrp_hp_string(h, "feed_forward_proj", ffp, sizeof ffp) ||
        lrp_hp_bool(h, "tie_word_embeddings", &c->tie_word_embeddings))
        return -1;
    int nb = c->relative_attention_num_buckets, md = c->relative_attention_max_distance;
    if (nb < 4 || nb > (1 << 16) || md <= nb / 2)
        return lrp_fail(h->err, "%s: relative_attention_num_buckets %d and relative_attention_max_distance %d: "
                        "expected at least 4 buckets and a distance above half of them", h->where, nb, md);
    const char *act = ffp;
    if (!strncmp(ffp, "gated-", 6)) {
        c->gated_mlp = 1;
        act = ffp + 6;
    }
    if (c->gated_mlp && !strcmp(act, "gelu")) act = "gelu_new";  // configuration_t5.py: gated-gelu is gelu_new
    if (strchr(act, '-') || lrp_act_fn_parse(act) < 0)
        return lrp_fail(h->err, "%s: feed_forward_proj \"%s\" is not supported (expected relu, gated-gelu or "
                        "[gated-]ACT with ACT silu, gelu, gelu_new or relu)", h->where, ffp);
    snprintf(c->hidden_act, sizeof c->hidden_act, "%s", act);
    if (!lrp_hp_has(h, "decoder_start_token_id"))
        return lrp_fail(h->err, "%s: field \"decoder_start_token_id\" missing (the decoder's first input token; "
                        "T5 uses 0, the pad token)", h->where);
    if (lrp_hp_int(h, "decoder_start_token_id", 1, &c->decoder_start_token_id)) return -1;
    if (c->decoder_start_token_id < 0 || c->decoder_start_token_id >= c->vocab_size)
        return lrp_fail(h->err, "%s: field \"decoder_start_token_id\" %d is out of range (vocabulary size %d)",
                        h->where, c->decoder_start_token_id, c->vocab_size);
    const char *arch = c->architecture;
    size_t n = strlen(arch);
    static const char suffix[] = "ForConditionalGeneration";
    if (n && (n < sizeof suffix - 1 || strcmp(arch + n - (sizeof suffix - 1), suffix)))
        return lrp_fail(h->err, "%s: architecture \"%s\" is not supported for %s (only T5ForConditionalGeneration)",
                        h->where, arch, c->model_type);
    c->task = LRP_TASK_SEQ2SEQ_LM;
    return lrp_hp_token_ids(h, c);
}

// ---- weights ----------------------------------------------------------------------------------------

typedef struct {
    lrp_weight norm, q, k, v, o;
} t5_attn;

typedef struct {
    t5_attn self, cross;               // cross: decoder layers only
    lrp_weight ff_norm, wi, wi_0, wi_1, wo;
} t5_layer;

typedef struct {
    lrp_weight embed, head, enc_norm, dec_norm, enc_rel, dec_rel;
    lrp_act_fn act;
    t5_layer layers[];                 // encoder blocks, then decoder blocks
} t5_weights;

static int bind_attn(lrp_model *m, t5_attn *a, const char *stem, const char *kind, int64_t d, int64_t inner,
                     lrp_err *err) {
    return lrp_bind(m, &a->norm, 0, 0, d, -1, err, "%s.layer_norm.weight", stem) ||
           lrp_bind(m, &a->q, 0, 0, inner, d, err, "%s.%s.q.weight", stem, kind) ||
           lrp_bind(m, &a->k, 0, 0, inner, d, err, "%s.%s.k.weight", stem, kind) ||
           lrp_bind(m, &a->v, 0, 0, inner, d, err, "%s.%s.v.weight", stem, kind) ||
           lrp_bind(m, &a->o, 0, 0, d, inner, err, "%s.%s.o.weight", stem, kind);
}

static int bind_ff(lrp_model *m, t5_layer *L, const char *stem, int64_t d, int64_t ff, lrp_err *err) {
    if (lrp_bind(m, &L->ff_norm, 0, 0, d, -1, err, "%s.layer_norm.weight", stem) ||
        lrp_bind(m, &L->wo, 0, 0, d, ff, err, "%s.DenseReluDense.wo.weight", stem))
        return -1;
    if (m->cfg.gated_mlp)
        return lrp_bind(m, &L->wi_0, 0, 0, ff, d, err, "%s.DenseReluDense.wi_0.weight", stem) ||
               lrp_bind(m, &L->wi_1, 0, 0, ff, d, err, "%s.DenseReluDense.wi_1.weight", stem);
    return lrp_bind(m, &L->wi, 0, 0, ff, d, err, "%s.DenseReluDense.wi.weight", stem);
}

static int t5_bind(lrp_model *m, lrp_err *err) {
    const lrp_config *c = &m->cfg;
    if (lrp_model_is_gguf(m)) return lrp_fail(err, "%s: T5 from GGUF files is not supported", m->path);
    int ne = c->num_encoder_layers, nd = c->num_layers - ne;
    // An encoder-only file (T5EncoderModel) has no decoder at all: say so rather than name one tensor.
    if (!lrp_tf_find(&m->tf, "decoder.final_layer_norm.weight") && !lrp_tf_find(&m->tf, "decoder.block.0.layer.0.SelfAttention.q.weight"))
        return lrp_fail(err, "%s: the checkpoint has no decoder tensors (\"decoder.final_layer_norm.weight\" "
                        "missing; an encoder-only T5EncoderModel file?)", m->path);
    t5_weights *w = lrp_bind_alloc(m, sizeof *w + (size_t)c->num_layers * sizeof(t5_layer), err);
    if (!w) return -1;
    w->act = (lrp_act_fn)lrp_act_fn_parse(c->hidden_act);
    int64_t d = c->hidden_size, inner = (int64_t)c->num_heads * c->head_dim, ff = c->intermediate_size;
    int64_t V = c->vocab_size, nb = c->relative_attention_num_buckets;
    // Older checkpoints store the shared matrix again as encoder.embed_tokens.weight; some only there.
    const char *embed = lrp_tf_find(&m->tf, "shared.weight") || !lrp_tf_find(&m->tf, "encoder.embed_tokens.weight")
                            ? "shared.weight" : "encoder.embed_tokens.weight";
    if (lrp_bind(m, &w->embed, 0, 0, V, d, err, "%s", embed)) return -1;
    if (c->tie_word_embeddings) w->head = w->embed;
    else if (lrp_bind(m, &w->head, 0, 0, V, d, err, "lm_head.weight")) return -1;
    if (lrp_bind(m, &w->enc_norm, 0, 0, d, -1, err, "encoder.final_layer_norm.weight") ||
        lrp_bind(m, &w->dec_norm, 0, 0, d, -1, err, "decoder.final_layer_norm.weight") ||
        lrp_bind(m, &w->enc_rel, 0, 0, nb, c->num_heads, err,
                 "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight") ||
        lrp_bind(m, &w->dec_rel, 0, 0, nb, c->num_heads, err,
                 "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"))
        return -1;
    char stem[96];
    for (int l = 0; l < ne; l++) {
        t5_layer *L = &w->layers[l];
        snprintf(stem, sizeof stem, "encoder.block.%d.layer.0", l);
        if (bind_attn(m, &L->self, stem, "SelfAttention", d, inner, err)) return -1;
        snprintf(stem, sizeof stem, "encoder.block.%d.layer.1", l);
        if (bind_ff(m, L, stem, d, ff, err)) return -1;
    }
    for (int l = 0; l < nd; l++) {
        t5_layer *L = &w->layers[ne + l];
        snprintf(stem, sizeof stem, "decoder.block.%d.layer.0", l);
        if (bind_attn(m, &L->self, stem, "SelfAttention", d, inner, err)) return -1;
        snprintf(stem, sizeof stem, "decoder.block.%d.layer.1", l);
        if (bind_attn(m, &L->cross, stem, "EncDecAttention", d, inner, err)) return -1;
        snprintf(stem, sizeof stem, "decoder.block.%d.layer.2", l);
        if (bind_ff(m, L, stem, d, ff, err)) return -1;
    }
    return 0;
}

// ---- forward ----------------------------------------------------------------------------------------

// The position bias [H, Tq, Tk] of one stack: query row i sits at position q0 + i, key j at j.
static float *relative_bias(lrp_graph *g, const lrp_config *c, const lrp_weight *table, int bidirectional, int q0,
                            int Tq, int Tk) {
    int H = c->num_heads, nb = c->relative_attention_num_buckets;
    float *rows = lrp_graph_alloc(g, (size_t)nb * H * sizeof(float), 0);
    float *bias = lrp_graph_alloc(g, (size_t)H * Tq * Tk * sizeof(float), 0);
    if (!rows || !bias) return NULL;
    for (int b = 0; b < nb; b++) lrp_weight_row(table, b, rows + (size_t)b * H);
    for (int i = 0; i < Tq; i++)
        for (int j = 0; j < Tk; j++) {
            int b = lrp_t5_relative_bucket(j - (q0 + i), bidirectional, nb, c->relative_attention_max_distance);
            for (int h = 0; h < H; h++) bias[((size_t)h * Tq + i) * Tk + j] = rows[(size_t)b * H + h];
        }
    return bias;
}

// o(attention(q(hq), k(hkv), v(hkv))) under spec.
static lrp_act *attend(lrp_graph *g, const t5_attn *a, lrp_act *hq, lrp_act *hkv, const lrp_attn_spec *spec) {
    lrp_act *q = op_linear(g, hq, &a->q, NULL);
    lrp_act *k = op_linear(g, hkv, &a->k, NULL);
    lrp_act *v = op_linear(g, hkv, &a->v, NULL);
    return op_linear(g, op_attention(g, q, k, v, spec), &a->o, NULL);
}

// x + wo(z) with z = act(wi h) or act(wi_0 h) ⊙ wi_1 h, h = ln(x); z is the latent tap of layer l.
static lrp_act *feed_forward(lrp_graph *g, lrp_forward *f, const t5_weights *w, const lrp_config *c, int l,
                             lrp_act *x) {
    const t5_layer *L = &w->layers[l];
    int gated = c->gated_mlp;
    lrp_act *h = op_rmsnorm(g, x, &L->ff_norm, (float)c->norm_eps, c->hidden_size);
    g->tag = LRP_TAG_MLP_LINEAR;
    lrp_act *z = gated ? op_gated_product(g, op_activation(g, op_linear(g, h, &L->wi_0, NULL), w->act),
                                          op_linear(g, h, &L->wi_1, NULL))
                       : op_activation(g, op_linear(g, h, &L->wi, NULL), w->act);
    z = op_intervene(g, z, f->iv, f->n_iv, l);
    f->taps.mlp_act[l] = z;
    x = op_add(g, x, op_linear(g, z, &L->wo, NULL));
    g->tag = LRP_TAG_NONE;
    return x;
}

// An activation viewing rows already held elsewhere (the KV cache's cross-attention keys and values).
static lrp_act *held_rows(lrp_graph *g, float *x, int rows, int cols) {
    lrp_act *a = lrp_graph_alloc(g, sizeof *a, 1);
    if (!a) return NULL;
    a->x = x;
    a->rows = rows;
    a->cols = cols;
    return a;
}

// Generation: the first forward keeps each decoder layer's cross-attention keys and values of the encoder
// output (memory) in the cache; later forwards read them instead of running the encoder.
static int keep_cross(lrp_graph *g, const lrp_config *c, const t5_weights *w, lrp_kv_cache *cache, lrp_act *memory) {
    int ne = c->num_encoder_layers, kvd = cache->kv_dim, Te = memory->rows;
    size_t n = (size_t)c->num_layers * Te * kvd;
    free(cache->cross_k);
    free(cache->cross_v);
    cache->cross_k = malloc(n * sizeof(float));
    cache->cross_v = malloc(n * sizeof(float));
    if (!cache->cross_k || !cache->cross_v) {
        lrp_graph_fail(g, "out of memory for the cross-attention cache of %d source tokens", Te);
        return -1;
    }
    for (int l = ne; l < c->num_layers; l++) {
        lrp_act *k = op_linear(g, memory, &w->layers[l].cross.k, NULL);
        lrp_act *v = op_linear(g, memory, &w->layers[l].cross.v, NULL);
        if (!k || !v) return -1;
        memcpy(cache->cross_k + (size_t)l * Te * kvd, k->x, (size_t)Te * kvd * sizeof(float));
        memcpy(cache->cross_v + (size_t)l * Te * kvd, v->x, (size_t)Te * kvd * sizeof(float));
    }
    cache->cross_len = Te;
    return 0;
}

// The encoder stack over in->ids: the final-normed output (the cross-attention's memory).
static lrp_act *encode(const lrp_model *m, lrp_graph *g, lrp_forward *f) {
    const lrp_config *c = &m->cfg;
    const t5_weights *w = m->weights;
    const lrp_inputs *in = &f->in;
    int Te = in->T, d = c->hidden_size;
    float eps = (float)c->norm_eps;
    lrp_attn_spec enc = {.n_heads = c->num_heads, .n_kv_heads = c->num_heads, .head_dim = c->head_dim, .scale = 1.0f,
                         .mask = LRP_ATTN_BIDIRECTIONAL, .key_mask = in->attention_mask, .bias_heads = c->num_heads};
    if (!(enc.bias = relative_bias(g, c, &w->enc_rel, 1, 0, Te, Te))) return NULL;
    lrp_act *x = op_embedding(g, &w->embed, in->ids, Te, 1.0f, in->embed_scale, in->embed_noise);
    f->taps.input[LRP_INPUT_WORDS] = x;
    for (int l = 0; l < c->num_encoder_layers; l++) {
        const t5_layer *L = &w->layers[l];
        enc.probs = f->want_attn_probs ? &f->taps.attn_probs[l] : NULL;
        lrp_act *h = op_rmsnorm(g, x, &L->self.norm, eps, d);
        x = op_add(g, x, attend(g, &L->self, h, h, &enc));
        x = feed_forward(g, f, w, c, l, x);
        f->taps.block_out[l] = x;
    }
    return op_rmsnorm(g, x, &w->enc_norm, eps, d);
}

static int t5_forward(const lrp_model *m, lrp_graph *g, lrp_forward *f) {
    const lrp_config *c = &m->cfg;
    const t5_weights *w = m->weights;
    const lrp_inputs *in = &f->in;
    lrp_kv_cache *cache = f->cache;
    int ne = c->num_encoder_layers, Td = in->decoder_T, d = c->hidden_size, inner = c->num_heads * c->head_dim;
    float eps = (float)c->norm_eps;
    if (!in->decoder_ids || Td <= 0) {
        lrp_graph_fail(g, "decoder_ids: an encoder-decoder needs the decoder's input (at least its start token)");
        return -1;
    }
    // The encoder runs once: always without a cache, on the first step of generation with one.
    lrp_act *memory = NULL;
    if (!cache || cache->cross_len == 0) {
        memory = encode(m, g, f);
        if (!memory || (cache && keep_cross(g, c, w, cache, memory))) return -1;
    }
    int pos0 = cache ? cache->len : 0, Te = cache ? cache->cross_len : in->T;
    lrp_attn_spec self = {.n_heads = c->num_heads, .n_kv_heads = c->num_heads, .head_dim = c->head_dim, .scale = 1.0f,
                          .mask = LRP_ATTN_CAUSAL, .bias_heads = c->num_heads, .decoder_keys = 1};
    lrp_attn_spec cross = self;
    cross.mask = LRP_ATTN_BIDIRECTIONAL;
    cross.decoder_keys = 0;
    cross.key_mask = in->attention_mask;  // the source's padding
    if (!(self.bias = relative_bias(g, c, &w->dec_rel, 0, pos0, Td, pos0 + Td))) return -1;

    lrp_act *y = op_embedding(g, &w->embed, in->decoder_ids, Td, 1.0f, in->decoder_embed_scale, in->decoder_embed_noise);
    f->taps.input[LRP_INPUT_DECODER_WORDS] = y;
    for (int l = ne; l < c->num_layers; l++) {
        const t5_layer *L = &w->layers[l];
        self.probs = f->want_attn_probs ? &f->taps.attn_probs[l] : NULL;
        lrp_act *h = op_rmsnorm(g, y, &L->self.norm, eps, d);
        if (cache) {  // the self-attention's keys and values of earlier decoder positions
            size_t off = (size_t)l * cache->capacity * cache->kv_dim;
            lrp_act *k = op_cache_append(g, op_linear(g, h, &L->self.k, NULL), cache->k + off, pos0, cache->capacity);
            lrp_act *v = op_cache_append(g, op_linear(g, h, &L->self.v, NULL), cache->v + off, pos0, cache->capacity);
            lrp_act *o = op_attention(g, op_linear(g, h, &L->self.q, NULL), k, v, &self);
            y = op_add(g, y, op_linear(g, o, &L->self.o, NULL));
        } else {
            y = op_add(g, y, attend(g, &L->self, h, h, &self));
        }
        h = op_rmsnorm(g, y, &L->cross.norm, eps, d);
        if (cache) {
            size_t off = (size_t)l * Te * inner;
            lrp_act *k = held_rows(g, cache->cross_k + off, Te, inner), *v = held_rows(g, cache->cross_v + off, Te, inner);
            lrp_act *o = op_attention(g, op_linear(g, h, &L->cross.q, NULL), k, v, &cross);
            y = op_add(g, y, op_linear(g, o, &L->cross.o, NULL));
        } else {
            y = op_add(g, y, attend(g, &L->cross, h, memory, &cross));
        }
        y = feed_forward(g, f, w, c, l, y);
        f->taps.block_out[l] = y;
    }
    y = op_rmsnorm(g, y, &w->dec_norm, eps, d);
    if (f->head_rows) y = op_select_rows(g, y, f->head_rows, f->n_head_rows);
    if (c->tie_word_embeddings) y = op_scale(g, y, 1.0f / sqrtf((float)d));  // before the tied head only
    f->taps.logits = op_linear(g, y, &w->head, NULL);
    if (cache && lrp_graph_ok(g)) cache->len += Td;
    return lrp_graph_ok(g) ? 0 : -1;
}

static const char *const model_types[] = {"t5", "mt5", NULL};
static const char *const no_gguf[] = {NULL};
const lrp_family lrp_family_t5 = {
    .name = "t5",
    .model_types = model_types,
    .gguf_archs = no_gguf,
    .summary = "T5 encoder-decoders: T5 v1.0 (relu, tied head), T5 v1.1 / Flan-T5 / mT5 (gated-gelu, untied head)",
    .read_config = t5_read_config,
    .read_gguf = NULL,
    .bind = t5_bind,
    .forward = t5_forward,
};

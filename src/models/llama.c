// The LLaMA family of decoders: llama (LLaMA 2/3, TinyLlama, SmolLM), mistral, qwen2 (q/k/v biases)
// and qwen3 (per-head q/k RMSNorm, explicit head_dim). Pre-norm blocks:
//   h = x + o_proj(attention(rope(q(n1(x))), rope(k(n1(x))), v(n1(x))))
//   x' = h + down(act(gate(n2(h))) ⊙ up(n2(h)))
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels/matmul.h"
#include "models/bind.h"
#include "models/blocks.h"
#include "models/registry.h"

// ---- hyper-parameters -------------------------------------------------------------------------------

static int llama_read_config(lrp_config *c, const lrp_hp *h) {
    static const char *const heads[] = {"num_attention_heads", NULL};
    if (lrp_hp_int(h, "hidden_size", 1, &c->hidden_size) || lrp_hp_int(h, "num_hidden_layers", 1, &c->num_layers) ||
        lrp_hp_int_any(h, heads, 1, &c->num_heads) || lrp_hp_int(h, "intermediate_size", 1, &c->intermediate_size) ||
        lrp_hp_int(h, "vocab_size", 1, &c->vocab_size))
        return -1;
    if (lrp_hp_heads(h, c)) return -1;
    strcpy(c->hidden_act, "silu");
    c->norm_eps = 1e-6;
    if (lrp_hp_string(h, "hidden_act", c->hidden_act, sizeof c->hidden_act) ||
        lrp_hp_eps(h, "rms_norm_eps", &c->norm_eps) ||
        lrp_hp_int(h, "max_position_embeddings", 0, &c->max_position_embeddings) ||
        lrp_hp_bool(h, "tie_word_embeddings", &c->tie_word_embeddings) ||
        lrp_hp_bool(h, "attention_bias", &c->attention_bias) || lrp_hp_bool(h, "mlp_bias", &c->mlp_bias))
        return -1;
    // Mistral attends within a window; Qwen2/3 configs carry sliding_window too but use it only when
    // use_sliding_window is true, which is not supported.
    if (strcmp(c->model_type, "mistral") == 0) {
        if (lrp_hp_int(h, "sliding_window", 0, &c->sliding_window)) return -1;
        if (c->sliding_window < 0)
            return lrp_fail(h->err, "%s: field \"sliding_window\" must not be negative (got %d)", h->where,
                            c->sliding_window);
    } else {
        int use_window = 0;
        if (lrp_hp_bool(h, "use_sliding_window", &use_window)) return -1;
        if (use_window) return lrp_fail(h->err, "%s: use_sliding_window true is not supported", h->where);
    }
    if (c->task != LRP_TASK_CAUSAL_LM)
        return lrp_fail(h->err, "%s: architecture \"%s\" is not supported for %s (only causal LMs)", h->where,
                        c->architecture, c->model_type);
    return lrp_hp_rope(h, c) || lrp_hp_token_ids(h, c);
}

int lrp_mixtral_read_gguf(lrp_config *c, const lrp_hp_gguf *h);  // mixtral.c

static int llama_read_gguf(lrp_config *c, const lrp_hp_gguf *h) {
    const int BIG = 1 << 30;
    // llama.cpp writes Mixtral as arch "llama" with llama.expert_count: the MoE family reads it.
    int n_expert = 0;
    if (lrp_hp_gguf_int(h, "expert_count", 0, 0, 1 << 16, &n_expert) < 0) return -1;
    if (n_expert > 0) return lrp_mixtral_read_gguf(c, h);
    strcpy(c->hidden_act, "silu");
    // llama.cpp permutes LLaMA/Mistral q/k rows when converting (Meta/llama2.c weights are adjacent-paired
    // already); Qwen uses NeoX rope without the permutation.
    int adjacent = !strcmp(h->arch, "llama") || !strcmp(h->arch, "mistral");
    c->rope.pairing = adjacent ? LRP_ROPE_PAIR_ADJACENT : LRP_ROPE_PAIR_HALVES;
    if (lrp_hp_gguf_int(h, "embedding_length", 1, 1, BIG, &c->hidden_size) ||
        lrp_hp_gguf_int(h, "block_count", 1, 1, 1 << 16, &c->num_layers) ||
        lrp_hp_gguf_int(h, "attention.head_count", 1, 1, 1 << 16, &c->num_heads) ||
        lrp_hp_gguf_int(h, "feed_forward_length", 1, 1, BIG, &c->intermediate_size))
        return -1;
    if (lrp_hp_gguf_heads(h, c)) return -1;
    if (lrp_hp_gguf_int(h, "context_length", 0, 1, INT32_MAX, &c->max_position_embeddings) < 0 ||
        lrp_hp_gguf_float(h, "attention.layer_norm_rms_epsilon", 1, &c->norm_eps) < 0)
        return -1;
    if (lrp_hp_gguf_rope(h, c)) return -1;
    if (lrp_hp_gguf_vocab(h, "token_embd.weight", c) || lrp_hp_gguf_token_ids(h, c)) return -1;
    c->tie_word_embeddings = lrp_tf_find(h->tf, "output.weight") == NULL;
    c->attention_bias = lrp_tf_find(h->tf, "blk.0.attn_q.bias") != NULL;
    c->mlp_bias = lrp_tf_find(h->tf, "blk.0.ffn_up.bias") != NULL;
    return 0;
}

// ---- weights ----------------------------------------------------------------------------------------

typedef struct {
    lrp_weight attn_norm;
    lrp_rope_attn_weights attn;
    lrp_weight mlp_norm, gate, up, down, gate_bias, up_bias, down_bias;
} llama_layer;

typedef struct {
    lrp_weight embed, final_norm, head;
    lrp_act_fn act;
    llama_layer layers[];
} llama_weights;

// Tensor names: Hugging Face, then GGUF (llama.cpp); "%d" is the layer.
enum { N_EMBED, N_HEAD, N_NORM, N_ATTN_NORM, N_Q, N_K, N_V, N_O, N_Q_NORM, N_K_NORM, N_MLP_NORM, N_GATE, N_UP, N_DOWN };
static const char *const names[][2] = {
    [N_EMBED] = {"model.embed_tokens", "token_embd"},
    [N_HEAD] = {"lm_head", "output"},
    [N_NORM] = {"model.norm", "output_norm"},
    [N_ATTN_NORM] = {"model.layers.%d.input_layernorm", "blk.%d.attn_norm"},
    [N_Q] = {"model.layers.%d.self_attn.q_proj", "blk.%d.attn_q"},
    [N_K] = {"model.layers.%d.self_attn.k_proj", "blk.%d.attn_k"},
    [N_V] = {"model.layers.%d.self_attn.v_proj", "blk.%d.attn_v"},
    [N_O] = {"model.layers.%d.self_attn.o_proj", "blk.%d.attn_output"},
    [N_Q_NORM] = {"model.layers.%d.self_attn.q_norm", "blk.%d.attn_q_norm"},
    [N_K_NORM] = {"model.layers.%d.self_attn.k_norm", "blk.%d.attn_k_norm"},
    [N_MLP_NORM] = {"model.layers.%d.post_attention_layernorm", "blk.%d.ffn_norm"},
    [N_GATE] = {"model.layers.%d.mlp.gate_proj", "blk.%d.ffn_gate"},
    [N_UP] = {"model.layers.%d.mlp.up_proj", "blk.%d.ffn_up"},
    [N_DOWN] = {"model.layers.%d.mlp.down_proj", "blk.%d.ffn_down"},
};

// Binds "<name>.<suffix>" (suffix "weight" or "bias") of layer l (ignored by global names).
static int bind(lrp_model *m, lrp_weight *w, int which, int l, const char *suffix, int optional, int64_t d0,
                int64_t d1, lrp_err *err) {
    char stem[160];
    snprintf(stem, sizeof stem, names[which][lrp_model_is_gguf(m)], l);
    return lrp_bind(m, w, optional, 0, d0, d1, err, "%s.%s", stem, suffix);
}

// rope_freqs.weight [rot_dim/2] (llama.cpp's freq_factors) into the rope parameters: each inverse
// frequency is divided by its factor, which is what Hugging Face's llama3 rope_scaling computes.
static int rope_freqs(lrp_model *m, lrp_err *err) {
    lrp_rope_params *r = &m->cfg.rope;
    int pairs = (r->rot_dim ? r->rot_dim : m->cfg.head_dim) / 2;
    if (r->scaling != LRP_ROPE_SCALING_NONE)
        return lrp_fail(err, "%s: rope_freqs.weight together with rope scaling metadata is not supported", m->path);
    if (pairs > LRP_ROPE_MAX_FREQS)
        return lrp_fail(err, "%s: rope_freqs.weight for %d rotated pairs (at most %d)", m->path, pairs,
                        LRP_ROPE_MAX_FREQS);
    lrp_weight w;
    if (lrp_bind(m, &w, 0, 0, pairs, -1, err, "rope_freqs.weight")) return -1;
    float f[LRP_ROPE_MAX_FREQS];
    lrp_weight_vector(&w, f);
    for (int i = 0; i < pairs; i++) {
        if (!isfinite(f[i]) || f[i] <= 0)
            return lrp_fail(err, "%s: rope_freqs.weight element %d must be positive (got %g)", m->path, i, f[i]);
        r->freq_factors[i] = f[i];
    }
    r->n_freq_factors = pairs;
    return 0;
}

static int llama_bind(lrp_model *m, lrp_err *err) {
    const lrp_config *c = &m->cfg;
    int qwen2 = !strcmp(c->model_type, "qwen2"), qwen3 = !strcmp(c->model_type, "qwen3");
    int qkv_bias = qwen2 || c->attention_bias, o_bias = !qwen2 && c->attention_bias;  // Qwen2: q/k/v only
    int act = lrp_act_fn_parse(c->hidden_act);
    if (act < 0) return lrp_fail(err, "%s: hidden_act \"%s\" is not supported", m->path, c->hidden_act);
    // llama.cpp stores Llama 3.1's RoPE scaling as per-frequency divisors of the inverse frequencies.
    if (lrp_model_is_gguf(m) && lrp_tf_find(&m->tf, "rope_freqs.weight") && rope_freqs(m, err)) return -1;
    llama_weights *w = lrp_bind_alloc(m, sizeof *w + (size_t)c->num_layers * sizeof(llama_layer), err);
    if (!w) return -1;
    w->act = (lrp_act_fn)act;
    int64_t d = c->hidden_size, qd = (int64_t)c->num_heads * c->head_dim, kvd = (int64_t)c->num_kv_heads * c->head_dim;
    int64_t ff = c->intermediate_size, V = c->vocab_size;
    // A tied checkpoint stores the shared matrix under either name (TinyStories-656K keeps only lm_head).
    char head_name[64];
    snprintf(head_name, sizeof head_name, "%s.weight", names[N_HEAD][lrp_model_is_gguf(m)]);
    int embed_optional = c->tie_word_embeddings && lrp_tf_find(&m->tf, head_name);
    if (bind(m, &w->embed, N_EMBED, 0, "weight", embed_optional, V, d, err)) return -1;
    if ((!w->embed.t || !c->tie_word_embeddings) && bind(m, &w->head, N_HEAD, 0, "weight", 0, V, d, err)) return -1;
    if (!w->embed.t) w->embed = w->head;
    if (!w->head.t) w->head = w->embed;
    if (bind(m, &w->final_norm, N_NORM, 0, "weight", 0, d, -1, err)) return -1;
    for (int l = 0; l < c->num_layers; l++) {
        llama_layer *L = &w->layers[l];
        if (bind(m, &L->attn_norm, N_ATTN_NORM, l, "weight", 0, d, -1, err) ||
            bind(m, &L->attn.q, N_Q, l, "weight", 0, qd, d, err) || bind(m, &L->attn.k, N_K, l, "weight", 0, kvd, d, err) ||
            bind(m, &L->attn.v, N_V, l, "weight", 0, kvd, d, err) || bind(m, &L->attn.o, N_O, l, "weight", 0, d, qd, err) ||
            bind(m, &L->mlp_norm, N_MLP_NORM, l, "weight", 0, d, -1, err) ||
            bind(m, &L->gate, N_GATE, l, "weight", 0, ff, d, err) || bind(m, &L->up, N_UP, l, "weight", 0, ff, d, err) ||
            bind(m, &L->down, N_DOWN, l, "weight", 0, d, ff, err))
            return -1;
        if (qkv_bias && (bind(m, &L->attn.q_bias, N_Q, l, "bias", 0, qd, -1, err) ||
                         bind(m, &L->attn.k_bias, N_K, l, "bias", 0, kvd, -1, err) ||
                         bind(m, &L->attn.v_bias, N_V, l, "bias", 0, kvd, -1, err)))
            return -1;
        if (o_bias && bind(m, &L->attn.o_bias, N_O, l, "bias", 0, d, -1, err)) return -1;
        if (qwen3 && (bind(m, &L->attn.q_norm, N_Q_NORM, l, "weight", 0, c->head_dim, -1, err) ||
                      bind(m, &L->attn.k_norm, N_K_NORM, l, "weight", 0, c->head_dim, -1, err)))
            return -1;
        if (c->mlp_bias && (bind(m, &L->gate_bias, N_GATE, l, "bias", 0, ff, -1, err) ||
                            bind(m, &L->up_bias, N_UP, l, "bias", 0, ff, -1, err) ||
                            bind(m, &L->down_bias, N_DOWN, l, "bias", 0, d, -1, err)))
            return -1;
    }
    return 0;
}

// ---- forward ----------------------------------------------------------------------------------------

// One decoder block: the segment that f->checkpoint recomputes in the backward (op_checkpoint).
typedef struct llama_block_ctx {
    const lrp_model *m;
    lrp_forward *f;  // NULL when checkpointed: then fb (its interventions, no cache, no taps) stands in
    lrp_forward fb;
    int l;
    const lrp_rope *rope;
    lrp_attn_spec spec;
} llama_block_ctx;

static lrp_act *llama_block(lrp_graph *g, lrp_act *x, void *ctxp) {
    llama_block_ctx *b = ctxp;
    const lrp_config *c = &b->m->cfg;
    const llama_weights *w = b->m->weights;
    lrp_forward *f = b->f ? b->f : &b->fb;
    const llama_layer *L = &w->layers[b->l];
    float eps = (float)c->norm_eps;
    lrp_act *h = op_rmsnorm(g, x, &L->attn_norm, eps, c->hidden_size);
    x = op_add(g, x, lrp_rope_self_attention(g, f, b->l, h, &L->attn, b->rope, &b->spec, eps));

    h = op_rmsnorm(g, x, &L->mlp_norm, eps, c->hidden_size);
    lrp_mlp_weights mw = {&L->gate, &L->gate_bias, &L->up, &L->up_bias, &L->down, &L->down_bias};
    return op_add(g, x, lrp_mlp(g, f, b->l, h, &mw, w->act));
}

static int llama_forward(const lrp_model *m, lrp_graph *g, lrp_forward *f) {
    const lrp_config *c = &m->cfg;
    const llama_weights *w = m->weights;
    const lrp_inputs *in = &f->in;
    float eps = (float)c->norm_eps;
    lrp_kv_cache *cache = f->cache;
    lrp_attn_spec spec;
    lrp_rope *rope = lrp_rope_decoder_start(g, c, f, &spec);

    lrp_act *x = op_embedding(g, &w->embed, in->ids, in->T, 1.0f, in->embed_scale, in->embed_noise);
    f->taps.input[LRP_INPUT_WORDS] = x;
    int checkpoint = f->checkpoint && !cache && !f->want_attn_probs;
    for (int l = 0; l < c->num_layers; l++) {
        llama_block_ctx b = {.m = m, .f = checkpoint ? NULL : f, .l = l, .rope = rope, .spec = spec};
        if (checkpoint) {  // the block's interventions only: no cache, no taps inside the block
            b.fb.iv = f->iv;
            b.fb.n_iv = f->n_iv;
            b.fb.head_iv = f->head_iv;
            b.fb.n_head_iv = f->n_head_iv;
            x = op_checkpoint(g, x, llama_block, &b, sizeof b);
        } else {
            x = llama_block(g, x, &b);
        }
        f->taps.block_out[l] = x;
    }
    x = op_rmsnorm(g, x, &w->final_norm, eps, c->hidden_size);
    return lrp_decoder_logits(g, f, x, &w->head, NULL, 0.0f);
}

// `attnlrp neuron`: down_proj's column through the final RMSNorm's weight and lm_head (or the tied embedding).
static int llama_neuron_readout(const lrp_model *m, int l, int expert, lrp_neuron_readout *r, lrp_err *err) {
    (void)expert, (void)err;
    const llama_weights *w = m->weights;
    r->down = w->layers[l].down;
    r->norm[0] = w->final_norm;
    r->unembed = w->head;
    return 0;
}

static const char *const model_types[] = {"llama", "mistral", "qwen2", "qwen3", NULL};
const lrp_family lrp_family_llama = {
    .name = "llama",
    .model_types = model_types,
    .gguf_archs = model_types,
    .summary = "LLaMA 2/3, TinyLlama, SmolLM, Mistral (sliding window), Qwen2 (q/k/v biases), Qwen3 (q/k norms)",
    .read_config = llama_read_config,
    .read_gguf = llama_read_gguf,
    .bind = llama_bind,
    .forward = llama_forward,
    .neuron_readout = llama_neuron_readout,
};

// The Phi decoders.
// phi (Phi-1.5, Phi-2; GGUF arch "phi2"): one LayerNorm feeds attention and MLP in parallel,
//   h = ln(x);  x' = x + dense(attention(rope(q(h)), rope(k(h)), v(h))) + fc2(gelu_new(fc1(h)))
//   q/k/v/dense/fc1/fc2 with biases, partial rotary on the first rot_dim dimensions of each head
//   (rotate_half), optional LayerNorm per head on q and k (qk_layernorm) before the rotation,
//   logits = lm_head(final_layernorm(x)) with a bias.
// phi3 (Phi-3, Phi-3.5, Phi-4-mini; GGUF arch "phi3"): LLaMA-like pre-norm blocks with RMSNorm, a fused
//   qkv_proj (q rows, then k, then v) and a fused gate_up_proj (gate rows, then up rows),
//   z = silu(gate) ⊙ up, partial rotary where configured, LongRoPE, optional sliding window.
// The latent neurons (mlp_act) are gelu_new(fc1 h) (phi) and silu(gate) ⊙ up (phi3).
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels/matmul.h"
#include "models/bind.h"
#include "models/blocks.h"
#include "models/registry.h"

static int is_phi3(const lrp_config *c) { return strcmp(c->model_type, "phi3") == 0; }

// ---- hyper-parameters -------------------------------------------------------------------------------

static int phi_read_config(lrp_config *c, const lrp_hp *h) {
    int phi3 = is_phi3(c);
    if (lrp_hp_int(h, "hidden_size", 1, &c->hidden_size) || lrp_hp_int(h, "num_hidden_layers", 1, &c->num_layers) ||
        lrp_hp_int(h, "num_attention_heads", 1, &c->num_heads) ||
        lrp_hp_int(h, "intermediate_size", 1, &c->intermediate_size) ||
        lrp_hp_int(h, "vocab_size", 1, &c->vocab_size))
        return -1;
    if (lrp_hp_heads(h, c)) return -1;
    strcpy(c->hidden_act, phi3 ? "silu" : "gelu_new");
    c->norm_eps = 1e-5;
    if (lrp_hp_string(h, "hidden_act", c->hidden_act, sizeof c->hidden_act) ||
        lrp_hp_eps(h, phi3 ? "rms_norm_eps" : "layer_norm_eps", &c->norm_eps) ||
        lrp_hp_int(h, "max_position_embeddings", 0, &c->max_position_embeddings) ||
        lrp_hp_bool(h, "tie_word_embeddings", &c->tie_word_embeddings))
        return -1;
    if (phi3) {
        if (lrp_hp_int(h, "sliding_window", 0, &c->sliding_window)) return -1;
        if (c->sliding_window < 0)
            return lrp_fail(h->err, "%s: field \"sliding_window\" must not be negative (got %d)", h->where,
                            c->sliding_window);
    } else {
        c->attention_bias = c->mlp_bias = 1;
        int qk_ln = 0;
        if (lrp_hp_bool(h, "qk_layernorm", &qk_ln)) return -1;
        c->qk_layernorm = qk_ln;
    }
    if (c->task != LRP_TASK_CAUSAL_LM)
        return lrp_fail(h->err, "%s: architecture \"%s\" is not supported for %s (only causal LMs)", h->where,
                        c->architecture, c->model_type);
    if (lrp_hp_rope(h, c)) return -1;
    // PhiConfig's partial_rotary_factor defaults to 0.5 (Phi3Config's to 1).
    const json_t *params = json_object_get(h->root, "rope_parameters");
    if (!phi3 && !lrp_hp_has(h, "partial_rotary_factor") &&
        !(json_is_object(params) && json_object_get(params, "partial_rotary_factor"))) {
        c->rope.rot_dim = c->head_dim / 2;
        if (c->rope.rot_dim <= 0 || c->rope.rot_dim % 2)
            return lrp_fail(h->err, "%s: the default partial_rotary_factor 0.5 of head_dim %d gives %d rotary "
                            "dimensions (must be even and positive)", h->where, c->head_dim, c->rope.rot_dim);
    }
    return lrp_hp_token_ids(h, c);
}

static int phi_read_gguf(lrp_config *c, const lrp_hp_gguf *h) {
    const int BIG = 1 << 30;
    int phi3 = !strcmp(h->arch, "phi3");
    strcpy(c->model_type, phi3 ? "phi3" : "phi");  // one model_type per architecture, as config.json has
    strcpy(c->hidden_act, phi3 ? "silu" : "gelu_new");
    if (lrp_hp_gguf_int(h, "embedding_length", 1, 1, BIG, &c->hidden_size) ||
        lrp_hp_gguf_int(h, "block_count", 1, 1, 1 << 16, &c->num_layers) ||
        lrp_hp_gguf_int(h, "attention.head_count", 1, 1, 1 << 16, &c->num_heads) ||
        lrp_hp_gguf_int(h, "feed_forward_length", 1, 1, BIG, &c->intermediate_size))
        return -1;
    c->num_kv_heads = c->num_heads;
    if (lrp_hp_gguf_int(h, "attention.head_count_kv", 0, 1, 1 << 16, &c->num_kv_heads) < 0) return -1;
    if (c->hidden_size % c->num_heads != 0)
        return lrp_fail(h->err, "%s: embedding_length %d is not a multiple of head_count %d", h->label, c->hidden_size,
                        c->num_heads);
    c->head_dim = c->hidden_size / c->num_heads;
    if (lrp_hp_gguf_int(h, "context_length", 0, 1, INT32_MAX, &c->max_position_embeddings) < 0 ||
        lrp_hp_gguf_float(h, phi3 ? "attention.layer_norm_rms_epsilon" : "attention.layer_norm_epsilon", 1,
                          &c->norm_eps) < 0)
        return -1;
    if (lrp_hp_gguf_rope(h, c)) return -1;
    c->rope.pairing = LRP_ROPE_PAIR_HALVES;  // llama.cpp runs both with NeoX rope (rotate_half)
    int rot = c->head_dim;
    if (lrp_hp_gguf_int(h, "rope.dimension_count", 0, 2, c->head_dim, &rot) < 0) return -1;
    c->rope.rot_dim = rot == c->head_dim ? 0 : rot;
    if (phi3) {
        if (lrp_hp_gguf_int(h, "attention.sliding_window", 0, 0, INT32_MAX, &c->sliding_window) < 0) return -1;
    } else {
        c->attention_bias = c->mlp_bias = 1;
        c->qk_layernorm = lrp_tf_find(h->tf, "blk.0.attn_q_norm.weight") != NULL;
    }
    if (lrp_hp_gguf_vocab(h, "token_embd.weight", c) || lrp_hp_gguf_token_ids(h, c)) return -1;
    c->tie_word_embeddings = lrp_tf_find(h->tf, "output.weight") == NULL;
    // LongRoPE: llama.cpp's converter stores the factors as tensors, the attention factor as metadata.
    if (phi3 && lrp_tf_find(h->tf, "rope_factors_long.weight")) {
        c->rope.scaling = LRP_ROPE_SCALING_LONGROPE;
        c->rope.attention_factor = 1.0;
        if (lrp_hp_gguf_float(h, "rope.scaling.attn_factor", 0, &c->rope.attention_factor) < 0) return -1;
        if (c->rope.original_max_position <= 0)
            return lrp_fail(h->err, "%s: rope_factors_long.weight without %s.rope.scaling.original_context_length",
                            h->label, h->arch);
        if (rot / 2 > LRP_ROPE_MAX_FREQS)
            return lrp_fail(h->err, "%s: LongRoPE with %d rotated pairs is not supported (at most %d)", h->label,
                            rot / 2, LRP_ROPE_MAX_FREQS);
        c->rope.n_freq_factors = rot / 2;  // the values are read when the tensors are bound
        for (int i = 0; i < c->rope.n_freq_factors; i++)
            c->rope.freq_factors[i] = c->rope.long_factors[i] = 1.0;
    }
    return 0;
}

// ---- weights ----------------------------------------------------------------------------------------

typedef struct {
    lrp_weight ln_w, ln_b;                    // phi: input_layernorm; phi3: input_layernorm (RMS)
    lrp_weight mlp_norm;                      // phi3: post_attention_layernorm
    lrp_weight qkv, qkv_b;                    // fused storage (phi3 HF, GGUF attn_qkv)
    lrp_weight q, k, v, q_b, k_b, v_b, o, o_b;
    lrp_weight q_ln_w, q_ln_b, k_ln_w, k_ln_b;  // phi qk_layernorm
    lrp_weight gate_up, gate, up;             // phi3
    lrp_weight fc1, fc1_b, fc2, fc2_b;        // phi fc1/fc2; phi3 uses fc2 for down_proj
} phi_layer;

typedef struct {
    lrp_weight embed, norm_w, norm_b, head, head_b;
    lrp_act_fn act;
    phi_layer layers[];
} phi_weights;

enum {
    N_EMBED, N_HEAD, N_NORM, N_LN, N_MLP_NORM, N_Q, N_K, N_V, N_QKV, N_O, N_Q_LN, N_K_LN, N_FC1, N_FC2, N_GATE_UP,
    N_DOWN, N_COUNT
};
// [which][phi3][gguf]; "%d" is the layer.
static const char *const names[N_COUNT][2][2] = {
    [N_EMBED] = {{"model.embed_tokens", "token_embd"}, {"model.embed_tokens", "token_embd"}},
    [N_HEAD] = {{"lm_head", "output"}, {"lm_head", "output"}},
    [N_NORM] = {{"model.final_layernorm", "output_norm"}, {"model.norm", "output_norm"}},
    [N_LN] = {{"model.layers.%d.input_layernorm", "blk.%d.attn_norm"},
              {"model.layers.%d.input_layernorm", "blk.%d.attn_norm"}},
    [N_MLP_NORM] = {{"", ""}, {"model.layers.%d.post_attention_layernorm", "blk.%d.ffn_norm"}},
    [N_Q] = {{"model.layers.%d.self_attn.q_proj", "blk.%d.attn_q"}, {"", "blk.%d.attn_q"}},
    [N_K] = {{"model.layers.%d.self_attn.k_proj", "blk.%d.attn_k"}, {"", "blk.%d.attn_k"}},
    [N_V] = {{"model.layers.%d.self_attn.v_proj", "blk.%d.attn_v"}, {"", "blk.%d.attn_v"}},
    [N_QKV] = {{"", "blk.%d.attn_qkv"}, {"model.layers.%d.self_attn.qkv_proj", "blk.%d.attn_qkv"}},
    [N_O] = {{"model.layers.%d.self_attn.dense", "blk.%d.attn_output"},
             {"model.layers.%d.self_attn.o_proj", "blk.%d.attn_output"}},
    [N_Q_LN] = {{"model.layers.%d.self_attn.q_layernorm", "blk.%d.attn_q_norm"}, {"", ""}},
    [N_K_LN] = {{"model.layers.%d.self_attn.k_layernorm", "blk.%d.attn_k_norm"}, {"", ""}},
    [N_FC1] = {{"model.layers.%d.mlp.fc1", "blk.%d.ffn_up"}, {"", ""}},
    [N_FC2] = {{"model.layers.%d.mlp.fc2", "blk.%d.ffn_down"}, {"", ""}},
    [N_GATE_UP] = {{"", ""}, {"model.layers.%d.mlp.gate_up_proj", "blk.%d.ffn_up"}},
    [N_DOWN] = {{"", ""}, {"model.layers.%d.mlp.down_proj", "blk.%d.ffn_down"}},
};

static const char *name_of(const lrp_model *m, int which) {
    return names[which][is_phi3(&m->cfg)][lrp_model_is_gguf(m)];
}

static int has(const lrp_model *m, int which, int l) {
    char full[192];
    snprintf(full, sizeof full, name_of(m, which), l);
    strncat(full, ".weight", sizeof full - strlen(full) - 1);
    return lrp_tf_find(&m->tf, full) != NULL;
}

static int bind(lrp_model *m, lrp_weight *w, int which, int l, const char *suffix, int optional, int64_t d0,
                int64_t d1, lrp_err *err) {
    char stem[160];
    snprintf(stem, sizeof stem, name_of(m, which), l);
    return lrp_bind(m, w, optional, 0, d0, d1, err, "%s.%s", stem, suffix);
}

// llama.cpp's LongRoPE factor tensors [rot_dim/2] into the rope parameters.
static int rope_factors(lrp_model *m, const char *name, double *out, lrp_err *err) {
    int n = m->cfg.rope.n_freq_factors;
    if (n <= 0 || n > LRP_ROPE_MAX_FREQS)
        return lrp_fail(err, "%s: %s for %d rotated pairs is not supported", m->path, name, n);
    lrp_weight w;
    float f[LRP_ROPE_MAX_FREQS];
    if (lrp_bind(m, &w, 0, 0, n, -1, err, "%s", name)) return -1;
    lrp_weight_vector(&w, f);
    for (int i = 0; i < n; i++) {
        if (!isfinite(f[i]) || f[i] <= 0)
            return lrp_fail(err, "%s: %s element %d must be positive (got %g)", m->path, name, i, f[i]);
        out[i] = f[i];
    }
    return 0;
}

static int phi_bind(lrp_model *m, lrp_err *err) {
    const lrp_config *c = &m->cfg;
    int phi3 = is_phi3(c), gguf = lrp_model_is_gguf(m);
    int act = lrp_act_fn_parse(c->hidden_act);
    if (act < 0) return lrp_fail(err, "%s: hidden_act \"%s\" is not supported", m->path, c->hidden_act);
    if (gguf && phi3 && c->rope.scaling == LRP_ROPE_SCALING_LONGROPE &&
        (rope_factors(m, "rope_factors_short.weight", m->cfg.rope.freq_factors, err) ||
         rope_factors(m, "rope_factors_long.weight", m->cfg.rope.long_factors, err)))
        return -1;
    phi_weights *w = lrp_bind_alloc(m, sizeof *w + (size_t)c->num_layers * sizeof(phi_layer), err);
    if (!w) return -1;
    w->act = (lrp_act_fn)act;
    int64_t d = c->hidden_size, qd = (int64_t)c->num_heads * c->head_dim, kvd = (int64_t)c->num_kv_heads * c->head_dim;
    int64_t ff = c->intermediate_size, V = c->vocab_size, hd = c->head_dim;
    if (bind(m, &w->embed, N_EMBED, 0, "weight", 0, V, d, err) ||
        bind(m, &w->norm_w, N_NORM, 0, "weight", 0, d, -1, err) ||
        (!phi3 && bind(m, &w->norm_b, N_NORM, 0, "bias", 0, d, -1, err)))
        return -1;
    if (c->tie_word_embeddings && !has(m, N_HEAD, 0)) {
        w->head = w->embed;
    } else if (bind(m, &w->head, N_HEAD, 0, "weight", 0, V, d, err)) {
        return -1;
    }
    // Phi's lm_head has a bias; a GGUF twin may lack it (then zero).
    if (!phi3 && bind(m, &w->head_b, N_HEAD, 0, "bias", gguf, V, -1, err)) return -1;
    for (int l = 0; l < c->num_layers; l++) {
        phi_layer *L = &w->layers[l];
        if (bind(m, &L->ln_w, N_LN, l, "weight", 0, d, -1, err) ||
            (!phi3 && bind(m, &L->ln_b, N_LN, l, "bias", 0, d, -1, err)) ||
            (phi3 && bind(m, &L->mlp_norm, N_MLP_NORM, l, "weight", 0, d, -1, err)))
            return -1;
        int fused = phi3 ? !gguf || has(m, N_QKV, l) : gguf && has(m, N_QKV, l);
        if (fused) {
            if (bind(m, &L->qkv, N_QKV, l, "weight", 0, qd + 2 * kvd, d, err) ||
                (!phi3 && bind(m, &L->qkv_b, N_QKV, l, "bias", 0, qd + 2 * kvd, -1, err)))
                return -1;
            L->q = lrp_weight_rows(&L->qkv, 0, qd);
            L->k = lrp_weight_rows(&L->qkv, qd, kvd);
            L->v = lrp_weight_rows(&L->qkv, qd + kvd, kvd);
            if (!phi3) {
                L->q_b = lrp_weight_rows(&L->qkv_b, 0, qd);
                L->k_b = lrp_weight_rows(&L->qkv_b, qd, kvd);
                L->v_b = lrp_weight_rows(&L->qkv_b, qd + kvd, kvd);
            }
        } else if (bind(m, &L->q, N_Q, l, "weight", 0, qd, d, err) ||
                   bind(m, &L->k, N_K, l, "weight", 0, kvd, d, err) ||
                   bind(m, &L->v, N_V, l, "weight", 0, kvd, d, err) ||
                   (!phi3 && (bind(m, &L->q_b, N_Q, l, "bias", 0, qd, -1, err) ||
                              bind(m, &L->k_b, N_K, l, "bias", 0, kvd, -1, err) ||
                              bind(m, &L->v_b, N_V, l, "bias", 0, kvd, -1, err)))) {
            return -1;
        }
        if (bind(m, &L->o, N_O, l, "weight", 0, d, qd, err) ||
            (!phi3 && bind(m, &L->o_b, N_O, l, "bias", 0, d, -1, err)))
            return -1;
        if (c->qk_layernorm &&
            (bind(m, &L->q_ln_w, N_Q_LN, l, "weight", 0, hd, -1, err) ||
             bind(m, &L->q_ln_b, N_Q_LN, l, "bias", 0, hd, -1, err) ||
             bind(m, &L->k_ln_w, N_K_LN, l, "weight", 0, hd, -1, err) ||
             bind(m, &L->k_ln_b, N_K_LN, l, "bias", 0, hd, -1, err)))
            return -1;
        if (phi3) {
            if (bind(m, &L->gate_up, N_GATE_UP, l, "weight", 0, 2 * ff, d, err) ||
                bind(m, &L->fc2, N_DOWN, l, "weight", 0, d, ff, err))
                return -1;
            L->gate = lrp_weight_rows(&L->gate_up, 0, ff);
            L->up = lrp_weight_rows(&L->gate_up, ff, ff);
        } else if (bind(m, &L->fc1, N_FC1, l, "weight", 0, ff, d, err) ||
                   bind(m, &L->fc1_b, N_FC1, l, "bias", 0, ff, -1, err) ||
                   bind(m, &L->fc2, N_FC2, l, "weight", 0, d, ff, err) ||
                   bind(m, &L->fc2_b, N_FC2, l, "bias", 0, d, -1, err)) {
            return -1;
        }
    }
    return 0;
}

// ---- forward ----------------------------------------------------------------------------------------

// LayerNorm over each head of x [T, n_heads·hd] (Phi's qk_layernorm).
static lrp_act *head_layernorm(lrp_graph *g, lrp_act *x, const lrp_weight *w, const lrp_weight *b, float eps,
                               int n_heads, int hd) {
    if (!x) return NULL;
    int T = x->rows;
    lrp_act *y = op_layernorm(g, op_reshape(g, x, T * n_heads, hd), w, b, eps);
    return op_reshape(g, y, T, n_heads * hd);
}

static int phi_forward(const lrp_model *m, lrp_graph *g, lrp_forward *f) {
    const lrp_config *c = &m->cfg;
    const phi_weights *w = m->weights;
    const lrp_inputs *in = &f->in;
    int phi3 = is_phi3(c), H = c->num_heads, KVH = c->num_kv_heads, hd = c->head_dim;
    float eps = (float)c->norm_eps;
    lrp_attn_spec spec;
    lrp_rope *rope = lrp_rope_decoder_start(g, c, f, &spec);

    lrp_act *x = op_embedding(g, &w->embed, in->ids, in->T, 1.0f, in->embed_scale, in->embed_noise);
    f->taps.input[LRP_INPUT_WORDS] = x;
    for (int l = 0; l < c->num_layers; l++) {
        const phi_layer *L = &w->layers[l];
        lrp_act *h = phi3 ? op_rmsnorm(g, x, &L->ln_w, eps, c->hidden_size)
                          : op_layernorm(g, x, &L->ln_w, &L->ln_b, eps);
        lrp_act *q = op_linear(g, h, &L->q, &L->q_b);
        lrp_act *k = op_linear(g, h, &L->k, &L->k_b);
        lrp_act *v = op_linear(g, h, &L->v, &L->v_b);
        if (L->q_ln_w.t) {
            q = head_layernorm(g, q, &L->q_ln_w, &L->q_ln_b, eps, H, hd);
            k = head_layernorm(g, k, &L->k_ln_w, &L->k_ln_b, eps, KVH, hd);
        }
        q = op_rope(g, q, rope, H);
        k = op_rope(g, k, rope, KVH);
        lrp_act *a = op_linear(g, lrp_self_attention(g, f, l, q, k, v, &spec), &L->o, &L->o_b);
        if (phi3) {  // sequential: the MLP on the attention's residual; Phi: both on h, in parallel
            x = op_add(g, x, a);
            h = op_rmsnorm(g, x, &L->mlp_norm, eps, c->hidden_size);
        }
        lrp_mlp_weights mw = {.up = &L->fc1, .up_bias = &L->fc1_b, .down = &L->fc2, .down_bias = &L->fc2_b};
        if (phi3) mw = (lrp_mlp_weights){.gate = &L->gate, .up = &L->up, .down = &L->fc2, .down_bias = &L->fc2_b};
        lrp_act *mlp = lrp_mlp(g, f, l, h, &mw, w->act);
        x = phi3 ? op_add(g, x, mlp) : op_add(g, x, op_add(g, a, mlp));
        f->taps.block_out[l] = x;
    }
    x = phi3 ? op_rmsnorm(g, x, &w->norm_w, eps, c->hidden_size) : op_layernorm(g, x, &w->norm_w, &w->norm_b, eps);
    return lrp_decoder_logits(g, f, x, &w->head, &w->head_b, 0.0f);
}

// `attnlrp neuron`: fc2's (Phi-3: down_proj's) column through the final norm's weight (Phi's LayerNorm
// bias and lm_head's bias left out) and lm_head.
static int phi_neuron_readout(const lrp_model *m, int l, int expert, lrp_neuron_readout *r, lrp_err *err) {
    (void)expert, (void)err;
    const phi_weights *w = m->weights;
    r->down = w->layers[l].fc2;
    r->norm[0] = w->norm_w;
    r->unembed = w->head;
    return 0;
}

static const char *const model_types[] = {"phi", "phi3", NULL};
static const char *const gguf_archs[] = {"phi2", "phi3", NULL};
const lrp_family lrp_family_phi = {
    .name = "phi",
    .model_types = model_types,
    .gguf_archs = gguf_archs,
    .summary = "Phi-1.5, Phi-2 (parallel attention/MLP, LayerNorm, partial rotary, qk_layernorm); Phi-3, Phi-3.5, "
               "Phi-4-mini (fused qkv and gate_up, LongRoPE)",
    .read_config = phi_read_config,
    .read_gguf = phi_read_gguf,
    .bind = phi_bind,
    .forward = phi_forward,
    .neuron_readout = phi_neuron_readout,
};

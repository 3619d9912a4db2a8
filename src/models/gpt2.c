// GPT-2 (gpt2: GPT-2, DistilGPT-2). Pre-norm blocks with LayerNorm and learned absolute positions:
//   x = wte[ids] + wpe[positions]
//   x = x + c_proj(attention(split(c_attn(ln_1(x)))))        (fused q|k|v, causal)
//   x = x + mlp.c_proj(gelu_new(mlp.c_fc(ln_2(x))))
//   logits = ln_f(x) · wteᵀ                                  (tied head, or lm_head)
// Hugging Face stores Conv1D weights [in, out] (transposed views here) with or without the
// "transformer." prefix; llama.cpp's GGUF stores them [out, in] under blk.N.* names.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "models/bind.h"
#include "models/blocks.h"
#include "models/registry.h"

static int gpt2_read_config(lrp_config *c, const lrp_hp *h) {
    static const char *const d[] = {"n_embd", "hidden_size", NULL}, *const L[] = {"n_layer", "num_hidden_layers", NULL},
                             *const H[] = {"n_head", "num_attention_heads", NULL},
                             *const P[] = {"n_positions", "max_position_embeddings", NULL};
    if (lrp_hp_int_any(h, d, 1, &c->hidden_size) || lrp_hp_int_any(h, L, 1, &c->num_layers) ||
        lrp_hp_int_any(h, H, 1, &c->num_heads) || lrp_hp_int(h, "vocab_size", 1, &c->vocab_size) ||
        lrp_hp_int_any(h, P, 1, &c->max_position_embeddings))
        return -1;
    c->num_kv_heads = c->num_heads;
    if (c->num_heads > 0 && c->hidden_size % c->num_heads != 0)
        return lrp_fail(h->err, "%s: n_embd %d is not divisible by n_head %d", h->where, c->hidden_size, c->num_heads);
    c->head_dim = c->num_heads > 0 ? c->hidden_size / c->num_heads : 0;
    c->intermediate_size = 4 * c->hidden_size;  // n_inner null or absent: 4·n_embd
    strcpy(c->hidden_act, "gelu_new");
    c->norm_eps = 1e-5;
    c->tie_word_embeddings = 1;
    int by_layer = 0, scale = 1;
    if (lrp_hp_int(h, "n_inner", 0, &c->intermediate_size) ||
        lrp_hp_string(h, "activation_function", c->hidden_act, sizeof c->hidden_act) ||
        lrp_hp_eps(h, "layer_norm_epsilon", &c->norm_eps) ||
        lrp_hp_bool(h, "tie_word_embeddings", &c->tie_word_embeddings) ||
        lrp_hp_bool(h, "scale_attn_weights", &scale) || lrp_hp_bool(h, "scale_attn_by_inverse_layer_idx", &by_layer) ||
        lrp_hp_token_ids(h, c))
        return -1;
    if (!scale || by_layer)
        return lrp_fail(h->err, "%s: scale_attn_weights false / scale_attn_by_inverse_layer_idx true are not supported",
                        h->where);
    if (c->task != LRP_TASK_CAUSAL_LM)
        return lrp_fail(h->err, "%s: architecture \"%s\" is not supported for gpt2 (only GPT2LMHeadModel)", h->where,
                        c->architecture);
    return 0;
}

static int gpt2_read_gguf(lrp_config *c, const lrp_hp_gguf *h) {
    const int BIG = 1 << 30;
    strcpy(c->hidden_act, "gelu_new");
    if (lrp_hp_gguf_int(h, "embedding_length", 1, 1, BIG, &c->hidden_size) ||
        lrp_hp_gguf_int(h, "block_count", 1, 1, 1 << 16, &c->num_layers) ||
        lrp_hp_gguf_int(h, "attention.head_count", 1, 1, 1 << 16, &c->num_heads) ||
        lrp_hp_gguf_int(h, "feed_forward_length", 1, 1, BIG, &c->intermediate_size) ||
        lrp_hp_gguf_int(h, "context_length", 1, 1, BIG, &c->max_position_embeddings) ||
        lrp_hp_gguf_float(h, "attention.layer_norm_epsilon", 1, &c->norm_eps) < 0)
        return -1;
    if (c->hidden_size % c->num_heads != 0)
        return lrp_fail(h->err, "%s: embedding_length %d is not a multiple of head_count %d", h->label, c->hidden_size,
                        c->num_heads);
    c->num_kv_heads = c->num_heads;
    c->head_dim = c->hidden_size / c->num_heads;
    c->tie_word_embeddings = lrp_tf_find(h->tf, "output.weight") == NULL;
    return lrp_hp_gguf_vocab(h, "token_embd.weight", c) || lrp_hp_gguf_token_ids(h, c);
}

typedef struct {
    lrp_weight ln1_w, ln1_b, qkv, qkv_b, proj, proj_b, ln2_w, ln2_b, fc, fc_b, fc_proj, fc_proj_b;
    lrp_weight q, k, v, q_b, k_b, v_b;  // row views of the fused c_attn
} gpt2_layer;

typedef struct {
    lrp_weight wte, wpe, lnf_w, lnf_b, head;
    lrp_act_fn act;
    gpt2_layer layers[];
} gpt2_weights;

enum { N_WTE, N_WPE, N_LNF, N_HEAD, N_LN1, N_QKV, N_PROJ, N_LN2, N_FC, N_FC_PROJ };
// Hugging Face (after the optional "transformer." prefix), then GGUF; "%d" is the layer.
static const char *const names[][2] = {
    [N_WTE] = {"wte", "token_embd"},         [N_WPE] = {"wpe", "position_embd"},
    [N_LNF] = {"ln_f", "output_norm"},       [N_HEAD] = {"lm_head", "output"},
    [N_LN1] = {"h.%d.ln_1", "blk.%d.attn_norm"}, [N_QKV] = {"h.%d.attn.c_attn", "blk.%d.attn_qkv"},
    [N_PROJ] = {"h.%d.attn.c_proj", "blk.%d.attn_output"}, [N_LN2] = {"h.%d.ln_2", "blk.%d.ffn_norm"},
    [N_FC] = {"h.%d.mlp.c_fc", "blk.%d.ffn_up"}, [N_FC_PROJ] = {"h.%d.mlp.c_proj", "blk.%d.ffn_down"},
};

// Binds "<prefix><name>.<suffix>"; HF Conv1D matrices are stored transposed.
static int bind(lrp_model *m, lrp_weight *w, int which, int l, const char *suffix, int64_t d0, int64_t d1,
                lrp_err *err) {
    int gguf = lrp_model_is_gguf(m), conv1d = !gguf && d1 >= 0 && which != N_WTE && which != N_WPE && which != N_HEAD;
    // The prefix is whatever the file uses: HF hub files have "transformer.", some exports do not.
    const char *prefix = !gguf && which != N_HEAD && lrp_tf_find(&m->tf, "transformer.wte.weight") ? "transformer." : "";
    char stem[160];
    snprintf(stem, sizeof stem, names[which][gguf], l);
    return lrp_bind(m, w, 0, conv1d, d0, d1, err, "%s%s.%s", prefix, stem, suffix);
}

static int gpt2_bind(lrp_model *m, lrp_err *err) {
    const lrp_config *c = &m->cfg;
    int act = lrp_act_fn_parse(c->hidden_act);
    if (act < 0) return lrp_fail(err, "%s: activation_function \"%s\" is not supported", m->path, c->hidden_act);
    gpt2_weights *w = lrp_bind_alloc(m, sizeof *w + (size_t)c->num_layers * sizeof(gpt2_layer), err);
    if (!w) return -1;
    w->act = (lrp_act_fn)act;
    int64_t d = c->hidden_size, ff = c->intermediate_size;
    if (bind(m, &w->wte, N_WTE, 0, "weight", c->vocab_size, d, err) ||
        bind(m, &w->wpe, N_WPE, 0, "weight", c->max_position_embeddings, d, err) ||
        bind(m, &w->lnf_w, N_LNF, 0, "weight", d, -1, err) || bind(m, &w->lnf_b, N_LNF, 0, "bias", d, -1, err))
        return -1;
    w->head = w->wte;
    if (!c->tie_word_embeddings && bind(m, &w->head, N_HEAD, 0, "weight", c->vocab_size, d, err)) return -1;
    for (int l = 0; l < c->num_layers; l++) {
        gpt2_layer *L = &w->layers[l];
        if (bind(m, &L->ln1_w, N_LN1, l, "weight", d, -1, err) || bind(m, &L->ln1_b, N_LN1, l, "bias", d, -1, err) ||
            bind(m, &L->qkv, N_QKV, l, "weight", 3 * d, d, err) || bind(m, &L->qkv_b, N_QKV, l, "bias", 3 * d, -1, err) ||
            bind(m, &L->proj, N_PROJ, l, "weight", d, d, err) || bind(m, &L->proj_b, N_PROJ, l, "bias", d, -1, err) ||
            bind(m, &L->ln2_w, N_LN2, l, "weight", d, -1, err) || bind(m, &L->ln2_b, N_LN2, l, "bias", d, -1, err) ||
            bind(m, &L->fc, N_FC, l, "weight", ff, d, err) || bind(m, &L->fc_b, N_FC, l, "bias", ff, -1, err) ||
            bind(m, &L->fc_proj, N_FC_PROJ, l, "weight", d, ff, err) ||
            bind(m, &L->fc_proj_b, N_FC_PROJ, l, "bias", d, -1, err))
            return -1;
        L->q = lrp_weight_rows(&L->qkv, 0, d);
        L->k = lrp_weight_rows(&L->qkv, d, d);
        L->v = lrp_weight_rows(&L->qkv, 2 * d, d);
        L->q_b = lrp_weight_rows(&L->qkv_b, 0, d);
        L->k_b = lrp_weight_rows(&L->qkv_b, d, d);
        L->v_b = lrp_weight_rows(&L->qkv_b, 2 * d, d);
    }
    return 0;
}

static int gpt2_forward(const lrp_model *m, lrp_graph *g, lrp_forward *f) {
    const lrp_config *c = &m->cfg;
    const gpt2_weights *w = m->weights;
    const lrp_inputs *in = &f->in;
    lrp_kv_cache *cache = f->cache;
    int T = in->T, pos0 = cache ? cache->len : 0;
    float eps = (float)c->norm_eps;
    int *pos = lrp_graph_alloc(g, (size_t)T * sizeof(int), 0);
    if (!pos) return -1;
    for (int t = 0; t < T; t++) {
        pos[t] = in->positions ? in->positions[t] : pos0 + t;
        if (pos[t] < 0 || pos[t] >= c->max_position_embeddings) {
            lrp_graph_fail(g, "input position %d is beyond the model's %d learned positions", pos[t],
                           c->max_position_embeddings);
            return -1;
        }
    }
    lrp_act *e = op_embedding(g, &w->wte, in->ids, T, 1.0f, in->embed_scale, in->embed_noise);
    lrp_act *p = op_embedding(g, &w->wpe, pos, T, 1.0f, NULL, NULL);
    f->taps.input[LRP_INPUT_WORDS] = e;
    f->taps.input[LRP_INPUT_POSITIONS] = p;
    lrp_act *x = op_add(g, e, p);
    lrp_attn_spec spec = {.n_heads = c->num_heads, .n_kv_heads = c->num_heads, .head_dim = c->head_dim,
                          .scale = 1.0f / sqrtf((float)c->head_dim), .mask = LRP_ATTN_CAUSAL,
                          .key_mask = cache ? NULL : in->attention_mask};
    for (int l = 0; l < c->num_layers; l++) {
        const gpt2_layer *L = &w->layers[l];
        lrp_act *h = op_layernorm(g, x, &L->ln1_w, &L->ln1_b, eps);
        lrp_act *q = op_linear(g, h, &L->q, &L->q_b);
        lrp_act *k = op_linear(g, h, &L->k, &L->k_b);
        lrp_act *v = op_linear(g, h, &L->v, &L->v_b);
        x = op_add(g, x, op_linear(g, lrp_self_attention(g, f, l, q, k, v, &spec), &L->proj, &L->proj_b));
        h = op_layernorm(g, x, &L->ln2_w, &L->ln2_b, eps);
        lrp_mlp_weights mw = {.up = &L->fc, .up_bias = &L->fc_b, .down = &L->fc_proj, .down_bias = &L->fc_proj_b};
        x = op_add(g, x, lrp_mlp(g, f, l, h, &mw, w->act));
        f->taps.block_out[l] = x;
    }
    x = op_layernorm(g, x, &w->lnf_w, &w->lnf_b, eps);
    return lrp_decoder_logits(g, f, x, &w->head, NULL, 0.0f);
}

// `attnlrp neuron`: c_proj's column through ln_f's weight (its bias left out) and the (tied) head.
static int gpt2_neuron_readout(const lrp_model *m, int l, int expert, lrp_neuron_readout *r, lrp_err *err) {
    (void)expert, (void)err;
    const gpt2_weights *w = m->weights;
    r->down = w->layers[l].fc_proj;
    r->norm[0] = w->lnf_w;
    r->unembed = w->head;
    return 0;
}

static const char *const model_types[] = {"gpt2", NULL};
const lrp_family lrp_family_gpt2 = {
    .name = "gpt2",
    .model_types = model_types,
    .gguf_archs = model_types,
    .summary = "GPT-2, DistilGPT-2 (Conv1D weights, fused q/k/v, learned positions, LayerNorm, gelu_new)",
    .read_config = gpt2_read_config,
    .read_gguf = gpt2_read_gguf,
    .bind = gpt2_bind,
    .forward = gpt2_forward,
    .neuron_readout = gpt2_neuron_readout,
};

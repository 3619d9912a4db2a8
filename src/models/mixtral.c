// Mixture-of-experts decoders: mixtral (Mixtral 8x7B, GGUF arch "llama" with llama.expert_count) and
// qwen3_moe (Qwen3-MoE: per-head q/k RMSNorm, explicit head_dim, norm_topk_prob; GGUF arch "qwen3moe") and
// qwen2_moe (Qwen1.5-MoE, Qwen2-MoE: q/k/v biases, norm_topk_prob default false, and a shared expert; GGUF
// arch "qwen2moe").
// LLaMA-shaped pre-norm blocks whose MLP is a sparse mixture of SwiGLU experts:
//   h = x + o_proj(attention(rope(q(n1(x))), rope(k(n1(x))), v(n1(x))))
//   p = softmax(router(n2(h)))  (float32, over all experts);  w, E = top-k of p (renormalised: Mixtral
//   always, Qwen3-MoE when norm_topk_prob)
//   x' = h + Σ_k w_k · down_k(act(gate_k(n2(h))) ⊙ up_k(n2(h)))
// Each expert runs only on the rows routed to it (gather, expert), and one op_moe_combine scales the
// expert outputs by their routing weights and adds them into the residual, so the cost follows the
// active parameters. The rules live in the ops (ops/moe.c).
//
// Qwen2-MoE's shared expert (transformers modeling_qwen2_moe.py, Qwen2MoeSparseMoeBlock; checked there:
// the router is mlp.gate [E, d] without bias, softmax in float32 over all experts, torch.topk, the k
// weights divided by their sum only when norm_topk_prob (config default false); experts mlp.experts.{j}.
// {gate,up,down}_proj of moe_intermediate_size; the shared expert mlp.shared_expert.{gate,up,down}_proj of
// shared_expert_intermediate_size runs on every token; mlp.shared_expert_gate is a Linear(d, 1) without
// bias; q/k/v_proj carry biases unless qkv_bias is false, o_proj none; layers are sparse unless listed in mlp_only_layers or
// (l + 1) % decoder_sparse_step != 0, which we refuse):
//   x' = h + Σ_k w_k E_k(n2(h)) + σ(shared_expert_gate(n2(h))) · S(n2(h))       (σ: [T, 1], one per token)
// llama.cpp (arch "qwen2moe", build_qwen2moe: no renormalisation, NEOX rope so q/k are not permuted):
// blk.N.ffn_gate_inp_shexp [d] (or [1, d]), blk.N.ffn_{gate,up,down}_shexp, keys
// qwen2moe.expert_feed_forward_length and qwen2moe.expert_shared_feed_forward_length.
// The rule (SPEC §2 has no row for it; the MoE row by analogy, σ(g) in the role of w_k): attnlrp applies the
// uniform ½ rule to the product σ(g)·S(x) (op_scale_rows with at[r] = r) and relevance flows on through the
// sigmoid into the gate linear (σ takes the identity rule as every activation does); cplrp detaches σ(g),
// so S(x) takes all of the product's relevance. expert_relevance stays [layer][routed expert]: the shared
// gate's relevance is not reported, and the shared expert's neurons are no latents (--latent-expert picks
// a routed expert).
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "formats/gguf.h"
#include "models/bind.h"
#include "models/blocks.h"
#include "models/registry.h"

int lrp_mixtral_read_gguf(lrp_config *c, const lrp_hp_gguf *h);

// ---- hyper-parameters -------------------------------------------------------------------------------

static int check_routing(lrp_config *c, lrp_err *err, const char *where, const char *n_name, const char *k_name) {
    if (c->num_experts_per_tok > c->num_experts)
        return lrp_fail(err, "%s: %s %d exceeds %s %d", where, k_name, c->num_experts_per_tok, n_name, c->num_experts);
    return 0;
}

static int moe_read_config(lrp_config *c, const lrp_hp *h) {
    static const char *const heads[] = {"num_attention_heads", NULL};
    int qwen2 = !strcmp(c->model_type, "qwen2_moe");
    int qwen = qwen2 || !strcmp(c->model_type, "qwen3_moe");  // Qwen's field names
    const char *experts_field = qwen ? "num_experts" : "num_local_experts";
    const char *inter_field = qwen ? "moe_intermediate_size" : "intermediate_size";
    if (lrp_hp_int(h, "hidden_size", 1, &c->hidden_size) || lrp_hp_int(h, "num_hidden_layers", 1, &c->num_layers) ||
        lrp_hp_int_any(h, heads, 1, &c->num_heads) || lrp_hp_int(h, inter_field, 1, &c->intermediate_size) ||
        lrp_hp_int(h, "vocab_size", 1, &c->vocab_size) || lrp_hp_int(h, experts_field, 1, &c->num_experts) ||
        lrp_hp_int(h, "num_experts_per_tok", 1, &c->num_experts_per_tok))
        return -1;
    if (c->num_experts < 1 || c->num_experts_per_tok < 1)
        return lrp_fail(h->err, "%s: fields \"%s\" and \"num_experts_per_tok\" must be positive (got %d, %d)", h->where,
                        experts_field, c->num_experts, c->num_experts_per_tok);
    if (check_routing(c, h->err, h->where, experts_field, "num_experts_per_tok")) return -1;
    c->norm_topk_prob = 1;  // Mixtral always renormalises
    if (qwen) {
        c->norm_topk_prob = 0;
        if (lrp_hp_bool(h, "norm_topk_prob", &c->norm_topk_prob)) return -1;
        int step = 1;
        if (lrp_hp_int(h, "decoder_sparse_step", 0, &step)) return -1;
        json_t *only = json_object_get(h->root, "mlp_only_layers");
        if (step != 1 || (json_is_array(only) && json_array_size(only) > 0))
            return lrp_fail(h->err, "%s: dense layers (decoder_sparse_step != 1 or mlp_only_layers) are not supported",
                            h->where);
        int use_window = 0;
        if (lrp_hp_bool(h, "use_sliding_window", &use_window)) return -1;
        if (use_window) return lrp_fail(h->err, "%s: use_sliding_window true is not supported", h->where);
        if (qwen2) {
            if (lrp_hp_int(h, "shared_expert_intermediate_size", 1, &c->shared_expert_intermediate_size)) return -1;
            if (c->shared_expert_intermediate_size < 1)
                return lrp_fail(h->err, "%s: field \"shared_expert_intermediate_size\" must be positive (got %d)",
                                h->where, c->shared_expert_intermediate_size);
            c->attention_bias = 1;  // Qwen2MoeAttention: q/k/v_proj with bias (config qkv_bias, default true)
            if (lrp_hp_bool(h, "qkv_bias", &c->attention_bias)) return -1;
        }
    } else {
        if (lrp_hp_int(h, "sliding_window", 0, &c->sliding_window)) return -1;
        if (c->sliding_window < 0)
            return lrp_fail(h->err, "%s: field \"sliding_window\" must not be negative (got %d)", h->where,
                            c->sliding_window);
    }
    if (lrp_hp_heads(h, c)) return -1;
    strcpy(c->hidden_act, "silu");
    c->norm_eps = 1e-6;
    if (lrp_hp_string(h, "hidden_act", c->hidden_act, sizeof c->hidden_act) ||
        lrp_hp_eps(h, "rms_norm_eps", &c->norm_eps) ||
        lrp_hp_int(h, "max_position_embeddings", 0, &c->max_position_embeddings) ||
        lrp_hp_bool(h, "tie_word_embeddings", &c->tie_word_embeddings) ||
        (qwen && !qwen2 && lrp_hp_bool(h, "attention_bias", &c->attention_bias)))
        return -1;
    if (c->task != LRP_TASK_CAUSAL_LM)
        return lrp_fail(h->err, "%s: architecture \"%s\" is not supported for %s (only causal LMs)", h->where,
                        c->architecture, c->model_type);
    return lrp_hp_rope(h, c) || lrp_hp_token_ids(h, c);
}

// GGUF: Mixtral is arch "llama" with llama.expert_count (llama.c hands it over), Qwen3-MoE "qwen3moe",
// Qwen2-MoE "qwen2moe".
int lrp_mixtral_read_gguf(lrp_config *c, const lrp_hp_gguf *h) {
    const int BIG = 1 << 30;
    int qwen2 = !strcmp(h->arch, "qwen2moe");
    int qwen = qwen2 || !strcmp(h->arch, "qwen3moe");
    strcpy(c->model_type, qwen2 ? "qwen2_moe" : qwen ? "qwen3_moe" : "mixtral");
    strcpy(c->hidden_act, "silu");
    c->rope.pairing = qwen ? LRP_ROPE_PAIR_HALVES : LRP_ROPE_PAIR_ADJACENT;  // llama.cpp permutes llama q/k
    if (lrp_hp_gguf_int(h, "embedding_length", 1, 1, BIG, &c->hidden_size) ||
        lrp_hp_gguf_int(h, "block_count", 1, 1, 1 << 16, &c->num_layers) ||
        lrp_hp_gguf_int(h, "attention.head_count", 1, 1, 1 << 16, &c->num_heads) ||
        lrp_hp_gguf_int(h, "expert_count", 1, 1, 1 << 16, &c->num_experts) ||
        lrp_hp_gguf_int(h, "expert_used_count", 1, 1, 1 << 16, &c->num_experts_per_tok))
        return -1;
    char ek[96], uk[96];
    snprintf(ek, sizeof ek, "%s.expert_count", h->arch);
    snprintf(uk, sizeof uk, "%s.expert_used_count", h->arch);
    if (check_routing(c, h->err, h->label, ek, uk)) return -1;
    if (lrp_hp_gguf_int(h, qwen ? "expert_feed_forward_length" : "feed_forward_length", 1, 1, BIG,
                        &c->intermediate_size))
        return -1;
    if (qwen2 && lrp_hp_gguf_int(h, "expert_shared_feed_forward_length", 1, 1, BIG,
                                 &c->shared_expert_intermediate_size))
        return -1;
    c->norm_topk_prob = !qwen2;  // llama.cpp normalises the top-k weights of Mixtral and Qwen3-MoE, not Qwen2-MoE
    char nk[96];
    snprintf(nk, sizeof nk, "%s.expert_weights_norm", h->arch);
    const lrp_gguf_value *nv = lrp_gguf_get(h->tf, nk);
    if (nv && lrp_gguf_bool(nv, &c->norm_topk_prob) != 0)
        return lrp_fail(h->err, "%s: metadata \"%s\" must be a bool", h->label, nk);
    if (lrp_hp_gguf_heads(h, c)) return -1;
    if (lrp_hp_gguf_int(h, "context_length", 0, 1, INT32_MAX, &c->max_position_embeddings) < 0 ||
        lrp_hp_gguf_float(h, "attention.layer_norm_rms_epsilon", 1, &c->norm_eps) < 0)
        return -1;
    if (lrp_hp_gguf_rope(h, c)) return -1;
    if (lrp_hp_gguf_vocab(h, "token_embd.weight", c) || lrp_hp_gguf_token_ids(h, c)) return -1;
    c->tie_word_embeddings = lrp_tf_find(h->tf, "output.weight") == NULL;
    c->attention_bias = lrp_tf_find(h->tf, "blk.0.attn_q.bias") != NULL;
    return 0;
}

// ---- weights ----------------------------------------------------------------------------------------

typedef struct {
    lrp_weight gate, up, down;
} moe_expert;

typedef struct {
    lrp_weight attn_norm;
    lrp_rope_attn_weights attn;
    lrp_weight mlp_norm, router;
    moe_expert *experts;  // [num_experts]
    moe_expert shared;    // qwen2_moe: the shared expert (no storage otherwise)
    lrp_weight shared_gate;  // qwen2_moe: shared_expert_gate [1, d]
} moe_layer;

typedef struct {
    lrp_weight embed, final_norm, head;
    lrp_act_fn act;
    moe_layer layers[];
} moe_weights;

// Tensor names: Mixtral (HF), Qwen3-MoE (HF), GGUF; "%d" is the layer (then the expert).
enum { N_EMBED, N_HEAD, N_NORM, N_ATTN_NORM, N_Q, N_K, N_V, N_O, N_Q_NORM, N_K_NORM, N_MLP_NORM, N_ROUTER,
       N_GATE, N_UP, N_DOWN, N_SH_GATE, N_SH_UP, N_SH_DOWN, N_SH_SCALE };
static const char *const names[][3] = {
    [N_EMBED] = {"model.embed_tokens", "model.embed_tokens", "token_embd"},
    [N_HEAD] = {"lm_head", "lm_head", "output"},
    [N_NORM] = {"model.norm", "model.norm", "output_norm"},
    [N_ATTN_NORM] = {"model.layers.%d.input_layernorm", "model.layers.%d.input_layernorm", "blk.%d.attn_norm"},
    [N_Q] = {"model.layers.%d.self_attn.q_proj", "model.layers.%d.self_attn.q_proj", "blk.%d.attn_q"},
    [N_K] = {"model.layers.%d.self_attn.k_proj", "model.layers.%d.self_attn.k_proj", "blk.%d.attn_k"},
    [N_V] = {"model.layers.%d.self_attn.v_proj", "model.layers.%d.self_attn.v_proj", "blk.%d.attn_v"},
    [N_O] = {"model.layers.%d.self_attn.o_proj", "model.layers.%d.self_attn.o_proj", "blk.%d.attn_output"},
    [N_Q_NORM] = {"model.layers.%d.self_attn.q_norm", "model.layers.%d.self_attn.q_norm", "blk.%d.attn_q_norm"},
    [N_K_NORM] = {"model.layers.%d.self_attn.k_norm", "model.layers.%d.self_attn.k_norm", "blk.%d.attn_k_norm"},
    [N_MLP_NORM] = {"model.layers.%d.post_attention_layernorm", "model.layers.%d.post_attention_layernorm",
                    "blk.%d.ffn_norm"},
    [N_ROUTER] = {"model.layers.%d.block_sparse_moe.gate", "model.layers.%d.mlp.gate", "blk.%d.ffn_gate_inp"},
    [N_GATE] = {"model.layers.%d.block_sparse_moe.experts.%d.w1", "model.layers.%d.mlp.experts.%d.gate_proj",
                "blk.%d.ffn_gate_exps"},
    [N_UP] = {"model.layers.%d.block_sparse_moe.experts.%d.w3", "model.layers.%d.mlp.experts.%d.up_proj",
              "blk.%d.ffn_up_exps"},
    [N_DOWN] = {"model.layers.%d.block_sparse_moe.experts.%d.w2", "model.layers.%d.mlp.experts.%d.down_proj",
                "blk.%d.ffn_down_exps"},
    // Qwen2-MoE's shared expert (no Mixtral names)
    [N_SH_GATE] = {NULL, "model.layers.%d.mlp.shared_expert.gate_proj", "blk.%d.ffn_gate_shexp"},
    [N_SH_UP] = {NULL, "model.layers.%d.mlp.shared_expert.up_proj", "blk.%d.ffn_up_shexp"},
    [N_SH_DOWN] = {NULL, "model.layers.%d.mlp.shared_expert.down_proj", "blk.%d.ffn_down_shexp"},
    [N_SH_SCALE] = {NULL, "model.layers.%d.mlp.shared_expert_gate", "blk.%d.ffn_gate_inp_shexp"},
};

static int style_of(const lrp_model *m) {
    return lrp_model_is_gguf(m) ? 2 : strcmp(m->cfg.model_type, "mixtral") != 0;
}

// Binds "<name>.<suffix>" of layer l (and expert j for expert names; ignored by the others).
static int bind(lrp_model *m, lrp_weight *w, int which, int l, int j, const char *suffix, int optional, int64_t d0,
                int64_t d1, lrp_err *err) {
    char stem[160];
    snprintf(stem, sizeof stem, names[which][style_of(m)], l, j);
    return lrp_bind(m, w, optional, 0, d0, d1, err, "%s.%s", stem, suffix);
}

// GGUF experts: one stacked tensor [n_expert, out, in] per projection, cut into per-expert row views;
// files from older llama.cpp converters keep one tensor per expert (blk.N.ffn_gate.J.weight, ...).
static int bind_stacked(lrp_model *m, moe_layer *L, int l, int64_t d, int64_t ff, lrp_err *err) {
    int E = m->cfg.num_experts;
    const int which[3] = {N_GATE, N_UP, N_DOWN};
    char probe[64];
    snprintf(probe, sizeof probe, "blk.%d.ffn_gate_exps.weight", l);
    if (!lrp_tf_find(&m->tf, probe)) {
        snprintf(probe, sizeof probe, "blk.%d.ffn_gate.0.weight", l);
        if (lrp_tf_find(&m->tf, probe)) {
            static const char *const split[3] = {"ffn_gate", "ffn_up", "ffn_down"};
            for (int j = 0; j < E; j++) {
                moe_expert *X = &L->experts[j];
                if (lrp_bind(m, &X->gate, 0, 0, ff, d, err, "blk.%d.%s.%d.weight", l, split[0], j) ||
                    lrp_bind(m, &X->up, 0, 0, ff, d, err, "blk.%d.%s.%d.weight", l, split[1], j) ||
                    lrp_bind(m, &X->down, 0, 0, d, ff, err, "blk.%d.%s.%d.weight", l, split[2], j))
                    return -1;
            }
            return 0;
        }
    }
    for (int p = 0; p < 3; p++) {
        int64_t out = which[p] == N_DOWN ? d : ff, in = which[p] == N_DOWN ? ff : d;
        int64_t dims[3] = {E, out, in};
        lrp_weight all;
        char stem[64];
        snprintf(stem, sizeof stem, names[which[p]][2], l);
        if (lrp_bind_as_matrix(m, &all, 3, dims, (int64_t)E * out, in, err, "%s.weight", stem)) return -1;
        for (int j = 0; j < E; j++) {
            lrp_weight *dst = which[p] == N_GATE ? &L->experts[j].gate : which[p] == N_UP ? &L->experts[j].up
                                                                                           : &L->experts[j].down;
            *dst = lrp_weight_rows(&all, (int64_t)j * out, out);
        }
    }
    return 0;
}

// The shared expert of layer l (qwen2_moe) and its gate; llama.cpp declares the gate a vector [d], a
// converted [1, d] is read alike.
static int bind_shared(lrp_model *m, moe_layer *L, int l, int64_t d, int64_t sff, lrp_err *err) {
    if (bind(m, &L->shared.gate, N_SH_GATE, l, 0, "weight", 0, sff, d, err) ||
        bind(m, &L->shared.up, N_SH_UP, l, 0, "weight", 0, sff, d, err) ||
        bind(m, &L->shared.down, N_SH_DOWN, l, 0, "weight", 0, d, sff, err))
        return -1;
    char name[200];
    snprintf(name, sizeof name, names[N_SH_SCALE][style_of(m)], l);
    strcat(name, ".weight");
    const lrp_tensor *t = lrp_tf_find(&m->tf, name);
    if (lrp_model_is_gguf(m) && t && t->ndim == 1) {
        const int64_t dims[1] = {d};
        return lrp_bind_as_matrix(m, &L->shared_gate, 1, dims, 1, d, err, "%s", name);
    }
    return lrp_bind(m, &L->shared_gate, 0, 0, 1, d, err, "%s", name);
}

static int moe_bind(lrp_model *m, lrp_err *err) {
    const lrp_config *c = &m->cfg;
    int qwen = !strcmp(c->model_type, "qwen3_moe");  // q/k norms and o_proj bias
    int act = lrp_act_fn_parse(c->hidden_act);
    if (act < 0) return lrp_fail(err, "%s: hidden_act \"%s\" is not supported", m->path, c->hidden_act);
    if (c->num_experts < 1 || c->num_experts_per_tok < 1 || c->num_experts_per_tok > c->num_experts)
        return lrp_fail(err, "%s: num_experts_per_tok %d must be in 1..%d (the number of experts)", m->path,
                        c->num_experts_per_tok, c->num_experts);
    size_t head = sizeof(moe_weights) + (size_t)c->num_layers * sizeof(moe_layer);
    size_t total = head + (size_t)c->num_layers * c->num_experts * sizeof(moe_expert);
    moe_weights *w = lrp_bind_alloc(m, total, err);
    if (!w) return -1;
    w->act = (lrp_act_fn)act;
    int64_t d = c->hidden_size, qd = (int64_t)c->num_heads * c->head_dim, kvd = (int64_t)c->num_kv_heads * c->head_dim;
    int64_t ff = c->intermediate_size, V = c->vocab_size, E = c->num_experts;
    char head_name[64];
    snprintf(head_name, sizeof head_name, "%s.weight", names[N_HEAD][style_of(m)]);
    int embed_optional = c->tie_word_embeddings && lrp_tf_find(&m->tf, head_name);
    if (bind(m, &w->embed, N_EMBED, 0, 0, "weight", embed_optional, V, d, err)) return -1;
    if ((!w->embed.t || !c->tie_word_embeddings) && bind(m, &w->head, N_HEAD, 0, 0, "weight", 0, V, d, err)) return -1;
    if (!w->embed.t) w->embed = w->head;
    if (!w->head.t) w->head = w->embed;
    if (bind(m, &w->final_norm, N_NORM, 0, 0, "weight", 0, d, -1, err)) return -1;
    for (int l = 0; l < c->num_layers; l++) {
        moe_layer *L = &w->layers[l];
        L->experts = (moe_expert *)((char *)w + head) + (size_t)l * E;
        if (bind(m, &L->attn_norm, N_ATTN_NORM, l, 0, "weight", 0, d, -1, err) ||
            bind(m, &L->attn.q, N_Q, l, 0, "weight", 0, qd, d, err) || bind(m, &L->attn.k, N_K, l, 0, "weight", 0, kvd, d, err) ||
            bind(m, &L->attn.v, N_V, l, 0, "weight", 0, kvd, d, err) || bind(m, &L->attn.o, N_O, l, 0, "weight", 0, d, qd, err) ||
            bind(m, &L->mlp_norm, N_MLP_NORM, l, 0, "weight", 0, d, -1, err) ||
            bind(m, &L->router, N_ROUTER, l, 0, "weight", 0, E, d, err))
            return -1;
        if (c->attention_bias && (bind(m, &L->attn.q_bias, N_Q, l, 0, "bias", 0, qd, -1, err) ||
                                  bind(m, &L->attn.k_bias, N_K, l, 0, "bias", 0, kvd, -1, err) ||
                                  bind(m, &L->attn.v_bias, N_V, l, 0, "bias", 0, kvd, -1, err) ||
                                  (qwen && bind(m, &L->attn.o_bias, N_O, l, 0, "bias", 0, d, -1, err))))
            return -1;
        if (qwen && (bind(m, &L->attn.q_norm, N_Q_NORM, l, 0, "weight", 0, c->head_dim, -1, err) ||
                     bind(m, &L->attn.k_norm, N_K_NORM, l, 0, "weight", 0, c->head_dim, -1, err)))
            return -1;
        if (c->shared_expert_intermediate_size > 0 && bind_shared(m, L, l, d, c->shared_expert_intermediate_size, err))
            return -1;
        if (lrp_model_is_gguf(m)) {
            if (bind_stacked(m, L, l, d, ff, err)) return -1;
            continue;
        }
        for (int j = 0; j < E; j++) {
            moe_expert *X = &L->experts[j];
            if (bind(m, &X->gate, N_GATE, l, j, "weight", 0, ff, d, err) ||
                bind(m, &X->up, N_UP, l, j, "weight", 0, ff, d, err) ||
                bind(m, &X->down, N_DOWN, l, j, "weight", 0, d, ff, err))
                return -1;
        }
        // A checkpoint with more experts than the config says is inconsistent, not silently truncated.
        char extra[200], stem[160];
        snprintf(stem, sizeof stem, names[N_GATE][style_of(m)], l, (int)E);
        snprintf(extra, sizeof extra, "%s.weight", stem);
        if (lrp_tf_find(&m->tf, extra))
            return lrp_fail(err, "%s: tensor \"%s\" exists but the config has %d experts", m->path, extra, (int)E);
    }
    return 0;
}

// ---- forward ----------------------------------------------------------------------------------------

// The experts of one layer when nothing taps their intermediate: every routed row in one [T·K, d] block
// sorted by expert (a token's rows in token order within each expert), each projection one grouped product
// whose experts run in parallel (op_linear_grouped), one gated product and one combination. Same numbers
// and rules as the expert-by-expert chain below.
static lrp_act *experts_grouped(lrp_graph *g, const moe_layer *L, lrp_act_fn act, lrp_act *x, lrp_act *h,
                                lrp_act *rw, const int *chosen, int E, int K) {
    int T = h->rows, N = T * K;
    int *off = lrp_graph_alloc(g, (size_t)(E + 1) * sizeof *off, 1);
    int *fill = lrp_graph_alloc(g, (size_t)E * sizeof *fill, 0);
    int *rows = lrp_graph_alloc(g, (size_t)N * sizeof *rows, 0);
    const lrp_weight **gw = lrp_graph_alloc(g, 3 * (size_t)E * sizeof *gw, 1);
    if (!off || !fill || !rows || !gw) return NULL;
    const lrp_weight **uw = gw + E, **dw = uw + E;
    for (int i = 0; i < N; i++) off[chosen[i] + 1]++;
    for (int e = 0; e < E; e++) {
        off[e + 1] += off[e];
        fill[e] = off[e];
        gw[e] = &L->experts[e].gate;
        uw[e] = &L->experts[e].up;
        dw[e] = &L->experts[e].down;
    }
    for (int i = 0; i < N; i++) rows[fill[chosen[i]]++] = i / K;
    lrp_act *xs = op_select_rows(g, h, rows, N);
    lrp_act *a = op_activation(g, op_linear_grouped(g, xs, gw, off, E), act);
    lrp_act *z = op_gated_product(g, a, op_linear_grouped(g, xs, uw, off, E));
    return op_moe_combine_sorted(g, x, rw, chosen, op_linear_grouped(g, z, dw, off, E), off, E);
}

// Qwen2-MoE's shared expert on every row of h: σ(shared_expert_gate h) · S(h), a [T, 1] gate times
// S(h) = down(act(gate h) ⊙ up h). The product is op_scale_rows with at[r] = r: the MoE rule (uniform ½
// for attnlrp, σ detached for cplrp); the sigmoid takes the identity rule (op_activation).
static lrp_act *shared_expert(lrp_graph *g, lrp_forward *f, int l, const moe_layer *L, lrp_act_fn act, lrp_act *h) {
    if (!h) return NULL;
    int T = h->rows;
    int *at = lrp_graph_alloc(g, (size_t)(T ? T : 1) * sizeof *at, 0);
    if (!at) return NULL;
    for (int r = 0; r < T; r++) at[r] = r;
    const moe_expert *S = &L->shared;
    lrp_act *a = op_activation(g, op_linear(g, h, &S->gate, NULL), act);
    lrp_act *s = op_linear(g, op_gated_product(g, a, op_linear(g, h, &S->up, NULL)), &S->down, NULL);
    lrp_act *sg = op_activation(g, op_linear(g, h, &L->shared_gate, NULL), LRP_ACT_SIGMOID);
    if (f->taps.moe_shared_gate) f->taps.moe_shared_gate[l] = sg;
    return op_scale_rows(g, s, sg, at);
}

// The sparse MLP of one layer on h [T, d]; returns x + Σ_k w_k E_k(h) (+ the shared expert's term).
static lrp_act *moe_mlp(const lrp_model *m, lrp_graph *g, lrp_forward *f, int l, lrp_act *x, lrp_act *h) {
    const lrp_config *c = &m->cfg;
    const moe_weights *w = m->weights;
    const moe_layer *L = &w->layers[l];
    int T = h->rows, E = c->num_experts, K = c->num_experts_per_tok;
    // The shared term goes into the base of the combination (exact backward through the sum).
    if (c->shared_expert_intermediate_size > 0 && !(x = op_add(g, x, shared_expert(g, f, l, L, w->act, h)))) return NULL;
    const int *chosen = NULL;
    lrp_act *p = op_softmax_rows(g, op_linear(g, h, &L->router, NULL));
    lrp_act *rw = op_topk_rows(g, p, K, c->norm_topk_prob, &chosen);
    if (!rw) return NULL;
    f->taps.moe_weights[l] = rw;
    f->taps.moe_experts[l] = chosen;
    int *rows = lrp_graph_alloc(g, (size_t)T * K * sizeof(int), 0);
    lrp_act **ys = lrp_graph_alloc(g, (size_t)E * sizeof *ys, 1);
    if (!rows || !ys) return NULL;
    // The latent tap costs a [T, intermediate] scatter and its gradient: only when something reads it.
    int latent = f->latent_expert, want_latent = !f->no_latent;
    for (int i = 0; i < f->n_iv; i++) want_latent |= f->iv[i].layer == l;
    f->taps.mlp_act[l] = NULL;
    if (!want_latent) return experts_grouped(g, L, w->act, x, h, rw, chosen, E, K);
    for (int e = 0; e < E; e++) {
        int n = 0;
        for (int i = 0; i < T * K; i++)
            if (chosen[i] == e) rows[n++] = i / K;
        if (n == 0) continue;
        const moe_expert *X = &L->experts[e];
        lrp_act *xe = op_select_rows(g, h, rows, n);
        lrp_act *a = op_activation(g, op_linear(g, xe, &X->gate, NULL), w->act);
        lrp_act *z = op_gated_product(g, a, op_linear(g, xe, &X->up, NULL));
        if (e == latent && want_latent) {  // the latent neurons: this expert's intermediate on every row
            lrp_act *zf = op_intervene(g, op_scatter_add_rows(g, NULL, z, rows, T), f->iv, f->n_iv, l);
            f->taps.mlp_act[l] = zf;
            z = op_select_rows(g, zf, rows, n);
        }
        if (!(ys[e] = op_linear(g, z, &X->down, NULL))) return NULL;
    }
    lrp_act *out = op_moe_combine(g, x, rw, chosen, ys, E);
    if (want_latent && !f->taps.mlp_act[l] && lrp_graph_ok(g)) {  // the latent expert got no token: all zeros
        lrp_act *zf = lrp_act_new(g, T, c->intermediate_size);
        if (!zf) return NULL;
        memset(zf->x, 0, (size_t)T * c->intermediate_size * sizeof(float));
        f->taps.mlp_act[l] = zf;
    }
    return out;
}

static int moe_forward(const lrp_model *m, lrp_graph *g, lrp_forward *f) {
    const lrp_config *c = &m->cfg;
    const moe_weights *w = m->weights;
    const lrp_inputs *in = &f->in;
    float eps = (float)c->norm_eps;
    if (f->latent_expert < 0 || f->latent_expert >= c->num_experts) {
        lrp_graph_fail(g, "latent expert %d out of range (0..%d)", f->latent_expert, c->num_experts - 1);
        return -1;
    }
    lrp_attn_spec spec;
    lrp_rope *rope = lrp_rope_decoder_start(g, c, f, &spec);

    lrp_act *x = op_embedding(g, &w->embed, in->ids, in->T, 1.0f, in->embed_scale, in->embed_noise);
    f->taps.input[LRP_INPUT_WORDS] = x;
    for (int l = 0; l < c->num_layers && lrp_graph_ok(g); l++) {
        const moe_layer *L = &w->layers[l];
        lrp_act *h = op_rmsnorm(g, x, &L->attn_norm, eps, c->hidden_size);
        x = op_add(g, x, lrp_rope_self_attention(g, f, l, h, &L->attn, rope, &spec, eps));

        h = op_rmsnorm(g, x, &L->mlp_norm, eps, c->hidden_size);
        if (!h) break;
        g->tag = LRP_TAG_MLP_LINEAR;
        x = moe_mlp(m, g, f, l, x, h);
        g->tag = LRP_TAG_NONE;
        f->taps.block_out[l] = x;
    }
    x = op_rmsnorm(g, x, &w->final_norm, eps, c->hidden_size);
    return lrp_decoder_logits(g, f, x, &w->head, NULL, 0.0f);
}

// `attnlrp neuron`: the expert's down projection (w2) column through the final norm and lm_head.
static int moe_neuron_readout(const lrp_model *m, int l, int expert, lrp_neuron_readout *r, lrp_err *err) {
    (void)err;
    const moe_weights *w = m->weights;
    r->down = w->layers[l].experts[expert].down;
    r->norm[0] = w->final_norm;
    r->unembed = w->head;
    return 0;
}

static const char *const model_types[] = {"mixtral", "qwen3_moe", "qwen2_moe", NULL};
static const char *const gguf_archs[] = {"qwen3moe", "qwen2moe", NULL};
const lrp_family lrp_family_mixtral = {
    .name = "mixtral",
    .model_types = model_types,
    .gguf_archs = gguf_archs,
    .summary = "Mixtral (sparse MoE, top-k renormalised), Qwen3-MoE (q/k norms, norm_topk_prob), Qwen2-MoE (shared "
               "expert); router relevance",
    .read_config = moe_read_config,
    .read_gguf = lrp_mixtral_read_gguf,
    .bind = moe_bind,
    .forward = moe_forward,
    .neuron_readout = moe_neuron_readout,
};

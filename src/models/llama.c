// The LLaMA family of decoders: llama (LLaMA 2/3, TinyLlama, SmolLM), mistral, qwen2 (q/k/v biases)
// and qwen3 (per-head q/k RMSNorm, explicit head_dim). Pre-norm blocks:
//   h = x + o_proj(attention(rope(q(n1(x))), rope(k(n1(x))), v(n1(x))))
//   x' = h + down(act(gate(n2(h))) ⊙ up(n2(h)))
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"

typedef struct {
    const lrp_tensor *attn_norm, *q, *k, *v, *o, *q_bias, *k_bias, *v_bias, *o_bias, *q_norm, *k_norm;
    const lrp_tensor *mlp_norm, *gate, *up, *down, *gate_bias, *up_bias, *down_bias;
} llama_layer;

typedef struct {
    const lrp_tensor *embed, *final_norm, *head;
    lrp_act_fn act;
    llama_layer layers[];
} llama_weights;

typedef struct {
    int qkv_bias;  // q, k, v projections have biases
    int o_bias;
    int qk_norm;
} llama_variant;

static llama_variant variant_of(const lrp_config *c) {
    llama_variant v = {c->attention_bias, c->attention_bias, 0};
    if (strcmp(c->model_type, "qwen2") == 0) {
        v.qkv_bias = 1;  // Qwen2 always has q/k/v biases and never an o_proj bias
        v.o_bias = 0;
    } else if (strcmp(c->model_type, "qwen3") == 0) {
        v.qk_norm = 1;
    }
    return v;
}

static int llama_bind(lrp_model *m, lrp_err *err) {
    const lrp_config *c = &m->cfg;
    llama_variant var = variant_of(c);
    int act = lrp_act_fn_parse(c->hidden_act);
    if (act < 0) return lrp_fail(err, "%s: hidden_act \"%s\" is not supported", m->path, c->hidden_act);
    // llama.cpp stores Llama 3.1's RoPE scaling as per-frequency factors in a tensor.
    if (lrp_tf_find(&m->tf, "rope_freqs.weight"))
        return lrp_fail(err, "%s: RoPE frequency factors (rope_freqs.weight, Llama 3.1 GGUF) are not supported yet",
                        m->path);
    llama_weights *w = calloc(1, sizeof *w + (size_t)c->num_layers * sizeof(llama_layer));
    if (!w) return lrp_fail(err, "out of memory");
    m->weights = w;
    w->act = (lrp_act_fn)act;
    int64_t d = c->hidden_size, qd = (int64_t)c->num_heads * c->head_dim, kvd = (int64_t)c->num_kv_heads * c->head_dim;
    int64_t ff = c->intermediate_size, V = c->vocab_size;
    char name[256];
#define W(dst, opt, nd, a, b, ...)                                              \
    do {                                                                         \
        snprintf(name, sizeof name, __VA_ARGS__);                                \
        dst = lrp_model_weight(m, name, opt, nd, a, b, err);                     \
        if (!dst && !(opt)) return -1;                                           \
        if (!dst && lrp_tf_find(&m->tf, name)) return -1;                       \
    } while (0)
    // A tied checkpoint stores the shared matrix under either name (TinyStories-656K keeps only lm_head).
    int embed_optional = c->tie_word_embeddings && lrp_tf_find(&m->tf, "lm_head.weight");
    W(w->embed, embed_optional, 2, V, d, "model.embed_tokens.weight");
    if (!w->embed || !c->tie_word_embeddings) W(w->head, 0, 2, V, d, "lm_head.weight");
    if (!w->embed) w->embed = w->head;
    if (!w->head) w->head = w->embed;
    W(w->final_norm, 0, 1, d, 0, "model.norm.weight");
    for (int l = 0; l < c->num_layers; l++) {
        llama_layer *L = &w->layers[l];
        const char *p = "model.layers";
        W(L->attn_norm, 0, 1, d, 0, "%s.%d.input_layernorm.weight", p, l);
        W(L->q, 0, 2, qd, d, "%s.%d.self_attn.q_proj.weight", p, l);
        W(L->k, 0, 2, kvd, d, "%s.%d.self_attn.k_proj.weight", p, l);
        W(L->v, 0, 2, kvd, d, "%s.%d.self_attn.v_proj.weight", p, l);
        W(L->o, 0, 2, d, qd, "%s.%d.self_attn.o_proj.weight", p, l);
        if (var.qkv_bias) {
            W(L->q_bias, 0, 1, qd, 0, "%s.%d.self_attn.q_proj.bias", p, l);
            W(L->k_bias, 0, 1, kvd, 0, "%s.%d.self_attn.k_proj.bias", p, l);
            W(L->v_bias, 0, 1, kvd, 0, "%s.%d.self_attn.v_proj.bias", p, l);
        }
        if (var.o_bias) W(L->o_bias, 0, 1, d, 0, "%s.%d.self_attn.o_proj.bias", p, l);
        if (var.qk_norm) {
            W(L->q_norm, 0, 1, c->head_dim, 0, "%s.%d.self_attn.q_norm.weight", p, l);
            W(L->k_norm, 0, 1, c->head_dim, 0, "%s.%d.self_attn.k_norm.weight", p, l);
        }
        W(L->mlp_norm, 0, 1, d, 0, "%s.%d.post_attention_layernorm.weight", p, l);
        W(L->gate, 0, 2, ff, d, "%s.%d.mlp.gate_proj.weight", p, l);
        W(L->up, 0, 2, ff, d, "%s.%d.mlp.up_proj.weight", p, l);
        W(L->down, 0, 2, d, ff, "%s.%d.mlp.down_proj.weight", p, l);
        if (c->mlp_bias) {
            W(L->gate_bias, 0, 1, ff, 0, "%s.%d.mlp.gate_proj.bias", p, l);
            W(L->up_bias, 0, 1, ff, 0, "%s.%d.mlp.up_proj.bias", p, l);
            W(L->down_bias, 0, 1, d, 0, "%s.%d.mlp.down_proj.bias", p, l);
        }
    }
#undef W
    return 0;
}

static int llama_forward(const lrp_model *m, lrp_graph *g, lrp_forward_io *io) {
    const lrp_config *c = &m->cfg;
    const llama_weights *w = m->weights;
    int H = c->num_heads, KVH = c->num_kv_heads, hd = c->head_dim;
    float eps = (float)c->rms_norm_eps, scale = 1.0f / sqrtf((float)hd);
    lrp_kv_cache *cache = io->cache;
    int pos0 = cache ? cache->len : 0;
    lrp_rope *rope = lrp_rope_tables(g, c, hd, pos0, io->T);

    lrp_act *x = op_embedding(g, w->embed, io->ids, io->T, 1.0f, io->drop);
    io->embeddings = x;
    for (int l = 0; l < c->num_layers; l++) {
        const llama_layer *L = &w->layers[l];
        lrp_act *h = op_rmsnorm(g, x, L->attn_norm, eps, c->hidden_size);
        lrp_act *q = op_linear(g, h, L->q, L->q_bias);
        lrp_act *k = op_linear(g, h, L->k, L->k_bias);
        lrp_act *v = op_linear(g, h, L->v, L->v_bias);
        if (L->q_norm) {
            q = op_rmsnorm(g, q, L->q_norm, eps, hd);
            k = op_rmsnorm(g, k, L->k_norm, eps, hd);
        }
        q = op_rope(g, q, rope, H);
        k = op_rope(g, k, rope, KVH);
        if (cache) {
            size_t off = (size_t)l * cache->capacity * cache->kv_dim;
            k = op_cache_append(g, k, cache->k + off, cache->len, cache->capacity);
            v = op_cache_append(g, v, cache->v + off, cache->len, cache->capacity);
        }
        lrp_act *a = op_attention(g, q, k, v, H, KVH, hd, scale, c->sliding_window);
        x = op_add(g, x, op_linear(g, a, L->o, L->o_bias));

        h = op_rmsnorm(g, x, L->mlp_norm, eps, c->hidden_size);
        lrp_act *gate = op_activation(g, op_linear(g, h, L->gate, L->gate_bias), w->act);
        lrp_act *z = op_gated_product(g, gate, op_linear(g, h, L->up, L->up_bias));
        z = op_intervene(g, z, io->iv, io->n_iv, l);
        io->mlp_act[l] = z;
        x = op_add(g, x, op_linear(g, z, L->down, L->down_bias));
        io->block_out[l] = x;
    }
    x = op_rmsnorm(g, x, w->final_norm, eps, c->hidden_size);
    if (io->head_rows) x = op_select_rows(g, x, io->head_rows, io->n_head_rows);
    io->logits = op_linear(g, x, w->head, NULL);
    if (cache && lrp_graph_ok(g)) cache->len += io->T;
    return lrp_graph_ok(g) ? 0 : -1;
}

const lrp_family lrp_family_llama = {"llama", llama_bind, llama_forward};
const lrp_family lrp_family_mistral = {"mistral", llama_bind, llama_forward};
const lrp_family lrp_family_qwen2 = {"qwen2", llama_bind, llama_forward};
const lrp_family lrp_family_qwen3 = {"qwen3", llama_bind, llama_forward};

// The Gemma 2 and Gemma 3 (text) decoders. Each block has four RMSNorms, all scaling by (1 + w):
//   h  = x + post_attn_norm(o_proj(attention(rope(qn(q(n1(x)))), rope(kn(k(n1(x)))), v(n1(x)))))
//   x' = h + post_ffw_norm(down(gelu_tanh(gate(n2(h))) ⊙ up(n2(h))))
// with n1 = input_layernorm, n2 = pre_feedforward_layernorm, and per-head q/k norms (qn, kn) in Gemma 3
// only. Embeddings are scaled by √hidden_size (rounded to the checkpoint's dtype, as HF does); the
// attention scale is query_pre_attn_scalar^-½. Layers are sliding-window ("sliding_attention") or global;
// Gemma 3's sliding layers use their own RoPE base (rope_local_base_freq). Gemma 2 soft-caps the attention
// scores and the final logits (c·tanh(x/c)); Gemma 3 only the final logits (its attention ignores
// attn_logit_softcapping). The output head is tied to the embeddings.
// GGUF (llama.cpp archs gemma2, gemma3): the converter stores norm weights as 1 + w, so no offset then.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "models/bind.h"
#include "models/blocks.h"
#include "models/registry.h"

// ---- hyper-parameters -------------------------------------------------------------------------------

// Layer l is sliding when (l + 1) % pattern != 0 (Gemma 2: pattern 2, Gemma 3: sliding_window_pattern).
static void sliding_by_pattern(lrp_config *c, int pattern) {
    for (int l = 0; l < c->num_layers && l < LRP_MAX_TYPED_LAYERS; l++)
        c->layer_sliding[l] = pattern <= 0 || (l + 1) % pattern != 0;
}

static int read_layer_types(lrp_config *c, const lrp_hp *h) {
    const json_t *types = json_object_get(h->root, "layer_types");
    if (!types || json_is_null(types)) return 1;
    if (!json_is_array(types) || (int)json_array_size(types) != c->num_layers)
        return lrp_fail(h->err, "%s: field \"layer_types\" must be a list of %d strings", h->where, c->num_layers);
    for (int l = 0; l < c->num_layers; l++) {
        const char *t = json_string_value(json_array_get(types, (size_t)l));
        if (t && !strcmp(t, "sliding_attention")) {
            c->layer_sliding[l] = 1;
        } else if (t && !strcmp(t, "full_attention")) {
            c->layer_sliding[l] = 0;
        } else {
            return lrp_fail(h->err, "%s: field \"layer_types\" entry %d must be \"sliding_attention\" or "
                            "\"full_attention\"", h->where, l);
        }
    }
    return 0;
}

// RoPE: v4 rope_theta (+ rope_scaling, global layers only) and rope_local_base_freq; v5 rope_parameters
// per layer type ({"full_attention": {...}, "sliding_attention": {...}}) or one set for both.
static int read_rope(lrp_config *c, const lrp_hp *h, int gemma3) {
    const json_t *params = json_object_get(h->root, "rope_parameters");
    const json_t *full = json_is_object(params) ? json_object_get(params, "full_attention") : NULL;
    const json_t *slide = json_is_object(params) ? json_object_get(params, "sliding_attention") : NULL;
    if (json_is_object(full) || json_is_object(slide)) {
        if (!json_is_object(full) || !json_is_object(slide))
            return lrp_fail(h->err, "%s: rope_parameters needs both \"full_attention\" and \"sliding_attention\"",
                            h->where);
        const json_t *part[2] = {slide, full};
        for (int i = 0; i < 2; i++) {
            json_t *tmp = json_object();
            if (!tmp || json_object_set(tmp, "rope_parameters", (json_t *)part[i])) {
                json_decref(tmp);
                return lrp_fail(h->err, "%s: out of memory", h->where);
            }
            lrp_hp sub = {tmp, h->where, h->err};
            int rc = lrp_hp_rope(&sub, c);
            json_decref(tmp);
            if (rc) return -1;
            if (i == 0) c->rope_local = c->rope;
        }
        return 0;
    }
    if (lrp_hp_rope(h, c)) return -1;
    if (gemma3 && !lrp_hp_has(h, "rope_theta") && !lrp_hp_has(h, "rope_parameters"))
        c->rope.theta = 1000000.0;  // Gemma3TextConfig's default
    c->rope_local = c->rope;
    if (gemma3) {
        c->rope_local.scaling = LRP_ROPE_SCALING_NONE;  // HF: the local rotary embedding is the default type
        c->rope_local.theta = 10000.0;
        if (lrp_hp_number(h, "rope_local_base_freq", 0, &c->rope_local.theta)) return -1;
        if (!(c->rope_local.theta > 0))
            return lrp_fail(h->err, "%s: field \"rope_local_base_freq\" must be positive", h->where);
    }
    return 0;
}

static int softcap_field(const lrp_hp *h, const char *field, double *out) {
    *out = 0;
    if (lrp_hp_number(h, field, 0, out)) return -1;
    if (!(*out >= 0) || !isfinite(*out))
        return lrp_fail(h->err, "%s: field \"%s\" must be positive or null (got %g)", h->where, field, *out);
    return 0;
}

// Gemma3TextConfig's defaults, for the text_config of a multimodal "gemma3" config (which omits most).
static int nested_defaults(lrp_config *c, const lrp_hp *h) {
    c->hidden_size = 2304;
    c->num_layers = 26;
    c->num_heads = 8;
    c->intermediate_size = 9216;
    c->vocab_size = 262208;
    if (lrp_hp_int(h, "hidden_size", 0, &c->hidden_size) || lrp_hp_int(h, "num_hidden_layers", 0, &c->num_layers) ||
        lrp_hp_int(h, "num_attention_heads", 0, &c->num_heads) ||
        lrp_hp_int(h, "intermediate_size", 0, &c->intermediate_size) || lrp_hp_int(h, "vocab_size", 0, &c->vocab_size))
        return -1;
    return 0;
}

static int read_text_config(lrp_config *c, const lrp_hp *h, int gemma3, int nested);

static int gemma_read_config(lrp_config *c, const lrp_hp *h) {
    if (strcmp(c->model_type, "gemma3") != 0) return read_text_config(c, h, strcmp(c->model_type, "gemma2") != 0, 0);
    // The multimodal Gemma 3 (Gemma3ForConditionalGeneration): the text model's fields are in text_config,
    // its weights under language_model.* (bind); the vision tower is not used.
    const json_t *text = json_object_get(h->root, "text_config");
    if (!json_is_object(text))
        return lrp_fail(h->err, "%s: model_type \"gemma3\" needs a \"text_config\" object (text-only checkpoints "
                        "have model_type \"gemma3_text\")", h->where);
    const json_t *tt = json_object_get(text, "model_type");
    if (tt && !(json_is_string(tt) && !strcmp(json_string_value(tt), "gemma3_text")))
        return lrp_fail(h->err, "%s: text_config model_type must be \"gemma3_text\"", h->where);
    char where[256];
    snprintf(where, sizeof where, "%s text_config", h->where);
    lrp_hp sub = {text, where, h->err};
    return read_text_config(c, &sub, 1, 1);
}

static int read_text_config(lrp_config *c, const lrp_hp *h, int gemma3, int nested) {
    if (nested && nested_defaults(c, h)) return -1;
    if (!nested && (lrp_hp_int(h, "hidden_size", 1, &c->hidden_size) ||
                    lrp_hp_int(h, "num_hidden_layers", 1, &c->num_layers) ||
                    lrp_hp_int(h, "num_attention_heads", 1, &c->num_heads) ||
                    lrp_hp_int(h, "intermediate_size", 1, &c->intermediate_size) ||
                    lrp_hp_int(h, "vocab_size", 1, &c->vocab_size)))
        return -1;
    if (c->num_layers > LRP_MAX_TYPED_LAYERS)
        return lrp_fail(h->err, "%s: %d layers (at most %d)", h->where, c->num_layers, LRP_MAX_TYPED_LAYERS);
    c->num_kv_heads = nested ? 4 : c->num_heads;
    c->head_dim = 256;  // the Gemma 2/3 default
    c->query_pre_attn_scalar = 256;
    c->norm_eps = 1e-6;
    c->tie_word_embeddings = 1;
    c->norm_offset = 1.0f;
    c->sliding_window = 4096;
    strcpy(c->hidden_act, "gelu_pytorch_tanh");
    if (lrp_hp_int(h, "num_key_value_heads", 0, &c->num_kv_heads) || lrp_hp_int(h, "head_dim", 0, &c->head_dim) ||
        lrp_hp_number(h, "query_pre_attn_scalar", 0, &c->query_pre_attn_scalar) ||
        lrp_hp_eps(h, "rms_norm_eps", &c->norm_eps) ||
        lrp_hp_int(h, "max_position_embeddings", 0, &c->max_position_embeddings) ||
        lrp_hp_bool(h, "tie_word_embeddings", &c->tie_word_embeddings) ||
        lrp_hp_bool(h, "attention_bias", &c->attention_bias) || lrp_hp_int(h, "sliding_window", 0, &c->sliding_window))
        return -1;
    // hidden_activation (Gemma 2/3); older configs spell it hidden_act.
    const char *act_field = lrp_hp_has(h, "hidden_activation") ? "hidden_activation" : "hidden_act";
    if (lrp_hp_string(h, act_field, c->hidden_act, sizeof c->hidden_act)) return -1;
    if (!(c->query_pre_attn_scalar > 0) || !isfinite(c->query_pre_attn_scalar))
        return lrp_fail(h->err, "%s: field \"query_pre_attn_scalar\" must be positive", h->where);
    if (c->sliding_window < 0)
        return lrp_fail(h->err, "%s: field \"sliding_window\" must not be negative (got %d)", h->where,
                        c->sliding_window);
    if (softcap_field(h, "attn_logit_softcapping", &c->attn_softcap) ||
        softcap_field(h, "final_logit_softcapping", &c->final_softcap))
        return -1;
    if (gemma3) c->attn_softcap = 0;  // HF's Gemma 3 attention never soft-caps its scores (the field is unused)
    int bidirectional = 0;
    if (lrp_hp_bool(h, "use_bidirectional_attention", &bidirectional)) return -1;
    if (bidirectional)
        return lrp_fail(h->err, "%s: use_bidirectional_attention true (EmbeddingGemma) is not supported", h->where);
    int rc = read_layer_types(c, h);
    if (rc < 0) return -1;
    if (rc == 1) {
        int pattern = gemma3 ? 6 : 2;
        if (gemma3 && lrp_hp_int(h, "sliding_window_pattern", 0, &pattern)) return -1;
        if (pattern < 0)
            return lrp_fail(h->err, "%s: field \"sliding_window_pattern\" must not be negative", h->where);
        sliding_by_pattern(c, pattern);
    }
    if (c->task != LRP_TASK_CAUSAL_LM)
        return lrp_fail(h->err, "%s: architecture \"%s\" is not supported for %s (only causal LMs)", h->where,
                        c->architecture, c->model_type);
    if (read_rope(c, h, gemma3) || lrp_hp_token_ids(h, c)) return -1;
    c->rope_local.rot_dim = c->rope.rot_dim;
    return 0;
}

static int gemma_read_gguf(lrp_config *c, const lrp_hp_gguf *h) {
    const int BIG = 1 << 30;
    int gemma3 = !strcmp(h->arch, "gemma3");
    strcpy(c->hidden_act, "gelu_pytorch_tanh");
    if (lrp_hp_gguf_int(h, "embedding_length", 1, 1, BIG, &c->hidden_size) ||
        lrp_hp_gguf_int(h, "block_count", 1, 1, LRP_MAX_TYPED_LAYERS, &c->num_layers) ||
        lrp_hp_gguf_int(h, "attention.head_count", 1, 1, 1 << 16, &c->num_heads) ||
        lrp_hp_gguf_int(h, "feed_forward_length", 1, 1, BIG, &c->intermediate_size))
        return -1;
    if (lrp_hp_gguf_heads(h, c)) return -1;
    if (lrp_hp_gguf_int(h, "context_length", 0, 1, INT32_MAX, &c->max_position_embeddings) < 0 ||
        lrp_hp_gguf_float(h, "attention.layer_norm_rms_epsilon", 1, &c->norm_eps) < 0 ||
        lrp_hp_gguf_int(h, "attention.sliding_window", 0, 0, INT32_MAX, &c->sliding_window) < 0 ||
        (!gemma3 && lrp_hp_gguf_float(h, "attn_logit_softcapping", 0, &c->attn_softcap) < 0) ||
        lrp_hp_gguf_float(h, "final_logit_softcapping", 0, &c->final_softcap) < 0)
        return -1;
    int pattern = gemma3 ? 6 : 2;  // llama.cpp's fixed patterns
    if (lrp_hp_gguf_int(h, "attention.sliding_window_pattern", 0, 0, 1 << 16, &pattern) < 0) return -1;
    sliding_by_pattern(c, pattern);
    // llama.cpp scales queries by 1/√head_dim, except the 27B models (46 and 62 layers), which use
    // query_pre_attn_scalar = hidden / heads like their HF configs.
    int big = (!gemma3 && c->num_layers == 46) || (gemma3 && c->num_layers == 62);
    c->query_pre_attn_scalar = big ? (double)c->hidden_size / c->num_heads : c->head_dim;
    if (lrp_hp_gguf_rope(h, c)) return -1;
    c->rope.pairing = LRP_ROPE_PAIR_HALVES;  // NeoX rope, q/k not permuted by the converter
    c->rope_local = c->rope;
    if (gemma3) {
        c->rope_local.theta = 10000.0;  // llama.cpp: freq_base_swa, unscaled
        c->rope_local.scaling = LRP_ROPE_SCALING_NONE;
        c->rope_local.factor = 1.0;
    }
    c->norm_offset = 0.0f;  // convert_hf_to_gguf.py stores norm weights as 1 + w
    if (lrp_hp_gguf_vocab(h, "token_embd.weight", c) || lrp_hp_gguf_token_ids(h, c)) return -1;
    c->tie_word_embeddings = lrp_tf_find(h->tf, "output.weight") == NULL;
    return 0;
}

// ---- weights ----------------------------------------------------------------------------------------

typedef struct {
    lrp_weight attn_norm, q, k, v, o, q_norm, k_norm, post_attn_norm;
    lrp_weight pre_ffw_norm, gate, up, down, post_ffw_norm;
} gemma_layer;

typedef struct {
    lrp_weight embed, final_norm, head;
    lrp_act_fn act;
    gemma_layer layers[];
} gemma_weights;

enum {
    N_EMBED, N_HEAD, N_NORM, N_ATTN_NORM, N_Q, N_K, N_V, N_O, N_Q_NORM, N_K_NORM, N_POST_ATTN_NORM, N_PRE_FFW_NORM,
    N_GATE, N_UP, N_DOWN, N_POST_FFW_NORM
};
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
    [N_POST_ATTN_NORM] = {"model.layers.%d.post_attention_layernorm", "blk.%d.post_attention_norm"},
    [N_PRE_FFW_NORM] = {"model.layers.%d.pre_feedforward_layernorm", "blk.%d.ffn_norm"},
    [N_GATE] = {"model.layers.%d.mlp.gate_proj", "blk.%d.ffn_gate"},
    [N_UP] = {"model.layers.%d.mlp.up_proj", "blk.%d.ffn_up"},
    [N_DOWN] = {"model.layers.%d.mlp.down_proj", "blk.%d.ffn_down"},
    [N_POST_FFW_NORM] = {"model.layers.%d.post_feedforward_layernorm", "blk.%d.post_ffw_norm"},
};

// Where a Hugging Face checkpoint keeps the text model: "model." (Gemma2/Gemma3ForCausalLM), or inside a
// multimodal Gemma 3 "language_model.model." (transformers < 4.52) or "model.language_model." (later); the
// head is then "language_model.lm_head" or "lm_head".
static const char *const bodies[][2] = {
    {"model.", ""}, {"language_model.model.", "language_model."}, {"model.language_model.", ""}};
static int body_of(const lrp_model *m) {
    char name[96];
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "%sembed_tokens.weight", bodies[i][0]);
        if (lrp_tf_find(&m->tf, name)) return i;
    }
    return 0;
}

static int bind(lrp_model *m, lrp_weight *w, int which, int l, int optional, int64_t d0, int64_t d1, lrp_err *err) {
    char stem[160];
    const char *name = names[which][lrp_model_is_gguf(m)];
    if (!lrp_model_is_gguf(m)) {  // rebase "model." names (and lm_head) on where the text model is
        int b = body_of(m);
        int body = !strncmp(name, "model.", 6);
        snprintf(stem, sizeof stem, "%s%s", bodies[b][body ? 0 : 1], body ? name + 6 : name);
        char full[192];
        snprintf(full, sizeof full, stem, l);
        return lrp_bind(m, w, optional, 0, d0, d1, err, "%s.weight", full);
    }
    snprintf(stem, sizeof stem, name, l);
    return lrp_bind(m, w, optional, 0, d0, d1, err, "%s.weight", stem);
}

static int gemma_bind(lrp_model *m, lrp_err *err) {
    const lrp_config *c = &m->cfg;
    int gemma3 = strcmp(c->model_type, "gemma2") != 0;
    int act = lrp_act_fn_parse(c->hidden_act);
    if (act < 0) return lrp_fail(err, "%s: hidden_activation \"%s\" is not supported", m->path, c->hidden_act);
    if (c->attention_bias) return lrp_fail(err, "%s: attention_bias true is not supported for Gemma", m->path);
    gemma_weights *w = lrp_bind_alloc(m, sizeof *w + (size_t)c->num_layers * sizeof(gemma_layer), err);
    if (!w) return -1;
    w->act = (lrp_act_fn)act;
    int64_t d = c->hidden_size, qd = (int64_t)c->num_heads * c->head_dim, kvd = (int64_t)c->num_kv_heads * c->head_dim;
    int64_t ff = c->intermediate_size, V = c->vocab_size, hd = c->head_dim;
    char head_name[64];
    snprintf(head_name, sizeof head_name, "%s%s.weight", lrp_model_is_gguf(m) ? "" : bodies[body_of(m)][1],
             names[N_HEAD][lrp_model_is_gguf(m)]);
    int embed_optional = c->tie_word_embeddings && lrp_tf_find(&m->tf, head_name);
    if (bind(m, &w->embed, N_EMBED, 0, embed_optional, V, d, err)) return -1;
    if ((!w->embed.t || !c->tie_word_embeddings) && bind(m, &w->head, N_HEAD, 0, 0, V, d, err)) return -1;
    if (!w->embed.t) w->embed = w->head;
    if (!w->head.t) w->head = w->embed;
    if (bind(m, &w->final_norm, N_NORM, 0, 0, d, -1, err)) return -1;
    for (int l = 0; l < c->num_layers; l++) {
        gemma_layer *L = &w->layers[l];
        if (bind(m, &L->attn_norm, N_ATTN_NORM, l, 0, d, -1, err) || bind(m, &L->q, N_Q, l, 0, qd, d, err) ||
            bind(m, &L->k, N_K, l, 0, kvd, d, err) || bind(m, &L->v, N_V, l, 0, kvd, d, err) ||
            bind(m, &L->o, N_O, l, 0, d, qd, err) || bind(m, &L->post_attn_norm, N_POST_ATTN_NORM, l, 0, d, -1, err) ||
            bind(m, &L->pre_ffw_norm, N_PRE_FFW_NORM, l, 0, d, -1, err) ||
            bind(m, &L->gate, N_GATE, l, 0, ff, d, err) || bind(m, &L->up, N_UP, l, 0, ff, d, err) ||
            bind(m, &L->down, N_DOWN, l, 0, d, ff, err) ||
            bind(m, &L->post_ffw_norm, N_POST_FFW_NORM, l, 0, d, -1, err))
            return -1;
        if (gemma3 && (bind(m, &L->q_norm, N_Q_NORM, l, 0, hd, -1, err) ||
                       bind(m, &L->k_norm, N_K_NORM, l, 0, hd, -1, err)))
            return -1;
    }
    return 0;
}

// ---- forward ----------------------------------------------------------------------------------------

// v rounded to the checkpoint's float type (HF builds the embedding normaliser as a tensor of that dtype).
static float round_to_dtype(double v, const char *dtype) {
    int bits = !strcmp(dtype, "bfloat16") ? 8 : !strcmp(dtype, "float16") ? 11 : 24;
    int e;
    double mant = frexp(v, &e);  // v = mant·2^e, mant in [0.5, 1)
    return (float)ldexp(nearbyint(ldexp(mant, bits)), e - bits);
}

static int gemma_forward(const lrp_model *m, lrp_graph *g, lrp_forward *f) {
    const lrp_config *c = &m->cfg;
    const gemma_weights *w = m->weights;
    const lrp_inputs *in = &f->in;
    int H = c->num_heads, KVH = c->num_kv_heads, hd = c->head_dim, D = c->hidden_size;
    float eps = (float)c->norm_eps, off = c->norm_offset;
    lrp_kv_cache *cache = f->cache;
    int pos0 = cache ? cache->len : 0;
    lrp_rope *rope_global = lrp_rope_tables(g, &c->rope, hd, pos0, in->T);
    lrp_rope *rope_local = lrp_rope_tables(g, &c->rope_local, hd, pos0, in->T);
    lrp_attn_spec spec = {.n_heads = H, .n_kv_heads = KVH, .head_dim = hd,
                          .scale = (float)(1.0 / sqrt(c->query_pre_attn_scalar)), .mask = LRP_ATTN_CAUSAL,
                          .softcap = (float)c->attn_softcap, .key_mask = cache ? NULL : in->attention_mask};
    float embed_scale = lrp_model_is_gguf(m) ? sqrtf((float)D) : round_to_dtype(sqrt((double)D), c->torch_dtype);

    lrp_act *x = op_embedding(g, &w->embed, in->ids, in->T, embed_scale, in->embed_scale, in->embed_noise);
    f->taps.input[LRP_INPUT_WORDS] = x;
    for (int l = 0; l < c->num_layers; l++) {
        const gemma_layer *L = &w->layers[l];
        int sliding = c->layer_sliding[l];
        lrp_act *h = op_rmsnorm_offset(g, x, &L->attn_norm, eps, D, off);
        lrp_act *q = op_linear(g, h, &L->q, NULL);
        lrp_act *k = op_linear(g, h, &L->k, NULL);
        lrp_act *v = op_linear(g, h, &L->v, NULL);
        if (L->q_norm.t) {
            q = op_rmsnorm_offset(g, q, &L->q_norm, eps, hd, off);
            k = op_rmsnorm_offset(g, k, &L->k_norm, eps, hd, off);
        }
        const lrp_rope *rope = sliding ? rope_local : rope_global;
        q = op_rope(g, q, rope, H);
        k = op_rope(g, k, rope, KVH);
        spec.window = sliding ? c->sliding_window : 0;
        lrp_act *a = lrp_self_attention(g, f, l, q, k, v, &spec);
        a = op_rmsnorm_offset(g, op_linear(g, a, &L->o, NULL), &L->post_attn_norm, eps, D, off);
        x = op_add(g, x, a);

        h = op_rmsnorm_offset(g, x, &L->pre_ffw_norm, eps, D, off);
        lrp_mlp_weights mw = {.gate = &L->gate, .up = &L->up, .down = &L->down};
        lrp_act *mlp = lrp_mlp(g, f, l, h, &mw, w->act);
        x = op_add(g, x, op_rmsnorm_offset(g, mlp, &L->post_ffw_norm, eps, D, off));
        f->taps.block_out[l] = x;
    }
    x = op_rmsnorm_offset(g, x, &w->final_norm, eps, D, off);
    return lrp_decoder_logits(g, f, x, &w->head, NULL, c->final_softcap > 0 ? (float)c->final_softcap : 0.0f);
}

// `attnlrp neuron`: down_proj's column through the post-feed-forward norm's and the final norm's scales
// ((1 + w) in HF checkpoints) and the tied head; the final soft-capping is left out.
static int gemma_neuron_readout(const lrp_model *m, int l, int expert, lrp_neuron_readout *r, lrp_err *err) {
    (void)expert, (void)err;
    const gemma_weights *w = m->weights;
    r->down = w->layers[l].down;
    r->norm[0] = w->layers[l].post_ffw_norm;
    r->norm[1] = w->final_norm;
    r->norm_offset[0] = r->norm_offset[1] = m->cfg.norm_offset;
    r->unembed = w->head;
    return 0;
}

static const char *const model_types[] = {"gemma2", "gemma3_text", "gemma3", NULL};
static const char *const gguf_archs[] = {"gemma2", "gemma3", NULL};
const lrp_family lrp_family_gemma = {
    .name = "gemma",
    .model_types = model_types,
    .gguf_archs = gguf_archs,
    .summary = "Gemma 2 (soft-capping, alternating sliding/global layers), Gemma 3 text (q/k norms, two RoPE bases; "
               "also the text model of a multimodal gemma3 checkpoint)",
    .read_config = gemma_read_config,
    .read_gguf = gemma_read_gguf,
    .bind = gemma_bind,
    .forward = gemma_forward,
    .neuron_readout = gemma_neuron_readout,
};

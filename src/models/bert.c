// The BERT family of bidirectional encoders: bert, roberta, distilbert, as sequence classifiers
// (…ForSequenceClassification) and masked LMs (…ForMaskedLM). Post-norm blocks:
//   x = LN(word[ids] + position[pos] + type[token_types])       (DistilBERT: no token types)
//   x = LN(x + dense(attention(q(x), k(x), v(x))))             (bidirectional; padding keys masked)
//   x = LN(x + output(gelu(intermediate(x))))
// Heads: BERT pooler tanh(dense(x[0])) -> classifier; RoBERTa dense -> tanh -> out_proj on x[0];
// DistilBERT pre_classifier -> ReLU -> classifier; masked LMs dense -> gelu -> LN -> tied decoder + bias.
// RoBERTa numbers positions from padding_idx + 1 and gives pad tokens position padding_idx.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "models/bind.h"
#include "models/blocks.h"
#include "models/registry.h"

typedef enum { BERT, ROBERTA, DISTILBERT } bert_variant;

static bert_variant variant_of(const char *model_type) {
    return !strcmp(model_type, "roberta") ? ROBERTA : !strcmp(model_type, "distilbert") ? DISTILBERT : BERT;
}

static int bert_read_config(lrp_config *c, const lrp_hp *h) {
    bert_variant v = variant_of(c->model_type);
    static const char *const d[] = {"hidden_size", "dim", NULL}, *const L[] = {"num_hidden_layers", "n_layers", NULL},
                             *const H[] = {"num_attention_heads", "n_heads", NULL},
                             *const F[] = {"intermediate_size", "hidden_dim", NULL};
    if (lrp_hp_int_any(h, d, 1, &c->hidden_size) || lrp_hp_int_any(h, L, 1, &c->num_layers) ||
        lrp_hp_int_any(h, H, 1, &c->num_heads) || lrp_hp_int_any(h, F, 1, &c->intermediate_size) ||
        lrp_hp_int(h, "vocab_size", 1, &c->vocab_size) ||
        lrp_hp_int(h, "max_position_embeddings", 1, &c->max_position_embeddings) || lrp_hp_token_ids(h, c))
        return -1;
    if (c->num_heads > 0 && c->hidden_size % c->num_heads != 0)
        return lrp_fail(h->err, "%s: hidden size %d is not divisible by %d heads", h->where, c->hidden_size,
                        c->num_heads);
    c->num_kv_heads = c->num_heads;
    c->head_dim = c->num_heads > 0 ? c->hidden_size / c->num_heads : 0;
    c->tie_word_embeddings = 1;
    strcpy(c->hidden_act, "gelu");
    c->norm_eps = 1e-12;  // DistilBERT's is fixed
    if (lrp_hp_string(h, v == DISTILBERT ? "activation" : "hidden_act", c->hidden_act, sizeof c->hidden_act) ||
        lrp_hp_bool(h, "tie_word_embeddings", &c->tie_word_embeddings))
        return -1;
    if (v != DISTILBERT) {
        c->type_vocab_size = 2;
        if (lrp_hp_eps(h, "layer_norm_eps", &c->norm_eps) || lrp_hp_int(h, "type_vocab_size", 0, &c->type_vocab_size))
            return -1;
        char pos_type[32] = "absolute";
        if (lrp_hp_string(h, "position_embedding_type", pos_type, sizeof pos_type)) return -1;
        if (strcmp(pos_type, "absolute") != 0)
            return lrp_fail(h->err, "%s: position_embedding_type \"%s\" is not supported (only absolute)", h->where,
                            pos_type);
    }
    if (v == ROBERTA) {
        if (c->pad_token_id < 0) c->pad_token_id = 1;
        c->position_offset = c->pad_token_id + 1;
    }
    if (c->task == LRP_TASK_CAUSAL_LM)
        return lrp_fail(h->err, "%s: architecture \"%s\" is not supported for %s (…ForSequenceClassification and "
                        "…ForMaskedLM are)", h->where, c->architecture[0] ? c->architecture : "(none)", c->model_type);
    return 0;
}

typedef struct {
    lrp_weight q, q_b, k, k_b, v, v_b, o, o_b, ln1_w, ln1_b, fc, fc_b, fc2, fc2_b, ln2_w, ln2_b;
} bert_layer;

typedef struct {
    lrp_weight word, pos, type, emb_ln_w, emb_ln_b;
    lrp_weight head1, head1_b, head2, head2_b, head_ln_w, head_ln_b;  // head: first dense, output, MLM norm
    lrp_act_fn act;
    bert_variant v;
    bert_layer layers[];
} bert_weights;

// Encoder names after the model prefix: {embeddings, layer prefix, q, k, v, o, ln1, fc, fc2, ln2};
// BERT and RoBERTa share them, DistilBERT has its own.
static const char *const enc_names[2][10] = {
    {"embeddings", "encoder.layer.%d.", "attention.self.query", "attention.self.key", "attention.self.value",
     "attention.output.dense", "attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm"},
    {"embeddings", "transformer.layer.%d.", "attention.q_lin", "attention.k_lin", "attention.v_lin",
     "attention.out_lin", "sa_layer_norm", "ffn.lin1", "ffn.lin2", "output_layer_norm"},
};

typedef struct {
    lrp_model *m;
    char prefix[48];  // "bert.", "roberta.", "distilbert." or "" (a bare encoder)
    lrp_err *err;
} binder;

// Binds "<stem>.weight" and "<stem>.bias" (LayerNorm: also the old "gamma"/"beta").
static int pair(binder *b, lrp_weight *w, lrp_weight *bias, const char *stem, int64_t out, int64_t in) {
    char wn[200], bn[200];
    snprintf(wn, sizeof wn, "%s.weight", stem);
    snprintf(bn, sizeof bn, "%s.bias", stem);
    if (in < 0 && !lrp_tf_find(&b->m->tf, wn)) {
        snprintf(wn, sizeof wn, "%s.gamma", stem);
        snprintf(bn, sizeof bn, "%s.beta", stem);
    }
    return lrp_bind(b->m, w, 0, 0, out, in, b->err, "%s", wn) || lrp_bind(b->m, bias, 0, 0, out, -1, b->err, "%s", bn);
}

static int bind_heads(binder *b, bert_weights *w, const lrp_config *c) {
    int64_t d = c->hidden_size, n = c->task == LRP_TASK_CLASSIFIER ? c->n_labels : c->vocab_size;
    if (c->task == LRP_TASK_CLASSIFIER) {
        // BERT's pooler sits inside the encoder ("bert.pooler.dense"); the other heads are top-level.
        static const char *const cls[3][2] = {[BERT] = {"pooler.dense", "classifier"},
                                              [ROBERTA] = {"classifier.dense", "classifier.out_proj"},
                                              [DISTILBERT] = {"pre_classifier", "classifier"}};
        char s1[160];
        snprintf(s1, sizeof s1, "%s%s", w->v == BERT ? b->prefix : "", cls[w->v][0]);
        return pair(b, &w->head1, &w->head1_b, s1, d, d) || pair(b, &w->head2, &w->head2_b, cls[w->v][1], n, d);
    }
    // Masked LM: transform dense, norm, then the decoder tied to the word embeddings, with its own bias.
    static const char *const mlm[3][4] = {
        [BERT] = {"cls.predictions.transform.dense", "cls.predictions.transform.LayerNorm", "cls.predictions.decoder",
                  "cls.predictions.bias"},
        [ROBERTA] = {"lm_head.dense", "lm_head.layer_norm", "lm_head.decoder", "lm_head.bias"},
        [DISTILBERT] = {"vocab_transform", "vocab_layer_norm", "vocab_projector", "vocab_projector.bias"},
    };
    const char *const *nm = mlm[w->v];
    if (pair(b, &w->head1, &w->head1_b, nm[0], d, d) || pair(b, &w->head_ln_w, &w->head_ln_b, nm[1], d, -1))
        return -1;
    w->head2 = w->word;
    if (!c->tie_word_embeddings && lrp_bind(b->m, &w->head2, 0, 0, n, d, b->err, "%s.weight", nm[2])) return -1;
    // The decoder bias is stored as "<...>.bias" and, by newer transformers, also as "<decoder>.bias".
    if (lrp_bind(b->m, &w->head2_b, 1, 0, n, -1, b->err, "%s", nm[3]) ||
        (!w->head2_b.t && lrp_bind(b->m, &w->head2_b, 0, 0, n, -1, b->err, "%s.bias", nm[2])))
        return -1;
    return 0;
}

static int bert_bind(lrp_model *m, lrp_err *err) {
    const lrp_config *c = &m->cfg;
    int act = lrp_act_fn_parse(c->hidden_act);
    if (act < 0) return lrp_fail(err, "%s: hidden_act \"%s\" is not supported", m->path, c->hidden_act);
    bert_weights *w = lrp_bind_alloc(m, sizeof *w + (size_t)c->num_layers * sizeof(bert_layer), err);
    if (!w) return -1;
    w->act = (lrp_act_fn)act;
    w->v = variant_of(c->model_type);
    binder b = {.m = m, .err = err};
    char probe[96];
    snprintf(probe, sizeof probe, "%s.embeddings.word_embeddings.weight", c->model_type);
    if (lrp_tf_find(&m->tf, probe)) snprintf(b.prefix, sizeof b.prefix, "%s.", c->model_type);
    const char *const *N = enc_names[w->v == DISTILBERT];
    int64_t d = c->hidden_size, ff = c->intermediate_size;
    char s[200];
    snprintf(s, sizeof s, "%s%s.word_embeddings.weight", b.prefix, N[0]);
    if (lrp_bind(m, &w->word, 0, 0, c->vocab_size, d, err, "%s", s)) return -1;
    snprintf(s, sizeof s, "%s%s.position_embeddings.weight", b.prefix, N[0]);
    if (lrp_bind(m, &w->pos, 0, 0, c->max_position_embeddings, d, err, "%s", s)) return -1;
    if (c->type_vocab_size > 0) {
        snprintf(s, sizeof s, "%s%s.token_type_embeddings.weight", b.prefix, N[0]);
        if (lrp_bind(m, &w->type, 0, 0, c->type_vocab_size, d, err, "%s", s)) return -1;
    }
    snprintf(s, sizeof s, "%s%s.LayerNorm", b.prefix, N[0]);
    if (pair(&b, &w->emb_ln_w, &w->emb_ln_b, s, d, -1)) return -1;
    for (int l = 0; l < c->num_layers; l++) {
        bert_layer *L = &w->layers[l];
        char p[96];
        snprintf(p, sizeof p, "%s", b.prefix);
        snprintf(p + strlen(p), sizeof p - strlen(p), N[1], l);
        struct {
            lrp_weight *w, *b;
            const char *name;
            int64_t out, in;
        } parts[] = {{&L->q, &L->q_b, N[2], d, d},      {&L->k, &L->k_b, N[3], d, d},
                     {&L->v, &L->v_b, N[4], d, d},      {&L->o, &L->o_b, N[5], d, d},
                     {&L->ln1_w, &L->ln1_b, N[6], d, -1}, {&L->fc, &L->fc_b, N[7], ff, d},
                     {&L->fc2, &L->fc2_b, N[8], d, ff}, {&L->ln2_w, &L->ln2_b, N[9], d, -1}};
        for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
            snprintf(s, sizeof s, "%s%s", p, parts[i].name);
            if (pair(&b, parts[i].w, parts[i].b, s, parts[i].out, parts[i].in)) return -1;
        }
    }
    return bind_heads(&b, w, c);
}

// Learned position of each token: t (BERT, DistilBERT); RoBERTa counts non-pad tokens from
// padding_idx + 1 and gives pad tokens padding_idx (transformers' create_position_ids_from_input_ids).
static int *positions(lrp_graph *g, const lrp_config *c, bert_variant v, const lrp_inputs *in) {
    int *pos = lrp_graph_alloc(g, (size_t)in->T * sizeof(int), 0);
    if (!pos) return NULL;
    for (int t = 0, seen = 0; t < in->T; t++) {
        int pad = v == ROBERTA && in->ids[t] == c->pad_token_id;
        pos[t] = in->positions ? in->positions[t] : v != ROBERTA ? t : pad ? c->pad_token_id : c->position_offset + seen;
        seen += !pad;
        if (pos[t] < 0 || pos[t] >= c->max_position_embeddings)
            return lrp_graph_fail(g, "input position %d is beyond the model's %d learned positions", pos[t],
                                  c->max_position_embeddings);
    }
    return pos;
}

static int bert_forward(const lrp_model *m, lrp_graph *g, lrp_forward *f) {
    const lrp_config *c = &m->cfg;
    const bert_weights *w = m->weights;
    const lrp_inputs *in = &f->in;
    int T = in->T;
    float eps = (float)c->norm_eps;
    if (f->cache) {
        lrp_graph_fail(g, "%s: an encoder has no KV cache (it cannot generate)", c->model_type);
        return -1;
    }
    int *pos = positions(g, c, w->v, in), *types = NULL;
    if (!pos) return -1;
    lrp_act *e = op_embedding(g, &w->word, in->ids, T, 1.0f, in->embed_scale, in->embed_noise);
    lrp_act *p = op_embedding(g, &w->pos, pos, T, 1.0f, NULL, NULL);
    f->taps.input[LRP_INPUT_WORDS] = e;
    f->taps.input[LRP_INPUT_POSITIONS] = p;
    lrp_act *x = op_add(g, e, p);
    if (w->type.t) {
        types = lrp_graph_alloc(g, (size_t)T * sizeof(int), 1);  // token types default to 0
        if (!types) return -1;
        if (in->token_types) memcpy(types, in->token_types, (size_t)T * sizeof(int));
        lrp_act *tt = op_embedding(g, &w->type, types, T, 1.0f, NULL, NULL);
        f->taps.input[LRP_INPUT_TOKEN_TYPES] = tt;
        x = op_add(g, x, tt);
    }
    x = op_layernorm(g, x, &w->emb_ln_w, &w->emb_ln_b, eps);
    lrp_attn_spec spec = {.n_heads = c->num_heads, .n_kv_heads = c->num_heads, .head_dim = c->head_dim,
                          .scale = 1.0f / sqrtf((float)c->head_dim), .mask = LRP_ATTN_BIDIRECTIONAL,
                          .key_mask = in->attention_mask};
    for (int l = 0; l < c->num_layers; l++) {
        const bert_layer *L = &w->layers[l];
        lrp_act *q = op_linear(g, x, &L->q, &L->q_b), *k = op_linear(g, x, &L->k, &L->k_b);
        lrp_act *v = op_linear(g, x, &L->v, &L->v_b);
        lrp_act *a = op_linear(g, lrp_self_attention(g, f, l, q, k, v, &spec), &L->o, &L->o_b);
        x = op_layernorm(g, op_add(g, a, x), &L->ln1_w, &L->ln1_b, eps);
        lrp_mlp_weights mw = {.up = &L->fc, .up_bias = &L->fc_b, .down = &L->fc2, .down_bias = &L->fc2_b};
        lrp_act *o = lrp_mlp(g, f, l, x, &mw, w->act);
        x = op_layernorm(g, op_add(g, o, x), &L->ln2_w, &L->ln2_b, eps);
        f->taps.block_out[l] = x;
    }
    if (c->task == LRP_TASK_CLASSIFIER) {
        // The first token ([CLS], <s>) through the head.
        static const int first = 0;
        lrp_act *h = op_select_rows(g, x, &first, 1);
        g->tag = LRP_TAG_CLASSIFIER;
        h = op_activation(g, op_linear(g, h, &w->head1, &w->head1_b), w->v == DISTILBERT ? LRP_ACT_RELU : LRP_ACT_TANH);
        f->taps.logits = op_linear(g, h, &w->head2, &w->head2_b);
        g->tag = LRP_TAG_NONE;
    } else {
        if (f->head_rows) x = op_select_rows(g, x, f->head_rows, f->n_head_rows);
        x = op_activation(g, op_linear(g, x, &w->head1, &w->head1_b), w->act);
        x = op_layernorm(g, x, &w->head_ln_w, &w->head_ln_b, eps);
        f->taps.logits = op_linear(g, x, &w->head2, &w->head2_b);
    }
    return lrp_graph_ok(g) ? 0 : -1;
}

// `attnlrp neuron`: refused. Post-norm blocks re-normalise every block's output and the heads are
// nonlinear (the classifier's pooler, the MLM transform): no linear projection onto the outputs.
static int bert_neuron_readout(const lrp_model *m, int l, int expert, lrp_neuron_readout *r, lrp_err *err) {
    (void)l, (void)expert, (void)r;
    return lrp_fail(err, "%s: no projection of MLP neurons onto the outputs (post-norm blocks and a nonlinear "
                         "%s head: the neuron's output weights do not map linearly to %s)", m->cfg.model_type,
                    m->cfg.task == LRP_TASK_CLASSIFIER ? "classifier" : "masked-LM",
                    m->cfg.task == LRP_TASK_CLASSIFIER ? "labels" : "tokens");
}

static const char *const model_types[] = {"bert", "roberta", "distilbert", NULL};
static const char *const no_gguf[] = {NULL};
const lrp_family lrp_family_bert = {
    .name = "bert",
    .model_types = model_types,
    .gguf_archs = no_gguf,
    .summary = "BERT, RoBERTa, DistilBERT encoders: sequence classifiers and masked LMs (token types, padding)",
    .read_config = bert_read_config,
    .read_gguf = NULL,
    .bind = bert_bind,
    .forward = bert_forward,
    .neuron_readout = bert_neuron_readout,
};

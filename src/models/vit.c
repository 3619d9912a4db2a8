// Vision Transformers (vit: ViTForImageClassification). Pre-norm encoder over image patches:
//   x = [cls ; patch_conv(pixels)] + position_embeddings        (conv stride = kernel = patch_size)
//   x = x + dense(attention(q(ln_before(x)), k(...), v(...)))      (bidirectional)
//   x = x + output(gelu(intermediate(ln_after(x))))
//   logits = classifier(layernorm(x)[0])
// The patch convolution is a linear map of each patch's pixels (tagged for the γ-rule, SPEC §5, like the
// MLP linears and the classifier).
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels/matmul.h"
#include "models/bind.h"
#include "models/blocks.h"
#include "models/registry.h"

static int vit_read_config(lrp_config *c, const lrp_hp *h) {
    if (lrp_hp_int(h, "hidden_size", 1, &c->hidden_size) || lrp_hp_int(h, "num_hidden_layers", 1, &c->num_layers) ||
        lrp_hp_int(h, "num_attention_heads", 1, &c->num_heads) ||
        lrp_hp_int(h, "intermediate_size", 1, &c->intermediate_size) ||
        lrp_hp_int(h, "image_size", 1, &c->image_size) || lrp_hp_int(h, "patch_size", 1, &c->patch_size))
        return -1;
    c->num_channels = 3;
    c->norm_eps = 1e-12;
    int qkv_bias = 1;
    strcpy(c->hidden_act, "gelu");
    if (lrp_hp_int(h, "num_channels", 0, &c->num_channels) || lrp_hp_eps(h, "layer_norm_eps", &c->norm_eps) ||
        lrp_hp_string(h, "hidden_act", c->hidden_act, sizeof c->hidden_act) || lrp_hp_bool(h, "qkv_bias", &qkv_bias))
        return -1;
    if (c->num_heads > 0 && c->hidden_size % c->num_heads != 0)
        return lrp_fail(h->err, "%s: hidden_size %d is not divisible by %d heads", h->where, c->hidden_size,
                        c->num_heads);
    if (c->image_size <= 0 || c->patch_size <= 0 || c->image_size % c->patch_size != 0 || c->num_channels <= 0 ||
        c->image_size > 8192 || c->num_channels > 64)
        return lrp_fail(h->err, "%s: image_size %d, patch_size %d and num_channels %d do not tile an image", h->where,
                        c->image_size, c->patch_size, c->num_channels);
    if (!qkv_bias) return lrp_fail(h->err, "%s: qkv_bias false is not supported", h->where);
    if (c->task != LRP_TASK_CLASSIFIER)
        return lrp_fail(h->err, "%s: architecture \"%s\" is not supported for vit (only ViTForImageClassification)",
                        h->where, c->architecture[0] ? c->architecture : "(none)");
    int side = c->image_size / c->patch_size;
    c->num_kv_heads = c->num_heads;
    c->head_dim = c->num_heads > 0 ? c->hidden_size / c->num_heads : 0;
    c->max_position_embeddings = side * side + 1;
    c->vocab_size = 1;  // no vocabulary: the input is pixels
    return 0;
}

typedef struct {
    lrp_weight ln1_w, ln1_b, q, q_b, k, k_b, v, v_b, o, o_b, ln2_w, ln2_b, fc, fc_b, fc2, fc2_b;
} vit_layer;

typedef struct {
    lrp_weight cls, pos, conv, conv_b, lnf_w, lnf_b, head, head_b;
    lrp_act_fn act;
    vit_layer layers[];
} vit_weights;

static int pair(lrp_model *m, lrp_weight *w, lrp_weight *b, int64_t out, int64_t in, lrp_err *err, const char *stem) {
    return lrp_bind(m, w, 0, 0, out, in, err, "%s.weight", stem) || lrp_bind(m, b, 0, 0, out, -1, err, "%s.bias", stem);
}

static int vit_bind(lrp_model *m, lrp_err *err) {
    const lrp_config *c = &m->cfg;
    int act = lrp_act_fn_parse(c->hidden_act);
    if (act < 0) return lrp_fail(err, "%s: hidden_act \"%s\" is not supported", m->path, c->hidden_act);
    vit_weights *w = lrp_bind_alloc(m, sizeof *w + (size_t)c->num_layers * sizeof(vit_layer), err);
    if (!w) return -1;
    w->act = (lrp_act_fn)act;
    int64_t d = c->hidden_size, ff = c->intermediate_size, C = c->num_channels, p = c->patch_size;
    int64_t n_pos = c->max_position_embeddings;
    const int64_t cls_dims[3] = {1, 1, d}, pos_dims[3] = {1, n_pos, d}, conv_dims[4] = {d, C, p, p};
    if (lrp_bind_as_matrix(m, &w->cls, 3, cls_dims, 1, d, err, "vit.embeddings.cls_token") ||
        lrp_bind_as_matrix(m, &w->pos, 3, pos_dims, n_pos, d, err, "vit.embeddings.position_embeddings") ||
        lrp_bind_as_matrix(m, &w->conv, 4, conv_dims, d, C * p * p, err,
                           "vit.embeddings.patch_embeddings.projection.weight") ||
        lrp_bind(m, &w->conv_b, 0, 0, d, -1, err, "vit.embeddings.patch_embeddings.projection.bias") ||
        pair(m, &w->lnf_w, &w->lnf_b, d, -1, err, "vit.layernorm") ||
        pair(m, &w->head, &w->head_b, c->n_labels, d, err, "classifier"))
        return -1;
    for (int l = 0; l < c->num_layers; l++) {
        vit_layer *L = &w->layers[l];
        char s[8][96];
        static const char *const parts[8] = {"layernorm_before", "attention.attention.query", "attention.attention.key",
                                             "attention.attention.value", "attention.output.dense", "layernorm_after",
                                             "intermediate.dense", "output.dense"};
        for (int i = 0; i < 8; i++) snprintf(s[i], sizeof s[i], "vit.encoder.layer.%d.%s", l, parts[i]);
        if (pair(m, &L->ln1_w, &L->ln1_b, d, -1, err, s[0]) || pair(m, &L->q, &L->q_b, d, d, err, s[1]) ||
            pair(m, &L->k, &L->k_b, d, d, err, s[2]) || pair(m, &L->v, &L->v_b, d, d, err, s[3]) ||
            pair(m, &L->o, &L->o_b, d, d, err, s[4]) || pair(m, &L->ln2_w, &L->ln2_b, d, -1, err, s[5]) ||
            pair(m, &L->fc, &L->fc_b, ff, d, err, s[6]) || pair(m, &L->fc2, &L->fc2_b, d, ff, err, s[7]))
            return -1;
    }
    return 0;
}

// A leaf activation holding rows [0, rows) of a stored matrix (the CLS token, the position table).
static lrp_act *stored_rows(lrp_graph *g, const lrp_weight *w, int rows) {
    lrp_act *a = lrp_act_new(g, rows, (int)w->in);
    for (int r = 0; a && r < rows; r++) lrp_weight_row(w, r, a->x + (size_t)r * w->in);
    return a;
}

static int vit_forward(const lrp_model *m, lrp_graph *g, lrp_forward *f) {
    const lrp_config *c = &m->cfg;
    const vit_weights *w = m->weights;
    const lrp_inputs *in = &f->in;
    int C = c->num_channels, S = c->image_size, p = c->patch_size;
    float eps = (float)c->norm_eps;
    if (!in->pixels || in->channels != C || in->height != S || in->width != S) {
        lrp_graph_fail(g, "pixels: the model takes [%d, %d, %d] images, got [%d, %d, %d]", C, S, S, in->channels,
                       in->height, in->width);
        return -1;
    }
    lrp_act *pix = lrp_act_new(g, C, S * S);
    if (!pix) return -1;
    memcpy(pix->x, in->pixels, (size_t)C * S * S * sizeof(float));
    // The baselines' perturbations (explain/baselines.c): noise on the pixels, a factor per patch.
    for (size_t i = 0; in->embed_noise && i < (size_t)C * S * S; i++) pix->x[i] += in->embed_noise[i];
    for (int n = 0, side = S / p; in->embed_scale && n < side * side; n++)
        for (int ch = 0; ch < C; ch++)
            for (int i = 0; i < p; i++) {
                float *row = pix->x + ((size_t)ch * S + (size_t)(n / side) * p + i) * S + (size_t)(n % side) * p;
                for (int j = 0; j < p; j++) row[j] *= in->embed_scale[n];
            }
    lrp_act *cls = stored_rows(g, &w->cls, 1), *pos = stored_rows(g, &w->pos, c->max_position_embeddings);
    f->taps.input[LRP_INPUT_PIXELS] = pix;
    f->taps.input[LRP_INPUT_CLS] = cls;
    f->taps.input[LRP_INPUT_POSITIONS] = pos;
    g->tag = LRP_TAG_PATCH_CONV;
    lrp_act *e = op_linear(g, op_patchify(g, pix, C, S, S, p), &w->conv, &w->conv_b);
    g->tag = LRP_TAG_NONE;
    lrp_act *x = op_add(g, op_concat_rows(g, cls, e), pos);
    lrp_attn_spec spec = {.n_heads = c->num_heads, .n_kv_heads = c->num_heads, .head_dim = c->head_dim,
                          .scale = 1.0f / sqrtf((float)c->head_dim), .mask = LRP_ATTN_BIDIRECTIONAL};
    for (int l = 0; l < c->num_layers; l++) {
        const vit_layer *L = &w->layers[l];
        lrp_act *h = op_layernorm(g, x, &L->ln1_w, &L->ln1_b, eps);
        lrp_act *q = op_linear(g, h, &L->q, &L->q_b), *k = op_linear(g, h, &L->k, &L->k_b);
        lrp_act *v = op_linear(g, h, &L->v, &L->v_b);
        x = op_add(g, x, op_linear(g, lrp_self_attention(g, f, l, q, k, v, &spec), &L->o, &L->o_b));
        h = op_layernorm(g, x, &L->ln2_w, &L->ln2_b, eps);
        lrp_mlp_weights mw = {.up = &L->fc, .up_bias = &L->fc_b, .down = &L->fc2, .down_bias = &L->fc2_b};
        x = op_add(g, x, lrp_mlp(g, f, l, h, &mw, w->act));
        f->taps.block_out[l] = x;
    }
    static const int first = 0;
    x = op_select_rows(g, op_layernorm(g, x, &w->lnf_w, &w->lnf_b, eps), &first, 1);
    g->tag = LRP_TAG_CLASSIFIER;
    f->taps.logits = op_linear(g, x, &w->head, &w->head_b);
    g->tag = LRP_TAG_NONE;
    return lrp_graph_ok(g) ? 0 : -1;
}

// `attnlrp neuron`: the output dense (fc2) column through the final LayerNorm's weight (bias left out)
// and the classifier: scores on the labels.
static int vit_neuron_readout(const lrp_model *m, int l, int expert, lrp_neuron_readout *r, lrp_err *err) {
    (void)expert, (void)err;
    const vit_weights *w = m->weights;
    r->down = w->layers[l].fc2;
    r->norm[0] = w->lnf_w;
    r->unembed = w->head;
    return 0;
}

static const char *const model_types[] = {"vit", NULL};
static const char *const no_gguf[] = {NULL};
const lrp_family lrp_family_vit = {
    .name = "vit",
    .model_types = model_types,
    .gguf_archs = no_gguf,
    .summary = "Vision Transformers (ViTForImageClassification): patch convolution, CLS token, LayerNorm, GELU",
    .read_config = vit_read_config,
    .read_gguf = NULL,
    .bind = vit_bind,
    .forward = vit_forward,
    .neuron_readout = vit_neuron_readout,
};

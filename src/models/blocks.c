#include "models/blocks.h"

#include <math.h>

lrp_act *lrp_rope_self_attention(lrp_graph *g, lrp_forward *f, int l, lrp_act *h, const lrp_rope_attn_weights *w,
                                 const lrp_rope *rope, lrp_attn_spec *spec, float eps) {
    int hd = spec->head_dim;
    lrp_act *q = op_linear(g, h, &w->q, &w->q_bias);
    lrp_act *k = op_linear(g, h, &w->k, &w->k_bias);
    lrp_act *v = op_linear(g, h, &w->v, &w->v_bias);
    if (w->q_norm.t) {
        q = op_rmsnorm(g, q, &w->q_norm, eps, hd);
        k = op_rmsnorm(g, k, &w->k_norm, eps, hd);
    }
    q = op_rope(g, q, rope, spec->n_heads);
    k = op_rope(g, k, rope, spec->n_kv_heads);
    return op_linear(g, lrp_self_attention(g, f, l, q, k, v, spec), &w->o, &w->o_bias);
}

lrp_act *lrp_self_attention(lrp_graph *g, lrp_forward *f, int l, lrp_act *q, lrp_act *k, lrp_act *v,
                            lrp_attn_spec *spec) {
    lrp_kv_cache *cache = f->cache;
    if (cache) {
        size_t off = (size_t)l * cache->capacity * cache->kv_dim;
        k = op_cache_append(g, k, cache->k + off, cache->len, cache->capacity);
        v = op_cache_append(g, v, cache->v + off, cache->len, cache->capacity);
    }
    spec->probs = f->want_attn_probs ? &f->taps.attn_probs[l] : NULL;
    return lrp_attn_heads(g, f, l, op_attention(g, q, k, v, spec), spec->head_dim);
}

lrp_act *lrp_attn_heads(lrp_graph *g, lrp_forward *f, int l, lrp_act *a, int head_dim) {
    int n = 0;
    for (int k = 0; k < f->n_head_iv; k++) n += f->head_iv[k].layer == l;
    if (n > 0 && a) {  // one column intervention per dimension of each head (op_intervene keeps the array)
        lrp_intervention *cols = lrp_graph_alloc(g, (size_t)n * head_dim * sizeof *cols, 0);
        if (!cols) return NULL;
        int j = 0;
        for (int k = 0; k < f->n_head_iv; k++) {
            const lrp_intervention *h = &f->head_iv[k];
            if (h->layer != l) continue;
            for (int d = 0; d < head_dim; d++)
                cols[j++] = (lrp_intervention){.layer = l, .neuron = h->neuron * head_dim + d, .kind = h->kind,
                                               .value = h->value};
        }
        const float **rows = NULL;  // activation patching: each column's values row by row
        if (f->head_iv_rows) {
            if (!(rows = lrp_graph_alloc(g, (size_t)n * head_dim * sizeof *rows, 1))) return NULL;
            j = 0;
            for (int k = 0; k < f->n_head_iv; k++) {
                if (f->head_iv[k].layer != l) continue;
                for (int d = 0; d < head_dim; d++, j++)
                    rows[j] = f->head_iv_rows[k] ? f->head_iv_rows[k] + (size_t)d * a->rows : NULL;
            }
        }
        const void *saved_of = g->iv_rows_of;
        const float *const *saved_rows = g->iv_rows;
        if (rows) {
            g->iv_rows_of = cols;
            g->iv_rows = rows;
        }
        a = op_intervene(g, a, cols, j, l);
        g->iv_rows_of = saved_of;
        g->iv_rows = saved_rows;
    }
    if (f->taps.attn_out) f->taps.attn_out[l] = a;  // NULL inside a checkpointed block (op_checkpoint)
    return a;
}

lrp_act *lrp_mlp(lrp_graph *g, lrp_forward *f, int l, lrp_act *h, const lrp_mlp_weights *w, lrp_act_fn act) {
    g->tag = LRP_TAG_MLP_LINEAR;
    lrp_act *z;
    if (w->gate && w->gate->t)
        z = op_gated_product(g, op_activation(g, op_linear(g, h, w->gate, w->gate_bias), act),
                             op_linear(g, h, w->up, w->up_bias));
    else
        z = op_activation(g, op_linear(g, h, w->up, w->up_bias), act);
    z = op_intervene(g, z, f->iv, f->n_iv, l);
    if (f->taps.mlp_act) f->taps.mlp_act[l] = z;
    lrp_act *y = op_linear(g, z, w->down, w->down_bias);
    g->tag = LRP_TAG_NONE;
    return y;
}

int lrp_decoder_logits(lrp_graph *g, lrp_forward *f, lrp_act *x, const lrp_weight *head, const lrp_weight *head_bias,
                       float softcap) {
    if (f->head_rows) x = op_select_rows(g, x, f->head_rows, f->n_head_rows);
    lrp_act *logits = op_linear(g, x, head, head_bias);
    if (softcap > 0) logits = op_softcap(g, logits, softcap);
    f->taps.logits = logits;
    if (f->cache && lrp_graph_ok(g)) f->cache->len += f->in.T;
    return lrp_graph_ok(g) ? 0 : -1;
}

lrp_rope *lrp_rope_decoder_start(lrp_graph *g, const lrp_config *c, const lrp_forward *f, lrp_attn_spec *spec) {
    int hd = c->head_dim;
    *spec = (lrp_attn_spec){.n_heads = c->num_heads, .n_kv_heads = c->num_kv_heads, .head_dim = hd,
                            .scale = 1.0f / sqrtf((float)hd), .mask = LRP_ATTN_CAUSAL, .window = c->sliding_window,
                            .key_mask = f->cache ? NULL : f->in.attention_mask};
    return lrp_rope_tables(g, &c->rope, hd, f->cache ? f->cache->len : 0, f->in.T);
}

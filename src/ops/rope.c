#include <math.h>

#include "ops/ops.h"

// Inverse frequencies after the config's rope_scaling (HF modeling_rope_utils semantics).
// (rot_dim plays the role of the head size: HF computes partial rotary frequencies over the rotated dims.)
// `longf`: LongRoPE's long factors are in force (the sequence runs past original_max_position).
static double scaled_inv_freq(const lrp_rope_params *c, int i, int rot_dim, int longf) {
    double inv = 1.0 / pow(c->theta, (2.0 * i) / rot_dim);
    if (c->scaling == LRP_ROPE_SCALING_LONGROPE) return inv / (longf ? c->long_factors[i] : c->freq_factors[i]);
    if (c->n_freq_factors > 0) inv /= c->freq_factors[i];
    switch (c->scaling) {
    case LRP_ROPE_SCALING_LINEAR:
        return inv / c->factor;
    case LRP_ROPE_SCALING_LLAMA3: {
        double low_wavelen = c->original_max_position / c->low_freq_factor;
        double high_wavelen = c->original_max_position / c->high_freq_factor;
        double wavelen = 2.0 * M_PI / inv;
        if (wavelen > low_wavelen) return inv / c->factor;
        if (wavelen < high_wavelen) return inv;
        double smooth = (c->original_max_position / wavelen - c->low_freq_factor) /
                        (c->high_freq_factor - c->low_freq_factor);
        return (1.0 - smooth) * inv / c->factor + smooth * inv;
    }
    default:
        return inv;
    }
}

lrp_rope *lrp_rope_tables(lrp_graph *g, const lrp_rope_params *cfg, int head_dim, int pos0, int n_pos) {
    if (g->failed) return NULL;
    int rot = cfg->rot_dim > 0 ? cfg->rot_dim : head_dim;
    if (rot > head_dim || rot % 2 != 0)
        return lrp_graph_fail(g, "internal: rotary dimension %d for heads of %d", rot, head_dim);
    int half = rot / 2;
    lrp_rope *r = lrp_graph_alloc(g, sizeof *r, 1);
    float *tab = lrp_graph_alloc(g, 2 * (size_t)n_pos * half * sizeof(float), 0);
    if (!r || !tab) return NULL;
    r->head_dim = head_dim;
    r->rot_dim = rot;
    r->n_pos = n_pos;
    r->pos0 = pos0;
    r->pairing = cfg->pairing;
    r->cos = tab;
    r->sin = tab + (size_t)n_pos * half;
    int longrope = cfg->scaling == LRP_ROPE_SCALING_LONGROPE;
    if ((cfg->n_freq_factors > 0 || longrope) && cfg->n_freq_factors != half)
        return lrp_graph_fail(g, "internal: %d rope frequency factors for %d rotated pairs", cfg->n_freq_factors, half);
    // Hugging Face picks LongRoPE's factors by the sequence length (the last position + 1).
    int longf = longrope && (int64_t)pos0 + n_pos > cfg->original_max_position;
    double amp = longrope ? cfg->attention_factor : 1.0;
    for (int i = 0; i < half; i++) {
        double f = scaled_inv_freq(cfg, i, rot, longf);
        for (int p = 0; p < n_pos; p++) {
            double a = (double)(pos0 + p) * f;
            r->cos[(size_t)p * half + i] = (float)(amp * cos(a));
            r->sin[(size_t)p * half + i] = (float)(amp * sin(a));
        }
    }
    return r;
}

// Index of the two members of pair i within a head.
static inline void pair_index(const lrp_rope *r, int i, int *a, int *b) {
    if (r->pairing == LRP_ROPE_PAIR_HALVES) {
        *a = i;
        *b = i + r->rot_dim / 2;
    } else {
        *a = 2 * i;
        *b = 2 * i + 1;
    }
}

// Rotation by +angle (forward) or -angle (its transpose, the backward); dimensions past rot_dim pass
// through unchanged.
static void rotate(const lrp_rope *r, const float *src, float *dst, int rows, int n_heads, float sign, int accumulate) {
    int hd = r->head_dim, half = r->rot_dim / 2, cols = n_heads * hd;
    for (int t = 0; t < rows; t++) {
        const float *c = r->cos + (size_t)t * half, *s = r->sin + (size_t)t * half;
        for (int h = 0; h < n_heads; h++) {
            const float *x = src + (size_t)t * cols + (size_t)h * hd;
            float *y = dst + (size_t)t * cols + (size_t)h * hd;
            for (int i = 0; i < half; i++) {
                int a, b;
                pair_index(r, i, &a, &b);
                float x1 = x[a], x2 = x[b], si = sign * s[i];
                float y1 = x1 * c[i] - x2 * si, y2 = x2 * c[i] + x1 * si;
                if (accumulate) {
                    y[a] += y1;
                    y[b] += y2;
                } else {
                    y[a] = y1;
                    y[b] = y2;
                }
            }
            for (int i = r->rot_dim; i < hd; i++) y[i] = accumulate ? y[i] + x[i] : x[i];
        }
    }
}

static void rope_backward(lrp_graph *g, const lrp_node *n, const lrp_rules *rules) {
    (void)rules;
    float *gx = lrp_act_grad(g, n->in[0]);
    if (!gx) return;
    rotate(n->aux, n->out->g, gx, n->out->rows, n->ip[0], -1.0f, 1);
}

lrp_act *op_rope(lrp_graph *g, lrp_act *x, const lrp_rope *rope, int n_heads) {
    if (!x || !rope) return NULL;
    if (x->cols != n_heads * rope->head_dim || x->rows > rope->n_pos)
        return lrp_graph_fail(g, "internal: rope on [%d, %d] with %d heads of %d", x->rows, x->cols, n_heads,
                              rope->head_dim);
    lrp_act *y = lrp_act_new(g, x->rows, x->cols);
    if (!y) return NULL;
    rotate(rope, x->x, y->x, x->rows, n_heads, 1.0f, 0);
    lrp_node *n = lrp_graph_record(g, "rope", rope_backward, y);
    if (!n) return NULL;
    n->in[0] = x;
    n->aux = rope;
    n->ip[0] = n_heads;
    return y;
}

// Soft-capping, c·tanh(x/c): Gemma 2's final logits (the attention-score capping lives in attention.c).
#include <math.h>

#include "ops/ops.h"

static void softcap_backward(lrp_graph *g, const lrp_node *n, const lrp_rules *rules) {
    lrp_act *x = n->in[0];
    float *gx = lrp_act_grad(g, x);
    if (!gx) return;
    size_t N = (size_t)x->rows * x->cols;
    const float *gy = n->out->g, *y = n->out->x;
    float c = n->fp[0];
    if (rules->act_identity) {
        // Identity rule: R(x) = x·ĝ(x) = R(y).
        for (size_t i = 0; i < N; i++) gx[i] += gy[i] * (y[i] / (x->x[i] + 1e-10f));
    } else {
        for (size_t i = 0; i < N; i++) {
            double t = tanh((double)x->x[i] / c);
            gx[i] += (float)(gy[i] * (1.0 - t * t));
        }
    }
}

lrp_act *op_softcap(lrp_graph *g, lrp_act *x, float c) {
    if (!x) return NULL;
    if (!(c > 0.0f)) return lrp_graph_fail(g, "internal: soft-capping value %g is not positive", (double)c);
    lrp_act *y = lrp_act_new(g, x->rows, x->cols);
    if (!y) return NULL;
    size_t N = (size_t)x->rows * x->cols;
    for (size_t i = 0; i < N; i++) y->x[i] = (float)(c * tanh((double)x->x[i] / c));
    lrp_node *n = lrp_graph_record(g, "softcap", softcap_backward, y);
    if (!n) return NULL;
    n->in[0] = x;
    n->fp[0] = c;
    return y;
}

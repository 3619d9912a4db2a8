// Multiplication by a constant: linear, so the exact gradient is the relevance rule (SPEC §1).
#include "ops/ops.h"

static void scale_backward(lrp_graph *g, const lrp_node *n, const lrp_rules *rules) {
    (void)rules;
    float *gx = lrp_act_grad(g, n->in[0]);
    if (!gx) return;
    size_t N = (size_t)n->out->rows * n->out->cols;
    for (size_t i = 0; i < N; i++) gx[i] += n->fp[0] * n->out->g[i];
}

lrp_act *op_scale(lrp_graph *g, lrp_act *x, float s) {
    if (!x) return NULL;
    lrp_act *y = lrp_act_new(g, x->rows, x->cols);
    if (!y) return NULL;
    size_t N = (size_t)x->rows * x->cols;
    for (size_t i = 0; i < N; i++) y->x[i] = s * x->x[i];
    lrp_node *n = lrp_graph_record(g, "scale", scale_backward, y);
    if (!n) return NULL;
    n->in[0] = x;
    n->fp[0] = s;
    return y;
}

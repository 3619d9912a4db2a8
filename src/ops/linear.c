#include "kernels/matmul.h"
#include "ops/ops.h"

// out = x·Wᵀ + b: the gradient is the ε-rule (ε → 0, bias absorbing its share), so no rule is needed.
static void linear_backward(lrp_graph *g, const lrp_node *n, const lrp_rules *rules) {
    (void)rules;
    lrp_act *x = n->in[0];
    float *gx = lrp_act_grad(g, x);
    if (!gx) return;
    lrp_matmul_backward_input(gx, n->out->g, n->w, x->rows, x->cols, n->out->cols, g->scratch, g->scratch_floats);
}

lrp_act *op_linear(lrp_graph *g, lrp_act *x, const lrp_tensor *W, const lrp_tensor *b) {
    if (!x) return NULL;
    int out_features = (int)W->shape[0];
    if (W->shape[1] != x->cols)
        return lrp_graph_fail(g, "internal: %s expects %lld inputs, got %d", W->name, (long long)W->shape[1], x->cols);
    lrp_act *y = lrp_act_new(g, x->rows, out_features);
    if (!y) return NULL;
    lrp_matmul_forward(y->x, x->x, W, b, x->rows, x->cols, out_features, g->scratch, g->scratch_floats);
    lrp_node *n = lrp_graph_record(g, "linear", linear_backward, y);
    if (!n) return NULL;
    n->in[0] = x;
    n->w = W;
    n->b = b;
    return y;
}

// Reshape: the same row-major values seen as another [rows, cols] (e.g. [T, H·hd] as [T·H, hd] for a
// norm per head). A copy forward, a copy backward: the exact (identity) Jacobian.
#include <string.h>

#include "ops/ops.h"

static void reshape_backward(lrp_graph *g, const lrp_node *n, const lrp_rules *rules) {
    (void)rules;
    lrp_act *x = n->in[0];
    float *gx = lrp_act_grad(g, x);
    if (!gx) return;
    size_t count = (size_t)x->rows * x->cols;
    for (size_t i = 0; i < count; i++) gx[i] += n->out->g[i];
}

lrp_act *op_reshape(lrp_graph *g, lrp_act *x, int rows, int cols) {
    if (!x) return NULL;
    if ((int64_t)rows * cols != (int64_t)x->rows * x->cols)
        return lrp_graph_fail(g, "internal: reshape of [%d, %d] to [%d, %d]", x->rows, x->cols, rows, cols);
    lrp_act *y = lrp_act_new(g, rows, cols);
    if (!y) return NULL;
    memcpy(y->x, x->x, (size_t)rows * cols * sizeof(float));
    lrp_node *n = lrp_graph_record(g, "reshape", reshape_backward, y);
    if (!n) return NULL;
    n->in[0] = x;
    return y;
}

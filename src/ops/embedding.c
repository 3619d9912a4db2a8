#include "kernels/matmul.h"
#include "ops/ops.h"

lrp_act *op_embedding(lrp_graph *g, const lrp_tensor *W, const int *ids, int T, float scale) {
    int d = (int)W->shape[1];
    lrp_act *e = lrp_act_new(g, T, d);
    if (!e) return NULL;
    for (int t = 0; t < T; t++) {
        float *row = e->x + (size_t)t * d;
        lrp_weight_row(W, ids[t], d, row);
        if (scale != 1.0f)
            for (int i = 0; i < d; i++) row[i] *= scale;
    }
    return e;
}

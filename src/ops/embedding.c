#include <string.h>

#include "kernels/matmul.h"
#include "ops/ops.h"

lrp_act *op_embedding(lrp_graph *g, const lrp_weight *W, const int *ids, int T, float scale, const float *token_scale,
                      const float *noise) {
    int d = (int)W->in;
    lrp_act *e = lrp_act_new(g, T, d);
    if (!e) return NULL;
    for (int t = 0; t < T; t++) {
        float *row = e->x + (size_t)t * d;
        float s = scale * (token_scale ? token_scale[t] : 1.0f);
        if (s == 0.0f) {
            memset(row, 0, (size_t)d * sizeof(float));
        } else {
            lrp_weight_row(W, ids[t], row);
            if (s != 1.0f)
                for (int i = 0; i < d; i++) row[i] *= s;
        }
        if (noise)
            for (int i = 0; i < d; i++) row[i] += noise[(size_t)t * d + i];
    }
    return e;
}

lrp_act *op_cache_append(lrp_graph *g, lrp_act *x, float *cache, int len, int capacity) {
    if (!x) return NULL;
    if (len + x->rows > capacity)
        return lrp_graph_fail(g, "context of %d tokens exceeds the cache of %d positions", len + x->rows, capacity);
    memcpy(cache + (size_t)len * x->cols, x->x, (size_t)x->rows * x->cols * sizeof(float));
    lrp_act *all = lrp_graph_alloc(g, sizeof *all, 1);
    if (!all) return NULL;
    all->x = cache;
    all->rows = len + x->rows;
    all->cols = x->cols;
    return all;
}

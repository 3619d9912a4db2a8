// Rearranging rows: the patches of an image (the input of a patch-embedding convolution with
// stride = kernel) and the concatenation of two activations' rows. Both are permutations or copies of
// their inputs, so their backward is exact: a scatter of the gradient back.
#include <string.h>

#include "ops/ops.h"

// ip: [0] channels, [1] height, [2] width, [3] patch.
static void patchify_backward(lrp_graph *g, const lrp_node *n, const lrp_rules *rules) {
    (void)rules;
    float *gx = lrp_act_grad(g, n->in[0]);
    if (!gx) return;
    int C = n->ip[0], H = n->ip[1], W = n->ip[2], p = n->ip[3], pw = W / p, cols = C * p * p;
    for (int r = 0; r < n->out->rows; r++) {
        const float *src = n->out->g + (size_t)r * cols;
        int y0 = (r / pw) * p, x0 = (r % pw) * p;
        for (int c = 0; c < C; c++)
            for (int i = 0; i < p; i++)
                for (int j = 0; j < p; j++) gx[((size_t)c * H + y0 + i) * W + x0 + j] += *src++;
    }
}

lrp_act *op_patchify(lrp_graph *g, lrp_act *pixels, int C, int H, int W, int p) {
    if (!pixels) return NULL;
    if (p <= 0 || H % p || W % p || pixels->rows != C || pixels->cols != H * W)
        return lrp_graph_fail(g, "internal: patches of %d from [%d, %d] pixels of %dx%dx%d", p, pixels->rows,
                              pixels->cols, C, H, W);
    int ph = H / p, pw = W / p, cols = C * p * p;
    lrp_act *y = lrp_act_new(g, ph * pw, cols);
    if (!y) return NULL;
    for (int r = 0; r < ph * pw; r++) {
        float *dst = y->x + (size_t)r * cols;
        int y0 = (r / pw) * p, x0 = (r % pw) * p;
        for (int c = 0; c < C; c++)
            for (int i = 0; i < p; i++)
                for (int j = 0; j < p; j++) *dst++ = pixels->x[((size_t)c * H + y0 + i) * W + x0 + j];
    }
    lrp_node *n = lrp_graph_record(g, "patchify", patchify_backward, y);
    if (!n) return NULL;
    n->in[0] = pixels;
    n->ip[0] = C, n->ip[1] = H, n->ip[2] = W, n->ip[3] = p;
    return y;
}

static void concat_backward(lrp_graph *g, const lrp_node *n, const lrp_rules *rules) {
    (void)rules;
    size_t offset = 0;
    for (int k = 0; k < 2; k++) {
        lrp_act *a = n->in[k];
        float *ga = lrp_act_grad(g, a);
        if (!ga) return;
        size_t len = (size_t)a->rows * a->cols;
        for (size_t i = 0; i < len; i++) ga[i] += n->out->g[offset + i];
        offset += len;
    }
}

lrp_act *op_concat_rows(lrp_graph *g, lrp_act *a, lrp_act *b) {
    if (!a || !b) return NULL;
    if (a->cols != b->cols)
        return lrp_graph_fail(g, "internal: concatenating rows of %d and %d columns", a->cols, b->cols);
    lrp_act *y = lrp_act_new(g, a->rows + b->rows, a->cols);
    if (!y) return NULL;
    memcpy(y->x, a->x, (size_t)a->rows * a->cols * sizeof(float));
    memcpy(y->x + (size_t)a->rows * a->cols, b->x, (size_t)b->rows * b->cols * sizeof(float));
    lrp_node *n = lrp_graph_record(g, "concat_rows", concat_backward, y);
    if (!n) return NULL;
    n->in[0] = a;
    n->in[1] = b;
    return y;
}

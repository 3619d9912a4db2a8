#include "explain/scan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "explain/explain.h"
#include "explain/memory.h"

int lrp_latent_width(const lrp_model *m) { return m->cfg.intermediate_size; }

int lrp_forward_latent(const lrp_model *m, const int *ids, int T, int layer, int expert, float *act, lrp_err *err) {
    const lrp_config *c = &m->cfg;
    if (lrp_check_ids(m, ids, T, err)) return -1;
    if (c->image_size > 0 || c->task == LRP_TASK_SEQ2SEQ_LM)
        return lrp_fail(err, "model: %s is not a text model with one stack (scan reads token windows)", c->model_type);
    if (layer < 0 || layer >= c->num_layers)
        return lrp_fail(err, "layer %d: out of range (0..%d)", layer, c->num_layers - 1);
    if (expert != -1 && c->num_experts <= 0)
        return lrp_fail(err, "expert %d: %s has no experts (not a mixture-of-experts model)", expert, c->model_type);
    if (expert != -1 && (expert < 0 || expert >= c->num_experts))
        return lrp_fail(err, "expert %d: out of range (0..%d)", expert, c->num_experts - 1);
    if (lrp_check_memory(m, "scanning", T, 1, 1, 0, err)) return -1;
    lrp_graph g;
    if (lrp_graph_init(&g, lrp_model_scratch_floats(m), err)) return -1;
    g.grad_enabled = 0;
    int last = T - 1;
    lrp_forward f = {.in = {.ids = ids, .T = T}, .latent_expert = expert > 0 ? expert : 0};
    if (c->task != LRP_TASK_CLASSIFIER) {
        f.head_rows = &last;
        f.n_head_rows = 1;
    }
    int rc = lrp_model_forward(m, &g, &f);
    if (rc != 0) lrp_fail(err, "%s", g.err.msg);
    else {
        const lrp_act *z = f.taps.mlp_act ? f.taps.mlp_act[layer] : NULL;
        int W = lrp_latent_width(m);
        if (!z || z->rows != T || z->cols != W)
            rc = lrp_fail(err, "layer %d: the model has no MLP intermediate of [%d, %d] to read", layer, T, W);
        else memcpy(act, z->x, (size_t)T * W * sizeof(float));
    }
    lrp_graph_free(&g);
    if (rc == 0) lrp_memory_blas_ready();
    return rc;
}

int lrp_column_max(const float *act, int rows, int width, int n, float *value) {
    int best = -1;
    for (int r = 0; r < rows; r++) {
        float v = act[(size_t)r * width + n];
        if (!isnan(v) && (best < 0 || v > *value)) {
            best = r;
            *value = v;
        }
    }
    return best;
}

// a ranks above b: higher activation, ties to the lower index.
static int better(const lrp_scan_hit *a, const lrp_scan_hit *b) {
    return a->activation > b->activation || (a->activation == b->activation && a->index < b->index);
}

static void sift_down(lrp_scan_hit *h, int n, int i) {
    for (;;) {
        int w = i, l = 2 * i + 1, r = l + 1;
        if (l < n && better(&h[w], &h[l])) w = l;   // the root holds the worst
        if (r < n && better(&h[w], &h[r])) w = r;
        if (w == i) return;
        lrp_scan_hit tmp = h[i];
        h[i] = h[w];
        h[w] = tmp;
        i = w;
    }
}

int lrp_scan_top_init(lrp_scan_top *t, int k, lrp_err *err) {
    memset(t, 0, sizeof *t);
    if (k < 1) return lrp_fail(err, "top %d: must be at least 1", k);
    if (!(t->h = calloc((size_t)k, sizeof *t->h))) return lrp_fail(err, "out of memory");
    t->k = k;
    return 0;
}

int lrp_scan_top_offer(lrp_scan_top *t, long index, int position, float activation, const int *ids, int T,
                       lrp_err *err) {
    lrp_scan_hit cand = {index, position, activation, T, NULL};
    if (isnan(activation)) return 0;
    if (t->n == t->k && !better(&cand, &t->h[0])) return 0;
    if (!(cand.ids = malloc((size_t)T * sizeof(int)))) return lrp_fail(err, "out of memory");
    memcpy(cand.ids, ids, (size_t)T * sizeof(int));
    if (t->n < t->k) {  // sift up
        int i = t->n++;
        while (i > 0 && better(&t->h[(i - 1) / 2], &cand)) {
            t->h[i] = t->h[(i - 1) / 2];
            i = (i - 1) / 2;
        }
        t->h[i] = cand;
    } else {
        free(t->h[0].ids);
        t->h[0] = cand;
        sift_down(t->h, t->n, 0);
    }
    return 0;
}

static int cmp_hits(const void *a, const void *b) {
    const lrp_scan_hit *x = a, *y = b;
    return better(x, y) ? -1 : better(y, x) ? 1 : 0;
}

void lrp_scan_top_sort(lrp_scan_top *t) {
    if (t->n > 1) qsort(t->h, (size_t)t->n, sizeof *t->h, cmp_hits);
}

void lrp_scan_top_free(lrp_scan_top *t) {
    for (int i = 0; i < t->n; i++) free(t->h[i].ids);
    free(t->h);
    memset(t, 0, sizeof *t);
}

#include "explain/explain.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void lrp_explain_opts_default(lrp_explain_opts *o) {
    memset(o, 0, sizeof *o);
    o->method = LRP_METHOD_ATTNLRP;
    o->target = -1;
    o->position = -1;
    o->contrast = -1;
    o->latent_start[0] = -1;
    o->latent_layer = -1;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int lrp_check_ids(const lrp_model *m, const int *ids, int T, lrp_err *err) {
    if (T <= 0) return lrp_fail(err, "no input tokens: give TEXT or a non-empty --ids list");
    for (int t = 0; t < T; t++)
        if (ids[t] < 0 || ids[t] >= m->cfg.vocab_size)
            return lrp_fail(err, "--ids: id %d at index %d is out of range (vocabulary size %d)", ids[t], t,
                            m->cfg.vocab_size);
    return 0;
}

static int check_opts(const lrp_model *m, int T, const lrp_explain_opts *o, int position, lrp_err *err) {
    const lrp_config *c = &m->cfg;
    if ((unsigned)o->method >= LRP_METHOD_COUNT) return lrp_fail(err, "--method: unknown method");
    if (position < 0 || position >= T)
        return lrp_fail(err, "--position %d: out of range for %d tokens (0..%d)", o->position, T, T - 1);
    if (o->target >= c->vocab_size || o->target < -1)
        return lrp_fail(err, "--target-id %d: out of range (vocabulary size %d)", o->target, c->vocab_size);
    if (o->contrast >= c->vocab_size || o->contrast < -1)
        return lrp_fail(err, "--contrast %d: out of range (vocabulary size %d)", o->contrast, c->vocab_size);
    if (o->latent_start[0] != -1) {
        const int *ls = o->latent_start;
        if (ls[0] < 0 || ls[0] >= c->num_layers)
            return lrp_fail(err, "--latent-start %d,%d,%d: layer %d out of range (0..%d)", ls[0], ls[1], ls[2], ls[0],
                            c->num_layers - 1);
        if (ls[1] < 0 || ls[1] >= T)
            return lrp_fail(err, "--latent-start %d,%d,%d: position %d out of range (0..%d)", ls[0], ls[1], ls[2],
                            ls[1], T - 1);
        if (ls[2] < 0 || ls[2] >= c->intermediate_size)
            return lrp_fail(err, "--latent-start %d,%d,%d: neuron %d out of range (0..%d)", ls[0], ls[1], ls[2], ls[2],
                            c->intermediate_size - 1);
        if (o->contrast != -1) return lrp_fail(err, "--contrast cannot be combined with --latent-start");
    }
    if (o->latent_layer != -1 && (o->latent_layer < 0 || o->latent_layer >= c->num_layers))
        return lrp_fail(err, "--latent-layer %d: out of range (0..%d)", o->latent_layer, c->num_layers - 1);
    return lrp_check_interventions(m, o->iv, o->n_iv, err);
}

static void fill_top(lrp_explanation *e) {
    int V = e->vocab;
    float mx = -INFINITY;
    for (int i = 0; i < V; i++) mx = e->logits[i] > mx ? e->logits[i] : mx;
    double z = 0;
    for (int i = 0; i < V; i++) z += exp((double)e->logits[i] - mx);
    int k = V < LRP_TOP_K ? V : LRP_TOP_K;
    for (int r = 0; r < k; r++) {
        int best = -1;
        for (int i = 0; i < V; i++) {
            int taken = 0;
            for (int s = 0; s < r; s++) taken |= e->top[s].id == i;
            if (!taken && (best < 0 || e->logits[i] > e->logits[best])) best = i;
        }
        e->top[r].id = best;
        e->top[r].logit = e->logits[best];
        e->top[r].prob = (float)(exp((double)e->logits[best] - mx) / z);
    }
    e->n_top = k;
}

// Σ over columns of x ⊙ ĝ for every row (zero where no gradient arrived).
static void row_relevance(const lrp_act *a, float *dst) {
    for (int t = 0; t < a->rows; t++) {
        double s = 0;
        if (a->g)
            for (int i = 0; i < a->cols; i++) s += (double)a->x[(size_t)t * a->cols + i] * a->g[(size_t)t * a->cols + i];
        dst[t] = (float)s;
    }
}

int lrp_explain(const lrp_model *m, const int *ids, int T, const lrp_explain_opts *o, lrp_explanation *e,
                lrp_err *err) {
    memset(e, 0, sizeof *e);
    e->latent_layer = -1;
    e->latent_start[0] = -1;
    if (lrp_check_ids(m, ids, T, err)) return -1;
    int position = o->position == -1 ? T - 1 : o->position;
    if (check_opts(m, T, o, position, err)) return -1;
    const lrp_config *c = &m->cfg;
    int NL = c->num_layers, V = c->vocab_size;

    e->method = o->method;
    e->T = T;
    e->position = position;
    e->contrast = o->contrast;
    e->vocab = V;
    e->n_layers = NL;
    e->ids = malloc((size_t)T * sizeof(int));
    e->relevance = calloc((size_t)T, sizeof(float));
    e->logits = malloc((size_t)V * sizeof(float));
    lrp_act **acts = calloc(2 * (size_t)NL, sizeof *acts);
    if (!e->ids || !e->relevance || !e->logits || !acts) {
        free(acts);
        lrp_explanation_free(e);
        return lrp_fail(err, "out of memory");
    }
    memcpy(e->ids, ids, (size_t)T * sizeof(int));

    lrp_graph g;
    if (lrp_graph_init(&g, lrp_model_scratch_floats(m), err)) {
        free(acts);
        lrp_explanation_free(e);
        return -1;
    }
    lrp_forward_io io = {.ids = ids, .T = T, .head_rows = &position, .n_head_rows = 1, .iv = o->iv, .n_iv = o->n_iv,
                         .block_out = acts, .mlp_act = acts + NL};
    double t0 = now_seconds();
    int rc = m->family->forward(m, &g, &io);
    double t1 = now_seconds();
    if (rc != 0) {
        lrp_fail(err, "%s", g.err.msg);
        goto fail;
    }
    memcpy(e->logits, io.logits->x, (size_t)V * sizeof(float));
    fill_top(e);
    e->target = o->target >= 0 ? o->target : e->top[0].id;
    e->target_logit = e->logits[e->target];

    // Seed the start scalar: ĝ(y) = 1 (and −1 on the foil's logit).
    if (o->latent_start[0] >= 0) {
        memcpy(e->latent_start, o->latent_start, sizeof e->latent_start);
        lrp_act *z = io.mlp_act[o->latent_start[0]];
        size_t at = (size_t)o->latent_start[1] * z->cols + o->latent_start[2];
        float *gz = lrp_act_grad(&g, z);
        if (!gz) goto oom;
        gz[at] = 1.0f;
        e->start_value = z->x[at];
    } else {
        float *gl = lrp_act_grad(&g, io.logits);
        if (!gl) goto oom;
        gl[e->target] += 1.0f;
        e->start_value = e->target_logit;
        if (o->contrast >= 0) {
            gl[o->contrast] -= 1.0f;
            e->contrast_logit = e->logits[o->contrast];
            e->start_value = (double)e->target_logit - e->contrast_logit;
        }
    }
    // The readouts below read these gradients after the backward: keep them from being recycled.
    io.embeddings->keep_grad = 1;
    for (int l = 0; l < NL; l++) {
        io.block_out[l]->keep_grad = o->layers;
        io.mlp_act[l]->keep_grad = o->latent_layer == l || o->neurons;
    }
    lrp_rules rules = lrp_rules_for(o->method);
    if (lrp_graph_backward(&g, &rules, err)) goto fail;
    double t2 = now_seconds();

    const lrp_act *emb = io.embeddings;
    if (o->method == LRP_METHOD_GRADIENT) {
        for (int t = 0; t < T; t++) {
            double s = 0;
            if (emb->g)
                for (int i = 0; i < emb->cols; i++) s += (double)emb->g[(size_t)t * emb->cols + i] * emb->g[(size_t)t * emb->cols + i];
            e->relevance[t] = (float)sqrt(s);
        }
    } else {
        row_relevance(emb, e->relevance);
    }
    for (int t = 0; t < T; t++) e->relevance_sum += e->relevance[t];

    if (o->layers) {
        e->residual_relevance = calloc((size_t)NL * T, sizeof(float));
        if (!e->residual_relevance) goto oom;
        for (int l = 0; l < NL; l++) row_relevance(io.block_out[l], e->residual_relevance + (size_t)l * T);
    }
    if (o->latent_layer >= 0) {
        const lrp_act *z = io.mlp_act[o->latent_layer];
        e->latent_layer = o->latent_layer;
        e->n_latent = z->cols;
        e->latent_relevance = calloc((size_t)z->cols, sizeof(float));
        if (!e->latent_relevance) goto oom;
        if (z->g) {
            for (int i = 0; i < z->cols; i++) {
                double s = 0;
                for (int t = 0; t < z->rows; t++) s += (double)z->x[(size_t)t * z->cols + i] * z->g[(size_t)t * z->cols + i];
                e->latent_relevance[i] = (float)s;
            }
        }
    }
    if (o->neurons) {
        int W = io.mlp_act[0]->cols;
        e->neuron_width = W;
        e->neuron_relevance = calloc((size_t)NL * W, sizeof(float));
        e->neuron_activation = calloc((size_t)NL * W, sizeof(float));
        if (!e->neuron_relevance || !e->neuron_activation) goto oom;
        for (int l = 0; l < NL; l++) {
            const lrp_act *z = io.mlp_act[l];
            for (int i = 0; i < W; i++) {
                double s = 0;
                if (z->g)
                    for (int t = 0; t < z->rows; t++) s += (double)z->x[(size_t)t * W + i] * z->g[(size_t)t * W + i];
                e->neuron_relevance[(size_t)l * W + i] = (float)s;
                e->neuron_activation[(size_t)l * W + i] = z->x[(size_t)position * W + i];
            }
        }
    }
    e->seconds_forward = t1 - t0;
    e->seconds_backward = t2 - t1;
    e->activation_bytes = g.bytes_allocated;
    lrp_graph_free(&g);
    free(acts);
    return 0;
oom:
    lrp_fail(err, "out of memory");
fail:
    lrp_graph_free(&g);
    free(acts);
    lrp_explanation_free(e);
    return -1;
}

void lrp_explanation_free(lrp_explanation *e) {
    free(e->ids);
    free(e->relevance);
    free(e->logits);
    free(e->residual_relevance);
    free(e->latent_relevance);
    free(e->neuron_relevance);
    free(e->neuron_activation);
    memset(e, 0, sizeof *e);
}

int lrp_forward_logits(const lrp_model *m, const int *ids, int T, int position, const unsigned char *drop,
                       const lrp_intervention *iv, int n_iv, float *logits, lrp_err *err) {
    if (lrp_check_ids(m, ids, T, err) || lrp_check_interventions(m, iv, n_iv, err)) return -1;
    if (position < 0) position = T - 1;
    if (position >= T) return lrp_fail(err, "--position %d: out of range for %d tokens (0..%d)", position, T, T - 1);
    int NL = m->cfg.num_layers;
    lrp_act **acts = calloc(2 * (size_t)NL, sizeof *acts);
    if (!acts) return lrp_fail(err, "out of memory");
    lrp_graph g;
    if (lrp_graph_init(&g, lrp_model_scratch_floats(m), err)) {
        free(acts);
        return -1;
    }
    g.grad_enabled = 0;
    lrp_forward_io io = {.ids = ids, .T = T, .head_rows = &position, .n_head_rows = 1, .iv = iv, .n_iv = n_iv,
                         .drop = drop, .block_out = acts, .mlp_act = acts + NL};
    int rc = m->family->forward(m, &g, &io);
    if (rc == 0) memcpy(logits, io.logits->x, (size_t)m->cfg.vocab_size * sizeof(float));
    else lrp_fail(err, "%s", g.err.msg);
    lrp_graph_free(&g);
    free(acts);
    return rc;
}

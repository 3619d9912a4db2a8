#include "explain/circuit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "explain/explain.h"

void lrp_circuit_opts_default(lrp_circuit_opts *o) {
    memset(o, 0, sizeof *o);
    o->method = LRP_METHOD_ATTNLRP;
    o->target = -1;
    o->foil = -1;
    o->exact = 1;
}

void lrp_circuit_free(lrp_circuit *c) {
    free(c->relp);
    free(c->patch);
    memset(c, 0, sizeof *c);
}

static double metric(const float *logits, int target, int foil) {
    return (double)logits[target] - (foil >= 0 ? (double)logits[foil] : 0.0);
}

// The activations of a run: per layer the attention output [T, H·hd] and the MLP intermediate [T, I].
typedef struct run_acts {
    float **attn, **mlp;
} run_acts;

static void acts_free(run_acts *a, int L) {
    for (int l = 0; a->attn && l < L; l++) free(a->attn[l]);
    for (int l = 0; a->mlp && l < L; l++) free(a->mlp[l]);
    free(a->attn);
    free(a->mlp);
}

// Every layer must have both taps (T5 has no attn_out; MoE models tap one expert only: refused before).
static int taps_present(const lrp_model *m, const lrp_forward *f, lrp_err *err) {
    for (int l = 0; l < m->cfg.num_layers; l++)
        if (!f->taps.attn_out || !f->taps.attn_out[l] || !f->taps.mlp_act || !f->taps.mlp_act[l])
            return lrp_fail(err, "model: %s has no attention-head and MLP outputs to patch in layer %d",
                            m->cfg.model_type, l);
    return 0;
}

int lrp_circuit_run(const lrp_model *m, const int *clean, const int *corrupt, int T, const lrp_circuit_opts *o,
                    lrp_circuit *out, lrp_err *err) {
    memset(out, 0, sizeof *out);
    const lrp_config *c = &m->cfg;
    if (c->task != LRP_TASK_CAUSAL_LM)
        return lrp_fail(err, "model: circuits need a causal language model (%s is not one)", c->model_type);
    if (c->num_experts > 0)
        return lrp_fail(err, "model: %s is a mixture of experts; circuits patch dense MLPs only", c->model_type);
    if (T <= 0) return lrp_fail(err, "clean: no tokens");
    if (c->num_heads > 256) return lrp_fail(err, "model: %d heads per layer (at most 256)", c->num_heads);
    for (int side = 0; side < 2; side++)
        for (int t = 0; t < T; t++) {
            int id = side ? corrupt[t] : clean[t];
            if (id < 0 || id >= c->vocab_size)
                return lrp_fail(err, "%s: id %d at index %d is out of range (vocabulary size %d)",
                                side ? "corrupt" : "clean", id, t, c->vocab_size);
        }
    if (o->method != LRP_METHOD_ATTNLRP && o->method != LRP_METHOD_CPLRP && o->method != LRP_METHOD_GRADXINPUT)
        return lrp_fail(err, "method %s: circuits take attnlrp, cplrp or gradxinput", lrp_method_name(o->method));
    int L = c->num_layers, H = c->num_heads, V = lrp_model_n_outputs(m), last = T - 1;
    if (o->target >= V) return lrp_fail(err, "target %d: out of range (vocabulary size %d)", o->target, V);
    if (o->foil >= V) return lrp_fail(err, "foil %d: out of range (vocabulary size %d)", o->foil, V);
    out->n_layers = L;
    out->n_heads = H;
    out->T = T;
    out->n = L * (H + 1);
    out->relp = calloc((size_t)out->n, sizeof(float));
    if (o->exact) out->patch = calloc((size_t)out->n, sizeof(float));
    run_acts cl = {calloc((size_t)L, sizeof(float *)), calloc((size_t)L, sizeof(float *))};
    float *logits = malloc((size_t)V * sizeof(float));
    lrp_intervention *iv = NULL;
    const float **iv_rows = NULL;
    lrp_graph g;
    int rc = -1, have_graph = 0, hd = 0, I = 0;
    if (!out->relp || (o->exact && !out->patch) || !cl.attn || !cl.mlp || !logits) goto oom;
    if (lrp_graph_init(&g, lrp_model_scratch_floats(m), err)) goto done;
    have_graph = 1;

    // 1. The clean run: its activations and prediction.
    g.grad_enabled = 0;
    lrp_forward f = {.in = {.ids = clean, .T = T}, .head_rows = &last, .n_head_rows = 1};
    if (lrp_model_forward(m, &g, &f)) goto graph_fail;
    if (taps_present(m, &f, err)) goto done;
    hd = f.taps.attn_out[0]->cols / H;
    I = f.taps.mlp_act[0]->cols;
    for (int l = 0; l < L; l++) {  // stored column-major ([column][T]): what the row patches read
        const lrp_act *a = f.taps.attn_out[l], *z = f.taps.mlp_act[l];
        if (a->rows != T || a->cols != H * hd || z->rows != T || z->cols != I) {
            lrp_fail(err, "internal: layer %d taps of unexpected shapes", l);
            goto done;
        }
        if (!(cl.attn[l] = malloc((size_t)T * a->cols * sizeof(float))) ||
            !(cl.mlp[l] = malloc((size_t)T * I * sizeof(float))))
            goto oom;
        for (int t = 0; t < T; t++) {
            for (int j = 0; j < a->cols; j++) cl.attn[l][(size_t)j * T + t] = a->x[(size_t)t * a->cols + j];
            for (int j = 0; j < I; j++) cl.mlp[l][(size_t)j * T + t] = z->x[(size_t)t * I + j];
        }
    }
    memcpy(logits, f.taps.logits->x, (size_t)V * sizeof(float));
    lrp_rank_top(logits, V, 1, &out->target);
    if (o->target >= 0) out->target = o->target;
    double clean_target = logits[out->target];
    out->forwards++;

    // 2. The corrupted run, recorded, and one backward of the metric under the rules.
    lrp_graph_reset(&g);
    g.grad_enabled = 1;
    f = (lrp_forward){.in = {.ids = corrupt, .T = T}, .head_rows = &last, .n_head_rows = 1};
    if (lrp_model_forward(m, &g, &f)) goto graph_fail;
    if (taps_present(m, &f, err)) goto done;
    const float *lc = f.taps.logits->x;
    int corrupt_pred;
    lrp_rank_top(lc, V, 1, &corrupt_pred);
    out->foil = o->foil >= 0 ? o->foil : o->foil == -1 && corrupt_pred != out->target ? corrupt_pred : -1;
    if (out->foil == out->target) {
        lrp_fail(err, "foil %d: the same token as the target", out->foil);
        goto done;
    }
    out->metric_clean = clean_target - (out->foil >= 0 ? (double)logits[out->foil] : 0.0);
    out->metric_corrupt = metric(lc, out->target, out->foil);
    out->forwards++;
    float *gl = lrp_act_grad(&g, f.taps.logits);
    if (!gl) goto oom;
    gl[out->target] += 1.0f;
    if (out->foil >= 0) gl[out->foil] -= 1.0f;
    for (int l = 0; l < L; l++) f.taps.attn_out[l]->keep_grad = f.taps.mlp_act[l]->keep_grad = 1;
    lrp_rules rules = lrp_rules_for(o->method);
    if (lrp_graph_backward(&g, &rules, err)) goto done;
    out->backwards++;
    for (int l = 0; l < L; l++) {
        const lrp_act *a = f.taps.attn_out[l], *z = f.taps.mlp_act[l];
        double hs[256] = {0}, ms = 0;
        for (int t = 0; a->g && t < T; t++)
            for (int j = 0; j < a->cols; j++)
                hs[j / hd] += ((double)cl.attn[l][(size_t)j * T + t] - a->x[(size_t)t * a->cols + j]) *
                                      a->g[(size_t)t * a->cols + j];
        for (int t = 0; z->g && t < T; t++)
            for (int j = 0; j < I; j++)
                ms += ((double)cl.mlp[l][(size_t)j * T + t] - z->x[(size_t)t * I + j]) * z->g[(size_t)t * I + j];
        for (int h = 0; h < H; h++) out->relp[l * (H + 1) + h] = (float)hs[h];
        out->relp[l * (H + 1) + H] = (float)ms;
    }

    // 3. Activation patching: one forward of the corrupted input per component, its clean activation patched in.
    if (o->exact) {
        if (!(iv = malloc((size_t)I * sizeof *iv)) || !(iv_rows = malloc((size_t)I * sizeof *iv_rows))) goto oom;
        g.grad_enabled = 0;
        for (int l = 0; l < L; l++)
            for (int h = 0; h <= H; h++) {
                lrp_graph_reset(&g);
                lrp_intervention one = {.layer = l, .neuron = h, .kind = LRP_SET_VALUE, .value = 0};
                const float *one_rows = h < H ? cl.attn[l] + (size_t)h * hd * T : NULL;
                f = (lrp_forward){.in = {.ids = corrupt, .T = T}, .head_rows = &last, .n_head_rows = 1};
                if (h < H) {
                    f.head_iv = &one;
                    f.n_head_iv = 1;
                    f.head_iv_rows = &one_rows;
                } else {
                    for (int i = 0; i < I; i++) {
                        iv[i] = (lrp_intervention){.layer = l, .neuron = i, .kind = LRP_SET_VALUE, .value = 0};
                        iv_rows[i] = cl.mlp[l] + (size_t)i * T;
                    }
                    f.iv = iv;
                    f.n_iv = I;
                    f.iv_rows = iv_rows;
                }
                if (lrp_model_forward(m, &g, &f)) goto graph_fail;
                out->patch[l * (H + 1) + h] = (float)(metric(f.taps.logits->x, out->target, out->foil) - out->metric_corrupt);
                out->forwards++;
            }
    }
    rc = 0;
    goto done;
graph_fail:
    lrp_fail(err, "%s", g.err.msg);
    goto done;
oom:
    lrp_fail(err, "out of memory");
done:
    if (have_graph) lrp_graph_free(&g);
    acts_free(&cl, L);
    free(logits);
    free(iv);
    free(iv_rows);
    if (rc) lrp_circuit_free(out);
    return rc;
}

double lrp_pearson(const double *x, const double *y, int n) {
    if (n < 2) return NAN;
    double mx = 0, my = 0;
    for (int i = 0; i < n; i++) mx += x[i], my += y[i];
    mx /= n;
    my /= n;
    double sxy = 0, sxx = 0, syy = 0;
    for (int i = 0; i < n; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    return sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : NAN;
}

typedef struct rank_item {
    double v;
    int i;
} rank_item;

static int by_value(const void *a, const void *b) {
    double x = ((const rank_item *)a)->v, y = ((const rank_item *)b)->v;
    return (x > y) - (x < y);
}

// Ranks 1..n, ties averaged. -1 when out of memory.
static int ranks(const double *x, int n, double *r) {
    rank_item *it = malloc((size_t)n * sizeof *it);
    if (!it) return -1;
    for (int i = 0; i < n; i++) it[i] = (rank_item){x[i], i};
    qsort(it, (size_t)n, sizeof *it, by_value);
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && it[j + 1].v == it[i].v) j++;
        for (int k = i; k <= j; k++) r[it[k].i] = 0.5 * (i + j) + 1;
        i = j + 1;
    }
    free(it);
    return 0;
}

double lrp_spearman(const double *x, const double *y, int n) {
    if (n < 2) return NAN;
    double *rx = malloc((size_t)n * sizeof *rx), *ry = malloc((size_t)n * sizeof *ry);
    double r = NAN;
    if (rx && ry && !ranks(x, n, rx) && !ranks(y, n, ry)) r = lrp_pearson(rx, ry, n);
    free(rx);
    free(ry);
    return r;
}

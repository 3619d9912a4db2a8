#include "explain/baselines.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "explain/methods.h"

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// ---- random numbers: splitmix64, Box–Muller ----

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double uniform01(uint64_t *s) { return ((double)(splitmix64(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0); }

static double gaussian(uint64_t *s) {
    double u = uniform01(s), v = uniform01(s);
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

// ---- one pass: forward (recorded when a gradient is wanted), the start scalar, the backward ----

typedef struct {
    lrp_graph g;
    lrp_forward f;
    int live;
} pass;

static void pass_free(pass *p) {
    if (p->live) lrp_graph_free(&p->g);
    p->live = 0;
}

// The start scalar of SPEC §3 on these inputs: the target's logit (minus the foil's) at e->position, or
// the latent neuron. backward: the exact gradient of it (keep_grad on the word embeddings and, with
// probs, on the attention probabilities). key_factor: AtMan's per-key score factors, or NULL.
static int run_pass(const lrp_model *m, const lrp_inputs *in, const lrp_explain_opts *o, const lrp_explanation *e,
                    int probs, int backward, const float *key_factor, pass *p, double *y, lrp_err *err) {
    memset(p, 0, sizeof *p);
    if (lrp_graph_init(&p->g, lrp_model_scratch_floats(m), err)) return -1;
    p->live = 1;
    p->g.grad_enabled = backward;
    p->g.attn_key_factor = key_factor;  // the source's keys; an encoder-decoder's decoder keys follow them
    p->g.attn_key_factor_n = key_factor ? e->T : 0;
    p->g.attn_key_factor_decoder = key_factor && in->decoder_T ? key_factor + e->T : NULL;
    p->g.attn_key_factor_decoder_n = key_factor ? in->decoder_T : 0;
    int position = e->position;
    p->f = (lrp_forward){.in = *in, .head_rows = NULL, .n_head_rows = 1,
                         .iv = o->iv, .n_iv = o->n_iv, .head_iv = o->head_iv, .n_head_iv = o->n_head_iv, .want_attn_probs = probs,
                         .latent_expert = o->latent_expert > 0 ? o->latent_expert : 0};
    if (position >= 0) {  // head_rows points at a copy that lives as long as the pass
        int *hr = lrp_graph_alloc(&p->g, sizeof *hr, 0);
        if (!hr) goto oom;
        *hr = position;
        p->f.head_rows = hr;
    }
    if (lrp_model_forward(m, &p->g, &p->f)) {
        lrp_fail(err, "%s", p->g.err.msg);
        pass_free(p);
        return -1;
    }
    const float *lg = p->f.taps.logits->x;
    if (o->latent_start[0] >= 0) {
        lrp_act *z = p->f.taps.mlp_act[o->latent_start[0]];
        size_t at = (size_t)o->latent_start[1] * z->cols + o->latent_start[2];
        *y = z->x[at];
        if (backward) {
            float *gz = lrp_act_grad(&p->g, z);
            if (!gz) goto oom;
            gz[at] = 1.0f;
        }
    } else {
        *y = lg[e->target] - (o->contrast >= 0 ? (double)lg[o->contrast] : 0.0);
        if (backward) {
            float *gl = lrp_act_grad(&p->g, p->f.taps.logits);
            if (!gl) goto oom;
            gl[e->target] += 1.0f;
            if (o->contrast >= 0) gl[o->contrast] -= 1.0f;
        }
    }
    if (!backward) return 0;
    if (p->f.taps.input[LRP_INPUT_WORDS]) p->f.taps.input[LRP_INPUT_WORDS]->keep_grad = 1;
    if (p->f.taps.input[LRP_INPUT_DECODER_WORDS]) p->f.taps.input[LRP_INPUT_DECODER_WORDS]->keep_grad = 1;
    if (p->f.taps.input[LRP_INPUT_PIXELS]) p->f.taps.input[LRP_INPUT_PIXELS]->keep_grad = 1;
    for (int l = 0; probs && l < m->cfg.num_layers; l++) p->f.taps.attn_probs[l]->keep_grad = 1;
    lrp_rules rules = lrp_rules_for(LRP_METHOD_GRADXINPUT);
    if (lrp_graph_backward(&p->g, &rules, err)) {
        pass_free(p);
        return -1;
    }
    return 0;
oom:
    pass_free(p);
    return lrp_fail(err, "out of memory");
}

// The units a baseline attributes, each D input values: the input's tokens (their word embeddings,
// D = hidden); an encoder-decoder's source tokens and then its decoder's input tokens (decoder_T of
// them), which share the word embedding; an image's patches (their pixels, D = channels · patch²).
static int unit_size(const lrp_model *m) {
    const lrp_config *c = &m->cfg;
    return c->image_size > 0 ? c->num_channels * c->patch_size * c->patch_size : c->hidden_size;
}

// Unit t's D values in a pass into out (grad: their gradient instead, zeros where none reached them).
static void unit_values(const lrp_model *m, const pass *p, int Ts, int t, int grad, float *out) {
    const lrp_config *c = &m->cfg;
    int D = unit_size(m);
    if (c->image_size > 0) {
        const lrp_act *px = p->f.taps.input[LRP_INPUT_PIXELS];
        const float *src = grad ? px->g : px->x;
        int S = c->image_size, ps = c->patch_size, side = S / ps, k = 0;
        for (int ch = 0; ch < c->num_channels; ch++)
            for (int i = 0; i < ps; i++)
                for (int j = 0; j < ps; j++, k++)
                    out[k] = src ? src[((size_t)ch * S + (size_t)(t / side) * ps + i) * S + (size_t)(t % side) * ps + j]
                                 : 0.0f;
        return;
    }
    const lrp_act *w = p->f.taps.input[t < Ts ? LRP_INPUT_WORDS : LRP_INPUT_DECODER_WORDS];
    const float *src = grad ? w->g : w->x;
    if (src) memcpy(out, src + (size_t)(t < Ts ? t : t - Ts) * D, (size_t)D * sizeof(float));
    else memset(out, 0, (size_t)D * sizeof(float));
}

// Σ_d a_d b_d over unit t's values (a) and gradient (b) in a pass, or the clean values E (when not NULL)
// against the gradient. buf: scratch of 2·D floats.
static double unit_dot(const lrp_model *m, const pass *p, int Ts, int t, const float *E, float *buf) {
    int D = unit_size(m);
    unit_values(m, p, Ts, t, 1, buf + D);
    if (!E) unit_values(m, p, Ts, t, 0, buf);
    const float *a = E ? E : buf;
    double s = 0;
    for (int d = 0; d < D; d++) s += (double)a[d] * buf[D + d];
    return s;
}

// The inputs with each unit scaled by scale[unit] and noise added (the input's own layout: tokens ×
// hidden, source then decoder; images: pixels); either NULL: none.
static lrp_inputs units_inputs(const lrp_inputs *in, int Ts, const float *scale, const float *noise, int D) {
    lrp_inputs r = *in;
    r.embed_scale = scale;
    r.embed_noise = noise;
    if (r.decoder_T) {
        r.decoder_embed_scale = scale ? scale + Ts : NULL;
        r.decoder_embed_noise = noise ? noise + (size_t)Ts * D : NULL;
    }
    return r;
}

// The units' input values [T, D] (word embeddings after the model's scaling; pixels), one forward pass.
static int unit_inputs(const lrp_model *m, const lrp_inputs *in, const lrp_explain_opts *o,
                       const lrp_explanation *e, int Ts, int T, float **E, lrp_err *err) {
    pass p;
    double y;
    if (run_pass(m, in, o, e, 0, 0, NULL, &p, &y, err)) return -1;
    int D = unit_size(m);
    *E = malloc((size_t)T * D * sizeof(float));
    for (int t = 0; *E && t < T; t++) unit_values(m, &p, Ts, t, 0, *E + (size_t)t * D);
    pass_free(&p);
    return *E ? 0 : lrp_fail(err, "out of memory");
}

// ---- quadrature ----

void lrp_gauss_legendre(int n, double *nodes, double *weights) {
    // Roots of P_n by Newton's method from Chebyshev-like starts, mapped from [-1, 1] to [0, 1].
    for (int i = 0; i < (n + 1) / 2; i++) {
        double x = cos(M_PI * (i + 0.75) / (n + 0.5)), dp = 1;
        for (int it = 0; it < 100; it++) {
            double p0 = 1, p1 = x;
            for (int k = 2; k <= n; k++) {
                double p2 = ((2.0 * k - 1) * x * p1 - (k - 1.0) * p0) / k;
                p0 = p1;
                p1 = p2;
            }
            if (n == 1) p0 = 1, p1 = x;
            dp = n * (x * p1 - p0) / (x * x - 1);
            double dx = p1 / dp;
            x -= dx;
            if (fabs(dx) < 1e-16) break;
        }
        double p0 = 1, p1 = x;
        for (int k = 2; k <= n; k++) {
            double p2 = ((2.0 * k - 1) * x * p1 - (k - 1.0) * p0) / k;
            p0 = p1;
            p1 = p2;
        }
        dp = n * (x * p1 - p0) / (x * x - 1);
        double w = 2.0 / ((1 - x * x) * dp * dp);
        nodes[i] = 0.5 * (1 - x);
        nodes[n - 1 - i] = 0.5 * (1 + x);
        weights[i] = weights[n - 1 - i] = 0.5 * w;
    }
}

// ---- the rollouts ----

void lrp_attention_rollout(const double *const *A, int L, int T, int row, int mode, double *out) {
    // out = e_row · M_L ⋯ M_1, applied from the top layer down; M_l = ½A_l + ½I renormalised, or I + Ā_l.
    double *v = calloc((size_t)T, sizeof *v), *w = calloc((size_t)T, sizeof *w), *rs = calloc((size_t)T, sizeof *rs);
    if (!v || !w || !rs) {
        for (int j = 0; j < T; j++) out[j] = NAN;
        free(v), free(w), free(rs);
        return;
    }
    v[row] = 1;
    for (int l = L - 1; l >= 0; l--) {
        const double *a = A[l];
        for (int i = 0; i < T; i++) {  // the row sums of M_l
            double s = 0;
            for (int j = 0; j < T; j++) s += a[(size_t)i * T + j];
            rs[i] = mode == 0 ? 0.5 * s + 0.5 : 1;
        }
        for (int j = 0; j < T; j++) w[j] = mode == 0 ? 0.5 * v[j] / rs[j] : v[j];
        for (int i = 0; i < T; i++) {
            if (v[i] == 0) continue;
            double c = mode == 0 ? 0.5 * v[i] / rs[i] : v[i];
            for (int j = 0; j < T; j++) w[j] += c * a[(size_t)i * T + j];
        }
        memcpy(v, w, (size_t)T * sizeof *v);
    }
    memcpy(out, v, (size_t)T * sizeof *v);
    free(v), free(w), free(rs);
}

// Head means of the attention of every layer: A[l] = mean_h P, or mean_h (∂y/∂P ⊙ P)⁺ (grad).
static double **head_means(const lrp_model *m, const lrp_taps *taps, int T, int from_layer, int grad) {
    int L = m->cfg.num_layers;
    double **A = calloc((size_t)L, sizeof *A);
    if (!A) return NULL;
    for (int l = from_layer; l < L; l++) {
        const lrp_act *p = taps->attn_probs[l];
        int H = p->rows / T;
        if (!(A[l] = calloc((size_t)T * T, sizeof(double)))) return A;
        for (int h = 0; h < H; h++)
            for (size_t k = 0; k < (size_t)T * T; k++) {
                size_t at = (size_t)h * T * T + k;
                double v = grad ? (p->g ? (double)p->g[at] * p->x[at] : 0) : p->x[at];
                A[l][k] += (grad && v < 0 ? 0 : v) / H;
            }
    }
    return A;
}

static void free_means(double **A, int L) {
    for (int l = 0; A && l < L; l++) free(A[l]);
    free(A);
}

// ---- KernelSHAP: weighted least squares with Σφ = v(full) − v(∅) ----

// Solves the n×n system M x = b (Gaussian elimination, partial pivoting; M, b overwritten). -1: singular.
static int solve(double *M, double *b, int n, double *x) {
    for (int c = 0; c < n; c++) {
        int piv = c;
        for (int r = c + 1; r < n; r++)
            if (fabs(M[(size_t)r * n + c]) > fabs(M[(size_t)piv * n + c])) piv = r;
        if (fabs(M[(size_t)piv * n + c]) < 1e-300) return -1;
        if (piv != c) {
            for (int k = 0; k < n; k++) {
                double t = M[(size_t)c * n + k];
                M[(size_t)c * n + k] = M[(size_t)piv * n + k];
                M[(size_t)piv * n + k] = t;
            }
            double t = b[c];
            b[c] = b[piv];
            b[piv] = t;
        }
        for (int r = c + 1; r < n; r++) {
            double f = M[(size_t)r * n + c] / M[(size_t)c * n + c];
            if (f == 0) continue;
            for (int k = c; k < n; k++) M[(size_t)r * n + k] -= f * M[(size_t)c * n + k];
            b[r] -= f * b[c];
        }
    }
    for (int r = n - 1; r >= 0; r--) {
        double s = b[r];
        for (int k = r + 1; k < n; k++) s -= M[(size_t)r * n + k] * x[k];
        x[r] = s / M[(size_t)r * n + r];
    }
    return 0;
}

static double log_binomial(int n, int k) { return lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(n - k + 1.0); }

// ---- the methods ----

typedef struct {
    const lrp_model *m;
    const lrp_inputs *in;
    const lrp_explain_opts *o;
    lrp_explanation *e;
    int T;      // units: Ts source tokens (or patches), then the decoder's input tokens
    int Ts;
    double *R;  // [T] the result
} ctx;

// The start scalar with each token's word embedding scaled by scale[t] (forward only).
static int value_at(ctx *c, const float *scale, double *y, lrp_err *err) {
    lrp_inputs in = units_inputs(c->in, c->Ts, scale, NULL, 0);
    pass p;
    if (run_pass(c->m, &in, c->o, c->e, 0, 0, NULL, &p, y, err)) return -1;
    pass_free(&p);
    c->e->forward_passes++;
    return 0;
}

static int method_ig(ctx *c, lrp_err *err) {
    int N = c->o->steps > 0 ? c->o->steps : LRP_IG_DEFAULT_STEPS, T = c->T, rc = -1;
    double *nodes = malloc((size_t)N * sizeof *nodes), *wts = malloc((size_t)N * sizeof *wts);
    float *scale = malloc((size_t)T * sizeof *scale), *buf = malloc(2 * (size_t)unit_size(c->m) * sizeof *buf);
    if (!nodes || !wts || !scale || !buf) goto oom;
    if (c->o->quadrature == 1) {
        lrp_gauss_legendre(N, nodes, wts);
    } else {
        for (int k = 0; k < N; k++) nodes[k] = (k + 0.5) / N, wts[k] = 1.0 / N;
    }
    c->e->steps = N;
    c->e->quadrature = c->o->quadrature;
    for (int k = 0; k < N; k++) {
        for (int t = 0; t < T; t++) scale[t] = (float)nodes[k];
        lrp_inputs in = units_inputs(c->in, c->Ts, scale, NULL, 0);
        pass p;
        double y;
        if (run_pass(c->m, &in, c->o, c->e, 0, 1, NULL, &p, &y, err)) goto done;
        for (int t = 0; t < T; t++)  // Σ_d E_d ĝ_d, with E = x / α
            c->R[t] += wts[k] * unit_dot(c->m, &p, c->Ts, t, NULL, buf) / (double)scale[t];
        pass_free(&p);
        c->e->forward_passes++;
        c->e->backward_passes++;
    }
    for (int t = 0; t < T; t++) scale[t] = 0.0f;
    if (value_at(c, scale, &c->e->baseline_value, err)) goto done;
    c->e->has_baseline_value = 1;
    rc = 0;
    goto done;
oom:
    lrp_fail(err, "out of memory");
done:
    free(nodes), free(wts), free(scale), free(buf);
    return rc;
}

static int method_smoothgrad(ctx *c, lrp_err *err) {
    int S = c->o->samples > 0 ? c->o->samples : LRP_SMOOTHGRAD_DEFAULT_SAMPLES, T = c->T, D = unit_size(c->m), rc = -1;
    double sigma = c->o->noise >= 0 ? c->o->noise : LRP_SMOOTHGRAD_DEFAULT_NOISE;
    float *E = NULL, *noise = NULL, *buf = NULL;
    if (unit_inputs(c->m, c->in, c->o, c->e, c->Ts, T, &E, err)) return -1;
    c->e->forward_passes++;
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < (size_t)T * D; i++) lo = E[i] < lo ? E[i] : lo, hi = E[i] > hi ? E[i] : hi;
    double abs_sigma = sigma * ((double)hi - lo);
    c->e->samples = S;
    c->e->noise = sigma;
    c->e->noise_abs = abs_sigma;
    c->e->seed = c->o->seed;
    // The units tile the input (tokens × hidden; an image's patches its pixels), so T·D noise values
    // fill the input's own layout; each value is i.i.d., so that layout needs no reordering.
    if (!(noise = malloc((size_t)T * D * sizeof *noise)) || !(buf = malloc(2 * (size_t)D * sizeof *buf))) {
        lrp_fail(err, "out of memory");
        goto done;
    }
    uint64_t st = c->o->seed ^ 0x5347534D4F4F5448ull;  // "SMOOTHGR"-ish stream
    for (int k = 0; k < S; k++) {
        for (size_t i = 0; i < (size_t)T * D; i++) noise[i] = abs_sigma > 0 ? (float)(abs_sigma * gaussian(&st)) : 0.0f;
        lrp_inputs in = units_inputs(c->in, c->Ts, NULL, abs_sigma > 0 ? noise : NULL, D);
        pass p;
        double y;
        if (run_pass(c->m, &in, c->o, c->e, 0, 1, NULL, &p, &y, err)) goto done;
        for (int t = 0; t < T; t++)  // the clean input times the noisy gradient
            c->R[t] += unit_dot(c->m, &p, c->Ts, t, E + (size_t)t * D, buf) / S;
        pass_free(&p);
        c->e->forward_passes++;
        c->e->backward_passes++;
    }
    rc = 0;
done:
    free(E), free(noise), free(buf);
    return rc;
}

static int method_occlusion(ctx *c, lrp_err *err) {
    int T = c->T;
    float *scale = malloc((size_t)T * sizeof *scale);
    if (!scale) return lrp_fail(err, "out of memory");
    for (int t = 0; t < T; t++) scale[t] = 1.0f;
    for (int i = 0; i < T; i++) {
        double y;
        scale[i] = 0.0f;
        if (value_at(c, scale, &y, err)) {
            free(scale);
            return -1;
        }
        scale[i] = 1.0f;
        c->R[i] = c->e->start_value - y;
    }
    free(scale);
    return 0;
}

// attention, rollout, gradxattnroll: the row of the explained position (classifiers: the first, [CLS]).
static int method_attention(ctx *c, int method, lrp_err *err) {
    int T = c->e->T, L = c->m->cfg.num_layers, row = c->e->position >= 0 ? c->e->position : 0;
    int grad = method == LRP_METHOD_GRADXATTNROLL;
    pass p;
    double y;
    if (run_pass(c->m, c->in, c->o, c->e, 1, grad, NULL, &p, &y, err)) return -1;
    c->e->forward_passes++;
    c->e->backward_passes += grad;
    double **A = head_means(c->m, &p.f.taps, T, method == LRP_METHOD_ATTENTION ? L - 1 : 0, grad);
    pass_free(&p);
    int ok = A != NULL;
    for (int l = method == LRP_METHOD_ATTENTION ? L - 1 : 0; ok && l < L; l++) ok = A[l] != NULL;
    double *out = ok ? malloc((size_t)T * sizeof *out) : NULL;
    if (!out) {
        free_means(A, L);
        return lrp_fail(err, "out of memory");
    }
    if (method == LRP_METHOD_ATTENTION) memcpy(out, A[L - 1] + (size_t)row * T, (size_t)T * sizeof *out);
    else lrp_attention_rollout((const double *const *)A, L, T, row, grad, out);
    // Images: the patches are positions 1.. (position 0 is the CLS token, reported as relevance_cls).
    int off = T - c->T;
    for (int t = 0; t < c->T; t++) c->R[t] = out[t + off];
    if (off) c->e->relevance_cls = out[0];
    free(out);
    free_means(A, L);
    return 0;
}

static double log_prob(const float *logits, int n, int target) {
    double mx = -INFINITY, z = 0;
    for (int i = 0; i < n; i++) mx = logits[i] > mx ? logits[i] : mx;
    for (int i = 0; i < n; i++) z += exp((double)logits[i] - mx);
    return (double)logits[target] - mx - log(z);
}

static int method_atman(ctx *c, lrp_err *err) {
    // Images: the keys are [CLS, patches...]; the CLS key is never suppressed.
    int T = c->T, D = unit_size(c->m), off = c->m->cfg.image_size > 0 ? c->e->T - c->T : 0, rc = -1;
    double f = c->o->atman_factor >= 0 ? c->o->atman_factor : LRP_ATMAN_DEFAULT_FACTOR;
    double kappa = c->o->atman_threshold >= 0 ? c->o->atman_threshold : LRP_ATMAN_DEFAULT_THRESHOLD;
    c->e->atman_factor = f;
    c->e->atman_threshold = kappa;
    float *E = NULL, *factor = malloc((size_t)(T + off) * sizeof *factor);
    double *norm = malloc((size_t)T * sizeof *norm);
    if (!factor || !norm) {
        lrp_fail(err, "out of memory");
        goto done;
    }
    if (unit_inputs(c->m, c->in, c->o, c->e, c->Ts, T, &E, err)) goto done;
    for (int j = 0; j < off; j++) factor[j] = 1.0f;
    c->e->forward_passes++;
    for (int t = 0; t < T; t++) {
        double s = 0;
        for (int d = 0; d < D; d++) s += (double)E[(size_t)t * D + d] * E[(size_t)t * D + d];
        norm[t] = sqrt(s) > 1e-8 ? sqrt(s) : 1e-8;
    }
    double lp0 = log_prob(c->e->logits, c->e->n_out, c->e->target);
    for (int i = 0; i < T; i++) {
        for (int j = 0; j < T; j++) {
            double cs = 0;
            for (int d = 0; d < D; d++) cs += (double)E[(size_t)i * D + d] * E[(size_t)j * D + d];
            cs /= norm[i] * norm[j];
            cs = cs > 1 ? 1 : cs < -1 ? -1 : cs;
            factor[off + j] = j == i ? (float)(1 - f) : cs >= kappa ? (float)(f * (1 - cs) + (1 - f)) : 1.0f;
        }
        pass p;
        double y;
        if (run_pass(c->m, c->in, c->o, c->e, 0, 0, factor, &p, &y, err)) goto done;
        c->R[i] = lp0 - log_prob(p.f.taps.logits->x, c->e->n_out, c->e->target);
        pass_free(&p);
        c->e->forward_passes++;
    }
    rc = 0;
done:
    free(E), free(factor), free(norm);
    return rc;
}

static int method_kernelshap(ctx *c, lrp_err *err) {
    int T = c->T, S = c->o->samples > 0 ? c->o->samples : LRP_KERNELSHAP_DEFAULT_SAMPLES, rc = -1;
    c->e->samples = S;
    c->e->seed = c->o->seed;
    float *scale = malloc((size_t)T * sizeof *scale);
    int n = T - 1;  // unknowns after eliminating the last player through the constraint
    double *M = calloc((size_t)(n > 0 ? n : 1) * (n > 0 ? n : 1), sizeof *M), *b = calloc((size_t)T, sizeof *b);
    double *x = calloc((size_t)T, sizeof *x), *zrow = malloc((size_t)T * sizeof *zrow);
    unsigned char *z = malloc((size_t)T);
    if (!scale || !M || !b || !x || !zrow || !z) {
        lrp_fail(err, "out of memory");
        goto done;
    }
    double v_full = c->e->start_value, v0;
    for (int t = 0; t < T; t++) scale[t] = 0.0f;
    if (value_at(c, scale, &v0, err)) goto done;
    c->e->has_baseline_value = 1;
    c->e->baseline_value = v0;
    double delta = v_full - v0;
    if (T == 1) {
        c->R[0] = delta;
        rc = 0;
        goto done;
    }
    int exact = T <= 24 && ((1ll << T) - 2) <= (long long)S;
    c->e->exact_shapley = exact;
    // The size distribution of the Shapley kernel: ∝ (T−1)/(s (T−s)) summed over the C(T,s) coalitions.
    double *size_p = calloc((size_t)T, sizeof *size_p), tot = 0;
    if (!size_p) {
        lrp_fail(err, "out of memory");
        goto done;
    }
    for (int s = 1; s < T; s++) tot += size_p[s] = (T - 1.0) / ((double)s * (T - s));
    uint64_t st = c->o->seed ^ 0x4B45524E454C5348ull;
    long long count = exact ? (1ll << T) - 2 : S;
    for (long long k = 0; k < count; k++) {
        double w;
        if (exact) {
            long long mask = k + 1;
            int s = 0;
            for (int t = 0; t < T; t++) s += z[t] = (unsigned char)((mask >> t) & 1);
            w = exp(log(T - 1.0) - log_binomial(T, s) - log((double)s) - log((double)(T - s)));
        } else {
            double u = uniform01(&st) * tot;
            int s = 1;
            while (s < T - 1 && u > size_p[s]) u -= size_p[s++];
            // s distinct players, uniformly (partial Fisher–Yates over the indices)
            int *idx = (int *)zrow;  // zrow has T doubles of room
            for (int t = 0; t < T; t++) idx[t] = t, z[t] = 0;
            for (int i = 0; i < s; i++) {
                int j = i + (int)(uniform01(&st) * (T - i));
                if (j >= T) j = T - 1;
                int tmp = idx[i];
                idx[i] = idx[j];
                idx[j] = tmp;
                z[idx[i]] = 1;
            }
            w = 1.0;
        }
        for (int t = 0; t < T; t++) scale[t] = z[t] ? 1.0f : 0.0f;
        double v;
        if (value_at(c, scale, &v, err)) {
            free(size_p);
            goto done;
        }
        // v − v0 − z_T Δ = Σ_{i<T−1} (z_i − z_T) φ_i
        double tgt = v - v0 - z[T - 1] * delta;
        for (int i = 0; i < n; i++) zrow[i] = (double)z[i] - z[T - 1];
        for (int i = 0; i < n; i++) {
            if (zrow[i] == 0) continue;
            b[i] += w * zrow[i] * tgt;
            for (int j = 0; j < n; j++) M[(size_t)i * n + j] += w * zrow[i] * zrow[j];
        }
    }
    free(size_p);
    double ridge = 0;
    for (int i = 0; i < n; i++) ridge += M[(size_t)i * n + i];
    ridge = ridge > 0 ? 1e-12 * ridge / n : 1e-12;  // keeps a rank-deficient sample solvable
    for (int i = 0; i < n; i++) M[(size_t)i * n + i] += exact ? 0 : ridge;
    if (solve(M, b, n, x)) {
        lrp_fail(err, "samples %d: too few coalitions for %d tokens (the least-squares system is singular)", S, T);
        goto done;
    }
    double sum = 0;
    for (int i = 0; i < n; i++) sum += c->R[i] = x[i];
    c->R[T - 1] = delta - sum;
    rc = 0;
done:
    free(scale), free(M), free(b), free(x), free(zrow), free(z);
    return rc;
}

// ---- the entry point ----

static int check_baseline_opts(const lrp_model *m, const lrp_explain_opts *o, lrp_err *err) {
    const char *name = lrp_method_label(o->method);
    int meth = (int)o->method;
    if (o->softmax_rule != LRP_SOFTMAX_EXACT)
        return lrp_fail(err, "softmax_rule: the softmax ablations are for attnlrp, not %s", name);
    if (o->steps < 0) return lrp_fail(err, "steps %d: must be at least 1", o->steps);
    if (o->samples < 0) return lrp_fail(err, "samples %d: must be at least 1", o->samples);
    if (!isfinite(o->noise)) return lrp_fail(err, "noise %g: not a finite number", o->noise);
    if (o->layers || o->latent_layer >= 0 || o->neurons)
        return lrp_fail(err, "%s: %s attributes input tokens only (no layer or neuron readouts)",
                        o->layers ? "layers" : o->latent_layer >= 0 ? "latent_layer" : "neurons", name);
    if (o->heads) return lrp_fail(err, "heads: %s attributes input tokens only (no head readouts)", name);
    if (o->gamma_conv > 0 || o->gamma_lin > 0)
        return lrp_fail(err, "gamma: only with the LRP methods (attnlrp, cplrp), not %s", name);
    int attn_only = meth == LRP_METHOD_ATTENTION || meth == LRP_METHOD_ROLLOUT;
    if ((attn_only || meth == LRP_METHOD_ATMAN) && o->latent_start[0] >= 0)
        return lrp_fail(err, "latent_start: %s explains an output prediction, not a latent neuron", name);
    if ((attn_only || meth == LRP_METHOD_ATMAN) && o->contrast >= 0)
        return lrp_fail(err, "contrast: %s explains one prediction, not a difference of logits", name);
    if (!lrp_method_fits(&m->cfg, meth))  // the attention methods on encoder-decoders
        return lrp_fail(err, "method %s: reads self-attention maps over the input; an encoder-decoder's prediction "
                        "reaches its source through cross-attention, which %s does not define (use ig, smoothgrad, "
                        "occlusion, atman or kernelshap)", name, name);
    if (o->atman_factor > 1 || (meth == LRP_METHOD_ATMAN && o->atman_threshold > 1))
        return lrp_fail(err, "atman: factor and threshold must lie in [0, 1]");
    return 0;
}

int lrp_explain_baseline(const lrp_model *m, const lrp_inputs *in, const lrp_explain_opts *o, lrp_explanation *e,
                         lrp_err *err) {
    memset(e, 0, sizeof *e);
    if (check_baseline_opts(m, o, err)) return -1;
    lrp_explain_opts base = *o;
    base.method = LRP_METHOD_GRADXINPUT;
    double t0 = now_seconds();
    if (lrp_explain_inputs(m, in, &base, e, err)) return -1;
    e->method = (lrp_method)o->method;
    e->forward_passes = e->backward_passes = 1;
    free(e->relevance_positions);
    free(e->relevance_token_types);
    e->relevance_positions = e->relevance_token_types = NULL;
    free(e->relevance_pixels);
    e->relevance_pixels = NULL;
    e->relevance_cls = 0;
    // Encoder-decoders: the decoder's input as the base explanation read it (its start token when none given).
    lrp_inputs units = *in;
    if (e->decoder_T) units.decoder_ids = e->decoder_ids, units.decoder_T = e->decoder_T;
    int n_units = e->n_relevance + e->decoder_T;
    ctx c = {m, &units, o, e, n_units, e->n_relevance, calloc((size_t)n_units, sizeof(double))};
    if (!c.R) {
        lrp_explanation_free(e);
        return lrp_fail(err, "out of memory");
    }
    int rc;
    switch ((int)o->method) {
    case LRP_METHOD_IG: rc = method_ig(&c, err); break;
    case LRP_METHOD_SMOOTHGRAD: rc = method_smoothgrad(&c, err); break;
    case LRP_METHOD_OCCLUSION: rc = method_occlusion(&c, err); break;
    case LRP_METHOD_ATTENTION:
    case LRP_METHOD_ROLLOUT:
    case LRP_METHOD_GRADXATTNROLL: rc = method_attention(&c, (int)o->method, err); break;
    case LRP_METHOD_ATMAN: rc = method_atman(&c, err); break;
    case LRP_METHOD_KERNELSHAP: rc = method_kernelshap(&c, err); break;
    default: rc = lrp_fail(err, "method %d: not a baseline method", (int)o->method);
    }
    if (rc) {
        free(c.R);
        lrp_explanation_free(e);
        return -1;
    }
    e->relevance_sum = 0;
    e->nonfinite = 0;
    for (int t = 0; t < c.T; t++) {
        float *r = t < c.Ts ? &e->relevance[t] : &e->decoder_relevance[t - c.Ts];
        *r = (float)c.R[t];
        e->relevance_sum += c.R[t];
        e->nonfinite += !isfinite(*r);
    }
    if (e->has_cls && e->ids) e->relevance_cls = e->relevance[0];
    if (m->cfg.image_size > 0) e->relevance_sum += e->relevance_cls;
    free(c.R);
    e->seconds_forward = now_seconds() - t0;  // the whole run (the passes interleave)
    e->seconds_backward = 0;
    return 0;
}

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm.h"
#include "kernels/matmul.h"
#include "kernels/qdot.h"
#include "kernels/smallgemm.h"
#include "ops/ops.h"

// The γ the rules give this node's tag (0: none).
static float gamma_for(const lrp_node *n, const lrp_rules *rules) {
    switch (n->tag) {
    case LRP_TAG_PATCH_CONV: return rules->gamma_conv;
    case LRP_TAG_MLP_LINEAR:
    case LRP_TAG_CLASSIFIER: return rules->gamma_lin;
    default: return 0.0f;
    }
}

static float sign1(float v) { return v >= 0.0f ? 1.0f : -1.0f; }  // sign with sign(0) = +1

// LRP-γ (SPEC §5, zennit's Gamma) for y = x·Wᵀ + b with incoming relevance R = y ⊙ ĝ(y):
//   W^{±γ} = W + γ·clamp±(W) (bias likewise), x± = clamp±(x)
//   z⁺ = x⁺W^{+γ}ᵀ + x⁻W^{−γ}ᵀ + b^{+γ}      z⁻ = x⁺W^{−γ}ᵀ + x⁻W^{+γ}ᵀ + b^{−γ}
//   c⁺ = [y>0] R / stab(z⁺)                   c⁻ = [y<0] R / stab(z⁻),   stab(z) = z + 1e-6·sign(z)
//   R(x) = x⁺⊙(c⁺W^{+γ}) + x⁻⊙(c⁺W^{−γ}) + x⁺⊙(c⁻W^{−γ}) + x⁻⊙(c⁻W^{+γ})
// and the gradient that carries it: ĝ(x) += R(x) / (x + 1e-10·sign(x)).
// The temporaries (the widened ±γ weights among them) are freed at once: they would otherwise stay in the
// graph's arena for the rest of the backward, once per layer.
static void gamma_backward_rows(lrp_graph *g, const lrp_node *n, float gamma, float *gx, const lrp_act *x,
                               const lrp_act *y) {
    int T = x->rows, in = (int)n->w.in, out = (int)n->w.out;
    size_t nw = (size_t)out * in, nx = (size_t)T * in, ny = (size_t)T * out;
    float *mem = malloc((2 * nw + 4 * nx + 4 * ny + (size_t)out) * sizeof(float));
    if (!mem) {
        lrp_graph_fail(g, "out of memory for the gamma rule of a %d x %d layer", out, in);
        return;
    }
    float *wp = mem, *wm = wp + nw, *xp = wm + nw, *xm = xp + nx, *ap = xm + nx, *am = ap + nx;
    float *zp = am + nx, *zm = zp + ny, *cp = zm + ny, *cm = cp + ny, *bias = cm + ny;
    for (int j = 0; j < out; j++) lrp_weight_row(&n->w, j, wp + (size_t)j * in);
    for (size_t k = 0; k < nw; k++) {
        float w = wp[k];
        wp[k] = w + gamma * fmaxf(w, 0.0f);
        wm[k] = w + gamma * fminf(w, 0.0f);
    }
    for (size_t k = 0; k < nx; k++) {
        xp[k] = fmaxf(x->x[k], 0.0f);
        xm[k] = fminf(x->x[k], 0.0f);
    }
    if (n->b.t) lrp_weight_vector(&n->b, bias);
    else memset(bias, 0, (size_t)out * sizeof(float));
    for (int t = 0; t < T; t++)
        for (int j = 0; j < out; j++) {
            float b = bias[j];
            zp[(size_t)t * out + j] = b + gamma * fmaxf(b, 0.0f);
            zm[(size_t)t * out + j] = b + gamma * fminf(b, 0.0f);
        }
    lrp_gemm(0, 1, T, out, in, 1.0f, xp, in, wp, in, 1.0f, zp, out);
    lrp_gemm(0, 1, T, out, in, 1.0f, xm, in, wm, in, 1.0f, zp, out);
    lrp_gemm(0, 1, T, out, in, 1.0f, xp, in, wm, in, 1.0f, zm, out);
    lrp_gemm(0, 1, T, out, in, 1.0f, xm, in, wp, in, 1.0f, zm, out);
    for (size_t k = 0; k < ny; k++) {
        float r = y->x[k] * y->g[k];
        cp[k] = y->x[k] > 0.0f ? r / (zp[k] + 1e-6f * sign1(zp[k])) : 0.0f;
        cm[k] = y->x[k] < 0.0f ? r / (zm[k] + 1e-6f * sign1(zm[k])) : 0.0f;
    }
    // R(x) = x⁺⊙(c⁺W⁺ + c⁻W⁻) + x⁻⊙(c⁺W⁻ + c⁻W⁺)
    lrp_gemm(0, 0, T, in, out, 1.0f, cp, out, wp, in, 0.0f, ap, in);
    lrp_gemm(0, 0, T, in, out, 1.0f, cm, out, wm, in, 1.0f, ap, in);
    lrp_gemm(0, 0, T, in, out, 1.0f, cp, out, wm, in, 0.0f, am, in);
    lrp_gemm(0, 0, T, in, out, 1.0f, cm, out, wp, in, 1.0f, am, in);
    for (size_t k = 0; k < nx; k++) {
        float rx = xp[k] * ap[k] + xm[k] * am[k];
        gx[k] += rx / (x->x[k] + 1e-10f * sign1(x->x[k]));
    }
    free(mem);
}

static void gamma_backward(lrp_graph *g, const lrp_node *n, float gamma, float *gx) {
    gamma_backward_rows(g, n, gamma, gx, n->in[0], n->out);
}

// out = x·Wᵀ + b: the gradient is the ε-rule (ε → 0, bias absorbing its share), so no rule is needed,
// except LRP-γ on the layers the rules single out by tag.
static void linear_backward(lrp_graph *g, const lrp_node *n, const lrp_rules *rules) {
    float *gx = lrp_act_grad(g, n->in[0]);
    if (!gx) return;
    float gamma = gamma_for(n, rules);
    if (gamma > 0.0f) {
        gamma_backward(g, n, gamma, gx);
        return;
    }
    lrp_matmul_backward_input(gx, n->out->g, &n->w, n->in[0]->rows, g->scratch, g->scratch_floats);
}

lrp_act *op_linear(lrp_graph *g, lrp_act *x, const lrp_weight *W, const lrp_weight *b) {
    if (!x) return NULL;
    if (!W || !W->t) return lrp_graph_fail(g, "internal: linear without a weight");
    if (W->in != x->cols)
        return lrp_graph_fail(g, "internal: %s expects %lld inputs, got %d", W->t->name, (long long)W->in, x->cols);
    if (b && b->t && b->out != W->out)
        return lrp_graph_fail(g, "internal: bias %s has %lld elements for %lld outputs", b->t->name, (long long)b->out,
                              (long long)W->out);
    lrp_act *y = lrp_act_new(g, x->rows, (int)W->out);
    if (!y) return NULL;
    if (!(g->quant_act && !g->grad_enabled && lrp_qdot_supported(W) && lrp_qdot_wanted(W->t->dtype, x->rows) &&
          lrp_matmul_forward_q(y->x, x->x, W, b, x->rows, g->scratch, g->scratch_floats) == 0))
        lrp_matmul_forward(y->x, x->x, W, b, x->rows, g->scratch, g->scratch_floats);
    lrp_node *n = lrp_graph_record(g, "linear", linear_backward, y);
    if (!n) return NULL;
    n->in[0] = x;
    n->w = *W;
    if (b) n->b = *b;
    return y;
}

// ---- grouped products: one weight per segment of rows (the experts of a MoE layer) ---------------------
// By default the segments that the small-row kernels take (kernels/smallgemm.c: float32 weights, 2 to 48
// rows, the usual case at T = 128 over 8 experts) run together in one lrp_small_gemm_batch, every
// segment's column ranges in one parallel loop with a single wait at its end; the others (more rows, other
// dtypes) run one after another, each product with all of BLAS's threads. On the Mixtral-shaped toy
// (T = 128, 2 threads) one loop per layer's product instead of one per expert took the explanation from
// 175 to 156 ms (best of 5 rounds, run at nice -20 beside other work).
// ATTNLRP_MOE_PARALLEL=1 runs the segments in parallel instead, one segment per thread and each product
// on one thread. On a quiet 2-core machine that was slower (T = 512: 659 ms against 595 ms; T = 128: 197
// against 186 ms: the experts' sizes differ, so the threads finish unevenly); only on a heavily
// oversubscribed machine did it cut the CPU time (255 against 336-631 ms at load 6-8). The results are
// the same bit for bit on every path (each segment's product is computed the same way).
int openblas_get_num_threads(void);
void openblas_set_num_threads(int);

typedef struct {
    int E;
    int *off;             // [E + 1] row offsets of the segments
    lrp_weight *W;        // [E] weight of each segment (W[e].t NULL: an empty segment)
} grouped_aux;

typedef struct {
    const grouped_aux *a;
    int backward;
    float *dst;           // forward: y; backward: gx
    const float *src;     // forward: x; backward: gy
    int in, out;
    size_t scratch_floats;
    atomic_int next;
    const int *order;     // segments, largest first
} grouped_job;

static void grouped_run(grouped_job *j, float *scratch) {
    for (;;) {
        int i = atomic_fetch_add(&j->next, 1);
        if (i >= j->a->E) return;
        int e = j->order[i], r0 = j->a->off[e], n = j->a->off[e + 1] - r0;
        if (n == 0) continue;
        if (j->backward)
            lrp_matmul_backward_input(j->dst + (size_t)r0 * j->in, j->src + (size_t)r0 * j->out, &j->a->W[e], n,
                                      scratch, j->scratch_floats);
        else
            lrp_matmul_forward(j->dst + (size_t)r0 * j->out, j->src + (size_t)r0 * j->in, &j->a->W[e], NULL, n,
                               scratch, j->scratch_floats);
    }
}

typedef struct {
    grouped_job *j;
    float *scratch;
} grouped_worker;

static void *grouped_thread(void *arg) {
    grouped_worker *w = arg;
    grouped_run(w->j, w->scratch);
    return NULL;
}

static int grouped_parallel_enabled(void) {
    const char *v = getenv("ATTNLRP_MOE_PARALLEL");
    return v && strcmp(v, "1") == 0;
}

#define GROUPED_MAX_THREADS 64

// The segments that the small-row kernels take (float32 weights stored [out, in], 2 ≤ rows ≤
// LRP_SMALL_GEMM_MAX_M): all of them in one lrp_small_gemm_batch, one parallel loop over every segment's
// column ranges, where one after another each product would end in its own wait for the threads (T = 128
// over 8 experts: 32 rows each). Their numbers are those lrp_matmul_* gives. Marks them in done[];
// 0, or -1 when out of memory (nothing written).
static int grouped_small(const grouped_aux *a, int backward, float *dst, const float *src, int in, int out,
                         unsigned char *done) {
    int E = a->E, n = 0;
    int *M = malloc((size_t)E * sizeof *M);
    const float **A = malloc((size_t)E * sizeof *A), **B = malloc((size_t)E * sizeof *B);
    float **C = malloc((size_t)E * sizeof *C);
    int rc = M && A && B && C ? 0 : -1;
    // forward: y = x·Wᵀ (N = out, K = in); backward: gx += gy·W (N = in, K = out)
    int N = backward ? in : out, K = backward ? out : in;
    for (int e = 0; e < E && !rc; e++) {
        const lrp_weight *W = &a->W[e];
        int r0 = a->off[e], rows = a->off[e + 1] - r0;
        if (rows < 2 || !W->t || W->transposed || W->t->dtype != LRP_F32 ||
            !lrp_small_gemm_wanted(0, !backward, rows, N, K))
            continue;
        M[n] = rows;
        A[n] = src + (size_t)r0 * (backward ? out : in);
        B[n] = (const float *)W->t->data + (size_t)W->offset * in;
        C[n] = dst + (size_t)r0 * (backward ? in : out);
        done[e] = 1;
        n++;
    }
    if (!rc && n > 1 &&
        lrp_small_gemm_batch(!backward, n, M, N, K, 1.0f, A, backward ? out : in, B, in, backward ? 1.0f : 0.0f, C,
                             backward ? in : out))
        rc = -1;
    if (!rc && n == 1) memset(done, 0, (size_t)E);  // one segment: the usual path
    free(M);
    free(A);
    free(B);
    free(C);
    return rc;
}

// Runs every segment; 0, or -1 when out of memory (then nothing was written).
static int grouped_products(lrp_graph *g, const grouped_aux *a, int backward, float *dst, const float *src, int in,
                            int out) {
    int order[GROUPED_MAX_THREADS * 4], *ord = order;
    if (a->E > (int)(sizeof order / sizeof *order) && !(ord = malloc((size_t)a->E * sizeof *ord))) return -1;
    int live = 0;
    for (int e = 0; e < a->E; e++)
        if (a->off[e + 1] > a->off[e]) ord[live++] = e;
    for (int i = 1; i < live; i++) {  // largest segment first (insertion sort: E is small)
        int e = ord[i], k = i;
        for (; k > 0 && a->off[ord[k - 1] + 1] - a->off[ord[k - 1]] < a->off[e + 1] - a->off[e]; k--) ord[k] = ord[k - 1];
        ord[k] = e;
    }
    // Only the live segments are handed out (grouped_run stops at live_aux.E).
    grouped_aux live_aux = *a;
    live_aux.E = live;
    unsigned char small_done[GROUPED_MAX_THREADS * 4], *sd = small_done;
    if (!grouped_parallel_enabled()) {  // the small segments together; the rest below, one after another
        if (a->E > (int)sizeof small_done && !(sd = calloc((size_t)a->E, 1))) {
            if (ord != order) free(ord);
            return -1;
        }
        memset(sd, 0, (size_t)a->E);
        if (grouped_small(a, backward, dst, src, in, out, sd)) {
            if (sd != small_done) free(sd);
            if (ord != order) free(ord);
            return -1;
        }
        int k = 0;
        for (int i = 0; i < live; i++)
            if (!sd[ord[i]]) ord[k++] = ord[i];
        live_aux.E = live = k;
        if (sd != small_done) free(sd);
    }
    grouped_job j = {.a = &live_aux, .backward = backward, .dst = dst, .src = src, .in = in, .out = out, .order = ord};
    atomic_init(&j.next, 0);
    int blas = openblas_get_num_threads(), threads = grouped_parallel_enabled() ? blas : 1;
    if (threads > live) threads = live;
    if (threads > GROUPED_MAX_THREADS) threads = GROUPED_MAX_THREADS;
    // Panels of 64 rows of the wider side (as the graph's own scratch, models/model.c), the same size on
    // every thread and at every thread count, so a segment's numbers never depend on where it ran.
    size_t per = (size_t)(in > out ? in : out) * 64;
    if (per > g->scratch_floats) per = g->scratch_floats;
    j.scratch_floats = per;
    float *extra = threads > 1 ? malloc((size_t)(threads - 1) * per * sizeof(float)) : NULL;
    if (threads > 1 && !extra) threads = 1;
    if (threads <= 1) {
        grouped_run(&j, g->scratch);
    } else {
        pthread_t th[GROUPED_MAX_THREADS];
        grouped_worker wk[GROUPED_MAX_THREADS];
        int started = 0;
        openblas_set_num_threads(1);
        for (int t = 1; t < threads; t++) {
            wk[t] = (grouped_worker){.j = &j, .scratch = extra + (size_t)(t - 1) * per};
            if (pthread_create(&th[t], NULL, grouped_thread, &wk[t])) break;
            started = t;
        }
        grouped_run(&j, g->scratch);
        for (int t = 1; t <= started; t++) pthread_join(th[t], NULL);
        openblas_set_num_threads(blas);
    }
    free(extra);
    if (ord != order) free(ord);
    return 0;
}

static void linear_grouped_backward(lrp_graph *g, const lrp_node *n, const lrp_rules *rules) {
    lrp_act *x = n->in[0], *y = n->out;
    const grouped_aux *a = n->aux;
    float *gx = lrp_act_grad(g, x);
    if (!gx) return;
    float gamma = gamma_for(n, rules);
    if (gamma > 0.0f) {  // LRP-γ segment by segment, through the single-product code
        for (int e = 0; e < a->E; e++) {
            int r0 = a->off[e], rows = a->off[e + 1] - r0;
            if (!rows) continue;
            lrp_node seg = *n;
            seg.w = a->W[e];
            memset(&seg.b, 0, sizeof seg.b);
            lrp_act xs = {.x = x->x + (size_t)r0 * x->cols, .rows = rows, .cols = x->cols};
            lrp_act ys = {.x = y->x + (size_t)r0 * y->cols, .g = y->g + (size_t)r0 * y->cols, .rows = rows,
                          .cols = y->cols};
            gamma_backward_rows(g, &seg, gamma, gx + (size_t)r0 * x->cols, &xs, &ys);
        }
        return;
    }
    if (grouped_products(g, a, 1, gx, y->g, x->cols, y->cols))
        lrp_graph_fail(g, "out of memory for a grouped product's backward");
}

lrp_act *op_linear_grouped(lrp_graph *g, lrp_act *x, const lrp_weight *const *W, const int *off, int E) {
    if (!x) return NULL;
    if (E < 1 || off[0] != 0 || off[E] != x->rows)
        return lrp_graph_fail(g, "internal: %d segments covering rows %d..%d of %d", E, E > 0 ? off[0] : 0,
                              E > 0 ? off[E] : 0, x->rows);
    grouped_aux *a = lrp_graph_alloc(g, sizeof *a, 0);
    int *o = lrp_graph_alloc(g, (size_t)(E + 1) * sizeof *o, 0);
    lrp_weight *ws = lrp_graph_alloc(g, (size_t)E * sizeof *ws, 1);
    if (!a || !o || !ws) return NULL;
    int64_t out = -1;
    for (int e = 0; e < E; e++) {
        if (off[e + 1] < off[e]) return lrp_graph_fail(g, "internal: segment %d has rows %d..%d", e, off[e], off[e + 1]);
        if (off[e + 1] == off[e]) continue;
        if (!W[e] || !W[e]->t) return lrp_graph_fail(g, "internal: grouped linear segment %d without a weight", e);
        if (W[e]->in != x->cols)
            return lrp_graph_fail(g, "internal: %s expects %lld inputs, got %d", W[e]->t->name, (long long)W[e]->in,
                                  x->cols);
        if (out >= 0 && W[e]->out != out)
            return lrp_graph_fail(g, "internal: %s has %lld outputs, segment weights before it %lld", W[e]->t->name,
                                  (long long)W[e]->out, (long long)out);
        out = W[e]->out;
        ws[e] = *W[e];
    }
    if (out < 0) return lrp_graph_fail(g, "internal: grouped linear without rows");
    memcpy(o, off, (size_t)(E + 1) * sizeof *o);
    *a = (grouped_aux){.E = E, .off = o, .W = ws};
    lrp_act *y = lrp_act_new(g, x->rows, (int)out);
    if (!y) return NULL;
    if (grouped_products(g, a, 0, y->x, x->x, x->cols, (int)out))
        return lrp_graph_fail(g, "out of memory for a grouped product");
    lrp_node *n = lrp_graph_record(g, "linear_grouped", linear_grouped_backward, y);
    if (!n) return NULL;
    n->in[0] = x;
    n->aux = a;
    return y;
}

int lrp_linear_node_segment(const lrp_node *n, int e, lrp_weight *w, int *r0, int *rows) {
    if (n->backward == linear_backward) {
        if (e == 0) {
            *w = n->w;
            *r0 = 0;
            *rows = n->in[0]->rows;
        }
        return 1;
    }
    if (n->backward != linear_grouped_backward) return 0;
    const grouped_aux *a = n->aux;
    if (e >= 0 && e < a->E) {
        *w = a->W[e];
        *r0 = a->off[e];
        *rows = a->off[e + 1] - a->off[e];
    }
    return a->E;
}

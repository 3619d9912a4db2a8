// Where an explanation spends its time: one recorded forward pass and one attnlrp backward, with
//   - every BLAS call (cblas_sgemm/cblas_sgemv, interposed here and forwarded to OpenBLAS) timed and
//     grouped by shape, so that GEMM time, GFLOP/s per shape and the time outside BLAS are separate;
//   - the backward replayed node by node (as lrp_graph_backward does) with the time of each op;
//   - page faults and system time of each phase (fresh arena memory is faulted in on every explanation).
//
//     profile_explain [--model DIR] [--T 512] [--reps 3]
//
// The numbers of the last repetition are printed (the first ones warm the page cache and OpenBLAS).
#include <cblas.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "explain/explain.h"
#include "models/model.h"

#define MAX_SHAPES 256
#define MAX_OPS 64

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// ---------------------------------------------------------------------------------------------------------
// BLAS interposition: the library's calls resolve to these definitions, which time the real ones.

typedef struct shape_stat {
    int phase;  // 0 forward, 1 backward
    char kind;  // 'g' gemm, 'v' gemv
    int ta, tb, M, N, K;
    long calls;
    double seconds;
    double flops;
} shape_stat;

static shape_stat g_shapes[MAX_SHAPES];
static int g_n_shapes;
static int g_phase;
static double g_blas_seconds;  // running total, read around each backward node

typedef void (*sgemm_fn)(const enum CBLAS_ORDER, const enum CBLAS_TRANSPOSE, const enum CBLAS_TRANSPOSE,
                         const blasint, const blasint, const blasint, const float, const float *, const blasint,
                         const float *, const blasint, const float, float *, const blasint);
typedef void (*sgemv_fn)(const enum CBLAS_ORDER, const enum CBLAS_TRANSPOSE, const blasint, const blasint,
                         const float, const float *, const blasint, const float *, const blasint, const float,
                         float *, const blasint);

static void account(char kind, int ta, int tb, int M, int N, int K, double sec) {
    g_blas_seconds += sec;
    shape_stat *s = NULL;
    for (int i = 0; i < g_n_shapes; i++) {
        shape_stat *c = &g_shapes[i];
        if (c->phase == g_phase && c->kind == kind && c->ta == ta && c->tb == tb && c->M == M && c->N == N &&
            c->K == K)
            s = c;
    }
    if (!s && g_n_shapes < MAX_SHAPES) {
        s = &g_shapes[g_n_shapes++];
        *s = (shape_stat){.phase = g_phase, .kind = kind, .ta = ta, .tb = tb, .M = M, .N = N, .K = K};
    }
    if (!s) return;
    s->calls++;
    s->seconds += sec;
    s->flops += 2.0 * M * N * (kind == 'g' ? K : 1);
}

void cblas_sgemm(const enum CBLAS_ORDER Order, const enum CBLAS_TRANSPOSE TransA, const enum CBLAS_TRANSPOSE TransB,
                 const blasint M, const blasint N, const blasint K, const float alpha, const float *A,
                 const blasint lda, const float *B, const blasint ldb, const float beta, float *C,
                 const blasint ldc) {
    static sgemm_fn real;
    if (!real) real = (sgemm_fn)dlsym(RTLD_NEXT, "cblas_sgemm");
    double t0 = now_s();
    real(Order, TransA, TransB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    account('g', TransA == CblasTrans, TransB == CblasTrans, M, N, K, now_s() - t0);
}

void cblas_sgemv(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE trans, const blasint m, const blasint n,
                 const float alpha, const float *a, const blasint lda, const float *x, const blasint incx,
                 const float beta, float *y, const blasint incy) {
    static sgemv_fn real;
    if (!real) real = (sgemv_fn)dlsym(RTLD_NEXT, "cblas_sgemv");
    double t0 = now_s();
    real(order, trans, m, n, alpha, a, lda, x, incx, beta, y, incy);
    account('v', trans == CblasTrans, 0, m, n, 1, now_s() - t0);
}

// ---------------------------------------------------------------------------------------------------------

typedef struct op_stat {
    const char *op;
    long calls;
    double seconds, blas_seconds;
} op_stat;

typedef struct phase_usage {
    double wall, user, sys;
    long minflt;
} phase_usage;

static void usage_now(phase_usage *u) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    u->wall = now_s();
    u->user = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec;
    u->sys = (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
    u->minflt = ru.ru_minflt;
}

static void print_usage(const char *name, const phase_usage *a, const phase_usage *b) {
    printf("%-9s wall %8.1f ms  user %8.1f ms  sys %7.1f ms  minor faults %8ld\n", name, 1e3 * (b->wall - a->wall),
           1e3 * (b->user - a->user), 1e3 * (b->sys - a->sys), b->minflt - a->minflt);
}

static void print_shapes(int phase, double phase_seconds) {
    double blas = 0;
    for (int i = 0; i < g_n_shapes; i++)
        if (g_shapes[i].phase == phase) blas += g_shapes[i].seconds;
    printf("  BLAS %.1f ms = %.0f%% of the phase; by shape (row-major, op(A)[M,K]·op(B)[K,N]):\n", 1e3 * blas,
           100 * blas / phase_seconds);
    for (int i = 0; i < g_n_shapes; i++) {
        const shape_stat *s = &g_shapes[i];
        if (s->phase != phase) continue;
        printf("    %s%s%s M=%-6d N=%-6d K=%-6d calls %5ld  %8.1f ms  %5.1f%%  %6.1f GFLOP/s\n",
               s->kind == 'g' ? "sgemm " : "sgemv ", s->ta ? "T" : "N", s->kind == 'g' ? (s->tb ? "T" : "N") : " ",
               s->M, s->N, s->K, s->calls, 1e3 * s->seconds, 100 * s->seconds / phase_seconds,
               s->flops / s->seconds / 1e9);
    }
}

int main(int argc, char **argv) {
    const char *model = "/tmp/attnlrp-bench-model";
    int T = 512, reps = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--model") == 0) model = argv[i + 1];
        else if (strcmp(argv[i], "--T") == 0) T = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--reps") == 0) reps = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: profile_explain [--model DIR] [--T N] [--reps N]\n");
            return 2;
        }
    }
    if (T < 1 || reps < 1) {
        fprintf(stderr, "profile_explain: --T and --reps must be positive\n");
        return 2;
    }
    lrp_err err = {{0}};
    lrp_model *m = NULL;
    if (lrp_model_open(&m, model, &err)) {
        fprintf(stderr, "profile_explain: %s\n", err.msg);
        return 1;
    }
    int V = m->cfg.vocab_size, classifier = m->cfg.task == LRP_TASK_CLASSIFIER;
    int *ids = malloc((size_t)T * sizeof(int));
    op_stat *ops = calloc(MAX_OPS, sizeof *ops);
    if (!ids || !ops) {
        fprintf(stderr, "profile_explain: out of memory\n");
        return 1;
    }
    unsigned s = 2463534242u;  // the ids of bench_explain
    for (int t = 0; t < T; t++) {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        ids[t] = 3 + (int)(s % (unsigned)(V - 3));
    }
    int n_ops = 0;
    phase_usage u0, u1, u2, u3;
    double arena_mib = 0;
    for (int rep = 0; rep < reps; rep++) {
        g_n_shapes = 0;
        n_ops = 0;
        memset(ops, 0, MAX_OPS * sizeof *ops);
        lrp_graph g;
        if (lrp_graph_init(&g, lrp_model_scratch_floats(m), &err)) {
            fprintf(stderr, "profile_explain: %s\n", err.msg);
            return 1;
        }
        int position = T - 1;  // LMs: the last position; classifiers read token 0 (no head rows)
        lrp_forward f = {.in = {.ids = ids, .T = T}, .head_rows = classifier ? NULL : &position, .n_head_rows = 1};
        g_phase = 0;
        usage_now(&u0);
        if (lrp_model_forward(m, &g, &f)) {
            fprintf(stderr, "profile_explain: %s\n", g.err.msg);
            return 1;
        }
        usage_now(&u1);
        const lrp_act *logits = f.taps.logits;
        int n_out = logits->rows * logits->cols, target = 0;
        for (int i = 1; i < n_out; i++)
            if (logits->x[i] > logits->x[target]) target = i;
        float *gl = lrp_act_grad(&g, f.taps.logits);
        if (!gl) return 1;
        gl[target] = 1.0f;
        lrp_rules rules = lrp_rules_for(LRP_METHOD_ATTNLRP);
        g_phase = 1;
        usage_now(&u2);
        for (int i = g.n_nodes - 1; i >= 0; i--) {
            const lrp_node *n = &g.nodes[i];
            if (!n->out->g) continue;
            double b0 = g_blas_seconds, t0 = now_s();
            n->backward(&g, n, &rules);
            double dt = now_s() - t0, db = g_blas_seconds - b0;
            int k = 0;
            while (k < n_ops && strcmp(ops[k].op, n->op) != 0) k++;
            if (k == n_ops && n_ops < MAX_OPS) ops[n_ops++].op = n->op;
            if (k < n_ops) {
                ops[k].calls++;
                ops[k].seconds += dt;
                ops[k].blas_seconds += db;
            }
        }
        usage_now(&u3);
        arena_mib = (double)g.bytes_allocated / (1 << 20);
        lrp_graph_free(&g);
    }
    double fwd = u1.wall - u0.wall, bwd = u3.wall - u2.wall;
    printf("T=%d, OpenBLAS core %s, %d threads; last of %d repetitions; arena %.0f MiB\n", T,
           openblas_get_corename(), openblas_get_num_threads(), reps, arena_mib);
    print_usage("forward", &u0, &u1);
    print_shapes(0, fwd);
    print_usage("backward", &u2, &u3);
    print_shapes(1, bwd);
    printf("  backward by op:\n");
    for (int k = 0; k < n_ops; k++)
        printf("    %-16s nodes %4ld  %8.1f ms  %5.1f%%  (BLAS inside %.1f ms, other %.1f ms)\n", ops[k].op,
               ops[k].calls, 1e3 * ops[k].seconds, 100 * ops[k].seconds / bwd, 1e3 * ops[k].blas_seconds,
               1e3 * (ops[k].seconds - ops[k].blas_seconds));
    free(ops);
    free(ids);
    lrp_model_close(m);
    return 0;
}

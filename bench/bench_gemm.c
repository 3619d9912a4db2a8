// Speed of the small-row kernels (kernels/smallgemm.h) against OpenBLAS's sgemm on the products of one
// expert of the Mixtral-shaped toy (and any shape given): GFLOP/s, median over repetitions, each
// repetition cycling through enough weights (--mib, 64 MiB) that they come from memory as in an explanation.
//
//     bench_gemm [--M 32] [--N 1024] [--K 512] [--reps 15] [--mib 64]   # --mib 0: one weight, cached
//
// Prints, for op(B) = Bᵀ (the forward through a [N, K] weight) and op(B) = B (the input gradient
// through a [K, N] weight): "small" and "blas" GFLOP/s. Threads: OPENBLAS_NUM_THREADS for both.
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/cpu.h"
#include "kernels/smallgemm.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int M = 32, N = 1024, K = 512, reps = 15, mib = 64;
    for (int i = 1; i + 1 < argc; i += 2) {
        int v = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "--M")) M = v;
        else if (!strcmp(argv[i], "--N")) N = v;
        else if (!strcmp(argv[i], "--K")) K = v;
        else if (!strcmp(argv[i], "--reps")) reps = v;
        else if (!strcmp(argv[i], "--mib")) mib = v;
        else {
            fprintf(stderr, "usage: bench_gemm [--M 32] [--N 1024] [--K 512] [--reps 15] [--mib 64]\n");
            return 2;
        }
    }
    if (M < 1 || N < 1 || K < 1 || reps < 1 || reps > 1000) {
        fprintf(stderr, "bench_gemm: sizes and --reps must be positive (reps at most 1000)\n");
        return 2;
    }
    size_t wn = (size_t)N * K;
    int nw = (int)(((size_t)mib << 20) / (wn * sizeof(float)));
    if (nw < 1) nw = 1;
    float *W = malloc(wn * nw * sizeof(float)), *A = malloc((size_t)M * (N > K ? N : K) * sizeof(float));
    float *C = malloc((size_t)M * (N > K ? N : K) * sizeof(float));
    if (!W || !A || !C) return 1;
    for (size_t i = 0; i < wn * nw; i++) W[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
    for (size_t i = 0; i < (size_t)M * (N > K ? N : K); i++) A[i] = (float)(i % 17) / 17.0f;
    printf("M=%d N=%d K=%d, %s, OpenBLAS %s, %d threads; GFLOP/s (median and fastest of %d runs over %d weights)\n", M, N, K,
           lrp_cpu_describe(), openblas_get_corename(), openblas_get_num_threads(), reps, nw);
    double flop = 2.0 * M * N * K;
    for (int tb = 1; tb >= 0; tb--) {
        // tb: C[M, N] = A[M, K] · W[N, K]ᵀ; otherwise C[M, K] = A[M, N] · W[N, K]
        int n = tb ? N : K, k = tb ? K : N;
        double g[2], best[2];
        for (int impl = 0; impl < 2; impl++) {
            double *t = malloc((size_t)reps * sizeof(double));
            for (int r = -1; r < reps; r++) {
                double t0 = now();
                for (int w = 0; w < nw; w++) {
                    const float *B = W + wn * w;
                    if (impl == 0) lrp_small_gemm(tb, M, n, k, 1.0f, A, k, B, K, 0.0f, C, n);
                    else
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, n, k, 1.0f, A, k,
                                    B, K, 0.0f, C, n);
                }
                if (r >= 0) t[r] = (now() - t0) / nw;
            }
            qsort(t, (size_t)reps, sizeof *t, cmp);
            g[impl] = flop / t[reps / 2] * 1e-9;
            best[impl] = flop / t[0] * 1e-9;
            free(t);
        }
        printf("  %s: small %.1f, blas %.1f GFLOP/s (%.2fx); fastest run: small %.1f, blas %.1f (%.2fx)\n",
               tb ? "A·Wt (forward)       " : "A·W  (input gradient)", g[0], g[1], g[0] / g[1], best[0], best[1],
               best[0] / best[1]);
    }
    free(W);
    free(A);
    free(C);
    return 0;
}

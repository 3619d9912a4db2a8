#include "kernels/gemm.h"

#include <cblas.h>

#include "kernels/smallgemm.h"

void lrp_gemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
              int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (lrp_small_gemm_wanted(trans_a, trans_b, M, N, K)) {
        lrp_small_gemm(trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K,
                alpha, A, lda, B, ldb, beta, C, ldc);
}

void lrp_gemm_ref(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc) {
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++) {
                double a = trans_a ? A[(long)k * lda + i] : A[(long)i * lda + k];
                double b = trans_b ? B[(long)j * ldb + k] : B[(long)k * ldb + j];
                s += a * b;
            }
            float *c = &C[(long)i * ldc + j];
            *c = (float)(alpha * s + (beta == 0.0f ? 0.0 : (double)beta * *c));
        }
    }
}

void lrp_gemv(int trans_a, int M, int N, float alpha, const float *A, int lda, const float *x, float beta, float *y) {
    if (M <= 0 || N <= 0) return;
    cblas_sgemv(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, M, N, alpha, A, lda, x, 1, beta, y, 1);
}

int lrp_blas_threads(void) { return openblas_get_num_threads(); }

void lrp_blas_set_threads(int n) { openblas_set_num_threads(n < 1 ? 1 : n); }
int lrp_gemm_threads(void) {
    int n = openblas_get_num_threads();
    return n > 0 ? n : 1;
}

// OpenBLAS's BUFFER_SIZE as Debian builds it (32 << 22 bytes), plus the page malloc adds to it.
size_t lrp_gemm_buffer_bytes(void) { return ((size_t)128 << 20) + 4096; }

// Dense float32 products, row-major. The only place in the engine that calls BLAS; every other layer
// goes through these. Products with few rows against a large B go to kernels/smallgemm.h instead. The scalar references (double accumulation) are compared with them in tests.
#ifndef LRP_GEMM_H
#define LRP_GEMM_H

#include <stddef.h>

// C[M, N] = alpha · op(A) · op(B) + beta · C, op(X) = X or Xᵀ (trans_* != 0); lda/ldb/ldc are row strides.
void lrp_gemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
              int ldb, float beta, float *C, int ldc);
void lrp_gemm_ref(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc);

// y[M or N] = alpha · op(A) · x + beta · y, A [M, N] row-major with stride lda.
void lrp_gemv(int trans_a, int M, int N, float alpha, const float *A, int lda, const float *x, float beta, float *y);

// The BLAS library's thread count (OpenBLAS: OPENBLAS_NUM_THREADS, else the cores), and setting it (the
// small-row kernels follow it): attnlrp batch divides the threads among its worker processes.
int lrp_blas_threads(void);
void lrp_blas_set_threads(int n);
// Threads BLAS runs a product on (OPENBLAS_NUM_THREADS); each allocates a work buffer on its first
// product, which lrp_gemm_buffer_bytes gives (address space: explain/memory.c counts it under RLIMIT_AS).
int lrp_gemm_threads(void);
size_t lrp_gemm_buffer_bytes(void);

#endif

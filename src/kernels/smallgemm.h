// Products with few rows against a large weight: C[M, N] = alpha · A · op(B) + beta · C with A [M, K]
// (not transposed) and op(B) = B [K, N] or Bᵀ, B [N, K]; lda/ldb/ldc are row strides.
//
// Why: with a few dozen rows (the tokens one expert of a mixture of experts gets, T = 128 split over 8
// experts), BLAS packs the whole weight for every call and runs at half its speed. These kernels
// read B once: op(B) = Bᵀ (the forward through a [out, in] weight) packs the small A transposed
// (K × M floats) and streams 8 rows of B in place, 8 columns of C for up to 48 rows in registers;
// op(B) = B (the input gradient through a weight, a Conv1D forward) reads B 64 rows at a time, copying
// 48-column panels into L1 (rows a power-of-two stride apart would collide in its sets), 8 rows of C in
// registers, A broadcast from blocks of 8 packed rows.
// The kernel is chosen at run time (kernels/cpu.h): AVX-512F, AVX2+FMA, or the generic C loops that
// ATTNLRP_CPU=generic forces. Large calls are split over column ranges between OpenBLAS's thread count
// of threads (kernels/pool.h).
//
// lrp_gemm (kernels/gemm.h) sends a call here when lrp_small_gemm_wanted() says so; ATTNLRP_SMALL_GEMM=0
// turns that off (for A/B measurements against BLAS alone).
#ifndef LRP_SMALLGEMM_H
#define LRP_SMALLGEMM_H

// The most rows the small kernels take from lrp_gemm.
#define LRP_SMALL_GEMM_MAX_M 48

// 1 when lrp_gemm should use lrp_small_gemm for this call: A not transposed, 2 ≤ M ≤ LRP_SMALL_GEMM_MAX_M,
// N and K both over 256 (a weight, not an attention head), AVX-512F (or AVX2+FMA for op(B) = Bᵀ: the
// AVX2 kernel for op(B) = B is slower than OpenBLAS's) and ATTNLRP_SMALL_GEMM not 0.
int lrp_small_gemm_wanted(int trans_a, int trans_b, int M, int N, int K);

// Any M ≥ 0, N ≥ 0, K ≥ 0 (K = 0: C = beta · C; beta = 0 never reads C). Runs on whichever path
// lrp_cpu_features() allows (the generic loops with ATTNLRP_CPU=generic).
void lrp_small_gemm(int trans_b, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
                    float beta, float *C, int ldc);

// `count` independent calls with the same N, K, op(B), strides, alpha and beta (the experts of a MoE layer):
// call i multiplies A[i] [M[i], K] by op(B[i]) into C[i]. Every call's column ranges go into one parallel
// loop, so the threads share the calls' work with one wait at the end instead of one per call. Each call's
// numbers are those lrp_small_gemm gives it. 0, or -1 when out of memory (then no C was written).
int lrp_small_gemm_batch(int trans_b, int count, const int *M, int N, int K, float alpha, const float *const *A,
                         int lda, const float *const *B, int ldb, float beta, float *const *C, int ldc);

// Re-reads ATTNLRP_SMALL_GEMM (tests).
void lrp_small_gemm_refresh(void);

#endif

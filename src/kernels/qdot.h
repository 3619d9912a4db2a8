// Products with block-quantised weights (Q8_0, Q4_K, Q6_K) that never widen the weights to float32 in memory: the
// activation row is quantised to 8-bit blocks as llama.cpp does (ggml's vec_dot_type: Q8_0 blocks of 32
// for Q8_0 weights, Q8_K blocks of 256 for the K types) and each output is a sum of integer dot products
// of blocks times the two blocks' scales. Used for the forward passes of generation (a few rows of
// activations against every weight: memory-bound, so reading the stored bytes once is what counts).
//
// The result differs from the widened float32 product by the activations' rounding: for each block of
// the activation row, |x_i − x̂_i| ≤ d/2 with d = max|x_block|/127, so an output moves by at most
// Σ_blocks d/2 · Σ_{i in block} |w_i| (plus float rounding). Explanations never take this path (their
// forward must be the one the relevance backward differentiates).
//
// Kernels are chosen at run time (kernels/cpu.h): AVX-512 VNNI (256-bit vpdpbusd), AVX2, or the scalar
// reference that ATTNLRP_CPU=generic forces. All of them compute the same integer sums, so they agree to
// float rounding of the per-block scale products.
#ifndef LRP_QDOT_H
#define LRP_QDOT_H

#include <stddef.h>
#include <stdint.h>

#include "core/tensor.h"

// 1 when lrp_matmul_forward_q beats widening + BLAS for T rows of activations against dtype-t weights
// (measured with bench/bench_qdot; 0 for dtypes without a dot product here).
int lrp_qdot_wanted(lrp_dtype t, int T);

// 1 unless the environment sets ATTNLRP_QDOT=0 (generation then widens quantised weights to float32 as
// explanations do; for A/B measurements). Read on every call.
int lrp_qdot_enabled(void);

// 1 for the weight dtypes with a direct product: Q8_0, Q4_K, Q6_K, and F16 / BF16, whose products widen
// the weights in registers and multiply float32 activations as they are (no quantisation: these agree
// with the widened product to float rounding).
int lrp_qdot_dtype(lrp_dtype t);

// 1 when lrp_matmul_forward_q can take W: a supported dtype, not transposed, rows of whole blocks.
int lrp_qdot_supported(const lrp_weight *W);

// Bytes of one quantised activation row of n elements for weights of dtype t (n a multiple of the block).
size_t lrp_qdot_act_bytes(lrp_dtype t, int64_t n);

// Quantises x[0..n) into qx (lrp_qdot_act_bytes(t, n) bytes) for products with dtype-t weights.
// The layout is ggml's block_q8_0 with a float32 scale (4 + 32 bytes) for Q8_0, block_q8_K
// (float d, int8 q[256], int16 bsums[16]) for the K types; q = round(x/d), d = max|x_block|/127.
void lrp_qdot_quantize(lrp_dtype t, const float *x, void *qx, int64_t n);

// Σ_blocks of the integer dot product times the scales: the dot product of n stored elements w (one
// row) with a quantised activation row qx. The fast kernel the CPU allows / the scalar reference.
float lrp_qdot(lrp_dtype t, const void *w, const void *qx, int64_t n);
float lrp_qdot_ref(lrp_dtype t, const void *w, const void *qx, int64_t n);

// y[T, out] = x[T, in] · Wᵀ + bias with quantised activations; W must pass lrp_qdot_supported. Uses
// scratch for the quantised rows when it is large enough, else allocates. Splits the output rows over
// the pool's threads (kernels/pool.h). Returns -1 (y untouched) only when out of memory.
int lrp_matmul_forward_q(float *y, const float *x, const lrp_weight *W, const lrp_weight *bias, int T, float *scratch,
                         size_t scratch_floats);

#endif

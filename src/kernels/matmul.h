// Products of activations with stored weights seen through views (core/tensor.h: lrp_weight, logically
// [out, in]) of any dtype. Float32 storage goes straight to BLAS (kernels/gemm.h); other dtypes are
// widened panel by panel into `scratch` (at least `in` and `out` floats; more is faster), so weights
// never cost more than their stored size in RAM. Transposed views (Conv1D) need an element-addressable
// dtype (F32, F16, BF16); row-sliced views of quantised storage work when rows are whole blocks.
#ifndef LRP_MATMUL_H
#define LRP_MATMUL_H

#include <stddef.h>

#include "core/tensor.h"

// y[T, out] = x[T, in] · Wᵀ + bias (bias: a vector view of `out` elements, or NULL / no tensor).
void lrp_matmul_forward(float *y, const float *x, const lrp_weight *W, const lrp_weight *bias, int T, float *scratch,
                        size_t scratch_floats);

// gx[T, in] += gy[T, out] · W   (the vector-Jacobian product with respect to x)
void lrp_matmul_backward_input(float *gx, const float *gy, const lrp_weight *W, int T, float *scratch,
                               size_t scratch_floats);

// Scalar references (double accumulation, one logical row at a time, weights widened by the scalar
// conversions only), compared with the fast paths in tests.
// They allocate their own row buffer; they return -1 when that fails.
int lrp_matmul_forward_ref(float *y, const float *x, const lrp_weight *W, const lrp_weight *bias, int T);
int lrp_matmul_backward_input_ref(float *gx, const float *gy, const lrp_weight *W, int T);

// Logical row r of W widened to float32 (dst holds W->in floats).
void lrp_weight_row(const lrp_weight *W, int64_t r, float *dst);
// A vector view (bias, norm weight) widened: dst holds v->out floats.
void lrp_weight_vector(const lrp_weight *v, float *dst);
// 0 when the kernels can read the view (dtype and slicing compatible), -1 otherwise.
int lrp_weight_check(const lrp_weight *W);

#endif

// Matrix products against stored weights W [out, in] of any dtype (nn.Linear layout).
// Float32 weights go straight to BLAS; other dtypes are widened panel by panel into `scratch`
// (at least `in` floats; more is faster) so weights never cost more than their stored size in RAM.
#ifndef LRP_MATMUL_H
#define LRP_MATMUL_H

#include <stddef.h>

#include "formats/tensor_file.h"

// y[T, out] = x[T, in] · Wᵀ + bias (bias may be NULL; any dtype).
void lrp_matmul_forward(float *y, const float *x, const lrp_tensor *W, const lrp_tensor *bias, int T, int in,
                        int out, float *scratch, size_t scratch_floats);

// gx[T, in] += gy[T, out] · W   (the vector-Jacobian product with respect to x)
void lrp_matmul_backward_input(float *gx, const float *gy, const lrp_tensor *W, int T, int in, int out,
                               float *scratch, size_t scratch_floats);

// Scalar references (double accumulation), compared against the fast paths in tests.
void lrp_matmul_forward_ref(float *y, const float *x, const lrp_tensor *W, const lrp_tensor *bias, int T, int in,
                            int out);
void lrp_matmul_backward_input_ref(float *gx, const float *gy, const lrp_tensor *W, int T, int in, int out);

// Row r of W widened to float32 (dst holds `in` floats).
void lrp_weight_row(const lrp_tensor *W, int64_t r, int64_t in, float *dst);

#endif

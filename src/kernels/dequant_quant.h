// Widening of ggml block-quantised types (Q8_0 ... Q8_K) to float32; n is a multiple of the block size.
#ifndef LRP_DEQUANT_QUANT_H
#define LRP_DEQUANT_QUANT_H

#include <stdint.h>

#include "core/tensor.h"

// The block layouts and formulas are ggml's (ggml-common.h, ggml-quants.c); see dequant_quant.c.
// Uses AVX2 for Q8_0, Q4_0, Q4_K and Q6_K when the CPU has it (kernels/cpu.h), the scalar reference
// otherwise.
void lrp_dequant_row_quant(lrp_dtype t, const void *src, float *dst, int64_t n);

// The scalar reference for every type (tests compare the two).
void lrp_dequant_row_quant_ref(lrp_dtype t, const void *src, float *dst, int64_t n);

#endif

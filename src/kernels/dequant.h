// Widening stored weights to float32.
#ifndef LRP_DEQUANT_H
#define LRP_DEQUANT_H

#include <stdint.h>

#include "core/tensor.h"

// Widens n consecutive elements (a whole number of blocks) stored as t into float32.
// Uses the fast paths the CPU allows (kernels/cpu.h).
void lrp_dequant_row(lrp_dtype t, const void *src, float *dst, int64_t n);
// The same with the scalar references only.
void lrp_dequant_row_ref(lrp_dtype t, const void *src, float *dst, int64_t n);

#endif

// Widening of ggml block-quantised types (Q8_0 ... Q8_K) to float32; n is a multiple of the block size.
#ifndef LRP_DEQUANT_QUANT_H
#define LRP_DEQUANT_QUANT_H

#include <stdint.h>

#include "formats/tensor_file.h"

void lrp_dequant_row_quant(lrp_dtype t, const void *src, float *dst, int64_t n);

#endif

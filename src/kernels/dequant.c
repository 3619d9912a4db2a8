// Storage types and their widening to float32. Float types are handled here; block-quantised GGUF
// types are in kernels/dequant_quant.c.
#include <string.h>

#include "kernels/dequant.h"
#include "kernels/dequant_quant.h"
#include "kernels/half.h"

void lrp_dequant_row(lrp_dtype t, const void *src, float *dst, int64_t n) {
    switch (t) {
    case LRP_F32:
        memcpy(dst, src, (size_t)n * sizeof(float));
        break;
    case LRP_F16:
        lrp_f16_to_f32_row((const uint16_t *)src, dst, n);
        break;
    case LRP_BF16:
        lrp_bf16_to_f32_row((const uint16_t *)src, dst, n);
        break;
    default:
        lrp_dequant_row_quant(t, src, dst, n);
        break;
    }
}

void lrp_dequant_row_ref(lrp_dtype t, const void *src, float *dst, int64_t n) {
    switch (t) {
    case LRP_F32:
        memcpy(dst, src, (size_t)n * sizeof(float));
        break;
    case LRP_F16:
        lrp_f16_to_f32_row_ref((const uint16_t *)src, dst, n);
        break;
    case LRP_BF16:
        lrp_bf16_to_f32_row_ref((const uint16_t *)src, dst, n);
        break;
    default:
        lrp_dequant_row_quant_ref(t, src, dst, n);
        break;
    }
}

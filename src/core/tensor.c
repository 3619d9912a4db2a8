#include "core/tensor.h"

typedef struct {
    const char *name;
    int block_elems;
    size_t block_bytes;
} dtype_traits;

// Block layouts follow ggml-common.h (elements per block, bytes per block).
static const dtype_traits traits[LRP_DTYPE_COUNT] = {
    [LRP_F32] = {"F32", 1, 4},       [LRP_F16] = {"F16", 1, 2},       [LRP_BF16] = {"BF16", 1, 2},
    [LRP_Q8_0] = {"Q8_0", 32, 34},   [LRP_Q4_0] = {"Q4_0", 32, 18},   [LRP_Q4_1] = {"Q4_1", 32, 20},
    [LRP_Q5_0] = {"Q5_0", 32, 22},   [LRP_Q5_1] = {"Q5_1", 32, 24},   [LRP_Q4_K] = {"Q4_K", 256, 144},
    [LRP_Q5_K] = {"Q5_K", 256, 176}, [LRP_Q6_K] = {"Q6_K", 256, 210}, [LRP_Q8_K] = {"Q8_K", 256, 292},
    [LRP_F64] = {"F64", 1, 8},       [LRP_I64] = {"I64", 1, 8},       [LRP_I32] = {"I32", 1, 4},
    [LRP_I16] = {"I16", 1, 2},       [LRP_I8] = {"I8", 1, 1},         [LRP_U8] = {"U8", 1, 1},
    [LRP_BOOL] = {"BOOL", 1, 1},
};

const char *lrp_dtype_name(lrp_dtype t) {
    return (unsigned)t < LRP_DTYPE_COUNT ? traits[t].name : "unknown";
}

int lrp_dtype_block_elems(lrp_dtype t) {
    return (unsigned)t < LRP_DTYPE_COUNT ? traits[t].block_elems : 0;
}

size_t lrp_dtype_block_bytes(lrp_dtype t) {
    return (unsigned)t < LRP_DTYPE_COUNT ? traits[t].block_bytes : 0;
}

size_t lrp_dtype_row_bytes(lrp_dtype t, int64_t n) {
    int be = lrp_dtype_block_elems(t);
    if (be <= 0 || n < 0 || n % be != 0) return 0;
    return (size_t)(n / be) * traits[t].block_bytes;
}

int lrp_dtype_is_weight(lrp_dtype t) {
    return (unsigned)t < LRP_F64;
}

int lrp_dtype_is_elementwise(lrp_dtype t) {
    return t == LRP_F32 || t == LRP_F16 || t == LRP_BF16;
}

int64_t lrp_tensor_numel(const lrp_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

lrp_weight lrp_weight_of(const lrp_tensor *t) {
    lrp_weight w = {0};
    if (!t) return w;
    w.t = t;
    w.out = t->shape[0];
    w.in = t->ndim >= 2 ? t->shape[1] : 1;
    return w;
}

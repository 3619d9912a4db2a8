// Tensors as the engine sees them: a storage dtype, a shape and a pointer to data that someone else
// owns (a read-only checkpoint mapping). core/, kernels/, ops/ and the readers in formats/ all build on
// these types; nothing here knows a file format.
//
// A weight view (lrp_weight) is how an op sees a matrix it multiplies by: logically [out, in] (the
// nn.Linear layout), backed either by the rows [offset, offset + out) of a stored [N, in] matrix (fused
// q/k/v or gate/up projections), or by the columns [offset, offset + out) of a stored [in, N] matrix
// (GPT-2's Conv1D keeps its weights transposed). Views never copy: the kernels widen what they read.
#ifndef LRP_TENSOR_H
#define LRP_TENSOR_H

#include <stddef.h>
#include <stdint.h>

typedef enum lrp_dtype {
    LRP_F32 = 0,
    LRP_F16,
    LRP_BF16,
    LRP_Q8_0,
    LRP_Q4_0,
    LRP_Q4_1,
    LRP_Q5_0,
    LRP_Q5_1,
    LRP_Q4_K,
    LRP_Q5_K,
    LRP_Q6_K,
    LRP_Q8_K,
    // Stored, but never a weight: integer and float64 buffers a checkpoint may carry (position_ids, masks).
    LRP_F64,
    LRP_I64,
    LRP_I32,
    LRP_I16,
    LRP_I8,
    LRP_U8,
    LRP_BOOL,
    LRP_DTYPE_COUNT
} lrp_dtype;

// The weight dtypes are the first ones: 0 .. LRP_N_WEIGHT_DTYPES - 1.
#define LRP_N_WEIGHT_DTYPES ((int)LRP_F64)

const char *lrp_dtype_name(lrp_dtype t);
int lrp_dtype_block_elems(lrp_dtype t);     // elements per block: 1 for F32/F16/BF16, 32 or 256 for quants
size_t lrp_dtype_block_bytes(lrp_dtype t);  // bytes per block
// Bytes taken by n elements (n must be a multiple of the block size; returns 0 otherwise).
size_t lrp_dtype_row_bytes(lrp_dtype t, int64_t n);
// 1 for the dtypes the kernels can widen into float32 weights (F32, F16, BF16 and the ggml quantisations).
int lrp_dtype_is_weight(lrp_dtype t);
// 1 for the dtypes whose single elements can be addressed (F32, F16, BF16): the only ones a transposed
// view can read.
int lrp_dtype_is_elementwise(lrp_dtype t);

#define LRP_MAX_DIMS 4

typedef struct lrp_tensor {
    char *name;                   // as stored in the file, e.g. "model.layers.0.self_attn.q_proj.weight"
    lrp_dtype dtype;
    int ndim;
    int64_t shape[LRP_MAX_DIMS];  // PyTorch order, outermost first: a Linear weight is [out, in]
    const void *data;             // inside a read-only mapping owned by the lrp_tensor_file
    size_t nbytes;
} lrp_tensor;

// Number of elements of a tensor (product of its shape).
int64_t lrp_tensor_numel(const lrp_tensor *t);

typedef struct lrp_weight {
    const lrp_tensor *t;   // storage; NULL: no weight (an absent bias)
    int64_t out, in;       // logical shape [out, in]; a bias or norm weight is a vector: out = n, in = 1
    int64_t offset;        // first logical row within the storage (a row of [N, in], or a column of [in, N])
    int transposed;        // storage is [in, N] (Conv1D) instead of [N, in]
} lrp_weight;

// The whole of a stored matrix [out, in] (or vector [n]) as a view.
lrp_weight lrp_weight_of(const lrp_tensor *t);

#endif

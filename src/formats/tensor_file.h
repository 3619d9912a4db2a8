// Weight tensors as they lie in a checkpoint file: memory-mapped, never copied, in their stored dtype.
// Both readers (safetensors, GGUF) produce an lrp_tensor_file; model families look tensors up by
// their Hugging Face name and the matrix kernels widen them to float32 on the fly.
#ifndef LRP_TENSOR_FILE_H
#define LRP_TENSOR_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

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
    LRP_DTYPE_COUNT
} lrp_dtype;

const char *lrp_dtype_name(lrp_dtype t);
int lrp_dtype_block_elems(lrp_dtype t);     // elements per block: 1 for F32/F16/BF16, 32 or 256 for quants
size_t lrp_dtype_block_bytes(lrp_dtype t);  // bytes per block
// Bytes taken by n elements (n must be a multiple of the block size; returns 0 otherwise).
size_t lrp_dtype_row_bytes(lrp_dtype t, int64_t n);

// Widens n consecutive elements (a whole number of blocks) stored as t into float32.
// Defined in kernels/dequant.c.
void lrp_dequant_row(lrp_dtype t, const void *src, float *dst, int64_t n);

#define LRP_MAX_DIMS 4

typedef struct lrp_tensor {
    char *name;                   // Hugging Face name, e.g. "model.layers.0.self_attn.q_proj.weight"
    lrp_dtype dtype;
    int ndim;
    int64_t shape[LRP_MAX_DIMS];  // PyTorch order, outermost first: a Linear weight is [out, in]
    const void *data;             // inside a read-only mapping owned by the lrp_tensor_file
    size_t nbytes;
} lrp_tensor;

typedef struct lrp_mapping {
    void *addr;
    size_t len;
} lrp_mapping;

typedef struct lrp_tensor_file {
    lrp_tensor *tensors;
    int n_tensors;
    lrp_mapping *maps;            // one per mapped file (a sharded checkpoint has several)
    int n_maps;
    void *extra;                  // reader-specific state (e.g. GGUF metadata), freed by lrp_tf_close
    void (*free_extra)(void *);
} lrp_tensor_file;

// Looks a tensor up by name: O(log n) when the tensors are sorted by name (readers call
// lrp_tf_sort_by_name once they are loaded), still correct (a linear scan) when they are not.
const lrp_tensor *lrp_tf_find(const lrp_tensor_file *tf, const char *name);
void lrp_tf_sort_by_name(lrp_tensor_file *tf);
// Frees every tensor's name (each malloc'ed on its own), the tensors and maps arrays, unmaps every
// mapping, calls free_extra(extra), and zeroes *tf. Safe on a zeroed or already closed file.
void lrp_tf_close(lrp_tensor_file *tf);

// Number of elements of a tensor (product of its shape).
int64_t lrp_tensor_numel(const lrp_tensor *t);

#endif

// Weight tensors as they lie in a checkpoint file: memory-mapped, never copied, in their stored dtype.
// Both readers (safetensors, GGUF) produce an lrp_tensor_file; model families look tensors up by
// the names their file stores (each family file knows its names) and the kernels widen them on the fly.
#ifndef LRP_TENSOR_FILE_H
#define LRP_TENSOR_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/tensor.h"

typedef struct lrp_mapping {
    void *addr;
    size_t len;
    int borrowed;  // 1: memory the caller owns (the readers' *_open_memory): lrp_tf_close leaves it alone
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
// mapping not borrowed, calls free_extra(extra), and zeroes *tf. Safe on a zeroed or already closed file.
void lrp_tf_close(lrp_tensor_file *tf);

#endif

// What a family's bind function uses: look a weight up by the name its file format gives it, check its
// shape, and cut views out of fused tensors.
#ifndef LRP_BIND_H
#define LRP_BIND_H

#include "models/model.h"

// 1 when the model was loaded from a GGUF file (names then follow llama.cpp: "blk.0.attn_q.weight").
int lrp_model_is_gguf(const lrp_model *m);

// Binds the tensor `name` (printf-formatted) as a view [d0, d1] (d1 < 0: a vector of d0 elements).
// transposed: the file stores [d1, d0] (GPT-2 Conv1D) and the view transposes it back.
// A missing tensor is an error unless optional (then *w is left without storage and 0 is returned).
// The view is checked against what the kernels can read (dtype, block alignment).
int lrp_bind(lrp_model *m, lrp_weight *w, int optional, int transposed, int64_t d0, int64_t d1, lrp_err *err,
             const char *name, ...) __attribute__((format(printf, 8, 9)));

// Binds a tensor stored with `ndim` dimensions `dims` (e.g. a convolution [out, C, p, p], a token
// [1, 1, d]) as the [out, in] matrix of its row-major layout.
int lrp_bind_as_matrix(lrp_model *m, lrp_weight *w, int ndim, const int64_t *dims, int64_t out, int64_t in,
                       lrp_err *err, const char *name, ...) __attribute__((format(printf, 8, 9)));

// Rows [offset, offset + n) of a bound view (a vector's elements), e.g. q, k, v out of a fused c_attn.
lrp_weight lrp_weight_rows(const lrp_weight *w, int64_t offset, int64_t n);

// Allocates the family's weight struct (zeroed) of `bytes` into m->weights.
void *lrp_bind_alloc(lrp_model *m, size_t bytes, lrp_err *err);

#endif

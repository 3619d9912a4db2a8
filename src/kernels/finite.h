// Counting the NaN and infinite values of a stored tensor, once, when a model binds it (models/model.c).
// F32, F16 and BF16 are read as integers, 64 bits at a time (an all-ones exponent field marks NaN or
// infinity), so the scan runs at memory bandwidth; block quantisations have their float scales checked
// (d, and m / dmin where the type has one): every value of a block is a multiple of its scales, and
// the integer quants cannot be anything but finite.
#ifndef LRP_FINITE_H
#define LRP_FINITE_H

#include <stdint.h>

#include "core/tensor.h"

// The non-finite values among the n elements at data (any alignment) stored as dtype: for the block
// quantisations, the non-finite scales of the n / block_elems blocks. *first (when not NULL) gets the
// index of the first such element (quantisations: the first element of its block), -1 when none.
// Integer and F64 dtypes: 0 (not weights).
int64_t lrp_count_nonfinite(lrp_dtype dtype, const void *data, int64_t n, int64_t *first);

#endif

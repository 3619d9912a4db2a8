// Test support for the readers that parse bytes in memory (lrp_gguf_open_memory,
// lrp_safetensors_open_memory): a file's bytes, and a comparison of two readings of one file.
#ifndef LRP_TEST_FILE_BYTES_H
#define LRP_TEST_FILE_BYTES_H

#include <stddef.h>

#include "formats/tensor_file.h"

// The file's bytes (malloc'ed; *n their count), or NULL.
unsigned char *test_file_bytes(const char *path, size_t *n);

// The number of ways reading b differs from reading a (0: the same tensors, names, dtypes, sizes, offsets
// from the first mapping and bytes; a reading without tensors counts as a difference).
int test_same_tensors(const lrp_tensor_file *a, const lrp_tensor_file *b);

#endif

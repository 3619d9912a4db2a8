// A GGUF writer for tests, written from the format description (ggml docs/gguf.md): it builds a whole
// file image in memory (versions 1 to 3, every metadata value type, nested arrays, tensors of every
// storage type the engine reads, any alignment) and has hooks for writing broken files. It also holds
// a round-to-nearest quantiser for each ggml block type, so tests can make quantised tensors.
#ifndef LRP_TEST_GGUF_WRITER_H
#define LRP_TEST_GGUF_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "formats/tensor_file.h"

// Metadata value type numbers (as in the file).
enum {
    GW_UINT8 = 0, GW_INT8 = 1, GW_UINT16 = 2, GW_INT16 = 3, GW_UINT32 = 4, GW_INT32 = 5, GW_FLOAT32 = 6,
    GW_BOOL = 7, GW_STRING = 8, GW_ARRAY = 9, GW_UINT64 = 10, GW_INT64 = 11, GW_FLOAT64 = 12,
};

typedef struct gguf_writer gguf_writer;

// A writer for a file of the given version (1, 2 or 3; other numbers are written as they are).
// Alignment 32 and no general.alignment key until gw_set_alignment. Returns NULL when out of memory.
gguf_writer *gw_new(uint32_t version);
void gw_free(gguf_writer *w);

// Places tensor data on multiples of a (the file's layout), and, if write_key, also writes the key
// general.alignment = a (uint32) at this point of the metadata.
void gw_set_alignment(gguf_writer *w, uint32_t a, int write_key);

// One whole key-value pair each.
void gw_kv_u8(gguf_writer *w, const char *key, uint8_t v);
void gw_kv_i8(gguf_writer *w, const char *key, int8_t v);
void gw_kv_u16(gguf_writer *w, const char *key, uint16_t v);
void gw_kv_i16(gguf_writer *w, const char *key, int16_t v);
void gw_kv_u32(gguf_writer *w, const char *key, uint32_t v);
void gw_kv_i32(gguf_writer *w, const char *key, int32_t v);
void gw_kv_f32(gguf_writer *w, const char *key, float v);
void gw_kv_bool(gguf_writer *w, const char *key, int v);
void gw_kv_str(gguf_writer *w, const char *key, const char *v);
void gw_kv_u64(gguf_writer *w, const char *key, uint64_t v);
void gw_kv_i64(gguf_writer *w, const char *key, int64_t v);
void gw_kv_f64(gguf_writer *w, const char *key, double v);
// An array of n numbers or bools of type elem; elems holds them in host (little-endian) layout with
// the element type's size (bool: one byte each).
void gw_kv_arr(gguf_writer *w, const char *key, uint32_t elem, const void *elems, uint64_t n);
void gw_kv_arr_str(gguf_writer *w, const char *key, const char *const *strs, uint64_t n);

// Low level, for nested arrays and lying values: gw_key writes a key and a value type and counts one
// pair; the gw_put_* calls append raw value bytes after it. Counts and string lengths take 4 bytes in
// version 1 and 8 otherwise.
void gw_key(gguf_writer *w, const char *key, uint32_t type);
void gw_put_u8(gguf_writer *w, uint8_t v);
void gw_put_u32(gguf_writer *w, uint32_t v);
void gw_put_u64(gguf_writer *w, uint64_t v);
void gw_put_count(gguf_writer *w, uint64_t v);
void gw_put_bytes(gguf_writer *w, const void *p, size_t n);
void gw_put_str(gguf_writer *w, const char *s);
void gw_put_arr_header(gguf_writer *w, uint32_t elem, uint64_t n);

// Tensors, in file order. ne[] is in GGUF order (ne[0] innermost, the row length). gw_tensor stores
// nbytes of data as given under any ggml type number; gw_tensor_f32 quantises x (the product of ne
// elements) to t. Both return the tensor's index, or -1 when out of memory or t cannot hold the row.
int gw_tensor(gguf_writer *w, const char *name, uint32_t ggml_type, uint32_t n_dims, const uint64_t *ne,
              const void *data, size_t nbytes);
int gw_tensor_f32(gguf_writer *w, const char *name, lrp_dtype t, uint32_t n_dims, const uint64_t *ne,
                  const float *x);

// Hooks for broken files: write this offset in tensor idx's info instead of the true one; write these
// counts in the header instead of the true ones (UINT64_MAX: keep the true count).
void gw_lie_offset(gguf_writer *w, int idx, uint64_t offset);
void gw_lie_counts(gguf_writer *w, uint64_t n_tensors, uint64_t n_kv);

// The file image (malloc'ed; *len set) or NULL when out of memory; and the same written to path
// (truncated to keep bytes when keep < the image's length). Return 0 on success.
unsigned char *gw_image(gguf_writer *w, size_t *len);
int gw_write(gguf_writer *w, const char *path);
int gw_write_truncated(gguf_writer *w, const char *path, size_t keep);
int gw_write_bytes(const char *path, const void *p, size_t n);

// The ggml type number of a storage type (F32 0, F16 1, Q4_0 2, ... BF16 30).
uint32_t gw_ggml_type(lrp_dtype t);

// Quantises n values (a whole number of blocks of t) into dst, which must hold lrp_dtype_row_bytes(t, n)
// bytes, by round-to-nearest with per-block scales; returns the bytes written (0 when n is not a whole
// number of blocks). The f16 scales are rounded up where needed so that no value is clamped: the error
// of each element is at most half the step of its (sub-)block plus the scale's rounding.
size_t gw_quantize(lrp_dtype t, const float *x, int64_t n, void *dst);

#endif

// Reader for GGUF files (ggml's single-file model format, versions 1 to 3; ggml docs/gguf.md).
// The file is memory-mapped read-only; tensors are handed out under Hugging Face names with
// PyTorch-order shapes and stay in their stored type (F32, F16, BF16 or a ggml block quantisation),
// and the metadata stays available through lrp_gguf_get and the typed accessors below.
#ifndef LRP_GGUF_H
#define LRP_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "formats/tensor_file.h"

// Metadata value types, numbered as in the file.
typedef enum lrp_gguf_type {
    LRP_GGUF_UINT8 = 0,
    LRP_GGUF_INT8 = 1,
    LRP_GGUF_UINT16 = 2,
    LRP_GGUF_INT16 = 3,
    LRP_GGUF_UINT32 = 4,
    LRP_GGUF_INT32 = 5,
    LRP_GGUF_FLOAT32 = 6,
    LRP_GGUF_BOOL = 7,
    LRP_GGUF_STRING = 8,
    LRP_GGUF_ARRAY = 9,
    LRP_GGUF_UINT64 = 10,
    LRP_GGUF_INT64 = 11,
    LRP_GGUF_FLOAT64 = 12,
} lrp_gguf_type;

// One metadata value. Read it through the accessors; the layout is shown for debugging.
typedef struct lrp_gguf_value lrp_gguf_value;
struct lrp_gguf_value {
    lrp_gguf_type type;
    union {
        uint64_t u;  // UINT8, UINT16, UINT32, UINT64; BOOL as 0 or 1
        int64_t i;   // INT8, INT16, INT32, INT64
        double f;    // FLOAT32, FLOAT64
        struct {
            const char *s;  // a NUL-terminated copy
            size_t len;     // the stored length (the string itself may hold NUL bytes)
        } str;
        struct {
            lrp_gguf_type elem;
            uint64_t n;
            const unsigned char *raw;     // numbers and bools: n little-endian elements in the mapping
            const lrp_gguf_value *items;  // strings and arrays: n parsed values
        } arr;
    } as;
};

// Opens a GGUF file. On success *tf holds every tensor, sorted by name, under its name in the file
// ("blk.0.attn_q.weight": the family files know these names). Shapes are reversed from GGUF's ne[]
// (innermost first) into PyTorch order, so a Linear weight is [out, in] and each of its rows is
// lrp_dtype_row_bytes(dtype, in) bytes of blocks. The metadata stays available through lrp_gguf_get.
// On failure *tf is left empty and err holds one line naming the file and the key or tensor at fault.
int lrp_gguf_open(lrp_tensor_file *tf, const char *path, lrp_err *err);
// The same for a GGUF image already in memory (size bytes at data, named label in messages), which must
// outlive *tf: nothing is mapped or copied (the fuzz harness's way in).
int lrp_gguf_open_memory(lrp_tensor_file *tf, const char *label, const void *data, size_t size, lrp_err *err);

// 1 when tf was opened by lrp_gguf_open.
int lrp_gguf_is_gguf(const lrp_tensor_file *tf);
uint32_t lrp_gguf_version(const lrp_tensor_file *tf);
size_t lrp_gguf_alignment(const lrp_tensor_file *tf);

// Metadata in file order (for listing), and lookup by key (NULL when absent or tf is not GGUF).
int lrp_gguf_n_kv(const lrp_tensor_file *tf);
const char *lrp_gguf_key_at(const lrp_tensor_file *tf, int i);
const lrp_gguf_value *lrp_gguf_value_at(const lrp_tensor_file *tf, int i);
const lrp_gguf_value *lrp_gguf_get(const lrp_tensor_file *tf, const char *key);

// "uint8", "int32", "float32", "bool", "string", "array", ...
const char *lrp_gguf_type_name(lrp_gguf_type t);

// Typed reads of one value; v may be NULL. Each returns -1 (NULL for strings) when the value is absent
// or of another kind. lrp_gguf_int accepts every integer type and bool (a uint64 above INT64_MAX
// fails); lrp_gguf_float accepts floats and integers; lrp_gguf_bool only bool.
const char *lrp_gguf_string(const lrp_gguf_value *v);
int lrp_gguf_int(const lrp_gguf_value *v, int64_t *out);
int lrp_gguf_float(const lrp_gguf_value *v, double *out);
int lrp_gguf_bool(const lrp_gguf_value *v, int *out);

// Arrays: length and element type (0 and -1 when v is not an array), then element i with the same
// conversions as above. lrp_gguf_array_string sets *len (if not NULL) to the stored length.
// lrp_gguf_array_item returns element i of an array of strings or of arrays, NULL otherwise.
uint64_t lrp_gguf_array_len(const lrp_gguf_value *v);
int lrp_gguf_array_type(const lrp_gguf_value *v);
const char *lrp_gguf_array_string(const lrp_gguf_value *v, uint64_t i, size_t *len);
int lrp_gguf_array_int(const lrp_gguf_value *v, uint64_t i, int64_t *out);
int lrp_gguf_array_float(const lrp_gguf_value *v, uint64_t i, double *out);
const lrp_gguf_value *lrp_gguf_array_item(const lrp_gguf_value *v, uint64_t i);

// Shortcuts by key.
const char *lrp_gguf_get_string(const lrp_tensor_file *tf, const char *key);
int lrp_gguf_get_int(const lrp_tensor_file *tf, const char *key, int64_t *out);
int lrp_gguf_get_float(const lrp_tensor_file *tf, const char *key, double *out);

#endif

// Test support: writes tiny random LLaMA-family checkpoints in exact Hugging Face layout
// (config.json + model.safetensors, or two shards + model.safetensors.index.json), and raw or
// deliberately broken safetensors files for the reader's error tests.
//
// Values are deterministic: each tensor draws from its own splitmix64 stream seeded by the options'
// seed and the tensor's name, so a tensor's values do not depend on the order, the sharding or the
// other tensors. Linear weights ~ N(0, 1/fan_in), embeddings and lm_head ~ N(0, 1/hidden) (logits
// O(1)), norm weights 1 + 0.1 N(0, 1), biases zero unless nonzero_biases (then 0.1 N(0, 1)).
#ifndef LRP_TEST_TINY_CKPT_H
#define LRP_TEST_TINY_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "models/config.h"
#include "formats/tensor_file.h"

typedef struct tiny_ckpt_opts {
    const char *model_type;       // "llama", "mistral", "qwen2" or "qwen3"
    int hidden, layers, heads, kv_heads;
    int head_dim;                 // 0: hidden / heads, and left out of config.json (qwen3 always writes it)
    int intermediate, vocab;
    int max_position_embeddings;
    int tie_word_embeddings;
    int tied_store_head;          // tied: store only lm_head.weight and record model.embed_tokens.weight
                                  // as its __metadata__ alias (as TinyStories-656K does)
    double rope_theta;
    lrp_rope_scaling rope_scaling;
    double rope_factor, rope_low_freq_factor, rope_high_freq_factor;
    int rope_original_max_position;
    double rms_norm_eps;
    int attention_bias;           // llama/mistral/qwen3: q,k,v,o biases (qwen2 always has q,k,v biases)
    int mlp_bias;                 // gate, up, down biases
    int nonzero_biases;           // biases are zero unless this is set
    lrp_dtype dtype;              // LRP_F32, LRP_F16 or LRP_BF16
    int sharded;                  // two shards and an index instead of one model.safetensors
    int transformers_v5;          // write "dtype" and "rope_parameters" instead of "torch_dtype",
                                  // "rope_theta" and "rope_scaling"
    uint64_t seed;
} tiny_ckpt_opts;

// A small llama: hidden 16, 2 layers, 4 heads, 2 kv heads, intermediate 32, vocab 40, F32, seed 1.
tiny_ckpt_opts tiny_ckpt_defaults(void);

typedef struct tiny_tensor {
    char name[96];
    lrp_dtype dtype;
    int ndim;
    int64_t shape[2];
    int64_t numel;
    float *values;                // the values a reader must see (already rounded to dtype)
    void *bytes;                  // the stored little-endian bytes
    size_t nbytes;
} tiny_tensor;

typedef struct tiny_ckpt {
    tiny_tensor *tensors;         // in the order of a PyTorch state_dict
    int n;
} tiny_ckpt;

// Generates the tensors the options describe, without writing anything. Returns 0 or -1.
int tiny_ckpt_generate(tiny_ckpt *ck, const tiny_ckpt_opts *o, lrp_err *err);
const tiny_tensor *tiny_ckpt_find(const tiny_ckpt *ck, const char *name);
void tiny_ckpt_free(tiny_ckpt *ck);

// Writes config.json and the weights into the existing directory dir. If out is not NULL it receives
// the generated tensors (free with tiny_ckpt_free). Returns 0 or -1.
int tiny_ckpt_write(const char *dir, const tiny_ckpt_opts *o, tiny_ckpt *out, lrp_err *err);
int tiny_write_config(const char *path, const tiny_ckpt_opts *o, lrp_err *err);

// Writes n tensors as one .safetensors file the way the reference writer does: header padded with
// spaces to a multiple of 8, tensors laid out in name order. metadata_json (may be NULL) is the
// inner text of "__metadata__", e.g. "\"format\":\"pt\"".
int tiny_write_safetensors(const char *path, const tiny_tensor *const *ts, int n, const char *metadata_json,
                           lrp_err *err);

// Writes exactly: header_len as 8 little-endian bytes, the header text (not padded), then data.
// header_len need not match strlen(header): that is how broken files are made.
int tiny_write_raw(const char *path, uint64_t header_len, const char *header, const void *data, size_t data_len,
                   lrp_err *err);
int tiny_write_text(const char *path, const char *text, lrp_err *err);

// Scalar IEEE conversions used by the writer (round to nearest even).
uint16_t tiny_f32_to_f16(float f);
float tiny_f16_to_f32(uint16_t h);
uint16_t tiny_f32_to_bf16(float f);
float tiny_bf16_to_f32(uint16_t h);

// A fresh directory under $TMPDIR (or /tmp), written into buf; returns buf or NULL.
char *tiny_mkdtemp(char *buf, size_t cap);
// Removes the plain files directly inside dir, then dir itself.
void tiny_rmtree(const char *dir);
// buf = dir + "/" + name; returns buf.
char *tiny_path(char *buf, size_t cap, const char *dir, const char *name);

#endif

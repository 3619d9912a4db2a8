// Helpers for the hyper-parameter readers of the family files: typed fields of a config.json object and
// of a GGUF file's metadata, each failing with one line naming the file and the field or key.
// Conventions: an optional field that is absent (or null) leaves *out at its default and returns 0; a
// required one that is absent fails. Every function returns 0 or -1.
#ifndef LRP_HPARAMS_H
#define LRP_HPARAMS_H

#include <jansson.h>
#include <stdint.h>

#include "formats/tensor_file.h"
#include "models/config.h"

typedef struct lrp_hp {
    const json_t *root;   // the config.json object
    const char *where;    // "config.json" (for messages)
    lrp_err *err;
} lrp_hp;

int lrp_hp_int(const lrp_hp *h, const char *field, int required, int *out);
int lrp_hp_number(const lrp_hp *h, const char *field, int required, double *out);
int lrp_hp_bool(const lrp_hp *h, const char *field, int *out);
int lrp_hp_string(const lrp_hp *h, const char *field, char *buf, size_t cap);
// 1 when the field is present and not null.
int lrp_hp_has(const lrp_hp *h, const char *field);
// The first field of `names` that is present is read (transformers renames fields between families:
// n_embd / hidden_size / dim); required: one of them must be there (the error names the first).
int lrp_hp_int_any(const lrp_hp *h, const char *const *names, int required, int *out);

// A norm epsilon (rms_norm_eps, layer_norm_eps, ...): optional, in [0, 1).
int lrp_hp_eps(const lrp_hp *h, const char *field, double *out);
// The attention shape of a decoder: num_key_value_heads (default: num_attention_heads, read already) and
// head_dim (explicit, as in Qwen3 and Mistral-Nemo, or hidden_size / num_attention_heads).
int lrp_hp_heads(const lrp_hp *h, lrp_config *cfg);
// torch_dtype (v4) or dtype (v5).
int lrp_hp_dtype(const lrp_hp *h, lrp_config *cfg);
// rope_theta, rope_scaling (v4) or rope_parameters (v5), partial_rotary_factor (sets rope.rot_dim from
// head_dim, which must be known); marks the config rotary.
int lrp_hp_rope(const lrp_hp *h, lrp_config *cfg);
// bos_token_id, eos_token_id (an id or a list), pad_token_id.
int lrp_hp_token_ids(const lrp_hp *h, lrp_config *cfg);
// architectures[0] into cfg->architecture and the task it implies (…ForSequenceClassification,
// …ForMaskedLM, else causal LM); then for classifiers num_labels / id2label into n_labels / labels.
int lrp_hp_task_and_labels(const lrp_hp *h, lrp_config *cfg);

// GGUF metadata, keys "<arch>.<suffix>".
typedef struct lrp_hp_gguf {
    const lrp_tensor_file *tf;
    const char *label;    // the file's name
    const char *arch;     // general.architecture
    lrp_err *err;
} lrp_hp_gguf;

// Reads "<arch>.<suffix>" within [lo, hi]; returns 1 when absent and not required (*out untouched).
int lrp_hp_gguf_int(const lrp_hp_gguf *h, const char *suffix, int required, int64_t lo, int64_t hi, int *out);
// A positive finite number; 1 when absent and not required.
int lrp_hp_gguf_float(const lrp_hp_gguf *h, const char *suffix, int required, double *out);
// A string; 1 when absent and not required. *out points into the file's metadata.
int lrp_hp_gguf_string(const lrp_hp_gguf *h, const char *suffix, int required, const char **out);
// The attention shape of a decoder: attention.head_count_kv (default: the head count, read already) and
// attention.key_length (default: embedding_length / head_count).
int lrp_hp_gguf_heads(const lrp_hp_gguf *h, lrp_config *cfg);
// rope.freq_base and the linear RoPE scaling keys (marks the config rotary; pairing is the caller's).
int lrp_hp_gguf_rope(const lrp_hp_gguf *h, lrp_config *cfg);
// bos/eos (eot, eom) token ids from tokenizer.ggml.*.
int lrp_hp_gguf_token_ids(const lrp_hp_gguf *h, lrp_config *cfg);
// The vocabulary size: rows of the named embedding tensor, else the tokenizer's token count.
int lrp_hp_gguf_vocab(const lrp_hp_gguf *h, const char *embed_name, lrp_config *cfg);

#endif

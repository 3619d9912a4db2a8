// Model hyper-parameters, read from a Hugging Face config.json (formats/config.c) or from GGUF
// metadata (formats/gguf.c). Family-specific meaning (which biases exist, q/k norms) is decided by the
// family file in models/, not here.
#ifndef LRP_CONFIG_H
#define LRP_CONFIG_H

#include "core/err.h"

typedef enum lrp_rope_scaling {
    LRP_ROPE_SCALING_NONE = 0,
    LRP_ROPE_SCALING_LINEAR,
    LRP_ROPE_SCALING_LLAMA3,
} lrp_rope_scaling;

typedef enum lrp_rope_pairing {
    LRP_ROPE_PAIR_HALVES = 0,   // Hugging Face rotate_half: dimension j pairs with j + d/2
    LRP_ROPE_PAIR_ADJACENT,     // Meta / llama.cpp GGUF: dimension 2j pairs with 2j + 1
} lrp_rope_pairing;

#define LRP_MAX_EOS 8

typedef struct lrp_config {
    char model_type[32];          // "llama", "mistral", "qwen2", "qwen3", ...
    char hidden_act[32];          // "silu", "gelu", "gelu_pytorch_tanh", ...
    char torch_dtype[16];         // "float32", "bfloat16", "float16" or "" (informational)
    int hidden_size;
    int num_layers;
    int num_heads;
    int num_kv_heads;             // equal to num_heads when absent
    int head_dim;                 // explicit, or hidden_size / num_heads
    int intermediate_size;
    int vocab_size;
    int max_position_embeddings;  // 0 when absent
    int sliding_window;           // mistral: a query sees only the last sliding_window keys; 0: no window
    double rms_norm_eps;
    double rope_theta;
    lrp_rope_scaling rope_scaling;
    double rope_factor;
    double rope_low_freq_factor;
    double rope_high_freq_factor;
    int rope_original_max_position;
    lrp_rope_pairing rope_pairing;
    int tie_word_embeddings;      // 1: no lm_head.weight is needed, the head is embed_tokens
    int attention_bias;           // config's attention_bias (llama/qwen3: q,k,v,o biases)
    int mlp_bias;
    int bos_token_id;             // -1 when absent
    int eos_token_ids[LRP_MAX_EOS];
    int n_eos;
} lrp_config;

// Parses a config.json and checks it with lrp_config_validate. Every error names the file and the
// field, e.g.
// "config.json: field \"num_attention_heads\" missing".
int lrp_config_load(lrp_config *cfg, const char *path, lrp_err *err);

// Checks internal consistency (positive sizes, heads divide hidden size, kv heads divide heads, ...).
int lrp_config_validate(const lrp_config *cfg, const char *where, lrp_err *err);

#endif

// Model hyper-parameters. Every family reads its own: its file in models/ turns a config.json object or
// a GGUF file's metadata into this one struct (helpers in models/hparams.h); which fields a family uses,
// and which biases or norms exist, is decided there. lrp_config_load dispatches on "model_type".
#ifndef LRP_CONFIG_H
#define LRP_CONFIG_H

#include "core/err.h"
#include "ops/ops.h"

#define LRP_MAX_EOS 8
#define LRP_MAX_TYPED_LAYERS 1024  // layers whose attention type (sliding or global) a config can set

// What the model's output is.
typedef enum lrp_task {
    LRP_TASK_CAUSAL_LM = 0,       // next-token logits at any position
    LRP_TASK_MASKED_LM,           // vocabulary logits at a (masked) position, bidirectional encoder
    LRP_TASK_CLASSIFIER,          // class logits for the whole input
    LRP_TASK_SEQ2SEQ_LM,          // encoder-decoder (T5): next-token logits of the decoder, given the source
} lrp_task;

const char *lrp_task_name(lrp_task t);

typedef struct lrp_config {
    char model_type[32];          // "llama", "gpt2", "bert", ... (the config's model_type or the GGUF architecture)
    char architecture[64];        // the config's architectures[0] ("" when absent)
    lrp_task task;
    char hidden_act[32];          // "silu", "gelu", "gelu_new", ...
    char torch_dtype[16];         // "float32", "bfloat16", "float16" or "" (informational)
    int hidden_size;
    int num_layers;
    int num_heads;
    int num_kv_heads;             // equal to num_heads when absent
    int head_dim;                 // explicit, or hidden_size / num_heads
    int intermediate_size;
    int vocab_size;
    int max_position_embeddings;  // 0 when absent (learned position tables: their size)
    int sliding_window;           // mistral: a query sees only the last sliding_window keys; 0: no window
    double norm_eps;              // rms_norm_eps or layer_norm_eps
    int rotary;                   // the family uses rotary position embeddings (rope below)
    lrp_rope_params rope;
    int tie_word_embeddings;      // 1: the output head is the word embedding table
    int attention_bias;           // llama/qwen3: q,k,v,o biases
    int mlp_bias;
    int num_experts;              // mixture of experts (mixtral, qwen3_moe): experts per layer; 0: dense MLP
    int num_experts_per_tok;      // MoE: experts each token is routed to (top-k)
    int norm_topk_prob;           // MoE: 1: the k routing weights are divided by their sum
    int shared_expert_intermediate_size;  // qwen2_moe: width of the shared expert every token runs (scaled
                                          // by sigmoid(shared_expert_gate h)); 0: no shared expert
    int qk_layernorm;             // phi: LayerNorm (with bias) per head on q and k before the rotation
    int type_vocab_size;          // token types (BERT); 0 when the model has none
    int position_offset;          // learned positions of token t are at row t + offset (RoBERTa: padding_idx + 1)
    int pad_token_id;             // -1 when absent
    int bos_token_id;             // -1 when absent
    int eos_token_ids[LRP_MAX_EOS];
    int n_eos;
    int image_size, patch_size;   // image models (ViT): input height = width, patch edge; 0 for text
    int num_channels;
    int n_labels;                 // classifiers: number of classes
    char **labels;                // [n_labels] names from id2label (owned; "LABEL_i" when absent)
    // Gemma 2/3 (models/gemma.c)
    double query_pre_attn_scalar; // attention scale is query_pre_attn_scalar^-½
    double attn_softcap;          // attn_logit_softcapping: scores = c·tanh(scores/c); 0: none
    double final_softcap;         // final_logit_softcapping on the logits; 0: none
    float norm_offset;            // RMSNorm scale is (norm_offset + w): 1 for HF Gemma, 0 for GGUF (stores 1 + w)
    lrp_rope_params rope_local;   // RoPE of the sliding-window layers (Gemma 3: rope_local_base_freq)
    unsigned char layer_sliding[LRP_MAX_TYPED_LAYERS];  // 1: layer l attends within sliding_window
    // Encoder-decoders (T5, models/t5.c). num_layers counts both stacks: layers 0 .. num_encoder_layers-1
    // are the encoder's blocks, the rest the decoder's (block_out, mlp_act, --latent-layer, --set use
    // this one numbering). 0 for every model without an encoder stack.
    int num_encoder_layers;
    int decoder_start_token_id;   // the decoder's first input token (seq2seq models)
    int relative_attention_num_buckets;   // T5 relative position buckets and their largest distance
    int relative_attention_max_distance;
    int gated_mlp;                // T5: feed_forward_proj "gated-<act>": act(wi_0 x) ⊙ wi_1 x
} lrp_config;

// Reads a Hugging Face config.json: "model_type" first (an unsupported one is the first error, before
// any missing field), then the family's own reader, then lrp_config_validate. Every error names the
// file and the field, e.g. "config.json: field \"num_attention_heads\" missing".
int lrp_config_load(lrp_config *cfg, const char *path, lrp_err *err);

// Reads the configuration from an open GGUF file's metadata: general.architecture picks the family
// (an unsupported one is the error), whose reader reads its keys. path names the file in messages.
struct lrp_tensor_file;
int lrp_gguf_config_read(const struct lrp_tensor_file *tf, const char *path, lrp_config *cfg, lrp_err *err);

// Checks internal consistency (positive sizes, heads divide hidden size, kv heads divide heads, ...).
int lrp_config_validate(const lrp_config *cfg, const char *where, lrp_err *err);

// Frees the labels; the struct is zeroed.
void lrp_config_free(lrp_config *cfg);

// The class index of a label name, or -1.
int lrp_config_label_index(const lrp_config *cfg, const char *name);

#endif

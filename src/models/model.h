// A loaded model: its config, its memory-mapped weights, and the family that knows its forward pass.
//
// The forward contract. A family's forward records one pass into a graph from named inputs (token ids,
// token types, positions, a padding mask, per-token embedding scale and noise; pixels and encoder ids
// for the families that take them) and fills named taps: the leaf activation of every input kind (where
// input relevance is read), each block's output, each MLP intermediate (the latent neurons), optionally
// the attention probabilities, and the output logits. Callers mark the taps whose gradients they read
// (keep_grad) before the backward. A family file (models/<family>.c) only binds weight names and wires
// ops; it never writes a backward.
#ifndef LRP_MODEL_H
#define LRP_MODEL_H

#include "core/graph.h"
#include "formats/tensor_file.h"
#include "models/config.h"
#include "ops/ops.h"

typedef struct lrp_model lrp_model;

// Keys and values of earlier positions, per layer, for incremental decoding. The forward appends the
// new positions' keys/values and attends over all of them; ids are then the new tokens only.
typedef struct lrp_kv_cache {
    int n_layers;
    int capacity;                    // positions
    int len;                         // positions filled
    int kv_dim;                      // n_kv_heads * head_dim
    float *k, *v;                    // [n_layers][capacity][kv_dim]
    // Encoder-decoders: the cross-attention keys and values of the encoder's output, computed by the
    // first forward (which runs the encoder; later ones run the decoder alone). The family allocates them.
    int cross_len;                   // source positions; 0 before the first forward
    float *cross_k, *cross_v;        // [n_layers][cross_len][kv_dim] (decoder layers filled)
} lrp_kv_cache;

int lrp_kv_cache_init(lrp_kv_cache *c, const lrp_model *m, int capacity, lrp_err *err);
void lrp_kv_cache_free(lrp_kv_cache *c);

// The input kinds whose relevance is reported separately (SPEC §3).
typedef enum lrp_input_kind {
    LRP_INPUT_WORDS = 0,             // word embeddings (after any embedding scaling)
    LRP_INPUT_POSITIONS,             // learned absolute position embeddings (GPT-2, BERT)
    LRP_INPUT_TOKEN_TYPES,           // token-type (segment) embeddings (BERT, RoBERTa)
    LRP_INPUT_CLS,                   // a learned CLS token (ViT)
    LRP_INPUT_PIXELS,                // image pixels (ViT)
    LRP_INPUT_DECODER_WORDS,         // encoder-decoders: the decoder's word embeddings
    LRP_INPUT_COUNT
} lrp_input_kind;

const char *lrp_input_kind_name(lrp_input_kind k);

typedef struct lrp_inputs {
    const int *ids;                  // [T] token ids, checked against the vocabulary by the caller
    int T;
    const int *token_types;          // [T] or NULL (all 0)
    const int *positions;            // [T] or NULL: position t is t (after a cache: cache->len + t)
    const unsigned char *attention_mask;  // [T]: 0 marks padding (never attended); NULL: no padding
    const float *embed_scale;        // [T] or NULL: factor on each token's word embedding (0 removes it);
                                     // image models: [patches] on each patch's pixels (0: the normalised mean)
    const float *embed_noise;        // [T * hidden] or NULL: added to the word embeddings; image models:
                                     // [channels * height * width] added to the pixels
    const float *pixels;             // image models: [channels, height, width] as the model takes it; ids NULL
    int channels, height, width;
    // Encoder-decoders: ids/T (and attention_mask, embed_scale, embed_noise) are the encoder's input;
    // the decoder reads decoder_ids [decoder_T], decoder_start_token_id first (explain fills that one
    // token in when decoder_ids is NULL). NULL for every other model.
    const int *decoder_ids;
    int decoder_T;
    const float *decoder_embed_scale;  // [decoder_T] or NULL: embed_scale for the decoder's tokens
    const float *decoder_embed_noise;  // [decoder_T * hidden] or NULL: embed_noise for the decoder's tokens
} lrp_inputs;

typedef struct lrp_taps {
    lrp_act *input[LRP_INPUT_COUNT]; // leaf activation per input kind; NULL where the family has none
                                     // (pixels: [channels, height·width])
    lrp_act **block_out;             // [n_layers] the residual stream after each block (encoder-decoders:
                                     // the encoder's blocks [T rows], then the decoder's [decoder_T rows])
    lrp_act **mlp_act;               // [n_layers] MLP intermediate: the input of the down projection
    lrp_act **attn_probs;            // [n_layers] attention probabilities [H·T, T] (only with want_attn_probs)
    lrp_act **attn_out;              // [n_layers] self-attention output before the output projection [T, H·hd]
                                     // (head h: columns h·hd .. h·hd+hd-1), after head interventions; NULL
                                     // where the family has none (T5)
    lrp_act *logits;                 // LMs: [n_head_rows, vocab]; classifiers: [1, n_labels]; encoder-
                                     // decoders: head_rows are decoder positions
    lrp_act **moe_weights;           // MoE: [n_layers] routing weights [T, k] (after top-k/renormalisation)
    const int **moe_experts;         // MoE: [n_layers] the expert of each routing weight [T·k]
    lrp_act **moe_shared_gate;       // Qwen2-MoE: [n_layers] the shared expert's gate σ(shared_expert_gate h) [T, 1]
} lrp_taps;

typedef struct lrp_forward {
    lrp_inputs in;
    const int *head_rows;            // LMs: positions whose logits are computed; NULL: every position
    int n_head_rows;
    const lrp_intervention *iv;      // neuron interventions applied to the MLP intermediate
    int n_iv;
    const lrp_intervention *head_iv; // head interventions (neuron = the head; LRP_SET_VALUE 0 or LRP_SET_SCALE)
    int n_head_iv;                   // on every column of the head's slice of taps.attn_out
    // Activation patching (explain/circuit.h), passes without a cache only: NULL, or per intervention of iv
    // (head_iv) NULL or the values an LRP_SET_VALUE intervention sets row by row instead of its value:
    // iv_rows[k][t]; head_iv_rows[k][d·T + t] for dimension d of the head's slice and row t.
    const float *const *iv_rows;
    const float *const *head_iv_rows;
    lrp_kv_cache *cache;             // NULL, or a cache holding earlier positions (generation, no backward)
    int want_attn_probs;
    int latent_expert;               // MoE: the expert whose intermediate taps.mlp_act holds (rows of tokens
                                     // not routed to it are zero and receive no gradient)
    int no_latent;                   // MoE: nothing reads taps.mlp_act (no latent start or readout): a
                                     // family whose MLP intermediate costs extra work to tap may leave it
                                     // NULL, except in layers that interventions (iv) touch
    int checkpoint;                  // 1: families that support it (llama) recompute each block in the
                                     // backward (op_checkpoint) instead of keeping its activations; their
                                     // in-block taps (mlp_act, attn_out, attn_probs) stay NULL. Ignored
                                     // with a cache or want_attn_probs
    lrp_taps taps;                   // filled by lrp_model_forward
} lrp_forward;

typedef struct lrp_family lrp_family;

struct lrp_model {
    char path[1024];
    char format[16];                 // "safetensors" or "gguf"
    lrp_config cfg;
    lrp_tensor_file tf;
    const lrp_family *family;
    void *weights;                   // the family's bound weights
    long long n_params;              // parameters in the tensors the family uses
    // Non-finite weights, counted once per bound tensor as the family binds it (kernels/finite.h):
    // NaN/inf values of F32/F16/BF16 tensors, non-finite block scales of quantised ones. Zero when
    // ATTNLRP_NONFINITE=skip (no scan).
    int nonfinite_mode;              // LRP_NONFINITE_REFUSE (default), _WARN or _SKIP
    long long nonfinite_count;       // over every bound tensor
    int nonfinite_tensors;           // bound tensors holding any
    const lrp_tensor *nonfinite_first;  // the first of them in bind order (NULL: none)
    long long nonfinite_first_count; // its non-finite values
    int64_t nonfinite_first_index;   // its first non-finite element (quantised: the block's first element)
    unsigned char *scanned;          // [tf.n_tensors]: 1 once a tensor is scanned (tied embeddings bind twice)
};

// What lrp_model_open does with non-finite weights, from the environment variable ATTNLRP_NONFINITE:
// "refuse" (the default: the open fails naming the first tensor and the count), "warn" (the model opens;
// callers report m->nonfinite_* : the CLI warns on stderr and writes "nonfinite_weight" in JSON), "skip"
// (no scan: the cost of reading every weight once at load is avoided).
enum { LRP_NONFINITE_REFUSE = 0, LRP_NONFINITE_WARN, LRP_NONFINITE_SKIP };

// Opens a Hugging Face checkpoint directory or a GGUF file.
int lrp_model_open(lrp_model **out, const char *path, lrp_err *err);
void lrp_model_close(lrp_model *m);

// Records the forward pass into g (allocating the tap arrays in g's arena). Returns 0, or -1 with the
// reason in g->err.
int lrp_model_forward(const lrp_model *m, lrp_graph *g, lrp_forward *f);

// Checks every intervention's layer and neuron against the model ("intervention 9:0: layer 9 out of
// range (0..4)").
int lrp_check_interventions(const lrp_model *m, const lrp_intervention *iv, int n_iv, lrp_err *err);

// Checks every head intervention (neuron = head) against the model: layer and head in range, a value of
// 0 or a scale ("head intervention 9:0: layer 9 out of range (0..4)").
int lrp_check_head_interventions(const lrp_model *m, const lrp_intervention *iv, int n_iv, lrp_err *err);

// The first weight holding NaN or infinity: its tensor (NULL when every one is finite) and the element's
// index. The load's scan result (m->nonfinite_first) when there was one; after ATTNLRP_NONFINITE=skip,
// reads every float tensor (in name order) and quantised block scale: called when an output is not finite.
const lrp_tensor *lrp_model_find_nonfinite(const lrp_model *m, int64_t *index);

// Scratch floats a graph needs for this model's matmuls.
size_t lrp_model_scratch_floats(const lrp_model *m);

// Number of outputs: the vocabulary for LMs, the classes for classifiers.
int lrp_model_n_outputs(const lrp_model *m);

// The weights an MLP neuron's output is read out through (`attnlrp neuron`): the neuron's output weight
// column (column n of `down`) times each present elementwise factor (norm[i] + norm_offset[i]), then
// the unembedding, times `scale`:
//   score[v] = scale · Σ_d unembed[v, d] · Π_i (norm_offset[i] + norm[i][d]) · down[d, n]
// Only the weights: the normalisations' division by the RMS/standard deviation, LayerNorm biases, the
// output head's bias and Gemma's final soft-capping are left out (the direction the neuron writes into
// the residual stream, seen by the head as the final norm scales it).
typedef struct lrp_neuron_readout {
    lrp_weight down;                 // [hidden, n_neurons]: the down projection (fc2, c_proj, wo, expert w2)
    lrp_weight norm[2];              // vectors [hidden]; no tensor: no factor
    float norm_offset[2];            // added to norm[i] (Gemma HF: 1)
    lrp_weight unembed;              // [n_outputs, hidden]: lm_head, the tied embedding, or a classifier
    float scale;                     // on the scores (T5 with a tied head: hidden^-1/2); 1 otherwise
} lrp_neuron_readout;

// Projects neuron `neuron` of layer `layer` (MoE: of expert `expert`; -1 for dense MLPs) onto the
// outputs: scores[lrp_model_n_outputs(m)]. Fails naming the parameter ("layer 9 out of range (0..1)")
// or, for families without a meaningful projection, saying why.
int lrp_neuron_projection(const lrp_model *m, int layer, int neuron, int expert, float *scores, lrp_err *err);

#endif

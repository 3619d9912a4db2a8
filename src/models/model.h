// A loaded model: its config, its memory-mapped weights, and the family that knows its forward pass.
// A family file (models/<family>.c) only binds weight names and wires ops; it never writes a backward.
#ifndef LRP_MODEL_H
#define LRP_MODEL_H

#include "core/graph.h"
#include "formats/config.h"
#include "formats/tensor_file.h"
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
} lrp_kv_cache;

int lrp_kv_cache_init(lrp_kv_cache *c, const lrp_model *m, int capacity, lrp_err *err);
void lrp_kv_cache_free(lrp_kv_cache *c);

// What one forward pass takes and what it exposes for the readouts.
typedef struct lrp_forward_io {
    const int *ids;                  // [T] token ids, already checked against the vocabulary
    int T;
    const int *head_rows;            // positions whose logits are computed; NULL: every position
    int n_head_rows;
    const lrp_intervention *iv;      // neuron interventions applied to the MLP intermediate
    int n_iv;
    const unsigned char *drop;       // [T] or NULL: 1 zeroes that token's word embedding (perturbation)
    lrp_kv_cache *cache;             // NULL, or a cache holding earlier positions (generation, no backward)
    // Filled by the forward: activations inside the graph.
    lrp_act *embeddings;             // word embeddings [T, d] (after any embedding scaling)
    lrp_act **block_out;             // [n_layers] residual stream after each block [T, d]
    lrp_act **mlp_act;               // [n_layers] MLP intermediate, the input of the down projection
    lrp_act *logits;                 // [n_head_rows, vocab]
} lrp_forward_io;

typedef struct lrp_family {
    const char *model_type;
    // Looks up and shape-checks every weight the forward needs; stores them in m->weights.
    int (*bind)(lrp_model *m, lrp_err *err);
    // Records the forward pass into g. io->block_out and io->mlp_act are arrays of n_layers provided
    // by the caller. Returns 0, or -1 with the reason in g->err.
    int (*forward)(const lrp_model *m, lrp_graph *g, lrp_forward_io *io);
} lrp_family;

struct lrp_model {
    char path[1024];
    char format[16];                 // "safetensors" or "gguf"
    lrp_config cfg;
    lrp_tensor_file tf;
    const lrp_family *family;
    void *weights;                   // the family's bound weights
    long long n_params;              // parameters in the tensors the family uses
};

// Opens a Hugging Face checkpoint directory or a GGUF file.
int lrp_model_open(lrp_model **out, const char *path, lrp_err *err);
void lrp_model_close(lrp_model *m);

// Used by family bind functions: the tensor `name`, which must exist (unless optional) with exactly the
// given shape (ndim 1 or 2; d1 ignored for ndim 1) and a row size the kernels can widen.
const lrp_tensor *lrp_model_weight(lrp_model *m, const char *name, int optional, int ndim, int64_t d0, int64_t d1,
                                   lrp_err *err);

// Checks every intervention's layer and neuron against the model ("--set 9:0: layer 9 out of range (0..4)").
int lrp_check_interventions(const lrp_model *m, const lrp_intervention *iv, int n_iv, lrp_err *err);

// Scratch floats a graph needs for this model's matmuls.
size_t lrp_model_scratch_floats(const lrp_model *m);

#endif

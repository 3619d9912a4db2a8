// Text generation with a KV cache (no recording), greedy or sampled, with neuron interventions.
#ifndef LRP_GENERATE_H
#define LRP_GENERATE_H

#include <stdint.h>

#include "models/model.h"

typedef struct lrp_sampler {
    float temperature;   // 0: greedy (argmax)
    int top_k;           // 0: no limit
    float top_p;         // 1: no nucleus cut
    uint64_t seed;
} lrp_sampler;

// Called after each generated token; return non-zero to stop.
typedef int (*lrp_token_cb)(int id, void *ctx);

// Generates up to max_new tokens after prompt[n_prompt] (encoder-decoders: prompt is the source, and the
// tokens are what the decoder writes after its start token). Stops early at an EOS id of the config when
// stop_at_eos is set. *out receives the generated ids (malloc'ed), *n_out their count.
int lrp_generate(const lrp_model *m, const int *prompt, int n_prompt, int max_new, const lrp_sampler *s,
                 const lrp_intervention *iv, int n_iv, int stop_at_eos, lrp_token_cb cb, void *cb_ctx, int **out,
                 int *n_out, lrp_err *err);

// lrp_generate with attention-head interventions too (head_iv: neuron = the head; model.h).
int lrp_generate_heads(const lrp_model *m, const int *prompt, int n_prompt, int max_new, const lrp_sampler *s,
                       const lrp_intervention *iv, int n_iv, const lrp_intervention *head_iv, int n_head_iv,
                       int stop_at_eos, lrp_token_cb cb, void *cb_ctx, int **out, int *n_out, lrp_err *err);

// Picks the next token from logits[vocab] (modified in place); rng is the sampler's state.
int lrp_sample(float *logits, int vocab, const lrp_sampler *s, uint64_t *rng);

#endif

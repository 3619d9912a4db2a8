// Explaining one prediction: forward (recorded), seed the start scalar, backward with the method's
// rules, and the readouts of SPEC §3 (R(t) = t ⊙ ĝ(t) summed over the hidden dimension).
#ifndef LRP_EXPLAIN_H
#define LRP_EXPLAIN_H

#include "models/model.h"

typedef struct lrp_explain_opts {
    lrp_method method;
    int target;                  // token/class id to explain; -1: the argmax at `position`
    int position;                // explained output position; -1: the last
    int contrast;                // foil id for logit(target) − logit(foil); -1: none
    int latent_start[3];         // layer, position, neuron of an MLP intermediate start; layer -1: none
    int latent_layer;            // report relevance of every MLP neuron of this layer; -1: none
    int layers;                  // report residual-stream relevance after each block
    int neurons;                 // report every MLP neuron of every layer (relevance and activation)
    const lrp_intervention *iv;  // neuron interventions during the forward pass
    int n_iv;
} lrp_explain_opts;

void lrp_explain_opts_default(lrp_explain_opts *o);

typedef struct lrp_top {
    int id;
    float logit;
    float prob;
} lrp_top;

#define LRP_TOP_K 5

typedef struct lrp_explanation {
    lrp_method method;
    int T;
    int *ids;                    // [T]
    int position;
    int target;
    float target_logit;
    int contrast;                // -1 when none
    float contrast_logit;
    int latent_start[3];         // layer -1 when the start is a logit
    double start_value;
    float *relevance;            // [T]
    double relevance_sum;
    int vocab;
    float *logits;               // [vocab] at `position`
    lrp_top top[LRP_TOP_K];
    int n_top;
    int n_layers;
    float *residual_relevance;   // [n_layers * T] or NULL
    int latent_layer;            // -1 when not requested
    int n_latent;
    float *latent_relevance;     // [n_latent] or NULL
    int neuron_width;            // with opts.neurons: MLP width; arrays are [n_layers * neuron_width]
    float *neuron_relevance;     // Σ over positions of z ⊙ ĝ per neuron
    float *neuron_activation;    // the neuron's value at `position`
    double seconds_forward;
    double seconds_backward;
    size_t activation_bytes;     // arena bytes of the recorded forward
} lrp_explanation;

// Explains one prediction. Every argument is checked first (ids against the vocabulary, positions,
// neurons, layers), with an error naming the option at fault.
int lrp_explain(const lrp_model *m, const int *ids, int T, const lrp_explain_opts *o, lrp_explanation *out,
                lrp_err *err);
void lrp_explanation_free(lrp_explanation *e);

// One forward pass without recording anything: the logits [vocab] at `position` (-1: last).
// drop [T] (or NULL) zeroes the word embeddings of the marked tokens; iv are neuron interventions.
int lrp_forward_logits(const lrp_model *m, const int *ids, int T, int position, const unsigned char *drop,
                       const lrp_intervention *iv, int n_iv, float *logits, lrp_err *err);

// Checks ids against the model's vocabulary ("--ids: id 700 at index 3 is out of range (vocabulary 512)").
int lrp_check_ids(const lrp_model *m, const int *ids, int T, lrp_err *err);

#endif

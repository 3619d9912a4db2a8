// Explaining one prediction: forward (recorded), seed the start scalar, backward with the method's
// rules, and the readouts of SPEC §3 (R(t) = t ⊙ ĝ(t) summed over the hidden dimension), one relevance
// array per input kind.
#ifndef LRP_EXPLAIN_H
#define LRP_EXPLAIN_H

#include "models/model.h"

// What is explained at an output row (SPEC §3; inseq's step functions): the target's pre-softmax logit
// (default), its log-probability logit − logsumexp(logits), or its probability. The backward starts from
// the logits seeded with ∂score/∂logit_v (logprob: δ_vy − p_v; prob: p_y(δ_vy − p_v)), so relevance is
// linear in the score and a contrast subtracts the foil's score.
typedef enum lrp_score { LRP_SCORE_LOGIT = 0, LRP_SCORE_LOGPROB, LRP_SCORE_PROB, LRP_SCORE_COUNT } lrp_score;
const char *lrp_score_name(int score);       // "logit", "logprob", "prob"
int lrp_score_lookup(const char *name);      // -1 when unknown
// The names of the softmax ablations (lrp_softmax_rule) and of ig's quadratures (0 midpoint, 1 Gauss-Legendre),
// in one place for the command line, the public API and the JSON; "?" / -1 when out of range / unknown.
const char *lrp_softmax_rule_name(int rule);  // "exact", "identity", "distribute-bias"
int lrp_softmax_rule_lookup(const char *name);
const char *lrp_quadrature_name(int quadrature);  // "midpoint", "gauss-legendre"
int lrp_quadrature_lookup(const char *name);

typedef struct lrp_explain_opts {
    lrp_method method;
    int target;                  // token/class id to explain; -1: the argmax (at `position`)
    int position;                // LMs: explained output position; -1: the last real token (causal LMs).
                                 // A masked LM needs it; a classifier takes none.
    int contrast;                // foil id for logit(target) − logit(foil); -1: none
    int latent_start[3];         // layer, position, neuron of an MLP intermediate start; layer -1: none
    int latent_layer;            // report relevance of every MLP neuron of this layer; -1: none
    int latent_per_position;     // with latent_layer: also [position][neuron] (latent_position_relevance)
    int latent_expert;           // MoE: the expert whose intermediate is the latent neuron space of
                                 // latent_start / latent_layer / neurons / iv (SPEC §3); -1: none (expert 0)
    int layers;                  // report residual-stream relevance after each block
    int neurons;                 // report every MLP neuron of every layer (relevance and activation)
    const lrp_intervention *iv;  // neuron interventions during the forward pass
    int n_iv;
    const lrp_intervention *head_iv;  // attention-head interventions (neuron = the head; model.h: head_iv)
    int n_head_iv;
    int heads;                   // report the relevance of every attention head's output (head_relevance)
    double gamma_conv, gamma_lin; // ViTs: LRP-γ on the patch convolution / the MLP linears and classifier
                                 // (SPEC §5; LXT uses 0.25, 0.05); 0: off. Only with attnlrp and cplrp.
    // The baseline methods of explain/baselines.h (method ids from methods.h; 0 / negative: the default).
    int steps;                   // ig: quadrature nodes (default 32)
    int samples;                 // smoothgrad: noisy copies (default 16); kernelshap: coalitions (default 512)
    double noise;                // smoothgrad: σ relative to the range of the input's word embeddings (default
                                 // 0.1; 0 allowed); negative: the default
    unsigned long long seed;     // smoothgrad, kernelshap
    int quadrature;              // ig: 0 Riemann midpoint (default), 1 Gauss-Legendre
    double atman_factor;         // atman: suppression f, scores × (1 − f) (default 0.9); negative: the default
    double atman_threshold;      // atman: cosine-similarity threshold κ of the correlated tokens (default 0.7)
    int softmax_rule;            // attnlrp: the softmax ablation (lrp_softmax_rule, SPEC §2); 0: exact
    int score;                   // lrp_score of the target (and contrast); 0: the logit
    // Answer-level target (forced decoding): the input (encoder-decoders: the decoder input) ends with the
    // answer's tokens but its last, answer[0..n_answer-2]; the start scalar is Σ_j score(answer[j]) read at
    // the row before each answer token (rows L-n_answer .. L-1 of the L output positions), in one backward.
    // position, target, contrast and latent_start must stay unset.
    const int *answer;
    int n_answer;                // 0: no answer
    // Called after each node's backward (the graph's on_node, core/graph.h), before its output's gradient
    // is recycled: weight relevance (explain/weights.h) reads each linear's ĝ(y) and x there. NULL: none.
    // Only the LRP methods and gradxinput/gradient run one backward per explanation that it sees.
    lrp_node_hook on_node;
    void *on_node_ctx;
    size_t max_memory;           // bytes an explanation may use (explain/memory.h); 0: MemAvailable / RLIMIT_AS
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
    lrp_task task;
    int T;                       // sequence length (tokens; an image's patches + CLS)
    int *ids;                    // [T], NULL for images
    int *token_types;            // [T] or NULL
    unsigned char *attention_mask;  // [T] or NULL
    int position;                // LMs: the explained position; classifiers: -1
    int target;
    float target_logit;
    int contrast;                // -1 when none
    float contrast_logit;
    int score;                   // lrp_score as run
    double target_score, contrast_score;  // the score of the target / contrast (answers: of the first token)
    double seed_value;           // Σ over the seeded logits of ∂start/∂logit · logit: what a conserving rule
                                 // distributes over the inputs (equals start_value for logit scores)
    int n_answer;                // answer-level target: answer tokens (0: none); then position and target are
                                 // those of the first answer token, and logits / top are read at its row
    int *answer_ids;             // [n_answer]
    int *answer_positions;       // [n_answer] the output row that predicts each answer token
    float *answer_logits;        // [n_answer]
    double *answer_scores;       // [n_answer] each token's score; start_value is their sum
    int latent_start[3];         // layer -1 when the start is a logit
    double start_value;
    int n_relevance;             // T for text, the number of patches for images
    float *relevance;            // [n_relevance] at the word embeddings (SPEC §3); images: per patch, row-major
    float *relevance_pixels;     // images: [height * width], Σ over channels of x ⊙ ĝ at the pixels
    int channels, height, width, patch_size;  // images
    double gamma_conv, gamma_lin; // as run
    float *relevance_positions;  // [T] at the learned position embeddings (images: CLS slot first), or NULL
    float *relevance_token_types;  // [T] at the token-type embeddings, or NULL
    int has_cls;                 // encoders: relevance_cls is the total relevance of position 0 ([CLS], <s>);
                                 // ViTs: the relevance of the learned CLS token
    double relevance_cls;
    double relevance_sum;        // over every input kind
    int n_out;                   // vocabulary (LMs) or classes (classifiers)
    float *logits;               // [n_out] at `position` / for the input
    lrp_top top[LRP_TOP_K];
    int n_top;
    int n_layers;
    float *residual_relevance;   // [n_layers * T] or NULL
    int latent_layer;            // -1 when not requested
    int n_latent;
    float *latent_relevance;     // [n_latent] or NULL
    int n_heads;                 // with opts.heads: heads per layer
    float *head_relevance;       // with opts.heads: [n_layers * n_heads], Σ over positions and the head's
                                 // slice of the self-attention output (the o-projection's input) of x ⊙ ĝ
    int n_latent_positions;      // rows of latent_position_relevance (the rows of the MLP intermediate)
    float *latent_position_relevance;  // with latent_per_position: [n_latent_positions * n_latent], x ⊙ ĝ
                                 // per position; each column sums to latent_relevance; else NULL
    int latent_expert;           // MoE: as requested; -1 when none
    int n_experts;               // MoE: experts per layer; 0 for dense models
    float *expert_relevance;     // MoE: [n_layers * n_experts], Σ over tokens of R at the routing weights
    float *shared_expert_relevance;  // Qwen2-MoE: [n_layers], Σ over tokens of R at the shared expert's gate
                                     // σ(shared_expert_gate h) (0 for cplrp, which detaches it); else NULL
                                 // of each expert (w ⊙ ĝ(w)), or NULL
    int neuron_width;            // with opts.neurons: MLP width; arrays are [n_layers * neuron_width]
    float *neuron_relevance;     // Σ over positions of z ⊙ ĝ per neuron
    float *neuron_activation;    // the neuron's value at `position` (classifiers: position 0)
    // Baseline methods: the parameters as run and the cost (explain/baselines.h).
    int steps, samples, quadrature, softmax_rule;
    double noise, noise_abs;     // noise: as given; noise_abs: σ in embedding units
    unsigned long long seed;
    double atman_factor, atman_threshold;
    int has_baseline_value;
    double baseline_value;       // ig: the start scalar at the baseline (all word embeddings zero)
    int exact_shapley;           // kernelshap: every coalition enumerated (exact Shapley values)
    int forward_passes, backward_passes;  // what the run cost (the first explanation of the input included)
    int nonfinite;               // relevance values that are NaN or infinite (the softmax ablations)
    const char *nonfinite_tensor; // when the logits or the relevance are not finite: the first weight tensor
    long long nonfinite_index;    // holding NaN/inf and the element (owned by the model), NULL if none
    long long nonfinite_weights;  // the model's non-finite weight values (ATTNLRP_NONFINITE=warn; 0 unknown
                                  // after =skip): set with nonfinite_tensor whenever the load's scan found any
    // Encoder-decoders (SPEC §3): T, ids and relevance are the encoder's (source) tokens; the decoder's
    // input is decoder_start_token_id and the prefix, and `position` is a decoder position.
    int decoder_T;
    int *decoder_ids;            // [decoder_T] or NULL
    float *decoder_relevance;    // [decoder_T] at the shared word embeddings of the decoder's input
    int n_encoder_layers;        // layers 0 .. n_encoder_layers-1 are the encoder's; 0 for other models
    float *encoder_residual_relevance;  // with layers: [n_encoder_layers * T] (residual_relevance stays NULL)
    float *decoder_residual_relevance;  // with layers: [(n_layers - n_encoder_layers) * decoder_T]
    double seconds_forward;
    double seconds_backward;
    size_t activation_bytes;     // arena bytes of the recorded forward
    size_t activation_bytes_used; // of those, bytes handed out (what lrp_explain_memory_estimate bounds)
} lrp_explanation;

// Explains one prediction. Every argument is checked first (inputs against the model, positions,
// neurons, layers), with an error naming the parameter at fault ("position 9: out of range ...").
int lrp_explain_inputs(const lrp_model *m, const lrp_inputs *in, const lrp_explain_opts *o, lrp_explanation *out,
                       lrp_err *err);
// The same for token ids alone.
int lrp_explain(const lrp_model *m, const int *ids, int T, const lrp_explain_opts *o, lrp_explanation *out,
                lrp_err *err);
void lrp_explanation_free(lrp_explanation *e);

// One forward pass without recording anything: the output logits (LMs: [vocab] at `position`, -1: the
// last; classifiers: [n_labels], position ignored; encoder-decoders: at decoder position `position`)
// into logits.
int lrp_forward_outputs(const lrp_model *m, const lrp_inputs *in, int position, const lrp_intervention *iv, int n_iv,
                        float *logits, lrp_err *err);
// The same for token ids; drop [T] (or NULL) zeroes the word embeddings of the marked tokens.
int lrp_forward_logits(const lrp_model *m, const int *ids, int T, int position, const unsigned char *drop,
                       const lrp_intervention *iv, int n_iv, float *logits, lrp_err *err);

// Checks the inputs against the model: ids against the vocabulary ("ids: id 700 at index 3 is out of range
// (vocabulary size 512)"), token types, the padding mask, decoder ids (only for encoder-decoders).
int lrp_check_inputs(const lrp_model *m, const lrp_inputs *in, lrp_err *err);
int lrp_check_ids(const lrp_model *m, const int *ids, int T, lrp_err *err);

// The k largest values (k <= n) in descending order, ties to the lower index; NaN ranks last. idx[k].
void lrp_rank_top(const float *v, int n, int k, int *idx);

#endif

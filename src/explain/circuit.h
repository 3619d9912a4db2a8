// Relevance patching (RelP; Jafari et al. 2025, "RelP: Faithful and Efficient Circuit Discovery via
// Relevance Patching") next to exact activation patching, for a clean / corrupted prompt pair of equal
// length. Components: every attention head's output (its slice of the o-projection's input, taps.attn_out)
// and every MLP's output (its intermediate, the down projection's input, taps.mlp_act: the down projection
// is linear, so patching it patches the MLP's output), each over all positions.
//
// The metric m is the corrupted run's logit(target) − logit(foil) at the last position (target: the clean
// prediction; foil: the corrupted prediction when it differs, else none and m = logit(target)).
//   RelP score of component c:   (a_c(clean) − a_c(corrupt)) · ĝ_c, summed over positions and units, where ĝ
//                                 is the modified gradient of m in the corrupted run under the method's rules
//                                 (attnlrp: RelP; gradxinput: plain attribution patching). 2 forwards + 1 backward.
//   activation patching of c:    m(corrupted run with c's clean activation patched in) − m(corrupted run),
//                                 one forward per component ("denoising": clean into corrupt).
// The RelP score is the first-order estimate of the patching effect.
#ifndef LRP_EXPLAIN_CIRCUIT_H
#define LRP_EXPLAIN_CIRCUIT_H

#include "models/model.h"

typedef struct lrp_circuit_opts {
    lrp_method method;   // rules of the backward (default attnlrp)
    int target;          // -1: the clean run's prediction at the last position
    int foil;            // -1: the corrupted run's prediction when it is not the target (else none); -2: none
    int exact;           // also run activation patching (one forward per component)
} lrp_circuit_opts;

void lrp_circuit_opts_default(lrp_circuit_opts *o);

typedef struct lrp_circuit {
    int n_layers, n_heads, T;
    int target, foil;    // foil -1: none
    double metric_clean, metric_corrupt;
    int n;               // components: n_layers · (n_heads + 1)
    float *relp;         // [n]: per layer its heads 0..H-1, then its MLP (index l·(H+1) + H)
    float *patch;        // [n] the activation-patching effects, or NULL (exact off)
    int forwards, backwards;
} lrp_circuit;

// clean and corrupt: T token ids each (the same T). Errors name the parameter ("corrupt: id 9999 at index 2 is
// out of range ...", "target 9999: ...", "foil 5: ...", "model: ..." for a model without the components).
int lrp_circuit_run(const lrp_model *m, const int *clean, const int *corrupt, int T, const lrp_circuit_opts *o,
                    lrp_circuit *out, lrp_err *err);
void lrp_circuit_free(lrp_circuit *c);

// Pearson and Spearman (Pearson of the ranks, ties averaged) correlation of x and y [n]; NaN when n < 2 or
// a side is constant.
double lrp_pearson(const double *x, const double *y, int n);
double lrp_spearman(const double *x, const double *y, int n);

#endif

// The comparison baselines of the AttnLRP paper and issue 12, each a method of methods.h that
// lrp_explain_inputs hands over to lrp_explain_baseline. Each first explains the input with gradient ×
// input (one forward and backward: the logits, the target, the start value), then computes its own
// relevance per input token (images: per patch, for the attention methods):
//
//   ig             Integrated Gradients (Sundararajan et al. 2017) on the straight path from all-zero word
//                  embeddings: R_i = Σ_d E_id ∫₀¹ ∂y/∂x_id (αE) dα, by `steps` nodes of the midpoint rule or
//                  Gauss–Legendre; baseline_value = y(α = 0). Σ_i R_i ≈ start_value − baseline_value.
//   smoothgrad     Smilkov et al. 2017: R_i = Σ_d E_id · mean_k ∂y/∂x_id (E + ε_k), ε ~ N(0, σ²) with
//                  σ = noise · (max − min of the input's word embeddings), `samples` copies.
//   occlusion      R_i = y − y(word embedding i zeroed).
//   attention      the explained row of the last layer's attention, mean over heads.
//   rollout        Abnar & Zuidema 2020: Ã_l = ½ mean_h A_l + ½ I (rows renormalised), R = Ã_L ⋯ Ã_1, the row.
//   gradxattnroll  Chefer et al. 2021, self-attention rule: Ā_l = mean_h (∂y/∂A_l ⊙ A_l)⁺,
//                  R = (I + Ā_L) ⋯ (I + Ā_1), the row.
//   atman          Deb et al. 2023: for each token i, the pre-softmax scores of key i in every layer and
//                  head × (1 − f), and of each token j with cos(E_i, E_j) ≥ κ × (f(1 − cos) + 1 − f);
//                  R_i = log p(target) − log p_i(target).
//   kernelshap     Lundberg & Lee 2017 over token coalitions (absent token: word embedding zeroed); all
//                  2^T − 2 proper coalitions with the Shapley kernel weights when they are at most
//                  `samples` (then R are the exact Shapley values), else `samples` coalitions drawn with
//                  the kernel's size distribution; weighted least squares with Σ R = y − y(∅).
#ifndef LRP_BASELINES_H
#define LRP_BASELINES_H

#include "explain/explain.h"

#define LRP_IG_DEFAULT_STEPS 32
#define LRP_SMOOTHGRAD_DEFAULT_SAMPLES 16
#define LRP_SMOOTHGRAD_DEFAULT_NOISE 0.1
#define LRP_KERNELSHAP_DEFAULT_SAMPLES 512
#define LRP_ATMAN_DEFAULT_FACTOR 0.9
#define LRP_ATMAN_DEFAULT_THRESHOLD 0.7

int lrp_explain_baseline(const lrp_model *m, const lrp_inputs *in, const lrp_explain_opts *o, lrp_explanation *e,
                         lrp_err *err);

// Attention rollout over L layers of head-averaged attention matrices A[l] ([T, T], row = query), the row
// `row` of the rolled-out matrix into out[T]. mode 0: Abnar & Zuidema (½A + ½I, rows renormalised);
// mode 1: Chefer et al. (I + Ā), where A[l] is already Ā_l = mean_h (∇A ⊙ A)⁺.
void lrp_attention_rollout(const double *const *A, int L, int T, int row, int mode, double *out);

// The n nodes and weights of Gauss–Legendre quadrature on [0, 1].
void lrp_gauss_legendre(int n, double *nodes, double *weights);

#endif

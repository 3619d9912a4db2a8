// Measuring how faithful an explanation is (evaluate/runner.h runs them over a data set): answer-span agreement and the perturbation
// protocol of the AttnLRP paper. Every metric here is a pure function of a relevance vector and, for the
// perturbation curves, of a callback that runs the model with some tokens removed, so tests can check each
// one on cases whose answer is known by construction.
//
// Conventions, used throughout:
//   - relevance [T]: one number per input token; higher means more relevant. NaN ranks below everything.
//   - removable [T]: 1 for tokens that may be removed (every token but the specials such as BOS).
//   - MoRF order: removable tokens by descending relevance, ties broken by the earlier position first.
//     LeRF order: exactly the MoRF order reversed.
//   - Perturbation steps: at step k = 0..steps the first n_k = round(k·n/steps) tokens of the order are
//     removed (n removable tokens; halves round up). The curve value is logit_k / logit_0 (logit_0 the
//     unperturbed target logit, which must be positive), plotted at the fraction x_k = k/steps.
//   - AUC: trapezoid rule over x in [0, 1]. ΔA = AUC(LeRF) − AUC(MoRF): higher is more faithful.
//   - Character offsets are Unicode code points (what Python's str indexing counts), not bytes.
#ifndef LRP_EVALUATE_METRICS_H
#define LRP_EVALUATE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

// ---- ranking and the removal order ----

// Writes the removable positions into order[] in MoRF (most_first = 1) or LeRF (most_first = 0) order;
// returns how many there are (0..T), or -1 on allocation failure.
int lrp_eval_removal_order(const float *relevance, const unsigned char *removable, int T, int most_first,
                           int *order);

// Number of tokens removed at step k of `steps` with n removable tokens: round(k·n/steps).
int lrp_eval_removed_at(int k, int steps, int n);

// The most relevant eligible position (ties: the earlier), or -1 when none is eligible.
int lrp_eval_top1(const float *relevance, const unsigned char *eligible, int T);

// IoU of the k most relevant eligible tokens (k = number of span tokens) with the span tokens:
// |top-k ∩ span| / |top-k ∪ span|. NaN when the span has no eligible token.
double lrp_eval_topk_iou(const float *relevance, const unsigned char *eligible, const unsigned char *in_span, int T);

// ---- perturbation curves ----

// The model with the tokens marked in drop[T] removed (their input embeddings zeroed): the target logit.
// Returns 0, or -1 with the reason in err.
typedef int (*lrp_eval_logit_fn)(const unsigned char *drop, void *ctx, double *logit, lrp_err *err);

// curve[0..steps]: logit with the first n_k tokens of order[0..n) removed, divided by base (the
// unperturbed logit; curve[0] = 1 without a call). Consecutive steps removing the same number of tokens
// share one call. base must be positive and finite.
int lrp_eval_curve(const int *order, int n, int T, int steps, double base, lrp_eval_logit_fn fn, void *ctx,
                   double *curve, lrp_err *err);

// Area under y[0..n_points) sampled at x_k = k/(n_points−1) on [0, 1], by the trapezoid rule.
// NaN if any value is NaN or n_points < 2.
double lrp_eval_auc(const double *y, int n_points);

// ---- statistics over records ----

typedef struct lrp_eval_stats {
    int n;          // finite values used (NaN values are left out and not counted)
    double mean;    // NaN when n = 0
    double sd;      // sample standard deviation (n − 1); NaN when n < 2
    double ci95;    // half-width of the 95% confidence interval of the mean, 1.96·sd/√n; NaN when n < 2
} lrp_eval_stats;

lrp_eval_stats lrp_eval_stats_of(const double *v, int n);

// ---- one record, one method ----

typedef struct lrp_eval_result {
    int top1;                  // most relevant non-special token (-1 if none)
    int has_span;              // the record has a span
    int top1_in_span;          // 0/1 (only with a span)
    double iou;                // top-k IoU with the span (NaN without a span)
    int perturbed;             // the curves were computed (unperturbed target logit > 0)
    double *morf, *lerf;       // [steps + 1] curve values (NULL when not perturbed)
    double auc_morf, auc_lerf; // NaN when not perturbed
    double delta_a;            // auc_lerf − auc_morf
    double seconds;            // time to compute the relevance (filled by the caller)
    int forward_passes, backward_passes;  // passes that computation ran (filled by the caller)
} lrp_eval_result;

// All metrics of one relevance vector. in_span is NULL when the record has no span. When base <= 0 (or
// not finite) the curves are undefined and are skipped (perturbed = 0), without an error.
int lrp_eval_score(const float *relevance, const unsigned char *removable, const unsigned char *in_span, int T,
                   int steps, double base, lrp_eval_logit_fn fn, void *ctx, lrp_eval_result *out, lrp_err *err);
void lrp_eval_result_free(lrp_eval_result *r);

// A reproducible "random" explanation: T values uniform in [0, 1) from (seed, stream), e.g. a hash of the record.
void lrp_eval_random_relevance(uint64_t seed, uint64_t stream, float *relevance, int T);

// ---- character offsets ----

// Decodes ids[0..n) to malloc'ed UTF-8 text without special tokens (the tokenizer's decode).
typedef int (*lrp_eval_decode_fn)(const int *ids, int n, char **text, void *ctx, lrp_err *err);

// Code-point range [start[i], end[i]) of each token of ids[0..T) within text. Token i ends where the
// decoded prefix ids[0..i] stops agreeing with text (a character split over several byte tokens belongs
// to the token that completes it); special tokens get empty ranges. Fails when the whole sequence does
// not decode back to exactly `text` (the mapping would be guesswork then).
int lrp_eval_token_offsets(const int *ids, int T, const char *text, size_t len, lrp_eval_decode_fn decode, void *ctx,
                           int *start, int *end, lrp_err *err);

// Marks in in_span[T] the eligible tokens whose range overlaps [span_start, span_end) (an empty range at
// p counts when span_start <= p < span_end); returns how many.
int lrp_eval_span_tokens(const int *start, const int *end, const unsigned char *eligible, int T, int span_start,
                         int span_end, unsigned char *in_span);

#endif

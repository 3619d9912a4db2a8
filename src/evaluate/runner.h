// The evaluation runner: records of a data set -> per-method scores (evaluate/metrics.h) -> a summary
// per method with 95% confidence intervals and paired differences against the first method. Nothing is
// printed: progress and bad records reach the caller through a callback, the results through the report.
//
// Image classifiers (ViT) read {"image": path, "label": class} records instead: relevance per patch, and
// the curves remove patches (set to 0, the normalised mean) most / least relevant first, the AttnLRP
// paper's patch flipping.
//
// Per record: the inputs (text, or text and text_pair), the explained output (causal LMs: the next token
// after the last position; masked LMs: the first mask token; classifiers: the class), its target (given,
// or the model's prediction), one relevance vector per method, and the metrics: answer-span agreement
// (when the record has a span) and MoRF/LeRF perturbation curves, removing tokens (their word
// embeddings scaled by 0) and reading the target's logit. Special tokens are never removed.
#ifndef LRP_EVALUATE_RUNNER_H
#define LRP_EVALUATE_RUNNER_H

#include <stdint.h>

#include "evaluate/data.h"
#include "evaluate/metrics.h"
#include "explain/explain.h"
#include "models/model.h"
#include "tokenizer/tokenizer.h"

#define LRP_EVAL_MAX_METHODS 16

typedef struct lrp_eval_bad {
    int line;               // 1-based line number in the data file
    char msg[1100];         // names the field at fault ("\"target\" \"xy\" is 2 tokens, not one: ...")
} lrp_eval_bad;

// Called after every record: done of total records so far; bad the record's problem, or NULL.
typedef void (*lrp_eval_progress_fn)(int done, int total, const lrp_eval_bad *bad, void *ctx);

typedef struct lrp_eval_opts {
    int methods[LRP_EVAL_MAX_METHODS];  // ids of explain/methods.h (LRP_METHOD_RANDOM included)
    int n_methods;
    int steps;              // perturbation steps, 1..10000
    int limit;              // only the first `limit` records; <= 0: all
    uint64_t seed;          // the random baseline's seed; each record draws from (seed, a hash of its bytes)
    const char *span_field; // the span's field; NULL: "span"
    double gamma_conv, gamma_lin;  // the γ of the "+gamma" methods (default 0.25, 0.05, LXT's)
    // The comparison baselines' parameters (steps, samples, noise, seed, quadrature, atman_factor,
    // atman_threshold) and attnlrp's softmax_rule, as explain takes them (0 / negative: the defaults);
    // every other field is ignored. lrp_eval_opts_default sets explain's defaults.
    lrp_explain_opts params;
    int stop_at_bad;        // stop at the first bad record (report.stopped)
    lrp_eval_progress_fn progress;
    void *progress_ctx;
} lrp_eval_opts;

// Every method of the registry, 20 steps, every record, seed 0, field "span", bad records skipped.
void lrp_eval_opts_default(lrp_eval_opts *o);

typedef struct lrp_eval_record_result {
    int line;
    int T;
    int position;               // the explained position (-1: classifiers)
    int target;
    int target_given;
    int prediction;             // the argmax of the unperturbed outputs
    double target_logit;
    int n_span_tokens;
    int *span_tokens;           // [n_span_tokens] or NULL (no span)
    double forward_seconds;     // time of the record's unperturbed forward pass (the unit of cost)
    lrp_eval_result res[LRP_EVAL_MAX_METHODS];
} lrp_eval_record_result;

typedef struct lrp_eval_summary {
    int method;
    int n;                      // records evaluated
    lrp_eval_stats top1, iou, morf, lerf, delta, seconds;
    lrp_eval_stats first_minus; // paired over records: ΔA(first method) − ΔA(this one)
    double forward_multiple;    // mean seconds of one explanation / mean seconds of one forward pass
    double forward_passes, backward_passes;  // mean passes one explanation ran (the random baseline: 0)
    int n_perturbed;
    double *mean_morf, *mean_lerf;  // [steps + 1]
} lrp_eval_summary;

typedef struct lrp_eval_report {
    lrp_task task;
    int images;                 // image records: relevance per patch, patches removed
    int steps;
    int n_methods;
    int methods[LRP_EVAL_MAX_METHODS];
    int n_total;                // records considered (after the limit)
    int n_records;              // records evaluated
    lrp_eval_record_result *records;
    int n_bad;
    lrp_eval_bad *bad;
    int stopped;                // stop_at_bad: the run stopped at bad[n_bad - 1]
    int n_targets_given, n_targets_predicted;  // records with a target, and those the model predicts
    int n_with_span;
    lrp_eval_summary summary[LRP_EVAL_MAX_METHODS];  // filled when n_records > 0
    long long forwards;         // perturbed forward passes run
} lrp_eval_report;

// Runs every record of d. Returns 0 (bad records are in the report, not errors), or -1 with err for
// what stops the whole run: bad options ("steps 0: expected 1..10000"), no tokenizer, out of memory.
int lrp_evaluate(const lrp_model *m, const lrp_tokenizer *tok, const lrp_eval_data *d, const lrp_eval_opts *o,
                 lrp_eval_report *out, lrp_err *err);
void lrp_eval_report_free(lrp_eval_report *r);

// ---- a report built record by record (eval --jobs, attnlrp merge) ----
// lrp_eval_report_begin sets the methods and steps of o (n_total stays the caller's); records and bad
// records are then added in input order, and lrp_eval_report_end computes the summaries exactly as
// lrp_evaluate does (the same values in the same order give the same bits). Each returns 0, or -1 with err.
int lrp_eval_report_begin(lrp_eval_report *r, lrp_task task, int images, const lrp_eval_opts *o, lrp_err *err);
// Takes rec over (its arrays belong to the report afterwards; rec is cleared).
int lrp_eval_report_add(lrp_eval_report *r, lrp_eval_record_result *rec, lrp_err *err);
int lrp_eval_report_add_bad(lrp_eval_report *r, int line, const char *msg, lrp_err *err);
int lrp_eval_report_end(lrp_eval_report *r, lrp_err *err);

// One record as lrp_render_eval_json writes it (render/render.h, "records"[i]) into rec, for the methods
// and steps of r; *target_name (malloc'ed, or NULL) its "target_token". Errors name the field.
int lrp_eval_record_from_json(const void *json_object, const lrp_eval_report *r, lrp_eval_record_result *rec,
                              char **target_name, lrp_err *err);

#endif

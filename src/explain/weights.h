// Weight relevance: R(W) = W ⊙ ĝ_W for every weight matrix a linear op multiplies by, where ĝ_W is the
// gradient of the explained scalar with respect to W under the method's rules (SPEC §1-§2: the same one
// backward as the explanation; the rules act on activations, and a linear's weight gradient is the exact
// ĝ(y)ᵀ·x of its modified output gradient ĝ(y) and its input x). Summed over explanations.
//
// How: lrp_wrel_hook is the explanation's on_node hook (explain.h); after each linear node's backward it
// adds ĝ(y)ᵀ·x (one product, [out, in]) into the accumulator of the stored tensor the weight view reads,
// at the view's rows (fused q/k/v, gate/up) or columns (GPT-2's transposed Conv1D), in the stored layout.
//
// Memory plan: one float32 per element of each stored tensor that some linear multiplies by (the sum over
// records of ĝ_W; no per-record copy: each record's product is added in place), allocated when a tensor
// is first reached; or, streamed (lrp_wrel_plan), only those of one group of tensors per pass. lrp_wrel_finish turns a tensor's sum into R(W) in place (W widened one stored row at
// a time), so the whole run holds the checkpoint's memory map, one explanation's graph and this one
// accumulator; writing (lrp_wrel_write) streams tensor by tensor. Per-record activations are never kept.
#ifndef LRP_EXPLAIN_WEIGHTS_H
#define LRP_EXPLAIN_WEIGHTS_H

#include <stdint.h>

#include "core/atomic_file.h"
#include "core/graph.h"
#include "models/model.h"

typedef struct lrp_wrel_tensor {
    const lrp_tensor *t;   // the stored tensor (its name is the model's own: HF or GGUF)
    int64_t numel;
    int64_t in;            // the logical input width of the views that read it
    int transposed;        // stored [in, N] (Conv1D)
    float *acc;            // [numel] Σ ĝ_W, then (after lrp_wrel_finish) R(W), in the stored layout
    int head;              // the output head (lm_head / tied embedding / classifier): the last linear of the
                           // forward, the first one a backward from the logits reaches
    int finished;
    int stats;             // sum and abs_sum are set (lrp_wrel_stats)
    double sum, abs_sum;   // Σ R(W), Σ |R(W)| over the tensor's elements, in element order
    unsigned char *mask;   // pruning: [numel] 1 where the element is set to 0 (lrp_wrel_prune_mask)
    int64_t n_pruned;
} lrp_wrel_tensor;

typedef struct lrp_wrel {
    lrp_wrel_tensor *ts;
    int n, cap;
    int records;           // explanations added
    int first_in_pass;     // the next linear seen is the first of this backward (lrp_wrel_begin)
    int failed;
    lrp_err err;           // the first failure of the hook (out of memory, an unreadable view)
    int abs;               // set before the first record: accumulate |R(W)| of each record (already times W:
                           // lrp_wrel_finish leaves it as it is) instead of Σ ĝ_W; costs one [out, in]
                           // temporary per linear node
    // Streaming (lrp_wrel_select): only the stored tensors of group sel_g get an accumulator; the others
    // reached are registered (name, shape, head) without one. closed: no tensor may be registered any more.
    const lrp_tensor *sel_base;
    const int *sel_group;
    int sel_n, sel_g, closed;
} lrp_wrel;

void lrp_wrel_init(lrp_wrel *w);
void lrp_wrel_free(lrp_wrel *w);
// Call before each explanation whose opts.on_node = lrp_wrel_hook, opts.on_node_ctx = w.
void lrp_wrel_begin(lrp_wrel *w);
void lrp_wrel_hook(const lrp_graph *g, const lrp_node *n, double seconds, void *ctx);
// 0, or -1 with the hook's error.
int lrp_wrel_status(const lrp_wrel *w, lrp_err *err);
// Turns tensor i's Σ ĝ_W into R(W) = W ⊙ Σ ĝ_W in place (idempotent).
void lrp_wrel_finish(lrp_wrel *w, int i);
// Sorts the tensors by name (the order of the written file).
void lrp_wrel_sort(lrp_wrel *w);
// Sets tensor i's sum and abs_sum (finishing it first); idempotent.
void lrp_wrel_stats(lrp_wrel *w, int i);

// The memory plan of a streamed run: the stored tensors a linear may multiply by (two or more dimensions),
// in name order (the order of the written file, so a layer's tensors are neighbours), cut into groups whose
// float32 accumulators fit `budget` bytes each (a tensor larger than the budget alone in its group). Each
// group costs one pass over the records (the explanations recomputed): accumulator memory is bounded by
// the budget instead of one float32 per weight, traded for n_groups passes. Results are bit-identical to one
// pass: each tensor's sum is accumulated in the same order.
typedef struct lrp_wrel_plan {
    int n_groups;
    int *group;              // [m->tf.n_tensors]: each stored tensor's group, -1 when it is not planned
    size_t total;            // float32 bytes of every planned tensor
    size_t largest_group;    // of the largest group
    size_t largest_tensor;   // of the largest tensor, named largest_name
    const char *largest_name;
} lrp_wrel_plan;

int lrp_wrel_plan_make(const lrp_model *m, size_t budget, lrp_wrel_plan *p, lrp_err *err);
// After the first pass (w sorted, every tensor the records reach registered): the groups after the first cut
// again from the tensors actually reached (an untied input embedding, position embeddings and the like are
// never multiplied by a linear and need no accumulator), which can save passes. Group 0 is kept.
void lrp_wrel_replan(lrp_wrel_plan *p, const lrp_wrel *w, const lrp_model *m, size_t budget);
void lrp_wrel_plan_free(lrp_wrel_plan *p);
// Accumulates only the tensors of group g of plan p from the next explanation on (p NULL: every tensor).
void lrp_wrel_select(lrp_wrel *w, const lrp_model *m, const lrp_wrel_plan *p, int g);
// The group of tensor i of w under the selection (-1 when none is set).
int lrp_wrel_group(const lrp_wrel *w, int i);
// Frees tensor i's accumulator (after it has been written, its stats and mask taken).
void lrp_wrel_release(lrp_wrel *w, int i);

// Streaming output: the header of every registered tensor (w sorted, all registered: after the first pass),
// then each tensor's R(W) in turn (lrp_wrel_out_put, in index order, finishing it), then commit. Written
// whole or not at all; lrp_wrel_write is begin + put of every tensor + commit. Errors name path.
typedef struct lrp_wrel_out {
    lrp_atomic_file file;
    int open;
    const char *path;
    int next;              // the index of the next tensor to write
} lrp_wrel_out;
int lrp_wrel_out_begin(lrp_wrel_out *o, lrp_wrel *w, const char *path, const char *const *meta, int n_meta,
                       lrp_err *err);
int lrp_wrel_out_put(lrp_wrel_out *o, lrp_wrel *w, int i, lrp_err *err);
int lrp_wrel_out_commit(lrp_wrel_out *o, lrp_err *err);
void lrp_wrel_out_abort(lrp_wrel_out *o);

// Writes every tensor's R(W) (finishing each) as float32 safetensors under the stored names and shapes, with
// __metadata__ {"format": "pt", "content": "attnlrp weight relevance", plus the given key/value pairs}.
// Written whole or not at all (core/atomic_file.h). Errors name path.
int lrp_wrel_write(lrp_wrel *w, const char *path, const char *const *meta, int n_meta, lrp_err *err);

typedef enum lrp_prune_by { LRP_PRUNE_RELEVANCE = 0, LRP_PRUNE_MAGNITUDE } lrp_prune_by;

// A copy of the checkpoint directory src (a Hugging Face safetensors checkpoint) in dir: every file but
// the weights copied as it is (config, tokenizer...), and one model.safetensors with every tensor of m in
// its stored dtype, where in each accumulated tensor that is not the head the floor(fraction · numel)
// elements of lowest |R(W)| (or |W|) are set to 0 (per tensor; ties: lower index first). fraction in [0, 1).
// *pruned receives the number of zeroed elements, *total the elements of the pruned tensors. Masks already
// made by lrp_wrel_prune_mask (streaming: at the end of each group) are used as they are.
int lrp_wrel_prune(lrp_wrel *w, const lrp_model *m, const char *dir, double fraction, lrp_prune_by by,
                   int64_t *pruned, int64_t *total, lrp_err *err);
// Tensor i's pruning mask (nothing for the head), from its finished accumulator or its weights.
int lrp_wrel_prune_mask(lrp_wrel *w, int i, double fraction, lrp_prune_by by, lrp_err *err);

#endif

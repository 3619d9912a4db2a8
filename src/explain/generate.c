#include "explain/generate.h"

#include "explain/explain.h"
#include "kernels/qdot.h"
#include "explain/memory.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct {
    float p;
    int id;
} prob_id;

static int by_prob_desc(const void *a, const void *b) {
    const prob_id *x = a, *y = b;
    if (x->p != y->p) return x->p < y->p ? 1 : -1;
    return x->id - y->id;
}

int lrp_sample(float *logits, int V, const lrp_sampler *s, uint64_t *rng) {
    int best = 0;
    for (int i = 1; i < V; i++)
        if (logits[i] > logits[best]) best = i;
    if (!s || s->temperature <= 0) return best;
    prob_id *p = malloc((size_t)V * sizeof *p);
    if (!p) return best;
    double z = 0;
    for (int i = 0; i < V; i++) {
        p[i].id = i;
        p[i].p = (float)exp((logits[i] - logits[best]) / s->temperature);
        z += p[i].p;
    }
    qsort(p, (size_t)V, sizeof *p, by_prob_desc);
    int keep = V;
    if (s->top_k > 0 && s->top_k < keep) keep = s->top_k;
    if (s->top_p > 0 && s->top_p < 1) {
        double cum = 0;
        for (int i = 0; i < keep; i++) {
            cum += p[i].p / z;
            if (cum >= s->top_p) {
                keep = i + 1;
                break;
            }
        }
    }
    double mass = 0;
    for (int i = 0; i < keep; i++) mass += p[i].p;
    double u = (double)(splitmix64(rng) >> 11) / 9007199254740992.0 * mass;
    int pick = p[keep - 1].id;
    for (int i = 0; i < keep; i++) {
        u -= p[i].p;
        if (u < 0) {
            pick = p[i].id;
            break;
        }
    }
    free(p);
    return pick;
}

static int is_eos(const lrp_config *c, int id) {
    for (int i = 0; i < c->n_eos; i++)
        if (c->eos_token_ids[i] == id) return 1;
    return 0;
}

int lrp_generate(const lrp_model *m, const int *prompt, int n_prompt, int max_new, const lrp_sampler *s,
                 const lrp_intervention *iv, int n_iv, int stop_at_eos, lrp_token_cb cb, void *cb_ctx, int **out,
                 int *n_out, lrp_err *err) {
    return lrp_generate_heads(m, prompt, n_prompt, max_new, s, iv, n_iv, NULL, 0, stop_at_eos, cb, cb_ctx, out, n_out,
                              err);
}

int lrp_generate_heads(const lrp_model *m, const int *prompt, int n_prompt, int max_new, const lrp_sampler *s,
                       const lrp_intervention *iv, int n_iv, const lrp_intervention *head_iv, int n_head_iv,
                       int stop_at_eos, lrp_token_cb cb, void *cb_ctx, int **out, int *n_out, lrp_err *err) {
    *out = NULL;
    *n_out = 0;
    const lrp_config *c = &m->cfg;
    // Encoder-decoders: the prompt is the source, which the encoder reads once (the first forward keeps
    // its cross-attention keys and values in the cache); the decoder starts from decoder_start_token_id.
    int seq2seq = c->task == LRP_TASK_SEQ2SEQ_LM, start = c->decoder_start_token_id;
    if (c->task != LRP_TASK_CAUSAL_LM && !seq2seq)
        return lrp_fail(err, "%s: a %s cannot generate text (only causal LMs can)", m->path, lrp_task_name(c->task));
    if (n_prompt <= 0) return lrp_fail(err, "ids: no prompt tokens");
    if (max_new < 0) return lrp_fail(err, "max_new %d: must not be negative", max_new);
    if (lrp_check_ids(m, prompt, n_prompt, err) || lrp_check_interventions(m, iv, n_iv, err) ||
        lrp_check_head_interventions(m, head_iv, n_head_iv, err))
        return -1;
    int capacity = seq2seq ? 1 + max_new : n_prompt + max_new;
    if (c->max_position_embeddings > 0 && capacity > c->max_position_embeddings)
        return lrp_fail(err, "max_new %d: the prompt (%d tokens) and %d new tokens exceed the model's context of %d "
                        "positions", max_new, n_prompt, max_new, c->max_position_embeddings);
    if (lrp_check_memory(m, "generating up to", capacity, 1, 1, 0, err)) return -1;
    int *gen = malloc(((size_t)max_new + 1) * sizeof(int));
    // LongRoPE (Phi-3) switches to its long factors once the sequence outgrows original_max_position,
    // which invalidates every cached key and value: like transformers' Phi3ForCausalLM, the whole
    // sequence is recomputed at that step. `all` holds it.
    int longrope = c->rotary && c->rope.scaling == LRP_ROPE_SCALING_LONGROPE;
    int *all = longrope ? malloc((size_t)capacity * sizeof(int)) : NULL;
    if (all) memcpy(all, prompt, (size_t)n_prompt * sizeof(int));
    float *logits = malloc((size_t)c->vocab_size * sizeof(float));
    lrp_kv_cache cache = {0};
    lrp_graph g = {0};
    int rc = -1;
    if (!gen || !logits || (longrope && !all)) {
        lrp_fail(err, "out of memory");
        goto done;
    }
    if (lrp_kv_cache_init(&cache, m, capacity, err) || lrp_graph_init(&g, lrp_model_scratch_floats(m), err)) goto done;
    g.grad_enabled = 0;
    g.quant_act = lrp_qdot_enabled();
    uint64_t rng = s ? s->seed : 0;
    const int *feed = seq2seq ? &start : prompt;
    int n_feed = seq2seq ? 1 : n_prompt, n = 0;
    while (n < max_new) {
        int orig = c->rope.original_max_position;
        if (longrope && cache.len > 0 && cache.len <= orig && cache.len + n_feed > orig) {
            cache.len = 0;
            feed = all;
            n_feed = n_prompt + n;
        }
        int last = n_feed - 1;
        lrp_inputs in = {.ids = feed, .T = n_feed};
        if (seq2seq) in = (lrp_inputs){.ids = prompt, .T = n_prompt, .decoder_ids = feed, .decoder_T = n_feed};
        lrp_forward f = {.in = in, .head_rows = &last, .n_head_rows = 1, .iv = iv, .n_iv = n_iv, .head_iv = head_iv,
                         .n_head_iv = n_head_iv, .cache = &cache, .no_latent = 1};
        lrp_graph_reset(&g);
        if (lrp_model_forward(m, &g, &f)) {
            lrp_fail(err, "%s", g.err.msg);
            goto done;
        }
        memcpy(logits, f.taps.logits->x, (size_t)c->vocab_size * sizeof(float));
        int id = lrp_sample(logits, c->vocab_size, s, &rng);
        gen[n++] = id;
        if (all) all[n_prompt + n - 1] = id;
        if (cb && cb(id, cb_ctx)) break;
        if (stop_at_eos && is_eos(c, id)) break;
        feed = &gen[n - 1];
        n_feed = 1;
    }
    *out = gen;
    *n_out = n;
    gen = NULL;
    rc = 0;
done:
    free(gen);
    free(all);
    free(logits);
    lrp_kv_cache_free(&cache);
    lrp_graph_free(&g);
    if (rc == 0) lrp_memory_blas_ready();
    return rc;
}

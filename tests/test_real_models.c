// The real pretrained models in ../shared/models/: their READMEs give golden logits and greedy
// continuations computed by an independent PyTorch/NumPy script; the engine must reproduce them.
#include <math.h>
#include <stdlib.h>

#include "explain/explain.h"
#include "explain/generate.h"
#include "harness.h"

static const char *shared_path(const char *rel, char *buf, size_t cap) {
    const char *root = getenv("ATTNLRP_SHARED");
    snprintf(buf, cap, "%s/%s", root && *root ? root : "../shared", rel);
    return buf;
}

typedef struct {
    const char *path;
    int ids[8];
    int n_ids;
    int top_ids[5];
    float top_logits[5];
    float pos0_logits[5];
    int greedy[20];
} golden;

static void check_golden(const golden *g) {
    char path[512];
    lrp_model *m = NULL;
    lrp_err err;
    if (lrp_model_open(&m, shared_path(g->path, path, sizeof path), &err)) {
        fprintf(stderr, "  %s\n", err.msg);
        CHECK(0);
        return;
    }
    int V = m->cfg.vocab_size;
    float *logits = malloc((size_t)V * sizeof(float));
    CHECK(lrp_forward_logits(m, g->ids, g->n_ids, -1, NULL, NULL, 0, logits, &err) == 0);
    for (int i = 0; i < 5; i++) CHECK_NEAR(logits[g->top_ids[i]], g->top_logits[i], 1e-4 + 1e-5 * fabs(g->top_logits[i]));
    for (int i = 0; i < V; i++) CHECK(logits[i] <= logits[g->top_ids[0]]);
    CHECK(lrp_forward_logits(m, g->ids, g->n_ids, 0, NULL, NULL, 0, logits, &err) == 0);
    for (int i = 0; i < 5; i++) CHECK_NEAR(logits[i], g->pos0_logits[i], 1e-4);
    int *gen = NULL, n = 0;
    CHECK(lrp_generate(m, g->ids, g->n_ids, 20, NULL, NULL, 0, 0, NULL, NULL, &gen, &n, &err) == 0);
    CHECK(n == 20);
    for (int i = 0; i < n && i < 20; i++) CHECK(gen[i] == g->greedy[i]);
    // explain works on it, and CP-LRP is conservative up to the (zero) biases of this bias-free model
    lrp_explain_opts o;
    lrp_explain_opts_default(&o);
    o.method = LRP_METHOD_CPLRP;
    lrp_explanation e;
    CHECK(lrp_explain(m, g->ids, g->n_ids, &o, &e, &err) == 0);
    CHECK(e.target == g->top_ids[0]);
    CHECK_NEAR(e.relevance_sum, e.start_value, 1e-4 * fabs(e.start_value));
    lrp_explanation_free(&e);
    free(gen);
    free(logits);
    lrp_model_close(m);
}

TEST(stories260k_gguf_reproduces_its_golden_logits_and_greedy_continuation) {
    golden g = {"models/stories260K/stories260K.gguf",
                {1, 403, 407, 261, 378}, 5,
                {432, 383, 322, 353, 323}, {17.7994f, 14.2813f, 9.7096f, 9.5873f, 9.1342f},
                {-6.2229f, 8.4043f, -6.2237f, -6.2225f, -6.2220f},
                {432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419, 292}};
    check_golden(&g);
    g.path = "models/stories260K/tinyllamas-stories-260k-f32.gguf";  // GGUF v1, same weights
    check_golden(&g);
}

TEST(tinystories_656k_safetensors_reproduces_its_golden_logits_and_greedy_continuation) {
    golden g = {"models/TinyStories-656K",
                {1, 80, 147, 201, 282, 57}, 6,
                {313, 8, 1773, 404, 547}, {17.3808f, 13.7726f, 13.7435f, 12.6918f, 11.3585f},
                {0.0291f, -0.2011f, -0.4471f, 1.9164f, -2.5787f},
                {313, 598, 303, 1049, 1468, 267, 628, 333, 94, 1210, 263, 251, 604, 94, 1030, 94, 1030, 94, 436, 220}};
    check_golden(&g);
}

TEST_MAIN(T(stories260k_gguf_reproduces_its_golden_logits_and_greedy_continuation),
          T(tinystories_656k_safetensors_reproduces_its_golden_logits_and_greedy_continuation))

// Generation: the sampler against closed-form distributions, and the KV-cache decoding path against
// full recomputation of every prefix.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "explain/explain.h"
#include "explain/generate.h"
#include "harness.h"
#include "support/tiny_ckpt.h"

TEST(greedy_and_degenerate_sampling_pick_the_argmax) {
    float logits[6] = {0.1f, 2.0f, -1.0f, 1.9f, 0.0f, 1.0f};
    uint64_t rng = 5;
    float l[6];
    lrp_sampler greedy = {0, 0, 1, 0}, k1 = {1.0f, 1, 1, 3}, p_small = {1.0f, 0, 0.01f, 3};
    memcpy(l, logits, sizeof l);
    CHECK(lrp_sample(l, 6, &greedy, &rng) == 1);
    for (int i = 0; i < 50; i++) {
        memcpy(l, logits, sizeof l);
        CHECK(lrp_sample(l, 6, &k1, &rng) == 1);
        memcpy(l, logits, sizeof l);
        CHECK(lrp_sample(l, 6, &p_small, &rng) == 1);
    }
}

TEST(sampling_frequencies_follow_the_tempered_softmax_restricted_to_top_k_and_top_p) {
    float logits[5] = {1.0f, 0.5f, 0.0f, -0.5f, -3.0f};
    double T = 0.7;
    // expected: softmax(logits / T) over the top 3 (top_k = 3), renormalised
    double p[5], z = 0;
    for (int i = 0; i < 3; i++) z += p[i] = exp(logits[i] / T);
    for (int i = 0; i < 3; i++) p[i] /= z;
    lrp_sampler s = {(float)T, 3, 1, 42};
    uint64_t rng = s.seed;
    int counts[5] = {0}, N = 40000;
    for (int n = 0; n < N; n++) {
        float l[5];
        memcpy(l, logits, sizeof l);
        counts[lrp_sample(l, 5, &s, &rng)]++;
    }
    for (int i = 0; i < 3; i++) CHECK_NEAR((double)counts[i] / N, p[i], 0.01);
    CHECK(counts[3] == 0 && counts[4] == 0);
    // top_p = 0.6: the smallest prefix of the sorted probabilities reaching 0.6 (full softmax at T = 1)
    double q[5], zq = 0;
    for (int i = 0; i < 5; i++) zq += q[i] = exp(logits[i]);
    for (int i = 0; i < 5; i++) q[i] /= zq;
    int keep = 0;
    for (double cum = 0; cum < 0.6; keep++) cum += q[keep];
    lrp_sampler sp = {1.0f, 0, 0.6f, 7};
    rng = 7;
    memset(counts, 0, sizeof counts);
    for (int n = 0; n < N; n++) {
        float l[5];
        memcpy(l, logits, sizeof l);
        counts[lrp_sample(l, 5, &sp, &rng)]++;
    }
    double mass = 0;
    for (int i = 0; i < keep; i++) mass += q[i];
    for (int i = 0; i < 5; i++) CHECK_NEAR((double)counts[i] / N, i < keep ? q[i] / mass : 0.0, 0.01);
}

TEST(kv_cache_generation_equals_recomputing_every_prefix) {
    char dir[] = "/tmp/attnlrp-test-gen-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    tiny_ckpt_opts o = tiny_ckpt_defaults();
    o.model_type = "qwen3";
    o.head_dim = 8;
    o.vocab = 30;
    lrp_err err;
    lrp_model *m = NULL;
    CHECK(tiny_ckpt_write(dir, &o, NULL, &err) == 0);
    CHECK(lrp_model_open(&m, dir, &err) == 0);
    if (!m) return;
    int prompt[3] = {1, 4, 9}, *gen = NULL, n = 0;
    CHECK(lrp_generate(m, prompt, 3, 12, NULL, NULL, 0, 0, NULL, NULL, &gen, &n, &err) == 0);
    CHECK(n == 12);
    int seq[16];
    memcpy(seq, prompt, sizeof prompt);
    float logits[30];
    for (int i = 0; i < n; i++) {
        CHECK(lrp_forward_logits(m, seq, 3 + i, -1, NULL, NULL, 0, logits, &err) == 0);
        int best = 0;
        for (int v = 1; v < 30; v++)
            if (logits[v] > logits[best]) best = v;
        CHECK(gen[i] == best);
        seq[3 + i] = gen[i];
    }
    // the same with an intervention applied at every step
    lrp_intervention iv = {1, 5, LRP_SET_SCALE, -4.0f};
    free(gen);
    CHECK(lrp_generate(m, prompt, 3, 8, NULL, &iv, 1, 0, NULL, NULL, &gen, &n, &err) == 0);
    memcpy(seq, prompt, sizeof prompt);
    for (int i = 0; i < n; i++) {
        CHECK(lrp_forward_logits(m, seq, 3 + i, -1, NULL, &iv, 1, logits, &err) == 0);
        int best = 0;
        for (int v = 1; v < 30; v++)
            if (logits[v] > logits[best]) best = v;
        CHECK(gen[i] == best);
        seq[3 + i] = gen[i];
    }
    free(gen);
    lrp_model_close(m);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

TEST_MAIN(T(greedy_and_degenerate_sampling_pick_the_argmax),
          T(sampling_frequencies_follow_the_tempered_softmax_restricted_to_top_k_and_top_p),
          T(kv_cache_generation_equals_recomputing_every_prefix))

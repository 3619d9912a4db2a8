// Model-level behaviour on tiny random checkpoints in exact HF layout (written here, all biases zero):
// CP-LRP conserves the start value for every family; AttnLRP does not (its softmax rule's bias term
// absorbs relevance), and the missing rule would make it look like gradient × input.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "explain/explain.h"
#include "harness.h"
#include "support/tiny_ckpt.h"

static char tmpdir[] = "/tmp/attnlrp-test-models-XXXXXX";
static int have_tmpdir;

static void remove_tmpdir(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
}

// Writes the checkpoint (once per name) under a temporary directory and opens it.
static lrp_model *open_tiny(const char *name, const tiny_ckpt_opts *o) {
    if (!have_tmpdir) {
        if (!mkdtemp(tmpdir)) return NULL;
        have_tmpdir = 1;
        atexit(remove_tmpdir);
    }
    char dir[256];
    lrp_err err;
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, name);
    if (access(dir, F_OK) != 0) {
        if (mkdir(dir, 0700) != 0) return NULL;
        if (tiny_ckpt_write(dir, o, NULL, &err)) {
            fprintf(stderr, "  tiny_ckpt_write: %s\n", err.msg);
            return NULL;
        }
    }
    lrp_model *m = NULL;
    if (lrp_model_open(&m, dir, &err)) {
        fprintf(stderr, "  open %s: %s\n", name, err.msg);
        return NULL;
    }
    return m;
}

typedef struct {
    const char *name;
    tiny_ckpt_opts o;
} family_case;

static int family_cases(family_case *fc) {
    int n = 0;
    tiny_ckpt_opts base = tiny_ckpt_defaults();
    base.hidden = 32;
    base.heads = 4;
    base.kv_heads = 2;
    base.intermediate = 48;
    base.vocab = 50;
    base.layers = 2;
    fc[n].name = "llama";
    fc[n++].o = base;
    fc[n].name = "llama_tied";
    fc[n].o = base;
    fc[n++].o.tie_word_embeddings = 1;
    fc[n].name = "mistral";
    fc[n].o = base;
    fc[n++].o.model_type = "mistral";
    fc[n].name = "qwen2";
    fc[n].o = base;
    fc[n++].o.model_type = "qwen2";
    fc[n].name = "qwen3";
    fc[n].o = base;
    fc[n].o.model_type = "qwen3";
    fc[n++].o.head_dim = 12;
    fc[n].name = "llama3_rope_bf16";
    fc[n].o = base;
    fc[n].o.rope_scaling = LRP_ROPE_SCALING_LLAMA3;
    fc[n].o.rope_factor = 8;
    fc[n].o.rope_low_freq_factor = 1;
    fc[n].o.rope_high_freq_factor = 4;
    fc[n].o.rope_original_max_position = 16;
    fc[n++].o.dtype = LRP_BF16;
    return n;
}

static const int ids[] = {1, 7, 3, 22, 9, 41, 5, 17, 30, 2, 11};
#define N_IDS 11

TEST(cplrp_conserves_the_start_value_for_every_family) {
    family_case fc[16];
    int n = family_cases(fc);
    for (int i = 0; i < n; i++) {
        lrp_model *m = open_tiny(fc[i].name, &fc[i].o);
        CHECK(m != NULL);
        if (!m) continue;
        lrp_explain_opts o;
        lrp_explain_opts_default(&o);
        o.method = LRP_METHOD_CPLRP;
        lrp_explanation e;
        lrp_err err;
        CHECK(lrp_explain(m, ids, N_IDS, &o, &e, &err) == 0);
        CHECK_NEAR(e.relevance_sum, e.start_value, 1e-4 * fabs(e.start_value));
        lrp_explanation_free(&e);
        // also from a latent neuron, and for a contrast
        o.latent_start[0] = 1, o.latent_start[1] = 5, o.latent_start[2] = 3;
        CHECK(lrp_explain(m, ids, N_IDS, &o, &e, &err) == 0);
        CHECK_NEAR(e.relevance_sum, e.start_value, 1e-4 * fabs(e.start_value) + 1e-7);
        lrp_explanation_free(&e);
        lrp_explain_opts_default(&o);
        o.method = LRP_METHOD_CPLRP;
        o.contrast = 4;
        CHECK(lrp_explain(m, ids, N_IDS, &o, &e, &err) == 0);
        CHECK_NEAR(e.relevance_sum, e.start_value, 1e-4 * fabs(e.start_value));
        lrp_explanation_free(&e);
        lrp_model_close(m);
    }
}

TEST(attnlrp_does_not_conserve_and_differs_from_gradient_times_input) {
    family_case fc[16];
    int n = family_cases(fc);
    for (int i = 0; i < n; i++) {
        lrp_model *m = open_tiny(fc[i].name, &fc[i].o);
        if (!m) continue;
        lrp_explain_opts o;
        lrp_explain_opts_default(&o);
        lrp_explanation a, gi;
        lrp_err err;
        CHECK(lrp_explain(m, ids, N_IDS, &o, &a, &err) == 0);
        o.method = LRP_METHOD_GRADXINPUT;
        CHECK(lrp_explain(m, ids, N_IDS, &o, &gi, &err) == 0);
        double ratio = a.relevance_sum / a.start_value;
        CHECK(fabs(ratio - 1.0) > 1e-3);
        double diff = 0;
        for (int t = 0; t < N_IDS; t++) diff = fmax(diff, fabs(a.relevance[t] - gi.relevance[t]));
        CHECK(diff > 1e-3);
        lrp_explanation_free(&a);
        lrp_explanation_free(&gi);
        lrp_model_close(m);
    }
}

TEST(argument_errors_name_the_parameter) {
    family_case fc[16];
    family_cases(fc);
    lrp_model *m = open_tiny(fc[0].name, &fc[0].o);
    if (!m) {
        CHECK(m != NULL);
        return;
    }
    lrp_explain_opts o;
    lrp_explanation e;
    lrp_err err;
    int bad_ids[] = {1, 50};
    lrp_explain_opts_default(&o);
    CHECK(lrp_explain(m, bad_ids, 2, &o, &e, &err) == -1);
    CHECK_STR(err.msg, "ids: id 50 at index 1 is out of range (vocabulary size 50)");
    CHECK(lrp_explain(m, ids, 0, &o, &e, &err) == -1);
    CHECK_STR(err.msg, "ids: no input tokens");
    o.position = 4;
    CHECK(lrp_explain(m, ids, 4, &o, &e, &err) == -1);
    CHECK_STR(err.msg, "position 4: out of range for 4 tokens (0..3)");
    lrp_explain_opts_default(&o);
    o.latent_start[0] = 2, o.latent_start[1] = 0, o.latent_start[2] = 0;
    CHECK(lrp_explain(m, ids, 4, &o, &e, &err) == -1);
    CHECK_STR(err.msg, "latent_start 2,0,0: layer 2 out of range (0..1)");
    o.latent_start[0] = 1, o.latent_start[2] = 48;
    CHECK(lrp_explain(m, ids, 4, &o, &e, &err) == -1);
    CHECK_STR(err.msg, "latent_start 1,0,48: neuron 48 out of range (0..47)");
    lrp_explain_opts_default(&o);
    o.latent_layer = 5;
    CHECK(lrp_explain(m, ids, 4, &o, &e, &err) == -1);
    CHECK_STR(err.msg, "latent_layer 5: out of range (0..1)");
    lrp_model_close(m);
}

TEST(interventions_change_the_prediction_and_setting_a_neuron_to_itself_changes_nothing) {
    family_case fc[16];
    family_cases(fc);
    lrp_model *m = open_tiny(fc[0].name, &fc[0].o);
    if (!m) {
        CHECK(m != NULL);
        return;
    }
    int V = m->cfg.vocab_size;
    float *base = malloc(V * sizeof(float)), *mod = malloc(V * sizeof(float));
    lrp_err err;
    CHECK(lrp_forward_logits(m, ids, 6, -1, NULL, NULL, 0, base, &err) == 0);
    lrp_intervention iv[2] = {{1, 3, LRP_SET_SCALE, 1.0f}, {0, 7, LRP_SET_ADD, 0.0f}};
    CHECK(lrp_forward_logits(m, ids, 6, -1, NULL, iv, 2, mod, &err) == 0);
    for (int i = 0; i < V; i++) CHECK_NEAR(mod[i], base[i], 0);
    lrp_intervention big = {1, 3, LRP_SET_VALUE, 50.0f};
    CHECK(lrp_forward_logits(m, ids, 6, -1, NULL, &big, 1, mod, &err) == 0);
    double diff = 0;
    for (int i = 0; i < V; i++) diff = fmax(diff, fabs(mod[i] - base[i]));
    CHECK(diff > 1e-2);
    free(base);
    free(mod);
    lrp_model_close(m);
}

// The baselines' per-token inputs, each against an independent way to make the same embeddings: scaling
// token t's embedding by 2 equals adding its own embedding row as noise; scale 0 equals dropping it.
TEST(embedding_scale_and_noise_act_on_the_word_embeddings) {
    family_case fc[16];
    family_cases(fc);
    lrp_model *m = open_tiny(fc[0].name, &fc[0].o);
    if (!m) {
        CHECK(m != NULL);
        return;
    }
    int V = m->cfg.vocab_size, d = m->cfg.hidden_size, T = 6, t = 2;
    float *a = malloc(V * sizeof(float)), *b = malloc(V * sizeof(float)), scale[6], *noise = calloc((size_t)T * d, sizeof(float));
    for (int i = 0; i < T; i++) scale[i] = 1.0f;
    scale[t] = 2.0f;
    const lrp_tensor *emb = lrp_tf_find(&m->tf, "model.embed_tokens.weight");
    CHECK(emb != NULL);
    if (emb) memcpy(noise + (size_t)t * d, (const float *)emb->data + (size_t)ids[t] * d, (size_t)d * sizeof(float));
    lrp_inputs scaled = {.ids = ids, .T = T, .embed_scale = scale}, noisy = {.ids = ids, .T = T, .embed_noise = noise};
    lrp_err err;
    CHECK(lrp_forward_outputs(m, &scaled, -1, NULL, 0, a, &err) == 0);
    CHECK(lrp_forward_outputs(m, &noisy, -1, NULL, 0, b, &err) == 0);
    for (int i = 0; i < V; i++) CHECK_NEAR(a[i], b[i], 1e-5 * (1 + fabs(a[i])));
    unsigned char drop[6] = {0, 0, 1, 0, 0, 0};
    scale[t] = 0.0f;
    CHECK(lrp_forward_outputs(m, &scaled, -1, NULL, 0, a, &err) == 0);
    CHECK(lrp_forward_logits(m, ids, T, -1, drop, NULL, 0, b, &err) == 0);
    for (int i = 0; i < V; i++) CHECK(a[i] == b[i]);
    free(a);
    free(b);
    free(noise);
    lrp_model_close(m);
}

TEST_MAIN(T(embedding_scale_and_noise_act_on_the_word_embeddings), T(cplrp_conserves_the_start_value_for_every_family),
          T(attnlrp_does_not_conserve_and_differs_from_gradient_times_input), T(argument_errors_name_the_parameter),
          T(interventions_change_the_prediction_and_setting_a_neuron_to_itself_changes_nothing))

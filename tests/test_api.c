// The public C API (include/attnlrp.h): every getter against the library's own explain on the same
// inputs (a separate path through the internal headers) and against closed forms (argmax, softmax,
// logsumexp, sums), and every error path: NULL pointers, wrong struct sizes, buffers too small (the
// size needed reported, the buffer untouched), unknown names and kinds, a closed session.
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "attnlrp.h"
#include "harness.h"
// The library's internals, only to compute the same explanation by a second route.
#include "api/session.h"
#include "explain/explain.h"

#define PROMPT "Leo's dog is called"

static attnlrp_session *open_default(void) {
    attnlrp_session *s = NULL;
    int rc = attnlrp_open("models/default", 0, &s);
    if (rc) fprintf(stderr, "  open models/default: %s\n", attnlrp_last_error());
    return s;
}

// The same prediction through lrp_session / lrp_explain directly.
static int internal_explain(const char *model, const char *text, const lrp_explain_opts *o, lrp_explanation *e) {
    lrp_session ss;
    lrp_text_inputs ti;
    lrp_err err;
    if (lrp_session_open(&ss, model, &err)) return -1;
    int rc = lrp_session_encode(&ss, text, NULL, &ti, &err);
    lrp_explain_opts opts = *o;
    if (!rc && opts.position < 0) rc = lrp_default_position(&ss.m->cfg, ss.tok, ti.ids, ti.T, &opts.position, &err);
    lrp_inputs in = {.ids = ti.ids, .T = ti.T, .token_types = ti.token_types};
    if (!rc) rc = lrp_explain_inputs(ss.m, &in, &opts, e, &err);
    if (rc) fprintf(stderr, "  internal explain: %s\n", err.msg);
    lrp_text_inputs_free(&ti);
    lrp_session_close(&ss);
    return rc;
}

// n floats of a getter, malloc'ed (the size asked first); NULL on failure.
static float *get_relevance(const attnlrp_result *r, int kind, size_t *n) {
    if (attnlrp_result_relevance(r, kind, NULL, 0, n)) return NULL;
    float *v = malloc((*n + 1) * sizeof *v);
    if (v && attnlrp_result_relevance(r, kind, v, *n, n)) {
        free(v);
        return NULL;
    }
    return v;
}

static char *get_string(const attnlrp_result *r, int kind, size_t index) {
    size_t n;
    if (attnlrp_result_string(r, kind, index, NULL, 0, &n)) return NULL;
    char *s = malloc(n);
    if (s && attnlrp_result_string(r, kind, index, s, n, &n)) {
        free(s);
        return NULL;
    }
    return s;
}

static int contains(const char *hay, const char *needle) { return hay && strstr(hay, needle) != NULL; }

TEST(the_version_macro_and_function_agree) {
    CHECK_STR(attnlrp_version(), ATTNLRP_VERSION);
    CHECK(attnlrp_version_number() == ATTNLRP_VERSION_NUMBER);
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", ATTNLRP_VERSION_MAJOR, ATTNLRP_VERSION_MINOR, ATTNLRP_VERSION_PATCH);
    CHECK_STR(ATTNLRP_VERSION, want);
    CHECK_STR(attnlrp_status_name(ATTNLRP_ERR_BUFFER), "buffer");
    CHECK_STR(attnlrp_status_name(99), "unknown");
}

TEST(the_default_model_opens_with_its_tokenizer_and_describes_itself) {
    // found as the CLI finds it: here through $ATTNLRP_MODEL (a test binary lives in build/tests/, not
    // beside the build directory; tests/test_install.sh opens the installed default model)
    setenv("ATTNLRP_MODEL", "models/default", 1);
    attnlrp_session *s = NULL;
    CHECK(attnlrp_open(NULL, 1, &s) == ATTNLRP_OK);
    unsetenv("ATTNLRP_MODEL");
    if (!s) return;
    char path[4096], def[4096];
    size_t n;
    CHECK(attnlrp_model_path(s, path, sizeof path, &n) == ATTNLRP_OK);
    CHECK(n == strlen(path) + 1);
    setenv("ATTNLRP_MODEL", "models/default", 1);
    CHECK(attnlrp_default_model(def, sizeof def, &n) == ATTNLRP_OK);
    unsetenv("ATTNLRP_MODEL");
    CHECK_STR(path, def);
    CHECK(contains(path, "models/default"));
    attnlrp_model_info info = {.size = sizeof info};
    CHECK(attnlrp_session_info(s, &info) == ATTNLRP_OK);
    // the shipped model as its card describes it: a 4-layer LLaMA, hidden 64, 4 heads
    CHECK_STR(info.model_type, "llama");
    CHECK_STR(info.format, "safetensors");
    CHECK(info.task == ATTNLRP_TASK_CAUSAL_LM);
    CHECK(info.n_layers == 4 && info.hidden_size == 64 && info.n_heads == 4);
    CHECK(info.has_tokenizer == 1 && info.image_size == 0);
    CHECK(info.n_outputs == info.vocab_size && info.vocab_size > 0);
    info.size = 8;
    CHECK(attnlrp_session_info(s, &info) == ATTNLRP_ERR_ARGUMENT);
    CHECK(contains(attnlrp_last_error(), "info.size 8"));
    CHECK(attnlrp_session_info(s, NULL) == ATTNLRP_ERR_NULL);
    attnlrp_session_free(s);
}

TEST(opening_fails_cleanly_naming_the_parameter) {
    attnlrp_session *s = (attnlrp_session *)&s;
    CHECK(attnlrp_open("models/default", 0, NULL) == ATTNLRP_ERR_NULL);
    CHECK(contains(attnlrp_last_error(), "out"));
    CHECK(attnlrp_open("/nonexistent/model", 0, &s) == ATTNLRP_ERR_MODEL);
    CHECK(s == NULL);
    CHECK(contains(attnlrp_last_error(), "/nonexistent/model"));
    CHECK(attnlrp_open("models/default", -2, &s) == ATTNLRP_ERR_ARGUMENT);
    CHECK(contains(attnlrp_last_error(), "threads -2"));
    CHECK(attnlrp_open("", 0, &s) == ATTNLRP_ERR_ARGUMENT);
    CHECK(contains(attnlrp_last_error(), "model"));
    attnlrp_session_free(NULL);  // allowed
    attnlrp_result_free(NULL);
}

TEST(tokenize_reports_the_size_needed_and_round_trips_through_detokenize) {
    attnlrp_session *s = open_default();
    if (!s) return;
    size_t n = 0, m = 0;
    CHECK(attnlrp_tokenize(s, PROMPT, NULL, 0, NULL, 0, &n) == ATTNLRP_OK);
    CHECK(n == 6);  // <s> Leo 's dog is called (the README's explain output)
    int ids[16], small[2] = {-7, -7};
    CHECK(attnlrp_tokenize(s, PROMPT, NULL, 0, small, 2, &m) == ATTNLRP_ERR_BUFFER);
    CHECK(m == n);
    CHECK(small[0] == -7 && small[1] == -7);  // untouched
    CHECK(contains(attnlrp_last_error(), "cap 2"));
    CHECK(attnlrp_tokenize(s, PROMPT, NULL, 0, ids, 16, &n) == ATTNLRP_OK);
    int plain[16];
    size_t np;
    CHECK(attnlrp_tokenize(s, PROMPT, NULL, ATTNLRP_NO_SPECIAL, plain, 16, &np) == ATTNLRP_OK);
    CHECK(np + 1 == n && memcmp(plain, ids + 1, np * sizeof(int)) == 0);  // only the BOS is special
    char text[128];
    size_t nt;
    CHECK(attnlrp_detokenize(s, plain, np, 0, text, sizeof text, &nt) == ATTNLRP_OK);
    CHECK_STR(text, PROMPT);
    CHECK(nt == strlen(PROMPT) + 1);
    CHECK(attnlrp_detokenize(s, ids, n, ATTNLRP_SKIP_SPECIAL, text, sizeof text, &nt) == ATTNLRP_OK);
    CHECK_STR(text, PROMPT);
    char tiny[4] = "xyz";
    CHECK(attnlrp_detokenize(s, plain, np, 0, tiny, sizeof tiny, &nt) == ATTNLRP_ERR_BUFFER);
    CHECK(nt == strlen(PROMPT) + 1 && !strcmp(tiny, "xyz"));
    char tok[64];
    CHECK(attnlrp_token_string(s, plain[2], tok, sizeof tok, &nt) == ATTNLRP_OK);
    CHECK_STR(tok, " dog");
    // errors
    CHECK(attnlrp_tokenize(s, NULL, NULL, 0, ids, 16, &n) == ATTNLRP_ERR_NULL);
    CHECK(contains(attnlrp_last_error(), "text"));
    CHECK(attnlrp_tokenize(s, PROMPT, NULL, 4, ids, 16, &n) == ATTNLRP_ERR_ARGUMENT);
    CHECK(contains(attnlrp_last_error(), "flags 4"));
    CHECK(attnlrp_tokenize(s, PROMPT, NULL, 0, ids, 16, NULL) == ATTNLRP_ERR_NULL);
    CHECK(attnlrp_tokenize(s, PROMPT, NULL, 0, NULL, 5, &n) == ATTNLRP_ERR_NULL);
    CHECK(contains(attnlrp_last_error(), "buf"));
    CHECK(attnlrp_tokenize(NULL, PROMPT, NULL, 0, ids, 16, &n) == ATTNLRP_ERR_NULL);
    CHECK(contains(attnlrp_last_error(), "session"));
    CHECK(attnlrp_detokenize(s, NULL, 3, 0, text, sizeof text, &nt) == ATTNLRP_ERR_NULL);
    int bad = 1 << 28;
    CHECK(attnlrp_detokenize(s, &bad, 1, 0, text, sizeof text, &nt) == ATTNLRP_ERR_ARGUMENT);
    CHECK(attnlrp_token_string(s, -1, tok, sizeof tok, &nt) == ATTNLRP_ERR_ARGUMENT);
    CHECK(contains(attnlrp_last_error(), "id -1"));
    attnlrp_session_free(s);
}

TEST(explain_getters_equal_the_library_explanation_and_the_closed_forms) {
    attnlrp_session *s = open_default();
    if (!s) return;
    attnlrp_result *r = NULL;
    CHECK(attnlrp_explain(s, PROMPT, NULL, &r) == ATTNLRP_OK);
    lrp_explain_opts o;
    lrp_explain_opts_default(&o);
    lrp_explanation e = {0};
    if (!r || internal_explain("models/default", PROMPT, &o, &e)) goto out;
    attnlrp_summary sm = {.size = sizeof sm};
    CHECK(attnlrp_result_summary(r, &sm) == ATTNLRP_OK);
    CHECK(sm.task == ATTNLRP_TASK_CAUSAL_LM && sm.n_tokens == e.T && sm.position == e.T - 1);
    CHECK(sm.target == e.target && sm.contrast == -1 && sm.latent_start[0] == -1);
    CHECK(sm.n_layers == 4 && sm.n_top == 5 && sm.n_answer == 0 && sm.n_decoder_tokens == 0);
    CHECK_NEAR(sm.start_value, e.start_value, 1e-6 * fabs(e.start_value));
    size_t n;
    float *rel = get_relevance(r, ATTNLRP_INPUT_TOKENS, &n);
    CHECK(rel && n == (size_t)e.T);
    double sum = 0;
    for (size_t t = 0; rel && t < n; t++) {
        CHECK_NEAR(rel[t], e.relevance[t], 1e-6 * (fabs(e.relevance[t]) + 1e-3));
        sum += rel[t];
    }
    CHECK_NEAR(sum, sm.relevance_sum, 1e-5 * (fabs(sum) + 1));  // LLaMA: only the word embeddings carry relevance
    free(rel);
    int ids[16];
    CHECK(attnlrp_result_ids(r, ATTNLRP_IDS_INPUT, ids, 16, &n) == ATTNLRP_OK && n == (size_t)e.T);
    CHECK(memcmp(ids, e.ids, n * sizeof(int)) == 0);
    // logits: the target is their argmax, the top-5 their largest with softmax probabilities
    float *logits = malloc((size_t)sm.n_outputs * sizeof *logits);
    CHECK(attnlrp_result_logits(r, logits, (size_t)sm.n_outputs, &n) == ATTNLRP_OK && n == (size_t)sm.n_outputs);
    int arg = 0;
    double mx = -INFINITY, z = 0;
    for (size_t v = 0; v < n; v++)
        if (logits[v] > mx) mx = logits[v], arg = (int)v;
    for (size_t v = 0; v < n; v++) z += exp(logits[v] - mx);
    CHECK(arg == sm.target);
    CHECK_NEAR(sm.target_logit, logits[arg], 1e-6);
    attnlrp_top top[5];
    CHECK(attnlrp_result_top(r, top, 5, &n) == ATTNLRP_OK && n == 5);
    CHECK(top[0].id == arg);
    for (int i = 0; i < 5; i++) {
        CHECK_NEAR(top[i].logit, logits[top[i].id], 0);
        CHECK_NEAR(top[i].prob, exp(logits[top[i].id] - mx) / z, 1e-6);
        if (i) CHECK(top[i].logit <= top[i - 1].logit);
    }
    attnlrp_top one[1];
    CHECK(attnlrp_result_top(r, one, 1, &n) == ATTNLRP_ERR_BUFFER && n == 5);
    CHECK(attnlrp_result_logits(r, logits, 3, &n) == ATTNLRP_ERR_BUFFER && n == (size_t)sm.n_outputs);
    free(logits);
    // strings: the tokens after <s> spell the prompt; the target names the top prediction
    char joined[256] = "";
    for (int t = 1; t < sm.n_tokens; t++) {
        char *tok = get_string(r, ATTNLRP_STR_TOKEN, (size_t)t);
        CHECK(tok != NULL);
        if (tok) strncat(joined, tok, sizeof joined - strlen(joined) - 1);
        free(tok);
    }
    CHECK_STR(joined, PROMPT);
    char *target = get_string(r, ATTNLRP_STR_TARGET, 0), *top0 = get_string(r, ATTNLRP_STR_TOP, 0);
    CHECK_STR(target, top0);
    free(target);
    free(top0);
    char *method = get_string(r, ATTNLRP_STR_METHOD, 0), *score = get_string(r, ATTNLRP_STR_SCORE, 0);
    char *formula = get_string(r, ATTNLRP_STR_EXPLAINED, 0), *family = get_string(r, ATTNLRP_STR_MODEL_TYPE, 0);
    CHECK_STR(method, "attnlrp");
    CHECK_STR(score, "logit");
    CHECK_STR(formula, "logit(target)");
    CHECK_STR(family, "llama");
    free(method);
    free(score);
    free(formula);
    free(family);
out:
    lrp_explanation_free(&e);
    attnlrp_result_free(r);
    attnlrp_session_free(s);
}

TEST(options_reach_the_explanation_target_contrast_score_method) {
    attnlrp_session *s = open_default();
    if (!s) return;
    attnlrp_result *r0 = NULL, *r = NULL;
    CHECK(attnlrp_explain(s, PROMPT, NULL, &r0) == ATTNLRP_OK);
    if (!r0) goto out;
    attnlrp_top top[5];
    size_t n, nv;
    attnlrp_result_top(r0, top, 5, &n);
    attnlrp_model_info info = {.size = sizeof info};
    attnlrp_session_info(s, &info);
    float *logits = malloc((size_t)info.n_outputs * sizeof *logits);
    attnlrp_result_logits(r0, logits, (size_t)info.n_outputs, &nv);
    attnlrp_options o;
    CHECK(attnlrp_options_init(&o, sizeof o) == ATTNLRP_OK);
    CHECK(o.size == sizeof o && o.target == -1 && o.latent_start[0] == -1 && o.latent_layer == -1);
    o.target = top[1].id;       // the runner-up, contrasted with the winner, as log-probabilities
    o.contrast = top[0].id;
    o.score = "logprob";
    o.method = "gradxinput";
    CHECK(attnlrp_explain(s, PROMPT, &o, &r) == ATTNLRP_OK);
    if (!r) goto done;
    attnlrp_summary sm = {.size = sizeof sm};
    attnlrp_result_summary(r, &sm);
    double mx = logits[top[0].id], z = 0;
    for (size_t v = 0; v < nv; v++) z += exp(logits[v] - mx);
    double lse = mx + log(z);
    CHECK(sm.target == top[1].id && sm.contrast == top[0].id);
    CHECK_NEAR(sm.target_score, logits[top[1].id] - lse, 1e-5);
    CHECK_NEAR(sm.start_value, (double)logits[top[1].id] - logits[top[0].id], 1e-5);  // lse cancels
    char *m = get_string(r, ATTNLRP_STR_METHOD, 0), *c = get_string(r, ATTNLRP_STR_CONTRAST, 0);
    char *t1 = get_string(r0, ATTNLRP_STR_TOP, 0);
    CHECK_STR(m, "gradxinput");
    CHECK_STR(c, t1);
    free(m);
    free(c);
    free(t1);
    attnlrp_result_free(r);
    r = NULL;
    // target given as text: the token string of the runner-up
    char text[64];
    attnlrp_token_string(s, top[1].id, text, sizeof text, &n);
    attnlrp_options_init(&o, sizeof o);
    o.target_text = text;
    CHECK(attnlrp_explain(s, PROMPT, &o, &r) == ATTNLRP_OK);
    if (r) {
        attnlrp_result_summary(r, &sm);
        CHECK(sm.target == top[1].id);
    }
done:
    free(logits);
out:
    attnlrp_result_free(r);
    attnlrp_result_free(r0);
    attnlrp_session_free(s);
}

TEST(readouts_have_their_shapes_and_values_and_are_absent_unless_asked) {
    attnlrp_session *s = open_default();
    if (!s) return;
    attnlrp_options o;
    attnlrp_options_init(&o, sizeof o);
    o.layers = 1;
    o.heads = 1;
    o.latent_layer = 2;
    o.latent_per_position = 1;
    o.neurons = 1;
    attnlrp_result *r = NULL;
    CHECK(attnlrp_explain(s, PROMPT, &o, &r) == ATTNLRP_OK);
    lrp_explain_opts io;
    lrp_explain_opts_default(&io);
    io.layers = io.heads = io.neurons = io.latent_per_position = 1;
    io.latent_layer = 2;
    lrp_explanation e = {0};
    if (!r || internal_explain("models/default", PROMPT, &io, &e)) goto out;
    struct {
        int which;
        const float *want;
        size_t rows, cols;
    } cases[] = {
        {ATTNLRP_READOUT_LAYERS, e.residual_relevance, 4, (size_t)e.T},
        {ATTNLRP_READOUT_HEADS, e.head_relevance, 4, 4},
        {ATTNLRP_READOUT_LATENT, e.latent_relevance, 1, (size_t)e.n_latent},
        {ATTNLRP_READOUT_LATENT_POSITIONS, e.latent_position_relevance, (size_t)e.n_latent_positions, (size_t)e.n_latent},
        {ATTNLRP_READOUT_NEURONS, e.neuron_relevance, 4, (size_t)e.neuron_width},
        {ATTNLRP_READOUT_NEURON_ACTIVATIONS, e.neuron_activation, 4, (size_t)e.neuron_width},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        size_t n, rows, cols;
        CHECK(attnlrp_result_readout(r, cases[k].which, NULL, 0, &n, &rows, &cols) == ATTNLRP_OK);
        CHECK(rows == cases[k].rows && cols == cases[k].cols && n == rows * cols && n > 0);
        float *v = malloc(n * sizeof *v);
        CHECK(attnlrp_result_readout(r, cases[k].which, v, n, &n, NULL, NULL) == ATTNLRP_OK);
        int same = 1;
        for (size_t i = 0; i < n; i++) same &= fabsf(v[i] - cases[k].want[i]) <= 1e-6f * (fabsf(cases[k].want[i]) + 1e-3f);
        CHECK(same);
        if (n > 1) CHECK(attnlrp_result_readout(r, cases[k].which, v, n - 1, &n, NULL, NULL) == ATTNLRP_ERR_BUFFER);
        free(v);
    }
    // each latent neuron's column over positions sums to its latent relevance (SPEC: per_position)
    size_t n, rows, cols;
    attnlrp_result_readout(r, ATTNLRP_READOUT_LATENT_POSITIONS, NULL, 0, &n, &rows, &cols);
    float *pp = malloc(n * sizeof *pp), *lat = malloc(cols * sizeof *lat);
    attnlrp_result_readout(r, ATTNLRP_READOUT_LATENT_POSITIONS, pp, n, &n, NULL, NULL);
    attnlrp_result_readout(r, ATTNLRP_READOUT_LATENT, lat, cols, &n, NULL, NULL);
    for (size_t j = 0; j < cols; j += 17) {
        double col = 0;
        for (size_t i = 0; i < rows; i++) col += pp[i * cols + j];
        CHECK_NEAR(col, lat[j], 1e-4 * (fabs(lat[j]) + 1e-3));
    }
    free(pp);
    free(lat);
    // not asked / not in this model
    attnlrp_result *plain = NULL;
    CHECK(attnlrp_explain(s, PROMPT, NULL, &plain) == ATTNLRP_OK);
    CHECK(attnlrp_result_readout(plain, ATTNLRP_READOUT_LAYERS, NULL, 0, &n, &rows, &cols) == ATTNLRP_ERR_ABSENT);
    CHECK(n == 0 && rows == 0 && cols == 0 && contains(attnlrp_last_error(), "options.layers"));
    CHECK(attnlrp_result_readout(plain, ATTNLRP_READOUT_EXPERTS, NULL, 0, &n, NULL, NULL) == ATTNLRP_ERR_ABSENT);
    CHECK(attnlrp_result_readout(plain, 42, NULL, 0, &n, NULL, NULL) == ATTNLRP_ERR_ARGUMENT);
    CHECK(contains(attnlrp_last_error(), "which 42"));
    CHECK(attnlrp_result_relevance(plain, ATTNLRP_INPUT_POSITIONS, NULL, 0, &n) == ATTNLRP_ERR_ABSENT);
    CHECK(attnlrp_result_relevance(plain, ATTNLRP_INPUT_PIXELS, NULL, 0, &n) == ATTNLRP_ERR_ABSENT);
    CHECK(attnlrp_result_relevance(plain, 17, NULL, 0, &n) == ATTNLRP_ERR_ARGUMENT);
    CHECK(attnlrp_result_ids(plain, ATTNLRP_IDS_DECODER, NULL, 0, &n) == ATTNLRP_ERR_ABSENT);
    CHECK(attnlrp_result_ids(plain, 9, NULL, 0, &n) == ATTNLRP_ERR_ARGUMENT);
    CHECK(attnlrp_result_string(plain, ATTNLRP_STR_CONTRAST, 0, NULL, 0, &n) == ATTNLRP_ERR_ABSENT);
    CHECK(attnlrp_result_string(plain, ATTNLRP_STR_TOP, 5, NULL, 0, &n) == ATTNLRP_ERR_ARGUMENT);
    CHECK(contains(attnlrp_last_error(), "index 5"));
    CHECK(attnlrp_result_string(plain, 99, 0, NULL, 0, &n) == ATTNLRP_ERR_ARGUMENT);
    attnlrp_result_free(plain);
out:
    lrp_explanation_free(&e);
    attnlrp_result_free(r);
    attnlrp_session_free(s);
}

TEST(an_answer_is_explained_as_the_sum_of_its_tokens_scores) {
    attnlrp_session *s = open_default();
    if (!s) return;
    attnlrp_options o;
    attnlrp_options_init(&o, sizeof o);
    o.answer_text = " Buddy";
    attnlrp_result *r = NULL;
    CHECK(attnlrp_explain(s, PROMPT, &o, &r) == ATTNLRP_OK);
    if (r) {
        attnlrp_summary sm = {.size = sizeof sm};
        attnlrp_result_summary(r, &sm);
        size_t n;
        float al[4];
        CHECK(sm.n_answer >= 1);
        CHECK(attnlrp_result_readout(r, ATTNLRP_READOUT_ANSWER_LOGITS, al, 4, &n, NULL, NULL) == ATTNLRP_OK);
        CHECK(n == (size_t)sm.n_answer);
        char *score = get_string(r, ATTNLRP_STR_SCORE, 0);
        CHECK_STR(score, "logprob");  // the default score of an answer
        free(score);
        int ids[4];
        CHECK(attnlrp_result_ids(r, ATTNLRP_IDS_ANSWER, ids, 4, &n) == ATTNLRP_OK && n == (size_t)sm.n_answer);
    }
    attnlrp_result_free(r);
    attnlrp_session_free(s);
}

TEST(rendered_json_holds_the_getters_values) {
    attnlrp_session *s = open_default();
    if (!s) return;
    attnlrp_result *r = NULL;
    CHECK(attnlrp_explain(s, PROMPT, NULL, &r) == ATTNLRP_OK);
    if (!r) goto out;
    size_t n;
    CHECK(attnlrp_result_render(r, ATTNLRP_FORMAT_JSON, NULL, 0, &n) == ATTNLRP_OK && n > 100);
    char *js = malloc(n);
    CHECK(attnlrp_result_render(r, ATTNLRP_FORMAT_JSON, js, n, &n) == ATTNLRP_OK);
    json_error_t je;
    json_t *doc = json_loads(js, 0, &je);
    CHECK(doc != NULL);
    float rel[16];
    attnlrp_result_relevance(r, ATTNLRP_INPUT_TOKENS, rel, 16, &n);
    json_t *jr = json_object_get(doc, "relevance");
    CHECK(json_array_size(jr) == n);
    for (size_t t = 0; t < n && t < json_array_size(jr); t++)
        CHECK((float)json_number_value(json_array_get(jr, t)) == rel[t]);  // 9 digits: the float itself
    CHECK_STR(json_string_value(json_object_get(doc, "method")), "attnlrp");
    json_decref(doc);
    char small[8];
    CHECK(attnlrp_result_render(r, ATTNLRP_FORMAT_JSON, small, sizeof small, &n) == ATTNLRP_ERR_BUFFER);
    free(js);
    CHECK(attnlrp_result_render(r, ATTNLRP_FORMAT_HTML, NULL, 0, &n) == ATTNLRP_OK);
    char *html = malloc(n);
    CHECK(attnlrp_result_render(r, ATTNLRP_FORMAT_HTML, html, n, &n) == ATTNLRP_OK);
    CHECK(contains(html, "<html") || contains(html, "<!DOCTYPE"));
    free(html);
    CHECK(attnlrp_result_render(r, ATTNLRP_FORMAT_TEXT, NULL, 0, &n) == ATTNLRP_OK && n > 10);
    CHECK(attnlrp_result_render(r, 7, NULL, 0, &n) == ATTNLRP_ERR_ARGUMENT);
out:
    attnlrp_result_free(r);
    attnlrp_session_free(s);
}

TEST(bad_explain_arguments_are_errors_naming_the_parameter) {
    attnlrp_session *s = open_default();
    if (!s) return;
    attnlrp_result *r = (attnlrp_result *)&r;
    attnlrp_options o;
    attnlrp_options_init(&o, sizeof o);
    int ids[3] = {1, 5, 7};
    CHECK(attnlrp_explain(s, NULL, &o, &r) == ATTNLRP_ERR_NULL && contains(attnlrp_last_error(), "text"));
    CHECK(attnlrp_explain(s, PROMPT, &o, NULL) == ATTNLRP_ERR_NULL && contains(attnlrp_last_error(), "out"));
    CHECK(attnlrp_explain(NULL, PROMPT, &o, &r) == ATTNLRP_ERR_NULL && r == NULL);
    CHECK(attnlrp_explain_ids(s, NULL, 3, &o, &r) == ATTNLRP_ERR_NULL && contains(attnlrp_last_error(), "ids"));
    CHECK(attnlrp_explain_ids(s, ids, 0, &o, &r) == ATTNLRP_ERR_ARGUMENT && contains(attnlrp_last_error(), "n_ids 0"));
    CHECK(attnlrp_explain_image(s, NULL, &o, &r) == ATTNLRP_ERR_NULL);
    CHECK(attnlrp_explain_image(s, "data/fashion/4-coat.png", &o, &r) == ATTNLRP_ERR_ARGUMENT);
    CHECK(contains(attnlrp_last_error(), "text model"));
    attnlrp_options bad = o;
    bad.size = sizeof bad - 8;
    CHECK(attnlrp_explain(s, PROMPT, &bad, &r) == ATTNLRP_ERR_ARGUMENT && contains(attnlrp_last_error(), "options.size"));
    CHECK(attnlrp_options_init(&bad, 12) == ATTNLRP_ERR_ARGUMENT && contains(attnlrp_last_error(), "size 12"));
    CHECK(attnlrp_options_init(NULL, sizeof bad) == ATTNLRP_ERR_NULL);
    // one field wrong at a time
    bad = o, bad.method = "lime";
    CHECK(attnlrp_explain(s, PROMPT, &bad, &r) == ATTNLRP_ERR_ARGUMENT && contains(attnlrp_last_error(), "method"));
    bad = o, bad.score = "odds";
    CHECK(attnlrp_explain(s, PROMPT, &bad, &r) == ATTNLRP_ERR_ARGUMENT && contains(attnlrp_last_error(), "options.score"));
    bad = o, bad.position = 99;
    CHECK(attnlrp_explain(s, PROMPT, &bad, &r) == ATTNLRP_ERR_ARGUMENT && contains(attnlrp_last_error(), "position 99"));
    bad = o, bad.position = -5;
    CHECK(attnlrp_explain(s, PROMPT, &bad, &r) == ATTNLRP_ERR_ARGUMENT && contains(attnlrp_last_error(), "position -5"));
    bad = o, bad.target = 1 << 20;
    CHECK(attnlrp_explain(s, PROMPT, &bad, &r) == ATTNLRP_ERR_ARGUMENT && contains(attnlrp_last_error(), "target"));
    bad = o, bad.target = 3, bad.target_text = " dog";
    CHECK(attnlrp_explain(s, PROMPT, &bad, &r) == ATTNLRP_ERR_ARGUMENT && contains(attnlrp_last_error(), "target_text"));
    bad = o, bad.target_text = "zzqxv wombat";
    CHECK(attnlrp_explain(s, PROMPT, &bad, &r) == ATTNLRP_ERR_ARGUMENT && contains(attnlrp_last_error(), "target_text"));
    bad = o, bad.latent_start[0] = 9, bad.latent_start[1] = 0, bad.latent_start[2] = 0;
    CHECK(attnlrp_explain(s, PROMPT, &bad, &r) == ATTNLRP_ERR_ARGUMENT && contains(attnlrp_last_error(), "latent_start"));
    bad = o, bad.latent_layer = 9;
    CHECK(attnlrp_explain(s, PROMPT, &bad, &r) == ATTNLRP_ERR_ARGUMENT && contains(attnlrp_last_error(), "latent_layer 9"));
    bad = o, bad.quadrature = "simpson";
    CHECK(attnlrp_explain(s, PROMPT, &bad, &r) == ATTNLRP_ERR_ARGUMENT && contains(attnlrp_last_error(), "quadrature"));
    bad = o, bad.softmax_rule = "none";
    CHECK(attnlrp_explain(s, PROMPT, &bad, &r) == ATTNLRP_ERR_ARGUMENT && contains(attnlrp_last_error(), "softmax_rule"));
    bad = o, bad.text_pair = "x";
    CHECK(attnlrp_explain_ids(s, ids, 3, &bad, &r) == ATTNLRP_ERR_ARGUMENT && contains(attnlrp_last_error(), "text_pair"));
    bad = o, bad.n_answer = 2;
    CHECK(attnlrp_explain(s, PROMPT, &bad, &r) == ATTNLRP_ERR_NULL && contains(attnlrp_last_error(), "answer_ids"));
    bad = o, bad.n_set = 1;
    CHECK(attnlrp_explain(s, PROMPT, &bad, &r) == ATTNLRP_ERR_NULL && contains(attnlrp_last_error(), "options.set"));
    attnlrp_intervention iv = {0, 100000, ATTNLRP_SET_VALUE, 1.0f};
    bad = o, bad.set = &iv, bad.n_set = 1;
    CHECK(attnlrp_explain(s, PROMPT, &bad, &r) == ATTNLRP_ERR_ARGUMENT && contains(attnlrp_last_error(), "100000"));
    iv.neuron = 0, iv.kind = 7;
    CHECK(attnlrp_explain(s, PROMPT, &bad, &r) == ATTNLRP_ERR_ARGUMENT && contains(attnlrp_last_error(), "kind 7"));
    iv.kind = ATTNLRP_SET_SCALE, iv.value = NAN;  // non-finite inputs are refused, never propagated
    CHECK(attnlrp_explain(s, PROMPT, &bad, &r) == ATTNLRP_ERR_ARGUMENT &&
          contains(attnlrp_last_error(), "options.set[0].value: not a finite number"));
    iv.value = INFINITY;
    CHECK(attnlrp_explain(s, PROMPT, &bad, &r) == ATTNLRP_ERR_ARGUMENT && contains(attnlrp_last_error(), "finite"));
    bad = o, bad.method = "smoothgrad", bad.noise = INFINITY;
    CHECK(attnlrp_explain(s, PROMPT, &bad, &r) == ATTNLRP_ERR_ARGUMENT && contains(attnlrp_last_error(), "noise"));
    bad = o, bad.n_decoder = 1, bad.decoder_ids = ids;
    CHECK(attnlrp_explain(s, PROMPT, &bad, &r) == ATTNLRP_ERR_ARGUMENT && contains(attnlrp_last_error(), "decoder_ids"));
    int big = 1 << 28;
    CHECK(attnlrp_explain_ids(s, &big, 1, &o, &r) == ATTNLRP_ERR_ARGUMENT && contains(attnlrp_last_error(), "ids"));
    CHECK(r == NULL);
    attnlrp_session_free(s);
}

TEST(a_closed_session_refuses_every_call_and_its_results_stay_readable) {
    attnlrp_session *s = open_default();
    if (!s) return;
    attnlrp_result *r = NULL;
    CHECK(attnlrp_explain(s, PROMPT, NULL, &r) == ATTNLRP_OK);
    CHECK(attnlrp_close(s) == ATTNLRP_OK);
    CHECK(attnlrp_close(s) == ATTNLRP_OK);  // twice is fine
    attnlrp_result *r2 = NULL;
    size_t n;
    int ids[8];
    char buf[64];
    attnlrp_model_info info = {.size = sizeof info};
    CHECK(attnlrp_explain(s, PROMPT, NULL, &r2) == ATTNLRP_ERR_CLOSED && r2 == NULL);
    CHECK(contains(attnlrp_last_error(), "closed"));
    CHECK(attnlrp_explain_ids(s, ids, 1, NULL, &r2) == ATTNLRP_ERR_CLOSED);
    CHECK(attnlrp_tokenize(s, PROMPT, NULL, 0, ids, 8, &n) == ATTNLRP_ERR_CLOSED);
    CHECK(attnlrp_detokenize(s, ids, 0, 0, buf, sizeof buf, &n) == ATTNLRP_ERR_CLOSED);
    CHECK(attnlrp_token_string(s, 1, buf, sizeof buf, &n) == ATTNLRP_ERR_CLOSED);
    CHECK(attnlrp_session_info(s, &info) == ATTNLRP_ERR_CLOSED);
    CHECK(attnlrp_model_path(s, buf, sizeof buf, &n) == ATTNLRP_ERR_CLOSED);
    CHECK(attnlrp_generate(s, PROMPT, NULL, NULL, NULL, NULL, 0, &n) == ATTNLRP_ERR_CLOSED);
    CHECK(attnlrp_close(NULL) == ATTNLRP_ERR_NULL);
    // the result owns its data: readable after the session is gone
    attnlrp_session_free(s);
    char *tok = r ? get_string(r, ATTNLRP_STR_TOKEN, 3) : NULL;
    CHECK_STR(tok, " dog");
    free(tok);
    CHECK(r && attnlrp_result_render(r, ATTNLRP_FORMAT_JSON, NULL, 0, &n) == ATTNLRP_OK);
    attnlrp_result_free(r);
    CHECK(attnlrp_result_summary(NULL, NULL) == ATTNLRP_ERR_NULL && contains(attnlrp_last_error(), "result"));
}

typedef struct {
    int ids[64];
    int n, stop_after;
} collected;

static int collect(int id, const char *text, void *user) {
    collected *c = user;
    if (!text) return 1;
    c->ids[c->n++] = id;
    return c->stop_after && c->n >= c->stop_after;
}

TEST(generate_streams_greedy_tokens_whose_first_is_the_explained_argmax) {
    attnlrp_session *s = open_default();
    if (!s) return;
    attnlrp_result *r = NULL;
    attnlrp_explain(s, PROMPT, NULL, &r);
    attnlrp_summary sm = {.size = sizeof sm};
    if (r) attnlrp_result_summary(r, &sm);
    attnlrp_generate_options g;
    CHECK(attnlrp_generate_options_init(&g, sizeof g) == ATTNLRP_OK && g.max_new == 32 && g.top_p == 1);
    g.max_new = 6;
    g.no_eos = 1;
    collected c = {{0}, 0, 0};
    int out[6];
    size_t n;
    CHECK(attnlrp_generate(s, PROMPT, &g, collect, &c, out, 6, &n) == ATTNLRP_OK);
    CHECK(n == 6 && c.n == 6 && memcmp(out, c.ids, sizeof out) == 0);
    CHECK(out[0] == sm.target);  // the KV-cache decode agrees with the recorded forward's argmax
    // the same from token ids, with no buffer: only the callback
    int ids[16];
    size_t nid;
    attnlrp_tokenize(s, PROMPT, NULL, 0, ids, 16, &nid);
    collected c2 = {{0}, 0, 2};
    CHECK(attnlrp_generate_ids(s, ids, nid, &g, collect, &c2, NULL, 0, &n) == ATTNLRP_OK);
    CHECK(n == 2 && c2.n == 2 && c2.ids[0] == out[0] && c2.ids[1] == out[1]);  // stopped by the callback
    // errors
    CHECK(attnlrp_generate(s, PROMPT, &g, NULL, NULL, out, 3, &n) == ATTNLRP_ERR_BUFFER && n == 6);
    CHECK(attnlrp_generate(s, PROMPT, &g, NULL, NULL, NULL, 3, &n) == ATTNLRP_ERR_NULL);
    CHECK(attnlrp_generate(s, NULL, &g, NULL, NULL, NULL, 0, &n) == ATTNLRP_ERR_NULL);
    CHECK(attnlrp_generate(s, PROMPT, &g, NULL, NULL, NULL, 0, NULL) == ATTNLRP_ERR_NULL);
    attnlrp_generate_options bad = g;
    bad.size = 3;
    CHECK(attnlrp_generate(s, PROMPT, &bad, NULL, NULL, NULL, 0, &n) == ATTNLRP_ERR_ARGUMENT);
    CHECK(contains(attnlrp_last_error(), "options.size 3"));
    bad = g, bad.max_new = -1;
    CHECK(attnlrp_generate(s, PROMPT, &bad, NULL, NULL, NULL, 0, &n) == ATTNLRP_ERR_ARGUMENT);
    CHECK(contains(attnlrp_last_error(), "max_new -1"));
    bad = g, bad.top_p = 0;
    CHECK(attnlrp_generate(s, PROMPT, &bad, NULL, NULL, NULL, 0, &n) == ATTNLRP_ERR_ARGUMENT);
    CHECK(contains(attnlrp_last_error(), "top_p"));
    CHECK(attnlrp_generate_ids(s, ids, 0, &g, NULL, NULL, NULL, 0, &n) == ATTNLRP_ERR_ARGUMENT);
    CHECK(attnlrp_generate_options_init(&bad, 4) == ATTNLRP_ERR_ARGUMENT);
    attnlrp_result_free(r);
    attnlrp_session_free(s);
}

TEST(a_classifier_names_its_classes_and_reports_every_input_kind) {
    attnlrp_session *s = NULL;
    CHECK(attnlrp_open("models/sentiment", 0, &s) == ATTNLRP_OK);
    if (!s) return;
    const char *text = "the battery life is excellent";
    attnlrp_result *r = NULL;
    CHECK(attnlrp_explain(s, text, NULL, &r) == ATTNLRP_OK);
    lrp_explain_opts o;
    lrp_explain_opts_default(&o);
    lrp_explanation e = {0};
    if (!r || internal_explain("models/sentiment", text, &o, &e)) goto out;
    char *target = get_string(r, ATTNLRP_STR_TARGET, 0);
    CHECK_STR(target, "positive");  // the README's example
    free(target);
    attnlrp_summary sm = {.size = sizeof sm};
    attnlrp_result_summary(r, &sm);
    CHECK(sm.task == ATTNLRP_TASK_CLASSIFIER && sm.position == -1 && sm.n_outputs == 3 && sm.has_cls);
    size_t n[3];
    float *w = get_relevance(r, ATTNLRP_INPUT_TOKENS, &n[0]), *p = get_relevance(r, ATTNLRP_INPUT_POSITIONS, &n[1]);
    float *tt = get_relevance(r, ATTNLRP_INPUT_TOKEN_TYPES, &n[2]);
    CHECK(w && p && tt && n[0] == (size_t)e.T && n[1] == (size_t)e.T && n[2] == (size_t)e.T);
    double sum = 0;
    for (int t = 0; w && p && tt && t < e.T; t++) {
        CHECK_NEAR(w[t], e.relevance[t], 1e-6 * (fabs(e.relevance[t]) + 1e-3));
        CHECK_NEAR(p[t], e.relevance_positions[t], 1e-6 * (fabs(e.relevance_positions[t]) + 1e-3));
        CHECK_NEAR(tt[t], e.relevance_token_types[t], 1e-6 * (fabs(e.relevance_token_types[t]) + 1e-3));
        sum += (double)w[t] + p[t] + tt[t];
    }
    CHECK_NEAR(sum, sm.relevance_sum, 1e-4 * (fabs(sum) + 1));  // the three kinds make up the total
    free(w);
    free(p);
    free(tt);
    size_t k;
    CHECK(attnlrp_token_string(s, 0, NULL, 0, &k) == ATTNLRP_OK && k == strlen("negative") + 1);
    CHECK(attnlrp_token_string(s, 3, NULL, 0, &k) == ATTNLRP_ERR_ARGUMENT);
    // a pair goes through the tokenizer's template; a class name is a target
    attnlrp_options po;
    attnlrp_options_init(&po, sizeof po);
    po.text_pair = "It arrived on Tuesday.";
    po.target_text = "negative";
    attnlrp_result *r2 = NULL;
    CHECK(attnlrp_explain(s, "I think the plot was not good.", &po, &r2) == ATTNLRP_OK);
    if (r2) {
        attnlrp_result_summary(r2, &sm);
        CHECK(sm.target == 0);
    }
    attnlrp_result_free(r2);
    size_t ng;
    CHECK(attnlrp_generate(s, text, NULL, NULL, NULL, NULL, 0, &ng) == ATTNLRP_ERR_MODEL);
    CHECK(contains(attnlrp_last_error(), "generation needs"));
out:
    lrp_explanation_free(&e);
    attnlrp_result_free(r);
    attnlrp_session_free(s);
}

TEST(an_image_model_explains_a_png_per_patch_and_per_pixel) {
    attnlrp_session *s = NULL;
    CHECK(attnlrp_open("models/vit-fashion", 0, &s) == ATTNLRP_OK);
    if (!s) return;
    attnlrp_result *r = NULL;
    CHECK(attnlrp_explain_image(s, "data/fashion/4-coat.png", NULL, &r) == ATTNLRP_OK);
    if (r) {
        size_t n;
        CHECK(attnlrp_result_relevance(r, ATTNLRP_INPUT_TOKENS, NULL, 0, &n) == ATTNLRP_OK && n == 49);
        CHECK(attnlrp_result_relevance(r, ATTNLRP_INPUT_PIXELS, NULL, 0, &n) == ATTNLRP_OK && n == 28 * 28);
        char *target = get_string(r, ATTNLRP_STR_TARGET, 0);
        CHECK_STR(target, "Coat");  // the README's example (p 0.99)
        free(target);
        attnlrp_summary sm = {.size = sizeof sm};
        attnlrp_result_summary(r, &sm);
        CHECK(sm.height == 28 && sm.width == 28 && sm.patch_size == 4 && sm.position == -1);
        CHECK(attnlrp_result_ids(r, ATTNLRP_IDS_INPUT, NULL, 0, &n) == ATTNLRP_ERR_ABSENT);
        CHECK(attnlrp_result_string(r, ATTNLRP_STR_TOKEN, 0, NULL, 0, &n) == ATTNLRP_ERR_ABSENT);
    }
    attnlrp_result *r2 = NULL;
    CHECK(attnlrp_explain(s, "a coat", NULL, &r2) == ATTNLRP_ERR_MODEL && contains(attnlrp_last_error(), "tokenizer"));
    CHECK(attnlrp_explain_image(s, "/nonexistent.png", NULL, &r2) == ATTNLRP_ERR_ARGUMENT);
    CHECK(contains(attnlrp_last_error(), "/nonexistent.png"));
    attnlrp_result_free(r);
    attnlrp_session_free(s);
}

typedef struct {
    attnlrp_session *s;
    float rel[16];
    int ok;
} worker;

static void *explain_worker(void *p) {
    worker *w = p;
    for (int k = 0; k < 3; k++) {
        attnlrp_result *r = NULL;
        size_t n;
        w->ok = attnlrp_explain(w->s, PROMPT, NULL, &r) == ATTNLRP_OK &&
                attnlrp_result_relevance(r, ATTNLRP_INPUT_TOKENS, w->rel, 16, &n) == ATTNLRP_OK;
        attnlrp_result_free(r);
        if (!w->ok) break;
    }
    return NULL;
}

TEST(threads_sharing_a_session_or_using_their_own_get_the_serial_values) {
    attnlrp_session *a = open_default(), *b = open_default();
    if (!a || !b) goto out;
    attnlrp_result *r = NULL;
    float want[16];
    size_t n = 0;
    CHECK(attnlrp_explain(a, PROMPT, NULL, &r) == ATTNLRP_OK);
    if (r) attnlrp_result_relevance(r, ATTNLRP_INPUT_TOKENS, want, 16, &n);
    attnlrp_result_free(r);
    worker w[4] = {{.s = a}, {.s = a}, {.s = b}, {.s = b}};
    pthread_t th[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, explain_worker, &w[i]);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++) {
        CHECK(w[i].ok);
        CHECK(n == 6 && memcmp(w[i].rel, want, n * sizeof(float)) == 0);
    }
out:
    attnlrp_session_free(a);
    attnlrp_session_free(b);
}

// ---- since 0.2: the fields appended to the option structs, and what the attnlrp program needs ----------

static float *get_readout(const attnlrp_result *r, int which, size_t *n) {
    size_t rows, cols;
    if (attnlrp_result_readout(r, which, NULL, 0, n, &rows, &cols)) return NULL;
    float *v = malloc((*n + 1) * sizeof *v);
    if (v && attnlrp_result_readout(r, which, v, *n, n, &rows, &cols)) {
        free(v);
        return NULL;
    }
    return v;
}

static int *get_ids(const attnlrp_result *r, int kind, size_t *n) {
    if (attnlrp_result_ids(r, kind, NULL, 0, n)) return NULL;
    int *v = malloc((*n + 1) * sizeof *v);
    if (v && attnlrp_result_ids(r, kind, v, *n, n)) {
        free(v);
        return NULL;
    }
    return v;
}

TEST(words_and_normalized_views_are_sums_and_scaled_token_relevance) {
    attnlrp_session *s = open_default();
    if (!s) return;
    const char *text = "Café is nice, unbelievably";
    attnlrp_options o;
    attnlrp_options_init(&o, sizeof o);
    o.aggregate = ATTNLRP_AGGREGATE_WORD;
    o.normalize = ATTNLRP_NORMALIZE_SUM;
    attnlrp_result *r = NULL, *plain = NULL;
    CHECK(attnlrp_explain(s, text, &o, &r) == ATTNLRP_OK);
    CHECK(attnlrp_explain(s, text, NULL, &plain) == ATTNLRP_OK);
    size_t nt = 0, nw = 0, ns = 0, nn = 0;
    float *tok = r ? get_relevance(r, ATTNLRP_INPUT_TOKENS, &nt) : NULL;
    float *words = r ? get_readout(r, ATTNLRP_READOUT_WORDS, &nw) : NULL;
    float *norm = r ? get_readout(r, ATTNLRP_READOUT_NORMALIZED, &nn) : NULL;
    int *starts = r ? get_ids(r, ATTNLRP_IDS_WORD_STARTS, &ns) : NULL;
    CHECK(tok && words && norm && starts && nw == ns && nn == nw && nw >= 4 && nw < nt);
    if (tok && words && norm && starts && nw == ns && nn == nw) {
        double abs_sum = 0;
        for (size_t k = 0; k < nw; k++) {
            size_t end = k + 1 < nw ? (size_t)starts[k + 1] : nt;  // a word runs to the next word's start
            double sum = 0;
            for (size_t t = (size_t)starts[k]; t < end; t++) sum += tok[t];
            CHECK_NEAR(words[k], sum, 1e-5 * (fabs(sum) + 1e-3));
            abs_sum += fabs(sum);
        }
        CHECK(starts[0] == 0);
        for (size_t k = 0; k < nw; k++) CHECK_NEAR(norm[k], words[k] / abs_sum, 1e-5);  // normalize sum: over words
        // each word's text is its tokens' text, and the words make up the input (after the BOS's "")
        char *all = calloc(1, 4096);
        for (size_t k = 0; all && k < nw; k++) {
            char *w = get_string(r, ATTNLRP_STR_WORD, k);
            CHECK(w != NULL);
            if (w) strncat(all, w, 4095 - strlen(all));
            free(w);
        }
        CHECK(contains(all, "Café is nice, unbelievably"));
        free(all);
    }
    // the explanation itself is the plain one
    size_t np = 0;
    float *p = plain ? get_relevance(plain, ATTNLRP_INPUT_TOKENS, &np) : NULL;
    CHECK(p && np == nt && tok && memcmp(p, tok, nt * sizeof *p) == 0);
    // absent unless asked; max scales by the largest magnitude
    CHECK(plain && attnlrp_result_readout(plain, ATTNLRP_READOUT_WORDS, NULL, 0, &nw, NULL, NULL) == ATTNLRP_ERR_ABSENT);
    CHECK(plain && attnlrp_result_readout(plain, ATTNLRP_READOUT_NORMALIZED, NULL, 0, &nw, NULL, NULL) == ATTNLRP_ERR_ABSENT);
    CHECK(plain && attnlrp_result_string(plain, ATTNLRP_STR_WORD, 0, NULL, 0, &nw) == ATTNLRP_ERR_ABSENT);
    attnlrp_result *rm = NULL;
    o.aggregate = ATTNLRP_AGGREGATE_TOKEN;
    o.normalize = ATTNLRP_NORMALIZE_MAX;
    CHECK(attnlrp_explain(s, text, &o, &rm) == ATTNLRP_OK);
    float *nm = rm ? get_readout(rm, ATTNLRP_READOUT_NORMALIZED, &nn) : NULL;
    CHECK(nm && nn == nt);
    if (nm && tok && nn == nt) {
        double mx = 0;
        for (size_t t = 0; t < nt; t++) mx = fmax(mx, fabs(tok[t]));
        for (size_t t = 0; t < nt; t++) CHECK_NEAR(nm[t], tok[t] / mx, 1e-6);
    }
    o.normalize = 7;
    attnlrp_result *bad = NULL;
    CHECK(attnlrp_explain(s, text, &o, &bad) == ATTNLRP_ERR_ARGUMENT && !bad);
    CHECK(contains(attnlrp_last_error(), "options.normalize 7"));
    free(nm);
    free(p);
    free(tok);
    free(words);
    free(norm);
    free(starts);
    attnlrp_result_free(rm);
    attnlrp_result_free(r);
    attnlrp_result_free(plain);
    attnlrp_session_free(s);
}

TEST(token_types_and_a_padding_mask_reach_the_model) {
    attnlrp_session *s = open_default();
    attnlrp_session *c = NULL;
    CHECK(attnlrp_open("models/sentiment", 0, &c) == ATTNLRP_OK);
    if (!s || !c) goto out;
    // Padding at the end of a causal LM's input: the real tokens are explained as without it.
    int ids[8];
    size_t n = 0;
    CHECK(attnlrp_tokenize(s, PROMPT, NULL, 0, ids, 8, &n) == ATTNLRP_OK && n == 6);
    int padded[7], mask[7] = {1, 1, 1, 1, 1, 1, 0};
    memcpy(padded, ids, n * sizeof *ids);
    padded[6] = ids[1];
    attnlrp_options o;
    attnlrp_options_init(&o, sizeof o);
    o.attention_mask = mask;
    o.n_attention_mask = 7;
    attnlrp_result *rm = NULL, *r6 = NULL;
    CHECK(attnlrp_explain_ids(s, padded, 7, &o, &rm) == ATTNLRP_OK);
    CHECK(attnlrp_explain_ids(s, ids, 6, NULL, &r6) == ATTNLRP_OK);
    size_t nm = 0, n6 = 0, nk = 0;
    float *vm = rm ? get_relevance(rm, ATTNLRP_INPUT_TOKENS, &nm) : NULL, *v6 = r6 ? get_relevance(r6, ATTNLRP_INPUT_TOKENS, &n6) : NULL;
    int *km = rm ? get_ids(rm, ATTNLRP_IDS_ATTENTION_MASK, &nk) : NULL;
    CHECK(vm && v6 && nm == 7 && n6 == 6 && km && nk == 7);
    for (size_t t = 0; vm && v6 && nm == 7 && n6 == 6 && t < 6; t++) CHECK_NEAR(vm[t], v6[t], 1e-4 * (fabs(v6[t]) + 1e-2));
    if (vm && nm == 7) CHECK(vm[6] == 0);
    for (size_t t = 0; km && t < nk; t++) CHECK(km[t] == mask[t]);
    attnlrp_summary sm = {.size = sizeof sm};
    CHECK(rm && attnlrp_result_summary(rm, &sm) == ATTNLRP_OK && sm.position == 5);  // the last real token
    CHECK(r6 && attnlrp_result_ids(r6, ATTNLRP_IDS_ATTENTION_MASK, NULL, 0, &nk) == ATTNLRP_ERR_ABSENT);
    o.n_attention_mask = 6;
    attnlrp_result *bad = NULL;
    CHECK(attnlrp_explain_ids(s, padded, 7, &o, &bad) == ATTNLRP_ERR_ARGUMENT && !bad);
    CHECK(contains(attnlrp_last_error(), "options.n_attention_mask 6: expected 7"));
    mask[6] = 3;
    o.n_attention_mask = 7;
    CHECK(attnlrp_explain_ids(s, padded, 7, &o, &bad) == ATTNLRP_ERR_ARGUMENT && !bad);
    CHECK(contains(attnlrp_last_error(), "attention_mask: value 2 at index 6"));
    free(vm);
    free(v6);
    free(km);
    attnlrp_result_free(rm);
    attnlrp_result_free(r6);
    // Token types given explicitly equal the pair's own: the same explanation.
    const char *a = "I think the plot was not good.", *b = "It arrived on Tuesday.";
    attnlrp_options po;
    attnlrp_options_init(&po, sizeof po);
    po.text_pair = b;
    attnlrp_result *rp = NULL, *rt = NULL;
    CHECK(attnlrp_explain(c, a, &po, &rp) == ATTNLRP_OK);
    size_t nt = 0, np = 0, nx = 0;
    int *types = rp ? get_ids(rp, ATTNLRP_IDS_TOKEN_TYPES, &nt) : NULL, *pids = rp ? get_ids(rp, ATTNLRP_IDS_INPUT, &np) : NULL;
    CHECK(types && pids && nt == np && types[0] == 0 && types[nt - 1] == 1);
    if (types && pids && nt == np) {
        attnlrp_options to;
        attnlrp_options_init(&to, sizeof to);
        to.token_types = types;
        to.n_token_types = nt;
        CHECK(attnlrp_explain_ids(c, pids, np, &to, &rt) == ATTNLRP_OK);
        float *x = rt ? get_relevance(rt, ATTNLRP_INPUT_TOKEN_TYPES, &nx) : NULL, *y = get_relevance(rp, ATTNLRP_INPUT_TOKEN_TYPES, &np);
        CHECK(x && y && nx == nt && np == nt && memcmp(x, y, nt * sizeof *x) == 0);
        free(x);
        free(y);
        to.n_token_types = nt - 1;
        CHECK(attnlrp_explain_ids(c, pids, nt, &to, &bad) == ATTNLRP_ERR_ARGUMENT && !bad);
        CHECK(contains(attnlrp_last_error(), "options.n_token_types"));
    }
    free(types);
    free(pids);
    attnlrp_result_free(rp);
    attnlrp_result_free(rt);
out:
    attnlrp_session_free(s);
    attnlrp_session_free(c);
}

TEST(decoder_text_is_the_decoder_ids_of_its_tokens) {
    attnlrp_session *s = NULL;
    CHECK(attnlrp_open("models/t5-facts", 0, &s) == ATTNLRP_OK);
    if (!s) return;
    int dec[32];
    size_t nd = 0;
    CHECK(attnlrp_tokenize(s, "The capital", NULL, ATTNLRP_NO_SPECIAL, dec, 32, &nd) == ATTNLRP_OK && nd >= 1);
    attnlrp_options a, b;
    attnlrp_options_init(&a, sizeof a);
    attnlrp_options_init(&b, sizeof b);
    a.decoder_text = "The capital";
    b.decoder_ids = dec;
    b.n_decoder = nd;
    attnlrp_result *ra = NULL, *rb = NULL;
    CHECK(attnlrp_explain(s, "question: What is the capital of France?", &a, &ra) == ATTNLRP_OK);
    CHECK(attnlrp_explain(s, "question: What is the capital of France?", &b, &rb) == ATTNLRP_OK);
    size_t na = 0, nb = 0;
    float *va = ra ? get_relevance(ra, ATTNLRP_INPUT_DECODER_TOKENS, &na) : NULL;
    float *vb = rb ? get_relevance(rb, ATTNLRP_INPUT_DECODER_TOKENS, &nb) : NULL;
    CHECK(va && vb && na == nd + 1 && nb == na && memcmp(va, vb, na * sizeof *va) == 0);
    int *ids = ra ? get_ids(ra, ATTNLRP_IDS_DECODER, &na) : NULL;
    CHECK(ids && na == nd + 1 && memcmp(ids + 1, dec, nd * sizeof *dec) == 0);
    a.decoder_ids = dec;
    a.n_decoder = nd;
    attnlrp_result *bad = NULL;
    CHECK(attnlrp_explain(s, "x", &a, &bad) == ATTNLRP_ERR_ARGUMENT && !bad);
    CHECK(contains(attnlrp_last_error(), "options.decoder_text: give decoder_ids or decoder_text, not both"));
    free(ids);
    free(va);
    free(vb);
    attnlrp_result_free(ra);
    attnlrp_result_free(rb);
    attnlrp_session_free(s);
    attnlrp_session *d = open_default();
    if (!d) return;
    a.n_decoder = 0;
    CHECK(attnlrp_explain(d, PROMPT, &a, &bad) == ATTNLRP_ERR_ARGUMENT && !bad);
    CHECK(contains(attnlrp_last_error(), "is not an encoder-decoder"));
    attnlrp_session_free(d);
}

TEST(options_of_version_0_1_are_still_taken_and_max_memory_is_enforced) {
    attnlrp_session *s = open_default();
    if (!s) return;
    size_t old = offsetof(attnlrp_options, token_types);  // sizeof(attnlrp_options) of attnlrp.h 0.1
    attnlrp_options o;
    memset(&o, 0x5a, sizeof o);  // the fields past the old size must not be read
    CHECK(attnlrp_options_init(&o, old) == ATTNLRP_OK && o.size == old && o.target == -1);
    CHECK(attnlrp_options_init(&o, old + 1) == ATTNLRP_ERR_ARGUMENT);
    attnlrp_options_init(&o, old);
    attnlrp_result *r = NULL, *plain = NULL;
    CHECK(attnlrp_explain(s, PROMPT, &o, &r) == ATTNLRP_OK);
    CHECK(attnlrp_explain(s, PROMPT, NULL, &plain) == ATTNLRP_OK);
    size_t n1 = 0, n2 = 0;
    float *a = r ? get_relevance(r, ATTNLRP_INPUT_TOKENS, &n1) : NULL, *b = plain ? get_relevance(plain, ATTNLRP_INPUT_TOKENS, &n2) : NULL;
    CHECK(a && b && n1 == n2 && memcmp(a, b, n1 * sizeof *a) == 0);
    free(a);
    free(b);
    attnlrp_generate_options g;
    memset(&g, 0x5a, sizeof g);
    CHECK(attnlrp_generate_options_init(&g, offsetof(attnlrp_generate_options, chat)) == ATTNLRP_OK && g.max_new == 32);
    g.max_new = 2;
    int out[2];
    size_t ng = 0;
    CHECK(attnlrp_generate(s, PROMPT, &g, NULL, NULL, out, 2, &ng) == ATTNLRP_OK && ng == 2);
    attnlrp_options m;
    attnlrp_options_init(&m, sizeof m);
    m.max_memory = 1024;  // far less than any explanation needs
    attnlrp_result *bad = NULL;
    CHECK(attnlrp_explain(s, PROMPT, &m, &bad) != ATTNLRP_OK && !bad);
    CHECK(contains(attnlrp_last_error(), "max_memory") || contains(attnlrp_last_error(), "memory"));
    attnlrp_result_free(r);
    attnlrp_result_free(plain);
    attnlrp_session_free(s);
}

TEST(a_tokenizer_session_tokenizes_without_the_model) {
    attnlrp_session *t = NULL, *s = open_default();
    CHECK(attnlrp_open_tokenizer("models/default/tokenizer.json", &t) == ATTNLRP_OK);
    if (!t || !s) goto out;
    int a[16], b[16];
    size_t na = 0, nb = 0;
    CHECK(attnlrp_tokenize(t, PROMPT, NULL, 0, a, 16, &na) == ATTNLRP_OK);
    CHECK(attnlrp_tokenize(s, PROMPT, NULL, 0, b, 16, &nb) == ATTNLRP_OK);
    CHECK(na == nb && na == 6 && memcmp(a, b, na * sizeof *a) == 0);
    char piece[64], text[64];
    size_t n;
    CHECK(attnlrp_token_text(t, a[0], ATTNLRP_PIECE, piece, sizeof piece, &n) == ATTNLRP_OK);
    CHECK_STR(piece, "<s>");
    CHECK(attnlrp_token_text(t, a[3], 0, text, sizeof text, &n) == ATTNLRP_OK);  // " dog": as detokenized after "x"
    CHECK_STR(text, " dog");
    // NUL bytes are text with attnlrp_tokenize_n: the byte-level BPE maps byte 0 to U+0100 ("Ā")
    int z[16];
    size_t nz = 0;
    CHECK(attnlrp_tokenize_n(t, "a\0b", 3, NULL, ATTNLRP_NO_SPECIAL, z, 16, &nz) == ATTNLRP_OK && nz == 3);
    CHECK(nz == 3 && attnlrp_token_text(t, z[1], ATTNLRP_PIECE, piece, sizeof piece, &n) == ATTNLRP_OK);
    CHECK_STR(piece, "\xc4\x80");
    CHECK(attnlrp_tokenize(t, "a", NULL, ATTNLRP_NO_SPECIAL, b, 16, &nb) == ATTNLRP_OK && nb == 1 && b[0] == z[0]);
    CHECK(attnlrp_token_text(t, -1, 0, text, sizeof text, &n) == ATTNLRP_ERR_ARGUMENT);
    CHECK(attnlrp_token_text(t, a[3], 4, text, sizeof text, &n) == ATTNLRP_ERR_ARGUMENT);
    attnlrp_result *r = NULL;
    CHECK(attnlrp_explain(t, PROMPT, NULL, &r) == ATTNLRP_ERR_MODEL && !r);
    CHECK(contains(attnlrp_last_error(), "attnlrp_open_tokenizer"));
    attnlrp_model_info info = {.size = sizeof info};
    CHECK(attnlrp_session_info(t, &info) == ATTNLRP_ERR_MODEL);
    attnlrp_session *none = NULL;
    CHECK(attnlrp_open_tokenizer("", &none) == ATTNLRP_ERR_ARGUMENT && !none);
    CHECK(attnlrp_open_tokenizer("models/default", NULL) == ATTNLRP_ERR_NULL);
    CHECK(attnlrp_open_tokenizer("/nonexistent/tokenizer.json", &none) == ATTNLRP_ERR_MODEL && !none);
    CHECK(attnlrp_tokenize_n(t, NULL, 0, NULL, 0, a, 16, &na) == ATTNLRP_ERR_NULL);
    CHECK(attnlrp_tokenize(t, PROMPT, NULL, ATTNLRP_CHAT, a, 16, &na) == ATTNLRP_ERR_MODEL);
    attnlrp_close(t);
    CHECK(attnlrp_token_text(t, 1, 0, text, sizeof text, &n) == ATTNLRP_ERR_CLOSED);
    CHECK(attnlrp_tokenize_n(t, "a", 1, NULL, 0, a, 16, &na) == ATTNLRP_ERR_CLOSED);
out:
    attnlrp_session_free(t);
    attnlrp_session_free(s);
}

TEST_MAIN(T(the_version_macro_and_function_agree), T(the_default_model_opens_with_its_tokenizer_and_describes_itself),
          T(opening_fails_cleanly_naming_the_parameter),
          T(tokenize_reports_the_size_needed_and_round_trips_through_detokenize),
          T(explain_getters_equal_the_library_explanation_and_the_closed_forms),
          T(options_reach_the_explanation_target_contrast_score_method),
          T(readouts_have_their_shapes_and_values_and_are_absent_unless_asked),
          T(an_answer_is_explained_as_the_sum_of_its_tokens_scores), T(rendered_json_holds_the_getters_values),
          T(bad_explain_arguments_are_errors_naming_the_parameter),
          T(a_closed_session_refuses_every_call_and_its_results_stay_readable),
          T(generate_streams_greedy_tokens_whose_first_is_the_explained_argmax),
          T(a_classifier_names_its_classes_and_reports_every_input_kind),
          T(an_image_model_explains_a_png_per_patch_and_per_pixel),
          T(threads_sharing_a_session_or_using_their_own_get_the_serial_values),
          T(words_and_normalized_views_are_sums_and_scaled_token_relevance),
          T(token_types_and_a_padding_mask_reach_the_model), T(decoder_text_is_the_decoder_ids_of_its_tokens),
          T(options_of_version_0_1_are_still_taken_and_max_memory_is_enforced),
          T(a_tokenizer_session_tokenizes_without_the_model))

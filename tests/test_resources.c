// The memory estimate of explain/memory.h against the arena an explanation really uses (every shipped
// family: LLaMA, BERT, T5, ViT), the memory check and the size parser; and attention over 32768 keys
// against float64.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "explain/explain.h"
#include "explain/memory.h"
#include "explain/methods.h"
#include "harness.h"
#include "models/model.h"
#include "ops/ops.h"

// Explains inputs of T tokens (images: the model's image) and checks estimate >= used <= 4 x used + 1 MiB.
static void check_estimate(const char *dir, const int *Ts, int nT) {
    lrp_model *m = NULL;
    lrp_err err;
    CHECK(lrp_model_open(&m, dir, &err) == 0);
    if (!m) return;
    const lrp_config *c = &m->cfg;
    for (int k = 0; k < nT; k++) {
        int T = Ts[k];
        int *ids = malloc((size_t)T * sizeof *ids), dec[1] = {c->decoder_start_token_id};
        for (int t = 0; t < T; t++) ids[t] = 4 + (t * 7) % (c->vocab_size - 4);
        lrp_inputs in = {.ids = ids, .T = T};
        float *px = NULL;
        if (c->image_size > 0) {
            px = calloc((size_t)c->num_channels * c->image_size * c->image_size, sizeof *px);
            in = (lrp_inputs){.pixels = px, .channels = c->num_channels, .height = c->image_size,
                              .width = c->image_size};
        }
        if (c->task == LRP_TASK_SEQ2SEQ_LM) {
            in.decoder_ids = dec;
            in.decoder_T = 1;
        }
        lrp_explain_opts o;
        lrp_explain_opts_default(&o);
        if (c->task == LRP_TASK_MASKED_LM) o.position = 0;
        lrp_explanation e;
        int rc = lrp_explain_inputs(m, &in, &o, &e, &err);
        CHECK(rc == 0);
        if (rc == 0) {
            int Tseq = c->image_size > 0 ? e.T : T;
            lrp_memory_need need = lrp_explain_memory_estimate(m, Tseq, 1, 1);
            size_t used = e.activation_bytes_used;
            if (!(need.total >= used && need.total <= 4 * used + (1u << 20)))
                fprintf(stderr, "  %s T=%d: estimate %zu, arena used %zu\n", dir, Tseq, need.total, used);
            CHECK(need.total >= used);
            CHECK(need.total <= 4 * used + (1u << 20));
            CHECK(need.activations + need.attention == need.total);
            lrp_explanation_free(&e);
        } else {
            fprintf(stderr, "  %s T=%d: %s\n", dir, T, err.msg);
        }
        free(ids);
        free(px);
    }
    lrp_model_close(m);
}

TEST(memory_estimate_bounds_the_arena_of_every_shipped_family) {
    int text[] = {1, 16, 64, 128};
    check_estimate("models/default", text, 4);    // llama (GQA, RoPE)
    check_estimate("models/sentiment", text, 4);  // bert classifier
    check_estimate("models/t5-facts", text, 3);   // encoder-decoder
    int one[] = {1};
    check_estimate("models/vit-fashion", one, 1);  // ViT: patches + CLS
}

TEST(an_explanation_over_the_memory_limit_is_refused_before_it_starts) {
    lrp_model *m = NULL;
    lrp_err err;
    CHECK(lrp_model_open(&m, "models/default", &err) == 0);
    if (!m) return;
    int ids[] = {1, 5, 9, 12};
    lrp_explain_opts o;
    lrp_explain_opts_default(&o);
    o.max_memory = 64 << 10;  // 64 KiB: less than the estimate (over 1 MiB)
    lrp_explanation e;
    CHECK(lrp_explain(m, ids, 4, &o, &e, &err) == -1);
    CHECK(strncmp(err.msg, "memory: explaining 4 tokens needs about ", 40) == 0);
    CHECK(strstr(err.msg, "more than the 64 KiB available (max_memory)") != NULL);
    o.method = (lrp_method)LRP_METHOD_IG;  // the baseline methods are checked too
    CHECK(lrp_explain(m, ids, 4, &o, &e, &err) == -1);
    CHECK(strstr(err.msg, "(max_memory)") != NULL);
    o.method = LRP_METHOD_ATTNLRP;
    o.max_memory = 1u << 30;
    CHECK(lrp_explain(m, ids, 4, &o, &e, &err) == 0);
    lrp_explanation_free(&e);
    lrp_model_close(m);
}

TEST(sizes_parse_with_binary_units) {
    size_t b = 0;
    CHECK(lrp_parse_size("512M", &b) == 0 && b == (size_t)512 << 20);
    CHECK(lrp_parse_size("2G", &b) == 0 && b == (size_t)2 << 30);
    CHECK(lrp_parse_size("1.5GiB", &b) == 0 && b == (size_t)3 << 29);
    CHECK(lrp_parse_size("64k", &b) == 0 && b == (size_t)64 << 10);
    CHECK(lrp_parse_size("100000", &b) == 0 && b == 100000);
    CHECK(lrp_parse_size("100B", &b) == 0 && b == 100);
    const char *bad[] = {"", "M", "-5M", "0", "1X", "2GB extra", " 5M", "nan", "inf", "1e30G", "0.1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) CHECK(lrp_parse_size(bad[i], &b) == -1);
    char buf[32];
    CHECK_STR(lrp_format_bytes((size_t)3 << 29, buf, sizeof buf), "1.5 GiB");
    CHECK_STR(lrp_format_bytes(1000, buf, sizeof buf), "1 KiB");
}

// Attention over 32768 keys (one query, one head): the softmax normaliser and P·V are sums over T. The
// output and the relevance that reaches V (AttnLRP: ½ of the output's, key by key) are compared with a
// float64 evaluation done here; float32 accumulation over 32k terms would miss 1e-5 of the largest term.
TEST(attention_over_32k_keys_matches_float64) {
    enum { TK = 32768, HD = 4 };
    lrp_graph g;
    lrp_err err;
    CHECK(lrp_graph_init(&g, 0, &err) == 0);
    lrp_act *q = lrp_act_new(&g, 1, HD), *k = lrp_act_new(&g, TK, HD), *v = lrp_act_new(&g, TK, HD);
    uint64_t st = 99;
    float *all[3] = {q->x, k->x, v->x};
    int n[3] = {HD, TK * HD, TK * HD};
    for (int a = 0; a < 3; a++)
        for (int i = 0; i < n[a]; i++) {
            st = st * 6364136223846793005ull + 1442695040888963407ull;
            all[a][i] = (float)((double)(st >> 11) * 0x1.0p-53 * 2.0 - 0.7);  // mean 0.3: no cancellation to 0
        }
    lrp_attn_spec spec = {.n_heads = 1, .n_kv_heads = 1, .head_dim = HD, .scale = 0.5f, .mask = LRP_ATTN_BIDIRECTIONAL};
    lrp_act *o = op_attention(&g, q, k, v, &spec);
    CHECK(o != NULL);
    if (!o) return;
    double *p = malloc(TK * sizeof *p), m = -1e300, z = 0, o64[HD] = {0};
    for (int j = 0; j < TK; j++) {
        double s = 0;
        for (int d = 0; d < HD; d++) s += (double)q->x[d] * k->x[(size_t)j * HD + d];
        p[j] = 0.5 * s;
        m = p[j] > m ? p[j] : m;
    }
    for (int j = 0; j < TK; j++) z += (p[j] = exp(p[j] - m));
    for (int j = 0; j < TK; j++)
        for (int d = 0; d < HD; d++) o64[d] += p[j] / z * v->x[(size_t)j * HD + d];
    for (int d = 0; d < HD; d++) CHECK_NEAR(o->x[d], o64[d], 1e-5 * fabs(o64[d]));
    // Relevance: start from R(o) = o, so Σ R(v) = ½ Σ_d o_d² under AttnLRP's uniform rule.
    float *go = lrp_act_grad(&g, o);
    for (int d = 0; d < HD; d++) go[d] = 1.0f;
    lrp_rules rules = lrp_rules_for(LRP_METHOD_ATTNLRP);
    CHECK(lrp_graph_backward(&g, &rules, &err) == 0);
    double rv = 0, want = 0;
    for (size_t i = 0; v->g && i < (size_t)TK * HD; i++) rv += (double)v->x[i] * v->g[i];
    for (int d = 0; d < HD; d++) want += 0.5 * o64[d];
    CHECK_NEAR(rv, want, 1e-5 * fabs(want));
    free(p);
    lrp_graph_free(&g);
}

TEST_MAIN(T(memory_estimate_bounds_the_arena_of_every_shipped_family),
          T(an_explanation_over_the_memory_limit_is_refused_before_it_starts), T(sizes_parse_with_binary_units),
          T(attention_over_32k_keys_matches_float64))

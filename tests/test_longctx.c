// Long context in bounded memory (issue 15): the blockwise attention (row statistics kept, probabilities
// recomputed per block of 64 query rows in the backward) against the stored-probability attention and
// against a direct float64 evaluation of SPEC §2's rule, on lengths that cross several blocks, with
// causal and bidirectional masks, sliding windows, padding keys, score biases, GQA, cross-attention, a
// cache offset, soft-capping and key factors, under every method and softmax ablation; and op_checkpoint
// (a block recomputed in the backward) against the same block recorded directly.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ops/ops.h"

static unsigned long long rng_state = 0x243f6a8885a308d3ull;
static double urand(void) {  // splitmix64 -> [0, 1)
    unsigned long long z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}
static void fill(float *v, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) v[i] = scale * (float)(2.0 * urand() - 1.0);
}

static double max_abs(const float *v, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(v[i]));
    return m;
}

// max |a − b| / max |b| (0 when both are all zero); a NULL buffer is all zeros.
static double rel_diff(const float *a, const float *b, size_t n) {
    double m = b ? max_abs(b, n) : 0, d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((a ? a[i] : 0.0) - (b ? b[i] : 0.0)));
    return m > 0 ? d / m : d;
}

typedef struct {
    const char *name;
    lrp_attn_spec s;
    int Tq, Tk;
} attn_case;

// Inputs of one case (deterministic per case) and the outputs of one run.
typedef struct {
    float *q, *k, *v, *gO;
    float *o, *gq, *gk, *gv;
} attn_run;

static void inputs(const attn_case *c, attn_run *r, unsigned long long seed) {
    int H = c->s.n_heads, KVH = c->s.n_kv_heads, hd = c->s.head_dim;
    rng_state = seed;
    r->q = malloc(sizeof(float) * c->Tq * H * hd);
    r->k = malloc(sizeof(float) * c->Tk * KVH * hd);
    r->v = malloc(sizeof(float) * c->Tk * KVH * hd);
    r->gO = malloc(sizeof(float) * c->Tq * H * hd);
    fill(r->q, (size_t)c->Tq * H * hd, 1.5f);
    fill(r->k, (size_t)c->Tk * KVH * hd, 1.5f);
    fill(r->v, (size_t)c->Tk * KVH * hd, 1.0f);
    fill(r->gO, (size_t)c->Tq * H * hd, 1.0f);
}

static float *copy_or_null(const float *src, size_t n) {
    if (!src) return NULL;
    float *d = malloc(n * sizeof(float));
    memcpy(d, src, n * sizeof(float));
    return d;
}

// One recorded attention with ATTNLRP_ATTN=mode, seeded with gO, replayed under rules.
static void run(const attn_case *c, const char *mode, const lrp_rules *rules, const attn_run *in, attn_run *out) {
    int H = c->s.n_heads, KVH = c->s.n_kv_heads, hd = c->s.head_dim;
    size_t nq = (size_t)c->Tq * H * hd, nk = (size_t)c->Tk * KVH * hd;
    setenv("ATTNLRP_ATTN", mode, 1);
    lrp_graph g;
    lrp_err err;
    CHECK(lrp_graph_init(&g, 0, &err) == 0);
    lrp_act *q = lrp_act_new(&g, c->Tq, H * hd), *k = lrp_act_new(&g, c->Tk, KVH * hd),
            *v = lrp_act_new(&g, c->Tk, KVH * hd);
    memcpy(q->x, in->q, nq * sizeof(float));
    memcpy(k->x, in->k, nk * sizeof(float));
    memcpy(v->x, in->v, nk * sizeof(float));
    lrp_act *o = op_attention(&g, q, k, v, &c->s);
    CHECK(o != NULL);
    memset(out, 0, sizeof *out);
    if (o) {
        memcpy(lrp_act_grad(&g, o), in->gO, nq * sizeof(float));
        CHECK(lrp_graph_backward(&g, rules, &err) == 0);
        out->o = copy_or_null(o->x, nq);
        out->gq = copy_or_null(q->g, nq);
        out->gk = copy_or_null(k->g, nk);
        out->gv = copy_or_null(v->g, nk);
    }
    lrp_graph_free(&g);
    unsetenv("ATTNLRP_ATTN");
}

static void free_run(attn_run *r) {
    free(r->q), free(r->k), free(r->v), free(r->gO), free(r->o), free(r->gq), free(r->gk), free(r->gv);
}

// SPEC §2 written out in float64 for one case without soft-capping or key factors: P = softmax over the
// visible unmasked keys of scale·q·k + bias, O = P·V, ĝ(V) = fv·Pᵀ·gO, ĝ(P) = gO·Vᵀ,
// ĝ(S) = P ⊙ (ĝ(P) − Σ_j ĝ(P)_j P_j), ĝ(Q) = fqk·scale·ĝ(S)·K, ĝ(K) = fqk·scale·ĝ(S)ᵀ·Q, with
// (fv, fqk) = (½, ¼) attnlrp, (1, 0) cplrp, (1, 1) exact.
static void direct(const attn_case *c, double fv, double fqk, const attn_run *in, attn_run *out) {
    const lrp_attn_spec *s = &c->s;
    int H = s->n_heads, KVH = s->n_kv_heads, hd = s->head_dim, Tq = c->Tq, Tk = c->Tk, qc = H * hd, kc = KVH * hd;
    out->o = calloc((size_t)Tq * qc, sizeof(float));
    out->gq = calloc((size_t)Tq * qc, sizeof(float));
    double *gk = calloc((size_t)Tk * kc, sizeof(double)), *gv = calloc((size_t)Tk * kc, sizeof(double));
    double *p = malloc(sizeof(double) * Tk), *gs = malloc(sizeof(double) * Tk);
    for (int h = 0; h < H; h++) {
        int kh = h / (H / KVH);
        for (int i = 0; i < Tq; i++) {
            int pos = Tk - Tq + i;
            double m = -INFINITY;
            for (int j = 0; j < Tk; j++) {
                int vis = s->mask == LRP_ATTN_BIDIRECTIONAL ||
                          (j <= pos && (s->window <= 0 || j > pos - s->window));
                if (!vis || (s->key_mask && !s->key_mask[j])) {
                    p[j] = -INFINITY;
                    continue;
                }
                double d = 0;
                for (int e = 0; e < hd; e++) d += (double)in->q[i * qc + h * hd + e] * in->k[j * kc + kh * hd + e];
                p[j] = s->scale * d;
                if (s->bias) p[j] += s->bias[(s->bias_heads == 1 ? 0 : (size_t)h * Tq * Tk) + (size_t)i * Tk + j];
                m = fmax(m, p[j]);
            }
            double sum = 0;
            for (int j = 0; j < Tk; j++) sum += p[j] == -INFINITY ? 0 : exp(p[j] - m);
            for (int j = 0; j < Tk; j++) p[j] = p[j] == -INFINITY || sum == 0 ? 0 : exp(p[j] - m) / sum;
            double dot = 0;
            for (int j = 0; j < Tk; j++) {
                double gp = 0;
                for (int e = 0; e < hd; e++) {
                    out->o[i * qc + h * hd + e] += (float)(p[j] * in->v[j * kc + kh * hd + e]);
                    gp += (double)in->gO[i * qc + h * hd + e] * in->v[j * kc + kh * hd + e];
                    gv[j * kc + kh * hd + e] += fv * p[j] * in->gO[i * qc + h * hd + e];
                }
                gs[j] = gp;
                dot += gp * p[j];
            }
            for (int j = 0; j < Tk; j++) {
                double g = fqk * s->scale * p[j] * (gs[j] - dot);
                if (g == 0) continue;
                for (int e = 0; e < hd; e++) {
                    out->gq[i * qc + h * hd + e] += (float)(g * in->k[j * kc + kh * hd + e]);
                    gk[j * kc + kh * hd + e] += g * in->q[i * qc + h * hd + e];
                }
            }
        }
    }
    out->gk = malloc(sizeof(float) * Tk * kc);
    out->gv = malloc(sizeof(float) * Tk * kc);
    for (int i = 0; i < Tk * kc; i++) out->gk[i] = (float)gk[i], out->gv[i] = (float)gv[i];
    free(gk), free(gv), free(p), free(gs);
}

static unsigned char mask_a[200], mask_b[170], mask_none[10];
static float bias_heads4[4 * 150 * 150], bias_shared[90 * 170], key_factor[130];

static int make_cases(attn_case *cs) {
    for (int j = 0; j < 200; j++) mask_a[j] = (j % 7) != 3;   // padding scattered through every block
    for (int j = 0; j < 170; j++) mask_b[j] = j < 150 && j != 5;  // trailing padding (a padded batch row)
    rng_state = 77;
    fill(bias_heads4, sizeof bias_heads4 / sizeof *bias_heads4, 2.0f);
    fill(bias_shared, sizeof bias_shared / sizeof *bias_shared, 2.0f);
    for (int j = 0; j < 130; j++) key_factor[j] = j % 5 == 0 ? 0.0f : 1.0f;  // AtMan-style suppression
    int n = 0;
    lrp_attn_spec base = {.n_heads = 4, .n_kv_heads = 2, .head_dim = 8, .scale = 0.35f};
    cs[n++] = (attn_case){"causal GQA 4/2, 200 rows (4 blocks)", base, 200, 200};
    cs[n] = (attn_case){"causal window 37, GQA 4/1, padding keys", base, 200, 200};
    cs[n].s.n_kv_heads = 1, cs[n].s.window = 37, cs[n++].s.key_mask = mask_a;
    cs[n++] = (attn_case){"causal, 70 queries after a 130-key cache", base, 70, 200};
    cs[n] = (attn_case){"bidirectional, padding, per-head bias, 150 rows", base, 150, 150};
    cs[n].s.mask = LRP_ATTN_BIDIRECTIONAL, cs[n].s.key_mask = mask_a, cs[n].s.bias = bias_heads4;
    cs[n++].s.bias_heads = 4;
    cs[n] = (attn_case){"cross-attention 90 x 170, padding, shared bias", base, 90, 170};
    cs[n].s.mask = LRP_ATTN_BIDIRECTIONAL, cs[n].s.key_mask = mask_b, cs[n].s.bias = bias_shared;
    cs[n++].s.bias_heads = 1;
    cs[n] = (attn_case){"every key padding: output 0", base, 65, 10};
    cs[n].s.mask = LRP_ATTN_BIDIRECTIONAL, cs[n++].s.key_mask = mask_none;
    cs[n] = (attn_case){"causal soft-capped (5) with key factors, 130 rows", base, 130, 130};
    cs[n].s.softcap = 5.0f, cs[n++].s.key_factor = key_factor;
    return n;
}

TEST(blockwise_attention_equals_stored_probabilities_for_every_method_and_mask) {
    attn_case cs[8];
    int n = make_cases(cs);
    for (int i = 0; i < n; i++) {
        for (int m = 0; m < LRP_METHOD_COUNT + 2; m++) {
            lrp_rules rules = lrp_rules_for(m < LRP_METHOD_COUNT ? (lrp_method)m : LRP_METHOD_ATTNLRP);
            if (m == LRP_METHOD_COUNT) rules.softmax = LRP_SOFTMAX_IDENTITY;
            if (m == LRP_METHOD_COUNT + 1) rules.softmax = LRP_SOFTMAX_DISTRIBUTE_BIAS;
            attn_run in, a, b;
            inputs(&cs[i], &in, 1000 + i);
            run(&cs[i], "stored", &rules, &in, &a);
            run(&cs[i], "blockwise", &rules, &in, &b);
            size_t nq = (size_t)cs[i].Tq * cs[i].s.n_heads * cs[i].s.head_dim;
            size_t nk = (size_t)cs[i].Tk * cs[i].s.n_kv_heads * cs[i].s.head_dim;
            double d[4] = {rel_diff(b.o, a.o, nq), rel_diff(b.gq, a.gq, nq), rel_diff(b.gk, a.gk, nk),
                           rel_diff(b.gv, a.gv, nk)};
            for (int f = 0; f < 4; f++) {
                if (d[f] > 1e-5) fprintf(stderr, "  case \"%s\", method %d, field %d\n", cs[i].name, m, f);
                CHECK_NEAR(d[f], 0.0, 1e-5);
            }
            CHECK((a.gv != NULL) == (b.gv != NULL));
            free_run(&a), free_run(&b), free(in.q), free(in.k), free(in.v), free(in.gO);
        }
    }
}

TEST(blockwise_attention_matches_the_rule_in_float64) {
    attn_case cs[8];
    int n = make_cases(cs);
    static const struct {
        lrp_method m;
        double fv, fqk;
    } rules_of[] = {{LRP_METHOD_ATTNLRP, 0.5, 0.25}, {LRP_METHOD_CPLRP, 1.0, 0.0}, {LRP_METHOD_GRADXINPUT, 1.0, 1.0}};
    for (int i = 0; i < n; i++) {
        if (cs[i].s.softcap > 0 || cs[i].s.key_factor) continue;  // covered by the comparison above
        for (size_t r = 0; r < sizeof rules_of / sizeof *rules_of; r++) {
            lrp_rules rules = lrp_rules_for(rules_of[r].m);
            attn_run in, b, ref = {0};
            inputs(&cs[i], &in, 2000 + i);
            run(&cs[i], "blockwise", &rules, &in, &b);
            direct(&cs[i], rules_of[r].fv, rules_of[r].fqk, &in, &ref);
            size_t nq = (size_t)cs[i].Tq * cs[i].s.n_heads * cs[i].s.head_dim;
            size_t nk = (size_t)cs[i].Tk * cs[i].s.n_kv_heads * cs[i].s.head_dim;
            double d[4] = {rel_diff(b.o, ref.o, nq), rel_diff(b.gq, ref.gq, nq), rel_diff(b.gk, ref.gk, nk),
                           rel_diff(b.gv, ref.gv, nk)};
            for (int f = 0; f < 4; f++) {
                if (d[f] > 1e-5) fprintf(stderr, "  case \"%s\", rule %zu, field %d\n", cs[i].name, r, f);
                CHECK_NEAR(d[f], 0.0, 1e-5);
            }
            free_run(&b), free_run(&ref), free(in.q), free(in.k), free(in.v), free(in.gO);
        }
    }
}

// --- op_checkpoint ------------------------------------------------------------------------------------
enum { CK_T = 96, CK_D = 16, CK_H = 4, CK_HD = 4 };
typedef struct {
    lrp_tensor norm, wq, wk, wv, wo;
} block_weights;

static lrp_tensor weight(float *data, int rows, int cols) {
    lrp_tensor t = {.name = "w", .dtype = LRP_F32, .ndim = cols ? 2 : 1, .data = data};
    t.shape[0] = rows;
    t.shape[1] = cols;
    t.nbytes = (size_t)rows * (cols ? cols : 1) * sizeof(float);
    return t;
}

// x + o(attention(q(n), k(n), v(n))) with n = rmsnorm(x): a pre-norm attention block.
static lrp_act *block(lrp_graph *g, lrp_act *x, void *ctx) {
    const block_weights *w = ctx;
    lrp_weight nw = lrp_weight_of(&w->norm), q = lrp_weight_of(&w->wq), k = lrp_weight_of(&w->wk),
               v = lrp_weight_of(&w->wv), o = lrp_weight_of(&w->wo);
    lrp_act *h = op_rmsnorm(g, x, &nw, 1e-5f, CK_D);
    lrp_attn_spec s = {.n_heads = CK_H, .n_kv_heads = CK_H, .head_dim = CK_HD, .scale = 0.5f};
    lrp_act *a = op_attention(g, op_linear(g, h, &q, NULL), op_linear(g, h, &k, NULL), op_linear(g, h, &v, NULL), &s);
    return op_add(g, x, op_linear(g, a, &o, NULL));
}

TEST(checkpointed_blocks_give_the_relevance_of_recorded_blocks) {
    static float x0[CK_T * CK_D], nw[CK_D], wq[CK_D * CK_D], wk[CK_D * CK_D], wv[CK_D * CK_D], wo[CK_D * CK_D],
        gy[CK_T * CK_D];
    rng_state = 4242;
    fill(x0, CK_T * CK_D, 1.0f), fill(nw, CK_D, 1.0f), fill(wq, CK_D * CK_D, 0.5f), fill(wk, CK_D * CK_D, 0.5f);
    fill(wv, CK_D * CK_D, 0.5f), fill(wo, CK_D * CK_D, 0.5f), fill(gy, CK_T * CK_D, 1.0f);
    block_weights w = {weight(nw, CK_D, 0), weight(wq, CK_D, CK_D), weight(wk, CK_D, CK_D), weight(wv, CK_D, CK_D),
                       weight(wo, CK_D, CK_D)};
    for (int m = 0; m < LRP_METHOD_COUNT; m++) {
        lrp_rules rules = lrp_rules_for((lrp_method)m);
        float *out[2] = {0}, *gx[2] = {0};
        for (int ck = 0; ck < 2; ck++) {  // two blocks in a row, recorded (ck 0) or checkpointed (ck 1)
            lrp_graph g;
            lrp_err err;
            lrp_graph_init(&g, 0, &err);
            lrp_act *x = lrp_act_new(&g, CK_T, CK_D);
            memcpy(x->x, x0, sizeof x0);
            lrp_act *y = x;
            for (int b = 0; b < 2; b++) y = ck ? op_checkpoint(&g, y, block, &w, sizeof w) : block(&g, y, &w);
            CHECK(y != NULL);
            if (!y) continue;
            CHECK(g.n_nodes == (ck ? 2 : 2 * 7));
            memcpy(lrp_act_grad(&g, y), gy, sizeof gy);
            x->keep_grad = 1;
            CHECK(lrp_graph_backward(&g, &rules, &err) == 0);
            out[ck] = copy_or_null(y->x, CK_T * CK_D);
            gx[ck] = copy_or_null(x->g, CK_T * CK_D);
            lrp_graph_free(&g);
        }
        CHECK_NEAR(rel_diff(out[1], out[0], CK_T * CK_D), 0.0, 1e-6);
        CHECK(gx[0] && gx[1]);
        CHECK_NEAR(rel_diff(gx[1], gx[0], CK_T * CK_D), 0.0, 1e-6);
        free(out[0]), free(out[1]), free(gx[0]), free(gx[1]);
    }
}

// Without recording (generation), a checkpointed block is just the block.
TEST(checkpoint_without_recording_runs_the_block_in_place) {
    static float x0[CK_T * CK_D], nw[CK_D], wm[CK_D * CK_D];
    rng_state = 99;
    fill(x0, CK_T * CK_D, 1.0f), fill(nw, CK_D, 1.0f), fill(wm, CK_D * CK_D, 0.5f);
    block_weights w = {weight(nw, CK_D, 0), weight(wm, CK_D, CK_D), weight(wm, CK_D, CK_D), weight(wm, CK_D, CK_D),
                       weight(wm, CK_D, CK_D)};
    lrp_graph g;
    lrp_err err;
    lrp_graph_init(&g, 0, &err);
    g.grad_enabled = 0;
    lrp_act *x = lrp_act_new(&g, CK_T, CK_D);
    memcpy(x->x, x0, sizeof x0);
    lrp_act *a = op_checkpoint(&g, x, block, &w, sizeof w), *b = block(&g, x, &w);
    CHECK(a && b && g.n_nodes == 0);
    if (a && b) CHECK_NEAR(rel_diff(a->x, b->x, CK_T * CK_D), 0.0, 0.0);
    lrp_graph_free(&g);
}

TEST_MAIN(T(blockwise_attention_equals_stored_probabilities_for_every_method_and_mask),
          T(blockwise_attention_matches_the_rule_in_float64), T(checkpointed_blocks_give_the_relevance_of_recorded_blocks),
          T(checkpoint_without_recording_runs_the_block_in_place))

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm.h"
#include "ops/ops.h"

// Query rows per block: under a causal mask a block multiplies only against the keys its last row can
// see, which skips most of the masked upper triangle of the scores.
#define ATTN_BLOCK 64

// Keys [first, end) a query row may see; masked keys inside that range (padding) are handled per entry.
static void visible_keys(const lrp_attn_spec *s, int Tq, int Tk, int i, int *first, int *end) {
    if (s->mask == LRP_ATTN_BIDIRECTIONAL) {
        *first = 0;
        *end = Tk;
        return;
    }
    int last = (Tk - Tq) + i;
    *first = s->window > 0 && last - s->window + 1 > 0 ? last - s->window + 1 : 0;
    *end = last + 1;
}

// Keys past which no row of the block [i0, i0 + nb) looks: the width of the block's products.
static int block_key_end(const lrp_attn_spec *s, int Tq, int Tk, int i0, int nb) {
    return s->mask == LRP_ATTN_BIDIRECTIONAL ? Tk : (Tk - Tq) + i0 + nb;
}

// Keys before which no row of the block starting at row i0 looks (a sliding window's first row): the
// block's products start there, so that a window of W keys costs O(T·W), not O(T²).
static int block_key_start(const lrp_attn_spec *s, int Tq, int Tk, int i0) {
    int first, end;
    visible_keys(s, Tq, Tk, i0, &first, &end);
    return first;
}

// The node keeps a copy of the spec (without the caller's pointers to its own variables).
// Stored mode keeps the probabilities [H, Tq, Tk] (n->saved) and, with soft-capping, the raw scores.
// Blockwise mode keeps only two floats per query row and head, the row's score maximum m and 1/Σ exp(x − m)
// (n->saved, [H, Tq, 2]), and recomputes each block of probabilities in the backward from Q, K, the bias
// and the masks with the very operations of the forward, p = expf(x − m) · (1/Σ), so the recomputed
// probabilities are the forward's bit for bit (and so is every relevance).
typedef struct {
    lrp_attn_spec s;
    float *raw;     // stored mode with soft-capping: the scores before the cap [H, Tq, Tk] (visible entries only)
    int blockwise;  // 1: n->saved holds the row statistics; probabilities and raw scores are recomputed
} attn_aux;

// Stored mode while the probabilities of one op take at most this many bytes; blockwise above.
#define ATTN_STORED_MAX_BYTES ((size_t)32 << 20)

// ATTNLRP_ATTN=blockwise|stored forces a mode (tests, benchmarks); unset or "auto": by size. The
// probability tap (s->probs) is the stored probabilities themselves, so it always takes stored mode.
static int attention_blockwise(const lrp_attn_spec *s, int H, int Tq, int Tk) {
    if (s->probs) return 0;
    const char *e = getenv("ATTNLRP_ATTN");
    if (e && strcmp(e, "blockwise") == 0) return 1;
    if (e && strcmp(e, "stored") == 0) return 0;
    return (size_t)H * Tq * Tk * sizeof(float) > ATTN_STORED_MAX_BYTES;
}

// The scores of query rows [i0, i0 + nb) of head h against keys [k0, kend) into P (row stride Tk): scale·q·k
// times the key factor, soft-capped (the raw scores kept in raw, row stride Tk, when soft-capping), plus the
// bias, over each row's visible unmasked keys; then the softmax in float32, max-subtracted. With stats_out,
// each row's maximum and 1/Σ go there ([nb, 2]); otherwise stats_in gives them (the backward's
// recomputation: the same expressions in the same order as the forward). Every other entry is exactly 0:
// of the whole row when whole (stored probabilities, which the tap exposes), else of keys [k0, kend) (a
// block that only the block's own products read).
static void block_probs(const lrp_attn_spec *s, const lrp_act *q, const lrp_act *k, int h, int Tq, int Tk, int i0,
                        int nb, int k0, int kend, int whole, float *P, float *raw, float *stats_out,
                        const float *stats_in) {
    int hd = s->head_dim, group = s->n_heads / s->n_kv_heads, kh = h / group, qc = q->cols, kc = k->cols;
    const float *kf = s->key_factor;
    const float *bias = s->bias ? s->bias + (s->bias_heads == 1 ? 0 : (size_t)h * Tq * Tk) : NULL;
    lrp_gemm(0, 1, nb, kend - k0, hd, s->scale, q->x + (size_t)i0 * qc + (size_t)h * hd, qc,
             k->x + (size_t)k0 * kc + (size_t)kh * hd, kc, 0.0f, P + k0, Tk);
    for (int i = 0; i < nb; i++) {
        float *p = P + (size_t)i * Tk;
        const float *bi = bias ? bias + (size_t)(i0 + i) * Tk : NULL;
        int first, end;
        visible_keys(s, Tq, Tk, i0 + i, &first, &end);
        float *rw = raw ? raw + (size_t)i * Tk : NULL;
        if (kf)
            for (int j = first; j < end; j++) p[j] *= kf[j];
        float m = -INFINITY;
        for (int j = first; j < end; j++) {
            if (s->key_mask && !s->key_mask[j]) continue;
            if (rw) {
                rw[j] = p[j];
                p[j] = (float)(s->softcap * tanh((double)p[j] / s->softcap));
            }
            if (bi) p[j] += bi[j];
            m = p[j] > m ? p[j] : m;
        }
        float inv;
        if (stats_out) {
            double sum = 0;
            for (int j = first; j < end; j++) {
                if (s->key_mask && !s->key_mask[j]) continue;
                p[j] = expf(p[j] - m);
                sum += p[j];
            }
            // A row that sees no key at all (every key padding) attends to nothing: output 0.
            inv = sum > 0 ? (float)(1.0 / sum) : 0.0f;
            stats_out[2 * i] = m;
            stats_out[2 * i + 1] = inv;
        } else {
            m = stats_in[2 * i];
            inv = stats_in[2 * i + 1];
            for (int j = first; j < end; j++) {
                if (s->key_mask && !s->key_mask[j]) continue;
                p[j] = expf(p[j] - m);
            }
        }
        for (int j = whole ? 0 : k0; j < first; j++) p[j] = 0.0f;
        for (int j = first; j < end; j++) p[j] = s->key_mask && !s->key_mask[j] ? 0.0f : p[j] * inv;
        for (int j = end; j < (whole ? Tk : kend); j++) p[j] = 0.0f;
    }
}

// The softmax's input x_j of query row i (absolute) and head h, recomputed: scale·q·k times the key
// factor, soft-capped, plus the bias. raw_row: the row's raw scores when soft-capping (else NULL).
static double softmax_input(const attn_aux *aux, const float *raw_row, const lrp_act *q, const lrp_act *k, int h,
                            int kh, int Tq, int Tk, int i, int j) {
    const lrp_attn_spec *s = &aux->s;
    int hd = s->head_dim, qc = q->cols, kc = k->cols;
    double raw;
    if (raw_row) {
        raw = raw_row[j];
    } else {
        double d = 0;
        const float *qi = q->x + (size_t)i * qc + (size_t)h * hd, *kj = k->x + (size_t)j * kc + (size_t)kh * hd;
        for (int t = 0; t < hd; t++) d += (double)qi[t] * kj[t];
        raw = (double)(s->scale * (float)d) * (s->key_factor ? s->key_factor[j] : 1.0f);
    }
    double x = s->softcap > 0.0f ? s->softcap * tanh(raw / s->softcap) : raw;
    if (s->bias) x += s->bias[(s->bias_heads == 1 ? 0 : (size_t)h * Tq * Tk) + (size_t)i * Tk + j];
    return x;
}

// The softmax ablations of SPEC §2 on one row: gp holds ĝ(s) on entry and ĝ(x) on return.
// identity: ĝ(x_j) = ĝ(s_j)·s_j / (x_j + 1e-10·sign(x_j)); distribute-bias: Prop. 3.1's
// R(x_j) = x_j (R_j − s_j Σ R) plus (Σ R − Σ_k x_k (R_k − s_k Σ R)) / N_visible, divided by the same
// stabilised x_j. Masked keys get 0. Non-finite results stay as they are (the paper's point).
static void softmax_ablation(const attn_aux *aux, lrp_softmax_rule rule, const float *raw_row, const lrp_act *q,
                             const lrp_act *k, int h, int kh, int Tq, int Tk, int i, const float *p, float *gp) {
    const lrp_attn_spec *s = &aux->s;
    int first, end;
    visible_keys(s, Tq, Tk, i, &first, &end);
    for (int j = 0; j < first; j++) gp[j] = 0.0f;
    double Rsum = 0, Rx_sum = 0;
    int n_vis = 0;
    for (int j = first; j < end; j++) {
        if (s->key_mask && !s->key_mask[j]) continue;
        Rsum += (double)p[j] * gp[j];
        n_vis++;
    }
    if (rule == LRP_SOFTMAX_DISTRIBUTE_BIAS)
        for (int j = first; j < end; j++) {
            if (s->key_mask && !s->key_mask[j]) continue;
            double x = softmax_input(aux, raw_row, q, k, h, kh, Tq, Tk, i, j);
            Rx_sum += x * ((double)p[j] * gp[j] - p[j] * Rsum);
        }
    double spread = n_vis > 0 ? (Rsum - Rx_sum) / n_vis : 0.0;
    for (int j = first; j < end; j++) {
        if (s->key_mask && !s->key_mask[j]) {
            gp[j] = 0.0f;
            continue;
        }
        double x = softmax_input(aux, raw_row, q, k, h, kh, Tq, Tk, i, j), stab = x + (x >= 0 ? 1e-10 : -1e-10);
        double R = (double)p[j] * gp[j];
        double Rx = rule == LRP_SOFTMAX_IDENTITY ? R : x * (R - p[j] * Rsum) + spread;
        gp[j] = (float)(Rx / stab);
    }
    for (int j = end; j < Tk; j++) gp[j] = 0.0f;
}

static void attention_backward(lrp_graph *g, const lrp_node *n, const lrp_rules *rules) {
    const attn_aux *aux = n->aux;
    const lrp_attn_spec *s = &aux->s;
    lrp_act *q = n->in[0], *k = n->in[1], *v = n->in[2], *probs = n->tap;
    int H = s->n_heads, KVH = s->n_kv_heads, hd = s->head_dim, Tq = q->rows, Tk = k->rows;
    int group = H / KVH, qc = H * hd, kc = KVH * hd;
    // fp: the share of A·V's gradient that reaches the probabilities; fs: of that, what reaches the
    // scores' operands Q and K; fv: what reaches V.
    float fp = 1.0f, fs = 1.0f, fv = 1.0f;
    if (rules->attn == LRP_ATTN_UNIFORM) {
        // A·V halves the flow to A and V; Q·Kᵀ halves A's share again for Q and K: ¼, ¼, ½.
        fp = 0.5f;
        fs = 0.5f;
        fv = 0.5f;
    } else if (rules->attn == LRP_ATTN_DETACH_QK) {
        fp = 0.0f;  // the attention weights are constants
    }
    float fq = fp * fs * s->scale;
    float *gv = lrp_act_grad(g, v);
    float *gq = fq != 0.0f ? lrp_act_grad(g, q) : NULL;
    float *gk = fq != 0.0f ? lrp_act_grad(g, k) : NULL;
    float *gprobs = probs ? lrp_act_grad(g, probs) : NULL;
    int need_gP = fq != 0.0f || gprobs;
    float *gP = need_gP ? lrp_graph_alloc(g, (size_t)ATTN_BLOCK * Tk * sizeof(float), 0) : NULL;
    if (!gv || g->failed) return;
    // Blockwise: one block of recomputed probabilities (and raw scores when soft-capping) at a time.
    float *work = NULL;
    if (aux->blockwise) {
        size_t blk = (size_t)ATTN_BLOCK * Tk;
        work = malloc(blk * (s->softcap > 0.0f ? 2 : 1) * sizeof(float));
        if (!work) {
            lrp_graph_fail(g, "out of memory: attention block of %d x %d", ATTN_BLOCK, Tk);
            return;
        }
    }
    const float *gO = n->out->g;
    for (int h = 0; h < H; h++) {
        int kh = h / group;
        for (int i0 = 0; i0 < Tq; i0 += ATTN_BLOCK) {
            int nb = Tq - i0 < ATTN_BLOCK ? Tq - i0 : ATTN_BLOCK, kend = block_key_end(s, Tq, Tk, i0, nb);
            // (the probability tap's gradient covers keys [0, kend) as it always has)
            int k0 = gprobs ? 0 : block_key_start(s, Tq, Tk, i0), nk = kend - k0;
            const float *Pb, *rawb;  // the block's probabilities and raw scores (NULL without soft-capping)
            if (aux->blockwise) {
                float *rw = s->softcap > 0.0f ? work + (size_t)ATTN_BLOCK * Tk : NULL;
                const float *st = n->saved + ((size_t)h * Tq + i0) * 2;
                block_probs(s, q, k, h, Tq, Tk, i0, nb, k0, kend, 0, work, rw, NULL, st);
                Pb = work;
                rawb = rw;
            } else {
                Pb = n->saved + ((size_t)h * Tq + i0) * Tk;
                rawb = aux->raw ? aux->raw + ((size_t)h * Tq + i0) * Tk : NULL;
            }
            const float *gOb = gO + (size_t)i0 * qc + (size_t)h * hd;
            // gV += fv · Pᵀ · gO
            lrp_gemm(1, 0, nk, hd, nb, fv, Pb + k0, Tk, gOb, qc, 1.0f, gv + (size_t)k0 * kc + (size_t)kh * hd, kc);
            if (!need_gP) continue;
            // gP = gO · Vᵀ; the probabilities' own gradient is fp · gP.
            lrp_gemm(0, 1, nb, nk, hd, 1.0f, gOb, qc, v->x + (size_t)k0 * kc + (size_t)kh * hd, kc, 0.0f, gP + k0, Tk);
            if (gprobs) {
                float *dst = gprobs + ((size_t)h * Tq + i0) * Tk;
                for (int i = 0; i < nb; i++)
                    for (int j = k0; j < kend; j++) dst[(size_t)i * Tk + j] += fp * gP[(size_t)i * Tk + j];
            }
            if (fq == 0.0f) continue;
            // The exact softmax backward: gS = P ⊙ (gP − Σ_j gP·P); zero where P is (masked keys).
            for (int i = 0; i < nb; i++) {
                const float *p = Pb + (size_t)i * Tk;
                const float *raw = rawb ? rawb + (size_t)i * Tk : NULL;
                float *gp = gP + (size_t)i * Tk;
                if (rules->softmax != LRP_SOFTMAX_EXACT) {
                    softmax_ablation(aux, rules->softmax, raw, q, k, h, kh, Tq, Tk, i0 + i, p, gp);
                } else {
                    double dot = 0;
                    for (int j = k0; j < kend; j++) dot += (double)gp[j] * p[j];
                    for (int j = k0; j < kend; j++) gp[j] = p[j] * (gp[j] - (float)dot);
                }
                if (s->softcap > 0.0f) {
                    // Through S = c·tanh(S_raw/c): the identity rule (R(S_raw) = R(S)) or the exact
                    // derivative. Only visible entries (p > 0) carry a gradient.
                    double c = s->softcap;
                    for (int j = k0; j < kend; j++) {
                        if (p[j] == 0.0f) continue;
                        double t = tanh(raw[j] / c);
                        gp[j] *= rules->act_identity ? (float)(c * t) / (raw[j] + 1e-10f) : (float)(1.0 - t * t);
                    }
                }
                if (s->key_factor)  // the scores were scale·q·k·key_factor[j]
                    for (int j = k0; j < kend; j++) gp[j] *= s->key_factor[j];
            }
            // gQ += fq · gS · K ;  gK += fq · gSᵀ · Q   (fq includes the score scale)
            lrp_gemm(0, 0, nb, hd, nk, fq, gP + k0, Tk, k->x + (size_t)k0 * kc + (size_t)kh * hd, kc, 1.0f,
                     gq + (size_t)i0 * qc + (size_t)h * hd, qc);
            lrp_gemm(1, 0, nk, hd, nb, fq, gP + k0, Tk, q->x + (size_t)i0 * qc + (size_t)h * hd, qc, 1.0f,
                     gk + (size_t)k0 * kc + (size_t)kh * hd, kc);
        }
    }
    free(work);
}

lrp_act *op_attention(lrp_graph *g, lrp_act *q, lrp_act *k, lrp_act *v, const lrp_attn_spec *s) {
    if (!q || !k || !v) return NULL;
    int H = s->n_heads, KVH = s->n_kv_heads, hd = s->head_dim, Tq = q->rows, Tk = k->rows;
    if (KVH <= 0 || H % KVH != 0 || q->cols != H * hd || k->cols != KVH * hd || v->cols != KVH * hd ||
        v->rows != Tk || (s->mask == LRP_ATTN_CAUSAL && Tk < Tq) ||
        (s->bias && s->bias_heads != 1 && s->bias_heads != H))
        return lrp_graph_fail(g, "internal: attention shapes q [%d, %d] k [%d, %d] v [%d, %d]", q->rows, q->cols,
                              k->rows, k->cols, v->rows, v->cols);
    int group = H / KVH, qc = H * hd, kc = KVH * hd;
    int blockwise = attention_blockwise(s, H, Tq, Tk);
    lrp_act *o = lrp_act_new(g, Tq, qc);
    lrp_act *probs = NULL;
    float *P = NULL, *stats = NULL, *work = NULL;
    attn_aux *aux = lrp_graph_alloc(g, sizeof *aux, 1);
    if (!o || !aux) return NULL;
    aux->s = *s;
    aux->s.probs = NULL;
    aux->blockwise = blockwise;
    const float *graph_kf = s->decoder_keys ? g->attn_key_factor_decoder : g->attn_key_factor;
    int graph_kf_n = s->decoder_keys ? g->attn_key_factor_decoder_n : g->attn_key_factor_n;
    if (!aux->s.key_factor && graph_kf && graph_kf_n == Tk) aux->s.key_factor = graph_kf;
    if (blockwise) {
        // The row statistics (only when the pass is recorded) and one block of probabilities at a time;
        // the block lives outside the arena, so that nothing of size T² stays.
        size_t blk = (size_t)ATTN_BLOCK * Tk;
        if (g->grad_enabled && !(stats = lrp_graph_alloc(g, (size_t)H * Tq * 2 * sizeof(float), 0))) return NULL;
        if (!(work = malloc(blk * (s->softcap > 0.0f ? 2 : 1) * sizeof(float))))
            return lrp_graph_fail(g, "out of memory: attention block of %d x %d", ATTN_BLOCK, Tk);
    } else if (s->probs) {
        probs = lrp_act_new(g, H * Tq, Tk);
        if (!probs) return NULL;
        P = probs->x;
    } else if (!(P = lrp_graph_alloc(g, (size_t)H * Tq * Tk * sizeof(float), 0))) {
        return NULL;
    }
    if (!blockwise && s->softcap > 0.0f &&
        !(aux->raw = lrp_graph_alloc(g, (size_t)H * Tq * Tk * sizeof(float), 0)))
        return NULL;
    float st[2 * ATTN_BLOCK];  // the statistics of a block when the pass is not recorded
    for (int h = 0; h < H; h++) {
        int kh = h / group;
        for (int i0 = 0; i0 < Tq; i0 += ATTN_BLOCK) {
            int nb = Tq - i0 < ATTN_BLOCK ? Tq - i0 : ATTN_BLOCK, kend = block_key_end(s, Tq, Tk, i0, nb);
            int k0 = block_key_start(s, Tq, Tk, i0);
            float *Pb, *rawb;
            if (blockwise) {
                Pb = work;
                rawb = s->softcap > 0.0f ? work + (size_t)ATTN_BLOCK * Tk : NULL;
            } else {
                Pb = P + ((size_t)h * Tq + i0) * Tk;
                rawb = aux->raw ? aux->raw + ((size_t)h * Tq + i0) * Tk : NULL;
            }
            float *sb = stats ? stats + ((size_t)h * Tq + i0) * 2 : st;
            block_probs(&aux->s, q, k, h, Tq, Tk, i0, nb, k0, kend, !blockwise, Pb, rawb, sb, NULL);
            // O_h = P · V_kh
            lrp_gemm(0, 0, nb, hd, kend - k0, 1.0f, Pb + k0, Tk, v->x + (size_t)k0 * kc + (size_t)kh * hd, kc, 0.0f,
                     o->x + (size_t)i0 * qc + (size_t)h * hd, qc);
        }
    }
    free(work);
    lrp_node *n = lrp_graph_record(g, "attention", attention_backward, o);
    if (!n) return NULL;
    n->in[0] = q;
    n->in[1] = k;
    n->in[2] = v;
    n->saved = blockwise ? stats : P;
    n->aux = aux;
    n->tap = probs;
    if (s->probs) *s->probs = probs;
    return o;
}

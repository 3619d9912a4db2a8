#include <cblas.h>
#include <math.h>
#include <string.h>

#include "ops/ops.h"

// Query rows per block: a block multiplies only against the keys its last row can see, which skips
// most of the masked upper triangle of the scores.
#define ATTN_BLOCK 64

// ip: [0] n_heads, [1] n_kv_heads, [2] head_dim; fp[0] scale; saved: probabilities P [H, Tq, Tk].
static void attention_backward(lrp_graph *g, const lrp_node *n, const lrp_rules *rules) {
    lrp_act *q = n->in[0], *k = n->in[1], *v = n->in[2];
    int H = n->ip[0], KVH = n->ip[1], hd = n->ip[2], Tq = q->rows, Tk = k->rows;
    int group = H / KVH, qc = H * hd, kc = KVH * hd;
    float scale = n->fp[0];
    float fq = 1.0f, fk = 1.0f, fv = 1.0f;
    if (rules->attn == LRP_ATTN_UNIFORM) {
        // A·V halves the flow to A and V; Q·Kᵀ halves A's share again for Q and K.
        fq = 0.25f;
        fk = 0.25f;
        fv = 0.5f;
    } else if (rules->attn == LRP_ATTN_DETACH_QK) {
        fq = 0.0f;
        fk = 0.0f;
    }
    float *gv = lrp_act_grad(g, v);
    float *gq = fq != 0.0f ? lrp_act_grad(g, q) : NULL;
    float *gk = fk != 0.0f ? lrp_act_grad(g, k) : NULL;
    float *gP = fq != 0.0f || fk != 0.0f ? lrp_graph_alloc(g, (size_t)Tq * Tk * sizeof(float), 0) : NULL;
    if (!gv || g->failed) return;
    const float *gO = n->out->g;
    int offset = Tk - Tq;
    for (int h = 0; h < H; h++) {
        int kh = h / group;
        const float *P = n->saved + (size_t)h * Tq * Tk;
        // Blocks of query rows; keys past the block's last visible one have P = 0 and are skipped.
        for (int i0 = 0; i0 < Tq; i0 += ATTN_BLOCK) {
            int nb = Tq - i0 < ATTN_BLOCK ? Tq - i0 : ATTN_BLOCK, kend = offset + i0 + nb;
            const float *Pb = P + (size_t)i0 * Tk, *gOb = gO + (size_t)i0 * qc + (size_t)h * hd;
            // gV += fv · Pᵀ · gO
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kend, hd, nb, fv, Pb, Tk, gOb, qc, 1.0f,
                        gv + (size_t)kh * hd, kc);
            if (!gP) continue;
            // gP = gO · Vᵀ, then the exact softmax backward: gS = P ⊙ (gP − Σ_j gP·P) (zero where masked).
            float *gPb = gP + (size_t)i0 * Tk;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, kend, hd, 1.0f, gOb, qc, v->x + (size_t)kh * hd,
                        kc, 0.0f, gPb, Tk);
            for (int i = 0; i < nb; i++) {
                const float *p = Pb + (size_t)i * Tk;
                float *gp = gPb + (size_t)i * Tk;
                double dot = 0;
                for (int j = 0; j < kend; j++) dot += (double)gp[j] * p[j];
                for (int j = 0; j < kend; j++) gp[j] = p[j] * (gp[j] - (float)dot);
            }
            // gQ += fq·scale · gS · K ;  gK += fk·scale · gSᵀ · Q
            if (gq)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nb, hd, kend, fq * scale, gPb, Tk,
                            k->x + (size_t)kh * hd, kc, 1.0f, gq + (size_t)i0 * qc + (size_t)h * hd, qc);
            if (gk)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kend, hd, nb, fk * scale, gPb, Tk,
                            q->x + (size_t)i0 * qc + (size_t)h * hd, qc, 1.0f, gk + (size_t)kh * hd, kc);
        }
    }
}

lrp_act *op_attention(lrp_graph *g, lrp_act *q, lrp_act *k, lrp_act *v, int n_heads, int n_kv_heads, int head_dim,
                      float scale, int window) {
    if (!q || !k || !v) return NULL;
    int H = n_heads, KVH = n_kv_heads, hd = head_dim, Tq = q->rows, Tk = k->rows;
    if (KVH <= 0 || H % KVH != 0 || q->cols != H * hd || k->cols != KVH * hd || v->cols != KVH * hd ||
        v->rows != Tk || Tk < Tq)
        return lrp_graph_fail(g, "internal: attention shapes q [%d, %d] k [%d, %d] v [%d, %d]", q->rows, q->cols,
                              k->rows, k->cols, v->rows, v->cols);
    int group = H / KVH, qc = H * hd, kc = KVH * hd, offset = Tk - Tq;
    lrp_act *o = lrp_act_new(g, Tq, qc);
    float *P = lrp_graph_alloc(g, (size_t)H * Tq * Tk * sizeof(float), 0);
    if (!o || !P) return NULL;
    for (int h = 0; h < H; h++) {
        int kh = h / group;
        for (int i0 = 0; i0 < Tq; i0 += ATTN_BLOCK) {
            int nb = Tq - i0 < ATTN_BLOCK ? Tq - i0 : ATTN_BLOCK, kend = offset + i0 + nb;
            float *Pb = P + (size_t)h * Tq * Tk + (size_t)i0 * Tk;
            // S = scale · Q_h · K_khᵀ over the keys the block can see, causal mask, softmax over keys
            // (float32, max-subtracted).
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, kend, hd, scale,
                        q->x + (size_t)i0 * qc + (size_t)h * hd, qc, k->x + (size_t)kh * hd, kc, 0.0f, Pb, Tk);
            for (int i = 0; i < nb; i++) {
                float *p = Pb + (size_t)i * Tk;
                int last = offset + i0 + i;  // keys first..last are visible
                int first = window > 0 && last - window + 1 > 0 ? last - window + 1 : 0;
                float m = p[first];
                for (int j = first + 1; j <= last; j++) m = p[j] > m ? p[j] : m;
                double sum = 0;
                for (int j = first; j <= last; j++) {
                    p[j] = expf(p[j] - m);
                    sum += p[j];
                }
                float inv = (float)(1.0 / sum);
                for (int j = 0; j < first; j++) p[j] = 0.0f;
                for (int j = first; j <= last; j++) p[j] *= inv;
                for (int j = last + 1; j < Tk; j++) p[j] = 0.0f;
            }
            // O_h = P · V_kh
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nb, hd, kend, 1.0f, Pb, Tk, v->x + (size_t)kh * hd,
                        kc, 0.0f, o->x + (size_t)i0 * qc + (size_t)h * hd, qc);
        }
    }
    lrp_node *n = lrp_graph_record(g, "attention", attention_backward, o);
    if (!n) return NULL;
    n->in[0] = q;
    n->in[1] = k;
    n->in[2] = v;
    n->saved = P;
    n->ip[0] = H;
    n->ip[1] = KVH;
    n->ip[2] = hd;
    n->fp[0] = scale;
    return o;
}

#include "evaluate/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

// ---- ranking and the removal order ----

typedef struct {
    float r;
    int t;
} ranked;

// Most relevant first; NaN after every number; ties: earlier position first. A total order, so qsort
// gives one answer whatever the input.
static int by_relevance_desc(const void *pa, const void *pb) {
    const ranked *a = pa, *b = pb;
    int na = isnan(a->r), nb = isnan(b->r);
    if (na != nb) return na - nb;
    if (!na && a->r != b->r) return a->r > b->r ? -1 : 1;
    return (a->t > b->t) - (a->t < b->t);
}

// The eligible positions, most relevant first; returns their count, or -1 on allocation failure.
static int rank_eligible(const float *relevance, const unsigned char *eligible, int T, int *order) {
    if (T <= 0) return 0;
    ranked *v = malloc((size_t)T * sizeof *v);
    if (!v) return -1;
    int n = 0;
    for (int t = 0; t < T; t++)
        if (eligible[t]) v[n].r = relevance[t], v[n].t = t, n++;
    qsort(v, (size_t)n, sizeof *v, by_relevance_desc);
    for (int i = 0; i < n; i++) order[i] = v[i].t;
    free(v);
    return n;
}

int lrp_eval_removal_order(const float *relevance, const unsigned char *removable, int T, int most_first,
                           int *order) {
    int n = rank_eligible(relevance, removable, T, order);
    if (n > 0 && !most_first)
        for (int i = 0, j = n - 1; i < j; i++, j--) {
            int s = order[i];
            order[i] = order[j];
            order[j] = s;
        }
    return n;
}

int lrp_eval_removed_at(int k, int steps, int n) {
    if (steps <= 0 || k <= 0 || n <= 0) return 0;
    if (k >= steps) return n;
    // round(k·n/steps) = floor((2kn + steps) / (2·steps)), in 64 bits so that no product overflows.
    long long num = 2LL * k * n + steps;
    return (int)(num / (2LL * steps));
}

int lrp_eval_top1(const float *relevance, const unsigned char *eligible, int T) {
    int best = -1;
    for (int t = 0; t < T; t++) {
        if (!eligible[t] || isnan(relevance[t])) continue;
        if (best < 0 || relevance[t] > relevance[best]) best = t;
    }
    if (best < 0)   // every eligible value is NaN: the earliest eligible position, as the ranking has it
        for (int t = 0; t < T && best < 0; t++)
            if (eligible[t]) best = t;
    return best;
}

double lrp_eval_topk_iou(const float *relevance, const unsigned char *eligible, const unsigned char *in_span, int T) {
    int k = 0;
    for (int t = 0; t < T; t++) k += eligible[t] && in_span[t];
    if (k == 0) return NAN;
    int *order = malloc((size_t)T * sizeof *order);
    if (!order) return NAN;
    int n = rank_eligible(relevance, eligible, T, order);
    int inter = 0;
    for (int i = 0; i < k && i < n; i++) inter += in_span[order[i]] != 0;
    free(order);
    // |top-k| = |span| = k, so the union has 2k − inter tokens.
    return (double)inter / (double)(2 * k - inter);
}

// ---- perturbation curves ----

int lrp_eval_curve(const int *order, int n, int T, int steps, double base, lrp_eval_logit_fn fn, void *ctx,
                   double *curve, lrp_err *err) {
    if (steps < 1) return lrp_fail(err, "--steps %d: must be at least 1", steps);
    if (T < 1 || n < 0 || n > T) return lrp_fail(err, "perturbation: %d removable tokens out of %d", n, T);
    if (!(base > 0) || !isfinite(base))
        return lrp_fail(err, "perturbation: unperturbed target logit %g is not positive", base);
    for (int i = 0; i < n; i++)
        if (order[i] < 0 || order[i] >= T) return lrp_fail(err, "perturbation: position %d out of range", order[i]);
    unsigned char *drop = calloc((size_t)T, 1);
    if (!drop) return lrp_fail(err, "out of memory");
    curve[0] = 1.0;
    int removed = 0;
    for (int k = 1; k <= steps; k++) {
        int nk = lrp_eval_removed_at(k, steps, n);
        if (nk == removed) {
            curve[k] = curve[k - 1];
            continue;
        }
        for (; removed < nk; removed++) drop[order[removed]] = 1;
        double logit;
        if (fn(drop, ctx, &logit, err)) {
            free(drop);
            return -1;
        }
        curve[k] = logit / base;
    }
    free(drop);
    return 0;
}

double lrp_eval_auc(const double *y, int n_points) {
    if (n_points < 2) return NAN;
    double h = 1.0 / (n_points - 1), a = 0;
    for (int i = 0; i + 1 < n_points; i++) a += 0.5 * (y[i] + y[i + 1]) * h;
    return a;
}

// ---- statistics ----

lrp_eval_stats lrp_eval_stats_of(const double *v, int n) {
    lrp_eval_stats s = {0, NAN, NAN, NAN};
    double sum = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) sum += v[i], s.n++;
    if (s.n == 0) return s;
    s.mean = sum / s.n;
    if (s.n < 2) return s;
    double ss = 0;   // two passes: no cancellation for values far from zero
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) ss += (v[i] - s.mean) * (v[i] - s.mean);
    s.sd = sqrt(ss / (s.n - 1));
    s.ci95 = 1.96 * s.sd / sqrt((double)s.n);
    return s;
}

// ---- one record, one method ----

void lrp_eval_result_free(lrp_eval_result *r) {
    free(r->morf);
    free(r->lerf);
    r->morf = r->lerf = NULL;
}

int lrp_eval_score(const float *relevance, const unsigned char *removable, const unsigned char *in_span, int T,
                   int steps, double base, lrp_eval_logit_fn fn, void *ctx, lrp_eval_result *out, lrp_err *err) {
    memset(out, 0, sizeof *out);
    out->iou = out->auc_morf = out->auc_lerf = out->delta_a = NAN;
    if (T < 1) return lrp_fail(err, "no input tokens");
    if (steps < 1) return lrp_fail(err, "--steps %d: must be at least 1", steps);
    out->top1 = lrp_eval_top1(relevance, removable, T);
    if (in_span) {
        out->has_span = 1;
        out->top1_in_span = out->top1 >= 0 && in_span[out->top1];
        out->iou = lrp_eval_topk_iou(relevance, removable, in_span, T);
    }
    if (!(base > 0) || !isfinite(base)) return 0;
    int *order = malloc((size_t)T * sizeof *order);
    out->morf = malloc((size_t)(steps + 1) * sizeof(double));
    out->lerf = malloc((size_t)(steps + 1) * sizeof(double));
    if (!order || !out->morf || !out->lerf) {
        free(order);
        lrp_eval_result_free(out);
        return lrp_fail(err, "out of memory");
    }
    int n = lrp_eval_removal_order(relevance, removable, T, 1, order);
    int rc = n < 0 ? lrp_fail(err, "out of memory")
                   : lrp_eval_curve(order, n, T, steps, base, fn, ctx, out->morf, err);
    if (rc == 0) {
        for (int i = 0, j = n - 1; i < j; i++, j--) {   // LeRF is MoRF reversed
            int s = order[i];
            order[i] = order[j];
            order[j] = s;
        }
        rc = lrp_eval_curve(order, n, T, steps, base, fn, ctx, out->lerf, err);
    }
    free(order);
    if (rc) {
        lrp_eval_result_free(out);
        return -1;
    }
    out->perturbed = 1;
    out->auc_morf = lrp_eval_auc(out->morf, steps + 1);
    out->auc_lerf = lrp_eval_auc(out->lerf, steps + 1);
    out->delta_a = out->auc_lerf - out->auc_morf;
    return 0;
}

// splitmix64 (Steele, Lea, Flood 2014): a tiny generator with good statistics for this purpose.
static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void lrp_eval_random_relevance(uint64_t seed, uint64_t stream, float *relevance, int T) {
    uint64_t s = seed;
    uint64_t mix = stream;
    s ^= splitmix64(&mix);   // decorrelate neighbouring streams
    for (int t = 0; t < T; t++) relevance[t] = (float)((double)(splitmix64(&s) >> 40) * 0x1.0p-24);
}

// ---- character offsets ----

// Code points of text[0..bytes) that are complete within those bytes.
static int complete_chars(const char *text, size_t len, size_t bytes) {
    int n = 0;
    size_t i = 0;
    while (i < len) {
        unsigned c = (unsigned char)text[i];
        size_t w = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        if (i + w > bytes) break;
        i += w;
        n++;
    }
    return n;
}

static size_t common_prefix(const char *a, size_t na, const char *b, size_t nb) {
    size_t i = 0;
    while (i < na && i < nb && a[i] == b[i]) i++;
    return i;
}

// The canonical form tokenizers that normalise can be matched in: each code point case-folded, accents
// stripped, whitespace and control characters dropped. origin (optional) receives, for each canonical code
// point, the index of the code point of s it came from. Returns the canonical length, or -1 (out of memory
// or invalid UTF-8).
static int canonical(const char *s, size_t len, int32_t **out, int **origin) {
    size_t cap = len * 4 + 8, n = 0;
    int32_t *c = malloc(cap * sizeof *c);
    int *o = origin ? malloc(cap * sizeof *o) : NULL;
    if (!c || (origin && !o)) goto fail;
    int cp_index = 0;
    for (size_t i = 0; i < len; cp_index++) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t w = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);
        if (w <= 0) goto fail;
        i += (size_t)w;
        utf8proc_int32_t buf[32];
        int last = 0;
        utf8proc_ssize_t k = utf8proc_decompose_char(cp, buf, 32, UTF8PROC_CASEFOLD | UTF8PROC_STRIPMARK | UTF8PROC_DECOMPOSE,
                                                     &last);
        if (k < 0 || k > 32) goto fail;
        for (utf8proc_ssize_t j = 0; j < k; j++) {
            utf8proc_category_t cat = utf8proc_category(buf[j]);
            if (cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF ||
                cat == UTF8PROC_CATEGORY_MN || buf[j] == ' ')
                continue;
            if (n == cap) goto fail;
            c[n] = buf[j];
            if (o) o[n] = cp_index;
            n++;
        }
    }
    *out = c;
    if (origin) *origin = o;
    return (int)n;
fail:
    free(c);
    free(o);
    return -1;
}

// Offsets when the decoded tokens reproduce the text only up to normalisation (a lowercasing WordPiece
// tokenizer: "To be fair, the" decodes as "to be fair , the"): token i ends after the text code point that
// completes the canonical prefix decoded from ids[0..i].
static int normalised_offsets(const int *ids, int T, const char *text, size_t len, lrp_eval_decode_fn decode,
                              void *ctx, int *start, int *end, lrp_err *err) {
    int32_t *ct = NULL, *cd = NULL;
    int *origin = NULL, rc = -1;
    int nt = canonical(text, len, &ct, &origin);
    if (nt < 0) return lrp_fail(err, "out of memory");
    int prev = 0;
    for (int i = 0; i < T; i++) {
        char *s = NULL;
        if (decode(ids, i + 1, &s, ctx, err)) goto done;
        int nd = canonical(s, strlen(s), &cd, NULL);
        free(s);
        if (nd < 0 || nd > nt || (nd > 0 && memcmp(cd, ct, (size_t)nd * sizeof *cd) != 0)) {
            lrp_fail(err, "the tokens do not decode back to the text (even up to case, accents and spaces), so "
                          "character offsets cannot be mapped onto tokens");
            goto done;
        }
        if (i == T - 1 && nd != nt) {
            lrp_fail(err, "the tokens do not decode back to the whole text, so character offsets cannot be mapped "
                          "onto tokens");
            goto done;
        }
        free(cd);
        cd = NULL;
        int e = nd == 0 ? 0 : origin[nd - 1] + 1;  // just after the text code point of the last one covered
        if (e < prev) e = prev;
        start[i] = prev;
        end[i] = e;
        prev = e;
    }
    rc = 0;
done:
    free(ct);
    free(cd);
    free(origin);
    return rc;
}

int lrp_eval_token_offsets(const int *ids, int T, const char *text, size_t len, lrp_eval_decode_fn decode, void *ctx,
                           int *start, int *end, lrp_err *err) {
    int prev = 0;
    for (int i = 0; i < T; i++) {
        char *s = NULL;
        if (decode(ids, i + 1, &s, ctx, err)) return -1;
        size_t ns = strlen(s);
        int e = complete_chars(text, len, common_prefix(s, ns, text, len));
        if (i == T - 1 && (ns != len || memcmp(s, text, len) != 0)) {
            free(s);
            return normalised_offsets(ids, T, text, len, decode, ctx, start, end, err);
        }
        free(s);
        if (e < prev) e = prev;   // a later token never takes back text an earlier one covered
        start[i] = prev;
        end[i] = e;
        prev = e;
    }
    return 0;
}

int lrp_eval_span_tokens(const int *start, const int *end, const unsigned char *eligible, int T, int span_start,
                         int span_end, unsigned char *in_span) {
    int n = 0;
    for (int t = 0; t < T; t++) {
        int hit;
        if (start[t] < end[t]) hit = start[t] < span_end && end[t] > span_start;
        else hit = span_start <= start[t] && start[t] < span_end;
        in_span[t] = (unsigned char)(eligible[t] && hit);
        n += in_span[t];
    }
    return n;
}

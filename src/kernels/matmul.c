#include "kernels/matmul.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/dequant.h"
#include "kernels/gemm.h"
#include "kernels/half.h"

// Bytes of one stored row: `in` elements for a [N, in] storage, N for a transposed [in, N] one.
static size_t storage_row_bytes(const lrp_weight *W) {
    int64_t n = W->transposed ? W->t->shape[W->t->ndim - 1] : W->in;
    return lrp_dtype_row_bytes(W->t->dtype, n);
}

static float element(lrp_dtype t, const void *base, int64_t i) {
    switch (t) {
    case LRP_F32: return ((const float *)base)[i];
    case LRP_F16: return lrp_f16_to_f32(((const uint16_t *)base)[i]);
    case LRP_BF16: return lrp_bf16_to_f32(((const uint16_t *)base)[i]);
    default: return 0.0f;  // excluded by lrp_weight_check
    }
}

// How stored elements are widened: lrp_dequant_row (fast paths) or lrp_dequant_row_ref (the references).
typedef void (*widen_fn)(lrp_dtype t, const void *src, float *dst, int64_t n);

// `n` consecutive stored elements starting at element `first` of stored row `row`, widened.
static void stored_span(const lrp_weight *W, int64_t row, int64_t first, int64_t n, float *dst, widen_fn widen) {
    const unsigned char *base = (const unsigned char *)W->t->data + (size_t)row * storage_row_bytes(W);
    size_t skip = lrp_dtype_row_bytes(W->t->dtype, first);
    widen(W->t->dtype, base + skip, dst, n);
}

int lrp_weight_check(const lrp_weight *W) {
    if (!W->t) return 0;
    lrp_dtype dt = W->t->dtype;
    if (!lrp_dtype_is_weight(dt)) return -1;
    if (W->transposed) return lrp_dtype_is_elementwise(dt) ? 0 : -1;
    int be = lrp_dtype_block_elems(dt);
    if (be <= 0) return -1;
    if (W->in == 1 && W->t->ndim == 1)  // a vector: a span of one stored row
        return W->offset % be == 0 && W->out % be == 0 ? 0 : -1;
    return W->in % be == 0 ? 0 : -1;
}

static void weight_row(const lrp_weight *W, int64_t r, float *dst, widen_fn widen) {
    if (!W->transposed) {
        stored_span(W, W->offset + r, 0, W->in, dst, widen);
        return;
    }
    int64_t N = W->t->shape[W->t->ndim - 1];
    for (int64_t i = 0; i < W->in; i++) dst[i] = element(W->t->dtype, W->t->data, i * N + W->offset + r);
}

void lrp_weight_row(const lrp_weight *W, int64_t r, float *dst) {
    weight_row(W, r, dst, lrp_dequant_row);
}

void lrp_weight_vector(const lrp_weight *v, float *dst) {
    stored_span(v, 0, v->offset, v->out, dst, lrp_dequant_row);
}

static void add_bias(float *y, const lrp_weight *bias, int T, int out, float *tmp, widen_fn widen) {
    stored_span(bias, 0, bias->offset, bias->out, tmp, widen);
    for (int t = 0; t < T; t++) {
        float *yt = y + (size_t)t * out;
        for (int j = 0; j < out; j++) yt[j] += tmp[j];
    }
}

// Rows per widened panel: as many rows of `width` floats as fit in scratch.
static int panel_rows(size_t scratch_floats, int64_t width, int64_t total) {
    size_t p = scratch_floats / (size_t)width;
    if (p < 1) p = 1;
    if (p > (size_t)total) p = (size_t)total;
    return (int)p;
}

// Stored rows [i0, i0 + p) of a transposed view, columns offset .. offset + out, widened to [p, out].
static void transposed_panel(const lrp_weight *W, int i0, int p, float *dst) {
    for (int r = 0; r < p; r++) stored_span(W, i0 + r, W->offset, W->out, dst + (size_t)r * W->out, lrp_dequant_row);
}

void lrp_matmul_forward(float *y, const float *x, const lrp_weight *W, const lrp_weight *bias, int T, float *scratch,
                        size_t scratch_floats) {
    int in = (int)W->in, out = (int)W->out;
    if (W->transposed) {
        if (W->t->dtype == LRP_F32) {
            int64_t N = W->t->shape[W->t->ndim - 1];
            lrp_gemm(0, 0, T, out, in, 1.0f, x, in, (const float *)W->t->data + W->offset, (int)N, 0.0f, y, out);
        } else {
            int P = panel_rows(scratch_floats, out, in);
            for (int i0 = 0; i0 < in; i0 += P) {
                int p = in - i0 < P ? in - i0 : P;
                transposed_panel(W, i0, p, scratch);
                lrp_gemm(0, 0, T, out, p, 1.0f, x + i0, in, scratch, out, i0 ? 1.0f : 0.0f, y, out);
            }
        }
    } else if (W->t->dtype == LRP_F32) {
        const float *w = (const float *)W->t->data + (size_t)W->offset * in;
        if (T == 1) lrp_gemv(0, out, in, 1.0f, w, in, x, 0.0f, y);
        else lrp_gemm(0, 1, T, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
    } else {
        int P = panel_rows(scratch_floats, in, out);
        for (int j0 = 0; j0 < out; j0 += P) {
            int p = out - j0 < P ? out - j0 : P;
            for (int r = 0; r < p; r++) lrp_weight_row(W, j0 + r, scratch + (size_t)r * in);
            if (T == 1) lrp_gemv(0, p, in, 1.0f, scratch, in, x, 0.0f, y + j0);
            else lrp_gemm(0, 1, T, p, in, 1.0f, x, in, scratch, in, 0.0f, y + j0, out);
        }
    }
    if (bias && bias->t) add_bias(y, bias, T, out, scratch, lrp_dequant_row);
}

void lrp_matmul_backward_input(float *gx, const float *gy, const lrp_weight *W, int T, float *scratch,
                               size_t scratch_floats) {
    int in = (int)W->in, out = (int)W->out;
    if (W->transposed) {
        if (W->t->dtype == LRP_F32) {
            int64_t N = W->t->shape[W->t->ndim - 1];
            lrp_gemm(0, 1, T, in, out, 1.0f, gy, out, (const float *)W->t->data + W->offset, (int)N, 1.0f, gx, in);
        } else {
            int P = panel_rows(scratch_floats, out, in);
            for (int i0 = 0; i0 < in; i0 += P) {
                int p = in - i0 < P ? in - i0 : P;
                transposed_panel(W, i0, p, scratch);
                lrp_gemm(0, 1, T, p, out, 1.0f, gy, out, scratch, out, 1.0f, gx + i0, in);
            }
        }
        return;
    }
    if (W->t->dtype == LRP_F32) {
        const float *w = (const float *)W->t->data + (size_t)W->offset * in;
        if (T == 1) lrp_gemv(1, out, in, 1.0f, w, in, gy, 1.0f, gx);
        else lrp_gemm(0, 0, T, in, out, 1.0f, gy, out, w, in, 1.0f, gx, in);
        return;
    }
    int P = panel_rows(scratch_floats, in, out);
    for (int j0 = 0; j0 < out; j0 += P) {
        int p = out - j0 < P ? out - j0 : P;
        for (int r = 0; r < p; r++) lrp_weight_row(W, j0 + r, scratch + (size_t)r * in);
        if (T == 1) lrp_gemv(1, p, in, 1.0f, scratch, in, gy + j0, 1.0f, gx);
        else lrp_gemm(0, 0, T, in, p, 1.0f, gy + j0, out, scratch, in, 1.0f, gx, in);
    }
}

int lrp_matmul_forward_ref(float *y, const float *x, const lrp_weight *W, const lrp_weight *bias, int T) {
    int in = (int)W->in, out = (int)W->out;
    float *row = malloc((size_t)(in > out ? in : out) * sizeof(float));
    if (!row) return -1;
    for (int j = 0; j < out; j++) {
        weight_row(W, j, row, lrp_dequant_row_ref);
        for (int t = 0; t < T; t++) {
            double s = 0;
            for (int i = 0; i < in; i++) s += (double)x[(size_t)t * in + i] * row[i];
            y[(size_t)t * out + j] = (float)s;
        }
    }
    if (bias && bias->t) add_bias(y, bias, T, out, row, lrp_dequant_row_ref);
    free(row);
    return 0;
}

int lrp_matmul_backward_input_ref(float *gx, const float *gy, const lrp_weight *W, int T) {
    int in = (int)W->in, out = (int)W->out;
    double *acc = calloc((size_t)T * in, sizeof(double));
    float *row = malloc((size_t)in * sizeof(float));
    if (!acc || !row) {
        free(acc);
        free(row);
        return -1;
    }
    for (int j = 0; j < out; j++) {
        weight_row(W, j, row, lrp_dequant_row_ref);
        for (int t = 0; t < T; t++) {
            double gj = gy[(size_t)t * out + j];
            for (int i = 0; i < in; i++) acc[(size_t)t * in + i] += gj * row[i];
        }
    }
    for (size_t k = 0; k < (size_t)T * in; k++) gx[k] += (float)acc[k];
    free(acc);
    free(row);
    return 0;
}

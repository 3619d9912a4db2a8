#include "kernels/matmul.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

void lrp_weight_row(const lrp_tensor *W, int64_t r, int64_t in, float *dst) {
    size_t rb = lrp_dtype_row_bytes(W->dtype, in);
    lrp_dequant_row(W->dtype, (const unsigned char *)W->data + (size_t)r * rb, dst, in);
}

static void add_bias(float *y, const lrp_tensor *bias, int T, int out, float *tmp) {
    lrp_dequant_row(bias->dtype, bias->data, tmp, out);
    for (int t = 0; t < T; t++) {
        float *yt = y + (size_t)t * out;
        for (int j = 0; j < out; j++) yt[j] += tmp[j];
    }
}

// Rows of W per widened panel: as many as fit in scratch.
static int panel_rows(size_t scratch_floats, int in, int out) {
    size_t p = scratch_floats / (size_t)in;
    if (p < 1) p = 1;
    if (p > (size_t)out) p = (size_t)out;
    return (int)p;
}

void lrp_matmul_forward(float *y, const float *x, const lrp_tensor *W, const lrp_tensor *bias, int T, int in,
                        int out, float *scratch, size_t scratch_floats) {
    if (W->dtype == LRP_F32) {
        const float *w = W->data;
        if (T == 1)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, out, in, 1.0f, w, in, x, 1, 0.0f, y, 1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
    } else {
        int P = panel_rows(scratch_floats, in, out);
        for (int j0 = 0; j0 < out; j0 += P) {
            int p = out - j0 < P ? out - j0 : P;
            for (int r = 0; r < p; r++) lrp_weight_row(W, j0 + r, in, scratch + (size_t)r * in);
            if (T == 1)
                cblas_sgemv(CblasRowMajor, CblasNoTrans, p, in, 1.0f, scratch, in, x, 1, 0.0f, y + j0, 1);
            else
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, p, in, 1.0f, x, in, scratch, in, 0.0f,
                            y + j0, out);
        }
    }
    if (bias) add_bias(y, bias, T, out, scratch);
}

void lrp_matmul_backward_input(float *gx, const float *gy, const lrp_tensor *W, int T, int in, int out,
                               float *scratch, size_t scratch_floats) {
    if (W->dtype == LRP_F32) {
        const float *w = W->data;
        if (T == 1)
            cblas_sgemv(CblasRowMajor, CblasTrans, out, in, 1.0f, w, in, gy, 1, 1.0f, gx, 1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, in, out, 1.0f, gy, out, w, in, 1.0f, gx, in);
        return;
    }
    int P = panel_rows(scratch_floats, in, out);
    for (int j0 = 0; j0 < out; j0 += P) {
        int p = out - j0 < P ? out - j0 : P;
        for (int r = 0; r < p; r++) lrp_weight_row(W, j0 + r, in, scratch + (size_t)r * in);
        if (T == 1)
            cblas_sgemv(CblasRowMajor, CblasTrans, p, in, 1.0f, scratch, in, gy + j0, 1, 1.0f, gx, 1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, in, p, 1.0f, gy + j0, out, scratch, in, 1.0f,
                        gx, in);
    }
}

void lrp_matmul_forward_ref(float *y, const float *x, const lrp_tensor *W, const lrp_tensor *bias, int T, int in,
                            int out) {
    float *row = malloc((size_t)(in > out ? in : out) * sizeof(float));
    if (!row) return;
    for (int j = 0; j < out; j++) {
        lrp_weight_row(W, j, in, row);
        for (int t = 0; t < T; t++) {
            double s = 0;
            for (int i = 0; i < in; i++) s += (double)x[(size_t)t * in + i] * row[i];
            y[(size_t)t * out + j] = (float)s;
        }
    }
    if (bias) add_bias(y, bias, T, out, row);
    free(row);
}

void lrp_matmul_backward_input_ref(float *gx, const float *gy, const lrp_tensor *W, int T, int in, int out) {
    double *acc = calloc((size_t)T * in, sizeof(double));
    float *row = malloc((size_t)in * sizeof(float));
    if (acc && row) {
        for (int j = 0; j < out; j++) {
            lrp_weight_row(W, j, in, row);
            for (int t = 0; t < T; t++) {
                double gj = gy[(size_t)t * out + j];
                for (int i = 0; i < in; i++) acc[(size_t)t * in + i] += gj * row[i];
            }
        }
        for (size_t k = 0; k < (size_t)T * in; k++) gx[k] += (float)acc[k];
    }
    free(acc);
    free(row);
}

// GGUF writer and reference quantisers for tests (see gguf_writer.h).
#include "gguf_writer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/half.h"

typedef struct buf {
    unsigned char *p;
    size_t len, cap;
    int oom;
} buf;

static void buf_put(buf *b, const void *p, size_t n) {
    if (b->oom) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) cap *= 2;
        unsigned char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, p, n);
    b->len += n;
}

typedef struct gw_tensor_rec {
    char *name;
    uint32_t type, n_dims;
    uint64_t ne[4];
    unsigned char *data;
    size_t nbytes;
    int lie;
    uint64_t lie_offset;
} gw_tensor_rec;

struct gguf_writer {
    uint32_t version;
    uint32_t alignment;
    buf kv;
    uint64_t n_kv;
    gw_tensor_rec *tensors;
    int n_tensors, cap_tensors;
    uint64_t lie_n_tensors, lie_n_kv;
    int oom;
};

gguf_writer *gw_new(uint32_t version) {
    gguf_writer *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->version = version;
    w->alignment = 32;
    w->lie_n_tensors = w->lie_n_kv = UINT64_MAX;
    return w;
}

void gw_free(gguf_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n_tensors; i++) {
        free(w->tensors[i].name);
        free(w->tensors[i].data);
    }
    free(w->tensors);
    free(w->kv.p);
    free(w);
}

// --- metadata ---------------------------------------------------------------------------------

void gw_put_bytes(gguf_writer *w, const void *p, size_t n) {
    buf_put(&w->kv, p, n);
}

void gw_put_u8(gguf_writer *w, uint8_t v) {
    gw_put_bytes(w, &v, 1);
}

void gw_put_u32(gguf_writer *w, uint32_t v) {
    gw_put_bytes(w, &v, 4);
}

void gw_put_u64(gguf_writer *w, uint64_t v) {
    gw_put_bytes(w, &v, 8);
}

void gw_put_count(gguf_writer *w, uint64_t v) {
    if (w->version == 1) gw_put_u32(w, (uint32_t)v);
    else gw_put_u64(w, v);
}

void gw_put_str(gguf_writer *w, const char *s) {
    size_t n = strlen(s);
    gw_put_count(w, n);
    gw_put_bytes(w, s, n);
}

void gw_put_arr_header(gguf_writer *w, uint32_t elem, uint64_t n) {
    gw_put_u32(w, elem);
    gw_put_count(w, n);
}

void gw_key(gguf_writer *w, const char *key, uint32_t type) {
    gw_put_str(w, key);
    gw_put_u32(w, type);
    w->n_kv++;
}

void gw_set_alignment(gguf_writer *w, uint32_t a, int write_key) {
    w->alignment = a;
    if (write_key) gw_kv_u32(w, "general.alignment", a);
}

#define GW_SCALAR(fn, ctype, code)                                  \
    void fn(gguf_writer *w, const char *key, ctype v) {             \
        gw_key(w, key, code);                                       \
        gw_put_bytes(w, &v, sizeof v);                              \
    }
GW_SCALAR(gw_kv_u8, uint8_t, GW_UINT8)
GW_SCALAR(gw_kv_i8, int8_t, GW_INT8)
GW_SCALAR(gw_kv_u16, uint16_t, GW_UINT16)
GW_SCALAR(gw_kv_i16, int16_t, GW_INT16)
GW_SCALAR(gw_kv_u32, uint32_t, GW_UINT32)
GW_SCALAR(gw_kv_i32, int32_t, GW_INT32)
GW_SCALAR(gw_kv_f32, float, GW_FLOAT32)
GW_SCALAR(gw_kv_u64, uint64_t, GW_UINT64)
GW_SCALAR(gw_kv_i64, int64_t, GW_INT64)
GW_SCALAR(gw_kv_f64, double, GW_FLOAT64)

void gw_kv_bool(gguf_writer *w, const char *key, int v) {
    gw_key(w, key, GW_BOOL);
    gw_put_u8(w, v ? 1 : 0);
}

void gw_kv_str(gguf_writer *w, const char *key, const char *v) {
    gw_key(w, key, GW_STRING);
    gw_put_str(w, v);
}

static size_t elem_size(uint32_t t) {
    switch (t) {
    case GW_UINT8: case GW_INT8: case GW_BOOL: return 1;
    case GW_UINT16: case GW_INT16: return 2;
    case GW_UINT32: case GW_INT32: case GW_FLOAT32: return 4;
    case GW_UINT64: case GW_INT64: case GW_FLOAT64: return 8;
    default: return 0;
    }
}

void gw_kv_arr(gguf_writer *w, const char *key, uint32_t elem, const void *elems, uint64_t n) {
    gw_key(w, key, GW_ARRAY);
    gw_put_arr_header(w, elem, n);
    gw_put_bytes(w, elems, (size_t)n * elem_size(elem));
}

void gw_kv_arr_str(gguf_writer *w, const char *key, const char *const *strs, uint64_t n) {
    gw_key(w, key, GW_ARRAY);
    gw_put_arr_header(w, GW_STRING, n);
    for (uint64_t i = 0; i < n; i++) gw_put_str(w, strs[i]);
}

// --- tensors ----------------------------------------------------------------------------------

uint32_t gw_ggml_type(lrp_dtype t) {
    switch (t) {
    case LRP_F32: return 0;
    case LRP_F16: return 1;
    case LRP_Q4_0: return 2;
    case LRP_Q4_1: return 3;
    case LRP_Q5_0: return 6;
    case LRP_Q5_1: return 7;
    case LRP_Q8_0: return 8;
    case LRP_Q4_K: return 12;
    case LRP_Q5_K: return 13;
    case LRP_Q6_K: return 14;
    case LRP_Q8_K: return 15;
    case LRP_BF16: return 30;
    default: return 0xFFFFFFFFu;
    }
}

int gw_tensor(gguf_writer *w, const char *name, uint32_t ggml_type, uint32_t n_dims, const uint64_t *ne,
              const void *data, size_t nbytes) {
    if (w->n_tensors == w->cap_tensors) {
        int cap = w->cap_tensors ? 2 * w->cap_tensors : 16;
        gw_tensor_rec *nt = realloc(w->tensors, (size_t)cap * sizeof *nt);
        if (!nt) {
            w->oom = 1;
            return -1;
        }
        w->tensors = nt;
        w->cap_tensors = cap;
    }
    gw_tensor_rec *r = &w->tensors[w->n_tensors];
    memset(r, 0, sizeof *r);
    r->name = strdup(name);
    r->data = malloc(nbytes ? nbytes : 1);
    if (!r->name || !r->data) {
        free(r->name);
        free(r->data);
        w->oom = 1;
        return -1;
    }
    if (nbytes) memcpy(r->data, data, nbytes);
    r->nbytes = nbytes;
    r->type = ggml_type;
    r->n_dims = n_dims;
    for (uint32_t i = 0; i < n_dims && i < 4; i++) r->ne[i] = ne[i];
    return w->n_tensors++;
}

int gw_tensor_f32(gguf_writer *w, const char *name, lrp_dtype t, uint32_t n_dims, const uint64_t *ne,
                  const float *x) {
    uint64_t rows = 1;
    for (uint32_t i = 1; i < n_dims; i++) rows *= ne[i];
    size_t row_bytes = lrp_dtype_row_bytes(t, (int64_t)ne[0]);
    if (row_bytes == 0) return -1;
    size_t total = row_bytes * (size_t)rows;
    unsigned char *data = malloc(total ? total : 1);
    if (!data) {
        w->oom = 1;
        return -1;
    }
    for (uint64_t r = 0; r < rows; r++) gw_quantize(t, x + r * ne[0], (int64_t)ne[0], data + r * row_bytes);
    int idx = gw_tensor(w, name, gw_ggml_type(t), n_dims, ne, data, total);
    free(data);
    return idx;
}

void gw_lie_offset(gguf_writer *w, int idx, uint64_t offset) {
    if (idx < 0 || idx >= w->n_tensors) return;
    w->tensors[idx].lie = 1;
    w->tensors[idx].lie_offset = offset;
}

void gw_lie_counts(gguf_writer *w, uint64_t n_tensors, uint64_t n_kv) {
    w->lie_n_tensors = n_tensors;
    w->lie_n_kv = n_kv;
}

// --- the image --------------------------------------------------------------------------------

static void put_count(buf *b, uint32_t version, uint64_t v) {
    if (version == 1) {
        uint32_t x = (uint32_t)v;
        buf_put(b, &x, 4);
    } else {
        buf_put(b, &v, 8);
    }
}

static void pad_to(buf *b, uint64_t a) {
    static const unsigned char zeros[64] = {0};
    while (a && b->len % a) {
        size_t k = (size_t)(a - b->len % a);
        buf_put(b, zeros, k < sizeof zeros ? k : sizeof zeros);
        if (b->oom) return;
    }
}

unsigned char *gw_image(gguf_writer *w, size_t *len) {
    if (w->oom || w->kv.oom) return NULL;
    buf b = {0};
    buf_put(&b, "GGUF", 4);
    buf_put(&b, &w->version, 4);
    put_count(&b, w->version, w->lie_n_tensors != UINT64_MAX ? w->lie_n_tensors : (uint64_t)w->n_tensors);
    put_count(&b, w->version, w->lie_n_kv != UINT64_MAX ? w->lie_n_kv : w->n_kv);
    buf_put(&b, w->kv.p, w->kv.len);
    uint64_t a = w->alignment ? w->alignment : 1;
    uint64_t offset = 0;
    for (int i = 0; i < w->n_tensors; i++) {
        const gw_tensor_rec *r = &w->tensors[i];
        put_count(&b, w->version, strlen(r->name));
        buf_put(&b, r->name, strlen(r->name));
        buf_put(&b, &r->n_dims, 4);
        for (uint32_t d = 0; d < r->n_dims && d < 4; d++) put_count(&b, w->version, r->ne[d]);
        buf_put(&b, &r->type, 4);
        uint64_t off = r->lie ? r->lie_offset : offset;
        buf_put(&b, &off, 8);
        offset += r->nbytes;
        if (offset % a) offset += a - offset % a;
    }
    if (w->n_tensors) pad_to(&b, a);  // the data section (a file without tensors ends here)
    for (int i = 0; i < w->n_tensors; i++) {
        buf_put(&b, w->tensors[i].data, w->tensors[i].nbytes);
        if (i + 1 < w->n_tensors) pad_to(&b, a);
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}

int gw_write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t k = n ? fwrite(p, 1, n, f) : 0;
    int rc = fclose(f);
    return k == n && rc == 0 ? 0 : -1;
}

int gw_write_truncated(gguf_writer *w, const char *path, size_t keep) {
    size_t len;
    unsigned char *img = gw_image(w, &len);
    if (!img) return -1;
    int rc = gw_write_bytes(path, img, keep < len ? keep : len);
    free(img);
    return rc;
}

int gw_write(gguf_writer *w, const char *path) {
    return gw_write_truncated(w, path, SIZE_MAX);
}

// --- quantisers -------------------------------------------------------------------------------

// The f16 nearest to v, moved up one step if that is below v (v >= 0), so that a scale derived
// from it never shrinks the range it must cover.
static uint16_t f16_at_least(float v) {
    uint16_t h = lrp_f32_to_f16(v);
    if (lrp_f16_to_f32(h) < v) h++;
    return h;
}

static void put_f16(unsigned char *p, uint16_t h) {
    memcpy(p, &h, 2);
}

static int clampi(int v, int lo, int hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

static int nearest(float v) {
    return (int)lrintf(v);
}

// Symmetric formats: value = d * q with q in [-levels_neg, levels_pos].
static float block_amax(const float *x, int n) {
    float a = 0;
    for (int i = 0; i < n; i++) a = fmaxf(a, fabsf(x[i]));
    return a;
}

static void quant_q8_0(const float *x, unsigned char *b) {
    uint16_t h = f16_at_least(block_amax(x, 32) / 127.0f);
    float d = lrp_f16_to_f32(h), id = d > 0 ? 1.0f / d : 0.0f;
    put_f16(b, h);
    for (int k = 0; k < 32; k++) b[2 + k] = (unsigned char)(int8_t)clampi(nearest(x[k] * id), -127, 127);
}

// Q4_0 and Q5_0: value = d * (q - 2^(bits-1)) with q in [0, 2^bits - 1]; d = amax / (2^(bits-1) - 1)
// so that both -amax and amax are reachable (the lowest level goes unused).
static void quant_q4_0(const float *x, unsigned char *b) {
    uint16_t h = f16_at_least(block_amax(x, 32) / 7.0f);
    float d = lrp_f16_to_f32(h), id = d > 0 ? 1.0f / d : 0.0f;
    put_f16(b, h);
    for (int k = 0; k < 16; k++) {
        int lo = clampi(nearest(x[k] * id) + 8, 0, 15), hi = clampi(nearest(x[k + 16] * id) + 8, 0, 15);
        b[2 + k] = (unsigned char)(lo | (hi << 4));
    }
}

static void quant_q5_0(const float *x, unsigned char *b) {
    uint16_t h = f16_at_least(block_amax(x, 32) / 15.0f);
    float d = lrp_f16_to_f32(h), id = d > 0 ? 1.0f / d : 0.0f;
    put_f16(b, h);
    uint32_t qh = 0;
    for (int k = 0; k < 32; k++) {
        int q = clampi(nearest(x[k] * id) + 16, 0, 31);
        qh |= (uint32_t)(q >> 4) << k;
        if (k < 16) b[6 + k] = (unsigned char)(q & 15);
        else b[6 + k - 16] |= (unsigned char)((q & 15) << 4);
    }
    memcpy(b + 2, &qh, 4);
}

// Q4_1 and Q5_1: value = d * q + m with m the block minimum (as f16, rounded down).
static void min_max(const float *x, int n, float *mn, float *mx) {
    *mn = x[0];
    *mx = x[0];
    for (int i = 1; i < n; i++) {
        *mn = fminf(*mn, x[i]);
        *mx = fmaxf(*mx, x[i]);
    }
}

static uint16_t f16_at_most(float v) {
    uint16_t h = lrp_f32_to_f16(v);
    if (lrp_f16_to_f32(h) > v) h = (uint16_t)(h & 0x8000 ? h + 1 : (h & 0x7fff) ? h - 1 : 0x8001);
    return h;
}

static void quant_affine(const float *x, unsigned char *b, int levels, float *d_out, float *m_out) {
    float mn, mx;
    min_max(x, 32, &mn, &mx);
    uint16_t hm = f16_at_most(mn);
    float m = lrp_f16_to_f32(hm);
    uint16_t hd = f16_at_least((mx - m) / (float)levels);
    put_f16(b, hd);
    put_f16(b + 2, hm);
    *d_out = lrp_f16_to_f32(hd);
    *m_out = m;
}

static void quant_q4_1(const float *x, unsigned char *b) {
    float d, m;
    quant_affine(x, b, 15, &d, &m);
    float id = d > 0 ? 1.0f / d : 0.0f;
    for (int k = 0; k < 16; k++) {
        int lo = clampi(nearest((x[k] - m) * id), 0, 15), hi = clampi(nearest((x[k + 16] - m) * id), 0, 15);
        b[4 + k] = (unsigned char)(lo | (hi << 4));
    }
}

static void quant_q5_1(const float *x, unsigned char *b) {
    float d, m;
    quant_affine(x, b, 31, &d, &m);
    float id = d > 0 ? 1.0f / d : 0.0f;
    uint32_t qh = 0;
    for (int k = 0; k < 32; k++) {
        int q = clampi(nearest((x[k] - m) * id), 0, 31);
        qh |= (uint32_t)(q >> 4) << k;
        if (k < 16) b[8 + k] = (unsigned char)(q & 15);
        else b[8 + k - 16] |= (unsigned char)((q & 15) << 4);
    }
    memcpy(b + 4, &qh, 4);
}

// Q4_K / Q5_K: 8 sub-blocks of 32, value = d*sc_j*q - dmin*m_j with 6-bit sc_j, m_j. The offsets
// dmin*m_j are rounded up to cover each sub-block's negative part, then the steps d*sc_j are rounded
// up to cover the rest of its range, so no element is clamped.
static void quant_k_scales(const float *x, int levels, unsigned char *b, int sc[8], int mq[8], float *step,
                           float *offset) {
    float neg[8], need[8], max_neg = 0, max_need = 0;
    for (int j = 0; j < 8; j++) {
        float mn, mx;
        min_max(x + 32 * j, 32, &mn, &mx);
        neg[j] = mn < 0 ? -mn : 0;
        max_neg = fmaxf(max_neg, neg[j]);
        need[j] = mx;  // completed below once the offset is known
    }
    uint16_t hmin = f16_at_least(max_neg / 63.0f);
    float dmin = lrp_f16_to_f32(hmin);
    for (int j = 0; j < 8; j++) {
        mq[j] = dmin > 0 ? clampi((int)ceilf(neg[j] / dmin), 0, 63) : 0;
        offset[j] = dmin * (float)mq[j];
        need[j] = fmaxf(need[j] + offset[j], 0) / (float)levels;
        max_need = fmaxf(max_need, need[j]);
    }
    uint16_t hd = f16_at_least(max_need / 63.0f);
    float d = lrp_f16_to_f32(hd);
    for (int j = 0; j < 8; j++) {
        sc[j] = d > 0 ? clampi((int)ceilf(need[j] / d), 0, 63) : 0;
        step[j] = d * (float)sc[j];
    }
    put_f16(b, hd);
    put_f16(b + 2, hmin);
    unsigned char *s = b + 4;
    for (int j = 0; j < 4; j++) {
        s[j] = (unsigned char)((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
        s[j + 4] = (unsigned char)((mq[j] & 63) | ((mq[j + 4] >> 4) << 6));
        s[j + 8] = (unsigned char)((sc[j + 4] & 15) | ((mq[j + 4] & 15) << 4));
    }
}

static int k_level(float v, float step, float offset, int levels) {
    return step > 0 ? clampi(nearest((v + offset) / step), 0, levels) : 0;
}

static void quant_q4_k(const float *x, unsigned char *b) {
    int sc[8], mq[8];
    float step[8], offset[8];
    quant_k_scales(x, 15, b, sc, mq, step, offset);
    unsigned char *qs = b + 16;
    for (int c = 0; c < 4; c++) {
        for (int l = 0; l < 32; l++) {
            int lo = k_level(x[64 * c + l], step[2 * c], offset[2 * c], 15);
            int hi = k_level(x[64 * c + 32 + l], step[2 * c + 1], offset[2 * c + 1], 15);
            qs[32 * c + l] = (unsigned char)(lo | (hi << 4));
        }
    }
}

static void quant_q5_k(const float *x, unsigned char *b) {
    int sc[8], mq[8];
    float step[8], offset[8];
    quant_k_scales(x, 31, b, sc, mq, step, offset);
    unsigned char *qh = b + 16, *qs = b + 48;
    memset(qh, 0, 32);
    for (int c = 0; c < 4; c++) {
        for (int l = 0; l < 32; l++) {
            int lo = k_level(x[64 * c + l], step[2 * c], offset[2 * c], 31);
            int hi = k_level(x[64 * c + 32 + l], step[2 * c + 1], offset[2 * c + 1], 31);
            qs[32 * c + l] = (unsigned char)((lo & 15) | ((hi & 15) << 4));
            qh[l] |= (unsigned char)(((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
        }
    }
}

// Q6_K: 16 sub-blocks of 16, value = d * sc_j * (q - 32) with signed 8-bit sc_j and q in [0, 63].
// Element e lies in sub-block e/16; its low 4 bits go to ql, its top 2 bits to qh (see dequant).
static void quant_q6_k(const float *x, unsigned char *b) {
    float need[16], max_need = 0;
    for (int j = 0; j < 16; j++) {
        need[j] = block_amax(x + 16 * j, 16) / 31.0f;
        max_need = fmaxf(max_need, need[j]);
    }
    uint16_t hd = f16_at_least(max_need / 127.0f);
    float d = lrp_f16_to_f32(hd);
    unsigned char *ql = b, *qh = b + 128;
    int8_t *scales = (int8_t *)(b + 192);
    memset(b, 0, 192);
    for (int j = 0; j < 16; j++) scales[j] = (int8_t)(d > 0 ? clampi((int)ceilf(need[j] / d), 0, 127) : 0);
    for (int e = 0; e < 256; e++) {
        float step = d * (float)scales[e / 16];
        int q = step > 0 ? clampi(nearest(x[e] / step), -32, 31) + 32 : 32;
        int h = e / 128, r = (e % 128) / 32, l = e % 32;
        ql[64 * h + l + 32 * (r & 1)] |= (unsigned char)((q & 15) << (r >= 2 ? 4 : 0));
        qh[32 * h + l] |= (unsigned char)((q >> 4) << (2 * r));
    }
    put_f16(b + 208, hd);
}

static void quant_q8_k(const float *x, unsigned char *b) {
    float d = block_amax(x, 256) / 127.0f, id = d > 0 ? 1.0f / d : 0.0f;
    memcpy(b, &d, 4);
    int8_t q[256];
    for (int k = 0; k < 256; k++) q[k] = (int8_t)clampi(nearest(x[k] * id), -127, 127);
    memcpy(b + 4, q, 256);
    for (int j = 0; j < 16; j++) {
        int16_t s = 0;
        for (int k = 0; k < 16; k++) s = (int16_t)(s + q[16 * j + k]);
        memcpy(b + 260 + 2 * j, &s, 2);
    }
}

size_t gw_quantize(lrp_dtype t, const float *x, int64_t n, void *dst) {
    size_t bytes = lrp_dtype_row_bytes(t, n);
    if (bytes == 0 && n != 0) return 0;
    unsigned char *b = dst;
    int be = lrp_dtype_block_elems(t);
    size_t bb = lrp_dtype_block_bytes(t);
    for (int64_t i = 0; i < n; i += be, b += bb) {
        const float *xb = x + i;
        switch (t) {
        case LRP_F32: memcpy(b, xb, 4); break;
        case LRP_F16: { uint16_t h = lrp_f32_to_f16(*xb); memcpy(b, &h, 2); break; }
        case LRP_BF16: { uint16_t h = lrp_f32_to_bf16(*xb); memcpy(b, &h, 2); break; }
        case LRP_Q8_0: quant_q8_0(xb, b); break;
        case LRP_Q4_0: quant_q4_0(xb, b); break;
        case LRP_Q4_1: quant_q4_1(xb, b); break;
        case LRP_Q5_0: quant_q5_0(xb, b); break;
        case LRP_Q5_1: quant_q5_1(xb, b); break;
        case LRP_Q4_K: quant_q4_k(xb, b); break;
        case LRP_Q5_K: quant_q5_k(xb, b); break;
        case LRP_Q6_K: quant_q6_k(xb, b); break;
        case LRP_Q8_K: quant_q8_k(xb, b); break;
        default: return 0;
        }
    }
    return bytes;
}

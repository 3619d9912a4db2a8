// Image -> model input (see image.h). Decoding is libpng's and libjpeg's; resizing follows Pillow's
// Resample.c (precompute_coeffs, the 8-bit fixed-point passes) and Geometry.c (nearest = affine scale),
// so that the tensor equals what a Hugging Face image processor computes with PIL.
#include "inputs/image.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jpeglib.h>

#define MAX_FILE_BYTES ((size_t)1 << 30)
#define MAX_PIXELS ((size_t)1 << 26)   // 8192 x 8192: far beyond any vision model's input

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int read_whole_file(const char *path, unsigned char **buf, size_t *n, lrp_err *err) {
    *buf = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return lrp_fail(err, "%s: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    unsigned char *b = malloc(cap);
    if (!b) {
        fclose(f);
        return lrp_fail(err, "%s: out of memory", path);
    }
    for (;;) {
        if (len == cap) {
            if (cap >= MAX_FILE_BYTES) {
                free(b);
                fclose(f);
                return lrp_fail(err, "%s: larger than %zu bytes", path, MAX_FILE_BYTES);
            }
            unsigned char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                fclose(f);
                return lrp_fail(err, "%s: out of memory", path);
            }
            b = nb;
            cap *= 2;
        }
        size_t got = fread(b + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(b);
        return lrp_fail(err, "%s: read error", path);
    }
    *buf = b;
    *n = len;
    return 0;
}

void lrp_pixels_free(lrp_pixels *p) {
    free(p->data);
    memset(p, 0, sizeof *p);
}

static int pixels_alloc(lrp_pixels *p, int width, int height, int channels) {
    memset(p, 0, sizeof *p);
    if (width <= 0 || height <= 0 || (size_t)width * (size_t)height > MAX_PIXELS) return -1;
    p->data = malloc((size_t)width * height * channels);
    if (!p->data) return -1;
    p->width = width;
    p->height = height;
    p->channels = channels;
    return 0;
}

// ---- NumPy .npy ----

typedef struct npy_cursor {
    const char *s, *end;
} npy_cursor;

static void npy_ws(npy_cursor *c) {
    while (c->s < c->end && (*c->s == ' ' || *c->s == '\t' || *c->s == '\n' || *c->s == '\r')) c->s++;
}

// A Python string literal without escapes ('...' or "..."), copied into out.
static int npy_string(npy_cursor *c, char *out, size_t cap) {
    if (c->s >= c->end || (*c->s != '\'' && *c->s != '"')) return -1;
    char q = *c->s++;
    size_t n = 0;
    while (c->s < c->end && *c->s != q) {
        if (*c->s == '\\' || n + 1 >= cap) return -1;
        out[n++] = *c->s++;
    }
    if (c->s >= c->end) return -1;
    c->s++;
    out[n] = 0;
    return 0;
}

static int npy_word(npy_cursor *c, const char *w) {
    size_t n = strlen(w);
    if ((size_t)(c->end - c->s) < n || memcmp(c->s, w, n) != 0) return 0;
    c->s += n;
    return 1;
}

// (d0, d1, ...) with an optional trailing comma; dims are non-negative ints.
static int npy_shape(npy_cursor *c, int shape[8], int *rank) {
    if (c->s >= c->end || *c->s != '(') return -1;
    c->s++;
    *rank = 0;
    for (;;) {
        npy_ws(c);
        if (c->s < c->end && *c->s == ')') {
            c->s++;
            return 0;
        }
        if (c->s >= c->end || !isdigit((unsigned char)*c->s)) return -1;
        long long v = 0;
        while (c->s < c->end && isdigit((unsigned char)*c->s)) {
            v = v * 10 + (*c->s++ - '0');
            if (v > INT_MAX) return -2;
        }
        if (c->s < c->end && *c->s == 'L') c->s++;   // Python 2 longs
        if (*rank == 8) return -3;
        shape[(*rank)++] = (int)v;
        npy_ws(c);
        if (c->s < c->end && *c->s == ',') {
            c->s++;
        } else if (!(c->s < c->end && *c->s == ')')) {
            return -1;
        }
    }
}

static float npy_value(const unsigned char *p, int size, int swap) {
    unsigned char b[8];
    for (int i = 0; i < size; i++) b[i] = swap ? p[size - 1 - i] : p[i];
    if (size == 4) {
        float f;
        memcpy(&f, b, 4);
        return f;
    }
    double d;
    memcpy(&d, b, 8);
    return (float)d;
}

int lrp_npy_parse(const char *name, const unsigned char *buf, size_t n, float **data, int shape[8], int *rank,
                  lrp_err *err) {
    *data = NULL;
    *rank = 0;
    if (n < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
        return lrp_fail(err, "%s: not a NumPy .npy file (no \\x93NUMPY magic)", name);
    int major = buf[6], minor = buf[7];
    size_t hlen, start;
    if (major == 1) {
        hlen = buf[8] | (size_t)buf[9] << 8;
        start = 10;
    } else if (major == 2 || major == 3) {
        if (n < 12) return lrp_fail(err, "%s: .npy header is truncated", name);
        hlen = buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
        start = 12;
    } else {
        return lrp_fail(err, "%s: unsupported .npy format version %d.%d (1.0, 2.0 or 3.0)", name, major, minor);
    }
    if (hlen > n - start)
        return lrp_fail(err, "%s: .npy header length %zu runs past the end of the file (%zu bytes)", name, hlen, n);
    npy_cursor c = {(const char *)buf + start, (const char *)buf + start + hlen};
    char descr[32] = "";
    int fortran = -1, have_shape = 0;
    npy_ws(&c);
    if (c.s >= c.end || *c.s != '{') return lrp_fail(err, "%s: .npy header is not a Python dict", name);
    c.s++;
    for (;;) {
        npy_ws(&c);
        if (c.s < c.end && *c.s == '}') {
            c.s++;
            break;
        }
        char key[32];
        if (npy_string(&c, key, sizeof key)) return lrp_fail(err, "%s: .npy header: bad dict key", name);
        npy_ws(&c);
        if (c.s >= c.end || *c.s != ':') return lrp_fail(err, "%s: .npy header: no ':' after '%s'", name, key);
        c.s++;
        npy_ws(&c);
        if (strcmp(key, "descr") == 0 && !descr[0]) {
            if (npy_string(&c, descr, sizeof descr) || !descr[0])
                return lrp_fail(err, "%s: .npy header: 'descr' is not a dtype string", name);
        } else if (strcmp(key, "fortran_order") == 0 && fortran < 0) {
            if (npy_word(&c, "True")) {
                fortran = 1;
            } else if (npy_word(&c, "False")) {
                fortran = 0;
            } else {
                return lrp_fail(err, "%s: .npy header: 'fortran_order' is not True or False", name);
            }
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            int rc = npy_shape(&c, shape, rank);
            if (rc == -2) return lrp_fail(err, "%s: .npy header: a 'shape' dimension is too large", name);
            if (rc == -3) return lrp_fail(err, "%s: .npy header: 'shape' has more than 8 dimensions", name);
            if (rc) return lrp_fail(err, "%s: .npy header: 'shape' is not a tuple of integers", name);
            have_shape = 1;
        } else {
            return lrp_fail(err, "%s: .npy header: unexpected or repeated key '%s'", name, key);
        }
        npy_ws(&c);
        if (c.s < c.end && *c.s == ',') {
            c.s++;
        } else if (!(c.s < c.end && *c.s == '}')) {
            return lrp_fail(err, "%s: .npy header: the dict is not closed", name);
        }
    }
    npy_ws(&c);
    if (c.s != c.end) return lrp_fail(err, "%s: .npy header: text after the dict", name);
    if (!descr[0] || fortran < 0 || !have_shape)
        return lrp_fail(err, "%s: .npy header lacks '%s'", name, !descr[0] ? "descr" : fortran < 0 ? "fortran_order" : "shape");
    int little = descr[0] == '<' || descr[0] == '=', big = descr[0] == '>';
    int size = strcmp(descr + 1, "f4") == 0 ? 4 : strcmp(descr + 1, "f8") == 0 ? 8 : 0;
    if (!(little || big) || !size)
        return lrp_fail(err, "%s: .npy dtype '%s' is not supported (float32 '<f4' or float64 '<f8')", name, descr);
    if (fortran) return lrp_fail(err, "%s: .npy array is in Fortran order (save it C-contiguous)", name);
    size_t count = 1;
    for (int i = 0; i < *rank; i++) {
        if (shape[i] && count > SIZE_MAX / 8 / (size_t)shape[i])
            return lrp_fail(err, "%s: .npy shape overflows the address space", name);
        count *= (size_t)shape[i];
    }
    size_t have = n - start - hlen, need = count * (size_t)size;
    if (have < need)
        return lrp_fail(err, "%s: .npy data is truncated (%zu bytes, the shape needs %zu)", name, have, need);
    if (have > need) return lrp_fail(err, "%s: .npy has %zu bytes after the array's data", name, have - need);
    float *v = malloc(count ? count * sizeof *v : 1);
    if (!v) return lrp_fail(err, "%s: out of memory", name);
    const unsigned char *p = buf + start + hlen;
    for (size_t i = 0; i < count; i++) {
        v[i] = npy_value(p + i * size, size, big);
        if (!isfinite(v[i])) {
            free(v);
            return lrp_fail(err, "%s: element %zu is not finite (NaN or infinity)", name, i);
        }
    }
    *data = v;
    return 0;
}

int lrp_npy_load(const char *path, float **data, int shape[8], int *rank, lrp_err *err) {
    unsigned char *buf;
    size_t n;
    *data = NULL;
    *rank = 0;
    if (read_whole_file(path, &buf, &n, err)) return -1;
    int rc = lrp_npy_parse(path, buf, n, data, shape, rank, err);
    free(buf);
    return rc;
}

// ---- PNG decoding (libpng) ----

typedef struct png_job {
    const unsigned char *src;
    size_t n, off;
    char msg[256];
    png_structp png;
    png_infop info;
    unsigned char *rowbuf;      // decoded image as libpng delivers it
    png_bytep *rows;
} png_job;

static void png_read_memory(png_structp png, png_bytep out, size_t len) {
    png_job *j = png_get_io_ptr(png);
    if (len > j->n - j->off) png_error(png, "the file is truncated");
    memcpy(out, j->src + j->off, len);
    j->off += len;
}

static void png_error_to_job(png_structp png, png_const_charp msg) {
    png_job *j = png_get_error_ptr(png);
    snprintf(j->msg, sizeof j->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_ignore_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

// The work between setjmp and the end: every value it changes lives in *j (heap memory).
static int png_decode_job(png_job *j, lrp_pixels *out) {
    if (setjmp(png_jmpbuf(j->png))) return -1;
    png_set_read_fn(j->png, j, png_read_memory);
    png_set_user_limits(j->png, 1 << 16, 1 << 16);
    png_read_info(j->png, j->info);
    png_uint_32 w, h;
    int depth, color, interlace;
    png_get_IHDR(j->png, j->info, &w, &h, &depth, &color, &interlace, NULL, NULL);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(j->png);
    if ((color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) && depth < 8)
        png_set_expand_gray_1_2_4_to_8(j->png);
    if (depth == 16) png_set_strip_16(j->png);   // the high byte, as PIL's "RGB;16B" unpacking
    png_set_interlace_handling(j->png);
    png_read_update_info(j->png, j->info);
    int ch = png_get_channels(j->png, j->info);
    size_t rowbytes = png_get_rowbytes(j->png, j->info);
    if ((size_t)w * h > MAX_PIXELS || ch < 1 || ch > 4 || rowbytes < (size_t)w * ch) {
        snprintf(j->msg, sizeof j->msg, "unsupported size or layout (%ux%u, %d channels)", (unsigned)w, (unsigned)h, ch);
        return -1;
    }
    j->rowbuf = malloc(rowbytes * h);
    j->rows = malloc(sizeof *j->rows * h);
    if (!j->rowbuf || !j->rows) {
        snprintf(j->msg, sizeof j->msg, "out of memory");
        return -1;
    }
    for (png_uint_32 y = 0; y < h; y++) j->rows[y] = j->rowbuf + y * rowbytes;
    png_read_image(j->png, j->rows);
    png_read_end(j->png, NULL);
    // Gray, gray+alpha, RGB, RGBA: keep gray or RGB, drop alpha (PIL's convert("RGB") drops it too).
    int keep = ch <= 2 ? 1 : 3;
    if (pixels_alloc(out, (int)w, (int)h, keep)) {
        snprintf(j->msg, sizeof j->msg, "out of memory");
        return -1;
    }
    for (png_uint_32 y = 0; y < h; y++)
        for (png_uint_32 x = 0; x < w; x++)
            memcpy(out->data + ((size_t)y * w + x) * keep, j->rows[y] + (size_t)x * ch, keep);
    return 0;
}

static int decode_png(const char *name, const unsigned char *data, size_t n, lrp_pixels *out, lrp_err *err) {
    png_job *j = calloc(1, sizeof *j);
    if (!j) return lrp_fail(err, "%s: out of memory", name);
    j->src = data;
    j->n = n;
    j->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, j, png_error_to_job, png_ignore_warning);
    j->info = j->png ? png_create_info_struct(j->png) : NULL;
    int rc = -1;
    if (!j->info) {
        snprintf(j->msg, sizeof j->msg, "out of memory");
    } else {
        rc = png_decode_job(j, out);
    }
    png_destroy_read_struct(j->png ? &j->png : NULL, j->info ? &j->info : NULL, NULL);
    free(j->rowbuf);
    free(j->rows);
    if (rc) {
        lrp_pixels_free(out);
        lrp_fail(err, "%s: corrupt or unsupported PNG: %s", name, j->msg);
    }
    free(j);
    return rc;
}

// ---- JPEG decoding (libjpeg) ----

typedef struct jpeg_job {
    struct jpeg_error_mgr mgr;       // first: libjpeg's err pointer is cast back to the job
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
    struct jpeg_decompress_struct cinfo;
    int created;
} jpeg_job;

static void jpeg_fatal(j_common_ptr c) {
    jpeg_job *j = (jpeg_job *)c->err;
    c->err->format_message(c, j->msg);
    longjmp(j->jb, 1);
}

// Warnings (level -1) are corrupt data — a truncated file gets a fake end marker and gray rows —
// so they fail the decode, as Pillow fails on a truncated image. Trace messages are ignored.
static void jpeg_message(j_common_ptr c, int level) {
    if (level < 0) jpeg_fatal(c);
}

static int jpeg_decode_job(jpeg_job *j, const unsigned char *data, size_t n, lrp_pixels *out) {
    if (setjmp(j->jb)) return -1;
    jpeg_create_decompress(&j->cinfo);
    j->created = 1;
    jpeg_mem_src(&j->cinfo, data, (unsigned long)n);
    jpeg_read_header(&j->cinfo, TRUE);
    // Before jpeg_start_decompress: for a progressive file it reads every scan into coefficient buffers of
    // the whole image, so a 150-byte file claiming 65000 x 65000 pixels took seconds and gigabytes there
    // (found by fuzz/fuzz_image.c).
    if ((size_t)j->cinfo.image_width * j->cinfo.image_height > MAX_PIXELS) {
        snprintf(j->msg, sizeof j->msg, "%u x %u pixels is too large (at most %zu pixels)", j->cinfo.image_width,
                 j->cinfo.image_height, MAX_PIXELS);
        return -1;
    }
    J_COLOR_SPACE cs = j->cinfo.jpeg_color_space;
    if (cs == JCS_CMYK || cs == JCS_YCCK) {
        snprintf(j->msg, sizeof j->msg, "CMYK JPEGs are not supported (convert the image to RGB)");
        return -1;
    }
    int ch = cs == JCS_GRAYSCALE ? 1 : 3;
    j->cinfo.out_color_space = ch == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&j->cinfo);
    if ((int)j->cinfo.output_components != ch ||
        pixels_alloc(out, (int)j->cinfo.output_width, (int)j->cinfo.output_height, ch)) {
        snprintf(j->msg, sizeof j->msg, "unsupported size or out of memory");
        return -1;
    }
    while (j->cinfo.output_scanline < j->cinfo.output_height) {
        JSAMPROW row = out->data + (size_t)j->cinfo.output_scanline * out->width * ch;
        jpeg_read_scanlines(&j->cinfo, &row, 1);
    }
    jpeg_finish_decompress(&j->cinfo);
    return 0;
}

static int decode_jpeg(const char *name, const unsigned char *data, size_t n, lrp_pixels *out, lrp_err *err) {
    jpeg_job *j = calloc(1, sizeof *j);
    if (!j) return lrp_fail(err, "%s: out of memory", name);
    j->cinfo.err = jpeg_std_error(&j->mgr);
    j->mgr.error_exit = jpeg_fatal;
    j->mgr.emit_message = jpeg_message;
    int rc = jpeg_decode_job(j, data, n, out);
    if (j->created) jpeg_destroy_decompress(&j->cinfo);
    if (rc) {
        lrp_pixels_free(out);
        lrp_fail(err, "%s: corrupt or unsupported JPEG: %s", name, j->msg);
    }
    free(j);
    return rc;
}

int lrp_image_decode_memory(const char *name, const unsigned char *data, size_t n, lrp_pixels *out, lrp_err *err) {
    memset(out, 0, sizeof *out);
    if (n >= 8 && memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0) return decode_png(name, data, n, out, err);
    if (n >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return decode_jpeg(name, data, n, out, err);
    return lrp_fail(err, "%s: not a PNG or JPEG file (unknown signature)", name);
}

int lrp_image_decode(const char *path, lrp_pixels *out, lrp_err *err) {
    unsigned char *buf;
    size_t n;
    memset(out, 0, sizeof *out);
    if (read_whole_file(path, &buf, &n, err)) return -1;
    int rc = lrp_image_decode_memory(path, buf, n, out, err);
    free(buf);
    return rc;
}

// ---- conversion and resizing (Pillow's conventions) ----

int lrp_pixels_convert(const lrp_pixels *in, int channels, lrp_pixels *out) {
    if (pixels_alloc(out, in->width, in->height, channels)) return -1;
    size_t n = (size_t)in->width * in->height;
    for (size_t i = 0; i < n; i++) {
        const unsigned char *s = in->data + i * in->channels;
        unsigned char *d = out->data + i * channels;
        if (in->channels == channels) {
            memcpy(d, s, channels);
        } else if (channels == 3) {   // convert("RGB") of "L"
            d[0] = d[1] = d[2] = s[0];
        } else {                      // convert("L") of "RGB": Convert.c's L24
            d[0] = (unsigned char)((s[0] * 19595 + s[1] * 38470 + s[2] * 7471 + 0x8000) >> 16);
        }
    }
    return 0;
}

typedef struct resample_filter {
    double (*fn)(double);
    double support;
} resample_filter;

static double filter_box(double x) { return x > -0.5 && x <= 0.5 ? 1.0 : 0.0; }
static double filter_bilinear(double x) {
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}
static double filter_hamming(double x) {
    if (x < 0.0) x = -x;
    if (x == 0.0) return 1.0;
    if (x >= 1.0) return 0.0;
    x = x * M_PI;
    return sin(x) / x * (0.54 + 0.46 * cos(x));
}
static double filter_bicubic(double x) {   // Keys' cubic convolution with a = -0.5
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}
static double sinc(double x) {
    if (x == 0.0) return 1.0;
    x = x * M_PI;
    return sin(x) / x;
}
static double filter_lanczos(double x) { return -3.0 <= x && x < 3.0 ? sinc(x) * sinc(x / 3) : 0.0; }

#define PRECISION_BITS (32 - 8 - 2)

// Pillow's precompute_coeffs + normalize_coeffs_8bpc: for each output index, the first input index, the
// number of inputs, and fixed-point weights (ksize per output). The support widens by the downscale
// factor, which is the antialiasing.
static int precompute_coeffs(int in_size, int out_size, const resample_filter *f, int **bounds_out, int32_t **kk_out,
                             int *ksize_out) {
    double scale = (double)in_size / out_size, filterscale = scale < 1.0 ? 1.0 : scale;
    double support = f->support * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    double *kk = malloc(sizeof *kk * (size_t)out_size * ksize);
    int *bounds = malloc(sizeof *bounds * 2 * (size_t)out_size);
    int32_t *ik = malloc(sizeof *ik * (size_t)out_size * ksize);
    if (!kk || !bounds || !ik) {
        free(kk);
        free(bounds);
        free(ik);
        return -1;
    }
    for (int xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double *k = kk + (size_t)xx * ksize;
        int x;
        for (x = 0; x < xmax; x++) {
            double w = f->fn((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (x = 0; x < xmax; x++)
            if (ww != 0.0) k[x] /= ww;
        for (; x < ksize; x++) k[x] = 0;
        bounds[xx * 2] = xmin;
        bounds[xx * 2 + 1] = xmax;
    }
    for (size_t i = 0; i < (size_t)out_size * ksize; i++)
        ik[i] = kk[i] < 0 ? (int32_t)(-0.5 + kk[i] * (1 << PRECISION_BITS)) : (int32_t)(0.5 + kk[i] * (1 << PRECISION_BITS));
    free(kk);
    *bounds_out = bounds;
    *kk_out = ik;
    *ksize_out = ksize;
    return 0;
}

static unsigned char clip8(int32_t v) {
    v >>= PRECISION_BITS;   // arithmetic shift, as Pillow's lookup table index
    return (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
}

// One separable pass along x (horizontal) or y: out[y][x][c] from in, sizes in pixels.
static void resample_pass(const lrp_pixels *in, lrp_pixels *out, int horizontal, const int *bounds, const int32_t *kk,
                          int ksize) {
    int C = in->channels;
    for (int y = 0; y < out->height; y++) {
        for (int x = 0; x < out->width; x++) {
            int o = horizontal ? x : y;
            int lo = bounds[o * 2], cnt = bounds[o * 2 + 1];
            const int32_t *k = kk + (size_t)o * ksize;
            for (int c = 0; c < C; c++) {
                int32_t ss = 1 << (PRECISION_BITS - 1);
                for (int i = 0; i < cnt; i++) {
                    size_t at = horizontal ? ((size_t)y * in->width + lo + i) : ((size_t)(lo + i) * in->width + x);
                    ss += in->data[at * C + c] * k[i];
                }
                out->data[((size_t)y * out->width + x) * C + c] = clip8(ss);
            }
        }
    }
}

// Pillow's ImagingScaleAffine (what resize(NEAREST) runs): source index COORD(a/2 + i·a), accumulated.
static void nearest_table(int in_size, int out_size, int *tab) {
    double a = (double)in_size / out_size, o = a * 0.5;
    for (int i = 0; i < out_size; i++) {
        int v = o < 0.0 ? -1 : (int)o;
        tab[i] = v < 0 ? 0 : v >= in_size ? in_size - 1 : v;
        o += a;
    }
}

int lrp_pixels_resize(const lrp_pixels *in, int width, int height, int filter, lrp_pixels *out, lrp_err *err) {
    static const resample_filter filters[6] = {{NULL, 0},           {filter_lanczos, 3.0}, {filter_bilinear, 1.0},
                                               {filter_bicubic, 2.0}, {filter_box, 0.5},    {filter_hamming, 1.0}};
    memset(out, 0, sizeof *out);
    if (filter < 0 || filter > 5)
        return lrp_fail(err, "resample %d: not a PIL filter (0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming)",
                        filter);
    if (pixels_alloc(out, width, height, in->channels)) return lrp_fail(err, "resize to %dx%d: bad size or out of memory", width, height);
    int C = in->channels;
    if (width == in->width && height == in->height) {
        memcpy(out->data, in->data, (size_t)width * height * C);
        return 0;
    }
    if (filter == 0) {
        int *tx = malloc(sizeof *tx * width), *ty = malloc(sizeof *ty * height);
        if (!tx || !ty) {
            free(tx);
            free(ty);
            lrp_pixels_free(out);
            return lrp_fail(err, "resize: out of memory");
        }
        nearest_table(in->width, width, tx);
        nearest_table(in->height, height, ty);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                memcpy(out->data + ((size_t)y * width + x) * C, in->data + ((size_t)ty[y] * in->width + tx[x]) * C, C);
        free(tx);
        free(ty);
        return 0;
    }
    const resample_filter *f = &filters[filter];
    lrp_pixels tmp = {0};
    const lrp_pixels *src = in;
    int rc = 0;
    if (width != in->width) {   // the horizontal pass first, rounded to 8 bits, as Pillow does
        int *bounds;
        int32_t *kk;
        int ksize;
        if (pixels_alloc(&tmp, width, in->height, C) || precompute_coeffs(in->width, width, f, &bounds, &kk, &ksize)) {
            rc = -1;
        } else {
            resample_pass(in, &tmp, 1, bounds, kk, ksize);
            free(bounds);
            free(kk);
            src = &tmp;
        }
    }
    if (!rc && height != in->height) {
        int *bounds;
        int32_t *kk;
        int ksize;
        if (precompute_coeffs(in->height, height, f, &bounds, &kk, &ksize)) {
            rc = -1;
        } else {
            resample_pass(src, out, 0, bounds, kk, ksize);
            free(bounds);
            free(kk);
        }
    } else if (!rc) {
        memcpy(out->data, src->data, (size_t)width * height * C);
    }
    lrp_pixels_free(&tmp);
    if (rc) {
        lrp_pixels_free(out);
        return lrp_fail(err, "resize: out of memory");
    }
    return 0;
}

// ---- preprocessor_config.json ----

void lrp_preprocess_default(lrp_preprocess *p) {
    memset(p, 0, sizeof *p);
    p->do_resize = 1;
    p->resample = 2;
    p->do_rescale = 1;
    p->rescale_factor = 1.0 / 255.0;
    p->do_normalize = 1;
    p->n_mean = p->n_std = 1;
    p->mean[0] = p->std[0] = 0.5;
}

static int json_flag(const char *path, json_t *root, const char *key, int *v, lrp_err *err) {
    json_t *j = json_object_get(root, key);
    if (!j || json_is_null(j)) return 0;
    if (!json_is_boolean(j)) return lrp_fail(err, "%s: \"%s\" is not true or false", path, key);
    *v = json_is_true(j);
    return 0;
}

static int json_floats(const char *path, json_t *root, const char *key, double *v, int *n, lrp_err *err) {
    json_t *j = json_object_get(root, key);
    if (!j || json_is_null(j)) return 0;
    if (json_is_number(j)) {
        v[0] = json_number_value(j);
        *n = 1;
        return 0;
    }
    if (!json_is_array(j) || json_array_size(j) < 1 || json_array_size(j) > 4)
        return lrp_fail(err, "%s: \"%s\" is not a number or a list of 1 to 4 numbers", path, key);
    for (size_t i = 0; i < json_array_size(j); i++) {
        json_t *e = json_array_get(j, i);
        if (!json_is_number(e)) return lrp_fail(err, "%s: \"%s\"[%zu] is not a number", path, key, i);
        v[i] = json_number_value(e);
    }
    *n = (int)json_array_size(j);
    return 0;
}

static int parse_preprocess(const char *path, json_t *root, lrp_preprocess *p, lrp_err *err) {
    if (!json_is_object(root)) return lrp_fail(err, "%s: not a JSON object", path);
    int crop = 0;
    if (json_flag(path, root, "do_resize", &p->do_resize, err) || json_flag(path, root, "do_rescale", &p->do_rescale, err) ||
        json_flag(path, root, "do_normalize", &p->do_normalize, err) || json_flag(path, root, "do_center_crop", &crop, err))
        return -1;
    if (crop) return lrp_fail(err, "%s: \"do_center_crop\": center cropping is not supported", path);
    json_t *size = json_object_get(root, "size");
    if (json_is_integer(size)) {
        p->height = p->width = (int)json_integer_value(size);
        if (json_integer_value(size) <= 0 || json_integer_value(size) > 65536)
            return lrp_fail(err, "%s: \"size\" %lld is not a valid size", path, (long long)json_integer_value(size));
    } else if (json_is_object(size)) {
        json_t *h = json_object_get(size, "height"), *w = json_object_get(size, "width");
        if (!h && !w) {
            const char *k = json_object_iter_key(json_object_iter(size));
            return lrp_fail(err, "%s: \"size\" {\"%s\"}: only {\"height\", \"width\"} is supported", path, k ? k : "");
        }
        if (!json_is_integer(h) || !json_is_integer(w) || json_integer_value(h) <= 0 || json_integer_value(w) <= 0 ||
            json_integer_value(h) > 65536 || json_integer_value(w) > 65536)
            return lrp_fail(err, "%s: \"size\" needs positive integers \"height\" and \"width\"", path);
        p->height = (int)json_integer_value(h);
        p->width = (int)json_integer_value(w);
    } else if (size && !json_is_null(size)) {
        return lrp_fail(err, "%s: \"size\" is not an integer or {\"height\", \"width\"}", path);
    }
    json_t *rs = json_object_get(root, "resample");
    if (rs && !json_is_null(rs)) {
        if (!json_is_integer(rs) || json_integer_value(rs) < 0 || json_integer_value(rs) > 5)
            return lrp_fail(err, "%s: \"resample\" is not a PIL filter id (0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, "
                                 "4 box, 5 hamming)", path);
        p->resample = (int)json_integer_value(rs);
    }
    json_t *rf = json_object_get(root, "rescale_factor");
    if (rf && !json_is_null(rf)) {
        if (!json_is_number(rf) || !(json_number_value(rf) > 0))
            return lrp_fail(err, "%s: \"rescale_factor\" is not a positive number", path);
        p->rescale_factor = json_number_value(rf);
    }
    if (json_floats(path, root, "image_mean", p->mean, &p->n_mean, err) ||
        json_floats(path, root, "image_std", p->std, &p->n_std, err))
        return -1;
    for (int i = 0; i < p->n_std; i++)
        if (!(p->std[i] > 0)) return lrp_fail(err, "%s: \"image_std\" has a value that is not positive", path);
    return 0;
}

int lrp_preprocess_load(const char *path, lrp_preprocess *p, lrp_err *err) {
    lrp_preprocess_default(p);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) {
        if (je.line < 0 || strstr(je.text, "unable to open")) return lrp_fail(err, "%s: %s", path, je.text);
        return lrp_fail(err, "%s: invalid JSON at line %d: %s", path, je.line, je.text);
    }
    int rc = parse_preprocess(path, root, p, err);
    json_decref(root);
    return rc;
}

// ---- the model input ----

void lrp_image_free(lrp_image *img) {
    free(img->x);
    lrp_pixels_free(&img->display);
    memset(img, 0, sizeof *img);
}

static int ends_with_npy(const char *path) {
    size_t n = strlen(path);
    return n >= 4 && strcasecmp(path + n - 4, ".npy") == 0;
}

static int check_stats(const char *pp, const lrp_preprocess *p, int C, lrp_err *err) {
    if (p->do_normalize && ((p->n_mean != 1 && p->n_mean != C) || (p->n_std != 1 && p->n_std != C)))
        return lrp_fail(err, "%s: \"image_mean\"/\"image_std\" have %d/%d values; the model has %d channels", pp,
                        p->n_mean, p->n_std, C);
    return 0;
}

// The display copy of a .npy input: back through normalisation and rescaling, or min-max per channel.
static int npy_display(lrp_image *img, const lrp_preprocess *p) {
    int C = img->channels, H = img->height, W = img->width, D = C == 3 ? 3 : 1;
    if (pixels_alloc(&img->display, W, H, D)) return -1;
    size_t hw = (size_t)H * W;
    for (int d = 0; d < D; d++) {
        // Channels averaged into one gray channel when the model has neither 1 nor 3.
        int c0 = D == 3 ? d : 0, c1 = D == 3 ? d + 1 : C;
        double lo = INFINITY, hi = -INFINITY;
        for (int c = c0; c < c1; c++)
            for (size_t i = 0; i < hw; i++) {
                double v = img->x[c * hw + i];
                if (p) {
                    if (p->do_normalize) v = v * p->std[p->n_std == 1 ? 0 : c] + p->mean[p->n_mean == 1 ? 0 : c];
                    if (p->do_rescale) v /= p->rescale_factor;
                }
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
        for (size_t i = 0; i < hw; i++) {
            double s = 0;
            for (int c = c0; c < c1; c++) {
                double v = img->x[c * hw + i];
                if (p) {
                    if (p->do_normalize) v = v * p->std[p->n_std == 1 ? 0 : c] + p->mean[p->n_mean == 1 ? 0 : c];
                    if (p->do_rescale) v /= p->rescale_factor;
                } else {
                    v = hi > lo ? (v - lo) / (hi - lo) * 255.0 : 128.0;
                }
                s += v;
            }
            s /= (c1 - c0);
            img->display.data[i * D + d] = (unsigned char)(s < 0 ? 0 : s > 255 ? 255 : lrint(s));
        }
    }
    return 0;
}

static int load_npy(const char *path, const lrp_image_spec *m, const char *pp, lrp_image *out, lrp_err *err) {
    int shape[8], rank;
    float *x;
    if (lrp_npy_load(path, &x, shape, &rank, err)) return -1;
    const int *s = shape;
    if (rank == 4 && shape[0] == 1) {   // a batch of one, as Hugging Face's pixel_values
        s++;
        rank = 3;
    }
    if (rank != 3 || s[0] != m->channels || s[1] != m->height || s[2] != m->width) {
        char got[96] = "";
        for (int i = 0; i < (s == shape ? rank : 4); i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%d", i ? ", " : "", shape[i]);
        free(x);
        return lrp_fail(err, "%s: shape (%s); the model reads [C, H, W] = (%d, %d, %d)", path, got, m->channels, m->height,
                        m->width);
    }
    out->x = x;
    out->channels = m->channels;
    out->height = m->height;
    out->width = m->width;
    lrp_preprocess p, *pp_used = NULL;
    FILE *probe = pp ? fopen(pp, "rb") : NULL;
    if (probe) {   // a missing preprocessor is fine for a .npy; a broken one is not
        fclose(probe);
        if (lrp_preprocess_load(pp, &p, err) || check_stats(pp, &p, m->channels, err)) {
            lrp_image_free(out);
            return -1;
        }
        pp_used = &p;
    }
    if (npy_display(out, pp_used)) {
        lrp_image_free(out);
        return lrp_fail(err, "%s: out of memory", path);
    }
    return 0;
}

static int load_picture(const char *path, const lrp_image_spec *m, const char *pp, lrp_image *out, lrp_err *err) {
    int C = m->channels, H = m->height, W = m->width;
    if (C != 1 && C != 3)
        return lrp_fail(err, "%s: the model reads %d channels; images give 1 (gray) or 3 (RGB); use a .npy", path, C);
    FILE *probe = pp ? fopen(pp, "rb") : NULL;
    if (!probe)
        return lrp_fail(err, "%s: no %s to say how the model preprocesses images (give a .npy [C, H, W] instead)", path,
                        pp ? pp : "preprocessor_config.json");
    fclose(probe);
    lrp_preprocess p;
    if (lrp_preprocess_load(pp, &p, err) || check_stats(pp, &p, C, err)) return -1;
    lrp_pixels raw, conv;
    if (lrp_image_decode(path, &raw, err)) return -1;
    int rc = lrp_pixels_convert(&raw, C, &conv);
    int rw = raw.width, rh = raw.height;
    lrp_pixels_free(&raw);
    if (rc) return lrp_fail(err, "%s: out of memory", path);
    if (p.do_resize) {
        int th = p.height ? p.height : H, tw = p.width ? p.width : W;
        if (th != H || tw != W) {
            lrp_pixels_free(&conv);
            return lrp_fail(err, "%s: \"size\" %dx%d (height x width) differs from the model's image size %dx%d", pp, th, tw,
                            H, W);
        }
        if (lrp_pixels_resize(&conv, W, H, p.resample, &out->display, err)) {
            lrp_pixels_free(&conv);
            return lrp_fail_prefix(err, path);
        }
        lrp_pixels_free(&conv);
    } else {
        if (rw != W || rh != H) {
            lrp_pixels_free(&conv);
            return lrp_fail(err, "%s: the image is %dx%d (height x width), the model reads %dx%d, and %s does not resize",
                            path, rh, rw, H, W, base_name(pp));
        }
        out->display = conv;
    }
    size_t hw = (size_t)H * W;
    out->x = malloc(sizeof *out->x * hw * C);
    if (!out->x) {
        lrp_image_free(out);
        return lrp_fail(err, "%s: out of memory", path);
    }
    out->channels = C;
    out->height = H;
    out->width = W;
    for (int c = 0; c < C; c++) {
        // As the Hugging Face processor: rescale in float64 then float32; normalise in float32.
        float mean = (float)p.mean[p.n_mean == 1 ? 0 : c], std = (float)p.std[p.n_std == 1 ? 0 : c];
        for (size_t i = 0; i < hw; i++) {
            float v = out->display.data[i * C + c];
            if (p.do_rescale) v = (float)(out->display.data[i * C + c] * p.rescale_factor);
            if (p.do_normalize) v = (v - mean) / std;
            out->x[c * hw + i] = v;
        }
    }
    return 0;
}

int lrp_image_load(const char *path, const lrp_image_spec *model, const char *preprocessor_json, lrp_image *out,
                   lrp_err *err) {
    memset(out, 0, sizeof *out);
    if (!model) return lrp_fail(err, "%s: no model image shape given", path);
    if (model->channels <= 0 || model->height <= 0 || model->width <= 0)
        return lrp_fail(err, "%s: the model's image shape (%d, %d, %d) is not valid", path, model->channels, model->height,
                        model->width);
    if (ends_with_npy(path)) return load_npy(path, model, preprocessor_json, out, err);  // refuses NaN/inf
    if (load_picture(path, model, preprocessor_json, out, err)) return -1;
    // A preprocessor whose rescale_factor or image_std overflows float32 makes inf pixels, which would
    // make every relevance NaN: refused here, naming the first.
    size_t n = (size_t)out->channels * out->height * out->width, bad = 0, first = 0;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(out->x[i]) && bad++ == 0) first = i;
    if (bad) {
        lrp_image_free(out);
        return lrp_fail(err, "%s: %zu pixel values are not finite (NaN or inf), the first at index %zu", path, bad, first);
    }
    return 0;
}

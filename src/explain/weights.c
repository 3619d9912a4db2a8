#include "explain/weights.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/atomic_file.h"
#include "kernels/gemm.h"
#include "kernels/matmul.h"

void lrp_wrel_init(lrp_wrel *w) { memset(w, 0, sizeof *w); }

void lrp_wrel_free(lrp_wrel *w) {
    for (int i = 0; i < w->n; i++) {
        free(w->ts[i].acc);
        free(w->ts[i].mask);
    }
    free(w->ts);
    memset(w, 0, sizeof *w);
}

void lrp_wrel_begin(lrp_wrel *w) {
    w->first_in_pass = 1;
    w->records++;
}

int lrp_wrel_status(const lrp_wrel *w, lrp_err *err) { return w->failed ? lrp_fail(err, "%s", w->err.msg) : 0; }

static void wrel_fail(lrp_wrel *w, const char *msg, const char *name) {
    if (!w->failed) lrp_fail(&w->err, "weight relevance of %s: %s", name, msg);
    w->failed = 1;
}

// The entry of tensor t (registered on first use, without an accumulator), or NULL (out of memory, or a
// tensor first reached after the registry was closed: failed is then set).
static lrp_wrel_tensor *wrel_tensor(lrp_wrel *w, const lrp_weight *W) {
    for (int i = 0; i < w->n; i++)
        if (w->ts[i].t == W->t) return &w->ts[i];
    if (w->closed) {
        wrel_fail(w, "reached only after the first pass (the records must reach the same weights in every pass)",
                  W->t->name);
        return NULL;
    }
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 32;
        lrp_wrel_tensor *p = realloc(w->ts, (size_t)cap * sizeof *p);
        if (!p) return NULL;
        w->ts = p;
        w->cap = cap;
    }
    lrp_wrel_tensor *e = &w->ts[w->n];
    memset(e, 0, sizeof *e);
    e->t = W->t;
    e->numel = lrp_tensor_numel(W->t);
    e->in = W->in;
    e->transposed = W->transposed;
    w->n++;
    return e;
}

// The group of stored tensor t under the selection: -1 when it is not a planned stored tensor.
static int sel_group_of(const lrp_wrel *w, const lrp_tensor *t) {
    ptrdiff_t k = t - w->sel_base;
    return k >= 0 && k < w->sel_n ? w->sel_group[k] : -1;
}

int lrp_wrel_group(const lrp_wrel *w, int i) { return w->sel_group ? sel_group_of(w, w->ts[i].t) : -1; }

// Adds segment W (rows r0 .. r0+T of the node's input x and output gradient gy) into its accumulator.
static void add_segment(lrp_wrel *w, const lrp_weight *W, const float *x, const float *gy, int T) {
    lrp_wrel_tensor *e = wrel_tensor(w, W);
    if (!e) {
        wrel_fail(w, "out of memory for its accumulator", W->t->name);
        return;
    }
    if (w->first_in_pass) e->head = 1;
    if (e->in != W->in || e->transposed != W->transposed || e->numel % W->in) {
        wrel_fail(w, "views of different shapes read it", W->t->name);
        return;
    }
    if (w->sel_group) {
        int g = sel_group_of(w, W->t);
        if (g < 0) {
            wrel_fail(w, "not a stored tensor of two or more dimensions (the memory plan cannot place it)", W->t->name);
            return;
        }
        if (g != w->sel_g) return;  // another pass accumulates it
    }
    if (!e->acc && !(e->acc = calloc((size_t)e->numel, sizeof(float)))) {
        wrel_fail(w, "out of memory for its accumulator", W->t->name);
        return;
    }
    int in = (int)W->in, out = (int)W->out;
    int64_t N = e->numel / W->in;  // stored rows ([N, in]) or columns ([in, N], transposed)
    if (W->offset < 0 || W->offset + out > N) {
        wrel_fail(w, "a view outside the tensor", W->t->name);
        return;
    }
    if (w->abs) {  // |W ⊙ ĝ(y)ᵀ·x| of this record, added element by element
        float *tmp = malloc(((size_t)out * in + (size_t)in) * sizeof(float)), *row = tmp ? tmp + (size_t)out * in : NULL;
        if (!tmp) {
            wrel_fail(w, "out of memory", W->t->name);
            return;
        }
        lrp_gemm(1, 0, out, in, T, 1.0f, gy, out, x, in, 0.0f, tmp, in);
        for (int j = 0; j < out; j++) {
            lrp_weight_row(W, j, row);
            for (int k = 0; k < in; k++) {
                size_t at = W->transposed ? (size_t)k * N + W->offset + j : (size_t)(W->offset + j) * in + k;
                e->acc[at] += fabsf(row[k] * tmp[(size_t)j * in + k]);
            }
        }
        free(tmp);
        e->finished = 1;
        return;
    }
    if (!W->transposed)  // rows offset .. offset+out of [N, in] += ĝ(y)ᵀ·x
        lrp_gemm(1, 0, out, in, T, 1.0f, gy, out, x, in, 1.0f, e->acc + W->offset * in, in);
    else  // columns offset .. offset+out of [in, N] += xᵀ·ĝ(y)
        lrp_gemm(1, 0, in, out, T, 1.0f, x, in, gy, out, 1.0f, e->acc + W->offset, (int)N);
}

void lrp_wrel_hook(const lrp_graph *g, const lrp_node *n, double seconds, void *ctx) {
    (void)g;
    (void)seconds;
    lrp_wrel *w = ctx;
    lrp_weight W;
    int r0 = 0, rows = 0;
    int segs = lrp_linear_node_segment(n, 0, &W, &r0, &rows);
    if (w->failed || segs == 0 || !n->out->g) return;
    const lrp_act *x = n->in[0], *y = n->out;
    for (int s = 0; s < segs && !w->failed; s++) {
        lrp_linear_node_segment(n, s, &W, &r0, &rows);
        if (!W.t || rows <= 0) continue;
        add_segment(w, &W, x->x + (size_t)r0 * x->cols, y->g + (size_t)r0 * y->cols, rows);
    }
    w->first_in_pass = 0;
}

// The stored tensor as a view of its rows [numel / last, last] (any number of dimensions).
static lrp_weight stored_rows(const lrp_tensor *t) {
    int64_t last = t->ndim > 0 ? t->shape[t->ndim - 1] : 1;
    lrp_weight v = {.t = t, .out = lrp_tensor_numel(t) / last, .in = last, .offset = 0, .transposed = 0};
    return v;
}

void lrp_wrel_finish(lrp_wrel *w, int i) {
    lrp_wrel_tensor *e = &w->ts[i];
    if (e->finished) return;
    lrp_weight v = stored_rows(e->t);
    float *row = malloc((size_t)v.in * sizeof(float));
    if (!row) {
        wrel_fail(w, "out of memory", e->t->name);
        return;
    }
    for (int64_t r = 0; r < v.out; r++) {
        lrp_weight_row(&v, r, row);
        float *a = e->acc + r * v.in;
        for (int64_t k = 0; k < v.in; k++) a[k] *= row[k];
    }
    free(row);
    e->finished = 1;
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const lrp_wrel_tensor *)a)->t->name, ((const lrp_wrel_tensor *)b)->t->name);
}

void lrp_wrel_sort(lrp_wrel *w) {
    if (w->n > 1) qsort(w->ts, (size_t)w->n, sizeof *w->ts, by_name);
}

void lrp_wrel_stats(lrp_wrel *w, int i) {
    lrp_wrel_tensor *t = &w->ts[i];
    if (t->stats || !t->acc) return;
    lrp_wrel_finish(w, i);
    double sum = 0, abs = 0;
    for (int64_t k = 0; k < t->numel; k++) sum += t->acc[k], abs += fabs(t->acc[k]);
    t->sum = sum;
    t->abs_sum = abs;
    t->stats = 1;
}

void lrp_wrel_release(lrp_wrel *w, int i) {
    free(w->ts[i].acc);
    w->ts[i].acc = NULL;
}

// --- the memory plan ---------------------------------------------------------------------------------

static int by_tensor_name(const void *a, const void *b) {
    return strcmp((*(const lrp_tensor *const *)a)->name, (*(const lrp_tensor *const *)b)->name);
}

int lrp_wrel_plan_make(const lrp_model *m, size_t budget, lrp_wrel_plan *p, lrp_err *err) {
    memset(p, 0, sizeof *p);
    const lrp_tensor_file *tf = &m->tf;
    int n = tf->n_tensors, k = 0;
    const lrp_tensor **order = malloc((size_t)(n ? n : 1) * sizeof *order);
    p->group = malloc((size_t)(n ? n : 1) * sizeof *p->group);
    if (!order || !p->group) {
        free(order);
        lrp_wrel_plan_free(p);
        return lrp_fail(err, "out of memory");
    }
    for (int j = 0; j < n; j++) {
        p->group[j] = -1;
        if (tf->tensors[j].ndim >= 2) order[k++] = &tf->tensors[j];
    }
    if (k > 1) qsort(order, (size_t)k, sizeof *order, by_tensor_name);
    size_t in_group = 0;
    for (int r = 0; r < k; r++) {
        const lrp_tensor *t = order[r];
        size_t bytes = (size_t)lrp_tensor_numel(t) * sizeof(float);
        if (p->n_groups == 0 || (in_group > 0 && in_group + bytes > budget)) {
            p->n_groups++;
            in_group = 0;
        }
        in_group += bytes;
        p->group[t - tf->tensors] = p->n_groups - 1;
        p->total += bytes;
        if (in_group > p->largest_group) p->largest_group = in_group;
        if (bytes > p->largest_tensor) {
            p->largest_tensor = bytes;
            p->largest_name = t->name;
        }
    }
    if (p->n_groups == 0) p->n_groups = 1;
    free(order);
    return 0;
}

void lrp_wrel_replan(lrp_wrel_plan *p, const lrp_wrel *w, const lrp_model *m, size_t budget) {
    const lrp_tensor_file *tf = &m->tf;
    size_t first = 0, in_group = 0;
    for (int j = 0; j < tf->n_tensors; j++) {
        if (p->group[j] == 0) first += (size_t)lrp_tensor_numel(&tf->tensors[j]) * sizeof(float);
        else if (p->group[j] > 0) p->group[j] = -2;  // to place again if reached
    }
    p->n_groups = 1;
    p->largest_group = first;
    p->total = first;
    for (int i = 0; i < w->n; i++) {
        ptrdiff_t k = w->ts[i].t - tf->tensors;
        if (k < 0 || k >= tf->n_tensors || p->group[k] != -2) continue;
        size_t bytes = (size_t)w->ts[i].numel * sizeof(float);
        if (p->n_groups == 1 || (in_group > 0 && in_group + bytes > budget)) {
            p->n_groups++;
            in_group = 0;
        }
        in_group += bytes;
        p->group[k] = p->n_groups - 1;
        p->total += bytes;
        if (in_group > p->largest_group) p->largest_group = in_group;
    }
    for (int j = 0; j < tf->n_tensors; j++)
        if (p->group[j] == -2) p->group[j] = -1;
}

void lrp_wrel_plan_free(lrp_wrel_plan *p) {
    free(p->group);
    memset(p, 0, sizeof *p);
}

void lrp_wrel_select(lrp_wrel *w, const lrp_model *m, const lrp_wrel_plan *p, int g) {
    w->sel_base = p ? m->tf.tensors : NULL;
    w->sel_group = p ? p->group : NULL;
    w->sel_n = p ? m->tf.n_tensors : 0;
    w->sel_g = g;
}

// --- safetensors writing ----------------------------------------------------------------------------

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

typedef struct st_entry {
    const char *name;
    const char *dtype;
    const int64_t *shape;
    int ndim;
    size_t nbytes;
} st_entry;

// The header (its length first, padded with spaces to a multiple of 8) into a memory buffer.
static char *st_header(const st_entry *e, int n, const char *const *meta, int n_meta, size_t *len) {
    char *buf = NULL;
    size_t cap = 0;
    FILE *f = open_memstream(&buf, &cap);
    if (!f) return NULL;
    fputs("{\"__metadata__\":{", f);
    for (int k = 0; k + 1 < n_meta; k += 2) {
        if (k) fputc(',', f);
        json_string(f, meta[k]);
        fputc(':', f);
        json_string(f, meta[k + 1]);
    }
    fputc('}', f);
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        fputc(',', f);
        json_string(f, e[i].name);
        fprintf(f, ":{\"dtype\":\"%s\",\"shape\":[", e[i].dtype);
        for (int d = 0; d < e[i].ndim; d++) fprintf(f, "%s%lld", d ? "," : "", (long long)e[i].shape[d]);
        fprintf(f, "],\"data_offsets\":[%zu,%zu]}", off, off + e[i].nbytes);
        off += e[i].nbytes;
    }
    fputc('}', f);
    long pos = ftell(f);
    while (pos % 8) {
        fputc(' ', f);
        pos++;
    }
    if (fclose(f)) {
        free(buf);
        return NULL;
    }
    *len = (size_t)pos;
    return buf;
}

static int write_u64(FILE *f, uint64_t v) {
    unsigned char b[8];
    for (int k = 0; k < 8; k++) b[k] = (unsigned char)(v >> (8 * k));
    return fwrite(b, 1, 8, f) == 8 ? 0 : -1;
}

static int io_fail(lrp_err *err, const char *path) { return lrp_fail(err, "%s: cannot write: %s", path, strerror(errno)); }

int lrp_wrel_out_begin(lrp_wrel_out *o, lrp_wrel *w, const char *path, const char *const *meta, int n_meta,
                       lrp_err *err) {
    memset(o, 0, sizeof *o);
    o->path = path;
    if (w->failed) return lrp_wrel_status(w, err);
    st_entry *e = calloc((size_t)w->n + 1, sizeof *e);
    if (!e) return lrp_fail(err, "out of memory");
    for (int i = 0; i < w->n; i++)
        e[i] = (st_entry){w->ts[i].t->name, "F32", w->ts[i].t->shape, w->ts[i].t->ndim,
                          (size_t)w->ts[i].numel * sizeof(float)};
    const char *m2[40];
    int nm = 0;
    m2[nm++] = "format";
    m2[nm++] = "pt";
    m2[nm++] = "content";
    m2[nm++] = "attnlrp weight relevance";
    for (int k = 0; k < n_meta && nm < 40; k++) m2[nm++] = meta[k];
    size_t hlen = 0;
    char *h = st_header(e, w->n, m2, nm, &hlen);
    free(e);
    if (!h) return lrp_fail(err, "out of memory");
    lrp_atomic_file *a = &o->file;
    if (lrp_atomic_open(a, path)) {
        int saved = errno;
        free(h);
        return lrp_fail(err, "%s: cannot create: %s", path, strerror(saved));
    }
    o->open = 1;
    int rc = write_u64(a->f, hlen) || fwrite(h, 1, hlen, a->f) != hlen;
    free(h);
    if (rc) {
        int saved = errno;
        lrp_wrel_out_abort(o);
        errno = saved;
        return io_fail(err, path);
    }
    return 0;
}

int lrp_wrel_out_put(lrp_wrel_out *o, lrp_wrel *w, int i, lrp_err *err) {
    lrp_atomic_file *a = &o->file;
    if (!o->open) return lrp_fail(err, "%s: not open", o->path);
    if (i != o->next) {
        lrp_wrel_out_abort(o);
        return lrp_fail(err, "%s: tensor %d written out of order (expected %d)", o->path, i, o->next);
    }
    lrp_wrel_tensor *t = &w->ts[i];
    if (!t->acc && !(t->acc = calloc((size_t)t->numel, sizeof(float)))) {
        lrp_wrel_out_abort(o);
        return lrp_fail(err, "out of memory");
    }
    lrp_wrel_finish(w, i);
    if (w->failed) {
        lrp_wrel_out_abort(o);
        return lrp_wrel_status(w, err);
    }
    if (fwrite(t->acc, sizeof(float), (size_t)t->numel, a->f) != (size_t)t->numel) {
        int saved = errno;
        lrp_wrel_out_abort(o);
        errno = saved;
        return io_fail(err, o->path);
    }
    o->next++;
    return 0;
}

int lrp_wrel_out_commit(lrp_wrel_out *o, lrp_err *err) {
    if (!o->open) return lrp_fail(err, "%s: not open", o->path);
    o->open = 0;
    int rc = lrp_atomic_commit(&o->file);
    return rc ? io_fail(err, o->path) : 0;
}

void lrp_wrel_out_abort(lrp_wrel_out *o) {
    if (!o->open) return;
    lrp_atomic_abort(&o->file);
    o->open = 0;
}

int lrp_wrel_write(lrp_wrel *w, const char *path, const char *const *meta, int n_meta, lrp_err *err) {
    lrp_wrel_out o;
    if (lrp_wrel_out_begin(&o, w, path, meta, n_meta, err)) return -1;
    for (int i = 0; i < w->n; i++)
        if (lrp_wrel_out_put(&o, w, i, err)) return -1;
    return lrp_wrel_out_commit(&o, err);
}

// --- pruning ----------------------------------------------------------------------------------------

// The k-th smallest (0-based) of v[0..n) by quickselect (v is reordered).
static float kth_smallest(float *v, int64_t n, int64_t k) {
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        float p = v[lo + (hi - lo) / 2];
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < p) i++;
            while (v[j] > p) j--;
            if (i <= j) {
                float t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                j--;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return v[k];
    }
    return v[k];
}

// mask[numel] = 1 where tensor e's element is pruned: the k lowest scores, ties to the lower index.
static int prune_mask(const lrp_wrel_tensor *e, lrp_prune_by by, int64_t k, unsigned char *mask) {
    int64_t n = e->numel;
    float *key = malloc((size_t)n * sizeof(float)), *tmp = malloc((size_t)n * sizeof(float));
    if (!key || !tmp) {
        free(key);
        free(tmp);
        return -1;
    }
    if (by == LRP_PRUNE_MAGNITUDE) {
        lrp_weight v = stored_rows(e->t);
        for (int64_t r = 0; r < v.out; r++) lrp_weight_row(&v, r, key + r * v.in);
    } else {
        memcpy(key, e->acc, (size_t)n * sizeof(float));
    }
    for (int64_t i = 0; i < n; i++) key[i] = isnan(key[i]) ? INFINITY : fabsf(key[i]);
    memset(mask, 0, (size_t)n);
    if (k > 0) {
        memcpy(tmp, key, (size_t)n * sizeof(float));
        float th = kth_smallest(tmp, n, k - 1);
        int64_t got = 0;
        for (int64_t i = 0; i < n; i++)
            if (key[i] < th) mask[i] = 1, got++;
        for (int64_t i = 0; i < n && got < k; i++)
            if (key[i] == th) mask[i] = 1, got++;
    }
    free(key);
    free(tmp);
    return 0;
}

static const char *st_dtype(lrp_dtype t) {
    switch (t) {
    case LRP_F32: return "F32";
    case LRP_F16: return "F16";
    case LRP_BF16: return "BF16";
    case LRP_F64: return "F64";
    case LRP_I64: return "I64";
    case LRP_I32: return "I32";
    case LRP_I16: return "I16";
    case LRP_I8: return "I8";
    case LRP_U8: return "U8";
    case LRP_BOOL: return "BOOL";
    default: return NULL;
    }
}

static int copy_file(const char *from, const char *to, lrp_err *err) {
    FILE *in = fopen(from, "rb");
    if (!in) return lrp_fail(err, "%s: cannot open: %s", from, strerror(errno));
    lrp_atomic_file a;
    if (lrp_atomic_open(&a, to)) {
        fclose(in);
        return lrp_fail(err, "%s: cannot create: %s", to, strerror(errno));
    }
    char buf[65536];
    size_t k;
    int rc = 0;
    while ((k = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, k, a.f) != k) rc = -1;
    if (ferror(in)) rc = -1;
    fclose(in);
    if (rc) {
        lrp_atomic_abort(&a);
        return lrp_fail(err, "%s: copy to %s failed", from, to);
    }
    if (lrp_atomic_commit(&a)) return io_fail(err, to);
    return 0;
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

int lrp_wrel_prune(lrp_wrel *w, const lrp_model *m, const char *dir, double fraction, lrp_prune_by by,
                   int64_t *pruned, int64_t *total, lrp_err *err) {
    *pruned = *total = 0;
    if (!(fraction >= 0 && fraction < 1)) return lrp_fail(err, "fraction %g: expected a number in [0, 1)", fraction);
    if (strcmp(m->format, "safetensors")) return lrp_fail(err, "%s: pruning writes Hugging Face checkpoints; a GGUF file cannot be copied", m->path);
    struct stat st;
    if (stat(m->path, &st) || !S_ISDIR(st.st_mode))
        return lrp_fail(err, "%s: pruning copies a checkpoint directory (config, tokenizer), not a single file", m->path);
    if (w->failed) return lrp_wrel_status(w, err);
    if (mkdir(dir, 0777) && errno != EEXIST) return lrp_fail(err, "%s: cannot create the directory: %s", dir, strerror(errno));
    if (stat(dir, &st) || !S_ISDIR(st.st_mode)) return lrp_fail(err, "%s: not a directory", dir);
    char src_real[4096], dst_real[4096];
    if (realpath(m->path, src_real) && realpath(dir, dst_real) && !strcmp(src_real, dst_real))
        return lrp_fail(err, "%s: is the model's own directory", dir);

    // Every file of the checkpoint but its weights, as it is.
    DIR *d = opendir(m->path);
    if (!d) return lrp_fail(err, "%s: cannot read the directory: %s", m->path, strerror(errno));
    struct dirent *de;
    int rc = 0;
    while (!rc && (de = readdir(d))) {
        if (de->d_name[0] == '.' || ends_with(de->d_name, ".safetensors") || ends_with(de->d_name, ".safetensors.index.json"))
            continue;
        char from[8192], to[8192];
        snprintf(from, sizeof from, "%s/%s", m->path, de->d_name);
        snprintf(to, sizeof to, "%s/%s", dir, de->d_name);
        if (stat(from, &st) || !S_ISREG(st.st_mode)) continue;
        rc = copy_file(from, to, err);
    }
    closedir(d);
    if (rc) return -1;

    // Masks of the pruned tensors (every accumulated tensor but the head), per data pointer.
    const lrp_tensor_file *tf = &m->tf;
    st_entry *e = calloc((size_t)tf->n_tensors + 1, sizeof *e);
    if (!e) return lrp_fail(err, "out of memory");
    rc = -1;
    for (int i = 0; i < w->n; i++) {
        lrp_wrel_tensor *t = &w->ts[i];
        if (t->head) continue;
        if (lrp_wrel_prune_mask(w, i, fraction, by, err)) goto done;
        *pruned += t->n_pruned;
        *total += t->numel;
    }
    for (int j = 0; j < tf->n_tensors; j++) {
        const lrp_tensor *t = &tf->tensors[j];
        if (!st_dtype(t->dtype)) {
            lrp_fail(err, "%s: dtype %s cannot be written to safetensors", t->name, lrp_dtype_name(t->dtype));
            goto done;
        }
        e[j] = (st_entry){t->name, st_dtype(t->dtype), t->shape, t->ndim, t->nbytes};
    }
    const char *meta[] = {"format", "pt", "content", by == LRP_PRUNE_RELEVANCE ? "pruned by attnlrp weight relevance" : "pruned by weight magnitude"};
    size_t hlen = 0;
    char *h = st_header(e, tf->n_tensors, meta, 4, &hlen);
    if (!h) {
        lrp_fail(err, "out of memory");
        goto done;
    }
    char path[8192];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    lrp_atomic_file a;
    if (lrp_atomic_open(&a, path)) {
        free(h);
        lrp_fail(err, "%s: cannot create: %s", path, strerror(errno));
        goto done;
    }
    int bad = write_u64(a.f, hlen) || fwrite(h, 1, hlen, a.f) != hlen;
    free(h);
    for (int j = 0; !bad && j < tf->n_tensors; j++) {
        const lrp_tensor *t = &tf->tensors[j];
        const unsigned char *mk = NULL;
        for (int i = 0; i < w->n; i++)
            if (w->ts[i].mask && w->ts[i].t->data == t->data && w->ts[i].t->nbytes == t->nbytes) mk = w->ts[i].mask;
        if (!mk) {
            bad = fwrite(t->data, 1, t->nbytes, a.f) != t->nbytes;
            continue;
        }
        size_t es = t->nbytes / (size_t)lrp_tensor_numel(t);
        static const unsigned char zero[8];
        const unsigned char *p = t->data;
        for (int64_t q = 0; !bad && q < lrp_tensor_numel(t); q++)
            bad = fwrite(mk[q] ? zero : p + (size_t)q * es, 1, es, a.f) != es;
    }
    if (bad) {
        int saved = errno;
        lrp_atomic_abort(&a);
        errno = saved;
        io_fail(err, path);
        goto done;
    }
    if (lrp_atomic_commit(&a)) {
        io_fail(err, path);
        goto done;
    }
    rc = 0;
done:
    free(e);
    return rc;
}

int lrp_wrel_prune_mask(lrp_wrel *w, int i, double fraction, lrp_prune_by by, lrp_err *err) {
    lrp_wrel_tensor *t = &w->ts[i];
    if (t->head || t->mask) return 0;
    if (!(fraction >= 0 && fraction < 1)) return lrp_fail(err, "fraction %g: expected a number in [0, 1)", fraction);
    if (!st_dtype(t->t->dtype) || !lrp_dtype_is_elementwise(t->t->dtype))
        return lrp_fail(err, "%s: dtype %s cannot be pruned element-wise", t->t->name, lrp_dtype_name(t->t->dtype));
    if (by == LRP_PRUNE_RELEVANCE) {
        if (!t->acc) return lrp_fail(err, "%s: no accumulated relevance to prune by", t->t->name);
        lrp_wrel_finish(w, i);
    }
    if (w->failed) return lrp_wrel_status(w, err);
    int64_t k = (int64_t)floor(fraction * (double)t->numel);
    if (!(t->mask = malloc((size_t)t->numel)) || prune_mask(t, by, k, t->mask)) {
        free(t->mask);
        t->mask = NULL;
        return lrp_fail(err, "out of memory");
    }
    t->n_pruned = k;
    return 0;
}

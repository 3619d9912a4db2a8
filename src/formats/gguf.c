// GGUF reader. File layout (ggml docs/gguf.md), all little-endian:
//   magic "GGUF", u32 version, count tensor_count, count kv_count
//   kv_count times:     string key, u32 value type, value
//   tensor_count times: string name, u32 n_dims, n_dims x dim ne[0..], u32 ggml type, u64 offset
//   padding to general.alignment (default 32), then the data section; offsets are relative to it.
// A count, a string length and an array length are u64 in versions 2 and 3 and u32 in version 1,
// where a dim is u32 too. A string is its length followed by that many bytes, no NUL. An array value
// is u32 element type, count n, then n values of that type (arrays of arrays are allowed).
// Every length read from the file is checked against the bytes that remain before it is used, so a
// lying file fails with a message instead of a large allocation or a read past the mapping.
#include "formats/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_NAME 64         // ggml's GGML_MAX_NAME: tensor names are shorter than this
#define GGUF_MAX_DEPTH 8         // arrays of arrays nest at most this deep
#define GGUF_MAX_ALIGNMENT (1u << 30)

// ---------------------------------------------------------------------------------------------
// Metadata storage: every string and item array lives in one arena freed with the file.

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    // data follows, 16-byte aligned
} arena_chunk;

#define CHUNK_HEADER ((sizeof(arena_chunk) + 15) & ~(size_t)15)
#define CHUNK_MIN (256u << 10)

typedef struct key_ref {
    const char *key;
    int index;
} key_ref;

typedef struct gguf_meta {
    char *label;              // file name used in messages
    uint32_t version;
    uint64_t alignment;
    uint64_t data_offset;     // where the data section starts in the file
    int n_kv;
    const char **keys;        // n_kv keys, file order
    lrp_gguf_value *values;   // n_kv values
    struct key_ref *by_key;   // the keys sorted, with their indices
    arena_chunk *arena;
} gguf_meta;

static void *arena_alloc(gguf_meta *m, size_t n) {
    if (n > SIZE_MAX - CHUNK_HEADER - 16) return NULL;
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    arena_chunk *c = m->arena;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > CHUNK_MIN ? n : CHUNK_MIN;
        arena_chunk *nc = malloc(CHUNK_HEADER + cap);
        if (!nc) return NULL;
        nc->used = 0;
        nc->cap = cap;
        if (c && cap == n) {  // a big one-off block: keep filling the current chunk afterwards
            nc->next = c->next;
            c->next = nc;
            nc->used = n;
            return (char *)nc + CHUNK_HEADER;
        }
        nc->next = c;
        m->arena = c = nc;
    }
    void *p = (char *)c + CHUNK_HEADER + c->used;
    c->used += n;
    return p;
}

static void gguf_meta_free(void *p) {
    gguf_meta *m = p;
    if (!m) return;
    for (arena_chunk *c = m->arena; c;) {
        arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    free(m->label);
    free(m->keys);
    free(m->values);
    free(m->by_key);
    free(m);
}

static const gguf_meta *meta_of(const lrp_tensor_file *tf) {
    return tf && tf->free_extra == gguf_meta_free ? tf->extra : NULL;
}

// ---------------------------------------------------------------------------------------------
// Cursor over the mapped file.

typedef struct parser {
    const unsigned char *base;
    uint64_t size, pos;
    uint32_t version;
    const char *label;
    gguf_meta *meta;
    lrp_err *err;
} parser;

// Copies at most 80 bytes of a name read from the file into buf, non-printable bytes as '?', so that
// an error message stays one readable line.
static const char *shown(char *buf, size_t cap, const char *s, size_t len) {
    size_t k = 0;
    for (size_t i = 0; i < len && k + 4 < cap && i < 80; i++) {
        unsigned char ch = (unsigned char)s[i];
        buf[k++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    if (len > 80 && k + 4 < cap) {
        memcpy(buf + k, "...", 3);
        k += 3;
    }
    buf[k] = 0;
    return buf;
}

static uint64_t remaining(const parser *P) {
    return P->size - P->pos;
}

static int need(parser *P, uint64_t n, const char *what) {
    if (n > remaining(P))
        return lrp_fail(P->err, "%s: truncated: %s needs %llu bytes at offset %llu but the file has %llu",
                        P->label, what, (unsigned long long)n, (unsigned long long)P->pos,
                        (unsigned long long)P->size);
    return 0;
}

static int read_u32(parser *P, uint32_t *v, const char *what) {
    if (need(P, 4, what)) return -1;
    memcpy(v, P->base + P->pos, 4);
    P->pos += 4;
    return 0;
}

static int read_u64(parser *P, uint64_t *v, const char *what) {
    if (need(P, 8, what)) return -1;
    memcpy(v, P->base + P->pos, 8);
    P->pos += 8;
    return 0;
}

// A count or length: u32 in version 1, u64 later.
static int read_count(parser *P, uint64_t *v, const char *what) {
    if (P->version == 1) {
        uint32_t x;
        if (read_u32(P, &x, what)) return -1;
        *v = x;
        return 0;
    }
    return read_u64(P, v, what);
}

static unsigned count_bytes(const parser *P) {
    return P->version == 1 ? 4 : 8;
}

// Reads a string in place (not NUL-terminated).
static int read_str(parser *P, const char **s, uint64_t *len, const char *what) {
    if (read_count(P, len, what)) return -1;
    if (*len > remaining(P))
        return lrp_fail(P->err, "%s: %s: string length %llu at offset %llu runs past the end of the file (%llu bytes)",
                        P->label, what, (unsigned long long)*len, (unsigned long long)(P->pos - count_bytes(P)),
                        (unsigned long long)P->size);
    *s = (const char *)P->base + P->pos;
    P->pos += *len;
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Metadata values.

static size_t scalar_size(uint32_t type) {
    switch (type) {
    case LRP_GGUF_UINT8: case LRP_GGUF_INT8: case LRP_GGUF_BOOL: return 1;
    case LRP_GGUF_UINT16: case LRP_GGUF_INT16: return 2;
    case LRP_GGUF_UINT32: case LRP_GGUF_INT32: case LRP_GGUF_FLOAT32: return 4;
    case LRP_GGUF_UINT64: case LRP_GGUF_INT64: case LRP_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

const char *lrp_gguf_type_name(lrp_gguf_type t) {
    static const char *names[] = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
                                  "bool", "string", "array", "uint64", "int64", "float64"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

// Decodes one little-endian scalar of the given type at p into v.
static void decode_scalar(lrp_gguf_value *v, uint32_t type, const unsigned char *p) {
    v->type = (lrp_gguf_type)type;
    switch (type) {
    case LRP_GGUF_UINT8: v->as.u = p[0]; break;
    case LRP_GGUF_BOOL: v->as.u = p[0] != 0; break;
    case LRP_GGUF_INT8: v->as.i = (int8_t)p[0]; break;
    case LRP_GGUF_UINT16: { uint16_t x; memcpy(&x, p, 2); v->as.u = x; break; }
    case LRP_GGUF_INT16: { int16_t x; memcpy(&x, p, 2); v->as.i = x; break; }
    case LRP_GGUF_UINT32: { uint32_t x; memcpy(&x, p, 4); v->as.u = x; break; }
    case LRP_GGUF_INT32: { int32_t x; memcpy(&x, p, 4); v->as.i = x; break; }
    case LRP_GGUF_FLOAT32: { float x; memcpy(&x, p, 4); v->as.f = x; break; }
    case LRP_GGUF_UINT64: { uint64_t x; memcpy(&x, p, 8); v->as.u = x; break; }
    case LRP_GGUF_INT64: { int64_t x; memcpy(&x, p, 8); v->as.i = x; break; }
    case LRP_GGUF_FLOAT64: { double x; memcpy(&x, p, 8); v->as.f = x; break; }
    default: break;
    }
}

static int parse_value(parser *P, lrp_gguf_value *v, uint32_t type, int depth, const char *what) {
    memset(v, 0, sizeof *v);
    size_t sz = scalar_size(type);
    if (sz) {
        if (need(P, sz, what)) return -1;
        decode_scalar(v, type, P->base + P->pos);
        P->pos += sz;
        return 0;
    }
    if (type == LRP_GGUF_STRING) {
        const char *s;
        uint64_t len;
        if (read_str(P, &s, &len, what)) return -1;
        char *copy = arena_alloc(P->meta, (size_t)len + 1);
        if (!copy) return lrp_fail(P->err, "%s: out of memory reading %s", P->label, what);
        memcpy(copy, s, (size_t)len);
        copy[len] = 0;
        v->type = LRP_GGUF_STRING;
        v->as.str.s = copy;
        v->as.str.len = (size_t)len;
        return 0;
    }
    if (type != LRP_GGUF_ARRAY)
        return lrp_fail(P->err, "%s: %s: unknown value type %u", P->label, what, type);

    if (depth >= GGUF_MAX_DEPTH)
        return lrp_fail(P->err, "%s: %s: arrays nested more than %d deep", P->label, what, GGUF_MAX_DEPTH);
    uint32_t elem;
    uint64_t n;
    if (read_u32(P, &elem, what) || read_count(P, &n, what)) return -1;
    v->type = LRP_GGUF_ARRAY;
    v->as.arr.elem = (lrp_gguf_type)elem;
    v->as.arr.n = n;
    size_t esz = scalar_size(elem);
    // The fewest bytes one element can take: a scalar's size, a string's length field, an array's
    // type and count.
    uint64_t min_bytes = esz ? esz
                       : elem == LRP_GGUF_STRING ? count_bytes(P)
                       : elem == LRP_GGUF_ARRAY ? 4 + count_bytes(P)
                       : 0;
    if (min_bytes == 0)
        return lrp_fail(P->err, "%s: %s: array of unknown value type %u", P->label, what, elem);
    if (n > remaining(P) / min_bytes)
        return lrp_fail(P->err, "%s: %s: array of %llu %s elements at offset %llu runs past the end of the file "
                        "(%llu bytes)", P->label, what, (unsigned long long)n,
                        lrp_gguf_type_name((lrp_gguf_type)elem), (unsigned long long)P->pos,
                        (unsigned long long)P->size);
    if (esz) {
        v->as.arr.raw = P->base + P->pos;
        P->pos += n * esz;
        return 0;
    }
    if (n > SIZE_MAX / sizeof(lrp_gguf_value))
        return lrp_fail(P->err, "%s: out of memory reading %s", P->label, what);
    lrp_gguf_value *items = arena_alloc(P->meta, (size_t)n * sizeof *items);
    if (!items) return lrp_fail(P->err, "%s: out of memory reading %s", P->label, what);
    v->as.arr.items = items;
    for (uint64_t k = 0; k < n; k++) {
        if (parse_value(P, &items[k], elem, depth + 1, what)) return -1;
    }
    return 0;
}

static int compare_key_refs(const void *a, const void *b) {
    return strcmp(((const key_ref *)a)->key, ((const key_ref *)b)->key);
}

static int parse_metadata(parser *P, uint64_t n_kv) {
    gguf_meta *m = P->meta;
    // A key-value pair takes at least a key length, one key byte, a type and one value byte.
    if (n_kv > remaining(P) / (count_bytes(P) + 6) || n_kv > INT_MAX)
        return lrp_fail(P->err, "%s: metadata count %llu is more than the file can hold", P->label,
                        (unsigned long long)n_kv);
    size_t n = (size_t)n_kv;
    m->keys = calloc(n ? n : 1, sizeof *m->keys);
    m->values = calloc(n ? n : 1, sizeof *m->values);
    m->by_key = malloc((n ? n : 1) * sizeof *m->by_key);
    if (!m->keys || !m->values || !m->by_key) return lrp_fail(P->err, "%s: out of memory", P->label);

    char what[160], buf[96];
    for (size_t i = 0; i < n; i++) {
        snprintf(what, sizeof what, "metadata entry #%zu", i);
        const char *key;
        uint64_t klen;
        if (read_str(P, &key, &klen, what)) return -1;
        if (klen == 0) return lrp_fail(P->err, "%s: %s has an empty key", P->label, what);
        if (memchr(key, 0, (size_t)klen))
            return lrp_fail(P->err, "%s: %s: key \"%s\" contains a NUL byte", P->label, what,
                            shown(buf, sizeof buf, key, (size_t)klen));
        char *k = arena_alloc(m, (size_t)klen + 1);
        if (!k) return lrp_fail(P->err, "%s: out of memory", P->label);
        memcpy(k, key, (size_t)klen);
        k[klen] = 0;
        snprintf(what, sizeof what, "metadata \"%s\"", shown(buf, sizeof buf, key, (size_t)klen));
        uint32_t type;
        if (read_u32(P, &type, what)) return -1;
        if (parse_value(P, &m->values[i], type, 0, what)) return -1;
        m->keys[i] = k;
        m->by_key[i] = (key_ref){k, (int)i};
        m->n_kv = (int)i + 1;
    }
    qsort(m->by_key, n, sizeof *m->by_key, compare_key_refs);
    for (size_t i = 1; i < n; i++) {
        const char *a = m->by_key[i - 1].key, *b = m->by_key[i].key;
        if (strcmp(a, b) == 0)
            return lrp_fail(P->err, "%s: duplicate metadata key \"%s\"", P->label, shown(buf, sizeof buf, a, strlen(a)));
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Metadata lookup.

int lrp_gguf_is_gguf(const lrp_tensor_file *tf) {
    return meta_of(tf) != NULL;
}

uint32_t lrp_gguf_version(const lrp_tensor_file *tf) {
    const gguf_meta *m = meta_of(tf);
    return m ? m->version : 0;
}

size_t lrp_gguf_alignment(const lrp_tensor_file *tf) {
    const gguf_meta *m = meta_of(tf);
    return m ? (size_t)m->alignment : 0;
}

int lrp_gguf_n_kv(const lrp_tensor_file *tf) {
    const gguf_meta *m = meta_of(tf);
    return m ? m->n_kv : 0;
}

const char *lrp_gguf_key_at(const lrp_tensor_file *tf, int i) {
    const gguf_meta *m = meta_of(tf);
    return m && i >= 0 && i < m->n_kv ? m->keys[i] : NULL;
}

const lrp_gguf_value *lrp_gguf_value_at(const lrp_tensor_file *tf, int i) {
    const gguf_meta *m = meta_of(tf);
    return m && i >= 0 && i < m->n_kv ? &m->values[i] : NULL;
}

const lrp_gguf_value *lrp_gguf_get(const lrp_tensor_file *tf, const char *key) {
    const gguf_meta *m = meta_of(tf);
    if (!m || !key) return NULL;
    int lo = 0, hi = m->n_kv - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(key, m->by_key[mid].key);
        if (c == 0) return &m->values[m->by_key[mid].index];
        if (c < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return NULL;
}

const char *lrp_gguf_string(const lrp_gguf_value *v) {
    return v && v->type == LRP_GGUF_STRING ? v->as.str.s : NULL;
}

static int is_unsigned(lrp_gguf_type t) {
    return t == LRP_GGUF_UINT8 || t == LRP_GGUF_UINT16 || t == LRP_GGUF_UINT32 || t == LRP_GGUF_UINT64 ||
           t == LRP_GGUF_BOOL;
}

static int is_signed(lrp_gguf_type t) {
    return t == LRP_GGUF_INT8 || t == LRP_GGUF_INT16 || t == LRP_GGUF_INT32 || t == LRP_GGUF_INT64;
}

int lrp_gguf_int(const lrp_gguf_value *v, int64_t *out) {
    if (!v) return -1;
    if (is_signed(v->type)) {
        *out = v->as.i;
        return 0;
    }
    if (is_unsigned(v->type) && v->as.u <= (uint64_t)INT64_MAX) {
        *out = (int64_t)v->as.u;
        return 0;
    }
    return -1;
}

int lrp_gguf_float(const lrp_gguf_value *v, double *out) {
    if (!v) return -1;
    if (v->type == LRP_GGUF_FLOAT32 || v->type == LRP_GGUF_FLOAT64) {
        *out = v->as.f;
        return 0;
    }
    if (is_signed(v->type)) {
        *out = (double)v->as.i;
        return 0;
    }
    if (is_unsigned(v->type) && v->type != LRP_GGUF_BOOL) {
        *out = (double)v->as.u;
        return 0;
    }
    return -1;
}

int lrp_gguf_bool(const lrp_gguf_value *v, int *out) {
    if (!v || v->type != LRP_GGUF_BOOL) return -1;
    *out = (int)v->as.u;
    return 0;
}

uint64_t lrp_gguf_array_len(const lrp_gguf_value *v) {
    return v && v->type == LRP_GGUF_ARRAY ? v->as.arr.n : 0;
}

int lrp_gguf_array_type(const lrp_gguf_value *v) {
    return v && v->type == LRP_GGUF_ARRAY ? (int)v->as.arr.elem : -1;
}

// Element i of a numeric array as a scalar value.
static int array_scalar(const lrp_gguf_value *v, uint64_t i, lrp_gguf_value *out) {
    if (!v || v->type != LRP_GGUF_ARRAY || i >= v->as.arr.n || !v->as.arr.raw) return -1;
    size_t sz = scalar_size(v->as.arr.elem);
    decode_scalar(out, v->as.arr.elem, v->as.arr.raw + i * sz);
    return 0;
}

const char *lrp_gguf_array_string(const lrp_gguf_value *v, uint64_t i, size_t *len) {
    if (!v || v->type != LRP_GGUF_ARRAY || v->as.arr.elem != LRP_GGUF_STRING || i >= v->as.arr.n) return NULL;
    if (len) *len = v->as.arr.items[i].as.str.len;
    return v->as.arr.items[i].as.str.s;
}

int lrp_gguf_array_int(const lrp_gguf_value *v, uint64_t i, int64_t *out) {
    lrp_gguf_value e;
    if (array_scalar(v, i, &e)) return -1;
    return lrp_gguf_int(&e, out);
}

int lrp_gguf_array_float(const lrp_gguf_value *v, uint64_t i, double *out) {
    lrp_gguf_value e;
    if (array_scalar(v, i, &e)) return -1;
    return lrp_gguf_float(&e, out);
}

const lrp_gguf_value *lrp_gguf_array_item(const lrp_gguf_value *v, uint64_t i) {
    if (!v || v->type != LRP_GGUF_ARRAY || !v->as.arr.items || i >= v->as.arr.n) return NULL;
    return &v->as.arr.items[i];
}

const char *lrp_gguf_get_string(const lrp_tensor_file *tf, const char *key) {
    return lrp_gguf_string(lrp_gguf_get(tf, key));
}

int lrp_gguf_get_int(const lrp_tensor_file *tf, const char *key, int64_t *out) {
    return lrp_gguf_int(lrp_gguf_get(tf, key), out);
}

int lrp_gguf_get_float(const lrp_tensor_file *tf, const char *key, double *out) {
    return lrp_gguf_float(lrp_gguf_get(tf, key), out);
}

// ---------------------------------------------------------------------------------------------
// Tensor infos.

// ggml_type numbers (ggml.h) of the supported storage types, and names of the others for messages.
static int dtype_from_ggml(uint32_t t, lrp_dtype *out) {
    switch (t) {
    case 0: *out = LRP_F32; return 0;
    case 1: *out = LRP_F16; return 0;
    case 2: *out = LRP_Q4_0; return 0;
    case 3: *out = LRP_Q4_1; return 0;
    case 6: *out = LRP_Q5_0; return 0;
    case 7: *out = LRP_Q5_1; return 0;
    case 8: *out = LRP_Q8_0; return 0;
    case 12: *out = LRP_Q4_K; return 0;
    case 13: *out = LRP_Q5_K; return 0;
    case 14: *out = LRP_Q6_K; return 0;
    case 15: *out = LRP_Q8_K; return 0;
    case 30: *out = LRP_BF16; return 0;
    default: return -1;
    }
}

static const char *unsupported_ggml_name(uint32_t t) {
    switch (t) {
    case 9: return "Q8_1";
    case 10: return "Q2_K";
    case 11: return "Q3_K";
    case 16: return "IQ2_XXS";
    case 17: return "IQ2_XS";
    case 18: return "IQ3_XXS";
    case 19: return "IQ1_S";
    case 20: return "IQ4_NL";
    case 21: return "IQ3_S";
    case 22: return "IQ2_S";
    case 23: return "IQ4_XS";
    case 24: return "I8";
    case 25: return "I16";
    case 26: return "I32";
    case 27: return "I64";
    case 28: return "F64";
    case 29: return "IQ1_M";
    case 34: return "TQ1_0";
    case 35: return "TQ2_0";
    case 39: return "MXFP4";
    default: return NULL;
    }
}

typedef struct raw_info {
    char name[GGUF_MAX_NAME + 1];
    uint32_t n_dims;
    uint64_t ne[LRP_MAX_DIMS];
    uint32_t type;
    uint64_t offset;
} raw_info;

static void format_dims(const raw_info *ri, char *buf, size_t cap) {
    size_t k = (size_t)snprintf(buf, cap, "[");
    for (uint32_t i = 0; i < ri->n_dims && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%llu", i ? ", " : "", (unsigned long long)ri->ne[i]);
    if (k < cap) snprintf(buf + k, cap - k, "]");
}

// Reads tensor info #idx (checks that need only the info itself).
static int read_tensor_info(parser *P, size_t idx, raw_info *ri) {
    char what[160], buf[96];
    snprintf(what, sizeof what, "tensor info #%zu", idx);
    const char *name;
    uint64_t len;
    if (read_str(P, &name, &len, what)) return -1;
    if (len == 0) return lrp_fail(P->err, "%s: %s has an empty name", P->label, what);
    if (len > GGUF_MAX_NAME)
        return lrp_fail(P->err, "%s: %s: name \"%s\" is %llu bytes long (at most %d)", P->label, what,
                        shown(buf, sizeof buf, name, (size_t)len), (unsigned long long)len, GGUF_MAX_NAME);
    if (memchr(name, 0, (size_t)len))
        return lrp_fail(P->err, "%s: %s: name contains a NUL byte", P->label, what);
    memcpy(ri->name, name, (size_t)len);
    ri->name[len] = 0;
    snprintf(what, sizeof what, "tensor \"%s\"", shown(buf, sizeof buf, ri->name, (size_t)len));

    if (read_u32(P, &ri->n_dims, what)) return -1;
    if (ri->n_dims < 1 || ri->n_dims > LRP_MAX_DIMS)
        return lrp_fail(P->err, "%s: %s has %u dimensions (1 to %d are supported)", P->label, what, ri->n_dims,
                        LRP_MAX_DIMS);
    for (uint32_t i = 0; i < ri->n_dims; i++) {
        if (P->version == 1) {
            uint32_t d;
            if (read_u32(P, &d, what)) return -1;
            ri->ne[i] = d;
        } else if (read_u64(P, &ri->ne[i], what)) {
            return -1;
        }
    }
    if (read_u32(P, &ri->type, what) || read_u64(P, &ri->offset, what)) return -1;
    return 0;
}

// Checks one tensor against the type table, the alignment and the data section, and fills *t
// (everything but the name).
static int check_tensor(parser *P, const raw_info *ri, uint64_t data_size, lrp_tensor *t) {
    char buf[96], dims[160];
    const char *nm = shown(buf, sizeof buf, ri->name, strlen(ri->name));
    format_dims(ri, dims, sizeof dims);
    lrp_dtype dt;
    if (dtype_from_ggml(ri->type, &dt) != 0) {
        const char *known = unsupported_ggml_name(ri->type);
        if (known)
            return lrp_fail(P->err, "%s: tensor \"%s\": ggml type %s (%u) is not supported (supported: F32, F16, "
                            "BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K, Q8_K)",
                            P->label, nm, known, ri->type);
        return lrp_fail(P->err, "%s: tensor \"%s\": unknown ggml type %u", P->label, nm, ri->type);
    }
    uint64_t numel = 1;
    for (uint32_t i = 0; i < ri->n_dims; i++) {
        if (ri->ne[i] == 0 || ri->ne[i] > (uint64_t)INT64_MAX || __builtin_mul_overflow(numel, ri->ne[i], &numel))
            return lrp_fail(P->err, "%s: tensor \"%s\": absurd dimensions %s", P->label, nm, dims);
    }
    int be = lrp_dtype_block_elems(dt);
    if (ri->ne[0] % (uint64_t)be != 0)
        return lrp_fail(P->err, "%s: tensor \"%s\": row length %llu is not a multiple of the %s block size %d",
                        P->label, nm, (unsigned long long)ri->ne[0], lrp_dtype_name(dt), be);
    uint64_t nbytes;
    if (__builtin_mul_overflow(numel / (uint64_t)be, (uint64_t)lrp_dtype_block_bytes(dt), &nbytes) ||
        nbytes > (uint64_t)SIZE_MAX)
        return lrp_fail(P->err, "%s: tensor \"%s\": absurd dimensions %s", P->label, nm, dims);
    if (ri->offset % P->meta->alignment != 0)
        return lrp_fail(P->err, "%s: tensor \"%s\": offset %llu is not a multiple of the alignment %llu", P->label,
                        nm, (unsigned long long)ri->offset, (unsigned long long)P->meta->alignment);
    if (ri->offset > data_size || nbytes > data_size - ri->offset)
        return lrp_fail(P->err, "%s: tensor \"%s\": data at offset %llu of %llu bytes (%s %s) runs past the end "
                        "of the file (the data section has %llu bytes)", P->label, nm,
                        (unsigned long long)ri->offset, (unsigned long long)nbytes, lrp_dtype_name(dt), dims,
                        (unsigned long long)data_size);
    t->dtype = dt;
    t->ndim = (int)ri->n_dims;
    for (int i = 0; i < t->ndim; i++) t->shape[i] = (int64_t)ri->ne[t->ndim - 1 - i];
    t->data = P->base + P->meta->data_offset + ri->offset;
    t->nbytes = (size_t)nbytes;
    return 0;
}

static int read_alignment(parser *P) {
    gguf_meta *m = P->meta;
    m->alignment = GGUF_DEFAULT_ALIGNMENT;
    const lrp_gguf_value *v = NULL;
    for (int i = 0; i < m->n_kv && !v; i++) {
        if (strcmp(m->keys[i], "general.alignment") == 0) v = &m->values[i];
    }
    if (!v) return 0;
    int64_t a;
    if (lrp_gguf_int(v, &a) != 0)
        return lrp_fail(P->err, "%s: general.alignment must be an integer, not %s", P->label,
                        lrp_gguf_type_name(v->type));
    if (a <= 0 || (a & (a - 1)) != 0 || a > (int64_t)GGUF_MAX_ALIGNMENT)
        return lrp_fail(P->err, "%s: general.alignment = %lld is not a power of two between 1 and %u", P->label,
                        (long long)a, GGUF_MAX_ALIGNMENT);
    m->alignment = (uint64_t)a;
    return 0;
}

// Reads every tensor info, places the data section and fills tf->tensors.
static int parse_tensors(parser *P, lrp_tensor_file *tf, uint64_t n_tensors) {
    // A tensor info takes at least a name length, one name byte, n_dims, one dim, a type and an offset.
    uint64_t min_info = count_bytes(P) + 1 + 4 + (P->version == 1 ? 4 : 8) + 4 + 8;
    if (n_tensors > remaining(P) / min_info || n_tensors > INT_MAX)
        return lrp_fail(P->err, "%s: tensor count %llu is more than the file can hold", P->label,
                        (unsigned long long)n_tensors);
    size_t n = (size_t)n_tensors;
    raw_info *infos = malloc((n ? n : 1) * sizeof *infos);
    tf->tensors = calloc(n ? n : 1, sizeof *tf->tensors);
    if (!infos || !tf->tensors) {
        free(infos);
        return lrp_fail(P->err, "%s: out of memory", P->label);
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) rc = read_tensor_info(P, i, &infos[i]);
    if (rc == 0) {
        uint64_t a = P->meta->alignment;
        uint64_t start = P->pos % a ? P->pos + (a - P->pos % a) : P->pos;
        if (start > P->size && n > 0)
            rc = lrp_fail(P->err, "%s: truncated: the data section would start at offset %llu but the file has %llu "
                          "bytes", P->label, (unsigned long long)start, (unsigned long long)P->size);
        P->meta->data_offset = start;
        uint64_t data_size = start <= P->size ? P->size - start : 0;
        for (size_t i = 0; i < n && rc == 0; i++) {
            lrp_tensor t = {0};
            rc = check_tensor(P, &infos[i], data_size, &t);
            if (rc == 0 && !(t.name = strdup(infos[i].name))) rc = lrp_fail(P->err, "%s: out of memory", P->label);
            if (rc == 0) tf->tensors[tf->n_tensors++] = t;
        }
    }
    if (rc == 0) {
        lrp_tf_sort_by_name(tf);
        for (int i = 1; i < tf->n_tensors && rc == 0; i++) {
            if (strcmp(tf->tensors[i - 1].name, tf->tensors[i].name) != 0) continue;
            char b1[96];
            const char *name = tf->tensors[i].name;
            rc = lrp_fail(P->err, "%s: duplicate tensor name \"%s\"", P->label, shown(b1, sizeof b1, name, strlen(name)));
        }
    }
    free(infos);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// Opening.

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash && slash[1] ? slash + 1 : path;
}

static int parse_file(parser *P, lrp_tensor_file *tf) {
    if (P->size < 8 || memcmp(P->base, "GGUF", 4) != 0)
        return lrp_fail(P->err, "%s: not a GGUF file (no \"GGUF\" magic at the start)", P->label);
    uint32_t version;
    memcpy(&version, P->base + 4, 4);
    P->pos = 8;
    if (version == 0 || version > 3) {
        uint32_t swapped = __builtin_bswap32(version);
        if (swapped >= 1 && swapped <= 3)
            return lrp_fail(P->err, "%s: big-endian GGUF files are not supported", P->label);
        return lrp_fail(P->err, "%s: unsupported GGUF version %u (1 to 3 are supported)", P->label, version);
    }
    P->version = version;
    P->meta->version = version;
    uint64_t n_tensors, n_kv;
    if (read_count(P, &n_tensors, "the tensor count") || read_count(P, &n_kv, "the metadata count")) return -1;
    if (parse_metadata(P, n_kv) || read_alignment(P)) return -1;
    return parse_tensors(P, tf, n_tensors);
}

// Parses the GGUF image (addr, size) into tf, which takes it over (borrowed: the caller keeps it).
static int open_mapped(lrp_tensor_file *tf, const char *label, void *addr, size_t size, int borrowed, lrp_err *err) {
    gguf_meta *meta = calloc(1, sizeof *meta);
    tf->maps = malloc(sizeof *tf->maps);
    if (!meta || !tf->maps || !(meta->label = strdup(label))) {
        if (meta) free(meta->label);
        free(meta);
        free(tf->maps);
        tf->maps = NULL;
        if (!borrowed) munmap(addr, size);
        return lrp_fail(err, "%s: out of memory", label);
    }
    tf->maps[0] = (lrp_mapping){addr, size, borrowed};
    tf->n_maps = 1;
    tf->extra = meta;
    tf->free_extra = gguf_meta_free;

    parser P = {.base = addr, .size = (uint64_t)size, .label = meta->label, .meta = meta, .err = err};
    if (parse_file(&P, tf) != 0) {
        lrp_tf_close(tf);
        return -1;
    }
    return 0;
}

int lrp_gguf_open(lrp_tensor_file *tf, const char *path, lrp_err *err) {
    memset(tf, 0, sizeof *tf);
    const char *label = base_name(path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return lrp_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return lrp_fail(err, "%s: not a regular file", path);
    }
    if (st.st_size < 8) {
        close(fd);
        return lrp_fail(err, "%s: not a GGUF file (%lld bytes, too short for a header)", label,
                        (long long)st.st_size);
    }
    void *addr = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (addr == MAP_FAILED)
        return lrp_fail(err, "%s: cannot map %lld bytes: %s", label, (long long)st.st_size, strerror(errno));
    return open_mapped(tf, label, addr, (size_t)st.st_size, 0, err);
}

int lrp_gguf_open_memory(lrp_tensor_file *tf, const char *label, const void *data, size_t size, lrp_err *err) {
    memset(tf, 0, sizeof *tf);
    if (size < 8)
        return lrp_fail(err, "%s: not a GGUF file (%zu bytes, too short for a header)", label, size);
    return open_mapped(tf, label, (void *)data, size, 1, err);
}

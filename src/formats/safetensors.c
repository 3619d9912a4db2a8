// safetensors reader. File layout (huggingface/safetensors README, "Format"):
//   [0, 8)        N, the header length, uint64 little-endian
//   [8, 8+N)      a JSON object {"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
//                 "__metadata__": {string: string}}, possibly right-padded with spaces
//   [8+N, EOF)    the data section; data_offsets are relative to its start
// The checks follow the reference reader (SafeTensors::read_metadata, Metadata::validate): N bounded
// and inside the file, the tensors tile the data section exactly (sorted by offset, no overlap, no
// hole, nothing left over), each tensor's byte size equals its element count times its dtype size.
#include "formats/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_MAX_HEADER 100000000ULL  // the reference reader's MAX_HEADER_SIZE
#define ST_MAX_INDEX (64u << 20)    // an index of a 400B-parameter model is under 100 kB

// The tensor file being assembled, with what the checks across files need to know per tensor.
typedef struct loader {
    lrp_tensor_file *tf;
    int cap_tensors, cap_maps;
    int *origin;      // per tensor: which mapping (file) it lies in
    char *is_alias;   // per tensor: 1 when it is a __metadata__ alias of another tensor
    char **labels;    // per mapping: the file name used in messages
} loader;

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash && slash[1] ? slash + 1 : path;
}

static char *join_path(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    size_t k = a;
    if (a && dir[a - 1] != '/') p[k++] = '/';
    memcpy(p + k, name, b + 1);
    return p;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void loader_free(loader *L) {
    if (L->labels) {
        for (int i = 0; i < L->tf->n_maps; i++) free(L->labels[i]);
    }
    free(L->labels);
    free(L->origin);
    free(L->is_alias);
    L->labels = NULL;
    L->origin = NULL;
    L->is_alias = NULL;
}

// Appends one tensor (taking ownership of name); on failure frees name.
static int loader_add_tensor(loader *L, const lrp_tensor *t, int origin, int alias, lrp_err *err) {
    lrp_tensor_file *tf = L->tf;
    if (tf->n_tensors == L->cap_tensors) {
        if (L->cap_tensors > (1 << 24)) goto oom;
        int cap = L->cap_tensors ? 2 * L->cap_tensors : 64;
        lrp_tensor *nt = realloc(tf->tensors, (size_t)cap * sizeof *nt);
        if (!nt) goto oom;
        tf->tensors = nt;
        int *no = realloc(L->origin, (size_t)cap * sizeof *no);
        if (!no) goto oom;
        L->origin = no;
        char *na = realloc(L->is_alias, (size_t)cap);
        if (!na) goto oom;
        L->is_alias = na;
        L->cap_tensors = cap;
    }
    tf->tensors[tf->n_tensors] = *t;
    L->origin[tf->n_tensors] = origin;
    L->is_alias[tf->n_tensors] = (char)alias;
    tf->n_tensors++;
    return 0;
oom:
    free(t->name);
    return lrp_fail(err, "%s: out of memory", L->labels[origin]);
}

// The safetensors dtypes a checkpoint may hold: float weights, and the integer/float64 buffers some
// files carry (RoBERTa's position_ids), which are read but never used as weights.
static int dtype_from_name(const char *s, lrp_dtype *dt, size_t *size) {
    static const lrp_dtype known[] = {LRP_F32, LRP_F16, LRP_BF16, LRP_F64, LRP_I64, LRP_I32,
                                      LRP_I16, LRP_I8,  LRP_U8,   LRP_BOOL};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strcmp(s, lrp_dtype_name(known[i])) == 0) {
            *dt = known[i];
            *size = lrp_dtype_block_bytes(known[i]);
            return 0;
        }
    }
    return -1;
}

static const char *dtype_label(lrp_dtype dt) { return lrp_dtype_name(dt); }

// Writes "[2, 3]" (PyTorch order) into buf.
static void format_shape(const lrp_tensor *t, char *buf, size_t cap) {
    size_t k = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < t->ndim && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    if (k < cap) snprintf(buf + k, cap - k, "]");
}

// Reads a non-negative JSON integer.
static int json_u64(const json_t *v, uint64_t *out) {
    if (!json_is_integer(v) || json_integer_value(v) < 0) return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

// Parses one header entry into *t (name not set) and its [begin, end) within the data section.
static int parse_tensor_entry(const char *label, const char *name, const json_t *v, uint64_t data_size,
                              lrp_tensor *t, uint64_t off[2], lrp_err *err) {
    if (!json_is_object(v)) return lrp_fail(err, "%s: tensor \"%s\": entry is not a JSON object", label, name);
    const json_t *jd = json_object_get(v, "dtype");
    const json_t *js = json_object_get(v, "shape");
    const json_t *jo = json_object_get(v, "data_offsets");
    if (!json_is_string(jd)) return lrp_fail(err, "%s: tensor \"%s\": missing string \"dtype\"", label, name);
    if (!json_is_array(js)) return lrp_fail(err, "%s: tensor \"%s\": missing array \"shape\"", label, name);
    if (!json_is_array(jo)) return lrp_fail(err, "%s: tensor \"%s\": missing array \"data_offsets\"", label, name);

    size_t esize;
    if (dtype_from_name(json_string_value(jd), &t->dtype, &esize) != 0)
        return lrp_fail(err, "%s: tensor \"%s\": unsupported dtype \"%s\" (supported: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL)", label,
                        name, json_string_value(jd));

    size_t ndim = json_array_size(js);
    if (ndim > LRP_MAX_DIMS)
        return lrp_fail(err, "%s: tensor \"%s\": shape has %zu dimensions, at most %d are supported", label, name,
                        ndim, LRP_MAX_DIMS);
    t->ndim = (int)ndim;
    uint64_t numel = 1;
    int overflow = 0;
    for (size_t i = 0; i < ndim; i++) {
        uint64_t d;
        if (json_u64(json_array_get(js, i), &d) != 0)
            return lrp_fail(err, "%s: tensor \"%s\": shape entry %zu is not a non-negative integer", label, name, i);
        t->shape[i] = (int64_t)d;
        overflow |= __builtin_mul_overflow(numel, d, &numel);
    }
    uint64_t need;
    overflow |= __builtin_mul_overflow(numel, (uint64_t)esize, &need);
    if (overflow || numel > (uint64_t)INT64_MAX)
        return lrp_fail(err, "%s: tensor \"%s\": shape is too large (element count overflows)", label, name);

    if (json_array_size(jo) != 2 || json_u64(json_array_get(jo, 0), &off[0]) != 0 ||
        json_u64(json_array_get(jo, 1), &off[1]) != 0)
        return lrp_fail(err, "%s: tensor \"%s\": data_offsets must be two non-negative integers [begin, end]",
                        label, name);
    if (off[0] > off[1])
        return lrp_fail(err, "%s: tensor \"%s\": data_offsets [%llu, %llu] end before they begin", label, name,
                        (unsigned long long)off[0], (unsigned long long)off[1]);
    if (off[1] > data_size)
        return lrp_fail(err, "%s: tensor \"%s\": data_offsets [%llu, %llu] past the end of the data section "
                        "(%llu bytes)", label, name, (unsigned long long)off[0], (unsigned long long)off[1],
                        (unsigned long long)data_size);
    if (off[1] - off[0] != need) {
        char shape[128];
        format_shape(t, shape, sizeof shape);
        return lrp_fail(err, "%s: tensor \"%s\": data_offsets [%llu, %llu] hold %llu bytes, but %s shape %s "
                        "needs %llu", label, name, (unsigned long long)off[0], (unsigned long long)off[1],
                        (unsigned long long)(off[1] - off[0]), dtype_label(t->dtype), shape,
                        (unsigned long long)need);
    }
    t->nbytes = (size_t)need;
    return 0;
}

typedef struct span {
    uint64_t begin, end;
    int tensor;  // index into tf->tensors
} span;

static int compare_spans(const void *a, const void *b) {
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

// The tensors of one file, sorted by offset, must tile its data section exactly: each starts where
// the previous one ends, the first at 0, the last at the end of the data section (the safetensors
// crate's Metadata::validate and its buffer-length check). Ranges are printed half-open.
static int check_tiling(loader *L, const char *label, span *sp, int n, uint64_t data_size, lrp_err *err) {
    qsort(sp, (size_t)n, sizeof *sp, compare_spans);
    uint64_t expected = 0;
    for (int i = 0; i < n; i++) {
        const char *name = L->tf->tensors[sp[i].tensor].name;
        unsigned long long b = sp[i].begin, e = sp[i].end;
        const span *p = i ? &sp[i - 1] : NULL;
        const char *pname = p ? L->tf->tensors[p->tensor].name : NULL;
        if (sp[i].begin < expected)  // sorted, so the previous tensor (ending at `expected`) is the one
            return lrp_fail(err, "%s: tensors \"%s\" [%llu, %llu) and \"%s\" [%llu, %llu) overlap", label, pname,
                            (unsigned long long)p->begin, (unsigned long long)p->end, name, b, e);
        if (sp[i].begin > expected) {
            unsigned long long gap = b - expected;
            if (!p)
                return lrp_fail(err, "%s: the tensors leave a gap of %llu bytes at the start of the data section, "
                                "before \"%s\" [%llu, %llu)", label, gap, name, b, e);
            return lrp_fail(err, "%s: the tensors leave a gap of %llu bytes after \"%s\" [%llu, %llu), before \"%s\" "
                            "[%llu, %llu)", label, gap, pname, (unsigned long long)p->begin,
                            (unsigned long long)p->end, name, b, e);
        }
        expected = sp[i].end;
    }
    if (expected != data_size) {  // only longer: offsets past the end were rejected per tensor
        unsigned long long extra = data_size - expected;
        if (!n)
            return lrp_fail(err, "%s: the data section is %llu bytes but the file holds no tensors", label,
                            (unsigned long long)data_size);
        const span *p = &sp[n - 1];
        return lrp_fail(err, "%s: the data section is %llu bytes longer than the tensors: bytes [%llu, %llu) after "
                        "\"%s\" [%llu, %llu) belong to no tensor", label, extra, (unsigned long long)expected,
                        (unsigned long long)data_size, L->tf->tensors[p->tensor].name, (unsigned long long)p->begin,
                        (unsigned long long)p->end);
    }
    return 0;
}

// Appends a mapping (addr, len) labelled label; returns its index or -1. A mapping that is not borrowed
// is unmapped on failure here and by lrp_tf_close later.
static int add_mapping(loader *L, const char *label, void *addr, size_t len, int borrowed, lrp_err *err) {
    lrp_tensor_file *tf = L->tf;
    char *lab = NULL;
    if (tf->n_maps == L->cap_maps) {
        int cap = L->cap_maps ? 2 * L->cap_maps : 4;
        lrp_mapping *nm = realloc(tf->maps, (size_t)cap * sizeof *nm);
        if (!nm) goto oom;
        tf->maps = nm;
        char **nl = realloc(L->labels, (size_t)cap * sizeof *nl);
        if (!nl) goto oom;
        L->labels = nl;
        L->cap_maps = cap;
    }
    if (!(lab = strdup(label))) goto oom;
    int idx = tf->n_maps++;
    tf->maps[idx] = (lrp_mapping){addr, len, borrowed};
    L->labels[idx] = lab;
    return idx;
oom:
    if (!borrowed) munmap(addr, len);
    return lrp_fail(err, "%s: out of memory", label);
}

// Maps the file and appends the mapping; returns its index or -1.
static int map_file(loader *L, const char *path, const char *label, lrp_err *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return lrp_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return lrp_fail(err, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size <= 8) {
        close(fd);
        return lrp_fail(err, "%s: truncated (%lld bytes, need at least 8 + header)", label, (long long)st.st_size);
    }
    void *addr = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (addr == MAP_FAILED)
        return lrp_fail(err, "%s: cannot map %lld bytes: %s", label, (long long)st.st_size, strerror(errno));
    return add_mapping(L, label, addr, (size_t)st.st_size, 0, err);
}

// Adds aliases for names that safetensors' save_model dropped as duplicates: __metadata__ maps a
// removed name to the kept one. A key that is itself a tensor, or a value that is not, is ordinary
// metadata ("format": "pt") and is ignored.
static int add_aliases(loader *L, const json_t *meta, int first, int origin, lrp_err *err) {
    const char *key;
    const json_t *v;
    int n_file = L->tf->n_tensors - first;
    json_object_foreach((json_t *)meta, key, v) {
        const char *target = json_string_value(v);
        int found = -1, exists = 0;
        for (int i = first; i < first + n_file; i++) {
            if (strcmp(L->tf->tensors[i].name, key) == 0) exists = 1;
            if (strcmp(L->tf->tensors[i].name, target) == 0) found = i;
        }
        if (exists || found < 0) continue;
        lrp_tensor alias = L->tf->tensors[found];
        alias.name = strdup(key);
        if (!alias.name) return lrp_fail(err, "%s: out of memory", L->labels[origin]);
        if (loader_add_tensor(L, &alias, origin, 1, err) != 0) return -1;
    }
    return 0;
}

static int load_mapped(loader *L, int m, const char *label, lrp_err *err);

// Maps one .safetensors file, validates its header and appends its tensors.
static int load_file(loader *L, const char *path, const char *label, lrp_err *err) {
    int m = map_file(L, path, label, err);
    return m < 0 ? -1 : load_mapped(L, m, label, err);
}

// Validates the header of mapping m and appends its tensors.
static int load_mapped(loader *L, int m, const char *label, lrp_err *err) {
    const unsigned char *base = L->tf->maps[m].addr;
    uint64_t size = L->tf->maps[m].len;

    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | base[i];
    if (n > size - 8)
        return lrp_fail(err, "%s: header length %llu exceeds file size %llu", label, (unsigned long long)n,
                        (unsigned long long)size);
    if (n > ST_MAX_HEADER)
        return lrp_fail(err, "%s: header length %llu exceeds the limit of %llu bytes", label, (unsigned long long)n,
                        ST_MAX_HEADER);
    if (n < 2 || base[8] != '{')
        return lrp_fail(err, "%s: header does not start with '{' (not a safetensors file?)", label);

    json_error_t jerr;
    json_t *root = json_loadb((const char *)base + 8, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (json_error_code(&jerr) == json_error_duplicate_key)
            return lrp_fail(err, "%s: duplicate tensor name in header (%s, line %d, column %d)", label, jerr.text,
                            jerr.line, jerr.column);
        return lrp_fail(err, "%s: header is not valid JSON: %s (line %d, column %d)", label, jerr.text, jerr.line,
                        jerr.column);
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return lrp_fail(err, "%s: header is not a JSON object", label);
    }

    uint64_t data_size = size - 8 - n;
    const unsigned char *data = base + 8 + n;
    size_t n_entries = json_object_size(root);
    span *sp = malloc((n_entries ? n_entries : 1) * sizeof *sp);
    if (!sp) {
        json_decref(root);
        return lrp_fail(err, "%s: out of memory", label);
    }
    int first = L->tf->n_tensors, n_sp = 0, rc = 0;
    const json_t *meta = NULL;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "__metadata__") == 0) {
            const char *mk;
            json_t *mv;
            if (!json_is_object(v)) {
                rc = lrp_fail(err, "%s: __metadata__ is not a JSON object", label);
                break;
            }
            json_object_foreach(v, mk, mv) {
                if (!json_is_string(mv)) {
                    rc = lrp_fail(err, "%s: __metadata__ value of \"%s\" is not a string", label, mk);
                    break;
                }
            }
            if (rc) break;
            meta = v;
            continue;
        }
        lrp_tensor t = {0};
        uint64_t off[2] = {0, 0};
        if (parse_tensor_entry(label, key, v, data_size, &t, off, err) != 0) {
            rc = -1;
            break;
        }
        t.data = data + off[0];
        t.name = strdup(key);
        if (!t.name) {
            rc = lrp_fail(err, "%s: out of memory", label);
            break;
        }
        if (loader_add_tensor(L, &t, m, 0, err) != 0) {
            rc = -1;
            break;
        }
        sp[n_sp++] = (span){off[0], off[1], L->tf->n_tensors - 1};
    }
    if (rc == 0) rc = check_tiling(L, label, sp, n_sp, data_size, err);
    if (rc == 0 && meta) rc = add_aliases(L, meta, first, m, err);
    free(sp);
    json_decref(root);
    return rc;
}

typedef struct sorted_entry {
    lrp_tensor t;
    int origin;
    char is_alias;
} sorted_entry;

static int compare_entries(const void *a, const void *b) {
    const sorted_entry *x = a, *y = b;
    int c = strcmp(x->t.name, y->t.name);
    if (c) return c;
    if (x->is_alias != y->is_alias) return x->is_alias - y->is_alias;  // stored tensors before aliases
    return x->origin - y->origin;
}

// Sorts the tensors by name (keeping origin and is_alias in step) and rejects duplicate names across
// files. An alias that collides with a stored tensor is dropped: the stored tensor wins.
static int loader_finish(loader *L, lrp_err *err) {
    lrp_tensor_file *tf = L->tf;
    int n = tf->n_tensors;
    if (n == 0) return 0;
    sorted_entry *e = malloc((size_t)n * sizeof *e);
    if (!e) return lrp_fail(err, "%s: out of memory", L->labels[0]);
    for (int i = 0; i < n; i++) e[i] = (sorted_entry){tf->tensors[i], L->origin[i], L->is_alias[i]};
    qsort(e, (size_t)n, sizeof *e, compare_entries);
    int k = 0, rc = 0;
    for (int i = 0; i < n; i++) {
        if (k > 0 && strcmp(e[i].t.name, tf->tensors[k - 1].name) == 0) {
            if (e[i].is_alias) {
                free(e[i].t.name);
                continue;
            }
            if (rc == 0)
                rc = lrp_fail(err, "duplicate tensor \"%s\" in %s and %s", e[i].t.name, L->labels[L->origin[k - 1]],
                              L->labels[e[i].origin]);
        }
        tf->tensors[k] = e[i].t;
        L->origin[k] = e[i].origin;
        L->is_alias[k] = e[i].is_alias;
        k++;
    }
    tf->n_tensors = k;
    free(e);
    return rc;
}

static int open_single(loader *L, const char *path, lrp_err *err) {
    if (load_file(L, path, base_name(path), err) != 0) return -1;
    return loader_finish(L, err);
}

// A shard name from weight_map is a path relative to the index's directory; absolute paths and ".."
// are refused so that an index cannot point outside the checkpoint.
static int shard_name_ok(const char *s) {
    if (!s[0] || s[0] == '/') return 0;
    for (const char *p = s; *p; p++) {
        if (p[0] == '.' && p[1] == '.' && (p == s || p[-1] == '/') && (p[2] == '/' || p[2] == 0)) return 0;
    }
    return 1;
}

static int open_index(loader *L, const char *index_path, lrp_err *err) {
    const char *label = base_name(index_path);
    struct stat st;
    if (stat(index_path, &st) != 0) return lrp_fail(err, "%s: cannot open: %s", index_path, strerror(errno));
    if (st.st_size > (off_t)ST_MAX_INDEX)
        return lrp_fail(err, "%s: %lld bytes is too large for an index", label, (long long)st.st_size);
    json_error_t jerr;
    json_t *root = json_load_file(index_path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return lrp_fail(err, "%s: not valid JSON: %s (line %d, column %d)", label, jerr.text, jerr.line, jerr.column);

    char *dir = NULL;
    const char **shards = NULL;
    int n_shards = 0, rc = 0;
    json_t *wm = json_is_object(root) ? json_object_get(root, "weight_map") : NULL;
    if (!json_is_object(wm)) {
        rc = lrp_fail(err, "%s: missing \"weight_map\" object", label);
        goto done;
    }
    if (json_object_size(wm) == 0) {
        rc = lrp_fail(err, "%s: \"weight_map\" is empty", label);
        goto done;
    }
    size_t dlen = (size_t)(label - index_path);
    dir = malloc(dlen + 2);
    shards = malloc(json_object_size(wm) * sizeof *shards);
    if (!dir || !shards) {
        rc = lrp_fail(err, "%s: out of memory", label);
        goto done;
    }
    if (dlen) memcpy(dir, index_path, dlen);
    else dir[dlen++] = '.';
    dir[dlen] = 0;

    // The distinct shards, in order of first mention.
    const char *key;
    json_t *v;
    json_object_foreach(wm, key, v) {
        const char *s = json_string_value(v);
        if (!s || !shard_name_ok(s)) {
            rc = lrp_fail(err, "%s: weight_map entry \"%s\" is not a relative file name", label, key);
            goto done;
        }
        int seen = 0;
        for (int i = n_shards - 1; i >= 0 && !seen; i--) seen = strcmp(shards[i], s) == 0;
        if (!seen) {
            char *p = join_path(dir, s);
            if (!p) {
                rc = lrp_fail(err, "%s: out of memory", label);
                goto done;
            }
            int missing = access(p, R_OK) != 0;
            int e = errno;
            free(p);
            if (missing) {
                rc = lrp_fail(err, "%s: shard \"%s\" (listed for tensor \"%s\") cannot be read: %s", label, s, key,
                              strerror(e));
                goto done;
            }
            shards[n_shards++] = s;
        }
    }
    for (int i = 0; i < n_shards; i++) {
        char *p = join_path(dir, shards[i]);
        if (!p) {
            rc = lrp_fail(err, "%s: out of memory", label);
            goto done;
        }
        rc = load_file(L, p, shards[i], err);
        free(p);
        if (rc) goto done;
    }
    if ((rc = loader_finish(L, err)) != 0) goto done;

    // Every listed tensor must be stored in the shard that the index names.
    json_object_foreach(wm, key, v) {
        const char *s = json_string_value(v);
        const lrp_tensor *t = lrp_tf_find(L->tf, key);
        if (!t) {
            rc = lrp_fail(err, "%s: tensor \"%s\" is listed in shard \"%s\" but not found there", label, key, s);
            goto done;
        }
        const char *holder = L->labels[L->origin[t - L->tf->tensors]];
        if (strcmp(holder, s) != 0) {
            rc = lrp_fail(err, "%s: tensor \"%s\" is listed in shard \"%s\" but found in \"%s\"", label, key, s,
                          holder);
            goto done;
        }
    }
done:
    free(shards);
    free(dir);
    json_decref(root);
    return rc;
}

int lrp_safetensors_open_memory(lrp_tensor_file *tf, const char *label, const void *data, size_t size,
                                lrp_err *err) {
    memset(tf, 0, sizeof *tf);
    loader L = {.tf = tf};
    int rc;
    if (size <= 8) rc = lrp_fail(err, "%s: truncated (%zu bytes, need at least 8 + header)", label, size);
    else {
        int m = add_mapping(&L, label, (void *)data, size, 1, err);
        rc = m < 0 || load_mapped(&L, m, label, err) ? -1 : loader_finish(&L, err);
    }
    loader_free(&L);
    if (rc != 0) lrp_tf_close(tf);
    return rc;
}

int lrp_safetensors_open(lrp_tensor_file *tf, const char *path, lrp_err *err) {
    memset(tf, 0, sizeof *tf);
    loader L = {.tf = tf};
    struct stat st;
    int rc;
    if (stat(path, &st) != 0) return lrp_fail(err, "%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        char *single = join_path(path, "model.safetensors");
        char *index = join_path(path, "model.safetensors.index.json");
        if (!single || !index) rc = lrp_fail(err, "%s: out of memory", path);
        else if (access(single, F_OK) == 0) rc = open_single(&L, single, err);
        else if (access(index, F_OK) == 0) rc = open_index(&L, index, err);
        else rc = lrp_fail(err, "%s: no model.safetensors or model.safetensors.index.json", path);
        free(single);
        free(index);
    } else if (ends_with(path, ".index.json")) {
        rc = open_index(&L, path, err);
    } else {
        rc = open_single(&L, path, err);
    }
    loader_free(&L);
    if (rc != 0) lrp_tf_close(tf);
    return rc;
}

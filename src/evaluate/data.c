#include "evaluate/data.h"

#include <dirent.h>
#include <strings.h>

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---- the file ----

void lrp_eval_data_free(lrp_eval_data *d) {
    free(d->buf);
    free(d->lines);
    free(d->line_len);
    free(d->line_no);
    memset(d, 0, sizeof *d);
}

int lrp_eval_data_read(lrp_eval_data *d, const char *path, lrp_err *err) {
    memset(d, 0, sizeof *d);
    FILE *f = fopen(path, "rb");
    if (!f) return lrp_fail(err, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16;
    d->buf = malloc(cap);
    while (d->buf) {
        d->len += fread(d->buf + d->len, 1, cap - 1 - d->len, f);
        if (d->len < cap - 1) break;
        if (cap > ((size_t)1 << 40)) {   // 1 TiB: refuse rather than read part of it
            fclose(f);
            lrp_eval_data_free(d);
            return lrp_fail(err, "%s: file too large", path);
        }
        char *nb = realloc(d->buf, cap * 2);
        if (!nb) {
            free(d->buf);
            d->buf = NULL;
            break;
        }
        d->buf = nb;
        cap *= 2;
    }
    int bad = ferror(f), read_errno = errno;
    fclose(f);
    if (!d->buf) return lrp_fail(err, "%s: out of memory", path);
    if (bad) {
        lrp_eval_data_free(d);
        return lrp_fail(err, "%s: cannot read: %s", path, strerror(read_errno));
    }
    d->buf[d->len] = '\0';
    size_t n_lines = 1;
    for (size_t i = 0; i < d->len; i++) n_lines += d->buf[i] == '\n';
    if (n_lines > (size_t)1 << 30) {
        lrp_eval_data_free(d);
        return lrp_fail(err, "%s: too many lines", path);
    }
    d->lines = malloc(n_lines * sizeof *d->lines);
    d->line_no = malloc(n_lines * sizeof *d->line_no);
    d->line_len = malloc(n_lines * sizeof *d->line_len);
    if (!d->lines || !d->line_no || !d->line_len) {
        lrp_eval_data_free(d);
        return lrp_fail(err, "%s: out of memory", path);
    }
    char *p = d->buf;
    for (int no = 1; p <= d->buf + d->len; no++) {
        char *nl = memchr(p, '\n', (size_t)(d->buf + d->len - p));
        char *end = nl ? nl : d->buf + d->len;
        *end = '\0';
        if (end > p && end[-1] == '\r') *--end = '\0';   // CRLF files
        int blank = 1;
        for (char *q = p; q < end && blank; q++) blank = *q == ' ' || *q == '\t';
        if (!blank) {
            d->lines[d->n] = p;
            d->line_len[d->n] = (size_t)(end - p);
            d->line_no[d->n++] = no;
        }
        if (!nl) break;
        p = nl + 1;
    }
    return 0;
}

// ---- a folder of images ----

static int is_image_name(const char *name) {
    const char *dot = strrchr(name, '.');
    if (!dot || name[0] == '.') return 0;
    return !strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".npy");
}

static int compare_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int lrp_eval_data_from_dir(lrp_eval_data *d, const char *dir, lrp_err *err) {
    memset(d, 0, sizeof *d);
    DIR *dp = opendir(dir);
    if (!dp) return lrp_fail(err, "%s: cannot open: %s", dir, strerror(errno));
    char **names = NULL;
    int n = 0, cap = 0, rc = -1;
    for (struct dirent *de; (de = readdir(dp));) {
        if (!is_image_name(de->d_name)) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nn = realloc(names, (size_t)cap * sizeof *nn);
            if (!nn) goto oom;
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name))) goto oom;
        n++;
    }
    qsort(names, (size_t)n, sizeof *names, compare_names);
    // One record line per image, {"image": "DIR/NAME"}, written by jansson (names may need escaping).
    size_t total = 0;
    char **lines = calloc((size_t)(n ? n : 1), sizeof *lines);
    if (!lines) goto oom;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(dir) + strlen(names[i]) + 2;
        char *path = malloc(len);
        if (!path) goto oom_lines;
        snprintf(path, len, "%s/%s", dir, names[i]);
        json_t *o = json_pack("{s:s}", "image", path);
        free(path);
        lines[i] = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (!lines[i]) goto oom_lines;
        total += strlen(lines[i]) + 1;
    }
    d->buf = malloc(total + 1);
    d->lines = malloc((size_t)(n ? n : 1) * sizeof *d->lines);
    d->line_len = malloc((size_t)(n ? n : 1) * sizeof *d->line_len);
    d->line_no = malloc((size_t)(n ? n : 1) * sizeof *d->line_no);
    if (!d->buf || !d->lines || !d->line_len || !d->line_no) goto oom_lines;
    char *p = d->buf;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(lines[i]);
        memcpy(p, lines[i], len + 1);
        d->lines[i] = p;
        d->line_len[i] = len;
        d->line_no[i] = i + 1;   // the image's rank in name order
        p += len + 1;
    }
    d->len = total;
    d->n = n;
    rc = 0;
oom_lines:
    for (int i = 0; i < n; i++) free(lines[i]);
    free(lines);
    if (rc) goto oom;
    goto done;
oom:
    lrp_eval_data_free(d);
    lrp_fail(err, "%s: out of memory", dir);
done:
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    closedir(dp);
    return rc;
}

// ---- records ----

void lrp_eval_record_free(lrp_eval_record *r) {
    free(r->image);
    free(r->text);
    free(r->target);
    free(r->text_pair);
    memset(r, 0, sizeof *r);
}

// Code points of valid UTF-8 (jansson has checked it): the bytes that do not continue a sequence.
static int count_code_points(const char *s, size_t len) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += ((unsigned char)s[i] & 0xc0) != 0x80;
    return n > (size_t)INT32_MAX ? -1 : (int)n;
}

static char *dup_bytes(const char *s, size_t len) {
    char *d = malloc(len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

static const char *json_kind(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

// An image record: {"image": path, "label": class name (or "target")}.
static int parse_image(const json_t *root, lrp_eval_record *r, lrp_err *err) {
    const json_t *image = json_object_get(root, "image");
    if (!json_is_string(image)) return lrp_fail(err, "\"image\" must be a string (a file path), not %s", json_kind(image));
    if (json_string_length(image) == 0) return lrp_fail(err, "\"image\" is empty");
    if (json_object_get(root, "text")) return lrp_fail(err, "a record has \"image\" or \"text\", not both");
    if (!(r->image = dup_bytes(json_string_value(image), json_string_length(image)))) return lrp_fail(err, "out of memory");
    const char *field = json_object_get(root, "label") ? "label" : "target";
    const json_t *label = json_object_get(root, field);
    if (label && !json_is_null(label)) {
        if (!json_is_string(label)) return lrp_fail(err, "\"%s\" must be a string, not %s", field, json_kind(label));
        if (json_string_length(label) == 0) return lrp_fail(err, "\"%s\" is empty", field);
        r->target = dup_bytes(json_string_value(label), json_string_length(label));
        if (!r->target) return lrp_fail(err, "out of memory");
    }
    return 0;
}

static int parse_fields(const json_t *root, const char *span_field, lrp_eval_record *r, lrp_err *err) {
    if (!json_is_object(root)) return lrp_fail(err, "a record must be a JSON object, not %s", json_kind(root));
    if (json_object_get(root, "image")) return parse_image(root, r, err);
    const json_t *text = json_object_get(root, "text");
    if (!text) return lrp_fail(err, "no \"text\" field");
    if (!json_is_string(text)) return lrp_fail(err, "\"text\" must be a string, not %s", json_kind(text));
    size_t len = json_string_length(text);
    if (len == 0) return lrp_fail(err, "\"text\" is empty");
    r->text = dup_bytes(json_string_value(text), len);
    if (!r->text) return lrp_fail(err, "out of memory");
    r->text_len = len;
    r->n_chars = count_code_points(r->text, len);
    if (r->n_chars < 0) return lrp_fail(err, "\"text\" is too long");

    const json_t *pair = json_object_get(root, "text_pair");
    if (pair && !json_is_null(pair)) {
        if (!json_is_string(pair)) return lrp_fail(err, "\"text_pair\" must be a string, not %s", json_kind(pair));
        r->pair_len = json_string_length(pair);
        r->text_pair = dup_bytes(json_string_value(pair), r->pair_len);
        if (!r->text_pair) return lrp_fail(err, "out of memory");
    }

    const json_t *target = json_object_get(root, "target");
    if (target && !json_is_null(target)) {
        if (!json_is_string(target)) return lrp_fail(err, "\"target\" must be a string, not %s", json_kind(target));
        if (json_string_length(target) == 0) return lrp_fail(err, "\"target\" is empty");
        r->target = dup_bytes(json_string_value(target), json_string_length(target));
        if (!r->target) return lrp_fail(err, "out of memory");
    }

    const char *sf = span_field ? span_field : "span";
    const json_t *span = json_object_get(root, sf);
    if (span && !json_is_null(span)) {
        if (!json_is_array(span) || json_array_size(span) != 2 || !json_is_integer(json_array_get(span, 0)) ||
            !json_is_integer(json_array_get(span, 1)))
            return lrp_fail(err, "\"%s\" must be a pair of integers [start, end]", sf);
        json_int_t a = json_integer_value(json_array_get(span, 0)), b = json_integer_value(json_array_get(span, 1));
        if (a < 0 || b > r->n_chars || a >= b)
            return lrp_fail(err, "\"%s\" [%lld, %lld] is not a non-empty range within the text's %d characters", sf,
                            (long long)a, (long long)b, r->n_chars);
        r->has_span = 1;
        r->span[0] = (int)a;
        r->span[1] = (int)b;
    }
    return 0;
}

int lrp_eval_parse_record(const char *line, size_t len, const char *span_field, lrp_eval_record *r, lrp_err *err) {
    memset(r, 0, sizeof *r);
    json_error_t je;
    // Default flags: \u0000 inside strings and trailing garbage are errors; invalid UTF-8 is rejected.
    json_t *root = json_loadb(line, len, 0, &je);
    if (!root) return lrp_fail(err, "invalid JSON at column %d: %s", je.column, je.text);
    int rc = parse_fields(root, span_field, r, err);
    json_decref(root);
    if (rc) lrp_eval_record_free(r);
    return rc;
}


void lrp_eval_data_shard(lrp_eval_data *d, int k, int n) {
    int kept = 0;
    for (int i = k; n > 0 && i < d->n; i += n, kept++) {
        d->lines[kept] = d->lines[i];
        d->line_len[kept] = d->line_len[i];
        d->line_no[kept] = d->line_no[i];
    }
    d->n = kept;
}

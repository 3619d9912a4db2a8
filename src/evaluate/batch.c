#include "evaluate/batch.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/sha256.h"

int lrp_shard_parse(const char *s, int *k, int *n, lrp_err *err) {
    char *end;
    errno = 0;
    long a = strtol(s, &end, 10), b = -1;
    if (end != s && *end == '/' && s[0] >= '0' && s[0] <= '9') {
        const char *q = end + 1;
        if (*q >= '0' && *q <= '9') b = strtol(q, &end, 10);
        else end = (char *)q;
    }
    if (b < 0 || *end || errno)
        return lrp_fail(err, "shard %s: expected K/N (shard K of N, 0 <= K < N, e.g. 0/4)", s);
    if (b < 1 || b > INT_MAX) return lrp_fail(err, "shard %s: N must be at least 1", s);
    if (a >= b) return lrp_fail(err, "shard %s: K must be less than N (shards are numbered 0 to %ld)", s, b - 1);
    *k = (int)a;
    *n = (int)b;
    return 0;
}

void lrp_batch_header_free(lrp_batch_header *h) {
    free(h->options);
    free(h->input);
    h->options = h->input = NULL;
}

char *lrp_batch_record_id(const json_t *rec, long index, lrp_err *err) {
    const json_t *id = json_is_object(rec) ? json_object_get(rec, "id") : NULL;
    if (!id) {
        char buf[32];
        snprintf(buf, sizeof buf, "%ld", index);
        char *s = strdup(buf);
        if (!s) lrp_fail(err, "out of memory");
        return s;
    }
    if (!json_is_string(id) && !json_is_integer(id)) {
        lrp_fail(err, "id: expected a string or an integer");
        return NULL;
    }
    char *s = json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!s) lrp_fail(err, "out of memory");
    return s;
}

int lrp_batch_next_record(FILE *in, char **line, size_t *cap, size_t *len, long *line_no) {
    for (;;) {
        errno = 0;
        ssize_t n = getline(line, cap, in);
        if (n < 0) return ferror(in) ? -1 : 0;
        ++*line_no;
        while (n > 0 && ((*line)[n - 1] == '\n' || (*line)[n - 1] == '\r')) (*line)[--n] = '\0';
        int blank = 1;
        for (ssize_t i = 0; i < n && blank; i++) blank = (*line)[i] == ' ' || (*line)[i] == '\t';
        if (blank) continue;
        *len = (size_t)n;
        return 1;
    }
}

// ---- ids seen (duplicate check): open addressing over malloc'ed id texts ----

typedef struct {
    char **id;
    long *line;
    size_t cap, n;
} id_set;

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void id_set_free(id_set *s) {
    for (size_t i = 0; i < s->cap; i++) free(s->id[i]);
    free(s->id);
    free(s->line);
    memset(s, 0, sizeof *s);
}

// Inserts id (taking it over); 0, the line of the earlier record with that id (> 0), or -1 out of memory.
static long id_set_add(id_set *s, char *id, long line) {
    if (2 * (s->n + 1) > s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 1024;
        id_set g = {calloc(cap, sizeof(char *)), calloc(cap, sizeof(long)), cap, 0};
        if (!g.id || !g.line) {
            free(g.id), free(g.line), free(id);
            return -1;
        }
        for (size_t i = 0; i < s->cap; i++)
            if (s->id[i]) {
                size_t j = hash_str(s->id[i]) & (cap - 1);
                while (g.id[j]) j = (j + 1) & (cap - 1);
                g.id[j] = s->id[i], g.line[j] = s->line[i], g.n++;
            }
        free(s->id), free(s->line);
        *s = g;
    }
    size_t j = hash_str(id) & (s->cap - 1);
    for (; s->id[j]; j = (j + 1) & (s->cap - 1))
        if (!strcmp(s->id[j], id)) {
            free(id);
            return s->line[j];
        }
    s->id[j] = id, s->line[j] = line, s->n++;
    return 0;
}

int lrp_batch_scan_input(const char *path, lrp_batch_header *h, lrp_err *err) {
    memset(h, 0, sizeof *h);
    FILE *f = fopen(path, "rb");
    if (!f) return lrp_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {   // a pipe cannot be read a second time
        fclose(f);
        return lrp_fail(err, "%s: not a regular file (batch reads its input twice: for its sha256, then the records)",
                        path);
    }
    lrp_sha256 sha;
    lrp_sha256_init(&sha);
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) lrp_sha256_update(&sha, buf, n);
    if (ferror(f)) {
        int e = errno;
        fclose(f);
        return lrp_fail(err, "%s: cannot read: %s", path, strerror(e));
    }
    lrp_sha256_hex(&sha, h->sha256);
    rewind(f);
    char *line = NULL;
    size_t cap = 0, len;
    long line_no = 0;
    id_set ids = {0};
    int r, rc = 0;
    while ((r = lrp_batch_next_record(f, &line, &cap, &len, &line_no)) == 1) {
        json_t *rec = json_loadb(line, len, 0, NULL);
        if (rec) {
            char *id = lrp_batch_record_id(rec, h->records, NULL);
            json_decref(rec);
            long first = id ? id_set_add(&ids, id, line_no) : 0;
            if (first < 0) {
                rc = lrp_fail(err, "%s: out of memory", path);
                break;
            }
            if (first > 0) {  // id_set_add freed id: read it again for the message
                rec = json_loadb(line, len, 0, NULL);
                char *again = lrp_batch_record_id(rec, h->records, NULL);
                json_decref(rec);
                rc = lrp_fail(err, "%s line %ld: duplicate id %s (first at line %ld)", path, line_no,
                              again ? again : "?", first);
                free(again);
                break;
            }
        }
        h->records++;
    }
    if (r < 0 && !rc) rc = lrp_fail(err, "%s: cannot read: %s", path, strerror(errno));
    free(line);
    id_set_free(&ids);
    fclose(f);
    if (!rc && !(h->input = strdup(path))) rc = lrp_fail(err, "out of memory");
    return rc;
}

// ---- the output file ----

static char *header_line(const lrp_batch_header *h) {
    json_t *opts = json_loads(h->options ? h->options : "[]", 0, NULL);
    json_t *o = json_pack("{s:i, s:s, s:s, s:I, s:[i,i], s:o}", "attnlrp_batch", 1, "input", h->input ? h->input : "",
                          "sha256", h->sha256, "records", (json_int_t)h->records, "shard", h->shard_k, h->shard_n,
                          "options", opts ? opts : json_array());
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    return s;
}

// Parses a header line into h (options and input malloc'ed); -1 when it is not one.
static int parse_header(const char *line, size_t len, lrp_batch_header *h) {
    memset(h, 0, sizeof *h);
    json_t *o = json_loadb(line, len, 0, NULL), *sh = json_object_get(o, "shard");
    const char *sha = json_string_value(json_object_get(o, "sha256"));
    int rc = -1;
    if (json_integer_value(json_object_get(o, "attnlrp_batch")) == 1 && sha && strlen(sha) == 64 &&
        json_is_integer(json_object_get(o, "records")) && json_array_size(sh) == 2 &&
        json_is_array(json_object_get(o, "options"))) {
        memcpy(h->sha256, sha, 65);
        h->records = (long)json_integer_value(json_object_get(o, "records"));
        h->shard_k = (int)json_integer_value(json_array_get(sh, 0));
        h->shard_n = (int)json_integer_value(json_array_get(sh, 1));
        h->options = json_dumps(json_object_get(o, "options"), JSON_COMPACT);
        const char *in = json_string_value(json_object_get(o, "input"));
        h->input = strdup(in ? in : "");
        rc = h->options && h->input ? 0 : -1;
    }
    json_decref(o);
    if (rc) lrp_batch_header_free(h);
    return rc;
}

// Why an output written with `had` cannot continue a run with `want` (NULL: it can).
static const char *header_mismatch(const lrp_batch_header *had, const lrp_batch_header *want) {
    if (strcmp(had->sha256, want->sha256) || had->records != want->records)
        return "belongs to another input file (its sha256 differs)";
    if (had->shard_k != want->shard_k || had->shard_n != want->shard_n) return "was written for another --shard";
    if (strcmp(had->options, want->options)) return "was written with other explain options or --drop";
    return NULL;
}

int lrp_batch_open_output(const char *path, const lrp_batch_header *h, unsigned char *done, long *n_done,
                          int *repaired, FILE **out, lrp_err *err) {
    *n_done = 0;
    *repaired = 0;
    *out = NULL;
    FILE *f = fopen(path, "r+b");
    if (!f && errno == ENOENT) f = fopen(path, "w+b");
    if (!f) return lrp_fail(err, "%s: cannot open: %s", path, strerror(errno));
    if (flock(fileno(f), LOCK_EX | LOCK_NB)) {   // held until the run closes it
        int e = errno;
        fclose(f);
        return e == EWOULDBLOCK ? lrp_fail(err, "%s: another run is writing it (locked)", path)
                                : lrp_fail(err, "%s: cannot lock: %s", path, strerror(e));
    }
    char *line = NULL;
    size_t cap = 0;
    long keep = 0;   // bytes of complete, checked lines
    long line_no = 0;
    int rc = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        line_no++;
        if (line[n - 1] != '\n') {   // torn: cut off below
            *repaired = 1;
            break;
        }
        if (line_no == 1) {
            lrp_batch_header had;
            if (parse_header(line, (size_t)n - 1, &had)) {
                rc = lrp_fail(err, "%s: not an attnlrp batch output (its first line is no batch header); refusing to "
                                   "append to it", path);
                break;
            }
            const char *why = header_mismatch(&had, h);
            if (why) {
                rc = lrp_fail(err, "%s: %s (written from %s, sha256 %.12s...; now %s, sha256 %.12s...)", path, why,
                              had.input, had.sha256, h->input ? h->input : "?", h->sha256);
                lrp_batch_header_free(&had);
                break;
            }
            lrp_batch_header_free(&had);
        } else {
            json_t *o = json_loadb(line, (size_t)n - 1, 0, NULL), *ix = json_object_get(o, "index");
            long i = json_is_integer(ix) ? (long)json_integer_value(ix) : -1;
            json_decref(o);
            if (i < 0 || i >= h->records || i % h->shard_n != h->shard_k) {
                rc = lrp_fail(err, "%s line %ld: not a record line of this input and shard", path, line_no);
                break;
            }
            if (done[i]) {
                rc = lrp_fail(err, "%s line %ld: record index %ld is there twice", path, line_no, i);
                break;
            }
            done[i] = 1;
            ++*n_done;
        }
        keep += (long)n;
    }
    free(line);
    if (!rc && ferror(f)) rc = lrp_fail(err, "%s: cannot read: %s", path, strerror(errno));
    if (!rc && (*repaired || keep == 0)) {   // cut a torn line (or a torn header) off
        if (fflush(f) || ftruncate(fileno(f), keep))
            rc = lrp_fail(err, "%s: cannot truncate: %s", path, strerror(errno));
    }
    if (!rc && fseek(f, keep, SEEK_SET)) rc = lrp_fail(err, "%s: cannot seek: %s", path, strerror(errno));
    if (!rc && keep == 0) {
        char *hl = header_line(h);
        if (!hl) rc = lrp_fail(err, "out of memory");
        else if (fprintf(f, "%s\n", hl) < 0 || fflush(f))
            rc = lrp_fail(err, "%s: cannot write: %s", path, strerror(errno));
        free(hl);
    }
    if (rc) {
        fclose(f);
        return -1;
    }
    *out = f;
    return 0;
}

char *lrp_batch_format_record(const char *id_json, long index, long line_no, const char *json, const char *error) {
    char *out = NULL;
    if (json) {
        size_t n = strlen(json);
        while (n > 0 && (json[n - 1] == '\n' || json[n - 1] == ' ')) n--;
        if (asprintf(&out, "{\"id\": %s, \"index\": %ld, \"line\": %ld, \"explanation\": %.*s}\n", id_json, index,
                     line_no, (int)n, json) < 0)
            out = NULL;
        return out;
    }
    json_t *msg = json_string(error ? error : "");
    char *m = msg ? json_dumps(msg, JSON_ENCODE_ANY) : NULL;
    json_decref(msg);
    if (m && asprintf(&out, "{\"id\": %s, \"index\": %ld, \"line\": %ld, \"error\": %s}\n", id_json, index,
                      line_no, m) < 0)
        out = NULL;
    free(m);
    return out;
}

// ---- merge ----

typedef struct {
    FILE *f;
    const char *path;
    lrp_batch_header h;
    long line_no;
} shard_file;

int lrp_shard_set_check(char **paths, int n_paths, const int *k, const int *n, int *by_k, lrp_err *err) {
    int N = n[0];
    for (int i = 1; i < n_paths; i++)
        if (n[i] != N) return lrp_fail(err, "%s: has another shard count N than %s (%d, not %d)", paths[i], paths[0], n[i], N);
    for (int j = 0; j < N; j++) by_k[j] = -1;
    for (int i = 0; i < n_paths; i++) {
        if (k[i] < 0 || k[i] >= N) return lrp_fail(err, "%s: shard %d/%d is out of range", paths[i], k[i], N);
        if (by_k[k[i]] >= 0) return lrp_fail(err, "%s: shard %d/%d again (also %s)", paths[i], k[i], N, paths[by_k[k[i]]]);
        by_k[k[i]] = i;
    }
    for (int j = 0; j < N; j++)
        if (by_k[j] < 0) return lrp_fail(err, "shard %d/%d is missing (%d of %d shard files given)", j, N, n_paths, N);
    return 0;
}

int lrp_batch_merge(char **paths, int n_paths, FILE *out, lrp_err *err) {
    shard_file *s = calloc((size_t)n_paths, sizeof *s);
    int *by_k = NULL, *ks = NULL, *ns = NULL;
    char *line = NULL, *hl = NULL;
    size_t cap = 0;
    int rc = -1, N = 0;
    if (!s) return lrp_fail(err, "out of memory");
    for (int i = 0; i < n_paths; i++) {
        s[i].path = paths[i];
        if (!(s[i].f = fopen(paths[i], "rb"))) {
            lrp_fail(err, "%s: cannot open: %s", paths[i], strerror(errno));
            goto done;
        }
        ssize_t n = getline(&line, &cap, s[i].f);
        if (n <= 0 || line[n - 1] != '\n' || parse_header(line, (size_t)n - 1, &s[i].h)) {
            lrp_fail(err, "%s: not an attnlrp batch output (its first line is no batch header)", paths[i]);
            goto done;
        }
        s[i].line_no = 1;
        const char *why = i ? header_mismatch(&s[i].h, &s[0].h) : NULL;
        if (why && strstr(why, "shard")) why = s[i].h.shard_n != s[0].h.shard_n ? "has another shard count N" : NULL;
        if (why) {
            lrp_fail(err, "%s: %s than %s", paths[i],
                     strstr(why, "input") ? "comes from another input file (sha256)"
                     : strstr(why, "options") ? "was written with other options" : why, paths[0]);
            goto done;
        }
    }
    N = s[0].h.shard_n;
    ks = calloc((size_t)n_paths, sizeof *ks);
    ns = calloc((size_t)n_paths, sizeof *ns);
    by_k = malloc((size_t)N * sizeof *by_k);
    if (!ks || !ns || !by_k) {
        lrp_fail(err, "out of memory");
        goto done;
    }
    for (int i = 0; i < n_paths; i++) ks[i] = s[i].h.shard_k, ns[i] = s[i].h.shard_n;
    if (lrp_shard_set_check(paths, n_paths, ks, ns, by_k, err)) goto done;
    lrp_batch_header mh = s[0].h;
    mh.shard_k = 0;
    mh.shard_n = 1;
    if (!(hl = header_line(&mh)) || fprintf(out, "%s\n", hl) < 0) {
        lrp_fail(err, "cannot write: %s", strerror(errno));
        goto done;
    }
    for (long i = 0; i < s[0].h.records; i++) {
        shard_file *sf = &s[by_k[i % N]];
        ssize_t n = getline(&line, &cap, sf->f);
        if (n <= 0) {
            lrp_fail(err, "%s: record index %ld is missing (the file ends at line %ld; finish the shard's run first)",
                     sf->path, i, sf->line_no);
            goto done;
        }
        sf->line_no++;
        if (line[n - 1] != '\n') {
            lrp_fail(err, "%s line %ld: torn last line (re-run the shard to repair it)", sf->path, sf->line_no);
            goto done;
        }
        json_t *o = json_loadb(line, (size_t)n - 1, 0, NULL), *ix = json_object_get(o, "index");
        long got = json_is_integer(ix) ? (long)json_integer_value(ix) : -1;
        json_decref(o);
        if (got != i) {
            lrp_fail(err, got > i ? "%s line %ld: record index %ld is missing (next there: %ld)"
                                  : "%s line %ld: expected record index %ld, found %ld (duplicated or out of order)",
                     sf->path, sf->line_no, i, got);
            goto done;
        }
        if (fwrite(line, 1, (size_t)n, out) != (size_t)n) {
            lrp_fail(err, "cannot write: %s", strerror(errno));
            goto done;
        }
    }
    for (int i = 0; i < n_paths; i++) {
        ssize_t n = getline(&line, &cap, s[i].f);
        if (n > 0) {
            lrp_fail(err, "%s line %ld: more records than its shard holds", s[i].path, s[i].line_no + 1);
            goto done;
        }
    }
    rc = 0;
done:
    free(line);
    free(hl);
    free(by_k);
    free(ks);
    free(ns);
    for (int i = 0; i < n_paths; i++) {
        if (s[i].f) fclose(s[i].f);
        lrp_batch_header_free(&s[i].h);
    }
    free(s);
    return rc;
}

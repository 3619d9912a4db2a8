// attnlrp merge: the outputs of attnlrp batch, eval or scan --shard K/N joined into the output of one
// unsharded run (evaluate/batch.h checks the shard set of all three).
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "evaluate/batch.h"
#include "evaluate/runner.h"
#include "explain/methods.h"
#include "explain/scan.h"
#include "render/render.h"

static const char merge_usage[] =
    "usage: attnlrp merge OUT.0 OUT.1 ... -o OUT [--format text|json]\n"
    "\n"
    "Joins the outputs of the N shards of one run (any order) into the output one unsharded run writes.\n"
    "Every shard 0..N-1 must be given once, all from the same input (sha256) and options, and each\n"
    "complete; the output is written whole or not at all. The files say what they are:\n"
    "  attnlrp batch --shard K/N    the records in input order (JSONL, the batch header first)\n"
    "  attnlrp eval --shard K/N --format json   one report: the records of every shard pooled in input\n"
    "                               order and summarised as one run does (not an average of averages)\n"
    "  attnlrp scan --shard K/N --format json   the global top K: each shard's K windows (attributed there)\n"
    "                               ranked together as the scan ranks them; every winner of the whole\n"
    "                               corpus is among its shard's K, and its attribution is its window's\n"
    "\n"
    "  -o FILE, --output FILE  the merged output\n"
    "  --format text|json   eval: the report as a table or as JSON (default json); scan writes JSON\n"
    "  --help, -h           this help\n";

// ---- eval and scan shards: one JSON document each (--format json) ----

typedef struct {
    json_t **doc;
    int *k, *n, *by_k;
} shard_docs;

static void docs_free(shard_docs *s, int n_paths) {
    for (int i = 0; s->doc && i < n_paths; i++) json_decref(s->doc[i]);
    free(s->doc);
    free(s->k);
    free(s->n);
    free(s->by_k);
}

// Loads every shard document of kind ("attnlrp_eval", "attnlrp_scan") and checks the set: one data set
// (sha256), the same options, shards 0..N-1 once each. 0, or -1 with err.
static int load_shards(char **paths, int n_paths, const char *kind, const char *command, shard_docs *s, lrp_err *err) {
    memset(s, 0, sizeof *s);
    s->doc = calloc((size_t)n_paths, sizeof *s->doc);
    s->k = calloc((size_t)n_paths, sizeof *s->k);
    s->n = calloc((size_t)n_paths, sizeof *s->n);
    if (!s->doc || !s->k || !s->n) return lrp_fail(err, "out of memory");
    for (int i = 0; i < n_paths; i++) {
        json_error_t je;
        json_t *d = s->doc[i] = json_load_file(paths[i], 0, &je), *sh = json_object_get(d, "shard");
        if (!d) return lrp_fail(err, "%s: not JSON (%s, line %d)", paths[i], je.text, je.line);
        if (!json_is_integer(json_object_get(d, kind)))
            return lrp_fail(err, "%s: not an attnlrp %s --format json output (unlike %s)", paths[i], command, paths[0]);
        if (!json_is_string(json_object_get(d, "sha256")) || !json_is_array(sh) || json_array_size(sh) != 2)
            return lrp_fail(err, "%s: names no sha256 and shard (written by an older attnlrp?)", paths[i]);
        s->k[i] = (int)json_integer_value(json_array_get(sh, 0));
        s->n[i] = (int)json_integer_value(json_array_get(sh, 1));
        if (s->n[i] < 1) return lrp_fail(err, "%s: shard %d/%d is out of range", paths[i], s->k[i], s->n[i]);
        if (i && strcmp(json_string_value(json_object_get(d, "sha256")),
                        json_string_value(json_object_get(s->doc[0], "sha256"))))
            return lrp_fail(err, "%s: comes from another data set (sha256) than %s", paths[i], paths[0]);
        if (i && !json_equal(json_object_get(d, "options"), json_object_get(s->doc[0], "options")))
            return lrp_fail(err, "%s: was written with other options than %s", paths[i], paths[0]);
    }
    if (!(s->by_k = calloc((size_t)s->n[0], sizeof *s->by_k))) return lrp_fail(err, "out of memory");
    return lrp_shard_set_check(paths, n_paths, s->k, s->n, s->by_k, err);
}

// How many of R records (or windows) shard k of n holds: the indices i < R with i mod n = k.
static long shard_size(long R, int k, int n) { return R > k ? (R - k + n - 1) / n : 0; }

typedef struct {
    int line;
    const json_t *rec;   // a record, or NULL for a bad record
    const char *error;
} eval_item;

static int by_line(const void *a, const void *b) {
    const eval_item *x = a, *y = b;
    return (x->line > y->line) - (x->line < y->line);
}

// eval shards: every record of every shard, in input order (line numbers), into one report, its summary
// computed over all of them as one run computes it.
static int merge_eval(char **paths, int n_paths, const char *format, cli_output *o, lrp_err *err) {
    shard_docs s;
    lrp_eval_report rep = {0};
    eval_item *items = NULL;
    char **names = NULL, *options = NULL;
    int rc = -1, n_items = 0;
    if (load_shards(paths, n_paths, "attnlrp_eval", "eval", &s, err)) goto done;
    const json_t *d0 = s.doc[0], *opt = json_object_get(d0, "options"), *mn = json_object_get(opt, "methods");
    lrp_eval_opts eo;
    lrp_eval_opts_default(&eo);
    eo.n_methods = 0;
    eo.steps = (int)json_integer_value(json_object_get(d0, "steps"));
    for (size_t k = 0; k < json_array_size(mn) && eo.n_methods < LRP_EVAL_MAX_METHODS; k++)
        if (lrp_method_lookup("methods", json_string_value(json_array_get(mn, k)), 1, &eo.methods[eo.n_methods++], err))
            goto done;
    const char *task_name = json_string_value(json_object_get(d0, "task"));
    lrp_task task = LRP_TASK_CAUSAL_LM;
    for (int t = 0; t <= LRP_TASK_SEQ2SEQ_LM; t++)
        if (task_name && !strcmp(task_name, lrp_task_name((lrp_task)t))) task = (lrp_task)t;
    if (lrp_eval_report_begin(&rep, task, json_is_true(json_object_get(d0, "images")), &eo, err)) goto done;
    long limit = (long)json_integer_value(json_object_get(opt, "limit")), in_data = 0;
    in_data = (long)json_integer_value(json_object_get(d0, "records_in_data"));
    size_t total = 0;
    for (int i = 0; i < n_paths; i++)
        total += json_array_size(json_object_get(s.doc[i], "records")) +
                 json_array_size(json_object_get(s.doc[i], "bad_records"));
    if (!(items = calloc(total + 1, sizeof *items))) {
        lrp_fail(err, "out of memory");
        goto done;
    }
    for (int i = 0; i < n_paths; i++) {
        const json_t *recs = json_object_get(s.doc[i], "records"), *bad = json_object_get(s.doc[i], "bad_records");
        long held = (long)(json_array_size(recs) + json_array_size(bad));
        long want = shard_size(in_data, s.k[i], s.n[i]);
        if (limit > 0 && limit < want) want = limit;
        if (held != want) {
            lrp_fail(err, "%s: shard %d/%d holds %ld records, not its %ld", paths[i], s.k[i], s.n[i], held, want);
            goto done;
        }
        for (size_t j = 0; j < json_array_size(recs); j++) {
            const json_t *r = json_array_get(recs, j);
            items[n_items++] = (eval_item){(int)json_integer_value(json_object_get(r, "line")), r, NULL};
        }
        for (size_t j = 0; j < json_array_size(bad); j++) {
            const json_t *b = json_array_get(bad, j);
            items[n_items++] = (eval_item){(int)json_integer_value(json_object_get(b, "line")), NULL,
                                           json_string_value(json_object_get(b, "error"))};
        }
    }
    qsort(items, (size_t)n_items, sizeof *items, by_line);
    for (int i = 1; i < n_items; i++)
        if (items[i].line == items[i - 1].line) {
            lrp_fail(err, "line %d of the data is in two shard files", items[i].line);
            goto done;
        }
    if (!(names = calloc((size_t)n_items + 1, sizeof *names))) {
        lrp_fail(err, "out of memory");
        goto done;
    }
    for (int i = 0; i < n_items; i++) {
        if (items[i].rec) {
            lrp_eval_record_result r;
            char *name = NULL;
            if (lrp_eval_record_from_json(items[i].rec, &rep, &r, &name, err)) {
                char pre[48];
                snprintf(pre, sizeof pre, "record of line %d", items[i].line);
                lrp_fail_prefix(err, pre);
                goto done;
            }
            if (lrp_eval_report_add(&rep, &r, err)) goto done;
            names[rep.n_records - 1] = name;
        } else if (lrp_eval_report_add_bad(&rep, items[i].line, items[i].error ? items[i].error : "?", err)) {
            goto done;
        }
    }
    rep.n_total = n_items;
    if (lrp_eval_report_end(&rep, err)) goto done;
    if (rep.n_records == 0) {
        lrp_fail(err, "no record was evaluated in any shard");
        goto done;
    }
    options = json_dumps(opt, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    const json_t *nf = json_object_get(d0, "nonfinite_weight");
    lrp_eval_render_ctx ctx = {json_string_value(json_object_get(d0, "model")),
                               json_string_value(json_object_get(d0, "family")),
                               json_string_value(json_object_get(d0, "data")),
                               json_string_value(json_object_get(d0, "span_field")),
                               (unsigned long long)json_integer_value(json_object_get(d0, "seed")),
                               names,
                               json_string_value(json_object_get(d0, "sha256")),
                               0,
                               1,
                               (int)in_data,
                               options,
                               json_string_value(json_object_get(nf, "tensor")),  // the shards' model's (or NULL)
                               (long long)json_integer_value(json_object_get(nf, "index")),
                               (long long)json_integer_value(json_object_get(nf, "count"))};
    if (!ctx.model_path || !ctx.family || !ctx.data_path || !ctx.span_field) {
        lrp_fail(err, "%s: lacks model, family, data or span_field", paths[0]);
        goto done;
    }
    if (!strcmp(format, "json")) {
        if (lrp_render_eval_json(o->f, &rep, &ctx)) {
            lrp_fail(err, "out of memory");
            goto done;
        }
    } else {
        lrp_render_eval_text(o->f, &rep, &ctx);
    }
    rc = 0;
done:
    for (int i = 0; names && i < rep.n_records; i++) free(names[i]);
    free(names);
    free(items);
    free(options);
    lrp_eval_report_free(&rep);
    docs_free(&s, n_paths);
    return rc;
}

// scan shards: each shard's top K, attributed, offered to one top K in the scan's own order (highest
// activation, ties to the lower index); every global winner is among its shard's K, and its
// attribution depends on its window alone, so the result is the unsharded run's.
static int merge_scan(char **paths, int n_paths, cli_output *o, lrp_err *err) {
    shard_docs s;
    lrp_scan_top top = {0};
    json_t *doc = NULL;
    int rc = -1;
    if (load_shards(paths, n_paths, "attnlrp_scan", "scan", &s, err)) goto done;
    const json_t *d0 = s.doc[0];
    int K = (int)json_integer_value(json_object_get(json_object_get(d0, "options"), "top"));
    long in_data = (long)json_integer_value(json_object_get(d0, "windows_in_data"));
    json_int_t windows = 0, tokens = 0;
    if (lrp_scan_top_init(&top, K > 0 ? K : 1, err)) goto done;
    for (int i = 0; i < n_paths; i++) {
        const json_t *res = json_object_get(s.doc[i], "results");
        long held = (long)json_integer_value(json_object_get(s.doc[i], "windows"));
        long want = shard_size(in_data, s.k[i], s.n[i]);
        if (held != want) {
            lrp_fail(err, "%s: shard %d/%d scanned %ld windows, not its %ld", paths[i], s.k[i], s.n[i], held, want);
            goto done;
        }
        windows += held;
        tokens += json_integer_value(json_object_get(s.doc[i], "tokens"));
        for (size_t j = 0; j < json_array_size(res); j++) {
            const json_t *r = json_array_get(res, j);
            long index = (long)json_integer_value(json_object_get(r, "index"));
            if (index % s.n[i] != s.k[i]) {
                lrp_fail(err, "%s: window %ld is not in shard %d/%d", paths[i], index, s.k[i], s.n[i]);
                goto done;
            }
            // the hit carries the shard's result (file i, entry j) in its ids: [i, j]
            int where[2] = {i, (int)j};
            if (lrp_scan_top_offer(&top, index, (int)json_integer_value(json_object_get(r, "position")),
                                   (float)json_number_value(json_object_get(r, "activation")), where, 2, err))
                goto done;
        }
    }
    lrp_scan_top_sort(&top);
    json_t *results = json_array();
    for (int r = 0; results && r < top.n; r++)
        json_array_append(results, json_array_get(json_object_get(s.doc[top.h[r].ids[0]], "results"),
                                                  (size_t)top.h[r].ids[1]));
    if (!(doc = json_deep_copy(d0)) || !results) {
        json_decref(results);
        lrp_fail(err, "out of memory");
        goto done;
    }
    json_object_set_new(doc, "results", results);
    json_object_set_new(doc, "shard", json_pack("[i, i]", 0, 1));
    json_object_set_new(doc, "windows", json_integer(windows));
    json_object_set_new(doc, "tokens", json_integer(tokens));
    if (lrp_jv_dump(o->f, doc, 1)) {
        doc = NULL;
        lrp_fail(err, "out of memory");
        goto done;
    }
    doc = NULL;
    rc = 0;
done:
    json_decref(doc);
    lrp_scan_top_free(&top);
    docs_free(&s, n_paths);
    return rc;
}

// What the first file is: 'b' a batch output, 'e' eval's JSON, 's' scan's JSON, 0 unknown.
static int kind_of(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    fclose(f);
    json_t *j = n > 0 ? json_loadb(line, (size_t)n, 0, NULL) : NULL;
    free(line);
    int k = json_object_get(j, "attnlrp_batch") ? 'b' : json_object_get(j, "attnlrp_eval") ? 'e'
          : json_object_get(j, "attnlrp_scan") ? 's' : 0;
    json_decref(j);
    return k;
}


int cmd_merge(int argc, char **argv) {
    const char *out_path = NULL, *format = NULL;
    char **paths = calloc((size_t)argc + 1, sizeof *paths);
    int n = 0, rc = 2;
    if (!paths) return cli_error(1, "out of memory");
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            fputs(merge_usage, stdout);
            free(paths);
            return 0;
        } else if (!strcmp(o, "-o") || !strcmp(o, "--output")) {
            if (!(out_path = arg_value(argc, argv, &i))) goto done;
        } else if (!strcmp(o, "--format")) {
            if (!(format = arg_value(argc, argv, &i))) goto done;
            if (strcmp(format, "text") && strcmp(format, "json")) {
                cli_error(2, "--format %s: expected text or json", format);
                goto done;
            }
        } else if (o[0] == '-' && o[1] != '\0') {
            if (cli_split_option(&argc, &argv, i)) {
                i--;
                continue;
            }
            cli_error(2, "merge: unknown option %s (see attnlrp merge --help)", o);
            goto done;
        } else {
            paths[n++] = argv[i];
        }
    }
    if (!n) {
        cli_error(2, "merge: give the shard outputs to join (see attnlrp merge --help)");
        goto done;
    }
    if (!out_path) {
        cli_error(2, "merge: give the merged output with -o FILE");
        goto done;
    }
    int kind = kind_of(paths[0]);
    if (format && kind != 'e') {
        cli_error(2, "--format: only eval shards are written as text or JSON (%s is no eval output)", paths[0]);
        goto done;
    }
    cli_output o;
    rc = 1;
    if (cli_output_open(&o, out_path)) goto done;
    lrp_err err;
    if (kind == 'e' ? merge_eval(paths, n, format ? format : "json", &o, &err)
        : kind == 's' ? merge_scan(paths, n, &o, &err)
                      : lrp_batch_merge(paths, n, o.f, &err)) {
        cli_error(1, "merge: %s", err.msg);
        cli_output_abort(&o);
        goto done;
    }
    rc = cli_output_commit(&o) ? 1 : 0;
done:
    free(paths);
    return rc;
}

// attnlrp eval: how faithful are the explanations? Answer-span agreement and MoRF/LeRF perturbation
// curves (the AttnLRP paper's protocol) over a JSONL data set, for several methods side by side.
// The metrics live in explain/eval.c; this file reads records, runs the model and prints the tables.
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/session.h"
#include "explain/eval.h"
#include "explain/explain.h"
#include "render/plot.h"
#include "render/render.h"

static const char eval_usage[] =
    "usage: attnlrp eval [--model PATH] --data FILE.jsonl [--methods attnlrp,cplrp,gradxinput,gradient,random]\n"
    "                    [--steps 20] [--limit N] [--seed S] [--span-field F] [--on-bad skip|fail] [--progress]\n"
    "                    [--format text|json] [--plot curves.svg] [-o FILE]\n"
    "\n"
    "Measures how faithful each method's explanations are, over the records of a JSONL file:\n"
    "  {\"text\": \"...\", \"target\": \" Rex\" (optional), \"span\": [start, end] (optional)}\n"
    "target: the explained next token (text that is exactly one token; default: the model's prediction at the\n"
    "last position). span: the evidence for it, as character offsets into text (Unicode code points, end\n"
    "exclusive, as Python's text[start:end]).\n"
    "\n"
    "Per method:\n"
    "  top-1 in span  fraction of records whose most relevant token (special tokens excluded) lies in the span\n"
    "  IoU            overlap of the k most relevant tokens with the span's k tokens (intersection / union)\n"
    "  MoRF, LeRF     tokens removed (input embedding zeroed) most / least relevant first in --steps equal\n"
    "                 steps; the curve is target logit / unperturbed logit; AUC by the trapezoid rule over\n"
    "                 the fraction removed (0..1). Special tokens (BOS) are never removed.\n"
    "  dA             AUC(LeRF) - AUC(MoRF), higher is more faithful; mean and 95% CI (mean +- 1.96 sd/sqrt n)\n"
    "  s/record       seconds to compute one explanation (the perturbation passes not included)\n"
    "\n"
    "  --model PATH     checkpoint directory with tokenizer.json (default: the shipped model)\n"
    "  --data FILE      JSONL records, one per line (blank lines are ignored)\n"
    "  --methods LIST   comma-separated: attnlrp, cplrp, gradxinput, gradient, random (default: all five)\n"
    "  --steps N        perturbation steps (default 20)\n"
    "  --limit N        only the first N records\n"
    "  --span-field F   read the span from field F instead of \"span\" (e.g. a longer evidence span)\n"
    "  --seed S         seed of the random baseline (default 0); each record draws from (seed, line number)\n"
    "  --on-bad skip    report each bad record (with its line number) on stderr and count it (default)\n"
    "  --on-bad fail    stop with exit status 1 at the first bad record\n"
    "  --progress       progress on stderr even when it is not a terminal\n"
    "  --format F       text (default: a table) or json (every number, per record and the mean curves)\n"
    "  --plot FILE.svg  mean MoRF (solid) and LeRF (dashed) curves per method\n"
    "  -o FILE          write the result to FILE (written whole or not at all)\n";

// ---- methods ----

#define METHOD_RANDOM LRP_METHOD_COUNT
#define MAX_METHODS 8

static const char *method_name(int m) { return m == METHOD_RANDOM ? "random" : lrp_method_name((lrp_method)m); }

// Fixed colours, so that a method looks the same in every plot; random is the grey baseline.
static int method_color(int m) {
    switch (m) {
    case LRP_METHOD_ATTNLRP: return 1;
    case LRP_METHOD_CPLRP: return 0;
    case LRP_METHOD_GRADXINPUT: return 2;
    case LRP_METHOD_GRADIENT: return 3;
    default: return LRP_PLOT_GREY;
    }
}

static int parse_methods(const char *s, int *methods, int *n) {
    *n = 0;
    const char *p = s;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char name[32];
        if (len == 0 || len >= sizeof name) return cli_error(2, "--methods %s: expected a comma-separated list", s);
        memcpy(name, p, len);
        name[len] = '\0';
        int m = !strcmp(name, "random") ? METHOD_RANDOM : lrp_method_parse(name);
        if (m < 0)
            return cli_error(2, "--methods: unknown method \"%s\" (attnlrp, cplrp, gradxinput, gradient, random)", name);
        for (int i = 0; i < *n; i++)
            if (methods[i] == m) return cli_error(2, "--methods: \"%s\" is listed twice", name);
        if (*n == MAX_METHODS) return cli_error(2, "--methods: too many methods");
        methods[(*n)++] = m;
        if (!comma) return 0;
        p = comma + 1;
    }
}

// ---- arguments ----

typedef struct {
    const char *model, *data, *format, *plot, *out, *span_field;
    int methods[MAX_METHODS], n_methods;
    int steps, limit, on_bad_fail, progress;
    unsigned long long seed;
} eval_args;

static int parse_eval_args(int argc, char **argv, eval_args *a) {
    memset(a, 0, sizeof *a);
    a->format = "text";
    a->span_field = "span";
    a->steps = 20;
    a->limit = -1;
    const char *methods = "attnlrp,cplrp,gradxinput,gradient,random", *on_bad = "skip";
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char **str = NULL;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            fputs(eval_usage, stdout);
            return 1;
        } else if (!strcmp(o, "--model")) str = &a->model;
        else if (!strcmp(o, "--data")) str = &a->data;
        else if (!strcmp(o, "--methods")) str = &methods;
        else if (!strcmp(o, "--format")) str = &a->format;
        else if (!strcmp(o, "--plot")) str = &a->plot;
        else if (!strcmp(o, "--on-bad")) str = &on_bad;
        else if (!strcmp(o, "--span-field")) str = &a->span_field;
        else if (!strcmp(o, "-o") || !strcmp(o, "--output")) str = &a->out;
        else if (!strcmp(o, "--progress")) a->progress = 1;
        else if (!strcmp(o, "--steps") || !strcmp(o, "--limit")) {
            const char *v = arg_value(argc, argv, &i);
            int *dst = !strcmp(o, "--steps") ? &a->steps : &a->limit;
            if (!v || arg_int(o, v, dst)) return 2;
            if (dst == &a->steps && (a->steps < 1 || a->steps > 10000))
                return cli_error(2, "--steps %d: expected 1..10000", a->steps);
            if (dst == &a->limit && a->limit < 1) return cli_error(2, "--limit %d: must be at least 1", a->limit);
        } else if (!strcmp(o, "--seed")) {
            const char *v = arg_value(argc, argv, &i);
            if (!v) return 2;
            char *end;
            errno = 0;
            a->seed = strtoull(v, &end, 10);
            if (!*v || *end || errno || *v == '-') return cli_error(2, "--seed: \"%s\" is not a non-negative integer", v);
        } else {
            return cli_error(2, "eval: unexpected argument %s (see attnlrp eval --help)", o);
        }
        if (str && !(*str = arg_value(argc, argv, &i))) return 2;
    }
    if (!a->data) return cli_error(2, "eval: --data FILE.jsonl is required (see attnlrp eval --help)");
    if (a->plot && (!*a->plot || !strcmp(a->plot, "-"))) return cli_error(2, "--plot: give a file name (FILE.svg)");
    if (strcmp(a->format, "text") && strcmp(a->format, "json"))
        return cli_error(2, "--format %s: expected text or json", a->format);
    if (strcmp(on_bad, "skip") && strcmp(on_bad, "fail")) return cli_error(2, "--on-bad %s: expected skip or fail", on_bad);
    a->on_bad_fail = !strcmp(on_bad, "fail");
    if (parse_methods(methods, a->methods, &a->n_methods)) return 2;
    return 0;
}

// ---- the data file ----

typedef struct {
    char *buf;        // the whole file, NUL-terminated
    size_t len;
    char **lines;     // starts of the non-blank lines (each NUL-terminated in buf)
    size_t *line_len; // their lengths in bytes (a NUL byte inside a line is kept, and rejected by the parser)
    int *line_no;     // their 1-based line numbers
    int n;
} data_file;

static void data_free(data_file *d) {
    free(d->buf);
    free(d->lines);
    free(d->line_len);
    free(d->line_no);
    memset(d, 0, sizeof *d);
}

static int data_read(data_file *d, const char *path) {
    memset(d, 0, sizeof *d);
    FILE *f = fopen(path, "rb");
    if (!f) return cli_error(1, "--data %s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16;
    d->buf = malloc(cap);
    while (d->buf) {
        d->len += fread(d->buf + d->len, 1, cap - 1 - d->len, f);
        if (d->len < cap - 1) break;
        if (cap > ((size_t)1 << 40)) {   // 1 TiB: refuse rather than read part of it
            fclose(f);
            free(d->buf);
            d->buf = NULL;
            return cli_error(1, "--data %s: file too large", path);
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
    if (!d->buf) return cli_error(1, "--data %s: out of memory", path);
    if (bad) {
        data_free(d);
        return cli_error(1, "--data %s: cannot read: %s", path, strerror(read_errno));
    }
    d->buf[d->len] = '\0';
    size_t n_lines = 1;
    for (size_t i = 0; i < d->len; i++) n_lines += d->buf[i] == '\n';
    if (n_lines > (size_t)1 << 30) {
        data_free(d);
        return cli_error(1, "--data %s: too many lines", path);
    }
    d->lines = malloc(n_lines * sizeof *d->lines);
    d->line_no = malloc(n_lines * sizeof *d->line_no);
    d->line_len = malloc(n_lines * sizeof *d->line_len);
    if (!d->lines || !d->line_no || !d->line_len) {
        data_free(d);
        return cli_error(1, "--data %s: out of memory", path);
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

// ---- the model with some tokens removed ----

typedef struct {
    unsigned char *mask;
    double logit;
} cached_logit;

typedef struct {
    const lrp_model *m;
    const int *ids;
    int T, target;
    float *logits;             // [vocab] scratch
    cached_logit *cache;       // masks already evaluated for this record (shared by every method)
    int n_cache, cap_cache;
    long long forwards;
} perturb_ctx;

static void cache_clear(perturb_ctx *c) {
    for (int i = 0; i < c->n_cache; i++) free(c->cache[i].mask);
    c->n_cache = 0;
}

static int perturbed_logit(const unsigned char *drop, void *ctx, double *logit, lrp_err *err) {
    perturb_ctx *c = ctx;
    for (int i = 0; i < c->n_cache; i++)
        if (!memcmp(c->cache[i].mask, drop, (size_t)c->T)) {
            *logit = c->cache[i].logit;
            return 0;
        }
    if (lrp_forward_logits(c->m, c->ids, c->T, -1, drop, NULL, 0, c->logits, err)) return -1;
    c->forwards++;
    *logit = c->logits[c->target];
    if (c->n_cache == c->cap_cache) {
        int cap = c->cap_cache ? 2 * c->cap_cache : 64;
        cached_logit *nc = realloc(c->cache, (size_t)cap * sizeof *nc);
        if (!nc) return 0;   // no cache entry; the value is still right
        c->cache = nc;
        c->cap_cache = cap;
    }
    unsigned char *mask = malloc((size_t)c->T);
    if (!mask) return 0;
    memcpy(mask, drop, (size_t)c->T);
    c->cache[c->n_cache].mask = mask;
    c->cache[c->n_cache++].logit = *logit;
    return 0;
}

static int decode_no_specials(const int *ids, int n, char **text, void *ctx, lrp_err *err) {
    return lrp_tokenizer_decode(ctx, ids, n, 1, text, err);
}

// ---- evaluating records ----

typedef struct {
    int line;
    int T;
    int target;
    int target_given;
    int prediction;            // argmax at the last position
    double target_logit;
    int n_span_tokens;
    int *span_tokens;          // [n_span_tokens] or NULL
    lrp_eval_result res[MAX_METHODS];
} record_result;

typedef struct {
    int line;
    char msg[1100];
} bad_record;

typedef struct {
    const eval_args *a;
    cli_session *s;
    perturb_ctx pc;
    record_result *recs;
    int n_recs;
    bad_record *bad;
    int n_bad;
    int n_total;               // records considered (after --limit)
} eval_run;

static void record_result_free(record_result *r, int n_methods) {
    free(r->span_tokens);
    for (int k = 0; k < n_methods; k++) lrp_eval_result_free(&r->res[k]);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// Exactly one token without specials, or an error saying how the text splits.
static int target_token(const lrp_tokenizer *tok, const char *text, int *id, lrp_err *err) {
    int *ids = NULL, n = 0;
    if (lrp_tokenizer_encode(tok, text, strlen(text), 0, &ids, &n, err)) return lrp_fail_prefix(err, "\"target\"");
    if (n != 1) {
        char shown[400] = "";
        for (int i = 0; i < n && strlen(shown) < 300; i++) {
            char buf[64];
            lrp_tokenizer_token_text(tok, ids[i], buf, sizeof buf);
            snprintf(shown + strlen(shown), sizeof shown - strlen(shown), "%s\"%s\"", i ? ", " : "", buf);
        }
        free(ids);
        return lrp_fail(err, "\"target\" is %d tokens, not one: %s", n, n ? shown : "(empty)");
    }
    *id = ids[0];
    free(ids);
    return 0;
}

// Every metric of one record for every method. Returns 0, or -1 with err (the record is bad).
static int eval_record(eval_run *run, const char *line, size_t len, int line_no, record_result *out, lrp_err *err) {
    const eval_args *a = run->a;
    const lrp_model *m = run->s->m;
    const lrp_tokenizer *tok = run->s->tok;
    memset(out, 0, sizeof *out);
    out->line = line_no;
    lrp_eval_record r;
    if (lrp_eval_parse_record(line, len, a->span_field, &r, err)) return -1;
    int *ids = NULL, T = 0, rc = -1;
    int *cs = NULL, *ce = NULL;
    unsigned char *removable = NULL, *in_span = NULL;
    float *rel = NULL;
    lrp_explanation e = {0};
    if (lrp_tokenizer_encode(tok, r.text, r.text_len, 1, &ids, &T, err)) {
        lrp_fail_prefix(err, "\"text\"");
        goto done;
    }
    out->T = T;
    removable = malloc((size_t)T);
    in_span = malloc((size_t)T);
    rel = malloc((size_t)T * sizeof *rel);
    if (!removable || !in_span || !rel) {
        lrp_fail(err, "out of memory");
        goto done;
    }
    int n_removable = 0;
    for (int t = 0; t < T; t++) n_removable += removable[t] = !lrp_tokenizer_is_special(tok, ids[t]);
    if (n_removable == 0) {
        lrp_fail(err, "\"text\" has no tokens besides special ones");
        goto done;
    }
    if (r.has_span) {
        cs = malloc((size_t)T * sizeof *cs);
        ce = malloc((size_t)T * sizeof *ce);
        if (!cs || !ce) {
            lrp_fail(err, "out of memory");
            goto done;
        }
        if (lrp_eval_token_offsets(ids, T, r.text, r.text_len, decode_no_specials, (void *)tok, cs, ce, err)) {
            char field[300];
            snprintf(field, sizeof field, "\"%s\"", a->span_field);
            lrp_fail_prefix(err, field);
            goto done;
        }
        out->n_span_tokens = lrp_eval_span_tokens(cs, ce, removable, T, r.span[0], r.span[1], in_span);
        if (out->n_span_tokens == 0) {
            lrp_fail(err, "\"%s\" [%d, %d] covers no token", a->span_field, r.span[0], r.span[1]);
            goto done;
        }
        out->span_tokens = malloc((size_t)out->n_span_tokens * sizeof(int));
        if (!out->span_tokens) {
            lrp_fail(err, "out of memory");
            goto done;
        }
        for (int t = 0, k = 0; t < T; t++)
            if (in_span[t]) out->span_tokens[k++] = t;
    }
    if (r.target) {
        if (target_token(tok, r.target, &out->target, err)) goto done;
        out->target_given = 1;
    }

    // The unperturbed prediction: the default target and the reference logit of the curves.
    perturb_ctx *pc = &run->pc;
    cache_clear(pc);
    pc->ids = ids;
    pc->T = T;
    if (lrp_forward_logits(m, ids, T, -1, NULL, NULL, 0, pc->logits, err)) goto done;
    int V = m->cfg.vocab_size;
    out->prediction = 0;
    for (int i = 1; i < V; i++)
        if (pc->logits[i] > pc->logits[out->prediction]) out->prediction = i;
    if (!out->target_given) out->target = out->prediction;
    if (out->target >= V) {
        lrp_fail(err, "\"target\" id %d is outside the model's vocabulary (%d)", out->target, V);
        goto done;
    }
    pc->target = out->target;
    out->target_logit = pc->logits[out->target];

    for (int k = 0; k < a->n_methods; k++) {
        int method = a->methods[k];
        double t0 = now_seconds();
        if (method == METHOD_RANDOM) {
            lrp_eval_random_relevance(a->seed, (uint64_t)line_no, rel, T);
        } else {
            lrp_explain_opts o;
            lrp_explain_opts_default(&o);
            o.method = (lrp_method)method;
            o.target = out->target;
            if (lrp_explain(m, ids, T, &o, &e, err)) goto done;
            memcpy(rel, e.relevance, (size_t)T * sizeof *rel);
            lrp_explanation_free(&e);
            memset(&e, 0, sizeof e);
        }
        double secs = now_seconds() - t0;
        if (lrp_eval_score(rel, removable, r.has_span ? in_span : NULL, T, a->steps, out->target_logit,
                           perturbed_logit, pc, &out->res[k], err)) {
            lrp_fail_prefix(err, method_name(method));
            goto done;
        }
        out->res[k].seconds = secs;
    }
    rc = 0;
done:
    if (rc) record_result_free(out, a->n_methods);
    lrp_explanation_free(&e);
    lrp_eval_record_free(&r);
    free(ids);
    free(cs);
    free(ce);
    free(removable);
    free(in_span);
    free(rel);
    return rc;
}

static void show_progress(int done, int total, double t_start, int final) {
    double el = now_seconds() - t_start;
    double eta = done > 0 ? el / done * (total - done) : 0;
    int tty = isatty(STDERR_FILENO);
    fprintf(stderr, "%seval: %d/%d records, %.0f s elapsed, ETA %.0f s%s", tty ? "\r" : "", done, total, el, eta,
            tty && !final ? "   " : "\n");
    fflush(stderr);
}

// ---- summaries ----

typedef struct {
    int method;
    int n;                         // records evaluated
    lrp_eval_stats top1, iou, morf, lerf, delta, seconds;
    lrp_eval_stats first_minus;    // paired: ΔA(first method) − ΔA(this one), per record
    int n_perturbed;
    double *mean_morf, *mean_lerf; // [steps + 1]
} method_summary;

static int summarize(const eval_run *run, method_summary *ms, int k) {
    int n = run->n_recs, S = run->a->steps + 1;
    memset(ms, 0, sizeof *ms);
    ms->method = run->a->methods[k];
    ms->n = n;
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    ms->mean_morf = calloc((size_t)S, sizeof(double));
    ms->mean_lerf = calloc((size_t)S, sizeof(double));
    if (!v || !ms->mean_morf || !ms->mean_lerf) {
        free(v);
        return cli_error(1, "out of memory"), -1;
    }
#define STATS_OF(field, expr)                                                     \
    do {                                                                          \
        for (int i = 0; i < n; i++) {                                             \
            const lrp_eval_result *r = &run->recs[i].res[k];                      \
            (void)r;                                                              \
            v[i] = (expr);                                                        \
        }                                                                         \
        ms->field = lrp_eval_stats_of(v, n);                                      \
    } while (0)
    STATS_OF(top1, r->has_span ? (double)r->top1_in_span : NAN);
    STATS_OF(iou, r->has_span ? r->iou : NAN);
    STATS_OF(morf, r->auc_morf);
    STATS_OF(lerf, r->auc_lerf);
    STATS_OF(delta, r->delta_a);
    STATS_OF(seconds, r->seconds);
    // The records are the same for every method, so differences are paired: a much tighter interval
    // than comparing the two means' intervals.
    STATS_OF(first_minus, run->recs[i].res[0].delta_a - r->delta_a);
#undef STATS_OF
    free(v);
    for (int i = 0; i < n; i++) {
        const lrp_eval_result *r = &run->recs[i].res[k];
        if (!r->perturbed) continue;
        ms->n_perturbed++;
        for (int s = 0; s < S; s++) ms->mean_morf[s] += r->morf[s], ms->mean_lerf[s] += r->lerf[s];
    }
    for (int s = 0; s < S; s++) {
        ms->mean_morf[s] = ms->n_perturbed ? ms->mean_morf[s] / ms->n_perturbed : NAN;
        ms->mean_lerf[s] = ms->n_perturbed ? ms->mean_lerf[s] / ms->n_perturbed : NAN;
    }
    return 0;
}

// ---- output ----

static void json_stats(FILE *f, const char *key, lrp_eval_stats s) {
    fprintf(f, "\"%s\": {\"n\": %d, \"mean\": ", key, s.n);
    lrp_json_number(f, s.mean);
    fputs(", \"sd\": ", f);
    lrp_json_number(f, s.sd);
    fputs(", \"ci95\": ", f);
    lrp_json_number(f, s.ci95);
    fputc('}', f);
}

static void json_curve(FILE *f, const double *c, int n) {
    fputc('[', f);
    for (int i = 0; i < n; i++) {
        if (i) fputs(", ", f);
        lrp_json_number(f, c[i]);
    }
    fputc(']', f);
}

static void count_targets(const eval_run *run, int *given, int *correct) {
    *given = *correct = 0;
    for (int i = 0; i < run->n_recs; i++)
        if (run->recs[i].target_given) (*given)++, *correct += run->recs[i].prediction == run->recs[i].target;
}

static void render_json(FILE *f, const eval_run *run, const method_summary *ms) {
    const eval_args *a = run->a;
    int S = a->steps + 1, given, correct;
    count_targets(run, &given, &correct);
    fputs("{\"model\": ", f);
    lrp_json_string(f, run->s->model_path);
    fputs(", \"data\": ", f);
    lrp_json_string(f, a->data);
    fprintf(f, ", \"family\": ");
    lrp_json_string(f, run->s->m->cfg.model_type);
    fputs(", \"span_field\": ", f);
    lrp_json_string(f, a->span_field);
    fprintf(f, ", \"steps\": %d, \"seed\": %llu, \"n_records\": %d, \"n_evaluated\": %d, \"n_bad\": %d", a->steps,
            a->seed, run->n_total, run->n_recs, run->n_bad);
    fprintf(f, ", \"n_targets_given\": %d, \"model_accuracy\": ", given);
    lrp_json_number(f, given ? (double)correct / given : NAN);
    fputs(", \"bad_records\": [", f);
    for (int i = 0; i < run->n_bad; i++) {
        fprintf(f, "%s{\"line\": %d, \"error\": ", i ? ", " : "", run->bad[i].line);
        lrp_json_string(f, run->bad[i].msg);
        fputc('}', f);
    }
    fputs("], \"fractions\": [", f);
    for (int s = 0; s < S; s++) {
        if (s) fputs(", ", f);
        lrp_json_number(f, (double)s / a->steps);
    }
    fputs("],\n\"methods\": [", f);
    for (int k = 0; k < a->n_methods; k++) {
        const method_summary *m = &ms[k];
        fprintf(f, "%s\n  {\"method\": \"%s\", \"n\": %d, \"n_perturbed\": %d, ", k ? "," : "", method_name(m->method),
                m->n, m->n_perturbed);
        json_stats(f, "span_top1_accuracy", m->top1);
        fputs(", ", f);
        json_stats(f, "span_iou", m->iou);
        fputs(", ", f);
        json_stats(f, "morf_auc", m->morf);
        fputs(", ", f);
        json_stats(f, "lerf_auc", m->lerf);
        fputs(", ", f);
        json_stats(f, "delta_a", m->delta);
        fputs(", ", f);
        json_stats(f, "seconds_per_record", m->seconds);
        if (k > 0) {
            fprintf(f, ", \"paired_delta_a_difference\": {\"minuend\": \"%s\", ", method_name(ms[0].method));
            json_stats(f, "difference", m->first_minus);
            fputc('}', f);
        }
        fputs(", \"mean_morf\": ", f);
        json_curve(f, m->mean_morf, S);
        fputs(", \"mean_lerf\": ", f);
        json_curve(f, m->mean_lerf, S);
        fputc('}', f);
    }
    fputs("],\n\"records\": [", f);
    const lrp_tokenizer *tok = run->s->tok;
    for (int i = 0; i < run->n_recs; i++) {
        const record_result *r = &run->recs[i];
        char buf[256];
        lrp_tokenizer_token_text(tok, r->target, buf, sizeof buf);
        fprintf(f, "%s\n  {\"line\": %d, \"n_tokens\": %d, \"target\": %d, \"target_token\": ", i ? "," : "", r->line,
                r->T, r->target);
        lrp_json_string(f, buf);
        fprintf(f, ", \"target_given\": %s, \"prediction\": %d, \"target_logit\": ", r->target_given ? "true" : "false",
                r->prediction);
        lrp_json_number(f, r->target_logit);
        fputs(", \"span_tokens\": ", f);
        if (r->span_tokens) lrp_json_int_array(f, r->span_tokens, r->n_span_tokens);
        else fputs("null", f);
        fputs(", \"methods\": {", f);
        for (int k = 0; k < a->n_methods; k++) {
            const lrp_eval_result *e = &r->res[k];
            fprintf(f, "%s\"%s\": {\"top1\": %d, \"top1_in_span\": %s, \"iou\": ", k ? ", " : "",
                    method_name(a->methods[k]), e->top1, !e->has_span ? "null" : e->top1_in_span ? "true" : "false");
            lrp_json_number(f, e->iou);
            fputs(", \"morf_auc\": ", f);
            lrp_json_number(f, e->auc_morf);
            fputs(", \"lerf_auc\": ", f);
            lrp_json_number(f, e->auc_lerf);
            fputs(", \"delta_a\": ", f);
            lrp_json_number(f, e->delta_a);
            fputs(", \"seconds\": ", f);
            lrp_json_number(f, e->seconds);
            fputs(", \"morf\": ", f);
            if (e->perturbed) json_curve(f, e->morf, S);
            else fputs("null", f);
            fputs(", \"lerf\": ", f);
            if (e->perturbed) json_curve(f, e->lerf, S);
            else fputs("null", f);
            fputc('}', f);
        }
        fputs("}}", f);
    }
    fputs("]}\n", f);
}

// s padded to `width` display columns (code points: every character used here is one column wide).
static void padded(FILE *f, const char *s, int width, int right) {
    int w = 0;
    for (const char *p = s; *p; p++) w += ((unsigned char)*p & 0xc0) != 0x80;
    if (right) fprintf(f, "%*s%s", width > w ? width - w : 0, "", s);
    else fprintf(f, "%s%*s", s, width > w ? width - w : 0, "");
}

// "0.123", or "-" for a missing value.
static void number_cell(FILE *f, int width, double v, int decimals) {
    char buf[64];
    if (isfinite(v)) snprintf(buf, sizeof buf, "%.*f", decimals, v);
    else snprintf(buf, sizeof buf, "-");
    padded(f, buf, width, 1);
}

static void render_text(FILE *f, const eval_run *run, const method_summary *ms) {
    const eval_args *a = run->a;
    int given, correct, with_span = 0, perturbed_all = 1;
    count_targets(run, &given, &correct);
    for (int i = 0; i < run->n_recs; i++) with_span += run->recs[i].span_tokens != NULL;
    fprintf(f, "attnlrp eval: %s (%s), data %s\n", run->s->model_path, run->s->m->cfg.model_type, a->data);
    fprintf(f, "records: %d evaluated", run->n_recs);
    if (run->n_bad) fprintf(f, ", %d bad (skipped; listed on stderr)", run->n_bad);
    fprintf(f, "; %d with an answer span", with_span);
    if (strcmp(a->span_field, "span")) fprintf(f, " (field \"%s\")", a->span_field);
    fputc('\n', f);
    if (given == run->n_recs)
        fprintf(f, "target: as given in the data; the model predicts it in %d of %d (%.1f%%)\n", correct, given,
                100.0 * correct / given);
    else if (given)
        fprintf(f, "target: given in %d records (the model predicts it in %d), the model's prediction in %d\n", given,
                correct, run->n_recs - given);
    else
        fprintf(f, "target: the model's prediction at the last position\n");
    fprintf(f, "perturbation: %d steps of zeroed input embeddings, special tokens kept; "
               "curve = target logit / unperturbed\n\n", a->steps);
    padded(f, "method", 11, 0);
    padded(f, "top-1 in span", 15, 1);
    padded(f, "IoU", 8, 1);
    padded(f, "MoRF AUC", 11, 1);
    padded(f, "LeRF AUC", 11, 1);
    fputs("   ", f);
    padded(f, "ΔA (95% CI)", 17, 0);
    padded(f, "s/record", 10, 1);
    fputc('\n', f);
    for (int k = 0; k < a->n_methods; k++) {
        const method_summary *m = &ms[k];
        padded(f, method_name(m->method), 11, 0);
        number_cell(f, 15, m->top1.mean, 3);
        number_cell(f, 8, m->iou.mean, 3);
        number_cell(f, 11, m->morf.mean, 3);
        number_cell(f, 11, m->lerf.mean, 3);
        fputs("   ", f);
        char d[64];
        if (!isfinite(m->delta.mean)) snprintf(d, sizeof d, "-");
        else if (!isfinite(m->delta.ci95)) snprintf(d, sizeof d, "%.3f", m->delta.mean);
        else snprintf(d, sizeof d, "%.3f ± %.3f", m->delta.mean, m->delta.ci95);
        padded(f, d, 17, 0);
        number_cell(f, 10, m->seconds.mean, 4);
        fputc('\n', f);
        perturbed_all &= m->n_perturbed == m->n;
    }
    fputs("\nΔA = AUC(LeRF) − AUC(MoRF), higher is more faithful; s/record: time of one explanation\n", f);
    if (a->n_methods > 1) {
        fprintf(f, "paired ΔA differences (same records), %s minus:", method_name(ms[0].method));
        for (int k = 1; k < a->n_methods; k++) {
            const lrp_eval_stats *d = &ms[k].first_minus;
            fprintf(f, "%s %s ", k > 1 ? "," : "", method_name(ms[k].method));
            if (!isfinite(d->mean)) fputs("-", f);
            else if (!isfinite(d->ci95)) fprintf(f, "%.3f", d->mean);
            else fprintf(f, "%.3f ± %.3f", d->mean, d->ci95);
        }
        fputc('\n', f);
    }
    if (!perturbed_all)
        fprintf(f, "note: %d of %d records have a target logit that is not positive: no perturbation curves, "
                   "left out of the AUCs\n",
                ms[0].n - ms[0].n_perturbed, ms[0].n);
}

static void render_plot(FILE *f, const eval_run *run, const method_summary *ms) {
    const eval_args *a = run->a;
    int S = a->steps + 1, n = a->n_methods;
    double x[10001];
    for (int s = 0; s < S; s++) x[s] = (double)s / a->steps;
    lrp_plot_line lines[2 * MAX_METHODS];
    lrp_plot_key keys[MAX_METHODS + 3];
    char labels[MAX_METHODS][64];
    for (int k = 0; k < n; k++) {
        int c = method_color(ms[k].method);
        lines[2 * k] = (lrp_plot_line){ms[k].mean_morf, c, 0};
        lines[2 * k + 1] = (lrp_plot_line){ms[k].mean_lerf, c, 1};
        if (isfinite(ms[k].delta.mean))
            snprintf(labels[k], sizeof labels[k], "%s (\xce\x94" "A %.3f)", method_name(ms[k].method), ms[k].delta.mean);
        else
            snprintf(labels[k], sizeof labels[k], "%s", method_name(ms[k].method));
        keys[k] = (lrp_plot_key){labels[k], c, 0};
    }
    keys[n] = (lrp_plot_key){NULL, 0, 0};
    keys[n + 1] = (lrp_plot_key){"MoRF: most relevant first", LRP_PLOT_INK, 0};
    keys[n + 2] = (lrp_plot_key){"LeRF: least relevant first", LRP_PLOT_INK, 1};
    char sub[600];
    snprintf(sub, sizeof sub, "%s, %d records; mean over records", a->data, ms[0].n_perturbed);
    lrp_plot p = {"Token removal: target logit vs. fraction removed", sub,
                  "fraction of tokens removed (input embedding zeroed)", "target logit / unperturbed logit",
                  x, S, lines, 2 * n, keys, n + 3};
    lrp_plot_svg(f, &p);
}

// ---- the command ----

int cmd_eval(int argc, char **argv) {
    eval_args a;
    int rc = parse_eval_args(argc, argv, &a);
    if (rc) return rc == 1 ? 0 : rc;

    data_file d;
    if (data_read(&d, a.data)) return 1;
    if (d.n == 0) {
        data_free(&d);
        return cli_error(1, "--data %s: no records (the file is empty)", a.data);
    }
    cli_session s;
    eval_run run = {0};
    method_summary ms[MAX_METHODS] = {{0}};
    cli_output out = {0}, plot = {0};
    rc = cli_session_open(&s, a.model, NULL, NULL);
    if (rc) goto done;
    rc = 1;
    if (!s.tok) {
        cli_error(1, "%s: no tokenizer.json beside the model: eval reads text", s.model_path);
        goto done;
    }
    run.a = &a;
    run.s = &s;
    run.pc.m = s.m;
    run.n_total = a.limit > 0 && a.limit < d.n ? a.limit : d.n;
    run.pc.logits = malloc((size_t)s.m->cfg.vocab_size * sizeof(float));
    run.recs = calloc((size_t)run.n_total, sizeof *run.recs);
    run.bad = calloc((size_t)run.n_total, sizeof *run.bad);
    if (!run.pc.logits || !run.recs || !run.bad) {
        cli_error(1, "out of memory");
        goto done;
    }
    // Outputs first: a bad path fails now, not after the whole run; both are written whole or not at all.
    if ((a.plot && cli_output_open(&plot, a.plot)) || cli_output_open(&out, a.out)) goto done;
    int progress = a.progress || isatty(STDERR_FILENO);
    double t_start = now_seconds(), t_shown = t_start;
    for (int i = 0; i < run.n_total; i++) {
        lrp_err err;
        if (eval_record(&run, d.lines[i], d.line_len[i], d.line_no[i], &run.recs[run.n_recs], &err) == 0) {
            run.n_recs++;
        } else {
            if (progress && isatty(STDERR_FILENO)) fputc('\n', stderr);
            cli_error(1, "%s:%d: %s", a.data, d.line_no[i], err.msg);
            if (a.on_bad_fail) goto done;
            run.bad[run.n_bad].line = d.line_no[i];
            snprintf(run.bad[run.n_bad++].msg, sizeof run.bad[0].msg, "%s", err.msg);
        }
        double t = now_seconds();
        // A terminal line is rewritten in place twice a second; a log gets a line every 10 s.
        if (progress && (t - t_shown > (isatty(STDERR_FILENO) ? 0.5 : 10.0) || i + 1 == run.n_total)) {
            show_progress(i + 1, run.n_total, t_start, i + 1 == run.n_total);
            t_shown = t;
        }
    }
    if (run.n_recs == 0) {
        cli_error(1, "--data %s: no record could be evaluated (%d bad)", a.data, run.n_bad);
        goto done;
    }
    for (int k = 0; k < a.n_methods; k++)
        if (summarize(&run, &ms[k], k)) goto done;

    // The plot first, so that nothing reaches stdout when it cannot be written. cli_output_commit
    // releases the struct whatever happens; clearing it keeps done: from releasing it again.
    if (a.plot) {
        render_plot(plot.f, &run, ms);
        int bad_plot = cli_output_commit(&plot);
        memset(&plot, 0, sizeof plot);
        if (bad_plot) goto done;
    }
    if (!strcmp(a.format, "json")) render_json(out.f, &run, ms);
    else render_text(out.f, &run, ms);
    rc = cli_output_commit(&out) ? 1 : 0;
    memset(&out, 0, sizeof out);
done:
    cli_output_abort(&plot);
    cli_output_abort(&out);
    for (int k = 0; k < MAX_METHODS; k++) free(ms[k].mean_morf), free(ms[k].mean_lerf);
    for (int i = 0; i < run.n_recs; i++) record_result_free(&run.recs[i], a.n_methods);
    free(run.recs);
    free(run.bad);
    cache_clear(&run.pc);
    free(run.pc.cache);
    free(run.pc.logits);
    cli_session_close(&s);
    data_free(&d);
    return rc;
}

// attnlrp eval: how faithful are the explanations? Answer-span agreement and MoRF/LeRF perturbation
// curves (the AttnLRP paper's protocol) over a JSONL data set, for several methods side by side.
// The runner is evaluate/runner.c; this file parses the arguments, reports progress and bad records on
// stderr, and renders the report (render/eval.c).
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/pool.h"
#include "core/sha256.h"
#include "evaluate/batch.h"
#include "evaluate/runner.h"
#include "explain/methods.h"
#include "inputs/text.h"
#include "render/render.h"

static const char eval_usage[] =
    "usage: attnlrp eval [--model PATH] (--data FILE.jsonl | --images DIR-or-FILE.jsonl) [--methods M1,M2,...]\n"
    "                    [--steps 20] [--limit N] [--seed S] [--span-field F] [--on-bad skip|fail] [--progress]\n"
    "                    [--shard K/N] [--jobs N]\n"
    "       mpirun -np N attnlrp-mpi eval ...   (the MPI build, make mpi)\n"
    "       attnlrp merge SHARD.json ... [--format text|json] -o FILE   (eval --shard K/N --format json outputs)\n"
    "                    [--ig-steps N] [--quadrature Q] [--samples N] [--noise S] [--atman-factor F]\n"
    "                    [--atman-threshold K] [--softmax-rule R] [--max-memory SIZE]\n"
    "                    [--format text|json] [--plot curves.svg] [-o FILE]\n"
    "\n"
    "Measures how faithful each method's explanations are, over the records of a JSONL file:\n"
    "  {\"text\": \"...\", \"text_pair\": \"...\" (optional), \"target\": \" Rex\" (optional), \"span\": [start, end] (optional)}\n"
    "target: the explained next token (text that is exactly one token) or, for classifiers, the class name\n"
    "(id2label); default: the model's prediction (at the last position; masked LMs: at the first mask token).\n"
    "span: the evidence for it, as character offsets into text (Unicode code points, end exclusive, as\n"
    "Python's text[start:end]). text_pair: a second text joined by the tokenizer's pair template (no span).\n"
    "Image classifiers (ViT) read --images: a folder of PNG/JPEG/.npy files (the prediction is explained) or\n"
    "JSONL records {\"image\": \"path\", \"label\": \"Coat\"}; their curves remove patches (set to 0, the\n"
    "normalised mean), the AttnLRP paper's patch flipping.\n"
    "\n"
    "Per method:\n"
    "  top-1 in span  fraction of records whose most relevant token (special tokens excluded) lies in the span\n"
    "  IoU            overlap of the k most relevant tokens with the span's k tokens (intersection / union)\n"
    "  MoRF, LeRF     tokens removed (input embedding zeroed) most / least relevant first in --steps equal\n"
    "                 steps; the curve is target (class) logit / unperturbed; AUC by the trapezoid rule over\n"
    "                 the fraction removed (0..1). Special tokens (BOS) are never removed.\n"
    "  dA             AUC(LeRF) - AUC(MoRF), higher is more faithful; mean and 95%% CI (mean +- 1.96 sd/sqrt n)\n"
    "  s/record       seconds to compute one explanation (the perturbation passes not included)\n"
    "  x forward      that time over the time of one forward pass of the same record (mean over mean)\n"
    "  passes f+b     forward and backward passes one explanation runs (mean over records)\n"
    "\n"
    "  --model PATH     checkpoint directory with tokenizer.json (default: the shipped model)\n"
    "  --data FILE      JSONL records, one per line (blank lines are ignored)\n"
    "  --images PATH    image records: a folder of images, or a JSONL file of {\"image\", \"label\"} records\n"
    "  --methods LIST   comma-separated, from: %s (default: all that fit the model except the\n"
    "                   baselines ig..kernelshap; 'all': every method that fits the model, baselines included)\n"
    "  --gamma C,L      the gamma of the +gamma methods on the patch convolution and the MLP/classifier\n"
    "                   (default 0.25,0.05, LXT's)\n"
    "  --steps N        perturbation steps (default 20)\n"
    "  --limit N        only the first N records\n"
    "  --shard K/N      only the records whose index mod N is K (0 <= K < N; --limit counts within it): one\n"
    "                   task of a job array; attnlrp merge joins the shards' --format json outputs into the\n"
    "                   report of one run (the records pooled, not the means averaged)\n"
    "  --jobs N         N processes evaluate records in parallel (default 1; BLAS threads divided among\n"
    "                   them); the report is the same as with one (under MPI every rank is one process)\n"
    "  --span-field F   read the span from field F instead of \"span\" (e.g. a longer evidence span)\n"
    "  --seed S         seed of the random baseline (default 0); each record draws from (seed, line number);\n"
    "                   also the seed of smoothgrad and kernelshap\n"
    "  --ig-steps N     ig: quadrature nodes (default 32; explain calls it --steps)\n"
    "  --quadrature Q   ig: midpoint (default) or gauss-legendre\n"
    "  --samples N      smoothgrad: noisy copies (default 16); kernelshap: coalitions (default 512)\n"
    "  --noise S        smoothgrad: sigma relative to the range of the word embeddings (default 0.1)\n"
    "  --atman-factor F, --atman-threshold K   atman: suppression (default 0.9), cosine threshold (0.7)\n"
    "  --softmax-rule R attnlrp's softmax rule: exact (default), identity, distribute-bias (SPEC section 2)\n"
    "  --max-memory SIZE  refuse a record whose explanation needs more memory (512M, 2G; default: the least\n"
    "                   of MemAvailable and what ulimit -v leaves; see README, \"Hostile files and heavy use\")\n"
    "  --on-bad skip    report each bad record (with its line number) on stderr and count it (default)\n"
    "  --on-bad fail    stop with exit status 1 at the first bad record\n"
    "  --progress       progress on stderr even when it is not a terminal (with --jobs or MPI it ends with\n"
    "                   each process's CPU seconds)\n"
    "  --format F       text (default: a table) or json (every number, per record and the mean curves)\n"
    "  --plot FILE.svg  mean MoRF (solid) and LeRF (dashed) curves per method\n"
    "  -o FILE, --output FILE  write the result to FILE (written whole or not at all)\n"
    "  --help, -h       this help\n";

// ---- arguments ----

typedef struct {
    const char *model, *data, *images, *format, *plot, *out, *span_field;
    const char *shard;     // --shard K/N
    int shard_k, shard_n, jobs;
    int progress, methods_given, methods_all;
    lrp_eval_opts o;
} eval_args;

static int parse_eval_args(int argc, char **argv, eval_args *a) {
    memset(a, 0, sizeof *a);
    lrp_eval_opts_default(&a->o);
    a->format = "text";
    a->span_field = "span";
    a->jobs = 1;
    const char *methods = NULL, *on_bad = "skip";
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char **str = NULL;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            printf(eval_usage, lrp_method_names(1));
            return 1;
        } else if (!strcmp(o, "--model")) str = &a->model;
        else if (!strcmp(o, "--data")) str = &a->data;
        else if (!strcmp(o, "--images")) str = &a->images;
        else if (!strcmp(o, "--gamma")) {
            const char *v = arg_value(argc, argv, &i);
            char *end;
            if (!v) return 2;
            a->o.gamma_conv = strtod(v, &end);
            if (end == v || *end != ',' || (a->o.gamma_lin = strtod(end + 1, &end), *end))
                return cli_error(2, "--gamma %s: expected CONV,LIN (two numbers, e.g. 0.25,0.05)", v);
            if (!(a->o.gamma_conv >= 0 && a->o.gamma_lin >= 0 && a->o.gamma_conv < 1e6 && a->o.gamma_lin < 1e6))
                return cli_error(2, "--gamma %s: the values must be finite and not negative", v);
        }
        else if (!strcmp(o, "--methods")) str = &methods;
        else if (!strcmp(o, "--format")) str = &a->format;
        else if (!strcmp(o, "--plot")) str = &a->plot;
        else if (!strcmp(o, "--on-bad")) str = &on_bad;
        else if (!strcmp(o, "--span-field")) str = &a->span_field;
        else if (!strcmp(o, "--shard")) str = &a->shard;
        else if (!strcmp(o, "-o") || !strcmp(o, "--output")) str = &a->out;
        else if (!strcmp(o, "--progress")) a->progress = 1;
        else if (!strcmp(o, "--jobs")) {
            const char *v = arg_value(argc, argv, &i);
            if (!v || cli_jobs_parse(o, v, &a->jobs)) return 2;
        } else if (!strcmp(o, "--steps") || !strcmp(o, "--limit")) {
            const char *v = arg_value(argc, argv, &i);
            int *dst = !strcmp(o, "--steps") ? &a->o.steps : &a->o.limit;
            if (!v || arg_int(o, v, dst)) return 2;
            if (dst == &a->o.steps && (a->o.steps < 1 || a->o.steps > 10000))
                return cli_error(2, "--steps %d: expected 1..10000", a->o.steps);
            if (dst == &a->o.limit && a->o.limit < 1) return cli_error(2, "--limit %d: must be at least 1", a->o.limit);
        } else if (!strcmp(o, "--seed")) {
            const char *v = arg_value(argc, argv, &i);
            if (!v) return 2;
            char *end;
            errno = 0;
            a->o.seed = strtoull(v, &end, 10);
            if (!*v || *end || errno || *v == '-') return cli_error(2, "--seed: \"%s\" is not a non-negative integer", v);
            a->o.params.seed = a->o.seed;
        } else {
            int used, mrc = cli_method_option(argc, argv, &i, &a->o.params, "--ig-steps", &used);
            if (mrc) return mrc;
            if (!used && cli_split_option(&argc, &argv, i)) {  // --flag=value
                i--;
                continue;
            }
            if (!used) return cli_error(2, "eval: unexpected argument %s (see attnlrp eval --help)", o);
        }
        if (str && !(*str = arg_value(argc, argv, &i))) return 2;
    }
    if (a->data && a->images) return cli_error(2, "eval: give --data or --images, not both");
    if (!a->data && !a->images)
        return cli_error(2, "eval: --data FILE.jsonl (or --images) is required (see attnlrp eval --help)");
    if (a->plot && (!*a->plot || !strcmp(a->plot, "-"))) return cli_error(2, "--plot: give a file name (FILE.svg)");
    if (strcmp(a->format, "text") && strcmp(a->format, "json"))
        return cli_error(2, "--format %s: expected text or json", a->format);
    if (strcmp(on_bad, "skip") && strcmp(on_bad, "fail")) return cli_error(2, "--on-bad %s: expected skip or fail", on_bad);
    a->o.stop_at_bad = !strcmp(on_bad, "fail");
    a->shard_n = 1;
    lrp_err serr;
    if (a->shard && lrp_shard_parse(a->shard, &a->shard_k, &a->shard_n, &serr)) return cli_error(2, "--%s", serr.msg);
    a->o.span_field = a->span_field;
    lrp_err err;
    a->methods_all = methods && !strcmp(methods, "all");
    if (methods && !a->methods_all &&
        lrp_method_list_parse("methods", methods, a->o.methods, LRP_EVAL_MAX_METHODS, &a->o.n_methods, &err))
        return cli_lib_error(2, err.msg);
    a->methods_given = methods != NULL && !a->methods_all;
    return 0;
}

// ---- progress and bad records on stderr ----

typedef struct {
    const char *data_path;
    int show;                  // progress lines at all
    int tty;                   // stderr is a terminal: one line rewritten in place
    double t_start, t_shown;
} progress_ctx;

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void on_record(int done, int total, const lrp_eval_bad *bad, void *p) {
    progress_ctx *pc = p;
    if (bad) {
        if (pc->show && pc->tty) fputc('\n', stderr);
        cli_error(1, "%s:%d: %s", pc->data_path, bad->line, bad->msg);
    }
    double t = now_seconds();
    // A terminal line is rewritten in place twice a second; a log gets a line every 10 s.
    if (pc->show && (t - pc->t_shown > (pc->tty ? 0.5 : 10.0) || done == total)) {
        double el = t - pc->t_start, eta = done > 0 ? el / done * (total - done) : 0;
        fprintf(stderr, "%seval: %d/%d records, %.0f s elapsed, ETA %.0f s%s", pc->tty ? "\r" : "", done, total, el,
                eta, pc->tty && done != total ? "   " : "\n");
        fflush(stderr);
        pc->t_shown = t;
    }
}

// ---- records spread over processes (cli/pool.h): a task is a record's index, a result its JSON ----

typedef struct {
    const lrp_session *s;
    const lrp_eval_data *d;
    const lrp_eval_opts *o;
} eval_work;

// Evaluates record i alone: {"record": {...}, "forwards": F}, {"bad": LINE, "error": MSG, "forwards": F}
// or {"fatal": MSG}; a record's values depend on its bytes only, so any split of the records gives the
// same numbers, and the JSON carries every double exactly (17 digits).
static char *eval_run(void *work, const char *task, size_t n, size_t *rn) {
    const eval_work *w = work;
    int i;
    if (n != sizeof i) return NULL;
    memcpy(&i, task, sizeof i);
    lrp_eval_data one = {.lines = &w->d->lines[i], .line_len = &w->d->line_len[i], .line_no = &w->d->line_no[i], .n = 1};
    lrp_eval_opts o = *w->o;
    o.limit = 0;
    o.progress = NULL;
    o.stop_at_bad = 0;
    lrp_eval_report rep;
    lrp_err err;
    json_t *res;
    if (lrp_evaluate(w->s->m, w->s->tok, &one, &o, &rep, &err)) {
        res = json_pack("{s:s}", "fatal", err.msg);
    } else if (rep.n_records == 1) {
        char *name = lrp_output_string(&w->s->m->cfg, w->s->tok, rep.records[0].target);
        res = json_pack("{s:o, s:I}", "record", lrp_render_eval_record_json(&rep, 0, name), "forwards",
                        (json_int_t)rep.forwards);
        free(name);
    } else {
        res = json_pack("{s:i, s:o, s:I}", "bad", rep.bad[0].line, "error", lrp_jv_text(rep.bad[0].msg), "forwards",
                        (json_int_t)rep.forwards);
    }
    lrp_eval_report_free(&rep);
    char *text = res ? json_dumps(res, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(res);
    if (text) *rn = strlen(text);
    return text;
}

typedef struct {
    lrp_eval_report *rep;
    const lrp_eval_opts *o;
    int next, total, done;
    int status;     // the exit status of a fatal error (bad options: 2)
    char **names;   // [rep->n_records] target_token of each record
} eval_take_ctx;

static int eval_next(void *ctx, char **task, size_t *n) {
    eval_take_ctx *t = ctx;
    if (t->next >= t->total) return 0;
    if (!(*task = malloc(sizeof t->next))) return cli_error(1, "out of memory"), -1;
    memcpy(*task, &t->next, sizeof t->next);
    *n = sizeof t->next;
    t->next++;
    return 1;
}

// A record's result, in input order, into the report.
static int eval_take(void *ctx, const char *res, size_t n) {
    eval_take_ctx *t = ctx;
    json_t *j = json_loadb(res, n, 0, NULL), *rec = json_object_get(j, "record");
    const json_t *fatal = json_object_get(j, "fatal");
    lrp_err err;
    int rc = 0;
    const lrp_eval_bad *bad = NULL;
    if (!json_is_object(j)) {
        rc = 2, cli_error(1, "eval: a worker's result could not be read");
    } else if (json_is_string(fatal)) {
        rc = 2, t->status = cli_lib_error(1, json_string_value(fatal));
    } else if (rec) {
        lrp_eval_record_result r;
        char *name = NULL, **g = realloc(t->names, ((size_t)t->rep->n_records + 1) * sizeof *g);
        if (g) t->names = g;
        if (!g || lrp_eval_record_from_json(rec, t->rep, &r, &name, &err) || lrp_eval_report_add(t->rep, &r, &err)) {
            rc = 2, cli_error(1, "eval: a worker's result: %s", g ? err.msg : "out of memory");
            free(name);
        } else {
            t->names[t->rep->n_records - 1] = name;
        }
    } else {
        const json_t *msg = json_object_get(j, "error");
        if (lrp_eval_report_add_bad(t->rep, (int)json_integer_value(json_object_get(j, "bad")),
                                    json_is_string(msg) ? json_string_value(msg) : "?", &err))
            rc = 2, cli_error(1, "out of memory");
        else bad = &t->rep->bad[t->rep->n_bad - 1];
    }
    t->rep->forwards += json_integer_value(json_object_get(j, "forwards"));
    json_decref(j);
    if (rc) return rc;
    t->done++;
    if (t->o->progress) t->o->progress(t->done, t->total, bad, t->o->progress_ctx);
    if (bad && t->o->stop_at_bad) {
        t->rep->stopped = 1;
        return 1;
    }
    return 0;
}

// The SHA-256 of the records (each non-blank line and a newline): what shards of one data set share.
static void records_sha256(const lrp_eval_data *d, char hex[65]) {
    lrp_sha256 h;
    lrp_sha256_init(&h);
    for (int i = 0; i < d->n; i++) {
        lrp_sha256_update(&h, d->lines[i], d->line_len[i]);
        lrp_sha256_update(&h, "\n", 1);
    }
    lrp_sha256_hex(&h, hex);
}

// What the numbers depend on besides the records and the model (compact JSON, malloc'ed): shards join
// only when equal. The model's path is not among them (a cluster's machines may hold it elsewhere).
static char *options_json(const eval_args *a) {
    const lrp_eval_opts *o = &a->o;
    json_t *m = json_array();
    for (int k = 0; m && k < o->n_methods; k++) {
        const lrp_method_info *info = lrp_method_by_id(o->methods[k]);
        json_array_append_new(m, json_string(info ? info->name : "?"));
    }
    const lrp_explain_opts *p = &o->params;
    json_t *j = json_pack("{s:o, s:i, s:i, s:I, s:s, s:[f, f], s:i, s:i, s:f, s:I, s:i, s:f, s:f, s:i}", "methods", m, "steps", o->steps, "limit", o->limit, "seed", (json_int_t)o->seed,
                          "span_field", a->span_field, "gamma", o->gamma_conv, o->gamma_lin, "ig_steps", p->steps,
                          "samples", p->samples, "noise", (double)p->noise, "params_seed", (json_int_t)p->seed,
                          "quadrature", p->quadrature, "atman_factor", (double)p->atman_factor, "atman_threshold",
                          (double)p->atman_threshold, "softmax_rule", (int)p->softmax_rule);
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(j);
    return s;
}

// ---- the command ----

int cmd_eval(int argc, char **argv) {
    cli_par par;
    cli_par_init(&par);
    eval_args a;
    int rc = parse_eval_args(argc, argv, &a);   // ranks > 0 stay quiet until every rank is ready
    if (!rc) rc = cli_par_check_jobs(&par, a.jobs);
    if (rc) {
        cli_par_quiet_end(&par);
        cli_par_finish();
        return rc == 1 ? 0 : rc;
    }
    lrp_err err;
    lrp_eval_data d = {0};
    const char *source = a.data ? a.data : a.images, *flag = a.data ? "--data" : "--images";
    struct stat st;
    int from_dir = a.images && stat(a.images, &st) == 0 && S_ISDIR(st.st_mode);
    lrp_session s = {0};
    lrp_eval_report rep = {0};
    cli_output out = {0}, plot = {0};
    eval_take_ctx t = {0};
    char sha[65] = "", *options = NULL;
    int records_in_data = 0, ok = 1;
    if (from_dir ? lrp_eval_data_from_dir(&d, a.images, &err) : lrp_eval_data_read(&d, source, &err)) {
        cli_error(1, "%s %s", flag, err.msg);
        ok = 0;
    } else {
        records_sha256(&d, sha);
        records_in_data = d.n;
        if (a.shard_n > 1) lrp_eval_data_shard(&d, a.shard_k, a.shard_n);
        if (d.n == 0) {
            cli_error(1, "%s %s: no records (%s)", flag, source, from_dir ? "no .png, .jpg or .npy file" : "the file is empty");
            ok = 0;
        }
    }
    rc = 1;
    if (ok && cli_session_open(&s, a.model)) ok = 0;
    ok = cli_par_all(&par, ok);
    if (!ok) goto done;
    int images = s.m->cfg.image_size > 0;
    if (images != (a.images != NULL)) {
        cli_error(2, images ? "eval: %s is an image classifier: give --images" : "eval: %s reads text: give --data",
                  s.model_path);
        ok = 0, rc = 2;
    } else if (!images && !s.tok) {
        cli_error(1, "%s: no tokenizer.json beside the model: eval reads text", s.model_path);
        ok = 0;
    }
    if (ok && images && !a.methods_given) {   // every method, the gamma variants included (8 at most)
        a.o.n_methods = 0;
        for (int i = 0; i < lrp_methods_count() && a.o.n_methods < LRP_EVAL_MAX_METHODS; i++)
            if (!lrp_method_at(i)->extra) a.o.methods[a.o.n_methods++] = lrp_method_at(i)->id;
    }
    if (ok && a.methods_all) {  // --methods all: every method that fits the model, the baselines included
        a.o.n_methods = 0;
        for (int i = 0; i < lrp_methods_count() && a.o.n_methods < LRP_EVAL_MAX_METHODS; i++) {
            int id = lrp_method_at(i)->id;
            if (lrp_method_fits(&s.m->cfg, id)) a.o.methods[a.o.n_methods++] = id;
        }
    }
    // Outputs first: a bad path fails now, not after the whole run; both are written whole or not at all.
    if (ok && par.rank == 0 &&
        ((a.plot && cli_output_open_flag(&plot, a.plot, "--plot")) || cli_output_open(&out, a.out)))
        ok = 0;
    if (ok && par.rank == 0 && lrp_eval_report_begin(&rep, s.m->cfg.task, images, &a.o, &err)) {
        cli_lib_error(1, err.msg);
        ok = 0;
    }
    ok = cli_par_all(&par, ok);
    if (!ok) goto done;
    cli_par_quiet_end(&par);
    int each = cli_par_divide_threads(&par, a.jobs);
    eval_work w = {&s, &d, &a.o};
    cli_pool_ops ops = {eval_next, eval_run, eval_take, &t, &w, -1, "eval", "record"};
    if (par.rank > 0) {
        cli_pool_serve(&ops, &par);
        rc = 0;
        goto done;
    }
    int tty = isatty(STDERR_FILENO);
    progress_ctx pc = {source, a.progress || tty, tty, now_seconds(), now_seconds()};
    a.o.progress = on_record;
    a.o.progress_ctx = &pc;
    rep.n_total = a.o.limit > 0 && a.o.limit < d.n ? a.o.limit : d.n;
    t = (eval_take_ctx){.rep = &rep, .o = &a.o, .total = rep.n_total};
    double *cpu = NULL;
    int n_procs = 0, failed = cli_pool_run(&ops, &par, a.jobs, each, &cpu, &n_procs);
    if (pc.show && cpu && n_procs > 1) {   // the work of each process: what one core each would take
        fprintf(stderr, "eval: CPU seconds per process:");
        for (int i = 0; i < n_procs; i++) fprintf(stderr, " %.3f", cpu[i]);
        fputc('\n', stderr);
    }
    free(cpu);
    if (failed && t.status) rc = t.status;
    if (failed || rep.stopped) goto done;   // --on-bad fail: the bad record is already reported
    if (lrp_eval_report_end(&rep, &err)) {
        cli_lib_error(1, err.msg);
        goto done;
    }
    if (rep.n_records == 0) {
        cli_error(1, "%s %s: no record could be evaluated (%d bad)", flag, source, rep.n_bad);
        goto done;
    }
    if (!(options = options_json(&a))) {
        cli_error(1, "out of memory");
        goto done;
    }
    lrp_eval_render_ctx ctx = {s.model_path, s.m->cfg.model_type, source, a.span_field, a.o.seed, t.names,
                               sha, a.shard_k, a.shard_n, records_in_data, options,
                               s.m->nonfinite_first ? s.m->nonfinite_first->name : NULL,
                               (long long)s.m->nonfinite_first_index, s.m->nonfinite_count};

    // The plot first, so that nothing reaches stdout when it cannot be written. cli_output_commit
    // releases the struct whatever happens; clearing it keeps done: from releasing it again.
    if (a.plot) {
        lrp_render_eval_plot(plot.f, &rep, &ctx);
        int bad_plot = cli_output_commit(&plot);
        memset(&plot, 0, sizeof plot);
        if (bad_plot) goto done;
    }
    if (!strcmp(a.format, "json")) {
        if (lrp_render_eval_json(out.f, &rep, &ctx)) {
            cli_error(1, "out of memory");
            goto done;
        }
    } else {
        lrp_render_eval_text(out.f, &rep, &ctx);
    }
    rc = cli_output_commit(&out) ? 1 : 0;
    memset(&out, 0, sizeof out);
done:
    cli_output_abort(&plot);
    cli_output_abort(&out);
    for (int i = 0; t.names && i < rep.n_records; i++) free(t.names[i]);
    free(t.names);
    free(options);
    lrp_eval_report_free(&rep);
    lrp_session_close(&s);
    lrp_eval_data_free(&d);
    cli_par_quiet_end(&par);
    cli_par_finish();
    return rc;
}

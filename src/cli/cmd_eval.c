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

#include "cli/args.h"
#include "cli/commands.h"
#include "evaluate/batch.h"
#include "evaluate/runner.h"
#include "explain/methods.h"
#include "render/render.h"

static const char eval_usage[] =
    "usage: attnlrp eval [--model PATH] (--data FILE.jsonl | --images DIR-or-FILE.jsonl) [--methods M1,M2,...]\n"
    "                    [--steps 20] [--limit N] [--seed S] [--span-field F] [--on-bad skip|fail] [--progress]\n"
    "                    [--shard K/N]\n"
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
    "                   task of a job array; each shard reports its own summary (they are not joined yet)\n"
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
    "  --progress       progress on stderr even when it is not a terminal\n"
    "  --format F       text (default: a table) or json (every number, per record and the mean curves)\n"
    "  --plot FILE.svg  mean MoRF (solid) and LeRF (dashed) curves per method\n"
    "  -o FILE, --output FILE  write the result to FILE (written whole or not at all)\n"
    "  --help, -h       this help\n";

// ---- arguments ----

typedef struct {
    const char *model, *data, *images, *format, *plot, *out, *span_field;
    const char *shard;     // --shard K/N
    int shard_k, shard_n;
    int progress, methods_given, methods_all;
    lrp_eval_opts o;
} eval_args;

static int parse_eval_args(int argc, char **argv, eval_args *a) {
    memset(a, 0, sizeof *a);
    lrp_eval_opts_default(&a->o);
    a->format = "text";
    a->span_field = "span";
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
        else if (!strcmp(o, "--steps") || !strcmp(o, "--limit")) {
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

// ---- the command ----

int cmd_eval(int argc, char **argv) {
    eval_args a;
    int rc = parse_eval_args(argc, argv, &a);
    if (rc) return rc == 1 ? 0 : rc;

    lrp_err err;
    lrp_eval_data d;
    const char *source = a.data ? a.data : a.images, *flag = a.data ? "--data" : "--images";
    struct stat st;
    int from_dir = a.images && stat(a.images, &st) == 0 && S_ISDIR(st.st_mode);
    if (from_dir ? lrp_eval_data_from_dir(&d, a.images, &err) : lrp_eval_data_read(&d, source, &err))
        return cli_error(1, "%s %s", flag, err.msg);
    if (a.shard_n > 1) lrp_eval_data_shard(&d, a.shard_k, a.shard_n);
    if (d.n == 0) {
        lrp_eval_data_free(&d);
        return cli_error(1, "%s %s: no records (%s)", flag, source, from_dir ? "no .png, .jpg or .npy file" : "the file is empty");
    }
    lrp_session s = {0};
    lrp_eval_report rep = {0};
    cli_output out = {0}, plot = {0};
    char **names = NULL;
    rc = cli_session_open(&s, a.model);
    if (rc) goto done;
    rc = 1;
    int images = s.m->cfg.image_size > 0;
    if (images != (a.images != NULL)) {
        rc = cli_error(2, images ? "eval: %s is an image classifier: give --images" : "eval: %s reads text: give --data",
                       s.model_path);
        goto done;
    }
    if (!images && !s.tok) {
        cli_error(1, "%s: no tokenizer.json beside the model: eval reads text", s.model_path);
        goto done;
    }
    if (images && !a.methods_given) {   // every method, the gamma variants included (8 at most)
        a.o.n_methods = 0;
        for (int i = 0; i < lrp_methods_count() && a.o.n_methods < LRP_EVAL_MAX_METHODS; i++)
            if (!lrp_method_at(i)->extra) a.o.methods[a.o.n_methods++] = lrp_method_at(i)->id;
    }
    if (a.methods_all) {  // --methods all: every method that fits the model, the baselines included
        a.o.n_methods = 0;
        for (int i = 0; i < lrp_methods_count() && a.o.n_methods < LRP_EVAL_MAX_METHODS; i++) {
            int id = lrp_method_at(i)->id;
            if (lrp_method_fits(&s.m->cfg, id)) a.o.methods[a.o.n_methods++] = id;
        }
    }
    // Outputs first: a bad path fails now, not after the whole run; both are written whole or not at all.
    if ((a.plot && cli_output_open_flag(&plot, a.plot, "--plot")) || cli_output_open(&out, a.out)) goto done;
    int tty = isatty(STDERR_FILENO);
    progress_ctx pc = {source, a.progress || tty, tty, now_seconds(), now_seconds()};
    a.o.progress = on_record;
    a.o.progress_ctx = &pc;
    if (lrp_evaluate(s.m, s.tok, &d, &a.o, &rep, &err)) {
        rc = cli_lib_error(1, err.msg);
        goto done;
    }
    if (rep.stopped) goto done;   // --on-bad fail: the bad record is already reported
    if (rep.n_records == 0) {
        cli_error(1, "%s %s: no record could be evaluated (%d bad)", flag, source, rep.n_bad);
        goto done;
    }
    names = calloc((size_t)rep.n_records, sizeof *names);
    if (!names) goto done;
    for (int i = 0; i < rep.n_records; i++) names[i] = lrp_output_string(&s.m->cfg, s.tok, rep.records[i].target);
    lrp_eval_render_ctx ctx = {s.model_path, s.m->cfg.model_type, source, a.span_field, a.o.seed, names,
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
    for (int i = 0; names && i < rep.n_records; i++) free(names[i]);
    free(names);
    lrp_eval_report_free(&rep);
    lrp_session_close(&s);
    lrp_eval_data_free(&d);
    return rc;
}

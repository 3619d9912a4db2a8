// attnlrp weights: the relevance of every linear weight, R(W) = W ⊙ ĝ_W, summed over the records of a
// JSONL file (each explained as explain would), written as safetensors; optionally a pruned checkpoint.
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "evaluate/data.h"
#include "explain/memory.h"
#include "explain/methods.h"
#include "explain/weights.h"
#include "inputs/text.h"

static const char weights_usage[] =
    "usage: attnlrp weights [--model PATH] --data PROMPTS.jsonl [-o R.safetensors] [--method M] [--limit N] [--abs]\n"
    "                       [--prune FRACTION --pruned DIR [--prune-by relevance|magnitude]] [--max-memory SIZE]\n"
    "                       [--format text|json]\n"
    "\n"
    "The relevance of every weight that a linear layer multiplies by, R(W) = W * g_W: g_W is the gradient of the\n"
    "explained logit with respect to W in the same one backward pass as the explanation (the method's rules act\n"
    "on the activations; a linear's weight gradient is g(y)^T x), summed over the records. Each record is\n"
    "explained as `attnlrp explain` would: {\"text\": \"...\", \"text_pair\": ... (optional), \"target\": \" Rex\"\n"
    "(optional; default: the prediction)} (eval's data files work as they are) or {\"ids\": [1, 5, 7],\n"
    "\"target_id\": N (optional)}, at the last position (masked\n"
    "LMs: the first mask token). R.safetensors holds one float32 tensor per weight under the checkpoint's own\n"
    "name and shape (fused tensors whole: c_attn, qkv_proj, gate_up_proj); the output head (lm_head, or the tied\n"
    "embedding, or the classifier) is included. Memory: one float32 accumulator per element of the weights\n"
    "being accumulated, no per-record copy. When all of them do not fit the budget (--max-memory), the run\n"
    "streams: the weight tensors, in name order (a layer's tensors together), are cut into groups that fit,\n"
    "and each group is one pass over the records (the explanations recomputed), its R(W) written to -o and\n"
    "its accumulators freed before the next; after the first pass the later groups are cut again from the\n"
    "tensors the records reach and the plan is printed on stderr. The results are bit-identical.\n"
    "\n"
    "  --data FILE        JSONL records (required; blank lines are ignored)\n"
    "  -o FILE            the relevance as safetensors (written whole or not at all)\n"
    "  --method M         attnlrp (default), cplrp or gradxinput\n"
    "  --limit N          only the first N records\n"
    "  --prune F          write a pruned copy of the checkpoint to --pruned DIR: in every linear weight but the\n"
    "                     output head, the fraction F (0 <= F < 1) of its elements with the lowest |R(W)| set\n"
    "                     to 0 (per tensor); config, tokenizer and the other files copied; measure it with\n"
    "                     attnlrp eval --model DIR\n"
    "  --pruned DIR       where the pruned checkpoint goes (created if missing)\n"
    "  --prune-by B       relevance (default) or magnitude (the lowest |W|, the usual baseline)\n"
    "  --abs              accumulate each record's |R(W)| instead of R(W) (SparC3-style; per-record signs do\n"
    "                     not cancel)\n"
    "  --max-memory SIZE  the memory the accumulators may use (512M, 2G; --prune adds 1 byte per weight\n"
    "                     element for its masks); default: half the available memory (MemAvailable, ulimit -v)\n"
    "  --format F         the summary on stdout: text (default) or json (per tensor: name, shape, sum, head;\n"
    "                     the plan: passes, accumulator_bytes, budget_bytes)\n"
    "  --help, -h         this help\n";

typedef struct {
    const char *model, *data, *out, *pruned, *format;
    int method, limit, have_prune, abs;
    double prune;
    size_t max_memory;  // 0: half the available memory
    lrp_prune_by by;
} weights_args;

static int parse_args(int argc, char **argv, weights_args *a) {
    memset(a, 0, sizeof *a);
    a->format = "text";
    a->method = LRP_METHOD_ATTNLRP;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = NULL;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            fputs(weights_usage, stdout);
            return 1;
        }
        if (!strcmp(o, "--abs")) {
            a->abs = 1;
            continue;
        }
        static const char *const opts[] = {"--model", "--data", "-o", "--method", "--limit", "--prune", "--pruned",
                                           "--prune-by", "--format", "--max-memory", NULL};
        int got = cli_option_value(&argc, &argv, &i, "weights", opts, &v);
        if (got == 1) continue;
        if (got) return 2;
        if (!strcmp(o, "--model")) a->model = v;
        else if (!strcmp(o, "--data")) a->data = v;
        else if (!strcmp(o, "-o")) a->out = v;
        else if (!strcmp(o, "--pruned")) a->pruned = v;
        else if (!strcmp(o, "--max-memory")) {
            if (lrp_parse_size(v, &a->max_memory) || a->max_memory == 0)
                return cli_error(2, "--max-memory %s: expected a size (512M, 2G)", v);
        }
        else if (!strcmp(o, "--format")) {
            if (strcmp(v, "text") && strcmp(v, "json")) return cli_error(2, "--format %s: expected text or json", v);
            a->format = v;
        } else if (!strcmp(o, "--method")) {
            static const char *const methods[] = {"attnlrp", "cplrp", "gradxinput", NULL};
            int m;
            if (cli_parse_method_among(v, methods, &m)) return 2;
            a->method = (lrp_method)m;
        } else if (!strcmp(o, "--limit")) {
            if (arg_int(o, v, &a->limit)) return 2;
            if (a->limit < 1) return cli_error(2, "--limit %d: must be at least 1", a->limit);
        } else if (!strcmp(o, "--prune")) {
            if (arg_float(o, v, &a->prune)) return 2;
            if (!(a->prune >= 0 && a->prune < 1))
                return cli_error(2, "--prune %s: the fraction must be in [0, 1)", v);
            a->have_prune = 1;
        } else if (!strcmp(o, "--prune-by")) {
            if (!strcmp(v, "relevance")) a->by = LRP_PRUNE_RELEVANCE;
            else if (!strcmp(v, "magnitude")) a->by = LRP_PRUNE_MAGNITUDE;
            else return cli_error(2, "--prune-by %s: expected relevance or magnitude", v);
        }
    }
    if (!a->data) return cli_error(2, "weights: give --data PROMPTS.jsonl");
    if (a->have_prune != !!a->pruned) return cli_error(2, a->have_prune ? "--prune: give --pruned DIR too" : "--pruned: give --prune FRACTION too");
    if (!a->out && !a->have_prune) return cli_error(2, "weights: give -o R.safetensors and/or --prune F --pruned DIR");
    return 0;
}

static int lrp_is_directory(const char *path) {
    struct stat st;
    return !stat(path, &st) && S_ISDIR(st.st_mode);
}

// Explains record r (line line_no) into the accumulator. 0, or -1 with err (naming the field).
static int add_record(const lrp_session *s, const weights_args *a, lrp_wrel *w, const char *line, size_t len,
                      lrp_err *err) {
    const lrp_model *m = s->m;
    lrp_text_inputs ti = {0};
    int target = -1;
    // {"ids": [...], "target_id": N (optional)}: token ids as they are (checkpoints without a tokenizer)
    json_t *rec = json_loadb(line, len, 0, NULL), *jids = json_is_object(rec) ? json_object_get(rec, "ids") : NULL;
    if (jids) {
        json_t *jt = json_object_get(rec, "target_id");
        size_t n = json_is_array(jids) ? json_array_size(jids) : 0;
        int ok = n > 0 && n < (1u << 24) && (!jt || json_is_integer(jt)) && (ti.ids = malloc(n * sizeof(int)));
        for (size_t i = 0; ok && i < n; i++) {
            json_t *v = json_array_get(jids, i);
            ok = json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 0x7fffffff;
            if (ok) ti.ids[i] = (int)json_integer_value(v);
        }
        if (ok && jt) ok = json_integer_value(jt) >= 0 && json_integer_value(jt) < lrp_model_n_outputs(m);
        if (ok) target = jt ? (int)json_integer_value(jt) : -1;
        json_decref(rec);
        if (!ok) {
            free(ti.ids);
            return lrp_fail(err, "\"ids\" must be a non-empty array of token ids (\"target_id\": an output id)");
        }
        ti.T = (int)n;
    } else {
        json_decref(rec);
    }
    lrp_eval_record r = {0};
    if (!ti.ids && lrp_eval_parse_record(line, len, NULL, &r, err)) return -1;
    lrp_explanation e = {0};
    int rc = -1, position = -1, start = m->cfg.decoder_start_token_id;
    int seq2seq = m->cfg.task == LRP_TASK_SEQ2SEQ_LM;
    if (r.image) {
        lrp_fail(err, "\"image\": weights reads text records");
        goto done;
    }
    if (!ti.ids && !s->tok) {
        lrp_fail(err, "\"text\": the model has no tokenizer (give \"ids\")");
        goto done;
    }
    if (!ti.ids && lrp_encode_text(s->tok, &m->cfg, r.text, r.text_len, r.text_pair, r.pair_len, &ti, err)) goto done;
    if (r.target && lrp_resolve_target(&m->cfg, s->tok, "\"target\"", r.target, &target, err)) goto done;
    if (!seq2seq && lrp_default_position(&m->cfg, s->tok, ti.ids, ti.T, &position, err)) goto done;
    lrp_explain_opts o;
    lrp_explain_opts_default(&o);
    o.method = (lrp_method)a->method;
    o.target = target;
    o.position = m->cfg.task == LRP_TASK_CLASSIFIER ? -1 : seq2seq ? 0 : position;
    o.on_node = lrp_wrel_hook;
    o.on_node_ctx = w;
    lrp_inputs in = {.ids = ti.ids, .T = ti.T, .token_types = ti.token_types};
    if (seq2seq) {
        in.decoder_ids = &start;
        in.decoder_T = 1;
    }
    lrp_wrel_begin(w);
    if (lrp_explain_inputs(m, &in, &o, &e, err) || lrp_wrel_status(w, err)) goto done;
    rc = 0;
done:
    lrp_explanation_free(&e);
    lrp_text_inputs_free(&ti);
    lrp_eval_record_free(&r);
    return rc;
}

int cmd_weights(int argc, char **argv) {
    weights_args a;
    int prc = parse_args(argc, argv, &a);
    if (prc) return prc == 1 ? 0 : prc;
    lrp_eval_data d = {0};
    lrp_err err;
    if (lrp_eval_data_read(&d, a.data, &err)) return cli_error(1, "--data %s", err.msg);
    if (d.n == 0) {
        lrp_eval_data_free(&d);
        return cli_error(2, "--data %s: no records (the file is empty)", a.data);
    }
    lrp_session s = {0};
    lrp_wrel w;
    lrp_wrel_init(&w);
    lrp_wrel_plan plan = {0};
    lrp_wrel_out out = {0};
    w.abs = a.abs;
    int rc = cli_session_open(&s, a.model);
    if (rc) goto done;
    if (a.have_prune && (strcmp(s.m->format, "safetensors") || !lrp_is_directory(s.model_path))) {
        rc = cli_error(2, "--prune: %s is not a Hugging Face checkpoint directory (the pruned copy is one; GGUF files "
                          "and single .safetensors files are not copied)", s.model_path);
        goto done;
    }
    if (a.have_prune) {
        struct stat st;
        char r1[4096], r2[4096];
        if (!stat(a.pruned, &st) && !S_ISDIR(st.st_mode)) {
            rc = cli_error(2, "--pruned %s: exists and is not a directory", a.pruned);
            goto done;
        }
        if (realpath(a.pruned, r1) && realpath(s.model_path, r2) && !strcmp(r1, r2)) {
            rc = cli_error(2, "--pruned %s: is the model's own directory", a.pruned);
            goto done;
        }
    }
    rc = 1;
    int n = a.limit > 0 && a.limit < d.n ? a.limit : d.n;
    // The memory plan: every weight tensor's accumulator at once when they fit the budget, else groups.
    int as = 0;
    const char *source = "--max-memory";
    size_t budget = a.max_memory ? a.max_memory : lrp_memory_available(0, &as, &source) / 2;
    if (lrp_wrel_plan_make(s.m, SIZE_MAX, &plan, &err)) {
        cli_error(1, "%s", err.msg);
        goto done;
    }
    size_t masks = a.have_prune ? plan.total / sizeof(float) : 0, acc_budget = budget > masks ? budget - masks : 0;
    char b1[32], b2[32], b3[32];
    if (plan.total > acc_budget) {
        if (a.max_memory && plan.largest_tensor > acc_budget) {
            cli_error(1, "--max-memory %s: too small: the largest weight tensor (%s) needs %s of accumulator%s%s",
                      lrp_format_bytes(budget, b1, sizeof b1), plan.largest_name,
                      lrp_format_bytes(plan.largest_tensor, b2, sizeof b2), masks ? " and the pruning masks " : "",
                      masks ? lrp_format_bytes(masks, b3, sizeof b3) : "");
            goto done;
        }
        lrp_wrel_plan_free(&plan);
        if (lrp_wrel_plan_make(s.m, acc_budget, &plan, &err)) {
            cli_error(1, "%s", err.msg);
            goto done;
        }
    }
    int G = plan.n_groups;
    char records[32];
    snprintf(records, sizeof records, "%d", n);
    const char *meta[] = {"method", lrp_method_name(a.method), "records", records, "model", s.model_path,
                          "accumulate", a.abs ? "sum of |R(W)| per record" : "sum of R(W)"};
    for (int g = 0; g < G; g++) {
        if (G > 1) lrp_wrel_select(&w, s.m, &plan, g);
        for (int i = 0; i < n; i++)
            if (add_record(&s, &a, &w, d.lines[i], d.line_len[i], &err)) {
                cli_error(1, "--data %s:%d: %s", a.data, d.line_no[i], err.msg);
                goto done;
            }
        if (g == 0) {
            lrp_wrel_sort(&w);
            w.closed = 1;  // later passes reach the same tensors
            if (G > 1) {   // the rest cut again from the tensors the records reach
                lrp_wrel_replan(&plan, &w, s.m, acc_budget);
                G = plan.n_groups;
                fprintf(stderr, "weights: memory plan: %d passes over the %d records, each accumulating one group of "
                                "weight tensors (accumulators: at most %s at a time of %s in all; budget %s from %s%s%s)\n",
                        G, n, lrp_format_bytes(plan.largest_group, b1, sizeof b1),
                        lrp_format_bytes(plan.total, b2, sizeof b2), lrp_format_bytes(budget, b3, sizeof b3), source,
                        a.max_memory ? "" : ", halved", masks ? ", less 1 byte per element for the pruning masks" : "");
            }
            if (a.out && lrp_wrel_out_begin(&out, &w, a.out, meta, 8, &err)) {
                cli_error(1, "-o %s", err.msg);
                goto done;
            }
        }
        // This group's tensors (in name order, so the file is written in order): sums, masks, R(W) out.
        for (int i = 0; i < w.n; i++) {
            if (G > 1 && lrp_wrel_group(&w, i) != g) continue;
            lrp_wrel_stats(&w, i);
            if (a.have_prune && lrp_wrel_prune_mask(&w, i, a.prune, a.by, &err)) {
                cli_error(1, "%s", err.msg);
                goto done;
            }
            if (a.out && lrp_wrel_out_put(&out, &w, i, &err)) {
                cli_error(1, "-o %s", err.msg);
                goto done;
            }
            if (G > 1) lrp_wrel_release(&w, i);
        }
    }
    if (a.out && lrp_wrel_out_commit(&out, &err)) {
        cli_error(1, "-o %s", err.msg);
        goto done;
    }
    int64_t pruned = 0, total = 0;
    if (a.have_prune && lrp_wrel_prune(&w, s.m, a.pruned, a.prune, a.by, &pruned, &total, &err)) {
        if (!strncmp(err.msg, a.pruned, strlen(a.pruned))) cli_error(1, "--pruned %s", err.msg);
        else cli_error(1, "%s", err.msg);
        goto done;
    }
    int json = !strcmp(a.format, "json");
    if (json)
        printf("{\"records\": %d, \"method\": \"%s\", \"passes\": %d, \"accumulator_bytes\": %zu, \"budget_bytes\": "
               "%zu, \"tensors\": [", n, lrp_method_name(a.method), G, plan.largest_group, budget);
    else printf("%d records, method %s, %d weight tensors\n", n, lrp_method_name(a.method), w.n);
    for (int i = 0; i < w.n; i++) {
        const lrp_wrel_tensor *t = &w.ts[i];
        double sum = t->sum, abs = t->abs_sum;
        if (json) {
            printf("%s\n  {\"name\": \"%s\", \"shape\": [", i ? "," : "", t->t->name);
            for (int dd = 0; dd < t->t->ndim; dd++) printf("%s%lld", dd ? ", " : "", (long long)t->t->shape[dd]);
            printf("], \"sum\": %.9g, \"abs_sum\": %.9g, \"head\": %s}", sum, abs, t->head ? "true" : "false");
        } else {
            printf("  %-48s sum %12.5g  |R| sum %12.5g%s\n", t->t->name, sum, abs, t->head ? "  (output head)" : "");
        }
    }
    if (json) printf("\n], \"pruned\": %lld, \"pruned_of\": %lld}\n", (long long)pruned, (long long)total);
    else if (a.have_prune)
        printf("pruned %lld of %lld elements (%.1f%%) by %s into %s\n", (long long)pruned, (long long)total,
               total ? 100.0 * (double)pruned / (double)total : 0.0, a.by == LRP_PRUNE_RELEVANCE ? "relevance" : "magnitude",
               a.pruned);
    rc = 0;
done:
    lrp_wrel_out_abort(&out);
    lrp_wrel_plan_free(&plan);
    lrp_wrel_free(&w);
    lrp_session_close(&s);
    lrp_eval_data_free(&d);
    return rc;
}

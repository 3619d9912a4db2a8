// attnlrp circuit: relevance patching (RelP) of every attention head and MLP for a clean / corrupted prompt
// pair, next to exact activation patching and their correlation (explain/circuit.h).
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "evaluate/data.h"
#include "explain/circuit.h"
#include "render/render.h"

static const char circuit_usage[] =
    "usage: attnlrp circuit [--model PATH] (--clean TEXT --corrupt TEXT | --clean-ids IDS --corrupt-ids IDS |\n"
    "                       --data PAIRS.jsonl [--limit N]) [--target TOKEN | --target-id N]\n"
    "                       [--foil TOKEN | --foil-id N | --no-foil] [--method M] [--no-exact] [--top K]\n"
    "                       [--format text|json] [-o FILE]\n"
    "\n"
    "Scores every attention head's output (its slice of the o-projection's input) and every MLP's output (its\n"
    "intermediate, the down projection's input) for a clean / corrupted pair of prompts of the same length, on\n"
    "the metric m = logit(target) - logit(foil) at the last position (target: the clean prediction; foil: the\n"
    "corrupted prediction when it differs, else none and m = logit(target)):\n"
    "  relp    RelP (relevance patching): (a_clean - a_corrupt) . g, summed over positions and units, where g is\n"
    "          the modified gradient of m in the corrupted run under the method's rules (attnlrp: RelP;\n"
    "          gradxinput: attribution patching); 2 forwards and 1 backward in all\n"
    "  patch   activation patching: m(corrupted run with the component's clean activation patched in, at every\n"
    "          position) - m(corrupted run); one forward per component\n"
    "and the Pearson and Spearman correlation of the two over all components.\n"
    "--data reads one pair per line, {\"clean\": \"...\", \"corrupt\": \"...\"} or {\"clean_ids\": [...],\n"
    "\"corrupt_ids\": [...]}, and adds the correlation pooled over every pair's components and its mean per pair.\n"
    "\n"
    "  --clean TEXT, --corrupt TEXT      the pair (encoded with special tokens, as explain does)\n"
    "  --clean-ids IDS, --corrupt-ids IDS   the pair as token ids (1,5,7)\n"
    "  --data FILE        pairs, one JSON object per line\n"
    "  --limit N          only the first N pairs\n"
    "  --target TOKEN, --target-id N   the metric's target (default: the clean prediction)\n"
    "  --foil TOKEN, --foil-id N       the metric's foil (default: the corrupted prediction if it differs)\n"
    "  --no-foil          m = logit(target)\n"
    "  --method M         attnlrp (default), cplrp or gradxinput\n"
    "  --no-exact         skip activation patching (RelP only: 2 forwards + 1 backward)\n"
    "  --top K            text: the K components with the largest |patch| (|relp| with --no-exact; default 10)\n"
    "  --format F         text (default) or json (every component)\n"
    "  -o FILE            write there instead of stdout\n"
    "  --help, -h         this help\n";

typedef struct {
    const char *model, *clean, *corrupt, *clean_ids, *corrupt_ids, *data, *target, *foil, *format, *out;
    int target_id, foil_id, no_foil, exact, top, limit;
    lrp_method method;
} circuit_args;

static int parse_args(int argc, char **argv, circuit_args *a) {
    memset(a, 0, sizeof *a);
    a->format = "text";
    a->target_id = a->foil_id = -1;
    a->exact = 1;
    a->top = 10;
    a->method = LRP_METHOD_ATTNLRP;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = NULL;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            fputs(circuit_usage, stdout);
            return 1;
        }
        if (!strcmp(o, "--no-foil")) {
            a->no_foil = 1;
            continue;
        }
        if (!strcmp(o, "--no-exact")) {
            a->exact = 0;
            continue;
        }
        static const char *const opts[] = {"--model", "--clean", "--corrupt", "--clean-ids", "--corrupt-ids", "--data",
                                           "--limit", "--target", "--target-id", "--foil", "--foil-id", "--method",
                                           "--top", "--format", "-o", NULL};
        int got = cli_option_value(&argc, &argv, &i, "circuit", opts, &v);
        if (got == 1) continue;
        if (got) return 2;
        if (!strcmp(o, "--model")) a->model = v;
        else if (!strcmp(o, "--clean")) a->clean = v;
        else if (!strcmp(o, "--corrupt")) a->corrupt = v;
        else if (!strcmp(o, "--clean-ids")) a->clean_ids = v;
        else if (!strcmp(o, "--corrupt-ids")) a->corrupt_ids = v;
        else if (!strcmp(o, "--data")) a->data = v;
        else if (!strcmp(o, "--target")) a->target = v;
        else if (!strcmp(o, "--foil")) a->foil = v;
        else if (!strcmp(o, "-o")) a->out = v;
        else if (!strcmp(o, "--format")) {
            if (strcmp(v, "text") && strcmp(v, "json")) return cli_error(2, "--format %s: expected text or json", v);
            a->format = v;
        } else if (!strcmp(o, "--method")) {
            static const char *const methods[] = {"attnlrp", "cplrp", "gradxinput", NULL};
            int m;
            if (cli_parse_method_among(v, methods, &m)) return 2;
            a->method = (lrp_method)m;
        } else {
            int x;
            if (arg_int(o, v, &x)) return 2;
            if (x < (!strcmp(o, "--limit") || !strcmp(o, "--top") ? 1 : 0))
                return cli_error(2, "%s %d: must be at least %d", o, x, !strcmp(o, "--limit") || !strcmp(o, "--top") ? 1 : 0);
            if (!strcmp(o, "--limit")) a->limit = x;
            else if (!strcmp(o, "--top")) a->top = x;
            else if (!strcmp(o, "--target-id")) a->target_id = x;
            else a->foil_id = x;
        }
    }
    int pair = a->clean || a->corrupt || a->clean_ids || a->corrupt_ids;
    if (a->data && pair) return cli_error(2, "circuit: give --data or a pair (--clean/--corrupt), not both");
    if (!a->data && !((a->clean || a->clean_ids) && (a->corrupt || a->corrupt_ids)))
        return cli_error(2, "circuit: give --clean TEXT and --corrupt TEXT (or --clean-ids/--corrupt-ids, or --data PAIRS.jsonl)");
    if ((a->clean && a->clean_ids) || (a->corrupt && a->corrupt_ids))
        return cli_error(2, "circuit: give each prompt as text or as ids, not both");
    if ((a->target && a->target_id >= 0) || (a->foil && a->foil_id >= 0) || (a->no_foil && (a->foil || a->foil_id >= 0)))
        return cli_error(2, "circuit: give one of --target/--target-id, and one of --foil/--foil-id/--no-foil");
    if (a->clean && cli_empty_text("--clean", a->clean)) return 2;
    if (a->corrupt && cli_empty_text("--corrupt", a->corrupt)) return 2;
    return 0;
}

static char *tok_str(const lrp_session *s, int id) {
    char *t = s->tok ? lrp_token_string(s->tok, id) : NULL;
    if (t) return t;
    char buf[32];
    snprintf(buf, sizeof buf, "[%d]", id);
    return strdup(buf);
}

static double corr_of(const lrp_circuit *c, int spearman) {
    double *x = malloc((size_t)c->n * sizeof *x), *y = malloc((size_t)c->n * sizeof *y);
    double r = NAN;
    if (x && y) {
        for (int i = 0; i < c->n; i++) x[i] = c->relp[i], y[i] = c->patch[i];
        r = spearman ? lrp_spearman(x, y, c->n) : lrp_pearson(x, y, c->n);
    }
    free(x);
    free(y);
    return r;
}

static json_t *pair_json(const lrp_session *s, const lrp_circuit *c, const char *method) {
    json_t *comps = json_array();
    int H = c->n_heads;
    for (int i = 0; i < c->n; i++) {
        int l = i / (H + 1), h = i % (H + 1);
        json_t *o = json_pack("{s:i}", "layer", l);
        if (h < H) {
            json_object_set_new(o, "kind", json_string("head"));
            json_object_set_new(o, "head", json_integer(h));
        } else {
            json_object_set_new(o, "kind", json_string("mlp"));
        }
        json_object_set_new(o, "relp", lrp_jv_number(c->relp[i]));
        if (c->patch) json_object_set_new(o, "patch", lrp_jv_number(c->patch[i]));
        json_array_append_new(comps, o);
    }
    char *tt = tok_str(s, c->target), *ft = c->foil >= 0 ? tok_str(s, c->foil) : NULL;
    json_t *d = json_pack("{s:s, s:i, s:o, s:o, s:o, s:o, s:o}", "method", method, "target", c->target, "target_token",
                          lrp_jv_text(tt), "foil", c->foil >= 0 ? json_integer(c->foil) : json_null(), "foil_token",
                          ft ? lrp_jv_text(ft) : json_null(), "metric_clean", lrp_jv_number(c->metric_clean),
                          "metric_corrupt", lrp_jv_number(c->metric_corrupt));
    free(tt);
    free(ft);
    json_object_set_new(d, "tokens", json_integer(c->T));
    if (c->patch) {
        json_object_set_new(d, "pearson", lrp_jv_number(corr_of(c, 0)));
        json_object_set_new(d, "spearman", lrp_jv_number(corr_of(c, 1)));
    }
    json_object_set_new(d, "forwards", json_integer(c->forwards));
    json_object_set_new(d, "backwards", json_integer(c->backwards));
    json_object_set_new(d, "components", comps);
    return d;
}

typedef struct ranked {
    float key;
    int i;
} ranked;

static int by_key_desc(const void *a, const void *b) {  // larger |key| first, then the lower index
    const ranked *x = a, *y = b;
    if (x->key != y->key) return (x->key < y->key) - (x->key > y->key);
    return (x->i > y->i) - (x->i < y->i);
}

static void print_pair(FILE *f, const lrp_session *s, const lrp_circuit *c, int top) {
    char *tt = tok_str(s, c->target), *ft = c->foil >= 0 ? tok_str(s, c->foil) : NULL;
    fprintf(f, "metric: logit(%s)%s%s%s = %.4f clean, %.4f corrupted (%d tokens)\n", tt, ft ? " - logit(" : "",
            ft ? ft : "", ft ? ")" : "", c->metric_clean, c->metric_corrupt, c->T);
    free(tt);
    free(ft);
    if (c->patch)
        fprintf(f, "RelP vs activation patching over %d components: Pearson %.3f, Spearman %.3f (%d forwards, %d backward)\n",
                c->n, corr_of(c, 0), corr_of(c, 1), c->forwards, c->backwards);
    const float *key = c->patch ? c->patch : c->relp;
    ranked *idx = malloc((size_t)c->n * sizeof *idx);
    if (!idx) return;
    for (int i = 0; i < c->n; i++) idx[i] = (ranked){isnan(key[i]) ? -1.0f : fabsf(key[i]), i};
    qsort(idx, (size_t)c->n, sizeof *idx, by_key_desc);
    fprintf(f, "%-10s %12s%s\n", "component", "relp", c->patch ? "        patch" : "");
    for (int r = 0; r < top && r < c->n; r++) {
        int i = idx[r].i, H = c->n_heads, l = i / (H + 1), h = i % (H + 1);
        char name[32];
        if (h < H) snprintf(name, sizeof name, "L%d.H%d", l, h);
        else snprintf(name, sizeof name, "L%d.MLP", l);
        fprintf(f, "%-10s %12.4f", name, c->relp[i]);
        if (c->patch) fprintf(f, " %12.4f", c->patch[i]);
        fputc('\n', f);
    }
    free(idx);
}

// The ids of one side: text (encoded), an ids option, or a JSON record's field. 0, or an exit status.
static int side_ids(const lrp_session *s, const char *flag, const char *text, const char *ids_arg, lrp_text_inputs *in) {
    if (ids_arg) return arg_int_list(flag, ids_arg, &in->ids, &in->T) ? 2 : 0;
    if (!s->tok) return cli_error(1, "%s: the model has no tokenizer: give the pair as ids", flag);
    lrp_err err;
    if (lrp_session_encode(s, text, NULL, in, &err)) return cli_error(1, "%s: %s", flag, err.msg);
    return 0;
}

static int json_ids(json_t *arr, lrp_text_inputs *in) {
    size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
    if (n == 0 || n > (1u << 24) || !(in->ids = malloc(n * sizeof(int)))) return -1;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(arr, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 0x7fffffff) return -1;
        in->ids[i] = (int)json_integer_value(v);
    }
    in->T = (int)n;
    return 0;
}

int cmd_circuit(int argc, char **argv) {
    circuit_args a;
    int prc = parse_args(argc, argv, &a);
    if (prc) return prc == 1 ? 0 : prc;
    lrp_session s = {0};
    lrp_eval_data d = {0};
    cli_output out = {0};
    json_t *doc = NULL, *pairs = NULL;
    double *px = NULL, *py = NULL;
    lrp_err err;
    int rc = cli_session_open(&s, a.model);
    if (rc) return rc;
    lrp_circuit_opts o;
    lrp_circuit_opts_default(&o);
    o.method = a.method;
    o.exact = a.exact;
    o.target = a.target_id;
    o.foil = a.no_foil ? -2 : a.foil_id;
    if (a.target && lrp_session_target(&s, "--target", a.target, &o.target, &err)) {
        rc = cli_lib_error(2, err.msg);
        goto done;
    }
    if (a.foil && lrp_session_target(&s, "--foil", a.foil, &o.foil, &err)) {
        rc = cli_lib_error(2, err.msg);
        goto done;
    }
    int json = !strcmp(a.format, "json");
    const char *method = lrp_method_name(a.method);
    if (!a.data) {
        lrp_text_inputs ci = {0}, ki = {0};
        lrp_circuit c = {0};
        rc = side_ids(&s, a.clean_ids ? "--clean-ids" : "--clean", a.clean, a.clean_ids, &ci);
        if (!rc) rc = side_ids(&s, a.corrupt_ids ? "--corrupt-ids" : "--corrupt", a.corrupt, a.corrupt_ids, &ki);
        if (!rc && ci.T != ki.T)
            rc = cli_error(2, "--corrupt: %d tokens, --clean %d (a pair must have the same length)", ki.T, ci.T);
        if (!rc && lrp_circuit_run(s.m, ci.ids, ki.ids, ci.T, &o, &c, &err)) {
            // parameters named by the library: clean, corrupt (ids), target, foil -> their flags
            int ids = !strncmp(err.msg, "clean:", 6) || !strncmp(err.msg, "corrupt:", 8);
            int flag = ids || !strncmp(err.msg, "target ", 7) || !strncmp(err.msg, "foil ", 5);
            const char *msg = err.msg + (ids ? strcspn(err.msg, ":") : 0);
            char name[16] = "";
            if (ids) snprintf(name, sizeof name, "%.*s-ids", (int)strcspn(err.msg, ":"), err.msg);
            else if (flag) {  // "target 9: ..." -> "--target-id 9: ..." when the id was given as such
                int t = err.msg[0] == 't';
                snprintf(name, sizeof name, "%s%s", t ? "target" : "foil", (t ? a.target_id : a.foil_id) >= 0 ? "-id" : "");
                msg = err.msg + strcspn(err.msg, " ");
            }
            if (flag) rc = cli_error(2, "--%s%s", name, msg);
            else rc = cli_error(!strncmp(err.msg, "model:", 6) ? 2 : 1, "%s", err.msg);
        }
        lrp_text_inputs_free(&ci);
        lrp_text_inputs_free(&ki);
        if (!rc && cli_output_open(&out, a.out)) rc = 1;
        if (!rc) {
            if (json) {
                if (lrp_jv_dump(out.f, pair_json(&s, &c, method), 1)) rc = cli_error(1, "out of memory");  // takes it
            } else {
                print_pair(out.f, &s, &c, a.top);
            }
            if (rc) cli_output_abort(&out);
            else if (cli_output_commit(&out)) rc = 1;
        }
        lrp_circuit_free(&c);
        goto done;
    }

    // --data: one pair per line, pooled and mean correlations
    if (lrp_eval_data_read(&d, a.data, &err)) {
        rc = cli_error(1, "--data %s", err.msg);
        goto done;
    }
    if (d.n == 0) {
        rc = cli_error(2, "--data %s: no pairs (the file is empty)", a.data);
        goto done;
    }
    int n = a.limit > 0 && a.limit < d.n ? a.limit : d.n, np = 0, cap = 0, n_corr = 0;
    double mean_p = 0, mean_s = 0;
    pairs = json_array();
    rc = 1;
    for (int i = 0; i < n; i++) {
        json_t *rec = json_loadb(d.lines[i], d.line_len[i], 0, NULL);
        lrp_text_inputs side[2] = {{0}, {0}};
        const char *names[2][2] = {{"clean", "clean_ids"}, {"corrupt", "corrupt_ids"}};
        int bad = !json_is_object(rec);
        for (int k = 0; !bad && k < 2; k++) {
            json_t *t = json_object_get(rec, names[k][0]), *ids = json_object_get(rec, names[k][1]);
            if (json_is_string(t) && s.tok)
                bad = lrp_session_encode(&s, json_string_value(t), NULL, &side[k], &err) != 0;
            else if (ids)
                bad = json_ids(ids, &side[k]) ? (lrp_fail(&err, "\"%s\" must be an array of token ids", names[k][1]), 1) : 0;
            else
                bad = (lrp_fail(&err, "no \"%s\" text (or \"%s\")", names[k][0], names[k][1]), 1);
        }
        if (!json_is_object(rec)) lrp_fail(&err, "not a JSON object");
        if (!bad && side[0].T != side[1].T)
            bad = (lrp_fail(&err, "corrupt: %d tokens, clean %d (a pair must have the same length)", side[1].T, side[0].T), 1);
        lrp_circuit c = {0};
        if (!bad) bad = lrp_circuit_run(s.m, side[0].ids, side[1].ids, side[0].T, &o, &c, &err) != 0;
        json_decref(rec);
        lrp_text_inputs_free(&side[0]);
        lrp_text_inputs_free(&side[1]);
        if (bad) {
            cli_error(1, "--data %s:%d: %s", a.data, d.line_no[i], err.msg);
            goto done;
        }
        json_t *pj = pair_json(&s, &c, method);
        json_object_set_new(pj, "index", json_integer(i));
        if (!json) json_object_del(pj, "components");
        json_array_append_new(pairs, pj);
        if (c.patch) {
            double pr = corr_of(&c, 0), sr = corr_of(&c, 1);
            if (isfinite(pr) && isfinite(sr)) mean_p += pr, mean_s += sr, n_corr++;
            if (np + c.n > cap) {
                cap = 2 * (np + c.n);
                double *nx = realloc(px, (size_t)cap * sizeof *px), *ny = nx ? realloc(py, (size_t)cap * sizeof *py) : NULL;
                if (nx) px = nx;
                if (!nx || !ny) {
                    lrp_circuit_free(&c);
                    cli_error(1, "out of memory");
                    goto done;
                }
                py = ny;
            }
            for (int k = 0; k < c.n; k++) px[np] = c.relp[k], py[np++] = c.patch[k];
        }
        lrp_circuit_free(&c);
    }
    doc = json_pack("{s:s, s:i}", "method", method, "pairs_read", n);
    if (a.exact) {
        json_object_set_new(doc, "pooled_pearson", lrp_jv_number(lrp_pearson(px, py, np)));
        json_object_set_new(doc, "pooled_spearman", lrp_jv_number(lrp_spearman(px, py, np)));
        json_object_set_new(doc, "mean_pearson", lrp_jv_number(n_corr ? mean_p / n_corr : NAN));
        json_object_set_new(doc, "mean_spearman", lrp_jv_number(n_corr ? mean_s / n_corr : NAN));
        json_object_set_new(doc, "components", json_integer(np));
    }
    if (cli_output_open(&out, a.out)) goto done;
    if (json) {
        json_object_set_new(doc, "pairs", pairs);
        pairs = NULL;
        json_t *d2 = doc;
        doc = NULL;
        if (lrp_jv_dump(out.f, d2, 1)) {  // takes the document
            cli_error(1, "out of memory");
            cli_output_abort(&out);
            goto done;
        }
    } else {
        fprintf(out.f, "%d pairs, method %s\n", n, method);
        if (a.exact)
            fprintf(out.f, "RelP vs activation patching: pooled over %d components Pearson %.3f, Spearman %.3f; "
                           "mean per pair Pearson %.3f, Spearman %.3f\n",
                    np, lrp_pearson(px, py, np), lrp_spearman(px, py, np), n_corr ? mean_p / n_corr : NAN,
                    n_corr ? mean_s / n_corr : NAN);
    }
    if (cli_output_commit(&out)) goto done;
    rc = 0;
done:
    json_decref(doc);
    json_decref(pairs);
    free(px);
    free(py);
    lrp_eval_data_free(&d);
    lrp_session_close(&s);
    return rc;
}

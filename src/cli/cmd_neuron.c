// attnlrp neuron: an MLP neuron's output weights projected onto the vocabulary (or a classifier's labels).
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/atlas.h"
#include "cli/commands.h"
#include "explain/explain.h"
#include "render/render.h"

static const char neuron_usage[] =
    "usage: attnlrp neuron [--model PATH] --layer L --neuron N [--expert E] [--top K] [--atlas ATLAS.json]\n"
    "                      [--format text|json|html] [-o FILE]\n"
    "\n"
    "Projects MLP neuron N of layer L onto the vocabulary: its output weight column (down_proj, fc2, c_proj,\n"
    "wo; MoE: expert E's down projection) times the final norm's weight (Gemma: (1+w), after the post-\n"
    "feed-forward norm's; LayerNorm: the weight only, its bias left out) times the unembedding (lm_head or\n"
    "the tied embedding; T5 tied: also x d_model^-1/2), and lists the top and bottom K tokens with their\n"
    "scores. The norms' division by the RMS/standard deviation and the head's bias are left out: the scores\n"
    "say which tokens the neuron's output direction promotes and suppresses. ViT: scores on the labels.\n"
    "T5: decoder layers only (layers are numbered encoder first). BERT-family models are refused.\n"
    "\n"
    "  --layer L     layer (0-based)\n"
    "  --neuron N    neuron (0-based, below the MLP width)\n"
    "  --expert E    MoE models: the expert (0-based)\n"
    "  --top K       tokens at each end (default 10)\n"
    "  --atlas FILE  also list the neuron's most activating windows stored in an atlas of layer L (scan\n"
    "                --neurons all): index, position, activation and the window's tokens, the activating one\n"
    "                marked; checked against the model as scan --atlas checks it (no attributions: scan --atlas)\n"
    "  --format F    text (default), json or html\n"
    "  -o FILE       write there instead of stdout\n"
    "  --help, -h    this help\n";

static void html_text(FILE *f, const char *s) {
    for (; s && *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else if (*s == '"') fputs("&quot;", f);
        else fputc(*s, f);
    }
}

// The name of output v: the label (classifiers) or the token string (malloc'ed; "" without a tokenizer).
static char *output_name(const lrp_session *s, int v) {
    if (s->m->cfg.task == LRP_TASK_CLASSIFIER) return strdup(s->m->cfg.labels[v]);
    char *t = s->tok ? lrp_token_string(s->tok, v) : NULL;
    return t ? t : strdup("");
}

// Token id as the bytes it stands for (or "[id]" without a tokenizer), for showing a window.
static void window_token(const lrp_session *s, int id, char *buf, size_t cap) {
    if (s->tok) lrp_tokenizer_token_bytes(s->tok, id, buf, cap);
    else snprintf(buf, cap, "[%d]", id);
}

// The atlas's windows of the neuron, as JSON: {"path", "data", "data_format", "windows", "results": [{"index",
// "position", "activation", "ids", "tokens"}]} (best first; the fields of scan's results, no relevance).
static json_t *atlas_json(const lrp_session *s, const cli_atlas *a, const lrp_scan_top *best) {
    json_t *list = json_array();
    for (int r = 0; r < best->n && list; r++) {
        const lrp_scan_hit *h = &best->h[r];
        json_t *toks = json_array();
        for (int t = 0; t < h->T && toks; t++) {
            char *ts = s->tok ? lrp_token_string(s->tok, h->ids[t]) : NULL;
            json_array_append_new(toks, ts ? lrp_jv_text(ts) : json_null());
            free(ts);
        }
        json_array_append_new(list, json_pack("{s:I, s:i, s:o, s:o, s:o}", "index", (json_int_t)h->index, "position",
                                              h->position, "activation", lrp_jv_number(h->activation), "ids",
                                              lrp_jv_int_array(h->ids, h->T), "tokens", toks ? toks : json_null()));
    }
    return json_pack("{s:s, s:s, s:s, s:I, s:o}", "path", a->path, "data", a->data, "data_format", a->data_format,
                     "windows", (json_int_t)a->windows, "results", list ? list : json_null());
}

int cmd_neuron(int argc, char **argv) {
    const char *model = NULL, *format = "text", *out_path = NULL, *atlas = NULL;
    int layer = -1, neuron = -1, expert = -1, top = 10, have_layer = 0, have_neuron = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = NULL;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            fputs(neuron_usage, stdout);
            return 0;
        }
        static const char *const opts[] = {"--model", "--layer", "--neuron", "--expert", "--top", "--format", "-o",
                                           "--atlas", NULL};
        int got = cli_option_value(&argc, &argv, &i, "neuron", opts, &v);
        if (got == 1) continue;
        if (got) return 2;
        if (!strcmp(o, "--model")) model = v;
        else if (!strcmp(o, "--format")) format = v;
        else if (!strcmp(o, "-o")) out_path = v;
        else if (!strcmp(o, "--atlas")) atlas = v;
        else if (!strcmp(o, "--layer")) {
            if (arg_int(o, v, &layer)) return 2;
            have_layer = 1;
        } else if (!strcmp(o, "--neuron")) {
            if (arg_int(o, v, &neuron)) return 2;
            have_neuron = 1;
        } else if (!strcmp(o, "--expert")) {
            if (arg_int(o, v, &expert)) return 2;
            if (expert < 0) return cli_error(2, "--expert %d: must not be negative", expert);
        } else if (!strcmp(o, "--top")) {
            if (arg_int(o, v, &top)) return 2;
            if (top < 1) return cli_error(2, "--top %d: must be at least 1", top);
        }
    }
    if (!have_layer || !have_neuron) return cli_error(2, "neuron: give --layer L and --neuron N");
    if (strcmp(format, "text") && strcmp(format, "json") && strcmp(format, "html"))
        return cli_error(2, "--format %s: expected text, json or html", format);

    lrp_session s = {0};
    cli_output out = {0};
    float *scores = NULL, *neg = NULL;
    int *hi = NULL, *lo = NULL;
    lrp_err err;
    cli_atlas atl = {0};
    lrp_scan_top best = {0};
    int rc = cli_session_open(&s, model);
    if (rc) goto done;
    int N = lrp_model_n_outputs(s.m);
    scores = malloc((size_t)N * sizeof *scores);
    neg = malloc((size_t)N * sizeof *neg);
    if (top > N) top = N;
    hi = malloc((size_t)top * sizeof *hi);
    lo = malloc((size_t)top * sizeof *lo);
    if (!scores || !neg || !hi || !lo) {
        rc = cli_error(1, "out of memory");
        goto done;
    }
    if (lrp_neuron_projection(s.m, layer, neuron, expert, scores, &err)) {
        // Indices out of range are usage errors; a family without a projection is a failure.
        // (The library names the parameters layer, neuron and expert: the flags are --layer, --neuron, --expert.)
        int flag = !strncmp(err.msg, "layer ", 6) || !strncmp(err.msg, "neuron ", 7) || !strncmp(err.msg, "expert", 6);
        int usage = flag || strstr(err.msg, "out of range");
        rc = flag ? cli_error(2, "--%s", err.msg) : cli_lib_error(usage ? 2 : 1, err.msg);
        goto done;
    }
    if (atlas) {
        if ((rc = cli_atlas_open(&atl, atlas, &s))) goto done;
        if (layer != atl.layer || expert != atl.expert) {
            rc = atl.expert < 0 ? cli_error(1, "--layer %d: the atlas %s is of layer %d", layer, atlas, atl.layer)
                                : cli_error(1, "--layer %d --expert %d: the atlas %s is of layer %d, expert %d", layer,
                                            expert, atlas, atl.layer, atl.expert);
            goto done;
        }
        if ((rc = cli_atlas_neuron(&atl, &s, neuron, 0, &best))) goto done;
    }
    for (int v = 0; v < N; v++) neg[v] = -scores[v];
    lrp_rank_top(scores, N, top, hi);
    lrp_rank_top(neg, N, top, lo);
    const char *unit = s.m->cfg.task == LRP_TASK_CLASSIFIER ? "label" : "token";
    rc = 1;
    if (cli_output_open(&out, out_path)) goto done;
    if (!strcmp(format, "json")) {
        json_t *lists[2] = {json_array(), json_array()};
        for (int side = 0; side < 2; side++)
            for (int r = 0; r < top; r++) {
                int v = side ? lo[r] : hi[r];
                char *name = output_name(&s, v);
                json_array_append_new(lists[side], json_pack("{s:i, s:o, s:o}", "id", v, unit, lrp_jv_text(name),
                                                             "score", lrp_jv_number(scores[v])));
                free(name);
            }
        json_t *doc = json_pack("{s:i, s:i}", "layer", layer, "neuron", neuron);
        if (doc && expert >= 0) json_object_set_new(doc, "expert", json_integer(expert));
        if (doc) {
            json_object_set_new(doc, "n_outputs", json_integer(N));
            json_object_set_new(doc, "top", lists[0]);
            json_object_set_new(doc, "bottom", lists[1]);
            if (atlas) json_object_set_new(doc, "atlas", atlas_json(&s, &atl, &best));
        }
        if (lrp_jv_dump(out.f, doc, 1)) {
            cli_error(1, "out of memory");
            cli_output_abort(&out);
            goto done;
        }
    } else if (!strcmp(format, "html")) {
        fprintf(out.f, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>layer %d neuron %d</title>\n"
                       "<style>body{font-family:sans-serif}td,th{padding:2px 8px}td.s{text-align:right}"
                       "table{display:inline-table;margin-right:3em;vertical-align:top}</style></head><body>\n",
                layer, neuron);
        fprintf(out.f, "<h1>Layer %d, neuron %d", layer, neuron);
        if (expert >= 0) fprintf(out.f, ", expert %d", expert);
        fprintf(out.f, "</h1>\n<p>Output weights projected onto the %ss (%s)</p>\n", unit, s.model_path);
        for (int side = 0; side < 2; side++) {
            fprintf(out.f, "<table><tr><th colspan=3>%s</th></tr><tr><th>id</th><th>%s</th><th>score</th></tr>\n",
                    side ? "bottom (suppressed)" : "top (promoted)", unit);
            for (int r = 0; r < top; r++) {
                int v = side ? lo[r] : hi[r];
                char *name = output_name(&s, v);
                fprintf(out.f, "<tr><td>%d</td><td><code>", v);
                html_text(out.f, name);
                fprintf(out.f, "</code></td><td class=s>%.5g</td></tr>\n", scores[v]);
                free(name);
            }
            fputs("</table>\n", out.f);
        }
        if (atlas) {
            fprintf(out.f, "<h2>Most activating windows</h2>\n<p>Top %d of %ld %s in <code>", best.n, atl.windows,
                    strcmp(atl.data_format, "text") ? "records" : "windows");
            html_text(out.f, atl.data);
            fputs("</code> (atlas <code>", out.f);
            html_text(out.f, atlas);
            fputs("</code>); the activating token outlined.</p>\n", out.f);
            for (int r = 0; r < best.n; r++) {
                const lrp_scan_hit *h = &best.h[r];
                fprintf(out.f, "<p>#%d: index %ld, position %d, activation %.6g<br><code class=w>", r + 1, h->index,
                        h->position, h->activation);
                for (int t = 0; t < h->T; t++) {
                    char buf[256];
                    window_token(&s, h->ids[t], buf, sizeof buf);
                    fputs(t == h->position ? "<b style=\"outline:2px solid #000\">" : "<span>", out.f);
                    html_text(out.f, buf);
                    fputs(t == h->position ? "</b>" : "</span>", out.f);
                }
                fputs("</code></p>\n", out.f);
            }
        }
        fputs("</body></html>\n", out.f);
    } else {
        fprintf(out.f, "layer %d neuron %d", layer, neuron);
        if (expert >= 0) fprintf(out.f, " expert %d", expert);
        fprintf(out.f, ": output weights projected onto %d %ss\n", N, unit);
        for (int side = 0; side < 2; side++) {
            fprintf(out.f, "%s\n%4s %8s %12s  %s\n", side ? "bottom:" : "top:", "rank", "id", "score", unit);
            for (int r = 0; r < top; r++) {
                int v = side ? lo[r] : hi[r];
                char *name = output_name(&s, v);
                fprintf(out.f, "%4d %8d %12.5g  \"%s\"\n", r + 1, v, scores[v], name);
                free(name);
            }
        }
        if (atlas) {
            fprintf(out.f, "most activating: top %d of %ld %s in %s (atlas %s; [[ ]] marks the position)\n", best.n,
                    atl.windows, strcmp(atl.data_format, "text") ? "records" : "windows", atl.data, atlas);
            for (int r = 0; r < best.n; r++) {
                const lrp_scan_hit *h = &best.h[r];
                fprintf(out.f, "#%d  index %ld, position %d, activation %.6g\n    ", r + 1, h->index, h->position,
                        h->activation);
                for (int t = 0; t < h->T; t++) {
                    char buf[256];
                    window_token(&s, h->ids[t], buf, sizeof buf);
                    if (t == h->position) fputs("[[", out.f);
                    for (const char *c = buf; *c; c++) {
                        if (*c == '\n') fputs("\\n", out.f);
                        else if ((unsigned char)*c < 0x20) fprintf(out.f, "\\x%02x", (unsigned char)*c);
                        else fputc(*c, out.f);
                    }
                    if (t == h->position) fputs("]]", out.f);
                }
                fputc('\n', out.f);
            }
        }
    }
    rc = cli_output_commit(&out) ? 1 : 0;
done:
    lrp_scan_top_free(&best);
    cli_atlas_close(&atl);
    free(scores);
    free(neg);
    free(hi);
    free(lo);
    lrp_session_close(&s);
    return rc;
}

// attnlrp neurons: rank MLP neurons by their relevance for a prediction.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/session.h"
#include "explain/explain.h"
#include "render/render.h"

static const char neurons_usage[] =
    "usage: attnlrp neurons [--model PATH] [TEXT | --ids LIST] [--target TOKEN | --target-id N] [--position P]\n"
    "                       [--layer L|all] [--top K] [--method M] [--set L:N=V ...] [--format text|json] [-o FILE]\n"
    "\n"
    "Ranks the MLP neurons (the input of each layer's down projection) by relevance for the prediction,\n"
    "summed over positions, and shows each neuron's activation at the explained position.\n"
    "Switch the top ones off with `attnlrp generate --set L:N=0` to see what they do.\n"
    "\n"
    "  --layer L|all   one layer (0-based) or every layer (default all)\n"
    "  --top K         neurons to list (default 10)\n"
    "  --by abs|pos    rank by |relevance| or by positive relevance (default pos: neurons that support it)\n";

typedef struct {
    float key;
    int index;
} ranked;

static int by_key_desc(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? 1 : -1;
    return x->index - y->index;
}

int cmd_neurons(int argc, char **argv) {
    const char *model = NULL, *text = NULL, *ids_arg = NULL, *format = "text", *method = "attnlrp", *out_path = NULL;
    const char *target = NULL, *layer_arg = "all", *by = "pos";
    int target_id = -1, position = -1, top = 10;
    lrp_intervention iv[64];
    int n_iv = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = NULL;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            fputs(neurons_usage, stdout);
            return 0;
        }
        int takes = !strcmp(o, "--model") || !strcmp(o, "--ids") || !strcmp(o, "--target") ||
                    !strcmp(o, "--target-id") || !strcmp(o, "--position") || !strcmp(o, "--layer") ||
                    !strcmp(o, "--top") || !strcmp(o, "--method") || !strcmp(o, "--set") || !strcmp(o, "--format") ||
                    !strcmp(o, "-o") || !strcmp(o, "--by");
        if (takes && !(v = arg_value(argc, argv, &i))) return 2;
        if (!strcmp(o, "--model")) model = v;
        else if (!strcmp(o, "--ids")) ids_arg = v;
        else if (!strcmp(o, "--target")) target = v;
        else if (!strcmp(o, "--layer")) layer_arg = v;
        else if (!strcmp(o, "--method")) method = v;
        else if (!strcmp(o, "--format")) format = v;
        else if (!strcmp(o, "--by")) by = v;
        else if (!strcmp(o, "-o")) out_path = v;
        else if (!strcmp(o, "--target-id")) {
            if (arg_int(o, v, &target_id)) return 2;
        } else if (!strcmp(o, "--position")) {
            if (arg_int(o, v, &position)) return 2;
        } else if (!strcmp(o, "--top")) {
            if (arg_int(o, v, &top)) return 2;
            if (top < 1) return cli_error(2, "--top %d: must be at least 1", top);
        } else if (!strcmp(o, "--set")) {
            if (n_iv == 64) return cli_error(2, "--set: at most 64 interventions");
            if (cli_parse_set(v, &iv[n_iv++])) return 2;
        } else if (o[0] == '-' && o[1]) return cli_error(2, "neurons: unknown option %s (see attnlrp neurons --help)", o);
        else if (text) return cli_error(2, "neurons: more than one TEXT argument (quote the text)");
        else text = o;
    }
    if (!text == !ids_arg) return cli_error(2, "neurons: give the input as TEXT or --ids (one of them)");
    if (strcmp(format, "text") && strcmp(format, "json")) return cli_error(2, "--format %s: expected text or json", format);
    if (strcmp(by, "abs") && strcmp(by, "pos")) return cli_error(2, "--by %s: expected abs or pos", by);
    int meth = lrp_method_parse(method);
    if (meth < 0) return cli_error(2, "--method %s: unknown method (attnlrp, cplrp, gradxinput, gradient)", method);
    int layer = -1;
    if (strcmp(layer_arg, "all") && arg_int("--layer", layer_arg, &layer)) return 2;
    if (target && target_id >= 0) return cli_error(2, "neurons: give --target or --target-id, not both");

    cli_session ss;
    cli_output out = {0};
    lrp_explanation e = {0};
    ranked *rk = NULL;
    lrp_err err;
    int rc = cli_session_open(&ss, model, text, ids_arg);
    if (rc) goto done;
    rc = 1;
    if (layer >= ss.m->cfg.num_layers || (layer < 0 && strcmp(layer_arg, "all"))) {
        cli_error(1, "--layer %s: out of range (0..%d or all)", layer_arg, ss.m->cfg.num_layers - 1);
        goto done;
    }
    lrp_explain_opts o;
    lrp_explain_opts_default(&o);
    o.method = (lrp_method)meth;
    o.target = target_id;
    o.position = position;
    o.neurons = 1;
    o.iv = iv;
    o.n_iv = n_iv;
    if (target) {
        if (!ss.tok) {
            cli_error(1, "--target: the model has no tokenizer.json; use --target-id");
            goto done;
        }
        if (cli_single_token(ss.tok, "--target", target, &o.target)) goto done;
    }
    if (lrp_explain(ss.m, ss.ids, ss.T, &o, &e, &err)) {
        cli_lib_error(1, err.msg);
        goto done;
    }
    int W = e.neuron_width, l0 = layer < 0 ? 0 : layer, l1 = layer < 0 ? e.n_layers : layer + 1;
    int n = (l1 - l0) * W;
    rk = malloc((size_t)n * sizeof *rk);
    if (!rk) goto done;
    for (int l = l0; l < l1; l++)
        for (int i = 0; i < W; i++) {
            float r = e.neuron_relevance[(size_t)l * W + i];
            rk[(l - l0) * W + i] = (ranked){!strcmp(by, "abs") ? fabsf(r) : r, l * W + i};
        }
    qsort(rk, (size_t)n, sizeof *rk, by_key_desc);
    if (top > n) top = n;
    char *tt = cli_token_string(ss.tok, e.target);
    if (cli_output_open(&out, out_path)) {
        free(tt);
        goto done;
    }
    if (!strcmp(format, "json")) {
        fprintf(out.f, "{\"method\": \"%s\", \"position\": %d, \"target\": %d, \"target_token\": ", method, e.position,
                e.target);
        lrp_json_string(out.f, tt ? tt : "");
        fputs(", \"target_logit\": ", out.f);
        lrp_json_number(out.f, e.target_logit);
        fputs(", \"neurons\": [", out.f);
        for (int r = 0; r < top; r++) {
            int idx = rk[r].index;
            fprintf(out.f, "%s{\"layer\": %d, \"neuron\": %d, \"relevance\": ", r ? ", " : "", idx / W, idx % W);
            lrp_json_number(out.f, e.neuron_relevance[idx]);
            fputs(", \"activation\": ", out.f);
            lrp_json_number(out.f, e.neuron_activation[idx]);
            fputc('}', out.f);
        }
        fputs("]}\n", out.f);
    } else {
        fprintf(out.f, "target %d \"%s\" at position %d (logit %.4g), method %s\n", e.target, tt ? tt : "", e.position,
                e.target_logit, method);
        fprintf(out.f, "%4s %6s %8s %12s %12s\n", "rank", "layer", "neuron", "relevance", "activation");
        for (int r = 0; r < top; r++) {
            int idx = rk[r].index;
            fprintf(out.f, "%4d %6d %8d %12.5g %12.5g\n", r + 1, idx / W, idx % W, e.neuron_relevance[idx],
                    e.neuron_activation[idx]);
        }
    }
    free(tt);
    rc = cli_output_commit(&out) ? 1 : 0;
done:
    free(rk);
    lrp_explanation_free(&e);
    cli_session_close(&ss);
    return rc;
}

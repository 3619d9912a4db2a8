// attnlrp neurons: rank MLP neurons by their relevance for a prediction.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/handles.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "explain/explain.h"
#include "explain/methods.h"
#include "render/render.h"

static const char neurons_usage[] =
    "usage: attnlrp neurons [--model PATH] [TEXT | --ids LIST] [--target TOKEN | --target-id N] [--position P]\n"
    "                       [--layer L|all] [--top K] [--by abs|pos] [--method M] [--set L:N=V ...]\n"
    "                       [--max-memory SIZE] [--format text|json] [-o FILE]\n"
    "\n"
    "Ranks the MLP neurons (the input of each layer's down projection) by relevance for the prediction,\n"
    "summed over positions, and shows each neuron's activation at the explained position.\n"
    "Switch the top ones off with `attnlrp generate --set L:N=0` to see what they do.\n"
    "\n"
    "  --layer L|all   one layer (0-based) or every layer (default all)\n"
    "  --top K         neurons to list (default 10)\n"
    "  --by abs|pos    rank by |relevance| or by positive relevance (default pos: neurons that support it)\n"
    "  --method M      %s (default attnlrp); gradient ranks by the L2 norm of each\n"
    "                  neuron's gradient over the positions (the readout convention, JSON readout)\n"
    "  --model PATH    Hugging Face checkpoint directory or GGUF file (default: the shipped model)\n"
    "  TEXT            input text, tokenized with the model's tokenizer (special tokens added)\n"
    "  --ids LIST      input token ids instead of text\n"
    "  --target TOKEN  explain this next token (text that must be exactly one token)\n"
    "  --target-id N   explain this token id (default: the most likely one)\n"
    "  --position P    explained output position (default: the last)\n"
    "  --set L:N=V     set MLP neuron N of layer L to V first (=*F scales, =+D shifts)\n"
    "  --max-memory SIZE  refuse an explanation estimated to need more memory (512M, 2G; default: the memory\n"
    "                  available, or the address space left under ulimit -v)\n"
    "  --format F      text (default) or json\n"
    "  -o FILE         write the result to FILE (written whole or not at all)\n"
    "  --              end of options: the next argument is TEXT even if it starts with \"-\"\n"
    "  --help, -h      this help\n";

int cmd_neurons(int argc, char **argv) {
    const char *model = NULL, *text = NULL, *ids_arg = NULL, *format = "text", *method = "attnlrp", *out_path = NULL;
    const char *target = NULL, *layer_arg = "all", *by = "pos";
    int target_id = -1, position = -1, top = 10;
    size_t max_memory = 0;
    lrp_intervention iv[64];
    int n_iv = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = NULL;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            printf(neurons_usage, lrp_method_names(0));
            return 0;
        }
        int takes = !strcmp(o, "--model") || !strcmp(o, "--ids") || !strcmp(o, "--target") ||
                    !strcmp(o, "--target-id") || !strcmp(o, "--position") || !strcmp(o, "--layer") ||
                    !strcmp(o, "--top") || !strcmp(o, "--method") || !strcmp(o, "--set") || !strcmp(o, "--format") ||
                    !strcmp(o, "-o") || !strcmp(o, "--by") || !strcmp(o, "--max-memory");
        if (takes && !(v = arg_value(argc, argv, &i))) return 2;
        if (!strcmp(o, "--model")) model = v;
        else if (!strcmp(o, "--ids")) ids_arg = v;
        else if (!strcmp(o, "--target")) target = v;
        else if (!strcmp(o, "--layer")) layer_arg = v;
        else if (!strcmp(o, "--method")) method = v;
        else if (!strcmp(o, "--format")) format = v;
        else if (!strcmp(o, "--by")) by = v;
        else if (!strcmp(o, "-o")) out_path = v;
        else if (!strcmp(o, "--max-memory")) {
            if (arg_max_memory(v, &max_memory)) return 2;
        }
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
        } else if (!strcmp(o, "--")) {  // the rest is TEXT, even when it starts with "-"
            if (cli_rest_as_text(argc, argv, &i, &text, "neurons")) return 2;
        } else if (o[0] == '-' && o[1]) {
            if (cli_split_option(&argc, &argv, i)) {  // --flag=value
                i--;
                continue;
            }
            return cli_error(2, "neurons: unknown option %s (see attnlrp neurons --help)", o);
        }
        else if (text) return cli_error(2, "neurons: more than one TEXT argument (quote the text)");
        else text = o;
    }
    if (cli_empty_text("neurons: TEXT", text) || cli_empty_text("--target", target)) return 2;
    if (!text == !ids_arg) return cli_error(2, "neurons: give the input as TEXT or --ids (one of them)");
    if (strcmp(format, "text") && strcmp(format, "json")) return cli_error(2, "--format %s: expected text or json", format);
    if (strcmp(by, "abs") && strcmp(by, "pos")) return cli_error(2, "--by %s: expected abs or pos", by);
    int meth;
    lrp_err err;
    if (lrp_method_lookup("method", method, 0, &meth, &err)) return cli_lib_error(2, err.msg);
    if (LRP_METHOD_IS_BASELINE(meth))
        return cli_error(2, "--method %s: attributes input tokens only; neurons needs a method with neuron readouts "
                            "(attnlrp, cplrp, gradxinput, gradient)", method);
    int layer = -1;
    if (strcmp(layer_arg, "all") && arg_int("--layer", layer_arg, &layer)) return 2;
    if (target && target_id >= 0) return cli_error(2, "neurons: give --target or --target-id, not both");

    attnlrp_session *api = NULL;  // the explanation runs through the public API (attnlrp.h)
    attnlrp_result *res = NULL;
    lrp_session s = {0};          // the session's model and tokenizer, read only
    lrp_text_inputs ss = {0};
    cli_output out = {0};
    float *key = NULL;
    int *order = NULL;
    int rc = cli_api_open(&api, model);
    if (rc) goto done;
    s = *lrp_api_session(api);
    if (s.m->cfg.task != LRP_TASK_CAUSAL_LM) {
        rc = cli_error(1, "neurons: %s is a %s; neurons explains a causal language model's next token", s.model_path,
                       lrp_task_name(s.m->cfg.task));
        goto done;
    }
    if ((rc = cli_inputs(&s, text, NULL, ids_arg, &ss))) goto done;
    rc = 1;
    if (layer >= s.m->cfg.num_layers || (layer < 0 && strcmp(layer_arg, "all"))) {
        rc = cli_error(2, "--layer %s: out of range (0..%d or all)", layer_arg, s.m->cfg.num_layers - 1);
        goto done;
    }
    attnlrp_options o;
    attnlrp_options_init(&o, sizeof o);
    attnlrp_intervention piv[64];
    cli_public_interventions(iv, n_iv, piv);
    o.method = method;
    o.target = target_id;
    o.position = position;
    o.neurons = 1;
    o.set = piv;
    o.n_set = (size_t)n_iv;
    o.max_memory = max_memory;
    if (target) {
        if (!s.tok) {
            cli_error(1, "--target: the model has no tokenizer.json; use --target-id");
            goto done;
        }
        if (lrp_session_target(&s, "target_text", target, &o.target, &err)) {
            rc = cli_lib_error(1, err.msg);
            goto done;
        }
    }
    if (attnlrp_explain_ids(api, ss.ids, (size_t)ss.T, &o, &res)) {
        rc = cli_api_error(1);
        goto done;
    }
    const lrp_explanation e = *lrp_api_explanation(res);
    int W = e.neuron_width, l0 = layer < 0 ? 0 : layer, l1 = layer < 0 ? e.n_layers : layer + 1;
    int n = (l1 - l0) * W;
    if (top > n) top = n;
    key = malloc((size_t)n * sizeof *key);
    order = malloc((size_t)top * sizeof *order);
    if (!key || !order) goto done;
    const float *rel = e.neuron_relevance + (size_t)l0 * W;
    for (int i = 0; i < n; i++) key[i] = !strcmp(by, "abs") ? fabsf(rel[i]) : rel[i];
    lrp_rank_top(key, n, top, order);
    for (int r = 0; r < top; r++) order[r] += l0 * W;
    char *tt = lrp_token_string(s.tok, e.target);
    if (cli_output_open(&out, out_path)) {
        free(tt);
        goto done;
    }
    if (!strcmp(format, "json")) {
        json_t *list = json_array();
        for (int r = 0; r < top; r++) {
            int idx = order[r];
            json_array_append_new(list, json_pack("{s:i, s:i, s:o, s:o}", "layer", idx / W, "neuron", idx % W,
                                                  "relevance", lrp_jv_number(e.neuron_relevance[idx]), "activation",
                                                  lrp_jv_number(e.neuron_activation[idx])));
        }
        json_t *doc = json_pack("{s:s, s:i, s:i, s:o, s:o, s:o}", "method", method, "position", e.position, "target",
                                e.target, "target_token", lrp_jv_text(tt), "target_logit",
                                lrp_jv_number(e.target_logit), "neurons", list);
        json_object_set_new(doc, "readout", json_string(lrp_readout_convention(meth)));  // methods.h
        if (lrp_jv_dump(out.f, doc, 1)) {
            free(tt);
            cli_error(1, "out of memory");
            cli_output_abort(&out);
            goto done;
        }
    } else {
        fprintf(out.f, "target %d \"%s\" at position %d (logit %.4g), method %s\n", e.target, tt ? tt : "", e.position,
                e.target_logit, method);
        fprintf(out.f, "%4s %6s %8s %12s %12s\n", "rank", "layer", "neuron", "relevance", "activation");
        for (int r = 0; r < top; r++) {
            int idx = order[r];
            fprintf(out.f, "%4d %6d %8d %12.5g %12.5g\n", r + 1, idx / W, idx % W, e.neuron_relevance[idx],
                    e.neuron_activation[idx]);
        }
    }
    free(tt);
    rc = cli_output_commit(&out) ? 1 : 0;
done:
    free(key);
    free(order);
    attnlrp_result_free(res);
    lrp_text_inputs_free(&ss);
    attnlrp_session_free(api);
    return rc;
}

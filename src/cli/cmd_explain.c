// attnlrp explain: parse arguments, load model and tokenizer, explain, render.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/session.h"
#include "explain/explain.h"
#include "render/render.h"
#include "tokenizer/tokenizer.h"

static const char explain_usage[] =
    "usage: attnlrp explain [--model PATH] [TEXT] [--ids 1,5,7] [--method M] [--target TOKEN | --target-id N]\n"
    "                       [--position P] [--contrast FOIL] [--latent-start L,P,N] [--latent-layer L] [--layers]\n"
    "                       [--set L:N=V|*F|+D ...] [--all-logits] [--format text|json|html] [-o FILE]\n"
    "\n"
    "Explains one prediction of a model with one forward and one modified backward pass.\n"
    "\n"
    "  --model PATH         Hugging Face checkpoint directory or GGUF file (default: the shipped model)\n"
    "  TEXT                 input text, tokenized with the model's tokenizer (special tokens added)\n"
    "  --ids LIST           input token ids instead of text, e.g. 1,306,4658\n"
    "  --method M           attnlrp (default), cplrp, gradxinput, gradient\n"
    "  --target TOKEN       explain this next token (text that must be exactly one token)\n"
    "  --target-id N        explain this token id (default: the most likely one)\n"
    "  --position P         explained output position (default: the last)\n"
    "  --contrast FOIL      explain logit(target) - logit(FOIL); FOIL is an id or one token of text\n"
    "  --latent-start L,P,N start at MLP neuron N of layer L at position P instead of a logit\n"
    "  --latent-layer L     also report the relevance of every MLP neuron of layer L\n"
    "  --layers             also report residual-stream relevance after every block\n"
    "  --set L:N=V          set MLP neuron N of layer L to V (also L:N=*F to scale, L:N=+D to shift)\n"
    "  --all-logits         include every vocabulary logit at the position (json)\n"
    "  --format F           text (default; coloured on a terminal), json, html\n"
    "  -o FILE              write the result to FILE (written whole or not at all)\n";

typedef struct {
    const char *model, *text, *ids, *method, *target, *contrast, *latent_start, *format, *out;
    int target_id, position, latent_layer, layers, all_logits;
    lrp_intervention iv[64];
    int n_iv;
} explain_args;

static int parse_explain_args(int argc, char **argv, explain_args *a) {
    memset(a, 0, sizeof *a);
    a->target_id = -1;
    a->position = -1;
    a->latent_layer = -1;
    a->format = "text";
    a->method = "attnlrp";
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char **str = NULL;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            fputs(explain_usage, stdout);
            return 1;
        } else if (!strcmp(o, "--model")) str = &a->model;
        else if (!strcmp(o, "--ids")) str = &a->ids;
        else if (!strcmp(o, "--method")) str = &a->method;
        else if (!strcmp(o, "--target")) str = &a->target;
        else if (!strcmp(o, "--contrast")) str = &a->contrast;
        else if (!strcmp(o, "--latent-start")) str = &a->latent_start;
        else if (!strcmp(o, "--format")) str = &a->format;
        else if (!strcmp(o, "-o") || !strcmp(o, "--output")) str = &a->out;
        else if (!strcmp(o, "--layers")) a->layers = 1;
        else if (!strcmp(o, "--all-logits")) a->all_logits = 1;
        else if (!strcmp(o, "--target-id") || !strcmp(o, "--position") || !strcmp(o, "--latent-layer")) {
            const char *v = arg_value(argc, argv, &i);
            int *dst = !strcmp(o, "--target-id") ? &a->target_id : !strcmp(o, "--position") ? &a->position : &a->latent_layer;
            if (!v || arg_int(o, v, dst)) return 2;
            if (*dst < 0) return cli_error(2, "%s %d: must not be negative", o, *dst);
        } else if (!strcmp(o, "--set")) {
            const char *v = arg_value(argc, argv, &i);
            if (!v) return 2;
            if (a->n_iv == (int)(sizeof a->iv / sizeof a->iv[0])) return cli_error(2, "--set: at most 64 interventions");
            if (cli_parse_set(v, &a->iv[a->n_iv++])) return 2;
        } else if (o[0] == '-' && o[1] != '\0') {
            return cli_error(2, "explain: unknown option %s (see attnlrp explain --help)", o);
        } else if (a->text) {
            return cli_error(2, "explain: more than one TEXT argument (quote the text)");
        } else {
            a->text = o;
        }
        if (str && !(*str = arg_value(argc, argv, &i))) return 2;
    }
    if (a->text && a->ids) return cli_error(2, "explain: give TEXT or --ids, not both");
    if (!a->text && !a->ids) return cli_error(2, "explain: no input: give TEXT or --ids (see attnlrp explain --help)");
    if (a->target && a->target_id >= 0) return cli_error(2, "explain: give --target or --target-id, not both");
    if (strcmp(a->format, "text") && strcmp(a->format, "json") && strcmp(a->format, "html"))
        return cli_error(2, "--format %s: expected text, json or html", a->format);
    if (lrp_method_parse(a->method) < 0)
        return cli_error(2, "--method %s: unknown method (attnlrp, cplrp, gradxinput, gradient)", a->method);
    return 0;
}

int cmd_explain(int argc, char **argv) {
    explain_args a;
    int rc = parse_explain_args(argc, argv, &a);
    if (rc) return rc == 1 ? 0 : rc;

    cli_session ss;
    lrp_explanation e = {0};
    lrp_render_ctx ctx = {0};
    cli_output out = {0};
    lrp_err err;
    rc = cli_session_open(&ss, a.model, a.text, a.ids);
    if (rc) goto done;
    rc = 1;
    const lrp_tokenizer *tok = ss.tok;
    lrp_explain_opts o;
    lrp_explain_opts_default(&o);
    o.method = (lrp_method)lrp_method_parse(a.method);
    o.target = a.target_id;
    o.position = a.position;
    o.latent_layer = a.latent_layer;
    o.layers = a.layers;
    o.iv = a.iv;
    o.n_iv = a.n_iv;
    if (a.latent_start && arg_int_tuple("--latent-start", a.latent_start, o.latent_start, 3)) {
        rc = 2;
        goto done;
    }
    if (a.target) {
        if (!tok) {
            cli_error(1, "--target: the model has no tokenizer.json; use --target-id");
            goto done;
        }
        if (cli_single_token(tok, "--target", a.target, &o.target)) goto done;
    }
    if (a.contrast) {
        char *end;
        long v = strtol(a.contrast, &end, 10);
        if (*a.contrast && !*end && v >= 0 && v < 1L << 30) {
            o.contrast = (int)v;
        } else if (!tok) {
            rc = cli_error(2, "--contrast %s: not a token id, and the model has no tokenizer to read it as text",
                           a.contrast);
            goto done;
        } else if (cli_single_token(tok, "--contrast", a.contrast, &o.contrast)) {
            goto done;
        }
    }
    if (lrp_explain(ss.m, ss.ids, ss.T, &o, &e, &err)) {
        cli_lib_error(1, err.msg);
        goto done;
    }
    ctx.family = ss.m->cfg.model_type;
    ctx.all_logits = a.all_logits;
    if (tok) {
        ctx.tokens = calloc((size_t)ss.T, sizeof(char *));
        if (!ctx.tokens) goto done;
        for (int t = 0; t < ss.T; t++) ctx.tokens[t] = cli_token_string(tok, ss.ids[t]);
        ctx.target_token = cli_token_string(tok, e.target);
        for (int i = 0; i < e.n_top; i++) ctx.top_tokens[i] = cli_token_string(tok, e.top[i].id);
    }
    if (cli_output_open(&out, a.out)) goto done;
    if (!strcmp(a.format, "json")) lrp_render_json(out.f, &e, &ctx);
    else if (!strcmp(a.format, "html")) lrp_render_html(out.f, &e, &ctx);
    else lrp_render_text(out.f, &e, &ctx, out.f == stdout && isatty(STDOUT_FILENO) && !getenv("NO_COLOR"));
    rc = cli_output_commit(&out) ? 1 : 0;
done:
    if (ctx.tokens)
        for (int t = 0; t < ss.T; t++) free(ctx.tokens[t]);
    free(ctx.tokens);
    free(ctx.target_token);
    for (int i = 0; i < LRP_TOP_K; i++) free(ctx.top_tokens[i]);
    lrp_explanation_free(&e);
    cli_session_close(&ss);
    return rc;
}

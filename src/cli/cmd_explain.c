// attnlrp explain: parse arguments, open the session, build the inputs, explain, render.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/explain_json.h"
#include "api/handles.h"
#include "explain/explain.h"
#include "explain/methods.h"
#include "inputs/image.h"
#include "render/png.h"
#include "render/png_grid.h"
#include "render/render.h"
#include "render/view.h"

static const char explain_usage[] =
    "usage: attnlrp explain [--model PATH] [TEXT] [--ids 1,5,7] [--method M] [--target TOKEN | --target-id N]\n"
    "                       [--position P] [--contrast FOIL] [--latent-start L,P,N] [--latent-layer L] [--layers]\n"
    "                       [--latent-expert E] [--per-position] [--heads] [--set-head L:H=0|*F ...]\n"
    "                       [--set L:N=V|*F|+D ...] [--all-logits] [--format text|json|html] [-o FILE]\n"
    "                       [--text-pair TEXT] [--token-type-ids 0,0,1] [--attention-mask 1,1,0]\n"
    "                       [--pixels FILE] [--gamma CONV,LIN] [--format png -o FILE [--overlay] [--patches]]\n"
    "                       [--steps N] [--quadrature Q] [--samples N] [--noise S] [--seed S]\n"
    "                       [--softmax-rule exact|identity|distribute-bias]\n"
    "                       [--decoder-text TEXT | --decoder-ids 5,6]\n"
    "                       [--aggregate token|word] [--normalize none|max|sum]\n"
    "                       [--answer TEXT | --answer-ids LIST] [--score logit|logprob|prob] [--contrast-id N]\n"
    "                       [--no-special] [--chat]\n"
    "\n"
    "Explains one prediction of a model with one forward and one modified backward pass.\n"
    "\n"
    "  --model PATH         Hugging Face checkpoint directory or GGUF file (default: the shipped model)\n"
    "  TEXT                 input text, tokenized with the model's tokenizer (special tokens added)\n"
    "  --ids LIST           input token ids instead of text, e.g. 1,306,4658\n"
    "  --text-pair TEXT     a second text joined to TEXT by the tokenizer's pair template (BERT-family pairs)\n"
    "  --token-type-ids L   one token type (segment) per input token, e.g. 0,0,1 (models with token types)\n"
    "  --attention-mask L   one 0/1 per input token; 0 marks padding, which nothing attends to\n"
    "  --pixels FILE        image models (ViT): a .npy [C,H,W] taken as it is, or a PNG/JPEG preprocessed as the\n"
    "                       model's preprocessor_config.json says\n"
    "  --decoder-text TEXT  encoder-decoders (T5): the target prefix the decoder reads after its start token\n"
    "                       (tokenized without special tokens; default: no prefix). TEXT / --ids is the source\n"
    "  --decoder-ids LIST   the target prefix as token ids instead of text\n"
    "  --gamma CONV,LIN     ViTs: the LRP-gamma rule on the patch convolution (CONV) and the MLP linears and\n"
    "                       classifier (LIN), with attnlrp or cplrp; LXT uses 0.25,0.05\n"
    "  --method M           %s (default attnlrp)\n"
    "  --target TOKEN       explain this next token (text that must be exactly one token); classifiers: a class\n"
    "                       name (id2label)\n"
    "  --target-id N        explain this token id or class index (default: the most likely one)\n"
    "  --position P         explained output position (default: the last; masked LMs: the first mask token;\n"
    "                       encoder-decoders: a decoder position, 0 = the start token)\n"
    "  --contrast FOIL      explain logit(target) - logit(FOIL); FOIL is an id, one token of text, or a class\n"
    "  --contrast-id N      the foil as a token id or class index\n"
    "  --score S            what is explained: " CLI_SCORE_HELP " of the target (and the foil);\n"
    "                       default logit (with --answer: logprob)\n"
    "  --answer TEXT        forced decoding: append TEXT's tokens (no special tokens) to the input and explain the\n"
    "                       sum of their scores, each read at the position before it, in one backward pass;\n"
    "                       relevance covers the prompt and the answer's tokens but its last (encoder-decoders:\n"
    "                       the answer goes on the decoder side, after --decoder-text)\n"
    "  --answer-ids LIST    the answer as token ids (a SentencePiece tokenizer may split a text on its own\n"
    "                       differently than inside the whole sequence: see attnlrp tokenize --no-special)\n"
    "  --no-special         tokenize TEXT without adding special tokens (no BOS/EOS, [CLS]/[SEP])\n"
    "  --chat               TEXT is the one user message of the model's chat template (tokenizer_config.json\n"
    "                       chat_template, chat_template.jinja or GGUF tokenizer.chat_template, run by a built-in\n"
    "                       Jinja subset as transformers' apply_chat_template(add_generation_prompt=True));\n"
    "                       encoded without adding special tokens\n"
    "  --latent-start L,P,N start at MLP neuron N of layer L at position P instead of a logit\n"
    "  --latent-layer L     also report the relevance of every MLP neuron of layer L (encoder-decoders: layers\n"
    "                       are numbered through the encoder, then the decoder)\n"
    "  --per-position       with --latent-layer: also latent_position_relevance [position][neuron] (json; each\n"
    "                       neuron's column sums to its latent_relevance)\n"
    "  --latent-expert E    mixture-of-experts models: the latent neurons are those of expert E (its\n"
    "                       intermediate before the routing weight; tokens not routed to E have none)\n"
    "  --layers             also report residual-stream relevance after every block\n"
    "  --set L:N=V          set MLP neuron N of layer L to V (also L:N=*F to scale, L:N=+D to shift)\n"
    "  --heads              also report the relevance of every attention head of every layer: the relevance of\n"
    "                       the head's slice of the self-attention output (the o-projection's input), summed over\n"
    "                       positions (json head_relevance [layer][head]; text: a layer x head table; not T5)\n"
    "  --set-head L:H=0     zero-ablate attention head H of layer L (its slice of the o-projection's input);\n"
    "                       L:H=*F scales it (repeatable)\n"
    "  --all-logits         include every vocabulary logit at the position (json)\n"
    "  --format F           text (default; coloured on a terminal), json, html, png (with -o FILE): images: the\n"
    "                       pixel relevance on a diverging colour map centred at zero, beside the image; text:\n"
    "                       one labelled coloured box per token (or word), with --layers a layer x position grid\n"
    "  --overlay            png/html: blend the heatmap over the image instead of beside it\n"
    "  --patches            png/html: one value per patch instead of per pixel\n"
    "  --aggregate A        token (default) or word: text, html and png show words, the sum of their sub-tokens'\n"
    "                       relevance; json keeps relevance per token and adds words [{text, start_token,\n"
    "                       end_token, relevance}] (see README, \"Output views\")\n"
    "  --normalize N        none (default: values as computed), max (divided by max|R|) or sum (by sum |R|)\n"
    "                       over the tokens or words shown; json adds relevance_normalized\n"
    "  -o FILE, --output FILE  write the result to FILE (written whole or not at all; through a symbolic\n"
    "                       link to its target; an existing file keeps its permissions)\n"
    "  --color WHEN         text: auto (default: colour on a terminal unless NO_COLOR is set or TERM=dumb),\n"
    "                       always or never\n"
    "  --                   end of options: the next argument is TEXT even if it starts with \"-\"\n"
    "  --help, -h           this help\n"
    "Options of the baseline methods (see README, \"Baseline methods\"):\n" CLI_METHOD_OPTIONS_HELP;

typedef struct {
    const char *model, *text, *text_pair, *ids, *method, *target, *contrast, *latent_start, *format, *out;
    const char *token_types, *attention_mask, *pixels, *decoder_text, *decoder_ids;
    const char *answer, *answer_ids, *score, *contrast_id;   // --answer, --answer-ids, --score, --contrast-id
    int no_special, chat;
    double gamma[2];
    int has_gamma;
    int method_id, target_id, position, latent_layer, latent_expert, layers, all_logits, overlay, patches;
    int per_position;  // --per-position: the --latent-layer relevance per position too
    int color;  // --color: -1 auto, 0 never, 1 always
    int aggregate, normalize;  // LRP_AGGREGATE_*, LRP_NORMALIZE_*
    lrp_intervention iv[64];
    int n_iv;
    lrp_intervention head_iv[64];  // --set-head L:H=0|*F
    int n_head_iv;
    int heads;                     // --heads
    lrp_explain_opts mo;  // the baseline methods' options (cli_method_option)
} explain_args;

static int parse_explain_args(int argc, char **argv, explain_args *a) {
    memset(a, 0, sizeof *a);
    a->target_id = -1;
    a->position = -1;
    a->latent_layer = -1;
    a->latent_expert = -1;
    a->format = "text";
    a->method = "attnlrp";
    a->color = -1;
    lrp_explain_opts_default(&a->mo);
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char **str = NULL;
        int used, mrc = cli_method_option(argc, argv, &i, &a->mo, "--steps", &used);
        if (mrc) return mrc;
        if (used) continue;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            printf(explain_usage, lrp_method_names(0));
            return 1;
        } else if (!strcmp(o, "--model")) str = &a->model;
        else if (!strcmp(o, "--ids")) str = &a->ids;
        else if (!strcmp(o, "--text-pair")) str = &a->text_pair;
        else if (!strcmp(o, "--token-type-ids")) str = &a->token_types;
        else if (!strcmp(o, "--attention-mask")) str = &a->attention_mask;
        else if (!strcmp(o, "--pixels")) str = &a->pixels;
        else if (!strcmp(o, "--decoder-text")) str = &a->decoder_text;
        else if (!strcmp(o, "--decoder-ids")) str = &a->decoder_ids;
        else if (!strcmp(o, "--answer")) str = &a->answer;
        else if (!strcmp(o, "--answer-ids")) str = &a->answer_ids;
        else if (!strcmp(o, "--score")) str = &a->score;
        else if (!strcmp(o, "--contrast-id")) str = &a->contrast_id;
        else if (!strcmp(o, "--no-special")) a->no_special = 1;
        else if (!strcmp(o, "--chat")) a->chat = 1;
        else if (!strcmp(o, "--gamma")) {
            const char *v = arg_value(argc, argv, &i);
            char *end;
            if (!v) return 2;
            a->gamma[0] = strtod(v, &end);
            if (end == v || *end != ',' || (a->gamma[1] = strtod(end + 1, &end), *end) || end == v)
                return cli_error(2, "--gamma %s: expected CONV,LIN (two numbers, e.g. 0.25,0.05)", v);
            if (!(a->gamma[0] >= 0 && a->gamma[1] >= 0 && a->gamma[0] < 1e6 && a->gamma[1] < 1e6))
                return cli_error(2, "--gamma %s: the values must be finite and not negative", v);
            a->has_gamma = 1;
        }
        else if (!strcmp(o, "--method")) str = &a->method;
        else if (!strcmp(o, "--target")) str = &a->target;
        else if (!strcmp(o, "--contrast")) str = &a->contrast;
        else if (!strcmp(o, "--latent-start")) str = &a->latent_start;
        else if (!strcmp(o, "--format")) str = &a->format;
        else if (!strcmp(o, "-o") || !strcmp(o, "--output")) str = &a->out;
        else if (!strcmp(o, "--aggregate")) {
            const char *v = arg_value(argc, argv, &i);
            if (!v) return 2;
            if (!strcmp(v, "token")) a->aggregate = LRP_AGGREGATE_TOKEN;
            else if (!strcmp(v, "word")) a->aggregate = LRP_AGGREGATE_WORD;
            else return cli_error(2, "--aggregate %s: expected token or word", v);
        } else if (!strcmp(o, "--normalize")) {
            const char *v = arg_value(argc, argv, &i);
            if (!v) return 2;
            if (!strcmp(v, "none")) a->normalize = LRP_NORMALIZE_NONE;
            else if (!strcmp(v, "max")) a->normalize = LRP_NORMALIZE_MAX;
            else if (!strcmp(v, "sum")) a->normalize = LRP_NORMALIZE_SUM;
            else return cli_error(2, "--normalize %s: expected none, max or sum", v);
        }
        else if (!strcmp(o, "--layers")) a->layers = 1;
        else if (!strcmp(o, "--per-position")) a->per_position = 1;
        else if (!strcmp(o, "--heads")) a->heads = 1;
        else if (!strcmp(o, "--set-head")) {
            const char *v = arg_value(argc, argv, &i);
            if (!v) return 2;
            if (a->n_head_iv == 64) return cli_error(2, "--set-head: at most 64 head interventions");
            if (cli_parse_set_head(v, &a->head_iv[a->n_head_iv++])) return 2;
        }
        else if (!strcmp(o, "--all-logits")) a->all_logits = 1;
        else if (!strcmp(o, "--overlay")) a->overlay = 1;
        else if (!strcmp(o, "--patches")) a->patches = 1;
        else if (!strcmp(o, "--target-id") || !strcmp(o, "--position") || !strcmp(o, "--latent-layer") ||
                 !strcmp(o, "--latent-expert")) {
            const char *v = arg_value(argc, argv, &i);
            int *dst = !strcmp(o, "--target-id") ? &a->target_id : !strcmp(o, "--position") ? &a->position
                       : !strcmp(o, "--latent-layer") ? &a->latent_layer : &a->latent_expert;
            if (!v || arg_int(o, v, dst)) return 2;
            if (*dst < 0) return cli_error(2, "%s %d: must not be negative", o, *dst);
        } else if (!strcmp(o, "--set")) {
            const char *v = arg_value(argc, argv, &i);
            if (!v) return 2;
            if (a->n_iv == (int)(sizeof a->iv / sizeof a->iv[0])) return cli_error(2, "--set: at most 64 interventions");
            if (cli_parse_set(v, &a->iv[a->n_iv++])) return 2;
        } else if (!strcmp(o, "--color")) {
            const char *v = arg_value(argc, argv, &i);
            if (!v || cli_color_mode(v, &a->color)) return 2;
        } else if (!strcmp(o, "--")) {  // the rest is TEXT, even when it starts with "-"
            if (cli_rest_as_text(argc, argv, &i, &a->text, "explain")) return 2;
        } else if (o[0] == '-' && o[1] != '\0') {
            if (cli_split_option(&argc, &argv, i)) {  // --flag=value
                i--;
                continue;
            }
            return cli_error(2, "explain: unknown option %s (see attnlrp explain --help)", o);
        } else if (a->text) {
            return cli_error(2, "explain: more than one TEXT argument (quote the text)");
        } else {
            a->text = o;
        }
        if (str && !(*str = arg_value(argc, argv, &i))) return 2;
    }
    if (cli_empty_text("explain: TEXT", a->text) || cli_empty_text("--target", a->target) ||
        cli_empty_text("--contrast", a->contrast) || cli_empty_text("--text-pair", a->text_pair))
        return 2;
    if (a->text && a->ids) return cli_error(2, "explain: give TEXT or --ids, not both");
    if (a->pixels && (a->text || a->ids)) return cli_error(2, "explain: give --pixels or TEXT/--ids, not both");
    if (!a->text && !a->ids && !a->pixels)
        return cli_error(2, "explain: no input: give TEXT, --ids or --pixels (see attnlrp explain --help)");
    if (a->decoder_text && a->decoder_ids) return cli_error(2, "explain: give --decoder-text or --decoder-ids, not both");
    if (a->text_pair && !a->text) return cli_error(2, "--text-pair: give the first text as TEXT (not --ids)");
    if (a->target && a->target_id >= 0) return cli_error(2, "explain: give --target or --target-id, not both");
    if (a->contrast && a->contrast_id) return cli_error(2, "explain: give --contrast or --contrast-id, not both");
    if (a->score) {
        int k;
        if (cli_parse_score(a->score, &k)) return 2;
        if (a->latent_start) return cli_error(2, "--score: a --latent-start explains a neuron's activation, not a score");
    }
    if (a->answer && a->answer_ids) return cli_error(2, "explain: give --answer or --answer-ids, not both");
    if (a->answer_ids && !a->answer) a->answer = "";  // the answer's checks below; its ids come from the list
    if (a->answer) {
        const char *flag = a->answer_ids ? "--answer-ids" : "--answer";
        if (!*a->answer && !a->answer_ids) return cli_error(2, "--answer: empty text (give the answer's tokens)");
        const char *clash = a->latent_start ? "--latent-start" : a->target ? "--target" : a->target_id >= 0 ? "--target-id"
                            : a->position >= 0 ? "--position" : a->contrast ? "--contrast" : a->contrast_id ? "--contrast-id"
                            : a->pixels ? "--pixels" : a->attention_mask ? "--attention-mask" : NULL;
        if (clash) return cli_error(2, "%s: cannot be combined with %s (the answer's tokens are the targets)", flag, clash);
    }
    if (a->per_position && a->latent_layer < 0) return cli_error(2, "--per-position: only with --latent-layer L");
    if (a->latent_start && (a->target || a->target_id >= 0 || a->contrast || a->contrast_id))
        return cli_error(2, "--latent-start: starts at a neuron, not at an output: drop %s",
                         a->target ? "--target" : a->target_id >= 0 ? "--target-id"
                         : a->contrast ? "--contrast" : "--contrast-id");
    if (a->all_logits && strcmp(a->format, "json"))
        return cli_error(2, "--all-logits: only with --format json (text and html show the top 5)");
    if (strcmp(a->format, "text") && strcmp(a->format, "json") && strcmp(a->format, "html") && strcmp(a->format, "png"))
        return cli_error(2, "--format %s: expected text, json, html or png", a->format);
    if (!strcmp(a->format, "png") && (!a->out || !strcmp(a->out, "-")))
        return cli_error(2, "--format png: give the file with -o FILE.png");
    if ((a->overlay || a->patches) && strcmp(a->format, "png") && strcmp(a->format, "html"))
        return cli_error(2, "%s: only with --format png or html", a->overlay ? "--overlay" : "--patches");
    if ((a->overlay || a->patches) && !a->pixels)
        return cli_error(2, "%s: only with an image (--pixels)", a->overlay ? "--overlay" : "--patches");
    if (a->aggregate == LRP_AGGREGATE_WORD && a->pixels)
        return cli_error(2, "--aggregate word: an image has no words (give TEXT)");
    lrp_err err;
    if (lrp_method_lookup("method", a->method, 0, &a->method_id, &err)) return cli_lib_error(2, err.msg);
    if ((a->answer || (a->score && strcmp(a->score, "logit"))) && LRP_METHOD_IS_BASELINE(a->method_id))
        return cli_error(2, "--method %s: explains logits only (--score logprob/prob and --answer need attnlrp, cplrp, "
                         "gradxinput or gradient)", a->method);
    if (a->mo.softmax_rule != LRP_SOFTMAX_EXACT && a->method_id != LRP_METHOD_ATTNLRP)
        return cli_error(2, "--softmax-rule: the softmax ablations are for attnlrp, not %s", a->method);
    if ((a->method_id == LRP_METHOD_ATTENTION || a->method_id == LRP_METHOD_ROLLOUT ||
         a->method_id == LRP_METHOD_ATMAN) && a->latent_start)
        return cli_error(2, "--latent-start: --method %s explains an output prediction, not a latent neuron", a->method);
    if (a->has_gamma && a->method_id != LRP_METHOD_ATTNLRP && a->method_id != LRP_METHOD_CPLRP)
        return cli_error(2, "--gamma: only with the LRP methods (attnlrp, cplrp), not %s", a->method);
    return 0;
}

// --token-type-ids / --attention-mask: one value per input token.
static int per_token_list(const char *opt, const char *arg, int T, int **out) {
    int n;
    if (arg_int_list(opt, arg, out, &n)) return 2;
    if (n != T) return cli_error(2, "%s: %d values for %d input tokens", opt, n, T);
    return 0;
}

// FOIL: a token id / class index, or text naming one.
static int parse_contrast(const lrp_session *s, const char *arg, int *id) {
    char *end;
    long v = strtol(arg, &end, 10);
    if (*arg && !*end && v >= 0 && v < 1L << 30) {
        *id = (int)v;
        return 0;
    }
    if (!s->tok && s->m->cfg.task != LRP_TASK_CLASSIFIER)
        return cli_error(2, "--contrast %s: not a token id, and the model has no tokenizer to read it as text", arg);
    lrp_err err;
    if (lrp_session_target(s, "contrast_text", arg, id, &err)) return cli_lib_error(1, err.msg);
    return 0;
}

// Encoder-decoders: the prefix the decoder reads after its start token as --decoder-ids; *ids is malloc'ed
// (NULL: no prefix; --decoder-text goes to the public API as text). Prints the error and returns an exit status.
static int decoder_inputs(const lrp_session *s, const explain_args *a, int **ids, int *n) {
    const lrp_config *cfg = &s->m->cfg;
    const char *flag = a->decoder_ids ? "--decoder-ids" : "--decoder-text";
    *ids = NULL;
    *n = 0;
    if (cfg->task != LRP_TASK_SEQ2SEQ_LM) {
        if (a->decoder_ids || a->decoder_text)
            return cli_error(2, "%s: %s is not an encoder-decoder (model_type %s has no decoder input)", flag,
                             s->model_path, cfg->model_type);
        return 0;
    }
    int *prefix = NULL, n_prefix = 0;
    if (a->decoder_ids && arg_int_list("--decoder-ids", a->decoder_ids, &prefix, &n_prefix)) return 2;
    if (a->decoder_text && !s->tok)
        return cli_error(1, "--decoder-text: the model has no tokenizer (no tokenizer.json beside it): give the "
                            "prefix as --decoder-ids");
    for (int t = 0; t < n_prefix; t++)
        if (prefix[t] >= cfg->vocab_size) {
            int rc = cli_error(2, "%s: id %d at index %d is out of range (vocabulary size %d)", flag, prefix[t], t,
                               cfg->vocab_size);
            free(prefix);
            return rc;
        }
    *ids = prefix;
    *n = n_prefix;
    return 0;
}

// --format png for text: the tokens (or words) as coloured boxes, with --layers the layer x position
// matrix under them, last layer on top (render/png_grid.h). Returns an exit status.
static int text_png(const char *path, const lrp_explanation *e, const lrp_render_ctx *ctx) {
    lrp_view v;
    if (lrp_view_build(e, ctx, &v)) return cli_error(1, "out of memory");
    int n_dec = e->decoder_ids ? e->decoder_T : 0, n = v.words ? v.src.n + v.dec.n : e->T + n_dec;
    double *units = malloc(((size_t)n + 1) * sizeof *units);
    float *mat = NULL;
    char **labels = NULL, **row_labels = NULL;
    int rc = 1;
    if (!units) goto oom;
    for (int i = 0; i < n; i++)
        units[i] = v.words ? (i < v.src.n ? v.src.relevance[i] : v.dec.relevance[i - v.src.n])
                           : (i < e->T ? e->relevance[i] : e->decoder_relevance[i - e->T]);
    // labels: each word, or each token as the character(s) it is part of (render/units.h)
    if (!(labels = calloc((size_t)n + 1, sizeof *labels))) goto oom;
    for (int i = 0, k = 0; i < n; i++) {
        const lrp_units *u = i < (v.words ? v.src.n : e->T) ? &v.src : &v.dec;
        int j = i < (v.words ? v.src.n : e->T) ? i : i - (v.words ? v.src.n : e->T);
        if (v.words) labels[i] = u->text[j];
        else {
            if (j == 0) k = 0;
            while (k + 1 < u->n && u->first[k + 1] <= j) k++;
            labels[i] = u->text[k];
        }
    }
    lrp_grid_png g = {.units = units, .n_units = n, .unit_labels = labels};
    if (e->residual_relevance || e->head_relevance) {  // a layer matrix below the units, the output layer on top
        if (!(row_labels = calloc((size_t)e->n_layers, sizeof *row_labels))) goto oom;
        for (int l = 0; l < e->n_layers; l++) {
            if (!(row_labels[l] = malloc(24))) goto oom;
            snprintf(row_labels[l], 24, "layer %d", e->n_layers - 1 - l);
        }
        g.row_labels = row_labels;
        g.rows = e->n_layers;
    }
    if (e->residual_relevance) {
        if (!(mat = malloc((size_t)e->n_layers * e->T * sizeof *mat))) goto oom;
        for (int l = 0; l < e->n_layers; l++)
            memcpy(mat + (size_t)(e->n_layers - 1 - l) * e->T, e->residual_relevance + (size_t)l * e->T,
                   (size_t)e->T * sizeof *mat);
        g.matrix = mat;
        g.cols = e->T;
    } else if (e->head_relevance) {  // --heads (without --layers): the layer x head heatmap
        int H = e->n_heads;
        if (!(mat = malloc((size_t)e->n_layers * H * sizeof *mat))) goto oom;
        for (int l = 0; l < e->n_layers; l++)
            memcpy(mat + (size_t)(e->n_layers - 1 - l) * H, e->head_relevance + (size_t)l * H, (size_t)H * sizeof *mat);
        g.matrix = mat;
        g.cols = H;
    }
    lrp_err err;
    if (lrp_grid_write(path, &g, &err)) cli_error(1, "-o %s", err.msg);
    else rc = 0;
    goto out;
oom:
    cli_error(1, "out of memory");
out:
    free(units);
    free(mat);
    free(labels);
    for (int l = 0; row_labels && l < e->n_layers; l++) free(row_labels[l]);
    free(row_labels);
    lrp_view_free(&v);
    return rc;
}

// The explanation of the parsed arguments with an open session, run through the public API (attnlrp.h):
// rendered as --format and -o say, or, when json_out is not NULL, as one line of JSON written to json_out
// (attnlrp batch). The arguments are checked and the inputs read here (errors name the flags); the
// explanation itself is attnlrp_explain_ids / attnlrp_explain_image. Returns an exit status.
static int explain_run(attnlrp_session *s, const explain_args *args, FILE *json_out) {
    explain_args a = *args;
    const lrp_session *ss = lrp_api_session(s);
    int rc = 0;
    lrp_text_inputs ti = {0};
    int *types = NULL, *mask = NULL, *dec_ids = NULL, n_dec = 0, *answer = NULL, n_answer = 0;
    char *chat_prompt = NULL;
    const char *chat_family = NULL;
    attnlrp_result *r = NULL;
    lrp_render_ctx ctx = {0};
    cli_output out = {0};
    char *b64 = NULL;
    lrp_err err;
    if (!ss) return cli_error(1, "explain: the session is closed");
    const lrp_config *cfg = &ss->m->cfg;
    if (lrp_check_head_interventions(ss->m, a.head_iv, a.n_head_iv, &err))  // bad indices: a usage error
        return cli_lib_error(2, err.msg);
    attnlrp_options o;
    attnlrp_options_init(&o, sizeof o);
    attnlrp_intervention iv[64], head_iv[64];
    int image = cfg->image_size > 0 || a.pixels;
    if (image) {
        if (cfg->image_size <= 0) return cli_error(2, "--pixels: %s is a text model (give TEXT or --ids)", ss->model_path);
        if (!a.pixels)
            return cli_error(2, "explain: %s takes an image: give --pixels FILE (.npy, PNG or JPEG)", ss->model_path);
        if (a.decoder_ids || a.decoder_text)
            return cli_error(2, "%s: %s is not an encoder-decoder (model_type %s has no decoder input)",
                             a.decoder_ids ? "--decoder-ids" : "--decoder-text", ss->model_path, cfg->model_type);
    } else {
        if (a.has_gamma)
            return cli_error(2, "--gamma: the gamma rule is for Vision Transformers; %s is a text model", ss->model_path);
        if ((rc = cli_prompt_inputs(ss, a.text, a.text_pair, a.ids, a.no_special, a.chat, &ti, &chat_prompt,
                                    &chat_family)))
            goto done;
    }
    if ((rc = decoder_inputs(ss, &a, &dec_ids, &n_dec))) goto done;
    if (a.answer) {  // forced decoding: the answer's tokens but its last join the input (the decoder's)
        if (a.answer_ids ? (rc = arg_int_list("--answer-ids", a.answer_ids, &answer, &n_answer) ? 2 : 0)
                         : (rc = cli_answer_ids(ss, "--answer", a.answer, &answer, &n_answer)))
            goto done;
        if (lrp_check_ids(ss->m, answer, n_answer, &err)) {  // "ids: id 9 at index 1 is out of range ..."
            rc = cli_error(1, "%s%s", a.answer_ids ? "--answer-ids" : "--answer", err.msg + 3);
            goto done;
        }
    }
    if (a.token_types && (rc = per_token_list("--token-type-ids", a.token_types, ti.T, &types))) goto done;
    if (a.attention_mask && (rc = per_token_list("--attention-mask", a.attention_mask, ti.T, &mask))) goto done;
    if (a.latent_start && arg_int_tuple("--latent-start", a.latent_start, o.latent_start, 3)) {
        rc = 2;
        goto done;
    }
    rc = 1;
    if (a.target && !ss->tok && cfg->task != LRP_TASK_CLASSIFIER) {
        cli_error(1, "--target: the model has no tokenizer.json; use --target-id");
        goto done;
    }
    if (a.aggregate == LRP_AGGREGATE_WORD && !ss->tok) {
        cli_error(1, "--aggregate word: the model has no tokenizer (no tokenizer.json) to tell words apart");
        goto done;
    }
    o.target = a.target_id;
    if (a.target && lrp_session_target(ss, "target_text", a.target, &o.target, &err)) {
        rc = cli_lib_error(1, err.msg);
        goto done;
    }
    if (a.contrast && (rc = parse_contrast(ss, a.contrast, &o.contrast))) goto done;
    if (a.contrast_id && arg_int("--contrast-id", a.contrast_id, &o.contrast)) {
        rc = 2;
        goto done;
    }
    if (a.contrast_id && o.contrast < 0) {
        rc = cli_error(2, "--contrast-id %d: must not be negative", o.contrast);
        goto done;
    }
    if (a.contrast_id && o.contrast >= lrp_model_n_outputs(ss->m)) {
        rc = cli_error(2, "--contrast-id %d: out of range (%s %d)", o.contrast,
                       cfg->task == LRP_TASK_CLASSIFIER ? "classes" : "vocabulary size", lrp_model_n_outputs(ss->m));
        goto done;
    }
    // The public options: what explain is asked for, its inputs beside the tokens, and the views.
    cli_public_method_options(&a.mo, &o);
    o.method = a.method;
    o.position = a.position;
    o.score = a.score;
    o.answer_ids = answer;
    o.n_answer = (size_t)n_answer;
    o.decoder_ids = dec_ids;
    o.n_decoder = (size_t)n_dec;
    o.decoder_text = a.decoder_text;
    o.token_types = types ? types : ti.token_types;
    o.n_token_types = types || ti.token_types ? (size_t)ti.T : 0;
    o.attention_mask = mask;
    o.n_attention_mask = mask ? (size_t)ti.T : 0;
    o.latent_layer = a.latent_layer;
    o.latent_expert = a.latent_expert;
    o.latent_per_position = a.per_position;
    o.layers = a.layers;
    o.heads = a.heads;
    cli_public_interventions(a.iv, a.n_iv, iv);
    cli_public_interventions(a.head_iv, a.n_head_iv, head_iv);
    o.set = iv;
    o.n_set = (size_t)a.n_iv;
    o.set_head = head_iv;
    o.n_set_head = (size_t)a.n_head_iv;
    if (a.has_gamma) {
        o.gamma_conv = a.gamma[0];
        o.gamma_lin = a.gamma[1];
    }
    o.aggregate = a.aggregate;
    o.normalize = a.normalize;
    o.all_logits = a.all_logits;
    if (image ? attnlrp_explain_image(s, a.pixels, &o, &r) : attnlrp_explain_ids(s, ti.ids, (size_t)ti.T, &o, &r)) {
        const char *msg = attnlrp_last_error();
        if (image && !strncmp(msg, "image ", 6)) cli_error(1, "--pixels %s", msg + 6);  // the image file's error
        else if (!strncmp(msg, "options.decoder_text: ", 22)) cli_error(1, "--decoder-text: %s", msg + 22);
        else rc = cli_api_error(1);
        goto done;
    }
    const lrp_explanation *e = lrp_api_explanation(r);
    if (e->nonfinite)
        cli_error(0, "warning: %d of %d relevance values are not finite (NaN or inf; null in JSON)", e->nonfinite,
                  e->n_relevance);
    if (e->nonfinite_tensor && !e->nonfinite_weights)  // (found at load: warned of then)
        cli_error(0, "warning: the checkpoint's tensor \"%s\" holds a non-finite value (element %lld)",
                  e->nonfinite_tensor, e->nonfinite_index);
    ctx = *lrp_api_render_ctx(r);  // the result's display strings and views (the public API's own)
    ctx.chat_family = chat_family;
    ctx.chat_prompt = chat_prompt;
    if (!e->ids && (!strcmp(a.format, "png") || !strcmp(a.format, "html"))) {
        const lrp_image *img = lrp_api_image(r);
        int side = e->width / e->patch_size;
        lrp_heatmap h = {a.patches ? e->relevance : e->relevance_pixels, a.patches ? side : e->height,
                         a.patches ? side : e->width, img->display.data ? &img->display : NULL, a.overlay, 0};
        if (a.overlay && !h.image) {
            cli_error(1, "--overlay: no displayable copy of the input image");
            goto done;
        }
        if (!strcmp(a.format, "png")) {
            if (lrp_heatmap_write(a.out, &h, &err)) cli_error(1, "-o %s", err.msg);
            else rc = 0;
            goto done;
        }
        unsigned char *png = NULL;
        size_t n_png = 0;
        if (lrp_heatmap_png(&h, &png, &n_png, &err)) {
            cli_error(1, "%s", err.msg);
            goto done;
        }
        b64 = lrp_base64(png, n_png);
        free(png);
        if (!b64) {
            cli_error(1, "out of memory");
            goto done;
        }
        ctx.image_png_base64 = b64;
    }
    if (e->ids && !strcmp(a.format, "png")) {
        rc = text_png(a.out, e, &ctx);
        goto done;
    }
    if (json_out) {
        lrp_render_json(json_out, e, &ctx);
        rc = ferror(json_out) ? 1 : 0;
        goto done;
    }
    if (cli_output_open(&out, a.out)) goto done;
    if (!strcmp(a.format, "json")) lrp_render_json(out.f, e, &ctx);
    else if (!strcmp(a.format, "html")) lrp_render_html(out.f, e, &ctx);
    else lrp_render_text(out.f, e, &ctx, cli_use_color(a.color, out.f));
    rc = cli_output_commit(&out) ? 1 : 0;
done:
    attnlrp_result_free(r);
    free(dec_ids);
    free(answer);
    free(chat_prompt);
    free(types);
    free(mask);
    lrp_text_inputs_free(&ti);
    free(b64);
    return rc;
}

int cmd_explain(int argc, char **argv) {
    explain_args a;
    int rc = parse_explain_args(argc, argv, &a);
    if (rc) return rc == 1 ? 0 : rc;
    attnlrp_session *s = NULL;
    if ((rc = cli_api_open(&s, a.model))) return rc;
    rc = explain_run(s, &a, NULL);
    attnlrp_session_free(s);
    return rc;
}

int cli_explain_json(attnlrp_session *s, int argc, char **argv, FILE *out) {
    explain_args a;
    int rc = parse_explain_args(argc, argv, &a);
    if (rc) return rc == 1 ? 2 : rc;  // 1: --help was asked for, which batch never passes
    if (strcmp(a.format, "json")) return cli_error(2, "--format: batch writes JSON only");
    return explain_run(s, &a, out);
}

int cli_explain_check_args(int argc, char **argv) {
    explain_args a;
    int rc = parse_explain_args(argc, argv, &a);
    return rc == 1 ? 2 : rc;
}

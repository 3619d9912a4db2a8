// attnlrp generate: continue a prompt, streaming the text; optionally explain every generated token.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/handles.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "explain/explain.h"
#include "explain/methods.h"
#include "render/png_grid.h"
#include "render/render.h"
#include "render/units.h"

static const char generate_usage[] =
    "usage: attnlrp generate [--model PATH] [TEXT | --ids LIST] [-n N] [--temp T] [--top-k K] [--top-p P]\n"
    "                        [--seed S] [--set L:N=V ...] [--set-head L:H=0|*F ...] [--no-eos] [--explain [--method M] [--top K]]\n"
    "                        [--format text|json|html|png] [-o FILE]\n"
    "                        [--continuation TEXT | --continuation-ids LIST] [--score logit|logprob|prob]\n"
    "                        [--no-special] [--chat]\n"
    "\n"
    "Continues the prompt with a KV cache, streaming text to stdout.\n"
    "\n"
    "  --model PATH    Hugging Face checkpoint directory or GGUF file (default: the shipped model)\n"
    "  TEXT            the prompt, tokenized with the model's tokenizer (special tokens added)\n"
    "  --ids LIST      the prompt as token ids instead of text, e.g. 1,306\n"
    "  -n N            tokens to generate (default 32)\n"
    "  --temp T        sampling temperature; 0 (default) is greedy\n"
    "  --top-k K       sample among the K most likely tokens\n"
    "  --top-p P       sample from the smallest set of tokens with probability mass >= P\n"
    "  --seed S        random seed for sampling (default 0)\n"
    "  --set L:N=V     set MLP neuron N of layer L to V at every position and step (=*F scales, =+D shifts)\n"
    "  --set-head L:H=0  zero attention head H of layer L (its slice of the o-projection's input) at every\n"
    "                  position and step; L:H=*F scales it (repeatable; not T5)\n"
    "  --no-eos        do not stop at the end-of-sequence token\n"
    "  --explain       attribute every generated token to the prompt and the tokens before it (encoder-\n"
    "                  decoders: the prompt is the source; each row covers the source and the target prefix,\n"
    "                  JSON relevance_matrix [generated x (source + decoder inputs)], null after the step)\n"
    "  --method M      relevance method for --explain: %s\n"
    "  --top K         with --explain: most relevant input tokens shown per generated token (default 3)\n"
    "  --continuation TEXT  with --explain: explain each token of TEXT (tokenized on its own, no special\n"
    "                  tokens) as if it had been generated, instead of generating (forced decoding)\n"
    "  --continuation-ids LIST  the same with token ids\n"
    "  --score S       with --explain: what is explained per token: " CLI_SCORE_HELP " (default logit)\n"
    "  --no-special    tokenize the prompt without adding special tokens (no BOS/EOS)\n"
    "  --chat          the prompt is the one user message of the model's chat template (see explain --help)\n"
    "  --format F      text (default) or json (with --explain: `matrix`, the relevance as a rectangular\n"
    "                  [generated][prompt + generated] array, null where a token is not yet an input); with\n"
    "                  --explain also html (a token x token heatmap page) or png (-o FILE: the same grid as\n"
    "                  coloured boxes, rows labelled, each row on its own scale)\n"
    "  -o FILE         write the result to FILE (written whole or not at all)\n"
    "  --              end of options: the next argument is TEXT even if it starts with \"-\"\n"
    "  --help, -h      this help\n"
    "Options of the baseline methods with --explain (--seed above is the sampler's):\n" CLI_METHOD_OPTIONS_HELP;

typedef struct {
    const lrp_tokenizer *tok;
    const int *prompt;
    int n_prompt;
    int *all;        // prompt + generated so far
    int n_all;
    size_t printed;  // bytes of the decoded text (prompt + continuation) already printed
    FILE *f;
} stream_ctx;

// Prints the newly decodable part of the continuation (a byte-level token may complete a character later).
static int stream_token(int id, void *p) {
    stream_ctx *s = p;
    if (id >= 0) s->all[s->n_all++] = id;
    if (!s->f) return 0;
    if (!s->tok) {
        fprintf(s->f, "%s%d", s->n_all - s->n_prompt > 1 ? "," : "", id);
        fflush(s->f);
        return 0;
    }
    // Decode prompt and continuation together: a decoder may treat the first token of a text specially
    // (SentencePiece drops its leading space), so the continuation alone would decode differently.
    char *text = NULL;
    lrp_err err;
    if (lrp_tokenizer_decode(s->tok, s->all, s->n_all, 1, &text, &err) == 0) {
        size_t len = strlen(text);
        // hold back a trailing replacement character: the next token may complete it
        size_t stable = len;
        if (stable >= 3 && !memcmp(text + stable - 3, "\xef\xbf\xbd", 3)) stable -= 3;
        if (stable > s->printed) {
            fwrite(text + s->printed, 1, stable - s->printed, s->f);
            fflush(s->f);
            s->printed = stable;
        }
        free(text);
    }
    return 0;
}

// attnlrp_generate's token callback: the stream above.
static int on_generated(int id, const char *text, void *p) {
    (void)text;
    return stream_token(id, p);
}

// The public options of one generated token's explanation: token `target` explained with `method` and score.
static void step_options(attnlrp_options *o, const char *method, int target, int score) {
    attnlrp_options_init(o, sizeof *o);
    o->method = method;
    o->target = target;
    o->score = lrp_score_name(score);
}

// Encoder-decoders: one relevance pass per generated token g, whose decoder reads the start token and the
// g tokens before it. JSON: per step the source row (`relevance`) and the decoder row (`decoder_relevance`,
// g + 1 values), and `relevance_matrix` [n_gen][T + n_gen]: the source columns, then the decoder inputs
// (start token, generated tokens), null where a decoder input comes after the step. Text: the `top` most
// relevant source (src@i) and target-prefix (tgt@i) tokens of each step.
static int explain_seq2seq(attnlrp_session *api, const int *src, int T, const int *gen, int n_gen, const char *meth,
                           int top, int score, const attnlrp_intervention *iv, int n_iv, json_t *doc, FILE *f) {
    const lrp_session *s = lrp_api_session(api);
    const lrp_config *c = &s->m->cfg;
    int *dec = malloc(((size_t)n_gen + 1) * sizeof(int));
    float *row = malloc(((size_t)T + n_gen + 1) * sizeof(float));
    json_t *expl = json_array(), *matrix = json_array();
    int rc = 1;
    if (!dec || !row || !expl || !matrix) {
        cli_error(1, "out of memory");
        goto done;
    }
    dec[0] = c->decoder_start_token_id;
    for (int g = 0; g < n_gen; g++) dec[g + 1] = gen[g];
    for (int g = 0; g < n_gen; g++) {
        attnlrp_options o;  // the decoder reads its start token and the g tokens generated before
        step_options(&o, meth, gen[g], score);
        o.set = iv;
        o.n_set = (size_t)n_iv;
        o.decoder_ids = gen;
        o.n_decoder = (size_t)g;
        attnlrp_result *res = NULL;
        if (attnlrp_explain_ids(api, src, (size_t)T, &o, &res)) {
            rc = cli_api_error(1);
            goto done;
        }
        const lrp_explanation *ep = lrp_api_explanation(res), e = *ep;
        int n = T + g + 1, order[8], k = top < n ? top : n;
        if (k > 8) k = 8;
        memcpy(row, e.relevance, (size_t)T * sizeof(float));
        memcpy(row + T, e.decoder_relevance, (size_t)(g + 1) * sizeof(float));
        lrp_rank_top(row, n, k, order);
        char *gt = lrp_token_string(s->tok, gen[g]);
        if (doc) {
            json_t *r = lrp_jv_float_array(row, n);
            for (int j = n; r && j < T + n_gen; j++) json_array_append_new(r, json_null());
            json_array_append_new(matrix, r);
            json_array_append_new(expl, json_pack("{s:i, s:i, s:o, s:o, s:o, s:o}", "step", g, "id", gen[g], "token",
                                                  lrp_jv_text(gt), "logit", lrp_jv_number(e.target_logit), "relevance",
                                                  lrp_jv_float_array(e.relevance, T), "decoder_relevance",
                                                  lrp_jv_float_array(e.decoder_relevance, g + 1)));
            json_object_set_new(json_array_get(expl, json_array_size(expl) - 1), "start_value",
                                lrp_jv_number(e.start_value));
        } else {
            char quoted[300];
            snprintf(quoted, sizeof quoted, "\"%s\"", gt ? gt : "");
            fprintf(f, "%3d %-14s <-", g, quoted);
            for (int r = 0; r < k; r++) {
                int j = order[r], is_src = j < T;
                char *tt = lrp_token_string(s->tok, is_src ? src[j] : dec[j - T]);
                fprintf(f, "  \"%s\"%s@%d %.3g", tt ? tt : "", is_src ? "src" : "tgt", is_src ? j : j - T, row[j]);
                free(tt);
            }
            fputc('\n', f);
        }
        free(gt);
        attnlrp_result_free(res);
    }
    if (doc) {
        json_object_set_new(doc, "explanations", expl);
        json_object_set_new(doc, "matrix", json_deep_copy(matrix));
        json_object_set_new(doc, "relevance_matrix", matrix);
        json_t *cols = lrp_jv_int_array(src, T);
        for (int j = 0; cols && j < n_gen; j++) json_array_append_new(cols, json_integer(dec[j]));
        json_object_set_new(doc, "matrix_ids", cols);
        expl = matrix = NULL;
    }
    rc = 0;
done:
    json_decref(expl);
    json_decref(matrix);
    free(dec);
    free(row);
    return rc;
}

int cmd_generate(int argc, char **argv) {
    const char *model = NULL, *text = NULL, *ids_arg = NULL, *format = "text", *method = "attnlrp", *out_path = NULL;
    const char *continuation = NULL, *continuation_ids = NULL, *score_arg = NULL;
    int n_new = 32, stop_eos = 1, explain = 0, top = 3, no_special = 0, chat = 0, score = LRP_SCORE_LOGIT;
    int *forced = NULL, n_forced = 0;
    json_t *jmatrix = NULL;  // --format json: the rectangular [generated][prompt + generated] relevance
    const char *explain_only = NULL;  // the first option that means something only with --explain
    attnlrp_generate_options go;  // the sampler's flags (the public API's generation options)
    attnlrp_generate_options_init(&go, sizeof go);
    lrp_intervention iv[64];
    int n_iv = 0;
    lrp_intervention hiv[64];  // --set-head
    int n_hiv = 0;
    lrp_explain_opts mo;
    lrp_explain_opts_default(&mo);
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = NULL;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            printf(generate_usage, lrp_method_names(0));
            return 0;
        }
        int takes = !strcmp(o, "--model") || !strcmp(o, "--ids") || !strcmp(o, "-n") || !strcmp(o, "--temp") ||
                    !strcmp(o, "--top-k") || !strcmp(o, "--top-p") || !strcmp(o, "--seed") || !strcmp(o, "--set") ||
                    !strcmp(o, "--set-head") ||
                    !strcmp(o, "--format") || !strcmp(o, "--method") || !strcmp(o, "--top") || !strcmp(o, "-o") ||
                    !strcmp(o, "--continuation") || !strcmp(o, "--continuation-ids") || !strcmp(o, "--score");
        if (!takes) {  // the baseline methods' options (generate's own --seed is the sampler's)
            int used, mrc = cli_method_option(argc, argv, &i, &mo, "--steps", &used);
            if (mrc) return mrc;
            if (used) {
                if (!explain_only) explain_only = o;
                continue;
            }
        }
        if (takes && !(v = arg_value(argc, argv, &i))) return 2;
        double x;
        int k;
        if (!strcmp(o, "--model")) model = v;
        else if (!strcmp(o, "--ids")) ids_arg = v;
        else if (!strcmp(o, "--format")) format = v;
        else if (!strcmp(o, "--method")) method = v, explain_only = explain_only ? explain_only : o;
        else if (!strcmp(o, "-o")) out_path = v;
        else if (!strcmp(o, "--continuation")) continuation = v;
        else if (!strcmp(o, "--continuation-ids")) continuation_ids = v;
        else if (!strcmp(o, "--score")) {
            if (cli_parse_score(v, &score)) return 2;
            score_arg = v;
        } else if (!strcmp(o, "--no-special")) no_special = 1;
        else if (!strcmp(o, "--chat")) chat = 1;
        else if (!strcmp(o, "-n")) {
            if (arg_int(o, v, &n_new)) return 2;
            if (n_new < 0) return cli_error(2, "-n %d: must not be negative", n_new);
        } else if (!strcmp(o, "--top")) {
            if (arg_int(o, v, &top)) return 2;
            if (top < 1) return cli_error(2, "--top %d: must be at least 1", top);
            if (!explain_only) explain_only = o;
        } else if (!strcmp(o, "--temp")) {
            if (arg_float(o, v, &x)) return 2;
            if (!(x >= 0) || !isfinite(x)) return cli_error(2, "--temp %s: must be a number >= 0", v);
            go.temperature = (float)x;  // as the sampler keeps it
        } else if (!strcmp(o, "--top-p")) {
            if (arg_float(o, v, &x)) return 2;
            if (!(x > 0 && x <= 1)) return cli_error(2, "--top-p %s: must be in (0, 1]", v);
            go.top_p = (float)x;
        } else if (!strcmp(o, "--top-k")) {
            if (arg_int(o, v, &k)) return 2;
            if (k < 0) return cli_error(2, "--top-k %d: must not be negative", k);
            go.top_k = k;
        } else if (!strcmp(o, "--seed")) {
            if (arg_float(o, v, &x)) return 2;
            if (!(x >= 0 && x < 18446744073709551616.0) || x != floor(x))  // NaN, inf: refused
                return cli_error(2, "--seed %s: must be a non-negative integer", v);
            go.seed = (uint64_t)x;
        } else if (!strcmp(o, "--set")) {
            if (n_iv == 64) return cli_error(2, "--set: at most 64 interventions");
            if (cli_parse_set(v, &iv[n_iv++])) return 2;
        } else if (!strcmp(o, "--set-head")) {
            if (n_hiv == 64) return cli_error(2, "--set-head: at most 64 head interventions");
            if (cli_parse_set_head(v, &hiv[n_hiv++])) return 2;
        } else if (!strcmp(o, "--no-eos")) stop_eos = 0;
        else if (!strcmp(o, "--explain")) explain = 1;
        else if (!strcmp(o, "--")) {  // the rest is TEXT, even when it starts with "-"
            if (cli_rest_as_text(argc, argv, &i, &text, "generate")) return 2;
        } else if (o[0] == '-' && o[1]) {
            if (cli_split_option(&argc, &argv, i)) {  // --flag=value
                i--;
                continue;
            }
            return cli_error(2, "generate: unknown option %s (see attnlrp generate --help)", o);
        }
        else if (text) return cli_error(2, "generate: more than one TEXT argument (quote the text)");
        else text = o;
    }
    if (cli_empty_text("generate: TEXT", text)) return 2;
    if (!text == !ids_arg) return cli_error(2, "generate: give the prompt as TEXT or --ids (one of them)");
    if (explain_only && !explain) return cli_error(2, "%s: only with --explain", explain_only);
    if (strcmp(format, "text") && strcmp(format, "json") && strcmp(format, "html") && strcmp(format, "png"))
        return cli_error(2, "--format %s: expected text, json, html or png", format);
    int grid = !strcmp(format, "html") || !strcmp(format, "png");  // the token x token heatmap
    if (grid && !explain) return cli_error(2, "--format %s: the heatmap needs --explain", format);
    if (!strcmp(format, "png") && (!out_path || !strcmp(out_path, "-")))
        return cli_error(2, "--format png: give the file with -o FILE.png");
    if (continuation && continuation_ids) return cli_error(2, "generate: give --continuation or --continuation-ids, not both");
    if (continuation_ids && !explain) return cli_error(2, "--continuation-ids: only with --explain (it replaces generation)");
    if (continuation && !explain) return cli_error(2, "--continuation: only with --explain (it replaces generation)");
    if (continuation && !*continuation) return cli_error(2, "--continuation: empty text (give the tokens to explain)");
    if (score_arg && !explain) return cli_error(2, "--score: only with --explain");
    int meth;
    lrp_err err;
    if (lrp_method_lookup("method", method, 0, &meth, &err)) return cli_lib_error(2, err.msg);

    attnlrp_session *api = NULL;
    lrp_session s = {0};  // the session's model and tokenizer (read only), for the inputs and the display
    lrp_text_inputs ss = {0};
    attnlrp_intervention piv[64], phiv[64];  // --set, --set-head as the public API takes them
    cli_output out = {0};
    json_t *doc = NULL, *expl = NULL;
    int *gen = NULL, n_gen = 0;
    float *matrix = NULL;          // --format html|png: [n_gen][prompt + n_gen - 1], NaN after each step's token
    const char *png_path = out_path;
    stream_ctx st = {0};
    int rc = cli_api_open(&api, model);
    if (rc) goto done;
    s = *lrp_api_session(api);
    int seq2seq = s.m->cfg.task == LRP_TASK_SEQ2SEQ_LM;  // the prompt is the source; the output is the decoder's
    if (s.m->cfg.task != LRP_TASK_CAUSAL_LM && !seq2seq) {
        rc = cli_error(1, "generate: %s is a %s; generation needs a causal language model", s.model_path,
                       lrp_task_name(s.m->cfg.task));
        goto done;
    }
    if ((rc = cli_prompt_inputs(&s, text, NULL, ids_arg, no_special, chat, &ss, NULL, NULL))) goto done;
    if (continuation && (rc = cli_answer_ids(&s, "--continuation", continuation, &forced, &n_forced))) goto done;
    if (continuation_ids && arg_int_list("--continuation-ids", continuation_ids, &forced, &n_forced)) {
        rc = 2;
        goto done;
    }
    if (forced) n_new = n_forced;
    rc = 1;
    if (lrp_check_interventions(s.m, iv, n_iv, &err)) {
        rc = cli_lib_error(1, err.msg);
        goto done;
    }
    if (lrp_check_head_interventions(s.m, hiv, n_hiv, &err)) {
        rc = cli_lib_error(2, err.msg);
        goto done;
    }
    cli_public_interventions(iv, n_iv, piv);
    cli_public_interventions(hiv, n_hiv, phiv);
    int json = !strcmp(format, "json");
    if (grid && seq2seq) {
        rc = cli_error(2, "--format %s: the generation heatmap is for decoder-only models (use --format json)", format);
        goto done;
    }
    if (!strcmp(format, "png")) out_path = NULL;  // written by lrp_grid_write below
    if (cli_output_open(&out, grid && !out_path ? NULL : out_path)) goto done;
    st.tok = s.tok;
    st.prompt = ss.ids;
    st.n_prompt = seq2seq ? 0 : ss.T;
    st.all = malloc(((size_t)ss.T + n_new + 1) * sizeof(int));
    if (!st.all) goto done;
    memcpy(st.all, ss.ids, (size_t)st.n_prompt * sizeof(int));
    st.n_all = st.n_prompt;
    st.f = json || grid ? NULL : out.f;
    if (st.f && s.tok && !seq2seq) stream_token(-1, &st);  // prints the decoded prompt
    if (forced) {  // forced decoding: the continuation stands in for the generated tokens
        if (lrp_check_ids(s.m, forced, n_forced, &err)) {  // "ids: id 9 at index 1 is out of range ..."
            rc = cli_error(2, "%s%s", continuation_ids ? "--continuation-ids" : "--continuation", err.msg + 3);
            cli_output_abort(&out);
            goto done;
        }
        gen = forced;
        n_gen = n_forced;
        forced = NULL;
        for (int g = 0; g < n_gen; g++) stream_token(gen[g], &st);
    } else {
        go.max_new = n_new;
        go.no_eos = !stop_eos;
        go.set = piv;
        go.n_set = (size_t)n_iv;
        go.set_head = phiv;
        go.n_set_head = (size_t)n_hiv;
        size_t n_out = 0;
        if (!(gen = malloc(((size_t)n_new + 1) * sizeof *gen))) goto done;
        if (attnlrp_generate_ids(api, ss.ids, (size_t)ss.T, &go, on_generated, &st, gen, (size_t)n_new, &n_out)) {
            rc = cli_api_error(1);
            cli_output_abort(&out);
            goto done;
        }
        n_gen = (int)n_out;
    }
    if (st.f) fputc('\n', st.f);
    if (json) {
        doc = json_object();
        if (!doc) goto done;
        json_object_set_new(doc, "prompt_ids", lrp_jv_int_array(ss.ids, ss.T));
        json_object_set_new(doc, "generated_ids", lrp_jv_int_array(gen, n_gen));
        if (s.tok) {
            char *p = NULL;
            if (lrp_tokenizer_decode(s.tok, st.all, st.n_all, 1, &p, &err) == 0) {
                json_object_set_new(doc, "text", lrp_jv_text(p));
                free(p);
            }
            json_t *toks = json_array();
            for (int i = 0; i < st.n_all; i++) {
                char *t = lrp_token_string(s.tok, st.all[i]);
                json_array_append_new(toks, lrp_jv_text(t));
                free(t);
            }
            json_object_set_new(doc, "tokens", toks);
        }
    }
    if (explain && seq2seq) {
        if (json) json_object_set_new(doc, "method", json_string(method));
        else fprintf(out.f, "\nmost relevant source and target-prefix tokens for each generated token (%s%s%s):\n", method,
                     score ? ", " : "", score ? lrp_score_name(score) : "");
        if (json) json_object_set_new(doc, "score", json_string(lrp_score_name(score)));
        if (explain_seq2seq(api, ss.ids, ss.T, gen, n_gen, method, top, score, piv, n_iv, json ? doc : NULL, out.f)) {
            cli_output_abort(&out);
            goto done;
        }
    } else if (explain) {
        // One relevance pass per generated token: its row covers every token before it.
        if (grid) {
            if (!(matrix = malloc(((size_t)n_gen * (ss.T + n_gen) + 1) * sizeof *matrix))) goto done;
        } else if (json) {
            json_object_set_new(doc, "method", json_string(method));
            json_object_set_new(doc, "score", json_string(lrp_score_name(score)));
            json_object_set_new(doc, "explanations", expl = json_array());
            json_object_set_new(doc, "matrix", jmatrix = json_array());
            json_object_set_new(doc, "matrix_ids", lrp_jv_int_array(st.all, ss.T + n_gen));
        } else {
            fprintf(out.f, "\nmost relevant earlier tokens for each generated token (%s%s%s):\n", method, score ? ", " : "",
                    score ? lrp_score_name(score) : "");
        }
        for (int g = 0; g < n_gen; g++) {
            attnlrp_options o;  // the prompt and the tokens generated before: their last position
            step_options(&o, method, gen[g], score);
            cli_public_method_options(&mo, &o);
            o.set = piv;
            o.n_set = (size_t)n_iv;
            o.set_head = phiv;
            o.n_set_head = (size_t)n_hiv;
            attnlrp_result *res = NULL;
            int T = ss.T + g;
            if (attnlrp_explain_ids(api, st.all, (size_t)T, &o, &res)) {
                rc = cli_api_error(1);
                cli_output_abort(&out);
                goto done;
            }
            const lrp_explanation e = *lrp_api_explanation(res);
            int order[8], k = top < T ? top : T;
            if (k > 8) k = 8;
            lrp_rank_top(e.relevance, T, k, order);
            char *gt = lrp_token_string(s.tok, gen[g]);
            if (grid) {
                int cols = ss.T + n_gen - 1;
                for (int t = 0; t < cols; t++) matrix[(size_t)g * cols + t] = t < T ? e.relevance[t] : NAN;
            } else if (json) {
                json_array_append_new(expl, json_pack("{s:i, s:i, s:o, s:o, s:o, s:o}", "step", g, "id", gen[g], "token",
                                                      lrp_jv_text(gt), "logit", lrp_jv_number(e.target_logit),
                                                      "relevance", lrp_jv_float_array(e.relevance, T), "top",
                                                      lrp_jv_int_array(order, k)));
                json_object_set_new(json_array_get(expl, json_array_size(expl) - 1), "start_value",
                                    lrp_jv_number(e.start_value));
                json_t *r = lrp_jv_float_array(e.relevance, T);  // the row, padded to [prompt + generated]
                for (int j = T; r && j < ss.T + n_gen; j++) json_array_append_new(r, json_null());
                json_array_append_new(jmatrix, r);
            } else {
                char quoted[300];
                snprintf(quoted, sizeof quoted, "\"%s\"", gt ? gt : "");
                fprintf(out.f, "%3d %-14s <-", g, quoted);
                for (int r = 0; r < k; r++) {
                    char *tt = lrp_token_string(s.tok, st.all[order[r]]);
                    fprintf(out.f, "  \"%s\"@%d %.3g", tt ? tt : "", order[r], e.relevance[order[r]]);
                    free(tt);
                }
                fputc('\n', out.f);
            }
            free(gt);
            attnlrp_result_free(res);
        }
    }
    if (grid && n_gen == 0) {
        cli_error(1, "--format %s: no token was generated (end of text at once), so there is no heatmap", format);
        cli_output_abort(&out);
        goto done;
    }
    if (grid && explain && n_gen > 0) {
        char **bytes = calloc((size_t)st.n_all + 1, sizeof *bytes), buf[256];
        int ok = bytes != NULL;
        for (int t = 0; ok && t < st.n_all; t++) {
            if (s.tok) lrp_tokenizer_token_bytes(s.tok, st.all[t], buf, sizeof buf);
            else snprintf(buf, sizeof buf, "[%d]", st.all[t]);
            ok = (bytes[t] = strdup(buf)) != NULL;
        }
        int bad = !ok;
        if (ok && !strcmp(format, "html")) lrp_render_generation_html(out.f, method, bytes, ss.T, n_gen, matrix);
        else if (ok) {
            // row labels: each generated token as the character(s) it is part of (render/units.h)
            lrp_units u;
            char **rows = calloc((size_t)n_gen, sizeof *rows);
            if (!rows || lrp_units_build(bytes, st.n_all, NULL, NULL, &u)) bad = 1;
            else {
                for (int g = 0, k = 0; g < n_gen; g++) {
                    while (k + 1 < u.n && u.first[k + 1] <= ss.T + g) k++;
                    rows[g] = u.text[k];
                }
                lrp_grid_png gp = {.matrix = matrix, .rows = n_gen, .cols = ss.T + n_gen - 1, .row_scaled = 1,
                                   .row_labels = rows, .scale_text = "+-max|R| of each row"};
                if (lrp_grid_write(png_path, &gp, &err)) {
                    cli_error(1, "-o %s", err.msg);
                    bad = 2;
                }
                lrp_units_free(&u);
            }
            free(rows);
        }
        for (int t = 0; bytes && t < st.n_all; t++) free(bytes[t]);
        free(bytes);
        if (bad) {
            if (bad == 1) cli_error(1, "out of memory");
            cli_output_abort(&out);
            goto done;
        }
    }
    if (json) {
        int bad = lrp_jv_dump(out.f, doc, 1);
        doc = NULL;
        if (bad) {
            cli_error(1, "out of memory");
            cli_output_abort(&out);
            goto done;
        }
    }
    rc = cli_output_commit(&out) ? 1 : 0;
done:
    json_decref(doc);
    free(forced);
    free(matrix);
    free(gen);
    free(st.all);
    lrp_text_inputs_free(&ss);
    attnlrp_session_free(api);
    return rc;
}

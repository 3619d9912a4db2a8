#include "cli/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/args.h"

int cli_parse_set(const char *arg, lrp_intervention *iv) {
    int layer, neuron, used = 0;
    if (sscanf(arg, "%d:%d=%n", &layer, &neuron, &used) != 2 || used == 0)
        return cli_error(2, "--set %s: expected LAYER:NEURON=VALUE, =*FACTOR or =+DELTA", arg);
    const char *v = arg + used;
    iv->layer = layer;
    iv->neuron = neuron;
    iv->kind = LRP_SET_VALUE;
    if (*v == '*') iv->kind = LRP_SET_SCALE, v++;
    else if (*v == '+') iv->kind = LRP_SET_ADD, v++;
    double x;
    char opt[64];
    snprintf(opt, sizeof opt, "--set %d:%d", layer, neuron);
    if (arg_float(opt, v, &x)) return 2;
    iv->value = (float)x;
    return 0;
}

int cli_single_token(const lrp_tokenizer *tok, const char *opt, const char *text, int *id) {
    int *ids = NULL, n = 0;
    lrp_err err;
    if (lrp_tokenizer_encode(tok, text, strlen(text), 0, &ids, &n, &err)) return cli_error(1, "%s: %s", opt, err.msg);
    if (n != 1) {
        // A SentencePiece vocabulary splits " Lily" into "▁" + "▁Lily"; accept the token whose display text
        // is exactly the argument.
        char buf[256];
        int V = lrp_tokenizer_vocab_size(tok);
        for (int i = 0; i < V; i++) {
            if (lrp_tokenizer_token_text(tok, i, buf, sizeof buf) >= 0 && strcmp(buf, text) == 0 &&
                !lrp_tokenizer_is_special(tok, i)) {
                *id = i;
                free(ids);
                return 0;
            }
        }
        char shown[512] = "";
        for (int i = 0; i < n && strlen(shown) < 400; i++) {
            char buf[64];
            lrp_tokenizer_token_text(tok, ids[i], buf, sizeof buf);
            snprintf(shown + strlen(shown), sizeof shown - strlen(shown), "%s\"%s\" (%d)", i ? ", " : "", buf, ids[i]);
        }
        free(ids);
        return cli_error(1, "%s \"%s\" is %d tokens, not one: %s", opt, text, n, n ? shown : "(empty)");
    }
    *id = ids[0];
    free(ids);
    return 0;
}

char *cli_token_string(const lrp_tokenizer *tok, int id) {
    char buf[256];
    if (tok) lrp_tokenizer_token_text(tok, id, buf, sizeof buf);
    else snprintf(buf, sizeof buf, "[%d]", id);
    return strdup(buf);
}

// Loads the tokenizer beside a checkpoint directory, or the one embedded in a GGUF file; leaves *tok
// NULL (no error) when there is none.
static int load_tokenizer(const char *model_path, const lrp_model *m, lrp_tokenizer **tok) {
    *tok = NULL;
    struct stat st;
    char p[4200];
    if (!strcmp(m->format, "gguf")) {
        lrp_err err;
        if (lrp_tokenizer_from_gguf(tok, &m->tf, model_path, &err)) return cli_error(1, "%s", err.msg);
        return 0;
    }
    if (stat(model_path, &st) != 0 || !S_ISDIR(st.st_mode)) return 0;
    snprintf(p, sizeof p, "%s/tokenizer.json", model_path);
    if (stat(p, &st) != 0) return 0;
    lrp_err err;
    if (lrp_tokenizer_load(tok, model_path, &err)) return cli_error(1, "%s", err.msg);
    return 0;
}

int cli_session_open(cli_session *s, const char *model, const char *text, const char *ids_arg) {
    memset(s, 0, sizeof *s);
    if (model) snprintf(s->model_path, sizeof s->model_path, "%s", model);
    else if (default_model_path(s->model_path, sizeof s->model_path))
        return cli_error(1, "no --model given and no default model found (set ATTNLRP_MODEL or pass --model)");
    lrp_err err;
    if (lrp_model_open(&s->m, s->model_path, &err)) return cli_error(1, "%s", err.msg);
    int rc = load_tokenizer(s->model_path, s->m, &s->tok);
    if (rc) return rc;
    if (text) {
        if (!s->tok) return cli_error(1, "%s: the model has no tokenizer (no tokenizer.json beside it): give the input as --ids",
                             s->model_path);
        if (lrp_tokenizer_encode(s->tok, text, strlen(text), 1, &s->ids, &s->T, &err))
            return cli_error(1, "TEXT: %s", err.msg);
    } else if (ids_arg && arg_int_list("--ids", ids_arg, &s->ids, &s->T)) {
        return 2;
    }
    return 0;
}

void cli_session_close(cli_session *s) {
    free(s->ids);
    if (s->tok) lrp_tokenizer_free(s->tok);
    lrp_model_close(s->m);
    memset(s, 0, sizeof *s);
}

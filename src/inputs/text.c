#include "inputs/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lrp_encode_text(const lrp_tokenizer *tok, const lrp_config *cfg, const char *text, size_t len, const char *pair,
                    size_t pair_len, lrp_text_inputs *out, lrp_err *err) {
    memset(out, 0, sizeof *out);
    if (pair && !lrp_tokenizer_can_encode_pair(tok))
        return lrp_fail(err, "text_pair: the tokenizer has no template for text pairs (its post_processor joins no "
                             "second text)");
    int *types = NULL;
    // With a pair the tokenizer's messages already say which text ("text: ...", "text pair: ...").
    if (lrp_tokenizer_encode_pair(tok, text, len, pair, pair_len, 1, &out->ids, &types, &out->T, err))
        return pair ? -1 : lrp_fail_prefix(err, "text");
    if (cfg && cfg->type_vocab_size > 0) {
        out->token_types = types;
    } else {
        free(types);
    }
    return 0;
}

void lrp_text_inputs_free(lrp_text_inputs *in) {
    free(in->ids);
    free(in->token_types);
    memset(in, 0, sizeof *in);
}

int lrp_text_append_answer(const lrp_config *cfg, lrp_text_inputs *in, int **dec, int *n_dec, const int *answer,
                           int n_answer, lrp_err *err) {
    int decoder = cfg->task == LRP_TASK_SEQ2SEQ_LM;
    int **seq = decoder ? dec : &in->ids, *len = decoder ? n_dec : &in->T;
    if (n_answer <= 1) return 0;
    int *grown = realloc(*seq, ((size_t)*len + (size_t)n_answer) * sizeof(int));
    if (!grown) return lrp_fail(err, "out of memory");
    *seq = grown;
    for (int j = 0; j + 1 < n_answer; j++) grown[(*len)++] = answer[j];
    if (!decoder && in->token_types) {  // a BERT-family model: refused by explain, but keep the arrays consistent
        int *tt = realloc(in->token_types, (size_t)in->T * sizeof(int));
        if (!tt) return lrp_fail(err, "out of memory");
        in->token_types = tt;
        for (int t = in->T - (n_answer - 1); t < in->T; t++) tt[t] = t > 0 ? tt[t - 1] : 0;
    }
    return 0;
}

int lrp_resolve_token(const lrp_tokenizer *tok, const char *param, const char *text, int *id, lrp_err *err) {
    int *ids = NULL, n = 0;
    if (lrp_tokenizer_encode(tok, text, strlen(text), 0, &ids, &n, err)) return lrp_fail_prefix(err, param);
    if (n == 1) {
        *id = ids[0];
        free(ids);
        return 0;
    }
    char buf[256];
    int V = lrp_tokenizer_vocab_size(tok);
    for (int i = 0; i < V; i++) {
        if (lrp_tokenizer_token_text(tok, i, buf, sizeof buf) > 0 && strcmp(buf, text) == 0 &&
            !lrp_tokenizer_is_special(tok, i)) {
            *id = i;
            free(ids);
            return 0;
        }
    }
    char shown[512] = "";
    for (int i = 0; i < n && strlen(shown) < 400; i++) {
        char piece[64];
        lrp_tokenizer_token_text(tok, ids[i], piece, sizeof piece);
        snprintf(shown + strlen(shown), sizeof shown - strlen(shown), "%s\"%s\" (%d)", i ? ", " : "", piece, ids[i]);
    }
    free(ids);
    return lrp_fail(err, "%s \"%s\" is %d tokens, not one: %s", param, text, n, n ? shown : "(empty)");
}

int lrp_resolve_target(const lrp_config *cfg, const lrp_tokenizer *tok, const char *param, const char *text, int *id,
                       lrp_err *err) {
    if (cfg->task == LRP_TASK_CLASSIFIER) {
        int k = lrp_config_label_index(cfg, text);
        if (k >= 0) {
            *id = k;
            return 0;
        }
        char labels[600] = "";
        for (int i = 0; i < cfg->n_labels && strlen(labels) < 500; i++)
            snprintf(labels + strlen(labels), sizeof labels - strlen(labels), "%s%s", i ? ", " : "", cfg->labels[i]);
        return lrp_fail(err, "%s \"%s\": not a class of the model (labels: %s)", param, text, labels);
    }
    if (!tok) return lrp_fail(err, "%s \"%s\": the model has no tokenizer to read it (give the token id)", param, text);
    return lrp_resolve_token(tok, param, text, id, err);
}

int lrp_find_mask(const lrp_tokenizer *tok, const int *ids, int T) {
    int mask = tok ? lrp_tokenizer_mask_id(tok) : -1;
    for (int t = 0; mask >= 0 && t < T; t++)
        if (ids[t] == mask) return t;
    return -1;
}

int lrp_default_position(const lrp_config *cfg, const lrp_tokenizer *tok, const int *ids, int T, int *position,
                         lrp_err *err) {
    *position = -1;
    if (cfg->task != LRP_TASK_MASKED_LM) return 0;
    *position = lrp_find_mask(tok, ids, T);
    if (*position < 0) {
        if (!tok || lrp_tokenizer_mask_id(tok) < 0)
            return lrp_fail(err, "position: a masked LM needs the position to explain, and the tokenizer has no "
                                 "mask token to find it");
        return lrp_fail(err, "position: the input has no mask token (%s) to explain; give the position",
                        lrp_tokenizer_piece(tok, lrp_tokenizer_mask_id(tok)));
    }
    return 0;
}

char *lrp_token_string(const lrp_tokenizer *tok, int id) {
    char buf[256];
    if (tok) lrp_tokenizer_token_text(tok, id, buf, sizeof buf);
    else snprintf(buf, sizeof buf, "[%d]", id);
    return strdup(buf);
}

char *lrp_output_string(const lrp_config *cfg, const lrp_tokenizer *tok, int id) {
    if (cfg->task == LRP_TASK_CLASSIFIER && id >= 0 && id < cfg->n_labels) return strdup(cfg->labels[id]);
    return lrp_token_string(tok, id);
}

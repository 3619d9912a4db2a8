// Text -> model inputs: encoding a text (or a text pair, with token type ids) with a model's tokenizer,
// reading one token or one class from a string (one behaviour for every command), and finding a masked
// LM's mask token. Errors name the parameter they concern ("target_text \"zzq\" is 3 tokens, not one: ...");
// the caller chooses the parameter names (a command-line tool maps them to its flags).
#ifndef LRP_INPUTS_TEXT_H
#define LRP_INPUTS_TEXT_H

#include "models/config.h"
#include "tokenizer/tokenizer.h"

// Token ids of a text or a pair, ready for lrp_inputs; token_types NULL when the model has none.
typedef struct lrp_text_inputs {
    int *ids;            // [T]
    int *token_types;    // [T] or NULL
    int T;
} lrp_text_inputs;

// Encodes text (special tokens added), or the pair (text, pair) when pair is not NULL. Token types are
// kept only when cfg->type_vocab_size > 0. Errors name "text" or "text_pair" (a tokenizer whose
// post-processor cannot join two texts).
int lrp_encode_text(const lrp_tokenizer *tok, const lrp_config *cfg, const char *text, size_t len, const char *pair,
                    size_t pair_len, lrp_text_inputs *out, lrp_err *err);
void lrp_text_inputs_free(lrp_text_inputs *in);

// Forced decoding (explain's answer): the answer's tokens but its last, answer[0..n_answer-2], appended to
// the sequence they continue: the decoder's ids *dec (n_dec of them) for encoder-decoders, else in->ids
// (token types, when present, continued with the last one). 0, or -1 when out of memory.
int lrp_text_append_answer(const lrp_config *cfg, lrp_text_inputs *in, int **dec, int *n_dec, const int *answer,
                           int n_answer, lrp_err *err);

// A token given as text: exactly one token when encoded without special tokens; else the (non-special)
// vocabulary token whose display text is exactly the string (a SentencePiece vocabulary splits " Lily"
// into "▁" + "▁Lily"); else an error naming param and showing how the text splits.
int lrp_resolve_token(const lrp_tokenizer *tok, const char *param, const char *text, int *id, lrp_err *err);

// A target given as text: for classifiers the class whose id2label name is text (an error lists the
// labels); for language models one token (lrp_resolve_token; tok NULL is an error).
int lrp_resolve_target(const lrp_config *cfg, const lrp_tokenizer *tok, const char *param, const char *text, int *id,
                       lrp_err *err);

// The first position holding the tokenizer's mask token, or -1 (no mask token, or none in ids).
int lrp_find_mask(const lrp_tokenizer *tok, const int *ids, int T);

// The position a prediction is explained at when none is given: -1 (the model's default) for causal LMs
// and classifiers; for masked LMs the first mask token, or an error naming "position".
int lrp_default_position(const lrp_config *cfg, const lrp_tokenizer *tok, const int *ids, int T, int *position,
                         lrp_err *err);

// malloc'ed display string of a token: its text, or "[id]" without a tokenizer. NULL when out of memory.
char *lrp_token_string(const lrp_tokenizer *tok, int id);

// malloc'ed display string of an output: a classifier's class name, else the token's (lrp_token_string).
char *lrp_output_string(const lrp_config *cfg, const lrp_tokenizer *tok, int id);

#endif

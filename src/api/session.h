// A session: a model and its tokenizer, opened from a path or found as the default model. What every
// caller that runs a model from text does first (the CLI's commands, a binding, a batch runner).
#ifndef LRP_API_SESSION_H
#define LRP_API_SESSION_H

#include <stddef.h>

#include "inputs/text.h"
#include "models/model.h"
#include "tokenizer/tokenizer.h"

typedef struct lrp_session {
    char model_path[4096];
    lrp_model *m;
    lrp_tokenizer *tok;   // NULL when the checkpoint has no tokenizer
} lrp_session;

// The model used when none is given: $ATTNLRP_MODEL; else models/default beside the build directory of
// the executable (exe: its path, NULL for this process's /proc/self/exe; <repo>/build/attnlrp ->
// <repo>/models/default); else <prefix>/share/attnlrp/default beside an installed <prefix>/bin/attnlrp;
// else (exe NULL) the same two beside the shared library this code was loaded from (<repo>/build/libattnlrp.so,
// <prefix>/lib/libattnlrp.so); else the configured data directory (LRP_DATADIR, the Makefile's DATADIR).
// Writes into buf; returns 0 if one exists, else -1 with err.
int lrp_default_model_path(const char *exe, char *buf, size_t cap, lrp_err *err);

// Opens the model at path (NULL: the default model) and its tokenizer: tokenizer.json beside a
// checkpoint directory, or the tokenizer a GGUF file carries; none is not an error (tok stays NULL).
int lrp_session_open(lrp_session *s, const char *path, lrp_err *err);
void lrp_session_close(lrp_session *s);

// Only the tokenizer of path (NULL: the default model): a checkpoint directory, a tokenizer.json file or
// a GGUF file; no weights are read. A path without a tokenizer is an error.
int lrp_tokenizer_open(const char *path, lrp_tokenizer **tok, lrp_err *err);

// Encodes text (and the pair) with the session's tokenizer for its model (see lrp_encode_text); a
// session without a tokenizer is an error naming "text".
int lrp_session_encode(const lrp_session *s, const char *text, const char *pair, lrp_text_inputs *out, lrp_err *err);

// TEXT (and PAIR) as the model takes it, for the public API and the attnlrp program alike: with the special
// tokens the tokenizer adds (lrp_session_encode), or without them (no_special), or as the one user message
// of the chat template (chat; no pair: the caller refuses one), encoded without adding special tokens;
// token types are kept when the model has them. With chat, *prompt (malloc'ed) and *family say what the
// template wrote (both may be NULL; else NULL). The session must have a tokenizer. On failure *stage says
// which step failed, for the caller's message: LRP_PROMPT_ENCODE (with special tokens: err names the
// parameter), LRP_PROMPT_TEMPLATE (err names "chat_template"), LRP_PROMPT_RAW (without special tokens:
// err is the tokenizer's message).
enum { LRP_PROMPT_ENCODE, LRP_PROMPT_TEMPLATE, LRP_PROMPT_RAW };
// TEXT is len bytes (NUL bytes are text too), but with chat a C string.
int lrp_session_encode_prompt(const lrp_session *s, const char *text, size_t len, const char *pair, int no_special,
                              int chat, lrp_text_inputs *out, char **prompt, const char **family, int *stage,
                              lrp_err *err);

// TEXT as the single user message of the model's chat template (inputs/chat.h): the template from
// tokenizer_config.json's chat_template (a string, or the entry named "default" of a list), else
// chat_template.jinja beside it, else the GGUF key tokenizer.chat_template; bos_token from the same
// config (GGUF: the piece of tokenizer.ggml.bos_token_id). *prompt is malloc'ed; *family names the layout.
// Errors name "chat_template" ("chat_template: <model> has no chat template ...").
int lrp_session_chat_prompt(const lrp_session *s, const char *text, char **prompt, const char **family, lrp_err *err);

// A target given as text: a class name (classifiers) or one token (lrp_resolve_target).
int lrp_session_target(const lrp_session *s, const char *param, const char *text, int *id, lrp_err *err);

#endif

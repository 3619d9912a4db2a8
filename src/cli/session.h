// What every model-running subcommand does first: resolve the model path, load model and tokenizer,
// and turn TEXT or --ids into token ids. Functions print their one error line and return an exit
// status (0 ok, 1 failure, 2 usage error).
#ifndef LRP_CLI_SESSION_H
#define LRP_CLI_SESSION_H

#include "models/model.h"
#include "tokenizer/tokenizer.h"

typedef struct cli_session {
    char model_path[4096];
    lrp_model *m;
    lrp_tokenizer *tok;   // NULL when the checkpoint has no tokenizer
    int *ids;
    int T;
} cli_session;

// model: --model value or NULL (the default model). Exactly one of text / ids_arg is non-NULL.
int cli_session_open(cli_session *s, const char *model, const char *text, const char *ids_arg);
void cli_session_close(cli_session *s);

// Parses "L:N=V", "L:N=*F" or "L:N=+D" (the --set option).
int cli_parse_set(const char *arg, lrp_intervention *iv);
// A token given as text (--target, --contrast) must be exactly one token; the error shows how it splits.
int cli_single_token(const lrp_tokenizer *tok, const char *opt, const char *text, int *id);
// malloc'ed display string of a token ("[id]" without a tokenizer).
char *cli_token_string(const lrp_tokenizer *tok, int id);

#endif

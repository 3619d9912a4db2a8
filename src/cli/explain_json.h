// explain as a function of an argument vector, for attnlrp batch: the same option handling, checks and
// errors as `attnlrp explain` (argv[0] is "explain"; no --model: the session is open already).
#ifndef LRP_CLI_EXPLAIN_JSON_H
#define LRP_CLI_EXPLAIN_JSON_H

#include <stdio.h>

#include "attnlrp.h"

// Explains argv with the session and writes the explanation's JSON (one line, ending in a newline) to out.
// Errors are printed through cli_error (one line) and returned as an exit status (2 bad arguments, 1 other).
int cli_explain_json(attnlrp_session *s, int argc, char **argv, FILE *out);

// Only the argument checks of explain (nothing is run): 0, or 2 after printing the error.
int cli_explain_check_args(int argc, char **argv);

#endif

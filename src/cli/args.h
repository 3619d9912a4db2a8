// Argument helpers shared by the subcommands. Each returns 0 on success, or -1 after printing one
// "attnlrp: ..." line naming the option at fault (the caller then exits with status 2).
#ifndef LRP_CLI_ARGS_H
#define LRP_CLI_ARGS_H

#include <stdio.h>

#include "attnlrp.h"
#include "api/session.h"
#include "core/atomic_file.h"
#include "explain/explain.h"

int arg_int(const char *opt, const char *s, int *out);
int arg_float(const char *opt, const char *s, double *out);
// --max-memory SIZE (explain/memory.h's lrp_parse_size): 0, or 2 after the error line.
int arg_max_memory(const char *s, size_t *out);
// "1,5,7" -> malloc'ed array (non-empty; every element a non-negative int).
int arg_int_list(const char *opt, const char *s, int **out, int *n);
// Exactly k comma-separated ints ("1,3,17").
int arg_int_tuple(const char *opt, const char *s, int *out, int k);
// The value of option argv[*i] (advances *i), or NULL after printing "option needs a value".
const char *arg_value(int argc, char **argv, int *i);

// The options of the baseline methods and the softmax ablation (explain/baselines.h), shared by explain,
// generate, neurons and eval: steps_flag (--steps; eval: --ig-steps), --samples, --noise, --seed,
// --quadrature midpoint|gauss-legendre, --atman-factor, --atman-threshold, --softmax-rule, --max-memory. Sets *used
// when argv[*i] is one of them (advancing *i past its value); returns 0, or 2 after printing the error.
int cli_method_option(int argc, char **argv, int *i, lrp_explain_opts *o, const char *steps_flag, int *used);

#define CLI_METHOD_OPTIONS_HELP \
    "  --steps N            ig: quadrature nodes along the path (default 32; cost N forward+backward passes)\n" \
    "  --quadrature Q       ig: midpoint (Riemann midpoint rule, default) or gauss-legendre\n" \
    "  --samples N          smoothgrad: noisy copies (default 16); kernelshap: coalitions (default 512; all\n" \
    "                       2^T-2 of them, exact Shapley values, when that is at most N)\n" \
    "  --noise S            smoothgrad: noise sigma relative to max-min of the input's word embeddings (default 0.1)\n" \
    "  --seed S             smoothgrad, kernelshap: random seed (default 0)\n" \
    "  --atman-factor F     atman: scores of the suppressed token times 1-F (default 0.9)\n" \
    "  --atman-threshold K  atman: also suppress tokens with embedding cosine similarity >= K (default 0.7)\n" \
    "  --softmax-rule R     attnlrp: exact (default), identity or distribute-bias (the paper's ablations)\n" \
    "  --max-memory SIZE    refuse an explanation whose estimated memory exceeds SIZE (512M, 2G; default: the\n" \
    "                       least of MemAvailable and what ulimit -v leaves)\n"

// Prints "attnlrp: <msg>" to stderr; returns status.
int cli_error(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// attnlrp batch: while buf is set (not NULL), cli_error writes the first error (status != 0) into buf,
// without "attnlrp: ", instead of printing it (the caller reports it with the record's line); warnings
// (status 0) are still printed. cli_error_capture(NULL, 0) ends it.
void cli_error_capture(char *buf, size_t cap);

// Prints a library error (which names parameters, e.g. "position 9: out of range") with the command-line
// flag that sets the parameter in place of its name ("--position 9: out of range"); returns status.
int cli_lib_error(int status, const char *msg);

// Opens the session of --model (NULL: the default model); prints the error and returns 1 on failure.
int cli_session_open(lrp_session *s, const char *model);
// The same through the public API (attnlrp.h): explain, generate and tokenize run on its sessions.
int cli_api_open(attnlrp_session **s, const char *model);
// The public API's last error (attnlrp_last_error) printed as cli_lib_error prints a library error (the
// flag in place of the parameter it names); returns the status (2 for a flag's bad value).
int cli_api_error(int status);
// The baseline methods' options parsed by cli_method_option, into the public options.
void cli_public_method_options(const lrp_explain_opts *mo, attnlrp_options *o);
// --set / --set-head interventions as the public API takes them (out: room for n).
void cli_public_interventions(const lrp_intervention *iv, int n, attnlrp_intervention *out);

// The input of TEXT (encoded with the session's tokenizer, special tokens added) or --ids (exactly one
// of them non-NULL), and the --text-pair joined to TEXT. Prints the error and returns an exit status.
int cli_inputs(const lrp_session *s, const char *text, const char *text_pair, const char *ids_arg, lrp_text_inputs *out);

// cli_inputs with the prompt options of explain and generate: no_special (--no-special: no BOS/EOS or
// other special tokens added) and chat (--chat: TEXT is the one user message of the model's chat template,
// inputs/chat.h, encoded without adding special tokens, as apply_chat_template does). With chat, *prompt
// receives the rendered text (malloc'ed) and *family the template's layout; both may be NULL.
int cli_prompt_inputs(const lrp_session *s, const char *text, const char *text_pair, const char *ids_arg,
                      int no_special, int chat, lrp_text_inputs *out, char **prompt, const char **family);

// The tokens of an answer or continuation (--answer, --continuation): TEXT encoded on its own without
// special tokens; an empty TEXT or one without tokens is a usage error (2). *ids is malloc'ed.
int cli_answer_ids(const lrp_session *s, const char *flag, const char *text, int **ids, int *n);

// --score logit|logprob|prob into *score (lrp_score); 0, or 2 after printing the error.
int cli_parse_score(const char *v, int *score);
// --method V for a command that takes only the methods `names` (NULL-terminated, spelt as the registry
// spells them): 0 and *method set, or the usage error printed and 2 returned.
int cli_parse_method_among(const char *v, const char *const *names, int *method);
#define CLI_SCORE_HELP "logit, logprob (logit - logsumexp) or prob"

// Parses "L:N=V", "L:N=*F" or "L:N=+D" (the --set option); 0, or 2 after printing the error.
int cli_parse_set(const char *arg, lrp_intervention *iv);
// Parses "L:H=0" or "L:H=*F" (the --set-head option: zero or scale attention head H of layer L); 0, or 2
// after printing the error.
int cli_parse_set_head(const char *arg, lrp_intervention *iv);

// Opens `path` for writing through a temporary file; cli_output_commit renames it into place, so a
// failed run never leaves a partial file. path NULL or "-" means stdout.
// The file is written through symbolic links to their target, keeps an existing file's permission bits and
// gets 0666 minus the umask when new (core/atomic_file.h).
typedef struct cli_output {
    FILE *f;
    const char *path;     // as given
    const char *flag;     // the option named in errors (NULL: "-o"); set it after cli_output_open
    lrp_atomic_file file;
} cli_output;
int cli_output_open(cli_output *o, const char *path);
// cli_output_open for an option other than -o (eval --plot): errors name that option.
int cli_output_open_flag(cli_output *o, const char *path, const char *flag);
int cli_output_commit(cli_output *o);   // 0 ok, -1 (error printed)
void cli_output_abort(cli_output *o);

// After "--" at argv[*i]: every remaining argument is TEXT (at most one in all, counting *text); *i ends at
// argc. 0, or 2 after printing the error.
int cli_rest_as_text(int argc, char **argv, int *i, const char **text, const char *cmd);

// "--name=value" at argv[i] (an option the command does not know as written): splits it into "--name"
// "value" in a new argv (argc grows by one) and returns 1, so the caller reads argv[i] again; 0 otherwise.
int cli_split_option(int *argc, char ***argv, int i);

// One value-taking option of a command at argv[*i]: when it is one of opts (NULL-terminated), *value is its
// value (*i moves past it) and 0 is returned; "--name=value" is split (cli_split_option) and 1 returned, so
// the caller reads argv[*i] again (*i is stepped back); otherwise 2 after printing "CMD: unknown option X
// (see attnlrp CMD --help)" or the missing value.
int cli_option_value(int *argc, char ***argv, int *i, const char *cmd, const char *const *opts, const char **value);

// "" given as TEXT, --target, --contrast...: 2 after printing "FLAG: empty text"; 0 otherwise.
int cli_empty_text(const char *flag, const char *value);

// --color auto|always|never -> -1, 1, 0 (2 after printing the error). cli_use_color: whether to colour f:
// always / never as asked; auto: only stdout on a terminal, NO_COLOR unset or empty, TERM not "dumb".
int cli_color_mode(const char *arg, int *mode);
int cli_use_color(int mode, FILE *f);

#endif

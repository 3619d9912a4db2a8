// libFuzzer harness: the command-line parser. The input is split at NUL bytes into argv; the first
// byte picks the command whose parser reads it (explain's or eval's, both pure: they only fill a
// struct or print one usage error), and every argument also goes through the shared helpers of
// cli/args.c (numbers, lists, --set, --set-head, --score, --color). Nothing is loaded or written.
#include "fuzz.h"

// The parsers are static in their command files; including them here calls them directly.
#include "cli/cmd_eval.c"
#include "cli/cmd_explain.c"

#define MAX_ARGS 32

static void helpers(const char *s) {
    int i, k[3], *list = NULL, n = 0;
    double f;
    lrp_intervention iv;
    (void)arg_int("--n", s, &i);
    (void)arg_float("--f", s, &f);
    if (arg_int_list("--list", s, &list, &n) == 0) free(list);
    (void)arg_int_tuple("--tuple", s, k, 3);
    (void)cli_parse_set(s, &iv);
    (void)cli_parse_set_head(s, &iv);
    (void)cli_parse_score(s, &i);
    (void)cli_color_mode(s, &i);
    (void)cli_empty_text("--x", s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = 0;
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = (data[0] & 1) ? "eval" : "explain";
    for (char *p = buf; p < buf + size - 1 && argc < MAX_ARGS + 1; p += strlen(p) + 1) argv[argc++] = p;
    argv[argc] = NULL;
    for (int i = 1; i < argc; i++) helpers(argv[i]);
    if (data[0] & 1) {
        eval_args a;
        (void)parse_eval_args(argc, argv, &a);
    } else {
        explain_args a;
        (void)parse_explain_args(argc, argv, &a);
    }
    free(buf);
    return 0;
}

// attnlrp tokenize / detokenize: the model's tokenizer.json pipeline on its own (no weights needed).
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "render/render.h"

static const char tokenize_usage[] =
    "usage: attnlrp tokenize [--model PATH] [--no-special] [--format text|json] (TEXT... | --file FILE)\n"
    "\n"
    "Splits text into tokens with the model's tokenizer.json (PATH: a directory holding tokenizer.json and\n"
    "optionally tokenizer_config.json, or the tokenizer.json file itself; no weights are needed).\n"
    "\n"
    "  --file FILE      tokenize each line of FILE separately (\"-\" reads standard input)\n"
    "  --no-special     leave out the special tokens the tokenizer adds (BOS/EOS, [CLS]/[SEP])\n"
    "  --format text    one token per line: id, vocabulary piece, readable text (default)\n"
    "  --format json    one JSON object per input: {\"ids\": [...], \"tokens\": [...], \"text\": [...]}\n"
    "  --model PATH     a model directory, tokenizer.json or GGUF file (default: the shipped model)\n"
    "  --               end of options: the rest is text even if it starts with \"-\"\n"
    "  --help, -h       this help\n";

static const char detokenize_usage[] =
    "usage: attnlrp detokenize [--model PATH] [--skip-special] [--format text|json] --ids 1,2,3\n"
    "\n"
    "Turns token ids back into text with the model's tokenizer.json decoder.\n"
    "\n"
    "  --ids LIST       comma-separated token ids\n"
    "  --skip-special   drop special tokens (BOS/EOS, [CLS]/[SEP]) from the text\n"
    "  --format json    print {\"ids\": [...], \"text\": \"...\"} instead of the bare text\n"
    "  --model PATH     a model directory, tokenizer.json or GGUF file (default: the shipped model)\n"
    "  --help, -h       this help\n";

// A session of the public API with only the tokenizer of --model (no weights are read).
static int open_tokenizer(const char *model, attnlrp_session **s) {
    if (attnlrp_open_tokenizer(model, s))
        return model ? cli_error(1, "%s", attnlrp_last_error()) : cli_lib_error(1, attnlrp_last_error());
    return 0;
}

// The tokenizer's text (flags 0) or vocabulary piece (ATTNLRP_PIECE) of id into buf[cap] ("" if none).
static const char *token_text(attnlrp_session *s, int id, int flags, char *buf, size_t cap) {
    size_t n;
    if (attnlrp_token_text(s, id, flags, buf, cap, &n)) buf[0] = '\0';
    return buf;
}

// Prints s with control characters and quotes escaped, as a C/JSON-like quoted string.
static void print_quoted(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", f);
        else if (*p == '\t') fputs("\\t", f);
        else if (*p == '\r') fputs("\\r", f);
        else if (*p < 0x20 || *p == 0x7F) fprintf(f, "\\x%02X", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

static int tokenize_one(attnlrp_session *tok, const char *text, size_t len, int add_special, int json, int separator,
                        const char *where) {
    int flags = add_special ? 0 : ATTNLRP_NO_SPECIAL, *ids = NULL, n;
    size_t count = 0;
    int rc = attnlrp_tokenize_n(tok, text, len, NULL, flags, NULL, 0, &count);
    if (!rc && !(ids = malloc((count + 1) * sizeof *ids))) return cli_error(1, "out of memory");
    if (rc || attnlrp_tokenize_n(tok, text, len, NULL, flags, ids, count, &count)) {
        const char *msg = attnlrp_last_error();  // "text: <the tokenizer's message>"
        free(ids);
        return cli_error(1, "%s: %s", where, strncmp(msg, "text: ", 6) ? msg : msg + 6);
    }
    n = (int)count;
    char buf[1024], piece[1024];
    if (json) {
        json_t *pieces = json_array(), *texts = json_array();
        for (int i = 0; i < n; i++) {
            json_array_append_new(pieces, lrp_jv_text(token_text(tok, ids[i], ATTNLRP_PIECE, piece, sizeof piece)));
            json_array_append_new(texts, lrp_jv_text(token_text(tok, ids[i], 0, buf, sizeof buf)));
        }
        int bad = lrp_jv_dump(stdout, json_pack("{s:o, s:o, s:o}", "ids", lrp_jv_int_array(ids, n), "tokens", pieces,
                                                "text", texts), 0);
        free(ids);
        return bad ? cli_error(1, "out of memory") : 0;
    } else {
        if (separator) putchar('\n');
        for (int i = 0; i < n; i++) {
            token_text(tok, ids[i], 0, buf, sizeof buf);
            printf("%d\t", ids[i]);
            print_quoted(stdout, token_text(tok, ids[i], ATTNLRP_PIECE, piece, sizeof piece));
            putchar('\t');
            print_quoted(stdout, buf);
            putchar('\n');
        }
    }
    free(ids);
    return 0;
}

static int tokenize_file(attnlrp_session *tok, const char *file, int add_special, int json) {
    FILE *f = strcmp(file, "-") ? fopen(file, "rb") : stdin;
    if (!f) return cli_error(1, "--file %s: %s", file, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int rc = 0;
    long lineno = 0;
    while ((got = getline(&line, &cap, f)) >= 0) {
        lineno++;
        size_t len = (size_t)got;
        if (len && line[len - 1] == '\n') len--;
        if (len && line[len - 1] == '\r') len--;
        char where[4200];
        snprintf(where, sizeof where, "%s:%ld", file, lineno);
        if ((rc = tokenize_one(tok, line, len, add_special, json, lineno > 1, where))) break;
    }
    if (!rc && ferror(f)) rc = cli_error(1, "--file %s: read error", file);
    free(line);
    if (f != stdin) fclose(f);
    return rc;
}

int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *file = NULL, *format = "text";
    int add_special = 1, n_texts = 0;
    const char **texts = calloc((size_t)argc + 1, sizeof *texts);
    if (!texts) return cli_error(1, "out of memory");
    int rc = 0;
    for (int i = 1; i < argc && !rc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(tokenize_usage, stdout);
            free(texts);
            return 0;
        } else if (!strcmp(argv[i], "--model")) {
            if (!(model = arg_value(argc, argv, &i))) rc = 2;
        } else if (!strcmp(argv[i], "--file")) {
            if (!(file = arg_value(argc, argv, &i))) rc = 2;
        } else if (!strcmp(argv[i], "--format")) {
            if (!(format = arg_value(argc, argv, &i))) rc = 2;
        } else if (!strcmp(argv[i], "--no-special")) {
            add_special = 0;
        } else if (!strcmp(argv[i], "--")) {
            while (++i < argc) texts[n_texts++] = argv[i];
        } else if (cli_split_option(&argc, &argv, i)) {  // --flag=value
            i--;
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            rc = cli_error(2, "tokenize: unknown option %s (see attnlrp tokenize --help)", argv[i]);
        } else {
            texts[n_texts++] = argv[i];
        }
    }
    if (!rc && strcmp(format, "text") && strcmp(format, "json"))
        rc = cli_error(2, "--format %s: expected text or json", format);
    if (!rc && !file && !n_texts) rc = cli_error(2, "tokenize: give the text to tokenize or --file FILE (see --help)");
    if (!rc && file && n_texts) rc = cli_error(2, "tokenize: give either text arguments or --file, not both");
    attnlrp_session *tok = NULL;
    if (!rc) rc = open_tokenizer(model, &tok);
    int json = !strcmp(format, "json");
    if (!rc && file) rc = tokenize_file(tok, file, add_special, json);
    for (int i = 0; !rc && i < n_texts; i++) rc = tokenize_one(tok, texts[i], strlen(texts[i]), add_special, json, i > 0, "text");
    if (fflush(stdout) && !rc) rc = cli_error(1, "writing output: %s", strerror(errno));
    attnlrp_session_free(tok);
    free(texts);
    return rc;
}

int cmd_detokenize(int argc, char **argv) {
    const char *model = NULL, *ids_arg = NULL, *format = "text";
    int skip_special = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(detokenize_usage, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--model")) {
            if (!(model = arg_value(argc, argv, &i))) return 2;
        } else if (!strcmp(argv[i], "--ids")) {
            if (!(ids_arg = arg_value(argc, argv, &i))) return 2;
        } else if (!strcmp(argv[i], "--format")) {
            if (!(format = arg_value(argc, argv, &i))) return 2;
        } else if (!strcmp(argv[i], "--skip-special")) {
            skip_special = 1;
        } else if (cli_split_option(&argc, &argv, i)) {  // --flag=value
            i--;
        } else {
            return cli_error(2, "detokenize: unexpected argument %s (see attnlrp detokenize --help)", argv[i]);
        }
    }
    if (strcmp(format, "text") && strcmp(format, "json")) return cli_error(2, "--format %s: expected text or json", format);
    if (!ids_arg) return cli_error(2, "detokenize: --ids is required (see --help)");
    int *ids, n;
    if (arg_int_list("--ids", ids_arg, &ids, &n)) return 2;
    attnlrp_session *tok = NULL;
    int rc = open_tokenizer(model, &tok);
    char *text = NULL;
    size_t len = 0;
    int flags = skip_special ? ATTNLRP_SKIP_SPECIAL : 0;
    if (!rc && attnlrp_detokenize(tok, ids, (size_t)n, flags, NULL, 0, &len)) rc = cli_error(1, "--ids: %s", attnlrp_last_error());
    else if (!rc && !(text = malloc(len))) rc = cli_error(1, "out of memory");
    else if (!rc && attnlrp_detokenize(tok, ids, (size_t)n, flags, text, len, &len))
        rc = cli_error(1, "--ids: %s", attnlrp_last_error());
    if (!rc) {
        if (!strcmp(format, "json")) {
            if (lrp_jv_dump(stdout, json_pack("{s:o, s:o}", "ids", lrp_jv_int_array(ids, n), "text", lrp_jv_text(text)), 0))
                rc = cli_error(1, "out of memory");
        } else {
            printf("%s\n", text);
        }
        if (fflush(stdout)) rc = cli_error(1, "writing output: %s", strerror(errno));
    }
    free(text);
    free(ids);
    attnlrp_session_free(tok);
    return rc;
}

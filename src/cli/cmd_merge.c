// attnlrp merge: the outputs of attnlrp batch --shard K/N joined into one (evaluate/batch.h).
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "evaluate/batch.h"

static const char merge_usage[] =
    "usage: attnlrp merge OUT.0 OUT.1 ... -o OUT.jsonl\n"
    "\n"
    "Joins the outputs of attnlrp batch --shard K/N (any order) into one output in input order, as one\n"
    "unsharded run writes it. Every shard 0..N-1 must be given once, all from the same input file (sha256)\n"
    "and options, and each complete; the output is written whole or not at all.\n"
    "\n"
    "  -o FILE, --output FILE  the merged output\n"
    "  --help, -h           this help\n";

int cmd_merge(int argc, char **argv) {
    const char *out_path = NULL;
    char **paths = calloc((size_t)argc + 1, sizeof *paths);
    int n = 0, rc = 2;
    if (!paths) return cli_error(1, "out of memory");
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            fputs(merge_usage, stdout);
            free(paths);
            return 0;
        } else if (!strcmp(o, "-o") || !strcmp(o, "--output")) {
            if (!(out_path = arg_value(argc, argv, &i))) goto done;
        } else if (o[0] == '-' && o[1] != '\0') {
            if (cli_split_option(&argc, &argv, i)) {
                i--;
                continue;
            }
            cli_error(2, "merge: unknown option %s (see attnlrp merge --help)", o);
            goto done;
        } else {
            paths[n++] = argv[i];
        }
    }
    if (!n) {
        cli_error(2, "merge: give the shard outputs to join (see attnlrp merge --help)");
        goto done;
    }
    if (!out_path) {
        cli_error(2, "merge: give the merged output with -o FILE");
        goto done;
    }
    cli_output o;
    rc = 1;
    if (cli_output_open(&o, out_path)) goto done;
    lrp_err err;
    if (lrp_batch_merge(paths, n, o.f, &err)) {
        cli_error(1, "merge: %s", err.msg);
        cli_output_abort(&o);
        goto done;
    }
    rc = cli_output_commit(&o) ? 1 : 0;
done:
    free(paths);
    return rc;
}

// attnlrp info: what a checkpoint is, without running it.
#include <string.h>
#include <sys/stat.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "formats/gguf.h"
#include "models/model.h"

static const char info_usage[] =
    "usage: attnlrp info [--model PATH] [--format text|json]\n"
    "\n"
    "Prints the architecture, sizes, parameter count, weight dtypes and whether a tokenizer is present.\n";

int cmd_info(int argc, char **argv) {
    const char *model = NULL, *format = "text";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(info_usage, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--model")) {
            if (!(model = arg_value(argc, argv, &i))) return 2;
        } else if (!strcmp(argv[i], "--format")) {
            if (!(format = arg_value(argc, argv, &i))) return 2;
        } else {
            return cli_error(2, "info: unexpected argument %s (see attnlrp info --help)", argv[i]);
        }
    }
    if (strcmp(format, "text") && strcmp(format, "json")) return cli_error(2, "--format %s: expected text or json", format);
    char path[4096];
    if (model) snprintf(path, sizeof path, "%s", model);
    else if (default_model_path(path, sizeof path)) return cli_error(1, "no --model given and no default model found");
    lrp_err err;
    lrp_model *m;
    if (lrp_model_open(&m, path, &err)) return cli_error(1, "%s", err.msg);
    const lrp_config *c = &m->cfg;
    // Count tensors per dtype.
    int per_dtype[LRP_DTYPE_COUNT] = {0};
    for (int i = 0; i < m->tf.n_tensors; i++)
        if ((unsigned)m->tf.tensors[i].dtype < LRP_DTYPE_COUNT) per_dtype[m->tf.tensors[i].dtype]++;
    char tok_path[4200];
    struct stat st;
    snprintf(tok_path, sizeof tok_path, "%s/tokenizer.json", path);
    int has_tok = !strcmp(m->format, "gguf") ? lrp_gguf_get(&m->tf, "tokenizer.ggml.tokens") != NULL
                                             : stat(tok_path, &st) == 0;
    static const char *const scaling[] = {"none", "linear", "llama3"};
    static const char *const pairing[] = {"halves (rotate_half)", "adjacent (interleaved)"};
    int json = !strcmp(format, "json");
    if (json) {
        printf("{\"path\": \"%s\", \"format\": \"%s\", \"model_type\": \"%s\", \"layers\": %d, \"hidden_size\": %d, "
               "\"heads\": %d, \"kv_heads\": %d, \"head_dim\": %d, \"intermediate_size\": %d, \"vocab_size\": %d, "
               "\"parameters\": %lld, \"tie_word_embeddings\": %s, \"rope_theta\": %g, \"rope_scaling\": \"%s\", "
               "\"tokenizer\": %s, \"dtypes\": {",
               path, m->format, c->model_type, c->num_layers, c->hidden_size, c->num_heads, c->num_kv_heads, c->head_dim,
               c->intermediate_size, c->vocab_size, m->n_params, c->tie_word_embeddings ? "true" : "false",
               c->rope_theta, scaling[c->rope_scaling], has_tok ? "true" : "false");
        int first = 1;
        for (int t = 0; t < LRP_DTYPE_COUNT; t++)
            if (per_dtype[t]) printf("%s\"%s\": %d", first ? "" : ", ", lrp_dtype_name((lrp_dtype)t), per_dtype[t]), first = 0;
        printf("}}\n");
    } else {
        printf("path            %s (%s)\n", path, m->format);
        printf("architecture    %s, %d layers, hidden %d, %d heads (%d kv heads, head_dim %d), MLP %d (%s)\n",
               c->model_type, c->num_layers, c->hidden_size, c->num_heads, c->num_kv_heads, c->head_dim,
               c->intermediate_size, c->hidden_act);
        printf("vocabulary      %d%s\n", c->vocab_size, c->tie_word_embeddings ? " (head tied to the embeddings)" : "");
        printf("parameters      %lld (%.2f M)\n", m->n_params, m->n_params / 1e6);
        printf("rope            theta %g, scaling %s, pairing %s\n", c->rope_theta, scaling[c->rope_scaling],
               pairing[c->rope_pairing]);
        printf("rms_norm_eps    %g\n", c->rms_norm_eps);
        printf("tensors        ");
        for (int t = 0; t < LRP_DTYPE_COUNT; t++)
            if (per_dtype[t]) printf(" %d %s", per_dtype[t], lrp_dtype_name((lrp_dtype)t));
        printf("\ntokenizer       %s\n", has_tok ? "yes" : "no (use --ids)");
    }
    lrp_model_close(m);
    return 0;
}

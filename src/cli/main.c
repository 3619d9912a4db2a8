// attnlrp: the command-line tool. Only parses the subcommand and hands over to it.
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"

#include "attnlrp.h"

// The release this source is (the public header's ATTNLRP_VERSION); the Makefile may pass another
// (-DLRP_VERSION=...).
#ifndef LRP_VERSION
#define LRP_VERSION ATTNLRP_VERSION
#endif

static const char usage[] =
    "attnlrp: explain transformer predictions with AttnLRP (attention-aware layer-wise relevance propagation)\n"
    "\n"
    "usage: attnlrp COMMAND [options]     (attnlrp COMMAND --help or attnlrp help COMMAND for details)\n"
    "       attnlrp --version\n"
    "\n"
    "commands:\n"
    "  explain      attribute a prediction to the input tokens (and latent neurons)\n"
    "  generate     continue a prompt (greedy or sampled), with neuron interventions and per-token explanations\n"
    "  neurons      rank the MLP neurons behind a prediction\n"
    "  neuron       project one MLP neuron's output weights onto the vocabulary (top/bottom tokens)\n"
    "  scan         the windows of a corpus that most activate an MLP neuron, each attributed to its tokens\n"
    "  weights      the relevance of every linear weight over a data set (safetensors); relevance-based pruning\n"
    "  circuit      relevance patching (RelP) of every attention head and MLP for a clean/corrupted pair, next\n"
    "               to exact activation patching\n"
    "  eval         measure faithfulness over a data set: answer-span accuracy, MoRF/LeRF perturbation curves\n"
    "  batch        explain every record of a JSONL file: resumable, in parallel (--jobs, --shard, MPI)\n"
    "  merge        join the outputs of batch --shard K/N into one, in input order\n"
    "  info         describe a checkpoint: architecture, sizes, dtypes, tokenizer\n"
    "  tokenize     text to token ids with the model's tokenizer\n"
    "  detokenize   token ids to text\n"
    "\n"
    "Options take their value as the next argument or after \"=\" (--format json, --format=json); \"--\" ends\n"
    "the options (the next argument is TEXT even if it starts with \"-\"). Bad arguments exit with status 2,\n"
    "other errors with 1.\n"
    "\n"
    "A checkpoint whose weights hold NaN or infinity (quantised: a block scale) is refused when it is opened,\n"
    "naming the tensor and the count. ATTNLRP_NONFINITE=warn opens it anyway (a warning; \"nonfinite_weight\"\n"
    "in the JSON of explain, batch and eval); ATTNLRP_NONFINITE=skip does not scan (each weight is otherwise\n"
    "read once at load).\n";

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
} command;

static const command commands[] = {
    {"explain", cmd_explain},
    {"generate", cmd_generate},
    {"neurons", cmd_neurons},
    {"neuron", cmd_neuron},
    {"eval", cmd_eval},
    {"scan", cmd_scan},
    {"batch", cmd_batch},
    {"merge", cmd_merge},
    {"weights", cmd_weights},
    {"circuit", cmd_circuit},
    {"info", cmd_info},
    {"tokenize", cmd_tokenize},
    {"detokenize", cmd_detokenize},
};

int main(int argc, char **argv) {
    if (argc >= 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))) {
        printf("attnlrp %s\n", LRP_VERSION);
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "help")) {  // attnlrp help COMMAND = attnlrp COMMAND --help
        for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
            if (!strcmp(argv[2], commands[i].name)) {
                char *args[] = {argv[2], "--help", NULL};
                return commands[i].run(2, args);
            }
        return cli_error(2, "help: unknown command \"%s\" (see attnlrp --help)", argv[2]);
    }
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    return cli_error(2, "unknown command \"%s\" (see attnlrp --help)", argv[1]);
}

// One function per subcommand; each parses its own arguments (argv[0] is the subcommand name),
// prints results to stdout and one error line to stderr, and returns the process exit status:
// 0 success, 1 failure, 2 usage error.
#ifndef LRP_CLI_COMMANDS_H
#define LRP_CLI_COMMANDS_H

int cmd_explain(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_neurons(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_neuron(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_batch(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_weights(int argc, char **argv);
int cmd_circuit(int argc, char **argv);

#endif

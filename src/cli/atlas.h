// The scan atlas (scan --neurons all -o ATLAS.json; README "Atlas"): the top K windows of every MLP neuron
// of one layer, with each kept window's token ids, so that `scan --atlas` and `neuron --atlas` read a
// neuron's windows back without the corpus. Shared by cmd_scan.c (writes and reads) and cmd_neuron.c.
#ifndef LRP_CLI_ATLAS_H
#define LRP_CLI_ATLAS_H

#include <jansson.h>

#include "api/session.h"
#include "explain/scan.h"

typedef struct cli_atlas {
    json_t *doc;                      // the parsed file; the strings below live in it
    const char *path, *data, *data_format;
    int layer, expert, width, top;    // expert -1: a dense MLP
    int window;                       // -1: JSONL records not cut
    long windows;                     // windows (records) scanned
    long long tokens;
    char sha256[65];                  // the corpus's SHA-256 ("" in atlases older than it)
    int shard_k, shard_n;             // the share of the corpus scanned (--shard K/N; 0/1: all)
    long windows_in_data;             // windows of the whole corpus
} cli_atlas;

// The model's shape as the atlas records it (written by scan --neurons all, checked on reading).
void cli_atlas_model_fields(json_t *doc, const lrp_session *s);

// Reads and checks the header of an atlas: its format, and that its layer, expert and dims fit the session's
// model. Returns 0, or the exit status after printing one error line naming --atlas PATH.
int cli_atlas_open(cli_atlas *a, const char *path, const lrp_session *s);

// Neuron n's first `top` windows (top 0: all the atlas keeps), best first, into best (initialised here;
// lrp_scan_top_free it). Each entry is checked (index, position within the window, token ids in the
// vocabulary) and its activation recomputed with one forward pass: an atlas scanned with other weights is
// refused. Errors: --neuron out of range, --top larger than the atlas keeps, a broken entry. Returns 0, or
// the exit status after printing the error.
int cli_atlas_neuron(const cli_atlas *a, const lrp_session *s, int n, int top, lrp_scan_top *best);

void cli_atlas_close(cli_atlas *a);

#endif

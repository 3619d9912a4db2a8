// Explaining a data set record by record (attnlrp batch): the files, not the explaining.
//
// The input is JSONL: one JSON object per non-blank line (CRLF accepted), numbered by its index among the
// non-blank lines (0-based). A record's id is its "id" field (a string or an integer), else its index; ids
// are unique in a file. The output is JSONL too: its first line is a header naming the input by its SHA-256
// and the options it was written with,
//   {"attnlrp_batch": 1, "input": PATH, "sha256": HEX, "records": N, "shard": [K, N_SHARDS], "options": [...]}
// then one line per record of the shard, in input order:
//   {"id": ID, "index": I, "line": L, "explanation": {...}}   or   {"id": ID, "index": I, "line": L, "error": MSG}
// Each line is written whole and flushed, so a killed run leaves complete lines and at most one torn last
// line, which lrp_batch_open_output repairs before the run goes on.
#ifndef LRP_EVALUATE_BATCH_H
#define LRP_EVALUATE_BATCH_H

#include <stdio.h>

#include <jansson.h>

#include "core/err.h"

// "K/N": 0 <= K < N; the shard holds the records whose index mod N is K. Errors name "shard".
int lrp_shard_parse(const char *s, int *k, int *n, lrp_err *err);

typedef struct lrp_batch_header {
    char sha256[65];   // of the input file's bytes
    long records;      // non-blank lines
    int shard_k, shard_n;
    char *options;     // compact JSON array of what the records were explained with (malloc'ed)
    char *input;       // the input's path as given (malloc'ed; not compared)
} lrp_batch_header;
void lrp_batch_header_free(lrp_batch_header *h);

// A record's id as compact JSON text (malloc'ed): "id" when it is a string or an integer, else index;
// NULL with err for an id of another type (errors name "id").
char *lrp_batch_record_id(const json_t *rec, long index, lrp_err *err);

// Reads the input once: its SHA-256, its record count, and that no two records share an id (a line that is
// not a JSON object is left for the run to report). Errors name the file and line.
int lrp_batch_scan_input(const char *path, lrp_batch_header *h, lrp_err *err);

// The next record of an input stream: *line (getline's buffer, without the line end), its 1-based line
// number *line_no, advanced over blank lines. 1 when a record was read, 0 at the end, -1 on a read error.
int lrp_batch_next_record(FILE *in, char **line, size_t *cap, size_t *len, long *line_no);

// Opens the output for appending. A missing or empty file (or one whose header line was torn) gets the
// header; an existing one must have been written for the same input (sha256, records), shard and options,
// else the error names what differs. The file is locked (flock) while *out is open: a second run on it is
// refused. done[index] is set for every record already in it (*n_done of them),
// and a torn last line is cut off (*repaired = 1). *out is then positioned at the end.
int lrp_batch_open_output(const char *path, const lrp_batch_header *h, unsigned char *done, long *n_done,
                          int *repaired, FILE **out, lrp_err *err);

// One output line, newline included (malloc'ed; NULL when out of memory): the record's explanation (json,
// one line of JSON), or when json is NULL the error message.
char *lrp_batch_format_record(const char *id_json, long index, long line_no, const char *json, const char *error);

// The shard set of a merge: file i (paths[i]) holds shard k[i] of n[i]; every file must have the same N
// and shards 0..N-1 must each be there exactly once. by_k[N]: the file of each shard. Errors name the
// file and the shard that is repeated or missing (batch, eval and scan merges share it).
int lrp_shard_set_check(char **paths, int n_paths, const int *k, const int *n, int *by_k, lrp_err *err);

// Joins shard outputs: every file from the same input and options, shards 0..N-1 each exactly once, every
// record present once; writes the header (shard 0/1) and the records in input order to out. Errors name
// the file and what is missing or duplicated.
int lrp_batch_merge(char **paths, int n_paths, FILE *out, lrp_err *err);

#endif

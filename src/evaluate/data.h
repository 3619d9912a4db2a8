// Evaluation data: a JSONL file read whole into its non-blank lines, and one record per line:
//   {"text": str, "text_pair": str (optional), "target": str (optional), "span": [start, end] (optional)}
//   {"image": path, "label": str (optional; "target" also works)}    for image classifiers
// target: the explained next token (language models: text that is one token) or class (classifiers: its
// id2label name); default the model's prediction. span: character offsets into text (Unicode code
// points, end exclusive, as Python's text[start:end]).
#ifndef LRP_EVALUATE_DATA_H
#define LRP_EVALUATE_DATA_H

#include <stddef.h>

#include "core/err.h"

typedef struct lrp_eval_data {
    char *buf;         // the whole file, NUL-terminated
    size_t len;
    char **lines;      // starts of the non-blank lines (each NUL-terminated in buf)
    size_t *line_len;  // their lengths in bytes (a NUL byte inside a line is kept, and rejected by the parser)
    int *line_no;      // their 1-based line numbers
    int n;
} lrp_eval_data;

// Reads path; errors name it ("data.jsonl: cannot open: No such file or directory"). CRLF line ends are
// accepted; blank lines are skipped. An empty file is not an error (n = 0).
int lrp_eval_data_read(lrp_eval_data *d, const char *path, lrp_err *err);
void lrp_eval_data_free(lrp_eval_data *d);
// Every image of a folder (.png, .jpg, .jpeg, .npy; in name order) as records {"image": "DIR/NAME"}
// without labels (the model's prediction is explained); line numbers are the images' ranks.
int lrp_eval_data_from_dir(lrp_eval_data *d, const char *dir, lrp_err *err);

// Keeps the records whose index (0-based, in file order) mod n is k: shard k of n (eval --shard K/N);
// their line numbers stay those of the file.
void lrp_eval_data_shard(lrp_eval_data *d, int k, int n);

typedef struct lrp_eval_record {
    char *image;       // image records {"image": path, "label": class}: the path (malloc'ed); NULL for text
    char *text;        // malloc'ed UTF-8
    size_t text_len;   // bytes
    int n_chars;       // code points
    char *text_pair;   // malloc'ed, or NULL
    size_t pair_len;
    char *target;      // malloc'ed, or NULL: the model's prediction
    int has_span;
    int span[2];       // [start, end) in code points, 0 <= start < end <= n_chars
} lrp_eval_record;

// Parses one JSONL line; span_field names the span's field (NULL: "span"). Other fields are ignored.
// The error names the field at fault (the caller adds file and line).
int lrp_eval_parse_record(const char *line, size_t len, const char *span_field, lrp_eval_record *r, lrp_err *err);
void lrp_eval_record_free(lrp_eval_record *r);

#endif

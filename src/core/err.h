// Errors are values: a library function that can fail returns 0 on success or -1 on failure, after
// writing one line into an lrp_err naming the file, tensor, field or argument at fault.
// Only the CLI prints the message and chooses the exit status.
#ifndef LRP_ERR_H
#define LRP_ERR_H

typedef struct lrp_err {
    char msg[1024];
} lrp_err;

// Formats the message into err (if err is not NULL) and returns -1, so that callers can write
// `return lrp_fail(err, "config.json: missing field \"%s\"", name);`.
int lrp_fail(lrp_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// Prepends "prefix: " to an existing message; returns -1.
int lrp_fail_prefix(lrp_err *err, const char *prefix);

#endif

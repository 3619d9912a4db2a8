// A small read-only JSON DOM for tokenizer.json. jansson takes ~450 ms on Qwen3's 11 MB file; this
// parser decodes strings in place in a private copy of the text and allocates every value from one
// arena, so the whole document costs one pass and a handful of mallocs.
#ifndef LRP_TOK_JSON_H
#define LRP_TOK_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef enum { TJ_NULL, TJ_FALSE, TJ_TRUE, TJ_NUMBER, TJ_STRING, TJ_ARRAY, TJ_OBJECT } tj_type;

typedef struct tj_value tj_value;
struct tj_value {
    tj_type type;
    uint32_t n;  // string: byte length (may contain NUL); array: items; object: members
    union {
        double num;
        const char *str;  // NUL-terminated after the n bytes
        tj_value *items;  // array: items[i]; object: items[2i] key (string), items[2i+1] value
    } u;
};

typedef struct tj_doc tj_doc;

// Parses text[0..len) (copied). `name` names the file in error messages.
int tj_parse(tj_doc **out, const char *text, size_t len, const char *name, lrp_err *err);
// Same, taking ownership of text (malloc'ed, len + 1 bytes), which is freed with the document
// (also on failure).
int tj_parse_owned(tj_doc **out, char *text, size_t len, const char *name, lrp_err *err);
void tj_free(tj_doc *doc);
const tj_value *tj_root(const tj_doc *doc);

// Object member by exact key, or NULL (also NULL when v is not an object).
const tj_value *tj_get(const tj_value *v, const char *key);
const char *tj_type_name(tj_type t);

#endif

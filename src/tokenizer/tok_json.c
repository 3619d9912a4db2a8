#include "tokenizer/tok_json.h"

#include <stdlib.h>
#include <string.h>

enum { TJ_MAX_DEPTH = 256 };

typedef struct tj_block {
    struct tj_block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} tj_block;

struct tj_doc {
    char *text;        // private copy; strings are decoded in place
    tj_block *blocks;  // arena for arrays/objects
    tj_value root;
};

typedef struct {
    tj_doc *doc;
    char *p, *end, *begin;
    const char *name;
    lrp_err *err;
    tj_value *stack;  // children of the containers being parsed
    size_t sn, scap;
} tj_parser;

static void *arena_alloc(tj_doc *doc, size_t size) {
    size = (size + 15) & ~(size_t)15;
    tj_block *b = doc->blocks;
    if (!b || b->cap - b->used < size) {
        size_t cap = size > ((size_t)1 << 20) ? size : ((size_t)1 << 20);
        b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->next = doc->blocks;
        b->used = 0;
        b->cap = cap;
        doc->blocks = b;
    }
    void *r = b->data + b->used;
    b->used += size;
    return r;
}

static int fail_at(tj_parser *ps, const char *p, const char *what) {
    size_t line = 1, col = 1;
    for (const char *q = ps->begin; q < p && q < ps->end; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    return lrp_fail(ps->err, "%s: invalid JSON at line %zu column %zu: %s", ps->name, line, col, what);
}

static void skip_ws(tj_parser *ps) {
    char *p = ps->p;
    while (p < ps->end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    ps->p = p;
}

static int push(tj_parser *ps, const tj_value *v) {
    if (ps->sn == ps->scap) {
        size_t cap = ps->scap ? ps->scap * 2 : 1024;
        tj_value *s = realloc(ps->stack, cap * sizeof *s);
        if (!s) return lrp_fail(ps->err, "%s: out of memory", ps->name);
        ps->stack = s;
        ps->scap = cap;
    }
    ps->stack[ps->sn++] = *v;
    return 0;
}

static int hex4(const char *p, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

static char *put_utf8(char *w, unsigned cp) {
    if (cp < 0x80) {
        *w++ = (char)cp;
    } else if (cp < 0x800) {
        *w++ = (char)(0xC0 | (cp >> 6));
        *w++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *w++ = (char)(0xE0 | (cp >> 12));
        *w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *w++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *w++ = (char)(0xF0 | (cp >> 18));
        *w++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *w++ = (char)(0x80 | (cp & 0x3F));
    }
    return w;
}

// Length of a valid UTF-8 sequence at p (at most n bytes), 0 if invalid.
static size_t utf8_valid_len(const unsigned char *p, size_t n) {
    unsigned c = p[0];
    if (c < 0x80) return 1;
    if (c < 0xC2 || c > 0xF4) return 0;
    size_t len = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xC0) != 0x80) return 0;
    if (c == 0xE0 && p[1] < 0xA0) return 0;
    if (c == 0xED && p[1] > 0x9F) return 0;
    if (c == 0xF0 && p[1] < 0x90) return 0;
    if (c == 0xF4 && p[1] > 0x8F) return 0;
    return len;
}

// Decodes the string starting after the opening quote, in place; NUL-terminates it.
static int parse_string(tj_parser *ps, tj_value *out) {
    char *start = ps->p + 1, *r = start, *w = start;
    for (;;) {
        if (r >= ps->end) return fail_at(ps, start - 1, "unterminated string");
        unsigned char c = (unsigned char)*r;
        if (c == '"') break;
        if (c < 0x20) return fail_at(ps, r, "control character in string");
        if (c == '\\') {
            if (r + 1 >= ps->end) return fail_at(ps, r, "unterminated escape");
            char e = r[1];
            r += 2;
            switch (e) {
            case '"': *w++ = '"'; break;
            case '\\': *w++ = '\\'; break;
            case '/': *w++ = '/'; break;
            case 'b': *w++ = '\b'; break;
            case 'f': *w++ = '\f'; break;
            case 'n': *w++ = '\n'; break;
            case 'r': *w++ = '\r'; break;
            case 't': *w++ = '\t'; break;
            case 'u': {
                unsigned cp, lo;
                if (ps->end - r < 4 || hex4(r, &cp)) return fail_at(ps, r - 2, "bad \\u escape");
                r += 4;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (ps->end - r < 6 || r[0] != '\\' || r[1] != 'u' || hex4(r + 2, &lo) || lo < 0xDC00 ||
                        lo > 0xDFFF)
                        return fail_at(ps, r - 6, "unpaired surrogate in \\u escape");
                    r += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    return fail_at(ps, r - 6, "unpaired surrogate in \\u escape");
                }
                w = put_utf8(w, cp);
                break;
            }
            default: return fail_at(ps, r - 2, "bad escape");
            }
        } else if (c < 0x80) {
            if (w != r) *w = (char)c;
            w++;
            r++;
        } else {
            size_t l = utf8_valid_len((const unsigned char *)r, (size_t)(ps->end - r));
            if (!l) return fail_at(ps, r, "invalid UTF-8 in string");
            if (w != r) memmove(w, r, l);
            w += l;
            r += l;
        }
    }
    if ((size_t)(w - start) > UINT32_MAX) return fail_at(ps, start, "string too long");
    *w = '\0';  // w <= r, and r points at the closing quote, which has been consumed
    out->type = TJ_STRING;
    out->n = (uint32_t)(w - start);
    out->u.str = start;
    ps->p = r + 1;
    return 0;
}

static int parse_number(tj_parser *ps, tj_value *out) {
    char *p = ps->p, *s = p;
    if (p < ps->end && *p == '-') p++;
    if (p >= ps->end || *p < '0' || *p > '9') return fail_at(ps, s, "bad number");
    if (*p == '0') p++;
    else
        while (p < ps->end && *p >= '0' && *p <= '9') p++;
    if (p < ps->end && *p == '.') {
        p++;
        if (p >= ps->end || *p < '0' || *p > '9') return fail_at(ps, s, "bad number");
        while (p < ps->end && *p >= '0' && *p <= '9') p++;
    }
    if (p < ps->end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < ps->end && (*p == '+' || *p == '-')) p++;
        if (p >= ps->end || *p < '0' || *p > '9') return fail_at(ps, s, "bad number");
        while (p < ps->end && *p >= '0' && *p <= '9') p++;
    }
    char buf[64];
    size_t n = (size_t)(p - s);
    int digits_only = 1;
    for (const char *q = s + (*s == '-'); q < p; q++)
        if (*q < '0' || *q > '9') digits_only = 0;
    if (digits_only && n <= 15) {  // exact in a double; most numbers here are token ids
        long long x = 0;
        for (const char *q = s + (*s == '-'); q < p; q++) x = x * 10 + (*q - '0');
        out->u.num = (double)(*s == '-' ? -x : x);
    } else if (n >= sizeof buf) {
        out->u.num = strtod(s, NULL);  // long numbers: the text is followed by a delimiter, strtod stops
    } else {
        memcpy(buf, s, n);
        buf[n] = '\0';
        out->u.num = strtod(buf, NULL);
    }
    out->type = TJ_NUMBER;
    out->n = 0;
    ps->p = p;
    return 0;
}

static int parse_value(tj_parser *ps, tj_value *out, int depth);

static int finish_container(tj_parser *ps, size_t base, tj_value *out, tj_type type) {
    size_t count = ps->sn - base;
    size_t n = type == TJ_OBJECT ? count / 2 : count;
    if (n > UINT32_MAX) return lrp_fail(ps->err, "%s: container too large", ps->name);
    out->type = type;
    out->n = (uint32_t)n;
    out->u.items = NULL;
    if (count) {
        if (count > SIZE_MAX / sizeof(tj_value)) return lrp_fail(ps->err, "%s: out of memory", ps->name);
        out->u.items = arena_alloc(ps->doc, count * sizeof(tj_value));
        if (!out->u.items) return lrp_fail(ps->err, "%s: out of memory", ps->name);
        memcpy(out->u.items, ps->stack + base, count * sizeof(tj_value));
    }
    ps->sn = base;
    return 0;
}

static int parse_array(tj_parser *ps, tj_value *out, int depth) {
    size_t base = ps->sn;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return finish_container(ps, base, out, TJ_ARRAY);
    }
    for (;;) {
        tj_value v;
        if (parse_value(ps, &v, depth + 1) || push(ps, &v)) return -1;
        skip_ws(ps);
        if (ps->p >= ps->end) return fail_at(ps, ps->p, "unterminated array");
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == ']') {
            ps->p++;
            return finish_container(ps, base, out, TJ_ARRAY);
        }
        return fail_at(ps, ps->p, "expected ',' or ']'");
    }
}

static int parse_object(tj_parser *ps, tj_value *out, int depth) {
    size_t base = ps->sn;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return finish_container(ps, base, out, TJ_OBJECT);
    }
    for (;;) {
        tj_value k, v;
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != '"') return fail_at(ps, ps->p, "expected a string key");
        if (parse_string(ps, &k)) return -1;
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':') return fail_at(ps, ps->p, "expected ':'");
        ps->p++;
        if (parse_value(ps, &v, depth + 1) || push(ps, &k) || push(ps, &v)) return -1;
        skip_ws(ps);
        if (ps->p >= ps->end) return fail_at(ps, ps->p, "unterminated object");
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == '}') {
            ps->p++;
            return finish_container(ps, base, out, TJ_OBJECT);
        }
        return fail_at(ps, ps->p, "expected ',' or '}'");
    }
}

static int literal(tj_parser *ps, const char *word, tj_type type, tj_value *out) {
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) return fail_at(ps, ps->p, "unexpected token");
    ps->p += n;
    out->type = type;
    out->n = 0;
    out->u.items = NULL;
    return 0;
}

static int parse_value(tj_parser *ps, tj_value *out, int depth) {
    if (depth > TJ_MAX_DEPTH) return fail_at(ps, ps->p, "nesting too deep");
    skip_ws(ps);
    if (ps->p >= ps->end) return fail_at(ps, ps->p, "unexpected end of input");
    switch (*ps->p) {
    case '{': return parse_object(ps, out, depth);
    case '[': return parse_array(ps, out, depth);
    case '"': return parse_string(ps, out);
    case 't': return literal(ps, "true", TJ_TRUE, out);
    case 'f': return literal(ps, "false", TJ_FALSE, out);
    case 'n': return literal(ps, "null", TJ_NULL, out);
    default: return parse_number(ps, out);
    }
}

int tj_parse(tj_doc **out, const char *text, size_t len, const char *name, lrp_err *err) {
    *out = NULL;
    if (len > SIZE_MAX - 1) return lrp_fail(err, "%s: too large", name);
    char *copy = malloc(len + 1);
    if (!copy) return lrp_fail(err, "%s: out of memory", name);
    memcpy(copy, text, len);
    return tj_parse_owned(out, copy, len, name, err);
}

int tj_parse_owned(tj_doc **out, char *text, size_t len, const char *name, lrp_err *err) {
    *out = NULL;
    tj_doc *doc = calloc(1, sizeof *doc);
    if (!doc) {
        free(text);
        return lrp_fail(err, "%s: out of memory", name);
    }
    doc->text = text;
    doc->text[len] = '\0';
    tj_parser ps = {doc, doc->text, doc->text + len, doc->text, name, err, NULL, 0, 0};
    int rc = parse_value(&ps, &doc->root, 0);
    if (!rc) {
        skip_ws(&ps);
        if (ps.p != ps.end) rc = fail_at(&ps, ps.p, "trailing characters after the JSON value");
    }
    free(ps.stack);
    if (rc) {
        tj_free(doc);
        return -1;
    }
    *out = doc;
    return 0;
}

void tj_free(tj_doc *doc) {
    if (!doc) return;
    for (tj_block *b = doc->blocks, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(doc->text);
    free(doc);
}

const tj_value *tj_root(const tj_doc *doc) { return &doc->root; }

const tj_value *tj_get(const tj_value *v, const char *key) {
    if (!v || v->type != TJ_OBJECT) return NULL;
    size_t kl = strlen(key);
    for (uint32_t i = 0; i < v->n; i++) {
        const tj_value *k = &v->u.items[2 * i];
        if (k->n == kl && memcmp(k->u.str, key, kl) == 0) return &v->u.items[2 * i + 1];
    }
    return NULL;
}

const char *tj_type_name(tj_type t) {
    switch (t) {
    case TJ_NULL: return "null";
    case TJ_FALSE:
    case TJ_TRUE: return "a boolean";
    case TJ_NUMBER: return "a number";
    case TJ_STRING: return "a string";
    case TJ_ARRAY: return "an array";
    case TJ_OBJECT: return "an object";
    }
    return "?";
}

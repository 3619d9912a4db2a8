#include "inputs/jinja.h"

#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// ---- memory: one arena per rendering, freed at once -------------------------------------------------

typedef struct blk {
    struct blk *next;
    size_t used, cap;
    max_align_t data[];
} blk;

typedef struct {
    blk *head;
} arena;

static void *aalloc(arena *a, size_t n) {
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    if (!a->head || a->head->used + n > a->head->cap) {
        size_t cap = n > 65536 ? n : 65536;
        blk *b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->next = a->head;
        b->used = 0;
        b->cap = cap;
        a->head = b;
    }
    void *p = (char *)a->head->data + a->head->used;
    a->head->used += n;
    memset(p, 0, n);
    return p;
}

static void afree(arena *a) {
    while (a->head) {
        blk *n = a->head->next;
        free(a->head);
        a->head = n;
    }
}

// ---- values ----------------------------------------------------------------------------------------

typedef enum { V_UNDEF, V_NONE, V_BOOL, V_INT, V_FLOAT, V_STR, V_LIST, V_DICT } vtype;

typedef struct jlist jlist;
typedef struct jdict jdict;

typedef struct val {
    vtype t;
    long long i;      // V_BOOL, V_INT
    double f;         // V_FLOAT
    const char *s;    // V_STR (not NUL-terminated necessarily)
    size_t n;
    jlist *l;
    jdict *d;
} val;

struct jlist {
    int len;
    val *items;
};

struct jdict {
    int len, cap, ns;  // ns: a namespace() (its attributes may be set)
    const char **keys;
    size_t *klen;
    val *vals;
};

// ---- lexing ----------------------------------------------------------------------------------------

typedef enum { T_NAME, T_STR, T_INT, T_FLOAT, T_OP, T_END } ttype;

typedef struct {
    ttype t;
    const char *p;  // T_NAME, T_OP: into the template; T_STR: decoded (arena)
    size_t n;
    long long i;
    double f;
    int line;
} tok;

typedef struct {
    int kind;  // 0 text, 1 {{ expression }}, 2 {% statement %}
    const char *text;
    size_t n;
    int tok0;
    int line;
} seg;

typedef struct {
    const char *name;
    size_t n;
    val v;
} var;

typedef struct {
    arena a;
    seg *segs;
    int nseg, capseg;
    tok *toks;
    int ntok, captok;
    var *vars;
    int nvars, capvars;
    int frames[64], nframes;
    char *out;
    size_t nout, capout;
    int failed, brk, cont;
    int depth, sdepth;  // expression / statement nesting (a hostile template must not exhaust the stack)
    long steps;
    int pos;  // the token the expression parser reads
    lrp_err *err;
} J;

static val undef(void) { return (val){.t = V_UNDEF}; }

static val fail(J *j, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static val fail(J *j, int line, const char *fmt, ...) {
    if (j->failed) return undef();
    j->failed = 1;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lrp_fail(j->err, "chat_template: line %d: %s", line, msg);
    return undef();
}

static int push_seg(J *j, seg s) {
    if (j->nseg == j->capseg) {
        int cap = j->capseg ? j->capseg * 2 : 64;
        seg *p = realloc(j->segs, (size_t)cap * sizeof *p);
        if (!p) return -1;
        j->segs = p;
        j->capseg = cap;
    }
    j->segs[j->nseg++] = s;
    return 0;
}

static int push_tok(J *j, tok t) {
    if (j->ntok == j->captok) {
        int cap = j->captok ? j->captok * 2 : 256;
        tok *p = realloc(j->toks, (size_t)cap * sizeof *p);
        if (!p) return -1;
        j->toks = p;
        j->captok = cap;
    }
    j->toks[j->ntok++] = t;
    return 0;
}

static void put_utf8(char *o, size_t *k, unsigned cp) {
    if (cp < 0x80) o[(*k)++] = (char)cp;
    else if (cp < 0x800) {
        o[(*k)++] = (char)(0xc0 | cp >> 6);
        o[(*k)++] = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        o[(*k)++] = (char)(0xe0 | cp >> 12);
        o[(*k)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[(*k)++] = (char)(0x80 | (cp & 0x3f));
    } else {
        o[(*k)++] = (char)(0xf0 | cp >> 18);
        o[(*k)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
        o[(*k)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[(*k)++] = (char)(0x80 | (cp & 0x3f));
    }
}

// A string literal's body [p, e) with Python's escapes decoded.
static int decode_string(J *j, const char *p, const char *e, tok *t) {
    char *o = aalloc(&j->a, (size_t)(e - p) * 2 + 1);
    if (!o) return -1;
    size_t k = 0;
    while (p < e) {
        if (*p != '\\' || p + 1 >= e) {
            o[k++] = *p++;
            continue;
        }
        char c = p[1];
        p += 2;
        switch (c) {
        case 'n': o[k++] = '\n'; break;
        case 't': o[k++] = '\t'; break;
        case 'r': o[k++] = '\r'; break;
        case '0': o[k++] = '\0'; break;
        case 'a': o[k++] = '\a'; break;
        case 'b': o[k++] = '\b'; break;
        case 'f': o[k++] = '\f'; break;
        case 'v': o[k++] = '\v'; break;
        case '\\': case '\'': case '"': o[k++] = c; break;
        case '\n': break;
        case 'x': case 'u': case 'U': {
            int nd = c == 'x' ? 2 : c == 'u' ? 4 : 8;
            unsigned cp = 0;
            int ok = e - p >= nd;
            for (int i = 0; ok && i < nd; i++) ok = isxdigit((unsigned char)p[i]);
            if (!ok) {
                o[k++] = '\\';
                o[k++] = c;
                break;
            }
            for (int i = 0; i < nd; i++) cp = cp * 16 + (unsigned)(isdigit((unsigned char)p[i]) ? p[i] - '0' : (tolower((unsigned char)p[i]) - 'a' + 10));
            p += nd;
            put_utf8(o, &k, cp > 0x10ffff ? 0xfffd : cp);
            break;
        }
        default: o[k++] = '\\'; o[k++] = c;
        }
    }
    o[k] = '\0';
    t->p = o;
    t->n = k;
    return 0;
}

// Lexes the tokens of one tag from *pp up to its close ("}}" or "%}", optionally "-"-prefixed); sets
// *strip_after when the close has "-".
static int lex_tag(J *j, const char **pp, const char *close, int *line, int *strip_after) {
    const char *p = *pp;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
            if (*p == '\n') (*line)++;
            p++;
        }
        if (!*p) return fail(j, *line, "a tag is not closed (missing \"%s\")", close), -1;
        if (p[0] == '-' && !strncmp(p + 1, close, 2)) {
            *strip_after = 1;
            *pp = p + 3;
            break;
        }
        if (!strncmp(p, close, 2)) {
            *strip_after = 0;
            *pp = p + 2;
            break;
        }
        tok t = {.line = *line};
        if (isalpha((unsigned char)*p) || *p == '_') {
            const char *s = p;
            while (isalnum((unsigned char)*p) || *p == '_') p++;
            t.t = T_NAME;
            t.p = s;
            t.n = (size_t)(p - s);
        } else if (isdigit((unsigned char)*p)) {
            char *end;
            t.p = p;
            t.i = strtoll(p, &end, 10);
            t.t = T_INT;
            if (*end == '.' && isdigit((unsigned char)end[1])) {
                t.f = strtod(p, &end);
                t.t = T_FLOAT;
            }
            t.n = (size_t)(end - p);
            p = end;
        } else if (*p == '\'' || *p == '"') {
            char q = *p++;
            const char *s = p;
            while (*p && *p != q) {
                if (*p == '\\' && p[1]) p++;
                if (*p == '\n') (*line)++;
                p++;
            }
            if (!*p) return fail(j, t.line, "a string is not closed"), -1;
            t.t = T_STR;
            if (decode_string(j, s, p, &t)) return -1;
            p++;
        } else {
            static const char *const two[] = {"//", "==", "!=", "<=", ">=", "**"};
            t.t = T_OP;
            t.p = p;
            t.n = 1;
            for (size_t k = 0; k < sizeof two / sizeof two[0]; k++)
                if (!strncmp(p, two[k], 2)) t.n = 2;
            if (t.n == 1 && !strchr("()[]{}.,:|~+-*/%<>=", *p))
                return fail(j, t.line, "unexpected character '%c'", *p), -1;
            p += t.n;
        }
        if (push_tok(j, t)) return -1;
    }
    return push_tok(j, (tok){.t = T_END, .line = *line});
}

static int lex(J *j, const char *t) {
    const char *p = t;
    int line = 1, strip_next = 0, trim_nl = 0;
    while (*p) {
        const char *o = p;
        while (*o && !(o[0] == '{' && (o[1] == '{' || o[1] == '%' || o[1] == '#'))) o++;
        const char *s = p, *e = o;
        if (strip_next)
            while (s < e && isspace((unsigned char)*s)) s++;
        else if (trim_nl && s < e && *s == '\n') s++;
        else if (trim_nl && e - s >= 2 && s[0] == '\r' && s[1] == '\n') s += 2;
        int kind = *o ? (o[1] == '{' ? 1 : o[1] == '%' ? 2 : 3) : 0;
        int minus = *o && o[2] == '-', plus = *o && o[2] == '+';
        if (minus) {
            while (e > s && isspace((unsigned char)e[-1])) e--;
        } else if ((kind == 2 || kind == 3) && !plus) {  // lstrip_blocks
            const char *b = e;
            while (b > s && (b[-1] == ' ' || b[-1] == '\t')) b--;
            if (b == t || b[-1] == '\n') e = b;
        }
        for (const char *q = p; q < o; q++) line += *q == '\n';
        if (e > s && push_seg(j, (seg){.kind = 0, .text = s, .n = (size_t)(e - s), .line = line})) return -1;
        if (!kind) break;
        p = o + 2 + (minus || plus);
        strip_next = trim_nl = 0;
        if (kind == 3) {
            const char *c = strstr(p, "#}");
            if (!c) return fail(j, line, "a comment is not closed (missing \"#}\")"), -1;
            for (const char *q = p; q < c; q++) line += *q == '\n';
            strip_next = c > p && c[-1] == '-';
            trim_nl = 1;
            p = c + 2;
            continue;
        }
        seg sg = {.kind = kind, .tok0 = j->ntok, .line = line};
        if (lex_tag(j, &p, kind == 1 ? "}}" : "%}", &line, &strip_next)) return -1;
        if (push_seg(j, sg)) return -1;
        trim_nl = kind == 2;
    }
    return 0;
}

// ---- output and strings ----------------------------------------------------------------------------

static void emit(J *j, const char *s, size_t n) {
    if (j->failed) return;
    if (j->nout + n + 1 > j->capout) {
        if (j->nout + n > (size_t)1 << 26) {
            fail(j, 0, "the output exceeds 64 MiB");
            return;
        }
        size_t cap = (j->nout + n + 1) * 2;
        char *p = realloc(j->out, cap);
        if (!p) {
            fail(j, 0, "out of memory");
            return;
        }
        j->out = p;
        j->capout = cap;
    }
    memcpy(j->out + j->nout, s, n);
    j->nout += n;
    j->out[j->nout] = '\0';
}

static val mkstr(J *j, const char *s, size_t n) {
    char *c = aalloc(&j->a, n + 1);
    if (!c) return fail(j, 0, "out of memory");
    memcpy(c, s, n);
    return (val){.t = V_STR, .s = c, .n = n};
}

static val mkint(long long i) { return (val){.t = V_INT, .i = i}; }
static val mkbool(int b) { return (val){.t = V_BOOL, .i = !!b}; }

static val mklist(J *j, int n) {
    jlist *l = aalloc(&j->a, sizeof *l);
    val *it = aalloc(&j->a, (size_t)(n ? n : 1) * sizeof *it);
    if (!l || !it) return fail(j, 0, "out of memory");
    l->len = n;
    l->items = it;
    return (val){.t = V_LIST, .l = l};
}

static val mkdict(J *j) {
    jdict *d = aalloc(&j->a, sizeof *d);
    if (!d) return fail(j, 0, "out of memory");
    return (val){.t = V_DICT, .d = d};
}

static void dict_set(J *j, jdict *d, const char *k, size_t kn, val v) {
    for (int i = 0; i < d->len; i++)
        if (d->klen[i] == kn && !memcmp(d->keys[i], k, kn)) {
            d->vals[i] = v;
            return;
        }
    if (d->len == d->cap) {
        int cap = d->cap ? d->cap * 2 : 8;
        const char **keys = aalloc(&j->a, (size_t)cap * sizeof *keys);
        size_t *klen = aalloc(&j->a, (size_t)cap * sizeof *klen);
        val *vals = aalloc(&j->a, (size_t)cap * sizeof *vals);
        if (!keys || !klen || !vals) {
            fail(j, 0, "out of memory");
            return;
        }
        if (d->len) {
            memcpy(keys, d->keys, (size_t)d->len * sizeof *keys);
            memcpy(klen, d->klen, (size_t)d->len * sizeof *klen);
            memcpy(vals, d->vals, (size_t)d->len * sizeof *vals);
        }
        d->keys = keys;
        d->klen = klen;
        d->vals = vals;
        d->cap = cap;
    }
    d->keys[d->len] = k;
    d->klen[d->len] = kn;
    d->vals[d->len++] = v;
}

static val dict_get(const jdict *d, const char *k, size_t kn) {
    for (int i = 0; i < d->len; i++)
        if (d->klen[i] == kn && !memcmp(d->keys[i], k, kn)) return d->vals[i];
    return undef();
}

static int truthy(val v) {
    switch (v.t) {
    case V_BOOL: case V_INT: return v.i != 0;
    case V_FLOAT: return v.f != 0;
    case V_STR: return v.n > 0;
    case V_LIST: return v.l->len > 0;
    case V_DICT: return v.d->len > 0;
    default: return 0;
    }
}

typedef struct {
    char *p;
    size_t n, cap;
} sb;

static void sb_put(sb *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p) return;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void repr(sb *b, val v, int json, int top);

static void num_str(sb *b, val v) {
    char buf[64];
    if (v.t == V_FLOAT) {
        snprintf(buf, sizeof buf, "%.17g", v.f);
        for (int p = 15; p <= 17; p++) {  // the shortest that reads back, as Python's repr
            snprintf(buf, sizeof buf, "%.*g", p, v.f);
            if (strtod(buf, NULL) == v.f) break;
        }
        if (!strpbrk(buf, ".eni")) strcat(buf, ".0");
    } else {
        snprintf(buf, sizeof buf, "%lld", v.i);
    }
    sb_put(b, buf, strlen(buf));
}

static void quoted(sb *b, const char *s, size_t n, int json) {
    char q = json ? '"' : '\'';
    sb_put(b, &q, 1);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        const char *esc = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : c == '\\' ? "\\\\" : c == q ? (json ? "\\\"" : "\\'") : NULL;
        if (esc) sb_put(b, esc, strlen(esc));
        else if ((unsigned char)c < 0x20) {
            char u[8];
            snprintf(u, sizeof u, json ? "\\u%04x" : "\\x%02x", (unsigned char)c);
            sb_put(b, u, strlen(u));
        } else sb_put(b, &c, 1);
    }
    sb_put(b, &q, 1);
}

// str(v) at the top (strings as they are), Python's repr inside lists and dicts; json: JSON text with
// transformers' tojson separators (", ", ": ").
static void repr(sb *b, val v, int json, int top) {
    switch (v.t) {
    case V_UNDEF: if (!top || json) sb_put(b, json ? "null" : "None", 4); break;
    case V_NONE: sb_put(b, json ? "null" : "None", 4); break;
    case V_BOOL: sb_put(b, v.i ? (json ? "true" : "True") : (json ? "false" : "False"), v.i ? 4 : 5); break;
    case V_INT: case V_FLOAT: num_str(b, v); break;
    case V_STR:
        if (top && !json) sb_put(b, v.s, v.n);
        else quoted(b, v.s, v.n, json);
        break;
    case V_LIST:
        sb_put(b, "[", 1);
        for (int i = 0; i < v.l->len; i++) {
            if (i) sb_put(b, ", ", 2);
            repr(b, v.l->items[i], json, 0);
        }
        sb_put(b, "]", 1);
        break;
    case V_DICT:
        sb_put(b, "{", 1);
        for (int i = 0; i < v.d->len; i++) {
            if (i) sb_put(b, ", ", 2);
            quoted(b, v.d->keys[i], v.d->klen[i], json);
            sb_put(b, ": ", 2);
            repr(b, v.d->vals[i], json, 0);
        }
        sb_put(b, "}", 1);
        break;
    }
}

static val to_str(J *j, val v, int json) {
    if (v.t == V_STR && !json) return v;
    sb b = {0};
    sb_put(&b, "", 0);
    repr(&b, v, json, 1);
    if (!b.p) return fail(j, 0, "out of memory");
    val s = mkstr(j, b.p, b.n);
    free(b.p);
    return s;
}

static int equal(val a, val b) {
    int an = a.t == V_INT || a.t == V_BOOL || a.t == V_FLOAT, bn = b.t == V_INT || b.t == V_BOOL || b.t == V_FLOAT;
    if (an && bn) return (a.t == V_FLOAT ? a.f : (double)a.i) == (b.t == V_FLOAT ? b.f : (double)b.i);
    if (a.t != b.t) return (a.t == V_UNDEF || a.t == V_NONE) && (b.t == V_UNDEF || b.t == V_NONE) && a.t == b.t;
    if (a.t == V_STR) return a.n == b.n && !memcmp(a.s, b.s, a.n);
    if (a.t == V_LIST) {
        if (a.l->len != b.l->len) return 0;
        for (int i = 0; i < a.l->len; i++)
            if (!equal(a.l->items[i], b.l->items[i])) return 0;
        return 1;
    }
    if (a.t == V_DICT) return a.d == b.d;
    return 1;  // none == none, undefined == undefined
}

// ---- variables ---------------------------------------------------------------------------------------

static val lookup(J *j, const char *name, size_t n) {
    for (int i = j->nvars - 1; i >= 0; i--)
        if (j->vars[i].n == n && !memcmp(j->vars[i].name, name, n)) return j->vars[i].v;
    return undef();
}

static void assign(J *j, const char *name, size_t n, val v) {
    int base = j->nframes ? j->frames[j->nframes - 1] : 0;
    for (int i = j->nvars - 1; i >= base; i--)
        if (j->vars[i].n == n && !memcmp(j->vars[i].name, name, n)) {
            j->vars[i].v = v;
            return;
        }
    if (j->nvars == j->capvars) {
        int cap = j->capvars ? j->capvars * 2 : 32;
        var *p = realloc(j->vars, (size_t)cap * sizeof *p);
        if (!p) {
            fail(j, 0, "out of memory");
            return;
        }
        j->vars = p;
        j->capvars = cap;
    }
    j->vars[j->nvars++] = (var){name, n, v};
}

// ---- expressions -------------------------------------------------------------------------------------

static tok *cur(J *j) { return &j->toks[j->pos]; }
static int is_op(J *j, const char *op) {
    tok *t = cur(j);
    return t->t == T_OP && t->n == strlen(op) && !memcmp(t->p, op, t->n);
}
static int is_name(J *j, const char *nm) {
    tok *t = cur(j);
    return t->t == T_NAME && t->n == strlen(nm) && !memcmp(t->p, nm, t->n);
}
static int name_eq(const tok *t, const char *nm) { return t->t == T_NAME && t->n == strlen(nm) && !memcmp(t->p, nm, t->n); }

static int expect_op(J *j, const char *op) {
    if (is_op(j, op)) {
        j->pos++;
        return 0;
    }
    tok *t = cur(j);
    if (t->t == T_END) fail(j, t->line, "expected '%s', found the end of the tag", op);
    else fail(j, t->line, "expected '%s', found '%.*s'", op, (int)t->n, t->p ? t->p : "");
    return -1;
}

static val expr(J *j, int ev);
static val or_expr(J *j, int ev);

#define MAX_ARGS 8
typedef struct {
    int n;
    val v[MAX_ARGS];
    const char *kw[MAX_ARGS];  // keyword name or NULL
    size_t kwn[MAX_ARGS];
} args;

static int parse_args(J *j, int ev, args *a) {  // after '(' up to and including ')'
    a->n = 0;
    while (!is_op(j, ")") && !j->failed) {
        if (a->n == MAX_ARGS) return fail(j, cur(j)->line, "too many arguments"), -1;
        a->kw[a->n] = NULL;
        if (cur(j)->t == T_NAME && j->toks[j->pos + 1].t == T_OP && j->toks[j->pos + 1].n == 1 &&
            j->toks[j->pos + 1].p[0] == '=') {
            a->kw[a->n] = cur(j)->p;
            a->kwn[a->n] = cur(j)->n;
            j->pos += 2;
        }
        a->v[a->n++] = expr(j, ev);
        if (!is_op(j, ",")) break;
        j->pos++;
    }
    return expect_op(j, ")");
}

static val arg(const args *a, int i, const char *kw) {
    for (int k = 0; k < a->n; k++)
        if (a->kw[k] && kw && a->kwn[k] == strlen(kw) && !memcmp(a->kw[k], kw, a->kwn[k])) return a->v[k];
    int p = 0;
    for (int k = 0; k < a->n; k++)
        if (!a->kw[k] && p++ == i) return a->v[k];
    return undef();
}

static int is_space_c(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// Python's str.strip family: which 1 left, 2 right, 3 both; chars: the set (undefined/none: white space).
static val strip(J *j, val s, val chars, int which) {
    size_t a = 0, z = s.n;
    int ws = chars.t != V_STR;
    while ((which & 1) && a < z && (ws ? is_space_c(s.s[a]) : memchr(chars.s, s.s[a], chars.n) != NULL)) a++;
    while ((which & 2) && z > a && (ws ? is_space_c(s.s[z - 1]) : memchr(chars.s, s.s[z - 1], chars.n) != NULL)) z--;
    (void)j;
    return (val){.t = V_STR, .s = s.s + a, .n = z - a};
}

static val str_case(J *j, val s, int mode) {  // 0 upper, 1 lower, 2 title, 3 capitalize (ASCII letters)
    val r = mkstr(j, s.s, s.n);
    if (r.t != V_STR) return r;
    char *p = (char *)r.s;
    int start = 1;
    for (size_t i = 0; i < r.n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (mode == 0) p[i] = (char)toupper(c);
        else if (mode == 1) p[i] = (char)tolower(c);
        else if (mode == 2) p[i] = (char)(start ? toupper(c) : tolower(c));
        else p[i] = (char)(i == 0 ? toupper(c) : tolower(c));
        start = !isalpha(c);
    }
    return r;
}

static val replace(J *j, val s, val a, val b) {
    if (s.t != V_STR || a.t != V_STR || b.t != V_STR) return fail(j, 0, "replace: expected strings");
    sb o = {0};
    sb_put(&o, "", 0);
    for (size_t i = 0; i < s.n;) {
        if (a.n && i + a.n <= s.n && !memcmp(s.s + i, a.s, a.n)) {
            sb_put(&o, b.s, b.n);
            i += a.n;
        } else {
            sb_put(&o, s.s + i, 1);
            i++;
        }
    }
    val r = o.p ? mkstr(j, o.p, o.n) : fail(j, 0, "out of memory");
    free(o.p);
    return r;
}

static val split(J *j, val s, val sep, val maxsplit) {
    int limit = maxsplit.t == V_INT && maxsplit.i >= 0 ? (int)maxsplit.i : -1;
    val parts[4096];
    int n = 0;
    size_t i = 0;
    if (sep.t != V_STR) {  // runs of white space, no empty parts
        while (n < 4096) {
            while (i < s.n && is_space_c(s.s[i])) i++;
            if (i >= s.n) break;
            size_t b = i;
            if (limit >= 0 && n == limit) {
                size_t e = s.n;
                while (e > b && is_space_c(s.s[e - 1])) e--;
                parts[n++] = (val){.t = V_STR, .s = s.s + b, .n = e - b};
                break;
            }
            while (i < s.n && !is_space_c(s.s[i])) i++;
            parts[n++] = (val){.t = V_STR, .s = s.s + b, .n = i - b};
        }
    } else {
        if (!sep.n) return fail(j, 0, "split: empty separator");
        size_t b = 0;
        while (n < 4095) {
            const char *hit = NULL;
            if (limit < 0 || n < limit)
                for (size_t k = b; k + sep.n <= s.n; k++)
                    if (!memcmp(s.s + k, sep.s, sep.n)) {
                        hit = s.s + k;
                        break;
                    }
            if (!hit) break;
            parts[n++] = (val){.t = V_STR, .s = s.s + b, .n = (size_t)(hit - s.s) - b};
            b = (size_t)(hit - s.s) + sep.n;
        }
        parts[n++] = (val){.t = V_STR, .s = s.s + b, .n = s.n - b};
    }
    val l = mklist(j, n);
    if (l.t == V_LIST) memcpy(l.l->items, parts, (size_t)n * sizeof *parts);
    return l;
}

static size_t utf8_chars(val s) {
    size_t n = 0;
    for (size_t i = 0; i < s.n; i++) n += ((unsigned char)s.s[i] & 0xc0) != 0x80;
    return n;
}

static val items_of(J *j, val d) {
    val l = mklist(j, d.d->len);
    for (int i = 0; l.t == V_LIST && i < d.d->len; i++) {
        val p = mklist(j, 2);
        if (p.t != V_LIST) return p;
        p.l->items[0] = (val){.t = V_STR, .s = d.d->keys[i], .n = d.d->klen[i]};
        p.l->items[1] = d.d->vals[i];
        l.l->items[i] = p;
    }
    return l;
}

// A sequence to iterate: a list, a dict's keys, a string's characters (bytes); undefined/none: empty.
static val as_list(J *j, val v, int line) {
    if (v.t == V_LIST) return v;
    if (v.t == V_UNDEF || v.t == V_NONE) return mklist(j, 0);
    if (v.t == V_DICT) {
        val l = mklist(j, v.d->len);
        for (int i = 0; l.t == V_LIST && i < v.d->len; i++) l.l->items[i] = (val){.t = V_STR, .s = v.d->keys[i], .n = v.d->klen[i]};
        return l;
    }
    if (v.t == V_STR) {
        val l = mklist(j, (int)v.n);
        for (size_t i = 0; l.t == V_LIST && i < v.n; i++) l.l->items[i] = (val){.t = V_STR, .s = v.s + i, .n = 1};
        return l;
    }
    return fail(j, line, "the value is not iterable");
}

static int run_test(J *j, val v, const tok *name, val targ, int line) {
    if (name_eq(name, "defined")) return v.t != V_UNDEF;
    if (name_eq(name, "undefined")) return v.t == V_UNDEF;
    if (name_eq(name, "none")) return v.t == V_NONE;
    if (name_eq(name, "string")) return v.t == V_STR;
    if (name_eq(name, "number")) return v.t == V_INT || v.t == V_FLOAT;
    if (name_eq(name, "integer")) return v.t == V_INT;
    if (name_eq(name, "float")) return v.t == V_FLOAT;
    if (name_eq(name, "boolean")) return v.t == V_BOOL;
    if (name_eq(name, "mapping")) return v.t == V_DICT;
    if (name_eq(name, "sequence")) return v.t == V_LIST || v.t == V_STR || v.t == V_DICT;
    if (name_eq(name, "iterable")) return v.t == V_LIST || v.t == V_STR || v.t == V_DICT;
    if (name_eq(name, "true")) return v.t == V_BOOL && v.i;
    if (name_eq(name, "false")) return v.t == V_BOOL && !v.i;
    if (name_eq(name, "even")) return v.t == V_INT && v.i % 2 == 0;
    if (name_eq(name, "odd")) return v.t == V_INT && v.i % 2 != 0;
    if (name_eq(name, "equalto") || name_eq(name, "eq") || name_eq(name, "sameas")) return equal(v, targ);
    fail(j, line, "unknown test \"%.*s\"", (int)name->n, name->p);
    return 0;
}

static val slice(J *j, val v, val a, val b, val c, int line) {
    long long n = v.t == V_LIST ? v.l->len : (long long)v.n, step = c.t == V_INT ? c.i : 1;
    if (v.t != V_LIST && v.t != V_STR) return fail(j, line, "only lists and strings can be sliced");
    if (step == 0) return fail(j, line, "slice step cannot be zero");
    long long lo, hi;
    if (step > 0) {
        lo = a.t == V_INT ? (a.i < 0 ? a.i + n : a.i) : 0;
        hi = b.t == V_INT ? (b.i < 0 ? b.i + n : b.i) : n;
        lo = lo < 0 ? 0 : lo > n ? n : lo;
        hi = hi < 0 ? 0 : hi > n ? n : hi;
    } else {
        lo = a.t == V_INT ? (a.i < 0 ? a.i + n : a.i) : n - 1;
        hi = b.t == V_INT ? (b.i < 0 ? b.i + n : b.i) : -1;
        lo = lo < -1 ? -1 : lo > n - 1 ? n - 1 : lo;
        hi = hi < -1 ? -1 : hi > n - 1 ? n - 1 : hi;
    }
    long long cnt = 0;
    for (long long i = lo; step > 0 ? i < hi : i > hi; i += step) cnt++;
    if (v.t == V_STR) {
        char *o = aalloc(&j->a, (size_t)cnt + 1);
        if (!o) return fail(j, line, "out of memory");
        long long k = 0;
        for (long long i = lo; step > 0 ? i < hi : i > hi; i += step) o[k++] = v.s[i];
        return (val){.t = V_STR, .s = o, .n = (size_t)cnt};
    }
    val l = mklist(j, (int)cnt);
    long long k = 0;
    for (long long i = lo; l.t == V_LIST && (step > 0 ? i < hi : i > hi); i += step) l.l->items[k++] = v.l->items[i];
    return l;
}

static val subscript(J *j, val v, val k, int line) {
    if (v.t == V_DICT) return k.t == V_STR ? dict_get(v.d, k.s, k.n) : undef();
    if ((v.t == V_LIST || v.t == V_STR) && k.t == V_INT) {
        long long n = v.t == V_LIST ? v.l->len : (long long)v.n, i = k.i < 0 ? k.i + n : k.i;
        if (i < 0 || i >= n) return fail(j, line, "index %lld out of range", k.i);
        return v.t == V_LIST ? v.l->items[i] : (val){.t = V_STR, .s = v.s + i, .n = 1};
    }
    return undef();
}

static val call_method(J *j, val obj, const tok *m, const args *a, int line) {
    if (obj.t == V_STR) {
        if (name_eq(m, "strip")) return strip(j, obj, arg(a, 0, NULL), 3);
        if (name_eq(m, "lstrip")) return strip(j, obj, arg(a, 0, NULL), 1);
        if (name_eq(m, "rstrip")) return strip(j, obj, arg(a, 0, NULL), 2);
        if (name_eq(m, "upper")) return str_case(j, obj, 0);
        if (name_eq(m, "lower")) return str_case(j, obj, 1);
        if (name_eq(m, "title")) return str_case(j, obj, 2);
        if (name_eq(m, "capitalize")) return str_case(j, obj, 3);
        if (name_eq(m, "startswith") || name_eq(m, "endswith")) {
            val x = arg(a, 0, NULL);
            if (x.t != V_STR) return fail(j, line, "%.*s: expected a string", (int)m->n, m->p);
            if (x.n > obj.n) return mkbool(0);
            return mkbool(!memcmp(name_eq(m, "startswith") ? obj.s : obj.s + obj.n - x.n, x.s, x.n));
        }
        if (name_eq(m, "split")) return split(j, obj, arg(a, 0, "sep"), arg(a, 1, "maxsplit"));
        if (name_eq(m, "replace")) return replace(j, obj, arg(a, 0, NULL), arg(a, 1, NULL));
    } else if (obj.t == V_DICT) {
        if (name_eq(m, "items")) return items_of(j, obj);
        if (name_eq(m, "keys")) return as_list(j, obj, line);
        if (name_eq(m, "values")) {
            val l = mklist(j, obj.d->len);
            for (int i = 0; l.t == V_LIST && i < obj.d->len; i++) l.l->items[i] = obj.d->vals[i];
            return l;
        }
        if (name_eq(m, "get")) {
            val k = arg(a, 0, NULL), v = k.t == V_STR ? dict_get(obj.d, k.s, k.n) : undef();
            if (v.t == V_UNDEF) return a->n > 1 ? arg(a, 1, NULL) : (val){.t = V_NONE};
            return v;
        }
    }
    return fail(j, line, "unknown method \"%.*s\"", (int)m->n, m->p);
}

static val call_function(J *j, const tok *f, const args *a, int line) {
    if (name_eq(f, "raise_exception")) {
        val m = to_str(j, arg(a, 0, NULL), 0);
        return fail(j, line, "raise_exception: %.*s", (int)m.n, m.s ? m.s : "");
    }
    if (name_eq(f, "namespace")) {
        val d = mkdict(j);
        if (d.t != V_DICT) return d;
        d.d->ns = 1;
        for (int i = 0; i < a->n; i++)
            if (a->kw[i]) dict_set(j, d.d, a->kw[i], a->kwn[i], a->v[i]);
        return d;
    }
    if (name_eq(f, "range")) {
        long long lo = 0, hi, st = 1;
        val x = arg(a, 0, NULL), y = arg(a, 1, NULL), z = arg(a, 2, NULL);
        if (x.t != V_INT) return fail(j, line, "range: expected integers");
        if (y.t == V_INT) lo = x.i, hi = y.i;
        else hi = x.i;
        if (z.t == V_INT) st = z.i;
        if (st == 0) return fail(j, line, "range: step cannot be zero");
        long long n = st > 0 ? (hi - lo + st - 1) / st : (lo - hi - st - 1) / -st;
        if (n < 0) n = 0;
        if (n > 100000) return fail(j, line, "range: more than 100000 values");
        val l = mklist(j, (int)n);
        for (long long i = 0; l.t == V_LIST && i < n; i++) l.l->items[i] = mkint(lo + i * st);
        return l;
    }
    if (name_eq(f, "strftime_now")) {
        val fmt = arg(a, 0, NULL);
        char pat[128], buf[256];
        if (fmt.t != V_STR || fmt.n >= sizeof pat) return fail(j, line, "strftime_now: expected a format string");
        memcpy(pat, fmt.s, fmt.n);
        pat[fmt.n] = '\0';
        time_t now = time(NULL);
        struct tm tmv;
        localtime_r(&now, &tmv);
        size_t n = strftime(buf, sizeof buf, pat, &tmv);
        return mkstr(j, buf, n);
    }
    return fail(j, line, "unknown function \"%.*s\"", (int)f->n, f->p);
}

static val apply_filter(J *j, val v, const tok *f, const args *a, int line) {
    if (name_eq(f, "trim")) return v.t == V_STR ? strip(j, v, arg(a, 0, NULL), 3) : strip(j, to_str(j, v, 0), undef(), 3);
    if (name_eq(f, "length") || name_eq(f, "count")) {
        if (v.t == V_STR) return mkint((long long)utf8_chars(v));
        if (v.t == V_LIST) return mkint(v.l->len);
        if (v.t == V_DICT) return mkint(v.d->len);
        if (v.t == V_UNDEF) return mkint(0);
        return fail(j, line, "length: the value has no length");
    }
    if (name_eq(f, "upper") || name_eq(f, "lower") || name_eq(f, "title") || name_eq(f, "capitalize")) {
        val s = to_str(j, v, 0);
        return str_case(j, s, name_eq(f, "upper") ? 0 : name_eq(f, "lower") ? 1 : name_eq(f, "title") ? 2 : 3);
    }
    if (name_eq(f, "default") || name_eq(f, "d")) {
        int boolean = truthy(arg(a, 1, "boolean"));
        if (v.t == V_UNDEF || (boolean && !truthy(v))) return a->n ? arg(a, 0, "default_value") : mkstr(j, "", 0);
        return v;
    }
    if (name_eq(f, "first") || name_eq(f, "last")) {
        val l = as_list(j, v, line);
        if (l.t != V_LIST || !l.l->len) return undef();
        return l.l->items[name_eq(f, "first") ? 0 : l.l->len - 1];
    }
    if (name_eq(f, "join")) {
        val l = as_list(j, v, line), sep = arg(a, 0, "d");
        sb b = {0};
        sb_put(&b, "", 0);
        for (int i = 0; l.t == V_LIST && i < l.l->len; i++) {
            if (i && sep.t == V_STR) sb_put(&b, sep.s, sep.n);
            val s = to_str(j, l.l->items[i], 0);
            if (s.t == V_STR) sb_put(&b, s.s, s.n);
        }
        val r = b.p ? mkstr(j, b.p, b.n) : fail(j, line, "out of memory");
        free(b.p);
        return r;
    }
    if (name_eq(f, "string")) return to_str(j, v, 0);
    if (name_eq(f, "list")) return as_list(j, v, line);
    if (name_eq(f, "items")) return v.t == V_DICT ? items_of(j, v) : fail(j, line, "items: not a mapping");
    if (name_eq(f, "tojson")) {
        if (a->n) return fail(j, line, "tojson: arguments (indent, ...) are not supported");
        return to_str(j, v, 1);
    }
    if (name_eq(f, "int")) {
        if (v.t == V_INT || v.t == V_BOOL) return mkint(v.i);
        if (v.t == V_FLOAT) return mkint((long long)v.f);
        if (v.t == V_STR) {
            char buf[64];
            size_t n = v.n < 63 ? v.n : 63;
            memcpy(buf, v.s, n);
            buf[n] = '\0';
            return mkint(strtoll(buf, NULL, 10));
        }
        return mkint(0);
    }
    if (name_eq(f, "replace")) return replace(j, to_str(j, v, 0), arg(a, 0, NULL), arg(a, 1, NULL));
    if (name_eq(f, "safe") || name_eq(f, "e") || name_eq(f, "escape")) {
        if (!name_eq(f, "safe")) return fail(j, line, "filter \"%.*s\" is not supported", (int)f->n, f->p);
        return v;
    }
    if (name_eq(f, "reverse")) {
        if (v.t == V_STR) return slice(j, v, undef(), undef(), mkint(-1), line);
        val l = as_list(j, v, line);
        return l.t == V_LIST ? slice(j, l, undef(), undef(), mkint(-1), line) : l;
    }
    if (name_eq(f, "selectattr") || name_eq(f, "rejectattr")) {
        val l = as_list(j, v, line), at = arg(a, 0, NULL), test = arg(a, 1, NULL), targ = arg(a, 2, NULL);
        if (l.t != V_LIST || at.t != V_STR) return fail(j, line, "%.*s: expected an attribute name", (int)f->n, f->p);
        val o = mklist(j, l.l->len);
        if (o.t != V_LIST) return o;
        int k = 0, select = name_eq(f, "selectattr");
        for (int i = 0; i < l.l->len; i++) {
            val x = l.l->items[i], y = x.t == V_DICT ? dict_get(x.d, at.s, at.n) : undef();
            int pass;
            if (test.t == V_STR) {
                tok tn = {.t = T_NAME, .p = test.s, .n = test.n};
                pass = run_test(j, y, &tn, targ, line);
            } else {
                pass = truthy(y);
            }
            if (pass == select) o.l->items[k++] = x;
        }
        o.l->len = k;
        return o;
    }
    if (name_eq(f, "map")) {
        val l = as_list(j, v, line), at = arg(a, -1, "attribute");
        if (at.t != V_STR) return fail(j, line, "map: only map(attribute=NAME) is supported");
        val o = mklist(j, l.t == V_LIST ? l.l->len : 0);
        for (int i = 0; o.t == V_LIST && i < o.l->len; i++) {
            val x = l.l->items[i];
            o.l->items[i] = x.t == V_DICT ? dict_get(x.d, at.s, at.n) : undef();
        }
        return o;
    }
    return fail(j, line, "unknown filter \"%.*s\"", (int)f->n, f->p);
}

static val primary(J *j, int ev) {
    tok *t = cur(j);
    int line = t->line;
    if (t->t == T_STR) {
        val s = {.t = V_STR, .s = t->p, .n = t->n};
        j->pos++;
        while (cur(j)->t == T_STR) {  // adjacent literals concatenate
            sb b = {0};
            sb_put(&b, s.s, s.n);
            sb_put(&b, cur(j)->p, cur(j)->n);
            s = b.p ? mkstr(j, b.p, b.n) : fail(j, line, "out of memory");
            free(b.p);
            j->pos++;
        }
        return s;
    }
    if (t->t == T_INT) {
        j->pos++;
        return mkint(t->i);
    }
    if (t->t == T_FLOAT) {
        j->pos++;
        return (val){.t = V_FLOAT, .f = t->f};
    }
    if (t->t == T_NAME) {
        j->pos++;
        if (name_eq(t, "true") || name_eq(t, "True")) return mkbool(1);
        if (name_eq(t, "false") || name_eq(t, "False")) return mkbool(0);
        if (name_eq(t, "none") || name_eq(t, "None")) return (val){.t = V_NONE};
        if (is_op(j, "(")) {
            j->pos++;
            args a;
            if (parse_args(j, ev, &a)) return undef();
            return ev ? call_function(j, t, &a, line) : undef();
        }
        return ev ? lookup(j, t->p, t->n) : undef();
    }
    if (is_op(j, "(")) {
        j->pos++;
        val v = expr(j, ev);
        expect_op(j, ")");
        return v;
    }
    if (is_op(j, "[")) {
        j->pos++;
        val items[256];
        int n = 0;
        while (!is_op(j, "]") && !j->failed) {
            if (n == 256) return fail(j, line, "a list literal with more than 256 items");
            items[n++] = expr(j, ev);
            if (!is_op(j, ",")) break;
            j->pos++;
        }
        if (expect_op(j, "]")) return undef();
        val l = mklist(j, n);
        if (l.t == V_LIST) memcpy(l.l->items, items, (size_t)n * sizeof *items);
        return l;
    }
    if (is_op(j, "{")) {
        j->pos++;
        val d = mkdict(j);
        while (!is_op(j, "}") && !j->failed) {
            val k = expr(j, ev);
            if (expect_op(j, ":")) return undef();
            val v = expr(j, ev);
            if (ev && k.t != V_STR) return fail(j, line, "dict keys must be strings");
            if (ev && d.t == V_DICT) dict_set(j, d.d, k.s, k.n, v);
            if (!is_op(j, ",")) break;
            j->pos++;
        }
        expect_op(j, "}");
        return d;
    }
    if (t->t == T_END) return fail(j, line, "an expression is missing");
    return fail(j, line, "unexpected '%.*s'", (int)t->n, t->p);
}

static val postfix(J *j, int ev) {
    val v = primary(j, ev);
    for (;;) {
        if (j->failed) return undef();
        int line = cur(j)->line;
        if (is_op(j, ".")) {
            j->pos++;
            tok *m = cur(j);
            if (m->t != T_NAME) return fail(j, line, "expected a name after '.'");
            j->pos++;
            if (is_op(j, "(")) {
                j->pos++;
                args a;
                if (parse_args(j, ev, &a)) return undef();
                v = ev ? call_method(j, v, m, &a, line) : undef();
            } else {
                v = ev && v.t == V_DICT ? dict_get(v.d, m->p, m->n) : undef();
            }
        } else if (is_op(j, "[")) {
            j->pos++;
            val a = undef(), b = undef(), c = undef();
            int is_slice = 0;
            if (!is_op(j, ":")) a = expr(j, ev);
            if (is_op(j, ":")) {
                is_slice = 1;
                j->pos++;
                if (!is_op(j, "]") && !is_op(j, ":")) b = expr(j, ev);
                if (is_op(j, ":")) {
                    j->pos++;
                    if (!is_op(j, "]")) c = expr(j, ev);
                }
            }
            if (expect_op(j, "]")) return undef();
            if (ev) v = is_slice ? slice(j, v, a, b, c, line) : subscript(j, v, a, line);
        } else if (is_op(j, "|")) {
            j->pos++;
            tok *f = cur(j);
            if (f->t != T_NAME) return fail(j, line, "expected a filter name after '|'");
            j->pos++;
            args a = {0};
            if (is_op(j, "(")) {
                j->pos++;
                if (parse_args(j, ev, &a)) return undef();
            }
            if (ev) v = apply_filter(j, v, f, &a, line);
        } else if (is_name(j, "is")) {
            j->pos++;
            int neg = 0;
            if (is_name(j, "not")) {
                neg = 1;
                j->pos++;
            }
            tok *tn = cur(j);
            if (tn->t != T_NAME) return fail(j, line, "expected a test name after 'is'");
            j->pos++;
            val targ = undef();
            if (name_eq(tn, "equalto") || name_eq(tn, "eq") || name_eq(tn, "sameas")) {
                if (is_op(j, "(")) {
                    j->pos++;
                    args a;
                    if (parse_args(j, ev, &a)) return undef();
                    targ = arg(&a, 0, NULL);
                } else {
                    targ = primary(j, ev);
                }
            }
            if (ev) v = mkbool(run_test(j, v, tn, targ, line) != neg);
        } else {
            return v;
        }
    }
}

static val unary(J *j, int ev) {
    if (is_op(j, "-") || is_op(j, "+")) {
        int neg = is_op(j, "-"), line = cur(j)->line;
        j->pos++;
        if (++j->depth > 200) return fail(j, line, "expressions nested too deeply");
        val v = unary(j, ev);
        j->depth--;
        if (!ev) return v;
        if (v.t == V_INT || v.t == V_BOOL) return mkint(neg ? -v.i : v.i);
        if (v.t == V_FLOAT) return (val){.t = V_FLOAT, .f = neg ? -v.f : v.f};
        return fail(j, line, "unary %c on a value that is not a number", neg ? '-' : '+');
    }
    return postfix(j, ev);
}

static int num(val v, double *d, int *is_int) {
    if (v.t == V_INT || v.t == V_BOOL) {
        *d = (double)v.i;
        return 1;
    }
    if (v.t == V_FLOAT) {
        *d = v.f;
        *is_int = 0;
        return 1;
    }
    return 0;
}

static val arith(J *j, val a, val b, const char *op, int line) {
    if (!strcmp(op, "+") && a.t == V_STR && b.t == V_STR) {
        char *o = aalloc(&j->a, a.n + b.n + 1);
        if (!o) return fail(j, line, "out of memory");
        memcpy(o, a.s, a.n);
        memcpy(o + a.n, b.s, b.n);
        return (val){.t = V_STR, .s = o, .n = a.n + b.n};
    }
    if (!strcmp(op, "+") && a.t == V_LIST && b.t == V_LIST) {
        val l = mklist(j, a.l->len + b.l->len);
        if (l.t != V_LIST) return l;
        memcpy(l.l->items, a.l->items, (size_t)a.l->len * sizeof(val));
        memcpy(l.l->items + a.l->len, b.l->items, (size_t)b.l->len * sizeof(val));
        return l;
    }
    if (!strcmp(op, "*") && a.t == V_STR && (b.t == V_INT)) {
        long long k = b.i < 0 ? 0 : b.i;
        if ((double)k * (double)a.n > 1e7) return fail(j, line, "string repetition too large");
        char *o = aalloc(&j->a, (size_t)k * a.n + 1);
        if (!o) return fail(j, line, "out of memory");
        for (long long i = 0; i < k; i++) memcpy(o + (size_t)i * a.n, a.s, a.n);
        return (val){.t = V_STR, .s = o, .n = (size_t)k * a.n};
    }
    double x, y;
    int ints = 1;
    if (!num(a, &x, &ints) || !num(b, &y, &ints))
        return fail(j, line, "'%s' needs two numbers (or strings / lists for '+')", op);
    if (!strcmp(op, "/")) {
        if (y == 0) return fail(j, line, "division by zero");
        return (val){.t = V_FLOAT, .f = x / y};
    }
    if (ints) {
        long long p = (long long)x, q = (long long)y;
        if (!strcmp(op, "+")) return mkint(p + q);
        if (!strcmp(op, "-")) return mkint(p - q);
        if (!strcmp(op, "*")) return mkint(p * q);
        if (q == 0) return fail(j, line, "division by zero");
        long long r = p % q, d = p / q;
        if (r != 0 && ((r < 0) != (q < 0))) r += q, d--;  // Python's floor division and modulo
        return mkint(!strcmp(op, "%") ? r : d);
    }
    if (!strcmp(op, "+")) return (val){.t = V_FLOAT, .f = x + y};
    if (!strcmp(op, "-")) return (val){.t = V_FLOAT, .f = x - y};
    if (!strcmp(op, "*")) return (val){.t = V_FLOAT, .f = x * y};
    return fail(j, line, "'%s' on floats is not supported", op);
}

static val math2(J *j, int ev) {  // * / // %
    val v = unary(j, ev);
    while (!j->failed && (is_op(j, "*") || is_op(j, "/") || is_op(j, "//") || is_op(j, "%"))) {
        char op[3] = {0};
        memcpy(op, cur(j)->p, cur(j)->n);
        int line = cur(j)->line;
        j->pos++;
        val w = unary(j, ev);
        if (ev) v = arith(j, v, w, op, line);
    }
    return v;
}

static val concat(J *j, int ev) {  // ~
    val v = math2(j, ev);
    while (!j->failed && is_op(j, "~")) {
        j->pos++;
        val w = math2(j, ev);
        if (!ev) continue;
        val a = to_str(j, v, 0), b = to_str(j, w, 0);
        v = arith(j, a, b, "+", cur(j)->line);
    }
    return v;
}

static val math1(J *j, int ev) {  // + -
    val v = concat(j, ev);
    while (!j->failed && (is_op(j, "+") || is_op(j, "-"))) {
        const char *op = is_op(j, "+") ? "+" : "-";
        int line = cur(j)->line;
        j->pos++;
        val w = concat(j, ev);
        if (ev) v = arith(j, v, w, op, line);
    }
    return v;
}

static int contains(val hay, val x) {
    if (hay.t == V_STR && x.t == V_STR) {
        if (!x.n) return 1;
        for (size_t i = 0; i + x.n <= hay.n; i++)
            if (!memcmp(hay.s + i, x.s, x.n)) return 1;
        return 0;
    }
    if (hay.t == V_LIST) {
        for (int i = 0; i < hay.l->len; i++)
            if (equal(hay.l->items[i], x)) return 1;
        return 0;
    }
    if (hay.t == V_DICT) return x.t == V_STR && dict_get(hay.d, x.s, x.n).t != V_UNDEF;
    return 0;
}

static int compare(J *j, val a, val b, const char *op, int line) {
    if (!strcmp(op, "==")) return equal(a, b);
    if (!strcmp(op, "!=")) return !equal(a, b);
    int c;
    double x, y;
    int ints = 1;
    if (a.t == V_STR && b.t == V_STR) {
        size_t n = a.n < b.n ? a.n : b.n;
        c = memcmp(a.s, b.s, n);
        if (!c) c = a.n < b.n ? -1 : a.n > b.n;
    } else if (num(a, &x, &ints) && num(b, &y, &ints)) {
        c = x < y ? -1 : x > y;
    } else {
        fail(j, line, "'%s' cannot compare these values", op);
        return 0;
    }
    if (!strcmp(op, "<")) return c < 0;
    if (!strcmp(op, ">")) return c > 0;
    if (!strcmp(op, "<=")) return c <= 0;
    return c >= 0;
}

static val cmp_expr(J *j, int ev) {
    val v = math1(j, ev);
    int result = 1, chained = 0;
    while (!j->failed) {
        int line = cur(j)->line;
        char op[3] = {0};
        int in = 0, notin = 0;
        if (is_op(j, "==") || is_op(j, "!=") || is_op(j, "<") || is_op(j, ">") || is_op(j, "<=") || is_op(j, ">=")) {
            memcpy(op, cur(j)->p, cur(j)->n);
            j->pos++;
        } else if (is_name(j, "in")) {
            in = 1;
            j->pos++;
        } else if (is_name(j, "not") && name_eq(&j->toks[j->pos + 1], "in")) {
            notin = 1;
            j->pos += 2;
        } else {
            break;
        }
        val w = math1(j, ev);
        if (ev) result = result && (in ? contains(w, v) : notin ? !contains(w, v) : compare(j, v, w, op, line));
        chained = 1;
        v = w;
    }
    return chained ? mkbool(result) : v;
}

static val not_expr(J *j, int ev) {
    if (is_name(j, "not")) {
        j->pos++;
        if (++j->depth > 200) return fail(j, cur(j)->line, "expressions nested too deeply");
        val v = not_expr(j, ev);
        j->depth--;
        return mkbool(!truthy(v));
    }
    return cmp_expr(j, ev);
}

static val and_expr(J *j, int ev) {
    val v = not_expr(j, ev);
    while (!j->failed && is_name(j, "and")) {
        j->pos++;
        int go = ev && truthy(v);
        val w = not_expr(j, go);
        if (ev) v = truthy(v) ? w : v;
    }
    return v;
}

static val or_expr(J *j, int ev) {
    val v = and_expr(j, ev);
    while (!j->failed && is_name(j, "or")) {
        j->pos++;
        int go = ev && !truthy(v);
        val w = and_expr(j, go);
        if (ev) v = truthy(v) ? v : w;
    }
    return v;
}

static val cond_expr(J *j, int ev);

static val expr(J *j, int ev) {
    if (++j->steps > 50000000) return fail(j, cur(j)->line, "the template runs too long");
    if (++j->depth > 200) return fail(j, cur(j)->line, "expressions nested too deeply");
    val v = cond_expr(j, ev);
    j->depth--;
    return v;
}

static val cond_expr(J *j, int ev) {  // x if c else y
    val v = or_expr(j, ev);
    if (!j->failed && is_name(j, "if")) {
        j->pos++;
        val c = or_expr(j, ev);
        val w = undef();
        int has_else = 0;
        if (is_name(j, "else")) {
            j->pos++;
            has_else = 1;
        }
        int take = ev && truthy(c);
        if (has_else) w = expr(j, ev && !take);
        if (ev) v = take ? v : w;
    }
    return v;
}

// ---- statements --------------------------------------------------------------------------------------

static const tok *kw(J *j, int i) { return j->segs[i].kind == 2 ? &j->toks[j->segs[i].tok0] : NULL; }

static int kw_in(const tok *t, const char *list) {  // list: " a b c "
    if (!t || t->t != T_NAME) return 0;
    char w[40];
    if (t->n + 3 > sizeof w) return 0;
    snprintf(w, sizeof w, " %.*s ", (int)t->n, t->p);
    return strstr(list, w) != NULL;
}

// The index of the next statement among stops at this nesting level (j->nseg when none).
static int skip(J *j, int i, const char *stops) {
    int depth = 0;
    for (; i < j->nseg; i++) {
        const tok *t = kw(j, i);
        if (!t) continue;
        if (depth == 0 && kw_in(t, stops)) return i;
        if (kw_in(t, " for if macro call filter ")) depth++;
        else if (kw_in(t, " endfor endif endmacro endcall endfilter ")) depth--;
    }
    return i;
}

static int end_of_stmt(J *j) {
    if (cur(j)->t == T_END) return 0;
    fail(j, cur(j)->line, "unexpected '%.*s' at the end of a statement", (int)cur(j)->n, cur(j)->p ? cur(j)->p : "");
    return -1;
}

static int run(J *j, int i, const char *stops);

static int run_if(J *j, int i) {
    int taken = 0, line = j->segs[i].line;
    for (;;) {
        const tok *t = kw(j, i);
        int cond = 0;
        if (name_eq(t, "else")) {
            cond = !taken;
        } else {
            j->pos = j->segs[i].tok0 + 1;
            val c = expr(j, !taken);
            if (end_of_stmt(j)) return j->nseg;
            cond = !taken && truthy(c);
        }
        int e;
        if (cond) {
            taken = 1;
            e = run(j, i + 1, " elif else endif ");
        } else {
            e = skip(j, i + 1, " elif else endif ");
        }
        if (j->failed) return j->nseg;
        if (e >= j->nseg) return fail(j, line, "an if without endif"), j->nseg;
        if (name_eq(kw(j, e), "endif")) return e;
        i = e;
    }
}

static int run_for(J *j, int i) {
    int line = j->segs[i].line;
    j->pos = j->segs[i].tok0 + 1;
    const tok *names[2] = {cur(j), NULL};
    if (names[0]->t != T_NAME) return fail(j, line, "for: expected a loop variable"), j->nseg;
    j->pos++;
    if (is_op(j, ",")) {
        j->pos++;
        names[1] = cur(j);
        if (names[1]->t != T_NAME) return fail(j, line, "for: expected a second loop variable"), j->nseg;
        j->pos++;
    }
    if (!is_name(j, "in")) return fail(j, line, "for: expected 'in'"), j->nseg;
    j->pos++;
    val it = as_list(j, or_expr(j, 1), line);
    int filter_at = -1;
    if (is_name(j, "if")) {
        j->pos++;
        filter_at = j->pos;
        or_expr(j, 0);
    }
    if (is_name(j, "recursive")) return fail(j, line, "for ... recursive is not supported"), j->nseg;
    if (end_of_stmt(j) || j->failed) return j->nseg;
    int body = i + 1, e = skip(j, body, " else endfor ");
    if (e >= j->nseg) return fail(j, line, "a for without endfor"), j->nseg;
    int end = name_eq(kw(j, e), "else") ? skip(j, e + 1, " endfor ") : e;
    if (end >= j->nseg) return fail(j, line, "a for without endfor"), j->nseg;
    if (j->nframes == (int)(sizeof j->frames / sizeof j->frames[0])) return fail(j, line, "loops nested too deeply"), j->nseg;
    j->frames[j->nframes++] = j->nvars;
    // bind the loop variable(s) of item x
#define BIND(x)                                                                                   \
    do {                                                                                          \
        if (names[1]) {                                                                           \
            val p_ = (x);                                                                         \
            assign(j, names[0]->p, names[0]->n, p_.t == V_LIST && p_.l->len > 0 ? p_.l->items[0] : undef()); \
            assign(j, names[1]->p, names[1]->n, p_.t == V_LIST && p_.l->len > 1 ? p_.l->items[1] : undef()); \
        } else {                                                                                  \
            assign(j, names[0]->p, names[0]->n, (x));                                             \
        }                                                                                         \
    } while (0)
    val items = it;
    if (filter_at >= 0 && it.t == V_LIST) {  // the filter first: loop.index counts what passes
        items = mklist(j, it.l->len);
        int k = 0;
        for (int n = 0; items.t == V_LIST && n < it.l->len && !j->failed; n++) {
            BIND(it.l->items[n]);
            j->pos = filter_at;
            if (truthy(expr(j, 1))) items.l->items[k++] = it.l->items[n];
        }
        if (items.t == V_LIST) items.l->len = k;
    }
    int count = items.t == V_LIST ? items.l->len : 0;
    for (int n = 0; n < count && !j->failed; n++) {
        val x = items.l->items[n];
        BIND(x);
        val loop = mkdict(j);
        if (loop.t != V_DICT) break;
        dict_set(j, loop.d, "index0", 6, mkint(n));
        dict_set(j, loop.d, "index", 5, mkint(n + 1));
        dict_set(j, loop.d, "revindex0", 9, mkint(count - 1 - n));
        dict_set(j, loop.d, "revindex", 8, mkint(count - n));
        dict_set(j, loop.d, "first", 5, mkbool(n == 0));
        dict_set(j, loop.d, "last", 4, mkbool(n == count - 1));
        dict_set(j, loop.d, "length", 6, mkint(count));
        dict_set(j, loop.d, "previtem", 8, n > 0 ? items.l->items[n - 1] : undef());
        dict_set(j, loop.d, "nextitem", 8, n + 1 < count ? items.l->items[n + 1] : undef());
        assign(j, "loop", 4, loop);
        run(j, body, " else endfor ");
        j->cont = 0;
        if (j->brk) {
            j->brk = 0;
            break;
        }
    }
#undef BIND
    j->nvars = j->frames[--j->nframes];
    if (!count && end != e && !j->failed) run(j, e + 1, " endfor ");
    return end;
}

static void run_set(J *j, int i) {
    int line = j->segs[i].line;
    j->pos = j->segs[i].tok0 + 1;
    const tok *name = cur(j), *attr = NULL;
    if (name->t != T_NAME) {
        fail(j, line, "set: expected a name");
        return;
    }
    j->pos++;
    if (is_op(j, ".")) {
        j->pos++;
        attr = cur(j);
        if (attr->t != T_NAME) {
            fail(j, line, "set: expected an attribute name");
            return;
        }
        j->pos++;
    }
    if (!is_op(j, "=")) {
        fail(j, line, is_op(j, ",") ? "set: several targets are not supported" : "set: block assignments are not supported");
        return;
    }
    j->pos++;
    val v = expr(j, 1);
    if (end_of_stmt(j) || j->failed) return;
    if (attr) {
        val ns = lookup(j, name->p, name->n);
        if (ns.t != V_DICT || !ns.d->ns) {
            fail(j, line, "set %.*s.%.*s: %.*s is not a namespace()", (int)name->n, name->p, (int)attr->n, attr->p,
                 (int)name->n, name->p);
            return;
        }
        dict_set(j, ns.d, attr->p, attr->n, v);
    } else {
        assign(j, name->p, name->n, v);
    }
}

// Runs segments from i up to a statement among stops at this level; returns its index (j->nseg at the end).
static int run_body(J *j, int i, const char *stops);

static int run(J *j, int i, const char *stops) {
    if (++j->sdepth > 200) return fail(j, j->segs[i < j->nseg ? i : 0].line, "statements nested too deeply"), j->nseg;
    int r = run_body(j, i, stops);
    j->sdepth--;
    return r;
}

static int run_body(J *j, int i, const char *stops) {
    while (i < j->nseg && !j->failed) {
        seg *s = &j->segs[i];
        if (s->kind == 0) {
            emit(j, s->text, s->n);
            i++;
            continue;
        }
        if (s->kind == 1) {
            j->pos = s->tok0;
            val v = expr(j, 1);
            if (end_of_stmt(j)) break;
            v = to_str(j, v, 0);
            if (v.t == V_STR) emit(j, v.s, v.n);
            i++;
            continue;
        }
        const tok *t = kw(j, i);
        if (kw_in(t, stops)) return i;
        if (t->t != T_NAME) return fail(j, s->line, "expected a statement name"), j->nseg;
        if (name_eq(t, "if")) i = run_if(j, i) + 1;
        else if (name_eq(t, "for")) i = run_for(j, i) + 1;
        else if (name_eq(t, "set")) {
            run_set(j, i);
            i++;
        } else if (name_eq(t, "break") || name_eq(t, "continue")) {
            if (!j->nframes) return fail(j, s->line, "%.*s outside a loop", (int)t->n, t->p), j->nseg;
            *(name_eq(t, "break") ? &j->brk : &j->cont) = 1;
        } else if (name_eq(t, "generation") || name_eq(t, "endgeneration")) {
            i++;
        } else if (kw_in(t, " endfor endif elif else ")) {
            return fail(j, s->line, "unexpected \"%.*s\"", (int)t->n, t->p), j->nseg;
        } else {
            return fail(j, s->line, "statement \"%.*s\" is not supported here", (int)t->n, t->p), j->nseg;
        }
        if (j->brk || j->cont) return skip(j, i, stops);
    }
    return i;
}

int lrp_jinja_chat(const char *tmpl, const char *bos, const char *eos, const char *user, char **out, lrp_err *err) {
    *out = NULL;
    J j = {.err = err};
    int rc = -1;
    if (lex(&j, tmpl)) {
        if (!j.failed) lrp_fail(err, "chat_template: out of memory");
        goto done;
    }
    val msg = mkdict(&j), msgs = mklist(&j, 1);
    if (msg.t != V_DICT || msgs.t != V_LIST) goto done;
    dict_set(&j, msg.d, "role", 4, mkstr(&j, "user", 4));
    dict_set(&j, msg.d, "content", 7, mkstr(&j, user, strlen(user)));
    msgs.l->items[0] = msg;
    assign(&j, "messages", 8, msgs);
    assign(&j, "add_generation_prompt", 21, mkbool(1));
    assign(&j, "tools", 5, (val){.t = V_NONE});
    assign(&j, "documents", 9, (val){.t = V_NONE});
    if (bos) assign(&j, "bos_token", 9, mkstr(&j, bos, strlen(bos)));
    if (eos) assign(&j, "eos_token", 9, mkstr(&j, eos, strlen(eos)));
    int end = run(&j, 0, " ");
    if (!j.failed && end < j.nseg) {
        const tok *t = kw(&j, end);
        fail(&j, j.segs[end].line, "unexpected \"%.*s\"", t ? (int)t->n : 0, t ? t->p : "");
    }
    if (j.failed) goto done;
    emit(&j, "", 0);
    if (j.failed) goto done;
    *out = j.out;
    j.out = NULL;
    rc = 0;
done:
    free(j.out);
    free(j.segs);
    free(j.toks);
    free(j.vars);
    afree(&j.a);
    return rc;
}

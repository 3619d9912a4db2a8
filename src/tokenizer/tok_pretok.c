// Pre-tokenizers (huggingface/tokenizers pre_tokenizers/): split each piece into smaller pieces.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

// The GPT-2 pattern used by the ByteLevel pre-tokenizer when use_regex is set.
static const char GPT2_REGEX[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
static const char WORD_REGEX[] = "\\w+|[^\\w\\s]+";

static tk_pretok *pretok_new(tk_pretok_kind kind) {
    tk_pretok *p = calloc(1, sizeof *p);
    if (p) p->kind = kind;
    return p;
}

void tk_pretok_free(tk_pretok *p) {
    if (!p) return;
    for (int i = 0; i < p->n_kids; i++) tk_pretok_free(p->kids[i]);
    free(p->kids);
    tk_pattern_free(&p->pat);
    free(p);
}

static int parse_behavior(const tj_value *v, const char *key, tk_split_behavior dflt, const char *path,
                          tk_split_behavior *out, lrp_err *err) {
    const tj_value *s;
    if (tk_json_str(v, key, 1, path, &s, err)) return -1;
    *out = dflt;
    if (!s) return 0;
    static const char *names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"};
    for (int i = 0; i < 5; i++)
        if (!strcmp(s->u.str, names[i])) {
            *out = (tk_split_behavior)i;
            return 0;
        }
    return lrp_fail(err, "%s.%s: unsupported \"%s\"", path, key, s->u.str);
}

int tk_parse_prepend_scheme(const tj_value *v, const char *path, tk_prepend_scheme *out, lrp_err *err);
int tk_parse_prepend_scheme(const tj_value *v, const char *path, tk_prepend_scheme *out, lrp_err *err) {
    const tj_value *s;
    if (tk_json_str(v, "prepend_scheme", 1, path, &s, err)) return -1;
    if (!s) {
        int aps;
        if (tk_json_bool(v, "add_prefix_space", 1, path, &aps, err)) return -1;
        *out = aps ? PREPEND_ALWAYS : PREPEND_NEVER;
        return 0;
    }
    if (!strcmp(s->u.str, "always")) *out = PREPEND_ALWAYS;
    else if (!strcmp(s->u.str, "first")) *out = PREPEND_FIRST;
    else if (!strcmp(s->u.str, "never")) *out = PREPEND_NEVER;
    else return lrp_fail(err, "%s.prepend_scheme: unsupported \"%s\"", path, s->u.str);
    return 0;
}

int tk_parse_replacement(const tj_value *v, const char *path, char *buf, size_t *len, lrp_err *err);
int tk_parse_replacement(const tj_value *v, const char *path, char *buf, size_t *len, lrp_err *err) {
    const tj_value *s;
    if (tk_json_str(v, "replacement", 1, path, &s, err)) return -1;
    if (!s) {
        memcpy(buf, "\xE2\x96\x81", 4);  // U+2581
        *len = 3;
        return 0;
    }
    int32_t cp;
    if (s->n == 0 || tk_utf8_next(s->u.str, s->n, &cp) != s->n)
        return lrp_fail(err, "%s.replacement: expected exactly one character", path);
    memcpy(buf, s->u.str, (size_t)s->n + 1);
    *len = s->n;
    return 0;
}

int tk_pretok_build(tk_pretok **out, const tj_value *v, const char *path, lrp_err *err) {
    *out = NULL;
    if (!v || v->type != TJ_OBJECT) return lrp_fail(err, "%s: expected an object", path);
    const char *type = tk_json_type(v);
    if (!type) return lrp_fail(err, "%s.type: missing", path);
    char sub[512];
    tk_pretok *p = NULL;
    if (!strcmp(type, "Sequence")) {
        const tj_value *arr = tj_get(v, "pretokenizers");
        if (!arr || arr->type != TJ_ARRAY) return lrp_fail(err, "%s.pretokenizers: expected an array", path);
        if (!(p = pretok_new(PT_SEQUENCE)) || (arr->n && !(p->kids = calloc(arr->n, sizeof *p->kids)))) goto oom;
        for (uint32_t i = 0; i < arr->n; i++) {
            snprintf(sub, sizeof sub, "%s.pretokenizers[%u]", path, i);
            if (tk_pretok_build(&p->kids[i], &arr->u.items[i], sub, err)) goto fail;
            p->n_kids++;
        }
    } else if (!strcmp(type, "ByteLevel")) {
        if (!(p = pretok_new(PT_BYTELEVEL))) goto oom;
        if (tk_json_bool(v, "add_prefix_space", 1, path, &p->add_prefix_space, err) ||
            tk_json_bool(v, "use_regex", 1, path, &p->use_regex, err))
            goto fail;
        if (p->use_regex) {
            p->pat.is_regex = 1;
            if (tk_regex_compile(&p->pat.re, GPT2_REGEX, sizeof GPT2_REGEX - 1, path, err)) goto fail;
        }
    } else if (!strcmp(type, "Split")) {
        if (!(p = pretok_new(PT_SPLIT))) goto oom;
        snprintf(sub, sizeof sub, "%s.pattern", path);
        if (tk_pattern_build(&p->pat, tj_get(v, "pattern"), sub, err) ||
            parse_behavior(v, "behavior", SPLIT_REMOVED, path, &p->behavior, err) ||
            tk_json_bool(v, "invert", 0, path, &p->invert, err))
            goto fail;
    } else if (!strcmp(type, "Metaspace")) {
        if (!(p = pretok_new(PT_METASPACE))) goto oom;
        if (tk_parse_replacement(v, path, p->replacement, &p->replacement_len, err) ||
            tk_parse_prepend_scheme(v, path, &p->prepend, err) || tk_json_bool(v, "split", 1, path, &p->split, err))
            goto fail;
    } else if (!strcmp(type, "Whitespace")) {
        if (!(p = pretok_new(PT_WHITESPACE))) goto oom;
        p->pat.is_regex = 1;
        if (tk_regex_compile(&p->pat.re, WORD_REGEX, sizeof WORD_REGEX - 1, path, err)) goto fail;
    } else if (!strcmp(type, "WhitespaceSplit")) {
        if (!(p = pretok_new(PT_WHITESPACE_SPLIT))) goto oom;
    } else if (!strcmp(type, "BertPreTokenizer")) {
        if (!(p = pretok_new(PT_BERT))) goto oom;
    } else if (!strcmp(type, "Punctuation")) {
        if (!(p = pretok_new(PT_PUNCTUATION))) goto oom;
        if (parse_behavior(v, "behavior", SPLIT_ISOLATED, path, &p->behavior, err)) goto fail;
    } else if (!strcmp(type, "Digits")) {
        if (!(p = pretok_new(PT_DIGITS))) goto oom;
        if (tk_json_bool(v, "individual_digits", 0, path, &p->individual_digits, err)) goto fail;
    } else if (!strcmp(type, "CharDelimiterSplit")) {
        const tj_value *d;
        if (!(p = pretok_new(PT_DELIMITER))) goto oom;
        if (tk_json_str(v, "delimiter", 0, path, &d, err)) goto fail;
        if (d->n == 0 || tk_utf8_next(d->u.str, d->n, &p->delimiter) != d->n) {
            lrp_fail(err, "%s.delimiter: expected exactly one character", path);
            goto fail;
        }
    } else {
        return lrp_fail(err, "%s.type: unsupported pre-tokenizer \"%s\"", path, type);
    }
    *out = p;
    return 0;
oom:
    lrp_fail(err, "%s: out of memory", path);
fail:
    tk_pretok_free(p);
    return -1;
}

// ---- splitting -------------------------------------------------------------------------------

typedef int (*char_pred)(int32_t c, int32_t arg);

static int pred_ws(int32_t c, int32_t arg) { return (void)arg, tk_is_whitespace(c); }
static int pred_punct(int32_t c, int32_t arg) { return (void)arg, tk_is_punct(c); }
static int pred_numeric(int32_t c, int32_t arg) { return (void)arg, tk_is_numeric(c); }
static int pred_eq(int32_t c, int32_t arg) { return c == arg; }

// Every character satisfying pred is its own match (pattern.rs, impl Pattern for Fn(char)).
// Appends one span, growing the array; -1 when out of memory.
static int push_span(tk_spans *sp, tk_span span) {
    if (sp->n == sp->cap) {
        size_t cap = sp->cap ? sp->cap * 2 : 64;
        tk_span *v = realloc(sp->v, cap * sizeof *v);
        if (!v) return -1;
        sp->v = v;
        sp->cap = cap;
    }
    sp->v[sp->n++] = span;
    return 0;
}

static int pred_find(char_pred pred, int32_t arg, const char *s, size_t n, tk_spans *sp) {
    sp->n = 0;
    size_t last = 0, i = 0;
    while (i < n) {
        int32_t c;
        size_t l = tk_utf8_next(s + i, n - i, &c);
        if (pred(c, arg)) {
            tk_span gap = {last, i, 0}, m = {i, i + l, 1};
            if ((last < i && push_span(sp, gap)) || push_span(sp, m)) return -1;
            last = i + l;
        }
        i += l;
    }
    if (n > last && push_span(sp, (tk_span){last, n, 0})) return -1;
    return 0;
}

// Turns matches into pieces according to the behaviour (NormalizedString::split) and appends the
// non-empty ones to out. sp->v is rewritten in place.
static int emit_split(const char *s, tk_spans *sp, tk_split_behavior behavior, int invert, int first,
                      tk_pieces *out) {
    size_t k = 0;  // number of kept spans (match field: 1 = remove)
    int prev_match = 0;
    if (invert)
        for (size_t i = 0; i < sp->n; i++) sp->v[i].match = !sp->v[i].match;
    if (behavior == SPLIT_MERGED_NEXT) {
        // Walk backwards, merging each match into the following piece.
        size_t w = sp->n;
        for (size_t i = sp->n; i-- > 0;) {
            tk_span o = sp->v[i];
            if (o.match && !prev_match && w < sp->n) {
                sp->v[w].s = o.s;
            } else {
                sp->v[--w] = (tk_span){o.s, o.e, 0};
            }
            prev_match = o.match;
        }
        memmove(sp->v, sp->v + w, (sp->n - w) * sizeof *sp->v);
        k = sp->n - w;
    } else {
        for (size_t i = 0; i < sp->n; i++) {
            tk_span o = sp->v[i];
            switch (behavior) {
            case SPLIT_ISOLATED: sp->v[k++] = (tk_span){o.s, o.e, 0}; break;
            case SPLIT_REMOVED: sp->v[k++] = o; break;
            case SPLIT_CONTIGUOUS:
                if (k && o.match == prev_match) sp->v[k - 1].e = o.e;
                else sp->v[k++] = (tk_span){o.s, o.e, 0};
                break;
            case SPLIT_MERGED_PREV:
                if (k && o.match && !prev_match) sp->v[k - 1].e = o.e;
                else sp->v[k++] = (tk_span){o.s, o.e, 0};
                break;
            case SPLIT_MERGED_NEXT: break;
            }
            prev_match = o.match;
        }
    }
    for (size_t i = 0; i < k; i++) {
        if (sp->v[i].match || sp->v[i].e == sp->v[i].s) continue;
        if (tk_pieces_add(out, s + sp->v[i].s, sp->v[i].e - sp->v[i].s, first && sp->v[i].s == 0)) return -1;
    }
    return 0;
}

static int bytelevel_map(const char *s, size_t n, int first, tk_pieces *out) {
    tk_buf *t = &out->text;
    if (tk_buf_reserve(t, 2 * n + 1)) return -1;
    size_t start = t->n;
    for (size_t i = 0; i < n; i++) {
        uint16_t cp = tk_byte_to_cp[(unsigned char)s[i]];
        if (cp < 0x80) {
            t->p[t->n++] = (char)cp;
        } else {
            t->p[t->n++] = (char)(0xC0 | (cp >> 6));
            t->p[t->n++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    // Built in place (tk_pieces_add would copy): register the piece directly.
    size_t len = t->n - start;
    t->p[t->n++] = '\0';
    if (out->n == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 32;
        tk_piece *v = realloc(out->v, cap * sizeof *v);
        if (!v) return -1;
        out->v = v;
        out->cap = cap;
    }
    out->v[out->n++] = (tk_piece){start, len, first};
    return 0;
}

static int split_one(const tk_pretok *p, const char *s, size_t n, int first, tk_pieces *out, tk_spans *sp) {
    switch (p->kind) {
    case PT_SEQUENCE: return -1;  // handled by the caller
    case PT_BYTELEVEL: {
        char *tmp = NULL;
        if (p->add_prefix_space && !(n && s[0] == ' ')) {
            tmp = malloc(n + 1);
            if (!tmp) return -1;
            tmp[0] = ' ';
            memcpy(tmp + 1, s, n);
            s = tmp;
            n++;
        }
        int rc = 0;
        if (p->use_regex) {
            rc = tk_regex_find(p->pat.re, s, n, sp);
            for (size_t i = 0; !rc && i < sp->n; i++)
                if (sp->v[i].e > sp->v[i].s)
                    rc = bytelevel_map(s + sp->v[i].s, sp->v[i].e - sp->v[i].s, first && sp->v[i].s == 0, out);
        } else if (n) {
            rc = bytelevel_map(s, n, first, out);
        }
        free(tmp);
        return rc;
    }
    case PT_SPLIT:
        if (tk_pattern_find(&p->pat, s, n, sp)) return -1;
        return emit_split(s, sp, p->behavior, p->invert, first, out);
    case PT_WHITESPACE:
        if (tk_regex_find(p->pat.re, s, n, sp)) return -1;
        return emit_split(s, sp, SPLIT_REMOVED, 1, first, out);
    case PT_WHITESPACE_SPLIT:
        if (pred_find(pred_ws, 0, s, n, sp)) return -1;
        return emit_split(s, sp, SPLIT_REMOVED, 0, first, out);
    case PT_BERT: {
        tk_pieces words = {0};
        int rc = pred_find(pred_ws, 0, s, n, sp) || emit_split(s, sp, SPLIT_REMOVED, 0, first, &words);
        for (size_t i = 0; !rc && i < words.n; i++) {
            const char *w = tk_piece_str(&words, i);
            rc = pred_find(pred_punct, 0, w, words.v[i].len, sp) ||
                 emit_split(w, sp, SPLIT_ISOLATED, 0, words.v[i].first, out);
        }
        tk_pieces_free(&words);
        return rc ? -1 : 0;
    }
    case PT_PUNCTUATION:
        if (pred_find(pred_punct, 0, s, n, sp)) return -1;
        return emit_split(s, sp, p->behavior, 0, first, out);
    case PT_DIGITS:
        if (pred_find(pred_numeric, 0, s, n, sp)) return -1;
        return emit_split(s, sp, p->individual_digits ? SPLIT_ISOLATED : SPLIT_CONTIGUOUS, 0, first, out);
    case PT_DELIMITER:
        if (pred_find(pred_eq, p->delimiter, s, n, sp)) return -1;
        return emit_split(s, sp, SPLIT_REMOVED, 0, first, out);
    case PT_METASPACE: {
        // Replace ' ' by the replacement, prepend it per prepend_scheme, then optionally split
        // before each replacement character (MergedWithNext).
        tk_buf b = {0};
        int rc = 0;
        // metaspace.rs tests starts_with(replacement) after the replacement, so a leading ' '
        // counts as a leading '▁' and nothing is prepended to " a".
        int starts = (n && s[0] == ' ') || (n >= p->replacement_len && !memcmp(s, p->replacement, p->replacement_len));
        if (!starts && (p->prepend == PREPEND_ALWAYS || (p->prepend == PREPEND_FIRST && first)))
            rc = tk_buf_put(&b, p->replacement, p->replacement_len);
        for (size_t i = 0; !rc && i < n; i++)
            rc = s[i] == ' ' ? tk_buf_put(&b, p->replacement, p->replacement_len) : tk_buf_put(&b, s + i, 1);
        if (!rc && b.n) {
            if (p->split) {
                tk_pattern lit = {0, (char *)p->replacement, p->replacement_len, NULL};
                rc = tk_pattern_find(&lit, b.p, b.n, sp) || emit_split(b.p, sp, SPLIT_MERGED_NEXT, 0, first, out);
            } else {
                rc = tk_pieces_add(out, b.p, b.n, first);
            }
        }
        tk_buf_free(&b);
        return rc ? -1 : 0;
    }
    }
    return -1;
}

int tk_pretok_apply(const tk_pretok *p, tk_pieces **io, tk_pieces **scratch) {
    if (p->kind == PT_SEQUENCE) {
        for (int i = 0; i < p->n_kids; i++)
            if (tk_pretok_apply(p->kids[i], io, scratch)) return -1;
        return 0;
    }
    tk_pieces *in = *io, *out = *scratch;
    tk_pieces_reset(out);
    tk_spans sp = {0};
    int rc = 0;
    for (size_t i = 0; i < in->n && !rc; i++) rc = split_one(p, tk_piece_str(in, i), in->v[i].len, in->v[i].first, out, &sp);
    free(sp.v);
    if (rc) return -1;
    *io = out;
    *scratch = in;
    return 0;
}

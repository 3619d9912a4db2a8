// Post-processors (processors/) and decoders (decoders/) of huggingface/tokenizers.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

int tk_parse_prepend_scheme(const tj_value *v, const char *path, tk_prepend_scheme *out, lrp_err *err);
int tk_parse_replacement(const tj_value *v, const char *path, char *buf, size_t *len, lrp_err *err);

// ---- post-processors -------------------------------------------------------------------------

void tk_post_free(tk_post *p) {
    if (!p) return;
    for (int i = 0; i < p->n_kids; i++) tk_post_free(p->kids[i]);
    free(p->kids);
    free(p->single);
    free(p->pair);
    free(p);
}

// BertProcessing / RobertaProcessing: "sep": ["[SEP]", 102]
static int pair_id(const tj_value *v, const char *key, const char *path, int *out, lrp_err *err) {
    const tj_value *p = tj_get(v, key);
    if (!p || p->type != TJ_ARRAY || p->n != 2 || p->u.items[0].type != TJ_STRING || p->u.items[1].type != TJ_NUMBER ||
        p->u.items[1].u.num < 0 || p->u.items[1].u.num > 2147483646.0)
        return lrp_fail(err, "%s.%s: expected [\"token\", id]", path, key);
    *out = (int)p->u.items[1].u.num;
    return 0;
}

static int json_type_id(const tj_value *piece, const char *path, const char *name, uint32_t i, int *out, lrp_err *err) {
    const tj_value *t = tj_get(piece, "type_id");
    *out = 0;
    if (!t || t->type == TJ_NULL) return 0;
    if (t->type != TJ_NUMBER || t->u.num < 0 || t->u.num > 2147483646.0 || t->u.num != (double)(int)t->u.num)
        return lrp_fail(err, "%s.%s[%u].type_id: expected a non-negative integer", path, name, i);
    *out = (int)t->u.num;
    return 0;
}

// One template ("single" or "pair") of TemplateProcessing, its special tokens expanded to their ids.
// *has: bit 0 set when it uses $A, bit 1 when it uses $B.
static int build_template_list(const tj_value *v, const char *name, const char *path, tk_tmpl_item **out, int *n_out,
                               int *has, lrp_err *err) {
    const tj_value *list = tj_get(v, name), *specials = tj_get(v, "special_tokens");
    if (!list || list->type != TJ_ARRAY) return lrp_fail(err, "%s.%s: expected an array", path, name);
    *has = 0;
    size_t total = 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t k = 0;
        for (uint32_t i = 0; i < list->n; i++) {
            const tj_value *item = &list->u.items[i], *sp = tj_get(item, "SpecialToken"), *sq = tj_get(item, "Sequence");
            int type_id;
            if (sq) {
                const tj_value *id = tj_get(sq, "id");
                if (!id || id->type != TJ_STRING || (strcmp(id->u.str, "A") && strcmp(id->u.str, "B")))
                    return lrp_fail(err, "%s.%s[%u].Sequence.id: expected \"A\" or \"B\"", path, name, i);
                if (json_type_id(sq, path, name, i, &type_id, err)) return -1;
                int seq = id->u.str[0] == 'B';
                *has |= 1 << seq;
                if (pass) (*out)[k] = (tk_tmpl_item){-1, seq, type_id};
                k++;
                continue;
            }
            const tj_value *id = tj_get(sp, "id");
            if (!sp || !id || id->type != TJ_STRING)
                return lrp_fail(err, "%s.%s[%u]: expected {\"SpecialToken\": {\"id\": ...}} or {\"Sequence\": ...}", path,
                                name, i);
            if (json_type_id(sp, path, name, i, &type_id, err)) return -1;
            const tj_value *def = tj_get(specials, id->u.str), *ids = tj_get(def, "ids");
            if (!ids || ids->type != TJ_ARRAY)
                return lrp_fail(err, "%s.special_tokens: no entry with \"ids\" for \"%s\"", path, id->u.str);
            for (uint32_t j = 0; j < ids->n; j++) {
                const tj_value *x = &ids->u.items[j];
                if (x->type != TJ_NUMBER || x->u.num < 0 || x->u.num > 2147483646.0)
                    return lrp_fail(err, "%s.special_tokens[\"%s\"].ids[%u]: expected an id", path, id->u.str, j);
                if (pass) (*out)[k] = (tk_tmpl_item){(int)x->u.num, 0, type_id};
                k++;
            }
        }
        if (!pass) {
            total = k;
            if (total > 4096) return lrp_fail(err, "%s.%s: too long", path, name);
            if (!(*out = malloc((total ? total : 1) * sizeof **out))) return lrp_fail(err, "%s: out of memory", path);
        }
    }
    *n_out = (int)total;
    return 0;
}

static int build_template(tk_post *p, const tj_value *v, const char *path, lrp_err *err) {
    int has;
    if (build_template_list(v, "single", path, &p->single, &p->n_single, &has, err)) return -1;
    if (has & 2) return lrp_fail(err, "%s.single: uses $B, which a single sequence does not have", path);
    const tj_value *pair = tj_get(v, "pair");
    if (!pair || pair->type == TJ_NULL) return 0;  // no pair template: single sequences only
    if (build_template_list(v, "pair", path, &p->pair, &p->n_pair, &has, err)) return -1;
    if (has != 3) return lrp_fail(err, "%s.pair: must use both $A and $B", path);
    return 0;
}

int tk_post_build(tk_post **out, const lrp_tokenizer *tok, const tj_value *v, const char *path, lrp_err *err) {
    *out = NULL;
    if (!v || v->type != TJ_OBJECT) return lrp_fail(err, "%s: expected an object", path);
    const char *type = tk_json_type(v);
    if (!type) return lrp_fail(err, "%s.type: missing", path);
    tk_post *p = calloc(1, sizeof *p);
    if (!p) return lrp_fail(err, "%s: out of memory", path);
    char sub[512];
    if (!strcmp(type, "Sequence")) {
        p->kind = POST_SEQUENCE;
        const tj_value *arr = tj_get(v, "processors");
        if (!arr || arr->type != TJ_ARRAY) {
            lrp_fail(err, "%s.processors: expected an array", path);
            goto fail;
        }
        if (arr->n && !(p->kids = calloc(arr->n, sizeof *p->kids))) {
            lrp_fail(err, "%s: out of memory", path);
            goto fail;
        }
        int adding = 0;
        for (uint32_t i = 0; i < arr->n; i++) {
            snprintf(sub, sizeof sub, "%s.processors[%u]", path, i);
            if (tk_post_build(&p->kids[i], tok, &arr->u.items[i], sub, err)) goto fail;
            p->n_kids++;
            adding += p->kids[i]->kind != POST_BYTELEVEL;
        }
        // HF hands the next processor the pieces the previous one produced; only ByteLevel (offsets
        // only) accepts that, so a second processor that adds tokens cannot work there either.
        if (adding > 1) {
            lrp_fail(err, "%s.processors: more than one processor that adds special tokens", path);
            goto fail;
        }
    } else if (!strcmp(type, "TemplateProcessing")) {
        p->kind = POST_TEMPLATE;
        if (build_template(p, v, path, err)) goto fail;
    } else if (!strcmp(type, "BertProcessing") || !strcmp(type, "RobertaProcessing")) {
        p->kind = type[0] == 'B' ? POST_BERT : POST_ROBERTA;
        if (pair_id(v, "cls", path, &p->cls_id, err) || pair_id(v, "sep", path, &p->sep_id, err)) goto fail;
    } else if (!strcmp(type, "ByteLevel")) {
        p->kind = POST_BYTELEVEL;
    } else {
        lrp_fail(err, "%s.type: unsupported post-processor \"%s\"", path, type);
        goto fail;
    }
    *out = p;
    return 0;
fail:
    tk_post_free(p);
    return -1;
}

// The processor of a Sequence that does the work (ByteLevel only adjusts offsets), or p itself.
static const tk_post *effective(const tk_post *p) {
    if (!p || p->kind != POST_SEQUENCE) return p;
    for (int i = 0; i < p->n_kids; i++)
        if (p->kids[i]->kind != POST_BYTELEVEL) return effective(p->kids[i]);
    return NULL;
}

int tk_post_adds_tokens(const tk_post *p) {
    p = effective(p);
    if (!p) return 0;
    switch (p->kind) {
    case POST_TEMPLATE:
        for (int i = 0; i < p->n_single; i++)
            if (p->single[i].id >= 0) return 1;
        return 0;
    case POST_BERT:
    case POST_ROBERTA: return 1;
    default: return 0;
    }
}

int tk_post_can_pair(const tk_post *p) {
    p = effective(p);
    if (!p) return 0;
    switch (p->kind) {
    case POST_TEMPLATE: return p->pair != NULL;
    case POST_BERT:
    case POST_ROBERTA: return 1;
    default: return 0;
    }
}

static int put_run(tk_ids *ids, tk_ids *types, const int *v, size_t n, int type_id) {
    for (size_t i = 0; i < n; i++)
        if (tk_ids_push(ids, v[i]) || tk_ids_push(types, type_id)) return -1;
    return 0;
}

static int put_one(tk_ids *ids, tk_ids *types, int id, int type_id) { return put_run(ids, types, &id, 1, type_id); }

int tk_post_process(const tk_post *p, const tk_ids *a, const tk_ids *b, int add_special, tk_ids *ids, tk_ids *types) {
    p = effective(p);
    if (!p || p->kind == POST_BYTELEVEL)  // HF's default_process: A gets type 0, B type 1
        return put_run(ids, types, a->v, a->n, 0) || (b && put_run(ids, types, b->v, b->n, 1)) ? -1 : 0;
    switch (p->kind) {
    case POST_TEMPLATE: {
        const tk_tmpl_item *t = b ? p->pair : p->single;
        int n = b ? p->n_pair : p->n_single;
        for (int k = 0; k < n; k++) {
            if (t[k].id >= 0) {
                if (add_special && put_one(ids, types, t[k].id, t[k].type_id)) return -1;
            } else {
                const tk_ids *s = t[k].seq ? b : a;
                if (put_run(ids, types, s->v, s->n, t[k].type_id)) return -1;
            }
        }
        return 0;
    }
    case POST_BERT:  // [CLS] A [SEP] (type 0) B [SEP] (type 1)
        if ((add_special && put_one(ids, types, p->cls_id, 0)) || put_run(ids, types, a->v, a->n, 0) ||
            (add_special && put_one(ids, types, p->sep_id, 0)))
            return -1;
        if (b && (put_run(ids, types, b->v, b->n, 1) || (add_special && put_one(ids, types, p->sep_id, 1)))) return -1;
        return 0;
    case POST_ROBERTA:  // <s> A </s> </s> B </s>, every type id 0
        if ((add_special && put_one(ids, types, p->cls_id, 0)) || put_run(ids, types, a->v, a->n, 0) ||
            (add_special && put_one(ids, types, p->sep_id, 0)))
            return -1;
        if (b && ((add_special && put_one(ids, types, p->sep_id, 0)) || put_run(ids, types, b->v, b->n, 0) ||
                  (add_special && put_one(ids, types, p->sep_id, 0))))
            return -1;
        return 0;
    default: return -1;
    }
}

// ---- decoders --------------------------------------------------------------------------------

void tk_dec_free(tk_dec *d) {
    if (!d) return;
    for (int i = 0; i < d->n_kids; i++) tk_dec_free(d->kids[i]);
    free(d->kids);
    free(d->prefix);
    tk_pattern_free(&d->pat);
    free(d->content);
    free(d);
}

static int dup_value(char **out, size_t *len, const tj_value *s) {
    *out = malloc((size_t)s->n + 1);
    if (!*out) return -1;
    memcpy(*out, s->u.str, (size_t)s->n + 1);
    *len = s->n;
    return 0;
}

int tk_dec_build(tk_dec **out, const tj_value *v, const char *path, lrp_err *err) {
    *out = NULL;
    if (!v || v->type != TJ_OBJECT) return lrp_fail(err, "%s: expected an object", path);
    const char *type = tk_json_type(v);
    if (!type) return lrp_fail(err, "%s.type: missing", path);
    tk_dec *d = calloc(1, sizeof *d);
    if (!d) return lrp_fail(err, "%s: out of memory", path);
    char sub[512];
    const tj_value *s;
    if (!strcmp(type, "Sequence")) {
        d->kind = DEC_SEQUENCE;
        const tj_value *arr = tj_get(v, "decoders");
        if (!arr || arr->type != TJ_ARRAY) {
            lrp_fail(err, "%s.decoders: expected an array", path);
            goto fail;
        }
        if (arr->n && !(d->kids = calloc(arr->n, sizeof *d->kids))) goto oom;
        for (uint32_t i = 0; i < arr->n; i++) {
            snprintf(sub, sizeof sub, "%s.decoders[%u]", path, i);
            if (tk_dec_build(&d->kids[i], &arr->u.items[i], sub, err)) goto fail;
            d->n_kids++;
        }
    } else if (!strcmp(type, "ByteLevel")) {
        d->kind = DEC_BYTELEVEL;
    } else if (!strcmp(type, "Metaspace")) {
        d->kind = DEC_METASPACE;
        if (tk_parse_replacement(v, path, d->replacement, &d->replacement_len, err) ||
            tk_parse_prepend_scheme(v, path, &d->prepend, err))
            goto fail;
    } else if (!strcmp(type, "WordPiece")) {
        d->kind = DEC_WORDPIECE;
        if (tk_json_str(v, "prefix", 1, path, &s, err) || tk_json_bool(v, "cleanup", 1, path, &d->cleanup, err)) goto fail;
        if (s ? dup_value(&d->prefix, &d->prefix_len, s) : !(d->prefix = strdup("##"))) goto oom;
        if (!s) d->prefix_len = 2;
    } else if (!strcmp(type, "BPEDecoder")) {
        d->kind = DEC_BPE;
        if (tk_json_str(v, "suffix", 1, path, &s, err)) goto fail;
        if (s ? dup_value(&d->prefix, &d->prefix_len, s) : !(d->prefix = strdup("</w>"))) goto oom;
        if (!s) d->prefix_len = 4;
    } else if (!strcmp(type, "ByteFallback")) {
        d->kind = DEC_BYTEFALLBACK;
    } else if (!strcmp(type, "Fuse")) {
        d->kind = DEC_FUSE;
    } else if (!strcmp(type, "Strip")) {
        d->kind = DEC_STRIP;
        if (tk_json_str(v, "content", 0, path, &s, err) || tk_json_int(v, "start", 0, path, &d->strip_start, err) ||
            tk_json_int(v, "stop", 0, path, &d->strip_stop, err))
            goto fail;
        if (s->n == 0 || tk_utf8_next(s->u.str, s->n, &d->strip_char) != s->n) {
            lrp_fail(err, "%s.content: expected exactly one character", path);
            goto fail;
        }
    } else if (!strcmp(type, "Replace")) {
        d->kind = DEC_REPLACE;
        snprintf(sub, sizeof sub, "%s.pattern", path);
        if (tk_pattern_build(&d->pat, tj_get(v, "pattern"), sub, err) || tk_json_str(v, "content", 0, path, &s, err))
            goto fail;
        if (dup_value(&d->content, &d->content_len, s)) goto oom;
    } else {
        lrp_fail(err, "%s.type: unsupported decoder \"%s\"", path, type);
        goto fail;
    }
    *out = d;
    return 0;
oom:
    lrp_fail(err, "%s: out of memory", path);
fail:
    tk_dec_free(d);
    return -1;
}

// Appends s with every occurrence of `from` replaced by `to`.
static int put_replaced(tk_buf *b, const char *s, size_t n, const char *from, size_t fn, const char *to, size_t tn) {
    size_t i = 0, last = 0;
    if (fn)
        while (i + fn <= n) {
            if (!memcmp(s + i, from, fn)) {
                if (tk_buf_put(b, s + last, i - last) || tk_buf_put(b, to, tn)) return -1;
                i += fn;
                last = i;
            } else {
                i++;
            }
        }
    return tk_buf_put(b, s + last, n - last);
}

// transformers' clean_up_tokenization (and the WordPiece decoder's cleanup, which also turns
// " do not" into " don't").
int tk_cleanup_spaces(tk_buf *b, int do_not);
int tk_cleanup_spaces(tk_buf *b, int do_not) {
    static const char *rules[][2] = {{" .", "."},     {" ?", "?"},     {" !", "!"},       {" ,", ","},
                                     {" ' ", "'"},    {" n't", "n't"}, {" 'm", "'m"},     {" do not", " don't"},
                                     {" 's", "'s"},   {" 've", "'ve"}, {" 're", "'re"}};
    tk_buf t = {0};
    for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++) {
        if (r == 7 && !do_not) continue;
        t.n = 0;
        if (put_replaced(&t, b->p ? b->p : "", b->n, rules[r][0], strlen(rules[r][0]), rules[r][1], strlen(rules[r][1]))) {
            tk_buf_free(&t);
            return -1;
        }
        tk_buf x = *b;
        *b = t;
        t = x;
    }
    tk_buf_free(&t);
    return 0;
}

static int hex_byte(const char *s, size_t n) {
    // "<0xAB>" -> 0xAB, else -1
    if (n != 6 || s[0] != '<' || s[1] != '0' || s[2] != 'x' || s[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= c - '0';
        else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
        else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
        else return -1;
    }
    return v;
}

static int dec_one(const tk_dec *d, const tk_pieces *in, tk_pieces *out, int display) {
    tk_buf b = {0};
    int rc = 0;
    switch (d->kind) {
    case DEC_SEQUENCE: rc = -1; break;
    case DEC_BYTELEVEL: {
        tk_buf bytes = {0};
        for (size_t i = 0; i < in->n && !rc; i++) {
            const char *s = tk_piece_str(in, i);
            size_t n = in->v[i].len, mark = bytes.n;
            int ok = 1;
            for (size_t k = 0; k < n && ok;) {
                int32_t cp;
                k += tk_utf8_next(s + k, n - k, &cp);
                int byte = tk_cp_to_byte(cp);
                if (byte < 0) ok = 0;
                else {
                    unsigned char c = (unsigned char)byte;
                    rc = tk_buf_put(&bytes, &c, 1);
                }
            }
            if (!ok) {  // a token outside the byte alphabet is kept as it is
                bytes.n = mark;
                rc = tk_buf_put(&bytes, s, n);
            }
        }
        // display 2 (lrp_tokenizer_token_bytes): the bytes as they are, even when not valid UTF-8
        if (!rc) rc = display == 2 ? tk_buf_put(&b, bytes.p ? bytes.p : "", bytes.n)
                                   : tk_buf_put_lossy(&b, (const unsigned char *)(bytes.p ? bytes.p : ""), bytes.n);
        if (!rc) rc = tk_pieces_add(out, b.p ? b.p : "", b.n, 0);
        tk_buf_free(&bytes);
        break;
    }
    case DEC_METASPACE:
        for (size_t i = 0; i < in->n && !rc; i++) {
            const char *s = tk_piece_str(in, i);
            size_t n = in->v[i].len;
            b.n = 0;
            int drop = i == 0 && d->prepend != PREPEND_NEVER && !display;
            rc = put_replaced(&b, s, n, d->replacement, d->replacement_len, " ", drop ? 0 : 1);
            if (!rc) rc = tk_pieces_add(out, b.p, b.n, 0);
        }
        break;
    case DEC_WORDPIECE:
        for (size_t i = 0; i < in->n && !rc; i++) {
            const char *s = tk_piece_str(in, i);
            size_t n = in->v[i].len;
            b.n = 0;
            if (i != 0 || display) {
                if (n >= d->prefix_len && !memcmp(s, d->prefix, d->prefix_len)) {
                    s += d->prefix_len;
                    n -= d->prefix_len;
                } else {
                    rc = tk_buf_put(&b, " ", 1);
                }
            }
            if (!rc) rc = tk_buf_put(&b, s, n);
            if (!rc && d->cleanup) rc = tk_cleanup_spaces(&b, 1);
            if (!rc) rc = tk_pieces_add(out, b.p ? b.p : "", b.n, 0);
        }
        break;
    case DEC_BPE:
        for (size_t i = 0; i < in->n && !rc; i++) {
            b.n = 0;
            int last = i + 1 == in->n && !display;
            rc = put_replaced(&b, tk_piece_str(in, i), in->v[i].len, d->prefix, d->prefix_len, " ", last ? 0 : 1);
            if (!rc) rc = tk_pieces_add(out, b.p ? b.p : "", b.n, 0);
        }
        break;
    case DEC_BYTEFALLBACK: {
        // Runs of <0xNN> tokens become their bytes if those form valid UTF-8, otherwise one U+FFFD
        // per byte.
        tk_buf run = {0};
        size_t run_tokens = 0;
        for (size_t i = 0; i <= in->n && !rc; i++) {
            int byte = i < in->n ? hex_byte(tk_piece_str(in, i), in->v[i].len) : -1;
            if (byte >= 0) {
                unsigned char c = (unsigned char)byte;
                rc = tk_buf_put(&run, &c, 1);
                run_tokens++;
                continue;
            }
            if (run_tokens) {
                if (display == 2 || tk_utf8_check(run.p, run.n) == run.n) {
                    rc = tk_pieces_add(out, run.p, run.n, 0);
                } else {
                    for (size_t k = 0; k < run_tokens && !rc; k++) rc = tk_pieces_add(out, "\xEF\xBF\xBD", 3, 0);
                }
                run.n = 0;
                run_tokens = 0;
            }
            if (!rc && i < in->n) rc = tk_pieces_add(out, tk_piece_str(in, i), in->v[i].len, 0);
        }
        tk_buf_free(&run);
        break;
    }
    case DEC_FUSE:
        rc = tk_buf_reserve(&b, 0);
        for (size_t i = 0; i < in->n && !rc; i++) rc = tk_buf_put(&b, tk_piece_str(in, i), in->v[i].len);
        if (!rc) rc = tk_pieces_add(out, b.p, b.n, 0);
        break;
    case DEC_STRIP:
        for (size_t i = 0; i < in->n && !rc; i++) {
            const char *s = tk_piece_str(in, i);
            size_t n = in->v[i].len, lo = 0, hi = n;
            if (!display) {
                for (int k = 0; k < d->strip_start && lo < hi; k++) {
                    int32_t c;
                    size_t l = tk_utf8_next(s + lo, hi - lo, &c);
                    if (c != d->strip_char) break;
                    lo += l;
                }
                for (int k = 0; k < d->strip_stop && hi > lo; k++) {
                    size_t j = hi - 1;
                    while (j > lo && ((unsigned char)s[j] & 0xC0) == 0x80) j--;
                    int32_t c;
                    tk_utf8_next(s + j, hi - j, &c);
                    if (c != d->strip_char) break;
                    hi = j;
                }
            }
            rc = tk_pieces_add(out, s + lo, hi - lo, 0);
        }
        break;
    case DEC_REPLACE:
        for (size_t i = 0; i < in->n && !rc; i++) {
            const char *s = tk_piece_str(in, i);
            size_t n = in->v[i].len;
            tk_spans sp = {0};
            b.n = 0;
            rc = tk_pattern_find(&d->pat, s, n, &sp) || tk_buf_reserve(&b, 0);
            for (size_t k = 0; k < sp.n && !rc; k++)
                rc = sp.v[k].match ? tk_buf_put(&b, d->content, d->content_len)
                                   : tk_buf_put(&b, s + sp.v[k].s, sp.v[k].e - sp.v[k].s);
            free(sp.v);
            if (!rc) rc = tk_pieces_add(out, b.p, b.n, 0);
        }
        break;
    }
    tk_buf_free(&b);
    return rc ? -1 : 0;
}

int tk_dec_apply(const tk_dec *d, tk_pieces **io, tk_pieces **scratch, int display) {
    if (d->kind == DEC_SEQUENCE) {
        for (int i = 0; i < d->n_kids; i++)
            if (tk_dec_apply(d->kids[i], io, scratch, display)) return -1;
        return 0;
    }
    tk_pieces_reset(*scratch);
    if (dec_one(d, *io, *scratch, display)) return -1;
    tk_pieces *t = *io;
    *io = *scratch;
    *scratch = t;
    return 0;
}

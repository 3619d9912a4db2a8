// Normalizers (huggingface/tokenizers normalizers/): string -> string, applied to each stretch of
// input text between added tokens.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tokenizer/tok_internal.h"

static tk_norm *norm_new(tk_norm_kind kind) {
    tk_norm *n = calloc(1, sizeof *n);
    if (n) n->kind = kind;
    return n;
}

void tk_norm_free(tk_norm *n) {
    if (!n) return;
    for (int i = 0; i < n->n_kids; i++) tk_norm_free(n->kids[i]);
    free(n->kids);
    tk_pattern_free(&n->pat);
    free(n->content);
    free(n->units);
    free(n->pool);
    free(n);
}

// ---- Precompiled (SentencePiece charsmap) ----------------------------------------------------
// precompiled_charsmap is base64 of: uint32 LE trie size in bytes, a Darts-clone double array of
// that size (uint32 LE units), then the replacement strings, NUL-separated (sentencepiece
// normalizer.cc; huggingface/tokenizers uses the spm_precompiled crate).

static int b64_value(int c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

// Decodes standard base64 (padding optional); returns the length or -1.
static long b64_decode(const char *s, size_t n, unsigned char *out) {
    unsigned acc = 0;
    int bits = 0;
    long w = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '=') break;
        int v = b64_value((unsigned char)s[i]);
        if (v < 0) return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[w++] = (unsigned char)(acc >> bits);
        }
    }
    return w;
}

static int build_precompiled(tk_norm *n, const tj_value *v, const char *path, lrp_err *err) {
    const tj_value *s = tj_get(v, "precompiled_charsmap");
    if (!s || s->type == TJ_NULL || (s->type == TJ_STRING && s->n == 0)) return 0;  // no rules: identity
    if (s->type != TJ_STRING) return lrp_fail(err, "%s.precompiled_charsmap: expected a base64 string", path);
    unsigned char *blob = malloc((size_t)s->n / 4 * 3 + 3);
    if (!blob) return lrp_fail(err, "%s: out of memory", path);
    long len = b64_decode(s->u.str, s->n, blob);
    uint32_t trie_bytes = 0;
    if (len >= 4) trie_bytes = (uint32_t)blob[0] | (uint32_t)blob[1] << 8 | (uint32_t)blob[2] << 16 | (uint32_t)blob[3] << 24;
    if (len < 4 || trie_bytes % 4 || trie_bytes == 0 || (long)trie_bytes > len - 4) {
        free(blob);
        return lrp_fail(err, "%s.precompiled_charsmap: not a SentencePiece charsmap", path);
    }
    n->n_units = trie_bytes / 4;
    n->pool_len = (size_t)len - 4 - trie_bytes;
    n->units = malloc(n->n_units * sizeof *n->units);
    n->pool = malloc(n->pool_len + 1);
    if (!n->units || !n->pool) {
        free(blob);
        return lrp_fail(err, "%s: out of memory", path);
    }
    for (size_t i = 0; i < n->n_units; i++) {
        const unsigned char *u = blob + 4 + 4 * i;
        n->units[i] = (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
    }
    memcpy(n->pool, blob + 4 + trie_bytes, n->pool_len);
    n->pool[n->pool_len] = '\0';
    free(blob);
    if (tk_utf8_check(n->pool, n->pool_len) != n->pool_len)
        return lrp_fail(err, "%s.precompiled_charsmap: replacement strings are not UTF-8", path);
    return 0;
}

// The replacement of the shortest rule that is a prefix of s[0..len) (HF's transform: the first
// result of common_prefix_search), or NULL.
static const char *precompiled_lookup(const tk_norm *n, const char *s, size_t len) {
    if (!n->n_units) return NULL;
#define UNIT_OFFSET(u) (((u) >> 10) << (((u) & (1u << 9)) >> 6))
    size_t pos = UNIT_OFFSET(n->units[0]);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        pos ^= c;
        if (pos >= n->n_units) return NULL;
        uint32_t unit = n->units[pos];
        if ((unit & ((1u << 31) | 0xFF)) != c) return NULL;  // label
        pos ^= UNIT_OFFSET(unit);
        if (pos >= n->n_units) return NULL;
        if ((unit >> 8) & 1) {  // has a leaf: its value is an offset into the pool
            size_t at = n->units[pos] & ((1u << 31) - 1);
            return at < n->pool_len ? n->pool + at : NULL;
        }
    }
#undef UNIT_OFFSET
    return NULL;
}

// Per extended grapheme cluster: a cluster shorter than 6 bytes is replaced as a whole if a rule
// matches it, otherwise each character is looked up alone (normalizers/precompiled.rs).
static int precompiled(const tk_norm *n, const char *s, size_t len, tk_buf *out) {
    size_t g = 0;
    utf8proc_int32_t state = 0;
    int32_t prev = -1;
    for (size_t i = 0; i <= len;) {
        int32_t c = -1;
        size_t l = 0;
        if (i < len) l = tk_utf8_next(s + i, len - i, &c);
        int brk = i == len || (prev >= 0 && utf8proc_grapheme_break_stateful(prev, c, &state));
        if (brk && i > g) {
            const char *r = i - g < 6 ? precompiled_lookup(n, s + g, i - g) : NULL;
            if (r) {
                if (tk_buf_put(out, r, strlen(r))) return -1;
            } else {
                for (size_t k = g; k < i;) {
                    int32_t d;
                    size_t dl = tk_utf8_next(s + k, i - k, &d);
                    const char *rc = precompiled_lookup(n, s + k, dl);
                    if (tk_buf_put(out, rc ? rc : s + k, rc ? strlen(rc) : dl)) return -1;
                    k += dl;
                }
            }
            g = i;
        }
        if (i == len) break;
        prev = c;
        i += l;
    }
    return 0;
}

static int dup_str(char **out, size_t *out_len, const tj_value *s) {
    *out = malloc((size_t)s->n + 1);
    if (!*out) return -1;
    memcpy(*out, s->u.str, (size_t)s->n + 1);
    *out_len = s->n;
    return 0;
}

int tk_norm_build(tk_norm **out, const tj_value *v, const char *path, lrp_err *err) {
    *out = NULL;
    if (!v || v->type != TJ_OBJECT) return lrp_fail(err, "%s: expected an object", path);
    const char *type = tk_json_type(v);
    if (!type) return lrp_fail(err, "%s.type: missing", path);
    char sub[512];
    tk_norm *n = NULL;
    if (!strcmp(type, "Sequence")) {
        const tj_value *arr = tj_get(v, "normalizers");
        if (!arr || arr->type != TJ_ARRAY) return lrp_fail(err, "%s.normalizers: expected an array", path);
        if (!(n = norm_new(NORM_SEQUENCE)) || (arr->n && !(n->kids = calloc(arr->n, sizeof *n->kids)))) goto oom;
        for (uint32_t i = 0; i < arr->n; i++) {
            snprintf(sub, sizeof sub, "%s.normalizers[%u]", path, i);
            if (tk_norm_build(&n->kids[i], &arr->u.items[i], sub, err)) goto fail;
            n->n_kids++;
        }
    } else if (!strcmp(type, "NFC")) {
        if (!(n = norm_new(NORM_NFC))) goto oom;
    } else if (!strcmp(type, "NFD")) {
        if (!(n = norm_new(NORM_NFD))) goto oom;
    } else if (!strcmp(type, "NFKC")) {
        if (!(n = norm_new(NORM_NFKC))) goto oom;
    } else if (!strcmp(type, "NFKD")) {
        if (!(n = norm_new(NORM_NFKD))) goto oom;
    } else if (!strcmp(type, "Lowercase")) {
        if (!(n = norm_new(NORM_LOWERCASE))) goto oom;
    } else if (!strcmp(type, "StripAccents")) {
        if (!(n = norm_new(NORM_STRIP_ACCENTS))) goto oom;
    } else if (!strcmp(type, "Nmt")) {
        if (!(n = norm_new(NORM_NMT))) goto oom;
    } else if (!strcmp(type, "ByteLevel")) {
        if (!(n = norm_new(NORM_BYTELEVEL))) goto oom;
    } else if (!strcmp(type, "Precompiled")) {
        if (!(n = norm_new(NORM_PRECOMPILED))) goto oom;
        if (build_precompiled(n, v, path, err)) goto fail;
    } else if (!strcmp(type, "Strip")) {
        if (!(n = norm_new(NORM_STRIP))) goto oom;
        if (tk_json_bool(v, "strip_left", 1, path, &n->left, err) ||
            tk_json_bool(v, "strip_right", 1, path, &n->right, err))
            goto fail;
    } else if (!strcmp(type, "Replace")) {
        const tj_value *c;
        if (!(n = norm_new(NORM_REPLACE))) goto oom;
        snprintf(sub, sizeof sub, "%s.pattern", path);
        if (tk_pattern_build(&n->pat, tj_get(v, "pattern"), sub, err)) goto fail;
        if (tk_json_str(v, "content", 0, path, &c, err)) goto fail;
        if (dup_str(&n->content, &n->content_len, c)) goto oom;
    } else if (!strcmp(type, "Prepend")) {
        const tj_value *c;
        if (!(n = norm_new(NORM_PREPEND))) goto oom;
        if (tk_json_str(v, "prepend", 0, path, &c, err)) goto fail;
        if (dup_str(&n->content, &n->content_len, c)) goto oom;
    } else if (!strcmp(type, "BertNormalizer")) {
        if (!(n = norm_new(NORM_BERT))) goto oom;
        const tj_value *sa = tj_get(v, "strip_accents");
        if (tk_json_bool(v, "clean_text", 1, path, &n->clean_text, err) ||
            tk_json_bool(v, "handle_chinese_chars", 1, path, &n->chinese, err) ||
            tk_json_bool(v, "lowercase", 1, path, &n->lowercase, err) ||
            tk_json_bool(v, "strip_accents", -1, path, &n->strip_accents, err))
            goto fail;
        if (!sa || sa->type == TJ_NULL) n->strip_accents = n->lowercase;  // null: follows lowercase
    } else {
        return lrp_fail(err, "%s.type: unsupported normalizer \"%s\"", path, type);
    }
    *out = n;
    return 0;
oom:
    lrp_fail(err, "%s: out of memory", path);
fail:
    tk_norm_free(n);
    return -1;
}

// ---- application -----------------------------------------------------------------------------

static int unicode_form(const char *s, size_t len, int options, tk_buf *out) {
    if (len == 0) return 0;
    size_t i = 0;
    while (i < len && (unsigned char)s[i] < 0x80) i++;
    if (i == len) return tk_buf_put(out, s, len);  // ASCII is unchanged by every normalization form
    if (len > (size_t)PTRDIFF_MAX / 8) return -1;
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &dst,
                                      (utf8proc_option_t)(options | UTF8PROC_STABLE));
    if (r < 0) return -1;
    int rc = tk_buf_put(out, dst, (size_t)r);
    free(dst);
    return rc;
}

// Unicode Case_Ignorable, approximated by categories plus the MidLetter/MidNumLet characters.
static int case_ignorable(int32_t c) {
    if (c == '\'' || c == '.' || c == ':' || c == '^' || c == '`' || c == 0xB7 || c == 0x2018 || c == 0x2019 ||
        c == 0x2024 || c == 0xFE13 || c == 0xFE52 || c == 0xFE55 || c == 0xFF07 || c == 0xFF0E || c == 0xFF1A)
        return 1;
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_SK: return 1;
    default: return 0;
    }
}

static int cased(int32_t c) {
    utf8proc_category_t k = utf8proc_category(c);
    if (k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT) return 1;
    return utf8proc_tolower(c) != c || utf8proc_toupper(c) != c;
}

// Rust str::to_lowercase: full mappings (U+0130 -> "i\u0307") and the final-sigma rule.
static int lowercase(const char *s, size_t len, tk_buf *out) {
    if (tk_buf_reserve(out, len)) return -1;
    size_t i = 0;
    while (i < len) {
        int32_t c;
        size_t l = tk_utf8_next(s + i, len - i, &c);
        char w[8];
        int wl;
        if (c < 0x80) {
            w[0] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            wl = 1;
        } else if (c == 0x130) {
            memcpy(w, "i\xCC\x87", 3);
            wl = 3;
        } else if (c == 0x3A3) {
            // Final sigma: preceded by a cased letter and not followed by one (ignoring
            // case-ignorable characters in between).
            int before = 0, after = 0;
            size_t j = i;
            while (j > 0) {
                size_t k = j - 1;
                while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
                int32_t d;
                tk_utf8_next(s + k, len - k, &d);
                j = k;
                if (case_ignorable(d)) continue;
                before = cased(d);
                break;
            }
            for (j = i + l; before && j < len;) {
                int32_t d;
                j += tk_utf8_next(s + j, len - j, &d);
                if (case_ignorable(d)) continue;
                after = cased(d);
                break;
            }
            wl = tk_utf8_put(w, before && !after ? 0x3C2 : 0x3C3);
        } else {
            wl = tk_utf8_put(w, utf8proc_tolower(c));
        }
        if (tk_buf_put(out, w, (size_t)wl)) return -1;
        i += l;
    }
    return 0;
}

// Removes characters whose general category is in `mask` (bit per utf8proc category).
static int filter_categories(const char *s, size_t len, unsigned mask, tk_buf *out) {
    size_t i = 0;
    while (i < len) {
        int32_t c;
        size_t l = tk_utf8_next(s + i, len - i, &c);
        if (!(mask & (1u << utf8proc_category(c))) && tk_buf_put(out, s + i, l)) return -1;
        i += l;
    }
    return 0;
}

static int bert_normalize(const tk_norm *n, const char *s, size_t len, tk_buf *out) {
    tk_buf a = {0}, b = {0};
    int rc = -1;
    if (tk_buf_reserve(&a, len)) goto done;
    for (size_t i = 0; i < len;) {
        int32_t c;
        size_t l = tk_utf8_next(s + i, len - i, &c);
        i += l;
        if (n->clean_text) {
            if (c == 0 || c == 0xFFFD || tk_is_bert_control(c)) continue;
            if (tk_is_whitespace(c)) {
                if (tk_buf_put(&a, " ", 1)) goto done;
                continue;
            }
        }
        if (n->chinese && tk_is_chinese(c)) {
            char w[8];
            w[0] = ' ';
            int wl = tk_utf8_put(w + 1, c);
            w[1 + wl] = ' ';
            if (tk_buf_put(&a, w, (size_t)wl + 2)) goto done;
            continue;
        }
        if (tk_buf_put(&a, s + i - l, l)) goto done;
    }
    if (n->strip_accents) {
        if (unicode_form(a.p, a.n, UTF8PROC_DECOMPOSE, &b)) goto done;
        a.n = 0;
        if (filter_categories(b.p, b.n, 1u << UTF8PROC_CATEGORY_MN, &a)) goto done;
    }
    rc = n->lowercase ? lowercase(a.p, a.n, out) : tk_buf_put(out, a.p, a.n);
done:
    tk_buf_free(&a);
    tk_buf_free(&b);
    return rc;
}

static int strip(const tk_norm *n, const char *s, size_t len, tk_buf *out) {
    size_t b = 0, e = len;
    if (n->left)
        while (b < e) {
            int32_t c;
            size_t l = tk_utf8_next(s + b, e - b, &c);
            if (!tk_is_whitespace(c)) break;
            b += l;
        }
    if (n->right)
        while (e > b) {
            size_t k = e - 1;
            while (k > b && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
            int32_t c;
            tk_utf8_next(s + k, e - k, &c);
            if (!tk_is_whitespace(c)) break;
            e = k;
        }
    return tk_buf_put(out, s + b, e - b);
}

static int replace(const tk_pattern *pat, const char *content, size_t content_len, const char *s, size_t len,
                   tk_buf *out) {
    tk_spans sp = {0};
    if (tk_pattern_find(pat, s, len, &sp)) {
        free(sp.v);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < sp.n && !rc; i++) {
        if (sp.v[i].match) rc = tk_buf_put(out, content, content_len);
        else rc = tk_buf_put(out, s + sp.v[i].s, sp.v[i].e - sp.v[i].s);
    }
    free(sp.v);
    return rc;
}

// SentencePiece's NMT normalisation (normalizers/unicode.rs Nmt): drop some control characters,
// map others to a space.
static int nmt(const char *s, size_t len, tk_buf *out) {
    for (size_t i = 0; i < len;) {
        int32_t c;
        size_t l = tk_utf8_next(s + i, len - i, &c);
        i += l;
        if ((c >= 0x0001 && c <= 0x0008) || c == 0x000B || (c >= 0x000E && c <= 0x001F) || c == 0x007F ||
            c == 0x008F || c == 0x009F)
            continue;
        if (c == 0x0009 || c == 0x000A || c == 0x000C || c == 0x000D || c == 0x1680 || (c >= 0x200B && c <= 0x200F) ||
            c == 0x2028 || c == 0x2029 || c == 0x2581 || c == 0xFEFF || c == 0xFFFD) {
            if (tk_buf_put(out, " ", 1)) return -1;
            continue;
        }
        if (tk_buf_put(out, s + i - l, l)) return -1;
    }
    return 0;
}

static int bytelevel(const char *s, size_t len, tk_buf *out) {
    for (size_t i = 0; i < len; i++) {
        char w[4];
        int wl = tk_utf8_put(w, tk_byte_to_cp[(unsigned char)s[i]]);
        if (tk_buf_put(out, w, (size_t)wl)) return -1;
    }
    return 0;
}

int tk_norm_apply(const tk_norm *n, const char *s, size_t len, tk_buf *out) {
    out->n = 0;
    if (tk_buf_reserve(out, 0)) return -1;
    out->p[0] = '\0';
    switch (n->kind) {
    case NORM_SEQUENCE: {
        if (tk_buf_put(out, s, len)) return -1;
        tk_buf tmp = {0};
        for (int i = 0; i < n->n_kids; i++) {
            if (tk_norm_apply(n->kids[i], out->p, out->n, &tmp)) {
                tk_buf_free(&tmp);
                return -1;
            }
            tk_buf swap = *out;
            *out = tmp;
            tmp = swap;
        }
        tk_buf_free(&tmp);
        return 0;
    }
    case NORM_NFC: return unicode_form(s, len, UTF8PROC_COMPOSE, out);
    case NORM_NFD: return unicode_form(s, len, UTF8PROC_DECOMPOSE, out);
    case NORM_NFKC: return unicode_form(s, len, UTF8PROC_COMPOSE | UTF8PROC_COMPAT, out);
    case NORM_NFKD: return unicode_form(s, len, UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT, out);
    case NORM_LOWERCASE: return lowercase(s, len, out);
    case NORM_STRIP_ACCENTS:
        return filter_categories(s, len,
                                 (1u << UTF8PROC_CATEGORY_MN) | (1u << UTF8PROC_CATEGORY_MC) |
                                     (1u << UTF8PROC_CATEGORY_ME),
                                 out);
    case NORM_STRIP: return strip(n, s, len, out);
    case NORM_REPLACE: return replace(&n->pat, n->content, n->content_len, s, len, out);
    case NORM_PREPEND:
        if (len && tk_buf_put(out, n->content, n->content_len)) return -1;
        return tk_buf_put(out, s, len);
    case NORM_BERT: return bert_normalize(n, s, len, out);
    case NORM_NMT: return nmt(s, len, out);
    case NORM_BYTELEVEL: return bytelevel(s, len, out);
    case NORM_PRECOMPILED: return precompiled(n, s, len, out);
    }
    return -1;
}

// Buffers, hash maps, UTF-8, Unicode predicates and regex matching for the tokenizer.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tokenizer/tok_internal.h"

// ---- buffers ---------------------------------------------------------------------------------

int tk_buf_reserve(tk_buf *b, size_t extra) {
    if (extra > SIZE_MAX - b->n - 1) return -1;
    size_t need = b->n + extra + 1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

int tk_buf_put(tk_buf *b, const void *s, size_t n) {
    if (tk_buf_reserve(b, n)) return -1;
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return 0;
}

void tk_buf_free(tk_buf *b) {
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

int tk_ids_push(tk_ids *a, int id) {
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        if (cap > SIZE_MAX / sizeof(int)) return -1;
        int *v = realloc(a->v, cap * sizeof *v);
        if (!v) return -1;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = id;
    return 0;
}

int tk_pieces_add(tk_pieces *p, const char *s, size_t len, int first) {
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 32;
        if (cap > SIZE_MAX / sizeof(tk_piece)) return -1;
        tk_piece *v = realloc(p->v, cap * sizeof *v);
        if (!v) return -1;
        p->v = v;
        p->cap = cap;
    }
    size_t off = p->text.n;
    // Each piece is NUL-terminated so that it can be handed to code expecting C strings.
    if (tk_buf_put(&p->text, s, len) || tk_buf_put(&p->text, "", 1)) return -1;
    p->v[p->n++] = (tk_piece){off, len, first};
    return 0;
}

void tk_pieces_reset(tk_pieces *p) {
    p->n = 0;
    p->text.n = 0;
}

void tk_pieces_free(tk_pieces *p) {
    tk_buf_free(&p->text);
    free(p->v);
    p->v = NULL;
    p->n = p->cap = 0;
}

// ---- arena -----------------------------------------------------------------------------------

struct tk_arena_block {
    tk_arena_block *next;
    size_t used, cap;
    char data[];
};

char *tk_arena_strdup(tk_arena *a, const char *s, size_t n) {
    if (n > SIZE_MAX / 2) return NULL;
    tk_arena_block *b = a->head;
    if (!b || b->cap - b->used < n + 1) {
        size_t cap = n + 1 > (1u << 20) ? n + 1 : (1u << 20);
        b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->next = a->head;
        b->used = 0;
        b->cap = cap;
        a->head = b;
    }
    char *r = b->data + b->used;
    memcpy(r, s, n);
    r[n] = '\0';
    b->used += n + 1;
    return r;
}

void tk_arena_free(tk_arena *a) {
    for (tk_arena_block *b = a->head, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    a->head = NULL;
}

// ---- hash maps -------------------------------------------------------------------------------

static uint32_t hash_bytes(const char *s, size_t n) {
    uint32_t h = 2166136261u;  // FNV-1a
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    h ^= h >> 15;  // spread the high bits into the low ones used as the slot index
    h *= 0x2c1b3c6dU;
    h ^= h >> 12;
    return h;
}

static int strmap_grow_to(tk_strmap *m, size_t cap) {
    if (cap > SIZE_MAX / sizeof(tk_sm_entry)) return -1;
    tk_sm_entry *e = calloc(cap, sizeof *e);
    if (!e) return -1;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->e[i].key) continue;
        size_t j = m->e[i].hash & (cap - 1);
        while (e[j].key) j = (j + 1) & (cap - 1);
        e[j] = m->e[i];
    }
    free(m->e);
    m->e = e;
    m->cap = cap;
    return 0;
}

static int strmap_grow(tk_strmap *m) { return strmap_grow_to(m, m->cap ? m->cap * 2 : 1024); }

// Tables are kept at most 3/4 full (linear probing stays short; fewer pages to touch than 1/2).
int tk_strmap_reserve(tk_strmap *m, size_t n) {
    size_t cap = m->cap ? m->cap : 1024;
    while (cap * 3 < (n + 1) * 4) cap *= 2;
    return cap > m->cap ? strmap_grow_to(m, cap) : 0;
}

int tk_strmap_put(tk_strmap *m, const char *key, size_t len, int val) {
    return tk_strmap_put_hashed(m, key, len, val, hash_bytes(key, len));
}

int tk_strmap_put_hashed(tk_strmap *m, const char *key, size_t len, int val, uint32_t h) {
    if (len > UINT32_MAX) return -1;
    if ((m->n + 1) * 4 > m->cap * 3 && strmap_grow(m)) return -1;
    size_t j = h & (m->cap - 1);
    while (m->e[j].key) {
        if (m->e[j].hash == h && m->e[j].len == len && memcmp(m->e[j].key, key, len) == 0) {
            m->e[j].val = val;
            return 0;
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->e[j] = (tk_sm_entry){key, (uint32_t)len, h, val};
    m->n++;
    return 0;
}

uint32_t tk_strmap_hash(const char *key, size_t len) { return hash_bytes(key, len); }

void tk_strmap_prefetch(const tk_strmap *m, uint32_t h) {
    if (m->cap) __builtin_prefetch(&m->e[h & (m->cap - 1)]);
}

int tk_strmap_get(const tk_strmap *m, const char *key, size_t len) {
    return tk_strmap_get_hashed(m, key, len, hash_bytes(key, len));
}

int tk_strmap_get_hashed(const tk_strmap *m, const char *key, size_t len, uint32_t h) {
    if (!m->cap) return -1;
    size_t j = h & (m->cap - 1);
    while (m->e[j].key) {
        if (m->e[j].hash == h && m->e[j].len == len && memcmp(m->e[j].key, key, len) == 0) return m->e[j].val;
        j = (j + 1) & (m->cap - 1);
    }
    return -1;
}

void tk_strmap_free(tk_strmap *m) {
    free(m->e);
    m->e = NULL;
    m->cap = m->n = 0;
}

static size_t hash_u64(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t)k;
}

static int pairmap_grow_to(tk_pairmap *m, size_t cap) {
    if (cap > SIZE_MAX / sizeof(tk_pm_entry)) return -1;
    tk_pm_entry *e = malloc(cap * sizeof *e);
    if (!e) return -1;
    for (size_t i = 0; i < cap; i++) e[i].key = UINT64_MAX;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->e[i].key == UINT64_MAX) continue;
        size_t j = hash_u64(m->e[i].key) & (cap - 1);
        while (e[j].key != UINT64_MAX) j = (j + 1) & (cap - 1);
        e[j] = m->e[i];
    }
    free(m->e);
    m->e = e;
    m->cap = cap;
    return 0;
}

static int pairmap_grow(tk_pairmap *m) { return pairmap_grow_to(m, m->cap ? m->cap * 2 : 1024); }

int tk_pairmap_reserve(tk_pairmap *m, size_t n) {
    size_t cap = m->cap ? m->cap : 1024;
    while (cap * 3 < (n + 1) * 4) cap *= 2;
    return cap > m->cap ? pairmap_grow_to(m, cap) : 0;
}

void tk_pairmap_prefetch(const tk_pairmap *m, uint64_t key) {
    if (m->cap) __builtin_prefetch(&m->e[hash_u64(key) & (m->cap - 1)]);
}

int tk_pairmap_put(tk_pairmap *m, uint64_t key, int a, int b) {
    if ((m->n + 1) * 4 > m->cap * 3 && pairmap_grow(m)) return -1;
    size_t j = hash_u64(key) & (m->cap - 1);
    while (m->e[j].key != UINT64_MAX) {
        if (m->e[j].key == key) {
            m->e[j].a = a;
            m->e[j].b = b;
            return 0;
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->e[j] = (tk_pm_entry){key, a, b};
    m->n++;
    return 0;
}

const tk_pm_entry *tk_pairmap_get(const tk_pairmap *m, uint64_t key) {
    if (!m->cap) return NULL;
    size_t j = hash_u64(key) & (m->cap - 1);
    while (m->e[j].key != UINT64_MAX) {
        if (m->e[j].key == key) return &m->e[j];
        j = (j + 1) & (m->cap - 1);
    }
    return NULL;
}

void tk_pairmap_free(tk_pairmap *m) {
    free(m->e);
    m->e = NULL;
    m->cap = m->n = 0;
}

// ---- UTF-8 -----------------------------------------------------------------------------------

size_t tk_utf8_next(const char *s, size_t n, int32_t *cp) {
    const unsigned char *p = (const unsigned char *)s;
    unsigned c = p[0];
    if (c < 0x80 || n < 2) {
        *cp = (int32_t)c;
        return 1;
    }
    if (c < 0xE0) {
        *cp = (int32_t)(((c & 0x1F) << 6) | (p[1] & 0x3F));
        return 2;
    }
    if (c < 0xF0 || n < 4) {
        if (n < 3) {
            *cp = (int32_t)c;
            return 1;
        }
        *cp = (int32_t)(((c & 0x0F) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3F));
        return 3;
    }
    *cp = (int32_t)(((c & 0x07) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3F));
    return 4;
}

size_t tk_utf8_valid(const unsigned char *p, size_t n) {
    if (!n) return 0;
    unsigned c = p[0];
    if (c < 0x80) return 1;
    if (c < 0xC2 || c > 0xF4) return 0;
    size_t len = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (n < 2 || (p[1] & 0xC0) != 0x80) return 0;
    if (c == 0xE0 && p[1] < 0xA0) return 0;
    if (c == 0xED && p[1] > 0x9F) return 0;
    if (c == 0xF0 && p[1] < 0x90) return 0;
    if (c == 0xF4 && p[1] > 0x8F) return 0;
    for (size_t i = 2; i < len; i++)
        if (i >= n || (p[i] & 0xC0) != 0x80) return 0;
    return len;
}

size_t tk_utf8_check(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = tk_utf8_valid(p + i, n - i);
        if (!l) return i;
        i += l;
    }
    return n;
}

int tk_utf8_put(char *w, int32_t cp) {
    utf8proc_ssize_t n = utf8proc_encode_char(cp, (utf8proc_uint8_t *)w);
    return (int)n;
}

int tk_buf_put_lossy(tk_buf *b, const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        size_t start = i;
        while (i < n) {
            size_t l = s[i] < 0x80 ? 1 : tk_utf8_valid(s + i, n - i);
            if (!l) break;
            i += l;
        }
        if (tk_buf_put(b, s + start, i - start)) return -1;
        if (i >= n) break;
        // Maximal subpart: a lead byte followed by as many valid continuation bytes as fit.
        size_t skip = 1;
        unsigned c = s[i];
        if (c >= 0xC2 && c <= 0xF4) {
            size_t len = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
            for (size_t k = 1; k < len && i + k < n; k++) {
                unsigned d = s[i + k];
                unsigned lo = 0x80, hi = 0xBF;
                if (k == 1) {
                    if (c == 0xE0) lo = 0xA0;
                    if (c == 0xED) hi = 0x9F;
                    if (c == 0xF0) lo = 0x90;
                    if (c == 0xF4) hi = 0x8F;
                }
                if (d < lo || d > hi) break;
                skip = k + 1;
            }
        }
        if (tk_buf_put(b, "\xEF\xBF\xBD", 3)) return -1;
        i += skip;
    }
    return 0;
}

// ---- Unicode predicates ----------------------------------------------------------------------

int tk_is_whitespace(int32_t c) {
    if (c >= 0x09 && c <= 0x0D) return 1;
    if (c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680) return 1;
    if (c >= 0x2000 && c <= 0x200A) return 1;
    return c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

int tk_is_punct(int32_t c) {
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return 1;
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO: return 1;
    default: return 0;
    }
}

int tk_is_numeric(int32_t c) {
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO;
}

int tk_is_alnum(int32_t c) {
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO: return 1;
    default: return 0;
    }
}

// BertNormalizer's control characters. huggingface/tokenizers asks the unicode_categories crate's
// is_other(), which is Cc, Cf and Co only (no Cn: unassigned code points and noncharacters such as
// U+FDD0 and U+FFFF are kept), from the crate's old tables, Unicode 7-8: format characters assigned
// since (U+0890, U+08E2, U+110CD, U+13430, ...) are kept too. So this is a table, not utf8proc's
// current categories; tests/test_tokenizer.c checks it against huggingface/tokenizers for every code
// point. \t \n \r are left out (clean_text turns them into spaces).
static const int32_t bert_control[][2] = {
    {0x0000, 0x0008}, {0x000B, 0x000C}, {0x000E, 0x001F}, {0x007F, 0x009F}, {0x00AD, 0x00AD}, {0x0600, 0x0605},
    {0x061C, 0x061C}, {0x06DD, 0x06DD}, {0x070F, 0x070F}, {0x180E, 0x180E}, {0x200B, 0x200F}, {0x202A, 0x202E},
    {0x2060, 0x2064}, {0x2066, 0x206F}, {0xE000, 0xF8FF}, {0xFEFF, 0xFEFF}, {0xFFF9, 0xFFFB}, {0x110BD, 0x110BD},
    {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A}, {0xE0001, 0xE0001}, {0xE0020, 0xE007F}, {0xF0000, 0xFFFFD},
    {0x100000, 0x10FFFD},
};

int tk_is_bert_control(int32_t c) {
    size_t lo = 0, hi = sizeof bert_control / sizeof bert_control[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c < bert_control[mid][0]) hi = mid;
        else if (c > bert_control[mid][1]) lo = mid + 1;
        else return 1;
    }
    return 0;
}

int tk_is_chinese(int32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// GPT-2's bytes_to_unicode(): printable Latin-1 bytes map to themselves, the other 68 bytes to
// U+0100 + n in byte order.
const uint16_t tk_byte_to_cp[256] = {
    0x100, 0x101, 0x102, 0x103, 0x104, 0x105, 0x106, 0x107, 0x108, 0x109, 0x10A, 0x10B, 0x10C, 0x10D, 0x10E, 0x10F,
    0x110, 0x111, 0x112, 0x113, 0x114, 0x115, 0x116, 0x117, 0x118, 0x119, 0x11A, 0x11B, 0x11C, 0x11D, 0x11E, 0x11F,
    0x120, 0x021, 0x022, 0x023, 0x024, 0x025, 0x026, 0x027, 0x028, 0x029, 0x02A, 0x02B, 0x02C, 0x02D, 0x02E, 0x02F,
    0x030, 0x031, 0x032, 0x033, 0x034, 0x035, 0x036, 0x037, 0x038, 0x039, 0x03A, 0x03B, 0x03C, 0x03D, 0x03E, 0x03F,
    0x040, 0x041, 0x042, 0x043, 0x044, 0x045, 0x046, 0x047, 0x048, 0x049, 0x04A, 0x04B, 0x04C, 0x04D, 0x04E, 0x04F,
    0x050, 0x051, 0x052, 0x053, 0x054, 0x055, 0x056, 0x057, 0x058, 0x059, 0x05A, 0x05B, 0x05C, 0x05D, 0x05E, 0x05F,
    0x060, 0x061, 0x062, 0x063, 0x064, 0x065, 0x066, 0x067, 0x068, 0x069, 0x06A, 0x06B, 0x06C, 0x06D, 0x06E, 0x06F,
    0x070, 0x071, 0x072, 0x073, 0x074, 0x075, 0x076, 0x077, 0x078, 0x079, 0x07A, 0x07B, 0x07C, 0x07D, 0x07E, 0x121,
    0x122, 0x123, 0x124, 0x125, 0x126, 0x127, 0x128, 0x129, 0x12A, 0x12B, 0x12C, 0x12D, 0x12E, 0x12F, 0x130, 0x131,
    0x132, 0x133, 0x134, 0x135, 0x136, 0x137, 0x138, 0x139, 0x13A, 0x13B, 0x13C, 0x13D, 0x13E, 0x13F, 0x140, 0x141,
    0x142, 0x0A1, 0x0A2, 0x0A3, 0x0A4, 0x0A5, 0x0A6, 0x0A7, 0x0A8, 0x0A9, 0x0AA, 0x0AB, 0x0AC, 0x143, 0x0AE, 0x0AF,
    0x0B0, 0x0B1, 0x0B2, 0x0B3, 0x0B4, 0x0B5, 0x0B6, 0x0B7, 0x0B8, 0x0B9, 0x0BA, 0x0BB, 0x0BC, 0x0BD, 0x0BE, 0x0BF,
    0x0C0, 0x0C1, 0x0C2, 0x0C3, 0x0C4, 0x0C5, 0x0C6, 0x0C7, 0x0C8, 0x0C9, 0x0CA, 0x0CB, 0x0CC, 0x0CD, 0x0CE, 0x0CF,
    0x0D0, 0x0D1, 0x0D2, 0x0D3, 0x0D4, 0x0D5, 0x0D6, 0x0D7, 0x0D8, 0x0D9, 0x0DA, 0x0DB, 0x0DC, 0x0DD, 0x0DE, 0x0DF,
    0x0E0, 0x0E1, 0x0E2, 0x0E3, 0x0E4, 0x0E5, 0x0E6, 0x0E7, 0x0E8, 0x0E9, 0x0EA, 0x0EB, 0x0EC, 0x0ED, 0x0EE, 0x0EF,
    0x0F0, 0x0F1, 0x0F2, 0x0F3, 0x0F4, 0x0F5, 0x0F6, 0x0F7, 0x0F8, 0x0F9, 0x0FA, 0x0FB, 0x0FC, 0x0FD, 0x0FE, 0x0FF,
};

int tk_cp_to_byte(int32_t cp) {
    if (cp >= 0x21 && cp <= 0x7E) return cp;
    if ((cp >= 0xA1 && cp <= 0xAC) || (cp >= 0xAE && cp <= 0xFF)) return cp;
    if (cp < 0x100 || cp > 0x143) return -1;
    int n = cp - 0x100;  // the n-th byte outside the printable ranges
    for (int b = 0; b < 256; b++)
        if (tk_byte_to_cp[b] >= 0x100 && n-- == 0) return b;
    return -1;
}

// ---- regex -----------------------------------------------------------------------------------

int tk_regex_compile(regex_t **re, const char *pat, size_t len, const char *path, lrp_err *err) {
    static int initialized;
    if (!initialized) {
        OnigEncoding enc = ONIG_ENCODING_UTF8;
        onig_initialize(&enc, 1);
        initialized = 1;
    }
    OnigErrorInfo info;
    int r = onig_new(re, (const OnigUChar *)pat, (const OnigUChar *)pat + len, ONIG_OPTION_NONE, ONIG_ENCODING_UTF8,
                     ONIG_SYNTAX_DEFAULT, &info);
    if (r != ONIG_NORMAL) {
        OnigUChar msg[ONIG_MAX_ERROR_MESSAGE_LEN];
        onig_error_code_to_str(msg, r, &info);
        *re = NULL;
        return lrp_fail(err, "%s: invalid regex: %s", path, (const char *)msg);
    }
    return 0;
}

static int spans_push(tk_spans *o, size_t s, size_t e, int match) {
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 64;
        if (cap > SIZE_MAX / sizeof(tk_span)) return -1;
        tk_span *v = realloc(o->v, cap * sizeof *v);
        if (!v) return -1;
        o->v = v;
        o->cap = cap;
    }
    o->v[o->n++] = (tk_span){s, e, match};
    return 0;
}

int tk_regex_find(regex_t *re, const char *s, size_t n, tk_spans *out) {
    out->n = 0;
    if (n == 0) return spans_push(out, 0, 0, 0);
    OnigRegion *region = onig_region_new();
    if (!region) return -1;
    const OnigUChar *str = (const OnigUChar *)s, *end = str + n;
    size_t prev = 0, pos = 0;
    int have_last = 0;
    size_t last_end = 0;
    int rc = 0;
    while (pos <= n) {
        int r = onig_search(re, str, end, str + pos, end, region, ONIG_OPTION_NONE);
        if (r < 0) break;  // ONIG_MISMATCH (or an error: treat as no further match)
        size_t ms = (size_t)region->beg[0], me = (size_t)region->end[0];
        if (ms == me && have_last && last_end == me) {
            // No empty match right after the previous match (as the onig crate's find_iter).
            if (pos >= n) break;
            int32_t cp;
            pos += tk_utf8_next(s + pos, n - pos, &cp);
            continue;
        }
        if (prev != ms && spans_push(out, prev, ms, 0)) { rc = -1; break; }
        if (spans_push(out, ms, me, 1)) { rc = -1; break; }
        prev = me;
        have_last = 1;
        last_end = me;
        if (me == ms) {
            if (me >= n) break;
            int32_t cp;
            pos = me + tk_utf8_next(s + me, n - me, &cp);
        } else {
            pos = me;
        }
    }
    onig_region_free(region, 1);
    if (rc) return -1;
    if (prev != n && spans_push(out, prev, n, 0)) return -1;
    return 0;
}

int tk_pattern_find(const tk_pattern *p, const char *s, size_t n, tk_spans *out) {
    if (p->is_regex) return tk_regex_find(p->re, s, n, out);
    out->n = 0;
    if (n == 0) return spans_push(out, 0, 0, 0);
    size_t prev = 0, i = 0;
    if (p->lit_len) {
        while (i + p->lit_len <= n) {
            if (memcmp(s + i, p->lit, p->lit_len) == 0) {
                if (prev != i && spans_push(out, prev, i, 0)) return -1;
                if (spans_push(out, i, i + p->lit_len, 1)) return -1;
                i += p->lit_len;
                prev = i;
            } else {
                i++;
            }
        }
    }
    if (prev != n && spans_push(out, prev, n, 0)) return -1;
    return 0;
}

int tk_pattern_build(tk_pattern *p, const tj_value *v, const char *path, lrp_err *err) {
    memset(p, 0, sizeof *p);
    if (!v || v->type != TJ_OBJECT) return lrp_fail(err, "%s: expected an object {\"String\"|\"Regex\": ...}", path);
    const tj_value *s = tj_get(v, "String"), *r = tj_get(v, "Regex");
    if (s && s->type == TJ_STRING) {
        p->lit = malloc((size_t)s->n + 1);
        if (!p->lit) return lrp_fail(err, "%s: out of memory", path);
        memcpy(p->lit, s->u.str, (size_t)s->n + 1);
        p->lit_len = s->n;
        return 0;
    }
    if (r && r->type == TJ_STRING) {
        p->is_regex = 1;
        char sub[512];
        snprintf(sub, sizeof sub, "%s.Regex", path);
        return tk_regex_compile(&p->re, r->u.str, r->n, sub, err);
    }
    return lrp_fail(err, "%s: expected \"String\" or \"Regex\"", path);
}

void tk_pattern_free(tk_pattern *p) {
    free(p->lit);
    if (p->re) onig_free(p->re);
    memset(p, 0, sizeof *p);
}

// ---- JSON field helpers ----------------------------------------------------------------------

int tk_json_bool(const tj_value *obj, const char *key, int dflt, const char *path, int *out, lrp_err *err) {
    const tj_value *v = tj_get(obj, key);
    if (!v || v->type == TJ_NULL) {
        *out = dflt;
        return 0;
    }
    if (v->type != TJ_TRUE && v->type != TJ_FALSE)
        return lrp_fail(err, "%s.%s: expected a boolean, got %s", path, key, tj_type_name(v->type));
    *out = v->type == TJ_TRUE;
    return 0;
}

int tk_json_int(const tj_value *obj, const char *key, int dflt, const char *path, int *out, lrp_err *err) {
    const tj_value *v = tj_get(obj, key);
    if (!v || v->type == TJ_NULL) {
        *out = dflt;
        return 0;
    }
    // The range first: casting a number beyond it is undefined (found by fuzz_tokenizer_json).
    if (v->type != TJ_NUMBER || !(v->u.num >= -2147483647.0 && v->u.num <= 2147483647.0) ||
        v->u.num != (double)(int)v->u.num)
        return lrp_fail(err, "%s.%s: expected an integer", path, key);
    *out = (int)v->u.num;
    return 0;
}

int tk_json_str(const tj_value *obj, const char *key, int allow_null, const char *path, const tj_value **out,
                lrp_err *err) {
    const tj_value *v = tj_get(obj, key);
    *out = NULL;
    if (!v || v->type == TJ_NULL) {
        if (allow_null) return 0;
        return lrp_fail(err, "%s.%s: missing", path, key);
    }
    if (v->type != TJ_STRING) return lrp_fail(err, "%s.%s: expected a string, got %s", path, key, tj_type_name(v->type));
    *out = v;
    return 0;
}

const char *tk_json_type(const tj_value *obj) {
    const tj_value *t = tj_get(obj, "type");
    return t && t->type == TJ_STRING ? t->u.str : NULL;
}

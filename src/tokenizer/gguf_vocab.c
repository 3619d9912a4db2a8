// Tokenizers embedded in GGUF files (the tokenizer.ggml.* metadata of llama.cpp's converters).
// There is no second tokenizer engine here: the GGUF vocabulary is restated as the Hugging Face
// tokenizer.json that describes the same tokenizer, and that text goes to lrp_tokenizer_load_json.
//
// "llama" (SentencePiece BPE): what transformers' LlamaTokenizerFast conversion (legacy mode) builds:
//   a BPE model with byte_fallback and fuse_unk whose merges are derived from the scores. For every
//   normal piece p and every split p = a + b (at a character boundary) with a and b in the vocabulary
//   there is a merge (a, b), and merges are ranked by the score of p, highest first. Merging by that rank
//   is SentencePiece's rule "merge the adjacent pair whose concatenation has the highest score".
//   Normalizer: Prepend("▁") (unless tokenizer.ggml.add_space_prefix is false), then " " -> "▁";
//   decoder: "▁" -> " ", byte fallback, fuse, strip the one leading space the prefix added.
// "gpt2" (byte-level BPE): the file's merges; the pre-tokenizer regexes named by tokenizer.ggml.pre are
//   the ones llama.cpp applies (llama-vocab.cpp), in the original tokenizer.json spelling where
//   llama.cpp adapted them for std::regex. Each regex is an isolating Split, then the ByteLevel mapping.
// Both: control and unknown tokens (and the BOS/EOS/UNK/PAD ids) become special added tokens,
//   user-defined tokens plain added tokens (matched in the raw text, as llama.cpp does);
//   tokenizer.ggml.add_bos_token / add_eos_token (defaults as llama.cpp: "llama" adds BOS, not EOS)
//   become a TemplateProcessing post-processor.
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gguf.h"
#include "tokenizer/tok_internal.h"
#include "tokenizer/tokenizer.h"

// Token types of tokenizer.ggml.token_type (llama.cpp's llama_token_type).
enum { TT_UNDEFINED = 0, TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER_DEFINED = 4, TT_UNUSED = 5, TT_BYTE = 6 };

typedef struct {
    const char *where;
    int n;               // tokens
    const char **text;   // [n] pointers into the GGUF metadata
    size_t *len;         // [n]
    int *type;           // [n] TT_*
    float *score;        // [n]
    tk_strmap ids;       // text -> id
    int bos, eos, unk, pad;  // -1: none
    int add_bos, add_eos;
} gguf_vocab;

static void vocab_free(gguf_vocab *v) {
    free(v->text);
    free(v->len);
    free(v->type);
    free(v->score);
    tk_strmap_free(&v->ids);
}

static int vocab_id(const gguf_vocab *v, const char *s, size_t n) { return tk_strmap_get(&v->ids, s, n); }

// ---- JSON text --------------------------------------------------------------------------------

typedef struct {
    tk_buf b;
    int oom;
} json_out;

static void put_raw(json_out *w, const char *s, size_t n) {
    if (!w->oom && tk_buf_put(&w->b, s, n)) w->oom = 1;
}

static void put(json_out *w, const char *s) { put_raw(w, s, strlen(s)); }

static void put_int(json_out *w, long long x) {
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", x);
    put(w, buf);
}

// A JSON string literal of s[0..n) (valid UTF-8; control characters and NUL escaped).
static void put_str(json_out *w, const char *s, size_t n) {
    put_raw(w, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        put_raw(w, s + run, i - run);
        char esc[8];
        if (c == '"' || c == '\\') snprintf(esc, sizeof esc, "\\%c", c);
        else snprintf(esc, sizeof esc, "\\u%04x", c);
        put(w, esc);
        run = i + 1;
    }
    put_raw(w, s + run, n - run);
    put_raw(w, "\"", 1);
}

static void put_cstr(json_out *w, const char *s) { put_str(w, s, strlen(s)); }

static void put_token(json_out *w, const gguf_vocab *v, int id) { put_str(w, v->text[id], v->len[id]); }

// ---- reading the metadata ---------------------------------------------------------------------

// A token id key: absent -> dflt; an id outside the vocabulary (4294967295 is how converters write
// "none") also keeps dflt, as llama.cpp does.
static int read_id(const lrp_tensor_file *tf, const gguf_vocab *v, const char *key, int dflt, int *out, lrp_err *err) {
    const lrp_gguf_value *val = lrp_gguf_get(tf, key);
    int64_t x;
    *out = dflt;
    if (!val) return 0;
    if (lrp_gguf_int(val, &x)) return lrp_fail(err, "%s: %s: expected an integer token id", v->where, key);
    if (x >= 0 && x < v->n) *out = (int)x;
    return 0;
}

static int read_flag(const lrp_tensor_file *tf, const gguf_vocab *v, const char *key, int dflt, int *out, lrp_err *err) {
    const lrp_gguf_value *val = lrp_gguf_get(tf, key);
    *out = dflt;
    if (val && lrp_gguf_bool(val, out)) return lrp_fail(err, "%s: %s: expected a bool", v->where, key);
    return 0;
}

// tokenizer.ggml.tokens, token_type and scores.
static int read_vocab(gguf_vocab *v, const lrp_tensor_file *tf, lrp_err *err) {
    const lrp_gguf_value *toks = lrp_gguf_get(tf, "tokenizer.ggml.tokens");
    if (!toks) return lrp_fail(err, "%s: tokenizer.ggml.tokens: missing", v->where);
    if (lrp_gguf_array_type(toks) != LRP_GGUF_STRING)
        return lrp_fail(err, "%s: tokenizer.ggml.tokens: expected an array of strings", v->where);
    uint64_t n = lrp_gguf_array_len(toks);
    if (n == 0 || n > (1u << 30)) return lrp_fail(err, "%s: tokenizer.ggml.tokens: %llu tokens", v->where, (unsigned long long)n);
    v->n = (int)n;
    v->text = calloc(n, sizeof *v->text);
    v->len = calloc(n, sizeof *v->len);
    v->type = calloc(n, sizeof *v->type);
    v->score = calloc(n, sizeof *v->score);
    if (!v->text || !v->len || !v->type || !v->score || tk_strmap_reserve(&v->ids, n))
        return lrp_fail(err, "%s: tokenizer.ggml.tokens: out of memory", v->where);

    const lrp_gguf_value *types = lrp_gguf_get(tf, "tokenizer.ggml.token_type");
    const lrp_gguf_value *scores = lrp_gguf_get(tf, "tokenizer.ggml.scores");
    if (types && lrp_gguf_array_len(types) != n)
        return lrp_fail(err, "%s: tokenizer.ggml.token_type: expected %llu entries (one per token), found %llu", v->where,
                        (unsigned long long)n, (unsigned long long)lrp_gguf_array_len(types));
    if (scores && lrp_gguf_array_len(scores) != n)
        return lrp_fail(err, "%s: tokenizer.ggml.scores: expected %llu entries (one per token), found %llu", v->where,
                        (unsigned long long)n, (unsigned long long)lrp_gguf_array_len(scores));
    for (int i = 0; i < v->n; i++) {
        v->text[i] = lrp_gguf_array_string(toks, (uint64_t)i, &v->len[i]);
        if (!v->text[i]) return lrp_fail(err, "%s: tokenizer.ggml.tokens[%d]: unreadable", v->where, i);
        size_t bad = tk_utf8_check(v->text[i], v->len[i]);
        if (bad != v->len[i])
            return lrp_fail(err, "%s: tokenizer.ggml.tokens[%d]: invalid UTF-8 at byte %zu", v->where, i, bad);
        int64_t t = TT_NORMAL;
        if (types && lrp_gguf_array_int(types, (uint64_t)i, &t))
            return lrp_fail(err, "%s: tokenizer.ggml.token_type[%d]: expected an integer", v->where, i);
        v->type[i] = t >= TT_NORMAL && t <= TT_BYTE ? (int)t : TT_NORMAL;  // undefined types count as normal
        double s = 0.0;
        if (scores && lrp_gguf_array_float(scores, (uint64_t)i, &s))
            return lrp_fail(err, "%s: tokenizer.ggml.scores[%d]: expected a number", v->where, i);
        v->score[i] = isnan(s) ? -INFINITY : (float)s;
        if (v->len[i] == 0) continue;  // an empty token is never produced by encode; several may exist
        int prev = vocab_id(v, v->text[i], v->len[i]);
        if (prev >= 0)
            return lrp_fail(err, "%s: tokenizer.ggml.tokens[%d]: \"%s\" repeats token %d", v->where, i, v->text[i], prev);
        if (tk_strmap_put(&v->ids, v->text[i], v->len[i], i))
            return lrp_fail(err, "%s: tokenizer.ggml.tokens: out of memory", v->where);
    }
    return 0;
}

static int is_special(const gguf_vocab *v, int id) {
    return v->type[id] == TT_CONTROL || v->type[id] == TT_UNKNOWN || id == v->bos || id == v->eos || id == v->unk ||
           id == v->pad;
}

// ---- the parts of tokenizer.json both models share --------------------------------------------

static void put_added_tokens(json_out *w, const gguf_vocab *v) {
    put(w, "\"added_tokens\":[");
    int first = 1;
    for (int i = 0; i < v->n; i++) {
        int special = is_special(v, i);
        if (!special && v->type[i] != TT_USER_DEFINED) continue;
        put(w, first ? "{\"id\":" : ",{\"id\":");
        put_int(w, i);
        put(w, ",\"content\":");
        put_token(w, v, i);
        put(w, ",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":");
        put(w, special ? "true}" : "false}");
        first = 0;
    }
    put(w, "],");
}

// One template: [BOS] $seq [EOS], items separated by commas (*first tracks the list).
static void put_template(json_out *w, const gguf_vocab *v, const char *seq, int type_id, int *first) {
    for (int k = 0; k < 3; k++) {
        if (k == 0 && !v->add_bos) continue;
        if (k == 2 && !v->add_eos) continue;
        put(w, *first ? "" : ",");
        *first = 0;
        if (k == 1) {
            put(w, "{\"Sequence\":{\"id\":");
            put_cstr(w, seq);
        } else {
            put(w, "{\"SpecialToken\":{\"id\":");
            put_token(w, v, k == 0 ? v->bos : v->eos);
        }
        put(w, type_id ? ",\"type_id\":1}}" : ",\"type_id\":0}}");
    }
}

static void put_special_entry(json_out *w, const gguf_vocab *v, int id) {
    put_token(w, v, id);
    put(w, ":{\"id\":");
    put_token(w, v, id);
    put(w, ",\"ids\":[");
    put_int(w, id);
    put(w, "],\"tokens\":[");
    put_token(w, v, id);
    put(w, "]}");
}

// BOS/EOS as a TemplateProcessing post-processor (null when neither is added).
static int put_post_processor(json_out *w, const gguf_vocab *v, lrp_err *err) {
    if (v->add_bos && v->bos < 0)
        return lrp_fail(err, "%s: tokenizer.ggml.add_bos_token is true but tokenizer.ggml.bos_token_id names no token",
                        v->where);
    if (v->add_eos && v->eos < 0)
        return lrp_fail(err, "%s: tokenizer.ggml.add_eos_token is true but tokenizer.ggml.eos_token_id names no token",
                        v->where);
    if (!v->add_bos && !v->add_eos) {
        put(w, "\"post_processor\":null,");
        return 0;
    }
    int first = 1;
    put(w, "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[");
    put_template(w, v, "A", 0, &first);
    first = 1;
    put(w, "],\"pair\":[");
    put_template(w, v, "A", 0, &first);
    put_template(w, v, "B", 1, &first);
    put(w, "],\"special_tokens\":{");
    if (v->add_bos) put_special_entry(w, v, v->bos);
    if (v->add_eos && (!v->add_bos || v->eos != v->bos)) {
        if (v->add_bos) put(w, ",");
        put_special_entry(w, v, v->eos);
    }
    put(w, "}},");
    return 0;
}

// "model": a BPE model up to the opening of its merges list (the caller writes the merges).
static void put_bpe_head(json_out *w, const gguf_vocab *v, int byte_fallback, int ignore_merges) {
    put(w, "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":");
    if (v->unk >= 0 && v->len[v->unk]) put_token(w, v, v->unk);
    else put(w, "null");
    put(w, ",\"continuing_subword_prefix\":null,\"end_of_word_suffix\":null,\"fuse_unk\":");
    put(w, byte_fallback ? "true" : "false");
    put(w, ",\"byte_fallback\":");
    put(w, byte_fallback ? "true" : "false");
    put(w, ",\"ignore_merges\":");
    put(w, ignore_merges ? "true" : "false");
    put(w, ",\"vocab\":{");
    int first = 1;
    for (int i = 0; i < v->n; i++) {  // empty tokens too: they decode to nothing
        if (!first) put(w, ",");
        put_token(w, v, i);
        put(w, ":");
        put_int(w, i);
        first = 0;
    }
    put(w, "},\"merges\":[");
}

static void put_merge(json_out *w, const char *a, size_t an, const char *b, size_t bn, int first) {
    put(w, first ? "[" : ",[");
    put_str(w, a, an);
    put(w, ",");
    put_str(w, b, bn);
    put(w, "]");
}

// ---- "llama": SentencePiece BPE ----------------------------------------------------------------

typedef struct {
    float score;  // of the merged piece
    int piece, left, right;
} spm_merge;

// Highest score first; then the merged piece's id, then the parts' ids (transformers' order).
static int spm_merge_cmp(const void *pa, const void *pb) {
    const spm_merge *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    if (a->piece != b->piece) return a->piece < b->piece ? -1 : 1;
    if (a->left != b->left) return a->left < b->left ? -1 : 1;
    return (a->right > b->right) - (a->right < b->right);
}

static int mergeable_part(const gguf_vocab *v, int id) {
    return id >= 0 && v->type[id] != TT_CONTROL && v->type[id] != TT_UNKNOWN && v->type[id] != TT_BYTE;
}

static int spm_merges(const gguf_vocab *v, spm_merge **out, size_t *n_out, lrp_err *err) {
    spm_merge *m = NULL;
    size_t n = 0, cap = 0;
    for (int p = 0; p < v->n; p++) {
        if (v->type[p] != TT_NORMAL) continue;
        const char *s = v->text[p];
        size_t len = v->len[p];
        for (size_t k = 0; k < len;) {
            int32_t cp;
            k += tk_utf8_next(s + k, len - k, &cp);  // split after each character but the last
            if (k >= len) break;
            int a = vocab_id(v, s, k), b = vocab_id(v, s + k, len - k);
            if (!mergeable_part(v, a) || !mergeable_part(v, b)) continue;
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 1024;
                spm_merge *t = realloc(m, nc * sizeof *t);
                if (!t) {
                    free(m);
                    return lrp_fail(err, "%s: deriving merges: out of memory", v->where);
                }
                m = t;
                cap = nc;
            }
            m[n++] = (spm_merge){v->score[p], p, a, b};
        }
    }
    if (n) qsort(m, n, sizeof *m, spm_merge_cmp);
    *out = m;
    *n_out = n;
    return 0;
}

static int llama_json(json_out *w, const gguf_vocab *v, const lrp_tensor_file *tf, lrp_err *err) {
    int add_prefix;
    if (read_flag(tf, v, "tokenizer.ggml.add_space_prefix", 1, &add_prefix, err)) return -1;
    spm_merge *m = NULL;
    size_t n_merges = 0;
    if (spm_merges(v, &m, &n_merges, err)) return -1;
    put(w, "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,");
    put_added_tokens(w, v);
    if (add_prefix)
        put(w, "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"\xe2\x96\x81\"},"
               "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\xe2\x96\x81\"}]},");
    else put(w, "\"normalizer\":{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\xe2\x96\x81\"},");
    put(w, "\"pre_tokenizer\":null,");
    if (put_post_processor(w, v, err)) {
        free(m);
        return -1;
    }
    put(w, "\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":{\"String\":\"\xe2\x96\x81\"},"
           "\"content\":\" \"},{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"}");
    if (add_prefix) put(w, ",{\"type\":\"Strip\",\"content\":\" \",\"start\":1,\"stop\":0}");
    put(w, "]},");
    put_bpe_head(w, v, 1, 0);
    for (size_t i = 0; i < n_merges; i++) {
        const spm_merge *e = &m[i];
        put_merge(w, v->text[e->left], v->len[e->left], v->text[e->right], v->len[e->right], i == 0);
    }
    put(w, "]}}");
    free(m);
    return 0;
}

// ---- "gpt2": byte-level BPE --------------------------------------------------------------------

#define RX_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
#define RX_LLAMA3 \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RX_QWEN2 \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RX_TEKKEN                                                                                                   \
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|[^\\r\\n\\p{L}\\p{N}]?" \
    "[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|"  \
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RX_GPT4O                                                                                                    \
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"                      \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+"                       \
    "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|"      \
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RX_BLOOM " ?[^(\\s|.,!?\xe2\x80\xa6\xe3\x80\x82\xef\xbc\x8c\xe3\x80\x81\xe0\xa5\xa4\xdb\x94\xd8\x8c)]+"
#define RX_CJK_CODER "[\xe4\xb8\x80-\xe9\xbe\xa5\xe0\xa0\x80-\xe4\xb8\x80\xea\xb0\x80-\xed\x9f\xbf]+"
#define RX_CJK_V3 "[\xe4\xb8\x80-\xe9\xbe\xa5\xe3\x81\x80-\xe3\x82\x9f\xe3\x82\xa0-\xe3\x83\xbf]+"
#define RX_DEEPSEEK_V3                                                                                   \
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|" \
    " ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

// Regex sets: applied in order, each an isolating Split (NULL-terminated).
static const char *const rx_default[] = {"[\\p{P}\\$\\+<=>\\^~\\|]+", RX_GPT2, "\\p{N}+", "[0-9][0-9][0-9]", NULL};
static const char *const rx_gpt2[] = {RX_GPT2, NULL};
static const char *const rx_llama3[] = {RX_LLAMA3, NULL};
static const char *const rx_qwen2[] = {RX_QWEN2, NULL};
static const char *const rx_starcoder[] = {"\\p{N}", RX_GPT2, NULL};
static const char *const rx_falcon[] = {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RX_GPT2, "[0-9][0-9][0-9]", NULL};
static const char *const rx_deepseek_coder[] = {"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", RX_CJK_CODER, "\\p{N}", NULL};
static const char *const rx_deepseek_v3[] = {"\\p{N}{1,3}", RX_CJK_V3, RX_DEEPSEEK_V3, NULL};
static const char *const rx_bloom[] = {RX_BLOOM, NULL};
static const char *const rx_viking[] = {RX_BLOOM, "\\p{N}", NULL};
static const char *const rx_tekken[] = {RX_TEKKEN, NULL};
static const char *const rx_gpt4o[] = {RX_GPT4O, NULL};

typedef struct {
    const char *name;           // value of tokenizer.ggml.pre
    const char *const *regex;
    int ignore_merges;          // a pre-token that is a whole vocabulary entry is kept whole
    int add_bos;                // default of tokenizer.ggml.add_bos_token
    int clean_spaces;           // decode applies clean_up_tokenization_spaces (" ." -> "." ...)
} bpe_pre;

static const bpe_pre bpe_pres[] = {
    {"default", rx_default, 0, 0, 1},  // llama.cpp's own default, also used when the key is missing
    {"gpt-2", rx_gpt2, 0, 0, 1},          {"phi-2", rx_gpt2, 0, 0, 1},
    {"jina-es", rx_gpt2, 0, 0, 1},        {"jina-de", rx_gpt2, 0, 0, 1},
    {"gigachat", rx_gpt2, 0, 0, 1},       {"jina-v1-en", rx_gpt2, 0, 0, 1},
    {"jina-v2-es", rx_gpt2, 0, 0, 1},     {"jina-v2-de", rx_gpt2, 0, 0, 1},
    {"jina-v2-code", rx_gpt2, 0, 0, 1},   {"roberta-bpe", rx_gpt2, 0, 0, 1},
    {"mpt", rx_gpt2, 0, 0, 1},            {"olmo", rx_gpt2, 0, 0, 1},
    {"jais", rx_gpt2, 0, 0, 1},           {"llama3", rx_llama3, 1, 1, 1},
    {"llama-v3", rx_llama3, 1, 1, 1},     {"llama-bpe", rx_llama3, 1, 1, 1},
    {"falcon3", rx_llama3, 1, 1, 1},      {"dbrx", rx_llama3, 0, 0, 1},
    {"smaug-bpe", rx_llama3, 0, 0, 1},    {"chatglm-bpe", rx_llama3, 0, 0, 1},
    {"qwen2", rx_qwen2, 0, 0, 0},         {"deepseek-r1-qwen", rx_qwen2, 0, 0, 0},
    {"stablelm2", rx_qwen2, 0, 0, 1},     {"megrez", rx_qwen2, 0, 0, 1},
    {"starcoder", rx_starcoder, 0, 0, 1}, {"refact", rx_starcoder, 0, 0, 1},
    {"command-r", rx_starcoder, 0, 0, 0}, {"smollm", rx_starcoder, 0, 0, 0},
    {"codeshell", rx_starcoder, 0, 0, 1}, {"exaone", rx_starcoder, 0, 0, 1},
    {"minerva-7b", rx_starcoder, 0, 0, 1}, {"falcon", rx_falcon, 0, 0, 1},
    {"deepseek-coder", rx_deepseek_coder, 0, 0, 0}, {"deepseek-v3", rx_deepseek_v3, 0, 0, 0},
    {"poro-chat", rx_bloom, 0, 0, 0},     {"bloom", rx_bloom, 0, 0, 1},
    {"gpt3-finnish", rx_bloom, 0, 0, 1},  {"viking", rx_viking, 0, 0, 0},
    {"tekken", rx_tekken, 1, 1, 0},       {"pixtral", rx_tekken, 1, 1, 0},
    {"gpt-4o", rx_gpt4o, 0, 0, 0},        {"llama4", rx_gpt4o, 1, 1, 0},
};

static const bpe_pre *find_pre(const char *name) {
    for (size_t i = 0; i < sizeof bpe_pres / sizeof bpe_pres[0]; i++)
        if (!strcmp(bpe_pres[i].name, name)) return &bpe_pres[i];
    return NULL;
}

// The file's merges ("left right", split at the first space after the first byte), each checked
// against the vocabulary so that a bad one is named by its GGUF index.
static int gpt2_merges(json_out *w, const gguf_vocab *v, const lrp_tensor_file *tf, lrp_err *err) {
    const lrp_gguf_value *merges = lrp_gguf_get(tf, "tokenizer.ggml.merges");
    if (!merges) return lrp_fail(err, "%s: tokenizer.ggml.merges: missing (a \"gpt2\" tokenizer needs its merges)", v->where);
    if (lrp_gguf_array_type(merges) != LRP_GGUF_STRING)
        return lrp_fail(err, "%s: tokenizer.ggml.merges: expected an array of strings", v->where);
    uint64_t n = lrp_gguf_array_len(merges);
    tk_buf joined = {0};
    int rc = 0;
    for (uint64_t i = 0; i < n && !rc; i++) {
        size_t len;
        const char *s = lrp_gguf_array_string(merges, i, &len);
        const char *sp = s && len > 1 ? memchr(s + 1, ' ', len - 1) : NULL;
        if (!sp || (size_t)(sp - s) + 1 >= len) {
            rc = lrp_fail(err, "%s: tokenizer.ggml.merges[%llu]: expected \"left right\"", v->where, (unsigned long long)i);
            break;
        }
        size_t an = (size_t)(sp - s), bn = len - an - 1;
        joined.n = 0;
        if (tk_buf_put(&joined, s, an) || tk_buf_put(&joined, sp + 1, bn)) {
            rc = lrp_fail(err, "%s: tokenizer.ggml.merges: out of memory", v->where);
            break;
        }
        const char *missing = vocab_id(v, s, an) < 0 ? "left part" : vocab_id(v, sp + 1, bn) < 0 ? "right part"
                              : vocab_id(v, joined.p, joined.n) < 0                             ? "merged token"
                                                                                                : NULL;
        if (missing) {
            rc = lrp_fail(err, "%s: tokenizer.ggml.merges[%llu] \"%.*s\": its %s is not in tokenizer.ggml.tokens", v->where,
                          (unsigned long long)i, (int)(len > 200 ? 200 : len), s, missing);
            break;
        }
        put_merge(w, s, an, sp + 1, bn, i == 0);
    }
    tk_buf_free(&joined);
    return rc;
}

static int gpt2_json(json_out *w, const gguf_vocab *v, const lrp_tensor_file *tf, const bpe_pre *pre, lrp_err *err) {
    put(w, "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,");
    put_added_tokens(w, v);
    put(w, "\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[");
    for (int k = 0; pre->regex[k]; k++) {
        put(w, "{\"type\":\"Split\",\"pattern\":{\"Regex\":");
        put_cstr(w, pre->regex[k]);
        put(w, "},\"behavior\":\"Isolated\",\"invert\":false},");
    }
    put(w, "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":false}]},");
    if (put_post_processor(w, v, err)) return -1;
    put(w, "\"decoder\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":true,\"use_regex\":true},");
    put_bpe_head(w, v, 0, pre->ignore_merges);
    if (gpt2_merges(w, v, tf, err)) return -1;
    put(w, "]}}");
    return 0;
}

// ---- entry points -----------------------------------------------------------------------------

int lrp_tokenizer_from_gguf(lrp_tokenizer **out, const lrp_tensor_file *tf, const char *where, lrp_err *err) {
    *out = NULL;
    if (!where) where = "GGUF file";
    const lrp_gguf_value *model_v = lrp_gguf_get(tf, "tokenizer.ggml.model");
    if (!model_v) return 0;
    const char *model = lrp_gguf_string(model_v);
    if (!model) return lrp_fail(err, "%s: tokenizer.ggml.model: expected a string", where);
    if (!strcmp(model, "none") || !strcmp(model, "no_vocab")) return 0;
    int is_llama = !strcmp(model, "llama"), is_gpt2 = !strcmp(model, "gpt2");
    if (!is_llama && !is_gpt2)
        return lrp_fail(err, "%s: tokenizer.ggml.model \"%s\" is not supported (supported: llama, gpt2)", where, model);

    const bpe_pre *pre = NULL;
    if (is_gpt2) {
        const lrp_gguf_value *pre_v = lrp_gguf_get(tf, "tokenizer.ggml.pre");
        const char *name = pre_v ? lrp_gguf_string(pre_v) : "default";
        if (!name) return lrp_fail(err, "%s: tokenizer.ggml.pre: expected a string", where);
        if (!(pre = find_pre(name)))
            return lrp_fail(err, "%s: tokenizer.ggml.pre \"%s\" is not a pre-tokenizer this engine knows", where, name);
    }

    gguf_vocab v = {0};
    v.where = where;
    json_out w = {0};
    int rc = -1;
    if (read_vocab(&v, tf, err)) goto done;
    if (read_id(tf, &v, "tokenizer.ggml.bos_token_id", is_llama ? 1 : -1, &v.bos, err) ||
        read_id(tf, &v, "tokenizer.ggml.eos_token_id", is_llama ? 2 : -1, &v.eos, err) ||
        read_id(tf, &v, "tokenizer.ggml.unknown_token_id", is_llama ? 0 : -1, &v.unk, err) ||
        read_id(tf, &v, "tokenizer.ggml.padding_token_id", -1, &v.pad, err) ||
        read_flag(tf, &v, "tokenizer.ggml.add_bos_token", is_llama ? 1 : pre->add_bos, &v.add_bos, err) ||
        read_flag(tf, &v, "tokenizer.ggml.add_eos_token", 0, &v.add_eos, err))
        goto done;
    // A default id past a small vocabulary names no token.
    if (v.bos >= v.n) v.bos = -1;
    if (v.eos >= v.n) v.eos = -1;
    if (v.unk >= v.n) v.unk = -1;
    if (is_llama ? llama_json(&w, &v, tf, err) : gpt2_json(&w, &v, tf, pre, err)) goto done;
    if (w.oom) {
        lrp_fail(err, "%s: building the tokenizer: out of memory", where);
        goto done;
    }
    char name[600];
    snprintf(name, sizeof name, "%s (embedded %s tokenizer)", where, model);
    // transformers' clean_up_tokenization_spaces comes through tokenizer_config.json
    const char *config = pre && pre->clean_spaces ? "{\"clean_up_tokenization_spaces\": true}" : NULL;
    rc = lrp_tokenizer_load_json(out, w.b.p, w.b.n, config, name, err);
done:
    tk_buf_free(&w.b);
    vocab_free(&v);
    return rc;
}

int lrp_tokenizer_from_gguf_file(lrp_tokenizer **out, const char *path, lrp_err *err) {
    *out = NULL;
    lrp_tensor_file tf = {0};
    if (lrp_gguf_open(&tf, path, err)) return -1;
    int rc = lrp_tokenizer_from_gguf(out, &tf, path, err);
    if (!rc && !*out) rc = lrp_fail(err, "%s: this GGUF file holds no tokenizer (no tokenizer.ggml.model)", path);
    lrp_tf_close(&tf);
    return rc;
}

// Internals of the tokenizer.json pipeline, shared by the files of src/tokenizer/.
// Component semantics follow huggingface/tokenizers (normalizers/, pre_tokenizers/, models/,
// processors/, decoders/); each builder reports errors with the JSON path of the offending field.
#ifndef LRP_TOK_INTERNAL_H
#define LRP_TOK_INTERNAL_H

#include <oniguruma.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "tokenizer/tok_json.h"
#include "tokenizer/tokenizer.h"

// ---- growable buffers ----------------------------------------------------------------------

typedef struct {
    char *p;
    size_t n, cap;
} tk_buf;

int tk_buf_reserve(tk_buf *b, size_t extra);
int tk_buf_put(tk_buf *b, const void *s, size_t n);
void tk_buf_free(tk_buf *b);

typedef struct {
    int *v;
    size_t n, cap;
} tk_ids;

int tk_ids_push(tk_ids *a, int id);

// A list of strings ("pieces": pre-tokens, decoder tokens) stored back to back in one buffer.
// `first` marks a piece that starts at offset 0 of the original input (Metaspace prepend_scheme
// "first" depends on it).
typedef struct {
    size_t off, len;
    int first;
} tk_piece;

typedef struct {
    tk_buf text;
    tk_piece *v;
    size_t n, cap;
} tk_pieces;

int tk_pieces_add(tk_pieces *p, const char *s, size_t len, int first);
void tk_pieces_reset(tk_pieces *p);
void tk_pieces_free(tk_pieces *p);
static inline const char *tk_piece_str(const tk_pieces *p, size_t i) { return p->text.p + p->v[i].off; }

// ---- arena for strings that live as long as the tokenizer -------------------------------------

typedef struct tk_arena_block tk_arena_block;
typedef struct {
    tk_arena_block *head;
} tk_arena;

char *tk_arena_strdup(tk_arena *a, const char *s, size_t n);  // NUL-terminated copy
void tk_arena_free(tk_arena *a);

// ---- hash maps -------------------------------------------------------------------------------

typedef struct {
    const char *key;  // not owned
    uint32_t len, hash;
    int val;
} tk_sm_entry;

typedef struct {
    tk_sm_entry *e;
    size_t cap, n;
} tk_strmap;

// Inserts or overwrites; key must outlive the map. 0 or -1 (out of memory).
int tk_strmap_put(tk_strmap *m, const char *key, size_t len, int val);
int tk_strmap_get(const tk_strmap *m, const char *key, size_t len);  // -1 if absent
int tk_strmap_reserve(tk_strmap *m, size_t n);
// Lookups with a precomputed hash, and a prefetch of the slot a hash starts at (for batched loads).
uint32_t tk_strmap_hash(const char *key, size_t len);
int tk_strmap_get_hashed(const tk_strmap *m, const char *key, size_t len, uint32_t h);
int tk_strmap_put_hashed(tk_strmap *m, const char *key, size_t len, int val, uint32_t h);
void tk_strmap_prefetch(const tk_strmap *m, uint32_t h);
void tk_strmap_free(tk_strmap *m);

typedef struct {
    uint64_t key;  // UINT64_MAX: empty
    int a, b;
} tk_pm_entry;

typedef struct {
    tk_pm_entry *e;
    size_t cap, n;
} tk_pairmap;

int tk_pairmap_put(tk_pairmap *m, uint64_t key, int a, int b);  // inserts or overwrites
const tk_pm_entry *tk_pairmap_get(const tk_pairmap *m, uint64_t key);
int tk_pairmap_reserve(tk_pairmap *m, size_t n);
void tk_pairmap_prefetch(const tk_pairmap *m, uint64_t key);
void tk_pairmap_free(tk_pairmap *m);

// ---- UTF-8 and Unicode -----------------------------------------------------------------------

// Decodes one code point from valid UTF-8 (s[0..n), n >= 1); returns its length.
size_t tk_utf8_next(const char *s, size_t n, int32_t *cp);
// Length of the valid UTF-8 sequence at s, 0 if s does not start one.
size_t tk_utf8_valid(const unsigned char *s, size_t n);
// n when s[0..n) is valid UTF-8, otherwise the offset of the first invalid byte.
size_t tk_utf8_check(const char *s, size_t n);
int tk_utf8_put(char *w, int32_t cp);
// Appends bytes, replacing each maximal invalid subsequence by U+FFFD (Rust from_utf8_lossy).
int tk_buf_put_lossy(tk_buf *b, const unsigned char *s, size_t n);

int tk_is_whitespace(int32_t c);  // Rust char::is_whitespace
int tk_is_punct(int32_t c);       // ASCII punctuation or Unicode P* (BERT)
int tk_is_alnum(int32_t c);       // Rust char::is_alphanumeric (approximated with categories)
int tk_is_numeric(int32_t c);     // Rust char::is_numeric: Nd, Nl, No
int tk_is_bert_control(int32_t c);
int tk_is_chinese(int32_t c);

// ---- patterns (Split, Replace) ---------------------------------------------------------------

typedef struct {
    int is_regex;
    char *lit;  // literal string (owned) when !is_regex
    size_t lit_len;
    regex_t *re;
} tk_pattern;

typedef struct {
    size_t s, e;
    int match;
} tk_span;

typedef struct {
    tk_span *v;
    size_t n, cap;
} tk_spans;

int tk_pattern_build(tk_pattern *p, const tj_value *v, const char *path, lrp_err *err);
int tk_regex_compile(regex_t **re, const char *pat, size_t len, const char *path, lrp_err *err);
void tk_pattern_free(tk_pattern *p);
// Covers s[0..n) with alternating gaps (match=0) and matches (match=1), as find_matches does.
int tk_pattern_find(const tk_pattern *p, const char *s, size_t n, tk_spans *out);
int tk_regex_find(regex_t *re, const char *s, size_t n, tk_spans *out);

// ---- components ------------------------------------------------------------------------------

typedef enum {
    NORM_SEQUENCE,
    NORM_NFC,
    NORM_NFD,
    NORM_NFKC,
    NORM_NFKD,
    NORM_LOWERCASE,
    NORM_STRIP,
    NORM_STRIP_ACCENTS,
    NORM_REPLACE,
    NORM_PREPEND,
    NORM_BERT,
    NORM_NMT,
    NORM_BYTELEVEL,
    NORM_PRECOMPILED,
} tk_norm_kind;

typedef struct tk_norm {
    tk_norm_kind kind;
    struct tk_norm **kids;
    int n_kids;
    int left, right;               // Strip
    tk_pattern pat;                // Replace
    char *content;                 // Replace content / Prepend text
    size_t content_len;
    int clean_text, chinese, strip_accents, lowercase;  // BertNormalizer
    uint32_t *units;               // Precompiled: Darts-clone double array
    size_t n_units;
    char *pool;                    // Precompiled: NUL-separated replacement strings
    size_t pool_len;
} tk_norm;

typedef enum {
    PT_SEQUENCE,
    PT_BYTELEVEL,
    PT_SPLIT,
    PT_METASPACE,
    PT_WHITESPACE,
    PT_WHITESPACE_SPLIT,
    PT_BERT,
    PT_PUNCTUATION,
    PT_DIGITS,
    PT_DELIMITER,
} tk_pretok_kind;

typedef enum { SPLIT_REMOVED, SPLIT_ISOLATED, SPLIT_MERGED_PREV, SPLIT_MERGED_NEXT, SPLIT_CONTIGUOUS } tk_split_behavior;
typedef enum { PREPEND_ALWAYS, PREPEND_FIRST, PREPEND_NEVER } tk_prepend_scheme;

typedef struct tk_pretok {
    tk_pretok_kind kind;
    struct tk_pretok **kids;
    int n_kids;
    int add_prefix_space, use_regex;  // ByteLevel
    tk_pattern pat;                   // Split; Whitespace uses a regex too
    tk_split_behavior behavior;
    int invert;
    char replacement[8];              // Metaspace (UTF-8 of one char)
    size_t replacement_len;
    tk_prepend_scheme prepend;
    int split;
    int individual_digits;
    int32_t delimiter;
} tk_pretok;

typedef enum { MODEL_BPE, MODEL_WORDPIECE, MODEL_UNIGRAM, MODEL_WORDLEVEL } tk_model_kind;

typedef struct {
    tk_model_kind kind;
    tk_strmap vocab;     // string -> id
    const char **str;    // id -> string (NULL where no entry), n_str entries
    uint32_t *len;
    int n_str;
    int unk_id;          // -1: none
    // BPE
    tk_pairmap merges;   // (left id, right id) -> (rank, merged id)
    int byte_fallback, fuse_unk, ignore_merges;
    const char *prefix, *suffix;  // continuing_subword_prefix / end_of_word_suffix (NULL: none)
    size_t prefix_len, suffix_len;
    int byte_ids[256];   // <0xXX> ids, -1 if absent
    int *cp_ids;         // [65536] id of the one-character token U+0000..U+FFFF, -1 if none (BPE)
    struct tk_word_cache *cache;  // BPE results of recent words (mutable, has its own lock)
    // WordPiece
    int max_chars;
    // Unigram
    double *scores;
    double min_score;
    tk_pairmap trie;     // (node << 8 | byte) -> (child node, -)
    int *trie_token;     // node -> token id or -1
    int trie_nodes;
} tk_model;

typedef enum { POST_SEQUENCE, POST_TEMPLATE, POST_BERT, POST_ROBERTA, POST_BYTELEVEL } tk_post_kind;

// One piece of a TemplateProcessing template: a special token's id, or the ids of sequence A or B,
// each with the token type id the template gives it.
typedef struct {
    int id;   // special token id; -1 for a sequence
    int seq;  // 0: $A, 1: $B (when id < 0)
    int type_id;
} tk_tmpl_item;

typedef struct tk_post {
    tk_post_kind kind;
    struct tk_post **kids;
    int n_kids;
    tk_tmpl_item *single, *pair;  // TEMPLATE; pair NULL when the file has no pair template
    int n_single, n_pair;
    int cls_id, sep_id;  // BERT / ROBERTA
} tk_post;

typedef enum {
    DEC_SEQUENCE,
    DEC_BYTELEVEL,
    DEC_METASPACE,
    DEC_WORDPIECE,
    DEC_BYTEFALLBACK,
    DEC_FUSE,
    DEC_STRIP,
    DEC_REPLACE,
    DEC_BPE,
} tk_dec_kind;

typedef struct tk_dec {
    tk_dec_kind kind;
    struct tk_dec **kids;
    int n_kids;
    char replacement[8];  // Metaspace
    size_t replacement_len;
    tk_prepend_scheme prepend;
    char *prefix;         // WordPiece prefix / BPE suffix
    size_t prefix_len;
    int cleanup;          // WordPiece
    int32_t strip_char;   // Strip
    int strip_start, strip_stop;
    tk_pattern pat;       // Replace
    char *content;
    size_t content_len;
} tk_dec;

typedef struct {
    const char *content;
    size_t len;
    int id;
    int special, single_word, lstrip, rstrip, normalized;
} tk_added;

// A byte trie over added-token contents for leftmost-longest matching.
typedef struct {
    int root[256];       // first byte -> node, -1 if none
    struct tk_trie_node {
        int child, sibling;
        unsigned char byte;
        int token;       // index into tok->added, -1 if no token ends here
    } *nodes;
    int n_nodes, cap;
    int n_tokens;
} tk_trie;

struct lrp_tokenizer {
    tk_arena arena;
    tk_model model;
    tk_norm *norm;
    tk_pretok *pre;
    tk_post *post;
    tk_dec *dec;
    tk_added *added;
    int n_added;
    tk_strmap added_map;  // content -> id
    tk_trie raw_trie;    // added tokens with normalized:false, matched on the input text
    tk_trie norm_trie;   // normalized:true, matched on normalized text
    // id -> string over the model vocabulary and added tokens (added tokens win).
    const char **piece;
    uint32_t *piece_len;
    unsigned char *special;
    int vocab_size;
    // tokenizer_config.json
    int bos_id, eos_id;  // -1 when not added by config
    int mask_id;         // config mask_token, else the added token "[MASK]" or "<mask>"; -1: none
    int cleanup;         // clean_up_tokenization_spaces
};

// Builders: v is the component's JSON object, path its JSON path (for error messages).
int tk_norm_build(tk_norm **out, const tj_value *v, const char *path, lrp_err *err);
void tk_norm_free(tk_norm *n);
int tk_norm_apply(const tk_norm *n, const char *s, size_t len, tk_buf *out);

int tk_pretok_build(tk_pretok **out, const tj_value *v, const char *path, lrp_err *err);
void tk_pretok_free(tk_pretok *p);
// Splits every piece of *io; may swap io with scratch.
int tk_pretok_apply(const tk_pretok *p, tk_pieces **io, tk_pieces **scratch);

int tk_model_build(tk_model *m, tk_arena *arena, const tj_value *v, const char *path, lrp_err *err);
void tk_model_free(tk_model *m);
int tk_model_tokenize(const tk_model *m, const char *s, size_t len, tk_ids *out);

int tk_post_build(tk_post **out, const lrp_tokenizer *tok, const tj_value *v, const char *path, lrp_err *err);
void tk_post_free(tk_post *p);
int tk_post_adds_tokens(const tk_post *p);
// 1 if p can join two sequences (TemplateProcessing with a pair template, Bert/RobertaProcessing,
// or a Sequence holding one of those).
int tk_post_can_pair(const tk_post *p);
// HF's process_encodings + merge for one sequence (b NULL) or a pair: the ids with the special tokens
// the processor adds (only when add_special) and the token type id of each. Type ids are set even
// without add_special (TemplateProcessing's per-sequence type ids; Bert: A 0, B 1; Roberta: all 0).
// p NULL: no special tokens, type ids 0 for A and 1 for B. Appends to ids/types; -1 out of memory.
int tk_post_process(const tk_post *p, const tk_ids *a, const tk_ids *b, int add_special, tk_ids *ids, tk_ids *types);

int tk_dec_build(tk_dec **out, const tj_value *v, const char *path, lrp_err *err);
void tk_dec_free(tk_dec *d);
// Runs the decoder chain over tokens (in place: io may be swapped with scratch). display: decode a
// single token for display (no first-token space stripping); 2: also keep bytes that are not valid UTF-8.
int tk_dec_apply(const tk_dec *d, tk_pieces **io, tk_pieces **scratch, int display);

// JSON helpers for builders.
int tk_json_bool(const tj_value *obj, const char *key, int dflt, const char *path, int *out, lrp_err *err);
int tk_json_int(const tj_value *obj, const char *key, int dflt, const char *path, int *out, lrp_err *err);
// *out = string or NULL when the field is absent/null (if allow_null), error otherwise.
int tk_json_str(const tj_value *obj, const char *key, int allow_null, const char *path, const tj_value **out,
                lrp_err *err);
const char *tk_json_type(const tj_value *obj);  // the "type" string, or NULL

// The byte <-> printable code point map of GPT-2's byte-level BPE.
extern const uint16_t tk_byte_to_cp[256];
int tk_cp_to_byte(int32_t cp);  // -1 if cp is not in the map

#endif

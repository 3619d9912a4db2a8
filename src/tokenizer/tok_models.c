// Models (huggingface/tokenizers models/): one pre-token -> ids. BPE (bpe/model.rs, word.rs),
// WordPiece, WordLevel and Unigram (unigram/model.rs, Viterbi over vocabulary matches).
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

// ---- BPE word cache --------------------------------------------------------------------------
// Words repeat, so BPE results are cached, as huggingface/tokenizers does (models/bpe/cache.rs).
// Direct-mapped: a word's hash picks its slot, a newer word evicts the older one. Encoding is const
// and may run on several threads, hence the lock.

enum { CACHE_SLOTS = 1 << 15, CACHE_MAX_WORD = 48, CACHE_MAX_IDS = 15, CACHE_AFTER = 256 };

typedef struct {
    uint64_t hash;
    uint8_t len, n_ids;
    char word[CACHE_MAX_WORD];
    int ids[CACHE_MAX_IDS];
} cache_slot;

struct tk_word_cache {
    pthread_mutex_t lock;
    cache_slot *slots;  // [CACHE_SLOTS] (4 MB), allocated once CACHE_AFTER words were encoded: a tokenizer
                        // used for a few words (a prompt, a GGUF's vocabulary checked) never pays for zeroing it
    unsigned puts;      // words offered to the cache before it was allocated
};

static uint64_t word_hash(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h | 1;  // 0 marks an empty slot
}

static int cache_get(struct tk_word_cache *c, uint64_t h, const char *s, size_t n, tk_ids *out) {
    int found = 0;
    pthread_mutex_lock(&c->lock);
    cache_slot *e = c->slots ? &c->slots[h & (CACHE_SLOTS - 1)] : NULL;
    if (e && e->hash == h && e->len == n && !memcmp(e->word, s, n)) {
        found = 1;
        for (int i = 0; i < e->n_ids && found >= 0; i++)
            if (tk_ids_push(out, e->ids[i])) found = -1;
    }
    pthread_mutex_unlock(&c->lock);
    return found;
}

static void cache_put(struct tk_word_cache *c, uint64_t h, const char *s, size_t n, const int *ids, size_t n_ids) {
    if (n_ids > CACHE_MAX_IDS) return;
    pthread_mutex_lock(&c->lock);
    if (!c->slots && (++c->puts < CACHE_AFTER || !(c->slots = calloc(CACHE_SLOTS, sizeof *c->slots)))) {
        pthread_mutex_unlock(&c->lock);  // not yet (or no memory): uncached, still correct
        return;
    }
    cache_slot *e = &c->slots[h & (CACHE_SLOTS - 1)];
    e->hash = h;
    e->len = (uint8_t)n;
    e->n_ids = (uint8_t)n_ids;
    memcpy(e->word, s, n);
    if (n_ids) memcpy(e->ids, ids, n_ids * sizeof *ids);
    pthread_mutex_unlock(&c->lock);
}

static uint64_t pair_key(int a, int b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }

// Registers s (copied into the arena) as token id; h is its tk_strmap_hash.
static int vocab_add_hashed(tk_model *m, tk_arena *arena, const char *s, size_t n, int id, uint32_t h) {
    char *k = tk_arena_strdup(arena, s, n);
    if (!k || tk_strmap_put_hashed(&m->vocab, k, n, id, h)) return -1;
    if (id >= m->n_str) {
        size_t cap = (size_t)id + 1;
        const char **str = realloc(m->str, cap * sizeof *str);
        if (!str) return -1;
        m->str = str;
        uint32_t *len = realloc(m->len, cap * sizeof *len);
        if (!len) return -1;
        m->len = len;
        for (int i = m->n_str; i < id + 1; i++) {
            m->str[i] = NULL;
            m->len[i] = 0;
        }
        m->n_str = id + 1;
    }
    m->str[id] = k;
    m->len[id] = (uint32_t)n;
    return 0;
}

static int vocab_add(tk_model *m, tk_arena *arena, const char *s, size_t n, int id) {
    return vocab_add_hashed(m, arena, s, n, id, tk_strmap_hash(s, n));
}

// Pre-sizes the id table for a vocabulary whose ids are mostly 0..n-1.
static int reserve_ids(tk_model *m, size_t n) {
    if (!n) return 0;
    if (n > (size_t)INT32_MAX) return -1;
    m->str = calloc(n, sizeof *m->str);
    m->len = calloc(n, sizeof *m->len);
    if (!m->str || !m->len) return -1;
    m->n_str = (int)n;
    return 0;
}

static int parse_id(const tj_value *v, int *id) {
    if (v->type != TJ_NUMBER || v->u.num < 0 || v->u.num > 2147483646.0 || v->u.num != (double)(int)v->u.num) return -1;
    *id = (int)v->u.num;
    return 0;
}

static int build_vocab_object(tk_model *m, tk_arena *arena, const tj_value *vocab, const char *path, lrp_err *err) {
    if (!vocab || vocab->type != TJ_OBJECT) return lrp_fail(err, "%s.vocab: expected an object", path);
    if (reserve_ids(m, vocab->n) || tk_strmap_reserve(&m->vocab, vocab->n))
        return lrp_fail(err, "%s.vocab: out of memory", path);
    enum { AHEAD = 8 };  // prefetch the hash slot of the entry AHEAD positions on
    uint32_t hs[2 * AHEAD];
    for (uint32_t t = 0; t < vocab->n + AHEAD; t++) {
        if (t < vocab->n) {
            const tj_value *k = &vocab->u.items[2 * t];
            hs[t % (2 * AHEAD)] = tk_strmap_hash(k->u.str, k->n);
            tk_strmap_prefetch(&m->vocab, hs[t % (2 * AHEAD)]);
        }
        if (t < AHEAD) continue;
        uint32_t i = t - AHEAD;
        const tj_value *k = &vocab->u.items[2 * i], *v = &vocab->u.items[2 * i + 1];
        int id;
        if (parse_id(v, &id)) return lrp_fail(err, "%s.vocab[\"%s\"]: expected a non-negative integer id", path, k->u.str);
        if (vocab_add_hashed(m, arena, k->u.str, k->n, id, hs[i % (2 * AHEAD)])) return lrp_fail(err, "%s.vocab: out of memory", path);
    }
    return 0;
}

static int opt_token_id(const tk_model *m, const tj_value *v, const char *key, const char *path, int required,
                        int *out, lrp_err *err) {
    const tj_value *s;
    *out = -1;
    if (tk_json_str(v, key, !required, path, &s, err)) return -1;
    if (!s) return 0;
    *out = tk_strmap_get(&m->vocab, s->u.str, s->n);
    if (*out < 0) return lrp_fail(err, "%s.%s: token \"%s\" is not in the vocabulary", path, key, s->u.str);
    return 0;
}

static int opt_affix(tk_arena *arena, const tj_value *v, const char *key, const char *path, const char **out,
                     size_t *out_len, lrp_err *err) {
    const tj_value *s;
    *out = NULL;
    *out_len = 0;
    if (tk_json_str(v, key, 1, path, &s, err)) return -1;
    if (!s || s->n == 0) return 0;
    if (!(*out = tk_arena_strdup(arena, s->u.str, s->n))) return lrp_fail(err, "%s: out of memory", path);
    *out_len = s->n;
    return 0;
}

// The two halves of a merge: "a b" (legacy) or ["a", "b"]. 0, or 1 / 2 for the two malformed kinds.
static int merge_parts(const tj_value *e, const char **a, size_t *an, const char **b, size_t *bn) {
    if (e->type == TJ_STRING) {
        const char *sp = memchr(e->u.str, ' ', e->n);
        if (!sp || memchr(sp + 1, ' ', e->n - (size_t)(sp + 1 - e->u.str))) return 1;
        *a = e->u.str;
        *an = (size_t)(sp - *a);
        *b = sp + 1;
        *bn = e->n - *an - 1;
        return 0;
    }
    if (e->type == TJ_ARRAY && e->n == 2 && e->u.items[0].type == TJ_STRING && e->u.items[1].type == TJ_STRING) {
        *a = e->u.items[0].u.str;
        *an = e->u.items[0].n;
        *b = e->u.items[1].u.str;
        *bn = e->u.items[1].n;
        return 0;
    }
    return 2;
}

static int build_bpe(tk_model *m, tk_arena *arena, const tj_value *v, const char *path, lrp_err *err) {
    char sub[512];
    if (build_vocab_object(m, arena, tj_get(v, "vocab"), path, err)) return -1;
    const tj_value *dropout = tj_get(v, "dropout");
    if (dropout && dropout->type == TJ_NUMBER && dropout->u.num > 0.0)
        return lrp_fail(err, "%s.dropout: unsupported (BPE dropout is random; inference uses none)", path);
    if (opt_token_id(m, v, "unk_token", path, 0, &m->unk_id, err) ||
        tk_json_bool(v, "fuse_unk", 0, path, &m->fuse_unk, err) ||
        tk_json_bool(v, "byte_fallback", 0, path, &m->byte_fallback, err) ||
        tk_json_bool(v, "ignore_merges", 0, path, &m->ignore_merges, err) ||
        opt_affix(arena, v, "continuing_subword_prefix", path, &m->prefix, &m->prefix_len, err) ||
        opt_affix(arena, v, "end_of_word_suffix", path, &m->suffix, &m->suffix_len, err))
        return -1;
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        m->byte_ids[b] = tk_strmap_get(&m->vocab, name, 6);
    }
    const tj_value *merges = tj_get(v, "merges");
    if (!merges || merges->type != TJ_ARRAY) return lrp_fail(err, "%s.merges: expected an array", path);
    if (tk_pairmap_reserve(&m->merges, merges->n)) return lrp_fail(err, "%s.merges: out of memory", path);
    tk_buf joined = {0};
    int guess = -1;
    // (pair, rank, merged id) of every merge; inserted afterwards with prefetching.
    tk_pm_entry *pending = malloc((merges->n ? merges->n : 1) * sizeof *pending);
    if (!pending) return lrp_fail(err, "%s.merges: out of memory", path);
    enum { AHEAD = 8 };  // prefetch the hash slots of the merge AHEAD positions on
    uint32_t ha[2 * AHEAD], hb[2 * AHEAD];
    for (uint32_t t = 0; t < merges->n + AHEAD; t++) {
        const char *a, *b;
        size_t an, bn;
        if (t < merges->n) {
            int bad = merge_parts(&merges->u.items[t], &a, &an, &b, &bn);
            if (bad) {
                tk_buf_free(&joined);
                free(pending);
                if (bad == 1) return lrp_fail(err, "%s.merges[%u]: expected \"left right\" with exactly one space", path, t);
                return lrp_fail(err, "%s.merges[%u]: expected \"left right\" or [\"left\", \"right\"]", path, t);
            }
            ha[t % (2 * AHEAD)] = tk_strmap_hash(a, an);
            hb[t % (2 * AHEAD)] = tk_strmap_hash(b, bn);
            tk_strmap_prefetch(&m->vocab, ha[t % (2 * AHEAD)]);
            tk_strmap_prefetch(&m->vocab, hb[t % (2 * AHEAD)]);
        }
        if (t < AHEAD) continue;
        uint32_t i = t - AHEAD;  // the merge handled now
        merge_parts(&merges->u.items[i], &a, &an, &b, &bn);
        int ia = tk_strmap_get_hashed(&m->vocab, a, an, ha[i % (2 * AHEAD)]);
        int ib = tk_strmap_get_hashed(&m->vocab, b, bn, hb[i % (2 * AHEAD)]);
        if (ia < 0 || ib < 0) {
            snprintf(sub, sizeof sub, "%s.merges[%u]", path, i);
            tk_buf_free(&joined);
            free(pending);
            return lrp_fail(err, "%s: token \"%.*s\" is not in the vocabulary", sub, (int)(ia < 0 ? an : bn),
                            ia < 0 ? a : b);
        }
        // The merged token is a + b without b's continuing-subword prefix.
        if (m->prefix_len && bn >= m->prefix_len) {
            b += m->prefix_len;
            bn -= m->prefix_len;
        }
        joined.n = 0;
        if (tk_buf_put(&joined, a, an) || tk_buf_put(&joined, b, bn)) {
            tk_buf_free(&joined);
            free(pending);
            return lrp_fail(err, "%s.merges: out of memory", path);
        }
        // Trained vocabularies usually number merge results consecutively (GPT-2: id 256 + i), so try
        // the id that follows the previous merge's before hashing; the string comparison decides.
        int id = -1;
        if (guess >= 0 && guess < m->n_str && m->len[guess] == joined.n && m->str[guess] &&
            !memcmp(m->str[guess], joined.p, joined.n))
            id = guess;
        else
            id = tk_strmap_get(&m->vocab, joined.p, joined.n);
        guess = id + 1;
        if (id < 0) {
            lrp_fail(err, "%s.merges[%u]: merged token \"%s\" is not in the vocabulary", path, i, joined.p);
            tk_buf_free(&joined);
            free(pending);
            return -1;
        }
        pending[i] = (tk_pm_entry){pair_key(ia, ib), (int)i, id};
    }
    tk_buf_free(&joined);
    for (uint32_t t = 0; t < merges->n; t++) {
        if (t + AHEAD < merges->n) tk_pairmap_prefetch(&m->merges, pending[t + AHEAD].key);
        if (tk_pairmap_put(&m->merges, pending[t].key, pending[t].a, pending[t].b)) {
            free(pending);
            return lrp_fail(err, "%s.merges: out of memory", path);
        }
    }
    free(pending);
    // One-character tokens by code point, so that splitting a word into symbols needs no hashing.
    if (!(m->cp_ids = malloc(65536 * sizeof *m->cp_ids))) return lrp_fail(err, "%s: out of memory", path);
    for (int c = 0; c < 65536; c++) m->cp_ids[c] = -1;
    for (int id = 0; id < m->n_str; id++) {
        int32_t cp;
        if (m->str[id] && m->len[id] && tk_utf8_next(m->str[id], m->len[id], &cp) == m->len[id] && cp < 65536 &&
            tk_strmap_get(&m->vocab, m->str[id], m->len[id]) == id)
            m->cp_ids[cp] = id;
    }
    if (!(m->cache = calloc(1, sizeof *m->cache)) || pthread_mutex_init(&m->cache->lock, NULL)) {
        free(m->cache);
        m->cache = NULL;
        return lrp_fail(err, "%s: out of memory", path);
    }
    return 0;
}

static int build_wordpiece(tk_model *m, tk_arena *arena, const tj_value *v, const char *path, lrp_err *err) {
    if (build_vocab_object(m, arena, tj_get(v, "vocab"), path, err)) return -1;
    if (opt_token_id(m, v, "unk_token", path, 1, &m->unk_id, err) ||
        tk_json_int(v, "max_input_chars_per_word", 100, path, &m->max_chars, err))
        return -1;
    const tj_value *p = tj_get(v, "continuing_subword_prefix");
    if (!p || p->type == TJ_NULL) {
        m->prefix = "##";
        m->prefix_len = 2;
        return 0;
    }
    if (p->type != TJ_STRING) return lrp_fail(err, "%s.continuing_subword_prefix: expected a string", path);
    if (!(m->prefix = tk_arena_strdup(arena, p->u.str, p->n))) return lrp_fail(err, "%s: out of memory", path);
    m->prefix_len = p->n;
    return 0;
}

static int build_wordlevel(tk_model *m, tk_arena *arena, const tj_value *v, const char *path, lrp_err *err) {
    if (build_vocab_object(m, arena, tj_get(v, "vocab"), path, err)) return -1;
    return opt_token_id(m, v, "unk_token", path, 1, &m->unk_id, err);
}

static int trie_insert(tk_model *m, const char *s, size_t n, int id) {
    int node = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t key = ((uint64_t)(uint32_t)node << 8) | (unsigned char)s[i];
        const tk_pm_entry *e = tk_pairmap_get(&m->trie, key);
        if (e) {
            node = e->a;
            continue;
        }
        int child = m->trie_nodes++;
        int *tt = realloc(m->trie_token, (size_t)m->trie_nodes * sizeof *tt);
        if (!tt) return -1;
        m->trie_token = tt;
        tt[child] = -1;
        if (tk_pairmap_put(&m->trie, key, child, 0)) return -1;
        node = child;
    }
    m->trie_token[node] = id;
    return 0;
}

static int build_unigram(tk_model *m, tk_arena *arena, const tj_value *v, const char *path, lrp_err *err) {
    const tj_value *vocab = tj_get(v, "vocab");
    if (!vocab || vocab->type != TJ_ARRAY) return lrp_fail(err, "%s.vocab: expected an array", path);
    if (reserve_ids(m, vocab->n) || (vocab->n && !(m->scores = calloc(vocab->n, sizeof *m->scores))) ||
        !(m->trie_token = malloc(sizeof *m->trie_token)))
        return lrp_fail(err, "%s.vocab: out of memory", path);
    m->trie_token[0] = -1;
    m->trie_nodes = 1;
    m->min_score = 0.0;
    for (uint32_t i = 0; i < vocab->n; i++) {
        const tj_value *e = &vocab->u.items[i];
        if (e->type != TJ_ARRAY || e->n != 2 || e->u.items[0].type != TJ_STRING || e->u.items[1].type != TJ_NUMBER)
            return lrp_fail(err, "%s.vocab[%u]: expected [\"piece\", score]", path, i);
        const tj_value *s = &e->u.items[0];
        double score = e->u.items[1].u.num;
        m->scores[i] = score;
        if (i == 0 || score < m->min_score) m->min_score = score;
        if (vocab_add(m, arena, s->u.str, s->n, (int)i) || (s->n && trie_insert(m, s->u.str, s->n, (int)i)))
            return lrp_fail(err, "%s.vocab: out of memory", path);
    }
    if (tk_json_int(v, "unk_id", -1, path, &m->unk_id, err) || tk_json_bool(v, "byte_fallback", 0, path, &m->byte_fallback, err))
        return -1;
    if (m->unk_id >= (int)vocab->n) return lrp_fail(err, "%s.unk_id: %d is outside the vocabulary", path, m->unk_id);
    m->fuse_unk = 1;
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        m->byte_ids[b] = tk_strmap_get(&m->vocab, name, 6);
    }
    return 0;
}

int tk_model_build(tk_model *m, tk_arena *arena, const tj_value *v, const char *path, lrp_err *err) {
    memset(m, 0, sizeof *m);
    m->unk_id = -1;
    for (int b = 0; b < 256; b++) m->byte_ids[b] = -1;
    if (!v || v->type != TJ_OBJECT) return lrp_fail(err, "%s: expected an object", path);
    const char *type = tk_json_type(v);
    const tj_value *vocab = tj_get(v, "vocab");
    if (!type) {  // very old files have no type: infer it as HF does
        if (vocab && vocab->type == TJ_ARRAY) type = "Unigram";
        else if (tj_get(v, "merges")) type = "BPE";
        else if (tj_get(v, "continuing_subword_prefix")) type = "WordPiece";
        else type = "WordLevel";
    }
    if (!strcmp(type, "BPE")) {
        m->kind = MODEL_BPE;
        return build_bpe(m, arena, v, path, err);
    }
    if (!strcmp(type, "WordPiece")) {
        m->kind = MODEL_WORDPIECE;
        return build_wordpiece(m, arena, v, path, err);
    }
    if (!strcmp(type, "WordLevel")) {
        m->kind = MODEL_WORDLEVEL;
        return build_wordlevel(m, arena, v, path, err);
    }
    if (!strcmp(type, "Unigram")) {
        m->kind = MODEL_UNIGRAM;
        return build_unigram(m, arena, v, path, err);
    }
    return lrp_fail(err, "%s.type: unsupported model \"%s\"", path, type);
}

void tk_model_free(tk_model *m) {
    tk_strmap_free(&m->vocab);
    free(m->str);
    free(m->len);
    tk_pairmap_free(&m->merges);
    free(m->scores);
    tk_pairmap_free(&m->trie);
    free(m->trie_token);
    free(m->cp_ids);
    if (m->cache) {
        pthread_mutex_destroy(&m->cache->lock);
        free(m->cache->slots);
        free(m->cache);
    }
    memset(m, 0, sizeof *m);
}

// ---- BPE -------------------------------------------------------------------------------------

typedef struct {
    int id, prev, next;
    size_t len;  // bytes of input covered; 0 once merged into its left neighbour
} bpe_symbol;

typedef struct {
    int rank, pos, new_id;
} bpe_merge;

// Min-heap on (rank, pos): the lowest rank first, ties to the leftmost position (word.rs Merge).
static int merge_less(const bpe_merge *x, const bpe_merge *y) {
    return x->rank != y->rank ? x->rank < y->rank : x->pos < y->pos;
}

typedef struct {
    bpe_merge *v;
    size_t n, cap;
} bpe_heap;

static int heap_push(bpe_heap *h, bpe_merge e) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        bpe_merge *v = realloc(h->v, cap * sizeof *v);
        if (!v) return -1;
        h->v = v;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!merge_less(&e, &h->v[p])) break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = e;
    return 0;
}

static bpe_merge heap_pop(bpe_heap *h) {
    bpe_merge top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && merge_less(&h->v[c + 1], &h->v[c])) c++;
        if (!merge_less(&h->v[c], &last)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n) h->v[i] = last;
    return top;
}

typedef struct {
    bpe_symbol *v;
    size_t n, cap;
} bpe_word;

static int word_add(bpe_word *w, int id, size_t len) {
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 32;
        bpe_symbol *v = realloc(w->v, cap * sizeof *v);
        if (!v) return -1;
        w->v = v;
        w->cap = cap;
    }
    int i = (int)w->n;
    w->v[w->n++] = (bpe_symbol){id, i - 1, -1, len};
    if (i > 0) w->v[i - 1].next = i;
    return 0;
}

static int try_pair(const tk_model *m, const bpe_word *w, int pos, bpe_heap *h) {
    int next = w->v[pos].next;
    if (next < 0) return 0;
    const tk_pm_entry *e = tk_pairmap_get(&m->merges, pair_key(w->v[pos].id, w->v[next].id));
    return e ? heap_push(h, (bpe_merge){e->a, pos, e->b}) : 0;
}

static int bpe_tokenize(const tk_model *m, const char *s, size_t n, tk_ids *out) {
    if (n == 0) return 0;
    if (m->ignore_merges) {
        int id = tk_strmap_get(&m->vocab, s, n);
        if (id >= 0) return tk_ids_push(out, id);
    }
    uint64_t wh = 0;
    size_t mark = out->n;
    if (m->cache && n <= CACHE_MAX_WORD) {
        wh = word_hash(s, n);
        int got = cache_get(m->cache, wh, s, n, out);
        if (got) return got < 0 ? -1 : 0;
    }
    bpe_word w = {0};
    bpe_heap h = {0};
    tk_buf tmp = {0};
    int rc = -1, unk_pending = 0;
    size_t unk_len = 0;
    // Initial symbols: one per character (with prefix/suffix), byte fallback or unk (merge_word).
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t l = tk_utf8_next(s + i, n - i, &cp);
        const char *sym = s + i;
        size_t sl = l;
        int is_first = i == 0, is_last = i + l == n;
        if ((!is_first && m->prefix) || (is_last && m->suffix)) {
            tmp.n = 0;
            if ((!is_first && m->prefix && tk_buf_put(&tmp, m->prefix, m->prefix_len)) || tk_buf_put(&tmp, s + i, l) ||
                (is_last && m->suffix && tk_buf_put(&tmp, m->suffix, m->suffix_len)))
                goto done;
            sym = tmp.p;
            sl = tmp.n;
        }
        int id = sym == s + i && m->cp_ids && cp < 65536 ? m->cp_ids[cp] : tk_strmap_get(&m->vocab, sym, sl);
        if (id >= 0) {
            if (unk_pending && word_add(&w, m->unk_id, unk_len)) goto done;
            unk_pending = 0;
            if (word_add(&w, id, l)) goto done;
        } else {
            int fell_back = 0;
            if (m->byte_fallback) {
                int all = 1;
                for (size_t k = 0; k < sl; k++)
                    if (m->byte_ids[(unsigned char)sym[k]] < 0) all = 0;
                if (all) {
                    for (size_t k = 0; k < sl; k++)
                        if (word_add(&w, m->byte_ids[(unsigned char)sym[k]], 1)) goto done;
                    fell_back = 1;
                }
            }
            if (!fell_back && m->unk_id >= 0) {
                if (unk_pending && m->fuse_unk) {
                    unk_len += l;
                } else {
                    if (unk_pending && word_add(&w, m->unk_id, unk_len)) goto done;
                    unk_pending = 1;
                    unk_len = l;
                }
            }
        }
        i += l;
    }
    if (unk_pending && word_add(&w, m->unk_id, unk_len)) goto done;

    // merge_all: pop the best pair; skip entries whose symbols changed since they were queued.
    for (int i = 0; i + 1 < (int)w.n; i++)
        if (try_pair(m, &w, i, &h)) goto done;
    while (h.n) {
        bpe_merge top = heap_pop(&h);
        bpe_symbol *sym = &w.v[top.pos];
        if (sym->len == 0 || sym->next < 0) continue;
        int right = sym->next;
        const tk_pm_entry *e = tk_pairmap_get(&m->merges, pair_key(sym->id, w.v[right].id));
        if (!e || e->b != top.new_id) continue;
        sym->id = top.new_id;
        sym->len += w.v[right].len;
        sym->next = w.v[right].next;
        w.v[right].len = 0;
        if (sym->next >= 0) w.v[sym->next].prev = top.pos;
        if (sym->prev >= 0 && try_pair(m, &w, sym->prev, &h)) goto done;
        if (try_pair(m, &w, top.pos, &h)) goto done;
    }
    for (size_t i = 0; i < w.n; i++)
        if (w.v[i].len && tk_ids_push(out, w.v[i].id)) goto done;
    // A word that gave no ids (symbols without a token and no unk) is not cached: out->v may be NULL then
    // (found by fuzz_tokenizer_json).
    if (wh && out->n > mark) cache_put(m->cache, wh, s, n, out->v + mark, out->n - mark);
    rc = 0;
done:
    free(w.v);
    free(h.v);
    tk_buf_free(&tmp);
    return rc;
}

// ---- WordPiece / WordLevel -------------------------------------------------------------------

static int wordpiece_tokenize(const tk_model *m, const char *s, size_t n, tk_ids *out) {
    size_t chars = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) chars++;
    if (chars > (size_t)(m->max_chars < 0 ? 0 : m->max_chars)) return tk_ids_push(out, m->unk_id);
    size_t mark = out->n, start = 0;
    tk_buf tmp = {0};
    while (start < n) {
        size_t end = n;
        int found = -1;
        while (start < end) {
            const char *sub = s + start;
            size_t sl = end - start;
            if (start > 0) {
                tmp.n = 0;
                if (tk_buf_put(&tmp, m->prefix, m->prefix_len) || tk_buf_put(&tmp, s + start, end - start)) {
                    tk_buf_free(&tmp);
                    return -1;
                }
                sub = tmp.p;
                sl = tmp.n;
            }
            found = tk_strmap_get(&m->vocab, sub, sl);
            if (found >= 0) break;
            do end--;
            while (end > start && ((unsigned char)s[end] & 0xC0) == 0x80);
        }
        if (found < 0) {
            out->n = mark;  // one bad part makes the whole word unknown
            tk_buf_free(&tmp);
            return tk_ids_push(out, m->unk_id);
        }
        if (tk_ids_push(out, found)) {
            tk_buf_free(&tmp);
            return -1;
        }
        start = end;
    }
    tk_buf_free(&tmp);
    return 0;
}

// ---- Unigram ---------------------------------------------------------------------------------

static int push_piece_ids(const tk_model *m, const char *s, size_t n, tk_ids *out) {
    int id = tk_strmap_get(&m->vocab, s, n);
    if (id >= 0) return tk_ids_push(out, id);
    if (m->byte_fallback) {
        int all = 1;
        for (size_t k = 0; k < n; k++)
            if (m->byte_ids[(unsigned char)s[k]] < 0) all = 0;
        if (all) {
            for (size_t k = 0; k < n; k++)
                if (tk_ids_push(out, m->byte_ids[(unsigned char)s[k]])) return -1;
            return 0;
        }
    }
    return tk_ids_push(out, m->unk_id);
}

typedef struct {
    int id;
    double score;
    long starts_at;  // -1: not reached
} best_node;

static int unigram_tokenize(const tk_model *m, const char *s, size_t n, tk_ids *out) {
    if (n == 0) return 0;
    if (n > SIZE_MAX / sizeof(best_node) - 1) return -1;
    best_node *best = malloc((n + 1) * sizeof *best);
    size_t *ends = NULL;
    if (!best) return -1;
    for (size_t i = 0; i <= n; i++) best[i] = (best_node){m->unk_id, 0.0, -1};
    const double unk_score = m->min_score - 10.0;
    for (size_t start = 0; start < n;) {
        int32_t cp;
        size_t mblen = tk_utf8_next(s + start, n - start, &cp);
        double here = best[start].score;
        int single = 0, node = 0;
        for (size_t k = start; k < n; k++) {
            const tk_pm_entry *e = tk_pairmap_get(&m->trie, ((uint64_t)(uint32_t)node << 8) | (unsigned char)s[k]);
            if (!e) break;
            node = e->a;
            int id = m->trie_token[node];
            if (id < 0) continue;
            size_t end = k + 1;
            double cand = m->scores[id] + here;
            if (best[end].starts_at < 0 || cand > best[end].score) best[end] = (best_node){id, cand, (long)start};
            if (end - start == mblen) single = 1;
        }
        if (!single) {
            double cand = unk_score + here;
            size_t end = start + mblen;
            if (best[end].starts_at < 0 || cand > best[end].score) best[end] = (best_node){m->unk_id, cand, (long)start};
        }
        start += mblen;
    }
    // Backtrack; consecutive unknown pieces are fused into one.
    size_t cnt = 0;
    for (size_t e = n; e > 0; e = (size_t)best[e].starts_at) cnt++;
    ends = malloc((cnt + 1) * sizeof *ends);
    if (!ends) {
        free(best);
        return -1;
    }
    size_t k = cnt;
    ends[k] = n;
    for (size_t e = n; e > 0; e = (size_t)best[e].starts_at) ends[--k] = (size_t)best[e].starts_at;
    int rc = 0;
    for (size_t i = 0; i < cnt && !rc;) {
        size_t a = ends[i], b = ends[i + 1];
        int is_unk = m->unk_id >= 0 && best[b].id == m->unk_id;
        size_t j = i + 1;
        if (is_unk)
            while (j < cnt && best[ends[j + 1]].id == m->unk_id) j++;
        b = ends[j];
        rc = push_piece_ids(m, s + a, b - a, out);
        i = j;
    }
    free(ends);
    free(best);
    return rc;
}

int tk_model_tokenize(const tk_model *m, const char *s, size_t n, tk_ids *out) {
    switch (m->kind) {
    case MODEL_BPE: return bpe_tokenize(m, s, n, out);
    case MODEL_WORDPIECE: return n ? wordpiece_tokenize(m, s, n, out) : 0;
    case MODEL_WORDLEVEL: {
        if (!n) return 0;
        int id = tk_strmap_get(&m->vocab, s, n);
        return tk_ids_push(out, id >= 0 ? id : m->unk_id);
    }
    case MODEL_UNIGRAM: return unigram_tokenize(m, s, n, out);
    }
    return -1;
}

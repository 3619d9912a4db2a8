// Loading tokenizer.json (+ tokenizer_config.json), added-token matching, and the encode/decode
// drivers of the pipeline (tokenizer/mod.rs and added_vocabulary.rs in huggingface/tokenizers).
#include "tokenizer/tokenizer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <utf8proc.h>

#include "tokenizer/tok_internal.h"

// ---- added tokens ----------------------------------------------------------------------------

// The link that leads to the next node: root[c] (owner -1), or the child or sibling field of node owner.
// It is named by (owner, sibling) and looked up again after every append, because appending a node may
// move t->nodes (a pointer into it would then write freed memory: found by fuzz/fuzz_tokenize.c).
static int *trie_link(tk_trie *t, unsigned char c, int owner, int sibling) {
    if (owner < 0) return &t->root[c];
    return sibling ? &t->nodes[owner].sibling : &t->nodes[owner].child;
}

static int trie_add(tk_trie *t, const char *s, size_t n, int token) {
    if (n == 0) return 0;  // an empty added token never matches
    int owner = -1, sibling = 0;
    for (size_t i = 0;; i++) {
        int node = *trie_link(t, (unsigned char)s[0], owner, sibling);
        if (node < 0) {
            if (t->n_nodes == t->cap) {
                int cap = t->cap ? t->cap * 2 : 64;
                struct tk_trie_node *v = realloc(t->nodes, (size_t)cap * sizeof *v);
                if (!v) return -1;
                t->nodes = v;
                t->cap = cap;
            }
            node = t->n_nodes++;
            t->nodes[node] = (struct tk_trie_node){-1, -1, (unsigned char)s[i], -1};
            *trie_link(t, (unsigned char)s[0], owner, sibling) = node;
        }
        if (i + 1 == n) {
            t->nodes[node].token = token;
            t->n_tokens++;
            return 0;
        }
        // find or append the child for s[i+1]
        owner = node;
        sibling = 0;
        for (int c = t->nodes[node].child; c >= 0 && t->nodes[c].byte != (unsigned char)s[i + 1];
             c = t->nodes[c].sibling) {
            owner = c;
            sibling = 1;
        }
    }
}

// Longest token starting at s (returns its length, token index in *tok), 0 if none.
static size_t trie_longest(const tk_trie *t, const char *s, size_t n, int *tok) {
    int node = t->root[(unsigned char)s[0]];
    size_t best = 0;
    for (size_t i = 0; node >= 0;) {
        if (t->nodes[node].token >= 0) {
            best = i + 1;
            *tok = t->nodes[node].token;
        }
        if (++i >= n) break;
        int c = t->nodes[node].child;
        while (c >= 0 && t->nodes[c].byte != (unsigned char)s[i]) c = t->nodes[c].sibling;
        node = c;
    }
    return best;
}

static int is_word_char(int32_t c) {
    if (c == '_' || tk_is_alnum(c)) return 1;
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_MC || k == UTF8PROC_CATEGORY_ME ||
           k == UTF8PROC_CATEGORY_PC;
}

static int32_t char_before(const char *s, size_t pos) {
    size_t k = pos - 1;
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
    int32_t c;
    tk_utf8_next(s + k, pos - k, &c);
    return c;
}

typedef struct {
    size_t s, e;
    int added;  // index into tok->added, -1 for text
} tk_seg;

typedef struct {
    tk_seg *v;
    size_t n, cap;
} tk_segs;

static int segs_push(tk_segs *g, size_t s, size_t e, int added) {
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 16;
        tk_seg *v = realloc(g->v, cap * sizeof *v);
        if (!v) return -1;
        g->v = v;
        g->cap = cap;
    }
    g->v[g->n++] = (tk_seg){s, e, added};
    return 0;
}

// Splits s into text and added-token segments: leftmost-longest matches, single_word, lstrip and
// rstrip as in AddedVocabulary::find_matches.
static int split_added(const lrp_tokenizer *tok, const tk_trie *t, const char *s, size_t n, tk_segs *out) {
    out->n = 0;
    size_t start = 0, pos = 0;
    if (t->n_tokens)
        while (pos < n) {
            int idx = -1;
            size_t len = t->root[(unsigned char)s[pos]] >= 0 ? trie_longest(t, s + pos, n - pos, &idx) : 0;
            if (!len) {
                pos++;
                continue;
            }
            const tk_added *a = &tok->added[idx];
            size_t ms = pos, me = pos + len;
            pos = me;
            if (a->single_word) {
                int32_t c;
                int start_ok = ms == 0 || !is_word_char(char_before(s, ms));
                int stop_ok = me == n || (tk_utf8_next(s + me, n - me, &c), !is_word_char(c));
                if (!start_ok || !stop_ok) continue;
            }
            if (a->lstrip)
                while (ms > start && tk_is_whitespace(char_before(s, ms))) {
                    size_t k = ms - 1;
                    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
                    ms = k;
                }
            if (a->rstrip)
                while (me < n) {
                    int32_t c;
                    size_t l = tk_utf8_next(s + me, n - me, &c);
                    if (!tk_is_whitespace(c)) break;
                    me += l;
                }
            if (start < ms && segs_push(out, start, ms, -1)) return -1;
            if (segs_push(out, ms, me, idx)) return -1;
            start = pos = me;
        }
    if (start < n && segs_push(out, start, n, -1)) return -1;
    return 0;
}

// ---- loading ---------------------------------------------------------------------------------

static int read_file(const char *path, char **out, size_t *len, int optional, lrp_err *err) {
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (optional && errno == ENOENT) return 0;
        return lrp_fail(err, "%s: cannot open: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
        fclose(f);
        return lrp_fail(err, "%s: not a regular file", path);
    }
    if (st.st_size > (off_t)1 << 31) {
        fclose(f);
        return lrp_fail(err, "%s: too large (%lld bytes)", path, (long long)st.st_size);
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return lrp_fail(err, "%s: out of memory", path);
    }
    size_t got = fread(buf, 1, n, f);
    fclose(f);
    if (got != n) {
        free(buf);
        return lrp_fail(err, "%s: read error", path);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static int load_json(lrp_tokenizer **out, char *json, size_t len, const char *cfg_json, const char *where, lrp_err *err);

int lrp_tokenizer_load(lrp_tokenizer **out, const char *path, lrp_err *err) {
    *out = NULL;
    struct stat st;
    if (stat(path, &st)) return lrp_fail(err, "%s: %s", path, strerror(errno));
    size_t pl = strlen(path);
    char *json_path = malloc(pl + 32), *cfg_path = malloc(pl + 32);
    char *json = NULL, *cfg = NULL;
    size_t json_len = 0, cfg_len = 0;
    int rc = -1;
    if (!json_path || !cfg_path) {
        lrp_fail(err, "%s: out of memory", path);
        goto done;
    }
    if (S_ISDIR(st.st_mode)) {
        const char *sep = pl && path[pl - 1] == '/' ? "" : "/";
        snprintf(json_path, pl + 32, "%s%stokenizer.json", path, sep);
        snprintf(cfg_path, pl + 32, "%s%stokenizer_config.json", path, sep);
    } else {
        snprintf(json_path, pl + 32, "%s", path);
        const char *slash = strrchr(path, '/');
        if (slash) snprintf(cfg_path, pl + 32, "%.*stokenizer_config.json", (int)(slash + 1 - path), path);
        else snprintf(cfg_path, pl + 32, "tokenizer_config.json");
    }
    if (read_file(json_path, &json, &json_len, 0, err)) goto done;
    if (read_file(cfg_path, &cfg, &cfg_len, 1, err)) goto done;
    if (cfg && memchr(cfg, '\0', cfg_len)) {
        lrp_fail(err, "%s: contains a NUL byte", cfg_path);
        goto done;
    }
    rc = load_json(out, json, json_len, cfg, json_path, err);
    json = NULL;  // owned by load_json
done:
    free(json);
    free(cfg);
    free(json_path);
    free(cfg_path);
    return rc;
}

static int load_added(lrp_tokenizer *tok, const tj_value *arr, const char *where, lrp_err *err) {
    if (!arr || arr->type == TJ_NULL) return 0;
    if (arr->type != TJ_ARRAY) return lrp_fail(err, "%s: added_tokens: expected an array", where);
    if (!arr->n) return 0;
    if (!(tok->added = calloc(arr->n, sizeof *tok->added))) return lrp_fail(err, "%s: out of memory", where);
    for (uint32_t i = 0; i < arr->n; i++) {
        const tj_value *e = &arr->u.items[i], *content;
        char path[64];
        snprintf(path, sizeof path, "added_tokens[%u]", i);
        tk_added *a = &tok->added[i];
        int id;
        if (e->type != TJ_OBJECT) return lrp_fail(err, "%s: %s: expected an object", where, path);
        if (tk_json_str(e, "content", 0, path, &content, err) || tk_json_int(e, "id", -1, path, &id, err) ||
            tk_json_bool(e, "special", 0, path, &a->special, err) ||
            tk_json_bool(e, "single_word", 0, path, &a->single_word, err) ||
            tk_json_bool(e, "lstrip", 0, path, &a->lstrip, err) || tk_json_bool(e, "rstrip", 0, path, &a->rstrip, err) ||
            tk_json_bool(e, "normalized", !a->special, path, &a->normalized, err))
            return lrp_fail_prefix(err, where);
        if (id < 0) return lrp_fail(err, "%s: %s.id: expected a non-negative integer", where, path);
        if (!(a->content = tk_arena_strdup(&tok->arena, content->u.str, content->n)))
            return lrp_fail(err, "%s: out of memory", where);
        a->len = content->n;
        a->id = id;
        if (tk_strmap_put(&tok->added_map, a->content, a->len, id)) return lrp_fail(err, "%s: out of memory", where);
        tok->n_added++;
    }
    return 0;
}

static int build_piece_table(lrp_tokenizer *tok, const char *where, lrp_err *err) {
    int n = tok->model.n_str;
    for (int i = 0; i < tok->n_added; i++)
        if (tok->added[i].id >= n) n = tok->added[i].id + 1;
    tok->vocab_size = n;
    size_t cnt = n ? (size_t)n : 1;
    tok->piece = calloc(cnt, sizeof *tok->piece);
    tok->piece_len = calloc(cnt, sizeof *tok->piece_len);
    tok->special = calloc(cnt, 1);
    if (!tok->piece || !tok->piece_len || !tok->special) return lrp_fail(err, "%s: out of memory", where);
    for (int i = 0; i < tok->model.n_str; i++) {
        tok->piece[i] = tok->model.str[i];
        tok->piece_len[i] = tok->model.len[i];
    }
    for (int i = 0; i < tok->n_added; i++) {
        const tk_added *a = &tok->added[i];
        tok->piece[a->id] = a->content;
        tok->piece_len[a->id] = (uint32_t)a->len;
        tok->special[a->id] = (unsigned char)a->special;
    }
    return 0;
}

static int build_tries(lrp_tokenizer *tok, const char *where, lrp_err *err) {
    for (int r = 0; r < 256; r++) tok->raw_trie.root[r] = tok->norm_trie.root[r] = -1;
    tk_buf nb = {0};
    for (int i = 0; i < tok->n_added; i++) {
        const tk_added *a = &tok->added[i];
        int rc;
        if (a->normalized && tok->norm) {
            // normalized tokens are matched on normalized text, by their normalized form
            rc = tk_norm_apply(tok->norm, a->content, a->len, &nb);
            if (!rc) {
                const char *k = tk_arena_strdup(&tok->arena, nb.p ? nb.p : "", nb.n);
                rc = !k || trie_add(&tok->norm_trie, k, nb.n, i);
            }
        } else {
            rc = trie_add(&tok->raw_trie, a->content, a->len, i);
        }
        if (rc) {
            tk_buf_free(&nb);
            return lrp_fail(err, "%s: out of memory", where);
        }
    }
    tk_buf_free(&nb);
    return 0;
}

// A special token named in tokenizer_config.json: a string or {"content": ...}.
static int config_token(const lrp_tokenizer *tok, const tj_value *cfg, const char *key) {
    const tj_value *v = tj_get(cfg, key);
    if (v && v->type == TJ_OBJECT) v = tj_get(v, "content");
    if (!v || v->type != TJ_STRING) return -1;
    return lrp_tokenizer_token_id(tok, v->u.str);
}

static int load_config(lrp_tokenizer *tok, const char *cfg_json, const char *where, lrp_err *err) {
    tok->bos_id = tok->eos_id = tok->mask_id = -1;
    tok->cleanup = 0;
    if (!cfg_json) return 0;
    tj_doc *doc;
    char name[600];
    snprintf(name, sizeof name, "%s (tokenizer_config.json)", where);
    if (tj_parse(&doc, cfg_json, strlen(cfg_json), name, err)) return -1;
    const tj_value *root = tj_root(doc);
    int add_bos = 0, add_eos = 0, rc = -1;
    if (root->type != TJ_OBJECT) {
        lrp_fail(err, "%s: expected an object", name);
        goto done;
    }
    if (tk_json_bool(root, "add_bos_token", 0, "tokenizer_config", &add_bos, err) ||
        tk_json_bool(root, "add_eos_token", 0, "tokenizer_config", &add_eos, err) ||
        tk_json_bool(root, "clean_up_tokenization_spaces", 0, "tokenizer_config", &tok->cleanup, err)) {
        lrp_fail_prefix(err, where);
        goto done;
    }
    tok->mask_id = config_token(tok, root, "mask_token");
    // The post-processor decides when it adds tokens itself; otherwise the config's flags do.
    if (!tk_post_adds_tokens(tok->post)) {
        if (add_bos && (tok->bos_id = config_token(tok, root, "bos_token")) < 0) {
            lrp_fail(err, "%s: add_bos_token is true but bos_token is missing or not in the vocabulary", name);
            goto done;
        }
        if (add_eos && (tok->eos_id = config_token(tok, root, "eos_token")) < 0) {
            lrp_fail(err, "%s: add_eos_token is true but eos_token is missing or not in the vocabulary", name);
            goto done;
        }
    }
    rc = 0;
done:
    tj_free(doc);
    return rc;
}

int lrp_tokenizer_load_json(lrp_tokenizer **out, const char *json, size_t len, const char *cfg_json, const char *where,
                            lrp_err *err) {
    *out = NULL;
    if (!where) where = "tokenizer.json";
    if (len > SIZE_MAX - 1) return lrp_fail(err, "%s: too large", where);
    char *copy = malloc(len + 1);
    if (!copy) return lrp_fail(err, "%s: out of memory", where);
    memcpy(copy, json, len);
    return load_json(out, copy, len, cfg_json, where, err);
}

// json: malloc'ed (len + 1 bytes), owned by this function.
static int load_json(lrp_tokenizer **out, char *json, size_t len, const char *cfg_json, const char *where, lrp_err *err) {
    *out = NULL;
    tj_doc *doc = NULL;
    lrp_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok) {
        free(json);
        return lrp_fail(err, "%s: out of memory", where);
    }
    tok->bos_id = tok->eos_id = tok->mask_id = -1;
    if (tj_parse_owned(&doc, json, len, where, err)) goto fail;
    const tj_value *root = tj_root(doc), *v;
    if (root->type != TJ_OBJECT) {
        lrp_fail(err, "%s: expected a JSON object at the top level", where);
        goto fail;
    }
    if (!(v = tj_get(root, "model"))) {
        lrp_fail(err, "%s: model: missing", where);
        goto fail;
    }
    if (tk_model_build(&tok->model, &tok->arena, v, "model", err)) goto prefixed;
    if (load_added(tok, tj_get(root, "added_tokens"), where, err)) goto fail;
    if ((v = tj_get(root, "normalizer")) && v->type != TJ_NULL && tk_norm_build(&tok->norm, v, "normalizer", err))
        goto prefixed;
    if ((v = tj_get(root, "pre_tokenizer")) && v->type != TJ_NULL &&
        tk_pretok_build(&tok->pre, v, "pre_tokenizer", err))
        goto prefixed;
    if ((v = tj_get(root, "decoder")) && v->type != TJ_NULL && tk_dec_build(&tok->dec, v, "decoder", err)) goto prefixed;
    if (build_piece_table(tok, where, err) || build_tries(tok, where, err)) goto fail;
    if ((v = tj_get(root, "post_processor")) && v->type != TJ_NULL &&
        tk_post_build(&tok->post, tok, v, "post_processor", err))
        goto prefixed;
    if (load_config(tok, cfg_json, where, err)) goto fail;
    // Without a mask_token in tokenizer_config.json: the added token BERT or RoBERTa use.
    for (int i = 0; i < tok->n_added && tok->mask_id < 0; i++)
        if (!strcmp(tok->added[i].content, "[MASK]")) tok->mask_id = tok->added[i].id;
    for (int i = 0; i < tok->n_added && tok->mask_id < 0; i++)
        if (!strcmp(tok->added[i].content, "<mask>")) tok->mask_id = tok->added[i].id;
    tj_free(doc);
    *out = tok;
    return 0;
prefixed:
    lrp_fail_prefix(err, where);
fail:
    tj_free(doc);
    lrp_tokenizer_free(tok);
    return -1;
}

void lrp_tokenizer_free(lrp_tokenizer *tok) {
    if (!tok) return;
    tk_model_free(&tok->model);
    tk_norm_free(tok->norm);
    tk_pretok_free(tok->pre);
    tk_post_free(tok->post);
    tk_dec_free(tok->dec);
    free(tok->added);
    tk_strmap_free(&tok->added_map);
    free(tok->raw_trie.nodes);
    free(tok->norm_trie.nodes);
    free(tok->piece);
    free(tok->piece_len);
    free(tok->special);
    tk_arena_free(&tok->arena);
    free(tok);
}

// ---- encode ----------------------------------------------------------------------------------

typedef struct {
    tk_pieces a, b;
    tk_segs segs;
} encode_scratch;

// Pre-tokenizes and runs the model on one stretch of normalized text.
static int encode_text(const lrp_tokenizer *tok, const char *s, size_t n, int first, encode_scratch *sc, tk_ids *ids) {
    if (!n) return 0;
    tk_pieces *io = &sc->a, *scratch = &sc->b;
    tk_pieces_reset(io);
    if (tk_pieces_add(io, s, n, first)) return -1;
    if (tok->pre && tk_pretok_apply(tok->pre, &io, &scratch)) return -1;
    for (size_t i = 0; i < io->n; i++)
        if (tk_model_tokenize(&tok->model, tk_piece_str(io, i), io->v[i].len, ids)) return -1;
    return 0;
}

// The ids of one text before post-processing (added tokens, normalizer, pre-tokenizer, model),
// appended to *ids. `which` names the text in errors ("" or "text pair: ").
static int encode_sequence(const lrp_tokenizer *tok, const char *text, size_t len, const char *which,
                           encode_scratch *sc, tk_ids *ids, lrp_err *err) {
    if (!text && len) return lrp_fail(err, "tokenize: %stext is NULL", which);
    if (!text) text = "";
    size_t bad = tk_utf8_check(text, len);
    if (bad != len)
        return lrp_fail(err, "%sinvalid UTF-8 at byte offset %zu (byte 0x%02X)", which, bad, (unsigned char)text[bad]);
    tk_segs raw = {0};
    tk_buf norm = {0};
    int rc = -1;
    if (split_added(tok, &tok->raw_trie, text, len, &raw)) goto oom;
    for (size_t i = 0; i < raw.n; i++) {
        const tk_seg *g = &raw.v[i];
        if (g->added >= 0) {
            if (tk_ids_push(ids, tok->added[g->added].id)) goto oom;
            continue;
        }
        const char *s = text + g->s;
        size_t n = g->e - g->s;
        int first = g->s == 0;
        if (tok->norm) {
            if (tk_norm_apply(tok->norm, s, n, &norm)) goto oom;
            s = norm.p ? norm.p : "";
            n = norm.n;
        }
        if (!tok->norm_trie.n_tokens) {
            if (encode_text(tok, s, n, first, sc, ids)) goto oom;
            continue;
        }
        if (split_added(tok, &tok->norm_trie, s, n, &sc->segs)) goto oom;
        for (size_t k = 0; k < sc->segs.n; k++) {
            const tk_seg *h = &sc->segs.v[k];
            if (h->added >= 0) {
                if (tk_ids_push(ids, tok->added[h->added].id)) goto oom;
            } else if (encode_text(tok, s + h->s, h->e - h->s, first && h->s == 0, sc, ids)) {
                goto oom;
            }
        }
    }
    for (size_t i = 0; i < ids->n; i++)
        if (ids->v[i] < 0) {
            lrp_fail(err, "tokenize: the model has no unknown token for a piece of the input");
            goto done;
        }
    rc = 0;
    goto done;
oom:
    lrp_fail(err, "tokenize: out of memory");
done:
    free(raw.v);
    tk_buf_free(&norm);
    return rc;
}

int lrp_tokenizer_can_encode_pair(const lrp_tokenizer *tok) { return tk_post_can_pair(tok->post); }

int lrp_tokenizer_encode_pair(const lrp_tokenizer *tok, const char *a, size_t a_len, const char *b, size_t b_len,
                              int add_special, int **ids_out, int **types_out, int *n_out, lrp_err *err) {
    *ids_out = NULL;
    if (types_out) *types_out = NULL;
    *n_out = 0;
    if (b && !tk_post_can_pair(tok->post))
        return lrp_fail(err, "tokenizer.json: post_processor has no pair template: this tokenizer cannot encode a text pair");
    tk_ids sa = {0}, sb = {0}, ids = {0}, types = {0};
    encode_scratch sc = {0};
    int rc = -1;
    if (encode_sequence(tok, a, a_len, b ? "text: " : "", &sc, &sa, err) ||
        (b && encode_sequence(tok, b, b_len, "text pair: ", &sc, &sb, err)))
        goto done;
    if (tok->post && tk_post_adds_tokens(tok->post)) {
        if (tk_post_process(tok->post, &sa, b ? &sb : NULL, add_special, &ids, &types)) goto oom;
    } else {
        // The post-processor adds nothing; tokenizer_config.json's BOS/EOS do (single sequences only,
        // as a pair needs a post-processor that can join two sequences).
        int bos = add_special && tok->bos_id >= 0, eos = add_special && tok->eos_id >= 0;
        if ((bos && (tk_ids_push(&ids, tok->bos_id) || tk_ids_push(&types, 0))) ||
            tk_post_process(tok->post, &sa, b ? &sb : NULL, add_special, &ids, &types) ||
            (eos && (tk_ids_push(&ids, tok->eos_id) || tk_ids_push(&types, b ? 1 : 0))))
            goto oom;
    }
    if (ids.n > (size_t)INT32_MAX) {
        lrp_fail(err, "tokenize: too many tokens");
        goto done;
    }
    if (!ids.v && !(ids.v = malloc(sizeof *ids.v))) goto oom;
    if (!types.v && !(types.v = malloc(sizeof *types.v))) goto oom;
    *ids_out = ids.v;
    ids.v = NULL;
    if (types_out) {
        *types_out = types.v;
        types.v = NULL;
    }
    *n_out = (int)ids.n;
    rc = 0;
    goto done;
oom:
    lrp_fail(err, "tokenize: out of memory");
done:
    free(sa.v);
    free(sb.v);
    free(ids.v);
    free(types.v);
    free(sc.segs.v);
    tk_pieces_free(&sc.a);
    tk_pieces_free(&sc.b);
    return rc;
}

int lrp_tokenizer_encode(const lrp_tokenizer *tok, const char *text, size_t len, int add_special, int **ids_out,
                         int *n_out, lrp_err *err) {
    return lrp_tokenizer_encode_pair(tok, text, len, NULL, 0, add_special, ids_out, NULL, n_out, err);
}

int lrp_tokenizer_mask_id(const lrp_tokenizer *tok) { return tok->mask_id; }

// ---- decode ----------------------------------------------------------------------------------

int tk_cleanup_spaces(tk_buf *b, int do_not);

int lrp_tokenizer_decode(const lrp_tokenizer *tok, const int *ids, int n_ids, int skip_special, char **text,
                         lrp_err *err) {
    *text = NULL;
    tk_pieces a = {0}, b = {0};
    tk_pieces *io = &a, *scratch = &b;
    tk_buf out = {0};
    int rc = -1;
    for (int i = 0; i < n_ids; i++) {
        int id = ids[i];
        if (id < 0 || id >= tok->vocab_size || !tok->piece[id]) {
            lrp_fail(err, "id %d at index %d is not in the vocabulary (size %d)", id, i, tok->vocab_size);
            goto done;
        }
        if (skip_special && tok->special[id]) continue;
        if (tk_pieces_add(io, tok->piece[id], tok->piece_len[id], 0)) goto oom;
    }
    if (tok->dec && tk_dec_apply(tok->dec, &io, &scratch, 0)) goto oom;
    if (tk_buf_reserve(&out, 0)) goto oom;
    out.p[0] = '\0';
    for (size_t i = 0; i < io->n; i++)
        if ((i && !tok->dec && tk_buf_put(&out, " ", 1)) || tk_buf_put(&out, tk_piece_str(io, i), io->v[i].len))
            goto oom;
    if (tok->cleanup && tk_cleanup_spaces(&out, 0)) goto oom;
    if (tk_buf_reserve(&out, 0)) goto oom;
    *text = out.p;
    out.p = NULL;
    rc = 0;
    goto done;
oom:
    lrp_fail(err, "detokenize: out of memory");
done:
    tk_pieces_free(&a);
    tk_pieces_free(&b);
    tk_buf_free(&out);
    return rc;
}

// ---- queries ---------------------------------------------------------------------------------

int lrp_tokenizer_vocab_size(const lrp_tokenizer *tok) { return tok->vocab_size; }

const char *lrp_tokenizer_piece(const lrp_tokenizer *tok, int id) {
    return id >= 0 && id < tok->vocab_size ? tok->piece[id] : NULL;
}

int lrp_tokenizer_is_special(const lrp_tokenizer *tok, int id) {
    return id >= 0 && id < tok->vocab_size && tok->special[id];
}

int lrp_tokenizer_token_id(const lrp_tokenizer *tok, const char *piece) {
    size_t n = strlen(piece);
    int id = tk_strmap_get(&tok->added_map, piece, n);
    return id >= 0 ? id : tk_strmap_get(&tok->model.vocab, piece, n);
}

// One token through the decoder (mode: tk_dec_apply's, 1 text, 2 raw bytes), into buf (NUL-terminated,
// truncated to cap; at a UTF-8 character boundary when whole_chars).
static int token_decoded(const lrp_tokenizer *tok, int id, char *buf, int cap, int mode, int whole_chars) {
    if (!buf || cap <= 0) return 0;
    buf[0] = '\0';
    const char *p = lrp_tokenizer_piece(tok, id);
    if (!p) return 0;
    tk_pieces a = {0}, b = {0};
    tk_pieces *io = &a, *scratch = &b;
    const char *s = p;
    size_t n = tok->piece_len[id];
    tk_buf j = {0};
    if (!tok->special[id] && tok->dec && !tk_pieces_add(io, p, n, 0) && !tk_dec_apply(tok->dec, &io, &scratch, mode)) {
        int ok = 1;
        for (size_t i = 0; i < io->n && ok; i++) ok = !tk_buf_put(&j, tk_piece_str(io, i), io->v[i].len);
        if (ok) {
            s = j.p ? j.p : "";
            n = j.n;
        }
    }
    size_t w = n < (size_t)cap - 1 ? n : (size_t)cap - 1;
    while (whole_chars && w > 0 && w < n && ((unsigned char)s[w] & 0xC0) == 0x80) w--;
    memcpy(buf, s, w);
    buf[w] = '\0';
    tk_buf_free(&j);
    tk_pieces_free(&a);
    tk_pieces_free(&b);
    return (int)w;
}

int lrp_tokenizer_token_text(const lrp_tokenizer *tok, int id, char *buf, int cap) {
    return token_decoded(tok, id, buf, cap, 1, 1);
}

int lrp_tokenizer_token_bytes(const lrp_tokenizer *tok, int id, char *buf, int cap) {
    return token_decoded(tok, id, buf, cap, 2, 0);
}

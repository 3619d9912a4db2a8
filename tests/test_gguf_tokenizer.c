// Tokenizers embedded in GGUF files. The real stories260K files (../shared/models/stories260K/) are
// checked against facts their README states and against a direct implementation of SentencePiece's
// merge rule written here; small "llama" and "gpt2" files made with the test writer are checked
// against tokenizations worked out by hand from each algorithm's definition; and GGUF files made, as
// llama.cpp's converter makes them, from the vocabularies in tests/tokenizer/ are checked against the
// ids the independent reference (@huggingface/tokenizers, tests/tokenizer/gen_expected.mjs) produced.
#include <jansson.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/gguf.h"
#include "harness.h"
#include "support/gguf_writer.h"
#include "tokenizer/tokenizer.h"

// ---------------------------------------------------------------------------------------------
// Helpers.

static const char *shared_path(const char *rel, char *buf, size_t cap) {
    const char *root = getenv("ATTNLRP_SHARED");
    snprintf(buf, cap, "%s/%s", root && *root ? root : "../shared", rel);
    return buf;
}

#define STORIES_V3 "models/stories260K/stories260K.gguf"
#define STORIES_V1 "models/stories260K/tinyllamas-stories-260k-f32.gguf"

static lrp_tokenizer *load_real(const char *rel) {
    char path[512];
    lrp_tokenizer *tok = NULL;
    lrp_err err;
    if (lrp_tokenizer_from_gguf_file(&tok, shared_path(rel, path, sizeof path), &err)) {
        fprintf(stderr, "  %s\n", err.msg);
        return NULL;
    }
    return tok;
}

static char tmp_dir[64];
static char tmp_file[300];

static void remove_tmp(void) {
    if (tmp_file[0]) unlink(tmp_file);
    if (tmp_dir[0]) rmdir(tmp_dir);
}

// Writes the file w describes (and frees w), then reads its tokenizer. Returns the status; the
// error line is left in err.
static int tokenizer_of(gguf_writer *w, lrp_tokenizer **tok, lrp_err *err) {
    *tok = NULL;
    if (!tmp_dir[0]) {
        snprintf(tmp_dir, sizeof tmp_dir, "/tmp/lrp_ggtok_XXXXXX");
        if (!mkdtemp(tmp_dir)) return lrp_fail(err, "cannot make a temporary directory");
        snprintf(tmp_file, sizeof tmp_file, "%s/tok.gguf", tmp_dir);
        atexit(remove_tmp);
    }
    int rc = gw_write(w, tmp_file);
    gw_free(w);
    if (rc) return lrp_fail(err, "cannot write %s", tmp_file);
    lrp_tensor_file tf = {0};
    if (lrp_gguf_open(&tf, tmp_file, err)) return -1;
    rc = lrp_tokenizer_from_gguf(tok, &tf, "tok.gguf", err);
    lrp_tf_close(&tf);
    return rc;
}

// Encodes text and compares with the expected ids; prints both on a mismatch.
static int encodes_to(const lrp_tokenizer *tok, const char *text, int add_special, const int *want, int n_want) {
    int *ids = NULL, n = 0;
    lrp_err err;
    if (!tok) return 0;
    if (lrp_tokenizer_encode(tok, text, strlen(text), add_special, &ids, &n, &err)) {
        fprintf(stderr, "  encode \"%s\": %s\n", text, err.msg);
        return 0;
    }
    int ok = n == n_want && (n == 0 || !memcmp(ids, want, (size_t)n * sizeof *ids));
    if (!ok) {
        fprintf(stderr, "  encode \"%s\" gave", text);
        for (int i = 0; i < n; i++) fprintf(stderr, " %d", ids[i]);
        fprintf(stderr, ", expected");
        for (int i = 0; i < n_want; i++) fprintf(stderr, " %d", want[i]);
        fprintf(stderr, "\n");
    }
    free(ids);
    return ok;
}

#define ENCODES(tok, text, special, ...)                                                  \
    do {                                                                                  \
        static const int want_[] = {__VA_ARGS__};                                         \
        CHECK(encodes_to(tok, text, special, want_, (int)(sizeof want_ / sizeof *want_))); \
    } while (0)

// decode(ids) as a malloc'ed string ("(error)" on failure).
static char *decoded(const lrp_tokenizer *tok, const int *ids, int n, int skip_special) {
    char *text = NULL;
    lrp_err err;
    if (!tok || lrp_tokenizer_decode(tok, ids, n, skip_special, &text, &err)) return strdup("(error)");
    return text;
}

#define DECODES(tok, skip, want, ...)                                                          \
    do {                                                                                       \
        static const int ids_[] = {__VA_ARGS__};                                               \
        char *got_ = decoded(tok, ids_, (int)(sizeof ids_ / sizeof *ids_), skip);               \
        CHECK_STR(got_, want);                                                                 \
        free(got_);                                                                            \
    } while (0)

// ---------------------------------------------------------------------------------------------
// The real stories260K tokenizer (README: "Tokenizer" section and the sanity check).

TEST(stories260k_encodes_the_readme_prompt_with_bos_and_no_eos) {
    lrp_tokenizer *tok = load_real(STORIES_V3);
    CHECK(tok != NULL);
    ENCODES(tok, "Once upon a time", 1, 1, 403, 407, 261, 378);
    ENCODES(tok, "Once upon a time", 0, 403, 407, 261, 378);
    CHECK(!tok || lrp_tokenizer_vocab_size(tok) == 512);
    lrp_tokenizer_free(tok);
}

// The README's first 20 greedy ids after the prompt are ',' '▁there' '▁was' '▁a' '▁little' '▁g' 'ir' 'l'
// '▁named' '▁Lily' '.' '▁She' '▁lo' 'ved' '▁to' '▁play' '▁' 'out' 's' 'id': the start of its 40-token
// sample, cut inside "outside".
static const char readme_sample[] =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw "
    "a big, red ball.";

TEST(stories260k_decodes_the_readme_greedy_continuation) {
    lrp_tokenizer *tok = load_real(STORIES_V3);
    CHECK(tok != NULL);
    static const int ids[] = {1,   403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315,
                              421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419, 292};
    char *text = decoded(tok, ids, 25, 1);
    CHECK_STR(text, "Once upon a time, there was a little girl named Lily. She loved to play outsid");
    CHECK(strncmp(readme_sample, text, strlen(text)) == 0);
    free(text);
    text = decoded(tok, ids + 5, 20, 1);  // the continuation alone
    CHECK_STR(text, ", there was a little girl named Lily. She loved to play outsid");
    free(text);
    // without skipping, the control token shows; the space after it is the prefix's and stays
    DECODES(tok, 0, "<s> Once upon", 1, 403, 407);
    lrp_tokenizer_free(tok);
}

// README: ids 3..258 are <0x00>..<0xFF> (id = byte + 3); "é" (id 485) is a piece, "ü" and emoji are not.
TEST(stories260k_falls_back_to_byte_tokens_for_characters_outside_the_vocabulary) {
    lrp_tokenizer *tok = load_real(STORIES_V3);
    ENCODES(tok, "\xc3\xbc", 1, 1, 410, 0xC3 + 3, 0xBC + 3);                         // "▁" then ü = C3 BC
    ENCODES(tok, "I \xf0\x9f\x98\x80", 1, 1, 359, 410, 0xF0 + 3, 0x9F + 3, 0x98 + 3, 0x80 + 3);  // 😀
    ENCODES(tok, "\xc3\xa9", 1, 1, 410, 485);                                        // é is a piece
    ENCODES(tok, "a\nb", 1, 1, 261, 0x0A + 3, 430);                                  // newline is <0x0A>
    lrp_tokenizer_free(tok);
}

TEST(stories260k_decoding_byte_tokens_reassembles_utf8) {
    lrp_tokenizer *tok = load_real(STORIES_V3);
    DECODES(tok, 1, "I \xf0\x9f\x98\x80", 1, 359, 410, 0xF0 + 3, 0x9F + 3, 0x98 + 3, 0x80 + 3);
    DECODES(tok, 1, "\xc3\xbc", 410, 0xC3 + 3, 0xBC + 3);
    DECODES(tok, 1, "a\nb", 1, 261, 0x0A + 3, 430);
    // an incomplete sequence becomes one U+FFFD per byte token (ByteFallback decoder)
    DECODES(tok, 1, "\xef\xbf\xbd\xef\xbf\xbd", 0xF0 + 3, 0x9F + 3);
    char buf[16];
    CHECK(tok && lrp_tokenizer_token_text(tok, 0x0A + 3, buf, sizeof buf) == 1 && buf[0] == '\n');
    CHECK(tok && lrp_tokenizer_token_text(tok, 403, buf, sizeof buf) > 0);
    CHECK_STR(buf, " Once");
    lrp_tokenizer_free(tok);
}

TEST(stories260k_keeps_leading_and_repeated_spaces) {
    lrp_tokenizer *tok = load_real(STORIES_V3);
    ENCODES(tok, " Once", 1, 1, 410, 403);       // "▁▁Once": the text's own space stays a lone "▁"
    ENCODES(tok, "a  b", 1, 1, 261, 410, 268);   // "▁a▁▁b" -> ▁a ▁ ▁b
    ENCODES(tok, "time ", 1, 1, 378, 410);       // "▁time▁"
    ENCODES(tok, "", 1, 1);
    DECODES(tok, 1, " Once", 1, 410, 403);
    DECODES(tok, 1, "a  b", 1, 261, 410, 268);
    lrp_tokenizer_free(tok);
}

TEST(stories260k_control_and_unknown_tokens_are_special) {
    lrp_tokenizer *tok = load_real(STORIES_V3);
    CHECK(tok && lrp_tokenizer_is_special(tok, 0) && lrp_tokenizer_is_special(tok, 1) && lrp_tokenizer_is_special(tok, 2));
    CHECK(tok && !lrp_tokenizer_is_special(tok, 403) && !lrp_tokenizer_is_special(tok, 13));
    CHECK(tok && lrp_tokenizer_token_id(tok, "\xe2\x96\x81Once") == 403 && lrp_tokenizer_token_id(tok, "</s>") == 2);
    ENCODES(tok, "<s>Once", 0, 1, 403);          // a control token's text in the input is that token
    DECODES(tok, 1, "Once", 1, 403, 2);          // and decode(skip_special) drops it
    lrp_tokenizer_free(tok);
}

// The v1 file (klosax's conversion) has the same tokens, scores and types (README).
TEST(stories260k_v1_and_v3_files_tokenize_identically) {
    lrp_tokenizer *a = load_real(STORIES_V3), *b = load_real(STORIES_V1);
    CHECK(a && b);
    if (!a || !b) {
        lrp_tokenizer_free(a);
        lrp_tokenizer_free(b);
        return;
    }
    CHECK(lrp_tokenizer_vocab_size(a) == lrp_tokenizer_vocab_size(b));
    for (int i = 0; i < lrp_tokenizer_vocab_size(a); i++) {
        CHECK_STR(lrp_tokenizer_piece(a, i), lrp_tokenizer_piece(b, i));
        CHECK(lrp_tokenizer_is_special(a, i) == lrp_tokenizer_is_special(b, i));
    }
    static const char *texts[] = {
        "Once upon a time, there was a little girl named Lily.",
        "She said, \"Don't worry, Lily. We can help you.\"\n\nThe end!",
        "  two leading spaces, caf\xc3\xa9 and \xc3\xbc\xf0\x9f\x98\x80 ",
        "<s>control</s> tokens <unk> inside",
    };
    for (size_t t = 0; t < sizeof texts / sizeof *texts; t++) {
        int *x = NULL, *y = NULL, nx = 0, ny = 0;
        lrp_err err;
        CHECK(lrp_tokenizer_encode(a, texts[t], strlen(texts[t]), 1, &x, &nx, &err) == 0);
        CHECK(lrp_tokenizer_encode(b, texts[t], strlen(texts[t]), 1, &y, &ny, &err) == 0);
        CHECK(nx == ny && nx > 0 && !memcmp(x, y, (size_t)nx * sizeof *x));
        free(x);
        free(y);
    }
    lrp_tokenizer_free(a);
    lrp_tokenizer_free(b);
}

// ---------------------------------------------------------------------------------------------
// SentencePiece's rule, implemented directly as the reference: prefix "▁", spaces -> "▁", start from
// single characters, repeatedly merge the adjacent pair whose concatenation is a normal piece with the
// highest score (leftmost on ties), then map each symbol to its piece or to its bytes' <0xNN> tokens.

typedef struct {
    int n;
    const char **text;
    size_t *len;
    float *score;
    int *type;
} spm_ref;

static int spm_ref_load(spm_ref *r, const lrp_tensor_file *tf) {
    const lrp_gguf_value *t = lrp_gguf_get(tf, "tokenizer.ggml.tokens"), *s = lrp_gguf_get(tf, "tokenizer.ggml.scores"),
                         *ty = lrp_gguf_get(tf, "tokenizer.ggml.token_type");
    r->n = (int)lrp_gguf_array_len(t);
    r->text = calloc((size_t)r->n, sizeof *r->text);
    r->len = calloc((size_t)r->n, sizeof *r->len);
    r->score = calloc((size_t)r->n, sizeof *r->score);
    r->type = calloc((size_t)r->n, sizeof *r->type);
    if (!r->n || !r->text || !r->len || !r->score || !r->type) return -1;
    for (int i = 0; i < r->n; i++) {
        double d;
        int64_t k;
        r->text[i] = lrp_gguf_array_string(t, (uint64_t)i, &r->len[i]);
        if (lrp_gguf_array_float(s, (uint64_t)i, &d) || lrp_gguf_array_int(ty, (uint64_t)i, &k)) return -1;
        r->score[i] = (float)d;
        r->type[i] = (int)k;
    }
    return 0;
}

static void spm_ref_free(spm_ref *r) {
    free(r->text);
    free(r->len);
    free(r->score);
    free(r->type);
}

static int spm_ref_find(const spm_ref *r, const char *s, size_t n, int normal_only) {
    for (int i = 0; i < r->n; i++)
        if (r->len[i] == n && !memcmp(r->text[i], s, n) && (!normal_only || r->type[i] == 1)) return i;
    return -1;
}

// ids of text (no BOS); returns the count written to out (cap entries).
static int spm_ref_encode(const spm_ref *r, const char *text, int *out, int cap) {
    char buf[4096];
    size_t n = 0;
    memcpy(buf, "\xe2\x96\x81", 3);
    n = 3;
    for (const char *p = text; *p && n + 3 < sizeof buf; p++) {
        if (*p == ' ') memcpy(buf + n, "\xe2\x96\x81", 3), n += 3;
        else buf[n++] = *p;
    }
    size_t start[1024], len[1024];
    int ns = 0;
    for (size_t i = 0; i < n && ns < 1024;) {
        size_t l = 1;
        unsigned char c = (unsigned char)buf[i];
        if (c >= 0xF0) l = 4;
        else if (c >= 0xE0) l = 3;
        else if (c >= 0xC0) l = 2;
        start[ns] = i;
        len[ns++] = l;
        i += l;
    }
    for (;;) {
        int best = -1;
        float best_score = 0;
        for (int i = 0; i + 1 < ns; i++) {
            int id = spm_ref_find(r, buf + start[i], len[i] + len[i + 1], 1);
            if (id >= 0 && (best < 0 || r->score[id] > best_score)) best = i, best_score = r->score[id];
        }
        if (best < 0) break;
        len[best] += len[best + 1];
        memmove(start + best + 1, start + best + 2, (size_t)(ns - best - 2) * sizeof *start);
        memmove(len + best + 1, len + best + 2, (size_t)(ns - best - 2) * sizeof *len);
        ns--;
    }
    int k = 0;
    for (int i = 0; i < ns; i++) {
        int id = spm_ref_find(r, buf + start[i], len[i], 0);
        if (id >= 0) {
            if (k < cap) out[k++] = id;
            continue;
        }
        for (size_t b = 0; b < len[i]; b++) {
            char name[8];
            snprintf(name, sizeof name, "<0x%02X>", (unsigned char)buf[start[i] + b]);
            if (k < cap) out[k++] = spm_ref_find(r, name, 6, 0);
        }
    }
    return k;
}

TEST(stories260k_matches_sentencepiece_merging_by_score_on_varied_text) {
    char path[512];
    lrp_tensor_file tf = {0};
    lrp_err err;
    spm_ref ref = {0};
    lrp_tokenizer *tok = NULL;
    CHECK(lrp_gguf_open(&tf, shared_path(STORIES_V3, path, sizeof path), &err) == 0);
    CHECK(spm_ref_load(&ref, &tf) == 0);
    CHECK(lrp_tokenizer_from_gguf(&tok, &tf, path, &err) == 0 && tok);
    if (!tok || !ref.n) goto done;
    static const char *fixed[] = {
        readme_sample,
        "Her mom said, \"Don't worry, Lily. We can help you.\"",
        "Timmy and his friend wanted to go to the beach!  They were so happy...",
        "caf\xc3\xa9 na\xc3\xafve \xe2\x80\x9cquoted\xe2\x80\x9d \xe2\x80\x94 dash",
    };
    // plus pseudo-random strings over letters, spaces, punctuation and a few non-ASCII characters
    static const char *alphabet[] = {"a", "e", "i", "o", "t", "h", "n", "s", "l", "y", "T", "L", " ", " ", ",", ".",
                                     "\"", "'", "\n", "1", "\xc3\xa9", "\xc3\xbc", "\xe2\x80\x99", "\xf0\x9f\x98\x80"};
    uint32_t seed = 12345;
    int mismatches = 0;
    for (int t = 0; t < 4 + 300; t++) {
        char text[512];
        if (t < 4) {
            snprintf(text, sizeof text, "%s", fixed[t]);
        } else {
            size_t n = 0;
            seed = seed * 1664525u + 1013904223u;
            int len = 1 + (int)(seed >> 27);
            for (int c = 0; c < len; c++) {
                seed = seed * 1664525u + 1013904223u;
                const char *ch = alphabet[(seed >> 16) % (sizeof alphabet / sizeof *alphabet)];
                memcpy(text + n, ch, strlen(ch));
                n += strlen(ch);
            }
            text[n] = '\0';
        }
        int want[1024], *got = NULL, n_got = 0;
        int n_want = spm_ref_encode(&ref, text, want, 1024);
        CHECK(lrp_tokenizer_encode(tok, text, strlen(text), 0, &got, &n_got, &err) == 0);
        if (n_got != n_want || memcmp(got, want, (size_t)n_got * sizeof *got)) {
            if (mismatches++ < 3) fprintf(stderr, "  differs from the SentencePiece rule on \"%s\"\n", text);
        }
        free(got);
    }
    CHECK(mismatches == 0);
done:
    lrp_tokenizer_free(tok);
    spm_ref_free(&ref);
    lrp_tf_close(&tf);
}

// ---------------------------------------------------------------------------------------------
// Small "llama" files: which merge wins is decided by the scores.

// <unk> <s> </s> ▁ a b ab ▁a <0x63>; score_ab and score_space_a decide between "ab" and "▁a".
static gguf_writer *small_llama(float score_ab, float score_space_a) {
    gguf_writer *w = gw_new(3);
    static const char *toks[] = {"<unk>", "<s>", "</s>", "\xe2\x96\x81", "a", "b", "ab", ("\xe2\x96\x81" "a"), "<0x63>"};
    float scores[] = {0, 0, 0, -10, -11, -12, score_ab, score_space_a, 0};
    int32_t types[] = {2, 3, 3, 1, 1, 1, 1, 1, 6};
    gw_kv_str(w, "general.architecture", "llama");
    gw_kv_str(w, "tokenizer.ggml.model", "llama");
    gw_kv_arr_str(w, "tokenizer.ggml.tokens", toks, 9);
    gw_kv_arr(w, "tokenizer.ggml.scores", GW_FLOAT32, scores, 9);
    gw_kv_arr(w, "tokenizer.ggml.token_type", GW_INT32, types, 9);
    return w;
}

TEST(llama_vocab_merges_the_pair_whose_piece_scores_highest) {
    lrp_tokenizer *tok;
    lrp_err err;
    // "ab" -> "▁ab": candidates ▁a and ab; the higher score merges first
    CHECK(tokenizer_of(small_llama(-1, -2), &tok, &err) == 0);
    ENCODES(tok, "ab", 1, 1, 3, 6);
    lrp_tokenizer_free(tok);
    CHECK(tokenizer_of(small_llama(-2, -1), &tok, &err) == 0);
    ENCODES(tok, "ab", 1, 1, 7, 5);
    lrp_tokenizer_free(tok);
}

TEST(llama_vocab_uses_byte_tokens_and_falls_back_to_unk) {
    lrp_tokenizer *tok;
    lrp_err err;
    CHECK(tokenizer_of(small_llama(-1, -2), &tok, &err) == 0);
    ENCODES(tok, "c", 0, 3, 8);       // 'c' = 0x63 has a byte token
    ENCODES(tok, "d", 0, 3, 0);       // 'd' has neither piece nor byte token: <unk>
    ENCODES(tok, "dd", 0, 3, 0);      // consecutive unknowns fuse into one <unk>
    DECODES(tok, 1, "abc", 1, 3, 6, 8);
    lrp_tokenizer_free(tok);
}

TEST(llama_vocab_honours_add_bos_add_eos_and_add_space_prefix) {
    lrp_tokenizer *tok;
    lrp_err err;
    gguf_writer *w = small_llama(-1, -2);
    gw_kv_bool(w, "tokenizer.ggml.add_bos_token", 0);
    gw_kv_bool(w, "tokenizer.ggml.add_eos_token", 1);
    CHECK(tokenizer_of(w, &tok, &err) == 0);
    ENCODES(tok, "ab", 1, 3, 6, 2);
    DECODES(tok, 1, "ab", 3, 6, 2);
    lrp_tokenizer_free(tok);

    w = small_llama(-1, -2);
    gw_kv_bool(w, "tokenizer.ggml.add_space_prefix", 0);
    CHECK(tokenizer_of(w, &tok, &err) == 0);
    ENCODES(tok, "ab", 1, 1, 6);
    ENCODES(tok, " ab", 1, 1, 3, 6);
    DECODES(tok, 1, " ab", 3, 6);  // no prefix was added, so none is stripped
    lrp_tokenizer_free(tok);

    // special ids from the file (here: BOS is token 2)
    w = small_llama(-1, -2);
    gw_kv_u32(w, "tokenizer.ggml.bos_token_id", 2);
    CHECK(tokenizer_of(w, &tok, &err) == 0);
    ENCODES(tok, "ab", 1, 2, 3, 6);
    lrp_tokenizer_free(tok);
}

// ---------------------------------------------------------------------------------------------
// Small "gpt2" files: byte-level BPE. In the byte-level alphabet ' ' is "Ġ" (U+0120), '\n' is "Ċ"
// (U+010A), and bytes 0xA1..0xFF other than 0xAD stand for themselves (é = C3 A9 = "Ã©").

#define G_SPACE "\xc4\xa0"
#define G_NL "\xc4\x8a"

static const char *gpt2_tokens[] = {
    "<|endoftext|>", "h", "e", "l", "o", G_SPACE, "w", "r", "d", "!",                                  // 0-9
    "he", "ll", "hell", "hello", (G_SPACE "w"), "or", (G_SPACE "wor"), "ld", (G_SPACE "world"), "<|user|>",  // 10-19
    G_NL, "el", "1", "2", "3", "4", "12", "123", "1234", "x",                                          // 20-29
    "y", "z", "xyz", "\xc3\x83", "\xc2\xa9", ("\xc3\x83" "\xc2\xa9"),                                       // 30-35
};
#define N_GPT2 36

static const char *gpt2_merges[] = {
    "l l", "h e", "e l", "he ll", "o r", (G_SPACE " w"), "hell o", (G_SPACE "w or"), "l d", (G_SPACE "wor ld"),
    "1 2", "12 3", "123 4", "\xc3\x83 \xc2\xa9",
};

static gguf_writer *small_gpt2(const char *pre) {
    gguf_writer *w = gw_new(3);
    int32_t types[N_GPT2];
    for (int i = 0; i < N_GPT2; i++) types[i] = 1;
    types[0] = 3;   // control
    types[19] = 4;  // user-defined
    gw_kv_str(w, "tokenizer.ggml.model", "gpt2");
    if (pre) gw_kv_str(w, "tokenizer.ggml.pre", pre);
    gw_kv_arr_str(w, "tokenizer.ggml.tokens", gpt2_tokens, N_GPT2);
    gw_kv_arr(w, "tokenizer.ggml.token_type", GW_INT32, types, N_GPT2);
    gw_kv_arr_str(w, "tokenizer.ggml.merges", gpt2_merges, sizeof gpt2_merges / sizeof *gpt2_merges);
    gw_kv_u32(w, "tokenizer.ggml.bos_token_id", 0);
    gw_kv_u32(w, "tokenizer.ggml.eos_token_id", 0);
    return w;
}

// Ranks: "l l" 0 < "h e" 1 < "e l" 2 < "he ll" 3 < "o r" 4 < "Ġ w" 5 < "hell o" 6 < "Ġw or" 7 < "l d" 8 ...
TEST(gpt2_vocab_applies_merges_in_rank_order) {
    lrp_tokenizer *tok;
    lrp_err err;
    CHECK(tokenizer_of(small_gpt2("gpt-2"), &tok, &err) == 0);
    ENCODES(tok, "hello", 1, 13);          // ll, he, hell, hello
    ENCODES(tok, "ell", 1, 2, 11);         // "l l" (rank 0) beats the leftmost "e l" (rank 2)
    ENCODES(tok, "hel", 1, 10, 3);         // "h e" (rank 1) beats "e l" (rank 2)
    ENCODES(tok, "hello world!", 1, 13, 18, 9);
    ENCODES(tok, "\xc3\xa9", 1, 35);       // é -> bytes C3 A9 -> "Ã©"
    DECODES(tok, 1, "hello world!", 13, 18, 9);
    DECODES(tok, 1, "\xc3\xa9", 33, 34);
    char buf[32];
    CHECK(tok && lrp_tokenizer_token_text(tok, 18, buf, sizeof buf) > 0);
    CHECK_STR(buf, " world");
    lrp_tokenizer_free(tok);
}

TEST(gpt2_vocab_pre_tokenizes_with_the_regex_tokenizer_ggml_pre_names) {
    lrp_tokenizer *tok;
    lrp_err err;
    // GPT-2: " ?\p{N}+" keeps a number whole; whitespace before a space-prefixed word stays apart
    CHECK(tokenizer_of(small_gpt2("gpt-2"), &tok, &err) == 0);
    ENCODES(tok, "1234", 1, 28);
    ENCODES(tok, "hello  world", 1, 13, 5, 18);
    ENCODES(tok, "hello\n", 1, 13, 20);
    ENCODES(tok, "xyz", 1, 29, 30, 31);
    lrp_tokenizer_free(tok);
    // Llama 3: numbers in groups of up to three; a pre-token that is a whole token is kept (ignore_merges)
    CHECK(tokenizer_of(small_gpt2("llama-bpe"), &tok, &err) == 0);
    ENCODES(tok, "1234", 0, 27, 25);
    ENCODES(tok, "xyz", 0, 32);
    ENCODES(tok, "hello world!", 0, 13, 18, 9);
    lrp_tokenizer_free(tok);
    // Qwen2: every digit on its own
    CHECK(tokenizer_of(small_gpt2("qwen2"), &tok, &err) == 0);
    ENCODES(tok, "1234", 1, 22, 23, 24, 25);
    lrp_tokenizer_free(tok);
    // llama.cpp's "default" (also when the key is missing) ends with a "[0-9][0-9][0-9]" split
    CHECK(tokenizer_of(small_gpt2(NULL), &tok, &err) == 0);
    ENCODES(tok, "1234", 1, 27, 25);
    lrp_tokenizer_free(tok);
}

TEST(gpt2_vocab_bos_follows_add_bos_token_and_the_pre_tokenizer_default) {
    lrp_tokenizer *tok;
    lrp_err err;
    CHECK(tokenizer_of(small_gpt2("gpt-2"), &tok, &err) == 0);  // GPT-2 adds nothing by default
    ENCODES(tok, "hello", 1, 13);
    lrp_tokenizer_free(tok);
    CHECK(tokenizer_of(small_gpt2("llama-bpe"), &tok, &err) == 0);  // Llama 3 adds BOS by default
    ENCODES(tok, "hello", 1, 0, 13);
    lrp_tokenizer_free(tok);
    gguf_writer *w = small_gpt2("llama-bpe");
    gw_kv_bool(w, "tokenizer.ggml.add_bos_token", 0);
    CHECK(tokenizer_of(w, &tok, &err) == 0);
    ENCODES(tok, "hello", 1, 13);
    lrp_tokenizer_free(tok);
}

TEST(gpt2_vocab_control_tokens_are_special_and_user_defined_ones_are_not) {
    lrp_tokenizer *tok;
    lrp_err err;
    CHECK(tokenizer_of(small_gpt2("gpt-2"), &tok, &err) == 0);
    ENCODES(tok, "hello<|endoftext|>", 1, 13, 0);
    ENCODES(tok, "<|user|>hello", 1, 19, 13);
    CHECK(tok && lrp_tokenizer_is_special(tok, 0) && !lrp_tokenizer_is_special(tok, 19));
    DECODES(tok, 1, "hello", 13, 0);
    DECODES(tok, 0, "hello<|endoftext|>", 13, 0);
    DECODES(tok, 1, "<|user|>hello", 19, 13);
    lrp_tokenizer_free(tok);
}

// ---------------------------------------------------------------------------------------------
// Real vocabularies (tests/tokenizer/<name>/tokenizer.json, trimmed) converted to GGUF metadata the way
// llama.cpp's converter writes it: dense tokens (ids the trimmed file lacks become unused tokens),
// token types, and for "llama" the SentencePiece scores, whose order the tokenizer.json merges keep
// (score of a piece = minus the rank of the first merge producing it). Checked against the reference's
// encode (with and without specials) and decode(skip_special_tokens) on every input.

#define FIXTURES "tests/tokenizer/"

typedef struct {
    gguf_writer *w;
    char **tokens;
    int n;
} fixture_gguf;

static void fixture_free(fixture_gguf *f) {
    for (int i = 0; i < f->n; i++) free(f->tokens[i]);
    free(f->tokens);
}

static int fixture_to_gguf(fixture_gguf *f, const char *name, int spm, const char *pre) {
    char path[256];
    json_error_t e;
    snprintf(path, sizeof path, FIXTURES "%s/tokenizer.json", name);
    json_t *tj = json_load_file(path, 0, &e), *vocab = json_object_get(json_object_get(tj, "model"), "vocab");
    json_t *merges = json_object_get(json_object_get(tj, "model"), "merges"), *added = json_object_get(tj, "added_tokens");
    if (!vocab || !merges) {
        fprintf(stderr, "  %s: %s\n", path, e.text);
        json_decref(tj);
        return -1;
    }
    const char *key;
    json_t *v;
    size_t i;
    int n = 0;
    json_object_foreach(vocab, key, v) if (json_integer_value(v) >= n) n = (int)json_integer_value(v) + 1;
    json_array_foreach(added, i, v) if (json_integer_value(json_object_get(v, "id")) >= n) n =
        (int)json_integer_value(json_object_get(v, "id")) + 1;
    f->n = n;
    f->tokens = calloc((size_t)n, sizeof *f->tokens);
    int32_t *types = calloc((size_t)n, sizeof *types);
    float *scores = calloc((size_t)n, sizeof *scores);
    char *have_score = calloc((size_t)n, 1);
    json_object_foreach(vocab, key, v) {
        int id = (int)json_integer_value(v);
        f->tokens[id] = strdup(key);
        unsigned hex;
        char tail;
        types[id] = spm && strlen(key) == 6 && sscanf(key, "<0x%2X%c", &hex, &tail) == 2 && tail == '>' ? 6 : 1;
        if (spm && !strcmp(key, "<unk>")) types[id] = 2;
    }
    json_array_foreach(added, i, v) {
        int id = (int)json_integer_value(json_object_get(v, "id"));
        free(f->tokens[id]);
        f->tokens[id] = strdup(json_string_value(json_object_get(v, "content")));
        if (types[id] != 2) types[id] = json_is_true(json_object_get(v, "special")) ? 3 : 4;
    }
    for (int k = 0; k < n; k++)
        if (!f->tokens[k]) {
            char buf[32];
            snprintf(buf, sizeof buf, "<unused_%d>", k);
            f->tokens[k] = strdup(buf);
            types[k] = 5;
        }
    // merges as "left right" strings (the GGUF form) and, for SentencePiece, the scores they imply
    size_t n_merges = json_array_size(merges);
    char **ms = calloc(n_merges ? n_merges : 1, sizeof *ms);
    json_array_foreach(merges, i, v) {
        const char *a = json_is_string(v) ? json_string_value(v) : json_string_value(json_array_get(v, 0));
        const char *b = json_is_string(v) ? NULL : json_string_value(json_array_get(v, 1));
        char *m = malloc(strlen(a) + (b ? strlen(b) : 0) + 2);
        if (b) sprintf(m, "%s %s", a, b);
        else strcpy(m, a);
        ms[i] = m;
        char *joined = strdup(m), *sp = strchr(joined + 1, ' ');
        if (sp) memmove(sp, sp + 1, strlen(sp));
        json_t *jid = json_object_get(vocab, joined);
        int id = jid ? (int)json_integer_value(jid) : -1;
        if (id >= 0 && !have_score[id]) scores[id] = -(float)i, have_score[id] = 1;
        free(joined);
    }
    for (int k = 0; k < n; k++)
        if (types[k] == 1 && !have_score[k]) scores[k] = -1e6f - (float)k;  // single characters: never merged into
    f->w = gw_new(3);
    gw_kv_str(f->w, "tokenizer.ggml.model", spm ? "llama" : "gpt2");
    if (pre) gw_kv_str(f->w, "tokenizer.ggml.pre", pre);
    gw_kv_arr_str(f->w, "tokenizer.ggml.tokens", (const char *const *)f->tokens, (uint64_t)n);
    gw_kv_arr(f->w, "tokenizer.ggml.token_type", GW_INT32, types, (uint64_t)n);
    if (spm) gw_kv_arr(f->w, "tokenizer.ggml.scores", GW_FLOAT32, scores, (uint64_t)n);
    else gw_kv_arr_str(f->w, "tokenizer.ggml.merges", (const char *const *)ms, n_merges);
    for (size_t k = 0; k < n_merges; k++) free(ms[k]);
    free(ms);
    free(types);
    free(scores);
    free(have_score);
    json_decref(tj);
    return 0;
}

static int json_ids_equal(const int *got, int n, const json_t *arr, size_t from, size_t to) {
    if ((size_t)n != to - from) return 0;
    for (int i = 0; i < n; i++)
        if (got[i] != json_integer_value(json_array_get(arr, from + (size_t)i))) return 0;
    return 1;
}

// Number of inputs whose encode or decode differs from <name>/expected.jsonl (-1: could not run).
static int fixture_mismatches(const lrp_tokenizer *tok, const char *name) {
    char path[256];
    json_error_t e;
    json_t *inputs = json_load_file(FIXTURES "inputs.json", JSON_ALLOW_NUL, &e);
    snprintf(path, sizeof path, FIXTURES "%s/expected.jsonl", name);
    FILE *f = fopen(path, "r");
    if (!tok || !inputs || !f) {
        if (f) fclose(f);
        json_decref(inputs);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int bad = 0, row_no = 0, checked = 0;
    while ((got = getline(&line, &cap, f)) > 0) {
        json_t *row = json_loadb(line, (size_t)got, 0, &e), *index = json_object_get(row, "i");
        if (index) row_no = (int)json_integer_value(index);
        json_t *text = json_array_get(inputs, (size_t)row_no++);
        if (!row || !text || json_object_get(row, "skip")) {
            bad += !row || !text;
            json_decref(row);
            continue;
        }
        const char *s = json_string_value(text);
        size_t len = json_string_length(text);
        json_t *ids = json_object_get(row, "ids"), *plain = json_object_get(row, "plain");
        size_t n_ids = json_array_size(ids), from = json_array_size(json_object_get(row, "pre"));
        size_t to = n_ids - json_array_size(json_object_get(row, "post"));
        int *a = NULL, *b = NULL, na = 0, nb = 0;
        lrp_err err;
        int ok = !lrp_tokenizer_encode(tok, s, len, 1, &a, &na, &err) && json_ids_equal(a, na, ids, 0, n_ids);
        ok &= !lrp_tokenizer_encode(tok, s, len, 0, &b, &nb, &err) &&
              (plain ? json_ids_equal(b, nb, plain, 0, json_array_size(plain)) : json_ids_equal(b, nb, ids, from, to));
        json_t *want_skip = json_object_get(row, "dec_skip");
        char *dec = NULL;
        ok &= !lrp_tokenizer_decode(tok, a ? a : b, a ? na : nb, 1, &dec, &err) &&
              !strcmp(dec, want_skip ? json_string_value(want_skip) : s);
        if (!ok && bad++ < 3) fprintf(stderr, "  %s input %d differs from the reference: %.60s\n", name, row_no - 1, s);
        checked++;
        free(a);
        free(b);
        free(dec);
        json_decref(row);
    }
    free(line);
    fclose(f);
    json_decref(inputs);
    return checked > 1000 ? bad : -1;
}

TEST(llama_gguf_from_a_real_sentencepiece_vocabulary_matches_the_reference) {
    fixture_gguf f = {0};
    lrp_tokenizer *tok = NULL;
    lrp_err err;
    CHECK(fixture_to_gguf(&f, "llama2", 1, NULL) == 0);
    if (f.w) CHECK(tokenizer_of(f.w, &tok, &err) == 0);
    CHECK(fixture_mismatches(tok, "llama2") == 0);
    lrp_tokenizer_free(tok);
    fixture_free(&f);
}

TEST(gpt2_gguf_from_a_real_byte_level_vocabulary_matches_the_reference) {
    fixture_gguf f = {0};
    lrp_tokenizer *tok = NULL;
    lrp_err err;
    CHECK(fixture_to_gguf(&f, "gpt2", 0, "gpt-2") == 0);
    if (f.w) CHECK(tokenizer_of(f.w, &tok, &err) == 0);
    CHECK(fixture_mismatches(tok, "gpt2") == 0);
    lrp_tokenizer_free(tok);
    fixture_free(&f);
}

// ---------------------------------------------------------------------------------------------
// Bad metadata: one clear error naming the key.

static int fails_with(gguf_writer *w, const char *needle) {
    lrp_tokenizer *tok = NULL;
    lrp_err err;
    int rc = tokenizer_of(w, &tok, &err);
    lrp_tokenizer_free(tok);
    if (rc == 0) {
        fprintf(stderr, "  expected an error containing \"%s\"\n", needle);
        return 0;
    }
    if (!strstr(err.msg, needle)) {
        fprintf(stderr, "  error \"%s\" does not contain \"%s\"\n", err.msg, needle);
        return 0;
    }
    return 1;
}

TEST(bad_tokenizer_metadata_gives_one_error_naming_the_key) {
    gguf_writer *w = small_gpt2("no-such-regex");
    CHECK(fails_with(w, "tokenizer.ggml.pre \"no-such-regex\""));

    w = gw_new(3);
    gw_kv_str(w, "tokenizer.ggml.model", "bert");
    CHECK(fails_with(w, "tokenizer.ggml.model \"bert\""));

    w = gw_new(3);
    gw_kv_str(w, "tokenizer.ggml.model", "llama");
    CHECK(fails_with(w, "tokenizer.ggml.tokens: missing"));

    w = gw_new(3);
    int32_t nums[2] = {1, 2};
    gw_kv_str(w, "tokenizer.ggml.model", "llama");
    gw_kv_arr(w, "tokenizer.ggml.tokens", GW_INT32, nums, 2);
    CHECK(fails_with(w, "tokenizer.ggml.tokens: expected an array of strings"));

    w = gw_new(3);
    static const char *toks3[] = {"<unk>", "a", "b"};
    gw_kv_str(w, "tokenizer.ggml.model", "llama");
    gw_kv_arr_str(w, "tokenizer.ggml.tokens", toks3, 3);
    gw_kv_arr(w, "tokenizer.ggml.token_type", GW_INT32, nums, 2);
    CHECK(fails_with(w, "tokenizer.ggml.token_type: expected 3 entries"));

    w = gw_new(3);
    static const char *dup[] = {"<unk>", "a", "a"};
    gw_kv_str(w, "tokenizer.ggml.model", "llama");
    gw_kv_arr_str(w, "tokenizer.ggml.tokens", dup, 3);
    CHECK(fails_with(w, "tokenizer.ggml.tokens[2]: \"a\" repeats token 1"));

    w = gw_new(3);
    static const char *bad_utf8[] = {"<unk>", "\xff"};
    gw_kv_str(w, "tokenizer.ggml.model", "llama");
    gw_kv_arr_str(w, "tokenizer.ggml.tokens", bad_utf8, 2);
    CHECK(fails_with(w, "tokenizer.ggml.tokens[1]: invalid UTF-8"));

    w = gw_new(3);
    static const char *merges[] = {"h e", "q u"};
    gw_kv_str(w, "tokenizer.ggml.model", "gpt2");
    gw_kv_str(w, "tokenizer.ggml.pre", "gpt-2");
    gw_kv_arr_str(w, "tokenizer.ggml.tokens", gpt2_tokens, N_GPT2);
    gw_kv_arr_str(w, "tokenizer.ggml.merges", merges, 2);
    CHECK(fails_with(w, "tokenizer.ggml.merges[1] \"q u\""));

    w = gw_new(3);
    gw_kv_str(w, "tokenizer.ggml.model", "gpt2");
    gw_kv_str(w, "tokenizer.ggml.pre", "gpt-2");
    gw_kv_arr_str(w, "tokenizer.ggml.tokens", gpt2_tokens, N_GPT2);
    CHECK(fails_with(w, "tokenizer.ggml.merges: missing"));

    w = gw_new(3);
    gw_kv_str(w, "tokenizer.ggml.model", "gpt2");
    gw_kv_str(w, "tokenizer.ggml.pre", "gpt-2");
    gw_kv_arr_str(w, "tokenizer.ggml.tokens", gpt2_tokens, N_GPT2);
    gw_kv_arr_str(w, "tokenizer.ggml.merges", gpt2_merges, 2);
    gw_kv_bool(w, "tokenizer.ggml.add_bos_token", 1);
    CHECK(fails_with(w, "tokenizer.ggml.add_bos_token is true but tokenizer.ggml.bos_token_id names no token"));

    w = small_llama(-1, -2);
    gw_kv_u8(w, "tokenizer.ggml.add_bos_token", 1);
    CHECK(fails_with(w, "tokenizer.ggml.add_bos_token: expected a bool"));
}

TEST(empty_tokens_are_allowed_and_decode_to_nothing) {
    lrp_tokenizer *tok;
    lrp_err err;
    gguf_writer *w = gw_new(3);
    static const char *toks[] = {"<unk>", "<s>", "</s>", "", "\xe2\x96\x81", "a", ""};
    gw_kv_str(w, "tokenizer.ggml.model", "llama");
    gw_kv_arr_str(w, "tokenizer.ggml.tokens", toks, 7);
    CHECK(tokenizer_of(w, &tok, &err) == 0);
    ENCODES(tok, "a", 1, 1, 4, 5);
    DECODES(tok, 1, "a", 1, 3, 4, 5, 6);
    lrp_tokenizer_free(tok);
}

TEST(a_gguf_file_without_a_tokenizer_has_none) {
    lrp_tokenizer *tok = (lrp_tokenizer *)1;
    lrp_err err;
    gguf_writer *w = gw_new(3);
    gw_kv_str(w, "general.architecture", "llama");
    CHECK(tokenizer_of(w, &tok, &err) == 0 && tok == NULL);
    // asking the file for its tokenizer is an error then
    CHECK(lrp_tokenizer_from_gguf_file(&tok, tmp_file, &err) == -1 && tok == NULL);
    CHECK(strstr(err.msg, "holds no tokenizer") != NULL);
}

TEST_MAIN(T(stories260k_encodes_the_readme_prompt_with_bos_and_no_eos),
          T(stories260k_decodes_the_readme_greedy_continuation),
          T(stories260k_falls_back_to_byte_tokens_for_characters_outside_the_vocabulary),
          T(stories260k_decoding_byte_tokens_reassembles_utf8), T(stories260k_keeps_leading_and_repeated_spaces),
          T(stories260k_control_and_unknown_tokens_are_special), T(stories260k_v1_and_v3_files_tokenize_identically),
          T(stories260k_matches_sentencepiece_merging_by_score_on_varied_text),
          T(llama_vocab_merges_the_pair_whose_piece_scores_highest),
          T(llama_vocab_uses_byte_tokens_and_falls_back_to_unk),
          T(llama_vocab_honours_add_bos_add_eos_and_add_space_prefix), T(gpt2_vocab_applies_merges_in_rank_order),
          T(gpt2_vocab_pre_tokenizes_with_the_regex_tokenizer_ggml_pre_names),
          T(gpt2_vocab_bos_follows_add_bos_token_and_the_pre_tokenizer_default),
          T(gpt2_vocab_control_tokens_are_special_and_user_defined_ones_are_not),
          T(llama_gguf_from_a_real_sentencepiece_vocabulary_matches_the_reference),
          T(gpt2_gguf_from_a_real_byte_level_vocabulary_matches_the_reference),
          T(bad_tokenizer_metadata_gives_one_error_naming_the_key), T(empty_tokens_are_allowed_and_decode_to_nothing), T(a_gguf_file_without_a_tokenizer_has_none))

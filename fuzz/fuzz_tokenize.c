// libFuzzer harness: arbitrary bytes encoded by real tokenizers (the shipped models' and the test
// suite's: byte-level BPE, SentencePiece BPE with byte fallback, WordPiece, Unigram), loaded once.
// The first byte picks the tokenizer and the options; the rest is the text (a NUL byte in it splits
// a text pair). Invalid UTF-8 must be an error, never a crash; a successful encoding must decode.
#include "fuzz.h"
#include "tokenizer/tokenizer.h"

#ifndef LRP_FUZZ_ROOT
#define LRP_FUZZ_ROOT "."
#endif

static const char *const paths[] = {
    "models/default", "models/sentiment", "models/t5-facts", "tests/tokenizer/gpt2", "tests/tokenizer/llama2",
    "tests/tokenizer/llama3", "tests/tokenizer/bert", "tests/tokenizer/qwen3", "tests/tokenizer/precompiled",
};
#define N_TOK (sizeof paths / sizeof paths[0])
static lrp_tokenizer *toks[N_TOK];
static int n_toks;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    // FUZZ_TOKENIZERS=N: only the first N (the shipped models' three load in a second; all nine take
    // half a minute under ASan, too long for the test suite's smoke run).
    size_t n = N_TOK;
    const char *env = getenv("FUZZ_TOKENIZERS");
    if (env && atoi(env) > 0 && (size_t)atoi(env) < n) n = (size_t)atoi(env);
    for (size_t i = 0; i < n; i++) {
        char p[512];
        lrp_err err;
        snprintf(p, sizeof p, "%s/%s", LRP_FUZZ_ROOT, paths[i]);
        if (lrp_tokenizer_load(&toks[n_toks], p, &err) == 0) n_toks++;
        else fprintf(stderr, "fuzz_tokenize: skipping %s: %s\n", p, err.msg);
    }
    if (!n_toks) {
        fprintf(stderr, "fuzz_tokenize: no tokenizer loaded\n");
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const lrp_tokenizer *tok = toks[data[0] % n_toks];
    int special = (data[0] / n_toks) & 1, skip = (data[0] / n_toks / 2) & 1;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    char *copy = malloc(len ? len : 1);  // exactly the bytes: an over-read is caught
    if (!copy) return 0;
    memcpy(copy, text, len);
    lrp_err err;
    int *ids = NULL, n = 0;
    const char *nul = memchr(copy, 0, len);
    if (nul && lrp_tokenizer_can_encode_pair(tok)) {
        size_t a = (size_t)(nul - copy);
        int *types = NULL;
        if (lrp_tokenizer_encode_pair(tok, copy, a, nul + 1, len - a - 1, special, &ids, &types, &n, &err) == 0) {
            free(types);
        } else {
            ids = NULL;
        }
    } else if (lrp_tokenizer_encode(tok, copy, len, special, &ids, &n, &err) != 0) {
        if (!err.msg[0]) abort();
        ids = NULL;
    }
    if (ids) {
        int v = lrp_tokenizer_vocab_size(tok);
        char *out = NULL;
        for (int i = 0; i < n; i++)
            if (ids[i] < 0 || ids[i] >= v) abort();  // an id outside the vocabulary
        if (lrp_tokenizer_decode(tok, ids, n, skip, &out, &err) != 0) abort();  // every encoding decodes
        free(out);
        unsigned char *starts = malloc((size_t)n + 1);
        if (starts) {
            lrp_tokenizer_word_starts(tok, ids, n, starts);
            free(starts);
        }
        char buf[32];
        for (int i = 0; i < n; i++) (void)lrp_tokenizer_token_bytes(tok, ids[i], buf, sizeof buf);
        free(ids);
    }
    free(copy);
    return 0;
}

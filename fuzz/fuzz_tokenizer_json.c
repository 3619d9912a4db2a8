// libFuzzer harness: loading a tokenizer.json from arbitrary bytes (everything before the first NUL;
// the bytes after it, if any, are the tokenizer_config.json), then using the loaded tokenizer on a
// fixed mixed-script text: encode (with and without special tokens), encode a pair, decode, and the
// per-token readouts.
#include "fuzz.h"
#include "tokenizer/tokenizer.h"

static const char sample[] = "Hello world! 123 <s> [CLS] caf\xc3\xa9 \xe2\x96\x81 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80\t\n  ##ing";

static void use(const lrp_tokenizer *tok) {
    lrp_err err;
    int *ids = NULL, n = 0;
    for (int special = 0; special < 2; special++) {
        if (lrp_tokenizer_encode(tok, sample, sizeof sample - 1, special, &ids, &n, &err) != 0) continue;
        char *text = NULL;
        if (lrp_tokenizer_decode(tok, ids, n, special, &text, &err) == 0) free(text);
        unsigned char *starts = malloc((size_t)n + 1);
        if (starts) {
            lrp_tokenizer_word_starts(tok, ids, n, starts);
            free(starts);
        }
        char buf[64];
        for (int i = 0; i < n; i++) {
            (void)lrp_tokenizer_token_text(tok, ids[i], buf, sizeof buf);
            (void)lrp_tokenizer_token_bytes(tok, ids[i], buf, sizeof buf);
            (void)lrp_tokenizer_is_special(tok, ids[i]);
            const char *piece = lrp_tokenizer_piece(tok, ids[i]);
            if (piece) (void)lrp_tokenizer_token_id(tok, piece);
        }
        free(ids);
    }
    if (lrp_tokenizer_can_encode_pair(tok)) {
        int *types = NULL;
        if (lrp_tokenizer_encode_pair(tok, "a b", 3, "c", 1, 1, &ids, &types, &n, &err) == 0) {
            free(ids);
            free(types);
        }
    }
    (void)lrp_tokenizer_mask_id(tok);
    int v = lrp_tokenizer_vocab_size(tok);
    char buf[16];
    int probe[] = {-1, 0, v - 1, v, v + 1};
    for (size_t i = 0; i < sizeof probe / sizeof probe[0]; i++) (void)lrp_tokenizer_token_text(tok, probe[i], buf, sizeof buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    size_t json_len = nul ? (size_t)(nul - data) : size;
    char *json = malloc(json_len ? json_len : 1);  // exactly the bytes: an over-read is caught
    char *config = NULL;
    if (!json) return 0;
    memcpy(json, data, json_len);
    if (nul) {
        size_t n = size - json_len - 1;
        config = malloc(n + 1);
        if (!config) {
            free(json);
            return 0;
        }
        memcpy(config, nul + 1, n);
        config[n] = 0;
    }
    lrp_tokenizer *tok = NULL;
    lrp_err err;
    if (lrp_tokenizer_load_json(&tok, json, json_len, config, "tokenizer.json", &err) == 0) {
        use(tok);
        lrp_tokenizer_free(tok);
    } else if (!err.msg[0]) {
        abort();
    }
    free(json);
    free(config);
    return 0;
}

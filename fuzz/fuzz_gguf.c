// libFuzzer harness: one GGUF file. The reader (header, metadata, tensor infos, alignment, data
// ranges), then what a session does with an open file: every metadata value through the typed
// accessors, the model configuration (lrp_gguf_config_read) and the embedded tokenizer. The image is
// read in place (lrp_gguf_open_memory): no file is written, and a read one byte past the end is
// caught by ASan (a file's mapping would hide it up to the end of its last page).
#include "fuzz.h"
#include "formats/gguf.h"
#include "models/config.h"
#include "tokenizer/tokenizer.h"

static void read_value(const lrp_gguf_value *v, int depth) {
    int64_t i;
    double f;
    int b;
    size_t len;
    (void)lrp_gguf_string(v);
    (void)lrp_gguf_int(v, &i);
    (void)lrp_gguf_float(v, &f);
    (void)lrp_gguf_bool(v, &b);
    uint64_t n = lrp_gguf_array_len(v);
    if (n > 64) n = 64;
    for (uint64_t k = 0; k < n; k++) {
        (void)lrp_gguf_array_string(v, k, &len);
        (void)lrp_gguf_array_int(v, k, &i);
        (void)lrp_gguf_array_float(v, k, &f);
        const lrp_gguf_value *item = lrp_gguf_array_item(v, k);
        if (item && depth < 4) read_value(item, depth + 1);
    }
    // Past the end: must be refused, not read.
    (void)lrp_gguf_array_string(v, lrp_gguf_array_len(v), &len);
    (void)lrp_gguf_array_int(v, lrp_gguf_array_len(v), &i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = "model.gguf";
    lrp_tensor_file tf;
    lrp_err err;
    if (lrp_gguf_open_memory(&tf, path, data, size, &err) != 0) {
        if (!err.msg[0]) abort();
        return 0;
    }
    const unsigned char *lo = tf.maps[0].addr, *hi = lo + tf.maps[0].len;
    for (int i = 0; i < tf.n_tensors; i++) {
        const lrp_tensor *t = &tf.tensors[i];
        const unsigned char *d = t->data;
        if (d < lo || d + t->nbytes > hi) abort();
        fuzz_touch(t->data, t->nbytes);
    }
    for (int i = 0; i < lrp_gguf_n_kv(&tf); i++) {
        const char *key = lrp_gguf_key_at(&tf, i);
        if (!key || lrp_gguf_get(&tf, key) == NULL) abort();
        read_value(lrp_gguf_value_at(&tf, i), 0);
    }
    lrp_config cfg;
    if (lrp_gguf_config_read(&tf, path, &cfg, &err) == 0) {
        (void)lrp_config_validate(&cfg, path, &err);
        lrp_config_free(&cfg);
    }
    lrp_tokenizer *tok = NULL;
    if (lrp_tokenizer_from_gguf(&tok, &tf, path, &err) == 0 && tok) {
        static const char text[] = "Once upon a time, <s> 42 \xc3\xa9t\xc3\xa9 \xe2\x96\x81x\n";
        int *ids = NULL, n = 0;
        if (lrp_tokenizer_encode(tok, text, sizeof text - 1, 1, &ids, &n, &err) == 0) {
            char *out = NULL;
            if (lrp_tokenizer_decode(tok, ids, n, 0, &out, &err) == 0) free(out);
            free(ids);
        }
        lrp_tokenizer_free(tok);
    }
    lrp_tf_close(&tf);
    return 0;
}

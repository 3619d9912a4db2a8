// libFuzzer harness: one .safetensors file (8-byte header length, JSON header, data section).
// Every tensor handed out must lie inside the mapping and match its dtype and shape. The bytes are read
// in place (lrp_safetensors_open_memory): no file is written, and a read one byte past the end is caught.
#include "fuzz.h"
#include "formats/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lrp_tensor_file tf;
    lrp_err err;
    if (lrp_safetensors_open_memory(&tf, "model.safetensors", data, size, &err) == 0) {
        const unsigned char *lo = tf.maps[0].addr, *hi = lo + tf.maps[0].len;
        for (int i = 0; i < tf.n_tensors; i++) {
            const lrp_tensor *t = &tf.tensors[i];
            const unsigned char *d = t->data;
            if (d < lo || d + t->nbytes > hi) abort();  // outside the file
            if ((size_t)lrp_tensor_numel(t) * lrp_dtype_block_bytes(t->dtype) != t->nbytes) abort();
            fuzz_touch(t->data, t->nbytes);
            if (lrp_tf_find(&tf, t->name) == NULL) abort();
        }
        lrp_tf_close(&tf);
    } else if (!err.msg[0]) {
        abort();  // a failure must say why
    }
    return 0;
}

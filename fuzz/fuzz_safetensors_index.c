// libFuzzer harness: a model.safetensors.index.json (the input) beside two valid shards, opened
// through the index: weight_map parsing, shard names (no absolute paths, no ".."), and the check
// that every listed tensor is stored in the shard the index names.
#include "fuzz.h"
#include "formats/safetensors.h"

// A shard holding one F32 tensor of shape [1] called NAME, its data 4 bytes.
static void write_shard(const char *file, const char *name) {
    char hdr[128];
    int n = snprintf(hdr, sizeof hdr, "{\"%s\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", name);
    while (n % 8) hdr[n++] = ' ';
    uint8_t buf[8 + 128 + 4];
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)n >> (8 * i));
    memcpy(buf + 8, hdr, (size_t)n);
    memset(buf + 8 + n, 0, 4);
    fuzz_write(file, buf, 8 + (size_t)n + 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    if (!ready) {
        write_shard("model-00001-of-00002.safetensors", "a.weight");
        write_shard("model-00002-of-00002.safetensors", "b.weight");
        ready = 1;
    }
    const char *path = fuzz_write("model.safetensors.index.json", data, size);
    lrp_tensor_file tf;
    lrp_err err;
    if (lrp_safetensors_open(&tf, path, &err) == 0) {
        for (int i = 0; i < tf.n_tensors; i++) fuzz_touch(tf.tensors[i].data, tf.tensors[i].nbytes);
        lrp_tf_close(&tf);
    } else if (!err.msg[0]) {
        abort();
    }
    return 0;
}

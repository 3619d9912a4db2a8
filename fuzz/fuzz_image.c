// libFuzzer harness: image input. The first byte picks the path: a PNG/JPEG decoded from memory,
// converted to 1 or 3 channels and resized with one of PIL's filters to a size taken from the next
// bytes (what lrp_image_load does with a preprocessor_config.json), or a NumPy .npy parsed.
#include "fuzz.h"
#include "inputs/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    unsigned mode = data[0], w = 1 + data[1] % 48, h = 1 + data[2] % 48, filter = data[3] % 7;
    data += 4, size -= 4;
    uint8_t *buf = malloc(size ? size : 1);  // exactly the bytes: an over-read is caught
    if (!buf) return 0;
    memcpy(buf, data, size);
    lrp_err err;
    if (mode & 1) {
        float *x = NULL;
        int shape[8], rank = 0;
        if (lrp_npy_parse("x.npy", buf, size, &x, shape, &rank, &err) == 0) {
            long n = 1;
            for (int i = 0; i < rank; i++) n *= shape[i];
            if (rank < 0 || rank > 8) abort();
            if (n > 0) fuzz_touch(x, (size_t)n * sizeof *x);
            free(x);
        } else if (!err.msg[0]) {
            abort();
        }
    } else {
        lrp_pixels px = {0}, conv = {0}, small = {0};
        if (lrp_image_decode_memory("x.png", buf, size, &px, &err) == 0) {
            if (px.width < 1 || px.height < 1 || (px.channels != 1 && px.channels != 3)) abort();
            fuzz_touch(px.data, (size_t)px.width * px.height * px.channels);
            if (lrp_pixels_convert(&px, (mode & 2) ? 3 : 1, &conv) == 0) {
                if (lrp_pixels_resize(&conv, (int)w, (int)h, (int)filter, &small, &err) == 0) {
                    fuzz_touch(small.data, (size_t)w * h * small.channels);
                    lrp_pixels_free(&small);
                }
                lrp_pixels_free(&conv);
            }
            lrp_pixels_free(&px);
        } else if (!err.msg[0]) {
            abort();
        }
    }
    free(buf);
    return 0;
}

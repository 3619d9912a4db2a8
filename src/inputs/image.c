// Placeholder until the image pipeline lands: .npy input only (float32/float64 [C, H, W], little-endian).
#include "inputs/image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lrp_image_free(lrp_image *img) {
    free(img->x);
    free(img->display.data);
    memset(img, 0, sizeof *img);
}

int lrp_image_load(const char *path, const lrp_image_spec *model, const char *preprocessor_json, lrp_image *out,
                   lrp_err *err) {
    (void)preprocessor_json;
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return lrp_fail(err, "%s: cannot open", path);
    unsigned char head[10];
    if (fread(head, 1, 10, f) != 10 || memcmp(head, "\x93NUMPY", 6) != 0) {
        fclose(f);
        return lrp_fail(err, "%s: not a .npy file", path);
    }
    size_t hl = head[8] | (size_t)head[9] << 8;
    char hdr[4096];
    if (hl >= sizeof hdr || fread(hdr, 1, hl, f) != hl) {
        fclose(f);
        return lrp_fail(err, "%s: bad header", path);
    }
    hdr[hl] = 0;
    int f8 = strstr(hdr, "'<f8'") != NULL;
    size_t n = (size_t)model->channels * model->height * model->width;
    out->x = malloc(n * sizeof(float));
    double *d = f8 ? malloc(n * sizeof(double)) : NULL;
    size_t got = f8 ? (d ? fread(d, 8, n, f) : 0) : (out->x ? fread(out->x, 4, n, f) : 0);
    fclose(f);
    if (f8 && d) for (size_t i = 0; i < got; i++) out->x[i] = (float)d[i];
    free(d);
    if (!out->x || got != n) {
        lrp_image_free(out);
        return lrp_fail(err, "%s: expected %zu values", path, n);
    }
    out->channels = model->channels, out->height = model->height, out->width = model->width;
    return 0;
}

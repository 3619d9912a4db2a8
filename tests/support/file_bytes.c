#include "file_bytes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

unsigned char *test_file_bytes(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    *n = 0;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = len > 0 ? malloc((size_t)len) : NULL;
    if (b && fread(b, 1, (size_t)len, f) != (size_t)len) free(b), b = NULL;
    fclose(f);
    *n = b ? (size_t)len : 0;
    return b;
}

int test_same_tensors(const lrp_tensor_file *a, const lrp_tensor_file *b) {
    int bad = a->n_tensors != b->n_tensors || a->n_tensors <= 0;
    for (int i = 0; i < a->n_tensors && i < b->n_tensors; i++) {
        const lrp_tensor *x = &a->tensors[i], *y = &b->tensors[i];
        if (strcmp(x->name, y->name) || x->dtype != y->dtype || x->nbytes != y->nbytes) {
            bad++;
            continue;
        }
        bad += (const char *)x->data - (const char *)a->maps[0].addr != (const char *)y->data - (const char *)b->maps[0].addr;
        bad += memcmp(x->data, y->data, x->nbytes) != 0;
    }
    return bad;
}

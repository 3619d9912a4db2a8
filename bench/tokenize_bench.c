// Tokenizer speed: load time of a tokenizer.json and encode throughput on a text file, one encode
// per line (add_special_tokens=false). Prints one JSON object; bench/tokenize.sh compares it with the
// JavaScript reference (bench/tokenize_bench.mjs) on the same file.
//
//     build/bench/tokenize_bench TOKENIZER_DIR_OR_JSON TEXT_FILE [REPS]
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tokenizer/tokenizer.h"

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: tokenize_bench TOKENIZER TEXT_FILE [REPS]\n");
        return 2;
    }
    int reps = argc > 3 ? atoi(argv[3]) : 3;
    if (reps < 1) reps = 1;
    lrp_err err;
    lrp_tokenizer *tok = NULL;
    double load_best = 1e30;
    for (int r = 0; r < 5; r++) {  // best of 5 loads
        lrp_tokenizer_free(tok);
        double t0 = now_ms();
        if (lrp_tokenizer_load(&tok, argv[1], &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        double t = now_ms() - t0;
        if (t < load_best) load_best = t;
    }
    FILE *f = fopen(argv[2], "rb");
    if (!f) {
        perror(argv[2]);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)size + 1);
    if (!text || fread(text, 1, (size_t)size, f) != (size_t)size) return 1;
    fclose(f);
    text[size] = '\0';
    double best = 1e30;
    long tokens = 0;
    uint64_t hash = 1469598103934665603ULL;  // FNV-1a over the ids, to compare with the reference
    for (int r = 0; r < reps; r++) {
        tokens = 0;
        hash = 1469598103934665603ULL;
        double t0 = now_ms();
        for (char *p = text, *end = text + size; p < end;) {
            char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
            int *ids, n;
            if (lrp_tokenizer_encode(tok, p, len, 0, &ids, &n, &err)) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            for (int i = 0; i < n; i++) hash = (hash ^ (uint64_t)(uint32_t)ids[i]) * 1099511628211ULL;
            tokens += n;
            free(ids);
            p += len + 1;
        }
        double t = now_ms() - t0;
        if (t < best) best = t;
    }
    printf("{\"impl\": \"c\", \"load_ms\": %.1f, \"encode_ms\": %.1f, \"bytes\": %ld, \"tokens\": %ld, \"mb_per_s\": %.2f, "
           "\"ids_fnv\": \"%016llx\"}\n",
           load_best, best, size, tokens, size / 1e6 / (best / 1e3), (unsigned long long)hash);
    lrp_tokenizer_free(tok);
    free(text);
    return 0;
}

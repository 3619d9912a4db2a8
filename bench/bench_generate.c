// Generation speed and the explanation latency per generated token (issue 4's speed point): greedy
// generation with the KV cache (lrp_generate) from a fixed prompt, timed token by token, then one attnlrp
// explanation per generated token of the sequence so far (what `attnlrp generate --explain` does).
//
//     bench_generate --model PATH [--prompt 16] [-n 32] [--reps 3] [--explain N] [--json]
//
// Decode speed is (n−1) tokens over the time from the first generated token to the last, so the prompt's
// prefill is reported on its own. --explain N explains the first N generated tokens (default: all n;
// 0: none); their mean latency is reported. Times are medians over --reps generations after one warm-up.
// Encoder-decoders (T5): the prompt is the source, which the encoder reads once; generated token k is
// explained with the whole source and the decoder's input before it (start token, tokens 0..k−1).
// The JSON lists the generated ids (generated_ids), to compare with another program's greedy run, the
// process CPU time per decoded token (decode_cpu_ms_per_token, all threads) and whether quantised weights
// took the quantised dot products (qdot: 0 under ATTNLRP_QDOT=0, kernels/qdot.h).
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "explain/explain.h"
#include "explain/generate.h"
#include "kernels/qdot.h"
#include "models/model.h"

#define MAX_REPS 100

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Process CPU time (all threads), ms: on a loaded machine it is disturbed less than wall-clock time.
static double cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

typedef struct stamps {
    double *t;    // time of each generated token
    double *cpu;  // process CPU time at each generated token
    int n;
} stamps;

static int on_token(int id, void *ctx) {
    (void)id;
    stamps *s = ctx;
    s->cpu[s->n] = cpu_ms();
    s->t[s->n++] = now_ms();
    return 0;
}

static int parse_int(const char *s, int lo, int hi, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

int main(int argc, char **argv) {
    const char *model = NULL;
    int P = 16, N = 32, reps = 3, n_explain = -1, json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(a, "--json")) {
            json = 1;
            continue;
        }
        if (!v) bad = 1;
        else if (!strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "--prompt")) bad = parse_int(v, 1, 1 << 16, &P);
        else if (!strcmp(a, "-n")) bad = parse_int(v, 2, 1 << 16, &N);
        else if (!strcmp(a, "--reps")) bad = parse_int(v, 1, MAX_REPS, &reps);
        else if (!strcmp(a, "--explain")) bad = parse_int(v, 0, 1 << 16, &n_explain);
        else bad = 1;
        if (bad) {
            fprintf(stderr, "usage: bench_generate --model PATH [--prompt 16] [-n 32] [--reps 3] [--explain N] "
                            "[--json]\n");
            return 2;
        }
        i++;
    }
    if (!model) {
        fprintf(stderr, "bench_generate: --model PATH is required\n");
        return 2;
    }
    if (n_explain < 0 || n_explain > N) n_explain = N;
    lrp_err err = {{0}};
    lrp_model *m = NULL;
    if (lrp_model_open(&m, model, &err)) {
        fprintf(stderr, "bench_generate: %s\n", err.msg);
        return 1;
    }
    int V = m->cfg.vocab_size;
    int *seq = malloc(((size_t)P + N) * sizeof(int));
    double *tok = malloc((size_t)N * sizeof(double)), *tok_cpu = malloc((size_t)N * sizeof(double));
    double prefill[MAX_REPS], decode_tps[MAX_REPS], decode_cpu_ms[MAX_REPS];
    if (!seq || !tok || !tok_cpu) {
        fprintf(stderr, "bench_generate: out of memory\n");
        return 1;
    }
    unsigned s = 2463534242u;  // the prompt: bench_explain's pseudo-random ids
    for (int t = 0; t < P; t++) {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        seq[t] = 3 + (int)(s % (unsigned)(V - 3));
    }
    lrp_sampler greedy = {.temperature = 0, .top_k = 0, .top_p = 1, .seed = 0};
    int n_gen = 0;
    for (int r = -1; r < reps; r++) {  // r = -1: warm-up
        stamps st = {tok, tok_cpu, 0};
        int *gen = NULL;
        double t0 = now_ms();
        if (lrp_generate(m, seq, P, N, &greedy, NULL, 0, 0, on_token, &st, &gen, &n_gen, &err)) {
            fprintf(stderr, "bench_generate: %s\n", err.msg);
            return 1;
        }
        memcpy(seq + P, gen, (size_t)n_gen * sizeof(int));
        free(gen);
        if (r >= 0) {
            prefill[r] = tok[0] - t0;
            decode_tps[r] = 1e3 * (n_gen - 1) / (tok[n_gen - 1] - tok[0]);
            decode_cpu_ms[r] = (tok_cpu[n_gen - 1] - tok_cpu[0]) / (n_gen - 1);
        }
    }
    // One explanation per generated token: target = that token, explained at the position before it.
    double *lat = malloc(((size_t)n_explain + 1) * sizeof(double));
    int seq2seq = m->cfg.task == LRP_TASK_SEQ2SEQ_LM;
    int *dec = malloc(((size_t)N + 1) * sizeof(int));  // encoder-decoders: the start token, then the tokens
    if (!lat || !dec) return 1;
    dec[0] = m->cfg.decoder_start_token_id;
    memcpy(dec + 1, seq + P, (size_t)n_gen * sizeof(int));
    lrp_explain_opts eo;
    lrp_explain_opts_default(&eo);
    double total = 0;
    for (int k = 0; k < n_explain; k++) {
        lrp_explanation e;
        eo.target = seq[P + k];
        double t0 = now_ms();
        lrp_inputs in = {.ids = seq, .T = P, .decoder_ids = dec, .decoder_T = k + 1};
        if (seq2seq ? lrp_explain_inputs(m, &in, &eo, &e, &err) : lrp_explain(m, seq, P + k, &eo, &e, &err)) {
            fprintf(stderr, "bench_generate: %s\n", err.msg);
            return 1;
        }
        lat[k] = now_ms() - t0;
        total += lat[k];
        lrp_explanation_free(&e);
    }
    double mean_explain = n_explain ? total / n_explain : 0;
    double first = n_explain ? lat[0] : 0, last = n_explain ? lat[n_explain - 1] : 0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const char *dtype = "?";
    for (int i = 0; i < m->tf.n_tensors; i++)  // the dtype of the first matrix: what the matmuls read
        if (m->tf.tensors[i].ndim == 2) {
            dtype = lrp_dtype_name(m->tf.tensors[i].dtype);
            break;
        }
    double pf = median(prefill, reps), tps = median(decode_tps, reps);
    if (json) {
        printf("{\"model\": \"%s\", \"format\": \"%s\", \"dtype\": \"%s\", \"threads\": %d, \"prompt\": %d, "
               "\"generated\": %d, \"reps\": %d, \"prefill_ms\": %.3f, \"decode_tokens_per_s\": %.3f, "
               "\"explained\": %d, \"explain_ms_mean\": %.3f, \"explain_ms_first\": %.3f, \"explain_ms_last\": %.3f, "
               "\"peak_rss_bytes\": %lld, \"decode_cpu_ms_per_token\": %.3f, \"qdot\": %d",
               model, m->format, dtype, openblas_get_num_threads(), P, n_gen, reps, pf, tps, n_explain, mean_explain,
               first, last, (long long)ru.ru_maxrss * 1024, median(decode_cpu_ms, reps), lrp_qdot_enabled());
        printf(", \"prefill_ms_all\": [");
        for (int r = 0; r < reps; r++) printf("%s%.3f", r ? ", " : "", prefill[r]);
        printf("], \"decode_tokens_per_s_all\": [");
        for (int r = 0; r < reps; r++) printf("%s%.3f", r ? ", " : "", decode_tps[r]);
        printf("], \"explain_ms_all\": [");
        for (int k = 0; k < n_explain; k++) printf("%s%.3f", k ? ", " : "", lat[k]);
        printf("], \"generated_ids\": [");
        for (int k = 0; k < n_gen; k++) printf("%s%d", k ? ", " : "", seq[P + k]);
        printf("]}\n");
    } else {
        printf("%s (%s %s, %d threads): prompt %d, prefill %.1f ms, decode %.1f tokens/s over %d tokens; "
               "explain per generated token %.1f ms (mean of %d, T=%d..%d); peak RSS %.0f MiB\n",
               model, m->format, dtype, openblas_get_num_threads(), P, pf, tps, n_gen, mean_explain, n_explain, P,
               P + n_explain - 1, (double)ru.ru_maxrss / 1024);
    }
    free(lat);
    free(dec);
    free(tok);
    free(tok_cpu);
    free(seq);
    lrp_model_close(m);
    return 0;
}

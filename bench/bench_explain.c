// Speed benchmark of one explanation: for each sequence length T, the median time of a plain forward pass
// (lrp_forward_logits, nothing recorded) and of a full lrp_explain (recorded forward + relevance backward),
// their ratio, the peak resident memory and the activation bytes the explanation recorded.
//
//     bench_explain [--model DIR] [--T 128,512] [--reps N] [--warmup N] [--method M] [--json] [--no-forward]
//     bench_explain [--model DIR] --dump T      # the relevance of one explanation, to compare with PyTorch
//     bench_explain --threads                   # the number of threads OpenBLAS uses
//     bench_explain --model VIT_DIR [--method cplrp --gamma 0.25,0.05] ...   # image models: --T is ignored
//     bench_explain --model T5_DIR --T 128,512 --dec 16 ...   # encoder-decoders: T source tokens, 16 decoder
//
// Image models (ViT): the input is one image of random normal pixels [C, image, image] (xorshift32 +
// Box-Muller, the same numbers as torch_explain.py's bench_pixels), T = patches + 1 (CLS); the forward is
// lrp_forward_outputs and the explanation lrp_explain_inputs, the relevance per patch.
//
// Encoder-decoders (T5): T is the source length; the decoder reads --dec tokens (default 16),
// decoder_start_token_id and then the next dec − 1 ids of the same pseudo-random sequence (after the T source
// ids), and the explained position is the last decoder position. The dump adds the decoder's relevance.
//
// Each T runs in its own child process, so that the peak RSS (getrusage ru_maxrss, which only grows) belongs
// to that length alone; it includes the memory-mapped weight pages the passes touched. Token ids are a fixed
// pseudo-random sequence, so runs are comparable. bench/run.sh builds and runs this with the PyTorch twin.
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "explain/explain.h"
#include "models/model.h"

#define MAX_LENGTHS 16
#define MAX_REPS 1000

typedef struct bench_opts {
    const char *model;
    int lengths[MAX_LENGTHS];
    int n_lengths;
    int reps;
    int warmup;
    lrp_method method;
    int json;
    int dump;                    // > 0: print one explanation at this length as JSON and stop
    double gamma_conv, gamma_lin; // ViTs: --gamma CONV,LIN (0,0: off)
    int dec;                     // encoder-decoders: decoder tokens, the start token included
    int no_forward;              // --no-forward: time the explanation only (long inputs; forward_ms 0)
} bench_opts;

// What one child reports back through its pipe.
typedef struct bench_result {
    int ok;
    char err[sizeof(((lrp_err *)0)->msg)];
    int T;
    double forward_ms[MAX_REPS];
    double explain_ms[MAX_REPS];
    double forward_cpu_ms[MAX_REPS];  // process CPU time (all threads): robust to a busy machine with 1 thread
    double explain_cpu_ms[MAX_REPS];
    double rec_forward_ms[MAX_REPS];  // the explanation's own forward (recording) time
    double backward_ms[MAX_REPS];     // the explanation's backward time
    long long peak_rss_bytes;
    size_t activation_bytes;
    long long n_params;
    int target;
    double start_value;
    double relevance_sum;
    int decoder_T;                    // encoder-decoders: decoder tokens; 0 otherwise
} bench_result;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

static double cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n) {
    double tmp[MAX_REPS];
    memcpy(tmp, v, (size_t)n * sizeof(double));
    qsort(tmp, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? tmp[n / 2] : 0.5 * (tmp[n / 2 - 1] + tmp[n / 2]);
}

// A fixed pseudo-random token sequence (xorshift), avoiding the first few (special) ids.
static void make_ids(int *ids, int T, int vocab) {
    unsigned s = 2463534242u;
    for (int t = 0; t < T; t++) {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        ids[t] = vocab > 8 ? 3 + (int)(s % (unsigned)(vocab - 3)) : (int)(s % (unsigned)vocab);
    }
}

// Random normal pixels: xorshift32 (the seed of make_ids) and Box-Muller in double, pairs (cos, sin).
static void make_pixels(float *px, size_t n) {
    unsigned s = 2463534242u;
    for (size_t i = 0; i < n; i += 2) {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        double u1 = ((double)(s >> 8) + 1.0) / 16777217.0;  // (0, 1]
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        double u2 = (double)(s >> 8) / 16777216.0;           // [0, 1)
        double rad = sqrt(-2.0 * log(u1)), ang = 6.283185307179586 * u2;
        px[i] = (float)(rad * cos(ang));
        if (i + 1 < n) px[i + 1] = (float)(rad * sin(ang));
    }
}

static int is_image_model(const lrp_model *m) { return m->cfg.image_size > 0; }
static int is_seq2seq(const lrp_model *m) { return m->cfg.task == LRP_TASK_SEQ2SEQ_LM; }

// The model's inputs: token ids of length T, or (image models) one random image, or (encoder-decoders) T
// source ids and dec decoder ids held after them in *ids; *ids / *pixels are owned by the caller. Returns
// the sequence length (image models: patches + 1), or -1.
static int make_inputs(const lrp_model *m, int T, int dec, lrp_inputs *in, int **ids, float **pixels, lrp_err *err) {
    memset(in, 0, sizeof *in);
    if (is_image_model(m)) {
        int C = m->cfg.num_channels, S = m->cfg.image_size, g = S / m->cfg.patch_size;
        *pixels = malloc((size_t)C * S * S * sizeof(float));
        if (!*pixels) return lrp_fail(err, "out of memory"), -1;
        make_pixels(*pixels, (size_t)C * S * S);
        in->pixels = *pixels;
        in->channels = C;
        in->height = in->width = S;
        return g * g + 1;
    }
    int n_dec = is_seq2seq(m) ? dec : 0;
    *ids = malloc(((size_t)T + n_dec) * sizeof(int));
    if (!*ids) return lrp_fail(err, "out of memory"), -1;
    make_ids(*ids, T + (n_dec > 0 ? n_dec - 1 : 0), m->cfg.vocab_size);
    in->ids = *ids;
    in->T = T;
    if (n_dec > 0) {  // the start token, then the sequence's ids after the source
        memmove(*ids + T + 1, *ids + T, (size_t)(n_dec - 1) * sizeof(int));
        (*ids)[T] = m->cfg.decoder_start_token_id;
        in->decoder_ids = *ids + T;
        in->decoder_T = n_dec;
    }
    return T;
}

static void set_opts(const bench_opts *o, lrp_explain_opts *eo) {
    lrp_explain_opts_default(eo);
    eo->method = o->method;
    eo->gamma_conv = o->gamma_conv;
    eo->gamma_lin = o->gamma_lin;
}

static void run_length(const bench_opts *o, int T, bench_result *r) {
    memset(r, 0, sizeof *r);
    r->T = T;
    lrp_err err = {{0}};
    lrp_model *m = NULL;
    int *ids = NULL;
    float *pixels = NULL;
    float *logits = NULL;
    lrp_inputs in;
    if (lrp_model_open(&m, o->model, &err)) goto fail;
    r->n_params = m->n_params;
    int n_out = m->cfg.vocab_size > m->cfg.n_labels ? m->cfg.vocab_size : m->cfg.n_labels;
    logits = malloc((size_t)(n_out > 0 ? n_out : 1) * sizeof(float));
    if (!logits) {
        lrp_fail(&err, "out of memory");
        goto fail;
    }
    if ((r->T = make_inputs(m, T, o->dec, &in, &ids, &pixels, &err)) < 0) goto fail;
    r->decoder_T = in.decoder_T;
    lrp_explain_opts eo;
    set_opts(o, &eo);
    for (int i = -o->warmup; i < o->reps; i++) {
        double t0 = now_ms(), c0 = cpu_ms();
        if (!o->no_forward && lrp_forward_outputs(m, &in, -1, NULL, 0, logits, &err)) goto fail;
        double t1 = now_ms(), c1 = cpu_ms();
        lrp_explanation e;
        if (lrp_explain_inputs(m, &in, &eo, &e, &err)) goto fail;
        double t2 = now_ms(), c2 = cpu_ms();
        if (i >= 0) {
            r->forward_ms[i] = t1 - t0;
            r->explain_ms[i] = t2 - t1;
            r->forward_cpu_ms[i] = c1 - c0;
            r->explain_cpu_ms[i] = c2 - c1;
            r->rec_forward_ms[i] = 1e3 * e.seconds_forward;
            r->backward_ms[i] = 1e3 * e.seconds_backward;
        }
        r->activation_bytes = e.activation_bytes;
        r->target = e.target;
        r->start_value = e.start_value;
        r->relevance_sum = e.relevance_sum;
        lrp_explanation_free(&e);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    r->peak_rss_bytes = (long long)ru.ru_maxrss * 1024;
    r->ok = 1;
    free(ids);
    free(pixels);
    free(logits);
    lrp_model_close(m);
    return;
fail:
    snprintf(r->err, sizeof r->err, "%s", err.msg);
    free(ids);
    free(pixels);
    free(logits);
    if (m) lrp_model_close(m);
}

// Runs run_length in a child and reads its result; 0 or -1 (message in r->err).
static int run_in_child(const bench_opts *o, int T, bench_result *r) {
    int fd[2];
    memset(r, 0, sizeof *r);
    if (pipe(fd)) {
        snprintf(r->err, sizeof r->err, "pipe: %s", strerror(errno));
        return -1;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(r->err, sizeof r->err, "fork: %s", strerror(errno));
        close(fd[0]);
        close(fd[1]);
        return -1;
    }
    if (pid == 0) {
        close(fd[0]);
        bench_result *mine = malloc(sizeof *mine);
        if (!mine) _exit(3);
        run_length(o, T, mine);
        const char *p = (const char *)mine;
        size_t left = sizeof *mine;
        while (left > 0) {
            ssize_t w = write(fd[1], p, left);
            if (w <= 0) _exit(4);
            p += w;
            left -= (size_t)w;
        }
        _exit(0);
    }
    close(fd[1]);
    char *p = (char *)r;
    size_t got = 0;
    while (got < sizeof *r) {
        ssize_t n = read(fd[0], p + got, sizeof *r - got);
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (got != sizeof *r) {
        snprintf(r->err, sizeof r->err, "T=%d: the benchmark process died (status %d)", T, status);
        r->ok = 0;
    }
    return r->ok ? 0 : -1;
}

// Prints {"ids", "target", "start_value", "relevance", "logits"} of one explanation at length T.
static int dump_relevance(const bench_opts *o, int T) {
    lrp_err err = {{0}};
    lrp_model *m = NULL;
    int *ids = NULL;
    float *pixels = NULL;
    int rc = -1;
    lrp_inputs in;
    lrp_explanation e;
    memset(&e, 0, sizeof e);
    if (lrp_model_open(&m, o->model, &err)) goto done;
    if (make_inputs(m, T, o->dec, &in, &ids, &pixels, &err) < 0) goto done;
    lrp_explain_opts eo;
    set_opts(o, &eo);
    if (lrp_explain_inputs(m, &in, &eo, &e, &err)) goto done;
    printf("{\"ids\": [");  // image models: none (the relevance is per patch)
    for (int t = 0; ids && t < T; t++) printf("%s%d", t ? ", " : "", ids[t]);
    printf("], \"method\": \"%s\", ", lrp_method_name(o->method));
    if (o->gamma_conv > 0 || o->gamma_lin > 0) printf("\"gamma\": [%g, %g], ", o->gamma_conv, o->gamma_lin);
    printf("\"target\": %d, \"start_value\": %.9g, \"relevance_sum\": %.9g, \"relevance\": [", e.target,
           e.start_value, e.relevance_sum);
    for (int t = 0; t < e.n_relevance; t++) printf("%s%.9g", t ? ", " : "", e.relevance[t]);
    printf("]");
    if (e.decoder_relevance) {  // encoder-decoders: the decoder's input and its relevance
        printf(", \"decoder_ids\": [");
        for (int t = 0; t < e.decoder_T; t++) printf("%s%d", t ? ", " : "", e.decoder_ids[t]);
        printf("], \"decoder_relevance\": [");
        for (int t = 0; t < e.decoder_T; t++) printf("%s%.9g", t ? ", " : "", e.decoder_relevance[t]);
        printf("]");
    }
    if (e.logits && e.n_out > 0) {  // the output logits at the explained position (LMs: the vocabulary)
        printf(", \"logits\": [");
        for (int i = 0; i < e.n_out; i++) printf("%s%.9g", i ? ", " : "", e.logits[i]);
        printf("]");
    }
    printf("}\n");
    rc = 0;
done:
    if (rc) fprintf(stderr, "bench_explain: %s\n", err.msg);
    lrp_explanation_free(&e);
    if (m) lrp_model_close(m);
    free(ids);
    free(pixels);
    return rc;
}

static void usage(FILE *f) {
    fprintf(f, "usage: bench_explain [--model DIR] [--T 128,512] [--reps N] [--warmup N] [--method M] [--json]\n"
               "                     [--no-forward]   (time the explanation only: long inputs)\n"
               "       bench_explain [--model DIR] [--method M] --dump T\n"
               "  image models (ViT): random pixels, T = patches + 1 whatever --T says; --gamma CONV,LIN for\n"
               "  the LRP-gamma rule (attnlrp, cplrp); encoder-decoders: --T is the source length, --dec N\n"
               "  decoder tokens (default 16, the start token included)\n");
}

static int parse_lengths(const char *s, bench_opts *o) {
    o->n_lengths = 0;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > 1 << 20 || o->n_lengths == MAX_LENGTHS) return -1;
        o->lengths[o->n_lengths++] = (int)v;
        s = end;
        if (*s == ',') s++;
        else if (*s) return -1;
    }
    return o->n_lengths > 0 ? 0 : -1;
}

static int parse_int(const char *s, int lo, int hi, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

static int parse_args(int argc, char **argv, bench_opts *o) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0) {
            o->json = 1;
            continue;
        }
        if (strcmp(a, "--no-forward") == 0) {
            o->no_forward = 1;
            continue;
        }
        if (strcmp(a, "--threads") == 0) {  // for scripts: the thread count OpenBLAS will use
            printf("%d\n", openblas_get_num_threads());
            exit(0);
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (!v) {
            fprintf(stderr, "bench_explain: %s: missing value\n", a);
            return -1;
        }
        i++;
        if (strcmp(a, "--model") == 0) {
            o->model = v;
        } else if (strcmp(a, "--T") == 0) {
            if (parse_lengths(v, o)) {
                fprintf(stderr, "bench_explain: --T %s: expected positive lengths separated by commas\n", v);
                return -1;
            }
        } else if (strcmp(a, "--dump") == 0) {
            if (parse_int(v, 1, 1 << 20, &o->dump)) {
                fprintf(stderr, "bench_explain: --dump %s: expected a positive length\n", v);
                return -1;
            }
        } else if (strcmp(a, "--dec") == 0) {
            if (parse_int(v, 1, 1 << 20, &o->dec)) {
                fprintf(stderr, "bench_explain: --dec %s: expected a positive number of decoder tokens\n", v);
                return -1;
            }
        } else if (strcmp(a, "--reps") == 0) {
            if (parse_int(v, 1, MAX_REPS, &o->reps)) {
                fprintf(stderr, "bench_explain: --reps %s: expected 1..%d\n", v, MAX_REPS);
                return -1;
            }
        } else if (strcmp(a, "--warmup") == 0) {
            if (parse_int(v, 0, 100, &o->warmup)) {
                fprintf(stderr, "bench_explain: --warmup %s: expected 0..100\n", v);
                return -1;
            }
        } else if (strcmp(a, "--method") == 0) {
            int mth = lrp_method_parse(v);
            if (mth < 0) {
                fprintf(stderr, "bench_explain: --method %s: unknown method\n", v);
                return -1;
            }
            o->method = (lrp_method)mth;
        } else if (strcmp(a, "--gamma") == 0) {
            char *end;
            o->gamma_conv = strtod(v, &end);
            if (end == v || *end != ',' || (o->gamma_lin = strtod(end + 1, &end), *end) ||
                !(o->gamma_conv >= 0 && o->gamma_lin >= 0)) {
                fprintf(stderr, "bench_explain: --gamma %s: expected CONV,LIN (two numbers >= 0)\n", v);
                return -1;
            }
        } else {
            fprintf(stderr, "bench_explain: %s: unknown option\n", a);
            usage(stderr);
            return -1;
        }
    }
    return 0;
}

static void print_json_list(const double *v, int n) {
    putchar('[');
    for (int i = 0; i < n; i++) printf("%s%.3f", i ? ", " : "", v[i]);
    putchar(']');
}

int main(int argc, char **argv) {
    bench_opts o = {.model = "/tmp/attnlrp-bench-model", .lengths = {128, 512}, .n_lengths = 2, .reps = 5,
                    .warmup = 1, .method = LRP_METHOD_ATTNLRP, .dec = 16};
    if (parse_args(argc, argv, &o)) return 2;
    if (o.dump) return dump_relevance(&o, o.dump) ? 1 : 0;
    bench_result *res = calloc((size_t)o.n_lengths, sizeof *res);
    if (!res) {
        fprintf(stderr, "bench_explain: out of memory\n");
        return 1;
    }
    const char *core = openblas_get_corename();
    int threads = openblas_get_num_threads();
    const char *coretype_env = getenv("OPENBLAS_CORETYPE");
    if (!o.json)
        printf("model %s, method %s, OpenBLAS core %s, %d threads%s%s, median of %d after %d warm-up\n", o.model,
               lrp_method_name(o.method), core, threads, coretype_env ? ", OPENBLAS_CORETYPE=" : "",
               coretype_env ? coretype_env : "", o.reps, o.warmup);
    int failed = 0;
    for (int k = 0; k < o.n_lengths; k++) {
        if (run_in_child(&o, o.lengths[k], &res[k])) {
            fprintf(stderr, "bench_explain: T=%d: %s\n", o.lengths[k], res[k].err);
            failed = 1;
            break;
        }
    }
    if (failed) {
        free(res);
        return 1;
    }
    if (o.json) {
        printf("{\"engine\": \"attnlrp\", \"model\": \"%s\", \"n_params\": %lld, \"method\": \"%s\", ", o.model,
               res[0].n_params, lrp_method_name(o.method));
        if (o.gamma_conv > 0 || o.gamma_lin > 0) printf("\"gamma\": [%g, %g], ", o.gamma_conv, o.gamma_lin);
        printf("\"openblas\": {\"core\": \"%s\", \"threads\": %d, \"config\": \"%s\", \"coretype_env\": %s%s%s}, ",
               core, threads, openblas_get_config(), coretype_env ? "\"" : "", coretype_env ? coretype_env : "null",
               coretype_env ? "\"" : "");
        printf("\"reps\": %d, \"warmup\": %d, \"results\": [", o.reps, o.warmup);
        for (int k = 0; k < o.n_lengths; k++) {
            const bench_result *r = &res[k];
            double f = median(r->forward_ms, o.reps), e = median(r->explain_ms, o.reps);
            printf("%s\n  {\"T\": %d, \"decoder_T\": %d, \"forward_ms\": %.3f, \"explain_ms\": %.3f, \"ratio\": %.3f, "
                   "\"forward_cpu_ms\": %.3f, \"explain_cpu_ms\": %.3f, "
                   "\"explain_forward_ms\": %.3f, \"explain_backward_ms\": %.3f, \"peak_rss_bytes\": %lld, "
                   "\"activation_bytes\": %zu, \"target\": %d, \"start_value\": %.6g, \"relevance_sum\": %.6g, "
                   "\"forward_ms_all\": ",
                   k ? "," : "", r->T, r->decoder_T, f, e, e / f, median(r->forward_cpu_ms, o.reps),
                   median(r->explain_cpu_ms, o.reps), median(r->rec_forward_ms, o.reps),
                   median(r->backward_ms, o.reps), r->peak_rss_bytes,
                   r->activation_bytes, r->target, r->start_value, r->relevance_sum);
            print_json_list(r->forward_ms, o.reps);
            printf(", \"explain_ms_all\": ");
            print_json_list(r->explain_ms, o.reps);
            printf(", \"forward_cpu_ms_all\": ");
            print_json_list(r->forward_cpu_ms, o.reps);
            printf(", \"explain_cpu_ms_all\": ");
            print_json_list(r->explain_cpu_ms, o.reps);
            printf(", \"explain_forward_ms_all\": ");
            print_json_list(r->rec_forward_ms, o.reps);
            printf(", \"explain_backward_ms_all\": ");
            print_json_list(r->backward_ms, o.reps);
            putchar('}');
        }
        printf("\n]}\n");
    } else {
        printf("%6s %11s %11s %8s %13s %11s %10s %12s %12s %12s\n", "T", "forward ms", "explain ms", "ratio",
               "(rec. fwd ms", "bwd ms)", "peak RSS", "activations", "fwd CPU ms", "expl CPU ms");
        for (int k = 0; k < o.n_lengths; k++) {
            const bench_result *r = &res[k];
            double f = median(r->forward_ms, o.reps), e = median(r->explain_ms, o.reps);
            printf("%6d %11.1f %11.1f %8.2f %13.1f %11.1f %6.0f MiB %8.0f MiB %12.1f %12.1f\n", r->T, f, e, e / f,
                   median(r->rec_forward_ms, o.reps), median(r->backward_ms, o.reps),
                   (double)r->peak_rss_bytes / (1 << 20),
                   (double)r->activation_bytes / (1 << 20), median(r->forward_cpu_ms, o.reps),
                   median(r->explain_cpu_ms, o.reps));
        }
    }
    free(res);
    return 0;
}

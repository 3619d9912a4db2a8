// Where an explanation spends its time: one recorded forward pass and one attnlrp backward (the engine's
// own lrp_graph_backward, timed node by node through the graph's on_node hook), with
//   - the backward time of each op, and of each op per weight shape (linear layers of different sizes
//     apart), so that the products and the elementwise work are separate;
//   - the same in process CPU time (all threads; what a loaded machine disturbs less);
//   - page faults and system time of each phase (fresh arena memory is faulted in on every explanation).
//
//     profile_explain [--model DIR] [--T 512] [--reps 3] [--dec 16]
//
// Encoder-decoders (T5): T source tokens and --dec decoder tokens (decoder_start_token_id, then the ids
// after the source's in bench_explain's sequence), explained at the last decoder position.
//
// The numbers of the last repetition are printed (the first ones warm the page cache and OpenBLAS).
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "kernels/cpu.h"
#include "models/model.h"

#define MAX_ROWS 256

// One row of the table: an op, and (for ops with a weight) the weight's logical shape [out, in].
typedef struct op_stat {
    const char *op;
    long out, in;  // 0, 0: every node of the op
    long nodes;
    double seconds, cpu;  // wall-clock and process CPU time (all threads)
} op_stat;

typedef struct op_table {
    op_stat rows[MAX_ROWS];
    int n;
} op_table;

static op_stat *table_row(op_table *t, const char *op, long out, long in) {
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->rows[i].op, op) == 0 && t->rows[i].out == out && t->rows[i].in == in) return &t->rows[i];
    if (t->n == MAX_ROWS) return NULL;
    t->rows[t->n] = (op_stat){.op = op, .out = out, .in = in};
    return &t->rows[t->n++];
}

static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// Process CPU time at the previous node's end (or the backward's start): a node's CPU time is the
// difference (on a machine shared with other work, steadier than its wall-clock time).
static double last_cpu;

// The graph's on_node hook: adds the node's time to its op's row and to its op-and-shape row.
static void time_node(const lrp_graph *g, const lrp_node *n, double seconds, void *ctx) {
    (void)g;
    op_table *t = ctx;
    double c = cpu_s(), cpu = c - last_cpu;
    last_cpu = c;
    op_stat *s = table_row(t, n->op, 0, 0);
    if (s) {
        s->nodes++;
        s->seconds += seconds;
        s->cpu += cpu;
    }
    if (!n->w.t) return;
    s = table_row(t, n->op, (long)n->w.out, (long)n->w.in);
    if (s) {
        s->nodes++;
        s->seconds += seconds;
        s->cpu += cpu;
    }
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct phase_usage {
    double wall, user, sys;
    long minflt;
} phase_usage;

static void usage_now(phase_usage *u) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    u->wall = now_s();
    u->user = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec;
    u->sys = (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
    u->minflt = ru.ru_minflt;
}

static void print_usage(const char *name, const phase_usage *a, const phase_usage *b) {
    printf("%-9s wall %8.1f ms  user %8.1f ms  sys %7.1f ms  minor faults %8ld\n", name, 1e3 * (b->wall - a->wall),
           1e3 * (b->user - a->user), 1e3 * (b->sys - a->sys), b->minflt - a->minflt);
}

// The op rows, each followed by its per-shape rows, slowest op first.
static void print_ops(const op_table *t, double backward_seconds) {
    int done[MAX_ROWS] = {0};
    double timed = 0;
    for (int i = 0; i < t->n; i++)
        if (!t->rows[i].out) timed += t->rows[i].seconds;
    printf("  backward by op (%.1f ms in nodes, %.1f ms between them):\n", 1e3 * timed,
           1e3 * (backward_seconds - timed));
    for (;;) {
        int best = -1;
        for (int i = 0; i < t->n; i++)
            if (!t->rows[i].out && !done[i] && (best < 0 || t->rows[i].seconds > t->rows[best].seconds)) best = i;
        if (best < 0) break;
        done[best] = 1;
        const op_stat *s = &t->rows[best];
        printf("    %-20s nodes %5ld  %9.1f ms  %5.1f%%  cpu %8.1f ms\n", s->op, s->nodes, 1e3 * s->seconds,
               100 * s->seconds / backward_seconds, 1e3 * s->cpu);
        for (int i = 0; i < t->n; i++) {
            const op_stat *w = &t->rows[i];
            if (!w->out || strcmp(w->op, s->op) != 0) continue;
            char shape[48];
            snprintf(shape, sizeof shape, "[%ld, %ld]", w->out, w->in);
            printf("      %-18s nodes %5ld  %9.1f ms  %5.1f%%  cpu %8.1f ms\n", shape, w->nodes, 1e3 * w->seconds,
                   100 * w->seconds / backward_seconds, 1e3 * w->cpu);
        }
    }
}

int main(int argc, char **argv) {
    const char *model = "/tmp/attnlrp-bench-model";
    int T = 512, reps = 3, dec = 16;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--model") == 0) model = argv[i + 1];
        else if (strcmp(argv[i], "--T") == 0) T = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--reps") == 0) reps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--dec") == 0) dec = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: profile_explain [--model DIR] [--T N] [--reps N] [--dec N]\n");
            return 2;
        }
    }
    if (T < 1 || reps < 1 || dec < 1) {
        fprintf(stderr, "profile_explain: --T, --reps and --dec must be positive\n");
        return 2;
    }
    lrp_err err = {{0}};
    lrp_model *m = NULL;
    if (lrp_model_open(&m, model, &err)) {
        fprintf(stderr, "profile_explain: %s\n", err.msg);
        return 1;
    }
    int V = lrp_model_n_outputs(m);
    int seq2seq = m->cfg.task == LRP_TASK_SEQ2SEQ_LM, n_dec = seq2seq ? dec : 0;
    int *ids = malloc(((size_t)T + n_dec) * sizeof(int));
    op_table *ops = malloc(sizeof *ops);
    if (!ids || !ops) {
        fprintf(stderr, "profile_explain: out of memory\n");
        return 1;
    }
    int vocab = m->cfg.vocab_size;
    unsigned s = 2463534242u;  // the ids of bench_explain
    for (int t = 0; t < T + n_dec; t++) {  // encoder-decoders: the decoder's ids follow the source's
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        ids[t] = 3 + (int)(s % (unsigned)(vocab - 3));
    }
    if (seq2seq) {  // the start token first, then the next dec - 1 ids (as bench_explain)
        memmove(ids + T + 1, ids + T, (size_t)(n_dec - 1) * sizeof(int));
        ids[T] = m->cfg.decoder_start_token_id;
    }
    phase_usage u0, u1, u2, u3;
    double arena_mib = 0;
    for (int rep = 0; rep < reps; rep++) {
        ops->n = 0;
        lrp_graph g;
        if (lrp_graph_init(&g, lrp_model_scratch_floats(m), &err)) {
            fprintf(stderr, "profile_explain: %s\n", err.msg);
            return 1;
        }
        g.on_node = time_node;
        g.on_node_ctx = ops;
        int position = seq2seq ? n_dec - 1 : T - 1;
        lrp_forward f = {.in = {.ids = ids, .T = T, .decoder_ids = seq2seq ? ids + T : NULL, .decoder_T = n_dec},
                         .head_rows = &position, .n_head_rows = 1, .no_latent = 1};  // as explain without latent readouts
        usage_now(&u0);
        if (lrp_model_forward(m, &g, &f)) {
            fprintf(stderr, "profile_explain: %s\n", g.err.msg);
            return 1;
        }
        usage_now(&u1);
        int target = 0;
        for (int i = 1; i < V; i++)
            if (f.taps.logits->x[i] > f.taps.logits->x[target]) target = i;
        float *gl = lrp_act_grad(&g, f.taps.logits);
        if (!gl) {
            fprintf(stderr, "profile_explain: out of memory\n");
            return 1;
        }
        gl[target] = 1.0f;
        for (int k = 0; k < LRP_INPUT_COUNT; k++)  // as an explanation does: input gradients are read after
            if (f.taps.input[k]) f.taps.input[k]->keep_grad = 1;
        lrp_rules rules = lrp_rules_for(LRP_METHOD_ATTNLRP);
        usage_now(&u2);
        last_cpu = cpu_s();
        if (lrp_graph_backward(&g, &rules, &err)) {
            fprintf(stderr, "profile_explain: %s\n", err.msg);
            return 1;
        }
        usage_now(&u3);
        arena_mib = (double)g.bytes_allocated / (1 << 20);
        lrp_graph_free(&g);
    }
    printf("T=%d, kernels %s, OpenBLAS core %s, %d threads; last of %d repetitions; arena %.0f MiB\n", T,
           lrp_cpu_describe(), openblas_get_corename(), openblas_get_num_threads(), reps, arena_mib);
    print_usage("forward", &u0, &u1);
    print_usage("backward", &u2, &u3);
    print_ops(ops, u3.wall - u2.wall);
    free(ops);
    free(ids);
    lrp_model_close(m);
    return 0;
}

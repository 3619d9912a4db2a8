// The memory check before an explanation (explain/memory.h).
#include "explain/memory.h"

#include "kernels/gemm.h"

#include <ctype.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define ARENA_CHUNK (32u << 20)                    // core/graph.c's ARENA_CHUNK_BYTES

static atomic_int blas_ready;

void lrp_memory_blas_ready(void) { atomic_store(&blas_ready, 1); }

// Floats of one layer over T query rows and Tk keys: every per-token activation and its gradient
// (norms, q/k/v and their rotated copies, the attention output, projections, the residual adds: at most
// 24 vectors of the model width; the MLP's gate, up, activation and product: 8 of its width), and the
// attention's probabilities, their gradient tap, the saved scores (softcapping) and a block of their
// gradient: 4 x heads x T x Tk.
static double layer_floats(const lrp_config *c, double T, double Tk, double *attn) {
    double H = c->hidden_size, q = (double)c->num_heads * (c->head_dim > 0 ? c->head_dim : 1);
    double width = H > q ? H : q;
    double inter = c->intermediate_size > 0 ? c->intermediate_size : 4 * H;
    if (c->num_experts > 0) inter = inter * (c->num_experts_per_tok > 0 ? c->num_experts_per_tok : 1) + c->num_experts;
    *attn += (c->attn_softcap > 0 ? 3.0 : 2.0) * c->num_heads * T * Tk;  // softcapping keeps the raw scores too
    return T * (12.0 * width + 4.0 * inter);
}

lrp_memory_need lrp_explain_memory_estimate(const lrp_model *m, int T_in, int T_dec, int n_rows) {
    const lrp_config *c = &m->cfg;
    double T = T_in > 0 ? T_in : 1, TD = T_dec > 0 ? T_dec : 1, rows = n_rows > 0 ? n_rows : 1;
    double act = 0, attn = 0, H = c->hidden_size;
    double V = c->n_labels > 0 && c->task == LRP_TASK_CLASSIFIER ? c->n_labels : c->vocab_size;
    if (c->task == LRP_TASK_SEQ2SEQ_LM) {
        int NE = c->num_encoder_layers, ND = c->num_layers - NE;
        for (int l = 0; l < NE; l++) act += layer_floats(c, T, T, &attn);
        for (int l = 0; l < ND; l++) {
            act += layer_floats(c, TD, TD, &attn);
            act += layer_floats(c, TD, T, &attn) / 2;  // cross-attention: q, o and their gradients
        }
        act += 8 * H * (T + TD);
    } else {
        for (int l = 0; l < c->num_layers; l++) act += layer_floats(c, T, T, &attn);
        act += 8 * H * T;  // embeddings (word, position, type), their sum and gradients
        if (c->image_size > 0 && c->patch_size > 0)  // the pixels, the patches and their gradients
            act += 4.0 * c->num_channels * c->image_size * c->image_size;
    }
    act += 4 * V * rows + 4 * H * rows;  // the head's rows: logits, softmax, gradients
    // Gradient buffers come in size classes up to 25% over the exact size; small allocations are aligned.
    lrp_memory_need n;
    n.activations = (size_t)(act * 4 * 1.25) + (1u << 20);
    n.attention = (size_t)(attn * 4 * 1.25);
    n.total = n.activations + n.attention;
    return n;
}

static size_t meminfo_available(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return SIZE_MAX;
    char line[256];
    size_t kb = SIZE_MAX;
    while (fgets(line, sizeof line, f)) {
        unsigned long long v;
        if (sscanf(line, "MemAvailable: %llu kB", &v) == 1) {
            kb = (size_t)v;
            break;
        }
    }
    fclose(f);
    return kb == SIZE_MAX ? SIZE_MAX : kb * 1024;
}

// Address space the process may still map under RLIMIT_AS; SIZE_MAX without a limit.
static size_t address_space_left(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return SIZE_MAX;
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long pages = 0;
    if (f) {
        if (fscanf(f, "%llu", &pages) != 1) pages = 0;
        fclose(f);
    }
    size_t used = (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
    return (size_t)rl.rlim_cur > used ? (size_t)rl.rlim_cur - used : 0;
}

size_t lrp_memory_available(size_t max_memory, int *address_space, const char **source) {
    *address_space = 0;
    if (max_memory) {
        *source = "max_memory";
        return max_memory;
    }
    size_t avail = meminfo_available(), as = address_space_left();
    *source = avail == SIZE_MAX ? "unlimited" : "MemAvailable";
    if (as < avail) {
        avail = as;
        *address_space = 1;
        *source = "RLIMIT_AS";
    }
    return avail;
}

const char *lrp_format_bytes(size_t bytes, char *buf, size_t cap) {
    double b = (double)bytes;
    if (b >= 1024.0 * 1024 * 1024) snprintf(buf, cap, "%.1f GiB", b / (1024.0 * 1024 * 1024));
    else if (b >= 1024.0 * 1024) snprintf(buf, cap, "%.1f MiB", b / (1024.0 * 1024));
    else snprintf(buf, cap, "%.0f KiB", ceil(b / 1024.0));
    return buf;
}

int lrp_parse_size(const char *s, size_t *bytes) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || !(v > 0) || !isfinite(v) || isspace((unsigned char)*s)) return -1;
    double mult = 1;
    char u = (char)toupper((unsigned char)*end);
    if (u == 'K') mult = 1024.0;
    else if (u == 'M') mult = 1024.0 * 1024;
    else if (u == 'G') mult = 1024.0 * 1024 * 1024;
    else if (u == 'T') mult = 1024.0 * 1024 * 1024 * 1024;
    if (mult > 1) {
        end++;
        if (*end == 'i' && end[1] == 'B') end += 2;
        else if (*end == 'B') end++;
    } else if (*end == 'B') {
        end++;
    }
    if (*end || v * mult >= 0x1p62 || v * mult < 1) return -1;
    *bytes = (size_t)(v * mult);
    return 0;
}

int lrp_check_memory(const lrp_model *m, const char *verb, int T, int T_dec, int n_rows, size_t max_memory,
                     lrp_err *err) {
    lrp_memory_need need = lrp_explain_memory_estimate(m, T, T_dec, n_rows);
    int as;
    const char *source;
    size_t avail = lrp_memory_available(max_memory, &as, &source), want = need.total, blas = 0;
    if (as) {  // mapped, not touched, counts: whole arena chunks and OpenBLAS's buffers
        want = (want + ARENA_CHUNK - 1) / ARENA_CHUNK * ARENA_CHUNK;
        if (!atomic_load(&blas_ready)) {
            blas = (size_t)lrp_gemm_threads() * lrp_gemm_buffer_bytes();
            want += blas;
        }
    }
    if (want <= avail) return 0;
    char a[32], b[32], w[32], v[32], l[32];
    char extra[64] = "";
    if (blas) snprintf(extra, sizeof extra, ", OpenBLAS buffers %s", lrp_format_bytes(blas, l, sizeof l));
    return lrp_fail(err, "memory: %s %d tokens needs about %s (activations %s, attention probabilities %s%s), more "
                    "than the %s available (%s)", verb, T, lrp_format_bytes(want, w, sizeof w),
                    lrp_format_bytes(need.activations, a, sizeof a), lrp_format_bytes(need.attention, b, sizeof b),
                    extra, lrp_format_bytes(avail, v, sizeof v),
                    max_memory ? "max_memory" : as ? "RLIMIT_AS, ulimit -v" : "MemAvailable");
}

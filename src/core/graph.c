#include "core/graph.h"

#include <pthread.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// Arena chunks are at least this large; bigger requests get a chunk of their own.
#define ARENA_CHUNK_BYTES ((size_t)32 << 20)
#define ARENA_ALIGN 64

struct lrp_arena_chunk {
    lrp_arena_chunk *next;
    size_t size;          // usable bytes
    size_t used;
    size_t mapped;        // bytes of the mapping, header included
    size_t dirty;         // bytes ever handed out: beyond this the mapping is still the kernel's zeros
    unsigned char *base;  // ARENA_ALIGN-aligned start of the usable area
};

// Chunks are mapped directly (not malloc'ed) and asked for transparent huge pages: an explanation
// touches up to gigabytes of fresh activations, and 4 KiB page faults were a sixth of its time.
static lrp_arena_chunk *chunk_map(size_t size) {
    size_t header = (sizeof(lrp_arena_chunk) + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    size_t total = header + size;
    void *p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, total, MADV_HUGEPAGE);
#endif
    lrp_arena_chunk *c = p;
    c->next = NULL;
    c->size = size;
    c->used = 0;
    c->dirty = 0;
    c->mapped = total;
    c->base = (unsigned char *)p + header;
    return c;
}

int lrp_graph_init(lrp_graph *g, size_t scratch_floats, lrp_err *err) {
    memset(g, 0, sizeof *g);
    g->grad_enabled = 1;
    if (scratch_floats) {
        g->scratch = malloc(scratch_floats * sizeof(float));
        if (!g->scratch) return lrp_fail(err, "out of memory allocating %zu floats of scratch", scratch_floats);
        g->scratch_floats = scratch_floats;
    }
    return 0;
}

// The chunks of freed graphs, kept mapped for the next graph of the process: touching fresh anonymous
// memory costs the kernel's page faults and zeroing (on the benchmark machine 1-5 ms per 2 MiB page, more
// than the arithmetic of a mixture-of-experts explanation), while a recycled chunk is already resident.
// The pool holds at most as many bytes as the largest graph freed so far, i.e. one explanation's worth;
// lrp_arena_release() hands it all back.
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static lrp_arena_chunk *pool;
static size_t pool_bytes, pool_limit;

// A pooled chunk of at least size usable bytes (the smallest such one), or NULL.
static lrp_arena_chunk *pool_take(size_t size) {
    pthread_mutex_lock(&pool_lock);
    lrp_arena_chunk **best = NULL;
    for (lrp_arena_chunk **c = &pool; *c; c = &(*c)->next)
        if ((*c)->size >= size && (!best || (*c)->size < (*best)->size)) best = c;
    lrp_arena_chunk *got = NULL;
    if (best) {
        got = *best;
        *best = got->next;
        pool_bytes -= got->mapped;
    }
    pthread_mutex_unlock(&pool_lock);
    if (got) {
        got->next = NULL;
        got->used = 0;
    }
    return got;
}

void lrp_arena_release(void) {
    pthread_mutex_lock(&pool_lock);
    lrp_arena_chunk *c = pool;
    pool = NULL;
    pool_bytes = 0;
    pool_limit = 0;
    pthread_mutex_unlock(&pool_lock);
    while (c) {
        lrp_arena_chunk *next = c->next;
        munmap(c, c->mapped);
        c = next;
    }
}

void lrp_graph_free(lrp_graph *g) {
    size_t total = 0;
    for (lrp_arena_chunk *c = g->chunks; c; c = c->next) total += c->mapped;
    lrp_arena_chunk *c = g->chunks, *drop = NULL;
    pthread_mutex_lock(&pool_lock);
    if (total > pool_limit) pool_limit = total;
    while (c) {
        lrp_arena_chunk *next = c->next;
        if (pool_bytes + c->mapped <= pool_limit) {
            c->next = pool;
            pool = c;
            pool_bytes += c->mapped;
        } else {
            c->next = drop;
            drop = c;
        }
        c = next;
    }
    pthread_mutex_unlock(&pool_lock);
    while (drop) {
        lrp_arena_chunk *next = drop->next;
        munmap(drop, drop->mapped);
        drop = next;
    }
    free(g->nodes);
    free(g->scratch);
    free(g->free_grads);
    free(g->free_sizes);
    memset(g, 0, sizeof *g);
}

void *lrp_graph_fail(lrp_graph *g, const char *fmt, ...) {
    if (!g->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g->err.msg, sizeof g->err.msg, fmt, ap);
        va_end(ap);
        g->failed = 1;
    }
    return NULL;
}

void *lrp_graph_alloc(lrp_graph *g, size_t bytes, int zero) {
    if (g->failed) return NULL;
    if (bytes > SIZE_MAX / 2) return lrp_graph_fail(g, "allocation of %zu bytes too large", bytes);
    bytes = (bytes + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    // First fit over the chunks: after lrp_graph_reset every chunk is free again.
    lrp_arena_chunk *c = g->chunks;
    while (c && c->size - c->used < bytes) c = c->next;
    if (!c) {
        size_t size = bytes > ARENA_CHUNK_BYTES ? bytes : ARENA_CHUNK_BYTES;
        c = pool_take(size);
        if (c) size = c->size;
        else c = chunk_map(size);
        if (!c) return lrp_graph_fail(g, "out of memory: could not allocate %zu MB of activations", size >> 20);
        g->bytes_allocated += size;
        c->next = g->chunks;
        g->chunks = c;
    }
    void *p = c->base + c->used;
    // Fresh anonymous pages are zero already: clear only what an earlier pass (before a reset) used.
    if (zero && c->used < c->dirty) memset(p, 0, c->dirty - c->used < bytes ? c->dirty - c->used : bytes);
    c->used += bytes;
    g->bytes_used += bytes;
    if (c->used > c->dirty) c->dirty = c->used;
    return p;
}

lrp_act *lrp_act_new(lrp_graph *g, int rows, int cols) {
    if (g->failed) return NULL;
    if (rows <= 0 || cols <= 0) return lrp_graph_fail(g, "internal: activation of shape [%d, %d]", rows, cols);
    lrp_act *a = lrp_graph_alloc(g, sizeof *a, 1);
    if (!a) return NULL;
    a->rows = rows;
    a->cols = cols;
    a->x = lrp_graph_alloc(g, (size_t)rows * (size_t)cols * sizeof(float), 0);
    return a->x ? a : NULL;
}

// Gradient buffers come in size classes of four steps per power of two (at most 25% over the exact size),
// so that activations of nearly equal sizes (the experts of a mixture, each with its own number of routed
// rows) share recycled buffers instead of touching fresh arena memory.
static size_t grad_class(size_t bytes) {
    if (bytes <= 4096) return (bytes + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    int k = 63 - __builtin_clzll((unsigned long long)bytes);  // 2^k <= bytes
    size_t step = (size_t)1 << (k - 2);
    return (bytes + step - 1) & ~(step - 1);
}

float *lrp_act_grad(lrp_graph *g, lrp_act *a) {
    if (a->g) return a->g;
    size_t bytes = (size_t)a->rows * (size_t)a->cols * sizeof(float), cls = grad_class(bytes);
    // Best fit among the free buffers of this class up to twice its size.
    int best = -1;
    for (int i = 0; i < g->n_free; i++) {
        size_t s = g->free_sizes[i];
        if (s >= cls && s / 2 <= cls && (best < 0 || s < g->free_sizes[best])) best = i;
        if (best >= 0 && g->free_sizes[best] == cls) break;
    }
    if (best >= 0) {
        a->g = g->free_grads[best];
        a->g_bytes = g->free_sizes[best];
        g->free_grads[best] = g->free_grads[--g->n_free];
        g->free_sizes[best] = g->free_sizes[g->n_free];
        memset(a->g, 0, bytes);
        return a->g;
    }
    a->g = lrp_graph_alloc(g, cls, 1);
    a->g_bytes = a->g ? cls : 0;
    return a->g;
}

// Hands a consumed gradient buffer back for reuse (a failed bookkeeping allocation only loses reuse).
static void recycle_grad(lrp_graph *g, lrp_act *a) {
    if (a->keep_grad || !a->g || !a->g_bytes) return;
    if (g->n_free == g->cap_free) {
        int cap = g->cap_free ? 2 * g->cap_free : 64;
        float **p = realloc(g->free_grads, (size_t)cap * sizeof *p);
        if (!p) return;
        g->free_grads = p;
        size_t *q = realloc(g->free_sizes, (size_t)cap * sizeof *q);
        if (!q) return;
        g->free_sizes = q;
        g->cap_free = cap;
    }
    g->free_grads[g->n_free] = a->g;
    g->free_sizes[g->n_free++] = a->g_bytes;
    a->g = NULL;
    a->g_bytes = 0;
}

lrp_node *lrp_graph_record(lrp_graph *g, const char *op, lrp_backward_fn backward, lrp_act *out) {
    if (g->failed) return NULL;
    if (!g->grad_enabled) {  // ops still fill in a node; it is never replayed
        memset(&g->discard, 0, sizeof g->discard);
        return &g->discard;
    }
    if (g->n_nodes == g->cap_nodes) {
        int cap = g->cap_nodes ? g->cap_nodes * 2 : 256;
        lrp_node *n = realloc(g->nodes, (size_t)cap * sizeof *n);
        if (!n) return lrp_graph_fail(g, "out of memory recording the forward pass");
        g->nodes = n;
        g->cap_nodes = cap;
    }
    lrp_node *n = &g->nodes[g->n_nodes++];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->backward = backward;
    n->out = out;
    n->tag = g->tag;
    return n;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int lrp_graph_backward(lrp_graph *g, const lrp_rules *rules, lrp_err *err) {
    if (g->failed) return lrp_fail(err, "%s", g->err.msg);
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        const lrp_node *n = &g->nodes[i];
        if (!n->out->g) continue;
        if (g->on_node) {
            double t0 = now_seconds();
            n->backward(g, n, rules);
            g->on_node(g, n, now_seconds() - t0, g->on_node_ctx);
        } else {
            n->backward(g, n, rules);
        }
        if (g->failed) return lrp_fail(err, "%s", g->err.msg);
        recycle_grad(g, n->out);
    }
    return 0;
}


void lrp_graph_reset(lrp_graph *g) {
    for (lrp_arena_chunk *c = g->chunks; c; c = c->next) c->used = 0;
    g->bytes_used = 0;
    g->n_nodes = 0;
    g->n_free = 0;
    g->failed = 0;
    g->tag = LRP_TAG_NONE;
}

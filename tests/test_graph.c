// The graph's memory (core/graph.c): arena chunks of a freed graph serve the next graph of the process
// (and hold no stale zeros where zeroed memory is asked for), lrp_arena_release hands them back, and the
// backward recycles gradient buffers across nearly equal sizes, handing them out zeroed.
#include <string.h>

#include "core/graph.h"
#include "harness.h"

static void nothing_backward(lrp_graph *g, const lrp_node *n, const lrp_rules *rules) {
    (void)g, (void)n, (void)rules;
}

TEST(a_freed_graphs_arena_serves_the_next_graph_and_zeroed_memory_is_zero) {
    lrp_err err;
    lrp_graph g;
    CHECK(lrp_graph_init(&g, 0, &err) == 0);
    unsigned char *p = lrp_graph_alloc(&g, 1 << 20, 0);
    CHECK(p != NULL);
    memset(p, 0xab, 1 << 20);  // dirty the memory
    size_t first_bytes = g.bytes_allocated;
    lrp_graph_free(&g);

    CHECK(lrp_graph_init(&g, 0, &err) == 0);
    unsigned char *q = lrp_graph_alloc(&g, 1 << 20, 1);
    CHECK(q == p);  // the pooled chunk, not a fresh mapping
    int zero = 1;
    for (int i = 0; i < 1 << 20; i++) zero &= q[i] == 0;
    CHECK(zero);
    CHECK(g.bytes_allocated == first_bytes);
    lrp_graph_free(&g);

    lrp_arena_release();  // nothing pooled any more: the next graph maps its own chunk
    CHECK(lrp_graph_init(&g, 0, &err) == 0);
    unsigned char *r = lrp_graph_alloc(&g, 64, 1);
    CHECK(r != NULL && r[0] == 0 && r[63] == 0);
    lrp_graph_free(&g);
    lrp_arena_release();
}

// Two graphs alive at once never share a chunk.
TEST(live_graphs_do_not_share_pooled_chunks) {
    lrp_err err;
    lrp_graph a, b;
    CHECK(lrp_graph_init(&a, 0, &err) == 0);
    CHECK(lrp_act_new(&a, 4, 4) != NULL);
    lrp_graph_free(&a);  // one chunk pooled
    CHECK(lrp_graph_init(&a, 0, &err) == 0 && lrp_graph_init(&b, 0, &err) == 0);
    float *x = lrp_graph_alloc(&a, 256, 0), *y = lrp_graph_alloc(&b, 256, 0);
    CHECK(x && y && (y + 64 <= x || x + 64 <= y));
    lrp_graph_free(&a);
    lrp_graph_free(&b);
    lrp_arena_release();
}

// y = x (a node that passes nothing back) consumed first; its [100, 64] gradient buffer is then reused,
// zeroed, for the [90, 64] gradient of x (same size class), while a [40, 64] one gets new memory.
TEST(gradient_buffers_are_recycled_by_size_class_and_handed_out_zeroed) {
    lrp_err err;
    lrp_graph g;
    CHECK(lrp_graph_init(&g, 0, &err) == 0);
    lrp_act *x = lrp_act_new(&g, 90, 64), *s = lrp_act_new(&g, 40, 64), *y = lrp_act_new(&g, 100, 64);
    lrp_node *n = lrp_graph_record(&g, "nothing", nothing_backward, y);
    CHECK(n != NULL);
    float *gy = lrp_act_grad(&g, y);
    for (int i = 0; i < 100 * 64; i++) gy[i] = 1.0f;
    lrp_rules rules = lrp_rules_for(LRP_METHOD_GRADIENT);
    CHECK(lrp_graph_backward(&g, &rules, &err) == 0);
    CHECK(y->g == NULL && g.n_free == 1);
    float *gs = lrp_act_grad(&g, s);  // 10 KiB: more than twice smaller than the free 28 KiB, fresh memory
    CHECK(gs != gy && g.n_free == 1);
    float *gx = lrp_act_grad(&g, x);  // 22.5 KiB (class 24 KiB) takes the free 28 KiB buffer (class of 25 KiB)
    CHECK(gx == gy && g.n_free == 0);
    int zero = 1;
    for (int i = 0; i < 90 * 64; i++) zero &= gx[i] == 0.0f;
    CHECK(zero);
    lrp_graph_free(&g);
    lrp_arena_release();
}

TEST_MAIN(T(a_freed_graphs_arena_serves_the_next_graph_and_zeroed_memory_is_zero),
          T(live_graphs_do_not_share_pooled_chunks),
          T(gradient_buffers_are_recycled_by_size_class_and_handed_out_zeroed))

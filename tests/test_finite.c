// Non-finite weights (kernels/finite.h, models/model.c): the word-at-a-time count against isfinite()
// on every element (lengths 0..40, every misalignment, random bit patterns), the block scales of every
// quantisation, and lrp_model_open on hand-made checkpoints holding NaN/inf in F32, F16 and BF16
// (safetensors) and a GGUF whose Q8_0 block has a NaN scale: refused naming the tensor and count, opened
// with ATTNLRP_NONFINITE=warn (counts kept), not scanned with =skip.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kernels/finite.h"
#include "models/model.h"
#include "support/gguf_writer.h"
#include "support/tiny_ckpt.h"

static uint64_t rng_state = 12345;
static uint64_t next_u64(void) {  // splitmix64
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// The value of element i, widened independently of the kernel (tests/support conversions).
static float element(lrp_dtype t, const unsigned char *d, int64_t i) {
    if (t == LRP_F32) {
        float x;
        memcpy(&x, d + 4 * i, 4);
        return x;
    }
    uint16_t h;
    memcpy(&h, d + 2 * i, 2);
    return t == LRP_F16 ? tiny_f16_to_f32(h) : tiny_bf16_to_f32(h);
}

TEST(count_matches_isfinite_on_every_element) {
    static const lrp_dtype types[] = {LRP_F32, LRP_F16, LRP_BF16};
    unsigned char buf[8 + 4 * 48];
    for (int ti = 0; ti < 3; ti++) {
        lrp_dtype t = types[ti];
        int bytes = t == LRP_F32 ? 4 : 2;
        for (int trial = 0; trial < 300; trial++) {
            int n = trial % 41, misalign = trial % 8;
            unsigned char *d = buf + misalign;
            for (int i = 0; i < n * bytes; i++) d[i] = (unsigned char)next_u64();
            // Make non-finite values frequent (about 1 in 6): set the exponent field to all ones.
            for (int i = 0; i < n; i++) {
                if (next_u64() % 6) continue;
                if (t == LRP_F32) d[4 * i + 3] |= 0x7f, d[4 * i + 2] |= 0x80;
                else if (t == LRP_BF16) d[2 * i + 1] |= 0x7f, d[2 * i] |= 0x80;
                else d[2 * i + 1] |= 0x7c;
            }
            int64_t want = 0, want_first = -1;
            for (int i = 0; i < n; i++)
                if (!isfinite(element(t, d, i))) {
                    if (want_first < 0) want_first = i;
                    want++;
                }
            int64_t first = 99;
            int64_t got = lrp_count_nonfinite(t, d, n, &first);
            if (got != want || first != want_first)
                fprintf(stderr, "  %s n=%d misalign=%d: %lld (first %lld), expected %lld (first %lld)\n",
                        lrp_dtype_name(t), n, misalign, (long long)got, (long long)first, (long long)want,
                        (long long)want_first);
            CHECK(got == want);
            CHECK(first == want_first);
        }
    }
    // Largest finite values and the smallest non-finite ones at the edges of the exponent field.
    float f[4] = {3.4028235e38f, -3.4028235e38f, INFINITY, -NAN};
    int64_t first;
    CHECK(lrp_count_nonfinite(LRP_F32, f, 4, &first) == 2 && first == 2);
    uint16_t h[5] = {0x7bff, 0xfbff, 0x7c00, 0xfc01, 0x3c00};  // f16: max, -max, inf, -NaN, 1
    CHECK(lrp_count_nonfinite(LRP_F16, h, 5, &first) == 2 && first == 2);
    uint16_t b[5] = {0x7f7f, 0xff7f, 0x3f80, 0xff80, 0x7fc0};  // bf16: max, -max, 1, -inf, NaN
    CHECK(lrp_count_nonfinite(LRP_BF16, b, 5, &first) == 2 && first == 3);
    CHECK(lrp_count_nonfinite(LRP_I32, f, 4, &first) == 0 && first == -1);  // not a weight dtype
    // Large tensors go in units of 2^18 elements over the threads: NaN/inf in the third unit and in the
    // tail, found in element order whatever the split.
    int64_t big = 3 * (1 << 18) + 5;
    float *x = calloc((size_t)big, sizeof *x);
    if (x) {
        CHECK(lrp_count_nonfinite(LRP_F32, x, big, &first) == 0 && first == -1);
        x[big - 1] = NAN;
        x[2 * (1 << 18) + 17] = INFINITY;
        x[2 * (1 << 18) + 18] = -INFINITY;
        CHECK(lrp_count_nonfinite(LRP_F32, x, big, &first) == 3 && first == 2 * (1 << 18) + 17);
        uint16_t *hx = (uint16_t *)x;  // the same bytes as 2·big BF16 values: inf is 0x7f80 in the high half
        CHECK(lrp_count_nonfinite(LRP_BF16, hx, 2 * big, &first) == 3 && first == 2 * (2 * (1 << 18) + 17) + 1);
        free(x);
    }
}

TEST(quantised_blocks_report_non_finite_scales) {
    // ggml-common.h: the byte offsets of each type's float scales in its block.
    static const struct {
        lrp_dtype t;
        int offs[2], n_offs, f32;
    } q[] = {
        {LRP_Q8_0, {0}, 1, 0}, {LRP_Q4_0, {0}, 1, 0},    {LRP_Q4_1, {0, 2}, 2, 0}, {LRP_Q5_0, {0}, 1, 0},
        {LRP_Q5_1, {0, 2}, 2, 0}, {LRP_Q4_K, {0, 2}, 2, 0}, {LRP_Q5_K, {0, 2}, 2, 0}, {LRP_Q6_K, {208}, 1, 0},
        {LRP_Q8_K, {0}, 1, 1},
    };
    for (size_t k = 0; k < sizeof q / sizeof q[0]; k++) {
        lrp_dtype t = q[k].t;
        size_t bb = lrp_dtype_block_bytes(t);
        int be = lrp_dtype_block_elems(t), nb = 5;
        unsigned char *d = malloc(bb * nb + 1), *blocks = d + 1;  // misaligned
        // Quant bytes of 0xff everywhere (as non-finite as integers get), finite scales of 1.
        memset(d, 0xff, bb * nb + 1);
        for (int b = 0; b < nb; b++)
            for (int j = 0; j < q[k].n_offs; j++) {
                if (q[k].f32) memcpy(blocks + b * bb + q[k].offs[j], &(float){1.0f}, 4);
                else memcpy(blocks + b * bb + q[k].offs[j], &(uint16_t){0x3c00}, 2);
            }
        int64_t first;
        CHECK(lrp_count_nonfinite(t, blocks, (int64_t)nb * be, &first) == 0 && first == -1);
        // Block 3's last scale field becomes NaN (f16 0x7e00 / f32 NaN); block 4's first becomes -inf.
        int j = q[k].n_offs - 1;
        if (q[k].f32) {
            memcpy(blocks + 3 * bb + q[k].offs[j], &(float){NAN}, 4);
            memcpy(blocks + 4 * bb, &(float){-INFINITY}, 4);
        } else {
            memcpy(blocks + 3 * bb + q[k].offs[j], &(uint16_t){0x7e00}, 2);
            memcpy(blocks + 4 * bb + q[k].offs[0], &(uint16_t){0xfc00}, 2);
        }
        int64_t n = lrp_count_nonfinite(t, blocks, (int64_t)nb * be, &first);
        if (n != 2 || first != 3 * be)
            fprintf(stderr, "  %s: %lld non-finite scales (first %lld)\n", lrp_dtype_name(t), (long long)n,
                    (long long)first);
        CHECK(n == 2 && first == 3 * be);
        free(d);
    }
}

// Opens dir with ATTNLRP_NONFINITE=mode (NULL: unset); returns lrp_model_open's result, the model in *m.
static int open_as(const char *mode, const char *dir, lrp_model **m, lrp_err *err) {
    if (mode) setenv("ATTNLRP_NONFINITE", mode, 1);
    else unsetenv("ATTNLRP_NONFINITE");
    int rc = lrp_model_open(m, dir, err);
    unsetenv("ATTNLRP_NONFINITE");
    return rc;
}

// Stores value v as element i of a tiny tensor in its dtype.
static void poke(tiny_tensor *t, int64_t i, float v) {
    if (t->dtype == LRP_F32) memcpy((char *)t->bytes + 4 * i, &v, 4);
    else {
        uint16_t h = t->dtype == LRP_F16 ? tiny_f32_to_f16(v) : tiny_f32_to_bf16(v);
        memcpy((char *)t->bytes + 2 * i, &h, 2);
    }
}

TEST(checkpoints_with_nan_or_inf_are_refused_naming_the_tensor) {
    static const lrp_dtype types[] = {LRP_F32, LRP_F16, LRP_BF16};
    for (int ti = 0; ti < 3; ti++) {
        char dir[256], path[512];
        lrp_err err = {{0}};
        if (!tiny_mkdtemp(dir, sizeof dir)) {
            CHECK(0);
            return;
        }
        tiny_ckpt_opts o = tiny_ckpt_defaults();
        o.dtype = types[ti];
        tiny_ckpt ck;
        CHECK(tiny_ckpt_generate(&ck, &o, &err) == 0);
        const tiny_tensor *down = tiny_ckpt_find(&ck, "model.layers.1.mlp.down_proj.weight");
        const tiny_tensor *emb = tiny_ckpt_find(&ck, "model.embed_tokens.weight");
        if (!down || !emb) {
            CHECK(0);
            tiny_ckpt_free(&ck);
            return;
        }
        poke((tiny_tensor *)down, 7, NAN);
        poke((tiny_tensor *)down, 11, INFINITY);
        poke((tiny_tensor *)down, 12, -INFINITY);
        poke((tiny_tensor *)emb, 3, NAN);
        const tiny_tensor *ts[64];
        for (int i = 0; i < ck.n; i++) ts[i] = &ck.tensors[i];
        CHECK(tiny_write_config(tiny_path(path, sizeof path, dir, "config.json"), &o, &err) == 0);
        CHECK(tiny_write_safetensors(tiny_path(path, sizeof path, dir, "model.safetensors"), ts, ck.n, NULL, &err) == 0);
        tiny_ckpt_free(&ck);

        lrp_model *m = NULL;
        CHECK(open_as(NULL, dir, &m, &err) != 0 && m == NULL);
        // The family binds the embedding first: it is named, with its count and the total.
        char want[1024];
        snprintf(want, sizeof want, "%s: tensor \"model.embed_tokens.weight\" holds 1 non-finite values (NaN or inf), "
                 "the first at element 3; 4 in 2 tensors in all: the checkpoint is broken (ATTNLRP_NONFINITE=warn "
                 "opens it anyway)", dir);
        CHECK_STR(err.msg, want);
        CHECK(open_as("refuse", dir, &m, &err) != 0);
        CHECK(open_as("warn", dir, &m, &err) == 0);
        if (m) {
            CHECK(m->nonfinite_count == 4 && m->nonfinite_tensors == 2);
            CHECK(m->nonfinite_first && !strcmp(m->nonfinite_first->name, "model.embed_tokens.weight"));
            CHECK(m->nonfinite_first_count == 1 && m->nonfinite_first_index == 3);
            lrp_model_close(m);
        }
        CHECK(open_as("skip", dir, &m, &err) == 0);
        if (m) {
            CHECK(m->nonfinite_count == 0 && m->nonfinite_first == NULL);
            int64_t idx = -1;  // found on demand (after an output that is not finite), in name order
            const lrp_tensor *t = lrp_model_find_nonfinite(m, &idx);
            CHECK(t && !strcmp(t->name, "model.embed_tokens.weight") && idx == 3);
            lrp_model_close(m);
        }
        CHECK(open_as("maybe", dir, &m, &err) != 0);
        CHECK_STR(err.msg, "ATTNLRP_NONFINITE=maybe: expected refuse, warn or skip");
        tiny_rmtree(dir);
    }
}

// A GGUF llama (hidden 32, 2 layers) whose blk.1.attn_q.weight is Q8_0 with a NaN scale in block 5.
TEST(gguf_q8_0_block_with_nan_scale_is_refused) {
    char dir[256], path[512];
    lrp_err err = {{0}};
    if (!tiny_mkdtemp(dir, sizeof dir)) {
        CHECK(0);
        return;
    }
    gguf_writer *w = gw_new(3);
    gw_kv_str(w, "general.architecture", "llama");
    gw_kv_u32(w, "llama.embedding_length", 32);
    gw_kv_u32(w, "llama.block_count", 2);
    gw_kv_u32(w, "llama.attention.head_count", 4);
    gw_kv_u32(w, "llama.attention.head_count_kv", 2);
    gw_kv_u32(w, "llama.feed_forward_length", 64);
    gw_kv_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-6f);
    static float x[64 * 32];
    for (int i = 0; i < 64 * 32; i++) x[i] = (float)((int)(next_u64() % 200) - 100) / 400.0f;
    uint64_t emb[2] = {32, 10}, vec[1] = {32}, sq[2] = {32, 32}, kv[2] = {32, 16}, up[2] = {32, 64}, dn[2] = {64, 32};
    gw_tensor_f32(w, "token_embd.weight", LRP_F32, 2, emb, x);
    gw_tensor_f32(w, "output_norm.weight", LRP_F32, 1, vec, x);
    for (int l = 0; l < 2; l++) {
        char n[64];
#define TW(s, d, ne) (snprintf(n, sizeof n, "blk.%d.%s.weight", l, s), gw_tensor_f32(w, n, d, sizeof ne / 8, ne, x))
        TW("attn_norm", LRP_F32, vec);
        TW("ffn_norm", LRP_F32, vec);
        TW("attn_k", LRP_Q8_0, kv);
        TW("attn_v", LRP_Q8_0, kv);
        TW("attn_output", LRP_Q8_0, sq);
        TW("ffn_gate", LRP_Q8_0, up);
        TW("ffn_up", LRP_Q8_0, up);
        TW("ffn_down", LRP_Q8_0, dn);
#undef TW
        // attn_q as raw Q8_0 blocks (32 rows of one block each): scales 1/64, block 5's NaN.
        unsigned char q8[32 * 34];
        for (int b = 0; b < 32; b++) {
            uint16_t d = (l == 1 && b == 5) ? 0x7e00 : 0x2400;
            memcpy(q8 + 34 * b, &d, 2);
            for (int i = 0; i < 32; i++) q8[34 * b + 2 + i] = (unsigned char)(next_u64() % 9);
        }
        snprintf(n, sizeof n, "blk.%d.attn_q.weight", l);
        gw_tensor(w, n, gw_ggml_type(LRP_Q8_0), 2, sq, q8, sizeof q8);
    }
    const char *toks[10] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};
    gw_kv_arr_str(w, "tokenizer.ggml.tokens", toks, 10);
    CHECK(gw_write(w, tiny_path(path, sizeof path, dir, "nan.gguf")) == 0);
    gw_free(w);
    lrp_model *m = NULL;
    CHECK(open_as(NULL, path, &m, &err) != 0);
    char want[1024];
    snprintf(want, sizeof want, "%s: tensor \"blk.1.attn_q.weight\" holds 1 non-finite block scales (NaN or inf), "
             "the first at element 160: the checkpoint is broken (ATTNLRP_NONFINITE=warn opens it anyway)", path);
    CHECK_STR(err.msg, want);
    CHECK(open_as("warn", path, &m, &err) == 0);
    if (!m) fprintf(stderr, "  %s\n", err.msg);
    if (m) {
        CHECK(m->nonfinite_count == 1 && m->nonfinite_first_index == 160);
        lrp_model_close(m);
    }
    tiny_rmtree(dir);
}

TEST_MAIN(T(count_matches_isfinite_on_every_element), T(quantised_blocks_report_non_finite_scales),
          T(checkpoints_with_nan_or_inf_are_refused_naming_the_tensor), T(gguf_q8_0_block_with_nan_scale_is_refused))

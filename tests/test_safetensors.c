// The safetensors reader: files built by hand from the format's definition, checkpoints written by
// tests/support/tiny_ckpt, the real TinyStories-656K checkpoint, and one test per malformed input
// with the exact error line.
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/safetensors.h"
#include "harness.h"
#include "support/file_bytes.h"
#include "support/tiny_ckpt.h"

#include <jansson.h>

static char tmpdir[4096];
static char path_buf[4096];

static const char *in_tmp(const char *name) {
    return tiny_path(path_buf, sizeof path_buf, tmpdir, name);
}

static int setup(void) {
    if (!tiny_mkdtemp(tmpdir, sizeof tmpdir)) {
        fprintf(stderr, "  cannot create a temporary directory\n");
        return -1;
    }
    return 0;
}

// Writes model.safetensors from a header text (its real length is used) and data.
static void write_st(const char *name, const char *header, const void *data, size_t n) {
    lrp_err err;
    if (tiny_write_raw(in_tmp(name), strlen(header), header, data, n, &err) != 0) fprintf(stderr, "  %s\n", err.msg);
}

// Opens tmpdir/name expecting failure; returns the message (empty on unexpected success).
static const char *open_fails(const char *name) {
    static lrp_err err;
    lrp_tensor_file tf;
    memset(&err, 0, sizeof err);
    if (lrp_safetensors_open(&tf, in_tmp(name), &err) == 0) {
        lrp_tf_close(&tf);
        return "";
    }
    CHECK(tf.n_tensors == 0 && tf.tensors == NULL && tf.n_maps == 0);
    return err.msg;
}

static float f32_at(const void *p, int64_t i) {
    float f;
    memcpy(&f, (const unsigned char *)p + 4 * i, 4);
    return f;
}

static float stored_value(const lrp_tensor *t, int64_t i) {
    const unsigned char *p = t->data;
    if (t->dtype == LRP_F32) return f32_at(p, i);
    uint16_t h = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
    return t->dtype == LRP_F16 ? tiny_f16_to_f32(h) : tiny_bf16_to_f32(h);
}

// ---------------------------------------------------------------------------------------------
// Well-formed files.

// A header written by hand (not padded, so the data starts at an odd offset, as in pre-2023 files):
// "b" F32 [2] at [0, 8), "a" BF16 [1, 3] at [8, 14), plus __metadata__.
TEST(reads_hand_built_file) {
    if (setup()) return;
    const char *hdr = "{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                      "\"a\":{\"dtype\":\"BF16\",\"shape\":[1,3],\"data_offsets\":[8,14]},"
                      "\"__metadata__\":{\"format\":\"pt\"}}";
    // 1.5 and -2.0 as little-endian float32; 1.0, -0.5, 3.0 as bfloat16 (the top halves of float32).
    const unsigned char data[14] = {0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x00, 0xc0,
                                    0x80, 0x3f, 0x00, 0xbf, 0x40, 0x40};
    write_st("model.safetensors", hdr, data, sizeof data);
    lrp_tensor_file tf;
    lrp_err err = {{0}};
    CHECK(lrp_safetensors_open(&tf, tmpdir, &err) == 0);
    CHECK_STR(err.msg, "");
    CHECK(tf.n_tensors == 2 && tf.n_maps == 1);
    if (tf.n_tensors == 2) {
        CHECK_STR(tf.tensors[0].name, "a");  // sorted by name
        CHECK_STR(tf.tensors[1].name, "b");
    }
    const lrp_tensor *a = lrp_tf_find(&tf, "a"), *b = lrp_tf_find(&tf, "b");
    CHECK(a && b);
    if (a && b) {
        const unsigned char *section = (const unsigned char *)tf.maps[0].addr + 8 + strlen(hdr);
        CHECK(b->dtype == LRP_F32 && b->ndim == 1 && b->shape[0] == 2 && b->nbytes == 8);
        CHECK(a->dtype == LRP_BF16 && a->ndim == 2 && a->shape[0] == 1 && a->shape[1] == 3 && a->nbytes == 6);
        CHECK(b->data == section && a->data == section + 8);
        CHECK(lrp_tensor_numel(a) == 3 && lrp_tensor_numel(b) == 2);
        CHECK(stored_value(b, 0) == 1.5f && stored_value(b, 1) == -2.0f);
        CHECK(stored_value(a, 0) == 1.0f && stored_value(a, 1) == -0.5f && stored_value(a, 2) == 3.0f);
    }
    CHECK(lrp_tf_find(&tf, "c") == NULL);
    CHECK(lrp_tf_find(&tf, "") == NULL);
    lrp_tf_close(&tf);
    CHECK(tf.n_tensors == 0 && tf.tensors == NULL && tf.maps == NULL);
    lrp_tf_close(&tf);  // closing twice is harmless
    tiny_rmtree(tmpdir);
}

// The format allows 0-rank tensors (one element) and empty ones (a zero dimension, zero bytes).
TEST(accepts_scalar_and_empty_tensors) {
    if (setup()) return;
    const char *hdr = "{\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
                      "\"e\":{\"dtype\":\"F16\",\"shape\":[0,7],\"data_offsets\":[4,4]}}";
    const unsigned char data[4] = {0x00, 0x00, 0x80, 0x3f};
    write_st("x.safetensors", hdr, data, sizeof data);
    lrp_tensor_file tf;
    lrp_err err = {{0}};
    CHECK(lrp_safetensors_open(&tf, in_tmp("x.safetensors"), &err) == 0);
    const lrp_tensor *s = lrp_tf_find(&tf, "s"), *e = lrp_tf_find(&tf, "e");
    CHECK(s && s->ndim == 0 && lrp_tensor_numel(s) == 1 && stored_value(s, 0) == 1.0f);
    CHECK(e && e->ndim == 2 && lrp_tensor_numel(e) == 0 && e->nbytes == 0);
    lrp_tf_close(&tf);
    tiny_rmtree(tmpdir);
}

// The writer against the format's definition: the 8-byte little-endian length, a header padded with
// spaces to a multiple of 8, tensors in name order tiling the data section.
TEST(writer_follows_the_format) {
    if (setup()) return;
    tiny_ckpt_opts o = tiny_ckpt_defaults();
    o.dtype = LRP_BF16;
    tiny_ckpt ck;
    lrp_err err;
    CHECK(tiny_ckpt_write(tmpdir, &o, &ck, &err) == 0);
    FILE *f = fopen(in_tmp("model.safetensors"), "rb");
    CHECK(f != NULL);
    if (!f) return;
    unsigned char *buf = malloc(1 << 20);
    size_t size = fread(buf, 1, 1 << 20, f);
    fclose(f);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | buf[i];
    CHECK(n % 8 == 0 && 8 + n <= size);
    size_t json_end = (size_t)n;
    while (json_end > 0 && buf[8 + json_end - 1] == ' ') json_end--;
    CHECK(buf[8] == '{' && buf[8 + json_end - 1] == '}' && n - json_end < 8);
    json_error_t jerr;
    json_t *h = json_loadb((const char *)buf + 8, json_end, 0, &jerr);
    CHECK(h != NULL);
    CHECK((int)json_object_size(h) == ck.n + 1);  // + __metadata__
    CHECK_STR(json_string_value(json_object_get(json_object_get(h, "__metadata__"), "format")), "pt");
    // In name order, each tensor begins where the previous one ended, and holds its generated bytes.
    const char *prev = "";
    int64_t end = 0, checked = 0;
    for (;;) {
        const char *next = NULL, *key;
        json_t *v;
        json_object_foreach(h, key, v) {
            if (strcmp(key, "__metadata__") != 0 && strcmp(key, prev) > 0 && (!next || strcmp(key, next) < 0))
                next = key;
        }
        if (!next) break;
        json_t *e = json_object_get(h, next);
        const tiny_tensor *t = tiny_ckpt_find(&ck, next);
        CHECK(t != NULL);
        CHECK_STR(json_string_value(json_object_get(e, "dtype")), "BF16");
        int64_t b = json_integer_value(json_array_get(json_object_get(e, "data_offsets"), 0));
        int64_t en = json_integer_value(json_array_get(json_object_get(e, "data_offsets"), 1));
        CHECK(b == end);
        if (t) {
            CHECK((size_t)(en - b) == t->nbytes);
            CHECK((int)json_array_size(json_object_get(e, "shape")) == t->ndim);
            CHECK(json_integer_value(json_array_get(json_object_get(e, "shape"), 0)) == t->shape[0]);
            CHECK(memcmp(buf + 8 + n + b, t->bytes, t->nbytes) == 0);
        }
        end = en;
        prev = next;
        checked++;
    }
    CHECK(checked == ck.n);
    CHECK((size_t)(8 + n + (uint64_t)end) == size);
    json_decref(h);
    free(buf);
    tiny_ckpt_free(&ck);
    tiny_rmtree(tmpdir);
}

// Every generated tensor is found under its name with its shape, dtype and values.
static void check_roundtrip(const tiny_ckpt_opts *o, int expect_maps) {
    if (setup()) return;
    tiny_ckpt ck;
    lrp_err err = {{0}};
    CHECK(tiny_ckpt_write(tmpdir, o, &ck, &err) == 0);
    lrp_tensor_file tf;
    CHECK(lrp_safetensors_open(&tf, tmpdir, &err) == 0);
    CHECK_STR(err.msg, "");
    CHECK(tf.n_maps == expect_maps);
    CHECK(tf.n_tensors >= ck.n);
    for (int i = 0; i < ck.n; i++) {
        const tiny_tensor *w = &ck.tensors[i];
        const lrp_tensor *t = lrp_tf_find(&tf, w->name);
        CHECK(t != NULL);
        if (!t) continue;
        CHECK(t->dtype == w->dtype && t->ndim == w->ndim && t->nbytes == w->nbytes);
        CHECK(t->shape[0] == w->shape[0] && (w->ndim < 2 || t->shape[1] == w->shape[1]));
        CHECK(lrp_tensor_numel(t) == w->numel);
        CHECK(memcmp(t->data, w->bytes, w->nbytes) == 0);
        int64_t bad = 0;
        for (int64_t k = 0; k < w->numel; k++) bad += stored_value(t, k) != w->values[k];
        CHECK(bad == 0);
    }
    lrp_tf_close(&tf);
    tiny_ckpt_free(&ck);
    tiny_rmtree(tmpdir);
}

TEST(roundtrip_f32) {
    tiny_ckpt_opts o = tiny_ckpt_defaults();
    check_roundtrip(&o, 1);
}

TEST(roundtrip_f16_qwen2_nonzero_biases) {
    tiny_ckpt_opts o = tiny_ckpt_defaults();
    o.model_type = "qwen2";
    o.dtype = LRP_F16;
    o.nonzero_biases = 1;
    check_roundtrip(&o, 1);
}

TEST(roundtrip_bf16_qwen3_sharded) {
    tiny_ckpt_opts o = tiny_ckpt_defaults();
    o.model_type = "qwen3";
    o.head_dim = 8;
    o.dtype = LRP_BF16;
    o.sharded = 1;
    o.attention_bias = 1;
    o.mlp_bias = 1;
    check_roundtrip(&o, 2);
}

TEST(generated_tensor_names_follow_hf_layout) {
    tiny_ckpt_opts o = tiny_ckpt_defaults();
    o.layers = 1;
    o.model_type = "qwen2";
    o.tie_word_embeddings = 1;
    tiny_ckpt ck;
    lrp_err err;
    CHECK(tiny_ckpt_generate(&ck, &o, &err) == 0);
    // qwen2: q, k, v biases but no o bias; tied: no lm_head.
    static const char *names[] = {
        "model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.q_proj.bias",
        "model.layers.0.self_attn.k_proj.weight", "model.layers.0.self_attn.k_proj.bias",
        "model.layers.0.self_attn.v_proj.weight", "model.layers.0.self_attn.v_proj.bias",
        "model.layers.0.self_attn.o_proj.weight", "model.layers.0.mlp.gate_proj.weight",
        "model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.down_proj.weight",
        "model.layers.0.input_layernorm.weight", "model.layers.0.post_attention_layernorm.weight",
        "model.norm.weight"};
    CHECK(ck.n == (int)(sizeof names / sizeof names[0]));
    for (int i = 0; i < ck.n && i < (int)(sizeof names / sizeof names[0]); i++) CHECK_STR(ck.tensors[i].name, names[i]);
    const tiny_tensor *q = tiny_ckpt_find(&ck, "model.layers.0.self_attn.q_proj.weight");
    const tiny_tensor *k = tiny_ckpt_find(&ck, "model.layers.0.self_attn.k_proj.weight");
    const tiny_tensor *bias = tiny_ckpt_find(&ck, "model.layers.0.self_attn.q_proj.bias");
    CHECK(q && q->shape[0] == 16 && q->shape[1] == 16);  // [heads * head_dim, hidden]
    CHECK(k && k->shape[0] == 8 && k->shape[1] == 16);   // [kv_heads * head_dim, hidden]
    int zero = 1;
    for (int64_t i = 0; bias && i < bias->numel; i++) zero &= bias->values[i] == 0.0f;
    CHECK(bias && zero);  // biases are zero unless asked for
    tiny_ckpt_free(&ck);

    o.model_type = "qwen3";
    o.tie_word_embeddings = 0;
    o.head_dim = 6;
    CHECK(tiny_ckpt_generate(&ck, &o, &err) == 0);
    const tiny_tensor *qn = tiny_ckpt_find(&ck, "model.layers.0.self_attn.q_norm.weight");
    const tiny_tensor *o_proj = tiny_ckpt_find(&ck, "model.layers.0.self_attn.o_proj.weight");
    CHECK(qn && qn->ndim == 1 && qn->shape[0] == 6);
    CHECK(o_proj && o_proj->shape[0] == 16 && o_proj->shape[1] == 24);
    CHECK(tiny_ckpt_find(&ck, "model.layers.0.self_attn.q_proj.bias") == NULL);
    CHECK(tiny_ckpt_find(&ck, "lm_head.weight") != NULL);
    tiny_ckpt_free(&ck);
}

// Values depend on the seed and the tensor's name only, not on the sharding or the dtype's storage.
TEST(generation_is_deterministic) {
    tiny_ckpt_opts o = tiny_ckpt_defaults();
    tiny_ckpt a, b;
    lrp_err err;
    CHECK(tiny_ckpt_generate(&a, &o, &err) == 0);
    o.sharded = 1;
    CHECK(tiny_ckpt_generate(&b, &o, &err) == 0);
    CHECK(a.n == b.n);
    for (int i = 0; i < a.n && i < b.n; i++)
        CHECK(memcmp(a.tensors[i].values, b.tensors[i].values, (size_t)a.tensors[i].numel * 4) == 0);
    tiny_ckpt_free(&b);
    o.seed = 2;
    CHECK(tiny_ckpt_generate(&b, &o, &err) == 0);
    CHECK(memcmp(a.tensors[0].values, b.tensors[0].values, 16) != 0);
    tiny_ckpt_free(&a);
    tiny_ckpt_free(&b);
}

// IEEE bit patterns from the formats' definitions: 1 = 0x3c00 (f16) = 0x3f80 (bf16), the largest
// half 65504 = 0x7bff, the smallest subnormal half 2^-24 = 0x0001, round-to-even at the midpoint.
TEST(half_conversions_match_ieee_definitions) {
    CHECK(tiny_f32_to_f16(1.0f) == 0x3c00 && tiny_f32_to_f16(-2.0f) == 0xc000);
    CHECK(tiny_f32_to_f16(65504.0f) == 0x7bff && tiny_f32_to_f16(65520.0f) == 0x7c00);
    CHECK(tiny_f32_to_f16(0x1p-24f) == 0x0001 && tiny_f32_to_f16(0x1p-25f) == 0x0000);
    CHECK(tiny_f32_to_f16(0x1.8p-25f) == 0x0001);
    CHECK(tiny_f32_to_f16(1.0f + 0x1p-11f) == 0x3c00);  // midpoint: to even
    CHECK(tiny_f32_to_f16(1.0f + 0x3p-11f) == 0x3c02);  // midpoint: to even (up)
    CHECK(tiny_f16_to_f32(0x3555) == 0x1.554p-2f && tiny_f16_to_f32(0x0001) == 0x1p-24f);
    CHECK(tiny_f16_to_f32(0x8400) == -0x1p-14f);
    CHECK(tiny_f32_to_bf16(1.0f) == 0x3f80 && tiny_f32_to_bf16(-0.5f) == 0xbf00);
    CHECK(tiny_f32_to_bf16(1.0f + 0x1p-8f) == 0x3f80 && tiny_f32_to_bf16(1.0f + 0x3p-8f) == 0x3f82);
    CHECK(tiny_bf16_to_f32(0x4040) == 3.0f);
}

TEST(sharded_checkpoint_opens_by_directory_and_by_index) {
    if (setup()) return;
    tiny_ckpt_opts o = tiny_ckpt_defaults();
    o.sharded = 1;
    tiny_ckpt ck;
    lrp_err err = {{0}};
    CHECK(tiny_ckpt_write(tmpdir, &o, &ck, &err) == 0);
    lrp_tensor_file a, b;
    CHECK(lrp_safetensors_open(&a, tmpdir, &err) == 0);
    CHECK(lrp_safetensors_open(&b, in_tmp("model.safetensors.index.json"), &err) == 0);
    CHECK(a.n_tensors == ck.n && b.n_tensors == ck.n && a.n_maps == 2 && b.n_maps == 2);
    for (int i = 0; i < a.n_tensors && i < b.n_tensors; i++) CHECK_STR(a.tensors[i].name, b.tensors[i].name);
    lrp_tf_close(&a);
    lrp_tf_close(&b);
    // A single shard can be opened on its own.
    CHECK(lrp_safetensors_open(&a, in_tmp("model-00001-of-00002.safetensors"), &err) == 0);
    CHECK(a.n_tensors == ck.n / 2);
    lrp_tf_close(&a);
    tiny_ckpt_free(&ck);
    tiny_rmtree(tmpdir);
}

// A tied model saved with safetensors' save_model keeps one name and records the other in
// __metadata__; both names then reach the same data.
TEST(metadata_alias_of_a_tied_head) {
    if (setup()) return;
    tiny_ckpt_opts o = tiny_ckpt_defaults();
    o.tie_word_embeddings = 1;
    o.tied_store_head = 1;
    tiny_ckpt ck;
    lrp_err err = {{0}};
    CHECK(tiny_ckpt_write(tmpdir, &o, &ck, &err) == 0);
    lrp_tensor_file tf;
    CHECK(lrp_safetensors_open(&tf, tmpdir, &err) == 0);
    const lrp_tensor *e = lrp_tf_find(&tf, "model.embed_tokens.weight"), *h = lrp_tf_find(&tf, "lm_head.weight");
    CHECK(e && h && e->data == h->data && e->shape[0] == o.vocab && e->shape[1] == o.hidden);
    CHECK(lrp_tf_find(&tf, "format") == NULL);
    CHECK(tf.n_tensors == ck.n + 1);
    lrp_tf_close(&tf);
    tiny_ckpt_free(&ck);
    tiny_rmtree(tmpdir);
}

// A stored tensor wins over an alias of the same name in another shard.
TEST(alias_never_shadows_a_stored_tensor) {
    if (setup()) return;
    const char *h1 = "{\"__metadata__\":{\"b\":\"a\"},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    const char *h2 = "{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    const float one = 1.0f, two = 2.0f;
    write_st("s1.safetensors", h1, &one, 4);
    write_st("s2.safetensors", h2, &two, 4);
    lrp_err err;
    tiny_write_text(in_tmp("model.safetensors.index.json"),
                    "{\"weight_map\": {\"a\": \"s1.safetensors\", \"b\": \"s2.safetensors\"}}", &err);
    lrp_tensor_file tf;
    CHECK(lrp_safetensors_open(&tf, tmpdir, &err) == 0);
    const lrp_tensor *b = lrp_tf_find(&tf, "b");
    CHECK(tf.n_tensors == 2 && b && f32_at(b->data, 0) == 2.0f);
    lrp_tf_close(&tf);
    tiny_rmtree(tmpdir);
}

// The real checkpoint (written by Hugging Face's own writer); expected values read with numpy.
TEST(real_tinystories_checkpoint) {
    const char *dir = "../shared/models/TinyStories-656K";
    struct stat st;
    if (stat(dir, &st) != 0) {
        fprintf(stderr, "  (skipped: %s not present)\n", dir);
        return;
    }
    lrp_tensor_file tf;
    lrp_err err = {{0}};
    CHECK(lrp_safetensors_open(&tf, dir, &err) == 0);
    CHECK_STR(err.msg, "");
    CHECK(tf.n_tensors == 21);  // 20 stored + the model.embed_tokens.weight alias
    const lrp_tensor *head = lrp_tf_find(&tf, "lm_head.weight"), *emb = lrp_tf_find(&tf, "model.embed_tokens.weight");
    const lrp_tensor *norm = lrp_tf_find(&tf, "model.norm.weight");
    const lrp_tensor *v1 = lrp_tf_find(&tf, "model.layers.1.self_attn.v_proj.weight");
    CHECK(head && emb && norm && v1);
    if (head && emb && norm && v1) {
        CHECK(head->dtype == LRP_F32 && head->shape[0] == 2048 && head->shape[1] == 128 && emb->data == head->data);
        CHECK(head->data == (const char *)tf.maps[0].addr + 8 + 2160);  // header length 2160; lm_head at 0
        CHECK(v1->shape[0] == 64 && v1->shape[1] == 128);
        CHECK(f32_at(norm->data, 0) == 0.640625f && f32_at(norm->data, 127) == 0.8359375f);
        CHECK(f32_at(head->data, 1) == -0.02587890625f && f32_at(head->data, 2048 * 128 - 1) == -0.421875f);
        CHECK(f32_at(v1->data, 63 * 128 + 127) == 0.404296875f);
    }
    lrp_tf_close(&tf);
}

// ---------------------------------------------------------------------------------------------
// Malformed files: one exact line each.

TEST(error_truncated_file) {
    if (setup()) return;
    lrp_err err;
    tiny_write_text(in_tmp("model.safetensors"), "\x10\x00", &err);  // 1 byte (the text stops at NUL)
    CHECK_STR(open_fails("model.safetensors"), "model.safetensors: truncated (1 bytes, need at least 8 + header)");
    tiny_write_raw(in_tmp("model.safetensors"), 2, NULL, NULL, 0, &err);  // 8 bytes: a length, nothing else
    CHECK_STR(open_fails("model.safetensors"), "model.safetensors: truncated (8 bytes, need at least 8 + header)");
    tiny_write_text(in_tmp("empty.safetensors"), "", &err);
    CHECK_STR(open_fails("empty.safetensors"), "empty.safetensors: truncated (0 bytes, need at least 8 + header)");
    tiny_rmtree(tmpdir);
}

TEST(error_header_length_past_end_of_file) {
    if (setup()) return;
    lrp_err err;
    char data[1016] = {0};
    tiny_write_raw(in_tmp("model.safetensors"), 4294967296ull, NULL, data, sizeof data, &err);
    CHECK_STR(open_fails("model.safetensors"), "model.safetensors: header length 4294967296 exceeds file size 1024");
    tiny_write_raw(in_tmp("model.safetensors"), 1017, "{}", data, sizeof data - 2, &err);
    CHECK_STR(open_fails("model.safetensors"), "model.safetensors: header length 1017 exceeds file size 1024");
    tiny_write_raw(in_tmp("model.safetensors"), UINT64_MAX, "{}", NULL, 0, &err);
    CHECK_STR(open_fails("model.safetensors"),
              "model.safetensors: header length 18446744073709551615 exceeds file size 10");
    tiny_rmtree(tmpdir);
}

// The reference reader's 100 MB limit, on a sparse file so that the test costs no disk space.
TEST(error_header_length_over_limit) {
    if (setup()) return;
    lrp_err err;
    tiny_write_raw(in_tmp("big.safetensors"), 150000000, "{", NULL, 0, &err);
    CHECK(truncate(in_tmp("big.safetensors"), 160000000) == 0);
    CHECK_STR(open_fails("big.safetensors"),
              "big.safetensors: header length 150000000 exceeds the limit of 100000000 bytes");
    tiny_rmtree(tmpdir);
}

TEST(error_header_not_a_json_object) {
    if (setup()) return;
    write_st("model.safetensors", "[1, 2]  ", NULL, 0);
    CHECK_STR(open_fails("model.safetensors"),
              "model.safetensors: header does not start with '{' (not a safetensors file?)");
    write_st("model.safetensors", "{\"a\": ", NULL, 0);
    const char *msg = open_fails("model.safetensors");
    CHECK(strncmp(msg, "model.safetensors: header is not valid JSON: ", 45) == 0);
    CHECK(strstr(msg, "(line 1, column 6)") != NULL);
    write_st("model.safetensors", "{\"a\": 1} x", NULL, 0);
    CHECK(strncmp(open_fails("model.safetensors"), "model.safetensors: header is not valid JSON: ", 45) == 0);
    tiny_rmtree(tmpdir);
}

TEST(error_offsets_past_end_of_data) {
    if (setup()) return;
    char data[64] = {0};
    write_st("model.safetensors",
             "{\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[22],\"data_offsets\":[10,99]}}", data, sizeof data);
    CHECK_STR(open_fails("model.safetensors"), "model.safetensors: tensor \"model.norm.weight\": data_offsets [10, 99] "
                                               "past the end of the data section (64 bytes)");
    tiny_rmtree(tmpdir);
}

// The sorted ranges must not overlap (safetensors' Metadata::validate: each begins where the previous
// ends); the message names both tensors, whatever their order in the header.
TEST(error_offsets_overlap) {
    if (setup()) return;
    char data[16] = {0};
    write_st("model.safetensors",
             "{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]},"
             "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
             data, 12);
    CHECK_STR(open_fails("model.safetensors"), "model.safetensors: tensors \"a\" [0, 8) and \"b\" [4, 12) overlap");
    // The same range twice.
    write_st("model.safetensors",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
             "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
             data, 8);
    CHECK_STR(open_fails("model.safetensors"), "model.safetensors: tensors \"a\" [0, 8) and \"b\" [0, 8) overlap");
    // One range inside another, and an empty tensor inside a non-empty one.
    write_st("model.safetensors",
             "{\"outer\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
             "\"inner\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
             data, 16);
    CHECK_STR(open_fails("model.safetensors"),
              "model.safetensors: tensors \"outer\" [0, 16) and \"inner\" [4, 8) overlap");
    write_st("model.safetensors",
             "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
             "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}",
             data, 8);
    CHECK_STR(open_fails("model.safetensors"), "model.safetensors: tensors \"w\" [0, 8) and \"e\" [4, 4) overlap");
    tiny_rmtree(tmpdir);
}

// Every byte of the data section belongs to a tensor: gaps at the start, between tensors and after
// the last one (the crate's buffer-length check) are errors naming the neighbouring tensors.
TEST(error_offsets_leave_a_gap_or_trailing_bytes) {
    if (setup()) return;
    char data[80] = {0};
    write_st("model.safetensors",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[16],\"data_offsets\":[0,64]},"
             "\"b\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[80,80]}}",
             data, 80);
    CHECK_STR(open_fails("model.safetensors"),
              "model.safetensors: the tensors leave a gap of 16 bytes after \"a\" [0, 64), before \"b\" [80, 80)");
    write_st("model.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", data, 12);
    CHECK_STR(open_fails("model.safetensors"),
              "model.safetensors: the tensors leave a gap of 4 bytes at the start of the data section, before \"a\" [4, 12)");
    write_st("model.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", data, 12);
    CHECK_STR(open_fails("model.safetensors"), "model.safetensors: the data section is 4 bytes longer than the tensors: "
                                               "bytes [8, 12) after \"a\" [0, 8) belong to no tensor");
    write_st("model.safetensors", "{\"__metadata__\":{\"format\":\"pt\"}}", data, 3);
    CHECK_STR(open_fails("model.safetensors"), "model.safetensors: the data section is 3 bytes but the file holds no tensors");
    // In a sharded checkpoint the message names the shard.
    write_st("a.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", data, 4);
    write_st("b.safetensors",
             "{\"v\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
             "\"u\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
             data, 12);
    lrp_err err;
    tiny_write_text(in_tmp("model.safetensors.index.json"),
                    "{\"weight_map\": {\"w\": \"a.safetensors\", \"v\": \"b.safetensors\", \"u\": \"b.safetensors\"}}", &err);
    CHECK_STR(open_fails("model.safetensors.index.json"),
              "b.safetensors: the tensors leave a gap of 4 bytes after \"v\" [0, 4), before \"u\" [8, 12)");
    tiny_rmtree(tmpdir);
}

// What the crate accepts: empty tensors sharing an offset with each other and with the start of the
// next tensor, ranges listed out of order, and a file with no tensors and no data.
TEST(accepts_contiguous_ranges_with_empty_tensors) {
    if (setup()) return;
    float data[3] = {1, 2, 3};
    write_st("model.safetensors",
             "{\"z\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]},"
             "\"e1\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]},"
             "\"e0\":{\"dtype\":\"F16\",\"shape\":[0,3],\"data_offsets\":[0,0]},"
             "\"e2\":{\"dtype\":\"BF16\",\"shape\":[0],\"data_offsets\":[8,8]},"
             "\"y\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
             data, sizeof data);
    lrp_tensor_file tf;
    lrp_err err = {{0}};
    CHECK(lrp_safetensors_open(&tf, in_tmp("model.safetensors"), &err) == 0);
    if (!err.msg[0]) {
        const lrp_tensor *y = lrp_tf_find(&tf, "y"), *z = lrp_tf_find(&tf, "z");
        CHECK(y && z && stored_value(y, 1) == 2.0f && stored_value(z, 0) == 3.0f);
        CHECK(lrp_tf_find(&tf, "e0") && lrp_tf_find(&tf, "e1") && lrp_tf_find(&tf, "e2"));
        lrp_tf_close(&tf);
    } else {
        fprintf(stderr, "  %s\n", err.msg);
    }
    write_st("empty.safetensors", "{}", data, 0);
    CHECK(lrp_safetensors_open(&tf, in_tmp("empty.safetensors"), &err) == 0);
    if (!err.msg[0]) lrp_tf_close(&tf);
    tiny_rmtree(tmpdir);
}

TEST(error_size_does_not_match_shape) {
    if (setup()) return;
    char data[24] = {0};
    write_st("model.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,12]}}", data, 12);
    CHECK_STR(open_fails("model.safetensors"),
              "model.safetensors: tensor \"w\": data_offsets [0, 12] hold 12 bytes, but F32 shape [2, 3] needs 24");
    write_st("model.safetensors", "{\"w\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", data, 24);
    CHECK_STR(open_fails("model.safetensors"),
              "model.safetensors: tensor \"w\": data_offsets [0, 24] hold 24 bytes, but BF16 shape [2, 3] needs 12");
    write_st("model.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", data, 8);
    CHECK_STR(open_fails("model.safetensors"), "model.safetensors: tensor \"w\": data_offsets [8, 0] end before they begin");
    tiny_rmtree(tmpdir);
}

TEST(error_unsupported_dtype_names_the_tensor) {
    if (setup()) return;
    char data[16] = {0};
    write_st("model.safetensors", "{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", data, 2);
    CHECK_STR(open_fails("model.safetensors"), "model.safetensors: tensor \"w\": unsupported dtype \"F8_E4M3\" "
                                               "(supported: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL)");
    write_st("model.safetensors", "{\"w\":{\"dtype\":\"Q9\",\"shape\":[2],\"data_offsets\":[0,16]}}", data, 16);
    CHECK_STR(open_fails("model.safetensors"),
              "model.safetensors: tensor \"w\": unsupported dtype \"Q9\" (supported: F32, F16, BF16, F64, I64, I32, I16, I8, "
              "U8, BOOL)");
    tiny_rmtree(tmpdir);
}

TEST(error_bad_shape_or_offsets) {
    if (setup()) return;
    char data[16] = {0};
    write_st("model.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", data, 4);
    CHECK_STR(open_fails("model.safetensors"), "model.safetensors: tensor \"w\": shape entry 0 is not a non-negative integer");
    write_st("model.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1, 2.0],\"data_offsets\":[0,8]}}", data, 8);
    CHECK_STR(open_fails("model.safetensors"), "model.safetensors: tensor \"w\": shape entry 1 is not a non-negative integer");
    write_st("model.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[0,4]}}", data, 4);
    CHECK_STR(open_fails("model.safetensors"),
              "model.safetensors: tensor \"w\": shape has 5 dimensions, at most 4 are supported");
    write_st("model.safetensors",
             "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", data, 4);
    CHECK_STR(open_fails("model.safetensors"),
              "model.safetensors: tensor \"w\": shape is too large (element count overflows)");
    write_st("model.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", data, 4);
    CHECK_STR(open_fails("model.safetensors"),
              "model.safetensors: tensor \"w\": data_offsets must be two non-negative integers [begin, end]");
    write_st("model.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", data, 4);
    CHECK_STR(open_fails("model.safetensors"),
              "model.safetensors: tensor \"w\": data_offsets must be two non-negative integers [begin, end]");
    write_st("model.safetensors", "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", data, 4);
    CHECK_STR(open_fails("model.safetensors"), "model.safetensors: tensor \"w\": missing string \"dtype\"");
    write_st("model.safetensors", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", data, 4);
    CHECK_STR(open_fails("model.safetensors"), "model.safetensors: tensor \"w\": missing array \"shape\"");
    write_st("model.safetensors", "{\"w\":[1]}", data, 4);
    CHECK_STR(open_fails("model.safetensors"), "model.safetensors: tensor \"w\": entry is not a JSON object");
    write_st("model.safetensors", "{\"__metadata__\":{\"n\":1}}", NULL, 0);
    CHECK_STR(open_fails("model.safetensors"), "model.safetensors: __metadata__ value of \"n\" is not a string");
    write_st("model.safetensors", "{\"__metadata__\":[]}", NULL, 0);
    CHECK_STR(open_fails("model.safetensors"), "model.safetensors: __metadata__ is not a JSON object");
    tiny_rmtree(tmpdir);
}

TEST(error_duplicate_names) {
    if (setup()) return;
    char data[8] = {0};
    write_st("model.safetensors",
             "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
             "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
             data, 8);
    const char *msg = open_fails("model.safetensors");
    CHECK(strncmp(msg, "model.safetensors: duplicate tensor name in header (", 52) == 0);
    // The same name in two shards.
    write_st("a.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", data, 4);
    write_st("b.safetensors",
             "{\"v\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
             "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
             data, 8);
    lrp_err err;
    tiny_write_text(in_tmp("model.safetensors.index.json"),
                    "{\"weight_map\": {\"w\": \"a.safetensors\", \"v\": \"b.safetensors\"}}", &err);
    CHECK_STR(open_fails("model.safetensors.index.json"), "duplicate tensor \"w\" in a.safetensors and b.safetensors");
    tiny_rmtree(tmpdir);
}

TEST(error_bad_index) {
    if (setup()) return;
    char data[4] = {0};
    lrp_err err;
    const char *idx = "model.safetensors.index.json";
    write_st("a.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", data, 4);
    write_st("b.safetensors", "{\"v\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", data, 4);

    tiny_write_text(in_tmp(idx), "{\"weight_map\": {\"w\": \"a.safetensors\", \"v\": \"c.safetensors\"}}", &err);
    CHECK_STR(open_fails(idx), "model.safetensors.index.json: shard \"c.safetensors\" (listed for tensor \"v\") "
                               "cannot be read: No such file or directory");
    tiny_write_text(in_tmp(idx), "{\"weight_map\": {\"w\": \"a.safetensors\", \"u\": \"a.safetensors\"}}", &err);
    CHECK_STR(open_fails(idx),
              "model.safetensors.index.json: tensor \"u\" is listed in shard \"a.safetensors\" but not found there");
    tiny_write_text(in_tmp(idx),
                    "{\"weight_map\": {\"w\": \"a.safetensors\", \"v\": \"a.safetensors\", \"x\": \"b.safetensors\"}}",
                    &err);
    CHECK_STR(open_fails(idx), "model.safetensors.index.json: tensor \"v\" is listed in shard \"a.safetensors\" but "
                               "found in \"b.safetensors\"");
    tiny_write_text(in_tmp(idx), "{\"metadata\": {}}", &err);
    CHECK_STR(open_fails(idx), "model.safetensors.index.json: missing \"weight_map\" object");
    tiny_write_text(in_tmp(idx), "{\"weight_map\": {}}", &err);
    CHECK_STR(open_fails(idx), "model.safetensors.index.json: \"weight_map\" is empty");
    tiny_write_text(in_tmp(idx), "{\"weight_map\": {\"w\": \"../a.safetensors\"}}", &err);
    CHECK_STR(open_fails(idx), "model.safetensors.index.json: weight_map entry \"w\" is not a relative file name");
    tiny_write_text(in_tmp(idx), "{\"weight_map\": {\"w\": 3}}", &err);
    CHECK_STR(open_fails(idx), "model.safetensors.index.json: weight_map entry \"w\" is not a relative file name");
    tiny_write_text(in_tmp(idx), "{\"weight_map\":\n {\"w\": }", &err);
    const char *msg = open_fails(idx);
    CHECK(strncmp(msg, "model.safetensors.index.json: not valid JSON: ", 46) == 0 && strstr(msg, "(line 2, column"));
    // A broken shard is reported under the shard's name.
    tiny_write_text(in_tmp("b.safetensors"), "abc", &err);
    tiny_write_text(in_tmp(idx), "{\"weight_map\": {\"w\": \"a.safetensors\", \"v\": \"b.safetensors\"}}", &err);
    CHECK_STR(open_fails(idx), "b.safetensors: truncated (3 bytes, need at least 8 + header)");
    tiny_rmtree(tmpdir);
}

TEST(error_missing_paths) {
    if (setup()) return;
    lrp_tensor_file tf;
    lrp_err err;
    CHECK(lrp_safetensors_open(&tf, tmpdir, &err) == -1);
    char expect[4200];
    snprintf(expect, sizeof expect, "%s: no model.safetensors or model.safetensors.index.json", tmpdir);
    CHECK_STR(err.msg, expect);
    CHECK(lrp_safetensors_open(&tf, in_tmp("nope"), &err) == -1);
    snprintf(expect, sizeof expect, "%s/nope: No such file or directory", tmpdir);
    CHECK_STR(err.msg, expect);
    tiny_rmtree(tmpdir);
}

// Random corruptions of a valid file never crash the reader (ASan/UBSan check this under SAN=1):
// it either accepts the file or explains why not.
TEST(random_corruptions_are_rejected_cleanly) {
    if (setup()) return;
    tiny_ckpt_opts o = tiny_ckpt_defaults();
    o.layers = 1;
    o.vocab = 8;
    lrp_err err;
    CHECK(tiny_ckpt_write(tmpdir, &o, NULL, &err) == 0);
    FILE *f = fopen(in_tmp("model.safetensors"), "rb");
    if (!f) return;
    static unsigned char good[1 << 16], bad[1 << 16];
    size_t n = fread(good, 1, sizeof good, f);
    fclose(f);
    uint64_t s = 12345;
    int accepted = 0, rejected = 0, silent = 0;
    for (int iter = 0; iter < 600; iter++) {
        memcpy(bad, good, n);
        size_t len = n;
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        int kind = (int)(s >> 60) % 4;
        size_t pos = (size_t)((s >> 20) % (uint64_t)(kind == 3 ? n : 600));  // mostly the header
        if (kind == 0) bad[pos] ^= (unsigned char)(1u << ((s >> 8) % 8));
        else if (kind == 1) bad[pos] = "{}[]\",:0123456789-e. "[(s >> 8) % 21];
        else if (kind == 2) bad[pos % 8] = (unsigned char)(s >> 12);
        else len = pos;
        FILE *g = fopen(in_tmp("fuzz.safetensors"), "wb");
        if (!g) break;
        fwrite(bad, 1, len, g);
        fclose(g);
        lrp_tensor_file tf;
        memset(&err, 0, sizeof err);
        if (lrp_safetensors_open(&tf, in_tmp("fuzz.safetensors"), &err) == 0) {
            accepted++;
            lrp_tf_close(&tf);
        } else {
            rejected++;
            silent += err.msg[0] == 0;
        }
    }
    CHECK(rejected > 300 && silent == 0);
    (void)accepted;
    tiny_rmtree(tmpdir);
}


TEST(open_memory_reads_like_the_file) {
    const char *path = "models/default/model.safetensors";
    size_t n;
    unsigned char *bytes = test_file_bytes(path, &n);
    lrp_tensor_file a, b;
    lrp_err err = {{0}};
    if (!bytes || lrp_safetensors_open(&a, path, &err) != 0) {
        CHECK(0);
        free(bytes);
        return;
    }
    CHECK(lrp_safetensors_open_memory(&b, "mem.safetensors", bytes, n, &err) == 0);
    CHECK(test_same_tensors(&a, &b) == 0);
    lrp_tf_close(&b);
    CHECK(lrp_safetensors_open_memory(&b, "mem.safetensors", bytes, n - 1, &err) != 0);  // a byte short
    CHECK(strstr(err.msg, "mem.safetensors: ") == err.msg);
    CHECK(lrp_safetensors_open_memory(&b, "mem.safetensors", bytes, 8, &err) != 0);
    CHECK_STR(err.msg, "mem.safetensors: truncated (8 bytes, need at least 8 + header)");
    lrp_tf_close(&a);
    free(bytes);
}

TEST_MAIN(T(reads_hand_built_file), T(open_memory_reads_like_the_file), T(accepts_scalar_and_empty_tensors), T(writer_follows_the_format),
          T(roundtrip_f32), T(roundtrip_f16_qwen2_nonzero_biases), T(roundtrip_bf16_qwen3_sharded),
          T(generated_tensor_names_follow_hf_layout), T(generation_is_deterministic),
          T(half_conversions_match_ieee_definitions), T(sharded_checkpoint_opens_by_directory_and_by_index),
          T(metadata_alias_of_a_tied_head), T(alias_never_shadows_a_stored_tensor), T(real_tinystories_checkpoint),
          T(error_truncated_file), T(error_header_length_past_end_of_file), T(error_header_length_over_limit),
          T(error_header_not_a_json_object), T(error_offsets_past_end_of_data), T(error_offsets_overlap),
          T(error_offsets_leave_a_gap_or_trailing_bytes), T(accepts_contiguous_ranges_with_empty_tensors), T(error_size_does_not_match_shape),
          T(error_unsupported_dtype_names_the_tensor), T(error_bad_shape_or_offsets), T(error_duplicate_names),
          T(error_bad_index), T(error_missing_paths), T(random_corruptions_are_rejected_cleanly))

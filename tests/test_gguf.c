// GGUF reader: files made by the test writer read back (metadata of every type, tensors of every
// storage type, names, shapes, alignment, config), every kind of bad input with its exact error line,
// and the two real stories260K files in ../shared/models/stories260K/ checked against their README.
#include <inttypes.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/gguf.h"
#include "kernels/dequant.h"
#include "models/config.h"
#include "models/registry.h"
#include "harness.h"
#include "support/file_bytes.h"
#include "support/gguf_writer.h"

// ---------------------------------------------------------------------------------------------
// Temporary files.

static char tmp_dir[64];
static char tmp_paths[8][300];
static int n_tmp_paths;

static void remove_tmp(void) {
    for (int i = 0; i < n_tmp_paths; i++) unlink(tmp_paths[i]);
    if (tmp_dir[0]) rmdir(tmp_dir);
}

// A path inside a private temporary directory (removed at exit).
static const char *tmp_path(const char *name) {
    if (!tmp_dir[0]) {
        snprintf(tmp_dir, sizeof tmp_dir, "/tmp/lrp_gguf_XXXXXX");
        if (!mkdtemp(tmp_dir)) return name;
        atexit(remove_tmp);
    }
    for (int i = 0; i < n_tmp_paths; i++) {
        const char *slash = strrchr(tmp_paths[i], '/');
        if (strcmp(slash + 1, name) == 0) return tmp_paths[i];
    }
    if (n_tmp_paths == 8) return name;
    snprintf(tmp_paths[n_tmp_paths], sizeof tmp_paths[0], "%s/%s", tmp_dir, name);
    return tmp_paths[n_tmp_paths++];
}

// Opens a GGUF file and, when cfg is not NULL, reads the model configuration from its metadata the way
// lrp_model_open does (the family of general.architecture reads its keys).
static int gguf_open_cfg(lrp_tensor_file *tf, lrp_config *cfg, const char *path, lrp_err *err) {
    if (lrp_gguf_open(tf, path, err) != 0) return -1;
    if (cfg && lrp_gguf_config_read(tf, path, cfg, err) != 0) {
        lrp_tf_close(tf);
        return -1;
    }
    return 0;
}

// Writes w to bad.gguf (keeping `keep` bytes) and opens it; returns the error line, or "(opened)".
static const char *open_error_keep(gguf_writer *w, lrp_config *cfg, size_t keep) {
    static lrp_err err;
    const char *path = tmp_path("bad.gguf");
    if (gw_write_truncated(w, path, keep) != 0) return "(could not write the test file)";
    lrp_tensor_file tf;
    lrp_config c;
    strcpy(err.msg, "(no message)");
    if (gguf_open_cfg(&tf, cfg ? &c : NULL, path, &err) == 0) {
        lrp_tf_close(&tf);
        return "(opened)";
    }
    CHECK(tf.n_tensors == 0 && tf.tensors == NULL && tf.maps == NULL && tf.extra == NULL);
    return err.msg;
}

static const char *open_error(gguf_writer *w, lrp_config *cfg) {
    return open_error_keep(w, cfg, SIZE_MAX);
}

static const char *open_bytes_error(const void *p, size_t n) {
    static lrp_err err;
    const char *path = tmp_path("bad.gguf");
    if (gw_write_bytes(path, p, n) != 0) return "(could not write the test file)";
    lrp_tensor_file tf;
    strcpy(err.msg, "(no message)");
    if (lrp_gguf_open(&tf, path, &err) == 0) {
        lrp_tf_close(&tf);
        return "(opened)";
    }
    return err.msg;
}

static int open_ok(gguf_writer *w, lrp_tensor_file *tf, lrp_config *cfg) {
    lrp_err err = {{0}};
    const char *path = tmp_path("good.gguf");
    if (gw_write(w, path) != 0) return -1;
    if (gguf_open_cfg(tf, cfg, path, &err) != 0) {
        fprintf(stderr, "  open failed: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static uint32_t rng_state = 99;
static float rnd_float(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return (float)((double)(rng_state >> 8) / (double)(1u << 23) - 1.0);
}

// Minimal llama metadata for config tests: hidden 32, 2 layers, 4 heads of 8, 2 kv heads, ffn 48.
static void llama_meta(gguf_writer *w, const char *arch) {
    char k[128];
    gw_kv_str(w, "general.architecture", arch);
#define AK(s) (snprintf(k, sizeof k, "%s.%s", arch, s), k)
    gw_kv_u32(w, AK("embedding_length"), 32);
    gw_kv_u32(w, AK("block_count"), 2);
    gw_kv_u32(w, AK("attention.head_count"), 4);
    gw_kv_u32(w, AK("attention.head_count_kv"), 2);
    gw_kv_u32(w, AK("feed_forward_length"), 48);
    gw_kv_f32(w, AK("attention.layer_norm_rms_epsilon"), 1e-6f);
#undef AK
}

// ---------------------------------------------------------------------------------------------
// Metadata.

static void write_every_value_type(gguf_writer *w) {
    gw_kv_u8(w, "t.u8", 255);
    gw_kv_i8(w, "t.i8", -128);
    gw_kv_u16(w, "t.u16", 65535);
    gw_kv_i16(w, "t.i16", -32768);
    gw_kv_u32(w, "t.u32", 4294967295u);
    gw_kv_i32(w, "t.i32", INT32_MIN);
    gw_kv_f32(w, "t.f32", 1.5f);
    gw_kv_bool(w, "t.true", 1);
    gw_kv_bool(w, "t.false", 0);
    gw_kv_str(w, "t.str", "h\xc3\xa9llo \xe2\x96\x81world");
    gw_kv_str(w, "t.empty", "");
    gw_kv_u64(w, "t.u64", UINT64_MAX);
    gw_kv_i64(w, "t.i64", INT64_MIN);
    gw_kv_f64(w, "t.f64", 1e300);
    int32_t ints[] = {7, -3, 2147483647};
    gw_kv_arr(w, "t.arr_i32", GW_INT32, ints, 3);
    float floats[] = {0.25f, -1e30f};
    gw_kv_arr(w, "t.arr_f32", GW_FLOAT32, floats, 2);
    uint8_t bools[] = {1, 0, 1};
    gw_kv_arr(w, "t.arr_bool", GW_BOOL, bools, 3);
    uint64_t u64s[] = {UINT64_MAX, 5};
    gw_kv_arr(w, "t.arr_u64", GW_UINT64, u64s, 2);
    double f64s[] = {-2.5};
    gw_kv_arr(w, "t.arr_f64", GW_FLOAT64, f64s, 1);
    const char *strs[] = {"<s>", "", "\xe2\x96\x81the"};
    gw_kv_arr_str(w, "t.arr_str", strs, 3);
    gw_kv_arr(w, "t.arr_empty", GW_INT16, NULL, 0);
    // [[1, -2], [3]] as int16, and [["a"], []] as strings
    gw_key(w, "t.nested", GW_ARRAY);
    gw_put_arr_header(w, GW_ARRAY, 2);
    gw_put_arr_header(w, GW_INT16, 2);
    int16_t a[] = {1, -2}, b[] = {3};
    gw_put_bytes(w, a, 4);
    gw_put_arr_header(w, GW_INT16, 1);
    gw_put_bytes(w, b, 2);
    gw_key(w, "t.nested_str", GW_ARRAY);
    gw_put_arr_header(w, GW_ARRAY, 2);
    gw_put_arr_header(w, GW_STRING, 1);
    gw_put_str(w, "a");
    gw_put_arr_header(w, GW_STRING, 0);
}

static void check_every_value_type(const lrp_tensor_file *tf) {
    int64_t i;
    double f;
    int b;
    CHECK(lrp_gguf_get_int(tf, "t.u8", &i) == 0 && i == 255);
    CHECK(lrp_gguf_get(tf, "t.u8")->type == LRP_GGUF_UINT8);
    CHECK(lrp_gguf_get_int(tf, "t.i8", &i) == 0 && i == -128);
    CHECK(lrp_gguf_get_int(tf, "t.u16", &i) == 0 && i == 65535);
    CHECK(lrp_gguf_get_int(tf, "t.i16", &i) == 0 && i == -32768);
    CHECK(lrp_gguf_get_int(tf, "t.u32", &i) == 0 && i == 4294967295ll);
    CHECK(lrp_gguf_get_int(tf, "t.i32", &i) == 0 && i == INT32_MIN);
    CHECK(lrp_gguf_get_float(tf, "t.f32", &f) == 0 && f == 1.5);
    CHECK(lrp_gguf_get(tf, "t.f32")->type == LRP_GGUF_FLOAT32);
    CHECK(lrp_gguf_get_int(tf, "t.f32", &i) == -1);  // a float is not an integer
    CHECK(lrp_gguf_bool(lrp_gguf_get(tf, "t.true"), &b) == 0 && b == 1);
    CHECK(lrp_gguf_bool(lrp_gguf_get(tf, "t.false"), &b) == 0 && b == 0);
    CHECK(lrp_gguf_bool(lrp_gguf_get(tf, "t.u8"), &b) == -1);
    CHECK_STR(lrp_gguf_get_string(tf, "t.str"), "h\xc3\xa9llo \xe2\x96\x81world");
    CHECK(lrp_gguf_get(tf, "t.str")->as.str.len == 15);
    CHECK_STR(lrp_gguf_get_string(tf, "t.empty"), "");
    CHECK(lrp_gguf_get_string(tf, "t.u8") == NULL);
    CHECK(lrp_gguf_get(tf, "t.u64")->as.u == UINT64_MAX);
    CHECK(lrp_gguf_get_int(tf, "t.u64", &i) == -1);  // above INT64_MAX
    CHECK(lrp_gguf_get_float(tf, "t.u64", &f) == 0 && f == 18446744073709551615.0);
    CHECK(lrp_gguf_get_int(tf, "t.i64", &i) == 0 && i == INT64_MIN);
    CHECK(lrp_gguf_get_float(tf, "t.f64", &f) == 0 && f == 1e300);

    const lrp_gguf_value *v = lrp_gguf_get(tf, "t.arr_i32");
    CHECK(lrp_gguf_array_len(v) == 3 && lrp_gguf_array_type(v) == LRP_GGUF_INT32);
    CHECK(lrp_gguf_array_int(v, 0, &i) == 0 && i == 7);
    CHECK(lrp_gguf_array_int(v, 1, &i) == 0 && i == -3);
    CHECK(lrp_gguf_array_int(v, 2, &i) == 0 && i == 2147483647);
    CHECK(lrp_gguf_array_int(v, 3, &i) == -1);
    CHECK(lrp_gguf_array_float(v, 1, &f) == 0 && f == -3.0);
    CHECK(lrp_gguf_array_string(v, 0, NULL) == NULL);
    v = lrp_gguf_get(tf, "t.arr_f32");
    CHECK(lrp_gguf_array_float(v, 0, &f) == 0 && f == 0.25);
    CHECK(lrp_gguf_array_float(v, 1, &f) == 0 && f == (double)-1e30f);
    CHECK(lrp_gguf_array_int(v, 0, &i) == -1);
    v = lrp_gguf_get(tf, "t.arr_bool");
    CHECK(lrp_gguf_array_type(v) == LRP_GGUF_BOOL && lrp_gguf_array_len(v) == 3);
    CHECK(lrp_gguf_array_int(v, 0, &i) == 0 && i == 1);
    CHECK(lrp_gguf_array_int(v, 1, &i) == 0 && i == 0);
    v = lrp_gguf_get(tf, "t.arr_u64");
    CHECK(lrp_gguf_array_int(v, 0, &i) == -1 && lrp_gguf_array_int(v, 1, &i) == 0 && i == 5);
    v = lrp_gguf_get(tf, "t.arr_f64");
    CHECK(lrp_gguf_array_float(v, 0, &f) == 0 && f == -2.5);
    v = lrp_gguf_get(tf, "t.arr_str");
    size_t len = 99;
    CHECK(lrp_gguf_array_type(v) == LRP_GGUF_STRING && lrp_gguf_array_len(v) == 3);
    CHECK_STR(lrp_gguf_array_string(v, 0, &len), "<s>");
    CHECK(len == 3);
    CHECK_STR(lrp_gguf_array_string(v, 1, &len), "");
    CHECK(len == 0);
    CHECK_STR(lrp_gguf_array_string(v, 2, NULL), "\xe2\x96\x81the");
    CHECK(lrp_gguf_array_string(v, 3, NULL) == NULL);
    v = lrp_gguf_get(tf, "t.arr_empty");
    CHECK(v && v->type == LRP_GGUF_ARRAY && lrp_gguf_array_len(v) == 0 && lrp_gguf_array_type(v) == LRP_GGUF_INT16);
    v = lrp_gguf_get(tf, "t.nested");
    CHECK(lrp_gguf_array_type(v) == LRP_GGUF_ARRAY && lrp_gguf_array_len(v) == 2);
    const lrp_gguf_value *a0 = lrp_gguf_array_item(v, 0), *a1 = lrp_gguf_array_item(v, 1);
    CHECK(lrp_gguf_array_len(a0) == 2 && lrp_gguf_array_int(a0, 1, &i) == 0 && i == -2);
    CHECK(lrp_gguf_array_len(a1) == 1 && lrp_gguf_array_int(a1, 0, &i) == 0 && i == 3);
    CHECK(lrp_gguf_array_item(v, 2) == NULL);
    v = lrp_gguf_get(tf, "t.nested_str");
    CHECK_STR(lrp_gguf_array_string(lrp_gguf_array_item(v, 0), 0, NULL), "a");
    CHECK(lrp_gguf_array_len(lrp_gguf_array_item(v, 1)) == 0);
    CHECK(lrp_gguf_get(tf, "t.absent") == NULL);
    CHECK(lrp_gguf_get_int(tf, "t.absent", &i) == -1);
}

TEST(metadata_of_every_type_in_every_version) {
    for (uint32_t version = 1; version <= 3; version++) {
        gguf_writer *w = gw_new(version);
        write_every_value_type(w);
        lrp_tensor_file tf;
        if (open_ok(w, &tf, NULL) == 0) {
            CHECK(lrp_gguf_is_gguf(&tf));
            CHECK(lrp_gguf_version(&tf) == version);
            CHECK(lrp_gguf_n_kv(&tf) == 23);
            CHECK(tf.n_tensors == 0);
            check_every_value_type(&tf);
            lrp_tf_close(&tf);
        } else {
            CHECK(0);
        }
        gw_free(w);
    }
}

TEST(metadata_listed_in_file_order) {
    gguf_writer *w = gw_new(3);
    gw_kv_str(w, "zeta", "last?");
    gw_kv_u32(w, "alpha", 1);
    gw_kv_u32(w, "mid", 2);
    lrp_tensor_file tf;
    if (open_ok(w, &tf, NULL) == 0) {
        CHECK(lrp_gguf_n_kv(&tf) == 3);
        CHECK_STR(lrp_gguf_key_at(&tf, 0), "zeta");
        CHECK_STR(lrp_gguf_key_at(&tf, 1), "alpha");
        CHECK_STR(lrp_gguf_key_at(&tf, 2), "mid");
        CHECK(lrp_gguf_key_at(&tf, 3) == NULL);
        CHECK(lrp_gguf_value_at(&tf, 2)->as.u == 2);
        CHECK(lrp_gguf_get(&tf, "mid") == lrp_gguf_value_at(&tf, 2));
        lrp_tf_close(&tf);
    } else {
        CHECK(0);
    }
    gw_free(w);
}

TEST(accessors_on_a_non_gguf_file) {
    lrp_tensor_file tf = {0};
    CHECK(!lrp_gguf_is_gguf(&tf));
    CHECK(lrp_gguf_get(&tf, "general.architecture") == NULL);
    CHECK(lrp_gguf_n_kv(&tf) == 0);
    CHECK(lrp_gguf_string(NULL) == NULL);
    CHECK(lrp_gguf_array_len(NULL) == 0);
    CHECK(lrp_gguf_array_type(NULL) == -1);
}

// ---------------------------------------------------------------------------------------------
// Tensors.

TEST(tensors_of_every_type_read_back) {
    enum { COLS = 256, ROWS = 3 };
    float x[COLS * ROWS];
    for (int i = 0; i < COLS * ROWS; i++) x[i] = rnd_float();
    for (uint32_t version = 1; version <= 3; version++) {
        gguf_writer *w = gw_new(version);
        gw_kv_str(w, "general.architecture", "test");
        char name[32];
        for (int t = 0; t < LRP_N_WEIGHT_DTYPES; t++) {
            snprintf(name, sizeof name, "w.%s", lrp_dtype_name((lrp_dtype)t));
            uint64_t ne[2] = {COLS, ROWS};
            CHECK(gw_tensor_f32(w, name, (lrp_dtype)t, 2, ne, x) == t);
        }
        lrp_tensor_file tf;
        if (open_ok(w, &tf, NULL) != 0) {
            CHECK(0);
            gw_free(w);
            continue;
        }
        CHECK(tf.n_tensors == LRP_N_WEIGHT_DTYPES);
        unsigned char *expect = malloc(COLS * ROWS * 4);
        float *y = malloc(COLS * sizeof *y);
        for (int t = 0; t < LRP_N_WEIGHT_DTYPES; t++) {
            snprintf(name, sizeof name, "w.%s", lrp_dtype_name((lrp_dtype)t));
            const lrp_tensor *ten = lrp_tf_find(&tf, name);
            CHECK(ten != NULL);
            if (!ten) continue;
            CHECK(ten->dtype == (lrp_dtype)t);
            CHECK(ten->ndim == 2 && ten->shape[0] == ROWS && ten->shape[1] == COLS);
            size_t row = lrp_dtype_row_bytes((lrp_dtype)t, COLS);
            CHECK(ten->nbytes == row * ROWS);
            // The bytes are those written, at an aligned place in the file.
            for (int r = 0; r < ROWS; r++) gw_quantize((lrp_dtype)t, x + r * COLS, COLS, expect + r * row);
            CHECK(memcmp(ten->data, expect, ten->nbytes) == 0);
            size_t at = (size_t)((const unsigned char *)ten->data - (const unsigned char *)tf.maps[0].addr);
            CHECK(at % 32 == 0);
            // And they widen to values near the originals (row 2).
            lrp_dequant_row((lrp_dtype)t, (const unsigned char *)ten->data + 2 * row, y, COLS);
            double worst = 0;
            for (int k = 0; k < COLS; k++) worst = fmax(worst, fabs(y[k] - x[2 * COLS + k]));
            CHECK(worst < 0.15);
        }
        free(expect);
        free(y);
        lrp_tf_close(&tf);
        gw_free(w);
    }
}

TEST(shapes_are_reversed_into_pytorch_order) {
    gguf_writer *w = gw_new(3);
    float x[48];
    for (int i = 0; i < 48; i++) x[i] = (float)i;
    uint64_t ne1[1] = {48}, ne3[3] = {4, 3, 4}, ne4[4] = {2, 1, 3, 8};
    gw_tensor_f32(w, "one", LRP_F32, 1, ne1, x);
    gw_tensor_f32(w, "three", LRP_F32, 3, ne3, x);
    gw_tensor_f32(w, "four", LRP_F16, 4, ne4, x);
    lrp_tensor_file tf;
    if (open_ok(w, &tf, NULL) == 0) {
        const lrp_tensor *a = lrp_tf_find(&tf, "one"), *b = lrp_tf_find(&tf, "three"), *c = lrp_tf_find(&tf, "four");
        CHECK(a && a->ndim == 1 && a->shape[0] == 48);
        CHECK(b && b->ndim == 3 && b->shape[0] == 4 && b->shape[1] == 3 && b->shape[2] == 4);
        CHECK(c && c->ndim == 4 && c->shape[0] == 8 && c->shape[1] == 3 && c->shape[2] == 1 && c->shape[3] == 2);
        CHECK(c && c->nbytes == 96);
        // Row-major: element [i][j][k] of "three" (shape [4, 3, 4]) is at 12*i + 4*j + k.
        if (b) CHECK(((const float *)b->data)[12 * 2 + 4 * 1 + 3] == 31.0f);
        lrp_tf_close(&tf);
    } else {
        CHECK(0);
    }
    gw_free(w);
}

TEST(tensor_names_are_kept_as_stored) {
    // The family files know GGUF names; the reader renames nothing.
    static const char *names[] = {"token_embd.weight", "output_norm.weight", "output.weight", "blk.0.attn_q.weight",
                                  "blk.12.ffn_down.weight", "rope_freqs.weight", "blk.x.attn_q.weight", "token_embd",
                                  "token_embd.scale", "model.embed_tokens.weight"};
    enum { N = sizeof names / sizeof names[0] };
    // The same through a file, with the data following each tensor.
    gguf_writer *w = gw_new(3);
    float x[32];
    uint64_t ne[1] = {32};
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < 32; k++) x[k] = (float)(100 * i + k);
        gw_tensor_f32(w, names[i], LRP_F32, 1, ne, x);
    }
    lrp_tensor_file tf;
    if (open_ok(w, &tf, NULL) == 0) {
        CHECK(tf.n_tensors == N);
        for (int i = 0; i < N; i++) {
            const lrp_tensor *t = lrp_tf_find(&tf, names[i]);
            CHECK(t != NULL);
            if (t) CHECK(((const float *)t->data)[5] == (float)(100 * i + 5));
        }
        for (int i = 1; i < tf.n_tensors; i++) CHECK(strcmp(tf.tensors[i - 1].name, tf.tensors[i].name) < 0);
        lrp_tf_close(&tf);
    } else {
        CHECK(0);
    }
    gw_free(w);
}

TEST(alignment_is_honoured) {
    static const uint32_t aligns[] = {1, 8, 64, 4096};
    for (size_t a = 0; a < sizeof aligns / sizeof aligns[0]; a++) {
        gguf_writer *w = gw_new(3);
        gw_set_alignment(w, aligns[a], 1);
        float x[40];
        for (int i = 0; i < 40; i++) x[i] = (float)i - 3;
        uint64_t ne5[1] = {5}, ne32[1] = {32};
        gw_tensor_f32(w, "a", LRP_F32, 1, ne5, x);
        gw_tensor_f32(w, "b", LRP_Q8_0, 1, ne32, x);
        gw_tensor_f32(w, "c", LRP_F32, 1, ne5, x + 7);
        lrp_tensor_file tf;
        if (open_ok(w, &tf, NULL) == 0) {
            CHECK(lrp_gguf_alignment(&tf) == aligns[a]);
            for (int i = 0; i < tf.n_tensors; i++) {
                size_t at = (size_t)((const char *)tf.tensors[i].data - (const char *)tf.maps[0].addr);
                CHECK(at % aligns[a] == 0);
            }
            const lrp_tensor *c = lrp_tf_find(&tf, "c");
            float v = 0;
            if (c) memcpy(&v, (const char *)c->data + 16, 4);  // with alignment 1 the data may be misaligned
            CHECK(v == 8.0f);
            lrp_tf_close(&tf);
        } else {
            CHECK(0);
        }
        gw_free(w);
    }
}

// ---------------------------------------------------------------------------------------------
// Config from metadata.

TEST(llama_config_from_metadata) {
    gguf_writer *w = gw_new(3);
    llama_meta(w, "llama");
    gw_kv_u32(w, "llama.context_length", 4096);
    gw_kv_f32(w, "llama.rope.freq_base", 500000.0f);
    gw_kv_str(w, "llama.rope.scaling.type", "linear");
    gw_kv_f32(w, "llama.rope.scaling.factor", 4.0f);
    gw_kv_u32(w, "tokenizer.ggml.bos_token_id", 128000);
    gw_kv_u32(w, "tokenizer.ggml.eos_token_id", 128001);
    gw_kv_u32(w, "tokenizer.ggml.eot_token_id", 128009);
    const char *toks[] = {"a", "b", "c"};
    gw_kv_arr_str(w, "tokenizer.ggml.tokens", toks, 3);
    static float x[32 * 32];
    uint64_t emb[2] = {32, 10}, q[2] = {32, 32}, bias[1] = {32};
    gw_tensor_f32(w, "token_embd.weight", LRP_BF16, 2, emb, x);
    gw_tensor_f32(w, "blk.0.attn_q.weight", LRP_Q8_0, 2, q, x);
    lrp_tensor_file tf;
    lrp_config c;
    if (open_ok(w, &tf, &c) == 0) {
        CHECK_STR(c.model_type, "llama");
        CHECK_STR(c.hidden_act, "silu");
        CHECK_STR(c.torch_dtype, "bfloat16");
        CHECK(c.hidden_size == 32 && c.num_layers == 2 && c.num_heads == 4 && c.num_kv_heads == 2);
        CHECK(c.head_dim == 8 && c.intermediate_size == 48);
        CHECK(c.vocab_size == 10);  // the embedding's rows win over the token list
        CHECK(c.max_position_embeddings == 4096);
        CHECK_NEAR(c.norm_eps, 1e-6, 1e-12);
        CHECK(c.rope.theta == 500000.0);
        CHECK(c.rope.scaling == LRP_ROPE_SCALING_LINEAR && c.rope.factor == 4.0);
        CHECK(c.rope.pairing == LRP_ROPE_PAIR_ADJACENT);
        CHECK(c.tie_word_embeddings == 1);
        CHECK(c.attention_bias == 0 && c.mlp_bias == 0);
        CHECK(c.bos_token_id == 128000);
        CHECK(c.n_eos == 2 && c.eos_token_ids[0] == 128001 && c.eos_token_ids[1] == 128009);
        lrp_tf_close(&tf);
    } else {
        CHECK(0);
    }
    gw_free(w);

    // Defaults: no kv heads (= heads), key_length given explicitly, no freq_base (10000), vocab from
    // the token list, an output.weight (untied), bos "none".
    w = gw_new(3);
    gw_kv_str(w, "general.architecture", "llama");
    gw_kv_u32(w, "llama.embedding_length", 32);
    gw_kv_u32(w, "llama.block_count", 1);
    gw_kv_u32(w, "llama.attention.head_count", 2);
    gw_kv_u32(w, "llama.attention.key_length", 24);
    gw_kv_u32(w, "llama.feed_forward_length", 64);
    gw_kv_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    gw_kv_u32(w, "tokenizer.ggml.bos_token_id", 0xFFFFFFFFu);
    gw_kv_arr_str(w, "tokenizer.ggml.tokens", toks, 3);
    gw_tensor_f32(w, "output.weight", LRP_F32, 1, bias, x);
    gw_tensor_f32(w, "blk.0.attn_q.bias", LRP_F32, 1, bias, x);
    gw_tensor_f32(w, "blk.0.ffn_up.bias", LRP_F32, 1, bias, x);
    if (open_ok(w, &tf, &c) == 0) {
        CHECK(c.num_kv_heads == 2 && c.head_dim == 24);
        CHECK(c.rope.theta == 10000.0 && c.rope.scaling == LRP_ROPE_SCALING_NONE);
        CHECK(c.vocab_size == 3);
        CHECK(c.max_position_embeddings == 0);
        CHECK(c.tie_word_embeddings == 0);
        CHECK(c.attention_bias == 1 && c.mlp_bias == 1);
        CHECK(c.bos_token_id == -1 && c.n_eos == 0);
        lrp_tf_close(&tf);
    } else {
        CHECK(0);
    }
    gw_free(w);
}

TEST(qwen_config_uses_half_split_rope) {
    static const char *archs[] = {"qwen2", "qwen3"};
    for (int i = 0; i < 2; i++) {
        gguf_writer *w = gw_new(3);
        llama_meta(w, archs[i]);
        const char *toks[] = {"a", "b"};
        gw_kv_arr_str(w, "tokenizer.ggml.tokens", toks, 2);
        lrp_tensor_file tf;
        lrp_config c;
        if (open_ok(w, &tf, &c) == 0) {
            CHECK_STR(c.model_type, archs[i]);
            CHECK(c.rope.pairing == LRP_ROPE_PAIR_HALVES);
            CHECK(c.num_kv_heads == 2 && c.vocab_size == 2);
            lrp_tf_close(&tf);
        } else {
            CHECK(0);
        }
        gw_free(w);
    }
}

// ---------------------------------------------------------------------------------------------
// Bad input: one exact line each.

TEST(not_a_gguf_file) {
    static const unsigned char ggml[24] = "GGML\x03";
    CHECK_STR(open_bytes_error(ggml, sizeof ggml), "bad.gguf: not a GGUF file (no \"GGUF\" magic at the start)");
    CHECK_STR(open_bytes_error("GGU", 3), "bad.gguf: not a GGUF file (3 bytes, too short for a header)");
    CHECK_STR(open_bytes_error("", 0), "bad.gguf: not a GGUF file (0 bytes, too short for a header)");
}

TEST(unsupported_versions) {
    unsigned char h[24] = "GGUF";
    h[4] = 4;
    CHECK_STR(open_bytes_error(h, sizeof h), "bad.gguf: unsupported GGUF version 4 (1 to 3 are supported)");
    h[4] = 0;
    CHECK_STR(open_bytes_error(h, sizeof h), "bad.gguf: unsupported GGUF version 0 (1 to 3 are supported)");
    h[7] = 3;  // version 3 written big-endian
    CHECK_STR(open_bytes_error(h, sizeof h), "bad.gguf: big-endian GGUF files are not supported");
}

TEST(missing_and_unreadable_paths) {
    lrp_tensor_file tf;
    lrp_err err = {{0}};
    char path[400];
    snprintf(path, sizeof path, "%s/does-not-exist.gguf", tmp_dir[0] ? tmp_dir : "/nonexistent");
    CHECK(lrp_gguf_open(&tf, path, &err) == -1);
    char want[500];
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    CHECK_STR(err.msg, want);
    CHECK(lrp_gguf_open(&tf, "/tmp", &err) == -1);
    CHECK_STR(err.msg, "/tmp: not a regular file");
}

TEST(truncated_header_and_metadata) {
    unsigned char h[12] = "GGUF\x03";
    CHECK_STR(open_bytes_error(h, sizeof h),
              "bad.gguf: truncated: the tensor count needs 8 bytes at offset 8 but the file has 12");
    // A u32 value cut after two bytes: header 24, key "k" 8+1, type 4 -> value at 37.
    gguf_writer *w = gw_new(3);
    gw_kv_u32(w, "k", 7);
    CHECK_STR(open_error_keep(w, NULL, 39),
              "bad.gguf: truncated: metadata \"k\" needs 4 bytes at offset 37 but the file has 39");
    gw_free(w);
    // Version 1: counts are 4 bytes, so the same value starts at 16 + 4+1 + 4 = 25.
    w = gw_new(1);
    gw_kv_u32(w, "k", 7);
    CHECK_STR(open_error_keep(w, NULL, 26),
              "bad.gguf: truncated: metadata \"k\" needs 4 bytes at offset 25 but the file has 26");
    gw_free(w);
}

TEST(string_lengths_beyond_the_file) {
    // A key whose length runs past the end: header (24) + length 1000 + 20 bytes.
    gguf_writer *w = gw_new(3);
    gw_put_count(w, 1000);
    gw_put_bytes(w, "abcdefghijklmnopqrst", 20);
    gw_lie_counts(w, UINT64_MAX, 1);
    CHECK_STR(open_error(w, NULL),
              "bad.gguf: metadata entry #0: string length 1000 at offset 24 runs past the end of the file (52 bytes)");
    gw_free(w);
    // A string value: key "k" (24 + 9), type (4), length at 37.
    w = gw_new(3);
    gw_key(w, "k", GW_STRING);
    gw_put_count(w, 1ull << 40);
    gw_put_bytes(w, "abcdefgh", 8);
    CHECK_STR(open_error(w, NULL), "bad.gguf: metadata \"k\": string length 1099511627776 at offset 37 runs past "
                                   "the end of the file (53 bytes)");
    gw_free(w);
    // A length near 2^64 must not wrap around.
    w = gw_new(3);
    gw_key(w, "k", GW_STRING);
    gw_put_count(w, UINT64_MAX - 3);
    CHECK_STR(open_error(w, NULL), "bad.gguf: metadata \"k\": string length 18446744073709551612 at offset 37 runs "
                                   "past the end of the file (45 bytes)");
    gw_free(w);
    // A tensor name: header 24, then the name length.
    w = gw_new(3);
    gw_put_count(w, 77);  // the "metadata" bytes stand where the first tensor info belongs
    gw_lie_counts(w, 1, 0);
    gw_put_bytes(w, "abcdefghijklmnopqrstuvwxyz0123456789", 36);
    CHECK_STR(open_error(w, NULL),
              "bad.gguf: tensor info #0: string length 77 at offset 24 runs past the end of the file (68 bytes)");
    gw_free(w);
}

TEST(arrays_longer_than_the_file) {
    gguf_writer *w = gw_new(3);
    gw_key(w, "a", GW_ARRAY);
    gw_put_arr_header(w, GW_UINT32, 1ull << 40);
    gw_put_u64(w, 0);
    CHECK_STR(open_error(w, NULL), "bad.gguf: metadata \"a\": array of 1099511627776 uint32 elements at offset 49 "
                                   "runs past the end of the file (57 bytes)");
    gw_free(w);
    // Strings: each needs at least its 8-byte length, so 3 cannot fit in 16 bytes.
    w = gw_new(3);
    gw_key(w, "a", GW_ARRAY);
    gw_put_arr_header(w, GW_STRING, 3);
    gw_put_str(w, "");
    gw_put_str(w, "");
    CHECK_STR(open_error(w, NULL), "bad.gguf: metadata \"a\": array of 3 string elements at offset 49 runs past the "
                                   "end of the file (65 bytes)");
    gw_free(w);
    // Two strings announced, one present plus some bytes: the second length is read and fails.
    w = gw_new(3);
    gw_key(w, "a", GW_ARRAY);
    gw_put_arr_header(w, GW_STRING, 2);
    gw_put_str(w, "x");
    gw_put_count(w, 100);
    gw_put_bytes(w, "abc", 3);
    CHECK_STR(open_error(w, NULL), "bad.gguf: metadata \"a\": string length 100 at offset 58 runs past the end of the "
                                   "file (69 bytes)");
    gw_free(w);
}

TEST(unknown_value_types) {
    gguf_writer *w = gw_new(3);
    gw_key(w, "k", 13);
    gw_put_u32(w, 0);
    CHECK_STR(open_error(w, NULL), "bad.gguf: metadata \"k\": unknown value type 13");
    gw_free(w);
    w = gw_new(3);
    gw_key(w, "k", GW_ARRAY);
    gw_put_arr_header(w, 42, 1);
    gw_put_u32(w, 0);
    CHECK_STR(open_error(w, NULL), "bad.gguf: metadata \"k\": array of unknown value type 42");
    gw_free(w);
}

static void nested(gguf_writer *w, int depth) {
    gw_key(w, "deep", GW_ARRAY);
    for (int i = 1; i < depth; i++) gw_put_arr_header(w, GW_ARRAY, 1);
    gw_put_arr_header(w, GW_UINT8, 1);
    gw_put_u8(w, 9);
}

TEST(arrays_nest_at_most_8_deep) {
    gguf_writer *w = gw_new(3);
    nested(w, 8);
    lrp_tensor_file tf;
    if (open_ok(w, &tf, NULL) == 0) {
        const lrp_gguf_value *v = lrp_gguf_get(&tf, "deep");
        for (int i = 1; i < 8; i++) v = lrp_gguf_array_item(v, 0);
        int64_t x = 0;
        CHECK(lrp_gguf_array_int(v, 0, &x) == 0 && x == 9);
        lrp_tf_close(&tf);
    } else {
        CHECK(0);
    }
    gw_free(w);
    w = gw_new(3);
    nested(w, 9);
    CHECK_STR(open_error(w, NULL), "bad.gguf: metadata \"deep\": arrays nested more than 8 deep");
    gw_free(w);
}

TEST(duplicate_and_empty_keys) {
    gguf_writer *w = gw_new(3);
    gw_kv_str(w, "general.name", "a");
    gw_kv_u32(w, "other", 1);
    gw_kv_str(w, "general.name", "b");
    CHECK_STR(open_error(w, NULL), "bad.gguf: duplicate metadata key \"general.name\"");
    gw_free(w);
    w = gw_new(3);
    gw_kv_u32(w, "", 1);
    CHECK_STR(open_error(w, NULL), "bad.gguf: metadata entry #0 has an empty key");
    gw_free(w);
}

TEST(absurd_counts) {
    gguf_writer *w = gw_new(3);
    gw_kv_u32(w, "k", 1);
    gw_lie_counts(w, UINT64_MAX, 1ull << 60);
    CHECK_STR(open_error(w, NULL), "bad.gguf: metadata count 1152921504606846976 is more than the file can hold");
    gw_lie_counts(w, 1ull << 60, UINT64_MAX);
    CHECK_STR(open_error(w, NULL), "bad.gguf: tensor count 1152921504606846976 is more than the file can hold");
    gw_lie_counts(w, 3000000000ull, UINT64_MAX);
    CHECK_STR(open_error(w, NULL), "bad.gguf: tensor count 3000000000 is more than the file can hold");
    gw_free(w);
}

TEST(bad_alignment) {
    static const struct {
        uint32_t a;
        const char *msg;
    } cases[] = {
        {48, "bad.gguf: general.alignment = 48 is not a power of two between 1 and 1073741824"},
        {0, "bad.gguf: general.alignment = 0 is not a power of two between 1 and 1073741824"},
        {0x80000000u, "bad.gguf: general.alignment = 2147483648 is not a power of two between 1 and 1073741824"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gguf_writer *w = gw_new(3);
        gw_kv_u32(w, "general.alignment", cases[i].a);
        CHECK_STR(open_error(w, NULL), cases[i].msg);
        gw_free(w);
    }
    gguf_writer *w = gw_new(3);
    gw_kv_str(w, "general.alignment", "32");
    CHECK_STR(open_error(w, NULL), "bad.gguf: general.alignment must be an integer, not string");
    gw_free(w);
}

TEST(bad_tensor_dimensions) {
    float x[64] = {0};
    gguf_writer *w = gw_new(3);
    uint64_t ne5[5] = {2, 2, 2, 2, 2};
    gw_tensor(w, "t", 0, 4, ne5, x, 64);
    // n_dims 5: patch the written count (the first u32 after the name).
    size_t len;
    unsigned char *img = gw_image(w, &len);
    unsigned char *at = img ? memmem(img, len, "\x01\x00\x00\x00\x00\x00\x00\x00t\x04\x00\x00\x00", 13) : NULL;
    CHECK(at != NULL);
    if (at) {
        at[9] = 5;
        CHECK_STR(open_bytes_error(img, len), "bad.gguf: tensor \"t\" has 5 dimensions (1 to 4 are supported)");
        at[9] = 0;
        CHECK_STR(open_bytes_error(img, len), "bad.gguf: tensor \"t\" has 0 dimensions (1 to 4 are supported)");
    }
    free(img);
    gw_free(w);

    static const struct {
        uint32_t n;
        uint64_t ne[4];
        const char *msg;
    } cases[] = {
        {2, {1ull << 40, 1ull << 40}, "bad.gguf: tensor \"t\": absurd dimensions [1099511627776, 1099511627776]"},
        {1, {1ull << 62}, "bad.gguf: tensor \"t\": absurd dimensions [4611686018427387904]"},
        {2, {0, 4}, "bad.gguf: tensor \"t\": absurd dimensions [0, 4]"},
        {3, {4, 1ull << 63, 1}, "bad.gguf: tensor \"t\": absurd dimensions [4, 9223372036854775808, 1]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        w = gw_new(3);
        gw_tensor(w, "t", 0, cases[i].n, cases[i].ne, x, 64);
        CHECK_STR(open_error(w, NULL), cases[i].msg);
        gw_free(w);
    }
}

TEST(unknown_and_unsupported_tensor_types) {
    unsigned char data[64] = {0};
    uint64_t ne[1] = {32};
    gguf_writer *w = gw_new(3);
    gw_tensor(w, "t", 99, 1, ne, data, 64);
    CHECK_STR(open_error(w, NULL), "bad.gguf: tensor \"t\": unknown ggml type 99");
    gw_free(w);
    w = gw_new(3);
    gw_tensor(w, "t", 10, 1, ne, data, 64);
    CHECK_STR(open_error(w, NULL), "bad.gguf: tensor \"t\": ggml type Q2_K (10) is not supported (supported: F32, "
                                   "F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K, Q8_K)");
    gw_free(w);
    w = gw_new(3);
    uint64_t ne48[2] = {48, 2};
    gw_tensor(w, "t", 8, 2, ne48, data, 64);
    CHECK_STR(open_error(w, NULL), "bad.gguf: tensor \"t\": row length 48 is not a multiple of the Q8_0 block size 32");
    gw_free(w);
}

TEST(offsets_not_aligned) {
    float x[8] = {0};
    uint64_t ne[1] = {8};
    gguf_writer *w = gw_new(3);
    gw_tensor_f32(w, "a", LRP_F32, 1, ne, x);
    int b = gw_tensor_f32(w, "b", LRP_F32, 1, ne, x);
    gw_lie_offset(w, b, 4);
    CHECK_STR(open_error(w, NULL), "bad.gguf: tensor \"b\": offset 4 is not a multiple of the alignment 32");
    gw_free(w);
}

TEST(tensor_data_past_the_end) {
    float x[8] = {0};
    uint64_t ne[1] = {8};
    // Header 24 + info (8+1 name, 4 n_dims, 8 dim, 4 type, 8 offset) = 57, data at 64, 32 bytes: 96.
    gguf_writer *w = gw_new(3);
    gw_tensor_f32(w, "t", LRP_F32, 1, ne, x);
    CHECK_STR(open_error_keep(w, NULL, 95), "bad.gguf: tensor \"t\": data at offset 0 of 32 bytes (F32 [8]) runs past "
                                            "the end of the file (the data section has 31 bytes)");
    CHECK_STR(open_error_keep(w, NULL, 57),
              "bad.gguf: truncated: the data section would start at offset 64 but the file has 57 bytes");
    CHECK_STR(open_error_keep(w, NULL, 96), "(opened)");
    gw_lie_offset(w, 0, 1ull << 40);
    CHECK_STR(open_error(w, NULL), "bad.gguf: tensor \"t\": data at offset 1099511627776 of 32 bytes (F32 [8]) runs "
                                   "past the end of the file (the data section has 32 bytes)");
    gw_lie_offset(w, 0, UINT64_MAX - 31);  // offset + size wraps around 2^64
    CHECK_STR(open_error(w, NULL), "bad.gguf: tensor \"t\": data at offset 18446744073709551584 of 32 bytes (F32 [8]) "
                                   "runs past the end of the file (the data section has 32 bytes)");
    gw_free(w);
}

TEST(duplicate_tensor_names) {
    float x[8] = {0};
    uint64_t ne[1] = {8};
    gguf_writer *w = gw_new(3);
    gw_tensor_f32(w, "blk.0.attn_q.weight", LRP_F32, 1, ne, x);
    gw_tensor_f32(w, "other", LRP_F32, 1, ne, x);
    gw_tensor_f32(w, "blk.0.attn_q.weight", LRP_F32, 1, ne, x);
    CHECK_STR(open_error(w, NULL), "bad.gguf: duplicate tensor name \"blk.0.attn_q.weight\"");
    gw_free(w);
}

TEST(bad_tensor_names) {
    float x[8] = {0};
    uint64_t ne[1] = {8};
    char name[80];
    memset(name, 'n', 65);
    name[65] = 0;
    gguf_writer *w = gw_new(3);
    gw_tensor_f32(w, name, LRP_F32, 1, ne, x);
    char want[200];
    snprintf(want, sizeof want, "bad.gguf: tensor info #0: name \"%s\" is 65 bytes long (at most 64)", name);
    CHECK_STR(open_error(w, NULL), want);
    gw_free(w);
    w = gw_new(3);
    name[64] = 0;  // 64 bytes is allowed
    gw_tensor_f32(w, name, LRP_F32, 1, ne, x);
    CHECK_STR(open_error(w, NULL), "(opened)");
    gw_free(w);
    w = gw_new(3);
    gw_tensor_f32(w, "", LRP_F32, 1, ne, x);
    CHECK_STR(open_error(w, NULL), "bad.gguf: tensor info #0 has an empty name");
    gw_free(w);
    // Bytes that are not printable are shown as '?' so that the message stays one line.
    w = gw_new(3);
    gw_tensor(w, "a\nb", 77, 1, ne, x, 32);
    CHECK_STR(open_error(w, NULL), "bad.gguf: tensor \"a?b\": unknown ggml type 77");
    gw_free(w);
}

TEST(config_errors) {
    lrp_config c;
    gguf_writer *w = gw_new(3);
    llama_meta(w, "falcon");
    char supported[512], want[700];  // the list comes from the registry
    lrp_families_supported(supported, sizeof supported, 1);
    CHECK(strncmp(supported, "llama, mistral, qwen2, qwen3, gpt2", 34) == 0);
    snprintf(want, sizeof want, "bad.gguf: GGUF architecture \"falcon\" is not supported (supported: %s)", supported);
    CHECK_STR(open_error(w, &c), want);
    CHECK_STR(open_error(w, NULL), "(opened)");  // reading the file alone is fine
    gw_free(w);

    w = gw_new(3);
    gw_kv_u32(w, "llama.block_count", 2);
    CHECK_STR(open_error(w, &c), "bad.gguf: metadata \"general.architecture\" missing");
    gw_free(w);

    w = gw_new(3);
    gw_kv_str(w, "general.architecture", "llama");
    gw_kv_u32(w, "llama.embedding_length", 32);
    CHECK_STR(open_error(w, &c), "bad.gguf: metadata \"llama.block_count\" missing");
    gw_free(w);

    w = gw_new(3);
    gw_kv_str(w, "general.architecture", "llama");
    gw_kv_u32(w, "llama.embedding_length", 32);
    gw_kv_u32(w, "llama.block_count", 2);
    gw_kv_str(w, "llama.attention.head_count", "4");
    CHECK_STR(open_error(w, &c), "bad.gguf: metadata \"llama.attention.head_count\" must be an integer, not string");
    gw_free(w);

    w = gw_new(3);
    gw_kv_str(w, "general.architecture", "llama");
    gw_kv_i32(w, "llama.embedding_length", -32);
    CHECK_STR(open_error(w, &c), "bad.gguf: metadata \"llama.embedding_length\" = -32 is out of range [1, 1073741824]");
    gw_free(w);

    w = gw_new(3);
    llama_meta(w, "llama");
    CHECK_STR(open_error(w, &c), "bad.gguf: cannot tell the vocabulary size (no 2-D token_embd.weight and no "
                                 "tokenizer.ggml.tokens)");
    gw_kv_u32(w, "llama.attention.head_count_kv", 3);
    CHECK_STR(open_error(w, &c), "bad.gguf: duplicate metadata key \"llama.attention.head_count_kv\"");
    gw_free(w);

    w = gw_new(3);
    llama_meta(w, "qwen2");
    gw_kv_str(w, "qwen2.rope.scaling.type", "yarn");
    CHECK_STR(open_error(w, &c),
              "bad.gguf: rope scaling type \"yarn\" (metadata \"qwen2.rope.scaling.type\") is not supported");
    gw_free(w);

    w = gw_new(3);
    llama_meta(w, "llama");
    gw_kv_str(w, "llama.rope.scaling.type", "linear");
    CHECK_STR(open_error(w, &c), "bad.gguf: metadata \"llama.rope.scaling.factor\" missing");
    gw_free(w);

    w = gw_new(3);
    gw_kv_str(w, "general.architecture", "llama");
    gw_kv_u32(w, "llama.embedding_length", 32);
    gw_kv_u32(w, "llama.block_count", 2);
    gw_kv_u32(w, "llama.attention.head_count", 4);
    gw_kv_u32(w, "llama.feed_forward_length", 48);
    CHECK_STR(open_error(w, &c), "bad.gguf: metadata \"llama.attention.layer_norm_rms_epsilon\" missing");
    gw_kv_f32(w, "llama.attention.layer_norm_rms_epsilon", 0.0f);
    CHECK_STR(open_error(w, &c), "bad.gguf: metadata \"llama.attention.layer_norm_rms_epsilon\" = 0 must be positive");
    gw_free(w);
}

// Every prefix of a valid file fails cleanly, and random corruptions never crash (run under SAN=1
// this also proves that nothing outside the mapping is read); whatever opens has its tensor bytes
// inside the mapping.
TEST(hostile_truncations_and_corruptions) {
    gguf_writer *w = gw_new(3);
    llama_meta(w, "llama");
    write_every_value_type(w);
    float x[512];
    for (int i = 0; i < 512; i++) x[i] = rnd_float();
    uint64_t ne[2] = {256, 2}, ne1[1] = {32};
    gw_tensor_f32(w, "token_embd.weight", LRP_Q4_K, 2, ne, x);
    gw_tensor_f32(w, "output_norm.weight", LRP_F16, 1, ne1, x);
    size_t len;
    unsigned char *img = gw_image(w, &len);
    gw_free(w);
    if (!img) {
        CHECK(0);
        return;
    }
    const char *path = tmp_path("fuzz.gguf");
    int opened = 0;
    for (size_t keep = 0; keep < len; keep++) {
        gw_write_bytes(path, img, keep);
        lrp_tensor_file tf;
        lrp_err err;
        if (lrp_gguf_open(&tf, path, &err) == 0) {
            opened++;
            lrp_tf_close(&tf);
        }
    }
    CHECK(opened == 0);

    unsigned char *mut = malloc(len);
    uint32_t s = 777;
    int n_open = 0;
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(mut, img, len);
        int flips = 1 + iter % 4;
        for (int f = 0; f < flips; f++) {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            // Mostly in the header, metadata and tensor infos, where the lengths are.
            size_t pos = iter % 3 ? s % (len < 1400 ? len : 1400) : s % len;
            mut[pos] = (unsigned char)(iter % 5 == 0 ? 0xFF : (s >> 24));
        }
        gw_write_bytes(path, mut, len);
        lrp_tensor_file tf;
        lrp_config c;
        lrp_err err;
        if (gguf_open_cfg(&tf, iter % 2 ? &c : NULL, path, &err) == 0) {
            n_open++;
            unsigned sum = 0;
            for (int i = 0; i < tf.n_tensors; i++) {
                const unsigned char *p = tf.tensors[i].data;
                const unsigned char *base = tf.maps[0].addr;
                CHECK(p >= base && p + tf.tensors[i].nbytes <= base + tf.maps[0].len);
                for (size_t k = 0; k < tf.tensors[i].nbytes; k++) sum += p[k];
            }
            (void)sum;
            lrp_tf_close(&tf);
        } else {
            CHECK(strchr(err.msg, '\n') == NULL && strncmp(err.msg, "fuzz.gguf: ", 11) == 0);
        }
    }
    CHECK(n_open > 0);  // some corruptions only change values
    free(mut);
    free(img);
}

// ---------------------------------------------------------------------------------------------
// The real stories260K files (README.md beside them lists what they hold).

#define STORIES_DIR "../shared/models/stories260K/"

static int open_stories(const char *file, lrp_tensor_file *tf, lrp_config *cfg) {
    lrp_err err = {{0}};
    char path[256];
    snprintf(path, sizeof path, "%s%s", STORIES_DIR, file);
    if (gguf_open_cfg(tf, cfg, path, &err) != 0) {
        fprintf(stderr, "  %s\n", err.msg);
        return -1;
    }
    return 0;
}

static void check_stories_shapes(const lrp_tensor_file *tf) {
    CHECK(tf->n_tensors == 48);
    for (int i = 0; i < tf->n_tensors; i++) CHECK(tf->tensors[i].dtype == LRP_F32);
    static const struct {
        const char *name;
        int ndim;
        int64_t s0, s1;
    } want[] = {
        {"token_embd.weight", 2, 512, 64},
        {"output_norm.weight", 1, 64, 0},
        {"output.weight", 2, 512, 64},
        {"attn_norm.weight", 1, 64, 0},
        {"ffn_norm.weight", 1, 64, 0},
        {"attn_q.weight", 2, 64, 64},
        {"attn_k.weight", 2, 32, 64},
        {"attn_v.weight", 2, 32, 64},
        {"attn_output.weight", 2, 64, 64},
        {"ffn_gate.weight", 2, 172, 64},
        {"ffn_up.weight", 2, 172, 64},
        {"ffn_down.weight", 2, 64, 172},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        for (int layer = 0; layer < (i < 3 ? 1 : 5); layer++) {
            char name[128];
            if (i < 3) snprintf(name, sizeof name, "%s", want[i].name);
            else snprintf(name, sizeof name, "blk.%d.%s", layer, want[i].name);
            const lrp_tensor *t = lrp_tf_find(tf, name);
            CHECK(t != NULL);
            if (!t) {
                fprintf(stderr, "  missing %s\n", name);
                continue;
            }
            CHECK(t->ndim == want[i].ndim && t->shape[0] == want[i].s0);
            if (want[i].ndim == 2) CHECK(t->shape[1] == want[i].s1);
            CHECK(t->nbytes == (size_t)(want[i].s0 * (want[i].ndim == 2 ? want[i].s1 : 1) * 4));
        }
    }
}

static void check_stories_config(const lrp_config *c) {
    CHECK_STR(c->model_type, "llama");
    CHECK(c->hidden_size == 64);
    CHECK(c->num_layers == 5);
    CHECK(c->num_heads == 8);
    CHECK(c->num_kv_heads == 4);
    CHECK(c->head_dim == 8);
    CHECK(c->intermediate_size == 172);
    CHECK(c->vocab_size == 512);
    CHECK(c->norm_eps == (double)1e-5f);
    CHECK(c->rope.theta == 10000.0);
    CHECK(c->rope.scaling == LRP_ROPE_SCALING_NONE);
    CHECK(c->rope.pairing == LRP_ROPE_PAIR_ADJACENT);
    CHECK(c->tie_word_embeddings == 0);  // output.weight is stored (as a copy of the embedding)
    CHECK(c->bos_token_id == 1);
    CHECK(c->n_eos == 1 && c->eos_token_ids[0] == 2);
}

TEST(stories260k_v3_file) {
    lrp_tensor_file tf;
    lrp_config c;
    if (open_stories("stories260K.gguf", &tf, &c) != 0) {
        CHECK(0);
        return;
    }
    CHECK(lrp_gguf_version(&tf) == 3);
    CHECK(lrp_gguf_n_kv(&tf) == 19);
    CHECK(lrp_gguf_alignment(&tf) == 32);
    CHECK_STR(lrp_gguf_get_string(&tf, "general.architecture"), "llama");
    check_stories_config(&c);
    CHECK(c.max_position_embeddings == 2048);
    check_stories_shapes(&tf);
    // token_embd is stored first, at the start of the data section (byte 14176).
    const lrp_tensor *emb = lrp_tf_find(&tf, "token_embd.weight");
    CHECK(emb && (const char *)emb->data - (const char *)tf.maps[0].addr == 14176);
    CHECK(tf.maps[0].len == 1185376);

    // The vocabulary: <unk>, <s>, </s>, 256 byte tokens, then normal pieces scored -(id - 259).
    CHECK_STR(lrp_gguf_get_string(&tf, "tokenizer.ggml.model"), "llama");
    const lrp_gguf_value *tokens = lrp_gguf_get(&tf, "tokenizer.ggml.tokens");
    const lrp_gguf_value *scores = lrp_gguf_get(&tf, "tokenizer.ggml.scores");
    const lrp_gguf_value *types = lrp_gguf_get(&tf, "tokenizer.ggml.token_type");
    CHECK(lrp_gguf_array_len(tokens) == 512 && lrp_gguf_array_len(scores) == 512 && lrp_gguf_array_len(types) == 512);
    CHECK_STR(lrp_gguf_array_string(tokens, 0, NULL), "<unk>");
    CHECK_STR(lrp_gguf_array_string(tokens, 1, NULL), "<s>");
    CHECK_STR(lrp_gguf_array_string(tokens, 2, NULL), "</s>");
    CHECK_STR(lrp_gguf_array_string(tokens, 3, NULL), "<0x00>");
    CHECK_STR(lrp_gguf_array_string(tokens, 13, NULL), "<0x0A>");
    CHECK_STR(lrp_gguf_array_string(tokens, 258, NULL), "<0xFF>");
    int64_t ty;
    CHECK(lrp_gguf_array_int(types, 0, &ty) == 0 && ty == 2);
    CHECK(lrp_gguf_array_int(types, 1, &ty) == 0 && ty == 3);
    CHECK(lrp_gguf_array_int(types, 3, &ty) == 0 && ty == 6);
    CHECK(lrp_gguf_array_int(types, 300, &ty) == 0 && ty == 1);
    for (int id = 259; id < 512; id += 31) {
        double s;
        CHECK(lrp_gguf_array_float(scores, (uint64_t)id, &s) == 0 && s == -(double)(id - 259));
    }
    // "Once upon a time" is <s> ▁Once ▁upon ▁a ▁time = 1 403 407 261 378.
    CHECK_STR(lrp_gguf_array_string(tokens, 403, NULL), "\xe2\x96\x81Once");
    CHECK_STR(lrp_gguf_array_string(tokens, 378, NULL), "\xe2\x96\x81time");

    // output.weight is a bit-identical copy of token_embd.weight.
    const lrp_tensor *head = lrp_tf_find(&tf, "output.weight");
    CHECK(emb && head && emb->nbytes == head->nbytes && memcmp(emb->data, head->data, emb->nbytes) == 0);
    // Weights are ordinary small floats (not garbage from a wrong offset).
    double ss = 0;
    const float *e = emb ? emb->data : NULL;
    for (int i = 0; e && i < 512 * 64; i++) ss += (double)e[i] * e[i];
    CHECK(isfinite(ss) && ss > 1 && ss < 512 * 64 * 4.0);
    lrp_tf_close(&tf);
}

TEST(stories260k_v1_file_holds_the_same_weights) {
    lrp_tensor_file v1, v3;
    lrp_config c;
    if (open_stories("tinyllamas-stories-260k-f32.gguf", &v1, &c) != 0) {
        CHECK(0);
        return;
    }
    CHECK(lrp_gguf_version(&v1) == 1);
    CHECK_STR(lrp_gguf_get_string(&v1, "general.name"), "tinyllamas-stories-260k");
    CHECK_STR(lrp_gguf_get_string(&v1, "llama.tensor_data_layout"), "Meta AI original pth");
    check_stories_config(&c);
    CHECK(c.max_position_embeddings == 512);
    check_stories_shapes(&v1);
    if (open_stories("stories260K.gguf", &v3, NULL) == 0) {
        // Two independent conversions: every tensor bit-identical, though stored in another order.
        CHECK(v1.n_tensors == v3.n_tensors);
        for (int i = 0; i < v1.n_tensors && i < v3.n_tensors; i++) {
            const lrp_tensor *a = &v1.tensors[i], *b = lrp_tf_find(&v3, a->name);
            CHECK(b && a->nbytes == b->nbytes && memcmp(a->data, b->data, a->nbytes) == 0);
        }
        const char *keys[] = {"tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type"};
        for (int k = 0; k < 3; k++) {
            const lrp_gguf_value *a = lrp_gguf_get(&v1, keys[k]), *b = lrp_gguf_get(&v3, keys[k]);
            CHECK(lrp_gguf_array_len(a) == 512 && lrp_gguf_array_len(b) == 512);
            for (uint64_t i = 0; i < 512; i++) {
                if (k == 0) {
                    CHECK_STR(lrp_gguf_array_string(a, i, NULL), lrp_gguf_array_string(b, i, NULL));
                } else {
                    double x, y;
                    CHECK(lrp_gguf_array_float(a, i, &x) == 0 && lrp_gguf_array_float(b, i, &y) == 0 && x == y);
                }
            }
        }
        lrp_tf_close(&v3);
    } else {
        CHECK(0);
    }
    lrp_tf_close(&v1);
}


TEST(open_memory_reads_like_the_file) {
    char path[256];
    snprintf(path, sizeof path, "%sstories260K.gguf", STORIES_DIR);
    size_t n;
    unsigned char *bytes = test_file_bytes(path, &n);
    lrp_tensor_file a, b;
    lrp_err err = {{0}};
    if (!bytes || lrp_gguf_open(&a, path, &err) != 0) {
        CHECK(0);
        free(bytes);
        return;
    }
    CHECK(lrp_gguf_open_memory(&b, "mem.gguf", bytes, n, &err) == 0);
    CHECK(test_same_tensors(&a, &b) == 0);
    CHECK_STR(lrp_gguf_get_string(&b, "general.architecture"), "llama");
    lrp_tf_close(&b);
    CHECK(lrp_gguf_open_memory(&b, "mem.gguf", bytes, n - 100, &err) != 0);  // data past the end
    CHECK(strstr(err.msg, "mem.gguf: ") == err.msg);
    CHECK(lrp_gguf_open_memory(&b, "mem.gguf", bytes, 7, &err) != 0);
    CHECK_STR(err.msg, "mem.gguf: not a GGUF file (7 bytes, too short for a header)");
    lrp_tf_close(&a);
    free(bytes);
}

TEST_MAIN(T(metadata_of_every_type_in_every_version), T(open_memory_reads_like_the_file), T(metadata_listed_in_file_order),
          T(accessors_on_a_non_gguf_file), T(tensors_of_every_type_read_back), T(shapes_are_reversed_into_pytorch_order),
          T(tensor_names_are_kept_as_stored), T(alignment_is_honoured), T(llama_config_from_metadata),
          T(qwen_config_uses_half_split_rope), T(not_a_gguf_file), T(unsupported_versions),
          T(missing_and_unreadable_paths), T(truncated_header_and_metadata), T(string_lengths_beyond_the_file),
          T(arrays_longer_than_the_file), T(unknown_value_types), T(arrays_nest_at_most_8_deep),
          T(duplicate_and_empty_keys), T(absurd_counts), T(bad_alignment), T(bad_tensor_dimensions),
          T(unknown_and_unsupported_tensor_types), T(offsets_not_aligned), T(tensor_data_past_the_end),
          T(duplicate_tensor_names), T(bad_tensor_names), T(config_errors), T(hostile_truncations_and_corruptions),
          T(stories260k_v3_file), T(stories260k_v1_file_holds_the_same_weights))

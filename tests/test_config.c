// config.json: every field and default on hand-written configs in the spellings transformers v4 and
// v5 use, the real TinyStories-656K config, the tiny_ckpt writer's configs, and one exact error
// line per malformed or inconsistent config.
#include <sys/stat.h>

#include "models/config.h"
#include "harness.h"
#include "support/tiny_ckpt.h"

static char tmpdir[4096];
static char cfg_path[4096];

// Writes text as config.json in a fresh directory and loads it; returns load's status.
static int load_text(const char *text, lrp_config *cfg, lrp_err *err) {
    memset(err, 0, sizeof *err);
    if (!tiny_mkdtemp(tmpdir, sizeof tmpdir)) return lrp_fail(err, "cannot create a temporary directory");
    tiny_path(cfg_path, sizeof cfg_path, tmpdir, "config.json");
    int rc = tiny_write_text(cfg_path, text, err);
    if (rc == 0) rc = lrp_config_load(cfg, cfg_path, err);
    tiny_rmtree(tmpdir);
    return rc;
}

// The error line for a config (empty when it loads).
static const char *load_error(const char *text) {
    static lrp_err err;
    lrp_config cfg;
    if (load_text(text, &cfg, &err) == 0) return "";
    return err.msg;
}

// A minimal llama config; extra fields are spliced in front of "model_type".
#define CFG_HEAD "{\"hidden_size\": 64, \"num_hidden_layers\": 2, \"num_attention_heads\": 4, "
#define CFG_TAIL "\"intermediate_size\": 128, \"vocab_size\": 100, \"model_type\": \"llama\"}"
#define CFG(extra) CFG_HEAD extra CFG_TAIL

TEST(reads_every_llama_field) {
    // Llama-3.2-1B's config.json, abbreviated to the fields we read, with its real values.
    const char *text =
        "{\n  \"architectures\": [\"LlamaForCausalLM\"],\n  \"attention_bias\": false,\n"
        "  \"bos_token_id\": 128000,\n  \"eos_token_id\": [128001, 128008, 128009],\n  \"head_dim\": 64,\n"
        "  \"hidden_act\": \"silu\",\n  \"hidden_size\": 2048,\n  \"intermediate_size\": 8192,\n"
        "  \"max_position_embeddings\": 131072,\n  \"mlp_bias\": false,\n  \"model_type\": \"llama\",\n"
        "  \"num_attention_heads\": 32,\n  \"num_hidden_layers\": 16,\n  \"num_key_value_heads\": 8,\n"
        "  \"pretraining_tp\": 1,\n  \"rms_norm_eps\": 1e-05,\n  \"rope_scaling\": {\n    \"factor\": 32.0,\n"
        "    \"high_freq_factor\": 4.0,\n    \"low_freq_factor\": 1.0,\n"
        "    \"original_max_position_embeddings\": 8192,\n    \"rope_type\": \"llama3\"\n  },\n"
        "  \"rope_theta\": 500000.0,\n  \"tie_word_embeddings\": true,\n  \"torch_dtype\": \"bfloat16\",\n"
        "  \"transformers_version\": \"4.45.0.dev0\",\n  \"use_cache\": true,\n  \"vocab_size\": 128256\n}\n";
    lrp_config c;
    lrp_err err;
    CHECK(load_text(text, &c, &err) == 0);
    CHECK_STR(err.msg, "");
    CHECK_STR(c.model_type, "llama");
    CHECK_STR(c.hidden_act, "silu");
    CHECK_STR(c.torch_dtype, "bfloat16");
    CHECK(c.hidden_size == 2048 && c.num_layers == 16 && c.num_heads == 32 && c.num_kv_heads == 8);
    CHECK(c.head_dim == 64 && c.intermediate_size == 8192 && c.vocab_size == 128256);
    CHECK(c.max_position_embeddings == 131072);
    CHECK(c.norm_eps == 1e-5 && c.rope.theta == 500000.0);
    CHECK(c.rope.scaling == LRP_ROPE_SCALING_LLAMA3 && c.rope.factor == 32.0);
    CHECK(c.rope.low_freq_factor == 1.0 && c.rope.high_freq_factor == 4.0 && c.rope.original_max_position == 8192);
    CHECK(c.rope.pairing == LRP_ROPE_PAIR_HALVES);
    CHECK(c.tie_word_embeddings == 1 && c.attention_bias == 0 && c.mlp_bias == 0);
    CHECK(c.bos_token_id == 128000 && c.n_eos == 3);
    CHECK(c.eos_token_ids[0] == 128001 && c.eos_token_ids[1] == 128008 && c.eos_token_ids[2] == 128009);
}

TEST(defaults_when_fields_are_absent) {
    lrp_config c;
    lrp_err err;
    CHECK(load_text(CFG(""), &c, &err) == 0);
    CHECK(c.num_kv_heads == 4);    // = num_attention_heads
    CHECK(c.head_dim == 16);       // = hidden_size / num_attention_heads
    CHECK(c.rope.theta == 10000.0 && c.rope.scaling == LRP_ROPE_SCALING_NONE);
    CHECK(c.norm_eps == 1e-6);
    CHECK_STR(c.hidden_act, "silu");
    CHECK_STR(c.torch_dtype, "");
    CHECK(c.tie_word_embeddings == 0 && c.attention_bias == 0 && c.mlp_bias == 0);
    CHECK(c.bos_token_id == -1 && c.n_eos == 0 && c.max_position_embeddings == 0);
}

TEST(nulls_mean_absent) {
    lrp_config c;
    lrp_err err;
    CHECK(load_text(CFG("\"num_key_value_heads\": null, \"head_dim\": null, \"bos_token_id\": null, "
                        "\"eos_token_id\": null, \"rope_scaling\": null, \"rope_theta\": null, "
                        "\"torch_dtype\": null, \"tie_word_embeddings\": null, "),
                    &c, &err) == 0);
    CHECK_STR(err.msg, "");
    CHECK(c.num_kv_heads == 4 && c.head_dim == 16 && c.bos_token_id == -1 && c.n_eos == 0);
    CHECK(c.rope.theta == 10000.0 && c.rope.scaling == LRP_ROPE_SCALING_NONE && c.tie_word_embeddings == 0);
}

// Qwen3 and Mistral-Nemo state head_dim, and it need not be hidden_size / heads.
TEST(explicit_head_dim_is_kept) {
    lrp_config c;
    lrp_err err;
    CHECK(load_text(CFG("\"head_dim\": 32, \"num_key_value_heads\": 2, "), &c, &err) == 0);
    CHECK(c.head_dim == 32 && c.num_kv_heads == 2);
    // hidden 60 does not split into 8 heads, but an explicit head_dim makes that irrelevant.
    CHECK(load_text("{\"hidden_size\": 60, \"num_hidden_layers\": 1, \"num_attention_heads\": 8, \"head_dim\": 16, "
                    "\"intermediate_size\": 8, \"vocab_size\": 10, \"model_type\": \"qwen3\"}",
                    &c, &err) == 0);
    CHECK(c.head_dim == 16 && c.hidden_size == 60);
}

TEST(eos_and_bos_forms) {
    lrp_config c;
    lrp_err err;
    CHECK(load_text(CFG("\"eos_token_id\": 7, \"bos_token_id\": 0, "), &c, &err) == 0);
    CHECK(c.n_eos == 1 && c.eos_token_ids[0] == 7 && c.bos_token_id == 0);
    CHECK(load_text(CFG("\"eos_token_id\": [], "), &c, &err) == 0);
    CHECK(c.n_eos == 0);
    CHECK_STR(load_error(CFG("\"eos_token_id\": [1,2,3,4,5,6,7,8,9], ")),
              "config.json: field \"eos_token_id\" lists 9 ids, at most 8 are supported");
    CHECK_STR(load_error(CFG("\"eos_token_id\": \"2\", ")),
              "config.json: field \"eos_token_id\" must be an integer or a list of integers");
    CHECK_STR(load_error(CFG("\"eos_token_id\": [1, null], ")),
              "config.json: field \"eos_token_id\" entry 1 is not an integer");
    CHECK_STR(load_error(CFG("\"eos_token_id\": -3, ")), "config.json: field \"eos_token_id\" holds a negative id (-3)");
}

TEST(dtype_spellings) {
    lrp_config c;
    lrp_err err;
    CHECK(load_text(CFG("\"torch_dtype\": \"float16\", "), &c, &err) == 0);
    CHECK_STR(c.torch_dtype, "float16");
    CHECK(load_text(CFG("\"dtype\": \"bfloat16\", "), &c, &err) == 0);  // transformers v5
    CHECK_STR(c.torch_dtype, "bfloat16");
    CHECK_STR(load_error(CFG("\"torch_dtype\": \"float32_with_a_very_long_name\", ")),
              "config.json: field \"torch_dtype\" is too long (29 characters, at most 15)");
}

TEST(rope_scaling_linear_and_llama3) {
    lrp_config c;
    lrp_err err;
    // The pre-2024 spelling "type".
    CHECK(load_text(CFG("\"rope_scaling\": {\"type\": \"linear\", \"factor\": 4.0}, "), &c, &err) == 0);
    CHECK(c.rope.scaling == LRP_ROPE_SCALING_LINEAR && c.rope.factor == 4.0);
    CHECK(load_text(CFG("\"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": 2}, "), &c, &err) == 0);
    CHECK(c.rope.scaling == LRP_ROPE_SCALING_LINEAR && c.rope.factor == 2.0);
    CHECK(load_text(CFG("\"rope_scaling\": {\"rope_type\": \"default\"}, "), &c, &err) == 0);
    CHECK(c.rope.scaling == LRP_ROPE_SCALING_NONE);
    CHECK(load_text(CFG("\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0, "
                        "\"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192, \"type\": \"llama3\"}, "),
                    &c, &err) == 0);
    CHECK(c.rope.scaling == LRP_ROPE_SCALING_LLAMA3 && c.rope.factor == 8.0 && c.rope.original_max_position == 8192);
}

TEST(rope_parameters_of_transformers_v5) {
    lrp_config c;
    lrp_err err;
    CHECK(load_text(CFG("\"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 1000000.0}, "), &c, &err) ==
          0);
    CHECK(c.rope.theta == 1000000.0 && c.rope.scaling == LRP_ROPE_SCALING_NONE);
    CHECK(load_text(CFG("\"rope_parameters\": {\"rope_type\": \"llama3\", \"rope_theta\": 500000.0, \"factor\": 32.0, "
                        "\"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, "
                        "\"original_max_position_embeddings\": 8192}, "),
                    &c, &err) == 0);
    CHECK(c.rope.theta == 500000.0 && c.rope.scaling == LRP_ROPE_SCALING_LLAMA3 && c.rope.factor == 32.0);
    // rope_parameters is authoritative; a legacy top-level rope_theta only fills a gap.
    CHECK(load_text(CFG("\"rope_theta\": 20.0, \"rope_parameters\": {\"rope_type\": \"linear\", \"factor\": 2.0}, "),
                    &c, &err) == 0);
    CHECK(c.rope.theta == 20.0 && c.rope.scaling == LRP_ROPE_SCALING_LINEAR);
    CHECK(load_text(CFG("\"rope_theta\": 20.0, \"rope_parameters\": {\"rope_theta\": 30.0}, "), &c, &err) == 0);
    CHECK(c.rope.theta == 30.0 && c.rope.scaling == LRP_ROPE_SCALING_NONE);
    CHECK_STR(load_error(CFG("\"rope_parameters\": {\"full_attention\": {\"rope_type\": \"default\"}}, ")),
              "config.json: rope_parameters per layer type (\"full_attention\") are not supported");
}

TEST(error_unsupported_rope_settings) {
    CHECK_STR(load_error(CFG("\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4.0}, ")),
              "config.json: rope_scaling type \"yarn\" is not supported");
    CHECK_STR(load_error(CFG("\"rope_scaling\": {\"type\": \"dynamic\", \"factor\": 2.0}, ")),
              "config.json: rope_scaling type \"dynamic\" is not supported");
    CHECK_STR(load_error(CFG("\"rope_parameters\": {\"rope_type\": \"longrope\", \"rope_theta\": 10000.0}, ")),
              "config.json: rope_parameters type \"longrope\" is not supported");
    CHECK_STR(load_error(CFG("\"rope_scaling\": {\"factor\": 2.0}, ")), "config.json: rope_scaling has no \"rope_type\"");
    CHECK_STR(load_error(CFG("\"rope_scaling\": {\"rope_type\": \"linear\"}, ")),
              "config.json: rope_scaling field \"factor\" missing");
    CHECK_STR(load_error(CFG("\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"high_freq_factor\": 4.0, "
                             "\"original_max_position_embeddings\": 8192}, ")),
              "config.json: rope_scaling field \"low_freq_factor\" missing");
    CHECK_STR(load_error(CFG("\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 4.0, "
                             "\"high_freq_factor\": 1.0, \"original_max_position_embeddings\": 8192}, ")),
              "config.json: llama3 rope scaling needs 0 < low_freq_factor < high_freq_factor (got 4, 1)");
    CHECK_STR(load_error(CFG("\"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": -1}, ")),
              "config.json: rope scaling factor must be positive (got -1)");
    CHECK_STR(load_error(CFG("\"rope_scaling\": \"linear\", ")),
              "config.json: field \"rope_scaling\" must be an object or null");
    CHECK_STR(load_error(CFG("\"partial_rotary_factor\": 1.5, ")),
              "config.json: partial_rotary_factor 1.5 must lie in (0, 1]");
    CHECK_STR(load_error(CFG("\"partial_rotary_factor\": 0.1, ")),
              "config.json: partial_rotary_factor 0.1 of head_dim 16 gives 1 rotary dimensions (must be even and "
              "positive)");
    CHECK_STR(load_error(CFG("\"rope_theta\": 0, ")), "config.json: field \"rope_theta\" must be positive (got 0)");
}

TEST(partial_rotary_factor_rotates_the_first_dimensions) {
    lrp_config c;
    lrp_err err;
    CHECK(load_text(CFG("\"partial_rotary_factor\": 0.5, "), &c, &err) == 0);
    CHECK(c.rotary && c.head_dim == 16 && c.rope.rot_dim == 8);
    CHECK(load_text(CFG(""), &c, &err) == 0);
    CHECK(c.rope.rot_dim == 0);  // the whole head
}

TEST(error_unsupported_model_type_is_named_before_missing_fields) {
    CHECK_STR(load_error("{\"model_type\": \"gpt5\", \"n_embd\": 8}"),
              "config.json: model_type \"gpt5\" is not supported (supported: llama, mistral, qwen2, qwen3, gpt2, bert, roberta, distilbert, vit, "
              "gemma2, gemma3_text, gemma3)");
}

TEST(error_required_field_missing) {
    static const char *fields[] = {"hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                                   "vocab_size"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        char text[512], expect[128];
        snprintf(text, sizeof text, "{\"model_type\": \"llama\"");
        for (size_t j = 0; j < sizeof fields / sizeof fields[0]; j++) {
            if (j != i) snprintf(text + strlen(text), sizeof text - strlen(text), ", \"%s\": 8", fields[j]);
        }
        strcat(text, "}");
        snprintf(expect, sizeof expect, "config.json: field \"%s\" missing", fields[i]);
        CHECK_STR(load_error(text), expect);
    }
    CHECK_STR(load_error("{\"hidden_size\": 64, \"num_hidden_layers\": 2, \"num_attention_heads\": 4, "
                         "\"intermediate_size\": 128, \"vocab_size\": 100}"),
              "config.json: field \"model_type\" missing");
}

TEST(error_field_of_wrong_type) {
    CHECK_STR(load_error("{\"hidden_size\": \"64\", \"num_hidden_layers\": 2, \"num_attention_heads\": 4, " CFG_TAIL),
              "config.json: field \"hidden_size\" must be an integer");
    CHECK_STR(load_error("{\"hidden_size\": 64.0, \"num_hidden_layers\": 2, \"num_attention_heads\": 4, " CFG_TAIL),
              "config.json: field \"hidden_size\" must be an integer");
    CHECK_STR(load_error("{\"hidden_size\": 4294967296, \"num_hidden_layers\": 2, \"num_attention_heads\": 4, " CFG_TAIL),
              "config.json: field \"hidden_size\" is out of range (4294967296)");
    CHECK_STR(load_error(CFG("\"tie_word_embeddings\": 1, ")),
              "config.json: field \"tie_word_embeddings\" must be true or false");
    CHECK_STR(load_error(CFG("\"rms_norm_eps\": \"1e-5\", ")), "config.json: field \"rms_norm_eps\" must be a number");
    CHECK_STR(load_error(CFG("\"hidden_act\": 3, ")), "config.json: field \"hidden_act\" must be a string");
    CHECK_STR(load_error("{\"model_type\": 7, \"hidden_size\": 64}"), "config.json: field \"model_type\" must be a string");
    CHECK_STR(load_error("[1, 2]"), "config.json: not a JSON object");
}

TEST(error_malformed_json_gives_line_and_column) {
    const char *msg = load_error("{\n  \"hidden_size\": 64,\n  \"vocab_size\" 100\n}\n");
    CHECK(strncmp(msg, "config.json: not valid JSON: ", 29) == 0);
    CHECK(strstr(msg, "(line 3, column") != NULL);
    CHECK(strncmp(load_error(""), "config.json: not valid JSON: ", 29) == 0);
}

TEST(error_missing_file_names_the_path) {
    lrp_config c;
    lrp_err err;
    CHECK(lrp_config_load(&c, "/nonexistent/dir/config.json", &err) == -1);
    CHECK_STR(err.msg, "/nonexistent/dir/config.json: cannot open: No such file or directory");
}

TEST(error_inconsistent_sizes) {
    CHECK_STR(load_error("{\"hidden_size\": 18, \"num_hidden_layers\": 2, \"num_attention_heads\": 4, " CFG_TAIL),
              "config.json: hidden_size 18 is not divisible by num_attention_heads 4 (and no head_dim is given)");
    CHECK_STR(load_error(CFG("\"num_key_value_heads\": 3, ")),
              "config.json: num_attention_heads 4 is not a multiple of num_key_value_heads 3");
    CHECK_STR(load_error(CFG("\"num_key_value_heads\": 8, ")),
              "config.json: num_attention_heads 4 is not a multiple of num_key_value_heads 8");
    CHECK_STR(load_error(CFG("\"head_dim\": 5, ")), "config.json: field \"head_dim\" must be even for rotary embeddings "
                                                    "(got 5)");
    CHECK_STR(load_error("{\"hidden_size\": 0, \"num_hidden_layers\": 2, \"num_attention_heads\": 4, " CFG_TAIL),
              "config.json: field \"hidden_size\" must be positive (got 0)");
    CHECK_STR(load_error("{\"hidden_size\": 64, \"num_hidden_layers\": 2, \"num_attention_heads\": 0, " CFG_TAIL),
              "config.json: field \"num_attention_heads\" must be positive (got 0)");
    CHECK_STR(load_error(CFG("\"num_key_value_heads\": -2, ")),
              "config.json: field \"num_key_value_heads\" must be positive (got -2)");
    CHECK_STR(load_error("{\"hidden_size\": 2097152, \"num_hidden_layers\": 2, \"num_attention_heads\": 4, " CFG_TAIL),
              "config.json: field \"hidden_size\" is implausibly large (2097152 > 1048576)");
    CHECK_STR(load_error(CFG("\"head_dim\": 1048576, ")),
              "config.json: head_dim 1048576 times num_attention_heads 4 is implausibly large");
    CHECK_STR(load_error(CFG("\"rms_norm_eps\": -1e-6, ")),
              "config.json: field \"rms_norm_eps\" must lie in [0, 1) (got -1e-06)");
    CHECK_STR(load_error(CFG("\"max_position_embeddings\": -1, ")),
              "config.json: field \"max_position_embeddings\" must not be negative (got -1)");
}

// lrp_config_validate is also what the GGUF reader calls; it names the file it is given.
TEST(validate_names_the_given_file) {
    lrp_config c = {0};
    lrp_err err;
    strcpy(c.model_type, "llama");
    c.hidden_size = 64, c.num_layers = 2, c.num_heads = 8, c.num_kv_heads = 8, c.head_dim = 8;
    c.intermediate_size = 16, c.vocab_size = 10, c.rope.theta = 10000, c.norm_eps = 1e-5;
    CHECK(lrp_config_validate(&c, "m.gguf", &err) == 0);
    c.num_layers = 0;
    CHECK(lrp_config_validate(&c, "m.gguf", &err) == -1);
    CHECK_STR(err.msg, "m.gguf: field \"num_hidden_layers\" must be positive (got 0)");
    c.num_layers = 2;
    c.rope.pairing = LRP_ROPE_PAIR_ADJACENT;
    CHECK(lrp_config_validate(&c, "m.gguf", &err) == 0);
    c.model_type[0] = 0;
    CHECK(lrp_config_validate(&c, "m.gguf", &err) == -1);
    CHECK_STR(err.msg, "m.gguf: field \"model_type\" is empty");
}

TEST(real_tinystories_config) {
    const char *path = "../shared/models/TinyStories-656K/config.json";
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "  (skipped: %s not present)\n", path);
        return;
    }
    lrp_config c;
    lrp_err err = {{0}};
    CHECK(lrp_config_load(&c, path, &err) == 0);
    CHECK_STR(err.msg, "");
    CHECK_STR(c.model_type, "llama");
    CHECK(c.hidden_size == 128 && c.num_layers == 2 && c.num_heads == 8 && c.num_kv_heads == 4 && c.head_dim == 16);
    CHECK(c.intermediate_size == 384 && c.vocab_size == 2048 && c.max_position_embeddings == 512);
    CHECK(c.tie_word_embeddings == 1 && c.norm_eps == 1e-6 && c.rope.theta == 10000.0);
    CHECK(c.bos_token_id == 1 && c.n_eos == 1 && c.eos_token_ids[0] == 2);
    CHECK_STR(c.torch_dtype, "float32");
}

// The test writer's config.json reads back as the options it was written from, in both spellings.
TEST(tiny_ckpt_configs_read_back) {
    static const char *families[] = {"llama", "mistral", "qwen2", "qwen3"};
    for (int v5 = 0; v5 < 2; v5++) {
        for (int f = 0; f < 4; f++) {
            tiny_ckpt_opts o = tiny_ckpt_defaults();
            o.model_type = families[f];
            o.transformers_v5 = v5;
            o.rope_scaling = (lrp_rope_scaling)(f % 3);
            o.rope_theta = 123456.5;
            o.rms_norm_eps = 1e-5;
            o.tie_word_embeddings = f & 1;
            o.attention_bias = f == 0 || f == 3;
            o.mlp_bias = f == 0;
            o.head_dim = f == 3 ? 6 : 0;
            o.dtype = (lrp_dtype)(f % 3);
            if (!tiny_mkdtemp(tmpdir, sizeof tmpdir)) return;
            lrp_err err = {{0}};
            lrp_config c;
            tiny_path(cfg_path, sizeof cfg_path, tmpdir, "config.json");
            CHECK(tiny_write_config(cfg_path, &o, &err) == 0);
            CHECK(lrp_config_load(&c, cfg_path, &err) == 0);
            CHECK_STR(err.msg, "");
            CHECK_STR(c.model_type, families[f]);
            CHECK(c.hidden_size == o.hidden && c.num_layers == o.layers && c.num_heads == o.heads);
            CHECK(c.num_kv_heads == o.kv_heads && c.intermediate_size == o.intermediate && c.vocab_size == o.vocab);
            CHECK(c.head_dim == (o.head_dim ? o.head_dim : o.hidden / o.heads));
            CHECK(c.rope.theta == o.rope_theta && c.norm_eps == o.rms_norm_eps && c.rope.scaling == o.rope_scaling);
            if (o.rope_scaling != LRP_ROPE_SCALING_NONE) CHECK(c.rope.factor == o.rope_factor);
            if (o.rope_scaling == LRP_ROPE_SCALING_LLAMA3) {
                CHECK(c.rope.low_freq_factor == o.rope_low_freq_factor);
                CHECK(c.rope.high_freq_factor == o.rope_high_freq_factor);
                CHECK(c.rope.original_max_position == o.rope_original_max_position);
            }
            CHECK(c.tie_word_embeddings == o.tie_word_embeddings);
            CHECK(c.attention_bias == (f == 2 ? 0 : o.attention_bias) && c.mlp_bias == o.mlp_bias);
            CHECK_STR(c.torch_dtype, o.dtype == LRP_F32 ? "float32" : o.dtype == LRP_F16 ? "float16" : "bfloat16");
            tiny_rmtree(tmpdir);
        }
    }
}

TEST_MAIN(T(reads_every_llama_field), T(defaults_when_fields_are_absent), T(nulls_mean_absent),
          T(explicit_head_dim_is_kept), T(eos_and_bos_forms), T(dtype_spellings), T(rope_scaling_linear_and_llama3),
          T(rope_parameters_of_transformers_v5), T(error_unsupported_rope_settings), T(partial_rotary_factor_rotates_the_first_dimensions), T(error_unsupported_model_type_is_named_before_missing_fields), T(error_required_field_missing),
          T(error_field_of_wrong_type), T(error_malformed_json_gives_line_and_column),
          T(error_missing_file_names_the_path), T(error_inconsistent_sizes), T(validate_names_the_given_file),
          T(real_tinystories_config), T(tiny_ckpt_configs_read_back))

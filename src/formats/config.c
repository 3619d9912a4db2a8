// config.json reader. Defaults are those of transformers' configuration_llama.py and its siblings;
// both spellings that transformers has used are accepted: torch_dtype (v4) / dtype (v5), and
// rope_theta + rope_scaling (v4) / rope_parameters (v5, standardize_rope_params).
#include "formats/config.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#define LRP_CONFIG_MAX_DIM (1 << 20)

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash && slash[1] ? slash + 1 : path;
}

static int present(const json_t *v) {
    return v && !json_is_null(v);
}

// An integer field that must exist.
static int get_required_int(const json_t *obj, const char *field, int *out, const char *where, lrp_err *err) {
    const json_t *v = json_object_get(obj, field);
    if (!present(v)) return lrp_fail(err, "%s: field \"%s\" missing", where, field);
    if (!json_is_integer(v)) return lrp_fail(err, "%s: field \"%s\" must be an integer", where, field);
    json_int_t x = json_integer_value(v);
    if (x < INT_MIN || x > INT_MAX)
        return lrp_fail(err, "%s: field \"%s\" is out of range (%lld)", where, field, (long long)x);
    *out = (int)x;
    return 0;
}

// An integer field that may be absent or null (then *out keeps its default).
static int get_optional_int(const json_t *obj, const char *field, int *out, const char *where, lrp_err *err) {
    if (!present(json_object_get(obj, field))) return 0;
    return get_required_int(obj, field, out, where, err);
}

static int get_optional_number(const json_t *obj, const char *field, double *out, const char *where,
                               lrp_err *err) {
    const json_t *v = json_object_get(obj, field);
    if (!present(v)) return 0;
    if (!json_is_number(v)) return lrp_fail(err, "%s: field \"%s\" must be a number", where, field);
    *out = json_number_value(v);
    return 0;
}

static int get_optional_bool(const json_t *obj, const char *field, int *out, const char *where, lrp_err *err) {
    const json_t *v = json_object_get(obj, field);
    if (!present(v)) return 0;
    if (!json_is_boolean(v)) return lrp_fail(err, "%s: field \"%s\" must be true or false", where, field);
    *out = json_is_true(v);
    return 0;
}

// Copies a string field into buf; absent or null leaves buf unchanged.
static int get_optional_string(const json_t *obj, const char *field, char *buf, size_t cap, const char *where,
                               lrp_err *err) {
    const json_t *v = json_object_get(obj, field);
    if (!present(v)) return 0;
    if (!json_is_string(v)) return lrp_fail(err, "%s: field \"%s\" must be a string", where, field);
    const char *s = json_string_value(v);
    if (strlen(s) >= cap)
        return lrp_fail(err, "%s: field \"%s\" is too long (%zu characters, at most %zu)", where, field, strlen(s),
                        cap - 1);
    memcpy(buf, s, strlen(s) + 1);
    return 0;
}

// A number inside the rope scaling object, e.g. rope_scaling.factor; it must be there.
static int get_rope_number(const json_t *obj, const char *obj_name, const char *field, double *out,
                           const char *where, lrp_err *err) {
    const json_t *v = json_object_get(obj, field);
    if (!present(v)) return lrp_fail(err, "%s: %s field \"%s\" missing", where, obj_name, field);
    if (!json_is_number(v)) return lrp_fail(err, "%s: %s field \"%s\" must be a number", where, obj_name, field);
    *out = json_number_value(v);
    return 0;
}

// rope_theta and the scaling. transformers v5 keeps both in rope_parameters (which is authoritative
// when present); v4 has top-level rope_theta and rope_scaling, whose type key was "type" before 2024.
static int parse_rope(lrp_config *cfg, const json_t *root, const char *where, lrp_err *err) {
    const json_t *params = json_object_get(root, "rope_parameters");
    const json_t *scaling = json_object_get(root, "rope_scaling");
    const char *scaling_name = "rope_scaling";
    if (present(params)) {
        if (!json_is_object(params)) return lrp_fail(err, "%s: field \"rope_parameters\" must be an object", where);
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)params, k, v) {
            if (json_is_object(v))
                return lrp_fail(err, "%s: rope_parameters per layer type (\"%s\") are not supported", where, k);
        }
        scaling = params;
        scaling_name = "rope_parameters";
    }

    cfg->rope_theta = 10000.0;
    if (get_optional_number(root, "rope_theta", &cfg->rope_theta, where, err) != 0) return -1;
    if (present(params) && present(json_object_get(params, "rope_theta"))) {
        if (get_rope_number(params, scaling_name, "rope_theta", &cfg->rope_theta, where, err) != 0) return -1;
    }

    double partial = 1.0;
    if (get_optional_number(root, "partial_rotary_factor", &partial, where, err) != 0) return -1;
    if (present(params) && get_optional_number(params, "partial_rotary_factor", &partial, where, err) != 0)
        return -1;
    if (partial != 1.0)
        return lrp_fail(err, "%s: partial_rotary_factor %g is not supported (only 1)", where, partial);

    cfg->rope_scaling = LRP_ROPE_SCALING_NONE;
    if (!present(scaling)) return 0;
    if (!json_is_object(scaling)) return lrp_fail(err, "%s: field \"%s\" must be an object or null", where, scaling_name);
    const json_t *type = json_object_get(scaling, "rope_type");
    if (!present(type)) type = json_object_get(scaling, "type");
    const char *t = "default";
    if (present(type)) {
        if (!json_is_string(type)) return lrp_fail(err, "%s: %s type must be a string", where, scaling_name);
        t = json_string_value(type);
    } else if (scaling != params) {
        return lrp_fail(err, "%s: rope_scaling has no \"rope_type\"", where);
    }

    if (strcmp(t, "default") == 0) return 0;
    if (strcmp(t, "linear") == 0) {
        cfg->rope_scaling = LRP_ROPE_SCALING_LINEAR;
        return get_rope_number(scaling, scaling_name, "factor", &cfg->rope_factor, where, err);
    }
    if (strcmp(t, "llama3") == 0) {
        cfg->rope_scaling = LRP_ROPE_SCALING_LLAMA3;
        double orig = 0;
        if (get_rope_number(scaling, scaling_name, "factor", &cfg->rope_factor, where, err) != 0 ||
            get_rope_number(scaling, scaling_name, "low_freq_factor", &cfg->rope_low_freq_factor, where, err) != 0 ||
            get_rope_number(scaling, scaling_name, "high_freq_factor", &cfg->rope_high_freq_factor, where, err) != 0 ||
            get_rope_number(scaling, scaling_name, "original_max_position_embeddings", &orig, where, err) != 0)
            return -1;
        if (!(orig >= 1 && orig <= INT_MAX) || orig != floor(orig))
            return lrp_fail(err, "%s: %s field \"original_max_position_embeddings\" must be a positive integer",
                            where, scaling_name);
        cfg->rope_original_max_position = (int)orig;
        return 0;
    }
    return lrp_fail(err, "%s: %s type \"%s\" is not supported", where, scaling_name, t);
}

static int parse_token_ids(lrp_config *cfg, const json_t *root, const char *where, lrp_err *err) {
    cfg->bos_token_id = -1;
    if (get_optional_int(root, "bos_token_id", &cfg->bos_token_id, where, err) != 0) return -1;
    if (cfg->bos_token_id < -1)
        return lrp_fail(err, "%s: field \"bos_token_id\" must not be negative (%d)", where, cfg->bos_token_id);

    const json_t *eos = json_object_get(root, "eos_token_id");
    cfg->n_eos = 0;
    if (!present(eos)) return 0;
    if (json_is_integer(eos)) {
        if (get_required_int(root, "eos_token_id", &cfg->eos_token_ids[0], where, err) != 0) return -1;
        cfg->n_eos = 1;
    } else if (json_is_array(eos)) {
        size_t n = json_array_size(eos);
        if (n > LRP_MAX_EOS)
            return lrp_fail(err, "%s: field \"eos_token_id\" lists %zu ids, at most %d are supported", where, n,
                            LRP_MAX_EOS);
        for (size_t i = 0; i < n; i++) {
            const json_t *v = json_array_get(eos, i);
            if (!json_is_integer(v) || json_integer_value(v) < INT_MIN || json_integer_value(v) > INT_MAX)
                return lrp_fail(err, "%s: field \"eos_token_id\" entry %zu is not an integer", where, i);
            cfg->eos_token_ids[i] = (int)json_integer_value(v);
        }
        cfg->n_eos = (int)n;
    } else {
        return lrp_fail(err, "%s: field \"eos_token_id\" must be an integer or a list of integers", where);
    }
    for (int i = 0; i < cfg->n_eos; i++) {
        if (cfg->eos_token_ids[i] < 0)
            return lrp_fail(err, "%s: field \"eos_token_id\" holds a negative id (%d)", where, cfg->eos_token_ids[i]);
    }
    return 0;
}

static int parse_config(lrp_config *cfg, const json_t *root, const char *where, lrp_err *err) {
    if (!json_is_object(root)) return lrp_fail(err, "%s: not a JSON object", where);

    if (!present(json_object_get(root, "model_type"))) return lrp_fail(err, "%s: field \"model_type\" missing", where);
    if (get_optional_string(root, "model_type", cfg->model_type, sizeof cfg->model_type, where, err) != 0 ||
        get_required_int(root, "hidden_size", &cfg->hidden_size, where, err) != 0 ||
        get_required_int(root, "num_hidden_layers", &cfg->num_layers, where, err) != 0 ||
        get_required_int(root, "num_attention_heads", &cfg->num_heads, where, err) != 0 ||
        get_required_int(root, "intermediate_size", &cfg->intermediate_size, where, err) != 0 ||
        get_required_int(root, "vocab_size", &cfg->vocab_size, where, err) != 0)
        return -1;

    cfg->num_kv_heads = cfg->num_heads;
    if (get_optional_int(root, "num_key_value_heads", &cfg->num_kv_heads, where, err) != 0) return -1;

    // head_dim is explicit in Qwen3 and Mistral-Nemo (and then need not be hidden/heads); otherwise
    // derived, which needs hidden_size to split evenly.
    cfg->head_dim = 0;
    if (present(json_object_get(root, "head_dim"))) {
        if (get_required_int(root, "head_dim", &cfg->head_dim, where, err) != 0) return -1;
    } else if (cfg->num_heads > 0) {
        if (cfg->hidden_size % cfg->num_heads != 0)
            return lrp_fail(err, "%s: hidden_size %d is not divisible by num_attention_heads %d (and no head_dim is "
                            "given)", where, cfg->hidden_size, cfg->num_heads);
        cfg->head_dim = cfg->hidden_size / cfg->num_heads;
    }

    strcpy(cfg->hidden_act, "silu");
    if (get_optional_string(root, "hidden_act", cfg->hidden_act, sizeof cfg->hidden_act, where, err) != 0) return -1;
    if (present(json_object_get(root, "torch_dtype"))) {
        if (get_optional_string(root, "torch_dtype", cfg->torch_dtype, sizeof cfg->torch_dtype, where, err) != 0)
            return -1;
    } else if (get_optional_string(root, "dtype", cfg->torch_dtype, sizeof cfg->torch_dtype, where, err) != 0) {
        return -1;
    }

    cfg->rms_norm_eps = 1e-6;
    if (get_optional_number(root, "rms_norm_eps", &cfg->rms_norm_eps, where, err) != 0 ||
        get_optional_int(root, "max_position_embeddings", &cfg->max_position_embeddings, where, err) != 0 ||
        get_optional_bool(root, "tie_word_embeddings", &cfg->tie_word_embeddings, where, err) != 0 ||
        get_optional_bool(root, "attention_bias", &cfg->attention_bias, where, err) != 0 ||
        get_optional_bool(root, "mlp_bias", &cfg->mlp_bias, where, err) != 0)
        return -1;
    // Mistral attends within a window; Qwen2/3 configs carry sliding_window too but use it only when
    // use_sliding_window is true, which is not supported.
    int use_window = 0;
    if (strcmp(cfg->model_type, "mistral") == 0) {
        if (get_optional_int(root, "sliding_window", &cfg->sliding_window, where, err) != 0) return -1;
        if (cfg->sliding_window < 0)
            return lrp_fail(err, "%s: field \"sliding_window\" must not be negative (got %d)", where, cfg->sliding_window);
    } else if (get_optional_bool(root, "use_sliding_window", &use_window, where, err) != 0) {
        return -1;
    } else if (use_window) {
        return lrp_fail(err, "%s: use_sliding_window true is not supported", where);
    }

    cfg->rope_pairing = LRP_ROPE_PAIR_HALVES;  // Hugging Face weights are laid out for rotate_half
    if (parse_rope(cfg, root, where, err) != 0) return -1;
    return parse_token_ids(cfg, root, where, err);
}

int lrp_config_load(lrp_config *cfg, const char *path, lrp_err *err) {
    memset(cfg, 0, sizeof *cfg);
    const char *where = base_name(path);
    struct stat st;
    if (stat(path, &st) != 0) return lrp_fail(err, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return lrp_fail(err, "%s: not a regular file", path);
    if (st.st_size > (16 << 20)) return lrp_fail(err, "%s: %lld bytes is too large for a config", where,
                                                 (long long)st.st_size);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root)
        return lrp_fail(err, "%s: not valid JSON: %s (line %d, column %d)", where, jerr.text, jerr.line, jerr.column);
    int rc = parse_config(cfg, root, where, err);
    json_decref(root);
    if (rc == 0) rc = lrp_config_validate(cfg, where, err);
    if (rc != 0) memset(cfg, 0, sizeof *cfg);
    return rc;
}

static int check_dim(int v, const char *field, const char *where, lrp_err *err) {
    if (v <= 0) return lrp_fail(err, "%s: field \"%s\" must be positive (got %d)", where, field, v);
    if (v > LRP_CONFIG_MAX_DIM)
        return lrp_fail(err, "%s: field \"%s\" is implausibly large (%d > %d)", where, field, v, LRP_CONFIG_MAX_DIM);
    return 0;
}

int lrp_config_validate(const lrp_config *cfg, const char *where, lrp_err *err) {
    if (!cfg->model_type[0]) return lrp_fail(err, "%s: field \"model_type\" is empty", where);
    if (check_dim(cfg->hidden_size, "hidden_size", where, err) != 0 ||
        check_dim(cfg->num_layers, "num_hidden_layers", where, err) != 0 ||
        check_dim(cfg->num_heads, "num_attention_heads", where, err) != 0 ||
        check_dim(cfg->num_kv_heads, "num_key_value_heads", where, err) != 0 ||
        check_dim(cfg->head_dim, "head_dim", where, err) != 0 ||
        check_dim(cfg->intermediate_size, "intermediate_size", where, err) != 0 ||
        check_dim(cfg->vocab_size, "vocab_size", where, err) != 0)
        return -1;
    if (cfg->num_heads % cfg->num_kv_heads != 0)
        return lrp_fail(err, "%s: num_attention_heads %d is not a multiple of num_key_value_heads %d", where,
                        cfg->num_heads, cfg->num_kv_heads);
    if (cfg->head_dim % 2 != 0)
        return lrp_fail(err, "%s: field \"head_dim\" must be even for rotary embeddings (got %d)", where,
                        cfg->head_dim);
    if ((long long)cfg->head_dim * cfg->num_heads > LRP_CONFIG_MAX_DIM)
        return lrp_fail(err, "%s: head_dim %d times num_attention_heads %d is implausibly large", where,
                        cfg->head_dim, cfg->num_heads);
    if (cfg->max_position_embeddings < 0)
        return lrp_fail(err, "%s: field \"max_position_embeddings\" must not be negative (got %d)", where,
                        cfg->max_position_embeddings);
    if (!isfinite(cfg->rms_norm_eps) || cfg->rms_norm_eps < 0 || cfg->rms_norm_eps >= 1)
        return lrp_fail(err, "%s: field \"rms_norm_eps\" must lie in [0, 1) (got %g)", where, cfg->rms_norm_eps);
    if (!isfinite(cfg->rope_theta) || cfg->rope_theta <= 0)
        return lrp_fail(err, "%s: field \"rope_theta\" must be positive (got %g)", where,
                        cfg->rope_theta);
    if (cfg->rope_pairing != LRP_ROPE_PAIR_HALVES && cfg->rope_pairing != LRP_ROPE_PAIR_ADJACENT)
        return lrp_fail(err, "%s: unknown rope pairing %d", where, (int)cfg->rope_pairing);
    switch (cfg->rope_scaling) {
    case LRP_ROPE_SCALING_NONE: break;
    case LRP_ROPE_SCALING_LINEAR:
        if (!isfinite(cfg->rope_factor) || cfg->rope_factor <= 0)
            return lrp_fail(err, "%s: rope scaling factor must be positive (got %g)", where, cfg->rope_factor);
        break;
    case LRP_ROPE_SCALING_LLAMA3:
        if (!isfinite(cfg->rope_factor) || cfg->rope_factor <= 0)
            return lrp_fail(err, "%s: rope scaling factor must be positive (got %g)", where, cfg->rope_factor);
        if (!isfinite(cfg->rope_low_freq_factor) || cfg->rope_low_freq_factor <= 0 ||
            !isfinite(cfg->rope_high_freq_factor) || cfg->rope_high_freq_factor <= cfg->rope_low_freq_factor)
            return lrp_fail(err, "%s: llama3 rope scaling needs 0 < low_freq_factor < high_freq_factor (got %g, %g)",
                            where, cfg->rope_low_freq_factor, cfg->rope_high_freq_factor);
        if (cfg->rope_original_max_position <= 0)
            return lrp_fail(err, "%s: llama3 rope scaling needs a positive original_max_position_embeddings", where);
        break;
    default: return lrp_fail(err, "%s: unknown rope scaling %d", where, (int)cfg->rope_scaling);
    }
    if (cfg->n_eos < 0 || cfg->n_eos > LRP_MAX_EOS)
        return lrp_fail(err, "%s: %d eos token ids (at most %d)", where, cfg->n_eos, LRP_MAX_EOS);
    return 0;
}

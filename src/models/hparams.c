// Typed reads of config.json fields and GGUF metadata for the family readers. Defaults and spellings are
// those of transformers (v4 and v5: torch_dtype / dtype, rope_scaling / rope_parameters).
#include "models/hparams.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gguf.h"

static int present(const json_t *v) { return v && !json_is_null(v); }

int lrp_hp_has(const lrp_hp *h, const char *field) { return present(json_object_get(h->root, field)); }

int lrp_hp_int(const lrp_hp *h, const char *field, int required, int *out) {
    const json_t *v = json_object_get(h->root, field);
    if (!present(v)) return required ? lrp_fail(h->err, "%s: field \"%s\" missing", h->where, field) : 0;
    if (!json_is_integer(v)) return lrp_fail(h->err, "%s: field \"%s\" must be an integer", h->where, field);
    json_int_t x = json_integer_value(v);
    if (x < INT_MIN || x > INT_MAX)
        return lrp_fail(h->err, "%s: field \"%s\" is out of range (%lld)", h->where, field, (long long)x);
    *out = (int)x;
    return 0;
}

int lrp_hp_int_any(const lrp_hp *h, const char *const *names, int required, int *out) {
    for (int i = 0; names[i]; i++)
        if (lrp_hp_has(h, names[i])) return lrp_hp_int(h, names[i], 1, out);
    return required ? lrp_fail(h->err, "%s: field \"%s\" missing", h->where, names[0]) : 0;
}

int lrp_hp_number(const lrp_hp *h, const char *field, int required, double *out) {
    const json_t *v = json_object_get(h->root, field);
    if (!present(v)) return required ? lrp_fail(h->err, "%s: field \"%s\" missing", h->where, field) : 0;
    if (!json_is_number(v)) return lrp_fail(h->err, "%s: field \"%s\" must be a number", h->where, field);
    *out = json_number_value(v);
    return 0;
}

int lrp_hp_bool(const lrp_hp *h, const char *field, int *out) {
    const json_t *v = json_object_get(h->root, field);
    if (!present(v)) return 0;
    if (!json_is_boolean(v)) return lrp_fail(h->err, "%s: field \"%s\" must be true or false", h->where, field);
    *out = json_is_true(v);
    return 0;
}

int lrp_hp_string(const lrp_hp *h, const char *field, char *buf, size_t cap) {
    const json_t *v = json_object_get(h->root, field);
    if (!present(v)) return 0;
    if (!json_is_string(v)) return lrp_fail(h->err, "%s: field \"%s\" must be a string", h->where, field);
    const char *s = json_string_value(v);
    if (strlen(s) >= cap)
        return lrp_fail(h->err, "%s: field \"%s\" is too long (%zu characters, at most %zu)", h->where, field,
                        strlen(s), cap - 1);
    memcpy(buf, s, strlen(s) + 1);
    return 0;
}

int lrp_hp_eps(const lrp_hp *h, const char *field, double *out) {
    if (lrp_hp_number(h, field, 0, out) != 0) return -1;
    if (!isfinite(*out) || *out < 0 || *out >= 1)
        return lrp_fail(h->err, "%s: field \"%s\" must lie in [0, 1) (got %g)", h->where, field, *out);
    return 0;
}

int lrp_hp_heads(const lrp_hp *h, lrp_config *c) {
    c->num_kv_heads = c->num_heads;
    if (lrp_hp_int(h, "num_key_value_heads", 0, &c->num_kv_heads)) return -1;
    if (lrp_hp_has(h, "head_dim")) return lrp_hp_int(h, "head_dim", 1, &c->head_dim);
    if (c->num_heads > 0 && c->hidden_size % c->num_heads != 0)
        return lrp_fail(h->err, "%s: hidden_size %d is not divisible by num_attention_heads %d (and no head_dim is "
                        "given)", h->where, c->hidden_size, c->num_heads);
    c->head_dim = c->num_heads > 0 ? c->hidden_size / c->num_heads : 0;
    return 0;
}

int lrp_hp_dtype(const lrp_hp *h, lrp_config *cfg) {
    if (lrp_hp_has(h, "torch_dtype")) return lrp_hp_string(h, "torch_dtype", cfg->torch_dtype, sizeof cfg->torch_dtype);
    return lrp_hp_string(h, "dtype", cfg->torch_dtype, sizeof cfg->torch_dtype);
}

// A number inside the rope scaling object, e.g. rope_scaling.factor; it must be there.
static int rope_number(const lrp_hp *h, const json_t *obj, const char *obj_name, const char *field, double *out) {
    const json_t *v = json_object_get(obj, field);
    if (!present(v)) return lrp_fail(h->err, "%s: %s field \"%s\" missing", h->where, obj_name, field);
    if (!json_is_number(v)) return lrp_fail(h->err, "%s: %s field \"%s\" must be a number", h->where, obj_name, field);
    *out = json_number_value(v);
    return 0;
}

// A list of rot_dim/2 positive numbers inside the rope scaling object (LongRoPE's short/long factors).
static int rope_factor_list(const lrp_hp *h, const json_t *obj, const char *obj_name, const char *field, int n,
                            double *out) {
    const json_t *v = json_object_get(obj, field);
    if (!present(v)) return lrp_fail(h->err, "%s: %s field \"%s\" missing", h->where, obj_name, field);
    if (!json_is_array(v) || (int)json_array_size(v) != n)
        return lrp_fail(h->err, "%s: %s field \"%s\" must be a list of %d numbers (one per rotated pair)", h->where,
                        obj_name, field, n);
    for (int i = 0; i < n; i++) {
        const json_t *e = json_array_get(v, (size_t)i);
        if (!json_is_number(e) || !(json_number_value(e) > 0) || !isfinite(json_number_value(e)))
            return lrp_fail(h->err, "%s: %s field \"%s\" element %d must be a positive number", h->where, obj_name,
                            field, i);
        out[i] = json_number_value(e);
    }
    return 0;
}

// LongRoPE (Phi-3), as transformers' _compute_longrope_parameters: the pretraining length is the top-level
// original_max_position_embeddings (Phi-3 configs; then factor = max_position_embeddings / it), else the
// scaling object's, else max_position_embeddings with the scaling object's factor. The attention factor
// is explicit (attention_factor) or sqrt(1 + ln(factor) / ln(original)) when factor > 1, else 1.
static int rope_longrope(const lrp_hp *h, lrp_config *cfg, const json_t *scaling, const char *scaling_name) {
    lrp_rope_params *r = &cfg->rope;
    int pairs = (r->rot_dim ? r->rot_dim : cfg->head_dim) / 2;
    if (pairs <= 0 || pairs > LRP_ROPE_MAX_FREQS)
        return lrp_fail(h->err, "%s: longrope with %d rotated pairs per head is not supported (at most %d)", h->where,
                        pairs, LRP_ROPE_MAX_FREQS);
    r->scaling = LRP_ROPE_SCALING_LONGROPE;
    r->n_freq_factors = pairs;
    if (rope_factor_list(h, scaling, scaling_name, "short_factor", pairs, r->freq_factors) ||
        rope_factor_list(h, scaling, scaling_name, "long_factor", pairs, r->long_factors))
        return -1;
    int max_pos = 0, orig = 0;
    double factor = 0;
    if (lrp_hp_int(h, "max_position_embeddings", 1, &max_pos) || lrp_hp_int(h, "original_max_position_embeddings", 0,
                                                                              &orig))
        return -1;
    if (orig > 0) {
        factor = (double)max_pos / orig;
    } else {
        double o = 0;
        if (present(json_object_get(scaling, "original_max_position_embeddings"))) {
            if (rope_number(h, scaling, scaling_name, "original_max_position_embeddings", &o)) return -1;
            if (!(o >= 1 && o <= INT_MAX) || o != floor(o))
                return lrp_fail(h->err, "%s: %s field \"original_max_position_embeddings\" must be a positive integer",
                                h->where, scaling_name);
            orig = (int)o;
        } else {
            orig = max_pos;
        }
        if (present(json_object_get(scaling, "factor"))) {
            if (rope_number(h, scaling, scaling_name, "factor", &factor)) return -1;
        } else {
            factor = (double)max_pos / orig;
        }
    }
    if (orig <= 0) return lrp_fail(h->err, "%s: longrope needs a positive original_max_position_embeddings", h->where);
    r->original_max_position = orig;
    r->factor = factor;
    if (present(json_object_get(scaling, "attention_factor"))) {
        if (rope_number(h, scaling, scaling_name, "attention_factor", &r->attention_factor)) return -1;
    } else {
        r->attention_factor = factor <= 1.0 ? 1.0 : sqrt(1.0 + log(factor) / log((double)orig));
    }
    return 0;
}

// rope_theta and the scaling. transformers v5 keeps both in rope_parameters (which is authoritative
// when present); v4 has top-level rope_theta and rope_scaling, whose type key was "type" before 2024.
int lrp_hp_rope(const lrp_hp *h, lrp_config *cfg) {
    const char *where = h->where;
    lrp_err *err = h->err;
    const json_t *root = h->root;
    lrp_rope_params *r = &cfg->rope;
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
    cfg->rotary = 1;
    r->pairing = LRP_ROPE_PAIR_HALVES;  // Hugging Face weights are laid out for rotate_half
    r->theta = 10000.0;
    if (lrp_hp_number(h, "rope_theta", 0, &r->theta) != 0) return -1;
    if (present(params) && present(json_object_get(params, "rope_theta")) &&
        rope_number(h, params, scaling_name, "rope_theta", &r->theta) != 0)
        return -1;

    double partial = 1.0;
    if (lrp_hp_number(h, "partial_rotary_factor", 0, &partial) != 0) return -1;
    if (present(json_object_get(params, "partial_rotary_factor")) &&
        rope_number(h, params, scaling_name, "partial_rotary_factor", &partial) != 0)
        return -1;
    if (!(partial > 0 && partial <= 1))
        return lrp_fail(err, "%s: partial_rotary_factor %g must lie in (0, 1]", where, partial);
    r->rot_dim = 0;  // the whole head
    if (partial < 1) {
        r->rot_dim = (int)(partial * cfg->head_dim);  // HF truncates too
        if (r->rot_dim <= 0 || r->rot_dim % 2)
            return lrp_fail(err, "%s: partial_rotary_factor %g of head_dim %d gives %d rotary dimensions (must be "
                            "even and positive)", where, partial, cfg->head_dim, r->rot_dim);
    }

    r->scaling = LRP_ROPE_SCALING_NONE;
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
        r->scaling = LRP_ROPE_SCALING_LINEAR;
        return rope_number(h, scaling, scaling_name, "factor", &r->factor);
    }
    if (strcmp(t, "llama3") == 0) {
        r->scaling = LRP_ROPE_SCALING_LLAMA3;
        double orig = 0;
        if (rope_number(h, scaling, scaling_name, "factor", &r->factor) != 0 ||
            rope_number(h, scaling, scaling_name, "low_freq_factor", &r->low_freq_factor) != 0 ||
            rope_number(h, scaling, scaling_name, "high_freq_factor", &r->high_freq_factor) != 0 ||
            rope_number(h, scaling, scaling_name, "original_max_position_embeddings", &orig) != 0)
            return -1;
        if (!(orig >= 1 && orig <= INT_MAX) || orig != floor(orig))
            return lrp_fail(err, "%s: %s field \"original_max_position_embeddings\" must be a positive integer",
                            where, scaling_name);
        r->original_max_position = (int)orig;
        return 0;
    }
    if (strcmp(t, "longrope") == 0 || strcmp(t, "su") == 0) return rope_longrope(h, cfg, scaling, scaling_name);
    return lrp_fail(err, "%s: %s type \"%s\" is not supported", where, scaling_name, t);
}

int lrp_hp_token_ids(const lrp_hp *h, lrp_config *cfg) {
    const char *where = h->where;
    lrp_err *err = h->err;
    cfg->bos_token_id = -1;
    cfg->pad_token_id = -1;
    if (lrp_hp_int(h, "bos_token_id", 0, &cfg->bos_token_id) != 0) return -1;
    if (cfg->bos_token_id < -1)
        return lrp_fail(err, "%s: field \"bos_token_id\" must not be negative (%d)", where, cfg->bos_token_id);
    if (lrp_hp_int(h, "pad_token_id", 0, &cfg->pad_token_id) != 0) return -1;
    if (cfg->pad_token_id < -1)
        return lrp_fail(err, "%s: field \"pad_token_id\" must not be negative (%d)", where, cfg->pad_token_id);

    const json_t *eos = json_object_get(h->root, "eos_token_id");
    cfg->n_eos = 0;
    if (!present(eos)) return 0;
    if (json_is_integer(eos)) {
        if (lrp_hp_int(h, "eos_token_id", 1, &cfg->eos_token_ids[0]) != 0) return -1;
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

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

#define LRP_MAX_LABELS 100000

int lrp_hp_task_and_labels(const lrp_hp *h, lrp_config *cfg) {
    const json_t *arch = json_object_get(h->root, "architectures");
    cfg->task = LRP_TASK_CAUSAL_LM;
    if (present(arch)) {
        const json_t *first = json_is_array(arch) ? json_array_get(arch, 0) : NULL;
        if (!json_is_array(arch) || (json_array_size(arch) > 0 && !json_is_string(first)))
            return lrp_fail(h->err, "%s: field \"architectures\" must be a list of strings", h->where);
        if (first) snprintf(cfg->architecture, sizeof cfg->architecture, "%s", json_string_value(first));
    }
    if (ends_with(cfg->architecture, "ForSequenceClassification") || ends_with(cfg->architecture, "ForImageClassification"))
        cfg->task = LRP_TASK_CLASSIFIER;
    else if (ends_with(cfg->architecture, "ForMaskedLM")) cfg->task = LRP_TASK_MASKED_LM;
    if (cfg->task != LRP_TASK_CLASSIFIER) return 0;

    // num_labels, else the size of id2label, else transformers' default of 2.
    const json_t *id2label = json_object_get(h->root, "id2label");
    if (present(id2label) && !json_is_object(id2label))
        return lrp_fail(h->err, "%s: field \"id2label\" must be an object", h->where);
    int n = present(id2label) ? (int)json_object_size(id2label) : 2;
    if (lrp_hp_int(h, "num_labels", 0, &n) != 0) return -1;
    if (n < 1 || n > LRP_MAX_LABELS)
        return lrp_fail(h->err, "%s: %d labels: expected 1..%d", h->where, n, LRP_MAX_LABELS);
    cfg->labels = calloc((size_t)n, sizeof *cfg->labels);
    if (!cfg->labels) return lrp_fail(h->err, "out of memory");
    cfg->n_labels = n;
    if (present(id2label)) {
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *)id2label, key, v) {
            char *end;
            long i = strtol(key, &end, 10);
            if (!*key || *end || i < 0 || i >= n)
                return lrp_fail(h->err, "%s: id2label key \"%s\" is not a class index 0..%d", h->where, key, n - 1);
            if (!json_is_string(v)) return lrp_fail(h->err, "%s: id2label[\"%s\"] must be a string", h->where, key);
            if (cfg->labels[i]) return lrp_fail(h->err, "%s: id2label names class %ld twice", h->where, i);
            if (!(cfg->labels[i] = strdup(json_string_value(v)))) return lrp_fail(h->err, "out of memory");
        }
    }
    for (int i = 0; i < n; i++) {
        if (cfg->labels[i]) continue;
        char buf[32];
        snprintf(buf, sizeof buf, "LABEL_%d", i);
        if (!(cfg->labels[i] = strdup(buf))) return lrp_fail(h->err, "out of memory");
    }
    return 0;
}

// ---- GGUF ----

static void gguf_key(const lrp_hp_gguf *h, const char *suffix, char *buf, size_t cap) {
    snprintf(buf, cap, "%s.%s", h->arch, suffix);
}

int lrp_hp_gguf_int(const lrp_hp_gguf *h, const char *suffix, int required, int64_t lo, int64_t hi, int *out) {
    char key[160];
    gguf_key(h, suffix, key, sizeof key);
    const lrp_gguf_value *v = lrp_gguf_get(h->tf, key);
    if (!v) return required ? lrp_fail(h->err, "%s: metadata \"%s\" missing", h->label, key) : 1;
    int64_t x;
    if (lrp_gguf_int(v, &x) != 0 || v->type == LRP_GGUF_BOOL)
        return lrp_fail(h->err, "%s: metadata \"%s\" must be an integer, not %s", h->label, key,
                        lrp_gguf_type_name(v->type));
    if (x < lo || x > hi)
        return lrp_fail(h->err, "%s: metadata \"%s\" = %lld is out of range [%lld, %lld]", h->label, key, (long long)x,
                        (long long)lo, (long long)hi);
    *out = (int)x;
    return 0;
}

int lrp_hp_gguf_float(const lrp_hp_gguf *h, const char *suffix, int required, double *out) {
    char key[160];
    gguf_key(h, suffix, key, sizeof key);
    const lrp_gguf_value *v = lrp_gguf_get(h->tf, key);
    if (!v) return required ? lrp_fail(h->err, "%s: metadata \"%s\" missing", h->label, key) : 1;
    double x;
    if (lrp_gguf_float(v, &x) != 0)
        return lrp_fail(h->err, "%s: metadata \"%s\" must be a number, not %s", h->label, key,
                        lrp_gguf_type_name(v->type));
    if (!isfinite(x) || x <= 0) return lrp_fail(h->err, "%s: metadata \"%s\" = %g must be positive", h->label, key, x);
    *out = x;
    return 0;
}

int lrp_hp_gguf_string(const lrp_hp_gguf *h, const char *suffix, int required, const char **out) {
    char key[160];
    gguf_key(h, suffix, key, sizeof key);
    const lrp_gguf_value *v = lrp_gguf_get(h->tf, key);
    if (!v) return required ? lrp_fail(h->err, "%s: metadata \"%s\" missing", h->label, key) : 1;
    if (!(*out = lrp_gguf_string(v)))
        return lrp_fail(h->err, "%s: metadata \"%s\" must be a string, not %s", h->label, key,
                        lrp_gguf_type_name(v->type));
    return 0;
}

int lrp_hp_gguf_heads(const lrp_hp_gguf *h, lrp_config *c) {
    c->num_kv_heads = c->num_heads;
    if (lrp_hp_gguf_int(h, "attention.head_count_kv", 0, 1, 1 << 16, &c->num_kv_heads) < 0) return -1;
    int rc = lrp_hp_gguf_int(h, "attention.key_length", 0, 1, 1 << 16, &c->head_dim);
    if (rc != 1) return rc;
    if (c->hidden_size % c->num_heads != 0)
        return lrp_fail(h->err, "%s: embedding_length %d is not a multiple of head_count %d", h->label, c->hidden_size,
                        c->num_heads);
    c->head_dim = c->hidden_size / c->num_heads;
    return 0;
}

int lrp_hp_gguf_rope(const lrp_hp_gguf *h, lrp_config *c) {
    c->rotary = 1;
    c->rope.theta = 10000.0;
    if (lrp_hp_gguf_float(h, "rope.freq_base", 0, &c->rope.theta) < 0) return -1;
    // RoPE scaling: "rope.scaling.type" linear (or the older "rope.scale_linear").
    const char *type = NULL;
    if (lrp_hp_gguf_string(h, "rope.scaling.type", 0, &type) < 0) return -1;
    c->rope.factor = 1.0;
    if (type && strcmp(type, "linear") == 0) {
        c->rope.scaling = LRP_ROPE_SCALING_LINEAR;
        if (lrp_hp_gguf_float(h, "rope.scaling.factor", 1, &c->rope.factor)) return -1;
    } else if (type && strcmp(type, "none") != 0) {
        return lrp_fail(h->err, "%s: rope scaling type \"%.40s\" (metadata \"%s.rope.scaling.type\") is not supported",
                        h->label, type, h->arch);
    } else if (!type) {
        double f = 0;
        if (lrp_hp_gguf_float(h, "rope.scale_linear", 0, &f) < 0) return -1;
        if (f != 0 && f != 1.0) {
            c->rope.scaling = LRP_ROPE_SCALING_LINEAR;
            c->rope.factor = f;
        }
    }
    int rc = lrp_hp_gguf_int(h, "rope.scaling.original_context_length", 0, 1, INT32_MAX, &c->rope.original_max_position);
    return rc < 0 ? -1 : 0;
}

// A token id key: -1 when absent or "none" (llama.cpp writes 0xFFFFFFFF, or a negative int32).
static int gguf_token(const lrp_hp_gguf *h, const char *key, int *out) {
    *out = -1;
    const lrp_gguf_value *v = lrp_gguf_get(h->tf, key);
    if (!v) return 0;
    int64_t x;
    if (lrp_gguf_int(v, &x) != 0 || v->type == LRP_GGUF_BOOL)
        return lrp_fail(h->err, "%s: metadata \"%s\" must be an integer, not %s", h->label, key,
                        lrp_gguf_type_name(v->type));
    if (x >= 0 && x < INT_MAX && x != 0xFFFFFFFFll) *out = (int)x;
    return 0;
}

int lrp_hp_gguf_token_ids(const lrp_hp_gguf *h, lrp_config *cfg) {
    if (gguf_token(h, "tokenizer.ggml.bos_token_id", &cfg->bos_token_id)) return -1;
    if (gguf_token(h, "tokenizer.ggml.padding_token_id", &cfg->pad_token_id)) return -1;
    static const char *eos_keys[] = {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id",
                                     "tokenizer.ggml.eom_token_id"};
    for (size_t i = 0; i < sizeof eos_keys / sizeof eos_keys[0]; i++) {
        int id;
        if (gguf_token(h, eos_keys[i], &id)) return -1;
        int seen = id < 0;
        for (int j = 0; j < cfg->n_eos && !seen; j++) seen = cfg->eos_token_ids[j] == id;
        if (!seen && cfg->n_eos < LRP_MAX_EOS) cfg->eos_token_ids[cfg->n_eos++] = id;
    }
    return 0;
}

int lrp_hp_gguf_vocab(const lrp_hp_gguf *h, const char *embed_name, lrp_config *cfg) {
    const int BIG = 1 << 30;
    const lrp_tensor *emb = lrp_tf_find(h->tf, embed_name);
    const lrp_gguf_value *tokens = lrp_gguf_get(h->tf, "tokenizer.ggml.tokens");
    if (emb && emb->ndim == 2 && emb->shape[0] <= BIG) {
        cfg->vocab_size = (int)emb->shape[0];
    } else if (lrp_gguf_array_type(tokens) == LRP_GGUF_STRING && lrp_gguf_array_len(tokens) <= (uint64_t)BIG &&
               lrp_gguf_array_len(tokens) > 0) {
        cfg->vocab_size = (int)lrp_gguf_array_len(tokens);
    } else {
        return lrp_fail(h->err, "%s: cannot tell the vocabulary size (no 2-D %s and no tokenizer.ggml.tokens)",
                        h->label, embed_name);
    }
    if (emb) {
        const char *name = emb->dtype == LRP_F32 ? "float32" : emb->dtype == LRP_F16 ? "float16"
                         : emb->dtype == LRP_BF16 ? "bfloat16" : "";
        snprintf(cfg->torch_dtype, sizeof cfg->torch_dtype, "%s", name);
    }
    return 0;
}

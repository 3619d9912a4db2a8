// config.json: "model_type" picks the family, whose reader fills the rest (models/<family>.c).
#include "models/config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "models/hparams.h"
#include "models/registry.h"

#define LRP_CONFIG_MAX_DIM (1 << 20)

const char *lrp_task_name(lrp_task t) {
    switch (t) {
    case LRP_TASK_CAUSAL_LM: return "causal-lm";
    case LRP_TASK_MASKED_LM: return "masked-lm";
    case LRP_TASK_CLASSIFIER: return "classifier";
    case LRP_TASK_SEQ2SEQ_LM: return "seq2seq-lm";
    }
    return "unknown";
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash && slash[1] ? slash + 1 : path;
}

static int parse_config(lrp_config *cfg, const json_t *root, const char *where, lrp_err *err) {
    if (!json_is_object(root)) return lrp_fail(err, "%s: not a JSON object", where);
    lrp_hp h = {root, where, err};
    if (!lrp_hp_has(&h, "model_type")) return lrp_fail(err, "%s: field \"model_type\" missing", where);
    if (lrp_hp_string(&h, "model_type", cfg->model_type, sizeof cfg->model_type) != 0) return -1;
    const lrp_family *fam = lrp_family_for_model_type(cfg->model_type);
    if (!fam) {
        char supported[512];
        lrp_families_supported(supported, sizeof supported, 0);
        return lrp_fail(err, "%s: model_type \"%s\" is not supported (supported: %s)", where, cfg->model_type,
                        supported);
    }
    cfg->bos_token_id = -1;
    cfg->pad_token_id = -1;
    if (lrp_hp_task_and_labels(&h, cfg) != 0 || lrp_hp_dtype(&h, cfg) != 0) return -1;
    return fam->read_config(cfg, &h);
}

int lrp_config_load(lrp_config *cfg, const char *path, lrp_err *err) {
    memset(cfg, 0, sizeof *cfg);
    const char *where = base_name(path);
    struct stat st;
    if (stat(path, &st) != 0) return lrp_fail(err, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return lrp_fail(err, "%s: not a regular file", path);
    if (st.st_size > (16 << 20))
        return lrp_fail(err, "%s: %lld bytes is too large for a config", where, (long long)st.st_size);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root)
        return lrp_fail(err, "%s: not valid JSON: %s (line %d, column %d)", where, jerr.text, jerr.line, jerr.column);
    int rc = parse_config(cfg, root, where, err);
    json_decref(root);
    if (rc == 0) rc = lrp_config_validate(cfg, where, err);
    if (rc != 0) lrp_config_free(cfg);
    return rc;
}

void lrp_config_free(lrp_config *cfg) {
    for (int i = 0; cfg->labels && i < cfg->n_labels; i++) free(cfg->labels[i]);
    free(cfg->labels);
    memset(cfg, 0, sizeof *cfg);
}

int lrp_config_label_index(const lrp_config *cfg, const char *name) {
    for (int i = 0; i < cfg->n_labels; i++)
        if (cfg->labels[i] && strcmp(cfg->labels[i], name) == 0) return i;
    return -1;
}

static int check_dim(int v, const char *field, const char *where, lrp_err *err) {
    if (v <= 0) return lrp_fail(err, "%s: field \"%s\" must be positive (got %d)", where, field, v);
    if (v > LRP_CONFIG_MAX_DIM)
        return lrp_fail(err, "%s: field \"%s\" is implausibly large (%d > %d)", where, field, v, LRP_CONFIG_MAX_DIM);
    return 0;
}

static int check_rope(const lrp_rope_params *r, int head_dim, const char *where, lrp_err *err) {
    if (!isfinite(r->theta) || r->theta <= 0)
        return lrp_fail(err, "%s: field \"rope_theta\" must be positive (got %g)", where, r->theta);
    if (r->rot_dim % 2 != 0 || r->rot_dim < 0 || r->rot_dim > head_dim)
        return lrp_fail(err, "%s: %d rotary dimensions do not fit heads of %d (an even number up to head_dim)", where,
                        r->rot_dim, head_dim);
    if ((r->rot_dim ? r->rot_dim : head_dim) % 2 != 0)
        return lrp_fail(err, "%s: field \"head_dim\" must be even for rotary embeddings (got %d)", where, head_dim);
    if (r->pairing != LRP_ROPE_PAIR_HALVES && r->pairing != LRP_ROPE_PAIR_ADJACENT)
        return lrp_fail(err, "%s: unknown rope pairing %d", where, (int)r->pairing);
    int pairs = (r->rot_dim ? r->rot_dim : head_dim) / 2;
    if (r->n_freq_factors != 0 && r->n_freq_factors != pairs)
        return lrp_fail(err, "%s: %d rope frequency factors for %d rotated pairs per head", where, r->n_freq_factors,
                        pairs);
    for (int i = 0; i < r->n_freq_factors; i++)
        if (!isfinite(r->freq_factors[i]) || r->freq_factors[i] <= 0 ||
            (r->scaling == LRP_ROPE_SCALING_LONGROPE && (!isfinite(r->long_factors[i]) || r->long_factors[i] <= 0)))
            return lrp_fail(err, "%s: rope frequency factor %d must be positive", where, i);
    switch (r->scaling) {
    case LRP_ROPE_SCALING_NONE: return 0;
    case LRP_ROPE_SCALING_LONGROPE:
        if (r->n_freq_factors != pairs)
            return lrp_fail(err, "%s: longrope scaling needs %d short/long factors", where, pairs);
        if (!isfinite(r->attention_factor) || r->attention_factor <= 0)
            return lrp_fail(err, "%s: longrope attention factor must be positive (got %g)", where, r->attention_factor);
        if (r->original_max_position <= 0)
            return lrp_fail(err, "%s: longrope scaling needs a positive original_max_position_embeddings", where);
        return 0;
    case LRP_ROPE_SCALING_LINEAR:
        if (!isfinite(r->factor) || r->factor <= 0)
            return lrp_fail(err, "%s: rope scaling factor must be positive (got %g)", where, r->factor);
        return 0;
    case LRP_ROPE_SCALING_LLAMA3:
        if (!isfinite(r->factor) || r->factor <= 0)
            return lrp_fail(err, "%s: rope scaling factor must be positive (got %g)", where, r->factor);
        if (!isfinite(r->low_freq_factor) || r->low_freq_factor <= 0 || !isfinite(r->high_freq_factor) ||
            r->high_freq_factor <= r->low_freq_factor)
            return lrp_fail(err, "%s: llama3 rope scaling needs 0 < low_freq_factor < high_freq_factor (got %g, %g)",
                            where, r->low_freq_factor, r->high_freq_factor);
        if (r->original_max_position <= 0)
            return lrp_fail(err, "%s: llama3 rope scaling needs a positive original_max_position_embeddings", where);
        return 0;
    }
    return lrp_fail(err, "%s: unknown rope scaling %d", where, (int)r->scaling);
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
    if ((long long)cfg->head_dim * cfg->num_heads > LRP_CONFIG_MAX_DIM)
        return lrp_fail(err, "%s: head_dim %d times num_attention_heads %d is implausibly large", where,
                        cfg->head_dim, cfg->num_heads);
    if (cfg->max_position_embeddings < 0)
        return lrp_fail(err, "%s: field \"max_position_embeddings\" must not be negative (got %d)", where,
                        cfg->max_position_embeddings);
    if (!isfinite(cfg->norm_eps) || cfg->norm_eps < 0 || cfg->norm_eps >= 1)
        return lrp_fail(err, "%s: the norm epsilon must lie in [0, 1) (got %g)", where, cfg->norm_eps);
    if (cfg->rotary && check_rope(&cfg->rope, cfg->head_dim, where, err) != 0) return -1;
    if (cfg->type_vocab_size < 0 || cfg->type_vocab_size > LRP_CONFIG_MAX_DIM)
        return lrp_fail(err, "%s: field \"type_vocab_size\" must lie in 0..%d (got %d)", where, LRP_CONFIG_MAX_DIM,
                        cfg->type_vocab_size);
    if (cfg->position_offset < 0 || cfg->position_offset > LRP_CONFIG_MAX_DIM)
        return lrp_fail(err, "%s: position offset %d out of range", where, cfg->position_offset);
    if (cfg->task == LRP_TASK_CLASSIFIER && (cfg->n_labels < 1 || !cfg->labels))
        return lrp_fail(err, "%s: a classifier needs at least one label", where);
    if (cfg->n_eos < 0 || cfg->n_eos > LRP_MAX_EOS)
        return lrp_fail(err, "%s: %d eos token ids (at most %d)", where, cfg->n_eos, LRP_MAX_EOS);
    return 0;
}

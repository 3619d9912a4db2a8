#include "models/model.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "formats/gguf.h"
#include "formats/safetensors.h"

extern const lrp_family lrp_family_llama, lrp_family_mistral, lrp_family_qwen2, lrp_family_qwen3;

static const lrp_family *const families[] = {
    &lrp_family_llama,
    &lrp_family_mistral,
    &lrp_family_qwen2,
    &lrp_family_qwen3,
};

static const lrp_family *find_family(const char *model_type) {
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
        if (strcmp(families[i]->model_type, model_type) == 0) return families[i];
    return NULL;
}

static int is_gguf_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char magic[4] = {0};
    size_t n = fread(magic, 1, 4, f);
    fclose(f);
    return n == 4 && memcmp(magic, "GGUF", 4) == 0;
}

int lrp_model_open(lrp_model **out, const char *path, lrp_err *err) {
    *out = NULL;
    struct stat st;
    if (stat(path, &st) != 0) return lrp_fail(err, "%s: no such file or directory", path);
    lrp_model *m = calloc(1, sizeof *m);
    if (!m) return lrp_fail(err, "out of memory");
    snprintf(m->path, sizeof m->path, "%s", path);
    int rc;
    if (S_ISDIR(st.st_mode)) {
        char cfg_path[1200];
        snprintf(cfg_path, sizeof cfg_path, "%s/config.json", path);
        snprintf(m->format, sizeof m->format, "safetensors");
        rc = lrp_config_load(&m->cfg, cfg_path, err);
        if (rc == 0) rc = lrp_safetensors_open(&m->tf, path, err);
    } else if (is_gguf_file(path)) {
        snprintf(m->format, sizeof m->format, "gguf");
        rc = lrp_gguf_open(&m->tf, &m->cfg, path, err);
    } else {
        rc = lrp_fail(err, "%s: not a checkpoint directory (config.json + model.safetensors) or a GGUF file", path);
    }
    if (rc == 0) rc = lrp_config_validate(&m->cfg, path, err);
    if (rc == 0) {
        m->family = find_family(m->cfg.model_type);
        if (!m->family)
            rc = lrp_fail(err, "%s: model_type \"%s\" is not supported (supported: llama, mistral, qwen2, qwen3)", path,
                          m->cfg.model_type);
    }
    if (rc == 0) rc = m->family->bind(m, err);
    if (rc != 0) {
        lrp_model_close(m);
        return -1;
    }
    *out = m;
    return 0;
}

void lrp_model_close(lrp_model *m) {
    if (!m) return;
    free(m->weights);
    lrp_tf_close(&m->tf);
    free(m);
}

const lrp_tensor *lrp_model_weight(lrp_model *m, const char *name, int optional, int ndim, int64_t d0, int64_t d1,
                                   lrp_err *err) {
    const lrp_tensor *t = lrp_tf_find(&m->tf, name);
    if (!t) {
        if (!optional) lrp_fail(err, "%s: missing tensor \"%s\"", m->path, name);
        return NULL;
    }
    int64_t want[2] = {d0, d1};
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = t->shape[i] == want[i];
    if (!ok) {
        char got[96] = "", exp[64];
        for (int i = 0; i < t->ndim; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? ", " : "", (long long)t->shape[i]);
        if (ndim == 1)
            snprintf(exp, sizeof exp, "%lld", (long long)d0);
        else
            snprintf(exp, sizeof exp, "%lld, %lld", (long long)d0, (long long)d1);
        lrp_fail(err, "%s: tensor \"%s\" has shape [%s], the config implies [%s]", m->path, name, got, exp);
        return NULL;
    }
    if (t->dtype == LRP_F32 && ((uintptr_t)t->data % sizeof(float)) != 0) {
        lrp_fail(err, "%s: tensor \"%s\": float32 data is not 4-byte aligned", m->path, name);
        return NULL;
    }
    int64_t row = ndim == 1 ? d0 : d1;
    if (lrp_dtype_row_bytes(t->dtype, row) == 0) {
        lrp_fail(err, "%s: tensor \"%s\": rows of %lld elements cannot be stored as %s", m->path, name, (long long)row,
                 lrp_dtype_name(t->dtype));
        return NULL;
    }
    m->n_params += lrp_tensor_numel(t);
    return t;
}

size_t lrp_model_scratch_floats(const lrp_model *m) {
    const lrp_config *c = &m->cfg;
    int widest = c->hidden_size;
    if (c->intermediate_size > widest) widest = c->intermediate_size;
    if (c->num_heads * c->head_dim > widest) widest = c->num_heads * c->head_dim;
    if (c->vocab_size > widest) widest = c->vocab_size;
    // 64 rows of the widest matrix (at least 1 MB): enough to keep BLAS efficient on widened panels.
    size_t n = (size_t)widest * 64;
    return n < (1u << 18) ? (1u << 18) : n;
}

int lrp_kv_cache_init(lrp_kv_cache *c, const lrp_model *m, int capacity, lrp_err *err) {
    memset(c, 0, sizeof *c);
    c->n_layers = m->cfg.num_layers;
    c->capacity = capacity;
    c->kv_dim = m->cfg.num_kv_heads * m->cfg.head_dim;
    size_t n = (size_t)c->n_layers * (size_t)capacity * (size_t)c->kv_dim;
    c->k = malloc(n * sizeof(float));
    c->v = malloc(n * sizeof(float));
    if (!c->k || !c->v) {
        lrp_kv_cache_free(c);
        return lrp_fail(err, "out of memory for a KV cache of %d positions", capacity);
    }
    return 0;
}

void lrp_kv_cache_free(lrp_kv_cache *c) {
    free(c->k);
    free(c->v);
    memset(c, 0, sizeof *c);
}

int lrp_check_interventions(const lrp_model *m, const lrp_intervention *iv, int n_iv, lrp_err *err) {
    const lrp_config *c = &m->cfg;
    for (int k = 0; k < n_iv; k++) {
        if (iv[k].layer < 0 || iv[k].layer >= c->num_layers)
            return lrp_fail(err, "--set %d:%d: layer %d out of range (0..%d)", iv[k].layer, iv[k].neuron, iv[k].layer,
                            c->num_layers - 1);
        if (iv[k].neuron < 0 || iv[k].neuron >= c->intermediate_size)
            return lrp_fail(err, "--set %d:%d: neuron %d out of range (0..%d)", iv[k].layer, iv[k].neuron,
                            iv[k].neuron, c->intermediate_size - 1);
    }
    return 0;
}

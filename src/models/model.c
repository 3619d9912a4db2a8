#include "models/model.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "formats/gguf.h"
#include "kernels/finite.h"
#include "formats/safetensors.h"
#include "kernels/matmul.h"
#include "models/bind.h"
#include "models/registry.h"

const char *lrp_input_kind_name(lrp_input_kind k) {
    static const char *const names[LRP_INPUT_COUNT] = {"words", "positions", "token_types", "cls", "pixels",
                                                       "decoder_words"};
    return (unsigned)k < LRP_INPUT_COUNT ? names[k] : "unknown";
}

static int is_gguf_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char magic[4] = {0};
    size_t n = fread(magic, 1, 4, f);
    fclose(f);
    return n == 4 && memcmp(magic, "GGUF", 4) == 0;
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash && slash[1] ? slash + 1 : path;
}

int lrp_gguf_config_read(const lrp_tensor_file *tf, const char *path, lrp_config *cfg, lrp_err *err) {
    const char *label = base_name(path);
    memset(cfg, 0, sizeof *cfg);
    const lrp_gguf_value *av = lrp_gguf_get(tf, "general.architecture");
    if (!av) return lrp_fail(err, "%s: metadata \"general.architecture\" missing", label);
    const char *arch = lrp_gguf_string(av);
    if (!arch)
        return lrp_fail(err, "%s: metadata \"general.architecture\" must be a string, not %s", label,
                        lrp_gguf_type_name(av->type));
    const lrp_family *fam = lrp_family_for_gguf_arch(arch);
    if (!fam) {
        char supported[512], shown[64];
        lrp_families_supported(supported, sizeof supported, 1);
        size_t n = 0;
        for (const char *p = arch; *p && n < sizeof shown - 4; p++) shown[n++] = (*p >= 32 && *p < 127) ? *p : '?';
        shown[n] = '\0';
        return lrp_fail(err, "%s: GGUF architecture \"%s\" is not supported (supported: %s)", label, shown, supported);
    }
    snprintf(cfg->model_type, sizeof cfg->model_type, "%s", arch);
    cfg->bos_token_id = -1;
    cfg->pad_token_id = -1;
    lrp_hp_gguf h = {tf, label, arch, err};
    if (fam->read_gguf(cfg, &h) != 0 || lrp_config_validate(cfg, label, err) != 0) {
        lrp_config_free(cfg);
        return -1;
    }
    return 0;
}

int lrp_model_open(lrp_model **out, const char *path, lrp_err *err) {
    *out = NULL;
    struct stat st;
    if (stat(path, &st) != 0) return lrp_fail(err, "%s: no such file or directory", path);
    int mode = LRP_NONFINITE_REFUSE;
    const char *env = getenv("ATTNLRP_NONFINITE");
    if (env && *env) {
        if (!strcmp(env, "refuse")) mode = LRP_NONFINITE_REFUSE;
        else if (!strcmp(env, "warn")) mode = LRP_NONFINITE_WARN;
        else if (!strcmp(env, "skip")) mode = LRP_NONFINITE_SKIP;
        else return lrp_fail(err, "ATTNLRP_NONFINITE=%s: expected refuse, warn or skip", env);
    }
    lrp_model *m = calloc(1, sizeof *m);
    if (!m) return lrp_fail(err, "out of memory");
    m->nonfinite_mode = mode;
    snprintf(m->path, sizeof m->path, "%s", path);
    int rc;
    if (S_ISDIR(st.st_mode)) {
        char cfg_path[1200];
        snprintf(cfg_path, sizeof cfg_path, "%s/config.json", path);
        snprintf(m->format, sizeof m->format, "safetensors");
        rc = lrp_config_load(&m->cfg, cfg_path, err);
        if (rc != 0) lrp_fail_prefix(err, path);
        if (rc == 0) rc = lrp_safetensors_open(&m->tf, path, err);
    } else if (is_gguf_file(path)) {
        snprintf(m->format, sizeof m->format, "gguf");
        rc = lrp_gguf_open(&m->tf, path, err);
        if (rc == 0) rc = lrp_gguf_config_read(&m->tf, path, &m->cfg, err);
    } else {
        rc = lrp_fail(err, "%s: not a checkpoint directory (config.json + model.safetensors) or a GGUF file", path);
    }
    if (rc == 0) rc = lrp_config_validate(&m->cfg, path, err);
    if (rc == 0) {
        m->family = lrp_family_for_model_type(m->cfg.model_type);
        if (!m->family) m->family = lrp_family_for_gguf_arch(m->cfg.model_type);
        if (!m->family) rc = lrp_fail(err, "%s: no family for model_type \"%s\"", path, m->cfg.model_type);
    }
    if (rc == 0) rc = m->family->bind(m, err);
    if (rc == 0 && m->nonfinite_count && m->nonfinite_mode == LRP_NONFINITE_REFUSE) {
        int quant = !lrp_dtype_is_elementwise(m->nonfinite_first->dtype);
        char more[96] = "";
        if (m->nonfinite_tensors > 1)
            snprintf(more, sizeof more, "; %lld in %d tensors in all", m->nonfinite_count, m->nonfinite_tensors);
        rc = lrp_fail(err, "%s: tensor \"%s\" holds %lld non-finite %s (NaN or inf), the first at element %lld%s: "
                      "the checkpoint is broken (ATTNLRP_NONFINITE=warn opens it anyway)", path,
                      m->nonfinite_first->name, m->nonfinite_first_count, quant ? "block scales" : "values",
                      (long long)m->nonfinite_first_index, more);
    }
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
    free(m->scanned);
    lrp_config_free(&m->cfg);
    lrp_tf_close(&m->tf);
    free(m);
    lrp_arena_release();  // the activation memory kept mapped for the next explanation
}

int lrp_model_is_gguf(const lrp_model *m) { return strcmp(m->format, "gguf") == 0; }

void *lrp_bind_alloc(lrp_model *m, size_t bytes, lrp_err *err) {
    m->weights = calloc(1, bytes);
    if (!m->weights) lrp_fail(err, "out of memory");
    return m->weights;
}

static void shape_string(char *buf, size_t cap, int ndim, const int64_t *shape) {
    buf[0] = '\0';
    for (int i = 0; i < ndim; i++)
        snprintf(buf + strlen(buf), cap - strlen(buf), "%s%lld", i ? ", " : "", (long long)shape[i]);
}

// Counts the non-finite values of a bound tensor, once (kernels/finite.h).
static int scan_bound(lrp_model *m, const lrp_tensor *t, lrp_err *err) {
    if (m->nonfinite_mode == LRP_NONFINITE_SKIP) return 0;
    if (!m->scanned && !(m->scanned = calloc((size_t)m->tf.n_tensors + 1, 1))) return lrp_fail(err, "out of memory");
    ptrdiff_t k = t - m->tf.tensors;
    if (k < 0 || k >= m->tf.n_tensors || m->scanned[k]) return 0;
    m->scanned[k] = 1;
    int64_t first;
    int64_t n = lrp_count_nonfinite(t->dtype, t->data, lrp_tensor_numel(t), &first);
    if (n == 0) return 0;
    if (!m->nonfinite_first) {
        m->nonfinite_first = t;
        m->nonfinite_first_count = n;
        m->nonfinite_first_index = first;
    }
    m->nonfinite_count += n;
    m->nonfinite_tensors++;
    return 0;
}

int lrp_bind(lrp_model *m, lrp_weight *w, int optional, int transposed, int64_t d0, int64_t d1, lrp_err *err,
             const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    memset(w, 0, sizeof *w);
    const lrp_tensor *t = lrp_tf_find(&m->tf, name);
    if (!t) return optional ? 0 : lrp_fail(err, "%s: missing tensor \"%s\"", m->path, name);
    int ndim = d1 < 0 ? 1 : 2;
    int64_t want[2] = {transposed ? d1 : d0, transposed ? d0 : d1};
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = t->shape[i] == want[i];
    if (!ok) {
        char got[96], exp[96];
        shape_string(got, sizeof got, t->ndim, t->shape);
        shape_string(exp, sizeof exp, ndim, want);
        return lrp_fail(err, "%s: tensor \"%s\" has shape [%s], the config implies [%s]", m->path, name, got, exp);
    }
    if (t->dtype == LRP_F32 && ((uintptr_t)t->data % sizeof(float)) != 0)
        return lrp_fail(err, "%s: tensor \"%s\": float32 data is not 4-byte aligned", m->path, name);
    *w = lrp_weight_of(t);
    if (transposed) {
        w->out = d0;
        w->in = d1;
        w->transposed = 1;
    }
    if (!lrp_dtype_is_weight(t->dtype)) {
        memset(w, 0, sizeof *w);
        return lrp_fail(err, "%s: tensor \"%s\": dtype %s cannot be a weight (F32, F16, BF16 or a GGUF quantisation)",
                        m->path, name, lrp_dtype_name(t->dtype));
    }
    if (lrp_weight_check(w) != 0) {
        memset(w, 0, sizeof *w);
        if (transposed)
            return lrp_fail(err, "%s: tensor \"%s\": a transposed weight must be F32, F16 or BF16, not %s", m->path,
                            name, lrp_dtype_name(t->dtype));
        return lrp_fail(err, "%s: tensor \"%s\": rows of %lld elements cannot be stored as %s", m->path, name,
                        (long long)(ndim == 1 ? d0 : d1), lrp_dtype_name(t->dtype));
    }
    m->n_params += lrp_tensor_numel(t);
    return scan_bound(m, t, err);
}

int lrp_bind_as_matrix(lrp_model *m, lrp_weight *w, int ndim, const int64_t *dims, int64_t out, int64_t in,
                       lrp_err *err, const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    memset(w, 0, sizeof *w);
    const lrp_tensor *t = lrp_tf_find(&m->tf, name);
    if (!t) return lrp_fail(err, "%s: missing tensor \"%s\"", m->path, name);
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = t->shape[i] == dims[i];
    if (!ok) {
        char got[96], exp[96];
        shape_string(got, sizeof got, t->ndim, t->shape);
        shape_string(exp, sizeof exp, ndim, dims);
        return lrp_fail(err, "%s: tensor \"%s\" has shape [%s], the config implies [%s]", m->path, name, got, exp);
    }
    // A GGUF quantisation is readable when each row of the matrix is the stored innermost dimension
    // (stacked expert tensors [n_expert, out, in]) and a whole number of blocks.
    int quant_rows = lrp_dtype_is_weight(t->dtype) && ndim >= 2 && dims[ndim - 1] == in;
    if (!lrp_dtype_is_elementwise(t->dtype) && !quant_rows)
        return lrp_fail(err, "%s: tensor \"%s\": dtype %s (expected F32, F16 or BF16)", m->path, name,
                        lrp_dtype_name(t->dtype));
    if (t->dtype == LRP_F32 && ((uintptr_t)t->data % sizeof(float)) != 0)
        return lrp_fail(err, "%s: tensor \"%s\": float32 data is not 4-byte aligned", m->path, name);
    *w = lrp_weight_of(t);
    w->out = out;
    w->in = in;
    if (lrp_weight_check(w) != 0) {
        memset(w, 0, sizeof *w);
        return lrp_fail(err, "%s: tensor \"%s\": rows of %lld elements cannot be stored as %s", m->path, name,
                        (long long)in, lrp_dtype_name(t->dtype));
    }
    m->n_params += lrp_tensor_numel(t);
    return scan_bound(m, t, err);
}

lrp_weight lrp_weight_rows(const lrp_weight *w, int64_t offset, int64_t n) {
    lrp_weight v = *w;
    v.offset += offset;
    v.out = n;
    return v;
}

int lrp_model_forward(const lrp_model *m, lrp_graph *g, lrp_forward *f) {
    int NL = m->cfg.num_layers;
    memset(&f->taps, 0, sizeof f->taps);
    lrp_act **arrays = lrp_graph_alloc(g, 4 * (size_t)NL * sizeof *arrays, 1);
    if (!arrays) return -1;
    f->taps.block_out = arrays;
    f->taps.mlp_act = arrays + NL;
    f->taps.attn_probs = arrays + 2 * NL;
    f->taps.attn_out = arrays + 3 * NL;
    if (m->cfg.num_experts > 0) {
        f->taps.moe_weights = lrp_graph_alloc(g, (size_t)NL * sizeof *f->taps.moe_weights, 1);
        f->taps.moe_experts = lrp_graph_alloc(g, (size_t)NL * sizeof *f->taps.moe_experts, 1);
        if (!f->taps.moe_weights || !f->taps.moe_experts) return -1;
        if (m->cfg.shared_expert_intermediate_size > 0 &&
            !(f->taps.moe_shared_gate = lrp_graph_alloc(g, (size_t)NL * sizeof *f->taps.moe_shared_gate, 1)))
            return -1;
    }
    g->iv_rows_of = f->iv_rows ? (const void *)f->iv : NULL;  // per-row values of f->iv (op_intervene)
    g->iv_rows = f->iv_rows;
    int rc = m->family->forward(m, g, f);
    g->iv_rows_of = NULL;
    g->iv_rows = NULL;
    if (rc) return -1;
    for (int k = 0; k < f->n_head_iv; k++)  // a family without head taps cannot apply them
        if (!f->taps.attn_out[f->head_iv[k].layer]) {
            lrp_fail(&g->err, "head_intervention %d:%d: %s has no attention head outputs to intervene on",
                     f->head_iv[k].layer, f->head_iv[k].neuron, m->cfg.model_type);
            return -1;
        }
    return 0;
}

size_t lrp_model_scratch_floats(const lrp_model *m) {
    const lrp_config *c = &m->cfg;
    int widest = c->hidden_size;
    if (c->intermediate_size > widest) widest = c->intermediate_size;
    if (3 * c->num_heads * c->head_dim > widest) widest = 3 * c->num_heads * c->head_dim;
    if (c->vocab_size > widest) widest = c->vocab_size;
    // 64 rows of the widest matrix (at least 1 MB): enough to keep BLAS efficient on widened panels.
    size_t n = (size_t)widest * 64;
    return n < (1u << 18) ? (1u << 18) : n;
}

int lrp_model_n_outputs(const lrp_model *m) {
    return m->cfg.task == LRP_TASK_CLASSIFIER ? m->cfg.n_labels : m->cfg.vocab_size;
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
    free(c->cross_k);
    free(c->cross_v);
    memset(c, 0, sizeof *c);
}

int lrp_check_interventions(const lrp_model *m, const lrp_intervention *iv, int n_iv, lrp_err *err) {
    const lrp_config *c = &m->cfg;
    for (int k = 0; k < n_iv; k++) {
        if (iv[k].layer < 0 || iv[k].layer >= c->num_layers)
            return lrp_fail(err, "intervention %d:%d: layer %d out of range (0..%d)", iv[k].layer, iv[k].neuron,
                            iv[k].layer, c->num_layers - 1);
        if (iv[k].neuron < 0 || iv[k].neuron >= c->intermediate_size)
            return lrp_fail(err, "intervention %d:%d: neuron %d out of range (0..%d)", iv[k].layer, iv[k].neuron,
                            iv[k].neuron, c->intermediate_size - 1);
    }
    return 0;
}

int lrp_check_head_interventions(const lrp_model *m, const lrp_intervention *iv, int n_iv, lrp_err *err) {
    const lrp_config *c = &m->cfg;
    for (int k = 0; k < n_iv; k++) {
        if (iv[k].layer < 0 || iv[k].layer >= c->num_layers)
            return lrp_fail(err, "head_intervention %d:%d: layer %d out of range (0..%d)", iv[k].layer, iv[k].neuron,
                            iv[k].layer, c->num_layers - 1);
        if (iv[k].neuron < 0 || iv[k].neuron >= c->num_heads)
            return lrp_fail(err, "head_intervention %d:%d: head %d out of range (0..%d)", iv[k].layer, iv[k].neuron,
                            iv[k].neuron, c->num_heads - 1);
        if (!(iv[k].kind == LRP_SET_SCALE || (iv[k].kind == LRP_SET_VALUE && iv[k].value == 0)))
            return lrp_fail(err, "head_intervention %d:%d: a head can be zeroed (=0) or scaled (=*F) only",
                            iv[k].layer, iv[k].neuron);
    }
    return 0;
}

const lrp_tensor *lrp_model_find_nonfinite(const lrp_model *m, int64_t *index) {
    if (m->nonfinite_mode != LRP_NONFINITE_SKIP) {  // scanned at load
        *index = m->nonfinite_first ? m->nonfinite_first_index : 0;
        return m->nonfinite_first;
    }
    for (int k = 0; k < m->tf.n_tensors; k++) {
        const lrp_tensor *t = &m->tf.tensors[k];
        if (lrp_count_nonfinite(t->dtype, t->data, lrp_tensor_numel(t), index) > 0) return t;
    }
    return NULL;
}

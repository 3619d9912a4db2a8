// Tiny Hugging Face checkpoints for the C tests. See tiny_ckpt.h.
#include "tiny_ckpt.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// ---------------------------------------------------------------------------------------------
// A growing string.

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int failed;
} sbuf;

__attribute__((format(printf, 2, 3))) static void sb_printf(sbuf *b, const char *fmt, ...) {
    if (b->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap ? 2 * b->cap : 256) + (size_t)n;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

// The shortest "%.Ng" that reads back as x, with ".0" added to integral values as Python's json does.
static void sb_double(sbuf *b, double x) {
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, x);
        if (strtod(tmp, NULL) == x) break;
    }
    if (!strpbrk(tmp, ".eEn")) strcat(tmp, ".0");
    sb_printf(b, "%s", tmp);
}

// ---------------------------------------------------------------------------------------------
// IEEE conversions (scalar, round to nearest even).

uint16_t tiny_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, exp = (x >> 23) & 0xffu, mant = x & 0x7fffffu;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00u);
    if (e <= 0) {  // a subnormal half (or zero): value = m * 2^-24
        if (e < -10) return (uint16_t)sign;
        uint32_t m = mant | 0x800000u;
        int shift = 14 - e;
        uint32_t half = m >> shift, rem = m & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1u))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = ((uint32_t)e << 10) | (mant >> 13), rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (half & 1u))) half++;  // a carry may reach infinity: correct
    return (uint16_t)(sign | half);
}

float tiny_f16_to_f32(uint16_t h) {
    uint32_t sign = h & 0x8000u, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    float v;
    if (exp == 0) {
        v = ldexpf((float)mant, -24);
    } else if (exp == 31) {
        uint32_t u = 0x7f800000u | (mant << 13);
        memcpy(&v, &u, 4);
    } else {
        v = ldexpf((float)(mant | 0x400u), (int)exp - 25);
    }
    return sign ? -v : v;
}

uint16_t tiny_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float tiny_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

// ---------------------------------------------------------------------------------------------
// Random numbers: splitmix64 and Box-Muller.

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t splitmix64(rng *r) {
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double normal(rng *r) {
    double u1 = ((splitmix64(r) >> 11) + 1) * 0x1p-53;  // (0, 1]
    double u2 = (splitmix64(r) >> 11) * 0x1p-53;        // [0, 1)
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static uint64_t name_hash(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

// ---------------------------------------------------------------------------------------------
// Generation.

tiny_ckpt_opts tiny_ckpt_defaults(void) {
    return (tiny_ckpt_opts){
        .model_type = "llama",
        .hidden = 16,
        .layers = 2,
        .heads = 4,
        .kv_heads = 2,
        .intermediate = 32,
        .vocab = 40,
        .max_position_embeddings = 256,
        .rope_theta = 10000.0,
        .rope_factor = 8.0,
        .rope_low_freq_factor = 1.0,
        .rope_high_freq_factor = 4.0,
        .rope_original_max_position = 64,
        .rms_norm_eps = 1e-6,
        .dtype = LRP_F32,
        .seed = 1,
    };
}

typedef enum init_kind { INIT_LINEAR, INIT_EMBED, INIT_NORM, INIT_BIAS } init_kind;

static size_t dtype_size(lrp_dtype dt) {
    return dt == LRP_F32 ? 4 : 2;
}

static const char *dtype_st_name(lrp_dtype dt) {
    return dt == LRP_F32 ? "F32" : dt == LRP_F16 ? "F16" : "BF16";
}

static const char *dtype_torch_name(lrp_dtype dt) {
    return dt == LRP_F32 ? "float32" : dt == LRP_F16 ? "float16" : "bfloat16";
}

// Appends one tensor; the values come from the stream of `stream_name` (normally the name itself).
static int add_tensor(tiny_ckpt *ck, const tiny_ckpt_opts *o, const char *name, const char *stream_name,
                      int64_t d0, int64_t d1, init_kind kind, int64_t fan_in, lrp_err *err) {
    tiny_tensor *nt = realloc(ck->tensors, (size_t)(ck->n + 1) * sizeof *nt);
    if (!nt) return lrp_fail(err, "tiny_ckpt: out of memory");
    ck->tensors = nt;
    tiny_tensor *t = &ck->tensors[ck->n];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->dtype = o->dtype;
    t->ndim = d1 ? 2 : 1;
    t->shape[0] = d0;
    t->shape[1] = d1;
    t->numel = d0 * (d1 ? d1 : 1);
    t->nbytes = (size_t)t->numel * dtype_size(o->dtype);
    t->values = malloc((size_t)t->numel * sizeof(float) + 1);
    t->bytes = malloc(t->nbytes + 1);
    ck->n++;
    if (!t->values || !t->bytes) return lrp_fail(err, "tiny_ckpt: out of memory");

    rng r = {o->seed ^ name_hash(stream_name)};
    double std = kind == INIT_LINEAR ? 1.0 / sqrt((double)fan_in) : kind == INIT_EMBED ? 1.0 / sqrt((double)o->hidden)
                                                                                       : 0.1;
    for (int64_t i = 0; i < t->numel; i++) {
        float v;
        if (kind == INIT_NORM) v = (float)(1.0 + 0.1 * normal(&r));
        else if (kind == INIT_BIAS && !o->nonzero_biases) v = 0.0f;
        else v = (float)(std * normal(&r));
        unsigned char *dst = (unsigned char *)t->bytes + (size_t)i * dtype_size(o->dtype);
        if (o->dtype == LRP_F32) {
            uint32_t u;
            memcpy(&u, &v, 4);
            for (int k = 0; k < 4; k++) dst[k] = (unsigned char)(u >> (8 * k));
        } else {
            uint16_t h = o->dtype == LRP_F16 ? tiny_f32_to_f16(v) : tiny_f32_to_bf16(v);
            v = o->dtype == LRP_F16 ? tiny_f16_to_f32(h) : tiny_bf16_to_f32(h);
            dst[0] = (unsigned char)h;
            dst[1] = (unsigned char)(h >> 8);
        }
        t->values[i] = v;
    }
    return 0;
}

static int family_known(const char *mt) {
    return strcmp(mt, "llama") == 0 || strcmp(mt, "mistral") == 0 || strcmp(mt, "qwen2") == 0 ||
           strcmp(mt, "qwen3") == 0;
}

static int head_dim_of(const tiny_ckpt_opts *o) {
    return o->head_dim ? o->head_dim : o->hidden / o->heads;
}

int tiny_ckpt_generate(tiny_ckpt *ck, const tiny_ckpt_opts *o, lrp_err *err) {
    memset(ck, 0, sizeof *ck);
    if (!o->model_type || !family_known(o->model_type))
        return lrp_fail(err, "tiny_ckpt: unknown model_type \"%s\"", o->model_type ? o->model_type : "(null)");
    if (o->hidden <= 0 || o->layers <= 0 || o->heads <= 0 || o->kv_heads <= 0 || o->intermediate <= 0 ||
        o->vocab <= 0 || head_dim_of(o) <= 0 || o->layers > 1000)
        return lrp_fail(err, "tiny_ckpt: bad sizes");
    if (o->dtype != LRP_F32 && o->dtype != LRP_F16 && o->dtype != LRP_BF16)
        return lrp_fail(err, "tiny_ckpt: dtype must be F32, F16 or BF16");

    const int64_t d = o->hidden, hd = head_dim_of(o), q = (int64_t)o->heads * hd, kv = (int64_t)o->kv_heads * hd;
    const int64_t ff = o->intermediate, V = o->vocab;
    const int qwen2 = strcmp(o->model_type, "qwen2") == 0, qwen3 = strcmp(o->model_type, "qwen3") == 0;
    const int qkv_bias = qwen2 || o->attention_bias, o_bias = !qwen2 && o->attention_bias;
    const int head_stored = o->tie_word_embeddings && o->tied_store_head;
    char n[96];
    int rc = 0;
#define ADD(name, d0, d1, kind, fan) \
    if (rc == 0) rc = add_tensor(ck, o, name, name, d0, d1, kind, fan, err)
#define LAYER(suffix, d0, d1, kind, fan)                                  \
    do {                                                                  \
        snprintf(n, sizeof n, "model.layers.%d.%s", i, suffix);            \
        ADD(n, d0, d1, kind, fan);                                        \
    } while (0)

    if (!head_stored) ADD("model.embed_tokens.weight", V, d, INIT_EMBED, d);
    for (int i = 0; i < o->layers; i++) {
        LAYER("self_attn.q_proj.weight", q, d, INIT_LINEAR, d);
        if (qkv_bias) LAYER("self_attn.q_proj.bias", q, 0, INIT_BIAS, 0);
        LAYER("self_attn.k_proj.weight", kv, d, INIT_LINEAR, d);
        if (qkv_bias) LAYER("self_attn.k_proj.bias", kv, 0, INIT_BIAS, 0);
        LAYER("self_attn.v_proj.weight", kv, d, INIT_LINEAR, d);
        if (qkv_bias) LAYER("self_attn.v_proj.bias", kv, 0, INIT_BIAS, 0);
        LAYER("self_attn.o_proj.weight", d, q, INIT_LINEAR, q);
        if (o_bias) LAYER("self_attn.o_proj.bias", d, 0, INIT_BIAS, 0);
        if (qwen3) {
            LAYER("self_attn.q_norm.weight", hd, 0, INIT_NORM, 0);
            LAYER("self_attn.k_norm.weight", hd, 0, INIT_NORM, 0);
        }
        LAYER("mlp.gate_proj.weight", ff, d, INIT_LINEAR, d);
        if (o->mlp_bias) LAYER("mlp.gate_proj.bias", ff, 0, INIT_BIAS, 0);
        LAYER("mlp.up_proj.weight", ff, d, INIT_LINEAR, d);
        if (o->mlp_bias) LAYER("mlp.up_proj.bias", ff, 0, INIT_BIAS, 0);
        LAYER("mlp.down_proj.weight", d, ff, INIT_LINEAR, ff);
        if (o->mlp_bias) LAYER("mlp.down_proj.bias", d, 0, INIT_BIAS, 0);
        LAYER("input_layernorm.weight", d, 0, INIT_NORM, 0);
        LAYER("post_attention_layernorm.weight", d, 0, INIT_NORM, 0);
    }
    ADD("model.norm.weight", d, 0, INIT_NORM, 0);
    if (head_stored) {
        // The tied matrix keeps the embedding's values; only the stored name differs.
        if (rc == 0) rc = add_tensor(ck, o, "lm_head.weight", "model.embed_tokens.weight", V, d, INIT_EMBED, d, err);
    } else if (!o->tie_word_embeddings) {
        ADD("lm_head.weight", V, d, INIT_EMBED, d);
    }
#undef LAYER
#undef ADD
    if (rc != 0) tiny_ckpt_free(ck);
    return rc;
}

const tiny_tensor *tiny_ckpt_find(const tiny_ckpt *ck, const char *name) {
    for (int i = 0; i < ck->n; i++) {
        if (strcmp(ck->tensors[i].name, name) == 0) return &ck->tensors[i];
    }
    return NULL;
}

void tiny_ckpt_free(tiny_ckpt *ck) {
    for (int i = 0; i < ck->n; i++) {
        free(ck->tensors[i].values);
        free(ck->tensors[i].bytes);
    }
    free(ck->tensors);
    memset(ck, 0, sizeof *ck);
}

// ---------------------------------------------------------------------------------------------
// Writing.

static int write_all(const char *path, const void *a, size_t na, const void *b, size_t nb, lrp_err *err) {
    FILE *f = fopen(path, "wb");
    if (!f) return lrp_fail(err, "%s: %s", path, strerror(errno));
    int ok = (na == 0 || fwrite(a, 1, na, f) == na) && (nb == 0 || fwrite(b, 1, nb, f) == nb);
    ok = (fclose(f) == 0) && ok;
    return ok ? 0 : lrp_fail(err, "%s: write failed", path);
}

int tiny_write_text(const char *path, const char *text, lrp_err *err) {
    return write_all(path, text, strlen(text), NULL, 0, err);
}

int tiny_write_raw(const char *path, uint64_t header_len, const char *header, const void *data, size_t data_len,
                   lrp_err *err) {
    size_t hl = header ? strlen(header) : 0;
    unsigned char *buf = malloc(8 + hl + data_len + 1);
    if (!buf) return lrp_fail(err, "tiny_write_raw: out of memory");
    for (int k = 0; k < 8; k++) buf[k] = (unsigned char)(header_len >> (8 * k));
    if (hl) memcpy(buf + 8, header, hl);
    if (data_len) memcpy(buf + 8 + hl, data, data_len);
    int rc = write_all(path, buf, 8 + hl + data_len, NULL, 0, err);
    free(buf);
    return rc;
}

static int compare_tensor_ptrs(const void *a, const void *b) {
    return strcmp((*(const tiny_tensor *const *)a)->name, (*(const tiny_tensor *const *)b)->name);
}

int tiny_write_safetensors(const char *path, const tiny_tensor *const *ts, int n, const char *metadata_json,
                           lrp_err *err) {
    const tiny_tensor **sorted = malloc((size_t)(n ? n : 1) * sizeof *sorted);
    if (!sorted) return lrp_fail(err, "tiny_write_safetensors: out of memory");
    memcpy(sorted, ts, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, compare_tensor_ptrs);

    sbuf h = {0};
    sb_printf(&h, "{");
    if (metadata_json) sb_printf(&h, "\"__metadata__\":{%s}%s", metadata_json, n ? "," : "");
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        const tiny_tensor *t = sorted[i];
        sb_printf(&h, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[", i ? "," : "", t->name, dtype_st_name(t->dtype));
        for (int k = 0; k < t->ndim; k++) sb_printf(&h, "%s%lld", k ? "," : "", (long long)t->shape[k]);
        sb_printf(&h, "],\"data_offsets\":[%zu,%zu]}", off, off + t->nbytes);
        off += t->nbytes;
    }
    sb_printf(&h, "}");
    while (!h.failed && h.len % 8 != 0) sb_printf(&h, " ");

    unsigned char *data = malloc(off + 1);
    int rc;
    if (h.failed || !data) {
        rc = lrp_fail(err, "tiny_write_safetensors: out of memory");
    } else {
        size_t pos = 0;
        for (int i = 0; i < n; i++) {
            memcpy(data + pos, sorted[i]->bytes, sorted[i]->nbytes);
            pos += sorted[i]->nbytes;
        }
        unsigned char *file = malloc(8 + h.len + off);
        if (!file) {
            rc = lrp_fail(err, "tiny_write_safetensors: out of memory");
        } else {
            for (int k = 0; k < 8; k++) file[k] = (unsigned char)((uint64_t)h.len >> (8 * k));
            memcpy(file + 8, h.p, h.len);
            memcpy(file + 8 + h.len, data, off);
            rc = write_all(path, file, 8 + h.len + off, NULL, 0, err);
            free(file);
        }
    }
    free(data);
    free(h.p);
    free(sorted);
    return rc;
}

static void sb_rope_fields(sbuf *b, const tiny_ckpt_opts *o, const char *indent) {
    if (o->rope_scaling == LRP_ROPE_SCALING_LINEAR) {
        sb_printf(b, "%s\"factor\": ", indent);
        sb_double(b, o->rope_factor);
        sb_printf(b, ",\n");
    } else if (o->rope_scaling == LRP_ROPE_SCALING_LLAMA3) {
        sb_printf(b, "%s\"factor\": ", indent);
        sb_double(b, o->rope_factor);
        sb_printf(b, ",\n%s\"high_freq_factor\": ", indent);
        sb_double(b, o->rope_high_freq_factor);
        sb_printf(b, ",\n%s\"low_freq_factor\": ", indent);
        sb_double(b, o->rope_low_freq_factor);
        sb_printf(b, ",\n%s\"original_max_position_embeddings\": %d,\n", indent, o->rope_original_max_position);
    }
}

static const char *rope_type_name(lrp_rope_scaling s) {
    return s == LRP_ROPE_SCALING_LINEAR ? "linear" : s == LRP_ROPE_SCALING_LLAMA3 ? "llama3" : "default";
}

static const char *architecture(const char *mt) {
    if (strcmp(mt, "mistral") == 0) return "MistralForCausalLM";
    if (strcmp(mt, "qwen2") == 0) return "Qwen2ForCausalLM";
    if (strcmp(mt, "qwen3") == 0) return "Qwen3ForCausalLM";
    return "LlamaForCausalLM";
}

// config.json with sorted keys and two-space indentation, as transformers' save_pretrained writes it.
int tiny_write_config(const char *path, const tiny_ckpt_opts *o, lrp_err *err) {
    if (!o->model_type || !family_known(o->model_type))
        return lrp_fail(err, "tiny_ckpt: unknown model_type \"%s\"", o->model_type ? o->model_type : "(null)");
    const int qwen2 = strcmp(o->model_type, "qwen2") == 0, qwen3 = strcmp(o->model_type, "qwen3") == 0;
    const int llama = strcmp(o->model_type, "llama") == 0;
    sbuf b = {0};
    sb_printf(&b, "{\n  \"architectures\": [\n    \"%s\"\n  ],\n", architecture(o->model_type));
    if (!qwen2 && (llama || qwen3 || o->attention_bias))
        sb_printf(&b, "  \"attention_bias\": %s,\n", o->attention_bias ? "true" : "false");
    sb_printf(&b, "  \"attention_dropout\": 0.0,\n  \"bos_token_id\": 1,\n");
    if (o->transformers_v5) sb_printf(&b, "  \"dtype\": \"%s\",\n", dtype_torch_name(o->dtype));
    sb_printf(&b, "  \"eos_token_id\": 2,\n");
    if (o->head_dim || qwen3) sb_printf(&b, "  \"head_dim\": %d,\n", head_dim_of(o));
    sb_printf(&b, "  \"hidden_act\": \"silu\",\n  \"hidden_size\": %d,\n  \"initializer_range\": 0.02,\n",
              o->hidden);
    sb_printf(&b, "  \"intermediate_size\": %d,\n  \"max_position_embeddings\": %d,\n", o->intermediate,
              o->max_position_embeddings);
    if (llama || o->mlp_bias) sb_printf(&b, "  \"mlp_bias\": %s,\n", o->mlp_bias ? "true" : "false");
    sb_printf(&b, "  \"model_type\": \"%s\",\n  \"num_attention_heads\": %d,\n  \"num_hidden_layers\": %d,\n",
              o->model_type, o->heads, o->layers);
    sb_printf(&b, "  \"num_key_value_heads\": %d,\n  \"rms_norm_eps\": ", o->kv_heads);
    sb_double(&b, o->rms_norm_eps);
    sb_printf(&b, ",\n");
    if (o->transformers_v5) {
        sb_printf(&b, "  \"rope_parameters\": {\n");
        sb_rope_fields(&b, o, "    ");
        sb_printf(&b, "    \"rope_theta\": ");
        sb_double(&b, o->rope_theta);
        sb_printf(&b, ",\n    \"rope_type\": \"%s\"\n  },\n", rope_type_name(o->rope_scaling));
    } else {
        if (o->rope_scaling == LRP_ROPE_SCALING_NONE) {
            sb_printf(&b, "  \"rope_scaling\": null,\n");
        } else {
            sb_printf(&b, "  \"rope_scaling\": {\n");
            sb_rope_fields(&b, o, "    ");
            sb_printf(&b, "    \"rope_type\": \"%s\"\n  },\n", rope_type_name(o->rope_scaling));
        }
        sb_printf(&b, "  \"rope_theta\": ");
        sb_double(&b, o->rope_theta);
        sb_printf(&b, ",\n");
    }
    sb_printf(&b, "  \"tie_word_embeddings\": %s,\n", o->tie_word_embeddings ? "true" : "false");
    if (!o->transformers_v5) sb_printf(&b, "  \"torch_dtype\": \"%s\",\n", dtype_torch_name(o->dtype));
    sb_printf(&b, "  \"transformers_version\": \"%s\",\n  \"use_cache\": true,\n  \"vocab_size\": %d\n}\n",
              o->transformers_v5 ? "5.0.0" : "4.46.0", o->vocab);
    int rc = b.failed ? lrp_fail(err, "tiny_write_config: out of memory") : tiny_write_text(path, b.p, err);
    free(b.p);
    return rc;
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

// Two shards (the first half of the state dict and the rest) and the index transformers writes.
static int write_sharded(const char *dir, const tiny_ckpt *ck, const char *meta, lrp_err *err) {
    static const char *shard_names[2] = {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"};
    int split = ck->n / 2, rc = 0;
    const tiny_tensor **ptrs = malloc((size_t)ck->n * sizeof *ptrs);
    const char **names = malloc((size_t)ck->n * sizeof *names);
    char path[4096];
    if (!ptrs || !names) rc = lrp_fail(err, "tiny_ckpt: out of memory");
    size_t total = 0;
    for (int i = 0; rc == 0 && i < ck->n; i++) {
        ptrs[i] = &ck->tensors[i];
        names[i] = ck->tensors[i].name;
        total += ck->tensors[i].nbytes;
    }
    if (rc == 0) rc = tiny_write_safetensors(tiny_path(path, sizeof path, dir, shard_names[0]), ptrs, split, meta, err);
    if (rc == 0)
        rc = tiny_write_safetensors(tiny_path(path, sizeof path, dir, shard_names[1]), ptrs + split, ck->n - split,
                                    meta, err);
    if (rc == 0) {
        qsort(names, (size_t)ck->n, sizeof *names, compare_names);
        sbuf b = {0};
        sb_printf(&b, "{\n  \"metadata\": {\n    \"total_size\": %zu\n  },\n  \"weight_map\": {\n", total);
        for (int i = 0; i < ck->n; i++) {
            int shard = tiny_ckpt_find(ck, names[i]) - ck->tensors >= split;
            sb_printf(&b, "    \"%s\": \"%s\"%s\n", names[i], shard_names[shard], i + 1 < ck->n ? "," : "");
        }
        sb_printf(&b, "  }\n}\n");
        rc = b.failed ? lrp_fail(err, "tiny_ckpt: out of memory")
                      : tiny_write_text(tiny_path(path, sizeof path, dir, "model.safetensors.index.json"), b.p, err);
        free(b.p);
    }
    free(ptrs);
    free(names);
    return rc;
}

int tiny_ckpt_write(const char *dir, const tiny_ckpt_opts *o, tiny_ckpt *out, lrp_err *err) {
    tiny_ckpt ck;
    char path[4096];
    if (tiny_ckpt_generate(&ck, o, err) != 0) return -1;
    int rc = tiny_write_config(tiny_path(path, sizeof path, dir, "config.json"), o, err);
    const char *meta = o->tie_word_embeddings && o->tied_store_head
                           ? "\"format\":\"pt\",\"model.embed_tokens.weight\":\"lm_head.weight\""
                           : "\"format\":\"pt\"";
    if (rc == 0 && o->sharded) {
        rc = write_sharded(dir, &ck, meta, err);
    } else if (rc == 0) {
        const tiny_tensor **ptrs = malloc((size_t)ck.n * sizeof *ptrs);
        if (!ptrs) {
            rc = lrp_fail(err, "tiny_ckpt: out of memory");
        } else {
            for (int i = 0; i < ck.n; i++) ptrs[i] = &ck.tensors[i];
            rc = tiny_write_safetensors(tiny_path(path, sizeof path, dir, "model.safetensors"), ptrs, ck.n, meta, err);
            free(ptrs);
        }
    }
    if (rc == 0 && out) *out = ck;
    else tiny_ckpt_free(&ck);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// Temporary directories.

char *tiny_mkdtemp(char *buf, size_t cap) {
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !tmp[0]) tmp = "/tmp";
    if ((size_t)snprintf(buf, cap, "%s/attnlrp-test-XXXXXX", tmp) >= cap) return NULL;
    return mkdtemp(buf);
}

void tiny_rmtree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        unlink(tiny_path(path, sizeof path, dir, e->d_name));
    }
    closedir(d);
    rmdir(dir);
}

char *tiny_path(char *buf, size_t cap, const char *dir, const char *name) {
    snprintf(buf, cap, "%s/%s", dir, name);
    return buf;
}

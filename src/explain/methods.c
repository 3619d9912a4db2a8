#include "explain/methods.h"

#include "models/config.h"

#include <stdio.h>
#include <string.h>

static const lrp_method_info methods[] = {
    {"attnlrp", "AttnLRP: LRP with attention-aware rules (default)", LRP_METHOD_ATTNLRP, 0, LRP_METHOD_ATTNLRP, 0, 0},
    {"cplrp", "CP-LRP: LRP that treats attention weights as constants", LRP_METHOD_CPLRP, 0, LRP_METHOD_CPLRP, 0, 0},
    {"gradxinput", "gradient times input", LRP_METHOD_GRADXINPUT, 0, LRP_METHOD_GRADXINPUT, 0, 0},
    {"gradient", "per token the L2 norm of the embedding gradient", LRP_METHOD_GRADIENT, 0, LRP_METHOD_GRADIENT, 0, 0},
    {"random", "uniform random relevance (a baseline for eval)", LRP_METHOD_RANDOM, 1, -1, 0, 0},
    {"attnlrp+gamma", "AttnLRP with the gamma rule on a ViT's convolution, MLP and classifier (eval)",
     LRP_METHOD_ATTNLRP_GAMMA, 1, LRP_METHOD_ATTNLRP, 1, 0},
    {"cplrp+gamma", "CP-LRP with the gamma rule, LXT's ViT recipe (eval)", LRP_METHOD_CPLRP_GAMMA, 1, LRP_METHOD_CPLRP, 1, 0},
    {"ig", "Integrated Gradients from zero word embeddings (--steps)", LRP_METHOD_IG, 0, LRP_METHOD_IG, 0, 1},
    {"smoothgrad", "SmoothGrad: gradient x input averaged over noisy copies (--samples, --noise, --seed)",
     LRP_METHOD_SMOOTHGRAD, 0, LRP_METHOD_SMOOTHGRAD, 0, 1},
    {"occlusion", "leave-one-out: the start value's drop when a token's embedding is zeroed", LRP_METHOD_OCCLUSION, 0,
     LRP_METHOD_OCCLUSION, 0, 1},
    {"attention", "last-layer attention of the explained position, mean over heads", LRP_METHOD_ATTENTION, 0,
     LRP_METHOD_ATTENTION, 0, 1},
    {"rollout", "attention rollout (Abnar & Zuidema 2020)", LRP_METHOD_ROLLOUT, 0, LRP_METHOD_ROLLOUT, 0, 1},
    {"gradxattnroll", "gradient-weighted attention rollout (Chefer et al. 2021)", LRP_METHOD_GRADXATTNROLL, 0,
     LRP_METHOD_GRADXATTNROLL, 0, 1},
    {"atman", "AtMan: attention suppression per token (Deb et al. 2023)", LRP_METHOD_ATMAN, 0, LRP_METHOD_ATMAN, 0, 1},
    {"kernelshap", "KernelSHAP over token coalitions (--samples, --seed)", LRP_METHOD_KERNELSHAP, 0,
     LRP_METHOD_KERNELSHAP, 0, 1},
};
#define N_METHODS ((int)(sizeof methods / sizeof methods[0]))

int lrp_methods_count(void) { return N_METHODS; }

const lrp_method_info *lrp_method_at(int i) { return i >= 0 && i < N_METHODS ? &methods[i] : NULL; }

const lrp_method_info *lrp_method_by_id(int id) {
    for (int i = 0; i < N_METHODS; i++)
        if (methods[i].id == id) return &methods[i];
    return NULL;
}

const char *lrp_method_label(int id) {
    const lrp_method_info *m = lrp_method_by_id(id);
    return m ? m->name : "unknown";
}

const lrp_method_info *lrp_method_find(const char *name, int with_baselines) {
    for (int i = 0; i < N_METHODS; i++)
        if (!strcmp(methods[i].name, name) && (with_baselines || !methods[i].baseline)) return &methods[i];
    return NULL;
}

const char *lrp_readout_convention(int id) {
    if (id == LRP_METHOD_GRADIENT) return "gradient_l2_norm";
    if (id == LRP_METHOD_ATTNLRP || id == LRP_METHOD_CPLRP || id == LRP_METHOD_GRADXINPUT) return "input_times_gradient";
    return NULL;
}

const char *lrp_method_names(int with_baselines) {
    static _Thread_local char lists[2][512];   // built on first use; per thread, so never raced
    char *buf = lists[with_baselines != 0];
    if (!buf[0]) {
        size_t len = 0;
        for (int i = 0; i < N_METHODS; i++)
            if (with_baselines || !methods[i].baseline)
                len += (size_t)snprintf(buf + len, sizeof lists[0] - len, "%s%s", len ? ", " : "", methods[i].name);
    }
    return buf;
}

int lrp_method_lookup(const char *param, const char *name, int with_baselines, int *id, lrp_err *err) {
    const lrp_method_info *m = lrp_method_find(name, with_baselines);
    if (!m) return lrp_fail(err, "%s %s: unknown method (%s)", param, name, lrp_method_names(with_baselines));
    *id = m->id;
    return 0;
}

int lrp_method_list_parse(const char *param, const char *list, int *ids, int cap, int *n, lrp_err *err) {
    *n = 0;
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char name[32];
        if (len == 0 || len >= sizeof name) return lrp_fail(err, "%s %s: expected a comma-separated list", param, list);
        memcpy(name, p, len);
        name[len] = '\0';
        const lrp_method_info *m = lrp_method_find(name, 1);
        if (!m) return lrp_fail(err, "%s: unknown method \"%s\" (%s)", param, name, lrp_method_names(1));
        for (int i = 0; i < *n; i++)
            if (ids[i] == m->id) return lrp_fail(err, "%s: \"%s\" is listed twice", param, name);
        if (*n == cap) return lrp_fail(err, "%s: too many methods (at most %d)", param, cap);
        ids[(*n)++] = m->id;
        if (!comma) return 0;
        p = comma + 1;
    }
}

int lrp_method_fits(const lrp_config *c, int id) {
    const lrp_method_info *mi = lrp_method_by_id(id);
    if (!mi) return 0;
    if (mi->gamma) return c->image_size > 0;
    if (!LRP_METHOD_IS_BASELINE(id)) return 1;
    int reads_attention = id == LRP_METHOD_ATTENTION || id == LRP_METHOD_ROLLOUT || id == LRP_METHOD_GRADXATTNROLL;
    return !reads_attention || c->task != LRP_TASK_SEQ2SEQ_LM;
}

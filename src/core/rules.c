#include "core/rules.h"

#include <string.h>

static const char *const method_names[LRP_METHOD_COUNT] = {
    [LRP_METHOD_ATTNLRP] = "attnlrp",
    [LRP_METHOD_CPLRP] = "cplrp",
    [LRP_METHOD_GRADXINPUT] = "gradxinput",
    [LRP_METHOD_GRADIENT] = "gradient",
};

lrp_rules lrp_rules_for(lrp_method m) {
    lrp_rules r = {0};
    switch (m) {
    case LRP_METHOD_ATTNLRP:
        r.act_identity = 1;
        r.norm_detach = 1;
        r.gate = LRP_GATE_UNIFORM;
        r.attn = LRP_ATTN_UNIFORM;
        break;
    case LRP_METHOD_CPLRP:
        r.act_identity = 1;
        r.norm_detach = 1;
        r.gate = LRP_GATE_DETACH;
        r.attn = LRP_ATTN_DETACH_QK;
        break;
    default:  // gradient and gradient × input: the exact backward everywhere
        break;
    }
    return r;
}

const char *lrp_method_name(lrp_method m) {
    return (unsigned)m < LRP_METHOD_COUNT ? method_names[m] : "unknown";
}

int lrp_method_parse(const char *name) {
    for (int i = 0; i < LRP_METHOD_COUNT; i++)
        if (strcmp(name, method_names[i]) == 0) return i;
    return -1;
}

const char *lrp_tag_name(lrp_tag t) {
    static const char *const names[LRP_TAG_COUNT] = {"none", "patch_conv", "mlp_linear", "classifier"};
    return (unsigned)t < LRP_TAG_COUNT ? names[t] : "unknown";
}

// The rule set a method implies (SPEC §2). Each op's backward reads the field that concerns it.
#ifndef LRP_RULES_H
#define LRP_RULES_H

typedef enum lrp_method {
    LRP_METHOD_ATTNLRP = 0,
    LRP_METHOD_CPLRP,
    LRP_METHOD_GRADXINPUT,
    LRP_METHOD_GRADIENT,
    LRP_METHOD_COUNT
} lrp_method;

typedef enum lrp_gate_rule {
    LRP_GATE_EXACT = 0,     // plain gradient of act(a) ⊙ u
    LRP_GATE_UNIFORM,       // both operands get half: s(act(a) ⊙ u, ½)
    LRP_GATE_DETACH,        // act(a) is a constant: all relevance flows to u
} lrp_gate_rule;

typedef enum lrp_attn_rule {
    LRP_ATTN_EXACT = 0,
    LRP_ATTN_UNIFORM,       // Q, K gradients × ¼, V gradient × ½
    LRP_ATTN_DETACH_QK,     // attention weights constant: Q, K get nothing, V exact
} lrp_attn_rule;

// The softmax ablations of the paper's appendix (SPEC §2, --softmax-rule); exact is AttnLRP's Prop. 3.1.
typedef enum lrp_softmax_rule {
    LRP_SOFTMAX_EXACT = 0,
    LRP_SOFTMAX_IDENTITY,          // R(x_i) = R(s_i): ĝ(x_i) = ĝ(s_i)·s_i/(x_i + 1e-10·sign(x_i))
    LRP_SOFTMAX_DISTRIBUTE_BIAS,   // Prop. 3.1 plus the bias term spread evenly over the visible keys
    LRP_SOFTMAX_COUNT
} lrp_softmax_rule;

// Layers a rule can single out (graph.h: rule tags). The γ-rule of SPEC §5 reads them.
typedef enum lrp_tag {
    LRP_TAG_NONE = 0,
    LRP_TAG_PATCH_CONV,     // the patch-embedding convolution of a ViT
    LRP_TAG_MLP_LINEAR,     // the linear layers of a block's MLP
    LRP_TAG_CLASSIFIER,     // the linear layers of a classification head
    LRP_TAG_COUNT
} lrp_tag;

const char *lrp_tag_name(lrp_tag t);

typedef struct lrp_rules {
    int act_identity;       // element-wise activations: ĝ(x) = ĝ(y)·f(x)/(x + 1e-10)
    int norm_detach;        // RMSNorm/LayerNorm: normaliser constant in the backward
    lrp_gate_rule gate;
    lrp_attn_rule attn;
    // LRP-γ (SPEC §5) on the linear ops tagged LRP_TAG_PATCH_CONV (gamma_conv) and LRP_TAG_MLP_LINEAR /
    // LRP_TAG_CLASSIFIER (gamma_lin); 0: those ops keep their exact backward.
    float gamma_conv, gamma_lin;
    lrp_softmax_rule softmax;   // the attention softmax's backward (attention.c); exact unless ablated
} lrp_rules;

lrp_rules lrp_rules_for(lrp_method m);
const char *lrp_method_name(lrp_method m);
// Returns the method for a name ("attnlrp", "cplrp", "gradxinput", "gradient"), or -1.
int lrp_method_parse(const char *name);

#endif

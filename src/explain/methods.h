// The attribution methods, in one registry: the rule-based passes of core/rules.h (attnlrp, cplrp,
// gradxinput, gradient) and the baselines an evaluation compares them with (random). Commands list and
// parse methods only through here, so a new method appears in every help text and parser at once.
#ifndef LRP_METHODS_H
#define LRP_METHODS_H

#include "core/err.h"
#include "core/rules.h"

// The random baseline's id: one past the rule-based methods; then the LRP methods with the γ-rule of
// SPEC §5 (Vision Transformers; `explain` spells them --gamma, `eval` lists them as methods).
#define LRP_METHOD_RANDOM ((int)LRP_METHOD_COUNT)
#define LRP_METHOD_ATTNLRP_GAMMA (LRP_METHOD_RANDOM + 1)
#define LRP_METHOD_CPLRP_GAMMA (LRP_METHOD_RANDOM + 2)
// The comparison baselines of explain/baselines.h (issue 12): each computes relevance per input token
// with its own passes; lrp_explain_inputs hands them to lrp_explain_baseline.
#define LRP_METHOD_IG (LRP_METHOD_RANDOM + 3)
#define LRP_METHOD_SMOOTHGRAD (LRP_METHOD_RANDOM + 4)
#define LRP_METHOD_OCCLUSION (LRP_METHOD_RANDOM + 5)
#define LRP_METHOD_ATTENTION (LRP_METHOD_RANDOM + 6)
#define LRP_METHOD_ROLLOUT (LRP_METHOD_RANDOM + 7)
#define LRP_METHOD_GRADXATTNROLL (LRP_METHOD_RANDOM + 8)
#define LRP_METHOD_ATMAN (LRP_METHOD_RANDOM + 9)
#define LRP_METHOD_KERNELSHAP (LRP_METHOD_RANDOM + 10)
#define LRP_METHOD_IS_BASELINE(id) ((id) >= LRP_METHOD_IG && (id) <= LRP_METHOD_KERNELSHAP)

typedef struct lrp_method_info {
    const char *name;         // "attnlrp", ...
    const char *description;  // one line for help texts
    int id;                   // an lrp_method, or LRP_METHOD_RANDOM
    int baseline;             // 1: only `eval` lists it (the random baseline, the γ variants)
    int rules;                // the lrp_method whose rules it runs (-1: none, the random baseline)
    int gamma;                // 1: with the γ-rule (image models only)
    int extra;                // 1: a comparison baseline that `eval` runs only when listed (or --methods all)
} lrp_method_info;

int lrp_methods_count(void);
const lrp_method_info *lrp_method_at(int i);
// The method of that id (an lrp_method or LRP_METHOD_RANDOM), or NULL.
const lrp_method_info *lrp_method_by_id(int id);
// The method called name, or NULL. with_baselines 0: only the methods that compute relevance.
const lrp_method_info *lrp_method_find(const char *name, int with_baselines);

// Whether the method applies to a model of this configuration: the γ variants to image models only;
// the baselines that read self-attention maps over the input (attention, rollout, gradxattnroll) to all
// but encoder-decoders. `eval --methods all` runs the methods that fit.
struct lrp_config;
int lrp_method_fits(const struct lrp_config *c, int id);

// The name of a method id (an lrp_method or one of the ids above); "unknown" for none.
const char *lrp_method_label(int id);

// The names, comma-separated ("attnlrp, cplrp, gradxinput, gradient[, random]"); a static string.
const char *lrp_method_names(int with_baselines);

// How the rule-based methods read relevance out of a tensor x with gradient g, the same for every readout
// (input tokens, --layers, --latent-layer, neurons): "input_times_gradient" (sum of x * g over the
// readout's dimensions: attnlrp, cplrp, gradxinput) or "gradient_l2_norm" (the L2 norm of g over the same
// dimensions: gradient). NULL for the baselines, which define their own (README, "Baseline methods").
const char *lrp_readout_convention(int id);

// Parses one method name into *id; the error names `param` ("method foo: unknown method (attnlrp, ...)").
int lrp_method_lookup(const char *param, const char *name, int with_baselines, int *id, lrp_err *err);

// Parses a comma-separated list ("attnlrp,random") into ids[0..*n), at most cap, without repeats; the
// error names `param` ("methods: unknown method \"lime\" (...)").
int lrp_method_list_parse(const char *param, const char *list, int *ids, int cap, int *n, lrp_err *err);

#endif

// The model families: each one a file in models/ that owns its hyper-parameter readers (config.json
// and GGUF keys), its tensor names (HF and GGUF) and its forward pass; registry.c lists them, and the
// "supported" messages and `attnlrp info` come from that list.
#ifndef LRP_REGISTRY_H
#define LRP_REGISTRY_H

#include <jansson.h>

#include "models/hparams.h"
#include "models/model.h"

struct lrp_family {
    const char *name;                      // "llama", "gpt2", "bert", ...
    const char *const *model_types;        // config.json model_type values it reads (NULL-terminated)
    const char *const *gguf_archs;         // GGUF general.architecture values (NULL-terminated; may be empty)
    const char *summary;                   // one line for `attnlrp info --families`
    // Fills cfg (model_type is set already) from config.json, or from a GGUF file's metadata.
    int (*read_config)(lrp_config *cfg, const lrp_hp *h);
    int (*read_gguf)(lrp_config *cfg, const lrp_hp_gguf *h);
    // Looks up and shape-checks every weight the forward needs; stores them in m->weights.
    int (*bind)(lrp_model *m, lrp_err *err);
    // Records the forward pass (the tap arrays are allocated). Returns 0, or -1 with g->err.
    int (*forward)(const lrp_model *m, lrp_graph *g, lrp_forward *f);
    // Optional: fills r with the weights neuron readouts of layer `layer` (expert `expert` for MoE,
    // which the hook range-checks; -1 otherwise) go through (model.h: lrp_neuron_readout). Layer and
    // neuron are checked by the caller. NULL, or a failure with the reason: no projection for this
    // family (or this layer, e.g. T5's encoder layers).
    int (*neuron_readout)(const lrp_model *m, int layer, int expert, lrp_neuron_readout *r, lrp_err *err);
};

const lrp_family *lrp_family_for_model_type(const char *model_type);
const lrp_family *lrp_family_for_gguf_arch(const char *arch);
int lrp_family_count(void);
const lrp_family *lrp_family_at(int i);
// "llama, mistral, qwen2, ..." (every model_type, or every GGUF architecture when gguf != 0).
void lrp_families_supported(char *buf, size_t cap, int gguf);

#endif

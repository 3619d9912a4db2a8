// The one list of model families.
#include "models/registry.h"

#include <stdio.h>
#include <string.h>

extern const lrp_family lrp_family_llama, lrp_family_gpt2, lrp_family_bert, lrp_family_vit,
    lrp_family_mixtral, lrp_family_phi, lrp_family_gemma, lrp_family_t5;

static const lrp_family *const families[] = {
    &lrp_family_llama,
    &lrp_family_gpt2,
    &lrp_family_bert,
    &lrp_family_vit,
    &lrp_family_mixtral,
    &lrp_family_phi,
    &lrp_family_gemma,
    &lrp_family_t5,
};

#define N_FAMILIES ((int)(sizeof families / sizeof families[0]))

static int listed(const char *const *names, const char *name) {
    for (int i = 0; names && names[i]; i++)
        if (strcmp(names[i], name) == 0) return 1;
    return 0;
}

const lrp_family *lrp_family_for_model_type(const char *model_type) {
    for (int i = 0; i < N_FAMILIES; i++)
        if (listed(families[i]->model_types, model_type)) return families[i];
    return NULL;
}

const lrp_family *lrp_family_for_gguf_arch(const char *arch) {
    for (int i = 0; i < N_FAMILIES; i++)
        if (listed(families[i]->gguf_archs, arch)) return families[i];
    return NULL;
}

int lrp_family_count(void) { return N_FAMILIES; }

const lrp_family *lrp_family_at(int i) { return i >= 0 && i < N_FAMILIES ? families[i] : NULL; }

void lrp_families_supported(char *buf, size_t cap, int gguf) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < N_FAMILIES; i++) {
        const char *const *names = gguf ? families[i]->gguf_archs : families[i]->model_types;
        for (int j = 0; names && names[j]; j++) {
            int k = snprintf(buf + used, cap - used, "%s%s", used ? ", " : "", names[j]);
            if (k < 0 || (size_t)k >= cap - used) return;
            used += (size_t)k;
        }
    }
}

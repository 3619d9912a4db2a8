#include "inputs/chat.h"

#include <string.h>

#include "inputs/jinja.h"

const char *lrp_chat_family(const char *t) {
    if (!t) return "other";
    if (strstr(t, "<|start_header_id|>") && strstr(t, "<|eot_id|>")) return "llama-3";
    if (strstr(t, "<|im_start|>") && strstr(t, "<|im_end|>")) return "chatml";
    if (strstr(t, "<start_of_turn>") && strstr(t, "<end_of_turn>")) return "gemma";
    if (strstr(t, "<|user|>") && strstr(t, "<|assistant|>") && strstr(t, "<|end|>")) return "phi-3";
    if (strstr(t, "[INST]") && strstr(t, "[/INST]")) return "llama-2";
    return "other";
}

int lrp_chat_prompt(const char *t, const char *bos, const char *eos, const char *user, char **out, const char **family,
                    lrp_err *err) {
    *out = NULL;
    *family = NULL;
    if (!t || !*t) return lrp_fail(err, "chat_template: the model has no chat template");
    if (lrp_jinja_chat(t, bos, eos, user, out, err)) return -1;
    *family = lrp_chat_family(t);
    return 0;
}

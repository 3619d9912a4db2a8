// Chat prompts: one user message laid out by the model's chat template (tokenizer_config.json's
// `chat_template`, chat_template.jinja, GGUF `tokenizer.chat_template`) as transformers'
// apply_chat_template(messages=[{"role": "user", "content": TEXT}], add_generation_prompt=True) does:
// the template runs in the small Jinja interpreter of inputs/jinja.h, with bos_token / eos_token from the
// tokenizer's configuration. The family of a template (for display) is recognised by its markers:
//   llama-2 ([INST] ... [/INST]), llama-3 (<|start_header_id|>, <|eot_id|>), chatml (<|im_start|>,
//   <|im_end|>: Qwen, SmolLM, ...), gemma (<start_of_turn>), phi-3 (<|user|>, <|assistant|>, <|end|>),
//   else "other".
#ifndef LRP_INPUTS_CHAT_H
#define LRP_INPUTS_CHAT_H

#include "core/err.h"

// The family name of a template ("llama-2", "llama-3", "chatml", "gemma", "phi-3", "other").
const char *lrp_chat_family(const char *tmpl);

// Writes the prompt of one user message into *out (malloc'ed) and the family into *family. bos and eos
// may be NULL (undefined in the template). Errors name "chat_template" (and the template's line).
int lrp_chat_prompt(const char *tmpl, const char *bos, const char *eos, const char *user, char **out,
                    const char **family, lrp_err *err);

#endif

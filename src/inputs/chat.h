// Chat prompts: one user message laid out as the model's chat template asks (tokenizer_config.json's
// `chat_template`, GGUF `tokenizer.chat_template`), with the generation prompt of the assistant's turn
// added (transformers' apply_chat_template(add_generation_prompt=True)). There is no Jinja engine here:
// the template is recognised by its markers as one of a few known families, and that family's layout
// is written out; anything else is an error naming the template.
//
//   llama-2  [INST] ... [/INST]                       bos + "[INST] " + text + " [/INST]"
//            (Mistral's "[INST]" + text + "[/INST]" when the template has no space before "[/INST]")
//   llama-3  <|start_header_id|> ... <|eot_id|>       bos + "<|start_header_id|>user<|end_header_id|>\n\n" + text
//                                                     + "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
//   chatml   <|im_start|> ... <|im_end|> (Qwen)       [default system turn] + "<|im_start|>user\n" + text
//                                                     + "<|im_end|>\n<|im_start|>assistant\n"
//   gemma    <start_of_turn> ... <end_of_turn>        bos + "<start_of_turn>user\n" + text
//                                                     + "<end_of_turn>\n<start_of_turn>model\n"
//   phi-3    <|user|> ... <|end|> ... <|assistant|>   [bos] + "<|user|>\n" + text + "<|end|>\n<|assistant|>\n"
//
// text is trimmed of surrounding white space where the template trims it (`|trim`, `.strip()`); bos is
// written where the template names `bos_token` (chatml and phi-3 only then). A chatml template that
// writes a fixed system turn when the messages have none (Qwen2: "You are a helpful assistant.") gets it.
// Templates that add a dated system turn (Llama 3.1: "Cutting Knowledge Date") are refused.
#ifndef LRP_INPUTS_CHAT_H
#define LRP_INPUTS_CHAT_H

#include "core/err.h"

// The family name of a template ("llama-2", "llama-3", "chatml", "gemma", "phi-3"), or NULL.
const char *lrp_chat_family(const char *tmpl);

// Writes the prompt of one user message into *out (malloc'ed) and the family into *family. bos may be
// NULL when the template does not need it. Errors name "chat_template".
int lrp_chat_prompt(const char *tmpl, const char *bos, const char *user, char **out, const char **family,
                    lrp_err *err);

#endif

// The library's internal modules at a glance (the public, stable C API is include/attnlrp.h, implemented
// in api/attnlrp.c over these). Tests and the CLI use these headers directly.
//
// The attnlrp program runs explain, generate, tokenize and batch through include/attnlrp.h; api/handles.h
// (not exported) gives it the session's model and a result's explanation for its renderers.
//
// Sessions (api/session.h)
//   lrp_session_open / lrp_session_close        a model (a checkpoint directory or GGUF file; NULL: the
//                                               default model) with its tokenizer
//   lrp_default_model_path                      $ATTNLRP_MODEL, models/default beside the build, share dir
//   lrp_tokenizer_open                          only the tokenizer of a model path
//   lrp_session_encode                          text (and a text pair, with token type ids) -> token ids
//   lrp_session_encode_prompt                   the same, or without special tokens, or through the chat template
//   lrp_session_target                          a target given as text: a class name or one token
// Inputs (inputs/text.h)
//   lrp_encode_text, lrp_resolve_token, lrp_resolve_target, lrp_find_mask, lrp_default_position,
//   lrp_token_string, lrp_output_string
// Models and tokenizers (models/model.h, tokenizer/tokenizer.h)
//   lrp_model_open / lrp_model_close, lrp_inputs  named inputs: ids, token types, padding mask, embed scale
//   lrp_tokenizer_load / _encode / _encode_pair / _decode
// Explaining (explain/explain.h, explain/methods.h)
//   lrp_explain_inputs / lrp_explain / lrp_explanation_free   one prediction (causal LM, masked LM, classifier)
//   lrp_forward_outputs / lrp_forward_logits   a plain forward pass (perturbation, evaluation)
//   lrp_rank_top                                the k largest values (top predictions, neurons, tokens)
//   lrp_method_find / lrp_method_lookup / lrp_method_list_parse / lrp_method_names   the method registry
// Evaluating (evaluate/runner.h, evaluate/data.h, evaluate/metrics.h)
//   lrp_eval_data_read, lrp_evaluate / lrp_eval_report_free   a JSONL data set -> per-method scores and
//                                               summaries (CIs, paired differences); progress by callback
//   lrp_eval_score, lrp_eval_curve, lrp_eval_auc, lrp_eval_stats_of, ...   the metrics one by one
// Generating (explain/generate.h)
//   lrp_generate                                generation with a KV cache and neuron interventions
// Images (inputs/image.h, render/png.h)
//   lrp_image_load / lrp_image_free             .npy, PNG or JPEG -> the pixels a ViT reads (preprocessor_config.json)
//   lrp_heatmap_write / lrp_heatmap_png         relevance as a heatmap PNG (beside or over the image)
// Rendering (render/render.h)
//   lrp_render_json / _text / _html             an explanation (SPEC §8)
//   lrp_render_eval_json / _text / _plot        an evaluation report
//
// Every function that can fail returns 0 or -1 and fills an lrp_err with one line naming the file,
// tensor, field or parameter at fault ("position 9: out of range ..."); nothing in the library prints.
// Build with -I<repo>/src -I<repo>/include and link build/libattnlrp.a -lopenblas -ljansson -lonig
// -lutf8proc -lpng -ljpeg -lm -lpthread.
#ifndef LRP_API_INDEX_H
#define LRP_API_INDEX_H

#include "api/session.h"
#include "evaluate/data.h"
#include "evaluate/metrics.h"
#include "inputs/image.h"
#include "render/png.h"
#include "evaluate/runner.h"
#include "explain/explain.h"
#include "explain/generate.h"
#include "explain/methods.h"
#include "inputs/text.h"
#include "models/model.h"
#include "render/render.h"
#include "tokenizer/tokenizer.h"

#endif

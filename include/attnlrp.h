// attnlrp: the public C API.
//
//   lrp_model_open / lrp_model_close           load a Hugging Face checkpoint directory or a GGUF file
//   lrp_tokenizer_load / _encode / _decode      the tokenizer.json pipeline
//   lrp_explain / lrp_explanation_free          one prediction explained (AttnLRP, CP-LRP, baselines)
//   lrp_forward_logits                          a plain forward pass (perturbation, evaluation)
//   lrp_generate                                generation with a KV cache and neuron interventions
//
// Every function that can fail returns 0 or -1 and fills an lrp_err with one line naming the file,
// tensor, field or argument at fault. Build with -I<repo>/src -I<repo>/include and link
// build/libattnlrp.a -lopenblas -ljansson -lonig -lutf8proc -lpng -lm -lpthread.
#ifndef ATTNLRP_H
#define ATTNLRP_H

#include "explain/explain.h"
#include "explain/generate.h"
#include "models/model.h"
#include "tokenizer/tokenizer.h"

#endif

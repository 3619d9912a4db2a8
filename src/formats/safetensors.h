// Reader for Hugging Face safetensors checkpoints: one model.safetensors, or shards listed by a
// model.safetensors.index.json. Files are memory-mapped read-only and never copied; every header is
// validated the way the reference reader (huggingface/safetensors, tensor.rs) does before any tensor
// is handed out.
#ifndef LRP_SAFETENSORS_H
#define LRP_SAFETENSORS_H

#include "formats/tensor_file.h"

// path: a checkpoint directory (model.safetensors is preferred over model.safetensors.index.json,
// as transformers does), an index file (*.index.json), or a single .safetensors file.
// On success *tf holds every tensor under its Hugging Face name, sorted by name; close it with
// lrp_tf_close. On failure *tf is left empty and err names the file and tensor at fault.
//
// Names that safetensors' save_model removed as duplicates of a shared tensor are recorded in
// __metadata__ as {"removed name": "kept name"}; they are made available as aliases of the kept
// tensor (TinyStories-656K stores only lm_head.weight, with model.embed_tokens.weight as alias).
//
// Only F32, F16 and BF16 tensors are accepted. Tensor data can be misaligned in files written
// before 2023 (the header was not padded then): read it with memcpy or unaligned loads.
int lrp_safetensors_open(lrp_tensor_file *tf, const char *path, lrp_err *err);

// The same for one .safetensors file already in memory (size bytes at data, named label in messages),
// which must outlive *tf: nothing is mapped or copied (the fuzz harness's way in).
int lrp_safetensors_open_memory(lrp_tensor_file *tf, const char *label, const void *data, size_t size,
                                lrp_err *err);

#endif

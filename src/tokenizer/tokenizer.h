// Hugging Face tokenizer.json pipeline: added tokens -> normalizer -> pre-tokenizer -> model
// (BPE, WordPiece, Unigram, WordLevel) -> post-processor, and the decoder chain back to text.
// Results are meant to equal those of the Hugging Face `tokenizers` library token for token.
#ifndef LRP_TOKENIZER_H
#define LRP_TOKENIZER_H

#include <stddef.h>

#include "core/err.h"

typedef struct lrp_tokenizer lrp_tokenizer;

// path: a directory (reads tokenizer.json and, if present, tokenizer_config.json) or a tokenizer.json
// file (a tokenizer_config.json beside it is read too).
int lrp_tokenizer_load(lrp_tokenizer **out, const char *path, lrp_err *err);

// Same from JSON text already in memory (tokenizer_config_json may be NULL). `where` names the
// source in error messages (e.g. "models/x/tokenizer.json").
int lrp_tokenizer_load_json(lrp_tokenizer **out, const char *tokenizer_json, size_t len,
                            const char *tokenizer_config_json, const char *where, lrp_err *err);

void lrp_tokenizer_free(lrp_tokenizer *tok);

// UTF-8 text -> ids. add_special: apply the post-processor (BOS/EOS/CLS/SEP) as HF does by default;
// when the post-processor adds nothing, tokenizer_config.json's add_bos_token/add_eos_token decide.
// Invalid UTF-8 is an error naming the byte offset. *ids is malloc'ed (never NULL on success);
// the caller frees it.
int lrp_tokenizer_encode(const lrp_tokenizer *tok, const char *text, size_t len, int add_special,
                         int **ids, int *n_ids, lrp_err *err);

// A text pair -> ids and token type ids, as HF encode(a, pair=b) with its post_processor:
// TemplateProcessing's "pair" template ($A, $B, special tokens, each with its type id),
// BertProcessing ([CLS] A [SEP] B [SEP]; type 0 up to the first [SEP], 1 after it),
// RobertaProcessing (<s> A </s></s> B </s>; all type 0), or a Sequence holding one of them.
// b NULL: a single sequence, ids as lrp_tokenizer_encode and type ids from the single template.
// Without add_special the special tokens are left out but the type ids stay. A tokenizer whose
// post_processor cannot join two sequences is an error when b is given (see can_encode_pair).
// *ids and *type_ids (type_ids may be NULL) are malloc'ed, *n entries each; the caller frees them.
int lrp_tokenizer_encode_pair(const lrp_tokenizer *tok, const char *a, size_t a_len, const char *b, size_t b_len,
                              int add_special, int **ids, int **type_ids, int *n, lrp_err *err);

// 1 if lrp_tokenizer_encode_pair accepts a second text.
int lrp_tokenizer_can_encode_pair(const lrp_tokenizer *tok);

// The mask token's id: tokenizer_config.json's mask_token, else the added token "[MASK]" or "<mask>";
// -1 if none.
int lrp_tokenizer_mask_id(const lrp_tokenizer *tok);

// ids -> text as HF decode(skip_special_tokens=skip_special), with the transformers-level
// clean_up_tokenization_spaces applied when tokenizer_config.json asks for it.
// *text is malloc'ed and NUL-terminated. An id outside the vocabulary is an error.
int lrp_tokenizer_decode(const lrp_tokenizer *tok, const int *ids, int n_ids, int skip_special,
                         char **text, lrp_err *err);

int lrp_tokenizer_vocab_size(const lrp_tokenizer *tok);  // max id + 1 over vocab and added tokens

// Raw vocabulary string of id (added tokens included), NULL if none.
const char *lrp_tokenizer_piece(const lrp_tokenizer *tok, int id);

// Human-readable text of one token ("ĠParis" -> " Paris", "▁Paris" -> " Paris", "<0x0A>" -> "\n",
// "##ing" -> "ing"), written into buf (NUL-terminated, truncated to cap at a UTF-8 boundary).
// Returns the length written (0 for an unknown id).
int lrp_tokenizer_token_text(const lrp_tokenizer *tok, int id, char *buf, int cap);

// The bytes one token decodes to (as lrp_tokenizer_token_text, but a byte-level or byte-fallback token
// that holds part of a UTF-8 character gives that raw byte, not U+FFFD), NUL-terminated, truncated to cap.
// Returns the length written. For display, merge them across tokens (src/render/units.h).
int lrp_tokenizer_token_bytes(const lrp_tokenizer *tok, int id, char *buf, int cap);

// Word starts for a word-level view (src/tokenizer/tok_words.c, where "word" is defined per tokenizer
// type): start[t] = 1 where token t begins a word, else 0. start has n entries.
void lrp_tokenizer_word_starts(const lrp_tokenizer *tok, const int *ids, int n, unsigned char *start);

// 1 if id is an added token marked "special" (skipped by decode(skip_special_tokens)).
int lrp_tokenizer_is_special(const lrp_tokenizer *tok, int id);

// The id of an exact vocabulary string (added tokens first), -1 if none.
int lrp_tokenizer_token_id(const lrp_tokenizer *tok, const char *piece);

// ---- tokenizers embedded in GGUF files (src/tokenizer/gguf_vocab.c) ---------------------------
// tokenizer.ggml.model "llama" (SentencePiece BPE with scores and byte fallback) and "gpt2" (byte-level
// BPE with merges and the pre-tokenizer named by tokenizer.ggml.pre), restated as the equivalent
// tokenizer.json: special token ids, control tokens as special added tokens, and
// tokenizer.ggml.add_bos_token / add_eos_token (default for "llama": add BOS, no EOS).

typedef struct lrp_tensor_file lrp_tensor_file;

// tf: an open GGUF file (lrp_gguf_open); `where` names it in error messages. A file that holds no
// tokenizer (no tokenizer.ggml.model, or "none") returns 0 with *out NULL.
int lrp_tokenizer_from_gguf(lrp_tokenizer **out, const lrp_tensor_file *tf, const char *where, lrp_err *err);

// Opens the GGUF file at path just for its tokenizer; a file without one is an error.
int lrp_tokenizer_from_gguf_file(lrp_tokenizer **out, const char *path, lrp_err *err);

#endif

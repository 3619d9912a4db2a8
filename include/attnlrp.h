// attnlrp: the public C API (libattnlrp.so / libattnlrp.a). Self-contained: this header needs nothing
// but the C standard library; every object is behind an opaque handle.
//
//   attnlrp_session *s;
//   if (attnlrp_open(NULL, 0, &s)) { fprintf(stderr, "%s\n", attnlrp_last_error()); return 1; }
//   attnlrp_result *r;
//   if (attnlrp_explain(s, "Leo's dog is called", NULL, &r) == ATTNLRP_OK) {
//       size_t n;
//       attnlrp_result_relevance(r, ATTNLRP_INPUT_TOKENS, NULL, 0, &n);    // how many values
//       float *rel = malloc(n * sizeof *rel);
//       attnlrp_result_relevance(r, ATTNLRP_INPUT_TOKENS, rel, n, &n);     // copied
//       ...
//       attnlrp_result_free(r);
//   }
//   attnlrp_session_free(s);
//
// Build: cc prog.c $(pkg-config --cflags --libs attnlrp).
//
// Conventions
// - Every function that can fail returns an attnlrp_status: ATTNLRP_OK (0) or an error code; the message
//   (one line naming the parameter at fault, e.g. "options.position 9: out of range for 6 tokens (0..5)")
//   is then attnlrp_last_error() of the calling thread. Nothing in the library prints or exits.
// - Getters copy into caller arrays: (buf, cap) with cap counted in elements (bytes for strings, the
//   terminating NUL included) and *n receiving the count needed. buf NULL with cap 0 only asks for *n
//   (ATTNLRP_OK); a cap smaller than needed is ATTNLRP_ERR_BUFFER with *n set and buf untouched.
// - Option structs start with a size field (sizeof the struct as the caller's attnlrp.h declares it), set
//   by their *_init function; a library given a size it does not know refuses with ATTNLRP_ERR_ARGUMENT,
//   so a program built against another version of this header fails cleanly instead of misreading.
// - Thread safety is stated per function. In short: calls on one session are serialized by the session's
//   own lock (safe from any thread, one at a time); different sessions run in parallel; a result is
//   immutable, so its getters may be called from several threads at once.
#ifndef ATTNLRP_H
#define ATTNLRP_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define ATTNLRP_API __attribute__((visibility("default")))
#else
#define ATTNLRP_API
#endif

// ---- version -----------------------------------------------------------------------------------------

#define ATTNLRP_VERSION_MAJOR 0
#define ATTNLRP_VERSION_MINOR 2
#define ATTNLRP_VERSION_PATCH 0
#define ATTNLRP_VERSION "0.2.0"
// MAJOR * 10000 + MINOR * 100 + PATCH, for #if.
#define ATTNLRP_VERSION_NUMBER (ATTNLRP_VERSION_MAJOR * 10000 + ATTNLRP_VERSION_MINOR * 100 + ATTNLRP_VERSION_PATCH)

// The version of the library actually loaded ("0.2.0"), which may differ from ATTNLRP_VERSION of the
// header a program was built with. Thread-safe.
ATTNLRP_API const char *attnlrp_version(void);
ATTNLRP_API int attnlrp_version_number(void);

// ---- errors ------------------------------------------------------------------------------------------

typedef enum attnlrp_status {
    ATTNLRP_OK = 0,
    ATTNLRP_ERR_NULL = 1,       // a required pointer argument is NULL
    ATTNLRP_ERR_ARGUMENT = 2,   // a parameter or option is invalid (value out of range, unknown name, wrong
                                // struct size, an input the model rejects)
    ATTNLRP_ERR_BUFFER = 3,     // the caller's buffer is too small: *n holds the size needed
    ATTNLRP_ERR_CLOSED = 4,     // the session was closed (attnlrp_close)
    ATTNLRP_ERR_ABSENT = 5,     // the result has no such value (not requested, or this model has none)
    ATTNLRP_ERR_MODEL = 6,      // the model or its tokenizer cannot be opened or lacks what is asked
    ATTNLRP_ERR_NOMEM = 7,      // out of memory
    ATTNLRP_ERR_FAILED = 8,     // anything else (the message says what)
} attnlrp_status;

// The message of the calling thread's last failed call (thread-local; "" before any failure). Valid until
// that thread's next failing call. A successful call leaves it as it was.
ATTNLRP_API const char *attnlrp_last_error(void);
// "ok", "null", "argument", "buffer", "closed", "absent", "model", "nomem", "failed"; "unknown" otherwise.
// Thread-safe.
ATTNLRP_API const char *attnlrp_status_name(int status);

// ---- sessions: a model and its tokenizer -------------------------------------------------------------

typedef struct attnlrp_session attnlrp_session;

// The model used when none is given, as the attnlrp program finds it: $ATTNLRP_MODEL; models/default
// beside the build directory of the running program or of the library; <prefix>/share/attnlrp/default
// beside an installed bin/ or lib/; the data directory the library was configured with. Thread-safe.
ATTNLRP_API int attnlrp_default_model(char *buf, size_t cap, size_t *n);

// Opens a model: a Hugging Face checkpoint directory or a GGUF file; NULL: the default model. Its
// tokenizer is found as the attnlrp program finds it (tokenizer.json beside the checkpoint, or the one a
// GGUF file carries); a model without one still opens (text input is then an error, token ids work).
// threads > 0 sets the number of compute threads (process-wide: BLAS and the library's own kernels;
// set it before other threads start computing); 0 leaves it (OPENBLAS_NUM_THREADS or all cores).
// *out is the new session, NULL on failure. Thread-safe.
ATTNLRP_API int attnlrp_open(const char *model, int threads, attnlrp_session **out);

// Opens only a tokenizer (since 0.2): a checkpoint directory, a tokenizer.json file or a GGUF file; NULL:
// the default model's. No weights are read: tokenize, detokenize and attnlrp_token_text work; the calls
// that need the model fail with ATTNLRP_ERR_MODEL. Thread-safe.
ATTNLRP_API int attnlrp_open_tokenizer(const char *path, attnlrp_session **out);

// Releases the model's memory. The handle stays valid: every call on it but attnlrp_session_free then
// fails with ATTNLRP_ERR_CLOSED. Closing twice is allowed. Waits for a call running on the session.
ATTNLRP_API int attnlrp_close(attnlrp_session *s);

// Closes (if needed) and frees the handle; NULL is allowed. The handle must not be used afterwards, and
// no other thread may be using it. Results made by the session stay valid (they own their data).
ATTNLRP_API void attnlrp_session_free(attnlrp_session *s);

typedef enum attnlrp_task {
    ATTNLRP_TASK_CAUSAL_LM = 0,  // next-token prediction
    ATTNLRP_TASK_MASKED_LM = 1,  // a vocabulary prediction at a (mask) position
    ATTNLRP_TASK_CLASSIFIER = 2, // class logits for the whole input (text or image)
    ATTNLRP_TASK_SEQ2SEQ_LM = 3, // encoder-decoder: the decoder's next token given the source
} attnlrp_task;

typedef struct attnlrp_model_info {
    size_t size;                 // sizeof(attnlrp_model_info): set it before the call
    char model_type[32];         // "llama", "gpt2", "bert", "vit", ...
    char format[16];             // "safetensors" or "gguf"
    int task;                    // attnlrp_task
    int n_layers, hidden_size, n_heads, intermediate_size;
    int vocab_size;
    int n_outputs;               // logits per prediction: vocabulary size, or classes
    int max_positions;           // 0: no limit known
    int has_tokenizer;
    int image_size, channels;    // image models; 0 for text
} attnlrp_model_info;

// What the session's model is. Thread-safe (takes the session's lock).
ATTNLRP_API int attnlrp_session_info(attnlrp_session *s, attnlrp_model_info *info);
// The path the session opened (the default model's, resolved). Thread-safe.
ATTNLRP_API int attnlrp_model_path(attnlrp_session *s, char *buf, size_t cap, size_t *n);

// ---- tokens ------------------------------------------------------------------------------------------

#define ATTNLRP_NO_SPECIAL 1     // tokenize: add no special tokens (BOS/EOS, [CLS]/[SEP])
#define ATTNLRP_CHAT 2           // tokenize: text is the one user message of the model's chat template (since 0.2)
#define ATTNLRP_SKIP_SPECIAL 1   // detokenize: leave special tokens out of the text

// Text (and a second text joined by the tokenizer's pair template, or NULL) -> token ids into ids[cap];
// *n the count. flags: 0, ATTNLRP_NO_SPECIAL, or ATTNLRP_CHAT: the text is rendered by the model's chat
// template as the one user message (the template from tokenizer_config.json's chat_template,
// chat_template.jinja or the GGUF key tokenizer.chat_template, as transformers' apply_chat_template with
// add_generation_prompt) and encoded without adding special tokens (no pair). Thread-safe (session lock).
ATTNLRP_API int attnlrp_tokenize(attnlrp_session *s, const char *text, const char *pair, int flags, int *ids,
                                 size_t cap, size_t *n);
// attnlrp_tokenize of text's len bytes, which may hold NUL bytes (encoded as the tokenizer encodes them;
// with ATTNLRP_CHAT the text ends at its first NUL). Since 0.2. Thread-safe (session lock).
ATTNLRP_API int attnlrp_tokenize_n(attnlrp_session *s, const char *text, size_t len, const char *pair, int flags,
                                   int *ids, size_t cap, size_t *n);
// Token ids -> text (as Hugging Face decode), NUL-terminated into buf[cap]; *n the bytes needed with the
// NUL. flags: 0 or ATTNLRP_SKIP_SPECIAL. Thread-safe (session lock).
ATTNLRP_API int attnlrp_detokenize(attnlrp_session *s, const int *ids, size_t n_ids, int flags, char *buf,
                                   size_t cap, size_t *n);
// The display string of one output id: a classifier's class name, else the token's text (" Paris"; "[7]"
// without a tokenizer). Thread-safe (session lock).
ATTNLRP_API int attnlrp_token_string(attnlrp_session *s, int id, char *buf, size_t cap, size_t *n);

// The tokenizer's own strings of token id (since 0.2): its readable text (" dog"; flags 0) or, with
// ATTNLRP_PIECE, its vocabulary entry as stored ("Ġdog", "▁dog", "<s>"). Unlike attnlrp_token_string,
// never a class name. Thread-safe (session lock).
#define ATTNLRP_PIECE 1
ATTNLRP_API int attnlrp_token_text(attnlrp_session *s, int id, int flags, char *buf, size_t cap, size_t *n);

// ---- explaining one prediction -----------------------------------------------------------------------

// A neuron (or attention head) intervention during the forward pass: layer, neuron (head), and value.
typedef struct attnlrp_intervention {
    int layer, neuron;
    int kind;                    // ATTNLRP_SET_VALUE, ATTNLRP_SET_SCALE (value is a factor), ATTNLRP_SET_ADD
    float value;
} attnlrp_intervention;
enum { ATTNLRP_SET_VALUE = 0, ATTNLRP_SET_SCALE = 1, ATTNLRP_SET_ADD = 2 };

typedef struct attnlrp_options {
    size_t size;                 // sizeof(attnlrp_options): attnlrp_options_init sets it
    const char *method;          // NULL: "attnlrp"; also cplrp, gradxinput, gradient, ig, smoothgrad, occlusion,
                                 // attention, rollout, gradxattnroll, atman, kernelshap
    // What is explained (the CLI's explain flags of the same names)
    int target;                  // token id / class index; -1 (default): the most likely one
    const char *target_text;     // or: one token given as text, or a class name (NULL: none)
    int contrast;                // explain score(target) - score(contrast); -1 (default): none
    const char *contrast_text;   // or: the foil as one token of text / a class name
    int position;                // output position; -1 (default): the last token (masked LMs: the first mask)
    const char *score;           // "logit" (default), "logprob" or "prob" (NULL: logit, logprob with an answer)
    const int *answer_ids;       // forced decoding: these tokens are appended (but the last) and the sum of
    size_t n_answer;             // their scores is explained; 0: none
    const char *answer_text;     // or: the answer as text (tokenized without special tokens)
    int latent_start[3];         // layer, position, neuron: start at an MLP neuron; {-1, ...} (default): none
    // Inputs
    const char *text_pair;       // a second text (BERT-family pairs); NULL: none
    int no_special;              // tokenize the text without adding special tokens
    const int *decoder_ids;      // encoder-decoders: the decoder's prefix after its start token (NULL: none)
    size_t n_decoder;
    // Readouts wanted (each read with attnlrp_result_readout)
    int layers;                  // residual-stream relevance after each block
    int latent_layer;            // relevance of every MLP neuron of this layer; -1 (default): none
    int latent_per_position;     // with latent_layer: also per position
    int latent_expert;           // mixture-of-experts: the expert of the latent neurons; -1 (default)
    int heads;                   // relevance of each attention head
    int neurons;                 // relevance and activation of every MLP neuron of every layer
    const attnlrp_intervention *set;       // MLP neuron interventions; NULL: none
    size_t n_set;
    const attnlrp_intervention *set_head;  // attention-head interventions (neuron = head; value 0 or a scale)
    size_t n_set_head;
    // Parameters of the baseline methods and ablations (0 / negative: the method's default)
    int steps;                   // ig: quadrature nodes (32)
    const char *quadrature;      // ig: "midpoint" (default) or "gauss-legendre"
    int samples;                 // smoothgrad: noisy copies (16); kernelshap: coalitions (512)
    double noise;                // smoothgrad: sigma relative to the embeddings' range (0.1); negative: default
    unsigned long long seed;     // smoothgrad, kernelshap (0)
    double atman_factor;         // atman: suppression (0.9); negative: default
    double atman_threshold;      // atman: cosine-similarity threshold (0.7); negative: default
    const char *softmax_rule;    // attnlrp: "exact" (default), "identity", "distribute-bias"
    double gamma_conv, gamma_lin;  // ViTs, attnlrp/cplrp: the LRP-gamma rule (0: off)
    // ---- since 0.2 (appended: a program built against 0.1 passes the smaller size, and these keep their
    // defaults) ----
    const int *token_types;      // one token type (segment) per input token (special tokens included; an
    size_t n_token_types;        // answer's tokens continue the last); NULL: the tokenizer's (text pairs), else 0
    const int *attention_mask;   // one 0/1 per input token, 0 marking padding that nothing attends to; NULL:
    size_t n_attention_mask;     // none (not with an answer)
    const char *decoder_text;    // encoder-decoders: the decoder's prefix as text (no special tokens), instead
                                 // of decoder_ids
    int chat;                    // text is the one user message of the model's chat template (see
                                 // ATTNLRP_CHAT), encoded without adding special tokens
    size_t max_memory;           // bytes an explanation may use; 0: MemAvailable and the address-space limit
    // Views of the result (as `attnlrp explain --aggregate/--normalize/--all-logits`): what
    // attnlrp_result_render shows, and the readouts WORDS and NORMALIZED
    int aggregate;               // ATTNLRP_AGGREGATE_TOKEN (default) or ATTNLRP_AGGREGATE_WORD
    int normalize;               // ATTNLRP_NORMALIZE_NONE (default), _MAX (by max|R|) or _SUM (by sum |R|)
    int all_logits;              // JSON rendering: every logit at the position ("logits")
} attnlrp_options;
enum { ATTNLRP_AGGREGATE_TOKEN = 0, ATTNLRP_AGGREGATE_WORD = 1 };
enum { ATTNLRP_NORMALIZE_NONE = 0, ATTNLRP_NORMALIZE_MAX = 1, ATTNLRP_NORMALIZE_SUM = 2 };

// Fills the defaults; size must be sizeof(attnlrp_options) (the caller's; the 0.1 size is accepted too,
// which fills the fields 0.1 had). Thread-safe.
ATTNLRP_API int attnlrp_options_init(attnlrp_options *o, size_t size);

typedef struct attnlrp_result attnlrp_result;

// Explains one prediction with one forward and one modified backward pass (baselines: their own passes).
// text: tokenized with the session's tokenizer (special tokens added unless o->no_special; o->chat: laid
// out by the chat template first); ids: token ids as they are; image: a .npy [C,H,W], PNG or JPEG (image
// models; preprocessed as the model says). The inputs are checked first (ids, token types, mask, decoder),
// then what is explained. o NULL: the defaults. *out is a new result (NULL on failure), freed with
// attnlrp_result_free. The attnlrp program's explain runs through these calls. Thread-safe (session lock:
// one computation per session at a time).
ATTNLRP_API int attnlrp_explain(attnlrp_session *s, const char *text, const attnlrp_options *o, attnlrp_result **out);
ATTNLRP_API int attnlrp_explain_ids(attnlrp_session *s, const int *ids, size_t n_ids, const attnlrp_options *o,
                                    attnlrp_result **out);
ATTNLRP_API int attnlrp_explain_image(attnlrp_session *s, const char *image_path, const attnlrp_options *o,
                                      attnlrp_result **out);

// Frees a result; NULL is allowed. No other thread may be using the result, and it must not be used after.
ATTNLRP_API void attnlrp_result_free(attnlrp_result *r);

// ---- reading a result (all thread-safe: a result does not change) -------------------------------------

typedef struct attnlrp_summary {
    size_t size;                 // sizeof(attnlrp_summary): set it before the call
    int task;                    // attnlrp_task
    int n_tokens;                // input tokens (image models: patches + CLS)
    int position;                // the explained output position (classifiers: -1)
    int target;                  // the explained id (answers: the first answer token)
    double target_logit;
    int contrast;                // -1: none
    double contrast_logit;
    double target_score, contrast_score;  // the score (logit, logprob or prob) of target / contrast
    double start_value;          // the explained scalar (score difference, answer sum, or the neuron)
    double seed_value;           // what a conserving rule distributes (start_value for logit scores)
    double relevance_sum;        // over every input kind
    int has_cls;                 // encoders / ViTs: relevance_cls is set
    double relevance_cls;
    int latent_start[3];         // layer -1: the start was an output
    int n_layers, n_outputs, n_top, n_answer, n_decoder_tokens;
    int forward_passes, backward_passes;
    int nonfinite;               // relevance values that are NaN or infinite
    double seconds_forward, seconds_backward;
    int height, width, patch_size;  // image models: the input's size (PIXELS relevance is [height][width]); else 0
} attnlrp_summary;
ATTNLRP_API int attnlrp_result_summary(const attnlrp_result *r, attnlrp_summary *summary);

// Relevance per input kind (float32). TOKENS: at the word embeddings, one per input token (image models:
// one per patch, row-major); POSITIONS: learned position embeddings; TOKEN_TYPES: token-type embeddings;
// PIXELS: per pixel [height * width] (image models); DECODER_TOKENS: encoder-decoders, the decoder's input.
// A kind the model lacks is ATTNLRP_ERR_ABSENT.
typedef enum attnlrp_input_kind {
    ATTNLRP_INPUT_TOKENS = 0,
    ATTNLRP_INPUT_POSITIONS = 1,
    ATTNLRP_INPUT_TOKEN_TYPES = 2,
    ATTNLRP_INPUT_PIXELS = 3,
    ATTNLRP_INPUT_DECODER_TOKENS = 4,
} attnlrp_input_kind;
ATTNLRP_API int attnlrp_result_relevance(const attnlrp_result *r, int kind, float *buf, size_t cap, size_t *n);

// Token ids: INPUT (the input as explained, answer tokens included), DECODER (encoder-decoders: the
// decoder's input, start token first), ANSWER (the answer's tokens).
// Since 0.2: TOKEN_TYPES and ATTENTION_MASK (the input's, one per token; ABSENT when the model has no token
// types / no mask was given) and WORD_STARTS (options.aggregate word: the first token of each word).
typedef enum attnlrp_ids_kind {
    ATTNLRP_IDS_INPUT = 0,
    ATTNLRP_IDS_DECODER = 1,
    ATTNLRP_IDS_ANSWER = 2,
    ATTNLRP_IDS_TOKEN_TYPES = 3,
    ATTNLRP_IDS_ATTENTION_MASK = 4,
    ATTNLRP_IDS_WORD_STARTS = 5,
} attnlrp_ids_kind;
ATTNLRP_API int attnlrp_result_ids(const attnlrp_result *r, int kind, int *buf, size_t cap, size_t *n);

// Strings, NUL-terminated (*n counts the NUL). TOKEN / DECODER_TOKEN / ANSWER_TOKEN / TOP take an index;
// the others ignore it. Token strings are ABSENT for a model without a tokenizer.
typedef enum attnlrp_string_kind {
    ATTNLRP_STR_TOKEN = 0,       // display text of input token `index`
    ATTNLRP_STR_DECODER_TOKEN = 1,
    ATTNLRP_STR_ANSWER_TOKEN = 2,
    ATTNLRP_STR_TOP = 3,         // the top-`index` prediction's text (or class name)
    ATTNLRP_STR_TARGET = 4,
    ATTNLRP_STR_CONTRAST = 5,
    ATTNLRP_STR_METHOD = 6,      // "attnlrp", ...
    ATTNLRP_STR_SCORE = 7,       // "logit", "logprob", "prob"
    ATTNLRP_STR_EXPLAINED = 8,   // the explained scalar as a formula: "logit(target) - logit(contrast)"
    ATTNLRP_STR_MODEL_TYPE = 9,
    ATTNLRP_STR_WORD = 10,       // since 0.2, options.aggregate word: the text of word `index`
    ATTNLRP_STR_CHAT_PROMPT = 11,   // since 0.2, options.chat: the prompt the chat template wrote
    ATTNLRP_STR_CHAT_TEMPLATE = 12, // since 0.2, options.chat: the template's layout ("chatml", "llama-3", "other", ...)
} attnlrp_string_kind;
ATTNLRP_API int attnlrp_result_string(const attnlrp_result *r, int kind, size_t index, char *buf, size_t cap,
                                      size_t *n);

// Every output logit at the explained position ([n_outputs]).
ATTNLRP_API int attnlrp_result_logits(const attnlrp_result *r, float *buf, size_t cap, size_t *n);

// The most likely outputs at the explained position, most likely first (at most 5).
typedef struct attnlrp_top {
    int id;
    float logit;
    float prob;
} attnlrp_top;
ATTNLRP_API int attnlrp_result_top(const attnlrp_result *r, attnlrp_top *buf, size_t cap, size_t *n);

// The readouts asked for in the options, row-major [rows * cols] (rows, cols may be NULL). ABSENT when
// not asked for or not available for this model.
typedef enum attnlrp_readout {
    ATTNLRP_READOUT_LAYERS = 0,            // options.layers: [n_layers][n_tokens] residual relevance
    ATTNLRP_READOUT_LATENT = 1,            // options.latent_layer: [1][neurons]
    ATTNLRP_READOUT_LATENT_POSITIONS = 2,  // options.latent_per_position: [positions][neurons]
    ATTNLRP_READOUT_HEADS = 3,             // options.heads: [n_layers][n_heads]
    ATTNLRP_READOUT_NEURONS = 4,           // options.neurons: [n_layers][width] relevance
    ATTNLRP_READOUT_NEURON_ACTIVATIONS = 5,// options.neurons: [n_layers][width] activation at the position
    ATTNLRP_READOUT_EXPERTS = 6,           // mixture-of-experts: [n_layers][n_experts]
    ATTNLRP_READOUT_ANSWER_LOGITS = 7,     // answers: [1][n_answer] each answer token's logit
    ATTNLRP_READOUT_ENCODER_LAYERS = 8,    // encoder-decoders with options.layers: [encoder layers][n_tokens]
    ATTNLRP_READOUT_DECODER_LAYERS = 9,    // [decoder layers][decoder tokens]
    // since 0.2: the views (as the JSON rendering's "words" and "relevance_normalized")
    ATTNLRP_READOUT_WORDS = 10,            // options.aggregate word: [1][n_words] each word's relevance (the sum
                                           // of its tokens'; words of the input, not the decoder's)
    ATTNLRP_READOUT_NORMALIZED = 11,       // options.normalize: [1][n] the tokens' (words') relevance divided
                                           // by the scale (max|R| or sum |R| over them and the decoder's)
    ATTNLRP_READOUT_SHARED_EXPERT = 12,    // since 0.2, Qwen2-MoE: [n_layers][1] the relevance at the shared
                                           // expert's gate (JSON shared_expert_relevance)
} attnlrp_readout;
ATTNLRP_API int attnlrp_result_readout(const attnlrp_result *r, int which, float *buf, size_t cap, size_t *n,
                                       size_t *rows, size_t *cols);

// The result rendered as the attnlrp program renders it (same code): JSON (the fields of
// `attnlrp explain --format json`), a self-contained HTML page, or plain text without colour.
typedef enum attnlrp_format { ATTNLRP_FORMAT_JSON = 0, ATTNLRP_FORMAT_HTML = 1, ATTNLRP_FORMAT_TEXT = 2 } attnlrp_format;
ATTNLRP_API int attnlrp_result_render(const attnlrp_result *r, int format, char *buf, size_t cap, size_t *n);

// ---- generating --------------------------------------------------------------------------------------

typedef struct attnlrp_generate_options {
    size_t size;                 // sizeof(attnlrp_generate_options): attnlrp_generate_options_init sets it
    int max_new;                 // tokens to generate (default 32)
    double temperature;          // 0 (default): greedy
    int top_k;                   // 0 (default): no limit
    double top_p;                // 1 (default): no nucleus cut
    unsigned long long seed;     // sampling
    int no_eos;                  // do not stop at an end-of-sequence token
    int no_special;              // tokenize a text prompt without special tokens
    const attnlrp_intervention *set;       // MLP neuron interventions at every position and step
    size_t n_set;
    const attnlrp_intervention *set_head;  // attention-head interventions
    size_t n_set_head;
    // ---- since 0.2 (appended) ----
    int chat;                    // a text prompt is the one user message of the model's chat template
} attnlrp_generate_options;
// Fills the defaults; size must be sizeof(attnlrp_generate_options) (or 0.1's). Thread-safe.
ATTNLRP_API int attnlrp_generate_options_init(attnlrp_generate_options *o, size_t size);

// Called after each generated token with its id and display text; return non-zero to stop.
typedef int (*attnlrp_token_fn)(int id, const char *text, void *user);

// Continues a prompt (text, or token ids) with a KV cache. Each new token goes to cb (may be NULL) and, when
// out is not NULL, into out[cap]: cap must be at least o->max_new (else ATTNLRP_ERR_BUFFER before anything
// runs, *n = max_new). *n is the number generated. Thread-safe (session lock; cb runs under it and must
// not call into the same session).
ATTNLRP_API int attnlrp_generate(attnlrp_session *s, const char *text, const attnlrp_generate_options *o,
                                 attnlrp_token_fn cb, void *user, int *out, size_t cap, size_t *n);
ATTNLRP_API int attnlrp_generate_ids(attnlrp_session *s, const int *ids, size_t n_ids,
                                     const attnlrp_generate_options *o, attnlrp_token_fn cb, void *user, int *out,
                                     size_t cap, size_t *n);

#ifdef __cplusplus
}
#endif

#endif

"""ctypes declarations of include/attnlrp.h, and finding libattnlrp.so.

The structs mirror the header field by field; each starts with its size, which the library checks, so a
mismatch between this file and the loaded library is an error (attnlrp.Error), never a misread.
"""
import ctypes
import ctypes.util
import os

c_int_p = ctypes.POINTER(ctypes.c_int)
c_float_p = ctypes.POINTER(ctypes.c_float)
c_size_p = ctypes.POINTER(ctypes.c_size_t)


class Intervention(ctypes.Structure):
    _fields_ = [("layer", ctypes.c_int), ("neuron", ctypes.c_int), ("kind", ctypes.c_int), ("value", ctypes.c_float)]


class Options(ctypes.Structure):
    _fields_ = [
        ("size", ctypes.c_size_t),
        ("method", ctypes.c_char_p),
        ("target", ctypes.c_int),
        ("target_text", ctypes.c_char_p),
        ("contrast", ctypes.c_int),
        ("contrast_text", ctypes.c_char_p),
        ("position", ctypes.c_int),
        ("score", ctypes.c_char_p),
        ("answer_ids", c_int_p),
        ("n_answer", ctypes.c_size_t),
        ("answer_text", ctypes.c_char_p),
        ("latent_start", ctypes.c_int * 3),
        ("text_pair", ctypes.c_char_p),
        ("no_special", ctypes.c_int),
        ("decoder_ids", c_int_p),
        ("n_decoder", ctypes.c_size_t),
        ("layers", ctypes.c_int),
        ("latent_layer", ctypes.c_int),
        ("latent_per_position", ctypes.c_int),
        ("latent_expert", ctypes.c_int),
        ("heads", ctypes.c_int),
        ("neurons", ctypes.c_int),
        ("set", ctypes.POINTER(Intervention)),
        ("n_set", ctypes.c_size_t),
        ("set_head", ctypes.POINTER(Intervention)),
        ("n_set_head", ctypes.c_size_t),
        ("steps", ctypes.c_int),
        ("quadrature", ctypes.c_char_p),
        ("samples", ctypes.c_int),
        ("noise", ctypes.c_double),
        ("seed", ctypes.c_ulonglong),
        ("atman_factor", ctypes.c_double),
        ("atman_threshold", ctypes.c_double),
        ("softmax_rule", ctypes.c_char_p),
        ("gamma_conv", ctypes.c_double),
        ("gamma_lin", ctypes.c_double),
        # since 0.2
        ("token_types", c_int_p),
        ("n_token_types", ctypes.c_size_t),
        ("attention_mask", c_int_p),
        ("n_attention_mask", ctypes.c_size_t),
        ("decoder_text", ctypes.c_char_p),
        ("chat", ctypes.c_int),
        ("max_memory", ctypes.c_size_t),
        ("aggregate", ctypes.c_int),
        ("normalize", ctypes.c_int),
        ("all_logits", ctypes.c_int),
    ]


class GenerateOptions(ctypes.Structure):
    _fields_ = [
        ("size", ctypes.c_size_t),
        ("max_new", ctypes.c_int),
        ("temperature", ctypes.c_double),
        ("top_k", ctypes.c_int),
        ("top_p", ctypes.c_double),
        ("seed", ctypes.c_ulonglong),
        ("no_eos", ctypes.c_int),
        ("no_special", ctypes.c_int),
        ("set", ctypes.POINTER(Intervention)),
        ("n_set", ctypes.c_size_t),
        ("set_head", ctypes.POINTER(Intervention)),
        ("n_set_head", ctypes.c_size_t),
        ("chat", ctypes.c_int),  # since 0.2
    ]


class ModelInfo(ctypes.Structure):
    _fields_ = [
        ("size", ctypes.c_size_t),
        ("model_type", ctypes.c_char * 32),
        ("format", ctypes.c_char * 16),
        ("task", ctypes.c_int),
        ("n_layers", ctypes.c_int),
        ("hidden_size", ctypes.c_int),
        ("n_heads", ctypes.c_int),
        ("intermediate_size", ctypes.c_int),
        ("vocab_size", ctypes.c_int),
        ("n_outputs", ctypes.c_int),
        ("max_positions", ctypes.c_int),
        ("has_tokenizer", ctypes.c_int),
        ("image_size", ctypes.c_int),
        ("channels", ctypes.c_int),
    ]


class Summary(ctypes.Structure):
    _fields_ = [
        ("size", ctypes.c_size_t),
        ("task", ctypes.c_int),
        ("n_tokens", ctypes.c_int),
        ("position", ctypes.c_int),
        ("target", ctypes.c_int),
        ("target_logit", ctypes.c_double),
        ("contrast", ctypes.c_int),
        ("contrast_logit", ctypes.c_double),
        ("target_score", ctypes.c_double),
        ("contrast_score", ctypes.c_double),
        ("start_value", ctypes.c_double),
        ("seed_value", ctypes.c_double),
        ("relevance_sum", ctypes.c_double),
        ("has_cls", ctypes.c_int),
        ("relevance_cls", ctypes.c_double),
        ("latent_start", ctypes.c_int * 3),
        ("n_layers", ctypes.c_int),
        ("n_outputs", ctypes.c_int),
        ("n_top", ctypes.c_int),
        ("n_answer", ctypes.c_int),
        ("n_decoder_tokens", ctypes.c_int),
        ("forward_passes", ctypes.c_int),
        ("backward_passes", ctypes.c_int),
        ("nonfinite", ctypes.c_int),
        ("seconds_forward", ctypes.c_double),
        ("seconds_backward", ctypes.c_double),
        ("height", ctypes.c_int),
        ("width", ctypes.c_int),
        ("patch_size", ctypes.c_int),
    ]


class Top(ctypes.Structure):
    _fields_ = [("id", ctypes.c_int), ("logit", ctypes.c_float), ("prob", ctypes.c_float)]


TOKEN_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)

# status codes, input kinds, string kinds, readouts, formats (attnlrp.h)
OK, ERR_NULL, ERR_ARGUMENT, ERR_BUFFER, ERR_CLOSED, ERR_ABSENT, ERR_MODEL, ERR_NOMEM, ERR_FAILED = range(9)
INPUT_TOKENS, INPUT_POSITIONS, INPUT_TOKEN_TYPES, INPUT_PIXELS, INPUT_DECODER_TOKENS = range(5)
IDS_INPUT, IDS_DECODER, IDS_ANSWER, IDS_TOKEN_TYPES, IDS_ATTENTION_MASK, IDS_WORD_STARTS = range(6)
(STR_TOKEN, STR_DECODER_TOKEN, STR_ANSWER_TOKEN, STR_TOP, STR_TARGET, STR_CONTRAST, STR_METHOD, STR_SCORE,
 STR_EXPLAINED, STR_MODEL_TYPE, STR_WORD, STR_CHAT_PROMPT, STR_CHAT_TEMPLATE) = range(13)
NO_SPECIAL, CHAT = 1, 2
PIECE = 1
AGGREGATES = ["token", "word"]
NORMALIZES = ["none", "max", "sum"]
READOUTS = ["layers", "latent", "latent_positions", "heads", "neurons", "neuron_activations", "experts",
            "answer_logits", "encoder_layers", "decoder_layers"]
READOUT_WORDS, READOUT_NORMALIZED, READOUT_SHARED_EXPERT = 10, 11, 12
FORMAT_JSON, FORMAT_HTML, FORMAT_TEXT = range(3)
TASKS = ["causal-lm", "masked-lm", "classifier", "seq2seq-lm"]

_SIGNATURES = {
    "attnlrp_version": (ctypes.c_char_p, []),
    "attnlrp_version_number": (ctypes.c_int, []),
    "attnlrp_last_error": (ctypes.c_char_p, []),
    "attnlrp_status_name": (ctypes.c_char_p, [ctypes.c_int]),
    "attnlrp_default_model": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_size_t, c_size_p]),
    "attnlrp_open": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_void_p)]),
    "attnlrp_close": (ctypes.c_int, [ctypes.c_void_p]),
    "attnlrp_session_free": (None, [ctypes.c_void_p]),
    "attnlrp_session_info": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(ModelInfo)]),
    "attnlrp_model_path": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, c_size_p]),
    "attnlrp_tokenize": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int, c_int_p,
                                        ctypes.c_size_t, c_size_p]),
    "attnlrp_tokenize_n": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_int,
                                          c_int_p, ctypes.c_size_t, c_size_p]),
    "attnlrp_detokenize": (ctypes.c_int, [ctypes.c_void_p, c_int_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_char_p,
                                          ctypes.c_size_t, c_size_p]),
    "attnlrp_token_string": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, c_size_p]),
    "attnlrp_open_tokenizer": (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]),
    "attnlrp_token_text": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t,
                                          c_size_p]),
    "attnlrp_options_init": (ctypes.c_int, [ctypes.POINTER(Options), ctypes.c_size_t]),
    "attnlrp_explain": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(Options),
                                       ctypes.POINTER(ctypes.c_void_p)]),
    "attnlrp_explain_ids": (ctypes.c_int, [ctypes.c_void_p, c_int_p, ctypes.c_size_t, ctypes.POINTER(Options),
                                           ctypes.POINTER(ctypes.c_void_p)]),
    "attnlrp_explain_image": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(Options),
                                             ctypes.POINTER(ctypes.c_void_p)]),
    "attnlrp_result_free": (None, [ctypes.c_void_p]),
    "attnlrp_result_summary": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(Summary)]),
    "attnlrp_result_relevance": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int, c_float_p, ctypes.c_size_t, c_size_p]),
    "attnlrp_result_ids": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int, c_int_p, ctypes.c_size_t, c_size_p]),
    "attnlrp_result_string": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t, ctypes.c_char_p,
                                             ctypes.c_size_t, c_size_p]),
    "attnlrp_result_logits": (ctypes.c_int, [ctypes.c_void_p, c_float_p, ctypes.c_size_t, c_size_p]),
    "attnlrp_result_top": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(Top), ctypes.c_size_t, c_size_p]),
    "attnlrp_result_readout": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int, c_float_p, ctypes.c_size_t, c_size_p,
                                              c_size_p, c_size_p]),
    "attnlrp_result_render": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, c_size_p]),
    "attnlrp_generate_options_init": (ctypes.c_int, [ctypes.POINTER(GenerateOptions), ctypes.c_size_t]),
    "attnlrp_generate": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(GenerateOptions), TOKEN_FN,
                                        ctypes.c_void_p, c_int_p, ctypes.c_size_t, c_size_p]),
    "attnlrp_generate_ids": (ctypes.c_int, [ctypes.c_void_p, c_int_p, ctypes.c_size_t, ctypes.POINTER(GenerateOptions),
                                            TOKEN_FN, ctypes.c_void_p, c_int_p, ctypes.c_size_t, c_size_p]),
}


def candidates():
    """Where the library is looked for, in order: $ATTNLRP_LIB; a copy inside the package (pip install after
    make); the repository's build/ when the package is used in place; the system's search path and the
    default install prefix."""
    here = os.path.dirname(os.path.abspath(__file__))
    env = os.environ.get("ATTNLRP_LIB")
    if env:
        return [env]
    found = ctypes.util.find_library("attnlrp")
    paths = [os.path.join(here, "libattnlrp.so"), os.path.normpath(os.path.join(here, "..", "..", "build", "libattnlrp.so"))]
    if found:
        paths.append(found)
    paths += ["libattnlrp.so.0", "/usr/local/lib/libattnlrp.so.0", "/usr/lib/libattnlrp.so.0"]
    return paths


def load():
    errors = []
    for path in candidates():
        if os.sep in path and not os.path.exists(path):
            errors.append("%s: no such file" % path)
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            errors.append(str(e))
            continue
        for name, (res, args) in _SIGNATURES.items():
            fn = getattr(lib, name)
            fn.restype = res
            fn.argtypes = args
        lib.path = path
        return lib
    raise OSError("libattnlrp.so not found (set ATTNLRP_LIB to its path, or `make install`): " + "; ".join(errors))

"""AttnLRP explanations of transformer predictions, from Python.

    >>> import attnlrp
    >>> model = attnlrp.Model()                      # the shipped default model (or a path)
    >>> ex = model.explain("Leo's dog is called")
    >>> ex.target_token, ex.relevance                  # ' Buddy', float32 array, one value per token

A thin layer over the C library libattnlrp.so (ctypes; include/attnlrp.h): the numbers are the library's,
the same as `attnlrp explain --format json` prints. Errors raise attnlrp.Error with the library's message.
A Model may be used from several threads (the library serialises calls on one model); an Explanation is
immutable.
"""
import ctypes
import json
import os
from collections import namedtuple

import numpy as np

from . import _lib as L

__all__ = ["Model", "Explanation", "Generation", "Error", "Top", "library_version", "default_model"]

_lib = None


def _L():
    global _lib
    if _lib is None:
        _lib = L.load()
    return _lib


class Error(Exception):
    """A failed library call: .status is the status name ("argument", "model", "closed", ...), str(e) the
    library's one-line message naming the parameter at fault."""

    def __init__(self, status, message):
        super().__init__(message)
        self.code = status
        self.status = _L().attnlrp_status_name(status).decode()


def _check(rc):
    if rc != L.OK:
        raise Error(rc, _L().attnlrp_last_error().decode("utf-8", "replace"))


def _enc(s):
    return None if s is None else s.encode("utf-8")


def _fetch_string(fn, *args):
    n = ctypes.c_size_t()
    _check(fn(*args, None, 0, ctypes.byref(n)))
    buf = ctypes.create_string_buffer(n.value)
    _check(fn(*args, buf, n.value, ctypes.byref(n)))
    return buf.value.decode("utf-8", "replace")


def _int_array(values, what):
    arr = np.ascontiguousarray(np.asarray(values, dtype=np.int64))
    if arr.ndim != 1:
        raise ValueError("%s: expected a flat sequence of token ids" % what)
    if arr.size and (arr.min() < -(2 ** 31) or arr.max() >= 2 ** 31):
        raise ValueError("%s: ids out of range for 32-bit ints" % what)
    return np.ascontiguousarray(arr.astype(np.int32))


def _interventions(items, what):
    """[(layer, neuron, value)] or [(layer, neuron, value, kind)] with kind "set", "scale" or "add"."""
    if not items:
        return None, 0
    kinds = {"set": 0, "scale": 1, "add": 2}
    arr = (L.Intervention * len(items))()
    for i, it in enumerate(items):
        if len(it) not in (3, 4) or (len(it) == 4 and it[3] not in kinds):
            raise ValueError("%s[%d]: expected (layer, neuron, value[, 'set'|'scale'|'add'])" % (what, i))
        arr[i] = L.Intervention(int(it[0]), int(it[1]), kinds[it[3]] if len(it) == 4 else 0, float(it[2]))
    return arr, len(items)


def library_version():
    """The loaded library's version ("0.2.0")."""
    return _L().attnlrp_version().decode()


def default_model():
    """The path of the model Model() opens: $ATTNLRP_MODEL, the library's default model, or the models/default
    of the repository the package was built from."""
    try:
        return _fetch_string(_L().attnlrp_default_model)
    except Error:
        try:
            from ._build_info import MODELS_DIR
        except ImportError:
            raise
        path = os.path.join(MODELS_DIR, "default")
        if os.path.isdir(path):
            return path
        raise


Top = namedtuple("Top", "id token logit prob")
Generation = namedtuple("Generation", "ids tokens text")

__version__ = "0.2.0"


class Model:
    """A model and its tokenizer: Model(path=None, threads=None). path: a Hugging Face checkpoint directory or
    a GGUF file (None: the default model). threads: compute threads (process-wide; None leaves the default)."""

    def __init__(self, path=None, threads=None):
        self._s = None
        if threads is not None and (int(threads) != threads or threads < 1):
            raise ValueError("threads: expected a positive integer, got %r" % (threads,))
        if path is None:
            path = default_model()
        s = ctypes.c_void_p()
        _check(_L().attnlrp_open(_enc(os.fspath(path)), int(threads or 0), ctypes.byref(s)))
        self._s = s
        info = L.ModelInfo(size=ctypes.sizeof(L.ModelInfo))
        _check(_L().attnlrp_session_info(self._s, ctypes.byref(info)))
        self.path = _fetch_string(_L().attnlrp_model_path, self._s)
        self.model_type = info.model_type.decode()
        self.task = L.TASKS[info.task]
        self.n_layers, self.hidden_size, self.n_heads = info.n_layers, info.hidden_size, info.n_heads
        self.vocab_size, self.n_outputs = info.vocab_size, info.n_outputs
        self.has_tokenizer = bool(info.has_tokenizer)
        self.image_size = info.image_size

    def __repr__(self):
        return "attnlrp.Model(%r, %s, %s)" % (self.path, self.model_type, self.task)

    def close(self):
        """Releases the model; later calls raise Error (status "closed")."""
        if self._s is not None:
            _check(_L().attnlrp_close(self._s))

    def __del__(self):
        if getattr(self, "_s", None) is not None and _lib is not None:
            _lib.attnlrp_session_free(self._s)
            self._s = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- tokens ----

    def tokenize(self, text, pair=None, special=True, chat=False):
        """Token ids of text (and a second text joined by the tokenizer's pair template), as a list of ints.
        chat: text is the one user message of the model's chat template (encoded without special tokens)."""
        n = ctypes.c_size_t()
        flags = (0 if special else L.NO_SPECIAL) | (L.CHAT if chat else 0)
        b = _enc(text)  # its length: "\0" is text too
        _check(_L().attnlrp_tokenize_n(self._s, b, len(b), _enc(pair), flags, None, 0, ctypes.byref(n)))
        ids = (ctypes.c_int * max(n.value, 1))()
        _check(_L().attnlrp_tokenize_n(self._s, b, len(b), _enc(pair), flags, ids, n.value, ctypes.byref(n)))
        return list(ids[: n.value])

    def detokenize(self, ids, skip_special=False):
        arr = _int_array(ids, "ids")
        p = arr.ctypes.data_as(L.c_int_p)
        return _fetch_string(_L().attnlrp_detokenize, self._s, p, arr.size, 1 if skip_special else 0)

    def token_string(self, id):
        """The display text of one output id (a token, or a classifier's class name)."""
        return _fetch_string(_L().attnlrp_token_string, self._s, int(id))

    def token_text(self, id, piece=False):
        """The tokenizer's text of token id (" dog"), or with piece=True its vocabulary entry ("▁dog")."""
        return _fetch_string(_L().attnlrp_token_text, self._s, int(id), L.PIECE if piece else 0)

    # ---- explain ----

    def explain(self, input=None, *, image=None, method=None, target=None, contrast=None, position=None,
                score=None, answer=None, latent_start=None, text_pair=None, special=True, decoder_ids=None,
                layers=False, latent_layer=None, per_position=False, latent_expert=None, heads=False,
                neurons=False, set=None, set_head=None, steps=0, quadrature=None, samples=0, noise=None, seed=0,
                atman_factor=None, atman_threshold=None, softmax_rule=None, gamma=None, token_type_ids=None,
                attention_mask=None, decoder_text=None, chat=False, max_memory=None, aggregate="token",
                normalize="none", all_logits=False):
        """Explains one prediction. input: text (str) or token ids (a sequence or array of ints); image: the
        path of an image for image models. target / contrast: an id, or a str (one token, or a class name).
        answer: str or ids (forced decoding: the sum of the answer tokens' scores). The other options are the
        `attnlrp explain` flags of the same names (README): token_type_ids, attention_mask (one per input
        token), decoder_text (encoder-decoders), chat, max_memory (bytes), aggregate ("token" or "word"),
        normalize ("none", "max" or "sum"), all_logits (to_json). Returns an Explanation."""
        if (input is None) == (image is None):
            raise ValueError("explain: give input (text or token ids) or image=, exactly one")
        o = L.Options()
        _check(_L().attnlrp_options_init(ctypes.byref(o), ctypes.sizeof(L.Options)))
        keep = []  # arrays the options point into, alive until the call returns
        o.method = _enc(method)
        for name, value in (("target", target), ("contrast", contrast)):
            if isinstance(value, str):
                setattr(o, name + "_text", _enc(value))
            elif value is not None:
                setattr(o, name, int(value))
        if position is not None:
            o.position = int(position)
        o.score = _enc(score)
        if isinstance(answer, str):
            o.answer_text = _enc(answer)
        elif answer is not None:
            arr = _int_array(answer, "answer")
            keep.append(arr)
            o.answer_ids, o.n_answer = arr.ctypes.data_as(L.c_int_p), arr.size
        if latent_start is not None:
            if len(latent_start) != 3:
                raise ValueError("latent_start: expected (layer, position, neuron)")
            o.latent_start[:] = [int(v) for v in latent_start]
        o.text_pair = _enc(text_pair)
        o.no_special = 0 if special else 1
        if decoder_ids is not None:
            arr = _int_array(decoder_ids, "decoder_ids")
            keep.append(arr)
            o.decoder_ids, o.n_decoder = arr.ctypes.data_as(L.c_int_p), arr.size
        o.layers, o.heads, o.neurons, o.latent_per_position = int(layers), int(heads), int(neurons), int(per_position)
        if latent_layer is not None:
            o.latent_layer = int(latent_layer)
        if latent_expert is not None:
            o.latent_expert = int(latent_expert)
        ivs, o.n_set = _interventions(set, "set")
        hivs, o.n_set_head = _interventions(set_head, "set_head")
        keep += [ivs, hivs]
        if ivs is not None:
            o.set = ivs
        if hivs is not None:
            o.set_head = hivs
        o.steps, o.samples, o.seed = int(steps), int(samples), int(seed)
        o.quadrature, o.softmax_rule = _enc(quadrature), _enc(softmax_rule)
        if noise is not None:
            o.noise = float(noise)
        if atman_factor is not None:
            o.atman_factor = float(atman_factor)
        if atman_threshold is not None:
            o.atman_threshold = float(atman_threshold)
        if gamma is not None:
            o.gamma_conv, o.gamma_lin = (float(g) for g in gamma)
        for name, values in (("token_types", token_type_ids), ("attention_mask", attention_mask)):
            if values is not None:
                arr = _int_array(values, name)
                keep.append(arr)
                setattr(o, name, arr.ctypes.data_as(L.c_int_p))
                setattr(o, "n_" + name, arr.size)
        o.decoder_text = _enc(decoder_text)
        o.chat = int(bool(chat))
        if max_memory is not None:
            o.max_memory = int(max_memory)
        for name, value, names in (("aggregate", aggregate, L.AGGREGATES), ("normalize", normalize, L.NORMALIZES)):
            if value not in names:
                raise ValueError("%s %r: expected one of %s" % (name, value, ", ".join(names)))
            setattr(o, name, names.index(value))
        o.all_logits = int(bool(all_logits))
        r = ctypes.c_void_p()
        if image is not None:
            rc = _L().attnlrp_explain_image(self._s, _enc(os.fspath(image)), ctypes.byref(o), ctypes.byref(r))
        elif isinstance(input, str):
            rc = _L().attnlrp_explain(self._s, _enc(input), ctypes.byref(o), ctypes.byref(r))
        else:
            arr = _int_array(input, "input")
            rc = _L().attnlrp_explain_ids(self._s, arr.ctypes.data_as(L.c_int_p), arr.size, ctypes.byref(o),
                                          ctypes.byref(r))
        _check(rc)
        return Explanation(r)

    # ---- generate ----

    def generate(self, input, max_new=32, temperature=0.0, top_k=0, top_p=1.0, seed=0, stop_at_eos=True,
                 special=True, set=None, set_head=None, callback=None, chat=False):
        """Continues a prompt (text or ids) with a KV cache; greedy unless temperature > 0. callback(id, text)
        is called after each token; a true return value stops. Returns Generation(ids, tokens, text)."""
        o = L.GenerateOptions()
        _check(_L().attnlrp_generate_options_init(ctypes.byref(o), ctypes.sizeof(L.GenerateOptions)))
        o.max_new, o.temperature, o.top_k, o.top_p, o.seed = int(max_new), float(temperature), int(top_k), float(top_p), int(seed)
        o.no_eos, o.no_special, o.chat = int(not stop_at_eos), int(not special), int(bool(chat))
        ivs, o.n_set = _interventions(set, "set")
        hivs, o.n_set_head = _interventions(set_head, "set_head")
        if ivs is not None:
            o.set = ivs
        if hivs is not None:
            o.set_head = hivs
        failure = []
        tokens = []

        def on_token(id, text, _user):
            tokens.append(text.decode("utf-8", "replace"))
            if callback is None:
                return 0
            try:
                return 1 if callback(id, tokens[-1]) else 0
            except BaseException as e:  # stop, and raise it after the call
                failure.append(e)
                return 1

        cb = L.TOKEN_FN(on_token)
        out = (ctypes.c_int * max(o.max_new, 1))()
        n = ctypes.c_size_t()
        if isinstance(input, str):
            rc = _L().attnlrp_generate(self._s, _enc(input), ctypes.byref(o), cb, None, out, max(o.max_new, 1),
                                       ctypes.byref(n))
        else:
            arr = _int_array(input, "input")
            rc = _L().attnlrp_generate_ids(self._s, arr.ctypes.data_as(L.c_int_p), arr.size, ctypes.byref(o), cb,
                                           None, out, max(o.max_new, 1), ctypes.byref(n))
        if failure:
            raise failure[0]
        _check(rc)
        ids = list(out[: n.value])
        text = self.detokenize(ids) if self.has_tokenizer else None
        return Generation(ids, tokens[: n.value], text)


class Tokenizer:
    """Only a tokenizer: Tokenizer(path=None), path a checkpoint directory, a tokenizer.json or a GGUF file
    (None: the default model's). No weights are read: tokenize, detokenize and token_text as on a Model."""

    def __init__(self, path=None):
        self._s = None
        s = ctypes.c_void_p()
        _check(_L().attnlrp_open_tokenizer(_enc(None if path is None else os.fspath(path)), ctypes.byref(s)))
        self._s = s
        self.path = _fetch_string(_L().attnlrp_model_path, self._s)

    def __repr__(self):
        return "attnlrp.Tokenizer(%r)" % (self.path,)

    tokenize = Model.tokenize
    detokenize = Model.detokenize
    token_text = Model.token_text
    __del__ = Model.__del__


class Explanation:
    """One explained prediction. Arrays are NumPy (relevance values float32); readouts not asked for are None.

    relevance            [n_tokens] at the word embeddings (image models: [rows, cols] of patches)
    relevance_positions, relevance_token_types, relevance_pixels, decoder_relevance   other input kinds or None
    ids, tokens          the input's token ids and display strings (tokens None without a tokenizer)
    target, target_token, target_logit, position, contrast, contrast_token, score, explained, start_value
    top                  [Top(id, token, logit, prob)] most likely first
    logits               [n_outputs] float32 at the explained position
    layers, heads, latent, latent_positions, neurons, neuron_activations, experts, answer_logits,
    encoder_layers, decoder_layers        the readouts (2-D float32 arrays), None unless asked for
    shared_expert        Qwen2-MoE: [n_layers] the relevance at the shared expert's gate, else None
    token_type_ids, attention_mask        the input's (int32), None when the model has none / none given
    words, word_starts, word_relevance    aggregate="word": each word's text, first token and relevance
    relevance_normalized                  normalize="max"/"sum": the tokens' (words') relevance / the scale
    chat_prompt, chat_template            chat=True: the prompt the template wrote and its layout
    """

    def __init__(self, handle):
        self._r = handle
        lib = _L()
        sm = L.Summary(size=ctypes.sizeof(L.Summary))
        _check(lib.attnlrp_result_summary(handle, ctypes.byref(sm)))
        self.task = L.TASKS[sm.task]
        self.n_tokens = sm.n_tokens
        self.position = sm.position if sm.position >= 0 else None
        self.target = sm.target
        self.target_logit = sm.target_logit
        self.contrast = sm.contrast if sm.contrast >= 0 else None
        self.contrast_logit = sm.contrast_logit if sm.contrast >= 0 else None
        self.target_score = sm.target_score
        self.contrast_score = sm.contrast_score if sm.contrast >= 0 else None
        self.start_value = sm.start_value
        self.seed_value = sm.seed_value
        self.relevance_sum = sm.relevance_sum
        self.relevance_cls = sm.relevance_cls if sm.has_cls else None
        self.latent_start = tuple(sm.latent_start) if sm.latent_start[0] >= 0 else None
        self.nonfinite = sm.nonfinite
        self.forward_passes, self.backward_passes = sm.forward_passes, sm.backward_passes
        self.method = self._string(L.STR_METHOD)
        self.score = self._string(L.STR_SCORE)
        self.explained = self._string(L.STR_EXPLAINED)
        self.model_type = self._string(L.STR_MODEL_TYPE)
        self.target_token = self._string(L.STR_TARGET)
        self.contrast_token = self._string(L.STR_CONTRAST)
        self.relevance = self._relevance(L.INPUT_TOKENS)
        self.relevance_positions = self._relevance(L.INPUT_POSITIONS)
        self.relevance_token_types = self._relevance(L.INPUT_TOKEN_TYPES)
        self.relevance_pixels = self._relevance(L.INPUT_PIXELS)
        if self.relevance_pixels is not None:  # [height, width]; per patch: [height/p, width/p]
            self.relevance_pixels = self.relevance_pixels.reshape(sm.height, sm.width)
            if sm.patch_size > 0 and self.relevance.size == (sm.height // sm.patch_size) * (sm.width // sm.patch_size):
                self.relevance = self.relevance.reshape(sm.height // sm.patch_size, sm.width // sm.patch_size)
        self.decoder_relevance = self._relevance(L.INPUT_DECODER_TOKENS)
        self.ids = self._ids(L.IDS_INPUT)
        self.decoder_ids = self._ids(L.IDS_DECODER)
        self.answer_ids = self._ids(L.IDS_ANSWER)
        self.tokens = self._strings(L.STR_TOKEN, 0 if self.ids is None else len(self.ids))
        self.decoder_tokens = self._strings(L.STR_DECODER_TOKEN, 0 if self.decoder_ids is None else len(self.decoder_ids))
        n = ctypes.c_size_t()
        rc = lib.attnlrp_result_logits(handle, None, 0, ctypes.byref(n))
        self.logits = None
        if rc == L.OK:
            self.logits = np.empty(n.value, dtype=np.float32)
            _check(lib.attnlrp_result_logits(handle, self.logits.ctypes.data_as(L.c_float_p), n.value, ctypes.byref(n)))
        elif rc != L.ERR_ABSENT:
            _check(rc)
        top = (L.Top * 8)()
        _check(lib.attnlrp_result_top(handle, top, 8, ctypes.byref(n)))
        tops = self._strings(L.STR_TOP, n.value)
        self.top = [Top(t.id, tops[i] if tops else None, float(t.logit), float(t.prob)) for i, t in enumerate(top[: n.value])]
        for which, name in enumerate(L.READOUTS):
            setattr(self, name, self._readout(which))
        # the inputs beside the tokens, and the views asked for (aggregate="word", normalize)
        self.token_type_ids = self._ids(L.IDS_TOKEN_TYPES)
        self.attention_mask = self._ids(L.IDS_ATTENTION_MASK)
        self.chat_prompt = self._string(L.STR_CHAT_PROMPT)
        self.chat_template = self._string(L.STR_CHAT_TEMPLATE)
        self.word_starts = self._ids(L.IDS_WORD_STARTS)
        self.words = self._strings(L.STR_WORD, 0 if self.word_starts is None else len(self.word_starts))
        words = self._readout(L.READOUT_WORDS)
        self.word_relevance = None if words is None else words[0]
        normalized = self._readout(L.READOUT_NORMALIZED)
        self.relevance_normalized = None if normalized is None else normalized[0]
        shared = self._readout(L.READOUT_SHARED_EXPERT)
        self.shared_expert = None if shared is None else shared[:, 0]

    def _string(self, kind, index=0):
        lib = _L()
        n = ctypes.c_size_t()
        rc = lib.attnlrp_result_string(self._r, kind, index, None, 0, ctypes.byref(n))
        if rc == L.ERR_ABSENT:
            return None
        _check(rc)
        buf = ctypes.create_string_buffer(n.value)
        _check(lib.attnlrp_result_string(self._r, kind, index, buf, n.value, ctypes.byref(n)))
        return buf.value.decode("utf-8", "replace")

    def _strings(self, kind, count):
        if count == 0:
            return None
        first = self._string(kind, 0)
        if first is None:
            return None
        return [first] + [self._string(kind, i) for i in range(1, count)]

    def _array(self, getter, kind, dtype, ptr):
        """A 1-D array from a getter that reports its size first (None when the result has none)."""
        n = ctypes.c_size_t()
        rc = getter(self._r, kind, None, 0, ctypes.byref(n))
        if rc == L.ERR_ABSENT:
            return None
        _check(rc)
        v = np.empty(n.value, dtype=dtype)
        _check(getter(self._r, kind, v.ctypes.data_as(ptr), n.value, ctypes.byref(n)))
        return v

    def _relevance(self, kind):
        return self._array(_L().attnlrp_result_relevance, kind, np.float32, L.c_float_p)

    def _ids(self, kind):
        return self._array(_L().attnlrp_result_ids, kind, np.int32, L.c_int_p)

    def _readout(self, which):
        lib = _L()
        n, rows, cols = ctypes.c_size_t(), ctypes.c_size_t(), ctypes.c_size_t()
        rc = lib.attnlrp_result_readout(self._r, which, None, 0, ctypes.byref(n), ctypes.byref(rows), ctypes.byref(cols))
        if rc == L.ERR_ABSENT:
            return None
        _check(rc)
        v = np.empty((rows.value, cols.value), dtype=np.float32)
        _check(lib.attnlrp_result_readout(self._r, which, v.ctypes.data_as(L.c_float_p), n.value, ctypes.byref(n),
                                          None, None))
        return v

    def _render(self, fmt):
        return _fetch_string(_L().attnlrp_result_render, self._r, fmt)

    def to_json(self):
        """The JSON of `attnlrp explain --format json` (a str; json.loads gives the dict)."""
        return self._render(L.FORMAT_JSON)

    def to_dict(self):
        return json.loads(self.to_json())

    def to_html(self):
        """A self-contained HTML page: the tokens coloured by relevance, the top predictions."""
        return self._render(L.FORMAT_HTML)

    def to_text(self):
        return self._render(L.FORMAT_TEXT)

    def _repr_html_(self):
        return self.to_html()

    def __repr__(self):
        return "<attnlrp.Explanation %s of %s %r (%s = %.4g) over %d tokens>" % (
            self.method, "target", self.target_token if self.target_token is not None else self.target,
            self.explained, self.start_value, self.n_tokens)

    def __del__(self):
        if getattr(self, "_r", None) is not None and _lib is not None:
            _lib.attnlrp_result_free(self._r)
            self._r = None

"""The Python package (python/attnlrp) against the attnlrp program's JSON on the same inputs: every value
equal within 1e-6 (relative), NumPy dtypes and shapes, and errors raised as attnlrp.Error with the
library's message. Run by tests/test_python.sh (BIN: the program, ATTNLRP_LIB: the library)."""
import json
import os
import subprocess

import numpy as np
import pytest

import attnlrp

BIN = os.environ.get("ATTNLRP_BIN", "build/attnlrp")
PROMPT = "Leo's dog is called"
TOL = 1e-6


def cli(*args):
    out = subprocess.run([BIN, *args], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def cli_explain(*args):
    return cli("explain", "--format", "json", *args)


def close(a, b, tol=TOL):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert np.all(np.abs(a - b) <= tol * np.maximum(1.0, np.abs(b))), (a, b)


@pytest.fixture(scope="module")
def model():
    return attnlrp.Model("models/default")


@pytest.fixture(scope="module")
def sentiment():
    return attnlrp.Model("models/sentiment")


def test_default_model_is_the_shipped_one(model):
    m = attnlrp.Model()
    assert os.path.realpath(m.path) == os.path.realpath("models/default")
    assert (m.model_type, m.task, m.n_layers, m.hidden_size, m.n_heads) == ("llama", "causal-lm", 4, 64, 4)
    assert m.has_tokenizer and m.vocab_size == m.n_outputs
    assert attnlrp.library_version() == subprocess.run([BIN, "--version"], capture_output=True, text=True).stdout.split()[1]


def test_explain_text_equals_the_cli_json(model):
    ex = model.explain(PROMPT)
    js = cli_explain(PROMPT)
    assert ex.relevance.dtype == np.float32 and ex.relevance.shape == (len(js["ids"]),)
    close(ex.relevance, js["relevance"])
    assert ex.ids.dtype == np.int32 and ex.ids.tolist() == js["ids"]
    assert ex.tokens == js["tokens"]
    assert (ex.target, ex.target_token, ex.position, ex.task) == (js["target"], js["target_token"], js["position"], js["task"])
    close(ex.target_logit, js["target_logit"])
    close(ex.start_value, js["start_value"])
    close(ex.relevance_sum, js["relevance_sum"])
    assert (ex.method, ex.score, ex.explained) == (js["method"], js["score"], js["explained"])
    assert [t.id for t in ex.top] == [t["id"] for t in js["top"]]
    assert [t.token for t in ex.top] == [t["token"] for t in js["top"]]
    close([t.logit for t in ex.top], [t["logit"] for t in js["top"]])
    close([t.prob for t in ex.top], [t["prob"] for t in js["top"]])
    assert ex.relevance_positions is None and ex.relevance_pixels is None and ex.contrast is None
    assert ex.layers is None and ex.heads is None


def test_all_logits_equal_the_cli(model):
    ex = model.explain(PROMPT)
    js = cli_explain(PROMPT, "--all-logits")
    assert ex.logits.dtype == np.float32 and ex.logits.shape == (model.n_outputs,)
    close(ex.logits, js["logits"])


def test_token_ids_give_the_same_explanation_as_text(model):
    ids = model.tokenize(PROMPT)
    a, b = model.explain(PROMPT), model.explain(np.array(ids))
    assert b.ids.tolist() == ids
    close(a.relevance, b.relevance, 0)


@pytest.mark.parametrize("method", ["cplrp", "gradxinput", "gradient", "ig"])
def test_methods_equal_the_cli(model, method):
    ex = model.explain(PROMPT, method=method, steps=4)
    js = cli_explain(PROMPT, "--method", method, "--steps", "4")
    assert ex.method == method
    close(ex.relevance, js["relevance"])


def test_baseline_parameters_and_ablations_equal_the_cli(model):
    cases = [
        (dict(method="ig", steps=4, quadrature="gauss-legendre"), ["--method", "ig", "--steps", "4", "--quadrature", "gauss-legendre"]),
        (dict(method="smoothgrad", samples=4, noise=0.05, seed=3), ["--method", "smoothgrad", "--samples", "4", "--noise", "0.05", "--seed", "3"]),
        (dict(softmax_rule="identity"), ["--softmax-rule", "identity"]),
    ]
    for kwargs, flags in cases:
        ex, js = model.explain(PROMPT, **kwargs), cli_explain(PROMPT, *flags)
        close(ex.relevance, js["relevance"])
        mine = ex.to_dict()
        for key in ("quadrature", "samples", "seed", "softmax_rule", "steps"):
            assert mine.get(key) == js.get(key), key


def test_target_contrast_and_score_equal_the_cli(model):
    ex = model.explain(PROMPT, target=" Bingo", contrast=984, score="logprob")
    js = cli_explain(PROMPT, "--target", " Bingo", "--contrast-id", "984", "--score", "logprob")
    assert (ex.target, ex.contrast, ex.target_token, ex.contrast_token) == (
        js["target"], js["contrast"], js["target_token"], js["contrast_token"])
    close(ex.relevance, js["relevance"])
    close(ex.start_value, js["start_value"])
    close(ex.target_score, js["target_score"])
    assert ex.explained == js["explained"]


def test_readouts_equal_the_cli_as_2d_float32(model):
    ex = model.explain(PROMPT, layers=True, heads=True, latent_layer=1, per_position=True)
    js = cli_explain(PROMPT, "--layers", "--heads", "--latent-layer", "1", "--per-position")
    for name, field in [("layers", "residual_relevance"), ("heads", "head_relevance"),
                        ("latent_positions", "latent_position_relevance")]:
        v = getattr(ex, name)
        assert v.dtype == np.float32 and v.ndim == 2
        close(v, js[field])
    assert ex.latent.shape == (1, len(js["latent_relevance"]))
    close(ex.latent[0], js["latent_relevance"])
    assert ex.layers.shape == (4, len(js["ids"])) and ex.heads.shape == (4, 4)


def test_neurons_and_interventions(model):
    ex = model.explain(PROMPT, neurons=True)
    assert ex.neurons.shape == ex.neuron_activations.shape == (4, 192)
    a = model.explain(PROMPT, set=[(1, 5, 0.0), (2, 7, 2.0, "scale")])
    js = cli_explain(PROMPT, "--set", "1:5=0", "--set", "2:7=*2")
    close(a.relevance, js["relevance"])


def test_answer_equals_the_cli(model):
    ex = model.explain(PROMPT, answer=" Buddy")
    js = cli_explain(PROMPT, "--answer", " Buddy")
    close(ex.relevance, js["relevance"])
    close(ex.start_value, js["start_value"])
    assert ex.score == "logprob" and ex.answer_ids.tolist() == [984]


def test_to_json_is_the_cli_json_but_the_timings(model):
    ex = model.explain(PROMPT, layers=True)
    mine, theirs = ex.to_dict(), cli_explain(PROMPT, "--layers")
    mine.pop("seconds")
    theirs.pop("seconds")
    assert mine == theirs
    html = ex.to_html()
    word = theirs["target_token"].strip()  # what the program predicts, e.g. "Spot"
    assert html == ex._repr_html_() and word in html and html.lstrip().lower().startswith("<!doctype")
    assert word in ex.to_text() and word in repr(ex)


def test_a_classifier_reports_every_input_kind_like_the_cli(sentiment):
    text, pair = "I think the plot was not good.", "It arrived on Tuesday."
    ex = sentiment.explain(text, text_pair=pair)
    js = cli_explain("--model", "models/sentiment", text, "--text-pair", pair)
    assert ex.task == "classifier" and ex.position is None and ex.target_token == js["target_token"] == "negative"
    for name, field in [("relevance", "relevance"), ("relevance_positions", "relevance_positions"),
                        ("relevance_token_types", "relevance_token_types"), ("logits", "logits")]:
        assert getattr(ex, name).dtype == np.float32
        close(getattr(ex, name), js[field])
    close(ex.relevance_cls, js["relevance_cls"])
    with pytest.raises(attnlrp.Error) as e:
        sentiment.generate(text)
    assert e.value.status == "model" and "generation needs" in str(e.value)


def test_an_image_model_explains_a_file_like_the_cli():
    vit = attnlrp.Model("models/vit-fashion")
    ex = vit.explain(image="data/fashion/4-coat.png")
    js = cli_explain("--model", "models/vit-fashion", "--pixels", "data/fashion/4-coat.png")
    assert ex.target_token == js["target_token"] == "Coat" and ex.tokens is None and ex.ids is None
    assert ex.relevance.shape == (7, 7) and ex.relevance_pixels.shape == (28, 28)
    close(ex.relevance.ravel(), js["relevance"])
    close(ex.relevance_pixels, js["relevance_pixels"])


def test_tokenize_and_generate_equal_the_cli(model):
    assert model.tokenize(PROMPT) == cli("explain", "--format", "json", PROMPT)["ids"]
    assert model.tokenize(PROMPT, special=False) == model.tokenize(PROMPT)[1:]
    assert model.detokenize(model.tokenize(PROMPT), skip_special=True) == PROMPT
    seen = []
    g = model.generate(PROMPT, max_new=5, stop_at_eos=False, callback=lambda i, t: seen.append((i, t)))
    js = cli("generate", "--format", "json", "-n", "5", "--no-eos", PROMPT)
    assert g.ids == js["generated_ids"] and [i for i, _ in seen] == g.ids and g.tokens == [t for _, t in seen]
    assert PROMPT + g.text == js["text"]
    g2 = model.generate(model.tokenize(PROMPT), max_new=5, callback=lambda i, t: True)
    assert g2.ids == g.ids[:1]  # stopped by the callback after its first token


def test_a_callback_exception_propagates(model):
    def boom(i, t):
        raise KeyError("stop here")

    with pytest.raises(KeyError):
        model.generate(PROMPT, max_new=3, callback=boom)


def test_errors_carry_the_librarys_message(model):
    with pytest.raises(attnlrp.Error) as e:
        model.explain(PROMPT, position=99)
    assert e.value.status == "argument" and "position 99" in str(e.value)
    with pytest.raises(attnlrp.Error, match="method"):
        model.explain(PROMPT, method="lime")
    with pytest.raises(attnlrp.Error, match="options.score"):
        model.explain(PROMPT, score="odds")
    with pytest.raises(attnlrp.Error, match="target_text"):
        model.explain(PROMPT, target="zzqxv wombat")
    with pytest.raises(attnlrp.Error, match="out of range"):
        model.explain([1, 1 << 28])
    with pytest.raises(attnlrp.Error) as e:
        attnlrp.Model("/nonexistent/model")
    assert e.value.status == "model" and "/nonexistent/model" in str(e.value)
    with pytest.raises(ValueError):
        model.explain(PROMPT, image="x.png")
    with pytest.raises(ValueError):
        model.explain(PROMPT, latent_start=(1, 2))
    with pytest.raises(ValueError):
        attnlrp.Model(threads=0)


def test_a_closed_model_raises_and_its_explanations_stay(model):
    m = attnlrp.Model("models/default", threads=1)
    ex = m.explain(PROMPT)
    m.close()
    m.close()
    with pytest.raises(attnlrp.Error) as e:
        m.explain(PROMPT)
    assert e.value.status == "closed"
    with pytest.raises(attnlrp.Error):
        m.tokenize(PROMPT)
    assert ex.to_dict()["target_token"] == cli_explain(PROMPT)["target_token"]


# ---- since 0.2: the options the attnlrp program's explain passes through the same API ----

def test_word_and_normalized_views_equal_the_cli_json(model):
    text = "Café is nice, unbelievably"
    ex = model.explain(text, aggregate="word", normalize="sum")
    js = cli_explain(text, "--aggregate", "word", "--normalize", "sum")
    assert ex.words == [w["text"] for w in js["words"]]
    assert ex.word_starts.dtype == np.int32 and ex.word_starts.tolist() == [w["start_token"] for w in js["words"]]
    close(ex.word_relevance, [w["relevance"] for w in js["words"]])
    close(ex.relevance_normalized, [w["relevance_normalized"] for w in js["words"]])
    ex = model.explain(text, normalize="max")
    js = cli_explain(text, "--normalize", "max")
    close(ex.relevance_normalized, js["relevance_normalized"])
    assert ex.words is None and ex.word_relevance is None
    assert json.loads(ex.to_json())["normalization"] == js["normalization"]
    with pytest.raises(ValueError):
        model.explain(text, aggregate="sentence")


def test_token_types_and_mask_equal_the_cli_json(model, sentiment):
    ex = model.explain(PROMPT, attention_mask=[1, 1, 1, 1, 1, 0])
    js = cli_explain(PROMPT, "--attention-mask", "1,1,1,1,1,0")
    assert ex.attention_mask.tolist() == js["attention_mask"] and ex.position == js["position"] == 4
    close(ex.relevance, js["relevance"])
    text = "I think the plot was not good."
    ids = sentiment.tokenize(text)
    types = [0] * (len(ids) - 3) + [1] * 3
    ex = sentiment.explain(ids, token_type_ids=types)
    js = cli_explain("--model", "models/sentiment", "--ids", ",".join(map(str, ids)), "--token-type-ids",
                     ",".join(map(str, types)))
    assert ex.token_type_ids.tolist() == js["token_type_ids"] == types
    close(ex.relevance_token_types, js["relevance_token_types"])
    with pytest.raises(attnlrp.Error) as e:
        sentiment.explain(ids, token_type_ids=types[:-1])
    assert "options.n_token_types" in str(e.value)


def test_expert_readouts_of_a_shared_expert_moe_equal_the_cli_json(tmp_path):
    # a tiny Qwen2-MoE checkpoint (routed experts and a shared one) written by the reference's generator
    subprocess.run(["/usr/bin/python3", "tests/reference/make_checkpoint.py", str(tmp_path), "qwen2_moe"], check=True,
                   capture_output=True)
    path = str(tmp_path / "qwen2_moe")
    m = attnlrp.Model(path)
    for method in ("attnlrp", "gradient"):
        ex = m.explain([1, 5, 9, 3], method=method)
        js = cli_explain("--model", path, "--ids", "1,5,9,3", "--method", method)
        close(ex.experts, js["expert_relevance"])
        assert ex.shared_expert.dtype == np.float32 and ex.shared_expert.shape == (m.n_layers,)
        close(ex.shared_expert, js["shared_expert_relevance"])
    assert attnlrp.Model("models/default").explain(PROMPT).shared_expert is None


def test_decoder_text_equals_the_cli_json():
    t5 = attnlrp.Model("models/t5-facts")
    src = "question: What is the capital of France?"
    ex = t5.explain(src, decoder_text="The capital")
    js = cli_explain("--model", "models/t5-facts", src, "--decoder-text", "The capital")
    assert ex.decoder_ids.tolist() == js["decoder_ids"]
    close(ex.decoder_relevance, js["decoder_relevance"])
    assert ex.decoder_ids[1:].tolist() == t5.tokenize("The capital", special=False)


def test_chat_equals_the_cli_json(tmp_path):
    import shutil
    d = tmp_path / "chat"
    shutil.copytree("models/default", d)
    cfg = json.load(open(d / "tokenizer_config.json"))
    cfg["chat_template"] = "{% for m in messages %}### {{ m['role'] }}: {{ m['content'] }}{{ eos_token }}{% endfor %}"
    json.dump(cfg, open(d / "tokenizer_config.json", "w"))
    m = attnlrp.Model(str(d))
    ex = m.explain("hi", chat=True)
    js = cli_explain("--model", str(d), "hi", "--chat")
    assert (ex.chat_prompt, ex.chat_template) == (js["prompt"], js["chat_template"]) == ("### user: hi</s>", "other")
    assert ex.ids.tolist() == js["ids"] == m.tokenize("### user: hi</s>", special=False) == m.tokenize("hi", chat=True)
    close(ex.relevance, js["relevance"])
    g = m.generate("hi", max_new=2, chat=True)
    assert g.ids == cli("generate", "--model", str(d), "hi", "--chat", "-n", "2", "--format", "json")["generated_ids"]
    with pytest.raises(attnlrp.Error) as e:
        attnlrp.Model("models/default").explain("hi", chat=True)
    assert "has no chat template" in str(e.value)


def test_token_text_and_pieces_equal_the_cli_tokenize(model):
    js = cli("tokenize", "--format", "json", PROMPT)
    ids = model.tokenize(PROMPT)
    assert ids == js["ids"]
    assert [model.token_text(i, piece=True) for i in ids] == js["tokens"]
    assert [model.token_text(i) for i in ids] == js["text"]



def test_nul_bytes_are_text_as_in_the_cli_tokenize(model, tmp_path):
    f = tmp_path / "nul.txt"
    f.write_bytes(b"a\x00b\n")
    js = cli("tokenize", "--format", "json", "--no-special", "--file", str(f))
    assert model.tokenize("a\0b", special=False) == js["ids"] and len(js["ids"]) == 3



def test_a_tokenizer_alone_equals_the_cli_tokenize():
    tok = attnlrp.Tokenizer("models/default/tokenizer.json")
    js = cli("tokenize", "--model", "models/default/tokenizer.json", "--format", "json", PROMPT)
    ids = tok.tokenize(PROMPT)
    assert ids == js["ids"] and [tok.token_text(i, piece=True) for i in ids] == js["tokens"]
    assert tok.detokenize(ids, skip_special=True) == PROMPT
    with pytest.raises(attnlrp.Error) as e:
        tok.tokenize(PROMPT, chat=True)
    assert e.value.status == "model" and "attnlrp_open_tokenizer" in str(e.value)

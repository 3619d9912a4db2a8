#!/usr/bin/env python3
"""What is explained (explain --answer / --score / --contrast, generate --continuation), checked against
independent values: relevance is linear in the start scalar, so an answer's relevance must equal the sum
of the explanations of its tokens taken one at a time (each with its own prefix); cplrp conserves the
seeded logits on bias-free models; the scores against their closed forms from the logits; forced
continuations row by row against separate explanations; --no-special and --chat token ids.

Usage: targets_check.py BIN TMPDIR.  Prints "N passed, N failed" last."""
import json
import math
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference"))
from tally import Tally  # noqa: E402

BIN, TMP = sys.argv[1], sys.argv[2]
DEFAULT = "models/default"
T5 = "models/t5-facts"
STORIES = "../shared/models/stories260K/stories260K.gguf"
TINY = "../shared/models/TinyStories-656K"
PROMPT = "Mia's cat is called Tom. Leo's dog is called Rex. Leo's dog is called"
T = Tally()
check = T.ok


def run(*args):
    p = subprocess.run([BIN, *args], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} -> exit {p.returncode}: {p.stderr.strip()}")
    return p.stdout


def explain(*args):
    return json.loads(run("explain", "--format", "json", *args))


def close(a, b, scale, tol=1e-4):
    return abs(a - b) <= tol * max(scale, 1e-30)


def rel_close(xs, ys, tol=1e-4):
    if len(xs) != len(ys):
        return False
    m = max([abs(v) for v in xs + ys] + [1e-30])
    return all(abs(x - y) <= tol * m for x, y in zip(xs, ys))


def logsumexp(v):
    m = max(v)
    return m + math.log(sum(math.exp(x - m) for x in v))


def ids_arg(ids):
    return ",".join(map(str, ids))


# ---- 1. --answer equals the sum of its tokens explained one at a time (linearity in the start scalar)
def answer_linearity(model, prompt, answer, methods, scores):
    for method in methods:
        for score in scores:
            a = explain("--model", model, prompt, "--answer", answer, "--method", method, "--score", score)
            k, ids = len(a["answer_ids"]), a["ids"]
            L = len(ids)
            check(ids[L - k + 1:] == a["answer_ids"][:-1], f"{model} {method}: input ends with the answer but its last")
            check(a["answer_positions"] == list(range(L - k, L)), f"{model}: answer rows {a['answer_positions']}")
            total = [0.0] * L
            start = 0.0
            for j in range(k):
                n = L - k + 1 + j  # the prefix that predicts answer token j
                e = explain("--model", model, "--ids", ids_arg(ids[:n]), "--target-id", str(a["answer_ids"][j]),
                            "--method", method, "--score", score)
                check(close(e["start_value"], a["answer_scores"][j], abs(e["start_value"]), 1e-5),
                      f"{model} {method} {score}: token {j} score {a['answer_scores'][j]} vs {e['start_value']}")
                for t, r in enumerate(e["relevance"]):
                    total[t] += r
                start += e["start_value"]
            check(close(a["start_value"], start, abs(start), 1e-5),
                  f"{model} {method} {score}: answer start {a['start_value']} vs sum {start}")
            check(rel_close(a["relevance"], total),
                  f"{model} {method} {score}: answer relevance is not the sum of its tokens' "
                  f"(max diff {max(abs(x - y) for x, y in zip(a['relevance'], total)):.3g})")


answer_linearity(DEFAULT, PROMPT, " Rex. Mia", ["attnlrp", "cplrp", "gradxinput"], ["logit", "logprob", "prob"])
answer_linearity(STORIES, "Once upon a time", "there was a", ["attnlrp"], ["logprob"])
answer_linearity(TINY, "Once upon a time, there was a little girl named", " Lily. She", ["attnlrp"], ["logprob"])

# default score with --answer is logprob; the answer's tokens and positions in the JSON and the text
a = explain(PROMPT, "--answer", " Rex. Mia")
check(a["score"] == "logprob" and a["explained"] == "sum_j logprob(answer[j])", f"answer default score {a['score']}")
check(a["answer_tokens"] == [" Rex", ".", " Mia"] and a["answer_ids"] == [577, 50, 554], f"answer tokens {a['answer_tokens']}")
check(a["tokens"][-2:] == [" Rex", "."], "answer prefix tokens are inputs")
txt = run("explain", PROMPT, "--answer", " Rex. Mia")
check("explained: sum_j logprob(answer[j]) = " in txt and '" Rex"@19: ' in txt and '" Mia"@21: ' in txt, "answer in text")
html = run("explain", PROMPT, "--answer", " Rex. Mia", "--format", "html")
check("explained: sum_j logprob(answer[j])" in html and "&ldquo; Mia&rdquo;@21" in html, "answer in html")

# ---- 2. conservation: cplrp on a bias-free LLaMA distributes exactly the seeded logits
for score in ["logit", "logprob", "prob"]:
    c = explain(PROMPT, "--answer", " Rex. Mia", "--method", "cplrp", "--score", score)
    check(close(c["relevance_sum"], c["seed_value"], abs(c["seed_value"]), 1e-4),
          f"cplrp {score}: relevance_sum {c['relevance_sum']} vs seed_value {c['seed_value']}")
    check(abs(c["conservation"]["ratio"] - 1) < 1e-4, f"cplrp {score}: the conservation report's ratio {c['conservation']['ratio']}")
    if score == "logit":
        check(close(c["seed_value"], c["start_value"], abs(c["start_value"]), 1e-6), "logit seed_value = start_value")
    c = explain(PROMPT, "--method", "cplrp", "--score", score)
    check(close(c["relevance_sum"], c["seed_value"], abs(c["seed_value"]), 1e-4), f"cplrp {score} single token conserves")

# ---- 3. the scores against their closed forms from the logits at the position
for model, prompt in [(DEFAULT, PROMPT), (TINY, "Once upon a time, there was a little girl named"),
                      (T5, "question: where does Emma live? context: Emma lives in Dublin.")]:
    base = explain("--model", model, prompt, "--all-logits")
    lg, y = base["logits"], base["target"]
    lz = logsumexp(lg)
    lp = lg[y] - lz
    p = [math.exp(v - lz) for v in lg]
    mean_logit = sum(pv * v for pv, v in zip(p, lg))
    for score, want, seed in [("logit", lg[y], lg[y]), ("logprob", lp, lg[y] - mean_logit),
                              ("prob", math.exp(lp), math.exp(lp) * (lg[y] - mean_logit))]:
        e = explain("--model", model, prompt, "--score", score)
        check(close(e["start_value"], want, max(abs(want), 1e-3), 1e-5), f"{model} {score}: {e['start_value']} vs {want}")
        check(close(e["target_score"], want, max(abs(want), 1e-3), 1e-5), f"{model} {score}: target_score")
        check(close(e["seed_value"], seed, max(abs(seed), abs(lg[y])), 1e-5), f"{model} {score}: seed_value {e['seed_value']} vs {seed}")
        check(e["explained"] == f"{score}(target)", f"explained {e['explained']}")
    # prob's seed is p_y times logprob's: so is its relevance
    el = explain("--model", model, prompt, "--score", "logprob")
    ep = explain("--model", model, prompt, "--score", "prob")
    py = math.exp(lp)
    check(rel_close(ep["relevance"], [py * r for r in el["relevance"]]), f"{model}: R(prob) = p_y R(logprob)")

# a contrast: logprob(y) - logprob(f) = logit(y) - logit(f) (log Z cancels), the same relevance
foil = explain(PROMPT, "--contrast", " Max")
tok = json.loads(run("tokenize", "--no-special", "--format", "json", " Max"))
check(foil["contrast"] == tok["ids"][0] and foil["contrast_token"] == " Max", f"--contrast ' Max' -> {foil['contrast']}")
foil_id = explain(PROMPT, "--contrast-id", str(foil["contrast"]))
check(foil_id["relevance"] == foil["relevance"] and foil_id["contrast_token"] == " Max", "--contrast-id = --contrast text")
check(foil["explained"] == "logit(target) - logit(contrast)", f"explained {foil['explained']}")
flp = explain(PROMPT, "--contrast", " Max", "--score", "logprob")
check(flp["explained"] == "logprob(target) - logprob(contrast)", f"explained {flp['explained']}")
check(close(flp["start_value"], foil["start_value"], abs(foil["start_value"]), 1e-5), "logprob contrast = logit contrast")
check(rel_close(flp["relevance"], foil["relevance"], 1e-5), "logprob contrast relevance = logit contrast relevance")
check(close(flp["target_score"] - flp["contrast_score"], flp["start_value"], abs(flp["start_value"]), 1e-6),
      "target_score - contrast_score = start_value")
fp = explain(PROMPT, "--contrast", " Max", "--score", "prob", "--all-logits")
lz = logsumexp(fp["logits"])
want = math.exp(fp["logits"][fp["target"]] - lz) - math.exp(fp["logits"][fp["contrast"]] - lz)
check(close(fp["start_value"], want, abs(want), 1e-5), f"prob contrast {fp['start_value']} vs {want}")

# ---- 4. encoder-decoders: the answer goes on the decoder side
SRC = "question: where does Emma live? context: Rosa drinks cocoa. Emma lives in Dublin. Nina's car is green."
a = explain("--model", T5, SRC, "--answer", " Dublin")
k, dec = len(a["answer_ids"]), a["decoder_ids"]
check(k >= 2 and dec[1:] == a["answer_ids"][:-1], f"t5 decoder input {dec} answer {a['answer_ids']}")
tot_src, tot_dec, start = [0.0] * len(a["relevance"]), [0.0] * len(dec), 0.0
for j in range(k):
    prefix = ["--decoder-ids", ids_arg(dec[1:1 + j])] if j else []
    e = explain("--model", T5, SRC, *prefix, "--target-id", str(a["answer_ids"][j]), "--score", "logprob")
    tot_src = [x + y for x, y in zip(tot_src, e["relevance"])]
    for t, r in enumerate(e["decoder_relevance"]):
        tot_dec[t] += r
    start += e["start_value"]
check(close(a["start_value"], start, abs(start), 1e-5), "t5 answer start = sum of its tokens'")
check(rel_close(a["relevance"] + a["decoder_relevance"], tot_src + tot_dec), "t5 answer relevance = sum of its tokens'")
a2 = explain("--model", T5, SRC, "--decoder-text", " Du", "--answer-ids", str(a["answer_ids"][1]))
e2 = explain("--model", T5, SRC, "--decoder-text", " Du", "--target-id", str(a["answer_ids"][1]), "--score", "logprob")
check(a2["decoder_ids"] == dec[:2] and a2["answer_positions"] == [1], "t5 answer after --decoder-text")
check(rel_close(a2["relevance"] + a2["decoder_relevance"], e2["relevance"] + e2["decoder_relevance"], 1e-6),
      "t5 one-token answer = explain --target-id --score logprob")


# ---- 5. forced continuations: every row of the matrix equals its own explanation
def continuation(model, prompt, cont, method="attnlrp", score="logit"):
    g = json.loads(run("generate", "--model", model, prompt, "--explain", "--continuation", cont, "--format", "json",
                       "--method", method, "--score", score))
    gen, P, M = g["generated_ids"], len(g["prompt_ids"]), g["matrix"]
    want = json.loads(run("tokenize", "--model", model, "--no-special", "--format", "json", cont))["ids"]
    check(gen == want, f"{model}: continuation ids {gen} vs {want}")
    check(len(M) == len(gen) and all(len(r) == P + len(gen) for r in M), f"{model}: matrix shape")
    seq2seq = "relevance_matrix" in g
    start_id = explain("--model", model, prompt)["decoder_ids"][0] if seq2seq else None
    check(g["matrix_ids"] == g["prompt_ids"] + ([start_id] + gen[:-1] if seq2seq else gen), f"{model}: matrix_ids")
    for i, row in enumerate(M):
        n = P + i + (1 if seq2seq else 0)  # values before the nulls
        check(all(v is not None for v in row[:n]) and all(v is None for v in row[n:]), f"{model}: row {i} nulls")
        if seq2seq:
            prefix = ["--decoder-ids", ids_arg(gen[:i])] if i else []
            e = explain("--model", model, prompt, *prefix, "--target-id", str(gen[i]), "--method", method, "--score", score)
            sep = e["relevance"] + e["decoder_relevance"]
        else:
            e = explain("--model", model, "--ids", ids_arg(g["prompt_ids"] + gen[:i]), "--target-id", str(gen[i]),
                        "--method", method, "--score", score)
            sep = e["relevance"]
        check(rel_close(row[:n], sep, 1e-5), f"{model}: matrix row {i} vs separate explain")
        check(close(g["explanations"][i]["start_value"], e["start_value"], abs(e["start_value"]), 1e-6),
              f"{model}: row {i} start value")


continuation(DEFAULT, "Leo's dog is called", " Rex. Mia's cat")
continuation(DEFAULT, "Leo's dog is called", " Rex.", "cplrp", "logprob")
continuation(STORIES, "Once upon a time", "there was a girl")
continuation(T5, SRC, " Dublin")
# generate --explain (generated, not forced) has the same rectangular matrix
g = json.loads(run("generate", "Leo's dog is called", "-n", "3", "--explain", "--format", "json"))
P = len(g["prompt_ids"])
check([sum(v is None for v in r) for r in g["matrix"]] == [3, 2, 1] and all(len(r) == P + 3 for r in g["matrix"]),
      "generate --explain matrix")
check(g["matrix"][1][:P + 1] == g["explanations"][1]["relevance"], "matrix rows are the explanations' relevance")

# ---- 6. --no-special: no BOS; ids as tokenize --no-special
for model, text in [(DEFAULT, PROMPT), (STORIES, "Once upon a time"), (TINY, "Once upon a time")]:
    e = explain("--model", model, text, "--no-special")
    want = json.loads(run("tokenize", "--model", model, "--no-special", "--format", "json", text))["ids"]
    with_bos = json.loads(run("tokenize", "--model", model, "--format", "json", text))["ids"]
    check(e["ids"] == want and with_bos == [1] + want, f"{model} --no-special ids {e['ids'][:3]} vs {want[:3]}")
g = json.loads(run("generate", "Leo's dog is called", "-n", "1", "--no-special", "--format", "json"))
check(g["prompt_ids"][0] != 1, "generate --no-special")

# ---- 7. chat templates: each known layout against the prompt derived by hand from its definition
TEMPLATES = {
    # meta-llama/Llama-2-7b-chat-hf (system-message handling elided; one user message takes this branch)
    "llama-2": ("{% for message in messages %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + "
                "message['content'].strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' ' + "
                "message['content'].strip() + ' ' + eos_token }}{% endif %}{% endfor %}",
                "<s>[INST] Where is Rex? [/INST]"),
    # meta-llama/Meta-Llama-3-8B-Instruct
    "llama-3": ("{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
                "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + "
                "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
                "{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant"
                "<|end_header_id|>\n\n' }}{% endif %}",
                "<s><|start_header_id|>user<|end_header_id|>\n\nWhere is Rex?<|eot_id|><|start_header_id|>assistant"
                "<|end_header_id|>\n\n"),
    # Qwen/Qwen2-0.5B-Instruct: a default system turn when the messages have none
    "chatml": ("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ "
               "'<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + "
               "message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if "
               "add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
               "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n  Where is Rex? "
               "<|im_end|>\n<|im_start|>assistant\n"),
    # google/gemma-2b-it (the raise_exception branches elided)
    "gemma": ("{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'assistant') %}{% set role = "
              "'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + "
              "message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{"
              "'<start_of_turn>model\n'}}{% endif %}",
              "<s><start_of_turn>user\nWhere is Rex?<end_of_turn>\n<start_of_turn>model\n"),
    # microsoft/Phi-3-mini-4k-instruct
    "phi-3": ("{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\n' + "
              "message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\n' + "
              "message['content'] + '<|end|>\n'}}{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n' + "
              "message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ "
              "'<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}",
              "<|user|>\n  Where is Rex? <|end|>\n<|assistant|>\n"),
}
cfg = json.load(open(os.path.join(DEFAULT, "tokenizer_config.json")))
for fam, (tmpl, want) in TEMPLATES.items():
    d = os.path.join(TMP, "chat-" + fam)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(DEFAULT):
        if f != "tokenizer_config.json" and not os.path.exists(os.path.join(d, f)):
            os.symlink(os.path.abspath(os.path.join(DEFAULT, f)), os.path.join(d, f))
    json.dump(dict(cfg, chat_template=tmpl), open(os.path.join(d, "tokenizer_config.json"), "w"))
    e = explain("--model", d, "  Where is Rex? ", "--chat")
    check(e.get("chat_template") == fam, f"{fam}: recognised as {e.get('chat_template')}")
    check(e.get("prompt") == want, f"{fam}: prompt {e.get('prompt')!r} vs {want!r}")
    ids = json.loads(run("tokenize", "--model", d, "--no-special", "--format", "json", want))["ids"]
    check(e["ids"] == ids, f"{fam}: chat ids")
    g = json.loads(run("generate", "--model", d, "  Where is Rex? ", "--chat", "-n", "1", "--format", "json"))
    check(g["prompt_ids"] == ids, f"{fam}: generate --chat ids")
# the same template as chat_template.jinja beside a config without one; a list of named templates
d = os.path.join(TMP, "chat-jinja")
shutil.copytree(DEFAULT, d)
open(os.path.join(d, "chat_template.jinja"), "w").write(TEMPLATES["gemma"][0])
check(explain("--model", d, "  Where is Rex? ", "--chat")["prompt"] == TEMPLATES["gemma"][1], "chat_template.jinja")
json.dump(dict(cfg, chat_template=[{"name": "tool_use", "template": TEMPLATES["chatml"][0]},
                                   {"name": "default", "template": TEMPLATES["llama-3"][0]}]),
          open(os.path.join(d, "tokenizer_config.json"), "w"))
check(explain("--model", d, "  Where is Rex? ", "--chat")["prompt"] == TEMPLATES["llama-3"][1], "named default template")

sys.exit(T.report())

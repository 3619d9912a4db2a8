#!/usr/bin/python3
"""attnlrp neuron against a direct NumPy product on the tiny checkpoints of make_checkpoint.py:
score = scale * unembed @ (prod_i (offset_i + norm_i) * down[:, n]), with the tensors looked up by their
Hugging Face names here (independently of the engine's binding), for every layer/expert of each family.

    neuron_check.py --bin build/attnlrp [--models DIR ...]   # DIR: extra checkpoints (e.g. models/default)
Ends with "N passed, N failed".
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_checkpoint  # noqa: E402
import reference  # noqa: E402
from tally import Tally  # noqa: E402

NAMES = ["llama_mha", "llama_tied", "llama_tied_head", "llama_bf16", "qwen2_bias", "gpt2", "gpt2_noprefix",
         "gpt2_bias", "gemma2", "gemma3", "mixtral", "qwen3_moe", "qwen2_moe", "phi", "phi3", "t5_gated", "t5_relu",
         "vit_rgb"]


def first(t, *names):
    for n in names:
        if n in t:
            return t[n]
    return None


def expected(t, cfg, layer, neuron, expert):
    """(scores, ok): the direct product, from the checkpoint's tensors by name."""
    mt = cfg["model_type"]
    tied = cfg.get("tie_word_embeddings", mt in ("gpt2", "gemma2", "gemma3_text", "t5"))
    norms, offset, scale = [], 0.0, 1.0
    if mt == "gpt2":
        p = "transformer." if "transformer.wte.weight" in t else ""
        down = t[f"{p}h.{layer}.mlp.c_proj.weight"].T  # Conv1D stores [in, out]
        norms = [t[f"{p}ln_f.weight"]]
        head = first(t, "lm_head.weight", f"{p}wte.weight")
    elif mt in ("gemma2", "gemma3_text"):
        down = t[f"model.layers.{layer}.mlp.down_proj.weight"]
        norms = [t[f"model.layers.{layer}.post_feedforward_layernorm.weight"], t["model.norm.weight"]]
        offset = 1.0
        head = first(t, "lm_head.weight", "model.embed_tokens.weight")
    elif mt in ("mixtral", "qwen3_moe", "qwen2_moe"):
        down = first(t, f"model.layers.{layer}.block_sparse_moe.experts.{expert}.w2.weight",
                     f"model.layers.{layer}.mlp.experts.{expert}.down_proj.weight")
        norms = [t["model.norm.weight"]]
        head = first(t, "lm_head.weight", "model.embed_tokens.weight") if not tied else \
            first(t, "model.embed_tokens.weight", "lm_head.weight")
    elif mt == "phi":
        down = t[f"model.layers.{layer}.mlp.fc2.weight"]
        norms = [t["model.final_layernorm.weight"]]
        head = t["lm_head.weight"]
    elif mt == "phi3":
        down = t[f"model.layers.{layer}.mlp.down_proj.weight"]
        norms = [t["model.norm.weight"]]
        head = first(t, "lm_head.weight", "model.embed_tokens.weight")
    elif mt == "t5":
        ne = cfg["num_layers"]
        down = t[f"decoder.block.{layer - ne}.layer.2.DenseReluDense.wo.weight"]
        norms = [t["decoder.final_layer_norm.weight"]]
        if tied:
            head, scale = t["shared.weight"], cfg["d_model"] ** -0.5
        else:
            head = t["lm_head.weight"]
    elif mt == "vit":
        down = t[f"vit.encoder.layer.{layer}.output.dense.weight"]
        norms = [t["vit.layernorm.weight"]]
        head = t["classifier.weight"]
    else:  # llama family
        down = t[f"model.layers.{layer}.mlp.down_proj.weight"]
        norms = [t["model.norm.weight"]]
        head = first(t, "lm_head.weight", "model.embed_tokens.weight") if tied else t["lm_head.weight"]
    col = down[:, neuron].astype(np.float64)
    for w in norms:
        col = col * (offset + w)
    return scale * (head.astype(np.float64) @ col)


def run(binary, model, layer, neuron, expert, top):
    cmd = [binary, "neuron", "--model", model, "--layer", str(layer), "--neuron", str(neuron), "--top", str(top),
           "--format", "json"]
    if expert is not None:
        cmd += ["--expert", str(expert)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/attnlrp")
    ap.add_argument("--models", nargs="*", default=[])
    a = ap.parse_args()
    tally = Tally()
    check = tally.ok
    worst = 0.0

    with tempfile.TemporaryDirectory() as tmp:
        dirs = []
        for name in NAMES:
            dirs.append((name, make_checkpoint.write_checkpoint(os.path.join(tmp, name), name)))
        dirs += [(d, d) for d in a.models]
        for name, d in dirs:
            with open(os.path.join(d, "config.json")) as f:
                cfg = json.load(f)
            t, _ = reference.load_tensors(d)
            mt = cfg["model_type"]
            n_layers = cfg.get("num_hidden_layers") or cfg.get("n_layer") or (cfg.get("num_layers", 0) + (cfg.get("num_decoder_layers")
                                                                                   or cfg.get("num_layers", 0)))
            first_layer = cfg["num_layers"] if mt == "t5" else 0
            width = cfg.get("moe_intermediate_size") if mt in ("qwen3_moe", "qwen2_moe") else (
                cfg.get("intermediate_size") or cfg.get("d_ff") or cfg.get("n_inner") or 4 * cfg.get("n_embd", 0))
            experts = list(range(cfg["num_local_experts"] if mt == "mixtral" else cfg["num_experts"])) \
                if mt in ("mixtral", "qwen3_moe", "qwen2_moe") else [None]
            for layer in range(first_layer, n_layers):
                for expert in experts:
                    for neuron in sorted({0, width // 2, width - 1}):
                        want = expected(t, cfg, layer, neuron, expert)
                        N = len(want)
                        rc, out, err = run(a.bin, d, layer, neuron, expert, N)
                        what = f"{name} layer {layer} neuron {neuron} expert {expert}"
                        if rc != 0:
                            check(False, f"{what}: exit {rc}: {err.strip()}")
                            continue
                        doc = json.loads(out)
                        got = np.full(N, np.nan)
                        for e in doc["top"]:
                            got[e["id"]] = e["score"]
                        tol = 1e-5 * max(1.0, np.abs(want).max())
                        if name.endswith("bf16"):
                            tol = 1e-2 * max(1.0, np.abs(want).max())  # the file's BF16 rounding in both
                        diff = np.abs(got - want).max()
                        worst = max(worst, diff / max(1e-30, np.abs(want).max()))
                        ranked = [e["score"] for e in doc["top"]]
                        check(doc["n_outputs"] == N and not np.isnan(got).any() and diff <= tol and
                              ranked == sorted(ranked, reverse=True) and
                              [e["score"] for e in doc["bottom"]] == sorted(ranked),
                              f"{what}: max |engine - numpy| {diff:.3g} (tol {tol:.3g})")
            # Out-of-range indices: one line, exit 2.
            bad = [(n_layers, 0, experts[0]), (first_layer, width, experts[0]), (-1, 0, experts[0])]
            if experts[0] is not None:
                bad.append((first_layer, 0, len(experts)))
            else:
                bad.append((first_layer, 0, 0))
            if mt == "t5":
                bad.append((0, 0, None))
            for layer, neuron, expert in bad:
                rc, out, err = run(a.bin, d, layer, neuron, expert, 3)
                check(rc == 2 and err.count("\n") == 1 and err.startswith("attnlrp: ") and not out,
                      f"{name} bad input layer {layer} neuron {neuron} expert {expert}: exit {rc}, {err!r}")
    print(f"neuron projection: worst relative difference {worst:.3g} (F32 checkpoints within 1e-5)")
    return tally.report()


if __name__ == "__main__":
    sys.exit(main())

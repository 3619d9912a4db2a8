#!/usr/bin/python3
"""attnlrp weights against the float64 PyTorch reference (reference.py) on tiny checkpoints of
make_checkpoint.py:

1. every tensor of R.safetensors equals W * dy/dW from the reference with the same rules, summed over the
   records (the weights are made leaves that require grad; the reference's rules act on the activations),
   within 1e-4 * max|R| of the tensor; tensors the reference gives no gradient are absent or zero. GPT-2
   checks the stored layouts: c_attn (fused q/k/v) and the transposed Conv1D weights.
2. conservation (cplrp, bias-free checkpoints): per layer and record set, sum R(o_proj) equals the layer's
   head relevance (explain --heads), sum R(down_proj) the MLP neurons' relevance (explain --latent-layer),
   sum R(v_proj) = sum R(o_proj), sum R(up_proj) = sum R(down_proj), sum R(q/k/gate) = 0, and
   sum R(lm_head) the sum of the explained logits.

    weights_check.py --bin build/attnlrp
Ends with "N passed, N failed".
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_checkpoint  # noqa: E402
import reference  # noqa: E402
from tally import Tally  # noqa: E402

torch.set_default_dtype(torch.float64)

NAMES = ["llama_mha", "llama_gqa", "llama_bias", "qwen3", "mixtral", "gpt2"]
IDS = [[1, 5, 9, 3, 7, 2, 11], [3, 4, 8]]
LLAMA_KEYS = {"wq": "self_attn.q_proj", "wk": "self_attn.k_proj", "wv": "self_attn.v_proj",
              "wo": "self_attn.o_proj", "wg": "mlp.gate_proj", "wu": "mlp.up_proj", "wd": "mlp.down_proj"}


def engine_weights(binary, model, data, method, out, extra=()):
    cmd = [binary, "weights", "--model", model, "--data", data, "--method", method, "-o", out, "--format", "json",
           *extra]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr.strip()}")
    tensors, meta = reference.read_safetensors(out)
    return tensors, meta, json.loads(p.stdout)


def engine_explain(binary, model, ids, method, extra):
    cmd = [binary, "explain", "--model", model, "--ids", ",".join(map(str, ids)), "--method", method,
           "--format", "json"] + extra
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr.strip()}")
    return json.loads(p.stdout)


def leaf(t):
    return t.detach().clone().requires_grad_(True)


def ref_llama(d, method):
    """{stored name: W * dy/dW} summed over IDS, for the LLaMA family (untied or tied head)."""
    ck = reference.open_checkpoint(d)
    arrays, _ = reference.load_tensors(d)
    named = []  # (stored name, leaf)
    ck.head = leaf(ck.head)
    named.append(("lm_head.weight" if "lm_head.weight" in arrays else "model.embed_tokens.weight", ck.head))
    for i, b in enumerate(ck.blocks):
        p = f"model.layers.{i}."
        for key, name in LLAMA_KEYS.items():
            if key in b:
                b[key] = leaf(b[key])
                named.append((p + name + ".weight", b[key]))
        if "router" in b:
            q = p + "block_sparse_moe."
            b["router"] = leaf(b["router"])
            named.append((q + "gate.weight", b["router"]))
            for j, ex in enumerate(b["experts"]):
                for key, name in (("wg", "w1"), ("wu", "w3"), ("wd", "w2")):
                    ex[key] = leaf(ex[key])
                    named.append((q + f"experts.{j}.{name}.weight", ex[key]))
    for ids in IDS:
        reference.explain(ck, ids, method)
    return {n: (w.detach() * w.grad).numpy() if w.grad is not None else np.zeros(tuple(w.shape)) for n, w in named}


def ref_gpt2(d, method):
    """The same for GPT-2, in the stored layouts: c_attn [H, 3H] (q, k, v columns), Conv1D [in, out]."""
    ck = reference.open_checkpoint(d)
    arrays, _ = reference.load_tensors(d)
    pre = "transformer." if "transformer.wte.weight" in arrays else ""
    leaves = []
    for b in ck.blocks:
        for key in ("q", "k", "v", "o", "fc1", "fc2"):
            b[key] = (leaf(b[key][0]), b[key][1])
    head_w = leaf(ck.head[-1][1])
    ck.head[-1] = ("linear", head_w, ck.head[-1][2])
    for ids in IDS:
        reference.explain(ck, ids, method)

    def r(w):
        return (w.detach() * w.grad).numpy() if w.grad is not None else np.zeros(tuple(w.shape))
    out = {pre + "wte.weight": r(head_w)}
    for i, b in enumerate(ck.blocks):
        p = f"{pre}h.{i}."
        out[p + "attn.c_attn.weight"] = np.concatenate([r(b[k][0]) for k in ("q", "k", "v")], axis=0).T
        out[p + "attn.c_proj.weight"] = r(b["o"][0]).T
        out[p + "mlp.c_fc.weight"] = r(b["fc1"][0]).T
        out[p + "mlp.c_proj.weight"] = r(b["fc2"][0]).T
    del leaves
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/attnlrp")
    a = ap.parse_args()
    tally = Tally()
    check = tally.ok
    worst = 0.0

    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "ids.jsonl")
        with open(data, "w") as f:
            for ids in IDS:
                f.write(json.dumps({"ids": ids}) + "\n")
        for name in NAMES:
            d = make_checkpoint.write_checkpoint(os.path.join(tmp, name), name)
            with open(os.path.join(d, "config.json")) as f:
                cfg = json.load(f)
            for method in ("attnlrp", "cplrp", "gradxinput"):
                what = f"{name} {method}"
                try:
                    got, meta, summary = engine_weights(a.bin, d, data, method, os.path.join(tmp, "R.safetensors"))
                except RuntimeError as e:
                    check(False, f"{what}: {e}")
                    continue
                # The streamed memory plan (a budget of the largest weight tensor's float32 accumulator: a pass
                # per group of tensors) writes the same bytes as one pass.
                if method == "attnlrp" or name == "mixtral":
                    stored, _ = reference.read_safetensors(os.path.join(d, "model.safetensors"))
                    big = max(4 * v.size for v in stored.values() if v.ndim >= 2)
                    for flags in ((), ("--abs",)):
                        one, many = os.path.join(tmp, "R1.safetensors"), os.path.join(tmp, "R2.safetensors")
                        try:
                            s1 = engine_weights(a.bin, d, data, method, one, flags)[2]
                            s2 = engine_weights(a.bin, d, data, method, many, (*flags, "--max-memory", str(big)))[2]
                        except RuntimeError as e:
                            check(False, f"{what} {flags}: {e}")
                            continue
                        with open(one, "rb") as f1, open(many, "rb") as f2:
                            same = f1.read() == f2.read()
                        check(same and s1["tensors"] == s2["tensors"] and s1["passes"] == 1 and s2["passes"] > 2,
                              f"{what} {flags}: --max-memory {big} ({s2['passes']} passes) is not byte-identical "
                              f"to one pass")
                want = ref_gpt2(d, method) if name == "gpt2" else ref_llama(d, method)
                check(meta.get("records") == str(len(IDS)) and meta.get("method") == method,
                      f"{what}: metadata {meta}")
                extra = sorted(set(got) - set(want))
                check(not extra, f"{what}: tensors the reference does not multiply by: {extra}")
                for n, w in want.items():
                    g = got.get(n)
                    if g is None:  # the engine reports only the tensors some gradient reached
                        check(np.abs(w).max() == 0.0, f"{what}: {n} missing, reference max {np.abs(w).max():.3g}")
                        continue
                    scale = max(1e-12, np.abs(w).max())
                    diff = np.abs(g - w).max() if g.shape == w.shape else np.inf
                    worst = max(worst, diff / scale)
                    check(diff <= 1e-4 * scale, f"{what}: {n} {g.shape} vs {w.shape}: max diff {diff:.3g} (scale {scale:.3g})")
                bias_free = not any(cfg.get(k) for k in ("attention_bias", "mlp_bias"))
                if method != "cplrp" or name in ("gpt2", "mixtral") or not bias_free:
                    continue
                # Conservation through each linear (cplrp, no biases): relevance of the weights = relevance
                # flowing through the layer, read at the activations by separate explain runs.
                L = cfg["num_hidden_layers"]
                heads = np.zeros(L)
                latent = np.zeros(L)
                logits = 0.0
                for ids in IDS:
                    for l in range(L):
                        e = engine_explain(a.bin, d, ids, method, ["--heads", "--latent-layer", str(l)])
                        heads[l] += float(np.sum(e["head_relevance"][l]))
                        latent[l] += float(np.sum(e["latent_relevance"]))
                    logits += e["target_logit"]

                def s(n):
                    return float(got[n].sum()) if n in got else 0.0
                head_name = "lm_head.weight" if "lm_head.weight" in got else "model.embed_tokens.weight"
                scale = max(1.0, abs(logits))
                check(abs(s(head_name) - logits) <= 1e-4 * scale,
                      f"{what}: sum R(head) {s(head_name):.6g} vs explained logits {logits:.6g}")
                for l in range(L):
                    p = f"model.layers.{l}."
                    o, v = s(p + "self_attn.o_proj.weight"), s(p + "self_attn.v_proj.weight")
                    dn, up = s(p + "mlp.down_proj.weight"), s(p + "mlp.up_proj.weight")
                    sc = max(1e-6, abs(o), abs(dn), abs(heads[l]), abs(latent[l]))
                    check(abs(o - heads[l]) <= 1e-4 * sc and abs(v - o) <= 1e-4 * sc,
                          f"{what} layer {l}: R(o_proj) {o:.6g}, heads {heads[l]:.6g}, R(v_proj) {v:.6g}")
                    check(abs(dn - latent[l]) <= 1e-4 * sc and abs(up - dn) <= 1e-4 * sc,
                          f"{what} layer {l}: R(down) {dn:.6g}, neurons {latent[l]:.6g}, R(up) {up:.6g}")
                    zero = [s(p + n) for n in ("self_attn.q_proj.weight", "self_attn.k_proj.weight", "mlp.gate_proj.weight")]
                    check(max(abs(z) for z in zero) <= 1e-6 * sc, f"{what} layer {l}: R(q, k, gate) {zero} not 0")
    print(f"weights: worst relative difference to the reference {worst:.3g}")
    return tally.report()


if __name__ == "__main__":
    sys.exit(main())

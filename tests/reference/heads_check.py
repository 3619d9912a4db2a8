#!/usr/bin/python3
"""explain --heads / --set-head against the float64 PyTorch reference (reference.py's head taps) on tiny
LLaMA-family checkpoints of make_checkpoint.py and the shipped models/default:

1. head_relevance [layer][head] equals the reference's Σ over positions and the head's slice of the
   o-projection input of x ⊙ ĝ (attnlrp, cplrp, gradxinput), within 1e-4·max|field|;
2. on checkpoints whose o_proj has no bias, with attnlrp and cplrp, each layer's heads sum to the
   attention block's relevance (Σ of its output's x ⊙ ĝ in the reference: the ε-rule of a bias-free
   linear layer conserves relevance);
3. --set-head L:H=0 and =*F: the engine's logits equal a reference forward with that head's slice of
   the o-projection input zeroed or scaled (and differ from the unablated ones).

    heads_check.py --bin build/attnlrp [--models DIR ...]
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

NAMES = ["llama_mha", "llama_gqa", "llama_bias", "mistral", "qwen3", "mixtral"]
IDS = [[1, 5, 9, 3, 7, 2, 11], [3, 4]]


def engine(binary, model, ids, method, extra):
    cmd = [binary, "explain", "--model", model, "--ids", ",".join(map(str, ids)), "--method", method,
           "--format", "json", "--all-logits"] + extra
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr.strip()}")
    return json.loads(p.stdout)


def ref_heads(ck, ids, method):
    reference.HEAD_TAPS = []
    try:
        out = reference.explain(ck, ids, method)
        taps = reference.HEAD_TAPS
    finally:
        reference.HEAD_TAPS = None
    H = ck.cfg.heads
    heads, blocks = [], []
    for _, o, a in taps:
        r = (o.detach() * o.grad) if o.grad is not None else torch.zeros_like(o)
        heads.append(r.reshape(r.shape[0], H, -1).sum(dim=(0, 2)).numpy())
        ra = (a.detach() * a.grad) if a.grad is not None else torch.zeros_like(a)
        blocks.append(float(ra.sum()))
    return out, np.array(heads), np.array(blocks)


def ref_logits(ck, ids, head_set):
    reference.HEAD_SET = dict(head_set)
    try:
        with torch.no_grad():
            _, _, _, logits = reference.forward(ck, ids, "gradient")
    finally:
        reference.HEAD_SET = {}
    return logits[-1].numpy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/attnlrp")
    ap.add_argument("--models", nargs="*", default=[])
    a = ap.parse_args()
    tally = Tally()
    check = tally.ok
    worst = {"heads": 0.0, "sum": 0.0, "ablation": 0.0}

    with tempfile.TemporaryDirectory() as tmp:
        dirs = [(n, make_checkpoint.write_checkpoint(os.path.join(tmp, n), n)) for n in NAMES]
        dirs += [(d, d) for d in a.models]
        for name, d in dirs:
            ck = reference.open_checkpoint(d)
            with open(os.path.join(d, "config.json")) as f:
                cfg = json.load(f)
            o_bias = cfg.get("attention_bias", False) and cfg["model_type"] != "qwen2"
            H, L = ck.cfg.heads, ck.cfg.layers
            for ids in IDS:
                for method in ("attnlrp", "cplrp", "gradxinput"):
                    what = f"{name} ids {len(ids)} {method}"
                    try:
                        got = np.array(engine(a.bin, d, ids, method, ["--heads"])["head_relevance"])
                    except RuntimeError as e:
                        check(False, f"{what}: {e}")
                        continue
                    _, want, blocks = ref_heads(ck, ids, method)
                    scale = max(1e-12, np.abs(want).max())
                    diff = np.abs(got - want).max() if got.shape == want.shape else np.inf
                    worst["heads"] = max(worst["heads"], diff / scale)
                    check(got.shape == (L, H) and diff <= 1e-4 * scale,
                          f"{what}: head_relevance vs reference: max diff {diff:.3g} (scale {scale:.3g})")
                    if method in ("attnlrp", "cplrp") and not o_bias:
                        sdiff = np.abs(want.sum(1) - blocks).max()
                        edif = np.abs(got.sum(1) - blocks).max()
                        bscale = max(1e-12, np.abs(blocks).max())
                        worst["sum"] = max(worst["sum"], edif / bscale)
                        check(sdiff <= 1e-9 * bscale and edif <= 1e-4 * bscale,
                              f"{what}: Σ heads vs attention block relevance: reference {sdiff:.3g}, engine {edif:.3g}")
            ids = IDS[0]
            base = ref_logits(ck, ids, {})
            for head_set, arg in [({(0, 1): 0.0}, ["--set-head", "0:1=0"]),
                                  ({(L - 1, H - 1): 0.0, (0, 0): 0.5}, ["--set-head", f"{L - 1}:{H - 1}=0",
                                                                         "--set-head", "0:0=*0.5"])]:
                what = f"{name} {' '.join(arg)}"
                try:
                    got = np.array(engine(a.bin, d, ids, "attnlrp", arg)["logits"])
                except RuntimeError as e:
                    check(False, f"{what}: {e}")
                    continue
                want = ref_logits(ck, ids, head_set)
                scale = max(1e-12, np.abs(want).max())
                diff = np.abs(got - want).max()
                worst["ablation"] = max(worst["ablation"], diff / scale)
                check(diff <= 1e-4 * scale and np.abs(want - base).max() > 1e-3 * scale,
                      f"{what}: logits vs reference forward with the head ablated: max diff {diff:.3g}, "
                      f"effect {np.abs(want - base).max():.3g}")
    print("heads: worst relative difference: head_relevance {heads:.3g}, Σ heads vs block {sum:.3g}, "
          "ablated logits {ablation:.3g}".format(**worst))
    return tally.report()


if __name__ == "__main__":
    sys.exit(main())

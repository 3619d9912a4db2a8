#!/usr/bin/python3
"""attnlrp circuit against the float64 PyTorch reference (reference.py) on tiny LLaMA-family checkpoints:

1. relp: for every head (its slice of the o-projection input) and every MLP (its intermediate, the input of
   down_proj), (a_clean - a_corrupt) . g summed over positions, with g the gradient of
   logit(target) - logit(foil) at the last position of the corrupted run under the method's rules
   (attnlrp, cplrp, gradxinput), within 1e-4 * max|relp|;
2. patch: separate reference forwards of the corrupted ids with one component's clean activation put in
   place (a head's slice, or the whole MLP intermediate, at every position), minus the corrupted metric,
   within 1e-4 * max|patch|;
3. the reported metrics and the Pearson / Spearman correlations (numpy / the ranks) of the engine's own
   two columns.

    relp_check.py --bin build/attnlrp
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

NAMES = ["llama_mha", "llama_gqa", "llama_bias", "qwen3", "mistral"]
PAIRS = [([1, 5, 9, 3, 7, 2, 11], [1, 5, 4, 3, 7, 2, 11]), ([3, 4, 8, 6], [3, 10, 8, 12])]


def engine(binary, model, clean, corrupt, method, target, foil):
    cmd = [binary, "circuit", "--model", model, "--clean-ids", ",".join(map(str, clean)), "--corrupt-ids",
           ",".join(map(str, corrupt)), "--method", method, "--target-id", str(target), "--foil-id", str(foil),
           "--format", "json"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr.strip()}")
    return json.loads(p.stdout)


def run(ck, ids, method):
    """(head taps [(o [T, H*D])], intermediates [z], last logits) of one recorded forward."""
    reference.HEAD_TAPS = []
    try:
        _, _, inters, logits = reference.forward(ck, ids, method)
        taps = [o for _, o, _ in reference.HEAD_TAPS]
    finally:
        reference.HEAD_TAPS = None
    return taps, inters, logits[-1]


def patched_metric(ck, ids, layer, head, clean_o, clean_z, target, foil):
    """The metric of a no-grad forward of ids with one component's clean activation in place."""
    D = ck.cfg.head_dim
    orig_tap, orig_mlp = reference._head_tap, reference.mlp
    calls = [0]

    def tap(o, l, heads, d):
        if head is not None and l == layer:
            o = o.clone()
            o[:, head * D:(head + 1) * D] = clean_o[:, head * D:(head + 1) * D]
        return orig_tap(o, l, heads, d)

    def mlp(ck_, b, x, method):
        l = calls[0]
        calls[0] += 1
        y, z = orig_mlp(ck_, b, x, method)
        if head is None and l == layer:
            z = clean_z
            y = reference.linear(z, b["wd"], b["bd"])
        return y, z

    reference._head_tap, reference.mlp = tap, mlp
    try:
        with torch.no_grad():
            _, _, _, logits = reference.forward(ck, ids, "gradient")
    finally:
        reference._head_tap, reference.mlp = orig_tap, orig_mlp
    return float(logits[-1][target] - logits[-1][foil])


def ranks(v):
    order = np.argsort(v, kind="stable")
    r = np.empty(len(v))
    r[order] = np.arange(1, len(v) + 1)
    for x in np.unique(v):  # ties: the mean rank
        m = v == x
        r[m] = r[m].mean()
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/attnlrp")
    a = ap.parse_args()
    tally = Tally()
    check = tally.ok
    worst = {"relp": 0.0, "patch": 0.0}

    with tempfile.TemporaryDirectory() as tmp:
        for name in NAMES:
            d = make_checkpoint.write_checkpoint(os.path.join(tmp, name), name)
            ck = reference.open_checkpoint(d)
            L, H = ck.cfg.layers, ck.cfg.heads
            for clean, corrupt in PAIRS:
                with torch.no_grad():
                    _, _, _, lc = reference.forward(ck, clean, "gradient")
                    _, _, _, lk = reference.forward(ck, corrupt, "gradient")
                target = int(torch.argmax(lc[-1]))
                foil = int(torch.argsort(lk[-1], descending=True)[0 if int(torch.argmax(lk[-1])) != target else 1])
                clean_o, clean_z, _ = run(ck, clean, "gradient")
                clean_o = [o.detach() for o in clean_o]
                clean_z = [z.detach() for z in clean_z]
                m_corrupt = float(lk[-1][target] - lk[-1][foil])
                want_patch = []
                for l in range(L):
                    for h in list(range(H)) + [None]:
                        want_patch.append(patched_metric(ck, corrupt, l, h, clean_o[l], clean_z[l], target, foil)
                                          - m_corrupt)
                want_patch = np.array(want_patch)
                check(np.abs(want_patch).max() > 1e-3 and np.abs(want_patch[H::H + 1]).max() > 1e-3,
                      f"{name}: the pair's patching effects are all ~0: {want_patch}")
                for method in ("attnlrp", "cplrp", "gradxinput"):
                    what = f"{name} T={len(clean)} {method}"
                    try:
                        got = engine(a.bin, d, clean, corrupt, method, target, foil)
                    except RuntimeError as e:
                        check(False, f"{what}: {e}")
                        continue
                    taps, inters, row = run(ck, corrupt, method)
                    (row[target] - row[foil]).backward()
                    want = []
                    for l in range(L):
                        o, z = taps[l], inters[l]
                        og = o.grad if o.grad is not None else torch.zeros_like(o)
                        zg = z.grad if z.grad is not None else torch.zeros_like(z)
                        hs = ((clean_o[l] - o.detach()) * og).reshape(len(corrupt), H, -1).sum(dim=(0, 2))
                        want += [float(v) for v in hs] + [float(((clean_z[l] - z.detach()) * zg).sum())]
                    want = np.array(want)
                    comps = got["components"]
                    relp = np.array([c["relp"] for c in comps])
                    patch = np.array([c["patch"] for c in comps])
                    kinds = [(c["layer"], c.get("head")) for c in comps]
                    check(kinds == [(l, h) for l in range(L) for h in list(range(H)) + [None]],
                          f"{what}: component order {kinds[:6]}...")
                    s = max(1e-12, np.abs(want).max())
                    diff = np.abs(relp - want).max() if relp.shape == want.shape else np.inf
                    worst["relp"] = max(worst["relp"], diff / s)
                    check(diff <= 1e-4 * s, f"{what}: relp vs reference: max diff {diff:.3g} (scale {s:.3g})")
                    s = max(1e-12, np.abs(want_patch).max())
                    diff = np.abs(patch - want_patch).max() if patch.shape == want_patch.shape else np.inf
                    worst["patch"] = max(worst["patch"], diff / s)
                    check(diff <= 1e-4 * s, f"{what}: patch vs patched reference forwards: max diff {diff:.3g} (scale {s:.3g})")
                    mc = float(lc[-1][target] - lc[-1][foil])
                    check(abs(got["metric_clean"] - mc) <= 1e-4 * max(1, abs(mc)) and
                          abs(got["metric_corrupt"] - m_corrupt) <= 1e-4 * max(1, abs(m_corrupt)),
                          f"{what}: metrics {got['metric_clean']}, {got['metric_corrupt']} vs {mc}, {m_corrupt}")
                    pr = np.corrcoef(relp, patch)[0, 1]
                    sr = np.corrcoef(ranks(relp), ranks(patch))[0, 1]
                    check(abs(got["pearson"] - pr) <= 1e-6 and abs(got["spearman"] - sr) <= 1e-6,
                          f"{what}: correlations {got['pearson']}, {got['spearman']} vs numpy {pr}, {sr}")
                    check(got["forwards"] == 2 + L * (H + 1) and got["backwards"] == 1, f"{what}: passes {got['forwards']}, {got['backwards']}")
    print("relp: worst relative difference: relp {relp:.3g}, patch {patch:.3g}".format(**worst))
    return tally.report()


if __name__ == "__main__":
    sys.exit(main())

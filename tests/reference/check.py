#!/usr/bin/python3
"""Compares `attnlrp explain` against the independent float64 PyTorch reference.

    check.py --bin build/attnlrp [--keep DIR] [--only NAME[,NAME]] [--no-engine] [-v]

1. Self-checks of the reference against closed forms (no engine involved): the forward pass against
   the golden logits published for TinyStories-656K; cplrp conserves (sum R = start value) on every
   checkpoint with zero biases; attnlrp does not; with the norm rules the last block's residual
   relevance sums to the start value; gradxinput relevance equals central finite differences of the
   start scalar along each token's embedding; the gradient norm equals the finite-difference gradient;
   a latent start at layer L puts exactly its activation on its own neuron in that layer's readout.
2. For every tiny checkpoint of make_checkpoint.py, id sequences of length 1, 7 and 33, every method
   and the options --target-id/--position/--contrast/--latent-start/--latent-layer/--layers: runs
   `BIN explain --model DIR --ids ... --format json --all-logits [options]` and compares logits,
   target_logit, start_value, relevance, relevance_sum, residual_relevance and latent_relevance.

Prints one line per failing comparison (with the worst element) and ends with `N passed, N failed`.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zlib

import numpy as np
import torch

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_checkpoint  # noqa: E402
import reference as ref  # noqa: E402

TINYSTORIES = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared", "models", "TinyStories-656K"))
TINYSTORIES_IDS = [1, 80, 147, 201, 282, 57]

# Configurations whose biases are nonzero: cplrp does not conserve there.
WITH_BIAS = {"llama_bias", "qwen2_bias"}

REL_TOL = 1e-4       # engine vs reference, relative to the largest magnitude of the compared field
LOGIT_ABS = 1e-5


class Tally:
    def __init__(self, verbose):
        self.passed = 0
        self.failed = 0
        self.verbose = verbose

    def ok(self, cond, what):
        if cond:
            self.passed += 1
            if self.verbose:
                print(f"ok   {what}")
        else:
            self.failed += 1
            print(f"FAIL {what}")
        return cond


def sequences(vocab, name):
    rng = np.random.default_rng(zlib.crc32(("ids:" + name).encode()))
    return {n: [int(v) for v in rng.integers(0, vocab, n)] for n in (1, 7, 33)}


# ----------------------------------------------------------------------------------------------
# Self-checks of the reference

def check_golden(t):
    if not os.path.isdir(TINYSTORIES):
        print(f"note: {TINYSTORIES} not found, golden-logit check skipped")
        return None
    ck = ref.Checkpoint(TINYSTORIES)
    out = ref.explain(ck, TINYSTORIES_IDS, "gradxinput")
    ids = [e["id"] for e in out["top"]]
    vals = [e["logit"] for e in out["top"]]
    golden_ids = [313, 8, 1773, 404, 547]
    golden = [17.3808, 13.7726, 13.7435, 12.6918, 11.3585]
    worst = max(abs(a - b) for a, b in zip(vals, golden))
    t.ok(ids == golden_ids and worst <= 6e-5,
         f"reference TinyStories-656K last-position top-5 {ids} vs {golden_ids}, worst |dlogit| {worst:.2e}")
    out0 = ref.explain(ck, TINYSTORIES_IDS, "gradxinput", position=0)
    golden0 = [0.0291, -0.2011, -0.4471, 1.9164, -2.5787]
    worst0 = max(abs(a - b) for a, b in zip(out0["logits"][:5], golden0))
    t.ok(worst0 <= 6e-5, f"reference TinyStories-656K position-0 logits 0..4, worst |dlogit| {worst0:.2e}")
    return ck


def fd_token_relevance(ck, ids, **start):
    """Central differences of the start scalar when token i's embedding is scaled by (1 +- h)."""
    E = ck.embed[torch.tensor(ids)].clone()
    h = 1e-5
    rel = []
    for i in range(len(ids)):
        Ep, Em = E.clone(), E.clone()
        Ep[i] *= 1 + h
        Em[i] *= 1 - h
        rel.append((ref.start_value_at(ck, ids, Ep, **start) - ref.start_value_at(ck, ids, Em, **start)) / (2 * h))
    return np.array(rel)


def fd_gradient_norm(ck, ids, **start):
    E = ck.embed[torch.tensor(ids)].clone()
    h = 1e-5
    g = np.zeros(tuple(E.shape))
    for i in range(E.shape[0]):
        for d in range(E.shape[1]):
            Ep, Em = E.clone(), E.clone()
            Ep[i, d] += h
            Em[i, d] -= h
            g[i, d] = (ref.start_value_at(ck, ids, Ep, **start) - ref.start_value_at(ck, ids, Em, **start)) / (2 * h)
    return np.linalg.norm(g, axis=1)


def self_checks(t, name, ck, seqs):
    c = ck.cfg
    zero_bias = name not in WITH_BIAS
    ratios = []
    for n, ids in seqs.items():
        runner_up = ref.explain(ck, ids, "gradxinput")["top"][1]["id"]
        for extra in ({}, {"contrast": runner_up},
                      {"latent_start": (c.layers - 1, n - 1, 5)}):
            tag = f"{name} len={n} {'/'.join(extra) or 'logit'}"
            cp = ref.explain(ck, ids, "cplrp", layers=True, **extra)
            at = ref.explain(ck, ids, "attnlrp", layers=True, **extra)
            y = cp["start_value"]
            if zero_bias:
                err = abs(sum(cp["relevance"]) - y)
                t.ok(err <= 1e-6 * abs(y) + 1e-12,
                     f"reference {tag}: cplrp conserves, |sum R - start| = {err:.2e}, start {y:.6g}")
            if "latent_start" not in extra:
                ratios.append(at["relevance_sum"] / at["start_value"])
                for m, o in (("cplrp", cp), ("attnlrp", at)):
                    last = sum(o["residual_relevance"][-1])
                    if zero_bias:
                        err = abs(last - o["start_value"])
                        t.ok(err <= 1e-9 * max(1.0, abs(o["start_value"])),
                             f"reference {tag}: {m} last residual relevance sums to start, err {err:.2e}")
    if zero_bias:
        worst = max(abs(r - 1) for r in ratios)
        t.ok(worst > 1e-2, f"reference {name}: attnlrp does not conserve, sum R / start = "
                           + " ".join(f"{r:.3f}" for r in ratios))

    # gradxinput against finite differences, for a logit, a contrast and a latent start.
    ids = seqs[7]
    foil = ref.explain(ck, ids, "gradxinput", position=4)["top"][2]["id"]
    for extra in ({}, {"contrast": foil, "position": 4}, {"latent_start": (0, 5, 7)}):
        out = ref.explain(ck, ids, "gradxinput", **extra)
        start = dict(extra)
        if "latent_start" not in extra:
            start["target"] = out["target"]
        fd = fd_token_relevance(ck, ids, **start)
        r = np.array(out["relevance"])
        err = np.max(np.abs(fd - r))
        t.ok(err <= 1e-6 * max(np.max(np.abs(r)), 1e-3),
             f"reference {name} gradxinput {'/'.join(extra) or 'logit'}: vs finite differences, max err {err:.2e}")

    # A latent start at layer L: its own neuron's readout in layer L is the activation itself.
    L = c.layers - 1
    for m in ref.METHODS:
        out = ref.explain(ck, ids, m, latent_start=(L, 6, 3), latent_layer=L)
        lr = np.array(out["latent_relevance"])
        others = np.delete(lr, 3)
        err = max(abs(lr[3] - out["start_value"]), float(np.max(np.abs(others))))
        t.ok(err <= 1e-12 * max(1.0, abs(out["start_value"])),
             f"reference {name} {m}: latent start's own neuron carries the activation, err {err:.2e}")


def gradient_fd_check(t, name, ck, ids):
    out = ref.explain(ck, ids, "gradient")
    fd = fd_gradient_norm(ck, ids, target=out["target"])
    r = np.array(out["relevance"])
    err = np.max(np.abs(fd - r))
    t.ok(err <= 1e-6 * np.max(np.abs(r)), f"reference {name} gradient: norm vs finite differences, max err {err:.2e}")


# ----------------------------------------------------------------------------------------------
# Engine comparison

class EngineGone(Exception):
    """The engine binary cannot be started at all: no point in running the remaining cases."""


def run_engine(binary, model_dir, ids, method, opts):
    cmd = [binary, "explain", "--model", model_dir, "--ids", ",".join(map(str, ids)),
           "--method", method, "--format", "json", "--all-logits"] + opts
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return None, "timed out after 120 s"
    except OSError as e:
        raise EngineGone(f"cannot run {binary}: {e}") from e
    if p.returncode != 0:
        return None, f"exit {p.returncode}: {p.stderr.strip()[:300]}"
    try:
        return json.loads(p.stdout), None
    except json.JSONDecodeError as e:
        return None, f"output is not JSON ({e}): {p.stdout[:200]!r}"


def compare_array(t, what, field, eng, want, tol_scale, abs_tol=0.0):
    if eng is None:
        return t.ok(False, f"{what} field={field}: missing in engine output")
    try:
        e = np.atleast_1d(np.array(eng, dtype=np.float64))
    except (TypeError, ValueError):
        return t.ok(False, f"{what} field={field}: not numeric: {str(eng)[:80]}")
    w = np.atleast_1d(np.array(want, dtype=np.float64))
    if e.shape != w.shape:
        return t.ok(False, f"{what} field={field}: shape {e.shape} vs reference {w.shape}")
    if w.size == 0:
        return t.ok(True, f"{what} field={field}: empty")
    tol = REL_TOL * tol_scale + abs_tol
    d = np.abs(e - w)
    d[np.isnan(d)] = np.inf
    k = int(np.argmax(d))
    idx = np.unravel_index(k, w.shape)
    idx = int(idx[0]) if len(idx) == 1 else list(map(int, idx))
    return t.ok(d.flat[k] <= tol,
                f"{what} field={field}: worst [{idx}] engine={e.flat[k]:.8g} ref={w.flat[k]:.8g} "
                f"|d|={d.flat[k]:.3g} tol={tol:.3g}")


def compare(t, what, eng, want, latent):
    lmax = max(abs(v) for v in want["logits"])
    ltol_scale = lmax
    for key in ("method", "family", "ids", "position"):
        t.ok(eng.get(key) == want[key], f"{what} field={key}: engine={eng.get(key)!r} ref={want[key]!r}")
    if not latent:
        tgt = eng.get("target")
        # a near-tie for the argmax is not a disagreement
        lg = want["logits"]
        tie = tgt is not None and 0 <= tgt < len(lg) and abs(lg[tgt] - lg[want["target"]]) <= REL_TOL * lmax
        t.ok(tgt == want["target"] or tie, f"{what} field=target: engine={tgt!r} ref={want['target']!r}")
        compare_array(t, what, "target_logit", eng.get("target_logit"), want["target_logit"], ltol_scale, LOGIT_ABS)
        compare_array(t, what, "start_value", eng.get("start_value"), want["start_value"], ltol_scale, LOGIT_ABS)
    else:
        scale = max(abs(want["start_value"]), max(abs(v) for v in want["relevance"]))
        compare_array(t, what, "start_value", eng.get("start_value"), want["start_value"], scale, 1e-7)
    if eng.get("logits") is not None:
        compare_array(t, what, "logits", eng.get("logits"), want["logits"], ltol_scale, LOGIT_ABS)
    top = eng.get("top")
    if not isinstance(top, list) or not top:
        t.ok(False, f"{what} field=top: missing")
    else:
        ids = [e.get("id") for e in top]
        bad = [i for i in ids if not isinstance(i, int) or not 0 <= i < len(want["logits"])]
        if t.ok(not bad, f"{what} field=top: ids {ids} out of range"):
            compare_array(t, what, "top.logit", [e.get("logit") for e in top],
                          [want["logits"][i] for i in ids], ltol_scale, LOGIT_ABS)
            p = torch.softmax(torch.tensor(want["logits"]), 0)
            compare_array(t, what, "top.prob", [e.get("prob") for e in top], [float(p[i]) for i in ids], 1.0, 1e-6)
            want_ids = [e["id"] for e in want["top"]][:len(ids)]
            gaps_ok = all(ids[k] == want_ids[k] or abs(want["logits"][ids[k]] - want["logits"][want_ids[k]])
                          <= REL_TOL * lmax for k in range(len(ids)))
            t.ok(gaps_ok and len(ids) == min(5, len(want["logits"])),
                 f"{what} field=top: ids engine={ids} ref={want_ids}")
    rel = want["relevance"]
    rscale = max(max(abs(v) for v in rel), 1e-30)
    compare_array(t, what, "relevance", eng.get("relevance"), rel, rscale)
    compare_array(t, what, "relevance_sum", eng.get("relevance_sum"), want["relevance_sum"],
                  max(sum(abs(v) for v in rel), 1e-30))
    for field in ("residual_relevance", "latent_relevance"):
        if field in want:
            w = np.array(want[field])
            compare_array(t, what, field, eng.get(field), want[field], max(float(np.max(np.abs(w))), 1e-30))
    if "latent_layer" in want:
        t.ok(eng.get("latent_layer") == want["latent_layer"],
             f"{what} field=latent_layer: engine={eng.get('latent_layer')!r} ref={want['latent_layer']!r}")


def option_sets(c, seqs):
    """(ids, reference kwargs, engine options) for one configuration."""
    L1 = min(1, c.layers - 1)
    s1, s7, s33 = seqs[1], seqs[7], seqs[33]
    target = (s7[2] * 5 + 1) % c.vocab
    foil = (s33[0] + 7) % c.vocab
    return [
        (s1, {}, []),
        (s7, {"layers": True, "latent_layer": L1}, ["--layers", "--latent-layer", str(L1)]),
        (s33, {"layers": True, "latent_layer": 0}, ["--layers", "--latent-layer", "0"]),
        (s7, {"target": target, "position": 3}, ["--target-id", str(target), "--position", "3"]),
        (s33, {"contrast": foil, "position": 20, "layers": True}, ["--contrast", str(foil), "--position", "20", "--layers"]),
        (s7, {"latent_start": (L1, 4, 9), "latent_layer": L1, "layers": True},
         ["--latent-start", f"{L1},4,9", "--latent-layer", str(L1), "--layers"]),
        (s33, {"latent_start": (0, 30, c.inter - 1)}, ["--latent-start", f"0,30,{c.inter - 1}"]),
    ]


def engine_checks(t, binary, name, ck, model_dir, seqs):
    for ids, kw, opts in option_sets(ck.cfg, seqs):
        for m in ref.METHODS:
            what = f"config={name} method={m} len={len(ids)} opts=[{' '.join(opts)}]"
            want = ref.explain(ck, ids, m, **kw)
            eng, err = run_engine(binary, model_dir, ids, m, opts)
            if not t.ok(eng is not None, f"{what}: engine failed: {err}"):
                continue
            compare(t, what, eng, want, "latent_start" in kw)


def engine_usable(binary):
    if not os.path.isfile(binary) or not os.access(binary, os.X_OK):
        return f"{binary} does not exist or is not executable (run make)"
    return None


def main():
    ap = argparse.ArgumentParser(description="engine vs PyTorch reference")
    ap.add_argument("--bin", default="build/attnlrp")
    ap.add_argument("--keep", help="write the checkpoints here and keep them")
    ap.add_argument("--only", help="comma-separated configuration names")
    ap.add_argument("--no-engine", action="store_true", help="self-checks of the reference only")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    t = Tally(a.verbose)
    names = a.only.split(",") if a.only else list(make_checkpoint.CONFIGS)
    root = a.keep or tempfile.mkdtemp(prefix="attnlrp-ref-")
    t0 = time.time()
    binary = None
    if not a.no_engine:
        problem = engine_usable(a.bin)
        if problem:
            t.ok(False, f"engine: {problem}")
        else:
            binary = a.bin
    try:
        ts = check_golden(t)
        if ts is not None and binary:
            for m in ref.METHODS:
                what = f"config=TinyStories-656K method={m} len=6 opts=[--layers --latent-layer 1]"
                want = ref.explain(ts, TINYSTORIES_IDS, m, layers=True, latent_layer=1)
                eng, err = run_engine(binary, TINYSTORIES, TINYSTORIES_IDS, m, ["--layers", "--latent-layer", "1"])
                if t.ok(eng is not None, f"{what}: engine failed: {err}"):
                    compare(t, what, eng, want, False)
        for name in names:
            if name not in make_checkpoint.CONFIGS:
                t.ok(False, f"unknown configuration {name!r}")
                continue
            model_dir = os.path.join(root, name)
            make_checkpoint.write_checkpoint(model_dir, name)
            ck = ref.Checkpoint(model_dir)
            seqs = sequences(ck.cfg.vocab, name)
            self_checks(t, name, ck, seqs)
            if name == "llama_mha":
                gradient_fd_check(t, name, ck, seqs[7])
            if binary:
                engine_checks(t, binary, name, ck, model_dir, seqs)
    except EngineGone as e:
        t.ok(False, f"engine: {e}; remaining engine comparisons not run")
    finally:
        if not a.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(f"reference check took {time.time() - t0:.1f} s")
    print(f"{t.passed} passed, {t.failed} failed")
    return 0 if t.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""The baseline methods (explain/baselines.h) and the softmax ablations against independent float64
PyTorch computations on tiny random checkpoints: Grad x AttnRoll, AtMan, attention, rollout and IG (same
quadrature) against direct PyTorch versions; KernelSHAP in its enumeration mode against exact Shapley
values by enumeration; occlusion against separate forward passes; IG completeness at 256 steps;
SmoothGrad with sigma 0 against gradient x input; attnlrp with --softmax-rule identity|distribute-bias
against the rules written as autograd functions; on a T5 checkpoint, occlusion, KernelSHAP and IG over
source and decoder tokens, and on a ViT over patches (absent: pixels 0), against the same independent
computations. Prints one line per check and "N passed, N failed"."""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from itertools import combinations

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_checkpoint  # noqa: E402
import reference as ref  # noqa: E402
from tally import Tally  # noqa: E402

T = Tally(verbose=True)
check = T.ok
FIGURES = {}



def engine(binary, model, ids, method, *extra):
    cmd = [binary, "explain", "--model", model, "--ids", ",".join(map(str, ids)), "--method", method,
           "--format", "json", *extra]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {p.stderr.strip()}")
    return json.loads(p.stdout)


def close(a, b, tol=1e-4):
    a, b = torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
    scale = max(float(b.abs().max()), 1e-12)
    err = float((a - b).abs().max())
    return err <= tol * scale, err / scale


# ---- a LLaMA forward with the attention probabilities and AtMan's key factors (llama_mha: no q/k norm)

def llama_forward(ck, E, factor=None, keep=None):
    c = ck.cfg
    T = E.shape[0]
    D = c.head_dim
    pos = torch.arange(T, dtype=torch.float64)
    ang = torch.outer(pos, ck.inv_freq)
    ang = torch.cat((ang, ang), dim=-1)
    cos, sin = torch.cos(ang), torch.sin(ang)
    mask = torch.arange(T).view(1, T) > torch.arange(T).view(T, 1)
    h = E
    for b in ck.blocks:
        x = ref.rmsnorm(h, b["ln1"], c.eps, False)
        q = ref.linear(x, b["wq"], b["bq"]).view(T, c.heads, D).transpose(0, 1)
        k = ref.linear(x, b["wk"], b["bk"]).view(T, c.kv_heads, D).transpose(0, 1)
        v = ref.linear(x, b["wv"], b["bv"]).view(T, c.kv_heads, D).transpose(0, 1)
        q = q * cos + ref.rotate_half(q) * sin
        k = k * cos + ref.rotate_half(k) * sin
        g = c.heads // c.kv_heads
        k, v = k.repeat_interleave(g, dim=0), v.repeat_interleave(g, dim=0)
        s = (q @ k.transpose(1, 2)) / math.sqrt(D)
        if factor is not None:
            s = s * factor.view(1, 1, T)
        p = torch.softmax(s.masked_fill(mask, float("-inf")), dim=-1)
        if keep is not None:
            if p.requires_grad:
                p.retain_grad()
            keep.append(p)
        o = (p @ v).transpose(0, 1).reshape(T, c.heads * D)
        h = h + ref.linear(o, b["wo"], b["bo"])
        m, _ = ref.mlp(ck, b, ref.rmsnorm(h, b["ln2"], c.eps, False), "gradxinput")
        h = h + m
    return ref.rmsnorm(h, ck.norm, c.eps, False) @ ck.head.T


def llama_checks(binary, model, ids):
    ck = ref.Checkpoint(model)
    T = len(ids)
    E = ck.embed[torch.tensor(ids)].clone()
    pos = T - 1
    base = engine(binary, model, ids, "gradxinput")
    tgt = base["target"]

    # attention, rollout, Grad x AttnRoll
    Ev = E.clone().requires_grad_(True)
    ps = []
    logits = llama_forward(ck, Ev, keep=ps)
    logits[pos, tgt].backward()
    A = [p.detach().mean(0) for p in ps]
    Ab = [(p.grad * p.detach()).clamp(min=0).mean(0) for p in ps]
    I = torch.eye(T)
    R = I.clone()
    Rg = I.clone()
    for a, ab in zip(A, Ab):
        M = 0.5 * a + 0.5 * I
        M = M / M.sum(-1, keepdim=True)
        R = M @ R
        Rg = Rg + ab @ Rg
    for meth, want in (("attention", A[-1][pos]), ("rollout", R[pos]), ("gradxattnroll", Rg[pos])):
        got = engine(binary, model, ids, meth)["relevance"]
        ok, err = close(got, want.tolist())
        FIGURES[meth] = err
        check(ok, f"llama {meth} vs PyTorch float64 (max rel err {err:.2e})")

    # AtMan: suppression factor 0.9, threshold 0.7; conceptual suppression by cosine of the embeddings
    # (and with other --atman-factor / --atman-threshold values: 0.5 and -1 makes every token a neighbour)
    for f, kappa in ((0.9, 0.7), (0.5, 0.0), (0.3, 1.0)):
        with torch.no_grad():
            lp0 = torch.log_softmax(llama_forward(ck, E)[pos], -1)[tgt]
            En = E / E.norm(dim=-1, keepdim=True).clamp(min=1e-8)
            cs = (En @ En.T).clamp(-1, 1)
            want = []
            for i in range(T):
                fac = torch.ones(T)
                for j in range(T):
                    if j == i:
                        fac[j] = 1 - f
                    elif cs[i, j] >= kappa:
                        fac[j] = f * (1 - cs[i, j]) + (1 - f)
                lp = torch.log_softmax(llama_forward(ck, E, factor=fac)[pos], -1)[tgt]
                want.append(float(lp0 - lp))
        out = engine(binary, model, ids, "atman", "--atman-factor", str(f), "--atman-threshold", str(kappa))
        ok, err = close(out["relevance"], want)
        ok &= out["atman_factor"] == f and out["atman_threshold"] == kappa
        FIGURES[f"atman_{f}_{kappa}"] = err
        check(ok, f"llama atman f={f} kappa={kappa} vs PyTorch float64 (max rel err {err:.2e})")
    zero = engine(binary, model, ids, "atman", "--atman-factor", "0")["relevance"]
    check(all(r == 0 for r in zero), "llama atman --atman-factor 0: nothing suppressed, every relevance exactly 0")

    # IG with the same midpoint rule: sum_k E . grad(alpha_k E) / N
    N = 16
    want = torch.zeros(T)
    for k in range(N):
        a = (k + 0.5) / N
        Ea = (a * E).clone().requires_grad_(True)
        llama_forward(ck, Ea)[pos, tgt].backward()
        want += (E * Ea.grad).sum(-1) / N
    got = engine(binary, model, ids, "ig", "--steps", str(N))["relevance"]
    ok, err = close(got, want.tolist())
    FIGURES["ig_vs_torch"] = err
    check(ok, f"llama ig (16 midpoint steps) vs PyTorch float64 (max rel err {err:.2e})")

    # occlusion against separate forward passes
    def v(rows_kept):
        Em = E.clone()
        for t in range(T):
            if t not in rows_kept:
                Em[t] = 0
        return ref.start_value_at(ck, ids, Em, target=tgt, position=pos)

    full = set(range(T))
    y = v(full)
    want = [y - v(full - {i}) for i in range(T)]
    got = engine(binary, model, ids, "occlusion")["relevance"]
    ok, err = close(got, want)
    check(ok, f"llama occlusion vs separate forward passes (max rel err {err:.2e})")

    # KernelSHAP (all 2^T - 2 coalitions with T <= 9 at --samples 512) against exact Shapley values
    vals = {}
    for r in range(T + 1):
        for S in combinations(range(T), r):
            vals[frozenset(S)] = v(set(S))
    phi = []
    for i in range(T):
        others = [j for j in range(T) if j != i]
        s = 0.0
        for r in range(T):
            w = math.factorial(r) * math.factorial(T - r - 1) / math.factorial(T)
            for S in combinations(others, r):
                s += w * (vals[frozenset(S) | {i}] - vals[frozenset(S)])
        phi.append(s)
    out = engine(binary, model, ids, "kernelshap", "--samples", "512")
    ok, err = close(out["relevance"], phi, 1e-3)
    FIGURES["kernelshap_exact"] = err
    check(ok and out["exact_shapley"], f"llama kernelshap (enumeration) vs exact Shapley values (max rel err {err:.2e})")
    out = engine(binary, model, ids, "kernelshap", "--samples", "24", "--seed", "3")
    ok, err = close(out["relevance"], phi, 0.5)
    FIGURES["kernelshap_sampled24"] = err
    check(not out["exact_shapley"] and abs(sum(out["relevance"]) - (y - vals[frozenset()])) < 1e-4 * max(1, abs(y)),
          f"llama kernelshap (24 sampled coalitions) keeps efficiency; max rel err vs exact {err:.2e}")

    # SmoothGrad with sigma 0 is gradient x input
    got = engine(binary, model, ids, "smoothgrad", "--noise", "0", "--samples", "3")["relevance"]
    ok, err = close(got, base["relevance"], 1e-6)
    check(ok, f"llama smoothgrad --noise 0 equals gradxinput (max rel err {err:.2e})")

    # the softmax ablations: attnlrp with the rule as an autograd function
    for rule in ("identity", "distribute-bias"):
        class AblatedSoftmax(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x, dim=-1):
                p = orig_softmax(x, dim=dim)
                ctx.save_for_backward(x, p)
                return p

            @staticmethod
            def backward(ctx, g):
                x, p = ctx.saved_tensors
                vis = torch.isfinite(x)
                xs = torch.where(vis, x, torch.zeros_like(x))
                stab = xs + torch.where(xs >= 0, 1e-10, -1e-10)
                R = p * g
                if rule == "identity":
                    Rx = R
                else:
                    Rs = R.sum(-1, keepdim=True)
                    Rx = xs * (R - p * Rs)
                    n = vis.sum(-1, keepdim=True)
                    Rx = Rx + (Rs - (Rx * vis).sum(-1, keepdim=True)) / n
                return torch.where(vis, Rx / stab, torch.zeros_like(x)), None

        orig_softmax = torch.softmax
        torch.softmax = lambda x, dim=-1: AblatedSoftmax.apply(x, dim) if x.requires_grad else orig_softmax(x, dim=dim)
        try:
            want = ref.explain(ck, ids, "attnlrp", target=tgt)["relevance"]
        finally:
            torch.softmax = orig_softmax
        got = engine(binary, model, ids, "attnlrp", "--softmax-rule", rule)
        finite = all(isinstance(x, float) for x in got["relevance"])
        ok, err = close(got["relevance"], want, 1e-3) if finite else (False, float("nan"))
        FIGURES["softmax_" + rule] = err
        check(ok, f"llama attnlrp --softmax-rule {rule} vs PyTorch rule (max rel err {err:.2e}; "
                  f"sum {got['relevance_sum']:.4g} vs start {got['start_value']:.4g})")


# ---- encoder-decoders: the units are the source tokens, then the decoder's input tokens ----

def t5_checks(binary, model, ids, prefix):
    ck = ref.open_checkpoint(model)
    dec_ids = [ck.cfg.start] + prefix  # the decoder reads its start token, then the given prefix
    Te, Td = len(ids), len(dec_ids)
    n = Te + Td
    extra = ("--decoder-ids", ",".join(map(str, prefix)))
    base = engine(binary, model, ids, "gradxinput", *extra)
    tgt = base["target"]
    E0 = ck.embed[torch.tensor(ids)].clone()
    D0 = ck.embed[torch.tensor(dec_ids)].clone()

    def value(scale):  # the target logit with unit t's word embedding scaled by scale[t]
        s = torch.tensor(scale, dtype=torch.float64)[:, None]
        with torch.no_grad():
            return float(ref.t5_forward(ck, ids, dec_ids, "gradient", enc_emb=E0 * s[:Te],
                                        dec_emb=D0 * s[Te:])[4][-1, tgt])

    def rows(out):
        return out["relevance"] + out["decoder_relevance"]

    y = value([1.0] * n)
    want = []
    for i in range(n):
        sc = [1.0] * n
        sc[i] = 0.0
        want.append(y - value(sc))
    ok, err = close(rows(engine(binary, model, ids, "occlusion", *extra)), want)
    FIGURES["t5_occlusion"] = err
    check(ok, f"t5 occlusion over source + decoder tokens vs separate PyTorch forwards (max rel err {err:.2e})")

    # exact Shapley values by enumerating every coalition of the n units
    v = {}
    for k in range(n + 1):
        for S in combinations(range(n), k):
            v[S] = value([1.0 if t in S else 0.0 for t in range(n)])
    phi = [0.0] * n
    for i in range(n):
        for k in range(n):
            for S in combinations([t for t in range(n) if t != i], k):
                w = math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n)
                phi[i] += w * (v[tuple(sorted(S + (i,)))] - v[S])
    ok, err = close(rows(engine(binary, model, ids, "kernelshap", "--samples", str(2 ** n), *extra)), phi)
    FIGURES["t5_kernelshap"] = err
    check(ok, f"t5 kernelshap (all {2 ** n - 2} coalitions) vs exact Shapley values (max rel err {err:.2e})")

    # integrated gradients, midpoint rule with 8 nodes, over both embeddings at once
    N = 8
    R = torch.zeros(n)
    for k in range(N):
        a = (k + 0.5) / N
        ee = (E0 * a).requires_grad_(True)
        de = (D0 * a).requires_grad_(True)
        ref.t5_forward(ck, ids, dec_ids, "gradient", enc_emb=ee, dec_emb=de)[4][-1, tgt].backward()
        R += torch.cat(((E0 * ee.grad).sum(-1), (D0 * de.grad).sum(-1))) / N
    ok, err = close(rows(engine(binary, model, ids, "ig", "--steps", str(N), *extra)), R.tolist())
    FIGURES["t5_ig"] = err
    check(ok, f"t5 ig (8 midpoint nodes) vs PyTorch integrated gradients (max rel err {err:.2e})")
    # (no completeness check: every T5 sublayer starts with an RMSNorm, so y(aE) is flat in a except near
    # a = 0, where eps matters; a uniform path misses most of y - y0 there, as on LLaMA, see the README)
    for m in ("smoothgrad", "atman"):
        out = engine(binary, model, ids, m, "--samples", "8", *extra)
        r = rows(out)
        check(len(r) == n and all(isinstance(x, float) for x in r), f"t5 {m} runs over {Te} + {Td} units, finite")


# ---- image classifiers: the units are the patches, "absent" is a patch of zeros (the normalised mean) ----

def vit_checks(binary, model, root):
    import numpy as np
    ck = ref.open_checkpoint(model)
    c = ck.cfg
    rng = np.random.default_rng(7)
    px = rng.standard_normal((c.channels, c.image, c.image))
    path = os.path.join(root, "vit_pixels.npy")
    np.save(path, px.astype(np.float32))
    X = torch.from_numpy(px.astype(np.float32).astype(np.float64))
    side = c.image // c.patch
    n = side * side

    def patch_mask(scale):  # [C, H, W] factor: scale[k] on patch k's pixels
        m = torch.ones_like(X)
        for k in range(n):
            r, q = divmod(k, side)
            m[:, r * c.patch:(r + 1) * c.patch, q * c.patch:(q + 1) * c.patch] = scale[k]
        return m

    def run(method, *extra):
        cmd = [binary, "explain", "--model", model, "--pixels", path, "--method", method, "--format", "json", *extra]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)}: {p.stderr.strip()}")
        return json.loads(p.stdout)

    tgt = run("gradxinput")["target"]

    def value(x):
        with torch.no_grad():
            return float(ref.vit_forward(ck, x, ck.cls, ck.pos, "gradient")[2][tgt])

    y = value(X)
    want = []
    for k in range(n):
        sc = [1.0] * n
        sc[k] = 0.0
        want.append(y - value(X * patch_mask(sc)))
    ok, err = close(run("occlusion")["relevance"], want)
    FIGURES["vit_occlusion"] = err
    check(ok, f"vit occlusion over {n} patches vs separate PyTorch forwards (max rel err {err:.2e})")

    N = 8
    R = torch.zeros(n)
    for k in range(N):
        a = (k + 0.5) / N
        xv = (X * a).requires_grad_(True)
        ref.vit_forward(ck, xv, ck.cls, ck.pos, "gradient")[2][tgt].backward()
        G = X * xv.grad / N
        for q in range(n):
            r, col = divmod(q, side)
            R[q] += G[:, r * c.patch:(r + 1) * c.patch, col * c.patch:(col + 1) * c.patch].sum()
    ok, err = close(run("ig", "--steps", str(N))["relevance"], R.tolist())
    FIGURES["vit_ig"] = err
    check(ok, f"vit ig (8 midpoint nodes) over patches vs PyTorch integrated gradients (max rel err {err:.2e})")
    out = run("ig", "--steps", "256")
    gap = out["start_value"] - out["baseline_value"]
    err = abs(out["relevance_sum"] - gap) / max(abs(gap), 1e-12)
    FIGURES["ig_completeness_vit"] = err
    check(err <= 0.01, f"vit ig completeness at 256 steps: {err:.2e}")
    # (KernelSHAP's enumeration is checked on the LLaMA and T5 units; a patch is removed as occlusion
    # removes it, checked above; 2^16 coalitions would take minutes in Python)
    out = run("kernelshap", "--samples", "256")
    check(abs(out["relevance_sum"] - (out["start_value"] - out["baseline_value"])) <= 1e-4 * abs(out["start_value"]),
          "vit kernelshap efficiency: sum R = y - y(all patches zero)")
    for m in ("smoothgrad", "atman"):
        r = run(m, "--samples", "8")["relevance"]
        check(len(r) == n and all(isinstance(x, float) for x in r), f"vit {m} runs over {n} patches, finite")


def completeness(binary, model, ids, label, *extra):
    out = engine(binary, model, ids, "ig", "--steps", "256", *extra)
    gap = out["start_value"] - out["baseline_value"]
    err = abs(out["relevance_sum"] - gap) / max(abs(gap), 1e-12)
    FIGURES["ig_completeness_" + label] = err
    check(err <= 0.01, f"{label} ig completeness at 256 steps {' '.join(extra)}: |sum R - (y - y0)| / |y - y0| = "
                       f"{err:.2e} (y {out['start_value']:.4g}, y0 {out['baseline_value']:.4g})")


def runs_everywhere(binary, model, ids, label, methods):
    for m in methods:
        out = engine(binary, model, ids, m, "--steps", "8", "--samples", "64")
        rel = out["relevance"]
        check(len(rel) == len(ids) and all(isinstance(x, float) for x in rel), f"{label} {m} runs, finite")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/attnlrp")
    ap.add_argument("--figures", action="store_true")
    a = ap.parse_args()
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="attnlrp-baselines-") as root:
        dirs = {n: make_checkpoint.write_checkpoint(os.path.join(root, n), n)
                for n in ("llama_mha", "gpt2", "bert_cls", "t5_gated", "vit_gray")}
        ids = [3, 17, 5, 41, 9, 22]
        llama_checks(a.bin, dirs["llama_mha"], ids)
        completeness(a.bin, dirs["gpt2"], ids, "gpt2")
        completeness(a.bin, dirs["bert_cls"], [2, 17, 5, 41, 9, 3], "bert_cls")
        all_methods = ["ig", "smoothgrad", "occlusion", "attention", "rollout", "gradxattnroll", "atman", "kernelshap"]
        runs_everywhere(a.bin, dirs["gpt2"], ids, "gpt2", all_methods)
        runs_everywhere(a.bin, dirs["bert_cls"], [2, 17, 5, 41, 9, 3], "bert_cls", all_methods)
        t5_checks(a.bin, dirs["t5_gated"], [3, 17, 5, 41], [9, 22])
        vit_checks(a.bin, dirs["vit_gray"], root)
    if a.figures:
        print(json.dumps(FIGURES, indent=1))
    return T.report()


if __name__ == "__main__":
    sys.exit(main())

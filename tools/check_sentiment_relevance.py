#!/usr/bin/python3
"""Relevances of models/sentiment from an independent float64 PyTorch implementation of the rules,
against the engine's (`attnlrp explain --format json`).

    /usr/bin/python3 tools/check_sentiment_relevance.py [--model models/sentiment] [--tol 1e-5]

Relevance is x * g(x) at the word, position and type embeddings, g being the gradient of the
target logit through a forward pass in which the rules are gradient tricks (README, "What it
computes"): attnlrp and cplrp detach the LayerNorm's standard deviation and give GELU and the
pooler's tanh the identity rule (y = x * (f(x)/x).detach()); attnlrp halves the gradient into both
operands of Q K^T and of softmax(.) V (the uniform rule), cplrp detaches Q and K; gradxinput is the
exact gradient. Weights come from model.safetensors, ids from tools/check_sentiment.py's tokenizer.
Prints the relevance sum over the explained logit for each text and method, and fails when a
relevance differs from the engine's by more than --tol.
"""
import argparse
import json
import math
import os
import subprocess
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import check_sentiment as C  # noqa: E402

TEXTS = [  # (text, target id)
    ("the battery life is excellent", 2),
    ("My friend recommended it. I think the plot was not good.", 0),
    ("Not sure about the color, but the screen is really excellent.", 2),
    ("It was okay, I guess", 1),
    ("I tried the camera yesterday.", 1),
    ("The screen is awful and boring.", 0),
]


class Reference:
    def __init__(self, model_dir):
        self.W = {k: torch.tensor(np.array(v), dtype=torch.float64) for k, v in
                  C.read_safetensors(os.path.join(model_dir, "model.safetensors")).items()}
        self.c = json.load(open(os.path.join(model_dir, "config.json")))
        self.tok = C.Tokenizer(os.path.join(model_dir, "tokenizer.json"))

    def lin(self, n, x):
        return x @ self.W[n + ".weight"].T + self.W[n + ".bias"]

    def ln(self, n, x, detach_std):
        mu = x.mean(-1, keepdim=True)
        sd = torch.sqrt(((x - mu) ** 2).mean(-1, keepdim=True) + self.c["layer_norm_eps"])
        if detach_std:
            sd = sd.detach()
        return (x - mu) / sd * self.W[n + ".weight"] + self.W[n + ".bias"]

    @staticmethod
    def identity_rule(f, x):
        y = f(x)
        return x * (y / torch.where(x.abs() < 1e-12, torch.full_like(x, 1e-12), x)).detach()

    @staticmethod
    def half(t):
        return 0.5 * t + 0.5 * t.detach()

    def explain(self, text, method, target):
        """(logit, word, position and type relevances, relevance lost in the softmaxes)."""
        W, c = self.W, self.c
        ids, types, _ = self.tok.encode(text)
        T = len(ids)
        we = W["bert.embeddings.word_embeddings.weight"][ids].clone().requires_grad_()
        pe = W["bert.embeddings.position_embeddings.weight"][:T].clone().requires_grad_()
        te = W["bert.embeddings.token_type_embeddings.weight"][types].clone().requires_grad_()
        lrp = method != "gradxinput"
        gelu, tanh = torch.nn.functional.gelu, torch.tanh
        if lrp:
            gelu = (lambda x, f=gelu: self.identity_rule(f, x))
            tanh = (lambda x, f=tanh: self.identity_rule(f, x))
        x = self.ln("bert.embeddings.LayerNorm", we + pe + te, lrp)
        nh = c["num_attention_heads"]
        d = c["hidden_size"] // nh
        soft = []
        for i in range(c["num_hidden_layers"]):
            p = "bert.encoder.layer.%d." % i
            q, k, v = (self.lin(p + "attention.self." + n, x).view(T, nh, d).transpose(0, 1)
                       for n in ("query", "key", "value"))
            if method == "cplrp":
                q, k = q.detach(), k.detach()
            s = q @ k.transpose(1, 2) / math.sqrt(d)
            if method == "attnlrp":
                s = self.half(s)
            pr = torch.softmax(s, -1)
            if s.requires_grad:
                s.retain_grad()
                pr.retain_grad()
                soft.append((s, pr))
            o = pr @ v
            if method == "attnlrp":
                o = self.half(o)
            o = o.transpose(0, 1).reshape(T, nh * d)
            x = self.ln(p + "attention.output.LayerNorm",
                        x + self.lin(p + "attention.output.dense", o), lrp)
            h = gelu(self.lin(p + "intermediate.dense", x))
            x = self.ln(p + "output.LayerNorm", x + self.lin(p + "output.dense", h), lrp)
        logit = self.lin("classifier", tanh(self.lin("bert.pooler.dense", x[0])))[target]
        logit.backward()

        def rel(e):
            return (e * e.grad).sum(-1).detach().numpy()

        lost = 0.0
        for s, pr in soft:
            if s.grad is not None and pr.grad is not None:
                lost += float((pr * pr.grad).sum() - (s * s.grad).sum())
        return float(logit), rel(we), rel(pe), rel(te), lost


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=os.path.join(os.path.dirname(HERE), "models/sentiment"))
    ap.add_argument("--engine", default=os.path.join(os.path.dirname(HERE), "build/attnlrp"))
    ap.add_argument("--tol", type=float, default=1e-5)
    a = ap.parse_args()
    torch.set_num_threads(1)
    ref = Reference(a.model)
    worst = 0.0
    for text, target in TEXTS:
        for m in ["attnlrp", "cplrp", "gradxinput"]:
            lg, rw, rp, rt, lost = ref.explain(text, m, target)
            r = subprocess.run([a.engine, "explain", "--model", a.model, text, "--method", m,
                                "--target-id", str(target), "--format", "json"],
                               capture_output=True, text=True, check=True)
            j = json.loads(r.stdout)
            d = max(np.abs(rw - j["relevance"]).max(),
                    np.abs(rp - j["relevance_positions"]).max(),
                    np.abs(rt - j["relevance_token_types"]).max())
            worst = max(worst, d)
            total = rw.sum() + rp.sum() + rt.sum()
            print("%-10s sum/logit: reference %.4f, engine %.4f; lost in the softmaxes %.4f of "
                  "the logit; max |diff| %.1e  %r" % (m, total / lg,
                                                     j["relevance_sum"] / j["target_logit"],
                                                     lost / lg, d, text))
    print("max |engine - reference| over all relevances: %.2e (tolerance %.0e)" % (worst, a.tol))
    sys.exit(0 if worst <= a.tol else 1)


if __name__ == "__main__":
    main()

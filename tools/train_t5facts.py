#!/usr/bin/python3
"""Train attnlrp's T5 demo model: a tiny Flan-T5-shaped encoder-decoder that answers questions
about facts stated in its source.

    /usr/bin/python3 tools/train_t5facts.py --out models/t5-facts --data data --seed 0

writes models/t5-facts/ (config.json, generation_config.json, model.safetensors, tokenizer.json,
tokenizer_config.json, special_tokens_map.json, README.md) and data/t5-facts-eval.jsonl, and prints
the training loss, the held-out exact-match accuracy of greedy decoding and the time taken.
Deterministic from --seed on one process with --threads (default 1).

The task and the tokenizer are in tools/t5facts_task.py. The model is written in exact Hugging
Face T5ForConditionalGeneration layout with Flan-T5's choices; the forward below follows
transformers' modeling_t5: T5LayerNorm (x * rsqrt(mean(x^2) + eps) * w, no mean, no bias),
attention without 1/sqrt(d_kv) scaling, relative position bias computed by layer 0 of each stack
(bidirectional buckets in the encoder, causal in the decoder) and added in every layer of that
stack, cross-attention without position bias, gated-gelu feed-forward (gelu_new(wi_0 x) * wi_1 x,
then wo), pre-norm residual blocks, final layer norms, untied lm_head without the d_model^-1/2
rescale, decoder input = [decoder_start_token_id = pad = 0] + target shifted right.
"""

import argparse
import json
import math
import os
import random
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import t5facts_task as T  # noqa: E402

# ----------------------------------------------------------------------------------------------
# Model: transformers' T5ForConditionalGeneration (gated-gelu, untied head), float32


def relative_bucket(rel, bidirectional, num_buckets, max_distance):
    """T5's bucket of a relative position (key position - query position)."""
    buckets = torch.zeros_like(rel)
    if bidirectional:
        num_buckets //= 2
        buckets += (rel > 0).long() * num_buckets
        rel = rel.abs()
    else:
        rel = -torch.clamp(rel, max=0)
    max_exact = num_buckets // 2
    small = rel < max_exact
    large = max_exact + (torch.log(rel.float() / max_exact) / math.log(max_distance / max_exact)
                         * (num_buckets - max_exact)).long()
    large = torch.clamp(large, max=num_buckets - 1)
    return buckets + torch.where(small, rel, large)


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Attention(nn.Module):
    def __init__(self, c, has_bias, bidirectional):
        super().__init__()
        self.h, self.dk = c["num_heads"], c["d_kv"]
        inner = self.h * self.dk
        self.q = nn.Linear(c["d_model"], inner, bias=False)
        self.k = nn.Linear(c["d_model"], inner, bias=False)
        self.v = nn.Linear(c["d_model"], inner, bias=False)
        self.o = nn.Linear(inner, c["d_model"], bias=False)
        self.bidirectional = bidirectional
        self.nb, self.md = c["relative_attention_num_buckets"], c["relative_attention_max_distance"]
        self.relative_attention_bias = nn.Embedding(self.nb, self.h) if has_bias else None

    def position_bias(self, nq, nk):
        ctx = torch.arange(nq)[:, None]
        mem = torch.arange(nk)[None, :]
        b = relative_bucket(mem - ctx, self.bidirectional, self.nb, self.md)
        return self.relative_attention_bias(b).permute(2, 0, 1).unsqueeze(0)  # [1, h, q, k]

    def forward(self, x, kv, bias):
        B, nq, _ = x.shape
        nk = kv.shape[1]

        def heads(t, n):
            return t.view(B, n, self.h, self.dk).transpose(1, 2)
        q, k, v = heads(self.q(x), nq), heads(self.k(kv), nk), heads(self.v(kv), nk)
        scores = q @ k.transpose(-1, -2) + bias  # no 1/sqrt(d_kv)
        p = torch.softmax(scores.float(), -1)
        return self.o((p @ v).transpose(1, 2).reshape(B, nq, self.h * self.dk))


class GatedGelu(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wi_0 = nn.Linear(c["d_model"], c["d_ff"], bias=False)
        self.wi_1 = nn.Linear(c["d_model"], c["d_ff"], bias=False)
        self.wo = nn.Linear(c["d_ff"], c["d_model"], bias=False)

    def forward(self, x):
        return self.wo(F.gelu(self.wi_0(x), approximate="tanh") * self.wi_1(x))


class Block(nn.Module):
    def __init__(self, c, first, decoder):
        super().__init__()
        eps = c["layer_norm_epsilon"]
        self.decoder = decoder
        self.sa = Attention(c, first, not decoder)
        self.ln_sa = RMSNorm(c["d_model"], eps)
        if decoder:
            self.ca = Attention(c, False, False)
            self.ln_ca = RMSNorm(c["d_model"], eps)
        self.ff = GatedGelu(c)
        self.ln_ff = RMSNorm(c["d_model"], eps)

    def forward(self, x, bias, enc=None, enc_bias=None):
        h = self.ln_sa(x)
        x = x + self.sa(h, h, bias)
        if self.decoder:
            x = x + self.ca(self.ln_ca(x), enc, enc_bias)
        return x + self.ff(self.ln_ff(x))


class T5(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        d = c["d_model"]
        self.shared = nn.Embedding(c["vocab_size"], d)
        self.enc = nn.ModuleList([Block(c, i == 0, False) for i in range(c["num_layers"])])
        self.dec = nn.ModuleList([Block(c, i == 0, True) for i in range(c["num_decoder_layers"])])
        self.enc_ln = RMSNorm(d, c["layer_norm_epsilon"])
        self.dec_ln = RMSNorm(d, c["layer_norm_epsilon"])
        self.lm_head = nn.Linear(d, c["vocab_size"], bias=False)
        self._init(c)

    def _init(self, c):
        # transformers' T5PreTrainedModel._init_weights with initializer_factor 1.0
        d, dk, h, dff = c["d_model"], c["d_kv"], c["num_heads"], c["d_ff"]
        with torch.no_grad():
            self.shared.weight.normal_(0, 1.0)
            self.lm_head.weight.normal_(0, 1.0)
            for b in list(self.enc) + list(self.dec):
                for a in [b.sa] + ([b.ca] if b.decoder else []):
                    a.q.weight.normal_(0, (d * dk) ** -0.5)
                    a.k.weight.normal_(0, d ** -0.5)
                    a.v.weight.normal_(0, d ** -0.5)
                    a.o.weight.normal_(0, (h * dk) ** -0.5)
                    if a.relative_attention_bias is not None:
                        a.relative_attention_bias.weight.normal_(0, d ** -0.5)
                b.ff.wi_0.weight.normal_(0, d ** -0.5)
                b.ff.wi_1.weight.normal_(0, d ** -0.5)
                b.ff.wo.weight.normal_(0, dff ** -0.5)

    def encode(self, ids, mask):
        """ids [B, n], mask [B, n] (1 = token, 0 = padding) -> encoder output [B, n, d]."""
        n = ids.shape[1]
        pad = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        bias = self.enc[0].sa.position_bias(n, n) + pad
        x = self.shared(ids)
        for b in self.enc:
            x = b(x, bias)
        return self.enc_ln(x), pad

    def decode(self, dec_ids, enc, enc_pad):
        n = dec_ids.shape[1]
        causal = torch.triu(torch.full((n, n), torch.finfo(torch.float32).min), 1)[None, None]
        bias = self.dec[0].sa.position_bias(n, n) + causal
        x = self.shared(dec_ids)
        for b in self.dec:
            x = b(x, bias, enc, enc_pad)
        return self.lm_head(self.dec_ln(x))  # untied: no d_model^-1/2 rescale

    def hf_state_dict(self):
        sd = {"shared.weight": self.shared.weight}
        for stack, blocks in (("encoder", self.enc), ("decoder", self.dec)):
            for i, b in enumerate(blocks):
                p = f"{stack}.block.{i}.layer."
                attn = [("0.SelfAttention", b.sa, b.ln_sa)]
                if b.decoder:
                    attn.append(("1.EncDecAttention", b.ca, b.ln_ca))
                for name, a, ln in attn:
                    for w in "qkvo":
                        sd[f"{p}{name}.{w}.weight"] = getattr(a, w).weight
                    if a.relative_attention_bias is not None:
                        sd[f"{p}{name}.relative_attention_bias.weight"] = a.relative_attention_bias.weight
                    sd[f"{p}{name.split('.')[0]}.layer_norm.weight"] = ln.weight
                f = "2" if b.decoder else "1"
                for w in ("wi_0", "wi_1", "wo"):
                    sd[f"{p}{f}.DenseReluDense.{w}.weight"] = getattr(b.ff, w).weight
                sd[f"{p}{f}.layer_norm.weight"] = b.ln_ff.weight
            sd[f"{stack}.final_layer_norm.weight"] = (self.enc_ln if stack == "encoder" else self.dec_ln).weight
        sd["lm_head.weight"] = self.lm_head.weight
        return {k: v.detach().clone().contiguous() for k, v in sorted(sd.items())}


def hf_config(a):
    return {
        "architectures": ["T5ForConditionalGeneration"],
        "classifier_dropout": 0.0,
        "d_ff": a.d_ff,
        "d_kv": a.d_model // a.heads,
        "d_model": a.d_model,
        "decoder_start_token_id": T.PAD_ID,
        "dense_act_fn": "gelu_new",
        "dropout_rate": a.dropout,
        "eos_token_id": T.EOS_ID,
        "feed_forward_proj": "gated-gelu",
        "initializer_factor": 1.0,
        "is_encoder_decoder": True,
        "is_gated_act": True,
        "layer_norm_epsilon": 1e-6,
        "model_type": "t5",
        "n_positions": 512,
        "num_decoder_layers": a.decoder_layers,
        "num_heads": a.heads,
        "num_layers": a.layers,
        "output_past": True,
        "pad_token_id": T.PAD_ID,
        "relative_attention_max_distance": 128,
        "relative_attention_num_buckets": 32,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "transformers_version": "4.46.0",
        "use_cache": True,
        "vocab_size": T.VOCAB_SIZE,
    }


# ----------------------------------------------------------------------------------------------
# Data

class Encoder:
    """Token ids of the shipped tokenizer for the task's texts, by Python sentencepiece on the
    model just trained (tools/check_t5_tokenizer.py shows the engine's tokenizer.json gives the
    same ids)."""

    def __init__(self, model_bytes):
        import sentencepiece as spm
        self.sp = spm.SentencePieceProcessor(model_proto=model_bytes)

    def source(self, text):
        return self.sp.encode(text) + [T.EOS_ID]

    def target(self, answer):
        return self.sp.encode(answer) + [T.EOS_ID]

    def decode(self, ids):
        n = self.sp.get_piece_size()
        return self.sp.decode([i for i in ids if i != T.EOS_ID]) if all(i < n for i in ids) else None


def example(enc, rng, split):
    r = T.make_record(rng, split)
    return enc.source(r["text"]), enc.target(r["target"]), r


def collate(items):
    ns = max(len(s) for s, _, _ in items)
    nt = max(len(t) for _, t, _ in items)
    src = torch.zeros(len(items), ns, dtype=torch.long)
    mask = torch.zeros(len(items), ns, dtype=torch.long)
    dec_in = torch.zeros(len(items), nt, dtype=torch.long)
    labels = torch.full((len(items), nt), -100, dtype=torch.long)
    for i, (s, t, _) in enumerate(items):
        src[i, :len(s)] = torch.tensor(s)
        mask[i, :len(s)] = 1
        dec_in[i, 1:len(t)] = torch.tensor(t[:-1])  # [decoder_start = pad] + target shifted
        labels[i, :len(t)] = torch.tensor(t)
    return src, mask, dec_in, labels


def greedy(model, items, max_new=8, batch_size=256):
    """Greedy decoding of every item's answer; returns the generated id lists (without </s>)."""
    out = []
    model.eval()
    with torch.no_grad():
        for b in range(0, len(items), batch_size):
            chunk = items[b:b + batch_size]
            src, mask, _, _ = collate(chunk)
            enc, pad = model.encode(src, mask)
            dec = torch.zeros(len(chunk), 1, dtype=torch.long)
            done = torch.zeros(len(chunk), dtype=torch.bool)
            for _ in range(max_new):
                nxt = model.decode(dec, enc, pad)[:, -1].argmax(-1)
                nxt = torch.where(done, torch.full_like(nxt, T.PAD_ID), nxt)
                dec = torch.cat([dec, nxt[:, None]], 1)
                done |= nxt == T.EOS_ID
                if done.all():
                    break
            for row in dec.tolist():
                ids = []
                for t in row[1:]:
                    if t in (T.EOS_ID, T.PAD_ID):
                        break
                    ids.append(t)
                out.append(ids)
    model.train()
    return out


def accuracy(model, enc, items):
    gen = greedy(model, items)
    return sum(enc.decode(g) == it[2]["target"] for g, it in zip(gen, items)) / len(items)


# ----------------------------------------------------------------------------------------------
# Files

from model_files import write_safetensors  # noqa: E402  (tools/ is the script's directory)


def write_text(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def write_json(path, obj, indent=2, sort_keys=False):
    write_text(path, json.dumps(obj, ensure_ascii=False, indent=indent, sort_keys=sort_keys) + "\n")


def write_model_card(path, a, cfg, s):
    n_pieces = T.SP_VOCAB + T.N_EXTRA
    rows = "\n".join("| %d | %.4f | %.3f |" % r for r in s["log"])
    sizes = ", ".join("`%s` %s B" % (f, format(n, ",")) for f, n in s["sizes"].items())
    rels = ", ".join("%s (\"%s\" / \"%s\")" % (r, q.format(n="X"), f.format(n="X", v="V"))
                     for r, (q, f, _) in T.RELATIONS.items())
    text = f"""# attnlrp T5 demo model: questions about facts in the source

A tiny encoder-decoder in Hugging Face `T5ForConditionalGeneration` layout with Flan-T5's choices
(`feed_forward_proj` gated-gelu, untied `lm_head`, relative position buckets, RMS layer norms),
float32, {s["params"]:,} parameters: d_model {cfg["d_model"]}, {cfg["num_heads"]} heads of
{cfg["d_kv"]}, d_ff {cfg["d_ff"]}, {cfg["num_layers"]} encoder and {cfg["num_decoder_layers"]}
decoder blocks, vocabulary {cfg["vocab_size"]} rows ({n_pieces} tokens; rows {n_pieces}-{cfg["vocab_size"] - 1}
are padding, as Flan-T5's 32,128 rows hold 32,100 tokens). It reads

    question: what colour is Emma's house? context: Emma lives in Dublin. Rosa drinks cocoa. Emma's house is black. Emma plays baseball. Nina's car is green.

and generates `black`. Every record states one fact of the relation asked about among
{T.MIN_OTHER}-{T.MAX_OTHER} facts of other relations (about the same or other people; house and car colours
share their values), shuffled. The evidence for each answer is known (the value in the matching
fact sentence), which is what makes the model useful for checking whether an explanation points
at the right source tokens.

**What the model does not do: bind people to values.** When the source states two or three
facts of the relation asked about (Noah's house and Mia's house), the model picks one of them at
about chance ({s["acc_bind"]:.3f} on 1,000 held-out records with two such facts; chance 0.5): it
finds the value whose relation matches the question and does not use the person. Training on
records with 2-3 same-relation facts (d_model 64 and 128, 1,800-4,000 steps, lr 1e-3 to 3e-3,
12 or 40 people, the relative position bias at 10x the learning rate) stayed at chance within the
CPU budget, like the default model's binding attempts. Explanations should therefore put the
relevance on the value and the relation words, and little on the person's name; that is the
model's mechanism, not a flaw of the explanation.

## Task and data (`tools/t5facts_task.py`)

- {T.N_TASK_NAMES} people, {len(T.RELATIONS)} relations with 12 values each: {rels}.
- Held-out split: every (name, relation, value) triple is train (80%) or test (20%) by a fixed
  hash; training records contain train triples only, held-out records test triples only, so every
  evaluated combination is unseen in training (every name and value is seen).
- `data/t5-facts-eval.jsonl`: {s["n_eval"]} held-out records, balanced over relations and the number of
  same-relation facts; format in `data/README.md`.

## Tokenizer

`tokenizer.json` is a SentencePiece Unigram model ({T.SP_VOCAB} pieces, identity normalization,
`add_dummy_prefix`, `remove_extra_whitespaces`, T5's ids `<pad>`=0, `</s>`=1, `<unk>`=2, no `<s>`)
trained with Debian's sentencepiece 0.1.97 (one thread, every sentence, fixed corpus) on 5,000
task sources plus the even-numbered real English texts of `tests/tokenizer/inputs.json`, and
converted as transformers' `T5Converter` converts T5's `spiece.model`: normalizer `Strip` (right)
+ `Replace(" {{2,}}" -> "▁")`, `Metaspace` pre-tokenizer and decoder (prepend_scheme always),
`TemplateProcessing` `$A </s>` / `$A </s> $B </s>`, and {T.N_EXTRA} sentinels `<extra_id_0>`..`<extra_id_{T.N_EXTRA - 1}>`
appended in reverse order (`<extra_id_0>` = {n_pieces - 1}). The `.model` file is not shipped (it is regenerated in
about a second by `tools/check_t5_tokenizer.py`), so only the fast tokenizer loads in transformers.
`tests/test_t5_tokenizer.sh` compares `attnlrp tokenize` with Python sentencepiece on about 5,500
texts and `attnlrp detokenize` on about 300 (see the script for the two documented Hugging
Face / sentencepiece differences: trailing tabs and newlines, a typed "▁").

## Training (`tools/train_t5facts.py`)

{a.steps} steps × {a.batch} records drawn fresh from the training triples, cross-entropy on the
answer tokens and `</s>` (decoder input: `decoder_start_token_id` 0, then the answer shifted right).
AdamW (lr {a.lr}, the relative position bias tables at {a.bias_lr_scale:g}× that, warm-up {a.warmup}, cosine to 2%,
weight decay {a.weight_decay} on matrices, betas 0.9/0.98, gradient clip 1), dropout {a.dropout}, initialisation
as transformers' `T5PreTrainedModel._init_weights` (factor 1), seed {a.seed}, PyTorch 1.13 on CPU with
{a.threads} thread(s): {s["train_s"]:.0f} s of training ({s["total_s"]:.0f} s in all) on the team's shared 2-core machine.

| step | smoothed loss | held-out exact match (200 records) |
| --- | --- | --- |
{rows}

## Accuracy (held out, greedy decoding, exact match of the decoded answer)

| set | records | exact match |
| --- | --- | --- |
| `data/t5-facts-eval.jsonl` | {s["n_eval"]} | {s["acc_eval"]:.4f} |
| further held-out records | {s["n_extra"]} | {s["acc_extra"]:.4f} |
| records of training triples | 1000 | {s["acc_seen"]:.4f} |
| diagnostic, outside the task: two facts of the asked relation | 1000 | {s["acc_bind"]:.4f} (chance 0.5) |

`tools/check_t5facts.py` recomputes the first line from the saved files with an independent
NumPy float64 forward pass and its own tokenizer.json reader (no PyTorch, nothing shared with
the training script).

## Reproduce

    /usr/bin/python3 tools/train_t5facts.py                 # model, tokenizer, data, this card
    /usr/bin/python3 tools/check_t5facts.py --extra 1000    # independent NumPy forward
    bash tests/test_t5_tokenizer.sh                         # engine tokenizer vs sentencepiece

Files: {sizes}.
"""
    write_text(path, text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="models/t5-facts")
    ap.add_argument("--data", default="data", help="where t5-facts-eval.jsonl goes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--d-model", type=int, default=64)
    ap.add_argument("--d-ff", type=int, default=128)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--decoder-layers", type=int, default=2)
    ap.add_argument("--eval-records", type=int, default=400)
    ap.add_argument("--eval-extra", type=int, default=2000)
    ap.add_argument("--log-every", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--min-same", type=int, default=T.MIN_SAME)
    ap.add_argument("--max-same", type=int, default=T.MAX_SAME)
    ap.add_argument("--min-other", type=int, default=T.MIN_OTHER)
    ap.add_argument("--max-other", type=int, default=T.MAX_OTHER)
    ap.add_argument("--bias-lr-scale", type=float, default=10.0)
    ap.add_argument("--names", type=int, default=T.N_TASK_NAMES)
    ap.add_argument("--no-write", action="store_true", help="train and report only")
    a = ap.parse_args()

    T.MIN_SAME, T.MAX_SAME, T.MIN_OTHER, T.MAX_OTHER = a.min_same, a.max_same, a.min_other, a.max_other
    t_start = time.perf_counter()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    torch.use_deterministic_algorithms(True)

    sp_model = T.train_sentencepiece(T.tokenizer_corpus(a.seed))
    pieces = T.sp_pieces(sp_model)
    enc = Encoder(sp_model)
    T.N_TASK_NAMES = a.names
    cfg = hf_config(a)

    eval_rng = random.Random(1000003 * a.seed + 29)
    records = []
    for i in range(a.eval_records):  # balanced over relations and numbers of same-relation facts
        rel = T.RELATION_NAMES[i % len(T.RELATION_NAMES)]
        records.append(T.make_record(eval_rng, "test", n_same=T.MIN_SAME + (i // 7) % (T.MAX_SAME - T.MIN_SAME + 1), relation=rel))
    items = [(enc.source(r["text"]), enc.target(r["target"]), r) for r in records]
    extra = [example(enc, eval_rng, "test") for _ in range(a.eval_extra)]
    seen = [example(enc, random.Random(a.seed + 99), "train") for _ in range(1000)]
    for s, t, _ in items + extra:
        assert T.UNK_ID not in s and T.UNK_ID not in t

    model = T5(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    print("model: d_model %d, d_ff %d, %d heads, %d+%d layers, vocab %d: %d parameters" % (
        a.d_model, a.d_ff, a.heads, a.layers, a.decoder_layers, T.VOCAB_SIZE, n_params), flush=True)
    # The relative position bias is a table of logits that Adam moves by about lr per step; it
    # gets --bias-lr-scale times the learning rate so position-based heads form within the budget.
    rel = [p for n, p in model.named_parameters() if "relative_attention_bias" in n]
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "relative_attention_bias" not in n]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay, "scale": 1.0},
                             {"params": no_decay, "weight_decay": 0.0, "scale": 1.0},
                             {"params": rel, "weight_decay": 0.0, "scale": a.bias_lr_scale}],
                            lr=a.lr, betas=(0.9, 0.98), eps=1e-8)

    def lr_at(step):
        if step < a.warmup:
            return a.lr * (step + 1) / a.warmup
        t = (step - a.warmup) / max(1, a.steps - a.warmup)
        return a.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * t)))

    rng = random.Random(a.seed)
    t_train = time.perf_counter()
    running, log = None, []
    for step in range(a.steps):
        src, mask, dec_in, labels = collate([example(enc, rng, "train") for _ in range(a.batch)])
        for g in opt.param_groups:
            g["lr"] = lr_at(step) * g["scale"]
        e, pad = model.encode(src, mask)
        logits = model.decode(dec_in, e, pad)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        if (step + 1) % a.log_every == 0 or step + 1 == a.steps:
            acc = accuracy(model, enc, extra[:200])
            el = time.perf_counter() - t_train
            print("step %5d  loss %.4f  held-out exact match (200) %.4f  lr %.2e  %.0fs" % (
                step + 1, running, acc, lr_at(step), el), flush=True)
            log.append((step + 1, running, acc))
    train_s = time.perf_counter() - t_train

    stats = {"params": n_params, "train_s": train_s, "log": log}
    stats["acc_eval"] = accuracy(model, enc, items)
    stats["acc_extra"] = accuracy(model, enc, extra)
    stats["acc_seen"] = accuracy(model, enc, seen)
    bind_rng = random.Random(a.seed + 555)
    bind = []
    for _ in range(1000):
        r = T.make_record(bind_rng, "test", n_same=2)
        bind.append((enc.source(r["text"]), enc.target(r["target"]), r))
    stats["acc_bind"] = accuracy(model, enc, bind)
    print("diagnostic: two facts of the asked relation %.4f" % stats["acc_bind"])
    print("exact match: eval records %.4f (%d), further held-out %.4f (%d), training triples %.4f" % (
        stats["acc_eval"], len(items), stats["acc_extra"], len(extra), stats["acc_seen"]), flush=True)
    if a.no_write:
        return
    os.makedirs(a.out, exist_ok=True)
    os.makedirs(a.data, exist_ok=True)
    write_safetensors(os.path.join(a.out, "model.safetensors"), model.hf_state_dict())
    write_json(os.path.join(a.out, "config.json"), cfg, sort_keys=True)
    write_json(os.path.join(a.out, "generation_config.json"), {
        "decoder_start_token_id": T.PAD_ID, "eos_token_id": T.EOS_ID, "pad_token_id": T.PAD_ID,
        "transformers_version": "4.46.0"})
    write_json(os.path.join(a.out, "tokenizer.json"), T.tokenizer_json(pieces), indent=None)
    write_json(os.path.join(a.out, "tokenizer_config.json"), T.tokenizer_config())
    write_json(os.path.join(a.out, "special_tokens_map.json"), T.special_tokens_map())
    keep = ("text", "target", "span", "fact_span", "fact_index", "n_facts", "n_same", "relation")
    write_text(os.path.join(a.data, "t5-facts-eval.jsonl"),
               "".join(json.dumps({k: r[k] for k in keep}, ensure_ascii=False) + "\n" for r in records))
    stats["total_s"] = time.perf_counter() - t_start
    stats["sizes"] = {f: os.path.getsize(os.path.join(a.out, f))
                      for f in sorted(os.listdir(a.out)) if f != "README.md"}
    stats["n_eval"], stats["n_extra"] = len(items), len(extra)
    write_model_card(os.path.join(a.out, "README.md"), a, cfg, stats)
    print("wrote %s: %s" % (a.out, ", ".join("%s %d B" % kv for kv in stats["sizes"].items())))
    print("training %.1f s (%d steps, %.3f s/step), total %.1f s" % (
        train_s, a.steps, train_s / a.steps, stats["total_s"]))


if __name__ == "__main__":
    main()

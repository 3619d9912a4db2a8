#!/usr/bin/python3
"""Train attnlrp's second shipped model: a tiny BERT that classifies review sentences.

    /usr/bin/python3 tools/train_sentiment.py --out models/sentiment --seed 0

writes models/sentiment/ (config.json, model.safetensors, tokenizer.json, tokenizer_config.json,
vocab.txt, README.md) and data/sentiment_eval.jsonl, and prints the training loss, the held-out
accuracy and the time taken. Everything is deterministic from --seed on one process with --threads
(default 1).

The task. Synthetic product and film reviews, built from templates:

    After two weeks, the battery life still seems excellent.   -> positive
    My friend recommended it. I think the plot was not good.    -> negative
    The keyboard is okay, as far as I can tell.                 -> neutral

The label is carried by one evidence word (a positive, negative or neutral adjective), two
evidence words of the same class ("awful and boring"), or a negated positive word ("not good" is
negative). Everything else is distractor: the subject (aspect), the template's frame, intensifiers
("really", "quite"), filler sentences without sentiment ("It arrived on Tuesday."), and "not" in
phrases that do not negate the evidence ("Not sure about the colour, but ...").

Held-out split: every (subject, template, evidence word) triple belongs to train (80%) or test
(20%) by a fixed hash; training sentences contain train triples only and held-out sentences test
triples only, so every evaluated combination is unseen in training (all words are seen).

The tokenizer is a Hugging Face WordPiece tokenizer.json (BertNormalizer lowercase,
BertPreTokenizer, TemplateProcessing "[CLS] $A [SEP]" / "[CLS] $A [SEP] $B:1 [SEP]:1", WordPiece
decoder) whose vocabulary holds the special tokens, every ASCII punctuation mark, digit and letter,
the "##" continuation of every digit and letter (so every ASCII word tokenizes), a few suffixes,
and every word of the corpus. The encoder here is its own Python implementation of that pipeline
for ASCII text.

The model is written in exact Hugging Face BertForSequenceClassification layout; the forward pass
below follows transformers' modeling_bert (post-norm, erf GELU, LayerNorm eps 1e-12, additive
padding mask with the dtype's minimum, pooler tanh(dense(h[CLS])), classifier on the pooled
vector). A share of training examples are pairs (review, filler sentence) or (filler, review)
encoded with token type ids 0/1, so the type-1 embedding is trained too.
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
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sentiment_task import (  # noqa: E402
    EXPLAIN_BEGIN, EXPLAIN_END, FILLERS, LABELS, PAD_ID, PLAIN_FRAMES, SUBJECTS, TEMPLATES, UNK_ID,
    WORDS, WordPiece, build_vocab, make_plain, make_review, tokenizer_config, tokenizer_json)

# ----------------------------------------------------------------------------------------------
# Model: transformers' BertForSequenceClassification, float32

class Layer(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        H = c["hidden_size"]
        self.nh = c["num_attention_heads"]
        self.q = torch.nn.Linear(H, H)
        self.k = torch.nn.Linear(H, H)
        self.v = torch.nn.Linear(H, H)
        self.o = torch.nn.Linear(H, H)
        self.ln1 = torch.nn.LayerNorm(H, eps=c["layer_norm_eps"])
        self.up = torch.nn.Linear(H, c["intermediate_size"])
        self.down = torch.nn.Linear(c["intermediate_size"], H)
        self.ln2 = torch.nn.LayerNorm(H, eps=c["layer_norm_eps"])
        self.drop = c["hidden_dropout_prob"]
        self.adrop = c["attention_probs_dropout_prob"]

    def forward(self, x, bias):
        B, T, H = x.shape
        d = H // self.nh

        def heads(t):
            return t.view(B, T, self.nh, d).transpose(1, 2)

        q, k, v = heads(self.q(x)), heads(self.k(x)), heads(self.v(x))
        s = q @ k.transpose(-1, -2) / math.sqrt(d) + bias
        p = F.dropout(torch.softmax(s, -1), self.adrop, self.training)
        ctx = (p @ v).transpose(1, 2).reshape(B, T, H)
        x = self.ln1(x + F.dropout(self.o(ctx), self.drop, self.training))
        h = self.down(F.gelu(self.up(x)))
        return self.ln2(x + F.dropout(h, self.drop, self.training))


class Bert(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        H = c["hidden_size"]
        self.c = c
        self.word = torch.nn.Embedding(c["vocab_size"], H)
        self.pos = torch.nn.Embedding(c["max_position_embeddings"], H)
        self.typ = torch.nn.Embedding(c["type_vocab_size"], H)
        self.ln = torch.nn.LayerNorm(H, eps=c["layer_norm_eps"])
        self.layers = torch.nn.ModuleList(Layer(c) for _ in range(c["num_hidden_layers"]))
        self.pooler = torch.nn.Linear(H, H)
        self.classifier = torch.nn.Linear(H, len(c["id2label"]))
        std = c["initializer_range"]
        for m in self.modules():  # transformers' BertPreTrainedModel._init_weights
            if isinstance(m, (torch.nn.Linear, torch.nn.Embedding)):
                torch.nn.init.normal_(m.weight, 0.0, std)
                if isinstance(m, torch.nn.Linear):
                    torch.nn.init.zeros_(m.bias)
        with torch.no_grad():
            self.word.weight[c["pad_token_id"]].zero_()

    def forward(self, ids, types, mask):
        B, T = ids.shape
        x = self.word(ids) + self.pos(torch.arange(T))[None] + self.typ(types)
        x = F.dropout(self.ln(x), self.c["hidden_dropout_prob"], self.training)
        bias = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for layer in self.layers:
            x = layer(x, bias)
        pooled = torch.tanh(self.pooler(x[:, 0]))
        pooled = F.dropout(pooled, self.c["hidden_dropout_prob"], self.training)
        return self.classifier(pooled)

    def hf_state_dict(self):
        out = {}

        def put(name, mod):
            out[name + ".weight"] = mod.weight
            if getattr(mod, "bias", None) is not None:
                out[name + ".bias"] = mod.bias

        put("bert.embeddings.word_embeddings", self.word)
        put("bert.embeddings.position_embeddings", self.pos)
        put("bert.embeddings.token_type_embeddings", self.typ)
        put("bert.embeddings.LayerNorm", self.ln)
        for i, L in enumerate(self.layers):
            p = "bert.encoder.layer.%d." % i
            put(p + "attention.self.query", L.q)
            put(p + "attention.self.key", L.k)
            put(p + "attention.self.value", L.v)
            put(p + "attention.output.dense", L.o)
            put(p + "attention.output.LayerNorm", L.ln1)
            put(p + "intermediate.dense", L.up)
            put(p + "output.dense", L.down)
            put(p + "output.LayerNorm", L.ln2)
        put("bert.pooler.dense", self.pooler)
        put("classifier", self.classifier)
        return {k: v.detach().contiguous().float() for k, v in out.items()}


def hf_config(a, vocab_size):
    return {
        "architectures": ["BertForSequenceClassification"],
        "attention_probs_dropout_prob": a.dropout,
        "classifier_dropout": None,
        "hidden_act": "gelu",
        "hidden_dropout_prob": a.dropout,
        "hidden_size": a.hidden,
        "id2label": {str(i): l for i, l in enumerate(LABELS)},
        "initializer_range": 0.02,
        "intermediate_size": a.intermediate,
        "label2id": {l: i for i, l in enumerate(LABELS)},
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": a.max_positions,
        "model_type": "bert",
        "num_attention_heads": a.heads,
        "num_hidden_layers": a.layers,
        "pad_token_id": PAD_ID,
        "position_embedding_type": "absolute",
        "problem_type": "single_label_classification",
        "torch_dtype": "float32",
        "transformers_version": "4.46.0",
        "type_vocab_size": 2,
        "use_cache": True,
        "vocab_size": vocab_size,
    }


# ----------------------------------------------------------------------------------------------
# Files

from model_files import write_safetensors  # noqa: E402  (tools/ is the script's directory)


def write_text(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def write_json(path, obj, indent=2, sort_keys=False):
    write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False, sort_keys=sort_keys) + "\n")



def write_model_card(path, a, cfg, s):
    kinds = s["by_kind"]
    labels = s["by_label"]
    sizes = ", ".join("`%s` %s B" % (f, format(n, ",")) for f, n in s["sizes"].items())
    curve = "\n".join("| %d | %.4f | %.3f |" % row for row in s["log"][::max(1, len(s["log"]) // 10)])
    probes = "\n".join("  - \"%s\" → %s (%.3f)" % p for p in s["probes"])
    explain = "Not measured yet: run `tools/check_sentiment.py --update-card`."
    if os.path.exists(path):  # keep what the check measured on an identical model
        old = open(path, encoding="utf-8").read()
        if EXPLAIN_BEGIN in old and EXPLAIN_END in old:
            explain = old.split(EXPLAIN_BEGIN)[1].split(EXPLAIN_END)[0].strip("\n")
    text = f"""# attnlrp sentiment model: a tiny BERT review classifier

A 2-layer BERT (Hugging Face `BertForSequenceClassification` layout, float32,
{s["params"]:,} parameters; hidden {a.hidden}, {a.heads} heads, intermediate {a.intermediate},
{a.max_positions} positions) that labels a review sentence **negative**, **neutral** or
**positive**:

    ./build/attnlrp explain --model models/sentiment "the battery life is excellent"

The data are synthetic, so the evidence for each label is known (the sentiment word or words),
which is what makes the model useful for checking whether an explanation points at the right
tokens. It is not a general sentiment model: it knows {len(WORDS["positive"])} positive,
{len(WORDS["negative"])} negative and {len(WORDS["neutral"])} neutral words and nothing else.

## Task and data (`tools/sentiment_task.py`)

- A review is one sentence built from {len(TEMPLATES)} templates ("After two weeks, {{s}} still seems
  {{a}}.", "If you ask me, {{s}} is {{a}}.") × {len(SUBJECTS)} subjects (product aspects such as
  "the battery life", "the keyboard" and film aspects such as "the plot", "the lead actor"), plus
  0–2 filler sentences without sentiment ("It arrived on Tuesday.") before or after it.
- The evidence phrase `{{a}}` decides the label: one sentiment word (positive: {", ".join(WORDS["positive"][:6])}, …;
  negative: {", ".join(WORDS["negative"][:6])}, …; neutral: {", ".join(WORDS["neutral"][:6])}, …),
  two words of the same class ("awful and boring", 15%), or a negated positive word ("not good"
  is negative; 30% of negative reviews). Intensifiers ("really", "quite", …) come before a third
  of the non-negated phrases, and two templates contain a "not" that negates nothing ("Not sure
  about the color, but …", "I did not expect much, and …").
- Held-out split: every (subject, template, evidence word) triple belongs to train (80%) or test
  (20%) by a fixed hash (for "not good" the word is "good"; for two words the first one). Training
  sentences contain train triples only, held-out sentences test triples only, so every evaluated
  combination is unseen in training; every word is seen.
- {int(a.plain_share * 100)}% of training sentences carry no sentiment word at all ("I tried the
  camera yesterday.", {len(PLAIN_FRAMES)} frames, (subject, frame) split like the triples) and are
  labelled neutral, so text without evidence has a defined answer. They have no span and are not
  in `data/sentiment_eval.jsonl`.
- {int(a.pair_share * 100)}% of training examples are encoded as a pair with a filler sentence
  (`[CLS] review [SEP] filler [SEP]` or `[CLS] filler [SEP] review [SEP]`, token type ids 0 and 1),
  so the type-1 embedding is trained and pair inputs work; the label is the review's.
- `data/sentiment_eval.jsonl`: {s["n_eval"]} held-out records (100 per label) `{{"text", "target",
  "span"}}`, where `span` is the code-point range [start, end) of the evidence phrase
  ("not good", "awful and boring" included whole, intensifiers excluded).

## Tokenizer

`tokenizer.json` is a WordPiece tokenizer in Hugging Face's format, laid out like
bert-base-uncased's: BertNormalizer (clean text, Chinese characters, lowercase, which also strips
accents), BertPreTokenizer, WordPiece (`##` continuation, `[UNK]`, 100 characters per word),
TemplateProcessing `[CLS] $A [SEP]` and `[CLS] $A [SEP] $B:1 [SEP]:1`, WordPiece decoder. Its
{s["vocab"]} entries: `[PAD]`=0, `[UNK]`=1, `[CLS]`=2, `[SEP]`=3, `[MASK]`=4, the 32 ASCII
punctuation marks, the digits and letters with their `##` continuations (so every ASCII word
tokenizes; unseen words become letter pieces, which the model was never trained on), a few
suffixes, and every word of the corpus as one token. Non-ASCII letters that do not lose their
accent become `[UNK]`. `vocab.txt` holds the same entries for `BertTokenizer`.
`tools/check_sentiment.py --hf-ids` compares, on 386 texts (the 300 evaluation texts, 23 hostile
strings: accents, CJK, emoji, controls, special tokens typed in the text, a 101-letter word…, and
63 pairs), the ids and token type ids of Hugging Face's Rust `tokenizers` (npm 0.23.2) and the ids
of the JavaScript `@huggingface/tokenizers` (0.2.0) with its own WordPiece and `attnlrp tokenize`,
and `attnlrp detokenize --skip-special` with Rust's decode plus transformers' clean-up
(`clean_up_tokenization_spaces` is true, as in bert-base-uncased): no differences.

## Training (`tools/train_sentiment.py`)

{a.steps} steps × {a.batch} examples drawn fresh from the training triples, cross-entropy on the
class. AdamW (lr {a.lr}, warm-up {a.warmup}, cosine to 2%, weight decay {a.weight_decay} on
matrices, betas 0.9/0.98, gradient clip 1), dropout {a.dropout} (hidden and attention),
initialisation N(0, 0.02) as transformers does it, seed {a.seed}, PyTorch 1.13 on CPU with
{a.threads} thread: {s["train_s"]:.0f} s of training ({s["total_s"]:.0f} s in all) on the team's
shared 2-core machine. Re-running the script gives byte-identical model, tokenizer and data files
(only the timings in this card change).

| step | smoothed loss | held-out accuracy (1000 sentences) |
| --- | --- | --- |
{curve}

## Accuracy (held out)

| set | examples | accuracy |
| --- | --- | --- |
| `data/sentiment_eval.jsonl` | {s["n_eval"]} | {s["acc_eval"]:.4f} |
| further held-out sentences | {s["n_extra"]} | {s["acc_extra"]:.4f} |
| held-out sentences as pairs with a filler | 1000 | {s["acc_pairs"]:.4f} |
| sentences of training triples | 1000 | {s["acc_seen"]:.4f} |
| held-out sentences without a sentiment word (neutral) | 1000 | {s["acc_plain"]:.4f} |

By form (further held-out sentences): one word {kinds["one"][0]:.4f} ({kinds["one"][1]}),
two words {kinds["two"][0]:.4f} ({kinds["two"][1]}), negated {kinds["negated"][0]:.4f}
({kinds["negated"][1]}). By label: negative {labels["negative"][0]:.4f}, neutral
{labels["neutral"][0]:.4f}, positive {labels["positive"][0]:.4f}.
`tools/check_sentiment.py` recomputes these from the saved files with an independent NumPy
forward pass and its own tokenizer, and checks the engine's logits against it.

## Explanations

{EXPLAIN_BEGIN}
{explain}
{EXPLAIN_END}

## Reproduce

    /usr/bin/python3 tools/train_sentiment.py                 # model, tokenizer, data, this card
    /usr/bin/python3 tools/check_sentiment.py --methods --update-card   # NumPy + engine checks
    /usr/bin/python3 tools/check_sentiment_relevance.py       # relevances vs float64 PyTorch rules
    mkdir -p /tmp/sent_tok && (cd /tmp/sent_tok && npm init -y >/dev/null &&
        npm install --ignore-scripts tokenizers@0.23.2 @huggingface/tokenizers@0.2.0)
    /usr/bin/python3 tools/check_sentiment.py --dump-texts /tmp/texts.json
    node tools/check_sentiment_tokenizer.mjs /tmp/sent_tok models/sentiment /tmp/texts.json /tmp/hf.json
    /usr/bin/python3 tools/check_sentiment.py --hf-ids /tmp/hf.json

`tests/test_sentiment_model.sh` (part of `make test`) runs the engine on the shipped files.

## Limits

- Synthetic, template-built English; {len(TEMPLATES)} sentence frames. Real reviews ("the
  battery dies by noon") are out of distribution and the output on them means little.
- Negation is learned only as "not" directly before a positive word. "not bad", "never good",
  "hardly great", "no complaints" and contrast ("good but overpriced") were never seen.
- Words outside the vocabulary are split into letters, never seen in training; positions past
  {s["max_len"]} tokens (the longest held-out input) were barely trained.
- What it says outside the task (label, probability):
{probes}
- Neutral means "a mid-scale adjective (okay, average, standard …) or no sentiment word".
  The classifier is nearly always certain (p ≈ 1), right or wrong; its probabilities are not
  calibrated.

Files: {sizes}.
"""
    write_text(path, text)


# Sentences outside the task, to show what the model does with them (listed in the card).
PROBES = [
    "It arrived on Tuesday.",
    "The plot was not bad.",
    "The plot was never good.",
    "The screen is good but the battery is awful.",
    "The screen is awful but the battery is good.",
    "The battery dies by noon.",
    "I love this phone.",
    "The camera is not okay.",
    "The soundtrack is excellent, but the plot is boring.",
]


# ----------------------------------------------------------------------------------------------
# Batches and evaluation

def example(tok, rng, split, pair_share=0.0, plain_share=0.0):
    if rng.random() < plain_share:
        text, label, span, kind = make_plain(rng, split)
    else:
        text, label, span, kind = make_review(rng, split)
    r = rng.random()
    if r < pair_share / 2:
        ids, types = tok.encode(text, rng.choice(FILLERS))
    elif r < pair_share:
        ids, types = tok.encode(rng.choice(FILLERS), text)
    else:
        ids, types = tok.encode(text)
    return ids, types, LABELS.index(label), kind


def collate(items):
    T = max(len(it[0]) for it in items)
    ids = torch.full((len(items), T), PAD_ID, dtype=torch.long)
    types = torch.zeros((len(items), T), dtype=torch.long)
    mask = torch.zeros((len(items), T), dtype=torch.long)
    for b, it in enumerate(items):
        n = len(it[0])
        ids[b, :n] = torch.tensor(it[0])
        types[b, :n] = torch.tensor(it[1])
        mask[b, :n] = 1
    y = torch.tensor([it[2] for it in items])
    return ids, types, mask, y


@torch.no_grad()
def accuracy(model, items, batch_size=256):
    model.eval()
    hits = 0
    for i in range(0, len(items), batch_size):
        ids, types, mask, y = collate(items[i:i + batch_size])
        hits += int((model(ids, types, mask).argmax(-1) == y).sum())
    model.train()
    return hits / max(1, len(items))


# ----------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="models/sentiment")
    ap.add_argument("--data", default="data", help="where sentiment_eval.jsonl goes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--intermediate", type=int, default=128)
    ap.add_argument("--max-positions", type=int, default=128)
    ap.add_argument("--pair-share", type=float, default=0.15)
    ap.add_argument("--plain-share", type=float, default=0.1,
                    help="share of training sentences without a sentiment word (neutral)")
    ap.add_argument("--eval-records", type=int, default=300)
    ap.add_argument("--eval-extra", type=int, default=4000)
    ap.add_argument("--log-every", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()

    t_start = time.perf_counter()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    torch.use_deterministic_algorithms(True)

    vocab = build_vocab()
    tok = WordPiece(vocab)
    cfg = hf_config(a, len(vocab))
    print("vocab %d, %d subjects, %d templates, words %s" % (
        len(vocab), len(SUBJECTS), len(TEMPLATES),
        ", ".join("%s %d" % (k, len(v)) for k, v in WORDS.items())))

    # Held-out data first, from its own stream.
    eval_rng = random.Random(1000003 * a.seed + 17)
    records, items = [], []
    for i in range(a.eval_records):
        text, label, span, kind = make_review(eval_rng, "test", LABELS[i % 3])
        records.append({"text": text, "target": label, "span": span})
        ids, types = tok.encode(text)
        items.append((ids, types, LABELS.index(label), kind))
    extra = [example(tok, eval_rng, "test") for _ in range(a.eval_extra)]
    extra_pairs = [example(tok, eval_rng, "test", 1.0) for _ in range(1000)]
    extra_plain = [example(tok, eval_rng, "test", 0.0, 1.0) for _ in range(1000)]
    seen = [example(tok, random.Random(a.seed + 99), "train") for _ in range(1000)]
    for ids, _, _, _ in items + extra:  # every word is in the vocabulary, no [UNK]
        assert UNK_ID not in ids
    max_len = max(len(it[0]) for it in items + extra + extra_pairs + extra_plain)

    model = Bert(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    print("model: hidden %d, %d layers, %d heads, intermediate %d: %d parameters" % (
        a.hidden, a.layers, a.heads, a.intermediate, n_params))
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
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
        batch = [example(tok, rng, "train", a.pair_share, a.plain_share) for _ in range(a.batch)]
        ids, types, mask, y = collate(batch)
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        loss = F.cross_entropy(model(ids, types, mask), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        if (step + 1) % a.log_every == 0 or step + 1 == a.steps:
            acc = accuracy(model, extra[:1000])
            el = time.perf_counter() - t_train
            print("step %5d  loss %.4f  held-out acc (1000) %.4f  lr %.2e  %.0fs" % (
                step + 1, running, acc, lr_at(step), el), flush=True)
            log.append((step + 1, running, acc))
    train_s = time.perf_counter() - t_train

    stats = {"params": n_params, "train_s": train_s, "log": log, "vocab": len(vocab),
             "max_len": max_len, "n_eval": len(items), "n_extra": len(extra)}
    stats["acc_eval"] = accuracy(model, items)
    stats["acc_extra"] = accuracy(model, extra)
    stats["acc_pairs"] = accuracy(model, extra_pairs)
    stats["acc_seen"] = accuracy(model, seen)
    stats["acc_plain"] = accuracy(model, extra_plain)
    stats["by_kind"] = {}
    for kind in ["one", "two", "negated"]:
        sub = [it for it in extra if it[3] == kind]
        stats["by_kind"][kind] = (accuracy(model, sub), len(sub))
    stats["by_label"] = {}
    for li, lab in enumerate(LABELS):
        sub = [it for it in extra if it[2] == li]
        stats["by_label"][lab] = (accuracy(model, sub), len(sub))
    print("held-out accuracy: %s %.4f (%d records); %d further held-out sentences %.4f; "
          "1000 held-out pairs %.4f; train-split sentences %.4f; 1000 held-out sentences without "
          "sentiment words (neutral) %.4f" % (
              "data/sentiment_eval.jsonl", stats["acc_eval"], len(items), len(extra),
              stats["acc_extra"], stats["acc_pairs"], stats["acc_seen"], stats["acc_plain"]))
    print("by form: " + ", ".join("%s %.4f (%d)" % (k, v[0], v[1])
                                  for k, v in stats["by_kind"].items()))
    print("by label: " + ", ".join("%s %.4f (%d)" % (k, v[0], v[1])
                                   for k, v in stats["by_label"].items()))

    # Out-of-distribution probes for the card's limits section.
    model.eval()
    stats["probes"] = []
    with torch.no_grad():
        for text in PROBES:
            ids, types = tok.encode(text)
            p = torch.softmax(model(torch.tensor([ids]), torch.tensor([types]),
                                    torch.ones(1, len(ids), dtype=torch.long))[0], -1)
            stats["probes"].append((text, LABELS[int(p.argmax())], float(p.max())))

    os.makedirs(a.out, exist_ok=True)
    os.makedirs(a.data, exist_ok=True)
    write_safetensors(os.path.join(a.out, "model.safetensors"), model.hf_state_dict())
    write_json(os.path.join(a.out, "config.json"), cfg, sort_keys=True)
    write_json(os.path.join(a.out, "tokenizer.json"), tokenizer_json(vocab), indent=None)
    write_json(os.path.join(a.out, "tokenizer_config.json"), tokenizer_config(a.max_positions),
               sort_keys=True)
    write_text(os.path.join(a.out, "vocab.txt"),
               "".join(p + "\n" for p in sorted(vocab, key=vocab.get)))
    write_text(os.path.join(a.data, "sentiment_eval.jsonl"),
               "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    stats["total_s"] = time.perf_counter() - t_start
    stats["sizes"] = {f: os.path.getsize(os.path.join(a.out, f))
                      for f in sorted(os.listdir(a.out)) if f != "README.md"}
    write_model_card(os.path.join(a.out, "README.md"), a, cfg, stats)
    print("wrote %s: %s" % (a.out, ", ".join("%s %d B" % kv for kv in stats["sizes"].items())))
    print("training %.1f s (%d steps, %.3f s/step), total %.1f s" % (
        train_s, a.steps, train_s / a.steps, stats["total_s"]))


if __name__ == "__main__":
    main()

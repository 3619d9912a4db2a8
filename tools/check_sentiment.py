#!/usr/bin/python3
"""Check models/sentiment from its saved files alone, without PyTorch.

    /usr/bin/python3 tools/check_sentiment.py                  # accuracy + engine logits
    /usr/bin/python3 tools/check_sentiment.py --methods        # + top-1-in-span per method
    /usr/bin/python3 tools/check_sentiment.py --methods --update-card

Reads config.json, model.safetensors and tokenizer.json and
- runs its own tokenizer.json interpreter (BertNormalizer, BertPreTokenizer, WordPiece,
  TemplateProcessing, with character offsets) and its own NumPy forward pass of
  BertForSequenceClassification, and recomputes the held-out accuracy on data/sentiment_eval.jsonl
  and on further held-out sentences drawn from tools/sentiment_task.py (a stream of its own);
- checks that every span of data/sentiment_eval.jsonl is the evidence phrase;
- runs `attnlrp explain --format json` on a few texts and requires the engine's ids to equal its
  own and the engine's logits to agree with the NumPy ones within --tol (1e-4);
- with --methods, explains every record of data/sentiment_eval.jsonl with each method
  (attnlrp, cplrp, gradxinput, gradient), target = the record's label, and reports how often the
  most relevant token (special tokens [CLS]/[SEP] excluded) lies in the evidence span;
  --update-card writes that table into the model card;
- --dump-texts FILE / --hf-ids FILE: the texts for tools/check_sentiment_tokenizer.mjs and the
  comparison of its Hugging Face ids with this tokenizer's and `attnlrp tokenize`'s, and of Hugging
  Face's decode (plus transformers' clean_up_tokenization_spaces) with `attnlrp detokenize`.
"""

import argparse
import json
import math
import os
import random
import struct
import subprocess
import sys
import time
import unicodedata

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# ----------------------------------------------------------------------------------------------
# safetensors


from check_files import read_safetensors  # noqa: E402  (tools/ is the script's directory)



# ----------------------------------------------------------------------------------------------
# tokenizer.json: BertNormalizer + BertPreTokenizer + WordPiece + TemplateProcessing


def _is_control(ch):
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch) in ("Cc", "Cf", "Co")


def _is_whitespace(ch):
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def _is_punct(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


class Tokenizer:
    def __init__(self, path):
        tj = json.load(open(path, encoding="utf-8"))
        n = tj["normalizer"]
        assert n["type"] == "BertNormalizer" and tj["pre_tokenizer"]["type"] == "BertPreTokenizer"
        self.lower = n["lowercase"]
        self.strip = n["strip_accents"] if n["strip_accents"] is not None else n["lowercase"]
        m = tj["model"]
        assert m["type"] == "WordPiece"
        self.vocab = m["vocab"]
        self.prefix = m["continuing_subword_prefix"]
        self.unk = self.vocab[m["unk_token"]]
        self.max_chars = m["max_input_chars_per_word"]
        pp = tj["post_processor"]
        assert pp["type"] == "TemplateProcessing"
        self.single, self.pair = pp["single"], pp["pair"]
        self.special = {k: v["ids"] for k, v in pp["special_tokens"].items()}
        # added tokens typed in the text are matched first, as they are (normalized: false)
        self.added = sorted(((t["content"], t["id"]) for t in tj["added_tokens"]),
                            key=lambda x: -len(x[0]))
        assert not any(t["normalized"] or t["lstrip"] or t["rstrip"] or t["single_word"]
                       for t in tj["added_tokens"])

    def words(self, text):
        """[(word, start, end)] in code points of `text` (offsets of the original characters)."""
        chars = []  # (normalized char, original index)
        for i, ch in enumerate(text):
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD or _is_control(ch):
                continue
            if _is_whitespace(ch):
                chars.append((" ", i))
                continue
            if _is_cjk(cp):
                chars += [(" ", i), (ch, i), (" ", i)]
                continue
            s = ch.lower() if self.lower else ch
            if self.strip:
                s = "".join(c for c in unicodedata.normalize("NFD", s)
                            if unicodedata.category(c) != "Mn")
            chars += [(c, i) for c in s]
        words, cur = [], []

        def flush():
            if cur:
                words.append(("".join(c for c, _ in cur), cur[0][1], cur[-1][1] + 1))
            cur.clear()

        for c, i in chars:
            if c.isspace():
                flush()
            elif _is_punct(c):
                flush()
                words.append((c, i, i + 1))
            else:
                cur.append((c, i))
        flush()
        return words

    def wordpiece(self, w):
        if len(w) > self.max_chars:
            return [self.unk]
        out, start = [], 0
        while start < len(w):
            end = len(w)
            while end > start:
                piece = w[start:end] if start == 0 else self.prefix + w[start:end]
                if piece in self.vocab:
                    break
                end -= 1
            if end == start:
                return [self.unk]
            out.append(self.vocab[piece])
            start = end
        return out

    def plain(self, text):
        """ids and (start, end) offsets of each token; every piece of a word gets the word's
        range."""
        ids, offs = [], []
        pos = seg = 0
        while True:
            hit = None
            while pos < len(text) and hit is None:
                hit = next(((c, i) for c, i in self.added if text.startswith(c, pos)), None)
                if hit is None:
                    pos += 1
            for w, s, e in self.words(text[seg:pos]):
                for i in self.wordpiece(w):
                    ids.append(i)
                    offs.append((seg + s, seg + e))
            if hit is None:
                return ids, offs
            ids.append(hit[1])
            offs.append((pos, pos + len(hit[0])))
            pos = seg = pos + len(hit[0])

    def encode(self, text, pair=None):
        parts = {"A": self.plain(text)}
        if pair is not None:
            parts["B"] = self.plain(pair)
        ids, types, offs = [], [], []
        for item in (self.single if pair is None else self.pair):
            if "SpecialToken" in item:
                sp = item["SpecialToken"]
                for i in self.special[sp["id"]]:
                    ids.append(i), types.append(sp["type_id"]), offs.append(None)
            else:
                sq = item["Sequence"]
                pid, poff = parts[sq["id"]]
                ids += pid
                offs += poff
                types += [sq["type_id"]] * len(pid)
        return ids, types, offs


# ----------------------------------------------------------------------------------------------
# BertForSequenceClassification in NumPy (float64 accumulation of float32 weights)

_erf = np.vectorize(math.erf)


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


class Model:
    def __init__(self, d):
        self.c = json.load(open(os.path.join(d, "config.json")))
        assert self.c["model_type"] == "bert" and self.c["hidden_act"] == "gelu"
        self.W = {k: v.astype(np.float64) for k, v in
                  read_safetensors(os.path.join(d, "model.safetensors")).items()}
        self.labels = [self.c["id2label"][str(i)] for i in range(len(self.c["id2label"]))]

    def lin(self, name, x):
        return x @ self.W[name + ".weight"].T + self.W[name + ".bias"]

    def ln(self, name, x):
        return layer_norm(x, self.W[name + ".weight"], self.W[name + ".bias"],
                          self.c["layer_norm_eps"])

    def logits(self, ids, types):
        W, c = self.W, self.c
        T = len(ids)
        x = (W["bert.embeddings.word_embeddings.weight"][ids]
             + W["bert.embeddings.position_embeddings.weight"][:T]
             + W["bert.embeddings.token_type_embeddings.weight"][types])
        x = self.ln("bert.embeddings.LayerNorm", x)
        nh = c["num_attention_heads"]
        d = c["hidden_size"] // nh
        for i in range(c["num_hidden_layers"]):
            p = "bert.encoder.layer.%d." % i
            q, k, v = (self.lin(p + "attention.self." + n, x).reshape(T, nh, d).transpose(1, 0, 2)
                       for n in ("query", "key", "value"))
            s = q @ k.transpose(0, 2, 1) / math.sqrt(d)
            s = np.exp(s - s.max(-1, keepdims=True))
            a = (s / s.sum(-1, keepdims=True)) @ v
            a = a.transpose(1, 0, 2).reshape(T, nh * d)
            a = self.lin(p + "attention.output.dense", a)
            x = self.ln(p + "attention.output.LayerNorm", x + a)
            h = self.lin(p + "intermediate.dense", x)
            h = 0.5 * h * (1.0 + _erf(h / math.sqrt(2.0)))
            x = self.ln(p + "output.LayerNorm", x + self.lin(p + "output.dense", h))
        pooled = np.tanh(self.lin("bert.pooler.dense", x[0]))
        return self.lin("classifier", pooled)


# ----------------------------------------------------------------------------------------------
# The engine


def engine(args, *extra):
    cmd = [args.engine, "explain", "--model", args.model, "--format", "json"] + list(extra)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("engine failed: %s\n%s" % (" ".join(cmd), r.stderr))
    return json.loads(r.stdout)


HOSTILE = [
    "", "   ", "The Battery Life is EXCELLENT!!!", "not good.not bad,okay?", "so-so", "café naïve",
    "Ünïcödé résumé", "北京 is great", "emoji 😀 good", "tab\tand\nnewline", "[CLS] good [SEP]",
    "[MASK] awful", "zzzzqqq xylophone", "123 4.5 $6", "a" * 101, "a" * 100, "good\u200bbad",
    "\u00a0okay\u3000fine", "İstanbul", "ﬁne", "x\x00y\x7fz", "don't it's", "«quoted» — dash",
]


def texts_for_tokenizer(records):
    rows = [{"text": r["text"]} for r in records]
    rows += [{"text": t} for t in HOSTILE]
    rng = random.Random(5)
    for r in records[:60]:
        other = rng.choice(records)["text"]
        rows.append({"text": r["text"], "pair": other})
    rows += [{"text": "the plot was great", "pair": ""}, {"text": "", "pair": "okay"},
             {"text": "Café", "pair": "北京 awful"}]
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=os.path.join(ROOT, "models/sentiment"))
    ap.add_argument("--data", default=os.path.join(ROOT, "data/sentiment_eval.jsonl"))
    ap.add_argument("--engine", default=os.path.join(ROOT, "build/attnlrp"))
    ap.add_argument("--extra", type=int, default=4000, help="further held-out sentences")
    ap.add_argument("--engine-texts", type=int, default=12)
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--methods", action="store_true")
    ap.add_argument("--update-card", action="store_true")
    ap.add_argument("--dump-texts")
    ap.add_argument("--hf-ids")
    a = ap.parse_args()

    tok = Tokenizer(os.path.join(a.model, "tokenizer.json"))
    records = [json.loads(line) for line in open(a.data, encoding="utf-8")]

    if a.dump_texts:
        with open(a.dump_texts, "w", encoding="utf-8") as f:
            json.dump(texts_for_tokenizer(records), f, ensure_ascii=False)
        print("wrote %s" % a.dump_texts)
        return

    if a.hf_ids:
        rows = json.load(open(a.hf_ids, encoding="utf-8"))
        singles = [r for r in rows if r["pair"] is None]
        r = subprocess.run([a.engine, "tokenize", "--model", a.model, "--format", "json",
                            "--file", "-"], capture_output=True, text=True,
                           input="".join(x["text"] + "\n" for x in singles
                                         if "\n" not in x["text"]))
        eng = [json.loads(line) for line in r.stdout.splitlines()]
        eng_it = iter(eng)
        bad = n_dec = 0
        cleanup = json.load(open(os.path.join(a.model, "tokenizer_config.json")))[
            "clean_up_tokenization_spaces"]
        for x in rows:
            ids, types, _ = tok.encode(x["text"], x["pair"])
            probs = []
            if ids != x["ids"] or types != x["type_ids"]:
                probs.append("rust %s/%s" % (x["ids"], x["type_ids"]))
            if "js_ids" in x and x["js_ids"] != ids:
                probs.append("js %s" % x["js_ids"])
            if x["pair"] is None and "\n" not in x["text"]:
                e = next(eng_it)["ids"]
                if e != ids:
                    probs.append("engine %s" % e)
            if x["ids"] and x["pair"] is None and x is not rows[0] and len(x["text"]) < 200:
                d = subprocess.run([a.engine, "detokenize", "--model", a.model, "--skip-special",
                                    "--format", "json", "--ids", ",".join(map(str, x["ids"]))],
                                   capture_output=True, text=True)
                got = json.loads(d.stdout)["text"] if d.returncode == 0 else d.stderr
                want = x["dec_skip"]
                if cleanup:  # transformers applies this after the tokenizers decode
                    for k, v in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"),
                                 (" n't", "n't"), (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"),
                                 (" 're", "'re")):
                        want = want.replace(k, v)
                if got != want:
                    probs.append("engine decode %r, Hugging Face %r" % (got, want))
                n_dec += 1
            if probs:
                bad += 1
                print("differs: %r / %r: ours %s; %s" % (x["text"], x["pair"], ids,
                                                         "; ".join(probs)))
        n_eng = sum(1 for x in singles if "\n" not in x["text"])
        print("tokenizer: %d texts (%d pairs): %d differ from Hugging Face Rust / JS; engine "
              "ids compared on %d, engine decode (skip special) on %d" % (
                  len(rows), len(rows) - len(singles), bad, n_eng, n_dec))
        sys.exit(1 if bad else 0)

    model = Model(a.model)
    labels = model.labels
    t0 = time.perf_counter()

    # spans are the evidence
    sys.path.insert(0, HERE)
    import sentiment_task as task
    for r in records:
        s, e = r["span"]
        ev = r["text"][s:e].lower().replace("not ", "").split(" and ")
        cls = "positive" if r["text"][s:e].lower().startswith("not ") else r["target"]
        assert all(w in task.WORDS[cls] for w in ev), r
        if r["text"][s:e].lower().startswith("not "):
            assert r["target"] == "negative"

    def acc(items):
        hits = 0
        for text, pair, label in items:
            ids, types, _ = tok.encode(text, pair)
            hits += int(np.argmax(model.logits(ids, types)) == labels.index(label))
        return hits / len(items)

    acc_eval = acc([(r["text"], None, r["target"]) for r in records])
    rng = random.Random(424242)
    extra = [task.make_review(rng, "test") for _ in range(a.extra)]
    acc_extra = acc([(t, None, lab) for t, lab, _, _ in extra])
    pairs = [(t, rng.choice(task.FILLERS), lab) for t, lab, _, _ in extra[:500]]
    acc_pairs = acc(pairs)
    plain = [task.make_plain(rng, "test") for _ in range(500)]
    acc_plain = acc([(t, None, lab) for t, lab, _, _ in plain])
    print("NumPy forward pass: %s %.4f (%d); further held-out sentences %.4f (%d); as pairs with "
          "a filler %.4f (%d); without sentiment words (neutral) %.4f (%d)  [%.1f s]" % (
              os.path.relpath(a.data, ROOT), acc_eval, len(records), acc_extra, len(extra),
              acc_pairs, len(pairs), acc_plain, len(plain), time.perf_counter() - t0))

    # engine logits
    texts = [r["text"] for r in records[:a.engine_texts]] + [
        "the battery life is excellent", "The plot was not good.", "It was okay, I guess",
        "zebra xylophone café"]
    worst = 0.0
    for t in texts:
        ids, types, _ = tok.encode(t)
        ref = model.logits(ids, types)
        j = engine(a, t)
        assert j["ids"] == ids, (t, j["ids"], ids)
        d = float(np.max(np.abs(np.array(j["logits"]) - ref)))
        worst = max(worst, d)
        if d > a.tol:
            sys.exit("engine logits differ by %.2e on %r: %s vs %s" % (d, t, j["logits"], ref))
    print("engine: ids equal and logits within %.1e on %d texts (max |diff| %.2e)" %
          (a.tol, len(texts), worst))

    if not a.methods:
        return
    methods = ["attnlrp", "cplrp", "gradxinput", "gradient"]

    def form(r):
        ev = r["text"][r["span"][0]:r["span"][1]].lower()
        return "negated" if ev.startswith("not ") else "two" if " and " in ev else "one"

    forms = ["one", "two", "negated"]
    n_form = {f: sum(form(r) == f for r in records) for f in forms}
    res = {}
    t0 = time.perf_counter()
    for m in methods:
        hit = hit_all = 0
        by_form = {f: 0 for f in forms}
        not_top = 0  # negated records whose top token is "not" (rather than the positive word)
        mass = 0.0   # share of the positive token relevance that lies in the span
        conserv = 0.0  # relevance_sum / explained logit
        conserv_abs = 0.0
        for r in records:
            ids, _, offs = tok.encode(r["text"])
            j = engine(a, r["text"], "--method", m, "--target-id", str(labels.index(r["target"])))
            rel = np.array(j["relevance"])
            s, e = r["span"]
            inside = [o is not None and o[0] < e and o[1] > s for o in offs]
            cand = [i for i, o in enumerate(offs) if o is not None]
            top = max(cand, key=lambda i: rel[i])
            hit += int(inside[top])
            by_form[form(r)] += int(inside[top])
            hit_all += int(inside[int(np.argmax(rel))])
            if form(r) == "negated":
                not_top += int(r["text"][offs[top][0]:offs[top][1]].lower() == "not")
            pos = np.maximum(rel, 0.0)
            mass += float(sum(pos[i] for i in cand if inside[i]) / max(pos.sum(), 1e-30))
            conserv += j["relevance_sum"] / j["target_logit"]
            conserv_abs = max(conserv_abs, abs(j["relevance_sum"] / j["target_logit"]))
        n = len(records)
        res[m] = {"top1": hit / n, "top1_all": hit_all / n, "mass": mass / n,
                  "conserv": conserv / n, "conserv_max": conserv_abs, "not_top": not_top / max(1, n_form["negated"])}
        res[m].update({f: by_form[f] / max(1, n_form[f]) for f in forms})
        print("%-10s top-1 in span %.3f (with [CLS]/[SEP] as candidates: %.3f); one word %.3f, "
              "two words %.3f, negated %.3f (top token \"not\": %.3f); positive relevance in "
              "span %.3f; relevance sum / logit %.3f" % (
                  m, res[m]["top1"], res[m]["top1_all"], res[m]["one"], res[m]["two"],
                  res[m]["negated"], res[m]["not_top"], res[m]["mass"], res[m]["conserv"]))
    print("[%.0f s for %d explanations]" % (time.perf_counter() - t0, len(methods) * len(records)))

    if a.update_card:
        from sentiment_task import EXPLAIN_BEGIN, EXPLAIN_END
        table = [
            "Measured by `tools/check_sentiment.py --methods` on the %d records of "
            "`data/sentiment_eval.jsonl` (%d one-word, %d two-word, %d negated), explaining "
            "the record's label (`attnlrp explain --model models/sentiment TEXT --method M "
            "--target-id N --format json`). *Top-1 in span*: the most relevant word token "
            "(`[CLS]`/`[SEP]` excluded; included in the next column) lies in the evidence span. "
            "*Mass in span*: the share of the positive token relevance that lies in the span. "
            "*Sum / logit*: the relevance of all tokens (word, position and type embeddings) "
            "over the explained logit." % (len(records), n_form["one"], n_form["two"],
                                             n_form["negated"]), "",
            "| method | top-1 in span | incl. [CLS]/[SEP] | one word | two words | negated | "
            "negated: top is \"not\" | mass in span | sum / logit |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        table += ["| %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |" % (
            m, r["top1"], r["top1_all"], r["one"], r["two"], r["negated"], r["not_top"],
            r["mass"], round(r["conserv"], 3) + 0.0) for m, r in res.items()]
        R = res
        table += ["", (
            "The task is easy for this model, so span accuracy barely separates the methods: "
            "AttnLRP puts its top token in the evidence span on %.1f%% of the records, CP-LRP on "
            "%.1f%%, the gradient norm on %.1f%%; the share of positive relevance inside the span "
            "separates them more (AttnLRP %.2f, CP-LRP %.2f, gradient %.2f). In negated records "
            "(\"not good\" → negative) AttnLRP ranks \"not\" first in %.0f%% of them, the "
            "gradient norm in %.0f%%, gradient×input in %.0f%% (they prefer the positive word)." % (
                100 * R["attnlrp"]["top1"], 100 * R["cplrp"]["top1"], 100 * R["gradient"]["top1"],
                R["attnlrp"]["mass"], R["cplrp"]["mass"], R["gradient"]["mass"],
                100 * R["attnlrp"]["not_top"], 100 * R["gradient"]["not_top"],
                100 * R["gradxinput"]["not_top"])), "", (
            "Gradient×input sums to zero (|sum| / logit at most %.0e): the embedding LayerNorm is "
            "scale-invariant (eps 1e-12), so x·∇f(x) = 0 over the word, position and type "
            "embeddings together, and its token scores are a zero-sum split; its top "
            "token is in the span on %.1f%% of the records. CP-LRP conserves the logit "
            "(%.3f: only the biases make a difference); AttnLRP's relevance sums to %.3f of the logit "
            "on average. That is the rules, not the engine: `tools/check_sentiment_relevance.py`, an "
            "independent float64 PyTorch implementation of the same rules, reproduces the "
            "engine's relevances within 2e-6 and shows where the rest goes: AttnLRP's softmax "
            "rule (Prop. 3.1 of the paper, gradient×input at the softmax input, conservative only "
            "up to a bias term) drops about half of the logit on its six texts, and the biases "
            "absorb the remainder; CP-LRP detaches Q and K, so no relevance passes through a "
            "softmax. For the gradient norm the sum means nothing." % (
                R["gradxinput"]["conserv_max"], 100 * R["gradxinput"]["top1"],
                                         R["cplrp"]["conserv"], R["attnlrp"]["conserv"]))]
        path = os.path.join(a.model, "README.md")
        card = open(path, encoding="utf-8").read()
        head, rest = card.split(EXPLAIN_BEGIN)
        _, tail = rest.split(EXPLAIN_END)
        with open(path, "w", encoding="utf-8") as f:
            f.write(head + EXPLAIN_BEGIN + "\n" + "\n".join(table) + "\n" + EXPLAIN_END + tail)
        print("updated %s" % path)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Reload the shipped model from its files alone and recompute its held-out accuracy.

    /usr/bin/python3 tools/check_default.py --model models/default --data data/eval.jsonl

Reads config.json, model.safetensors and tokenizer.json with code that shares nothing with
tools/train_default.py (a safetensors parser, a tokenizer.json interpreter and a LLaMA forward pass
in NumPy float64, written from the formats' and transformers' definitions), then for every record
of the JSONL file checks that the target is one token, that the evidence span lands on one token
whose id is the target, and whether the model's argmax at the last position is the target.
With --torch it also runs the training script's PyTorch model on the same weights and reports the
largest logit difference. Exit status 0 when all records were checked, 1 otherwise.
"""

import argparse
import json
import re
import struct
import sys

import numpy as np

# ----------------------------------------------------------------------------------------------
# safetensors


def load_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        buf = raw[base + start: base + end]
        if meta["dtype"] == "F32":
            a = np.frombuffer(buf, dtype="<f4")
        elif meta["dtype"] == "F16":
            a = np.frombuffer(buf, dtype="<f2")
        elif meta["dtype"] == "BF16":
            a = (np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise ValueError("%s: tensor %s has unsupported dtype %s" % (path, name, meta["dtype"]))
        shape = meta["shape"]
        if a.size != int(np.prod(shape)):
            raise ValueError("%s: tensor %s: %d values for shape %s" % (path, name, a.size, shape))
        out[name] = a.reshape(shape).astype(np.float64)
    return out


# ----------------------------------------------------------------------------------------------
# tokenizer.json (the subset this model uses: added tokens, ByteLevel, BPE, TemplateProcessing)


def byte_symbols():
    printable = [b for b in range(256)
                 if 33 <= b <= 126 or 161 <= b <= 172 or 174 <= b <= 255]
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


class TokenizerJSON:
    # GPT-2's split regex with \p{L} as [^\W\d_] and \p{N} as \d (exact on ASCII text).
    SPLIT = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?[^\s\w]+| ?_+|\s+(?!\S)|\s+")

    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            j = json.load(f)
        m = j["model"]
        if m["type"] != "BPE":
            raise ValueError("%s: model.type %s, expected BPE" % (path, m["type"]))
        pre = j["pre_tokenizer"]
        if pre["type"] != "ByteLevel" or pre.get("add_prefix_space") or not pre.get("use_regex"):
            raise ValueError("%s: pre_tokenizer is not ByteLevel(no prefix space, regex)" % path)
        self.vocab = m["vocab"]
        self.rank = {}
        for r, mg in enumerate(m["merges"]):
            a, b = mg.split(" ") if isinstance(mg, str) else mg
            self.rank[(a, b)] = r
        self.added = {t["content"]: t["id"] for t in j["added_tokens"]}
        self.bytes = byte_symbols()
        self.prefix = []
        pp = j.get("post_processor")
        if pp and pp["type"] == "TemplateProcessing":
            for item in pp["single"]:
                if "SpecialToken" in item:
                    self.prefix.extend(pp["special_tokens"][item["SpecialToken"]["id"]]["ids"])
                else:
                    break

    def _bpe(self, symbols):
        symbols = list(symbols)
        while len(symbols) > 1:
            pairs = [(self.rank.get((symbols[i], symbols[i + 1]), None), i)
                     for i in range(len(symbols) - 1)]
            pairs = [p for p in pairs if p[0] is not None]
            if not pairs:
                break
            _, i = min(pairs)
            symbols = symbols[:i] + [symbols[i] + symbols[i + 1]] + symbols[i + 2:]
        return [self.vocab[s] for s in symbols]

    def encode(self, text, special=True):
        """ids and, per id, its character span [start, end) in text."""
        ids, spans = [], []
        if special:
            ids.extend(self.prefix)
            spans.extend([(0, 0)] * len(self.prefix))
        pattern = "(" + "|".join(re.escape(t) for t in sorted(self.added, key=len,
                                                               reverse=True)) + ")"
        pos = 0
        for chunk in re.split(pattern, text):
            if chunk in self.added:
                ids.append(self.added[chunk])
                spans.append((pos, pos + len(chunk)))
            else:
                for mt in self.SPLIT.finditer(chunk):
                    piece = mt.group(0)
                    toks = self._bpe("".join(self.bytes[b] for b in piece.encode("utf-8")))
                    if len(toks) == 1:
                        spans.append((pos + mt.start(), pos + mt.end()))
                    else:  # offsets of multi-token words are not needed here
                        spans.extend([(pos + mt.start(), pos + mt.end())] * len(toks))
                    ids.extend(toks)
            pos += len(chunk)
        return ids, spans


# Strings beyond the task's vocabulary for the tokenizer comparison: accents, symbols, other
# scripts, emoji, runs of spaces and newlines, digits, contractions, special tokens in the text.
EXTRA_TEXTS = [
    "Zoë's café costs 3 € — naïve!", "Hello world, it's   me\n\n  again\t.",
    "<s>Mia's cat</s> <pad><unk>", "The quick brown fox's 123 jumped_over the lazy dog's back!!",
    "日本語のテキスト", "emoji 🙂 ok", "  leading spaces", "trailing   ",
    "Mia'S Leo'll we've I'm",
    "a__b  c", "x1y2 z", "Mia's dog is called Rex. Mia's dog is called", "ĠRex", "",
]

# ----------------------------------------------------------------------------------------------
# LLaMA forward (transformers' LlamaForCausalLM, eager attention, no cache)


def rmsnorm(x, w, eps):
    return w * (x / np.sqrt((x * x).mean(-1, keepdims=True) + eps))


def llama_logits(W, c, ids):
    """Logits (T, vocab) for one sequence of ids."""
    H = c["hidden_size"]
    nh = c["num_attention_heads"]
    nkv = c.get("num_key_value_heads") or nh
    hd = c.get("head_dim") or H // nh
    eps = c["rms_norm_eps"]
    theta = c.get("rope_theta", 10000.0)
    T = len(ids)
    inv = 1.0 / theta ** (np.arange(0, hd, 2, dtype=np.float64) / hd)
    ang = np.arange(T, dtype=np.float64)[:, None] * inv[None, :]
    cos = np.cos(np.concatenate([ang, ang], -1))
    sin = np.sin(np.concatenate([ang, ang], -1))

    def rope(x):  # x (heads, T, hd); dimension j pairs with j + hd/2
        half = hd // 2
        rot = np.concatenate([-x[..., half:], x[..., :half]], -1)
        return x * cos + rot * sin

    x = W["model.embed_tokens.weight"][ids]
    causal = np.triu(np.full((T, T), -np.inf), 1)
    for i in range(c["num_hidden_layers"]):
        p = "model.layers.%d." % i
        h = rmsnorm(x, W[p + "input_layernorm.weight"], eps)
        q = (h @ W[p + "self_attn.q_proj.weight"].T).reshape(T, nh, hd).transpose(1, 0, 2)
        k = (h @ W[p + "self_attn.k_proj.weight"].T).reshape(T, nkv, hd).transpose(1, 0, 2)
        v = (h @ W[p + "self_attn.v_proj.weight"].T).reshape(T, nkv, hd).transpose(1, 0, 2)
        q, k = rope(q), rope(k)
        k = np.repeat(k, nh // nkv, axis=0)
        v = np.repeat(v, nh // nkv, axis=0)
        s = q @ k.transpose(0, 2, 1) / np.sqrt(hd) + causal
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        o = (s @ v).transpose(1, 0, 2).reshape(T, nh * hd)
        x = x + o @ W[p + "self_attn.o_proj.weight"].T
        h = rmsnorm(x, W[p + "post_attention_layernorm.weight"], eps)
        g = h @ W[p + "mlp.gate_proj.weight"].T
        u = h @ W[p + "mlp.up_proj.weight"].T
        x = x + ((g / (1.0 + np.exp(-g))) * u) @ W[p + "mlp.down_proj.weight"].T
    x = rmsnorm(x, W["model.norm.weight"], eps)
    head = W["model.embed_tokens.weight"] if c.get("tie_word_embeddings") else W["lm_head.weight"]
    return x @ head.T


# ----------------------------------------------------------------------------------------------


def prompt_kind(text):
    """("same", k) when the k facts of a prompt all use one template (only the person and the
    value differ: "Noah's house is purple. Mia's house is green. Noah's house is"), else
    ("mixed", k). Read from the text alone: the facts are the sentences before the question."""
    facts = text.split(". ")[:-1]
    shapes = {re.sub(r"^[A-Z][a-z]+|\s\S+$", "", f.rstrip(".")) for f in facts}
    return ("same" if len(facts) >= 2 and len(shapes) == 1 else "mixed"), len(facts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="models/default")
    ap.add_argument("--data", default="data/eval.jsonl")
    ap.add_argument("--dump-ids", metavar="FILE",
                    help="write [{text, ids}] for every record and some other strings, for "
                         "tools/check_tokenizer_js.mjs to compare with transformers.js")
    ap.add_argument("--torch", action="store_true",
                    help="also compare logits with tools/train_default.py's PyTorch model")
    ap.add_argument("--predictions", metavar="FILE",
                    help="write, per record, its line number, the argmax token id at the last "
                         "position, the prompt kind (mixed/same) and its number of facts, tab-separated")
    ap.add_argument("--min-accuracy", type=float, default=None, metavar="A",
                    help="exit 1 unless the accuracy on mixed-kind and on same-kind prompts is each at "
                         "least A (the test suite's check of the shipped model)")
    a = ap.parse_args()

    with open(a.model + "/config.json", encoding="utf-8") as f:
        cfg = json.load(f)
    W = load_safetensors(a.model + "/model.safetensors")
    tok = TokenizerJSON(a.model + "/tokenizer.json")
    n_params = sum(w.size for w in W.values())
    print("%s: %d tensors, %d parameters, vocab %d" % (a.model, len(W), n_params,
                                                       cfg["vocab_size"]))

    tmodel = None
    if a.torch:
        import torch
        sys.path.insert(0, __file__.rsplit("/", 1)[0])
        import train_default as td
        tmodel = td.Llama(cfg)
        params = tmodel.hf_parameters()
        if set(params) != set(W):
            raise ValueError("tensor names differ: %s" % sorted(set(params) ^ set(W)))
        with torch.no_grad():
            for name, p in params.items():
                p.copy_(torch.from_numpy(W[name].astype(np.float32)))
        tmodel.eval()

    n = hits = bad = 0
    preds = []
    by_kind = {}
    prob = 0.0
    max_diff = 0.0
    with open(a.data, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            rec = json.loads(line)
            ids, spans = tok.encode(rec["text"])
            tid, _ = tok.encode(rec["target"], special=False)
            if len(tid) != 1:
                print("line %d: target %r is %d tokens" % (line_no, rec["target"], len(tid)))
                bad += 1
                continue
            s, e = rec["span"]
            inside = [i for i, (ts, te) in enumerate(spans) if ts < e and s < te]
            if len(inside) != 1 or ids[inside[0]] != tid[0]:
                print("line %d: span %s covers tokens %s, not the target" % (line_no, rec["span"],
                                                                              inside))
                bad += 1
                continue
            logits = llama_logits(W, cfg, ids)[-1]
            p = np.exp(logits - logits.max())
            p /= p.sum()
            hit = int(np.argmax(logits) == tid[0])
            kind = prompt_kind(rec["text"])
            preds.append((line_no, int(np.argmax(logits)), kind))
            by_kind.setdefault(kind, [0, 0])
            by_kind[kind][0] += hit
            by_kind[kind][1] += 1
            hits += hit
            prob += p[tid[0]]
            n += 1
            if tmodel is not None:
                import torch
                with torch.no_grad():
                    tl = tmodel(torch.tensor([ids]))[0, -1].double().numpy()
                max_diff = max(max_diff, float(np.abs(tl - logits).max()))
    if a.dump_ids:
        texts = [json.loads(l)["text"] for l in open(a.data, encoding="utf-8") if l.strip()]
        texts += EXTRA_TEXTS
        with open(a.dump_ids, "w", encoding="utf-8") as f:
            json.dump([{"text": t, "ids": tok.encode(t)[0]} for t in texts], f, ensure_ascii=False)
    print("%d records: accuracy %.4f, mean p(target) %.4f; %d bad records" %
          (n, hits / max(n, 1), prob / max(n, 1), bad))
    if a.predictions:
        with open(a.predictions, "w") as f:
            f.write("".join("%d\t%d\t%s\t%d\n" % (ln, p, k[0], k[1]) for ln, p, k in preds))
    below = []
    for kind in ("mixed", "same"):
        rows = sorted((k, v) for (c, k), v in by_kind.items() if c == kind)
        if rows:
            h, m = sum(v[0] for _, v in rows), sum(v[1] for _, v in rows)
            print("  %s-kind prompts: %d/%d = %.4f; by number of facts: %s" % (
                kind, h, m, h / m, ", ".join("%d: %d/%d" % (k, v[0], v[1]) for k, v in rows)))
            if a.min_accuracy is not None and h / m < a.min_accuracy:
                below.append("%s-kind accuracy %.4f < %.4f" % (kind, h / m, a.min_accuracy))
        elif a.min_accuracy is not None:
            below.append("no %s-kind prompts in %s" % (kind, a.data))
    for b in below:
        print("below the bar: " + b)
    if tmodel is not None:
        print("max |logit(torch float32) - logit(numpy float64)| = %.3g" % max_diff)
    return 0 if bad == 0 and n > 0 and not below else 1


if __name__ == "__main__":
    sys.exit(main())
